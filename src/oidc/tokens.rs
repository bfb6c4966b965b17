//! The tokens the provider mints: JWT access tokens (RFC 9068, `at+jwt`, always ES256), ID tokens
//! (ES256 or RS256 per client), back-channel logout tokens; and the verification of access tokens for
//! userinfo and introspection: one signature check per token thanks to the `verified` cache, revocation
//! checked against the in-memory deny list, no database round trip.

use crate::metrics::CacheName;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::denylist::DenyKind;
use super::error::OAuthError;
use crate::crypto::jwt::{self, JwtError};
use crate::crypto::keys::SigningAlg;
use crate::crypto::{b64url, random_id, sha256};
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Act {
    pub sub: String,
}

/// RFC 9068 access token claims, plus `gid` (the grant, for revocation and for userinfo to find the
/// person without putting any identifier of theirs in the token) and `act` for enterprise agents.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Act>,
}

impl AccessClaims {
    pub fn has_scope(&self, s: &str) -> bool {
        self.scope.split(' ').any(|x| x == s)
    }
}

/// What an access token is for, before it is signed.
pub struct AccessGrant<'a> {
    pub sub: String,
    pub client_id: &'a str,
    pub scope: &'a str,
    pub auth_time: Option<i64>,
    pub acr: Option<String>,
    pub gid: Option<String>,
    pub act: Option<Act>,
}

/// Mint a signed access token; returns it with its lifetime in seconds.
pub fn mint_access(
    state: &AppState,
    g: AccessGrant<'_>,
    now: i64,
) -> Result<(String, i64), OAuthError> {
    let ttl = state.config.access_token_ttl;
    let claims = AccessClaims {
        iss: state.issuer.clone(),
        sub: g.sub,
        aud: state.issuer.clone(),
        client_id: g.client_id.to_owned(),
        scope: g.scope.to_owned(),
        exp: now + ttl,
        iat: now,
        jti: random_id(),
        auth_time: g.auth_time,
        acr: g.acr,
        gid: g.gid,
        act: g.act,
    };
    let keys = state.keys.current();
    let token = jwt::sign(&keys, SigningAlg::ES256, "at+jwt", &claims).map_err(|e| {
        tracing::error!(error = %e, "access token signing failed");
        OAuthError::server_error()
    })?;
    Ok((token, ttl))
}

/// Sign an ID token (or any JWT for a client) with the client's algorithm. RS256 costs most of a
/// millisecond, so it runs on a blocking thread; ES256 (~20 µs) runs inline.
pub async fn sign_for_client(
    state: &AppState,
    alg: SigningAlg,
    typ: &'static str,
    claims: Value,
) -> Result<String, OAuthError> {
    let keys = state.keys.current();
    let result = match alg {
        SigningAlg::ES256 => jwt::sign(&keys, alg, typ, &claims),
        SigningAlg::RS256 => {
            tokio::task::spawn_blocking(move || jwt::sign(&keys, alg, typ, &claims))
                .await
                .unwrap_or(Err(JwtError::Signing))
        }
    };
    result.map_err(|e| {
        tracing::error!(error = %e, "token signing failed");
        OAuthError::server_error()
    })
}

/// `at_hash`: the left half of SHA-256 of the access token (both our algorithms use SHA-256).
pub fn at_hash(access_token: &str) -> String {
    b64url(&sha256(access_token.as_bytes())[..16])
}

/// The base claims of an ID token; the caller adds profile claims.
#[allow(clippy::too_many_arguments)]
pub fn id_token_claims(
    state: &AppState,
    sub: &str,
    client_id: &str,
    now: i64,
    auth_time: i64,
    nonce: Option<&str>,
    acr: &str,
    amr: &[String],
    sid: Option<&str>,
    access_token: Option<&str>,
) -> Map<String, Value> {
    let mut c = Map::new();
    c.insert("iss".into(), json!(state.issuer));
    c.insert("sub".into(), json!(sub));
    c.insert("aud".into(), json!(client_id));
    c.insert("azp".into(), json!(client_id));
    c.insert("exp".into(), json!(now + state.config.id_token_ttl));
    c.insert("iat".into(), json!(now));
    c.insert("auth_time".into(), json!(auth_time));
    c.insert("acr".into(), json!(acr));
    c.insert("amr".into(), json!(amr));
    if let Some(n) = nonce {
        c.insert("nonce".into(), json!(n));
    }
    if let Some(s) = sid {
        c.insert("sid".into(), json!(s));
    }
    if let Some(at) = access_token {
        c.insert("at_hash".into(), json!(at_hash(at)));
    }
    c
}

/// The `sid` a client sees for a session: per client, so portals cannot correlate sessions.
pub fn client_sid(state: &AppState, client_id: &str, session_id: &str) -> String {
    state
        .keys
        .data()
        .pairwise_subject(&format!("sid:{client_id}"), session_id)
}

/// Verify an access token for userinfo or introspection. Errors say why, for logs and tests; callers
/// decide what the client sees.
pub fn verify_access(
    state: &AppState,
    token: &str,
    now: i64,
) -> Result<Arc<AccessClaims>, OAuthError> {
    let claims = match state
        .metrics
        .lookup(CacheName::VerifiedTokens, state.verified.get(token))
    {
        Some(c) => c,
        None => {
            let keys = state.keys.current();
            let c: AccessClaims = jwt::verify(&keys, token, "at+jwt", now)
                .map_err(|e| OAuthError::invalid_token(e.to_string()))?;
            if c.iss != state.issuer {
                return Err(OAuthError::invalid_token(
                    "the token was issued by another issuer",
                ));
            }
            let c = Arc::new(c);
            state.verified.insert(token.to_owned(), c.clone());
            c
        }
    };
    if claims.exp <= now {
        return Err(OAuthError::invalid_token("the token has expired"));
    }
    if state.deny.contains(DenyKind::Jti, &claims.jti)
        || state.deny.contains(DenyKind::Client, &claims.client_id)
        || claims
            .gid
            .as_deref()
            .is_some_and(|g| state.deny.contains(DenyKind::Grant, g))
    {
        return Err(OAuthError::invalid_token("the token has been revoked"));
    }
    Ok(claims)
}

pub const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

pub fn logout_token_claims(
    state: &AppState,
    client_id: &str,
    sub: &str,
    sid: &str,
    now: i64,
) -> Value {
    json!({
        "iss": state.issuer,
        "aud": client_id,
        "iat": now,
        "exp": now + 120,
        "jti": random_id(),
        "sub": sub,
        "sid": sid,
        "events": { BACKCHANNEL_EVENT: {} },
    })
}
