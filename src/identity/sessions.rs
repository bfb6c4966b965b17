//! SSO sessions: created at login, found by the cookie's secret (stored hashed), bounded by an idle and
//! an absolute timeout.

use super::factors::{FactorError, Proof};
use crate::crypto::{random_id, random_token, secret_hash};
use crate::identity::context::Identity;
use crate::storage::{self, accounts::AccountRow, sessions::SessionRow, StorageError};

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
    let row = new_row(ctx, account_id, acr, amr, now);
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

fn new_row(ctx: &Identity, account_id: &str, acr: &str, amr: &[&str], now: i64) -> SessionRow {
    SessionRow {
        id: random_id(),
        account_id: account_id.to_owned(),
        auth_time: now,
        acr: acr.to_owned(),
        amr: amr.join(" "),
        created_at: now,
        last_seen: now,
        expires_at: now + ctx.session_absolute_ttl,
        ended_at: None,
    }
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

/// The level of a sign-in: one factor `LOA1`; two `LOA2`; two and a proven identity `LOA3`.
pub fn level(two_factors: bool, proven: bool) -> &'static str {
    match (two_factors, proven) {
        (false, _) => LOA1,
        (true, false) => LOA2,
        (true, true) => LOA3,
    }
}

/// The highest level an account can sign in at: 1 with a password alone, 2 with a second factor,
/// 3 with a second factor and a proven identity.
pub async fn reach(ctx: &Identity, a: &AccountRow) -> Result<u8, StorageError> {
    if !super::factors::has_factor(ctx, &a.id).await? {
        return Ok(1);
    }
    Ok(if super::proofing::is_proven(a) { 3 } else { 2 })
}

/// Seconds a checked password waits for its second factor.
pub const CHALLENGE_TTL: i64 = 300;

/// The factor-challenge cookie's name over plain HTTP (`__Host-` prefixed under https).
pub const CHALLENGE_COOKIE: &str = "tongban_factor";

/// A session just started: its cookie secret (to set in the browser) and whose it is.
pub struct Started {
    pub secret: String,
    pub account_id: String,
}

/// What a correct password leads to.
pub enum SignIn {
    /// A session at one factor (the account has no second factor).
    Session(Started),
    /// The account has a second factor, asked for next: the challenge's cookie secret. No
    /// session exists until the factor is shown, so a password alone opens nothing.
    SecondFactor(String),
}

/// Sign in with a password: check it (throttled per identifier and address). An account without a
/// second factor gets a session at one factor (`LOA1`, `amr` `pwd`); one with a second factor gets
/// a challenge for it.
pub async fn password_sign_in(
    ctx: &Identity,
    ident: &str,
    password: &str,
    addr: &str,
    now: i64,
) -> Result<SignIn, super::accounts::LoginError> {
    let account = super::accounts::authenticate(ctx, ident, password, addr, now).await?;
    if super::factors::has_factor(ctx, &account.id).await? {
        let secret = random_token();
        storage::factors::insert_challenge(
            &ctx.db,
            &secret_hash(&secret),
            &account.id,
            "pwd",
            now,
            now + CHALLENGE_TTL,
        )
        .await?;
        return Ok(SignIn::SecondFactor(secret));
    }
    // One factor: loa 1, whether the identity is proven or not (loa 3 needs two factors as well).
    let (secret, _) = create(ctx, &account.id, LOA1, &["pwd"], now).await?;
    tracing::info!("login succeeded");
    Ok(SignIn::Session(Started {
        secret,
        account_id: account.id,
    }))
}

/// The account a live factor challenge waits for.
pub async fn challenged(
    ctx: &Identity,
    challenge: &str,
    now: i64,
) -> Result<Option<String>, StorageError> {
    Ok(
        storage::factors::challenge(&ctx.db, &secret_hash(challenge), now)
            .await?
            .map(|(account, _)| account),
    )
}

/// The second factor after a password: checked, it starts the session at two factors (`LOA2`, or
/// `LOA3` for a proven identity; `amr` `pwd`, the factor's methods, `mfa`) and spends the
/// challenge.
pub async fn second_factor_sign_in(
    ctx: &Identity,
    challenge: &str,
    proof: Proof<'_>,
    addr: &str,
    now: i64,
) -> Result<Started, FactorError> {
    let hash = secret_hash(challenge);
    let Some((account_id, first)) = storage::factors::challenge(&ctx.db, &hash, now).await? else {
        return Err(FactorError::NoChallenge);
    };
    let shown = super::second_factor::verify(ctx, &account_id, proof, addr, now).await?;
    let a = super::accounts::account(ctx, &account_id)
        .await?
        .filter(|a| a.disabled_at.is_none())
        .ok_or(FactorError::NoChallenge)?;
    let acr = level(true, super::proofing::is_proven(&a));
    let mut amr = vec![first.as_str()];
    amr.extend(shown.amr());
    amr.push("mfa");
    let secret = random_token();
    let row = new_row(ctx, &account_id, acr, &amr, now);
    let mut tx = ctx.db.begin().await?;
    if !storage::factors::take_challenge(&mut tx, &hash).await? {
        return Err(FactorError::NoChallenge);
    }
    storage::sessions::insert(&mut tx, &row, &secret_hash(&secret)).await?;
    crate::audit::record(
        &mut tx,
        now,
        &crate::audit::account(&account_id),
        crate::audit::Action::LoginSucceeded,
        &format!("session:{}", row.id),
        serde_json::json!({ "acr": acr, "amr": amr, "second_factor": shown.as_str() }),
    )
    .await?;
    tx.commit().await.map_err(StorageError::from)?;
    tracing::info!("login succeeded with a second factor");
    Ok(Started { secret, account_id })
}

