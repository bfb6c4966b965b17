//! Authenticator apps (RFC 6238 TOTP). A key is 160 random bits, sealed with the data key (AES-GCM,
//! context `factor:<id>`); codes are 6 digits over 30-second steps, HMAC-SHA1 (what every
//! authenticator app reads from an `otpauth://` URI), accepted one step either side, and each time
//! step at most once per key (the accepted step is recorded atomically, so a code seen by one node
//! is dead at every node).

use totp_rs::{Algorithm, TOTP};

use super::context::Identity;
use super::factors::{FactorError, Shown};
use crate::crypto::{constant_time_eq, normalise_code, random_id, secret_hash};
use crate::storage::{self, accounts::AccountRow, factors::FactorRow, StorageError};

/// TOTP parameters: 6 digits, 30-second steps, one step of clock skew either side.
const DIGITS: usize = 6;
const STEP: u64 = 30;
const SKEW: u8 = 1;
/// A TOTP key waiting to be confirmed: what the enrolment page shows.
pub struct TotpEnrolment {
    pub factor_id: String,
    /// The key in base32, for typing into an app by hand.
    pub secret_base32: String,
    /// The `otpauth://totp/...` URI the QR code carries.
    pub uri: String,
}

fn totp(secret: Vec<u8>, issuer: &str, account_name: &str) -> Option<TOTP> {
    // otpauth labels may not hold ':'.
    let clean = |s: &str| s.replace(':', " ");
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        SKEW,
        STEP,
        secret,
        Some(clean(issuer)),
        clean(account_name),
    )
    .ok()
}

fn open_secret(ctx: &Identity, f: &FactorRow) -> Option<Vec<u8>> {
    let sealed = f.secret.as_deref()?;
    ctx.keys
        .data()
        .open_bytes(sealed, &format!("factor:{}", f.id))
        .ok()
}

fn enrolment(
    ctx: &Identity,
    f: &FactorRow,
    issuer: &str,
    account_name: &str,
) -> Option<TotpEnrolment> {
    let t = totp(open_secret(ctx, f)?, issuer, account_name)?;
    Some(TotpEnrolment {
        factor_id: f.id.clone(),
        secret_base32: t.get_secret_base32(),
        uri: t.get_url(),
    })
}

/// Begin setting up an authenticator app: a new key, unconfirmed until a code from it is typed
/// (an earlier unfinished enrolment is dropped). One confirmed app per account.
pub async fn begin_totp(
    ctx: &Identity,
    a: &AccountRow,
    issuer: &str,
    now: i64,
) -> Result<TotpEnrolment, FactorError> {
    let existing = storage::factors::for_account(&ctx.db, &a.id).await?;
    if existing
        .iter()
        .any(|f| f.kind == "totp" && f.confirmed_at.is_some())
    {
        return Err(FactorError::AlreadyEnrolled);
    }
    let mut key = vec![0u8; 20];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    let id = format!("f_{}", random_id());
    let row = FactorRow {
        id: id.clone(),
        account_id: a.id.clone(),
        kind: "totp".into(),
        label: "totp".into(),
        secret: Some(ctx.keys.data().seal_bytes(&key, &format!("factor:{id}"))),
        credential: None,
        credential_id: None,
        last_step: None,
        created_at: now,
        confirmed_at: None,
        last_used_at: None,
    };
    let mut tx = ctx.db.begin().await?;
    storage::factors::drop_unconfirmed(&mut tx, &a.id, "totp").await?;
    storage::factors::insert(&mut tx, &row).await?;
    tx.commit().await.map_err(StorageError::from)?;
    enrolment(ctx, &row, issuer, &account_label(a)).ok_or(FactorError::NoEnrolment)
}

/// The enrolment waiting to be confirmed, if any (the page shown again).
pub async fn pending_totp(
    ctx: &Identity,
    a: &AccountRow,
    issuer: &str,
) -> Result<Option<TotpEnrolment>, StorageError> {
    let all = storage::factors::for_account(&ctx.db, &a.id).await?;
    Ok(all
        .iter()
        .find(|f| f.kind == "totp" && f.confirmed_at.is_none())
        .and_then(|f| enrolment(ctx, f, issuer, &account_label(a))))
}

