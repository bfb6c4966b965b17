//! Licence verification: every check separately, and one verdict.
//!
//! [`verify`] takes a licence as presented (the SD-JWT VC compact serialization, with all or only
//! some of its disclosures), the repository's root certificate, the time `at` the question is
//! about ("now", or "was it valid on date D?") and, for online verification, what the repository
//! knows about the licence ([`RepositoryFacts`]). It answers with a [`Report`]: each check with its
//! outcome and a plain-English detail, and one [`Verdict`].
//!
//! The checks, in the order they are reported ([`CHECKS`]):
//!
//! | check | fails when | verdict |
//! |---|---|---|
//! | `format` | not `<JWT>~<disclosure>~…~`; header not `alg: ES256`, `typ: dc+sd-jwt`, `x5c` of ≥ 1 standard-base64 certificates (or it has `crit`); payload not a JSON object with string `iss`, `vct`, a GB/T 36904 `jti`, integer `iat`, `nbf` and, if present, `exp` | [`Verdict::Malformed`] |
//! | `certificate_chain` | the `x5c` chain does not lead to the root ([`Verdict::NotIssuedHere`]); it does, but the department certificate was expired or not yet valid at `iat`, the signing time ([`Verdict::InvalidCertificate`]); any other chain error: an altered or swapped `x5c` ([`Verdict::Tampered`]) | as said |
//! | `certificate_at_signing` | the department certificate had been revoked at or before `iat` (online only) | [`Verdict::InvalidCertificate`] |
//! | `signature` | the ES256 signature does not verify with the department certificate's key | [`Verdict::Tampered`] |
//! | `issuer` | `iss` is not the department certificate's SAN URI | [`Verdict::Tampered`] |
//! | `disclosures` | a disclosure is malformed, not listed in `_sd`, or repeated | [`Verdict::Tampered`] |
//! | `validity_period` | not `nbf ≤ at < exp` | [`Verdict::NotYetValid`] / [`Verdict::Expired`] |
//! | `status` | the last status event at or before `at` is revoked or suspended, or there is none: the licence did not exist yet (online only) | [`Verdict::Revoked`] / [`Verdict::Suspended`] / [`Verdict::NotYetValid`] |
//! | `repository_record` | the repository holds no licence with this `jti` (online only) | [`Verdict::NotIssuedHere`] |
//! | `transparency_log` | online: no leaf of the transparency log records this licence's issuance as signed; offline with a receipt ([`check_receipt`]): the checkpoint's signature or the inclusion proof fails | [`Verdict::NotInLog`] |
//!
//! A check that cannot be made is [`CheckOutcome::Skipped`] with the reason: everything after an
//! unparsable licence; the signature and issuer when the chain gives no trusted key; the online
//! checks offline. The certificate is judged at the **signing time** (`iat`), not at `at`: a
//! licence signed while its department certificate was current stays valid after that
//! certificate expires or is revoked. When several checks fail, the verdict is the first of
//! `Malformed > NotIssuedHere > Tampered > InvalidCertificate > NotInLog > Revoked > Suspended > Expired >
//! NotYetValid` among them; `Valid` only when none failed.
//!
//! Online verification needs the licence's identifier and department certificate serial before
//! it can fetch the [`RepositoryFacts`]: [`peek`] reads them, unverified.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use super::id::LicenceId;
use super::sdjwt;
use super::vc::LICENCE_TYP;
use crate::crypto::b64url_decode;
use crate::pki::{serial_hex, validate_chain, PathError, Purpose, ValidatedChain};

#[cfg(test)]
mod tests;

/// The checks' names, in the order a [`Report`] lists them.
pub const CHECKS: [&str; 10] = [
    FORMAT,
    CERTIFICATE_CHAIN,
    CERTIFICATE_AT_SIGNING,
    SIGNATURE,
    ISSUER,
    DISCLOSURES,
    VALIDITY_PERIOD,
    STATUS,
    REPOSITORY_RECORD,
    TRANSPARENCY_LOG,
];

const FORMAT: &str = "format";
const CERTIFICATE_CHAIN: &str = "certificate_chain";
const CERTIFICATE_AT_SIGNING: &str = "certificate_at_signing";
const SIGNATURE: &str = "signature";
const ISSUER: &str = "issuer";
const DISCLOSURES: &str = "disclosures";
const VALIDITY_PERIOD: &str = "validity_period";
const STATUS: &str = "status";
const REPOSITORY_RECORD: &str = "repository_record";
const TRANSPARENCY_LOG: &str = "transparency_log";

/// The one answer. Variants are in order of precedence: when several checks fail, the first
/// variant among theirs is the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Malformed,
    NotIssuedHere,
    Tampered,
    InvalidCertificate,
    NotInLog,
    Revoked,
    Suspended,
    Expired,
    NotYetValid,
    Valid,
}

