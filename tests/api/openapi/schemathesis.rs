//! Regressions that schemathesis (`.ci/schemathesis.sh`) found, each answer checked against the
//! document.

use serde_json::{json, Value};

use super::{get, post, Api, Flow, PROBLEM_TYPE};
use crate::holders::signed_in;
use crate::licences::{request, world, ENTERPRISE};

/// A `Flow` over a licence world, for the regressions schemathesis (`.ci/schemathesis.sh`) found.
fn flow<'a>(api: &'a Api, w: &crate::licences::World) -> Flow<'a> {
    Flow {
        api,
        base: w.app.addr.clone(),
        bad: Vec::new(),
        replayed: 0,
    }
}

/// Found by schemathesis: arithmetic on a time any client may send overflowed (a panic, so no
/// answer, in a debug build; a wrapped value in release). Now each is a documented problem.
#[tokio::test]
async fn times_at_the_ends_of_the_64_bit_range_get_documented_problems() {
    const ISSUE: &str = "/api/v1/licences";
    const SUPERVISION: &str = "/api/v1/supervision";
    const TYPES: &str = "/api/v1/admin/licence-types";
    let w = world().await;
    let api = Api::new(&w.app).await;
    let mut f = flow(&api, &w);
    let http = w.app.http();

    // A valid_from so late that the type's default validity (3650 days) overflows.
    let mut late = request(&w);
    late["valid_from"] = json!(i64::MAX - 1);
    f.expect(&http, 400, post(ISSUE, late).bearer(&w.token))
        .await;
    // Times no verifier reads as a date (i64::MIN was issued, 201), before 1970 or after 9999.
    for (name, t) in [
        ("valid_from", i64::MIN),
        ("valid_from", -1),
        ("valid_until", i64::MAX),
        ("valid_from", 253_402_300_800),
    ] {
        let mut r = request(&w);
        r[name] = json!(t);
        f.expect(&http, 400, post(ISSUE, r).bearer(&w.token)).await;
    }
    // Supervision periods at the ends of the range.
    let (_, auditor) = w.app.system(vec!["auditor"]).await;
    for q in [
        "to=-9223372036854775808",
        "from=-9223372036854775808&to=9223372036854775807",
    ] {
        let at = format!("{SUPERVISION}?{q}");
        f.expect(&http, 400, get(SUPERVISION).at(at).bearer(&auditor))
            .await;
    }
    // A licence type's default validity: 1 to 36500 days, so that it cannot overflow either.
    let (_, admin) = w.app.system(vec!["admin"]).await;
    let mut def = crate::licences::business_licence_type(crate::licences::MARKET_REGULATOR);
    def["code"] = json!(format!("{}002", crate::licences::MARKET_REGULATOR));
    for days in [json!(0), json!(i64::MAX)] {
        def["validity_days"] = days;
        f.expect(&http, 422, post(TYPES, def.clone()).bearer(&admin))
            .await;
    }
    assert!(f.bad.is_empty(), "{}", f.bad.join("\n"));
}

/// Found by schemathesis: a batch holding a licence that does not match IssueRequest (fields not an
/// object; no holders; an unknown id_kind) was answered 200 with that licence refused, though the
/// document says a body that does not match Batch is `invalid-json`. Now it is refused whole; and
/// a null id_kind, which the code always took as the default, is documented.
#[tokio::test]
async fn a_batch_that_does_not_match_the_schema_is_refused_whole() {
    const ISSUE: &str = "/api/v1/licences";
    const BATCH: &str = "/api/v1/licences/batch";
    let w = world().await;
    let api = Api::new(&w.app).await;
    let mut f = flow(&api, &w);
    let http = w.app.http();
    let token = w.token.as_str();

    let mut not_object = request(&w);
    not_object["fields"] = json!([null, null]);
    let mut no_holders = request(&w);
    no_holders["holders"] = json!([]);
    let mut unknown_kind = request(&w);
    unknown_kind["holders"][0]["id_kind"] = json!("nope");
    // Found by schemathesis too: the document's bounds of valid_until (1970 to 9999).
    let mut beyond_9999 = request(&w);
    beyond_9999["valid_until"] = json!(253_402_300_800_i64);
    for wrong in [not_object, no_holders, unknown_kind, beyond_9999] {
        let batch = json!({ "licences": [request(&w), wrong] });
        let p = f.expect(&http, 400, post(BATCH, batch).bearer(token)).await;
        assert_eq!(p["type"], format!("{PROBLEM_TYPE}invalid-json"), "{p}");
    }
    let mut null_kind = request(&w);
    null_kind["holders"][0]["id_kind"] = Value::Null;
    f.expect(&http, 201, post(ISSUE, null_kind).bearer(token))
        .await;
    assert!(f.bad.is_empty(), "{}", f.bad.join("\n"));
}

/// Found by schemathesis: bounds the document states on query parameters that the code did not hold
/// (a negative page was read as page 0 and echoed as -1; the wallet took a purpose of any length).
#[tokio::test]
async fn the_documented_bounds_of_page_and_purpose_hold() {
    const ISSUE: &str = "/api/v1/licences";
    const ME: &str = "/api/v1/me/licences";
    let w = world().await;
    let api = Api::new(&w.app).await;
    let mut f = flow(&api, &w);
    let http = w.app.http();

    let query = format!(
        "{ISSUE}?holder_kind=enterprise&holder_id={ENTERPRISE}&type_code={}&purpose=x&page=-1",
        w.type_code
    );
    f.expect(&http, 400, get(ISSUE).at(query).bearer(&w.token))
        .await;
    let rep = signed_in(&w.app, &w.rep_email).await;
    let long = "x".repeat(201);
    for q in [format!("purpose={long}"), "page=-1".to_owned()] {
        f.expect(&rep.http, 400, get(ME).at(format!("{ME}?{q}")))
            .await;
    }
    f.expect(
        &rep.http,
        200,
        get(ME).at(format!("{ME}?purpose={}", &long[1..])),
    )
    .await;
    assert!(f.bad.is_empty(), "{}", f.bad.join("\n"));
}
