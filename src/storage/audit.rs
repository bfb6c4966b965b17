//! The audit log's tables: events (appended in the transaction of the change they record), the queue of
//! events not yet chained, and the hash chain. UPDATE and DELETE are refused by triggers, except on the
//! queue.

use sqlx::FromRow;

use super::{Batch, Db, Result, Tx};

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct EventRow {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub object: String,
    /// A JSON object, as stored.
    pub detail: String,
}

/// Append an event (a trigger queues it for chaining); returns its id.
/// [`insert`] as a part of a [`Batch`].
pub fn insert_into(
    b: &mut Batch,
    at: i64,
    actor: &str,
    action: &str,
    object: &str,
    detail: String,
) {
    b.push(
        "INSERT INTO audit_events (at, actor, action, object, detail) VALUES ($1, $2, $3, $4, $5)",
        |q| {
            q.bind(at)
                .bind(actor.to_owned())
                .bind(action.to_owned())
                .bind(object.to_owned())
                .bind(detail);
        },
    );
}

pub async fn insert(
    tx: &mut Tx,
    at: i64,
    actor: &str,
    action: &str,
    object: &str,
    detail: &str,
) -> Result<i64> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO audit_events (at, actor, action, object, detail) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(at)
    .bind(actor)
    .bind(action)
    .bind(object)
    .bind(detail)
    .fetch_one(&mut **tx)
    .await?;
    Ok(id)
}

/// Take the cluster-wide sealing lock for the rest of `tx` (PostgreSQL: a transaction-scoped advisory
/// lock on `key`; SQLite's single connection serialises by itself).
pub async fn lock_sealing(tx: &mut Tx, key: i64) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(key)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Up to `limit` queued events, oldest first, and the chain's last position and hash (one query:
/// the head comes with each row).
pub async fn pending_with_head(
    tx: &mut Tx,
    backend: super::Backend,
    limit: i64,
) -> Result<(Vec<EventRow>, Option<(i64, Vec<u8>)>)> {
    #[derive(FromRow)]
    struct Queued {
        #[sqlx(flatten)]
        event: EventRow,
        head_pos: Option<i64>,
        head_hash: Option<Vec<u8>>,
    }
    // The queue's first ids, then each event by its key. A plain join let PostgreSQL's planner pick
    // a merge join that walks audit_events from its first row each round (seen with auto_explain:
    // 1,805 rows read for 10 queued): a round's cost grew with the whole log. A LATERAL subquery
    // with a LIMIT (so that it is not pulled up into a hash join over a sequential scan, which the
    // planner chose next) pins the index lookup; SQLite's planner does that by itself and has no
    // LATERAL.
    let from = match backend {
        super::Backend::Postgres => {
            "(SELECT event_id FROM audit_pending ORDER BY event_id LIMIT $1) p \
             CROSS JOIN LATERAL (SELECT * FROM audit_events WHERE id = p.event_id LIMIT 1) e"
        }
        super::Backend::Sqlite => {
            "(SELECT event_id FROM audit_pending ORDER BY event_id LIMIT $1) p \
             JOIN audit_events e ON e.id = p.event_id"
        }
    };
    let rows: Vec<Queued> = sqlx::query_as(&format!(
        "SELECT e.id, e.at, e.actor, e.action, e.object, e.detail, \
         (SELECT pos FROM audit_chain ORDER BY pos DESC LIMIT 1) AS head_pos, \
         (SELECT hash FROM audit_chain ORDER BY pos DESC LIMIT 1) AS head_hash \
         FROM {from} ORDER BY p.event_id"
    ))
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?;
    let head = rows
        .first()
        .and_then(|r| Some((r.head_pos?, r.head_hash.clone()?)));
    let events = rows.into_iter().map(|r| r.event).collect();
    Ok((events, head))
}

