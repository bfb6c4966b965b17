//! A lost database is a 503 with `Retry-After`, never a 500: in the route's own format (an RFC 9457
//! problem under `/api/`, `temporarily_unavailable` at the OAuth endpoints, a page for pages), and
//! `/readyz` says so too, also when the database answers `SELECT 1` but its schema is gone.

use serde_json::{json, Value};

use crate::helpers::{is_postgres, spawn_postgres_app, ClientSpec, Landing, TestApp, TestClient};
use crate::licences::{request, world, world_on, World, ENTERPRISE};

/// Every table of the app's database dropped: the database recreated empty.
async fn empty_the_database(app: &TestApp) {
    if is_postgres() {
        app.sql("DROP SCHEMA public CASCADE").await.unwrap();
        app.sql("CREATE SCHEMA public").await.unwrap();
        return;
    }
    app.sql("PRAGMA foreign_keys = OFF").await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    )
    .fetch_all(&app.state.db.pool)
    .await
    .unwrap();
    assert!(tables.len() > 10, "{tables:?}");
    for t in tables {
        app.sql(&format!("DROP TABLE \"{t}\"")).await.unwrap();
    }
}

/// A share of a freshly issued licence: its API and page URLs.
async fn a_share(w: &World) -> (String, String) {
    let (s, issued, _) = w
        .app
        .post_json("/api/v1/licences", &w.token, &request(w), &[])
        .await;
    assert_eq!(s, 201, "{issued}");
    let id = issued["id"].as_str().unwrap();
    let rep = crate::holders::signed_in(&w.app, &w.rep_email).await;
    let r = rep
        .http
        .post(format!("{}/api/v1/me/licences/{id}/shares", w.app.addr))
        .json(&json!({ "disclose": [], "purpose": "开户", "expires_in": 600, "as": ENTERPRISE }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let share: Value = r.json().await.unwrap();
    (
        share["url"].as_str().unwrap().to_owned(),
        share["page"].as_str().unwrap().to_owned(),
    )
}

fn retry_after(r: &reqwest::Response) -> bool {
    r.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.parse::<u32>().is_ok_and(|n| n > 0))
}

/// What the service answers once its database is gone: all 503s with `Retry-After`.
async fn answers_unavailable(w: &World, share: &(String, String), portal: &TestClient) {
    let http = w.app.http();
    let base = &w.app.addr;
    let r = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(retry_after(&r));

    // The JSON API: problem details.
    let mut api = vec![
        http.get(format!("{base}/api/v1/log/checkpoint")),
        http.get(&share.0),
        http.post(format!("{base}/api/v1/licences"))
            .bearer_auth(&w.token)
            .json(&request(w)),
    ];
    for (i, rb) in api.drain(..).enumerate() {
        let r = rb.send().await.unwrap();
        assert_eq!(r.status(), 503, "API call {i}");
        assert!(retry_after(&r), "API call {i}");
        assert_eq!(
            r.headers()["content-type"].to_str().unwrap(),
            "application/problem+json"
        );
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["status"], 503, "{p}");
        assert!(p["type"].as_str().unwrap().ends_with("/unavailable"), "{p}");
    }

    // The OAuth endpoints: RFC 6749 bodies. (A client_credentials grant for a cached client
    // reads nothing; a refresh token is looked up.)
    let r = http
        .post(format!("{base}/token"))
        .basic_auth(&portal.id, portal.secret.as_deref())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "a-refresh-token-the-database-would-know"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(retry_after(&r));
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"], "temporarily_unavailable", "{e}");

    // A page.
    let r = http
        .get(format!("{}?lang=en", share.1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(retry_after(&r));
    let page = r.text().await.unwrap();
    assert!(page.contains("temporarily unavailable"), "{page}");

    // The login form: the throttle's reservation finds no database.
    let d = w.app.driver();
    let Landing::Page(_, 200, form) = d.get("/login").await else {
        panic!("the login page needs no database")
    };
    let Landing::Page(_, status, _) = d
        .submit(
            "/login",
            &form,
            &[("username", w.rep_email.as_str()), ("password", "whatever")],
        )
        .await
    else {
        panic!()
    };
    assert_eq!(status, 503, "a login while the database is gone");
}

#[tokio::test]
async fn a_database_recreated_empty_is_not_ready_and_every_call_a_503() {
    let w = world().await;
    let share = a_share(&w).await;
    let portal = w.app.client(ClientSpec::default()).await;
    let r = w
        .app
        .http()
        .get(format!("{}/readyz", w.app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    empty_the_database(&w.app).await;
    answers_unavailable(&w, &share, &portal).await;
}

#[tokio::test]
async fn a_schema_behind_the_binary_is_not_ready() {
    let w = world().await;
    let r = w.app.http().get(format!("{}/readyz", w.app.addr));
    assert_eq!(r.send().await.unwrap().status(), 200);
    w.app
        .sql("DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)")
        .await
        .unwrap();
    let r = w
        .app
        .http()
        .get(format!("{}/readyz", w.app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(retry_after(&r));
}

/// PostgreSQL: the database itself dropped under the running server (its connections terminated).
#[tokio::test]
async fn a_dropped_postgres_database_is_a_503_with_retry_after() {
    let w = world_on(spawn_postgres_app().await).await;
    let share = a_share(&w).await;
    let portal = w.app.client(ClientSpec::default()).await;
    let url = &w.app.state.config.database_url;
    let (server, name) = url.rsplit_once('/').unwrap();
    let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(&format!("{server}/test"))
        .await
        .unwrap();
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
    answers_unavailable(&w, &share, &portal).await;
}