impl Verdict {
    /// The wire name (`snake_case`), also the `/metrics` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::NotIssuedHere => "not_issued_here",
            Self::Tampered => "tampered",
            Self::InvalidCertificate => "invalid_certificate",
            Self::NotInLog => "not_in_log",
            Self::Revoked => "revoked",
            Self::Suspended => "suspended",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::Valid => "valid",
        }
    }

    /// One sentence for a person.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Valid => "valid: genuine, unaltered, within its validity period and not revoked or suspended",
            Self::Revoked => "revoked by the issuing department",
            Self::Suspended => "suspended by the issuing department",
            Self::Expired => "expired: past the end of its validity period",
            Self::NotYetValid => "not yet valid: before the start of its validity period",
            Self::Tampered => "tampered: altered after signing, or its signature or certificate chain does not verify",
            Self::NotIssuedHere => "not issued by this repository",
            Self::NotInLog => "not in the transparency log: the repository holds it, but it was never logged as issued",
            Self::InvalidCertificate => "signed with an expired, not yet valid or revoked department certificate",
            Self::Malformed => "malformed: not a licence this repository could have issued",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckOutcome {
    Pass,
    Fail,
    Skipped,
}

/// One check's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// One of [`CHECKS`].
    pub name: &'static str,
    pub outcome: CheckOutcome,
    /// What was found, in English: why it failed, why it was skipped, or what passed.
    pub detail: String,
}

/// The answer to "is this licence valid at `at`?".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub verdict: Verdict,
    /// Every check of [`CHECKS`], in that order.
    pub checks: Vec<Check>,
    /// The `jti` as the licence states it (set whenever the licence parses: vouched for by the
    /// issuer only if the `signature` check passed).
    pub licence_id: Option<String>,
    /// The `iss` as the licence states it (same caveat as `licence_id`).
    pub issuer: Option<String>,
    /// The claims as disclosed (issuer-signed claims plus the attached disclosures, without
    /// `_sd`/`_sd_alg`); only when the signature and the disclosures verified. Shared with the
    /// online verifier's [`Memo`], which answers a licence presented again without copying them.
    pub claims: Option<std::sync::Arc<Map<String, Value>>>,
    /// The time the question is about, Unix seconds.
    pub at: i64,
}

impl Report {
    /// The check named `name` (one of [`CHECKS`]).
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }
}

/// What the repository knows about a licence (online verification). Offline verification passes
/// `None` and the `certificate_at_signing`, `status` and `repository_record` checks are skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepositoryFacts {
    /// The repository holds a licence with this `jti`.
    pub known: bool,
    /// When the repository recorded its issuance, Unix seconds.
    pub issued_at: i64,
    /// Status events `(at, status)` in the order they happened (0 valid, 1 revoked,
    /// 2 suspended), starting with the issuance's `(issued_at, 0)`.
    pub status_history: Vec<(i64, u8)>,
    /// When the department certificate in the licence's `x5c` was revoked, if it was.
    pub cert_revoked_at: Option<i64>,
    /// The licence's transparency-log leaves `(index, leaf bytes)`, sequenced ones first; index
    /// `None` for a leaf queued but not yet sequenced.
    pub log: Vec<(Option<u64>, Vec<u8>)>,
    /// A memo, empty when built (`..Default::default()`): the issuer-signed JWT a verification found
    /// in `log`, with that leaf's index. The same licence presented again is then matched by
    /// comparing strings instead of hashing it into its leaf again.
    pub logged: std::sync::OnceLock<(String, Option<u64>)>,
}

/// What an online verifier looks up before calling [`verify`]. Read without any verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peek {
    /// The `jti` claim.
    pub licence_id: String,
    /// The department certificate's serial (lowercase hex, as [`crate::pki::serial_hex`]), if
    /// `x5c[0]` parses as a certificate.
    pub cert_serial: Option<String>,
}

/// The licence identifier and certificate serial of a presented licence, unverified; `None` if it
/// does not parse (then [`verify`] answers `Malformed` whatever the facts).
/// Just the `jti` of a licence, unverified: the cheap lookup key for cached repository facts.
pub fn peek_id(sd_jwt: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Jti {
        jti: String,
    }
    let payload = sd_jwt.split('~').next()?.split('.').nth(1)?;
    serde_json::from_slice::<Jti>(&crate::crypto::b64url_decode(payload)?)
        .ok()
        .map(|j| j.jti)
}

pub fn peek(sd_jwt: &str) -> Option<Peek> {
    parse(sd_jwt, None).ok().map(Parsed::into_peek)
}

/// Verify a licence as presented, at time `at` (Unix seconds), against the repository's root
/// certificate (DER); `facts` for online verification, `None` offline. Never fails: every problem
/// is a check in the report.
pub fn verify(sd_jwt: &str, root_der: &[u8], at: i64, facts: Option<&RepositoryFacts>) -> Report {
    verify_with(sd_jwt, root_der, at, facts, None)
}

