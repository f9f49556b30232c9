//! The vocabulary as plants write it (issue 11 §1): check and measurement names people read,
//! correction paths in the three forms plants use, and UDIs exactly as a scanner reports them
//! (GS separators, symbology identifiers).

use crate::support::*;

const GS: char = '\u{1d}';

/// A routing whose checks have free-text names, configured at GAL, and a work order on it.
fn routing_lines() -> Vec<String> {
    vec![
        signed(
            r#"{"id":"v-rt-1","type":"routing.released","occurred_at":"2026-11-21T08:00:00Z","site":"GAL","source":"cli:dmurphy","actor":"p-1107","data":{"routing":"R-TQ","version":"1","product":"INF-3000","operations":[{"op":"10","name":"Housing closure","checks":[{"name":"screw torque","unit":"N.m","lsl":0.5,"usl":0.7},{"name":"particles >= 0.5 um","unit":"1/m3","usl":352000},{"name":"Ø tip","unit":"mm","lsl":1.9,"usl":2.1}]}]}}"#,
            "k-1107",
            "p-1107",
            "approved",
        ),
        signed(
            r#"{"id":"v-rt-2","type":"routing.configured","occurred_at":"2026-11-21T08:05:00Z","site":"GAL","source":"cli:dmurphy","actor":"p-1107","data":{"routing":"R-TQ","version":"1","site":"GAL","overrides":[{"op":"10","check":"screw torque","lsl":0.55}]}}"#,
            "k-1107",
            "p-1107",
            "approved",
        ),
        r#"{"id":"v-wo-1","type":"work_order.released","occurred_at":"2026-11-21T08:10:00Z","site":"GAL","source":"gateway:GAL-MES","data":{"work_order":"WO-T-1","product":"INF-3000","routing":"R-TQ","version":"1","quantity":"1"}}"#.to_owned(),
    ]
}

fn ingest(ledger: &Ledger, name: &str, lines: &[String]) -> assert_cmd::assert::Assert {
    let input = ledger.file(name);
    std::fs::write(&input, lines.join("\n")).unwrap();
    ledger.run(&["ingest", input.to_str().unwrap()]).assert()
}

fn scanned_udi(serial: &str) -> String {
    // ]d2 (GS1 DataMatrix), the GTIN, the serial (variable length, so a GS ends it), the
    // production date.
    format!("]d20105399123450010{GS}21{serial}{GS}11261121")
}

fn event(id: &str, event_type: &str, data: serde_json::Value) -> String {
    serde_json::json!({"id": id, "type": event_type, "occurred_at": "2026-11-21T09:00:00Z",
        "site": "GAL", "source": "station:GAL-ASM-03", "actor": "p-1042", "data": data})
    .to_string()
}

