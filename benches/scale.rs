//! The scale report: ledgers of growing size built and queried with the release binary, as
//! an operator would, and the figures written to docs/scale-report.md and docs/scale.svg.
//!
//! ```sh
//! cargo bench --bench scale                                         # 100,000 and 1,000,000 events
//! TRACELEDGER_SCALE_SIZES=100000,1000000,10000000 cargo bench --bench scale
//! ```
//!
//! For each size (approximate events): `simulate --units N/14 --seed 42 --lot-size 10000`
//! (supplier lots of 10,000 parts, so that the largest ledger has lots in 10,000 devices to
//! trace forward), `init --simulation`,
//! then `ingest --quiet` of the stream in ten chunks (the rate of each chunk shows whether
//! ingest holds as the ledger grows), the same rows written by the plainest SQLite loop
//! (benches/common) in the same chunks, the first checkpoint over the whole build, 30 small
//! appends each followed by a `checkpoint`, `verify` (hashes, links, signatures), and 50 runs
//! each of `dhr`, `trace --backward`, `trace --forward` (the most used lots), `audit
//! --entity` and `prove`, each a whole process under `/usr/bin/time -f %M` for its peak RSS,
//! on units, lots and seqs picked evenly from the ledger. The same queries are also timed as
//! library calls. A size the disk cannot hold is skipped and the report says so.

#![allow(clippy::unwrap_used, clippy::expect_used)]

/// The allocator the binary ships with (src/main.rs), so library figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod common;

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;
use traceledger::store::Store;

/// Events per simulated unit, roughly (the report gives the actual count).
const EVENTS_PER_UNIT: u64 = 14;
/// The main stream is ingested in this many chunks, one `ingest` process each.
const CHUNKS: usize = 10;
/// Parts per supplier lot: a bulk part, each lot in up to this many devices.
const LOT_SIZE: &str = "10000";
/// Runs of each query command (different unit, lot or seq each run).
const RUNS: usize = 50;
/// Appends, each followed by a timed `checkpoint`, and the records each appends.
const CHECKPOINT_RUNS: usize = 30;
const APPEND_EACH: usize = 256;
/// Disk needed per event while a size runs: the NDJSON (~450 B), the ledger and its WAL
/// (~800 B) and the raw loop's file (~700 B), with room to spare. Refined from the last
/// size measured.
const DISK_PER_EVENT_GUESS: u64 = 2_600;
const TIME: &str = "/usr/bin/time";

