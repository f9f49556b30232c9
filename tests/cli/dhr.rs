//! The Device History Record on the hand-built plant: expected answers worked out by hand
//! from fixtures/plant-small.ndjson.

use crate::support::*;
use traceledger::device_history::{ExceptionKind, Origin, Status, Subject, device_history};
use traceledger::store::Store;

fn seq_of(ledger: &Ledger, event_id: &str) -> u64 {
    ledger
        .sqlite()
        .query_row("SELECT seq FROM records WHERE id = ?1", [event_id], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap() as u64
}

#[test]
fn the_reworked_pump_shows_its_failure_its_ncr_its_module_swap_and_exactly_two_exceptions() {
    let ledger = Ledger::with_plant();
    let store = Store::open(&ledger.path).unwrap();
    let dhr = device_history(&store, "IP3K-260002").unwrap();
    let product = dhr.product.as_ref().unwrap();
    assert_eq!(product.product, "INF-3000");
    assert_eq!(product.udi_di.as_deref(), Some("05399123450010"));
    let order = dhr.work_order.as_ref().unwrap();
    assert_eq!(
        (order.routing.as_deref(), order.version.as_deref()),
        (Some("R-INF"), Some("1"))
    );
    // Op 40 failed (flow accuracy -6.2 % against -5..5), then passed after rework: the failure
    // and the out-of-limits value are the exceptions, nothing else.
    let rules: Vec<&str> = dhr.exceptions.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        rules,
        ["failed_step", "out_of_limits"],
        "{:#?}",
        dhr.exceptions
    );
    assert_eq!(dhr.exceptions[1].op.as_deref(), Some("40"));
    assert!(dhr.exceptions[1].detail.contains("flow_accuracy -6.2"));
    assert_eq!(dhr.exceptions[0].seq, dhr.exceptions[1].seq);
    let op40 = dhr.operations.iter().find(|o| o.op == "40").unwrap();
    let flow = &op40.measurements[0];
    assert_eq!(
        (flow.name.as_str(), flow.value, flow.in_limits),
        ("flow_accuracy", Some(-6.2), Some(false))
    );
    assert_eq!((flow.lsl, flow.usl), (Some(-5.0), Some(5.0)));
    // The NCR: opened, dispositioned rework by QA (signed), reworked.
    assert_eq!(dhr.nonconformances.len(), 1);
    let ncr = &dhr.nonconformances[0];
    let disposition = ncr.disposition.as_ref().unwrap();
    assert_eq!(disposition.disposition, "rework");
    assert_eq!(disposition.by.as_ref().unwrap().id, "p-1201");
    assert_eq!(disposition.signatures[0].meaning, "approved");
    assert_eq!(ncr.rework.len(), 1);
    // The module swap: the first module removed, the replacement installed and in place.
    let removed: Vec<&str> = dhr
        .components
        .iter()
        .filter(|c| c.removed.is_some())
        .map(|c| c.component.as_str())
        .collect();
    assert_eq!(removed, ["PM-26-00018"]);
    let last = dhr.components.last().unwrap();
    assert_eq!(
        (last.component.as_str(), last.origin, last.removed.is_none()),
        ("PM-26-00019", Origin::Ledger, true)
    );
    let release = dhr.release.as_ref().unwrap();
    assert_eq!(
        release.by.as_ref().unwrap().name.as_deref(),
        Some("Siobhán O'Brien")
    );
    assert_eq!(release.signatures[0].meaning, "released");
    assert_eq!(dhr.status, Status::Released);
    // Every fact cites a real record.
    let count = ledger.count() as u64;
    for seq in dhr.cited_seqs() {
        assert!(seq >= 1 && seq <= count);
    }
}

#[test]
fn a_clean_shipped_device_has_no_exceptions_and_shows_its_life_after_shipment() {
    let ledger = Ledger::with_plant();
    let store = Store::open(&ledger.path).unwrap();
    let dhr = device_history(&store, "IP3K-260001").unwrap();
    assert!(dhr.exceptions.is_empty(), "{:#?}", dhr.exceptions);
    assert_eq!(dhr.shipments[0].customer, "CUST-UHG");
    assert_eq!(dhr.complaints[0].complaint, "CMP-27-0003");
    assert_eq!(dhr.services[0].service, "SRV-27-0011");
}