/// What an online verifier remembers between verifications, so that a licence presented again
/// costs one signature check and little else:
///
/// - **validated certificate chains, by the JWS header that carries them**, with the root they lead
///   to and the window in which every certificate of the chain (root included) is valid. One
///   department certificate signs many licences with the same header: a hit whose signing time
///   falls inside the window skips decoding the header and its `x5c` (3 KB of base64 and JSON), two
///   signature checks and three certificate parses.
/// - **decoded licences, by the string presented** (header, payload, signature and disclosures):
///   the payload's claims and the disclosures revealed into them, a pure function of that string.
///   A hit skips decoding the payload and hashing and decoding each disclosure. Only a licence whose
///   signature verified (against the root it was presented under) and whose disclosures matched is
///   remembered, so garbage cannot fill it; the signature is still checked on every verification,
///   and everything that depends on the time or the repository (chain at the signing time, validity
///   period, status, log) is judged afresh.
///
/// Only headers that parsed, chains that validated and licences that verified are remembered;
/// anything else is decoded and validated in full every time. The keys are the strings themselves,
/// compared whole on a hit, so the hash need not resist collisions: foldhash (seeded per process)
/// hashes a few KB in a fraction of SHA-256's time.
pub struct Memo {
    chains: moka::sync::Cache<String, std::sync::Arc<Remembered>, foldhash::fast::RandomState>,
    licences: moka::sync::Cache<String, std::sync::Arc<Decoded>, foldhash::fast::RandomState>,
}

/// A header seen before: its chain, validated, and when every certificate of it is valid.
struct Remembered {
    /// The root the chain was validated against.
    root: Vec<u8>,
    chain: ValidatedChain,
    /// How many certificates the header's `x5c` holds (for the `format` check's detail).
    certificates: usize,
    from: i64,
    until: i64,
}

/// A licence seen before, decoded; nothing in it depends on the time or the repository.
struct Decoded {
    /// The chain it verified under (with its root and window, checked again on every use): a hit
    /// needs no lookup of the header in [`Memo::chains`]. `None` if that chain was not remembered.
    chain: Option<std::sync::Arc<Remembered>>,
    jti: String,
    iss: String,
    iat: i64,
    nbf: i64,
    exp: Option<i64>,
    signature: Vec<u8>,
    /// How many digests the payload's `_sd` lists (for the `disclosures` check's detail).
    listed: usize,
    /// The claims as disclosed: the payload with the attached disclosures revealed.
    claims: std::sync::Arc<Map<String, Value>>,
    /// The details of the checks that passed and depend on nothing but the presented string and
    /// the chain ([`PASS_ONCE`]), written once.
    details: Vec<(&'static str, String)>,
    /// The validity period as the `validity_period` check states it.
    period: String,
}

/// Decoded licences are weighed by their size: the presented string, and about as much again for
/// the claims decoded from it.
const LICENCE_MEMO_BYTES: u64 = 64 * 1024 * 1024;

/// The checks whose passing detail a remembered licence keeps (see [`Decoded::details`]).
const PASS_ONCE: [&str; 5] = [FORMAT, CERTIFICATE_CHAIN, SIGNATURE, ISSUER, DISCLOSURES];

impl Decoded {
    fn detail(&self, name: &str) -> Option<String> {
        self.details
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, d)| d.clone())
    }
}

impl Default for Memo {
    fn default() -> Self {
        let hour = std::time::Duration::from_secs(3600);
        Self {
            chains: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(hour)
                .build_with_hasher(foldhash::fast::RandomState::default()),
            licences: moka::sync::Cache::builder()
                .max_capacity(LICENCE_MEMO_BYTES)
                .weigher(|k: &String, _| u32::try_from(2 * k.len()).unwrap_or(u32::MAX))
                .time_to_live(hour)
                .build_with_hasher(foldhash::fast::RandomState::default()),
        }
    }
}

impl Memo {
    /// Remember a licence decoded now whose signature verified under `root_der` and whose
    /// disclosures matched (the caller's conditions); `r` holds its checks so far.
    fn remember(
        &self,
        r: &Recorder,
        p: &Parsed<'_>,
        root_der: &[u8],
        claims: std::sync::Arc<Map<String, Value>>,
        listed: usize,
    ) {
        let details = r
            .checks
            .iter()
            .filter(|c| c.outcome == CheckOutcome::Pass && PASS_ONCE.contains(&c.name))
            .map(|c| (c.name, c.detail.clone()))
            .collect();
        let chain = match &p.x5c {
            X5c::Remembered(m) => Some(m.clone()),
            X5c::Decoded(_) => self.chain(p.header, root_der),
        };
        self.licences.insert(
            p.presented.to_owned(),
            std::sync::Arc::new(Decoded {
                chain,
                jti: p.jti.clone(),
                iss: p.iss.clone(),
                iat: p.iat,
                nbf: p.nbf,
                exp: p.exp,
                signature: p.signature.clone(),
                listed,
                claims,
                details,
                period: validity_period(p),
            }),
        );
    }

    /// The chain remembered for this header (base64url, as presented) under this root.
    fn chain(&self, header: &str, root_der: &[u8]) -> Option<std::sync::Arc<Remembered>> {
        self.chains.get(header).filter(|m| m.root == root_der)
    }

