//! The prover side of an RFC 9162 Merkle tree (§2.1): leaf and node hashing, the hashes the log stores,
//! appending, and proof generation.
//!
//! Storage model: the log keeps the hash of every *complete* subtree, named by a [`NodeId`]
//! (`level`, `index`) that covers the leaves `[index << level, (index + 1) << level)`; leaves are level 0.
//! Such a node never changes once its last leaf is in, so rows are only ever inserted. Appending goes
//! through a [`Frontier`] (the right edge of the tree) and needs no reads. Proofs are built in two phases
//! so that the caller can fetch everything in one query: `*_needs` says which stored nodes are required,
//! then the proof function assembles them through a lookup closure. Every range hash that RFC 9162 asks
//! for is either one stored node (a complete, aligned power of two) or split at the largest power of two
//! below its length, so the nodes read and the hashing done grow with log n, never with n.
//!
//! Only nodes of [`STORED_FROM_LEVEL`] and above are stored: a node below covers fewer than 16 leaves
//! of one aligned block and is recomputed from those leaves ([`low_node`]) when a proof needs it. The
//! same trade as C2SP `tlog-tiles`, which stores a hash only every eighth level: an append then writes
//! about one node in eight instead of two (most appends write none), and a proof reads at most one
//! block of 16 leaves more per end of the range it covers.

use std::collections::HashMap;

use crate::crypto::sha256_parts as sha256;
use thiserror::Error;

/// A SHA-256 hash: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; 32];

/// The hash of a leaf: SHA-256(0x00 || data) (RFC 9162 §2.1.1).
pub fn leaf_hash(data: &[u8]) -> Hash {
    sha256(&[&[0x00], data])
}

/// The hash of an interior node: SHA-256(0x01 || left || right) (RFC 9162 §2.1.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    sha256(&[&[0x01], left, right])
}

/// The root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    sha256(&[])
}

/// A complete subtree: the leaves `[index << level, (index + 1) << level)`. Leaves are level 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    pub level: u32,
    pub index: u64,
}

impl NodeId {
    /// The node of leaf `index`.
    pub const fn leaf(index: u64) -> Self {
        Self { level: 0, index }
    }

    /// The first leaf the node covers.
    pub const fn first_leaf(&self) -> u64 {
        self.index << self.level
    }

    /// The number of leaves the node covers.
    pub const fn leaf_count(&self) -> u64 {
        1 << self.level
    }
}

/// Why a proof or a root could not be produced.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ProofError {
    #[error("leaf index {index} is not below the tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("old tree size {old_size} is larger than the new tree size {new_size}")]
    OldSizeTooLarge { old_size: u64, new_size: u64 },
    #[error("a consistency proof from the empty tree is undefined (RFC 9162 §2.1.4)")]
    EmptyOldTree,
    #[error("stored node (level {}, index {}) is missing", .0.level, .0.index)]
    MissingNode(NodeId),
}

/// The lowest level whose nodes are stored; nodes below it are recomputed from the leaves of their
/// block of `1 << STORED_FROM_LEVEL` leaves.
pub const STORED_FROM_LEVEL: u32 = 4;

/// Whether the log stores this node (else it is recomputed from leaves: [`low_node`]).
pub const fn is_stored(id: NodeId) -> bool {
    id.level >= STORED_FROM_LEVEL
}

/// The leaves of a block: an unstored node lies within one aligned block of this many leaves.
pub const BLOCK_LEAVES: u64 = 1 << STORED_FROM_LEVEL;

/// The first leaf of the block whose leaves recompute an unstored node ([`low_node`]).
pub const fn block_of(id: NodeId) -> u64 {
    id.first_leaf() & !(BLOCK_LEAVES - 1)
}

/// The hash of a complete subtree recomputed from its leaf hashes (`leaf(i)`: the hash of leaf `i`,
/// `None` past the tree's end); meant for unstored nodes, which cover at most 16 leaves. `None` if a
/// leaf is missing, that is, the subtree is not complete.
pub fn low_node(id: NodeId, leaf: &impl Fn(u64) -> Option<Hash>) -> Option<Hash> {
    if id.level == 0 {
        return leaf(id.index);
    }
    let left = NodeId {
        level: id.level - 1,
        index: id.index << 1,
    };
    let right = NodeId {
        level: id.level - 1,
        index: (id.index << 1) | 1,
    };
    Some(node_hash(&low_node(left, leaf)?, &low_node(right, leaf)?))
}

/// The complete nodes that appear when leaf `n` (0-based) is appended, leaf first, then upwards.
pub fn nodes_completed_by_append(n: u64) -> Vec<NodeId> {
    let mut id = NodeId::leaf(n);
    let mut out = vec![id];
    while id.index & 1 == 1 {
        id = NodeId {
            level: id.level + 1,
            index: id.index >> 1,
        };
        out.push(id);
    }
    out
}

