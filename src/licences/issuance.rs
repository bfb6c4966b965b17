//! Issuance as a department system asks for it: one licence or a batch, idempotent under a key, each
//! answered with its inclusion receipt (its transparency-log leaf sequenced and proved against the
//! newest checkpoint). The signing and storing itself is [`super::issue::issue`].

use serde_json::Value;

use super::context::Licences;
use super::error::LicenceError;
use super::issue::{self, Idempotency, IssueRequest, IssuedLicence};
use crate::storage::{self, departments::DepartmentRow};

/// A licence issued now, or answered again from the record of the same request.
#[derive(Debug)]
pub struct Issued {
    /// The licence as issuance answers it.
    pub licence: IssuedLicence,
    /// Its inclusion receipt, when its leaf is sequenced (always, once issuance has answered).
    pub receipt: Option<Value>,
    /// Answered from the record of an earlier request with the same key.
    pub replayed: bool,
}

/// Who asks, and under which idempotency key (if any).
pub struct Caller<'a> {
    pub department: &'a DepartmentRow,
    pub client_id: &'a str,
    pub key: Option<&'a str>,
}

/// Issue one licence: a request repeated under its key is answered from the record (a different
/// request under a used key is refused), a concurrent retry that committed first likewise.
pub async fn issue_one(
    ctx: &Licences,
    caller: &Caller<'_>,
    req: &IssueRequest,
    now: i64,
) -> Result<Issued, LicenceError> {
    let (licence, replayed) = sign_or_replay(ctx, caller, caller.key, req, now).await?;
    seal_unless_sequenced(ctx, std::iter::once(&licence)).await?;
    let receipt = receipt(ctx, &licence).await?;
    Ok(Issued {
        licence,
        receipt,
        replayed,
    })
}

/// Issue a batch: each licence in its own transaction, so one refused licence does not stop the
/// others. With a key, each licence is recorded under `<key>/<position>`, so a batch cut short and
/// sent again gets every licence exactly once. At most one sealing round for the whole batch.
pub async fn issue_batch(
    ctx: &Licences,
    caller: &Caller<'_>,
    reqs: &[IssueRequest],
    now: i64,
) -> Result<Vec<Result<Issued, LicenceError>>, LicenceError> {
    let mut signed = Vec::with_capacity(reqs.len());
    for (i, req) in reqs.iter().enumerate() {
        let key = caller.key.map(|k| format!("{k}/{i}"));
        signed.push(sign_or_replay(ctx, caller, key.as_deref(), req, now).await);
    }
    seal_unless_sequenced(
        ctx,
        signed
            .iter()
            .filter_map(|r| r.as_ref().ok().map(|(l, _)| l)),
    )
    .await?;
    let mut out = Vec::with_capacity(signed.len());
    for r in signed {
        out.push(match r {
            Ok((licence, replayed)) => Ok(Issued {
                receipt: receipt(ctx, &licence).await?,
                licence,
                replayed,
            }),
            Err(e) => Err(e),
        });
    }
    Ok(out)
}

/// The licence, signed now or found in the record of the same request under `key`.
async fn sign_or_replay(
    ctx: &Licences,
    caller: &Caller<'_>,
    key: Option<&str>,
    req: &IssueRequest,
    now: i64,
) -> Result<(IssuedLicence, bool), LicenceError> {
    let hash =
        crate::crypto::sha256(serde_json::to_vec(req).map_err(LicenceError::internal)?).to_vec();
    if let Some(k) = key {
        if let Some(body) = recorded(ctx, caller.client_id, k, &hash).await? {
            return Ok((body, true));
        }
    }
    let idem = key.map(|k| Idempotency {
        client_id: caller.client_id,
        key: k,
        request_hash: hash.clone(),
    });
    match (
        issue::issue(ctx, caller.department, req, idem.as_ref(), now).await,
        key,
    ) {
        (Ok(body), _) => Ok((body, false)),
        // A concurrent retry with the same key committed first: answer with its result.
        (Err(e), Some(k)) if e.is_conflict() => {
            match recorded(ctx, caller.client_id, k, &hash).await? {
                Some(body) => Ok((body, true)),
                None => Err(e),
            }
        }
        (Err(e), _) => Err(e),
    }
}

/// The body answered to the same request under this key, if there was one; refused if the key was
/// used for a different request.
async fn recorded(
    ctx: &Licences,
    client_id: &str,
    key: &str,
    hash: &[u8],
) -> Result<Option<IssuedLicence>, LicenceError> {
    let Some(row) = storage::licences::idempotent(&ctx.db, client_id, key).await? else {
        return Ok(None);
    };
    if row.request_hash != hash {
        return Err(LicenceError::KeyReused);
    }
    serde_json::from_str(&row.response)
        .map(Some)
        .map_err(LicenceError::internal)
}

/// A sealing round, unless every one of these licences was sequenced in its own transaction
/// (SQLite) and its receipt is at hand.
async fn seal_unless_sequenced<'a>(
    ctx: &Licences,
    mut licences: impl Iterator<Item = &'a IssuedLicence>,
) -> Result<(), LicenceError> {
    let sequenced = |l: &IssuedLicence| ctx.audit.sealer.recent_receipt(&l.id).is_some();
    if !licences.all(sequenced) {
        // Signed at the time of the round: a checkpoint is never older than one before it.
        crate::audit::rounds::seal_now(&ctx.audit, crate::domain::time::now()).await?;
    }
    Ok(())
}

async fn receipt(ctx: &Licences, licence: &IssuedLicence) -> Result<Option<Value>, LicenceError> {
    Ok(crate::audit::licence_log::receipt(&ctx.audit, &licence.id, true).await?)
}
