//! Ingest from the shop floor: fixtures in, bad lines refused with their place, nothing
//! half-written, duplicates skipped, concurrency and a kill -9.

use crate::support::*;
use std::io::Write;
use std::process::Stdio;

#[test]
fn init_refuses_to_overwrite_a_ledger_or_any_file() {
    let ledger = Ledger::with_plant();
    let before = ledger.count();
    let output = ledger.run(&["init", "--simulation"]).output().unwrap();
    assert_eq!(output.status.code(), Some(EXIT_BAD_INPUT));
    assert!(String::from_utf8_lossy(&output.stderr).contains("refusing to overwrite"));
    assert_eq!(ledger.count(), before);

    let other = ledger.file("notes.txt");
    std::fs::write(&other, "keep me").unwrap();
    traceledger()
        .arg("--ledger")
        .arg(&other)
        .args(["init", "--simulation"])
        .assert()
        .code(EXIT_BAD_INPUT);
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "keep me");
}

#[test]
fn the_ledger_path_comes_from_the_environment_when_not_given() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("from-env.db");
    traceledger()
        .env("TRACELEDGER_LEDGER", &path)
        .args(["init", "--simulation"])
        .assert()
        .success();
    assert!(path.exists());
}

#[test]
fn plant_fixture_is_recorded_whole_and_verifies() {
    let ledger = Ledger::new();
    let fixture = fixture("plant-small.ndjson");
    let lines = non_blank_lines(&fixture);
    let out = stdout_of(ledger.run(&["ingest", fixture.to_str().unwrap()]));
    assert!(
        out.contains(&format!("{lines} recorded, 0 duplicates, 0 rejected")),
        "{out}"
    );
    assert_eq!(ledger.count(), GENESIS_RECORDS + lines as i64);
    let (code, report) = ledger.verify_json();
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["records"], GENESIS_RECORDS + lines as i64);
    assert_eq!(report["ok"], true);
}

#[test]
fn every_event_type_of_the_vocabulary_is_in_the_fixture() {
    let ledger = Ledger::with_plant();
    let connection = ledger.sqlite();
    let mut statement = connection
        .prepare("SELECT DISTINCT type FROM records")
        .unwrap();
    let types: std::collections::HashSet<String> = statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for event_type in traceledger::event::EVENT_TYPES {
        assert!(types.contains(*event_type), "fixture lacks {event_type}");
    }
}

#[test]
fn duplicates_are_skipped_across_runs_and_within_one_input() {
    let ledger = Ledger::with_plant();
    let before = ledger.count();
    let fixture = fixture("plant-small.ndjson");
    let out = stdout_of(ledger.run(&["ingest", fixture.to_str().unwrap()]));
    assert!(
        out.contains(&format!(
            "0 recorded, {} duplicates, 0 rejected",
            before - GENESIS_RECORDS
        )),
        "{out}"
    );
    assert_eq!(ledger.count(), before);

    // The same event twice in one input, the second with other key order and spacing: the
    // canonical form decides, so it is a duplicate, not a conflict.
    let fresh = Ledger::new();
    let first = std::fs::read_to_string(&fixture).unwrap();
    let first = first.lines().next().unwrap();
    let value: serde_json::Value = serde_json::from_str(first).unwrap();
    let reordered = serde_json::to_string_pretty(&value)
        .unwrap()
        .replace('\n', " ");
    let input = fresh.file("twice.ndjson");
    std::fs::write(&input, format!("{first}\n{reordered}\n")).unwrap();
    let out = stdout_of(fresh.run(&["ingest", input.to_str().unwrap()]));
    assert!(
        out.contains("1 recorded, 1 duplicates, 0 rejected"),
        "{out}"
    );
}

