//! Certificate path validation at a given time: the RFC 5280 (section 6) essentials for this
//! repository's profile, from a department certificate through intermediates to one given root.
//!
//! Checks, in this order, so that the first failure names the most telling cause:
//! 1. every certificate parses as DER X.509 v3 with nothing trailing ([`PathError::Malformed`]);
//! 2. the top of the chain was issued by the given root, by name and signature
//!    ([`PathError::NotOurRoot`]: "not issued by this repository");
//! 3. each lower certificate's issuer name is the next one's subject ([`PathError::NameChain`]) and
//!    its signature verifies with the next one's key ([`PathError::BadSignature`]: "tampered");
//! 4. no certificate carries a critical extension this module does not process
//!    ([`PathError::UnknownCriticalExtension`]);
//! 5. CA certificates (intermediates and root) have basicConstraints cA=true, a respected
//!    pathLenConstraint and keyUsage keyCertSign;
//! 6. the leaf is not a CA, has keyUsage digitalSignature, the extended key usage of the
//!    [`Purpose`] (that exact OID: `anyExtendedKeyUsage` does not stand in for it), a P-256 key
//!    and a SAN URI;
//! 7. last, every certificate is within its validity at `at` ([`PathError::Expired`],
//!    [`PathError::NotYetValid`]): a chain failing only here is genuine but used out of time —
//!    "signed with an expired department certificate" when `at` is the signing time.
//!
//! The root is trusted because it is byte-equal to the one given, not because of its
//! self-signature; its validity, basicConstraints and keyUsage are still checked. Revocation of
//! department certificates is database state and is checked by the caller.

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::oid_registry::{
    Oid, OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER,
    OID_X509_EXT_BASIC_CONSTRAINTS, OID_X509_EXT_EXTENDED_KEY_USAGE, OID_X509_EXT_KEY_USAGE,
    OID_X509_EXT_SUBJECT_ALT_NAME, OID_X509_EXT_SUBJECT_KEY_IDENTIFIER,
};
use x509_parser::prelude::FromDer;
use x509_parser::x509::X509Version;

use super::oids::{dotted, Purpose};
use super::{serial_hex, DepartmentPublicKey};

/// A certificate's place in the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertRole {
    /// The department certificate.
    Leaf,
    /// An intermediate; 0 is the one that issued the leaf.
    Intermediate(usize),
    /// The trusted root.
    Root,
}

impl std::fmt::Display for CertRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Leaf => f.write_str("department certificate"),
            Self::Intermediate(i) => write!(f, "intermediate certificate #{i}"),
            Self::Root => f.write_str("root certificate"),
        }
    }
}

/// Why a chain does not validate. Each variant is one answer a verifier can give.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// Not DER X.509 v3, trailing bytes, an unparsable extension, or missing a required field.
    #[error("{which} is malformed: {reason}")]
    Malformed {
        which: CertRole,
        reason: &'static str,
    },
    /// The chain does not lead to the given root: not issued by this repository.
    #[error("not issued by this repository: the chain does not lead to its root")]
    NotOurRoot,
    /// A certificate's issuer name is not the subject of the next certificate.
    #[error("{which} was not issued by the next certificate in the chain")]
    NameChain { which: CertRole },
    /// A certificate's signature does not verify with its issuer's key: tampered or forged.
    #[error("{which} has a signature that does not verify")]
    BadSignature { which: CertRole },
    /// A critical extension this validator does not process (dotted OID, or hex).
    #[error("{which} has an unknown critical extension {oid}")]
    UnknownCriticalExtension { which: CertRole, oid: String },
    /// An intermediate or the root lacks basicConstraints cA=true.
    #[error("{which} is not a CA certificate")]
    NotACa { which: CertRole },
    /// A CA's pathLenConstraint is exceeded by the intermediates below it.
    #[error("{which} allows fewer intermediates below it than the chain has")]
    PathLength { which: CertRole },
    /// The department certificate is a CA certificate.
    #[error("the department certificate is a CA certificate")]
    LeafIsCa,
    /// Key usage missing or lacking keyCertSign (CA) or digitalSignature (leaf).
    #[error("{which} has no key usage allowing this")]
    KeyUsage { which: CertRole },
    /// The department certificate lacks the extended key usage for the purpose.
    #[error("the department certificate is not for {0}")]
    ExtendedKeyUsage(Purpose),
    /// The department certificate's key is not an ECDSA P-256 key.
    #[error("the department certificate's key is not ECDSA P-256")]
    UnsupportedKey,
    /// `at` is after a certificate's notAfter.
    #[error("{which} had expired (notAfter {not_after})")]
    Expired { which: CertRole, not_after: i64 },
    /// `at` is before a certificate's notBefore.
    #[error("{which} was not yet valid (notBefore {not_before})")]
    NotYetValid { which: CertRole, not_before: i64 },
}

