//! The audit log: every change is an event in the transaction of the change, chained by the sealer;
//! the database refuses UPDATE and DELETE (triggers); with the triggers dropped, `tongban audit
//! verify` names the first event that was changed, deleted or reordered.

use serde_json::{json, Value};

use crate::helpers::is_postgres;
use crate::licences::{request, world, World};

/// Issue two licences, suspend and reinstate one: events to tamper with.
async fn audited_world() -> World {
    let w = world().await;
    for _ in 0..2 {
        let (s, b, _) = w
            .app
            .post_json("/api/v1/licences", &w.token, &request(&w), &[])
            .await;
        assert_eq!(s, 201, "{b}");
    }
    let (_, b, _) = w
        .app
        .post_json("/api/v1/licences", &w.token, &request(&w), &[])
        .await;
    let id = b["id"].as_str().unwrap().to_owned();
    for action in ["suspend", "reinstate"] {
        let (s, b, _) = w
            .app
            .post_json(
                &format!("/api/v1/licences/{id}/{action}"),
                &w.token,
                &json!({ "reason": "under_investigation" }),
                &[],
            )
            .await;
        assert_eq!(s, 200, "{b}");
    }
    // Chained, as the sealer's next round (at most a second later) leaves them.
    tongban::audit::rounds::seal_now(&w.app.state.audit, tongban::domain::time::now())
        .await
        .unwrap();
    w
}

/// `tongban audit verify`: (success, report).
async fn audit_verify(w: &World) -> (bool, Value, String) {
    let (ok, out, err) = w.app.cli(&["audit", "verify"]).await;
    (ok, serde_json::from_str(&out).unwrap_or(Value::Null), err)
}

