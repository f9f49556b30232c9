//! Ingest, verify, trust and query figures at each ledger size, with the plainest loops
//! (benches/common) as the limits to compare ingest and verify with.
//!
//! Sizes come from `TRACELEDGER_BENCH_EVENTS` (approximate events, comma-separated, default
//! 10,000, 100,000 and 1,000,000): each size's stream is simulated and its ledger built once,
//! then every bench of that size reuses it.
//! `TRACELEDGER_BENCH_EVENTS=100000 cargo bench --bench ledger` runs one size.
//! Durability is the same for ingest and its raw loop: WAL, synchronous=FULL, one
//! transaction per input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

/// The allocator the binary ships with (src/main.rs), so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod common;

use common::{load_rows, raw_scan_and_hash, raw_sqlite_insert};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::io::Cursor;
use std::time::Duration;
use traceledger::event::SchemaSet;
use traceledger::ingest::{IngestOptions, Input, ingest};
use traceledger::simulate::{SimulationConfig, simulate};
use traceledger::store::Store;
use traceledger::verify::verify;

/// Roughly how many events one simulated finished device brings (measured; the stream also
/// carries master data).
const EVENTS_PER_UNIT_APPROX: u64 = 15;

fn sizes_wanted() -> Vec<u64> {
    std::env::var("TRACELEDGER_BENCH_EVENTS")
        .unwrap_or_else(|_| "10000,100000,1000000".to_owned())
        .split(',')
        .map(|size| {
            size.trim()
                .replace('_', "")
                .parse()
                .expect("TRACELEDGER_BENCH_EVENTS: numbers")
        })
        .collect()
}

fn stream(events_wanted: u64) -> (Vec<u8>, u64) {
    let units = (events_wanted / EVENTS_PER_UNIT_APPROX).max(1);
    let mut out = Vec::new();
    let summary = simulate(
        &SimulationConfig {
            units,
            seed: 42,
            sites: 3,
            lot_size: traceledger::simulate::DEFAULT_LOT_SIZE,
            operators: traceledger::simulate::DEFAULT_OPERATORS,
            instruments: traceledger::simulate::DEFAULT_INSTRUMENTS,
        },
        &mut out,
    )
    .unwrap();
    (out, summary.events)
}

