//! Login, registration, and the current-session lookup the other pages share.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::json;

use super::{cookie_header, redirect, Ui};
use crate::domain::time::now;
use crate::http::extract::{cookie, ClientAddr, OAuthParams};
use crate::http::AppState;
use crate::identity::accounts::{self, AccountError, LoginError, Registration};
use crate::identity::sessions::{self, SignIn};
use crate::oidc::params::Params;
use crate::storage::{accounts::AccountRow, sessions::SessionRow};

/// The live SSO session of this browser and its (enabled) account.
pub async fn current_session(
    state: &AppState,
    headers: &HeaderMap,
    now: i64,
) -> Option<(SessionRow, AccountRow)> {
    let secret = cookie(headers, super::session_cookie(state))?;
    let s = sessions::current(&state.identity, &secret, now)
        .await
        .ok()
        .flatten()?;
    let a = crate::identity::accounts::account(&state.identity, &s.account_id)
        .await
        .ok()
        .flatten()?;
    a.disabled_at.is_none().then_some((s, a))
}

/// The pending authorization request id, if it is well-formed.
pub(super) fn req_id(p: &Params) -> Option<String> {
    p.one("req")
        .ok()
        .flatten()
        .filter(|r| {
            r.len() <= 64
                && r.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
}

/// Language hints stored with the pending request (`ui_locales`) and its client's name.
pub(super) async fn request_context(
    state: &AppState,
    req: Option<&str>,
) -> (Option<String>, Option<String>, Option<String>) {
    let Some(id) = req else {
        return (None, None, None);
    };
    let Some((_, r, _)) = crate::oidc::pending::find(&state.provider, id, now()).await else {
        return (None, None, None);
    };
    let name = crate::oidc::clients::get(&state.provider, &r.client_id)
        .await
        .ok()
        .flatten()
        .map(|c| c.config.name.clone());
    (r.ui_locales, name, r.login_hint)
}

/// A page of the sign-in flow: the pending request's id (`req`), its client's name and login
/// hint, and the page's `Ui` in the language the request asked for.
pub(super) struct FlowPage {
    pub req: Option<String>,
    pub client_name: Option<String>,
    pub hint: Option<String>,
    pub ui: Ui,
}

impl FlowPage {
    pub async fn new(state: &AppState, headers: &HeaderMap, uri: &Uri, p: &Params) -> FlowPage {
        let req = req_id(p);
        let (locales, client_name, hint) = request_context(state, req.as_deref()).await;
        let ui = Ui::new(headers, uri, locales.as_deref());
        FlowPage {
            req,
            client_name,
            hint,
            ui,
        }
    }

    /// The same for a form post: the CSRF refusal when its token is not this browser's.
    pub async fn post(
        state: &AppState,
        headers: &HeaderMap,
        uri: &Uri,
        p: &Params,
    ) -> Result<FlowPage, Response> {
        let page = Self::new(state, headers, uri, p).await;
        if page.ui.csrf_ok(state, p.one("csrf").ok().flatten()) {
            Ok(page)
        } else {
            Err(page.ui.csrf_failed(state))
        }
    }
}

/// A form field's value, empty when absent.
pub(super) fn field<'a>(p: &'a Params, k: &str) -> &'a str {
    p.one(k).ok().flatten().unwrap_or("")
}

pub async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    OAuthParams(p): OAuthParams,
) -> Response {
    let FlowPage {
        req,
        client_name,
        hint,
        ui,
    } = FlowPage::new(&state, &headers, &uri, &p).await;
    ui.render(
        &state,
        "login.html",
        StatusCode::OK,
        json!({
            "req": req, "client_name": client_name, "login_hint": hint, "error": null,
            "passkeys": state.identity.passkeys.is_some(),
        }),
    )
}

pub async fn login_submit(
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
    let (username, password) = (field(&p, "username"), field(&p, "password"));
    let signed_in =
        match sessions::password_sign_in(&state.identity, username, password, &addr, now()).await {
            Ok(s) => s,
            Err(e) => return login_refused(&state, &ui, req.as_deref(), client_name, username, &e),
        };
    let started = match signed_in {
        SignIn::Session(started) => started,
        SignIn::SecondFactor(challenge) => {
            // No session yet: the second factor comes first.
            let to = match &req {
                Some(r) => format!("/login/factor?req={r}"),
                None => "/login/factor".to_owned(),
            };
            let mut resp = redirect(&to);
            let cookie = super::challenge_cookie(&state);
            let age = Some(sessions::CHALLENGE_TTL);
            resp.headers_mut().append(
                header::SET_COOKIE,
                cookie_header(&state, cookie, &challenge, age),
            );
            ui.add_cookies(&state, &mut resp);
            return resp;
        }
    };
    signed_in_redirect(&state, &headers, &ui, req.as_deref(), &started).await
}

