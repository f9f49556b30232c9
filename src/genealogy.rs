//! Genealogy: what went into a unit or lot (backward), and where a unit or lot went
//! (forward), rebuilt from the records on demand.
//!
//! A projection: it reads the log through the store's entity index (every step is one indexed
//! query for the records that name an entity, never a scan) and never writes. Links it
//! follows, each cited by the seq of the record that made it:
//!
//! - a component installed in a unit (and removed again, shown as removed), across sites;
//! - a lot consumed by a unit, or by a work order (then by every unit and lot it made);
//! - a lot split from another, merged from others, produced by a work order, or received
//!   from a supplier (the end of a backward trace);
//! - forward only: release, scrap, shipment and customer, complaints.

use crate::chain::Record;
use crate::event::{
    EntityKind, LinkSubject, Relation, component_link, material_link, merged_sources, split_parts,
};
use crate::store::{LogFilter, Store, StoreError};
use crate::udi;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashSet;
use std::ops::ControlFlow;

/// How a UDI can begin: GS1 parentheses, HIBCC flag, symbology identifier, FNC1, ISBT 128
/// data identifier. No ledger identifier begins with '=' or '&'.
const UDI_FIRST_CHARS: [char; 6] = ['(', '+', ']', '\u{1d}', '=', '&'];

/// Beyond this depth a trace stops: no real bill of materials is this deep, so a deeper one
/// means a cycle in the data that the visited set did not catch.
const DEPTH_MAX: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum GenealogyError {
    #[error("{0} is neither a unit nor a lot the ledger knows")]
    NotFound(String),
    #[error("{input} is not a valid UDI: {source}")]
    BadUdi {
        input: String,
        source: udi::UdiError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    Unit,
    Lot,
    /// A component made elsewhere, known only by its UDI.
    External,
}

/// One unit or lot in a trace, with how it is linked to its parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TraceNode {
    pub kind: NodeKind,
    pub id: String,
    /// The product (units, produced lots) or part (received lots).
    pub item: Option<String>,
    /// How this node is linked to the one above it ("component", "material", "split from", ...).
    pub link: String,
    /// The seq of the record that makes the link.
    pub seq: Option<u64>,
    /// The seq of the record that undid the link (a component removed in rework).
    pub removed_seq: Option<u64>,
    /// Facts about the node: supplier lot, release, shipment, customer, ...
    pub facts: Vec<(String, String)>,
    pub children: Vec<TraceNode>,
}

impl TraceNode {
    fn new(kind: NodeKind, id: &str, link: &str, seq: Option<u64>) -> TraceNode {
        TraceNode {
            kind,
            id: id.to_owned(),
            item: None,
            link: link.to_owned(),
            seq,
            removed_seq: None,
            facts: Vec::new(),
            children: Vec::new(),
        }
    }

    /// A node reached again: shown, not expanded.
    fn seen_before(kind: NodeKind, id: &str, link: &str, seq: Option<u64>) -> TraceNode {
        let mut node = TraceNode::new(kind, id, link, seq);
        node.facts
            .push(("note".to_owned(), "already shown above".to_owned()));
        node
    }

    /// Every node of the tree, depth first (the root included).
    pub fn walk(&self) -> Vec<&TraceNode> {
        let mut out = vec![self];
        for child in &self.children {
            out.extend(child.walk());
        }
        out
    }
}

/// A record that names an entity, parsed.
struct Named {
    seq: u64,
    event_type: String,
    data: Value,
}

impl Named {
    /// `None` for an event that is not JSON: verify reports such a record, a trace skips it.
    fn parse(record: &Record) -> Option<Named> {
        let mut event: Value = serde_json::from_str(&record.event).ok()?;
        Some(Named {
            seq: record.seq,
            event_type: event["type"].as_str().unwrap_or("").to_owned(),
            data: event["data"].take(),
        })
    }
}

/// The records that name `id`, those of the types `wanted` parsed: a forward trace of a lot
/// in 10,000 devices visits each device, and parsing only what it reads (not every step
/// with its measurements) is most of its cost.
fn naming(
    store: &Store,
    id: &str,
    wanted: &dyn Fn(&str) -> bool,
) -> Result<Vec<Named>, StoreError> {
    let filter = LogFilter {
        entity: Some(id.to_owned()),
        ..LogFilter::default()
    };
    let mut out = Vec::new();
    store.for_each_logged(&filter, |record, event_type| {
        if wanted(event_type) {
            out.extend(Named::parse(record));
        }
        ControlFlow::Continue(())
    })?;
    Ok(out)
}

