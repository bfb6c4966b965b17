//! A licence taken apart (the `format` check): header, payload, signature and disclosures.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{Map, Value};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use super::facts::Peek;
use super::memo::{Decoded, Memo, Remembered};
use super::report::*;
use crate::crypto::b64url_decode;
use crate::licences::id::LicenceId;
use crate::licences::sdjwt;
use crate::licences::vc::LICENCE_TYP;
use crate::pki::serial_hex;

/// A licence taken apart; nothing here is verified yet.
pub(super) struct Parsed<'a> {
    /// The licence as presented, without surrounding white space.
    pub(super) presented: &'a str,
    /// `<header>.<payload>`, what the signature covers.
    pub(super) signing_input: &'a str,
    /// The header as presented (base64url).
    pub(super) header: &'a str,
    pub(super) signature: Vec<u8>,
    pub(super) x5c: X5c,
    pub(super) payload: Payload,
    pub(super) disclosures: Vec<&'a str>,
    pub(super) jti: String,
    pub(super) iss: String,
    pub(super) iat: i64,
    pub(super) nbf: i64,
    pub(super) exp: Option<i64>,
}

/// The payload's claims.
pub(super) enum Payload {
    /// Decoded now: the issuer-signed claims, the disclosures not yet revealed into them.
    Decoded(Map<String, Value>),
    /// The same licence verified before: decoded then, with its disclosures revealed.
    Remembered(std::sync::Arc<Decoded>),
}

/// The header's certificate chain.
pub(super) enum X5c {
    /// DER certificates, department certificate first.
    Decoded(Vec<Vec<u8>>),
    /// The same header was parsed and its chain validated before: not decoded again.
    Remembered(std::sync::Arc<Remembered>),
}

impl Parsed<'_> {
    /// The detail a remembered licence wrote when check `name` passed under the same remembered
    /// chain as now.
    pub(super) fn passed_before(&self, name: &str) -> Option<String> {
        match (&self.payload, &self.x5c) {
            (Payload::Remembered(d), X5c::Remembered(m))
                if d.chain
                    .as_ref()
                    .is_some_and(|c| std::sync::Arc::ptr_eq(c, m)) =>
            {
                d.detail(name)
            }
            _ => None,
        }
    }

    pub(super) fn into_peek(self) -> Peek {
        let cert_serial = match &self.x5c {
            X5c::Decoded(certs) => certs.first().and_then(|der| {
                X509Certificate::from_der(der)
                    .ok()
                    .map(|(_, c)| serial_hex(c.raw_serial()))
            }),
            X5c::Remembered(m) => Some(m.chain.serial().to_owned()),
        };
        Peek {
            licence_id: self.jti,
            cert_serial,
        }
    }

    pub(super) fn certificates(&self) -> usize {
        match &self.x5c {
            X5c::Decoded(certs) => certs.len(),
            X5c::Remembered(m) => m.certificates,
        }
    }
}

/// Why a licence does not parse: the `format` (or, for a header, `certificate_chain`) check's detail.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error(transparent)]
    SdJwt(sdjwt::SdError),
    #[error("the issuer-signed part is not a compact JWS <header>.<payload>.<signature>")]
    NotJws,
    #[error("the payload is not base64url of a JSON object")]
    Payload,
    #[error("the signature is not base64url")]
    Signature,
    #[error("the payload has no string claim {0}")]
    NoStringClaim(String),
    #[error("the claim {0} is not an integer time")]
    NotATime(String),
    #[error("the payload has no claim {0}")]
    NoClaim(String),
    #[error("the jti is not a licence identifier: {0}")]
    Jti(String),
    #[error("the JWS header is not base64url of a JSON object")]
    Header,
    #[error("the header's alg is not ES256")]
    Alg,
    #[error("the header's typ is not {LICENCE_TYP}")]
    Typ,
    #[error("the header has critical extensions (crit), which are not supported")]
    Crit,
    #[error("an x5c entry is not standard base64")]
    X5cEntry,
    #[error("the header has no x5c certificate chain")]
    NoX5c,
}

