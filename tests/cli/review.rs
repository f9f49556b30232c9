//! Review by exception (issue 12 §3) on the independent three-site plant: the queue holds
//! exactly the units and lots the hand-derived facts say need a reviewer, with the DHR's own
//! counts; sub-assemblies installed in a device are reviewed in that device's DHR.

use crate::support::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

fn plant() -> (Ledger, Value) {
    multisite_plant()
}

#[test]
fn the_queue_is_what_awaits_release_and_what_was_released_with_exceptions() {
    let (ledger, expected) = plant();
    let units = expected["units"].as_object().unwrap();
    let installed: BTreeSet<&str> = units
        .values()
        .flat_map(|u| u["components_installed"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    let mut want: BTreeMap<String, (&str, usize)> = BTreeMap::new();
    for (id, unit) in units {
        let exceptions = unit["exceptions"].as_array().unwrap().len();
        if installed.contains(id.as_str()) || unit["scrapped"] == true {
            continue;
        }
        if unit["released"] != true {
            want.insert(id.clone(), ("awaiting", exceptions));
        } else if exceptions > 0 {
            want.insert(id.clone(), ("released", exceptions));
        }
    }
    for (id, lot) in expected["lots"].as_object().unwrap() {
        let exceptions = lot["exceptions"].as_array().unwrap().len();
        if exceptions > 0 {
            want.insert(id.clone(), ("released", exceptions));
        }
    }
    let queue: Value = serde_json::from_str(&stdout_of(ledger.run(&["review", "--json"]))).unwrap();
    assert_eq!(queue["format"], "traceledger.review/1");
    let found: BTreeMap<String, (&str, usize)> = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let status = match item["status"].as_str().unwrap() {
                "in_process" => "awaiting",
                _ => "released",
            };
            (
                item["id"].as_str().unwrap().to_owned(),
                (status, item["exceptions"].as_u64().unwrap() as usize),
            )
        })
        .collect();
    assert_eq!(found, want);
    // Filters narrow it; the CSV has one row per item.
    let awaiting: Value = serde_json::from_str(&stdout_of(
        ledger.run(&["review", "--json", "--status", "awaiting"]),
    ))
    .unwrap();
    let ids: BTreeSet<&str> = awaiting["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    let want_awaiting: BTreeSet<&str> = want
        .iter()
        .filter(|(_, (s, _))| *s == "awaiting")
        .map(|(id, _)| id.as_str())
        .collect();
    assert_eq!(ids, want_awaiting);
    let csv = stdout_of(ledger.run(&["review", "--csv", "--site", "GAL"]));
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert!(
        !rows.is_empty() && rows.iter().all(|r| r.contains(",GAL,")),
        "{csv}"
    );
}

#[test]
fn a_bad_period_is_refused_before_anything_is_printed() {
    let (ledger, _) = plant();
    let out = ledger
        .run(&["review", "--period", "2026-13"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(EXIT_BAD_INPUT));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("2026-13"));
}

#[test]
fn the_queue_json_validates_against_its_published_schema() {
    let (ledger, _) = plant();
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schemas/output/review.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for status in ["all", "awaiting", "released"] {
        let value: Value = serde_json::from_str(&stdout_of(
            ledger.run(&["review", "--json", "--status", status]),
        ))
        .unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{status}: {errors:?}");
    }
}