fn text<'v>(data: &'v Value, field: &str) -> Option<&'v str> {
    data.get(field).and_then(Value::as_str)
}

/// Resolves what the user typed: a UDI (to its serial or lot), a serial, or a lot.
fn resolve(store: &Store, input: &str) -> Result<(NodeKind, String), GenealogyError> {
    let looks_like_udi = input.starts_with(UDI_FIRST_CHARS)
        || input.starts_with("http://")
        || input.starts_with("https://");
    let candidates: Vec<String> = if looks_like_udi {
        let parsed = udi::parse(input).map_err(|source| GenealogyError::BadUdi {
            input: input.to_owned(),
            source,
        })?;
        parsed.unit().into_iter().chain(parsed.lot).collect()
    } else {
        vec![input.to_owned()]
    };
    for id in candidates {
        // The entity index knows what defines a unit (unit.started) or a lot (received,
        // produced, split off, merged into): read those few records, not the 10,000
        // consumptions of a busy lot. A unit and a lot of the same id: the first defined.
        let first = |kind| -> Result<Option<u64>, StoreError> {
            Ok(store.records_defining(kind, &id)?.first().map(|r| r.seq))
        };
        let found = match (first(EntityKind::Unit)?, first(EntityKind::Lot)?) {
            (Some(unit), Some(lot)) if lot < unit => Some(NodeKind::Lot),
            (Some(_), _) => Some(NodeKind::Unit),
            (None, Some(_)) => Some(NodeKind::Lot),
            (None, None) => None,
        };
        if let Some(kind) = found {
            return Ok((kind, id));
        }
    }
    Err(GenealogyError::NotFound(input.to_owned()))
}

/// Starts a node: its records, or `None` when the node was shown already (or the trace is
/// too deep) and must not be expanded again.
fn enter(
    node: TraceNode,
    visited: &mut HashSet<(NodeKind, String)>,
    depth: usize,
    records_of: impl FnOnce(&str) -> Result<Vec<Named>, StoreError>,
) -> Result<Option<(TraceNode, Vec<Named>)>, StoreError> {
    if depth > DEPTH_MAX || !visited.insert((node.kind, node.id.clone())) {
        return Ok(None);
    }
    let records = records_of(&node.id)?;
    Ok(Some((node, records)))
}

/// The records that define `id` as a `kind`, parsed: where a lot came from is in those
/// alone, not in the records of everything that consumed it.
fn defining(store: &Store, kind: EntityKind, id: &str) -> Result<Vec<Named>, StoreError> {
    Ok(store
        .records_defining(kind, id)?
        .iter()
        .filter_map(Named::parse)
        .collect())
}

/// The types a forward trace reads (`forward_node`, `work_order_outputs`).
fn read_forward(event_type: &str) -> bool {
    matches!(
        event_type,
        "unit.started"
            | "lot.received"
            | "lot.produced"
            | "lot.split"
            | "lot.merged"
            | "material.consumed"
            | "component.installed"
            | "component.removed"
            | "unit.released"
            | "unit.scrapped"
            | "unit.shipped"
            | "complaint.received"
    )
}

/// How a trace expands one node: the store, the node's kind, id, link and citing seq, the
/// nodes visited so far, and its depth.
type Expand = fn(
    &Store,
    NodeKind,
    &str,
    &str,
    Option<u64>,
    &mut HashSet<(NodeKind, String)>,
    usize,
) -> Result<TraceNode, StoreError>;

/// Resolves `input` and expands it with `expand`, in one read snapshot of the ledger.
fn trace(store: &Store, input: &str, expand: Expand) -> Result<TraceNode, GenealogyError> {
    let _snapshot = store.read_snapshot()?;
    let (kind, id) = resolve(store, input)?;
    let mut visited = HashSet::new();
    Ok(expand(store, kind, &id, "traced", None, &mut visited, 0)?)
}

/// What went into `input` (a unit or lot, by id or UDI), recursively.
///
/// # Errors
/// `NotFound`, `BadUdi`, or a database error.
pub fn backward(store: &Store, input: &str) -> Result<TraceNode, GenealogyError> {
    trace(store, input, backward_node)
}

