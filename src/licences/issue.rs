//! Issuance in three steps: [`check`] the request against the catalogue (issuer authorised, fields
//! per the type's JSON Schema, holders registered and named as registered, dates, the superseded
//! licence, a signing certificate); [`sign`] it with a GB/T 36904 identifier and a random status index;
//! [`store`] it — with its holders, first status event, audit event, log leaf, the superseded licence's
//! revocation and the idempotency record — in one transaction.

use rand::Rng;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::catalogue::{HolderKind, LicenceType};
use super::departments::{self, DepartmentError};
use super::id::{LicenceId, LicenceTypeCode};
use super::lookup::{licence_type, registered_name};
use super::revocation::{status_uri, LIST_SIZE};
use super::vc::Signer;
use super::LicenceError;
use crate::domain::{DocumentKind, IdDocument, Uscc};
use crate::licences::context::Licences;
use crate::pki::Purpose;
use crate::storage::{self, departments::DepartmentRow, licences::LicenceRow, StorageError};

pub use super::request::{HolderRef, Idempotency, IssueRequest, MAX_TIME};

/// The blind index under which a holder's licences are found: the same index as the holder's account.
pub fn holder_index(ctx: &Licences, h: &HolderRef) -> Result<Vec<u8>, LicenceError> {
    let data = ctx.keys.data();
    match h.kind {
        HolderKind::Citizen => {
            let kind = DocumentKind::parse(h.id_kind.as_deref().unwrap_or("resident"))
                .ok_or(LicenceError::HolderIdKind)?;
            let doc = IdDocument::parse(kind, &h.id)
                .map_err(|e| LicenceError::HolderId(e.to_string()))?;
            Ok(data.blind_index(&doc.canonical()))
        }
        HolderKind::Enterprise => {
            let u = Uscc::parse(&h.id).map_err(|e| LicenceError::HolderId(e.to_string()))?;
            Ok(data.blind_index(&format!("uscc:{}", u.as_str())))
        }
    }
}

/// What issuance answers, and what an idempotent retry answers again (kept as JSON in the record).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssuedLicence {
    pub id: String,
    pub type_code: String,
    /// The SD-JWT VC with every disclosure.
    pub licence: String,
    pub issued_at: i64,
    pub expires_at: Option<i64>,
    pub status: StatusRef,
    pub supersedes: Option<String>,
}

/// Where a licence's status is published: its index in its issuer's status list.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusRef {
    pub idx: i64,
    pub uri: String,
}

impl IssuedLicence {
    fn new(ctx: &Licences, row: &LicenceRow, sd_jwt: &str) -> Self {
        Self {
            id: row.id.clone(),
            type_code: row.type_code.clone(),
            licence: sd_jwt.to_owned(),
            issued_at: row.issued_at,
            expires_at: row.expires_at,
            status: StatusRef {
                idx: row.status_idx,
                uri: status_uri(ctx, &row.issuer_id),
            },
            supersedes: row.supersedes.clone(),
        }
    }
}

/// A request that passed every check: what signing and storing need.
pub struct Checked {
    pub licence_type: Arc<LicenceType>,
    /// The holders' blind indexes, in the request's order.
    pub indexes: Vec<Vec<u8>>,
    pub nbf: i64,
    pub exp: Option<i64>,
    pub superseded: Option<LicenceRow>,
    pub signer: Arc<Signer>,
}

/// Issue one licence: check, then sign and store (drawing another status index when the one drawn
/// is taken, at most 8 times).
pub async fn issue(
    ctx: &Licences,
    dept: &DepartmentRow,
    req: &IssueRequest,
    idem: Option<&Idempotency<'_>>,
    now: i64,
) -> Result<IssuedLicence, LicenceError> {
    // Everything is read and checked before the write transaction (SQLite has one connection).
    let checked = check(ctx, dept, req, now).await?;
    for _attempt in 0..8 {
        let (row, issued) = sign(ctx, dept, req, &checked, now)?;
        match store(ctx, dept, req, &checked, &row, &issued, idem, now).await {
            // The random status index is taken: draw again.
            Err(Stored::IndexTaken) => continue,
            Err(Stored::Refused(e)) => return Err(e),
            Ok(()) => return Ok(issued),
        }
    }
    Err(LicenceError::StatusListFull)
}