#[test]
fn bom_crlf_and_blank_lines_are_tolerated() {
    let ledger = Ledger::new();
    let fixture = fixture("tolerated.ndjson");
    let bytes = std::fs::read(&fixture).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF") && bytes.windows(2).any(|w| w == b"\r\n"));
    ledger
        .run(&["ingest", fixture.to_str().unwrap()])
        .assert()
        .success();
    assert_eq!(
        ledger.count(),
        GENESIS_RECORDS + non_blank_lines(&fixture) as i64
    );
}

fn expected_bad_lines() -> serde_json::Value {
    let text = std::fs::read_to_string(fixture("bad/expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn every_bad_file_is_refused_whole_with_each_line_named() {
    let expected = expected_bad_lines();
    let files = expected.as_object().unwrap();
    assert!(
        files.len() >= 10,
        "expected.json lists {} files",
        files.len()
    );
    for (name, bad_lines) in files {
        if name.starts_with('_') {
            continue;
        }
        let ledger = Ledger::with_plant();
        let before = ledger.count();
        let path = fixture(&format!("bad/{name}"));
        let shown = path.to_str().unwrap();
        let output = ledger.run(&["ingest", shown]).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(EXIT_BAD_INPUT),
            "{name}: {stderr}"
        );
        assert_eq!(ledger.count(), before, "{name}: something was written");
        let reported: Vec<&str> = stderr.lines().filter(|l| l.starts_with(shown)).collect();
        let bad_lines = bad_lines.as_array().unwrap();
        assert_eq!(reported.len(), bad_lines.len(), "{name}: {stderr}");
        for (bad, line) in bad_lines.iter().zip(&reported) {
            let prefix = format!("{shown}:{}: {}", bad["line"], bad["code"].as_str().unwrap());
            assert!(
                line.starts_with(&prefix),
                "{name}: want {prefix}, got {line}"
            );
            if let Some(field) = bad["field"].as_str() {
                assert!(line.contains(field), "{name}: {line} does not name {field}");
            }
        }
        let (code, report) = ledger.verify_json();
        assert_eq!(code, 0, "{name}: {report}");
    }
}

#[test]
fn with_a_rejects_file_the_good_lines_are_recorded_and_the_bad_ones_kept() {
    let expected = expected_bad_lines();
    let good_lines = &expected["_good_lines"];
    for name in [
        "mixed.ndjson",
        "unknown-reference.ndjson",
        "invalid-utf8.ndjson",
    ] {
        let ledger = Ledger::with_plant();
        let before = ledger.count();
        let rejects = ledger.file("rejects.ndjson");
        let path = fixture(&format!("bad/{name}"));
        ledger
            .run(&[
                "ingest",
                path.to_str().unwrap(),
                "--rejects",
                rejects.to_str().unwrap(),
            ])
            .assert()
            .success();
        let good = good_lines[name].as_i64().unwrap();
        assert_eq!(ledger.count(), before + good, "{name}");
        let rejected: Vec<serde_json::Value> = std::fs::read_to_string(&rejects)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let want = expected[name].as_array().unwrap();
        assert_eq!(rejected.len(), want.len(), "{name}");
        for (got, want) in rejected.iter().zip(want) {
            assert_eq!(got["line"], want["line"], "{name}");
            assert_eq!(got["code"], want["code"], "{name}");
            assert!(!got["input"].as_str().unwrap().is_empty());
        }
        ledger.run(&["verify"]).assert().success();
    }
}

#[test]
fn an_id_reused_with_other_content_is_a_conflict() {
    let ledger = Ledger::with_plant();
    let first = std::fs::read_to_string(fixture("plant-small.ndjson")).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    value["occurred_at"] = "2020-01-01T00:00:00Z".into();
    let input = ledger.file("conflict.ndjson");
    std::fs::write(&input, format!("{value}\n")).unwrap();
    let output = ledger
        .run(&["ingest", input.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(EXIT_BAD_INPUT));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(":1: id_conflict at /id") && stderr.contains("(seq 5)"),
        "{stderr}"
    );
}

#[test]
fn more_than_a_hundred_bad_lines_are_counted_not_listed() {
    let ledger = Ledger::new();
    let input = ledger.file("garbage.ndjson");
    let garbage: String = (0..150).map(|i| format!("{{\"broken\": {i}\n")).collect();
    std::fs::write(&input, garbage).unwrap();
    let output = ledger
        .run(&["ingest", input.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(EXIT_BAD_INPUT));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let listed = stderr
        .lines()
        .filter(|l| l.contains(": invalid_json"))
        .count();
    assert_eq!(listed, 100);
    assert!(stderr.contains("... and 50 more bad lines"), "{stderr}");
    assert!(!stderr.contains("garbage.ndjson:150:"));
}

#[test]
fn a_missing_input_or_ledger_is_a_clear_error() {
    let ledger = Ledger::new();
    let output = ledger
        .run(&["ingest", "no/such/file.ndjson"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(EXIT_BAD_INPUT));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no/such/file.ndjson"));

    let output = traceledger()
        .args(["--ledger", "no/such/ledger.db", "verify"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(EXIT_ENVIRONMENT));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no ledger at no/such/ledger.db"));
}

#[test]
fn a_ledger_of_another_schema_version_is_refused_not_migrated() {
    // A newer ledger than this build knows (older versions are migrated by `migrate`, see
    // kpi.rs, trace.rs and read_only.rs).
    let ledger = Ledger::with_plant();
    ledger
        .sqlite()
        .execute_batch("PRAGMA user_version = 6")
        .unwrap();
    let output = ledger.run(&["verify"]).output().unwrap();
    assert_eq!(output.status.code(), Some(EXIT_ENVIRONMENT));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("schema version 6"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let not_a_ledger = ledger.file("plain.db");
    rusqlite::Connection::open(&not_a_ledger)
        .unwrap()
        .execute_batch("CREATE TABLE t (x)")
        .unwrap();
    let output = traceledger()
        .arg("--ledger")
        .arg(&not_a_ledger)
        .arg("log")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(EXIT_ENVIRONMENT));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a traceledger ledger"));
}

fn simulated(dir: &std::path::Path, units: u64, seed: u64) -> std::path::PathBuf {
    let path = dir.join(format!("sim-{units}-{seed}.ndjson"));
    let output = traceledger()
        .args([
            "simulate",
            "--units",
            &units.to_string(),
            "--seed",
            &seed.to_string(),
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    std::fs::write(&path, output.stdout).unwrap();
    path
}

#[test]
fn concurrent_ingests_both_succeed_and_the_chain_stays_one_line() {
    let ledger = Ledger::for_simulation();
    let big = simulated(ledger.dir.path(), 150, 11);
    let small = fixture("tolerated.ndjson");
    let expected = non_blank_lines(&big) + non_blank_lines(&small);
    let spawn = |input: &std::path::Path| {
        let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("traceledger"));
        command
            .arg("--ledger")
            .arg(&ledger.path)
            .args(["ingest", "--quiet"])
            .arg(input)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command.spawn().unwrap()
    };
    let first = spawn(&big);
    let second = spawn(&small);
    let third = spawn(&big);
    for child in [first, second, third] {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert_eq!(ledger.count(), GENESIS_RECORDS + expected as i64);
    let (code, report) = ledger.verify_json();
    assert_eq!(code, 0, "{report}");
}

#[test]
fn kill_dash_nine_mid_ingest_leaves_all_or_nothing_and_a_rerun_records_the_rest() {
    let ledger = Ledger::with_plant();
    let before = ledger.count();
    let tolerated = std::fs::read(fixture("tolerated.ndjson")).unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("traceledger"))
        .arg("--ledger")
        .arg(&ledger.path)
        .args(["ingest", "--quiet", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Feed part of the input and keep the pipe open: the ingest is certainly mid-run, with a
    // transaction open and records appended inside it, when it is killed.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&tolerated).unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    drop(stdin);

    assert_eq!(ledger.count(), before, "a killed ingest must leave nothing");
    let (code, report) = ledger.verify_json();
    assert_eq!(code, 0, "{report}");

    let fixture_path = fixture("tolerated.ndjson");
    ledger
        .run(&["ingest", fixture_path.to_str().unwrap()])
        .assert()
        .success();
    assert_eq!(
        ledger.count(),
        before + non_blank_lines(&fixture_path) as i64
    );
    ledger.run(&["verify"]).assert().success();
}

#[test]
fn a_simulated_plant_ingests_cleanly_and_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let a = simulated(dir.path(), 40, 5);
    let again = std::fs::read(&a).unwrap();
    let b = simulated(dir.path(), 40, 6);
    let first = traceledger()
        .args(["simulate", "--units", "40", "--seed", "5"])
        .output()
        .unwrap()
        .stdout;
    assert_eq!(first, again, "same seed, same bytes");
    assert_ne!(
        std::fs::read(&b).unwrap(),
        again,
        "another seed, another plant"
    );

    let ledger = Ledger::for_simulation();
    let out = stdout_of(ledger.run(&["ingest", a.to_str().unwrap()]));
    assert!(out.contains(" 0 rejected"), "{out}");
    assert_eq!(ledger.count(), GENESIS_RECORDS + non_blank_lines(&a) as i64);
    ledger.run(&["verify", "--derived"]).assert().success();
}

#[test]
fn a_closed_output_pipe_is_not_an_error() {
    let bin = assert_cmd::cargo::cargo_bin("traceledger");
    let status = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -o pipefail; '{}' simulate --units 2000 | head -n 1 > /dev/null",
            bin.display()
        ))
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn an_event_with_a_duplicate_key_is_refused_as_ambiguous() {
    let ledger = Ledger::new();
    let input = ledger.file("dup.ndjson");
    std::fs::write(
        &input,
        "{\"id\":\"e1\",\"type\":\"site.registered\",\"occurred_at\":\"2026-11-25T08:00:00Z\",\"site\":\"GAL\",\"source\":\"system:erp\",\"data\":{\"site\":\"GAL\",\"name\":\"Galway\",\"timezone\":\"Europe/Dublin\",\"site\":\"CRK\"}}\n",
    )
    .unwrap();
    let output = ledger
        .run(&["ingest", input.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(EXIT_BAD_INPUT));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("dup.ndjson:1: invalid_json: duplicate key \"site\" (column"),
        "{stderr}"
    );
    assert_eq!(ledger.count(), GENESIS_RECORDS);
}

/// Issue 3: the UDI on `unit.started` and `label.printed` must be the device's own.
#[test]
fn a_udi_that_is_not_the_devices_is_refused() {
    let ledger = Ledger::with_plant();
    let before = ledger.count();
    let started = |id: &str, unit: &str, udi: &str| {
        format!(
            r#"{{"id":"{id}","type":"unit.started","occurred_at":"2026-11-16T08:12:05+08:00","site":"PEN","source":"station:PEN-ASM-01","actor":"p-2001","data":{{"unit":"{unit}","product":"PMOD-100","work_order":"WO-PEN-26-0311","udi":"{udi}"}}}}"#
        )
    };
    let label = |id: &str, unit: &str, udi: &str| {
        format!(
            r#"{{"id":"{id}","type":"label.printed","occurred_at":"2026-11-20T16:42:02Z","site":"GAL","source":"station:GAL-PKG-01","actor":"p-1043","data":{{"unit":"{unit}","udi":"{udi}","hri":"x"}}}}"#
        )
    };
    let lines = [
        // 1: good, and its label (2) too.
        started(
            "t-udi-1",
            "PM-26-09001",
            "(01)05399123450027(11)261116(21)PM-26-09001",
        ),
        label(
            "t-udi-2",
            "PM-26-09001",
            "(01)05399123450027(11)261116(21)PM-26-09001",
        ),
        // 3: another product's GTIN (the infusion pump's).
        started(
            "t-udi-3",
            "PM-26-09002",
            "(01)05399123450010(11)261116(21)PM-26-09002",
        ),
        // 4: another unit's serial on the label.
        label(
            "t-udi-4",
            "PM-26-09001",
            "(01)05399123450027(11)261116(21)PM-26-00017",
        ),
        // 5: a GTIN with a wrong check digit.
        started(
            "t-udi-5",
            "PM-26-09003",
            "(01)05399123450028(11)261116(21)PM-26-09003",
        ),
        // 6: no serial at all for a serialized unit.
        started("t-udi-6", "PM-26-09004", "(01)05399123450027(11)261116"),
    ];
    let input = ledger.file("udi.ndjson");
    std::fs::write(&input, lines.join("\n")).unwrap();
    let output = ledger
        .run(&["ingest", input.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(EXIT_BAD_INPUT));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let shown = input.to_str().unwrap();
    let reported: Vec<&str> = stderr.lines().filter(|l| l.starts_with(shown)).collect();
    assert_eq!(reported.len(), 4, "{stderr}");
    assert!(
        reported[0].contains(":3: udi_mismatch at /data/udi")
            && reported[0].contains("05399123450010"),
        "{stderr}"
    );
    assert!(
        reported[1].contains(":4: udi_mismatch at /data/udi")
            && reported[1].contains("PM-26-00017"),
        "{stderr}"
    );
    assert!(
        reported[2].contains(":5: invalid_udi at /data/udi") && reported[2].contains("check digit"),
        "{stderr}"
    );
    assert!(
        reported[3].contains(":6: udi_mismatch") && reported[3].contains("no serial"),
        "{stderr}"
    );
    assert_eq!(ledger.count(), before);
}

/// Issue 3, ISBT 128: an ICCBBA product's unit is named by its DIN and serial (the Product
/// Divisions code, unique only within one donation), and its UDI must name that unit.
#[test]
fn an_isbt128_udi_must_name_the_devices_din_and_serial() {
    let ledger = Ledger::with_plant();
    let before = ledger.count();
    let product = r#"{"id":"t-isbt-1","type":"product.defined","occurred_at":"2026-11-16T07:00:00Z","site":"GAL","source":"cli:dmurphy","actor":"p-1107","data":{"product":"ACL-TND","name":"Tendon allograft with suture for ACL repair","control":"serial","udi_di":"A9997XYZ100T0480","agency":"ICCBBA"}}"#;
    // Ingest does not tie a unit's product to its work order's; any released order will do.
    let started = |id: &str, unit: &str, udi: &str| {
        format!(
            r#"{{"id":"{id}","type":"unit.started","occurred_at":"2026-11-16T08:12:05+08:00","site":"PEN","source":"station:PEN-ASM-01","actor":"p-2001","data":{{"unit":"{unit}","product":"ACL-TND","work_order":"WO-PEN-26-0311","udi":"{udi}"}}}}"#
        )
    };
    // ST-017 Appendix 2's tendon: DIN A9997 17 123456, PDC T0480, serial 02, expiring
    // 2018-01-08, as ICCBBA's specified sequence 035.
    let good = "=+04035=/A9997XYZ100T0480=,000002=A99971712345600=>018008";
    let lines = [
        product.to_owned(),
        started("t-isbt-2", "A999717123456000002", good),
        // 3: the serial alone names no unit: another donation has a division 000003 too.
        started(
            "t-isbt-3",
            "000003",
            "=/A9997XYZ100T0480=,000003=A99971712345600",
        ),
        // 4: another product's PPIC.
        started(
            "t-isbt-4",
            "A999717123456000004",
            "=/A9997XYZ100T0481=,000004=A99971712345600",
        ),
        // 5: a day of the year 2018 does not have.
        started(
            "t-isbt-5",
            "A999717123456000005",
            "=/A9997XYZ100T0480=,000005=A99971712345600=>018366",
        ),
    ];
    let input = ledger.file("isbt.ndjson");
    let rejects = ledger.file("bad.ndjson");
    std::fs::write(&input, lines.join("\n")).unwrap();
    let output = ledger
        .run(&[
            "ingest",
            input.to_str().unwrap(),
            "--rejects",
            rejects.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(ledger.count(), before + 2);
    let rejected: Vec<serde_json::Value> = std::fs::read_to_string(&rejects)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary: Vec<(i64, &str, &str)> = rejected
        .iter()
        .map(|r| {
            (
                r["line"].as_i64().unwrap(),
                r["code"].as_str().unwrap(),
                r["error"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(summary.len(), 3, "{summary:?}");
    assert_eq!((summary[0].0, summary[0].1), (3, "udi_mismatch"));
    assert!(
        summary[0].2.contains("DIN and serial") && summary[0].2.contains("A999717123456000003"),
        "{summary:?}"
    );
    assert_eq!((summary[1].0, summary[1].1), (4, "udi_mismatch"));
    assert!(summary[1].2.contains("A9997XYZ100T0481"), "{summary:?}");
    assert_eq!((summary[2].0, summary[2].1), (5, "invalid_udi"));
    assert!(summary[2].2.contains("day 366 of 2018"), "{summary:?}");

    // The UDI finds its unit for a recall trace.
    let output = ledger.run(&["trace", good, "--backward"]).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("A999717123456000002"));
}

#[test]
fn a_long_input_committed_in_chunks_keeps_them_and_resumes_when_run_again() {
    let ledger = Ledger::for_simulation();
    let mut simulate = traceledger();
    simulate.args(["simulate", "--units", "200", "--seed", "4"]);
    let stream = stdout_of(simulate);
    let lines: Vec<&str> = stream.lines().collect();
    assert!(lines.len() > 2600, "{}", lines.len());
    // Line 2500 is broken: the chunks before it stay, nothing from its chunk on is written.
    let mut broken = lines.clone();
    broken[2499] = "{not json";
    let input = ledger.file("shift.ndjson");
    std::fs::write(&input, broken.join("\n") + "\n").unwrap();
    let output = ledger
        .run(&[
            "ingest",
            "--quiet",
            "--commit-every",
            "1000",
            input.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(EXIT_BAD_INPUT), "{stderr}");
    assert!(
        stderr.contains("shift.ndjson:2500: invalid_json"),
        "{stderr}"
    );
    assert!(
        stderr.contains("lines 1 to 2000 were committed in chunks"),
        "{stderr}"
    );
    assert_eq!(ledger.count(), GENESIS_RECORDS + 2000);

    // Mended and run again: the committed lines are duplicates, the rest is recorded.
    std::fs::write(&input, stream.clone()).unwrap();
    let out = stdout_of(ledger.run(&[
        "ingest",
        "--quiet",
        "--commit-every",
        "1000",
        input.to_str().unwrap(),
    ]));
    assert!(
        out.contains(&format!(
            "recorded: {} recorded, 2000 duplicates, 0 rejected",
            lines.len() - 2000
        )),
        "{out}"
    );
    assert_eq!(ledger.count(), GENESIS_RECORDS + lines.len() as i64);
    let (code, report) = ledger.verify_json();
    assert_eq!(code, 0, "{report}");
}

#[test]
fn two_chunked_ingests_of_the_same_file_at_once_both_succeed() {
    let ledger = Ledger::for_simulation();
    let big = simulated(ledger.dir.path(), 60, 12);
    let lines = non_blank_lines(&big) as u64;
    let spawn = || {
        let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("traceledger"));
        command
            .arg("--ledger")
            .arg(&ledger.path)
            .args(["ingest", "--quiet", "--commit-every", "7"])
            .arg(&big)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command.spawn().unwrap()
    };
    let (first, second) = (spawn(), spawn());
    let mut recorded = 0u64;
    let mut duplicates = 0u64;
    for child in [first, second] {
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        // "recorded: R recorded, D duplicates, ..."
        let numbers: Vec<u64> = stdout
            .split([' ', ','])
            .filter_map(|word| word.parse().ok())
            .collect();
        recorded += numbers[0];
        duplicates += numbers[1];
    }
    // Each line once in the ledger; the other run saw it as a duplicate.
    assert_eq!(recorded, lines);
    assert_eq!(duplicates, lines);
    assert_eq!(ledger.count(), GENESIS_RECORDS + lines as i64);
    let (code, report) = ledger.verify_json();
    assert_eq!(code, 0, "{report}");
}

#[test]
fn a_chunked_ingest_that_fails_says_which_lines_were_committed() {
    let ledger = Ledger::for_simulation();
    let big = simulated(ledger.dir.path(), 5, 13);
    let text = std::fs::read_to_string(&big).unwrap();
    let line_25: serde_json::Value = serde_json::from_str(text.lines().nth(24).unwrap()).unwrap();
    // The storage fails at line 25 (as a full disk would): a trigger planted for the test.
    ledger
        .sqlite()
        .execute_batch(&format!(
            "CREATE TRIGGER fail_here BEFORE INSERT ON records WHEN NEW.id = '{}'
             BEGIN SELECT RAISE(FAIL, 'database or disk is full (simulated)'); END;",
            line_25["id"].as_str().unwrap()
        ))
        .unwrap();
    let output = ledger
        .run(&[
            "ingest",
            "--quiet",
            "--commit-every",
            "10",
            big.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(EXIT_ENVIRONMENT));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("database or disk is full"), "{stderr}");
    assert!(
        stderr.contains("lines 1 to 20 were committed in chunks before the failure (seq 5..24)"),
        "{stderr}"
    );
    assert_eq!(ledger.count(), GENESIS_RECORDS + 20);
}

/// Another writer that takes the write lock whenever it is free, as fast as it can, and
/// appends a well-chained record of its own: it gets in between the chunks of a chunked
/// ingest (two chunked ingests rarely do on a fast disk, but do where a commit's WAL
/// checkpoint is slow). Before the fix the ingest then appended at its stale head and failed
/// with "UNIQUE constraint failed: records.seq".
#[test]
fn a_chunked_ingest_goes_on_from_the_head_another_writer_moved() {
    use traceledger::chain::{RecordHash, record_hash};
    let ledger = Ledger::for_simulation();
    let input = simulated(ledger.dir.path(), 10, 14);
    let lines = non_blank_lines(&input) as i64;
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("traceledger"))
        .arg("--ledger")
        .arg(&ledger.path)
        .args(["ingest", "--quiet", "--commit-every", "3"])
        .arg(&input)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let other = ledger.sqlite();
    other.busy_timeout(std::time::Duration::ZERO).unwrap();
    let mut appended = 0i64;
    let genesis: i64 = other
        .query_row("SELECT COUNT(*) FROM records", [], |r| r.get(0))
        .unwrap();
    // Wait for the ingest's first chunk: from then on, the lock is free only between chunks.
    while child.try_wait().unwrap().is_none() {
        let count: i64 = other
            .query_row("SELECT COUNT(*) FROM records", [], |r| r.get(0))
            .unwrap_or(genesis);
        if count > genesis {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    while child.try_wait().unwrap().is_none() && appended < 30 {
        if other.execute_batch("BEGIN IMMEDIATE").is_err() {
            std::hint::spin_loop();
            continue;
        }
        let (seq, prev): (i64, Vec<u8>) = other
            .query_row(
                "SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let seq = seq + 1;
        let recorded_at = "2099-01-01T00:00:00.000000Z";
        let event = format!(
            r#"{{"data":{{}},"id":"other-writer-{seq}","occurred_at":"2099-01-01T00:00:00Z","site":"X","source":"system:test","type":"other.written"}}"#
        );
        let prev = RecordHash::from_slice(&prev).unwrap();
        let hash = record_hash(seq as u64, recorded_at, &prev, &event);
        other
            .execute(
                "INSERT INTO records (seq, id, type, occurred_at, site, actor, recorded_at, prev, hash, event)
                 VALUES (?1, ?2, 'other.written', '2099-01-01T00:00:00Z', 'X', NULL, ?3, ?4, ?5, ?6)",
                rusqlite::params![seq, format!("other-writer-{seq}"), recorded_at, &prev.0[..], &hash.0[..], event],
            )
            .unwrap();
        other
            .execute_batch(&format!(
                "UPDATE meta SET value = '{seq}' WHERE key = 'head_seq';
                 UPDATE meta SET value = '{}' WHERE key = 'head_hash'; COMMIT;",
                hash.to_hex()
            ))
            .unwrap();
        appended += 1;
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(appended > 1, "the other writer never got in");
    assert_eq!(ledger.count(), GENESIS_RECORDS + lines + appended);
    // One chain: every record links to the one before.
    let (code, report) = ledger.verify_json();
    let chain_ok = report["finding"].is_null()
        || ![
            "seq_gap",
            "seq_repeat",
            "broken_link",
            "hash_mismatch",
            "head_mismatch",
        ]
        .contains(&report["finding"]["code"].as_str().unwrap_or_default());
    assert!(chain_ok, "{code} {report}");
}

#[test]
fn numbers_that_would_change_are_refused_naming_their_field() {
    let ledger = Ledger::for_simulation();
    let stream = simulated(ledger.dir.path(), 2, 15);
    let text = std::fs::read_to_string(&stream).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // The first line with a decimal number in it, and the prefix before it.
    let at = lines.iter().position(|l| l.contains("\"lsl\":")).unwrap();
    let original: serde_json::Value = serde_json::from_str(lines[at]).unwrap();
    let pointer = {
        // Where "lsl" is, as a JSON pointer, found in the parsed event.
        fn find(value: &serde_json::Value, path: String) -> Option<String> {
            match value {
                serde_json::Value::Object(map) => map.iter().find_map(|(k, v)| {
                    if k == "lsl" {
                        Some(format!("{path}/{k}"))
                    } else {
                        find(v, format!("{path}/{k}"))
                    }
                }),
                serde_json::Value::Array(items) => items
                    .iter()
                    .enumerate()
                    .find_map(|(i, v)| find(v, format!("{path}/{i}"))),
                _ => None,
            }
        }
        find(&original, String::new()).unwrap()
    };
    for number in ["1e-400", "123456789012345678901234567890"] {
        let changed = regex_replace_first(lines[at], "\"lsl\":", number);
        let input = ledger.file("numbers.ndjson");
        let mut body = lines[..at].join("\n");
        body.push('\n');
        body.push_str(&changed);
        body.push('\n');
        std::fs::write(&input, body).unwrap();
        let output = ledger
            .run(&["ingest", input.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(EXIT_BAD_INPUT), "{stderr}");
        assert!(
            stderr.contains(&format!(":{}: schema_violation at {pointer}", at + 1))
                && stderr.contains(number),
            "{stderr}"
        );
    }
}

/// `line` with the number after the first `key` replaced by `number`.
fn regex_replace_first(line: &str, key: &str, number: &str) -> String {
    let start = line.find(key).unwrap() + key.len();
    let end = start
        + line[start..]
            .find(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c)))
            .unwrap();
    format!("{}{number}{}", &line[..start], &line[end..])
}

#[test]
fn rolled_back_lines_are_called_valid_not_recorded() {
    let ledger = Ledger::for_simulation();
    let stream = simulated(ledger.dir.path(), 2, 16);
    let text = std::fs::read_to_string(&stream).unwrap();
    let good: Vec<&str> = text.lines().take(7).collect();
    let input = ledger.file("seven-and-bad.ndjson");
    std::fs::write(&input, format!("{}\nnot json\n", good.join("\n"))).unwrap();
    let output = ledger
        .run(&["ingest", input.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(EXIT_BAD_INPUT));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.starts_with(
            "NOTHING recorded: 7 valid, not recorded, 0 duplicates, 1 rejected of 8 lines"
        ),
        "{stdout}"
    );
}
