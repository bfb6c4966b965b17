//! Registering a licence type (the operator's `licence-type add` and `POST /api/v1/admin/licence-types`).

use serde_json::Value;

use super::catalogue::{CatalogueError, LicenceType};
use super::context::Licences;
use crate::storage;

/// Register a licence type (validated) with its audit event; `Conflict` if the code exists.
pub async fn register(
    ctx: &Licences,
    t: &LicenceType,
    actor: &str,
    now: i64,
) -> Result<Value, RegisterError> {
    t.validate()?;
    let stored = serde_json::to_value(t).map_err(crate::storage::StorageError::from)?;
    let mut tx = ctx.db.begin().await?;
    crate::storage::licence_types::insert(&mut tx, &t.code, &stored.to_string(), now).await?;
    crate::audit::record(
        &mut tx,
        now,
        actor,
        crate::audit::Action::LicenceTypeRegistered,
        &format!("licence_type:{}", t.code),
        serde_json::json!({ "issuers": t.issuers, "queriers": t.queriers.iter().map(|q| &q.department).collect::<Vec<_>>() }),
    )
    .await?;
    tx.commit()
        .await
        .map_err(crate::storage::StorageError::from)?;
    Ok(stored)
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error(transparent)]
    Invalid(#[from] CatalogueError),
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
}

/// Every registered type: (code, definition JSON), by code.
pub async fn list(ctx: &Licences) -> Result<Vec<(String, String)>, storage::StorageError> {
    storage::licence_types::list(&ctx.db).await
}

/// A registered type's definition JSON.
pub async fn definition(
    ctx: &Licences,
    code: &str,
) -> Result<Option<String>, storage::StorageError> {
    storage::licence_types::get(&ctx.db, code).await
}
