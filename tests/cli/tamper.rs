//! Tamper tests: edit the SQLite file as an attacker would (drop the triggers, rewrite rows,
//! flip bytes in the file) and check that `verify` names the right seq and exits 1.

use crate::support::*;
use rusqlite::params;
use traceledger::chain::{RecordHash, record_hash};

/// Drops the append-only triggers, as an attacker with write access to the file can.
fn drop_triggers(connection: &rusqlite::Connection) {
    connection
        .execute_batch(
            "DROP TRIGGER records_refuse_update;
             DROP TRIGGER records_refuse_delete;",
        )
        .unwrap();
}

fn assert_caught(ledger: &Ledger, code: &str, seq: i64) -> serde_json::Value {
    let (exit, report) = ledger.verify_json();
    assert_eq!(exit, EXIT_INTEGRITY, "{report}");
    assert_eq!(report["ok"], false);
    assert_eq!(report["finding"]["code"], code, "{report}");
    assert_eq!(report["finding"]["seq"], seq, "{report}");
    let text = ledger.run(&["verify"]).output().unwrap();
    assert_eq!(text.status.code(), Some(EXIT_INTEGRITY));
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(stdout.contains(&format!("seq {seq}")), "{stdout}");
    report
}

#[test]
fn the_triggers_refuse_update_and_delete() {
    let ledger = Ledger::with_plant();
    let connection = ledger.sqlite();
    for sql in [
        "UPDATE records SET type = 'x' WHERE seq = 3",
        "DELETE FROM records WHERE seq = 3",
    ] {
        let error = connection.execute_batch(sql).unwrap_err().to_string();
        assert!(error.contains("append-only"), "{sql}: {error}");
    }
    drop(connection);
    ledger.run(&["verify"]).assert().success();
}

#[test]
fn a_byte_edited_in_the_file_is_a_hash_mismatch_at_its_seq() {
    let ledger = Ledger::with_plant();
    let seq = 7i64;
    let event: String = ledger
        .sqlite()
        .query_row("SELECT event FROM records WHERE seq = ?1", [seq], |r| {
            r.get(0)
        })
        .unwrap();
    // No -wal left behind: the CLI's last connection checkpointed it into the main file.
    let mut bytes = std::fs::read(&ledger.path).unwrap();
    // The text can appear more than once: SQLite leaves stale copies of moved cells in a
    // page's free space. Edit every copy, as an attacker who cannot tell them apart would.
    let places: Vec<usize> = bytes
        .windows(event.len())
        .enumerate()
        .filter(|(_, w)| *w == event.as_bytes())
        .map(|(at, _)| at)
        .collect();
    assert!(
        !places.is_empty(),
        "the event text is stored contiguously in the file"
    );
    for at in places {
        let target = at + event.len() / 2;
        // Swap one character for another of the same kind so the JSON stays well-formed.
        bytes[target] = match bytes[target] {
            b'0'..=b'8' => bytes[target] + 1,
            b'9' => b'0',
            b'a'..=b'y' | b'A'..=b'Y' => bytes[target] + 1,
            b'z' => b'a',
            b'Z' => b'A',
            other => other ^ 0x01,
        };
    }
    std::fs::write(&ledger.path, bytes).unwrap();
    assert_caught(&ledger, "hash_mismatch", seq);
}

#[test]
fn an_event_rewritten_by_sql_is_a_hash_mismatch() {
    let ledger = Ledger::with_plant();
    let connection = ledger.sqlite();
    drop_triggers(&connection);
    connection
        .execute(
            "UPDATE records SET event = replace(event, '\"site\":', '\"site\": ') WHERE seq = 12",
            [],
        )
        .unwrap();
    drop(connection);
    assert_caught(&ledger, "hash_mismatch", 12);
}

