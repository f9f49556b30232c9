//! The audit trail on the hand-built plant: filters, both clocks, corrections beside the
//! records they correct, CSV and JSON.

use crate::support::*;

fn json_entries(ledger: &Ledger, args: &[&str]) -> Vec<serde_json::Value> {
    let mut full = vec!["audit", "--json"];
    full.extend_from_slice(args);
    stdout_of(ledger.run(&full))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_correction_stands_beside_the_record_it_corrects_and_the_original_stays() {
    let ledger = Ledger::with_plant();
    // The goods-in record of L-PEN-2611-0001 had a wrong supplier lot; a correction fixed it.
    let trail = json_entries(&ledger, &["--entity", "L-PEN-2611-0001"]);
    let received = trail.iter().find(|e| e["type"] == "lot.received").unwrap();
    assert_eq!(
        received["data"]["supplier_lot"], "MX24-261104A",
        "the original is kept"
    );
    let correction_seq = received["corrected_by"][0].as_u64().unwrap();
    let corrections = json_entries(&ledger, &["--type", "correction.recorded"]);
    assert_eq!(corrections.len(), 1);
    assert_eq!(corrections[0]["seq"], correction_seq);
    assert_eq!(corrections[0]["corrects_seq"], received["seq"]);
    assert_eq!(
        corrections[0]["data"]["changes"]["data.supplier_lot"],
        "MX24-261104B"
    );
}

#[test]
fn actor_and_time_filters_compare_instants_across_time_zones() {
    let ledger = Ledger::with_plant();
    // QA's (p-1201) records on 21 November: the review signature and two releases.
    let by_day = json_entries(
        &ledger,
        &[
            "--actor",
            "p-1201",
            "--since",
            "2026-11-21T00:00:00Z",
            "--until",
            "2026-11-21T23:59:59Z",
        ],
    );
    let types: Vec<&str> = by_day.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["signature.applied", "unit.released", "unit.released"]
    );
    // 10:15 in Dublin's winter offset written as +01:00 is 09:15Z: only the releases follow.
    let later = json_entries(
        &ledger,
        &[
            "--actor",
            "p-1201",
            "--since",
            "2026-11-21T10:15:00+01:00",
            "--until",
            "2026-11-21T23:59:59Z",
        ],
    );
    assert_eq!(later.len(), 2);
    for entry in &by_day {
        assert_eq!(entry["actor"], "p-1201");
    }
    // By the ledger's clock every fixture record was recorded today, none in 2020.
    let recorded = json_entries(&ledger, &["--recorded", "--until", "2020-01-01T00:00:00Z"]);
    assert!(recorded.is_empty());
    let all_recorded = json_entries(&ledger, &["--recorded", "--since", "2020-01-01T00:00:00Z"]);
    assert_eq!(all_recorded.len() as i64, ledger.count());
}

#[test]
fn csv_is_quoted_as_rfc_4180_and_a_bad_time_is_refused() {
    let ledger = Ledger::with_plant();
    let csv = stdout_of(ledger.run(&["audit", "--csv", "--type", "correction.recorded"]));
    let mut lines = csv.lines();
    assert_eq!(lines.next().unwrap(), traceledger::audit_trail::CSV_HEADER);
    let row = lines.next().unwrap();
    assert!(row.ends_with("MX24-261104B.\"\"}\""), "{row}");
    assert!(row.contains(",\"{\"\"changes\"\""), "{row}");
    let output = ledger
        .run(&["audit", "--since", "yesterday"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(EXIT_BAD_INPUT));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("\"yesterday\" is not an RFC 3339 time")
    );
}

#[test]
fn a_correction_reads_old_to_new_and_every_signature_shows_who_what_and_when() {
    let ledger = Ledger::with_plant();
    let corrections = json_entries(&ledger, &["--type", "correction.recorded"]);
    let changes = &corrections[0]["changes"];
    assert_eq!(
        changes,
        &serde_json::json!([{"path": "/data/supplier_lot", "old": "MX24-261104A",
            "new": "MX24-261104B", "applied": true}])
    );
    let signature = &corrections[0]["signatures"][0];
    assert_eq!(signature["signer"], "p-2010");
    assert_eq!(signature["meaning"], "authored");
    assert_eq!(signature["signed_at"], "2026-11-17T09:30:00+08:00");
    assert_eq!(signature["key"], "k-2010");
    assert!(signature["name"].as_str().is_some_and(|n| !n.is_empty()));
    // The text and CSV say the same.
    let text = stdout_of(ledger.run(&["audit", "--type", "correction.recorded"]));
    assert!(
        text.contains("/data/supplier_lot: \"MX24-261104A\" -> \"MX24-261104B\""),
        "{text}"
    );
    assert!(
        text.contains("p-2010) authored at 2026-11-17T09:30:00+08:00"),
        "{text}"
    );
    let csv = stdout_of(ledger.run(&["audit", "--type", "unit.released", "--csv"]));
    let header = csv.lines().next().unwrap();
    assert!(header.contains(",changes,signatures,"), "{header}");
    assert!(
        csv.lines().skip(1).all(|l| l.contains(" released at ")),
        "every release carries its signature: {csv}"
    );
}
