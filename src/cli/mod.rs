//! The command line: the only module that knows clap, terminals and exit codes.
//!
//! Each subcommand parses its arguments, calls the library, and formats the answer. Every
//! failure becomes one [`CliError`], printed once with its chain and mapped to an exit code in
//! [`CliError::exit_code`]: 0 ok, 1 integrity failure, 2 bad input or usage, 3 I/O or
//! environment.

mod demo;
mod output;
mod trust;
mod udi;

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
    about = "Append-only, hash-chained traceability ledger for medical-device production records",
    after_help = "\
Exit codes: 0 ok, 1 integrity failure, 2 bad input or usage (a missing, unreadable or empty
input file included), 3 I/O or environment.

Examples:
  traceledger demo
  traceledger init --simulation && traceledger simulate --units 200 | traceledger ingest -
  traceledger dhr IP00000006"
)]
pub struct Cli {
    /// The ledger file, for the commands that open one (it may also follow the command)
    /// [env: TRACELEDGER_LEDGER] [default: traceledger.db]
    #[arg(long, value_name = "PATH")]
    ledger: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// `--ledger` of a command that opens a ledger.
#[derive(Debug, Args)]
struct LedgerArg {
    /// The ledger file [env: TRACELEDGER_LEDGER] [default: traceledger.db]
    #[arg(long = "ledger", value_name = "PATH")]
    path: Option<PathBuf>,
}

/// The ledger a command opens: `--ledger` after the command, else before it, else
/// `TRACELEDGER_LEDGER`, else `traceledger.db`.
fn ledger_path(before: &Option<PathBuf>, after: LedgerArg) -> PathBuf {
    after
        .path
        .or_else(|| before.clone())
        .or_else(|| {
            std::env::var_os("TRACELEDGER_LEDGER")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from("traceledger.db"))
}

/// Opens the ledger, saying so plainly when the path is a folder (SQLite would say only
/// "unable to open database file").
/// Opens the ledger for a read command: read-only, writing nothing (docs/architecture.md).
pub(crate) fn open_read_only(ledger: &Path) -> Result<Store, CliError> {
    refuse_folder(ledger)?;
    Ok(Store::open_read_only(ledger)?)
}

fn refuse_folder(ledger: &Path) -> Result<(), CliError> {
    if ledger.is_dir() {
        return Err(CliError::Usage(format!(
            "{} is a folder, not a ledger file: give the ledger's file, e.g. --ledger {}",
            ledger.display(),
            ledger.join("traceledger.db").display()
        )));
    }
    Ok(())
}

pub(crate) fn open_store(ledger: &Path) -> Result<Store, CliError> {
    if ledger.is_dir() {
        return Err(CliError::Usage(format!(
            "{} is a folder, not a ledger file: give the ledger's file, e.g. --ledger {}",
            ledger.display(),
            ledger.join("traceledger.db").display()
        )));
    }
    Ok(Store::open(ledger)?)
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a ledger: its signing key, the genesis (first site and admin) and the first
    /// checkpoint (refuses to overwrite anything)
    #[command(after_help = "Examples:
  traceledger init --simulation
  traceledger --ledger real.db init --site GAL --site-name \"Galway Operations\" --timezone Europe/Dublin \\
      --admin p-0001 --admin-name \"Aoife Byrne\" --admin-key admin.key.pub --admin-key-id k-0001")]
    Init {
        #[command(flatten)]
        ledger: LedgerArg,
        #[command(flatten)]
        args: trust::InitArgs,
    },
    /// Make or show Ed25519 keys
    #[command(after_help = "Examples:
  traceledger keys new --out admin.key
  traceledger keys show admin.key.pub")]
    Keys {
        #[command(subcommand)]
        command: trust::KeysCommand,
    },
    /// Add an electronic signature to each event of an NDJSON stream (to standard output)
    #[command(after_help = "Example:
  traceledger sign --key qa.key --key-id k-p-GAL-06 --signer p-GAL-06 --meaning released \\
      --types unit.released shift.ndjson > signed.ndjson")]
    Sign(trust::SignArgs),
    /// Sign a checkpoint (tree size and root) of the ledger as it stands, and keep it
    #[command(after_help = "Example:\n  traceledger checkpoint --out cp-1.txt")]
    Checkpoint {
        #[command(flatten)]
        ledger: LedgerArg,
        /// Write the checkpoint here instead of standard output
        #[arg(long)]
        out: Option<PathBuf>,
        /// The ledger's private key [default: LEDGER.key]
        #[arg(long)]
        ledger_key: Option<PathBuf>,
    },
    /// Print a Merkle inclusion proof of a record, or a consistency proof of two checkpoints
    #[command(after_help = "Examples:
  traceledger prove 1000 --checkpoint cp-2.txt
  traceledger prove --consistency cp-1.txt cp-2.txt")]
    Prove {
        #[command(flatten)]
        ledger: LedgerArg,
        #[command(flatten)]
        args: trust::ProveArgs,
    },
    /// Sign the DHR of a unit or lot as it stands: prints the signed approval for `ingest`
    #[command(after_help = "Example:
  traceledger approve IP00000006 --key qa.key --key-id k-p-GAL-06 --signer p-GAL-06 > approval.ndjson")]
    Approve {
        #[command(flatten)]
        ledger: LedgerArg,
        #[command(flatten)]
        args: trust::ApproveArgs,
    },
    /// Write an auditor bundle: a unit's DHR records with proofs and a signed checkpoint
    #[command(
        after_help = "Example:\n  traceledger export IP00000006 --bundle IP00000006.bundle.json"
    )]
    Export {
        #[command(flatten)]
        ledger: LedgerArg,
        #[command(flatten)]
        args: trust::ExportArgs,
    },
    /// Verify an auditor bundle offline, with only the ledger's public key, and print its DHR
    #[command(after_help = "Example:
  traceledger verify-bundle IP00000006.bundle.json --ledger-key traceledger.db.key.pub")]
    VerifyBundle(trust::VerifyBundleArgs),
    /// Record the events of an NDJSON file (or - for stdin), all or nothing
    #[command(after_help = "\
