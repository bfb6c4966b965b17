//! Status changes (suspend, reinstate, revoke — revocation is final), only by the issuing department,
//! each with a reason code and a status event; and the department's status list as a signed
//! `statuslist+jwt` (IETF Token Status List, 2 bits per licence), now or at a past time.

use crate::metrics::CacheName;
use std::sync::Arc;

use serde_json::json;

use super::departments;
use super::statuslist::{Status, StatusList};
use super::vc::STATUS_LIST_TYP;
use super::verify::{self, Report, RepositoryFacts};
use super::LicenceError;
use crate::licences::context::Licences;
use crate::pki::Purpose;
use crate::storage::{self, departments::DepartmentRow, StorageError};

/// Entries per department status list (2 bits each: 256 KiB before compression).
pub const LIST_SIZE: i64 = 1 << 20;

pub fn status_uri(ctx: &Licences, department_id: &str) -> String {
    format!("{}/status-lists/{department_id}", ctx.issuer)
}

/// How long a status list may be cached (its `ttl`, and the HTTP `max-age`).
pub const TTL: i64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Suspend,
    Reinstate,
    Revoke,
}

impl Action {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "suspend" => Some(Self::Suspend),
            "reinstate" => Some(Self::Reinstate),
            "revoke" => Some(Self::Revoke),
            _ => None,
        }
    }
}

/// Reason codes a department may give (`superseded` is the repository's own).
pub const REASONS: [&str; 7] = [
    "issued_in_error",
    "withdrawn",
    "holder_request",
    "under_investigation",
    "court_order",
    "holder_deceased",
    "other",
];

pub async fn change(
    ctx: &Licences,
    dept: &DepartmentRow,
    id: &str,
    action: Action,
    reason: &str,
    now: i64,
) -> Result<i64, LicenceError> {
    if !REASONS.contains(&reason) {
        return Err(LicenceError::Reason(REASONS.join(", ")));
    }
    let l = storage::licences::get(&ctx.db, id)
        .await?
        .ok_or(LicenceError::NoSuchLicence)?;
    if l.issuer_id != dept.id {
        return Err(LicenceError::NotIssuer);
    }
    let (from, to) = match (action, l.status) {
        (_, 1) => return Err(LicenceError::RevocationFinal),
        (Action::Suspend, 0) => (0, 2),
        (Action::Reinstate, 2) => (2, 0),
        (Action::Revoke, s) => (s, 1),
        (Action::Suspend, _) => return Err(LicenceError::AlreadySuspended),
        (Action::Reinstate, _) => return Err(LicenceError::NotSuspended),
    };
    let mut tx = ctx.db.begin().await?;
    if !storage::licences::set_status(&mut tx, id, from, to, reason, &dept.id, now).await? {
        return Err(LicenceError::StatusChanged);
    }
    record_change(ctx, &mut tx, &dept.id, id, to, reason, now).await?;
    crate::storage::notify::changed(
        &mut tx,
        &crate::storage::notify::licence_status(&dept.id, id),
    )
    .await?;
    tx.commit().await.map_err(StorageError::from)?;
    ctx.status_lists.invalidate(&dept.id);
    ctx.licence_facts.invalidate(id);
    ctx.metrics.licence_event(
        match action {
            Action::Suspend => "suspended",
            Action::Reinstate => "reinstated",
            Action::Revoke => "revoked",
        },
        1,
    );
    Ok(to)
}

/// The signed status list of a department, now (cached until a change) or at `time`.
pub async fn token(
    ctx: &Licences,
    department_id: &str,
    time: Option<i64>,
    now: i64,
) -> Result<Arc<String>, LicenceError> {
    if time.is_none() {
        if let Some(t) = ctx
            .metrics
            .lookup(CacheName::StatusLists, ctx.status_lists.get(department_id))
        {
            return Ok(t);
        }
    }
    let dept = storage::departments::by_id(&ctx.db, department_id)
        .await?
        .ok_or(LicenceError::NoSuchStatusList)?;
    let rows = match time {
        Some(t) => storage::licences::non_valid_at(&ctx.db, &dept.id, t).await?,
        None => storage::licences::non_valid(&ctx.db, &dept.id).await?,
    };
    let mut list = StatusList::new(LIST_SIZE as usize);
    for (idx, status) in rows {
        let s = Status::from_u8(status as u8).unwrap_or(Status::Revoked);
        list.set(idx as usize, s).map_err(LicenceError::internal)?;
    }
    let signer = departments::signer(ctx, &dept.id, Purpose::StatusListSigning, now)
        .await
        .map_err(LicenceError::internal)?
        .ok_or(LicenceError::NoCertificate("status-list"))?;
    let mut payload = json!({
        "sub": status_uri(ctx, &dept.id),
        "iat": now,
        "exp": now + 86_400,
        "ttl": TTL,
        "status_list": list.encode().map_err(LicenceError::internal)?,
    });
    if let Some(t) = time {
        payload["time"] = json!(t);
    }
    let jwt = Arc::new(
        signer
            .sign_jwt(STATUS_LIST_TYP, &payload)
            .map_err(LicenceError::internal)?,
    );
    if time.is_none() {
        ctx.status_lists.insert(dept.id.clone(), jwt.clone());
    }
    Ok(jwt)
}

