//! Renderings of the DHR model for people: text and one printable HTML page. Both are made
//! from the same rows ([`sections`]), so they cannot disagree with each other or with the
//! JSON. Exceptions come first: a reviewer reviews by exception.

use super::build::{describe_person, limits, shown};
use super::model::*;

/// How a row is marked for the eye.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Plain,
    /// Failed, out of limits, not matching.
    Failed,
    /// A value in force that a correction set.
    Corrected,
    /// Taken out again (a removed component).
    Removed,
}

/// One row of a section: the record it comes from and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub seq: Option<u64>,
    pub occurred_at: String,
    pub text: String,
    pub mark: Mark,
}

fn row(seq: u64, occurred_at: &str, text: String, mark: Mark) -> Row {
    Row {
        seq: Some(seq),
        occurred_at: occurred_at.to_owned(),
        text,
        mark,
    }
}

fn person(p: &Option<Person>) -> String {
    p.as_ref().map_or("(no actor)".to_owned(), describe_person)
}

fn signatures(list: &[Signature]) -> String {
    list.iter()
        .map(|s| {
            format!(
                "signed {} by {} ({}) at {} with key {}",
                s.meaning,
                s.name.as_deref().unwrap_or("?"),
                s.signer,
                s.signed_at,
                s.key
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn measurement_text(m: &Measurement) -> String {
    let mut text = shown(m);
    if m.lsl.is_some() || m.usl.is_some() {
        text.push_str(&format!(" {}", limits(m.lsl, m.usl)));
    }
    if m.in_limits == Some(false) {
        text.push_str(" OUT OF LIMITS");
    }
    if !m.corrected_by.is_empty() {
        text.push_str(&format!(" (corrected, seq {})", join(&m.corrected_by)));
    }
    text
}

/// Scanned or printed text as people read it: quoted, a GS separator shown as `<GS>`.
fn scanned(text: &str) -> String {
    format!("\"{}\"", text.replace('\u{1d}', "<GS>"))
}

fn join(seqs: &[u64]) -> String {
    seqs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The exceptions as rows.
pub fn exception_rows(history: &DeviceHistory) -> Vec<Row> {
    history
        .exceptions
        .iter()
        .map(|e| Row {
            seq: e.seq,
            occurred_at: String::new(),
            text: format!(
                "{}{}: {}",
                e.kind.as_str(),
                e.component
                    .as_ref()
                    .map(|c| format!(" [component {c}]"))
                    .unwrap_or_default(),
                e.detail
            ),
            mark: Mark::Failed,
        })
        .collect()
}

fn operation_rows(history: &DeviceHistory) -> Vec<Row> {
    history
        .operations
        .iter()
        .map(|o| {
            let mut text = format!(
                "op {}{}: {} at station {} by {}",
                o.op,
                o.name.as_ref().map(|n| format!(" {n}")).unwrap_or_default(),
                o.result,
                o.station.as_deref().unwrap_or("?"),
                person(&o.operator)
            );
            if let Some(area) = &o.area {
                text.push_str(&format!(", area {area}"));
            }
            if !o.equipment.is_empty() {
                text.push_str(&format!(", equipment {}", o.equipment.join(", ")));
            }
            for m in &o.measurements {
                text.push_str(&format!("; {}", measurement_text(m)));
            }
            let mark = if o.result != "pass"
                || o.measurements.iter().any(|m| m.in_limits == Some(false))
            {
                Mark::Failed
            } else if o.corrected_by.is_empty() {
                Mark::Plain
            } else {
                Mark::Corrected
            };
            row(o.seq, &o.occurred_at, text, mark)
        })
        .collect()
}

fn environment_rows(history: &DeviceHistory) -> Vec<Row> {
    let mut out = Vec::new();
    for area in &history.environment {
        for r in &area.readings {
            let values: Vec<String> = r.measurements.iter().map(measurement_text).collect();
            let failed = r.measurements.iter().any(|m| m.in_limits == Some(false));
            out.push(row(
                r.seq,
                &r.occurred_at,
                format!(
                    "area {} (work {} to {}), sensor {}{}: {}",
                    area.area,
                    area.from,
                    area.to,
                    r.sensor,
                    if r.before_work {
                        ", in force when work began"
                    } else {
                        ""
                    },
                    values.join("; ")
                ),
                if failed { Mark::Failed } else { Mark::Plain },
            ));
        }
    }
    out
}

fn material_and_component_rows(history: &DeviceHistory) -> (Vec<Row>, Vec<Row>) {
    let materials = history
        .materials
        .iter()
        .map(|m| {
            row(
                m.seq,
                &m.occurred_at,
                format!(
                    "lot {}: {} {} at op {}{}",
                    m.lot,
                    m.quantity.as_deref().unwrap_or("?"),
                    m.uom.as_deref().unwrap_or(""),
                    m.op.as_deref().unwrap_or("-"),
                    if m.corrected_by.is_empty() {
                        String::new()
                    } else {
                        format!(" (corrected, seq {})", join(&m.corrected_by))
                    }
                ),
                if m.corrected_by.is_empty() {
                    Mark::Plain
                } else {
                    Mark::Corrected
                },
            )
        })
        .collect();
    let mut components = Vec::new();
    for c in &history.components {
        let origin = match c.origin {
            Origin::Ledger => c
                .product
                .as_ref()
                .map(|p| format!(" ({p})"))
                .unwrap_or_default(),
            Origin::External => " (made outside this ledger)".to_owned(),
        };
        let udi = c
            .component_udi
            .as_ref()
            .map(|u| format!(", UDI {}", scanned(u)))
            .unwrap_or_default();
        let exceptions = if c.exceptions > 0 {
            format!(", {} exception(s) of its own", c.exceptions)
        } else {
            String::new()
        };
        components.push(row(
            c.seq,
            &c.occurred_at,
            format!(
                "installed {}{origin}{udi} at op {}{exceptions}",
                c.component,
                c.op.as_deref().unwrap_or("-")
            ),
            if c.removed.is_some() {
                Mark::Removed
            } else {
                Mark::Plain
            },
        ));
        if let Some(removal) = &c.removed {
            components.push(row(
                removal.seq,
                &removal.occurred_at,
                format!(
                    "REMOVED {}: {}",
                    c.component,
                    removal.reason.as_deref().unwrap_or("")
                ),
                Mark::Removed,
            ));
        }
    }
    (materials, components)
}

fn nonconformance_rows(history: &DeviceHistory) -> Vec<Row> {
    let mut out = Vec::new();
    for n in &history.nonconformances {
        out.push(row(
            n.seq,
            &n.occurred_at,
            format!(
                "{} opened by {}: {}",
                n.ncr,
                person(&n.opened_by),
                n.description.as_deref().unwrap_or("")
            ),
            Mark::Plain,
        ));
        if let Some(d) = &n.disposition {
            out.push(row(
                d.seq,
                &d.occurred_at,
                format!(
                    "{} dispositioned {} by {}: {} ({})",
                    n.ncr,
                    d.disposition,
                    person(&d.by),
                    d.justification.as_deref().unwrap_or(""),
                    signatures(&d.signatures)
                ),
                Mark::Plain,
            ));
        }
        for r in &n.rework {
            out.push(row(
                r.seq,
                &r.occurred_at,
                format!(
                    "{} rework at op {}: {}",
                    n.ncr,
                    r.op.as_deref().unwrap_or("?"),
                    r.description.as_deref().unwrap_or("")
                ),
                Mark::Plain,
            ));
        }
    }
    out
}

fn label_rows(history: &DeviceHistory) -> Vec<Row> {
    let labels = &history.labels;
    let mut out: Vec<Row> = labels
        .printed
        .iter()
        .map(|l| {
            row(
                l.seq,
                &l.occurred_at,
                format!("printed {}", scanned(&l.udi)),
                Mark::Plain,
            )
        })
        .collect();
    out.extend(labels.verified.iter().map(|l| {
        row(
            l.seq,
            &l.occurred_at,
            format!(
                "verified: {}, scanned {}{}",
                l.result,
                scanned(&l.scanned),
                if l.matches_udi { "" } else { " (not the UDI)" }
            ),
            if l.result == "pass" && l.matches_udi {
                Mark::Plain
            } else {
                Mark::Failed
            },
        )
    }));
    out.extend(labels.reconciliations.iter().map(|r| {
        row(
            r.seq,
            &r.occurred_at,
            format!(
                "work order {} reconciled: {} printed, {} applied, {} destroyed",
                r.work_order, r.printed, r.applied, r.destroyed
            ),
            if r.balanced {
                Mark::Plain
            } else {
                Mark::Failed
            },
        )
    }));
    out.sort_by_key(|r| r.seq);
    out
}

fn release_rows(history: &DeviceHistory) -> Vec<Row> {
    let mut out = Vec::new();
    if let Some(r) = &history.release {
        out.push(row(
            r.seq,
            &r.occurred_at,
            format!(
                "released by {} ({})",
                person(&r.by),
                signatures(&r.signatures)
            ),
            Mark::Plain,
        ));
    }
    // A scrap is where the unit's life ended; it stands where a release would.
    if let Some(s) = &history.scrap {
        out.push(row(
            s.seq,
            &s.occurred_at,
            format!(
                "SCRAPPED by {}: {}{}",
                person(&s.by),
                s.reason.as_deref().unwrap_or(""),
                s.ncr
                    .as_ref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            ),
            Mark::Failed,
        ));
    }
    out
}

fn after_rows(history: &DeviceHistory) -> (Vec<Row>, Vec<Row>) {
    let shipments = history
        .shipments
        .iter()
        .map(|s| {
            row(
                s.seq,
                &s.occurred_at,
                format!(
                    "shipment {} to {}{}{}",
                    s.shipment,
                    s.customer,
                    s.quantity
                        .as_ref()
                        .map(|q| format!(", quantity {q}"))
                        .unwrap_or_default(),
                    s.ship_to
                        .as_ref()
                        .map(|t| format!(" ({t})"))
                        .unwrap_or_default()
                ),
                Mark::Plain,
            )
        })
        .collect();
    let mut after: Vec<Row> = history
        .complaints
        .iter()
        .map(|c| {
            row(
                c.seq,
                &c.occurred_at,
                format!(
                    "complaint {}: {}",
                    c.complaint,
                    c.description.as_deref().unwrap_or("")
                ),
                Mark::Plain,
            )
        })
        .collect();
    after.extend(history.services.iter().map(|s| {
        row(
            s.seq,
            &s.occurred_at,
            format!(
                "service {}: {}",
                s.service,
                s.description.as_deref().unwrap_or("")
            ),
            Mark::Plain,
        )
    }));
    after.sort_by_key(|r| r.seq);
    (shipments, after)
}

fn correction_rows(history: &DeviceHistory) -> Vec<Row> {
    history
        .corrections
        .iter()
        .map(|c| {
            let changes: Vec<String> = c
                .changes
                .iter()
                .map(|change| {
                    format!(
                        "{}: {} -> {}{}",
                        change.path,
                        change
                            .old
                            .as_ref()
                            .map_or("(absent)".to_owned(), |v| v.to_string()),
                        change.new,
                        if change.applied {
                            ""
                        } else {
                            " (NOT APPLIED: no such field)"
                        }
                    )
                })
                .collect();
            row(
                c.seq,
                &c.occurred_at,
                format!(
                    "corrects seq {} ({}): {}; reason: {}; by {} ({})",
                    c.corrects,
                    c.corrects_type,
                    changes.join("; "),
                    c.reason.as_deref().unwrap_or(""),
                    person(&c.by),
                    signatures(&c.signatures)
                ),
                Mark::Corrected,
            )
        })
        .collect()
}

/// Every section of the document in its order, with its title.
pub fn sections(history: &DeviceHistory) -> Vec<(&'static str, Vec<Row>)> {
    let started = &history.started;
    let start_text = match history.subject {
        Subject::Unit => format!("started at {} by {}", started.site, person(&started.by)),
        Subject::Lot => {
            let q = history.quantities.as_ref();
            format!(
                "lot produced at {}: {} {} of {} ordered{}",
                started.site,
                q.and_then(|q| q.produced.as_deref()).unwrap_or("?"),
                q.and_then(|q| q.uom.as_deref()).unwrap_or(""),
                q.and_then(|q| q.ordered.as_deref()).unwrap_or("?"),
                q.and_then(|q| q.not_produced.as_ref())
                    .map(|n| format!(", {n} not produced"))
                    .unwrap_or_default()
            )
        }
    };
    let (materials, components) = material_and_component_rows(history);
    let (shipments, after) = after_rows(history);
    vec![
        ("Exceptions", exception_rows(history)),
        (
            "Started",
            vec![row(
                started.seq,
                &started.occurred_at,
                start_text,
                Mark::Plain,
            )],
        ),
        ("Operations", operation_rows(history)),
        ("Environment (controlled areas)", environment_rows(history)),
        ("Materials", materials),
        ("Components", components),
        ("Nonconformances", nonconformance_rows(history)),
        ("Labels", label_rows(history)),
        ("Release", release_rows(history)),
        ("Shipments", shipments),
        ("After shipment", after),
        ("Corrections", correction_rows(history)),
    ]
}

/// The identification block: (label, value).
pub fn identification(history: &DeviceHistory) -> Vec<(&'static str, String)> {
    let product = history.product.as_ref();
    let order = history.work_order.as_ref();
    vec![
        (
            "product",
            product.map_or("-".to_owned(), |p| {
                format!("{} {}", p.product, p.name.as_deref().unwrap_or(""))
            }),
        ),
        (
            "UDI-DI",
            product
                .and_then(|p| p.udi_di.clone())
                .unwrap_or("-".to_owned()),
        ),
        (
            "UDI",
            history.udi.as_deref().map_or("-".to_owned(), scanned),
        ),
        ("site", history.site.clone()),
        (
            "work order",
            order.map_or("-".to_owned(), |w| {
                format!(
                    "{}{}",
                    w.work_order,
                    w.quantity
                        .as_ref()
                        .map(|q| format!(" (ordered {q})"))
                        .unwrap_or_default()
                )
            }),
        ),
        (
            "routing",
            order
                .and_then(|w| w.routing.as_ref().zip(w.version.as_ref()))
                .map_or("-".to_owned(), |(r, v)| format!("{r} version {v}")),
        ),
        (
            "status",
            match &history.installed_in {
                Some(i) => format!("{} in {} (seq {})", history.status.as_str(), i.unit, i.seq),
                None => history.status.as_str().to_owned(),
            },
        ),
    ]
}

fn subject_word(history: &DeviceHistory) -> &'static str {
    match history.subject {
        Subject::Unit => "unit",
        Subject::Lot => "lot",
    }
}

/// The DHR as text for people: every row with the seq of its record.
pub fn render_text(history: &DeviceHistory) -> String {
    let mut out = format!(
        "DEVICE HISTORY RECORD  {} {}\n",
        subject_word(history),
        history.id
    );
    for (label, value) in identification(history) {
        out.push_str(&format!("  {label:<14}{value}\n"));
    }
    for (title, rows) in sections(history) {
        if title == "Exceptions" {
            out.push_str(&format!("\nExceptions ({})\n", rows.len()));
            if rows.is_empty() {
                out.push_str("  none\n");
            }
        } else if rows.is_empty() {
            continue;
        } else {
            out.push_str(&format!("\n{title}\n"));
        }
        for r in rows {
            let seq = r.seq.map_or("      -".to_owned(), |s| format!("{s:>7}"));
            let time = if r.occurred_at.is_empty() {
                String::new()
            } else {
                format!(" {} ", r.occurred_at)
            };
            out.push_str(&format!("  [seq {seq}]{time} {}\n", r.text));
        }
    }
    out.push_str(&format!("\nApprovals ({})\n", history.approvals.len()));
    if history.approvals.is_empty() {
        out.push_str("  none\n");
    }
    for approval in &history.approvals {
        out.push_str(&format!(
            "  [seq {:>7}] {}\n",
            approval.seq,
            approval.describe()
        ));
    }
    out.push_str(&format!("\ndigest {}\n", super::digest(history)));
    out
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // A GS separator in a scanned UDI is shown, not swallowed by the page.
            '\u{1d}' => out.push_str("&lt;GS&gt;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "<style>
body{font-family:system-ui,sans-serif;font-size:11pt;margin:2em;color:#111}
h1{font-size:16pt;margin-bottom:.2em}h2{font-size:12pt;border-bottom:1px solid #999;margin-top:1.4em}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #bbb;padding:3px 6px;vertical-align:top;text-align:left}
th{background:#eee}td.seq{font-family:monospace;white-space:nowrap;width:6em}td.time{white-space:nowrap;width:15em}
tr.failed td{background:#fde2e1}tr.corrected td{background:#fff4c2}tr.removed td{color:#666;text-decoration:line-through}
.none{color:#555}.signoff td{height:2.4em}
@media print{body{margin:1cm}h2{page-break-after:avoid}tr{page-break-inside:avoid}}
</style>";

/// The DHR as one self-contained, printable HTML page (no scripts, no external resources):
/// exceptions first, failed and corrected rows highlighted, a sign-off block at the end.
pub fn render_html(history: &DeviceHistory) -> String {
    let e = escape_html;
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>DHR {}</title>\n{STYLE}</head><body>\n",
        e(&history.id)
    );
    out.push_str(&format!(
        "<h1>Device History Record &mdash; {} {}</h1>\n<table class=\"identification\">\n",
        subject_word(history),
        e(&history.id)
    ));
    for (label, value) in identification(history) {
        out.push_str(&format!(
            "<tr><th>{}</th><td>{}</td></tr>\n",
            e(label),
            e(&value)
        ));
    }
    out.push_str("</table>\n");
    for (title, rows) in sections(history) {
        let id = title.split_whitespace().next().unwrap_or("").to_lowercase();
        out.push_str(&format!("<h2 id=\"{id}\">{title} ({})</h2>\n", rows.len()));
        if rows.is_empty() {
            out.push_str("<p class=\"none\">none recorded</p>\n");
            continue;
        }
        out.push_str(&format!(
            "<table class=\"{id}\"><tr><th>seq</th><th>occurred</th><th>record</th></tr>\n"
        ));
        for r in rows {
            let class = match r.mark {
                Mark::Plain => "",
                Mark::Failed => " class=\"failed\"",
                Mark::Corrected => " class=\"corrected\"",
                Mark::Removed => " class=\"removed\"",
            };
            out.push_str(&format!(
                "<tr{class}><td class=\"seq\">{}</td><td class=\"time\">{}</td><td>{}</td></tr>\n",
                r.seq.map_or("-".to_owned(), |s| s.to_string()),
                e(&r.occurred_at),
                e(&r.text)
            ));
        }
        out.push_str("</table>\n");
    }
    out.push_str(&format!(
        "<h2 id=\"approvals\">Approvals ({})</h2>\n",
        history.approvals.len()
    ));
    for approval in &history.approvals {
        out.push_str(&format!(
            "<p>[seq {}] {}</p>\n",
            approval.seq,
            e(&approval.describe())
        ));
    }
    out.push_str(&format!(
        "<p>DHR digest <code>{}</code></p>\n",
        super::digest(history)
    ));
    out.push_str(
        "<h2>Review</h2>\n<table class=\"signoff\"><tr><th>Reviewed by (printed name)</th><td></td></tr>\n\
         <tr><th>Signature</th><td></td></tr><tr><th>Date</th><td></td></tr>\n\
         <tr><th>Exceptions dispositioned</th><td></td></tr></table>\n</body></html>\n",
    );
    out
}