    fn validate(
        &self,
        header: &str,
        leaf: &[u8],
        intermediates: &[Vec<u8>],
        root_der: &[u8],
        t: i64,
    ) -> Result<ValidatedChain, PathError> {
        let chain = validate_chain(leaf, intermediates, root_der, t, Purpose::LicenceSigning)?;
        let (mut from, mut until) = (chain.not_before(), chain.not_after());
        for der in intermediates
            .iter()
            .map(Vec::as_slice)
            .chain(std::iter::once(root_der))
        {
            if let Ok((_, c)) = X509Certificate::from_der(der) {
                from = from.max(c.validity().not_before.timestamp());
                until = until.min(c.validity().not_after.timestamp());
            }
        }
        self.chains.insert(
            header.to_owned(),
            std::sync::Arc::new(Remembered {
                root: root_der.to_vec(),
                chain: chain.clone(),
                certificates: intermediates.len() + 1,
                from,
                until,
            }),
        );
        Ok(chain)
    }
}

/// [`verify`] with the online verifier's [`Memo`].
pub fn verify_with(
    sd_jwt: &str,
    root_der: &[u8],
    at: i64,
    facts: Option<&RepositoryFacts>,
    memo: Option<&Memo>,
) -> Report {
    match parse(sd_jwt, memo.map(|m| (m, root_der))) {
        Ok(p) => check(p, root_der, at, facts, memo),
        Err(why) => malformed(at, why),
    }
}

/// Online verification in one pass over the licence. Once the licence parses, `facts` is asked for
/// what the repository knows about its `jti` (a cache lookup). When it has nothing at hand, nothing
/// is checked and the answer is the [`Peek`] to fetch the facts with; call [`verify_with`] with them.
/// (The online verifier would otherwise decode the licence twice: once for its lookup keys, once to
/// verify it.)
pub fn verify_cached(
    sd_jwt: &str,
    root_der: &[u8],
    at: i64,
    memo: &Memo,
    facts: impl FnOnce(&str) -> Option<std::sync::Arc<RepositoryFacts>>,
) -> Result<Report, Peek> {
    let p = match parse(sd_jwt, Some((memo, root_der))) {
        Ok(p) => p,
        Err(why) => return Ok(malformed(at, why)),
    };
    match facts(&p.jti) {
        Some(f) => Ok(check(p, root_der, at, Some(&f), Some(memo))),
        None => Err(p.into_peek()),
    }
}

fn malformed(at: i64, why: String) -> Report {
    let mut r = Recorder::default();
    r.fail(FORMAT, Verdict::Malformed, why);
    for name in &CHECKS[1..] {
        r.skip(name, "the licence could not be parsed");
    }
    r.report(at, None, None, None)
}

fn check(
    mut p: Parsed<'_>,
    root_der: &[u8],
    at: i64,
    facts: Option<&RepositoryFacts>,
    memo: Option<&Memo>,
) -> Report {
    let mut r = Recorder::default();
    let remembered = match &p.payload {
        Payload::Remembered(d) => Some(d.clone()),
        Payload::Decoded(_) => None,
    };
    let format = match remembered.as_ref().and_then(|d| d.detail(FORMAT)) {
        Some(detail) => detail,
        None => format!(
            "an ES256 {LICENCE_TYP} SD-JWT with {} certificate(s) in x5c and {} disclosure(s)",
            p.certificates(),
            p.disclosures.len()
        ),
    };
    r.pass(FORMAT, format);
    let chain = check_chain(&mut r, &p, root_der, memo);
    check_cert_at_signing(&mut r, &p, facts);
    let signature_ok = check_signature(&mut r, &p, chain.as_ref());
    check_issuer(&mut r, &p, chain.as_ref());
    let payload = std::mem::replace(&mut p.payload, Payload::Decoded(Map::new()));
    let revealed = match payload {
        Payload::Decoded(payload) => check_disclosures(&mut r, payload, &p.disclosures)
            .map(|(claims, listed)| (std::sync::Arc::new(claims), listed)),
        Payload::Remembered(d) => {
            let detail = d
                .detail(DISCLOSURES)
                .unwrap_or_else(|| disclosures_passed(p.disclosures.len(), d.listed));
            r.pass(DISCLOSURES, detail);
            Some((d.claims.clone(), d.listed))
        }
    };
    let period = match &remembered {
        Some(d) => d.period.clone(),
        None => validity_period(&p),
    };
    check_validity(&mut r, &p, at, period);
    check_status(&mut r, at, facts);
    check_record(&mut r, facts);
    check_log(&mut r, &p, facts);

    let claims = revealed.filter(|_| signature_ok).map(|(claims, listed)| {
        if let (Some(memo), None) = (memo, &remembered) {
            memo.remember(&r, &p, root_der, claims.clone(), listed);
        }
        claims
    });
    r.report(at, Some(p.jti), Some(p.iss), claims)
}

/// A licence taken apart; nothing here is verified yet.
struct Parsed<'a> {
    /// The licence as presented, without surrounding white space.
    presented: &'a str,
    /// `<header>.<payload>`, what the signature covers.
    signing_input: &'a str,
    /// The header as presented (base64url).
    header: &'a str,
    signature: Vec<u8>,
    x5c: X5c,
    payload: Payload,
    disclosures: Vec<&'a str>,
    jti: String,
    iss: String,
    iat: i64,
    nbf: i64,
    exp: Option<i64>,
}

