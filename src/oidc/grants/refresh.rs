//! The refresh_token grant: rotated on every use; a spent token presented again revokes the whole
//! family.

use std::sync::Arc;

use serde_json::Value;

use super::response::*;
use crate::crypto::secret_hash;
use crate::oidc::clients::{Client, GrantType};
use crate::oidc::context::Provider;
use crate::oidc::error::{ErrorCode, OAuthError};
use crate::oidc::params::Params;
use crate::storage::{self, StorageError};

pub(super) async fn refresh_token(
    ctx: &Provider,
    client: &Arc<Client>,
    p: &Params,
    now: i64,
) -> Result<Value, OAuthError> {
    require_grant(client, GrantType::RefreshToken)?;
    let token_hash = secret_hash(p.required("refresh_token")?);
    let row = storage::grants::refresh(&ctx.db, &token_hash)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the refresh token is unknown"))?;
    let grant = storage::grants::grant(&ctx.db, &row.grant_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the grant is gone"))?;
    if grant.client_id != client.id {
        return Err(OAuthError::invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    if row.used_at.is_some() {
        return Err(refresh_reused(ctx, client, &grant.id, now).await);
    }
    if grant.revoked_at.is_some() {
        return Err(OAuthError::invalid_grant("the grant has been revoked"));
    }
    if row.expires_at <= now {
        return Err(OAuthError::invalid_grant("the refresh token has expired"));
    }
    let rd: RefreshData = serde_json::from_str(&row.data).map_err(StorageError::from)?;
    // A narrower `scope` applies to this response only: RFC 6749 §6 keeps the new refresh token's scope
    // identical to the old one's.
    let mut this = rd.clone();
    if let Some(requested) = p.one("scope")? {
        let requested: Vec<String> = requested
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if let Some(s) = requested.iter().find(|s| !rd.scopes.contains(s)) {
            return Err(OAuthError::new(
                ErrorCode::InvalidScope,
                format!("scope {s} was not granted"),
            ));
        }
        this.scopes = requested;
    }
    let view = grant_view(ctx, client, &grant, now).await?;
    let mut tx = ctx.db.begin().await?;
    if !storage::grants::spend_refresh(&mut tx, &token_hash, now).await? {
        drop(tx);
        return Err(refresh_reused(ctx, client, &grant.id, now).await);
    }
    let refresh = issue_refresh(ctx, &mut tx, client, &grant, &rd, now).await?;
    tx.commit().await.map_err(StorageError::from)?;
    respond(ctx, client, &grant, &this, view, None, refresh, now).await
}

/// A spent refresh token presented again: the family may be stolen. Revoke all of it.
pub(super) async fn refresh_reused(
    ctx: &Provider,
    client: &Client,
    grant_id: &str,
    now: i64,
) -> OAuthError {
    if let Err(e) =
        crate::oidc::logout::revoke_grant(ctx, grant_id, "refresh_token_reused", now).await
    {
        return e.into();
    }
    tracing::warn!(client_id = %client.id, "refresh token reused; its family is revoked");
    OAuthError::invalid_grant("the refresh token was already used; the whole grant is revoked")
}
