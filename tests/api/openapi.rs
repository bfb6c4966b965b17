//! The OpenAPI document (`openapi/tongban.yaml`) against the code. The document is read with
//! `serde_norway` into JSON and checked:
//!
//! - its operations are exactly the `/api/v1`, `/status-lists`, `/pki` and `/openapi.yaml` routes the
//!   router mounts (`tongban::http::ROUTES`), each with a summary, security, its path parameters,
//!   and every error as `application/problem+json` with the shared `Problem` schema;
//! - the served `/openapi.yaml` is the file;
//! - requests without (or with bogus) credentials and with bad bodies get a documented status, and
//!   every 4xx is a problem whose kind the response's description names;
//! - the request schemas' examples deserialise into the handlers' Rust types, and a property the
//!   document calls required is one the code requires (and the reverse);
//! - the enums of the verification report are the code's checks and verdicts;
//! - real answers along the main flows (issue, replay, batch, status changes, queries, wallet,
//!   shares, access log, verification, status lists) match the documented status, media type,
//!   headers and JSON Schema.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::header::HeaderMap;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};
use crate::holders::signed_in;
use crate::licences::{request, world, ENTERPRISE, OTHER_DEPARTMENT};

const DOCUMENT: &str = include_str!("../../openapi/tongban.yaml");

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];
const PROBLEM_TYPE: &str = "https://tongban.example/problems/";

/// The request body schema of each operation that takes one, and the Rust type its handler reads.
const BODIES: [(&str, &str, &str); 8] = [
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
];

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

// ---------------------------------------------------------------------------------------------
// The document.

/// The document as JSON. Read through `serde_norway::Value`, which refuses a duplicate key (read
/// straight into JSON, the last of two equal keys would silently win).
pub(crate) fn document() -> Value {
    let yaml: serde_norway::Value =
        serde_norway::from_str(DOCUMENT).unwrap_or_else(|e| panic!("openapi/tongban.yaml: {e}"));
    serde_json::to_value(yaml).unwrap_or_else(|e| panic!("openapi/tongban.yaml as JSON: {e}"))
}

/// (METHOD, path) → operation object.
pub(crate) fn operations(doc: &Value) -> BTreeMap<(String, String), Value> {
    let mut ops = BTreeMap::new();
    let paths = doc["paths"].as_object().expect("paths");
    for (path, item) in paths {
        for (k, op) in item.as_object().expect("a path item") {
            if METHODS.contains(&k.as_str()) {
                ops.insert((k.to_uppercase(), path.clone()), op.clone());
            } else {
                assert!(
                    ["summary", "description", "parameters", "servers"].contains(&k.as_str()),
                    "{path}: unexpected key {k}"
                );
            }
        }
    }
    ops
}

fn template_params(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(str::to_owned)
        .collect()
}

/// Resolve a local `$ref` (`#/components/...`) once.
pub(crate) fn deref<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => doc
            .pointer(r.strip_prefix('#').expect("a local $ref"))
            .unwrap_or_else(|| panic!("dangling $ref {r}")),
        None => v,
    }
}

