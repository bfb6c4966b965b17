//! Scenario tests for the PKI: a CA in a temporary directory, department certificates, and every
//! answer path validation can give; plus a cross-check with the system `openssl verify`.

use rcgen::{BasicConstraints, CertificateParams, CustomExtension, IsCa, KeyPair, KeyUsagePurpose};
use tempfile::TempDir;

use super::issue::department_params;
use super::issue::tests::{issue, uscc, ISS, NOW, YEAR};
use super::*;
use crate::domain::ids::Uscc;

struct Fixture {
    dir: TempDir,
    ca: Ca,
}

fn fixture(name: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::create(dir.path(), name, NOW).unwrap();
    Fixture { dir, ca }
}

impl Fixture {
    fn validate(
        &self,
        leaf: &[u8],
        at: i64,
        purpose: Purpose,
    ) -> Result<ValidatedChain, PathError> {
        let chain = [self.ca.intermediate_der().to_vec()];
        validate_chain(leaf, &chain, self.ca.root_der(), at, purpose)
    }
}

fn subject(uscc: &Uscc) -> DepartmentSubject<'_> {
    DepartmentSubject {
        name: "Hangzhou AMR",
        uscc,
        iss_url: ISS,
    }
}

#[test]
fn a_fresh_licence_certificate_validates_and_reports_its_department() {
    let f = fixture("Tongban Test");
    let key = generate_department_key().unwrap();
    let u = uscc();
    let issued =
        f.ca.issue_department(
            &subject(&u),
            Purpose::LicenceSigning,
            key.public_key(),
            NOW,
            NOW + YEAR,
        )
        .unwrap();
    let v = f
        .validate(&issued.der, NOW + 60, Purpose::LicenceSigning)
        .unwrap();
    assert_eq!(v.iss_uri(), ISS);
    assert_eq!(v.department_name(), "Hangzhou AMR");
    assert_eq!(v.serial(), issued.serial);
    assert_eq!((v.not_before(), v.not_after()), (NOW, NOW + YEAR));
    assert_eq!(v.public_key(), key.public_key());
}

#[test]
fn validity_bounds_are_inclusive_and_each_side_has_its_own_error() {
    let f = fixture("Tongban Test");
    let leaf = issue(&f.ca, Purpose::LicenceSigning);
    let p = Purpose::LicenceSigning;
    assert!(f.validate(&leaf.der, NOW, p).is_ok());
    assert!(f.validate(&leaf.der, NOW + YEAR, p).is_ok());
    assert_eq!(
        f.validate(&leaf.der, NOW - 1, p),
        Err(PathError::NotYetValid {
            which: CertRole::Leaf,
            not_before: NOW
        })
    );
    assert_eq!(
        f.validate(&leaf.der, NOW + YEAR + 1, p),
        Err(PathError::Expired {
            which: CertRole::Leaf,
            not_after: NOW + YEAR
        })
    );
}

#[test]
fn a_signature_is_judged_at_its_signing_time_across_renewal() {
    // Renewal: a new key and certificate overlapping the old one. A licence signed with the old
    // certificate while it was valid still validates (at its signing time) years later; one
    // claiming to be signed with it after it expired does not.
    let f = fixture("Tongban Test");
    let u = uscc();
    let old_key = generate_department_key().unwrap();
    let new_key = generate_department_key().unwrap();
    let old =
        f.ca.issue_department(
            &subject(&u),
            Purpose::LicenceSigning,
            old_key.public_key(),
            NOW,
            NOW + YEAR,
        )
        .unwrap();
    let renewed_at = NOW + YEAR - 30 * 86_400;
    let new =
        f.ca.issue_department(
            &subject(&u),
            Purpose::LicenceSigning,
            new_key.public_key(),
            renewed_at,
            renewed_at + YEAR,
        )
        .unwrap();
    let signed_at = NOW + 100;
    assert!(f
        .validate(&old.der, signed_at, Purpose::LicenceSigning)
        .is_ok());
    assert!(matches!(
        f.validate(&old.der, NOW + YEAR + 10, Purpose::LicenceSigning),
        Err(PathError::Expired {
            which: CertRole::Leaf,
            ..
        })
    ));
    assert!(f
        .validate(&new.der, NOW + YEAR + 10, Purpose::LicenceSigning)
        .is_ok());
    assert_ne!(old.serial, new.serial);
}

