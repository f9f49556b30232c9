//! The Merkle tree over record hashes: exactly RFC 9162's tree (RFC 6962's, with SHA-256),
//! so that checkpoints and proofs can be checked by existing transparency-log verifiers.
//!
//! Each leaf is a record's 32-byte BLAKE3 hash (`chain::RecordHash`); the tree hashes it as
//! RFC 9162 §2.1.1 says: `SHA-256(0x00 || leaf)`, and interior nodes as
//! `SHA-256(0x01 || left || right)`. This module is pure: it knows nothing of storage; proofs
//! are built from leaf hashes handed to it.
//!
//! - `tree`: hashing and the tree head (MTH) of a list of leaves;
//! - `inclusion`: audit paths (RFC 9162 §2.1.3);
//! - `consistency`: consistency proofs (RFC 9162 §2.1.4).

mod consistency;
mod inclusion;
mod tree;

pub use consistency::{consistency_proof, verify_consistency};
pub use inclusion::{inclusion_proof, verify_inclusion};
pub use tree::{NodeHash, empty_root, leaf_hash, node_hash, root};

/// A leaf's 0-based position in the tree (a record's seq minus one). Distinct from a tree
/// size, which counts leaves, so that the two are never confused in the index arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LeafIndex(pub u64);

/// Why a proof was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexBeyondSize { index: u64, size: u64 },
    #[error("the proof has {found} hashes; a tree of this size needs another number")]
    WrongLength { found: usize },
    #[error("the proof leads to root {computed}, not to the expected root {expected}")]
    RootMismatch {
        expected: NodeHash,
        computed: NodeHash,
    },
    #[error("the proof leads to old root {computed}, not to the expected old root {expected}")]
    OldRootMismatch {
        expected: NodeHash,
        computed: NodeHash,
    },
    #[error("an older tree of size {old} cannot be larger than the newer one of size {new}")]
    OldLargerThanNew { old: u64, new: u64 },
    #[error("consistency with an empty tree proves nothing")]
    EmptyOldTree,
    #[error("trees of equal size {size} need an empty proof and equal roots")]
    EqualSizesDiffer { size: u64 },
}
