//! The document's schemas against the Rust types of the handlers and the code's enums.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::{document, schema_errors};

/// Does the handler's Rust type accept this JSON body?
fn code_accepts(schema: &str, v: &Value) -> Result<(), String> {
    use serde_json::from_value as de;
    let v = v.clone();
    match schema {
        "IssueRequest" => de::<tongban::licences::issue::IssueRequest>(v).map(drop),
        "HolderRef" => de::<tongban::licences::issue::HolderRef>(v).map(drop),
        "Batch" => de::<tongban::http::api::Batch>(v).map(drop),
        "StatusChange" => de::<tongban::http::api::StatusChange>(v).map(drop),
        "VerifyRequest" => de::<tongban::http::api::VerifyRequest>(v).map(drop),
        "NewShare" => de::<tongban::http::wallet::NewShare>(v).map(drop),
        "DepartmentRequest" => de::<tongban::http::admin::DepartmentRequest>(v).map(drop),
        "CertificateRevocationRequest" => {
            de::<tongban::http::admin::RevokeCertRequest>(v).map(drop)
        }
        "LicenceTypeDefinition" => de::<tongban::licences::catalogue::LicenceType>(v).map(drop),
        other => panic!("no Rust type known for the schema {other}"),
    }
    .map_err(|e| e.to_string())
}

#[test]
fn the_report_and_request_enums_are_the_codes() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    let list = |name: &str| -> Vec<String> {
        schemas[name]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} has no enum"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    // The nine checks, in the order the report lists them.
    assert_eq!(list("CheckName"), tongban::licences::verify::CHECKS);
    // Every verdict: each documented one deserialises, and there are as many as the enum has.
    let variants: BTreeSet<String> = tongban::licences::verify::Verdict::ALL
        .iter()
        .map(|v| v.as_str().to_owned())
        .collect();
    let verdicts: BTreeSet<String> = list("Verdict").into_iter().collect();
    assert_eq!(
        verdicts, variants,
        "the Verdict enum of the document and of the code"
    );
    for v in &verdicts {
        serde_json::from_value::<tongban::licences::verify::Verdict>(json!(v))
            .unwrap_or_else(|e| panic!("verdict {v}: {e}"));
    }
    let outcome = schemas["Check"]["properties"]["outcome"]["enum"]
        .as_array()
        .unwrap();
    assert_eq!(outcome.len(), 3);
    for o in outcome {
        serde_json::from_value::<tongban::licences::verify::CheckOutcome>(o.clone())
            .unwrap_or_else(|e| panic!("outcome {o}: {e}"));
    }
    // Reason codes, holder and document kinds.
    let reasons = schemas["StatusChange"]["properties"]["reason"]["enum"]
        .as_array()
        .unwrap();
    assert_eq!(
        reasons
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect::<Vec<_>>(),
        tongban::licences::revocation::REASONS
    );
    for k in list("HolderKind") {
        serde_json::from_value::<tongban::licences::catalogue::HolderKind>(json!(k))
            .unwrap_or_else(|e| panic!("holder kind {k}: {e}"));
    }
    for k in list("IdKind") {
        let parsed = tongban::domain::DocumentKind::parse(&k).map(|d| d.as_str());
        assert_eq!(parsed, Some(k.as_str()), "id kind {k}");
    }
}

#[test]
fn request_schemas_are_the_handlers_types() {
    let doc = document();
    let mut bad = Vec::new();
    for name in [
        "IssueRequest",
        "HolderRef",
        "Batch",
        "StatusChange",
        "VerifyRequest",
        "NewShare",
        "DepartmentRequest",
        "CertificateRevocationRequest",
        "LicenceTypeDefinition",
    ] {
        let schema = &doc["components"]["schemas"][name];
        let examples = schema["examples"]
            .as_array()
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| panic!("{name} has no examples"));
        for ex in examples {
            for e in schema_errors(&doc, schema, ex) {
                bad.push(format!("{name}: the example {ex} fails the schema: {e}"));
            }
            if let Err(e) = code_accepts(name, ex) {
                bad.push(format!("{name}: the code refuses the example {ex}: {e}"));
            }
        }
        let full = examples[0].as_object().unwrap();
        let props = schema["properties"].as_object().unwrap();
        let required: Vec<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().map(|v| v.as_str().unwrap()).collect())
            .unwrap_or_default();
        for p in props.keys() {
            if !full.contains_key(p) {
                bad.push(format!("{name}: the first example lacks the property {p}"));
                continue;
            }
            let mut without = full.clone();
            without.remove(p);
            let accepted = code_accepts(name, &Value::Object(without)).is_ok();
            match (required.contains(&p.as_str()), accepted) {
                (true, true) => bad.push(format!(
                    "{name}: {p} is required, the code does not need it"
                )),
                (false, false) => bad.push(format!("{name}: {p} is optional, the code needs it")),
                _ => {}
            }
        }
        if schema["additionalProperties"] == json!(false) {
            let mut more = full.clone();
            more.insert("not_a_property".into(), json!(1));
            if code_accepts(name, &Value::Object(more)).is_ok() {
                bad.push(format!(
                    "{name}: additionalProperties is false, the code takes any"
                ));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