#[test]
fn a_row_deleted_from_the_middle_is_a_gap() {
    let ledger = Ledger::with_plant();
    let connection = ledger.sqlite();
    drop_triggers(&connection);
    connection
        .execute("DELETE FROM records WHERE seq = 20", [])
        .unwrap();
    drop(connection);
    let report = assert_caught(&ledger, "seq_gap", 20);
    assert!(
        report["finding"]["message"]
            .as_str()
            .unwrap()
            .contains("record 20 is missing")
    );
}

#[test]
fn two_swapped_rows_break_the_link_at_the_first() {
    let ledger = Ledger::with_plant();
    let connection = ledger.sqlite();
    drop_triggers(&connection);
    connection
        .execute_batch(
            "UPDATE records SET seq = -1 WHERE seq = 30;
             UPDATE records SET seq = 30 WHERE seq = 31;
             UPDATE records SET seq = 31 WHERE seq = -1;",
        )
        .unwrap();
    drop(connection);
    assert_caught(&ledger, "broken_link", 30);
}

#[test]
fn a_forged_row_inserted_with_a_recomputed_hash_breaks_the_next_link() {
    let ledger = Ledger::with_plant();
    let connection = ledger.sqlite();
    drop_triggers(&connection);
    let at = 15i64;
    let prev: Vec<u8> = connection
        .query_row("SELECT hash FROM records WHERE seq = ?1", [at - 1], |r| {
            r.get(0)
        })
        .unwrap();
    type Row = (
        String,
        String,
        String,
        String,
        String,
        String,
        Option<String>,
    );
    let (event, recorded_at, id, event_type, occurred_at, site, actor): Row = connection
        .query_row(
            "SELECT event, recorded_at, id, type, occurred_at, site, actor FROM records WHERE seq = ?1",
            [at],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
        )
        .unwrap();
    let forged_id = format!("{id}-forged");
    let forged_event = event.replace(
        &format!("\"id\":\"{id}\""),
        &format!("\"id\":\"{forged_id}\""),
    );
    assert_ne!(forged_event, event);
    let prev = RecordHash::from_slice(&prev).unwrap();
    let hash = record_hash(at as u64, &recorded_at, &prev, &forged_event);
    connection
        .execute_batch(&format!(
            "UPDATE records SET seq = seq + 1000000 WHERE seq >= {at};
             UPDATE records SET seq = seq - 1000000 + 1 WHERE seq >= 1000000;"
        ))
        .unwrap();
    connection
        .execute(
            "INSERT INTO records (seq, id, type, occurred_at, site, actor, recorded_at, prev, hash, event)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![at, forged_id, event_type, occurred_at, site, actor, recorded_at, &prev.0[..], &hash.0[..], forged_event],
        )
        .unwrap();
    drop(connection);
    // The forged record itself is internally valid; the chain breaks right after it.
    assert_caught(&ledger, "broken_link", at + 1);
}

#[test]
fn a_cut_off_tail_contradicts_the_recorded_head() {
    let ledger = Ledger::with_plant();
    let last = ledger.count();
    let connection = ledger.sqlite();
    drop_triggers(&connection);
    connection
        .execute("DELETE FROM records WHERE seq > ?1", [last - 3])
        .unwrap();
    drop(connection);
    assert_caught(&ledger, "head_mismatch", last);
}

#[test]
fn an_edited_index_column_is_caught_even_though_the_hash_does_not_cover_it() {
    let ledger = Ledger::with_plant();
    let connection = ledger.sqlite();
    drop_triggers(&connection);
    connection
        .execute(
            "UPDATE records SET type = 'unit.released' WHERE seq = 9",
            [],
        )
        .unwrap();
    drop(connection);
    assert_caught(&ledger, "column_mismatch", 9);
}

#[test]
fn a_wrongly_typed_column_is_an_unreadable_record() {
    let ledger = Ledger::with_plant();
    let connection = ledger.sqlite();
    drop_triggers(&connection);
    connection
        .execute("UPDATE records SET hash = 'not a blob' WHERE seq = 5", [])
        .unwrap();
    drop(connection);
    assert_caught(&ledger, "unreadable_record", 5);
}

