//! An agent acts for an enterprise: the legal representative grants the agent on the account page, the
//! agent signs in and chooses the enterprise, the ID token carries the enterprise's pairwise `sub`,
//! `act.sub` and `org_*`; after the grant is revoked the agent can no longer choose it, the enterprise
//! sessions end (back-channel logout) and their tokens are revoked.

use axum::routing::post;
use tokio::sync::mpsc;

use crate::helpers::{
    auth_url, claims, exchange, form_value, spawn_app, ClientSpec, Landing, PASSWORD,
};

/// A back-channel logout receiver: each logout token posted to it arrives on the channel.
pub async fn logout_receiver() -> (String, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/bcl",
        post(move |body: String| {
            let tx = tx.clone();
            async move {
                let token = form_urlencoded::parse(body.as_bytes())
                    .find(|(k, _)| k == "logout_token")
                    .map(|(_, v)| v.into_owned());
                let _ = tx.send(token.unwrap_or_default());
                "ok"
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/bcl", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    (url, rx)
}

#[tokio::test]
async fn agent_acts_for_enterprise_until_the_grant_is_revoked() {
    let app = spawn_app().await;
    let (bcl, mut logouts) = logout_receiver().await;
    let portal = app
        .client(ClientSpec {
            backchannel_logout_uri: Some(bcl),
            ..Default::default()
        })
        .await;
    let (rep_id, _, rep_email) = app.citizen("赵法人").await;
    let (_, _, agent_email) = app.citizen("钱代理").await;
    let ent = app
        .enterprise("91350100M000100Y43", "福州示范有限公司", &rep_id)
        .await;

    // The legal representative grants the agent on the account page.
    let rep = app.driver();
    let Landing::Page(_, 200, login) = rep.get("/login").await else {
        panic!()
    };
    let Landing::Page(p, 200, account) = rep
        .submit(
            "/login",
            &login,
            &[("username", &rep_email), ("password", PASSWORD)],
        )
        .await
    else {
        panic!()
    };
    assert_eq!(p, "/account");
    let Landing::Page(_, 200, account) = rep
        .submit(
            "/account/agents/grant",
            &account,
            &[
                ("enterprise_id", &ent),
                ("agent", &agent_email),
                ("role", "finance"),
                ("days", "30"),
            ],
        )
        .await
    else {
        panic!()
    };
    assert!(account.contains("钱代理"), "the agent is listed");
    let grant_id = form_value(&account, "grant_id").expect("a revoke form for the agent");

    // The agent signs in at the portal and chooses the enterprise.
    let agent = app.driver();
    let (url, v) = auth_url(
        &app,
        &portal,
        "openid profile enterprise offline_access",
        &[],
    );
    let Landing::Page(_, 200, login) = agent.get(&url).await else {
        panic!()
    };
    let Landing::Page(p, 200, select) = agent
        .submit(
            "/login",
            &login,
            &[("username", &agent_email), ("password", PASSWORD)],
        )
        .await
    else {
        panic!()
    };
    assert_eq!(p, "/select");
    assert!(select.contains("福州示范有限公司") && select.contains("91350100M000100Y43"));
    let Landing::Page(p, 200, consent) = agent
        .submit("/select", &select, &[("acting_for", &ent)])
        .await
    else {
        panic!()
    };
    assert_eq!(p, "/consent");
    let landing = agent
        .submit("/consent", &consent, &[("decision", "allow")])
        .await;
    let (s, tokens) = exchange(&app, &portal, &landing.code(), &v).await;
    assert_eq!(s, 200, "{tokens}");
    let idt = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(idt["org_uscc"], "91350100M000100Y43");
    assert_eq!(idt["org_name"], "福州示范有限公司");
    assert_eq!(idt["agent_role"], "finance");
    let ent_sub = idt["sub"].as_str().unwrap().to_owned();
    let agent_sub = idt["act"]["sub"].as_str().unwrap().to_owned();
    assert_ne!(ent_sub, agent_sub);

    // Acting as herself at the same portal, the agent's own subject is act.sub.
    let (url2, v2) = auth_url(
        &app,
        &portal,
        "openid enterprise",
        &[("prompt", "select_account")],
    );
    let Landing::Page(_, 200, select) = agent.get(&url2).await else {
        panic!()
    };
    let landing = agent.authorize_from(&select, "/select", "").await;
    let (_, own) = exchange(&app, &portal, &landing.code(), &v2).await;
    let own = claims(own["id_token"].as_str().unwrap());
    assert_eq!(own["sub"], agent_sub.as_str());
    assert!(own.get("org_uscc").is_none());

    // Revocation ends the enterprise session at the portal and its tokens.
    let Landing::Page(_, 200, account) = rep.get("/account").await else {
        panic!()
    };
    let Landing::Page(_, 200, _) = rep
        .submit(
            "/account/agents/revoke",
            &account,
            &[("grant_id", &grant_id)],
        )
        .await
    else {
        panic!()
    };
    let lt = tokio::time::timeout(std::time::Duration::from_secs(10), logouts.recv())
        .await
        .expect("a logout token")
        .unwrap();
    let lt = claims(&lt);
    assert_eq!(
        lt["sub"],
        ent_sub.as_str(),
        "the portal is told the enterprise session ended"
    );
    assert!(lt["events"]
        .get("http://schemas.openid.net/event/backchannel-logout")
        .is_some());

    let secret = portal.secret.clone().unwrap();
    let (_, intro) = app
        .post_form(
            "/introspect",
            Some((&portal.id, &secret)),
            &[("token", tokens["access_token"].as_str().unwrap())],
        )
        .await;
    assert_eq!(intro["active"], false);
    let (s, err) = app
        .post_form(
            "/token",
            Some((&portal.id, &secret)),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!((s, err["error"].as_str()), (400, Some("invalid_grant")));

    // The enterprise is no longer offered.
    let (url3, v3) = auth_url(
        &app,
        &portal,
        "openid enterprise",
        &[("prompt", "select_account")],
    );
    let landing = agent.authorize(&url3, &agent_email, &ent).await;
    let (_, t3) = exchange(&app, &portal, &landing.code(), &v3).await;
    let c3 = claims(t3["id_token"].as_str().unwrap());
    assert!(
        c3.get("org_uscc").is_none(),
        "the revoked enterprise cannot be chosen: {c3}"
    );
    assert_eq!(c3["sub"], agent_sub.as_str());
}
