//! Reading the ledger: verify's summary, the log's filters, full records as NDJSON.

use crate::support::*;
use traceledger::chain::{RecordHash, record_hash};

#[test]
fn verify_prints_a_one_line_summary_with_the_head() {
    let ledger = Ledger::with_plant();
    let count = ledger.count();
    let head: Vec<u8> = ledger
        .sqlite()
        .query_row(
            "SELECT hash FROM records ORDER BY seq DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let head = RecordHash::from_slice(&head).unwrap();
    let out = stdout_of(ledger.run(&["verify"]));
    let mut lines = out.lines();
    assert_eq!(
        lines.next().unwrap_or_default(),
        format!("ok: {count} records verified, head seq {count} hash {head}")
    );
    assert!(
        lines
            .next()
            .unwrap_or_default()
            .starts_with("ok: genesis, 1 checkpoint and "),
        "{out}"
    );
    let (code, report) = ledger.verify_json();
    assert_eq!(code, 0);
    assert_eq!(report["head"]["hash"], head.to_hex());
    assert_eq!(report["finding"], serde_json::Value::Null);
}

#[test]
fn a_new_ledger_holds_its_genesis_and_verifies() {
    let ledger = Ledger::new();
    let out = stdout_of(ledger.run(&["verify"]));
    assert!(out.starts_with("ok: 4 records"), "{out}");
}

#[test]
fn log_json_prints_full_records_that_rehash_to_their_hash() {
    let ledger = Ledger::with_plant();
    let out = stdout_of(ledger.run(&["log", "--json"]));
    let records: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len() as i64, ledger.count());
    let mut prev = "0".repeat(64);
    for (index, record) in records.iter().enumerate() {
        assert_eq!(record["seq"], index as u64 + 1);
        assert_eq!(record["prev"], prev);
        // Recompute from the printed record alone, as an outside verifier would.
        let event = serde_json_canonicalizer::to_string(&record["event"]).unwrap();
        let hash = record_hash(
            record["seq"].as_u64().unwrap(),
            record["recorded_at"].as_str().unwrap(),
            &RecordHash::from_hex(record["prev"].as_str().unwrap()).unwrap(),
            &event,
        );
        assert_eq!(record["hash"], hash.to_hex());
        prev = hash.to_hex();
    }
}

#[test]
fn log_filters_by_type_entity_and_seq_range() {
    let ledger = Ledger::with_plant();
    let seqs = |args: &[&str]| -> Vec<u64> {
        let mut full = vec!["log", "--json"];
        full.extend_from_slice(args);
        stdout_of(ledger.run(&full))
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                    .as_u64()
                    .unwrap()
            })
            .collect()
    };
    assert_eq!(seqs(&["--from", "5", "--to", "9"]), vec![5, 6, 7, 8, 9]);
    assert_eq!(seqs(&["--from", "5", "--limit", "2"]), vec![5, 6]);

    let by_type = stdout_of(ledger.run(&["log", "--json", "--type", "unit.started"]));
    assert!(!by_type.is_empty());
    for line in by_type.lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(record["event"]["type"], "unit.started");
    }

    // Every record about a unit names it: its start, its steps, its release.
    let first_unit: serde_json::Value =
        serde_json::from_str(by_type.lines().next().unwrap()).unwrap();
    let unit = first_unit["event"]["data"]["unit"].as_str().unwrap();
    let about = stdout_of(ledger.run(&["log", "--json", "--entity", unit]));
    assert!(about.lines().count() >= 3, "{about}");
    for line in about.lines() {
        assert!(line.contains(&format!("\"{unit}\"")), "{line}");
    }

    let table = stdout_of(ledger.run(&["log", "--entity", unit]));
    let mut rows = table.lines();
    assert!(rows.next().unwrap().contains("recorded_at"));
    assert!(rows.next().unwrap().contains("unit.started"));
}
