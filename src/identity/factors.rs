//! Second factors: TOTP (RFC 6238) keys with ten single-use recovery codes, and how a second factor
//! is checked. Passkeys are stored beside them (`kind = passkey`).
//!
//! A TOTP key is 160 random bits, sealed with the data key (AES-GCM, context `factor:<id>`); codes
//! are 6 digits over 30-second steps, HMAC-SHA1 (what every authenticator app reads from an
//! `otpauth://` URI), accepted one step either side, and each time step at most once per key (the
//! accepted step is recorded atomically, so a code seen by one node is dead at every node). Wrong
//! codes are throttled like passwords, per account and per address. Recovery codes have 80 random
//! bits each and are stored as SHA-256 hashes.

use serde_json::json;
use totp_rs::{Algorithm, TOTP};

use super::context::Identity;
use crate::crypto::{constant_time_eq, normalise_code, random_code, random_id, secret_hash};
use crate::storage::{self, accounts::AccountRow, factors::FactorRow, StorageError};

/// TOTP parameters: 6 digits, 30-second steps, one step of clock skew either side.
const DIGITS: usize = 6;
const STEP: u64 = 30;
const SKEW: u8 = 1;
/// How many recovery codes an account gets.
pub const RECOVERY_CODES: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum FactorError {
    #[error("throttled: too many wrong codes; wait and try again")]
    Throttled,
    #[error("code_invalid: the code is wrong, used or expired")]
    CodeInvalid,
    #[error("no_factor: the account has no second factor")]
    NoFactor,
    #[error("no_enrolment: there is no enrolment to finish; start again")]
    NoEnrolment,
    #[error("no_challenge: the sign-in has expired; sign in again")]
    NoChallenge,
    #[error("already_enrolled: an authenticator app is already set up")]
    AlreadyEnrolled,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl FactorError {
    /// The catalogue key shown to the person (`None`: the server's failure).
    pub fn key(&self) -> Option<&'static str> {
        Some(match self {
            Self::Throttled => "throttled",
            Self::CodeInvalid => "factor_code_invalid",
            Self::NoFactor => "factor_none",
            Self::NoEnrolment => "factor_no_enrolment",
            Self::NoChallenge => "factor_no_challenge",
            Self::AlreadyEnrolled => "factor_already_enrolled",
            Self::Storage(_) => return None,
        })
    }
}

/// How a second factor was shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    Totp,
    RecoveryCode,
}

impl Shown {
    /// Its RFC 8176 `amr` value: both are one-time passwords.
    pub fn amr(self) -> &'static str {
        "otp"
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::RecoveryCode => "recovery_code",
        }
    }
}

/// A TOTP key waiting to be confirmed: what the enrolment page shows.
pub struct TotpEnrolment {
    pub factor_id: String,
    /// The key in base32, for typing into an app by hand.
    pub secret_base32: String,
    /// The `otpauth://totp/...` URI the QR code carries.
    pub uri: String,
}

/// A factor as the account page lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Factor {
    pub id: String,
    pub kind: String,
    pub label: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
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
    let reservation = reserve(ctx, &a.id, address, now).await?;
    let step = digits(code)
        .zip(open_secret(ctx, f))
        .and_then(|(c, s)| matching_step(s, &c, now))
        .ok_or(FactorError::CodeInvalid)?;
    let codes: Vec<String> = if first {
        (0..RECOVERY_CODES).map(|_| random_code()).collect()
    } else {
        vec![]
    };
    let mut tx = ctx.db.begin().await?;
    if !storage::factors::confirm(&mut tx, &f.id, Some(step), now).await? {
        return Err(FactorError::NoEnrolment);
    }
    if first {
        let hashes: Vec<Vec<u8>> = codes
            .iter()
            .map(|c| secret_hash(&normalise_code(c)))
            .collect();
        storage::factors::set_recovery_codes(&mut tx, &a.id, &hashes, now).await?;
    }
    super::proofing::notice(&mut tx, &a.id, "factor_added", now).await?;
    crate::audit::record(
        &mut tx,
        now,
        &crate::audit::account(&a.id),
        crate::audit::Action::FactorAdded,
        &format!("factor:{}", f.id),
        json!({ "kind": "totp", "recovery_codes": codes.len() }),
    )
    .await?;
    tx.commit().await.map_err(StorageError::from)?;
    ctx.throttle.succeeded(&ctx.db, &reservation).await?;
    Ok(codes)
}

/// Count an attempt at a second factor (throttled like passwords: per account, per address).
async fn reserve(
    ctx: &Identity,
    account_id: &str,
    address: &str,
    now: i64,
) -> Result<super::throttle::Reservation, FactorError> {
    let r = ctx
        .throttle
        .reserve(
            &ctx.db,
            ctx.keys.data(),
            &format!("factor:{account_id}"),
            address,
            now,
        )
        .await?;
    if r.allowed {
        Ok(r)
    } else {
        Err(FactorError::Throttled)
    }
}

