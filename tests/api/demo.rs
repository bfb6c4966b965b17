//! `tongban demo`: the story of the README's first command, walked end to end in a real browser
//! (headless Chromium) on the demo world, and the command itself run as a newcomer would.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::AsyncBufReadExt;
use tongban::demo::{self, DemoOptions};

use crate::browser::Browser;

/// Where the browser is, as a string.
async fn at(browser: &Browser) -> String {
    browser.url().await.to_string()
}

#[tokio::test]
async fn the_demo_story_in_a_real_browser() {
    let tmp = tempfile::tempdir().unwrap();
    let demo = demo::start(DemoOptions {
        port: 0,
        dir: tmp.path().join("demo-data"),
    })
    .await
    .expect("the demo starts");
    let w = &demo.world;
    let (user, password) = (&w.citizen.username, &w.citizen.password);
    let text = demo.instructions();
    for needle in [
        &demo.provider_url,
        &demo.housing_url,
        &demo.tax_url,
        user,
        password,
        &w.enterprise.name,
    ] {
        assert!(text.contains(needle.as_str()), "{needle} in {text}");
    }
    eprintln!("{text}");

    // The world: the business licence is the enterprise's, the marriage certificate both spouses'.
    assert_eq!(w.licences.len(), 2);
    let http = reqwest::Client::new();
    for (l, holders) in w.licences.iter().zip([1, 2]) {
        let report: Value = http
            .post(format!("{}/api/v1/verify", demo.provider_url))
            .json(&json!({ "licence": l.licence }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(report["verdict"], "valid", "{report}");
        assert_eq!(
            report["claims"]["holders"].as_array().map(Vec::len),
            Some(holders)
        );
    }
    assert_eq!(w.licences[0].type_code, w.business_licence_type);
    assert_eq!(w.licences[1].type_code, w.marriage_certificate_type);

    let browser = Browser::start().await;
    let act_for = format!("act-{}", w.enterprise.uscc);

    // 1. The housing-fund portal: sign in with tongban, act for the enterprise, consent to the
    //    business licence; the portal shows it, read from the repository and verified.
    browser.goto(&demo.housing_url).await;
    browser.wait_id("signed-out").await;
    browser.click("login").await;
    browser.wait_id("password").await;
    assert!(
        at(&browser)
            .await
            .starts_with(&format!("{}/login", demo.provider_url)),
        "the provider's login page"
    );
    browser.fill("username", user).await;
    browser.fill("password", password).await;
    browser.click("login-submit").await;
    browser.click(&act_for).await;
    browser
        .wait_id(&format!("licence-type-{}", w.business_licence_type))
        .await;
    assert!(
        !browser
            .has_id(&format!("licence-type-{}", w.marriage_certificate_type))
            .await,
        "the consent names exactly the business licence"
    );
    browser.click("consent-allow").await;
    assert_eq!(browser.text_of("who").await, "张三");
    assert!(at(&browser).await.starts_with(&demo.housing_url));
    assert!(browser
        .text_of("acting-for")
        .await
        .contains("福州示范有限公司"));
    assert!(
        browser
            .text_of("licence-verdict")
            .await
            .contains("真实有效"),
        "{}",
        browser.describe().await
    );
    assert_eq!(
        browser.text_of("licence-field-company_name").await,
        "福州示范有限公司"
    );
    assert_eq!(
        browser.text_of("licence-field-legal_representative").await,
        "张三"
    );
    assert_eq!(browser.text_of("licence-id").await, w.licences[0].id);
    assert!(browser
        .text_of("licence-holder")
        .await
        .contains(&w.enterprise.uscc));
    eprintln!("step 1 ok: the housing-fund portal shows the verified business licence");

    // 2. The tax portal: single sign-on (no password), act for the enterprise.
    browser.goto(&demo.tax_url).await;
    browser.wait_id("signed-out").await;
    browser.click("login").await;
    let (seen, _) = browser.wait_any(&[act_for.as_str(), "password"]).await;
    assert_eq!(
        seen,
        act_for,
        "single sign-on: no password at the second portal; {}",
        browser.describe().await
    );
    browser.click(&act_for).await;
    let (seen, _) = browser.wait_any(&["consent-allow", "acting-for"]).await;
    if seen == "consent-allow" {
        browser.click("consent-allow").await;
        // The click starts a redirect chain back to the portal: wait for its page, not the URL of
        // whatever page is current the instant after the click.
        browser.wait_id("acting-for").await;
    }
    assert!(at(&browser).await.starts_with(&demo.tax_url));
    assert_eq!(browser.text_of("who").await, "张三");
    assert!(browser
        .text_of("acting-for")
        .await
        .contains("福州示范有限公司"));
    assert_eq!(browser.text_of("org-uscc").await, w.enterprise.uscc);
    assert!(browser.text_of("agent-role").await.contains("法定代表人"));
    eprintln!("step 2 ok: the tax portal shows her acting for the enterprise");

    // 3. Sign out at the tax portal: the provider ends the session and tells both portals over
    //    the back channel before it sends the browser back.
    browser.click("logout").await;
    browser.wait_id("logged-out-notice").await;
    assert!(at(&browser)
        .await
        .starts_with(&format!("{}/logged-out", demo.tax_url)));
    browser.goto(&demo.tax_url).await;
    browser.wait_id("signed-out").await;
    assert!(!browser.has_id("who").await);

    // 4. The housing-fund portal shows her signed out too.
    browser.goto(&demo.housing_url).await;
    browser.wait_id("signed-out").await;
    assert!(
        !browser.has_id("who").await,
        "signed out at the other portal"
    );
    eprintln!("step 3 ok: signing out at one portal signed her out of both");

    // 5. Signing in again asks for the password: the provider's session ended too.
    browser.click("login").await;
    let (seen, _) = browser
        .wait_any(&["password", act_for.as_str(), "who"])
        .await;
    assert_eq!(seen, "password", "{}", browser.describe().await);
    browser.close().await;
}

/// The README's first command, as a newcomer runs it: the binary prints the steps and the demo
/// account, serves, and stops cleanly on SIGTERM.
#[tokio::test]
async fn the_demo_command_prints_where_to_click_and_stops_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tongban"))
        .args(["demo", "--port", "0", "--dir", "demo-data"])
        .current_dir(tmp.path())
        .env("TONGBAN_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run tongban demo");
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut printed = String::new();
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            printed.push_str(&line);
            printed.push('\n');
            if line.contains("Ctrl-C") {
                return;
            }
        }
        panic!("tongban demo ended before printing its steps: {printed}");
    };
    tokio::time::timeout(Duration::from_secs(120), read)
        .await
        .expect("the demo printed its steps within 2 minutes");
    for needle in [
        "1. Open http://127.0.0.1:",
        "zhang.san@example.cn",
        demo::world::PASSWORD,
        "福州示范有限公司",
    ] {
        assert!(printed.contains(needle), "{needle} in {printed}");
    }
    // The portal it names answers.
    let housing = printed
        .lines()
        .find(|l| l.contains("housing-fund portal"))
        .and_then(|l| l.split_whitespace().last())
        .unwrap()
        .to_owned();
    let page = reqwest::get(&housing).await.unwrap().text().await.unwrap();
    assert!(page.contains("id=\"login\""), "{page}");
    assert!(tmp.path().join("demo-data/tongban.db").exists());

    let pid = child.id().unwrap().to_string();
    let term = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(term.success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the demo stops within 30 s of SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
}