fn backward_node(
    store: &Store,
    kind: NodeKind,
    id: &str,
    link: &str,
    seq: Option<u64>,
    visited: &mut HashSet<(NodeKind, String)>,
    depth: usize,
) -> Result<TraceNode, StoreError> {
    let Some((mut node, records)) = enter(
        TraceNode::new(kind, id, link, seq),
        visited,
        depth,
        |id| match kind {
            NodeKind::Lot => defining(store, EntityKind::Lot, id),
            _ => naming(store, id, &|_| true),
        },
    )?
    else {
        return Ok(TraceNode::seen_before(kind, id, link, seq));
    };
    for named in &records {
        let data = &named.data;
        let mine = |field: &str| text(data, field) == Some(id);
        match named.event_type.as_str() {
            "unit.started" if kind == NodeKind::Unit && mine("unit") => {
                node.item = text(data, "product").map(str::to_owned);
                if let Some(order) = text(data, "work_order") {
                    node.facts.push(("work_order".to_owned(), order.to_owned()));
                    node.children
                        .extend(work_order_materials(store, order, visited, depth)?);
                }
            }
            "component.installed" if kind == NodeKind::Unit && mine("unit") => {
                let Some(component) = text(data, "component") else {
                    continue;
                };
                let link = component_link(data);
                let child = match text(data, "component_udi") {
                    Some(component_udi) => {
                        let mut child =
                            TraceNode::new(NodeKind::External, component, &link, Some(named.seq));
                        child
                            .facts
                            .push(("udi".to_owned(), component_udi.to_owned()));
                        child
                    }
                    None => backward_node(
                        store,
                        NodeKind::Unit,
                        component,
                        &link,
                        Some(named.seq),
                        visited,
                        depth + 1,
                    )?,
                };
                node.children.push(child);
            }
            "component.removed" if kind == NodeKind::Unit && mine("unit") => {
                mark_removed(&mut node.children, text(data, "component"), named.seq);
            }
            "material.consumed" if kind == NodeKind::Lot || !mine("unit") => {}
            "material.consumed" => {
                if let Some(lot) = text(data, "lot") {
                    let link = material_link(data);
                    node.children.push(backward_node(
                        store,
                        NodeKind::Lot,
                        lot,
                        &link,
                        Some(named.seq),
                        visited,
                        depth + 1,
                    )?);
                }
            }
            "lot.received" if kind == NodeKind::Lot && mine("lot") => {
                node.item = text(data, "part").map(str::to_owned);
                for field in ["supplier", "supplier_lot", "expires"] {
                    if let Some(value) = text(data, field) {
                        node.facts.push((field.to_owned(), value.to_owned()));
                    }
                }
            }
            "lot.split" if kind == NodeKind::Lot && split_parts(data).any(|c| c == id) => {
                if let Some(parent) = text(data, "lot") {
                    node.children.push(backward_node(
                        store,
                        NodeKind::Lot,
                        parent,
                        "split from",
                        Some(named.seq),
                        visited,
                        depth + 1,
                    )?);
                }
            }
            "lot.merged" if kind == NodeKind::Lot && mine("into") => {
                for source in merged_sources(data) {
                    node.children.push(backward_node(
                        store,
                        NodeKind::Lot,
                        source,
                        "merged from",
                        Some(named.seq),
                        visited,
                        depth + 1,
                    )?);
                }
            }
            "lot.produced" if kind == NodeKind::Lot && mine("lot") => {
                node.item = text(data, "product").map(str::to_owned);
                if let Some(order) = text(data, "work_order") {
                    node.facts.push(("work_order".to_owned(), order.to_owned()));
                    node.children
                        .extend(work_order_materials(store, order, visited, depth)?);
                }
            }
            _ => {}
        }
    }
    Ok(node)
}

/// The lots a work order consumed (not tied to one unit).
fn work_order_materials(
    store: &Store,
    order: &str,
    visited: &mut HashSet<(NodeKind, String)>,
    depth: usize,
) -> Result<Vec<TraceNode>, StoreError> {
    let mut out = Vec::new();
    for named in naming(store, order, &|_| true)? {
        if named.event_type == "material.consumed"
            && text(&named.data, "work_order") == Some(order)
            && let Some(lot) = text(&named.data, "lot")
        {
            let link = format!("{} (work order {order})", material_link(&named.data));
            out.push(backward_node(
                store,
                NodeKind::Lot,
                lot,
                &link,
                Some(named.seq),
                visited,
                depth + 1,
            )?);
        }
    }
    Ok(out)
}