/// Check a second factor typed by the person: a code from their app (6 digits) or one of their
/// recovery codes (which is then spent). Throttled; a wrong code is audited.
pub async fn verify(
    ctx: &Identity,
    account_id: &str,
    code: &str,
    address: &str,
    now: i64,
) -> Result<Shown, FactorError> {
    let all = storage::factors::for_account(&ctx.db, account_id).await?;
    if !all.iter().any(|f| f.confirmed_at.is_some()) {
        return Err(FactorError::NoFactor);
    }
    let reservation = reserve(ctx, account_id, address, now).await?;
    let shown = if let Some(c) = digits(code) {
        let mut accepted = false;
        for f in all
            .iter()
            .filter(|f| f.kind == "totp" && f.confirmed_at.is_some())
        {
            let Some(step) = open_secret(ctx, f).and_then(|s| matching_step(s, &c, now)) else {
                continue;
            };
            if storage::factors::accept_step(&ctx.db, &f.id, step, now).await? {
                accepted = true;
                break;
            }
        }
        accepted.then_some(Shown::Totp)
    } else {
        let hash = secret_hash(&normalise_code(code));
        storage::factors::use_recovery_code(&ctx.db, account_id, &hash, now)
            .await?
            .then_some(Shown::RecoveryCode)
    };
    let Some(shown) = shown else {
        let object = crate::audit::account(account_id);
        super::accounts::record_failure(ctx, &object, address, "second_factor", now).await;
        return Err(FactorError::CodeInvalid);
    };
    ctx.throttle.succeeded(&ctx.db, &reservation).await?;
    Ok(shown)
}

/// Remove a factor, after a fresh second-factor check (`code`, from any of the account's factors).
/// With the last factor gone, the recovery codes go too.
pub async fn remove(
    ctx: &Identity,
    account_id: &str,
    factor_id: &str,
    code: &str,
    address: &str,
    now: i64,
) -> Result<(), FactorError> {
    verify(ctx, account_id, code, address, now).await?;
    let mut tx = ctx.db.begin().await?;
    if !storage::factors::remove(&mut tx, account_id, factor_id).await? {
        return Err(FactorError::NoFactor);
    }
    storage::factors::clear_recovery_codes_if_none(&mut tx, account_id).await?;
    super::proofing::notice(&mut tx, account_id, "factor_removed", now).await?;
    crate::audit::record(
        &mut tx,
        now,
        &crate::audit::account(account_id),
        crate::audit::Action::FactorRemoved,
        &format!("factor:{factor_id}"),
        json!({}),
    )
    .await?;
    tx.commit().await.map_err(StorageError::from)?;
    Ok(())
}

/// Ten new recovery codes (the old ones stop working), after a fresh second-factor check.
pub async fn renew_recovery_codes(
    ctx: &Identity,
    account_id: &str,
    code: &str,
    address: &str,
    now: i64,
) -> Result<Vec<String>, FactorError> {
    verify(ctx, account_id, code, address, now).await?;
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| random_code()).collect();
    let hashes: Vec<Vec<u8>> = codes
        .iter()
        .map(|c| secret_hash(&normalise_code(c)))
        .collect();
    let mut tx = ctx.db.begin().await?;
    storage::factors::set_recovery_codes(&mut tx, account_id, &hashes, now).await?;
    crate::audit::record(
        &mut tx,
        now,
        &crate::audit::account(account_id),
        crate::audit::Action::RecoveryCodesRenewed,
        &crate::audit::account(account_id),
        json!({ "count": codes.len() }),
    )
    .await?;
    tx.commit().await.map_err(StorageError::from)?;
    Ok(codes)
}

/// An account's confirmed factors, as listed on the account page and by the operator.
pub async fn list(ctx: &Identity, account_id: &str) -> Result<Vec<Factor>, StorageError> {
    Ok(storage::factors::for_account(&ctx.db, account_id)
        .await?
        .into_iter()
        .filter(|f| f.confirmed_at.is_some())
        .map(|f| Factor {
            id: f.id,
            kind: f.kind,
            label: f.label,
            created_at: f.created_at,
            last_used_at: f.last_used_at,
        })
        .collect())
}

/// How many of the account's recovery codes are unused.
pub async fn recovery_codes_left(ctx: &Identity, account_id: &str) -> Result<i64, StorageError> {
    storage::factors::recovery_codes_left(&ctx.db, account_id).await
}

/// Whether the account has a confirmed second factor.
pub async fn has_factor(ctx: &Identity, account_id: &str) -> Result<bool, StorageError> {
    Ok(storage::factors::confirmed_count(&ctx.db, account_id).await? > 0)
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
