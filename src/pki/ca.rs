//! The licence CA on disk: a self-signed root (20 years, pathLen 1) and an intermediate (10 years,
//! pathLen 0), both ECDSA P-256, under one directory:
//!
//! | file | contents |
//! |---|---|
//! | `root.pem` | root certificate, published (`GET /pki/root.pem`, `keys/`, the README) |
//! | `root.key` | root private key, PKCS#8 PEM, mode 0600; only read by `create`, may be moved offline |
//! | `intermediate.pem` | intermediate certificate, the last element of every licence's `x5c` |
//! | `intermediate.key` | intermediate private key, PKCS#8 PEM, mode 0600; signs department certificates |
//!
//! Department certificates are issued in [`super::issue`].

use std::path::Path;

use anyhow::{bail, Context};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use super::der::{self, KeyUsageBit};
use super::{random_serial, set_validity};

/// Seconds in a day.
const DAY: i64 = 86_400;
/// Root lifetime: 20 years of 365.25 days.
pub const ROOT_LIFETIME_SECS: i64 = 7_305 * DAY;
/// Intermediate lifetime: 10 years of 365.25 days (rounded up).
pub const INTERMEDIATE_LIFETIME_SECS: i64 = 3_653 * DAY;

const ROOT_PEM: &str = "root.pem";
const ROOT_KEY: &str = "root.key";
const INTERMEDIATE_PEM: &str = "intermediate.pem";
const INTERMEDIATE_KEY: &str = "intermediate.key";

