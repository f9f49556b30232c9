//! What an event says about where a unit or lot went: the forward genealogy links (consumed
//! by, installed in, split into, merged into, made by a work order) and the facts a recall
//! needs about each unit or lot it reaches (released, scrapped, shipped to whom and when,
//! complained of).
//!
//! Read from one event alone, like the KPI facts, so that the ledger keeps them as rows while
//! it appends: a forward trace of a lot in 10,000 devices then reads a few short rows per
//! device instead of every record that names it. A row's `detail` is a [`LinkDetail`] as
//! compact JSON (fields in declaration order, absent ones left out): the typed facts a trace
//! shows, so that it needs no other read per device.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Which of an event's fields a link hangs on: a forward trace of a unit matches the unit
/// fields, of a lot the lot fields, and a work order's outputs hang on the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkSubject {
    Unit,
    Lot,
    WorkOrder,
}

impl LinkSubject {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkSubject::Unit => "unit",
            LinkSubject::Lot => "lot",
            LinkSubject::WorkOrder => "work_order",
        }
    }

    pub fn parse(text: &str) -> Option<LinkSubject> {
        match text {
            "unit" => Some(LinkSubject::Unit),
            "lot" => Some(LinkSubject::Lot),
            "work_order" => Some(LinkSubject::WorkOrder),
            _ => None,
        }
    }
}

/// What the record says about the subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Relation {
    /// A unit started (detail: its product as `item`, `udi`, `work_order`).
    Started,
    /// A lot received (detail: its part as `item`, `supplier`, `supplier_lot`, `expires`,
    /// `quantity`, `uom`) or produced (detail: its product as `item`, `work_order`, `udi`,
    /// `quantity`, `uom`).
    Made,
    /// A lot consumed by the unit `other` (detail: `quantity`, `uom`, `op`).
    ConsumedByUnit,
    /// A lot consumed by the work order `other` (detail: `quantity`, `uom`, `op`).
    ConsumedByOrder,
    /// A unit installed as a component in the unit `other` (detail: `op`, and the
    /// `component_udi` the installing station scanned, if any). Recorded whether or not the
    /// component was made in this ledger: a component made at another site of the ledger is
    /// installed with its UDI too, and a forward trace must reach the unit it went into.
    InstalledIn,
    /// A component taken out of the unit `other` again.
    RemovedFrom,
    /// A lot split; `other` is one of its parts.
    SplitInto,
    /// A lot merged into the lot `other`.
    MergedInto,
    /// A work order started the unit `other`.
    OrderUnit,
    /// A work order produced the lot `other`.
    OrderLot,
    Released,
    Scrapped,
    /// Shipped (detail: `shipment`, `customer`, `at`: the event's `occurred_at`).
    Shipped,
    /// A complaint names it (detail: `complaint`, `at`).
    Complaint,
    /// A correction took back a link an earlier record stated: the earlier link of this
    /// subject with the relation named in `detail` and the same `other` no longer holds
    /// (a consumption corrected to another lot). Stated by the correction.
    Withdrawn,
}

