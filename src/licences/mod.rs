//! Electronic licences: GB/T 36904 identifiers, the SD-JWT VC format, IETF token status lists.

pub mod catalogue;
pub mod context;
pub mod departments;
pub mod id;
pub mod issuance;
pub mod issue;
pub mod lookup;
pub mod registry;
pub mod request;
pub mod revocation;
pub mod sdjwt;
pub mod statuslist;
pub mod vc;
pub mod verify;

/// A licence operation refused or failed; `status` is the HTTP status the API answers with, `kind` the
/// problem type. (No HTTP types here: `http::api` turns it into RFC 9457 problem details.)
#[derive(Debug)]
pub struct LicenceError {
    pub status: u16,
    pub kind: &'static str,
    pub detail: String,
}

impl LicenceError {
    pub fn bad(detail: impl Into<String>) -> Self {
        Self {
            status: 400,
            kind: "bad-request",
            detail: detail.into(),
        }
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self {
            status: 403,
            kind: "forbidden",
            detail: detail.into(),
        }
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self {
            status: 404,
            kind: "not-found",
            detail: detail.into(),
        }
    }
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self {
            status: 409,
            kind: "conflict",
            detail: detail.into(),
        }
    }
    pub fn unprocessable(kind: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status: 422,
            kind,
            detail: detail.into(),
        }
    }
    /// A failure on our side: logged here, never described to the client.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "licence operation failed");
        Self {
            status: 500,
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
                    status: 503,
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
pub mod access;

pub use context::Licences;
