//! What the repository knows about a licence (online verification), and what a verifier looks up
//! before it asks.

/// What the repository knows about a licence (online verification). Offline verification passes
/// `None` and the `certificate_at_signing`, `status` and `repository_record` checks are skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepositoryFacts {
    /// The repository holds a licence with this `jti`.
    pub known: bool,
    /// When the repository recorded its issuance, Unix seconds.
    pub issued_at: i64,
    /// Status events `(at, status)` in the order they happened (0 valid, 1 revoked,
    /// 2 suspended), starting with the issuance's `(issued_at, 0)`.
    pub status_history: Vec<(i64, u8)>,
    /// When the department certificate in the licence's `x5c` was revoked, if it was.
    pub cert_revoked_at: Option<i64>,
    /// The licence's transparency-log leaves `(index, leaf bytes)`, sequenced ones first; index
    /// `None` for a leaf queued but not yet sequenced.
    pub log: Vec<(Option<u64>, Vec<u8>)>,
    /// A memo, empty when built (`..Default::default()`): the issuer-signed JWT a verification found
    /// in `log`, with that leaf's index. The same licence presented again is then matched by
    /// comparing strings instead of hashing it into its leaf again.
    pub logged: std::sync::OnceLock<(String, Option<u64>)>,
}

/// What an online verifier looks up before calling [`verify`]. Read without any verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peek {
    /// The `jti` claim.
    pub licence_id: String,
    /// The department certificate's serial (lowercase hex, as [`crate::pki::serial_hex`]), if
    /// `x5c[0]` parses as a certificate.
    pub cert_serial: Option<String>,
}
