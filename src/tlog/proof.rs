//! The verifier side of an RFC 9162 Merkle tree: checking inclusion (§2.1.3.2) and consistency (§2.1.4.2)
//! proofs, step by step as the RFC states them.
//!
//! This module is deliberately written apart from the prover in [`super::merkle`] and calls nothing in
//! it (it even has its own hash functions), so that a mistake in one is caught by the tests of the
//! other instead of being repeated in both. Sizes and roots come from a signed checkpoint the caller
//! has already verified; a proof alone says nothing about which tree is the real one.

use crate::crypto::sha256_parts as sha256;
use thiserror::Error;

/// Why a proof was rejected.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum VerifyError {
    #[error("leaf index {index} is not below the tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("old tree size {old_size} is larger than the new tree size {new_size}")]
    OldSizeTooLarge { old_size: u64, new_size: u64 },
    #[error("a consistency proof from the empty tree is undefined")]
    EmptyOldTree,
    #[error("a proof of {len} hashes has the wrong length for these sizes")]
    WrongProofLength { len: usize },
    #[error("the proof does not lead to the old root")]
    OldRootMismatch,
    #[error("the proof does not lead to the root")]
    RootMismatch,
}

/// The leaf hash, SHA-256(0x00 || data): what a verifier computes from the entry it holds.
pub fn leaf_hash(data: &[u8]) -> [u8; 32] {
    sha256(&[&[0x00], data])
}

/// HASH(0x01 || left || right).
fn hash_children(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    sha256(&[&[0x01], left, right])
}

fn lsb(x: u64) -> bool {
    x & 1 == 1
}

/// RFC 9162 §2.1.3.2: checks that `leaf_hash` is leaf `index` of the tree of `size` leaves whose root
/// is `root`, given the audit path `proof` (leaf side first).
pub fn verify_inclusion(
    leaf_hash: &[u8; 32],
    index: u64,
    size: u64,
    proof: &[[u8; 32]],
    root: &[u8; 32],
) -> Result<(), VerifyError> {
    let wrong_length = VerifyError::WrongProofLength { len: proof.len() };
    // 1. If leaf_index is greater than or equal to tree_size, fail.
    if index >= size {
        return Err(VerifyError::IndexOutOfRange { index, size });
    }
    // 2. Set fn to leaf_index and sn to tree_size - 1.
    let (mut fn_, mut sn) = (index, size - 1);
    // 3. Set r to hash.
    let mut r = *leaf_hash;
    // 4. For each value p in the inclusion_path array:
    for p in proof {
        // a. If sn is 0, stop the iteration and fail.
        if sn == 0 {
            return Err(wrong_length);
        }
        // b. If LSB(fn) is set, or if fn is equal to sn, then:
        if lsb(fn_) || fn_ == sn {
            // i. Set r to HASH(0x01 || p || r).
            r = hash_children(p, &r);
            // ii. If LSB(fn) is not set, right-shift both fn and sn equally until either LSB(fn) is
            //     set or fn is 0.
            while !lsb(fn_) && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            // Otherwise: set r to HASH(0x01 || r || p).
            r = hash_children(&r, p);
        }
        // c. Finally, right-shift both fn and sn one time.
        fn_ >>= 1;
        sn >>= 1;
    }
    // 5. Compare sn to 0 and r against the root_hash.
    if sn != 0 {
        return Err(wrong_length);
    }
    if r != *root {
        return Err(VerifyError::RootMismatch);
    }
    Ok(())
}

/// RFC 9162 §2.1.4.2: checks that the tree of `old_size` leaves with root `old_root` is a prefix of the
/// tree of `new_size` leaves with root `new_root`. Equal sizes need an empty proof and equal roots; an
/// empty old tree is refused (the RFC leaves that proof undefined, and it proves nothing).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &[u8; 32],
    new_root: &[u8; 32],
    proof: &[[u8; 32]],
) -> Result<(), VerifyError> {
    let wrong_length = VerifyError::WrongProofLength { len: proof.len() };
    if old_size > new_size {
        return Err(VerifyError::OldSizeTooLarge { old_size, new_size });
    }
    if old_size == 0 {
        return Err(VerifyError::EmptyOldTree);
    }
    if old_size == new_size {
        if !proof.is_empty() {
            return Err(wrong_length);
        }
        if old_root != new_root {
            return Err(VerifyError::RootMismatch);
        }
        return Ok(());
    }
    // 1. If consistency_path is an empty array, stop and fail.
    let Some((head, tail)) = proof.split_first() else {
        return Err(wrong_length);
    };
    // 2. If first is an exact power of 2, prepend first_hash to the consistency_path array.
    let (start, rest) = if old_size.is_power_of_two() {
        (old_root, proof)
    } else {
        (head, tail)
    };
    // 3. Set fn to first - 1 and sn to second - 1.
    let (mut fn_, mut sn) = (old_size - 1, new_size - 1);
    // 4. If LSB(fn) is set, right-shift both fn and sn equally until LSB(fn) is not set.
    while lsb(fn_) {
        fn_ >>= 1;
        sn >>= 1;
    }
    // 5. Set both fr and sr to the first value in the consistency_path array.
    let (mut fr, mut sr) = (*start, *start);
    // 6. For each subsequent value c in the consistency_path array:
    for c in rest {
        // a. If sn is 0, stop the iteration and fail.
        if sn == 0 {
            return Err(wrong_length);
        }
        // b. If LSB(fn) is set, or if fn is equal to sn, then:
        if lsb(fn_) || fn_ == sn {
            // i. Set fr to HASH(0x01 || c || fr). ii. Set sr to HASH(0x01 || c || sr).
            fr = hash_children(c, &fr);
            sr = hash_children(c, &sr);
            // iii. If LSB(fn) is not set, right-shift both fn and sn equally until either LSB(fn) is
            //      set or fn is 0.
            while !lsb(fn_) && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            // Otherwise: set sr to HASH(0x01 || sr || c).
            sr = hash_children(&sr, c);
        }
        // c. Finally, right-shift both fn and sn one time.
        fn_ >>= 1;
        sn >>= 1;
    }
    // 7. Verify that fr equals first_hash, sr equals second_hash, and sn is 0.
    if sn != 0 {
        return Err(wrong_length);
    }
    if fr != *old_root {
        return Err(VerifyError::OldRootMismatch);
    }
    if sr != *new_root {
        return Err(VerifyError::RootMismatch);
    }
    Ok(())
}
