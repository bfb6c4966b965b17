//! Contact details: verification and reset tokens (`contact_tokens`), the verified marks on
//! accounts, and the outbox of mail and SMS (`outbox`).

use sqlx::FromRow;

use super::{Db, Result, Tx};

/// A token sent to an address, as stored.
#[derive(Debug, Clone, FromRow)]
pub struct TokenRow {
    pub token_hash: Vec<u8>,
    pub account_id: String,
    pub purpose: String,
    pub address: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub attempts: i64,
}

/// Store a token (earlier ones of the same purpose keep working until they expire or are used).
#[allow(clippy::too_many_arguments)]
pub async fn insert_token(
    tx: &mut Tx,
    token_hash: &[u8],
    account_id: &str,
    purpose: &str,
    address: &str,
    now: i64,
    expires_at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO contact_tokens (token_hash, account_id, purpose, address, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(token_hash.to_vec())
    .bind(account_id)
    .bind(purpose)
    .bind(address)
    .bind(now)
    .bind(expires_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A token by its hash.
pub async fn token(db: &Db, token_hash: &[u8]) -> Result<Option<TokenRow>> {
    Ok(sqlx::query_as(
        "SELECT token_hash, account_id, purpose, address, expires_at, used_at, attempts \
         FROM contact_tokens WHERE token_hash = $1",
    )
    .bind(token_hash.to_vec())
    .fetch_optional(&db.pool)
    .await?)
}

/// The account's live (unused, unexpired) token of `purpose`, for a code typed in.
pub async fn live_token_of(
    db: &Db,
    account_id: &str,
    purpose: &str,
    now: i64,
) -> Result<Option<TokenRow>> {
    Ok(sqlx::query_as(
        "SELECT token_hash, account_id, purpose, address, expires_at, used_at, attempts FROM contact_tokens \
         WHERE account_id = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3 \
         ORDER BY created_at DESC LIMIT 1",
    )
    .bind(account_id)
    .bind(purpose)
    .bind(now)
    .fetch_optional(&db.pool)
    .await?)
}

/// Count a try at a token before its code is compared, atomically: false when the token has had
/// `max` tries already, is used or has expired (parallel guesses cannot share one count).
pub async fn count_try(db: &Db, token_hash: &[u8], max: i64, now: i64) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE contact_tokens SET attempts = attempts + 1 WHERE token_hash = $1 AND attempts < $2 \
         AND used_at IS NULL AND expires_at > $3",
    )
    .bind(token_hash.to_vec())
    .bind(max)
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Forget an account's tokens of `purpose` (a new phone code replaces the old ones).
pub async fn drop_tokens(tx: &mut Tx, account_id: &str, purpose: &str) -> Result<()> {
    sqlx::query("DELETE FROM contact_tokens WHERE account_id = $1 AND purpose = $2")
        .bind(account_id)
        .bind(purpose)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// How many messages of `kind` were queued for the account since `since`, and when the last was.
pub async fn sent_since(
    db: &Db,
    account_id: &str,
    kind: &str,
    since: i64,
) -> Result<(i64, Option<i64>)> {
    Ok(sqlx::query_as(
        "SELECT COUNT(*), MAX(created_at) FROM outbox WHERE account_id = $1 AND kind = $2 \
         AND created_at >= $3",
    )
    .bind(account_id)
    .bind(kind)
    .bind(since)
    .fetch_one(&db.pool)
    .await?)
}

/// Spend a token, once: false if it was already used or has expired.
pub async fn use_token(tx: &mut Tx, token_hash: &[u8], now: i64) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE contact_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $3",
    )
    .bind(now)
    .bind(token_hash.to_vec())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Mark the account's email (`channel` `email`) or phone (`phone`) verified, if it is still
/// `address`; false otherwise.
pub async fn set_verified(
    tx: &mut Tx,
    account_id: &str,
    channel: &str,
    address: &str,
    now: i64,
) -> Result<bool> {
    let sql = match channel {
        "email" => "UPDATE accounts SET email_verified_at = $1 WHERE id = $2 AND email = $3",
        _ => "UPDATE accounts SET phone_verified_at = $1 WHERE id = $2 AND phone = $3",
    };
    let r = sqlx::query(sql)
        .bind(now)
        .bind(account_id)
        .bind(address)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// The account's verified email address, if any (read in the transaction that queues a notice).
pub async fn verified_email(tx: &mut Tx, account_id: &str) -> Result<Option<String>> {
    let r: Option<(Option<String>,)> = sqlx::query_as(
        "SELECT email FROM accounts WHERE id = $1 AND email_verified_at IS NOT NULL",
    )
    .bind(account_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(r.and_then(|r| r.0))
}

/// A message to send.
pub struct NewMessage<'a> {
    pub id: &'a str,
    pub account_id: Option<&'a str>,
    pub channel: &'a str,
    pub kind: &'a str,
    pub payload: Vec<u8>,
}

pub async fn enqueue(tx: &mut Tx, m: &NewMessage<'_>, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO outbox (id, account_id, channel, kind, payload, created_at, next_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(m.id)
    .bind(m.account_id)
    .bind(m.channel)
    .bind(m.kind)
    .bind(m.payload.clone())
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A message due for sending, claimed by this node.
#[derive(Debug, Clone, FromRow)]
pub struct Due {
    pub id: String,
    pub channel: String,
    pub kind: String,
    pub payload: Option<Vec<u8>>,
    pub attempts: i64,
}

/// Claim up to `limit` messages due at `now` for `lease` seconds (another node skips them).
pub async fn claim_due(db: &Db, now: i64, lease: i64, limit: i64) -> Result<Vec<Due>> {
    let candidates: Vec<(String,)> = sqlx::query_as(
        "SELECT id FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL AND next_at <= $1 \
         AND (claimed_until IS NULL OR claimed_until < $2) ORDER BY next_at, id LIMIT $3",
    )
    .bind(now)
    .bind(now)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    let mut out = Vec::with_capacity(candidates.len());
    for (id,) in candidates {
        let claimed: Option<Due> = sqlx::query_as(
            "UPDATE outbox SET claimed_until = $1 WHERE id = $2 AND sent_at IS NULL \
             AND (claimed_until IS NULL OR claimed_until < $3) \
             RETURNING id, channel, kind, payload, attempts",
        )
        .bind(now + lease)
        .bind(&id)
        .bind(now)
        .fetch_optional(&db.pool)
        .await?;
        out.extend(claimed);
    }
    Ok(out)
}

/// Put a message off until `next_at` without counting an attempt (its channel is not configured).
pub async fn postpone(db: &Db, id: &str, next_at: i64) -> Result<()> {
    sqlx::query("UPDATE outbox SET next_at = $1, claimed_until = NULL WHERE id = $2")
        .bind(next_at)
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// A message went: its payload (address, link, code) is dropped, the record stays.
pub async fn sent(db: &Db, id: &str, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE outbox SET sent_at = $1, payload = NULL, claimed_until = NULL, attempts = attempts + 1 WHERE id = $2",
    )
    .bind(now)
    .bind(id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// A message did not go: try again at `next_at`, or (`next_at` None) give up, dropping the payload.
pub async fn not_sent(
    db: &Db,
    id: &str,
    error: &str,
    next_at: Option<i64>,
    now: i64,
) -> Result<()> {
    match next_at {
        Some(at) => sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, next_at = $1, claimed_until = NULL, last_error = $2 WHERE id = $3",
        )
        .bind(at)
        .bind(error)
        .bind(id),
        None => sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, failed_at = $1, payload = NULL, claimed_until = NULL, last_error = $2 WHERE id = $3",
        )
        .bind(now)
        .bind(error)
        .bind(id),
    }
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// What was sent to an account, newest first: (kind, channel, created, sent).
pub async fn sent_to(db: &Db, account_id: &str) -> Result<Vec<(String, String, i64, Option<i64>)>> {
    Ok(sqlx::query_as(
        "SELECT kind, channel, created_at, sent_at FROM outbox WHERE account_id = $1 ORDER BY created_at DESC, id LIMIT 50",
    )
    .bind(account_id)
    .fetch_all(&db.pool)
    .await?)
}
