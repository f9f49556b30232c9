//! What went into a unit or lot, read from the records through the entity index.

use super::model::{Link, LinkKind, NodeKind, TraceNode};
use super::udi_agreement::{ProductDis, compare, started_product};
use super::{DEPTH_MAX, Named, defining, naming, owned, text};
use crate::event::{EntityKind, merged_sources, split_parts};
use crate::store::{Store, StoreError};
use serde_json::Value;
use std::collections::HashSet;

struct Backward<'s> {
    store: &'s Store,
    visited: HashSet<(NodeKind, String)>,
    dis: ProductDis,
}

pub(super) fn trace(store: &Store, kind: NodeKind, id: &str) -> Result<TraceNode, StoreError> {
    let mut walk = Backward {
        store,
        visited: HashSet::new(),
        dis: ProductDis::default(),
    };
    walk.node(kind, id, Link::new(LinkKind::Traced), None, 0)
}

/// How a lot was consumed: quantity, unit of measure, operation.
fn material(data: &Value, work_order: Option<&str>) -> Link {
    Link {
        quantity: owned(data, "quantity"),
        uom: owned(data, "uom"),
        op: owned(data, "op"),
        work_order: work_order.map(str::to_owned),
        ..Link::new(LinkKind::Material)
    }
}

/// For each record, the seq of the `component.removed` that undid it, if it is an
/// installation that was undone: a removal undoes the latest installation of that component
/// still in place before it.
fn removals(records: &[Named], unit: &str) -> Vec<Option<u64>> {
    let mut removed = vec![None; records.len()];
    for (at, named) in records.iter().enumerate() {
        let data = named.data();
        if named.event_type != "component.removed" || text(data, "unit") != Some(unit) {
            continue;
        }
        let component = text(data, "component");
        if let Some(undone) = (0..at).rev().find(|&i| {
            let earlier = &records[i];
            earlier.event_type == "component.installed"
                && text(earlier.data(), "unit") == Some(unit)
                && text(earlier.data(), "component") == component
                && removed[i].is_none()
        }) {
            removed[undone] = Some(named.seq);
        }
    }
    removed
}

/// The types whose links a backward trace follows.
const LINK_TYPES: [&str; 5] = [
    "material.consumed",
    "component.installed",
    "component.removed",
    "lot.split",
    "lot.merged",
];

/// `named`'s event with its corrections applied.
fn in_force(store: &Store, named: &mut Named) -> Result<(), StoreError> {
    let Some(id) = named.event["id"].as_str().map(str::to_owned) else {
        return Ok(());
    };
    let corrections = crate::correction::corrections_of(store, &id)?;
    crate::correction::apply(&mut named.event, &corrections);
    Ok(())
}

