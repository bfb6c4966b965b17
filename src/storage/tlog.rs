//! The transparency log's tables: the queue of leaves appended by state changes, the sequenced leaves,
//! the hashes of complete subtrees, and the signed checkpoints. All but the queue are append-only.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use sqlx::Row;

use super::{Db, Result, Tx};
use crate::tlog::merkle::{Hash, NodeId};

/// Queue a leaf in the transaction of the change it records.
pub async fn enqueue(tx: &mut Tx, licence_id: &str, leaf: &[u8]) -> Result<()> {
    sqlx::query("INSERT INTO tlog_pending (licence_id, leaf) VALUES ($1, $2)")
        .bind(licence_id)
        .bind(leaf.to_vec())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Up to `limit` queued leaves in the order they were queued: (queue id, licence id, leaf).
pub async fn pending(tx: &mut Tx, limit: i64) -> Result<Vec<(i64, String, Vec<u8>)>> {
    Ok(
        sqlx::query_as("SELECT id, licence_id, leaf FROM tlog_pending ORDER BY id LIMIT $1")
            .bind(limit)
            .fetch_all(&mut **tx)
            .await?,
    )
}

/// The number of sequenced leaves.
pub async fn size(tx: &mut Tx) -> Result<u64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(idx) + 1, 0) FROM tlog_leaves")
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

/// The stored hashes of these complete subtrees (those that exist), in one query per 400 nodes.
pub async fn nodes(db: &Db, ids: &[NodeId]) -> Result<Vec<(NodeId, Hash)>> {
    let mut conn = db.pool.acquire().await?;
    nodes_on(&mut conn, ids).await
}

/// [`nodes`] inside a transaction.
pub async fn nodes_tx(tx: &mut Tx, ids: &[NodeId]) -> Result<Vec<(NodeId, Hash)>> {
    nodes_on(tx, ids).await
}

async fn nodes_on(conn: &mut AnyConnection, ids: &[NodeId]) -> Result<Vec<(NodeId, Hash)>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(400) {
        let sql = nodes_sql(chunk.len());
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(i64::from(id.level)).bind(id.index as i64);
        }
        out.extend(node_rows(q.fetch_all(&mut *conn).await?)?);
    }
    Ok(out)
}

/// Store sequenced leaves `(idx, licence id, leaf)` and new subtree hashes, and take the leaves off
/// the queue; multi-row statements.
pub async fn append(
    tx: &mut Tx,
    leaves: &[(u64, String, Vec<u8>)],
    queue_ids: &[i64],
    nodes: &[(NodeId, Hash)],
    now: i64,
) -> Result<()> {
    for batch in leaves.chunks(200) {
        let sql = super::multi_insert(
            "tlog_leaves (idx, licence_id, leaf, sequenced_at)",
            batch.len(),
            4,
        );
        let mut q = sqlx::query(&sql);
        for (idx, licence, leaf) in batch {
            q = q
                .bind(*idx as i64)
                .bind(licence.clone())
                .bind(leaf.clone())
                .bind(now);
        }
        q.execute(&mut **tx).await?;
    }
    for batch in nodes.chunks(300) {
        let sql = super::multi_insert("tlog_nodes (level, idx, hash)", batch.len(), 3);
        let mut q = sqlx::query(&sql);
        for (id, hash) in batch {
            q = q
                .bind(i64::from(id.level))
                .bind(id.index as i64)
                .bind(hash.to_vec());
        }
        q.execute(&mut **tx).await?;
    }
    for batch in queue_ids.chunks(500) {
        // Integers from our own rows: no injection possible, and one statement instead of n.
        let ids: Vec<String> = batch.iter().map(i64::to_string).collect();
        sqlx::query(&format!(
            "DELETE FROM tlog_pending WHERE id IN ({})",
            ids.join(", ")
        ))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

pub async fn insert_checkpoint(
    tx: &mut Tx,
    size: u64,
    root: &Hash,
    at: i64,
    note: &str,
) -> Result<()> {
    sqlx::query("INSERT INTO tlog_checkpoints (size, root, at, note) VALUES ($1, $2, $3, $4)")
        .bind(size as i64)
        .bind(root.to_vec())
        .bind(at)
        .bind(note)
        .execute(&mut **tx)
        .await?;
    Ok(())
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
