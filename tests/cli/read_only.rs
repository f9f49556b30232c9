//! Read commands open the ledger read-only and write nothing (issue 15 #2): no `-wal` or
//! `-shm` file left beside it, the file byte for byte as it was, no migration; a read-only
//! archive (a `chmod 444` file in a `chmod 555` folder) can be read by an unprivileged user.

use crate::support::*;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use traceledger::store::Store;

fn siblings(path: &Path) -> Vec<PathBuf> {
    ["-wal", "-shm", "-journal"]
        .iter()
        .map(|suffix| {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            PathBuf::from(name)
        })
        .filter(|p| p.exists())
        .collect()
}

/// The read commands, with arguments that find something in `Ledger::with_plant`.
const READS: &[&[&str]] = &[
    &["verify"],
    &["verify", "--derived"],
    &["log", "--limit", "5"],
    &["dhr", "IP3K-260002"],
    &["trace", "IP3K-260002", "--backward"],
    &["trace", "L-PEN-2611-0001", "--forward"],
    &["audit", "--entity", "L-PEN-2611-0001"],
    &["kpi"],
    &["prove", "5"],
];

#[test]
fn read_commands_write_nothing_and_leave_no_wal_files() {
    let ledger = Ledger::with_plant();
    ledger.run(&["checkpoint"]).assert().success();
    assert!(
        siblings(&ledger.path).is_empty(),
        "{:?}",
        siblings(&ledger.path)
    );
    let before = std::fs::read(&ledger.path).unwrap();
    for args in READS {
        ledger.run(args).assert().success();
        assert!(
            siblings(&ledger.path).is_empty(),
            "{args:?} left {:?}",
            siblings(&ledger.path)
        );
        assert!(
            std::fs::read(&ledger.path).unwrap() == before,
            "{args:?} changed the file"
        );
    }
    // export reads too when a kept checkpoint covers the unit (it writes only the bundle).
    let bundle = ledger.file("unit.bundle.json");
    ledger
        .run(&[
            "export",
            "IP3K-260002",
            "--bundle",
            bundle.to_str().unwrap(),
        ])
        .assert()
        .success();
    assert!(siblings(&ledger.path).is_empty());
    assert!(
        std::fs::read(&ledger.path).unwrap() == before,
        "export changed the file"
    );
    // In the library: the connection a read command gets is read-only.
    let store = Store::open_read_only(&ledger.path).unwrap();
    assert!(store.access().is_read_only());
}

/// The user id of this process (from /proc, so no libc is needed).
fn uid() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_read_only_archive_can_be_read_by_an_unprivileged_user() {
    let ledger = Ledger::with_plant();
    // The archive: a copy in a folder nobody may write, the file nobody may write.
    let outer = tempfile::tempdir().unwrap();
    std::fs::set_permissions(outer.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let folder = outer.path().join("archive");
    std::fs::create_dir(&folder).unwrap();
    let archived = folder.join("ledger.db");
    std::fs::copy(&ledger.path, &archived).unwrap();
    std::fs::set_permissions(&archived, std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o555)).unwrap();
    let binary = assert_cmd::cargo::cargo_bin("traceledger");
    // As root, permissions do not bind: read as user `nobody` through setpriv. As another
    // user they bind already.
    let as_reader = |args: &[&str]| {
        let mut command = if uid() == 0 {
            let mut command = std::process::Command::new("setpriv");
            command
                .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
                .arg(&binary);
            command
        } else {
            std::process::Command::new(&binary)
        };
        command
            .env_remove("TRACELEDGER_LEDGER")
            .arg("--ledger")
            .arg(&archived)
            .args(args);
        command.output().unwrap()
    };
    // The reader really cannot write there (else this test proves nothing).
    let probe = as_reader(&["ingest", "/dev/null"]);
    assert_eq!(
        probe.status.code(),
        Some(EXIT_ENVIRONMENT),
        "the reader could write it"
    );
    let refusal = String::from_utf8_lossy(&probe.stderr);
    assert!(refusal.contains("is read-only for this user"), "{refusal}");
    for args in [
        &["verify"][..],
        &["log", "--limit", "3"],
        &["dhr", "IP3K-260002"],
    ] {
        let output = as_reader(args);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!output.stdout.is_empty(), "{args:?}");
        assert!(
            siblings(&archived).is_empty(),
            "{args:?}: {:?}",
            siblings(&archived)
        );
    }
    let verified = String::from_utf8_lossy(&as_reader(&["verify"]).stdout).into_owned();
    assert!(verified.starts_with("ok: "), "{verified}");
    // Opened as this process may (root: any way), it is read-only all the same, and root's
    // reads leave nothing behind either.
    let store = Store::open_read_only(&archived).unwrap();
    assert!(store.access().is_read_only());
    drop(store);
    traceledger()
        .arg("--ledger")
        .arg(&archived)
        .arg("verify")
        .assert()
        .success();
    assert!(siblings(&archived).is_empty(), "{:?}", siblings(&archived));
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn an_old_schema_is_refused_for_reads_and_upgraded_by_migrate() {
    let ledger = Ledger::with_plant();
    let before = stdout_of(ledger.run(&["trace", "L-PEN-2611-0001", "--forward", "--json"]));
    ledger
        .sqlite()
        .execute_batch("DROP TABLE trace_links; PRAGMA user_version = 3;")
        .unwrap();
    for args in [
        &["verify"][..],
        &["trace", "L-PEN-2611-0001", "--forward"],
        &["log"],
    ] {
        let output = ledger.run(args).output().unwrap();
        assert_eq!(output.status.code(), Some(EXIT_ENVIRONMENT), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("schema version 3") && stderr.contains("traceledger migrate"),
            "{stderr}"
        );
        assert_eq!(ledger.schema_version(), 3, "{args:?} migrated the ledger");
    }
    // Writers do not migrate silently either.
    let output = ledger.run(&["ingest", "/dev/null"]).output().unwrap();
    assert_eq!(output.status.code(), Some(EXIT_ENVIRONMENT));
    assert_eq!(ledger.schema_version(), 3);
    let output = ledger.run(&["migrate"]).output().unwrap();
    assert!(output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("from schema version 3 to 5"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert_eq!(ledger.schema_version(), 5);
    assert_eq!(
        stdout_of(ledger.run(&["trace", "L-PEN-2611-0001", "--forward", "--json"])),
        before
    );
    let again = stdout_of(ledger.run(&["migrate"]));
    assert!(again.contains("already"), "{again}");
}
