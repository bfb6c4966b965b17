//! Supervision (效能监督): per-department figures over a period from the audit log, as JSON for an
//! auditing system (`auditor` scope) and as a page for accounts with the auditor role.

use serde_json::{json, Value};

use crate::helpers::{Landing, TestApp};
use crate::holders::signed_in;
use crate::licences::{request, world, ENTERPRISE, MARKET_REGULATOR, OTHER_DEPARTMENT};

async fn figures(app: &TestApp, token: &str, query: &str) -> (u16, Value) {
    let r = app
        .http()
        .get(format!("{}/api/v1/supervision{query}", app.addr))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn department<'a>(f: &'a Value, uscc: &str) -> &'a Value {
    f["departments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["uscc"] == uscc)
        .unwrap_or_else(|| panic!("{uscc} in {f}"))
}

#[tokio::test]
async fn auditors_see_each_departments_figures_for_a_period() {
    let w = world().await;
    let now = tongban::domain::time::now();
    let mut ids = Vec::new();
    for applied in [Some(now - 7200), Some(now - 3600), None] {
        let mut req = request(&w);
        if let Some(a) = applied {
            req["applied_at"] = json!(a);
        }
        let (s, b, _) = w
            .app
            .post_json("/api/v1/licences", &w.token, &req, &[])
            .await;
        assert_eq!(s, 201, "{b}");
        ids.push((
            b["id"].as_str().unwrap().to_owned(),
            b["licence"].as_str().unwrap().to_owned(),
        ));
    }
    let mut bad = request(&w);
    bad["applied_at"] = json!(now + 3600);
    let (s, _, _) = w
        .app
        .post_json("/api/v1/licences", &w.token, &bad, &[])
        .await;
    assert_eq!(s, 400, "an application filed in the future");
    for (i, action) in [(0, "suspend"), (1, "revoke")] {
        let (s, b, _) = w
            .app
            .post_json(
                &format!("/api/v1/licences/{}/{action}", ids[i].0),
                &w.token,
                &json!({ "reason": "under_investigation" }),
                &[],
            )
            .await;
        assert_eq!(s, 200, "{b}");
    }
    // A query under a legal basis by another department.
    let querier = w
        .app
        .department(OTHER_DEPARTMENT, "北京市住房公积金管理中心")
        .await;
    let qt = w.app.dept_token(&querier).await;
    let r = w
        .app
        .http()
        .get(format!(
            "{}/api/v1/licences?holder_kind=enterprise&holder_id={ENTERPRISE}&type_code={}&purpose=%E6%A0%B8%E9%AA%8C",
            w.app.addr, w.type_code
        ))
        .bearer_auth(&qt)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Verifications: the revoked licence fails publicly (counted for its issuer); the querier also
    // verifies the valid one with its token (audited, not a failure).
    let verify = |licence: String, token: String| {
        let app = &w.app;
        async move {
            app.post_json(
                "/api/v1/verify",
                &token,
                &json!({ "licence": licence }),
                &[],
            )
            .await
        }
    };
    let (s, r, _) = verify(ids[1].1.clone(), String::new()).await;
    assert_eq!((s, r["verdict"].as_str()), (200, Some("revoked")));
    let (s, r, _) = verify(ids[2].1.clone(), qt.clone()).await;
    assert_eq!((s, r["verdict"].as_str()), (200, Some("valid")));

    let auditor = w.app.system(vec!["auditor"]).await.1;
    let (s, f) = figures(&w.app, &auditor, "").await;
    assert_eq!(s, 200, "{f}");
    let issuer = department(&f, MARKET_REGULATOR);
    for (k, v) in [
        ("issued", 3),
        ("suspended", 1),
        ("reinstated", 0),
        ("revoked", 1),
        ("queries_legal_basis", 0),
        ("failed_verifications", 1),
        ("applications_reported", 2),
    ] {
        assert_eq!(issuer[k], json!(v), "{k}: {issuer}");
    }
    let median = issuer["median_issuance_seconds"].as_i64().unwrap();
    assert!(
        (5400..5460).contains(&median),
        "median of about 2 h and 1 h: {median}"
    );
    // One query that returned the enterprise's three licences: three reads.
    let q = department(&f, OTHER_DEPARTMENT);
    assert_eq!(
        (q["queries_legal_basis"].as_i64(), q["issued"].as_i64()),
        (Some(3), Some(0))
    );
    assert!(q["median_issuance_seconds"].is_null());
    let verified: Vec<(String,)> = sqlx::query_as(
        "SELECT actor FROM audit_events WHERE action = 'licence.verified.department'",
    )
    .fetch_all(&w.app.state.db.pool)
    .await
    .unwrap();
    assert_eq!(verified, [(format!("department:{}", querier.row.id),)]);

    // Another period: nothing happened then.
    let (s, old) = figures(
        &w.app,
        &auditor,
        &format!("?from={}&to={}", now - 864_000, now - 777_600),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(department(&old, MARKET_REGULATOR)["issued"], 0);
    let (s, p) = figures(&w.app, &auditor, &format!("?from={now}&to={}", now - 1)).await;
    assert_eq!(
        (s, p["type"].as_str()),
        (400, Some("https://tongban.example/problems/bad-period"))
    );
    // Only the auditor scope reads them.
    for token in [w.app.system(vec!["admin"]).await.1, w.token.clone()] {
        let (s, _) = figures(&w.app, &token, "").await;
        assert_eq!(s, 403);
    }
    let (s, _) = figures(&w.app, "nope", "").await;
    assert_eq!(s, 401);

    // The page, for an account with the auditor role.
    let rep = signed_in(&w.app, &w.rep_email).await;
    let Landing::Page(_, 403, _) = rep.get("/supervision").await else {
        panic!("not an auditor yet")
    };
    let Landing::Page(_, 200, account) = rep.get("/account").await else {
        panic!("account page")
    };
    assert!(
        !account.contains("id=\"account-supervision\""),
        "no link for a non-auditor"
    );
    let (ok, out, err) = w.app.cli(&["account", "auditor", &w.rep_email]).await;
    assert!(ok, "{out} {err}");
    let Landing::Page(_, 200, account) = rep.get("/account").await else {
        panic!("account page")
    };
    assert!(
        account.contains("href=\"/supervision\""),
        "an auditor's account page links to it"
    );
    let Landing::Page(_, 200, page) = rep.get("/supervision?lang=en").await else {
        panic!()
    };
    let row = page
        .split(&format!("data-uscc=\"{MARKET_REGULATOR}\""))
        .nth(1)
        .unwrap();
    for cell in [
        "<td class=\"issued\">3</td>",
        "<td class=\"revoked\">1</td>",
        "<td class=\"failed\">1</td>",
        "h (2)",
    ] {
        assert!(row.contains(cell), "{cell} in {row}");
    }
    // A period the page cannot show, or a date it cannot read: the form again, with the reason in
    // the page's language (no parser's message), the dates as typed.
    for query in [
        "from=2020-01-01&to=2030-12-31",
        "from=2024-03-01&to=2024-02-01",
        "from=01/02/2024&to=2024-02-01",
    ] {
        let Landing::Page(_, 400, page) =
            rep.get(&format!("/supervision?lang=zh-CN&{query}")).await
        else {
            panic!("{query}: refused")
        };
        assert!(page.contains("无法显示该时间段"), "{query}");
        assert!(
            !page.contains("invalid digit") && !page.contains("need from"),
            "{query}"
        );
        assert!(
            page.contains("name=\"from\""),
            "{query}: the form is there to correct"
        );
    }
}
