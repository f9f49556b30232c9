//! docs/format.md is the auditor's contract: every vector in it must hold.

use traceledger::chain::{RECORD_HASH_DOMAIN, RecordHash, record_hash};

fn doc() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/format.md")).unwrap()
}

fn jcs(text: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(text).unwrap();
    serde_json_canonicalizer::to_string(&value).unwrap()
}

#[test]
fn number_canonicalization_vectors_hold() {
    let doc = doc();
    let mut checked = 0;
    for line in doc.lines().filter_map(|l| l.strip_prefix("number: ")) {
        let (input, want) = line.split_once(" -> ").unwrap();
        assert_eq!(jcs(input), want, "number {input}");
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} number vectors found");
}

#[test]
fn record_hash_vectors_hold_and_chain() {
    let doc = doc();
    assert_eq!(RECORD_HASH_DOMAIN, b"traceledger/record/v1\0");
    let inputs: Vec<&str> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("input: "))
        .collect();
    let canonicals: Vec<&str> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("canonical: "))
        .collect();
    let hashes: Vec<&str> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("hash: "))
        .collect();
    assert_eq!(inputs.len(), 3);
    assert_eq!(canonicals.len(), 3);
    assert_eq!(hashes.len(), 3);
    let mut prev = "0".repeat(64);
    for ((input, canonical), hash) in inputs.iter().zip(&canonicals).zip(&hashes) {
        assert_eq!(jcs(input), *canonical);
        let mut hasher = blake3::Hasher::new();
        hasher.update(RECORD_HASH_DOMAIN);
        hasher.update(canonical.as_bytes());
        assert_eq!(hasher.finalize().to_hex().as_str(), *hash);

        // The implementation's own path: event stored as JCS, record built around it.
        let record: serde_json::Value = serde_json::from_str(input).unwrap();
        assert_eq!(record["prev"], prev.as_str());
        let computed = record_hash(
            record["seq"].as_u64().unwrap(),
            record["recorded_at"].as_str().unwrap(),
            &RecordHash::from_hex(record["prev"].as_str().unwrap()).unwrap(),
            &serde_json_canonicalizer::to_string(&record["event"]).unwrap(),
        );
        assert_eq!(computed.to_hex(), *hash);
        prev = hash.to_string();
    }
}

/// The values of the lines of docs/format.md that start with `name: `, in order.
fn vector<'d>(doc: &'d str, name: &str) -> Vec<&'d str> {
    let prefix = format!("{name}: ");
    doc.lines()
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .collect()
}

/// The one value of vector `name`.
fn one<'d>(doc: &'d str, name: &str) -> &'d str {
    let values = vector(doc, name);
    assert_eq!(
        values.len(),
        1,
        "docs/format.md must have exactly one `{name}:` line"
    );
    values[0]
}

