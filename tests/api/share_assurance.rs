//! Shares and consent reads follow the licence type's second-factor rule (issue 19, point 2): a
//! type held by citizens with disclosable fields is, by default, shared and read by portals only
//! from a sign-in with a second factor (loa 2 or higher); a type may say otherwise. A password-only
//! session is refused the share (403 `second-factor-required`); a portal whose token is loa 1 is
//! refused the read (401 `insufficient-user-authentication`, RFC 9470, naming loa 2), and reads
//! once the person stepped up with their authenticator app.

use serde_json::{json, Value};

use crate::factors::{enrol, on, page, totp_code};
use crate::helpers::{auth_url, exchange, ClientSpec, Driver, Landing, PASSWORD};
use crate::holders::signed_in;
use crate::licences::{world, MARKET_REGULATOR};

/// A citizen's licence type with a disclosable field; `rule` sets `second_factor_to_share`.
fn citizen_type(n: u8, rule: Option<bool>) -> Value {
    let mut t = crate::proofing::citizen_type();
    t["code"] = json!(format!("{MARKET_REGULATOR}00{n}"));
    if let Some(r) = rule {
        t["second_factor_to_share"] = json!(r);
    }
    t
}

async fn share(d: &Driver, id: &str) -> (u16, Value) {
    let r = d
        .http
        .post(format!("{}/api/v1/me/licences/{id}/shares", d.base))
        .json(&json!({ "disclose": ["class"], "purpose": "租车", "expires_in": 600 }))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn personal_licences_are_shared_and_read_by_portals_only_after_a_second_factor() {
    let w = world().await;
    let app = &w.app;
    let guarded = app.licence_type(citizen_type(7, None)).await;
    let open = app.licence_type(citizen_type(8, Some(false))).await;
    let (_, id_number, email) = app.citizen("孙驾驶").await;
    let mut ids = vec![];
    for code in [&guarded, &open] {
        let req = json!({
            "type_code": code,
            "holders": [{ "kind": "citizen", "id": id_number, "name": "孙驾驶" }],
            "fields": { "class": "C1" }
        });
        let (s, issued, _) = app.post_json("/api/v1/licences", &w.token, &req, &[]).await;
        assert_eq!(s, 201, "{issued}");
        ids.push(issued["id"].as_str().unwrap().to_owned());
    }

    // Password only: the type that says nothing (citizen-held, disclosable) needs a second
    // factor; the one that opted out does not.
    let d = signed_in(app, &email).await;
    let (s, p) = share(&d, &ids[0]).await;
    assert_eq!(s, 403, "{p}");
    assert_eq!(
        p["type"],
        "https://tongban.example/problems/second-factor-required"
    );
    assert_eq!(share(&d, &ids[1]).await.0, 201);
    // The same from the licence page's form: refused with the page saying how to go on.
    let Landing::Page(_, 200, licence_page) = d.get(&format!("/account/licences/{}", ids[0])).await
    else {
        panic!("licence page")
    };
    let action = format!("/account/licences/{}/shares", ids[0]);
    let fields = [
        ("disclose", "class"),
        ("purpose", "租车"),
        ("expires_in", "3600"),
    ];
    let l = d.submit(&action, &licence_page, &fields).await;
    assert_eq!(page(&l).1, 403);
    let l = d
        .submit(
            &format!("/account/licences/{}/shares", ids[1]),
            &licence_page,
            &[("purpose", " "), ("expires_in", "3600")],
        )
        .await;
    assert_eq!(page(&l).1, 400, "a purpose is needed");

    // With an authenticator app, a fresh sign-in with the code is loa 3: it shares.
    let (secret, recovery) = enrol(&d).await;
    let d2 = app.driver();
    let Landing::Page(_, 200, login) = d2.get("/login").await else {
        panic!("login page")
    };
    let l = d2
        .submit(
            "/login",
            &login,
            &[("username", &email), ("password", PASSWORD)],
        )
        .await;
    let (path, _, prompt) = page(&l);
    assert_eq!(path, "/login/factor");
    let code = totp_code(&secret, 1);
    let l = d2.submit("/login/factor", prompt, &[("code", &code)]).await;
    assert_eq!(page(&l).0, "/account");
    let (s, p) = share(&d2, &ids[0]).await;
    assert_eq!(s, 201, "{p}");

    // A portal reading under consent with a loa 1 token (the live loa-1 session of `d`): refused
    // with the RFC 9470 challenge. Asking for loa 2, the person steps up and the portal reads.
    let portal = app
        .client(ClientSpec {
            scopes: vec!["openid", "licences"],
            licence_types: vec![guarded.clone(), open.clone()],
            ..Default::default()
        })
        .await;
    let read = |at: String| async move {
        let r = app
            .http()
            .get(format!(
                "{}/api/v1/me/licences?purpose=%E7%A7%9F%E8%BD%A6",
                app.addr
            ))
            .bearer_auth(at)
            .send()
            .await
            .unwrap();
        let challenge = r
            .headers()
            .get("www-authenticate")
            .map(|h| h.to_str().unwrap().to_owned());
        (
            r.status().as_u16(),
            challenge,
            r.json::<Value>().await.unwrap(),
        )
    };
    let (url, v) = auth_url(app, &portal, "openid licences", &[]);
    let l = on(&d, d.get(&url).await).await;
    let (_, tokens) = exchange(app, &portal, &l.code(), &v).await;
    let (s, challenge, p) = read(tokens["access_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(s, 401, "{p}");
    assert_eq!(
        p["type"],
        "https://tongban.example/problems/insufficient-user-authentication"
    );
    let challenge = challenge.expect("a WWW-Authenticate challenge");
    assert!(
        challenge.contains("error=\"insufficient_user_authentication\"")
            && challenge.contains("acr_values=\"urn:tongban:loa:2\""),
        "{challenge}"
    );

    let (url, v) = auth_url(
        app,
        &portal,
        "openid licences",
        &[("acr_values", "urn:tongban:loa:2 urn:tongban:loa:3")],
    );
    let l = d.get(&url).await;
    let (path, _, prompt) = page(&l);
    assert_eq!(path, "/login/factor", "a step-up, not a new password");
    // (The app's next code was spent above; a recovery code does as well.)
    let l = on(
        &d,
        d.submit("/login/factor", prompt, &[("code", &recovery[0])])
            .await,
    )
    .await;
    let (_, tokens) = exchange(app, &portal, &l.code(), &v).await;
    let (s, _, p) = read(tokens["access_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["licences"].as_array().unwrap().len(), 2, "{p}");
}
