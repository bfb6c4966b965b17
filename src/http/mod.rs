//! The only layer that knows axum: the route table, middleware (request ids, tracing, security headers,
//! body limit, the refusal of NUL), error mapping, extractors and the HTML pages.

pub mod admin;
pub mod api;
pub mod docs;
pub mod error;
pub mod extract;
mod nul;
pub mod oauth;
pub mod pages;
pub mod proofing;
pub mod ratelimit;
pub mod state;
pub mod transparency;
pub mod types;

pub use state::AppState;
mod stamp;
pub mod supervision;
pub mod tls;
pub mod wallet;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::Router;

use crate::oidc::discovery::paths;

/// The OpenAPI 3.1 description of `/api/v1`, served as written (a test keeps it equal to the routes).
pub const OPENAPI: &str = include_str!("../../openapi/tongban.yaml");

/// Declares the routes once: [`ROUTES`] lists them (the OpenAPI test compares the document with it)
/// and `routes()` mounts them, so the list cannot drift from the router.
macro_rules! routes {
    ($($path:expr => $($method:ident($handler:expr)),+;)*) => {
        /// Every route the router mounts: (method, path template).
        pub const ROUTES: &[(&str, &str)] = &[$($((stringify!($method), $path)),+),*];

        fn routes() -> Router<AppState> {
            Router::new()$(.route($path, MethodRouter::new()$(.$method($handler))+))*
        }
    };
}

routes! {
    paths::DISCOVERY => get(oauth::discovery);
    paths::AS_METADATA => get(oauth::discovery);
    paths::JWKS => get(oauth::jwks);
    "/licence-types/{code}" => get(types::type_metadata);
    paths::AUTHORIZE => get(pages::flow::authorize), post(pages::flow::authorize);
    paths::AUTHORIZE_RESUME => get(pages::flow::resume);
    paths::TOKEN => post(oauth::token);
    paths::USERINFO => get(oauth::userinfo), post(oauth::userinfo);
    paths::INTROSPECT => post(oauth::introspect);
    paths::REVOKE => post(oauth::revoke);
    paths::LOGOUT => get(pages::flow::logout), post(pages::flow::logout);
    "/login" => get(pages::login::login_page), post(pages::login::login_submit);
    "/login/factor" => get(pages::factors::page), post(pages::factors::submit);
    "/login/passkey/begin" => post(pages::passkeys::assert_begin);
    "/login/passkey" => post(pages::passkeys::sign_in);
    "/login/forgot" => get(pages::recovery::forgot_page), post(pages::recovery::forgot_submit);
    "/login/reset" => get(pages::recovery::reset_page), post(pages::recovery::reset_submit);
    "/register" => get(pages::login::register_page), post(pages::login::register_submit);
    "/select" => get(pages::flow::select_page), post(pages::flow::select_submit);
    "/consent" => get(pages::flow::consent_page), post(pages::flow::consent_submit);
    "/account" => get(pages::account::page);
    "/account/password" => post(pages::account::action);
    "/account/sessions/end" => post(pages::account::action);
    "/account/consents/withdraw" => post(pages::account::action);
    "/account/agents/grant" => post(pages::account::action);
    "/account/agents/revoke" => post(pages::account::action);
    "/account/logout-all" => post(pages::account::action);
    "/account/activate" => post(pages::account::action);
    "/account/email/send" => post(pages::account::action);
    "/account/email/verify" => get(pages::recovery::verify_page), post(pages::recovery::verify_submit);
    "/account/phone/send" => post(pages::account::action);
    "/account/phone/verify" => post(pages::account::action);
    "/account/factors/remove" => post(pages::account::action);
    "/account/totp/begin" => post(pages::factors::totp_begin);
    "/account/totp" => get(pages::factors::totp_page), post(pages::factors::totp_confirm);
    "/account/recovery-codes" => post(pages::factors::renew_codes);
    "/account/passkey/begin" => post(pages::passkeys::register_begin);
    "/account/passkey" => post(pages::passkeys::register_finish);
    "/account/licences" => get(pages::licences::list);
    "/account/access-log" => get(pages::access_log::page);
    "/supervision" => get(supervision::page);
    "/api/v1/supervision" => get(supervision::json);
    "/account/licences/{id}" => get(pages::licences::view);
    "/account/licences/{id}/shares" => post(pages::licences::create_share);
    "/account/licences/{id}/download" => get(pages::licences::download);
    "/licences/{id}/check" => get(pages::licences::check);
    "/shares/{token}" => get(pages::licences::share);
    "/api/v1/licences" => post(api::issue_licence), get(wallet::department_query);
    "/api/v1/me/licences" => get(wallet::my_licences);
    "/api/v1/me/licences/{id}/shares" => post(wallet::create_share);
    "/api/v1/me/shares/{id}" => delete(wallet::withdraw_share);
    "/api/v1/me/activation" => post(proofing::activate);
    "/api/v1/counter/proofings" => post(proofing::counter);
    "/api/v1/me/access-log" => get(wallet::my_access_log);
    "/api/v1/shares/{token}" => get(wallet::open_share);
    "/api/v1/licences/batch" => post(api::issue_batch);
    "/api/v1/licences/{id}/{action}" => post(api::change_status);
    "/api/v1/verify" => post(api::verify);
    "/api/v1/log/checkpoint" => get(transparency::checkpoint);
    "/api/v1/log/key" => get(transparency::key);
    "/api/v1/log/entries" => get(transparency::entries);
    "/api/v1/log/inclusion" => get(transparency::inclusion);
    "/api/v1/log/consistency" => get(transparency::consistency);
    "/api/v1/log/receipts/{id}" => get(transparency::receipt);
    "/api/v1/admin/departments" => get(admin::list_departments), post(admin::add_department);
    "/api/v1/admin/departments/{uscc}" => get(admin::get_department);
    "/api/v1/admin/departments/{uscc}/renew" => post(admin::renew_department);
    "/api/v1/admin/certificates/{serial}/revoke" => post(admin::revoke_certificate);
    "/api/v1/admin/licence-types" => get(admin::list_types), post(admin::add_type);
    "/api/v1/admin/licence-types/{code}" => get(admin::get_type);
    "/status-lists/{department}" => get(api::status_list);
    "/pki/root.pem" => get(api::root_pem);
    "/openapi.yaml" => get(openapi_document);
    "/docs" => get(docs::page);
    "/static/tongban.css" => get(pages::stylesheet);
    "/static/passkey.js" => get(pages::passkeys::script);
    "/" => get(home);
    "/healthz" => get(healthz);
    "/readyz" => get(readyz);
    "/metrics" => get(metrics);
}

pub fn app(state: AppState) -> Router {
    let max_body = state.config.max_body_bytes;
    routes()
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(stamp::StampLayer(state.clone()))
        .with_state(state)
}

async fn openapi_document() -> Response {
    ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI).into_response()
}

async fn home() -> Response {
    pages::redirect("/account")
}

async fn healthz() -> &'static str {
    "ok"
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
    m.deny_list_entries.set(state.provider.deny.len() as i64);
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
    let keys = state.provider.keys.current();
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
