//! Identity proofing: a self-registered (claimed) identity reaches no licence and blocks no one; the
//! real person registers anyway, is proven at a counter, gets their licences, and the squatter's
//! account is detached and told. Activation codes: expired, reused, wrong-number and brute-forced
//! codes are refused, the 6th wrong code in a row throttled.

use serde_json::{json, Value};

use crate::helpers::{auth_url, exchange, resident_id, ClientSpec, Landing, TestApp};
use crate::holders::signed_in;
use crate::licences::{request, world, ENTERPRISE, MARKET_REGULATOR};
use tongban::identity::proofing;

/// A licence type held by citizens (a driving licence, say), issued by the market regulator.
pub fn citizen_type() -> Value {
    json!({
        "code": format!("{MARKET_REGULATOR}005"),
        "name_zh": "机动车驾驶证", "name_en": "Driving licence",
        "holder_kinds": ["citizen"],
        "schema": {
            "type": "object", "required": ["class"], "additionalProperties": false,
            "properties": { "class": { "type": "string", "title": "准驾车型" } }
        },
        "disclosable": ["class"],
        "validity_days": 3650,
        "issuers": [MARKET_REGULATOR],
        "queriers": []
    })
}

fn citizen_licence(type_code: &str, name: &str, id_number: &str) -> Value {
    json!({
        "type_code": type_code,
        "holders": [{ "kind": "citizen", "id": id_number, "name": name }],
        "fields": { "class": "C1" }
    })
}

