//! Reading licences: the holder's wallet, a portal with the holder's consent, a department under a
//! registered legal basis (shares are `shares.rs`). Every read by someone other than the holder is
//! written to the holder's access log in the same transaction that answers it.

use serde::Serialize;
use serde_json::json;

use super::lookup::licence_type;
use super::LicenceError;
use crate::licences::context::Licences;
use crate::storage::{self, licences::Access, licences::LicenceRow, StorageError};

pub const PAGE_MAX: i64 = 100;

/// A licence as a reader receives it.
#[derive(Debug, Serialize)]
pub struct LicenceView {
    pub id: String,
    pub type_code: String,
    pub type_name: Option<String>,
    pub issued_at: i64,
    pub expires_at: Option<i64>,
    pub status: &'static str,
    /// The SD-JWT VC with every disclosure.
    pub licence: String,
}

/// The API's name for a stored status (0, 1, 2).
pub fn status_name(s: i64) -> &'static str {
    match s {
        0 => "valid",
        1 => "revoked",
        _ => "suspended",
    }
}

/// A licence as its reader receives it: unsealed, with its type's name.
pub async fn view(ctx: &Licences, l: &LicenceRow) -> Result<LicenceView, LicenceError> {
    let sd = ctx
        .keys
        .data()
        .open_bytes(&l.sd_jwt_sealed, &l.id)
        .map_err(|_| LicenceError::internal("a licence does not unseal"))?;
    let t = licence_type(ctx, &l.type_code).await?;
    Ok(LicenceView {
        id: l.id.clone(),
        type_code: l.type_code.clone(),
        type_name: t.map(|t| t.name_zh.clone()),
        issued_at: l.issued_at,
        expires_at: l.expires_at,
        status: status_name(l.status),
        licence: String::from_utf8(sd).map_err(LicenceError::internal)?,
    })
}

/// The holder's own licences (not logged: the holder reads their own).
pub async fn wallet(
    ctx: &Licences,
    holder_index: &[u8],
    type_code: Option<&str>,
    page: i64,
) -> Result<Vec<LicenceView>, LicenceError> {
    let rows = storage::licences::of_holder(
        &ctx.db,
        holder_index,
        type_code,
        PAGE_MAX,
        page.clamp(0, 1_000_000) * PAGE_MAX,
    )
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(view(ctx, r).await?);
    }
    Ok(out)
}

/// An agent reads `rows` of the enterprise with blind index `holder_index`: each read goes into the
/// enterprise's access log, naming the agent.
pub async fn read_as_agent(
    ctx: &Licences,
    holder_index: &[u8],
    rows: &[LicenceRow],
    agent_id: &str,
    now: i64,
) -> Result<Vec<LicenceView>, LicenceError> {
    let reader = Reader {
        via: "agent",
        department_id: None,
        client_id: None,
        legal_basis: None,
        agent_id: Some(agent_id),
    };
    read_logged(ctx, holder_index, rows, &reader, "", now).await
}

/// The holder's rows of a page of their wallet (for an agent's logged read).
pub async fn wallet_rows(
    ctx: &Licences,
    holder_index: &[u8],
    type_code: Option<&str>,
    page: i64,
) -> Result<Vec<LicenceRow>, LicenceError> {
    Ok(storage::licences::of_holder(
        &ctx.db,
        holder_index,
        type_code,
        PAGE_MAX,
        page.clamp(0, 1_000_000) * PAGE_MAX,
    )
    .await?)
}

/// The longest purpose (申请事由), in characters.
pub const PURPOSE_MAX: usize = 200;

/// A purpose as given (at most `PURPOSE_MAX` characters, as the API document says), trimmed, not empty.
pub(super) fn check_purpose(purpose: &str) -> Result<&str, LicenceError> {
    let p = purpose.trim();
    if p.is_empty() || purpose.chars().count() > PURPOSE_MAX {
        return Err(LicenceError::Purpose);
    }
    Ok(p)
}

/// Who is reading, for the access log.
pub struct Reader<'a> {
    pub via: &'static str,
    pub department_id: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub legal_basis: Option<&'a str>,
    /// The agent reading for the enterprise holding the licences.
    pub agent_id: Option<&'a str>,
}

