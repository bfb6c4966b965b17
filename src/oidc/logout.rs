//! Ending sessions and grants, and back-channel logout (OpenID Connect Back-Channel Logout 1.0) to every
//! portal that held the session. The database change commits first; then logout tokens are delivered
//! concurrently, each with a 5-second timeout, and the caller waits for them so the person's next page
//! already reflects every portal's logout.

use serde_json::Value;

use super::clients;
use super::denylist::DenyKind;
use super::registration::Client;
use super::tokens::{client_sid, logout_token_claims, sign_for_client};
use crate::identity::contacts;
use crate::oidc::context::Provider;
use crate::storage::{self, sessions::SessionClient, sessions::SessionRow, StorageError, Tx};

/// Deny every access token of `grant_ids`, in the database (same transaction) and in memory after commit.
async fn deny_grants(
    ctx: &Provider,
    tx: &mut Tx,
    grant_ids: &[String],
    now: i64,
) -> Result<(), StorageError> {
    for g in grant_ids {
        storage::grants::deny(tx, DenyKind::Grant.as_str(), g, now + ctx.access_token_ttl).await?;
    }
    Ok(())
}

fn remember_denied(ctx: &Provider, grant_ids: &[String], now: i64) {
    for g in grant_ids {
        ctx.deny
            .insert(DenyKind::Grant, g, now + ctx.access_token_ttl);
    }
}

/// End SSO sessions (logout, "end this session", "log out everywhere").
pub async fn end_sessions(
    ctx: &Provider,
    session_ids: &[String],
    now: i64,
) -> Result<(), StorageError> {
    let mut tx = ctx.db.begin().await?;
    let mut portals = Vec::new();
    let mut revoked = Vec::new();
    for sid in session_ids {
        storage::sessions::end(&mut tx, sid, now).await?;
        portals.extend(storage::sessions::take_clients(&mut tx, sid).await?);
        revoked.extend(storage::grants::revoke_session_grants(&mut tx, sid, now).await?);
    }
    deny_grants(ctx, &mut tx, &revoked, now).await?;
    tx.commit().await?;
    remember_denied(ctx, &revoked, now);
    deliver(ctx, portals, now).await;
    Ok(())
}

/// An account is disabled: every session ends (back-channel logout) and every grant, offline ones
/// included, is revoked.
pub async fn disable_account(
    ctx: &Provider,
    account_id: &str,
    now: i64,
) -> Result<usize, StorageError> {
    let mut tx = ctx.db.begin().await?;
    storage::accounts::set_disabled(&mut tx, account_id, Some(now), now).await?;
    let revoked = storage::grants::revoke_account_grants(&mut tx, account_id, now).await?;
    deny_grants(ctx, &mut tx, &revoked, now).await?;
    tx.commit().await?;
    remember_denied(ctx, &revoked, now);
    let sessions = live_sessions(ctx, account_id, now).await?;
    end_sessions(ctx, &sessions, now).await?;
    Ok(sessions.len())
}

/// A password reset (`identity::contacts`): the sessions end first (portals told), then, in one
/// transaction, the link is spent, the password set and every grant (offline ones too) revoked;
/// then any session opened meanwhile with the old password ends too. A failure before the
/// transaction leaves the link unspent and the password as it was.
pub async fn password_reset(
    ctx: &Provider,
    token: &str,
    new: &str,
    now: i64,
) -> Result<(), contacts::ContactError> {
    let r = contacts::prepare_reset(&ctx.identity, token, new, now).await?;
    end_sessions(ctx, &live_sessions(ctx, &r.account_id, now).await?, now).await?;
    let mut tx = ctx.db.begin().await?;
    contacts::apply_reset(&ctx.identity, &mut tx, &r, now).await?;
    let revoked = storage::grants::revoke_account_grants(&mut tx, &r.account_id, now).await?;
    deny_grants(ctx, &mut tx, &revoked, now).await?;
    tx.commit().await.map_err(StorageError::from)?;
    remember_denied(ctx, &revoked, now);
    ctx.identity.outbox.notify_one();
    end_sessions(ctx, &live_sessions(ctx, &r.account_id, now).await?, now).await?;
    Ok(())
}

async fn live_sessions(
    ctx: &Provider,
    account_id: &str,
    now: i64,
) -> Result<Vec<String>, StorageError> {
    Ok(
        storage::sessions::active_for_account(&ctx.db, account_id, now)
            .await?
            .into_iter()
            .map(|s| s.id)
            .collect(),
    )
}

