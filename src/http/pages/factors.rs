//! Second factors on the pages: the second step of sign-in (after a password, or to step a live
//! session up to the level a portal asked for), and setting up, renewing and (through the account
//! page's actions) removing them.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::json;

use super::login::{current_session, field, signed_in_redirect, FlowPage};
use super::{cookie_header, no_store, redirect, Ui};
use crate::domain::time::now;
use crate::http::extract::{cookie, ClientAddr, OAuthParams};
use crate::http::AppState;
use crate::identity::factors::{FactorError, Proof};
use crate::identity::{second_factor, sessions, totp};

/// Whom the second factor is for: a checked password waiting (its challenge secret), or a live
/// session to step up.
pub(super) enum Who {
    Challenge(String),
    Session(crate::storage::sessions::SessionRow),
}

impl Who {
    /// The account the second factor is for.
    pub(super) async fn account(&self, state: &AppState, now: i64) -> Option<String> {
        match self {
            Who::Challenge(c) => sessions::challenged(&state.identity, c, now)
                .await
                .ok()
                .flatten(),
            Who::Session(s) => Some(s.account_id.clone()),
        }
    }
}

pub(super) async fn who(state: &AppState, headers: &HeaderMap, now: i64) -> Option<Who> {
    if let Some(c) = cookie(headers, super::challenge_cookie(state)) {
        if matches!(
            sessions::challenged(&state.identity, &c, now).await,
            Ok(Some(_))
        ) {
            return Some(Who::Challenge(c));
        }
    }
    current_session(state, headers, now)
        .await
        .map(|(s, _)| Who::Session(s))
}

fn login_again(req: Option<&str>) -> Response {
    match req {
        Some(r) => redirect(&format!("/login?req={r}")),
        None => redirect("/login"),
    }
}

pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    OAuthParams(p): OAuthParams,
) -> Response {
    let FlowPage {
        req,
        client_name,
        ui,
        ..
    } = FlowPage::new(&state, &headers, &uri, &p).await;
    let Some(w) = who(&state, &headers, now()).await else {
        return login_again(req.as_deref());
    };
    render_prompt(&state, &ui, &w, req, client_name, None, StatusCode::OK).await
}

/// The second-factor prompt: a code field, and a passkey button when the account has a passkey.
async fn render_prompt(
    state: &AppState,
    ui: &Ui,
    w: &Who,
    req: Option<String>,
    client_name: Option<String>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let now = now();
    let passkey = match w.account(state, now).await {
        Some(a) => crate::identity::passkeys::has_passkey(&state.identity, &a)
            .await
            .unwrap_or(false),
        None => false,
    };
    let ctx = json!({
        "req": req, "client_name": client_name, "step_up": matches!(w, Who::Session(_)),
        "passkey": passkey, "error": error,
    });
    ui.render(state, "factor.html", status, ctx)
}

pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    ClientAddr(addr): ClientAddr,
    OAuthParams(p): OAuthParams,
) -> Response {
    let FlowPage {
        req,
        client_name,
        ui,
        ..
    } = match FlowPage::post(&state, &headers, &uri, &p).await {
        Ok(page) => page,
        Err(refused) => return refused,
    };
    let now = now();
    let proof = proof(&p);
    let Some(w) = who(&state, &headers, now).await else {
        return login_again(req.as_deref());
    };
    let result = match &w {
        Who::Challenge(c) => sessions::second_factor_sign_in(&state.identity, c, proof, &addr, now)
            .await
            .map(Some),
        Who::Session(s) => sessions::step_up(&state.identity, s, proof, &addr, now)
            .await
            .map(|()| None),
    };
    match result {
        Ok(Some(started)) => {
            let mut resp =
                signed_in_redirect(&state, &headers, &ui, req.as_deref(), &started).await;
            resp.headers_mut().append(
                header::SET_COOKIE,
                cookie_header(&state, super::challenge_cookie(&state), "", Some(0)),
            );
            resp
        }
        Ok(None) => match &req {
            Some(r) => redirect(&format!(
                "{}?req={r}",
                crate::oidc::discovery::paths::AUTHORIZE_RESUME
            )),
            None => redirect("/account"),
        },
        Err(FactorError::NoChallenge) => login_again(req.as_deref()),
        Err(e) => {
            let (status, key) = refusal(&e);
            render_prompt(&state, &ui, &w, req, client_name, Some(key), status).await
        }
    }
}

/// The recovery codes, shown once (`added`: with a factor just set up), never cached.
pub(super) fn codes_page(state: &AppState, ui: &Ui, codes: &[String], added: bool) -> Response {
    let ctx = json!({ "codes": codes, "added": added });
    no_store(ui.render(state, "recovery_codes.html", StatusCode::OK, ctx))
}

/// The second factor a form shows: a code, or a passkey's answer filled in by the script.
fn proof(p: &crate::oidc::params::Params) -> Proof<'_> {
    Proof::from_form(
        field(p, "code"),
        field(p, "ceremony"),
        field(p, "credential"),
    )
}

