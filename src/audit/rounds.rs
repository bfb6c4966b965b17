//! The sealer: chains queued audit events and sequences queued transparency-log leaves into the Merkle
//! tree, then signs a checkpoint — in one transaction, one round at a time cluster-wide (a PostgreSQL
//! advisory lock; SQLite's single connection serialises by itself).
//!
//! Writers never wait on a chain head: they only queue (see migrations 0004). A caller that needs its
//! leaf sequenced (issuance answers with an inclusion receipt) calls [`seal_now`], which coalesces
//! callers like a group commit: whoever holds the round runs it for everything queued, and callers
//! whose rows were committed before a round started just wait for that round. A background task also
//! seals every 200 ms on PostgreSQL and every second on SQLite ([`crate::startup`]), which covers
//! events recorded by other nodes and the CLI and leaves queued before a crash.
//!
//! On SQLite a leaf is not queued at all: [`append`] sequences it in the transaction of the change it
//! records (the single connection makes that transaction the only appender), and [`Sealer::publish`](super::sealer::Sealer::publish)
//! signs the checkpoint of its receipt once it committed. Issuance then waits for no round, and
//! writes no queue row to delete again; the background round chains the audit events and stores a
//! checkpoint of what the tree grew to. Measured on one core: see benches/RESULTS.md.

use std::sync::atomic::Ordering;

use super::chain::{link_hash, GENESIS};
use super::context::Audit;
use super::sealer::{Edge, Receipt, Sequenced};
use crate::storage::{self, audit::Link, Backend, StorageError, Tx};
use crate::tlog::merkle::{frontier_ids, inclusion_proof, leaf_hash, Frontier, Hash};
use crate::tlog::note::Checkpoint;

/// Rows taken per table per round; a larger queue takes several rounds.
const BATCH: i64 = 1000;
/// The advisory lock key of the sealing round (any constant unique to tongban).
const LOCK_KEY: i64 = 0x746f_6e67_6261_6e01;

/// Append a transparency-log leaf in the transaction of the change it records, now.
pub async fn append(
    ctx: &Audit,
    tx: &mut Tx,
    licence: &str,
    leaf: Vec<u8>,
    now: i64,
) -> Result<Option<Sequenced>, StorageError> {
    let mut b = storage::Batch::new(ctx.db.backend);
    let sequenced = append_into(ctx, tx, &mut b, licence, leaf, now).await?;
    b.execute(tx).await?;
    Ok(sequenced)
}

/// Append a transparency-log leaf as a part of `b`, the statement that writes the change it records
/// in `tx`. No other part of `b` may append a leaf.
///
/// On SQLite the leaf is sequenced here: the tree's last leaf is read in `tx`, the new leaf and the
/// subtree hashes it completes become parts of `b`, and the answer is what [`Sealer::publish`] needs
/// once `tx` committed. `tx` must hold the database's write lock ([`storage::Db::begin_write`], or a
/// write before this call), so the last leaf read here stays the last until the commit, even with a
/// second process (the CLI) on the file. On PostgreSQL the leaf is queued for the sealer (`None`):
/// sequencing here would hold the log's tail locked across each commit of the whole cluster.
pub async fn append_into(
    ctx: &Audit,
    tx: &mut Tx,
    b: &mut storage::Batch,
    licence: &str,
    leaf: Vec<u8>,
    now: i64,
) -> Result<Option<Sequenced>, StorageError> {
    if ctx.db.backend == Backend::Postgres {
        storage::tlog::enqueue_into(b, licence, &leaf);
        return Ok(None);
    }
    let last = storage::tlog::last_leaf(tx).await?;
    let mut frontier = edge_for(ctx, tx, last.as_ref()).await?;
    let size = frontier.size();
    let mut known: std::collections::HashMap<_, _> = frontier.nodes().iter().copied().collect();
    let hash = leaf_hash(&leaf);
    let nodes = frontier.append(hash);
    storage::tlog::append_into(
        b,
        &[(size, licence.to_owned(), leaf.clone())],
        &[],
        &nodes,
        now,
    );
    known.extend(nodes.iter().copied());
    let proof = inclusion_proof(size, size + 1, |id| known.get(&id).copied())
        .map_err(|e| StorageError::Integrity(format!("transparency log: {e}")))?;
    let root = frontier.root();
    // Kept before the commit: should the statement or the commit fail, the next append finds
    // another last leaf (or none) in the database and rebuilds the edge from the stored nodes.
    if let Ok(mut e) = ctx.sealer.edge.lock() {
        *e = Some(Edge {
            frontier,
            last_leaf: hash,
        });
    }
    Ok(Some(Sequenced {
        licence: licence.to_owned(),
        index: size,
        leaf,
        root,
        proof,
    }))
}

