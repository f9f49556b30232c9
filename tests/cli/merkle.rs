//! The Merkle tree against the RFC 6962 / RFC 9162 vectors of transparency-dev/merkle
//! (fixtures/rfc6962-merkle-vectors, Apache-2.0): every happy path verifies, every tampered
//! case is rejected. Then our own proofs, for every leaf of every tree size 1..=257.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::path::{Path, PathBuf};
use traceledger::merkle::{
    LeafIndex, NodeHash, consistency_proof, inclusion_proof, leaf_hash, root, verify_consistency,
    verify_inclusion,
};

fn vectors(kind: &str) -> Vec<(PathBuf, serde_json::Value)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    walk(
        &crate::support::fixture("rfc6962-merkle-vectors").join(kind),
        &mut paths,
    );
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            (p, value)
        })
        .collect()
}

/// A hash from the vector, or `None` when it is not 32 bytes of base64 (which a verifier
/// must reject before any arithmetic).
fn hash(value: &serde_json::Value) -> Option<NodeHash> {
    let text = value.as_str().unwrap_or("");
    NodeHash::from_slice(&STANDARD.decode(text).ok()?)
}

/// A tree head from a consistency vector. Some vectors give placeholder heads that are not 32
/// bytes ("don't care") where only their equality matters; a placeholder stands for a head
/// no real tree of the size has, equal placeholders for equal heads.
fn head(value: &serde_json::Value) -> Option<NodeHash> {
    let bytes = STANDARD.decode(value.as_str().unwrap_or("")).ok()?;
    Some(NodeHash::from_slice(&bytes).unwrap_or_else(|| leaf_hash(&bytes)))
}

fn hashes(value: &serde_json::Value) -> Option<Vec<NodeHash>> {
    match value.as_array() {
        None => Some(Vec::new()),
        Some(items) => items.iter().map(hash).collect(),
    }
}

#[test]
fn inclusion_vectors_verify_or_are_rejected_as_they_should() {
    let cases = vectors("inclusion");
    assert!(cases.len() > 60, "{} inclusion vectors", cases.len());
    let (mut accepted, mut rejected) = (0, 0);
    for (path, case) in cases {
        let verdict = (|| {
            let leaf = hash(&case["leafHash"]).ok_or("bad leaf hash")?;
            let root = hash(&case["root"]).ok_or("bad root")?;
            let proof = hashes(&case["proof"]).ok_or("bad proof hash")?;
            let index = LeafIndex(case["leafIdx"].as_u64().ok_or("bad index")?);
            let size = case["treeSize"].as_u64().ok_or("bad size")?;
            verify_inclusion(index, size, &leaf, &proof, &root).map_err(|_| "rejected")
        })();
        let want_error = case["wantErr"].as_bool().unwrap();
        assert_eq!(
            verdict.is_err(),
            want_error,
            "{}: {verdict:?}",
            path.display()
        );
        if want_error {
            rejected += 1
        } else {
            accepted += 1
        }
    }
    assert!(
        accepted >= 5 && rejected >= 50,
        "{accepted} accepted, {rejected} rejected"
    );
}

#[test]
fn consistency_vectors_verify_or_are_rejected_as_they_should() {
    let cases = vectors("consistency");
    assert!(cases.len() > 60, "{} consistency vectors", cases.len());
    for (path, case) in cases {
        let verdict = (|| {
            let root1 = head(&case["root1"]).ok_or("bad root1")?;
            let root2 = head(&case["root2"]).ok_or("bad root2")?;
            let proof = hashes(&case["proof"]).ok_or("bad proof hash")?;
            let size1 = case["size1"].as_u64().ok_or("bad size1")?;
            let size2 = case["size2"].as_u64().ok_or("bad size2")?;
            verify_consistency(size1, size2, &root1, &root2, &proof).map_err(|_| "rejected")
        })();
        let want_error = case["wantErr"].as_bool().unwrap();
        assert_eq!(
            verdict.is_err(),
            want_error,
            "{}: {verdict:?}",
            path.display()
        );
    }
}

fn leaves(n: usize) -> Vec<NodeHash> {
    (0..n as u64)
        .map(|i| leaf_hash(&blake3::hash(&i.to_le_bytes()).as_bytes()[..]))
        .collect()
}

#[test]
fn every_leaf_of_every_tree_up_to_257_proves_its_inclusion_and_nothing_else_does() {
    let all = leaves(257);
    for size in 1..=257usize {
        let tree = &all[..size];
        let head = root(tree);
        for index in 0..size {
            let proof = inclusion_proof(tree, LeafIndex(index as u64)).unwrap();
            let at = LeafIndex(index as u64);
            verify_inclusion(at, size as u64, &tree[index], &proof, &head).unwrap();
            // The same proof for another leaf, for an index outside the tree, or with a flipped
            // bit is refused.
            let other = &tree[(index + 1) % size];
            if size > 1 {
                assert!(verify_inclusion(at, size as u64, other, &proof, &head).is_err());
            }
            // (The same path against size + 1 can be valid: some tree of that size has this
            // head. RFC 9162 proves inclusion in *a* tree with the given head and size.)
            assert!(
                verify_inclusion(
                    LeafIndex(size as u64),
                    size as u64,
                    &tree[index],
                    &proof,
                    &head
                )
                .is_err()
            );
            if let Some(first) = proof.first() {
                let mut bent = proof.clone();
                bent[0] = NodeHash({
                    let mut bytes = first.0;
                    bytes[31] ^= 1;
                    bytes
                });
                assert!(verify_inclusion(at, size as u64, &tree[index], &bent, &head).is_err());
            }
        }
        assert!(inclusion_proof(tree, LeafIndex(size as u64)).is_none());
    }
}

#[test]
fn consistency_proofs_hold_between_pairs_of_sizes_and_fail_against_a_fork() {
    let all = leaves(300);
    // A fork: the same log rewritten from leaf 100 on.
    let mut fork = all.clone();
    for leaf in fork.iter_mut().skip(100) {
        leaf.0[0] ^= 0xff;
    }
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = |limit: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % limit
    };
    let sizes = (0..400).map(|_| {
        let a = next(300) + 1;
        let b = next(300) + 1;
        (a.min(b), a.max(b))
    });
    for (old, new) in sizes.chain([(1, 1), (1, 2), (2, 3), (127, 128), (128, 129), (256, 257)]) {
        let (old_tree, new_tree) = (&all[..old as usize], &all[..new as usize]);
        let proof = consistency_proof(new_tree, old).unwrap();
        let (old_root, new_root) = (root(old_tree), root(new_tree));
        verify_consistency(old, new, &old_root, &new_root, &proof).unwrap();
        if old < new {
            assert!(verify_consistency(old, new, &new_root, &old_root, &proof).is_err());
        }
        // A log rewritten from leaf 100 cannot prove itself consistent with an older head
        // that covered leaf 100.
        if old > 100 {
            let fork_tree = &fork[..new as usize];
            let fork_proof = consistency_proof(fork_tree, old).unwrap();
            assert!(
                verify_consistency(old, new, &old_root, &root(fork_tree), &fork_proof).is_err(),
                "fork {old}..{new}"
            );
        }
    }
}
