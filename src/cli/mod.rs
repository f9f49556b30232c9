//! The command line: the only module that knows clap, terminals and exit codes.
//!
//! Each subcommand parses its arguments, calls the library, and formats the answer. Every
//! failure becomes one [`CliError`], printed once with its chain and mapped to an exit code in
//! [`CliError::exit_code`]: 0 ok, 1 integrity failure, 2 bad input or usage, 3 I/O or
//! environment.

mod demo;
mod output;
mod trust;

use clap::{Args, Parser, Subcommand};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use traceledger::audit_trail::{self, AuditError};
use traceledger::device_history::{self, DeviceHistoryError};
use traceledger::event::SchemaSet;
use traceledger::genealogy::{self, GenealogyError};
use traceledger::ingest::{self, IngestError, IngestOptions, IngestSummary, Input};
use traceledger::simulate::{self, SimulateError, SimulationConfig};
use traceledger::store::{LogFilter, Store, StoreError};
use traceledger::verify::{self, VerifyError, VerifyReport};

pub const EXIT_OK: u8 = 0;
pub const EXIT_INTEGRITY: u8 = 1;
pub const EXIT_BAD_INPUT: u8 = 2;
pub const EXIT_ENVIRONMENT: u8 = 3;

#[derive(Debug, Parser)]
#[command(
    name = "traceledger",
    version,
    about = "Append-only, hash-chained traceability ledger for medical-device production records"
)]
pub struct Cli {
    #[command(flatten)]
    ledger: LedgerArg,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct LedgerArg {
    /// The ledger file
    #[arg(
        long,
        global = true,
        env = "TRACELEDGER_LEDGER",
        default_value = "traceledger.db"
    )]
    ledger: PathBuf,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a ledger: its signing key, the genesis (first site and admin) and the first
    /// checkpoint (refuses to overwrite anything)
    Init(trust::InitArgs),
    /// Make or show Ed25519 keys
    Keys {
        #[command(subcommand)]
        command: trust::KeysCommand,
    },
    /// Add an electronic signature to each event of an NDJSON stream (to standard output)
    Sign(trust::SignArgs),
    /// Sign a checkpoint (tree size and root) of the ledger as it stands, and keep it
    Checkpoint {
        /// Write the checkpoint here instead of standard output
        #[arg(long)]
        out: Option<PathBuf>,
        /// The ledger's private key [default: LEDGER.key]
        #[arg(long)]
        ledger_key: Option<PathBuf>,
    },
    /// Print a Merkle inclusion proof of a record, or a consistency proof of two checkpoints
    Prove(trust::ProveArgs),
    /// Sign the DHR of a unit or lot as it stands: prints the signed approval for `ingest`
    Approve(trust::ApproveArgs),
    /// Write an auditor bundle: a unit's DHR records with proofs and a signed checkpoint
    Export(trust::ExportArgs),
    /// Verify an auditor bundle offline, with only the ledger's public key, and print its DHR
    VerifyBundle(trust::VerifyBundleArgs),
    /// Record the events of an NDJSON file (or - for stdin), all or nothing
    Ingest {
        /// NDJSON input, one event per line; - reads standard input
        input: String,
        /// Record the good lines and write each bad line with its reason to this file
        #[arg(long)]
        rejects: Option<PathBuf>,
        /// Commit every N lines while no line is bad (for long inputs: an interrupted ingest
        /// keeps its committed chunks; run it again and they are skipped as duplicates)
        #[arg(long, value_name = "N", conflicts_with = "rejects", value_parser = clap::value_parser!(u64).range(1..))]
        commit_every: Option<u64>,
        /// No progress bar
        #[arg(long)]
        quiet: bool,
    },
    /// Check every record's hash and link; exit 1 at the first broken one
    Verify {
        /// Print the result as JSON
        #[arg(long)]
        json: bool,
        /// Also compare the derived entity index with one rebuilt from the records
        #[arg(long)]
        derived: bool,
        /// A head kept from an earlier verify, SEQ:HASH, that must still be in the ledger
        /// (repeatable); catches a rewritten or cut-off log
        #[arg(long = "expect-head", value_name = "SEQ:HASH", value_parser = parse_kept_head)]
        expect_heads: Vec<(u64, traceledger::chain::RecordHash)>,
        /// A checkpoint kept from before (repeatable): the ledger must still hash to its root
        #[arg(long = "checkpoint", value_name = "FILE")]
        checkpoints: Vec<PathBuf>,
        /// The ledger's public key as you hold it [default: the one the ledger names]
        #[arg(long)]
        ledger_key: Option<PathBuf>,
        /// Check every signature one by one with strict Ed25519 (slower), instead of batch
        /// verification with strict checks where a batch cannot decide
        #[arg(long)]
        strict_signatures: bool,
    },
    /// List records
    Log {
        /// Only records of this type (repeatable)
        #[arg(long = "type", value_name = "TYPE")]
        types: Vec<String>,
        /// Only records that name this entity (unit, lot, person, work order, ...)
        #[arg(long, value_name = "ID")]
        entity: Option<String>,
        /// From this seq (inclusive)
        #[arg(long, value_name = "SEQ")]
        from: Option<u64>,
        /// Up to this seq (inclusive)
        #[arg(long, value_name = "SEQ")]
        to: Option<u64>,
        /// At most this many records
        #[arg(long)]
        limit: Option<u64>,
        /// Full records as NDJSON
        #[arg(long)]
        json: bool,
    },
    /// Recompute every derived table from the records alone
    Rebuild,
    /// Upgrade a ledger of an older schema version to this build's (read commands never
    /// change a ledger, so they refuse an old one until it is migrated)
    Migrate,
    /// Write a realistic, valid event stream of a simulated plant to stdout
    Simulate {
        /// Finished devices to make
        #[arg(long, default_value_t = 100)]
        units: u64,
        /// Random seed: the same seed gives the same stream
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Number of sites (1 to 26)
        #[arg(long, default_value_t = 3)]
        sites: u32,
        /// Parts per supplier lot received: each lot reaches about this many devices
        #[arg(long, default_value_t = simulate::DEFAULT_LOT_SIZE)]
        lot_size: u64,
    },
    /// The audit trail: who did what and when, corrections beside what they correct
    Audit {
        /// Only records that name this entity
        #[arg(long, value_name = "ID")]
        entity: Option<String>,
        /// Only records by this person
        #[arg(long, value_name = "PERSON")]
        actor: Option<String>,
        /// Only records of this type (repeatable)
        #[arg(long = "type", value_name = "TYPE")]
        types: Vec<String>,
        /// From this time (RFC 3339)
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// Up to this time (RFC 3339)
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
        /// Apply --since/--until to the ledger's recording time instead of the floor's time
        #[arg(long)]
        recorded: bool,
        /// CSV (RFC 4180) with a header row
        #[arg(long, conflicts_with = "json")]
        csv: bool,
        /// NDJSON, one entry per line
        #[arg(long)]
        json: bool,
    },
    /// Plant KPIs by site, product and month: started, released, scrapped, right-first-time,
    /// first-pass yield per operation, release cycle time, open nonconformances
    Kpi {
        /// Only this site
        #[arg(long)]
        site: Option<String>,
        /// Only this product
        #[arg(long)]
        product: Option<String>,
        /// Only units started in this month (YYYY-MM) or year (YYYY)
        #[arg(long)]
        period: Option<String>,
        /// Print as JSON
        #[arg(long)]
        json: bool,
        /// Compute from the records themselves instead of the KPI tables (slow: reads every
        /// unit's records; gives the same answer)
        #[arg(long)]
        from_log: bool,
    },
    /// The Device History Record of a unit, with its exceptions
    Dhr {
        /// The unit's serial
        unit: String,
        /// Print the record as JSON (stable field names, see docs/dhr.md)
        #[arg(long, conflicts_with = "html")]
        json: bool,
        /// Print one self-contained, printable HTML page
        #[arg(long)]
        html: bool,
    },
    /// Genealogy of a unit or lot: what went into it (--backward) or where it went (--forward)
    Trace {
        /// A serial, a lot, or a UDI in any form
        id: String,
        /// What went into it: components, materials, lots back to their suppliers
        #[arg(long, conflicts_with = "forward", required_unless_present = "forward")]
        backward: bool,
        /// Where it went: every unit and lot containing it, releases, shipments, customers
        #[arg(long)]
        forward: bool,
        /// With --forward: read the records themselves, not the forward genealogy the ledger
        /// keeps (slower; the reference that `verify --derived` holds the kept one to)
        #[arg(long, requires = "forward")]
        from_log: bool,
        /// Print the tree as JSON
        #[arg(long, conflicts_with_all = ["dot", "mermaid"])]
        json: bool,
        /// Print a Graphviz graph (dot -Tsvg)
        #[arg(long, conflicts_with = "mermaid")]
        dot: bool,
        /// Print a Mermaid flowchart
        #[arg(long)]
        mermaid: bool,
    },
    /// Unique Device Identifiers
    Udi {
        #[command(subcommand)]
        action: UdiCommand,
    },
    /// Build a demo ledger from a simulated plant, verify it, and show what to look at
    Demo {
        /// Folder to create for the demo
        #[arg(long, default_value = "demo-ledger")]
        dir: PathBuf,
        /// Finished devices to simulate
        #[arg(long, default_value_t = 2_000)]
        units: u64,
        /// Random seed
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Debug, Subcommand)]
enum UdiCommand {
    /// Parse a UDI (GS1 element string, raw scanner data with GS separators, or Digital Link)
    Parse {
        /// The UDI as printed or scanned
        input: String,
        /// Print the result as JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Verify(#[from] VerifyError),
    #[error(transparent)]
    Tree(#[from] traceledger::log_tree::TreeError),
    #[error(transparent)]
    Simulate(#[from] SimulateError),
    #[error(transparent)]
    Genealogy(#[from] GenealogyError),
    #[error(transparent)]
    DeviceHistory(#[from] DeviceHistoryError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error("the embedded event schemas are broken: {0}")]
    Schemas(#[from] traceledger::event::SchemaError),
    #[error("cannot {what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    /// Input lines were refused; they have been reported already.
    #[error("{0}")]
    Rejected(String),
    /// The ledger failed verification; the finding has been reported already.
    #[error("{0}")]
    Integrity(String),
    #[error("{0}")]
    Usage(String),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Integrity(_) => EXIT_INTEGRITY,
            CliError::Rejected(_) | CliError::Usage(_) => EXIT_BAD_INPUT,
            CliError::Store(StoreError::AlreadyExists(_)) => EXIT_BAD_INPUT,
            CliError::Store(e) | CliError::Ingest(IngestError::Store(e)) if e.is_corruption() => {
                EXIT_INTEGRITY
            }
            CliError::Verify(VerifyError::Store(e)) if e.is_corruption() => EXIT_INTEGRITY,
            CliError::Ingest(e @ IngestError::PartlyCommitted { .. }) => match e.cause() {
                IngestError::Store(e) if e.is_corruption() => EXIT_INTEGRITY,
                _ => EXIT_ENVIRONMENT,
            },
            CliError::Tree(e) if e.is_integrity() => EXIT_INTEGRITY,
            CliError::Simulate(SimulateError::Config(_)) => EXIT_BAD_INPUT,
            CliError::Genealogy(GenealogyError::NotFound(_) | GenealogyError::BadUdi { .. })
            | CliError::DeviceHistory(DeviceHistoryError::NotFound(_))
            | CliError::Audit(AuditError::BadTime(_)) => EXIT_BAD_INPUT,
            CliError::Ingest(IngestError::Read { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                EXIT_BAD_INPUT
            }
            CliError::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe => {
                EXIT_OK
            }
            CliError::Simulate(SimulateError::Write(source))
                if source.kind() == std::io::ErrorKind::BrokenPipe =>
            {
                EXIT_OK
            }
            _ => EXIT_ENVIRONMENT,
        }
    }

    /// Whether this error ends quietly (a reader closed our output pipe, as `head` does).
    pub fn is_broken_pipe(&self) -> bool {
        match self {
            CliError::Io { source, .. } | CliError::Simulate(SimulateError::Write(source)) => {
                source.kind() == std::io::ErrorKind::BrokenPipe
            }
            _ => false,
        }
    }
}

/// `SEQ:HASH` as `verify --json` prints a head (seq, 64 hex digits).
fn parse_kept_head(text: &str) -> Result<(u64, traceledger::chain::RecordHash), String> {
    let (seq, hash) = text
        .split_once(':')
        .ok_or_else(|| format!("{text:?}: expected SEQ:HASH"))?;
    let seq = seq
        .parse()
        .map_err(|_| format!("{seq:?} is not a seq (a positive integer)"))?;
    let hash = traceledger::chain::RecordHash::from_hex(hash)
        .ok_or_else(|| format!("{hash:?} is not a hash (64 hex digits)"))?;
    Ok((seq, hash))
}

pub(crate) fn stdout_error(source: std::io::Error) -> CliError {
    CliError::Io {
        what: "write to standard output".to_owned(),
        source,
    }
}

/// Runs the parsed command line.
///
/// # Errors
/// Whatever the command fails with; [`CliError::exit_code`] says how to exit.
pub fn run(cli: Cli) -> Result<(), CliError> {
    let ledger = cli.ledger.ledger;
    match cli.command {
        Command::Init(args) => trust::init(&ledger, args),
        Command::Keys { command } => trust::keys(command),
        Command::Sign(args) => trust::sign(args),
        Command::Checkpoint { out, ledger_key } => trust::checkpoint(&ledger, ledger_key, out),
        Command::Prove(args) => trust::prove(&ledger, args),
        Command::Export(args) => trust::export(&ledger, args),
        Command::Approve(args) => trust::approve(&ledger, args),
        Command::VerifyBundle(args) => trust::verify_bundle(args),
        Command::Ingest {
            input,
            rejects,
            commit_every,
            quiet,
        } => {
            let mut store = Store::open(&ledger)?;
            let options = IngestOptions {
                rejects,
                commit_every,
            };
            let summary = run_ingest(&mut store, &input, &options, !quiet)?;
            finish_ingest(&input, &summary)
        }
        Command::Verify {
            json,
            derived,
            expect_heads,
            checkpoints,
            ledger_key,
            strict_signatures,
        } => {
            let options = verify::TrustOptions {
                kept_heads: expect_heads,
                trusted_key: trust::trusted_key(ledger_key.as_deref())?,
                held: trust::held_checkpoints(&checkpoints)?,
                mode: if strict_signatures {
                    verify::signatures::Mode::Strict
                } else {
                    verify::signatures::Mode::Batch
                },
            };
            let mut store = Store::open_read_only(&ledger)?;
            let report = verify::verify_with_trust(&mut store, derived, &options)?;
            print_verify(&report, json)
        }
        Command::Log {
            types,
            entity,
            from,
            to,
            limit,
            json,
        } => {
            let store = Store::open_read_only(&ledger)?;
            let filter = LogFilter {
                types,
                entity,
                from_seq: from,
                to_seq: to,
                limit,
                ..LogFilter::default()
            };
            output::print_log(&store, &filter, json)
        }
        Command::Rebuild => {
            let mut store = Store::open(&ledger)?;
            let count = store.rebuild_derived(|event| {
                serde_json::from_str(event)
                    .map(|value| traceledger::event::entity_refs(&value))
                    .map_err(|e| format!("event is not valid JSON: {e}"))
            })?;
            let nodes = traceledger::log_tree::rebuild(&mut store)?;
            println!(
                "rebuilt the entity index from {count} records, and {nodes} Merkle tree nodes"
            );
            Ok(())
        }
        Command::Migrate => {
            let found = Store::migrate(&ledger)?;
            if found == traceledger::store::SCHEMA_VERSION {
                println!(
                    "{} is at schema version {found} already: nothing to do",
                    ledger.display()
                );
            } else {
                println!(
                    "migrated {} from schema version {found} to {}",
                    ledger.display(),
                    traceledger::store::SCHEMA_VERSION
                );
            }
            Ok(())
        }
        Command::Simulate {
            units,
            seed,
            sites,
            lot_size,
        } => {
            let stdout = std::io::stdout();
            let out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
            simulate::simulate(
                &SimulationConfig {
                    units,
                    seed,
                    sites,
                    lot_size,
                },
                out,
            )?;
            Ok(())
        }
        Command::Demo { dir, units, seed } => demo::run(&dir, units, seed),
        Command::Udi {
            action: UdiCommand::Parse { input, json },
        } => output::print_udi(&input, json),
        Command::Audit {
            entity,
            actor,
            types,
            since,
            until,
            recorded,
            csv,
            json,
        } => {
            let store = Store::open_read_only(&ledger)?;
            let query = audit_trail::AuditQuery {
                entity,
                actor,
                types,
                since,
                until,
                clock: if recorded {
                    audit_trail::Clock::Recorded
                } else {
                    audit_trail::Clock::Occurred
                },
            };
            output::print_audit(&store, &query, csv, json)
        }
        Command::Kpi {
            site,
            product,
            period,
            json,
            from_log,
        } => {
            let store = Store::open_read_only(&ledger)?;
            let query = traceledger::kpi::KpiQuery {
                site,
                product,
                period,
            };
            let groups = if from_log {
                traceledger::kpi::kpis_from_log(&store, &query)?
            } else {
                traceledger::kpi::kpis(&store, &query)?
            };
            let text = if json {
                serde_json::to_string(&groups).map_err(|e| CliError::Usage(e.to_string()))? + "\n"
            } else {
                traceledger::kpi::render_text(&groups)
            };
            std::io::stdout()
                .lock()
                .write_all(text.as_bytes())
                .map_err(stdout_error)
        }
        Command::Dhr { unit, json, html } => {
            let store = Store::open_read_only(&ledger)?;
            let history = device_history::device_history(&store, &unit)?;
            let text = if json {
                serde_json::to_string(&history).map_err(|e| CliError::Usage(e.to_string()))? + "\n"
            } else if html {
                device_history::render_html(&history)
            } else {
                device_history::render_text(&history)
            };
            std::io::stdout()
                .lock()
                .write_all(text.as_bytes())
                .map_err(stdout_error)
        }
        Command::Trace {
            id,
            backward,
            forward: _,
            from_log,
            json,
            dot,
            mermaid,
        } => {
            let store = Store::open_read_only(&ledger)?;
            let tree = if backward {
                genealogy::backward(&store, &id)?
            } else if from_log {
                genealogy::forward_from_log(&store, &id)?
            } else {
                genealogy::forward(&store, &id)?
            };
            // A forward trace can reach 20,000 devices: text and JSON are written as they
            // are made, not built as one string first.
            let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
            if json {
                // From: a failed write comes back as the io::Error it was (a closed pipe
                // stays a closed pipe, which is no error).
                serde_json::to_writer(&mut out, &tree)
                    .map_err(|e| stdout_error(std::io::Error::from(e)))?;
                writeln!(out).map_err(stdout_error)?;
            } else if dot {
                out.write_all(genealogy::render_dot(&tree).as_bytes())
                    .map_err(stdout_error)?;
            } else if mermaid {
                out.write_all(genealogy::render_mermaid(&tree).as_bytes())
                    .map_err(stdout_error)?;
            } else {
                genealogy::write_text(&tree, &mut out).map_err(stdout_error)?;
            }
            out.flush().map_err(stdout_error)?;
            // The process ends here: freeing 20,000 nodes one by one would only delay it.
            std::mem::forget(tree);
            Ok(())
        }
    }
}

/// Opens the input named on the command line (`-` for stdin) and ingests it.
pub(crate) fn run_ingest(
    store: &mut Store,
    input_name: &str,
    options: &IngestOptions,
    show_progress: bool,
) -> Result<IngestSummary, CliError> {
    let schemas = SchemaSet::load()?;
    let (reader, len_bytes, name): (Box<dyn BufRead + Send>, Option<u64>, String) =
        if input_name == "-" {
            (
                Box::new(BufReader::with_capacity(1 << 16, std::io::stdin())),
                None,
                "<stdin>".to_owned(),
            )
        } else {
            let path = Path::new(input_name);
            let read_error = |source| IngestError::Read {
                name: input_name.to_owned(),
                source,
            };
            let file = std::fs::File::open(path).map_err(read_error)?;
            let len = file.metadata().map_err(read_error)?.len();
            (
                Box::new(BufReader::with_capacity(1 << 16, file)),
                Some(len),
                input_name.to_owned(),
            )
        };
    let bar = output::ingest_progress_bar(len_bytes, show_progress);
    let mut on_progress = |p: ingest::Progress| match len_bytes {
        Some(_) => bar.set_position(p.bytes_read),
        None => bar.set_position(p.lines),
    };
    let summary = ingest::ingest(
        store,
        &schemas,
        Input { name, reader },
        options,
        &mut on_progress,
    );
    bar.finish_and_clear();
    Ok(summary?)
}

/// Reports the bad lines and the summary line; an all-or-nothing ingest with bad lines is an
/// error (exit 2).
pub(crate) fn finish_ingest(input_name: &str, summary: &IngestSummary) -> Result<(), CliError> {
    let shown_name = if input_name == "-" {
        "<stdin>"
    } else {
        input_name
    };
    let mut stderr = std::io::stderr().lock();
    for bad in &summary.rejections {
        let _ = writeln!(stderr, "{shown_name}:{}: {}", bad.line, bad.rejection);
    }
    let unreported = summary
        .rejected
        .saturating_sub(summary.rejections.len() as u64);
    if unreported > 0 {
        let _ = writeln!(stderr, "... and {unreported} more bad lines");
    }
    let verdict = if summary.committed {
        "recorded".to_owned()
    } else if summary.committed_lines > 0 {
        format!(
            "PARTLY recorded (lines 1 to {}, nothing after)",
            summary.committed_lines
        )
    } else {
        "NOTHING recorded".to_owned()
    };
    // Lines checked and found good but rolled back with their input are not "recorded".
    let kept = summary.committed_recorded;
    let recorded = if kept == summary.recorded {
        format!("{kept} recorded")
    } else if kept == 0 {
        format!("{} valid, not recorded", summary.recorded)
    } else {
        format!(
            "{kept} recorded, {} more valid, not recorded",
            summary.recorded - kept
        )
    };
    // The outcome is the exit code: a closed stdout loses this line only.
    let _ = writeln!(
        std::io::stdout(),
        "{verdict}: {recorded}, {} duplicates, {} rejected of {} lines in {:.2} s ({:.0} events/s){}",
        summary.duplicates,
        summary.rejected,
        summary.lines,
        summary.elapsed.as_secs_f64(),
        summary.events_per_second(),
        match (summary.first_seq, summary.last_seq) {
            (Some(first), Some(last)) => format!(", seq {first}..{last}"),
            _ => String::new(),
        }
    );
    if summary.committed {
        Ok(())
    } else if summary.committed_lines > 0 {
        Err(CliError::Rejected(format!(
            "{shown_name}: {} bad lines; lines 1 to {} were committed in chunks before the first bad one, nothing after; mend the bad lines and ingest the file again (the recorded lines are skipped as duplicates)",
            summary.rejected, summary.committed_lines
        )))
    } else {
        Err(CliError::Rejected(format!(
            "{shown_name}: {} bad lines; nothing was written (use --rejects FILE to record the good lines)",
            summary.rejected
        )))
    }
}

/// "1 checkpoint", "2 checkpoints".
fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn print_verify(report: &VerifyReport, json: bool) -> Result<(), CliError> {
    // The verdict is the exit code: a closed stdout loses the text only, never the code.
    let mut out = std::io::stdout().lock();
    if json {
        let value = output::verify_json(report);
        let _ = writeln!(out, "{value}");
    } else {
        match &report.finding {
            None => {
                let head = report.head.map_or("empty".to_owned(), |h| {
                    format!("head seq {} hash {}", h.seq, h.hash)
                });
                let _ = writeln!(out, "ok: {} records verified, {head}", report.records);
                if let Some(trust) = &report.trust {
                    let _ = writeln!(
                        out,
                        "ok: genesis, {} and {} verified with the ledger key",
                        count(trust.checkpoints_checked as u64, "checkpoint"),
                        count(trust.signatures_checked, "signature")
                    );
                }
            }
            Some(finding) => {
                let _ = writeln!(out, "FAILED: {finding}");
                if finding.seq().is_some() {
                    let _ = writeln!(out, "{} records verified before it", report.records);
                } else {
                    let _ = writeln!(out, "{} records verified", report.records);
                }
            }
        }
        if let Some(derived) = &report.derived {
            if derived.matches() {
                let _ = writeln!(
                    out,
                    "derived: entity index, KPI tables, forward genealogy and Merkle tree nodes match the records"
                );
            } else {
                let _ = writeln!(
                    out,
                    "derived: differs from the records: entity index {} rows missing, {} rows extra (first missing {:?}, first extra {:?}); KPI tables {} rows differ; forward genealogy {} rows differ; Merkle tree nodes {} wrong{}; run `traceledger rebuild`",
                    derived.missing,
                    derived.extra,
                    derived.first_missing,
                    derived.first_extra,
                    derived.kpi_rows_differing,
                    derived.trace_link_rows_differing,
                    derived.tree_nodes_wrong,
                    derived
                        .first_wrong_tree_node
                        .map_or(String::new(), |(level, idx)| format!(
                            " (first at level {level}, index {idx})"
                        ))
                );
            }
        }
    }
    if report.intact() {
        Ok(())
    } else {
        Err(CliError::Integrity(match &report.finding {
            Some(finding) => format!("integrity failure: {finding}"),
            None => "integrity failure: the derived tables do not match the records".to_owned(),
        }))
    }
}
