//! Negative cases of issue 2, one test each: every refusal is a 4xx with an RFC 6749 body (or an error
//! page where redirecting would be unsafe), never a 500.

use serde_json::{json, Value};
use tongban::crypto::keys::SigningAlg;
use tongban::oidc::clients::{AuthMethod, GrantType};

use crate::helpers::{
    auth_url, exchange, spawn_app, ClientSpec, Landing, TestApp, TestClient, PASSWORD,
};

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
async fn a_wrong_client_secret_is_refused() {
    let app = spawn_app().await;
    let c = app
        .client(ClientSpec {
            grant_types: vec![GrantType::ClientCredentials],
            redirect_uris: vec![],
            scopes: vec!["licences:verify"],
            ..Default::default()
        })
        .await;
    let (s, e) = app
        .post_form(
            "/token",
            Some((&c.id, "not-the-secret")),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_client")));
    let (s, _) = app
        .post_form(
            "/token",
            Some(("nobody", "x")),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(s, 401);
    let (s, ok) = app
        .post_form("/token", basic(&c), &[("grant_type", "client_credentials")])
        .await;
    assert_eq!((s, ok["scope"].as_str()), (200, Some("licences:verify")));
}

fn assertion(signer_jwk: &josekit::jwk::Jwk, client_id: &str, aud: &str, jti: &str) -> String {
    let mut header = josekit::jws::JwsHeader::new();
    header.set_token_type("JWT");
    header.set_key_id(signer_jwk.key_id().unwrap_or("k1"));
    let mut p = josekit::jwt::JwtPayload::new();
    p.set_issuer(client_id);
    p.set_subject(client_id);
    p.set_audience(vec![aud]);
    p.set_jwt_id(jti);
    p.set_issued_at(&std::time::SystemTime::now());
    p.set_expires_at(&(std::time::SystemTime::now() + std::time::Duration::from_secs(60)));
    let signer = josekit::jws::ES256.signer_from_jwk(signer_jwk).unwrap();
    josekit::jwt::encode_with_signer(&p, &header, &signer).unwrap()
}

/// A private_key_jwt client with one ES256 key (`k1`), and that key's private half.
async fn key_client(app: &TestApp) -> (josekit::jwk::Jwk, TestClient) {
    let pair = josekit::jws::ES256.generate_key_pair().unwrap();
    let mut real = pair.to_jwk_private_key();
    real.set_key_id("k1");
    let mut public = pair.to_jwk_public_key();
    public.set_key_id("k1");
    let c = app
        .client(ClientSpec {
            grant_types: vec![GrantType::ClientCredentials],
            redirect_uris: vec![],
            scopes: vec!["licences:query"],
            auth_method: AuthMethod::PrivateKeyJwt,
            jwks: Some(json!({ "keys": [serde_json::to_value(public.as_ref()).unwrap()] })),
            ..Default::default()
        })
        .await;
    (real, c)
}

#[tokio::test]
async fn private_key_jwt_accepts_the_registered_key_and_refuses_a_forged_assertion() {
    let app = spawn_app().await;
    let (real, c) = key_client(&app).await;
    let aud = format!("{}/token", app.addr);
    let jt = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    let good = assertion(&real, &c.id, &aud, "j1");
    let (s, ok) = app
        .post_form(
            "/token",
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", jt),
                ("client_assertion", &good),
            ],
        )
        .await;
    assert_eq!(s, 200, "{ok}");
    let (s, e) = app
        .post_form(
            "/token",
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", jt),
                ("client_assertion", &good),
            ],
        )
        .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (401, Some("invalid_client")),
        "a replayed assertion is refused"
    );

    let mut forger = josekit::jws::ES256
        .generate_key_pair()
        .unwrap()
        .to_jwk_private_key();
    forger.set_key_id("k1");
    let forged = assertion(&forger, &c.id, &aud, "j2");
    let (s, e) = app
        .post_form(
            "/token",
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", jt),
                ("client_assertion", &forged),
            ],
        )
        .await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_client")));
    let wrong_aud = assertion(&real, &c.id, "http://elsewhere.example/token", "j3");
    let (s, _) = app
        .post_form(
            "/token",
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", jt),
                ("client_assertion", &wrong_aud),
            ],
        )
        .await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn refresh_token_reuse_revokes_the_family() {
    let app = spawn_app().await;
    let c = app.client(ClientSpec::default()).await;
    let t = tokens(&app, &c).await;
    let rt = t["refresh_token"].as_str().unwrap();
    let (s, t2) = app
        .post_form(
            "/token",
            basic(&c),
            &[("grant_type", "refresh_token"), ("refresh_token", rt)],
        )
        .await;
    assert_eq!(s, 200);
    let (s, e) = app
        .post_form(
            "/token",
            basic(&c),
            &[("grant_type", "refresh_token"), ("refresh_token", rt)],
        )
        .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "a spent refresh token is refused"
    );
    let (s, _) = app
        .post_form(
            "/token",
            basic(&c),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", t2["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(s, 400, "the newest token of the family is revoked too");
    for at in [&t["access_token"], &t2["access_token"]] {
        let (_, intro) = app
            .post_form("/introspect", basic(&c), &[("token", at.as_str().unwrap())])
            .await;
        assert_eq!(intro["active"], false);
    }
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

#[tokio::test]
async fn expired_tampered_and_foreign_tokens_are_refused_at_userinfo_and_introspection() {
    let app = spawn_app().await;
    let c = app.client(ClientSpec::default()).await;
    let t = tokens(&app, &c).await;
    let good = t["access_token"].as_str().unwrap().to_owned();
    let mut claims = crate::helpers::claims(&good);

    claims["exp"] = json!(tongban::domain::time::now() - 5);
    let expired = tongban::crypto::jwt::sign(
        &app.state.provider.keys.current(),
        SigningAlg::ES256,
        "at+jwt",
        &claims,
    )
    .unwrap();
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    let mut forged_claims = crate::helpers::claims(&good);
    forged_claims["scope"] = json!("openid profile id_number");
    parts[1] = tongban::crypto::b64url(forged_claims.to_string());
    let tampered = parts.join(".");
    let header = crate::helpers::claims(&format!("x.{}.x", good.split('.').next().unwrap()));
    let mut foreign_key = josekit::jws::ES256
        .generate_key_pair()
        .unwrap()
        .to_jwk_private_key();
    foreign_key.set_key_id(header["kid"].as_str().unwrap());
    let mut h = josekit::jws::JwsHeader::new();
    h.set_token_type("at+jwt");
    h.set_key_id(header["kid"].as_str().unwrap());
    let payload = josekit::jwt::JwtPayload::from_map(
        crate::helpers::claims(&good).as_object().unwrap().clone(),
    )
    .unwrap();
    let foreign = josekit::jwt::encode_with_signer(
        &payload,
        &h,
        &josekit::jws::ES256.signer_from_jwk(&foreign_key).unwrap(),
    )
    .unwrap();

    for (what, token) in [
        ("expired", expired),
        ("tampered", tampered),
        ("wrongly signed", foreign),
        ("garbage", "abc.def".into()),
    ] {
        let r = app
            .http()
            .get(format!("{}/userinfo", app.addr))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{what}");
        assert!(
            r.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_token"),
            "{what}"
        );
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "invalid_token", "{what}");
        let (s, intro) = app
            .post_form("/introspect", basic(&c), &[("token", &token)])
            .await;
        assert_eq!((s, intro["active"].as_bool()), (200, Some(false)), "{what}");
    }
    let r = app
        .http()
        .get(format!("{}/userinfo", app.addr))
        .bearer_auth(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the untouched token still works");
}

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

/// The spent `jti`s are in the database: a replay is refused at another node (or a restarted one,
/// which starts with empty memory just the same), on SQLite and PostgreSQL alike.
#[tokio::test]
async fn a_client_assertion_replayed_at_another_node_is_refused() {
    let app = spawn_app().await;
    let (real, c) = key_client(&app).await;
    let good = assertion(&real, &c.id, &format!("{}/token", app.addr), "once");
    let form = [
        ("grant_type", "client_credentials"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", good.as_str()),
    ];
    let (s, ok) = app.post_form("/token", None, &form).await;
    assert_eq!(s, 200, "{ok}");
    let other = app.another_node().await;
    let r = app
        .http()
        .post(format!("{}/token", other.base))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"], "invalid_client", "{e}");
    assert!(
        e["error_description"]
            .as_str()
            .unwrap()
            .contains("already used"),
        "{e}"
    );
}

/// Removing a client revokes everything it holds at once: its access tokens introspect inactive
/// and are refused at userinfo, its refresh tokens are refused, and it cannot authenticate again,
/// though this node had it cached. Removed by the CLI (another process), the node sees it at its
/// next deny-list refresh (`cluster::refresh_deny`, every 2 s; at once on PostgreSQL's notice).
#[tokio::test]
async fn removing_a_client_revokes_its_tokens_and_its_cached_registration() {
    let app = spawn_app().await;
    let resource = app.client(ClientSpec::default()).await;
    for by_cli in [false, true] {
        let c = app.client(ClientSpec::default()).await;
        let t = tokens(&app, &c).await;
        let (system, cc_token) = app.system(vec!["licences:verify"]).await;
        let access = t["access_token"].as_str().unwrap();
        for (who, at) in [(&c, access), (&system, cc_token.as_str())] {
            let (_, intro) = app
                .post_form("/introspect", basic(&resource), &[("token", at)])
                .await;
            assert_eq!(intro["active"], true, "{}", who.id);
        }
        for id in [&c.id, &system.id] {
            if by_cli {
                let (ok, _, err) = app.cli(&["client", "remove", id]).await;
                assert!(ok, "{err}");
            } else {
                assert!(tongban::oidc::clients::remove(
                    &app.state.provider,
                    id,
                    tongban::domain::time::now()
                )
                .await
                .unwrap());
            }
        }
        if by_cli {
            tongban::cluster::refresh_deny(&app.state.licences).await;
        }
        for at in [access, cc_token.as_str()] {
            let (_, intro) = app
                .post_form("/introspect", basic(&resource), &[("token", at)])
                .await;
            assert_eq!(intro["active"], false, "cli: {by_cli}");
            let r = app
                .http()
                .get(format!("{}/userinfo", app.addr))
                .bearer_auth(at)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 401, "cli: {by_cli}");
        }
        let (s, e) = app
            .post_form(
                "/token",
                basic(&c),
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", t["refresh_token"].as_str().unwrap()),
                ],
            )
            .await;
        assert_eq!(
            (s, e["error"].as_str()),
            (401, Some("invalid_client")),
            "cli: {by_cli}"
        );
        let (s, e) = app
            .post_form(
                "/token",
                basic(&system),
                &[("grant_type", "client_credentials")],
            )
            .await;
        assert_eq!(
            (s, e["error"].as_str()),
            (401, Some("invalid_client")),
            "cli: {by_cli}"
        );
        let grants: (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM grants WHERE client_id = $1 AND revoked_at IS NULL",
        )
        .bind(&c.id)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
        assert_eq!(grants.0, 0, "its grants are revoked");
    }
}
