//! The holder's licence pages: the list (their own and their enterprises'), one licence with a QR code
//! leading to its public check page, the download, and the check page itself (status only, no contents).

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::login::current_session;
use super::{format_time, redirect, Ui};
use crate::domain::time::now;
use crate::http::api::ApiPath;
use crate::http::AppState;
use crate::licences::catalogue::LicenceType;
use crate::licences::Refusal;
use crate::licences::{access, verify};
use crate::storage::accounts::AccountRow;

/// The holder indexes a person sees: their own, then each enterprise they represent or act for.
async fn holders(state: &AppState, a: &AccountRow, t: i64) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![(a.name.clone(), a.id_number_index.clone())];
    for e in crate::identity::enterprises::actable_by(&state.identity, &a.id, t)
        .await
        .unwrap_or_default()
    {
        out.push((
            e.name,
            state
                .provider
                .keys
                .data()
                .blind_index(&format!("uscc:{}", e.uscc)),
        ));
    }
    out
}

/// The licence `id` if the signed-in person may see it (held by them or an enterprise of theirs): one
/// indexed membership check per holder index, and only that licence is unsealed.
async fn own_licence(
    state: &AppState,
    a: &AccountRow,
    id: &str,
    t: i64,
) -> Option<access::LicenceView> {
    let row = crate::licences::access::licence(&state.licences, id)
        .await
        .ok()
        .flatten()?;
    for (_, index) in holders(state, a, t).await {
        if crate::licences::access::holds(&state.licences, id, &index)
            .await
            .ok()?
        {
            return access::view(&state.licences, &row).await.ok();
        }
    }
    None
}

/// The licence's contents for a page: every claim but the envelope, values as text, each labelled with
/// its schema `title` when the type gives one (the field name otherwise).
fn fields(claims: &serde_json::Map<String, Value>, t: Option<&LicenceType>) -> Vec<Value> {
    claims
        .iter()
        .filter(|(k, _)| !crate::licences::catalogue::ENVELOPE.contains(&k.as_str()))
        .map(|(k, v)| {
            let label = t.and_then(|t| t.field_title(k)).unwrap_or(k);
            json!({ "name": k, "label": label, "value": v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()) })
        })
        .collect()
}

/// The licence type, for labels; a page still renders (with field names) if it cannot be read.
async fn type_of(state: &AppState, code: &str) -> Option<std::sync::Arc<LicenceType>> {
    crate::licences::lookup::licence_type(&state.licences, code)
        .await
        .ok()
        .flatten()
}

pub async fn list(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let t = now();
    let ui = Ui::new(&headers, &uri, None);
    let Some((_, a)) = current_session(&state, &headers, t).await else {
        return redirect("/login");
    };
    let mut groups = Vec::new();
    for (i, (name, index)) in holders(&state, &a, t).await.into_iter().enumerate() {
        let licences: Vec<Value> = match access::wallet(&state.licences, &index, None, 0).await {
            Ok(list) => list
                .iter()
                .map(|l| json!({ "id": l.id, "type_code": l.type_code, "type_name": l.type_name, "status": l.status, "issued": format_time(l.issued_at), "expires": l.expires_at.map(format_time) }))
                .collect(),
            Err(e) => return ui.failure(&state, e.refusal == Refusal::Unavailable),
        };
        groups.push(json!({ "index": i, "name": name, "licences": licences }));
    }
    ui.render(
        &state,
        "licences.html",
        StatusCode::OK,
        json!({ "groups": groups }),
    )
}

pub async fn view(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    ApiPath(id): ApiPath<String>,
) -> Response {
    let t = now();
    let ui = Ui::new(&headers, &uri, None);
    let Some((_, a)) = current_session(&state, &headers, t).await else {
        return redirect("/login");
    };
    let Some(l) = own_licence(&state, &a, &id, t).await else {
        return ui.error(&state, StatusCode::NOT_FOUND, "not_found", "");
    };
    // The holder's own licence, checked offline (no repository facts), on the CPU pool.
    let job = {
        let (state, licence) = (state.clone(), l.licence.clone());
        move || {
            verify::verify_with(
                &licence,
                state.licences.ca.root_der(),
                t,
                None,
                Some(&state.licences.verify_memo),
            )
        }
    };
    let Ok(report) = state.licences.cpu.run(job).await else {
        return ui.server_error(&state);
    };
    let claims = report.claims.clone().unwrap_or_default();
    let fields = fields(&claims, type_of(&state, &l.type_code).await.as_deref());
    let issuer = match crate::licences::access::licence(&state.licences, &l.id).await {
        Ok(Some(row)) => crate::licences::departments::department(&state.licences, &row.issuer_id)
            .await
            .ok()
            .flatten()
            .map(|d| d.name_zh)
            .unwrap_or_default(),
        _ => String::new(),
    };
    let check_url = format!("{}/licences/{}/check", state.issuer, l.id);
    // Rendered `|safe` in the template: only base64 characters after our own prefix.
    let qr = match qrcode::QrCode::new(check_url.as_bytes()) {
        Ok(code) => {
            let svg = code
                .render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .build();
            format!(
                "data:image/svg+xml;base64,{}",
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, svg)
            )
        }
        Err(_) => String::new(),
    };
    let ctx = json!({
        "id": l.id, "type_name": l.type_name.clone().unwrap_or(l.type_code.clone()), "status": l.status, "issuer": issuer,
        "issued": format_time(l.issued_at), "expires": l.expires_at.map(format_time),
        "holders": claims.get("holders").cloned().unwrap_or(json!([])), "fields": fields, "qr": qr,
    });
    ui.render(&state, "licence.html", StatusCode::OK, ctx)
}