/// Raise a live session to two factors with a second factor (step-up): the same session, its
/// `auth_time` unchanged, its `acr` now `LOA2` or `LOA3` and the factor's methods and `mfa` added
/// to its `amr`.
pub async fn step_up(
    ctx: &Identity,
    s: &SessionRow,
    proof: Proof<'_>,
    addr: &str,
    now: i64,
) -> Result<(), FactorError> {
    let shown = super::second_factor::verify(ctx, &s.account_id, proof, addr, now).await?;
    let a = super::accounts::account(ctx, &s.account_id)
        .await?
        .ok_or(FactorError::NoChallenge)?;
    let acr = level(true, super::proofing::is_proven(&a));
    let mut amr: Vec<&str> = s.amr.split(' ').filter(|m| !m.is_empty()).collect();
    for m in shown.amr().iter().copied().chain(["mfa"]) {
        if !amr.contains(&m) {
            amr.push(m);
        }
    }
    let mut tx = ctx.db.begin().await?;
    if !storage::sessions::upgrade(&mut tx, &s.id, acr, &amr.join(" ")).await? {
        return Err(FactorError::NoChallenge);
    }
    crate::audit::record(
        &mut tx,
        now,
        &crate::audit::account(&s.account_id),
        crate::audit::Action::SessionSteppedUp,
        &format!("session:{}", s.id),
        serde_json::json!({ "acr": acr, "amr": amr, "second_factor": shown.as_str() }),
    )
    .await?;
    tx.commit().await.map_err(StorageError::from)?;
    Ok(())
}

/// A passwordless sign-in with a passkey (user verification performed: two factors): a session at
/// `LOA2`, or `LOA3` for a proven identity, `amr` `hwk`/`swk`, `user`, `mfa`.
pub async fn passkey_sign_in(
    ctx: &Identity,
    ceremony: &str,
    assertion: &str,
    addr: &str,
    now: i64,
) -> Result<Started, FactorError> {
    let (a, shown) = super::passkeys::discover(ctx, ceremony, assertion, addr, now).await?;
    let acr = level(true, super::proofing::is_proven(&a));
    let mut amr: Vec<&str> = shown.amr().to_vec();
    amr.push("mfa");
    let (secret, _) = create(ctx, &a.id, acr, &amr, now).await?;
    tracing::info!("login succeeded with a passkey");
    Ok(Started {
        secret,
        account_id: a.id,
    })
}

/// The device cookie's name over plain HTTP (`__Host-` prefixed under https): a random secret that
/// names this browser, so a sign-in from a browser the account has not used before is noticed.
pub const DEVICE_COOKIE: &str = "tongban_device";

/// Note the browser a sign-in came from (`device`: its cookie's secret, if it has one). A browser
/// the account has not signed in from before is a security notice (`new_sign_in`), unless it is
/// the account's first. Returns a new secret for the cookie when the browser had none.
pub async fn note_device(
    ctx: &Identity,
    account_id: &str,
    device: Option<&str>,
    now: i64,
) -> Result<Option<String>, StorageError> {
    let fresh = device.is_none().then(random_token);
    let secret = device.or(fresh.as_deref()).unwrap_or_default();
    let hash = secret_hash(&format!("device {secret}"));
    let (known, devices) = storage::sessions::device(&ctx.db, account_id, &hash).await?;
    let mut tx = ctx.db.begin().await?;
    storage::sessions::device_seen(&mut tx, account_id, &hash, now).await?;
    if !known && devices > 0 {
        super::notices::notice(ctx, &mut tx, account_id, "new_sign_in", now).await?;
    }
    tx.commit().await?;
    if !known && devices > 0 {
        ctx.outbox.notify_one();
    }
    Ok(fresh)
}

/// Seconds after a sign-in during which its session may add a second factor.
pub const FRESH_FOR: i64 = 600;

/// Whether session `s` may add a second factor now: signed in within [`FRESH_FOR`] seconds and,
/// when the account already has a factor, with one (a session above loa 1). Otherwise a session
/// cookie taken from a browser would let the thief add their own authenticator (and, with the
/// first factor, get the recovery codes).
pub async fn may_add_factor(ctx: &Identity, s: &SessionRow, now: i64) -> Result<(), FactorError> {
    if now - s.auth_time > FRESH_FOR {
        return Err(FactorError::FreshSignInNeeded);
    }
    if s.acr == LOA1 && super::factors::has_factor(ctx, &s.account_id).await? {
        return Err(FactorError::FreshSignInNeeded);
    }
    Ok(())
}
