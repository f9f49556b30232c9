//! The Merkle tree of a ledger: RFC 9162's tree over its record hashes (leaf i is record
//! i+1), with tree heads and proofs computed from the subtree hashes the store keeps.
//!
//! Complete, aligned subtrees of 256 leaves and up are stored (`tree_nodes`) as the log
//! grows, so a new tree head costs the new records plus a logarithm, and a proof reads at
//! most 255 record hashes plus one stored node per level. Smaller subtrees are hashed from
//! the record hashes on demand. The stored nodes are derived data: a missing one is
//! recomputed, and `verify` recomputes every checkpoint's root from the records alone.

use crate::chain::RecordHash;
use crate::merkle::{self, LeafIndex, NodeHash, SubtreeSource};
use crate::store::{Store, StoreError};
use std::collections::HashMap;

/// Subtrees of 2^STORED_LEVEL leaves and larger are kept in the store.
pub const STORED_LEVEL: u32 = 8;

pub fn leaf_of(record: &RecordHash) -> NodeHash {
    merkle::leaf_hash(&record.0)
}

/// Subtree hashes from a ledger: stored nodes where there are some, record hashes below.
pub struct StoreSource<'s> {
    store: &'s Store,
}

impl<'s> StoreSource<'s> {
    pub fn new(store: &'s Store) -> StoreSource<'s> {
        StoreSource { store }
    }
}

fn hash_from_leaves(store: &Store, level: u32, index: u64) -> Result<NodeHash, StoreError> {
    let first = (index << level) + 1;
    let last = first + (1u64 << level) - 1;
    let leaves: Vec<NodeHash> = store
        .record_hashes(first, last)?
        .iter()
        .map(leaf_of)
        .collect();
    Ok(merkle::root(&leaves))
}

impl SubtreeSource for StoreSource<'_> {
    type Error = StoreError;
    fn perfect(&mut self, level: u32, index: u64) -> Result<NodeHash, StoreError> {
        if level < STORED_LEVEL {
            return hash_from_leaves(self.store, level, index);
        }
        if let Some((_, hash)) = self.store.tree_nodes(level, index, index)?.first()
            && let Some(node) = NodeHash::from_slice(hash)
        {
            return Ok(node);
        }
        let left = self.perfect(level - 1, index * 2)?;
        let right = self.perfect(level - 1, index * 2 + 1)?;
        Ok(merkle::node_hash(&left, &right))
    }
}

/// Brings the stored subtree hashes up to the ledger's head. Returns how many were added.
///
/// # Errors
/// A database error, or `Unreadable` for a damaged record.
pub fn extend(store: &mut Store) -> Result<usize, StoreError> {
    let size = store.head()?.map_or(0, |head| head.seq);
    let mut new_nodes: Vec<(u32, u64, [u8; 32])> = Vec::new();
    let mut fresh: HashMap<(u32, u64), NodeHash> = HashMap::new();
    let mut level = STORED_LEVEL;
    loop {
        let complete = size >> level;
        let stored = store.tree_nodes_at_level(level)?;
        if complete == 0 {
            break;
        }
        for index in stored..complete {
            let hash = if level == STORED_LEVEL {
                hash_from_leaves(store, level, index)?
            } else {
                let child = |i: u64| -> Result<NodeHash, StoreError> {
                    match fresh.get(&(level - 1, i)) {
                        Some(hash) => Ok(*hash),
                        None => StoreSource::new(store).perfect(level - 1, i),
                    }
                };
                let left = child(index * 2)?;
                let right = child(index * 2 + 1)?;
                merkle::node_hash(&left, &right)
            };
            fresh.insert((level, index), hash);
            new_nodes.push((level, index, hash.0));
        }
        level += 1;
    }
    if !new_nodes.is_empty() {
        store.insert_tree_nodes(&new_nodes)?;
    }
    Ok(new_nodes.len())
}

/// The tree head of the first `size` records.
///
/// # Errors
/// A database error, or `Unreadable` if one of those records is missing or damaged.
pub fn root_at(store: &Store, size: u64) -> Result<NodeHash, StoreError> {
    merkle::range_root(&mut StoreSource::new(store), 0, size)
}

/// The audit path of record `seq` in the tree of the first `size` records; `None` if seq is
/// not in 1..=size.
///
/// # Errors
/// As [`root_at`].
pub fn inclusion_proof(
    store: &Store,
    seq: u64,
    size: u64,
) -> Result<Option<Vec<NodeHash>>, StoreError> {
    if seq == 0 {
        return Ok(None);
    }
    merkle::inclusion_proof_from(&mut StoreSource::new(store), LeafIndex(seq - 1), size)
}

/// The proof that the tree of `old_size` records is a prefix of the tree of `new_size`.
///
/// # Errors
/// As [`root_at`].
pub fn consistency_proof(
    store: &Store,
    old_size: u64,
    new_size: u64,
) -> Result<Option<Vec<NodeHash>>, StoreError> {
    merkle::consistency_proof_from(&mut StoreSource::new(store), old_size, new_size)
}

/// The tree heads of a log read in seq order, at the sizes asked for, in one pass and
/// memory of one hash per level: what `verify` uses to check checkpoints against the records
/// alone, without trusting the stored subtrees.
#[derive(Debug, Default)]
pub struct RunningRoot {
    /// The roots of the complete subtrees so far, largest (leftmost) first, with their sizes.
    stack: Vec<(u64, NodeHash)>,
    size: u64,
}

impl RunningRoot {
    pub fn push(&mut self, record: &RecordHash) {
        let mut node = (1u64, leaf_of(record));
        while let Some(&(size, left)) = self.stack.last() {
            if size != node.0 {
                break;
            }
            self.stack.pop();
            node = (size * 2, merkle::node_hash(&left, &node.1));
        }
        self.stack.push(node);
        self.size += 1;
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The head of the tree of every leaf pushed so far.
    pub fn root(&self) -> NodeHash {
        let mut nodes = self.stack.iter().rev();
        match nodes.next() {
            None => merkle::empty_root(),
            Some(&(_, last)) => {
                nodes.fold(last, |right, &(_, left)| merkle::node_hash(&left, &right))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_root_matches_the_tree_head_at_every_size() {
        let mut running = RunningRoot::default();
        let mut leaves = Vec::new();
        for i in 0u32..600 {
            let record = RecordHash(*blake3::hash(&i.to_be_bytes()).as_bytes());
            running.push(&record);
            leaves.push(leaf_of(&record));
            assert_eq!(running.root(), merkle::root(&leaves), "size {}", i + 1);
        }
    }
}
