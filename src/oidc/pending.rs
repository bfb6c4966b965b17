//! Authorization requests parked while the person signs in, chooses whom to act for and consents:
//! stored by an unguessable id (the `req` of the pages' forms), for a limited time.

use super::authorize::AuthRequest;
use super::context::Provider;
use crate::crypto::random_id;
use crate::storage::{self, StorageError};

/// Park `req` for `ttl` seconds; its id.
pub async fn park(
    ctx: &Provider,
    req: &AuthRequest,
    now: i64,
    ttl: i64,
) -> Result<String, StorageError> {
    let id = random_id();
    let stored = serde_json::to_string(req)?;
    storage::sessions::insert_auth_request(&ctx.db, &id, &req.client_id, &stored, now, ttl).await?;
    Ok(id)
}

/// A parked request that has not expired: its id, the request, and when it was parked.
pub async fn find(ctx: &Provider, id: &str, now: i64) -> Option<(String, AuthRequest, i64)> {
    let row = storage::sessions::auth_request(&ctx.db, id, now)
        .await
        .ok()
        .flatten()?;
    let req = serde_json::from_str(&row.params).ok()?;
    Some((row.id, req, row.created_at))
}

/// Store what the person decided so far (a choice of enterprise, a consent) with the request.
pub async fn update(ctx: &Provider, id: &str, req: &AuthRequest) -> Result<(), StorageError> {
    storage::sessions::update_auth_request(&ctx.db, id, &serde_json::to_string(req)?).await
}

/// The request is answered (or abandoned): it cannot be resumed again.
pub async fn finish(ctx: &Provider, id: &str) -> Result<(), StorageError> {
    storage::sessions::delete_auth_request(&ctx.db, id).await
}
