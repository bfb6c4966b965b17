//! Holder-facing licence endpoints: the wallet and access log (SSO session), shares, a portal's read
//! with the holder's consent (bearer token with the `licences` scope), and a department's query under a
//! registered legal basis (client_credentials with `licences:query`).

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::api::{ApiJson, ApiPath, ApiQuery, DepartmentClient};
use super::error::ApiError;
use super::pages::login::current_session;
use crate::domain::time::now;
use crate::http::AppState;
use crate::licences::catalogue::HolderKind;
use crate::licences::issue::{holder_index, HolderRef};
use crate::licences::{access, holdings, shares};
use crate::oidc::tokens;

fn unauthorized(d: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "Authentication required",
        d,
    )
}

/// A page number: 0 or more (the document's `minimum: 0`; the listings would read -1 as 0).
fn page(p: i64) -> Result<i64, ApiError> {
    if p < 0 {
        return Err(ApiError::bad_request(
            "bad-request",
            "page must be 0 or more",
        ));
    }
    Ok(p)
}

#[derive(Deserialize)]
pub struct WalletQuery {
    #[serde(rename = "as")]
    pub as_uscc: Option<String>,
    #[serde(rename = "type")]
    pub type_code: Option<String>,
    #[serde(default)]
    pub page: i64,
    /// Required with a bearer token (a portal reading with consent).
    pub purpose: Option<String>,
}

/// A portal's read with the holder's consent: a bearer access token with the `licences` scope that
/// represents a person (its grant names them, and the consent given for it the licence types).
async fn portal_read(
    state: &AppState,
    authorization: &str,
    purpose: &str,
    t: i64,
) -> Result<Vec<access::LicenceView>, ApiError> {
    let token = authorization
        .strip_prefix("Bearer ")
        .ok_or_else(|| unauthorized("send a bearer access token"))?;
    let claims = tokens::verify_access(&state.provider, token.trim(), t)
        .map_err(|e| unauthorized(&e.description))?;
    if !claims.has_scope("licences") {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "insufficient-scope",
            "Not allowed",
            "the token lacks the licences scope",
        ));
    }
    let gid = claims
        .gid
        .as_deref()
        .ok_or_else(|| unauthorized("the token does not represent a person"))?;
    use crate::licences::consent_read::{self, ConsentReadError as E};
    let level = claims
        .acr
        .as_deref()
        .and_then(crate::oidc::assurance::level)
        .unwrap_or(1);
    consent_read::read(&state.licences, gid, level, purpose, t)
        .await
        .map_err(|e| match e {
            E::GrantGone | E::HolderGone => unauthorized(&e.to_string()),
            E::NotProven => crate::licences::LicenceError::NotProven.into(),
            // RFC 9470: the portal asks again with acr_values (the header names the level).
            E::Licence(e @ crate::licences::LicenceError::SecondFactorNeeded(_)) => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "insufficient-user-authentication",
                "A stronger sign-in is needed",
                e.to_string(),
            ),
            E::Licence(e) => e.into(),
            E::Storage(e) => ApiError::internal(e),
        })
}

/// `GET /api/v1/me/licences`: with the SSO session, the holder's wallet; with a portal's bearer token
/// (`licences` scope), the consented licence types only, logged for the holder with the purpose.
pub async fn my_licences(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<WalletQuery>,
) -> Result<Response, ApiError> {
    let t = now();
    if let Some(h) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let list = portal_read(&state, h, q.purpose.as_deref().unwrap_or(""), t).await?;
        return Ok(Json(json!({ "licences": list })).into_response());
    }
    let (_, a) = current_session(&state, &headers, t)
        .await
        .ok_or_else(|| unauthorized("sign in first"))?;
    // The wallet does not use a purpose, but one it is sent is held to the document's bound too.
    if q.purpose
        .as_deref()
        .is_some_and(|p| p.chars().count() > access::PURPOSE_MAX)
    {
        return Err(ApiError::bad_request(
            "bad-request",
            "a purpose has at most 200 characters",
        ));
    }
    let page = page(q.page)?;
    let list = holdings::wallet(
        &state.licences,
        &a,
        q.as_uscc.as_deref(),
        q.type_code.as_deref(),
        page,
        t,
    )
    .await?;
    Ok(Json(json!({ "licences": list, "page": q.page })).into_response())
}

