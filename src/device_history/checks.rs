//! The lookups behind the exceptions: the routing a work order follows and its limits, a
//! person's qualifications, equipment calibration, a lot's disposition and expiry, and whether
//! two UDIs identify the same thing. Times are instants (a qualification recorded at 14:00
//! does not cover a step at 09:00 the same day); dates the site wrote (due, expiry, valid
//! until) are compared with the day as the site wrote it.

use super::records::{Rec, typed};
use crate::event::{EntityKind, RefRole};
use crate::store::{Store, StoreError};
use crate::udi;
use std::collections::HashMap;

/// One operation of a routing.
pub(super) struct RoutingOp {
    pub op: String,
    pub name: String,
    pub qualification_required: bool,
}

/// The routing and version a work order follows, with the limits of each check after the
/// site's configuration.
#[derive(Default)]
pub(super) struct Routing {
    pub routing: Option<String>,
    pub version: Option<String>,
    /// In the routing's order.
    pub ops: Vec<RoutingOp>,
    /// (op, check name) to (lsl, usl).
    pub limits: HashMap<(String, String), (Option<f64>, Option<f64>)>,
}

impl Routing {
    /// The routing of `routing`@`version` as configured for `site`.
    pub fn load(
        store: &Store,
        routing: &str,
        version: &str,
        site: &str,
    ) -> Result<Routing, StoreError> {
        let mut out = Routing {
            routing: Some(routing.to_owned()),
            version: Some(version.to_owned()),
            ..Routing::default()
        };
        let released = typed(
            store,
            "routing.released",
            EntityKind::Routing,
            RefRole::DefinesOrExtends,
            routing,
        )?;
        for r in released
            .iter()
            .filter(|r| r.text("version") == Some(version))
        {
            for operation in r.data["operations"].as_array().into_iter().flatten() {
                let field = |name: &str| operation[name].as_str().unwrap_or("").to_owned();
                let op = field("op");
                for check in operation["checks"].as_array().into_iter().flatten() {
                    let name = check["name"].as_str().unwrap_or("").to_owned();
                    out.limits.insert(
                        (op.clone(), name),
                        (check["lsl"].as_f64(), check["usl"].as_f64()),
                    );
                }
                out.ops.push(RoutingOp {
                    name: field("name"),
                    qualification_required: operation["qualification_required"]
                        .as_bool()
                        .unwrap_or(false),
                    op,
                });
            }
        }
        let configured = typed(
            store,
            "routing.configured",
            EntityKind::RoutingVersion,
            RefRole::References,
            &format!("{routing}@{version}"),
        )?;
        for r in configured.iter().filter(|r| r.text("site") == Some(site)) {
            for o in r.data["overrides"].as_array().into_iter().flatten() {
                let key = (
                    o["op"].as_str().unwrap_or("").to_owned(),
                    o["check"].as_str().unwrap_or("").to_owned(),
                );
                let entry = out.limits.entry(key).or_insert((None, None));
                if let Some(lsl) = o["lsl"].as_f64() {
                    entry.0 = Some(lsl);
                }
                if let Some(usl) = o["usl"].as_f64() {
                    entry.1 = Some(usl);
                }
            }
        }
        Ok(out)
    }

    pub fn op(&self, op: &str) -> Option<&RoutingOp> {
        self.ops.iter().find(|o| o.op == op)
    }

    pub fn position(&self, op: &str) -> Option<usize> {
        self.ops.iter().position(|o| o.op == op)
    }
}

/// Whether `person` held a qualification for `op` (on this routing, or on any) when `step`
/// happened: recorded at or before the step's instant, valid until the step's day or later.
pub(super) fn qualified(
    store: &Store,
    person: Option<&str>,
    op: &str,
    routing: Option<&str>,
    step: &Rec,
) -> Result<bool, StoreError> {
    let Some(person) = person else {
        return Ok(false);
    };
    Ok(typed(
        store,
        "person.qualified",
        EntityKind::Person,
        RefRole::References,
        person,
    )?
    .iter()
    .any(|q| {
        q.text("person") == Some(person)
            && q.text("op") == Some(op)
            && q.text("routing").is_none_or(|r| Some(r) == routing)
            && q.not_after(step)
            && q.text("valid_until")
                .is_some_and(|until| until >= step.day())
    }))
}

/// The due date if `equipment`'s latest calibration at or before `step` was due before the
/// step's day, or "(never calibrated)".
pub(super) fn calibration_lapsed(
    store: &Store,
    equipment: &str,
    step: &Rec,
) -> Result<Option<String>, StoreError> {
    let latest = typed(
        store,
        "equipment.calibrated",
        EntityKind::Equipment,
        RefRole::References,
        equipment,
    )?
    .into_iter()
    .filter(|c| c.text("equipment") == Some(equipment) && c.not_after(step))
    .max_by_key(|c| (c.at, c.seq));
    Ok(match latest {
        Some(c) => c.owned("due").filter(|due| due.as_str() < step.day()),
        None => Some("(never calibrated)".to_owned()),
    })
}

/// What is wrong with consuming `lot` at `consumed`: on hold or rejected by the disposition in
/// force at that instant, or past its expiry date.
pub(super) enum LotProblem {
    NotReleased { state: String, seq: u64 },
    Expired { expiry: String },
}

pub(super) fn lot_problem(
    store: &Store,
    lot: &str,
    consumed: &Rec,
) -> Result<Option<LotProblem>, StoreError> {
    // By type, not every record that names the lot: a lot used in 10,000 units is named by
    // 10,000 consumptions.
    let disposition = typed(
        store,
        "lot.dispositioned",
        EntityKind::Lot,
        RefRole::References,
        lot,
    )?
    .into_iter()
    .filter(|d| d.text("lot") == Some(lot) && d.not_after(consumed))
    .max_by_key(|d| (d.at, d.seq));
    if let Some(d) = disposition
        && let Some(state) = d.text("disposition")
        && state != "released"
    {
        return Ok(Some(LotProblem::NotReleased {
            state: state.to_owned(),
            seq: d.seq,
        }));
    }
    let expiry = typed(
        store,
        "lot.received",
        EntityKind::Lot,
        RefRole::Defines,
        lot,
    )?
    .into_iter()
    .filter(|r| r.text("lot") == Some(lot))
    .find_map(|r| r.owned("expires"));
    Ok(expiry
        .filter(|e| e.as_str() < consumed.day())
        .map(|expiry| LotProblem::Expired { expiry }))
}

/// Whether two UDI texts identify the same thing: both parse, and their elements (GS1 AIs and
/// values, or the HIBCC and ISBT 128 fields) are the same, whatever form each was written in
/// (parentheses, GS separators, symbology identifier, Digital Link).
pub(super) fn same_udi(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (udi::parse(a), udi::parse(b)) {
        (Ok(a), Ok(b)) => {
            let mut left = a.elements.clone();
            let mut right = b.elements.clone();
            left.sort();
            right.sort();
            a.agency == b.agency
                && a.device_identifier == b.device_identifier
                && a.serial == b.serial
                && a.lot == b.lot
                && left == right
        }
        _ => false,
    }
}
