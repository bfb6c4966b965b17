//! Reading licences: a department under a registered legal basis (purpose mandatory), a portal with the
//! holder's consent (exactly the consented types, nothing after withdrawal), shares with chosen
//! disclosures, and the holder's access log, which shows each of those reads and nothing else.

use serde_json::{json, Value};

use crate::helpers::{auth_url, exchange, ClientSpec, Driver, Landing, TestApp, PASSWORD};
use crate::licences::{request, world, ENTERPRISE, OTHER_DEPARTMENT};

/// A driver signed in on tongban's login page as `email` (the test password).
pub async fn signed_in(app: &TestApp, email: &str) -> Driver {
    let d = app.driver();
    let Landing::Page(_, 200, login) = d.get("/login").await else {
        panic!()
    };
    let Landing::Page(p, 200, _) = d
        .submit(
            "/login",
            &login,
            &[("username", email), ("password", PASSWORD)],
        )
        .await
    else {
        panic!()
    };
    assert_eq!(p, "/account");
    d
}

async fn get_json(d: &Driver, url: &str) -> (u16, Value) {
    let r = d.http.get(url).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn access_log(app: &TestApp, d: &Driver) -> Vec<Value> {
    let (s, log) = get_json(d, &format!("{}/api/v1/me/access-log", app.addr)).await;
    assert_eq!(s, 200);
    log["accesses"].as_array().unwrap().clone()
}

#[tokio::test]
async fn departments_query_under_a_legal_basis_with_a_purpose_and_the_holder_sees_it() {
    let w = world().await;
    let (_, issued, _) = w
        .app
        .post_json("/api/v1/licences", &w.token, &request(&w), &[])
        .await;
    let querier = w
        .app
        .department(OTHER_DEPARTMENT, "北京市住房公积金管理中心")
        .await;
    let qt = w.app.dept_token(&querier).await;
    let url = |purpose: &str| {
        format!("{}/api/v1/licences?holder_kind=enterprise&holder_id={ENTERPRISE}&type_code={}&purpose={}", w.app.addr, w.type_code, urlencode(purpose))
    };
    let get = |u: String, t: String| {
        let app = &w.app;
        async move {
            let r = app.http().get(u).bearer_auth(t).send().await.unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (s, body) = get(url("办理住房公积金缴存登记"), qt.clone()).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["licences"][0]["id"], issued["id"]);
    let (s, p) = get(url(""), qt.clone()).await;
    assert_eq!(
        (s, p["status"].as_u64()),
        (400, Some(400)),
        "a purpose is mandatory: {p}"
    );
    // The issuer itself has no registered legal basis to query: refused.
    let (s, _) = get(url("核查"), w.token.clone()).await;
    assert_eq!(s, 403);

    let rep = signed_in(&w.app, &w.rep_email).await;
    // The holder's own reading is not an access by someone else: not logged.
    let (s, mine) = get_json(
        &rep,
        &format!("{}/api/v1/me/licences?as={ENTERPRISE}", w.app.addr),
    )
    .await;
    assert_eq!(
        (s, mine["licences"].as_array().map(Vec::len)),
        (200, Some(1))
    );
    let log = access_log(&w.app, &rep).await;
    assert_eq!(log.len(), 1, "exactly the department's query: {log:?}");
    assert_eq!(log[0]["via"], "legal_basis");
    assert_eq!(log[0]["purpose"], "办理住房公积金缴存登记");
    assert_eq!(log[0]["legal_basis"], "《住房公积金管理条例》第十三条");
    assert_eq!(log[0]["department_id"], querier.row.id.as_str());

    // Nor are verification, the status list, or the issuer's own status changes: none is a read of
    // the holder's licence by someone else.
    let licence = issued["licence"].as_str().unwrap();
    let (s, _, _) = w
        .app
        .post_json("/api/v1/verify", "", &json!({ "licence": licence }), &[])
        .await;
    assert_eq!(s, 200);
    let id = issued["id"].as_str().unwrap();
    let (s, _, _) = w
        .app
        .post_json(
            &format!("/api/v1/licences/{id}/suspend"),
            &w.token,
            &json!({ "reason": "under_investigation" }),
            &[],
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        access_log(&w.app, &rep).await.len(),
        1,
        "still only the query"
    );

    // The account page shows the same record: who (by name), on what grounds, for what purpose.
    let Landing::Page(_, 200, page) = rep.get("/account/access-log?lang=en").await else {
        panic!()
    };
    let rows = page.matches("<tr class=\"access\">").count();
    assert_eq!(rows, 1, "{page}");
    for text in [
        "北京市住房公积金管理中心",
        "legal basis: 《住房公积金管理条例》第十三条",
        "办理住房公积金缴存登记",
        id,
    ] {
        assert!(page.contains(text), "{text} in {page}");
    }
    // Another person's access log is their own: empty.
    let (_, _, other_email) = w.app.citizen("王其他").await;
    let other = signed_in(&w.app, &other_email).await;
    let Landing::Page(_, 200, page) = other.get("/account/access-log").await else {
        panic!()
    };
    assert!(page.contains("id=\"access-log-empty\""), "{page}");
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn a_portal_reads_exactly_the_consented_types_until_consent_is_withdrawn() {
    let w = world().await;
    // A second licence type for the same enterprise, which the portal is not registered to read.
    let mut permit = crate::licences::business_licence_type(crate::licences::MARKET_REGULATOR);
    permit["code"] = json!(format!("{}002", crate::licences::MARKET_REGULATOR));
    permit["name_zh"] = json!("食品经营许可证");
    let permit_code = w.app.licence_type(permit).await;
    let (_, business, _) = w
        .app
        .post_json("/api/v1/licences", &w.token, &request(&w), &[])
        .await;
    let mut req = request(&w);
    req["type_code"] = json!(permit_code);
    let (s, _, _) = w
        .app
        .post_json("/api/v1/licences", &w.token, &req, &[])
        .await;
    assert_eq!(s, 201);

    let portal = w
        .app
        .client(ClientSpec {
            scopes: vec!["openid", "enterprise", "licences"],
            licence_types: vec![w.type_code.clone()],
            ..Default::default()
        })
        .await;
    let d = w.app.driver();
    let (url, v) = auth_url(
        &w.app,
        &portal,
        "openid enterprise licences",
        &[("ui_locales", "zh-CN")],
    );
    let Landing::Page(_, 200, login) = d.get(&url).await else {
        panic!()
    };
    let Landing::Page(_, 200, select) = d
        .submit(
            "/login",
            &login,
            &[("username", &w.rep_email), ("password", PASSWORD)],
        )
        .await
    else {
        panic!()
    };
    let ent_id = w.app.state.db.pool.clone();
    let ent: (String,) = sqlx::query_as("SELECT id FROM enterprises WHERE uscc = $1")
        .bind(ENTERPRISE)
        .fetch_one(&ent_id)
        .await
        .unwrap();
    let Landing::Page(p, 200, consent) = d
        .submit("/select", &select, &[("acting_for", &ent.0)])
        .await
    else {
        panic!()
    };
    assert_eq!(p, "/consent");
    assert!(
        consent.contains("营业执照") && !consent.contains("食品经营许可证"),
        "the consent screen names the licence types"
    );
    let landing = d
        .submit("/consent", &consent, &[("decision", "allow")])
        .await;
    let (_, tokens) = exchange(&w.app, &portal, &landing.code(), &v).await;
    let at = tokens["access_token"].as_str().unwrap();

    let read = |purpose: &'static str| {
        let app = &w.app;
        async move {
            let r = app
                .http()
                .get(format!(
                    "{}/api/v1/me/licences?purpose={}",
                    app.addr,
                    urlencode(purpose)
                ))
                .bearer_auth(at)
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (s, body) = read("核验营业执照").await;
    assert_eq!(s, 200, "{body}");
    let list = body["licences"].as_array().unwrap();
    assert_eq!(list.len(), 1, "only the consented type: {body}");
    assert_eq!(list[0]["id"], business["id"]);

    let rep = signed_in(&w.app, &w.rep_email).await;
    let log = access_log(&w.app, &rep).await;
    assert_eq!(
        (
            log.len(),
            log[0]["via"].as_str(),
            log[0]["purpose"].as_str()
        ),
        (1, Some("consent"), Some("核验营业执照"))
    );

    // Withdraw the consent on the account page: the portal reads nothing any more.
    let Landing::Page(_, 200, account) = rep.get("/account").await else {
        panic!()
    };
    let Landing::Page(_, 200, _) = rep
        .submit(
            "/account/consents/withdraw",
            &account,
            &[("client_id", &portal.id)],
        )
        .await
    else {
        panic!()
    };
    let (s, _) = read("核验营业执照").await;
    assert_eq!(s, 401, "the token died with the consent");
    assert_eq!(
        access_log(&w.app, &rep).await.len(),
        1,
        "nothing more was read"
    );
}

#[tokio::test]
async fn a_share_reveals_only_the_chosen_fields_until_it_expires_or_is_withdrawn() {
    let w = world().await;
    let (_, issued, _) = w
        .app
        .post_json("/api/v1/licences", &w.token, &request(&w), &[])
        .await;
    let id = issued["id"].as_str().unwrap();
    let rep = signed_in(&w.app, &w.rep_email).await;
    let create = |disclose: Value| {
        let rep = &rep;
        let url = format!("{}/api/v1/me/licences/{id}/shares", w.app.addr);
        async move {
            let r = rep.http.post(url).json(&json!({ "disclose": disclose, "purpose": "银行开户", "expires_in": 600, "as": ENTERPRISE })).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (s, share) = create(json!(["address"])).await;
    assert_eq!(s, 201, "{share}");
    let url = share["url"].as_str().unwrap().to_owned();

    let opened: Value = w
        .app
        .http()
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(opened["purpose"], "银行开户");
    let shared = opened["licence"].as_str().unwrap();
    let report: Value = w
        .app
        .http()
        .post(format!("{}/api/v1/verify", w.app.addr))
        .json(&json!({ "licence": shared }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["verdict"], "valid", "{report}");
    let claims = &report["claims"];
    assert_eq!(claims["address"], "深圳市南山区");
    assert!(
        claims.get("legal_representative").is_none() && claims.get("holders").is_none(),
        "only the chosen field: {claims}"
    );
    assert_eq!(
        claims["company_name"], "深圳示范科技有限公司",
        "plain fields are always there"
    );

    let log = access_log(&w.app, &rep).await;
    assert_eq!((log.len(), log[0]["via"].as_str()), (1, Some("share")));
    // The same share opened in a browser: the verified licence, only the chosen field.
    let page_url = format!("{}?lang=en", share["page"].as_str().unwrap());
    let page = w
        .app
        .http()
        .get(&page_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Verified: valid") && page.contains("深圳市南山区"),
        "{page}"
    );
    assert!(
        page.contains(r#"<dt title="address">住所</dt>"#),
        "a field is labelled with its schema title: {page}"
    );
    assert!(
        !page.contains("林法人"),
        "the undisclosed legal representative stays hidden"
    );

    // Withdrawn: gone.
    let r = rep
        .http
        .delete(format!(
            "{}/api/v1/me/shares/{}",
            w.app.addr,
            share["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(w.app.http().get(&url).send().await.unwrap().status(), 410);
    assert_eq!(
        w.app.http().get(&page_url).send().await.unwrap().status(),
        410
    );
    // Expired: gone.
    let (_, second) = create(json!(["legal_representative"])).await;
    sqlx::query("UPDATE licence_shares SET expires_at = created_at - 1 WHERE id = $1")
        .bind(second["id"].as_str().unwrap())
        .execute(&w.app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(
        w.app
            .http()
            .get(second["url"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .status(),
        410
    );
    // Someone else's licence cannot be shared.
    let (s, _) = create(json!(["address"])).await;
    assert_eq!(s, 201);
    let stranger = w.app.citizen("路人").await;
    let other = signed_in(&w.app, &stranger.2).await;
    let r = other
        .http
        .post(format!("{}/api/v1/me/licences/{id}/shares", w.app.addr))
        .json(&json!({ "disclose": [], "purpose": "x", "expires_in": 600 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn account_pages_show_licences_with_a_qr_code_a_download_and_a_public_check() {
    let w = world().await;
    let (_, issued, _) = w
        .app
        .post_json("/api/v1/licences", &w.token, &request(&w), &[])
        .await;
    let id = issued["id"].as_str().unwrap();
    let rep = signed_in(&w.app, &w.rep_email).await;
    let Landing::Page(_, 200, list) = rep.get("/account/licences").await else {
        panic!()
    };
    assert!(
        list.contains("营业执照") && list.contains(id),
        "the enterprise's licence is listed"
    );
    let Landing::Page(_, 200, page) = rep.get(&format!("/account/licences/{id}")).await else {
        panic!()
    };
    assert!(
        page.contains("id=\"licence-qr\" src=\"data:image/svg+xml;base64,"),
        "a QR code"
    );
    assert!(
        page.contains("深圳市南山区") && page.contains("林法人"),
        "the contents, every disclosure revealed"
    );
    assert!(
        page.contains(r#"<dt title="company_name">名称</dt>"#)
            && page.contains(r#"<dt title="registered_capital">registered_capital</dt>"#),
        "fields labelled by their schema titles, the name where there is none: {page}"
    );
    let r = rep
        .http
        .get(format!("{}/account/licences/{id}/download", w.app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/dc+sd-jwt");
    let downloaded = r.text().await.unwrap();
    assert_eq!(downloaded, issued["licence"].as_str().unwrap());

    // The QR code's check page: public, status only.
    let check = |w: &crate::licences::World| {
        let url = format!("{}/licences/{id}/check?lang=en", w.app.addr);
        let http = w.app.http();
        async move { http.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let html = check(&w).await;
    assert!(html.contains("id=\"check-status\">Valid<"), "{html}");
    assert!(
        !html.contains("深圳示范科技有限公司")
            && !html.contains("林法人")
            && !html.contains(ENTERPRISE),
        "nothing personal"
    );
    w.app
        .post_json(
            &format!("/api/v1/licences/{id}/revoke"),
            &w.token,
            &json!({ "reason": "withdrawn" }),
            &[],
        )
        .await;
    assert!(check(&w).await.contains("id=\"check-status\">Revoked<"));

    // Someone else sees nothing of it.
    let stranger = w.app.citizen("路人甲").await;
    let other = signed_in(&w.app, &stranger.2).await;
    let Landing::Page(_, status, _) = other.get(&format!("/account/licences/{id}")).await else {
        panic!()
    };
    assert_eq!(status, 404);
    assert_eq!(
        other
            .http
            .get(format!("{}/account/licences/{id}/download", w.app.addr))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

/// A consent read spans a page per consented type and is logged one statement per 100 licences, in
/// one transaction: 101 licences of two types, every one read and logged once, with its audit event.
#[tokio::test]
async fn a_consent_read_of_more_than_a_page_logs_every_licence() {
    let w = world().await;
    let mut permit = crate::licences::business_licence_type(crate::licences::MARKET_REGULATOR);
    permit["code"] = json!(format!("{}002", crate::licences::MARKET_REGULATOR));
    let permit_code = w.app.licence_type(permit).await;
    let mut batch: Vec<Value> = (0..100).map(|_| request(&w)).collect();
    let mut one = request(&w);
    one["type_code"] = json!(permit_code);
    batch.push(one);
    let (s, b, _) = w
        .app
        .post_json(
            "/api/v1/licences/batch",
            &w.token,
            &json!({ "licences": batch }),
            &[],
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let holder = tongban::licences::issue::holder_index(
        &w.app.state.licences,
        &serde_json::from_value(request(&w)["holders"][0].clone()).unwrap(),
    )
    .unwrap();
    let read = tongban::licences::access::query_with_consent(
        &w.app.state.licences,
        "c_portal",
        &holder,
        &[w.type_code.clone(), permit_code],
        "核验",
        tongban::domain::time::now(),
    )
    .await
    .unwrap();
    assert_eq!(read.len(), 101);
    let count = |sql: &'static str| {
        let pool = w.app.state.db.pool.clone();
        async move {
            let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&pool).await.unwrap();
            n
        }
    };
    assert_eq!(
        count("SELECT COUNT(DISTINCT licence_id) FROM licence_access_log WHERE via = 'consent'")
            .await,
        101
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM licence_access_log WHERE via = 'consent'").await,
        101
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM audit_events WHERE action = 'licence.queried.consent'").await,
        101
    );
}
