//! `/account/access-log`: the holder's access log as a page — who read which of their licences (or
//! their enterprises' licences), when, under consent, a legal basis or a share, and for what purpose.
//! The same records as `GET /api/v1/me/access-log`.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::json;

use super::login::current_session;
use super::{format_time, redirect, Ui};
use crate::domain::time::now;
use crate::http::AppState;
use crate::storage;

/// The blind indexes of the person's own licences and of the enterprises they represent.
pub async fn holder_indexes(
    state: &AppState,
    a: &storage::accounts::AccountRow,
) -> Result<Vec<Vec<u8>>, storage::StorageError> {
    let mut indexes = vec![a.id_number_index.clone()];
    for e in crate::identity::enterprises::represented_by(&state.identity, &a.id).await? {
        indexes.push(
            state
                .provider
                .keys
                .data()
                .blind_index(&format!("uscc:{}", e.uscc)),
        );
    }
    Ok(indexes)
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let t = now();
    let ui = Ui::new(&headers, &uri, None);
    let Some((_, a)) = current_session(&state, &headers, t).await else {
        return redirect("/login");
    };
    let rows = match holder_indexes(&state, &a).await {
        Ok(indexes) => crate::licences::access::access_log(&state.licences, &indexes, 200).await,
        Err(e) => Err(e),
    };
    let rows = match rows {
        Ok(rows) => rows,
        Err(e) => return ui.failure(&state, e.is_unavailable()),
    };
    // Names of the departments and portals that read, each looked up once.
    let mut names: HashMap<String, String> = HashMap::new();
    let mut entries = Vec::with_capacity(rows.len());
    for r in &rows {
        let who = match (&r.department_id, &r.client_id) {
            (Some(d), _) => {
                if !names.contains_key(d) {
                    let n = crate::licences::departments::department(&state.licences, d)
                        .await
                        .ok()
                        .flatten()
                        .map_or_else(|| d.clone(), |x| x.name_zh);
                    names.insert(d.clone(), n);
                }
                names.get(d).cloned().unwrap_or_default()
            }
            (None, Some(c)) => {
                if !names.contains_key(c) {
                    let n = crate::oidc::clients::get(&state.provider, c)
                        .await
                        .ok()
                        .flatten()
                        .map_or_else(|| c.clone(), |x| x.config.name.clone());
                    names.insert(c.clone(), n);
                }
                names.get(c).cloned().unwrap_or_default()
            }
            (None, None) => String::new(),
        };
        entries.push(json!({
            "when": format_time(r.at), "who": who, "via": r.via, "legal_basis": r.legal_basis,
            "licence": r.licence_id, "purpose": r.purpose,
        }));
    }
    ui.render(
        &state,
        "access_log.html",
        StatusCode::OK,
        json!({ "entries": entries }),
    )
}
