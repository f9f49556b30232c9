//! Formatting for people and machines: the record table, verify's JSON, the progress bar.

use super::{CliError, stdout_error};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};
use std::io::Write;
use std::ops::ControlFlow;
use traceledger::store::{LogFilter, Store};
use traceledger::verify::VerifyReport;

/// Inputs smaller than this finish before a bar would be worth drawing.
const PROGRESS_BYTES_MIN: u64 = 4 << 20;
/// The key-fields column is cut at this many characters.
const KEY_FIELDS_WIDTH_MAX: usize = 72;

/// A bar on stderr for large inputs, hidden when stderr is not a terminal (indicatif checks).
pub fn ingest_progress_bar(len_bytes: Option<u64>, wanted: bool) -> ProgressBar {
    let large = len_bytes.is_none_or(|len| len >= PROGRESS_BYTES_MIN);
    if !wanted || !large {
        return ProgressBar::hidden();
    }
    let bar = match len_bytes {
        Some(len) => ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr())
            .with_style(
                ProgressStyle::with_template(
                    "{spinner} ingest [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            ),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template("{spinner} ingest {pos} lines {per_sec}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// The data fields a person scans for: every scalar field of `data`, `name=value`.
pub fn key_fields(event: &Value) -> String {
    let mut text = String::new();
    if let Some(data) = event.get("data").and_then(Value::as_object) {
        for (name, value) in data {
            let shown = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => continue,
            };
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(name);
            text.push('=');
            text.push_str(&shown);
        }
    }
    if text.chars().count() > KEY_FIELDS_WIDTH_MAX {
        let cut: String = text.chars().take(KEY_FIELDS_WIDTH_MAX - 1).collect();
        text = format!("{cut}…");
    }
    text
}

/// Prints records as a table, or as NDJSON of full records with `json`.
pub fn print_log(store: &Store, filter: &LogFilter, json: bool) -> Result<(), CliError> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut write_error = None;
    if !json {
        writeln!(
            out,
            "{:>8}  {:<27}  {:<28}  {:<28}  key fields",
            "seq", "recorded_at", "type", "id"
        )
        .map_err(stdout_error)?;
    }
    store.for_each_logged(filter, |record, event_type| {
        let written = if json {
            writeln!(out, "{}", record.to_json())
        } else {
            let event: Value = serde_json::from_str(&record.event).unwrap_or(Value::Null);
            let id = event.get("id").and_then(Value::as_str).unwrap_or("?");
            writeln!(
                out,
                "{:>8}  {:<27}  {:<28}  {:<28}  {}",
                record.seq,
                record.recorded_at,
                event_type,
                id,
                key_fields(&event)
            )
        };
        match written {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                write_error = Some(e);
                ControlFlow::Break(())
            }
        }
    })?;
    if let Some(e) = write_error {
        return Err(stdout_error(e));
    }
    out.flush().map_err(stdout_error)
}

/// `verify --json`: one object, stable keys.
pub fn verify_json(report: &VerifyReport) -> Value {
    let head = report
        .head
        .map(|h| json!({"seq": h.seq, "hash": h.hash.to_hex()}));
    let finding = report
        .finding
        .as_ref()
        .map(|f| json!({"code": f.code(), "seq": f.seq(), "message": f.to_string()}));
    let derived = report.derived.as_ref().map(|d| {
        json!({"missing": d.missing, "extra": d.extra, "kpi_rows_differing": d.kpi_rows_differing, "trace_link_rows_differing": d.trace_link_rows_differing, "tree_nodes_wrong": d.tree_nodes_wrong, "first_wrong_tree_node": d.first_wrong_tree_node.map(|(level, idx)| json!({"level": level, "idx": idx})), "tree_nodes_missing": d.tree_nodes_missing, "matches": d.matches()})
    });
    let trust = report.trust.as_ref().map(|t| {
        json!({"checkpoints_checked": t.checkpoints_checked, "signatures_checked": t.signatures_checked})
    });
    json!({
        "ok": report.intact(),
        "records": report.records,
        "head": head,
        "finding": finding,
        "derived": derived,
        "trust": trust,
    })
}

