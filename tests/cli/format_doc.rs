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
