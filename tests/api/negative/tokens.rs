//! Refresh tokens reused, and access tokens expired, tampered with or foreign.

use serde_json::{json, Value};
use tongban::crypto::keys::SigningAlg;

use super::{basic, tokens};
use crate::helpers::{spawn_app, ClientSpec};

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
