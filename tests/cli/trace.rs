//! Genealogy on the hand-built plant (expected answers read off fixtures/plant-small.ndjson by
//! hand) and, for invariants, on a simulated plant.

use crate::support::*;
use traceledger::genealogy::{NodeKind, TraceNode, backward, forward, forward_from_log};
use traceledger::store::Store;

fn ids(tree: &TraceNode) -> Vec<&str> {
    tree.walk().iter().map(|n| n.id.as_str()).collect()
}

fn find<'t>(tree: &'t TraceNode, id: &str) -> &'t TraceNode {
    tree.walk()
        .into_iter()
        .find(|n| n.id == id && !n.facts.iter().any(|(k, _)| k == "note"))
        .unwrap_or_else(|| panic!("{id} not in the trace"))
}

#[test]
fn backward_through_a_reworked_pump_shows_the_removed_module_as_removed() {
    let ledger = Ledger::with_plant();
    let store = Store::open(&ledger.path).unwrap();
    let tree = backward(&store, "IP3K-260002").unwrap();
    assert_eq!(
        (tree.kind, tree.item.as_deref()),
        (NodeKind::Unit, Some("INF-3000"))
    );
    // The pump module installed first was removed in rework (NCR-GAL-26-0107); its
    // replacement is in place. Both are shown, the first as removed.
    let removed = find(&tree, "PM-26-00018");
    assert!(removed.removed_seq.is_some() && removed.link.starts_with("component"));
    let present = find(&tree, "PM-26-00019");
    assert_eq!(present.removed_seq, None);
    // Made at Penang from two supplier lots; the housing lot consumed at Galway; the battery
    // pack bought in, known by its UDI.
    let motor = find(&tree, "L-PEN-2611-0001");
    assert!(
        motor
            .facts
            .contains(&("supplier_lot".to_owned(), "MX24-261104A".to_owned()))
    );
    for id in ["L-PEN-2611-0002", "L-GAL-2611-0101"] {
        assert!(ids(&tree).contains(&id), "{id}");
    }
    let battery = find(&tree, "BP7-88217");
    assert_eq!(battery.kind, NodeKind::External);
}

#[test]
fn backward_through_splits_and_merges_to_the_lots_as_received() {
    let ledger = Ledger::with_plant();
    let store = Store::open(&ledger.path).unwrap();
    let tree = backward(&store, "CK7F-2611A").unwrap();
    assert_eq!(
        find(&tree, "L-GAL-2611-0110").link,
        "material 201 EA (op 10) (work order WO-GAL-26-0121)"
    );
    for (id, link) in [
        ("L-GAL-2611-0105", "merged from"),
        ("L-GAL-2611-0106", "merged from"),
        ("L-GAL-2611-0103", "split from"),
    ] {
        assert_eq!(find(&tree, id).link, link, "{id}");
    }
}

#[test]
fn forward_from_a_supplier_lot_reaches_the_shipped_devices_and_their_customers() {
    let ledger = Ledger::with_plant();
    let store = Store::open(&ledger.path).unwrap();
    let tree = forward(&store, "L-PEN-2611-0001").unwrap();
    let shipped = find(&tree, "IP3K-260001");
    assert!(
        shipped
            .facts
            .iter()
            .any(|(k, v)| k == "shipped" && v.contains("CUST-UHG")),
        "{:?}",
        shipped.facts
    );
    assert!(shipped.facts.iter().any(|(k, _)| k == "complaint"));
    assert!(ids(&tree).contains(&"IP3K-260002"));

    let kits = forward(&store, "L-GAL-2611-0105").unwrap();
    let lot = find(&kits, "CK7F-2611A");
    assert!(
        lot.facts
            .iter()
            .any(|(k, v)| k == "shipped" && v.contains("CUST-MEDLOG-DE"))
    );
}

#[test]
fn a_udi_names_its_device_and_an_unknown_id_is_a_clear_error() {
    let ledger = Ledger::with_plant();
    let store = Store::open(&ledger.path).unwrap();
    let by_udi = backward(&store, "(01)05399123450010(11)261120(21)IP3K-260001").unwrap();
    assert_eq!(by_udi.id, "IP3K-260001");
    let output = ledger
        .run(&["trace", "NO-SUCH-UNIT", "--backward"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(EXIT_BAD_INPUT));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("NO-SUCH-UNIT is neither a unit nor a lot")
    );
    let text = stdout_of(ledger.run(&["trace", "IP3K-260002", "--backward"]));
    assert!(
        text.contains("unit PM-26-00018 [PMOD-100]  REMOVED (seq "),
        "{text}"
    );
    let json = stdout_of(ledger.run(&["trace", "L-PEN-2611-0001", "--forward", "--json"]));
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["id"], "L-PEN-2611-0001");
}