/// The stored nodes that make up a tree of `size` leaves (its decomposition into complete subtrees,
/// largest and leftmost first): what [`Frontier::from_nodes`] and [`root`] need.
pub fn frontier_ids(size: u64) -> Vec<NodeId> {
    (0..u64::BITS)
        .rev()
        .filter(|level| (size >> level) & 1 == 1)
        .map(|level| NodeId {
            level,
            index: (size >> level) - 1,
        })
        .collect()
}

/// The right edge of the tree: the complete subtrees of the current size's decomposition (at most 64).
/// It is enough to append and to compute the current root without reading anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    nodes: Vec<(NodeId, Hash)>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds the frontier of a tree of `size` leaves from stored nodes (those of [`frontier_ids`];
    /// others are ignored).
    pub fn from_nodes(size: u64, nodes: Vec<(NodeId, Hash)>) -> Result<Self, ProofError> {
        let stored: HashMap<NodeId, Hash> = nodes.into_iter().collect();
        let nodes = frontier_ids(size)
            .into_iter()
            .map(|id| {
                stored
                    .get(&id)
                    .map(|h| (id, *h))
                    .ok_or(ProofError::MissingNode(id))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { size, nodes })
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The frontier nodes, largest (leftmost) first.
    pub fn nodes(&self) -> &[(NodeId, Hash)] {
        &self.nodes
    }

    /// Appends a leaf hash; returns every node that became complete (leaf first, as
    /// [`nodes_completed_by_append`]), which the caller stores. O(log n), no reads.
    pub fn append(&mut self, leaf_hash: Hash) -> Vec<(NodeId, Hash)> {
        let mut node = (NodeId::leaf(self.size), leaf_hash);
        let mut created = vec![node];
        while let Some(&(left_id, left)) = self.nodes.last() {
            if left_id.level != node.0.level {
                break;
            }
            self.nodes.pop();
            node = (
                NodeId {
                    level: left_id.level + 1,
                    index: left_id.index >> 1,
                },
                node_hash(&left, &node.1),
            );
            created.push(node);
        }
        self.nodes.push(node);
        self.size += 1;
        created
    }

    /// MTH of the whole tree; [`empty_root`] when empty.
    pub fn root(&self) -> Hash {
        let mut rev = self.nodes.iter().rev();
        match rev.next() {
            None => empty_root(),
            Some((_, last)) => rev.fold(*last, |acc, (_, left)| node_hash(left, &acc)),
        }
    }
}

/// The largest power of two strictly below `n` (`n >= 2`): where MTH splits `n` leaves.
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// The stored nodes whose hashes make up MTH(D[lo:hi]), `lo < hi`, in the order [`range_hash`] reads them.
fn range_needs(lo: u64, hi: u64, out: &mut Vec<NodeId>) {
    let n = hi - lo;
    if n.is_power_of_two() && lo % n == 0 {
        out.push(NodeId {
            level: n.trailing_zeros(),
            index: lo / n,
        });
    } else {
        let k = split(n);
        range_needs(lo, lo + k, out);
        range_needs(lo + k, hi, out);
    }
}

/// MTH(D[lo:hi]), `lo < hi`, from stored nodes.
fn range_hash(
    lo: u64,
    hi: u64,
    lookup: &impl Fn(NodeId) -> Option<Hash>,
) -> Result<Hash, ProofError> {
    let n = hi - lo;
    if n.is_power_of_two() && lo % n == 0 {
        let id = NodeId {
            level: n.trailing_zeros(),
            index: lo / n,
        };
        lookup(id).ok_or(ProofError::MissingNode(id))
    } else {
        let k = split(n);
        Ok(node_hash(
            &range_hash(lo, lo + k, lookup)?,
            &range_hash(lo + k, hi, lookup)?,
        ))
    }
}

fn needs_of(ranges: &[(u64, u64)]) -> Vec<NodeId> {
    let mut out = Vec::new();
    for &(lo, hi) in ranges {
        range_needs(lo, hi, &mut out);
    }
    out
}

fn hashes_of(
    ranges: &[(u64, u64)],
    lookup: impl Fn(NodeId) -> Option<Hash>,
) -> Result<Vec<Hash>, ProofError> {
    ranges
        .iter()
        .map(|&(lo, hi)| range_hash(lo, hi, &lookup))
        .collect()
}

/// The ranges whose MTH form PATH(index, D[0:size]) (RFC 9162 §2.1.3.1), leaf side first.
fn inclusion_ranges(index: u64, size: u64) -> Result<Vec<(u64, u64)>, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut lo, mut hi) = (0, size);
    let mut siblings = Vec::new();
    // PATH(m, D[lo:hi]) = PATH(m, D[lo:lo+k]) : MTH(D[lo+k:hi])   if m < k
    //                   = PATH(m - k, D[lo+k:hi]) : MTH(D[lo:lo+k]) otherwise
    while hi - lo > 1 {
        let k = split(hi - lo);
        if index < lo + k {
            siblings.push((lo + k, hi));
            hi = lo + k;
        } else {
            siblings.push((lo, lo + k));
            lo += k;
        }
    }
    siblings.reverse();
    Ok(siblings)
}

