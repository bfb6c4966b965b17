//! The report: the checks by name, each outcome, and the one verdict; [`Recorder`] collects them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The checks' names, in the order a [`Report`] lists them.
pub const CHECKS: [&str; 10] = [
    FORMAT,
    CERTIFICATE_CHAIN,
    CERTIFICATE_AT_SIGNING,
    SIGNATURE,
    ISSUER,
    DISCLOSURES,
    VALIDITY_PERIOD,
    STATUS,
    REPOSITORY_RECORD,
    TRANSPARENCY_LOG,
];

pub(super) const FORMAT: &str = "format";
pub(super) const CERTIFICATE_CHAIN: &str = "certificate_chain";
pub(super) const CERTIFICATE_AT_SIGNING: &str = "certificate_at_signing";
pub(super) const SIGNATURE: &str = "signature";
pub(super) const ISSUER: &str = "issuer";
pub(super) const DISCLOSURES: &str = "disclosures";
pub(super) const VALIDITY_PERIOD: &str = "validity_period";
pub(super) const STATUS: &str = "status";
pub(super) const REPOSITORY_RECORD: &str = "repository_record";
pub(super) const TRANSPARENCY_LOG: &str = "transparency_log";

/// The one answer. Variants are in order of precedence: when several checks fail, the first
/// variant among theirs is the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Malformed,
    NotIssuedHere,
    Tampered,
    InvalidCertificate,
    NotInLog,
    Revoked,
    Suspended,
    Expired,
    NotYetValid,
    Valid,
}

impl Verdict {
    /// Every verdict, in order of precedence.
    pub const ALL: [Verdict; 10] = [
        Self::Malformed,
        Self::NotIssuedHere,
        Self::Tampered,
        Self::InvalidCertificate,
        Self::NotInLog,
        Self::Revoked,
        Self::Suspended,
        Self::Expired,
        Self::NotYetValid,
        Self::Valid,
    ];

    /// The wire name (`snake_case`), also the `/metrics` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::NotIssuedHere => "not_issued_here",
            Self::Tampered => "tampered",
            Self::InvalidCertificate => "invalid_certificate",
            Self::NotInLog => "not_in_log",
            Self::Revoked => "revoked",
            Self::Suspended => "suspended",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::Valid => "valid",
        }
    }

    /// One sentence for a person.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Valid => "valid: genuine, unaltered, within its validity period and not revoked or suspended",
            Self::Revoked => "revoked by the issuing department",
            Self::Suspended => "suspended by the issuing department",
            Self::Expired => "expired: past the end of its validity period",
            Self::NotYetValid => "not yet valid: before the start of its validity period",
            Self::Tampered => "tampered: altered after signing, or its signature or certificate chain does not verify",
            Self::NotIssuedHere => "not issued by this repository",
            Self::NotInLog => "not in the transparency log: the repository holds it, but it was never logged as issued",
            Self::InvalidCertificate => "signed with an expired, not yet valid or revoked department certificate",
            Self::Malformed => "malformed: not a licence this repository could have issued",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckOutcome {
    Pass,
    Fail,
    Skipped,
}

/// One check's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// One of [`CHECKS`].
    pub name: &'static str,
    pub outcome: CheckOutcome,
    /// What was found, in English: why it failed, why it was skipped, or what passed.
    pub detail: String,
}

/// The answer to "is this licence valid at `at`?".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub verdict: Verdict,
    /// Every check of [`CHECKS`], in that order.
    pub checks: Vec<Check>,
    /// The `jti` as the licence states it (set whenever the licence parses: vouched for by the
    /// issuer only if the `signature` check passed).
    pub licence_id: Option<String>,
    /// The `iss` as the licence states it (same caveat as `licence_id`).
    pub issuer: Option<String>,
    /// The claims as disclosed (issuer-signed claims plus the attached disclosures, without
    /// `_sd`/`_sd_alg`); only when the signature and the disclosures verified. Shared with the
    /// online verifier's [`Memo`], which answers a licence presented again without copying them.
    pub claims: Option<std::sync::Arc<Map<String, Value>>>,
    /// The time the question is about, Unix seconds.
    pub at: i64,
}

impl Report {
    /// The check named `name` (one of [`CHECKS`]).
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }
}

/// Collects the checks and the verdict each failure implies.
#[derive(Default)]
pub(super) struct Recorder {
    pub(super) checks: Vec<Check>,
    pub(super) verdict: Option<Verdict>,
}

impl Recorder {
    pub(super) fn push(
        &mut self,
        name: &'static str,
        outcome: CheckOutcome,
        detail: impl Into<String>,
    ) {
        self.checks.push(Check {
            name,
            outcome,
            detail: detail.into(),
        });
    }

    pub(super) fn pass(&mut self, name: &'static str, detail: impl Into<String>) {
        self.push(name, CheckOutcome::Pass, detail);
    }

    pub(super) fn skip(&mut self, name: &'static str, detail: impl Into<String>) {
        self.push(name, CheckOutcome::Skipped, detail);
    }

    pub(super) fn fail(&mut self, name: &'static str, verdict: Verdict, detail: impl Into<String>) {
        self.push(name, CheckOutcome::Fail, detail);
        // Variants are declared in order of precedence.
        self.verdict = Some(self.verdict.map_or(verdict, |v| v.min(verdict)));
    }

    pub(super) fn report(
        self,
        at: i64,
        licence_id: Option<String>,
        issuer: Option<String>,
        claims: Option<std::sync::Arc<Map<String, Value>>>,
    ) -> Report {
        Report {
            verdict: self.verdict.unwrap_or(Verdict::Valid),
            checks: self.checks,
            licence_id,
            issuer,
            claims,
            at,
        }
    }
}

/// A Unix time as `YYYY-MM-DDTHH:MM:SSZ`.
pub(super) fn utc(t: i64) -> String {
    let (y, m, d, h, mi, sec) = crate::domain::time::civil(t);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{sec:02}Z")
}
