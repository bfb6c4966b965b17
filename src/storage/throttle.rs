//! State every node sharing the database must see the same: login attempts (the throttle) and the
//! spent ids of private_key_jwt client assertions. Both were per-process memory before, which a
//! race, a restart or a second node got around.

use super::{Db, Result};

/// Reserve one login attempt under each of `keys`, in one transaction, before the password is
/// checked: each key's count in its window after this attempt (a window that has ended starts
/// again at 1). Concurrent reservations are serialised by the rows' locks (PostgreSQL) or the one
/// writer (SQLite), so no two attempts ever see the same count.
pub async fn reserve_attempts(
    db: &Db,
    keys: &[&str],
    window_secs: i64,
    now: i64,
) -> Result<Vec<i64>> {
    let mut tx = db.begin_write().await?;
    let mut counts = Vec::with_capacity(keys.len());
    for key in keys {
        let (n,): (i64,) = sqlx::query_as(
            "INSERT INTO login_attempts (key, attempts, window_ends) VALUES ($1, 1, $2) \
             ON CONFLICT (key) DO UPDATE SET \
               attempts = CASE WHEN login_attempts.window_ends <= $3 THEN 1 \
                               ELSE login_attempts.attempts + 1 END, \
               window_ends = CASE WHEN login_attempts.window_ends <= $3 THEN excluded.window_ends \
                                  ELSE login_attempts.window_ends END \
             RETURNING attempts",
        )
        .bind(*key)
        .bind(now.saturating_add(window_secs))
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        counts.push(n);
    }
    tx.commit().await?;
    Ok(counts)
}

/// A login succeeded: forget the account's attempts (the count is of failures in a row) and give
/// the address back the attempt it reserved.
pub async fn succeeded(db: &Db, account_key: &str, address_key: &str) -> Result<()> {
    let mut tx = db.begin_write().await?;
    sqlx::query("DELETE FROM login_attempts WHERE key = $1")
        .bind(account_key)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE login_attempts SET attempts = attempts - 1 WHERE key = $1 AND attempts > 0",
    )
    .bind(address_key)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Record a client assertion's `jti` as spent until `expires_at`; `false` if it already was (a
/// replay), whichever node or process saw it first.
pub async fn spend_assertion(db: &Db, client_id: &str, jti: &str, expires_at: i64) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO assertion_jtis (client_id, jti, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (client_id, jti) DO NOTHING",
    )
    .bind(client_id)
    .bind(jti)
    .bind(expires_at)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}
