//! `/metrics` is valid Prometheus exposition (parsed by the `prometheus-parse` crate, not our code),
//! and its counters move when the matching actions happen. (The service writes OpenMetrics text,
//! whose counter families are named without `_total`; a Prometheus 0.0.4 parser such as this one
//! therefore reads the `_total` samples as untyped, which `Scrape::value` accepts.)

use std::collections::HashMap;

use serde_json::json;

use crate::helpers::{auth_url, form_value, ClientSpec, Landing, TestApp, PASSWORD};
use crate::licences::{request, world};

struct Scrape(prometheus_parse::Scrape);

impl Scrape {
    async fn of(app: &TestApp) -> Scrape {
        let r = app
            .http()
            .get(format!("{}/metrics", app.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
        let text = r.text().await.unwrap();
        let lines = text.lines().map(|l| Ok(l.to_owned()));
        Scrape(prometheus_parse::Scrape::parse(lines).expect("valid exposition format"))
    }

    /// The value of the sample named `name` whose labels include all of `labels` (0 if none).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match &s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => *v,
                prometheus_parse::Value::Histogram(b) => {
                    b.iter().map(|b| b.count).fold(0.0, f64::max)
                }
                prometheus_parse::Value::Summary(_) => 0.0,
            })
            .sum()
    }

    fn has(&self, name: &str) -> bool {
        self.0.samples.iter().any(|s| s.metric == name)
    }
}

/// Counter deltas between two scrapes, for the samples named in `wanted`.
fn moved(
    before: &Scrape,
    after: &Scrape,
    wanted: &[(&str, &[(&str, &str)])],
) -> HashMap<String, f64> {
    wanted
        .iter()
        .map(|(name, labels)| {
            (
                format!("{name}{labels:?}"),
                after.value(name, labels) - before.value(name, labels),
            )
        })
        .collect()
}

