//! Passkeys on the pages. A ceremony begins with a small JSON POST made by the pages' script
//! (`/static/passkey.js`): the options for the browser's authenticator and the secret naming the
//! ceremony. It ends as an ordinary form post carrying the authenticator's answer: adding a
//! passkey (`POST /account/passkey`), a passwordless sign-in (`POST /login/passkey`), or, through
//! the `ceremony` and `credential` fields of the second-factor and fresh-check forms, any place a
//! code is accepted.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::factors::{adding_form, refusal, who};
use super::login::{field, signed_in_redirect, FlowPage};
use super::no_store;
use super::{redirect, Ui};
use crate::domain::time::now;
use crate::http::error::ApiError;
use crate::http::extract::{ClientAddr, OAuthParams};
use crate::http::AppState;
use crate::identity::factors::FactorError;
use crate::identity::passkeys::{self, Ceremony};
use crate::identity::sessions;

/// The script, served at `/static/passkey.js`.
pub const SCRIPT: &str = include_str!("../../../templates/static/passkey.js");

pub async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        SCRIPT,
    )
        .into_response()
}

/// A begun ceremony as the script reads it: `{ceremony, publicKey}`; or a problem.
fn begun(result: Result<Ceremony, FactorError>) -> Response {
    match result {
        Ok(c) => {
            let options = c.options.get("publicKey").cloned().unwrap_or_default();
            let body = json!({ "ceremony": c.secret, "publicKey": options });
            no_store(axum::Json(body).into_response())
        }
        Err(FactorError::Storage(e)) => ApiError::internal(e).into_response(),
        Err(e) => {
            let (status, key) = refusal(&e);
            ApiError::new(
                status,
                key,
                "The passkey ceremony cannot begin",
                e.to_string(),
            )
            .into_response()
        }
    }
}

fn forbidden(detail: &str) -> Response {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "csrf",
        "The request is not from this service's page",
        detail,
    )
    .into_response()
}

/// `POST /account/passkey/begin`: options to create a passkey for the signed-in account.
pub async fn register_begin(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    OAuthParams(p): OAuthParams,
) -> Response {
    let ui = Ui::new(&headers, &uri, None);
    let now = now();
    let Some((s, a)) = super::login::current_session(&state, &headers, now).await else {
        return forbidden("sign in, and post from the account page");
    };
    if !ui.csrf_ok(&state, p.one("csrf").ok().flatten()) {
        return forbidden("post from the account page");
    }
    if let Err(e) = crate::identity::sessions::may_add_factor(&state.identity, &s, now).await {
        return begun(Err(e));
    }
    begun(passkeys::begin_registration(&state.identity, &a, now).await)
}

/// `POST /account/passkey`: the authenticator's new credential; the first factor's recovery codes
/// are shown once, else back to the account page.
pub async fn register_finish(
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
    let (ceremony, credential) = (field(&p, "ceremony"), field(&p, "credential"));
    let added = passkeys::finish_registration(&state.identity, &a, ceremony, credential, now).await;
    match added {
        Ok(codes) if codes.is_empty() => redirect("/account#factors"),
        Ok(codes) => super::factors::codes_page(&state, &ui, &codes, true),
        Err(e) => {
            let (status, key) = refusal(&e);
            ui.error(&state, status, key, "")
        }
    }
}

/// `POST /login/passkey/begin`: options to sign in. `mode=discover`: a passwordless sign-in (any
/// passkey of this site); otherwise a passkey of the account this browser is signing in as (after
/// its password) or is signed in as (a step-up, or a fresh check).
pub async fn assert_begin(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    OAuthParams(p): OAuthParams,
) -> Response {
    let ui = Ui::new(&headers, &uri, None);
    if !ui.csrf_ok(&state, p.one("csrf").ok().flatten()) {
        return forbidden("post from this service's page");
    }
    let now = now();
    if p.one("mode").ok().flatten() == Some("discover") {
        return begun(passkeys::begin_discovery(&state.identity, now).await);
    }
    // The account page's fresh checks name the signed-in account (`mode=session`), whatever
    // sign-in this browser may have left unfinished.
    let account = if p.one("mode").ok().flatten() == Some("session") {
        super::login::current_session(&state, &headers, now)
            .await
            .map(|(s, _)| s.account_id)
    } else {
        match who(&state, &headers, now).await {
            Some(w) => w.account(&state, now).await,
            None => None,
        }
    };
    let Some(account) = account else {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "factor_no_challenge",
            "No sign-in is waiting for a passkey",
            "sign in with your password first, or use mode=discover",
        )
        .into_response();
    };
    begun(passkeys::begin_assertion(&state.identity, &account, now).await)
}

/// `POST /login/passkey`: a passwordless sign-in with the authenticator's answer.
pub async fn sign_in(
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
    let (ceremony, credential) = (field(&p, "ceremony"), field(&p, "credential"));
    match sessions::passkey_sign_in(&state.identity, ceremony, credential, &addr, now()).await {
        Ok(started) => signed_in_redirect(&state, &headers, &ui, req.as_deref(), &started).await,
        Err(e) => {
            let (status, key) = refusal(&e);
            let ctx = json!({
                "req": req, "client_name": client_name, "login_hint": null, "error": key,
                "passkeys": true,
            });
            ui.render(&state, "login.html", status, ctx)
        }
    }
}
