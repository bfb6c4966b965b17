//! Second factors over HTTP, with the pages as a person walks them (no JavaScript) and the
//! `openidconnect` crate as the relying party: setting up an authenticator app (TOTP, RFC 6238)
//! with its recovery codes; a password alone opening nothing once a factor is set up; step-up of a
//! live session to the level a portal asks for (the second-factor prompt, not a password prompt);
//! ID tokens and introspection saying what happened; codes and recovery codes good once; wrong
//! codes throttled; removing a factor needing a fresh code. (The browser walk is in `browser`.)

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthenticationContextClass, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, TokenResponse,
};
use serde_json::json;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::helpers::{
    auth_url, claims, exchange, spawn_app, ClientSpec, Driver, Landing, TestApp, TestClient,
    PASSWORD,
};

const LOA1: &str = "urn:tongban:loa:1";
const LOA2: &str = "urn:tongban:loa:2";
const LOA3: &str = "urn:tongban:loa:3";

/// The text of the element with `id` (`<x id="ID" ...>TEXT<`).
fn text_of(html: &str, id: &str) -> String {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let rest = &html[at..];
    let start = rest.find('>').unwrap() + 1;
    rest[start..start + rest[start..].find('<').unwrap()]
        .trim()
        .to_owned()
}

/// The recovery codes a page lists.
fn recovery_codes(html: &str) -> Vec<String> {
    let list = &html[html.find("id=\"recovery-codes\"").expect("codes listed")..];
    let list = &list[..list.find("</ol>").unwrap()];
    list.split("<code class=\"code\">")
        .skip(1)
        .map(|c| c[..c.find('<').unwrap()].to_owned())
        .collect()
}

/// The code an app with key `secret` (base32) shows `ahead` steps from now.
pub fn totp_code(secret: &str, ahead: i64) -> String {
    let key = Secret::Encoded(secret.to_owned()).to_bytes().unwrap();
    let t = TOTP::new(Algorithm::SHA1, 6, 1, 30, key, None, "x".into()).unwrap();
    let now = tongban::domain::time::now() + 30 * ahead;
    t.generate(u64::try_from(now).unwrap())
}

/// Go on from where a second factor left the flow (consent, if asked) to the portal.
pub async fn on(d: &Driver, l: Landing) -> Landing {
    match &l {
        Landing::Page(p, 200, html) if p == "/consent" || p == "/select" => {
            d.authorize_from(html, p, "").await
        }
        _ => l,
    }
}

pub fn page(l: &Landing) -> (&str, u16, &str) {
    match l {
        Landing::Page(p, s, h) => (p.as_str(), *s, h.as_str()),
        other => panic!("expected one of our pages, got {other:?}"),
    }
}