/// A removal undoes the latest installation of that component that is still in place.
fn mark_removed(children: &mut [TraceNode], component: Option<&str>, seq: u64) {
    if let Some(child) = children.iter_mut().rev().find(|c| {
        Some(c.id.as_str()) == component
            && c.removed_seq.is_none()
            && c.link.starts_with("component")
    }) {
        child.removed_seq = Some(seq);
    }
}

/// Where `input` (a unit or lot, by id or UDI) went: every unit and lot that contains it, up
/// to the finished devices, with their release, shipments and customers.
///
/// Read from the forward genealogy the ledger keeps as it appends (a few rows per unit
/// reached); [`forward_from_log`] reads the same from the records, and `verify --derived`
/// proves the two sources agree.
///
/// # Errors
/// `NotFound`, `BadUdi`, or a database error.
pub fn forward(store: &Store, input: &str) -> Result<TraceNode, GenealogyError> {
    trace(store, input, forward_linked)
}

fn forward_linked(
    store: &Store,
    kind: NodeKind,
    id: &str,
    link: &str,
    seq: Option<u64>,
    visited: &mut HashSet<(NodeKind, String)>,
    depth: usize,
) -> Result<TraceNode, StoreError> {
    if depth > DEPTH_MAX || !visited.insert((kind, id.to_owned())) {
        return Ok(TraceNode::seen_before(kind, id, link, seq));
    }
    let mut node = TraceNode::new(kind, id, link, seq);
    let read_as = match kind {
        NodeKind::Lot => LinkSubject::Lot,
        _ => LinkSubject::Unit,
    };
    let links = store.trace_links_of(id)?;
    // A lot in 10,000 devices: one allocation for its children, not fourteen doublings.
    node.children.reserve(links.len());
    for stored in links {
        if stored.subject_kind != read_as {
            continue;
        }
        let detail = stored.detail.as_deref().unwrap_or("");
        let at = Some(stored.seq);
        let mut follow = |kind: NodeKind, link: &str| -> Result<(), StoreError> {
            if let Some(other) = stored.other.as_deref() {
                let child = forward_linked(store, kind, other, link, at, visited, depth + 1)?;
                node.children.push(child);
            }
            Ok(())
        };
        match stored.relation {
            Relation::Started | Relation::Made => node.item = stored.detail.clone(),
            Relation::ConsumedByUnit => {
                follow(NodeKind::Unit, &format!("consumed by unit: {detail}"))?;
            }
            Relation::InstalledIn => follow(NodeKind::Unit, &format!("installed in ({detail})"))?,
            Relation::SplitInto => follow(NodeKind::Lot, "split into")?,
            Relation::MergedInto => follow(NodeKind::Lot, "merged into")?,
            Relation::ConsumedByOrder => {
                if let Some(order) = stored.other.as_deref() {
                    let link = format!("consumed by work order {order}: {detail}");
                    for made in store.trace_links_of(order)? {
                        let kind = match made.relation {
                            Relation::OrderUnit => NodeKind::Unit,
                            Relation::OrderLot => NodeKind::Lot,
                            _ => continue,
                        };
                        if let Some(output) = made.other.as_deref() {
                            node.children.push(forward_linked(
                                store,
                                kind,
                                output,
                                &link,
                                at,
                                visited,
                                depth + 1,
                            )?);
                        }
                    }
                }
            }
            Relation::RemovedFrom => {
                if let Some(child) = node.children.iter_mut().rev().find(|c| {
                    Some(c.id.as_str()) == stored.other.as_deref() && c.removed_seq.is_none()
                }) {
                    child.removed_seq = at;
                }
            }
            Relation::Released => node
                .facts
                .push(("released".to_owned(), format!("seq {}", stored.seq))),
            Relation::Scrapped => node
                .facts
                .push(("scrapped".to_owned(), format!("seq {}", stored.seq))),
            Relation::Shipped => node.facts.push((
                "shipped".to_owned(),
                format!("{detail} (seq {})", stored.seq),
            )),
            Relation::Complaint => node.facts.push((
                "complaint".to_owned(),
                format!("{detail} (seq {})", stored.seq),
            )),
            Relation::OrderUnit | Relation::OrderLot => {}
        }
    }
    Ok(node)
}