#[tokio::test]
async fn metrics_parse_and_their_counters_move_with_the_actions() {
    let w = world().await;
    let app = &w.app;
    let before = Scrape::of(app).await;

    // A failed login, then a successful one, and the code exchanged for tokens.
    let client = app.client(ClientSpec::default()).await;
    let driver = app.driver();
    let (url, verifier) = auth_url(app, &client, "openid", &[]);
    let Landing::Page(path, 200, html) = driver.get(&url).await else {
        panic!("expected the login page");
    };
    assert_eq!(path, "/login");
    let again = driver
        .submit(
            "/login",
            &html,
            &[("username", &w.rep_email), ("password", "wrong-password-1")],
        )
        .await;
    let Landing::Page(_, _, html) = &again else {
        panic!("a failed login stays on the page: {again:?}");
    };
    assert!(form_value(html, "csrf").is_some());
    let landing = driver
        .submit(
            "/login",
            html,
            &[("username", &w.rep_email), ("password", PASSWORD)],
        )
        .await;
    let landing = match &landing {
        Landing::Page(p, 200, html) if p == "/consent" => {
            driver
                .submit("/consent", html, &[("decision", "allow")])
                .await
        }
        _ => landing,
    };
    let (s, _) = crate::helpers::exchange(app, &client, &landing.code(), &verifier).await;
    assert_eq!(s, 200);

    // A licence issued, suspended, reinstated, revoked; verified while valid and once revoked.
    let (s, issued, _) = app
        .post_json("/api/v1/licences", &w.token, &request(&w), &[])
        .await;
    assert_eq!(s, 201, "{issued}");
    let id = issued["id"].as_str().unwrap();
    let verify = || async {
        let r = app
            .http()
            .post(format!("{}/api/v1/verify", app.addr))
            .json(&json!({ "licence": issued["licence"] }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    };
    verify().await;
    for action in ["suspend", "reinstate", "revoke"] {
        let (s, body, _) = app
            .post_json(
                &format!("/api/v1/licences/{id}/{action}"),
                &w.token,
                &json!({ "reason": "withdrawn" }),
                &[],
            )
            .await;
        assert_eq!(s, 200, "{action}: {body}");
    }
    verify().await;
    let after = Scrape::of(app).await;

    let d = moved(
        &before,
        &after,
        &[
            ("tongban_logins_total", &[("result", "failed")]),
            ("tongban_logins_total", &[("result", "succeeded")]),
            (
                "tongban_tokens_issued_total",
                &[("grant", "authorization_code")],
            ),
            ("tongban_licence_events_total", &[("event", "issued")]),
            ("tongban_licence_events_total", &[("event", "suspended")]),
            ("tongban_licence_events_total", &[("event", "reinstated")]),
            ("tongban_licence_events_total", &[("event", "revoked")]),
            ("tongban_verifications_total", &[("verdict", "valid")]),
            ("tongban_verifications_total", &[("verdict", "revoked")]),
            (
                "tongban_http_requests_total",
                &[
                    ("method", "POST"),
                    ("route", "/api/v1/verify"),
                    ("status", "200"),
                ],
            ),
            (
                "tongban_http_requests_total",
                &[
                    ("method", "POST"),
                    ("route", "/api/v1/licences/:id/:action"),
                    ("status", "200"),
                ],
            ),
        ],
    );
    let expect = |name: &str, labels: &[(&str, &str)], n: f64| {
        let key = format!("{name}{labels:?}");
        if d[&key] != n {
            for s in after.0.samples.iter().filter(|s| s.metric == name) {
                eprintln!("{} {:?} {:?}", s.metric, s.labels, s.value);
            }
        }
        assert_eq!(d[&key], n, "{key} moved by {}, expected {n}", d[&key]);
    };
    expect("tongban_logins_total", &[("result", "failed")], 1.0);
    expect("tongban_logins_total", &[("result", "succeeded")], 1.0);
    expect(
        "tongban_tokens_issued_total",
        &[("grant", "authorization_code")],
        1.0,
    );
    expect("tongban_licence_events_total", &[("event", "issued")], 1.0);
    expect(
        "tongban_licence_events_total",
        &[("event", "suspended")],
        1.0,
    );
    expect(
        "tongban_licence_events_total",
        &[("event", "reinstated")],
        1.0,
    );
    expect("tongban_licence_events_total", &[("event", "revoked")], 1.0);
    expect("tongban_verifications_total", &[("verdict", "valid")], 1.0);
    expect(
        "tongban_verifications_total",
        &[("verdict", "revoked")],
        1.0,
    );
    expect(
        "tongban_http_requests_total",
        &[
            ("method", "POST"),
            ("route", "/api/v1/verify"),
            ("status", "200"),
        ],
        2.0,
    );
    expect(
        "tongban_http_requests_total",
        &[
            ("method", "POST"),
            ("route", "/api/v1/licences/:id/:action"),
            ("status", "200"),
        ],
        3.0,
    );

    // Latency histograms by route, cache lookups, the pool and the deny list.
    assert!(
        after.value(
            "tongban_http_request_duration_seconds_count",
            &[("route", "/api/v1/verify")]
        ) >= 2.0
            || after.has("tongban_http_request_duration_seconds"),
        "a latency histogram for the verify route"
    );
    let lookups = |r| {
        after.value(
            "tongban_cache_lookups_total",
            &[("cache", "licence_facts"), ("result", r)],
        )
    };
    assert!(lookups("miss") >= 1.0 && lookups("hit") + lookups("miss") >= 2.0);
    assert!(after.value("tongban_db_pool_max_connections", &[]) >= 1.0);
    assert!(after.has("tongban_db_pool_idle_connections"));
    assert!(after.has("tongban_deny_list_entries"));
    assert_eq!(
        after.value("tongban_http_requests_in_flight", &[]),
        1.0,
        "the scrape itself"
    );

    // No path with an identifier leaks into a label: routes are templates.
    let raw = app
        .http()
        .get(format!("{}/metrics", app.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!raw.contains(id), "a licence id in /metrics");
}

/// Every response passes through `http::stamp`: a request id (the caller's kept, else 32 fresh hex
/// digits, different each time), the security headers unless the handler set its own, and the
/// request counted by route template, never by the path asked for.
#[tokio::test]
async fn every_response_carries_a_request_id_and_the_security_headers() {
    let app = crate::helpers::spawn_app().await;
    let get = |path: &str, id: Option<&str>| {
        let mut r = app.http().get(format!("{}{path}", app.addr));
        if let Some(id) = id {
            r = r.header("x-request-id", id);
        }
        r.send()
    };
    let a = get("/healthz", None).await.unwrap();
    let b = get("/api/v1/log/receipts/no-such-licence", None)
        .await
        .unwrap();
    let ids: Vec<String> = [&a, &b]
        .iter()
        .map(|r| r.headers()["x-request-id"].to_str().unwrap().to_owned())
        .collect();
    for id in &ids {
        assert_eq!(id.len(), 32, "{id}");
        assert!(id
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }
    assert_ne!(ids[0], ids[1], "a fresh id per request");
    let kept = get("/healthz", Some("proxy-id-42")).await.unwrap();
    assert_eq!(kept.headers()["x-request-id"], "proxy-id-42");
    for r in [&a, &b, &kept] {
        let h = r.headers();
        assert!(h["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'"));
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["cache-control"], "no-store");
    }
    // A handler's own Cache-Control stands (the root certificate is cacheable by design).
    let root = get("/pki/root.pem", None).await.unwrap();
    assert_eq!(root.status(), 200);
    assert_eq!(root.headers()["cache-control"], "public, max-age=86400");
    assert_eq!(root.headers()["x-frame-options"], "DENY");
    let scrape = Scrape::of(&app).await;
    let counted = |route| scrape.value("tongban_http_requests_total", &[("route", route)]);
    assert_eq!(
        counted("/api/v1/log/receipts/:id"),
        1.0,
        "counted by template"
    );
    assert_eq!(counted("/api/v1/log/receipts/no-such-licence"), 0.0);
}