/// What a validated chain says about its department certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedChain {
    iss_uri: String,
    department_name: String,
    serial: String,
    not_before: i64,
    not_after: i64,
    public_key: DepartmentPublicKey,
}

impl ValidatedChain {
    /// The leaf's SAN URI: the department's `iss` URL, which a licence's `iss` must equal.
    pub fn iss_uri(&self) -> &str {
        &self.iss_uri
    }
    /// The leaf's subject common name (the department's name).
    pub fn department_name(&self) -> &str {
        &self.department_name
    }
    /// The leaf's serial, lowercase hex (see [`super::serial_hex`]).
    pub fn serial(&self) -> &str {
        &self.serial
    }
    /// The leaf's notBefore, Unix seconds.
    pub fn not_before(&self) -> i64 {
        self.not_before
    }
    /// The leaf's notAfter, Unix seconds.
    pub fn not_after(&self) -> i64 {
        self.not_after
    }
    /// The leaf's public key (uncompressed P-256 point), to verify the licence's ES256 signature.
    pub fn public_key(&self) -> &DepartmentPublicKey {
        &self.public_key
    }
}

/// Extensions this module processes; any other one marked critical fails validation.
const UNDERSTOOD: [&Oid<'static>; 6] = [
    &OID_X509_EXT_BASIC_CONSTRAINTS,
    &OID_X509_EXT_KEY_USAGE,
    &OID_X509_EXT_EXTENDED_KEY_USAGE,
    &OID_X509_EXT_SUBJECT_ALT_NAME,
    &OID_X509_EXT_SUBJECT_KEY_IDENTIFIER,
    &OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER,
];

/// Validate `leaf` (DER) for `purpose` at time `at` (Unix seconds), through `intermediates` (DER,
/// the leaf's issuer first; a trailing copy of the root is tolerated) to exactly `root_der`.
pub fn validate_chain(
    leaf_der: &[u8],
    intermediates: &[Vec<u8>],
    root_der: &[u8],
    at: i64,
    purpose: Purpose,
) -> Result<ValidatedChain, PathError> {
    let intermediates = match intermediates.split_last() {
        Some((last, rest)) if last.as_slice() == root_der => rest,
        _ => intermediates,
    };
    let root = parse(root_der, CertRole::Root)?;
    let mut chain = vec![(parse(leaf_der, CertRole::Leaf)?, CertRole::Leaf)];
    for (i, der) in intermediates.iter().enumerate() {
        chain.push((
            parse(der, CertRole::Intermediate(i))?,
            CertRole::Intermediate(i),
        ));
    }

    // 2. The top link, to the root.
    let (top, _) = &chain[chain.len() - 1];
    if top.issuer().as_raw() != root.subject().as_raw()
        || top.verify_signature(Some(root.public_key())).is_err()
    {
        return Err(PathError::NotOurRoot);
    }
    // 3. The links below it.
    for pair in chain.windows(2) {
        let ((cert, which), (issuer, _)) = (&pair[0], &pair[1]);
        if cert.issuer().as_raw() != issuer.subject().as_raw() {
            return Err(PathError::NameChain { which: *which });
        }
        if cert.verify_signature(Some(issuer.public_key())).is_err() {
            return Err(PathError::BadSignature { which: *which });
        }
    }

    // 4. Extensions.
    let all = || {
        chain
            .iter()
            .map(|(c, w)| (c, *w))
            .chain([(&root, CertRole::Root)])
    };
    for (cert, which) in all() {
        check_extensions(cert, which)?;
    }

    // 5. CA certificates: intermediates (with `i` intermediates below them) and the root.
    let cas = chain[1..]
        .iter()
        .map(|(c, w)| (c, *w))
        .chain([(&root, CertRole::Root)]);
    for (below, (cert, which)) in cas.enumerate() {
        check_ca(cert, which, below)?;
    }

    // 6. The leaf.
    let (leaf, _) = &chain[0];
    let validated = check_leaf(leaf, purpose)?;

    // 7. Validity at `at`, leaf first.
    for (cert, which) in all() {
        let not_before = cert.validity().not_before.timestamp();
        let not_after = cert.validity().not_after.timestamp();
        if at < not_before {
            return Err(PathError::NotYetValid { which, not_before });
        }
        if at > not_after {
            return Err(PathError::Expired { which, not_after });
        }
    }
    Ok(validated)
}

