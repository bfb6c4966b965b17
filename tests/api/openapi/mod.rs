//! The OpenAPI document (`openapi/tongban.yaml`) against the code. The document is read with
//! `serde_norway` into JSON; this module loads it and checks answers against it (`Api`, `Flow`), and
//! its submodules check:
//!
//! - `routes`: its operations are exactly the `/api/v1`, `/status-lists`, `/pki` and `/openapi.yaml`
//!   routes the router mounts (`tongban::http::ROUTES`), each with a summary, security, its path
//!   parameters, and every error as `application/problem+json` with the shared `Problem` schema;
//!   the served `/openapi.yaml` is the file;
//! - `problems`: requests without (or with bogus) credentials and with bad bodies get a documented
//!   status, and every 4xx is a problem whose kind the response's description names; so are the
//!   rejections before a handler runs;
//! - `schemas`: the request schemas' examples deserialise into the handlers' Rust types, and a
//!   property the document calls required is one the code requires (and the reverse); the enums of
//!   the verification report are the code's checks and verdicts;
//! - `answers`: real answers along the main flows (issue, replay, batch, status changes, queries,
//!   wallet, shares, access log, verification, status lists, transparency log) match the documented
//!   status, media type, headers and JSON Schema; `administration` does the same for the
//!   administration API and supervision;
//! - `schemathesis`: the regressions `.ci/schemathesis.sh` found (64-bit times, batches that do not
//!   match the schema, the bounds of query parameters).

mod administration;
mod answers;
mod problems;
mod routes;
mod schemas;
mod schemathesis;

use std::collections::{BTreeMap, BTreeSet};

use reqwest::header::HeaderMap;
use serde_json::{json, Value};

use crate::helpers::TestApp;

const DOCUMENT: &str = include_str!("../../../openapi/tongban.yaml");

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];
const PROBLEM_TYPE: &str = "https://tongban.example/problems/";

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
