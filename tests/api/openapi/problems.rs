//! Bad and anonymous requests, and rejections before the handlers: documented problems.

use super::{send, Api};
use crate::helpers::spawn_app;
use crate::licences::{world, ENTERPRISE, OTHER_DEPARTMENT};

/// A probe: a label, headers, and an optional (content type, body).
type Probe<'a> = (&'a str, Vec<(&'a str, &'a str)>, Option<(&'a str, Vec<u8>)>);
/// A probe of a path: the documented template, the concrete path, headers.
type PathProbe<'a> = (&'a str, String, Vec<(&'a str, &'a str)>);

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
