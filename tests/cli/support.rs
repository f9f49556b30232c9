//! Shared helpers: a temp ledger, the binary, the fixtures.

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use traceledger::signing::keys;

/// Writes fixture key `key_id` (seed sha256("traceledger-fixture:" + id)) into `dir` as
/// `ID.pem` and `ID.pem.pub`, if not there yet; returns the private key's path.
pub fn fixture_key(dir: &Path, key_id: &str) -> PathBuf {
    let path = dir.join(format!("{key_id}.pem"));
    if !path.exists() {
        let key = keys::key_from_label(&format!("traceledger-fixture:{key_id}"));
        keys::write_key_pair(&key, &path).unwrap();
    }
    path
}

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
    /// The fixtures' genesis: site GAL and admin p-0001 with key k-0001 (fixtures/README.md).
    pub fn new() -> Ledger {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.db");
        let admin_key = fixture_key(dir.path(), "k-0001");
        traceledger()
            .arg("--ledger")
            .arg(&path)
            .args([
                "init",
                "--site",
                "GAL",
                "--site-name",
                "Galway Operations",
                "--timezone",
                "Europe/Dublin",
                "--admin",
                "p-0001",
                "--admin-name",
                "Aoife Byrne",
                "--admin-key-id",
                "k-0001",
                "--at",
                "2026-11-02T08:00:00Z",
                "--admin-key",
            ])
            .arg(keys::public_path(&admin_key))
            .assert()
            .success();
        Ledger { dir, path }
    }

    /// A ledger with `simulate`'s genesis (`init --simulation`), for simulated streams.
    pub fn for_simulation() -> Ledger {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.db");
        traceledger()
            .arg("--ledger")
            .arg(&path)
            .args(["init", "--simulation"])
            .assert()
            .success();
        Ledger { dir, path }
    }

    /// The ledger's public key file, as `init` made it.
    pub fn ledger_public_key(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".key.pub");
        PathBuf::from(name)
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

    /// The ledger file's schema version (`PRAGMA user_version`).
    pub fn schema_version(&self) -> i64 {
        self.sqlite()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap()
    }

    pub fn count(&self) -> i64 {
        self.sqlite()
            .query_row("SELECT COUNT(*) FROM records", [], |row| row.get(0))
            .unwrap()
    }

    /// Runs `verify --json` and returns (exit code, parsed output).
    pub fn verify_json(&self) -> (i32, serde_json::Value) {
        self.verify_json_with(&[])
    }

    /// `verify --json` with more arguments: the exit code and the report.
    pub fn verify_json_with(&self, extra: &[&str]) -> (i32, serde_json::Value) {
        let mut args = vec!["verify", "--json"];
        args.extend_from_slice(extra);
        let output = self.run(&args).output().unwrap();
        let value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "verify --json printed no JSON ({e}): {}",
                String::from_utf8_lossy(&output.stdout)
            )
        });
        (output.status.code().unwrap_or(-1), value)
    }
}

/// Records `init` writes before anything is ingested: the genesis.
pub const GENESIS_RECORDS: i64 = 4;

/// `line` (one event) signed by fixture key `key_id` of `signer`, at its `occurred_at`.
pub fn signed(line: &str, key_id: &str, signer: &str, meaning: &str) -> String {
    let mut event: serde_json::Value = serde_json::from_str(line).unwrap();
    let at = event["occurred_at"].as_str().unwrap().to_owned();
    let key = keys::key_from_label(&format!("traceledger-fixture:{key_id}"));
    let meaning = traceledger::signing::Meaning::parse(meaning).unwrap();
    traceledger::signing::sign_event(&mut event, &key, key_id, signer, meaning, &at).unwrap();
    event.to_string()
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

/// Recomputes every hash and link from record `from` on, and the claimed head, as an
/// insider who edited the file would, so that the chain is internally valid again.
pub fn rechain(connection: &rusqlite::Connection, from: i64) {
    use traceledger::chain::{RecordHash, record_hash};
    connection
        .execute_batch("DROP TRIGGER IF EXISTS records_refuse_update")
        .unwrap();
    let mut prev: Vec<u8> = if from <= 1 {
        vec![0u8; 32]
    } else {
        connection
            .query_row("SELECT hash FROM records WHERE seq = ?1", [from - 1], |r| {
                r.get(0)
            })
            .unwrap()
    };
    let rows: Vec<(i64, String, String)> = connection
        .prepare("SELECT seq, recorded_at, event FROM records WHERE seq >= ?1 ORDER BY seq")
        .unwrap()
        .query_map([from], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut head = from - 1;
    for (seq, recorded_at, event) in rows {
        let hash = record_hash(
            seq as u64,
            &recorded_at,
            &RecordHash::from_slice(&prev).unwrap(),
            &event,
        );
        connection
            .execute(
                "UPDATE records SET prev = ?1, hash = ?2 WHERE seq = ?3",
                rusqlite::params![&prev, &hash.0[..], seq],
            )
            .unwrap();
        prev = hash.0.to_vec();
        head = seq;
    }
    connection
        .execute_batch(&format!(
            "UPDATE meta SET value = '{head}' WHERE key = 'head_seq';
             UPDATE meta SET value = '{}' WHERE key = 'head_hash';",
            RecordHash::from_slice(&prev).unwrap().to_hex()
        ))
        .unwrap();
}

/// A simulated plant of `units` devices in a new ledger.
pub fn simulated_plant(units: &str, seed: &str) -> Ledger {
    let ledger = Ledger::for_simulation();
    let events = ledger.file("plant.ndjson");
    let mut simulate = traceledger();
    simulate.args(["simulate", "--units", units, "--seed", seed]);
    let stream = stdout_of(simulate);
    std::fs::write(&events, stream).unwrap();
    ledger
        .run(&["ingest", "--quiet", events.to_str().unwrap()])
        .assert()
        .success();
    ledger
}

/// A ledger holding fixtures/plant-multisite.ndjson (the independent three-site plant), and
/// the facts derived from it by hand (fixtures/plant-multisite.expected.json).
pub fn multisite_plant() -> (Ledger, serde_json::Value) {
    let ledger = Ledger::new();
    ledger
        .run(&[
            "ingest",
            fixture("plant-multisite.ndjson").to_str().unwrap(),
        ])
        .assert()
        .success();
    let expected = serde_json::from_str(
        &std::fs::read_to_string(fixture("plant-multisite.expected.json")).unwrap(),
    )
    .unwrap();
    (ledger, expected)
}
