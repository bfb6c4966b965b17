//! Thin handlers for the JSON OAuth/OIDC endpoints: parse, call `oidc::*`, render.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::extract::{bearer, credentials, OAuthParams};
use crate::domain::time::now;
use crate::http::AppState;
use crate::oidc::discovery::{metadata, paths};
use crate::oidc::error::OAuthError;
use crate::oidc::{clients, grants, introspection, tokens};

const NO_STORE: [(header::HeaderName, &str); 2] = [
    (header::CACHE_CONTROL, "no-store"),
    (header::PRAGMA, "no-cache"),
];

pub async fn discovery(State(state): State<AppState>) -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(metadata(&state.issuer, state.identity.passkeys.is_some())),
    )
        .into_response()
}

pub async fn jwks(State(state): State<AppState>) -> Response {
    let keys = state.provider.keys.current();
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(keys.jwks().clone()),
    )
        .into_response()
}

pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    OAuthParams(p): OAuthParams,
) -> Result<Response, OAuthError> {
    let now = now();
    let creds = credentials(&headers, &p)?;
    let client = clients::authenticate(
        &state.provider,
        &creds,
        &format!("{}{}", state.issuer, paths::TOKEN),
        now,
    )
    .await?;
    let body = grants::exchange(&state.provider, &client, &p, now).await?;
    Ok((NO_STORE, Json(body)).into_response())
}

pub async fn userinfo(
    State(state): State<AppState>,
    headers: HeaderMap,
    OAuthParams(p): OAuthParams,
) -> Result<Response, OAuthError> {
    let now = now();
    let t = bearer(&headers, &p)?;
    let claims = tokens::verify_access(&state.provider, &t, now)?;
    let body = introspection::userinfo(&state.provider, &claims, now).await?;
    Ok((NO_STORE, Json(body.as_ref().clone())).into_response())
}

pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    OAuthParams(p): OAuthParams,
) -> Result<Response, OAuthError> {
    let now = now();
    let creds = credentials(&headers, &p)?;
    let client = clients::authenticate(
        &state.provider,
        &creds,
        &format!("{}{}", state.issuer, paths::INTROSPECT),
        now,
    )
    .await?;
    let body = introspection::introspect(&state.provider, &client, &p, now).await?;
    Ok((NO_STORE, Json(body)).into_response())
}

pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    OAuthParams(p): OAuthParams,
) -> Result<Response, OAuthError> {
    let now = now();
    let creds = credentials(&headers, &p)?;
    let client = clients::authenticate(
        &state.provider,
        &creds,
        &format!("{}{}", state.issuer, paths::REVOKE),
        now,
    )
    .await?;
    introspection::revoke(&state.provider, &client, &p, now).await?;
    Ok((NO_STORE, "").into_response())
}
