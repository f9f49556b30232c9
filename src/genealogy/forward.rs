//! Where a unit or lot went: one walk over the links each record states
//! ([`crate::event::trace_links`]), read either from the forward genealogy table the ledger
//! keeps (a few rows per unit reached) or from the records themselves.

use super::model::{Complaint, Link, LinkKind, NodeKind, Recorded, Shipment, TraceNode};
use super::udi_agreement::{ProductDis, compare};
use super::{DEPTH_MAX, naming};
use crate::event::{
    LINKING_TYPES, LinkDetail, LinkSubject, Relation, TraceLink, apply_changes, correction_links,
    trace_links,
};
use crate::store::{Store, StoreError, StoredLink};
use serde_json::Value;
use std::collections::HashSet;

/// Where the links come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    /// The forward genealogy table (`trace_links`).
    Table,
    /// The records naming each unit or lot (entity index), each read for its links.
    Records,
}

struct Forward<'s> {
    store: &'s Store,
    source: Source,
    visited: HashSet<(NodeKind, String)>,
    dis: ProductDis,
}

pub(super) fn trace(
    store: &Store,
    source: Source,
    kind: NodeKind,
    id: &str,
) -> Result<TraceNode, StoreError> {
    let mut walk = Forward {
        store,
        source,
        visited: HashSet::new(),
        dis: ProductDis::default(),
    };
    walk.node(kind, id, Link::new(LinkKind::Traced), None, 0)
}

/// A consumption's quantity, unit of measure and operation.
fn consumption(relation: LinkKind, detail: &LinkDetail, work_order: Option<&str>) -> Link {
    Link {
        quantity: detail.quantity.clone(),
        uom: detail.uom.clone(),
        op: detail.op.clone(),
        work_order: work_order.map(str::to_owned),
        ..Link::new(relation)
    }
}

/// For each link, the seq of the `RemovedFrom` that undid it, if it is an installation that
/// was undone: a removal undoes the latest installation in that unit still in place.
fn removals(links: &[StoredLink]) -> Vec<Option<u64>> {
    let mut removed = vec![None; links.len()];
    for (at, link) in links.iter().enumerate() {
        if link.relation != Relation::RemovedFrom || link.subject_kind != LinkSubject::Unit {
            continue;
        }
        if let Some(undone) = (0..at).rev().find(|&i| {
            links[i].relation == Relation::InstalledIn
                && links[i].subject_kind == LinkSubject::Unit
                && links[i].other == link.other
                && removed[i].is_none()
        }) {
            removed[undone] = Some(link.seq);
        }
    }
    removed
}

/// `links` (a subject's, in record order) without those a later `Withdrawn` link took back
/// (the latest earlier link of the same relation, subject kind and other end), and without
/// the `Withdrawn` links themselves (docs/recall.md, "Corrections").
fn links_in_force(links: Vec<StoredLink>) -> Vec<StoredLink> {
    let mut gone = vec![false; links.len()];
    for at in 0..links.len() {
        if links[at].relation != Relation::Withdrawn {
            continue;
        }
        gone[at] = true;
        let taken_back = links[at].detail.as_deref().and_then(Relation::parse);
        if let Some(earlier) = (0..at).rev().find(|&i| {
            !gone[i]
                && Some(links[i].relation) == taken_back
                && links[i].subject_kind == links[at].subject_kind
                && links[i].other == links[at].other
        }) {
            gone[earlier] = true;
        }
    }
    links
        .into_iter()
        .zip(gone)
        .filter_map(|(link, gone)| (!gone).then_some(link))
        .collect()
}

fn stored(seq: u64, link: TraceLink) -> StoredLink {
    StoredLink {
        seq,
        subject_kind: link.subject_kind,
        relation: link.relation,
        other: link.other,
        detail: link.detail,
    }
}

