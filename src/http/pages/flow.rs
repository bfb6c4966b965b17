//! The browser side of the authorization endpoint: authorize → (login) → (enterprise choice) →
//! (consent) → code; and RP-initiated logout. The pending request is stored under a random id and
//! carried through the pages as `req`.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Value};

use super::login::current_session;
use super::{cookie_header, redirect, Ui};
use crate::domain::time::now;
use crate::http::extract::OAuthParams;
use crate::http::AppState;
use crate::oidc::authorize::{self, AuthRequest, PageError};
use crate::oidc::error::OAuthError;
use crate::oidc::flow::{self, ConsentError};
use crate::oidc::params::Params;
use crate::oidc::{logout, pending};

/// Pending requests expire after 30 minutes: long enough to register an account on the way.
const REQUEST_TTL: i64 = 1800;

pub async fn authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    OAuthParams(p): OAuthParams,
) -> Response {
    let ui_locales = p.one("ui_locales").ok().flatten().map(str::to_owned);
    let ui = Ui::new(&headers, &uri, ui_locales.as_deref());
    let (client, redirect_uri) = match authorize::client_and_redirect(&state.provider, &p).await {
        Ok(x) => x,
        Err(PageError::Show(key, d)) => return ui.error(&state, StatusCode::BAD_REQUEST, key, &d),
        Err(PageError::Storage(e)) => {
            tracing::error!(error = %e, "authorize: storage failure");
            return ui.failure(&state, e.is_unavailable());
        }
    };
    let req_state = p.one("state").ok().flatten().map(str::to_owned);
    let req = match authorize::parse(&client, redirect_uri.clone(), &p) {
        Ok(r) => r,
        Err(e) => {
            return redirect(&authorize::error_redirect(
                &state.provider,
                &redirect_uri,
                req_state.as_deref(),
                &e,
            ))
        }
    };
    let now = now();
    let id = match pending::park(&state.provider, &req, now, REQUEST_TTL).await {
        Ok(id) => id,
        Err(e) => {
            tracing::error!(error = %e, "authorize: storing the request failed");
            return redirect(&authorize::error_redirect(
                &state.provider,
                &redirect_uri,
                req_state.as_deref(),
                &crate::oidc::error::OAuthError::server_error(),
            ));
        }
    };
    proceed(&state, &headers, &ui, &id, req, now, now).await
}

/// Load a pending request by `req`.
async fn load(state: &AppState, p: &Params, now: i64) -> Option<(String, AuthRequest, i64)> {
    let id = p.one("req").ok().flatten()?;
    pending::find(&state.provider, id, now).await
}

pub async fn resume(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    OAuthParams(p): OAuthParams,
) -> Response {
    let now = now();
    let Some((id, req, created)) = load(&state, &p, now).await else {
        return expired(&state, &headers, &uri);
    };
    let ui = Ui::new(&headers, &uri, req.ui_locales.as_deref());
    proceed(&state, &headers, &ui, &id, req, created, now).await
}

/// Take the next step for a pending request: a page of the flow, or the code at the client.
async fn proceed(
    state: &AppState,
    headers: &HeaderMap,
    ui: &Ui,
    id: &str,
    req: AuthRequest,
    created: i64,
    now: i64,
) -> Response {
    let session = current_session(state, headers, now).await;
    let session = session.as_ref().map(|(s, _)| s);
    match flow::advance(&state.provider, id, &req, session, created, now).await {
        Ok(to) => {
            let mut resp = redirect(&to);
            ui.add_cookies(state, &mut resp);
            resp
        }
        Err(e) => to_client(state, &req, &e),
    }
}

/// An error for the client, at its redirect URI.
fn to_client(state: &AppState, req: &AuthRequest, e: &OAuthError) -> Response {
    redirect(&authorize::error_redirect(
        &state.provider,
        &req.redirect_uri,
        req.state.as_deref(),
        e,
    ))
}

/// The page a request that is not (or no longer) pending gets.
fn expired(state: &AppState, headers: &HeaderMap, uri: &Uri) -> Response {
    Ui::new(headers, uri, None).error(state, StatusCode::BAD_REQUEST, "request_expired", "")
}

pub async fn select_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    OAuthParams(p): OAuthParams,
) -> Response {
    let now = now();
    let Some((id, req, _)) = load(&state, &p, now).await else {
        return expired(&state, &headers, &uri);
    };
    let ui = Ui::new(&headers, &uri, req.ui_locales.as_deref());
    let Some((s, account)) = current_session(&state, &headers, now).await else {
        return redirect(&format!("/login?req={id}"));
    };
    let enterprises = crate::identity::enterprises::actable_by(&state.identity, &s.account_id, now)
        .await
        .unwrap_or_default();
    let list: Vec<Value> = enterprises
        .iter()
        .map(|e| json!({ "id": e.id, "name": e.name, "uscc": e.uscc, "role": e.role }))
        .collect();
    let client_name = flow::client(&state.provider, &req.client_id)
        .await
        .map(|c| c.config.name.clone());
    let ctx = json!({ "req": id, "client_name": client_name.unwrap_or_default(), "person_name": account.name, "enterprises": list });
    ui.render(&state, "select.html", StatusCode::OK, ctx)
}