/// What the authenticator app names the account: the email, else the account's name; never the
/// identity number.
fn account_label(a: &AccountRow) -> String {
    a.email.clone().unwrap_or_else(|| a.name.clone())
}

/// The time steps a code typed at `now` may belong to, newest first.
fn steps(now: i64) -> impl Iterator<Item = i64> {
    let t = now.max(0) / STEP as i64;
    (t - i64::from(SKEW)..=t + i64::from(SKEW)).rev()
}

/// The time step (if any) of `now`'s window at which `code` is the key's code.
fn matching_step(secret: Vec<u8>, code: &str, now: i64) -> Option<i64> {
    let t = totp(secret, "tongban", "account")?;
    steps(now).find(|s| {
        let expected = t.generate(u64::try_from(*s).unwrap_or(0) * STEP);
        constant_time_eq(expected.as_bytes(), code.as_bytes())
    })
}

fn digits(code: &str) -> Option<String> {
    let c: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    (c.len() == DIGITS && c.bytes().all(|b| b.is_ascii_digit())).then_some(c)
}

/// Finish setting up the app with a code from it. Returns the recovery codes, shown once: ten new
/// ones when this is the account's first factor, none otherwise.
pub async fn confirm_totp(
    ctx: &Identity,
    a: &AccountRow,
    code: &str,
    address: &str,
    now: i64,
) -> Result<Vec<String>, FactorError> {
    let all = storage::factors::for_account(&ctx.db, &a.id).await?;
    let Some(f) = all
        .iter()
        .find(|f| f.kind == "totp" && f.confirmed_at.is_none())
    else {
        return Err(FactorError::NoEnrolment);
    };
    let first = !all.iter().any(|f| f.confirmed_at.is_some());
    let reservation = super::factors::reserve(ctx, &a.id, address, now).await?;
    let step = digits(code)
        .zip(open_secret(ctx, f))
        .and_then(|(c, s)| matching_step(s, &c, now))
        .ok_or(FactorError::CodeInvalid)?;
    let codes = super::factors::fresh_codes(first);
    let mut tx = ctx.db.begin().await?;
    if !storage::factors::confirm(&mut tx, &f.id, Some(step), now).await? {
        return Err(FactorError::NoEnrolment);
    }
    super::factors::added(ctx, &mut tx, &a.id, &f.id, "totp", &codes, now).await?;
    tx.commit().await.map_err(StorageError::from)?;
    ctx.throttle.succeeded(&ctx.db, &reservation).await?;
    Ok(codes)
}

/// A typed code: the app's code at one of this window's steps not yet accepted, or an unused
/// recovery code (spent now).
pub(super) async fn check_code(
    ctx: &Identity,
    account_id: &str,
    all: &[FactorRow],
    code: &str,
    now: i64,
) -> Result<Option<Shown>, FactorError> {
    if let Some(c) = digits(code) {
        for f in all
            .iter()
            .filter(|f| f.kind == "totp" && f.confirmed_at.is_some())
        {
            let Some(step) = open_secret(ctx, f).and_then(|s| matching_step(s, &c, now)) else {
                continue;
            };
            if storage::factors::accept_step(&ctx.db, &f.id, step, now).await? {
                return Ok(Some(Shown::Totp));
            }
        }
        return Ok(None);
    }
    let hash = secret_hash(&normalise_code(code));
    Ok(
        storage::factors::use_recovery_code(&ctx.db, account_id, &hash, now)
            .await?
            .then_some(Shown::RecoveryCode),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vector_and_the_window() {
        // RFC 6238 appendix B, SHA-1, T = 59 s: 94287082 (8 digits); our 6 digits are its last six.
        let key = b"12345678901234567890".to_vec();
        let t = totp(key.clone(), "tongban", "a").unwrap();
        assert_eq!(t.generate(59), "287082");
        assert_eq!(matching_step(key.clone(), "287082", 59), Some(1));
        assert_eq!(
            matching_step(key.clone(), "287082", 89),
            Some(1),
            "one step late"
        );
        assert_eq!(
            matching_step(key.clone(), "287082", 120),
            None,
            "two steps late"
        );
        assert_eq!(digits(" 287 082 "), Some("287082".into()));
        assert_eq!(digits("28708"), None);
    }
}
