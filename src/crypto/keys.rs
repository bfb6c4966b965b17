//! The signing key store under `keys/`: ES256 and RS256 keys as PKCS#8 PEM files with a manifest,
//! `keyset.json`, that gives each key a state. Rotation follows DESIGN.md: a key is published in JWKS
//! as `next` before it signs, signs while `active`, and stays published while `retired` until every
//! token it signed has expired. The symmetric data keys live beside them in `data-keys.json`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::Context;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, KeyPair, RsaKeyPair, RsaPublicKeyComponents, UnparsedPublicKey,
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_2048_8192_SHA256,
    RSA_PKCS1_SHA256,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::b64url;
use super::pii::{DataKeys, DataKeysFile};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SigningAlg {
    ES256,
    RS256,
}

impl SigningAlg {
    pub const ALL: [SigningAlg; 2] = [SigningAlg::ES256, SigningAlg::RS256];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ES256 => "ES256",
            Self::RS256 => "RS256",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ES256" => Some(Self::ES256),
            "RS256" => Some(Self::RS256),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    Next,
    Active,
    Retired,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyEntry {
    pub kid: String,
    pub alg: SigningAlg,
    pub state: KeyState,
    pub created_at: i64,
    #[serde(default)]
    pub retired_at: Option<i64>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    keys: Vec<KeyEntry>,
}

enum Private {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

/// One key: private half (never serialised, `Debug` redacted) and public half.
pub struct SigningKey {
    pub kid: String,
    pub alg: SigningAlg,
    private: Private,
    public: Vec<u8>,
    rsa_e: Vec<u8>,
    rng: SystemRandom,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({}, {})", self.kid, self.alg.as_str())
    }
}

#[derive(Debug)]
pub struct KeyUnusable;

impl SigningKey {
    fn from_pkcs8(kid: String, alg: SigningAlg, der: &[u8]) -> anyhow::Result<Self> {
        let rng = SystemRandom::new();
        let (private, public, rsa_e) = match alg {
            SigningAlg::ES256 => {
                let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
                    .map_err(|e| anyhow::anyhow!("ES256 key {kid}: {e}"))?;
                let public = kp.public_key().as_ref().to_vec();
                (Private::Ec(kp), public, vec![])
            }
            SigningAlg::RS256 => {
                let kp = RsaKeyPair::from_pkcs8(der)
                    .map_err(|e| anyhow::anyhow!("RS256 key {kid}: {e}"))?;
                let c = RsaPublicKeyComponents::<Vec<u8>>::from(kp.public());
                (Private::Rsa(kp), c.n, c.e)
            }
        };
        Ok(Self {
            kid,
            alg,
            private,
            public,
            rsa_e,
            rng,
        })
    }

    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, KeyUnusable> {
        match &self.private {
            Private::Ec(kp) => kp
                .sign(&self.rng, msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KeyUnusable),
            Private::Rsa(kp) => {
                let mut sig = vec![0; kp.public().modulus_len()];
                kp.sign(&RSA_PKCS1_SHA256, &self.rng, msg, &mut sig)
                    .map_err(|_| KeyUnusable)?;
                Ok(sig)
            }
        }
    }

    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), KeyUnusable> {
        match self.alg {
            SigningAlg::ES256 => {
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &self.public).verify(msg, sig)
            }
            SigningAlg::RS256 => RsaPublicKeyComponents {
                n: &self.public,
                e: &self.rsa_e,
            }
            .verify(&RSA_PKCS1_2048_8192_SHA256, msg, sig),
        }
        .map_err(|_| KeyUnusable)
    }

    pub fn public_jwk(&self) -> Value {
        match self.alg {
            SigningAlg::ES256 => json!({
                "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": self.kid,
                "x": b64url(&self.public[1..33]), "y": b64url(&self.public[33..65]),
            }),
            SigningAlg::RS256 => json!({
                "kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
                "n": b64url(&self.public), "e": b64url(&self.rsa_e),
            }),
        }
    }
}

/// A loaded key set: what signs, what verifies, what JWKS publishes.
#[derive(Debug)]
pub struct KeyStore {
    active: HashMap<SigningAlg, Arc<SigningKey>>,
    by_kid: HashMap<String, Arc<SigningKey>>,
    jwks: Value,
}

impl KeyStore {
    pub fn active(&self, alg: SigningAlg) -> Option<&SigningKey> {
        self.active.get(&alg).map(Arc::as_ref)
    }
    pub fn verifying(&self, kid: &str) -> Option<&SigningKey> {
        self.by_kid.get(kid).map(Arc::as_ref)
    }
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }
}