/// The operator makes `new_rep` the legal representative of `enterprise_id`: audited; the old
/// representative's grants acting for the enterprise end (portals told), and the agents stay for the
/// new representative to review (returned, active ones only).
pub async fn change_representative(
    ctx: &Provider,
    enterprise_id: &str,
    old_rep: &str,
    new_rep: &str,
    now: i64,
) -> Result<Vec<storage::enterprises::AgentGrantRow>, StorageError> {
    let mut tx = ctx.db.begin().await?;
    storage::enterprises::set_legal_rep(&mut tx, enterprise_id, new_rep).await?;
    crate::audit::record(
        &mut tx,
        now,
        "operator:cli",
        crate::audit::Action::LegalRepresentativeChanged,
        &format!("enterprise:{enterprise_id}"),
        serde_json::json!({ "from": old_rep, "to": new_rep }),
    )
    .await?;
    let portals =
        storage::sessions::take_clients_acting_for(&mut tx, old_rep, enterprise_id).await?;
    let revoked = storage::grants::revoke_acting_for(&mut tx, old_rep, enterprise_id, now).await?;
    deny_grants(ctx, &mut tx, &revoked, now).await?;
    tx.commit().await?;
    remember_denied(ctx, &revoked, now);
    deliver(ctx, portals, now).await;
    let agents = storage::enterprises::agents_of(&ctx.db, enterprise_id).await?;
    Ok(agents
        .into_iter()
        .filter(|g| g.revoked_at.is_none() && g.expires_at > now)
        .collect())
}

/// An agent's rights for an enterprise are withdrawn.
pub async fn revoke_agent(
    ctx: &Provider,
    grant_id: &str,
    agent_id: &str,
    enterprise_id: &str,
    actor: &str,
    now: i64,
) -> Result<(), StorageError> {
    let mut tx = ctx.db.begin().await?;
    storage::enterprises::revoke_agent(&mut tx, grant_id, now).await?;
    crate::audit::record(
        &mut tx,
        now,
        actor,
        crate::audit::Action::AgentRevoked,
        &format!("enterprise:{enterprise_id}"),
        serde_json::json!({ "agent": agent_id, "grant": grant_id }),
    )
    .await?;
    let portals =
        storage::sessions::take_clients_acting_for(&mut tx, agent_id, enterprise_id).await?;
    let revoked = storage::grants::revoke_acting_for(&mut tx, agent_id, enterprise_id, now).await?;
    deny_grants(ctx, &mut tx, &revoked, now).await?;
    tx.commit().await?;
    remember_denied(ctx, &revoked, now);
    deliver(ctx, portals, now).await;
    Ok(())
}

/// The person withdraws what they granted a portal: consents and every grant (tokens) at that client.
pub async fn withdraw_consent(
    ctx: &Provider,
    account_id: &str,
    client_id: &str,
    now: i64,
) -> Result<(), StorageError> {
    let mut tx = ctx.db.begin().await?;
    storage::grants::delete_consents(&mut tx, account_id, client_id).await?;
    crate::audit::record(
        &mut tx,
        now,
        &crate::audit::account(account_id),
        crate::audit::Action::ConsentWithdrawn,
        &format!("client:{client_id}"),
        serde_json::Value::Null,
    )
    .await?;
    let revoked =
        storage::grants::revoke_client_grants(&mut tx, account_id, client_id, now).await?;
    deny_grants(ctx, &mut tx, &revoked, now).await?;
    tx.commit().await?;
    remember_denied(ctx, &revoked, now);
    Ok(())
}

/// Revoke one grant (refresh-token or code reuse, token revocation).
pub async fn revoke_grant(
    ctx: &Provider,
    grant_id: &str,
    reason: &str,
    now: i64,
) -> Result<(), StorageError> {
    let mut tx = ctx.db.begin().await?;
    storage::grants::revoke_grant(&mut tx, grant_id, reason, now).await?;
    deny_grants(ctx, &mut tx, &[grant_id.to_owned()], now).await?;
    tx.commit().await?;
    remember_denied(ctx, &[grant_id.to_owned()], now);
    Ok(())
}

/// Send a logout token to each portal that registered a back-channel logout URI.
async fn deliver(ctx: &Provider, portals: Vec<SessionClient>, now: i64) {
    let mut sends = Vec::new();
    for p in portals {
        let client = match clients::get(ctx, &p.client_id).await {
            Ok(Some(c)) => c,
            _ => continue,
        };
        let Some(uri) = client.config.backchannel_logout_uri.clone() else {
            continue;
        };
        let Ok(Some(session)) = storage::sessions::by_id(&ctx.db, &p.session_id).await else {
            continue;
        };
        let local = if p.acting_for.is_empty() {
            session.account_id.clone()
        } else {
            p.acting_for.clone()
        };
        let sub = super::subject::subject(ctx, &client, &local);
        let sid = client_sid(ctx, &client.id, &session.id);
        let claims: Value = logout_token_claims(ctx, &client.id, &sub, &sid, now);
        let Ok(token) =
            sign_for_client(ctx, client.config.id_token_alg, "logout+jwt", claims).await
        else {
            continue;
        };
        let http = ctx.http.clone();
        let client_id = client.id.clone();
        sends.push(async move {
            let r = http
                .post(&uri)
                .form(&[("logout_token", token)])
                .send()
                .await;
            match r {
                Ok(resp) if resp.status().is_success() => {
                    tracing::info!(client_id, "back-channel logout delivered")
                }
                Ok(resp) => tracing::warn!(
                    client_id,
                    status = resp.status().as_u16(),
                    "back-channel logout refused"
                ),
                Err(e) => {
                    tracing::warn!(client_id, error = %e, "back-channel logout not delivered")
                }
            }
        });
    }
    futures_join_all(sends).await;
}

