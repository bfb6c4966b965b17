//! `GET /licence-types/{code}`: what a licence's `vct` URL names, as SD-JWT VC Type Metadata
//! (draft-ietf-oauth-sd-jwt-vc, "SD-JWT VC Type Metadata"): the type's names by language, its
//! claims with their titles and whether each is selectively disclosable, the JSON Schema of its
//! fields, and the departments that issue it. Public, cacheable.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::api::ApiPath;
use super::error::ApiError;
use super::AppState;
use crate::licences::lookup;

pub async fn type_metadata(
    State(state): State<AppState>,
    ApiPath(code): ApiPath<String>,
) -> Result<Response, ApiError> {
    let Some(p) = lookup::published_type(&state.licences, &code).await? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            "no licence type has this code",
        ));
    };
    let t = &p.definition;
    let properties = t
        .schema
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let claims: Vec<Value> = properties
        .keys()
        .map(|name| {
            let label = t.field_title(name).unwrap_or(name);
            let sd = if t.disclosable.contains(name) {
                "always"
            } else {
                "never"
            };
            json!({
                "path": [name],
                "display": [{ "lang": "zh-CN", "label": label }, { "lang": "en", "label": label }],
                "sd": sd,
            })
        })
        .collect();
    let issuers: Vec<Value> = p
        .issuers
        .iter()
        .map(
            |d| json!({ "uscc": d.uscc, "iss": d.iss, "name_zh": d.name_zh, "name_en": d.name_en }),
        )
        .collect();
    let body = json!({
        "vct": format!("{}/licence-types/{}", state.issuer, t.code),
        "name": t.name_zh,
        "display": [
            { "lang": "zh-CN", "name": t.name_zh },
            { "lang": "en", "name": t.name_en },
        ],
        "claims": claims,
        "schema": t.schema,
        "holder_kinds": t.holder_kinds,
        "max_holders": t.max_holders,
        "validity_days": t.validity_days,
        "issuers": issuers,
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body.to_string(),
    )
        .into_response())
}
