//! Passkeys (WebAuthn, with `webauthn-rs`): added on the account page, shown as a second factor
//! after a password, as the fresh check that removes a factor, and on their own as a passwordless
//! sign-in. User verification (the device's PIN or biometric) is required in every ceremony, so a
//! passkey alone is two factors (something held, and something known or been).
//!
//! Each ceremony has two requests: the options go to the browser and the state that checks its
//! answer waits in the database (`passkey_ceremonies`, 5 minutes, taken once), so any node can take
//! the answer and no answer is accepted twice. The relying party is the issuer's host; an issuer
//! whose host is an IP address cannot have passkeys (WebAuthn needs a domain), and then none are
//! offered and discovery lists no passkey methods.

use serde_json::{json, Value};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Url, Uuid, Webauthn,
    WebauthnBuilder,
};

use super::context::Identity;
use super::factors::{FactorError, Shown};
use crate::crypto::{random_id, random_token, secret_hash};
use crate::storage::{self, accounts::AccountRow, StorageError};

/// Seconds a ceremony waits for the browser.
const CEREMONY_TTL: i64 = 300;

/// The relying party for `issuer` (`https://id.example.cn` → RP id `id.example.cn`), or `None`
/// when the issuer's host is not a domain name.
pub fn relying_party(issuer: &str) -> Option<Webauthn> {
    let origin = Url::parse(issuer).ok()?;
    let rp_id = origin.domain()?.to_owned();
    WebauthnBuilder::new(&rp_id, &origin)
        .ok()?
        .rp_name("tongban")
        .timeout(std::time::Duration::from_secs(CEREMONY_TTL as u64))
        .build()
        .ok()
}

/// What the browser gets to start a ceremony: the secret naming it, and the WebAuthn options.
pub struct Ceremony {
    pub secret: String,
    pub options: Value,
}

/// The WebAuthn user handle of an account: 16 bytes derived from its id (no personal data; the
/// authenticator hands it back at a passwordless sign-in, where it must match the passkey's owner).
fn user_handle(account_id: &str) -> Uuid {
    let h = secret_hash(&format!("tongban passkey user {account_id}"));
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    Uuid::from_bytes(b)
}

fn rp(ctx: &Identity) -> Result<&Webauthn, FactorError> {
    ctx.passkeys
        .as_deref()
        .ok_or(FactorError::PasskeysUnavailable)
}

async fn park(
    ctx: &Identity,
    account_id: Option<&str>,
    purpose: &str,
    state: &impl serde::Serialize,
    options: Value,
    now: i64,
) -> Result<Ceremony, FactorError> {
    let secret = random_token();
    let state = serde_json::to_string(state).map_err(|_| FactorError::PasskeyRefused)?;
    storage::factors::insert_ceremony(
        &ctx.db,
        &secret_hash(&secret),
        account_id,
        purpose,
        &state,
        now,
        now + CEREMONY_TTL,
    )
    .await?;
    Ok(Ceremony { secret, options })
}

/// Take the ceremony `secret` of `purpose`: its account and its state.
async fn take<T: serde::de::DeserializeOwned>(
    ctx: &Identity,
    secret: &str,
    purpose: &str,
    now: i64,
) -> Result<(Option<String>, T), FactorError> {
    let (account, state) =
        storage::factors::take_ceremony(&ctx.db, &secret_hash(secret), purpose, now)
            .await?
            .ok_or(FactorError::NoChallenge)?;
    let state = serde_json::from_str(&state).map_err(|_| FactorError::NoChallenge)?;
    Ok((account, state))
}

/// An account's confirmed passkeys: (factor id, credential).
async fn passkeys_of(
    ctx: &Identity,
    account_id: &str,
) -> Result<Vec<(String, Passkey)>, StorageError> {
    Ok(storage::factors::for_account(&ctx.db, account_id)
        .await?
        .into_iter()
        .filter(|f| f.kind == "passkey" && f.confirmed_at.is_some())
        .filter_map(|f| {
            let pk = serde_json::from_str(f.credential.as_deref()?).ok()?;
            Some((f.id, pk))
        })
        .collect())
}

/// Whether the account has a passkey (the second-factor prompt then offers it).
pub async fn has_passkey(ctx: &Identity, account_id: &str) -> Result<bool, StorageError> {
    if ctx.passkeys.is_none() {
        return Ok(false);
    }
    Ok(!passkeys_of(ctx, account_id).await?.is_empty())
}

