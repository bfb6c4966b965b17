//! Licences, their holders and status history, and idempotency records.

use sqlx::FromRow;

use super::{Batch, Db, Result, StorageError, Tx};

#[derive(Debug, Clone, FromRow)]
pub struct LicenceRow {
    pub id: String,
    pub type_code: String,
    pub issuer_id: String,
    pub status_idx: i64,
    pub status: i64,
    pub cert_serial: String,
    pub sd_jwt_sealed: Vec<u8>,
    pub issued_at: i64,
    pub expires_at: Option<i64>,
    pub supersedes: Option<String>,
    pub superseded_by: Option<String>,
}

const COLS: &str = "id, type_code, issuer_id, status_idx, status, cert_serial, sd_jwt_sealed, issued_at, expires_at, supersedes, superseded_by";

/// Add to `b` the insertion of a licence with its holders and its first status event (the issuance
/// writes them with its audit event and log leaf in one statement). When it runs, a unique violation
/// is the random status index being taken: see [`issue_conflict`].
pub fn insert_into(b: &mut Batch, l: &LicenceRow, holders: &[Vec<u8>], actor: &str) {
    b.push(
        &format!(
            "INSERT INTO licences ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ),
        |q| {
            q.bind(l.id.clone())
                .bind(l.type_code.clone())
                .bind(l.issuer_id.clone())
                .bind(l.status_idx)
                .bind(l.status)
                .bind(l.cert_serial.clone())
                .bind(l.sd_jwt_sealed.clone())
                .bind(l.issued_at)
                .bind(l.expires_at)
                .bind(l.supersedes.clone())
                .bind(l.superseded_by.clone());
        },
    );
    if !holders.is_empty() {
        let mut sql =
            String::from("INSERT INTO licence_holders (licence_id, holder_index) VALUES ");
        for i in 0..holders.len() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("($1, ${})", i + 2));
        }
        sql.push_str(" ON CONFLICT DO NOTHING");
        b.push(&sql, |q| {
            q.bind(l.id.clone());
            for h in holders {
                q.bind(h.clone());
            }
        });
    }
    // The first event of a new licence: seq 1 (no read of the table, which a PostgreSQL CTE part
    // would not see written anyway).
    b.push(
        "INSERT INTO licence_status_events (licence_id, seq, at, status, reason, actor) \
         VALUES ($1, 1, $2, $3, 'issued', $4)",
        |q| {
            q.bind(l.id.clone())
                .bind(l.issued_at)
                .bind(l.status)
                .bind(actor.to_owned());
        },
    );
}

/// What a unique violation in an issuance's statement was: the idempotency key recorded by a
/// concurrent retry, or (any other) the random status index being taken.
pub fn issue_conflict(e: sqlx::Error) -> StorageError {
    match e.as_database_error() {
        Some(d) if d.is_unique_violation() => {
            let idempotency = d.message().contains("idempotency")
                || d.constraint().is_some_and(|c| c.contains("idempotency"))
                || d.table().is_some_and(|t| t.contains("idempotency"));
            StorageError::Conflict(if idempotency {
                "idempotency key"
            } else {
                "status index"
            })
        }
        _ => StorageError::Database(e),
    }
}

async fn status_event(
    tx: &mut Tx,
    id: &str,
    at: i64,
    status: i64,
    reason: &str,
    actor: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO licence_status_events (licence_id, seq, at, status, reason, actor) \
         SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5 FROM licence_status_events WHERE licence_id = $6",
    )
    .bind(id)
    .bind(at)
    .bind(status)
    .bind(reason)
    .bind(actor)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Change a licence's status from `from` to `to`; `false` if its status was not `from` (a concurrent
/// change, or a transition that is not allowed).
pub async fn set_status(
    tx: &mut Tx,
    id: &str,
    from: i64,
    to: i64,
    reason: &str,
    actor: &str,
    now: i64,
) -> Result<bool> {
    let r = sqlx::query("UPDATE licences SET status = $1 WHERE id = $2 AND status = $3")
        .bind(to)
        .bind(id)
        .bind(from)
        .execute(&mut **tx)
        .await?;
    if r.rows_affected() != 1 {
        return Ok(false);
    }
    status_event(tx, id, now, to, reason, actor).await?;
    Ok(true)
}