#[test]
fn purposes_do_not_stand_in_for_each_other() {
    let f = fixture("Tongban Test");
    let status = issue(&f.ca, Purpose::StatusListSigning);
    let licence = issue(&f.ca, Purpose::LicenceSigning);
    assert!(f
        .validate(&status.der, NOW, Purpose::StatusListSigning)
        .is_ok());
    assert_eq!(
        f.validate(&status.der, NOW, Purpose::LicenceSigning),
        Err(PathError::ExtendedKeyUsage(Purpose::LicenceSigning))
    );
    assert_eq!(
        f.validate(&licence.der, NOW, Purpose::StatusListSigning),
        Err(PathError::ExtendedKeyUsage(Purpose::StatusListSigning))
    );
}

#[test]
fn certificates_from_another_ca_are_not_ours() {
    let ours = fixture("Tongban Test");
    let elsewhere = fixture("Elsewhere");
    let twin = fixture("Tongban Test"); // same names, different keys
    let p = Purpose::LicenceSigning;

    // Their whole chain against our root.
    let theirs = issue(&elsewhere.ca, p);
    let their_chain = [elsewhere.ca.intermediate_der().to_vec()];
    assert_eq!(
        validate_chain(&theirs.der, &their_chain, ours.ca.root_der(), NOW, p),
        Err(PathError::NotOurRoot)
    );
    let twin_leaf = issue(&twin.ca, p);
    let twin_chain = [twin.ca.intermediate_der().to_vec()];
    assert_eq!(
        validate_chain(&twin_leaf.der, &twin_chain, ours.ca.root_der(), NOW, p),
        Err(PathError::NotOurRoot)
    );
    // Their leaf slipped under our intermediate.
    assert_eq!(
        ours.validate(&theirs.der, NOW, p),
        Err(PathError::NameChain {
            which: CertRole::Leaf
        })
    );
    assert_eq!(
        ours.validate(&twin_leaf.der, NOW, p),
        Err(PathError::BadSignature {
            which: CertRole::Leaf
        })
    );
    // A leaf presented without its intermediate does not reach the root either.
    let leaf = issue(&ours.ca, p);
    assert_eq!(
        validate_chain(&leaf.der, &[], ours.ca.root_der(), NOW, p),
        Err(PathError::NotOurRoot)
    );
    // A trailing copy of the root in the chain (as some x5c carry) is fine.
    let with_root = [
        ours.ca.intermediate_der().to_vec(),
        ours.ca.root_der().to_vec(),
    ];
    assert!(validate_chain(&leaf.der, &with_root, ours.ca.root_der(), NOW, p).is_ok());
}

#[test]
fn tampering_is_caught() {
    let f = fixture("Tongban Test");
    let leaf = issue(&f.ca, Purpose::LicenceSigning);
    let p = Purpose::LicenceSigning;

    // Change one character of the SAN URI: still well-formed, no longer signed.
    let at = leaf
        .der
        .windows(ISS.len())
        .position(|w| w == ISS.as_bytes())
        .unwrap();
    let mut tampered = leaf.der.clone();
    tampered[at + 8] ^= 0x01;
    assert_eq!(
        f.validate(&tampered, NOW, p),
        Err(PathError::BadSignature {
            which: CertRole::Leaf
        })
    );
    // Flip a bit in the signature itself.
    let mut tampered = leaf.der.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    assert_eq!(
        f.validate(&tampered, NOW, p),
        Err(PathError::BadSignature {
            which: CertRole::Leaf
        })
    );
    // Truncated, or with bytes after the certificate.
    assert!(matches!(
        f.validate(&leaf.der[..leaf.der.len() - 3], NOW, p),
        Err(PathError::Malformed {
            which: CertRole::Leaf,
            ..
        })
    ));
    let mut longer = leaf.der.clone();
    longer.push(0);
    assert!(matches!(
        f.validate(&longer, NOW, p),
        Err(PathError::Malformed {
            which: CertRole::Leaf,
            ..
        })
    ));
}