/// Begin adding a passkey to a signed-in account (the passkeys it has are excluded, so one device
/// is not added twice). The credential is asked to be discoverable, for passwordless sign-in.
pub async fn begin_registration(
    ctx: &Identity,
    a: &AccountRow,
    now: i64,
) -> Result<Ceremony, FactorError> {
    let webauthn = rp(ctx)?;
    let existing: Vec<_> = passkeys_of(ctx, &a.id)
        .await?
        .iter()
        .map(|(_, pk)| pk.cred_id().clone())
        .collect();
    let label = a.email.clone().unwrap_or_else(|| a.name.clone());
    let (ccr, state) = webauthn
        .start_passkey_registration(user_handle(&a.id), &label, &a.name, Some(existing))
        .map_err(|_| FactorError::PasskeyRefused)?;
    let mut options = serde_json::to_value(&ccr).map_err(|_| FactorError::PasskeyRefused)?;
    // webauthn-rs discourages resident keys for passkeys; ours are also for signing in without a
    // password, which needs the authenticator to keep the credential (a discoverable credential).
    if let Some(sel) = options.pointer_mut("/publicKey/authenticatorSelection") {
        sel["residentKey"] = json!("required");
        sel["requireResidentKey"] = json!(true);
    }
    park(ctx, Some(&a.id), "register", &state, options, now).await
}

/// Finish adding a passkey with the browser's answer. Returns the recovery codes, shown once: ten
/// when this is the account's first factor, none otherwise.
pub async fn finish_registration(
    ctx: &Identity,
    a: &AccountRow,
    ceremony: &str,
    credential: &str,
    now: i64,
) -> Result<Vec<String>, FactorError> {
    let webauthn = rp(ctx)?;
    let (owner, state): (_, PasskeyRegistration) = take(ctx, ceremony, "register", now).await?;
    if owner.as_deref() != Some(a.id.as_str()) {
        return Err(FactorError::NoChallenge);
    }
    let reg: RegisterPublicKeyCredential =
        serde_json::from_str(credential).map_err(|_| FactorError::PasskeyRefused)?;
    let pk = webauthn
        .finish_passkey_registration(&reg, &state)
        .map_err(|e| {
            tracing::info!(error = %e, "passkey registration refused");
            FactorError::PasskeyRefused
        })?;
    let id = format!("f_{}", random_id());
    let first = !super::factors::has_factor(ctx, &a.id).await?;
    let row = storage::factors::FactorRow {
        id: id.clone(),
        account_id: a.id.clone(),
        kind: "passkey".into(),
        label: "passkey".into(),
        secret: None,
        credential: Some(serde_json::to_string(&pk).map_err(|_| FactorError::PasskeyRefused)?),
        credential_id: Some(pk.cred_id().to_vec()),
        last_step: None,
        created_at: now,
        confirmed_at: Some(now),
        last_used_at: None,
    };
    super::factors::add_confirmed(ctx, &row, first, now).await
}

/// Begin a passkey check for a known account (after its password, to step a session up, or as the
/// fresh check before removing a factor).
pub async fn begin_assertion(
    ctx: &Identity,
    account_id: &str,
    now: i64,
) -> Result<Ceremony, FactorError> {
    let webauthn = rp(ctx)?;
    let keys: Vec<Passkey> = passkeys_of(ctx, account_id)
        .await?
        .into_iter()
        .map(|(_, pk)| pk)
        .collect();
    if keys.is_empty() {
        return Err(FactorError::NoFactor);
    }
    let (rcr, state) = webauthn
        .start_passkey_authentication(&keys)
        .map_err(|_| FactorError::PasskeyRefused)?;
    let options = serde_json::to_value(&rcr).map_err(|_| FactorError::PasskeyRefused)?;
    park(ctx, Some(account_id), "assert", &state, options, now).await
}

/// Begin a passwordless sign-in: the browser offers the passkeys it holds for this site.
pub async fn begin_discovery(ctx: &Identity, now: i64) -> Result<Ceremony, FactorError> {
    let webauthn = rp(ctx)?;
    let (rcr, state) = webauthn
        .start_discoverable_authentication()
        .map_err(|_| FactorError::PasskeyRefused)?;
    let mut options = serde_json::to_value(&rcr).map_err(|_| FactorError::PasskeyRefused)?;
    // webauthn-rs asks for conditional mediation (autofill); ours is a button the person presses.
    if let Some(o) = options.as_object_mut() {
        o.remove("mediation");
    }
    park(ctx, None, "discover", &state, options, now).await
}

