//! C2SP signed notes (<https://c2sp.org/signed-note>) and checkpoints (<https://c2sp.org/tlog-checkpoint>),
//! Ed25519 only: the log's signing key, the verifier key string that clients pin, signing and opening.
//!
//! Formats, as in Go's `golang.org/x/mod/sumdb/note`:
//! - key hash: the first 4 bytes of SHA-256(name || "\n" || 0x01 || public key);
//! - verifier key: `<name>+<key hash, 8 hex digits>+<base64(0x01 || public key)>`;
//! - note: the text (non-empty, ending in a newline, no control characters but newlines), a blank line,
//!   then lines `— <name> <base64(key hash || signature)>`, the signature being over the text's bytes.
//!
//! A checkpoint's text is `<origin>\n<size>\n<base64 root>\n` followed by one extension line of ours,
//! `time <unix seconds>\n`: the moment the log signed it, so that a monitor can tell a fresh checkpoint
//! from a replayed one. The checkpoint spec allows extension lines; clients that do not know this one
//! still verify the signature and read the first three lines. The origin is also the key name.

use std::fmt;

use crate::crypto::ed25519::{self, SigningKey};
use crate::crypto::sha256_parts as sha256;
use base64::{engine::general_purpose::STANDARD, Engine as _};
use thiserror::Error;

/// The signed-note signature type of Ed25519.
const ALG_ED25519: u8 = 0x01;
/// Signature lines beyond this make the note malformed (as in Go: bounds the work an attacker can cause).
const MAX_SIGNATURES: usize = 100;
const SIG_PREFIX: &str = "— ";

/// What went wrong with a key, a note or a checkpoint.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum NoteError {
    #[error("a key name must be non-empty, without spaces, control characters or '+'")]
    InvalidKeyName,
    #[error("could not generate an Ed25519 key")]
    KeyGeneration,
    #[error("not an Ed25519 PKCS#8 private key")]
    InvalidPrivateKey,
    #[error("malformed verifier key")]
    MalformedVerifierKey,
    #[error("unsupported signature type {0:#04x} (only Ed25519, 0x01)")]
    UnsupportedAlgorithm(u8),
    #[error("the verifier key's hash does not match its name and public key")]
    VerifierKeyHashMismatch,
    #[error("malformed note: {0}")]
    MalformedNote(&'static str),
    #[error("the note has no signature by this key")]
    NoMatchingSignature,
    #[error("the signature by this key is invalid")]
    BadSignature,
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(&'static str),
    #[error("checkpoint origin {origin:?} is not the key name {key_name:?}")]
    OriginMismatch { origin: String, key_name: String },
}

/// signed-note: the first 4 bytes of SHA-256(name || "\n" || 0x01 || public key).
fn key_hash(name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    let h = sha256(&[name.as_bytes(), b"\n", &[ALG_ED25519], public_key]);
    [h[0], h[1], h[2], h[3]]
}

/// A key name: non-empty, no Unicode space, no '+' (it separates the vkey fields), no control character.
fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '+')
}

/// A note's text: non-empty, ends with a newline, no control character other than newline.
fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::MalformedNote("the text must end with a newline"));
    }
    if text.chars().any(|c| c.is_ascii_control() && c != '\n') {
        return Err(NoteError::MalformedNote("control character"));
    }
    Ok(())
}

/// The log's Ed25519 signing key and its name (the log origin, e.g. `tongban.example.cn/licences`).
pub struct LogKey {
    name: String,
    key_pair: SigningKey,
    public_key: [u8; 32],
    key_hash: [u8; 4],
}

impl fmt::Debug for LogKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogKey")
            .field("name", &self.name)
            .field(
                "key_hash",
                &format_args!("{:08x}", u32::from_be_bytes(self.key_hash)),
            )
            .field("private_key", &"<redacted>")
            .finish()
    }
}

impl LogKey {
    /// A new Ed25519 private key as PKCS#8 (v2) DER, to be stored by the caller.
    pub fn generate_pkcs8() -> Result<Vec<u8>, NoteError> {
        SigningKey::generate_pkcs8().map_err(|_| NoteError::KeyGeneration)
    }

