//! Verified contact details and password reset.
//!
//! - Email: a link with a 256-bit token (stored hashed, 24 hours, once) sent to the address; opening
//!   it and confirming marks that address verified (not a later one).
//! - Phone: a 6-digit code by the SMS gateway (stored hashed, 10 minutes, 5 tries).
//! - Password reset: asked with an email address or phone number; when it names an account with
//!   that address verified, a link (15 minutes, once) goes there. The answer is the same whether
//!   or not an account exists, and is given before the request is looked at. Setting the new
//!   password spends the link, revokes every grant (offline ones too), notifies, and every session
//!   ends (`oidc::logout::password_reset`, with back-channel logout).
//! - Each kind of message goes to an account at most five times a day, a minute apart.

use serde_json::json;

use super::context::Identity;
use super::notices::Outgoing;
use crate::crypto::password::{check_policy, PolicyError};
use crate::crypto::{constant_time_eq, random_token, secret_hash};
use crate::storage::{self, accounts::AccountRow, StorageError};

const EMAIL_TTL: i64 = 24 * 3600;
const PHONE_TTL: i64 = 600;
const PHONE_TRIES: i64 = 5;
/// How long a reset link lives.
pub const RESET_TTL: i64 = 15 * 60;

#[derive(Debug, thiserror::Error)]
pub enum ContactError {
    #[error("no_email: the account has no email address")]
    NoEmail,
    #[error("no_phone: the account has no phone number")]
    NoPhone,
    #[error("already_verified: this address is already verified")]
    AlreadyVerified,
    #[error("link_invalid: the link is wrong, used or expired")]
    LinkInvalid,
    #[error("code_invalid: the code is wrong or expired")]
    CodeInvalid,
    #[error("too_many: too many messages asked for; wait and try again")]
    TooMany,
    #[error("the new password is not acceptable: {0}")]
    Password(PolicyError),
    #[error("password hashing failed")]
    Hashing,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl ContactError {
    /// The catalogue key shown to the person (`None`: the server's failure).
    pub fn key(&self) -> Option<&'static str> {
        Some(match self {
            Self::NoEmail => "contact_no_email",
            Self::NoPhone => "contact_no_phone",
            Self::AlreadyVerified => "contact_already_verified",
            Self::LinkInvalid => "contact_link_invalid",
            Self::CodeInvalid => "contact_code_invalid",
            Self::TooMany => "contact_too_many",
            Self::Password(p) => (*p).key(),
            Self::Hashing | Self::Storage(_) => return None,
        })
    }
}

/// Messages of one kind an account may be sent in a day, and the least seconds between two: a
/// victim's inbox or phone cannot be flooded through someone else's account or a reset request.
const PER_DAY: i64 = 5;
const GAP: i64 = 60;

/// Whether the account may be sent another message of `kind` now.
async fn may_send(
    ctx: &Identity,
    account_id: &str,
    kind: &str,
    now: i64,
) -> Result<bool, StorageError> {
    let (n, last) = storage::contacts::sent_since(&ctx.db, account_id, kind, now - 86_400).await?;
    Ok(n < PER_DAY && last.is_none_or(|t| now - t >= GAP))
}

/// The phone number as the SMS gateway takes it (E.164; numbers are stored without `+86`).
fn e164(phone: &str) -> String {
    if phone.starts_with('+') {
        phone.to_owned()
    } else {
        format!("+86{phone}")
    }
}

/// Send a verification link to the account's email address.
pub async fn send_email_link(ctx: &Identity, a: &AccountRow, now: i64) -> Result<(), ContactError> {
    let email = a.email.clone().ok_or(ContactError::NoEmail)?;
    if a.email_verified_at.is_some() {
        return Err(ContactError::AlreadyVerified);
    }
    if !may_send(ctx, &a.id, "verify_email", now).await? {
        return Err(ContactError::TooMany);
    }
    let token = random_token();
    let link = format!("{}/account/email/verify?token={token}", ctx.issuer);
    let mut tx = ctx.db.begin().await?;
    storage::contacts::insert_token(
        &mut tx,
        &secret_hash(&token),
        &a.id,
        "email",
        &email,
        now,
        now + EMAIL_TTL,
    )
    .await?;
    let m = Outgoing {
        account_id: &a.id,
        channel: "email",
        kind: "verify_email",
        to: &email,
        params: json!({ "link": link }),
    };
    super::notices::queue(ctx, &mut tx, m, now).await?;
    tx.commit().await.map_err(StorageError::from)?;
    ctx.outbox.notify_one();
    Ok(())
}

