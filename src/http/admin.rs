//! The administration API (`/api/v1/admin/...`): departments, their certificates and the licence-type
//! catalogue, for an operator's system holding a client_credentials token with the `admin` scope. It
//! calls the same functions as the `tongban department` and `tongban licence-type` commands.

use axum::extract::{FromRequestParts, State};
use axum::http::{request::Parts, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::api::{ApiJson, ApiPath};
use super::error::ApiError;
use crate::domain::time::now;
use crate::http::AppState;
use crate::licences::catalogue::LicenceType;
use crate::licences::departments::{self as depts, NewDepartment};
use crate::oidc::tokens::AccessClaims;
use crate::storage::departments::DepartmentRow;

/// The scope an administration token carries.
pub const ADMIN_SCOPE: &str = "admin";

/// A system (not a person) authenticated by a client_credentials access token carrying `scope`.
pub fn system_token(
    parts: &Parts,
    state: &AppState,
    scope: &str,
) -> Result<std::sync::Arc<AccessClaims>, ApiError> {
    let claims = super::api::bearer_claims(&parts.headers, state)?;
    if claims.gid.is_some() || !claims.has_scope(scope) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "insufficient-scope",
            "Not allowed",
            format!("a client_credentials token with the {scope} scope is required"),
        ));
    }
    Ok(claims)
}

/// An administration system: a client_credentials token with the `admin` scope.
pub struct AdminClient(pub std::sync::Arc<AccessClaims>);

impl AdminClient {
    /// The audit log's actor for this client.
    fn actor(&self) -> String {
        crate::audit::client(&self.0.client_id)
    }
}

impl FromRequestParts<AppState> for AdminClient {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        system_token(parts, state, ADMIN_SCOPE).map(Self)
    }
}

fn not_found(detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
}

async fn department_json(state: &AppState, d: &DepartmentRow) -> Result<Value, ApiError> {
    let certs = crate::licences::departments::certs_of(&state.licences, &d.id)
        .await
        .map_err(ApiError::internal)?;
    let certs: Vec<_> = certs
        .iter()
        .map(|c| {
            json!({ "serial": c.serial, "purpose": c.purpose, "not_before": c.not_before,
                    "not_after": c.not_after, "revoked_at": c.revoked_at })
        })
        .collect();
    Ok(json!({
        "id": d.id, "uscc": d.uscc, "name_zh": d.name_zh, "name_en": d.name_en, "iss": d.iss,
        "client_id": d.client_id, "status_list": crate::licences::revocation::status_uri(&state.licences, &d.id),
        "certificates": certs,
    }))
}

pub async fn list_departments(
    State(state): State<AppState>,
    _: AdminClient,
) -> Result<Response, ApiError> {
    let list = crate::licences::departments::departments(&state.licences)
        .await
        .map_err(ApiError::internal)?;
    let mut out = Vec::with_capacity(list.len());
    for d in &list {
        out.push(department_json(&state, d).await?);
    }
    Ok(Json(json!({ "departments": out })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentRequest {
    pub uscc: String,
    pub name_zh: String,
    pub name_en: String,
    pub iss: String,
    #[serde(default)]
    pub client_id: Option<String>,
}

/// Register a department; its licence-signing and status-list certificates are issued at once.
pub async fn add_department(
    State(state): State<AppState>,
    admin: AdminClient,
    ApiJson(req): ApiJson<DepartmentRequest>,
) -> Result<Response, ApiError> {
    let n = NewDepartment {
        uscc: &req.uscc,
        name_zh: &req.name_zh,
        name_en: &req.name_en,
        iss: &req.iss,
        client_id: req.client_id.as_deref(),
    };
    let d = depts::register(&state.licences, n, &admin.actor(), now()).await?;
    let body = department_json(&state, &d).await?;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub async fn get_department(
    State(state): State<AppState>,
    _: AdminClient,
    ApiPath(uscc): ApiPath<String>,
) -> Result<Response, ApiError> {
    let d = by_uscc(&state, &uscc).await?;
    Ok(Json(department_json(&state, &d).await?).into_response())
}

async fn by_uscc(state: &AppState, uscc: &str) -> Result<DepartmentRow, ApiError> {
    crate::licences::departments::department_by_uscc(&state.licences, uscc)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| not_found(format!("no department with USCC {uscc}")))
}

/// New certificates for both purposes; the old ones stay valid until they expire or are revoked.
pub async fn renew_department(
    State(state): State<AppState>,
    admin: AdminClient,
    ApiPath(uscc): ApiPath<String>,
) -> Result<Response, ApiError> {
    let d = by_uscc(&state, &uscc).await?;
    depts::renew(&state.licences, &d, &admin.actor(), now()).await?;
    Ok(Json(department_json(&state, &d).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeCertRequest {
    pub reason: String,
}

/// Revoke a department certificate: licences it signed before now stay validly signed.
pub async fn revoke_certificate(
    State(state): State<AppState>,
    admin: AdminClient,
    ApiPath(serial): ApiPath<String>,
    ApiJson(req): ApiJson<RevokeCertRequest>,
) -> Result<Response, ApiError> {
    let reason = req.reason.trim();
    if reason.is_empty() || reason.len() > 200 {
        return Err(ApiError::bad_request(
            "bad-reason",
            "a reason of 1 to 200 bytes is required",
        ));
    }
    let t = now();
    if !depts::revoke_cert(&state.licences, &serial, reason, &admin.actor(), t).await? {
        let known = crate::licences::departments::certificate(&state.licences, &serial)
            .await
            .map_err(ApiError::internal)?;
        return Err(match known {
            Some(_) => ApiError::new(
                StatusCode::CONFLICT,
                "already-revoked",
                "Conflict",
                "this certificate is revoked already",
            ),
            None => not_found(format!("no certificate with serial {serial}")),
        });
    }
    Ok(Json(json!({ "serial": serial, "revoked_at": t, "reason": reason })).into_response())
}

pub async fn list_types(
    State(state): State<AppState>,
    _: AdminClient,
) -> Result<Response, ApiError> {
    let list = crate::licences::registry::list(&state.licences)
        .await
        .map_err(ApiError::internal)?;
    let types = list
        .iter()
        .map(|(_, def)| serde_json::from_str::<Value>(def))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::internal)?;
    Ok(Json(json!({ "licence_types": types })).into_response())
}

pub async fn get_type(
    State(state): State<AppState>,
    _: AdminClient,
    ApiPath(code): ApiPath<String>,
) -> Result<Response, ApiError> {
    let def = crate::licences::registry::definition(&state.licences, &code)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| not_found(format!("no licence type {code}")))?;
    let v: Value = serde_json::from_str(&def).map_err(ApiError::internal)?;
    Ok(Json(v).into_response())
}

/// Register a licence type: the definition is validated (code, schema, disclosable fields, issuers)
/// and is immutable afterwards, since licences already issued refer to it.
pub async fn add_type(
    State(state): State<AppState>,
    admin: AdminClient,
    ApiJson(t): ApiJson<LicenceType>,
) -> Result<Response, ApiError> {
    let stored =
        crate::licences::registry::register(&state.licences, &t, &admin.actor(), now()).await?;
    Ok((StatusCode::CREATED, Json(stored)).into_response())
}
