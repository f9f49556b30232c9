//! The recall scope of a forward trace, counted from its tree: the rule is in docs/recall.md
//! ("The summary").

use super::model::{
    CustomerScope, DeviceStatus, FinishedLot, NodeKind, OpenComplaint, RecallSummary, Shipment,
    TraceNode,
};
use std::collections::BTreeMap;

/// One affected device: a row of `trace --forward --csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AffectedDevice<'t> {
    pub serial: &'t str,
    pub udi: Option<&'t str>,
    pub product: Option<&'t str>,
    pub status: DeviceStatus,
    /// Its latest shipment (highest seq): where the device is now.
    pub shipment: Option<&'t Shipment>,
}

/// The nodes in scope: neither undone in rework nor a repeat (each unit and lot once).
fn in_scope(root: &TraceNode) -> impl Iterator<Item = &TraceNode> {
    root.walk().into_iter().filter(|node| node.in_scope())
}

fn latest(shipments: &[Shipment]) -> Option<&Shipment> {
    shipments.iter().max_by_key(|s| s.seq)
}

/// Every unit in the trace's scope, in tree order (the root too, when it is a unit).
pub fn affected_devices(root: &TraceNode) -> Vec<AffectedDevice<'_>> {
    in_scope(root)
        .filter(|node| node.kind == NodeKind::Unit)
        .map(|node| AffectedDevice {
            serial: &node.id,
            udi: node.facts.udi.as_deref(),
            product: node.item.as_deref(),
            status: DeviceStatus::of(&node.facts),
            shipment: latest(&node.facts.shipments),
        })
        .collect()
}

/// Devices by status, customers, finished lots and open complaints of a forward trace.
pub fn recall_summary(root: &TraceNode) -> RecallSummary {
    let mut summary = RecallSummary::default();
    let mut customers: BTreeMap<String, CustomerScope> = BTreeMap::new();
    for node in in_scope(root) {
        let facts = &node.facts;
        for shipment in &facts.shipments {
            let scope = customers_entry(&mut customers, &shipment.customer);
            if !scope.shipments.contains(&shipment.shipment) {
                scope.shipments.push(shipment.shipment.clone());
            }
        }
        for complaint in &facts.complaints {
            summary.open_complaints.push(OpenComplaint {
                complaint: complaint.complaint.clone(),
                subject_kind: node.kind,
                subject: node.id.clone(),
                seq: complaint.seq,
            });
        }
        match node.kind {
            NodeKind::Unit => {
                let counts = &mut summary.devices;
                counts.total += 1;
                match DeviceStatus::of(facts) {
                    DeviceStatus::InProcess => counts.in_process += 1,
                    DeviceStatus::Released => counts.released += 1,
                    DeviceStatus::Shipped => counts.shipped += 1,
                    DeviceStatus::Scrapped => counts.scrapped += 1,
                }
                if let Some(shipment) = latest(&facts.shipments) {
                    customers_entry(&mut customers, &shipment.customer).devices += 1;
                }
            }
            NodeKind::Lot => {
                for shipment in &facts.shipments {
                    let scope = customers_entry(&mut customers, &shipment.customer);
                    if !scope.lots.contains(&node.id) {
                        scope.lots.push(node.id.clone());
                    }
                }
                if facts.work_order.is_some() {
                    summary.finished_lots.push(FinishedLot {
                        lot: node.id.clone(),
                        item: node.item.clone(),
                        status: DeviceStatus::of(facts),
                        shipments: facts.shipments.clone(),
                    });
                }
            }
            NodeKind::External => {}
        }
    }
    summary.customers = customers.into_values().collect();
    summary
}

fn customers_entry<'c>(
    customers: &'c mut BTreeMap<String, CustomerScope>,
    name: &str,
) -> &'c mut CustomerScope {
    customers
        .entry(name.to_owned())
        .or_insert_with(|| CustomerScope {
            customer: name.to_owned(),
            shipments: Vec::new(),
            devices: 0,
            lots: Vec::new(),
        })
}
