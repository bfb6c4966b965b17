//! The `/api/v1` JSON API for department systems (and the public status lists, root certificate and
//! verification): thin handlers over `licences::*`, RFC 9457 problem details for every error.

use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::{header, request::Parts, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use crate::domain::time::now;
use crate::http::AppState;
use crate::licences::issuance::{self, Caller, Issued};
use crate::licences::issue::IssueRequest;
use crate::licences::revocation::{self, Action};
use crate::licences::verification;
use crate::oidc::tokens::{self, AccessClaims};
use crate::storage::departments::DepartmentRow;

/// A JSON body whose rejection is a problem details response (content type, syntax, shape).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .eq_ignore_ascii_case("application/json")
        {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Send JSON",
                "the body must be application/json",
            ));
        }
        let body = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too-large",
                    "The body is too large",
                    "the request body is too large or unreadable",
                )
            })?;
        serde_json::from_slice(&body).map(Self).map_err(|e| {
            ApiError::bad_request(
                "invalid-json",
                format!("the body does not match the expected JSON: {e}"),
            )
        })
    }
}

/// Query parameters whose rejection is a problem details response (axum's own is plain text).
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(q)| Self(q))
            .map_err(|e| {
                ApiError::bad_request(
                    "bad-request",
                    format!("the query string is invalid: {}", e.body_text()),
                )
            })
    }
}

/// Path parameters whose rejection (e.g. a segment that is not UTF-8) is a problem details response.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(p)| Self(p))
            .map_err(|e| {
                ApiError::bad_request(
                    "bad-request",
                    format!("the path is invalid: {}", e.body_text()),
                )
            })
    }
}

/// The claims of the request's bearer access token (ours, valid, not revoked), or a 401 problem.
pub fn bearer_claims(
    headers: &HeaderMap,
    state: &AppState,
) -> Result<std::sync::Arc<AccessClaims>, ApiError> {
    let unauthorized = |d: &str| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
            d,
        )
    };
    let h = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let token = h
        .strip_prefix("Bearer ")
        .or_else(|| h.strip_prefix("bearer "))
        .ok_or_else(|| unauthorized("send a bearer access token"))?;
    tokens::verify_access(&state.provider, token.trim(), now())
        .map_err(|e| unauthorized(&e.description))
}

/// A department system, authenticated by a client_credentials access token of ours.
pub struct DepartmentClient {
    pub claims: std::sync::Arc<AccessClaims>,
    pub department: std::sync::Arc<DepartmentRow>,
}

impl FromRequestParts<AppState> for DepartmentClient {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let claims = bearer_claims(&parts.headers, state)?;
        if claims.gid.is_some() {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Not allowed",
                "a department system's client_credentials token is required",
            ));
        }
        let department =
            crate::licences::lookup::department_of_client(&state.licences, &claims.client_id)
                .await
                .map_err(ApiError::internal)?
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::FORBIDDEN,
                        "forbidden",
                        "Not allowed",
                        "this client belongs to no department",
                    )
                })?;
        Ok(Self { claims, department })
    }
}

impl DepartmentClient {
    fn require(&self, scope: &str) -> Result<(), ApiError> {
        if self.claims.has_scope(scope) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "insufficient-scope",
                "Not allowed",
                format!("the token lacks the {scope} scope"),
            ))
        }
    }
}

/// A licence as issuance answers it: the licence with its inclusion receipt.
/// The licence as issued, with its inclusion receipt.
fn issued_body(i: Issued) -> Value {
    let mut body = serde_json::to_value(i.licence).unwrap_or_default();
    body["receipt"] = i.receipt.unwrap_or(Value::Null);
    body
}

fn created(i: Issued) -> Response {
    let replayed = i.replayed;
    let mut r = (StatusCode::CREATED, Json(issued_body(i))).into_response();
    if replayed {
        r.headers_mut().insert(
            "idempotent-replayed",
            header::HeaderValue::from_static("true"),
        );
    }
    r
}

/// The `Idempotency-Key` header, if sent: 1 to 255 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    v.to_str()
        .ok()
        .filter(|k| (1..=255).contains(&k.len()))
        .map(|k| Some(k.to_owned()))
        .ok_or_else(|| {
            ApiError::bad_request(
                "bad-idempotency-key",
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )
        })
}

pub async fn issue_licence(
    State(state): State<AppState>,
    client: DepartmentClient,
    headers: HeaderMap,
    ApiJson(req): ApiJson<IssueRequest>,
) -> Result<Response, ApiError> {
    client.require("licences:issue")?;
    let key = idempotency_key(&headers)?;
    let caller = Caller {
        department: &client.department,
        client_id: &client.claims.client_id,
        key: key.as_deref(),
    };
    let issued = issuance::issue_one(&state.licences, &caller, &req, now()).await?;
    Ok(created(issued))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    pub licences: Vec<IssueRequest>,
}

