//! The licence layer's one error: what kind of refusal, the problem type, and a detail.

/// What kind of refusal (or failure) a licence operation met; `http/error.rs` alone decides which HTTP
/// status each answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The request is malformed or breaks a rule of the licence type.
    BadRequest,
    /// The caller may not do this (scope, issuer, legal basis, consent).
    Forbidden,
    NotFound,
    /// The state forbids it now (a concurrent request, no valid certificate, already revoked).
    Conflict,
    /// It existed and no longer does (a withdrawn or expired share).
    Gone,
    /// Well-formed but not acceptable (a reused idempotency key, fields the schema refuses).
    Unprocessable,
    /// The database cannot be reached, or its schema is gone.
    Unavailable,
    /// A failure on our side: logged where it happened, never described to the caller.
    Internal,
}

/// A licence operation refused or failed: the kind of refusal, the problem type and a detail for the
/// caller. (No HTTP here: `http/error.rs` turns it into RFC 9457 problem details.)
#[derive(Debug, thiserror::Error)]
#[error("{kind}: {detail}")]
pub struct LicenceError {
    pub refusal: Refusal,
    pub kind: &'static str,
    pub detail: String,
}

impl LicenceError {
    pub fn bad(detail: impl Into<String>) -> Self {
        Self {
            refusal: Refusal::BadRequest,
            kind: "bad-request",
            detail: detail.into(),
        }
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self {
            refusal: Refusal::Forbidden,
            kind: "forbidden",
            detail: detail.into(),
        }
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self {
            refusal: Refusal::NotFound,
            kind: "not-found",
            detail: detail.into(),
        }
    }
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self {
            refusal: Refusal::Conflict,
            kind: "conflict",
            detail: detail.into(),
        }
    }
    pub fn unprocessable(kind: &'static str, detail: impl Into<String>) -> Self {
        Self {
            refusal: Refusal::Unprocessable,
            kind,
            detail: detail.into(),
        }
    }
    /// A failure on our side: logged here, never described to the client.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "licence operation failed");
        Self {
            refusal: Refusal::Internal,
            kind: "internal",
            detail: "the server could not complete the request".into(),
        }
    }
}

impl From<crate::storage::StorageError> for LicenceError {
    fn from(e: crate::storage::StorageError) -> Self {
        match e {
            crate::storage::StorageError::Conflict(w) => {
                Self::conflict(format!("a concurrent request already used this {w}"))
            }
            e if e.is_unavailable() => {
                tracing::warn!(error = %e, "database unavailable");
                Self {
                    refusal: Refusal::Unavailable,
                    kind: UNAVAILABLE,
                    detail: "the service cannot reach its database; try again later".into(),
                }
            }
            e => Self::internal(e),
        }
    }
}

/// The problem type of a 503: the database cannot be reached, or its schema is gone.
pub const UNAVAILABLE: &str = "unavailable";
