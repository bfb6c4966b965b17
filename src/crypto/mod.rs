//! Cryptographic building blocks: random tokens, hashes, constant-time comparison, the JWS signer and
//! verifier (`jwt`), the signing key store (`keys`), the personal-data cipher (`pii`) and password
//! hashing (`password`). Everything here is synchronous and CPU-bound; callers on the async runtime
//! keep the slow parts (argon2id, RSA signing) on blocking threads.

pub mod ed25519;
pub mod es256;
pub mod jwks;
pub mod jwt;
pub mod keys;
pub mod password;
pub mod pii;
pub mod pool;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;

pub fn b64url(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

/// A fresh 256-bit random secret, base64url-encoded (43 characters): session ids, codes, refresh
/// tokens, client secrets.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b64url(b)
}

/// A shorter random identifier (128 bits) for public ids: accounts, sessions' `sid`, jti.
pub fn random_id() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b64url(b)
}

/// SHA-256 of the concatenation of `parts`, without concatenating them.
pub fn sha256_parts(parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for part in parts {
        ctx.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

pub fn sha256(data: impl AsRef<[u8]>) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, data.as_ref());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// The stored form of a high-entropy secret (code, refresh token, session id, client secret).
/// A plain SHA-256 suffices for 256-bit random secrets: nobody can guess the preimage, and a slow hash
/// would cap the token endpoint at a few dozen requests per second. Passwords use argon2id instead.
pub fn secret_hash(secret: &str) -> Vec<u8> {
    sha256(secret.as_bytes()).to_vec()
}

pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let tag = ring::hmac::sign(&k, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Lowercase hex of every byte (hashes shown to people: chain heads, log roots).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A code a person types (activation codes, recovery codes): 16 characters of Crockford base32 in
/// groups of four, 80 random bits.
pub fn random_code() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    let chars: Vec<char> = b
        .iter()
        .map(|x| CROCKFORD[usize::from(x % 32)] as char)
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// A code as typed: case, spaces and dashes ignored; Crockford's look-alikes read as digits.
pub fn normalise_code(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod code_tests {
    use super::*;

    #[test]
    fn codes_are_16_crockford_characters_in_groups_and_read_forgivingly() {
        let c = random_code();
        assert_eq!(c.len(), 19);
        assert!(c
            .split('-')
            .all(|g| g.len() == 4 && g.bytes().all(|b| CROCKFORD.contains(&b))));
        assert_eq!(normalise_code("abcd-efgh io l0"), "ABCDEFGH1010");
        assert_eq!(normalise_code(&c.to_lowercase()), c.replace('-', ""));
    }
}