/// The payload's claims.
enum Payload {
    /// Decoded now: the issuer-signed claims, the disclosures not yet revealed into them.
    Decoded(Map<String, Value>),
    /// The same licence verified before: decoded then, with its disclosures revealed.
    Remembered(std::sync::Arc<Decoded>),
}

/// The header's certificate chain.
enum X5c {
    /// DER certificates, department certificate first.
    Decoded(Vec<Vec<u8>>),
    /// The same header was parsed and its chain validated before: not decoded again.
    Remembered(std::sync::Arc<Remembered>),
}

impl Parsed<'_> {
    /// The detail a remembered licence wrote when check `name` passed under the same remembered
    /// chain as now.
    fn passed_before(&self, name: &str) -> Option<String> {
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

    fn into_peek(self) -> Peek {
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

    fn certificates(&self) -> usize {
        match &self.x5c {
            X5c::Decoded(certs) => certs.len(),
            X5c::Remembered(m) => m.certificates,
        }
    }
}

/// `memo` (with the root) lets a header seen before skip its decoding: it parsed then, and the
/// memo holds only headers that did; a licence verified before skips the payload's decoding too.
fn parse<'a>(sd_jwt: &'a str, memo: Option<(&Memo, &[u8])>) -> Result<Parsed<'a>, String> {
    let sd_jwt = sd_jwt.trim();
    // The issuer-signed JWT alone (no `~`) is the licence with no disclosure attached.
    let (jwt, disclosures) = if sd_jwt.contains('~') {
        sdjwt::split(sd_jwt).map_err(|e| e.to_string())?
    } else {
        (sd_jwt, Vec::new())
    };
    let not_jws = "the issuer-signed part is not a compact JWS <header>.<payload>.<signature>";
    let (signing_input, signature) = jwt.rsplit_once('.').ok_or(not_jws)?;
    let (header, payload) = signing_input.split_once('.').ok_or(not_jws)?;
    if [header, payload, signature].iter().any(|s| s.is_empty()) || payload.contains('.') {
        return Err(not_jws.into());
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
    let payload = json_object(payload).ok_or("the payload is not base64url of a JSON object")?;
    let signature = b64url_decode(signature).ok_or("the signature is not base64url")?;

    let string = |name: &str| match payload.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(format!("the payload has no string claim {name}")),
    };
    let int = |name: &str| match payload.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or(format!("the claim {name} is not an integer time")),
    };
    let required = |name: &str| int(name)?.ok_or(format!("the payload has no claim {name}"));
    let iss = string("iss")?;
    string("vct")?;
    let jti = string("jti")?;
    LicenceId::parse(&jti).map_err(|e| format!("the jti is not a licence identifier: {e}"))?;
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
fn parse_header(header: &str) -> Result<Vec<Vec<u8>>, String> {
    let header = json_object(header).ok_or("the JWS header is not base64url of a JSON object")?;
    if header.get("alg").and_then(Value::as_str) != Some("ES256") {
        return Err("the header's alg is not ES256".into());
    }
    if header.get("typ").and_then(Value::as_str) != Some(LICENCE_TYP) {
        return Err(format!("the header's typ is not {LICENCE_TYP}"));
    }
    if header.contains_key("crit") {
        return Err("the header has critical extensions (crit), which are not supported".into());
    }
    match header.get("x5c") {
        Some(Value::Array(certs)) if !certs.is_empty() => certs
            .iter()
            .map(|c| c.as_str().and_then(|s| STANDARD.decode(s).ok()))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| "an x5c entry is not standard base64".into()),
        _ => Err("the header has no x5c certificate chain".into()),
    }
}