/// Validate `instance` against a schema of the document (which may `$ref` its components).
fn schema_errors(doc: &Value, schema: &Value, instance: &Value) -> Vec<String> {
    let mut root = match schema {
        Value::Object(m) => m.clone(),
        _ => panic!("a schema must be an object: {schema}"),
    };
    root.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    root.insert("components".into(), doc["components"].clone());
    let v = jsonschema::validator_for(&Value::Object(root))
        .unwrap_or_else(|e| panic!("a schema of the document does not compile: {e}"));
    v.iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

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

// ---------------------------------------------------------------------------------------------
// Checking one answer against the document.

struct Api {
    doc: Value,
    ops: BTreeMap<(String, String), Value>,
    /// Headers every answer carries (the middleware's), which no operation documents.
    global_headers: BTreeSet<String>,
}

impl Api {
    async fn new(app: &TestApp) -> Self {
        let doc = document();
        let ops = operations(&doc);
        let r = app
            .http()
            .get(format!("{}/healthz", app.addr))
            .send()
            .await
            .unwrap();
        let mut global_headers: BTreeSet<String> =
            r.headers().keys().map(|k| k.as_str().to_owned()).collect();
        for h in [
            "content-type",
            "content-length",
            "date",
            "cache-control",
            "vary",
            "transfer-encoding",
            "connection",
        ] {
            global_headers.insert(h.into());
        }
        Self {
            doc,
            ops,
            global_headers,
        }
    }

    fn op(&self, method: &str, template: &str) -> &Value {
        self.ops
            .get(&(method.to_owned(), template.to_owned()))
            .unwrap_or_else(|| panic!("{method} {template} is not documented"))
    }

    /// What is wrong with this answer to `method template`, according to the document.
    fn check(
        &self,
        method: &str,
        template: &str,
        status: u16,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Vec<String> {
        let at = format!("{method} {template} → {status}");
        let mut bad = Vec::new();
        let responses = &self.op(method, template)["responses"];
        let Some(resp) = responses.get(status.to_string()) else {
            let documented: Vec<&String> = responses.as_object().unwrap().keys().collect();
            bad.push(format!(
                "{at}: status not documented (documented: {documented:?}); body {}",
                String::from_utf8_lossy(body)
            ));
            return bad;
        };
        let resp = deref(&self.doc, resp);
        let ct = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match resp.get("content").and_then(Value::as_object) {
            None => {
                if !body.is_empty() {
                    bad.push(format!("{at}: documented without content, but has a body"));
                }
            }
            Some(content) => match content.get(&ct) {
                None => bad.push(format!(
                    "{at}: content type {ct:?} not documented ({:?})",
                    content.keys().collect::<Vec<_>>()
                )),
                Some(media) if ct.ends_with("json") => {
                    match serde_json::from_slice::<Value>(body) {
                        Err(e) => bad.push(format!("{at}: not JSON: {e}")),
                        Ok(v) => {
                            for e in schema_errors(&self.doc, &media["schema"], &v) {
                                bad.push(format!("{at}: {e} in {v}"));
                            }
                            if ct == "application/problem+json" {
                                bad.extend(self.check_problem(&at, resp, status, &v));
                            }
                        }
                    }
                }
                Some(_) => {}
            },
        }
        if status >= 400 && ct != "application/problem+json" {
            bad.push(format!(
                "{at}: an error that is not application/problem+json but {ct:?}: {}",
                String::from_utf8_lossy(body)
            ));
        }
        let documented: BTreeMap<String, &Value> = resp
            .get("headers")
            .and_then(Value::as_object)
            .map(|h| h.iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect())
            .unwrap_or_default();
        for (name, h) in &documented {
            if h["required"] == json!(true) && !headers.contains_key(name.as_str()) {
                bad.push(format!("{at}: the required header {name} is missing"));
            }
        }
        for name in headers.keys() {
            let n = name.as_str();
            if !self.global_headers.contains(n) && !documented.contains_key(n) {
                bad.push(format!("{at}: the header {n} is not documented"));
            }
        }
        bad
    }

    /// A problem's status is the HTTP status, and its kind is named in the response's description.
    fn check_problem(&self, at: &str, resp: &Value, status: u16, p: &Value) -> Vec<String> {
        let mut bad = Vec::new();
        if p["status"] != json!(status) {
            bad.push(format!("{at}: the problem's status is {}", p["status"]));
        }
        let kind = p["type"]
            .as_str()
            .and_then(|t| t.strip_prefix(PROBLEM_TYPE))
            .unwrap_or("?");
        let described = resp["description"].as_str().unwrap_or("");
        if !described.contains(&format!("`{kind}`")) {
            bad.push(format!(
                "{at}: the problem kind `{kind}` is not named in the description {described:?} ({p})"
            ));
        }
        bad
    }
}

struct Sent {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Sent {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

async fn send(
    http: &reqwest::Client,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, Vec<u8>)>,
) -> Result<Sent, String> {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut rb = http.request(m, url);
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    if let Some((ct, b)) = body {
        rb = rb.header("content-type", ct).body(b);
    }
    let r = rb
        .send()
        .await
        .map_err(|e| format!("{method} {url}: {e}"))?;
    Ok(Sent {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        body: r
            .bytes()
            .await
            .map_err(|e| format!("{method} {url}: {e}"))?
            .to_vec(),
    })
}

// ---------------------------------------------------------------------------------------------
// The tests.

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
        tongban::licences::status::REASONS
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

/// A probe: a label, headers, and an optional (content type, body).
type Probe<'a> = (&'a str, Vec<(&'a str, &'a str)>, Option<(&'a str, Vec<u8>)>);
/// A probe of a path: the documented template, the concrete path, headers.
type PathProbe<'a> = (&'a str, String, Vec<(&'a str, &'a str)>);

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

/// Without credentials, with bogus ones, and with bodies that are not JSON: every answer is a
/// documented status, every error a problem whose kind the description names, and no secured
/// operation answers 2xx.
#[tokio::test]
async fn anonymous_and_bad_requests_get_documented_problems() {
    let app = spawn_app().await;
    let api = Api::new(&app).await;
    let http = app.http();
    let mut bad = Vec::new();
    for ((method, template), op) in &api.ops {
        let mut path = template.clone();
        for p in op["parameters"].as_array().into_iter().flatten() {
            if p["in"] == "path" {
                let example = p["example"].as_str().expect("a string example");
                path = path.replace(&format!("{{{}}}", p["name"].as_str().unwrap()), example);
            }
        }
        let url = format!("{}{path}", app.addr);
        let reqs = op["security"].as_array().unwrap();
        let public = reqs.is_empty() || reqs.iter().any(|r| r.as_object().unwrap().is_empty());
        let takes_body = op.get("requestBody").is_some();
        let empty = || takes_body.then(|| ("application/json", b"{}".to_vec()));

        let mut probes: Vec<Probe> = vec![("no credentials", vec![], empty())];
        for req in reqs {
            for name in req.as_object().unwrap().keys() {
                let h = match api.doc["components"]["securitySchemes"][name]["type"].as_str() {
                    Some("apiKey") => ("cookie", "tongban_session=not-a-session"),
                    _ => ("authorization", "Bearer not-a-token"),
                };
                probes.push(("bogus credentials", vec![h], empty()));
            }
        }
        if takes_body {
            probes.push(("a text body", vec![], Some(("text/plain", b"x".to_vec()))));
            probes.push((
                "broken JSON",
                vec![],
                Some(("application/json", b"{".to_vec())),
            ));
        }
        for (what, headers, body) in probes {
            match send(&http, method, &url, &headers, body).await {
                Err(e) => bad.push(e),
                Ok(s) => {
                    for e in api.check(method, template, s.status, &s.headers, &s.body) {
                        bad.push(format!("[{what}] {e}"));
                    }
                    if !public && s.status < 300 {
                        bad.push(format!(
                            "[{what}] {method} {template}: {} without credentials",
                            s.status
                        ));
                    }
                }
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// One request of the flows below.
struct Call<'a> {
    method: &'static str,
    template: &'static str,
    path: String,
    bearer: Option<&'a str>,
    body: Option<Value>,
    headers: Vec<(&'static str, String)>,
}

fn get<'a>(template: &'static str) -> Call<'a> {
    Call {
        method: "GET",
        template,
        path: template.into(),
        bearer: None,
        body: None,
        headers: Vec::new(),
    }
}

fn post<'a>(template: &'static str, body: Value) -> Call<'a> {
    Call {
        method: "POST",
        body: Some(body),
        ..get(template)
    }
}

fn delete<'a>(template: &'static str) -> Call<'a> {
    Call {
        method: "DELETE",
        ..get(template)
    }
}

impl<'a> Call<'a> {
    /// The concrete path (or absolute URL) for the template.
    fn at(self, path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            ..self
        }
    }
    fn bearer(self, token: &'a str) -> Self {
        Self {
            bearer: Some(token),
            ..self
        }
    }
    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// Sends the calls of the main flows and checks each answer, and each JSON request body the code
/// accepted, against the document; collects every disagreement.
struct Flow<'a> {
    api: &'a Api,
    base: String,
    bad: Vec<String>,
    /// Answers that carried `idempotent-replayed`.
    replayed: usize,
}