/// What a round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sealed {
    pub events: usize,
    pub leaves: usize,
}

/// Make sure everything this caller committed before the call is chained and sequenced.
pub async fn seal_now(ctx: &Audit, now: i64) -> Result<(), StorageError> {
    let s = &ctx.sealer;
    let seen = s.started.load(Ordering::SeqCst);
    let mut last_end = s.lock.lock().await;
    // A round that started after our commit covered our rows.
    if s.completed.load(Ordering::SeqCst) > seen {
        return Ok(());
    }
    // Let the rounds breathe: whoever commits while we wait is covered by this round (`started` is
    // only advanced when it begins), so one round serves many issuances.
    let gap = std::time::Duration::from_millis(ctx.seal_interval_ms);
    if let Some(end) = *last_end {
        if let Some(rest) = gap.checked_sub(end.elapsed()) {
            tokio::time::sleep(rest).await;
        }
    }
    let n = s.started.fetch_add(1, Ordering::SeqCst) + 1;
    let began = std::time::Instant::now();
    let outcome = async {
        loop {
            let sealed = round(ctx, now).await?;
            tracing::debug!(
                events = sealed.events,
                leaves = sealed.leaves,
                micros = began.elapsed().as_micros() as u64,
                "sealing round"
            );
            if (sealed.events as i64) < BATCH && (sealed.leaves as i64) < BATCH {
                return Ok::<_, StorageError>(());
            }
        }
    }
    .await;
    *last_end = Some(std::time::Instant::now());
    outcome?;
    s.completed.store(n, Ordering::SeqCst);
    Ok(())
}