/// The status and message key of a refused second factor.
pub(super) fn refusal(e: &FactorError) -> (StatusCode, &'static str) {
    match e {
        FactorError::Throttled => (StatusCode::TOO_MANY_REQUESTS, "throttled"),
        FactorError::Storage(s) => {
            tracing::error!(error = %s, "second factor failed on our side");
            (StatusCode::INTERNAL_SERVER_ERROR, "server_error")
        }
        FactorError::NoFactor
        | FactorError::NoEnrolment
        | FactorError::AlreadyEnrolled
        | FactorError::PasskeysUnavailable
        | FactorError::PasskeyRefused => {
            (StatusCode::BAD_REQUEST, e.key().unwrap_or("server_error"))
        }
        FactorError::FreshSignInNeeded => {
            (StatusCode::FORBIDDEN, e.key().unwrap_or("server_error"))
        }
        _ => (StatusCode::UNAUTHORIZED, e.key().unwrap_or("server_error")),
    }
}

/// The account behind a form post from a signed-in browser with a good CSRF token; otherwise the
/// response (to the login page, or the CSRF refusal).
pub(super) async fn signed_in_form(
    state: &AppState,
    headers: &HeaderMap,
    ui: &Ui,
    p: &crate::oidc::params::Params,
    now: i64,
) -> Result<crate::storage::accounts::AccountRow, Response> {
    adding_form(state, headers, ui, p, now, false).await
}

/// [`signed_in_form`] for a form that adds a second factor: the session must also be fresh
/// ([`crate::identity::sessions::may_add_factor`]), else the refusal page.
pub(super) async fn adding_form(
    state: &AppState,
    headers: &HeaderMap,
    ui: &Ui,
    p: &crate::oidc::params::Params,
    now: i64,
    adding: bool,
) -> Result<crate::storage::accounts::AccountRow, Response> {
    let Some((s, a)) = current_session(state, headers, now).await else {
        return Err(redirect("/login"));
    };
    if !ui.csrf_ok(state, p.one("csrf").ok().flatten()) {
        return Err(ui.csrf_failed(state));
    }
    if adding {
        if let Err(e) = crate::identity::sessions::may_add_factor(&state.identity, &s, now).await {
            let (status, key) = refusal(&e);
            return Err(ui.error(state, status, key, ""));
        }
    }
    Ok(a)
}

/// The label authenticator apps show for this service: the issuer's host.
fn issuer_label(state: &AppState) -> String {
    url::Url::parse(&state.issuer)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "tongban".to_owned())
}

/// `POST /account/totp/begin`: a new key to set up, then its page.
pub async fn totp_begin(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    OAuthParams(p): OAuthParams,
) -> Response {
    let ui = Ui::new(&headers, &uri, None);
    let now = now();
    let a = match adding_form(&state, &headers, &ui, &p, now, true).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    match totp::begin_totp(&state.identity, &a, &issuer_label(&state), now).await {
        Ok(_) => redirect("/account/totp"),
        Err(e) => {
            let (status, key) = refusal(&e);
            ui.error(&state, status, key, "")
        }
    }
}

/// `GET /account/totp`: the key waiting to be confirmed, as a QR code and in base32.
pub async fn totp_page(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let ui = Ui::new(&headers, &uri, None);
    let Some((_, a)) = current_session(&state, &headers, now()).await else {
        return redirect("/login");
    };
    render_totp(&state, &ui, &a, None, StatusCode::OK).await
}

async fn render_totp(
    state: &AppState,
    ui: &Ui,
    a: &crate::storage::accounts::AccountRow,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    match totp::pending_totp(&state.identity, a, &issuer_label(state)).await {
        Ok(Some(e)) => {
            let qr = super::licences::qr_data_uri(&e.uri);
            let ctx = json!({ "qr": qr, "secret": e.secret_base32, "error": error });
            no_store(ui.render(state, "totp.html", status, ctx))
        }
        Ok(None) => redirect("/account"),
        Err(_) => ui.server_error(state),
    }
}

/// `POST /account/totp`: a code from the app confirms the key; the recovery codes are shown once.
pub async fn totp_confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    ClientAddr(addr): ClientAddr,
    OAuthParams(p): OAuthParams,
) -> Response {
    let ui = Ui::new(&headers, &uri, None);
    let now = now();
    let a = match adding_form(&state, &headers, &ui, &p, now, true).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    match totp::confirm_totp(&state.identity, &a, field(&p, "code"), &addr, now).await {
        Ok(codes) => codes_page(&state, &ui, &codes, true),
        Err(FactorError::NoEnrolment) => redirect("/account"),
        Err(e) => {
            let (status, key) = refusal(&e);
            render_totp(&state, &ui, &a, Some(key), status).await
        }
    }
}

/// `POST /account/recovery-codes`: ten new recovery codes, after a fresh code.
pub async fn renew_codes(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    ClientAddr(addr): ClientAddr,
    OAuthParams(p): OAuthParams,
) -> Response {
    let ui = Ui::new(&headers, &uri, None);
    let now = now();
    let a = match signed_in_form(&state, &headers, &ui, &p, now).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    match second_factor::renew_recovery_codes(&state.identity, &a.id, proof(&p), &addr, now).await {
        Ok(codes) => codes_page(&state, &ui, &codes, false),
        Err(e) => {
            let (status, key) = refusal(&e);
            ui.error(&state, status, key, "")
        }
    }
}
