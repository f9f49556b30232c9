//! Building the DHR model from the records: the subject's records in seq order, each in force
//! (corrections applied), each section filled by the function for its event type, exceptions
//! raised where the record shows them.

use super::DeviceHistoryError;
use super::checks::{self, LotProblem, Routing};
use super::model::*;
use super::records::{Rec, naming, typed};
use crate::event::{EntityKind, RefRole};
use crate::genealogy::{UdiAgreement, component_udi_agreement};
use crate::people::People;
use crate::store::{Store, StoreError};
use serde_json::Value;
use std::collections::HashSet;

/// Builds a DHR. `within` holds the units whose DHR is being built further up (a component's
/// DHR is built to show its exceptions in its parent's), so that bad data with a cycle ends.
pub(super) struct Builder<'s> {
    store: &'s Store,
    people: People<'s>,
    history: DeviceHistory,
    routing: Routing,
    /// The work order whose steps and materials belong to a lot's DHR.
    lot_order: Option<String>,
    /// Each routing operation's last result: (seq, result).
    last_result: std::collections::HashMap<String, (u64, String)>,
    /// Controlled area -> first and last instant the subject was worked there.
    area_windows: std::collections::BTreeMap<String, (i64, i64)>,
    /// Components with a DHR of their own: (installation seq, their exceptions).
    pending_components: Vec<(u64, Vec<Exception>)>,
}

/// The records of the subject: a unit's, or a lot's with its work order's.
struct Subject {
    records: Vec<Rec>,
    /// Index of `unit.started` or `lot.produced`.
    start: usize,
    lot_order: Option<String>,
}

fn find_subject(store: &Store, id: &str) -> Result<Subject, DeviceHistoryError> {
    let mut records = naming(store, id)?;
    if let Some(start) = records
        .iter()
        .position(|r| r.event_type == "unit.started" && r.text("unit") == Some(id))
    {
        return Ok(Subject {
            records,
            start,
            lot_order: None,
        });
    }
    let produced = records
        .iter()
        .find(|r| r.event_type == "lot.produced" && r.text("lot") == Some(id))
        .map(|r| (r.seq, r.owned("work_order").unwrap_or_default()))
        .ok_or_else(|| DeviceHistoryError::NotFound(id.to_owned()))?;
    let (produced_seq, order) = produced;
    let known: HashSet<u64> = records.iter().map(|r| r.seq).collect();
    records.extend(
        naming(store, &order)?
            .into_iter()
            .filter(|r| !known.contains(&r.seq)),
    );
    records.sort_by_key(|r| r.seq);
    let start = records
        .iter()
        .position(|r| r.seq == produced_seq)
        .ok_or_else(|| DeviceHistoryError::NotFound(id.to_owned()))?;
    Ok(Subject {
        records,
        start,
        lot_order: Some(order),
    })
}

/// Builds the DHR of `id` (a serial or a produced lot).
pub(super) fn build(
    store: &Store,
    id: &str,
    within: &mut Vec<String>,
) -> Result<DeviceHistory, DeviceHistoryError> {
    let subject = find_subject(store, id)?;
    let mut builder = Builder::start(store, id, &subject)?;
    within.push(id.to_owned());
    for r in &subject.records {
        builder.record(r, within)?;
    }
    within.pop();
    builder.finish(&subject.records)
}

