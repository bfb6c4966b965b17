//! Text with a NUL is refused at the edge: every string parameter of every route (path segments,
//! query parameters, form fields, JSON body members), with a NUL in it, answers 4xx, never 5xx, on
//! the backend under test (PostgreSQL cannot store a NUL in `text`; a NUL that reached a query was
//! a 500 there). The routes are read from the route table (`src/http/mod.rs`); the parameters of
//! `/api/v1` and the other documented routes from the OpenAPI document, those of the pages and
//! OAuth endpoints from [`UNDOCUMENTED`], which must name every other route of the table.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::holders::signed_in;
use crate::licences::world;
use crate::openapi::{deref, document, operations};

/// The routes the OpenAPI document does not describe, and the query (GET) or form (POST)
/// parameters each reads.
const UNDOCUMENTED: &[(&str, &str, &[&str])] = &[
    ("GET", "/.well-known/openid-configuration", &["lang"]),
    ("GET", "/.well-known/oauth-authorization-server", &["lang"]),
    ("GET", "/jwks", &["lang"]),
    ("GET", "/licence-types/{code}", &[]),
    ("GET", "/authorize", AUTHORIZE),
    ("POST", "/authorize", AUTHORIZE),
    ("GET", "/authorize/resume", &["req", "lang"]),
    ("POST", "/token", TOKEN),
    ("GET", "/userinfo", &["access_token"]),
    ("POST", "/userinfo", &["access_token"]),
    (
        "POST",
        "/introspect",
        &["token", "token_type_hint", "client_id", "client_secret"],
    ),
    (
        "POST",
        "/revoke",
        &["token", "token_type_hint", "client_id", "client_secret"],
    ),
    ("GET", "/logout", LOGOUT),
    ("POST", "/logout", LOGOUT),
    ("GET", "/login", &["req", "lang"]),
    ("POST", "/login", &["username", "password", "csrf", "req"]),
    ("GET", "/login/factor", &["req", "lang"]),
    (
        "POST",
        "/login/factor",
        &["code", "ceremony", "credential", "csrf", "req"],
    ),
    ("POST", "/login/passkey/begin", &["mode", "csrf"]),
    (
        "POST",
        "/login/passkey",
        &["ceremony", "credential", "csrf", "req"],
    ),
    ("GET", "/login/forgot", &["req", "lang"]),
    ("POST", "/login/forgot", &["identifier", "csrf", "req"]),
    ("GET", "/login/reset", &["token", "lang"]),
    (
        "POST",
        "/login/reset",
        &["token", "new_password", "new_password_confirm", "csrf"],
    ),
    ("GET", "/register", &["req", "lang"]),
    ("POST", "/register", REGISTER),
    ("GET", "/select", &["req", "lang"]),
    ("POST", "/select", &["acting_for", "csrf", "req"]),
    ("GET", "/consent", &["req", "lang"]),
    ("POST", "/consent", &["decision", "csrf", "req"]),
    ("GET", "/account", &["lang"]),
    (
        "POST",
        "/account/password",
        &[
            "current_password",
            "new_password",
            "new_password_confirm",
            "csrf",
        ],
    ),
    ("POST", "/account/sessions/end", &["session_id", "csrf"]),
    (
        "POST",
        "/account/factors/remove",
        &["factor_id", "code", "ceremony", "credential", "csrf"],
    ),
    ("POST", "/account/totp/begin", &["csrf"]),
    ("GET", "/account/totp", &["lang"]),
    ("POST", "/account/totp", &["code", "csrf"]),
    (
        "POST",
        "/account/recovery-codes",
        &["code", "ceremony", "credential", "csrf"],
    ),
    ("POST", "/account/passkey/begin", &["csrf"]),
    (
        "POST",
        "/account/passkey",
        &["ceremony", "credential", "csrf"],
    ),
    (
        "POST",
        "/account/consents/withdraw",
        &["client_id", "acting_for", "csrf"],
    ),
    (
        "POST",
        "/account/agents/grant",
        &[
            "enterprise_id",
            "agent",
            "role",
            "days",
            "permission",
            "csrf",
        ],
    ),
    (
        "POST",
        "/account/agents/revoke",
        &["enterprise_id", "grant_id", "csrf"],
    ),
    ("POST", "/account/logout-all", &["csrf"]),
    ("POST", "/account/activate", &["code", "csrf"]),
    ("POST", "/account/email/send", &["csrf"]),
    ("GET", "/account/email/verify", &["token", "lang"]),
    ("POST", "/account/email/verify", &["token", "csrf"]),
    ("POST", "/account/phone/send", &["csrf"]),
    ("POST", "/account/phone/verify", &["code", "csrf"]),
    ("GET", "/account/licences", &["lang"]),
    ("GET", "/account/access-log", &["lang"]),
    ("GET", "/supervision", &["from", "to", "lang"]),
    ("GET", "/account/licences/{id}", &["lang"]),
    ("GET", "/account/licences/{id}/download", &[]),
    (
        "POST",
        "/account/licences/{id}/shares",
        &["disclose", "purpose", "expires_in", "as", "csrf"],
    ),
    ("GET", "/licences/{id}/check", &["lang"]),
    ("GET", "/shares/{token}", &["lang"]),
    ("GET", "/static/tongban.css", &[]),
    ("GET", "/docs", &["lang"]),
    ("GET", "/static/passkey.js", &[]),
    ("GET", "/", &[]),
    ("GET", "/healthz", &[]),
    ("GET", "/readyz", &[]),
    ("GET", "/metrics", &[]),
];

