//! The trust commands: `init` (ledger key and genesis), `keys`, `sign`, `checkpoint` and
//! `prove`, and the trust half of `verify`.

use super::{CliError, stdout_error};
use clap::{Args, Subcommand};
use ed25519_dalek::VerifyingKey;
use serde_json::{Value, json};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use traceledger::checkpoint::{self, Checkpoint};
use traceledger::event::SchemaSet;
use traceledger::genesis::{self, GenesisSpec};
use traceledger::log_tree;
use traceledger::merkle::{self, LeafIndex, NodeHash};
use traceledger::signing::keys::{self, KeyError};
use traceledger::signing::{Meaning, sign_event};
use traceledger::store::Store;
use traceledger::verify::trust::CheckpointSource;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The genesis of `simulate`'s plant (site GAL, admin p-0001 with its well-known test key)
    #[arg(long, conflicts_with_all = ["site", "admin"])]
    simulation: bool,
    /// Site code of the first site
    #[arg(long, required_unless_present = "simulation")]
    site: Option<String>,
    /// The site's name
    #[arg(long, requires = "site")]
    site_name: Option<String>,
    /// The site's IANA time zone
    #[arg(long, default_value = "UTC")]
    timezone: String,
    /// Person id of the first admin
    #[arg(long, required_unless_present = "simulation")]
    admin: Option<String>,
    /// The admin's printed name (shown with their signatures)
    #[arg(long, required_unless_present = "simulation")]
    admin_name: Option<String>,
    /// The admin's public key file (`keys new` makes one)
    #[arg(long, required_unless_present = "simulation")]
    admin_key: Option<PathBuf>,
    /// The id the admin's key is registered under [default: its fingerprint]
    #[arg(long)]
    admin_key_id: Option<String>,
    /// When the genesis happened (RFC 3339) [default: now]
    #[arg(long)]
    at: Option<String>,
    /// Where to make the ledger's own signing key [default: LEDGER.key]
    #[arg(long)]
    ledger_key: Option<PathBuf>,
    /// The checkpoint origin (log name) [default: traceledger/SITE/KEY-FINGERPRINT]
    #[arg(long)]
    origin: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make an Ed25519 key: FILE (PKCS#8 PEM, mode 0600) and FILE.pub
    #[command(
        after_help = "Examples:\n  traceledger keys new --out admin.key\n  traceledger keys new --out qa.key --simulated k-p-GAL-06   # the simulated plant's key k-p-GAL-06"
    )]
    New {
        /// Where to write the private key; the public key goes to FILE.pub
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Instead of a random key, write the well-known key KEY_ID of `simulate`'s plant (its
        /// seed is SHA-256 of "traceledger-simulate:KEY_ID"): for the tour and tests, never for
        /// real use
        #[arg(long, value_name = "KEY_ID")]
        simulated: Option<String>,
    },
    /// Print a key file's key id and public key
    #[command(after_help = "Example:\n  traceledger keys show admin.key.pub")]
    Show {
        /// A private or public key file
        file: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// The signer's private key file
    #[arg(long)]
    key: PathBuf,
    /// The id the key is registered under [default: its fingerprint]
    #[arg(long)]
    key_id: Option<String>,
    /// Person id of the signer
    #[arg(long)]
    signer: String,
    /// What the signature means: authored, reviewed, approved, released or verified
    #[arg(long, value_parser = parse_meaning)]
    meaning: Meaning,
    /// Sign only events of these types (comma-separated)
    #[arg(long, value_delimiter = ',')]
    types: Vec<String>,
    /// Time of signing (RFC 3339) [default: now]
    #[arg(long)]
    at: Option<String>,
    /// NDJSON input; - reads standard input
    #[arg(default_value = "-")]
    input: String,
}

fn parse_meaning(text: &str) -> Result<Meaning, String> {
    Meaning::parse(text).ok_or_else(|| {
        format!("{text:?} is not a meaning (authored, reviewed, approved, released, verified)")
    })
}

