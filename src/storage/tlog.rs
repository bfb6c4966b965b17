//! The transparency log's tables: the queue of leaves appended by state changes, the sequenced leaves,
//! the hashes of complete subtrees, and the signed checkpoints. All but the queue are append-only.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use sqlx::Row;

use super::{Batch, Db, Result, Tx};
use crate::tlog::merkle::{self, Hash, NodeId};

/// Queue a leaf, as a part of the statement that writes the change it records.
pub fn enqueue_into(b: &mut Batch, licence_id: &str, leaf: &[u8]) {
    b.push(
        "INSERT INTO tlog_pending (licence_id, leaf) VALUES ($1, $2)",
        |q| {
            q.bind(licence_id.to_owned()).bind(leaf.to_vec());
        },
    );
}

/// Up to `limit` queued leaves in the order they were queued: (queue id, licence id, leaf); and,
/// when there are any, the tree's last leaf (idx, leaf), in the same query.
#[allow(clippy::type_complexity)]
pub async fn pending_with_last(
    tx: &mut Tx,
    limit: i64,
) -> Result<(Vec<(i64, String, Vec<u8>)>, Option<(i64, Vec<u8>)>)> {
    let rows: Vec<(i64, String, Vec<u8>, Option<i64>, Option<Vec<u8>>)> = sqlx::query_as(
        "SELECT id, licence_id, leaf, \
         (SELECT idx FROM tlog_leaves ORDER BY idx DESC LIMIT 1), \
         (SELECT leaf FROM tlog_leaves ORDER BY idx DESC LIMIT 1) \
         FROM tlog_pending ORDER BY id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?;
    let last = rows.first().and_then(|r| Some((r.3?, r.4.clone()?)));
    Ok((
        rows.into_iter()
            .map(|(id, l, leaf, _, _)| (id, l, leaf))
            .collect(),
        last,
    ))
}

/// The number of sequenced leaves.
pub async fn size(tx: &mut Tx) -> Result<u64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(idx) + 1, 0) FROM tlog_leaves")
        .fetch_one(&mut **tx)
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The last sequenced leaf: (idx, leaf).
pub async fn last_leaf(tx: &mut Tx) -> Result<Option<(i64, Vec<u8>)>> {
    Ok(
        sqlx::query_as("SELECT idx, leaf FROM tlog_leaves ORDER BY idx DESC LIMIT 1")
            .fetch_optional(&mut **tx)
            .await?,
    )
}

/// The size of the newest stored checkpoint (0 if none).
pub async fn checkpoint_size(tx: &mut Tx) -> Result<u64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(size), 0) FROM tlog_checkpoints")
        .fetch_one(&mut **tx)
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

fn node_rows(rows: Vec<AnyRow>) -> Result<Vec<(NodeId, Hash)>> {
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let level: i64 = r.try_get(0)?;
        let index: i64 = r.try_get(1)?;
        let hash: Vec<u8> = r.try_get(2)?;
        if let Ok(h) = <Hash>::try_from(hash.as_slice()) {
            out.push((
                NodeId {
                    level: u32::try_from(level).unwrap_or(u32::MAX),
                    index: u64::try_from(index).unwrap_or(u64::MAX),
                },
                h,
            ));
        }
    }
    Ok(out)
}

fn nodes_sql(n: usize) -> String {
    let mut sql = String::from("SELECT level, idx, hash FROM tlog_nodes WHERE ");
    for i in 0..n {
        if i > 0 {
            sql.push_str(" OR ");
        }
        sql.push_str(&format!(
            "(level = ${} AND idx = ${})",
            2 * i + 1,
            2 * i + 2
        ));
    }
    sql
}

/// The hashes of these complete subtrees (those that exist): the stored ones in one query per 400
/// nodes, the unstored ones below [`merkle::STORED_FROM_LEVEL`] recomputed from the leaves of their
/// block (one query per block; a proof or the right edge needs one or two).
pub async fn nodes(db: &Db, ids: &[NodeId]) -> Result<Vec<(NodeId, Hash)>> {
    let mut conn = db.pool.acquire().await?;
    nodes_on(&mut conn, ids).await
}

