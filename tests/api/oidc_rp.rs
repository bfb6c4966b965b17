//! The `openidconnect` crate as a relying party: code flow with PKCE for an ES256 and an RS256 client,
//! ID token validation, userinfo, refresh, introspection (active, then inactive after revocation).

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IntrospectionUrl,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope,
    TokenIntrospectionResponse, TokenResponse,
};
use tongban::crypto::keys::SigningAlg;

use crate::helpers::{spawn_app, ClientSpec};

async fn code_flow(alg: SigningAlg) {
    let app = spawn_app().await;
    let c = app
        .client(ClientSpec {
            alg,
            ..Default::default()
        })
        .await;
    let (_, _, email) = app.citizen("张三").await;
    let http = reqwest::ClientBuilder::new()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let meta =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.addr.clone()).unwrap(), &http)
            .await
            .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(c.id.clone()),
        c.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(c.redirect_uri.clone()).unwrap())
    .set_introspection_url(IntrospectionUrl::new(format!("{}/introspect", app.addr)).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();

    let landing = app.driver().authorize(url.as_str(), &email, "").await;
    assert_eq!(
        landing.param("state").as_deref(),
        Some(csrf.secret().as_str())
    );
    assert_eq!(
        landing.param("iss").as_deref(),
        Some(app.addr.as_str()),
        "RFC 9207 iss"
    );

    let tokens = client
        .exchange_code(AuthorizationCode::new(landing.code()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("token exchange");
    let id_token = tokens.id_token().expect("id token");
    let alg_name = match alg {
        SigningAlg::ES256 => CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        SigningAlg::RS256 => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    };
    let idv = client.id_token_verifier().set_allowed_algs(vec![alg_name]);
    let claims = id_token.claims(&idv, &nonce).expect("ID token validates");
    assert_eq!(
        claims.name().and_then(|n| n.get(None)).map(|n| n.as_str()),
        Some("张三")
    );
    let expected = claims.access_token_hash().expect("at_hash");
    let actual = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&idv).unwrap(),
    )
    .unwrap();
    assert_eq!(*expected, actual);
    assert!(claims.auth_time().is_some());

    let info: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.subject(), claims.subject());
    assert_eq!(info.email().map(|e| e.as_str()), Some(email.as_str()));

    let refreshed = client
        .exchange_refresh_token(tokens.refresh_token().expect("refresh token"))
        .unwrap()
        .request_async(&http)
        .await
        .expect("refresh");
    assert_ne!(
        refreshed.refresh_token().unwrap().secret(),
        tokens.refresh_token().unwrap().secret(),
        "rotated"
    );

    let at = refreshed.access_token().clone();
    let intro = client
        .introspect(&at)
        .request_async(&http)
        .await
        .expect("introspect");
    assert!(intro.active());
    // RFC 7009 revocation by a plain POST: the openidconnect crate refuses revocation URLs that are not
    // https (InsecureUrl), and the test server speaks plain HTTP on loopback.
    let r = http
        .post(format!("{}/revoke", app.addr))
        .basic_auth(&c.id, c.secret.as_deref())
        .form(&[
            ("token", at.secret().as_str()),
            ("token_type_hint", "access_token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let intro = client
        .introspect(&at)
        .request_async(&http)
        .await
        .expect("introspect");
    assert!(!intro.active(), "revoked token is inactive");
    let err: Result<CoreUserInfoClaims, _> = client
        .user_info(at, None)
        .unwrap()
        .request_async(&http)
        .await;
    assert!(err.is_err(), "userinfo refuses a revoked token");
}

#[tokio::test]
async fn code_flow_es256_client() {
    code_flow(SigningAlg::ES256).await;
}

#[tokio::test]
async fn code_flow_rs256_client() {
    code_flow(SigningAlg::RS256).await;
}
