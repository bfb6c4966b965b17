//! Passkeys (WebAuthn), driven in headless Chromium with the WebDriver virtual authenticator — the
//! browser's own WebAuthn client and a CTAP2 authenticator, not calls into the server: adding a
//! passkey on the account page, a passwordless sign-in at a portal (an `openidconnect` relying
//! party) whose ID token says two factors (`hwk user mfa`) at loa 3, a passkey as the second factor
//! after a password, and removing it with a fresh passkey check. Over plain HTTP: the ceremony's
//! refusals, and an issuer on an IP address offering no passkeys.

use serde_json::Value;

use crate::browser::Browser;
use crate::helpers::{claims, form_value, spawn_app, spawn_localhost_app, Driver, PASSWORD};
use crate::portal::Portal;

/// POST a form as the page's script would; (status, body).
async fn post(d: &Driver, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let r = d
        .http
        .post(format!("{}{path}", d.base))
        .form(fields)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn sign_out_everywhere(browser: &Browser, base: &str) {
    browser.goto(&format!("{base}/account")).await;
    browser.submit("logout-all").await;
    browser.wait_id("password").await;
}

#[tokio::test]
async fn passkey_registration_passwordless_login_second_factor_and_removal_in_a_real_browser() {
    let app = spawn_localhost_app().await;
    let (_, _, email) = app.citizen("钱通行").await;
    let mut portal = Portal::start(&app, "pk").await;
    let browser = Browser::start().await;
    let authenticator = browser.add_virtual_authenticator().await;

    // Password, then "Add a passkey": the browser creates a discoverable credential; as the first
    // factor it brings the recovery codes.
    browser.goto(&format!("{}/login", app.addr)).await;
    browser.fill("username", &email).await;
    browser.fill("password", PASSWORD).await;
    browser.submit("login-submit").await;
    browser.click("passkey-add").await;
    let codes = browser.text_of("recovery-codes").await;
    assert_eq!(codes.split_whitespace().count(), 10, "{codes}");
    let held = browser.authenticator_credentials(&authenticator).await;
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(
        held[0]["isResidentCredential"],
        Value::Bool(true),
        "discoverable"
    );
    assert_eq!(held[0]["rpId"], "localhost");
    browser.submit("recovery-done").await;
    let factors = browser.text_of("factors").await;
    assert!(
        factors.contains("Passkey") || factors.contains("通行密钥"),
        "{factors}"
    );
    sign_out_everywhere(&browser, &app.addr).await;

    // A portal sends the browser to sign in: no password, the passkey alone (user verified).
    browser.goto(&portal.base).await;
    browser.wait_id("passkey-login").await;
    browser.click("passkey-login").await;
    let (seen, _) = browser.wait_any(&["consent-allow", "who"]).await;
    if seen == "consent-allow" {
        browser.click("consent-allow").await;
    }
    browser.wait_id("who").await;
    let sessions = portal.sessions();
    assert_eq!(sessions.len(), 1);
    let idt = claims(&sessions[0].id_token);
    assert_eq!(idt["acr"], "urn:tongban:loa:3", "{idt}");
    assert_eq!(
        idt["amr"],
        serde_json::json!(["hwk", "user", "mfa"]),
        "{idt}"
    );
    assert!(portal.backchannel_pending().is_none());
    sign_out_everywhere(&browser, &app.addr).await;

    // Password: a passkey is now a second factor, and the prompt offers it.
    browser.fill("username", &email).await;
    browser.fill("password", PASSWORD).await;
    browser.submit("login-submit").await;
    browser.wait_id("factor-passkey").await;
    assert_eq!(browser.url().await.path(), "/login/factor");
    browser.click("factor-passkey").await;
    let level = browser.text_of("session-level").await;
    assert!(
        level.contains('3'),
        "two factors and a proven identity: {level}"
    );

    // Removing the passkey takes a fresh passkey check (no code typed).
    browser.click("remove-passkey-1").await;
    browser.wait_id("totp-begin").await;
    assert!(!browser.has_id("factors").await, "no factor left");
    browser.close().await;
}

#[tokio::test]
async fn passkey_ceremonies_refuse_forgeries_and_an_ip_issuer_offers_none() {
    let app = spawn_localhost_app().await;
    let d = app.driver();
    let crate::helpers::Landing::Page(_, 200, login) = d.get("/login").await else {
        panic!("login page")
    };
    assert!(
        login.contains("id=\"passkey-login\""),
        "offered on a domain"
    );
    let csrf = form_value(&login, "csrf").unwrap();

    // Without the page's CSRF token: refused.
    let (status, _) = post(&d, "/login/passkey/begin", &[("mode", "discover")]).await;
    assert_eq!(status, 403);
    // With it: the options for the browser, the relying party our host.
    let (status, begun) = post(
        &d,
        "/login/passkey/begin",
        &[("mode", "discover"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 200, "{begun}");
    let begun: Value = serde_json::from_str(&begun).unwrap();
    assert_eq!(begun["publicKey"]["rpId"], "localhost");
    assert_eq!(begun["publicKey"]["userVerification"], "required");
    let ceremony = begun["ceremony"].as_str().unwrap().to_owned();
    // A made-up answer: refused, no session; the ceremony is spent either way.
    let forged = serde_json::json!({
        "id": "AAAA", "rawId": "AAAA", "type": "public-key",
        "response": { "authenticatorData": "AAAA", "clientDataJSON": "AAAA", "signature": "AAAA" },
    })
    .to_string();
    for _ in 0..2 {
        let (status, _) = post(
            &d,
            "/login/passkey",
            &[
                ("csrf", &csrf),
                ("ceremony", &ceremony),
                ("credential", &forged),
            ],
        )
        .await;
        assert_eq!(status, 401);
    }
    let crate::helpers::Landing::Page(path, ..) = d.get("/account").await else {
        panic!("account page")
    };
    assert_eq!(path, "/login", "no session");
    // No sign-in waiting and no session: nothing to assert against.
    let (status, _) = post(&d, "/login/passkey/begin", &[("csrf", &csrf)]).await;
    assert_eq!(status, 401);

    // An issuer on an IP address: WebAuthn has no relying party for it.
    let ip = spawn_app().await;
    for (server, methods) in [
        (&ip, serde_json::json!(["pwd", "otp", "mfa"])),
        (
            &app,
            serde_json::json!(["pwd", "otp", "hwk", "swk", "user", "mfa"]),
        ),
    ] {
        let url = format!("{}/.well-known/openid-configuration", server.addr);
        let meta: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
        assert_eq!(meta["amr_values_supported"], methods);
    }
    let d = ip.driver();
    let crate::helpers::Landing::Page(_, 200, login) = d.get("/login").await else {
        panic!("login page")
    };
    assert!(!login.contains("passkey-login"));
    let csrf = form_value(&login, "csrf").unwrap();
    let (status, body) = post(
        &d,
        "/login/passkey/begin",
        &[("mode", "discover"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("passkeys_unavailable"), "{body}");
}