    /// Loads a PKCS#8 Ed25519 key (v2 as generated above, or v1 as written by `openssl genpkey`).
    pub fn from_pkcs8(name: &str, pkcs8: &[u8]) -> Result<Self, NoteError> {
        if !is_valid_name(name) {
            return Err(NoteError::InvalidKeyName);
        }
        let key_pair = SigningKey::from_pkcs8(pkcs8).map_err(|_| NoteError::InvalidPrivateKey)?;
        let public_key = key_pair.public_key();
        let key_hash = key_hash(name, &public_key);
        Ok(Self {
            name: name.to_owned(),
            key_pair,
            public_key,
            key_hash,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.public_key
    }

    pub fn key_hash(&self) -> [u8; 4] {
        self.key_hash
    }

    /// The verifier key clients pin: `<name>+<key hash hex>+<base64(0x01 || public key)>`.
    pub fn verifier_key(&self) -> String {
        self.verifier().to_string()
    }

    /// The public half, parsed.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            key_hash: self.key_hash,
            public_key: self.public_key,
        }
    }

    /// Signs a note text: returns the text, a blank line and this key's signature line.
    pub fn sign_note(&self, text: &str) -> Result<String, NoteError> {
        check_text(text)?;
        let signature = self.key_pair.sign(text.as_bytes());
        let mut sig = Vec::with_capacity(4 + 64);
        sig.extend_from_slice(&self.key_hash);
        sig.extend_from_slice(signature.as_ref());
        Ok(format!(
            "{text}\n{SIG_PREFIX}{} {}\n",
            self.name,
            STANDARD.encode(sig)
        ))
    }

    /// Signs a checkpoint, whose origin must be this key's name.
    pub fn sign_checkpoint(&self, checkpoint: &Checkpoint) -> Result<String, NoteError> {
        if checkpoint.origin != self.name {
            return Err(NoteError::OriginMismatch {
                origin: checkpoint.origin.clone(),
                key_name: self.name.clone(),
            });
        }
        self.sign_note(&checkpoint.body())
    }
}

/// A parsed verifier key: name, key hash, Ed25519 public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key_hash: [u8; 4],
    public_key: [u8; 32],
}

impl VerifierKey {
    /// Parses `<name>+<8 hex digits>+<base64(0x01 || 32-byte key)>`, checking the key hash.
    pub fn parse(vkey: &str) -> Result<Self, NoteError> {
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(hash_hex), Some(key_b64)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::MalformedVerifierKey);
        };
        if !is_valid_name(name)
            || hash_hex.len() != 8
            || !hash_hex.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(NoteError::MalformedVerifierKey);
        }
        let hash =
            u32::from_str_radix(hash_hex, 16).map_err(|_| NoteError::MalformedVerifierKey)?;
        let key = STANDARD
            .decode(key_b64)
            .map_err(|_| NoteError::MalformedVerifierKey)?;
        let Some((&alg, public_key)) = key.split_first() else {
            return Err(NoteError::MalformedVerifierKey);
        };
        if alg != ALG_ED25519 {
            return Err(NoteError::UnsupportedAlgorithm(alg));
        }
        let public_key: [u8; 32] = public_key
            .try_into()
            .map_err(|_| NoteError::MalformedVerifierKey)?;
        if key_hash(name, &public_key) != hash.to_be_bytes() {
            return Err(NoteError::VerifierKeyHashMismatch);
        }
        Ok(Self {
            name: name.to_owned(),
            key_hash: hash.to_be_bytes(),
            public_key,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_hash(&self) -> [u8; 4] {
        self.key_hash
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.public_key
    }

    /// Checks a note signed by this key and returns its text. Signature lines of other keys are
    /// ignored; a line of this key whose signature fails is an error; repeats of it are ignored.
    pub fn verify_note<'a>(&self, note: &'a str) -> Result<&'a str, NoteError> {
        if note.chars().any(|c| c.is_ascii_control() && c != '\n') {
            return Err(NoteError::MalformedNote("control character"));
        }
        let split = note.rfind("\n\n").ok_or(NoteError::MalformedNote(
            "no blank line before the signatures",
        ))?;
        let (text, sigs) = (&note[..split + 1], &note[split + 2..]);
        if sigs.is_empty() || !sigs.ends_with('\n') {
            return Err(NoteError::MalformedNote(
                "the signatures must end with a newline",
            ));
        }
        let mut verified = false;
        for (count, line) in sigs.split_terminator('\n').enumerate() {
            if count >= MAX_SIGNATURES {
                return Err(NoteError::MalformedNote("too many signatures"));
            }
            let line = line
                .strip_prefix(SIG_PREFIX)
                .ok_or(NoteError::MalformedNote("bad signature line"))?;
            let (name, b64) = line
                .split_once(' ')
                .ok_or(NoteError::MalformedNote("bad signature line"))?;
            let sig = STANDARD
                .decode(b64)
                .map_err(|_| NoteError::MalformedNote("bad signature base64"))?;
            if !is_valid_name(name) || sig.len() < 5 {
                return Err(NoteError::MalformedNote("bad signature line"));
            }
            if verified || name != self.name || sig[..4] != self.key_hash {
                continue;
            }
            if !ed25519::verify(&self.public_key, text.as_bytes(), &sig[4..]) {
                return Err(NoteError::BadSignature);
            }
            verified = true;
        }
        if verified {
            Ok(text)
        } else {
            Err(NoteError::NoMatchingSignature)
        }
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut key = Vec::with_capacity(33);
        key.push(ALG_ED25519);
        key.extend_from_slice(&self.public_key);
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            u32::from_be_bytes(self.key_hash),
            STANDARD.encode(key)
        )
    }
}