pub async fn set_superseded_by(tx: &mut Tx, old: &str, new: &str) -> Result<()> {
    sqlx::query("UPDATE licences SET superseded_by = $1 WHERE id = $2")
        .bind(new)
        .bind(old)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn get(db: &Db, id: &str) -> Result<Option<LicenceRow>> {
    Ok(
        sqlx::query_as(&format!("SELECT {COLS} FROM licences WHERE id = $1"))
            .bind(id)
            .fetch_optional(&db.pool)
            .await?,
    )
}

/// A holder's licences (optionally of one type), newest first.
pub async fn of_holder(
    db: &Db,
    holder_index: &[u8],
    type_code: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<Vec<LicenceRow>> {
    let cols = COLS
        .split(", ")
        .map(|c| format!("l.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    Ok(sqlx::query_as(&format!(
        "SELECT {cols} FROM licence_holders h JOIN licences l ON l.id = h.licence_id \
         WHERE h.holder_index = $1 AND ($2 = '' OR l.type_code = $3) ORDER BY l.issued_at DESC, l.id LIMIT $4 OFFSET $5"
    ))
    .bind(holder_index.to_vec())
    .bind(type_code.unwrap_or(""))
    .bind(type_code.unwrap_or(""))
    .bind(limit)
    .bind(offset)
    .fetch_all(&db.pool)
    .await?)
}

/// Whether `licence_id` is filed under `holder_index` (one primary-key lookup).
pub async fn holds(db: &Db, licence_id: &str, holder_index: &[u8]) -> Result<bool> {
    let r: Option<(String,)> = sqlx::query_as(
        "SELECT licence_id FROM licence_holders WHERE holder_index = $1 AND licence_id = $2",
    )
    .bind(holder_index.to_vec())
    .bind(licence_id)
    .fetch_optional(&db.pool)
    .await?;
    Ok(r.is_some())
}

/// `(index, status)` of every licence of an issuer whose status is not valid now.
pub async fn non_valid(db: &Db, issuer_id: &str) -> Result<Vec<(i64, i64)>> {
    Ok(sqlx::query_as(
        "SELECT status_idx, status FROM licences WHERE issuer_id = $1 AND status <> 0",
    )
    .bind(issuer_id)
    .fetch_all(&db.pool)
    .await?)
}

/// `(index, status)` at `time`: each licence's last status event at or before `time`, where it is not valid.
pub async fn non_valid_at(db: &Db, issuer_id: &str, time: i64) -> Result<Vec<(i64, i64)>> {
    Ok(sqlx::query_as(
        "SELECT l.status_idx, e.status FROM licences l JOIN licence_status_events e ON e.licence_id = l.id \
         WHERE l.issuer_id = $1 AND e.at <= $2 AND e.status <> 0 AND e.seq = \
         (SELECT MAX(seq) FROM licence_status_events x WHERE x.licence_id = l.id AND x.at <= $3)",
    )
    .bind(issuer_id)
    .bind(time)
    .bind(time)
    .fetch_all(&db.pool)
    .await?)
}

#[derive(Debug, Clone, FromRow)]
pub struct StatusEvent {
    pub seq: i64,
    pub at: i64,
    pub status: i64,
    pub reason: String,
}

pub async fn history(db: &Db, id: &str) -> Result<Vec<StatusEvent>> {
    Ok(sqlx::query_as("SELECT seq, at, status, reason FROM licence_status_events WHERE licence_id = $1 ORDER BY seq")
        .bind(id)
        .fetch_all(&db.pool)
        .await?)
}

#[derive(Debug, Clone, FromRow)]
pub struct IdempotencyRow {
    pub request_hash: Vec<u8>,
    pub response: String,
    pub status: i64,
}

pub async fn idempotent(db: &Db, client_id: &str, key: &str) -> Result<Option<IdempotencyRow>> {
    Ok(sqlx::query_as("SELECT request_hash, response, status FROM idempotency_keys WHERE client_id = $1 AND key = $2")
        .bind(client_id)
        .bind(key)
        .fetch_optional(&db.pool)
        .await?)
}

/// Record the response to an idempotent request in the same transaction as its effect.
/// `Conflict("idempotency key")` when a concurrent request with the same key committed first.
/// Record an idempotent issuance's answer, as a part of the issuance's statement. When it runs, a
/// unique violation is a concurrent retry that committed first: see [`issue_conflict`].
pub fn remember_into(
    b: &mut Batch,
    client_id: &str,
    key: &str,
    request_hash: &[u8],
    response: &str,
    status: i64,
    now: i64,
) {
    b.push("INSERT INTO idempotency_keys (client_id, key, request_hash, response, status, created_at) VALUES ($1, $2, $3, $4, $5, $6)", |q| {
        q.bind(client_id.to_owned())
            .bind(key.to_owned())
            .bind(request_hash.to_vec())
            .bind(response.to_owned())
            .bind(status)
            .bind(now);
    });
}

pub struct Access<'a> {
    pub holder_index: &'a [u8],
    pub licence_id: &'a str,
    /// `consent`, `legal_basis`, `share`, `agent` (an agent read it for the enterprise) or
    /// `agent_share` (an agent shared it).
    pub via: &'a str,
    pub department_id: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub legal_basis: Option<&'a str>,
    pub purpose: &'a str,
    pub at: i64,
    /// The agent who read or shared it for the enterprise holding it.
    pub agent_id: Option<&'a str>,
}

