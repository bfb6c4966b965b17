//! The checks after parsing, one function each, in the order the report lists them.

use serde_json::{Map, Value};

use super::facts::RepositoryFacts;
use super::memo::Memo;
use super::parse::*;
use super::report::*;
use crate::licences::sdjwt;
use crate::pki::{validate_chain, PathError, Purpose, ValidatedChain};

/// The chain validated at the signing time. When it is genuine but a certificate was out of its
/// validity at `iat`, the check fails and the chain is still returned (validated at a time inside
/// every certificate's validity), so that the signature and issuer can be checked with its key.
pub(super) fn check_chain(
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
                r.fail(CERTIFICATE_CHAIN, Verdict::Malformed, why.to_string());
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

pub(super) fn chain_passes(chain: &ValidatedChain, iat: i64) -> String {
    format!(
        "department certificate {} ({}) chains to this repository's root and was within its validity at the signing time {}",
        chain.serial(),
        chain.department_name(),
        utc(iat)
    )
}

pub(super) fn check_cert_at_signing(
    r: &mut Recorder,
    p: &Parsed<'_>,
    facts: Option<&RepositoryFacts>,
) {
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

pub(super) fn check_signature(
    r: &mut Recorder,
    p: &Parsed<'_>,
    chain: Option<&ValidatedChain>,
) -> bool {
    let Some(chain) = chain else {
        r.skip(
            SIGNATURE,
            "no trusted department key: the certificate chain did not validate",
        );
        return false;
    };
    if crate::crypto::es256::verify(
        chain.public_key().as_bytes(),
        p.signing_input.as_bytes(),
        &p.signature,
    ) {
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

pub(super) fn check_issuer(r: &mut Recorder, p: &Parsed<'_>, chain: Option<&ValidatedChain>) {
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
pub(super) fn check_disclosures(
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

pub(super) fn disclosures_passed(attached: usize, listed: usize) -> String {
    format!(
        "{attached} of {listed} selectively disclosable claim(s) attached, each matching a digest in the signed payload"
    )
}

pub(super) fn check_validity(r: &mut Recorder, p: &Parsed<'_>, at: i64, period: String) {
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

pub(super) fn check_status(r: &mut Recorder, at: i64, facts: Option<&RepositoryFacts>) {
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

pub(super) fn check_record(r: &mut Recorder, facts: Option<&RepositoryFacts>) {
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

pub(super) fn check_log(r: &mut Recorder, p: &Parsed<'_>, facts: Option<&RepositoryFacts>) {
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
