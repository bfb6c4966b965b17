//! The pure cryptography of the licence transparency log: an RFC 9162 Merkle tree (the prover in
//! [`merkle`], an independent verifier in [`proof`]), C2SP signed checkpoints ([`note`]), and what a
//! licence's leaves hold ([`leaf`]).
//!
//! No I/O, no database, no clock: the tree takes leaves as bytes or leaf hashes ([`leaf`] builds the
//! licence log's), storage is a lookup closure over the stored nodes, and the signing time is a field of
//! the [`Checkpoint`]. The log keeps one hash per complete subtree ([`NodeId`]); appends go through a
//! [`Frontier`] without reads, and each proof or past root first says which nodes it needs (`*_needs`),
//! so the caller fetches them in one query.

pub mod leaf;
pub mod merkle;
pub mod note;
pub mod proof;

pub use merkle::{Frontier, Hash, MemoryLog, NodeId, ProofError};
pub use note::{open_checkpoint, verify_note, Checkpoint, LogKey, NoteError, VerifierKey};
pub use proof::{verify_consistency, verify_inclusion, VerifyError};

#[cfg(test)]
mod tests;
