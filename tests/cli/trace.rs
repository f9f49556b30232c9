//! Genealogy on the hand-built plant (expected answers read off fixtures/plant-small.ndjson by
//! hand) and, for invariants, on a simulated plant.

use crate::support::*;
use traceledger::genealogy::{
    DeviceStatus, LinkKind, NodeKind, TraceNode, UdiAgreement, backward, component_udi_agreement,
    forward, forward_from_log,
};
use traceledger::store::Store;

fn ids(tree: &TraceNode) -> Vec<&str> {
    tree.walk().iter().map(|n| n.id.as_str()).collect()
}

fn find<'t>(tree: &'t TraceNode, id: &str) -> &'t TraceNode {
    tree.walk()
        .into_iter()
        .find(|n| n.id == id && !n.shown_above)
        .unwrap_or_else(|| panic!("{id} not in the trace"))
}

/// The hand-built plant, then fixtures/trace-multisite.ndjson: pump modules made at Penang
/// from a split lot and a merged one, installed at Galway with the UDIs the stations scanned
/// (GS separators, symbology identifiers), one scan of the wrong product's label, one module
/// removed again.
fn multisite() -> Ledger {
    let ledger = Ledger::with_plant();
    ledger
        .run(&[
            "ingest",
            fixture("trace-multisite.ndjson").to_str().unwrap(),
        ])
        .assert()
        .success();
    ledger
}

#[test]
fn backward_through_a_reworked_pump_shows_the_removed_module_as_removed() {
    let ledger = Ledger::with_plant();
    let store = Store::open(&ledger.path).unwrap();
    let tree = backward(&store, "IP3K-260002").unwrap().root;
    assert_eq!(
        (tree.kind, tree.item.as_deref()),
        (NodeKind::Unit, Some("INF-3000"))
    );
    // The pump module installed first was removed in rework (NCR-GAL-26-0107); its
    // replacement is in place. Both are shown, the first as removed and not expanded: its
    // lots are not part of the unit.
    let removed = find(&tree, "PM-26-00018");
    assert!(removed.removed_seq.is_some() && removed.link.relation == LinkKind::Component);
    assert!(removed.children.is_empty());
    let present = find(&tree, "PM-26-00019");
    assert_eq!(present.removed_seq, None);
    // Made at Penang from two supplier lots; the housing lot consumed at Galway; the battery
    // pack bought in, known by its UDI.
    let motor = find(&tree, "L-PEN-2611-0001");
    assert_eq!(motor.facts.supplier_lot.as_deref(), Some("MX24-261104A"));
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
    let tree = backward(&store, "CK7F-2611A").unwrap().root;
    let material = &find(&tree, "L-GAL-2611-0110").link;
    assert_eq!(
        material.describe(),
        "material 201 EA (op 10) (work order WO-GAL-26-0121)"
    );
    assert_eq!(
        (material.relation, material.work_order.as_deref()),
        (LinkKind::Material, Some("WO-GAL-26-0121"))
    );
    for (id, link) in [
        ("L-GAL-2611-0105", LinkKind::MergedFrom),
        ("L-GAL-2611-0106", LinkKind::MergedFrom),
        ("L-GAL-2611-0103", LinkKind::SplitFrom),
    ] {
        assert_eq!(find(&tree, id).link.relation, link, "{id}");
    }
}

#[test]
fn forward_from_a_supplier_lot_reaches_the_shipped_devices_and_their_customers() {
    let ledger = Ledger::with_plant();
    let store = Store::open(&ledger.path).unwrap();
    let tree = forward(&store, "L-PEN-2611-0001").unwrap().root;
    let shipped = find(&tree, "IP3K-260001");
    let shipment = &shipped.facts.shipments[0];
    assert_eq!(
        (
            shipment.shipment.as_str(),
            shipment.customer.as_str(),
            shipment.quantity.as_deref()
        ),
        ("SHP-GAL-26-0450", "CUST-UHG", Some("1"))
    );
    assert_eq!(shipped.facts.complaints[0].complaint, "CMP-27-0003");
    assert!(ids(&tree).contains(&"IP3K-260002"));

    let kits = forward(&store, "L-GAL-2611-0105").unwrap();
    let lot = find(&kits.root, "CK7F-2611A");
    assert_eq!(lot.facts.shipments[0].customer, "CUST-MEDLOG-DE");
    let summary = kits.summary.unwrap();
    assert_eq!(summary.finished_lots[0].lot, "CK7F-2611A");
    assert_eq!(summary.finished_lots[0].status, DeviceStatus::Shipped);
    assert_eq!(summary.customers[0].lots, ["CK7F-2611A"]);
}