/// Where a finished sign-in goes (the pending request, or the account page), with the session
/// cookie set; the browser is noted (a new one is a security notice) and given its device
/// cookie if it has none.
pub(super) async fn signed_in_redirect(
    state: &AppState,
    headers: &HeaderMap,
    ui: &Ui,
    req: Option<&str>,
    started: &sessions::Started,
) -> Response {
    let secret = started.secret.as_str();
    let device = cookie(headers, super::device_cookie(state));
    let noted = sessions::note_device(
        &state.identity,
        &started.account_id,
        device.as_deref(),
        now(),
    )
    .await
    .unwrap_or_else(|e| {
        tracing::warn!(error = %e, "noting the sign-in's device failed");
        None
    });
    let to = match req {
        Some(r) => format!(
            "{}?req={r}",
            crate::oidc::discovery::paths::AUTHORIZE_RESUME
        ),
        None => "/account".to_owned(),
    };
    let mut resp = redirect(&to);
    resp.headers_mut().append(
        header::SET_COOKIE,
        cookie_header(state, super::session_cookie(state), secret, None),
    );
    if let Some(d) = noted {
        resp.headers_mut().append(
            header::SET_COOKIE,
            cookie_header(state, super::device_cookie(state), &d, Some(400 * 86_400)),
        );
    }
    ui.add_cookies(state, &mut resp);
    resp
}

/// The login page again, saying why the sign-in was refused (or the failure page, when the database
/// is unavailable).
fn login_refused(
    state: &AppState,
    ui: &Ui,
    req: Option<&str>,
    client_name: Option<String>,
    username: &str,
    e: &LoginError,
) -> Response {
    if matches!(e, LoginError::Storage(_) | LoginError::Hashing) {
        tracing::error!(error = %e, "login failed on our side");
    }
    if let LoginError::Storage(s) = e {
        if s.is_unavailable() {
            return ui.failure(state, true);
        }
    }
    let status = match e {
        LoginError::Throttled => StatusCode::TOO_MANY_REQUESTS,
        LoginError::Storage(_) | LoginError::Hashing => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::UNAUTHORIZED,
    };
    let ctx = json!({
        "req": req, "client_name": client_name, "login_hint": username, "error": e.key(),
        "passkeys": state.identity.passkeys.is_some(),
    });
    ui.render(state, "login.html", status, ctx)
}

pub async fn register_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    OAuthParams(p): OAuthParams,
) -> Response {
    let FlowPage { req, ui, .. } = FlowPage::new(&state, &headers, &uri, &p).await;
    ui.render(
        &state,
        "register.html",
        StatusCode::OK,
        json!({ "req": req, "values": {}, "error": null }),
    )
}

pub async fn register_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    OAuthParams(p): OAuthParams,
) -> Response {
    let FlowPage { req, ui, .. } = match FlowPage::post(&state, &headers, &uri, &p).await {
        Ok(page) => page,
        Err(refused) => return refused,
    };
    let get = |k: &str| field(&p, k).to_owned();
    let reg = Registration {
        name: get("name"),
        id_kind: get("id_kind"),
        id_number: get("id_number"),
        email: get("email"),
        phone: get("phone"),
        password: get("password"),
    };
    let fail = |key: &str, status: StatusCode| {
        ui.render(
            &state,
            "register.html",
            status,
            json!({ "req": req, "values": reg, "error": key }),
        )
    };
    if reg.password != get("password_confirm") {
        return fail("password_mismatch", StatusCode::BAD_REQUEST);
    }
    match accounts::register(&state.identity, &reg, now()).await {
        Ok(_) => {
            tracing::info!("citizen registered");
            let to = match &req {
                Some(r) => format!("/login?req={r}"),
                None => "/login".to_owned(),
            };
            redirect(&to)
        }
        Err(AccountError::Storage(e)) if e.is_unavailable() => {
            tracing::error!(error = %e, "registration failed: the database is unavailable");
            ui.failure(&state, true)
        }
        Err(e) => match e.key() {
            Some(key) => fail(key, StatusCode::BAD_REQUEST),
            None => {
                tracing::error!(error = %e, "registration failed on our side");
                fail("server_error", StatusCode::INTERNAL_SERVER_ERROR)
            }
        },
    }
}