impl Flow<'_> {
    /// Send `c` with `http` (cookies and all), expecting `status` (a precondition of the flow).
    async fn expect(&mut self, http: &reqwest::Client, status: u16, c: Call<'_>) -> Value {
        let auth = c.bearer.map(|t| format!("Bearer {t}"));
        let mut headers: Vec<(&str, &str)> =
            c.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        if let Some(a) = &auth {
            headers.push(("authorization", a));
        }
        let url = if c.path.starts_with("http") {
            c.path.clone()
        } else {
            format!("{}{}", self.base, c.path)
        };
        let raw = c
            .body
            .as_ref()
            .map(|b| ("application/json", b.to_string().into_bytes()));
        let s = send(http, c.method, &url, &headers, raw)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let at = format!("{} {}", c.method, c.path);
        assert_eq!(
            s.status,
            status,
            "{at}: {}",
            String::from_utf8_lossy(&s.body)
        );
        self.bad.extend(
            self.api
                .check(c.method, c.template, s.status, &s.headers, &s.body),
        );
        // A request the code accepted must be one the document allows.
        if let (Some(b), 200..=299) = (&c.body, s.status) {
            let op = self.api.op(c.method, c.template);
            let schema = &op["requestBody"]["content"]["application/json"]["schema"];
            for e in schema_errors(&self.api.doc, schema, b) {
                self.bad.push(format!(
                    "{at}: the accepted request {b} fails the schema: {e}"
                ));
            }
        }
        if s.headers.get("idempotent-replayed").is_some() {
            self.replayed += 1;
        }
        s.json()
    }
}

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

