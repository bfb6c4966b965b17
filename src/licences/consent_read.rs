//! A portal reading a person's licences with their consent: the access token's grant names the person
//! (or the enterprise they act for) and the client; the consent given for that grant names the licence
//! types; every read is logged for the holder ([`super::access::query_with_consent`]).

use super::access::{query_with_consent_by, LicenceView};
use super::context::Licences;
use super::LicenceError;
use crate::identity::{accounts, enterprises};
use crate::oidc::consents;
use crate::storage::StorageError;

/// Why a consent read was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConsentReadError {
    /// The token's grant no longer exists.
    #[error("the grant is gone")]
    GrantGone,
    /// The person or enterprise the grant was for no longer exists.
    #[error("the holder is gone")]
    HolderGone,
    /// The person's identity is only claimed: it reaches no licence, theirs or an enterprise's.
    #[error("the person's identity is not proven")]
    NotProven,
    #[error(transparent)]
    Licence(#[from] LicenceError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The licences of the grant's holder whose types the holder consented to show this grant's client.
/// `level` is the token's level of assurance (1 to 3): a consented type that needs a second factor
/// ([`super::catalogue::LicenceType::needs_second_factor`]) needs 2 or more, else nothing is read.
pub async fn read(
    ctx: &Licences,
    grant_id: &str,
    level: u8,
    purpose: &str,
    now: i64,
) -> Result<Vec<LicenceView>, ConsentReadError> {
    let provider = &ctx.provider;
    let grant = consents::grant(provider, grant_id)
        .await?
        .ok_or(ConsentReadError::GrantGone)?;
    let consent = consents::consent(
        provider,
        &grant.account_id,
        &grant.client_id,
        &grant.acting_for,
    )
    .await?
    .unwrap_or_default();
    let types: Vec<String> = consent
        .split(' ')
        .filter_map(|s| s.strip_prefix("licence_type:"))
        .map(str::to_owned)
        .collect();
    if level < 2 {
        for code in &types {
            super::shares::needs_no_second_factor(ctx, code).await?;
        }
    }
    let identity = &provider.identity;
    let person = accounts::account(identity, &grant.account_id)
        .await?
        .ok_or(ConsentReadError::HolderGone)?;
    if !crate::identity::proofing::is_proven(&person) {
        return Err(ConsentReadError::NotProven);
    }
    let (index, agent) = if grant.acting_for.is_empty() {
        (Some(person.id_number_index), None)
    } else {
        // Acting for an enterprise: the person must still hold `licences:consent` for it.
        let need = enterprises::Permission::LicencesConsent;
        let Some(a) =
            enterprises::acting_with(identity, &person.id, &grant.acting_for, need, now).await?
        else {
            return Err(ConsentReadError::Licence(LicenceError::NotPermitted(
                need.as_str(),
            )));
        };
        let index = enterprises::enterprise(identity, &grant.acting_for)
            .await?
            .map(|e| ctx.keys.data().blind_index(&format!("uscc:{}", e.uscc)));
        let agent = (a.role != "legal_representative").then_some(person.id.as_str());
        (index, agent)
    };
    let index = index.ok_or(ConsentReadError::HolderGone)?;
    let reader = agent;
    Ok(query_with_consent_by(ctx, reader, &grant.client_id, &index, &types, purpose, now).await?)
}