/// Whether a link's token is live for `purpose` (the page that confirms it shows first).
pub async fn link_is_live(
    ctx: &Identity,
    token: &str,
    purpose: &str,
    now: i64,
) -> Result<bool, StorageError> {
    Ok(storage::contacts::token(&ctx.db, &secret_hash(token))
        .await?
        .is_some_and(|t| t.purpose == purpose && t.used_at.is_none() && t.expires_at > now))
}

/// Confirm an email address with the token of its link: the address it was sent to is verified.
pub async fn verify_email(ctx: &Identity, token: &str, now: i64) -> Result<String, ContactError> {
    let hash = secret_hash(token);
    let t = storage::contacts::token(&ctx.db, &hash)
        .await?
        .filter(|t| t.purpose == "email")
        .ok_or(ContactError::LinkInvalid)?;
    let mut tx = ctx.db.begin().await?;
    if !storage::contacts::use_token(&mut tx, &hash, now).await?
        || !storage::contacts::set_verified(&mut tx, &t.account_id, "email", &t.address, now)
            .await?
    {
        return Err(ContactError::LinkInvalid);
    }
    crate::audit::record(
        &mut tx,
        now,
        &crate::audit::account(&t.account_id),
        crate::audit::Action::EmailVerified,
        &crate::audit::account(&t.account_id),
        json!({}),
    )
    .await?;
    tx.commit().await.map_err(StorageError::from)?;
    Ok(t.account_id)
}

/// A phone code as stored: keyed (HMAC with the data key's index key), as six digits alone are
/// found from a plain hash at once.
fn phone_hash(ctx: &Identity, account_id: &str, code: &str) -> Vec<u8> {
    ctx.keys
        .data()
        .blind_index(&format!("phone code {account_id} {code}"))
}

/// Send a 6-digit code to the account's phone by SMS.
pub async fn send_phone_code(ctx: &Identity, a: &AccountRow, now: i64) -> Result<(), ContactError> {
    let phone = a.phone.clone().ok_or(ContactError::NoPhone)?;
    if a.phone_verified_at.is_some() {
        return Err(ContactError::AlreadyVerified);
    }
    if !may_send(ctx, &a.id, "phone_code", now).await? {
        return Err(ContactError::TooMany);
    }
    let n = rand::Rng::gen_range(&mut rand::rngs::OsRng, 0..1_000_000u32);
    let code = format!("{n:06}");
    let mut tx = ctx.db.begin().await?;
    // One live code at a time: the new one replaces the others (and their tries).
    storage::contacts::drop_tokens(&mut tx, &a.id, "phone").await?;
    storage::contacts::insert_token(
        &mut tx,
        &phone_hash(ctx, &a.id, &code),
        &a.id,
        "phone",
        &phone,
        now,
        now + PHONE_TTL,
    )
    .await?;
    let to = e164(&phone);
    let m = Outgoing {
        account_id: &a.id,
        channel: "sms",
        kind: "phone_code",
        to: &to,
        params: json!({ "code": code }),
    };
    super::notices::queue(ctx, &mut tx, m, now).await?;
    tx.commit().await.map_err(StorageError::from)?;
    ctx.outbox.notify_one();
    Ok(())
}

/// Confirm the phone with the code it received.
pub async fn verify_phone(
    ctx: &Identity,
    a: &AccountRow,
    code: &str,
    now: i64,
) -> Result<(), ContactError> {
    let Some(t) = storage::contacts::live_token_of(&ctx.db, &a.id, "phone", now).await? else {
        return Err(ContactError::CodeInvalid);
    };
    let hash = t.token_hash.clone();
    let code: String = code.chars().filter(char::is_ascii_digit).collect();
    // The try is counted before the comparison, atomically: the sixth guess finds no token.
    if !storage::contacts::count_try(&ctx.db, &hash, PHONE_TRIES, now).await?
        || !constant_time_eq(&phone_hash(ctx, &a.id, &code), &hash)
    {
        return Err(ContactError::CodeInvalid);
    }
    let mut tx = ctx.db.begin().await?;
    if !storage::contacts::use_token(&mut tx, &hash, now).await?
        || !storage::contacts::set_verified(&mut tx, &a.id, "phone", &t.address, now).await?
    {
        return Err(ContactError::CodeInvalid);
    }
    crate::audit::record(
        &mut tx,
        now,
        &crate::audit::account(&a.id),
        crate::audit::Action::PhoneVerified,
        &crate::audit::account(&a.id),
        json!({}),
    )
    .await?;
    tx.commit().await.map_err(StorageError::from)?;
    Ok(())
}