#[test]
fn a_tampered_entity_index_is_found_by_verify_derived_and_fixed_by_rebuild() {
    let ledger = Ledger::with_plant();
    ledger.run(&["verify", "--derived"]).assert().success();
    let connection = ledger.sqlite();
    connection
        .execute("DELETE FROM entity_refs WHERE seq = 1", [])
        .unwrap();
    connection
        .execute(
            "INSERT INTO entity_refs (entity, kind, role, type, seq) VALUES ('GHOST-LOT', 'lot', 0, 'lot.received', 3)",
            [],
        )
        .unwrap();
    drop(connection);
    let output = ledger.run(&["verify", "--derived"]).output().unwrap();
    assert_eq!(output.status.code(), Some(EXIT_INTEGRITY));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("rows missing") && stdout.contains("GHOST-LOT"),
        "{stdout}"
    );
    ledger.run(&["rebuild"]).assert().success();
    ledger.run(&["verify", "--derived"]).assert().success();
}

#[test]
fn a_row_appended_behind_the_ledgers_back_is_caught() {
    let ledger = Ledger::with_plant();
    let last = ledger.count();
    // Needs no trigger dropped: only UPDATE and DELETE are refused by the file itself.
    ledger
        .sqlite()
        .execute(
            "INSERT INTO records SELECT seq + 1, id || '-again', type, occurred_at, site, actor, recorded_at, prev, hash, event FROM records WHERE seq = ?1",
            [last],
        )
        .unwrap();
    assert_caught(&ledger, "broken_link", last + 1);
}

/// Verifying in parallel ranges must report exactly what one walk reports, also when the
/// damage sits on a range boundary (193 records in 4 ranges start at 1, 49, 97 and 145).
#[test]
fn parallel_ranges_report_the_same_finding_as_one_walk() {
    use traceledger::store::Store;
    use traceledger::verify::verify_in_segments;
    type Tampering<'a> = (&'a str, &'a dyn Fn(&rusqlite::Connection, i64));
    let tamperings: &[Tampering] = &[
        ("edit", &|c, k| {
            c.execute("UPDATE records SET event = replace(event, '\"site\":', '\"site\": ') WHERE seq = ?1", [k])
                .unwrap();
        }),
        ("delete", &|c, k| {
            c.execute("DELETE FROM records WHERE seq = ?1", [k])
                .unwrap();
        }),
        ("swap", &|c, k| {
            c.execute_batch(&format!(
                "UPDATE records SET seq = -1 WHERE seq = {k};
                 UPDATE records SET seq = {k} WHERE seq = {k} + 1;
                 UPDATE records SET seq = {k} + 1 WHERE seq = -1;"
            ))
            .unwrap();
        }),
        ("delete two", &|c, k| {
            c.execute("DELETE FROM records WHERE seq IN (?1, ?1 + 1)", [k])
                .unwrap();
        }),
    ];
    for (name, tamper) in tamperings {
        for k in [1i64, 48, 49, 96, 97, 145, 192] {
            let ledger = Ledger::with_plant();
            let connection = ledger.sqlite();
            drop_triggers(&connection);
            tamper(&connection, k);
            drop(connection);
            let mut store = Store::open(&ledger.path).unwrap();
            let one = verify_in_segments(&mut store, false, 1, 1).unwrap();
            let four = verify_in_segments(&mut store, false, 4, 10).unwrap();
            assert!(one.finding.is_some(), "{name} at {k}: not caught");
            assert_eq!(one.finding, four.finding, "{name} at {k}");
            assert_eq!(one.records, four.records, "{name} at {k}");
        }
    }
    let ledger = Ledger::with_plant();
    let mut store = Store::open(&ledger.path).unwrap();
    let one = verify_in_segments(&mut store, false, 1, 1).unwrap();
    let four = verify_in_segments(&mut store, false, 4, 10).unwrap();
    assert!(one.finding.is_none() && four.finding.is_none());
    assert_eq!((one.records, one.head), (four.records, four.head));
}

