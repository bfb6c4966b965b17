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

mod checks;
mod facts;
mod memo;
mod parse;
mod receipt;
mod report;
#[cfg(test)]
mod tests;

use serde_json::{Map, Value};

use crate::licences::vc::LICENCE_TYP;
use checks::*;
use memo::{Decoded, PASS_ONCE};
use parse::*;
use report::*;

pub use facts::{Peek, RepositoryFacts};
pub use memo::Memo;
pub use receipt::check_receipt;
pub use report::{Check, CheckOutcome, Report, Verdict, CHECKS};

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

/// The licence identifier and certificate serial of a presented licence, unverified; `None` if it
/// does not parse (then [`verify`] answers `Malformed` whatever the facts).
pub fn peek(sd_jwt: &str) -> Option<Peek> {
    parse(sd_jwt, None).ok().map(Parsed::into_peek)
}

/// Verify a licence as presented, at time `at` (Unix seconds), against the repository's root
/// certificate (DER); `facts` for online verification, `None` offline. Never fails: every problem
/// is a check in the report.
pub fn verify(sd_jwt: &str, root_der: &[u8], at: i64, facts: Option<&RepositoryFacts>) -> Report {
    verify_with(sd_jwt, root_der, at, facts, None)
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

fn malformed(at: i64, why: parse::ParseError) -> Report {
    let mut r = Recorder::default();
    r.fail(FORMAT, Verdict::Malformed, why.to_string());
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
            remember(memo, &r, &p, root_der, claims.clone(), listed);
        }
        claims
    });
    r.report(at, Some(p.jti), Some(p.iss), claims)
}

/// Remember a licence decoded now whose signature verified under `root_der` and whose
/// disclosures matched (the caller's conditions); `r` holds its checks so far.
fn remember(
    memo: &Memo,
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
        X5c::Decoded(_) => memo.chain(p.header, root_der),
    };
    memo.licences.insert(
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
