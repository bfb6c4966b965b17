//! Authorization requests and codes that are refused.

use super::basic;
use crate::helpers::{auth_url, exchange, spawn_app, ClientSpec};

#[tokio::test]
async fn unregistered_redirect_uri_shows_an_error_page_and_does_not_redirect() {
    let app = spawn_app().await;
    let c = app.client(ClientSpec::default()).await;
    for bad in [
        "http://127.0.0.1:9/callback/evil",
        "http://127.0.0.1:9/callback?x=1",
        "http://evil.example/callback",
        "http://127.0.0.1:9/CALLBACK",
    ] {
        let url = format!(
            "{}/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid",
            app.addr,
            c.id,
            urlencode(bad)
        );
        let r = app.http().get(url).send().await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        assert!(
            r.headers().get("location").is_none(),
            "never redirect to an unregistered URI"
        );
        assert!(r.text().await.unwrap().contains("<html"));
    }
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn wrong_pkce_verifier_is_refused() {
    let app = spawn_app().await;
    let c = app.client(ClientSpec::default()).await;
    let (_, _, email) = app.citizen("周").await;
    let (url, _) = auth_url(&app, &c, "openid", &[]);
    let code = app.driver().authorize(&url, &email, "").await.code();
    let (s, e) = exchange(&app, &c, &code, &tongban::crypto::random_token()).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "{e}"
    );
}

#[tokio::test]
async fn a_reused_code_is_refused_and_revokes_what_it_issued() {
    let app = spawn_app().await;
    let c = app.client(ClientSpec::default()).await;
    let (_, _, email) = app.citizen("吴").await;
    let (url, v) = auth_url(&app, &c, "openid offline_access", &[]);
    let code = app.driver().authorize(&url, &email, "").await.code();
    let (s, first) = exchange(&app, &c, &code, &v).await;
    assert_eq!(s, 200);
    let (s, e) = exchange(&app, &c, &code, &v).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
    let (_, intro) = app
        .post_form(
            "/introspect",
            basic(&c),
            &[("token", first["access_token"].as_str().unwrap())],
        )
        .await;
    assert_eq!(
        intro["active"], false,
        "the first exchange's access token is revoked"
    );
    let (s, _) = app
        .post_form(
            "/token",
            basic(&c),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", first["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(s, 400, "and its refresh token");
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let app = spawn_app().await;
    let c = app.client(ClientSpec::default()).await;
    let (_, _, email) = app.citizen("郑").await;
    let (url, v) = auth_url(&app, &c, "openid", &[]);
    let code = app.driver().authorize(&url, &email, "").await.code();
    // Age the code past its 60-second life instead of waiting.
    sqlx::query("UPDATE auth_codes SET expires_at = expires_at - 61")
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let (s, e) = exchange(&app, &c, &code, &v).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "{e}"
    );
}

#[tokio::test]
async fn prompt_none_without_a_session_gives_login_required() {
    let app = spawn_app().await;
    let c = app.client(ClientSpec::default()).await;
    let (url, _) = auth_url(&app, &c, "openid", &[("prompt", "none")]);
    let landing = app.driver().get(&url).await;
    assert_eq!(
        landing.param("error").as_deref(),
        Some("login_required"),
        "{landing:?}"
    );
    assert_eq!(landing.param("state").as_deref(), Some("st-1"));
    assert_eq!(landing.param("iss").as_deref(), Some(app.addr.as_str()));
}