impl<'s> Builder<'s> {
    fn start(store: &'s Store, id: &str, subject: &Subject) -> Result<Builder<'s>, StoreError> {
        let started = &subject.records[subject.start];
        let mut people = People::new(store);
        let product = match started.text("product") {
            Some(product) => product_of(store, product)?,
            None => None,
        };
        let order_id = started.owned("work_order");
        let mut work_order = None;
        let mut routing = Routing::default();
        if let Some(order) = &order_id {
            let released = typed(
                store,
                "work_order.released",
                EntityKind::WorkOrder,
                RefRole::Defines,
                order,
            )?
            .into_iter()
            .find(|r| r.text("work_order") == Some(order.as_str()));
            if let Some(released) = &released
                && let (Some(name), Some(version)) =
                    (released.text("routing"), released.text("version"))
            {
                routing = Routing::load(store, name, version, &started.site)?;
            }
            work_order = Some(WorkOrder {
                work_order: order.clone(),
                routing: routing.routing.clone(),
                version: routing.version.clone(),
                quantity: released.as_ref().and_then(|r| r.owned("quantity")),
                seq: released.as_ref().map(|r| r.seq),
            });
        }
        let quantities = subject.lot_order.as_ref().map(|_| LotQuantities {
            ordered: work_order.as_ref().and_then(|w| w.quantity.clone()),
            produced: started.owned("quantity"),
            uom: started.owned("uom"),
            not_produced: None,
        });
        let history = DeviceHistory {
            format: FORMAT,
            subject: if subject.lot_order.is_some() {
                super::model::Subject::Lot
            } else {
                super::model::Subject::Unit
            },
            id: id.to_owned(),
            product,
            site: started.site.clone(),
            udi: started.owned("udi"),
            work_order,
            status: Status::InProcess,
            installed_in: None,
            started: Started {
                seq: started.seq,
                occurred_at: started.occurred_at.clone(),
                site: started.site.clone(),
                by: people.person(started.actor.as_deref())?,
            },
            quantities,
            operations: Vec::new(),
            environment: Vec::new(),
            materials: Vec::new(),
            components: Vec::new(),
            nonconformances: Vec::new(),
            labels: Labels::default(),
            release: None,
            scrap: None,
            shipments: Vec::new(),
            complaints: Vec::new(),
            services: Vec::new(),
            corrections: Vec::new(),
            exceptions: Vec::new(),
            approvals: Vec::new(),
        };
        Ok(Builder {
            store,
            people,
            history,
            routing,
            lot_order: subject.lot_order.clone(),
            last_result: Default::default(),
            area_windows: Default::default(),
            pending_components: Vec::new(),
        })
    }

    /// Whether `r` is about the subject: names it in its subject field (or, for a lot, is a
    /// step or consumption of its work order).
    fn about_me(&self, r: &Rec) -> bool {
        let id = self.history.id.as_str();
        match &self.lot_order {
            None => r.text("unit") == Some(id),
            Some(order) => match r.event_type.as_str() {
                "step.completed" | "material.consumed" => r.text("work_order") == Some(order),
                _ => r.text("lot") == Some(id),
            },
        }
    }

    fn raise(&mut self, kind: ExceptionKind, seq: Option<u64>, op: Option<&str>, detail: String) {
        self.history.exceptions.push(Exception {
            kind,
            seq,
            op: op.map(str::to_owned),
            detail,
            component: None,
        });
    }

    fn record(&mut self, r: &Rec, within: &mut Vec<String>) -> Result<(), DeviceHistoryError> {
        if !self.about_me(r) {
            self.as_component(r);
            return Ok(());
        }
        match r.event_type.as_str() {
            "step.completed" => self.step(r)?,
            "material.consumed" => self.material(r)?,
            "component.installed" => self.installed(r, within)?,
            "component.removed" => self.removed(r),
            "nonconformance.opened" => self.nonconformance(r)?,
            "label.printed" => self.history.labels.printed.push(LabelPrinted {
                seq: r.seq,
                occurred_at: r.occurred_at.clone(),
                udi: r.owned("udi").unwrap_or_default(),
                hri: r.owned("hri"),
            }),
            "label.verified" => self.label_verified(r),
            "unit.released" => {
                self.history.release = Some(Release {
                    seq: r.seq,
                    occurred_at: r.occurred_at.clone(),
                    by: self.people.person(r.actor.as_deref())?,
                    signatures: self.people.signatures(&r.signatures, r.seq)?,
                });
            }
            "unit.scrapped" => {
                self.history.scrap = Some(Scrap {
                    seq: r.seq,
                    occurred_at: r.occurred_at.clone(),
                    by: self.people.person(r.actor.as_deref())?,
                    reason: r.owned("reason"),
                    ncr: r.owned("ncr"),
                });
            }
            "unit.shipped" => self.history.shipments.push(Shipment {
                shipment: r.owned("shipment").unwrap_or_default(),
                customer: r.owned("customer").unwrap_or_default(),
                ship_to: r.owned("ship_to"),
                quantity: match self.history.subject {
                    super::model::Subject::Unit => Some("1".to_owned()),
                    super::model::Subject::Lot => r.owned("quantity"),
                },
                seq: r.seq,
                occurred_at: r.occurred_at.clone(),
            }),
            "complaint.received" => self.history.complaints.push(Complaint {
                complaint: r.owned("complaint").unwrap_or_default(),
                udi: r.owned("udi"),
                description: r.owned("description"),
                seq: r.seq,
                occurred_at: r.occurred_at.clone(),
            }),
            "unit.serviced" => self.history.services.push(Service {
                service: r.owned("service").unwrap_or_default(),
                description: r.owned("description"),
                seq: r.seq,
                occurred_at: r.occurred_at.clone(),
            }),
            _ => return Ok(()),
        }
        self.corrections(r)?;
        Ok(())
    }

    /// This unit installed in another, or taken out of it again.
    fn as_component(&mut self, r: &Rec) {
        if r.text("component") != Some(self.history.id.as_str()) {
            return;
        }
        match r.event_type.as_str() {
            "component.installed" => {
                self.history.installed_in = Some(InstalledIn {
                    unit: r.owned("unit").unwrap_or_default(),
                    seq: r.seq,
                    occurred_at: r.occurred_at.clone(),
                });
            }
            "component.removed"
                if self.history.installed_in.as_ref().map(|i| i.unit.as_str())
                    == r.text("unit") =>
            {
                self.history.installed_in = None;
            }
            _ => {}
        }
    }

    fn step(&mut self, r: &Rec) -> Result<(), StoreError> {
        let op = r.owned("op").unwrap_or_default();
        let result = r.owned("result").unwrap_or_default();
        self.check_order(r, &op);
        let operator = self.people.person(r.actor.as_deref())?;
        let equipment: Vec<String> = r.data["equipment"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        let measurements = self.measurements(r, &op);
        if result != "pass" {
            self.raise(
                ExceptionKind::FailedStep,
                Some(r.seq),
                Some(&op),
                format!("op {op} {result}"),
            );
        }
        self.check_operator(r, &op, operator.as_ref())?;
        for item in &equipment {
            if let Some(due) = checks::calibration_lapsed(self.store, item, r)? {
                self.raise(
                    ExceptionKind::CalibrationPastDue,
                    Some(r.seq),
                    Some(&op),
                    format!(
                        "equipment {item} used at op {op} on {} was due for calibration {due}",
                        r.day()
                    ),
                );
            }
        }
        if let (Some(area), Some(end)) = (r.text("area"), r.at) {
            let start = r
                .text("started_at")
                .and_then(crate::time::parse_rfc3339_millis)
                .unwrap_or(end);
            let window = self
                .area_windows
                .entry(area.to_owned())
                .or_insert((start, end));
            window.0 = window.0.min(start);
            window.1 = window.1.max(end);
        }
        self.history.operations.push(Operation {
            seq: r.seq,
            occurred_at: r.occurred_at.clone(),
            name: self.routing.op(&op).map(|o| o.name.clone()),
            result: result.clone(),
            station: r.owned("station"),
            area: r.owned("area"),
            operator,
            equipment,
            measurements,
            corrected_by: r.correction_seqs(),
            op: op.clone(),
        });
        self.last_result.insert(op, (r.seq, result));
        Ok(())
    }

    /// Out of order: an earlier operation of the routing has not passed yet.
    fn check_order(&mut self, r: &Rec, op: &str) {
        let Some(at) = self.routing.position(op) else {
            return;
        };
        let skipped: Vec<String> = self.routing.ops[..at]
            .iter()
            .filter(|earlier| {
                self.last_result
                    .get(&earlier.op)
                    .is_none_or(|(_, result)| result != "pass")
            })
            .map(|earlier| earlier.op.clone())
            .collect();
        if !skipped.is_empty() {
            self.raise(
                ExceptionKind::OutOfOrder,
                Some(r.seq),
                Some(op),
                format!("op {op} done before op {} had passed", skipped.join(", ")),
            );
        }
    }

    fn check_operator(
        &mut self,
        r: &Rec,
        op: &str,
        operator: Option<&Person>,
    ) -> Result<(), StoreError> {
        let required = self
            .routing
            .op(op)
            .is_some_and(|o| o.qualification_required);
        if required
            && !checks::qualified(
                self.store,
                r.actor.as_deref(),
                op,
                self.routing.routing.as_deref(),
                r,
            )?
        {
            let who = operator.map_or("nobody".to_owned(), describe_person);
            self.raise(
                ExceptionKind::OperatorNotQualified,
                Some(r.seq),
                Some(op),
                format!(
                    "op {op} by {who}, who held no valid qualification for it at {}",
                    r.occurred_at
                ),
            );
        }
        Ok(())
    }

    /// The step's measurements in force, judged against the routing's limits.
    fn measurements(&mut self, r: &Rec, op: &str) -> Vec<Measurement> {
        let mut out = Vec::new();
        for (index, m) in r.data["measurements"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let name = m["name"].as_str().unwrap_or("").to_owned();
            let (lsl, usl) = self
                .routing
                .limits
                .get(&(op.to_owned(), name.clone()))
                .copied()
                .unwrap_or((None, None));
            let measurement = judged(m, name, lsl, usl, corrected_at(r, index));
            if measurement.in_limits == Some(false) {
                self.raise(
                    ExceptionKind::OutOfLimits,
                    Some(r.seq),
                    Some(op),
                    format!(
                        "op {op}: {} outside {}",
                        shown(&measurement),
                        limits(lsl, usl)
                    ),
                );
            }
            out.push(measurement);
        }
        out
    }

    fn material(&mut self, r: &Rec) -> Result<(), StoreError> {
        let lot = r.owned("lot").unwrap_or_default();
        match checks::lot_problem(self.store, &lot, r)? {
            Some(LotProblem::NotReleased { state, seq }) => self.raise(
                ExceptionKind::LotNotReleased,
                Some(r.seq),
                r.text("op"),
                format!("lot {lot} consumed while {state} (disposition seq {seq})"),
            ),
            Some(LotProblem::Expired { expiry }) => self.raise(
                ExceptionKind::LotExpired,
                Some(r.seq),
                r.text("op"),
                format!("lot {lot} consumed on {}, expired {expiry}", r.day()),
            ),
            None => {}
        }
        self.history.materials.push(Material {
            seq: r.seq,
            occurred_at: r.occurred_at.clone(),
            lot,
            quantity: r.owned("quantity"),
            uom: r.owned("uom"),
            op: r.owned("op"),
            corrected_by: r.correction_seqs(),
        });
        Ok(())
    }

    /// A component installed: made in this ledger (at any site) when the ledger knows its
    /// serial, then its own DHR's exceptions are the parent's while it stays installed; made
    /// outside only when unknown. A scanned UDI that disagrees with the known component is an
    /// exception, never a silent match.
    fn installed(&mut self, r: &Rec, within: &mut Vec<String>) -> Result<(), DeviceHistoryError> {
        let component = r.owned("component").unwrap_or_default();
        let scanned = r.owned("component_udi");
        let own = if within.contains(&component) {
            None
        } else {
            match build(self.store, &component, within) {
                Ok(history) => Some(history),
                Err(DeviceHistoryError::NotFound(_)) => None,
                Err(other) => return Err(other),
            }
        };
        let known = own.is_some() || within.contains(&component);
        if own.is_some()
            && let Some(scanned) = &scanned
            && let UdiAgreement::Mismatch(m) =
                component_udi_agreement(self.store, &component, scanned)?
        {
            let problem = match (&m.parse_error, &m.scanned_di, &m.scanned_serial) {
                (Some(error), _, _) => format!("the scanned UDI does not parse: {error}"),
                (None, di, serial) => format!(
                    "it names DI {} and serial {}; the component is {component} of DI {}",
                    di.as_deref().unwrap_or("(none)"),
                    serial.as_deref().unwrap_or("(none)"),
                    m.expected_di.as_deref().unwrap_or("(none)")
                ),
            };
            self.raise(
                ExceptionKind::ComponentUdiMismatch,
                Some(r.seq),
                r.text("op"),
                format!("component {component} installed with UDI {scanned:?}: {problem}"),
            );
        }
        self.history.components.push(Component {
            seq: r.seq,
            occurred_at: r.occurred_at.clone(),
            component: component.clone(),
            component_udi: scanned,
            origin: if known {
                Origin::Ledger
            } else {
                Origin::External
            },
            product: own
                .as_ref()
                .and_then(|h| h.product.as_ref().map(|p| p.product.clone())),
            op: r.owned("op"),
            removed: None,
            exceptions: 0,
        });
        if let Some(own) = own {
            self.pending_components.push((r.seq, own.exceptions));
        }
        Ok(())
    }

    /// A removal undoes the latest installation of that component that is still in place.
    fn removed(&mut self, r: &Rec) {
        let component = r.text("component");
        if let Some(installed) = self
            .history
            .components
            .iter_mut()
            .rev()
            .find(|c| Some(c.component.as_str()) == component && c.removed.is_none())
        {
            installed.removed = Some(Removal {
                seq: r.seq,
                occurred_at: r.occurred_at.clone(),
                reason: r.owned("reason"),
            });
        }
    }

    fn nonconformance(&mut self, r: &Rec) -> Result<(), StoreError> {
        let ncr = r.owned("ncr").unwrap_or_default();
        let mut entry = Nonconformance {
            ncr: ncr.clone(),
            seq: r.seq,
            occurred_at: r.occurred_at.clone(),
            description: r.owned("description"),
            op: r.owned("op"),
            opened_by: self.people.person(r.actor.as_deref())?,
            disposition: None,
            rework: Vec::new(),
        };
        for follow in naming(self.store, &ncr)? {
            if follow.text("ncr") != Some(ncr.as_str()) {
                continue;
            }
            match follow.event_type.as_str() {
                "nonconformance.dispositioned" => {
                    entry.disposition = Some(Disposition {
                        seq: follow.seq,
                        occurred_at: follow.occurred_at.clone(),
                        disposition: follow.owned("disposition").unwrap_or_default(),
                        justification: follow.owned("justification"),
                        by: self.people.person(follow.actor.as_deref())?,
                        signatures: self.people.signatures(&follow.signatures, follow.seq)?,
                    });
                }
                "unit.reworked" => entry.rework.push(Rework {
                    seq: follow.seq,
                    occurred_at: follow.occurred_at.clone(),
                    op: follow.owned("op"),
                    description: follow.owned("description"),
                }),
                _ => {}
            }
        }
        self.history.nonconformances.push(entry);
        Ok(())
    }

    fn label_verified(&mut self, r: &Rec) {
        let scanned = r.owned("scanned").unwrap_or_default();
        let result = r.owned("result").unwrap_or_default();
        let matches_udi = self
            .history
            .udi
            .as_deref()
            .is_some_and(|udi| checks::same_udi(udi, &scanned));
        let udi = self.history.udi.clone().unwrap_or_default();
        if result != "pass" {
            self.raise(
                ExceptionKind::LabelVerificationFailed,
                Some(r.seq),
                None,
                format!("label verification {result}: scanned {scanned:?}"),
            );
        } else if !matches_udi {
            self.raise(
                ExceptionKind::LabelMismatch,
                Some(r.seq),
                None,
                format!("scan {scanned:?} passed but is not the UDI {udi:?}"),
            );
        }
        self.history.labels.verified.push(LabelVerified {
            seq: r.seq,
            occurred_at: r.occurred_at.clone(),
            scanned,
            result,
            matches_udi,
        });
    }

    /// The corrections of `r`, each change old -> new.
    fn corrections(&mut self, r: &Rec) -> Result<(), StoreError> {
        for applied in &r.corrections {
            let by = self.people.person(applied.actor.as_deref())?;
            let signatures = self.people.signatures(&applied.signatures, applied.seq)?;
            self.history.corrections.push(Correction {
                seq: applied.seq,
                occurred_at: applied.occurred_at.clone(),
                corrects: r.seq,
                corrects_type: r.event_type.clone(),
                reason: applied.reason.clone(),
                changes: applied.changes.iter().map(|c| c.shown()).collect(),
                by,
                signatures,
            });
        }
        Ok(())
    }
}

/// The product's name, UDI-DI and whether it is implantable.
fn product_of(store: &Store, product: &str) -> Result<Option<Product>, StoreError> {
    Ok(typed(
        store,
        "product.defined",
        EntityKind::Product,
        RefRole::Defines,
        product,
    )?
    .into_iter()
    .find(|r| r.text("product") == Some(product))
    .map(|defined| Product {
        product: product.to_owned(),
        name: defined.owned("name"),
        udi_di: defined.owned("udi_di"),
        implantable: defined.data["implantable"].as_bool().unwrap_or(false),
    }))
}

/// The seqs of the corrections of `r` that changed its measurement at `index`.
fn corrected_at(r: &Rec, index: usize) -> Vec<u64> {
    let prefix = format!("/data/measurements/{index}");
    r.corrections
        .iter()
        .filter(|c| {
            c.changes.iter().any(|change| {
                let path = change.path.to_string();
                path == prefix || path.starts_with(&format!("{prefix}/"))
            })
        })
        .map(|c| c.seq)
        .collect()
}

/// A measurement judged against `lsl` and `usl`.
pub(super) fn judged(
    m: &Value,
    name: String,
    lsl: Option<f64>,
    usl: Option<f64>,
    corrected_by: Vec<u64>,
) -> Measurement {
    let value = m["value"].as_f64();
    let in_limits = match (value, lsl.is_some() || usl.is_some()) {
        (Some(v), true) => Some(!(lsl.is_some_and(|l| v < l) || usl.is_some_and(|u| v > u))),
        (None, true) => Some(false),
        (_, false) => None,
    };
    Measurement {
        name,
        value,
        unit: m["unit"].as_str().map(str::to_owned),
        lsl,
        usl,
        in_limits,
        corrected_by,
    }
}

/// `name value unit`, as people read a measurement.
pub(super) fn shown(m: &Measurement) -> String {
    format!(
        "{} {} {}",
        m.name,
        m.value.map_or("?".to_owned(), |v| v.to_string()),
        m.unit.as_deref().unwrap_or("")
    )
    .trim_end()
    .to_owned()
}

/// Limits as people read them: `[lsl..usl]`, `[>= lsl]`, `[<= usl]`.
pub(super) fn limits(lsl: Option<f64>, usl: Option<f64>) -> String {
    match (lsl, usl) {
        (Some(l), Some(u)) => format!("[{l}..{u}]"),
        (Some(l), None) => format!("[>= {l}]"),
        (None, Some(u)) => format!("[<= {u}]"),
        (None, None) => "no limits".to_owned(),
    }
}

pub(super) fn describe_person(person: &Person) -> String {
    match &person.name {
        Some(name) => format!("{name} ({})", person.id),
        None => person.id.clone(),
    }
}

impl Builder<'_> {
    /// What can be judged only with every record read: the work order's label
    /// reconciliations, the environment, what the routing still lacks, release with an open
    /// nonconformance, the components' exceptions, the status and the approvals.
    fn finish(mut self, records: &[Rec]) -> Result<DeviceHistory, DeviceHistoryError> {
        self.reconciliations()?;
        if self.history.product.as_ref().is_some_and(|p| p.implantable) {
            let windows = std::mem::take(&mut self.area_windows);
            for (area, window) in &windows {
                let found = super::environment::area(self.store, area, *window)?;
                self.history.exceptions.extend(found.exceptions);
                self.history.environment.push(found.environment);
            }
        }
        self.routing_gaps();
        self.open_ncrs_at_release();
        self.component_exceptions();
        self.history.status = status(&self.history);
        if let Some(q) = self.history.quantities.as_mut() {
            q.not_produced = shortfall(q.ordered.as_deref(), q.produced.as_deref());
        }
        self.history.exceptions.sort_by(|a, b| {
            (a.seq.unwrap_or(u64::MAX), a.kind, &a.component).cmp(&(
                b.seq.unwrap_or(u64::MAX),
                b.kind,
                &b.component,
            ))
        });
        self.history.approvals = super::approvals::of(&mut self.people, records, &self.history)?;
        Ok(self.history)
    }

    /// Labels of the work order that do not reconcile: printed = applied + destroyed.
    fn reconciliations(&mut self) -> Result<(), StoreError> {
        let Some(order) = self
            .history
            .work_order
            .as_ref()
            .map(|w| w.work_order.clone())
        else {
            return Ok(());
        };
        for r in typed(
            self.store,
            "label.reconciled",
            EntityKind::WorkOrder,
            RefRole::References,
            &order,
        )? {
            let count = |name: &str| r.data[name].as_u64().unwrap_or(0);
            let (printed, applied, destroyed) =
                (count("printed"), count("applied"), count("destroyed"));
            let balanced = printed == applied + destroyed;
            if !balanced {
                self.raise(
                    ExceptionKind::LabelsNotReconciled,
                    Some(r.seq),
                    None,
                    format!("work order {order}: {printed} labels printed, {applied} applied and {destroyed} destroyed"),
                );
            }
            self.history.labels.reconciliations.push(Reconciliation {
                seq: r.seq,
                occurred_at: r.occurred_at.clone(),
                work_order: order.clone(),
                printed,
                applied,
                destroyed,
                balanced,
            });
        }
        Ok(())
    }

    /// Operations of the routing with no record, or whose last result is not a pass (not
    /// asked of a scrapped unit).
    fn routing_gaps(&mut self) {
        if self.history.scrap.is_some() {
            return;
        }
        let mut found = Vec::new();
        for operation in &self.routing.ops {
            match self.last_result.get(&operation.op) {
                None => found.push((
                    ExceptionKind::OperationNotPerformed,
                    None,
                    operation.op.clone(),
                    format!(
                        "op {} {} of the routing has no record",
                        operation.op, operation.name
                    ),
                )),
                Some((seq, result)) if result != "pass" => found.push((
                    ExceptionKind::OperationNotPassed,
                    Some(*seq),
                    operation.op.clone(),
                    format!(
                        "op {} {}: last result {result}",
                        operation.op, operation.name
                    ),
                )),
                _ => {}
            }
        }
        for (kind, seq, op, detail) in found {
            self.raise(kind, seq, Some(&op), detail);
        }
    }

    /// Released while a nonconformance opened before the release had no disposition
    /// recorded before it.
    fn open_ncrs_at_release(&mut self) {
        let Some(release) = self.history.release.as_ref().map(|r| r.seq) else {
            return;
        };
        let open: Vec<(String, u64)> = self
            .history
            .nonconformances
            .iter()
            .filter(|n| n.seq < release && n.disposition.as_ref().is_none_or(|d| d.seq > release))
            .map(|n| (n.ncr.clone(), n.seq))
            .collect();
        for (ncr, opened) in open {
            self.raise(
                ExceptionKind::ReleasedWithOpenNcr,
                Some(release),
                None,
                format!("released while {ncr} (opened seq {opened}) had no disposition"),
            );
        }
    }

    /// Each component still installed brings its exceptions (and its components',
    /// transitively), named by the component that shows them.
    fn component_exceptions(&mut self) {
        for (installed_at, exceptions) in std::mem::take(&mut self.pending_components) {
            let Some(component) = self
                .history
                .components
                .iter_mut()
                .find(|c| c.seq == installed_at && c.removed.is_none())
            else {
                continue;
            };
            component.exceptions = exceptions.len();
            let serial = component.component.clone();
            self.history
                .exceptions
                .extend(exceptions.into_iter().map(|mut e| {
                    e.component.get_or_insert_with(|| serial.clone());
                    e
                }));
        }
    }
}

fn status(history: &DeviceHistory) -> Status {
    if history.scrap.is_some() {
        Status::Scrapped
    } else if history.installed_in.is_some() {
        Status::Installed
    } else if !history.shipments.is_empty() {
        Status::Shipped
    } else if history.release.is_some() {
        Status::Released
    } else {
        Status::InProcess
    }
}

/// `ordered - produced` as a decimal string, when both are plain numbers and it is positive.
fn shortfall(ordered: Option<&str>, produced: Option<&str>) -> Option<String> {
    let ordered: f64 = ordered?.parse().ok()?;
    let produced: f64 = produced?.parse().ok()?;
    (ordered > produced).then(|| (ordered - produced).to_string())
}
