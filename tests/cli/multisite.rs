//! The DHR against fixtures/plant-multisite.ndjson, a three-site plant written from the
//! vocabulary by someone who did not read the projection code, and the facts they derived
//! by hand (fixtures/plant-multisite.expected.json): exceptions, corrections, environment.

use crate::support::*;
use serde_json::Value;
use std::collections::BTreeSet;
use traceledger::device_history::{DeviceHistory, device_history};
use traceledger::store::Store;

fn plant() -> (Ledger, Value) {
    multisite_plant()
}

/// (kind, op, component) of each exception, as the hand-written file names them: a
/// component's exception is its own kind with the component's serial.
type Found = BTreeSet<(String, Option<String>, Option<String>)>;

fn expected_exceptions(entry: &Value) -> Found {
    entry["exceptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let text = |name: &str| e[name].as_str().map(str::to_owned);
            match text("rule").as_deref() {
                Some("component_exception") => (
                    text("component_rule").unwrap(),
                    text("op"),
                    text("component"),
                ),
                Some("component_udi_mismatch") => (text("rule").unwrap(), text("op"), None),
                _ => (text("rule").unwrap(), text("op"), None),
            }
        })
        .collect()
}

fn found_exceptions(history: &DeviceHistory) -> Found {
    history
        .exceptions
        .iter()
        .map(|e| {
            // Label and reconciliation findings concern no operation.
            (
                e.kind.as_str().to_owned(),
                e.op.clone(),
                e.component.clone(),
            )
        })
        .collect()
}

/// The hand-written file leaves `op` out where the finding concerns no operation; compare
/// on what it states.
fn agree(expected: &Found, found: &Found) -> bool {
    expected.len() == found.len()
        && expected.iter().all(|(kind, op, component)| {
            found
                .iter()
                .any(|(k, o, c)| k == kind && c == component && (op.is_none() || o == op))
        })
}