impl Forward<'_> {
    /// The links stated about `subject` and still in force, in record order: those a
    /// correction took back are gone, those it stated are there (docs/recall.md,
    /// "Corrections").
    fn links_of(&self, subject: &str) -> Result<Vec<StoredLink>, StoreError> {
        let stated = match self.source {
            Source::Table => self.store.trace_links_of(subject)?,
            Source::Records => self.links_from_records(subject)?,
        };
        Ok(links_in_force(stated))
    }

    /// What the table holds about `subject`, read from the records themselves: each
    /// record's own links, and each correction's change to the links of what it corrects.
    fn links_from_records(&self, subject: &str) -> Result<Vec<StoredLink>, StoreError> {
        let mut out: Vec<(u64, StoredLink)> = Vec::new();
        let mut keep = |seq: u64, links: Vec<TraceLink>| {
            for link in links.into_iter().filter(|l| l.subject == subject) {
                out.push((seq, stored(seq, link)));
            }
        };
        let wanted = |t: &str| LINKING_TYPES.contains(&t) || t == "correction.recorded";
        for named in naming(self.store, subject, &wanted)? {
            if named.event_type == "correction.recorded" {
                keep(
                    named.seq,
                    self.correction_links_of(named.seq, &named.event)?,
                );
                continue;
            }
            keep(named.seq, trace_links(&named.event));
            let Some(id) = named.event["id"].as_str() else {
                continue;
            };
            for correction in crate::correction::corrections_of(self.store, id)? {
                if let Ok(event) = serde_json::from_str::<Value>(&correction.event) {
                    keep(
                        correction.seq,
                        self.correction_links_of(correction.seq, &event)?,
                    );
                }
            }
        }
        // In record order, as the table gives them (a record's own links before the links
        // of its later corrections).
        out.sort_by_key(|(seq, _)| *seq);
        Ok(out.into_iter().map(|(_, link)| link).collect())
    }

    /// The links the correction at `seq` changes: the corrected record as it stood before
    /// it (earlier corrections applied) against the record with it applied.
    fn correction_links_of(
        &self,
        seq: u64,
        correction: &Value,
    ) -> Result<Vec<TraceLink>, StoreError> {
        let Some(id) = correction["data"]["corrects"].as_str() else {
            return Ok(Vec::new());
        };
        let Some(at) = self.store.seq_of_event(id)? else {
            return Ok(Vec::new());
        };
        let Some(record) = self.store.records_at(&[at])?.into_iter().next() else {
            return Ok(Vec::new());
        };
        let Ok(mut before) = serde_json::from_str::<Value>(&record.event) else {
            return Ok(Vec::new());
        };
        let mut earlier = crate::correction::corrections_of(self.store, id)?;
        earlier.retain(|c| c.seq < seq);
        crate::correction::apply(&mut before, &earlier);
        let mut after = before.clone();
        apply_changes(&mut after, &correction["data"]["changes"]);
        Ok(correction_links(&before, &after))
    }

    /// The product a `unit.started` gives `unit`, from its links.
    fn product_of(&self, unit: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .links_of(unit)?
            .into_iter()
            .find(|l| l.subject_kind == LinkSubject::Unit && l.relation == Relation::Started)
            .and_then(|l| LinkDetail::decode(l.detail.as_deref()).item))
    }

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
        let read_as = match kind {
            NodeKind::Lot => LinkSubject::Lot,
            _ => LinkSubject::Unit,
        };
        let links = self.links_of(id)?;
        let removed = removals(&links);
        // A lot in 10,000 devices: one allocation for its children, not fourteen doublings;
        // a device with no children (most of them) gets none.
        let children = links
            .iter()
            .filter(|l| {
                l.subject_kind == read_as
                    && matches!(
                        l.relation,
                        Relation::ConsumedByUnit
                            | Relation::InstalledIn
                            | Relation::SplitInto
                            | Relation::MergedInto
                    )
            })
            .count();
        node.children.reserve_exact(children);
        for (stored, removed_seq) in links.iter().zip(removed) {
            if stored.subject_kind != read_as {
                continue;
            }
            let at = Some(stored.seq);
            let other = stored.other.as_deref();
            match stored.relation {
                Relation::Started | Relation::Made => {
                    let detail = LinkDetail::decode(stored.detail.as_deref());
                    node.item = detail.item;
                    let facts = &mut node.facts;
                    facts.udi = detail.udi;
                    facts.work_order = detail.work_order;
                    facts.supplier = detail.supplier;
                    facts.supplier_lot = detail.supplier_lot;
                    facts.expires = detail.expires;
                    facts.quantity = detail.quantity;
                    facts.uom = detail.uom;
                }
                Relation::ConsumedByUnit => {
                    if let Some(unit) = other {
                        let detail = LinkDetail::decode(stored.detail.as_deref());
                        let link = consumption(LinkKind::ConsumedByUnit, &detail, None);
                        let child = self.node(NodeKind::Unit, unit, link, at, depth + 1)?;
                        node.children.push(child);
                    }
                }
                Relation::InstalledIn => {
                    if let Some(parent) = other {
                        let child =
                            self.installed_in(id, &node, parent, stored, removed_seq, depth)?;
                        node.children.push(child);
                    }
                }
                Relation::SplitInto | Relation::MergedInto => {
                    if let Some(lot) = other {
                        let relation = match stored.relation {
                            Relation::SplitInto => LinkKind::SplitInto,
                            _ => LinkKind::MergedInto,
                        };
                        let link = Link::new(relation);
                        let child = self.node(NodeKind::Lot, lot, link, at, depth + 1)?;
                        node.children.push(child);
                    }
                }
                Relation::ConsumedByOrder => {
                    if let Some(order) = other {
                        let detail = LinkDetail::decode(stored.detail.as_deref());
                        let outputs = self.order_outputs(order, &detail, stored.seq, depth)?;
                        node.children.extend(outputs);
                    }
                }
                Relation::Released => {
                    node.facts
                        .release
                        .get_or_insert(Recorded { seq: stored.seq });
                }
                Relation::Scrapped => {
                    node.facts.scrap.get_or_insert(Recorded { seq: stored.seq });
                }
                Relation::Shipped => {
                    let detail = LinkDetail::decode(stored.detail.as_deref());
                    let quantity = match kind {
                        NodeKind::Lot => node.facts.quantity.clone(),
                        _ => Some("1".to_owned()),
                    };
                    node.facts.shipments.push(Shipment {
                        shipment: detail.shipment.unwrap_or_default(),
                        customer: detail.customer.unwrap_or_default(),
                        quantity,
                        shipped_at: detail.at,
                        seq: stored.seq,
                    });
                }
                Relation::Complaint => {
                    let detail = LinkDetail::decode(stored.detail.as_deref());
                    node.facts.complaints.push(Complaint {
                        complaint: detail.complaint.unwrap_or_default(),
                        received_at: detail.at,
                        seq: stored.seq,
                    });
                }
                Relation::RemovedFrom
                | Relation::OrderUnit
                | Relation::OrderLot
                | Relation::Withdrawn => {}
            }
        }
        Ok(node)
    }

    /// The unit `component` was installed in: expanded while the installation is in place,
    /// shown as removed (not expanded) once undone; a scanned UDI that disagrees with the
    /// component flagged on it.
    fn installed_in(
        &mut self,
        component: &str,
        component_node: &TraceNode,
        parent: &str,
        stored: &StoredLink,
        removed_seq: Option<u64>,
        depth: usize,
    ) -> Result<TraceNode, StoreError> {
        let detail = LinkDetail::decode(stored.detail.as_deref());
        let link = Link {
            op: detail.op,
            component_udi: detail.component_udi,
            ..Link::new(LinkKind::InstalledIn)
        };
        let scanned = link.component_udi.clone();
        let mut child = if removed_seq.is_some() {
            let mut removed = TraceNode::new(NodeKind::Unit, parent, link, Some(stored.seq));
            removed.item = self.product_of(parent)?;
            removed.removed_seq = removed_seq;
            removed
        } else {
            self.node(NodeKind::Unit, parent, link, Some(stored.seq), depth + 1)?
        };
        if let Some(scanned) = scanned {
            let expected_di = self.dis.di(self.store, component_node.item.as_deref())?;
            child.udi_mismatch = compare(component, expected_di.as_deref(), &scanned).map(Box::new);
        }
        Ok(child)
    }

    /// What a work order that consumed the lot made: its units and its produced lots.
    fn order_outputs(
        &mut self,
        order: &str,
        detail: &LinkDetail,
        seq: u64,
        depth: usize,
    ) -> Result<Vec<TraceNode>, StoreError> {
        let mut out = Vec::new();
        for made in self.links_of(order)? {
            if made.subject_kind != LinkSubject::WorkOrder {
                continue;
            }
            let kind = match made.relation {
                Relation::OrderUnit => NodeKind::Unit,
                Relation::OrderLot => NodeKind::Lot,
                _ => continue,
            };
            if let Some(output) = made.other.as_deref() {
                let link = consumption(LinkKind::ConsumedByWorkOrder, detail, Some(order));
                out.push(self.node(kind, output, link, Some(seq), depth + 1)?);
            }
        }
        Ok(out)
    }
}
