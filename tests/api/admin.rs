//! The administration API: an operator's system registers departments and licence types over HTTP
//! (the same functions as the CLI), and a department registered that way issues at once.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};
use crate::licences::{business_licence_type, ENTERPRISE};

async fn get(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    let r = app
        .http()
        .get(format!("{}{path}", app.addr))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    if status >= 400 {
        assert_eq!(
            r.headers()["content-type"],
            "application/problem+json",
            "{path}"
        );
    }
    (status, r.json().await.unwrap_or(Value::Null))
}

const DEPT: &str = "91350100M000100Y43";

#[tokio::test]
async fn an_operator_registers_departments_and_licence_types_over_http() {
    let app = spawn_app().await;
    let (_, admin) = app.system(vec!["admin"]).await;
    let (issuer_client, issuer_token) = app.system(vec!["licences:issue"]).await;

    // Only a client_credentials token with the admin scope may administer.
    let (s, _) = get(&app, "/api/v1/admin/departments", "not-a-token").await;
    assert_eq!(s, 401);
    let (s, p) = get(&app, "/api/v1/admin/departments", &issuer_token).await;
    assert_eq!(
        (s, p["type"].as_str()),
        (
            403,
            Some("https://tongban.example/problems/insufficient-scope")
        ),
        "{p}"
    );

    let dept = json!({
        "uscc": DEPT, "name_zh": "福州市市场监督管理局", "name_en": "Fuzhou market regulator",
        "iss": "https://scjg.fuzhou.gov.example.cn", "client_id": issuer_client.id,
    });
    let (s, d, _) = app
        .post_json("/api/v1/admin/departments", &admin, &dept, &[])
        .await;
    assert_eq!(s, 201, "{d}");
    let certs = d["certificates"].as_array().unwrap();
    let purposes: Vec<_> = certs
        .iter()
        .map(|c| c["purpose"].as_str().unwrap())
        .collect();
    assert!(
        purposes.contains(&"licence_signing") && purposes.contains(&"status_list_signing"),
        "{d}"
    );

    // Refusals, each a problem and nothing written.
    let refusals = [
        (dept.clone(), 409, "conflict"),
        (
            json!({ "uscc": "91350100M000100Y44", "name_zh": "x", "name_en": "x", "iss": "https://x.example.cn" }),
            422,
            "invalid-department",
        ),
        (
            json!({ "uscc": "91110000802100433B", "name_zh": "x", "name_en": "x", "iss": "http://x.example.cn" }),
            422,
            "invalid-department",
        ),
        (
            json!({ "uscc": "91110000802100433B", "name_zh": "x", "name_en": "x", "iss": "https://x.example.cn", "client_id": "nobody" }),
            422,
            "invalid-department",
        ),
        (json!({ "uscc": "91110000802100433B" }), 400, "invalid-json"),
    ];
    for (body, status, kind) in refusals {
        let (s, p, _) = app
            .post_json("/api/v1/admin/departments", &admin, &body, &[])
            .await;
        assert_eq!(s, status, "{body}: {p}");
        assert_eq!(
            p["type"],
            format!("https://tongban.example/problems/{kind}"),
            "{p}"
        );
    }
    let (s, list) = get(&app, "/api/v1/admin/departments", &admin).await;
    assert_eq!(
        (s, list["departments"].as_array().unwrap().len()),
        (200, 1),
        "{list}"
    );
    let (s, one) = get(&app, &format!("/api/v1/admin/departments/{DEPT}"), &admin).await;
    assert_eq!((s, one["id"].clone()), (200, d["id"].clone()));
    let (s, _) = get(&app, "/api/v1/admin/departments/91110000802100433B", &admin).await;
    assert_eq!(s, 404);

    // The catalogue.
    let def = business_licence_type(DEPT);
    let (s, t, _) = app
        .post_json("/api/v1/admin/licence-types", &admin, &def, &[])
        .await;
    assert_eq!((s, t["code"].clone()), (201, def["code"].clone()), "{t}");
    let (s, p, _) = app
        .post_json("/api/v1/admin/licence-types", &admin, &def, &[])
        .await;
    assert_eq!(
        (s, p["type"].as_str()),
        (409, Some("https://tongban.example/problems/conflict"))
    );
    let mut bad = business_licence_type(DEPT);
    bad["code"] = json!(format!("{DEPT}002"));
    bad["disclosable"] = json!(["no_such_field"]);
    let (s, p, _) = app
        .post_json("/api/v1/admin/licence-types", &admin, &bad, &[])
        .await;
    assert_eq!(
        (s, p["type"].as_str()),
        (
            422,
            Some("https://tongban.example/problems/invalid-licence-type")
        ),
        "{p}"
    );
    let (s, list) = get(&app, "/api/v1/admin/licence-types", &admin).await;
    assert_eq!(
        (s, list["licence_types"].as_array().unwrap().len()),
        (200, 1)
    );
    let (s, one) = get(
        &app,
        &format!("/api/v1/admin/licence-types/{DEPT}001"),
        &admin,
    )
    .await;
    assert_eq!((s, one["name_zh"].as_str()), (200, Some("营业执照")));
    let (s, _) = get(
        &app,
        &format!("/api/v1/admin/licence-types/{DEPT}002"),
        &admin,
    )
    .await;
    assert_eq!(s, 404);

    // The department registered over HTTP issues a licence of the type registered over HTTP.
    let (rep, _, _) = app.citizen("林法人").await;
    app.enterprise(ENTERPRISE, "深圳示范科技有限公司", &rep)
        .await;
    let issue = json!({
        "type_code": format!("{DEPT}001"),
        "holders": [{ "kind": "enterprise", "id": ENTERPRISE, "name": "深圳示范科技有限公司" }],
        "fields": { "company_name": "深圳示范科技有限公司", "legal_representative": "林法人", "registered_capital": 1 }
    });
    let (s, issued, _) = app
        .post_json("/api/v1/licences", &issuer_token, &issue, &[])
        .await;
    assert_eq!(s, 201, "{issued}");

    // Certificates: renewal adds a pair; a revocation is final.
    let (s, renewed, _) = app
        .post_json(
            &format!("/api/v1/admin/departments/{DEPT}/renew"),
            &admin,
            &json!({}),
            &[],
        )
        .await;
    assert_eq!(
        (s, renewed["certificates"].as_array().unwrap().len()),
        (200, 4),
        "{renewed}"
    );
    let serial = certs[0]["serial"].as_str().unwrap();
    let path = format!("/api/v1/admin/certificates/{serial}/revoke");
    let reason = json!({ "reason": "key compromise" });
    let (s, r, _) = app.post_json(&path, &admin, &reason, &[]).await;
    assert_eq!((s, r["serial"].as_str()), (200, Some(serial)), "{r}");
    let (s, p, _) = app.post_json(&path, &admin, &reason, &[]).await;
    assert_eq!(
        (s, p["type"].as_str()),
        (
            409,
            Some("https://tongban.example/problems/already-revoked")
        )
    );
    let (s, _, _) = app
        .post_json(
            "/api/v1/admin/certificates/00ff/revoke",
            &admin,
            &reason,
            &[],
        )
        .await;
    assert_eq!(s, 404);
    let (s, _, _) = app
        .post_json(&path, &admin, &json!({ "reason": " " }), &[])
        .await;
    assert_eq!(s, 400);
}