/// Run futures concurrently and wait for all (avoids a dependency on the `futures` crate for one call).
async fn futures_join_all<F: std::future::Future<Output = ()> + Send + 'static>(futs: Vec<F>) {
    let mut set = tokio::task::JoinSet::new();
    for f in futs {
        set.spawn(f);
    }
    while set.join_next().await.is_some() {}
}

/// The claims of an `id_token_hint` (RP-initiated logout), if it is an ID token we issued: signed by
/// one of our keys (expired ones are accepted), `typ: JWT`, our `iss`, a client as `aud` and an
/// `at_hash`; access and logout tokens are not hints.
fn id_token_hint(ctx: &Provider, token: &str) -> Option<Value> {
    let keys = ctx.keys.current();
    let parsed = crate::crypto::jwt::parse(token).ok()?;
    let kid = parsed.header.get("kid")?.as_str()?;
    keys.verifying(kid)?
        .verify(parsed.signing_input.as_bytes(), &parsed.signature)
        .ok()?;
    if parsed.header.get("typ").and_then(Value::as_str) != Some("JWT") {
        return None;
    }
    let claims: Value = serde_json::from_slice(&parsed.payload).ok()?;
    (claims["iss"] == serde_json::json!(ctx.issuer)
        && claims["aud"].is_string()
        && claims.get("at_hash").is_some())
    .then_some(claims)
}

/// Does the hint name this session: its per-client `sid`, or the person's `sub` at that client?
fn hint_names_session(ctx: &Provider, hint: &Value, client: &Client, s: &SessionRow) -> bool {
    let sid = client_sid(ctx, &client.id, &s.id);
    hint["sid"].as_str() == Some(sid.as_str())
        || hint["sub"].as_str()
            == Some(super::subject::subject(ctx, client, &s.account_id).as_str())
}

/// An RP-initiated logout request, checked: the client it names (by `client_id`, or by the hint's
/// `aud`), the hint if it is one of our ID tokens, and where to send the person afterwards.
pub struct LogoutRequest {
    pub client_id: Option<String>,
    pub client: Option<std::sync::Arc<Client>>,
    pub hint: Option<Value>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
}

/// The `post_logout_redirect_uri` is not one the client registered.
#[derive(Debug, thiserror::Error)]
#[error("post_logout_redirect_uri is not registered for this client")]
pub struct UnregisteredRedirect;

/// Check an RP-initiated logout request's parameters.
pub async fn logout_request(
    ctx: &Provider,
    id_token_hint: Option<&str>,
    client_id: Option<&str>,
    post_logout_redirect_uri: Option<&str>,
    state: Option<&str>,
) -> Result<LogoutRequest, UnregisteredRedirect> {
    let hint = id_token_hint.and_then(|t| self::id_token_hint(ctx, t));
    let client_id = client_id.map(str::to_owned).or_else(|| {
        hint.as_ref()
            .and_then(|h| h["aud"].as_str().map(str::to_owned))
    });
    let client = match &client_id {
        Some(id) => clients::get(ctx, id).await.ok().flatten(),
        None => None,
    };
    if let Some(u) = post_logout_redirect_uri {
        if !client
            .as_ref()
            .is_some_and(|c| c.config.post_logout_redirect_uris.iter().any(|r| r == u))
        {
            return Err(UnregisteredRedirect);
        }
    }
    Ok(LogoutRequest {
        client_id,
        client,
        hint,
        post_logout_redirect_uri: post_logout_redirect_uri.map(str::to_owned),
        state: state.map(str::to_owned),
    })
}

impl LogoutRequest {
    /// Does the request's hint name this session (so that it logs out without asking)?
    pub fn names_session(&self, ctx: &Provider, s: &SessionRow) -> bool {
        match (&self.hint, &self.client) {
            (Some(h), Some(c)) => hint_names_session(ctx, h, c, s),
            _ => false,
        }
    }

    /// Where the person goes afterwards: the registered URI with the request's `state`.
    pub fn return_to(&self) -> Option<String> {
        let u = self.post_logout_redirect_uri.as_ref()?;
        Some(
            url::Url::parse(u)
                .map(|mut url| {
                    if let Some(st) = &self.state {
                        url.query_pairs_mut().append_pair("state", st);
                    }
                    url.to_string()
                })
                .unwrap_or_else(|_| u.clone()),
        )
    }
}