#[test]
fn unknown_critical_extensions_are_rejected_and_unknown_non_critical_ones_ignored() {
    let f = fixture("Tongban Test");
    let key = generate_department_key().unwrap();
    let u = uscc();
    let ext = |critical| {
        let mut e = CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 99_999, 1], vec![5, 0]);
        e.set_criticality(critical);
        e
    };
    let p = Purpose::LicenceSigning;
    let issue_with = |critical| {
        f.ca.issue(
            &subject(&u),
            p,
            key.public_key(),
            NOW,
            NOW + YEAR,
            vec![ext(critical)],
        )
        .unwrap()
    };
    assert_eq!(
        f.validate(&issue_with(true).der, NOW, p),
        Err(PathError::UnknownCriticalExtension {
            which: CertRole::Leaf,
            oid: "1.3.6.1.4.1.99999.1".into()
        })
    );
    assert!(f.validate(&issue_with(false).der, NOW, p).is_ok());
}

/// Mint an intermediate under our root with the given basic constraints and key usages, and a
/// department certificate under it.
fn under_custom_intermediate(
    f: &Fixture,
    is_ca: IsCa,
    key_usages: Vec<KeyUsagePurpose>,
) -> (Vec<u8>, Vec<u8>) {
    let (root, root_key) = f.ca.root_issuer_for_tests(f.dir.path());
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Rogue Intermediate");
    params.is_ca = is_ca;
    params.key_usages = key_usages;
    set_validity(&mut params, NOW, NOW + 2 * YEAR).unwrap();
    let inter_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let inter = params.signed_by(&inter_key, &root, &root_key).unwrap();
    let u = uscc();
    let leaf_key = generate_department_key().unwrap();
    let leaf = department_params(&subject(&u), Purpose::LicenceSigning, NOW, NOW + YEAR)
        .unwrap()
        .signed_by(leaf_key.public_key(), &inter, &inter_key)
        .unwrap();
    (leaf.der().to_vec(), inter.der().to_vec())
}

#[test]
fn intermediates_must_be_cas_with_key_cert_sign() {
    let f = fixture("Tongban Test");
    let root = f.ca.root_der();
    let p = Purpose::LicenceSigning;
    let sign = vec![KeyUsagePurpose::KeyCertSign];

    let (leaf, inter) =
        under_custom_intermediate(&f, IsCa::Ca(BasicConstraints::Constrained(0)), sign.clone());
    assert!(validate_chain(&leaf, &[inter], root, NOW, p).is_ok());

    let (leaf, inter) = under_custom_intermediate(&f, IsCa::ExplicitNoCa, sign);
    assert_eq!(
        validate_chain(&leaf, &[inter], root, NOW, p),
        Err(PathError::NotACa {
            which: CertRole::Intermediate(0)
        })
    );

    let (leaf, inter) = under_custom_intermediate(
        &f,
        IsCa::Ca(BasicConstraints::Constrained(0)),
        vec![KeyUsagePurpose::DigitalSignature],
    );
    assert_eq!(
        validate_chain(&leaf, &[inter], root, NOW, p),
        Err(PathError::KeyUsage {
            which: CertRole::Intermediate(0)
        })
    );
}

#[test]
fn path_length_constraints_are_enforced() {
    // root (pathLen 1) -> our intermediate (pathLen 0) -> sub-CA -> leaf: one CA too many.
    let f = fixture("Tongban Test");
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Sub CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    set_validity(&mut params, NOW, NOW + 2 * YEAR).unwrap();
    let sub_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let sub = params
        .signed_by(&sub_key, &f.ca.issuer, &f.ca.intermediate_key)
        .unwrap();
    let u = uscc();
    let leaf_key = generate_department_key().unwrap();
    let leaf = department_params(&subject(&u), Purpose::LicenceSigning, NOW, NOW + YEAR)
        .unwrap()
        .signed_by(leaf_key.public_key(), &sub, &sub_key)
        .unwrap();
    let chain = [sub.der().to_vec(), f.ca.intermediate_der().to_vec()];
    assert_eq!(
        validate_chain(
            leaf.der(),
            &chain,
            f.ca.root_der(),
            NOW,
            Purpose::LicenceSigning
        ),
        Err(PathError::PathLength {
            which: CertRole::Intermediate(1)
        })
    );
}