async fn event_ids(w: &World) -> Vec<(i64, String)> {
    sqlx::query_as("SELECT id, action FROM audit_events ORDER BY id")
        .fetch_all(&w.app.state.db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn every_change_is_an_audit_event_in_a_chain_the_database_will_not_let_anyone_rewrite() {
    let w = audited_world().await;
    let (ok, report, err) = audit_verify(&w).await;
    assert!(ok, "{report} {err}");
    let all = event_ids(&w).await;
    let setup: Vec<&str> = all
        .iter()
        .map(|(_, a)| a.as_str())
        .filter(|a| !a.starts_with("licence."))
        .collect();
    assert_eq!(
        setup,
        [
            "client.registered",
            "department.registered",
            "licence_type.registered",
            // The enterprise's legal representative, registered at a counter: proven.
            "identity.proven"
        ],
        "the world's setup is audited too"
    );
    let events: Vec<(i64, String)> = all
        .iter()
        .filter(|(_, a)| a.starts_with("licence."))
        .cloned()
        .collect();
    let actions: Vec<&str> = events.iter().map(|(_, a)| a.as_str()).collect();
    assert_eq!(
        actions,
        [
            "licence.issued",
            "licence.issued",
            "licence.issued",
            "licence.suspended",
            "licence.reinstated"
        ],
        "one event per change, in order"
    );
    assert_eq!(report["links"], json!(all.len()), "{report}");
    assert!(report["broken"].is_null());

    // With the triggers in place the database refuses to rewrite history.
    let target = events[3].0;
    for sql in [
        format!("UPDATE audit_events SET detail = '{{}}' WHERE id = {target}"),
        format!("DELETE FROM audit_events WHERE id = {target}"),
        "UPDATE audit_chain SET hash = prev_hash".to_owned(),
        "DELETE FROM audit_chain".to_owned(),
    ] {
        let r = w.app.sql(&sql).await;
        assert!(r.is_err(), "{sql} was allowed");
        assert!(
            r.unwrap_err().to_string().contains("append-only"),
            "refused by the trigger: {sql}"
        );
    }
    if is_postgres() {
        assert!(w.app.sql("TRUNCATE audit_events").await.is_err());
    }

    // Without the triggers, each kind of rewrite is found and the event named.
    let drops: &[&str] = if is_postgres() {
        &[
            "DROP TRIGGER audit_events_append_only ON audit_events",
            "DROP TRIGGER audit_chain_append_only ON audit_chain",
        ]
    } else {
        &[
            "DROP TRIGGER audit_events_no_update",
            "DROP TRIGGER audit_events_no_delete",
            "DROP TRIGGER audit_chain_no_update",
            "DROP TRIGGER audit_chain_no_delete",
        ]
    };
    for d in drops {
        w.app.sql(d).await.unwrap();
    }
    let original: (i64, String, String, String, String) = sqlx::query_as(&format!(
        "SELECT at, actor, action, object, detail FROM audit_events WHERE id = {target}"
    ))
    .fetch_one(&w.app.state.db.pool)
    .await
    .unwrap();
    let restore = format!(
        "UPDATE audit_events SET at = {}, actor = '{}', action = '{}', object = '{}', detail = '{}' WHERE id = {target}",
        original.0, original.1, original.2, original.3, original.4
    );

    // 1. A changed event: a suspension's reason rewritten.
    w.app
        .sql(&format!(
            "UPDATE audit_events SET detail = '{{\"reason\":\"court_order\"}}' WHERE id = {target}"
        ))
        .await
        .unwrap();
    let (ok, report, _) = audit_verify(&w).await;
    assert!(!ok, "a changed event is found");
    assert_eq!(report["broken"]["event_id"], json!(target), "{report}");
    assert!(report["broken"]["problem"]
        .as_str()
        .unwrap()
        .contains("changed"));
    w.app.sql(&restore).await.unwrap();
    assert!(audit_verify(&w).await.0, "restored, the chain holds again");

    // 2. Reordered events: two events swap their contents.
    let first = events[1].0;
    let copy_into = |to: i64, from: i64| {
        format!(
            "UPDATE audit_events SET at = (SELECT at FROM audit_events WHERE id = {from}), \
             action = (SELECT action FROM audit_events WHERE id = {from}), \
             object = (SELECT object FROM audit_events WHERE id = {from}), \
             detail = (SELECT detail FROM audit_events WHERE id = {from}) WHERE id = {to}"
        )
    };
    w.app.sql(&copy_into(first, target)).await.unwrap();
    let (ok, report, _) = audit_verify(&w).await;
    assert!(!ok, "a reordered event is found");
    assert_eq!(report["broken"]["event_id"], json!(first), "{report}");

    // 3. A deleted event.
    let w = audited_world().await;
    for d in drops {
        w.app.sql(d).await.unwrap();
    }
    let events = event_ids(&w).await;
    let gone = events[2].0;
    w.app
        .sql(&format!("DELETE FROM audit_events WHERE id = {gone}"))
        .await
        .unwrap();
    let (ok, report, _) = audit_verify(&w).await;
    assert!(!ok);
    assert_eq!(report["broken"]["event_id"], json!(gone), "{report}");
    assert!(report["broken"]["problem"]
        .as_str()
        .unwrap()
        .contains("deleted"));

    // 4. Links swapped: the events are intact but their order in the chain changed.
    let w = audited_world().await;
    for d in drops {
        w.app.sql(d).await.unwrap();
    }
    let events = event_ids(&w).await;
    let (a, b) = (events[1].0, events[2].0);
    w.app
        .sql(&format!(
            "UPDATE audit_chain SET event_id = -1 WHERE event_id = {a}"
        ))
        .await
        .unwrap();
    w.app
        .sql(&format!(
            "UPDATE audit_chain SET event_id = {a} WHERE event_id = {b}"
        ))
        .await
        .unwrap();
    w.app
        .sql(&format!(
            "UPDATE audit_chain SET event_id = {b} WHERE event_id = -1"
        ))
        .await
        .unwrap();
    let (ok, report, _) = audit_verify(&w).await;
    assert!(!ok, "reordered links are found");
    assert_eq!(report["broken"]["event_id"], json!(b), "{report}");

    // 5. An event deleted before any round chained it (its row in the queue stays behind).
    let w = audited_world().await;
    for d in drops {
        w.app.sql(d).await.unwrap();
    }
    w.app
        .sql(
            "INSERT INTO audit_events (at, actor, action, object, detail) \
             VALUES (1, 'operator:cli', 'client.added', 'client:c_x', '{}')",
        )
        .await
        .unwrap();
    let (gone, _) = event_ids(&w).await.last().cloned().unwrap();
    w.app
        .sql(&format!("DELETE FROM audit_events WHERE id = {gone}"))
        .await
        .unwrap();
    let (ok, report, _) = audit_verify(&w).await;
    assert!(!ok, "an event deleted while queued is found");
    assert_eq!(report["broken"]["event_id"], json!(gone), "{report}");
    assert!(report["broken"]["problem"]
        .as_str()
        .unwrap()
        .contains("before it was chained"));
}

/// The sealer's deletes from its two queues find the taken ids by primary key even when the queue
/// was analysed while empty (its usual state) and has since grown: the plan the statistics gave a
/// join compared every queued row with every id taken, and a backlog then grew by itself (seen with
/// holder queries, ten events each: 3 s per round at 30,000 queued). PostgreSQL only (SQLite deletes
/// by a literal id list); this test runs on both passes.
#[tokio::test]
async fn the_sealers_queue_deletes_use_the_key_even_when_the_queue_was_analysed_empty() {
    use tongban::storage::{audit::DEQUEUE_EVENTS_PG, tlog::DEQUEUE_LEAVES_PG};
    let app = crate::helpers::spawn_postgres_app().await;
    let taken: Vec<i64> = (1..=1000).map(|i| 1_000_000_000 + 20 * i).collect();
    let events = Value::from(
        taken
            .iter()
            .map(|i| json!({ "event_id": i }))
            .collect::<Vec<_>>(),
    );
    let cases = [
        (
            "audit_pending",
            "event_id",
            "INSERT INTO audit_pending (event_id) SELECT 1000000000 + g FROM generate_series(1, 30000) g",
            DEQUEUE_EVENTS_PG,
            events.to_string(),
        ),
        (
            "tlog_pending",
            "id",
            "INSERT INTO tlog_pending (id, licence_id, leaf) \
             SELECT 1000000000 + g, 'l', '\\x00'::bytea FROM generate_series(1, 30000) g",
            DEQUEUE_LEAVES_PG,
            Value::from(taken.clone()).to_string(),
        ),
    ];
    // In a transaction rolled back at the end: the server's own rounds never see these rows.
    let mut tx = app.state.db.pool.begin().await.unwrap();
    for (table, key, fill, delete, ids) in cases {
        sqlx::query(&format!("ANALYZE {table}"))
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query(fill).execute(&mut *tx).await.unwrap();
        let plan: Vec<(String,)> = sqlx::query_as(&format!("EXPLAIN {delete}"))
            .bind(ids.clone())
            .fetch_all(&mut *tx)
            .await
            .unwrap();
        let plan = plan
            .into_iter()
            .map(|(l,)| l)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            plan.contains(&format!("Index Cond: ({key} = ANY")),
            "{table}: {plan}"
        );
        assert!(!plan.contains("Join"), "{table}: {plan}");
        // And it deletes exactly the ids taken.
        let deleted = sqlx::query(delete)
            .bind(ids)
            .execute(&mut *tx)
            .await
            .unwrap()
            .rows_affected();
        assert_eq!(deleted, 1000, "{table}");
    }
    tx.rollback().await.unwrap();
}