/// Every check a request must pass before it is signed.
pub async fn check(
    ctx: &Licences,
    dept: &DepartmentRow,
    req: &IssueRequest,
    now: i64,
) -> Result<Checked, LicenceError> {
    let t = licence_type(ctx, &req.type_code)
        .await?
        .ok_or(LicenceError::NoSuchType)?;
    if !t.may_issue(&dept.uscc) {
        return Err(LicenceError::MayNotIssue);
    }
    check_fields(&t, &req.fields)?;
    let indexes = check_holders(ctx, &t, &req.holders).await?;
    let (nbf, exp) = validity(&t, req, now)?;
    let superseded = superseded(ctx, dept, req).await?;
    let signer = departments::signer(ctx, &dept.id, Purpose::LicenceSigning, now)
        .await
        .map_err(|e| match e {
            DepartmentError::Storage(s) => s.into(),
            e => LicenceError::internal(e),
        })?
        .ok_or(LicenceError::NoCertificate("licence-signing"))?;
    Ok(Checked {
        licence_type: t,
        indexes,
        nbf,
        exp,
        superseded,
        signer,
    })
}

/// The fields: no name of the envelope, and valid under the type's schema.
fn check_fields(t: &LicenceType, fields: &Map<String, Value>) -> Result<(), LicenceError> {
    // Before the schema: a type registered before registration refused open schemas may admit
    // any name, and the envelope is never the issuer's input to set.
    if let Some(name) = super::catalogue::reserved_name_in(fields) {
        return Err(LicenceError::ReservedField(name.to_owned()));
    }
    t.check_fields(&Value::Object(fields.clone()))
        .map_err(LicenceError::FieldsInvalid)
}

/// The holders: as many as the type takes, of its kinds, each registered under the name given, none
/// twice. Returns their blind indexes.
async fn check_holders(
    ctx: &Licences,
    t: &LicenceType,
    holders: &[HolderRef],
) -> Result<Vec<Vec<u8>>, LicenceError> {
    if holders.is_empty() || holders.len() > t.max_holders {
        return Err(LicenceError::HolderCount(t.max_holders));
    }
    let mut indexes = Vec::new();
    for h in holders {
        if !t.holder_kinds.contains(&h.kind) {
            return Err(LicenceError::HolderKind);
        }
        let index = holder_index(ctx, h)?;
        match registered_name(ctx, h, &index).await? {
            None => return Err(LicenceError::UnknownHolder),
            Some(n) if n != h.name.trim() => return Err(LicenceError::HolderMismatch),
            Some(_) => {}
        }
        if indexes.contains(&index) {
            return Err(LicenceError::HolderTwice);
        }
        indexes.push(index);
    }
    Ok(indexes)
}

/// The validity (nbf, exp): as given, or from now for the type's default days; and `applied_at`.
fn validity(
    t: &LicenceType,
    req: &IssueRequest,
    now: i64,
) -> Result<(i64, Option<i64>), LicenceError> {
    // NumericDates a verifier can read as a calendar date: from 1970 to the end of 9999.
    let in_range = |t: Option<i64>| t.is_none_or(|t| (0..=MAX_TIME).contains(&t));
    if !in_range(req.valid_from) || !in_range(req.valid_until) {
        return Err(LicenceError::ValidityRange);
    }
    let nbf = req.valid_from.unwrap_or(now);
    let exp = match (req.valid_until, t.validity_days) {
        (Some(e), _) => Some(e),
        // A default validity ends by 9999 too.
        (None, Some(days)) => Some(
            nbf.saturating_add(days.saturating_mul(86_400))
                .min(MAX_TIME),
        ),
        (None, None) => None,
    };
    if exp.is_some_and(|e| e <= nbf) {
        return Err(LicenceError::ValidityOrder);
    }
    if req
        .applied_at
        .is_some_and(|a| a > now || a < now - 20 * 365 * 86_400)
    {
        return Err(LicenceError::AppliedAt);
    }
    Ok((nbf, exp))
}

