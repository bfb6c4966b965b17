//! The tokens the provider mints: JWT access tokens (RFC 9068, `at+jwt`, always ES256), ID tokens
//! (ES256 or RS256 per client), back-channel logout tokens; and the verification of access tokens for
//! userinfo and introspection: one signature check per token thanks to the `verified` cache, revocation
//! checked against the in-memory deny list, no database round trip.

use crate::metrics::CacheName;
use std::sync::Arc;

use serde_json::{json, Map, Value};

pub use super::claims::{AccessClaims, Act};
use super::context::Provider;
use super::denylist::DenyKind;
use super::error::OAuthError;
use crate::crypto::jwt::{self, JwtError};
use crate::crypto::keys::SigningAlg;
use crate::crypto::{b64url, random_id, sha256};

/// What an access token is for, before it is signed.
pub struct AccessGrant<'a> {
    pub sub: String,
    pub client_id: &'a str,
    pub scope: &'a str,
    pub auth_time: Option<i64>,
    pub acr: Option<String>,
    pub amr: Option<Vec<String>>,
    pub gid: Option<String>,
    pub act: Option<Act>,
}

/// Mint a signed access token; returns it with its lifetime in seconds.
pub fn mint_access(
    ctx: &Provider,
    g: AccessGrant<'_>,
    now: i64,
) -> Result<(String, i64), OAuthError> {
    let ttl = ctx.access_token_ttl;
    let claims = AccessClaims {
        iss: ctx.issuer.clone(),
        sub: g.sub,
        aud: ctx.issuer.clone(),
        client_id: g.client_id.to_owned(),
        scope: g.scope.to_owned(),
        exp: now + ttl,
        iat: now,
        jti: random_id(),
        auth_time: g.auth_time,
        acr: g.acr,
        amr: g.amr,
        gid: g.gid,
        act: g.act,
    };
    let keys = ctx.keys.current();
    let token = jwt::sign(&keys, SigningAlg::ES256, "at+jwt", &claims).map_err(|e| {
        tracing::error!(error = %e, "access token signing failed");
        OAuthError::server_error()
    })?;
    Ok((token, ttl))
}

/// Sign an ID token (or any JWT for a client) with the client's algorithm. RS256 costs most of a
/// millisecond, so it runs on a blocking thread; ES256 (~20 µs) runs inline.
pub async fn sign_for_client(
    ctx: &Provider,
    alg: SigningAlg,
    typ: &'static str,
    claims: Value,
) -> Result<String, OAuthError> {
    let keys = ctx.keys.current();
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
    ctx: &Provider,
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
    c.insert("iss".into(), json!(ctx.issuer));
    c.insert("sub".into(), json!(sub));
    c.insert("aud".into(), json!(client_id));
    c.insert("azp".into(), json!(client_id));
    c.insert("exp".into(), json!(now + ctx.id_token_ttl));
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
pub fn client_sid(ctx: &Provider, client_id: &str, session_id: &str) -> String {
    ctx.keys
        .data()
        .pairwise_subject(&format!("sid:{client_id}"), session_id)
}

/// Verify an access token for userinfo or introspection. Errors say why, for logs and tests; callers
/// decide what the client sees.
pub fn verify_access(
    ctx: &Provider,
    token: &str,
    now: i64,
) -> Result<Arc<AccessClaims>, OAuthError> {
    let claims = match ctx
        .metrics
        .lookup(CacheName::VerifiedTokens, ctx.verified.get(token))
    {
        Some(c) => c,
        None => {
            let keys = ctx.keys.current();
            let c: AccessClaims = jwt::verify(&keys, token, "at+jwt", now)
                .map_err(|e| OAuthError::invalid_token(e.to_string()))?;
            if c.iss != ctx.issuer {
                return Err(OAuthError::invalid_token(
                    "the token was issued by another issuer",
                ));
            }
            let c = Arc::new(c);
            ctx.verified.insert(token.to_owned(), c.clone());
            c
        }
    };
    if claims.exp <= now {
        return Err(OAuthError::invalid_token("the token has expired"));
    }
    if ctx.deny.contains(DenyKind::Jti, &claims.jti)
        || ctx.deny.contains(DenyKind::Client, &claims.client_id)
        || claims
            .gid
            .as_deref()
            .is_some_and(|g| ctx.deny.contains(DenyKind::Grant, g))
    {
        return Err(OAuthError::invalid_token("the token has been revoked"));
    }
    Ok(claims)
}

pub const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

pub fn logout_token_claims(
    ctx: &Provider,
    client_id: &str,
    sub: &str,
    sid: &str,
    now: i64,
) -> Value {
    json!({
        "iss": ctx.issuer,
        "aud": client_id,
        "iat": now,
        "exp": now + 120,
        "jti": random_id(),
        "sub": sub,
        "sid": sid,
        "events": { BACKCHANNEL_EVENT: {} },
    })
}
