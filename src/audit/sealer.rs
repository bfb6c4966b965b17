//! The sealer: chains queued audit events and sequences queued transparency-log leaves into the Merkle
//! tree, then signs a checkpoint — in one transaction, one round at a time cluster-wide (a PostgreSQL
//! advisory lock; SQLite's single connection serialises by itself).
//!
//! Writers never wait on a chain head: they only queue (see migrations 0004). A caller that needs its
//! leaf sequenced (issuance answers with an inclusion receipt) calls [`seal_now`], which coalesces
//! callers like a group commit: whoever holds the round runs it for everything queued, and callers
//! whose rows were committed before a round started just wait for that round. A background task also
//! seals every second ([`crate::startup`]), which covers events recorded by other nodes and the CLI and
//! leaves queued before a crash.

use std::sync::atomic::{AtomicU64, Ordering};

use super::chain::{link_hash, GENESIS};
use crate::state::AppState;
use crate::storage::{self, audit::Link, Backend, StorageError};
use crate::tlog::merkle::{frontier_ids, inclusion_proof, leaf_hash, Frontier};
use crate::tlog::note::Checkpoint;

/// Rows taken per table per round; a larger queue takes several rounds.
const BATCH: i64 = 2000;
/// The advisory lock key of the sealing round (any constant unique to tongban).
const LOCK_KEY: i64 = 0x746f_6e67_6261_6e01;

/// Coordination of sealing rounds within one node, and what the last rounds produced.
pub struct Sealer {
    lock: tokio::sync::Mutex<Option<std::time::Instant>>,
    started: AtomicU64,
    completed: AtomicU64,
    /// The newest checkpoint this node signed or read: (size, note).
    latest: std::sync::RwLock<Option<(u64, std::sync::Arc<str>)>>,
    /// Receipts of licences sequenced by this node's recent rounds, against the round's checkpoint:
    /// issuance answers with them without a query.
    recent: moka::sync::Cache<String, std::sync::Arc<Receipt>>,
}

/// A leaf's inclusion receipt: the leaf, its index, the checkpoint and the proof against it.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub index: u64,
    pub leaf: Vec<u8>,
    pub note: std::sync::Arc<str>,
    pub proof: Vec<crate::tlog::merkle::Hash>,
}

impl Default for Sealer {
    fn default() -> Self {
        Self::new()
    }
}

impl Sealer {
    pub fn new() -> Self {
        Self {
            lock: tokio::sync::Mutex::new(None),
            started: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            latest: std::sync::RwLock::new(None),
            recent: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(std::time::Duration::from_secs(60))
                .build(),
        }
    }

    /// The newest checkpoint known to this node without a query, if any.
    pub fn latest(&self) -> Option<(u64, std::sync::Arc<str>)> {
        self.latest.read().ok().and_then(|l| l.clone())
    }

    /// The receipt of a licence's first leaf, if a recent round of this node sequenced it.
    pub fn recent_receipt(&self, licence_id: &str) -> Option<std::sync::Arc<Receipt>> {
        self.recent.get(licence_id)
    }
}

/// What a round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sealed {
    pub events: usize,
    pub leaves: usize,
}

