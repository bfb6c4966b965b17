//! SIGTERM under load: every request the server had accepted is answered in full, and the process
//! exits (successfully) within `shutdown_grace_secs`. The server logs JSON here, which the test also
//! checks: one object per line, request events carrying their request id, no token in any line.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::licences::{request, world};

const GRACE_SECS: u64 = 20;

#[tokio::test]
async fn sigterm_during_a_load_finishes_every_accepted_request_and_exits_within_the_bound() {
    let w = world().await;
    let grace = GRACE_SECS.to_string();
    let (mut child, base) = w
        .app
        .serve_process(
            "warn,tongban::http::stamp=debug,tongban::http=info,tongban::startup=info,tongban::licences::issue=debug",
            &[
                ("TONGBAN_MAX_BODY_BYTES", "4194304"),
                ("TONGBAN_SHUTDOWN_GRACE_SECS", &grace),
                ("TONGBAN_LOG_FORMAT", "json"),
            ],
        )
        .await;
    let http = w.app.http();
    let token = w.app.token_at(&base, &w.dept.client).await;
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    // The token request was the first; wait for its line so the count below is of the load alone.
    let mut started = 0;
    while started < 1 {
        let line = stderr.next_line().await.unwrap().expect("server running");
        started += usize::from(line.contains("started processing request"));
        seen.push(line);
    }

    // The load: batch issuances (long requests) and verifications (short ones), all at once.
    let batches = 4;
    let per_batch = 60;
    let verifications = 16;
    let mut load = tokio::task::JoinSet::new();
    for _ in 0..batches {
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        let body = json!({ "licences": vec![request(&w); per_batch] });
        load.spawn(async move {
            let r = http
                .post(format!("{base}/api/v1/licences/batch"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .expect("an accepted batch is answered");
            let status = r.status().as_u16();
            let body: Value = r.json().await.expect("answered in full");
            ("batch", status, body)
        });
    }
    let (s, issued, _) = w
        .app
        .post_json("/api/v1/licences", &w.token, &request(&w), &[])
        .await;
    assert_eq!(s, 201, "{issued}");
    for _ in 0..verifications {
        let (http, base) = (http.clone(), base.clone());
        let licence = issued["licence"].as_str().unwrap().to_owned();
        load.spawn(async move {
            let r = http
                .post(format!("{base}/api/v1/verify"))
                .json(&json!({ "licence": licence }))
                .send()
                .await
                .expect("an accepted verification is answered");
            let status = r.status().as_u16();
            let body: Value = r.json().await.expect("answered in full");
            ("verify", status, body)
        });
    }
    // Every request of the load has reached the server, and issuance is under way.
    let mut issued_lines = 0;
    while started < 1 + batches + verifications || issued_lines == 0 {
        let line = stderr.next_line().await.unwrap().expect("server running");
        started += usize::from(line.contains("started processing request"));
        issued_lines += usize::from(line.contains("licence issued"));
        seen.push(line);
    }

    let pid = child.id().unwrap().to_string();
    let term = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(term.success());
    let sent_at = std::time::Instant::now();

    // Keep draining stderr so the server never blocks on a full pipe.
    let log = tokio::spawn(async move {
        let mut lines = seen;
        while let Ok(Some(l)) = stderr.next_line().await {
            lines.push(l);
        }
        lines
    });
    let mut answered = 0;
    while let Some(r) = load.join_next().await {
        let (kind, status, body) = r.unwrap();
        match kind {
            "batch" => {
                assert_eq!(status, 200, "{body}");
                let results = body["results"].as_array().expect("per-licence results");
                assert_eq!(results.len(), per_batch);
                assert!(
                    results.iter().all(|r| r["status"] == 201),
                    "every licence of the batch was issued: {body}"
                );
            }
            _ => {
                assert_eq!(status, 200, "{body}");
                assert_eq!(body["verdict"], "valid");
            }
        }
        answered += 1;
    }
    assert_eq!(answered, batches + verifications);
    let exit = tokio::time::timeout(Duration::from_secs(GRACE_SECS + 10), child.wait())
        .await
        .expect("the process exits within the grace period")
        .unwrap();
    let took = sent_at.elapsed();
    let log = log.await.unwrap();
    assert!(exit.success(), "exit status {exit}; log: {log:?}");
    assert!(
        took < Duration::from_secs(GRACE_SECS + 1),
        "exited {took:?} after SIGTERM, bound {GRACE_SECS} s"
    );
    let events: Vec<Value> = log
        .iter()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}"))
        })
        .collect();
    for e in &events {
        if e["fields"]["message"] == "started processing request" {
            let id = e["span"]["request_id"].as_str().unwrap_or_default();
            assert_eq!(id.len(), 32, "a request event without its request id: {e}");
        }
    }
    assert!(
        !log.iter().any(|l| l.contains(&token)),
        "an access token in the log"
    );
    let in_flight = events
        .iter()
        .find(|e| {
            e["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("shutting down"))
        })
        .and_then(|e| e["fields"]["in_flight"].as_u64())
        .unwrap_or_else(|| {
            panic!("the server said it was shutting down, and with how many requests in flight: {log:?}")
        });
    assert!(
        in_flight >= 1,
        "requests were in flight when the signal came: {log:?}"
    );
    assert!(
        !log.iter().any(|l| l.contains("grace period is over")),
        "nothing was cut off: {log:?}"
    );
    eprintln!("{in_flight} requests in flight at SIGTERM; all {answered} accepted requests answered; the process exited {took:?} after SIGTERM");
}
