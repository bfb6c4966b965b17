//! Tests of the transparency log: the published RFC 6962 vectors, an exhaustive prover/verifier
//! cross-check for small trees, the O(log n) bounds, and signed notes and checkpoints.

mod crosscheck;
mod merkle;
mod note;
mod vectors;

use super::merkle::Hash;

/// Decodes 64 hex digits.
pub(super) fn hx(s: &str) -> Hash {
    assert_eq!(s.len(), 64, "{s}");
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

/// Decodes any even number of hex digits.
pub(super) fn bytes(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
