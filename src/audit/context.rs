//! What the audit layer needs, built once at start-up: the database, this node's sealer and the
//! transparency log's signing key.

use std::sync::Arc;

use super::sealer::Sealer;
use crate::storage::Db;
use crate::tlog::note::LogKey;

#[derive(Clone)]
pub struct Audit {
    pub db: Db,
    /// Coordinates sealing rounds (audit chain, transparency log) on this node.
    pub sealer: Arc<Sealer>,
    /// The checkpoint signing key (`keys/tlog/ed25519.pk8`), named by the log's origin.
    pub log_key: Arc<LogKey>,
    /// The least time between two sealing rounds (`seal_interval_ms`).
    pub seal_interval_ms: u64,
}
