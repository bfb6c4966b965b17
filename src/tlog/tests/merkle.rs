//! The prover's storage model: which nodes an append completes, the frontier, rebuilding it from
//! stored nodes, and the O(log n) bounds on what a proof reads.

use std::cell::Cell;
use std::collections::HashSet;

use crate::tlog::merkle::{self, Frontier, Hash, MemoryLog, NodeId, ProofError};
use crate::tlog::proof;

/// A deterministic stand-in for any stored node, for trees too big to build.
fn fake(id: NodeId) -> Hash {
    let mut h = [0u8; 32];
    h[..4].copy_from_slice(&id.level.to_be_bytes());
    h[4..12].copy_from_slice(&id.index.to_be_bytes());
    h
}

#[test]
fn hashes_are_domain_separated() {
    let (a, b) = ([1u8; 32], [2u8; 32]);
    assert_eq!(merkle::leaf_hash(b"x"), proof::leaf_hash(b"x"));
    assert_ne!(merkle::node_hash(&a, &b), merkle::node_hash(&b, &a));
    let concat = [&a[..], &b[..]].concat();
    assert_ne!(merkle::leaf_hash(&concat), merkle::node_hash(&a, &b));
}

#[test]
fn appends_complete_the_expected_nodes() {
    assert_eq!(merkle::nodes_completed_by_append(0), vec![NodeId::leaf(0)]);
    assert_eq!(
        merkle::nodes_completed_by_append(7),
        vec![
            NodeId::leaf(7),
            NodeId { level: 1, index: 3 },
            NodeId { level: 2, index: 1 },
            NodeId { level: 3, index: 0 }
        ]
    );
    assert_eq!(
        merkle::nodes_completed_by_append(10),
        vec![NodeId::leaf(10)]
    );
    assert_eq!(
        merkle::nodes_completed_by_append(11),
        vec![
            NodeId::leaf(11),
            NodeId { level: 1, index: 5 },
            NodeId { level: 2, index: 2 }
        ]
    );

    let mut frontier = Frontier::new();
    let mut stored = HashSet::new();
    for n in 0..300u64 {
        let created = frontier.append(merkle::leaf_hash(&n.to_be_bytes()));
        let ids: Vec<NodeId> = created.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, merkle::nodes_completed_by_append(n), "append {n}");
        for id in &ids {
            assert!(stored.insert(*id), "{id:?} stored twice");
            assert_eq!(
                id.first_leaf() + id.leaf_count(),
                n + 1,
                "{id:?} ends at the new leaf"
            );
        }
        assert_eq!(frontier.size(), n + 1);
        let frontier_ids: Vec<NodeId> = frontier.nodes().iter().map(|(id, _)| *id).collect();
        assert_eq!(frontier_ids, merkle::frontier_ids(n + 1));
        assert_eq!(frontier_ids.len() as u32, (n + 1).count_ones());
    }
    // Two stored nodes per leaf, less one per set bit of the size.
    assert_eq!(
        stored.len() as u64,
        2 * 300 - u64::from(300u64.count_ones())
    );
}

#[test]
fn frontier_ids_decompose_the_size() {
    assert_eq!(merkle::frontier_ids(0), vec![]);
    assert_eq!(merkle::frontier_ids(1), vec![NodeId::leaf(0)]);
    assert_eq!(
        merkle::frontier_ids(13),
        vec![
            NodeId { level: 3, index: 0 },
            NodeId { level: 2, index: 2 },
            NodeId {
                level: 0,
                index: 12
            }
        ]
    );
    assert_eq!(merkle::frontier_ids(u64::MAX).len(), 64);
    assert_eq!(merkle::root_needs(13), merkle::frontier_ids(13));
}