/// Checks a signed note against a verifier key string and returns its text.
pub fn verify_note<'a>(note: &'a str, verifier_key: &str) -> Result<&'a str, NoteError> {
    VerifierKey::parse(verifier_key)?.verify_note(note)
}

/// A checkpoint: the log's commitment to its tree of `size` leaves with root `root`, at `time`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log origin, which is also the signing key's name.
    pub origin: String,
    pub size: u64,
    pub root: [u8; 32],
    /// Unix seconds when the log signed it (our `time` extension line).
    pub time: i64,
}

impl Checkpoint {
    /// The note text: `<origin>\n<size>\n<base64 root>\ntime <unix seconds>\n`.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\ntime {}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root),
            self.time
        )
    }

    /// Parses a checkpoint text strictly: exactly the four lines [`Checkpoint::body`] writes, numbers
    /// in canonical decimal (no sign on the size, no leading zeros), a 32-byte root.
    pub fn parse_body(text: &str) -> Result<Self, NoteError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(NoteError::MalformedCheckpoint("no final newline"))?;
        let lines: Vec<&str> = body.split('\n').collect();
        let [origin, size, root, time] = lines[..] else {
            return Err(NoteError::MalformedCheckpoint("expected four lines"));
        };
        if origin.is_empty() {
            return Err(NoteError::MalformedCheckpoint("empty origin"));
        }
        let size = size
            .parse::<u64>()
            .ok()
            .filter(|n| n.to_string() == size)
            .ok_or(NoteError::MalformedCheckpoint("bad tree size"))?;
        let root: [u8; 32] = STANDARD
            .decode(root)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or(NoteError::MalformedCheckpoint("bad root hash"))?;
        let time = time
            .strip_prefix("time ")
            .and_then(|t| t.parse::<i64>().ok().filter(|n| n.to_string() == t))
            .ok_or(NoteError::MalformedCheckpoint("bad time line"))?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            time,
        })
    }
}

/// Verifies a signed checkpoint against the log's verifier key and parses it; the origin must be the
/// key name.
pub fn open_checkpoint(note: &str, verifier_key: &str) -> Result<Checkpoint, NoteError> {
    let key = VerifierKey::parse(verifier_key)?;
    let checkpoint = Checkpoint::parse_body(key.verify_note(note)?)?;
    if checkpoint.origin != key.name {
        return Err(NoteError::OriginMismatch {
            origin: checkpoint.origin,
            key_name: key.name,
        });
    }
    Ok(checkpoint)
}
