//! Agents with real rights: an agent granted only `licences:read` reads the enterprise's licences
//! (each read in the enterprise's access log, which the legal representative sees, naming the agent)
//! but cannot share them or let a portal read them; tokens carry `agent_permissions`.

use serde_json::{json, Value};

use crate::helpers::{auth_url, claims, exchange, form_value, ClientSpec, Landing};
use crate::holders::signed_in;
use crate::licences::{request, world, ENTERPRISE};

#[tokio::test]
async fn an_agent_with_only_licences_read_reads_logged_and_cannot_share_or_consent() {
    let w = world().await;
    let app = &w.app;
    let (s, business, _) = app
        .post_json("/api/v1/licences", &w.token, &request(&w), &[])
        .await;
    assert_eq!(s, 201);
    let id = business["id"].as_str().unwrap().to_owned();
    let (_, _, agent_email) = app.citizen("钱代理").await;
    let ent: (String,) = sqlx::query_as("SELECT id FROM enterprises WHERE uscc = $1")
        .bind(ENTERPRISE)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();

    // The representative grants read only (the form's default box).
    let rep = signed_in(app, &w.rep_email).await;
    let Landing::Page(_, 200, account) = rep.get("/account").await else {
        panic!()
    };
    let Landing::Page(_, 200, account) = rep
        .submit(
            "/account/agents/grant",
            &account,
            &[
                ("enterprise_id", &ent.0),
                ("agent", &agent_email),
                ("role", "clerk"),
                ("permission", "licences:read"),
                ("days", "30"),
            ],
        )
        .await
    else {
        panic!()
    };
    assert!(account.contains("钱代理"), "the agent is listed");
    assert!(form_value(&account, "grant_id").is_some());

    // The agent reads: allowed, and logged for the enterprise naming the agent.
    let agent = signed_in(app, &agent_email).await;
    let r = agent
        .http
        .get(format!("{}/api/v1/me/licences?as={ENTERPRISE}", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let wallet: Value = r.json().await.unwrap();
    assert_eq!(wallet["licences"][0]["id"], id.as_str());
    // Sharing needs licences:share.
    let share =
        json!({ "disclose": ["address"], "purpose": "开户", "expires_in": 600, "as": ENTERPRISE });
    let r = agent
        .http
        .post(format!("{}/api/v1/me/licences/{id}/shares", app.addr))
        .json(&share)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        403,
        "an agent without licences:share cannot share"
    );
    let p: Value = r.json().await.unwrap();
    assert!(
        p["detail"].as_str().unwrap().contains("licences:share"),
        "{p}"
    );

    // A portal asking to read licences for the enterprise: refused (no licences:consent).
    let portal = app
        .client(ClientSpec {
            scopes: vec!["openid", "enterprise", "licences"],
            licence_types: vec![w.type_code.clone()],
            ..Default::default()
        })
        .await;
    let (url, _) = auth_url(app, &portal, "openid enterprise licences", &[]);
    let Landing::Page(p, 200, select) = agent.get(&url).await else {
        panic!("the agent chooses whom to act for")
    };
    assert_eq!(p, "/select");
    let landing = agent.authorize_from(&select, "/select", &ent.0).await;
    assert_eq!(
        landing.param("error").as_deref(),
        Some("access_denied"),
        "no consent for the enterprise"
    );

    // Tokens issued while acting carry the permissions.
    let reader = app
        .client(ClientSpec {
            scopes: vec!["openid", "enterprise"],
            ..Default::default()
        })
        .await;
    let (url, v) = auth_url(app, &reader, "openid enterprise", &[]);
    let Landing::Page(_, 200, select) = agent.get(&url).await else {
        panic!()
    };
    let landing = agent.authorize_from(&select, "/select", &ent.0).await;
    let (s, tokens) = exchange(app, &reader, &landing.code(), &v).await;
    assert_eq!(s, 200, "{tokens}");
    let idt = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(idt["agent_permissions"], json!(["licences:read"]));

    // The representative sees the agent's read in the enterprise's access log.
    let r = rep
        .http
        .get(format!("{}/api/v1/me/access-log", app.addr))
        .send()
        .await
        .unwrap();
    let log: Value = r.json().await.unwrap();
    let reads: Vec<&Value> = log["accesses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["via"] == "agent")
        .collect();
    assert_eq!(reads.len(), 1, "{log}");
    assert_eq!(reads[0]["licence_id"], id.as_str());
    let page = rep
        .http
        .get(format!("{}/account/access-log", app.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("钱代理"),
        "the access-log page names the agent"
    );
}
