//! kill -9 in the middle of a batch issuance: every licence that committed has its audit event and
//! its transparency-log leaf, no leaf lacks its licence, and after a restart both logs verify.

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::licences::{request, world};

async fn count(w: &crate::licences::World, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql)
        .fetch_one(&w.app.state.db.pool)
        .await
        .unwrap();
    n
}

#[tokio::test]
async fn killing_the_server_mid_batch_loses_no_leaf_and_no_audit_event() {
    let w = world().await;
    // One licence first, and a checkpoint saved as an outside observer would.
    let (s, first, _) = w
        .app
        .post_json("/api/v1/licences", &w.token, &request(&w), &[])
        .await;
    assert_eq!(s, 201, "{first}");
    let (ok, saved, err) = w.app.cli(&["audit", "checkpoint"]).await;
    assert!(ok, "{err}");
    let saved = w.app.file("saved.txt", &saved);

    // A second node on the same database and keys: the one we kill.
    let (mut child, base) = w
        .app
        .serve_process(
            "warn,tongban::licences::issue=debug",
            &[("TONGBAN_MAX_BODY_BYTES", "4194304")],
        )
        .await;
    let http = w.app.http();
    let token = w.app.token_at(&base, &w.dept.client).await;

    let batch = json!({ "licences": vec![request(&w); 1000] });
    let send = {
        let (http, base) = (http.clone(), base.clone());
        tokio::spawn(async move {
            http.post(format!("{base}/api/v1/licences/batch"))
                .bearer_auth(token)
                .json(&batch)
                .send()
                .await
        })
    };
    // Kill it once 50 licences of the batch have committed (the server says so on stderr).
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = 0;
    while seen < 50 {
        let line = tokio::time::timeout(Duration::from_secs(120), stderr.next_line())
            .await
            .expect("issuance goes on")
            .unwrap()
            .expect("the server is still running");
        if line.contains("licence issued") {
            seen += 1;
        }
    }
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    assert!(
        send.await.unwrap().is_err(),
        "the batch was cut off, not answered"
    );

    // Restart: the CLI opens the database afresh and seals what the dead node left queued.
    let (ok, report, err) = w.app.cli(&["audit", "verify"]).await;
    assert!(ok, "the audit chain holds: {report} {err}");
    let (ok, report, err) = w
        .app
        .cli(&["audit", "verify-log", saved.to_str().unwrap()])
        .await;
    assert!(ok, "the log extends the saved checkpoint: {report} {err}");

    let licences = count(&w, "SELECT COUNT(*) FROM licences").await;
    assert!(
        (51..1001).contains(&licences),
        "the batch was cut in the middle: {licences} licences"
    );
    assert_eq!(
        count(&w, "SELECT COUNT(*) FROM licences l WHERE NOT EXISTS (SELECT 1 FROM tlog_leaves t WHERE t.licence_id = l.id)").await,
        0,
        "every licence has its leaf"
    );
    assert_eq!(
        count(&w, "SELECT COUNT(*) FROM tlog_leaves t WHERE NOT EXISTS (SELECT 1 FROM licences l WHERE l.id = t.licence_id)").await,
        0,
        "no leaf without its licence"
    );
    assert_eq!(
        count(&w, "SELECT COUNT(*) FROM tlog_leaves").await,
        licences,
        "one issuance leaf per licence, no more"
    );
    assert_eq!(
        count(&w, "SELECT COUNT(*) FROM licences l WHERE NOT EXISTS (SELECT 1 FROM audit_events e WHERE e.object = 'licence:' || l.id AND e.action = 'licence.issued')").await,
        0,
        "every licence has its audit event"
    );
    assert_eq!(
        count(
            &w,
            "SELECT COUNT(*) FROM audit_events WHERE action = 'licence.issued'"
        )
        .await,
        licences
    );
}
