//! Grants (token families), authorization codes, refresh tokens, consents and the access-token deny list.

use sqlx::FromRow;

use super::{Db, Result, Tx};

#[derive(Debug, Clone, FromRow)]
pub struct GrantRow {
    pub id: String,
    pub client_id: String,
    pub account_id: String,
    pub session_id: Option<String>,
    pub acting_for: String,
    pub offline: i64,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

const GRANT_COLUMNS: &str =
    "id, client_id, account_id, session_id, acting_for, offline, created_at, revoked_at";

pub async fn insert_grant(tx: &mut Tx, g: &GrantRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO grants (id, client_id, account_id, session_id, acting_for, offline, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&g.id)
    .bind(&g.client_id)
    .bind(&g.account_id)
    .bind(g.session_id.clone())
    .bind(&g.acting_for)
    .bind(g.offline)
    .bind(g.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn grant(db: &Db, id: &str) -> Result<Option<GrantRow>> {
    Ok(
        sqlx::query_as(&format!("SELECT {GRANT_COLUMNS} FROM grants WHERE id = $1"))
            .bind(id)
            .fetch_optional(&db.pool)
            .await?,
    )
}

/// Revoke a grant (and so its whole token family); `false` if it was already revoked or never existed.
pub async fn revoke_grant(tx: &mut Tx, id: &str, reason: &str, now: i64) -> Result<bool> {
    let r = sqlx::query("UPDATE grants SET revoked_at = $1, revoke_reason = $2 WHERE id = $3 AND revoked_at IS NULL")
        .bind(now)
        .bind(reason)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Revoke the live grants matching `cond` (which uses `$3`, `$4`, ... for `binds`); returns their ids.
async fn revoke_where(
    tx: &mut Tx,
    cond: &str,
    binds: &[&str],
    reason: &str,
    now: i64,
) -> Result<Vec<String>> {
    let sql = format!("UPDATE grants SET revoked_at = $1, revoke_reason = $2 WHERE revoked_at IS NULL AND {cond} RETURNING id");
    let mut q = sqlx::query_as::<_, (String,)>(&sql).bind(now).bind(reason);
    for b in binds {
        q = q.bind(*b);
    }
    Ok(q.fetch_all(&mut **tx)
        .await?
        .into_iter()
        .map(|r| r.0)
        .collect())
}

/// Revoke the grants bound to a session that ended (offline grants survive, as OpenID Connect intends).
pub async fn revoke_session_grants(tx: &mut Tx, session_id: &str, now: i64) -> Result<Vec<String>> {
    revoke_where(
        tx,
        "session_id = $3 AND offline = 0",
        &[session_id],
        "session_ended",
        now,
    )
    .await
}

/// Revoke every grant where `account_id` acts for `enterprise_id` (the agent's rights were withdrawn).
pub async fn revoke_acting_for(
    tx: &mut Tx,
    account_id: &str,
    enterprise_id: &str,
    now: i64,
) -> Result<Vec<String>> {
    revoke_where(
        tx,
        "account_id = $3 AND acting_for = $4",
        &[account_id, enterprise_id],
        "agent_revoked",
        now,
    )
    .await
}

/// Revoke a person's grants at one client (consent withdrawn).
pub async fn revoke_client_grants(
    tx: &mut Tx,
    account_id: &str,
    client_id: &str,
    now: i64,
) -> Result<Vec<String>> {
    revoke_where(
        tx,
        "account_id = $3 AND client_id = $4",
        &[account_id, client_id],
        "consent_withdrawn",
        now,
    )
    .await
}

/// Revoke every grant of a client, offline ones included (the client was removed).
pub async fn revoke_all_client_grants(
    tx: &mut Tx,
    client_id: &str,
    now: i64,
) -> Result<Vec<String>> {
    revoke_where(tx, "client_id = $3", &[client_id], "client_removed", now).await
}

/// Revoke every grant of an account, offline ones included (the account was disabled).
pub async fn revoke_account_grants(tx: &mut Tx, account_id: &str, now: i64) -> Result<Vec<String>> {
    revoke_where(
        tx,
        "account_id = $3",
        &[account_id],
        "account_disabled",
        now,
    )
    .await
}

pub async fn insert_code(
    tx: &mut Tx,
    code_hash: &[u8],
    grant_id: &str,
    client_id: &str,
    data: &str,
    now: i64,
    ttl: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO auth_codes (code_hash, grant_id, client_id, data, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(code_hash.to_vec())
    .bind(grant_id)
    .bind(client_id)
    .bind(data)
    .bind(now)
    .bind(now + ttl)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct CodeRow {
    pub grant_id: String,
    pub client_id: String,
    pub data: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

pub async fn code(db: &Db, code_hash: &[u8]) -> Result<Option<CodeRow>> {
    Ok(sqlx::query_as("SELECT grant_id, client_id, data, expires_at, used_at FROM auth_codes WHERE code_hash = $1")
        .bind(code_hash.to_vec())
        .fetch_optional(&db.pool)
        .await?)
}

/// Mark a code used. `false` if it already was: the `WHERE used_at IS NULL` makes redemption single-use
/// even when two requests race.
pub async fn spend_code(tx: &mut Tx, code_hash: &[u8], now: i64) -> Result<bool> {
    let r =
        sqlx::query("UPDATE auth_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL")
            .bind(now)
            .bind(code_hash.to_vec())
            .execute(&mut **tx)
            .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn insert_refresh(
    tx: &mut Tx,
    token_hash: &[u8],
    grant_id: &str,
    data: &str,
    now: i64,
    expires_at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, grant_id, data, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash.to_vec())
    .bind(grant_id)
    .bind(data)
    .bind(now)
    .bind(expires_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct RefreshRow {
    pub grant_id: String,
    pub data: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

pub async fn refresh(db: &Db, token_hash: &[u8]) -> Result<Option<RefreshRow>> {
    Ok(sqlx::query_as(
        "SELECT grant_id, data, expires_at, used_at FROM refresh_tokens WHERE token_hash = $1",
    )
    .bind(token_hash.to_vec())
    .fetch_optional(&db.pool)
    .await?)
}

/// Spend a refresh token (rotation); `false` if it was already spent.
pub async fn spend_refresh(tx: &mut Tx, token_hash: &[u8], now: i64) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL",
    )
    .bind(now)
    .bind(token_hash.to_vec())
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn consent(
    db: &Db,
    account_id: &str,
    client_id: &str,
    acting_for: &str,
) -> Result<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT scopes FROM consents WHERE account_id = $1 AND client_id = $2 AND acting_for = $3",
    )
    .bind(account_id)
    .bind(client_id)
    .bind(acting_for)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|r| r.0))
}

pub async fn save_consent(
    tx: &mut Tx,
    account_id: &str,
    client_id: &str,
    acting_for: &str,
    scopes: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO consents (account_id, client_id, acting_for, scopes, granted_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (account_id, client_id, acting_for) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at",
    )
    .bind(account_id)
    .bind(client_id)
    .bind(acting_for)
    .bind(scopes)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct ConsentRow {
    pub client_id: String,
    pub acting_for: String,
    pub scopes: String,
    pub granted_at: i64,
}

pub async fn consents_of(db: &Db, account_id: &str) -> Result<Vec<ConsentRow>> {
    Ok(sqlx::query_as(
        "SELECT client_id, acting_for, scopes, granted_at FROM consents WHERE account_id = $1 ORDER BY granted_at DESC",
    )
    .bind(account_id)
    .fetch_all(&db.pool)
    .await?)
}

pub async fn delete_consents(tx: &mut Tx, account_id: &str, client_id: &str) -> Result<u64> {
    Ok(
        sqlx::query("DELETE FROM consents WHERE account_id = $1 AND client_id = $2")
            .bind(account_id)
            .bind(client_id)
            .execute(&mut **tx)
            .await?
            .rows_affected(),
    )
}

pub async fn deny(tx: &mut Tx, kind: &str, value: &str, expires_at: i64) -> Result<()> {
    sqlx::query("INSERT INTO denylist (kind, value, expires_at) VALUES ($1, $2, $3) ON CONFLICT (kind, value) DO NOTHING")
        .bind(kind)
        .bind(value)
        .bind(expires_at)
        .execute(&mut **tx)
        .await?;
    // Other nodes refresh their deny lists when this commits.
    super::notify::changed(tx, super::notify::DENY).await
}

pub async fn denied_since(db: &Db, now: i64) -> Result<Vec<(String, String, i64)>> {
    Ok(
        sqlx::query_as("SELECT kind, value, expires_at FROM denylist WHERE expires_at > $1")
            .bind(now)
            .fetch_all(&db.pool)
            .await?,
    )
}
