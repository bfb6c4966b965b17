//! The hash chain over audit events: how a link's hash is computed, and the walk that checks a whole
//! chain and names the first event that does not match.

use serde::Serialize;

use crate::storage::{self, audit::EventRow, Db, StorageError};

/// The hash before the first link.
pub const GENESIS: [u8; 32] = [0; 32];

/// The canonical bytes of an event: the JSON array `[id, at, actor, action, object, detail]`, with
/// `detail` as the stored string. A change to any field, or to the event's id, changes them.
pub fn canonical(e: &EventRow) -> Vec<u8> {
    serde_json::to_vec(&(e.id, e.at, &e.actor, &e.action, &e.object, &e.detail)).unwrap_or_default()
}

/// `SHA-256(prev || canonical(event))`.
pub fn link_hash(prev: &[u8], e: &EventRow) -> [u8; 32] {
    let mut input = Vec::with_capacity(32 + 128);
    input.extend_from_slice(prev);
    input.extend_from_slice(&canonical(e));
    crate::crypto::sha256(&input)
}

/// The outcome of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    /// Links checked.
    pub links: i64,
    /// Hash of the last link (hex), the value to write down and compare later.
    pub head: String,
    /// Events recorded but not yet chained (the sealer runs within a second).
    pub pending: i64,
    /// The first problem, if any.
    pub broken: Option<Broken>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Broken {
    /// The chain position of the first link that does not verify.
    pub position: i64,
    /// The audit event's id at that position.
    pub event_id: i64,
    pub problem: String,
}

/// Walk every link in order: positions without gaps, each link's `prev_hash` is the previous link's
/// hash, each event exists and hashes to its link; then every event is chained or queued.
pub async fn verify(db: &Db) -> Result<ChainReport, StorageError> {
    let mut prev = GENESIS.to_vec();
    let mut expected_pos = 0i64;
    let mut broken = None;
    'walk: loop {
        let page = storage::audit::links(db, expected_pos, 1000).await?;
        if page.is_empty() {
            break;
        }
        for l in page {
            let fail = |problem: String| Broken {
                position: l.pos,
                event_id: l.event_id,
                problem,
            };
            if l.pos != expected_pos {
                broken = Some(Broken {
                    position: expected_pos,
                    event_id: l.event_id,
                    problem: format!(
                        "positions {expected_pos} to {} are missing: links were deleted",
                        l.pos - 1
                    ),
                });
                break 'walk;
            }
            if l.prev_hash != prev {
                broken = Some(fail(
                    "the link does not follow the previous one: links were removed or reordered"
                        .into(),
                ));
                break 'walk;
            }
            let event = match (l.id, l.at, l.actor, l.action, l.object, l.detail) {
                (Some(id), Some(at), Some(actor), Some(action), Some(object), Some(detail)) => {
                    EventRow {
                        id,
                        at,
                        actor,
                        action,
                        object,
                        detail,
                    }
                }
                _ => {
                    broken = Some(fail(format!("event {} was deleted", l.event_id)));
                    break 'walk;
                }
            };
            if link_hash(&prev, &event).as_slice() != l.hash.as_slice() {
                broken = Some(fail(format!(
                    "event {} was changed after it was recorded (its hash does not match)",
                    l.event_id
                )));
                break 'walk;
            }
            prev = l.hash;
            expected_pos += 1;
        }
    }
    if broken.is_none() {
        if let Some(&id) = storage::audit::unlinked(db, 1).await?.first() {
            broken = Some(Broken {
                position: expected_pos,
                event_id: id,
                problem: format!("event {id} is neither chained nor queued: its link was deleted"),
            });
        }
    }
    if broken.is_none() {
        // The sealer chains queued events a round later (at most a second): one deleted meanwhile
        // leaves its place in the queue behind.
        if let Some(&id) = storage::audit::orphaned(db, 1).await?.first() {
            broken = Some(Broken {
                position: expected_pos,
                event_id: id,
                problem: format!(
                    "event {id} was deleted before it was chained (it is still queued)"
                ),
            });
        }
    }
    let pending = storage::audit::pending_count(db).await?;
    Ok(ChainReport {
        links: expected_pos,
        head: crate::crypto::hex(&prev),
        pending,
        broken,
    })
}
