//! Trust (issue 4): keys, signatures at ingest, checkpoints and proofs, and the tamper
//! matrix: each attack is made on the SQLite file or a bundle as an attacker would, and must
//! be caught with its own finding and exit 1.

use crate::support::*;
use traceledger::merkle::{LeafIndex, NodeHash, verify_consistency, verify_inclusion};

fn record_of(ledger: &Ledger, event_type: &str) -> (i64, serde_json::Value) {
    let (seq, event): (i64, String) = ledger
        .sqlite()
        .query_row(
            "SELECT seq, event FROM records WHERE type = ?1 ORDER BY seq LIMIT 1",
            [event_type],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    (seq, serde_json::from_str(&event).unwrap())
}

/// Ingests one line and returns (exit code, stderr).
fn ingest_line(ledger: &Ledger, line: &str) -> (i32, String) {
    let input = ledger.file("one.ndjson");
    std::fs::write(&input, format!("{line}\n")).unwrap();
    let output = ledger
        .run(&["ingest", "--quiet", input.to_str().unwrap()])
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn release_of(unit: &str, id: &str, at: &str, actor: &str) -> String {
    format!(
        r#"{{"id":"{id}","type":"unit.released","occurred_at":"{at}","site":"GAL","source":"cli:{actor}","actor":"{actor}","data":{{"unit":"{unit}"}}}}"#
    )
}

/// A unit that exists in the plant fixture (started, not yet released at GAL).
const UNIT: &str = "IP3K-260001";

#[test]
fn keys_new_writes_a_private_key_only_its_owner_can_read_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("qa.pem");
    let out = stdout_of({
        let mut c = traceledger();
        c.args(["keys", "new", "--out"]).arg(&key);
        c
    });
    assert!(out.contains("key id      ed25519:"), "{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let pem = std::fs::read_to_string(&key).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let public = std::fs::read_to_string(dir.path().join("qa.pem.pub")).unwrap();
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"));
    let shown = stdout_of({
        let mut c = traceledger();
        c.args(["keys", "show"]).arg(dir.path().join("qa.pem.pub"));
        c
    });
    let id_line = out.lines().find(|l| l.starts_with("key id")).unwrap();
    assert!(shown.contains(id_line), "{shown}");
    let again = traceledger()
        .args(["keys", "new", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(EXIT_BAD_INPUT));
    assert_eq!(std::fs::read_to_string(&key).unwrap(), pem);
}

#[test]
fn init_makes_a_ledger_key_beside_the_ledger_and_a_verified_genesis() {
    let ledger = Ledger::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mut key = ledger.path.as_os_str().to_owned();
        key.push(".key");
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let (code, report) = ledger.verify_json();
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["records"], GENESIS_RECORDS);
    assert_eq!(report["trust"]["checkpoints_checked"], 1);
    // The private key never enters the ledger.
    let file = std::fs::read(&ledger.path).unwrap();
    let pem = std::fs::read_to_string(ledger.path.with_extension("db.key")).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(!file.windows(body.len()).any(|w| w == body.as_bytes()));
}

#[test]
fn sign_adds_a_signature_only_to_the_types_named() {
    let ledger = Ledger::with_plant();
    let key = fixture_key(ledger.dir.path(), "k-1201");
    let input = ledger.file("to-sign.ndjson");
    let release = release_of(UNIT, "t-sign-1", "2026-11-21T10:00:00Z", "p-1201");
    let note = r#"{"id":"t-sign-2","type":"nonconformance.opened","occurred_at":"2026-11-21T10:01:00Z","site":"GAL","source":"cli:p-1201","actor":"p-1201","data":{"ncr":"NCR-T-9","unit":"IP3K-260001","description":"dent"}}"#;
    std::fs::write(&input, format!("{release}\n{note}\n")).unwrap();
    let output = ledger
        .run(&[
            "sign",
            "--key",
            key.to_str().unwrap(),
            "--key-id",
            "k-1201",
            "--signer",
            "p-1201",
            "--meaning",
            "released",
            "--types",
            "unit.released",
            "--at",
            "2026-11-21T10:00:30Z",
            input.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    let signed: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(signed[0]["signatures"][0]["signer"], "p-1201");
    assert_eq!(signed[0]["signatures"][0]["meaning"], "released");
    assert!(signed[1].get("signatures").is_none());
    let both = ledger.file("signed.ndjson");
    std::fs::write(
        &both,
        signed.iter().map(|v| format!("{v}\n")).collect::<String>(),
    )
    .unwrap();
    ledger
        .run(&["ingest", "--quiet", both.to_str().unwrap()])
        .assert()
        .success();
}

#[test]
fn ingest_refuses_missing_forged_moved_revoked_and_unauthorised_signatures() {
    let ledger = Ledger::with_plant();
    let before = ledger.count();
    let release = release_of(UNIT, "t-rel-1", "2026-11-21T10:00:00Z", "p-1201");

    // No signature at all.
    let (code, stderr) = ingest_line(&ledger, &release);
    assert_eq!(code, EXIT_BAD_INPUT);
    assert!(stderr.contains(":1: missing_signature at /signatures: unit.released requires a released signature by qa"), "{stderr}");

    // A forged signature: the bytes of a real one, flipped.
    let good = signed(&release, "k-1201", "p-1201", "released");
    let mut forged: serde_json::Value = serde_json::from_str(&good).unwrap();
    forge_first_signature(&mut forged);
    let (code, stderr) = ingest_line(&ledger, &forged.to_string());
    assert_eq!(code, EXIT_BAD_INPUT);
    assert!(
        stderr.contains("invalid_signature at /signatures/0/signature"),
        "{stderr}"
    );

    // A valid signature moved onto another record (another unit's release).
    let mut moved: serde_json::Value = serde_json::from_str(&release_of(
        "IP3K-260002",
        "t-rel-2",
        "2026-11-21T10:00:00Z",
        "p-1201",
    ))
    .unwrap();
    moved["signatures"] =
        serde_json::from_str::<serde_json::Value>(&good).unwrap()["signatures"].clone();
    let (code, stderr) = ingest_line(&ledger, &moved.to_string());
    assert_eq!(code, EXIT_BAD_INPUT);
    assert!(
        stderr.contains("invalid_signature at /signatures/0/signature"),
        "{stderr}"
    );

    // Signed by k-1201 after its revocation (2026-12-03T08:30:00Z).
    let late = signed(
        &release_of(UNIT, "t-rel-3", "2026-12-04T10:00:00Z", "p-1201"),
        "k-1201",
        "p-1201",
        "released",
    );
    let (code, stderr) = ingest_line(&ledger, &late);
    assert_eq!(code, EXIT_BAD_INPUT);
    assert!(
        stderr.contains("invalid_signature at /signatures/0/key") && stderr.contains("was revoked"),
        "{stderr}"
    );

    // An engineer may not sign a release.
    let engineer = signed(
        &release_of(UNIT, "t-rel-4", "2026-11-21T10:00:00Z", "p-1107"),
        "k-1107",
        "p-1107",
        "released",
    );
    let (code, stderr) = ingest_line(&ledger, &engineer);
    assert_eq!(code, EXIT_BAD_INPUT);
    assert!(
        stderr.contains("invalid_signature at /signatures/0/signer")
            && stderr.contains("held no role allowed"),
        "{stderr}"
    );

    // Someone else's key.
    let borrowed = signed(&release, "k-1201", "p-2010", "released");
    let (code, stderr) = ingest_line(&ledger, &borrowed);
    assert_eq!(code, EXIT_BAD_INPUT);
    assert!(
        stderr.contains("is registered to p-1201, not to the signer p-2010"),
        "{stderr}"
    );
    assert_eq!(ledger.count(), before, "nothing was written");

    // Signed before the revocation, recorded after it: still valid.
    let early = signed(
        &release_of(UNIT, "t-rel-5", "2026-12-02T09:00:00Z", "p-1201"),
        "k-1201",
        "p-1201",
        "released",
    );
    let (code, stderr) = ingest_line(&ledger, &early);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(ledger.count(), before + 1);
    ledger.run(&["verify"]).assert().success();
}

/// Appends a forged record behind the ledger's back, correctly chained, with the claimed
/// head moved: only its signature can give it away.
fn append_forged(ledger: &Ledger, event: &str) -> i64 {
    let connection = ledger.sqlite();
    let seq: i64 = connection
        .query_row("SELECT MAX(seq) + 1 FROM records", [], |r| r.get(0))
        .unwrap();
    let value: serde_json::Value = serde_json::from_str(event).unwrap();
    let canonical = traceledger::event::canonical_json(&value).unwrap();
    connection
        .execute(
            "INSERT INTO records (seq, id, type, occurred_at, site, actor, recorded_at, prev, hash, event)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, '2026-12-20T00:00:00.000000Z', X'00', X'00', ?7)",
            rusqlite::params![
                seq,
                value["id"].as_str().unwrap(),
                value["type"].as_str().unwrap(),
                value["occurred_at"].as_str().unwrap(),
                value["site"].as_str().unwrap(),
                value["actor"].as_str(),
                canonical
            ],
        )
        .unwrap();
    rechain(&connection, seq);
    seq
}

fn assert_trust_finding(
    ledger: &Ledger,
    extra: &[&str],
    code: &str,
    seq: Option<i64>,
    words: &str,
) {
    let mut args = vec!["verify", "--json"];
    args.extend_from_slice(extra);
    let output = ledger.run(&args).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(EXIT_INTEGRITY), "{report}");
    assert_eq!(report["finding"]["code"], code, "{report}");
    if let Some(seq) = seq {
        assert_eq!(report["finding"]["seq"], seq, "{report}");
    }
    assert!(
        report["finding"]["message"]
            .as_str()
            .unwrap()
            .contains(words),
        "{report}"
    );
}

#[test]
fn verify_catches_a_forged_signature_written_into_the_file() {
    let ledger = Ledger::with_plant();
    let (seq, mut event) = record_of(&ledger, "unit.released");
    forge_first_signature(&mut event);
    let connection = ledger.sqlite();
    connection
        .execute_batch("DROP TRIGGER records_refuse_update")
        .unwrap();
    connection
        .execute(
            "UPDATE records SET event = ?1 WHERE seq = ?2",
            rusqlite::params![traceledger::event::canonical_json(&event).unwrap(), seq],
        )
        .unwrap();
    rechain(&connection, seq);
    // Batch verification finds it, and so does strict verification one by one.
    for extra in [&[][..], &["--strict-signatures"][..]] {
        assert_trust_finding(
            &ledger,
            extra,
            "invalid_signature",
            Some(seq),
            "does not verify",
        );
    }
}

#[test]
fn verify_catches_a_valid_signature_moved_onto_another_record() {
    let ledger = Ledger::with_plant();
    let (_, donor) = record_of(&ledger, "unit.released");
    let (seq, mut target): (i64, serde_json::Value) = {
        let (seq, event): (i64, String) = ledger
            .sqlite()
            .query_row(
                "SELECT seq, event FROM records WHERE type = 'unit.released' AND id != ?1 ORDER BY seq LIMIT 1",
                [donor["id"].as_str().unwrap()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        (seq, serde_json::from_str(&event).unwrap())
    };
    target["signatures"] = donor["signatures"].clone();
    let connection = ledger.sqlite();
    connection
        .execute_batch("DROP TRIGGER records_refuse_update")
        .unwrap();
    connection
        .execute(
            "UPDATE records SET event = ?1 WHERE seq = ?2",
            rusqlite::params![traceledger::event::canonical_json(&target).unwrap(), seq],
        )
        .unwrap();
    rechain(&connection, seq);
    assert_trust_finding(
        &ledger,
        &[],
        "invalid_signature",
        Some(seq),
        "does not verify",
    );
}

#[test]
fn verify_catches_a_revoked_key_used_after_revocation_and_a_signer_without_the_role() {
    let ledger = Ledger::with_plant();
    let late = signed(
        &release_of(UNIT, "t-forged-1", "2026-12-15T10:00:00Z", "p-1201"),
        "k-1201",
        "p-1201",
        "released",
    );
    let seq = append_forged(&ledger, &late);
    assert_trust_finding(&ledger, &[], "invalid_signature", Some(seq), "was revoked");

    let ledger = Ledger::with_plant();
    let engineer = signed(
        &release_of(UNIT, "t-forged-2", "2026-12-15T10:00:00Z", "p-1107"),
        "k-1107",
        "p-1107",
        "released",
    );
    let seq = append_forged(&ledger, &engineer);
    assert_trust_finding(
        &ledger,
        &[],
        "invalid_signature",
        Some(seq),
        "held no role allowed",
    );

    let ledger = Ledger::with_plant();
    let unsigned = release_of(UNIT, "t-forged-3", "2026-12-15T10:00:00Z", "p-1201");
    let seq = append_forged(&ledger, &unsigned);
    assert_trust_finding(
        &ledger,
        &[],
        "missing_signature",
        Some(seq),
        "requires a released signature",
    );
}

fn checkpoint_to(ledger: &Ledger, name: &str) -> std::path::PathBuf {
    let path = ledger.file(name);
    ledger
        .run(&["checkpoint", "--out", path.to_str().unwrap()])
        .assert()
        .success();
    path
}

#[test]
fn a_fork_rewritten_from_the_middle_fails_against_a_checkpoint_held_from_before() {
    let ledger = Ledger::with_plant();
    let held = checkpoint_to(&ledger, "held.checkpoint");
    let size = ledger.count();
    // The insider rewrites from seq 100 and removes the ledger's own checkpoints but the
    // genesis one, so the ledger agrees with itself again.
    let connection = ledger.sqlite();
    connection
        .execute_batch(
            "DROP TRIGGER records_refuse_update; DROP TRIGGER checkpoints_refuse_delete;
             DELETE FROM checkpoints WHERE tree_size > 4; DELETE FROM tree_nodes;",
        )
        .unwrap();
    // An edit within the format's rules (canonical text, a clock that never goes back):
    // the records from 100 on all get the head's time.
    connection
        .execute(
            "UPDATE records SET recorded_at = (SELECT MAX(recorded_at) FROM records)
             WHERE seq >= 100 AND recorded_at != (SELECT MAX(recorded_at) FROM records)",
            [],
        )
        .unwrap();
    rechain(&connection, 100);
    drop(connection);
    ledger.run(&["verify"]).assert().success();
    let pubkey = ledger.ledger_public_key();
    assert_trust_finding(
        &ledger,
        &[
            "--checkpoint",
            held.to_str().unwrap(),
            "--ledger-key",
            pubkey.to_str().unwrap(),
        ],
        "ledger_rewritten",
        Some(size),
        "rewritten at or before",
    );
}

#[test]
fn a_truncated_tail_fails_against_a_held_checkpoint_and_a_kept_one() {
    let ledger = Ledger::with_plant();
    let held = checkpoint_to(&ledger, "held.checkpoint");
    let size = ledger.count();
    let connection = ledger.sqlite();
    connection
        .execute_batch("DROP TRIGGER records_refuse_delete;")
        .unwrap();
    connection
        .execute("DELETE FROM records WHERE seq > ?1", [size - 10])
        .unwrap();
    rechain(&connection, size - 10);
    drop(connection);
    // The ledger's own kept checkpoint already tells.
    assert_trust_finding(
        &ledger,
        &[],
        "ledger_cut_short",
        Some(size - 9),
        "vouches for",
    );
    // And with the kept one removed too, the auditor's copy does.
    ledger
        .sqlite()
        .execute_batch(
            "DROP TRIGGER checkpoints_refuse_delete; DELETE FROM checkpoints WHERE tree_size > 4;",
        )
        .unwrap();
    ledger.run(&["verify"]).assert().success();
    assert_trust_finding(
        &ledger,
        &["--checkpoint", held.to_str().unwrap()],
        "ledger_cut_short",
        Some(size - 9),
        "held.checkpoint",
    );
}

#[test]
fn a_ledger_re_keyed_by_an_insider_fails_against_the_key_the_auditor_holds() {
    let ledger = Ledger::with_plant();
    let held_key = ledger.file("ledger.pub");
    std::fs::copy(ledger.ledger_public_key(), &held_key).unwrap();
    let attacker = traceledger::signing::keys::key_from_label("attacker");
    ledger
        .sqlite()
        .execute(
            "UPDATE meta SET value = ?1 WHERE key = 'ledger_public_key'",
            [traceledger::signing::keys::public_key_base64(
                &attacker.verifying_key(),
            )],
        )
        .unwrap();
    // The kept checkpoints no longer verify under the key the ledger now names...
    assert_trust_finding(&ledger, &[], "bad_checkpoint", None, "no signature by key");
    // ...and the auditor's own key says plainly what happened.
    assert_trust_finding(
        &ledger,
        &["--ledger-key", held_key.to_str().unwrap()],
        "ledger_key_mismatch",
        None,
        "you trust key",
    );
}

#[test]
fn prove_prints_inclusion_and_consistency_proofs_that_verify_on_their_own() {
    let ledger = Ledger::with_plant();
    let old = checkpoint_to(&ledger, "old.checkpoint");
    let old_size = ledger.count() as u64;
    let more = ledger.file("more.ndjson");
    std::fs::write(
        &more,
        signed(
            &release_of(UNIT, "t-more-1", "2026-11-21T10:00:00Z", "p-1201"),
            "k-1201",
            "p-1201",
            "released",
        ) + "\n",
    )
    .unwrap();
    ledger
        .run(&["ingest", "--quiet", more.to_str().unwrap()])
        .assert()
        .success();
    let new = checkpoint_to(&ledger, "new.checkpoint");
    let new_size = ledger.count() as u64;
    let hex = |v: &serde_json::Value| {
        NodeHash(
            traceledger::chain::RecordHash::from_hex(v.as_str().unwrap())
                .unwrap()
                .0,
        )
    };

    for seq in [1u64, 5, 77, old_size, new_size] {
        let out = stdout_of(ledger.run(&[
            "prove",
            &seq.to_string(),
            "--checkpoint",
            new.to_str().unwrap(),
            "--json",
        ]));
        let proof: serde_json::Value = serde_json::from_str(&out).unwrap();
        let path: Vec<NodeHash> = proof["proof"].as_array().unwrap().iter().map(hex).collect();
        verify_inclusion(
            LeafIndex(seq - 1),
            new_size,
            &hex(&proof["leaf_hash"]),
            &path,
            &hex(&proof["root"]),
        )
        .unwrap();
        assert_eq!(proof["tree_size"], new_size);
    }
    let out = stdout_of(ledger.run(&[
        "prove",
        "--consistency",
        old.to_str().unwrap(),
        new.to_str().unwrap(),
        "--json",
    ]));
    let proof: serde_json::Value = serde_json::from_str(&out).unwrap();
    let path: Vec<NodeHash> = proof["proof"].as_array().unwrap().iter().map(hex).collect();
    verify_consistency(
        old_size,
        new_size,
        &hex(&proof["old_root"]),
        &hex(&proof["new_root"]),
        &path,
    )
    .unwrap();

    let beyond = ledger
        .run(&["prove", &(new_size + 1).to_string()])
        .output()
        .unwrap();
    assert_eq!(beyond.status.code(), Some(EXIT_BAD_INPUT));
}

#[test]
fn a_bundle_proves_the_same_dhr_offline_and_an_edited_bundle_fails() {
    let ledger = Ledger::with_plant();
    let bundle = ledger.file("IP3K-260001.bundle.json");
    ledger
        .run(&["export", UNIT, "--bundle", bundle.to_str().unwrap()])
        .assert()
        .success();
    let pubkey = ledger.ledger_public_key();
    let offline = traceledger()
        .args([
            "verify-bundle",
            bundle.to_str().unwrap(),
            "--ledger-key",
            pubkey.to_str().unwrap(),
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        offline.status.success(),
        "{}",
        String::from_utf8_lossy(&offline.stderr)
    );
    let from_ledger = stdout_of(ledger.run(&["dhr", UNIT, "--json"]));
    assert_eq!(String::from_utf8(offline.stdout).unwrap(), from_ledger);

    let text = std::fs::read_to_string(&bundle).unwrap();
    let original: serde_json::Value = serde_json::from_str(&text).unwrap();
    let step = original["records"]
        .as_array()
        .unwrap()
        .iter()
        .position(|r| {
            let event = r["event"].as_str().unwrap();
            event.contains("\"step.completed\"") && event.contains("\"result\":\"pass\"")
        })
        .unwrap();
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let edits: Vec<(&str, Edit)> = vec![
        (
            "hashes to",
            Box::new(move |b| {
                let event = b["records"][step]["event"].as_str().unwrap().replacen(
                    "\"result\":\"pass\"",
                    "\"result\":\"fail\"",
                    1,
                );
                b["records"][step]["event"] = event.into();
            }),
        ),
        (
            "not in the checkpoint's tree",
            Box::new(move |b| {
                let first = b["records"][step]["proof"][0].as_str().unwrap().to_owned();
                let (head, rest) = first.split_at(1);
                let flipped = if head == "0" { "1" } else { "0" };
                b["records"][step]["proof"][0] = format!("{flipped}{rest}").into();
            }),
        ),
        (
            "signature",
            Box::new(|b| {
                let note = b["checkpoint"].as_str().unwrap().to_owned();
                let mut lines: Vec<String> = note.lines().map(str::to_owned).collect();
                lines[1] = (lines[1].parse::<u64>().unwrap() + 1).to_string();
                b["checkpoint"] = (lines.join("\n") + "\n").into();
            }),
        ),
        (
            "genesis",
            Box::new(|b| {
                b["records"].as_array_mut().unwrap().remove(0);
            }),
        ),
        // Every record left proves into the tree: only the signed manifest shows the gap.
        (
            "records were left out or added",
            Box::new(move |b| {
                b["records"].as_array_mut().unwrap().remove(step);
            }),
        ),
        (
            "records were left out or added",
            Box::new(|b| {
                b["manifest_signature"] = format!("{}==", "A".repeat(86)).into();
            }),
        ),
    ];
    for (words, edit) in edits {
        let mut edited = original.clone();
        edit(&mut edited);
        let path = ledger.file("edited.bundle.json");
        std::fs::write(&path, edited.to_string()).unwrap();
        let output = traceledger()
            .args([
                "verify-bundle",
                path.to_str().unwrap(),
                "--ledger-key",
                pubkey.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(EXIT_INTEGRITY),
            "{words}: {stderr}"
        );
        assert!(stderr.contains(words), "{words}: {stderr}");
    }
    // Another ledger's key does not open the bundle either.
    let other = Ledger::new();
    let output = traceledger()
        .args([
            "verify-bundle",
            bundle.to_str().unwrap(),
            "--ledger-key",
            other.ledger_public_key().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(EXIT_INTEGRITY));
}

#[test]
fn an_approved_dhr_says_whether_it_changed_after_approval() {
    let ledger = Ledger::with_plant();
    let key = fixture_key(ledger.dir.path(), "k-1201");
    let approval = stdout_of(ledger.run(&[
        "approve",
        "IP3K-260002",
        "--key",
        key.to_str().unwrap(),
        "--key-id",
        "k-1201",
        "--signer",
        "p-1201",
        "--at",
        "2026-11-30T09:00:00Z",
    ]));
    let input = ledger.file("approval.ndjson");
    std::fs::write(&input, &approval).unwrap();
    ledger
        .run(&["ingest", "--quiet", input.to_str().unwrap()])
        .assert()
        .success();
    let approved_at = ledger.count();
    let dhr = stdout_of(ledger.run(&["dhr", "IP3K-260002"]));
    assert!(
        dhr.contains(&format!("[seq {approved_at:>7}] approved (Siobhán O'Brien (p-1201), approved at 2026-11-30T09:00:00Z): the DHR as it stands is the one signed")),
        "{dhr}"
    );
    // A record about the unit after the approval.
    let later = r#"{"id":"t-after-1","type":"nonconformance.opened","occurred_at":"2026-12-01T08:00:00Z","site":"GAL","source":"cli:p-1201","actor":"p-1201","data":{"ncr":"NCR-T-77","unit":"IP3K-260002","description":"cosmetic scratch found at audit"}}"#;
    std::fs::write(&input, format!("{later}\n")).unwrap();
    ledger
        .run(&["ingest", "--quiet", input.to_str().unwrap()])
        .assert()
        .success();
    let dhr: serde_json::Value =
        serde_json::from_str(&stdout_of(ledger.run(&["dhr", "IP3K-260002", "--json"]))).unwrap();
    let approval = dhr["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["seq"] == approved_at)
        .unwrap()
        .clone();
    assert_eq!(approval["status"], "changed");
    assert_eq!(
        approval["changed_after"],
        serde_json::json!([approved_at + 1])
    );
    let text = stdout_of(ledger.run(&["dhr", "IP3K-260002"]));
    assert!(
        text.contains(&format!("changed after approval: seq {}", approved_at + 1)),
        "{text}"
    );
}

/// Flips the first base64 character of the event's first signature: a forgery made from the
/// bytes of a real signature.
fn forge_first_signature(event: &mut serde_json::Value) {
    let text = event["signatures"][0]["signature"]
        .as_str()
        .unwrap()
        .to_owned();
    let (first, rest) = text.split_at(1);
    let flipped = if first == "A" { "B" } else { "A" };
    event["signatures"][0]["signature"] = format!("{flipped}{rest}").into();
}

/// An implantable's DHR holds the environment readings of its clean rooms, found by area and
/// time: the DHR proved offline from its bundle holds the same, line for line.
#[test]
fn a_bundle_of_an_implantable_proves_its_environment_readings_too() {
    let ledger = simulated_plant("200", "3");
    let units: Vec<String> = ledger
        .sqlite()
        .prepare(
            "SELECT json_extract(event, '$.data.unit') FROM records WHERE type = 'unit.released'
             AND json_extract(event, '$.data.unit') LIKE 'NS%' ORDER BY seq LIMIT 3",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(!units.is_empty());
    let pubkey = ledger.ledger_public_key();
    for unit in units {
        let from_ledger = stdout_of(ledger.run(&["dhr", &unit, "--json"]));
        let dhr: serde_json::Value = serde_json::from_str(&from_ledger).unwrap();
        assert!(
            !dhr["environment"].as_array().unwrap().is_empty(),
            "{unit}: {from_ledger}"
        );
        let bundle = ledger.file(&format!("{unit}.bundle.json"));
        ledger
            .run(&["export", &unit, "--bundle", bundle.to_str().unwrap()])
            .assert()
            .success();
        let mut offline = traceledger();
        offline.args([
            "verify-bundle",
            bundle.to_str().unwrap(),
            "--ledger-key",
            pubkey.to_str().unwrap(),
            "--json",
        ]);
        assert_eq!(stdout_of(offline), from_ledger, "{unit}");
    }
}

/// `verify-bundle --checkpoint FILE`: the bundle's checkpoint against one the auditor held
/// before (issue 15 #4).
#[test]
fn a_bundle_is_checked_against_a_checkpoint_the_auditor_holds() {
    let ledger = Ledger::new();
    let genesis_cp = ledger.file("cp-genesis.txt");
    ledger
        .run(&["checkpoint", "--out", genesis_cp.to_str().unwrap()])
        .assert()
        .success();
    ledger
        .run(&["ingest", fixture("plant-small.ndjson").to_str().unwrap()])
        .assert()
        .success();
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
    let now_cp = ledger.file("cp-now.txt");
    ledger
        .run(&["checkpoint", "--out", now_cp.to_str().unwrap()])
        .assert()
        .success();
    let public = ledger.ledger_public_key();
    let check = |held: &std::path::Path| {
        traceledger()
            .args(["verify-bundle", bundle.to_str().unwrap(), "--ledger-key"])
            .arg(&public)
            .arg("--checkpoint")
            .arg(held)
            .output()
            .unwrap()
    };
    // An older checkpoint: proven a prefix by the proof the bundle carries. The same one: equal.
    for held in [&genesis_cp, &now_cp] {
        let output = check(held);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            stdout.contains("ok: consistent with the checkpoint you hold"),
            "{stdout}"
        );
    }
    // A checkpoint of another history, signed with the ledger key (a split view).
    let key = traceledger::signing::keys::read_signing_key(&ledger.file("ledger.db.key")).unwrap();
    let genuine = traceledger::checkpoint::open(
        &std::fs::read_to_string(&genesis_cp).unwrap(),
        &key.verifying_key(),
    )
    .unwrap();
    let forged = traceledger::checkpoint::Checkpoint {
        root: traceledger::merkle::leaf_hash(b"another history"),
        ..genuine
    };
    let forged_cp = ledger.file("cp-forged.txt");
    std::fs::write(&forged_cp, traceledger::checkpoint::sign(&forged, &key)).unwrap();
    let output = check(&forged_cp);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(EXIT_INTEGRITY), "{stderr}");
    assert!(stderr.contains("does not extend yours"), "{stderr}");
    // A held checkpoint newer than the bundle's: the bundle is stale.
    ledger
        .run(&["ingest", fixture("tolerated.ndjson").to_str().unwrap()])
        .assert()
        .success();
    let newer_cp = ledger.file("cp-newer.txt");
    ledger
        .run(&["checkpoint", "--out", newer_cp.to_str().unwrap()])
        .assert()
        .success();
    let output = check(&newer_cp);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(EXIT_INTEGRITY), "{stderr}");
    assert!(stderr.contains("the bundle is older"), "{stderr}");
}