#[derive(Debug, Args)]
pub struct ProveArgs {
    /// The seq of the record to prove
    #[arg(required_unless_present = "consistency")]
    seq: Option<u64>,
    /// Prove against this checkpoint [default: the newest kept checkpoint covering SEQ]
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Prove that checkpoint OLD is a prefix of checkpoint NEW
    #[arg(long, num_args = 2, value_names = ["OLD", "NEW"], conflicts_with_all = ["seq", "checkpoint"])]
    consistency: Vec<PathBuf>,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

impl From<KeyError> for CliError {
    fn from(e: KeyError) -> CliError {
        if e.is_bad_input() {
            CliError::Usage(e.to_string())
        } else {
            CliError::Io {
                what: "use a key file".to_owned(),
                source: std::io::Error::other(e.to_string()),
            }
        }
    }
}

pub fn default_ledger_key(ledger: &Path) -> PathBuf {
    let mut name = ledger.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

pub fn init(ledger: &Path, args: InitArgs) -> Result<(), CliError> {
    if ledger.is_dir() {
        // The same words as every other command's (open_store).
        return super::open_store(ledger).map(|_| ());
    }
    let spec = if args.simulation {
        traceledger::simulate::genesis_spec()
    } else {
        let admin_key_path = args.admin_key.unwrap_or_default();
        let admin_key = keys::read_verifying_key(&admin_key_path)?;
        let site = args.site.unwrap_or_default();
        GenesisSpec {
            site_name: args.site_name.unwrap_or_else(|| site.clone()),
            site,
            timezone: args.timezone,
            admin: args.admin.unwrap_or_default(),
            admin_name: args.admin_name.unwrap_or_default(),
            admin_key_id: args
                .admin_key_id
                .unwrap_or_else(|| keys::key_id(&admin_key)),
            admin_key,
            at: args.at.clone().unwrap_or_else(now),
        }
    };
    let key_path = args
        .ledger_key
        .unwrap_or_else(|| default_ledger_key(ledger));
    let schemas = SchemaSet::load()?;
    let created =
        genesis::init(ledger, &key_path, args.origin, &spec, &schemas).map_err(|e| match e {
            genesis::GenesisError::Store(e) => CliError::Store(e),
            genesis::GenesisError::Key(e) => CliError::from(e),
            genesis::GenesisError::Tree(e) => CliError::from(e),
            other => CliError::Usage(other.to_string()),
        })?;
    println!("created ledger {}", ledger.display());
    println!(
        "ledger key {} (keep it private; mode 0600), public key {}",
        created.ledger_key.display(),
        created.ledger_public_key.display()
    );
    println!("origin {}", created.origin);
    println!("verifier key {}", created.verifier_key);
    println!(
        "genesis: {} records (site {}, admin {} with key {}), vouched for by checkpoint:",
        created.genesis_size, spec.site, spec.admin, spec.admin_key_id
    );
    print!("{}", created.checkpoint);
    Ok(())
}

fn now() -> String {
    traceledger::time::format_rfc3339_millis(traceledger::time::now_unix_micros() / 1000)
}

pub fn keys(command: KeysCommand) -> Result<(), CliError> {
    match command {
        KeysCommand::New { out, simulated } => {
            let key = match simulated {
                Some(key_id) => traceledger::simulate::simulated_key(&key_id),
                None => keys::generate()?,
            };
            let public = keys::write_key_pair(&key, &out)?;
            println!("private key {} (mode 0600)", out.display());
            println!("public key  {}", public.display());
            print_key(&key.verifying_key());
        }
        KeysCommand::Show { file } => print_key(&keys::read_verifying_key(&file)?),
    }
    Ok(())
}

fn print_key(key: &VerifyingKey) {
    println!("key id      {}", keys::key_id(key));
    println!("public key  {}", keys::public_key_base64(key));
}

/// `sign`: reads NDJSON, adds a signature to each event (of the given types), writes it to
/// standard output. The whole input is read and signed before anything is written, so a bad
/// line leaves no half-signed output behind.
pub fn sign(args: SignArgs) -> Result<(), CliError> {
    let key = keys::read_signing_key(&args.key)?;
    let key_id = args
        .key_id
        .unwrap_or_else(|| keys::key_id(&key.verifying_key()));
    let signed_at = args.at.unwrap_or_else(now);
    if traceledger::time::parse_rfc3339_millis(&signed_at).is_none() {
        return Err(CliError::Usage(format!(
            "--at {signed_at:?} is not an RFC 3339 time"
        )));
    }
    let (name, reader): (String, Box<dyn BufRead>) = if args.input == "-" {
        ("<stdin>".to_owned(), Box::new(std::io::stdin().lock()))
    } else {
        let file = std::fs::File::open(&args.input)
            .map_err(|source| super::input_error(&args.input, source))?;
        (args.input.clone(), Box::new(std::io::BufReader::new(file)))
    };
    let mut out = Vec::new();
    let (mut signed, mut passed) = (0u64, 0u64);
    for (index, line) in reader.lines().enumerate() {
        let line = line.map_err(|source| super::input_error(&name, source))?;
        let text = line.trim_start_matches('\u{feff}').trim_end_matches('\r');
        if text.trim().is_empty() {
            continue;
        }
        let mut event: Value = serde_json::from_str(text)
            .map_err(|e| CliError::Usage(format!("{name}:{}: invalid JSON: {e}", index + 1)))?;
        let event_type = event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if args.types.is_empty() || args.types.iter().any(|t| t == event_type) {
            sign_event(
                &mut event,
                &key,
                &key_id,
                &args.signer,
                args.meaning,
                &signed_at,
            )
            .map_err(|e| CliError::Usage(format!("{name}:{}: {e}", index + 1)))?;
            signed += 1;
        } else {
            passed += 1;
        }
        serde_json::to_writer(&mut out, &event).map_err(|e| stdout_error(e.into()))?;
        out.push(b'\n');
    }
    if signed + passed == 0 {
        return Err(CliError::Usage(format!(
            "{name} is empty: no events to sign"
        )));
    }
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&out).map_err(stdout_error)?;
    stdout.flush().map_err(stdout_error)?;
    eprintln!(
        "signed {signed} events as {} ({}), passed {passed} through",
        args.signer, args.meaning
    );
    Ok(())
}

fn ledger_identity(store: &Store) -> Result<genesis::Identity, CliError> {
    genesis::identity(store)?.ok_or_else(|| {
        CliError::Integrity("the ledger names no origin or ledger key (no genesis)".to_owned())
    })
}

pub fn checkpoint(
    ledger: &Path,
    key_path: Option<PathBuf>,
    out: Option<PathBuf>,
) -> Result<(), CliError> {
    let mut store = super::open_store(ledger)?;
    let identity = ledger_identity(&store)?;
    let key_path = key_path.unwrap_or_else(|| default_ledger_key(ledger));
    let key = keys::read_signing_key(&key_path)?;
    if key.verifying_key() != identity.public_key {
        return Err(CliError::Usage(format!(
            "{} is not this ledger's key (the ledger's is {})",
            key_path.display(),
            keys::key_id(&identity.public_key)
        )));
    }
    let (_, note) = genesis::issue_checkpoint(&mut store, &identity.origin, &key)?;
    match out {
        Some(path) => write_atomically(&path, note.as_bytes())?,
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(note.as_bytes()).map_err(stdout_error)?;
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file and a rename: a reader never sees half.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let io = |what: String| move |source| CliError::Io { what, source };
    std::fs::write(&partial, bytes).map_err(io(format!("write {}", partial.display())))?;
    std::fs::rename(&partial, path).map_err(io(format!("write {}", path.display())))
}

/// Reads a checkpoint file and opens it with the ledger's key.
fn read_checkpoint(
    path: &Path,
    identity: &genesis::Identity,
) -> Result<(String, Checkpoint), CliError> {
    let key = &identity.public_key;
    let note = std::fs::read_to_string(path)
        .map_err(|source| super::input_error(&path.display().to_string(), source))?;
    check_origin(&path.display().to_string(), &note, &identity.origin)?;
    let checkpoint = checkpoint::open(&note, key)
        .map_err(|e| CliError::Integrity(format!("{}: {e}", path.display())))?;
    Ok((note, checkpoint))
}

pub fn prove(ledger: &Path, args: ProveArgs) -> Result<(), CliError> {
    let store = super::open_read_only(ledger)?;
    let identity = ledger_identity(&store)?;
    let head = store.head()?.map_or(0, |h| h.seq);
    if let [old, new] = args.consistency.as_slice() {
        let (_, old) = read_checkpoint(old, &identity)?;
        let (_, new) = read_checkpoint(new, &identity)?;
        if new.tree_size > head {
            return Err(CliError::Integrity(format!(
                "checkpoint of {} records, but the ledger holds {head}: cut short",
                new.tree_size
            )));
        }
        let proof = log_tree::consistency_proof(&store, old.tree_size, new.tree_size)?.ok_or_else(
            || CliError::Usage("the old checkpoint must be of 1 to NEW records".to_owned()),
        )?;
        merkle::verify_consistency(old.tree_size, new.tree_size, &old.root, &new.root, &proof)
            .map_err(|e| {
                CliError::Integrity(format!(
                    "the ledger cannot prove the checkpoints consistent: {e}"
                ))
            })?;
        return print_proof(
            args.json,
            json!({
                "old_size": old.tree_size, "new_size": new.tree_size,
                "old_root": old.root.to_string(), "new_root": new.root.to_string(),
                "proof": hexes(&proof),
            }),
        );
    }
    let seq = args.seq.unwrap_or(0);
    if seq == 0 || seq > head {
        return Err(CliError::Usage(format!(
            "there is no record {seq}: the ledger holds records 1 to {head}"
        )));
    }
    let (note, checkpoint) = match &args.checkpoint {
        Some(path) => read_checkpoint(path, &identity)?,
        None => {
            let kept = store
                .checkpoints()?
                .into_iter()
                .rev()
                .find(|c| c.tree_size >= seq)
                .ok_or_else(|| {
                    CliError::Usage(format!(
                        "no checkpoint covers seq {seq} yet: run `traceledger checkpoint` first"
                    ))
                })?;
            let checkpoint = checkpoint::open(&kept.note, &identity.public_key).map_err(|e| {
                CliError::Integrity(format!(
                    "the kept checkpoint of size {}: {e}",
                    kept.tree_size
                ))
            })?;
            (kept.note, checkpoint)
        }
    };
    if seq == 0 || seq > checkpoint.tree_size {
        return Err(CliError::Usage(format!(
            "seq {seq} is not in the checkpoint's tree of {} records",
            checkpoint.tree_size
        )));
    }
    if checkpoint.tree_size > head {
        return Err(CliError::Integrity(format!(
            "checkpoint of {} records, but the ledger holds {head}: cut short",
            checkpoint.tree_size
        )));
    }
    let record = store
        .hash_at(seq)?
        .ok_or_else(|| CliError::Integrity(format!("record {seq} is missing")))?;
    let proof = log_tree::inclusion_proof(&store, seq, checkpoint.tree_size)?.unwrap_or_default();
    let leaf = log_tree::leaf_of(&record);
    merkle::verify_inclusion(
        LeafIndex(seq - 1),
        checkpoint.tree_size,
        &leaf,
        &proof,
        &checkpoint.root,
    )
    .map_err(|e| {
        CliError::Integrity(format!(
            "record {seq} does not prove against the checkpoint: {e}"
        ))
    })?;
    print_proof(
        args.json,
        json!({
            "seq": seq, "leaf_index": seq - 1, "record_hash": record.to_hex(),
            "leaf_hash": leaf.to_string(), "tree_size": checkpoint.tree_size,
            "root": checkpoint.root.to_string(), "proof": hexes(&proof), "checkpoint": note,
        }),
    )
}

fn hexes(proof: &[NodeHash]) -> Vec<String> {
    proof.iter().map(ToString::to_string).collect()
}

fn print_proof(json: bool, value: Value) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    if json {
        writeln!(stdout, "{value}").map_err(stdout_error)?;
        return Ok(());
    }
    if let Some(object) = value.as_object() {
        for (name, field) in object {
            match field {
                Value::Array(items) => {
                    writeln!(stdout, "{name}:").map_err(stdout_error)?;
                    for item in items {
                        writeln!(stdout, "  {}", item.as_str().unwrap_or_default())
                            .map_err(stdout_error)?;
                    }
                }
                Value::String(text) if text.contains('\n') => {
                    writeln!(stdout, "{name}:\n{text}").map_err(stdout_error)?;
                }
                Value::String(text) => writeln!(stdout, "{name}: {text}").map_err(stdout_error)?,
                other => writeln!(stdout, "{name}: {other}").map_err(stdout_error)?,
            }
        }
    }
    Ok(())
}

/// The checkpoints an auditor gave `verify --checkpoint`, read from their files.
/// A checkpoint the user holds must be of this ledger: one of another ledger (another
/// origin) is said to be so, not reported as a signature by an unknown key.
pub fn check_origins(store: &Store, held: &[CheckpointSource]) -> Result<(), CliError> {
    if held.is_empty() {
        return Ok(());
    }
    let identity = ledger_identity(store)?;
    for checkpoint in held {
        check_origin(&checkpoint.source, &checkpoint.note, &identity.origin)?;
    }
    Ok(())
}

fn check_origin(source: &str, note: &str, origin: &str) -> Result<(), CliError> {
    let theirs = note.lines().next().unwrap_or_default();
    if theirs != origin {
        return Err(CliError::Usage(format!(
            "{source} is a checkpoint of another ledger: its origin is {theirs:?}, this ledger's is {origin:?}"
        )));
    }
    Ok(())
}

pub fn held_checkpoints(paths: &[PathBuf]) -> Result<Vec<CheckpointSource>, CliError> {
    paths
        .iter()
        .map(|path| {
            std::fs::read_to_string(path)
                .map(|note| CheckpointSource {
                    source: path.display().to_string(),
                    note,
                })
                .map_err(|source| super::input_error(&path.display().to_string(), source))
        })
        .collect()
}

/// The ledger key an auditor gave `--ledger-key`.
pub fn trusted_key(path: Option<&Path>) -> Result<Option<VerifyingKey>, CliError> {
    path.map(keys::read_verifying_key)
        .transpose()
        .map_err(CliError::from)
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The unit (serial) or lot whose DHR the bundle proves
    id: String,
    /// Where to write the bundle
    #[arg(long)]
    bundle: PathBuf,
    /// The ledger's private key, to sign the bundle's manifest (and a checkpoint when none
    /// covers the records yet) [default: LEDGER.key]
    #[arg(long)]
    ledger_key: Option<PathBuf>,
}

/// `export ID --bundle FILE`: proves against the newest kept checkpoint when it covers every
/// record needed, else issues a new one; the ledger key signs the manifest either way.
pub fn export(ledger: &Path, args: ExportArgs) -> Result<(), CliError> {
    use traceledger::bundle;
    // Export reads the ledger; only when no kept checkpoint covers the records does it write,
    // to issue one, through a connection opened for that alone.
    let mut store = super::open_read_only(ledger)?;
    let identity = ledger_identity(&store)?;
    // The ledger key vouches for what it exports: only from a ledger that verifies (chain,
    // genesis, checkpoints, signatures), else a tampered ledger would yield a signed bundle
    // that blames some untouched record.
    let report = traceledger::verify::verify_with_trust(
        &mut store,
        false,
        &traceledger::verify::TrustOptions::default(),
    )?;
    if let Some(finding) = &report.finding {
        return Err(CliError::Integrity(format!(
            "integrity failure: the ledger does not verify, so nothing was exported: {finding} (see `traceledger verify`)"
        )));
    }
    let id = super::subject_id(&store, &args.id)?;
    let records = bundle::needed_records(&store, &identity, &id).map_err(bundle_error)?;
    let last_needed = records.last().map_or(0, |r| r.seq);
    // The ledger key signs the manifest, so it is needed even when a kept checkpoint covers
    // every record.
    let key_path = args
        .ledger_key
        .unwrap_or_else(|| default_ledger_key(ledger));
    let key = keys::read_signing_key(&key_path)?;
    if key.verifying_key() != identity.public_key {
        return Err(CliError::Usage(format!(
            "{} is not this ledger's key ({})",
            key_path.display(),
            keys::key_id(&identity.public_key)
        )));
    }
    let kept = store.checkpoints()?.into_iter().last();
    let (note, checkpoint) = match kept {
        Some(kept) if kept.tree_size >= last_needed => {
            let checkpoint = checkpoint::open(&kept.note, &identity.public_key).map_err(|e| {
                CliError::Integrity(format!(
                    "the kept checkpoint of size {}: {e}",
                    kept.tree_size
                ))
            })?;
            (kept.note, checkpoint)
        }
        _ => {
            let mut writer = Store::open(ledger)?;
            let (checkpoint, note) =
                genesis::issue_checkpoint(&mut writer, &identity.origin, &key)?;
            (note, checkpoint)
        }
    };
    let made =
        bundle::export(&store, &id, records, &note, &checkpoint, &key).map_err(bundle_error)?;
    let text =
        serde_json::to_string_pretty(&made).map_err(|e| CliError::Usage(e.to_string()))? + "\n";
    write_atomically(&args.bundle, text.as_bytes())?;
    println!(
        "bundle {}: {} records of {} proven against checkpoint {} (tree size {})",
        args.bundle.display(),
        made.records.len(),
        id,
        checkpoint.origin,
        checkpoint.tree_size
    );
    Ok(())
}

fn bundle_error(e: traceledger::bundle::BundleError) -> CliError {
    use traceledger::bundle::BundleError;
    match e {
        BundleError::Store(e) => CliError::Store(e),
        BundleError::History(e) => CliError::DeviceHistory(e),
        e if e.is_integrity() => CliError::Integrity(format!("integrity failure: {e}")),
        e => CliError::Usage(e.to_string()),
    }
}

#[derive(Debug, Args)]
pub struct VerifyBundleArgs {
    /// The bundle file
    file: PathBuf,
    /// The ledger's public key, as you hold it
    #[arg(long)]
    ledger_key: PathBuf,
    /// Print the proven DHR as JSON
    #[arg(long)]
    json: bool,
    /// A checkpoint you already hold (repeatable): the bundle's must be the same tree or
    /// extend it, shown by a consistency proof the bundle carries
    #[arg(long = "checkpoint", value_name = "FILE")]
    checkpoints: Vec<PathBuf>,
}

pub fn verify_bundle(args: VerifyBundleArgs) -> Result<(), CliError> {
    let key = keys::read_verifying_key(&args.ledger_key)?;
    let text = std::fs::read_to_string(&args.file).map_err(|source| CliError::Io {
        what: format!("read {}", args.file.display()),
        source,
    })?;
    let schemas = SchemaSet::load()?;
    let verified = traceledger::bundle::verify(&text, &key, &schemas).map_err(|e| match e {
        traceledger::bundle::BundleError::Format(detail) => {
            CliError::Usage(format!("{}: {detail}", args.file.display()))
        }
        other => bundle_error(other),
    })?;
    let mut consistent = Vec::new();
    for path in &args.checkpoints {
        let held = std::fs::read_to_string(path).map_err(|source| CliError::Io {
            what: format!("read {}", path.display()),
            source,
        })?;
        let checked = traceledger::bundle::check_against_held(&text, &key, &held).map_err(|e| {
            CliError::Integrity(format!("integrity failure: {}: {e}", path.display()))
        })?;
        consistent.push(format!(
            "ok: consistent with the checkpoint you hold, {} (tree size {})",
            path.display(),
            checked.tree_size
        ));
    }
    let mut stdout = std::io::stdout().lock();
    if args.json {
        let value =
            serde_json::to_string(&verified.history).map_err(|e| CliError::Usage(e.to_string()))?;
        writeln!(stdout, "{value}").map_err(stdout_error)?;
        return Ok(());
    }
    writeln!(
        stdout,
        "ok: {} records proven into checkpoint {} (tree size {}, root {}), {} signatures valid",
        verified.records,
        verified.checkpoint.origin,
        verified.checkpoint.tree_size,
        verified.checkpoint.root,
        verified.signatures
    )
    .map_err(stdout_error)?;
    for line in &consistent {
        writeln!(stdout, "{line}").map_err(stdout_error)?;
    }
    writeln!(stdout).map_err(stdout_error)?;
    stdout
        .write_all(traceledger::device_history::render_text(&verified.history).as_bytes())
        .map_err(stdout_error)
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The unit (serial) or lot whose DHR is approved, as it stands now
    id: String,
    /// The reviewer's private key file
    #[arg(long)]
    key: PathBuf,
    /// The id the key is registered under [default: its fingerprint]
    #[arg(long)]
    key_id: Option<String>,
    /// Person id of the reviewer
    #[arg(long)]
    signer: String,
    /// What the signature means
    #[arg(long, value_parser = parse_meaning, default_value = "approved")]
    meaning: Meaning,
    /// Time of signing (RFC 3339) [default: now]
    #[arg(long)]
    at: Option<String>,
}

/// `approve ID`: the signed `signature.applied` of the DHR as it stands, as one NDJSON line
/// for `ingest` (the reviewer signs what they were shown: its digest).
pub fn approve(ledger: &Path, args: ApproveArgs) -> Result<(), CliError> {
    let store = super::open_read_only(ledger)?;
    let history = traceledger::device_history::device_history_of(&store, &args.id)?;
    let digest = traceledger::device_history::digest(&history);
    // The approval names the unit or lot, however it was asked for (a scanned UDI).
    let id = history.id.clone();
    let key = keys::read_signing_key(&args.key)?;
    let key_id = args
        .key_id
        .unwrap_or_else(|| keys::key_id(&key.verifying_key()));
    let at = args.at.unwrap_or_else(now);
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._:-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let mut event = json!({
        "id": format!("dhr-approval:{safe}:{}:{}", &digest[..16], args.signer),
        "type": "signature.applied",
        "occurred_at": at,
        "site": history.site.clone(),
        "source": format!("cli:{}", args.signer),
        "actor": args.signer,
        "data": {"subject": {"projection": "dhr", "entity": id, "digest": digest}, "meaning": args.meaning.as_str()},
    });
    sign_event(&mut event, &key, &key_id, &args.signer, args.meaning, &at)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{event}").map_err(stdout_error)
}
