//! The document's operations against the router's routes; the served document.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::{deref, document, operations, template_params, DOCUMENT, METHODS};
use crate::helpers::spawn_app;

/// The request body schema of each operation that takes one, and the Rust type its handler reads.
const BODIES: [(&str, &str, &str); 10] = [
    ("POST", "/api/v1/licences", "IssueRequest"),
    ("POST", "/api/v1/admin/departments", "DepartmentRequest"),
    (
        "POST",
        "/api/v1/admin/certificates/{serial}/revoke",
        "CertificateRevocationRequest",
    ),
    (
        "POST",
        "/api/v1/admin/licence-types",
        "LicenceTypeDefinition",
    ),
    ("POST", "/api/v1/licences/batch", "Batch"),
    ("POST", "/api/v1/licences/{id}/{action}", "StatusChange"),
    ("POST", "/api/v1/verify", "VerifyRequest"),
    ("POST", "/api/v1/me/licences/{id}/shares", "NewShare"),
    ("POST", "/api/v1/counter/proofings", "CounterProofing"),
    ("POST", "/api/v1/me/activation", "Activation"),
];

// ---------------------------------------------------------------------------------------------
// The routes of the code.

/// Every (METHOD, path) the router mounts under the documented prefixes: `tongban::http::ROUTES`,
/// declared by the same macro that mounts them.
fn code_routes() -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (method, path) in tongban::http::ROUTES {
        assert!(
            METHODS.contains(method),
            "{path}: `{method}` is not an HTTP method of OpenAPI"
        );
        let documented = path.starts_with("/api/v1/")
            || path.starts_with("/status-lists/")
            || path.starts_with("/pki/")
            || *path == "/openapi.yaml";
        if documented {
            let m = method.to_uppercase();
            assert!(
                out.insert((m.clone(), (*path).to_owned())),
                "{m} {path} is mounted twice"
            );
        }
    }
    assert!(
        out.len() >= 10,
        "the router mounts too little under the documented prefixes: {out:?}"
    );
    out
}

#[test]
fn the_document_describes_exactly_the_routes_of_the_code() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let ops = operations(&doc);
    let documented: BTreeSet<(String, String)> = ops.keys().cloned().collect();
    let mounted = code_routes();
    let undocumented: Vec<_> = mounted.difference(&documented).collect();
    let unmounted: Vec<_> = documented.difference(&mounted).collect();
    assert!(
        undocumented.is_empty() && unmounted.is_empty(),
        "routes of the router (tongban::http::ROUTES) missing from openapi/tongban.yaml: {undocumented:?}; \
         operations of openapi/tongban.yaml the router does not mount: {unmounted:?}"
    );

    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    let mut ids = BTreeSet::new();
    let mut bad = Vec::new();
    for ((method, path), op) in &ops {
        let at = format!("{method} {path}");
        if op["summary"].as_str().is_none_or(|s| s.trim().is_empty()) {
            bad.push(format!("{at}: no summary"));
        }
        if !op["operationId"]
            .as_str()
            .is_some_and(|id| ids.insert(id.to_owned()))
        {
            bad.push(format!("{at}: no operationId, or a repeated one"));
        }
        // Security: explicit on every operation, naming declared schemes and scopes.
        match op["security"].as_array() {
            None => bad.push(format!("{at}: no security (use `security: []` for public)")),
            Some(reqs) => {
                for req in reqs {
                    for (name, scopes) in req.as_object().unwrap() {
                        let Some(scheme) = schemes.get(name) else {
                            bad.push(format!("{at}: unknown security scheme {name}"));
                            continue;
                        };
                        for s in scopes.as_array().unwrap() {
                            let declared = scheme["flows"]
                                .as_object()
                                .into_iter()
                                .flat_map(|f| f.values())
                                .any(|f| f["scopes"].get(s.as_str().unwrap()).is_some());
                            if !declared {
                                bad.push(format!("{at}: scope {s} not declared by {name}"));
                            }
                        }
                    }
                }
            }
        }
        // Path parameters: exactly the template's, required, with an example (the probes use it).
        let params: Vec<&Value> = op["parameters"]
            .as_array()
            .map(|p| p.iter().map(|p| deref(&doc, p)).collect())
            .unwrap_or_default();
        let in_path: BTreeSet<String> = params
            .iter()
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect();
        let template: BTreeSet<String> = template_params(path).into_iter().collect();
        if in_path != template {
            bad.push(format!(
                "{at}: path parameters {in_path:?}, template {template:?}"
            ));
        }
        for p in params.iter().filter(|p| p["in"] == "path") {
            if p["required"] != json!(true) || p.get("example").is_none() {
                bad.push(format!(
                    "{at}: path parameter {} needs required and an example",
                    p["name"]
                ));
            }
        }
        // Request bodies: the handler's type.
        let expected = BODIES
            .iter()
            .find(|(m, p, _)| m == method && p == path)
            .map(|(_, _, s)| format!("#/components/schemas/{s}"));
        let actual = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .map(str::to_owned);
        if expected != actual || (actual.is_some() && op["requestBody"]["required"] != json!(true))
        {
            bad.push(format!(
                "{at}: request body {actual:?}, the handler reads {expected:?}"
            ));
        }
        // Responses: errors are problem details with the shared schema and a description.
        let responses = op["responses"].as_object();
        if responses.is_none_or(|r| r.is_empty()) {
            bad.push(format!("{at}: no responses"));
        }
        for (status, resp) in responses.into_iter().flatten() {
            let resp = deref(&doc, resp);
            if resp["description"].as_str().is_none_or(|d| d.is_empty()) {
                bad.push(format!("{at} {status}: no description"));
            }
            if status.starts_with('4') || status.starts_with('5') {
                let content = resp["content"].as_object();
                let ok = content.is_some_and(|c| {
                    c.len() == 1
                        && c.get("application/problem+json")
                            .is_some_and(|m| m["schema"]["$ref"] == "#/components/schemas/Problem")
                });
                if !ok {
                    bad.push(format!(
                        "{at} {status}: not application/problem+json with Problem"
                    ));
                }
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[tokio::test]
async fn the_served_document_is_the_file() {
    let app = spawn_app().await;
    let r = app
        .http()
        .get(format!("{}/openapi.yaml", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/yaml");
    assert_eq!(r.text().await.unwrap(), DOCUMENT);
    assert_eq!(tongban::http::OPENAPI, DOCUMENT);
}
