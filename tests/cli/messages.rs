//! Messages and help (issue 16 §4): what a new user trips over says what is wrong and what to
//! do; every subcommand's help ends with an example; `--ledger` only where a ledger is opened.

use crate::support::*;
use std::path::Path;

fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn trace_without_a_direction_says_to_choose_one() {
    let ledger = Ledger::with_plant();
    let output = ledger.run(&["trace", "PM-26-00017"]).output().unwrap();
    assert_eq!(output.status.code(), Some(EXIT_BAD_INPUT));
    assert!(
        stderr_of(&output).contains("choose --backward (what went into it) or --forward"),
        "{}",
        stderr_of(&output)
    );
}

#[test]
fn log_says_when_nothing_matched_and_shows_when_and_what_about() {
    let ledger = Ledger::with_plant();
    let output = ledger
        .run(&["log", "--entity", "NO-SUCH-UNIT"])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(stdout_of(&output), "", "no header for an empty answer");
    assert!(
        stderr_of(&output).contains("no records match: none names NO-SUCH-UNIT"),
        "{}",
        stderr_of(&output)
    );

    // The table shows when each thing happened on the floor and what it is about (a step's
    // unit), beside the ledger's clock: every row agrees with the record's JSON.
    let json = stdout_of(
        &ledger
            .run(&["log", "--json", "--type", "step.completed", "--limit", "5"])
            .output()
            .unwrap(),
    );
    let table = stdout_of(
        &ledger
            .run(&["log", "--type", "step.completed", "--limit", "5"])
            .output()
            .unwrap(),
    );
    let mut rows = table.lines();
    let header = rows.next().unwrap();
    assert!(
        header.contains("occurred_at") && header.contains("about"),
        "{header}"
    );
    let records: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 5);
    for (row, record) in rows.zip(&records) {
        let event = &record["event"];
        let occurred = event["occurred_at"].as_str().unwrap();
        let unit = event["data"]["unit"]
            .as_str()
            .or(event["data"]["work_order"].as_str())
            .unwrap();
        assert!(row.contains(occurred), "{row} lacks {occurred}");
        assert!(row.contains(unit), "{row} lacks {unit}");
    }
}

#[test]
fn prove_of_a_record_that_does_not_exist_says_so() {
    let ledger = Ledger::with_plant();
    let output = ledger.run(&["prove", "999999"]).output().unwrap();
    assert_eq!(output.status.code(), Some(EXIT_BAD_INPUT));
    let stderr = stderr_of(&output);
    assert!(stderr.contains("there is no record 999999"), "{stderr}");
    assert!(!stderr.contains("no checkpoint covers"), "{stderr}");
}

#[test]
fn kpi_refuses_a_period_that_is_not_a_month_or_a_year() {
    let ledger = Ledger::with_plant();
    for period in ["2026-13", "2026-00", "2026-1", "26", "2026-01-05"] {
        let output = ledger.run(&["kpi", "--period", period]).output().unwrap();
        assert_eq!(output.status.code(), Some(EXIT_BAD_INPUT), "{period}");
        assert!(
            stderr_of(&output).contains("YYYY-MM"),
            "{period}: {}",
            stderr_of(&output)
        );
    }
    for period in ["2026-11", "2026"] {
        ledger.run(&["kpi", "--period", period]).assert().success();
    }
}

#[test]
fn audit_with_a_bad_time_prints_only_the_error() {
    let ledger = Ledger::with_plant();
    for extra in [&[][..], &["--csv"][..]] {
        let mut args = vec!["audit", "--since", "yesterday"];
        args.extend_from_slice(extra);
        let output = ledger.run(&args).output().unwrap();
        assert_eq!(output.status.code(), Some(EXIT_BAD_INPUT));
        assert_eq!(stdout_of(&output), "", "no header before the error");
        assert!(
            stderr_of(&output).contains("yesterday"),
            "{}",
            stderr_of(&output)
        );
    }
    // With nothing to show, the CSV still has its header.
    let output = ledger
        .run(&["audit", "--actor", "nobody", "--csv"])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(stdout_of(&output).lines().count(), 1);
}

#[test]
fn a_checkpoint_of_another_ledger_is_named_as_such() {
    let ours = Ledger::with_plant();
    let theirs = Ledger::new();
    let theirs_checkpoint = theirs.file("theirs.txt");
    theirs
        .run(&["checkpoint", "--out", theirs_checkpoint.to_str().unwrap()])
        .assert()
        .success();
    let path = theirs_checkpoint.to_str().unwrap();
    let their_origin = std::fs::read_to_string(&theirs_checkpoint)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned();
    for args in [
        vec!["verify", "--checkpoint", path],
        vec!["prove", "1", "--checkpoint", path],
        vec!["prove", "--consistency", path, path],
    ] {
        let output = ours.run(&args).output().unwrap();
        assert_eq!(output.status.code(), Some(EXIT_BAD_INPUT), "{args:?}");
        let stderr = stderr_of(&output);
        assert!(
            stderr.contains("checkpoint of another ledger"),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains(&their_origin), "{args:?}: {stderr}");
        assert!(!stderr.contains("no signature"), "{args:?}: {stderr}");
    }
}

#[test]
fn a_folder_given_as_the_ledger_is_said_to_be_one() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["verify"][..],
        &["log"][..],
        &["init", "--simulation"][..],
        &["checkpoint"][..],
    ] {
        let output = traceledger()
            .arg("--ledger")
            .arg(dir.path())
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(EXIT_BAD_INPUT), "{args:?}");
        let stderr = stderr_of(&output);
        assert!(
            stderr.contains("is a folder, not a ledger file"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("Error code"), "{args:?}: {stderr}");
    }
}

