//! SD-JWT primitives (RFC 9901, formerly draft-ietf-oauth-selective-disclosure-jwt) for the
//! SD-JWT VC licence format: disclosures, concealing claims, the compact serialization, and
//! revealing disclosed claims on the verifier's side.
//!
//! Scope, deliberately narrow:
//! - only **top-level** claims are selectively disclosable. Object-property disclosures nested
//!   inside other claims, and array-element disclosures (`{"...": digest}`), are not produced;
//!   when received they are rejected ([`SdError::UnknownDisclosure`] for a nested one,
//!   [`SdError::ArrayElementDisclosure`] for an array element);
//! - the hash algorithm is `sha-256` only;
//! - no key binding: the serialization is `<issuer-signed JWT>~<disclosure>~…~<disclosure>~`
//!   with its trailing tilde, and a Key Binding JWT after the last tilde is refused.
//!
//! This module never looks at the JWT's signature; [`reveal`] takes the payload of a JWT whose
//! signature the caller has already verified.
//!
//! A disclosure is `base64url(JSON [salt, claim name, claim value])` with a 128-bit random salt;
//! its digest is `base64url(SHA-256(the ASCII of the encoded disclosure))`, so a disclosure
//! received from elsewhere is hashed exactly as received, whatever its JSON spacing.

use std::collections::HashSet;
use std::fmt;

use rand::RngCore;
use serde_json::{Map, Value};

use crate::crypto::{b64url, b64url_decode, sha256};

/// The only `_sd_alg` this module produces and accepts.
pub const SD_ALG: &str = "sha-256";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdError {
    #[error("an SD-JWT is `<JWT>~<disclosure>~…~`: an issuer-signed JWT, then disclosures, each followed by `~`")]
    Serialization,
    #[error("this SD-JWT carries a key binding JWT, which is not supported")]
    KeyBindingUnsupported,
    #[error("a disclosure is not base64url of a JSON array [salt, claim name, claim value]")]
    MalformedDisclosure,
    #[error("array-element disclosures are not supported")]
    ArrayElementDisclosure,
    #[error("the claim name `{0}` cannot be selectively disclosed")]
    ReservedClaimName(String),
    #[error("the selective disclosure hash algorithm `{0}` is not supported")]
    UnsupportedAlg(String),
    #[error("the payload's `_sd` is not an array of distinct digest strings")]
    MalformedDigests,
    #[error("a disclosure's digest is not listed in the issuer-signed payload: it was altered or belongs to another token")]
    UnknownDisclosure,
    #[error("the same disclosure is presented twice")]
    DuplicateDisclosure,
    #[error("the disclosed claim `{0}` would overwrite a claim that is already present")]
    ClaimCollision(String),
}

/// One selectively disclosable claim. The encoded form is kept as received: the digest covers
/// those exact characters.
#[derive(Clone, PartialEq)]
pub struct Disclosure {
    salt: String,
    name: String,
    value: Value,
    encoded: String,
}

impl Disclosure {
    /// A new disclosure for `name: value` with a fresh 128-bit salt from the operating system.
    pub fn new(name: &str, value: Value) -> Result<Self, SdError> {
        let mut salt = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        Self::with_salt(&b64url(salt), name, value)
    }

    /// A disclosure with a given salt (tests and reproducible examples; issuance uses [`new`]).
    ///
    /// [`new`]: Disclosure::new
    pub fn with_salt(salt: &str, name: &str, value: Value) -> Result<Self, SdError> {
        check_name(name)?;
        let json = Value::Array(vec![
            Value::String(salt.to_owned()),
            Value::String(name.to_owned()),
            value.clone(),
        ]);
        Ok(Self {
            salt: salt.to_owned(),
            name: name.to_owned(),
            value,
            encoded: b64url(json.to_string()),
        })
    }

    /// Decodes a received disclosure. Any JSON spacing is accepted.
    pub fn decode(encoded: &str) -> Result<Self, SdError> {
        let bytes = b64url_decode(encoded).ok_or(SdError::MalformedDisclosure)?;
        let json: Value =
            serde_json::from_slice(&bytes).map_err(|_| SdError::MalformedDisclosure)?;
        let Value::Array(mut items) = json else {
            return Err(SdError::MalformedDisclosure);
        };
        match items.len() {
            3 => {}
            2 => return Err(SdError::ArrayElementDisclosure),
            _ => return Err(SdError::MalformedDisclosure),
        }
        let value = items.pop().unwrap_or(Value::Null);
        let (Some(Value::String(name)), Some(Value::String(salt))) = (items.pop(), items.pop())
        else {
            return Err(SdError::MalformedDisclosure);
        };
        check_name(&name)?;
        Ok(Self {
            salt,
            name,
            value,
            encoded: encoded.to_owned(),
        })
    }