/// How a passkey answered: `swk` for a synced (backup-eligible) credential, `hwk` for one bound to
/// its device (RFC 8176).
fn shown(backup_eligible: bool) -> Shown {
    Shown::Passkey {
        synced: backup_eligible,
    }
}

/// Record the passkey's new signature counter and backup state.
async fn used(
    ctx: &Identity,
    factor_id: &str,
    mut pk: Passkey,
    result: &webauthn_rs::prelude::AuthenticationResult,
    now: i64,
) -> Result<(), FactorError> {
    pk.update_credential(result);
    let stored = serde_json::to_string(&pk).map_err(|_| FactorError::PasskeyRefused)?;
    storage::factors::passkey_used(&ctx.db, factor_id, &stored, now).await?;
    Ok(())
}

/// Check the browser's answer to an `assert` ceremony for `account_id` (the caller counts the
/// attempt in the throttle and audits a failure).
pub(super) async fn check_assertion(
    ctx: &Identity,
    account_id: &str,
    ceremony: &str,
    assertion: &str,
    now: i64,
) -> Result<Shown, FactorError> {
    let webauthn = rp(ctx)?;
    let (owner, state): (_, PasskeyAuthentication) = take(ctx, ceremony, "assert", now).await?;
    if owner.as_deref() != Some(account_id) {
        return Err(FactorError::NoChallenge);
    }
    let answer: PublicKeyCredential =
        serde_json::from_str(assertion).map_err(|_| FactorError::CodeInvalid)?;
    let result = webauthn
        .finish_passkey_authentication(&answer, &state)
        .map_err(|_| FactorError::CodeInvalid)?;
    let (factor_id, pk) = passkeys_of(ctx, account_id)
        .await?
        .into_iter()
        .find(|(_, pk)| pk.cred_id() == result.cred_id())
        .ok_or(FactorError::CodeInvalid)?;
    used(ctx, &factor_id, pk, &result, now).await?;
    Ok(shown(result.backup_eligible()))
}

/// Check the browser's answer to a `discover` ceremony: the account whose passkey signed it (the
/// user handle must be that account's), and how. Attempts are throttled per passkey owner and per
/// address; a failure is audited against the owner when there is one.
pub async fn discover(
    ctx: &Identity,
    ceremony: &str,
    assertion: &str,
    address: &str,
    now: i64,
) -> Result<(AccountRow, Shown), FactorError> {
    let webauthn = rp(ctx)?;
    let (_, state): (_, DiscoverableAuthentication) = take(ctx, ceremony, "discover", now).await?;
    let answer: PublicKeyCredential =
        serde_json::from_str(assertion).map_err(|_| FactorError::CodeInvalid)?;
    let row = storage::factors::by_credential_id(&ctx.db, answer.get_credential_id()).await?;
    let owner = row
        .as_ref()
        .map_or_else(|| "passkey:unknown".to_owned(), |r| r.account_id.clone());
    let reservation = super::factors::reserve(ctx, &owner, address, now).await?;
    let checked = row.and_then(|row| {
        let handle = webauthn
            .identify_discoverable_authentication(&answer)
            .ok()?
            .0;
        let pk: Passkey = serde_json::from_str(row.credential.as_deref()?).ok()?;
        (handle == user_handle(&row.account_id)).then_some(())?;
        let result = webauthn
            .finish_discoverable_authentication(&answer, state, &[DiscoverableKey::from(&pk)])
            .ok()?;
        Some((row, pk, result))
    });
    let Some((row, pk, result)) = checked else {
        let object = crate::audit::account(&owner);
        super::accounts::record_failure(ctx, &object, address, "passkey", now).await;
        return Err(FactorError::CodeInvalid);
    };
    let a = super::accounts::account(ctx, &row.account_id)
        .await?
        .filter(|a| a.disabled_at.is_none())
        .ok_or(FactorError::CodeInvalid)?;
    used(ctx, &row.id, pk, &result, now).await?;
    ctx.throttle.succeeded(&ctx.db, &reservation).await?;
    Ok((a, shown(result.backup_eligible())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relying_party_needs_a_domain() {
        assert!(relying_party("https://id.example.cn").is_some());
        assert!(relying_party("http://localhost:8080").is_some());
        assert!(relying_party("http://127.0.0.1:8080").is_none());
        assert_ne!(user_handle("a1"), user_handle("a2"));
        assert_eq!(user_handle("a1"), user_handle("a1"));
    }
}