fn json_object(b64: &str) -> Option<Map<String, Value>> {
    match serde_json::from_slice(&b64url_decode(b64)?).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// The chain validated at the signing time. When it is genuine but a certificate was out of its
/// validity at `iat`, the check fails and the chain is still returned (validated at a time inside
/// every certificate's validity), so that the signature and issuer can be checked with its key.
fn check_chain(
    r: &mut Recorder,
    p: &Parsed<'_>,
    root_der: &[u8],
    memo: Option<&Memo>,
) -> Option<ValidatedChain> {
    if let X5c::Remembered(m) = &p.x5c {
        if m.from <= p.iat && p.iat <= m.until {
            let detail = p
                .passed_before(CERTIFICATE_CHAIN)
                .unwrap_or_else(|| chain_passes(&m.chain, p.iat));
            r.pass(CERTIFICATE_CHAIN, detail);
            return Some(m.chain.clone());
        }
    }
    // Not remembered, or signed outside the window the memo holds: decoded and validated in full.
    let decoded;
    let x5c = match &p.x5c {
        X5c::Decoded(certs) => certs,
        X5c::Remembered(_) => match parse_header(p.header) {
            Ok(certs) => {
                decoded = certs;
                &decoded
            }
            Err(why) => {
                r.fail(CERTIFICATE_CHAIN, Verdict::Malformed, why);
                return None;
            }
        },
    };
    let Some((leaf, intermediates)) = x5c.split_first() else {
        r.fail(CERTIFICATE_CHAIN, Verdict::Malformed, "x5c is empty");
        return None;
    };
    let validate = |t| match memo {
        Some(m) => m.validate(p.header, leaf, intermediates, root_der, t),
        None => validate_chain(leaf, intermediates, root_der, t, Purpose::LicenceSigning),
    };
    match validate(p.iat) {
        Ok(chain) => {
            r.pass(CERTIFICATE_CHAIN, chain_passes(&chain, p.iat));
            Some(chain)
        }
        Err(PathError::NotOurRoot) => {
            r.fail(
                CERTIFICATE_CHAIN,
                Verdict::NotIssuedHere,
                "not issued by this repository: the certificate chain does not lead to its root",
            );
            None
        }
        Err(e @ (PathError::Expired { .. } | PathError::NotYetValid { .. })) => {
            let when = match e {
                PathError::Expired { .. } => "an expired",
                _ => "a not-yet-valid",
            };
            r.fail(
                CERTIFICATE_CHAIN,
                Verdict::InvalidCertificate,
                format!(
                    "signed with {when} department certificate: at the signing time {}, the {}",
                    utc(p.iat),
                    e
                ),
            );
            // Move `t` to the violated bound until the chain validates; a few steps at most
            // (one per certificate), bounded in case the validity periods do not overlap.
            let mut t = p.iat;
            for _ in 0..=x5c.len() + 1 {
                match validate(t) {
                    Ok(chain) => return Some(chain),
                    Err(PathError::Expired { not_after, .. }) => t = not_after,
                    Err(PathError::NotYetValid { not_before, .. }) => t = not_before,
                    Err(_) => return None,
                }
            }
            None
        }
        Err(e) => {
            r.fail(
                CERTIFICATE_CHAIN,
                Verdict::Tampered,
                format!("the certificate chain in x5c does not verify: {e}"),
            );
            None
        }
    }
}

fn chain_passes(chain: &ValidatedChain, iat: i64) -> String {
    format!(
        "department certificate {} ({}) chains to this repository's root and was within its validity at the signing time {}",
        chain.serial(),
        chain.department_name(),
        utc(iat)
    )
}

fn check_cert_at_signing(r: &mut Recorder, p: &Parsed<'_>, facts: Option<&RepositoryFacts>) {
    let Some(facts) = facts else {
        r.skip(
            CERTIFICATE_AT_SIGNING,
            "offline: whether the department certificate was revoked is known only to the repository",
        );
        return;
    };
    match facts.cert_revoked_at {
        Some(revoked) if revoked <= p.iat => r.fail(
            CERTIFICATE_AT_SIGNING,
            Verdict::InvalidCertificate,
            format!(
                "signed after its department certificate was revoked: revoked {}, signed {}",
                utc(revoked),
                utc(p.iat)
            ),
        ),
        Some(revoked) => r.pass(
            CERTIFICATE_AT_SIGNING,
            format!(
                "the department certificate was revoked {}, after the licence was signed {}; licences signed before stay valid",
                utc(revoked),
                utc(p.iat)
            ),
        ),
        None => r.pass(
            CERTIFICATE_AT_SIGNING,
            "the department certificate has not been revoked",
        ),
    }
}

fn check_signature(r: &mut Recorder, p: &Parsed<'_>, chain: Option<&ValidatedChain>) -> bool {
    let Some(chain) = chain else {
        r.skip(
            SIGNATURE,
            "no trusted department key: the certificate chain did not validate",
        );
        return false;
    };
    let key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, chain.public_key().as_bytes());
    if key.verify(p.signing_input.as_bytes(), &p.signature).is_ok() {
        let detail = p.passed_before(SIGNATURE).unwrap_or_else(|| {
            format!(
                "the ES256 signature verifies with the key of department certificate {}",
                chain.serial()
            )
        });
        r.pass(SIGNATURE, detail);
        true
    } else {
        r.fail(
            SIGNATURE,
            Verdict::Tampered,
            format!(
                "the signature does not verify with the key of department certificate {}: the licence was altered after signing",
                chain.serial()
            ),
        );
        false
    }
}

fn check_issuer(r: &mut Recorder, p: &Parsed<'_>, chain: Option<&ValidatedChain>) {
    let Some(chain) = chain else {
        r.skip(
            ISSUER,
            "no trusted department certificate: the certificate chain did not validate",
        );
        return;
    };
    if p.iss == chain.iss_uri() {
        let detail = p
            .passed_before(ISSUER)
            .unwrap_or_else(|| format!("issued by {} ({})", chain.department_name(), p.iss));
        r.pass(ISSUER, detail);
    } else {
        r.fail(
            ISSUER,
            Verdict::Tampered,
            format!(
                "the licence names issuer {} but its certificate belongs to {} ({})",
                p.iss,
                chain.iss_uri(),
                chain.department_name()
            ),
        );
    }
}

