//! Personal data at rest: national identity numbers are sealed with AES-256-GCM and found again through
//! a keyed HMAC-SHA256 blind index. The same key file holds the keys for pairwise subjects and CSRF tokens.

use rand::RngCore;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use serde::{Deserialize, Serialize};

use super::{b64url, b64url_decode, hmac_sha256};

/// The service's symmetric secrets. Loaded from `keys/data-keys.json`; never logged, never serialised
/// into anything but that file.
pub struct DataKeys {
    pii: LessSafeKey,
    blind_index: [u8; 32],
    pairwise: [u8; 32],
    csrf: [u8; 32],
}

impl std::fmt::Debug for DataKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKeys(<redacted>)")
    }
}

/// On-disk form of [`DataKeys`].
#[derive(Serialize, Deserialize)]
pub struct DataKeysFile {
    pii_aes256gcm: String,
    blind_index_hmac: String,
    pairwise_hmac: String,
    csrf_hmac: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PiiError {
    #[error("a data key in the key file is not 32 bytes of base64url")]
    BadKey,
    #[error("sealed personal data does not decrypt")]
    Open,
}

fn key32(s: &str) -> Result<[u8; 32], PiiError> {
    b64url_decode(s)
        .and_then(|v| v.try_into().ok())
        .ok_or(PiiError::BadKey)
}

impl DataKeysFile {
    pub fn generate() -> Self {
        let g = || {
            let mut b = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut b);
            b64url(b)
        };
        Self {
            pii_aes256gcm: g(),
            blind_index_hmac: g(),
            pairwise_hmac: g(),
            csrf_hmac: g(),
        }
    }
}

impl DataKeys {
    pub fn from_file(f: &DataKeysFile) -> Result<Self, PiiError> {
        let pii = UnboundKey::new(&AES_256_GCM, &key32(&f.pii_aes256gcm)?)
            .map_err(|_| PiiError::BadKey)?;
        Ok(Self {
            pii: LessSafeKey::new(pii),
            blind_index: key32(&f.blind_index_hmac)?,
            pairwise: key32(&f.pairwise_hmac)?,
            csrf: key32(&f.csrf_hmac)?,
        })
    }

    /// `nonce ‖ ciphertext ‖ tag`; `context` (e.g. the account id) is bound as associated data so a
    /// sealed value cannot be moved to another row.
    pub fn seal(&self, plaintext: &str, context: &str) -> Vec<u8> {
        self.seal_bytes(plaintext.as_bytes(), context)
    }

    pub fn open(&self, sealed: &[u8], context: &str) -> Result<String, PiiError> {
        String::from_utf8(self.open_bytes(sealed, context)?).map_err(|_| PiiError::Open)
    }

    /// [`DataKeys::seal`] for bytes (department private keys, licences).
    pub fn seal_bytes(&self, plaintext: &[u8], context: &str) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let mut buf = plaintext.to_vec();
        // Sealing with a fresh random nonce and a valid key cannot fail.
        let _ = self.pii.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(context.as_bytes()),
            &mut buf,
        );
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        out
    }

    pub fn open_bytes(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, PiiError> {
        if sealed.len() < NONCE_LEN {
            return Err(PiiError::Open);
        }
        let (n, ct) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(n).map_err(|_| PiiError::Open)?;
        let mut buf = ct.to_vec();
        let pt = self
            .pii
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buf)
            .map_err(|_| PiiError::Open)?;
        Ok(pt.to_vec())
    }

    pub fn blind_index(&self, canonical: &str) -> Vec<u8> {
        hmac_sha256(&self.blind_index, canonical.as_bytes()).to_vec()
    }

    /// Pairwise subject: base64url(HMAC(key, sector ‖ 0 ‖ local id)), 43 characters.
    pub fn pairwise_subject(&self, sector: &str, local_id: &str) -> String {
        let mut data = sector.as_bytes().to_vec();
        data.push(0);
        data.extend_from_slice(local_id.as_bytes());
        b64url(hmac_sha256(&self.pairwise, &data))
    }

    /// The CSRF token that goes with a CSRF cookie value (signed double-submit).
    pub fn csrf_token(&self, cookie_value: &str) -> String {
        b64url(hmac_sha256(&self.csrf, cookie_value.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_context_binding() {
        let k = DataKeys::from_file(&DataKeysFile::generate()).unwrap();
        let sealed = k.seal("11010519491231002X", "acct-1");
        assert!(!sealed.windows(8).any(|w| w == b"11010519"));
        assert_eq!(k.open(&sealed, "acct-1").unwrap(), "11010519491231002X");
        assert!(k.open(&sealed, "acct-2").is_err());
        assert_eq!(k.blind_index("a"), k.blind_index("a"));
        assert_ne!(k.pairwise_subject("s1", "x"), k.pairwise_subject("s2", "x"));
    }
}