pub async fn download(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Response {
    let t = now();
    let Some((_, a)) = current_session(&state, &headers, t).await else {
        return redirect("/login");
    };
    let Some(l) = own_licence(&state, &a, &id, t).await else {
        return (StatusCode::NOT_FOUND, "no such licence of yours").into_response();
    };
    let disposition = format!("attachment; filename=\"{}.sd-jwt\"", l.id);
    (
        [
            (header::CONTENT_TYPE, "application/dc+sd-jwt".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        l.licence,
    )
        .into_response()
}

/// The public check page a licence's QR code leads to: type, issuer, status and dates, nothing personal.
pub async fn check(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    ApiPath(id): ApiPath<String>,
) -> Response {
    let ui = Ui::new(&headers, &uri, None);
    let Ok(Some(row)) = crate::licences::access::licence(&state.licences, &id).await else {
        return ui.error(&state, StatusCode::NOT_FOUND, "not_found", "");
    };
    let t = crate::licences::lookup::licence_type(&state.licences, &row.type_code)
        .await
        .ok()
        .flatten();
    let issuer = crate::licences::departments::department(&state.licences, &row.issuer_id)
        .await
        .ok()
        .flatten();
    let status = access::status_name(row.status);
    let ctx = json!({
        "id": row.id,
        "type_name": t.map(|t| if ui.lang == "en" { t.name_en.clone() } else { t.name_zh.clone() }).unwrap_or(row.type_code.clone()),
        "issuer": issuer.map(|d| if ui.lang == "en" { d.name_en } else { d.name_zh }).unwrap_or_default(),
        "status": status, "issued": format_time(row.issued_at), "expires": row.expires_at.map(format_time),
    });
    ui.render(&state, "licence_check.html", StatusCode::OK, ctx)
}

/// `/shares/{token}`: a share opened in a browser: the licence with the chosen disclosures, verified.
pub async fn share(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    ApiPath(token): ApiPath<String>,
) -> Response {
    let t = now();
    let ui = Ui::new(&headers, &uri, None);
    let opened = match access::open_share(&state.licences, &token, t).await {
        Ok(v) => v,
        Err(e) if e.refusal == Refusal::Gone => {
            return ui.error(&state, StatusCode::GONE, "not_found", &e.detail)
        }
        Err(e) => return ui.failure(&state, e.refusal == Refusal::Unavailable),
    };
    let licence = opened["licence"].as_str().unwrap_or_default().to_owned();
    let report = match crate::licences::revocation::verify_online(&state.licences, licence, t).await
    {
        Ok((report, _)) => report,
        Err(_) => return ui.server_error(&state),
    };
    let claims = report.claims.clone().unwrap_or_default();
    let ty = match report.licence_id.as_deref() {
        Some(id) => match crate::licences::access::licence(&state.licences, id).await {
            Ok(Some(row)) => type_of(&state, &row.type_code).await,
            _ => None,
        },
        None => None,
    };
    let mut fields = fields(&claims, ty.as_deref());
    if let Some(h) = claims.get("holders").and_then(Value::as_array) {
        let names: Vec<String> = h
            .iter()
            .map(|x| {
                format!(
                    "{} {}",
                    x["name"].as_str().unwrap_or(""),
                    x["id"].as_str().unwrap_or("")
                )
            })
            .collect();
        fields.insert(0, json!({ "name": "holders", "value": names.join(", ") }));
    }
    let issuer = report.issuer.clone().unwrap_or_default();
    let verdict = serde_json::to_value(report.verdict)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let ctx = json!({
        "type_name": opened["type_name"], "verdict": verdict, "purpose": opened["purpose"],
        "expires": opened["expires_at"].as_i64().map(format_time), "id": report.licence_id, "issuer": issuer, "fields": fields,
    });
    ui.render(&state, "share.html", StatusCode::OK, ctx)
}