#[test]
fn flagged_facts_become_exceptions_and_corrections_sit_next_to_what_they_correct() {
    let ledger = Ledger::with_plant();
    // A step out of its routing's limits but recorded as passed, on an unqualified operator's
    // watch, then corrected; and a release while an NCR is still open.
    let lines = [
        r#"{"id":"t-dhr-1","type":"unit.started","occurred_at":"2026-11-22T08:00:00Z","site":"GAL","source":"station:GAL-ASM-03","actor":"p-1042","data":{"unit":"IP3K-269999","product":"INF-3000","work_order":"WO-GAL-26-0118","udi":"(01)05399123450010(11)261122(21)IP3K-269999"}}"#,
        r#"{"id":"t-dhr-2","type":"step.completed","occurred_at":"2026-11-22T09:00:00Z","site":"GAL","source":"station:GAL-FT-02","actor":"p-1042","data":{"unit":"IP3K-269999","op":"40","station":"GAL-FT-02","result":"pass","equipment":["EQ-FL-0207"],"measurements":[{"name":"flow_accuracy","value":7.5,"unit":"%"}]}}"#,
        r#"{"id":"t-dhr-3","type":"correction.recorded","occurred_at":"2026-11-22T09:30:00Z","site":"GAL","source":"cli:p-1201","actor":"p-1201","data":{"corrects":"t-dhr-2","reason":"value misread","changes":{"data.measurements.0.value":4.5}}}"#,
        r#"{"id":"t-dhr-4","type":"nonconformance.opened","occurred_at":"2026-11-22T10:00:00Z","site":"GAL","source":"station:GAL-FT-02","actor":"p-1043","data":{"ncr":"NCR-T-1","unit":"IP3K-269999","description":"scratch on housing"}}"#,
        r#"{"id":"t-dhr-5","type":"unit.released","occurred_at":"2026-11-22T11:00:00Z","site":"GAL","source":"cli:p-1201","actor":"p-1201","data":{"unit":"IP3K-269999"}}"#,
    ];
    let lines: Vec<String> = lines
        .iter()
        .map(|line| match line {
            l if l.contains("correction.recorded") => signed(l, "k-1201", "p-1201", "authored"),
            l if l.contains("unit.released") => signed(l, "k-1201", "p-1201", "released"),
            l => (*l).to_owned(),
        })
        .collect();
    let input = ledger.file("dhr.ndjson");
    std::fs::write(&input, lines.join("\n")).unwrap();
    ledger
        .run(&["ingest", input.to_str().unwrap()])
        .assert()
        .success();
    let store = Store::open(&ledger.path).unwrap();
    let dhr = device_history(&store, "IP3K-269999").unwrap();
    let found: Vec<(Option<u64>, &str)> = dhr
        .exceptions
        .iter()
        .map(|e| (e.seq, e.kind.as_str()))
        .collect();
    let step = seq_of(&ledger, "t-dhr-2");
    let release = seq_of(&ledger, "t-dhr-5");
    // The correction set 4.5 %, inside -5..5: the value in force is judged, so no
    // out_of_limits, while the original 7.5 stays visible in the correction.
    assert!(!found.contains(&(Some(step), "out_of_limits")), "{found:?}");
    for want in [
        (Some(step), "operator_not_qualified"),
        (Some(release), "released_with_open_ncr"),
        (None, "operation_not_performed"),
    ] {
        assert!(found.contains(&want), "{want:?} missing from {found:?}");
    }
    assert_eq!(dhr.corrections.len(), 1);
    let correction = &dhr.corrections[0];
    assert_eq!(
        (correction.corrects, correction.corrects_type.as_str()),
        (step, "step.completed")
    );
    let change = &correction.changes[0];
    assert_eq!(change.path, "/data/measurements/0/value");
    assert_eq!(change.old, Some(serde_json::json!(7.5)));
    assert_eq!(change.new, serde_json::json!(4.5));
    assert_eq!(correction.signatures[0].meaning, "authored");
    // The value in force is the corrected one, marked as corrected.
    let flow = &dhr.operations[0].measurements[0];
    assert_eq!(flow.value, Some(4.5));
    assert_eq!(flow.in_limits, Some(true));
    assert_eq!(flow.corrected_by, [correction.seq]);
}

#[test]
fn the_dhr_json_is_deterministic_and_an_unknown_unit_is_a_clear_error() {
    let ledger = Ledger::with_plant();
    let first = stdout_of(ledger.run(&["dhr", "IP3K-260002", "--json"]));
    let second = stdout_of(ledger.run(&["dhr", "IP3K-260002", "--json"]));
    assert_eq!(first, second);
    let value: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(value["format"], "traceledger.dhr/1");
    assert_eq!(value["id"], "IP3K-260002");
    let output = ledger.run(&["dhr", "NOPE"]).output().unwrap();
    assert_eq!(output.status.code(), Some(EXIT_BAD_INPUT));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("NOPE is neither a unit nor a lot the ledger knows")
    );
}

#[test]
fn the_sites_configuration_narrows_the_routings_limits() {
    let ledger = Ledger::with_plant();
    let store = Store::open(&ledger.path).unwrap();
    // R-PMOD v1 allows flow_rate 98..102; Penang configured 98.5..101.5 for op 30.
    let dhr = device_history(&store, "PM-26-00017").unwrap();
    let op30 = dhr.operations.iter().find(|o| o.op == "30").unwrap();
    let flow = op30
        .measurements
        .iter()
        .find(|m| m.name == "flow_rate")
        .unwrap();
    assert_eq!(
        (flow.value, flow.lsl, flow.usl),
        (Some(99.6), Some(98.5), Some(101.5))
    );
}

