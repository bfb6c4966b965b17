//! JWTs signed by someone else's keys: a client's JWK Set (RFC 7517), for RFC 7523 client assertions.

use josekit::jws::{JwsVerifier, ES256, PS256, RS256};
use serde_json::{Map, Value};

/// Why a JWT did not verify against a JWK Set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    #[error("the keys do not parse as a JWK Set")]
    NotAJwkSet,
    #[error("not a JWT")]
    NotAJwt,
    #[error("no key of the set matches the JWT")]
    NoMatchingKey,
    #[error("the key is not an {0} key")]
    WrongKeyType(&'static str),
    #[error("the JWT's algorithm is not supported")]
    UnsupportedAlg,
    #[error("the JWT does not verify")]
    BadSignature,
}

/// A value that is not a JWK Set, and why.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotAJwkSet(String);

/// Is `jwks` a JWK Set?
pub fn check_set(jwks: &Value) -> Result<(), NotAJwkSet> {
    josekit::jwk::JwkSet::from_map(jwks.as_object().cloned().unwrap_or_default())
        .map(|_| ())
        .map_err(|e| NotAJwkSet(e.to_string()))
}

/// Verify `jwt` (ES256, RS256 or PS256) with the key of `jwks` its `kid` names (or the first key
/// without a `kid`); its claims once it verified. The claims' meaning is the caller's business.
pub fn verify(jwt: &str, jwks: &Value) -> Result<Map<String, Value>, JwksError> {
    let set =
        josekit::jwk::JwkSet::from_map(jwks.as_object().cloned().ok_or(JwksError::NotAJwkSet)?)
            .map_err(|_| JwksError::NotAJwkSet)?;
    let header = super::jwt::parse(jwt)
        .map_err(|_| JwksError::NotAJwt)?
        .header;
    let candidates = match header.get("kid").and_then(Value::as_str) {
        Some(kid) => set.get(kid),
        None => set.keys(),
    };
    let jwk = candidates.first().ok_or(JwksError::NoMatchingKey)?;
    let verifier: Box<dyn JwsVerifier> = match header.get("alg").and_then(Value::as_str) {
        Some("ES256") => Box::new(
            ES256
                .verifier_from_jwk(jwk)
                .map_err(|_| JwksError::WrongKeyType("ES256"))?,
        ),
        Some("RS256") => Box::new(
            RS256
                .verifier_from_jwk(jwk)
                .map_err(|_| JwksError::WrongKeyType("RSA"))?,
        ),
        Some("PS256") => Box::new(
            PS256
                .verifier_from_jwk(jwk)
                .map_err(|_| JwksError::WrongKeyType("RSA"))?,
        ),
        _ => return Err(JwksError::UnsupportedAlg),
    };
    let (payload, _) = josekit::jwt::decode_with_verifier(jwt, verifier.as_ref())
        .map_err(|_| JwksError::BadSignature)?;
    Ok(payload.claims_set().clone())
}
