//! What the identity layer needs, built once at start-up.

use std::sync::Arc;

use super::throttle::Throttle;
use crate::crypto::keys::KeyDir;
use crate::crypto::password::PasswordHasherPool;
use crate::metrics::Metrics;
use crate::storage::Db;

#[derive(Clone)]
pub struct Identity {
    pub db: Db,
    /// The data keys: ID numbers are sealed and blind-indexed with them.
    pub keys: Arc<KeyDir>,
    pub passwords: PasswordHasherPool,
    pub throttle: Throttle,
    pub metrics: Arc<Metrics>,
    /// Seconds an SSO session lives at most, and without use.
    pub session_absolute_ttl: i64,
    pub session_idle_ttl: i64,
    /// The WebAuthn relying party (the issuer's host); `None` when the issuer is not on a domain
    /// name, and then no passkeys are offered.
    pub passkeys: Option<Arc<webauthn_rs::Webauthn>>,
    /// The public base URL, for the links mail carries.
    pub issuer: String,
    /// Woken when a message is queued (the delivery task also looks every second).
    pub outbox: Arc<tokio::sync::Notify>,
}