/// The claims with the disclosures revealed, and how many digests the payload listed.
fn check_disclosures(
    r: &mut Recorder,
    payload: Map<String, Value>,
    disclosures: &[&str],
) -> Option<(Map<String, Value>, usize)> {
    let listed = payload
        .get("_sd")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    match sdjwt::reveal_into(payload, disclosures) {
        Ok(claims) => {
            r.pass(DISCLOSURES, disclosures_passed(disclosures.len(), listed));
            Some((claims, listed))
        }
        Err(e) => {
            r.fail(DISCLOSURES, Verdict::Tampered, e.to_string());
            None
        }
    }
}

/// The validity period as the `validity_period` check states it.
fn validity_period(p: &Parsed<'_>) -> String {
    match p.exp {
        Some(exp) => format!("from {} until {}", utc(p.nbf), utc(exp)),
        None => format!("from {}, without expiry", utc(p.nbf)),
    }
}

fn disclosures_passed(attached: usize, listed: usize) -> String {
    format!(
        "{attached} of {listed} selectively disclosable claim(s) attached, each matching a digest in the signed payload"
    )
}

fn check_validity(r: &mut Recorder, p: &Parsed<'_>, at: i64, period: String) {
    if at < p.nbf {
        r.fail(
            VALIDITY_PERIOD,
            Verdict::NotYetValid,
            format!("not yet valid at {}: valid {period}", utc(at)),
        );
    } else if p.exp.is_some_and(|exp| at >= exp) {
        r.fail(
            VALIDITY_PERIOD,
            Verdict::Expired,
            format!("expired at {}: valid {period}", utc(at)),
        );
    } else {
        r.pass(VALIDITY_PERIOD, "valid ".to_owned() + &period);
    }
}

fn check_status(r: &mut Recorder, at: i64, facts: Option<&RepositoryFacts>) {
    let Some(facts) = facts else {
        r.skip(
            STATUS,
            "offline: the status is known only to the repository (its status list)",
        );
        return;
    };
    if !facts.known {
        r.skip(STATUS, "the repository holds no such licence");
        return;
    }
    // The last event at or before `at`, ties going to the later event, as the status list's
    // historical query does.
    let current = facts
        .status_history
        .iter()
        .rev()
        .find(|(t, _)| *t <= at)
        .copied();
    match current {
        None => r.fail(
            STATUS,
            Verdict::NotYetValid,
            format!(
                "the licence did not exist yet at {}: issued {}",
                utc(at),
                utc(facts.issued_at)
            ),
        ),
        Some((_, 0)) => r.pass(STATUS, format!("valid at {}", utc(at))),
        Some((since, 1)) => r.fail(
            STATUS,
            Verdict::Revoked,
            format!("revoked since {}", utc(since)),
        ),
        Some((since, 2)) => r.fail(
            STATUS,
            Verdict::Suspended,
            format!("suspended since {} (as of {})", utc(since), utc(at)),
        ),
        Some((since, other)) => r.fail(
            STATUS,
            Verdict::Suspended,
            format!(
                "status {other} since {}, which this verifier does not know: treated as suspended",
                utc(since)
            ),
        ),
    }
}

fn check_record(r: &mut Recorder, facts: Option<&RepositoryFacts>) {
    match facts {
        None => r.skip(
            REPOSITORY_RECORD,
            "offline: the repository's records were not consulted",
        ),
        Some(f) if f.known => r.pass(
            REPOSITORY_RECORD,
            format!(
                "the repository recorded its issuance at {}",
                utc(f.issued_at)
            ),
        ),
        Some(_) => r.fail(
            REPOSITORY_RECORD,
            Verdict::NotIssuedHere,
            "the repository holds no such licence",
        ),
    }
}

/// The licence's issuance leaf as the repository must have logged it.
fn expected_leaf(p: &Parsed<'_>) -> Vec<u8> {
    crate::tlog::leaf::issued_leaf(&p.jti, p.iat, &issuer_signed(p)).to_bytes()
}

/// The issuer-signed JWT with its signature in canonical base64url, as issuance logged it.
fn issuer_signed(p: &Parsed<'_>) -> String {
    format!(
        "{}.{}",
        p.signing_input,
        crate::crypto::b64url(&p.signature)
    )
}

fn check_log(r: &mut Recorder, p: &Parsed<'_>, facts: Option<&RepositoryFacts>) {
    let Some(facts) = facts else {
        r.skip(
            TRANSPARENCY_LOG,
            "offline: give the issuance receipt to check the licence's inclusion in the log",
        );
        return;
    };
    if !facts.known {
        r.skip(TRANSPARENCY_LOG, "the repository holds no such licence");
        return;
    }
    // `seen == issuer_signed(p)`, without copying the licence into a new string.
    let same = |seen: &str| {
        seen.strip_prefix(p.signing_input)
            .and_then(|s| s.strip_prefix('.'))
            .is_some_and(|signature| signature == crate::crypto::b64url(&p.signature))
    };
    let found = match facts.logged.get() {
        Some((seen, index)) if same(seen) => Some(*index),
        _ => {
            let issuer_signed = issuer_signed(p);
            let expected = crate::tlog::leaf::issued_leaf(&p.jti, p.iat, &issuer_signed).to_bytes();
            let found = facts
                .log
                .iter()
                .find(|(_, leaf)| *leaf == expected)
                .map(|(index, _)| *index);
            if let Some(index) = found {
                let _ = facts.logged.set((issuer_signed, index));
            }
            found
        }
    };
    match found {
        Some(Some(index)) => r.pass(
            TRANSPARENCY_LOG,
            format!("its issuance is leaf {index} of the transparency log"),
        ),
        Some(None) => r.pass(
            TRANSPARENCY_LOG,
            "its issuance is appended to the transparency log and awaits the next checkpoint",
        ),
        None => r.fail(
            TRANSPARENCY_LOG,
            Verdict::NotInLog,
            "not in the transparency log: no leaf records the issuance of this licence as signed",
        ),
    }
}

