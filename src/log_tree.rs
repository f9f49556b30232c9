//! The Merkle tree of a ledger: RFC 9162's tree over its record hashes (leaf i is record
//! i+1), with tree heads and proofs computed from the subtree hashes the store keeps.
//!
//! Complete, aligned subtrees of 256 leaves and up are stored (`tree_nodes`) as the log
//! grows, so a new tree head costs the new records plus a logarithm, and a proof reads at
//! most 255 record hashes plus one stored node per level. Smaller subtrees are hashed from
//! the record hashes on demand. The stored nodes are derived data: a missing one is
//! recomputed, `verify` recomputes every checkpoint's root from the records alone, and the
//! ledger key signs only a root [`checked_root`] recomputed from checked records.

use crate::chain::{GENESIS_PREV, RecordHash, record_hash};
use crate::merkle::{self, LeafIndex, NodeHash, SubtreeSource};
use crate::store::{Store, StoreError};
use ed25519_dalek::VerifyingKey;
use std::ops::ControlFlow;

/// A subtree hash to store: (level, index, hash).
pub type NewNode = (u32, u64, [u8; 32]);

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

/// Why the ledger key refused to sign: the tree it would sign is not the one the records
/// make, or the records are not what the last signed checkpoint vouched for.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "record {seq}: {detail}: refusing to sign a checkpoint over it (run `traceledger verify`)"
    )]
    Record { seq: u64, detail: String },
    #[error(
        "the stored tree node at level {level}, index {idx} is not the hash of records {first} to {last}: refusing to sign (the tree_nodes table was edited; `traceledger verify --derived` shows it, `traceledger rebuild` recomputes it)"
    )]
    NodeMismatch {
        level: u32,
        idx: u64,
        first: u64,
        last: u64,
    },
    #[error(
        "the tree_nodes table holds a node no ledger of {size} records has (level {level}, index {idx}): refusing to sign (the table was edited; `traceledger rebuild` recomputes it)"
    )]
    StrayNode { level: i64, idx: i64, size: u64 },
    #[error(
        "the ledger's first {tree_size} records no longer hash to the root the kept checkpoint of that size signed: refusing to sign (run `traceledger verify`)"
    )]
    BaseMismatch { tree_size: u64 },
    #[error(
        "the kept checkpoint of tree size {tree_size} does not open with the ledger key ({detail}): refusing to sign (run `traceledger verify`)"
    )]
    BadCheckpoint { tree_size: u64, detail: String },
    #[error(
        "a kept checkpoint vouches for {tree_size} records but the ledger holds {records}: refusing to sign (run `traceledger verify`)"
    )]
    CutShort { tree_size: u64, records: u64 },
}

impl TreeError {
    /// True for a refusal because of what the file holds (an integrity failure), false for a
    /// database or I/O error.
    pub fn is_integrity(&self) -> bool {
        match self {
            TreeError::Store(e) => e.is_corruption(),
            _ => true,
        }
    }
}

