//! ES256 (ECDSA P-256 with SHA-256, fixed-length signatures as JWS uses them) for licences: a
//! department's signing key, and checking a signature with a department certificate's key.

use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING,
};

/// A P-256 signing key.
pub struct Es256Key {
    key: EcdsaKeyPair,
    rng: SystemRandom,
}

/// The bytes are not a P-256 PKCS#8 key, or signing failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unusable;

impl Es256Key {
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, Unusable> {
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng)
            .map_err(|_| Unusable)?;
        Ok(Self { key, rng })
    }

    /// The 64-byte `r || s` signature of `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Unusable> {
        self.key
            .sign(&self.rng, message)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| Unusable)
    }
}

/// Does the `r || s` `signature` verify `message` under `public_key` (an uncompressed SEC 1 point)?
pub fn verify(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public_key)
        .verify(message, signature)
        .is_ok()
}