impl Relation {
    const ALL: [Relation; 15] = [
        Relation::Started,
        Relation::Made,
        Relation::ConsumedByUnit,
        Relation::ConsumedByOrder,
        Relation::InstalledIn,
        Relation::RemovedFrom,
        Relation::SplitInto,
        Relation::MergedInto,
        Relation::OrderUnit,
        Relation::OrderLot,
        Relation::Released,
        Relation::Scrapped,
        Relation::Shipped,
        Relation::Complaint,
        Relation::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Started => "started",
            Relation::Made => "made",
            Relation::ConsumedByUnit => "consumed_by_unit",
            Relation::ConsumedByOrder => "consumed_by_order",
            Relation::InstalledIn => "installed_in",
            Relation::RemovedFrom => "removed_from",
            Relation::SplitInto => "split_into",
            Relation::MergedInto => "merged_into",
            Relation::OrderUnit => "order_unit",
            Relation::OrderLot => "order_lot",
            Relation::Released => "released",
            Relation::Scrapped => "scrapped",
            Relation::Shipped => "shipped",
            Relation::Complaint => "complaint",
            Relation::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(text: &str) -> Option<Relation> {
        Relation::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

/// The links a correction states: those the corrected record states in force after it and
/// did not before (a consumption of the corrected lot), and a `Withdrawn` link for each it
/// stated before and no longer does. `before` and `after` are the whole corrected event
/// without and with this correction (docs/recall.md, "Corrections").
pub fn correction_links(before: &Value, after: &Value) -> Vec<TraceLink> {
    let (old, new) = (trace_links(before), trace_links(after));
    let mut out: Vec<TraceLink> = new.iter().filter(|l| !old.contains(l)).cloned().collect();
    for gone in old.iter().filter(|l| !new.contains(l)) {
        out.push(TraceLink {
            subject: gone.subject.clone(),
            subject_kind: gone.subject_kind,
            relation: Relation::Withdrawn,
            other: gone.other.clone(),
            detail: Some(gone.relation.as_str().to_owned()),
        });
    }
    out
}

/// One link or fact: `subject` (read as a `subject_kind`) has `relation` to `other`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceLink {
    pub subject: String,
    pub subject_kind: LinkSubject,
    pub relation: Relation,
    pub other: Option<String>,
    pub detail: Option<String>,
}

impl TraceLink {
    fn new(subject: &str, subject_kind: LinkSubject, relation: Relation) -> TraceLink {
        TraceLink {
            subject: subject.to_owned(),
            subject_kind,
            relation,
            other: None,
            detail: None,
        }
    }

    fn to(mut self, other: &str) -> TraceLink {
        self.other = Some(other.to_owned());
        self
    }

    fn with(mut self, detail: Option<String>) -> TraceLink {
        self.detail = detail;
        self
    }
}

fn text<'v>(data: &'v Value, field: &str) -> Option<&'v str> {
    data.get(field).and_then(Value::as_str)
}

/// The typed detail of a link or fact: what a trace shows about it. Stored as compact JSON
/// in `trace_links.detail` ([`LinkDetail::encode`]); every field is optional, and which ones
/// a relation fills is written beside each [`Relation`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkDetail {
    /// The product (units, produced lots) or part (received lots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// The unit's or lot's own UDI, as its label carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub udi: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work_order: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supplier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supplier_lot: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uom: Option<String>,
    /// The operation of a consumption or installation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<String>,
    /// The UDI an installing station scanned off the component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component_udi: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complaint: Option<String>,
    /// The event's `occurred_at`, as written (a shipment's ship time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

impl LinkDetail {
    /// The stored form: compact JSON, `None` when no field is set.
    pub fn encode(&self) -> Option<String> {
        if *self == LinkDetail::default() {
            return None;
        }
        serde_json::to_string(self).ok()
    }

    /// Reads a stored detail. A row this build cannot read (written by another version, or
    /// edited) gives an empty detail: `verify --derived` reports such a table as differing
    /// from the records, and `rebuild` rewrites it.
    pub fn decode(stored: Option<&str>) -> LinkDetail {
        stored
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or_default()
    }

    /// The named string fields of `data`, read into a detail.
    fn from_fields(data: &Value, fields: &[&str]) -> LinkDetail {
        let mut detail = LinkDetail::default();
        for &name in fields {
            let value = text(data, name).map(str::to_owned);
            let slot = match name {
                "product" | "part" => &mut detail.item,
                "udi" => &mut detail.udi,
                "work_order" => &mut detail.work_order,
                "supplier" => &mut detail.supplier,
                "supplier_lot" => &mut detail.supplier_lot,
                "expires" => &mut detail.expires,
                "quantity" => &mut detail.quantity,
                "uom" => &mut detail.uom,
                "op" => &mut detail.op,
                "component_udi" => &mut detail.component_udi,
                "shipment" => &mut detail.shipment,
                "customer" => &mut detail.customer,
                "complaint" => &mut detail.complaint,
                _ => continue,
            };
            if value.is_some() {
                *slot = value;
            }
        }
        detail
    }
}

/// The parts a lot was split into.
pub fn split_parts(data: &Value) -> impl Iterator<Item = &str> {
    data.get("into")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|part| text(part, "lot"))
}

