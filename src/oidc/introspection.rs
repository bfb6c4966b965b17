//! What holders of an issued token and resource servers ask about it: userinfo, RFC 7662
//! introspection, RFC 7009 revocation.

use std::sync::Arc;

use serde_json::{json, Value};

use super::grants::response::grant_view;
use crate::crypto::secret_hash;
use crate::metrics::CacheName;
use crate::oidc::clients::Client;
use crate::oidc::context::Provider;
use crate::oidc::error::{ErrorCode, OAuthError};
use crate::oidc::params::Params;
use crate::oidc::subject::person_claims;
use crate::oidc::tokens::{self};
use crate::storage::{self, StorageError};

/// Userinfo for a verified access token. The response depends only on the grant and scope, so it is
/// cached per (grant, scope) for a minute; revocation is checked before the cache on every request.
pub async fn userinfo(
    ctx: &Provider,
    claims: &tokens::AccessClaims,
    now: i64,
) -> Result<Arc<Value>, OAuthError> {
    let gid = claims
        .gid
        .as_deref()
        .ok_or_else(|| OAuthError::invalid_token("the token does not represent a person"))?;
    if !claims.has_scope("openid") {
        return Err(OAuthError::new(
            ErrorCode::InsufficientScope,
            "userinfo needs the openid scope",
        ));
    }
    let key = format!("{gid} {}", claims.scope);
    if let Some(v) = ctx
        .metrics
        .lookup(CacheName::Userinfo, ctx.userinfo.get(&key))
    {
        return Ok(v);
    }
    let grant = storage::grants::grant(&ctx.db, gid)
        .await?
        .ok_or_else(|| OAuthError::invalid_token("the grant is gone"))?;
    if grant.revoked_at.is_some() {
        return Err(OAuthError::invalid_token("the token has been revoked"));
    }
    let client = super::clients::get(ctx, &grant.client_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_token("the client is gone"))?;
    let view = grant_view(ctx, &client, &grant, now)
        .await
        .map_err(|e| OAuthError::invalid_token(e.description))?;
    let mut body = serde_json::Map::new();
    body.insert("sub".into(), json!(view.sub));
    let scopes: Vec<&str> = claims.scope.split(' ').collect();
    body.extend(person_claims(ctx, &view.account, &scopes));
    if let Some(org) = view.org {
        body.extend(org);
    }
    let v = Arc::new(Value::Object(body));
    ctx.userinfo.insert(key, v.clone());
    Ok(v)
}

/// RFC 7662 introspection. Any authenticated client may introspect access tokens (resource servers do);
/// refresh tokens only by the client they were issued to.
pub async fn introspect(
    ctx: &Provider,
    client: &Client,
    p: &Params,
    now: i64,
) -> Result<Value, OAuthError> {
    let token = p.required("token")?;
    let inactive = json!({ "active": false });
    if p.one("token_type_hint")? != Some("refresh_token") {
        if let Ok(c) = tokens::verify_access(ctx, token, now) {
            let mut v = json!({
                "active": true, "token_type": "Bearer", "scope": c.scope, "client_id": c.client_id, "sub": c.sub,
                "exp": c.exp, "iat": c.iat, "iss": c.iss, "aud": c.aud, "jti": c.jti,
            });
            if let Some(act) = &c.act {
                v["act"] = json!({ "sub": act.sub });
            }
            // How the person signed in, for a resource server that needs a level.
            if let Some(acr) = &c.acr {
                v["acr"] = json!(acr);
            }
            if let Some(amr) = &c.amr {
                v["amr"] = json!(amr);
            }
            if let Some(t) = c.auth_time {
                v["auth_time"] = json!(t);
            }
            return Ok(v);
        }
    }
    let Some(r) = storage::grants::refresh(&ctx.db, &secret_hash(token)).await? else {
        return Ok(inactive);
    };
    let Some(grant) = storage::grants::grant(&ctx.db, &r.grant_id).await? else {
        return Ok(inactive);
    };
    if grant.client_id == client.id
        && grant.revoked_at.is_none()
        && r.used_at.is_none()
        && r.expires_at > now
    {
        return Ok(
            json!({ "active": true, "token_type": "refresh_token", "client_id": grant.client_id, "exp": r.expires_at }),
        );
    }
    Ok(inactive)
}

/// RFC 7009 revocation: an access token is denied by `jti`; a refresh token revokes its whole grant.
/// Unknown tokens, and tokens of other clients, are answered with success and left alone.
pub async fn revoke(
    ctx: &Provider,
    client: &Client,
    p: &Params,
    now: i64,
) -> Result<(), OAuthError> {
    let token = p.required("token")?;
    if let Ok(c) = tokens::verify_access(ctx, token, now) {
        if c.client_id == client.id {
            let mut tx = ctx.db.begin().await?;
            storage::grants::deny(
                &mut tx,
                super::denylist::DenyKind::Jti.as_str(),
                &c.jti,
                c.exp,
            )
            .await?;
            tx.commit().await.map_err(StorageError::from)?;
            ctx.deny
                .insert(super::denylist::DenyKind::Jti, &c.jti, c.exp);
        }
        return Ok(());
    }
    if let Some(r) = storage::grants::refresh(&ctx.db, &secret_hash(token)).await? {
        if storage::grants::grant(&ctx.db, &r.grant_id)
            .await?
            .is_some_and(|g| g.client_id == client.id)
        {
            super::logout::revoke_grant(ctx, &r.grant_id, "revoked_by_client", now).await?;
        }
    }
    Ok(())
}
