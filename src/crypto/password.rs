//! Password hashing with argon2id at OWASP's parameters (m = 19 MiB, t = 2, p = 1), on blocking threads
//! behind a semaphore so a burst of logins can neither starve the async runtime nor exhaust memory.
//! An unknown account is checked against a dummy hash, so timing does not reveal which accounts exist.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed")]
    Hash,
    #[error("the password hashing pool is shut down")]
    Closed,
}

#[derive(Clone)]
pub struct PasswordHasherPool {
    permits: Arc<Semaphore>,
    params: Params,
    dummy: Arc<String>,
    /// Passwords checked so far (the dummy checks included): what the login throttle bounds.
    verified: Arc<AtomicU64>,
}

impl std::fmt::Debug for PasswordHasherPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasherPool")
            .field("params", &self.params)
            .finish()
    }
}

fn argon(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

pub fn hash_blocking(params: &Params, password: &str) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut OsRng);
    argon(params)
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| PasswordError::Hash)
}

pub fn verify_blocking(params: &Params, password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            argon(params)
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

impl PasswordHasherPool {
    /// `m_kib`, `t`, `p`: argon2id parameters; `concurrency`: hashes at once (the core count).
    pub fn new(m_kib: u32, t: u32, p: u32, concurrency: usize) -> Result<Self, PasswordError> {
        let params = Params::new(m_kib, t, p, None).map_err(|_| PasswordError::Hash)?;
        let dummy = hash_blocking(&params, "dummy password for unknown accounts")?;
        Ok(Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            params,
            dummy: Arc::new(dummy),
            verified: Arc::new(AtomicU64::new(0)),
        })
    }

    pub async fn hash(&self, password: String) -> Result<String, PasswordError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| PasswordError::Closed)?;
        let params = self.params.clone();
        tokio::task::spawn_blocking(move || hash_blocking(&params, &password))
            .await
            .map_err(|_| PasswordError::Hash)?
    }

    /// Verify against `phc`, or against the dummy hash when the account is unknown (`None`): the
    /// answer is then always `false`, after the same work.
    /// How many passwords this pool has checked.
    pub fn verifications(&self) -> u64 {
        self.verified.load(Ordering::Relaxed)
    }

    pub async fn verify(
        &self,
        password: String,
        phc: Option<String>,
    ) -> Result<bool, PasswordError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| PasswordError::Closed)?;
        let params = self.params.clone();
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| self.dummy.as_ref().clone());
        self.verified.fetch_add(1, Ordering::Relaxed);
        let ok = tokio::task::spawn_blocking(move || verify_blocking(&params, &password, &phc))
            .await
            .map_err(|_| PasswordError::Hash)?;
        Ok(ok && known)
    }
}

/// Which rule of the password policy a new password breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("password_too_short: the password has fewer than 10 characters")]
    TooShort,
    #[error("password_too_long: the password has more than 128 characters")]
    TooLong,
    #[error("password_too_simple: the password uses fewer than two kinds of character")]
    TooSimple,
    #[error("password_too_common: the password contains a very common password")]
    TooCommon,
    #[error("password_contains_identifier: the password contains the account's own identifier")]
    ContainsIdentifier,
}

impl PolicyError {
    /// The message catalogue's key.
    pub fn key(self) -> &'static str {
        match self {
            Self::TooShort => "password_too_short",
            Self::TooLong => "password_too_long",
            Self::TooSimple => "password_too_simple",
            Self::TooCommon => "password_too_common",
            Self::ContainsIdentifier => "password_contains_identifier",
        }
    }
}

/// The password policy: 10 to 128 characters, at least two character classes, not one of the most common
/// passwords, and not containing the user's own identifiers.
pub fn check_policy(password: &str, identifiers: &[&str]) -> Result<(), PolicyError> {
    let n = password.chars().count();
    if n < 10 {
        return Err(PolicyError::TooShort);
    }
    if n > 128 {
        return Err(PolicyError::TooLong);
    }
    let classes = [
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_ascii_alphanumeric()),
    ];
    if classes.iter().filter(|c| **c).count() < 2 {
        return Err(PolicyError::TooSimple);
    }
    const COMMON: [&str; 8] = [
        "1234567890",
        "password12",
        "qwertyuiop",
        "1q2w3e4r5t",
        "a123456789",
        "woaini1314",
        "iloveyou12",
        "abc1234567",
    ];
    let lower = password.to_lowercase();
    if COMMON.iter().any(|c| lower.contains(c)) {
        return Err(PolicyError::TooCommon);
    }
    if identifiers
        .iter()
        .any(|i| i.len() >= 4 && lower.contains(&i.to_lowercase()))
    {
        return Err(PolicyError::ContainsIdentifier);
    }
    Ok(())
}