/// [`log_access`] as a part of a [`super::Batch`].
pub fn log_access_into(b: &mut super::Batch, a: &Access<'_>) {
    b.push(LOG_ACCESS, |q| {
        q.bind(crate::crypto::random_id())
            .bind(a.holder_index.to_vec())
            .bind(a.licence_id.to_owned())
            .bind(a.via.to_owned())
            .bind(a.department_id.map(str::to_owned))
            .bind(a.client_id.map(str::to_owned))
            .bind(a.legal_basis.map(str::to_owned))
            .bind(a.purpose.to_owned())
            .bind(a.at)
            .bind(a.agent_id.map(str::to_owned));
    });
}

const LOG_ACCESS: &str = "INSERT INTO licence_access_log (id, holder_index, licence_id, via, department_id, client_id, legal_basis, purpose, at, agent_id) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

pub async fn log_access(tx: &mut Tx, a: &Access<'_>) -> Result<()> {
    sqlx::query(LOG_ACCESS)
        .bind(crate::crypto::random_id())
        .bind(a.holder_index.to_vec())
        .bind(a.licence_id)
        .bind(a.via)
        .bind(a.department_id)
        .bind(a.client_id)
        .bind(a.legal_basis)
        .bind(a.purpose)
        .bind(a.at)
        .bind(a.agent_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct AccessRow {
    pub licence_id: String,
    pub via: String,
    pub department_id: Option<String>,
    pub client_id: Option<String>,
    pub legal_basis: Option<String>,
    pub purpose: String,
    pub at: i64,
    pub agent_id: Option<String>,
}

pub async fn access_log(db: &Db, holder_indexes: &[Vec<u8>], limit: i64) -> Result<Vec<AccessRow>> {
    let mut out = Vec::new();
    for h in holder_indexes {
        out.extend(
            sqlx::query_as::<_, AccessRow>(
                "SELECT licence_id, via, department_id, client_id, legal_basis, purpose, at, agent_id FROM licence_access_log \
                 WHERE holder_index = $1 ORDER BY at DESC LIMIT $2",
            )
            .bind(h.clone())
            .bind(limit)
            .fetch_all(&db.pool)
            .await?,
        );
    }
    out.sort_by_key(|a| std::cmp::Reverse(a.at));
    out.truncate(limit as usize);
    Ok(out)
}

#[derive(Debug, Clone, FromRow)]
pub struct ShareRow {
    pub id: String,
    pub licence_id: String,
    pub holder_index: Vec<u8>,
    pub account_id: String,
    pub disclose: String,
    pub purpose: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub withdrawn_at: Option<i64>,
}

const SHARE: &str = "id, licence_id, holder_index, account_id, disclose, purpose, created_at, expires_at, withdrawn_at";

pub async fn insert_share(tx: &mut Tx, s: &ShareRow, token_hash: &[u8]) -> Result<()> {
    sqlx::query(&format!("INSERT INTO licence_shares ({SHARE}, token_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"))
        .bind(&s.id)
        .bind(&s.licence_id)
        .bind(s.holder_index.clone())
        .bind(&s.account_id)
        .bind(&s.disclose)
        .bind(&s.purpose)
        .bind(s.created_at)
        .bind(s.expires_at)
        .bind(s.withdrawn_at)
        .bind(token_hash.to_vec())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn share_by_token(db: &Db, token_hash: &[u8]) -> Result<Option<ShareRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {SHARE} FROM licence_shares WHERE token_hash = $1"
    ))
    .bind(token_hash.to_vec())
    .fetch_optional(&db.pool)
    .await?)
}

pub async fn withdraw_share(tx: &mut Tx, id: &str, account_id: &str, now: i64) -> Result<bool> {
    let r = sqlx::query("UPDATE licence_shares SET withdrawn_at = $1 WHERE id = $2 AND account_id = $3 AND withdrawn_at IS NULL")
        .bind(now)
        .bind(id)
        .bind(account_id)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected() == 1)
}
