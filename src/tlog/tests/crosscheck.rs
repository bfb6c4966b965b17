//! Every inclusion and consistency proof of every tree up to 64 leaves, produced by the prover, is
//! accepted by the separately written verifier; corrupted ones (in the style of transparency-dev/merkle
//! `proof/verify_test.go`) are rejected.

use crate::tlog::merkle::{Hash, MemoryLog};
use crate::tlog::proof::{leaf_hash, verify_consistency, verify_inclusion, VerifyError};

const MAX: u64 = 64;

fn log_of(size: u64) -> MemoryLog {
    let mut log = MemoryLog::new();
    for i in 0..size {
        log.append(format!("leaf {i}").as_bytes());
    }
    log
}

/// Proofs with one bit flipped: every bit for small trees, a spread of bits otherwise (the exhaustive
/// version takes minutes unoptimised and finds nothing more).
fn bit_flips(proof: &[Hash], all_bits: bool) -> Vec<Vec<Hash>> {
    let mut out = Vec::new();
    for i in 0..proof.len() {
        let bits: Vec<usize> = if all_bits {
            (0..256).collect()
        } else {
            vec![0, 3, 100, 131, 255, (i * 37) % 256]
        };
        for bit in bits {
            let mut p = proof.to_vec();
            p[i][bit / 8] ^= 1 << (bit % 8);
            out.push(p);
        }
    }
    out
}

fn reshaped(proof: &[Hash], extra: &Hash) -> Vec<Vec<Hash>> {
    let mut out = vec![
        [proof, &[*extra]].concat(),
        [&[*extra], proof].concat(),
        [proof, &[[0; 32]]].concat(),
    ];
    if let Some((_, head)) = proof.split_last() {
        out.push(head.to_vec());
    }
    if let Some((first, tail)) = proof.split_first() {
        out.push(tail.to_vec());
        out.push([&[*first, *extra], tail].concat());
        out.push([&[*first], proof].concat());
    }
    out
}

#[test]
fn every_inclusion_proof_verifies_and_corruptions_fail() {
    let log = log_of(MAX);
    let other = [0xab; 32];
    for size in 1..=MAX {
        let root = log.root_at(size).unwrap();
        for index in 0..size {
            let leaf = leaf_hash(format!("leaf {index}").as_bytes());
            assert_eq!(log.leaf_hash(index), Some(leaf));
            let proof = log.inclusion_proof(index, size).unwrap();
            assert!(
                proof.len() as u32 <= 64 - (size - 1).leading_zeros(),
                "{index}/{size}: {}",
                proof.len()
            );
            assert_eq!(
                verify_inclusion(&leaf, index, size, &proof, &root),
                Ok(()),
                "{index}/{size}"
            );

            for bad in bit_flips(&proof, size <= 8)
                .iter()
                .chain(&reshaped(&proof, &root))
            {
                assert!(
                    verify_inclusion(&leaf, index, size, bad, &root).is_err(),
                    "{index}/{size}"
                );
            }
            // Wrong leaf, wrong root.
            assert!(verify_inclusion(&other, index, size, &proof, &root).is_err());
            assert!(verify_inclusion(&leaf, index, size, &proof, &other).is_err());
            if size > 1 {
                let earlier = log.root_at(size - 1).unwrap();
                assert!(verify_inclusion(&leaf, index, size, &proof, &earlier).is_err());
            }
            // Every other index of the same tree.
            for wrong in (0..size).filter(|&i| i != index) {
                assert!(
                    verify_inclusion(&leaf, wrong, size, &proof, &root).is_err(),
                    "{wrong} for {index}/{size}"
                );
            }
            // Every other size whose own path for this index has a different length, and the Go probes.
            for wrong in (1..=2 * MAX).filter(|&s| s != size) {
                let own_len = if index < wrong {
                    log_of_len(index, wrong)
                } else {
                    usize::MAX
                };
                if own_len != proof.len() {
                    assert!(
                        verify_inclusion(&leaf, index, wrong, &proof, &root).is_err(),
                        "{index}/{size} as {wrong}"
                    );
                }
            }
            assert!(verify_inclusion(&leaf, index, size * 2, &proof, &root).is_err());
            assert!(verify_inclusion(&leaf, index, size / 2, &proof, &root).is_err());
        }
    }
}

/// The length of the audit path of `index` in a tree of `size`, from the shape alone.
fn log_of_len(index: u64, size: u64) -> usize {
    crate::tlog::merkle::inclusion_proof(index, size, |_| Some([0; 32]))
        .unwrap()
        .len()
}