/// Rewrites the log from `from` on as an insider would: edits record `from`, then recomputes
/// every later hash and link and the claimed head, so the chain is internally valid again.
fn rewrite_from(ledger: &Ledger, from: i64) {
    let connection = ledger.sqlite();
    drop_triggers(&connection);
    // An edit that keeps every rule of the format (canonical events, a clock that never
    // goes back, valid signatures): the records from `from` on all get the head's time.
    let changed = connection
        .execute(
            "UPDATE records SET recorded_at = (SELECT MAX(recorded_at) FROM records) WHERE seq >= ?1
               AND recorded_at != (SELECT MAX(recorded_at) FROM records)",
            [from],
        )
        .unwrap();
    assert!(changed > 0);
    rechain(&connection, from);
}

#[test]
fn a_rewritten_or_cut_log_passes_alone_but_fails_against_a_kept_head() {
    let ledger = Ledger::with_plant();
    // The auditor keeps a head from a verify today.
    let (_, report) = ledger.verify_json();
    let kept = format!(
        "{}:{}",
        report["head"]["seq"],
        report["head"]["hash"].as_str().unwrap()
    );
    let kept_seq = report["head"]["seq"].as_i64().unwrap();

    // An insider rewrites the log from seq 100 with a fresh, internally valid chain.
    rewrite_from(&ledger, 100);
    ledger.run(&["verify"]).assert().success(); // what a chain alone cannot see
    let output = ledger
        .run(&["verify", "--json", "--expect-head", &kept])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(EXIT_INTEGRITY));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["finding"]["code"], "kept_head_mismatch");
    assert_eq!(report["finding"]["seq"], kept_seq);
    assert!(
        report["finding"]["message"]
            .as_str()
            .unwrap()
            .contains("rewritten")
    );

    // Another ledger: the tail is cut off and the claimed head moved back with it.
    let ledger = Ledger::with_plant();
    let connection = ledger.sqlite();
    drop_triggers(&connection);
    connection
        .execute("DELETE FROM records WHERE seq > ?1", [kept_seq - 5])
        .unwrap();
    let (seq, hash): (i64, Vec<u8>) = connection
        .query_row(
            "SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    connection
        .execute_batch(&format!(
            "UPDATE meta SET value = '{seq}' WHERE key = 'head_seq';
             UPDATE meta SET value = '{}' WHERE key = 'head_hash';",
            RecordHash::from_slice(&hash).unwrap().to_hex()
        ))
        .unwrap();
    drop(connection);
    ledger.run(&["verify"]).assert().success();
    let output = ledger
        .run(&["verify", "--expect-head", &kept])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(EXIT_INTEGRITY));
    assert!(String::from_utf8_lossy(&output.stdout).contains("its tail was cut off"));

    let output = ledger
        .run(&["verify", "--expect-head", "12:nothex"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(EXIT_BAD_INPUT));
}

