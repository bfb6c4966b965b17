//! Electronic licences through the HTTP API: issuance, the status lifecycle seen through the signed
//! status list (decoded here by a decoder written from the IETF draft, independent of ours),
//! idempotency, concurrency, superseding, and refusals that write nothing.

use std::io::Read;

use serde_json::{json, Value};
use tongban::licences::id::LicenceId;

use crate::helpers::{spawn_app, TestApp, TestDepartment};

pub const MARKET_REGULATOR: &str = "91350100M000100Y43";
pub const OTHER_DEPARTMENT: &str = "91110000802100433B";
pub const ENTERPRISE: &str = "9144030071526726XG";

/// The business licence (营业执照) type, defined by and issued by the market regulator.
pub fn business_licence_type(issuer: &str) -> Value {
    json!({
        "code": format!("{issuer}001"),
        "name_zh": "营业执照", "name_en": "Business licence",
        "holder_kinds": ["enterprise"],
        "schema": {
            "type": "object",
            "required": ["company_name", "legal_representative", "registered_capital"],
            "additionalProperties": false,
            "properties": {
                "company_name": { "type": "string", "minLength": 1, "title": "名称" },
                "legal_representative": { "type": "string", "title": "法定代表人" },
                "registered_capital": { "type": "integer", "minimum": 0 },
                "address": { "type": "string", "title": "住所" }
            }
        },
        "disclosable": ["address", "legal_representative"],
        "validity_days": 3650,
        "issuers": [issuer],
        "queriers": [{ "department": OTHER_DEPARTMENT, "legal_basis": "《住房公积金管理条例》第十三条" }]
    })
}

pub struct World {
    pub app: TestApp,
    pub dept: TestDepartment,
    pub token: String,
    pub type_code: String,
    /// The enterprise's legal representative (a citizen, password `helpers::PASSWORD`).
    pub rep_email: String,
}

pub async fn world() -> World {
    world_on(spawn_app().await).await
}

pub async fn world_on(app: TestApp) -> World {
    let dept = app
        .department(MARKET_REGULATOR, "福州市市场监督管理局")
        .await;
    let type_code = app
        .licence_type(business_licence_type(MARKET_REGULATOR))
        .await;
    let (rep, _, rep_email) = app.citizen("林法人").await;
    app.enterprise(ENTERPRISE, "深圳示范科技有限公司", &rep)
        .await;
    let token = app.dept_token(&dept).await;
    World {
        app,
        dept,
        token,
        type_code,
        rep_email,
    }
}

pub fn request(w: &World) -> Value {
    json!({
        "type_code": w.type_code,
        "holders": [{ "kind": "enterprise", "id": ENTERPRISE, "name": "深圳示范科技有限公司" }],
        "fields": { "company_name": "深圳示范科技有限公司", "legal_representative": "林法人", "registered_capital": 1000000, "address": "深圳市南山区" }
    })
}