/// [`forward`] read from the records themselves rather than the forward genealogy table: the
/// reference the table is checked against, for whoever trusts nothing derived.
///
/// # Errors
/// `NotFound`, `BadUdi`, or a database error.
pub fn forward_from_log(store: &Store, input: &str) -> Result<TraceNode, GenealogyError> {
    trace(store, input, forward_node)
}

fn forward_node(
    store: &Store,
    kind: NodeKind,
    id: &str,
    link: &str,
    seq: Option<u64>,
    visited: &mut HashSet<(NodeKind, String)>,
    depth: usize,
) -> Result<TraceNode, StoreError> {
    let Some((mut node, records)) =
        enter(TraceNode::new(kind, id, link, seq), visited, depth, |id| {
            naming(store, id, &read_forward)
        })?
    else {
        return Ok(TraceNode::seen_before(kind, id, link, seq));
    };
    for named in &records {
        let data = &named.data;
        let mine = |field: &str| text(data, field) == Some(id);
        let subject_is_me = match kind {
            NodeKind::Lot => mine("lot"),
            _ => mine("unit"),
        };
        match named.event_type.as_str() {
            "unit.started" if kind == NodeKind::Unit && mine("unit") => {
                node.item = text(data, "product").map(str::to_owned);
            }
            "lot.received" | "lot.produced" if kind == NodeKind::Lot && mine("lot") => {
                node.item = text(data, "part")
                    .or_else(|| text(data, "product"))
                    .map(str::to_owned);
            }
            "material.consumed" if kind == NodeKind::Lot && mine("lot") => {
                let link = material_link(data);
                if let Some(unit) = text(data, "unit") {
                    node.children.push(forward_node(
                        store,
                        NodeKind::Unit,
                        unit,
                        &format!("consumed by unit: {link}"),
                        Some(named.seq),
                        visited,
                        depth + 1,
                    )?);
                } else if let Some(order) = text(data, "work_order") {
                    node.children.extend(work_order_outputs(
                        store, order, &link, named.seq, visited, depth,
                    )?);
                }
            }
            "component.installed" if kind == NodeKind::Unit && mine("component") => {
                if let Some(parent) = text(data, "unit") {
                    let link = format!("installed in ({})", component_link(data));
                    node.children.push(forward_node(
                        store,
                        NodeKind::Unit,
                        parent,
                        &link,
                        Some(named.seq),
                        visited,
                        depth + 1,
                    )?);
                }
            }
            "component.removed" if kind == NodeKind::Unit && mine("component") => {
                if let Some(parent) = text(data, "unit")
                    && let Some(child) = node
                        .children
                        .iter_mut()
                        .rev()
                        .find(|c| c.id == parent && c.removed_seq.is_none())
                {
                    child.removed_seq = Some(named.seq);
                }
            }
            "lot.split" if kind == NodeKind::Lot && mine("lot") => {
                let children: Vec<String> = split_parts(data).map(str::to_owned).collect();
                for child in children {
                    node.children.push(forward_node(
                        store,
                        NodeKind::Lot,
                        &child,
                        "split into",
                        Some(named.seq),
                        visited,
                        depth + 1,
                    )?);
                }
            }
            "lot.merged"
                if kind == NodeKind::Lot
                    && data
                        .get("lots")
                        .and_then(Value::as_array)
                        .is_some_and(|l| l.iter().any(|x| x.as_str() == Some(id))) =>
            {
                if let Some(into) = text(data, "into") {
                    node.children.push(forward_node(
                        store,
                        NodeKind::Lot,
                        into,
                        "merged into",
                        Some(named.seq),
                        visited,
                        depth + 1,
                    )?);
                }
            }
            "unit.released" if subject_is_me => node
                .facts
                .push(("released".to_owned(), format!("seq {}", named.seq))),
            "unit.scrapped" if subject_is_me => node
                .facts
                .push(("scrapped".to_owned(), format!("seq {}", named.seq))),
            "unit.shipped" if subject_is_me => {
                let shipment = text(data, "shipment").unwrap_or("?");
                let customer = text(data, "customer").unwrap_or("?");
                node.facts.push((
                    "shipped".to_owned(),
                    format!("{shipment} to {customer} (seq {})", named.seq),
                ));
            }
            "complaint.received" if subject_is_me => {
                let complaint = text(data, "complaint").unwrap_or("?");
                node.facts.push((
                    "complaint".to_owned(),
                    format!("{complaint} (seq {})", named.seq),
                ));
            }
            _ => {}
        }
    }
    Ok(node)
}