#[test]
fn frontier_rebuilt_from_stored_nodes_continues_identically() {
    let mut log = MemoryLog::new();
    for size in 0..100u64 {
        let stored: Vec<(NodeId, Hash)> = merkle::frontier_ids(size)
            .into_iter()
            .map(|id| (id, log.node(id).unwrap()))
            .collect();
        let mut rebuilt = Frontier::from_nodes(size, stored).unwrap();
        assert_eq!(&rebuilt, log.frontier());
        assert_eq!(rebuilt.root(), log.root());
        assert_eq!(rebuilt.root(), log.root_at(size).unwrap());
        let leaf = merkle::leaf_hash(&size.to_le_bytes());
        let mut copy = log.frontier().clone();
        assert_eq!(rebuilt.append(leaf), copy.append(leaf));
        log.append_leaf_hash(leaf);
    }
    assert_eq!(
        Frontier::from_nodes(3, vec![(NodeId { level: 1, index: 0 }, [0; 32])]),
        Err(ProofError::MissingNode(NodeId::leaf(2)))
    );
}

#[test]
fn prover_reports_bad_requests_and_missing_nodes() {
    let log = super::vectors::eight_leaf_log();
    assert_eq!(
        log.inclusion_proof(8, 8),
        Err(ProofError::IndexOutOfRange { index: 8, size: 8 })
    );
    assert_eq!(
        log.inclusion_proof(0, 0),
        Err(ProofError::IndexOutOfRange { index: 0, size: 0 })
    );
    assert_eq!(
        merkle::inclusion_proof_needs(3, 2),
        Err(ProofError::IndexOutOfRange { index: 3, size: 2 })
    );
    assert_eq!(
        log.consistency_proof(5, 4),
        Err(ProofError::OldSizeTooLarge {
            old_size: 5,
            new_size: 4
        })
    );
    assert_eq!(log.consistency_proof(0, 4), Err(ProofError::EmptyOldTree));
    assert_eq!(
        merkle::consistency_proof_needs(0, 0),
        Err(ProofError::EmptyOldTree)
    );
    // Beyond the stored tree.
    assert_eq!(
        log.root_at(9),
        Err(ProofError::MissingNode(NodeId::leaf(8)))
    );
    assert!(matches!(
        log.inclusion_proof(0, 12),
        Err(ProofError::MissingNode(_))
    ));
    assert!(matches!(
        log.consistency_proof(3, 10),
        Err(ProofError::MissingNode(_))
    ));
    // The lookup is asked exactly for what `*_needs` announced.
    let asked = std::cell::RefCell::new(Vec::new());
    let lookup = |id: NodeId| {
        asked.borrow_mut().push(id);
        log.node(id)
    };
    merkle::inclusion_proof(2, 7, lookup).unwrap();
    assert_eq!(
        *asked.borrow(),
        merkle::inclusion_proof_needs(2, 7).unwrap()
    );
    asked.borrow_mut().clear();
    merkle::consistency_proof(3, 7, lookup).unwrap();
    assert_eq!(
        *asked.borrow(),
        merkle::consistency_proof_needs(3, 7).unwrap()
    );
    asked.borrow_mut().clear();
    merkle::root(7, lookup).unwrap();
    assert_eq!(*asked.borrow(), merkle::root_needs(7));
    assert_eq!(merkle::root(0, |_| None), Ok(merkle::empty_root()));
}