/// One link of the chain.
#[derive(Debug, Clone)]
pub struct Link {
    pub pos: i64,
    pub event_id: i64,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

/// Takes chained events off the queue (PostgreSQL): `$1` is the round's links as a JSON array.
///
/// The ids become an array (an InitPlan) matched by the primary key, `event_id = ANY(...)`, never a
/// join: the queue is analysed empty most of the time, and with `IN (SELECT ... FROM
/// jsonb_to_recordset(...))` the planner then chose a nested-loop semi join that compared every
/// queued row with every chained id. A backlog of 30,000 events (holder queries log ten each) made
/// each round's delete take 3 s, so the backlog grew. `tests/api/audit.rs` checks the plan.
pub const DEQUEUE_EVENTS_PG: &str = "DELETE FROM audit_pending WHERE event_id = ANY(ARRAY(\
     SELECT x.event_id FROM jsonb_to_recordset($1::jsonb) AS x(event_id bigint)))";

/// Append links to the chain and take their events off the queue, as parts of `b`.
///
/// On PostgreSQL the rows travel as one JSON parameter (`jsonb_to_recordset`), so the statement's
/// text is the same whatever the number of rows: prepared once, not parsed and planned again each
/// round (a multi-row VALUES of a new length is a new statement; under load that made the sealer
/// the busiest backend).
pub fn chain_into(b: &mut Batch, links: &[Link]) {
    if b.backend() == super::Backend::Postgres {
        if links.is_empty() {
            return;
        }
        use base64::Engine;
        let b64 = |h: &[u8]| base64::engine::general_purpose::STANDARD.encode(h);
        let rows: Vec<serde_json::Value> = links
            .iter()
            .map(|l| serde_json::json!({ "pos": l.pos, "event_id": l.event_id, "prev_hash": b64(&l.prev_hash), "hash": b64(&l.hash) }))
            .collect();
        let rows = serde_json::Value::Array(rows).to_string();
        b.push(
            "INSERT INTO audit_chain (pos, event_id, prev_hash, hash) \
             SELECT x.pos, x.event_id, decode(x.prev_hash, 'base64'), decode(x.hash, 'base64') \
             FROM jsonb_to_recordset($1::jsonb) AS x(pos bigint, event_id bigint, prev_hash text, hash text)",
            |q| {
                q.bind(rows.clone());
            },
        );
        b.push(DEQUEUE_EVENTS_PG, |q| {
            q.bind(rows);
        });
        return;
    }
    for batch in links.chunks(200) {
        let sql = super::multi_insert(
            "audit_chain (pos, event_id, prev_hash, hash)",
            batch.len(),
            4,
        );
        b.push(&sql, |q| {
            for l in batch {
                q.bind(l.pos)
                    .bind(l.event_id)
                    .bind(l.prev_hash.clone())
                    .bind(l.hash.clone());
            }
        });
        // Integers from our own rows: no injection possible, and one statement instead of n.
        let ids: Vec<String> = batch.iter().map(|l| l.event_id.to_string()).collect();
        b.push(
            &format!(
                "DELETE FROM audit_pending WHERE event_id IN ({})",
                ids.join(", ")
            ),
            |_| {},
        );
    }
}

/// A link joined with its event (`None` when the event row is gone).
#[derive(Debug, Clone, FromRow)]
pub struct ChainedRow {
    pub pos: i64,
    pub event_id: i64,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
    pub id: Option<i64>,
    pub at: Option<i64>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub object: Option<String>,
    pub detail: Option<String>,
}

/// Links from position `from`, in order, with their events.
pub async fn links(db: &Db, from: i64, limit: i64) -> Result<Vec<ChainedRow>> {
    Ok(sqlx::query_as(
        "SELECT c.pos, c.event_id, c.prev_hash, c.hash, e.id, e.at, e.actor, e.action, e.object, e.detail \
         FROM audit_chain c LEFT JOIN audit_events e ON e.id = c.event_id \
         WHERE c.pos >= $1 ORDER BY c.pos LIMIT $2",
    )
    .bind(from)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?)
}

/// Events that are neither chained nor queued (their link was removed), lowest id first.
pub async fn unlinked(db: &Db, limit: i64) -> Result<Vec<i64>> {
    let rows: Vec<(i64,)> = sqlx::query_as(
        "SELECT e.id FROM audit_events e WHERE NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.event_id = e.id) \
         AND NOT EXISTS (SELECT 1 FROM audit_pending p WHERE p.event_id = e.id) ORDER BY e.id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Queued events whose event row is gone (deleted before it was chained), lowest id first.
pub async fn orphaned(db: &Db, limit: i64) -> Result<Vec<i64>> {
    let rows: Vec<(i64,)> = sqlx::query_as(
        "SELECT p.event_id FROM audit_pending p WHERE NOT EXISTS \
         (SELECT 1 FROM audit_events e WHERE e.id = p.event_id) ORDER BY p.event_id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Events by action and period, for supervision and tests.
pub async fn events(db: &Db, action_prefix: &str, from: i64, to: i64) -> Result<Vec<EventRow>> {
    Ok(sqlx::query_as(
        "SELECT id, at, actor, action, object, detail FROM audit_events \
         WHERE action LIKE $1 AND at >= $2 AND at < $3 ORDER BY id",
    )
    .bind(format!("{action_prefix}%"))
    .bind(from)
    .bind(to)
    .fetch_all(&db.pool)
    .await?)
}

/// How many events wait to be chained.
pub async fn pending_count(db: &Db) -> Result<i64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_pending")
        .fetch_one(&db.pool)
        .await?;
    Ok(n)
}

/// Events per (actor, action) in `[from, to)` for these actions.
pub async fn counts(
    db: &Db,
    actions: &[&str],
    from: i64,
    to: i64,
) -> Result<Vec<(String, String, i64)>> {
    let placeholders: Vec<String> = (0..actions.len()).map(|i| format!("${}", i + 3)).collect();
    let sql = format!(
        "SELECT actor, action, COUNT(*) FROM audit_events WHERE at >= $1 AND at < $2 \
         AND action IN ({}) GROUP BY actor, action",
        placeholders.join(", ")
    );
    let mut q = sqlx::query_as(&sql).bind(from).bind(to);
    for a in actions {
        q = q.bind(*a);
    }
    Ok(q.fetch_all(&db.pool).await?)
}

/// Failed public verifications in `[from, to)` per issuing department of the licence.
pub async fn failed_verifications(db: &Db, from: i64, to: i64) -> Result<Vec<(String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT l.issuer_id, COUNT(*) FROM audit_events e JOIN licences l ON e.object = 'licence:' || l.id \
         WHERE e.action = 'licence.verification_failed' AND e.at >= $1 AND e.at < $2 GROUP BY l.issuer_id",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&db.pool)
    .await?)
}

/// Grant the auditor role to an account (idempotent).
pub async fn grant_auditor(tx: &mut Tx, account_id: &str, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO auditors (account_id, granted_at) VALUES ($1, $2) ON CONFLICT (account_id) DO NOTHING",
    )
    .bind(account_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn is_auditor(db: &Db, account_id: &str) -> Result<bool> {
    let r: Option<(String,)> =
        sqlx::query_as("SELECT account_id FROM auditors WHERE account_id = $1")
            .bind(account_id)
            .fetch_optional(&db.pool)
            .await?;
    Ok(r.is_some())
}
