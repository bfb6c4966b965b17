//! Department certificates, issued by the intermediate: one for signing licences and a separate one
//! for signing status lists, each with its own extended key usage ([`Purpose`]).
//!
//! Profile: subject `CN = O = <department name>, serialNumber = <USCC>`; SAN URI = the
//! department's `iss` URL (the `iss` claim of its licences); keyUsage digitalSignature (critical);
//! basicConstraints cA=false (critical, in DER the empty SEQUENCE `30 00`: see [`super::der`]);
//! extendedKeyUsage the purpose's OID; subject and authority
//! key identifiers; a random 128-bit serial.
//!
//! Renewal is a new issuance (new key, new serial, usually overlapping validity); revocation is a
//! database record with its time. Neither changes an issued certificate, so a licence signed while
//! a certificate was current keeps verifying at its signing time.

use rcgen::{
    CertificateParams, CustomExtension, DnType, DnValue, Ia5String, IsCa, PrintableString, SanType,
};

use super::der::{self, KeyUsageBit};
use super::oids::{eku_extension_value, Purpose};
use super::{random_serial, serial_hex, set_validity, Ca, DepartmentPublicKey};
use crate::domain::ids::Uscc;

/// `id-ce-extKeyUsage` (2.5.29.37).
const EXT_KEY_USAGE: &[u64] = &[2, 5, 29, 37];
/// X.520 `serialNumber` attribute (2.5.4.5), holding the department's USCC.
const DN_SERIAL_NUMBER: &[u64] = &[2, 5, 4, 5];
/// RFC 5280 upper bound on a common name, in characters.
const UB_COMMON_NAME: usize = 64;

/// Who a department certificate is for.
#[derive(Debug, Clone, Copy)]
pub struct DepartmentSubject<'a> {
    /// The department's name, e.g. "杭州市市场监督管理局" (1 to 64 characters).
    pub name: &'a str,
    /// The department's unified social credit code.
    pub uscc: &'a Uscc,
    /// The department's `iss` URL (absolute `https` or `http`, ASCII), written verbatim as the
    /// SAN URI; licences carry exactly this string as `iss`.
    pub iss_url: &'a str,
}

/// A certificate just issued.
#[derive(Debug, Clone)]
pub struct IssuedCert {
    /// The certificate, DER (the first element of a licence's `x5c`, base64).
    pub der: Vec<u8>,
    /// The certificate, PEM.
    pub pem: String,
    /// The serial number, lowercase hex (see [`super::serial_hex`]).
    pub serial: String,
    /// Start of validity, Unix seconds.
    pub not_before: i64,
    /// End of validity, Unix seconds.
    pub not_after: i64,
}

/// Why a department certificate was not issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// The department name is empty, too long, or has surrounding spaces.
    #[error("department name must be 1 to 64 characters without surrounding spaces")]
    InvalidName,
    /// The `iss` URL is not an absolute ASCII http(s) URL with a host.
    #[error("department iss URL must be an absolute ASCII https or http URL with a host")]
    InvalidIssUrl,
    /// `not_before >= not_after`, or the period does not fit inside the intermediate's validity.
    #[error("certificate validity must be a non-empty period inside the intermediate's")]
    InvalidValidity,
    /// The system random number generator failed.
    #[error("no randomness for a serial number")]
    Randomness,
    /// rcgen refused to build or sign the certificate.
    #[error("could not sign the certificate: {0}")]
    Signing(#[from] rcgen::Error),
}

impl Ca {
    /// Issue a department certificate for `public_key`, valid from `not_before` to `not_after`
    /// (Unix seconds, inside the intermediate's validity), for `purpose`.
    pub fn issue_department(
        &self,
        subject: &DepartmentSubject<'_>,
        purpose: Purpose,
        public_key: &DepartmentPublicKey,
        not_before: i64,
        not_after: i64,
    ) -> Result<IssuedCert, IssueError> {
        self.issue(
            subject,
            purpose,
            public_key,
            not_before,
            not_after,
            Vec::new(),
        )
    }

    /// [`Ca::issue_department`] with extra extensions (tests use it to plant ones a verifier
    /// must reject).
    pub(super) fn issue(
        &self,
        subject: &DepartmentSubject<'_>,
        purpose: Purpose,
        public_key: &DepartmentPublicKey,
        not_before: i64,
        not_after: i64,
        extra: Vec<CustomExtension>,
    ) -> Result<IssuedCert, IssueError> {
        let (ca_from, ca_to) = self.intermediate_validity;
        if not_before < ca_from || not_after > ca_to {
            return Err(IssueError::InvalidValidity);
        }
        let mut params = department_params(subject, purpose, not_before, not_after)?;
        params
            .custom_extensions
            .push(der::subject_key_identifier(public_key.as_bytes()));
        params.custom_extensions.extend(extra);
        let serial = random_serial().ok_or(IssueError::Randomness)?;
        let serial_hex = serial_hex(serial.as_ref());
        params.serial_number = Some(serial);

        let cert = params.signed_by(public_key, &self.issuer, &self.intermediate_key)?;
        Ok(IssuedCert {
            der: cert.der().to_vec(),
            pem: cert.pem(),
            serial: serial_hex,
            not_before,
            not_after,
        })
    }
}