fn main() {
    let sizes: Vec<u64> = std::env::var("TRACELEDGER_SCALE_SIZES")
        .unwrap_or_else(|_| "100000,1000000".to_owned())
        .split(',')
        .map(|s| {
            s.trim()
                .replace('_', "")
                .parse()
                .expect("TRACELEDGER_SCALE_SIZES: numbers")
        })
        .collect();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_traceledger"));
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let work = bin.parent().unwrap().join("scale-work");
    std::fs::create_dir_all(&work).unwrap();
    let have_time = Path::new(TIME).exists();
    let machine = Machine::read(&work);
    eprintln!("scale report: sizes {sizes:?}, binary {}", bin.display());
    if !have_time {
        eprintln!("{TIME} is absent: peak RSS is not measured");
    }

    let mut results: Vec<SizeResult> = Vec::new();
    let mut skipped: Vec<String> = Vec::new();
    let mut disk_per_event = DISK_PER_EVENT_GUESS;
    for &size in &sizes {
        let free = disk_free(&work);
        let need = size * disk_per_event;
        if need > free {
            let why = format!(
                "{size} events skipped: needs about {} GB of disk ({disk_per_event} B per event \
                 while it runs), {} GB free",
                gb(need),
                gb(free)
            );
            eprintln!("{why}");
            skipped.push(why);
            continue;
        }
        let dir = work.join(format!("size-{size}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let result = run_size(&bin, &dir, size, have_time);
        disk_per_event = disk_per_event.max(result.peak_disk / result.events.max(1) * 13 / 10);
        std::fs::remove_dir_all(&dir).unwrap();
        results.push(result);
        // Written after each size, so a long run leaves what it has measured.
        let table = table(&results);
        println!("\n{table}");
        std::fs::write(
            root.join("docs/scale-report.md"),
            report(&machine, &results, &skipped, &table, have_time),
        )
        .unwrap();
        std::fs::write(root.join("docs/scale.svg"), svg(&results)).unwrap();
    }
    if results.is_empty() {
        eprintln!("no size ran: {skipped:?}");
    }
}

/// What one ledger size measured.
struct SizeResult {
    size: u64,
    units: u64,
    events: u64,
    simulate: Proc,
    init: Proc,
    /// Per chunk: events, ledger records after it, ingest process, raw loop seconds.
    chunks: Vec<(u64, u64, Proc, f64)>,
    file_bytes: u64,
    wal_bytes: u64,
    peak_disk: u64,
    first_checkpoint: Proc,
    /// Records each append before a timed checkpoint adds.
    per_append: usize,
    appends: Vec<Proc>,
    checkpoints: Vec<Proc>,
    verify: Proc,
    /// Best of two library runs: the chain pass (hashes, links, columns; no signatures), and
    /// the limit loop reading and hashing every record (benches/common).
    verify_chain_secs: f64,
    verify_limit_secs: f64,
    records: u64,
    /// Whole-process runs per command, in the order of [`COMMANDS`].
    commands: Vec<Vec<Proc>>,
    /// Library calls: dhr, backward, forward (seconds each run).
    library: Vec<Vec<f64>>,
    /// Answer sizes: records naming each unit, nodes of each backward and forward trace.
    unit_records: Vec<u64>,
    backward_nodes: Vec<u64>,
    forward_nodes: Vec<u64>,
    /// material.consumed records of the lots traced forward, most used first.
    lot_uses: Vec<u64>,
    /// The 1-minute load average when the size finished (other work on the machine).
    load_after: String,
}

const COMMANDS: [&str; 5] = [
    "dhr UNIT",
    "trace UNIT --backward",
    "trace LOT --forward",
    "audit --entity UNIT",
    "prove SEQ",
];
const LIBRARY: [&str; 3] = [
    "device_history::device_history",
    "genealogy::backward",
    "genealogy::forward",
];

/// One process: wall time (around the spawn and wait, including `/usr/bin/time`'s own
/// fork and exec) and its peak RSS in KiB.
#[derive(Clone, Copy, Default)]
struct Proc {
    secs: f64,
    rss_kib: Option<u64>,
}

fn run_size(bin: &Path, dir: &Path, size: u64, have_time: bool) -> SizeResult {
    let ledger = dir.join("ledger.db");
    let stream = dir.join("stream.ndjson");
    let units = (size / EVENTS_PER_UNIT).max(1);
    eprintln!("== {size}: simulate --units {units} --lot-size {LOT_SIZE}");
    let simulate = run(
        bin,
        &ledger,
        &[
            "simulate",
            "--units",
            &units.to_string(),
            "--seed",
            "42",
            "--lot-size",
            LOT_SIZE,
        ],
        Some(&stream),
        have_time,
    );
    let events = BufReader::new(std::fs::File::open(&stream).unwrap())
        .lines()
        .count() as u64;
    let init = run(bin, &ledger, &["init", "--simulation"], None, have_time);
    let genesis = ledger_head(&ledger);

    // The stream's tail is held back for the appends before each timed checkpoint.
    let per_append = APPEND_EACH.min(events as usize / 10 / CHECKPOINT_RUNS);
    let tail = per_append * CHECKPOINT_RUNS;
    let main = events as usize - tail;
    let mut lines = BufReader::new(std::fs::File::open(&stream).unwrap()).lines();
    let mut chunks = Vec::new();
    let mut chunk_seqs = Vec::new();
    let mut peak_disk = 0;
    for c in 0..CHUNKS {
        let take = main * (c + 1) / CHUNKS - main * c / CHUNKS;
        let file = dir.join("chunk.ndjson");
        write_lines(&mut lines, take, &file);
        let before = ledger_head(&ledger);
        let proc = run(
            bin,
            &ledger,
            &["ingest", "--quiet", file.to_str().unwrap()],
            None,
            have_time,
        );
        let after = ledger_head(&ledger);
        assert_eq!(after - before, take as u64, "chunk {c} not all recorded");
        eprintln!(
            "   chunk {c}: {take} events in {:.2} s ({:.0} events/s), ledger {after}",
            proc.secs,
            take as f64 / proc.secs
        );
        peak_disk = peak_disk.max(dir_bytes(dir));
        chunks.push((take as u64, after, proc, 0.0));
        chunk_seqs.push((before + 1, after));
        std::fs::remove_file(&file).unwrap();
    }
    let file_bytes = file_size(&ledger);
    let wal_bytes = file_size(&wal_of(&ledger));

    // The limit: the same rows, the same chunks, the plainest loop.
    let raw_path = dir.join("raw.db");
    let mut raw = common::RawLoop::create(&raw_path);
    for (c, &(from, to)) in chunk_seqs.iter().enumerate() {
        let (rows, refs) = common::load_rows_between(&ledger, from as i64, to as i64);
        let start = Instant::now();
        raw.write(&rows, &refs);
        chunks[c].3 = start.elapsed().as_secs_f64();
        eprintln!(
            "   raw chunk {c}: {} rows in {:.2} s",
            rows.len(),
            chunks[c].3
        );
    }
    drop(raw);
    peak_disk = peak_disk.max(dir_bytes(dir));
    std::fs::remove_file(&raw_path).unwrap();
    let _ = std::fs::remove_file(wal_of(&raw_path));
    let _ = std::fs::remove_file(raw_path.with_extension("db-shm"));

    // The first checkpoint hashes every leaf since the genesis checkpoint.
    eprintln!("== {size}: checkpoints");
    let first_checkpoint = run(bin, &ledger, &["checkpoint"], None, have_time);
    let mut appends = Vec::new();
    let mut checkpoints = Vec::new();
    for _ in 0..CHECKPOINT_RUNS {
        if per_append == 0 {
            break;
        }
        let file = dir.join("append.ndjson");
        write_lines(&mut lines, per_append, &file);
        appends.push(run(
            bin,
            &ledger,
            &["ingest", "--quiet", file.to_str().unwrap()],
            None,
            have_time,
        ));
        checkpoints.push(run(bin, &ledger, &["checkpoint"], None, have_time));
    }
    if per_append == 0 {
        checkpoints.push(run(bin, &ledger, &["checkpoint"], None, have_time));
    }
    let _ = std::fs::remove_file(dir.join("append.ndjson"));

    eprintln!("== {size}: verify");
    let verify = run(bin, &ledger, &["verify"], None, have_time);
    let records = ledger_head(&ledger);
    let _ = genesis;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mut verify_chain_secs = f64::MAX;
    let mut verify_limit_secs = f64::MAX;
    for _ in 0..2 {
        let mut store = Store::open(&ledger).unwrap();
        let start = Instant::now();
        let report = traceledger::verify::verify(&mut store, false).unwrap();
        verify_chain_secs = verify_chain_secs.min(start.elapsed().as_secs_f64());
        assert!(report.finding.is_none() && report.records == records);
        let start = Instant::now();
        assert_eq!(common::raw_scan_and_hash(&ledger, cores), records);
        verify_limit_secs = verify_limit_secs.min(start.elapsed().as_secs_f64());
    }
    eprintln!(
        "   chain pass {:.2} s, read-and-hash limit {:.2} s",
        verify_chain_secs, verify_limit_secs
    );

    // Picks, spread evenly over the ledger, deterministic.
    let connection = rusqlite::Connection::open(&ledger).unwrap();
    let released: Vec<String> = strings(
        &connection,
        "SELECT json_extract(event, '$.data.unit') FROM records WHERE type = 'unit.released'
         AND json_extract(event, '$.data.unit') IS NOT NULL ORDER BY seq",
    );
    let units_picked: Vec<String> = spread(&released, RUNS);
    let mut lots: Vec<(String, u64)> = Vec::new();
    {
        let mut statement = connection
            .prepare(
                "SELECT json_extract(event, '$.data.lot') AS lot, count(*) AS n FROM records
                 WHERE type = 'material.consumed' GROUP BY lot ORDER BY n DESC, lot LIMIT ?1",
            )
            .unwrap();
        let rows = statement
            .query_map([RUNS as i64], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        for row in rows {
            lots.push(row.unwrap());
        }
    }
    let unit_records: Vec<u64> = units_picked
        .iter()
        .map(|u| {
            connection
                .query_row(
                    "SELECT count(DISTINCT seq) FROM entity_refs WHERE entity = ?1",
                    [u],
                    |r| r.get(0),
                )
                .unwrap()
        })
        .collect();
    drop(connection);
    let seqs: Vec<String> = (0..RUNS as u64)
        .map(|i| (1 + (i * records + records / 2) / RUNS as u64).to_string())
        .collect();

    eprintln!("== {size}: queries ({RUNS} runs each)");
    let mut commands = Vec::new();
    for name in COMMANDS {
        let mut runs = Vec::new();
        for i in 0..RUNS {
            let unit = &units_picked[i % units_picked.len()];
            let lot = &lots[i % lots.len()].0;
            let args: Vec<&str> = match name {
                "dhr UNIT" => vec!["dhr", unit],
                "trace UNIT --backward" => vec!["trace", unit, "--backward"],
                "trace LOT --forward" => vec!["trace", lot, "--forward"],
                "audit --entity UNIT" => vec!["audit", "--entity", unit],
                _ => vec!["prove", &seqs[i]],
            };
            runs.push(run(bin, &ledger, &args, None, have_time));
        }
        commands.push(runs);
    }

    let store = Store::open(&ledger).unwrap();
    let mut library = vec![Vec::new(), Vec::new(), Vec::new()];
    let mut backward_nodes = Vec::new();
    let mut forward_nodes = Vec::new();
    for i in 0..RUNS {
        let unit = &units_picked[i % units_picked.len()];
        let lot = &lots[i % lots.len()].0;
        let start = Instant::now();
        std::hint::black_box(traceledger::device_history::device_history(&store, unit).unwrap());
        library[0].push(start.elapsed().as_secs_f64());
        let start = Instant::now();
        let back = traceledger::genealogy::backward(&store, unit).unwrap();
        library[1].push(start.elapsed().as_secs_f64());
        let start = Instant::now();
        let forward = traceledger::genealogy::forward(&store, lot).unwrap();
        library[2].push(start.elapsed().as_secs_f64());
        backward_nodes.push(nodes(&back.root));
        forward_nodes.push(nodes(&forward.root));
    }
    drop(store);
    peak_disk = peak_disk.max(dir_bytes(dir));

    SizeResult {
        size,
        units,
        events,
        simulate,
        init,
        chunks,
        file_bytes,
        wal_bytes,
        peak_disk,
        first_checkpoint,
        per_append,
        appends,
        checkpoints,
        verify,
        verify_chain_secs,
        verify_limit_secs,
        records,
        commands,
        library,
        unit_records,
        backward_nodes,
        forward_nodes,
        lot_uses: lots.iter().map(|l| l.1).collect(),
        load_after: std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .next()
            .unwrap_or("?")
            .to_owned(),
    }
}

/// Runs `bin --ledger LEDGER ARGS` (under `/usr/bin/time -f %M` when present), stdout to
/// `out` or discarded; panics with its stderr if it fails.
fn run(bin: &Path, ledger: &Path, args: &[&str], out: Option<&Path>, have_time: bool) -> Proc {
    let rss_file = ledger.with_extension("rss");
    let mut command = if have_time {
        let mut c = Command::new(TIME);
        c.args(["-f", "%M", "-o"]).arg(&rss_file).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    command.arg("--ledger").arg(ledger).args(args);
    command.stdout(match out {
        Some(path) => Stdio::from(std::fs::File::create(path).unwrap()),
        None => Stdio::null(),
    });
    command.stderr(Stdio::piped());
    let start = Instant::now();
    let output = command.output().unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert!(
        output.status.success(),
        "traceledger {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rss_kib = have_time
        .then(|| std::fs::read_to_string(&rss_file).ok())
        .flatten()
        .and_then(|t| t.lines().last().and_then(|l| l.trim().parse().ok()));
    Proc { secs, rss_kib }
}

fn write_lines(lines: &mut impl Iterator<Item = std::io::Result<String>>, n: usize, to: &Path) {
    let mut out = BufWriter::new(std::fs::File::create(to).unwrap());
    for line in lines.take(n) {
        out.write_all(line.unwrap().as_bytes()).unwrap();
        out.write_all(b"\n").unwrap();
    }
    out.flush().unwrap();
}

fn ledger_head(ledger: &Path) -> u64 {
    let connection = rusqlite::Connection::open(ledger).unwrap();
    connection
        .query_row("SELECT coalesce(max(seq), 0) FROM records", [], |r| {
            r.get(0)
        })
        .unwrap()
}

fn strings(connection: &rusqlite::Connection, sql: &str) -> Vec<String> {
    let mut statement = connection.prepare(sql).unwrap();
    statement
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// `n` items spread evenly over `all`.
fn spread(all: &[String], n: usize) -> Vec<String> {
    assert!(!all.is_empty(), "nothing to pick from");
    (0..n)
        .map(|i| all[(i * all.len() + all.len() / 2) / n].clone())
        .collect()
}

fn nodes(node: &traceledger::genealogy::TraceNode) -> u64 {
    1 + node.children.iter().map(nodes).sum::<u64>()
}

fn wal_of(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| file_size(&e.unwrap().path()))
        .sum()
}

fn disk_free(path: &Path) -> u64 {
    let out = Command::new("df")
        .args(["-B1", "--output=avail"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0)
}

fn gb(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1e9)
}

/// The `p`th percentile (nearest rank) of `values`.
fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0 * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn secs(procs: &[Proc]) -> Vec<f64> {
    procs.iter().map(|p| p.secs).collect()
}

fn peak_mb(procs: &[Proc]) -> Option<f64> {
    procs
        .iter()
        .filter_map(|p| p.rss_kib)
        .max()
        .map(|k| k as f64 / 1024.0)
}

fn ms(s: f64) -> String {
    if s < 0.01 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.1} ms", s * 1e3)
    }
}

fn mb(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.0} MB"))
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn range(values: &[u64]) -> String {
    let min = values.iter().min().copied().unwrap_or(0);
    let max = values.iter().max().copied().unwrap_or(0);
    if min == max {
        thousands(min)
    } else {
        format!("{}–{}", thousands(min), thousands(max))
    }
}

impl SizeResult {
    fn ingest_events(&self) -> u64 {
        self.chunks.iter().map(|c| c.0).sum()
    }
    fn ingest_rate(&self) -> f64 {
        self.ingest_events() as f64 / self.chunks.iter().map(|c| c.2.secs).sum::<f64>()
    }
    fn raw_rate(&self) -> f64 {
        self.ingest_events() as f64 / self.chunks.iter().map(|c| c.3).sum::<f64>()
    }
    fn chunk_rates(&self) -> Vec<(u64, f64, f64)> {
        self.chunks
            .iter()
            .map(|c| (c.1, c.0 as f64 / c.2.secs, c.0 as f64 / c.3))
            .collect()
    }
    fn p50(&self, command: usize) -> f64 {
        percentile(&secs(&self.commands[command]), 50.0)
    }
}

/// The report's table: one column per size.
fn table(results: &[SizeResult]) -> String {
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut row = |name: &str, f: &dyn Fn(&SizeResult) -> String| {
        rows.push((name.to_owned(), results.iter().map(f).collect()));
    };
    row(
        "events (simulate --units N/14 --seed 42 --lot-size 10000)",
        &|r| format!("{} ({} units)", thousands(r.events), thousands(r.units)),
    );
    row("records in the ledger at the end", &|r| {
        thousands(r.records)
    });
    row("simulate", &|r| {
        format!("{:.1} s, {}", r.simulate.secs, mb(peak_mb(&[r.simulate])))
    });
    row("**ingest**, 10 chunks (events/s)", &|r| {
        format!("**{}**", thousands(r.ingest_rate() as u64))
    });
    row("ingest rate per chunk, first → last", &|r| {
        let rates = r.chunk_rates();
        format!(
            "{} → {} (min {}, max {})",
            thousands(rates[0].1 as u64),
            thousands(rates[rates.len() - 1].1 as u64),
            thousands(rates.iter().map(|c| c.1).fold(f64::MAX, f64::min) as u64),
            thousands(rates.iter().map(|c| c.1).fold(0.0, f64::max) as u64)
        )
    });
    row("raw SQLite loop, same rows and chunks (rows/s)", &|r| {
        thousands(r.raw_rate() as u64)
    });
    row("raw loop per chunk, first → last", &|r| {
        let rates = r.chunk_rates();
        format!(
            "{} → {}",
            thousands(rates[0].2 as u64),
            thousands(rates[rates.len() - 1].2 as u64)
        )
    });
    row("ingest / raw", &|r| {
        format!("{:.2}", r.ingest_rate() / r.raw_rate())
    });
    row("peak RSS: ingest (largest chunk process)", &|r| {
        mb(peak_mb(&r.chunks.iter().map(|c| c.2).collect::<Vec<_>>()))
    });
    row(
        "peak RSS per ingest chunk, first → last (same chunk size)",
        &|r| {
            format!(
                "{} → {}",
                mb(peak_mb(&[r.chunks[0].2])),
                mb(peak_mb(&[r.chunks[r.chunks.len() - 1].2]))
            )
        },
    );
    row("**verify** (hashes, links, signatures; records/s)", &|r| {
        format!(
            "**{}** ({:.1} s)",
            thousands((r.records as f64 / r.verify.secs) as u64),
            r.verify.secs
        )
    });
    row("peak RSS: verify", &|r| mb(peak_mb(&[r.verify])));
    row("verify hashes, links, columns (library; records/s)", &|r| {
        thousands((r.records as f64 / r.verify_chain_secs) as u64)
    });
    row(
        "limit: read and hash every record, all cores (records/s)",
        &|r| thousands((r.records as f64 / r.verify_limit_secs) as u64),
    );
    row("verify hashes / limit", &|r| {
        format!("{:.2}", r.verify_limit_secs / r.verify_chain_secs)
    });
    for (c, name) in COMMANDS.iter().enumerate() {
        row(&format!("`{name}` p50 / p99, whole process"), &|r| {
            let s = secs(&r.commands[c]);
            format!(
                "{} / {}",
                ms(percentile(&s, 50.0)),
                ms(percentile(&s, 99.0))
            )
        });
        row(&format!("peak RSS: `{name}`"), &|r| {
            mb(peak_mb(&r.commands[c]))
        });
    }
    row("`checkpoint` after each append, p50 / p99", &|r| {
        let s = secs(&r.checkpoints);
        format!(
            "{} / {}",
            ms(percentile(&s, 50.0)),
            ms(percentile(&s, 99.0))
        )
    });
    row("peak RSS: `checkpoint`", &|r| mb(peak_mb(&r.checkpoints)));
    row("append: `ingest`, p50 / p99, whole process", &|r| {
        if r.appends.is_empty() {
            return "n/a".to_owned();
        }
        let s = secs(&r.appends);
        format!(
            "{} / {} ({} records each)",
            ms(percentile(&s, 50.0)),
            ms(percentile(&s, 99.0)),
            r.per_append
        )
    });
    row(
        "first `checkpoint` after the build (hashes every leaf)",
        &|r| {
            format!(
                "{}, {}",
                ms(r.first_checkpoint.secs),
                mb(peak_mb(&[r.first_checkpoint]))
            )
        },
    );
    for (l, name) in LIBRARY.iter().enumerate() {
        row(&format!("library `{name}` p50 / p99"), &|r| {
            format!(
                "{} / {}",
                ms(percentile(&r.library[l], 50.0)),
                ms(percentile(&r.library[l], 99.0))
            )
        });
    }
    row("answer: records naming each unit (dhr, audit)", &|r| {
        range(&r.unit_records)
    });
    row("answer: nodes of each backward trace", &|r| {
        range(&r.backward_nodes)
    });
    row("answer: nodes of each forward trace", &|r| {
        range(&r.forward_nodes)
    });
    row(
        "lots traced forward: material.consumed records each",
        &|r| range(&r.lot_uses),
    );
    row("bytes on disk per event (file + WAL)", &|r| {
        format!(
            "{:.0} ({:.0} + {:.0})",
            (r.file_bytes + r.wal_bytes) as f64 / r.ingest_events() as f64,
            r.file_bytes as f64 / r.ingest_events() as f64,
            r.wal_bytes as f64 / r.ingest_events() as f64
        )
    });
    row("peak RSS: `init`", &|r| mb(peak_mb(&[r.init])));
    row("load average (1 min) when the size finished", &|r| {
        r.load_after.clone()
    });

    let mut out = String::from("| measure |");
    for r in results {
        let _ = write!(out, " {} events |", thousands(r.size));
    }
    out.push_str("\n| --- |");
    for _ in results {
        out.push_str(" --- |");
    }
    out.push('\n');
    for (name, cells) in rows {
        let _ = writeln!(out, "| {name} | {} |", cells.join(" | "));
    }
    out
}

/// The machine the report ran on.
struct Machine {
    cpu: String,
    cores: usize,
    ram_gib: f64,
    disk_free_gb: String,
    load: String,
    date: String,
    commit: String,
}

impl Machine {
    fn read(work: &Path) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map_or("unknown".to_owned(), |s| s.trim().to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let ram_kib: f64 = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        let text = |program: &str, args: &[&str]| {
            Command::new(program)
                .args(args)
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                .unwrap_or_default()
        };
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            ram_gib: ram_kib / 1024.0 / 1024.0,
            disk_free_gb: gb(disk_free(work)),
            load: std::fs::read_to_string("/proc/loadavg")
                .unwrap_or_default()
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
            date: text("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
            commit: text(
                "git",
                &[
                    "-C",
                    env!("CARGO_MANIFEST_DIR"),
                    "rev-parse",
                    "--short",
                    "HEAD",
                ],
            ),
        }
    }
}

fn report(
    machine: &Machine,
    results: &[SizeResult],
    skipped: &[String],
    table: &str,
    have_time: bool,
) -> String {
    let sizes: Vec<String> = results.iter().map(|r| r.size.to_string()).collect();
    let mut out = String::new();
    let _ = writeln!(out, "# Scale report\n");
    let _ = writeln!(
        out,
        "Written by `benches/scale.rs`; rerun with one command (sizes are approximate events):\n\n\
         ```sh\nTRACELEDGER_SCALE_SIZES={} cargo bench --bench scale\n```\n",
        sizes.join(",")
    );
    let _ = writeln!(
        out,
        "Machine: {} ({} cores), {:.1} GiB RAM, {} GB free on the disk of `target/` at the \
         start; load average {} at the start (other work shares the machine); {}; commit {}.\n",
        machine.cpu,
        machine.cores,
        machine.ram_gib,
        machine.disk_free_gb,
        machine.load,
        machine.date,
        machine.commit
    );
    for why in skipped {
        let _ = writeln!(out, "**Skipped:** {why}.\n");
    }
    if !have_time {
        let _ = writeln!(
            out,
            "`/usr/bin/time` is absent: peak RSS was not measured.\n"
        );
    }
    out.push_str(table);
    out.push_str(
        "\nEvery command is the release binary as a whole process (start, open, answer, exit), \
         output discarded, timed around its spawn under `/usr/bin/time -f %M` (which also \
         gives the peak RSS); 50 runs per command on 50 different units, lots or seqs picked \
         evenly from the ledger. The forward traces are of the 50 lots with the most \
         `material.consumed` records. `checkpoint` runs 30 times, each after an `ingest` of \
         256 more records held back from the stream. The ingest figure is the stream less \
         that tail, in ten `ingest --quiet` processes (one durable transaction each); the raw \
         loop writes the same record and entity-index rows (not the KPI tables) in the same \
         ten transactions. Library calls run in the bench process on a warm store.\n\n\
         ![ingest rate, query latency and peak memory against ledger size](scale.svg)\n",
    );
    out
}

/// Three panels against ledger size (log x): ingest rate per chunk, p50 query latency
/// (log y), peak RSS.
fn svg(results: &[SizeResult]) -> String {
    const W: f64 = 360.0;
    const H: f64 = 320.0;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" \
         font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
        W * 3.0,
        H
    );
    let colours = [
        "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
    ];
    let x_range = (
        results.iter().map(|r| r.chunks[0].1).min().unwrap_or(1) as f64,
        results.iter().map(|r| r.records).max().unwrap_or(10) as f64,
    );

    let mut ingest: Vec<Series> = Vec::new();
    for r in results {
        let rates = r.chunk_rates();
        ingest.push(Series {
            name: format!("ingest, {} build", thousands(r.size)),
            points: rates.iter().map(|c| (c.0 as f64, c.1)).collect(),
            dashed: false,
        });
        ingest.push(Series {
            name: format!("raw loop, {} build", thousands(r.size)),
            points: rates.iter().map(|c| (c.0 as f64, c.2)).collect(),
            dashed: true,
        });
    }
    panel(
        &mut out,
        0.0,
        "ingest rate per chunk (events/s)",
        x_range,
        false,
        &ingest,
        &colours,
    );

    let by_size = |f: &dyn Fn(&SizeResult) -> f64| -> Vec<(f64, f64)> {
        results.iter().map(|r| (r.records as f64, f(r))).collect()
    };
    let mut latency = Vec::new();
    for (c, name) in COMMANDS.iter().enumerate().take(3) {
        latency.push(Series {
            name: format!("{name} (process)"),
            points: by_size(&|r| r.p50(c) * 1e3),
            dashed: false,
        });
    }
    for (l, name) in LIBRARY.iter().enumerate() {
        latency.push(Series {
            name: format!("{} (library)", name.split("::").last().unwrap_or(name)),
            points: by_size(&|r| percentile(&r.library[l], 50.0) * 1e3),
            dashed: true,
        });
    }
    panel(
        &mut out,
        W,
        "p50 latency (ms, log)",
        x_range,
        true,
        &latency,
        &colours,
    );

    let rss =
        |procs: &dyn Fn(&SizeResult) -> Vec<Proc>| by_size(&|r| peak_mb(&procs(r)).unwrap_or(0.0));
    let memory = vec![
        Series {
            name: "ingest".to_owned(),
            points: rss(&|r| r.chunks.iter().map(|c| c.2).collect()),
            dashed: false,
        },
        Series {
            name: "verify".to_owned(),
            points: rss(&|r| vec![r.verify]),
            dashed: false,
        },
        Series {
            name: "dhr".to_owned(),
            points: rss(&|r| r.commands[0].clone()),
            dashed: false,
        },
        Series {
            name: "trace --forward".to_owned(),
            points: rss(&|r| r.commands[2].clone()),
            dashed: false,
        },
        Series {
            name: "checkpoint".to_owned(),
            points: rss(&|r| r.checkpoints.clone()),
            dashed: false,
        },
    ];
    panel(
        &mut out,
        2.0 * W,
        "peak RSS (MB)",
        x_range,
        false,
        &memory,
        &colours,
    );
    out.push_str("</svg>\n");
    out
}

struct Series {
    name: String,
    points: Vec<(f64, f64)>,
    dashed: bool,
}

/// One panel at horizontal offset `left`: axes, ticks, a polyline per series, a legend.
fn panel(
    out: &mut String,
    left: f64,
    title: &str,
    (x_min, x_max): (f64, f64),
    log_y: bool,
    series: &[Series],
    colours: &[&str],
) {
    let (plot_left, plot_right, plot_top, plot_bottom) = (left + 60.0, left + 345.0, 30.0, 190.0);
    let lx = |x: f64| x.max(1.0).log10();
    let (x0, x1) = (
        lx(x_min).floor(),
        lx(x_max).ceil().max(lx(x_min).floor() + 1.0),
    );
    let ys = series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let y_max = ys.clone().fold(0.0f64, f64::max).max(1e-9);
    let (y0, y1) = if log_y {
        let y_min = ys.fold(f64::MAX, f64::min).max(1e-6);
        (
            y_min.log10().floor(),
            y_max.log10().ceil().max(y_min.log10().floor() + 1.0),
        )
    } else {
        (0.0, nice(y_max * 1.1))
    };
    let px = |x: f64| plot_left + (lx(x) - x0) / (x1 - x0) * (plot_right - plot_left);
    let py = |y: f64| {
        let v = if log_y { y.max(1e-6).log10() } else { y };
        plot_bottom - (v - y0) / (y1 - y0) * (plot_bottom - plot_top)
    };
    let _ = writeln!(
        out,
        "<text x=\"{}\" y=\"18\" font-size=\"13\" font-weight=\"bold\">{title}</text>\n\
         <path d=\"M{plot_left},{plot_top} V{plot_bottom} H{plot_right}\" fill=\"none\" stroke=\"black\"/>",
        plot_left
    );
    let mut decade = x0;
    while decade <= x1 + 1e-9 {
        let x = plot_left + (decade - x0) / (x1 - x0) * (plot_right - plot_left);
        let _ = writeln!(
            out,
            "<line x1=\"{x:.1}\" y1=\"{plot_bottom}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"black\"/>\
             <text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            plot_bottom + 4.0,
            plot_bottom + 16.0,
            compact(10f64.powf(decade))
        );
        decade += 1.0;
    }
    let _ = writeln!(
        out,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">records in the ledger (log)</text>",
        (plot_left + plot_right) / 2.0,
        plot_bottom + 30.0
    );
    // A log axis is ticked at its decades, a linear one in quarters.
    let ticks: Vec<f64> = if log_y {
        (y0 as i32..=y1 as i32).map(|d| 10f64.powi(d)).collect()
    } else {
        (0..=4).map(|i| y1 * f64::from(i) / 4.0).collect()
    };
    for value in ticks {
        let y = py(value);
        let _ = writeln!(
            out,
            "<line x1=\"{}\" y1=\"{y:.1}\" x2=\"{plot_left}\" y2=\"{y:.1}\" stroke=\"black\"/>\
             <line x1=\"{plot_left}\" y1=\"{y:.1}\" x2=\"{plot_right}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            plot_left - 4.0,
            plot_left - 6.0,
            y + 4.0,
            compact(value)
        );
    }
    for (i, s) in series.iter().enumerate() {
        let colour = colours[i % colours.len()];
        let dash = if s.dashed {
            " stroke-dasharray=\"5,3\""
        } else {
            ""
        };
        let points: Vec<String> = s
            .points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let _ = writeln!(
            out,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\"{dash}/>",
            points.join(" ")
        );
        for p in &points {
            let (x, y) = p.split_once(',').unwrap_or(("0", "0"));
            let _ = writeln!(
                out,
                "<circle cx=\"{x}\" cy=\"{y}\" r=\"2.5\" fill=\"{colour}\"/>"
            );
        }
        let ly = plot_bottom + 46.0 + 12.0 * i as f64;
        let _ = writeln!(
            out,
            "<line x1=\"{plot_left}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" stroke=\"{colour}\" stroke-width=\"2\"{dash}/>\
             <text x=\"{}\" y=\"{}\">{}</text>",
            plot_left + 20.0,
            plot_left + 25.0,
            ly + 4.0,
            s.name
        );
    }
}

/// A round upper bound for a linear axis.
fn nice(value: f64) -> f64 {
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|&v| v >= value)
        .unwrap_or(value)
}

/// 1500 -> "1.5k", 2000000 -> "2M", 0.5 -> "0.5".
fn compact(value: f64) -> String {
    let (scaled, suffix) = if value >= 1e6 {
        (value / 1e6, "M")
    } else if value >= 1e3 {
        (value / 1e3, "k")
    } else {
        (value, "")
    };
    let text = format!("{scaled:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}{suffix}")
}
