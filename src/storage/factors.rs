//! Second factors: TOTP keys and passkeys, recovery codes, and the challenges that wait for a
//! second factor after a password.

use sqlx::FromRow;

use super::{Db, Result, Tx};

#[derive(Debug, Clone, FromRow)]
pub struct FactorRow {
    pub id: String,
    pub account_id: String,
    pub kind: String,
    pub label: String,
    pub secret: Option<Vec<u8>>,
    pub credential: Option<String>,
    pub credential_id: Option<Vec<u8>>,
    pub last_step: Option<i64>,
    pub created_at: i64,
    pub confirmed_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

const COLUMNS: &str = "id, account_id, kind, label, secret, credential, credential_id, last_step, \
                       created_at, confirmed_at, last_used_at";

/// Store a new factor (confirmed or not).
pub async fn insert(tx: &mut Tx, f: &FactorRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO account_factors (id, account_id, kind, label, secret, credential, credential_id, \
         last_step, created_at, confirmed_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&f.id)
    .bind(&f.account_id)
    .bind(&f.kind)
    .bind(&f.label)
    .bind(f.secret.clone())
    .bind(f.credential.clone())
    .bind(f.credential_id.clone())
    .bind(f.last_step)
    .bind(f.created_at)
    .bind(f.confirmed_at)
    .bind(f.last_used_at)
    .execute(&mut **tx)
    .await
    .map_err(super::conflict("credential"))?;
    Ok(())
}

/// Forget the account's unconfirmed factors of a kind (an enrolment begun and not finished).
pub async fn drop_unconfirmed(tx: &mut Tx, account_id: &str, kind: &str) -> Result<()> {
    sqlx::query(
        "DELETE FROM account_factors WHERE account_id = $1 AND kind = $2 AND confirmed_at IS NULL",
    )
    .bind(account_id)
    .bind(kind)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// An account's factors, confirmed ones first, oldest first.
pub async fn for_account(db: &Db, account_id: &str) -> Result<Vec<FactorRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM account_factors WHERE account_id = $1 \
         ORDER BY confirmed_at IS NULL, created_at, id"
    ))
    .bind(account_id)
    .fetch_all(&db.pool)
    .await?)
}

/// How many confirmed factors an account has.
pub async fn confirmed_count(db: &Db, account_id: &str) -> Result<i64> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM account_factors WHERE account_id = $1 AND confirmed_at IS NOT NULL",
    )
    .bind(account_id)
    .fetch_one(&db.pool)
    .await?;
    Ok(n)
}

/// Confirm a factor, recording `step` as its last accepted time step; false if it was already
/// confirmed or is gone.
pub async fn confirm(tx: &mut Tx, id: &str, step: Option<i64>, now: i64) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE account_factors SET confirmed_at = $1, last_used_at = $2, last_step = $3 \
         WHERE id = $4 AND confirmed_at IS NULL",
    )
    .bind(now)
    .bind(now)
    .bind(step)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Accept TOTP time step `step` for a factor, once: false if that step or a later one was already
/// accepted (a code is never good twice, whichever node sees it).
pub async fn accept_step(db: &Db, id: &str, step: i64, now: i64) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE account_factors SET last_step = $1, last_used_at = $2 \
         WHERE id = $3 AND confirmed_at IS NOT NULL AND (last_step IS NULL OR last_step < $4)",
    )
    .bind(step)
    .bind(now)
    .bind(id)
    .bind(step)
    .execute(&db.pool)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Remove a factor of an account; false if it was not theirs or already gone.