#[cfg(test)]
impl Ca {
    /// A licence-signing certificate as rcgen wrote them before [`super::der`]: basicConstraints
    /// `cA FALSE` spelled out, keyUsage with trailing zero bits. Tests show such certificates,
    /// and the licences they signed, still verify.
    pub(crate) fn issue_legacy_department_for_tests(
        &self,
        subject: &DepartmentSubject<'_>,
        public_key: &DepartmentPublicKey,
        not_before: i64,
        not_after: i64,
    ) -> IssuedCert {
        let mut params =
            department_params(subject, Purpose::LicenceSigning, not_before, not_after).unwrap();
        params.custom_extensions.retain(|e| {
            let oid: Vec<u64> = e.oid_components().collect();
            oid != [2, 5, 29, 19] && oid != [2, 5, 29, 15]
        });
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        let serial = random_serial().unwrap();
        let serial_hex = serial_hex(serial.as_ref());
        params.serial_number = Some(serial);
        let cert = params
            .signed_by(public_key, &self.issuer, &self.intermediate_key)
            .unwrap();
        IssuedCert {
            der: cert.der().to_vec(),
            pem: cert.pem(),
            serial: serial_hex,
            not_before,
            not_after,
        }
    }
}

/// The parameters of a department certificate (the profile in the module comment), without a
/// serial number.
pub(super) fn department_params(
    subject: &DepartmentSubject<'_>,
    purpose: Purpose,
    not_before: i64,
    not_after: i64,
) -> Result<CertificateParams, IssueError> {
    let name = subject.name;
    if name.is_empty() || name.trim() != name || name.chars().count() > UB_COMMON_NAME {
        return Err(IssueError::InvalidName);
    }
    let san = check_iss_url(subject.iss_url)?;
    if not_before >= not_after {
        return Err(IssueError::InvalidValidity);
    }

    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, name);
    params
        .distinguished_name
        .push(DnType::OrganizationName, name);
    // A validated USCC is 18 characters of 0-9 and capitals: always a PrintableString.
    params.distinguished_name.push(
        DnType::CustomDnType(DN_SERIAL_NUMBER.to_vec()),
        DnValue::PrintableString(PrintableString::try_from(subject.uscc.as_str())?),
    );
    params.subject_alt_names = vec![SanType::URI(san)];
    // basicConstraints, keyUsage and the subject key identifier written by hand: rcgen spells out
    // the default `cA FALSE` and pads keyUsage, neither of which is DER (`super::der`).
    params.is_ca = IsCa::NoCa;
    // rcgen's EKU type holds u64 arcs; ours has a 128-bit UUID arc, so the extension is written
    // from our own encoding (non-critical, as RFC 5280 recommends for EKU).
    let mut eku = CustomExtension::from_oid_content(EXT_KEY_USAGE, eku_extension_value(purpose));
    eku.set_criticality(false);
    params.custom_extensions = vec![
        der::end_entity_basic_constraints(),
        der::key_usage(&[KeyUsageBit::DigitalSignature]),
        eku,
    ];
    params.use_authority_key_identifier_extension = true;
    set_validity(&mut params, not_before, not_after).ok_or(IssueError::InvalidValidity)?;
    Ok(params)
}