/// The licence this one replaces, if any: the issuer's own, of the same type, not revoked.
async fn superseded(
    ctx: &Licences,
    dept: &DepartmentRow,
    req: &IssueRequest,
) -> Result<Option<LicenceRow>, LicenceError> {
    let Some(old) = &req.supersedes else {
        return Ok(None);
    };
    let o = storage::licences::get(&ctx.db, old)
        .await?
        .ok_or(LicenceError::NoSuperseded)?;
    if o.issuer_id != dept.id || o.type_code != req.type_code {
        return Err(LicenceError::SupersedeForbidden);
    }
    if o.status == 1 {
        return Err(LicenceError::SupersededRevoked);
    }
    Ok(Some(o))
}

/// Sign the checked request under a new identifier and a random status index: the row to store and
/// the answer.
fn sign(
    ctx: &Licences,
    dept: &DepartmentRow,
    req: &IssueRequest,
    c: &Checked,
    now: i64,
) -> Result<(LicenceRow, IssuedLicence), LicenceError> {
    let t = &c.licence_type;
    let type_code = LicenceTypeCode::parse(&t.code).map_err(LicenceError::internal)?;
    let issuer = Uscc::parse(&dept.uscc).map_err(LicenceError::internal)?;
    let id = LicenceId::new(&type_code, &issuer, &LicenceId::random_serial(), 1)
        .map_err(LicenceError::internal)?;
    let idx = rand::rngs::OsRng.gen_range(0..LIST_SIZE);
    // The fields first, the envelope over them: whatever got past the checks, a claim the envelope
    // owns is always the envelope's.
    let mut claims = req.fields.clone();
    claims.retain(|k, _| !super::catalogue::RESERVED.contains(&k.as_str()));
    claims.insert("iss".into(), json!(dept.iss));
    claims.insert(
        "vct".into(),
        json!(format!("{}/licence-types/{}", ctx.issuer, t.code)),
    );
    claims.insert("jti".into(), json!(id.as_str()));
    claims.insert("iat".into(), json!(now));
    claims.insert("nbf".into(), json!(c.nbf));
    if let Some(e) = c.exp {
        claims.insert("exp".into(), json!(e));
    }
    claims.insert("type_name".into(), json!(t.name_zh));
    claims.insert(
        "status".into(),
        json!({ "status_list": { "idx": idx, "uri": status_uri(ctx, &dept.id) } }),
    );
    claims.insert(
        "holders".into(),
        serde_json::to_value(&req.holders).map_err(LicenceError::internal)?,
    );
    let disclosable: Vec<&str> = std::iter::once("holders")
        .chain(t.disclosable.iter().map(String::as_str))
        .collect();
    let sd_jwt = c
        .signer
        .sign_licence(claims, &disclosable)
        .map_err(LicenceError::internal)?;
    let row = LicenceRow {
        id: id.as_str().to_owned(),
        type_code: t.code.clone(),
        issuer_id: dept.id.clone(),
        status_idx: idx,
        status: 0,
        cert_serial: c.signer.serial.clone(),
        sd_jwt_sealed: ctx.keys.data().seal_bytes(sd_jwt.as_bytes(), id.as_str()),
        issued_at: now,
        expires_at: c.exp,
        supersedes: c.superseded.as_ref().map(|o| o.id.clone()),
        superseded_by: None,
    };
    let issued = IssuedLicence::new(ctx, &row, &sd_jwt);
    Ok((row, issued))
}

/// Why a signed licence was not stored.
enum Stored {
    /// Its random status index is taken: sign it again under another.
    IndexTaken,
    Refused(LicenceError),
}

impl From<LicenceError> for Stored {
    fn from(e: LicenceError) -> Self {
        Self::Refused(e)
    }
}

