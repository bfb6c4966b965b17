//! Single sign-on and back-channel logout seen by a real browser (headless Chromium via chromedriver)
//! and two relying-party web applications built on the `openidconnect` crate.

use std::time::Duration;

use crate::browser::Browser;
use crate::helpers::{spawn_app, PASSWORD};
use crate::portal::{BackchannelOutcome, Portal};

fn accepted(portal: &str, outcome: Option<BackchannelOutcome>) -> crate::portal::LogoutEvent {
    match outcome {
        Some(Ok(ev)) => ev,
        Some(Err(reason)) => panic!("portal {portal} refused the logout token: {reason}"),
        None => panic!("portal {portal} received no back-channel logout within 10 s"),
    }
}

#[tokio::test]
async fn single_sign_on_and_back_channel_logout_in_a_real_browser() {
    let app = spawn_app().await;
    let (_, _, email) = app.citizen("王五").await;
    let mut a = Portal::start(&app, "a").await;
    let mut b = Portal::start(&app, "b").await;
    let browser = Browser::start().await;
    eprintln!(
        "provider {}, portal A {}, portal B {}",
        app.addr, a.base, b.base
    );

    // 1. Portal A sends the browser to the provider, which asks for the password, then for consent.
    browser.goto(&a.base).await;
    browser.wait_id("password").await;
    let at = browser.url().await;
    assert!(
        at.as_str().starts_with(&app.addr) && at.path() == "/login",
        "A: expected the provider's login page, {at}"
    );
    browser.fill("username", &email).await;
    browser.fill("password", PASSWORD).await;
    browser.submit("login-submit").await;
    let (seen, _) = browser
        .wait_any(&["consent-allow", "who", "password"])
        .await;
    assert_eq!(
        seen,
        "consent-allow",
        "A: a first sign-in at a portal asks for consent; {}",
        browser.describe().await
    );
    browser.click("consent-allow").await;
    let who_a = browser.text_of("who").await;
    assert!(
        browser.url().await.as_str().starts_with(&a.base),
        "A: back at the portal"
    );
    let sessions_a = a.sessions();
    assert_eq!(sessions_a.len(), 1, "A: one portal session");
    assert_eq!(who_a, format!("Signed in as {}", sessions_a[0].sub));
    let sid_a = sessions_a[0]
        .sid
        .clone()
        .expect("A: the ID token carries sid");
    eprintln!("step 1 ok: portal A shows {who_a:?}");

    // 2. Portal B: single sign-on — consent for the new portal, but no password prompt.
    browser.goto(&b.base).await;
    let (seen, _) = browser
        .wait_any(&["consent-allow", "who", "password"])
        .await;
    assert_ne!(
        seen,
        "password",
        "B: single sign-on must not ask for the password again; {}",
        browser.describe().await
    );
    assert!(!browser.has_id("password").await);
    if seen == "consent-allow" {
        let at = browser.url().await;
        assert!(
            at.as_str().starts_with(&app.addr) && at.path() == "/consent",
            "B: consent at the provider, {at}"
        );
        eprintln!("step 2: consent page for portal B (no password prompt)");
        browser.click("consent-allow").await;
    }
    let who_b = browser.text_of("who").await;
    assert!(!browser.has_id("password").await);
    assert!(
        browser.url().await.as_str().starts_with(&b.base),
        "B: back at the portal"
    );
    let sessions_b = b.sessions();
    assert_eq!(sessions_b.len(), 1, "B: one portal session");
    assert_eq!(who_b, format!("Signed in as {}", sessions_b[0].sub));
    let sid_b = sessions_b[0]
        .sid
        .clone()
        .expect("B: the ID token carries sid");
    assert_ne!(
        sid_a, sid_b,
        "sid is per client, so portals cannot correlate sessions"
    );
    assert!(
        a.backchannel_pending().is_none() && b.backchannel_pending().is_none(),
        "no logout yet"
    );
    eprintln!("step 2 ok: portal B shows {who_b:?} without a password prompt");

    // 3. RP-initiated logout at B: a valid id_token_hint for the current session logs out at once.
    browser.click("logout").await;
    let (seen, _) = browser.wait_any(&["bye", "logout-confirm"]).await;
    if seen == "logout-confirm" {
        eprintln!("step 3: the provider asked to confirm the logout despite a valid id_token_hint");
        browser.click("logout-confirm").await;
    }
    browser.wait_id("bye").await;
    let at = browser.url().await;
    assert!(
        at.as_str().starts_with(&format!("{}/logged-out", b.base)),
        "B: post-logout redirect, {at}"
    );
    assert!(
        at.query_pairs().any(|(k, v)| k == "state" && v == "xyz"),
        "B: state is returned, {at}"
    );
    eprintln!("step 3 ok: portal B shows #bye at {at}");

    // 4. The provider told portal A over the back channel; A ended its session (B's too).
    let ev_a = accepted("A", a.next_backchannel(Duration::from_secs(10)).await);
    assert_eq!(
        ev_a.sid.as_deref(),
        Some(sid_a.as_str()),
        "A: the logout token names A's sid"
    );
    assert_eq!(
        ev_a.sub.as_deref(),
        Some(sessions_a[0].sub.as_str()),
        "A: the logout token names A's sub"
    );
    assert_eq!(ev_a.ended, 1, "A: the matching portal session ended");
    assert!(a.sessions().is_empty(), "A: no live portal session");
    let ev_b = accepted("B", b.next_backchannel(Duration::from_secs(10)).await);
    assert_eq!(
        ev_b.sid.as_deref(),
        Some(sid_b.as_str()),
        "B: the logout token names B's sid"
    );
    assert!(b.sessions().is_empty(), "B: no live portal session");
    assert_ne!(ev_a.jti, ev_b.jti, "each logout token has its own jti");
    eprintln!("step 4 ok: back-channel logout accepted by A ({ev_a:?}) and B ({ev_b:?})");

    // 5. A new sign-in at A asks for the password again.
    browser.goto(&a.base).await;
    let (seen, _) = browser
        .wait_any(&["password", "who", "consent-allow"])
        .await;
    assert_eq!(
        seen,
        "password",
        "A: after logout the provider asks for the password; {}",
        browser.describe().await
    );
    assert!(!browser.has_id("who").await);
    let at = browser.url().await;
    assert!(
        at.as_str().starts_with(&app.addr) && at.path() == "/login",
        "A: the provider's login page, {at}"
    );
    assert!(
        a.backchannel_pending().is_none() && b.backchannel_pending().is_none(),
        "exactly one logout token per portal"
    );
    eprintln!("step 5 ok: portal A sends the browser to the login page again");

    browser.close().await;
}