/// The ranges whose MTH form PROOF(old, D[0:new]) = SUBPROOF(old, D[0:new], true) (RFC 9162 §2.1.4.1).
fn consistency_ranges(old_size: u64, new_size: u64) -> Result<Vec<(u64, u64)>, ProofError> {
    if old_size > new_size {
        return Err(ProofError::OldSizeTooLarge { old_size, new_size });
    }
    if old_size == 0 {
        return Err(ProofError::EmptyOldTree);
    }
    // SUBPROOF(m, D[lo:hi], b), with m the old leaves inside [lo, hi):
    //   m == n: {} if b, else {MTH(D[lo:hi])}
    //   m <= k: SUBPROOF(m, D[lo:lo+k], b) : MTH(D[lo+k:hi])
    //   m > k:  SUBPROOF(m - k, D[lo+k:hi], false) : MTH(D[lo:lo+k])
    let (mut lo, mut hi, mut m, mut whole) = (0, new_size, old_size, true);
    let mut out = Vec::new();
    while m != hi - lo {
        let k = split(hi - lo);
        if m <= k {
            out.push((lo + k, hi));
            hi = lo + k;
        } else {
            out.push((lo, lo + k));
            lo += k;
            m -= k;
            whole = false;
        }
    }
    if !whole {
        out.push((lo, hi));
    }
    out.reverse();
    Ok(out)
}

/// The stored nodes [`inclusion_proof`] reads (O(log² size) at worst, usually fewer).
pub fn inclusion_proof_needs(index: u64, size: u64) -> Result<Vec<NodeId>, ProofError> {
    Ok(needs_of(&inclusion_ranges(index, size)?))
}

/// The audit path of leaf `index` in the tree of `size` leaves, leaf side first (RFC 9162 §2.1.3.1).
pub fn inclusion_proof(
    index: u64,
    size: u64,
    lookup: impl Fn(NodeId) -> Option<Hash>,
) -> Result<Vec<Hash>, ProofError> {
    hashes_of(&inclusion_ranges(index, size)?, lookup)
}

/// The stored nodes [`consistency_proof`] reads.
pub fn consistency_proof_needs(old_size: u64, new_size: u64) -> Result<Vec<NodeId>, ProofError> {
    Ok(needs_of(&consistency_ranges(old_size, new_size)?))
}

/// The consistency proof from the tree of `old_size` leaves to the one of `new_size` leaves (RFC 9162
/// §2.1.4.1); empty when the sizes are equal.
pub fn consistency_proof(
    old_size: u64,
    new_size: u64,
    lookup: impl Fn(NodeId) -> Option<Hash>,
) -> Result<Vec<Hash>, ProofError> {
    hashes_of(&consistency_ranges(old_size, new_size)?, lookup)
}

/// The stored nodes [`root`] reads: the same as [`frontier_ids`].
pub fn root_needs(size: u64) -> Vec<NodeId> {
    frontier_ids(size)
}

/// The root of the tree as it was at `size` leaves; [`empty_root`] for 0.
pub fn root(size: u64, lookup: impl Fn(NodeId) -> Option<Hash>) -> Result<Hash, ProofError> {
    if size == 0 {
        return Ok(empty_root());
    }
    range_hash(0, size, &lookup)
}

/// An in-memory log (tests and benchmarks): the leaf hashes and the stored nodes, built with
/// [`Frontier::append`] and [`is_stored`] exactly as the database is.
#[derive(Debug, Clone, Default)]
pub struct MemoryLog {
    leaves: Vec<Hash>,
    nodes: HashMap<NodeId, Hash>,
    frontier: Frontier,
}

impl MemoryLog {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a leaf's data; returns its index.
    pub fn append(&mut self, data: &[u8]) -> u64 {
        self.append_leaf_hash(leaf_hash(data))
    }

    /// Appends an already hashed leaf; returns its index.
    pub fn append_leaf_hash(&mut self, hash: Hash) -> u64 {
        let index = self.frontier.size();
        self.leaves.push(hash);
        let completed = self.frontier.append(hash);
        self.nodes
            .extend(completed.into_iter().filter(|(id, _)| is_stored(*id)));
        index
    }

    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    pub fn leaf_hash(&self, index: u64) -> Option<Hash> {
        self.leaves.get(usize::try_from(index).ok()?).copied()
    }

    /// A node as the storage layer answers it: stored, or recomputed from its block's leaves.
    pub fn node(&self, id: NodeId) -> Option<Hash> {
        if is_stored(id) {
            self.nodes.get(&id).copied()
        } else {
            low_node(id, &|i| self.leaf_hash(i))
        }
    }

    /// The number of stored nodes (just under one per eight leaves).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub fn frontier(&self) -> &Frontier {
        &self.frontier
    }

    /// The current root.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// The root at an earlier (or the current) size.
    pub fn root_at(&self, size: u64) -> Result<Hash, ProofError> {
        root(size, |id| self.node(id))
    }

    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
        inclusion_proof(index, size, |id| self.node(id))
    }

    pub fn consistency_proof(&self, old_size: u64, new_size: u64) -> Result<Vec<Hash>, ProofError> {
        consistency_proof(old_size, new_size, |id| self.node(id))
    }
}
