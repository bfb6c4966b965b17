//! Sharing from the web, in a real browser (headless Chromium): the holder opens a licence, ticks
//! two of its three disclosable fields, says what for and picks a lifetime; the page gives a link and
//! a QR code; the verifier opening the link sees the two fields, verified, and not the third.

use serde_json::json;

use crate::browser::Browser;
use crate::helpers::PASSWORD;
use crate::licences::{world, MARKET_REGULATOR};

#[tokio::test]
async fn a_citizen_shares_two_fields_from_the_licence_page_and_a_verifier_opens_the_share() {
    let w = world().await;
    let app = &w.app;
    let code = app
        .licence_type(json!({
            "code": format!("{MARKET_REGULATOR}009"),
            "name_zh": "机动车驾驶证", "name_en": "Driving licence",
            "holder_kinds": ["citizen"],
            "schema": {
                "type": "object", "required": ["class", "number", "address"], "additionalProperties": false,
                "properties": {
                    "class": { "type": "string", "title": "准驾车型" },
                    "number": { "type": "string", "title": "证号" },
                    "address": { "type": "string", "title": "住址" }
                }
            },
            "disclosable": ["class", "number", "address"],
            "issuers": [MARKET_REGULATOR],
            "second_factor_to_share": false
        }))
        .await;
    let (_, id_number, email) = app.citizen("卫分享").await;
    let req = json!({
        "type_code": code,
        "holders": [{ "kind": "citizen", "id": id_number, "name": "卫分享" }],
        "fields": { "class": "C1", "number": "350100200001", "address": "福州市鼓楼区某路一号" }
    });
    let (s, issued, _) = app.post_json("/api/v1/licences", &w.token, &req, &[]).await;
    assert_eq!(s, 201, "{issued}");
    let id = issued["id"].as_str().unwrap();

    let browser = Browser::start().await;
    browser.goto(&format!("{}/login", app.addr)).await;
    browser.fill("username", &email).await;
    browser.fill("password", PASSWORD).await;
    browser.submit("login-submit").await;
    browser.wait_id("account-licences").await;
    browser
        .goto(&format!("{}/account/licences/{id}", app.addr))
        .await;
    browser.click("reveal-class").await;
    browser.click("reveal-number").await;
    browser.fill("purpose", "租车").await;
    browser.submit("share-submit").await;
    let revealed = browser.text_of("share-revealed").await;
    assert!(
        revealed.contains("准驾车型") && revealed.contains("证号"),
        "{revealed}"
    );
    assert!(!revealed.contains("住址"), "{revealed}");
    assert!(browser.has_id("share-qr").await);
    let link = browser.text_of("share-url").await;
    assert!(link.starts_with(&format!("{}/shares/", app.addr)), "{link}");

    // The verifier: another browser, not signed in.
    let verifier = Browser::start().await;
    verifier.goto(&link).await;
    let shown = verifier.text_of("share-fields").await;
    assert!(
        shown.contains("C1") && shown.contains("350100200001"),
        "{shown}"
    );
    assert!(
        !shown.contains("福州市鼓楼区"),
        "the address stays hidden: {shown}"
    );
    let verdict = verifier.text_of("share-verdict").await;
    assert!(!verdict.is_empty());
    verifier.close().await;
    browser.close().await;
}
