//! Signing licences as SD-JWT VCs (`typ: dc+sd-jwt`, ES256) and status lists (`typ: statuslist+jwt`)
//! with a department key, the certificate chain in `x5c` (department certificate first, then the
//! intermediate; standard base64 DER as RFC 7515 §4.1.6 requires). The root is distributed out of band.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};

use super::sdjwt;
use crate::crypto::b64url;
use crate::crypto::es256::Es256Key;

pub const LICENCE_TYP: &str = "dc+sd-jwt";
pub const STATUS_LIST_TYP: &str = "statuslist+jwt";

#[derive(Debug, thiserror::Error)]
pub enum VcError {
    #[error("the department key is not a P-256 PKCS#8 key")]
    Key,
    #[error("signing failed")]
    Signing,
    #[error(transparent)]
    Sd(#[from] sdjwt::SdError),
}

/// A department's signing key with its certificate chain.
pub struct Signer {
    /// Serial (hex) of the department certificate.
    pub serial: String,
    key: Es256Key,
    x5c: Vec<String>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({})", self.serial)
    }
}

impl Signer {
    /// `chain`: the department certificate, then the intermediate (DER).
    pub fn new(serial: String, pkcs8: &[u8], chain: &[Vec<u8>]) -> Result<Self, VcError> {
        let key = Es256Key::from_pkcs8(pkcs8).map_err(|_| VcError::Key)?;
        Ok(Self {
            serial,
            key,
            x5c: chain.iter().map(|c| STANDARD.encode(c)).collect(),
        })
    }

    /// A compact JWS over `payload` with `alg: ES256`, `typ` and `x5c`.
    pub fn sign_jwt(&self, typ: &str, payload: &Value) -> Result<String, VcError> {
        let header = json!({ "alg": "ES256", "typ": typ, "x5c": self.x5c });
        let mut out = b64url(header.to_string());
        out.push('.');
        out.push_str(&b64url(payload.to_string()));
        let sig = self
            .key
            .sign(out.as_bytes())
            .map_err(|_| VcError::Signing)?;
        out.push('.');
        out.push_str(&b64url(&sig));
        Ok(out)
    }

    /// The full licence: the claims in `disclosable` become disclosures, all of them attached.
    pub fn sign_licence(
        &self,
        claims: Map<String, Value>,
        disclosable: &[&str],
    ) -> Result<String, VcError> {
        let (payload, disclosures) = sdjwt::conceal(claims, disclosable)?;
        let jwt = self.sign_jwt(LICENCE_TYP, &Value::Object(payload))?;
        Ok(sdjwt::serialize(
            &jwt,
            disclosures.iter().map(|d| d.encoded()),
        ))
    }
}