#[test]
fn proofs_of_a_ten_million_leaf_tree_read_o_log_n_nodes() {
    let n: u64 = 10_000_000;
    let reads = Cell::new(0usize);
    let lookup = |id: NodeId| {
        assert!(
            id.first_leaf() + id.leaf_count() <= n,
            "{id:?} is outside the tree"
        );
        reads.set(reads.get() + 1);
        Some(fake(id))
    };
    let mut worst = 0;
    for index in [0, 1, n / 3, n / 2, 8_388_607, 8_388_608, n - 2, n - 1] {
        let needs = merkle::inclusion_proof_needs(index, n).unwrap();
        assert!(needs.len() <= 2 * 64, "{index}: {}", needs.len());
        reads.set(0);
        let proof = merkle::inclusion_proof(index, n, lookup).unwrap();
        assert_eq!(reads.get(), needs.len());
        assert!(
            proof.len() as u32 <= 64 - n.leading_zeros(),
            "{index}: {}",
            proof.len()
        );
        worst = worst.max(needs.len());
    }
    for old in [1, 2, 3, 1_000_000, 8_388_608, n - 1, n] {
        let needs = merkle::consistency_proof_needs(old, n).unwrap();
        assert!(needs.len() <= 2 * 64, "{old}: {}", needs.len());
        reads.set(0);
        let proof = merkle::consistency_proof(old, n, lookup).unwrap();
        assert_eq!(reads.get(), needs.len());
        assert!(
            proof.len() as u32 <= 64 - n.leading_zeros() + 1,
            "{old}: {}",
            proof.len()
        );
    }
    assert_eq!(merkle::root_needs(n).len() as u32, n.count_ones());
    merkle::root(n, lookup).unwrap();
    assert!(worst <= 2 * 64);
    // The largest possible tree too.
    assert!(
        merkle::inclusion_proof_needs(u64::MAX - 1, u64::MAX)
            .unwrap()
            .len()
            <= 2 * 64
    );
    assert!(
        merkle::consistency_proof_needs(u64::MAX / 3, u64::MAX)
            .unwrap()
            .len()
            <= 2 * 64
    );
}

#[test]
fn proofs_in_a_large_stored_tree_verify() {
    let mut log = MemoryLog::new();
    for i in 0..5_000u64 {
        log.append(&i.to_le_bytes());
    }
    let sizes = [1, 2, 1023, 1024, 1025, 3_333, 4_096, 4_999, 5_000];
    for &size in &sizes {
        let root = log.root_at(size).unwrap();
        for index in [0, size / 2, size - 1] {
            let proof = log.inclusion_proof(index, size).unwrap();
            let leaf = proof::leaf_hash(&index.to_le_bytes());
            assert_eq!(
                proof::verify_inclusion(&leaf, index, size, &proof, &root),
                Ok(())
            );
        }
        for &old in sizes.iter().filter(|&&old| old <= size) {
            let proof = log.consistency_proof(old, size).unwrap();
            let old_root = log.root_at(old).unwrap();
            assert_eq!(
                proof::verify_consistency(old, size, &old_root, &root, &proof),
                Ok(()),
                "{old}->{size}"
            );
        }
    }
}

/// MTH of leaves `[lo, hi)` the slow way, straight from RFC 9162 §2.1.1.
fn naive_range(leaves: &[Hash], lo: usize, hi: usize) -> Hash {
    if hi - lo == 1 {
        return leaves[lo];
    }
    let k = (hi - lo).next_power_of_two() / 2;
    merkle::node_hash(
        &naive_range(leaves, lo, lo + k),
        &naive_range(leaves, lo + k, hi),
    )
}

#[test]
fn only_nodes_of_16_leaves_and_more_are_stored_and_the_rest_recomputes_identically() {
    let mut log = MemoryLog::new();
    let mut leaves = Vec::new();
    for i in 0..100u64 {
        log.append(&i.to_be_bytes());
        leaves.push(merkle::leaf_hash(&i.to_be_bytes()));
    }
    let mut complete_stored = 0;
    for level in 0..8u32 {
        for index in 0..(100u64 >> level) {
            let id = NodeId { level, index };
            let (lo, n) = (id.first_leaf() as usize, id.leaf_count() as usize);
            assert_eq!(
                log.node(id),
                Some(naive_range(&leaves, lo, lo + n)),
                "{id:?}"
            );
            complete_stored += usize::from(merkle::is_stored(id));
        }
        // The node one past the end is incomplete: neither stored nor recomputable.
        let past = NodeId {
            level,
            index: 100u64 >> level,
        };
        assert_eq!(log.node(past), None, "{past:?}");
    }
    // Levels 4, 5 and 6 of 100 leaves: 6 + 3 + 1 nodes, against 197 when every node was stored.
    assert_eq!(complete_stored, 10);
    assert_eq!(log.node_count(), complete_stored);
    assert_eq!(merkle::block_of(NodeId { level: 2, index: 9 }), 32);
    assert_eq!(merkle::block_of(NodeId::leaf(47)), 32);
    assert_eq!(merkle::BLOCK_LEAVES, 16);
}
