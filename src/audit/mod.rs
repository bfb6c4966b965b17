//! Every step leaves a trace (全程留痕): the audit log and, with [`crate::tlog`], the transparency log.
//!
//! A state change or an access records one [`Event`] with [`record`] **in the transaction of the
//! change**, so an event exists exactly when the change committed. Events hold who (`actor`), what
//! ([`Action`]), on which object, when, and a JSON `detail` of codes and identifiers — never names, ID
//! numbers, passwords or tokens. The sealer ([`sealer`]) later chains them: link `n` holds the event
//! and `SHA-256(hash of link n-1 || the event's canonical bytes)` ([`chain::link_hash`]); `tongban audit
//! verify` ([`chain::verify`]) walks the chain and names the first event that does not match. The
//! database refuses UPDATE and DELETE of events and links (triggers, both backends).

pub mod chain;
pub mod commands;
pub mod context;
pub mod licence_log;
pub mod rounds;
pub mod sealer;
pub mod supervision;

pub use context::Audit;

use serde_json::Value;

use crate::storage::{self, StorageError, Tx};

/// What happened. The string forms (`as_str`) are what is stored and what supervision counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    LicenceIssued,
    LicenceSuspended,
    LicenceReinstated,
    LicenceRevoked,
    /// A department read licences under a registered legal basis.
    LicenceQueriedByLegalBasis,
    /// A portal read licences with the holder's consent.
    LicenceQueriedWithConsent,
    ShareCreated,
    ShareOpened,
    ShareWithdrawn,
    /// A department system verified a licence through the API.
    LicenceVerifiedByDepartment,
    LoginSucceeded,
    LoginFailed,
    ConsentGiven,
    ConsentWithdrawn,
    AgentGranted,
    AgentRevoked,
    ClientRegistered,
    ClientRemoved,
    KeysRotated,
    DepartmentRegistered,
    DepartmentCertificatesRenewed,
    DepartmentCertificateRevoked,
    LicenceTypeRegistered,
    /// A public verification of a licence the repository holds did not answer "valid".
    LicenceVerificationFailed,
    AuditorGranted,
    /// An account's claimed identity was proven (at a counter, by an activation code...).
    IdentityProven,
    /// A proven identity's number was detached from an account that only claimed it.
    IdentityDetached,
    ActivationCodeIssued,
    StaffRoleGranted,
    /// An agent read an enterprise's licence for it.
    LicenceReadByAgent,
    /// An agent shared an enterprise's licence.
    LicenceSharedByAgent,
    AccountEnabled,
    /// The operator changed an enterprise's legal representative.
    LegalRepresentativeChanged,
    /// A second factor was set up (a TOTP key confirmed, a passkey registered).
    FactorAdded,
    FactorRemoved,
    RecoveryCodesRenewed,
    /// A live session was raised to a higher level by a second factor.
    SessionSteppedUp,
    /// The person showed they receive mail at their address, or texts at their number.
    EmailVerified,
    PhoneVerified,
    /// A password was changed (knowing the old one) or reset (through a verified address).
    PasswordChanged,
    PasswordReset,
    /// A security notice was queued for the person's verified email.
    NoticeQueued,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LicenceIssued => "licence.issued",
            Self::LicenceSuspended => "licence.suspended",
            Self::LicenceReinstated => "licence.reinstated",
            Self::LicenceRevoked => "licence.revoked",
            Self::LicenceQueriedByLegalBasis => "licence.queried.legal_basis",
            Self::LicenceQueriedWithConsent => "licence.queried.consent",
            Self::ShareCreated => "share.created",
            Self::ShareOpened => "share.opened",
            Self::ShareWithdrawn => "share.withdrawn",
            Self::LicenceVerifiedByDepartment => "licence.verified.department",
            Self::LoginSucceeded => "login.succeeded",
            Self::LoginFailed => "login.failed",
            Self::ConsentGiven => "consent.given",
            Self::ConsentWithdrawn => "consent.withdrawn",
            Self::AgentGranted => "agent.granted",
            Self::AgentRevoked => "agent.revoked",
            Self::ClientRegistered => "client.registered",
            Self::ClientRemoved => "client.removed",
            Self::KeysRotated => "keys.rotated",
            Self::DepartmentRegistered => "department.registered",
            Self::DepartmentCertificatesRenewed => "department.certificates_renewed",
            Self::DepartmentCertificateRevoked => "department.certificate_revoked",
            Self::LicenceTypeRegistered => "licence_type.registered",
            Self::LicenceVerificationFailed => "licence.verification_failed",
            Self::AuditorGranted => "auditor.granted",
            Self::IdentityProven => "identity.proven",
            Self::IdentityDetached => "identity.detached",
            Self::ActivationCodeIssued => "activation_code.issued",
            Self::StaffRoleGranted => "staff_role.granted",
            Self::LicenceReadByAgent => "licence.read.agent",
            Self::LicenceSharedByAgent => "licence.shared.agent",
            Self::AccountEnabled => "account.enabled",
            Self::LegalRepresentativeChanged => "enterprise.legal_representative_changed",
            Self::FactorAdded => "factor.added",
            Self::FactorRemoved => "factor.removed",
            Self::RecoveryCodesRenewed => "recovery_codes.renewed",
            Self::SessionSteppedUp => "session.stepped_up",
            Self::EmailVerified => "contact.email_verified",
            Self::PhoneVerified => "contact.phone_verified",
            Self::PasswordChanged => "password.changed",
            Self::PasswordReset => "password.reset",
            Self::NoticeQueued => "notice.queued",
        }
    }
}

/// Who acted, as stored: `account:<id>`, `client:<id>`, `department:<id>`, `operator:cli`,
/// `address:<ip>` (an anonymous request), or `system`.
pub fn account(id: &str) -> String {
    format!("account:{id}")
}
pub fn client(id: &str) -> String {
    format!("client:{id}")
}
pub fn department(id: &str) -> String {
    format!("department:{id}")
}
pub const OPERATOR_CLI: &str = "operator:cli";
pub const SYSTEM: &str = "system";

/// [`record`] as a part of a statement that writes the change it describes (issuance).
pub fn record_into(
    b: &mut storage::Batch,
    at: i64,
    actor: &str,
    action: Action,
    object: &str,
    detail: Value,
) {
    let detail = if detail.is_null() {
        "{}".to_owned()
    } else {
        detail.to_string()
    };
    storage::audit::insert_into(b, at, actor, action.as_str(), object, detail);
}

/// Record an event in `tx`, the transaction of the change it describes.
pub async fn record(
    tx: &mut Tx,
    at: i64,
    actor: &str,
    action: Action,
    object: &str,
    detail: Value,
) -> Result<(), StorageError> {
    let detail = if detail.is_null() {
        "{}".to_owned()
    } else {
        detail.to_string()
    };
    storage::audit::insert(tx, at, actor, action.as_str(), object, &detail).await?;
    Ok(())
}
