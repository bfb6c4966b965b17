//! What the OpenID provider needs, built once at start-up: clients, keys, the deny list, the caches of
//! verified tokens and userinfo answers, and the token lifetimes.

use std::sync::Arc;

use moka::sync::Cache;

use super::claims::AccessClaims;
use super::denylist::DenyList;
use super::registration::Client;
use crate::crypto::keys::KeyDir;
use crate::identity::Identity;
use crate::metrics::Metrics;
use crate::storage::Db;

#[derive(Clone)]
pub struct Provider {
    pub db: Db,
    /// The issuer URL without a trailing slash; every token's `iss`.
    pub issuer: String,
    /// Signing keys (reloadable) and data keys.
    pub keys: Arc<KeyDir>,
    /// Accounts and sessions, for the claims about them.
    pub identity: Identity,
    /// Registered clients by id. Invalidated when a client is changed through this node.
    pub clients: Cache<String, Arc<Client>>,
    /// Access tokens that verified, by token string, so repeated introspection and userinfo calls cost
    /// no signature check. Entries expire with the token; revocation is checked on every hit.
    pub verified: Cache<String, Arc<AccessClaims>>,
    /// Revoked `jti`s and grants, in memory.
    pub deny: Arc<DenyList>,
    /// Userinfo responses by (grant, scope); revocation is checked before this cache is consulted.
    pub userinfo: Cache<String, Arc<serde_json::Value>>,
    /// HTTP client for back-channel logout delivery.
    pub http: reqwest::Client,
    pub metrics: Arc<Metrics>,
    /// Lifetimes in seconds (see `Config`); `max_token_ttl` is the longest of the token lifetimes.
    pub access_token_ttl: i64,
    pub id_token_ttl: i64,
    pub refresh_token_ttl: i64,
    pub code_ttl: i64,
    pub max_token_ttl: i64,
}
