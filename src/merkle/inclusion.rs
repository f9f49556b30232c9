//! Inclusion proofs (audit paths), RFC 9162 §2.1.3.

use super::tree::{NodeHash, node_hash, root, split};
use super::{LeafIndex, ProofError};

/// `PATH(m, D[n])` of RFC 9162 §2.1.3.1: the sibling hashes from leaf `index` up to the root of
/// the tree of `leaves`, nearest first. `None` if `index` is not in the tree.
pub fn inclusion_proof(leaves: &[NodeHash], index: LeafIndex) -> Option<Vec<NodeHash>> {
    let m = usize::try_from(index.0).ok()?;
    if m >= leaves.len() {
        return None;
    }
    let mut path = Vec::new();
    build(m, leaves, &mut path);
    Some(path)
}

fn build(m: usize, leaves: &[NodeHash], path: &mut Vec<NodeHash>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        build(m, &leaves[..k], path);
        path.push(root(&leaves[k..]));
    } else {
        build(m - k, &leaves[k..], path);
        path.push(root(&leaves[..k]));
    }
}

/// Verifies that `leaf` is leaf `index` of the tree of `tree_size` leaves whose head is
/// `expected_root`, by the algorithm of RFC 9162 §2.1.3.2.
///
/// # Errors
/// Why the proof fails: index beyond the size, a path of the wrong length, another root.
pub fn verify_inclusion(
    index: LeafIndex,
    tree_size: u64,
    leaf: &NodeHash,
    proof: &[NodeHash],
    expected_root: &NodeHash,
) -> Result<(), ProofError> {
    if index.0 >= tree_size {
        return Err(ProofError::IndexBeyondSize {
            index: index.0,
            size: tree_size,
        });
    }
    let (mut f_n, mut s_n) = (index.0, tree_size - 1);
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return Err(ProofError::WrongLength { found: proof.len() });
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::WrongLength { found: proof.len() });
    }
    if r != *expected_root {
        return Err(ProofError::RootMismatch {
            expected: *expected_root,
            computed: r,
        });
    }
    Ok(())
}
