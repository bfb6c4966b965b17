//! Ed25519 (RFC 8032) for the transparency log's checkpoints: the signing key, signing, verifying.

use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};

/// An Ed25519 signing key.
pub struct SigningKey(Ed25519KeyPair);

/// A key could not be generated, or the bytes are not an Ed25519 PKCS#8 private key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRejected;

impl SigningKey {
    /// A new private key as PKCS#8 (v2) DER, to be stored by the caller.
    pub fn generate_pkcs8() -> Result<Vec<u8>, KeyRejected> {
        Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map(|doc| doc.as_ref().to_vec())
            .map_err(|_| KeyRejected)
    }

    /// A PKCS#8 key: v2 as generated above, or v1 as written by `openssl genpkey`.
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, KeyRejected> {
        Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
            .map(Self)
            .map_err(|_| KeyRejected)
    }

    pub fn public_key(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.0.public_key().as_ref());
        out
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        out.copy_from_slice(self.0.sign(message).as_ref());
        out
    }
}

/// Does `signature` verify `message` under the Ed25519 `public_key`?
pub fn verify(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(message, signature)
        .is_ok()
}