/// The key directory, with the loaded store behind a lock so a rotation made elsewhere can be reloaded.
#[derive(Debug)]
pub struct KeyDir {
    dir: PathBuf,
    store: RwLock<Arc<KeyStore>>,
    data: Arc<DataKeys>,
}

fn pem_encode(der: &[u8]) -> String {
    // PEM is a dozen lines of base64 framing; a crate for it would add nothing.
    let b64 = STANDARD.encode(der);
    let mut out = String::from("-----BEGIN PRIVATE KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END PRIVATE KEY-----\n");
    out
}

fn pem_decode(pem: &str) -> anyhow::Result<Vec<u8>> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body.trim()).context("key file is not PEM")
}

fn write_secret(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(contents)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn generate(alg: SigningAlg) -> anyhow::Result<Vec<u8>> {
    match alg {
        SigningAlg::ES256 => {
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map(|d| d.as_ref().to_vec())
                .map_err(|_| anyhow::anyhow!("ES256 key generation failed"))
        }
        // ring cannot generate RSA keys; josekit (OpenSSL) can.
        SigningAlg::RS256 => josekit::jws::RS256
            .generate_key_pair(2048)
            .map(|kp| kp.to_der_private_key())
            .context("RS256 key generation failed"),
    }
}

impl KeyDir {
    /// Open `dir`, creating data keys and a first key set (an active and a next key per algorithm) if
    /// there are none. Returns the directory and whether it was created now.
    pub fn open_or_init(dir: &Path, now: i64) -> anyhow::Result<(Self, bool)> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating key directory {}", dir.display()))?;
        let data_path = dir.join("data-keys.json");
        let created = !data_path.exists();
        if created {
            write_secret(
                &data_path,
                serde_json::to_string_pretty(&DataKeysFile::generate())?.as_bytes(),
            )?;
        }
        let data_file: DataKeysFile = serde_json::from_slice(&std::fs::read(&data_path)?)
            .with_context(|| format!("reading {}", data_path.display()))?;
        let data = Arc::new(DataKeys::from_file(&data_file)?);
        if !dir.join("keyset.json").exists() {
            let mut m = Manifest::default();
            for alg in SigningAlg::ALL {
                for state in [KeyState::Active, KeyState::Next] {
                    m.keys.push(new_key(dir, alg, state, now)?);
                }
            }
            save_manifest(dir, &m)?;
        }
        let store = load(dir)?;
        Ok((
            Self {
                dir: dir.to_owned(),
                store: RwLock::new(Arc::new(store)),
                data,
            },
            created,
        ))
    }

    pub fn current(&self) -> Arc<KeyStore> {
        self.store
            .read()
            .map(|g| g.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    pub fn data(&self) -> &DataKeys {
        &self.data
    }

    /// Re-read the manifest (after a rotation by another process or node).
    pub fn reload(&self) -> anyhow::Result<()> {
        let store = Arc::new(load(&self.dir)?);
        match self.store.write() {
            Ok(mut g) => *g = store,
            Err(e) => *e.into_inner() = store,
        }
        Ok(())
    }

    pub fn manifest_modified(&self) -> Option<std::time::SystemTime> {
        std::fs::metadata(self.dir.join("keyset.json"))
            .and_then(|m| m.modified())
            .ok()
    }

    /// Rotate every algorithm: `next` starts signing, `active` retires, a new `next` is published.
    /// Retired keys older than `keep_retired_secs` (the longest token lifetime) are dropped.
    pub fn rotate(&self, now: i64, keep_retired_secs: i64) -> anyhow::Result<Vec<KeyEntry>> {
        let mut m = read_manifest(&self.dir)?;
        m.keys.retain(|k| {
            !(k.state == KeyState::Retired && k.retired_at.unwrap_or(0) + keep_retired_secs < now)
        });
        for k in &mut m.keys {
            match k.state {
                KeyState::Active => {
                    k.state = KeyState::Retired;
                    k.retired_at = Some(now);
                }
                KeyState::Next => k.state = KeyState::Active,
                KeyState::Retired => {}
            }
        }
        for alg in SigningAlg::ALL {
            m.keys.push(new_key(&self.dir, alg, KeyState::Next, now)?);
        }
        let kept: Vec<String> = m.keys.iter().map(|k| k.kid.clone()).collect();
        save_manifest(&self.dir, &m)?;
        for entry in std::fs::read_dir(&self.dir)?.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if let Some(kid) = name.strip_suffix(".pem") {
                if !kept.iter().any(|k| k == kid) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        self.reload()?;
        Ok(m.keys)
    }

    pub fn entries(&self) -> anyhow::Result<Vec<KeyEntry>> {
        Ok(read_manifest(&self.dir)?.keys)
    }
}

fn new_key(dir: &Path, alg: SigningAlg, state: KeyState, now: i64) -> anyhow::Result<KeyEntry> {
    let der = generate(alg)?;
    let kid = format!(
        "{}-{}",
        alg.as_str().to_lowercase(),
        &super::random_id()[..12]
    );
    write_secret(&dir.join(format!("{kid}.pem")), pem_encode(&der).as_bytes())?;
    Ok(KeyEntry {
        kid,
        alg,
        state,
        created_at: now,
        retired_at: None,
    })
}

fn read_manifest(dir: &Path) -> anyhow::Result<Manifest> {
    let p = dir.join("keyset.json");
    serde_json::from_slice(&std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?)
        .with_context(|| format!("parsing {}", p.display()))
}

fn save_manifest(dir: &Path, m: &Manifest) -> anyhow::Result<()> {
    write_secret(
        &dir.join("keyset.json"),
        serde_json::to_string_pretty(m)?.as_bytes(),
    )
}

fn load(dir: &Path) -> anyhow::Result<KeyStore> {
    let m = read_manifest(dir)?;
    let mut active = HashMap::new();
    let mut by_kid = HashMap::new();
    let mut published = Vec::new();
    for e in &m.keys {
        let pem = std::fs::read_to_string(dir.join(format!("{}.pem", e.kid)))
            .with_context(|| format!("reading key {}", e.kid))?;
        let key = Arc::new(SigningKey::from_pkcs8(
            e.kid.clone(),
            e.alg,
            &pem_decode(&pem)?,
        )?);
        published.push(key.public_jwk());
        if e.state == KeyState::Active {
            active.insert(e.alg, key.clone());
        }
        by_kid.insert(e.kid.clone(), key);
    }
    for alg in SigningAlg::ALL {
        anyhow::ensure!(
            active.contains_key(&alg),
            "no active {} key in {}",
            alg.as_str(),
            dir.display()
        );
    }
    Ok(KeyStore {
        active,
        by_kid,
        jwks: json!({ "keys": published }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_publishes_before_signing_and_keeps_retired_keys_until_tokens_expire() {
        let dir = tempfile::tempdir().unwrap();
        let (keys, created) = KeyDir::open_or_init(dir.path(), 1_000).unwrap();
        assert!(created);
        let before = keys.entries().unwrap();
        let next = before
            .iter()
            .find(|k| k.alg == SigningAlg::ES256 && k.state == KeyState::Next)
            .unwrap()
            .kid
            .clone();
        let active = keys
            .current()
            .active(SigningAlg::ES256)
            .unwrap()
            .kid
            .clone();
        let published = |k: &KeyDir, kid: &str| {
            k.current().jwks()["keys"]
                .as_array()
                .unwrap()
                .iter()
                .any(|j| j["kid"] == kid)
        };
        assert!(
            published(&keys, &next),
            "the next key is in JWKS before it signs"
        );
        let old_token = crate::crypto::jwt::sign(
            &keys.current(),
            SigningAlg::ES256,
            "JWT",
            &serde_json::json!({"exp": 9_999_999_999i64}),
        )
        .unwrap();

        keys.rotate(2_000, 3_600).unwrap();
        assert_eq!(
            keys.current().active(SigningAlg::ES256).unwrap().kid,
            next,
            "next became active"
        );
        assert!(published(&keys, &active), "the retired key stays published");
        let _: serde_json::Value =
            crate::crypto::jwt::verify(&keys.current(), &old_token, "JWT", 3_000).unwrap();

        // Much later, a second rotation drops the key retired more than an hour before.
        keys.rotate(2_000 + 3_601, 3_600).unwrap();
        assert!(!published(&keys, &active));
        assert!(crate::crypto::jwt::verify::<serde_json::Value>(
            &keys.current(),
            &old_token,
            "JWT",
            6_000
        )
        .is_err());
        // A fresh process sees the same state.
        let (again, created) = KeyDir::open_or_init(dir.path(), 9_000).unwrap();
        assert!(!created);
        assert_eq!(
            again.current().active(SigningAlg::ES256).unwrap().kid,
            keys.current().active(SigningAlg::ES256).unwrap().kid
        );
    }
}