fn ingest_into(path: &std::path::Path, bytes: &[u8], schemas: &SchemaSet) -> u64 {
    let mut store = Store::open(path).unwrap();
    let summary = ingest(
        &mut store,
        schemas,
        Input {
            name: "bench".to_owned(),
            reader: Box::new(Cursor::new(bytes)),
        },
        &IngestOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(summary.rejected, 0);
    summary.recorded
}

fn benches(c: &mut Criterion) {
    for size in sizes_wanted() {
        bench_size(c, size);
    }
    // UDI parsing does not depend on the ledger: once.
    let mut udi = c.benchmark_group("queries");
    udi.bench_function("udi_parse_gs1", |b| {
        b.iter(|| {
            traceledger::udi::parse("(01)09506000134352(11)200101(17)201225(10)ABC123(21)SN-42")
                .unwrap()
        })
    });
    udi.bench_function("udi_parse_isbt128", |b| {
        b.iter(|| {
            traceledger::udi::parse(
                "=+06000=/A9999XYZ100T0476=,000025=A99971712345600=>019032=}017032&,1000000000000XYZ123",
            )
            .unwrap()
        })
    });
    udi.finish();
}

fn bench_size(c: &mut Criterion, events_wanted: u64) {
    let (bytes, events) = stream(events_wanted);
    let schemas = SchemaSet::load().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let built = dir.path().join("built.db");
    create_ledger(&built, &schemas);
    let genesis_size = Store::open(&built).unwrap().head().unwrap().unwrap().seq;
    assert_eq!(ingest_into(&built, &bytes, &schemas), events);

    let mut group = c.benchmark_group("ledger");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(events));

    group.bench_function(format!("ingest/{events}"), |b| {
        b.iter_batched(
            || {
                let path = dir.path().join(format!("ingest-{}.db", fastrand_suffix()));
                create_ledger(&path, &schemas);
                path
            },
            |path| {
                ingest_into(&path, &bytes, &schemas);
                let _ = std::fs::remove_file(&path);
            },
            BatchSize::PerIteration,
        );
    });

    let rows = load_rows(&built);
    group.bench_function(format!("raw_sqlite_insert/{events}"), |b| {
        b.iter_batched(
            || dir.path().join(format!("raw-{}.db", fastrand_suffix())),
            |path| {
                raw_sqlite_insert(&rows, &path);
                let _ = std::fs::remove_file(&path);
            },
            BatchSize::PerIteration,
        );
    });

    group.bench_function(format!("verify/{events}"), |b| {
        let mut store = Store::open(&built).unwrap();
        b.iter(|| {
            let report = verify(&mut store, false).unwrap();
            assert!(report.finding.is_none());
        });
    });
    group.bench_function(format!("raw_scan_and_hash/{events}"), |b| {
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        b.iter(|| assert_eq!(raw_scan_and_hash(&built, threads), events + genesis_size));
    });
    group.bench_function(
        format!("verify_with_signatures_and_checkpoints/{events}"),
        |b| {
            let mut store = Store::open(&built).unwrap();
            b.iter(|| {
                let report =
                    traceledger::verify::verify_with_trust(&mut store, false, &Default::default())
                        .unwrap();
                assert!(report.finding.is_none() && report.trust.is_some());
            });
        },
    );
    group.finish();

    // A checkpoint after 10,000 more records: the subtree hashes over them are dropped
    // before each run, as if they had just been appended.
    let mut trust = c.benchmark_group("trust");
    trust.sample_size(10);
    let key = traceledger::signing::keys::read_signing_key(&ledger_key_of(&built)).unwrap();
    let mut store = Store::open(&built).unwrap();
    let identity = traceledger::genesis::identity(&store).unwrap().unwrap();
    traceledger::genesis::issue_checkpoint(&mut store, &identity.origin, &key).unwrap();
    let size = store.head().unwrap().unwrap().seq;
    trust.bench_function(format!("checkpoint_after_10000_more/{events}"), |b| {
        b.iter_batched(
            || {
                rusqlite::Connection::open(&built)
                    .unwrap()
                    .execute(
                        "DELETE FROM tree_nodes WHERE ((idx + 1) << level) > ?1",
                        [size.saturating_sub(10_000) as i64],
                    )
                    .unwrap();
            },
            |()| {
                traceledger::genesis::issue_checkpoint(&mut store, &identity.origin, &key).unwrap()
            },
            BatchSize::PerIteration,
        );
    });
    let mut leaf = 0u64;
    trust.bench_function(format!("inclusion_proof/{events}"), |b| {
        b.iter(|| {
            leaf = (leaf + 7_919) % size;
            traceledger::log_tree::inclusion_proof(&store, leaf + 1, size)
                .unwrap()
                .unwrap()
        })
    });
    trust.finish();
    drop(store);

    // Queries on the built ledger: one device's record, its genealogy both ways (forward
    // from the lot consumed most), its audit trail, a UDI.
    let store = Store::open(&built).unwrap();
    let unit = first_of_type(&built, "unit.released", "unit");
    let lot = most_consumed_lot(&built);
    let mut queries = c.benchmark_group("queries");
    queries.sample_size(30);
    queries.bench_function(format!("dhr/{events}"), |b| {
        b.iter(|| traceledger::device_history::device_history(&store, &unit).unwrap())
    });
    queries.bench_function(format!("trace_backward/{events}"), |b| {
        b.iter(|| traceledger::genealogy::backward(&store, &unit).unwrap())
    });
    queries.bench_function(format!("trace_forward_most_used_lot/{events}"), |b| {
        b.iter(|| traceledger::genealogy::forward(&store, &lot).unwrap())
    });
    let audit = traceledger::audit_trail::AuditQuery {
        entity: Some(unit.clone()),
        ..Default::default()
    };
    queries.bench_function(format!("audit_unit/{events}"), |b| {
        b.iter(|| {
            let mut entries = 0u64;
            traceledger::audit_trail::audit_trail(&store, &audit, &mut |_| {
                entries += 1;
                std::ops::ControlFlow::Continue(())
            })
            .unwrap();
            assert!(entries > 0);
        })
    });
    queries.finish();
}

/// A ledger with the simulated plant's genesis and its key beside it.
fn create_ledger(path: &std::path::Path, schemas: &SchemaSet) {
    traceledger::genesis::init(
        path,
        &ledger_key_of(path),
        None,
        &traceledger::simulate::genesis_spec(),
        schemas,
    )
    .unwrap();
}

fn ledger_key_of(path: &std::path::Path) -> std::path::PathBuf {
    path.with_extension("key")
}

/// The first record of `event_type`'s `data.field`, read straight from the file.
fn first_of_type(ledger: &std::path::Path, event_type: &str, field: &str) -> String {
    let connection = rusqlite::Connection::open(ledger).unwrap();
    let event: String = connection
        .query_row(
            "SELECT event FROM records WHERE type = ?1 ORDER BY seq LIMIT 1",
            [event_type],
            |r| r.get(0),
        )
        .unwrap();
    let value: serde_json::Value = serde_json::from_str(&event).unwrap();
    value["data"][field].as_str().unwrap().to_owned()
}

/// The lot the most `material.consumed` records name: the largest forward trace.
fn most_consumed_lot(ledger: &std::path::Path) -> String {
    rusqlite::Connection::open(ledger)
        .unwrap()
        .query_row(
            "SELECT json_extract(event, '$.data.lot') AS lot FROM records
             WHERE type = 'material.consumed' GROUP BY lot ORDER BY count(*) DESC, lot LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

/// A unique file name per iteration without another dependency.
fn fastrand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

criterion_group!(ledger, benches);
criterion_main!(ledger);