/// Make sure everything this caller committed before the call is chained and sequenced.
pub async fn seal_now(state: &AppState, now: i64) -> Result<(), StorageError> {
    let s = &state.sealer;
    let seen = s.started.load(Ordering::SeqCst);
    let mut last_end = s.lock.lock().await;
    // A round that started after our commit covered our rows.
    if s.completed.load(Ordering::SeqCst) > seen {
        return Ok(());
    }
    // Let the rounds breathe: whoever commits while we wait is covered by this round (`started` is
    // only advanced when it begins), so one round serves many issuances.
    let gap = std::time::Duration::from_millis(state.config.seal_interval_ms);
    if let Some(end) = *last_end {
        if let Some(rest) = gap.checked_sub(end.elapsed()) {
            tokio::time::sleep(rest).await;
        }
    }
    let n = s.started.fetch_add(1, Ordering::SeqCst) + 1;
    let began = std::time::Instant::now();
    let outcome = async {
        loop {
            let sealed = round(state, now).await?;
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

/// One round: chain up to [`BATCH`] events and sequence up to [`BATCH`] leaves, sign a checkpoint if
/// the tree grew.
pub async fn round(state: &AppState, now: i64) -> Result<Sealed, StorageError> {
    let mut tx = state.db.begin_sealing().await?;
    match state.db.backend {
        Backend::Postgres => {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(LOCK_KEY)
                .execute(&mut *tx)
                .await?;
        }
        // Take SQLite's write lock before reading the queues (as BEGIN IMMEDIATE would): two
        // processes on one file (a server and the CLI) then seal one after the other instead of
        // both reading the same queue and one failing to upgrade its snapshot.
        Backend::Sqlite => {
            sqlx::query("DELETE FROM tlog_pending WHERE 0 = 1")
                .execute(&mut *tx)
                .await?;
        }
    }
    let mut sealed = Sealed::default();

    let events = storage::audit::pending(&mut tx, BATCH).await?;
    if !events.is_empty() {
        let (mut pos, mut prev) = match storage::audit::head(&mut tx).await? {
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
        storage::audit::chain(&mut tx, &links).await?;
        sealed.events = links.len();
    }

    let queued = storage::tlog::pending(&mut tx, BATCH).await?;
    if !queued.is_empty() {
        let size = storage::tlog::size(&mut tx).await?;
        let stored = storage::tlog::nodes_tx(&mut tx, &frontier_ids(size)).await?;
        // The nodes this round knows: the right edge before it and every node it completes. They
        // are all an inclusion proof of a new leaf against the new checkpoint needs.
        let mut known: std::collections::HashMap<_, _> = stored.iter().copied().collect();
        let mut frontier = Frontier::from_nodes(size, stored)
            .map_err(|e| StorageError::Integrity(format!("transparency log frontier: {e}")))?;
        let mut leaves = Vec::with_capacity(queued.len());
        let mut nodes = Vec::with_capacity(queued.len() * 2);
        let mut queue_ids = Vec::with_capacity(queued.len());
        for (qid, licence, leaf) in queued {
            let idx = frontier.size();
            nodes.extend(frontier.append(leaf_hash(&leaf)));
            leaves.push((idx, licence, leaf));
            queue_ids.push(qid);
        }
        storage::tlog::append(&mut tx, &leaves, &queue_ids, &nodes, now).await?;
        let checkpoint = Checkpoint {
            origin: state.log_key.name().to_owned(),
            size: frontier.size(),
            root: frontier.root(),
            time: now,
        };
        // One Ed25519 signature (~20 µs) per round, not per leaf.
        let note = state
            .log_key
            .sign_checkpoint(&checkpoint)
            .map_err(|e| StorageError::Integrity(format!("signing a checkpoint: {e}")))?;
        storage::tlog::insert_checkpoint(&mut tx, checkpoint.size, &checkpoint.root, now, &note)
            .await?;
        sealed.leaves = leaves.len();
        tx.commit().await?;
        // Published only once committed: receipts built from these never name an uncommitted leaf.
        let note: std::sync::Arc<str> = note.into();
        known.extend(nodes.iter().copied());
        for (idx, licence, leaf) in leaves {
            if state.sealer.recent.contains_key(&licence) {
                continue;
            }
            // Should a node be missing, the receipt is read from the database later instead.
            if let Ok(proof) = inclusion_proof(idx, checkpoint.size, |id| known.get(&id).copied()) {
                let r = Receipt {
                    index: idx,
                    leaf,
                    note: note.clone(),
                    proof,
                };
                state.sealer.recent.insert(licence, std::sync::Arc::new(r));
            }
        }
        if let Ok(mut l) = state.sealer.latest.write() {
            *l = Some((checkpoint.size, note));
        }
        return Ok(sealed);
    }
    tx.commit().await?;
    Ok(sealed)
}