    pub fn salt(&self) -> &str {
        &self.salt
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The base64url form that travels in the SD-JWT.
    pub fn encoded(&self) -> &str {
        &self.encoded
    }

    /// `base64url(SHA-256(ASCII(encoded)))`, the value listed in `_sd`.
    pub fn digest(&self) -> String {
        digest(&self.encoded)
    }
}

/// Claim values are personal data: `Debug` shows the claim name only.
impl fmt::Debug for Disclosure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Disclosure")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The digest of an encoded disclosure, as listed in `_sd`.
pub fn digest(encoded_disclosure: &str) -> String {
    b64url(sha256(encoded_disclosure.as_bytes()))
}

fn check_name(name: &str) -> Result<(), SdError> {
    match name {
        "_sd" | "_sd_alg" | "..." => Err(SdError::ReservedClaimName(name.to_owned())),
        _ => Ok(()),
    }
}

/// Replaces the top-level claims named in `disclosable` by their digests: the returned payload
/// holds `"_sd"` (the digests, sorted, so their order says nothing about the claims) and
/// `"_sd_alg": "sha-256"`; the disclosures go to the holder. Names in `disclosable` that are
/// absent from `claims` are skipped. `claims` must not already use `_sd`, `_sd_alg` or `...`.
pub fn conceal(
    mut claims: Map<String, Value>,
    disclosable: &[&str],
) -> Result<(Map<String, Value>, Vec<Disclosure>), SdError> {
    for reserved in ["_sd", "_sd_alg", "..."] {
        if claims.contains_key(reserved) {
            return Err(SdError::ReservedClaimName(reserved.to_owned()));
        }
    }
    let mut disclosures = Vec::new();
    let mut seen = HashSet::new();
    for &name in disclosable {
        if !seen.insert(name) {
            continue;
        }
        if let Some(value) = claims.remove(name) {
            disclosures.push(Disclosure::new(name, value)?);
        }
    }
    let mut digests: Vec<String> = disclosures.iter().map(Disclosure::digest).collect();
    digests.sort();
    claims.insert(
        "_sd".to_owned(),
        Value::Array(digests.into_iter().map(Value::String).collect()),
    );
    claims.insert("_sd_alg".to_owned(), Value::String(SD_ALG.to_owned()));
    Ok((claims, disclosures))
}

/// The compact serialization without key binding: `<jwt>~<d1>~…~<dn>~`.
pub fn serialize<'a>(jwt: &str, disclosures: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::from(jwt);
    out.push('~');
    for d in disclosures {
        out.push_str(d);
        out.push('~');
    }
    out
}

/// Splits a compact SD-JWT into the issuer-signed JWT and the encoded disclosures. Checks the
/// shape only (a three-part JWT, no empty disclosure, the trailing tilde, no key binding JWT);
/// the disclosures themselves are checked by [`reveal`].
pub fn split(sd_jwt: &str) -> Result<(&str, Vec<&str>), SdError> {
    let mut parts: Vec<&str> = sd_jwt.split('~').collect();
    if parts.len() < 2 {
        return Err(SdError::Serialization);
    }
    match parts.pop() {
        Some("") => {}
        _ => return Err(SdError::KeyBindingUnsupported),
    }
    let jwt = parts.remove(0);
    let jwt_parts: Vec<&str> = jwt.split('.').collect();
    if jwt_parts.len() != 3 || jwt_parts.iter().any(|p| p.is_empty()) {
        return Err(SdError::Serialization);
    }
    if parts.iter().any(|d| d.is_empty()) {
        return Err(SdError::Serialization);
    }
    Ok((jwt, parts))
}

/// Processes the disclosures against a verified issuer-signed payload (RFC 9901 §7.1, top level
/// only): each disclosure's digest must be listed in `_sd`, no disclosure may appear twice and
/// none may overwrite a claim already present. Returns the payload with the disclosed claims
/// inserted and `_sd` / `_sd_alg` removed; undisclosed digests simply disappear.
pub fn reveal(
    payload: &Map<String, Value>,
    disclosures: &[&str],
) -> Result<Map<String, Value>, SdError> {
    reveal_into(payload.clone(), disclosures)
}

/// [`reveal`], consuming the payload (no copy of it).
pub fn reveal_into(
    mut out: Map<String, Value>,
    disclosures: &[&str],
) -> Result<Map<String, Value>, SdError> {
    let sd = out.remove("_sd");
    match out.remove("_sd_alg") {
        None => {}
        Some(Value::String(alg)) if alg == SD_ALG => {}
        Some(Value::String(alg)) => return Err(SdError::UnsupportedAlg(alg)),
        Some(_) => return Err(SdError::UnsupportedAlg(String::new())),
    }
    let listed: HashSet<&str> = match &sd {
        None => HashSet::new(),
        Some(Value::Array(items)) => {
            let mut set = HashSet::new();
            for item in items {
                let Value::String(d) = item else {
                    return Err(SdError::MalformedDigests);
                };
                if !set.insert(d.as_str()) {
                    return Err(SdError::MalformedDigests);
                }
            }
            set
        }
        Some(_) => return Err(SdError::MalformedDigests),
    };
    let mut used = HashSet::new();
    for &encoded in disclosures {
        let d = Disclosure::decode(encoded)?;
        let digest = d.digest();
        if !listed.contains(digest.as_str()) {
            return Err(SdError::UnknownDisclosure);
        }
        if !used.insert(digest) {
            return Err(SdError::DuplicateDisclosure);
        }
        if out.contains_key(&d.name) {
            return Err(SdError::ClaimCollision(d.name));
        }
        out.insert(d.name, d.value);
    }
    Ok(out)
}

/// A holder's share: the same SD-JWT with only the disclosures whose claim names are in `keep`.
/// The issuer-signed JWT is untouched, so the share still verifies.
pub fn select(sd_jwt: &str, keep: &[&str]) -> Result<String, SdError> {
    let (jwt, disclosures) = split(sd_jwt)?;
    let mut kept = Vec::new();
    for encoded in disclosures {
        if keep.contains(&Disclosure::decode(encoded)?.name()) {
            kept.push(encoded);
        }
    }
    Ok(serialize(jwt, kept))
}

#[cfg(test)]
mod tests;
