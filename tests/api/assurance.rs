//! Levels of assurance: discovery lists exactly the levels a sign-in reaches; asking for one of them
//! gets an ID token with that `acr` and the `amr` of what happened; asking for any other level gets
//! `unmet_authentication_requirements`, never a lower `acr`. With passwords only (second factors
//! are not built yet), that is loa 1 alone, even for a proven identity.

use serde_json::{json, Value};

use crate::helpers::{auth_url, claims, exchange, spawn_app, ClientSpec};

const LEVELS: [&str; 3] = [
    "urn:tongban:loa:1",
    "urn:tongban:loa:2",
    "urn:tongban:loa:3",
];

#[tokio::test]
async fn discovery_lists_exactly_the_levels_a_sign_in_reaches() {
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
    let supported: Vec<&str> = meta["acr_values_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let portal = app
        .client(ClientSpec {
            scopes: vec!["openid"],
            ..Default::default()
        })
        .await;
    // A proven identity (registered at a counter) signing in with a password.
    let (_, _, email) = app.citizen("孙等级").await;
    for level in LEVELS {
        for (how, extra) in [
            ("acr_values", vec![("acr_values", level.to_owned())]),
            (
                "claims",
                vec![(
                    "claims",
                    json!({ "id_token": { "acr": { "essential": true, "values": [level] } } })
                        .to_string(),
                )],
            ),
        ] {
            let d = app.driver();
            let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (url, v) = auth_url(&app, &portal, "openid", &extra);
            let landing = d.authorize(&url, &email, "").await;
            if supported.contains(&level) {
                let (s, tokens) = exchange(&app, &portal, &landing.code(), &v).await;
                assert_eq!(s, 200, "{tokens}");
                let idt = claims(tokens["id_token"].as_str().unwrap());
                assert_eq!(idt["acr"], level, "{how}: the level asked for");
                assert_eq!(idt["amr"], json!(["pwd"]), "{how}: what happened");
            } else {
                assert_eq!(
                    landing.param("error").as_deref(),
                    Some("unmet_authentication_requirements"),
                    "{how} {level}: not reachable, so an error, never a lower acr"
                );
            }
        }
    }
    assert_eq!(
        supported,
        ["urn:tongban:loa:1"],
        "passwords only: one factor"
    );

    // Without a request for a level, a password sign-in is loa 1 too, proven identity or not.
    let d = app.driver();
    let (url, v) = auth_url(&app, &portal, "openid", &[]);
    let landing = d.authorize(&url, &email, "").await;
    let (_, tokens) = exchange(&app, &portal, &landing.code(), &v).await;
    assert_eq!(
        claims(tokens["id_token"].as_str().unwrap())["acr"],
        "urn:tongban:loa:1"
    );
}
