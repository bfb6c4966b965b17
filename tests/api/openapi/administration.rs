//! The administration API's and supervision's answers match the document.

use serde_json::json;

use super::{get, post, Api, Call, Flow};
use crate::helpers::spawn_app;

/// The administration API's answers along its flow, refusals included, match the document.
#[tokio::test]
async fn administration_answers_match_the_document() {
    const DEPTS: &str = "/api/v1/admin/departments";
    const DEPT: &str = "/api/v1/admin/departments/{uscc}";
    const RENEW: &str = "/api/v1/admin/departments/{uscc}/renew";
    const REVOKE: &str = "/api/v1/admin/certificates/{serial}/revoke";
    const TYPES: &str = "/api/v1/admin/licence-types";
    const TYPE: &str = "/api/v1/admin/licence-types/{code}";
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let mut f = Flow {
        api: &api,
        base: app.addr.clone(),
        bad: Vec::new(),
        replayed: 0,
    };
    let http = app.http();
    let (_, token) = app.system(vec!["admin"]).await;
    let token = token.as_str();
    let uscc = crate::licences::MARKET_REGULATOR;
    let dept = json!({ "uscc": uscc, "name_zh": "福州市市场监督管理局", "name_en": "Fuzhou market regulator", "iss": "https://scjg.fuzhou.gov.example.cn" });
    let d = f
        .expect(&http, 201, post(DEPTS, dept.clone()).bearer(token))
        .await;
    f.expect(&http, 409, post(DEPTS, dept).bearer(token)).await;
    let bad = json!({ "uscc": "91350100M000100Y44", "name_zh": "x", "name_en": "x", "iss": "https://x.example.cn" });
    f.expect(&http, 422, post(DEPTS, bad).bearer(token)).await;
    f.expect(&http, 200, get(DEPTS).bearer(token)).await;
    let one = format!("/api/v1/admin/departments/{uscc}");
    f.expect(&http, 200, get(DEPT).at(&one).bearer(token)).await;
    f.expect(
        &http,
        404,
        get(DEPT).at("/api/v1/admin/departments/x").bearer(token),
    )
    .await;
    let renew = format!("{one}/renew");
    let renew_call = Call {
        method: "POST",
        ..get(RENEW)
    };
    f.expect(&http, 200, renew_call.at(&renew).bearer(token))
        .await;
    let serial = d["certificates"][0]["serial"].as_str().unwrap();
    let revoke = format!("/api/v1/admin/certificates/{serial}/revoke");
    let reason = json!({ "reason": "key compromise" });
    f.expect(
        &http,
        200,
        post(REVOKE, reason.clone()).at(&revoke).bearer(token),
    )
    .await;
    f.expect(
        &http,
        409,
        post(REVOKE, reason.clone()).at(&revoke).bearer(token),
    )
    .await;
    f.expect(
        &http,
        400,
        post(REVOKE, json!({ "reason": "" }))
            .at(&revoke)
            .bearer(token),
    )
    .await;
    let none = "/api/v1/admin/certificates/00/revoke";
    f.expect(&http, 404, post(REVOKE, reason).at(none).bearer(token))
        .await;

    let def = crate::licences::business_licence_type(uscc);
    f.expect(&http, 201, post(TYPES, def.clone()).bearer(token))
        .await;
    f.expect(&http, 409, post(TYPES, def.clone()).bearer(token))
        .await;
    let mut bad = def;
    bad["code"] = json!(format!("{uscc}002"));
    bad["disclosable"] = json!(["nope"]);
    f.expect(&http, 422, post(TYPES, bad).bearer(token)).await;
    f.expect(&http, 200, get(TYPES).bearer(token)).await;
    // Supervision, for an auditing system.
    let (_, audit_token) = app.system(vec!["auditor"]).await;
    const SUPERVISION: &str = "/api/v1/supervision";
    f.expect(&http, 200, get(SUPERVISION).bearer(&audit_token))
        .await;
    f.expect(
        &http,
        400,
        get(SUPERVISION)
            .at("/api/v1/supervision?from=10&to=5")
            .bearer(&audit_token),
    )
    .await;
    f.expect(&http, 403, get(SUPERVISION).bearer(token)).await;
    let code = format!("/api/v1/admin/licence-types/{uscc}001");
    f.expect(&http, 200, get(TYPE).at(&code).bearer(token))
        .await;
    f.expect(&http, 404, get(TYPE).at(format!("{code}9")).bearer(token))
        .await;
    assert!(f.bad.is_empty(), "{}", f.bad.join("\n"));
}
