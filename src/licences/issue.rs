//! Issuance: validate against the catalogue (issuer authorised, fields per the type's JSON Schema,
//! holders registered and named as registered), assign the GB/T 36904 identifier and a random status
//! index, sign the SD-JWT VC with the department's key, and store it — with its holders, first status
//! event, the superseded licence's revocation and the idempotency record — in one transaction.

use rand::Rng;
use serde_json::{json, Value};

use super::catalogue::HolderKind;
use super::departments::{self, DepartmentError};
use super::id::{LicenceId, LicenceTypeCode};
use super::lookup::{licence_type, registered_name};
use super::revocation::{status_uri, LIST_SIZE};
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
                .ok_or_else(|| LicenceError::bad("holder id_kind is unknown"))?;
            let doc = IdDocument::parse(kind, &h.id)
                .map_err(|e| LicenceError::bad(format!("holder id: {e}")))?;
            Ok(data.blind_index(&doc.canonical()))
        }
        HolderKind::Enterprise => {
            let u = Uscc::parse(&h.id).map_err(|e| LicenceError::bad(format!("holder id: {e}")))?;
            Ok(data.blind_index(&format!("uscc:{}", u.as_str())))
        }
    }
}

/// What issuance returns, and what an idempotent retry returns again.
pub fn response(ctx: &Licences, row: &LicenceRow, sd_jwt: &str) -> Value {
    json!({
        "id": row.id,
        "type_code": row.type_code,
        "licence": sd_jwt,
        "issued_at": row.issued_at,
        "expires_at": row.expires_at,
        "status": { "idx": row.status_idx, "uri": status_uri(ctx, &row.issuer_id) },
        "supersedes": row.supersedes,
    })
}

