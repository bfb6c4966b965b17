//! Supervision for auditors: `GET /api/v1/supervision` (JSON, a client_credentials token with the
//! `auditor` scope) and `/supervision` (a page for accounts with the auditor role), both over a
//! period, from [`crate::audit::supervision::figures`].

use axum::extract::{FromRequestParts, State};
use axum::http::{request::Parts, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::api::ApiQuery;
use super::error::ApiError;
use super::pages::login::current_session;
use super::pages::{redirect, Ui};
use crate::audit::supervision::{figures, for_auditor, period, SupervisionError};
use crate::domain::time::{civil, from_civil, now};
use crate::http::AppState;

/// The scope of an auditing system's token.
pub const AUDITOR_SCOPE: &str = "auditor";
const DAY: i64 = 86_400;

/// An auditing system: a client_credentials token with the `auditor` scope.
pub struct AuditorClient;

impl FromRequestParts<AppState> for AuditorClient {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        super::admin::system_token(parts, state, AUDITOR_SCOPE).map(|_| Self)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    /// Unix seconds, inclusive; default 30 days before `to`.
    #[serde(default)]
    pub from: Option<i64>,
    /// Unix seconds, exclusive; default the end of the current second.
    #[serde(default)]
    pub to: Option<i64>,
}

pub async fn json(
    State(state): State<AppState>,
    _: AuditorClient,
    ApiQuery(p): ApiQuery<Period>,
) -> Result<Response, ApiError> {
    let (from, to) = period(p.from, p.to, now())
        .map_err(|e| ApiError::bad_request("bad-period", e.to_string()))?;
    let f = figures(&state.audit, from, to)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({ "from": from, "to": to, "departments": f })).into_response())
}

#[derive(Deserialize)]
pub struct PagePeriod {
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
}

/// A form field's value, if one was typed.
fn given(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|s| !s.is_empty())
}

/// `YYYY-MM-DD` as the Unix time of that day's start (UTC).
fn date(s: &str) -> Option<i64> {
    let mut parts = s.trim().splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (parts.next()??, parts.next()??, parts.next()??);
    ((1970..=9999).contains(&y) && (1..=12).contains(&m) && (1..=31).contains(&d))
        .then(|| from_civil(y, m, d))
}

fn ymd(t: i64) -> String {
    let (y, m, d, ..) = civil(t);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The page: the same figures, for a period chosen in a form (dates, UTC, `to` inclusive).
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    axum::extract::Query(q): axum::extract::Query<PagePeriod>,
) -> Response {
    let t = now();
    let ui = Ui::new(&headers, &uri, None);
    let Some((_, a)) = current_session(&state, &headers, t).await else {
        return redirect("/login");
    };
    // A date that is given but does not read as one is refused like a bad period, in the page's
    // language, with the form kept as typed (never a parser's message).
    let (to_in, from_in) = (given(q.to.as_deref()), given(q.from.as_deref()));
    let to = to_in.and_then(date).map(|d| d + DAY);
    let from = from_in.and_then(date);
    let unreadable = (to_in.is_some() && to.is_none()) || (from_in.is_some() && from.is_none());
    let refused = |key: &str| {
        let ctx = json!({ "from": from_in, "to": to_in, "rows": [], "error": key });
        ui.render(&state, "supervision.html", StatusCode::BAD_REQUEST, ctx)
    };
    let result = if unreadable {
        Err(SupervisionError::BadPeriod(
            crate::audit::supervision::BadPeriod,
        ))
    } else {
        for_auditor(&state.audit, &a.id, from, to, t).await
    };
    let (from, to, f) = match result {
        Ok(r) => r,
        Err(SupervisionError::NotAuditor) => {
            return ui.error(&state, StatusCode::FORBIDDEN, "not_auditor", "")
        }
        Err(SupervisionError::BadPeriod(_)) => return refused("bad_period"),
        Err(SupervisionError::Storage(e)) => return ui.failure(&state, e.is_unavailable()),
    };
    let rows: Vec<_> = f
        .iter()
        .map(|f| {
            json!({ "name": f.name, "uscc": f.uscc, "issued": f.issued, "suspended": f.suspended,
                    "reinstated": f.reinstated, "revoked": f.revoked, "legal_basis": f.queries_legal_basis,
                    "consent": f.queries_consent, "failed": f.failed_verifications,
                    "median_hours": f.median_issuance_seconds.map(|s| format!("{:.1}", s as f64 / 3600.0)),
                    "reported": f.applications_reported })
        })
        .collect();
    ui.render(
        &state,
        "supervision.html",
        StatusCode::OK,
        json!({ "from": ymd(from), "to": ymd(to - 1), "rows": rows, "error": null }),
    )
}