pub async fn remove(tx: &mut Tx, account_id: &str, id: &str) -> Result<bool> {
    let r = sqlx::query("DELETE FROM account_factors WHERE id = $1 AND account_id = $2")
        .bind(id)
        .bind(account_id)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Replace an account's recovery codes with these hashes.
pub async fn set_recovery_codes(
    tx: &mut Tx,
    account_id: &str,
    hashes: &[Vec<u8>],
    now: i64,
) -> Result<()> {
    sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1")
        .bind(account_id)
        .execute(&mut **tx)
        .await?;
    for h in hashes {
        sqlx::query(
            "INSERT INTO recovery_codes (account_id, code_hash, created_at) VALUES ($1, $2, $3)",
        )
        .bind(account_id)
        .bind(h.clone())
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Drop an account's recovery codes if it has no confirmed factor left.
pub async fn clear_recovery_codes_if_none(tx: &mut Tx, account_id: &str) -> Result<()> {
    sqlx::query(
        "DELETE FROM recovery_codes WHERE account_id = $1 AND NOT EXISTS \
         (SELECT 1 FROM account_factors WHERE account_id = $2 AND confirmed_at IS NOT NULL)",
    )
    .bind(account_id)
    .bind(account_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Use a recovery code, once: false if it is not one of the account's unused codes.
pub async fn use_recovery_code(db: &Db, account_id: &str, hash: &[u8], now: i64) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE recovery_codes SET used_at = $1 WHERE account_id = $2 AND code_hash = $3 AND used_at IS NULL",
    )
    .bind(now)
    .bind(account_id)
    .bind(hash.to_vec())
    .execute(&db.pool)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// How many of an account's recovery codes are left.
pub async fn recovery_codes_left(db: &Db, account_id: &str) -> Result<i64> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM recovery_codes WHERE account_id = $1 AND used_at IS NULL",
    )
    .bind(account_id)
    .fetch_one(&db.pool)
    .await?;
    Ok(n)
}

/// A password checked; a second factor awaited.
pub async fn insert_challenge(
    db: &Db,
    secret_hash: &[u8],
    account_id: &str,
    amr: &str,
    now: i64,
    expires_at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO factor_challenges (secret_hash, account_id, amr, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(secret_hash.to_vec())
    .bind(account_id)
    .bind(amr)
    .bind(now)
    .bind(expires_at)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// The live challenge behind a secret: (account id, amr so far).
pub async fn challenge(db: &Db, secret_hash: &[u8], now: i64) -> Result<Option<(String, String)>> {
    Ok(sqlx::query_as(
        "SELECT account_id, amr FROM factor_challenges WHERE secret_hash = $1 AND expires_at > $2",
    )
    .bind(secret_hash.to_vec())
    .bind(now)
    .fetch_optional(&db.pool)
    .await?)
}

/// Take a challenge (it is spent once a session starts from it); false if already taken.
pub async fn take_challenge(tx: &mut Tx, secret_hash: &[u8]) -> Result<bool> {
    let r = sqlx::query("DELETE FROM factor_challenges WHERE secret_hash = $1")
        .bind(secret_hash.to_vec())
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// A passkey of any account by its credential id (a passwordless sign-in learns the account from it).
pub async fn by_credential_id(db: &Db, credential_id: &[u8]) -> Result<Option<FactorRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM account_factors WHERE credential_id = $1 AND kind = 'passkey' \
         AND confirmed_at IS NOT NULL"
    ))
    .bind(credential_id.to_vec())
    .fetch_optional(&db.pool)
    .await?)
}

/// A passkey used: its stored credential (signature counter, backup state) and `last_used_at`.
pub async fn passkey_used(db: &Db, id: &str, credential: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE account_factors SET credential = $1, last_used_at = $2 WHERE id = $3")
        .bind(credential)
        .bind(now)
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// A WebAuthn ceremony waiting for the browser's answer (`passkey_ceremonies`).
pub async fn insert_ceremony(
    db: &Db,
    secret_hash: &[u8],
    account_id: Option<&str>,
    purpose: &str,
    state: &str,
    now: i64,
    expires_at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO passkey_ceremonies (secret_hash, account_id, purpose, state, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(secret_hash.to_vec())
    .bind(account_id)
    .bind(purpose)
    .bind(state)
    .bind(now)
    .bind(expires_at)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Take a live ceremony of `purpose`, once: (account id, state). A second answer to the same
/// challenge finds nothing.
pub async fn take_ceremony(
    db: &Db,
    secret_hash: &[u8],
    purpose: &str,
    now: i64,
) -> Result<Option<(Option<String>, String)>> {
    Ok(sqlx::query_as(
        "DELETE FROM passkey_ceremonies WHERE secret_hash = $1 AND purpose = $2 AND expires_at > $3 \
         RETURNING account_id, state",
    )
    .bind(secret_hash.to_vec())
    .bind(purpose)
    .bind(now)
    .fetch_optional(&db.pool)
    .await?)
}
