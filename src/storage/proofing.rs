//! Identity proofing: proving an account's claimed identity (and detaching the same number from the
//! accounts that only claimed it), proofing events, counter staff, activation codes, account notices.

use sqlx::FromRow;

use super::{Db, Result, Tx};

/// The placeholder `id_number_index` of an account whose identity is only claimed: unique to the
/// account and never 32 bytes, so it equals no blind index (see migration 0008).
pub fn claimed_placeholder(account_id: &str) -> Vec<u8> {
    format!("claimed:{account_id}").into_bytes()
}

/// The proven account holding the blind index `index`, if any.
pub async fn proven_holder(db: &Db, index: &[u8]) -> Result<Option<String>> {
    let r: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM accounts WHERE id_number_index = $1 AND proven_at IS NOT NULL",
    )
    .bind(index.to_vec())
    .fetch_optional(&db.pool)
    .await?;
    Ok(r.map(|(id,)| id))
}

/// Mark `account_id` proven under `index`, if it still claims that index and is not proven yet;
/// false if it changed meanwhile.
pub async fn set_proven(tx: &mut Tx, account_id: &str, index: &[u8], now: i64) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE accounts SET id_number_index = $1, proven_at = $2, loa = 3, updated_at = $3 \
         WHERE id = $4 AND claimed_index = $5 AND proven_at IS NULL",
    )
    .bind(index.to_vec())
    .bind(now)
    .bind(now)
    .bind(account_id)
    .bind(index.to_vec())
    .execute(&mut **tx)
    .await
    .map_err(super::conflict("proven identity number"))?;
    Ok(r.rows_affected() == 1)
}

/// The accounts other than `keep` that only claim `index`.
pub async fn claimants(tx: &mut Tx, index: &[u8], keep: &str) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT id FROM accounts WHERE claimed_index = $1 AND proven_at IS NULL AND id <> $2 ORDER BY id",
    )
    .bind(index.to_vec())
    .bind(keep)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Detach the claimed identity number from an account (it keeps its other data).
pub async fn detach(tx: &mut Tx, account_id: &str, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE accounts SET claimed_index = NULL, id_number_sealed = $1, updated_at = $2 \
         WHERE id = $3 AND proven_at IS NULL",
    )
    .bind(Vec::<u8>::new())
    .bind(now)
    .bind(account_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct ProofingEvent {
    pub id: String,
    pub account_id: String,
    pub method: String,
    pub actor: String,
    pub department_id: Option<String>,
    pub evidence: String,
    pub at: i64,
}

pub async fn insert_event(tx: &mut Tx, e: &ProofingEvent) -> Result<()> {
    sqlx::query(
        "INSERT INTO proofing_events (id, account_id, method, actor, department_id, evidence, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&e.id)
    .bind(&e.account_id)
    .bind(&e.method)
    .bind(&e.actor)
    .bind(&e.department_id)
    .bind(&e.evidence)
    .bind(e.at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn events_of(db: &Db, account_id: &str) -> Result<Vec<ProofingEvent>> {
    Ok(sqlx::query_as(
        "SELECT id, account_id, method, actor, department_id, evidence, at FROM proofing_events \
         WHERE account_id = $1 ORDER BY at, id",
    )
    .bind(account_id)
    .fetch_all(&db.pool)
    .await?)
}

pub async fn grant_role(
    tx: &mut Tx,
    account_id: &str,
    department_id: &str,
    role: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO staff_roles (account_id, department_id, role, granted_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (account_id, department_id, role) DO NOTHING",
    )
    .bind(account_id)
    .bind(department_id)
    .bind(role)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The departments in which the account holds `role`.
pub async fn departments_with_role(db: &Db, account_id: &str, role: &str) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT department_id FROM staff_roles WHERE account_id = $1 AND role = $2 ORDER BY department_id",
    )
    .bind(account_id)
    .bind(role)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(|(d,)| d).collect())
}

#[derive(Debug, Clone, FromRow)]
pub struct ActivationCode {
    pub id: String,
    pub id_number_index: Vec<u8>,
    pub department_id: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

pub async fn insert_code(
    tx: &mut Tx,
    id: &str,
    index: &[u8],
    code_hash: &[u8],
    department_id: &str,
    now: i64,
    expires_at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO activation_codes (id, id_number_index, code_hash, department_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(index.to_vec())
    .bind(code_hash.to_vec())
    .bind(department_id)
    .bind(now)
    .bind(expires_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn code_by_hash(db: &Db, code_hash: &[u8]) -> Result<Option<ActivationCode>> {
    Ok(sqlx::query_as(
        "SELECT id, id_number_index, department_id, expires_at, used_at FROM activation_codes WHERE code_hash = $1",
    )
    .bind(code_hash.to_vec())
    .fetch_optional(&db.pool)
    .await?)
}

/// Spend a code for `account_id`; false if it was spent meanwhile.
pub async fn spend_code(tx: &mut Tx, id: &str, account_id: &str, now: i64) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE activation_codes SET used_at = $1, used_by = $2 WHERE id = $3 AND used_at IS NULL",
    )
    .bind(now)
    .bind(account_id)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() == 1)
}

#[derive(Debug, Clone, FromRow)]
pub struct Notice {
    pub id: String,
    pub kind: String,
    pub created_at: i64,
}

pub async fn insert_notice(
    tx: &mut Tx,
    id: &str,
    account_id: &str,
    kind: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO account_notices (id, account_id, kind, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(account_id)
    .bind(kind)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The account's notices, newest first.
pub async fn notices_of(db: &Db, account_id: &str) -> Result<Vec<Notice>> {
    Ok(sqlx::query_as(
        "SELECT id, kind, created_at FROM account_notices WHERE account_id = $1 ORDER BY created_at DESC, id LIMIT 20",
    )
    .bind(account_id)
    .fetch_all(&db.pool)
    .await?)
}
