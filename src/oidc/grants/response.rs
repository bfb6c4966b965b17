//! What every grant shares: the grant as the client may see it, the refresh token it rotates, and
//! the token response.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::crypto::{random_token, secret_hash};
use crate::oidc::clients::{Client, GrantType};
use crate::oidc::context::Provider;
use crate::oidc::error::{ErrorCode, OAuthError};
use crate::oidc::subject::{enterprise_claims, person_claims, subject};
use crate::oidc::tokens::{self, AccessGrant, Act};
use crate::storage::{self, grants::GrantRow, StorageError};

/// Stored with each refresh token: what the grant covers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RefreshData {
    pub(crate) scopes: Vec<String>,
    pub(crate) auth_time: i64,
    pub(crate) acr: String,
    pub(crate) amr: Vec<String>,
}

pub(crate) fn require_grant(client: &Client, g: GrantType) -> Result<(), OAuthError> {
    if client.allows_grant(g) {
        Ok(())
    } else {
        Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client may not use this grant type",
        ))
    }
}

pub(crate) async fn issue_refresh(
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

/// What a client sees of a grant, read before any write: the subject, the person, and the enterprise
/// view when the person acts for one (checking the account and any agent grant are still good).
pub(crate) struct GrantView {
    pub(crate) sub: String,
    pub(crate) account: storage::accounts::AccountRow,
    pub(crate) org: Option<serde_json::Map<String, Value>>,
}

pub(crate) async fn grant_view(
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
    let perms = crate::identity::enterprises::permissions(&a);
    let org = enterprise_claims(ctx, client, &e, &grant.account_id, &a.role, &perms);
    Ok(GrantView {
        sub: subject(ctx, client, &e.id),
        account,
        org: Some(org),
    })
}

/// Build the token response: access token, ID token (with `openid`), refresh token (if any). No I/O.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn respond(
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
            amr: Some(rd.amr.clone()),
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