fn parse(der: &[u8], which: CertRole) -> Result<X509Certificate<'_>, PathError> {
    let malformed = |reason| PathError::Malformed { which, reason };
    let (rest, cert) =
        X509Certificate::from_der(der).map_err(|_| malformed("not a DER X.509 certificate"))?;
    if !rest.is_empty() {
        return Err(malformed("trailing bytes after the certificate"));
    }
    if cert.version() != X509Version::V3 {
        return Err(malformed("not an X.509 v3 certificate"));
    }
    if cert.tbs_certificate.signature != cert.signature_algorithm {
        return Err(malformed("inner and outer signature algorithms differ"));
    }
    Ok(cert)
}

fn check_extensions(cert: &X509Certificate<'_>, which: CertRole) -> Result<(), PathError> {
    // Duplicate extensions are forbidden (RFC 5280 4.2); extensions_map rejects them.
    cert.extensions_map().map_err(|_| PathError::Malformed {
        which,
        reason: "duplicate extension",
    })?;
    for ext in cert.extensions() {
        if ext.parsed_extension().error().is_some() {
            return Err(PathError::Malformed {
                which,
                reason: "an extension does not parse",
            });
        }
        if ext.critical && !UNDERSTOOD.contains(&&ext.oid) {
            let oid = dotted(ext.oid.as_bytes());
            return Err(PathError::UnknownCriticalExtension { which, oid });
        }
    }
    Ok(())
}

fn check_ca(cert: &X509Certificate<'_>, which: CertRole, below: usize) -> Result<(), PathError> {
    let bc = cert
        .basic_constraints()
        .map_err(|_| PathError::NotACa { which })?
        .filter(|bc| bc.value.ca)
        .ok_or(PathError::NotACa { which })?;
    if let Some(max) = bc.value.path_len_constraint {
        if usize::try_from(max).is_ok_and(|max| below > max) {
            return Err(PathError::PathLength { which });
        }
    }
    match cert.key_usage() {
        Ok(Some(ku)) if ku.value.key_cert_sign() => Ok(()),
        _ => Err(PathError::KeyUsage { which }),
    }
}

fn check_leaf(leaf: &X509Certificate<'_>, purpose: Purpose) -> Result<ValidatedChain, PathError> {
    let which = CertRole::Leaf;
    let malformed = |reason| PathError::Malformed { which, reason };
    if leaf
        .basic_constraints()
        .map_err(|_| malformed("bad basicConstraints"))?
        .is_some_and(|bc| bc.value.ca)
    {
        return Err(PathError::LeafIsCa);
    }
    match leaf.key_usage() {
        Ok(Some(ku)) if ku.value.digital_signature() => {}
        _ => return Err(PathError::KeyUsage { which }),
    }
    let wanted = purpose.eku_der_content();
    match leaf.extended_key_usage() {
        Ok(Some(eku)) if eku.value.other.iter().any(|o| o.as_bytes() == wanted) => {}
        _ => return Err(PathError::ExtendedKeyUsage(purpose)),
    }

    let spki = leaf.public_key();
    let on_p256 = spki.algorithm.algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY
        && spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok())
            .is_some_and(|curve| curve == OID_EC_P256);
    if !on_p256 {
        return Err(PathError::UnsupportedKey);
    }
    let public_key = DepartmentPublicKey::from_uncompressed_point(&spki.subject_public_key.data)
        .map_err(|_| PathError::UnsupportedKey)?;

    let iss_uri = leaf
        .subject_alternative_name()
        .map_err(|_| malformed("bad subjectAltName"))?
        .and_then(|san| {
            san.value.general_names.iter().find_map(|n| match n {
                GeneralName::URI(u) => Some(u.to_string()),
                _ => None,
            })
        })
        .ok_or(malformed("no subjectAltName URI"))?;
    let department_name = leaf
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .ok_or(malformed("no subject common name"))?
        .to_owned();

    Ok(ValidatedChain {
        iss_uri,
        department_name,
        serial: serial_hex(leaf.raw_serial()),
        not_before: leaf.validity().not_before.timestamp(),
        not_after: leaf.validity().not_after.timestamp(),
        public_key,
    })
}
