//! Shared helpers: a temp ledger, the binary, the fixtures.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

pub const EXIT_INTEGRITY: i32 = 1;
pub const EXIT_BAD_INPUT: i32 = 2;
pub const EXIT_ENVIRONMENT: i32 = 3;

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// The binary, with the ledger environment variable cleared so tests never touch a real one.
pub fn traceledger() -> Command {
    let mut command = Command::cargo_bin("traceledger").unwrap();
    command.env_remove("TRACELEDGER_LEDGER");
    command
}

/// A temp folder with an empty, initialised ledger in it.
pub struct Ledger {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl Ledger {
    pub fn new() -> Ledger {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.db");
        traceledger()
            .arg("--ledger")
            .arg(&path)
            .arg("init")
            .assert()
            .success();
        Ledger { dir, path }
    }

    /// A ledger holding fixtures/plant-small.ndjson.
    pub fn with_plant() -> Ledger {
        let ledger = Ledger::new();
        ledger
            .run(&["ingest", fixture("plant-small.ndjson").to_str().unwrap()])
            .assert()
            .success();
        ledger
    }

    pub fn run(&self, args: &[&str]) -> Command {
        let mut command = traceledger();
        command.arg("--ledger").arg(&self.path).args(args);
        command
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Opens the SQLite file directly, as an attacker (or a test) would.
    pub fn sqlite(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.path).unwrap()
    }

    pub fn count(&self) -> i64 {
        self.sqlite()
            .query_row("SELECT COUNT(*) FROM records", [], |row| row.get(0))
            .unwrap()
    }

    /// Runs `verify --json` and returns (exit code, parsed output).
    pub fn verify_json(&self) -> (i32, serde_json::Value) {
        let output = self.run(&["verify", "--json"]).output().unwrap();
        let value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "verify --json printed no JSON ({e}): {}",
                String::from_utf8_lossy(&output.stdout)
            )
        });
        (output.status.code().unwrap_or(-1), value)
    }
}

pub fn non_blank_lines(path: &Path) -> usize {
    let bytes = std::fs::read(path).unwrap();
    String::from_utf8_lossy(&bytes)
        .lines()
        .filter(|line| !line.trim().trim_start_matches('\u{feff}').is_empty())
        .count()
}

pub fn stdout_of(mut command: Command) -> String {
    String::from_utf8(command.output().unwrap().stdout).unwrap()
}
