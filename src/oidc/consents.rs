//! Consents and grants as the provider reads them (the account page, the consent step).

use super::context::Provider;
use crate::storage;

/// The scopes a person consented to for a client (acting for an enterprise, or `""`).
pub async fn consent(
    ctx: &Provider,
    account_id: &str,
    client_id: &str,
    acting_for: &str,
) -> Result<Option<String>, storage::StorageError> {
    storage::grants::consent(&ctx.db, account_id, client_id, acting_for).await
}

/// Every consent a person gave, newest first.
pub async fn consents_of(
    ctx: &Provider,
    account_id: &str,
) -> Result<Vec<storage::grants::ConsentRow>, storage::StorageError> {
    storage::grants::consents_of(&ctx.db, account_id).await
}

/// A grant (what a code redemption covers) by id.
pub async fn grant(
    ctx: &Provider,
    id: &str,
) -> Result<Option<storage::grants::GrantRow>, storage::StorageError> {
    storage::grants::grant(&ctx.db, id).await
}