/// What a work order made: its units and its produced lots.
fn work_order_outputs(
    store: &Store,
    order: &str,
    link: &str,
    seq: u64,
    visited: &mut HashSet<(NodeKind, String)>,
    depth: usize,
) -> Result<Vec<TraceNode>, StoreError> {
    let mut out = Vec::new();
    for named in naming(store, order, &|t| {
        matches!(t, "unit.started" | "lot.produced")
    })? {
        let link = format!("consumed by work order {order}: {link}");
        match named.event_type.as_str() {
            "unit.started" if text(&named.data, "work_order") == Some(order) => {
                if let Some(unit) = text(&named.data, "unit") {
                    out.push(forward_node(
                        store,
                        NodeKind::Unit,
                        unit,
                        &link,
                        Some(seq),
                        visited,
                        depth + 1,
                    )?);
                }
            }
            "lot.produced" if text(&named.data, "work_order") == Some(order) => {
                if let Some(lot) = text(&named.data, "lot") {
                    out.push(forward_node(
                        store,
                        NodeKind::Lot,
                        lot,
                        &link,
                        Some(seq),
                        visited,
                        depth + 1,
                    )?);
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The trace as an indented tree for people; every line cites its record.
pub fn render_text(root: &TraceNode) -> String {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write_text(root, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// [`render_text`], written to `out` as it goes: a trace of 20,000 devices is not built as
/// one string first.
///
/// # Errors
/// What writing to `out` returns.
pub fn write_text(root: &TraceNode, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    write_node(root, 0, out)
}

fn write_node(node: &TraceNode, depth: usize, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let kind = match node.kind {
        NodeKind::Unit => "unit",
        NodeKind::Lot => "lot",
        NodeKind::External => "component made elsewhere",
    };
    let indent = "  ".repeat(depth);
    write!(out, "{indent}")?;
    if depth > 0 {
        write!(out, "{}: ", node.link)?;
    }
    write!(out, "{kind} {}", node.id)?;
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
    for (name, value) in &node.facts {
        writeln!(out, "{indent}  · {name}: {value}")?;
    }
    for child in &node.children {
        write_node(child, depth + 1, out)?;
    }
    Ok(())
}

/// A label for a node in a picture: kind, id, item, and REMOVED when the link was undone.
fn picture_label(node: &TraceNode) -> String {
    let kind = match node.kind {
        NodeKind::Unit => "unit",
        NodeKind::Lot => "lot",
        NodeKind::External => "external",
    };
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
    format!("{kind} {}{item}{removed}", node.id)
}

/// Every edge of the tree as (parent, child), with the child's node; ids are the nodes' ids,
/// so a unit or lot reached twice is drawn once with two incoming edges.
fn edges(node: &TraceNode, out: &mut Vec<(String, String, String, bool)>) {
    for child in &node.children {
        out.push((
            node.id.clone(),
            child.id.clone(),
            child.link.clone(),
            child.removed_seq.is_some(),
        ));
        edges(child, out);
    }
}

/// The trace as a Graphviz `dot` graph.
pub fn render_dot(root: &TraceNode) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let mut out = String::from("digraph genealogy {\n  rankdir=LR;\n  node [shape=box];\n");
    let mut seen = std::collections::BTreeSet::new();
    for node in root.walk() {
        if seen.insert(node.id.clone()) {
            out.push_str(&format!(
                "  {} [label={}];\n",
                quote(&node.id),
                quote(&picture_label(node))
            ));
        }
    }
    let mut all = Vec::new();
    edges(root, &mut all);
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
pub fn render_mermaid(root: &TraceNode) -> String {
    let mut ids = std::collections::BTreeMap::new();
    let mut out = String::from("flowchart LR\n");
    let clean = |s: &str| s.replace('"', "'");
    for node in root.walk() {
        let next = ids.len();
        if let std::collections::btree_map::Entry::Vacant(slot) = ids.entry(node.id.clone()) {
            slot.insert(format!("n{next}"));
            out.push_str(&format!("  n{next}[\"{}\"]\n", clean(&picture_label(node))));
        }
    }
    let mut all = Vec::new();
    edges(root, &mut all);
    for (from, to, link, removed) in all {
        let arrow = if removed { "-.->" } else { "-->" };
        out.push_str(&format!(
            "  {} {arrow}|\"{}\"| {}\n",
            ids[&from],
            clean(&link),
            ids[&to]
        ));
    }
    out
}