pub async fn select_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    OAuthParams(p): OAuthParams,
) -> Response {
    let now = now();
    let Some((id, mut req, created)) = load(&state, &p, now).await else {
        return expired(&state, &headers, &uri);
    };
    let ui = Ui::new(&headers, &uri, req.ui_locales.as_deref());
    if !ui.csrf_ok(&state, p.one("csrf").ok().flatten()) {
        return ui.csrf_failed(&state);
    }
    let Some((s, _)) = current_session(&state, &headers, now).await else {
        return redirect(&format!("/login?req={id}"));
    };
    let choice = p.one("acting_for").ok().flatten().unwrap_or("");
    if flow::choose_enterprise(&state.provider, &id, &mut req, &s, choice, now)
        .await
        .is_err()
    {
        return ui.error(&state, StatusCode::FORBIDDEN, "grant_invalid", "");
    }
    proceed(&state, &headers, &ui, &id, req, created, now).await
}

pub async fn consent_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    OAuthParams(p): OAuthParams,
) -> Response {
    let now = now();
    let Some((id, req, _)) = load(&state, &p, now).await else {
        return expired(&state, &headers, &uri);
    };
    let ui = Ui::new(&headers, &uri, req.ui_locales.as_deref());
    if current_session(&state, &headers, now).await.is_none() {
        return redirect(&format!("/login?req={id}"));
    }
    let screen = flow::consent_screen(&state.provider, &req).await;
    let licence_types =
        crate::licences::lookup::type_names(&state.licences, &screen.licence_types, ui.lang).await;
    let licence_types: Vec<Value> = licence_types
        .into_iter()
        .map(|(code, name)| json!({ "code": code, "name": name }))
        .collect();
    let ctx = json!({ "req": id, "client_name": screen.client_name, "scopes": req.scopes, "acting_for_name": screen.acting_for_name, "licence_types": licence_types });
    ui.render(&state, "consent.html", StatusCode::OK, ctx)
}

pub async fn consent_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    OAuthParams(p): OAuthParams,
) -> Response {
    let now = now();
    let Some((id, mut req, created)) = load(&state, &p, now).await else {
        return expired(&state, &headers, &uri);
    };
    let ui = Ui::new(&headers, &uri, req.ui_locales.as_deref());
    if !ui.csrf_ok(&state, p.one("csrf").ok().flatten()) {
        return ui.csrf_failed(&state);
    }
    let Some((s, _)) = current_session(&state, &headers, now).await else {
        return redirect(&format!("/login?req={id}"));
    };
    let allow = p.one("decision").ok().flatten() == Some("allow");
    match flow::decide_consent(&state.provider, &id, &mut req, &s, allow, now).await {
        Ok(()) => proceed(&state, &headers, &ui, &id, req, created, now).await,
        Err(ConsentError::Declined(e)) => to_client(&state, &req, &e),
        Err(ConsentError::Storage(e)) => {
            tracing::error!(error = %e, "saving consent failed");
            ui.server_error(&state)
        }
    }
}

/// RP-initiated logout 1.0. A valid `id_token_hint` for the current session's person logs out at once;
/// otherwise the person confirms on a page (a GET alone never ends a session).
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    OAuthParams(p): OAuthParams,
) -> Response {
    let ui = Ui::new(&headers, &uri, p.one("ui_locales").ok().flatten());
    let now = now();
    let one = |k| p.one(k).ok().flatten();
    let request = match logout::logout_request(
        &state.provider,
        one("id_token_hint"),
        one("client_id"),
        one("post_logout_redirect_uri"),
        one("state"),
    )
    .await
    {
        Ok(r) => r,
        Err(e) => {
            let d = e.to_string();
            return ui.error(&state, StatusCode::BAD_REQUEST, "invalid_redirect_uri", &d);
        }
    };
    if let Some((s, _)) = current_session(&state, &headers, now).await {
        let confirmed_post = one("confirm") == Some("yes");
        let confirmed = confirmed_post && ui.csrf_ok(&state, one("csrf"));
        if confirmed_post && !confirmed {
            return ui.csrf_failed(&state);
        }
        if !confirmed && !request.names_session(&state.provider, &s) {
            let ctx = json!({
                "client_name": request.client.as_ref().map(|c| c.config.name.clone()),
                "post_logout_redirect_uri": request.post_logout_redirect_uri,
                "state": request.state, "client_id": request.client_id,
            });
            return ui.render(&state, "logout.html", StatusCode::OK, ctx);
        }
        if let Err(e) =
            logout::end_sessions(&state.provider, std::slice::from_ref(&s.id), now).await
        {
            tracing::error!(error = %e, "logout failed");
            return ui.server_error(&state);
        }
        tracing::info!("session ended by logout");
    }
    let mut resp = match request.return_to() {
        Some(target) => redirect(&target),
        None => ui.render(&state, "logged_out.html", StatusCode::OK, json!({})),
    };
    resp.headers_mut().append(
        header::SET_COOKIE,
        cookie_header(&state, super::session_cookie(&state), "", Some(0)),
    );
    resp
}
