//! Renderings of a [`Trace`]: text for people (the recall summary first), CSV for a recall
//! notice, Graphviz DOT and Mermaid pictures. All are made from the model alone.

use super::model::{Direction, Facts, NodeKind, RecallSummary, Trace, TraceNode, UdiMismatch};
use super::summary::affected_devices;
use std::io::Write;

/// A customer's shipments are listed in the text summary up to this many, counted beyond.
const SHIPMENTS_LISTED_MAX: usize = 5;

/// The trace as text: for a forward trace the recall summary, then the tree as an indented
/// list; every line cites its record.
pub fn render_text(trace: &Trace) -> String {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write_text(trace, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// [`render_text`], written to `out` as it goes: a trace of 20,000 devices is not built as
/// one string first.
///
/// # Errors
/// What writing to `out` returns.
pub fn write_text(trace: &Trace, out: &mut dyn Write) -> std::io::Result<()> {
    let direction = match trace.direction {
        Direction::Backward => "backward",
        Direction::Forward => "forward",
    };
    writeln!(
        out,
        "{direction} trace of {} {}",
        kind_name(trace.root.kind),
        trace.root.id
    )?;
    if let Some(summary) = &trace.summary {
        write_summary(summary, out)?;
    }
    writeln!(out)?;
    write_node(&trace.root, 0, out)
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn write_summary(summary: &RecallSummary, out: &mut dyn Write) -> std::io::Result<()> {
    let d = &summary.devices;
    writeln!(
        out,
        "devices affected: {} (in process {}, released {}, shipped {}, scrapped {})",
        d.total, d.in_process, d.released, d.shipped, d.scrapped
    )?;
    if summary.customers.is_empty() {
        writeln!(out, "customers: none")?;
    } else {
        writeln!(out, "customers:")?;
        for customer in &summary.customers {
            let mut line = format!(
                "  {}: {}",
                customer.customer,
                plural(customer.devices, "device", "devices")
            );
            if !customer.lots.is_empty() {
                line.push_str(&format!(", lots {}", customer.lots.join(", ")));
            }
            // A busy customer has hundreds of shipments: counted here, listed in --json.
            let shipments = &customer.shipments;
            match shipments.len() {
                1 => line.push_str(&format!("; shipment {}", shipments[0])),
                2..=SHIPMENTS_LISTED_MAX => {
                    line.push_str(&format!("; shipments {}", shipments.join(", ")));
                }
                n => line.push_str(&format!("; {n} shipments")),
            }
            writeln!(out, "{line}")?;
        }
    }
    if summary.finished_lots.is_empty() {
        writeln!(out, "finished lots: none")?;
    } else {
        writeln!(out, "finished lots:")?;
        for lot in &summary.finished_lots {
            let item = lot
                .item
                .as_deref()
                .map(|i| format!(" [{i}]"))
                .unwrap_or_default();
            writeln!(out, "  {}{item}: {}", lot.lot, lot.status.as_str())?;
        }
    }
    if summary.open_complaints.is_empty() {
        writeln!(out, "open complaints: none")?;
    } else {
        writeln!(out, "open complaints:")?;
        for complaint in &summary.open_complaints {
            writeln!(
                out,
                "  {} ({} {}, seq {})",
                complaint.complaint,
                kind_name(complaint.subject_kind),
                complaint.subject,
                complaint.seq
            )?;
        }
    }
    Ok(())
}

fn kind_name(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Unit => "unit",
        NodeKind::Lot => "lot",
        NodeKind::External => "component made elsewhere",
    }
}

fn mismatch_text(m: &UdiMismatch) -> String {
    let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".to_owned());
    match &m.parse_error {
        Some(error) => format!("scanned {:?} does not parse: {error}", m.scanned_udi),
        None => format!(
            "scanned DI {} serial {}, expected DI {} serial {}",
            or_none(&m.scanned_di),
            or_none(&m.scanned_serial),
            or_none(&m.expected_di),
            m.expected_serial
        ),
    }
}

/// The facts as `(name, value)` lines, in a fixed order.
fn fact_lines(facts: &Facts) -> Vec<(&'static str, String)> {
    let mut lines = Vec::new();
    let mut plain = |name, value: &Option<String>| {
        if let Some(value) = value {
            lines.push((name, value.clone()));
        }
    };
    plain("udi", &facts.udi);
    plain("work_order", &facts.work_order);
    plain("supplier", &facts.supplier);
    plain("supplier_lot", &facts.supplier_lot);
    plain("expires", &facts.expires);
    if let Some(release) = facts.release {
        lines.push(("released", format!("seq {}", release.seq)));
    }
    if let Some(scrap) = facts.scrap {
        lines.push(("scrapped", format!("seq {}", scrap.seq)));
    }
    for s in &facts.shipments {
        let date = s
            .shipped_at
            .as_deref()
            .map(|at| format!(" on {}", ship_date(at)))
            .unwrap_or_default();
        lines.push((
            "shipped",
            format!("{} to {}{date} (seq {})", s.shipment, s.customer, s.seq),
        ));
    }
    for c in &facts.complaints {
        lines.push(("complaint", format!("{} (seq {})", c.complaint, c.seq)));
    }
    lines
}

/// The date part of an `occurred_at` as written (the site's own calendar day).
fn ship_date(at: &str) -> &str {
    at.get(..10).unwrap_or(at)
}

fn write_node(node: &TraceNode, depth: usize, out: &mut dyn Write) -> std::io::Result<()> {
    let indent = "  ".repeat(depth);
    write!(out, "{indent}")?;
    if depth > 0 {
        write!(out, "{}: ", node.link.describe())?;
    }
    write!(out, "{} {}", kind_name(node.kind), node.id)?;
    if let Some(item) = &node.item {
        write!(out, " [{item}]")?;
    }
    if let Some(removed) = node.removed_seq {
        write!(out, "  REMOVED (seq {removed})")?;
    }
    if let Some(seq) = node.seq {
        write!(out, "  (seq {seq})")?;
    }
    writeln!(out)?;
    if let Some(scanned) = &node.link.component_udi
        && node.kind != NodeKind::External
    {
        writeln!(
            out,
            "{indent}  · scanned component_udi: {}",
            printable(scanned)
        )?;
    }
    if let Some(mismatch) = &node.udi_mismatch {
        writeln!(out, "{indent}  · UDI MISMATCH: {}", mismatch_text(mismatch))?;
    }
    if node.shown_above {
        writeln!(out, "{indent}  · already shown above")?;
    }
    for (name, value) in fact_lines(&node.facts) {
        writeln!(out, "{indent}  · {name}: {}", printable(&value))?;
    }
    for child in &node.children {
        write_node(child, depth + 1, out)?;
    }
    Ok(())
}

/// A scanned UDI's GS separators shown as `<GS>` on a terminal.
fn printable(text: &str) -> String {
    text.replace('\u{1d}', "<GS>")
}

/// One row per affected device (docs/recall.md): serial, UDI, product, status, and the
/// latest shipment with its customer and ship date; RFC 4180 (CRLF, fields quoted when they
/// hold a comma, quote, CR, LF or another control character such as a UDI's GS).
///
/// # Errors
/// What writing to `out` returns.
pub fn write_csv(trace: &Trace, out: &mut dyn Write) -> std::io::Result<()> {
    write!(
        out,
        "serial,udi,product,status,shipment,customer,ship_date\r\n"
    )?;
    for device in affected_devices(&trace.root) {
        let shipment = device.shipment;
        let fields = [
            device.serial,
            device.udi.unwrap_or(""),
            device.product.unwrap_or(""),
            device.status.as_str(),
            shipment.map_or("", |s| s.shipment.as_str()),
            shipment.map_or("", |s| s.customer.as_str()),
            shipment
                .and_then(|s| s.shipped_at.as_deref())
                .map_or("", ship_date),
        ];
        let row: Vec<String> = fields.iter().map(|f| crate::csv::field(f)).collect();
        write!(out, "{}\r\n", row.join(","))?;
    }
    Ok(())
}

/// A label for a node in a picture: kind, id, item, and REMOVED when the link was undone.
fn picture_label(node: &TraceNode) -> String {
    let item = node
        .item
        .as_deref()
        .map(|i| format!(" [{i}]"))
        .unwrap_or_default();
    let removed = if node.removed_seq.is_some() {
        " (REMOVED)"
    } else {
        ""
    };
    let mismatch = if node.udi_mismatch.is_some() {
        " (UDI MISMATCH)"
    } else {
        ""
    };
    format!(
        "{} {}{item}{removed}{mismatch}",
        node.kind.as_str(),
        node.id
    )
}

/// Every edge of the tree as (parent, child, label, removed); ids are the nodes' ids, so a
/// unit or lot reached twice is drawn once with two incoming edges.
fn edges(node: &TraceNode, out: &mut Vec<(String, String, String, bool)>) {
    for child in &node.children {
        out.push((
            node.id.clone(),
            child.id.clone(),
            child.link.describe(),
            child.removed_seq.is_some(),
        ));
        edges(child, out);
    }
}

/// The first label of each node id, in tree order: a node reached again (shown above) or
/// shown as removed elsewhere does not relabel the first.
fn labels(root: &TraceNode) -> Vec<(String, String)> {
    let mut seen = std::collections::HashSet::new();
    root.walk()
        .into_iter()
        .filter(|node| seen.insert(node.id.clone()))
        .map(|node| (node.id.clone(), picture_label(node)))
        .collect()
}

/// The trace as a Graphviz `dot` graph.
pub fn render_dot(trace: &Trace) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let mut out = String::from("digraph genealogy {\n  rankdir=LR;\n  node [shape=box];\n");
    for (id, label) in labels(&trace.root) {
        out.push_str(&format!("  {} [label={}];\n", quote(&id), quote(&label)));
    }
    let mut all = Vec::new();
    edges(&trace.root, &mut all);
    for (from, to, link, removed) in all {
        let style = if removed { ", style=dashed" } else { "" };
        out.push_str(&format!(
            "  {} -> {} [label={}{style}];\n",
            quote(&from),
            quote(&to),
            quote(&link)
        ));
    }
    out.push_str("}\n");
    out
}

/// The trace as a Mermaid flowchart.
pub fn render_mermaid(trace: &Trace) -> String {
    let mut ids = std::collections::HashMap::new();
    let mut out = String::from("flowchart LR\n");
    let clean = |s: &str| s.replace('"', "'");
    for (id, label) in labels(&trace.root) {
        let name = format!("n{}", ids.len());
        out.push_str(&format!("  {name}[\"{}\"]\n", clean(&label)));
        ids.insert(id, name);
    }
    let mut all = Vec::new();
    edges(&trace.root, &mut all);
    for (from, to, link, removed) in all {
        let arrow = if removed { "-.->" } else { "-->" };
        if let (Some(from), Some(to)) = (ids.get(&from), ids.get(&to)) {
            out.push_str(&format!("  {from} {arrow}|\"{}\"| {to}\n", clean(&link)));
        }
    }
    out
}
