//! Department key pairs: ECDSA P-256 keys generated with ring, kept as PKCS#8, whose public half
//! the CA certifies. The private key is a secret type: it never prints and never serializes.

use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};

/// Why a department key could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The system random number generator failed.
    #[error("could not generate a key pair")]
    Generate,
    /// The PKCS#8 document is not an ECDSA P-256 private key.
    #[error("not a PKCS#8 ECDSA P-256 private key")]
    NotP256Pkcs8,
    /// The bytes are not an uncompressed P-256 point (`0x04 || X || Y`, 65 bytes).
    #[error("not an uncompressed P-256 public key")]
    NotP256Point,
}

/// A department's P-256 public key as an uncompressed point (`0x04 || X || Y`), the form the
/// certificate's SubjectPublicKeyInfo and a JWK (`x`, `y`) are made from.
#[derive(Clone, PartialEq, Eq)]
pub struct DepartmentPublicKey([u8; 65]);

impl DepartmentPublicKey {
    /// Accept an uncompressed P-256 point. Only the form is checked here; that the point is on
    /// the curve is checked by ring when a signature is verified with it.
    pub fn from_uncompressed_point(bytes: &[u8]) -> Result<Self, KeyError> {
        let point: [u8; 65] = bytes.try_into().map_err(|_| KeyError::NotP256Point)?;
        if point[0] != 0x04 {
            return Err(KeyError::NotP256Point);
        }
        Ok(Self(point))
    }

    /// The uncompressed point.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for DepartmentPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hex: String = self.0[1..9].iter().map(|b| format!("{b:02x}")).collect();
        write!(f, "DepartmentPublicKey({hex}…)")
    }
}

/// Lets rcgen put this public key in a certificate without holding the private key.
impl rcgen::PublicKeyData for DepartmentPublicKey {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }

    fn algorithm(&self) -> &rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

/// A department's private signing key (PKCS#8 DER) with its public key.
pub struct DepartmentKey {
    pkcs8: Vec<u8>,
    public: DepartmentPublicKey,
}

impl DepartmentKey {
    /// Read a PKCS#8 DER ECDSA P-256 private key.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
            .map_err(|_| KeyError::NotP256Pkcs8)?;
        let public = DepartmentPublicKey::from_uncompressed_point(pair.public_key().as_ref())?;
        Ok(Self {
            pkcs8: der.to_vec(),
            public,
        })
    }

    /// The PKCS#8 DER document, for storage (encrypted at rest) and for ring's
    /// `EcdsaKeyPair::from_pkcs8` when signing.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public key the department's certificate carries.
    pub fn public_key(&self) -> &DepartmentPublicKey {
        &self.public
    }
}

impl std::fmt::Debug for DepartmentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DepartmentKey")
            .field("public", &self.public)
            .field("pkcs8", &"<redacted>")
            .finish()
    }
}

/// Generate a fresh ECDSA P-256 key pair for a department (ring, system randomness).
pub fn generate_department_key() -> Result<DepartmentKey, KeyError> {
    let rng = SystemRandom::new();
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .map_err(|_| KeyError::Generate)?;
    DepartmentKey::from_pkcs8(doc.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_round_trips_through_pkcs8_and_never_prints_its_secret() {
        let key = generate_department_key().unwrap();
        let again = DepartmentKey::from_pkcs8(key.pkcs8_der()).unwrap();
        assert_eq!(key.public_key(), again.public_key());
        assert_eq!(key.public_key().as_bytes().len(), 65);
        let shown = format!("{key:?}");
        assert!(shown.contains("<redacted>"));
        assert!(!shown.contains(&format!("{:?}", key.pkcs8_der())));
    }

    #[test]
    fn rejects_what_is_not_a_p256_key() {
        assert!(matches!(
            DepartmentKey::from_pkcs8(b"nope"),
            Err(KeyError::NotP256Pkcs8)
        ));
        assert!(DepartmentPublicKey::from_uncompressed_point(&[4; 64]).is_err());
        assert!(DepartmentPublicKey::from_uncompressed_point(&[2; 65]).is_err());
    }
}