#[test]
fn a_type_changed_in_the_entity_index_is_found_by_verify_derived_and_fixed_by_rebuild() {
    use traceledger::event::{EntityKind, RefRole};
    use traceledger::store::Store;
    let qualifications = |ledger: &Ledger| {
        Store::open(&ledger.path)
            .unwrap()
            .records_of_type_naming(
                "person.qualified",
                EntityKind::Person,
                RefRole::References,
                "p-1042",
            )
            .unwrap()
            .len()
    };
    let ledger = Ledger::with_plant();
    assert_eq!(qualifications(&ledger), 1);
    // An insider hides p-1042's qualification from the typed lookups (and so from the DHRs
    // that check it) by giving its index row another type.
    let changed = ledger
        .sqlite()
        .execute(
            "UPDATE entity_refs SET type = 'role.granted' WHERE entity = 'p-1042' AND kind = 'person'
             AND seq = (SELECT seq FROM records WHERE id = '01M6NR4DM0W20T90A01JD3YJF2')",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    assert_eq!(qualifications(&ledger), 0);
    let (code, report) = ledger.verify_json_with(&["--derived"]);
    assert_eq!(code, EXIT_INTEGRITY, "{report}");
    assert_eq!(report["derived"]["missing"], 1, "{report}");
    assert_eq!(report["derived"]["extra"], 1, "{report}");
    let output = ledger.run(&["verify", "--derived"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("\"person.qualified\")") && stdout.contains("\"role.granted\")"),
        "{stdout}"
    );
    ledger.run(&["rebuild"]).assert().success();
    assert_eq!(qualifications(&ledger), 1);
    let (code, report) = ledger.verify_json_with(&["--derived"]);
    assert_eq!(code, 0, "{report}");
}

// --- The checkpoint oracle (issue 15): the ledger key signs no root read from `tree_nodes`.

/// A ledger of exactly `size` records: the simulation's genesis and the first lines of its
/// stream (each line refers only to lines before it, so any prefix is valid).
fn ledger_of(size: i64) -> Ledger {
    let ledger = Ledger::for_simulation();
    let genesis = ledger.count();
    let mut simulate = traceledger();
    simulate.args(["simulate", "--units", "200", "--seed", "7"]);
    let stream = stdout_of(simulate);
    let lines: Vec<&str> = stream.lines().take((size - genesis) as usize + 1).collect();
    assert_eq!(
        lines.len() as i64,
        size - genesis + 1,
        "the stream is long enough"
    );
    let events = ledger.file("prefix.ndjson");
    let (last, prefix) = lines.split_last().unwrap();
    std::fs::write(&events, prefix.join("\n") + "\n").unwrap();
    // The next line of the stream, for a test to ingest later (`grow`).
    std::fs::write(ledger.file("next.ndjson"), format!("{last}\n")).unwrap();
    ledger
        .run(&["ingest", "--quiet", events.to_str().unwrap()])
        .assert()
        .success();
    assert_eq!(ledger.count(), size);
    ledger
}

/// The RFC 9162 tree head of a ledger file's records, computed from their stored hashes.
fn root_of_file(path: &std::path::Path) -> [u8; 32] {
    let connection = rusqlite::Connection::open(path).unwrap();
    let leaves: Vec<traceledger::merkle::NodeHash> = connection
        .prepare("SELECT hash FROM records ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .unwrap()
        .map(|h| traceledger::merkle::leaf_hash(&h.unwrap()))
        .collect();
    traceledger::merkle::root(&leaves).0
}

/// The repro: a copy of the ledger cut at seq 499 and carried on with one
/// measurement changed (here: the event at seq 600 edited and the chain recomputed from it,
/// which gives the same kind of forged history); its tree head is the forged root.
fn forged_root(ledger: &Ledger) -> [u8; 32] {
    let copy = ledger.file("forged.db");
    std::fs::copy(&ledger.path, &copy).unwrap();
    let connection = rusqlite::Connection::open(&copy).unwrap();
    drop_triggers(&connection);
    let changed = connection
        .execute(
            "UPDATE records SET event = replace(event, '\"occurred_at\":\"2', '\"occurred_at\":\"1') WHERE seq = 600",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    rechain(&connection, 600);
    drop(connection);
    let root = root_of_file(&copy);
    assert_ne!(root, root_of_file(&ledger.path));
    root
}

/// Ingests the line of the stream after a [`ledger_of`] prefix.
fn grow(ledger: &Ledger) {
    let input = ledger.file("next.ndjson");
    ledger
        .run(&["ingest", input.to_str().unwrap()])
        .assert()
        .success();
}

fn plant_node(ledger: &Ledger, level: i64, idx: i64, hash: &[u8]) {
    ledger
        .sqlite()
        .execute(
            "INSERT OR REPLACE INTO tree_nodes (level, idx, hash) VALUES (?1, ?2, ?3)",
            params![level, idx, hash],
        )
        .unwrap();
}

fn checkpoints_kept(ledger: &Ledger) -> i64 {
    ledger
        .sqlite()
        .query_row("SELECT COUNT(*) FROM checkpoints", [], |r| r.get(0))
        .unwrap()
}

/// `checkpoint` refuses (exit 1, the message naming the node), and keeps no checkpoint.
fn assert_checkpoint_refused(ledger: &Ledger, expect_in_message: &str) {
    let before = checkpoints_kept(ledger);
    let output = ledger.run(&["checkpoint"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(EXIT_INTEGRITY), "{stderr}");
    assert!(output.stdout.is_empty(), "nothing signed was printed");
    assert!(stderr.contains(expect_in_message), "{stderr}");
    assert_eq!(checkpoints_kept(ledger), before, "no checkpoint was kept");
}

/// `verify --derived` exits 1 and names the first wrong stored node.
fn assert_derived_finds_node(ledger: &Ledger, level: i64, idx: i64) {
    let (exit, report) = ledger.verify_json_with(&["--derived"]);
    assert_eq!(exit, EXIT_INTEGRITY, "{report}");
    assert_eq!(report["derived"]["tree_nodes_wrong"], 1, "{report}");
    assert_eq!(
        report["derived"]["first_wrong_tree_node"],
        serde_json::json!({"level": level, "idx": idx}),
        "{report}"
    );
}

#[test]
fn a_forged_root_planted_in_tree_nodes_is_never_signed() {
    let ledger = ledger_of(1024);
    let forged = forged_root(&ledger);
    plant_node(&ledger, 10, 0, &forged);
    assert_checkpoint_refused(&ledger, "level 10, index 0");
    assert_derived_finds_node(&ledger, 10, 0);
    // The genuine ledger is untouched and still verifies; rebuild mends the table, and the
    // checkpoint then signs the genuine root.
    ledger.run(&["verify"]).assert().success();
    ledger.run(&["rebuild"]).assert().success();
    ledger.run(&["verify", "--derived"]).assert().success();
    let note = stdout_of(ledger.run(&["checkpoint"]));
    use base64::Engine as _;
    let genuine = base64::engine::general_purpose::STANDARD.encode(root_of_file(&ledger.path));
    assert!(note.contains(&format!("\n1024\n{genuine}\n")), "{note}");
}

#[test]
fn a_forged_node_below_the_root_is_refused() {
    let ledger = ledger_of(1024);
    plant_node(&ledger, 8, 1, &[7u8; 32]);
    assert_checkpoint_refused(&ledger, "level 8, index 1");
    assert_derived_finds_node(&ledger, 8, 1);
}

#[test]
fn a_forged_node_under_a_kept_checkpoint_is_refused() {
    let ledger = ledger_of(1024);
    ledger.run(&["checkpoint"]).assert().success();
    // The kept checkpoint of 1,024 stored the genuine nodes; the forged root replaces the
    // top one, and the ledger grows by a record before the next routine checkpoint.
    let forged = forged_root(&ledger);
    plant_node(&ledger, 10, 0, &forged);
    grow(&ledger);
    assert_checkpoint_refused(&ledger, "no longer hash to the root");
    assert_derived_finds_node(&ledger, 10, 0);
}

#[test]
fn an_extra_bogus_node_is_refused() {
    let ledger = ledger_of(1024);
    // A node no ledger of 1,024 records has: beyond its last record.
    plant_node(&ledger, 8, 9, &[1u8; 32]);
    assert_checkpoint_refused(&ledger, "level 8, index 9");
    assert_derived_finds_node(&ledger, 8, 9);
    ledger.run(&["rebuild"]).assert().success();
    ledger.run(&["verify", "--derived"]).assert().success();
    ledger.run(&["checkpoint"]).assert().success();
}

#[test]
fn a_deleted_node_is_recomputed_and_the_genuine_root_signed() {
    let ledger = ledger_of(1024);
    ledger.run(&["checkpoint"]).assert().success();
    let deleted = ledger
        .sqlite()
        .execute("DELETE FROM tree_nodes WHERE level IN (9, 10)", [])
        .unwrap();
    assert_eq!(deleted, 3, "levels 9 and 10 of 1,024 records: three nodes");
    // Missing nodes are no fault: verify --derived counts them and passes.
    let (exit, report) = ledger.verify_json_with(&["--derived"]);
    assert_eq!(exit, 0, "{report}");
    assert_eq!(report["derived"]["tree_nodes_missing"], 3, "{report}");
    grow(&ledger);
    let note = stdout_of(ledger.run(&["checkpoint"]));
    use base64::Engine as _;
    let genuine = base64::engine::general_purpose::STANDARD.encode(root_of_file(&ledger.path));
    assert!(note.contains(&format!("\n1025\n{genuine}\n")), "{note}");
    ledger.run(&["verify"]).assert().success();
}

// --- What the format promises and the hash does not enforce (issue 15 #4).

/// Edits record `seq` with `sql` (an UPDATE of its row) and recomputes the chain from it, as
/// an insider who knows the hash would: only the format's own rules can catch it.
fn rewrite_rechained(ledger: &Ledger, seq: i64, sql: &str) {
    let connection = ledger.sqlite();
    drop_triggers(&connection);
    assert_eq!(connection.execute(sql, [seq]).unwrap(), 1);
    rechain(&connection, seq);
}

#[test]
fn a_non_canonical_event_is_caught_even_with_its_hash_recomputed() {
    let ledger = Ledger::with_plant();
    rewrite_rechained(
        &ledger,
        12,
        "UPDATE records SET event = replace(event, '\"site\":', '\"site\": ') WHERE seq = ?1",
    );
    assert_caught(&ledger, "non_canonical_event", 12);
}

#[test]
fn a_recorded_at_of_another_form_is_caught() {
    let ledger = Ledger::with_plant();
    let at: String = ledger
        .sqlite()
        .query_row("SELECT recorded_at FROM records WHERE seq = 15", [], |r| {
            r.get(0)
        })
        .unwrap();
    // The same instant without its microseconds: a valid RFC 3339 time, not the ledger's form.
    let short = format!("{}Z", &at[..19]);
    rewrite_rechained(
        &ledger,
        15,
        &format!("UPDATE records SET recorded_at = '{short}' WHERE seq = ?1"),
    );
    assert_caught(&ledger, "bad_recorded_at", 15);
}

#[test]
fn a_recorded_at_that_goes_back_is_caught() {
    let ledger = Ledger::with_plant();
    rewrite_rechained(
        &ledger,
        15,
        "UPDATE records SET recorded_at = '2000-01-01T00:00:00.000000Z' WHERE seq = ?1",
    );
    let report = assert_caught(&ledger, "recorded_at_backwards", 15);
    assert!(
        report["finding"]["message"]
            .as_str()
            .unwrap()
            .contains("2000-01-01T00:00:00.000000Z"),
        "{report}"
    );
}

#[test]
fn export_refuses_a_tampered_ledger() {
    let ledger = Ledger::with_plant();
    let connection = ledger.sqlite();
    drop_triggers(&connection);
    connection
        .execute(
            "UPDATE records SET event = replace(event, '\"site\":', '\"site\": ') WHERE seq = 12",
            [],
        )
        .unwrap();
    drop(connection);
    let bundle = ledger.file("unit.bundle.json");
    let output = ledger
        .run(&[
            "export",
            "IP3K-260002",
            "--bundle",
            bundle.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(EXIT_INTEGRITY), "{stderr}");
    assert!(
        stderr.contains("does not verify") && stderr.contains("seq 12"),
        "{stderr}"
    );
    assert!(!bundle.exists(), "no bundle was written");
}
