//! Client authentication that is refused; a removed client loses what it held.

use serde_json::{json, Value};
use tongban::oidc::clients::{AuthMethod, GrantType};

use super::{basic, tokens};
use crate::helpers::{spawn_app, ClientSpec, TestApp, TestClient};

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