impl From<StorageError> for Stored {
    fn from(e: StorageError) -> Self {
        Self::Refused(e.into())
    }
}

/// Store a signed licence and everything that commits with it, in one transaction; then publish its
/// receipt and update the caches and counters.
#[allow(clippy::too_many_arguments)]
async fn store(
    ctx: &Licences,
    dept: &DepartmentRow,
    req: &IssueRequest,
    c: &Checked,
    row: &LicenceRow,
    issued: &IssuedLicence,
    idem: Option<&Idempotency<'_>>,
    now: i64,
) -> Result<(), Stored> {
    // At most a few issuance transactions queue for the database at once, so the sealing round
    // they will wait for is not itself queued behind dozens of them (SQLite has one connection).
    let _slot = ctx
        .write_slots
        .acquire()
        .await
        .map_err(LicenceError::internal)?;
    let mut tx = ctx.db.begin_write().await?;
    // The licence, its holders, its first status event, its audit event, its log leaf and the
    // idempotency record: one statement (see `storage::Batch`).
    let mut w = storage::Batch::new(ctx.db.backend);
    storage::licences::insert_into(&mut w, row, &c.indexes, &dept.id);
    crate::audit::record_into(
        &mut w,
        now,
        &crate::audit::department(&dept.id),
        crate::audit::Action::LicenceIssued,
        &format!("licence:{}", row.id),
        json!({ "type": row.type_code, "supersedes": row.supersedes, "applied_at": req.applied_at }),
    );
    let issuer_signed = issued.licence.split('~').next().unwrap_or_default();
    let leaf = crate::tlog::leaf::issued_leaf(&row.id, now, issuer_signed);
    let sequenced = crate::audit::rounds::append_into(
        &ctx.audit,
        &mut tx,
        &mut w,
        &row.id,
        leaf.to_bytes(),
        now,
    )
    .await?;
    if let Some(i) = idem {
        let body = serde_json::to_string(issued).map_err(LicenceError::internal)?;
        storage::licences::remember_into(
            &mut w,
            i.client_id,
            i.key,
            &i.request_hash,
            &body,
            201,
            now,
        );
    }
    match w
        .execute(&mut tx)
        .await
        .map_err(storage::licences::issue_conflict)
    {
        Err(StorageError::Conflict("status index")) => return Err(Stored::IndexTaken),
        r => r?,
    }
    if let Some(o) = &c.superseded {
        revoke_superseded(ctx, &mut tx, dept, o, &row.id, now).await?;
    }
    tx.commit().await.map_err(StorageError::from)?;
    if let Some(s) = sequenced {
        // Committed either way: without a receipt in memory, the answer's comes from storage.
        if let Err(e) = ctx.audit.sealer.publish(&ctx.audit.log_key, s, now) {
            tracing::error!(error = %e, "no receipt kept for a sequenced leaf");
        }
    }
    tracing::debug!(licence = %row.id, "licence issued");
    ctx.metrics.licence_event("issued", 1);
    if let Some(o) = &c.superseded {
        ctx.status_lists.invalidate(&dept.id);
        ctx.licence_facts.invalidate(&o.id);
        ctx.metrics.licence_event("revoked", 1);
    }
    Ok(())
}

/// Revoke the superseded licence `o` (reason `superseded`) in the new licence's transaction, and tell
/// the other nodes.
async fn revoke_superseded(
    ctx: &Licences,
    tx: &mut storage::Tx,
    dept: &DepartmentRow,
    o: &LicenceRow,
    new_id: &str,
    now: i64,
) -> Result<(), LicenceError> {
    if !storage::licences::set_status(tx, &o.id, o.status, 1, "superseded", &dept.id, now).await? {
        return Err(LicenceError::SupersededChanged);
    }
    storage::licences::set_superseded_by(tx, &o.id, new_id).await?;
    super::revocation::record_change(ctx, tx, &dept.id, &o.id, 1, "superseded", now).await?;
    storage::notify::changed(tx, &storage::notify::licence_status(&dept.id, &o.id)).await?;
    Ok(())
}
