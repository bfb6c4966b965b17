//! Malformed requests, form posts without CSRF, and password guessing.

use serde_json::Value;

use crate::helpers::{auth_url, spawn_app, ClientSpec, Landing, PASSWORD};

#[tokio::test]
async fn malformed_requests_get_a_4xx_with_an_oauth_body() {
    let app = spawn_app().await;
    let c = app.client(ClientSpec::default()).await;
    let url = format!("{}/token", app.addr);
    let (id, secret) = (c.id.as_str(), c.secret.clone().unwrap());
    let send = |body: Vec<u8>, ct: &'static str| {
        app.http()
            .post(&url)
            .basic_auth(id, Some(&secret))
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let form = "application/x-www-form-urlencoded";
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("missing grant_type", b"code=x".to_vec(), form),
        (
            "repeated parameter",
            b"grant_type=authorization_code&code=a&code=b".to_vec(),
            form,
        ),
        (
            "invalid UTF-8",
            b"grant_type=authorization_code&code=%FF%FE".to_vec(),
            form,
        ),
        (
            "raw invalid UTF-8",
            b"grant_type=authorization_code&code=\xff".to_vec(),
            form,
        ),
        (
            "wrong content type",
            br#"{"grant_type":"client_credentials"}"#.to_vec(),
            "application/json",
        ),
        (
            "oversized body",
            format!("grant_type=authorization_code&code={}", "a".repeat(100_000)).into_bytes(),
            form,
        ),
        (
            "unknown grant type",
            b"grant_type=password&username=a&password=b".to_vec(),
            form,
        ),
    ];
    for (what, body, ct) in cases {
        let r = send(body, ct).await.unwrap();
        let status = r.status().as_u16();
        assert!((400..500).contains(&status), "{what}: {status}");
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!(
            v["error"].is_string() && v["error_description"].is_string(),
            "{what}: {v}"
        );
    }
    // Repeated parameter at the authorization endpoint, after the redirect URI is known good: redirected error.
    let (u, _) = auth_url(&app, &c, "openid", &[("scope", "openid")]);
    let landing = app.driver().get(&u).await;
    assert_eq!(
        landing.param("error").as_deref(),
        Some("invalid_request"),
        "{landing:?}"
    );
    // Plain PKCE is not accepted.
    let (u, _) = auth_url(&app, &c, "openid", &[]);
    let u = u.replace("code_challenge_method=S256", "code_challenge_method=plain");
    assert_eq!(
        app.driver().get(&u).await.param("error").as_deref(),
        Some("invalid_request")
    );
}

#[tokio::test]
async fn form_posts_without_csrf_are_refused() {
    let app = spawn_app().await;
    let (_, _, email) = app.citizen("冯").await;
    let d = app.driver();
    let Landing::Page(_, 200, _) = d.get("/login").await else {
        panic!()
    };
    for form in [
        vec![("username", email.as_str()), ("password", PASSWORD)],
        vec![
            ("username", email.as_str()),
            ("password", PASSWORD),
            ("csrf", "forged"),
        ],
    ] {
        let r = d
            .http
            .post(format!("{}/login", app.addr))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        assert!(r
            .headers()
            .get("set-cookie")
            .is_none_or(|c| !c.to_str().unwrap().contains("tongban_session")));
    }
}

#[tokio::test]
async fn the_eleventh_wrong_password_in_a_row_is_throttled() {
    let app = spawn_app().await;
    let (_, _, email) = app.citizen("陈").await;
    let d = app.driver();
    let Landing::Page(_, 200, mut page) = d.get("/login").await else {
        panic!()
    };
    for i in 1..=10 {
        let Landing::Page(_, status, html) = d
            .submit(
                "/login",
                &page,
                &[("username", &email), ("password", "Wrong-password-1")],
            )
            .await
        else {
            panic!()
        };
        assert_eq!(status, 401, "attempt {i} is checked");
        page = html;
    }
    let Landing::Page(_, status, _) = d
        .submit(
            "/login",
            &page,
            &[("username", &email), ("password", PASSWORD)],
        )
        .await
    else {
        panic!()
    };
    assert_eq!(
        status, 429,
        "the 11th attempt is throttled, even with the right password"
    );
    // An unknown account is throttled the same way (no enumeration through throttling).
    for _ in 0..10 {
        d.submit(
            "/login",
            &page,
            &[("username", "nobody@example.cn"), ("password", "x")],
        )
        .await;
    }
    let Landing::Page(_, status, _) = d
        .submit(
            "/login",
            &page,
            &[("username", "nobody@example.cn"), ("password", "x")],
        )
        .await
    else {
        panic!()
    };
    assert_eq!(status, 429);
}
