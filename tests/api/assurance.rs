//! Levels of assurance: discovery lists exactly the levels and methods a sign-in reaches, and this
//! test does what discovery says for each. Asking for a level gets an ID token at that level (or,
//! for a proven identity asked loa 2, the loa 3 it reached) with the `amr` of what happened, after
//! the second-factor prompt where the session was below it; asking for a level the account cannot
//! reach gets `unmet_authentication_requirements`, never a lower `acr`.

use serde_json::{json, Value};

use crate::factors::{enrol, on, page, sign_in};
use crate::helpers::{auth_url, claims, exchange, spawn_app, ClientSpec};

const LEVELS: [&str; 3] = [
    "urn:tongban:loa:1",
    "urn:tongban:loa:2",
    "urn:tongban:loa:3",
];

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn discovery_lists_exactly_the_levels_and_methods_a_sign_in_reaches() {
    let app = spawn_app().await;
    let meta: Value = app
        .http()
        .get(format!("{}/.well-known/openid-configuration", app.addr))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let supported = strings(&meta["acr_values_supported"]);
    assert_eq!(
        supported, LEVELS,
        "every level is reachable by some sign-in"
    );
    let methods = strings(&meta["amr_values_supported"]);
    let portal = app
        .client(ClientSpec {
            scopes: vec!["openid"],
            ..Default::default()
        })
        .await;
    let asks = |level: &str| {
        [
            vec![("acr_values", level.to_owned())],
            vec![(
                "claims",
                json!({ "id_token": { "acr": { "essential": true, "values": [level] } } })
                    .to_string(),
            )],
        ]
    };
    let mut amr_seen: Vec<String> = vec![];

    // A proven identity (registered at a counter) with a password only: loa 1, and only loa 1.
    let (_, _, email) = app.citizen("孙等级").await;
    for level in LEVELS {
        for extra in asks(level) {
            let d = app.driver();
            let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (url, v) = auth_url(&app, &portal, "openid", &extra);
            let landing = d.authorize(&url, &email, "").await;
            if level == LEVELS[0] {
                let (s, tokens) = exchange(&app, &portal, &landing.code(), &v).await;
                assert_eq!(s, 200, "{tokens}");
                let idt = claims(tokens["id_token"].as_str().unwrap());
                assert_eq!(idt["acr"], level, "{extra:?}: the level asked for");
                assert_eq!(idt["amr"], json!(["pwd"]), "{extra:?}: what happened");
                amr_seen.extend(strings(&idt["amr"]).into_iter().map(str::to_owned));
            } else {
                assert_eq!(
                    landing.param("error").as_deref(),
                    Some("unmet_authentication_requirements"),
                    "{extra:?}: no second factor, so an error, never a lower acr"
                );
            }
        }
    }

    // With an authenticator app set up, loa 2 and 3 are reached through the second-factor
    // prompt (recovery codes here: each TOTP step is good once, and the test does not wait).
    let d = sign_in(&app, &email).await;
    let (_, codes) = enrol(&d).await;
    let mut codes = codes.into_iter();
    for level in &LEVELS[1..] {
        for extra in asks(level) {
            let d = app.driver();
            let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (url, v) = auth_url(&app, &portal, "openid", &extra);
            let l = d.authorize(&url, &email, "").await;
            let (path, _, html) = page(&l);
            assert_eq!(path, "/login/factor", "the second-factor prompt");
            let code = codes.next().unwrap();
            let l = on(
                &d,
                d.submit("/login/factor", html, &[("code", &code)]).await,
            )
            .await;
            let (s, tokens) = exchange(&app, &portal, &l.code(), &v).await;
            assert_eq!(s, 200, "{tokens}");
            let idt = claims(tokens["id_token"].as_str().unwrap());
            assert_eq!(
                idt["acr"], LEVELS[2],
                "{extra:?}: a proven identity with two factors is loa 3"
            );
            assert_eq!(idt["amr"], json!(["pwd", "otp", "mfa"]));
            amr_seen.extend(strings(&idt["amr"]).into_iter().map(str::to_owned));
        }
    }
    // Every method discovery lists occurs in some ID token, and no other.
    amr_seen.sort();
    amr_seen.dedup();
    let mut listed: Vec<String> = methods.iter().map(|m| (*m).to_owned()).collect();
    listed.sort();
    assert_eq!(amr_seen, listed);
}