/// Status of `idx` in a status list token, decoded from the draft (base64url → zlib → 2 bits per
/// entry, entry 0 in the least significant bits of byte 0), without any of the service's code.
pub fn status_in_list(jwt: &str, idx: u64) -> u8 {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header: Value =
        serde_json::from_slice(&b64.decode(jwt.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!(header["typ"], "statuslist+jwt");
    assert!(
        header["x5c"].as_array().is_some_and(|c| c.len() == 2),
        "signed with the department's status-list certificate chain"
    );
    let payload: Value =
        serde_json::from_slice(&b64.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap();
    assert_eq!(payload["status_list"]["bits"], 2);
    assert!(payload["ttl"].as_i64().is_some());
    let compressed = b64
        .decode(payload["status_list"]["lst"].as_str().unwrap())
        .unwrap();
    let mut bytes = Vec::new();
    flate2::read::ZlibDecoder::new(&compressed[..])
        .read_to_end(&mut bytes)
        .unwrap();
    (bytes[(idx / 4) as usize] >> ((idx % 4) * 2)) & 0b11
}

pub async fn list_status(app: &TestApp, issued: &Value, time: Option<i64>) -> u8 {
    let uri = issued["status"]["uri"].as_str().unwrap();
    let url = match time {
        Some(t) => format!("{uri}?time={t}"),
        None => uri.to_owned(),
    };
    let r = app.http().get(url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/statuslist+jwt");
    assert!(r.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age"));
    status_in_list(
        &r.text().await.unwrap(),
        issued["status"]["idx"].as_u64().unwrap(),
    )
}

async fn count_licences(app: &TestApp) -> i64 {
    sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM licences")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap()
        .0
}

#[tokio::test]
async fn issue_suspend_reinstate_revoke_through_the_status_list() {
    let w = world().await;
    let (s, issued, _) = w
        .app
        .post_json("/api/v1/licences", &w.token, &request(&w), &[])
        .await;
    assert_eq!(s, 201, "{issued}");
    let id = issued["id"].as_str().unwrap();
    LicenceId::parse(id).expect("a valid GB/T 36904 identifier");
    assert!(id.starts_with(&format!(
        "1.2.156.3005.2.{}.{MARKET_REGULATOR}.",
        w.type_code
    )));
    assert_eq!(list_status(&w.app, &issued, None).await, 0);

    let step = |action: &'static str, reason: &'static str| {
        let (app, token) = (&w.app, &w.token);
        async move {
            app.post_json(
                &format!("/api/v1/licences/{id}/{action}"),
                token,
                &json!({ "reason": reason }),
                &[],
            )
            .await
        }
    };
    let (s, b, _) = step("suspend", "under_investigation").await;
    assert_eq!((s, b["status"].as_str()), (200, Some("suspended")));
    assert_eq!(list_status(&w.app, &issued, None).await, 2);
    let (s, b, _) = step("reinstate", "other").await;
    assert_eq!((s, b["status"].as_str()), (200, Some("valid")));
    assert_eq!(list_status(&w.app, &issued, None).await, 0);
    let (s, b, _) = step("revoke", "issued_in_error").await;
    assert_eq!((s, b["status"].as_str()), (200, Some("revoked")));
    assert_eq!(list_status(&w.app, &issued, None).await, 1);
    let (s, b, _) = step("reinstate", "other").await;
    assert_eq!(s, 409, "revocation is final: {b}");
    assert_eq!(b["type"], "https://tongban.example/problems/conflict");
    let (s, _, _) = step("revoke", "no_such_reason").await;
    assert_eq!(s, 400, "reason codes are checked");

    // The historical list. The changes above happened within a second or two; age the issuance by
    // 1000 s (instead of waiting) so "the status at issuance" is a distinct moment.
    sqlx::query("UPDATE licence_status_events SET at = at - 1000 WHERE seq = 1")
        .execute(&w.app.state.db.pool)
        .await
        .unwrap();
    let issued_at = issued["issued_at"].as_i64().unwrap() - 1000;
    assert_eq!(
        list_status(&w.app, &issued, Some(issued_at)).await,
        0,
        "valid when issued"
    );
    // The revocation's own second (it may be a later one than the issuance's on a busy machine).
    let (revoked_at,): (i64,) = sqlx::query_as(
        "SELECT MAX(at) FROM licence_status_events WHERE licence_id = $1 AND status = 1",
    )
    .bind(id)
    .fetch_one(&w.app.state.db.pool)
    .await
    .unwrap();
    assert_eq!(
        list_status(&w.app, &issued, Some(revoked_at)).await,
        1,
        "revoked since"
    );
}

#[tokio::test]
async fn an_idempotent_retry_never_issues_twice() {
    let w = world().await;
    let h = [("idempotency-key", "migration-batch-7-row-42")];
    let (s1, a, _) = w
        .app
        .post_json("/api/v1/licences", &w.token, &request(&w), &h)
        .await;
    let (s2, b, headers) = w
        .app
        .post_json("/api/v1/licences", &w.token, &request(&w), &h)
        .await;
    assert_eq!((s1, s2), (201, 201));
    assert_eq!(a, b, "the retry returns the first result");
    assert_eq!(headers["idempotent-replayed"], "true");
    assert_eq!(count_licences(&w.app).await, 1);
    let mut other = request(&w);
    other["fields"]["registered_capital"] = json!(5);
    let (s, p, _) = w
        .app
        .post_json("/api/v1/licences", &w.token, &other, &h)
        .await;
    assert_eq!(
        (s, p["type"].as_str()),
        (
            422,
            Some("https://tongban.example/problems/idempotency-key-reused")
        )
    );
    assert_eq!(count_licences(&w.app).await, 1);
}

#[tokio::test]
async fn a_thousand_concurrent_issuances_get_distinct_identifiers_and_status_indexes() {
    let w = std::sync::Arc::new(world().await);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..1000 {
        let w = w.clone();
        set.spawn(async move {
            w.app
                .post_json("/api/v1/licences", &w.token, &request(&w), &[])
                .await
        });
    }
    let (mut ids, mut idxs) = (
        std::collections::HashSet::new(),
        std::collections::HashSet::new(),
    );
    while let Some(r) = set.join_next().await {
        let (s, b, _) = r.unwrap();
        assert_eq!(s, 201, "{b}");
        LicenceId::parse(b["id"].as_str().unwrap()).expect("check character validates");
        ids.insert(b["id"].as_str().unwrap().to_owned());
        idxs.insert(b["status"]["idx"].as_u64().unwrap());
    }
    assert_eq!((ids.len(), idxs.len()), (1000, 1000));
    assert_eq!(count_licences(&w.app).await, 1000);
}

#[tokio::test]
async fn superseding_revokes_the_old_licence_and_links_it() {
    let w = world().await;
    let (_, old, _) = w
        .app
        .post_json("/api/v1/licences", &w.token, &request(&w), &[])
        .await;
    let mut req = request(&w);
    req["supersedes"] = old["id"].clone();
    req["fields"]["address"] = json!("深圳市福田区");
    let (s, new, _) = w
        .app
        .post_json("/api/v1/licences", &w.token, &req, &[])
        .await;
    assert_eq!(s, 201, "{new}");
    assert_eq!(new["supersedes"], old["id"]);
    assert_eq!(
        list_status(&w.app, &old, None).await,
        1,
        "the old licence is revoked"
    );
    let events = tongban::storage::licences::history(&w.app.state.db, old["id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(events.last().unwrap().reason, "superseded");
}

/// Departments (by their client) and enterprises' names are cached once found, refusals are not:
/// a department or an enterprise registered after a request was refused is found by the next one.
#[tokio::test]
async fn a_department_or_an_enterprise_registered_after_a_refusal_is_found_at_once() {
    let w = world().await;
    // Cached: the world's enterprise and department, found by an issuance.
    let (s, b, _) = w
        .app
        .post_json("/api/v1/licences", &w.token, &request(&w), &[])
        .await;
    assert_eq!(s, 201, "{b}");
    // An enterprise not registered yet: refused; registered; then issued to.
    let mut later = request(&w);
    later["holders"][0] =
        json!({ "kind": "enterprise", "id": "91310000775785552L", "name": "上海后来科技有限公司" });
    let (s, p, _) = w
        .app
        .post_json("/api/v1/licences", &w.token, &later, &[])
        .await;
    assert_eq!(
        (s, p["type"].as_str()),
        (422, Some("https://tongban.example/problems/unknown-holder"))
    );
    let (rep, _, _) = w.app.citizen("后来人").await;
    w.app
        .enterprise("91310000775785552L", "上海后来科技有限公司", &rep)
        .await;
    let (s, b, _) = w
        .app
        .post_json("/api/v1/licences", &w.token, &later, &[])
        .await;
    assert_eq!(s, 201, "{b}");
    // A client of no department: refused; made a department's client; then known as that
    // department (which may not issue this type: the refusal now says so).
    let (client, token) = w.app.system(vec!["licences:issue"]).await;
    let (s, p, _) = w
        .app
        .post_json("/api/v1/licences", &token, &request(&w), &[])
        .await;
    assert_eq!(s, 403, "{p}");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("belongs to no department"),
        "{p}"
    );
    tongban::licences::departments::register(
        &w.app.state.licences,
        tongban::licences::departments::NewDepartment {
            uscc: OTHER_DEPARTMENT,
            name_zh: "北京市住房公积金管理中心",
            name_en: "Housing fund",
            iss: "https://gjj.gov.example.cn",
            client_id: Some(&client.id),
        },
        "system",
        tongban::domain::time::now(),
    )
    .await
    .unwrap();
    let (s, p, _) = w
        .app
        .post_json("/api/v1/licences", &token, &request(&w), &[])
        .await;
    assert_eq!(s, 403, "{p}");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("may not issue this licence type"),
        "{p}"
    );
}

#[tokio::test]
async fn refusals_are_problem_details_and_write_nothing() {
    let w = world().await;
    // An issuer not authorised for the type.
    let other = w
        .app
        .department(OTHER_DEPARTMENT, "北京市住房公积金管理中心")
        .await;
    let other_token = w.app.dept_token(&other).await;
    let (s, p, h) = w
        .app
        .post_json("/api/v1/licences", &other_token, &request(&w), &[])
        .await;
    assert_eq!((s, p["status"].as_u64()), (403, Some(403)), "{p}");
    assert_eq!(h["content-type"], "application/problem+json");
    // A payload violating the schema.
    let mut bad = request(&w);
    bad["fields"]["registered_capital"] = json!("a lot");
    let (s, p, _) = w
        .app
        .post_json("/api/v1/licences", &w.token, &bad, &[])
        .await;
    assert_eq!(s, 422);
    assert!(
        p["detail"].as_str().unwrap().contains("registered_capital"),
        "{p}"
    );
    // An unknown holder, and a holder whose name does not match.
    let mut unknown = request(&w);
    unknown["holders"][0]["id"] = json!("91310000775785552L");
    let (s, p, _) = w
        .app
        .post_json("/api/v1/licences", &w.token, &unknown, &[])
        .await;
    assert_eq!(
        (s, p["type"].as_str()),
        (422, Some("https://tongban.example/problems/unknown-holder"))
    );
    let mut wrong_name = request(&w);
    wrong_name["holders"][0]["name"] = json!("别的公司");
    let (s, _, _) = w
        .app
        .post_json("/api/v1/licences", &w.token, &wrong_name, &[])
        .await;
    assert_eq!(s, 422);
    // An unknown type, malformed JSON, the wrong content type, no token, a user's token.
    let mut unknown_type = request(&w);
    unknown_type["type_code"] = json!(format!("{MARKET_REGULATOR}999"));
    assert_eq!(
        w.app
            .post_json("/api/v1/licences", &w.token, &unknown_type, &[])
            .await
            .0,
        404
    );
    let r = w
        .app
        .http()
        .post(format!("{}/api/v1/licences", w.app.addr))
        .bearer_auth(&w.token)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = w
        .app
        .http()
        .post(format!("{}/api/v1/licences", w.app.addr))
        .bearer_auth(&w.token)
        .form(&[("a", "b")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let r = w
        .app
        .http()
        .post(format!("{}/api/v1/licences", w.app.addr))
        .json(&request(&w))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Someone else's licence cannot have its status changed.
    let (_, mine, _) = w
        .app
        .post_json("/api/v1/licences", &w.token, &request(&w), &[])
        .await;
    let (s, _, _) = w
        .app
        .post_json(
            &format!("/api/v1/licences/{}/revoke", mine["id"].as_str().unwrap()),
            &other_token,
            &json!({"reason": "withdrawn"}),
            &[],
        )
        .await;
    assert_eq!(s, 403);
    assert_eq!(list_status(&w.app, &mine, None).await, 0);
    assert_eq!(
        count_licences(&w.app).await,
        1,
        "only the one good request wrote anything"
    );
}

/// Polls `fut` until it is ready or has been pending `k` times, then drops it: what hyper does to a
/// request's future at any await point when the client closes its connection.
async fn drop_after_pendings<F: std::future::Future>(fut: F, k: usize) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    let mut pendings = 0;
    std::future::poll_fn(|cx| match fut.as_mut().poll(cx) {
        std::task::Poll::Ready(v) => std::task::Poll::Ready(Some(v)),
        std::task::Poll::Pending if pendings == k => std::task::Poll::Ready(None),
        std::task::Poll::Pending => {
            pendings += 1;
            std::task::Poll::Pending
        }
    })
    .await
}

/// A client that goes away in the middle of an issuance, at whichever await point, never wedges
/// the database: every later issuance succeeds. (A request future dropped inside sqlx's `begin`
/// left SQLite's one connection inside a transaction, and every later write failed; the router
/// now runs each handler as a task of its own.)
#[tokio::test]
async fn a_client_that_goes_away_mid_issuance_wedges_nothing() {
    use tower::ServiceExt;
    let w = world().await;
    let body = request(&w).to_string();
    let issuance = || {
        let req = axum::http::Request::post("/api/v1/licences")
            .header("authorization", format!("Bearer {}", w.token))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.clone()))
            .unwrap();
        tongban::http::app(w.app.state.clone()).oneshot(req)
    };
    // How many times a whole issuance waits, through the same router.
    let mut waits = 0;
    loop {
        match drop_after_pendings(issuance(), waits).await {
            Some(r) => {
                assert_eq!(r.unwrap().status(), 201);
                break;
            }
            None => waits += 1,
        }
    }
    for k in 0..=waits {
        let _ = drop_after_pendings(issuance(), k).await;
        let (s, b, _) = w
            .app
            .post_json("/api/v1/licences", &w.token, &request(&w), &[])
            .await;
        assert_eq!(s, 201, "after a client went away at wait {k}: {b}");
    }
}

/// A batch is not all-or-nothing; one cut short is resumed by sending it again with the same
/// Idempotency-Key: each licence is recorded under `<key>/<position>`, so those already issued are
/// answered from the record and only the rest are issued.
#[tokio::test]
async fn a_batch_cut_short_is_resumed_with_its_idempotency_key() {
    let w = world().await;
    let key = [("idempotency-key", "migration-2026-12-04")];
    let mut second = request(&w);
    second["fields"]["address"] = json!("深圳市福田区");
    // The first send got only as far as its first licence (as if the node died after it).
    let (s, first, _) = w
        .app
        .post_json(
            "/api/v1/licences/batch",
            &w.token,
            &json!({ "licences": [request(&w)] }),
            &key,
        )
        .await;
    assert_eq!(s, 200, "{first}");
    assert_eq!(count_licences(&w.app).await, 1);
    let whole = json!({ "licences": [request(&w), second] });
    let (s, resumed, _) = w
        .app
        .post_json("/api/v1/licences/batch", &w.token, &whole, &key)
        .await;
    assert_eq!(s, 200, "{resumed}");
    let r = resumed["results"].as_array().unwrap();
    assert_eq!(r[0]["replayed"], true, "{resumed}");
    assert_eq!(r[0]["licence"]["id"], first["results"][0]["licence"]["id"]);
    assert_eq!(r[1]["status"], 201, "{resumed}");
    assert!(r[1].get("replayed").is_none());
    assert_eq!(count_licences(&w.app).await, 2, "each licence exactly once");
    // Sent a third time, everything comes from the record.
    let (_, again, _) = w
        .app
        .post_json("/api/v1/licences/batch", &w.token, &whole, &key)
        .await;
    assert!(again["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["replayed"] == true));
    assert_eq!(count_licences(&w.app).await, 2);
    // The same key for a different licence at a position: that licence is refused, not replayed.
    let mut other = request(&w);
    other["fields"]["registered_capital"] = json!(5);
    let (_, changed, _) = w
        .app
        .post_json(
            "/api/v1/licences/batch",
            &w.token,
            &json!({ "licences": [other] }),
            &key,
        )
        .await;
    assert_eq!(changed["results"][0]["status"], 422, "{changed}");
    assert_eq!(count_licences(&w.app).await, 2);
}

/// A licence's `vct` URL resolves, unauthenticated, to the type's metadata (SD-JWT VC Type
/// Metadata): names by language, claims with their titles and whether each is disclosable, the
/// schema, the issuing department by name; an unknown code is a 404 problem.
#[tokio::test]
async fn the_vct_url_publishes_the_licence_types_metadata() {
    let w = world().await;
    let (s, issued, _) = w
        .app
        .post_json("/api/v1/licences", &w.token, &request(&w), &[])
        .await;
    assert_eq!(s, 201, "{issued}");
    let jwt = issued["licence"]
        .as_str()
        .unwrap()
        .split('~')
        .next()
        .unwrap();
    let vct = crate::helpers::claims(jwt)["vct"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(vct, format!("{}/licence-types/{}", w.app.addr, w.type_code));
    let r = reqwest::get(&vct).await.unwrap();
    assert_eq!(r.status(), 200);
    let meta: Value = r.json().await.unwrap();
    assert_eq!(meta["vct"], vct.as_str());
    assert_eq!(
        meta["display"][1],
        json!({ "lang": "en", "name": "Business licence" })
    );
    let claims = meta["claims"].as_array().unwrap();
    let address = claims
        .iter()
        .find(|c| c["path"] == json!(["address"]))
        .unwrap();
    assert_eq!(address["sd"], "always");
    assert_eq!(address["display"][0]["label"], "住所");
    let name = claims
        .iter()
        .find(|c| c["path"] == json!(["company_name"]))
        .unwrap();
    assert_eq!(name["sd"], "never");
    assert_eq!(meta["issuers"][0]["name_zh"], "福州市市场监督管理局");
    assert_eq!(meta["schema"]["type"], "object");
    let r = reqwest::get(format!(
        "{}/licence-types/91350100M000100Y43999",
        w.app.addr
    ))
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
}

/// The sample definition the README and `licence-type add --help` point to registers as written
/// (through the CLI, as the README shows), and is then published at its `vct` URL.
#[tokio::test]
async fn the_sample_licence_type_file_registers_through_the_cli() {
    let app = spawn_app().await;
    app.department(MARKET_REGULATOR, "福州市市场监督管理局")
        .await;
    app.department(OTHER_DEPARTMENT, "北京住房公积金管理中心")
        .await;
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/licence-types/business-licence.json"
    );
    let (ok, out, err) = app.cli(&["licence-type", "add", file]).await;
    assert!(ok, "{out} {err}");
    let r = reqwest::get(format!("{}/licence-types/{MARKET_REGULATOR}001", app.addr))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
