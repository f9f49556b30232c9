//! The DHR on a plant's real shape (issue 11): components made at another site of the ledger
//! and installed with their scanned UDIs, corrections applied and judged, time as an instant,
//! failed label checks, and the JSON checked against its published schema.

use crate::support::*;
use serde_json::{Value, json};
use traceledger::device_history::{DeviceHistory, ExceptionKind, Origin, device_history};
use traceledger::store::Store;

const GS: char = '\u{1d}';

fn event(id: &str, event_type: &str, at: &str, site: &str, actor: &str, data: Value) -> String {
    json!({"id": id, "type": event_type, "occurred_at": at, "site": site,
        "source": format!("station:{site}-T"), "actor": actor, "data": data})
    .to_string()
}

fn ingest(ledger: &Ledger, name: &str, lines: &[String]) {
    let input = ledger.file(name);
    std::fs::write(&input, lines.join("\n")).unwrap();
    ledger
        .run(&["ingest", input.to_str().unwrap()])
        .assert()
        .success();
}

fn dhr(ledger: &Ledger, id: &str) -> DeviceHistory {
    let store = Store::open(&ledger.path).unwrap();
    device_history(&store, id).unwrap()
}

fn seq_of(ledger: &Ledger, event_id: &str) -> u64 {
    ledger
        .sqlite()
        .query_row("SELECT seq FROM records WHERE id = ?1", [event_id], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap() as u64
}

fn kinds(history: &DeviceHistory) -> Vec<(&'static str, Option<u64>, Option<&str>)> {
    history
        .exceptions
        .iter()
        .map(|e| (e.kind.as_str(), e.seq, e.component.as_deref()))
        .collect()
}

/// A pump module made at Penang (op 30 flow rate out of its limits), and a GAL pump.
fn module_and_pump(module: &str, pump: &str, tag: &str) -> Vec<String> {
    let pen = |n: &str, t: &str, at: &str, data: Value| {
        event(&format!("{tag}-{n}"), t, at, "PEN", "p-2001", data)
    };
    vec![
        pen(
            "ms",
            "unit.started",
            "2026-11-18T08:00:00+08:00",
            json!({"unit": module, "product": "PMOD-100", "work_order": "WO-PEN-26-0311",
                   "udi": format!("(01)05399123450027(11)261118(21){module}")}),
        ),
        pen(
            "s10",
            "step.completed",
            "2026-11-18T09:00:00+08:00",
            json!({"unit": module, "op": "10", "station": "PEN-ASM-01", "result": "pass", "equipment": ["EQ-TQ-2104"]}),
        ),
        pen(
            "s20",
            "step.completed",
            "2026-11-18T09:20:00+08:00",
            json!({"unit": module, "op": "20", "station": "PEN-ASM-02", "result": "pass"}),
        ),
        pen(
            "s30",
            "step.completed",
            "2026-11-18T09:50:00+08:00",
            json!({"unit": module, "op": "30", "station": "PEN-FT-01", "result": "pass", "equipment": ["EQ-FL-2207"],
                   "measurements": [{"name": "flow_rate", "value": 103.0, "unit": "mL/h"}]}),
        ),
        event(
            &format!("{tag}-ps"),
            "unit.started",
            "2026-11-22T08:00:00Z",
            "GAL",
            "p-1042",
            json!({"unit": pump, "product": "INF-3000", "work_order": "WO-GAL-26-0118",
                   "udi": format!("]d20105399123450010{GS}21{pump}{GS}11261122")}),
        ),
    ]
}

fn installed(id: &str, pump: &str, module: &str, scanned: &str) -> String {
    event(
        id,
        "component.installed",
        "2026-11-22T08:10:00Z",
        "GAL",
        "p-1042",
        json!({"unit": pump, "component": module, "component_udi": scanned, "op": "10"}),
    )
}

#[test]
fn a_component_made_at_another_site_and_scanned_at_installation_brings_its_exceptions() {
    let ledger = Ledger::with_plant();
    let mut lines = module_and_pump("PM-26-00020", "IP3K-260003", "x1");
    // Scanned with GS separators and the DataMatrix symbology identifier.
    let scanned = format!("]d2010539912345002721PM-26-00020{GS}11261118");
    lines.push(installed("x1-in", "IP3K-260003", "PM-26-00020", &scanned));
    ingest(&ledger, "x1.ndjson", &lines);
    let history = dhr(&ledger, "IP3K-260003");
    let component = &history.components[0];
    assert_eq!(component.origin, Origin::Ledger);
    assert_eq!(component.product.as_deref(), Some("PMOD-100"));
    let step = seq_of(&ledger, "x1-s30");
    let found = kinds(&history);
    assert!(
        found.contains(&("out_of_limits", Some(step), Some("PM-26-00020"))),
        "{found:?}"
    );
    assert!(
        !found.iter().any(|(k, ..)| *k == "component_udi_mismatch"),
        "{found:?}"
    );
    assert!(component.exceptions >= 1);

    // Taken out in rework: the module and its exceptions are no longer the pump's.
    ingest(
        &ledger,
        "x1-out.ndjson",
        &[event(
            "x1-rm",
            "component.removed",
            "2026-11-22T11:00:00Z",
            "GAL",
            "p-1042",
            json!({"unit": "IP3K-260003", "component": "PM-26-00020", "reason": "flow rate out of limits at supplier test"}),
        )],
    );
    let history = dhr(&ledger, "IP3K-260003");
    assert!(history.components[0].removed.is_some());
    assert!(
        !history.exceptions.iter().any(|e| e.component.is_some()),
        "{:?}",
        kinds(&history)
    );
}

#[test]
fn a_scanned_component_udi_that_names_another_serial_or_product_is_an_exception() {
    let ledger = Ledger::with_plant();
    let mut lines = module_and_pump("PM-26-00021", "IP3K-260004", "x2");
    // The serial in the scanned UDI is another module's; the GTIN is the pump's, not the module's.
    lines.push(installed(
        "x2-in",
        "IP3K-260004",
        "PM-26-00021",
        &format!("]C1010539912345001021PM-26-00099{GS}11261118"),
    ));
    ingest(&ledger, "x2.ndjson", &lines);
    let history = dhr(&ledger, "IP3K-260004");
    let mismatch = history
        .exceptions
        .iter()
        .find(|e| e.kind == ExceptionKind::ComponentUdiMismatch)
        .expect("mismatch flagged");
    assert_eq!(mismatch.seq, Some(seq_of(&ledger, "x2-in")));
    assert!(
        mismatch.detail.contains("PM-26-00099"),
        "{}",
        mismatch.detail
    );
    assert!(
        mismatch.detail.contains("05399123450027"),
        "{}",
        mismatch.detail
    );
    // Still traced as the ledger's own module, not as a part made elsewhere.
    assert_eq!(history.components[0].origin, Origin::Ledger);
}

#[test]
fn corrections_are_applied_judged_and_shown_old_to_new() {
    let ledger = Ledger::with_plant();
    let mut lines = module_and_pump("PM-26-00022", "IP3K-260005", "x3");
    lines.truncate(4);
    // A flow rate recorded inside 98.5..101.5, corrected (bracketed path) to outside; the
    // consumed lot corrected (JSON Pointer) to the lot the certificate shows.
    lines.push(event("x3-mc", "material.consumed", "2026-11-18T09:01:00+08:00", "PEN", "p-2001",
        json!({"unit": "PM-26-00022", "lot": "L-PEN-2611-0001", "quantity": "1", "uom": "EA", "op": "10"})));
    let fix_step = json!({"id": "x3-c1", "type": "correction.recorded", "occurred_at": "2026-11-18T12:00:00+08:00",
        "site": "PEN", "source": "cli:lmeiying", "actor": "p-2010",
        "data": {"corrects": "x3-s30", "reason": "value transcribed from the wrong channel",
                 "changes": {"data.measurements[0].value": 97.9}}});
    let fix_lot = json!({"id": "x3-c2", "type": "correction.recorded", "occurred_at": "2026-11-18T12:05:00+08:00",
        "site": "PEN", "source": "cli:lmeiying", "actor": "p-2010",
        "data": {"corrects": "x3-mc", "reason": "lot label misread", "changes": {"/data/lot": "L-PEN-2611-0002"}}});
    lines.push(signed(
        &fix_step.to_string(),
        "k-2010",
        "p-2010",
        "authored",
    ));
    lines.push(signed(&fix_lot.to_string(), "k-2010", "p-2010", "authored"));
    // The original 103.0 is first corrected into limits, so only the second correction's
    // value is in force.
    let mut step = lines[3].replace("103.0", "100.0");
    step = step.replace("103", "100");
    lines[3] = step;
    ingest(&ledger, "x3.ndjson", &lines);
    let history = dhr(&ledger, "PM-26-00022");
    let op30 = history.operations.iter().find(|o| o.op == "30").unwrap();
    let flow = &op30.measurements[0];
    let c1 = seq_of(&ledger, "x3-c1");
    assert_eq!((flow.value, flow.in_limits), (Some(97.9), Some(false)));
    assert_eq!(flow.corrected_by, [c1]);
    assert!(
        kinds(&history).contains(&("out_of_limits", Some(op30.seq), None)),
        "{:?}",
        kinds(&history)
    );
    let correction = history.corrections.iter().find(|c| c.seq == c1).unwrap();
    assert_eq!(correction.changes[0].path, "/data/measurements/0/value");
    assert_eq!(correction.changes[0].old, Some(json!(100)));
    assert_eq!(correction.changes[0].new, json!(97.9));
    assert_eq!(correction.by.as_ref().unwrap().id, "p-2010");
    assert_eq!(correction.signatures[0].signer, "p-2010");
    let material = &history.materials[0];
    assert_eq!(material.lot, "L-PEN-2611-0002");
    assert_eq!(material.corrected_by, [seq_of(&ledger, "x3-c2")]);
    // The text shows old -> new, and the audit keeps the original.
    let text = stdout_of(ledger.run(&["dhr", "PM-26-00022"]));
    assert!(
        text.contains("/data/measurements/0/value: 100 -> 97.9"),
        "{text}"
    );
    assert!(
        text.contains("/data/lot: \"L-PEN-2611-0001\" -> \"L-PEN-2611-0002\""),
        "{text}"
    );
}

#[test]
fn a_qualification_calibration_or_release_recorded_after_the_step_the_same_day_does_not_cover_it() {
    let ledger = Ledger::with_plant();
    let gal = |id: &str, t: &str, at: &str, actor: &str, data: Value| {
        event(id, t, at, "GAL", actor, data)
    };
    let lines = vec![
        gal(
            "x4-p",
            "person.registered",
            "2026-11-21T08:00:00Z",
            "p-0001",
            json!({"person": "p-1050", "name": "Órla Ní Bhriain"}),
        ),
        gal(
            "x4-eq",
            "equipment.registered",
            "2026-11-21T08:00:00Z",
            "p-1107",
            json!({"equipment": "EQ-TQ-9001", "kind": "torque_driver", "name": "Torque driver, loan unit"}),
        ),
        gal(
            "x4-cal",
            "equipment.calibrated",
            "2026-11-01T08:00:00Z",
            "p-1107",
            json!({"equipment": "EQ-TQ-9001", "due": "2026-11-21"}),
        ),
        gal(
            "x4-lr",
            "lot.received",
            "2026-11-21T08:00:00Z",
            "p-1043",
            json!({"lot": "L-GAL-T-1", "part": "HSG-3000", "supplier": "SUP-ACME", "supplier_lot": "A-77", "quantity": "10", "uom": "EA"}),
        ),
        gal(
            "x4-hold",
            "lot.dispositioned",
            "2026-11-21T08:30:00Z",
            "p-1043",
            json!({"lot": "L-GAL-T-1", "disposition": "hold", "reason": "awaiting certificate"}),
        ),
        gal(
            "x4-us",
            "unit.started",
            "2026-11-22T08:00:00Z",
            "p-1050",
            json!({"unit": "IP3K-260006", "product": "INF-3000", "work_order": "WO-GAL-26-0118", "udi": "(01)05399123450010(11)261122(21)IP3K-260006"}),
        ),
        gal(
            "x4-mc",
            "material.consumed",
            "2026-11-22T08:30:00Z",
            "p-1050",
            json!({"unit": "IP3K-260006", "lot": "L-GAL-T-1", "quantity": "1", "uom": "EA", "op": "10"}),
        ),
        gal(
            "x4-s10",
            "step.completed",
            "2026-11-22T09:00:00Z",
            "p-1050",
            json!({"unit": "IP3K-260006", "op": "10", "station": "GAL-ASM-03", "result": "pass", "equipment": ["EQ-TQ-9001"]}),
        ),
        // The same day, after the step: requalified, recalibrated, lot released.
        gal(
            "x4-q",
            "person.qualified",
            "2026-11-22T14:00:00Z",
            "p-1107",
            json!({"person": "p-1050", "op": "10", "valid_until": "2027-11-22"}),
        ),
        gal(
            "x4-cal2",
            "equipment.calibrated",
            "2026-11-22T15:00:00Z",
            "p-1107",
            json!({"equipment": "EQ-TQ-9001", "due": "2027-05-22"}),
        ),
        signed(
            &gal(
                "x4-rel",
                "lot.dispositioned",
                "2026-11-22T16:00:00Z",
                "p-1201",
                json!({"lot": "L-GAL-T-1", "disposition": "released"}),
            ),
            "k-1201",
            "p-1201",
            "released",
        ),
    ];
    ingest(&ledger, "x4.ndjson", &lines);
    let history = dhr(&ledger, "IP3K-260006");
    let step = seq_of(&ledger, "x4-s10");
    let consumed = seq_of(&ledger, "x4-mc");
    let found = kinds(&history);
    for want in [
        ("operator_not_qualified", Some(step), None),
        ("calibration_past_due", Some(step), None),
        ("lot_not_released", Some(consumed), None),
    ] {
        assert!(found.contains(&want), "{want:?} missing from {found:?}");
    }
}

#[test]
fn a_failed_label_check_is_an_exception_and_a_scan_in_another_form_of_the_same_udi_is_not() {
    let ledger = Ledger::with_plant();
    // IP3K-260001's UDI is recorded in parentheses; the scanner reports it raw.
    let same = format!("]d20105399123450010112611202{}", "1IP3K-260001");
    let lines = vec![
        event(
            "x5-ok",
            "label.verified",
            "2026-11-20T16:45:00Z",
            "GAL",
            "p-1043",
            json!({"unit": "IP3K-260001", "scanned": same, "result": "pass"}),
        ),
        event(
            "x5-fail",
            "label.verified",
            "2026-11-20T16:46:00Z",
            "GAL",
            "p-1043",
            json!({"unit": "IP3K-260001", "scanned": "", "result": "fail"}),
        ),
    ];
    ingest(&ledger, "x5.ndjson", &lines);
    let history = dhr(&ledger, "IP3K-260001");
    let found = kinds(&history);
    assert_eq!(
        found,
        [(
            "label_verification_failed",
            Some(seq_of(&ledger, "x5-fail")),
            None
        )],
        "{found:?}"
    );
    let ok = history
        .labels
        .verified
        .iter()
        .find(|l| l.seq == seq_of(&ledger, "x5-ok"))
        .unwrap();
    assert!(ok.matches_udi);
}

#[test]
fn a_lot_shipped_in_parts_shows_each_quantity_and_customer() {
    let ledger = Ledger::with_plant();
    let lines = vec![event(
        "x6-sh",
        "unit.shipped",
        "2026-11-28T10:00:00Z",
        "GAL",
        "p-1043",
        json!({"lot": "CK7F-2611A", "shipment": "SHP-GAL-26-0999", "customer": "CUST-HSE-W", "quantity": "48", "uom": "EA"}),
    )];
    ingest(&ledger, "x6.ndjson", &lines);
    let history = dhr(&ledger, "CK7F-2611A");
    let shipped: Vec<(&str, Option<&str>)> = history
        .shipments
        .iter()
        .map(|s| (s.customer.as_str(), s.quantity.as_deref()))
        .collect();
    assert!(shipped.contains(&("CUST-HSE-W", Some("48"))), "{shipped:?}");
    let release = history.release.as_ref().expect("the lot's release");
    assert_eq!(release.signatures[0].meaning, "released");
}

#[test]
fn every_dhr_json_validates_against_its_published_schema() {
    let ledger = Ledger::with_plant();
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schemas/output/dhr.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for id in [
        "IP3K-260001",
        "IP3K-260002",
        "PM-26-00018",
        "CK7F-2611A",
        "IPT-26-000101",
    ] {
        let out = stdout_of(ledger.run(&["dhr", id, "--json"]));
        let value: Value = serde_json::from_str(&out).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{id}: {errors:#?}");
        assert_eq!(value["id"], json!(id));
    }
    // And the schema is not vacuous: a DHR without its exceptions does not validate.
    let mut broken: Value =
        serde_json::from_str(&stdout_of(ledger.run(&["dhr", "IP3K-260002", "--json"]))).unwrap();
    broken.as_object_mut().unwrap().remove("exceptions");
    assert!(!validator.is_valid(&broken));
    broken["exceptions"] =
        json!([{"kind": "made_up", "seq": 1, "op": null, "detail": "x", "component": null}]);
    assert!(!validator.is_valid(&broken));
}