#[test]
fn a_plant_stream_with_free_text_names_scanned_udis_and_bracketed_paths_is_recorded() {
    let ledger = Ledger::with_plant();
    let mut lines = routing_lines();
    let udi = scanned_udi("IP3K-270001");
    lines.push(event(
        "v-us-1",
        "unit.started",
        serde_json::json!({"unit": "IP3K-270001", "product": "INF-3000", "work_order": "WO-T-1", "udi": udi}),
    ));
    lines.push(event(
        "v-st-1",
        "step.completed",
        serde_json::json!({"unit": "IP3K-270001", "op": "10", "station": "GAL-ASM-03", "result": "pass",
            "measurements": [{"name": "screw torque", "value": 0.61, "unit": "N.m"},
                             {"name": "Ø tip", "value": 2.0, "unit": "mm"}]}),
    ));
    lines.push(event(
        "v-lp-1",
        "label.printed",
        serde_json::json!({"unit": "IP3K-270001", "udi": format!("]C1{}", &udi[3..]), "hri": "(01)05399123450010(21)IP3K-270001(11)261121"}),
    ));
    lines.push(event(
        "v-lv-1",
        "label.verified",
        serde_json::json!({"unit": "IP3K-270001", "scanned": udi, "result": "pass"}),
    ));
    for (id, path) in [
        ("v-co-1", "data.measurements[0].value"),
        ("v-co-2", "/data/measurements/1/unit"),
        ("v-co-3", "data.measurements.1.value"),
    ] {
        let line = serde_json::json!({"id": id, "type": "correction.recorded",
            "occurred_at": "2026-11-21T10:00:00Z", "site": "GAL", "source": "cli:p-1201",
            "actor": "p-1201", "data": {"corrects": "v-st-1", "reason": "transcribed wrongly",
            "changes": {path: 0.62}}});
        lines.push(signed(&line.to_string(), "k-1201", "p-1201", "authored"));
    }
    let before = ledger.count();
    ingest(&ledger, "plant.ndjson", &lines).success();
    assert_eq!(ledger.count() - before, lines.len() as i64);
    // The UDI is stored as the scanner sent it, GS bytes and all.
    let stored: String = ledger
        .sqlite()
        .query_row("SELECT event FROM records WHERE id = 'v-us-1'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let stored: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(stored["data"]["udi"], serde_json::json!(udi));
}

#[test]
fn a_scanned_udi_of_another_product_or_serial_is_still_refused() {
    let ledger = Ledger::with_plant();
    let mut lines = routing_lines();
    lines.push(event(
        "v-us-2",
        "unit.started",
        serde_json::json!({"unit": "IP3K-270002", "product": "INF-3000", "work_order": "WO-T-1",
            "udi": scanned_udi("IP3K-279999")}),
    ));
    let out = ingest(&ledger, "wrong.ndjson", &lines).code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("wrong.ndjson:4: udi_mismatch"), "{stderr}");
}

#[test]
fn names_with_control_characters_and_ambiguous_correction_paths_are_refused_with_their_field() {
    let ledger = Ledger::with_plant();
    let mut lines = routing_lines();
    lines.truncate(0);
    lines.push(event(
        "v-bad-1",
        "step.completed",
        serde_json::json!({"unit": "IP3K-260001", "op": "10", "station": "GAL-ASM-03", "result": "pass",
            "measurements": [{"name": "screw\u{7}torque", "value": 0.61, "unit": "N.m"}]}),
    ));
    lines.push(event(
        "v-bad-2",
        "step.completed",
        serde_json::json!({"unit": "IP3K-260001", "op": "10", "station": "GAL-ASM-03", "result": "pass",
            "measurements": [{"name": "x".repeat(129), "value": 0.61, "unit": "N.m"}]}),
    ));
    let twice = serde_json::json!({"id": "v-bad-3", "type": "correction.recorded",
        "occurred_at": "2026-11-21T10:00:00Z", "site": "GAL", "source": "cli:p-1201",
        "actor": "p-1201", "data": {"corrects": "01M7W2GY5ATZC3QW2P125JE5HW", "reason": "r",
        "changes": {"data.measurements[0].value": 1, "/data/measurements/0/value": 2}}});
    lines.push(signed(&twice.to_string(), "k-1201", "p-1201", "authored"));
    let site = serde_json::json!({"id": "v-bad-4", "type": "correction.recorded",
        "occurred_at": "2026-11-21T10:00:00Z", "site": "GAL", "source": "cli:p-1201",
        "actor": "p-1201", "data": {"corrects": "01M7W2GY5ATZC3QW2P125JE5HW", "reason": "r",
        "changes": {"data[0]": 1}}});
    lines.push(signed(&site.to_string(), "k-1201", "p-1201", "authored"));
    let before = ledger.count();
    let out = ingest(&ledger, "bad.ndjson", &lines).code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    for want in [
        "bad.ndjson:1: schema_violation at /data/measurements/0/name",
        "bad.ndjson:2: schema_violation at /data/measurements/0/name",
        "bad.ndjson:3: schema_violation at /data/changes",
        "name the same field (/data/measurements/0/value)",
        "bad.ndjson:4: schema_violation at /data/changes",
    ] {
        assert!(stderr.contains(want), "{want:?} not in {stderr}");
    }
    assert_eq!(ledger.count(), before, "nothing is written");
}