/// `memo` (with the root) lets a header seen before skip its decoding: it parsed then, and the
/// memo holds only headers that did; a licence verified before skips the payload's decoding too.
pub(super) fn parse<'a>(
    sd_jwt: &'a str,
    memo: Option<(&Memo, &[u8])>,
) -> Result<Parsed<'a>, ParseError> {
    let sd_jwt = sd_jwt.trim();
    // The issuer-signed JWT alone (no `~`) is the licence with no disclosure attached.
    let (jwt, disclosures) = if sd_jwt.contains('~') {
        sdjwt::split(sd_jwt).map_err(ParseError::SdJwt)?
    } else {
        (sd_jwt, Vec::new())
    };
    let (signing_input, signature) = jwt.rsplit_once('.').ok_or(ParseError::NotJws)?;
    let (header, payload) = signing_input.split_once('.').ok_or(ParseError::NotJws)?;
    if [header, payload, signature].iter().any(|s| s.is_empty()) || payload.contains('.') {
        return Err(ParseError::NotJws);
    }
    let licence = memo.and_then(|(m, _)| m.licences.get(sd_jwt));
    // The chain the licence verified under, if it was (the root and window are checked on use,
    // as for a chain found by its header); else the header's.
    let remembered = match licence.as_ref().and_then(|d| d.chain.as_ref()) {
        Some(c) if memo.is_some_and(|(_, root)| c.root == root) => Some(c.clone()),
        _ => memo.and_then(|(m, root)| m.chain(header, root)),
    };
    let x5c = match remembered {
        Some(m) => X5c::Remembered(m),
        None => X5c::Decoded(parse_header(header)?),
    };
    if let Some(d) = licence {
        return Ok(Parsed {
            presented: sd_jwt,
            signing_input,
            header,
            signature: d.signature.clone(),
            x5c,
            disclosures,
            jti: d.jti.clone(),
            iss: d.iss.clone(),
            iat: d.iat,
            nbf: d.nbf,
            exp: d.exp,
            payload: Payload::Remembered(d),
        });
    }
    let payload = json_object(payload).ok_or(ParseError::Payload)?;
    let signature = b64url_decode(signature).ok_or(ParseError::Signature)?;

    let string = |name: &str| match payload.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(ParseError::NoStringClaim(name.to_owned())),
    };
    let int = |name: &str| match payload.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| ParseError::NotATime(name.to_owned())),
    };
    let required = |name: &str| int(name)?.ok_or_else(|| ParseError::NoClaim(name.to_owned()));
    let iss = string("iss")?;
    string("vct")?;
    let jti = string("jti")?;
    LicenceId::parse(&jti).map_err(|e| ParseError::Jti(e.to_string()))?;
    Ok(Parsed {
        presented: sd_jwt,
        signing_input,
        header,
        signature,
        x5c,
        disclosures,
        jti,
        iss,
        iat: required("iat")?,
        nbf: required("nbf")?,
        exp: int("exp")?,
        payload: Payload::Decoded(payload),
    })
}

/// The JWS header's checks, and its `x5c` decoded.
pub(super) fn parse_header(header: &str) -> Result<Vec<Vec<u8>>, ParseError> {
    let header = json_object(header).ok_or(ParseError::Header)?;
    if header.get("alg").and_then(Value::as_str) != Some("ES256") {
        return Err(ParseError::Alg);
    }
    if header.get("typ").and_then(Value::as_str) != Some(LICENCE_TYP) {
        return Err(ParseError::Typ);
    }
    if header.contains_key("crit") {
        return Err(ParseError::Crit);
    }
    match header.get("x5c") {
        Some(Value::Array(certs)) if !certs.is_empty() => certs
            .iter()
            .map(|c| c.as_str().and_then(|s| STANDARD.decode(s).ok()))
            .collect::<Option<Vec<_>>>()
            .ok_or(ParseError::X5cEntry),
        _ => Err(ParseError::NoX5c),
    }
}

pub(super) fn json_object(b64: &str) -> Option<Map<String, Value>> {
    match serde_json::from_slice(&b64url_decode(b64)?).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// The validity period as the `validity_period` check states it.
pub(super) fn validity_period(p: &Parsed<'_>) -> String {
    match p.exp {
        Some(exp) => format!("from {} until {}", utc(p.nbf), utc(exp)),
        None => format!("from {}, without expiry", utc(p.nbf)),
    }
}

/// The licence's issuance leaf as the repository must have logged it.
pub(super) fn expected_leaf(p: &Parsed<'_>) -> Vec<u8> {
    crate::tlog::leaf::issued_leaf(&p.jti, p.iat, &issuer_signed(p)).to_bytes()
}

/// The issuer-signed JWT with its signature in canonical base64url, as issuance logged it.
pub(super) fn issuer_signed(p: &Parsed<'_>) -> String {
    format!(
        "{}.{}",
        p.signing_input,
        crate::crypto::b64url(&p.signature)
    )
}
