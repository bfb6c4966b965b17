//! What `tongban audit ...` does: walk the audit chain; check the transparency log against a
//! checkpoint saved earlier. Each returns a JSON report and whether everything held.

use serde_json::{json, Value};

use super::chain;
use crate::audit::context::Audit;
use crate::storage::{self, StorageError};
use crate::tlog::merkle::{leaf_hash, Frontier};
use crate::tlog::note::open_checkpoint;

/// `tongban audit verify`: the whole chain, after sealing what is queued.
pub async fn verify_chain(ctx: &Audit, now: i64) -> Result<(Value, bool), StorageError> {
    super::rounds::seal_now(ctx, now).await?;
    let r = chain::verify(&ctx.db).await?;
    let ok = r.broken.is_none();
    Ok((json!(r), ok))
}

/// `tongban audit verify-log CHECKPOINT`: the saved checkpoint is signed by this log's key; the
/// stored leaves hash to its root at its size (nothing before it was changed or removed) and to the
/// newest checkpoint's root; and the consistency proof the log serves between the two verifies with
/// the independent verifier. Returns (report, all held).
pub async fn verify_log(
    ctx: &Audit,
    saved_note: &str,
    now: i64,
) -> Result<(Value, bool), StorageError> {
    super::rounds::seal_now(ctx, now).await?;
    let vkey = ctx.log_key.verifier_key();
    let mut f = Facts::default();
    let saved = match open_checkpoint(saved_note, &vkey) {
        Ok(c) => {
            f.add(
                "saved_checkpoint_signature",
                true,
                format!("signed by {vkey}: {} leaves", c.size),
            );
            Some(c)
        }
        Err(e) => {
            f.add(
                "saved_checkpoint_signature",
                false,
                format!("not a checkpoint signed by {vkey}: {e}"),
            );
            None
        }
    };
    let latest = super::licence_log::latest(ctx).await?;
    let Some(saved) = saved else {
        return Ok((json!({ "log": vkey, "checks": f.list }), false));
    };
    let Some((latest_size, latest_note)) = latest else {
        f.add(
            "latest_checkpoint",
            false,
            "the log has no checkpoint".into(),
        );
        return Ok((json!({ "log": vkey, "checks": f.list }), false));
    };
    let latest_cp = match open_checkpoint(&latest_note, &vkey) {
        Ok(c) => c,
        Err(e) => {
            f.add(
                "latest_checkpoint",
                false,
                format!("the newest checkpoint does not verify: {e}"),
            );
            return Ok((json!({ "log": vkey, "checks": f.list }), false));
        }
    };
    // Recompute the tree from the stored leaves, noting the root at the saved size.
    let mut frontier = Frontier::new();
    let mut root_at_saved = (saved.size == 0).then(|| frontier.root());
    let mut start = 0i64;
    loop {
        let page = storage::tlog::leaves(&ctx.db, start, start + 10_000).await?;
        if page.is_empty() {
            break;
        }
        for (idx, _, leaf) in &page {
            if *idx as u64 != frontier.size() {
                break;
            }
            frontier.append(leaf_hash(leaf));
            if frontier.size() == saved.size {
                root_at_saved = Some(frontier.root());
            }
        }
        start += 10_000;
    }
    f.add(
        "leaves_contiguous",
        frontier.size() == latest_size,
        format!(
            "{} leaves stored without gaps; the newest checkpoint has {latest_size}",
            frontier.size()
        ),
    );
    match root_at_saved {
        Some(r) => f.add(
            "saved_root",
            r == saved.root,
            if r == saved.root {
                format!("the first {} stored leaves hash to the saved checkpoint's root: nothing it covered was changed or removed", saved.size)
            } else {
                format!("the first {} stored leaves do not hash to the saved checkpoint's root: the log was rewritten", saved.size)
            },
        ),
        None => f.add(
            "saved_root",
            false,
            format!(
                "the log holds {} leaves, fewer than the saved checkpoint's {}: leaves were removed",
                frontier.size(),
                saved.size
            ),
        ),
    }
    f.add(
        "latest_root",
        frontier.root() == latest_cp.root,
        "the stored leaves hash to the newest checkpoint's root".into(),
    );
    if saved.size > 0 && saved.size <= latest_cp.size {
        let proof = super::licence_log::consistency_proof(ctx, saved.size, latest_cp.size).await;
        let verdict = match proof {
            Ok(p) => crate::tlog::proof::verify_consistency(
                saved.size,
                latest_cp.size,
                &saved.root,
                &latest_cp.root,
                &p,
            )
            .map(|()| {
                format!(
                    "the log of {} leaves extends the saved one of {} (a {}-hash consistency proof)",
                    latest_cp.size,
                    saved.size,
                    p.len()
                )
            })
            .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match verdict {
            Ok(d) => f.add("consistency_proof", true, d),
            Err(d) => f.add(
                "consistency_proof",
                false,
                format!("the newest checkpoint does not extend the saved one: {d}"),
            ),
        }
    }
    let report = json!({
        "log": vkey,
        "saved_size": saved.size,
        "latest_size": latest_cp.size,
        "latest_checkpoint": latest_note,
        "checks": f.list,
    });
    Ok((report, f.ok))
}

/// The facts of a report, and whether all held.
struct Facts {
    list: Vec<Value>,
    ok: bool,
}

impl Default for Facts {
    fn default() -> Self {
        Self {
            list: Vec::new(),
            ok: true,
        }
    }
}

impl Facts {
    fn add(&mut self, name: &str, holds: bool, detail: String) {
        self.ok &= holds;
        self.list
            .push(json!({ "check": name, "holds": holds, "detail": detail }));
    }
}