/// The tree head of the whole ledger, for the ledger key to sign, computed from nothing it
/// has not checked.
///
/// The base is the largest kept checkpoint that opens with `key` (none: the empty tree). Its
/// complete subtrees (stored nodes, or record hashes below level 8) must hash to the root it
/// signed, and the last record it covers must prove into that root; the records after it must
/// each hash to their stored hash and link to the one before. Their leaves extend the base's
/// subtrees to the new root. Every stored node those records complete is compared with the
/// hash they give (a different one: `NodeMismatch`), no stored node may lie beyond the head
/// (`StrayNode`), and the nodes that were missing are returned for storing.
///
/// So the key signs a root only if the tree it closes is the checked records appended to a
/// tree it signed before: whoever can write the file but lacks the key cannot make it sign a
/// root taken from `tree_nodes`.
///
/// # Errors
/// A refusal ([`TreeError::is_integrity`]), or a database error.
pub fn checked_root(
    store: &Store,
    key: &VerifyingKey,
    origin: &str,
    size: u64,
) -> Result<(NodeHash, Vec<NewNode>), TreeError> {
    if let Some((level, idx)) = store.stray_tree_node(size, STORED_LEVEL)? {
        return Err(TreeError::StrayNode { level, idx, size });
    }
    // The largest kept checkpoint (they are listed smallest first).
    let base = match store.checkpoints()?.into_iter().last() {
        None => None,
        Some(kept) => {
            let opened = crate::checkpoint::open(&kept.note, key)
                .map_err(|e| e.to_string())
                .and_then(|c| {
                    if c.origin == origin && c.tree_size == kept.tree_size {
                        Ok(c)
                    } else {
                        Err(format!("it states log {:?} size {}", c.origin, c.tree_size))
                    }
                })
                .map_err(|detail| TreeError::BadCheckpoint {
                    tree_size: kept.tree_size,
                    detail,
                })?;
            if opened.tree_size > size {
                return Err(TreeError::CutShort {
                    tree_size: opened.tree_size,
                    records: size,
                });
            }
            Some(opened)
        }
    };
    let base_size = base.as_ref().map_or(0, |b| b.tree_size);
    let mut running = RunningRoot::default();
    let mut prev = GENESIS_PREV;
    if let Some(base) = &base {
        let mut source = StoreSource::new(store);
        let mut lo = 0u64;
        for level in (0..u64::BITS).rev() {
            if base.tree_size & (1u64 << level) != 0 {
                running
                    .stack
                    .push((1u64 << level, source.perfect(level, lo >> level)?));
                lo += 1u64 << level;
            }
        }
        running.size = base.tree_size;
        if running.root() != base.root {
            return Err(TreeError::BaseMismatch {
                tree_size: base.tree_size,
            });
        }
        if base.tree_size > 0 {
            let last = store
                .hash_at(base.tree_size)?
                .ok_or(TreeError::BaseMismatch {
                    tree_size: base.tree_size,
                })?;
            let proof = inclusion_proof(store, base.tree_size, base.tree_size)?.unwrap_or_default();
            merkle::verify_inclusion(
                LeafIndex(base.tree_size - 1),
                base.tree_size,
                &leaf_of(&last),
                &proof,
                &base.root,
            )
            .map_err(|_| TreeError::BaseMismatch {
                tree_size: base.tree_size,
            })?;
            prev = last;
        }
    }
    let mut completed: Vec<(u32, u64, NodeHash)> = Vec::new();
    let mut failure: Option<TreeError> = None;
    let mut expected = base_size + 1;
    store.for_each_record(
        i64::try_from(expected).unwrap_or(i64::MAX),
        i64::try_from(size).unwrap_or(i64::MAX),
        |item| {
            let refuse = |detail: String| TreeError::Record {
                seq: expected,
                detail,
            };
            let view = match item {
                Ok(view) => view,
                Err(e) => {
                    failure = Some(refuse(e.to_string()));
                    return ControlFlow::Break(());
                }
            };
            if view.seq != i64::try_from(expected).unwrap_or(i64::MAX) {
                failure = Some(refuse(format!("the next record stored is {}", view.seq)));
                return ControlFlow::Break(());
            }
            if view.prev != prev.0 {
                failure = Some(refuse(
                    "its prev is not the hash of the record before".to_owned(),
                ));
                return ControlFlow::Break(());
            }
            let hash = record_hash(expected, view.recorded_at, &prev, view.event);
            if view.hash != hash.0 {
                failure = Some(refuse("it does not hash to its stored hash".to_owned()));
                return ControlFlow::Break(());
            }
            running.push_with(&hash, |level, idx, node| {
                if level >= STORED_LEVEL {
                    completed.push((level, idx, *node));
                }
            });
            prev = hash;
            expected += 1;
            ControlFlow::Continue(())
        },
    )?;
    if let Some(failure) = failure {
        return Err(failure);
    }
    if expected != size + 1 {
        return Err(TreeError::Record {
            seq: expected,
            detail: "it is missing".to_owned(),
        });
    }
    let mut missing = Vec::new();
    for (level, idx, node) in completed {
        match store.tree_nodes(level, idx, idx)?.first() {
            Some((_, stored)) if stored[..] == node.0[..] => {}
            Some(_) => {
                return Err(TreeError::NodeMismatch {
                    level,
                    idx,
                    first: (idx << level) + 1,
                    last: (idx + 1) << level,
                });
            }
            None => missing.push((level, idx, node.0)),
        }
    }
    Ok((running.root(), missing))
}

