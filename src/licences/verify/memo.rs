//! What an online verifier remembers between verifications.

use serde_json::{Map, Value};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use super::report::*;
use crate::pki::{validate_chain, PathError, Purpose, ValidatedChain};

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
    pub(super) chains:
        moka::sync::Cache<String, std::sync::Arc<Remembered>, foldhash::fast::RandomState>,
    pub(super) licences:
        moka::sync::Cache<String, std::sync::Arc<Decoded>, foldhash::fast::RandomState>,
}

/// A header seen before: its chain, validated, and when every certificate of it is valid.
pub(super) struct Remembered {
    /// The root the chain was validated against.
    pub(super) root: Vec<u8>,
    pub(super) chain: ValidatedChain,
    /// How many certificates the header's `x5c` holds (for the `format` check's detail).
    pub(super) certificates: usize,
    pub(super) from: i64,
    pub(super) until: i64,
}

/// A licence seen before, decoded; nothing in it depends on the time or the repository.
pub(super) struct Decoded {
    /// The chain it verified under (with its root and window, checked again on every use): a hit
    /// needs no lookup of the header in [`Memo::chains`]. `None` if that chain was not remembered.
    pub(super) chain: Option<std::sync::Arc<Remembered>>,
    pub(super) jti: String,
    pub(super) iss: String,
    pub(super) iat: i64,
    pub(super) nbf: i64,
    pub(super) exp: Option<i64>,
    pub(super) signature: Vec<u8>,
    /// How many digests the payload's `_sd` lists (for the `disclosures` check's detail).
    pub(super) listed: usize,
    /// The claims as disclosed: the payload with the attached disclosures revealed.
    pub(super) claims: std::sync::Arc<Map<String, Value>>,
    /// The details of the checks that passed and depend on nothing but the presented string and
    /// the chain ([`PASS_ONCE`]), written once.
    pub(super) details: Vec<(&'static str, String)>,
    /// The validity period as the `validity_period` check states it.
    pub(super) period: String,
}

/// Decoded licences are weighed by their size: the presented string, and about as much again for
/// the claims decoded from it.
pub(super) const LICENCE_MEMO_BYTES: u64 = 64 * 1024 * 1024;

/// The checks whose passing detail a remembered licence keeps (see [`Decoded::details`]).
pub(super) const PASS_ONCE: [&str; 5] = [FORMAT, CERTIFICATE_CHAIN, SIGNATURE, ISSUER, DISCLOSURES];

impl Decoded {
    pub(super) fn detail(&self, name: &str) -> Option<String> {
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
    /// The chain remembered for this header (base64url, as presented) under this root.
    pub(super) fn chain(
        &self,
        header: &str,
        root_der: &[u8],
    ) -> Option<std::sync::Arc<Remembered>> {
        self.chains.get(header).filter(|m| m.root == root_der)
    }

    pub(super) fn validate(
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