/// `udi parse`: the fields for a person, or JSON; a bad UDI shows where it breaks.
pub fn print_udi(input: &str, json: bool) -> Result<(), CliError> {
    let udi = traceledger::udi::parse(input).map_err(|e| {
        // Show the input with a caret under the position (GS shown as a visible symbol).
        let shown: String = input
            .chars()
            .map(|c| if c.is_control() { '\u{241d}' } else { c })
            .collect();
        CliError::Usage(format!(
            "invalid UDI: {e}\n  {shown}\n  {}^",
            " ".repeat(e.position)
        ))
    })?;
    if json {
        let value = serde_json::to_value(&udi).map_err(|e| CliError::Usage(e.to_string()))?;
        println!("{value}");
        return Ok(());
    }
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
    println!("agency:          {}", udi.agency);
    println!("device id (DI):  {}", udi.device_identifier);
    println!("lot:             {}", or_dash(&udi.lot));
    println!("serial:          {}", or_dash(&udi.serial));
    println!("expiry:          {}", or_dash(&udi.expiry));
    println!("manufactured:    {}", or_dash(&udi.manufactured));
    if let Some(din) = &udi.donation_identification_number {
        println!("donation (DIN):  {din}");
    }
    // ISBT 128 data identifiers are shown as printed on the label, before their data.
    let elements: Vec<String> = udi
        .elements
        .iter()
        .map(|(identifier, value)| match udi.agency {
            traceledger::udi::Agency::Iccbba => format!("{identifier}{value}"),
            _ => format!("({identifier}) {value}"),
        })
        .collect();
    println!("elements:        {}", elements.join("  "));
    Ok(())
}

/// `audit`: a table for people, CSV or NDJSON for machines; streamed, so any size prints in
/// flat memory.
pub fn print_audit(
    store: &Store,
    query: &traceledger::audit_trail::AuditQuery,
    csv: bool,
    json: bool,
) -> Result<(), CliError> {
    use traceledger::audit_trail::{CSV_HEADER, audit_trail, csv_row};
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let header = if csv {
        Some(CSV_HEADER.to_owned())
    } else if json {
        None
    } else {
        Some(format!(
            "{:>8}  {:<27}  {:<29}  {:<28}  {:<12}  what",
            "seq", "recorded_at", "occurred_at", "type", "actor"
        ))
    };
    if let Some(header) = header {
        writeln!(out, "{header}").map_err(stdout_error)?;
    }
    let mut write_error = None;
    audit_trail(store, query, &mut |entry| {
        let written = if csv {
            writeln!(out, "{}", csv_row(entry))
        } else if json {
            match serde_json::to_string(entry) {
                Ok(line) => writeln!(out, "{line}"),
                Err(e) => Err(std::io::Error::other(e)),
            }
        } else {
            let event = serde_json::json!({ "data": entry.data });
            let mut what = key_fields(&event);
            if let Some(seq) = entry.corrects_seq {
                what = format!("CORRECTS seq {seq}: {what}");
            }
            if !entry.corrected_by.is_empty() {
                let seqs: Vec<String> = entry.corrected_by.iter().map(u64::to_string).collect();
                what = format!("{what}  [corrected by seq {}]", seqs.join(", "));
            }
            writeln!(
                out,
                "{:>8}  {:<27}  {:<29}  {:<28}  {:<12}  {what}",
                entry.seq,
                entry.recorded_at,
                entry.occurred_at,
                entry.event_type,
                entry.actor.as_deref().unwrap_or("-"),
            )
        };
        match written {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                write_error = Some(e);
                ControlFlow::Break(())
            }
        }
    })?;
    if let Some(e) = write_error {
        return Err(stdout_error(e));
    }
    out.flush().map_err(stdout_error)
}
