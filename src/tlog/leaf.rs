//! What the licence transparency log's leaves hold. A leaf is the canonical JSON of a [`Leaf`]:
//! hashes and codes only — the licence identifier (a GB/T 36904 code), the event, the status and
//! reason codes, the time and, for issuance, the SHA-256 of the issuer-signed JWT. No holder, no field
//! value. Anyone holding a licence can recompute its issuance leaf ([`issued_leaf`]) and check it
//! against a receipt or the log.

use serde::{Deserialize, Serialize};

/// One log entry. Field order is the canonical order (serde serialises in declaration order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Leaf {
    /// Format version, 1.
    pub v: u8,
    /// `issued`, `suspended`, `reinstated` or `revoked`.
    pub event: String,
    /// The licence identifier (`jti`).
    pub licence: String,
    /// Issuance only: base64url SHA-256 of the issuer-signed JWT (`<header>.<payload>.<signature>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The status after the event: 0 valid, 1 revoked, 2 suspended.
    pub status: u8,
    /// The reason code of a status change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When, Unix seconds (for issuance, the licence's `iat`).
    pub at: i64,
}

impl Leaf {
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// The issuance leaf of a licence: from its `jti`, `iat` and the issuer-signed JWT (the part of the
/// SD-JWT before the first `~`).
pub fn issued_leaf(jti: &str, iat: i64, issuer_signed_jwt: &str) -> Leaf {
    Leaf {
        v: 1,
        event: "issued".into(),
        licence: jti.to_owned(),
        digest: Some(crate::crypto::b64url(crate::crypto::sha256(
            issuer_signed_jwt.as_bytes(),
        ))),
        status: 0,
        reason: None,
        at: iat,
    }
}

/// The leaf of a status change.
pub fn status_leaf(jti: &str, status: u8, reason: &str, at: i64) -> Leaf {
    let event = match status {
        0 => "reinstated",
        1 => "revoked",
        _ => "suspended",
    };
    Leaf {
        v: 1,
        event: event.into(),
        licence: jti.to_owned(),
        digest: None,
        status,
        reason: Some(reason.to_owned()),
        at,
    }
}