#[test]
fn the_html_page_is_self_contained_escaped_and_carries_the_exceptions() {
    let ledger = Ledger::with_plant();
    let html = stdout_of(ledger.run(&["dhr", "IP3K-260002", "--html"]));
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    // Nothing to fetch: no scripts, no links, no images.
    for forbidden in ["<script", "src=", "href=", "http://", "https://"] {
        assert!(!html.contains(forbidden), "{forbidden}");
    }
    // The apostrophe in the QA reviewer's name is escaped, the exceptions are listed, and
    // the page ends with the reviewer's sign-off block.
    assert!(html.contains("Siobhán O&#39;Brien"));
    assert!(html.contains("<h2 id=\"exceptions\">Exceptions (2)</h2>"));
    assert!(html.contains("out_of_limits: op 40: flow_accuracy -6.2 % outside [-5..5]"));
    // Exceptions come before the operations.
    assert!(html.find("Exceptions (2)").unwrap() < html.find("Operations (").unwrap());
    assert!(html.contains("<tr class=\"failed\">"));
    assert!(html.contains("Reviewed by (printed name)"));
}

#[test]
fn an_implantables_record_shows_its_clean_room_and_flags_a_bad_reading() {
    let ledger = Ledger::with_plant();
    let store = Store::open(&ledger.path).unwrap();
    // IPT-26-000101 was worked in CR-GAL-ISO7 from about 08:00 to 11:40 on 25 November: the
    // 07:30 reading (the last before) and the 09:30 and 11:30 readings are its environment.
    let dhr = device_history(&store, "IPT-26-000101").unwrap();
    assert_eq!(dhr.environment.len(), 1);
    let times: Vec<&str> = dhr.environment[0]
        .readings
        .iter()
        .map(|r| &r.occurred_at[11..16])
        .collect();
    assert_eq!(times, ["07:30", "09:30", "11:30"], "{:#?}", dhr.environment);
    assert!(dhr.exceptions.is_empty(), "{:#?}", dhr.exceptions);
    drop(store);

    // A late upload from the particle counter shows an excursion at 10:30.
    let reading = r#"{"id":"t-env-1","type":"environment.recorded","occurred_at":"2026-11-25T10:30:00Z","site":"GAL","source":"gateway:GAL-BMS","data":{"area":"CR-GAL-ISO7","sensor":"CR7-EMS-01","measurements":[{"name":"particles_0_5um","value":400000,"unit":"/m3","usl":352000}]}}"#;
    let input = ledger.file("env.ndjson");
    std::fs::write(&input, reading).unwrap();
    ledger
        .run(&["ingest", input.to_str().unwrap()])
        .assert()
        .success();
    let store = Store::open(&ledger.path).unwrap();
    let dhr = device_history(&store, "IPT-26-000101").unwrap();
    let rules: Vec<&str> = dhr.exceptions.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(rules, ["environment_out_of_limits"]);
    // A device that is not implantable carries no environment section.
    assert!(
        device_history(&store, "IP3K-260001")
            .unwrap()
            .environment
            .is_empty()
    );
}