#[test]
fn missing_unreadable_and_empty_inputs_exit_2_and_say_which() {
    let ledger = Ledger::for_simulation();
    let missing = ledger.file("missing.ndjson");
    let folder = ledger.dir.path().join("a-folder");
    std::fs::create_dir(&folder).unwrap();
    let mut cases = vec![missing.clone(), folder.clone()];
    // A file without read permission (only where permissions bind: not for root).
    let locked = ledger.file("locked.ndjson");
    std::fs::write(&locked, "{}\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    }
    if std::fs::read(&locked).is_err() {
        cases.push(locked.clone());
    }
    for path in &cases {
        let output = ledger
            .run(&["ingest", path.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(EXIT_BAD_INPUT), "{path:?}");
        assert!(
            stderr_of(&output).contains(path.to_str().unwrap()),
            "{}",
            stderr_of(&output)
        );
        let key = fixture_key(ledger.dir.path(), "k-0001");
        let output = traceledger()
            .arg("sign")
            .arg("--key")
            .arg(&key)
            .args(["--signer", "p-0001", "--meaning", "released"])
            .arg(path)
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(EXIT_BAD_INPUT),
            "{path:?}: {}",
            stderr_of(&output)
        );
        assert!(stderr_of(&output).contains(path.to_str().unwrap()));
    }
    let empty = ledger.file("empty.ndjson");
    std::fs::write(&empty, "").unwrap();
    let output = ledger
        .run(&["ingest", empty.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(EXIT_BAD_INPUT));
    assert!(
        stderr_of(&output).contains("empty.ndjson is empty"),
        "{}",
        stderr_of(&output)
    );
    let output = ledger
        .run(&["ingest", "-"])
        .write_stdin("")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(EXIT_BAD_INPUT));
    assert!(
        stderr_of(&output).contains("<stdin> is empty"),
        "{}",
        stderr_of(&output)
    );
}

/// The subcommands and whether each opens a ledger.
const SUBCOMMANDS: &[(&[&str], bool)] = &[
    (&["init"], true),
    (&["keys", "new"], false),
    (&["keys", "show"], false),
    (&["sign"], false),
    (&["checkpoint"], true),
    (&["prove"], true),
    (&["approve"], true),
    (&["export"], true),
    (&["verify-bundle"], false),
    (&["ingest"], true),
    (&["verify"], true),
    (&["log"], true),
    (&["rebuild"], true),
    (&["simulate"], false),
    (&["audit"], true),
    (&["kpi"], true),
    (&["dhr"], true),
    (&["trace"], true),
    (&["udi", "parse"], false),
    (&["demo"], false),
];

#[test]
fn every_subcommand_help_ends_with_an_example_and_offers_ledger_only_if_it_opens_one() {
    let top = stdout_of(&traceledger().arg("--help").output().unwrap());
    for (words, opens_ledger) in SUBCOMMANDS {
        let output = traceledger().args(*words).arg("--help").output().unwrap();
        assert!(output.status.success(), "{words:?}");
        let help = stdout_of(&output);
        let last = help.lines().rev().find(|l| !l.trim().is_empty()).unwrap();
        assert!(
            last.trim_start().starts_with("traceledger ") || last.starts_with("      "),
            "{words:?}: help ends with {last:?}"
        );
        assert!(help.contains("Example"), "{words:?}");
        assert_eq!(
            help.contains("--ledger <PATH>"),
            *opens_ledger,
            "{words:?}:\n{help}"
        );
        // Every top-level command is listed in the overall help.
        assert!(top.contains(&format!("  {} ", words[0])), "{words:?}");
    }
    let keys_new = stdout_of(
        &traceledger()
            .args(["keys", "new", "--help"])
            .output()
            .unwrap(),
    );
    assert!(
        keys_new.contains("--out <FILE>") && keys_new.contains("private key"),
        "{keys_new}"
    );
    let dhr = stdout_of(&traceledger().args(["dhr", "--help"]).output().unwrap());
    assert!(dhr.contains("serial") && dhr.contains("lot"), "{dhr}");
    let udi = stdout_of(
        &traceledger()
            .args(["udi", "parse", "--help"])
            .output()
            .unwrap(),
    );
    assert!(udi.contains("HIBCC") && udi.contains("ISBT 128"), "{udi}");
    // --ledger on a command that opens none is refused; after a ledger command it works.
    let output = traceledger()
        .args(["udi", "parse", "--ledger", "x.db", "(01)09506000134352"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(EXIT_BAD_INPUT));
    let ledger = Ledger::with_plant();
    traceledger()
        .args(["verify", "--ledger"])
        .arg(&ledger.path)
        .assert()
        .success();
}

#[test]
fn ci_finds_the_binary_where_cargo_puts_it_and_names_no_registry_host() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = std::fs::read_to_string(root.join(".ci/run")).unwrap();
    for host in [
        "crates.io",
        "pypi.org",
        "pypi.python.org",
        "files.pythonhosted.org",
        "static.crates.io",
    ] {
        assert!(!script.contains(host), ".ci/run names {host}");
    }
    assert!(
        !script.contains(" target/debug/"),
        ".ci/run assumes ./target"
    );
    // The line that finds the target folder, run with CARGO_TARGET_DIR set elsewhere.
    let start = script.find("target_dir=$(").unwrap();
    let end = start + script[start..].find("])')").unwrap() + "])')".len();
    let finder = &script[start..end];
    let elsewhere = tempfile::tempdir().unwrap();
    let output = std::process::Command::new("bash")
        .args([
            "-c",
            &format!("set -eo pipefail\n{finder}\necho \"$target_dir\""),
        ])
        .current_dir(root)
        .env("CARGO_TARGET_DIR", elsewhere.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert_eq!(
        stdout_of(&output).trim(),
        elsewhere.path().to_str().unwrap()
    );
}