/// `GET /api/v1/me/access-log`: who read the holder's licences (and the enterprises they represent),
/// when, under consent or which legal basis, for what purpose.
pub async fn my_access_log(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let t = now();
    let (_, a) = current_session(&state, &headers, t)
        .await
        .ok_or_else(|| unauthorized("sign in first"))?;
    let log = holdings::access_log(&state.licences, &a, 200)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({ "accesses": log })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewShare {
    /// Claim names to reveal (the rest of the disclosures stay hidden).
    pub disclose: Vec<String>,
    pub purpose: String,
    /// Seconds, 60 to 30 days.
    pub expires_in: i64,
    #[serde(default, rename = "as")]
    pub as_uscc: Option<String>,
}

pub async fn create_share(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<NewShare>,
) -> Result<Response, ApiError> {
    let t = now();
    let (session, a) = current_session(&state, &headers, t)
        .await
        .ok_or_else(|| unauthorized("sign in first"))?;
    let need = crate::identity::enterprises::Permission::LicencesShare;
    let holder = holdings::holder_of(&state.licences, &a, req.as_uscc.as_deref(), need, t).await?;
    let level = crate::oidc::assurance::level(&session.acr).unwrap_or(1);
    let new = shares::NewShare {
        licence_id: &id,
        disclose: &req.disclose,
        purpose: &req.purpose,
        ttl: req.expires_in,
    };
    let share = shares::create_share(&state.licences, &a.id, &holder, level, new, t).await?;
    let url = format!("{}/api/v1/shares/{}", state.issuer, share.token);
    let page = format!("{}/shares/{}", state.issuer, share.token);
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": share.id, "url": url, "page": page, "expires_at": share.expires_at })),
    )
        .into_response())
}

pub async fn withdraw_share(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let t = now();
    let (_, a) = current_session(&state, &headers, t)
        .await
        .ok_or_else(|| unauthorized("sign in first"))?;
    if !shares::withdraw_share(&state.licences, &a.id, &id, t).await? {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            "no such live share of yours",
        ));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/v1/shares/{token}`: the shared licence with only the chosen disclosures, for anyone with
/// the link, until it expires or is withdrawn.
pub async fn open_share(
    State(state): State<AppState>,
    ApiPath(token): ApiPath<String>,
) -> Result<Response, ApiError> {
    Ok(Json(shares::open_share(&state.licences, &token, now()).await?).into_response())
}

#[derive(Deserialize)]
pub struct DepartmentQuery {
    pub holder_kind: HolderKind,
    #[serde(default)]
    pub id_kind: Option<String>,
    pub holder_id: String,
    pub type_code: String,
    #[serde(default)]
    pub purpose: String,
    #[serde(default)]
    pub page: i64,
}

/// `GET /api/v1/licences`: a department's query by holder and type under its registered legal basis.
pub async fn department_query(
    State(state): State<AppState>,
    client: DepartmentClient,
    ApiQuery(q): ApiQuery<DepartmentQuery>,
) -> Result<Response, ApiError> {
    if !client.claims.has_scope("licences:query") {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "insufficient-scope",
            "Not allowed",
            "the token lacks the licences:query scope",
        ));
    }
    let h = HolderRef {
        kind: q.holder_kind,
        id_kind: q.id_kind.clone(),
        id: q.holder_id.clone(),
        name: String::new(),
    };
    let index = holder_index(&state.licences, &h)?;
    let list = access::query_by_legal_basis(
        &state.licences,
        &client.department,
        &client.claims.client_id,
        &index,
        &q.type_code,
        &q.purpose,
        page(q.page)?,
        now(),
    )
    .await?;
    Ok(
        Json(json!({ "licences": list, "page": q.page, "per_page": access::PAGE_MAX }))
            .into_response(),
    )
}