#[test]
fn a_lot_of_kits_has_a_record_with_its_work_orders_steps_and_materials() {
    let ledger = Ledger::with_plant();
    let store = Store::open(&ledger.path).unwrap();
    let dhr = device_history(&store, "CK7F-2611A").unwrap();
    assert_eq!(dhr.subject, Subject::Lot);
    let order = dhr.work_order.as_ref().unwrap();
    assert_eq!(order.work_order, "WO-GAL-26-0121");
    let quantities = dhr.quantities.as_ref().unwrap();
    assert_eq!(quantities.ordered.as_deref(), Some("200"));
    assert_eq!(quantities.produced.as_deref(), Some("198"));
    assert_eq!(quantities.not_produced.as_deref(), Some("2"));
    // Three operations of R-CK, three materials (one a split half, one a merged lot).
    assert_eq!(dhr.operations.len(), 3);
    let materials: Vec<(&str, &str, &str)> = dhr
        .materials
        .iter()
        .map(|m| {
            (
                m.lot.as_str(),
                m.quantity.as_deref().unwrap(),
                m.op.as_deref().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        materials,
        [
            ("L-GAL-2611-0103-A", "241.2", "10"),
            ("L-GAL-2611-0110", "201", "10"),
            ("L-GAL-2611-0107", "203", "20")
        ]
    );
    assert_eq!(dhr.shipments[0].customer, "CUST-MEDLOG-DE");
    assert!(dhr.exceptions.is_empty(), "{:#?}", dhr.exceptions);
}

#[test]
fn a_step_out_of_routing_order_and_unreconciled_labels_are_exceptions() {
    let ledger = Ledger::with_plant();
    let lines = [
        r#"{"id":"t-ord-1","type":"unit.started","occurred_at":"2026-11-22T08:00:00Z","site":"GAL","source":"station:GAL-ASM-03","actor":"p-1042","data":{"unit":"IP3K-268888","product":"INF-3000","work_order":"WO-GAL-26-0118","udi":"(01)05399123450010(11)261122(21)IP3K-268888"}}"#,
        r#"{"id":"t-ord-2","type":"step.completed","occurred_at":"2026-11-22T09:00:00Z","site":"GAL","source":"station:GAL-ASM-04","actor":"p-1042","data":{"unit":"IP3K-268888","op":"20","station":"GAL-ASM-04","result":"pass"}}"#,
        r#"{"id":"t-ord-3","type":"label.reconciled","occurred_at":"2026-11-22T17:00:00Z","site":"GAL","source":"station:GAL-PKG-01","actor":"p-1043","data":{"work_order":"WO-GAL-26-0118","printed":5,"applied":3,"destroyed":1}}"#,
    ];
    let input = ledger.file("order.ndjson");
    std::fs::write(&input, lines.join("\n")).unwrap();
    ledger
        .run(&["ingest", input.to_str().unwrap()])
        .assert()
        .success();
    let store = Store::open(&ledger.path).unwrap();
    let dhr = device_history(&store, "IP3K-268888").unwrap();
    let step = seq_of(&ledger, "t-ord-2");
    let reconciled = seq_of(&ledger, "t-ord-3");
    let found: Vec<(Option<u64>, &str)> = dhr
        .exceptions
        .iter()
        .map(|e| (e.seq, e.kind.as_str()))
        .collect();
    assert!(found.contains(&(Some(step), "out_of_order")), "{found:?}");
    assert!(
        found.contains(&(Some(reconciled), "labels_not_reconciled")),
        "{found:?}"
    );
    let text = &dhr
        .exceptions
        .iter()
        .find(|e| e.kind == ExceptionKind::OutOfOrder)
        .unwrap()
        .detail;
    assert_eq!(text, "op 20 done before op 10 had passed");
}

#[test]
fn a_ledger_of_schema_4_is_refused_until_migrated_and_then_gets_the_type_and_the_sensors() {
    let ledger = Ledger::with_plant();
    let before = stdout_of(ledger.run(&["dhr", "IPT-26-000101", "--json"]));
    // Back to schema 4's layout: the entity index without the type, the readings without
    // their sensor.
    ledger
        .sqlite()
        .execute_batch(
            "CREATE TABLE entity_refs_4 (entity TEXT NOT NULL, kind TEXT NOT NULL, role INTEGER NOT NULL,
                 seq INTEGER NOT NULL, PRIMARY KEY (entity, kind, role, seq)) WITHOUT ROWID;
             INSERT INTO entity_refs_4 SELECT entity, kind, role, seq FROM entity_refs;
             DROP TABLE entity_refs; ALTER TABLE entity_refs_4 RENAME TO entity_refs;
             CREATE TABLE area_readings_4 (area TEXT NOT NULL, at_millis INTEGER NOT NULL,
                 seq INTEGER NOT NULL, PRIMARY KEY (area, at_millis, seq)) WITHOUT ROWID;
             INSERT INTO area_readings_4 SELECT area, at_millis, seq FROM area_readings;
             DROP TABLE area_readings; ALTER TABLE area_readings_4 RENAME TO area_readings;
             PRAGMA user_version = 4;",
        )
        .unwrap();
    // Read commands never upgrade a ledger: they refuse it and say what to run.
    let refused = ledger
        .run(&["dhr", "IPT-26-000101", "--json"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(EXIT_ENVIRONMENT));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("traceledger migrate"));
    assert_eq!(ledger.schema_version(), 4);
    ledger.run(&["migrate"]).assert().success();
    let after = stdout_of(ledger.run(&["dhr", "IPT-26-000101", "--json"]));
    assert_eq!(after, before);
    assert_eq!(ledger.schema_version(), 5);
    let connection = ledger.sqlite();
    let untyped: i64 = connection
        .query_row(
            "SELECT COUNT(*) FROM entity_refs e JOIN records r ON r.seq = e.seq WHERE e.type != r.type",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(untyped, 0);
    let sensors: i64 = connection
        .query_row(
            "SELECT COUNT(DISTINCT sensor) FROM area_readings",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert!(sensors > 0);
    drop(connection);
    let (code, report) = ledger.verify_json_with(&["--derived"]);
    assert_eq!(code, 0, "{report}");
}