/// Batch issuance for migrating existing registers: each licence in its own transaction, so one
/// refused licence does not stop the others; the answer lists each result in order. A batch is not
/// all-or-nothing (one transaction over up to 1000 signatures would hold SQLite's one writer, and on
/// PostgreSQL the log's queue, for seconds): a batch sent with an `Idempotency-Key` records each
/// licence under the key `<key>/<position>`, so a client whose batch was cut short (a crash, a lost
/// answer) sends the same batch with the same key again and gets every licence exactly once: those
/// already issued are answered from the record, the rest are issued.
pub async fn issue_batch(
    State(state): State<AppState>,
    client: DepartmentClient,
    headers: HeaderMap,
    ApiJson(batch): ApiJson<Batch>,
) -> Result<Response, ApiError> {
    client.require("licences:issue")?;
    if batch.licences.is_empty() || batch.licences.len() > 1000 {
        return Err(ApiError::bad_request(
            "bad-batch",
            "a batch holds 1 to 1000 licences",
        ));
    }
    let key = idempotency_key(&headers)?;
    let caller = Caller {
        department: &client.department,
        client_id: &client.claims.client_id,
        key: key.as_deref(),
    };
    let results: Vec<Value> = issuance::issue_batch(&state.licences, &caller, &batch.licences, now())
        .await?
        .into_iter()
        .map(|r| match r {
            Ok(i) if i.replayed => json!({ "status": 201, "licence": issued_body(i), "replayed": true }),
            Ok(i) => json!({ "status": 201, "licence": issued_body(i) }),
            Err(e) => {
                let p = ApiError::from(e);
                json!({ "status": p.status.as_u16(), "problem": { "type": p.type_uri(), "detail": p.detail } })
            }
        })
        .collect();
    Ok((StatusCode::OK, Json(json!({ "results": results }))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    pub reason: String,
}

pub async fn change_status(
    State(state): State<AppState>,
    client: DepartmentClient,
    ApiPath((id, action)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<StatusChange>,
) -> Result<Response, ApiError> {
    client.require("licences:revoke")?;
    let action = Action::parse(&action).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            "the action is suspend, reinstate or revoke",
        )
    })?;
    let to = revocation::change(
        &state.licences,
        &client.department,
        &id,
        action,
        &body.reason,
        now(),
    )
    .await?;
    Ok(
        Json(json!({ "id": id, "status": crate::licences::access::status_name(to) }))
            .into_response(),
    )
}

#[derive(Deserialize)]
pub struct AtTime {
    pub time: Option<i64>,
}

/// The signed status list, unauthenticated, with cache headers matching its `ttl`.
pub async fn status_list(
    State(state): State<AppState>,
    ApiPath(department): ApiPath<String>,
    ApiQuery(q): ApiQuery<AtTime>,
) -> Result<Response, ApiError> {
    let t = now();
    if q.time.is_some_and(|time| time > t) {
        return Err(ApiError::bad_request("bad-time", "time is in the future"));
    }
    let jwt = revocation::token(&state.licences, &department, q.time, t).await?;
    let cache = if q.time.is_some() {
        "public, max-age=86400".to_owned()
    } else {
        format!("public, max-age={}", revocation::TTL)
    };
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/statuslist+jwt".to_owned(),
            ),
            (header::CACHE_CONTROL, cache),
        ],
        jwt.as_ref().clone(),
    )
        .into_response())
}

pub async fn root_pem(State(state): State<AppState>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/x-pem-file"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        state.licences.ca.root_pem().to_owned(),
    )
        .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// The SD-JWT VC, with any subset of its disclosures.
    pub licence: String,
    /// Unix time the question is about ("was it valid then?"); default now.
    #[serde(default)]
    pub at: Option<i64>,
}

/// Public verification: every check with its outcome, and one verdict. The repository's own record
/// (issued here? status at `at`? certificate revoked before signing?) joins the cryptographic checks.
pub async fn verify(
    State(state): State<AppState>,
    super::extract::ClientAddr(addr): super::extract::ClientAddr,
    headers: HeaderMap,
    ApiJson(req): ApiJson<VerifyRequest>,
) -> Result<Response, ApiError> {
    // Public, so rate-limited per address: a fixed one-second window, counted atomically.
    if !state
        .verify_rate
        .allow(&addr, now(), state.config.verify_rate_per_address)
    {
        let mut r = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too many requests",
            "too many verifications from this address; retry in a second",
        )
        .into_response();
        r.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        return Ok(r);
    }
    let department = verifying_department(&state, &headers).await?;
    let at = req.at.unwrap_or_else(now);
    let report = verification::verify(
        &state.licences,
        department.as_deref(),
        &addr,
        req.licence,
        at,
        now(),
    )
    .await?;
    // Sized for a report up front: `Json` starts at 128 bytes and doubles its way to ~2 KB.
    let mut body = Vec::with_capacity(4096);
    serde_json::to_writer(&mut body, &report).map_err(ApiError::internal)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// The department of the system that sent a bearer token with its verification, if it did (an
/// anonymous verification sends none); a token that does not verify is refused.
async fn verifying_department(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<std::sync::Arc<DepartmentRow>>, ApiError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| !v.trim().eq_ignore_ascii_case("bearer"));
    if !presented {
        return Ok(None);
    }
    let claims = bearer_claims(headers, state)?;
    crate::licences::lookup::department_of_client(&state.licences, &claims.client_id)
        .await
        .map_err(ApiError::internal)
}
