//! A plant of the real shape (issue 11 §7): few people and instruments, each named by
//! thousands of records. Built and queried with the release binary, as an operator would.
//!
//! ```sh
//! cargo bench --bench plant                      # ~100,000 events, 16 operators and 4 instruments of each kind per site
//! TRACELEDGER_PLANT_EVENTS=20000 TRACELEDGER_PLANT_OPERATORS=8 cargo bench --bench plant
//! TRACELEDGER_PLANT_BIN=/path/to/older/traceledger cargo bench --bench plant   # the same plant, another build's ledger and dhr
//! ```
//!
//! `simulate --units N/14 --seed 42 --operators O --instruments I` (always this build's
//! simulate), `init --simulation`, one `ingest --quiet` of the whole stream (timed: events/s,
//! and the file's size after it), then `dhr UNIT` as a whole process on 50 units picked evenly:
//! wall time (p50, p99) and the pages SQLite read (`pread64` calls under `strace`, when
//! present: each page the process does not hold is one call). With this build's binary, the
//! same DHRs as library calls on a fresh store each: the records handed out
//! (`Store::track_reads`) and the read calls of the thread (`/proc/thread-self/io`).
//! Prints a table; docs/performance.md keeps the figures.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;
use traceledger::store::Store;

const EVENTS_PER_UNIT: u64 = 14;
const RUNS: usize = 50;
const STRACE: &str = "/usr/bin/strace";

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| v.replace('_', "").parse().expect("a number"))
        .unwrap_or(default)
}

