//! Checking a second factor, whatever its kind (a code from the app, a recovery code, a passkey),
//! and the changes that need a fresh check: removing a factor, renewing the recovery codes. Every
//! attempt is counted in the password throttle (per account, per address); a failure is audited.

use serde_json::json;

use super::context::Identity;
use super::factors::{code_hashes, fresh_codes, reserve, FactorError, Proof, Shown};
use crate::storage::{self, StorageError};

/// Check a second factor shown by the person: a code from their app (6 digits), one of their
/// recovery codes (which is then spent), or a passkey's answer. Throttled; a failure is audited.
pub async fn verify(
    ctx: &Identity,
    account_id: &str,
    proof: Proof<'_>,
    address: &str,
    now: i64,
) -> Result<Shown, FactorError> {
    let all = storage::factors::for_account(&ctx.db, account_id).await?;
    if !all.iter().any(|f| f.confirmed_at.is_some()) {
        return Err(FactorError::NoFactor);
    }
    let reservation = reserve(ctx, account_id, address, now).await?;
    let shown = match proof {
        Proof::Code(code) => super::totp::check_code(ctx, account_id, &all, code, now).await?,
        Proof::Passkey {
            ceremony,
            assertion,
        } => {
            match super::passkeys::check_assertion(ctx, account_id, ceremony, assertion, now).await
            {
                Ok(s) => Some(s),
                Err(FactorError::CodeInvalid) => None,
                Err(e) => return Err(e),
            }
        }
    };
    let Some(shown) = shown else {
        let object = crate::audit::account(account_id);
        super::accounts::record_failure(ctx, &object, address, "second_factor", now).await;
        return Err(FactorError::CodeInvalid);
    };
    ctx.throttle.succeeded(&ctx.db, &reservation).await?;
    Ok(shown)
}

/// Remove a factor, after a fresh second-factor check (`proof`, from any of the account's
/// factors). With the last factor gone, the recovery codes go too.
pub async fn remove(
    ctx: &Identity,
    account_id: &str,
    factor_id: &str,
    proof: Proof<'_>,
    address: &str,
    now: i64,
) -> Result<(), FactorError> {
    // A factor that is not the account's is refused before the check spends a code.
    if !super::factors::list(ctx, account_id)
        .await?
        .iter()
        .any(|f| f.id == factor_id)
    {
        return Err(FactorError::NoFactor);
    }
    verify(ctx, account_id, proof, address, now).await?;
    let mut tx = ctx.db.begin().await?;
    if !storage::factors::remove(&mut tx, account_id, factor_id).await? {
        return Err(FactorError::NoFactor);
    }
    storage::factors::clear_recovery_codes_if_none(&mut tx, account_id).await?;
    super::notices::notice(ctx, &mut tx, account_id, "factor_removed", now).await?;
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
    proof: Proof<'_>,
    address: &str,
    now: i64,
) -> Result<Vec<String>, FactorError> {
    verify(ctx, account_id, proof, address, now).await?;
    let codes = fresh_codes(true);
    let hashes = code_hashes(&codes);
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
