//! SSO sessions: created at login, found by the cookie's secret (stored hashed), bounded by an idle and
//! an absolute timeout.

use crate::crypto::{random_id, random_token, secret_hash};
use crate::identity::context::Identity;
use crate::storage::{self, sessions::SessionRow, StorageError};

/// The levels of assurance (`acr`): one factor; two factors; two factors and a proven identity.
pub const LOA1: &str = "urn:tongban:loa:1";
pub const LOA2: &str = "urn:tongban:loa:2";
pub const LOA3: &str = "urn:tongban:loa:3";

/// The session cookie's name over plain HTTP; under https it is `__Host-tongban_session`
/// (`http::pages::session_cookie`).
pub const COOKIE: &str = "tongban_session";

/// Start a session; returns the cookie secret (to set in the browser) and the row.
pub async fn create(
    ctx: &Identity,
    account_id: &str,
    acr: &str,
    amr: &[&str],
    now: i64,
) -> Result<(String, SessionRow), StorageError> {
    let secret = random_token();
    let row = SessionRow {
        id: random_id(),
        account_id: account_id.to_owned(),
        auth_time: now,
        acr: acr.to_owned(),
        amr: amr.join(" "),
        created_at: now,
        last_seen: now,
        expires_at: now + ctx.session_absolute_ttl,
        ended_at: None,
    };
    let mut tx = ctx.db.begin().await?;
    storage::sessions::insert(&mut tx, &row, &secret_hash(&secret)).await?;
    crate::audit::record(
        &mut tx,
        now,
        &crate::audit::account(account_id),
        crate::audit::Action::LoginSucceeded,
        &format!("session:{}", row.id),
        serde_json::json!({ "acr": acr, "amr": amr }),
    )
    .await?;
    tx.commit().await?;
    Ok((secret, row))
}

/// The live session behind a cookie secret, if any. Refreshes `last_seen` at most once a minute.
pub async fn current(
    ctx: &Identity,
    secret: &str,
    now: i64,
) -> Result<Option<SessionRow>, StorageError> {
    let Some(s) = storage::sessions::by_secret(&ctx.db, &secret_hash(secret)).await? else {
        return Ok(None);
    };
    if s.ended_at.is_some() || s.expires_at <= now || s.last_seen + ctx.session_idle_ttl <= now {
        return Ok(None);
    }
    if now - s.last_seen >= 60 {
        storage::sessions::touch(&ctx.db, &s.id, now).await?;
    }
    Ok(Some(s))
}

/// A person's sessions that have not ended, most recently used first.
pub async fn active(
    ctx: &Identity,
    account_id: &str,
    now: i64,
) -> Result<Vec<storage::sessions::SessionRow>, storage::StorageError> {
    storage::sessions::active_for_account(&ctx.db, account_id, now).await
}

/// Sign in with a password: check it (throttled per identifier and address), then start a session
/// at one factor (`LOA1`, `amr` `pwd`). Returns the cookie secret.
pub async fn password_sign_in(
    ctx: &Identity,
    ident: &str,
    password: &str,
    addr: &str,
    now: i64,
) -> Result<String, super::accounts::LoginError> {
    let account = super::accounts::authenticate(ctx, ident, password, addr, now).await?;
    // One factor: loa 1, whether the identity is proven or not (loa 3 needs two factors as well).
    let (secret, _) = create(ctx, &account.id, LOA1, &["pwd"], now).await?;
    tracing::info!("login succeeded");
    Ok(secret)
}