#[test]
fn every_consistency_proof_verifies_and_corruptions_fail() {
    let log = log_of(MAX);
    let roots: Vec<Hash> = (0..=MAX).map(|s| log.root_at(s).unwrap()).collect();
    for new in 1..=MAX {
        for old in 1..=new {
            let (r1, r2) = (roots[old as usize], roots[new as usize]);
            let proof = log.consistency_proof(old, new).unwrap();
            assert!(
                proof.len() as u32 <= 64 - (new - 1).leading_zeros() + 1,
                "{old}->{new}"
            );
            assert_eq!(
                verify_consistency(old, new, &r1, &r2, &proof),
                Ok(()),
                "{old}->{new}"
            );
            if old == new {
                assert!(proof.is_empty());
                assert_eq!(
                    verify_consistency(old, new, &r1, &r2, &[r1]),
                    Err(VerifyError::WrongProofLength { len: 1 })
                );
                if old > 1 {
                    let earlier = roots[old as usize - 1];
                    assert_eq!(
                        verify_consistency(old, new, &r1, &earlier, &[]),
                        Err(VerifyError::RootMismatch)
                    );
                }
                continue;
            }
            for bad in bit_flips(&proof, new <= 8)
                .iter()
                .chain(&reshaped(&proof, &r1))
                .chain(&reshaped(&proof, &r2))
            {
                assert!(
                    verify_consistency(old, new, &r1, &r2, bad).is_err(),
                    "{old}->{new}"
                );
            }
            assert!(verify_consistency(old, new, &r1, &r2, &[]).is_err());
            assert!(
                verify_consistency(old, new, &r2, &r1, &proof).is_err(),
                "swapped roots"
            );
            assert!(verify_consistency(old, new, &[7; 32], &r2, &proof).is_err());
            assert!(verify_consistency(old, new, &r1, &[7; 32], &proof).is_err());
            for wrong_old in (1..=new).filter(|&s| s != old) {
                let wrong_root = roots[wrong_old as usize];
                assert!(
                    verify_consistency(wrong_old, new, &wrong_root, &r2, &proof).is_err(),
                    "{old}->{new} as {wrong_old}"
                );
                assert!(
                    verify_consistency(wrong_old, new, &r1, &r2, &proof).is_err(),
                    "{old}->{new} as {wrong_old}"
                );
            }
            for wrong_new in (old..=MAX).filter(|&s| s != new) {
                let wrong_root = roots[wrong_new as usize];
                assert!(
                    verify_consistency(old, wrong_new, &r1, &wrong_root, &proof).is_err(),
                    "{old}->{new} as ->{wrong_new}"
                );
            }
            assert!(verify_consistency(old, new * 2, &r1, &r2, &proof).is_err());
            assert!(verify_consistency(old, new / 2, &r1, &r2, &proof).is_err());
        }
    }
}

#[test]
fn verifier_rejects_impossible_sizes() {
    let h = [1; 32];
    assert_eq!(
        verify_inclusion(&h, 0, 0, &[], &h),
        Err(VerifyError::IndexOutOfRange { index: 0, size: 0 })
    );
    assert_eq!(
        verify_inclusion(&h, 2, 1, &[], &h),
        Err(VerifyError::IndexOutOfRange { index: 2, size: 1 })
    );
    assert_eq!(verify_inclusion(&h, 0, 1, &[], &h), Ok(()));
    assert_eq!(
        verify_inclusion(&h, 0, 1, &[h], &h),
        Err(VerifyError::WrongProofLength { len: 1 })
    );
    assert_eq!(
        verify_inclusion(&h, 0, 2, &[], &h),
        Err(VerifyError::WrongProofLength { len: 0 })
    );
    assert_eq!(
        verify_consistency(2, 1, &h, &h, &[]),
        Err(VerifyError::OldSizeTooLarge {
            old_size: 2,
            new_size: 1
        })
    );
    assert_eq!(
        verify_consistency(0, 0, &h, &h, &[]),
        Err(VerifyError::EmptyOldTree)
    );
    assert_eq!(
        verify_consistency(0, 5, &h, &h, &[]),
        Err(VerifyError::EmptyOldTree)
    );
    assert_eq!(
        verify_consistency(1, 2, &h, &h, &[]),
        Err(VerifyError::WrongProofLength { len: 0 })
    );
    assert_eq!(
        verify_consistency(3, 3, &h, &[2; 32], &[]),
        Err(VerifyError::RootMismatch)
    );
    assert_eq!(verify_consistency(3, 3, &h, &h, &[]), Ok(()));
}
