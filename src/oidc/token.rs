//! The token endpoint's grants: authorization_code (with PKCE and single-use codes: a reused code
//! revokes what it issued), refresh_token (rotated on every use; a spent token presented again revokes
//! the whole family), and client_credentials (JWT access token, no database write).

use crate::metrics::CacheName;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::authorize::CodeData;
use super::clients::{Client, GrantType};
use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use super::subject::{enterprise_claims, person_claims, subject};
use super::tokens::{self, AccessGrant, Act};
use crate::crypto::{b64url, constant_time_eq, random_token, secret_hash, sha256};
use crate::oidc::context::Provider;
use crate::storage::{self, grants::GrantRow, StorageError};

/// Stored with each refresh token: what the grant covers.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RefreshData {
    scopes: Vec<String>,
    auth_time: i64,
    acr: String,
    amr: Vec<String>,
}

pub async fn exchange(
    ctx: &Provider,
    client: &Arc<Client>,
    p: &Params,
    now: i64,
) -> Result<Value, OAuthError> {
    let (grant, result) = match p.required("grant_type")? {
        "authorization_code" => (
            "authorization_code",
            authorization_code(ctx, client, p, now).await,
        ),
        "refresh_token" => ("refresh_token", refresh_token(ctx, client, p, now).await),
        "client_credentials" => (
            "client_credentials",
            client_credentials(ctx, client, p, now),
        ),
        _ => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                "grant_type is not supported",
            ))
        }
    };
    if result.is_ok() {
        ctx.metrics.token_issued(grant);
    }
    result
}

fn require_grant(client: &Client, g: GrantType) -> Result<(), OAuthError> {
    if client.allows_grant(g) {
        Ok(())
    } else {
        Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client may not use this grant type",
        ))
    }
}

