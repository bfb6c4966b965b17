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
use crate::licences::LicenceError;
use crate::licences::{access, holdings, shares};

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

pub async fn list(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let t = now();
    let ui = Ui::new(&headers, &uri, None);
    let Some((_, a)) = current_session(&state, &headers, t).await else {
        return redirect("/login");
    };
    let overview = match holdings::overview(&state.licences, &a, t).await {
        Ok(o) => o,
        Err(e) => return ui.failure(&state, matches!(e, LicenceError::Unavailable)),
    };
    let groups: Vec<Value> = overview
        .iter()
        .enumerate()
        .map(|(i, (h, list))| {
            let licences: Vec<Value> = list
                .iter()
                .map(|l| json!({ "id": l.id, "type_code": l.type_code, "type_name": l.type_name, "status": l.status, "issued": format_time(l.issued_at), "expires": l.expires_at.map(format_time) }))
                .collect();
            json!({ "index": i, "name": h.name, "licences": licences })
        })
        .collect();
    ui.render(
        &state,
        "licences.html",
        StatusCode::OK,
        json!({ "groups": groups, "not_proven": !holdings::proven(&a) }),
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
    render_licence(&state, &ui, &a, &id, None, StatusCode::OK).await
}

/// One licence's page, with the share form (and `error`, the refusal of a share just asked for).
async fn render_licence(
    state: &AppState,
    ui: &Ui,
    a: &crate::storage::accounts::AccountRow,
    id: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let t = now();
    if !holdings::proven(a) {
        return ui.error(state, StatusCode::FORBIDDEN, "identity_not_proven", "");
    }
    let page = match holdings::licence_page(&state.licences, a, id, t).await {
        Ok(Some(p)) => p,
        Ok(None) => return ui.error(state, StatusCode::NOT_FOUND, "not_found", ""),
        Err(_) => return ui.server_error(state),
    };
    let (l, issuer) = (&page.view, &page.issuer_name);
    let claims = page.report.claims.clone().unwrap_or_default();
    let lt = page.licence_type.as_deref();
    let fields = fields(&claims, lt);
    let qr = qr_data_uri(&format!("{}/licences/{}/check", state.issuer, l.id));
    let disclosable: Vec<Value> = lt
        .map(|t| {
            t.disclosable
                .iter()
                .map(|f| json!({ "name": f, "label": t.field_title(f).unwrap_or(f) }))
                .collect()
        })
        .unwrap_or_default();
    // An enterprise's licence is shared acting for the enterprise.
    let as_uscc = claims
        .get("holders")
        .and_then(Value::as_array)
        .and_then(|h| h.iter().find(|h| h["kind"] == "enterprise"))
        .and_then(|h| h["id"].as_str().map(str::to_owned));
    let ctx = json!({
        "id": l.id, "type_name": l.type_name.clone().unwrap_or(l.type_code.clone()), "status": l.status, "issuer": issuer,
        "issued": format_time(l.issued_at), "expires": l.expires_at.map(format_time),
        "holders": claims.get("holders").cloned().unwrap_or(json!([])), "fields": fields, "qr": qr,
        "disclosable": disclosable, "as_uscc": as_uscc, "error": error,
    });
    ui.render(state, "licence.html", status, ctx)
}

/// `POST /account/licences/{id}/shares`: a share of the licence revealing the fields ticked, for
/// the purpose given, for the time chosen; then its link and QR code, shown once.
pub async fn create_share(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    ApiPath(id): ApiPath<String>,
    crate::http::extract::OAuthParams(p): crate::http::extract::OAuthParams,
) -> Response {
    let t = now();
    let ui = Ui::new(&headers, &uri, None);
    let Some((session, a)) = current_session(&state, &headers, t).await else {
        return redirect("/login");
    };
    if !ui.csrf_ok(&state, p.one("csrf").ok().flatten()) {
        return ui.csrf_failed(&state);
    }
    let disclose: Vec<String> = p.all("disclose").into_iter().map(str::to_owned).collect();
    let purpose = super::login::field(&p, "purpose");
    let ttl = super::login::field(&p, "expires_in")
        .parse::<i64>()
        .unwrap_or(0);
    let as_uscc = Some(super::login::field(&p, "as")).filter(|s| !s.is_empty());
    let need = crate::identity::enterprises::Permission::LicencesShare;
    let level = crate::oidc::assurance::level(&session.acr).unwrap_or(1);
    let created = match holdings::holder_of(&state.licences, &a, as_uscc, need, t).await {
        Ok(holder) => {
            let new = shares::NewShare {
                licence_id: &id,
                disclose: &disclose,
                purpose,
                ttl,
            };
            shares::create_share(&state.licences, &a.id, &holder, level, new, t).await
        }
        Err(e) => Err(e),
    };
    let share = match created {
        Ok(s) => s,
        Err(e) => {
            let (status, key) = match e {
                LicenceError::SecondFactorNeeded(_) => {
                    (StatusCode::FORBIDDEN, "share_needs_second_factor")
                }
                LicenceError::Purpose | LicenceError::ShareLifetime => {
                    (StatusCode::BAD_REQUEST, "share_purpose_missing")
                }
                LicenceError::NotPermitted(_) | LicenceError::NotActable => {
                    (StatusCode::FORBIDDEN, "share_not_permitted")
                }
                LicenceError::NotProven => (StatusCode::FORBIDDEN, "identity_not_proven"),
                LicenceError::NotYours => {
                    return ui.error(&state, StatusCode::NOT_FOUND, "not_found", "")
                }
                e => return ui.failure(&state, matches!(e, LicenceError::Unavailable)),
            };
            return render_licence(&state, &ui, &a, &id, Some(key), status).await;
        }
    };
    let page = format!("{}/shares/{}", state.issuer, share.token);
    // The fields' titles, from the type the identifier names (a cached read, no second check of
    // the licence).
    let lt = match crate::licences::id::LicenceId::parse(&id) {
        Ok(lid) => crate::licences::lookup::licence_type(&state.licences, lid.type_code().as_str())
            .await
            .ok()
            .flatten(),
        Err(_) => None,
    };
    let revealed: Vec<&str> = disclose
        .iter()
        .map(|f| lt.as_deref().and_then(|t| t.field_title(f)).unwrap_or(f))
        .collect();
    let ctx = json!({
        "id": id, "page": page, "qr": qr_data_uri(&page), "purpose": purpose.trim(),
        "expires": format_time(share.expires_at), "revealed": revealed,
    });
    super::no_store(ui.render(&state, "share_created.html", StatusCode::CREATED, ctx))
}

/// The QR code of `url` as an SVG data URI. Rendered `|safe` in the template: only base64
/// characters after our own prefix.
pub(super) fn qr_data_uri(url: &str) -> String {
    let Ok(code) = qrcode::QrCode::new(url.as_bytes()) else {
        return String::new();
    };
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    format!(
        "data:image/svg+xml;base64,{}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, svg)
    )
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
    let Some(l) = holdings::own_licence(&state.licences, &a, &id, t).await else {
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
    let c = match holdings::public_check(&state.licences, &id).await {
        Ok(Some(c)) => c,
        Ok(None) => return ui.error(&state, StatusCode::NOT_FOUND, "not_found", ""),
        Err(e) => return ui.failure(&state, matches!(e, LicenceError::Unavailable)),
    };
    let (row, t, issuer) = (&c.row, c.licence_type.as_deref(), c.issuer.as_ref());
    let status = access::status_name(row.status);
    let ctx = json!({
        "id": row.id,
        "type_name": t.map(|t| if ui.lang == "en" { t.name_en.clone() } else { t.name_zh.clone() }).unwrap_or(row.type_code.clone()),
        "issuer": issuer.map(|d| if ui.lang == "en" { d.name_en.clone() } else { d.name_zh.clone() }).unwrap_or_default(),
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
    let shared = match shares::view_share(&state.licences, &token, t).await {
        Ok(v) => v,
        Err(e @ LicenceError::ShareGone) => {
            return ui.error(&state, StatusCode::GONE, "not_found", &e.to_string())
        }
        Err(e) => return ui.failure(&state, matches!(e, LicenceError::Unavailable)),
    };
    let (opened, report) = (&shared.opened, &shared.report);
    let claims = report.claims.clone().unwrap_or_default();
    let mut fields = fields(&claims, shared.licence_type.as_deref());
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
        "type_name": opened.type_name, "verdict": verdict, "purpose": opened.purpose,
        "expires": format_time(opened.expires_at), "id": report.licence_id, "issuer": issuer, "fields": fields,
    });
    ui.render(&state, "share.html", StatusCode::OK, ctx)
}