#[test]
fn every_units_and_lots_exceptions_are_the_ones_derived_by_hand() {
    let (ledger, expected) = plant();
    let store = Store::open(&ledger.path).unwrap();
    let mut wrong = Vec::new();
    let subjects = expected["units"]
        .as_object()
        .unwrap()
        .iter()
        .chain(expected["lots"].as_object().unwrap().iter());
    for (id, entry) in subjects {
        let history = device_history(&store, id).unwrap();
        let (want, got) = (expected_exceptions(entry), found_exceptions(&history));
        if !agree(&want, &got) {
            wrong.push(format!("{id}: expected {want:?}, found {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn corrections_show_the_value_in_force_and_the_original() {
    let (ledger, expected) = plant();
    let store = Store::open(&ledger.path).unwrap();
    for c in expected["corrections"].as_array().unwrap() {
        let entity = c["entity"].as_str().unwrap();
        let history = device_history(&store, entity).unwrap();
        let path = c["path"].as_str().unwrap();
        let shown = history
            .corrections
            .iter()
            .flat_map(|correction| &correction.changes)
            .find(|change| change.path == path)
            .unwrap_or_else(|| panic!("{entity}: no change of {path}"));
        assert_eq!(shown.old.as_ref(), Some(&c["old"]), "{entity} {path}");
        assert_eq!(shown.new, c["new"], "{entity} {path}");
        assert!(shown.applied);
        if path == "/data/lot" {
            assert!(
                history
                    .materials
                    .iter()
                    .any(|m| Some(m.lot.as_str()) == c["new"].as_str()),
                "{entity}: the corrected lot is the one in force"
            );
        }
    }
}

#[test]
fn an_implantables_environment_has_every_sensor_in_force_at_the_start_and_during_the_work() {
    let (ledger, expected) = plant();
    let store = Store::open(&ledger.path).unwrap();
    for (unit, want) in expected["environment"].as_object().unwrap() {
        let history = device_history(&store, unit).unwrap();
        let area = history
            .environment
            .iter()
            .find(|a| Some(a.area.as_str()) == want["area"].as_str())
            .unwrap_or_else(|| panic!("{unit}: no environment of {}", want["area"]));
        for (sensor, times) in want["sensors"].as_object().unwrap() {
            let readings: Vec<&str> = area
                .readings
                .iter()
                .filter(|r| &r.sensor == sensor)
                .map(|r| r.occurred_at.as_str())
                .collect();
            let mut expected_times = vec![times["in_force_at_start"].as_str().unwrap()];
            expected_times.extend(
                times["during"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t.as_str().unwrap()),
            );
            assert_eq!(readings, expected_times, "{unit} sensor {sensor}");
        }
    }
}

/// Every (kind, id) in a trace tree, not descending into links a removal undid (a removed
/// component is shown, but is not part of the unit, and the unit is not part of its scope).
fn reached(node: &Value, out: &mut BTreeSet<(String, String)>, root: bool) {
    if !node["removed_seq"].is_null() {
        return;
    }
    if !root {
        out.insert((
            node["kind"].as_str().unwrap().to_owned(),
            node["id"].as_str().unwrap().to_owned(),
        ));
    }
    for child in node["children"].as_array().into_iter().flatten() {
        reached(child, out, false);
    }
}

fn customers(node: &Value, out: &mut BTreeSet<String>) {
    if !node["removed_seq"].is_null() {
        return;
    }
    for shipment in node["facts"]["shipments"].as_array().into_iter().flatten() {
        out.insert(shipment["customer"].as_str().unwrap().to_owned());
    }
    for child in node["children"].as_array().into_iter().flatten() {
        customers(child, out);
    }
}

fn of_kind(set: &BTreeSet<(String, String)>, kind: &str) -> BTreeSet<String> {
    set.iter()
        .filter(|(k, _)| k == kind)
        .map(|(_, id)| id.clone())
        .collect()
}

fn strings(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn backward_traces_reach_what_went_in_across_sites_through_corrections_and_splits() {
    let (ledger, expected) = plant();
    let mut wrong = Vec::new();
    let subjects = expected["units"]
        .as_object()
        .unwrap()
        .iter()
        .chain(expected["lots"].as_object().unwrap().iter());
    for (id, entry) in subjects {
        let trace: Value = serde_json::from_str(&stdout_of(ledger.run(&[
            "trace",
            id,
            "--backward",
            "--json",
        ])))
        .unwrap();
        let mut found = BTreeSet::new();
        reached(&trace["root"], &mut found, true);
        let want = &entry["backward"];
        for (kind, field) in [("lot", "lots"), ("unit", "units")] {
            let (got, expect) = (of_kind(&found, kind), strings(&want[field]));
            if got != expect {
                wrong.push(format!("{id} {field}: expected {expect:?}, found {got:?}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn forward_traces_reach_every_device_and_customer_from_the_table_and_from_the_records() {
    let (ledger, expected) = plant();
    let mut wrong = Vec::new();
    for (lot, want) in expected["forward"].as_object().unwrap() {
        for extra in [&[][..], &["--from-log"][..]] {
            let mut args = vec!["trace", lot, "--forward", "--json"];
            args.extend_from_slice(extra);
            let trace: Value = serde_json::from_str(&stdout_of(ledger.run(&args))).unwrap();
            let mut found = BTreeSet::new();
            reached(&trace["root"], &mut found, true);
            let (units, expect_units) = (of_kind(&found, "unit"), strings(&want["units"]));
            if units != expect_units {
                wrong.push(format!(
                    "{lot} {extra:?} units: expected {expect_units:?}, found {units:?}"
                ));
            }
            let (lots, expect_lots) = (of_kind(&found, "lot"), strings(&want["lots"]));
            if lots != expect_lots {
                wrong.push(format!(
                    "{lot} {extra:?} lots: expected {expect_lots:?}, found {lots:?}"
                ));
            }
            let mut reached_customers = BTreeSet::new();
            customers(&trace["root"], &mut reached_customers);
            // A transfer between the ledger's own sites is no customer.
            reached_customers.remove("INTERCO-GAL");
            let expect_customers = strings(&want["customers"]);
            if reached_customers != expect_customers {
                wrong.push(format!(
                    "{lot} {extra:?} customers: expected {expect_customers:?}, found {reached_customers:?}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_forward_genealogy_kept_at_ingest_is_what_a_rebuild_makes_of_the_records() {
    // The corrections' links are read from the records before them, at ingest as in a
    // rebuild: verify --derived finds no difference, and a rebuild changes nothing.
    let (ledger, _) = plant();
    let before = stdout_of(ledger.run(&["trace", "L-CRC-26-0005", "--forward", "--json"]));
    let (code, report) = ledger.verify_json_with(&["--derived"]);
    assert_eq!(code, 0, "{report}");
    ledger.run(&["rebuild"]).assert().success();
    let after = stdout_of(ledger.run(&["trace", "L-CRC-26-0005", "--forward", "--json"]));
    assert_eq!(before, after);
}
