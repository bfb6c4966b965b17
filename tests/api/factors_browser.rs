//! Second factors in a real browser (headless Chromium through chromedriver), as a person uses
//! them: set up an authenticator app from the account page (the key read off the page, as a
//! person types it into an app), sign in with password and a code, then with a recovery code
//! once, and be refused the same recovery code a second time.

use crate::browser::Browser;
use crate::factors::totp_code;
use crate::helpers::{spawn_app, PASSWORD};

async fn password(browser: &Browser, base: &str, email: &str) {
    browser.goto(&format!("{base}/login")).await;
    browser.fill("username", email).await;
    browser.fill("password", PASSWORD).await;
    browser.submit("login-submit").await;
}

async fn sign_out_everywhere(browser: &Browser) {
    browser.submit("logout-all").await;
    browser.wait_id("password").await;
}

#[tokio::test]
async fn totp_enrolment_code_login_and_recovery_codes_in_a_real_browser() {
    let app = spawn_app().await;
    let (_, _, email) = app.citizen("周浏览").await;
    let browser = Browser::start().await;

    // Password only, then set up an app.
    password(&browser, &app.addr, &email).await;
    browser.wait_id("totp-begin").await;
    browser.submit("totp-begin").await;
    let secret = browser.text_of("totp-secret").await;
    assert!(browser.has_id("totp-qr").await, "a QR code to scan");
    browser.fill("code", &totp_code(&secret, 0)).await;
    browser.submit("totp-confirm").await;
    let codes: Vec<String> = browser
        .text_of("recovery-codes")
        .await
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    assert_eq!(codes.len(), 10, "{codes:?}");
    browser.submit("recovery-done").await;
    assert!(browser.has_id("factors").await, "the app is listed");
    sign_out_everywhere(&browser).await;

    // Password, then the code the app shows.
    password(&browser, &app.addr, &email).await;
    browser.wait_id("factor-submit").await;
    assert_eq!(browser.url().await.path(), "/login/factor");
    browser.fill("code", &totp_code(&secret, 1)).await;
    browser.submit("factor-submit").await;
    let level = browser.text_of("session-level").await;
    assert!(
        level.contains("3"),
        "a proven identity with two factors: {level}"
    );
    sign_out_everywhere(&browser).await;

    // Password, then a recovery code: once.
    for attempt in 0..2 {
        password(&browser, &app.addr, &email).await;
        browser.wait_id("factor-submit").await;
        browser.fill("code", &codes[0]).await;
        browser.submit("factor-submit").await;
        if attempt == 0 {
            let level = browser.text_of("session-level").await;
            assert!(
                level.contains("3"),
                "a proven identity with two factors: {level}"
            );
            let left = browser.text_of("recovery-left").await;
            assert!(left.contains('9'), "{left}");
            sign_out_everywhere(&browser).await;
        } else {
            let refused = browser.text_of("form-error").await;
            assert!(!refused.is_empty(), "a used recovery code is refused");
            assert_eq!(browser.url().await.path(), "/login/factor");
        }
    }
    browser.close().await;
}