/// Rejections that happen before a handler runs are documented problems too: query strings and path
/// segments that do not parse (our `ApiQuery`/`ApiPath`, not axum's plain-text rejections), a huge
/// `page` (clamped, never an overflow), a method a path does not have (405 problem), and a 410 titled
/// "Gone".
#[tokio::test]
async fn rejections_before_the_handlers_are_documented_problems() {
    let w = world().await;
    let api = Api::new(&w.app).await;
    let http = w.app.http();
    let auth = format!("Bearer {}", w.token);
    let querier = w
        .app
        .department(OTHER_DEPARTMENT, "北京市住房公积金管理中心")
        .await;
    let querier = format!("Bearer {}", w.app.dept_token(&querier).await);
    let mut bad = Vec::new();
    let probes: [PathProbe; 5] = [
        // src/http/wallet.rs: `Query<DepartmentQuery>` (missing holder_kind).
        ("/api/v1/licences", "/api/v1/licences?purpose=x".into(), vec![("authorization", auth.as_str())]),
        // src/http/wallet.rs: `Query<WalletQuery>`, before any authentication.
        ("/api/v1/me/licences", "/api/v1/me/licences?page=abc".into(), vec![]),
        // src/http/api.rs: `Query<AtTime>`.
        ("/status-lists/{department}", "/status-lists/x?time=abc".into(), vec![]),
        // `Path<String>` with a segment that is not UTF-8.
        ("/api/v1/shares/{token}", "/api/v1/shares/%FF".into(), vec![]),
        // src/licences/access.rs: `page.max(0) * PAGE_MAX` overflows (a panic in a debug build).
        (
            "/api/v1/licences",
            format!(
                "/api/v1/licences?holder_kind=enterprise&holder_id={ENTERPRISE}&type_code={}&purpose=x&page=9223372036854775807",
                w.type_code
            ),
            vec![("authorization", querier.as_str())],
        ),
    ];
    for (template, path, headers) in probes {
        match send(
            &http,
            "GET",
            &format!("{}{path}", w.app.addr),
            &headers,
            None,
        )
        .await
        {
            Err(e) => bad.push(e),
            Ok(s) => bad.extend(api.check("GET", template, s.status, &s.headers, &s.body)),
        }
    }
    // A method the path does not have: axum's bare 405.
    let url = format!("{}/api/v1/licences", w.app.addr);
    let s = send(&http, "PUT", &url, &[], None).await.unwrap();
    let ct = s
        .headers
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    if ct.as_deref() != Some("application/problem+json") {
        bad.push(format!(
            "PUT /api/v1/licences → {}: content type {ct:?}",
            s.status
        ));
    }
    // src/http/api.rs: the title of a LicenceError's problem is "Internal error" for any status
    // it does not list, 410 included.
    let url = format!("{}/api/v1/shares/nope", w.app.addr);
    let p = send(&http, "GET", &url, &[], None).await.unwrap().json();
    if p["status"] == 410 && p["title"] == "Internal error" {
        bad.push(format!(
            "GET /api/v1/shares/{{token}} → 410 titled \"Internal error\": {p}"
        ));
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
