//! The authorization_code grant: PKCE, single-use codes (a reused code revokes what it issued).

use std::sync::Arc;

use serde_json::Value;

use super::response::*;
use crate::crypto::{b64url, constant_time_eq, secret_hash, sha256};
use crate::oidc::authorize::CodeData;
use crate::oidc::clients::{Client, GrantType};
use crate::oidc::context::Provider;
use crate::oidc::error::OAuthError;
use crate::oidc::params::Params;
use crate::storage::{self, grants::GrantRow, StorageError};

/// RFC 7636: 43-128 unreserved characters; BASE64URL(SHA256(verifier)) must equal the challenge.
pub(super) fn pkce_ok(challenge: &str, verifier: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    well_formed
        && constant_time_eq(
            b64url(sha256(verifier.as_bytes())).as_bytes(),
            challenge.as_bytes(),
        )
}

pub(super) async fn authorization_code(
    ctx: &Provider,
    client: &Arc<Client>,
    p: &Params,
    now: i64,
) -> Result<Value, OAuthError> {
    require_grant(client, GrantType::AuthorizationCode)?;
    let code_hash = secret_hash(p.required("code")?);
    let redirect_uri = p.one("redirect_uri")?;
    let verifier = p.one("code_verifier")?;
    // Read and check everything first; the write transaction below stays short and touches only its
    // own connection (SQLite has one).
    let row = storage::grants::code(&ctx.db, &code_hash)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the code is unknown"))?;
    if row.used_at.is_some() {
        return Err(code_reused(ctx, client, &row.grant_id, now).await);
    }
    if row.expires_at <= now {
        return Err(OAuthError::invalid_grant("the code has expired"));
    }
    if row.client_id != client.id {
        return Err(OAuthError::invalid_grant(
            "the code was issued to another client",
        ));
    }
    let data: CodeData = serde_json::from_str(&row.data).map_err(StorageError::from)?;
    if redirect_uri.is_some_and(|r| r != data.redirect_uri)
        || (redirect_uri.is_none() && client.config.redirect_uris.len() > 1)
    {
        return Err(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    match (&data.code_challenge, verifier) {
        (Some(c), Some(v)) if pkce_ok(c, v) => {}
        (Some(_), _) => {
            return Err(OAuthError::invalid_grant(
                "the PKCE code_verifier does not match",
            ))
        }
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier sent but no code_challenge was",
            ))
        }
        (None, None) => {}
    }
    let grant = GrantRow {
        id: row.grant_id.clone(),
        client_id: client.id.clone(),
        account_id: data.account_id.clone(),
        session_id: Some(data.session_id.clone()),
        acting_for: data.acting_for.clone(),
        offline: i64::from(data.scopes.iter().any(|s| s == "offline_access")),
        created_at: now,
        revoked_at: None,
    };
    let view = grant_view(ctx, client, &grant, now).await?;
    let rd = RefreshData {
        scopes: data.scopes.clone(),
        auth_time: data.auth_time,
        acr: data.acr.clone(),
        amr: data.amr.clone(),
    };

    let mut tx = ctx.db.begin().await?;
    if !storage::grants::spend_code(&mut tx, &code_hash, now).await? {
        // Lost a race with a concurrent redemption of the same code: that is a reuse too.
        drop(tx);
        return Err(code_reused(ctx, client, &row.grant_id, now).await);
    }
    storage::grants::insert_grant(&mut tx, &grant).await?;
    let refresh = issue_refresh(ctx, &mut tx, client, &grant, &rd, now).await?;
    tx.commit().await.map_err(StorageError::from)?;
    respond(
        ctx,
        client,
        &grant,
        &rd,
        view,
        data.nonce.as_deref(),
        refresh,
        now,
    )
    .await
}

/// A code presented twice: someone else may hold it. Revoke everything it issued.
pub(super) async fn code_reused(
    ctx: &Provider,
    client: &Client,
    grant_id: &str,
    now: i64,
) -> OAuthError {
    if let Err(e) = crate::oidc::logout::revoke_grant(ctx, grant_id, "code_reused", now).await {
        return e.into();
    }
    tracing::warn!(client_id = %client.id, "authorization code reused; its grant is revoked");
    OAuthError::invalid_grant("the code was already used")
}
