//! What an event says about where a unit or lot went: the forward genealogy links (consumed
//! by, installed in, split into, merged into, made by a work order) and the facts a recall
//! needs about each unit or lot it reaches (released, scrapped, shipped to whom, complained of).
//!
//! Read from one event alone, like the KPI facts, so that the ledger keeps them as rows while
//! it appends: a forward trace of a lot in 10,000 devices then reads a few short rows per
//! device instead of every record that names it.

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
    /// A unit started (detail: its product).
    Started,
    /// A lot received or produced (detail: its part or product).
    Made,
    /// A lot consumed by the unit `other` (detail: quantity and operation).
    ConsumedByUnit,
    /// A lot consumed by the work order `other` (detail: quantity and operation).
    ConsumedByOrder,
    /// A unit installed as a component in the unit `other` (detail: operation).
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
    /// Shipped (detail: "shipment to customer").
    Shipped,
    /// A complaint names it (detail: the complaint id).
    Complaint,
}

impl Relation {
    const ALL: [Relation; 14] = [
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
        }
    }

    pub fn parse(text: &str) -> Option<Relation> {
        Relation::ALL.into_iter().find(|r| r.as_str() == text)
    }
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

/// How a lot was consumed, as a trace shows it: "material 2 EA (op 20)".
pub fn material_link(data: &Value) -> String {
    let quantity = text(data, "quantity").unwrap_or("?");
    let uom = text(data, "uom").unwrap_or("");
    match text(data, "op") {
        Some(op) => format!("material {quantity} {uom} (op {op})"),
        None => format!("material {quantity} {uom}"),
    }
}

/// How a component was installed, as a trace shows it: "component (op 40)".
pub fn component_link(data: &Value) -> String {
    match text(data, "op") {
        Some(op) => format!("component (op {op})"),
        None => "component".to_owned(),
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
    let mut links = Vec::new();
    match event_type {
        "unit.started" => {
            if let Some(unit) = field("unit") {
                links.push(
                    TraceLink::new(unit, LinkSubject::Unit, Relation::Started)
                        .with(field("product").map(str::to_owned)),
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
                    TraceLink::new(lot, LinkSubject::Lot, Relation::Made)
                        .with(field("part").or(field("product")).map(str::to_owned)),
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
                    .with(Some(material_link(data)));
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
                        .with(Some(component_link(data))),
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
            let (relation, detail) = match event_type {
                "unit.released" => (Relation::Released, None),
                "unit.scrapped" => (Relation::Scrapped, None),
                "unit.shipped" => (
                    Relation::Shipped,
                    Some(format!(
                        "{} to {}",
                        field("shipment").unwrap_or("?"),
                        field("customer").unwrap_or("?")
                    )),
                ),
                _ => (
                    Relation::Complaint,
                    Some(field("complaint").unwrap_or("?").to_owned()),
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
                detail: Some("material 2 kg (op 20)".to_owned()),
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
        assert_eq!(links[0].detail.as_deref(), Some("SHP-1 to CUST-A"));
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
}