/// What the repository knows about a licence presented for verification: whether it issued it, its
/// status history, and when the certificate in its `x5c` was revoked. Through `state.licence_facts`.
pub async fn facts(
    ctx: &Licences,
    sd_jwt: &str,
) -> Result<Option<Arc<RepositoryFacts>>, LicenceError> {
    if let Some(f) = super::verify::peek_id(sd_jwt).and_then(|id| cached_facts(ctx, &id)) {
        return Ok(Some(f));
    }
    let Some(peek) = super::verify::peek(sd_jwt) else {
        return Ok(None);
    };
    fetch_facts(ctx, peek).await.map(Some)
}

/// Online verification of a licence as presented, at `at`, on the node's CPU pool (one ES256 check,
/// kept off the async threads): the chain and the repository's facts from their caches, the licence
/// decoded once. Only when the facts are not cached does it come back for them (from the database)
/// and verify again with them. Answers the report and the facts it used (`None`: the licence did not
/// parse).
pub async fn verify_online(
    ctx: &Licences,
    licence: String,
    at: i64,
) -> Result<(Report, Option<Arc<RepositoryFacts>>), LicenceError> {
    let licence = Arc::new(licence);
    let job = {
        let (ctx, licence) = (ctx.clone(), licence.clone());
        move || {
            let mut cached = None;
            let lookup = |id: &str| {
                cached = cached_facts(&ctx, id);
                cached.clone()
            };
            verify::verify_cached(&licence, ctx.ca.root_der(), at, &ctx.verify_memo, lookup)
                .map(|report| (report, cached))
        }
    };
    let peek = match ctx.cpu.run(job).await.map_err(LicenceError::internal)? {
        Ok(done) => return Ok(done),
        Err(peek) => peek,
    };
    let facts = fetch_facts(ctx, peek).await?;
    let job = {
        let (ctx, facts) = (ctx.clone(), facts.clone());
        move || {
            let root = ctx.ca.root_der();
            verify::verify_with(&licence, root, at, Some(&facts), Some(&ctx.verify_memo))
        }
    };
    let report = ctx.cpu.run(job).await.map_err(LicenceError::internal)?;
    Ok((report, Some(facts)))
}

/// The cached facts about the licence `id`, if any (counted as a hit or a miss in `/metrics`).
pub fn cached_facts(ctx: &Licences, id: &str) -> Option<Arc<RepositoryFacts>> {
    ctx.metrics
        .lookup(CacheName::LicenceFacts, ctx.licence_facts.get(id))
}

/// The facts about a licence read from the database by its lookup keys, then cached.
pub async fn fetch_facts(
    ctx: &Licences,
    peek: super::verify::Peek,
) -> Result<Arc<RepositoryFacts>, LicenceError> {
    let cert_revoked_at = match &peek.cert_serial {
        Some(serial) => storage::departments::cert(&ctx.db, serial)
            .await?
            .and_then(|c| c.revoked_at),
        None => None,
    };
    let f = match storage::licences::get(&ctx.db, &peek.licence_id).await? {
        None => RepositoryFacts {
            cert_revoked_at,
            ..Default::default()
        },
        Some(row) => {
            let history = storage::licences::history(&ctx.db, &row.id).await?;
            let mut log: Vec<_> = storage::tlog::leaves_of(&ctx.db, &row.id)
                .await?
                .into_iter()
                .map(|(i, leaf)| (u64::try_from(i).ok(), leaf))
                .collect();
            log.extend(
                storage::tlog::pending_of(&ctx.db, &row.id)
                    .await?
                    .into_iter()
                    .map(|leaf| (None, leaf)),
            );
            RepositoryFacts {
                known: true,
                issued_at: row.issued_at,
                status_history: history.iter().map(|e| (e.at, e.status as u8)).collect(),
                cert_revoked_at,
                log,
                ..Default::default()
            }
        }
    };
    let f = Arc::new(f);
    ctx.licence_facts.insert(peek.licence_id, f.clone());
    Ok(f)
}

/// The audit event and the transparency-log leaf of a status change, in its transaction.
pub async fn record_change(
    ctx: &Licences,
    tx: &mut crate::storage::Tx,
    department_id: &str,
    licence_id: &str,
    to: i64,
    reason: &str,
    now: i64,
) -> Result<(), StorageError> {
    use crate::audit::{self, Action as A};
    let action = match to {
        0 => A::LicenceReinstated,
        1 => A::LicenceRevoked,
        _ => A::LicenceSuspended,
    };
    audit::record(
        tx,
        now,
        &audit::department(department_id),
        action,
        &format!("licence:{licence_id}"),
        serde_json::json!({ "reason": reason }),
    )
    .await?;
    let leaf =
        crate::tlog::leaf::status_leaf(licence_id, u8::try_from(to).unwrap_or(2), reason, now);
    // No receipt is answered for a status change: its checkpoint comes with the next round's.
    crate::audit::rounds::append(&ctx.audit, tx, licence_id, leaf.to_bytes(), now).await?;
    Ok(())
}