/// RFC 7636: 43-128 unreserved characters; BASE64URL(SHA256(verifier)) must equal the challenge.
fn pkce_ok(challenge: &str, verifier: &str) -> bool {
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

async fn authorization_code(
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
async fn code_reused(ctx: &Provider, client: &Client, grant_id: &str, now: i64) -> OAuthError {
    if let Err(e) = super::logout::revoke_grant(ctx, grant_id, "code_reused", now).await {
        return e.into();
    }
    tracing::warn!(client_id = %client.id, "authorization code reused; its grant is revoked");
    OAuthError::invalid_grant("the code was already used")
}

async fn issue_refresh(
    ctx: &Provider,
    tx: &mut storage::Tx,
    client: &Client,
    grant: &GrantRow,
    rd: &RefreshData,
    now: i64,
) -> Result<Option<String>, OAuthError> {
    if !client.allows_grant(GrantType::RefreshToken) {
        return Ok(None);
    }
    let token = random_token();
    let json = serde_json::to_string(rd).map_err(StorageError::from)?;
    storage::grants::insert_refresh(
        tx,
        &secret_hash(&token),
        &grant.id,
        &json,
        now,
        now + ctx.refresh_token_ttl,
    )
    .await?;
    Ok(Some(token))
}

async fn refresh_token(
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
async fn refresh_reused(ctx: &Provider, client: &Client, grant_id: &str, now: i64) -> OAuthError {
    if let Err(e) = super::logout::revoke_grant(ctx, grant_id, "refresh_token_reused", now).await {
        return e.into();
    }
    tracing::warn!(client_id = %client.id, "refresh token reused; its family is revoked");
    OAuthError::invalid_grant("the refresh token was already used; the whole grant is revoked")
}

/// What a client sees of a grant, read before any write: the subject, the person, and the enterprise
/// view when the person acts for one (checking the account and any agent grant are still good).
struct GrantView {
    sub: String,
    account: storage::accounts::AccountRow,
    org: Option<serde_json::Map<String, Value>>,
}

async fn grant_view(
    ctx: &Provider,
    client: &Client,
    grant: &GrantRow,
    now: i64,
) -> Result<GrantView, OAuthError> {
    let account = storage::accounts::by_id(&ctx.db, &grant.account_id).await?;
    let Some(account) = account.filter(|a| a.disabled_at.is_none()) else {
        return Err(OAuthError::invalid_grant("the account is disabled"));
    };
    if grant.acting_for.is_empty() {
        return Ok(GrantView {
            sub: subject(ctx, client, &grant.account_id),
            account,
            org: None,
        });
    }
    let actable = storage::enterprises::actable_by(&ctx.db, &grant.account_id, now).await?;
    let Some(a) = actable.into_iter().find(|e| e.id == grant.acting_for) else {
        return Err(OAuthError::invalid_grant(
            "the person may no longer act for this enterprise",
        ));
    };
    let e = storage::enterprises::by_id(&ctx.db, &a.id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the enterprise is gone"))?;
    let org = enterprise_claims(ctx, client, &e, &grant.account_id, &a.role);
    Ok(GrantView {
        sub: subject(ctx, client, &e.id),
        account,
        org: Some(org),
    })
}

/// Build the token response: access token, ID token (with `openid`), refresh token (if any). No I/O.
#[allow(clippy::too_many_arguments)]
async fn respond(
    ctx: &Provider,
    client: &Client,
    grant: &GrantRow,
    rd: &RefreshData,
    view: GrantView,
    nonce: Option<&str>,
    refresh: Option<String>,
    now: i64,
) -> Result<Value, OAuthError> {
    let scope = rd.scopes.join(" ");
    let act = view
        .org
        .as_ref()
        .and_then(|o| o.get("act"))
        .and_then(|a| a["sub"].as_str())
        .map(|s| Act { sub: s.to_owned() });
    let (access, ttl) = tokens::mint_access(
        ctx,
        AccessGrant {
            sub: view.sub.clone(),
            client_id: &client.id,
            scope: &scope,
            auth_time: Some(rd.auth_time),
            acr: Some(rd.acr.clone()),
            gid: Some(grant.id.clone()),
            act,
        },
        now,
    )?;
    let mut body = json!({ "access_token": access, "token_type": "Bearer", "expires_in": ttl, "scope": scope });
    if rd.scopes.iter().any(|s| s == "openid") {
        let sid = grant
            .session_id
            .as_deref()
            .map(|s| tokens::client_sid(ctx, &client.id, s));
        let mut claims = tokens::id_token_claims(
            ctx,
            &view.sub,
            &client.id,
            now,
            rd.auth_time,
            nonce,
            &rd.acr,
            &rd.amr,
            sid.as_deref(),
            Some(&access),
        );
        let scopes: Vec<&str> = rd.scopes.iter().map(String::as_str).collect();
        claims.extend(person_claims(ctx, &view.account, &scopes));
        if let Some(org) = view.org {
            claims.extend(org);
        }
        body["id_token"] = json!(
            tokens::sign_for_client(
                ctx,
                client.config.id_token_alg,
                "JWT",
                Value::Object(claims)
            )
            .await?
        );
    }
    if let Some(r) = refresh {
        body["refresh_token"] = json!(r);
    }
    Ok(body)
}

/// Scopes only a system (client_credentials) token carries, besides the `licences:*` ones.
pub const SYSTEM_SCOPES: [&str; 2] = ["admin", "auditor"];

fn client_credentials(
    ctx: &Provider,
    client: &Arc<Client>,
    p: &Params,
    now: i64,
) -> Result<Value, OAuthError> {
    require_grant(client, GrantType::ClientCredentials)?;
    let api_scopes: Vec<&str> = client
        .config
        .scopes
        .iter()
        .map(String::as_str)
        .filter(|s| s.starts_with("licences:") || SYSTEM_SCOPES.contains(s))
        .collect();
    let scope = match p.one("scope")? {
        Some(req) => {
            let req: Vec<&str> = req.split(' ').filter(|s| !s.is_empty()).collect();
            if let Some(s) = req.iter().find(|s| !api_scopes.contains(s)) {
                return Err(OAuthError::new(
                    ErrorCode::InvalidScope,
                    format!("scope {s} is not allowed for this client"),
                ));
            }
            req.join(" ")
        }
        None => api_scopes.join(" "),
    };
    let (access, ttl) = tokens::mint_access(
        ctx,
        AccessGrant {
            sub: client.id.clone(),
            client_id: &client.id,
            scope: &scope,
            auth_time: None,
            acr: None,
            gid: None,
            act: None,
        },
        now,
    )?;
    Ok(json!({ "access_token": access, "token_type": "Bearer", "expires_in": ttl, "scope": scope }))
}

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