/// Every lot in a unit's backward trace has that unit in its forward trace.
#[test]
fn backward_and_forward_agree_on_a_simulated_plant() {
    let ledger = Ledger::for_simulation();
    let stream = ledger.file("sim.ndjson");
    let output = traceledger()
        .args(["simulate", "--units", "30", "--seed", "9"])
        .output()
        .unwrap();
    std::fs::write(&stream, output.stdout).unwrap();
    ledger
        .run(&["ingest", stream.to_str().unwrap()])
        .assert()
        .success();
    let store = Store::open(&ledger.path).unwrap();
    let text = std::fs::read_to_string(&stream).unwrap();
    let units: Vec<String> = text
        .lines()
        .filter(|l| l.contains("\"type\":\"unit.released\"") && l.contains("\"unit\""))
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["data"]["unit"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .take(8)
        .collect();
    assert!(units.len() >= 5);
    for unit in &units {
        let back = backward(&store, unit).unwrap();
        let lots: Vec<&str> = back
            .walk()
            .iter()
            .filter(|n| n.kind == NodeKind::Lot)
            .map(|n| n.id.as_str())
            .collect();
        assert!(!lots.is_empty(), "{unit} has no lots");
        for lot in lots {
            let fwd = forward(&store, lot).unwrap();
            assert!(
                ids(&fwd).contains(&unit.as_str()),
                "{lot} forward lacks {unit}"
            );
        }
    }
}

#[test]
fn pictures_draw_each_unit_once_and_removed_links_dashed() {
    let ledger = Ledger::with_plant();
    let dot = stdout_of(ledger.run(&["trace", "IP3K-260002", "--backward", "--dot"]));
    assert!(dot.starts_with("digraph genealogy {") && dot.trim_end().ends_with('}'));
    let node_lines = dot
        .lines()
        .filter(|l| l.starts_with("  \"L-PEN-2611-0001\" [label="));
    assert_eq!(node_lines.count(), 1, "{dot}");
    let removed_edge = dot
        .lines()
        .find(|l| l.contains("\"IP3K-260002\" -> \"PM-26-00018\""))
        .unwrap();
    assert!(removed_edge.contains("style=dashed"), "{removed_edge}");
    let kept_edge = dot
        .lines()
        .find(|l| l.contains("\"IP3K-260002\" -> \"PM-26-00019\""))
        .unwrap();
    assert!(!kept_edge.contains("dashed"));
    let mermaid = stdout_of(ledger.run(&["trace", "IP3K-260002", "--backward", "--mermaid"]));
    assert!(mermaid.starts_with("flowchart LR"));
    assert_eq!(mermaid.matches("-.->").count(), 1, "{mermaid}");
}

/// Every unit and lot the forward genealogy table names, traced from the table and from the
/// records.
fn assert_forward_sources_agree(ledger: &Ledger) -> usize {
    let subjects: Vec<String> = ledger
        .sqlite()
        .prepare("SELECT DISTINCT subject FROM trace_links WHERE subject_kind IN ('unit', 'lot')")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let store = Store::open(&ledger.path).unwrap();
    let mut traced = 0;
    for subject in &subjects {
        // A component installed but never started here is not a unit `resolve` knows.
        let Ok(from_log) = forward_from_log(&store, subject) else {
            continue;
        };
        assert_eq!(forward(&store, subject).unwrap(), from_log, "{subject}");
        traced += 1;
    }
    traced
}

#[test]
fn forward_from_the_kept_genealogy_is_forward_from_the_records() {
    // The hand-built plant has splits, merges, work-order consumption and a rework.
    let plant = Ledger::with_plant();
    assert!(assert_forward_sources_agree(&plant) >= 20);
    let simulated = simulated_plant("120", "4");
    assert!(assert_forward_sources_agree(&simulated) >= 120);
    let json = stdout_of(plant.run(&["trace", "L-PEN-2611-0001", "--forward", "--json"]));
    let from_log = stdout_of(plant.run(&[
        "trace",
        "L-PEN-2611-0001",
        "--forward",
        "--from-log",
        "--json",
    ]));
    assert_eq!(json, from_log);
}

#[test]
fn a_ledger_of_schema_3_gets_its_forward_genealogy_from_migrate() {
    let ledger = Ledger::with_plant();
    let before = stdout_of(ledger.run(&["trace", "L-PEN-2611-0001", "--forward", "--json"]));
    ledger
        .sqlite()
        .execute_batch("DROP TABLE trace_links; PRAGMA user_version = 3;")
        .unwrap();
    ledger.run(&["migrate"]).assert().success();
    let after = stdout_of(ledger.run(&["trace", "L-PEN-2611-0001", "--forward", "--json"]));
    assert_eq!(after, before);
    assert_eq!(ledger.schema_version(), 4);
}

#[test]
fn verify_derived_finds_a_shipment_hidden_from_the_forward_genealogy_and_rebuild_mends_it() {
    let ledger = Ledger::with_plant();
    let before = stdout_of(ledger.run(&["trace", "L-PEN-2611-0001", "--forward"]));
    assert!(before.contains("shipped: "), "{before}");
    // An insider hides a shipment from recalls by deleting its row of the kept genealogy.
    let deleted = ledger
        .sqlite()
        .execute(
            "DELETE FROM trace_links WHERE relation = 'shipped' AND seq = (SELECT MIN(seq) FROM trace_links WHERE relation = 'shipped')",
            [],
        )
        .unwrap();
    assert!(deleted >= 1);
    let hidden = stdout_of(ledger.run(&["trace", "L-PEN-2611-0001", "--forward"]));
    assert_ne!(hidden, before);
    let (code, report) = ledger.verify_json_with(&["--derived"]);
    assert_eq!(code, EXIT_INTEGRITY, "{report}");
    assert_eq!(
        report["derived"]["trace_link_rows_differing"],
        u64::try_from(deleted).unwrap(),
        "{report}"
    );
    assert_eq!(report["derived"]["kpi_rows_differing"], 0, "{report}");
    ledger.run(&["rebuild"]).assert().success();
    assert_eq!(
        stdout_of(ledger.run(&["trace", "L-PEN-2611-0001", "--forward"])),
        before
    );
    let (code, report) = ledger.verify_json_with(&["--derived"]);
    assert_eq!(code, 0, "{report}");
}

/// A backward trace reads where each lot came from, not every device that consumed it: the
/// records it reads name the unit, its components, its work order or its lots' origins.
#[test]
fn a_backward_trace_does_not_read_what_other_devices_consumed() {
    let ledger = simulated_plant("200", "6");
    let store = Store::open(&ledger.path).unwrap();
    let unit: String = ledger
        .sqlite()
        .query_row(
            "SELECT json_extract(event, '$.data.unit') FROM records
             WHERE type = 'unit.released' ORDER BY seq LIMIT 1 OFFSET 50",
            [],
            |r| r.get(0),
        )
        .unwrap();
    store.track_reads();
    let tree = backward(&store, &unit).unwrap();
    let reads = store.take_reads();
    let in_tree: Vec<&str> = tree.walk().iter().map(|n| n.id.as_str()).collect();
    assert!(
        tree.walk().iter().any(|n| n.kind == NodeKind::Lot),
        "{unit}"
    );
    let connection = ledger.sqlite();
    for seq in reads {
        let (event_type, consumer): (String, Option<String>) = connection
            .query_row(
                "SELECT type, json_extract(event, '$.data.unit') FROM records WHERE seq = ?1",
                [seq as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        if event_type == "material.consumed"
            && let Some(consumer) = consumer
        {
            assert!(
                in_tree.contains(&consumer.as_str()),
                "read seq {seq}: {consumer} consumed a lot, and is not in the trace of {unit}"
            );
        }
    }
}

/// A forward trace larger than the output buffer, piped into a reader that stops early: the
/// closed pipe is no error (exit 0), in JSON as in text.
#[test]
fn a_large_trace_into_a_closed_pipe_is_not_an_error() {
    let ledger = Ledger::for_simulation();
    let events = ledger.file("plant.ndjson");
    let mut simulate = traceledger();
    simulate.args([
        "simulate",
        "--units",
        "800",
        "--seed",
        "2",
        "--lot-size",
        "1000",
    ]);
    std::fs::write(&events, stdout_of(simulate)).unwrap();
    ledger
        .run(&["ingest", "--quiet", events.to_str().unwrap()])
        .assert()
        .success();
    let lot: String = ledger
        .sqlite()
        .query_row(
            "SELECT subject FROM trace_links WHERE relation = 'consumed_by_unit'
             GROUP BY subject ORDER BY count(*) DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let json = stdout_of(ledger.run(&["trace", &lot, "--forward", "--json"]));
    // Larger than the 64 KiB the CLI buffers: a write fails while the tree is written out.
    assert!(json.len() > 1 << 17, "{} bytes", json.len());
    let bin = assert_cmd::cargo::cargo_bin("traceledger");
    for format in ["--json", ""] {
        let status = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(
                "set -o pipefail; '{}' --ledger '{}' trace {lot} --forward {format} | head -c 100 > /dev/null",
                bin.display(),
                ledger.path.display()
            ))
            .status()
            .unwrap();
        assert!(status.success(), "{format}");
    }
}

/// Several processes migrating an old ledger at once: one migrates, the others find it done
/// once they have the lock (none fails on a table the first one made).
#[test]
fn a_schema_3_ledger_migrated_by_several_at_once_is_migrated_once() {
    let ledger = Ledger::with_plant();
    ledger
        .sqlite()
        .execute_batch("DROP TABLE trace_links; PRAGMA user_version = 3;")
        .unwrap();
    let start = std::sync::Barrier::new(4);
    std::thread::scope(|scope| {
        let openers: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    start.wait();
                    Store::migrate(&ledger.path).map(|_| ())
                })
            })
            .collect();
        for opener in openers {
            opener.join().unwrap().unwrap();
        }
    });
    assert_eq!(ledger.schema_version(), 4);
}
