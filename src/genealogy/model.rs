//! The trace as data: what `trace --json` prints (format `traceledger.trace/1`, JSON Schema
//! `schemas/output/trace.schema.json`) and what the text, CSV, DOT and Mermaid renderings
//! are made from, so that they cannot disagree.

use serde::{Deserialize, Serialize};

/// The `format` of `trace --json`; a change that breaks a reader gets a new version.
pub const TRACE_FORMAT: &str = "traceledger.trace/1";

/// A whole trace: the tree, and for a forward trace the recall summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    pub format: String,
    pub direction: Direction,
    /// Forward traces only: the recall scope counted from the tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<RecallSummary>,
    pub root: TraceNode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// What went into the root.
    Backward,
    /// Where the root went.
    Forward,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    Unit,
    Lot,
    /// A component made outside this ledger, known only by the UDI scanned at installation.
    External,
}

impl NodeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Unit => "unit",
            NodeKind::Lot => "lot",
            NodeKind::External => "external",
        }
    }
}

/// How a node is linked to the node above it (its parent in the tree).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// The root: the unit or lot traced.
    Traced,
    /// Backward: installed as a component in the unit above (`op`, `component_udi`).
    Component,
    /// Backward: consumed by the unit above, or by the work order that made it (`work_order`;
    /// `quantity`, `uom`, `op`).
    Material,
    /// Backward: the lot above was split from this one.
    SplitFrom,
    /// Backward: the lot above was merged from this one and others.
    MergedFrom,
    /// Forward: the unit above was installed in this unit (`op`, `component_udi`).
    InstalledIn,
    /// Forward: the lot above was consumed by this unit (`quantity`, `uom`, `op`).
    ConsumedByUnit,
    /// Forward: the lot above was consumed by work order `work_order`, which made this unit
    /// or lot (`quantity`, `uom`, `op`).
    ConsumedByWorkOrder,
    /// Forward: the lot above was split into this one.
    SplitInto,
    /// Forward: the lot above was merged into this one.
    MergedInto,
}

impl LinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Traced => "traced",
            LinkKind::Component => "component",
            LinkKind::Material => "material",
            LinkKind::SplitFrom => "split from",
            LinkKind::MergedFrom => "merged from",
            LinkKind::InstalledIn => "installed in",
            LinkKind::ConsumedByUnit => "consumed by unit",
            LinkKind::ConsumedByWorkOrder => "consumed by work order",
            LinkKind::SplitInto => "split into",
            LinkKind::MergedInto => "merged into",
        }
    }
}

/// The link: its relation and what the record that makes it says about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub relation: LinkKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uom: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work_order: Option<String>,
    /// The UDI the installing station scanned off the component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component_udi: Option<String>,
}

impl Link {
    pub fn new(relation: LinkKind) -> Link {
        Link {
            relation,
            quantity: None,
            uom: None,
            op: None,
            work_order: None,
            component_udi: None,
        }
    }

    /// The link as a person reads it: "material 2 EA (op 20) (work order WO-1)".
    pub fn describe(&self) -> String {
        let mut out = self.relation.as_str().to_owned();
        if let Some(order) = &self.work_order
            && self.relation == LinkKind::ConsumedByWorkOrder
        {
            out = format!("consumed by work order {order}");
        }
        if let Some(quantity) = &self.quantity {
            out.push(' ');
            out.push_str(quantity);
            if let Some(uom) = &self.uom {
                out.push(' ');
                out.push_str(uom);
            }
        }
        if let Some(op) = &self.op {
            out.push_str(&format!(" (op {op})"));
        }
        if let Some(order) = &self.work_order
            && self.relation == LinkKind::Material
        {
            out.push_str(&format!(" (work order {order})"));
        }
        out
    }
}

/// A fact stated by one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    pub seq: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipment {
    pub shipment: String,
    pub customer: String,
    /// 1 for a unit; for a lot its quantity as received or produced, when recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<String>,
    /// The `unit.shipped` event's `occurred_at`, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipped_at: Option<String>,
    pub seq: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Complaint {
    pub complaint: String,
    /// The `complaint.received` event's `occurred_at`, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<String>,
    pub seq: u64,
}

/// What the records say about a unit or lot itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// Its own UDI, as its label carries it (unit.started, lot.produced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub udi: Option<String>,
    /// The work order that started the unit or produced the lot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work_order: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supplier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supplier_lot: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// A lot's quantity as received or produced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uom: Option<String>,
    /// Forward traces: the first `unit.released` naming it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<Recorded>,
    /// Forward traces: the first `unit.scrapped` naming it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrap: Option<Recorded>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shipments: Vec<Shipment>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub complaints: Vec<Complaint>,
}

