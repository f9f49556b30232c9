//! KPIs on the hand-built plant, the expected figures worked out by hand from
//! fixtures/plant-small.ndjson.

use crate::support::*;
use traceledger::kpi::{KpiQuery, kpis};
use traceledger::store::Store;

#[test]
fn kpis_of_the_hand_built_plant() {
    let ledger = Ledger::with_plant();
    let store = Store::open(&ledger.path).unwrap();
    let groups = kpis(&store, &KpiQuery::default()).unwrap();
    let group = |site: &str, product: &str| {
        groups
            .iter()
            .find(|g| g.site == site && g.product == product)
            .unwrap_or_else(|| panic!("no group {site} {product}"))
    };
    // Galway infusion pumps: IP3K-260001 clean; IP3K-260002 failed op 40 (NCR, rework).
    let pumps = group("GAL", "INF-3000");
    assert_eq!((pumps.started, pumps.released, pumps.scrapped), (2, 2, 0));
    assert_eq!(pumps.right_first_time, 1);
    assert_eq!(pumps.right_first_time_rate, Some(0.5));
    assert_eq!(
        pumps.first_pass_yield_by_op["40"].first_pass_yield,
        Some(0.5)
    );
    assert_eq!(
        pumps.first_pass_yield_by_op["30"].first_pass_yield,
        Some(1.0)
    );
    assert_eq!(pumps.open_nonconformances, 0);
    // Penang pump modules: three made; PM-26-00018 removed in rework and scrapped.
    let modules = group("PEN", "PMOD-100");
    assert_eq!(
        (modules.started, modules.released, modules.scrapped),
        (3, 2, 1)
    );
    assert_eq!(modules.right_first_time, 2);
    assert!(modules.release_cycle_hours_median.is_some());
    assert!(modules.release_cycle_hours_p90 >= modules.release_cycle_hours_median);

    let only_pen = kpis(
        &store,
        &KpiQuery {
            site: Some("PEN".to_owned()),
            ..KpiQuery::default()
        },
    )
    .unwrap();
    assert!(only_pen.iter().all(|g| g.site == "PEN") && !only_pen.is_empty());
    let none = kpis(
        &store,
        &KpiQuery {
            period: Some("2019".to_owned()),
            ..KpiQuery::default()
        },
    )
    .unwrap();
    assert!(none.is_empty());
}

#[test]
fn an_open_nonconformance_is_counted_until_dispositioned() {
    let ledger = Ledger::with_plant();
    let open = r#"{"id":"t-kpi-1","type":"nonconformance.opened","occurred_at":"2026-11-22T10:00:00Z","site":"GAL","source":"station:GAL-FT-02","actor":"p-1043","data":{"ncr":"NCR-T-9","unit":"IP3K-260001","description":"dent found at audit"}}"#;
    let input = ledger.file("ncr.ndjson");
    std::fs::write(&input, open).unwrap();
    ledger
        .run(&["ingest", input.to_str().unwrap()])
        .assert()
        .success();
    let json = stdout_of(ledger.run(&["kpi", "--json", "--product", "INF-3000"]));
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["format"], "traceledger.kpi/1");
    assert_eq!(report["product"], "INF-3000");
    let groups = &report["groups"];
    assert_eq!(groups[0]["open_nonconformances"], 1);
    assert_eq!(
        groups[0]["right_first_time"], 0,
        "a unit with an NCR is not right first time"
    );
}

#[test]
fn the_kpi_tables_kept_at_ingest_give_what_the_records_give() {
    let ledger = simulated_plant("300", "11");
    for filter in [
        &[][..],
        &["--site", "GAL"][..],
        &["--product", "NS-200", "--period", "2026"][..],
    ] {
        let mut tables = vec!["kpi", "--json"];
        tables.extend_from_slice(filter);
        let mut from_log = tables.clone();
        from_log.push("--from-log");
        let kept = stdout_of(ledger.run(&tables));
        assert_eq!(kept, stdout_of(ledger.run(&from_log)), "{filter:?}");
        let report: serde_json::Value = serde_json::from_str(&kept).unwrap();
        assert!(
            !report["groups"].as_array().unwrap().is_empty(),
            "{filter:?}"
        );
        assert_kpi_schema(&report);
    }
}

#[test]
fn a_ledger_of_schema_2_gets_its_kpi_tables_from_migrate() {
    let ledger = simulated_plant("60", "5");
    let before = stdout_of(ledger.run(&["kpi", "--json"]));
    ledger
        .sqlite()
        .execute_batch(
            "DROP TABLE unit_progress; DROP TABLE unit_first_results; DROP TABLE unit_ncrs;
             DROP TABLE area_readings; DROP TABLE trace_links; PRAGMA user_version = 2;",
        )
        .unwrap();
    // Reading never migrates: kpi refuses, pointing at `migrate`.
    let output = ledger.run(&["kpi", "--json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(EXIT_ENVIRONMENT));
    assert!(String::from_utf8_lossy(&output.stderr).contains("traceledger migrate"));
    assert_eq!(ledger.schema_version(), 2);
    ledger.run(&["migrate"]).assert().success();
    assert_eq!(stdout_of(ledger.run(&["kpi", "--json"])), before);
    assert_eq!(ledger.schema_version(), 5);
}

#[test]
fn verify_derived_finds_an_edited_kpi_table_and_rebuild_mends_it() {
    let ledger = simulated_plant("60", "5");
    let before = stdout_of(ledger.run(&["kpi", "--json"]));
    // An insider marks a released unit scrapped, to move the scrap rate.
    let changed = ledger
        .sqlite()
        .execute(
            "UPDATE unit_progress SET scrapped = 1 WHERE unit = (SELECT unit FROM unit_progress WHERE released_at IS NOT NULL AND scrapped = 0 LIMIT 1)",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    assert_ne!(stdout_of(ledger.run(&["kpi", "--json"])), before);
    let (code, report) = ledger.verify_json_with(&["--derived"]);
    assert_eq!(code, EXIT_INTEGRITY, "{report}");
    assert_eq!(report["derived"]["kpi_rows_differing"], 2, "{report}");
    ledger.run(&["rebuild"]).assert().success();
    assert_eq!(stdout_of(ledger.run(&["kpi", "--json"])), before);
    let (code, report) = ledger.verify_json_with(&["--derived"]);
    assert_eq!(code, 0, "{report}");
}

/// `kpi --json` against schemas/output/kpi.schema.json.
fn assert_kpi_schema(report: &serde_json::Value) {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schemas/output/kpi.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(report)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}
