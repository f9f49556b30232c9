//! RFC 9162 §2.1.1: the hashes of leaves and interior nodes, and the tree head.

use sha2::{Digest, Sha256};
use std::fmt;

/// A SHA-256 node hash of the tree.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeHash(pub [u8; 32]);

impl NodeHash {
    /// From exactly 32 bytes; anything else is not a node hash (a proof carrying one is
    /// rejected by its caller).
    pub fn from_slice(bytes: &[u8]) -> Option<NodeHash> {
        <[u8; 32]>::try_from(bytes).ok().map(NodeHash)
    }
}

impl fmt::Display for NodeHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for NodeHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeHash({self})")
    }
}

/// `SHA-256(0x00 || entry)`: the hash of a leaf (RFC 9162 §2.1.1).
pub fn leaf_hash(entry: &[u8]) -> NodeHash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(entry);
    NodeHash(hasher.finalize().into())
}

/// `SHA-256(0x01 || left || right)`: the hash of an interior node.
pub fn node_hash(left: &NodeHash, right: &NodeHash) -> NodeHash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left.0);
    hasher.update(right.0);
    NodeHash(hasher.finalize().into())
}

/// The head of the empty tree: `SHA-256()` of nothing.
pub fn empty_root() -> NodeHash {
    NodeHash(Sha256::digest([]).into())
}

/// The largest power of two smaller than `n` (n > 1): where RFC 9162 splits a tree.
pub(super) fn split(n: usize) -> usize {
    debug_assert!(n > 1);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// `MTH(D[n])`: the tree head of `leaves` (already leaf-hashed), RFC 9162 §2.1.1.
pub fn root(leaves: &[NodeHash]) -> NodeHash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_the_largest_power_of_two_below() {
        for (n, k) in [(2, 1), (3, 2), (4, 2), (5, 4), (8, 4), (9, 8), (257, 256)] {
            assert_eq!(split(n), k, "n = {n}");
        }
    }

    #[test]
    fn empty_tree_head_is_the_hash_of_nothing() {
        assert_eq!(
            empty_root().to_string(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
