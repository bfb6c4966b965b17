//! `/account/access-log`: the holder's access log as a page — who read which of their licences (or
//! their enterprises' licences), when, under consent, a legal basis or a share, and for what purpose.
//! The same records as `GET /api/v1/me/access-log`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Value};

use super::login::current_session;
use super::{format_time, redirect, Ui};
use crate::domain::time::now;
use crate::http::AppState;
use crate::licences::holdings;

pub async fn page(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let t = now();
    let ui = Ui::new(&headers, &uri, None);
    let Some((_, a)) = current_session(&state, &headers, t).await else {
        return redirect("/login");
    };
    let rows = match holdings::access_log_named(&state.licences, &a, 200).await {
        Ok(rows) => rows,
        Err(e) => return ui.failure(&state, e.is_unavailable()),
    };
    let entries: Vec<Value> = rows
        .iter()
        .map(|(r, who)| {
            json!({
                "when": format_time(r.at), "who": who, "via": r.via, "legal_basis": r.legal_basis,
                "licence": r.licence_id, "purpose": r.purpose,
            })
        })
        .collect();
    ui.render(
        &state,
        "access_log.html",
        StatusCode::OK,
        json!({ "entries": entries }),
    )
}