#[test]
fn a_ca_certificate_is_not_a_department_certificate() {
    let f = fixture("Tongban Test");
    assert_eq!(
        validate_chain(
            f.ca.intermediate_der(),
            &[],
            f.ca.root_der(),
            NOW,
            Purpose::LicenceSigning
        ),
        Err(PathError::LeafIsCa)
    );
}

#[test]
fn a_reopened_ca_issues_certificates_that_chain() {
    let f = fixture("Tongban Test");
    let reopened = Ca::open(f.dir.path()).unwrap();
    let leaf = issue(&reopened, Purpose::LicenceSigning);
    assert!(f.validate(&leaf.der, NOW, Purpose::LicenceSigning).is_ok());
}

#[test]
fn openssl_verifies_the_chain_and_reads_our_extended_key_usage() {
    let f = fixture("Tongban Test");
    let reopened = Ca::open(f.dir.path()).unwrap();
    let leaf = issue(&reopened, Purpose::LicenceSigning);
    let out = tempfile::tempdir().unwrap();
    std::fs::write(out.path().join("leaf.pem"), &leaf.pem).unwrap();
    let run = |args: &[&str]| {
        let o = std::process::Command::new("openssl")
            .args(args)
            .current_dir(out.path())
            .output()
            .unwrap();
        let text =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        (o.status.success(), text)
    };
    let root = f.dir.path().join("root.pem");
    let inter = f.dir.path().join("intermediate.pem");
    let attime = (NOW + 60).to_string();
    let (ok, text) = run(&[
        "verify",
        "-CAfile",
        root.to_str().unwrap(),
        "-untrusted",
        inter.to_str().unwrap(),
        "-purpose",
        "any",
        "-attime",
        &attime,
        "leaf.pem",
    ]);
    assert!(ok && text.contains("leaf.pem: OK"), "{text}");

    // OpenSSL decodes the 128-bit UUID arc independently of our encoder.
    let (ok, text) = run(&["x509", "-in", "leaf.pem", "-noout", "-text"]);
    assert!(ok, "{text}");
    assert!(text.contains(oids::LICENCE_SIGNING), "{text}");
    assert!(text.contains(&format!("URI:{ISS}")), "{text}");

    // And it refuses the same leaf against another root.
    let other = fixture("Tongban Test");
    let other_root = other.dir.path().join("root.pem");
    let (ok, _) = run(&[
        "verify",
        "-CAfile",
        other_root.to_str().unwrap(),
        "-untrusted",
        inter.to_str().unwrap(),
        "-purpose",
        "any",
        "-attime",
        &attime,
        "leaf.pem",
    ]);
    assert!(!ok);
}

#[test]
fn ca_key_usage_is_der() {
    // rcgen wrote nine bits, `03 03 07 06 00`; DER drops the trailing zero bits.
    let f = fixture("Tongban Test");
    for der in [f.ca.root_der(), f.ca.intermediate_der()] {
        assert_eq!(
            super::issue::tests::extension_value(der, "2.5.29.15"),
            (true, vec![0x03, 0x02, 0x01, 0x06])
        );
    }
}

#[test]
fn certificates_written_before_the_der_fix_still_validate() {
    // Licences signed under an old certificate keep verifying, before and after its renewal.
    let f = fixture("Tongban Test");
    let key = generate_department_key().unwrap();
    let u = uscc();
    let old =
        f.ca.issue_legacy_department_for_tests(&subject(&u), key.public_key(), NOW, NOW + YEAR)
            .der;
    assert_eq!(
        super::issue::tests::extension_value(&old, "2.5.29.19"),
        (true, vec![0x30, 0x03, 0x01, 0x01, 0x00])
    );
    let v = f.validate(&old, NOW + 60, Purpose::LicenceSigning).unwrap();
    assert_eq!(v.iss_uri(), ISS);
    let renewed = issue(&f.ca, Purpose::LicenceSigning);
    assert!(f
        .validate(&renewed.der, NOW + 120, Purpose::LicenceSigning)
        .is_ok());
    assert!(f.validate(&old, NOW + 60, Purpose::LicenceSigning).is_ok());
}