/// A component UDI scanned at installation that does not identify the component the record
/// names: its device identifier is not the component's product's UDI-DI, or its serial is
/// not the component's serial, or it does not parse (`parse_error`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UdiMismatch {
    pub scanned_udi: String,
    pub scanned_di: Option<String>,
    pub scanned_serial: Option<String>,
    /// The product's `udi_di` (`None`: the product names none, or an agency not parsed).
    pub expected_di: Option<String>,
    pub expected_serial: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parse_error: Option<String>,
}

/// One unit or lot in a trace, with how it is linked to its parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceNode {
    pub kind: NodeKind,
    pub id: String,
    /// The product (units, produced lots) or part (received lots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    pub link: Link,
    /// The seq of the record that makes the link (none for the root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// The seq of the `component.removed` that undid the link: the node is shown but is not
    /// part of the unit (backward) or does not contain the part (forward), and is not expanded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_seq: Option<u64>,
    /// Reached before, and expanded where it was first shown.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shown_above: bool,
    /// The installation's scanned UDI disagrees with the component (on the component in a
    /// backward trace, on the unit it went into in a forward one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub udi_mismatch: Option<Box<UdiMismatch>>,
    #[serde(default)]
    pub facts: Facts,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<TraceNode>,
}

impl TraceNode {
    pub fn new(kind: NodeKind, id: &str, link: Link, seq: Option<u64>) -> TraceNode {
        TraceNode {
            kind,
            id: id.to_owned(),
            item: None,
            link,
            seq,
            removed_seq: None,
            shown_above: false,
            udi_mismatch: None,
            facts: Facts::default(),
            children: Vec::new(),
        }
    }

    /// A node reached again: shown, not expanded.
    pub(super) fn seen_before(kind: NodeKind, id: &str, link: Link, seq: Option<u64>) -> TraceNode {
        TraceNode {
            shown_above: true,
            ..TraceNode::new(kind, id, link, seq)
        }
    }

    /// Every node of the tree, depth first (the root included).
    pub fn walk(&self) -> Vec<&TraceNode> {
        let mut out = vec![self];
        let mut stack: Vec<&TraceNode> = self.children.iter().rev().collect();
        while let Some(node) = stack.pop() {
            out.push(node);
            stack.extend(node.children.iter().rev());
        }
        out
    }

    /// Part of the trace's scope: not a link undone in rework, not a repeat.
    pub fn in_scope(&self) -> bool {
        self.removed_seq.is_none() && !self.shown_above
    }
}

/// Where a device is in its life, from the facts a forward trace shows: scrapped if it was
/// scrapped, else shipped if it was shipped, else released if released, else in process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceStatus {
    InProcess,
    Released,
    Shipped,
    Scrapped,
}

impl DeviceStatus {
    pub fn of(facts: &Facts) -> DeviceStatus {
        if facts.scrap.is_some() {
            DeviceStatus::Scrapped
        } else if !facts.shipments.is_empty() {
            DeviceStatus::Shipped
        } else if facts.release.is_some() {
            DeviceStatus::Released
        } else {
            DeviceStatus::InProcess
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::InProcess => "in_process",
            DeviceStatus::Released => "released",
            DeviceStatus::Shipped => "shipped",
            DeviceStatus::Scrapped => "scrapped",
        }
    }
}

/// The recall scope of a forward trace, counted from its tree (docs/recall.md).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecallSummary {
    pub devices: DeviceCounts,
    pub customers: Vec<CustomerScope>,
    pub finished_lots: Vec<FinishedLot>,
    pub open_complaints: Vec<OpenComplaint>,
}

/// Units in scope, by status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceCounts {
    pub total: u64,
    pub in_process: u64,
    pub released: u64,
    pub shipped: u64,
    pub scrapped: u64,
}

/// A customer that received units or finished lots in scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerScope {
    pub customer: String,
    /// The shipment ids, in the order first seen.
    pub shipments: Vec<String>,
    /// Units in scope whose latest shipment went to this customer.
    pub devices: u64,
    /// Finished lots in scope shipped to this customer.
    pub lots: Vec<String>,
}

/// A lot in scope made by a work order (`lot.produced`): lot-controlled finished goods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinishedLot {
    pub lot: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    pub status: DeviceStatus,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shipments: Vec<Shipment>,
}

/// A complaint about a unit or lot in scope. No event closes a complaint yet, so every
/// complaint received is open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenComplaint {
    pub complaint: String,
    pub subject_kind: NodeKind,
    pub subject: String,
    pub seq: u64,
}