/// Sign in at /login (no portal) and land on the account page.
pub async fn sign_in(app: &TestApp, email: &str) -> Driver {
    let d = app.driver();
    let Landing::Page(_, 200, html) = d.get("/login").await else {
        panic!("login page")
    };
    let l = d
        .submit(
            "/login",
            &html,
            &[("username", email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(page(&l).0, "/account", "{l:?}");
    d
}

/// A new browser that signed in with the password and stands at the second-factor prompt;
/// returns it with that page.
async fn password_only(app: &TestApp, email: &str) -> (Driver, String) {
    let d = app.driver();
    let Landing::Page(_, 200, html) = d.get("/login").await else {
        panic!("login page")
    };
    let l = d
        .submit(
            "/login",
            &html,
            &[("username", email), ("password", PASSWORD)],
        )
        .await;
    let (path, _, factor_page) = page(&l);
    assert_eq!(path, "/login/factor");
    let factor_page = factor_page.to_owned();
    (d, factor_page)
}

/// Set up an authenticator app from the account page; returns (its key, the recovery codes).
pub async fn enrol(d: &Driver) -> (String, Vec<String>) {
    let Landing::Page(_, 200, account) = d.get("/account").await else {
        panic!("account page")
    };
    let l = d.submit("/account/totp/begin", &account, &[]).await;
    let (path, status, html) = page(&l);
    assert_eq!((path, status), ("/account/totp", 200), "{html}");
    assert!(html.contains("data:image/svg+xml;base64,"), "a QR code");
    let secret = text_of(html, "totp-secret");
    // A wrong code leaves the key unconfirmed.
    let l = d.submit("/account/totp", html, &[("code", "000000")]).await;
    assert_eq!(page(&l).1, 401);
    let l = d
        .submit("/account/totp", html, &[("code", &totp_code(&secret, 0))])
        .await;
    let (_, status, html) = page(&l);
    assert_eq!(status, 200, "{html}");
    let codes = recovery_codes(html);
    assert_eq!(codes.len(), 10, "ten recovery codes");
    (secret, codes)
}

/// An `openidconnect` client of `c` at `app`.
async fn rp(
    app: &TestApp,
    c: &TestClient,
    http: &reqwest::Client,
) -> openidconnect::core::CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
> {
    let meta =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.addr.clone()).unwrap(), http)
            .await
            .expect("discovery");
    CoreClient::from_provider_metadata(
        meta,
        ClientId::new(c.id.clone()),
        c.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(c.redirect_uri.clone()).unwrap())
}

#[tokio::test]
async fn an_authenticator_app_guards_sign_in_and_steps_sessions_up() {
    let app = spawn_app().await;
    let portal = app
        .client(ClientSpec {
            scopes: vec!["openid"],
            ..Default::default()
        })
        .await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let client = rp(&app, &portal, &http).await;
    let ask = |level: &str, d: Driver| {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, _, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_auth_context_value(AuthenticationContextClass::new(level.to_owned()))
            .set_pkce_challenge(challenge)
            .url();
        (d, url.to_string(), verifier, nonce)
    };

    // A claimed identity (self-registered): it can reach loa 2 with a second factor, never loa 3.
    let (_, _, email) = app
        .citizen_with("赵二级", &crate::helpers::resident_id(), None)
        .await;

    // Without a second factor, loa 2 cannot be reached: the error, never a lower acr.
    let (d, url, _, _) = ask(LOA2, app.driver());
    let landing = d.authorize(&url, &email, "").await;
    assert_eq!(
        landing.param("error").as_deref(),
        Some("unmet_authentication_requirements"),
        "{landing:?}"
    );

    // Signed in with the password (loa 1), the person sets up an app on the account page.
    let d = sign_in(&app, &email).await;
    let (secret, codes) = enrol(&d).await;
    let Landing::Page(_, 200, account) = d.get("/account").await else {
        panic!("account page")
    };
    assert!(account.contains("id=\"factors\""), "the app is listed");
    assert!(text_of(&account, "recovery-left").contains("10"));

    // prompt=none cannot step up: login_required, never a lower acr.
    let (url, _) = auth_url(
        &app,
        &portal,
        "openid",
        &[("acr_values", LOA2), ("prompt", "none")],
    );
    let landing = d.get(&url).await;
    assert_eq!(landing.param("error").as_deref(), Some("login_required"));
    assert_eq!(
        page(&d.get("/account").await).0,
        "/account",
        "still signed in at loa 1"
    );
    assert!(LOA1.ends_with('1'));

    // The live loa-1 session asked for loa 2 gets the second-factor prompt, not the password.
    let (d, url, verifier, nonce) = ask(LOA2, d);
    let l = d.get(&url).await;
    let (path, status, html) = page(&l);
    assert_eq!((path, status), ("/login/factor", 200), "{html}");
    assert!(!html.contains("name=\"password\""), "no password prompt");
    let l = d.submit("/login/factor", html, &[("code", "123456")]).await;
    let (_, status, html) = page(&l);
    assert_eq!(status, 401, "a wrong code");
    let code = totp_code(&secret, 1);
    let l = on(
        &d,
        d.submit("/login/factor", html, &[("code", &code)]).await,
    )
    .await;
    let tokens = client
        .exchange_code(AuthorizationCode::new(l.code()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("token exchange");
    let verifier_ = client.id_token_verifier();
    let idt = tokens
        .id_token()
        .unwrap()
        .claims(&verifier_, &nonce)
        .expect("ID token validates");
    assert_eq!(idt.auth_context_ref().map(|a| a.as_str()), Some(LOA2));
    let amr: Vec<String> = idt
        .auth_method_refs()
        .unwrap()
        .iter()
        .map(|m| m.as_str().to_owned())
        .collect();
    assert_eq!(amr, ["pwd", "otp", "mfa"]);
    // Introspection says the same.
    let access = tokens.access_token().secret().clone();
    let (s, intro) = app
        .post_form(
            "/introspect",
            Some((&portal.id, portal.secret.as_deref().unwrap())),
            &[("token", &access)],
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(intro["acr"], LOA2, "{intro}");
    assert_eq!(intro["amr"], json!(["pwd", "otp", "mfa"]));

    // loa 3 needs a proven identity: unmet for this account, whatever its factors.
    let (d, url, _, _) = ask(LOA3, d);
    let landing = d.authorize(&url, &email, "").await;
    assert_eq!(
        landing.param("error").as_deref(),
        Some("unmet_authentication_requirements")
    );

    // A new browser: the password alone opens nothing (no session until the second factor).
    let (d2, factor_page) = password_only(&app, &email).await;
    assert_eq!(
        page(&d2.get("/account").await).0,
        "/login",
        "no session yet"
    );
    // The code already used is dead (replay), even at another browser.
    let l = d2
        .submit("/login/factor", &factor_page, &[("code", &code)])
        .await;
    assert_eq!(page(&l).1, 401, "a TOTP code is good once");
    // A recovery code signs in (two factors), once.
    let l = d2
        .submit(
            "/login/factor",
            &factor_page,
            &[("code", &codes[0].to_lowercase())],
        )
        .await;
    let (path, _, account) = page(&l);
    assert_eq!(path, "/account");
    assert!(text_of(account, "session-level").contains("二级"), "loa 2");
    assert!(text_of(account, "recovery-left").contains('9'));
    let (d3, factor_page) = password_only(&app, &email).await;
    let l = d3
        .submit("/login/factor", &factor_page, &[("code", &codes[0])])
        .await;
    assert_eq!(page(&l).1, 401, "a recovery code is good once");

    // A portal asking for loa 2 in a fresh browser: password, then the prompt; the ID token says so.
    let (url, v) = auth_url(&app, &portal, "openid", &[("acr_values", LOA2)]);
    let d4 = app.driver();
    let l = d4.authorize(&url, &email, "").await;
    let (path, _, html) = page(&l);
    assert_eq!(path, "/login/factor");
    let l = on(
        &d4,
        d4.submit("/login/factor", html, &[("code", &codes[1])])
            .await,
    )
    .await;
    let (_, tokens) = exchange(&app, &portal, &l.code(), &v).await;
    let idt = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(idt["acr"], LOA2);
    assert_eq!(idt["amr"], json!(["pwd", "otp", "mfa"]));

    // Removing the app needs a fresh code; then a password is enough again (loa 1).
    let Landing::Page(_, 200, account) = d2.get("/account").await else {
        panic!("account page")
    };
    let factor_id = crate::helpers::form_value(&account, "factor_id").unwrap();
    let l = d2
        .submit(
            "/account/factors/remove",
            &account,
            &[("factor_id", &factor_id), ("code", "999999")],
        )
        .await;
    assert_eq!(page(&l).1, 400, "refused without a good code");
    let l = d2
        .submit(
            "/account/factors/remove",
            &account,
            &[("factor_id", &factor_id), ("code", &codes[2])],
        )
        .await;
    let (path, _, account) = page(&l);
    assert_eq!(path, "/account");
    assert!(!account.contains("id=\"factors\""), "{account}");
    let d5 = sign_in(&app, &email).await;
    let Landing::Page(_, 200, account) = d5.get("/account").await else {
        panic!("account page")
    };
    assert!(text_of(&account, "session-level").contains("一级"));

    // Every step is in the audit log.
    let events = audit_actions(&app).await;
    for a in ["factor.added", "session.stepped_up", "factor.removed"] {
        assert!(events.iter().any(|e| e == a), "{a} audited: {events:?}");
    }
}

async fn audit_actions(app: &TestApp) -> Vec<String> {
    let rows: Vec<(String,)> = sqlx::query_as("SELECT action FROM audit_events ORDER BY id")
        .fetch_all(&app.state.identity.db.pool)
        .await
        .unwrap();
    rows.into_iter().map(|(a,)| a).collect()
}

#[tokio::test]
async fn a_proven_identity_with_a_second_factor_reaches_loa_3_and_wrong_codes_are_throttled() {
    let app = spawn_app().await;
    let portal = app
        .client(ClientSpec {
            scopes: vec!["openid"],
            ..Default::default()
        })
        .await;
    let (_, _, email) = app.citizen("钱三级").await;
    let d = sign_in(&app, &email).await;
    let (_, codes) = enrol(&d).await;

    let (url, v) = auth_url(&app, &portal, "openid", &[("acr_values", LOA3)]);
    let l = d.get(&url).await;
    let (path, _, html) = page(&l);
    assert_eq!(path, "/login/factor", "step-up from loa 1");
    let l = on(
        &d,
        d.submit("/login/factor", html, &[("code", &codes[0])])
            .await,
    )
    .await;
    let (_, tokens) = exchange(&app, &portal, &l.code(), &v).await;
    let idt = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(idt["acr"], LOA3, "two factors and a proven identity");
    // Wrong codes in a row are throttled like passwords; then even a good code waits.
    let (fresh, factor_page) = password_only(&app, &email).await;
    let limit = app.state.config.login_max_failures;
    let mut statuses = vec![];
    for _ in 0..limit {
        let l = fresh
            .submit("/login/factor", &factor_page, &[("code", "000000")])
            .await;
        statuses.push(page(&l).1);
    }
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    let l = fresh
        .submit("/login/factor", &factor_page, &[("code", &codes[1])])
        .await;
    assert_eq!(page(&l).1, 429, "throttled, even with a good code");
}

/// Adding a factor needs a fresh sign-in that used the factors already there: a password-only
/// session left open in another browser (a cookie a thief could hold) may not add one.
#[tokio::test]
async fn a_factor_is_added_only_from_a_sign_in_with_the_factors_there_are() {
    let app = spawn_app().await;
    let (_, _, email) = app.citizen("韩新因子").await;
    let old = sign_in(&app, &email).await;
    let new = sign_in(&app, &email).await;
    enrol(&new).await;
    let Landing::Page(_, 200, account) = old.get("/account").await else {
        panic!("account page")
    };
    let l = old.submit("/account/totp/begin", &account, &[]).await;
    let (_, status, html) = page(&l);
    assert_eq!(status, 403, "{html}");
    let csrf = crate::helpers::form_value(&account, "csrf").unwrap();
    let r = old
        .http
        .post(format!("{}/account/passkey/begin", app.addr))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let p: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        p["type"],
        "https://tongban.example/problems/factor_fresh_sign_in"
    );
}
