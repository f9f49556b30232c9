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

/// Where subtree hashes come from when the leaves are not all in memory (the store keeps
/// some; `log_tree`). `perfect(level, index)` is the hash of the complete subtree of 2^level
/// leaves starting at leaf `index << level`.
pub trait SubtreeSource {
    type Error;
    fn perfect(&mut self, level: u32, index: u64) -> Result<NodeHash, Self::Error>;
}

/// `MTH(D[lo..hi])` for a range that starts on a boundary of its size's split (every range
/// the RFC 9162 recursions visit does), from complete subtrees only.
///
/// # Errors
/// The source's.
pub fn range_root<S: SubtreeSource>(
    source: &mut S,
    lo: u64,
    hi: u64,
) -> Result<NodeHash, S::Error> {
    let n = hi - lo;
    if n == 0 {
        return Ok(empty_root());
    }
    if n.is_power_of_two() && lo.is_multiple_of(n) {
        return source.perfect(n.trailing_zeros(), lo >> n.trailing_zeros());
    }
    let k = split_u64(n);
    let left = range_root(source, lo, lo + k)?;
    let right = range_root(source, lo + k, hi)?;
    Ok(node_hash(&left, &right))
}

fn split_u64(n: u64) -> u64 {
    1 << (u64::BITS - 1 - (n - 1).leading_zeros())
}

/// [`inclusion_proof`] over a [`SubtreeSource`]: the audit path of leaf `index` in the tree
/// of `size` leaves. `Ok(None)` if the index is not in the tree.
///
/// # Errors
/// The source's.
pub fn inclusion_proof_from<S: SubtreeSource>(
    source: &mut S,
    index: LeafIndex,
    size: u64,
) -> Result<Option<Vec<NodeHash>>, S::Error> {
    if index.0 >= size {
        return Ok(None);
    }
    let mut path = Vec::new();
    let (mut lo, mut hi, m) = (0u64, size, index.0);
    // Top-down, then reversed: the RFC's recursion lists the nearest sibling first.
    while hi - lo > 1 {
        let k = split_u64(hi - lo);
        if m < lo + k {
            path.push(range_root(source, lo + k, hi)?);
            hi = lo + k;
        } else {
            path.push(range_root(source, lo, lo + k)?);
            lo += k;
        }
    }
    path.reverse();
    Ok(Some(path))
}

/// [`consistency_proof`] over a [`SubtreeSource`]. `Ok(None)` unless 0 < old <= new.
///
/// # Errors
/// The source's.
pub fn consistency_proof_from<S: SubtreeSource>(
    source: &mut S,
    old_size: u64,
    new_size: u64,
) -> Result<Option<Vec<NodeHash>>, S::Error> {
    if old_size == 0 || old_size > new_size {
        return Ok(None);
    }
    let mut proof = Vec::new();
    let (mut lo, mut hi, mut m, mut complete) = (0u64, new_size, old_size, true);
    loop {
        let n = hi - lo;
        if m == n {
            if !complete {
                proof.push(range_root(source, lo, hi)?);
            }
            break;
        }
        let k = split_u64(n);
        if m <= k {
            proof.push(range_root(source, lo + k, hi)?);
            hi = lo + k;
        } else {
            proof.push(range_root(source, lo, lo + k)?);
            lo += k;
            m -= k;
            complete = false;
        }
    }
    proof.reverse();
    Ok(Some(proof))
}

/// Leaves in memory as a [`SubtreeSource`] (tests, bundles).
pub struct LeavesInMemory<'a>(pub &'a [NodeHash]);

impl SubtreeSource for LeavesInMemory<'_> {
    type Error = std::convert::Infallible;
    fn perfect(&mut self, level: u32, index: u64) -> Result<NodeHash, Self::Error> {
        let start = usize::try_from(index << level).unwrap_or(usize::MAX);
        let end = start.saturating_add(1usize << level).min(self.0.len());
        Ok(root(&self.0[start.min(end)..end]))
    }
}

#[cfg(test)]
mod source_tests {
    use super::*;

    #[test]
    fn proofs_from_subtrees_equal_proofs_from_leaves() {
        let leaves: Vec<NodeHash> = (0u32..70).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        for size in 1..=70usize {
            let tree = &leaves[..size];
            let mut source = LeavesInMemory(tree);
            assert_eq!(
                range_root(&mut source, 0, size as u64).ok(),
                Some(root(tree))
            );
            for index in 0..size {
                assert_eq!(
                    inclusion_proof_from(&mut source, LeafIndex(index as u64), size as u64)
                        .ok()
                        .flatten(),
                    inclusion_proof(tree, LeafIndex(index as u64)),
                    "size {size} index {index}"
                );
            }
            for old in 1..=size {
                assert_eq!(
                    consistency_proof_from(&mut source, old as u64, size as u64)
                        .ok()
                        .flatten(),
                    consistency_proof(tree, old as u64),
                    "old {old} new {size}"
                );
            }
        }
    }
}