/// Read `rows` for `reader` and log each read in one transaction.
async fn read_logged(
    ctx: &Licences,
    holder_index: &[u8],
    rows: &[LicenceRow],
    reader: &Reader<'_>,
    purpose: &str,
    now: i64,
) -> Result<Vec<LicenceView>, LicenceError> {
    let mut views = Vec::with_capacity(rows.len());
    for r in rows {
        views.push(view(ctx, r).await?);
    }
    // A page's access-log entries and audit events in one statement (one round trip instead of two
    // per licence: a page of ten took 22 round trips, and under load its latency was theirs). A
    // consent read spans a page per consented type: one statement per page, so that no statement
    // outgrows the database's limit on parameters (SQLite's is 32,766; 14 a licence here).
    let mut tx = ctx.db.begin().await?;
    for page in rows.chunks(PAGE_MAX as usize) {
        logged_page(ctx.db.backend, holder_index, page, reader, purpose, now)
            .execute(&mut tx)
            .await
            .map_err(StorageError::from)?;
    }
    tx.commit().await.map_err(StorageError::from)?;
    Ok(views)
}

/// The access-log entries and audit events of reading `rows`, as one statement.
fn logged_page(
    backend: storage::Backend,
    holder_index: &[u8],
    rows: &[LicenceRow],
    reader: &Reader<'_>,
    purpose: &str,
    now: i64,
) -> storage::Batch {
    let mut b = storage::Batch::new(backend);
    for r in rows {
        let a = Access {
            holder_index,
            licence_id: &r.id,
            via: reader.via,
            department_id: reader.department_id,
            client_id: reader.client_id,
            legal_basis: reader.legal_basis,
            purpose,
            at: now,
            agent_id: reader.agent_id,
        };
        storage::licences::log_access_into(&mut b, &a);
        let (actor, action) = match (reader.department_id, reader.via, reader.agent_id) {
            (Some(d), "legal_basis", _) => (
                crate::audit::department(d),
                crate::audit::Action::LicenceQueriedByLegalBasis,
            ),
            (None, "agent", Some(agent)) => (
                crate::audit::account(agent),
                crate::audit::Action::LicenceReadByAgent,
            ),
            _ => (
                crate::audit::client(reader.client_id.unwrap_or("")),
                crate::audit::Action::LicenceQueriedWithConsent,
            ),
        };
        crate::audit::record_into(
            &mut b,
            now,
            &actor,
            action,
            &format!("licence:{}", r.id),
            json!({ "via": reader.via, "client": reader.client_id, "legal_basis": reader.legal_basis }),
        );
    }
    b
}

/// A department queries a holder's licences of one type under the type's registered legal basis.
#[allow(clippy::too_many_arguments)]
pub async fn query_by_legal_basis(
    ctx: &Licences,
    dept: &storage::departments::DepartmentRow,
    client_id: &str,
    holder_index: &[u8],
    type_code: &str,
    purpose: &str,
    page: i64,
    now: i64,
) -> Result<Vec<LicenceView>, LicenceError> {
    let purpose = check_purpose(purpose)?;
    let t = licence_type(ctx, type_code)
        .await?
        .ok_or(LicenceError::NoSuchType)?;
    let basis = t
        .legal_basis_for(&dept.uscc)
        .ok_or(LicenceError::NoLegalBasis)?;
    let rows = storage::licences::of_holder(
        &ctx.db,
        holder_index,
        Some(type_code),
        PAGE_MAX,
        page.clamp(0, 1_000_000) * PAGE_MAX,
    )
    .await?;
    let reader = Reader {
        via: "legal_basis",
        department_id: Some(&dept.id),
        client_id: Some(client_id),
        legal_basis: Some(basis),
        agent_id: None,
    };
    read_logged(ctx, holder_index, &rows, &reader, purpose, now).await
}

/// A portal reads the holder's licences of the types the holder consented to.
pub async fn query_with_consent(
    ctx: &Licences,
    client_id: &str,
    holder_index: &[u8],
    consented_types: &[String],
    purpose: &str,
    now: i64,
) -> Result<Vec<LicenceView>, LicenceError> {
    let t = consented_types;
    query_with_consent_by(ctx, None, client_id, holder_index, t, purpose, now).await
}

/// [`query_with_consent`], where an agent gave the consent for the enterprise holding the licences
/// (the enterprise's access log names them).
pub async fn query_with_consent_by(
    ctx: &Licences,
    agent_id: Option<&str>,
    client_id: &str,
    holder_index: &[u8],
    consented_types: &[String],
    purpose: &str,
    now: i64,
) -> Result<Vec<LicenceView>, LicenceError> {
    let purpose = check_purpose(purpose)?;
    let mut rows = Vec::new();
    for t in consented_types {
        rows.extend(
            storage::licences::of_holder(&ctx.db, holder_index, Some(t), PAGE_MAX, 0).await?,
        );
    }
    let reader = Reader {
        via: "consent",
        department_id: None,
        client_id: Some(client_id),
        legal_basis: None,
        agent_id,
    };
    read_logged(ctx, holder_index, &rows, &reader, purpose, now).await
}