/// The lots merged into one.
pub fn merged_sources(data: &Value) -> impl Iterator<Item = &str> {
    data.get("lots")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// The event types that state links: [`trace_links`] gives nothing for any other.
pub const LINKING_TYPES: [&str; 12] = [
    "unit.started",
    "lot.received",
    "lot.produced",
    "material.consumed",
    "component.installed",
    "component.removed",
    "lot.split",
    "lot.merged",
    "unit.released",
    "unit.scrapped",
    "unit.shipped",
    "complaint.received",
];

/// The links and facts `event` (a whole event object) states, in the order a trace shows
/// them. Fields missing from an event give no link rather than an error: the schemas have
/// refused such events before they reach the ledger.
pub fn trace_links(event: &Value) -> Vec<TraceLink> {
    let Some(event_type) = event.get("type").and_then(Value::as_str) else {
        return Vec::new();
    };
    let Some(data) = event.get("data") else {
        return Vec::new();
    };
    let field = |name: &str| text(data, name);
    let detail = |fields: &[&str]| LinkDetail::from_fields(data, fields).encode();
    let mut links = Vec::new();
    match event_type {
        "unit.started" => {
            if let Some(unit) = field("unit") {
                links.push(
                    TraceLink::new(unit, LinkSubject::Unit, Relation::Started).with(detail(&[
                        "product",
                        "udi",
                        "work_order",
                    ])),
                );
                if let Some(order) = field("work_order") {
                    links.push(
                        TraceLink::new(order, LinkSubject::WorkOrder, Relation::OrderUnit).to(unit),
                    );
                }
            }
        }
        "lot.received" | "lot.produced" => {
            if let Some(lot) = field("lot") {
                links.push(
                    TraceLink::new(lot, LinkSubject::Lot, Relation::Made).with(detail(&[
                        "part",
                        "product",
                        "udi",
                        "work_order",
                        "supplier",
                        "supplier_lot",
                        "expires",
                        "quantity",
                        "uom",
                    ])),
                );
                if event_type == "lot.produced"
                    && let Some(order) = field("work_order")
                {
                    links.push(
                        TraceLink::new(order, LinkSubject::WorkOrder, Relation::OrderLot).to(lot),
                    );
                }
            }
        }
        "material.consumed" => {
            if let Some(lot) = field("lot") {
                let consumed = TraceLink::new(lot, LinkSubject::Lot, Relation::ConsumedByUnit)
                    .with(detail(&["quantity", "uom", "op"]));
                if let Some(unit) = field("unit") {
                    links.push(consumed.to(unit));
                } else if let Some(order) = field("work_order") {
                    links.push(TraceLink {
                        relation: Relation::ConsumedByOrder,
                        ..consumed.to(order)
                    });
                }
            }
        }
        "component.installed" => {
            if let (Some(component), Some(unit)) = (field("component"), field("unit")) {
                links.push(
                    TraceLink::new(component, LinkSubject::Unit, Relation::InstalledIn)
                        .to(unit)
                        .with(detail(&["op", "component_udi"])),
                );
            }
        }
        "component.removed" => {
            if let (Some(component), Some(unit)) = (field("component"), field("unit")) {
                links.push(
                    TraceLink::new(component, LinkSubject::Unit, Relation::RemovedFrom).to(unit),
                );
            }
        }
        "lot.split" => {
            if let Some(lot) = field("lot") {
                for part in split_parts(data) {
                    links.push(TraceLink::new(lot, LinkSubject::Lot, Relation::SplitInto).to(part));
                }
            }
        }
        "lot.merged" => {
            if let Some(into) = field("into") {
                for source in merged_sources(data) {
                    links.push(
                        TraceLink::new(source, LinkSubject::Lot, Relation::MergedInto).to(into),
                    );
                }
            }
        }
        "unit.released" | "unit.scrapped" | "unit.shipped" | "complaint.received" => {
            let at = event
                .get("occurred_at")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let (relation, detail) = match event_type {
                "unit.released" => (Relation::Released, None),
                "unit.scrapped" => (Relation::Scrapped, None),
                "unit.shipped" => (
                    Relation::Shipped,
                    LinkDetail {
                        at,
                        ..LinkDetail::from_fields(data, &["shipment", "customer"])
                    }
                    .encode(),
                ),
                _ => (
                    Relation::Complaint,
                    LinkDetail {
                        at,
                        ..LinkDetail::from_fields(data, &["complaint"])
                    }
                    .encode(),
                ),
            };
            for (name, kind) in [("unit", LinkSubject::Unit), ("lot", LinkSubject::Lot)] {
                if let Some(subject) = field(name) {
                    links.push(TraceLink::new(subject, kind, relation).with(detail.clone()));
                }
            }
        }
        _ => {}
    }
    links
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_merge_links_every_source_lot_to_the_merged_one() {
        let merged = json!({"type": "lot.merged",
            "data": {"lots": ["L-1", "L-2"], "into": "L-3", "quantity": "10"}});
        let links = trace_links(&merged);
        let pairs: Vec<_> = links
            .iter()
            .map(|l| (l.subject.as_str(), l.relation, l.other.as_deref()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("L-1", Relation::MergedInto, Some("L-3")),
                ("L-2", Relation::MergedInto, Some("L-3")),
            ]
        );
    }

    #[test]
    fn material_consumed_by_a_work_order_links_the_lot_to_the_order() {
        let consumed = json!({"type": "material.consumed",
            "data": {"work_order": "WO-1", "lot": "L-1", "quantity": "2", "uom": "kg", "op": "20"}});
        assert_eq!(
            trace_links(&consumed),
            [TraceLink {
                subject: "L-1".to_owned(),
                subject_kind: LinkSubject::Lot,
                relation: Relation::ConsumedByOrder,
                other: Some("WO-1".to_owned()),
                detail: Some(r#"{"quantity":"2","uom":"kg","op":"20"}"#.to_owned()),
            }]
        );
    }

    #[test]
    fn a_shipment_of_a_lot_is_a_fact_about_the_lot_not_a_unit() {
        let shipped = json!({"type": "unit.shipped",
            "data": {"lot": "L-9", "shipment": "SHP-1", "customer": "CUST-A"}});
        let links = trace_links(&shipped);
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].subject_kind, LinkSubject::Lot);
        let detail = LinkDetail::decode(links[0].detail.as_deref());
        assert_eq!(
            (detail.shipment.as_deref(), detail.customer.as_deref()),
            (Some("SHP-1"), Some("CUST-A"))
        );
    }

    #[test]
    fn names_round_trip() {
        for relation in Relation::ALL {
            assert_eq!(Relation::parse(relation.as_str()), Some(relation));
        }
        for kind in [LinkSubject::Unit, LinkSubject::Lot, LinkSubject::WorkOrder] {
            assert_eq!(LinkSubject::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(Relation::parse("installed"), None);
    }

    /// A component made at another site of the ledger is installed with the UDI the station
    /// scanned: the link is recorded all the same, so a forward trace reaches the device.
    #[test]
    fn an_installation_with_a_scanned_udi_still_links_the_component() {
        let installed = json!({"type": "component.installed",
            "data": {"unit": "P1", "component": "M1", "op": "10",
                     "component_udi": "]d2\u{1d}0105399123450027\u{1d}21M1"}});
        let links = trace_links(&installed);
        assert_eq!(links.len(), 1);
        assert_eq!(
            (
                links[0].subject.as_str(),
                links[0].relation,
                links[0].other.as_deref()
            ),
            ("M1", Relation::InstalledIn, Some("P1"))
        );
        let detail = LinkDetail::decode(links[0].detail.as_deref());
        assert_eq!(detail.op.as_deref(), Some("10"));
        assert_eq!(
            detail.component_udi.as_deref(),
            Some("]d2\u{1d}0105399123450027\u{1d}21M1")
        );
    }

    #[test]
    fn a_started_unit_keeps_its_product_udi_and_work_order_and_details_round_trip() {
        let started = json!({"type": "unit.started", "data": {"unit": "U1", "product": "P",
            "work_order": "WO-1", "udi": "(01)05399123450010(21)U1"}});
        let links = trace_links(&started);
        let stored = links[0].detail.as_deref();
        assert_eq!(
            stored,
            Some(r#"{"item":"P","udi":"(01)05399123450010(21)U1","work_order":"WO-1"}"#)
        );
        let detail = LinkDetail::decode(stored);
        assert_eq!(detail.encode().as_deref(), stored);
        assert_eq!(LinkDetail::decode(Some("not json")), LinkDetail::default());
        assert_eq!(LinkDetail::default().encode(), None);
    }
}