/// One round: chain up to [`BATCH`] events and sequence up to [`BATCH`] queued leaves, sign a
/// checkpoint if the tree grew. Four statements besides BEGIN and COMMIT when leaves were queued:
/// the lock, the queued events (with the chain's head), the queued leaves (with the tree's last
/// leaf), and one statement that writes everything ([`storage::Batch`]); the stored right edge is
/// read only when the edge this node kept is not the tree's.
pub async fn round(ctx: &Audit, now: i64) -> Result<Sealed, StorageError> {
    let mut tx = ctx.db.begin_sealing().await?;
    if ctx.db.backend == Backend::Postgres {
        storage::audit::lock_sealing(&mut tx, LOCK_KEY).await?;
    }
    let mut sealed = Sealed::default();
    let mut w = storage::Batch::new(ctx.db.backend);

    let (events, head) = storage::audit::pending_with_head(&mut tx, ctx.db.backend, BATCH).await?;
    if !events.is_empty() {
        let (mut pos, mut prev) = match head {
            Some((p, h)) => (p + 1, h),
            None => (0, GENESIS.to_vec()),
        };
        let mut links = Vec::with_capacity(events.len());
        for e in &events {
            let hash = link_hash(&prev, e).to_vec();
            links.push(Link {
                pos,
                event_id: e.id,
                prev_hash: prev,
                hash: hash.clone(),
            });
            prev = hash;
            pos += 1;
        }
        storage::audit::chain_into(&mut w, &links);
        sealed.events = links.len();
    }

    let (queued, last) = storage::tlog::pending_with_last(&mut tx, BATCH).await?;
    // What this round sequenced: the leaves, the nodes it knows (the right edge before it and every
    // node it completes: all that an inclusion proof of a new leaf against the new checkpoint
    // needs), and the last leaf's hash.
    let mut sequenced = None;
    let frontier = if !queued.is_empty() {
        let mut frontier = edge_for(ctx, &mut tx, last.as_ref()).await?;
        let mut known: std::collections::HashMap<_, _> = frontier.nodes().iter().copied().collect();
        let mut leaves = Vec::with_capacity(queued.len());
        let mut nodes = Vec::with_capacity(queued.len() * 2);
        let mut queue_ids = Vec::with_capacity(queued.len());
        let mut last_leaf = None;
        for (qid, licence, leaf) in queued {
            let idx = frontier.size();
            let hash = leaf_hash(&leaf);
            nodes.extend(frontier.append(hash));
            last_leaf = Some(hash);
            leaves.push((idx, licence, leaf));
            queue_ids.push(qid);
        }
        storage::tlog::append_into(&mut w, &leaves, &queue_ids, &nodes, now);
        known.extend(nodes.iter().copied());
        sealed.leaves = leaves.len();
        sequenced = Some((leaves, known, last_leaf));
        Some(frontier)
    } else {
        // Leaves sequenced in their own transactions (SQLite) got a checkpoint each in memory,
        // with their receipts; the stored checkpoints, the log's public record, follow here.
        let size = storage::tlog::size(&mut tx).await?;
        if size > storage::tlog::checkpoint_size(&mut tx).await? {
            let stored = storage::tlog::nodes_tx(&mut tx, &frontier_ids(size)).await?;
            Some(
                Frontier::from_nodes(size, stored).map_err(|e| {
                    StorageError::Integrity(format!("transparency log frontier: {e}"))
                })?,
            )
        } else {
            None
        }
    };
    // One Ed25519 signature (~20 µs) per round that grew the tree, not per leaf.
    let note = match &frontier {
        Some(f) => {
            let note = sign(ctx, f.size(), f.root(), now)?;
            storage::tlog::checkpoint_into(&mut w, f.size(), &f.root(), now, &note);
            Some(note)
        }
        None => None,
    };
    w.execute(&mut tx).await?;
    tx.commit().await?;
    let (Some(frontier), Some(note)) = (frontier, note) else {
        return Ok(sealed);
    };
    // Published only once committed: receipts built from these never name an uncommitted leaf.
    let size = frontier.size();
    let note: std::sync::Arc<str> = note.into();
    ctx.sealer.note_latest(size, note.clone());
    let Some((leaves, known, last_leaf)) = sequenced else {
        return Ok(sealed);
    };
    if let (Ok(mut e), Some(last_leaf)) = (ctx.sealer.edge.lock(), last_leaf) {
        *e = Some(Edge {
            frontier,
            last_leaf,
        });
    }
    for (idx, licence, leaf) in leaves {
        if ctx.sealer.recent.contains_key(&licence) {
            continue;
        }
        // Should a node be missing, the receipt is read from the database later instead.
        if let Ok(proof) = inclusion_proof(idx, size, |id| known.get(&id).copied()) {
            let r = Receipt {
                index: idx,
                leaf,
                note: note.clone(),
                proof,
            };
            ctx.sealer.recent.insert(licence, std::sync::Arc::new(r));
        }
    }
    Ok(sealed)
}

/// The tree's right edge: the one this node kept, if the tree's last leaf (`last`, read in `tx`) is
/// still the one it ended with; otherwise read from the stored nodes.
async fn edge_for(
    ctx: &Audit,
    tx: &mut Tx,
    last: Option<&(i64, Vec<u8>)>,
) -> Result<Frontier, StorageError> {
    let (size, last_hash) = match last {
        Some((idx, l)) => (u64::try_from(*idx).unwrap_or(0) + 1, Some(leaf_hash(l))),
        None => (0, None),
    };
    let cached = ctx
        .sealer
        .edge
        .lock()
        .ok()
        .and_then(|e| e.clone())
        .filter(|e| e.frontier.size() == size && Some(e.last_leaf) == last_hash);
    match cached {
        Some(e) => Ok(e.frontier),
        None => {
            let stored = storage::tlog::nodes_tx(tx, &frontier_ids(size)).await?;
            Frontier::from_nodes(size, stored)
                .map_err(|e| StorageError::Integrity(format!("transparency log frontier: {e}")))
        }
    }
}

fn sign(ctx: &Audit, size: u64, root: Hash, now: i64) -> Result<String, StorageError> {
    let checkpoint = Checkpoint {
        origin: ctx.log_key.name().to_owned(),
        size,
        root,
        time: now,
    };
    ctx.log_key
        .sign_checkpoint(&checkpoint)
        .map_err(|e| StorageError::Integrity(format!("signing a checkpoint: {e}")))
}
