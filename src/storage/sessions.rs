//! SSO sessions, the portals each session has signed in to, and pending authorization requests.

use sqlx::FromRow;

use super::{Db, Result, Tx};

#[derive(Debug, Clone, FromRow)]
pub struct SessionRow {
    pub id: String,
    pub account_id: String,
    pub auth_time: i64,
    pub acr: String,
    pub amr: String,
    pub created_at: i64,
    pub last_seen: i64,
    pub expires_at: i64,
    pub ended_at: Option<i64>,
}

const COLUMNS: &str =
    "id, account_id, auth_time, acr, amr, created_at, last_seen, expires_at, ended_at";

pub async fn insert(tx: &mut Tx, s: &SessionRow, secret_hash: &[u8]) -> Result<()> {
    sqlx::query(
        "INSERT INTO sessions (id, secret_hash, account_id, auth_time, acr, amr, created_at, last_seen, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&s.id)
    .bind(secret_hash.to_vec())
    .bind(&s.account_id)
    .bind(s.auth_time)
    .bind(&s.acr)
    .bind(&s.amr)
    .bind(s.created_at)
    .bind(s.last_seen)
    .bind(s.expires_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn by_secret(db: &Db, secret_hash: &[u8]) -> Result<Option<SessionRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM sessions WHERE secret_hash = $1"
    ))
    .bind(secret_hash.to_vec())
    .fetch_optional(&db.pool)
    .await?)
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<SessionRow>> {
    Ok(
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM sessions WHERE id = $1"))
            .bind(id)
            .fetch_optional(&db.pool)
            .await?,
    )
}

pub async fn active_for_account(db: &Db, account_id: &str, now: i64) -> Result<Vec<SessionRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM sessions WHERE account_id = $1 AND ended_at IS NULL AND expires_at > $2 \
         ORDER BY last_seen DESC"
    ))
    .bind(account_id)
    .bind(now)
    .fetch_all(&db.pool)
    .await?)
}

pub async fn touch(db: &Db, id: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE sessions SET last_seen = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Raise a live session's level after a second factor (step-up): same session, same `auth_time`.
pub async fn upgrade(tx: &mut Tx, id: &str, acr: &str, amr: &str) -> Result<bool> {
    let r =
        sqlx::query("UPDATE sessions SET acr = $1, amr = $2 WHERE id = $3 AND ended_at IS NULL")
            .bind(acr)
            .bind(amr)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    Ok(r.rows_affected() == 1)
}

/// Mark a session ended; `false` if it had already ended.
pub async fn end(tx: &mut Tx, id: &str, now: i64) -> Result<bool> {
    let r = sqlx::query("UPDATE sessions SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn add_client(
    db: &Db,
    session_id: &str,
    client_id: &str,
    acting_for: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO session_clients (session_id, client_id, acting_for, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (session_id, client_id, acting_for) DO NOTHING",
    )
    .bind(session_id)
    .bind(client_id)
    .bind(acting_for)
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct SessionClient {
    pub session_id: String,
    pub client_id: String,
    pub acting_for: String,
}

/// Take (select and delete) the portals of a session, for back-channel logout.
pub async fn take_clients(tx: &mut Tx, session_id: &str) -> Result<Vec<SessionClient>> {
    Ok(sqlx::query_as("DELETE FROM session_clients WHERE session_id = $1 RETURNING session_id, client_id, acting_for")
        .bind(session_id)
        .fetch_all(&mut **tx)
        .await?)
}

/// Take the portals where `account_id` acts for `enterprise_id`, across all their sessions.
pub async fn take_clients_acting_for(
    tx: &mut Tx,
    account_id: &str,
    enterprise_id: &str,
) -> Result<Vec<SessionClient>> {
    Ok(sqlx::query_as(
        "DELETE FROM session_clients WHERE acting_for = $1 AND session_id IN \
         (SELECT id FROM sessions WHERE account_id = $2) RETURNING session_id, client_id, acting_for",
    )
    .bind(enterprise_id)
    .bind(account_id)
    .fetch_all(&mut **tx)
    .await?)
}

pub async fn insert_auth_request(
    db: &Db,
    id: &str,
    client_id: &str,
    params: &str,
    now: i64,
    ttl: i64,
) -> Result<()> {
    sqlx::query("INSERT INTO auth_requests (id, client_id, params, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(client_id)
        .bind(params)
        .bind(now)
        .bind(now + ttl)
        .execute(&db.pool)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct AuthRequestRow {
    pub id: String,
    pub params: String,
    pub created_at: i64,
}

pub async fn auth_request(db: &Db, id: &str, now: i64) -> Result<Option<AuthRequestRow>> {
    Ok(sqlx::query_as(
        "SELECT id, params, created_at FROM auth_requests WHERE id = $1 AND expires_at > $2",
    )
    .bind(id)
    .bind(now)
    .fetch_optional(&db.pool)
    .await?)
}

pub async fn update_auth_request(db: &Db, id: &str, params: &str) -> Result<()> {
    sqlx::query("UPDATE auth_requests SET params = $1 WHERE id = $2")
        .bind(params)
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

pub async fn delete_auth_request(db: &Db, id: &str) -> Result<()> {
    sqlx::query("DELETE FROM auth_requests WHERE id = $1")
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Remove expired rows that no longer serve any purpose (grants stay: they record what was
/// authorised). Run from a background task.
pub async fn purge_expired(db: &Db, now: i64) -> Result<u64> {
    let mut n = 0;
    for sql in [
        "DELETE FROM auth_requests WHERE expires_at < $1",
        "DELETE FROM auth_codes WHERE expires_at < $1",
        "DELETE FROM denylist WHERE expires_at < $1",
        "DELETE FROM refresh_tokens WHERE expires_at < $1",
        "DELETE FROM session_clients WHERE session_id IN (SELECT id FROM sessions WHERE expires_at < $1)",
        "DELETE FROM sessions WHERE expires_at < $1",
        // The shared throttle's ended windows and spent assertion ids (storage::throttle).
        "DELETE FROM login_attempts WHERE window_ends <= $1",
        "DELETE FROM assertion_jtis WHERE expires_at < $1",
        "DELETE FROM factor_challenges WHERE expires_at < $1",
        "DELETE FROM passkey_ceremonies WHERE expires_at < $1",
        "DELETE FROM contact_tokens WHERE expires_at < $1",
    ] {
        n += sqlx::query(sql)
            .bind(now)
            .execute(&db.pool)
            .await?
            .rows_affected();
    }
    Ok(n)
}

/// Whether the account has signed in from this device before; (known, how many devices it has).
pub async fn device(db: &Db, account_id: &str, device_hash: &[u8]) -> Result<(bool, i64)> {
    let (known, all): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(SUM(CASE WHEN device_hash = $1 THEN 1 ELSE 0 END), 0), COUNT(*) \
         FROM account_devices WHERE account_id = $2",
    )
    .bind(device_hash.to_vec())
    .bind(account_id)
    .fetch_one(&db.pool)
    .await?;
    Ok((known > 0, all))
}

/// Remember a device of the account (or note that it was seen again).
pub async fn device_seen(
    tx: &mut Tx,
    account_id: &str,
    device_hash: &[u8],
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO account_devices (account_id, device_hash, first_seen, last_seen) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (account_id, device_hash) DO UPDATE SET last_seen = $5",
    )
    .bind(account_id)
    .bind(device_hash.to_vec())
    .bind(now)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