const AUTHORIZE: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "response_mode",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
    "acr_values",
    "ui_locales",
    "claims",
];
const TOKEN: &[&str] = &[
    "grant_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "refresh_token",
    "scope",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
];
const LOGOUT: &[&str] = &[
    "id_token_hint",
    "post_logout_redirect_uri",
    "state",
    "client_id",
    "ui_locales",
    "csrf",
    "confirm",
];
const REGISTER: &[&str] = &[
    "name",
    "id_kind",
    "id_number",
    "email",
    "phone",
    "password",
    "password_confirm",
    "csrf",
    "req",
];

const NUL: &str = "x\u{0}y";

/// Every (METHOD, path template) the router mounts (`tongban::http::ROUTES`, from the router's own
/// declaration).
fn route_table() -> BTreeSet<(String, String)> {
    let out: BTreeSet<(String, String)> = tongban::http::ROUTES
        .iter()
        .map(|(m, p)| (m.to_uppercase(), (*p).to_owned()))
        .collect();
    assert!(out.len() > 50, "the router mounts too little: {out:?}");
    out
}

/// One request with a NUL in one parameter.
struct Case {
    method: String,
    template: String,
    what: String,
    path: String,
    query: Vec<(String, String)>,
    form: Option<Vec<(String, String)>>,
    json: Option<Value>,
}

fn fill(template: &str, nul_in: Option<&str>) -> String {
    let mut out = String::new();
    for seg in template.split('/').skip(1) {
        out.push('/');
        match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) if Some(name) == nul_in => out.push_str("x%00y"),
            Some("action") => out.push_str("revoke"),
            Some(_) => out.push('x'),
            None => out.push_str(seg),
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

fn path_params(template: &str) -> Vec<String> {
    template
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}').map(str::to_owned))
        .collect()
}

/// Every place in `v` that holds a string, as JSON pointers.
fn string_slots(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::String(_) => out.push(at),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| string_slots(x, format!("{at}/{i}"), out)),
        Value::Object(o) => o
            .iter()
            .for_each(|(k, x)| string_slots(x, format!("{at}/{k}"), out)),
        _ => {}
    }
}

/// The cases of an operation of the OpenAPI document.
fn documented_cases(doc: &Value, method: &str, template: &str, op: &Value) -> Vec<Case> {
    let case = |what: String, path: String| Case {
        method: method.to_owned(),
        template: template.to_owned(),
        what,
        path,
        query: vec![],
        form: None,
        json: None,
    };
    let mut cases = Vec::new();
    for p in path_params(template) {
        cases.push(case(format!("path {p}"), fill(template, Some(&p))));
    }
    let item = &doc["paths"][template];
    let params = item["parameters"]
        .as_array()
        .into_iter()
        .chain(op["parameters"].as_array())
        .flatten()
        .map(|p| deref(doc, p));
    for p in params.filter(|p| p["in"] == "query") {
        let name = p["name"].as_str().unwrap();
        let mut c = case(format!("query {name}"), fill(template, None));
        c.query = vec![(name.to_owned(), NUL.to_owned())];
        cases.push(c);
    }
    let body = &op["requestBody"]["content"]["application/json"]["schema"];
    if !body.is_null() {
        let schema = deref(doc, body);
        let mut example = schema["examples"][0].clone();
        if !example.is_object() {
            example = json!({});
        }
        // Top-level string members the example leaves out, too.
        if let Some(props) = schema["properties"].as_object() {
            for (k, p) in props {
                let p = deref(doc, p);
                if example.get(k).is_none() && (p["type"] == "string" || p["enum"].is_array()) {
                    example[k] = json!("x");
                }
            }
        }
        let mut slots = Vec::new();
        string_slots(&example, String::new(), &mut slots);
        assert!(!slots.is_empty(), "{method} {template}: no string member");
        for slot in slots {
            let mut b = example.clone();
            *b.pointer_mut(&slot).unwrap() = json!(NUL);
            let mut c = case(format!("JSON {slot}"), fill(template, None));
            c.json = Some(b);
            cases.push(c);
        }
    }
    cases
}

