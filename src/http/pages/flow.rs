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
use crate::oidc::authorize::{self, AuthRequest, PageError, Step};
use crate::oidc::params::Params;
use crate::oidc::{clients, logout, pending};
use crate::storage;

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
        return Ui::new(&headers, &uri, None).error(
            &state,
            StatusCode::BAD_REQUEST,
            "request_expired",
            "",
        );
    };
    let ui = Ui::new(&headers, &uri, req.ui_locales.as_deref());
    proceed(&state, &headers, &ui, &id, req, created, now).await
}

/// Decide the next step for a pending request and take it.
async fn proceed(
    state: &AppState,
    headers: &HeaderMap,
    ui: &Ui,
    id: &str,
    req: AuthRequest,
    created: i64,
    now: i64,
) -> Response {
    let fail = |e: crate::oidc::error::OAuthError| {
        redirect(&authorize::error_redirect(
            &state.provider,
            &req.redirect_uri,
            req.state.as_deref(),
            &e,
        ))
    };
    let session = current_session(state, headers, now).await;
    let lookups = async {
        let Some((s, _)) = &session else {
            return Ok((vec![], None));
        };
        let actable = if req.has_scope("enterprise") {
            crate::identity::enterprises::actable_by(&state.identity, &s.account_id, now).await?
        } else {
            vec![]
        };
        let acting_for = req.acting_for.clone().unwrap_or_default();
        let consent = crate::oidc::consents::consent(
            &state.provider,
            &s.account_id,
            &req.client_id,
            &acting_for,
        )
        .await?;
        Ok::<_, storage::StorageError>((actable, consent))
    };
    // A failed lookup is a server error, never "no consent yet".
    let (actable, consent) = match lookups.await {
        Ok(x) => x,
        Err(e) => return fail(e.into()),
    };
    let acting_for = req.acting_for.clone().unwrap_or_default();
    let step = authorize::next_step(
        &req,
        session.as_ref().map(|(s, _)| s),
        created,
        consent.as_deref(),
        actable.len(),
        now,
    );
    let to = match step {
        Err(e) => {
            let _ = pending::finish(&state.provider, id).await;
            return fail(e);
        }
        Ok(Step::Login) => format!("/login?req={id}"),
        Ok(Step::SelectEnterprise) => format!("/select?req={id}"),
        Ok(Step::Consent) => format!("/consent?req={id}"),
        Ok(Step::Issue) => {
            let Some((s, _)) = session else {
                return fail(crate::oidc::error::OAuthError::server_error());
            };
            if !acting_for.is_empty() && !actable.iter().any(|e| e.id == acting_for) {
                return fail(crate::oidc::error::OAuthError::new(
                    crate::oidc::error::ErrorCode::AccessDenied,
                    "the person may not act for that enterprise",
                ));
            }
            let _ = pending::finish(&state.provider, id).await;
            match authorize::issue_code(&state.provider, &req, &s, now).await {
                Ok(url) => {
                    let mut resp = redirect(&url);
                    ui.add_cookies(state, &mut resp);
                    return resp;
                }
                Err(e) => return fail(e),
            }
        }
    };
    let mut resp = redirect(&to);
    ui.add_cookies(state, &mut resp);
    resp
}

/// The licence types a portal is registered to read with consent (`licences` scope).
async fn client_licence_types(state: &AppState, client_id: &str) -> Vec<String> {
    clients::get(&state.provider, client_id)
        .await
        .ok()
        .flatten()
        .map(|c| c.config.licence_types.clone())
        .unwrap_or_default()
}

async fn client_name(state: &AppState, client_id: &str) -> String {
    clients::get(&state.provider, client_id)
        .await
        .ok()
        .flatten()
        .map(|c| c.config.name.clone())
        .unwrap_or_default()
}

