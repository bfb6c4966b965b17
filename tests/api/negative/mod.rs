//! Negative cases of issue 2, one test each: every refusal is a 4xx with an RFC 6749 body (or an error
//! page where redirecting would be unsafe), never a 500.
//!
//! - `codes`: authorization requests and codes (redirect URIs, PKCE, reuse, expiry, `prompt=none`);
//! - `clients`: client authentication (secrets, `private_key_jwt` assertions, replays, removal);
//! - `tokens`: refresh-token reuse, and expired, tampered and foreign tokens;
//! - `requests`: malformed requests, form posts without CSRF, password throttling.

mod clients;
mod codes;
mod requests;
mod tokens;

use serde_json::Value;

use crate::helpers::{auth_url, exchange, TestApp, TestClient};

/// A signed-in citizen's tokens from a full code flow.
async fn tokens(app: &TestApp, c: &TestClient) -> Value {
    let (_, _, email) = app.citizen("孙测试").await;
    let (url, v) = auth_url(app, c, "openid profile offline_access", &[]);
    let (s, t) = exchange(
        app,
        c,
        &app.driver().authorize(&url, &email, "").await.code(),
        &v,
    )
    .await;
    assert_eq!(s, 200, "{t}");
    t
}

fn basic(c: &TestClient) -> Option<(&str, &str)> {
    Some((c.id.as_str(), c.secret.as_deref().unwrap_or("")))
}