/// Ask for a password reset with an email address or phone number. Nothing says whether an
/// account exists: a link goes to the address only when it names an enabled account on which
/// that address is verified (a verified email first, else a verified phone); otherwise nothing
/// happens. At most one link a minute and five a day per account; earlier links keep working. The
/// page answers before this runs (`http::pages::recovery`), so its time tells nothing either.
pub async fn request_reset(ctx: &Identity, identifier: &str, now: i64) -> Result<(), StorageError> {
    let ident = identifier.trim();
    let Some(a) = super::accounts::find_by_identifier(ctx, ident).await? else {
        return Ok(());
    };
    if a.disabled_at.is_some() {
        return Ok(());
    }
    let (channel, kind, to) = match (&a.email, a.email_verified_at, &a.phone, a.phone_verified_at) {
        (Some(e), Some(_), _, _) => ("email", "reset_email", e.clone()),
        (_, _, Some(p), Some(_)) => ("sms", "reset_sms", e164(p)),
        _ => return Ok(()),
    };
    if !may_send(ctx, &a.id, kind, now).await? {
        return Ok(());
    }
    let token = random_token();
    let link = format!("{}/login/reset?token={token}", ctx.issuer);
    let mut tx = ctx.db.begin().await?;
    storage::contacts::insert_token(
        &mut tx,
        &secret_hash(&token),
        &a.id,
        "reset",
        &to,
        now,
        now + RESET_TTL,
    )
    .await?;
    let m = Outgoing {
        account_id: &a.id,
        channel,
        kind,
        to: &to,
        params: json!({ "link": link }),
    };
    super::notices::queue(ctx, &mut tx, m, now).await?;
    tx.commit().await?;
    ctx.outbox.notify_one();
    Ok(())
}

/// A reset checked and its new password hashed, nothing written yet.
pub struct PreparedReset {
    pub account_id: String,
    token_hash: Vec<u8>,
    password_hash: String,
    via: &'static str,
}

/// Check a reset link's token and the new password (the policy, then argon2id): nothing is
/// written, the link is not spent.
pub async fn prepare_reset(
    ctx: &Identity,
    token: &str,
    new: &str,
    now: i64,
) -> Result<PreparedReset, ContactError> {
    let token_hash = secret_hash(token);
    let t = storage::contacts::token(&ctx.db, &token_hash)
        .await?
        .filter(|t| t.purpose == "reset" && t.used_at.is_none() && t.expires_at > now)
        .ok_or(ContactError::LinkInvalid)?;
    let a = super::accounts::account(ctx, &t.account_id)
        .await?
        .ok_or(ContactError::LinkInvalid)?;
    let mut idents = vec![a.name.as_str()];
    idents.extend(a.email.as_deref());
    idents.extend(a.phone.as_deref());
    check_policy(new, &idents).map_err(ContactError::Password)?;
    let password_hash = ctx
        .passwords
        .hash(new.to_owned())
        .await
        .map_err(|_| ContactError::Hashing)?;
    Ok(PreparedReset {
        account_id: a.id,
        token_hash,
        password_hash,
        via: if t.address.contains('@') {
            "email"
        } else {
            "sms"
        },
    })
}

/// In the caller's transaction (which also revokes the account's grants): spend the link, once,
/// set the password, tell the person (`password_reset`) and audit it.
pub async fn apply_reset(
    ctx: &Identity,
    tx: &mut storage::Tx,
    r: &PreparedReset,
    now: i64,
) -> Result<(), ContactError> {
    if !storage::contacts::use_token(tx, &r.token_hash, now).await? {
        return Err(ContactError::LinkInvalid);
    }
    storage::accounts::set_password_in(tx, &r.account_id, &r.password_hash, now).await?;
    super::notices::notice(ctx, tx, &r.account_id, "password_reset", now).await?;
    crate::audit::record(
        tx,
        now,
        &crate::audit::account(&r.account_id),
        crate::audit::Action::PasswordReset,
        &crate::audit::account(&r.account_id),
        json!({ "via": r.via }),
    )
    .await?;
    Ok(())
}