impl Backward<'_> {
    fn node(
        &mut self,
        kind: NodeKind,
        id: &str,
        link: Link,
        seq: Option<u64>,
        depth: usize,
    ) -> Result<TraceNode, StoreError> {
        if depth > DEPTH_MAX || !self.visited.insert((kind, id.to_owned())) {
            return Ok(TraceNode::seen_before(kind, id, link, seq));
        }
        let mut node = TraceNode::new(kind, id, link, seq);
        let mut records = match kind {
            NodeKind::Lot => defining(self.store, EntityKind::Lot, id)?,
            _ => naming(self.store, id, &|_| true)?,
        };
        // What went in is what the records say in force: a consumption corrected to another
        // lot traces to that lot (docs/recall.md, "Corrections").
        for named in records
            .iter_mut()
            .filter(|n| LINK_TYPES.contains(&n.event_type.as_str()))
        {
            in_force(self.store, named)?;
        }
        let removed = match kind {
            NodeKind::Unit => removals(&records, id),
            _ => vec![None; records.len()],
        };
        for (named, removed_seq) in records.iter().zip(removed) {
            let data = named.data();
            let mine = |field: &str| text(data, field) == Some(id);
            match named.event_type.as_str() {
                "unit.started" if kind == NodeKind::Unit && mine("unit") => {
                    node.item = owned(data, "product");
                    node.facts.udi = owned(data, "udi");
                    if let Some(order) = text(data, "work_order") {
                        node.facts.work_order = Some(order.to_owned());
                        let materials = self.work_order_materials(order, depth)?;
                        node.children.extend(materials);
                    }
                }
                "component.installed" if kind == NodeKind::Unit && mine("unit") => {
                    if let Some(component) = text(data, "component") {
                        let child =
                            self.component(component, data, named.seq, removed_seq, depth)?;
                        node.children.push(child);
                    }
                }
                "material.consumed" if kind == NodeKind::Unit && mine("unit") => {
                    if let Some(lot) = text(data, "lot") {
                        let link = material(data, None);
                        let child =
                            self.node(NodeKind::Lot, lot, link, Some(named.seq), depth + 1)?;
                        node.children.push(child);
                    }
                }
                "lot.received" if kind == NodeKind::Lot && mine("lot") => {
                    node.item = owned(data, "part");
                    node.facts.supplier = owned(data, "supplier");
                    node.facts.supplier_lot = owned(data, "supplier_lot");
                    node.facts.expires = owned(data, "expires");
                    node.facts.quantity = owned(data, "quantity");
                    node.facts.uom = owned(data, "uom");
                }
                "lot.split" if kind == NodeKind::Lot && split_parts(data).any(|c| c == id) => {
                    if let Some(parent) = text(data, "lot") {
                        let link = Link::new(LinkKind::SplitFrom);
                        let child =
                            self.node(NodeKind::Lot, parent, link, Some(named.seq), depth + 1)?;
                        node.children.push(child);
                    }
                }
                "lot.merged" if kind == NodeKind::Lot && mine("into") => {
                    for source in merged_sources(data) {
                        let link = Link::new(LinkKind::MergedFrom);
                        let child =
                            self.node(NodeKind::Lot, source, link, Some(named.seq), depth + 1)?;
                        node.children.push(child);
                    }
                }
                "lot.produced" if kind == NodeKind::Lot && mine("lot") => {
                    node.item = owned(data, "product");
                    node.facts.udi = owned(data, "udi");
                    node.facts.quantity = owned(data, "quantity");
                    node.facts.uom = owned(data, "uom");
                    if let Some(order) = text(data, "work_order") {
                        node.facts.work_order = Some(order.to_owned());
                        let materials = self.work_order_materials(order, depth)?;
                        node.children.extend(materials);
                    }
                }
                _ => {}
            }
        }
        Ok(node)
    }

    /// A component installed in the unit: descended when the ledger knows it (its scanned
    /// UDI checked against it), external when not; shown but not expanded when removed.
    fn component(
        &mut self,
        component: &str,
        data: &Value,
        seq: u64,
        removed_seq: Option<u64>,
        depth: usize,
    ) -> Result<TraceNode, StoreError> {
        let link = Link {
            op: owned(data, "op"),
            component_udi: owned(data, "component_udi"),
            ..Link::new(LinkKind::Component)
        };
        let scanned = link.component_udi.clone();
        let Some(product) = started_product(self.store, component)? else {
            let mut external = TraceNode::new(NodeKind::External, component, link, Some(seq));
            external.facts.udi = scanned;
            external.removed_seq = removed_seq;
            return Ok(external);
        };
        let mut child = if removed_seq.is_some() {
            let mut removed = TraceNode::new(NodeKind::Unit, component, link, Some(seq));
            removed.item = product.clone();
            removed.removed_seq = removed_seq;
            removed
        } else {
            self.node(NodeKind::Unit, component, link, Some(seq), depth + 1)?
        };
        if let Some(scanned) = scanned {
            let expected_di = self.dis.di(self.store, product.as_deref())?;
            child.udi_mismatch = compare(component, expected_di.as_deref(), &scanned).map(Box::new);
        }
        Ok(child)
    }

    /// The lots a work order consumed (not tied to one unit).
    fn work_order_materials(
        &mut self,
        order: &str,
        depth: usize,
    ) -> Result<Vec<TraceNode>, StoreError> {
        let mut out = Vec::new();
        for named in naming(self.store, order, &|t| t == "material.consumed")? {
            let data = named.data();
            if text(data, "work_order") == Some(order)
                && text(data, "unit").is_none()
                && let Some(lot) = text(data, "lot")
            {
                let link = material(data, Some(order));
                out.push(self.node(NodeKind::Lot, lot, link, Some(named.seq), depth + 1)?);
            }
        }
        Ok(out)
    }
}