async fn json_get(d: &crate::helpers::Driver, url: &str) -> (u16, Value) {
    let r = d.http.get(url).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn json_post(d: &crate::helpers::Driver, url: &str, body: &Value) -> (u16, Value) {
    let r = d.http.post(url).json(body).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Counter staff of the world's department, signed in.
async fn counter_staff(app: &TestApp, dept_id: &str) -> crate::helpers::Driver {
    let (staff, _, email) = app.citizen("窗口工作人员").await;
    proofing::grant_role(&app.state.identity, &staff, dept_id, proofing::COUNTER, 0)
        .await
        .unwrap();
    signed_in(app, &email).await
}

#[tokio::test]
async fn a_claimed_identity_reaches_no_licence_and_the_real_person_proven_at_a_counter_detaches_it()
{
    let w = world().await;
    let app = &w.app;
    // The enterprise's licence: its proven legal representative reads it.
    let (s, business, _) = app
        .post_json("/api/v1/licences", &w.token, &request(&w), &[])
        .await;
    assert_eq!(s, 201);
    let rep_number: String = {
        let a = tongban::identity::accounts::find_by_identifier(&app.state.identity, &w.rep_email)
            .await
            .unwrap()
            .unwrap();
        tongban::identity::accounts::id_number(&app.state.identity, &a).unwrap()
    };

    // A squatter self-registers with the representative's name and number: not refused, and not
    // the representative either.
    let (_, _, squatter_email) = app.citizen_with("林法人", &rep_number, None).await;
    let s = signed_in(app, &squatter_email).await;
    let (st, p) = json_get(&s, &format!("{}/api/v1/me/licences", app.addr)).await;
    assert_eq!(
        (st, p["type"].as_str()),
        (
            403,
            Some("https://tongban.example/problems/identity-not-proven")
        ),
        "{p}"
    );
    let (st, _) = json_get(
        &s,
        &format!("{}/api/v1/me/licences?as={ENTERPRISE}", app.addr),
    )
    .await;
    assert_eq!(st, 403, "nor the enterprise's, acting for it");
    let id = business["id"].as_str().unwrap();
    let share =
        json!({ "disclose": ["address"], "purpose": "开户", "expires_in": 600, "as": ENTERPRISE });
    let (st, _) = json_post(
        &s,
        &format!("{}/api/v1/me/licences/{id}/shares", app.addr),
        &share,
    )
    .await;
    assert_eq!(st, 403, "nor share it");
    let page = s
        .http
        .get(format!("{}/account/licences/{id}", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 403, "nor see its page");
    let dl = s
        .http
        .get(format!("{}/account/licences/{id}/download", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(dl.status().as_u16(), 404, "nor download it");
    let list = s
        .http
        .get(format!("{}/account/licences", app.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        list.contains("id=\"not-proven\"") && !list.contains(id),
        "the list says how to prove the identity"
    );
    let (st, log) = json_get(&s, &format!("{}/api/v1/me/access-log", app.addr)).await;
    assert_eq!(
        (st, log["accesses"].as_array().map(Vec::len)),
        (200, Some(0))
    );

    // A portal the squatter signs in to, asking to act for the enterprise and read licences: no
    // enterprise is offered, and the consent read is refused.
    let portal = app
        .client(ClientSpec {
            scopes: vec!["openid", "enterprise", "licences"],
            licence_types: vec![w.type_code.clone()],
            ..Default::default()
        })
        .await;
    let (url, v) = auth_url(app, &portal, "openid enterprise licences", &[]);
    let landing = s.get(&url).await;
    let Landing::Page(p, 200, consent) = landing else {
        panic!(
            "the squatter goes straight to consent: {:?}",
            landing.param("error_description")
        )
    };
    assert_eq!(
        p, "/consent",
        "no enterprise to choose: a claimed identity acts for none"
    );
    let landing = s
        .submit("/consent", &consent, &[("decision", "allow")])
        .await;
    let (_, tokens) = exchange(app, &portal, &landing.code(), &v).await;
    let at = tokens["access_token"].as_str().unwrap();
    let r = app
        .http()
        .get(format!(
            "{}/api/v1/me/licences?purpose=%E6%A0%B8%E9%AA%8C",
            app.addr
        ))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403, "the consent read is refused");

    // Another number: the squatter registers first, the real person after (not blocked).
    let number = resident_id();
    let (squatter2, _, squatter2_email) = app.citizen_with("王真人", &number, None).await;
    let (real, _, real_email) = app.citizen_with("王真人", &number, None).await;
    let t = app.licence_type(citizen_type()).await;
    let (st, p, _) = app
        .post_json(
            "/api/v1/licences",
            &w.token,
            &citizen_licence(&t, "王真人", &number),
            &[],
        )
        .await;
    assert_eq!(
        (st, p["type"].as_str()),
        (422, Some("https://tongban.example/problems/unknown-holder")),
        "no proven holder yet: {p}"
    );

    // Counter staff check the document in person and prove the real person's identity.
    let staff = counter_staff(app, &w.dept.row.id).await;
    let proof = json!({ "account": real_email, "id_kind": "resident", "id_number": number, "name": "王真人", "evidence": "居民身份证原件" });
    let wrong_name = json!({ "account": real_email, "id_number": number, "name": "王假人", "evidence": "居民身份证原件" });
    let (st, p) = json_post(
        &staff,
        &format!("{}/api/v1/counter/proofings", app.addr),
        &wrong_name,
    )
    .await;
    assert_eq!(
        (st, p["type"].as_str()),
        (
            422,
            Some("https://tongban.example/problems/identity-mismatch")
        ),
        "{p}"
    );
    let (st, p) = json_post(
        &s,
        &format!("{}/api/v1/counter/proofings", app.addr),
        &proof,
    )
    .await;
    assert_eq!(st, 403, "only counter staff prove: {p}");
    let (st, p) = json_post(
        &staff,
        &format!("{}/api/v1/counter/proofings", app.addr),
        &proof,
    )
    .await;
    assert_eq!((st, p["detached"].as_u64()), (200, Some(1)), "{p}");
    let (st, _) = json_post(
        &staff,
        &format!("{}/api/v1/counter/proofings", app.addr),
        &proof,
    )
    .await;
    assert_eq!(st, 409, "proven once");

    // The real person now gets licences; the squatter sees none and is told.
    let (st, issued, _) = app
        .post_json(
            "/api/v1/licences",
            &w.token,
            &citizen_licence(&t, "王真人", &number),
            &[],
        )
        .await;
    assert_eq!(st, 201, "{issued}");
    let r = signed_in(app, &real_email).await;
    let (st, wallet) = json_get(&r, &format!("{}/api/v1/me/licences", app.addr)).await;
    assert_eq!(
        (st, wallet["licences"][0]["id"].clone()),
        (200, issued["id"].clone())
    );
    let s2 = signed_in(app, &squatter2_email).await;
    let (st, _) = json_get(&s2, &format!("{}/api/v1/me/licences", app.addr)).await;
    assert_eq!(st, 403);
    let account = s2
        .http
        .get(format!("{}/account", app.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        account.contains("notice-identity_detached"),
        "the squatter is told"
    );
    let detached = tongban::storage::accounts::by_id(&app.state.db, &squatter2)
        .await
        .unwrap()
        .unwrap();
    assert!(
        detached.claimed_index.is_none() && detached.email.is_some(),
        "detached, other data kept"
    );
    let events = proofing::events(&app.state.identity, &real).await.unwrap();
    assert_eq!(
        (
            events.len(),
            events[0].method.as_str(),
            events[0].department_id.as_deref()
        ),
        (1, "counter", Some(w.dept.row.id.as_str()))
    );
    let audited: Vec<(String, String)> = sqlx::query_as(
        "SELECT action, object FROM audit_events WHERE object IN ($1, $2) ORDER BY id",
    )
    .bind(format!("account:{real}"))
    .bind(format!("account:{squatter2}"))
    .fetch_all(&app.state.db.pool)
    .await
    .unwrap();
    assert_eq!(
        audited,
        vec![
            (
                "identity.detached".to_owned(),
                format!("account:{squatter2}")
            ),
            ("identity.proven".to_owned(), format!("account:{real}")),
        ],
        "proving and detaching are audited"
    );
}

#[tokio::test]
async fn activation_codes_are_bound_single_use_expiring_and_throttled() {
    let w = world().await;
    let app = &w.app;
    let number = resident_id();
    let (_, _, email) = app.citizen_with("陈激活", &number, None).await;
    let issue = |n: String| {
        let app = &w.app;
        let dept = w.dept.row.id.clone();
        async move {
            proofing::issue_code(
                &app.state.identity,
                &dept,
                "resident",
                &n,
                30,
                tongban::domain::time::now(),
            )
            .await
            .unwrap()
        }
    };
    let code = issue(number.clone()).await;
    let other_number_code = issue(resident_id()).await;
    let d = signed_in(app, &email).await;
    let activate = |code: String| {
        let d = &d;
        let url = format!("{}/api/v1/me/activation", app.addr);
        async move { json_post(d, &url, &json!({ "code": code })).await }
    };

    // Bound to the number: another number's code is refused.
    let (st, p) = activate(other_number_code.clone()).await;
    assert_eq!(
        (st, p["type"].as_str()),
        (422, Some("https://tongban.example/problems/code-invalid")),
        "{p}"
    );
    // Expired: the right code, a month and a day later, is refused (the domain, at that time).
    let a = tongban::identity::accounts::find_by_identifier(&app.state.identity, &email)
        .await
        .unwrap()
        .unwrap();
    let later = tongban::domain::time::now() + 31 * 86_400;
    let e = proofing::redeem(&app.state.identity, &a, &code, "203.0.113.9", later).await;
    assert!(
        matches!(e, Err(proofing::ProofingError::CodeInvalid)),
        "{e:?}"
    );
    // The right code, typed loosely, proves the identity.
    let (st, p) = activate(code.to_lowercase().replace('-', " ")).await;
    assert_eq!((st, p["proven"].as_bool()), (200, Some(true)), "{p}");
    let page = d
        .http
        .get(format!("{}/account", app.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("notice-identity_proven"));

    // Reused: another account claiming the same number cannot use the spent code.
    let (_, _, second) = app.citizen_with("陈激活", &number, None).await;
    let d2 = signed_in(app, &second).await;
    let (st, _) = json_post(
        &d2,
        &format!("{}/api/v1/me/activation", app.addr),
        &json!({ "code": code }),
    )
    .await;
    assert_eq!(st, 422, "a spent code is refused");

    // Brute force: five wrong codes are refused one by one; the sixth in a row is throttled, even
    // when it is right.
    let number3 = resident_id();
    let (_, _, third) = app.citizen_with("赵暴力", &number3, None).await;
    let right = issue(number3.clone()).await;
    let d3 = signed_in(app, &third).await;
    for i in 0..5 {
        let (st, _) = json_post(
            &d3,
            &format!("{}/api/v1/me/activation", app.addr),
            &json!({ "code": format!("WRNG-CODE-{i:04}-XXXX") }),
        )
        .await;
        assert_eq!(st, 422, "wrong code {i}");
    }
    let (st, p) = json_post(
        &d3,
        &format!("{}/api/v1/me/activation", app.addr),
        &json!({ "code": right }),
    )
    .await;
    assert_eq!(
        (st, p["type"].as_str()),
        (429, Some("https://tongban.example/problems/throttled")),
        "{p}"
    );
}