fn unhex32(text: &str) -> [u8; 32] {
    RecordHash::from_hex(text)
        .unwrap_or_else(|| panic!("{text:?} is not 64 hex digits"))
        .0
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unbase64(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

fn sha256(text: &str) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(text.as_bytes()).into()
}

#[test]
fn signature_vectors_hold() {
    use traceledger::signing::keys::{
        key_from_label, key_id, parse_public_key_base64, public_key_base64,
    };
    use traceledger::signing::{
        CONTENT_DOMAIN, MESSAGE_DOMAIN, Meaning, content_digest, message, sign_event, signed_event,
    };
    let doc = doc();
    assert_eq!(CONTENT_DOMAIN, b"traceledger/signed-content/v1\0");
    assert_eq!(MESSAGE_DOMAIN, b"traceledger/signature/v1\0");

    // The key: seed = SHA-256 of the fixture label.
    let seed = unhex32(one(&doc, "sig-seed"));
    assert_eq!(seed, sha256("traceledger-fixture:k-1201"));
    let key = key_from_label("traceledger-fixture:k-1201");
    assert_eq!(key.to_bytes(), seed);
    let public = key.verifying_key();
    assert_eq!(public_key_base64(&public), one(&doc, "sig-public-key"));
    assert_eq!(
        parse_public_key_base64(one(&doc, "sig-public-key")),
        Some(public)
    );
    assert_eq!(key_id(&public), one(&doc, "sig-fingerprint"));

    // The content digest: BLAKE3 over the domain and the JCS of the event less its signatures.
    let event: serde_json::Value = serde_json::from_str(one(&doc, "sig-event")).unwrap();
    let mut unsigned = event.clone();
    unsigned.as_object_mut().unwrap().remove("signatures");
    let content_text = one(&doc, "sig-content-jcs");
    assert_eq!(
        serde_json_canonicalizer::to_string(&unsigned).unwrap(),
        content_text
    );
    assert_eq!(
        traceledger::event::canonical_json(&unsigned).unwrap(),
        content_text
    );
    let mut hasher = blake3::Hasher::new();
    hasher.update(CONTENT_DOMAIN);
    hasher.update(content_text.as_bytes());
    let digest_text = one(&doc, "sig-content-digest");
    assert_eq!(hasher.finalize().to_hex().as_str(), digest_text);
    let content = content_digest(&event).unwrap();
    assert_eq!(content, unhex32(digest_text));
    assert_eq!(
        content_digest(&unsigned).unwrap(),
        content,
        "signatures are not content"
    );

    // The message: the domain, then the JCS of the five fields.
    let message_text = one(&doc, "sig-message");
    let fields: serde_json::Value = serde_json::from_str(message_text).unwrap();
    assert_eq!(
        serde_json_canonicalizer::to_string(&fields).unwrap(),
        message_text
    );
    assert_eq!(fields.as_object().unwrap().len(), 5);
    assert_eq!(fields["content"], digest_text);
    let field = |name: &str| fields[name].as_str().unwrap();
    let meaning = Meaning::parse(field("meaning")).unwrap();
    let mut expected = MESSAGE_DOMAIN.to_vec();
    expected.extend_from_slice(message_text.as_bytes());
    assert_eq!(
        message(
            &content,
            field("key"),
            meaning,
            field("signed_at"),
            field("signer")
        ),
        expected
    );

    // The signature (Ed25519 is deterministic) and the signed event.
    let mut signed = event.clone();
    sign_event(
        &mut signed,
        &key,
        field("key"),
        field("signer"),
        meaning,
        field("signed_at"),
    )
    .unwrap();
    assert_eq!(
        serde_json_canonicalizer::to_string(&signed).unwrap(),
        one(&doc, "sig-signed-event")
    );
    assert_eq!(
        signed["signatures"][0]["signature"],
        one(&doc, "sig-signature")
    );
    let from_doc: serde_json::Value = serde_json::from_str(one(&doc, "sig-signed-event")).unwrap();
    let decoded = signed_event(&from_doc).unwrap();
    assert_eq!(decoded.content, content);
    assert_eq!(decoded.entries.len(), 1);
    let entry = &decoded.entries[0];
    assert_eq!(
        entry.signature.to_vec(),
        unbase64(one(&doc, "sig-signature"))
    );
    assert!(entry.verifies(&content, &public));

    // It binds the content, the meaning, the time, the signer and the key.
    let mut moved = from_doc.clone();
    moved["id"] = "01JDB7M6W3Y7Q4T1K9Z8F2C5N4".into();
    let moved = signed_event(&moved).unwrap();
    assert!(!moved.entries[0].verifies(&moved.content, &public));
    for (name, value) in [
        ("meaning", "approved"),
        ("signed_at", "2026-11-25T10:15:00.251Z"),
        ("signer", "p-1202"),
        ("key", "k-1202"),
    ] {
        let mut changed = from_doc.clone();
        changed["signatures"][0][name] = value.into();
        let changed = signed_event(&changed).unwrap();
        assert!(
            !changed.entries[0].verifies(&content, &public),
            "{name} changed"
        );
    }
}

#[test]
fn checkpoint_vectors_hold() {
    use traceledger::checkpoint::{Checkpoint, key_id, open, sign, verifier_key};
    use traceledger::log_tree::{RunningRoot, leaf_of};
    use traceledger::merkle::{NodeHash, leaf_hash, node_hash, root};
    use traceledger::signing::keys::{self, key_from_label, public_key_base64};
    let doc = doc();

    // The leaves are the record hashes of the chained vectors of section 5.
    let records = vector(&doc, "cp-record-hash");
    assert_eq!(records, vector(&doc, "hash"));
    let leaves_text = vector(&doc, "cp-leaf-hash");
    assert_eq!(leaves_text.len(), records.len());
    let mut leaves = Vec::new();
    let mut running = RunningRoot::default();
    for (record, leaf_text) in records.iter().zip(&leaves_text) {
        let record = RecordHash::from_hex(record).unwrap();
        let leaf = leaf_of(&record);
        assert_eq!(leaf, leaf_hash(&record.0));
        assert_eq!(leaf.to_string(), *leaf_text);
        leaves.push(leaf);
        running.push(&record);
    }
    assert_eq!(
        node_hash(&leaves[0], &leaves[1]).to_string(),
        one(&doc, "cp-node-0-1")
    );
    let tree_root = root(&leaves);
    assert_eq!(tree_root.to_string(), one(&doc, "cp-root-hex"));
    assert_eq!(base64(&tree_root.0), one(&doc, "cp-root-base64"));
    assert_eq!(running.root(), tree_root);

    // The ledger key and its names.
    let seed = unhex32(one(&doc, "cp-ledger-seed"));
    assert_eq!(seed, sha256("traceledger-fixture:ledger"));
    let ledger = key_from_label("traceledger-fixture:ledger");
    assert_eq!(ledger.to_bytes(), seed);
    let public = ledger.verifying_key();
    assert_eq!(
        public_key_base64(&public),
        one(&doc, "cp-ledger-public-key")
    );
    let origin = one(&doc, "cp-origin");
    // The origin `init` chooses by default for this key.
    assert_eq!(
        origin,
        format!(
            "traceledger/GAL/{}",
            keys::key_id(&public).trim_start_matches("ed25519:")
        )
    );
    assert!(traceledger::genesis::valid_origin(origin));
    assert_eq!(
        format!("{:08x}", key_id(origin, &public)),
        one(&doc, "cp-key-id")
    );
    assert_eq!(verifier_key(origin, &public), one(&doc, "cp-verifier-key"));

    // The signed note, byte for byte.
    let tree_size: u64 = one(&doc, "cp-tree-size").parse().unwrap();
    assert_eq!(tree_size, leaves.len() as u64);
    let checkpoint = Checkpoint {
        origin: origin.to_owned(),
        tree_size,
        root: tree_root,
    };
    let start = doc
        .find("```signed-note\n")
        .expect("a ```signed-note block")
        + "```signed-note\n".len();
    let note = &doc[start..start + doc[start..].find("```").unwrap()];
    assert_eq!(sign(&checkpoint, &ledger), note);
    assert!(note.starts_with(&checkpoint.body()));
    assert_eq!(open(note, &public), Ok(checkpoint.clone()));
    let line = note.lines().last().unwrap();
    let blob = unbase64(line.rsplit_once(' ').unwrap().1);
    assert_eq!(line, format!("\u{2014} {origin} {}", base64(&blob)));
    assert_eq!(blob.len(), 68);
    assert_eq!(
        traceledger::signing::hex(&blob[..4]),
        one(&doc, "cp-key-id")
    );
    assert_eq!(base64(&blob[4..]), one(&doc, "cp-signature"));

    // Another root, or another key, does not open.
    let other_root = note.replace(one(&doc, "cp-root-base64"), &base64(&NodeHash([0u8; 32]).0));
    assert!(open(&other_root, &public).is_err());
    assert!(
        open(
            note,
            &key_from_label("traceledger-fixture:k-1201").verifying_key()
        )
        .is_err()
    );
}