#[test]
fn a_udi_names_its_device_and_an_unknown_id_is_a_clear_error() {
    let ledger = Ledger::with_plant();
    let store = Store::open(&ledger.path).unwrap();
    let by_udi = backward(&store, "(01)05399123450010(11)261120(21)IP3K-260001").unwrap();
    assert_eq!(by_udi.root.id, "IP3K-260001");
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
    assert_eq!(value["format"], "traceledger.trace/1");
    assert_eq!(value["direction"], "forward");
    assert_eq!(value["root"]["id"], "L-PEN-2611-0001");
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
        let back = backward(&store, unit).unwrap().root;
        let lots: Vec<&str> = back
            .walk()
            .iter()
            .filter(|n| n.kind == NodeKind::Lot)
            .map(|n| n.id.as_str())
            .collect();
        assert!(!lots.is_empty(), "{unit} has no lots");
        for lot in lots {
            let fwd = forward(&store, lot).unwrap().root;
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
    // The hand-built plant has splits, merges, work-order consumption and a rework; the
    // multi-site part installations with scanned UDIs and a removal.
    let plant = multisite();
    assert!(assert_forward_sources_agree(&plant) >= 30);
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
    assert_eq!(ledger.schema_version(), 5);
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
    let tree = backward(&store, &unit).unwrap().root;
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
    assert_eq!(ledger.schema_version(), 5);
}

/// Issue 11 §2: a module made at Penang, installed at Galway with the UDI the station scanned
/// (symbology identifier, GS separators), is descended: its lots are the pump's lots.
#[test]
fn a_component_made_at_another_site_and_installed_with_its_scanned_udi_is_descended() {
    let ledger = multisite();
    let store = Store::open(&ledger.path).unwrap();
    let tree = backward(&store, "IP3K-270001").unwrap().root;
    let module = find(&tree, "PM-27-00101");
    assert_eq!(
        (module.kind, module.item.as_deref()),
        (NodeKind::Unit, Some("PMOD-100"))
    );
    assert_eq!(module.link.relation, LinkKind::Component);
    assert!(
        module
            .link
            .component_udi
            .as_deref()
            .unwrap()
            .contains('\u{1d}')
    );
    assert_eq!(module.udi_mismatch, None);
    // Its motor lot, split from a supplier lot received at Penang.
    let part = find(module, "L-PEN-2702-0001-A");
    let received = find(part, "L-PEN-2702-0001");
    assert_eq!(received.link.relation, LinkKind::SplitFrom);
    assert_eq!(received.facts.supplier_lot.as_deref(), Some("MX24-270128C"));
    // The bought-in battery of the older pump stays external: no unit.started knows it.
    let older = backward(&store, "IP3K-260001").unwrap().root;
    assert_eq!(find(&older, "BP7-88213").kind, NodeKind::External);
}

/// A scanned label of another product (the pump's own GTIN with the module's serial) is a
/// mismatch on the node, not a silent match; the component is still descended.
#[test]
fn a_scanned_udi_that_disagrees_with_the_known_component_is_flagged() {
    let ledger = multisite();
    let store = Store::open(&ledger.path).unwrap();
    let tree = backward(&store, "IP3K-270002").unwrap().root;
    let module = find(&tree, "PM-27-00102");
    assert_eq!(module.kind, NodeKind::Unit);
    let mismatch = module.udi_mismatch.as_deref().unwrap();
    assert_eq!(
        (
            mismatch.scanned_di.as_deref(),
            mismatch.scanned_serial.as_deref(),
            mismatch.expected_di.as_deref(),
            mismatch.expected_serial.as_str()
        ),
        (
            Some("05399123450010"),
            Some("PM-27-00102"),
            Some("05399123450027"),
            "PM-27-00102"
        )
    );
    // Merged from the other half of the split lot and a second supplier lot, both ways up.
    let merged = find(&tree, "L-PEN-2702-0010");
    let sources: Vec<(&str, LinkKind)> = merged
        .children
        .iter()
        .map(|c| (c.id.as_str(), c.link.relation))
        .collect();
    assert_eq!(
        sources,
        [
            ("L-PEN-2702-0001-B", LinkKind::MergedFrom),
            ("L-PEN-2702-0002", LinkKind::MergedFrom)
        ]
    );
    assert_eq!(
        find(&tree, "L-PEN-2702-0001").link.relation,
        LinkKind::SplitFrom
    );
    let text = stdout_of(ledger.run(&["trace", "IP3K-270002", "--backward"]));
    assert!(
        text.contains("UDI MISMATCH: scanned DI 05399123450010 serial PM-27-00102, expected DI 05399123450027 serial PM-27-00102"),
        "{text}"
    );
    // The same comparison, for the DHR.
    assert!(matches!(
        component_udi_agreement(&store, "PM-27-00102", "(01)05399123450010(21)PM-27-00102")
            .unwrap(),
        UdiAgreement::Mismatch(_)
    ));
    assert_eq!(
        component_udi_agreement(
            &store,
            "PM-27-00101",
            "]d2\u{1d}010539912345002710WO-PEN-27-0020\u{1d}21PM-27-00101"
        )
        .unwrap(),
        UdiAgreement::Agrees
    );
    assert_eq!(
        component_udi_agreement(&store, "BP7-88213", "(01)04012345678901(21)BP7-88213").unwrap(),
        UdiAgreement::External
    );
}

/// A module removed in rework is shown as removed and not expanded: its lots are not part of
/// the pump, and the pump is not in the module's lots' recall scope.
#[test]
fn a_removed_component_and_its_lots_are_not_part_of_the_unit() {
    let ledger = multisite();
    let store = Store::open(&ledger.path).unwrap();
    let tree = backward(&store, "IP3K-270003").unwrap().root;
    let module = find(&tree, "PM-27-00103");
    assert!(module.removed_seq.is_some());
    assert!(module.children.is_empty());
    assert!(!ids(&tree).contains(&"L-PEN-2702-0001-A"));

    let scope = forward(&store, "L-PEN-2702-0001").unwrap();
    let pump = find(&scope.root, "IP3K-270003");
    assert!(pump.removed_seq.is_some() && !pump.in_scope());
    let csv = stdout_of(ledger.run(&["trace", "L-PEN-2702-0001", "--forward", "--csv"]));
    assert!(!csv.contains("IP3K-270003"), "{csv}");
}

/// Issue 11 §2 and 12 §4: from a supplier lot at Penang, through a split, a merge and
/// installations across sites, to the pumps at Galway and their customers, counted.
#[test]
fn forward_from_a_split_and_merged_lot_reaches_the_devices_made_at_another_site() {
    let ledger = multisite();
    let store = Store::open(&ledger.path).unwrap();
    let trace = forward(&store, "L-PEN-2702-0001").unwrap();
    for pump in ["IP3K-270001", "IP3K-270002"] {
        let node = find(&trace.root, pump);
        assert!(node.in_scope(), "{pump}");
        assert_eq!(node.link.relation, LinkKind::InstalledIn);
    }
    // The scan of the wrong label is flagged on the installation here too.
    assert!(find(&trace.root, "IP3K-270002").udi_mismatch.is_some());
    assert_eq!(find(&trace.root, "IP3K-270001").udi_mismatch, None);
    let summary = trace.summary.as_ref().unwrap();
    // Three modules (shipped to Galway) and two pumps: one shipped, one in process.
    assert_eq!(
        (
            summary.devices.total,
            summary.devices.shipped,
            summary.devices.in_process,
            summary.devices.released,
            summary.devices.scrapped
        ),
        (5, 4, 1, 0, 0)
    );
    let customers: Vec<(&str, u64, Vec<&str>)> = summary
        .customers
        .iter()
        .map(|c| {
            (
                c.customer.as_str(),
                c.devices,
                c.shipments.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        customers,
        [
            ("CUST-UHG", 1, vec!["SHP-GAL-27-0012"]),
            ("TL-GAL", 3, vec!["SHP-PEN-27-0031"])
        ]
    );
    assert_eq!(summary.open_complaints.len(), 1);
    assert_eq!(summary.open_complaints[0].complaint, "CMP-27-0009");
    assert_eq!(summary.open_complaints[0].subject, "IP3K-270001");
    // Text shows the summary first.
    let text = stdout_of(ledger.run(&["trace", "L-PEN-2702-0001", "--forward"]));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "forward trace of lot L-PEN-2702-0001", "{text}");
    assert_eq!(
        lines[1],
        "devices affected: 5 (in process 1, released 0, shipped 4, scrapped 0)"
    );
    assert!(
        text.contains("  CUST-UHG: 1 device; shipment SHP-GAL-27-0012"),
        "{text}"
    );
    assert!(
        text.contains("  CMP-27-0009 (unit IP3K-270001, seq "),
        "{text}"
    );
}

/// The recall notice's list: one row per affected device, RFC 4180.
#[test]
fn forward_csv_lists_each_affected_device_once_with_its_latest_shipment() {
    let ledger = multisite();
    let csv = stdout_of(ledger.run(&["trace", "L-PEN-2702-0001", "--forward", "--csv"]));
    assert!(csv.ends_with("\r\n"));
    let rows: Vec<&str> = csv.split("\r\n").filter(|r| !r.is_empty()).collect();
    assert_eq!(
        rows[0],
        "serial,udi,product,status,shipment,customer,ship_date"
    );
    assert_eq!(rows.len(), 6, "{csv}");
    // A scanned UDI holds GS separators: quoted.
    assert!(rows.contains(
        &"IP3K-270001,]C101053991234500101127020821IP3K-270001,INF-3000,shipped,SHP-GAL-27-0012,CUST-UHG,2027-02-10"
    ), "{csv}");
    assert!(rows.contains(
        &"PM-27-00101,\"]d201053991234500271127020210WO-PEN-27-0020\u{1d}21PM-27-00101\",PMOD-100,shipped,SHP-PEN-27-0031,TL-GAL,2027-02-03"
    ), "{csv}");
    assert!(
        rows.contains(
            &"IP3K-270002,]C101053991234500101127020821IP3K-270002,INF-3000,in_process,,,"
        ),
        "{csv}"
    );
    let serials: Vec<&str> = rows[1..]
        .iter()
        .map(|r| r.split(',').next().unwrap())
        .collect();
    let mut unique = serials.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), serials.len(), "{csv}");
    // A backward trace has no recall list.
    let output = ledger
        .run(&["trace", "IP3K-270001", "--backward", "--csv"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(EXIT_BAD_INPUT));
}

/// `trace --json` is the model, and the model has a schema: real outputs, both directions,
/// validate against schemas/output/trace.schema.json.
#[test]
fn trace_json_validates_against_its_schema() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("schemas/output/trace.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let ledger = multisite();
    let mut checked = 0;
    for args in [
        ["L-PEN-2702-0001", "--forward"],
        ["L-PEN-2611-0001", "--forward"],
        ["L-GAL-2611-0105", "--forward"],
        ["IP3K-270002", "--backward"],
        ["IP3K-270003", "--backward"],
        ["IP3K-260002", "--backward"],
        ["CK7F-2611A", "--backward"],
    ] {
        let json = stdout_of(ledger.run(&["trace", args[0], args[1], "--json"]));
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{args:?}: {errors:?}");
        // Typed all the way down: what the schema says is what a reader gets back.
        let trace: traceledger::genealogy::Trace = serde_json::from_value(value).unwrap();
        assert_eq!(trace.format, "traceledger.trace/1");
        checked += 1;
    }
    assert_eq!(checked, 7);
    // The schema is not vacuous: a shipment as prose is refused.
    let mut bad: serde_json::Value = serde_json::from_str(&stdout_of(ledger.run(&[
        "trace",
        "L-PEN-2702-0001",
        "--forward",
        "--json",
    ])))
    .unwrap();
    bad["summary"]["customers"][0]["shipments"] = serde_json::json!("SHP-1 to CUST-A");
    assert!(!validator.is_valid(&bad));
}

/// Issue 12 §2 for traces: a scanned label resolves by DI and serial; another product's GTIN
/// with a matching serial is refused with both DIs named, not traced as our device.
#[test]
fn a_udi_with_another_products_di_is_refused_naming_both() {
    let ledger = multisite();
    let scanned = "]d2010539912345001011270208\u{1d}21IP3K-270001";
    let text = stdout_of(ledger.run(&["trace", scanned, "--forward"]));
    assert!(
        text.starts_with("forward trace of unit IP3K-270001"),
        "{text}"
    );
    let wrong = "(01)05399123450027(21)IP3K-270001";
    let output = ledger
        .run(&["trace", wrong, "--backward"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(EXIT_BAD_INPUT));
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(
        error.contains("05399123450027") && error.contains("05399123450010"),
        "{error}"
    );
}
