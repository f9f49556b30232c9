//! Which entities an event names, and in what role: the table of docs/references.md.
//!
//! Ingest uses it to refuse references to entities the ledger has not seen (EVENTS.md, "What
//! is refused"); the store indexes every reference so that queries by entity never scan the
//! log; `rebuild` recomputes the same index from the records alone. Pure: it only reads the
//! event.

use serde_json::Value;
use std::fmt;

/// The kinds of entity an event can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntityKind {
    Site,
    Person,
    Key,
    Equipment,
    Product,
    Routing,
    /// `ROUTING@VERSION`: work orders and site configurations name one version.
    RoutingVersion,
    Change,
    Lot,
    WorkOrder,
    Unit,
    Ncr,
    Shipment,
    Customer,
    Complaint,
    Service,
    Station,
    Area,
    /// An event id (`correction.recorded` corrects one, `signature.applied` signs some).
    Event,
}

impl EntityKind {
    pub const ALL: [EntityKind; 19] = [
        EntityKind::Site,
        EntityKind::Person,
        EntityKind::Key,
        EntityKind::Equipment,
        EntityKind::Product,
        EntityKind::Routing,
        EntityKind::RoutingVersion,
        EntityKind::Change,
        EntityKind::Lot,
        EntityKind::WorkOrder,
        EntityKind::Unit,
        EntityKind::Ncr,
        EntityKind::Shipment,
        EntityKind::Customer,
        EntityKind::Complaint,
        EntityKind::Service,
        EntityKind::Station,
        EntityKind::Area,
        EntityKind::Event,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Site => "site",
            EntityKind::Person => "person",
            EntityKind::Key => "key",
            EntityKind::Equipment => "equipment",
            EntityKind::Product => "product",
            EntityKind::Routing => "routing",
            EntityKind::RoutingVersion => "routing_version",
            EntityKind::Change => "change",
            EntityKind::Lot => "lot",
            EntityKind::WorkOrder => "work_order",
            EntityKind::Unit => "unit",
            EntityKind::Ncr => "ncr",
            EntityKind::Shipment => "shipment",
            EntityKind::Customer => "customer",
            EntityKind::Complaint => "complaint",
            EntityKind::Service => "service",
            EntityKind::Station => "station",
            EntityKind::Area => "area",
            EntityKind::Event => "event",
        }
    }

    pub fn parse(text: &str) -> Option<EntityKind> {
        EntityKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an event does with an entity it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RefRole {
    /// Introduces the entity; refused if it exists already.
    Defines,
    /// Introduces the entity or adds to it (a new routing version): never refused.
    DefinesOrExtends,
    /// The entity must exist already.
    References,
    /// Indexed for queries only (stations, areas, customers are not registered in EVENTS.md).
    Mentions,
}

impl RefRole {
    /// The stored code; part of the ledger file format (docs/architecture.md).
    pub fn code(self) -> i64 {
        match self {
            RefRole::Defines => 0,
            RefRole::DefinesOrExtends => 1,
            RefRole::References => 2,
            RefRole::Mentions => 3,
        }
    }

    pub fn from_code(code: i64) -> Option<RefRole> {
        [
            RefRole::Defines,
            RefRole::DefinesOrExtends,
            RefRole::References,
            RefRole::Mentions,
        ]
        .into_iter()
        .find(|r| r.code() == code)
    }

    /// Whether this role brings the entity into existence.
    pub fn defines(self) -> bool {
        matches!(self, RefRole::Defines | RefRole::DefinesOrExtends)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RefRole::Defines => "defines",
            RefRole::DefinesOrExtends => "defines_or_extends",
            RefRole::References => "references",
            RefRole::Mentions => "mentions",
        }
    }
}

/// One entity named by an event, with the JSON pointer of the field that names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityRef {
    pub kind: EntityKind,
    pub id: String,
    pub role: RefRole,
    pub field: String,
}

/// Collects refs for one event; silently skips fields that are absent or not strings (the
/// schema has already decided whether that is allowed).
struct Collector<'a> {
    data: &'a Value,
    refs: Vec<EntityRef>,
}

impl Collector<'_> {
    fn push(&mut self, kind: EntityKind, role: RefRole, field: String, id: &str) {
        self.refs.push(EntityRef {
            kind,
            id: id.to_owned(),
            role,
            field,
        });
    }

    /// `data.<name>` as a reference of `kind` in `role`.
    fn field(&mut self, name: &str, kind: EntityKind, role: RefRole) {
        if let Some(id) = self.data.get(name).and_then(Value::as_str) {
            self.push(kind, role, format!("/data/{name}"), id);
        }
    }

    /// Every string in the array `data.<name>`.
    fn each(&mut self, name: &str, kind: EntityKind, role: RefRole) {
        if let Some(items) = self.data.get(name).and_then(Value::as_array) {
            for (index, item) in items.iter().enumerate() {
                if let Some(id) = item.as_str() {
                    self.push(kind, role, format!("/data/{name}/{index}"), id);
                }
            }
        }
    }

    /// `ROUTING@VERSION` from `data.routing` and `data.version`.
    fn routing_version(&mut self, role: RefRole) {
        let routing = self.data.get("routing").and_then(Value::as_str);
        let version = self.data.get("version").and_then(Value::as_str);
        if let (Some(routing), Some(version)) = (routing, version) {
            let id = format!("{routing}@{version}");
            self.push(
                EntityKind::RoutingVersion,
                role,
                "/data/version".to_owned(),
                &id,
            );
        }
    }

    /// `data.unit` or `data.lot`, whichever the event names.
    fn unit_or_lot(&mut self) {
        self.field("unit", EntityKind::Unit, RefRole::References);
        self.field("lot", EntityKind::Lot, RefRole::References);
    }

    /// `data.unit` or `data.work_order`, whichever the event names.
    fn unit_or_work_order(&mut self) {
        self.field("unit", EntityKind::Unit, RefRole::References);
        self.field("work_order", EntityKind::WorkOrder, RefRole::References);
    }
}

