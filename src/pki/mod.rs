//! The licence PKI: a root and an intermediate CA (P-256), department signing and status-list
//! certificates, and certificate path validation at a given time.
//!
//! - [`oids`]: the extended key usages (licence signing, status-list signing) and [`Purpose`];
//! - [`keys`]: department key pairs (ring, PKCS#8) and their public keys;
//! - [`ca`]: the root and intermediate on disk ([`Ca`]);
//! - [`issue`]: department certificates ([`Ca::issue_department`]);
//! - `der`: the extensions rcgen would not encode in DER (basicConstraints, keyUsage);
//! - [`path`]: RFC 5280 path validation at a given time ([`validate_chain`]).
//!
//! Which department certificate is current, and when one was revoked, is database state kept
//! elsewhere; this module is pure: certificates in, answers out, time as a parameter.

pub mod ca;
mod der;
pub mod issue;
pub mod keys;
pub mod oids;
pub mod path;

#[cfg(test)]
mod tests;

pub use ca::Ca;
pub use issue::{DepartmentSubject, IssueError, IssuedCert};
pub use keys::{generate_department_key, DepartmentKey, DepartmentPublicKey, KeyError};
pub use oids::Purpose;
pub use path::{validate_chain, CertRole, PathError, ValidatedChain};

use ring::rand::{SecureRandom, SystemRandom};

/// A random positive 128-bit certificate serial number; `None` if the system RNG fails.
fn random_serial() -> Option<rcgen::SerialNumber> {
    let mut bytes = [0u8; 16];
    SystemRandom::new().fill(&mut bytes).ok()?;
    Some(rcgen::SerialNumber::from_slice(&bytes))
}

/// Set `not_before`/`not_after` from Unix seconds; `None` if either is out of X.509's range.
/// (rcgen takes `time::OffsetDateTime`; x509-parser converts for us, so the crate needs no direct
/// dependency on `time`.)
fn set_validity(params: &mut rcgen::CertificateParams, from: i64, to: i64) -> Option<()> {
    use x509_parser::time::ASN1Time;
    params.not_before = ASN1Time::from_timestamp(from).ok()?.to_datetime();
    params.not_after = ASN1Time::from_timestamp(to).ok()?.to_datetime();
    Some(())
}

/// A certificate serial as lowercase hex of the positive integer, without leading zero bytes (so
/// the issuer's record and the parsed certificate agree whatever DER padding was added).
pub fn serial_hex(raw: &[u8]) -> String {
    let start = raw.iter().position(|b| *b != 0).unwrap_or(raw.len());
    let hex: String = raw[start..].iter().map(|b| format!("{b:02x}")).collect();
    if hex.is_empty() {
        "00".to_owned()
    } else {
        hex
    }
}
