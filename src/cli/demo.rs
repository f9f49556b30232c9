//! `traceledger demo`: the first thing a new user runs. Simulates a plant, ingests its events
//! into a fresh ledger with the progress bar, verifies it, and shows where to look next.

use super::{CliError, finish_ingest, run_ingest};
use std::io::Write;
use std::path::Path;
use traceledger::simulate::{self, SimulationConfig};
use traceledger::store::{LogFilter, Store};
use traceledger::verify;

/// Sites in the demo plant: enough to show cross-site genealogy.
const DEMO_SITES: u32 = 3;

pub fn run(dir: &Path, units: u64, seed: u64) -> Result<(), CliError> {
    let io = |what: String| move |source| CliError::Io { what, source };
    if dir.exists() {
        return Err(CliError::Usage(format!(
            "{} already exists: the demo builds a fresh folder (remove it, or pass --dir OTHER)",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(io(format!("create {}", dir.display())))?;
    let events_path = dir.join("events.ndjson");
    let ledger_path = dir.join("traceledger.db");

    println!(
        "1. simulating a plant: {units} finished devices over {DEMO_SITES} sites (seed {seed})"
    );
    let file = std::fs::File::create(&events_path)
        .map_err(io(format!("create {}", events_path.display())))?;
    let mut out = std::io::BufWriter::new(file);
    let simulated = simulate::simulate(
        &SimulationConfig {
            units,
            seed,
            sites: DEMO_SITES,
            lot_size: simulate::DEFAULT_LOT_SIZE,
            operators: simulate::DEFAULT_OPERATORS,
            instruments: simulate::DEFAULT_INSTRUMENTS,
        },
        &mut out,
    )?;
    out.flush()
        .map_err(io(format!("write {}", events_path.display())))?;
    println!(
        "   {} events written to {}",
        simulated.events,
        events_path.display()
    );

    println!(
        "2. creating the ledger {} with its key and the simulated plant's genesis",
        ledger_path.display()
    );
    let key_path = super::trust::default_ledger_key(&ledger_path);
    let schemas = traceledger::event::SchemaSet::load()?;
    traceledger::genesis::init(
        &ledger_path,
        &key_path,
        None,
        &simulate::genesis_spec(),
        &schemas,
    )
    .map_err(|e| CliError::Usage(e.to_string()))?;
    let mut store = Store::open(&ledger_path)?;

    println!("3. ingesting the events");
    let events_name = events_path.to_string_lossy().into_owned();
    let summary = run_ingest(
        &mut store,
        &events_name,
        &traceledger::ingest::IngestOptions::default(),
        true,
    )?;
    print!("   ");
    finish_ingest(&events_name, &summary)?;

    println!("4. signing a checkpoint with the ledger key");
    let identity = traceledger::genesis::identity(&store)?
        .ok_or_else(|| CliError::Integrity("the new ledger has no genesis".to_owned()))?;
    let key = traceledger::signing::keys::read_signing_key(&key_path)?;
    let (checkpoint, _) =
        traceledger::genesis::issue_checkpoint(&mut store, &identity.origin, &key)?;
    println!(
        "   {} records, root {}",
        checkpoint.tree_size, checkpoint.root
    );

    println!("5. verifying every hash, link, signature and checkpoint");
    let report = verify::verify_with_trust(&mut store, false, &Default::default())?;
    if let Some(finding) = &report.finding {
        return Err(CliError::Integrity(format!("integrity failure: {finding}")));
    }
    if let Some(head) = report.head {
        println!(
            "   ok: {} records, head seq {} hash {}",
            report.records, head.seq, head.hash
        );
    }
    if let Some(trust) = &report.trust {
        println!(
            "   ok: {} and {} verified with the ledger key",
            super::count(trust.checkpoints_checked as u64, "checkpoint"),
            super::count(trust.signatures_checked, "signature")
        );
    }

    // A reworked device tells more than a clean one: its nonconformance, the disposition,
    // the swapped pump module, the re-test, then release and shipment.
    let example = match first_unit_of(&store, "unit.reworked")? {
        Some(unit) => Some(unit),
        None => first_unit_of(&store, "unit.released")?,
    };
    if let Some(unit) = &example {
        println!("\nEvery record that names device {unit}:");
        let filter = LogFilter {
            entity: Some(unit.clone()),
            limit: Some(30),
            ..LogFilter::default()
        };
        super::output::print_log(&store, &filter, false)?;
    }
    let ledger = ledger_path.display();
    let unit = example.as_deref().unwrap_or("UNIT");
    // The way this binary was started, so the commands can be pasted as they are.
    let traceledger = std::env::args()
        .next()
        .unwrap_or_else(|| "traceledger".to_owned());
    println!(
        "\nTry next:
  {traceledger} --ledger {ledger} dhr {unit}                  # its Device History Record
  {traceledger} --ledger {ledger} dhr {unit} --html > dhr.html # the same, printable
  {traceledger} --ledger {ledger} trace {unit} --backward      # what went into it
  {traceledger} --ledger {ledger} trace L-GAL-000001 --forward  # where a supplier lot went
  {traceledger} --ledger {ledger} audit --entity {unit}         # who did what, when
  {traceledger} --ledger {ledger} kpi                           # yields, cycle times
  {traceledger} --ledger {ledger} log --type nonconformance.opened --limit 10
  {traceledger} --ledger {ledger} verify --derived
  {traceledger} --ledger {ledger} export {unit} --bundle {unit}.bundle.json
  {traceledger} verify-bundle {unit}.bundle.json --ledger-key {ledger}.key.pub
  {traceledger} udi parse '(01)05391234000207(11)260105(21)IP00000001'"
    );
    Ok(())
}

fn first_unit_of(store: &Store, event_type: &str) -> Result<Option<String>, CliError> {
    let filter = LogFilter {
        types: vec![event_type.to_owned()],
        limit: Some(50),
        ..LogFilter::default()
    };
    let mut unit = None;
    store.for_each_logged(&filter, |record, _| {
        let event: serde_json::Value =
            serde_json::from_str(&record.event).unwrap_or(serde_json::Value::Null);
        match event
            .pointer("/data/unit")
            .and_then(serde_json::Value::as_str)
        {
            Some(found) => {
                unit = Some(found.to_owned());
                std::ops::ControlFlow::Break(())
            }
            None => std::ops::ControlFlow::Continue(()),
        }
    })?;
    Ok(unit)
}