/// [`nodes`] inside a transaction.
pub async fn nodes_tx(tx: &mut Tx, ids: &[NodeId]) -> Result<Vec<(NodeId, Hash)>> {
    nodes_on(tx, ids).await
}

async fn nodes_on(conn: &mut AnyConnection, ids: &[NodeId]) -> Result<Vec<(NodeId, Hash)>> {
    let mut stored = Vec::with_capacity(ids.len());
    let mut blocks: std::collections::BTreeMap<u64, Vec<NodeId>> = Default::default();
    for id in ids {
        if merkle::is_stored(*id) {
            stored.push(*id);
        } else {
            blocks.entry(merkle::block_of(*id)).or_default().push(*id);
        }
    }
    let mut out = Vec::with_capacity(ids.len());
    for (first, low) in blocks {
        let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT idx, leaf FROM tlog_leaves WHERE idx >= $1 AND idx < $2 ORDER BY idx",
        )
        .bind(first as i64)
        .bind((first + merkle::BLOCK_LEAVES) as i64)
        .fetch_all(&mut *conn)
        .await?;
        let leaves: std::collections::HashMap<u64, Hash> = rows
            .iter()
            .map(|(idx, leaf)| (*idx as u64, merkle::leaf_hash(leaf)))
            .collect();
        let leaf = |i: u64| leaves.get(&i).copied();
        out.extend(
            low.into_iter()
                .filter_map(|id| Some((id, merkle::low_node(id, &leaf)?))),
        );
    }
    for chunk in stored.chunks(400) {
        let sql = nodes_sql(chunk.len());
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(i64::from(id.level)).bind(id.index as i64);
        }
        out.extend(node_rows(q.fetch_all(&mut *conn).await?)?);
    }
    Ok(out)
}

/// Takes sequenced leaves off the queue (PostgreSQL): `$1` is their queue ids as a JSON array. An
/// array matched by the primary key, not a join, whatever the queue's statistics say: see
/// [`super::audit::DEQUEUE_EVENTS_PG`].
pub const DEQUEUE_LEAVES_PG: &str = "DELETE FROM tlog_pending WHERE id = ANY(ARRAY(\
     SELECT x::bigint FROM jsonb_array_elements_text($1::jsonb) AS x))";

/// Store sequenced leaves `(idx, licence id, leaf)` and new subtree hashes (those of the stored
/// levels: [`merkle::is_stored`]), and take the leaves off the queue: multi-row parts of `b`.
pub fn append_into(
    b: &mut Batch,
    leaves: &[(u64, String, Vec<u8>)],
    queue_ids: &[i64],
    nodes: &[(NodeId, Hash)],
    now: i64,
) {
    let nodes: Vec<(NodeId, Hash)> = nodes
        .iter()
        .copied()
        .filter(|(id, _)| merkle::is_stored(*id))
        .collect();
    let nodes = nodes.as_slice();
    if b.backend() == super::Backend::Postgres {
        return append_into_pg(b, leaves, queue_ids, nodes, now);
    }
    for batch in leaves.chunks(200) {
        let sql = super::multi_insert(
            "tlog_leaves (idx, licence_id, leaf, sequenced_at)",
            batch.len(),
            4,
        );
        b.push(&sql, |q| {
            for (idx, licence, leaf) in batch {
                q.bind(*idx as i64)
                    .bind(licence.clone())
                    .bind(leaf.clone())
                    .bind(now);
            }
        });
    }
    for batch in nodes.chunks(300) {
        let sql = super::multi_insert("tlog_nodes (level, idx, hash)", batch.len(), 3);
        b.push(&sql, |q| {
            for (id, hash) in batch {
                q.bind(i64::from(id.level))
                    .bind(id.index as i64)
                    .bind(hash.to_vec());
            }
        });
    }
    for batch in queue_ids.chunks(500) {
        // Integers from our own rows: no injection possible, and one statement instead of n.
        let ids: Vec<String> = batch.iter().map(i64::to_string).collect();
        b.push(
            &format!("DELETE FROM tlog_pending WHERE id IN ({})", ids.join(", ")),
            |_| {},
        );
    }
}

