//! The store's own queries on ledgers written through the `Appender`, as ingest writes them.

use super::*;
use crate::event::{EventFacts, entity_refs};
use serde_json::{Value, json};

/// 2026-01-05T06:00:00Z.
const SHIFT_START: i64 = 1_767_592_800_000;
const MINUTE: i64 = 60_000;

/// A ledger in a temporary folder (kept alive by the returned guard).
fn ledger() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    (dir, path)
}

/// An event as ingest hands it to the store: its columns, its JSON and its text (the store
/// neither validates nor re-encodes it).
fn event(n: u64, event_type: &str, at_millis: i64, actor: Option<&str>, data: Value) -> ValidEvent {
    let mut value = json!({
        "id": format!("e-{n}"),
        "type": event_type,
        "occurred_at": time::format_rfc3339_millis(at_millis),
        "site": "GAL",
        "source": "test",
        "data": data,
    });
    if let Some(actor) = actor {
        value["actor"] = json!(actor);
    }
    ValidEvent {
        id: format!("e-{n}"),
        event_type: event_type.to_owned(),
        occurred_at: time::format_rfc3339_millis(at_millis),
        site: "GAL".to_owned(),
        actor: actor.map(str::to_owned),
        canonical: value.to_string(),
        value,
    }
}

/// Appends `events` in one transaction, each with its entity references and facts.
fn append_all(store: &mut Store, events: &[ValidEvent]) -> Vec<u64> {
    let mut appender = store.begin_append().unwrap();
    let mut seqs = Vec::new();
    for event in events {
        let head = appender
            .append(
                event,
                &entity_refs(&event.value),
                &EventFacts::of(&event.value),
            )
            .unwrap();
        seqs.push(head.seq);
    }
    appender.commit().unwrap();
    seqs
}

/// Read calls this thread has made (`syscr` of /proc/thread-self/io): SQLite reads each
/// page it does not hold in its cache with one `pread`. `None` where Linux does not say.
fn reads_by_this_thread() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/thread-self/io").ok()?;
    io.lines()
        .find_map(|line| line.strip_prefix("syscr: "))
        .and_then(|n| n.trim().parse().ok())
}

#[test]
fn a_typed_lookup_reads_its_answer_not_every_record_naming_the_entity() {
    let (_dir, path) = ledger();
    let mut store = Store::create(&path).unwrap();
    // A small plant: four operators share 6,000 steps, each named by 1,500 of them (under
    // the old cut-off of 2,000, so the old lookup walked them all), and each holds three
    // qualifications recorded among the steps.
    let operators = ["p-01", "p-02", "p-03", "p-04"];
    let mut events = Vec::new();
    let mut qualified = Vec::new();
    for n in 0..6_000u64 {
        let at = SHIFT_START + n as i64 * MINUTE;
        let operator = operators[(n % 4) as usize];
        if n % 2_000 == 7 {
            for person in operators {
                if person == "p-01" {
                    qualified.push(events.len());
                }
                let data = json!({"person": person, "op": format!("{n}"), "routing": "R-1", "valid_until": "2027-01-01"});
                events.push(event(
                    events.len() as u64,
                    "person.qualified",
                    at,
                    Some("p-eng"),
                    data,
                ));
            }
        }
        let data = json!({"unit": format!("SN{n:06}"), "op": "20", "station": "GAL-IP-20", "result": "pass",
            "measurements": [{"name": "screw torque", "value": 1.25, "unit": "N.m"}]});
        events.push(event(
            events.len() as u64,
            "step.completed",
            at,
            Some(operator),
            data,
        ));
    }
    let seqs = append_all(&mut store, &events);
    let expected: std::collections::BTreeSet<u64> = qualified.iter().map(|&i| seqs[i]).collect();
    assert_eq!(expected.len(), 3);
    drop(store);

    // A fresh connection, so that every page the lookup needs is read from the file.
    let store = Store::open(&path).unwrap();
    store.head().unwrap();
    store.track_reads();
    let before = reads_by_this_thread();
    let found = store
        .records_of_type_naming(
            "person.qualified",
            EntityKind::Person,
            RefRole::References,
            "p-01",
        )
        .unwrap();
    let after = reads_by_this_thread();
    assert_eq!(
        found.iter().map(|r| r.seq).collect::<Vec<_>>(),
        expected.iter().copied().collect::<Vec<_>>()
    );
    assert_eq!(
        store.take_reads(),
        expected,
        "only the answer's records are read"
    );
    if let (Some(before), Some(after)) = (before, after) {
        // The index range and three record pages, with their parents: a handful. Walking the
        // 1,503 records naming p-01 read every page of the log (about 150).
        let pages = after - before;
        eprintln!("{pages} pages read for three records");
        assert!(pages <= 12, "{pages} pages read for three records");
    }

    // The same range answers an entity named rarely, and a type it was never named in (the
    // engineer who recorded the qualifications did no step).
    let steps = store
        .records_of_type_naming(
            "step.completed",
            EntityKind::Unit,
            RefRole::References,
            "SN000042",
        )
        .unwrap();
    assert_eq!(steps.len(), 1);
    assert!(
        store
            .records_of_type_naming(
                "step.completed",
                EntityKind::Person,
                RefRole::References,
                "p-eng"
            )
            .unwrap()
            .is_empty()
    );
}

