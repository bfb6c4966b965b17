//! The only layer that knows axum: the route table, middleware (request ids, tracing, security headers,
//! body limit, the refusal of NUL), error mapping, extractors and the HTML pages.

pub mod admin;
pub mod api;
pub mod error;
pub mod extract;
pub mod log;
mod nul;
pub mod oauth;
pub mod pages;
pub mod ratelimit;
mod stamp;
pub mod supervision;
pub mod tls;
pub mod wallet;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::oidc::discovery::paths;
use crate::state::AppState;

/// The OpenAPI 3.1 description of `/api/v1`, served as written (a test keeps it equal to the routes).
pub const OPENAPI: &str = include_str!("../../openapi/tongban.yaml");

pub fn app(state: AppState) -> Router {
    let max_body = state.config.max_body_bytes;
    Router::new()
        .route(paths::DISCOVERY, get(oauth::discovery))
        .route(paths::AS_METADATA, get(oauth::discovery))
        .route(paths::JWKS, get(oauth::jwks))
        .route(
            paths::AUTHORIZE,
            get(pages::flow::authorize).post(pages::flow::authorize),
        )
        .route(paths::AUTHORIZE_RESUME, get(pages::flow::resume))
        .route(paths::TOKEN, post(oauth::token))
        .route(paths::USERINFO, get(oauth::userinfo).post(oauth::userinfo))
        .route(paths::INTROSPECT, post(oauth::introspect))
        .route(paths::REVOKE, post(oauth::revoke))
        .route(
            paths::LOGOUT,
            get(pages::flow::logout).post(pages::flow::logout),
        )
        .route(
            "/login",
            get(pages::login::login_page).post(pages::login::login_submit),
        )
        .route(
            "/register",
            get(pages::login::register_page).post(pages::login::register_submit),
        )
        .route(
            "/select",
            get(pages::flow::select_page).post(pages::flow::select_submit),
        )
        .route(
            "/consent",
            get(pages::flow::consent_page).post(pages::flow::consent_submit),
        )
        .route("/account", get(pages::account::page))
        .route("/account/password", post(pages::account::action))
        .route("/account/sessions/end", post(pages::account::action))
        .route("/account/consents/withdraw", post(pages::account::action))
        .route("/account/agents/grant", post(pages::account::action))
        .route("/account/agents/revoke", post(pages::account::action))
        .route("/account/logout-all", post(pages::account::action))
        .route("/account/licences", get(pages::licences::list))
        .route("/account/access-log", get(pages::access_log::page))
        .route("/supervision", get(supervision::page))
        .route("/api/v1/supervision", get(supervision::json))
        .route("/account/licences/{id}", get(pages::licences::view))
        .route(
            "/account/licences/{id}/download",
            get(pages::licences::download),
        )
        .route("/licences/{id}/check", get(pages::licences::check))
        .route("/shares/{token}", get(pages::licences::share))
        .route(
            "/api/v1/licences",
            post(api::issue_licence).get(wallet::department_query),
        )
        .route("/api/v1/me/licences", get(wallet::my_licences))
        .route(
            "/api/v1/me/licences/{id}/shares",
            post(wallet::create_share),
        )
        .route(
            "/api/v1/me/shares/{id}",
            axum::routing::delete(wallet::withdraw_share),
        )
        .route("/api/v1/me/access-log", get(wallet::my_access_log))
        .route("/api/v1/shares/{token}", get(wallet::open_share))
        .route("/api/v1/licences/batch", post(api::issue_batch))
        .route("/api/v1/licences/{id}/{action}", post(api::change_status))
        .route("/api/v1/verify", post(api::verify))
        .route("/api/v1/log/checkpoint", get(log::checkpoint))
        .route("/api/v1/log/key", get(log::key))
        .route("/api/v1/log/entries", get(log::entries))
        .route("/api/v1/log/inclusion", get(log::inclusion))
        .route("/api/v1/log/consistency", get(log::consistency))
        .route("/api/v1/log/receipts/{id}", get(log::receipt))
        .route(
            "/api/v1/admin/departments",
            get(admin::list_departments).post(admin::add_department),
        )
        .route(
            "/api/v1/admin/departments/{uscc}",
            get(admin::get_department),
        )
        .route(
            "/api/v1/admin/departments/{uscc}/renew",
            post(admin::renew_department),
        )
        .route(
            "/api/v1/admin/certificates/{serial}/revoke",
            post(admin::revoke_certificate),
        )
        .route(
            "/api/v1/admin/licence-types",
            get(admin::list_types).post(admin::add_type),
        )
        .route("/api/v1/admin/licence-types/{code}", get(admin::get_type))
        .route("/status-lists/{department}", get(api::status_list))
        .route("/pki/root.pem", get(api::root_pem))
        .route(
            "/openapi.yaml",
            get(|| async {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/yaml")],
                    OPENAPI,
                )
            }),
        )
        .route("/static/tongban.css", get(pages::stylesheet))
        .route("/", get(|| async { pages::redirect("/account") }))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(stamp::StampLayer(state.clone()))
        .with_state(state)
}

/// `GET /metrics`: the Prometheus exposition (OpenMetrics text). The gauges that describe state are
/// read now.
async fn metrics(State(state): State<AppState>) -> Response {
    let m = &state.metrics;
    let pool = &state.db.pool;
    m.db_connections.set(i64::from(pool.size()));
    m.db_idle_connections.set(pool.num_idle() as i64);
    m.db_max_connections
        .set(i64::from(pool.options().get_max_connections()));
    m.deny_list_entries.set(state.deny.len() as i64);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        m.encode(),
    )
        .into_response()
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.draining.load(std::sync::atomic::Ordering::Relaxed) {
        return unavailable("shutting down");
    }
    let keys = state.keys.current();
    if crate::crypto::keys::SigningAlg::ALL
        .iter()
        .any(|alg| keys.active(*alg).is_none())
    {
        return unavailable("signing keys not loaded");
    }
    // Not `SELECT 1`: a database recreated empty answers that while every call fails.
    match state.db.schema_current().await {
        Ok(true) => (StatusCode::OK, "ready").into_response(),
        Ok(false) => {
            tracing::warn!("not ready: the database's schema is not this binary's");
            unavailable("database schema not current")
        }
        Err(e) => {
            tracing::warn!(error = %e, "not ready: database unreachable");
            unavailable("database unreachable")
        }
    }
}

/// A 503 for `/readyz`, with the reason as plain text and `Retry-After`.
fn unavailable(why: &'static str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, error::RETRY_AFTER_SECS)],
        why,
    )
        .into_response()
}

async fn method_not_allowed() -> Response {
    error::ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        "this resource does not support that method",
    )
    .into_response()
}

async fn not_found() -> Response {
    error::ApiError::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        "no such resource",
    )
    .into_response()
}
