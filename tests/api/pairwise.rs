//! Pairwise subjects per sector; the national number only under the `id_number` scope.

use crate::helpers::{auth_url, claims, exchange, spawn_app, ClientSpec};

#[tokio::test]
async fn sectors_get_different_subjects_and_id_number_needs_its_scope() {
    let app = spawn_app().await;
    let a = app
        .client(ClientSpec {
            sector: Some("housing.gov.cn".into()),
            ..Default::default()
        })
        .await;
    let b = app
        .client(ClientSpec {
            sector: Some("tax.gov.cn".into()),
            redirect_uris: vec!["http://127.0.0.1:9/b".into()],
            ..Default::default()
        })
        .await;
    let (account_id, id_number, email) = app.citizen("李四").await;
    let d = app.driver();

    let (url, v) = auth_url(&app, &a, "openid profile", &[]);
    let (s, ta) = exchange(&app, &a, &d.authorize(&url, &email, "").await.code(), &v).await;
    assert_eq!(s, 200, "{ta}");
    let (url, v) = auth_url(&app, &b, "openid profile id_number", &[]);
    let (s, tb) = exchange(&app, &b, &d.authorize(&url, &email, "").await.code(), &v).await;
    assert_eq!(s, 200, "{tb}");

    let (ca, cb) = (
        claims(ta["id_token"].as_str().unwrap()),
        claims(tb["id_token"].as_str().unwrap()),
    );
    assert_ne!(
        ca["sub"], cb["sub"],
        "pairwise subjects differ between sectors"
    );
    assert!(
        ca.get("id_number").is_none(),
        "no national number without the scope"
    );
    assert!(!ta.to_string().contains(&id_number));
    assert_eq!(cb["id_number"], id_number.as_str());

    // Userinfo follows the same rule.
    let ua: serde_json::Value = app
        .http()
        .get(format!("{}/userinfo", app.addr))
        .bearer_auth(ta["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ub: serde_json::Value = app
        .http()
        .get(format!("{}/userinfo", app.addr))
        .bearer_auth(tb["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ua["sub"], ca["sub"]);
    assert!(ua.get("id_number").is_none());
    assert_eq!(ub["id_number"], id_number.as_str());
    // The access token itself carries no identifier of the person beyond the pairwise sub. (It used
    // to look for the "p_" prefix, which random base64url contains by chance about one run in ten.)
    let at = claims(ta["access_token"].as_str().unwrap()).to_string();
    assert!(!at.contains(&account_id), "{at}");
    assert!(!at.contains(&id_number) && !at.contains(&email), "{at}");

    // Same sector, same subject: a second client of sector A sees A's sub.
    let a2 = app
        .client(ClientSpec {
            sector: Some("housing.gov.cn".into()),
            redirect_uris: vec!["http://127.0.0.1:9/a2".into()],
            ..Default::default()
        })
        .await;
    let (url, v) = auth_url(&app, &a2, "openid", &[]);
    let (_, t2) = exchange(&app, &a2, &d.authorize(&url, &email, "").await.code(), &v).await;
    assert_eq!(claims(t2["id_token"].as_str().unwrap())["sub"], ca["sub"]);
}