fn main() {
    let events_wanted = env_or("TRACELEDGER_PLANT_EVENTS", 100_000);
    let operators = env_or("TRACELEDGER_PLANT_OPERATORS", 16);
    let instruments = env_or("TRACELEDGER_PLANT_INSTRUMENTS", 4);
    let own = PathBuf::from(env!("CARGO_BIN_EXE_traceledger"));
    let bin = std::env::var_os("TRACELEDGER_PLANT_BIN").map_or_else(|| own.clone(), PathBuf::from);
    let same_build = bin == own;
    let work = own.parent().unwrap().join("plant-work");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let ledger = work.join("ledger.db");
    let stream = work.join("plant.ndjson");

    let units = (events_wanted / EVENTS_PER_UNIT).max(1);
    let out = std::fs::File::create(&stream).unwrap();
    let status = Command::new(&own)
        .args(["simulate", "--units", &units.to_string(), "--seed", "42"])
        .args(["--operators", &operators.to_string()])
        .args(["--instruments", &instruments.to_string()])
        .stdout(out)
        .status()
        .unwrap();
    assert!(status.success());
    let events = std::fs::read_to_string(&stream).unwrap().lines().count() as u64;
    eprintln!(
        "plant: {events} events, {units} units, {operators} operators and {instruments} instruments of each kind per site; ledger and dhr by {}",
        bin.display()
    );

    run(&bin, &ledger, &["init", "--simulation"]);
    let start = Instant::now();
    run(
        &bin,
        &ledger,
        &["ingest", "--quiet", stream.to_str().unwrap()],
    );
    let ingest_secs = start.elapsed().as_secs_f64();
    let file_bytes = size(&ledger) + size(&ledger.with_extension("db-wal"));

    let connection = rusqlite::Connection::open(&ledger).unwrap();
    let named = |kind: &str| -> Vec<u64> {
        let mut statement = connection
            .prepare(
                "SELECT COUNT(*) FROM entity_refs WHERE kind = ?1 AND role = 2 GROUP BY entity",
            )
            .unwrap();
        let mut counts: Vec<u64> = statement
            .query_map([kind], |r| r.get::<_, i64>(0))
            .unwrap()
            .map(|c| c.unwrap() as u64)
            .collect();
        counts.sort_unstable();
        counts
    };
    let people = named("person");
    let equipment = named("equipment");
    let all_units: Vec<String> = {
        let mut statement = connection
            .prepare("SELECT unit FROM unit_progress ORDER BY unit")
            .unwrap();
        statement
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    drop(connection);
    let picked: Vec<&String> = (0..RUNS)
        .map(|i| &all_units[i * all_units.len() / RUNS])
        .collect();

    // Whole process: wall time, and pages read.
    for unit in picked.iter().take(3) {
        run(&bin, &ledger, &["dhr", unit]);
    }
    let mut wall: Vec<f64> = picked
        .iter()
        .map(|unit| {
            let start = Instant::now();
            run(&bin, &ledger, &["dhr", unit]);
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    wall.sort_by(f64::total_cmp);
    let mut pages: Vec<u64> = if Path::new(STRACE).exists() {
        picked
            .iter()
            .map(|unit| preads(&bin, &ledger, unit, &work))
            .collect()
    } else {
        eprintln!("{STRACE} is absent: pages read by the process are not counted");
        Vec::new()
    };
    pages.sort_unstable();

    // Library: records handed out and read calls, a fresh store per DHR.
    let mut library: Vec<(f64, u64, u64)> = Vec::new();
    if same_build {
        for unit in &picked {
            let store = Store::open(&ledger).unwrap();
            store.head().unwrap();
            store.track_reads();
            let before = thread_reads();
            let start = Instant::now();
            traceledger::device_history::device_history(&store, unit).unwrap();
            let ms = start.elapsed().as_secs_f64() * 1e3;
            let calls = thread_reads() - before;
            library.push((ms, store.take_reads().len() as u64, calls));
        }
    }

    let p = |values: &[f64], q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    let pu = |values: &[u64], q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    let spread = |values: &[u64]| {
        if values.is_empty() {
            "none".to_owned()
        } else {
            format!(
                "{}, {} median, {} max ({} entities)",
                values[0],
                pu(values, 0.5),
                values[values.len() - 1],
                values.len()
            )
        }
    };
    println!("| measure | {} |", bin.display());
    println!("| --- | --- |");
    println!("| events | {events} ({units} units) |");
    println!(
        "| ingest, one process | {:.0} events/s ({:.1} s) |",
        events as f64 / ingest_secs,
        ingest_secs
    );
    println!(
        "| file + WAL after ingest | {:.1} MB ({} bytes per event) |",
        file_bytes as f64 / 1e6,
        file_bytes / events.max(1)
    );
    println!("| records referencing each person | {} |", spread(&people));
    println!(
        "| records referencing each instrument | {} |",
        spread(&equipment)
    );
    println!(
        "| `dhr UNIT` whole process, p50 / p99 | {:.1} ms / {:.1} ms |",
        p(&wall, 0.5),
        p(&wall, 0.99)
    );
    if !pages.is_empty() {
        println!(
            "| `dhr UNIT` pages read (pread64), p50 / p99 / max | {} / {} / {} |",
            pu(&pages, 0.5),
            pu(&pages, 0.99),
            pages[pages.len() - 1]
        );
    }
    if !library.is_empty() {
        let mut ms: Vec<f64> = library.iter().map(|l| l.0).collect();
        ms.sort_by(f64::total_cmp);
        let mut records: Vec<u64> = library.iter().map(|l| l.1).collect();
        records.sort_unstable();
        let mut calls: Vec<u64> = library.iter().map(|l| l.2).collect();
        calls.sort_unstable();
        println!(
            "| library `device_history`, fresh store: ms p50 / p99 | {:.2} / {:.2} |",
            p(&ms, 0.5),
            p(&ms, 0.99)
        );
        println!(
            "| library: records handed out, p50 / max; read calls p50 / max | {} / {}; {} / {} |",
            pu(&records, 0.5),
            records[records.len() - 1],
            pu(&calls, 0.5),
            calls[calls.len() - 1]
        );
    }
    std::fs::remove_dir_all(&work).unwrap();
}

/// Runs `bin --ledger LEDGER ARGS`, output discarded; panics with its stderr if it fails.
fn run(bin: &Path, ledger: &Path, args: &[&str]) {
    let output = Command::new(bin)
        .arg("--ledger")
        .arg(ledger)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "traceledger {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `pread64` calls of one `dhr UNIT` process: SQLite reads each page it needs once.
fn preads(bin: &Path, ledger: &Path, unit: &str, work: &Path) -> u64 {
    let trace = work.join("strace.out");
    let status = Command::new(STRACE)
        .args(["-f", "-e", "trace=pread64", "-o"])
        .arg(&trace)
        .arg(bin)
        .arg("--ledger")
        .arg(ledger)
        .args(["dhr", unit])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .filter(|l| l.contains("pread64("))
        .count() as u64
}

/// Read calls this thread has made (Linux: /proc/thread-self/io), 0 elsewhere.
fn thread_reads() -> u64 {
    std::fs::read_to_string("/proc/thread-self/io")
        .ok()
        .and_then(|io| {
            io.lines()
                .find_map(|l| l.strip_prefix("syscr: "))
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(0)
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}