fn undocumented_cases(method: &str, template: &str, params: &[&str]) -> Vec<Case> {
    let mut cases = Vec::new();
    for p in path_params(template) {
        cases.push(Case {
            method: method.to_owned(),
            template: template.to_owned(),
            what: format!("path {p}"),
            path: fill(template, Some(&p)),
            query: vec![],
            form: (method == "POST").then(Vec::new),
            json: None,
        });
    }
    for name in params {
        let pair = vec![(name.to_string(), NUL.to_owned())];
        let post = method == "POST";
        cases.push(Case {
            method: method.to_owned(),
            template: template.to_owned(),
            what: format!("{} {name}", if post { "form" } else { "query" }),
            path: fill(template, None),
            query: if post { vec![] } else { pair.clone() },
            form: post.then_some(pair),
            json: None,
        });
    }
    cases
}

#[tokio::test]
async fn a_nul_in_any_string_parameter_of_any_route_is_a_4xx() {
    let w = world().await;
    let app = &w.app;
    let doc = document();
    let ops = operations(&doc);
    let routes = route_table();
    let undocumented: BTreeMap<(String, String), &[&str]> = UNDOCUMENTED
        .iter()
        .map(|(m, p, params)| ((m.to_string(), p.to_string()), *params))
        .collect();
    let mut cases = Vec::new();
    for (method, template) in &routes {
        let key = (method.clone(), template.clone());
        match (ops.get(&key), undocumented.get(&key)) {
            (Some(op), None) => cases.extend(documented_cases(&doc, method, template, op)),
            (None, Some(params)) => cases.extend(undocumented_cases(method, template, params)),
            (Some(_), Some(_)) => panic!("{method} {template} is documented: not in UNDOCUMENTED"),
            (None, None) => panic!(
                "{method} {template} is neither in the OpenAPI document nor in UNDOCUMENTED: \
                 name its parameters"
            ),
        }
    }
    for (m, p, _) in UNDOCUMENTED {
        assert!(
            routes.contains(&(m.to_string(), p.to_string())),
            "{m} {p} is no route any more"
        );
    }
    assert!(cases.len() > 150, "{}", cases.len());

    // Credentials that get past authentication wherever they can: the holder's session, and a
    // token of a client with every API scope.
    let holder = signed_in(app, &w.rep_email).await;
    let (_, admin) = app
        .system(vec![
            "admin",
            "auditor",
            "licences:issue",
            "licences:query",
            "licences:verify",
            "licences:revoke",
        ])
        .await;
    let mut failures = Vec::new();
    for c in &cases {
        let mut url = url::Url::parse(&format!("{}{}", app.addr, c.path)).unwrap();
        if !c.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&c.query);
        }
        let method = reqwest::Method::from_bytes(c.method.as_bytes()).unwrap();
        let mut rb = holder.http.request(method, url.clone());
        if c.template.starts_with("/api/") && !c.template.starts_with("/api/v1/me/") {
            rb = rb.bearer_auth(
                if c.template.starts_with("/api/v1/admin/") || c.template == "/api/v1/supervision" {
                    &admin
                } else {
                    &w.token
                },
            );
        }
        if let Some(f) = &c.form {
            rb = rb.form(f);
        }
        if let Some(j) = &c.json {
            rb = rb.json(j);
        }
        let r = rb.send().await.unwrap();
        let status = r.status();
        let ct = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = r.text().await.unwrap_or_default();
        let format_ok = !c.template.starts_with("/api/") || ct == "application/problem+json";
        if !status.is_client_error() || !format_ok {
            failures.push(format!(
                "{} {} ({}): {status} {ct} {}",
                c.method,
                c.template,
                c.what,
                body.chars().take(160).collect::<String>()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} requests with a NUL were not a 4xx in the route's format:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn a_nul_is_refused_in_the_routes_own_format_and_an_escaped_backslash_is_not_one() {
    let w = world().await;
    let http = w.app.http();
    let base = &w.app.addr;
    // RFC 6749 at the token endpoint.
    let r = http
        .post(format!("{base}/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", NUL)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"], "invalid_request", "{e}");
    // A page for a page.
    let r = http
        .get(format!("{base}/authorize?client_id=x%00y"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    // JSON: `\\u0000` is a backslash and text, and reaches the handler.
    for (body, nul) in [
        (r#"{"licence":"x\u0000y"}"#, true),
        (r#"{"licence":"x\\u0000y"}"#, false),
    ] {
        let r = http
            .post(format!("{base}/api/v1/verify"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        assert_eq!(text.contains("NUL"), nul, "{body}: {status} {text}");
        assert!(!status.is_server_error(), "{text}");
    }
    // Headers cannot carry a NUL at all: hyper refuses the request before any route.
    let addr = base.strip_prefix("http://").unwrap();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /account HTTP/1.1\r\nHost: x\r\nCookie: tongban_session=a\0b\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await.unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 400"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}
