//! Consistency proofs between two sizes of one tree, RFC 9162 §2.1.4.

use super::ProofError;
use super::tree::{NodeHash, node_hash, root, split};

/// `PROOF(m, D[n])` of RFC 9162 §2.1.4.1: the proof that the tree of the first `old_size`
/// leaves is a prefix of the tree of all `leaves`. `None` unless 0 < old_size <= leaves.
pub fn consistency_proof(leaves: &[NodeHash], old_size: u64) -> Option<Vec<NodeHash>> {
    let m = usize::try_from(old_size).ok()?;
    if m == 0 || m > leaves.len() {
        return None;
    }
    let mut proof = Vec::new();
    subproof(m, leaves, true, &mut proof);
    Some(proof)
}

fn subproof(m: usize, leaves: &[NodeHash], complete: bool, proof: &mut Vec<NodeHash>) {
    let n = leaves.len();
    if m == n {
        if !complete {
            proof.push(root(leaves));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, &leaves[..k], complete, proof);
        proof.push(root(&leaves[k..]));
    } else {
        subproof(m - k, &leaves[k..], false, proof);
        proof.push(root(&leaves[..k]));
    }
}

/// Verifies that the tree of `old_size` leaves with head `old_root` is a prefix of the tree of
/// `new_size` leaves with head `new_root`, by the algorithm of RFC 9162 §2.1.4.2.
///
/// # Errors
/// Why the proof fails; also for an empty old tree (which proves nothing), an old tree larger
/// than the new, and equal sizes with a non-empty proof or different roots.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &NodeHash,
    new_root: &NodeHash,
    proof: &[NodeHash],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::OldLargerThanNew {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == 0 {
        return Err(ProofError::EmptyOldTree);
    }
    if old_size == new_size {
        if !proof.is_empty() || old_root != new_root {
            return Err(ProofError::EqualSizesDiffer { size: old_size });
        }
        return Ok(());
    }
    if proof.is_empty() {
        return Err(ProofError::WrongLength { found: 0 });
    }
    // Step 2: a complete old tree is itself the first node of the path.
    let mut path: Vec<&NodeHash> = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(old_root);
    }
    path.extend(proof.iter());
    let (mut f_n, mut s_n) = (old_size - 1, new_size - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut f_r, mut s_r) = (*path[0], *path[0]);
    for c in &path[1..] {
        if s_n == 0 {
            return Err(ProofError::WrongLength { found: proof.len() });
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::WrongLength { found: proof.len() });
    }
    if f_r != *old_root {
        return Err(ProofError::OldRootMismatch {
            expected: *old_root,
            computed: f_r,
        });
    }
    if s_r != *new_root {
        return Err(ProofError::RootMismatch {
            expected: *new_root,
            computed: s_r,
        });
    }
    Ok(())
}