A missing, unreadable or empty input exits 2, as does any bad line (each reported as
FILE:LINE: reason).

Examples:
  traceledger ingest plant.ndjson
  traceledger simulate --units 50 | traceledger ingest -
  traceledger ingest shift.ndjson --rejects bad.ndjson")]
    Ingest {
        #[command(flatten)]
        ledger: LedgerArg,
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
    #[command(after_help = "Examples:
  traceledger verify
  traceledger verify --json --derived
  traceledger verify --ledger-key traceledger.db.key.pub --checkpoint cp-1.txt --checkpoint cp-2.txt")]
    Verify {
        #[command(flatten)]
        ledger: LedgerArg,
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
    /// List records: seq, when it happened (occurred_at), type, what it is about, key fields
    #[command(after_help = "Examples:
  traceledger log --entity IP00000006
  traceledger log --type step.completed --from 1000 --limit 20
  traceledger log --json --limit 5")]
    Log {
        #[command(flatten)]
        ledger: LedgerArg,
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
    #[command(after_help = "Example:\n  traceledger rebuild")]
    Rebuild {
        #[command(flatten)]
        ledger: LedgerArg,
    },
    /// Upgrade a ledger of an older schema version to this build's (read commands never
    /// change a ledger, so they refuse an old one until it is migrated)
    #[command(after_help = "Example:\n  traceledger migrate --ledger old.db")]
    Migrate {
        #[command(flatten)]
        ledger: LedgerArg,
    },
    /// Write a realistic, valid event stream of a simulated plant to stdout
    #[command(after_help = "Example (its genesis is made by `init --simulation`):
  traceledger simulate --units 200 --seed 7 > plant.ndjson")]
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
        /// Operators per site (a real plant's tens, each named by thousands of records)
        #[arg(long, default_value_t = simulate::DEFAULT_OPERATORS)]
        operators: u32,
        /// Instruments of each equipment kind per site, used in turn
        #[arg(long, default_value_t = simulate::DEFAULT_INSTRUMENTS)]
        instruments: u32,
    },
    /// The audit trail: who did what and when, corrections beside what they correct
    #[command(after_help = "Examples:
  traceledger audit --actor p-GAL-06 --csv
  traceledger audit --entity IP00000006 --since 2026-01-05T00:00:00Z")]
    Audit {
        #[command(flatten)]
        ledger: LedgerArg,
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
    #[command(after_help = "Examples:
  traceledger kpi --period 2026-01
  traceledger kpi --site GAL --period 2026 --json")]
    Kpi {
        #[command(flatten)]
        ledger: LedgerArg,
        /// Only this site
        #[arg(long)]
        site: Option<String>,
        /// Only this product
        #[arg(long)]
        product: Option<String>,
        /// Only units started in this month (YYYY-MM) or year (YYYY)
        #[arg(long, value_parser = parse_period)]
        period: Option<String>,
        /// Print as JSON
        #[arg(long)]
        json: bool,
        /// Compute from the records themselves instead of the KPI tables (slow: reads every
        /// unit's records; gives the same answer)
        #[arg(long)]
        from_log: bool,
    },
    /// Review by exception: units and lots awaiting release, or released with exceptions,
    /// with their exceptions by kind and whether they are dispositioned
    #[command(after_help = "Examples:
  traceledger review --status awaiting --site GAL
  traceledger review --period 2026-11 --csv > review.csv")]
    Review {
        #[command(flatten)]
        ledger: LedgerArg,
        /// Only this site
        #[arg(long)]
        site: Option<String>,
        /// Only this product
        #[arg(long)]
        product: Option<String>,
        /// Only units started (lots produced) in this month (YYYY-MM) or year (YYYY)
        #[arg(long)]
        period: Option<String>,
        /// awaiting (release), released (with exceptions) or all
        #[arg(long, value_enum, default_value = "all")]
        status: ReviewStatusArg,
        /// Print as JSON (format traceledger.review/1)
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// Print as CSV, one row per unit or lot
        #[arg(long)]
        csv: bool,
    },
    /// The Device History Record of a unit or lot, by serial, lot or UDI in any printed or
    /// scanned form, with its exceptions
    #[command(after_help = "Examples:
  traceledger dhr IP00000006
  traceledger dhr IP00000006 --html > IP00000006.html
  traceledger dhr '(01)05391234000207(21)IP00000006' --json")]
    Dhr {
        #[command(flatten)]
        ledger: LedgerArg,
        /// The unit's serial, the lot of a lot-controlled product, or a UDI as printed or
        /// scanned (GS1, GS1 Digital Link, HIBCC, ISBT 128)
        unit: String,
        /// Print the record as JSON (stable field names, see docs/dhr.md)
        #[arg(long, conflicts_with = "html")]
        json: bool,
        /// Print one self-contained, printable HTML page
        #[arg(long)]
        html: bool,
    },
    /// Genealogy of a unit or lot: what went into it (--backward) or where it went (--forward)
    #[command(after_help = "Examples:
  traceledger trace L-GAL-000001 --forward
  traceledger trace IP00000006 --backward --json")]
    Trace {
        #[command(flatten)]
        ledger: LedgerArg,
        /// A serial, a lot, or a UDI in any form
        id: String,
        /// What went into it: components, materials, lots back to their suppliers
        #[arg(long, conflicts_with = "forward")]
        backward: bool,
        /// Where it went: every unit and lot containing it, releases, shipments, customers
        #[arg(long)]
        forward: bool,
        /// With --forward: read the records themselves, not the forward genealogy the ledger
        /// keeps (slower; the reference that `verify --derived` holds the kept one to)
        #[arg(long, requires = "forward", conflicts_with = "backward")]
        from_log: bool,
        /// Print the trace as JSON (format traceledger.trace/1, schemas/output/trace.schema.json)
        #[arg(long, conflicts_with_all = ["dot", "mermaid", "csv"])]
        json: bool,
        /// Print a Graphviz graph (dot -Tsvg)
        #[arg(long, conflicts_with_all = ["mermaid", "csv"])]
        dot: bool,
        /// Print a Mermaid flowchart
        #[arg(long, conflicts_with = "csv")]
        mermaid: bool,
        /// With --forward: one CSV row per affected device (serial, UDI, product, status,
        /// shipment, customer, ship date), the recall notice's list
        #[arg(long, requires = "forward", conflicts_with = "backward")]
        csv: bool,
    },
    /// Unique Device Identifiers: read one, or a file of them (GS1, HIBCC, ISBT 128)
    #[command(after_help = "Examples:
  traceledger udi parse '(01)09506000134352(17)201225(10)ABC123'
  traceledger udi parse - --csv < labels.txt > labels.csv")]
    Udi {
        #[command(subcommand)]
        action: UdiCommand,
    },
    /// Build a demo ledger from a simulated plant, verify it, and show what to look at
    #[command(after_help = "Example:\n  traceledger demo --dir demo-ledger --units 500")]
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
    /// Parse a UDI: GS1 (element string in parentheses, raw scanner data with GS separators,
    /// or Digital Link), HIBCC (HIBC LIC) or ICCBBA ISBT 128; or, with -, one UDI a line from
    /// standard input
    #[command(after_help = "\
With - each line of standard input is one UDI, and each gives one result line, in order, with
its line number: NDJSON {\"line\",\"input\",\"ok\",\"udi\"|\"error\"} (or CSV with --csv). Exit 0
when every line parsed, 2 when any did not (every line's result is written either way).

Examples:
  traceledger udi parse '(01)09506000134352(17)201225(10)ABC123'
  traceledger udi parse --json '+A99912345/$$52001510X3/16D20111212/S77DE1G45-'
  traceledger udi parse - --csv < labels.txt > labels.csv")]
    Parse {
        /// The UDI as printed or scanned; - reads one UDI a line from standard input
        input: String,
        /// Print the result as JSON (with -, NDJSON, which is the default there)
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// Print CSV (RFC 4180) with a header row, one row per UDI
        #[arg(long)]
        csv: bool,
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
    #[error(transparent)]
    Subject(#[from] traceledger::subject::SubjectError),
    #[error(transparent)]
    Review(#[from] traceledger::review::ReviewError),
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

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ReviewStatusArg {
    Awaiting,
    Released,
    All,
}

/// The exit code of a kind of failure (docs/architecture.md, "Exit codes"): what is not
/// found was asked for wrongly, so it is bad input.
fn exit_code_of(kind: traceledger::ErrorKind) -> u8 {
    match kind {
        traceledger::ErrorKind::Integrity => EXIT_INTEGRITY,
        traceledger::ErrorKind::BadInput | traceledger::ErrorKind::NotFound => EXIT_BAD_INPUT,
        traceledger::ErrorKind::Environment => EXIT_ENVIRONMENT,
    }
}

/// What `input` names as an entity of the log: a UDI in any form is resolved to its unit or
/// lot (and refused when its device identifier is another product's); anything else is taken
/// as the entity id it is.
fn entity_named(store: &Store, input: String) -> Result<String, CliError> {
    if traceledger::subject::looks_like_udi(&input) {
        Ok(traceledger::subject::resolve(store, &input)?.id)
    } else {
        Ok(input)
    }
}

/// The unit or lot `input` names, by id or UDI in any form.
pub(crate) fn subject_id(store: &Store, input: &str) -> Result<String, CliError> {
    Ok(traceledger::subject::resolve(store, input)?.id)
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
            CliError::Audit(AuditError::BadTime(_)) => EXIT_BAD_INPUT,
            CliError::Genealogy(e) => exit_code_of(e.kind()),
            CliError::DeviceHistory(e) => exit_code_of(e.kind()),
            CliError::Subject(e) => exit_code_of(e.kind()),
            CliError::Review(e) => exit_code_of(e.kind()),
            // A missing input file and an unreadable one are the same mistake on the command
            // line: exit 2 for both.
            CliError::Ingest(IngestError::Read { source, .. }) if is_input_mistake(source) => {
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

/// `kpi --period`: a month `YYYY-MM` (01 to 12) or a year `YYYY`.
fn parse_period(text: &str) -> Result<String, String> {
    let bad = || format!("{text:?} is not a period: a month YYYY-MM (01 to 12) or a year YYYY");
    let (year, month) = match text.split_once('-') {
        Some((year, month)) => (year, Some(month)),
        None => (text, None),
    };
    if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    if let Some(month) = month {
        let ok = month.len() == 2
            && month.bytes().all(|b| b.is_ascii_digit())
            && (1..=12).contains(&month.parse::<u32>().unwrap_or(0));
        if !ok {
            return Err(bad());
        }
    }
    Ok(text.to_owned())
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

/// An input file named on the command line that is missing, unreadable or a folder.
fn is_input_mistake(source: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        source.kind(),
        ErrorKind::NotFound | ErrorKind::PermissionDenied | ErrorKind::IsADirectory
    )
}

/// Reading an input file named on the command line failed: exit 2 when it is missing,
/// unreadable or a folder (as for `ingest`), 3 for other I/O errors.
pub(crate) fn input_error(name: &str, source: std::io::Error) -> CliError {
    if is_input_mistake(&source) {
        CliError::Usage(format!("cannot read {name}: {source}"))
    } else {
        CliError::Io {
            what: format!("read {name}"),
            source,
        }
    }
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
    let before = cli.ledger;
    match cli.command {
        Command::Init { ledger, args } => trust::init(&ledger_path(&before, ledger), args),
        Command::Keys { command } => trust::keys(command),
        Command::Sign(args) => trust::sign(args),
        Command::Checkpoint {
            ledger,
            out,
            ledger_key,
        } => trust::checkpoint(&ledger_path(&before, ledger), ledger_key, out),
        Command::Prove { ledger, args } => trust::prove(&ledger_path(&before, ledger), args),
        Command::Export { ledger, args } => trust::export(&ledger_path(&before, ledger), args),
        Command::Approve { ledger, args } => trust::approve(&ledger_path(&before, ledger), args),
        Command::VerifyBundle(args) => trust::verify_bundle(args),
        Command::Ingest {
            ledger,
            input,
            rejects,
            commit_every,
            quiet,
        } => {
            let mut store = open_store(&ledger_path(&before, ledger))?;
            let options = IngestOptions {
                rejects,
                commit_every,
            };
            let summary = run_ingest(&mut store, &input, &options, !quiet)?;
            finish_ingest(&input, &summary)
        }
        Command::Verify {
            ledger,
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
            let ledger = ledger_path(&before, ledger);
            let mut store = open_read_only(&ledger)?;
            trust::check_origins(&store, &options.held)?;
            let report = verify::verify_with_trust(&mut store, derived, &options)?;
            print_verify(&report, json)
        }
        Command::Log {
            ledger,
            types,
            entity,
            from,
            to,
            limit,
            json,
        } => {
            let store = open_read_only(&ledger_path(&before, ledger))?;
            let entity = entity
                .map(|input| entity_named(&store, input))
                .transpose()?;
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
        Command::Rebuild { ledger } => {
            let mut store = open_store(&ledger_path(&before, ledger))?;
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
        Command::Migrate { ledger } => {
            let ledger = ledger_path(&before, ledger);
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
            operators,
            instruments,
        } => {
            let stdout = std::io::stdout();
            let out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
            simulate::simulate(
                &SimulationConfig {
                    units,
                    seed,
                    sites,
                    lot_size,
                    operators,
                    instruments,
                },
                out,
            )?;
            Ok(())
        }
        Command::Demo { dir, units, seed } => demo::run(&dir, units, seed),
        Command::Udi {
            action: UdiCommand::Parse { input, json, csv },
        } => {
            if input == "-" {
                udi::parse_stdin(csv)
            } else if csv {
                let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                let counts =
                    udi::parse_batch(&mut input.as_bytes(), "the argument", &mut out, true)?;
                out.flush().map_err(stdout_error)?;
                if counts.failed > 0 {
                    Err(CliError::Rejected(
                        "not a valid UDI (its error is in the output)".to_owned(),
                    ))
                } else {
                    Ok(())
                }
            } else {
                udi::print_one(&input, json)
            }
        }
        Command::Audit {
            ledger,
            entity,
            actor,
            types,
            since,
            until,
            recorded,
            csv,
            json,
        } => {
            let store = open_read_only(&ledger_path(&before, ledger))?;
            let entity = entity
                .map(|input| entity_named(&store, input))
                .transpose()?;
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
            ledger,
            site,
            product,
            period,
            json,
            from_log,
        } => {
            let store = open_read_only(&ledger_path(&before, ledger))?;
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
                let report = traceledger::kpi::KpiReport::new(&query, &groups);
                serde_json::to_string(&report).map_err(|e| CliError::Usage(e.to_string()))? + "\n"
            } else {
                traceledger::kpi::render_text(&groups)
            };
            std::io::stdout()
                .lock()
                .write_all(text.as_bytes())
                .map_err(stdout_error)
        }
        Command::Review {
            ledger,
            site,
            product,
            period,
            status,
            json,
            csv,
        } => {
            let store = open_read_only(&ledger_path(&before, ledger))?;
            let query = traceledger::review::ReviewQuery {
                site,
                product,
                period,
                status: match status {
                    ReviewStatusArg::Awaiting => traceledger::review::ReviewStatus::Awaiting,
                    ReviewStatusArg::Released => traceledger::review::ReviewStatus::Released,
                    ReviewStatusArg::All => traceledger::review::ReviewStatus::All,
                },
            };
            let queue = traceledger::review::review(&store, &query)?;
            let text = if json {
                serde_json::to_string(&queue).map_err(|e| CliError::Usage(e.to_string()))? + "\n"
            } else if csv {
                let mut rows = vec![traceledger::review::CSV_HEADER.to_owned()];
                rows.extend(traceledger::review::csv_rows(&queue));
                rows.join("\n") + "\n"
            } else {
                traceledger::review::render_text(&queue)
            };
            std::io::stdout()
                .lock()
                .write_all(text.as_bytes())
                .map_err(stdout_error)
        }
        Command::Dhr {
            ledger,
            unit,
            json,
            html,
        } => {
            let store = open_read_only(&ledger_path(&before, ledger))?;
            let history = device_history::device_history_of(&store, &unit)?;
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
            ledger,
            id,
            backward,
            forward,
            from_log,
            json,
            dot,
            mermaid,
            csv,
        } => {
            if !backward && !forward {
                return Err(CliError::Usage(format!(
                    "trace {id}: choose --backward (what went into it) or --forward (where it went)"
                )));
            }
            let store = open_read_only(&ledger_path(&before, ledger))?;
            let trace = if backward {
                genealogy::backward(&store, &id)?
            } else if from_log {
                genealogy::forward_from_log(&store, &id)?
            } else {
                genealogy::forward(&store, &id)?
            };
            // A forward trace can reach 20,000 devices: text, JSON and CSV are written as
            // they are made, not built as one string first.
            let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
            if json {
                // From: a failed write comes back as the io::Error it was (a closed pipe
                // stays a closed pipe, which is no error).
                serde_json::to_writer(&mut out, &trace)
                    .map_err(|e| stdout_error(std::io::Error::from(e)))?;
                writeln!(out).map_err(stdout_error)?;
            } else if csv {
                genealogy::write_csv(&trace, &mut out).map_err(stdout_error)?;
            } else if dot {
                out.write_all(genealogy::render_dot(&trace).as_bytes())
                    .map_err(stdout_error)?;
            } else if mermaid {
                out.write_all(genealogy::render_mermaid(&trace).as_bytes())
                    .map_err(stdout_error)?;
            } else {
                genealogy::write_text(&trace, &mut out).map_err(stdout_error)?;
            }
            out.flush().map_err(stdout_error)?;
            // The process ends here: freeing 20,000 nodes one by one would only delay it.
            std::mem::forget(trace);
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
    if summary.lines == 0 {
        return Err(CliError::Usage(format!(
            "{shown_name} is empty: no events to ingest"
        )));
    }
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
