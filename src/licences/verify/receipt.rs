//! Offline: an inclusion receipt from issuance, checked against the licence and the log key.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;

use super::parse::*;
use super::report::*;

/// Check an inclusion receipt (from issuance) offline: the receipt's leaf is this licence's issuance
/// leaf, the checkpoint is signed by the log key `vkey` (a C2SP verifier key), and the inclusion
/// proof leads from the leaf to the checkpoint's root (RFC 9162, verified by [`crate::tlog::proof`],
/// not by the prover's code). Replaces the `transparency_log` check of `report`.
pub fn check_receipt(report: &mut Report, sd_jwt: &str, receipt: &Value, vkey: &str) {
    let outcome = match parse(sd_jwt, None) {
        Err(e) => Err(ReceiptError::Licence(e.to_string())),
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

/// Why a receipt does not show the licence in the log.
#[derive(Debug, thiserror::Error)]
pub(super) enum ReceiptError {
    #[error("the licence does not parse: {0}")]
    Licence(String),
    #[error("the receipt has no {0}")]
    Missing(&'static str),
    #[error("the checkpoint is not signed by the log key: {0}")]
    Checkpoint(String),
    #[error("a proof hash is not base64 of 32 bytes")]
    ProofHash,
    #[error("the inclusion proof fails for this licence's issuance leaf: {0}")]
    Inclusion(String),
}

/// The receipt holds for this licence: the detail the report gives, or why it does not hold.
pub(super) fn receipt_holds(
    p: &Parsed<'_>,
    receipt: &Value,
    vkey: &str,
) -> Result<String, ReceiptError> {
    let note = receipt["checkpoint"]
        .as_str()
        .ok_or(ReceiptError::Missing("checkpoint"))?;
    let cp = crate::tlog::note::open_checkpoint(note, vkey)
        .map_err(|e| ReceiptError::Checkpoint(e.to_string()))?;
    let index = receipt["log_index"]
        .as_u64()
        .ok_or(ReceiptError::Missing("log_index"))?;
    let proof = receipt["inclusion_proof"]
        .as_array()
        .ok_or(ReceiptError::Missing("inclusion_proof"))?
        .iter()
        .map(|h| {
            h.as_str()
                .and_then(|s| STANDARD.decode(s).ok())
                .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        })
        .collect::<Option<Vec<[u8; 32]>>>()
        .ok_or(ReceiptError::ProofHash)?;
    let leaf = crate::tlog::proof::leaf_hash(&expected_leaf(p));
    crate::tlog::proof::verify_inclusion(&leaf, index, cp.size, &proof, &cp.root)
        .map_err(|e| ReceiptError::Inclusion(e.to_string()))?;
    Ok(format!(
        "its issuance is leaf {index} of the log {} (checkpoint of {} leaves, signed {})",
        cp.origin,
        cp.size,
        utc(cp.time)
    ))
}