/// The entities `event` names, in the order of docs/references.md: envelope first, then data.
pub fn entity_refs(event: &Value) -> Vec<EntityRef> {
    use EntityKind as K;
    use RefRole::{Defines, DefinesOrExtends, Mentions, References};

    let null = Value::Null;
    let event_type = event.get("type").and_then(Value::as_str).unwrap_or("");
    let data = event.get("data").unwrap_or(&null);
    let mut c = Collector {
        data,
        refs: Vec::with_capacity(8),
    };

    // The envelope. An event that registers a site or a person may name it as its own site
    // or actor: the ingest check sees the definition in the same event.
    if let Some(site) = event.get("site").and_then(Value::as_str) {
        c.push(K::Site, References, "/site".to_owned(), site);
    }
    if let Some(actor) = event.get("actor").and_then(Value::as_str) {
        c.push(K::Person, References, "/actor".to_owned(), actor);
    }
    if let Some(signatures) = event.get("signatures").and_then(Value::as_array) {
        for (index, signature) in signatures.iter().enumerate() {
            if let Some(signer) = signature.get("signer").and_then(Value::as_str) {
                c.push(
                    K::Person,
                    References,
                    format!("/signatures/{index}/signer"),
                    signer,
                );
            }
            if let Some(key) = signature.get("key").and_then(Value::as_str) {
                c.push(K::Key, References, format!("/signatures/{index}/key"), key);
            }
        }
    }

    match event_type {
        "site.registered" => c.field("site", K::Site, Defines),
        "person.registered" => c.field("person", K::Person, Defines),
        "person.qualified" => {
            c.field("person", K::Person, References);
            c.field("routing", K::Routing, References);
        }
        "role.granted" | "role.revoked" => c.field("person", K::Person, References),
        "key.registered" => {
            c.field("key", K::Key, Defines);
            c.field("person", K::Person, References);
        }
        "key.revoked" => c.field("key", K::Key, References),
        "equipment.registered" => c.field("equipment", K::Equipment, Defines),
        "equipment.calibrated" => c.field("equipment", K::Equipment, References),
        "product.defined" => c.field("product", K::Product, Defines),
        "routing.released" => {
            c.field("routing", K::Routing, DefinesOrExtends);
            c.routing_version(Defines);
            c.field("product", K::Product, References);
        }
        "routing.configured" => {
            c.routing_version(References);
            c.field("site", K::Site, References);
        }
        "change.released" => {
            c.field("change", K::Change, Defines);
            c.field("product", K::Product, References);
            c.field("routing", K::Routing, References);
            if let Some(orders) = data
                .get("effective")
                .and_then(|e| e.get("work_orders"))
                .and_then(Value::as_array)
            {
                for (index, order) in orders.iter().enumerate() {
                    if let Some(id) = order.as_str() {
                        let field = format!("/data/effective/work_orders/{index}");
                        c.push(K::WorkOrder, Mentions, field, id);
                    }
                }
            }
        }
        "lot.received" => c.field("lot", K::Lot, Defines),
        "lot.dispositioned" => c.field("lot", K::Lot, References),
        "lot.split" => {
            c.field("lot", K::Lot, References);
            if let Some(parts) = data.get("into").and_then(Value::as_array) {
                for (index, part) in parts.iter().enumerate() {
                    if let Some(id) = part.get("lot").and_then(Value::as_str) {
                        c.push(K::Lot, Defines, format!("/data/into/{index}/lot"), id);
                    }
                }
            }
        }
        "lot.merged" => {
            c.each("lots", K::Lot, References);
            c.field("into", K::Lot, Defines);
        }
        "lot.produced" => {
            c.field("lot", K::Lot, Defines);
            c.field("product", K::Product, References);
            c.field("work_order", K::WorkOrder, References);
        }
        "work_order.released" => {
            c.field("work_order", K::WorkOrder, Defines);
            c.field("product", K::Product, References);
            c.routing_version(References);
            c.field("lot", K::Lot, Mentions);
        }
        "unit.started" => {
            c.field("unit", K::Unit, Defines);
            c.field("product", K::Product, References);
            c.field("work_order", K::WorkOrder, References);
        }
        "material.consumed" => {
            c.field("unit", K::Unit, References);
            c.field("work_order", K::WorkOrder, References);
            c.field("lot", K::Lot, References);
        }
        "component.installed" => {
            c.field("unit", K::Unit, References);
            // A component made elsewhere is named by its UDI instead (EVENTS.md).
            let made_elsewhere = data.get("component_udi").is_some();
            let role = if made_elsewhere { Mentions } else { References };
            c.field("component", K::Unit, role);
        }
        "component.removed" => {
            c.field("unit", K::Unit, References);
            c.field("component", K::Unit, Mentions);
        }
        "step.completed" => {
            c.unit_or_work_order();
            c.each("equipment", K::Equipment, References);
            c.field("station", K::Station, Mentions);
            c.field("area", K::Area, Mentions);
        }
        "environment.recorded" => c.field("area", K::Area, Mentions),
        "label.printed" | "label.verified" | "unit.released" => c.unit_or_lot(),
        "label.reconciled" => c.field("work_order", K::WorkOrder, References),
        "nonconformance.opened" => {
            c.field("ncr", K::Ncr, Defines);
            c.unit_or_lot();
        }
        "nonconformance.dispositioned" => c.field("ncr", K::Ncr, References),
        "unit.reworked" | "unit.scrapped" => {
            c.field("unit", K::Unit, References);
            c.field("ncr", K::Ncr, References);
        }
        "unit.shipped" => {
            c.unit_or_lot();
            c.field("shipment", K::Shipment, Mentions);
            c.field("customer", K::Customer, Mentions);
        }
        "complaint.received" => {
            c.field("complaint", K::Complaint, Defines);
            c.unit_or_lot();
        }
        "unit.serviced" => {
            c.field("service", K::Service, Defines);
            c.field("unit", K::Unit, References);
        }
        "signature.applied" => {
            if let Some(subject) = data.get("subject") {
                if let Some(events) = subject.get("events").and_then(Value::as_array) {
                    for (index, id) in events.iter().enumerate() {
                        if let Some(id) = id.as_str() {
                            let field = format!("/data/subject/events/{index}");
                            c.push(K::Event, References, field, id);
                        }
                    }
                }
                if let Some(entity) = subject.get("entity").and_then(Value::as_str) {
                    c.push(K::Unit, Mentions, "/data/subject/entity".to_owned(), entity);
                }
            }
        }
        "correction.recorded" => {
            c.field("corrects", K::Event, References);
            // A corrected lot must be a lot the ledger knows, and the record in force is
            // found from it (a trace of the corrected lot reaches what consumed it); a
            // corrected component is named, like an installed one, perhaps made elsewhere.
            let changes = c.data.get("changes").and_then(Value::as_object);
            let mut named = Vec::new();
            for (written, value) in changes.into_iter().flatten() {
                let Some(id) = value.as_str() else { continue };
                let Ok(path) = super::FieldPath::parse(written) else {
                    continue;
                };
                match path.to_string().as_str() {
                    "/data/lot" => named.push((K::Lot, References, written.clone(), id)),
                    "/data/component" => named.push((K::Unit, Mentions, written.clone(), id)),
                    _ => {}
                }
            }
            for (kind, role, written, id) in named {
                c.push(kind, role, format!("/data/changes/{written}"), id);
            }
        }
        _ => {}
    }
    c.refs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn split_defines_children_and_references_the_parent() {
        let event = json!({"type": "lot.split", "site": "GAL", "data": {
            "lot": "L1", "into": [{"lot": "L1-A", "quantity": "5"}, {"lot": "L1-B", "quantity": "5"}]}});
        let refs = entity_refs(&event);
        let summary: Vec<(EntityKind, &str, RefRole, &str)> = refs
            .iter()
            .map(|r| (r.kind, r.id.as_str(), r.role, r.field.as_str()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (EntityKind::Site, "GAL", RefRole::References, "/site"),
                (EntityKind::Lot, "L1", RefRole::References, "/data/lot"),
                (
                    EntityKind::Lot,
                    "L1-A",
                    RefRole::Defines,
                    "/data/into/0/lot"
                ),
                (
                    EntityKind::Lot,
                    "L1-B",
                    RefRole::Defines,
                    "/data/into/1/lot"
                ),
            ]
        );
    }

    #[test]
    fn a_component_made_elsewhere_is_only_mentioned() {
        let inside = json!({"type": "component.installed", "site": "GAL",
            "data": {"unit": "P1", "component": "M1"}});
        let outside = json!({"type": "component.installed", "site": "GAL",
            "data": {"unit": "P1", "component": "V9", "component_udi": "(01)...(21)V9"}});
        assert_eq!(entity_refs(&inside)[2].role, RefRole::References);
        assert_eq!(entity_refs(&outside)[2].role, RefRole::Mentions);
    }

    #[test]
    fn role_codes_round_trip() {
        for role in [
            RefRole::Defines,
            RefRole::DefinesOrExtends,
            RefRole::References,
            RefRole::Mentions,
        ] {
            assert_eq!(RefRole::from_code(role.code()), Some(role));
        }
        for kind in EntityKind::ALL {
            assert_eq!(EntityKind::parse(kind.as_str()), Some(kind));
        }
    }
}