/// Every complete subtree of 256 leaves and up of the first `size` records, computed from
/// their stored hashes alone (streamed, a chunk at a time), in level-then-index order.
///
/// # Errors
/// A database error, or `Unreadable` for a missing or damaged record.
pub fn nodes_from_records(
    store: &Store,
    size: u64,
) -> Result<std::collections::BTreeMap<(u32, u64), NodeHash>, StoreError> {
    const CHUNK: u64 = 65_536;
    let mut running = RunningRoot::default();
    let mut nodes = std::collections::BTreeMap::new();
    let mut first = 1u64;
    while first <= size {
        let last = size.min(first + CHUNK - 1);
        for hash in store.record_hashes(first, last)? {
            running.push_with(&hash, |level, idx, node| {
                if level >= STORED_LEVEL {
                    nodes.insert((level, idx), *node);
                }
            });
        }
        first = last + 1;
    }
    Ok(nodes)
}

/// How the stored subtree hashes differ from the ones the records make.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeDiff {
    /// Nodes the records make that are not stored (harmless: recomputed when needed).
    pub missing: u64,
    /// Stored nodes that the records do not make: a wrong hash, or a node no such ledger has.
    pub wrong: u64,
    /// The first wrong one, (level, index).
    pub first_wrong: Option<(i64, i64)>,
}

/// Compares every stored subtree hash with the records' (`verify --derived`).
///
/// # Errors
/// A database error, or `Unreadable` for a missing or damaged record.
pub fn diff_nodes(store: &Store, size: u64) -> Result<NodeDiff, StoreError> {
    let mut expected = nodes_from_records(store, size)?;
    let mut diff = NodeDiff::default();
    for (level, idx, hash) in store.all_tree_nodes()? {
        let key = u32::try_from(level).ok().zip(u64::try_from(idx).ok());
        match key.and_then(|key| expected.remove(&key)) {
            Some(node) if node.0[..] == hash[..] => {}
            _ => {
                diff.wrong += 1;
                diff.first_wrong.get_or_insert((level, idx));
            }
        }
    }
    diff.missing = expected.len() as u64;
    Ok(diff)
}

/// Recomputes the stored subtree hashes from the records (`rebuild`). Returns how many.
///
/// # Errors
/// A database error, or `Unreadable` for a missing or damaged record.
pub fn rebuild(store: &mut Store) -> Result<usize, StoreError> {
    let size = store.head()?.map_or(0, |head| head.seq);
    let nodes: Vec<NewNode> = nodes_from_records(store, size)?
        .into_iter()
        .map(|((level, idx), node)| (level, idx, node.0))
        .collect();
    store.replace_tree_nodes(&nodes)?;
    Ok(nodes.len())
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
        self.push_with(record, |_, _, _| {});
    }

    /// [`RunningRoot::push`], calling `completed(level, index, hash)` for each complete
    /// subtree of two leaves and up that this leaf closes, smallest first.
    pub fn push_with(
        &mut self,
        record: &RecordHash,
        mut completed: impl FnMut(u32, u64, &NodeHash),
    ) {
        let mut node = (1u64, leaf_of(record));
        let end = self.size + 1;
        while let Some(&(size, left)) = self.stack.last() {
            if size != node.0 {
                break;
            }
            self.stack.pop();
            node = (size * 2, merkle::node_hash(&left, &node.1));
            let level = node.0.trailing_zeros();
            completed(level, (end >> level) - 1, &node.1);
        }
        self.stack.push(node);
        self.size = end;
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