fn check_iss_url(iss: &str) -> Result<Ia5String, IssueError> {
    let url = url::Url::parse(iss).map_err(|_| IssueError::InvalidIssUrl)?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() || !iss.is_ascii() {
        return Err(IssueError::InvalidIssUrl);
    }
    Ia5String::try_from(iss).map_err(|_| IssueError::InvalidIssUrl)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::pki::generate_department_key;
    use x509_parser::certificate::X509Certificate;
    use x509_parser::extensions::GeneralName;
    use x509_parser::prelude::FromDer;

    pub(crate) const NOW: i64 = 1_750_000_000;
    pub(crate) const YEAR: i64 = 365 * 86_400;
    pub(crate) const ISS: &str = "https://amr.hangzhou.example.gov.cn/licences";

    pub(crate) fn uscc() -> Uscc {
        let first17 = b"11330100002482012";
        let check = Uscc::check_char(first17).unwrap();
        let mut s = String::from_utf8(first17.to_vec()).unwrap();
        s.push(check as char);
        Uscc::parse(&s).unwrap()
    }

    pub(crate) fn issue(ca: &Ca, purpose: Purpose) -> IssuedCert {
        let key = generate_department_key().unwrap();
        let uscc = uscc();
        let subject = DepartmentSubject {
            name: "杭州市市场监督管理局",
            uscc: &uscc,
            iss_url: ISS,
        };
        ca.issue_department(&subject, purpose, key.public_key(), NOW, NOW + YEAR)
            .unwrap()
    }

    #[test]
    fn department_certificate_carries_the_profile() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::create(dir.path(), "Tongban Test", NOW).unwrap();
        let issued = issue(&ca, Purpose::LicenceSigning);
        let (_, cert) = X509Certificate::from_der(&issued.der).unwrap();

        assert_eq!(serial_hex(cert.raw_serial()), issued.serial);
        assert!(!issued.serial.is_empty() && issued.serial.len() <= 32);
        let cn = cert.subject().iter_common_name().next().unwrap();
        assert_eq!(cn.as_str().unwrap(), "杭州市市场监督管理局");
        assert!(cert.subject().to_string().contains(uscc().as_str()));
        let san = cert.subject_alternative_name().unwrap().unwrap();
        assert_eq!(san.value.general_names, vec![GeneralName::URI(ISS)]);
        let ku = cert.key_usage().unwrap().unwrap();
        assert!(ku.critical && ku.value.digital_signature() && !ku.value.key_cert_sign());
        let bc = cert.basic_constraints().unwrap().unwrap();
        assert!(bc.critical && !bc.value.ca);
        let eku = cert.extended_key_usage().unwrap().unwrap();
        assert!(!eku.critical);
        assert_eq!(eku.value.other.len(), 1);
        assert_eq!(
            eku.value.other[0].as_bytes(),
            Purpose::LicenceSigning.eku_der_content()
        );
        assert_eq!(cert.validity().not_before.timestamp(), NOW);
        assert_eq!(cert.validity().not_after.timestamp(), NOW + YEAR);
        assert_eq!(cert.issuer().as_raw(), {
            let (_, i) = X509Certificate::from_der(ca.intermediate_der()).unwrap();
            i.subject().as_raw().to_vec()
        });
    }

    /// The DER value (the OCTET STRING's content) of the extension `oid`, and its criticality.
    pub(crate) fn extension_value(der: &[u8], oid: &str) -> (bool, Vec<u8>) {
        let (_, cert) = X509Certificate::from_der(der).unwrap();
        let ext = cert
            .extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == oid)
            .unwrap_or_else(|| panic!("no extension {oid}"));
        (ext.critical, ext.value.to_vec())
    }

    #[test]
    fn department_extensions_are_der() {
        // rcgen's own encodings were `30 03 01 01 00` (cA FALSE spelled out) and `03 03 07 80 00`
        // (nine bits): BER, refused by strict parsers such as Python's `cryptography`.
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::create(dir.path(), "Tongban Test", NOW).unwrap();
        for purpose in [Purpose::LicenceSigning, Purpose::StatusListSigning] {
            let issued = issue(&ca, purpose);
            assert_eq!(
                extension_value(&issued.der, "2.5.29.19"),
                (true, vec![0x30, 0x00])
            );
            assert_eq!(
                extension_value(&issued.der, "2.5.29.15"),
                (true, vec![0x03, 0x02, 0x07, 0x80])
            );
            let (critical, ski) = extension_value(&issued.der, "2.5.29.14");
            assert!(!critical);
            assert_eq!(&ski[..2], [0x04, 20]);
            let (_, cert) = X509Certificate::from_der(&issued.der).unwrap();
            let spki = cert.public_key().raw;
            assert_eq!(&ski[2..], &crate::crypto::sha256(spki)[..20]);
        }
    }

    #[test]
    fn two_issuances_get_different_serials() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::create(dir.path(), "Tongban Test", NOW).unwrap();
        let a = issue(&ca, Purpose::LicenceSigning);
        let b = issue(&ca, Purpose::StatusListSigning);
        assert_ne!(a.serial, b.serial);
    }

    #[test]
    fn rejects_bad_names_urls_and_validity() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::create(dir.path(), "Tongban Test", NOW).unwrap();
        let key = generate_department_key().unwrap();
        let uscc = uscc();
        let ok = DepartmentSubject {
            name: "Dept",
            uscc: &uscc,
            iss_url: ISS,
        };
        let issue = |s: &DepartmentSubject<'_>, from, to| {
            ca.issue_department(s, Purpose::LicenceSigning, key.public_key(), from, to)
        };
        let long = "x".repeat(65);
        for name in ["", " Dept", long.as_str()] {
            let s = DepartmentSubject { name, ..ok };
            assert!(matches!(
                issue(&s, NOW, NOW + 1),
                Err(IssueError::InvalidName)
            ));
        }
        for iss_url in [
            "ftp://x.example",
            "/relative",
            "https://例子.example/",
            "nope",
        ] {
            let s = DepartmentSubject { iss_url, ..ok };
            assert!(matches!(
                issue(&s, NOW, NOW + 1),
                Err(IssueError::InvalidIssUrl)
            ));
        }
        for (from, to) in [(NOW, NOW), (NOW - 1, NOW + 1), (NOW, NOW + 11 * YEAR)] {
            assert!(matches!(
                issue(&ok, from, to),
                Err(IssueError::InvalidValidity)
            ));
        }
        assert!(issue(&ok, NOW, NOW + 1).is_ok());
    }
}
