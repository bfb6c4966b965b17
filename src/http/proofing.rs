//! Identity proofing over the JSON API: counter staff prove, in person, the identity of the person in
//! front of them (`POST /api/v1/counter/proofings`, the staff's SSO session); a person enters the
//! activation code a department sent them (`POST /api/v1/me/activation`, their SSO session).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::api::ApiJson;
use super::error::ApiError;
use super::extract::ClientAddr;
use super::pages::login::current_session;
use crate::domain::time::now;
use crate::http::AppState;
use crate::identity::proofing;

fn unauthorized() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "Authentication required",
        "sign in first",
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CounterProofing {
    /// The person's account: email or mobile phone number.
    pub account: String,
    #[serde(default = "resident")]
    pub id_kind: String,
    pub id_number: String,
    /// The name on the document.
    pub name: String,
    /// The evidence checked: the document, its issuing office.
    pub evidence: String,
    /// The department the staff member acts for (needed when they serve several).
    #[serde(default)]
    pub department: Option<String>,
}

fn resident() -> String {
    "resident".into()
}

/// `POST /api/v1/counter/proofings`.
pub async fn counter(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<CounterProofing>,
) -> Result<Response, ApiError> {
    let t = now();
    let (_, staff) = current_session(&state, &headers, t)
        .await
        .ok_or_else(unauthorized)?;
    let proven = proofing::prove_at_counter(
        &state.identity,
        &staff.id,
        req.department.as_deref(),
        &req.account,
        &req.id_kind,
        &req.id_number,
        &req.name,
        &req.evidence,
        t,
    )
    .await?;
    Ok(Json(json!({ "proven": true, "detached": proven.detached.len() })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Activation {
    pub code: String,
}

/// `POST /api/v1/me/activation`.
pub async fn activate(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientAddr(addr): ClientAddr,
    ApiJson(req): ApiJson<Activation>,
) -> Result<Response, ApiError> {
    let t = now();
    let (_, a) = current_session(&state, &headers, t)
        .await
        .ok_or_else(unauthorized)?;
    proofing::redeem(&state.identity, &a, &req.code, &addr, t).await?;
    Ok(Json(json!({ "proven": true })).into_response())
}
