//! Real answers along the main flows match the document.

use serde_json::json;

use super::{delete, get, post, Api, Flow};
use crate::holders::signed_in;
use crate::licences::{request, world, ENTERPRISE, OTHER_DEPARTMENT};

#[tokio::test]
async fn real_answers_match_the_document() {
    const ISSUE: &str = "/api/v1/licences";
    const BATCH: &str = "/api/v1/licences/batch";
    const CHANGE: &str = "/api/v1/licences/{id}/{action}";
    const VERIFY_PATH: &str = "/api/v1/verify";
    const LIST: &str = "/status-lists/{department}";
    const ME: &str = "/api/v1/me/licences";
    const SHARES: &str = "/api/v1/me/licences/{id}/shares";
    const OPEN: &str = "/api/v1/shares/{token}";
    const WITHDRAW: &str = "/api/v1/me/shares/{id}";
    const LOG: &str = "/api/v1/me/access-log";
    const KEY: &str = "idempotency-key";

    let w = world().await;
    let api = Api::new(&w.app).await;
    let mut f = Flow {
        api: &api,
        base: w.app.addr.clone(),
        bad: Vec::new(),
        replayed: 0,
    };
    let http = w.app.http();
    let token = w.token.as_str();

    // Issuance; an idempotent replay; a reused key; a malformed key; an unknown type; bad fields.
    let req = request(&w);
    let issue = || post(ISSUE, req.clone()).bearer(token);
    let issued = f.expect(&http, 201, issue().header(KEY, "openapi-1")).await;
    let again = f.expect(&http, 201, issue().header(KEY, "openapi-1")).await;
    assert_eq!((&again, f.replayed), (&issued, 1), "the replay");
    let mut other = req.clone();
    other["fields"]["registered_capital"] = json!(5);
    f.expect(
        &http,
        422,
        post(ISSUE, other).bearer(token).header(KEY, "openapi-1"),
    )
    .await;
    f.expect(&http, 400, issue().header(KEY, "k".repeat(256)))
        .await;
    let mut unknown_type = req.clone();
    unknown_type["type_code"] = json!(format!("{}999", crate::licences::MARKET_REGULATOR));
    f.expect(&http, 404, post(ISSUE, unknown_type.clone()).bearer(token))
        .await;
    let mut bad_fields = req.clone();
    bad_fields["fields"]["registered_capital"] = json!("a lot");
    f.expect(&http, 422, post(ISSUE, bad_fields).bearer(token))
        .await;
    let id = issued["id"].as_str().unwrap().to_owned();

    // A batch with one good and one refused licence; an empty batch.
    let batch = json!({ "licences": [req, unknown_type] });
    let results = f.expect(&http, 200, post(BATCH, batch).bearer(token)).await;
    assert_eq!(results["results"][1]["status"], 404, "{results}");
    f.expect(
        &http,
        400,
        post(BATCH, json!({ "licences": [] })).bearer(token),
    )
    .await;

    // Status changes, the wrong ones included.
    let reason = |r: &str| json!({ "reason": r });
    for (action, why, status) in [
        ("suspend", "under_investigation", 200),
        ("suspend", "under_investigation", 409),
        ("explode", "other", 404),
        ("reinstate", "because", 400),
        ("reinstate", "other", 200),
    ] {
        let path = format!("/api/v1/licences/{id}/{action}");
        f.expect(
            &http,
            status,
            post(CHANGE, reason(why)).at(path).bearer(token),
        )
        .await;
    }
    let nothing = post(CHANGE, reason("other")).at("/api/v1/licences/1.2.3/revoke");
    f.expect(&http, 404, nothing.bearer(token)).await;

    // A department's query under its legal basis; without a purpose; without a legal basis.
    let querier = w
        .app
        .department(OTHER_DEPARTMENT, "北京市住房公积金管理中心")
        .await;
    let qt = w.app.dept_token(&querier).await;
    let query = |purpose: &str| {
        format!(
            "{ISSUE}?holder_kind=enterprise&holder_id={ENTERPRISE}&type_code={}&purpose={purpose}",
            w.type_code
        )
    };
    let found = f
        .expect(
            &http,
            200,
            get(ISSUE).at(query("%E6%A0%B8%E6%9F%A5")).bearer(&qt),
        )
        .await;
    assert_eq!(
        found["licences"].as_array().map(Vec::len),
        Some(2),
        "{found}"
    );
    f.expect(&http, 400, get(ISSUE).at(query("")).bearer(&qt))
        .await;
    f.expect(&http, 403, get(ISSUE).at(query("x")).bearer(token))
        .await;
    // A department's token is not a portal's: it lacks the `licences` scope.
    f.expect(
        &http,
        403,
        get(ME).at(format!("{ME}?purpose=x")).bearer(token),
    )
    .await;

    // Verification: a licence, and something that is not one.
    for (licence, verdict) in [
        (issued["licence"].as_str().unwrap(), "valid"),
        ("garbage", "malformed"),
    ] {
        let report = f
            .expect(&http, 200, post(VERIFY_PATH, json!({ "licence": licence })))
            .await;
        assert_eq!(report["verdict"], verdict, "{report}");
    }

    // The status list now, in the past and in the future; the root certificate.
    let uri = issued["status"]["uri"].as_str().unwrap();
    let now = tongban::domain::time::now();
    f.expect(&http, 200, get(LIST).at(uri)).await;
    f.expect(&http, 200, get(LIST).at(format!("{uri}?time={}", now - 10)))
        .await;
    f.expect(
        &http,
        400,
        get(LIST).at(format!("{uri}?time={}", now + 3600)),
    )
    .await;
    f.expect(&http, 200, get("/pki/root.pem")).await;

    // The holder (signed in): wallet, shares, access log.
    let rep = signed_in(&w.app, &w.rep_email).await;
    let h = &rep.http;
    f.expect(h, 200, get(ME).at(format!("{ME}?as={ENTERPRISE}")))
        .await;
    f.expect(h, 403, get(ME).at(format!("{ME}?as=91310000775785552L")))
        .await;
    let new_share = json!({ "disclose": ["address"], "purpose": "银行开户", "expires_in": 600, "as": ENTERPRISE });
    let mine = format!("/api/v1/me/licences/{id}/shares");
    let share = f
        .expect(h, 201, post(SHARES, new_share.clone()).at(&mine))
        .await;
    let mut short = new_share.clone();
    short["expires_in"] = json!(5);
    f.expect(h, 400, post(SHARES, short).at(&mine)).await;
    let not_mine = post(SHARES, new_share).at("/api/v1/me/licences/1.2.3/shares");
    f.expect(h, 404, not_mine).await;
    let url = share["url"].as_str().unwrap();
    f.expect(&http, 200, get(OPEN).at(url)).await;
    let withdraw = format!("/api/v1/me/shares/{}", share["id"].as_str().unwrap());
    f.expect(h, 204, delete(WITHDRAW).at(&withdraw)).await;
    f.expect(h, 404, delete(WITHDRAW).at(&withdraw)).await;
    f.expect(&http, 410, get(OPEN).at(url)).await;
    let log = f.expect(h, 200, get(LOG)).await;
    assert_eq!(
        log["accesses"].as_array().map(Vec::len),
        Some(3),
        "two licences queried, one share opened: {log}"
    );

    // The transparency log, public: the checkpoint and key (text), entries, proofs, a receipt.
    const ENTRIES: &str = "/api/v1/log/entries";
    const INCLUSION: &str = "/api/v1/log/inclusion";
    const CONSISTENCY: &str = "/api/v1/log/consistency";
    const RECEIPT: &str = "/api/v1/log/receipts/{id}";
    f.expect(&http, 200, get("/api/v1/log/checkpoint")).await;
    f.expect(&http, 200, get("/api/v1/log/key")).await;
    let entries = f
        .expect(
            &http,
            200,
            get(ENTRIES).at("/api/v1/log/entries?start=0&end=2"),
        )
        .await;
    assert_eq!(entries["entries"].as_array().map(Vec::len), Some(2));
    f.expect(
        &http,
        400,
        get(ENTRIES).at("/api/v1/log/entries?start=2&end=1"),
    )
    .await;
    f.expect(
        &http,
        200,
        get(INCLUSION).at("/api/v1/log/inclusion?index=0"),
    )
    .await;
    f.expect(
        &http,
        400,
        get(INCLUSION).at("/api/v1/log/inclusion?index=99999"),
    )
    .await;
    f.expect(
        &http,
        200,
        get(CONSISTENCY).at("/api/v1/log/consistency?old=1"),
    )
    .await;
    f.expect(
        &http,
        400,
        get(CONSISTENCY).at("/api/v1/log/consistency?old=0"),
    )
    .await;
    let receipt = f
        .expect(
            &http,
            200,
            get(RECEIPT).at(format!("/api/v1/log/receipts/{id}")),
        )
        .await;
    assert!(receipt["inclusion_proof"].is_array(), "{receipt}");
    f.expect(&http, 404, get(RECEIPT).at("/api/v1/log/receipts/nope"))
        .await;

    assert!(f.bad.is_empty(), "{}", f.bad.join("\n"));
}
