//! Second factors, what every kind shares: the errors, how a factor was shown (`Shown`, its `amr`),
//! what the person shows (`Proof`), the throttle, adding a factor with the first factor's ten
//! recovery codes (80 random bits each, stored as SHA-256 hashes), and listing. The kinds are
//! `identity::totp` (authenticator apps) and `identity::passkeys`; `identity::second_factor` checks
//! any of them.

use serde_json::json;

use super::context::Identity;
use crate::crypto::{normalise_code, random_code, secret_hash};
use crate::storage::{self, factors::FactorRow, StorageError};

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
    #[error("passkeys_unavailable: this service offers no passkeys (its address is not a domain)")]
    PasskeysUnavailable,
    #[error("passkey_refused: the passkey's answer could not be accepted")]
    PasskeyRefused,
    #[error("fresh_sign_in: sign in again (with your second factor, if you have one) to add one")]
    FreshSignInNeeded,
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
            Self::PasskeysUnavailable => "passkeys_unavailable",
            Self::PasskeyRefused => "passkey_refused",
            Self::FreshSignInNeeded => "factor_fresh_sign_in",
            Self::Storage(_) => return None,
        })
    }
}

/// How a second factor was shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    Totp,
    RecoveryCode,
    /// A passkey, with user verification; `synced` when the credential may be backed up (a
    /// software-held key) rather than bound to one device.
    Passkey {
        synced: bool,
    },
}

impl Shown {
    /// Its RFC 8176 `amr` values: codes are one-time passwords (`otp`); a passkey is a key held in
    /// hardware (`hwk`) or software (`swk`), with the person's presence and verification (`user`).
    pub fn amr(self) -> &'static [&'static str] {
        match self {
            Self::Totp | Self::RecoveryCode => &["otp"],
            Self::Passkey { synced: false } => &["hwk", "user"],
            Self::Passkey { synced: true } => &["swk", "user"],
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::RecoveryCode => "recovery_code",
            Self::Passkey { .. } => "passkey",
        }
    }
}

/// A second factor as the person shows it: a code (from the app, or a recovery code), or the
/// browser's answer to a passkey ceremony begun for this account.
#[derive(Debug, Clone, Copy)]
pub enum Proof<'a> {
    Code(&'a str),
    Passkey {
        ceremony: &'a str,
        assertion: &'a str,
    },
}

impl<'a> Proof<'a> {
    /// From a form's fields: a passkey's answer when the page's script filled `ceremony` and
    /// `credential`, else the typed `code`.
    pub fn from_form(code: &'a str, ceremony: &'a str, credential: &'a str) -> Self {
        if ceremony.is_empty() || credential.is_empty() {
            Proof::Code(code)
        } else {
            Proof::Passkey {
                ceremony,
                assertion: credential,
            }
        }
    }
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

/// Store a factor confirmed as it is added (a passkey); with `first`, the account's ten recovery
/// codes, returned to be shown once.
pub(super) async fn add_confirmed(
    ctx: &Identity,
    row: &FactorRow,
    first: bool,
    now: i64,
) -> Result<Vec<String>, FactorError> {
    let codes = fresh_codes(first);
    let mut tx = ctx.db.begin().await?;
    storage::factors::insert(&mut tx, row).await?;
    added(
        ctx,
        &mut tx,
        &row.account_id,
        &row.id,
        &row.kind,
        &codes,
        now,
    )
    .await?;
    tx.commit().await.map_err(StorageError::from)?;
    Ok(codes)
}

/// Ten new recovery codes when `first` (the account's first factor), else none.
pub(super) fn fresh_codes(first: bool) -> Vec<String> {
    if first {
        (0..RECOVERY_CODES).map(|_| random_code()).collect()
    } else {
        vec![]
    }
}

/// What is stored of recovery codes: their SHA-256 hashes, normalised as typed.
pub(super) fn code_hashes(codes: &[String]) -> Vec<Vec<u8>> {
    codes
        .iter()
        .map(|c| secret_hash(&normalise_code(c)))
        .collect()
}

/// In the transaction that confirms a factor: the first factor's recovery codes, the account's
/// notice and the audit event.
pub(super) async fn added(
    ctx: &Identity,
    tx: &mut storage::Tx,
    account_id: &str,
    factor_id: &str,
    kind: &str,
    codes: &[String],
    now: i64,
) -> Result<(), StorageError> {
    if !codes.is_empty() {
        storage::factors::set_recovery_codes(tx, account_id, &code_hashes(codes), now).await?;
    }
    super::notices::notice(ctx, tx, account_id, "factor_added", now).await?;
    crate::audit::record(
        tx,
        now,
        &crate::audit::account(account_id),
        crate::audit::Action::FactorAdded,
        &format!("factor:{factor_id}"),
        json!({ "kind": kind, "recovery_codes": codes.len() }),
    )
    .await?;
    Ok(())
}

/// Count an attempt at a second factor (throttled like passwords: per account, per address).
pub(super) async fn reserve(
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
