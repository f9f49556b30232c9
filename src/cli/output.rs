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

/// The fields of `data` that name what a record is about, most specific first: a step's unit,
/// a lot's disposition's lot, a role's person.
const ABOUT_FIELDS: &[&str] = &[
    "unit",
    "lot",
    "work_order",
    "ncr",
    "complaint",
    "equipment",
    "key",
    "person",
    "routing",
    "product",
    "change",
    "area",
    "site",
    "corrects",
];

/// The entity a record is about (see [`ABOUT_FIELDS`]), or `-`.
pub fn about(event: &Value) -> &str {
    let data = event.get("data");
    ABOUT_FIELDS
        .iter()
        .find_map(|field| data.and_then(|d| d.get(*field)).and_then(Value::as_str))
        .unwrap_or("-")
}

/// Prints records as a table, or as NDJSON of full records with `json`. When nothing matches,
/// says so on standard error (and prints no table header).
pub fn print_log(store: &Store, filter: &LogFilter, json: bool) -> Result<(), CliError> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut write_error = None;
    let mut rows = 0u64;
    store.for_each_logged(filter, |record, event_type| {
        let written = if json {
            writeln!(out, "{}", record.to_json())
        } else {
            let event: Value = serde_json::from_str(&record.event).unwrap_or(Value::Null);
            let header = if rows == 0 {
                writeln!(
                    out,
                    "{:>8}  {:<29}  {:<28}  {:<20}  {:<27}  key fields",
                    "seq", "occurred_at", "type", "about", "recorded_at"
                )
            } else {
                Ok(())
            };
            header.and_then(|()| {
                writeln!(
                    out,
                    "{:>8}  {:<29}  {:<28}  {:<20}  {:<27}  {}",
                    record.seq,
                    event
                        .get("occurred_at")
                        .and_then(Value::as_str)
                        .unwrap_or("?"),
                    event_type,
                    about(&event),
                    record.recorded_at,
                    key_fields(&event)
                )
            })
        };
        rows += 1;
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
    out.flush().map_err(stdout_error)?;
    if rows == 0 {
        eprintln!("{}", nothing_matched(filter));
    }
    Ok(())
}

/// "no record names entity X" and the like.
fn nothing_matched(filter: &LogFilter) -> String {
    let mut conditions = Vec::new();
    if let Some(entity) = &filter.entity {
        conditions.push(format!("names {entity}"));
    }
    if !filter.types.is_empty() {
        conditions.push(format!("is of type {}", filter.types.join(" or ")));
    }
    match (filter.from_seq, filter.to_seq) {
        (Some(from), Some(to)) => conditions.push(format!("has a seq from {from} to {to}")),
        (Some(from), None) => conditions.push(format!("has a seq from {from} on")),
        (None, Some(to)) => conditions.push(format!("has a seq up to {to}")),
        (None, None) => {}
    }
    if conditions.is_empty() {
        "no records: the ledger is empty".to_owned()
    } else {
        format!("no records match: none {}", conditions.join(" and "))
    }
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
    // The header is written with the first entry (or at the end when there is none), so a
    // query that fails (a bad --since) prints only its error.
    let mut header = header;
    let mut write_error = None;
    audit_trail(store, query, &mut |entry| {
        if let Some(header) = header.take()
            && let Err(e) = writeln!(out, "{header}")
        {
            write_error = Some(e);
            return ControlFlow::Break(());
        }
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
                what = format!(
                    "CORRECTS seq {seq}: {}  ({what})",
                    traceledger::audit_trail::changes_text(&entry.changes)
                );
            }
            if !entry.signatures.is_empty() {
                what = format!(
                    "{what}  [signed: {}]",
                    traceledger::audit_trail::signatures_text(&entry.signatures)
                );
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
    if let Some(header) = header {
        writeln!(out, "{header}").map_err(stdout_error)?;
    }
    out.flush().map_err(stdout_error)
}
