//! The licence layer's one error: every case a licence operation refuses or fails with. (No HTTP
//! here: `http/error.rs` alone decides each case's status and problem type.)

/// Why a licence operation was refused, or that it failed.
#[derive(Debug, thiserror::Error)]
pub enum LicenceError {
    // ---- the request as a department sends it ----
    #[error("no such licence type")]
    NoSuchType,
    #[error("this department may not issue this licence type")]
    MayNotIssue,
    /// A field name that belongs to the licence envelope (`iss`, `vct`, `status`...).
    #[error("fields may not use the name {0}: it belongs to the licence envelope")]
    ReservedField(String),
    /// The fields break the type's JSON Schema: each error as the schema checker words it.
    #[error("the fields do not satisfy the licence type's schema: {}", .0.join("; "))]
    FieldsInvalid(Vec<String>),
    #[error("a licence of this type has 1 to {0} holders")]
    HolderCount(usize),
    #[error("this licence type does not take this kind of holder")]
    HolderKind,
    #[error("holder id_kind is unknown")]
    HolderIdKind,
    /// The holder's identity number or USCC does not parse (the parser's reason).
    #[error("holder id: {0}")]
    HolderId(String),
    #[error("the holder is not registered")]
    UnknownHolder,
    #[error("the holder's name does not match the registration")]
    HolderMismatch,
    #[error("a holder is listed twice")]
    HolderTwice,
    #[error("valid_from and valid_until must be Unix times from 1970 to the end of 9999")]
    ValidityRange,
    #[error("valid_until must be after valid_from")]
    ValidityOrder,
    #[error("applied_at must be in the past, at most 20 years ago")]
    AppliedAt,
    #[error("the superseded licence does not exist")]
    NoSuperseded,
    #[error("only the issuer can supersede a licence, with one of the same type")]
    SupersedeForbidden,
    #[error("the superseded licence is already revoked")]
    SupersededRevoked,
    #[error("the superseded licence changed meanwhile; retry")]
    SupersededChanged,
    /// The department holds no valid certificate for this purpose ("licence-signing", "status-list").
    #[error("the department has no valid {0} certificate")]
    NoCertificate(&'static str),
    #[error("no free status index after 8 draws; the list is nearly full")]
    StatusListFull,
    #[error("this Idempotency-Key was used for a different request")]
    KeyReused,
    /// A concurrent request committed first (what it used: "idempotency key", ...).
    #[error("a concurrent request already used this {0}")]
    Concurrent(&'static str),

    #[error("a licence is at most 64 KiB")]
    TooLarge,

    // ---- status changes ----
    /// The reason is not one of the registered ones (listed, comma-separated).
    #[error("reason must be one of {0}")]
    Reason(String),
    #[error("no such licence")]
    NoSuchLicence,
    #[error("only the issuing department may change a licence's status")]
    NotIssuer,
    #[error("the licence is revoked; revocation is final")]
    RevocationFinal,
    #[error("the licence is already suspended")]
    AlreadySuspended,
    #[error("only a suspended licence can be reinstated")]
    NotSuspended,
    #[error("the licence's status changed meanwhile; retry")]
    StatusChanged,
    #[error("no such status list")]
    NoSuchStatusList,

    // ---- reads and shares ----
    #[error("a purpose (申请事由) of 1 to 200 characters is required")]
    Purpose,
    #[error("this department has no registered legal basis to query this licence type")]
    NoLegalBasis,
    #[error("a share lives 60 seconds to 30 days")]
    ShareLifetime,
    #[error("no such licence among yours")]
    NotYours,
    #[error("you may not act for this enterprise")]
    NotActable,
    /// An agent lacks the permission this needs (`licences:read`, `licences:share`...).
    #[error("your agent grant for this enterprise does not include {0}")]
    NotPermitted(&'static str),
    /// Licences follow only a proven identity: a claimed one reaches none.
    #[error("prove your identity first (at a service counter, or with an activation code): a claimed identity reaches no licence")]
    NotProven,
    /// The type's licences are shared, and read under consent, only from a sign-in with a second
    /// factor; this one had none.
    #[error("a licence of type {0} is shared and read under consent only after a sign-in with a second factor (urn:tongban:loa:2)")]
    SecondFactorNeeded(String),
    #[error("this share has expired, been withdrawn or never existed")]
    ShareGone,

    // ---- ours ----
    /// The database cannot be reached, or its schema is gone.
    #[error("the service cannot reach its database; try again later")]
    Unavailable,
    /// A failure on our side: logged where it happened, never described to the caller.
    #[error("the server could not complete the request")]
    Internal,
}

impl LicenceError {
    /// A failure on our side: logged here, never described to the client.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "licence operation failed");
        Self::Internal
    }

    /// The state refused it now, and a retry may find it done (issuance answers a concurrent
    /// retry under the same key from the record).
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            Self::Concurrent(_)
                | Self::SupersededRevoked
                | Self::SupersededChanged
                | Self::NoCertificate(_)
                | Self::StatusListFull
                | Self::RevocationFinal
                | Self::AlreadySuspended
                | Self::NotSuspended
                | Self::StatusChanged
        )
    }
}

impl From<crate::storage::StorageError> for LicenceError {
    fn from(e: crate::storage::StorageError) -> Self {
        match e {
            crate::storage::StorageError::Conflict(w) => Self::Concurrent(w),
            e if e.is_unavailable() => {
                tracing::warn!(error = %e, "database unavailable");
                Self::Unavailable
            }
            e => Self::internal(e),
        }
    }
}