/// The root and intermediate certificates and the intermediate's private key, ready to issue
/// department certificates.
pub struct Ca {
    pub(super) root_der: Vec<u8>,
    root_pem: String,
    pub(super) intermediate_der: Vec<u8>,
    intermediate_pem: String,
    pub(super) intermediate_key: KeyPair,
    /// rcgen's handle on the intermediate as an issuer. rcgen 0.13 (without its `x509-parser`
    /// feature) cannot load a certificate from PEM, and `signed_by` reads only the issuer's
    /// distinguished name and key-identifier method from it; so on `open` this is a throwaway
    /// certificate rebuilt from the same parameters and key, checked to carry exactly the stored
    /// intermediate's subject and public key.
    pub(super) issuer: rcgen::Certificate,
    /// The intermediate's validity, in Unix seconds: department certificates must fit inside it.
    pub(super) intermediate_validity: (i64, i64),
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca")
            .field("intermediate_validity", &self.intermediate_validity)
            .field("intermediate_key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Which of the two CA certificates.
#[derive(Clone, Copy)]
enum Level {
    Root,
    Intermediate,
}

/// The parameters of a CA certificate; `open` rebuilds the intermediate's from the same function,
/// so its distinguished name encodes byte for byte as at creation.
fn ca_params(name: &str, level: Level) -> anyhow::Result<CertificateParams> {
    let (label, path_len) = match level {
        Level::Root => ("Licence Root CA", 1),
        Level::Intermediate => ("Licence Intermediate CA", 0),
    };
    let cn = format!("{name} {label}");
    if name.trim().is_empty() || name.trim() != name || cn.chars().count() > 64 {
        bail!("CA name must be non-empty, without surrounding spaces, and short (got {name:?})");
    }
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    params
        .distinguished_name
        .push(DnType::OrganizationName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(path_len));
    // keyUsage written by hand: rcgen's has trailing zero bits, which DER forbids (`super::der`).
    params.custom_extensions = vec![der::key_usage(&[
        KeyUsageBit::KeyCertSign,
        KeyUsageBit::CrlSign,
    ])];
    params.use_authority_key_identifier_extension = matches!(level, Level::Intermediate);
    Ok(params)
}

/// Validity `[from, from + secs]` and a fresh random serial.
fn set_validity_and_serial(
    params: &mut CertificateParams,
    from: i64,
    secs: i64,
) -> anyhow::Result<()> {
    set_validity(params, from, from + secs).context("CA validity out of range")?;
    params.serial_number = Some(random_serial().context("no randomness for a serial")?);
    Ok(())
}

impl Ca {
    /// Create a new root and intermediate named after `name` (e.g. the operator, "Zhejiang
    /// Licence Repository"), valid from `now`, and write them to `dir` (created if missing).
    /// Refuses to overwrite any existing file.
    pub fn create(dir: &Path, name: &str, now: i64) -> anyhow::Result<Ca> {
        let alg = &rcgen::PKCS_ECDSA_P256_SHA256;
        let root_key = KeyPair::generate_for(alg).context("generating the root key")?;
        let mut root_params = ca_params(name, Level::Root)?;
        set_validity_and_serial(&mut root_params, now, ROOT_LIFETIME_SECS)?;
        let root = root_params
            .self_signed(&root_key)
            .context("signing the root")?;

        let intermediate_key =
            KeyPair::generate_for(alg).context("generating the intermediate key")?;
        let mut params = ca_params(name, Level::Intermediate)?;
        set_validity_and_serial(&mut params, now, INTERMEDIATE_LIFETIME_SECS)?;
        let issuer = params
            .signed_by(&intermediate_key, &root, &root_key)
            .context("signing the intermediate")?;

        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        // root.pem last: its presence is what `open_or_create` takes as "the CA exists".
        write_new(
            &dir.join(ROOT_KEY),
            root_key.serialize_pem().as_bytes(),
            true,
        )?;
        write_new(
            &dir.join(INTERMEDIATE_KEY),
            intermediate_key.serialize_pem().as_bytes(),
            true,
        )?;
        write_new(&dir.join(INTERMEDIATE_PEM), issuer.pem().as_bytes(), false)?;
        write_new(&dir.join(ROOT_PEM), root.pem().as_bytes(), false)?;

        Ok(Ca {
            root_der: root.der().to_vec(),
            root_pem: root.pem(),
            intermediate_der: issuer.der().to_vec(),
            intermediate_pem: issuer.pem(),
            intermediate_key,
            issuer,
            intermediate_validity: (now, now + INTERMEDIATE_LIFETIME_SECS),
        })
    }

    /// Load the CA from `dir`. The root key is not read. Checks that the intermediate was issued
    /// by the root and that `intermediate.key` belongs to `intermediate.pem`.
    pub fn open(dir: &Path) -> anyhow::Result<Ca> {
        let root_pem = read(&dir.join(ROOT_PEM))?;
        let intermediate_pem = read(&dir.join(INTERMEDIATE_PEM))?;
        let key_pem = read(&dir.join(INTERMEDIATE_KEY))?;
        let root_der = pem_to_der(&root_pem).context(ROOT_PEM)?;
        let intermediate_der = pem_to_der(&intermediate_pem).context(INTERMEDIATE_PEM)?;
        let intermediate_key = KeyPair::from_pem(&key_pem).context(INTERMEDIATE_KEY)?;

        let root = parse(&root_der).context(ROOT_PEM)?;
        let inter = parse(&intermediate_der).context(INTERMEDIATE_PEM)?;
        if inter.issuer().as_raw() != root.subject().as_raw()
            || inter.verify_signature(Some(root.public_key())).is_err()
        {
            bail!("{INTERMEDIATE_PEM} was not issued by {ROOT_PEM}");
        }
        let name = root
            .subject()
            .iter_organization()
            .next()
            .and_then(|a| a.as_str().ok())
            .context("root certificate has no organization name")?;

        // Rebuild rcgen's issuer handle (see the `issuer` field) and check it against the file.
        let mut params = ca_params(name, Level::Intermediate)?;
        params.not_before = inter.validity().not_before.to_datetime();
        params.not_after = inter.validity().not_after.to_datetime();
        let issuer = params
            .self_signed(&intermediate_key)
            .context("rebuilding the intermediate issuer")?;
        let rebuilt = parse(issuer.der()).context("rebuilt intermediate")?;
        if rebuilt.subject().as_raw() != inter.subject().as_raw() {
            bail!("{INTERMEDIATE_PEM} has a subject this version cannot reproduce");
        }
        if rebuilt.public_key().raw != inter.public_key().raw {
            bail!("{INTERMEDIATE_KEY} does not match {INTERMEDIATE_PEM}");
        }
        let intermediate_validity = (
            inter.validity().not_before.timestamp(),
            inter.validity().not_after.timestamp(),
        );

        Ok(Ca {
            root_der,
            root_pem,
            intermediate_der,
            intermediate_pem,
            intermediate_key,
            issuer,
            intermediate_validity,
        })
    }

    /// Open the CA in `dir` if `root.pem` exists there, else create it (`name` and `now` are used
    /// only then). The flag says whether it was created.
    pub fn open_or_create(dir: &Path, name: &str, now: i64) -> anyhow::Result<(Ca, bool)> {
        if dir.join(ROOT_PEM).exists() {
            Ok((Self::open(dir)?, false))
        } else {
            Ok((Self::create(dir, name, now)?, true))
        }
    }

    /// The root certificate, DER.
    pub fn root_der(&self) -> &[u8] {
        &self.root_der
    }

    /// The root certificate, PEM.
    pub fn root_pem(&self) -> &str {
        &self.root_pem
    }

    /// The intermediate certificate, DER.
    pub fn intermediate_der(&self) -> &[u8] {
        &self.intermediate_der
    }

    /// The intermediate certificate, PEM.
    pub fn intermediate_pem(&self) -> &str {
        &self.intermediate_pem
    }
}

#[cfg(test)]
impl Ca {
    /// Test hook: the root as an rcgen issuer with its key, read back from `dir/root.key`, so
    /// tests can mint certificates the production code never would.
    pub(super) fn root_issuer_for_tests(&self, dir: &Path) -> (rcgen::Certificate, KeyPair) {
        let key = KeyPair::from_pem(&read(&dir.join(ROOT_KEY)).unwrap()).unwrap();
        let root = parse(&self.root_der).unwrap();
        let name = root
            .subject()
            .iter_organization()
            .next()
            .unwrap()
            .as_str()
            .unwrap();
        let mut params = ca_params(name, Level::Root).unwrap();
        params.not_before = root.validity().not_before.to_datetime();
        params.not_after = root.validity().not_after.to_datetime();
        (params.self_signed(&key).unwrap(), key)
    }
}

fn parse(der: &[u8]) -> anyhow::Result<X509Certificate<'_>> {
    let (rest, cert) = X509Certificate::from_der(der).context("not an X.509 certificate")?;
    if !rest.is_empty() {
        bail!("trailing bytes after the certificate");
    }
    Ok(cert)
}

fn pem_to_der(pem: &str) -> anyhow::Result<Vec<u8>> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).context("not PEM")?;
    if pem.label != "CERTIFICATE" {
        bail!("PEM label is {}, not CERTIFICATE", pem.label);
    }
    Ok(pem.contents)
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// Write a file that must not exist yet; secrets get mode 0600.
fn write_new(path: &Path, contents: &[u8], secret: bool) -> anyhow::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    if secret {
        opts.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {} (it must not exist yet)", path.display()))?;
    f.write_all(contents)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_750_000_000;

    #[test]
    fn create_writes_four_files_with_private_keys_0600_and_open_reads_them_back() {
        let dir = tempfile::tempdir().unwrap();
        let (ca, created) = Ca::open_or_create(dir.path(), "Tongban Test", NOW).unwrap();
        assert!(created);
        for f in [ROOT_PEM, ROOT_KEY, INTERMEDIATE_PEM, INTERMEDIATE_KEY] {
            assert!(dir.path().join(f).exists(), "{f}");
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for f in [ROOT_KEY, INTERMEDIATE_KEY] {
                let mode = std::fs::metadata(dir.path().join(f))
                    .unwrap()
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o777, 0o600, "{f}");
            }
        }
        let (again, created) = Ca::open_or_create(dir.path(), "ignored", NOW + 5).unwrap();
        assert!(!created);
        assert_eq!(again.root_der(), ca.root_der());
        assert_eq!(again.intermediate_der(), ca.intermediate_der());
        assert_eq!(again.intermediate_pem(), ca.intermediate_pem());
        assert_eq!(again.intermediate_validity, ca.intermediate_validity);
        assert!(ca.root_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(!format!("{ca:?}").contains("PRIVATE"));
    }

    #[test]
    fn ca_can_live_in_shared_state() {
        fn shareable<T: Send + Sync + 'static>() {}
        shareable::<Ca>();
    }

    #[test]
    fn ca_certificates_carry_the_profile() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::create(dir.path(), "Tongban Test", NOW).unwrap();
        let root = parse(ca.root_der()).unwrap();
        let inter = parse(ca.intermediate_der()).unwrap();
        for (cert, path_len, life) in [
            (&root, 1, ROOT_LIFETIME_SECS),
            (&inter, 0, INTERMEDIATE_LIFETIME_SECS),
        ] {
            let bc = cert.basic_constraints().unwrap().unwrap();
            assert!(bc.critical && bc.value.ca);
            assert_eq!(bc.value.path_len_constraint, Some(path_len));
            let ku = cert.key_usage().unwrap().unwrap();
            assert!(ku.critical && ku.value.key_cert_sign() && ku.value.crl_sign());
            assert_eq!(cert.validity().not_before.timestamp(), NOW);
            assert_eq!(cert.validity().not_after.timestamp(), NOW + life);
        }
        assert_eq!(root.issuer().as_raw(), root.subject().as_raw());
        assert_eq!(inter.issuer().as_raw(), root.subject().as_raw());
        inter.verify_signature(Some(root.public_key())).unwrap();
    }

    #[test]
    fn create_refuses_to_overwrite_and_open_detects_a_foreign_key() {
        let dir = tempfile::tempdir().unwrap();
        Ca::create(dir.path(), "Tongban Test", NOW).unwrap();
        assert!(Ca::create(dir.path(), "Tongban Test", NOW).is_err());

        let other = tempfile::tempdir().unwrap();
        Ca::create(other.path(), "Tongban Test", NOW).unwrap();
        std::fs::copy(
            other.path().join(INTERMEDIATE_KEY),
            dir.path().join(INTERMEDIATE_KEY),
        )
        .unwrap();
        let err = Ca::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err:#}");
    }
}
