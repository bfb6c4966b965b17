//! This node's side of sealing: the coordination of its rounds, the newest checkpoint it knows, and
//! the receipts of the leaves it sequenced recently (issuance answers with them without a query). The
//! rounds themselves are [`super::rounds`].

use std::sync::atomic::AtomicU64;

use crate::storage::StorageError;
use crate::tlog::merkle::{Frontier, Hash};
use crate::tlog::note::{Checkpoint, LogKey};

/// Coordination of sealing rounds within one node, and what the last rounds produced.
pub struct Sealer {
    pub(super) lock: tokio::sync::Mutex<Option<std::time::Instant>>,
    pub(super) started: AtomicU64,
    pub(super) completed: AtomicU64,
    /// The newest checkpoint this node signed or read: (size, note).
    pub(super) latest: std::sync::RwLock<Option<(u64, std::sync::Arc<str>)>>,
    /// Receipts of licences sequenced by this node's recent rounds, against the round's checkpoint:
    /// issuance answers with them without a query.
    pub(super) recent: moka::sync::Cache<String, std::sync::Arc<Receipt>>,
    /// The right edge of the tree after the last leaf this node sequenced in a transaction (SQLite),
    /// with that leaf's hash: reused while the database's last leaf is still that one.
    pub(super) edge: std::sync::Mutex<Option<Edge>>,
}

#[derive(Clone)]
pub(super) struct Edge {
    pub(super) frontier: Frontier,
    pub(super) last_leaf: Hash,
}

/// A leaf sequenced in the caller's transaction ([`append`] on SQLite): its receipt, but for the
/// checkpoint's signature, which [`Sealer::publish`] adds once the transaction committed.
#[derive(Debug)]
pub struct Sequenced {
    pub(super) licence: String,
    pub(super) index: u64,
    pub(super) leaf: Vec<u8>,
    pub(super) root: Hash,
    pub(super) proof: Vec<Hash>,
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
            edge: std::sync::Mutex::new(None),
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

    /// Once the transaction that sequenced `s` committed: sign the checkpoint of the tree it ended
    /// (one Ed25519 signature, ~20 µs) and keep the leaf's receipt, which issuance answers with.
    /// Never before the commit: a receipt must not name a leaf that may yet roll back.
    pub fn publish(&self, key: &LogKey, s: Sequenced, now: i64) -> Result<(), StorageError> {
        let checkpoint = Checkpoint {
            origin: key.name().to_owned(),
            size: s.index + 1,
            root: s.root,
            time: now,
        };
        let note: std::sync::Arc<str> = key
            .sign_checkpoint(&checkpoint)
            .map_err(|e| StorageError::Integrity(format!("signing a checkpoint: {e}")))?
            .into();
        self.note_latest(checkpoint.size, note.clone());
        if !self.recent.contains_key(&s.licence) {
            let r = Receipt {
                index: s.index,
                leaf: s.leaf,
                note,
                proof: s.proof,
            };
            self.recent.insert(s.licence, std::sync::Arc::new(r));
        }
        Ok(())
    }

    pub(super) fn note_latest(&self, size: u64, note: std::sync::Arc<str>) {
        if let Ok(mut l) = self.latest.write() {
            if l.as_ref().is_none_or(|(n, _)| *n < size) {
                *l = Some((size, note));
            }
        }
    }
}
