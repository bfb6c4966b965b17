//! Citizen accounts.

use sqlx::FromRow;

use super::{conflict, Db, Result, Tx};

#[derive(Debug, Clone, FromRow)]
pub struct AccountRow {
    pub id: String,
    pub name: String,
    pub id_kind: String,
    pub id_number_sealed: Vec<u8>,
    pub id_number_index: Vec<u8>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub password_hash: String,
    pub loa: i64,
    pub disabled_at: Option<i64>,
    pub created_at: i64,
    /// The blind index of the identity number the account claims (None once detached).
    pub claimed_index: Option<Vec<u8>>,
    /// When the identity was proven (None: only claimed).
    pub proven_at: Option<i64>,
    /// When the person showed they receive mail at `email`, and texts at `phone` (None: not yet).
    pub email_verified_at: Option<i64>,
    pub phone_verified_at: Option<i64>,
}

const COLUMNS: &str =
    "id, name, id_kind, id_number_sealed, id_number_index, email, phone, password_hash, loa, disabled_at, created_at, claimed_index, proven_at, email_verified_at, phone_verified_at";

pub struct NewAccount<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub id_kind: &'a str,
    pub id_number_sealed: Vec<u8>,
    /// The blind index licences are filed under: the real one if proven, else the placeholder.
    pub id_number_index: Vec<u8>,
    pub claimed_index: Vec<u8>,
    pub proven_at: Option<i64>,
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub password_hash: &'a str,
    pub loa: i64,
    pub now: i64,
}

pub async fn insert(tx: &mut Tx, a: NewAccount<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO accounts (id, name, id_kind, id_number_sealed, id_number_index, email, phone, \
         password_hash, loa, created_at, updated_at, claimed_index, proven_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(a.id)
    .bind(a.name)
    .bind(a.id_kind)
    .bind(a.id_number_sealed)
    .bind(a.id_number_index)
    .bind(a.email)
    .bind(a.phone)
    .bind(a.password_hash)
    .bind(a.loa)
    .bind(a.now)
    .bind(a.now)
    .bind(a.claimed_index)
    .bind(a.proven_at)
    .execute(&mut **tx)
    .await
    .map_err(conflict("identity number, email or phone"))?;
    Ok(())
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<AccountRow>> {
    Ok(
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM accounts WHERE id = $1"))
            .bind(id)
            .fetch_optional(&db.pool)
            .await?,
    )
}

pub async fn by_id_index(db: &Db, index: &[u8]) -> Result<Option<AccountRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM accounts WHERE id_number_index = $1"
    ))
    .bind(index.to_vec())
    .fetch_optional(&db.pool)
    .await?)
}

pub async fn by_email(db: &Db, email: &str) -> Result<Option<AccountRow>> {
    Ok(
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM accounts WHERE email = $1"))
            .bind(email)
            .fetch_optional(&db.pool)
            .await?,
    )
}

pub async fn by_phone(db: &Db, phone: &str) -> Result<Option<AccountRow>> {
    Ok(
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM accounts WHERE phone = $1"))
            .bind(phone)
            .fetch_optional(&db.pool)
            .await?,
    )
}

/// Set the password hash in the caller's transaction.
pub async fn set_password_in(tx: &mut Tx, id: &str, hash: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE accounts SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(hash)
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn set_password(db: &Db, id: &str, hash: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE accounts SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(hash)
        .bind(now)
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

pub async fn set_disabled(
    tx: &mut Tx,
    id: &str,
    disabled_at: Option<i64>,
    now: i64,
) -> Result<bool> {
    let r = sqlx::query("UPDATE accounts SET disabled_at = $1, updated_at = $2 WHERE id = $3")
        .bind(disabled_at)
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected() == 1)
}