pub async fn select_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    OAuthParams(p): OAuthParams,
) -> Response {
    let now = now();
    let Some((id, req, _)) = load(&state, &p, now).await else {
        return Ui::new(&headers, &uri, None).error(
            &state,
            StatusCode::BAD_REQUEST,
            "request_expired",
            "",
        );
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
    let ctx = json!({ "req": id, "client_name": client_name(&state, &req.client_id).await, "person_name": account.name, "enterprises": list });
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
        return Ui::new(&headers, &uri, None).error(
            &state,
            StatusCode::BAD_REQUEST,
            "request_expired",
            "",
        );
    };
    let ui = Ui::new(&headers, &uri, req.ui_locales.as_deref());
    if !ui.csrf_ok(&state, p.one("csrf").ok().flatten()) {
        return ui.csrf_failed(&state);
    }
    let Some((s, _)) = current_session(&state, &headers, now).await else {
        return redirect(&format!("/login?req={id}"));
    };
    let choice = p.one("acting_for").ok().flatten().unwrap_or("").to_owned();
    if !choice.is_empty() {
        let actable = crate::identity::enterprises::actable_by(&state.identity, &s.account_id, now)
            .await
            .unwrap_or_default();
        if !actable.iter().any(|e| e.id == choice) {
            return ui.error(&state, StatusCode::FORBIDDEN, "grant_invalid", "");
        }
    }
    req.acting_for = Some(choice);
    req.selected = true;
    req.consented = false;
    let _ = pending::update(&state.provider, &id, &req).await;
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
        return Ui::new(&headers, &uri, None).error(
            &state,
            StatusCode::BAD_REQUEST,
            "request_expired",
            "",
        );
    };
    let ui = Ui::new(&headers, &uri, req.ui_locales.as_deref());
    if current_session(&state, &headers, now).await.is_none() {
        return redirect(&format!("/login?req={id}"));
    }
    let acting_for_name = match req.acting_for.as_deref() {
        Some(e) if !e.is_empty() => crate::identity::enterprises::enterprise(&state.identity, e)
            .await
            .ok()
            .flatten()
            .map(|e| e.name),
        _ => None,
    };
    // The licence types a portal asking for `licences` may read, by name: what the person consents to.
    let mut licence_types = Vec::new();
    if req.has_scope("licences") {
        let codes = client_licence_types(&state, &req.client_id).await;
        for code in codes {
            if let Ok(Some(t)) = crate::licences::lookup::licence_type(&state.licences, &code).await
            {
                let name = if ui.lang == "en" {
                    t.name_en.clone()
                } else {
                    t.name_zh.clone()
                };
                licence_types.push(json!({ "code": code, "name": name }));
            }
        }
    }
    let ctx = json!({ "req": id, "client_name": client_name(&state, &req.client_id).await, "scopes": req.scopes, "acting_for_name": acting_for_name, "licence_types": licence_types });
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
        return Ui::new(&headers, &uri, None).error(
            &state,
            StatusCode::BAD_REQUEST,
            "request_expired",
            "",
        );
    };
    let ui = Ui::new(&headers, &uri, req.ui_locales.as_deref());
    if !ui.csrf_ok(&state, p.one("csrf").ok().flatten()) {
        return ui.csrf_failed(&state);
    }
    let Some((s, _)) = current_session(&state, &headers, now).await else {
        return redirect(&format!("/login?req={id}"));
    };
    if p.one("decision").ok().flatten() != Some("allow") {
        let _ = pending::finish(&state.provider, &id).await;
        let e = crate::oidc::error::OAuthError::new(
            crate::oidc::error::ErrorCode::AccessDenied,
            "the person declined",
        );
        return redirect(&authorize::error_redirect(
            &state.provider,
            &req.redirect_uri,
            req.state.as_deref(),
            &e,
        ));
    }
    let acting_for = req.acting_for.clone().unwrap_or_default();
    // With `licences`, the consent records exactly the licence types the screen named.
    let mut granted = req.scopes.clone();
    if req.has_scope("licences") {
        let codes = client_licence_types(&state, &req.client_id).await;
        granted.extend(codes.into_iter().map(|c| format!("licence_type:{c}")));
    }
    if let Err(e) = crate::oidc::authorize::give_consent(
        &state.provider,
        &s.account_id,
        &req.client_id,
        &acting_for,
        &granted,
        now,
    )
    .await
    {
        tracing::error!(error = %e, "saving consent failed");
        return ui.server_error(&state);
    }
    tracing::info!(client_id = %req.client_id, "consent given");
    req.consented = true;
    let _ = pending::update(&state.provider, &id, &req).await;
    proceed(&state, &headers, &ui, &id, req, created, now).await
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
    let hint = p
        .one("id_token_hint")
        .ok()
        .flatten()
        .and_then(|t| logout::id_token_hint(&state.provider, t));
    let client_id = p
        .one("client_id")
        .ok()
        .flatten()
        .map(str::to_owned)
        .or_else(|| {
            hint.as_ref()
                .and_then(|h| h["aud"].as_str().map(str::to_owned))
        });
    let client = match &client_id {
        Some(id) => clients::get(&state.provider, id).await.ok().flatten(),
        None => None,
    };
    let post_logout = p
        .one("post_logout_redirect_uri")
        .ok()
        .flatten()
        .map(str::to_owned);
    if let Some(u) = &post_logout {
        if !client
            .as_ref()
            .is_some_and(|c| c.config.post_logout_redirect_uris.iter().any(|r| r == u))
        {
            return ui.error(
                &state,
                StatusCode::BAD_REQUEST,
                "invalid_redirect_uri",
                "post_logout_redirect_uri is not registered for this client",
            );
        }
    }
    let logout_state = p.one("state").ok().flatten().map(str::to_owned);
    let confirmed_post = p.one("confirm").ok().flatten() == Some("yes");
    let session = current_session(&state, &headers, now).await;
    let hint_matches = match (&session, &hint, &client) {
        (Some((s, _)), Some(h), Some(c)) => logout::hint_names_session(&state.provider, h, c, s),
        _ => false,
    };
    if let Some((s, _)) = &session {
        let confirmed = confirmed_post && ui.csrf_ok(&state, p.one("csrf").ok().flatten());
        if confirmed_post && !confirmed {
            return ui.csrf_failed(&state);
        }
        if !confirmed && !hint_matches {
            let ctx = json!({
                "client_name": client.as_ref().map(|c| c.config.name.clone()),
                "post_logout_redirect_uri": post_logout, "state": logout_state, "client_id": client_id,
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
    let mut resp = match post_logout {
        Some(u) => {
            let target = url::Url::parse(&u)
                .map(|mut url| {
                    if let Some(st) = &logout_state {
                        url.query_pairs_mut().append_pair("state", st);
                    }
                    url.to_string()
                })
                .unwrap_or(u);
            redirect(&target)
        }
        None => ui.render(&state, "logged_out.html", StatusCode::OK, json!({})),
    };
    resp.headers_mut().append(
        header::SET_COOKIE,
        cookie_header(&state, super::session_cookie(&state), "", Some(0)),
    );
    resp
}
