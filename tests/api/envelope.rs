//! The licence envelope is never the issuer's input: every claim name the envelope or SD-JWT owns
//! (`catalogue::RESERVED`, the one list) is refused in `fields`, even under a schema that admits any
//! name, and a schema that could admit one is refused at registration.

use serde_json::{json, Value};
use tongban::licences::catalogue::{LicenceType, RESERVED};

use crate::licences::{business_licence_type, request, world, World, MARKET_REGULATOR};

/// The business licence with its schema opened (no `additionalProperties`: JSON Schema's default
/// admits any name), stored as a type registered before registration refused such schemas was.
async fn open_type(w: &World) -> String {
    let mut def = business_licence_type(MARKET_REGULATOR);
    let code = format!("{MARKET_REGULATOR}009");
    def["code"] = json!(code);
    def["schema"]
        .as_object_mut()
        .unwrap()
        .remove("additionalProperties");
    let mut tx = w.app.state.db.begin().await.unwrap();
    tongban::storage::licence_types::insert(&mut tx, &code, &def.to_string(), 0)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    code
}

async fn licence_count(w: &World) -> i64 {
    sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM licences")
        .fetch_one(&w.app.state.db.pool)
        .await
        .unwrap()
        .0
}

#[tokio::test]
async fn no_envelope_claim_can_be_set_through_fields_even_under_an_open_schema() {
    let w = world().await;
    let code = open_type(&w).await;
    // The open type takes a field the schema does not list: it really is open.
    let mut ok = request(&w);
    ok["type_code"] = json!(code);
    ok["fields"]["remark"] = json!("an unlisted field");
    let (s, body, _) = w
        .app
        .post_json("/api/v1/licences", &w.token, &ok, &[])
        .await;
    assert_eq!(s, 201, "{body}");
    let before = licence_count(&w).await;

    let forged = |name: &str| match name {
        "status" => json!({ "status_list": { "idx": 0, "uri": "https://elsewhere.example/list" } }),
        "exp" | "nbf" | "iat" => json!(4_102_444_800_i64),
        "holders" | "_sd" => json!([]),
        _ => json!(format!("forged {name}")),
    };
    for name in RESERVED {
        let mut r = request(&w);
        r["type_code"] = json!(code);
        r["fields"][name] = forged(name);
        let (s, body, headers) = w.app.post_json("/api/v1/licences", &w.token, &r, &[]).await;
        assert_eq!(s, 422, "{name}: {body}");
        assert_eq!(
            headers["content-type"], "application/problem+json",
            "{name}"
        );
        assert_eq!(
            body["type"], "https://tongban.example/problems/reserved-field",
            "{name}: {body}"
        );
        assert!(body["detail"].as_str().unwrap().contains(name), "{body}");
    }
    // SD-JWT's names have a meaning at every depth: not inside a field's value either.
    for nested in [
        json!({ "_sd": ["x"] }),
        json!([{ "...": "x" }]),
        json!({ "a": [{ "_sd_alg": "sha-256" }] }),
    ] {
        let mut r = request(&w);
        r["type_code"] = json!(code);
        r["fields"]["remark"] = nested.clone();
        let (s, body, _) = w.app.post_json("/api/v1/licences", &w.token, &r, &[]).await;
        assert_eq!(s, 422, "{nested}: {body}");
        assert_eq!(
            body["type"],
            "https://tongban.example/problems/reserved-field"
        );
    }
    // A batch refuses each such licence on its own.
    let mut r = request(&w);
    r["type_code"] = json!(code);
    r["fields"]["vct"] = json!("https://elsewhere.example/licence-types/x");
    let (s, body, _) = w
        .app
        .post_json(
            "/api/v1/licences/batch",
            &w.token,
            &json!({ "licences": [r] }),
            &[],
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["results"][0]["status"], 422, "{body}");
    assert_eq!(licence_count(&w).await, before, "nothing was issued");
}

fn with_schema(schema: Value) -> Value {
    let mut def = business_licence_type(MARKET_REGULATOR);
    def["schema"] = schema;
    def["disclosable"] = json!([]);
    def
}

#[tokio::test]
async fn a_schema_that_could_admit_an_envelope_claim_is_refused_at_registration() {
    let props = json!({ "company_name": { "type": "string" } });
    let refused = [
        // JSON Schema's default: any other name is allowed.
        json!({ "type": "object", "properties": props }),
        json!({ "type": "object", "properties": props, "additionalProperties": true }),
        json!({ "type": "object", "properties": props, "additionalProperties": { "type": "string" } }),
        // Closed, but a pattern matches `vct`, `status`...
        json!({ "type": "object", "properties": props, "additionalProperties": false,
                "patternProperties": { "^v": { "type": "string" } } }),
        json!({ "type": "object", "properties": props, "additionalProperties": false,
                "patternProperties": { "": {} } }),
        // Named outright.
        json!({ "type": "object", "additionalProperties": false,
                "properties": { "company_name": {}, "exp": { "type": "integer" } } }),
        json!({ "type": "object", "additionalProperties": false,
                "properties": { "company_name": {}, "vct#integrity": {} } }),
        // Open, and the names it excludes are not all the reserved ones.
        json!({ "type": "object", "properties": props,
                "propertyNames": { "not": { "enum": ["vct", "status"] } } }),
    ];
    for schema in refused {
        let def = with_schema(schema.clone());
        let e = LicenceType::parse(&def.to_string()).expect_err(&schema.to_string());
        assert!(e.to_string().contains("envelope"), "{schema}: {e}");
    }
    let accepted = [
        json!({ "type": "object", "properties": props, "additionalProperties": false }),
        json!({ "type": "object", "properties": props, "additionalProperties": false,
                "patternProperties": { "^x-": { "type": "string" } } }),
        // Open to other names, but never to a reserved one.
        json!({ "type": "object", "properties": props,
                "propertyNames": { "not": { "enum": RESERVED } } }),
        json!({ "type": "object", "properties": props,
                "propertyNames": { "pattern": "^[a-z][a-z0-9_]*$", "not": { "enum": RESERVED } } }),
    ];
    for schema in accepted {
        let def = with_schema(schema.clone());
        LicenceType::parse(&def.to_string()).unwrap_or_else(|e| panic!("{schema}: {e}"));
    }

    // Through the administration API: a problem document, and nothing registered.
    let w = world().await;
    let (_, admin) = w.app.system(vec!["admin"]).await;
    let mut def = with_schema(json!({ "type": "object", "properties": props }));
    def["code"] = json!(format!("{MARKET_REGULATOR}008"));
    let (s, body, _) = w
        .app
        .post_json("/api/v1/admin/licence-types", &admin, &def, &[])
        .await;
    assert_eq!(s, 422, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("envelope"),
        "{body}"
    );
    let r = w
        .app
        .http()
        .get(format!(
            "{}/api/v1/admin/licence-types/{MARKET_REGULATOR}008",
            w.app.addr
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}
