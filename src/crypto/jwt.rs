//! Compact JWS over ring: signing with our keys (ES256 at ~20 µs a signature, RS256 on a blocking
//! thread) and verification of JWTs we issued. Written on ring rather than josekit because the token
//! endpoint's hot path is one signature, and ring's ES256 is nearly twice as fast as josekit's
//! (see benches/crypto.rs). josekit is used where foreign keys arrive as JWKs (private_key_jwt).

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::keys::{KeyStore, SigningAlg};
use super::{b64url, b64url_decode};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("the token is not a compact JWS")]
    Malformed,
    #[error("the token is signed by an unknown key")]
    UnknownKey,
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token's type is not the one expected here")]
    WrongType,
    #[error("the token has expired")]
    Expired,
    #[error("the signing key could not be used")]
    Signing,
}

/// Sign `claims` with the store's active key for `alg`, with the given `typ` header.
pub fn sign<C: Serialize>(
    keys: &KeyStore,
    alg: SigningAlg,
    typ: &str,
    claims: &C,
) -> Result<String, JwtError> {
    let key = keys.active(alg).ok_or(JwtError::Signing)?;
    // Written directly: `alg`, `typ` and `kid` are our own constants and base64url ids, nothing to escape,
    // and this runs once per token on the token endpoint's hot path.
    let header = format!(
        r#"{{"alg":"{}","typ":"{}","kid":"{}"}}"#,
        alg.as_str(),
        typ,
        key.kid
    );
    let payload = serde_json::to_vec(claims).map_err(|_| JwtError::Signing)?;
    let mut out = String::with_capacity(payload.len() * 4 / 3 + 200);
    out.push_str(&b64url(header));
    out.push('.');
    out.push_str(&b64url(&payload));
    let sig = key.sign(out.as_bytes()).map_err(|_| JwtError::Signing)?;
    out.push('.');
    out.push_str(&b64url(sig));
    Ok(out)
}

/// The parts of a compact JWS, split but not yet verified.
pub struct Parsed<'a> {
    pub header: Value,
    pub signing_input: &'a str,
    pub payload: Vec<u8>,
    pub signature: Vec<u8>,
}

pub fn parse(token: &str) -> Result<Parsed<'_>, JwtError> {
    let mut parts = token.splitn(3, '.');
    let (h, p, s) = match (parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s)) if !s.contains('.') => (h, p, s),
        _ => return Err(JwtError::Malformed),
    };
    let header: Value = serde_json::from_slice(&b64url_decode(h).ok_or(JwtError::Malformed)?)
        .map_err(|_| JwtError::Malformed)?;
    Ok(Parsed {
        header,
        signing_input: &token[..h.len() + 1 + p.len()],
        payload: b64url_decode(p).ok_or(JwtError::Malformed)?,
        signature: b64url_decode(s).ok_or(JwtError::Malformed)?,
    })
}

/// Verify a JWT we issued: known `kid`, matching `alg`, valid signature, expected `typ`, not expired at `now`.
pub fn verify<C: DeserializeOwned>(
    keys: &KeyStore,
    token: &str,
    typ: &str,
    now: i64,
) -> Result<C, JwtError> {
    let parsed = parse(token)?;
    let kid = parsed
        .header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or(JwtError::UnknownKey)?;
    let alg = parsed
        .header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(JwtError::Malformed)?;
    if parsed.header.get("typ").and_then(Value::as_str) != Some(typ) {
        return Err(JwtError::WrongType);
    }
    let key = keys.verifying(kid).ok_or(JwtError::UnknownKey)?;
    if key.alg.as_str() != alg {
        return Err(JwtError::BadSignature);
    }
    key.verify(parsed.signing_input.as_bytes(), &parsed.signature)
        .map_err(|_| JwtError::BadSignature)?;
    let claims: Value = serde_json::from_slice(&parsed.payload).map_err(|_| JwtError::Malformed)?;
    match claims.get("exp").and_then(Value::as_i64) {
        Some(exp) if exp > now => {}
        _ => return Err(JwtError::Expired),
    }
    serde_json::from_value(claims).map_err(|_| JwtError::Malformed)
}