#[test]
fn every_entity_index_query_uses_the_key() {
    let (_dir, path) = ledger();
    let store = Store::create(&path).unwrap();
    let plan = |sql: &str| -> String {
        let mut statement = store
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        let count = statement.parameter_count();
        let rows = statement
            .query_map(rusqlite::params_from_iter((0..count).map(|_| "x")), |row| {
                row.get::<_, String>(3)
            })
            .unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
    };
    // records_of_type_naming: one range of the whole key but seq, then records by seq, in
    // the key's order (no sort).
    let typed = plan(RECORDS_OF_TYPE_NAMING_SQL);
    assert!(
        typed.contains("SEARCH e USING PRIMARY KEY (entity=? AND kind=? AND role=? AND type=?)")
            && typed.contains("SEARCH r USING INTEGER PRIMARY KEY (rowid=?)")
            && !typed.contains("TEMP B-TREE"),
        "{typed}"
    );
    // Ingest's reference checks and the records defining an entity: the key's first three
    // columns (the few defining rows are sorted by seq).
    for sql in [ENTITY_DEFINED_SQL, DEFINING_EVENT_SQL, RECORDS_DEFINING_SQL] {
        let plan = plan(sql);
        assert!(
            plan.contains("USING PRIMARY KEY (entity=? AND kind=? AND role=?)"),
            "{sql}: {plan}"
        );
        assert!(!plan.contains("SCAN"), "{sql}: {plan}");
    }
    // log --entity: the entity's rows by the key's first column.
    let (sql, values) = logged_sql(&LogFilter {
        entity: Some("SN1".to_owned()),
        ..LogFilter::default()
    });
    let mut statement = store
        .conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap();
    let logged = statement
        .query_map(rusqlite::params_from_iter(values), |row| {
            row.get::<_, String>(3)
        })
        .unwrap()
        .map(Result::unwrap)
        .collect::<Vec<_>>()
        .join("; ");
    assert!(
        logged.contains("USING PRIMARY KEY (entity=?)") && !logged.contains("SCAN entity_refs"),
        "{logged}"
    );
}

#[test]
fn an_areas_readings_are_each_sensors_reading_in_force_and_every_reading_during_the_work() {
    let (_dir, path) = ledger();
    let mut store = Store::create(&path).unwrap();
    let area = "CR-ISO7-GAL";
    // Three sensors at their own rates: a temperature probe every 15 minutes, a humidity
    // probe every hour (at :40), a particle counter every 5 minutes; and a neighbouring area's
    // counter, never part of the answer. Uploads arrive out of time order, sensor by sensor.
    let mut events = Vec::new();
    let mut add = |sensor: &str, area: &str, every: i64, offset: i64, measurement: &str| {
        let mut at = SHIFT_START + offset * MINUTE;
        while at <= SHIFT_START + 4 * 60 * MINUTE {
            let data = json!({"area": area, "sensor": sensor,
                "measurements": [{"name": measurement, "value": 1, "unit": "x"}]});
            events.push(event(
                events.len() as u64,
                "environment.recorded",
                at,
                None,
                data,
            ));
            at += every * MINUTE;
        }
    };
    add("CR-ISO7-GAL-T1", area, 15, 0, "temperature");
    add("CR-ISO7-GAL-RH1", area, 60, 40, "relative humidity");
    add("CR-ISO7-GAL-PC1", area, 5, 0, "particles >= 0.5 um");
    add(
        "CR-ISO8-GAL-PC1",
        "CR-ISO8-GAL",
        5,
        0,
        "particles >= 0.5 um",
    );
    let seqs = append_all(&mut store, &events);
    let at_of = |seq: u64| -> String {
        let index = seqs.iter().position(|&s| s == seq).unwrap();
        let event = &events[index];
        format!(
            "{} {}",
            &event.occurred_at[11..16],
            event.value["data"]["sensor"].as_str().unwrap()
        )
    };

    // Work from 08:00 to 08:20. In force at 08:00: the temperature of 08:00 (at the start
    // itself), the humidity of 07:40, the particles of 08:00; then every reading to 08:20.
    let from = SHIFT_START + 120 * MINUTE;
    let to = from + 20 * MINUTE;
    let shown: Vec<String> = store
        .area_readings(area, from, to)
        .unwrap()
        .into_iter()
        .map(at_of)
        .collect();
    assert_eq!(
        shown,
        [
            "07:40 CR-ISO7-GAL-RH1",
            "08:00 CR-ISO7-GAL-T1",
            "08:00 CR-ISO7-GAL-PC1",
            "08:05 CR-ISO7-GAL-PC1",
            "08:10 CR-ISO7-GAL-PC1",
            "08:15 CR-ISO7-GAL-T1",
            "08:15 CR-ISO7-GAL-PC1",
            "08:20 CR-ISO7-GAL-PC1",
        ]
    );

    // Work between readings, 08:41 to 08:44: each sensor's last reading only.
    let from = SHIFT_START + 161 * MINUTE;
    let shown: Vec<String> = store
        .area_readings(area, from, from + 3 * MINUTE)
        .unwrap()
        .into_iter()
        .map(at_of)
        .collect();
    assert_eq!(
        shown,
        [
            "08:30 CR-ISO7-GAL-T1",
            "08:40 CR-ISO7-GAL-RH1",
            "08:40 CR-ISO7-GAL-PC1",
        ]
    );

    // Before any reading, only the readings during the work; an area never recorded, none.
    let shown = store
        .area_readings(area, SHIFT_START - 10 * MINUTE, SHIFT_START)
        .unwrap();
    assert_eq!(shown.len(), 2);
    assert!(
        store
            .area_readings("CR-NONE", 0, i64::MAX)
            .unwrap()
            .is_empty()
    );
}
