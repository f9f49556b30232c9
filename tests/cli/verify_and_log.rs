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

/// A command whose stdout and stderr are pipes nobody reads any more (`| head -0`): it must
/// not panic, and its exit code must still say what happened.
fn run_with_closed_output(mut command: std::process::Command) -> std::process::Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let (error_reader, error_writer) = std::io::pipe().unwrap();
    drop(error_reader);
    let status = command
        .env_remove("TRACELEDGER_LEDGER")
        .env("RUST_BACKTRACE", "0")
        .stdout(writer)
        .stderr(error_writer)
        .status()
        .unwrap();
    std::process::Output {
        status,
        stdout: Vec::new(),
        stderr: Vec::new(),
    }
}

#[test]
fn closed_stdout_and_stderr_never_panic() {
    let ledger = Ledger::with_plant();
    let binary = assert_cmd::cargo::cargo_bin("traceledger");
    let command = |args: &[&str]| {
        let mut command = std::process::Command::new(&binary);
        command.arg("--ledger").arg(&ledger.path).args(args);
        command
    };
    // 101 is a panic.
    let parse = run_with_closed_output(command(&[
        "udi",
        "parse",
        "(01)09506000134352(17)261231(10)A1",
    ]));
    assert_eq!(parse.status.code(), Some(0));
    let verify = run_with_closed_output(command(&["verify"]));
    assert_eq!(verify.status.code(), Some(0));
    let log = run_with_closed_output(command(&["log"]));
    assert_eq!(log.status.code(), Some(0));
    // Bad lines: reported on a closed stderr, the summary on a closed stdout; still exit 2.
    let bad = ledger.file("bad.ndjson");
    std::fs::write(&bad, "{\n[]\nnot json\n").unwrap();
    let ingest = run_with_closed_output(command(&["ingest", bad.to_str().unwrap()]));
    assert_eq!(ingest.status.code(), Some(EXIT_BAD_INPUT));
    // A failing verify with a closed stdout still fails.
    let connection = ledger.sqlite();
    connection
        .execute_batch(
            "DROP TRIGGER records_refuse_update; UPDATE records SET site = 'X' WHERE seq = 9;",
        )
        .unwrap();
    drop(connection);
    let failing = run_with_closed_output(command(&["verify"]));
    assert_eq!(failing.status.code(), Some(EXIT_INTEGRITY));
}
