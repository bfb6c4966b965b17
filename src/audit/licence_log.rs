//! The licence transparency log as the service runs it: what a leaf holds, the log's signing key, and
//! proofs and receipts read from storage (the pure Merkle code is [`crate::tlog`]).
//!
//! What a leaf holds is [`crate::tlog::leaf`].

use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use crate::audit::context::Audit;
use crate::storage::{self, StorageError};
use crate::tlog::merkle::{self, Hash, NodeId};
use crate::tlog::note::LogKey;

/// The log's origin line and key name: the issuer without scheme, then `/licence-log`.
pub fn origin(issuer: &str) -> String {
    let bare = issuer
        .split_once("://")
        .map_or(issuer, |(_, rest)| rest)
        .trim_end_matches('/');
    format!("{bare}/licence-log")
}

/// Where the log's Ed25519 key lives under the key directory.
fn key_path(key_dir: &Path) -> std::path::PathBuf {
    key_dir.join("tlog").join("ed25519.pk8")
}

/// Create the log's key (mode 0600) if there is none; whether it was created. Only
/// `startup::open` calls this, and only once it has decided that keys may be generated.
pub fn create_key_if_missing(key_dir: &Path) -> anyhow::Result<bool> {
    let path = key_path(key_dir);
    if path.exists() {
        return Ok(false);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let pkcs8 = LogKey::generate_pkcs8().map_err(|e| anyhow::anyhow!("{e}"))?;
    write_private(&path, &pkcs8)?;
    Ok(true)
}

/// The log's Ed25519 key from `<key_dir>/tlog/ed25519.pk8`; never created here.
pub fn load_key(key_dir: &Path, origin: &str) -> anyhow::Result<LogKey> {
    use anyhow::Context;
    let path = key_path(key_dir);
    let pkcs8 = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    LogKey::from_pkcs8(origin, &pkcs8).map_err(|e| anyhow::anyhow!("the log key: {e}"))
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

async fn lookup(ctx: &Audit, ids: &[NodeId]) -> Result<Vec<(NodeId, Hash)>, StorageError> {
    storage::tlog::nodes(&ctx.db, ids).await
}

fn integrity(e: merkle::ProofError) -> StorageError {
    StorageError::Integrity(format!("transparency log: {e}"))
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves (caller checks index < size ≤
/// the log's size).
pub async fn inclusion_proof(
    ctx: &Audit,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, StorageError> {
    let needs = merkle::inclusion_proof_needs(index, size).map_err(integrity)?;
    let found: std::collections::HashMap<NodeId, Hash> =
        lookup(ctx, &needs).await?.into_iter().collect();
    merkle::inclusion_proof(index, size, |id| found.get(&id).copied()).map_err(integrity)
}

/// The consistency proof from `old` to `new` leaves (caller checks 0 < old ≤ new ≤ the log's size).
pub async fn consistency_proof(ctx: &Audit, old: u64, new: u64) -> Result<Vec<Hash>, StorageError> {
    let needs = merkle::consistency_proof_needs(old, new).map_err(integrity)?;
    let found: std::collections::HashMap<NodeId, Hash> =
        lookup(ctx, &needs).await?.into_iter().collect();
    merkle::consistency_proof(old, new, |id| found.get(&id).copied()).map_err(integrity)
}

/// The newest checkpoint: (tree size, signed note) — the newest stored, or a newer one this node
/// signed for a receipt since (SQLite sequences leaves in their transactions and stores a checkpoint
/// each sealing round).
pub async fn latest(ctx: &Audit) -> Result<Option<(u64, String)>, StorageError> {
    let stored = storage::tlog::latest_checkpoint(&ctx.db)
        .await?
        .map(|(size, note)| (u64::try_from(size).unwrap_or(0), note));
    Ok(match (stored, ctx.sealer.latest()) {
        (Some(s), Some(m)) if m.0 <= s.0 => Some(s),
        (_, Some((size, note))) => Some((size, note.to_string())),
        (s, None) => s,
    })
}

/// The inclusion receipt of a licence's issuance: the leaf, its index, a checkpoint and the proof
/// against it. With `just_sequenced`, the receipt a recent round of this node computed (against that
/// round's checkpoint) is taken from memory if there is one; otherwise the proof is read against the
/// newest checkpoint. `None` when the licence has no sequenced leaf (yet).
pub async fn receipt(
    ctx: &Audit,
    licence_id: &str,
    just_sequenced: bool,
) -> Result<Option<Value>, StorageError> {
    let b64 = |p: &[Hash]| p.iter().map(|h| STANDARD.encode(h)).collect::<Vec<_>>();
    if just_sequenced {
        if let Some(r) = ctx.sealer.recent_receipt(licence_id) {
            return Ok(Some(json!({
                "log_index": r.index,
                "leaf": String::from_utf8_lossy(&r.leaf),
                "checkpoint": &*r.note,
                "inclusion_proof": b64(&r.proof),
            })));
        }
    }
    let leaves = storage::tlog::leaves_of(&ctx.db, licence_id).await?;
    let Some((index, leaf)) = leaves.into_iter().next() else {
        return Ok(None);
    };
    let Some((size, note)) = latest(ctx).await? else {
        return Ok(None);
    };
    let index = u64::try_from(index).unwrap_or(u64::MAX);
    if index >= size {
        return Ok(None);
    }
    let proof = inclusion_proof(ctx, index, size).await?;
    Ok(Some(json!({
        "log_index": index,
        "leaf": String::from_utf8_lossy(&leaf),
        "checkpoint": note,
        "inclusion_proof": b64(&proof),
    })))
}

/// The log's leaves `start..end`: (index, licence id, leaf).
pub async fn leaves(
    ctx: &Audit,
    start: i64,
    end: i64,
) -> Result<Vec<(i64, String, Vec<u8>)>, storage::StorageError> {
    storage::tlog::leaves(&ctx.db, start, end).await
}
