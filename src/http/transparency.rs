//! The transparency log, public and unauthenticated (`/api/v1/log/...`): the newest signed checkpoint,
//! the verifier key, entries by range, inclusion and consistency proofs, and a licence's receipt.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use super::api::{ApiPath, ApiQuery};
use super::error::ApiError;
use crate::audit::licence_log;
use crate::http::AppState;

/// Entries per page at most.
const PAGE_MAX: u64 = 1000;

fn text(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

fn not_found(detail: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
}

async fn size(state: &AppState) -> Result<u64, ApiError> {
    Ok(licence_log::latest(&state.audit)
        .await
        .map_err(ApiError::internal)?
        .map_or(0, |(s, _)| s))
}

fn b64(hashes: &[[u8; 32]]) -> Vec<String> {
    hashes.iter().map(|h| STANDARD.encode(h)).collect()
}

/// The newest checkpoint, a C2SP signed note.
pub async fn checkpoint(State(state): State<AppState>) -> Result<Response, ApiError> {
    match licence_log::latest(&state.audit)
        .await
        .map_err(ApiError::internal)?
    {
        Some((_, note)) => Ok(text(note)),
        None => Err(not_found("the log is empty: no checkpoint yet")),
    }
}

/// The log's verifier key, `<origin>+<key hash>+<base64 key>` (the Go `note` format).
pub async fn key(State(state): State<AppState>) -> Response {
    text(format!("{}\n", state.audit.log_key.verifier_key()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    pub start: u64,
    pub end: u64,
}

/// Leaves `[start, end)` of the log (at most 1000), each with its canonical JSON.
pub async fn entries(
    State(state): State<AppState>,
    ApiQuery(r): ApiQuery<Range>,
) -> Result<Response, ApiError> {
    let n = size(&state).await?;
    if r.start >= r.end || r.end > n || r.end - r.start > PAGE_MAX {
        return Err(ApiError::bad_request(
            "bad-range",
            format!("need start < end ≤ {n} (the tree size), at most {PAGE_MAX} entries"),
        ));
    }
    let rows = crate::audit::licence_log::leaves(&state.audit, r.start as i64, r.end as i64)
        .await
        .map_err(ApiError::internal)?;
    let entries: Vec<Value> = rows
        .into_iter()
        .map(|(idx, _, leaf)| {
            json!({ "index": idx, "leaf": String::from_utf8_lossy(&leaf),
                    "leaf_hash": STANDARD.encode(crate::tlog::merkle::leaf_hash(&leaf)) })
        })
        .collect();
    Ok(Json(json!({ "entries": entries })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    pub index: u64,
    /// The tree size to prove against; default the newest checkpoint's.
    #[serde(default)]
    pub size: Option<u64>,
}

/// The RFC 9162 inclusion proof of leaf `index` in the tree of `size` leaves.
pub async fn inclusion(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<InclusionQuery>,
) -> Result<Response, ApiError> {
    let n = size(&state).await?;
    let size = q.size.unwrap_or(n);
    if q.index >= size || size > n {
        return Err(ApiError::bad_request(
            "bad-range",
            format!("need index < size ≤ {n} (the tree size)"),
        ));
    }
    let proof = licence_log::inclusion_proof(&state.audit, q.index, size)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({ "index": q.index, "size": size, "proof": b64(&proof) })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    pub old: u64,
    /// Default the newest checkpoint's size.
    #[serde(default)]
    pub new: Option<u64>,
}

/// The RFC 9162 consistency proof between the trees of `old` and `new` leaves.
pub async fn consistency(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ConsistencyQuery>,
) -> Result<Response, ApiError> {
    let n = size(&state).await?;
    let new = q.new.unwrap_or(n);
    if q.old == 0 || q.old > new || new > n {
        return Err(ApiError::bad_request(
            "bad-range",
            format!("need 0 < old ≤ new ≤ {n} (the tree size)"),
        ));
    }
    let proof = licence_log::consistency_proof(&state.audit, q.old, new)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({ "old": q.old, "new": new, "proof": b64(&proof) })).into_response())
}

/// A licence's inclusion receipt against the newest checkpoint.
pub async fn receipt(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    match licence_log::receipt(&state.audit, &id, false)
        .await
        .map_err(ApiError::internal)?
    {
        Some(r) => Ok(Json(r).into_response()),
        None => Err(not_found(
            "no licence with this identifier is in the transparency log",
        )),
    }
}
