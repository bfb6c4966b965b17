//! The published RFC 6962 test vectors, run through the prover and the verifier.
//!
//! Sources (github.com/transparency-dev/merkle, the successor of the Trillian and
//! certificate-transparency-go Merkle code):
//! - `testonly/constants.go`: the 8 leaves, the node hashes, the roots at every size;
//! - `proof/verify_test.go`: the inclusion and consistency proofs (its leaf numbers are 1-based);
//! - `proof/proof_test.go`: which stored nodes each proof is made of (`compact.NewNodeID(level, index)`;
//!   a `rehash(b, e)` segment is listed there right to left, reversed here).

use super::{bytes, hx};
use crate::tlog::merkle::{self, Hash, MemoryLog, NodeId};
use crate::tlog::proof::{self, VerifyError};

pub(super) const LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// Roots at sizes 1..=8.
pub(super) const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

const EMPTY_ROOT: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Node hashes by level, then index (`NodeHashes()`).
const NODES: [&[&str]; 4] = [
    &[
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    &[
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    &[
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    &["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
];

/// (0-based index, size, proof).
const INCLUSION: [(u64, u64, &[&str]); 5] = [
    (
        0,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        1,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (0, 1, &[]),
];

/// (old size, new size, proof).
const CONSISTENCY: [(u64, u64, &[&str]); 5] = [
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

pub(super) fn eight_leaf_log() -> MemoryLog {
    let mut log = MemoryLog::new();
    for leaf in LEAVES {
        log.append(&bytes(leaf));
    }
    log
}

fn hashes(list: &[&str]) -> Vec<Hash> {
    list.iter().map(|h| hx(h)).collect()
}

#[test]
fn roots_and_stored_nodes_match_the_published_tree() {
    assert_eq!(merkle::empty_root(), hx(EMPTY_ROOT));
    assert_eq!(MemoryLog::new().root(), hx(EMPTY_ROOT));
    let mut log = MemoryLog::new();
    for (i, leaf) in LEAVES.iter().enumerate() {
        log.append(&bytes(leaf));
        assert_eq!(log.root(), hx(ROOTS[i]), "frontier root at size {}", i + 1);
    }
    for size in 0..=8u64 {
        let want = if size == 0 {
            hx(EMPTY_ROOT)
        } else {
            hx(ROOTS[size as usize - 1])
        };
        assert_eq!(log.root_at(size).unwrap(), want, "root_at({size})");
    }
    // All 15 nodes of 8 leaves are below the stored levels: each is recomputed from the leaves.
    assert_eq!(log.node_count(), 0);
    for (level, row) in NODES.iter().enumerate() {
        for (index, hash) in row.iter().enumerate() {
            let id = NodeId {
                level: level as u32,
                index: index as u64,
            };
            assert_eq!(log.node(id), Some(hx(hash)), "{id:?}");
        }
    }
    assert_eq!(proof::leaf_hash(&[]), hx(NODES[0][0]));
}

#[test]
fn published_inclusion_proofs_are_produced_and_accepted() {
    let log = eight_leaf_log();
    for (index, size, want) in INCLUSION {
        let want = hashes(want);
        assert_eq!(
            log.inclusion_proof(index, size).unwrap(),
            want,
            "inclusion({index}, {size})"
        );
        let leaf = proof::leaf_hash(&bytes(LEAVES[index as usize]));
        let root = hx(ROOTS[size as usize - 1]);
        assert_eq!(
            proof::verify_inclusion(&leaf, index, size, &want, &root),
            Ok(())
        );
    }
}

#[test]
fn published_consistency_proofs_are_produced_and_accepted() {
    let log = eight_leaf_log();
    for (old, new, want) in CONSISTENCY {
        let want = hashes(want);
        assert_eq!(
            log.consistency_proof(old, new).unwrap(),
            want,
            "consistency({old}, {new})"
        );
        let (old_root, new_root) = (hx(ROOTS[old as usize - 1]), hx(ROOTS[new as usize - 1]));
        assert_eq!(
            proof::verify_consistency(old, new, &old_root, &new_root, &want),
            Ok(())
        );
    }
}

/// (size or old size, index or new size, node ids as listed in Go, its `rehash` segment).
type GoCase = (u64, u64, Vec<NodeId>, Option<(usize, usize)>);

/// `compact.NewNodeID(level, index)`, as the Go tests write it.
fn id(level: u32, index: u64) -> NodeId {
    NodeId { level, index }
}

/// Go lists a `rehash(begin, end)` segment right to left; this crate reads MTH's recursion left to right.
fn go_order(mut ids: Vec<NodeId>, rehash: Option<(usize, usize)>) -> Vec<NodeId> {
    if let Some((begin, end)) = rehash {
        ids[begin..end].reverse();
    }
    ids
}

#[test]
fn inclusion_needs_match_transparency_dev_node_lists() {
    let cases: Vec<GoCase> = vec![
        (1, 0, vec![], None),
        (2, 0, vec![id(0, 1)], None),
        (2, 1, vec![id(0, 0)], None),
        (3, 1, vec![id(0, 0), id(0, 2)], None),
        (
            7,
            0,
            vec![id(0, 1), id(1, 1), id(0, 6), id(1, 2)],
            Some((2, 4)),
        ),
        (
            7,
            1,
            vec![id(0, 0), id(1, 1), id(0, 6), id(1, 2)],
            Some((2, 4)),
        ),
        (
            7,
            2,
            vec![id(0, 3), id(1, 0), id(0, 6), id(1, 2)],
            Some((2, 4)),
        ),
        (
            7,
            3,
            vec![id(0, 2), id(1, 0), id(0, 6), id(1, 2)],
            Some((2, 4)),
        ),
        (7, 4, vec![id(0, 5), id(0, 6), id(2, 0)], None),
        (7, 5, vec![id(0, 4), id(0, 6), id(2, 0)], None),
        (7, 6, vec![id(1, 2), id(2, 0)], None),
        (4, 2, vec![id(0, 3), id(1, 0)], None),
        (5, 3, vec![id(0, 2), id(1, 0), id(0, 4)], None),
        (6, 3, vec![id(0, 2), id(1, 0), id(1, 2)], None),
        (6, 4, vec![id(0, 5), id(2, 0)], None),
        (
            15,
            10,
            vec![id(0, 11), id(1, 4), id(0, 14), id(1, 6), id(3, 0)],
            Some((2, 4)),
        ),
        (
            31,
            24,
            vec![
                id(0, 25),
                id(1, 13),
                id(0, 30),
                id(1, 14),
                id(3, 2),
                id(4, 0),
            ],
            Some((2, 4)),
        ),
        (
            95,
            81,
            vec![
                id(0, 80),
                id(1, 41),
                id(2, 21),
                id(0, 94),
                id(1, 46),
                id(2, 22),
                id(4, 4),
                id(6, 0),
            ],
            Some((3, 6)),
        ),
    ];
    for (size, index, ids, rehash) in cases {
        assert_eq!(
            merkle::inclusion_proof_needs(index, size).unwrap(),
            go_order(ids, rehash),
            "{index}/{size}"
        );
    }
}

#[test]
fn consistency_needs_match_transparency_dev_node_lists() {
    let cases: Vec<GoCase> = vec![
        (1, 2, vec![id(0, 1)], None),
        (1, 4, vec![id(0, 1), id(1, 1)], None),
        (1, 6, vec![id(0, 1), id(1, 1), id(1, 2)], None),
        (2, 3, vec![id(0, 2)], None),
        (2, 8, vec![id(1, 1), id(2, 1)], None),
        (
            3,
            7,
            vec![id(0, 2), id(0, 3), id(1, 0), id(0, 6), id(1, 2)],
            Some((3, 5)),
        ),
        (4, 7, vec![id(0, 6), id(1, 2)], Some((0, 2))),
        (5, 7, vec![id(0, 4), id(0, 5), id(0, 6), id(2, 0)], None),
        (6, 7, vec![id(1, 2), id(0, 6), id(2, 0)], None),
        (7, 8, vec![id(0, 6), id(0, 7), id(1, 2), id(2, 0)], None),
        (2, 4, vec![id(1, 1)], None),
        (3, 5, vec![id(0, 2), id(0, 3), id(1, 0), id(0, 4)], None),
        (3, 6, vec![id(0, 2), id(0, 3), id(1, 0), id(1, 2)], None),
        (4, 6, vec![id(1, 2)], None),
        (
            1,
            7,
            vec![id(0, 1), id(1, 1), id(0, 6), id(1, 2)],
            Some((2, 4)),
        ),
        (
            10,
            15,
            vec![id(1, 4), id(1, 5), id(0, 14), id(1, 6), id(3, 0)],
            Some((2, 4)),
        ),
        (
            24,
            31,
            vec![id(3, 2), id(0, 30), id(1, 14), id(2, 6), id(4, 0)],
            Some((1, 4)),
        ),
        (
            81,
            95,
            vec![
                id(0, 80),
                id(0, 81),
                id(1, 41),
                id(2, 21),
                id(0, 94),
                id(1, 46),
                id(2, 22),
                id(4, 4),
                id(6, 0),
            ],
            Some((4, 7)),
        ),
    ];
    for (old, new, ids, rehash) in cases {
        assert_eq!(
            merkle::consistency_proof_needs(old, new).unwrap(),
            go_order(ids, rehash),
            "{old}->{new}"
        );
    }
    for size in 1..=8 {
        assert_eq!(merkle::consistency_proof_needs(size, size).unwrap(), vec![]);
    }
}

#[test]
fn published_proofs_with_a_wrong_root_or_index_are_rejected() {
    let (index, size, proof) = INCLUSION[1];
    let proof = hashes(proof);
    let leaf = proof::leaf_hash(&bytes(LEAVES[index as usize]));
    let root = hx(ROOTS[size as usize - 1]);
    let wrong_root = hx(ROOTS[6]);
    assert_eq!(
        proof::verify_inclusion(&leaf, index, size, &proof, &wrong_root),
        Err(VerifyError::RootMismatch)
    );
    assert_eq!(
        proof::verify_inclusion(&leaf, 4, size, &proof, &root),
        Err(VerifyError::RootMismatch)
    );
    assert_eq!(
        proof::verify_inclusion(&leaf, 8, size, &proof, &root),
        Err(VerifyError::IndexOutOfRange { index: 8, size: 8 })
    );
}
