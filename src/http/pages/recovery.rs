//! Forgotten passwords and contact verification on the pages: asking for a reset link (the same
//! answer whether or not an account exists), setting the new password from it, and confirming an
//! email address from the link mailed to it. Links open a page with a button (a POST): a mail
//! scanner that fetches the link spends nothing.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::json;

use super::login::{field, FlowPage};
use super::no_store;
use super::Ui;
use crate::domain::time::now;
use crate::http::extract::OAuthParams;
use crate::http::AppState;
use crate::identity::contacts::{self, ContactError};

/// `GET /login/forgot`.
pub async fn forgot_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    OAuthParams(p): OAuthParams,
) -> Response {
    let FlowPage { req, ui, .. } = FlowPage::new(&state, &headers, &uri, &p).await;
    ui.render(
        &state,
        "forgot.html",
        StatusCode::OK,
        json!({ "req": req, "sent": false }),
    )
}

/// `POST /login/forgot`: always the same page, whether or not the address names an account.
pub async fn forgot_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    OAuthParams(p): OAuthParams,
) -> Response {
    let FlowPage { req, ui, .. } = match FlowPage::post(&state, &headers, &uri, &p).await {
        Ok(page) => page,
        Err(refused) => return refused,
    };
    let identifier = field(&p, "identifier").trim().to_owned();
    if !identifier.is_empty() {
        // Looked at after the answer is on its way: neither its content nor its time can differ
        // between an address that names an account and one that does not.
        let identity = state.identity.clone();
        tokio::spawn(async move {
            if let Err(e) = contacts::request_reset(&identity, &identifier, now()).await {
                tracing::error!(error = %e, "password reset request failed");
            }
        });
    }
    ui.render(
        &state,
        "forgot.html",
        StatusCode::OK,
        json!({ "req": req, "sent": true }),
    )
}

/// A page opened from a link: the token, if it is live for `purpose`; else the error page.
async fn live_token(
    state: &AppState,
    ui: &Ui,
    p: &crate::oidc::params::Params,
    purpose: &str,
) -> Result<String, Response> {
    let token = field(p, "token");
    match contacts::link_is_live(&state.identity, token, purpose, now()).await {
        Ok(true) => Ok(token.to_owned()),
        Ok(false) => Err(ui.error(state, StatusCode::BAD_REQUEST, "contact_link_invalid", "")),
        Err(_) => Err(ui.server_error(state)),
    }
}

/// `GET /login/reset?token=`: the form for a new password.
pub async fn reset_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    OAuthParams(p): OAuthParams,
) -> Response {
    let ui = Ui::new(&headers, &uri, None);
    let token = match live_token(&state, &ui, &p, "reset").await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let ctx = json!({ "token": token, "done": false, "error": null });
    no_store(ui.render(&state, "reset.html", StatusCode::OK, ctx))
}

/// `POST /login/reset`: the new password; every session ends (portals told by back-channel).
pub async fn reset_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    OAuthParams(p): OAuthParams,
) -> Response {
    let FlowPage { ui, .. } = match FlowPage::post(&state, &headers, &uri, &p).await {
        Ok(page) => page,
        Err(refused) => return refused,
    };
    let (token, new) = (field(&p, "token"), field(&p, "new_password"));
    let again = |key: &str, status: StatusCode| {
        let ctx = json!({ "token": token, "done": false, "error": key });
        no_store(ui.render(&state, "reset.html", status, ctx))
    };
    if new != field(&p, "new_password_confirm") {
        return again("password_mismatch", StatusCode::BAD_REQUEST);
    }
    match crate::oidc::logout::password_reset(&state.provider, token, new, now()).await {
        Ok(()) => {
            let ctx = json!({ "done": true });
            ui.render(&state, "reset.html", StatusCode::OK, ctx)
        }
        Err(ContactError::LinkInvalid) => {
            ui.error(&state, StatusCode::BAD_REQUEST, "contact_link_invalid", "")
        }
        Err(e) => match e.key() {
            Some(key) => again(key, StatusCode::BAD_REQUEST),
            None => {
                tracing::error!(error = %e, "password reset failed");
                ui.server_error(&state)
            }
        },
    }
}

/// `GET /account/email/verify?token=`: the page that confirms the address.
pub async fn verify_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    OAuthParams(p): OAuthParams,
) -> Response {
    let ui = Ui::new(&headers, &uri, None);
    let token = match live_token(&state, &ui, &p, "email").await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let ctx = json!({ "token": token, "done": false });
    no_store(ui.render(&state, "verify_email.html", StatusCode::OK, ctx))
}

/// `POST /account/email/verify`: the address is verified (no sign-in needed: the link is the proof).
pub async fn verify_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    OAuthParams(p): OAuthParams,
) -> Response {
    let FlowPage { ui, .. } = match FlowPage::post(&state, &headers, &uri, &p).await {
        Ok(page) => page,
        Err(refused) => return refused,
    };
    match contacts::verify_email(&state.identity, field(&p, "token"), now()).await {
        Ok(_) => {
            // Userinfo answers cached on this node say `email_verified: false`: drop them (other
            // nodes' copies live at most their minute).
            state.provider.userinfo.invalidate_all();
            let ctx = json!({ "done": true });
            ui.render(&state, "verify_email.html", StatusCode::OK, ctx)
        }
        Err(ContactError::Storage(e)) => {
            tracing::error!(error = %e, "email verification failed");
            ui.server_error(&state)
        }
        Err(e) => ui.error(
            &state,
            StatusCode::BAD_REQUEST,
            e.key().unwrap_or("server_error"),
            "",
        ),
    }
}