pub async fn issue(
    ctx: &Licences,
    dept: &DepartmentRow,
    req: &IssueRequest,
    idem: Option<&Idempotency<'_>>,
    now: i64,
) -> Result<Value, LicenceError> {
    // Everything is read and checked before the write transaction (SQLite has one connection).
    let t = licence_type(ctx, &req.type_code)
        .await?
        .ok_or_else(|| LicenceError::not_found("no such licence type"))?;
    if !t.may_issue(&dept.uscc) {
        return Err(LicenceError::forbidden(
            "this department may not issue this licence type",
        ));
    }
    // Before the schema: a type registered before registration refused open schemas may admit
    // any name, and the envelope is never the issuer's input to set.
    if let Some(name) = super::catalogue::reserved_name_in(&req.fields) {
        return Err(LicenceError::unprocessable(
            "reserved-field",
            format!("fields may not use the name {name}: it belongs to the licence envelope"),
        ));
    }
    if let Err(errors) = t.check_fields(&Value::Object(req.fields.clone())) {
        return Err(LicenceError::unprocessable(
            "fields-invalid",
            format!(
                "the fields do not satisfy the licence type's schema: {}",
                errors.join("; ")
            ),
        ));
    }
    if req.holders.is_empty() || req.holders.len() > t.max_holders {
        return Err(LicenceError::bad(format!(
            "a licence of this type has 1 to {} holders",
            t.max_holders
        )));
    }
    let mut indexes = Vec::new();
    for h in &req.holders {
        if !t.holder_kinds.contains(&h.kind) {
            return Err(LicenceError::bad(
                "this licence type does not take this kind of holder",
            ));
        }
        let index = holder_index(ctx, h)?;
        match registered_name(ctx, h, &index).await? {
            None => {
                return Err(LicenceError::unprocessable(
                    "unknown-holder",
                    "the holder is not registered",
                ))
            }
            Some(n) if n != h.name.trim() => {
                return Err(LicenceError::unprocessable(
                    "holder-mismatch",
                    "the holder's name does not match the registration",
                ))
            }
            Some(_) => {}
        }
        if indexes.contains(&index) {
            return Err(LicenceError::bad("a holder is listed twice"));
        }
        indexes.push(index);
    }
    // NumericDates a verifier can read as a calendar date: from 1970 to the end of 9999.
    let in_range = |t: Option<i64>| t.is_none_or(|t| (0..=MAX_TIME).contains(&t));
    if !in_range(req.valid_from) || !in_range(req.valid_until) {
        return Err(LicenceError::bad(
            "valid_from and valid_until must be Unix times from 1970 to the end of 9999",
        ));
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
        return Err(LicenceError::bad("valid_until must be after valid_from"));
    }
    if req
        .applied_at
        .is_some_and(|a| a > now || a < now - 20 * 365 * 86_400)
    {
        return Err(LicenceError::bad(
            "applied_at must be in the past, at most 20 years ago",
        ));
    }
    let superseded = match &req.supersedes {
        Some(old) => {
            let o = storage::licences::get(&ctx.db, old)
                .await?
                .ok_or_else(|| LicenceError::not_found("the superseded licence does not exist"))?;
            if o.issuer_id != dept.id || o.type_code != req.type_code {
                return Err(LicenceError::forbidden(
                    "only the issuer can supersede a licence, with one of the same type",
                ));
            }
            if o.status == 1 {
                return Err(LicenceError::conflict(
                    "the superseded licence is already revoked",
                ));
            }
            Some(o)
        }
        None => None,
    };
    let signer = departments::signer(ctx, &dept.id, Purpose::LicenceSigning, now)
        .await
        .map_err(|e| match e {
            DepartmentError::Storage(s) => s.into(),
            e => LicenceError::internal(e),
        })?
        .ok_or_else(|| {
            LicenceError::conflict("the department has no valid licence-signing certificate")
        })?;
    let type_code = LicenceTypeCode::parse(&t.code).map_err(LicenceError::internal)?;
    let issuer = Uscc::parse(&dept.uscc).map_err(LicenceError::internal)?;
    let disclosable: Vec<&str> = std::iter::once("holders")
        .chain(t.disclosable.iter().map(String::as_str))
        .collect();

    for _attempt in 0..8 {
        let id = LicenceId::new(&type_code, &issuer, &LicenceId::random_serial(), 1)
            .map_err(LicenceError::internal)?;
        let idx = rand::rngs::OsRng.gen_range(0..LIST_SIZE);
        // The fields first, the envelope over them: whatever got past the checks above, a claim
        // the envelope owns is always the envelope's.
        let mut claims = req.fields.clone();
        claims.retain(|k, _| !super::catalogue::RESERVED.contains(&k.as_str()));
        claims.insert("iss".into(), json!(dept.iss));
        claims.insert(
            "vct".into(),
            json!(format!("{}/licence-types/{}", ctx.issuer, t.code)),
        );
        claims.insert("jti".into(), json!(id.as_str()));
        claims.insert("iat".into(), json!(now));
        claims.insert("nbf".into(), json!(nbf));
        if let Some(e) = exp {
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
        let sd_jwt = signer
            .sign_licence(claims, &disclosable)
            .map_err(LicenceError::internal)?;
        let row = LicenceRow {
            id: id.as_str().to_owned(),
            type_code: t.code.clone(),
            issuer_id: dept.id.clone(),
            status_idx: idx,
            status: 0,
            cert_serial: signer.serial.clone(),
            sd_jwt_sealed: ctx.keys.data().seal_bytes(sd_jwt.as_bytes(), id.as_str()),
            issued_at: now,
            expires_at: exp,
            supersedes: superseded.as_ref().map(|o| o.id.clone()),
            superseded_by: None,
        };
        let body = response(ctx, &row, &sd_jwt);
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
        storage::licences::insert_into(&mut w, &row, &indexes, &dept.id);
        crate::audit::record_into(
            &mut w,
            now,
            &crate::audit::department(&dept.id),
            crate::audit::Action::LicenceIssued,
            &format!("licence:{}", row.id),
            json!({ "type": row.type_code, "supersedes": row.supersedes, "applied_at": req.applied_at }),
        );
        let issuer_signed = sd_jwt.split('~').next().unwrap_or_default();
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
            storage::licences::remember_into(
                &mut w,
                i.client_id,
                i.key,
                &i.request_hash,
                &body.to_string(),
                201,
                now,
            );
        }
        match w
            .execute(&mut tx)
            .await
            .map_err(storage::licences::issue_conflict)
        {
            // The random status index is taken: draw again.
            Err(StorageError::Conflict("status index")) => continue,
            r => r?,
        }
        if let Some(o) = &superseded {
            if !storage::licences::set_status(
                &mut tx,
                &o.id,
                o.status,
                1,
                "superseded",
                &dept.id,
                now,
            )
            .await?
            {
                return Err(LicenceError::conflict(
                    "the superseded licence changed meanwhile; retry",
                ));
            }
            storage::licences::set_superseded_by(&mut tx, &o.id, &row.id).await?;
            super::revocation::record_change(ctx, &mut tx, &dept.id, &o.id, 1, "superseded", now)
                .await?;
            crate::storage::notify::changed(
                &mut tx,
                &crate::storage::notify::licence_status(&dept.id, &o.id),
            )
            .await?;
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
        if let Some(o) = &superseded {
            ctx.status_lists.invalidate(&dept.id);
            ctx.licence_facts.invalidate(&o.id);
            ctx.metrics.licence_event("revoked", 1);
        }
        return Ok(body);
    }
    Err(LicenceError::conflict(
        "no free status index after 8 draws; the list is nearly full",
    ))
}