/// Check an inclusion receipt (from issuance) offline: the receipt's leaf is this licence's issuance
/// leaf, the checkpoint is signed by the log key `vkey` (a C2SP verifier key), and the inclusion
/// proof leads from the leaf to the checkpoint's root (RFC 9162, verified by [`crate::tlog::proof`],
/// not by the prover's code). Replaces the `transparency_log` check of `report`.
pub fn check_receipt(report: &mut Report, sd_jwt: &str, receipt: &Value, vkey: &str) {
    let outcome = match parse(sd_jwt, None) {
        Err(e) => Err(format!("the licence does not parse: {e}")),
        Ok(p) => receipt_holds(&p, receipt, vkey),
    };
    let check = match outcome {
        Ok(detail) => Check {
            name: TRANSPARENCY_LOG,
            outcome: CheckOutcome::Pass,
            detail,
        },
        Err(detail) => {
            report.verdict = report.verdict.min(Verdict::NotInLog);
            Check {
                name: TRANSPARENCY_LOG,
                outcome: CheckOutcome::Fail,
                detail: format!("not in the transparency log: {detail}"),
            }
        }
    };
    if let Some(c) = report
        .checks
        .iter_mut()
        .find(|c| c.name == TRANSPARENCY_LOG)
    {
        *c = check;
    }
}

fn receipt_holds(p: &Parsed<'_>, receipt: &Value, vkey: &str) -> Result<String, String> {
    let note = receipt["checkpoint"]
        .as_str()
        .ok_or("the receipt has no checkpoint")?;
    let cp = crate::tlog::note::open_checkpoint(note, vkey)
        .map_err(|e| format!("the checkpoint is not signed by the log key: {e}"))?;
    let index = receipt["log_index"]
        .as_u64()
        .ok_or("the receipt has no log_index")?;
    let proof = receipt["inclusion_proof"]
        .as_array()
        .ok_or("the receipt has no inclusion_proof")?
        .iter()
        .map(|h| {
            h.as_str()
                .and_then(|s| STANDARD.decode(s).ok())
                .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        })
        .collect::<Option<Vec<[u8; 32]>>>()
        .ok_or("a proof hash is not base64 of 32 bytes")?;
    let leaf = crate::tlog::proof::leaf_hash(&expected_leaf(p));
    crate::tlog::proof::verify_inclusion(&leaf, index, cp.size, &proof, &cp.root)
        .map_err(|e| format!("the inclusion proof fails for this licence's issuance leaf: {e}"))?;
    Ok(format!(
        "its issuance is leaf {index} of the log {} (checkpoint of {} leaves, signed {})",
        cp.origin,
        cp.size,
        utc(cp.time)
    ))
}

/// Collects the checks and the verdict each failure implies.
#[derive(Default)]
struct Recorder {
    checks: Vec<Check>,
    verdict: Option<Verdict>,
}

impl Recorder {
    fn push(&mut self, name: &'static str, outcome: CheckOutcome, detail: impl Into<String>) {
        self.checks.push(Check {
            name,
            outcome,
            detail: detail.into(),
        });
    }

    fn pass(&mut self, name: &'static str, detail: impl Into<String>) {
        self.push(name, CheckOutcome::Pass, detail);
    }

    fn skip(&mut self, name: &'static str, detail: impl Into<String>) {
        self.push(name, CheckOutcome::Skipped, detail);
    }

    fn fail(&mut self, name: &'static str, verdict: Verdict, detail: impl Into<String>) {
        self.push(name, CheckOutcome::Fail, detail);
        // Variants are declared in order of precedence.
        self.verdict = Some(self.verdict.map_or(verdict, |v| v.min(verdict)));
    }

    fn report(
        self,
        at: i64,
        licence_id: Option<String>,
        issuer: Option<String>,
        claims: Option<std::sync::Arc<Map<String, Value>>>,
    ) -> Report {
        Report {
            verdict: self.verdict.unwrap_or(Verdict::Valid),
            checks: self.checks,
            licence_id,
            issuer,
            claims,
            at,
        }
    }
}

/// A Unix time as `YYYY-MM-DDTHH:MM:SSZ`.
fn utc(t: i64) -> String {
    let (y, m, d, h, mi, sec) = crate::domain::time::civil(t);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{sec:02}Z")
}