/// [`append_into`] on PostgreSQL: the rows as JSON parameters, so that the statements' texts do not
/// depend on the number of rows (see `storage::audit::chain_into`).
fn append_into_pg(
    b: &mut Batch,
    leaves: &[(u64, String, Vec<u8>)],
    queue_ids: &[i64],
    nodes: &[(NodeId, Hash)],
    now: i64,
) {
    use base64::Engine;
    use serde_json::{json, Value};
    let b64 = |h: &[u8]| base64::engine::general_purpose::STANDARD.encode(h);
    if !leaves.is_empty() {
        let rows: Vec<Value> = leaves
            .iter()
            .map(|(idx, licence, leaf)| json!({ "idx": idx, "licence_id": licence, "leaf": b64(leaf) }))
            .collect();
        let rows = Value::Array(rows).to_string();
        b.push(
            "INSERT INTO tlog_leaves (idx, licence_id, leaf, sequenced_at) \
             SELECT x.idx, x.licence_id, decode(x.leaf, 'base64'), $2 \
             FROM jsonb_to_recordset($1::jsonb) AS x(idx bigint, licence_id text, leaf text)",
            |q| {
                q.bind(rows).bind(now);
            },
        );
    }
    if !nodes.is_empty() {
        let rows: Vec<Value> = nodes
            .iter()
            .map(|(id, hash)| json!({ "level": id.level, "idx": id.index, "hash": b64(hash) }))
            .collect();
        let rows = Value::Array(rows).to_string();
        b.push(
            "INSERT INTO tlog_nodes (level, idx, hash) \
             SELECT x.level, x.idx, decode(x.hash, 'base64') \
             FROM jsonb_to_recordset($1::jsonb) AS x(level bigint, idx bigint, hash text)",
            |q| {
                q.bind(rows);
            },
        );
    }
    if !queue_ids.is_empty() {
        let ids = Value::from(queue_ids.to_vec()).to_string();
        b.push(DEQUEUE_LEAVES_PG, |q| {
            q.bind(ids);
        });
    }
}

/// Store a signed checkpoint, as a part of `b`.
pub fn checkpoint_into(b: &mut Batch, size: u64, root: &Hash, at: i64, note: &str) {
    b.push(
        "INSERT INTO tlog_checkpoints (size, root, at, note) VALUES ($1, $2, $3, $4)",
        |q| {
            q.bind(size as i64)
                .bind(root.to_vec())
                .bind(at)
                .bind(note.to_owned());
        },
    );
}

/// The newest signed checkpoint: (size, note).
pub async fn latest_checkpoint(db: &Db) -> Result<Option<(i64, String)>> {
    Ok(
        sqlx::query_as("SELECT size, note FROM tlog_checkpoints ORDER BY size DESC LIMIT 1")
            .fetch_optional(&db.pool)
            .await?,
    )
}

/// Leaves `[start, end)`: (idx, licence id, leaf).
pub async fn leaves(db: &Db, start: i64, end: i64) -> Result<Vec<(i64, String, Vec<u8>)>> {
    Ok(sqlx::query_as(
        "SELECT idx, licence_id, leaf FROM tlog_leaves WHERE idx >= $1 AND idx < $2 ORDER BY idx",
    )
    .bind(start)
    .bind(end)
    .fetch_all(&db.pool)
    .await?)
}

/// A licence's sequenced leaves, in log order: (idx, leaf).
pub async fn leaves_of(db: &Db, licence_id: &str) -> Result<Vec<(i64, Vec<u8>)>> {
    Ok(
        sqlx::query_as("SELECT idx, leaf FROM tlog_leaves WHERE licence_id = $1 ORDER BY idx")
            .bind(licence_id)
            .fetch_all(&db.pool)
            .await?,
    )
}

/// A licence's leaves still waiting to be sequenced.
pub async fn pending_of(db: &Db, licence_id: &str) -> Result<Vec<Vec<u8>>> {
    let rows: Vec<(Vec<u8>,)> =
        sqlx::query_as("SELECT leaf FROM tlog_pending WHERE licence_id = $1 ORDER BY id")
            .bind(licence_id)
            .fetch_all(&db.pool)
            .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}
