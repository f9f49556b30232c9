//! The Device History Record (DHR, 21 CFR 820.184 / ISO 13485 7.5.9): everything done to a
//! unit, with what, by whom, on which equipment, and who released it, rebuilt from the log on
//! demand, every line citing the record it comes from, then the exceptions a reviewer must
//! look at (review by exception, EVENTS.md "What is refused, and what is only flagged").
//!
//! A projection: it reads records through the store's entity index and never writes.
//! Covered so far: identification, work order and routing, operations with operator,
//! equipment and measurements against the routing's limits (with the site's configuration),
//! materials and components, nonconformances with dispositions and rework, labels, release,
//! shipments, complaints and service, corrections next to what they correct. Exceptions:
//! failed steps, steps out of routing order, measurements outside limits, operators not qualified, equipment past its
//! calibration due date, lots on hold or expired when consumed, routing operations not
//! performed or not passed, release with an open nonconformance, label scans that do not
//! match the UDI, labels that do not reconcile. Text, JSON and a printable HTML page. For implantables, the clean-room
//! records of each area during the unit's time there. A lot of a lot-controlled product gets
//! the same record, its work order's steps and materials included.

use crate::event::{EntityKind, RefRole};
use crate::store::{LogFilter, Store, StoreError};
use crate::time::parse_rfc3339_millis;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;

#[derive(Debug, thiserror::Error)]
pub enum DeviceHistoryError {
    #[error(
        "{0} is not a unit or produced lot the ledger knows (no unit.started or lot.produced names it)"
    )]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One line of the record: what happened, when, and the record it comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    pub seq: u64,
    pub occurred_at: String,
    pub text: String,
}

/// Something a reviewer must look at before signing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exception {
    /// The record that shows it (none when something is missing).
    pub seq: Option<u64>,
    /// A stable name of the rule: `failed_step`, `out_of_limits`, ...
    pub rule: String,
    pub text: String,
}

/// The Device History Record of one unit. Field order is the document's order; `--json`
/// prints this structure, so its names are a stable interface.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceHistory {
    /// `unit` for a serialized device, `lot` for a lot of a lot-controlled product.
    pub subject: String,
    /// The unit's serial, or the lot.
    pub unit: String,
    pub product: Option<String>,
    pub product_name: Option<String>,
    pub udi_di: Option<String>,
    /// The site where it was started.
    pub site: Option<String>,
    pub udi: Option<String>,
    pub work_order: Option<String>,
    pub routing: Option<String>,
    pub started: Option<Line>,
    pub operations: Vec<Line>,
    pub materials: Vec<Line>,
    pub components: Vec<Line>,
    pub nonconformances: Vec<Line>,
    pub labels: Vec<Line>,
    pub release: Vec<Line>,
    pub shipments: Vec<Line>,
    pub after_shipment: Vec<Line>,
    pub corrections: Vec<Line>,
    /// For an implantable: the conditions of each controlled area while the unit was worked
    /// on there (ISO 13485 7.5.9.2), and the last reading before.
    pub environment: Vec<Line>,
    pub exceptions: Vec<Exception>,
    /// Signatures applied to this DHR as a whole (`signature.applied` with a `dhr` subject),
    /// each checked against the DHR as it stands. Not part of the digest that is signed.
    pub approvals: Vec<Approval>,
}

/// A signature on the DHR (21 CFR 820.184 review and approval), with what it still covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Approval {
    pub seq: u64,
    /// Printed name and person id of each signer, with meaning and time.
    pub signed_by: Vec<String>,
    pub meaning: String,
    /// The digest that was signed ([`digest`] of the DHR the signer was shown).
    pub digest: String,
    /// Records about this unit that came after the approval (the DHR changed since).
    pub changed_after: Vec<u64>,
    /// `matches`: the DHR as it stands is the one signed; `changed`: records came after;
    /// `differs`: nothing came after, yet the digest is of other content.
    pub status: String,
}

/// The digest a reviewer signs: BLAKE3 of the RFC 8785 canonical JSON of the DHR as
/// `dhr --json` prints it, without its approvals (hex).
pub fn digest(history: &DeviceHistory) -> String {
    let mut unsigned = history.clone();
    unsigned.approvals.clear();
    let value = serde_json::to_value(&unsigned).unwrap_or(Value::Null);
    let text = crate::event::canonical_json(&value).unwrap_or_default();
    blake3::hash(text.as_bytes()).to_hex().to_string()
}

impl DeviceHistory {
    /// The sections of lines in the document's order, with their titles: the one order every
    /// rendering follows.
    pub fn sections(&self) -> [(&'static str, Vec<&Line>); 11] {
        [
            ("Started", self.started.iter().collect()),
            ("Operations", self.operations.iter().collect()),
            (
                "Environment (controlled areas)",
                self.environment.iter().collect(),
            ),
            ("Materials", self.materials.iter().collect()),
            ("Components", self.components.iter().collect()),
            ("Nonconformances", self.nonconformances.iter().collect()),
            ("Labels", self.labels.iter().collect()),
            ("Release", self.release.iter().collect()),
            ("Shipments", self.shipments.iter().collect()),
            ("After shipment", self.after_shipment.iter().collect()),
            ("Corrections", self.corrections.iter().collect()),
        ]
    }
}

/// A record as the projection reads it.
struct Rec {
    seq: u64,
    id: String,
    event_type: String,
    occurred_at: String,
    actor: Option<String>,
    site: String,
    data: Value,
    signatures: Value,
}

impl Rec {
    /// A stored record, parsed; `None` if its event is not JSON (verify reports that).
    fn parse(record: &crate::chain::Record, event_type: &str) -> Option<Rec> {
        let mut event: Value = serde_json::from_str(&record.event).ok()?;
        let text = |name: &str| event.get(name).and_then(Value::as_str).map(str::to_owned);
        Some(Rec {
            seq: record.seq,
            id: text("id").unwrap_or_default(),
            event_type: event_type.to_owned(),
            occurred_at: text("occurred_at").unwrap_or_default(),
            actor: text("actor"),
            site: text("site").unwrap_or_default(),
            data: event["data"].take(),
            signatures: event["signatures"].take(),
        })
    }
}

fn records_naming(store: &Store, entity: &str) -> Result<Vec<Rec>, StoreError> {
    let filter = LogFilter {
        entity: Some(entity.to_owned()),
        ..LogFilter::default()
    };
    let mut out = Vec::new();
    store.for_each_logged(&filter, |record, event_type| {
        out.extend(Rec::parse(record, event_type));
        ControlFlow::Continue(())
    })?;
    Ok(out)
}

/// The records of one type that name `entity` as `kind` in `role` (see
/// `Store::records_of_type_naming`: cheap however often the entity is named elsewhere).
fn typed(
    store: &Store,
    event_type: &str,
    kind: EntityKind,
    role: RefRole,
    entity: &str,
) -> Result<Vec<Rec>, StoreError> {
    Ok(store
        .records_of_type_naming(event_type, kind, role, entity)?
        .iter()
        .filter_map(|record| Rec::parse(record, event_type))
        .collect())
}

fn text<'v>(data: &'v Value, field: &str) -> Option<&'v str> {
    data.get(field).and_then(Value::as_str)
}

/// The day (`YYYY-MM-DD`) of a timestamp as written, for comparing with date fields that the
/// site wrote in its own calendar.
fn day_of(timestamp: &str) -> &str {
    timestamp.get(..10).unwrap_or(timestamp)
}

/// Limits of one check: (lsl, usl).
type Limits = (Option<f64>, Option<f64>);

/// What the projection looks up once per DHR: people's names, the routing.
struct Context<'s> {
    store: &'s Store,
    names: HashMap<String, String>,
}

impl Context<'_> {
    fn person(&mut self, person: Option<&str>) -> Result<String, StoreError> {
        let Some(person) = person else {
            return Ok("(no actor)".to_owned());
        };
        if let Some(name) = self.names.get(person) {
            return Ok(name.clone());
        }
        let name = typed(
            self.store,
            "person.registered",
            EntityKind::Person,
            RefRole::Defines,
            person,
        )?
        .into_iter()
        .find(|r| text(&r.data, "person") == Some(person))
        .and_then(|r| text(&r.data, "name").map(|n| format!("{n} ({person})")))
        .unwrap_or_else(|| person.to_owned());
        self.names.insert(person.to_owned(), name.clone());
        Ok(name)
    }
}

/// Rebuilds the DHR of `unit`.
///
/// # Errors
/// `NotFound` if no `unit.started` names it; a database error.
pub fn device_history(store: &Store, unit: &str) -> Result<DeviceHistory, DeviceHistoryError> {
    let _snapshot = store.read_snapshot()?;
    let mut records = records_naming(store, unit)?;
    // A serialized unit begins with unit.started; a lot of a lot-controlled product with
    // lot.produced, and its record then also holds its work order's steps and materials.
    let mut lot_order: Option<String> = None;
    let started_at = match records
        .iter()
        .position(|r| r.event_type == "unit.started" && text(&r.data, "unit") == Some(unit))
    {
        Some(at) => at,
        None => {
            let at = records
                .iter()
                .position(|r| r.event_type == "lot.produced" && text(&r.data, "lot") == Some(unit))
                .ok_or_else(|| DeviceHistoryError::NotFound(unit.to_owned()))?;
            let order = text(&records[at].data, "work_order")
                .unwrap_or("")
                .to_owned();
            let produced_seq = records[at].seq;
            let mut merged = records_naming(store, &order)?;
            merged.retain(|r| r.seq != produced_seq);
            records.extend(merged);
            records.sort_by_key(|r| r.seq);
            records.dedup_by_key(|r| r.seq);
            lot_order = Some(order);
            records
                .iter()
                .position(|r| r.seq == produced_seq)
                .ok_or_else(|| DeviceHistoryError::NotFound(unit.to_owned()))?
        }
    };
    let started = &records[started_at];
    let mut context = Context {
        store,
        names: HashMap::new(),
    };
    let product = text(&started.data, "product").map(str::to_owned);
    let work_order = text(&started.data, "work_order").map(str::to_owned);
    let mut history = DeviceHistory {
        subject: if lot_order.is_some() { "lot" } else { "unit" }.to_owned(),
        unit: unit.to_owned(),
        product: product.clone(),
        product_name: None,
        udi_di: None,
        site: Some(started.site.clone()),
        udi: text(&started.data, "udi").map(str::to_owned),
        work_order: work_order.clone(),
        routing: None,
        started: Some(Line {
            seq: started.seq,
            occurred_at: started.occurred_at.clone(),
            text: match &lot_order {
                None => format!(
                    "started at {} by {}",
                    started.site,
                    context.person(started.actor.as_deref())?
                ),
                Some(_) => format!(
                    "lot of {} {} produced at {}",
                    text(&started.data, "quantity").unwrap_or("?"),
                    text(&started.data, "uom").unwrap_or(""),
                    started.site
                ),
            },
        }),
        operations: Vec::new(),
        materials: Vec::new(),
        components: Vec::new(),
        nonconformances: Vec::new(),
        labels: Vec::new(),
        release: Vec::new(),
        shipments: Vec::new(),
        after_shipment: Vec::new(),
        corrections: Vec::new(),
        environment: Vec::new(),
        exceptions: Vec::new(),
        approvals: Vec::new(),
    };
    let mut implantable = false;
    if let Some(product) = &product
        && let Some(defined) = typed(
            store,
            "product.defined",
            EntityKind::Product,
            RefRole::Defines,
            product,
        )?
        .into_iter()
        .find(|r| text(&r.data, "product") == Some(product))
    {
        history.product_name = text(&defined.data, "name").map(str::to_owned);
        implantable = defined.data["implantable"].as_bool().unwrap_or(false);
        history.udi_di = text(&defined.data, "udi_di").map(str::to_owned);
    }
    // The routing and version the work order used, and the limits of its checks.
    let mut limits: HashMap<(String, String), Limits> = HashMap::new();
    let mut routing_ops: BTreeMap<String, (String, bool)> = BTreeMap::new();
    if let Some(order) = &work_order
        && let Some(released) = typed(
            store,
            "work_order.released",
            EntityKind::WorkOrder,
            RefRole::Defines,
            order,
        )?
        .into_iter()
        .find(|r| text(&r.data, "work_order") == Some(order))
    {
        let routing = text(&released.data, "routing").unwrap_or("").to_owned();
        let version = text(&released.data, "version").unwrap_or("").to_owned();
        history.routing = Some(format!("{routing} version {version}"));
        for r in typed(
            store,
            "routing.released",
            EntityKind::Routing,
            RefRole::DefinesOrExtends,
            &routing,
        )? {
            if text(&r.data, "version") == Some(&version) {
                for operation in r.data["operations"].as_array().into_iter().flatten() {
                    let op = text(operation, "op").unwrap_or("").to_owned();
                    let name = text(operation, "name").unwrap_or("").to_owned();
                    let qualification = operation["qualification_required"]
                        .as_bool()
                        .unwrap_or(false);
                    routing_ops.insert(op.clone(), (name, qualification));
                    for check in operation["checks"].as_array().into_iter().flatten() {
                        let check_name = text(check, "name").unwrap_or("").to_owned();
                        limits.insert(
                            (op.clone(), check_name),
                            (check["lsl"].as_f64(), check["usl"].as_f64()),
                        );
                    }
                }
            }
        }
        // The site's configuration narrows the template's limits (routing.configured).
        let routing_version = format!("{routing}@{version}");
        for r in typed(
            store,
            "routing.configured",
            EntityKind::RoutingVersion,
            RefRole::References,
            &routing_version,
        )? {
            if text(&r.data, "site") == Some(started.site.as_str()) {
                for o in r.data["overrides"].as_array().into_iter().flatten() {
                    let key = (
                        text(o, "op").unwrap_or("").to_owned(),
                        text(o, "check").unwrap_or("").to_owned(),
                    );
                    let entry = limits.entry(key).or_insert((None, None));
                    if let Some(lsl) = o["lsl"].as_f64() {
                        entry.0 = Some(lsl);
                    }
                    if let Some(usl) = o["usl"].as_f64() {
                        entry.1 = Some(usl);
                    }
                }
            }
        }
    }
    // Each operation's last result, for the routing check at the end.
    let mut last_result: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut open_ncrs: BTreeMap<String, u64> = BTreeMap::new();
    // Controlled area -> (first, last) instant the unit was worked on there.
    let mut area_windows: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for r in &records {
        let data = &r.data;
        let about_me = match &lot_order {
            None => text(data, "unit") == Some(unit),
            // The lot's own records name it; its work order's steps and materials name the
            // work order.
            Some(order) => match r.event_type.as_str() {
                "step.completed" | "material.consumed" => {
                    text(data, "work_order") == Some(order.as_str())
                }
                _ => text(data, "lot") == Some(unit),
            },
        };
        let line = |text: String| Line {
            seq: r.seq,
            occurred_at: r.occurred_at.clone(),
            text,
        };
        match r.event_type.as_str() {
            "step.completed" if about_me => {
                let op = text(data, "op").unwrap_or("?").to_owned();
                let result = text(data, "result").unwrap_or("?").to_owned();
                // Out of order: an earlier operation of the routing has not passed yet.
                let skipped: Vec<&String> = routing_ops
                    .keys()
                    .take_while(|earlier| **earlier != op)
                    .filter(|earlier| last_result.get(*earlier).is_none_or(|(_, r)| r != "pass"))
                    .collect();
                if routing_ops.contains_key(&op) && !skipped.is_empty() {
                    let names: Vec<&str> = skipped.iter().map(|s| s.as_str()).collect();
                    history.exceptions.push(Exception {
                        seq: Some(r.seq),
                        rule: "out_of_order".to_owned(),
                        text: format!("op {op} done before op {} had passed", names.join(", ")),
                    });
                }
                let who = context.person(r.actor.as_deref())?;
                let equipment: Vec<&str> = data["equipment"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                let mut measured = Vec::new();
                for m in data["measurements"].as_array().into_iter().flatten() {
                    let name = text(m, "name").unwrap_or("?");
                    let value = m["value"].as_f64();
                    let unit_of = text(m, "unit").unwrap_or("");
                    let (lsl, usl) = limits
                        .get(&(op.clone(), name.to_owned()))
                        .copied()
                        .unwrap_or((None, None));
                    let shown_limits = match (lsl, usl) {
                        (Some(l), Some(u)) => format!(" [{l}..{u}]"),
                        (Some(l), None) => format!(" [>= {l}]"),
                        (None, Some(u)) => format!(" [<= {u}]"),
                        (None, None) => String::new(),
                    };
                    measured.push(format!(
                        "{name} {} {unit_of}{shown_limits}",
                        value.map_or("?".to_owned(), |v| v.to_string())
                    ));
                    if let Some(v) = value
                        && (lsl.is_some_and(|l| v < l) || usl.is_some_and(|u| v > u))
                    {
                        history.exceptions.push(Exception {
                            seq: Some(r.seq),
                            rule: "out_of_limits".to_owned(),
                            text: format!("op {op}: {name} {v} {unit_of} outside{shown_limits}"),
                        });
                    }
                }
                let op_name = routing_ops
                    .get(&op)
                    .map(|(n, _)| format!(" {n}"))
                    .unwrap_or_default();
                history.operations.push(line(format!(
                    "op {op}{op_name}: {result} at station {} by {who}{}{}",
                    text(data, "station").unwrap_or("?"),
                    if equipment.is_empty() {
                        String::new()
                    } else {
                        format!(", equipment {}", equipment.join(", "))
                    },
                    if measured.is_empty() {
                        String::new()
                    } else {
                        format!("; {}", measured.join("; "))
                    },
                )));
                if result != "pass" {
                    history.exceptions.push(Exception {
                        seq: Some(r.seq),
                        rule: "failed_step".to_owned(),
                        text: format!("op {op} {result}"),
                    });
                }
                if routing_ops.get(&op).is_some_and(|(_, required)| *required)
                    && !qualified(store, r.actor.as_deref(), &op, day_of(&r.occurred_at))?
                {
                    history.exceptions.push(Exception {
                        seq: Some(r.seq),
                        rule: "operator_not_qualified".to_owned(),
                        text: format!(
                            "op {op} by {who}, who held no valid qualification for it on {}",
                            day_of(&r.occurred_at)
                        ),
                    });
                }
                for item in &equipment {
                    if let Some(due) =
                        calibration_lapsed(store, item, r.seq, day_of(&r.occurred_at))?
                    {
                        history.exceptions.push(Exception {
                            seq: Some(r.seq),
                            rule: "calibration_past_due".to_owned(),
                            text: format!("equipment {item} used at op {op} on {} was due for calibration {due}", day_of(&r.occurred_at)),
                        });
                    }
                }
                if let Some(area) = text(data, "area") {
                    let end = parse_rfc3339_millis(&r.occurred_at).unwrap_or(0);
                    let start = text(data, "started_at")
                        .and_then(parse_rfc3339_millis)
                        .unwrap_or(end);
                    let window = area_windows.entry(area.to_owned()).or_insert((start, end));
                    window.0 = window.0.min(start);
                    window.1 = window.1.max(end);
                }
                last_result.insert(op, (r.seq, result));
            }
            "material.consumed" if about_me => {
                let lot = text(data, "lot").unwrap_or("?");
                history.materials.push(line(format!(
                    "lot {lot}: {} {} at op {}",
                    text(data, "quantity").unwrap_or("?"),
                    text(data, "uom").unwrap_or(""),
                    text(data, "op").unwrap_or("-")
                )));
                if let Some(problem) = lot_problem(store, lot, r)? {
                    history.exceptions.push(Exception {
                        seq: Some(r.seq),
                        rule: problem.0,
                        text: problem.1,
                    });
                }
            }
            "component.installed" if about_me => {
                let component = text(data, "component").unwrap_or("?");
                let origin = text(data, "component_udi")
                    .map(|u| format!(" (made elsewhere, UDI {u})"))
                    .unwrap_or_default();
                history.components.push(line(format!(
                    "installed {component}{origin} at op {}",
                    text(data, "op").unwrap_or("-")
                )));
            }
            "component.removed" if about_me => {
                history.components.push(line(format!(
                    "REMOVED {}: {}",
                    text(data, "component").unwrap_or("?"),
                    text(data, "reason").unwrap_or("")
                )));
            }
            "nonconformance.opened" if about_me => {
                let ncr = text(data, "ncr").unwrap_or("?").to_owned();
                history.nonconformances.push(line(format!(
                    "{ncr} opened: {}",
                    text(data, "description").unwrap_or("")
                )));
                open_ncrs.insert(ncr.clone(), r.seq);
                for follow in records_naming(store, &ncr)? {
                    let who = context.person(follow.actor.as_deref())?;
                    let follow_line = |text: String| Line {
                        seq: follow.seq,
                        occurred_at: follow.occurred_at.clone(),
                        text,
                    };
                    match follow.event_type.as_str() {
                        "nonconformance.dispositioned" => {
                            history.nonconformances.push(follow_line(format!(
                                "{ncr} dispositioned {} by {who}: {}",
                                text(&follow.data, "disposition").unwrap_or("?"),
                                text(&follow.data, "justification").unwrap_or("")
                            )));
                        }
                        "unit.reworked" => {
                            history.nonconformances.push(follow_line(format!(
                                "{ncr} rework at op {}: {}",
                                text(&follow.data, "op").unwrap_or("?"),
                                text(&follow.data, "description").unwrap_or("")
                            )));
                        }
                        _ => {}
                    }
                    // A disposition closes the NCR (use as is, rework, scrap, return).
                    if follow.event_type == "nonconformance.dispositioned" {
                        open_ncrs.remove(&ncr);
                    }
                }
            }
            "label.printed" if about_me => {
                let printed = text(data, "udi").unwrap_or("?");
                history.labels.push(line(format!("printed {printed}")));
            }
            "label.verified" if about_me => {
                let scanned = text(data, "scanned").unwrap_or("");
                let result = text(data, "result").unwrap_or("?");
                history
                    .labels
                    .push(line(format!("verified: {result}, scanned {scanned:?}")));
                let matches = history.udi.as_deref() == Some(scanned);
                if result == "pass" && !matches {
                    history.exceptions.push(Exception {
                        seq: Some(r.seq),
                        rule: "label_mismatch".to_owned(),
                        text: format!(
                            "scan {scanned:?} passed but is not the unit's UDI {:?}",
                            history.udi.as_deref().unwrap_or("")
                        ),
                    });
                }
            }
            "unit.released" if about_me => {
                let who = context.person(r.actor.as_deref())?;
                history.release.push(line(format!("released by {who}")));
                for (ncr, opened) in &open_ncrs {
                    history.exceptions.push(Exception {
                        seq: Some(r.seq),
                        rule: "released_with_open_ncr".to_owned(),
                        text: format!("released while {ncr} (seq {opened}) had no disposition"),
                    });
                }
            }
            "unit.scrapped" if about_me => {
                history.release.push(line(format!(
                    "SCRAPPED: {}",
                    text(data, "reason").unwrap_or("")
                )));
            }
            "unit.shipped" if about_me => {
                history.shipments.push(line(format!(
                    "shipment {} to {}{}",
                    text(data, "shipment").unwrap_or("?"),
                    text(data, "customer").unwrap_or("?"),
                    text(data, "ship_to")
                        .map(|s| format!(" ({s})"))
                        .unwrap_or_default()
                )));
            }
            "complaint.received" if about_me => {
                history.after_shipment.push(line(format!(
                    "complaint {}: {}",
                    text(data, "complaint").unwrap_or("?"),
                    text(data, "description").unwrap_or("")
                )));
            }
            "unit.serviced" if about_me => {
                history.after_shipment.push(line(format!(
                    "service {}: {}",
                    text(data, "service").unwrap_or("?"),
                    text(data, "description").unwrap_or("")
                )));
            }
            _ => {}
        }
        // Corrections of this record are shown next to it (21 CFR 11.10(e)): the original
        // line above stays as it was.
        for correction in typed(
            store,
            "correction.recorded",
            EntityKind::Event,
            RefRole::References,
            &r.id,
        )? {
            if text(&correction.data, "corrects") == Some(r.id.as_str()) {
                history.corrections.push(Line {
                    seq: correction.seq,
                    occurred_at: correction.occurred_at.clone(),
                    text: format!(
                        "corrects seq {} ({}): {} because {}",
                        r.seq,
                        r.event_type,
                        correction.data["changes"],
                        text(&correction.data, "reason").unwrap_or("")
                    ),
                });
            }
        }
    }
    // Labels of the work order that do not reconcile: printed = applied + destroyed.
    if let Some(order) = &work_order {
        for r in typed(
            store,
            "label.reconciled",
            EntityKind::WorkOrder,
            RefRole::References,
            order,
        )? {
            let count = |name: &str| r.data[name].as_u64().unwrap_or(0);
            let (printed, applied, destroyed) =
                (count("printed"), count("applied"), count("destroyed"));
            if printed != applied + destroyed {
                history.exceptions.push(Exception {
                    seq: Some(r.seq),
                    rule: "labels_not_reconciled".to_owned(),
                    text: format!(
                        "work order {order}: {printed} labels printed, {applied} applied and {destroyed} destroyed"
                    ),
                });
            }
        }
    }
    if implantable {
        for (area, window) in &area_windows {
            environment_in(store, area, *window, &mut history)?;
        }
    }
    let scrapped = history
        .release
        .iter()
        .any(|l| l.text.starts_with("SCRAPPED"));
    if !scrapped {
        for (op, (name, _)) in &routing_ops {
            match last_result.get(op) {
                None => history.exceptions.push(Exception {
                    seq: None,
                    rule: "operation_not_performed".to_owned(),
                    text: format!("op {op} {name} of the routing has no record"),
                }),
                Some((seq, result)) if result != "pass" => history.exceptions.push(Exception {
                    seq: Some(*seq),
                    rule: "operation_not_passed".to_owned(),
                    text: format!("op {op} {name}: last result {result}"),
                }),
                _ => {}
            }
        }
    }
    history
        .exceptions
        .sort_by_key(|e| (e.seq.unwrap_or(u64::MAX), e.rule.clone()));
    history.approvals = approvals(&mut context, &records, &history, unit)?;
    Ok(history)
}

/// The DHR approvals among `records`, each judged against `history` as it stands.
fn approvals(
    context: &mut Context<'_>,
    records: &[Rec],
    history: &DeviceHistory,
    unit: &str,
) -> Result<Vec<Approval>, StoreError> {
    let current = digest(history);
    let mut cited: Vec<u64> = history
        .sections()
        .iter()
        .flat_map(|(_, lines)| lines.iter().map(|l| l.seq))
        .chain(history.exceptions.iter().filter_map(|e| e.seq))
        .collect();
    cited.sort_unstable();
    cited.dedup();
    let mut out = Vec::new();
    for r in records
        .iter()
        .filter(|r| r.event_type == "signature.applied")
    {
        let subject = &r.data["subject"];
        if subject.get("projection").and_then(Value::as_str) != Some("dhr")
            || subject.get("entity").and_then(Value::as_str) != Some(unit)
        {
            continue;
        }
        let signed = text(subject, "digest").unwrap_or_default().to_owned();
        let mut signed_by = Vec::new();
        for entry in r.signatures.as_array().into_iter().flatten() {
            let name = context.person(entry.get("signer").and_then(Value::as_str))?;
            signed_by.push(format!(
                "{name}, {} at {}",
                entry.get("meaning").and_then(Value::as_str).unwrap_or("?"),
                entry
                    .get("signed_at")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
            ));
        }
        let changed_after: Vec<u64> = cited.iter().copied().filter(|s| *s > r.seq).collect();
        let status = if !changed_after.is_empty() {
            "changed"
        } else if signed == current {
            "matches"
        } else {
            "differs"
        };
        out.push(Approval {
            seq: r.seq,
            signed_by,
            meaning: text(&r.data, "meaning").unwrap_or_default().to_owned(),
            digest: signed,
            changed_after,
            status: status.to_owned(),
        });
    }
    Ok(out)
}

impl Approval {
    /// One sentence for people.
    pub fn describe(&self) -> String {
        let by = if self.signed_by.is_empty() {
            "nobody".to_owned()
        } else {
            self.signed_by.join("; ")
        };
        let state = match self.status.as_str() {
            "matches" => "the DHR as it stands is the one signed".to_owned(),
            "changed" => format!(
                "changed after approval: seq {}",
                self.changed_after
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => "the signed digest is not this DHR's (another content was signed)".to_owned(),
        };
        format!("{} ({by}): {state}", self.meaning)
    }
}

/// The environment records of `area` from the last one before `window` to its end, each
/// reading checked against the limits recorded with it.
fn environment_in(
    store: &Store,
    area: &str,
    (start, end): (i64, i64),
    history: &mut DeviceHistory,
) -> Result<(), StoreError> {
    // Through the area's readings by time: the cost is the answer's, however long the area
    // has been recorded.
    let readings: Vec<Rec> = store
        .records_at(&store.area_readings(area, start, end)?)?
        .iter()
        .filter_map(|record| Rec::parse(record, "environment.recorded"))
        .collect();
    let mut shown = 0;
    for r in &readings {
        shown += 1;
        let mut values = Vec::new();
        for m in r.data["measurements"].as_array().into_iter().flatten() {
            let name = text(m, "name").unwrap_or("?");
            let unit = text(m, "unit").unwrap_or("");
            let value = m["value"].as_f64();
            values.push(format!(
                "{name} {} {unit}",
                value.map_or("?".to_owned(), |v| v.to_string())
            ));
            if let Some(v) = value
                && (m["lsl"].as_f64().is_some_and(|l| v < l)
                    || m["usl"].as_f64().is_some_and(|u| v > u))
            {
                history.exceptions.push(Exception {
                    seq: Some(r.seq),
                    rule: "environment_out_of_limits".to_owned(),
                    text: format!("area {area}: {name} {v} {unit} outside its limits while the unit was worked there"),
                });
            }
        }
        history.environment.push(Line {
            seq: r.seq,
            occurred_at: r.occurred_at.clone(),
            text: format!(
                "area {area} (sensor {}): {}",
                text(&r.data, "sensor").unwrap_or("?"),
                values.join("; ")
            ),
        });
    }
    if shown == 0 {
        history.exceptions.push(Exception {
            seq: None,
            rule: "environment_not_recorded".to_owned(),
            text: format!(
                "no environment record of area {area} covers the time the unit was worked there"
            ),
        });
    }
    Ok(())
}

/// Whether `person` held a qualification for `op` valid on `day`.
fn qualified(store: &Store, person: Option<&str>, op: &str, day: &str) -> Result<bool, StoreError> {
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
    .any(|r| {
        text(&r.data, "person") == Some(person)
            && text(&r.data, "op") == Some(op)
            && day_of(&r.occurred_at) <= day
            && text(&r.data, "valid_until").is_some_and(|until| until >= day)
    }))
}

/// The due date if `equipment`'s latest calibration before `seq` was due before `day`.
fn calibration_lapsed(
    store: &Store,
    equipment: &str,
    seq: u64,
    day: &str,
) -> Result<Option<String>, StoreError> {
    let latest = typed(
        store,
        "equipment.calibrated",
        EntityKind::Equipment,
        RefRole::References,
        equipment,
    )?
    .into_iter()
    .rfind(|r| r.seq < seq);
    Ok(match latest {
        Some(r) => text(&r.data, "due")
            .filter(|due| *due < day)
            .map(str::to_owned),
        None => Some("(never calibrated)".to_owned()),
    })
}

/// A lot consumed while on hold or rejected, or after its expiry date.
fn lot_problem(
    store: &Store,
    lot: &str,
    consumed: &Rec,
) -> Result<Option<(String, String)>, StoreError> {
    let mut disposition = None;
    let mut expires = None;
    // By type, not every record that names the lot: a lot used in 10,000 units is named
    // by 10,000 consumptions.
    let dispositions = typed(
        store,
        "lot.dispositioned",
        EntityKind::Lot,
        RefRole::References,
        lot,
    )?;
    let receipts = typed(
        store,
        "lot.received",
        EntityKind::Lot,
        RefRole::Defines,
        lot,
    )?;
    let mut before: Vec<&Rec> = dispositions
        .iter()
        .chain(receipts.iter())
        .filter(|r| r.seq < consumed.seq)
        .collect();
    before.sort_by_key(|r| r.seq);
    for r in before {
        match r.event_type.as_str() {
            "lot.dispositioned" if text(&r.data, "lot") == Some(lot) => {
                disposition = text(&r.data, "disposition").map(|d| (d.to_owned(), r.seq));
            }
            "lot.received" if text(&r.data, "lot") == Some(lot) => {
                expires = text(&r.data, "expires").map(str::to_owned);
            }
            _ => {}
        }
    }
    if let Some((state, seq)) = disposition.filter(|(d, _)| d != "released") {
        return Ok(Some((
            "lot_not_released".to_owned(),
            format!("lot {lot} consumed while {state} (seq {seq})"),
        )));
    }
    let day = day_of(&consumed.occurred_at);
    if let Some(expiry) = expires.filter(|e| e.as_str() < day) {
        return Ok(Some((
            "lot_expired".to_owned(),
            format!("lot {lot} consumed on {day}, expired {expiry}"),
        )));
    }
    Ok(None)
}

/// The DHR as text for people: sections in the document's order, every line with its seq.
pub fn render_text(history: &DeviceHistory) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "DEVICE HISTORY RECORD  {} {}\n",
        history.subject, history.unit
    ));
    let field = |out: &mut String, name: &str, value: &Option<String>| {
        out.push_str(&format!(
            "  {name:<14}{}\n",
            value.as_deref().unwrap_or("-")
        ));
    };
    field(
        &mut out,
        "product",
        &history
            .product
            .as_ref()
            .map(|p| format!("{p} {}", history.product_name.as_deref().unwrap_or(""))),
    );
    field(&mut out, "UDI-DI", &history.udi_di);
    field(&mut out, "UDI", &history.udi);
    field(&mut out, "work order", &history.work_order);
    field(&mut out, "routing", &history.routing);
    for (title, lines) in history.sections() {
        if lines.is_empty() {
            continue;
        }
        out.push_str(&format!("\n{title}\n"));
        for line in lines {
            out.push_str(&format!(
                "  [seq {:>7}] {}  {}\n",
                line.seq, line.occurred_at, line.text
            ));
        }
    }
    out.push_str(&format!("\nExceptions ({})\n", history.exceptions.len()));
    if history.exceptions.is_empty() {
        out.push_str("  none\n");
    }
    for exception in &history.exceptions {
        let seq = exception
            .seq
            .map_or("       -".to_owned(), |s| format!("{s:>7}"));
        out.push_str(&format!(
            "  [seq {seq}] {}: {}\n",
            exception.rule, exception.text
        ));
    }
    out.push_str(&format!("\nApprovals ({})\n", history.approvals.len()));
    if history.approvals.is_empty() {
        out.push_str("  none\n");
    }
    for approval in &history.approvals {
        out.push_str(&format!(
            "  [seq {:>7}] {}\n",
            approval.seq,
            approval.describe()
        ));
    }
    out.push_str(&format!("\ndigest {}\n", digest(history)));
    out
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The DHR as one self-contained, printable HTML page (no scripts, no external resources),
/// with a sign-off block for the reviewer.
pub fn render_html(history: &DeviceHistory) -> String {
    let e = escape_html;
    let mut out = String::new();
    out.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>DHR {}</title>\n",
        e(&history.unit)
    ));
    out.push_str(
        "<style>
body{font-family:system-ui,sans-serif;font-size:11pt;margin:2em;color:#111}
h1{font-size:16pt;margin-bottom:.2em}h2{font-size:12pt;border-bottom:1px solid #999;margin-top:1.4em}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #bbb;padding:3px 6px;vertical-align:top;text-align:left}
th{background:#eee}td.seq{font-family:monospace;white-space:nowrap;width:6em}td.time{white-space:nowrap;width:15em}
.exceptions td{background:#fff4e5}.none{color:#555}.signoff td{height:2.4em}
@media print{body{margin:1cm}h2{page-break-after:avoid}tr{page-break-inside:avoid}}
</style></head><body>\n",
    );
    out.push_str(&format!(
        "<h1>Device History Record &mdash; {} {}</h1>\n<table>\n",
        e(&history.subject),
        e(&history.unit)
    ));
    let product = history
        .product
        .as_ref()
        .map(|p| format!("{p} {}", history.product_name.as_deref().unwrap_or("")));
    for (name, value) in [
        ("Product", &product),
        ("UDI-DI", &history.udi_di),
        ("UDI", &history.udi),
        ("Work order", &history.work_order),
        ("Routing", &history.routing),
    ] {
        out.push_str(&format!(
            "<tr><th>{name}</th><td>{}</td></tr>\n",
            e(value.as_deref().unwrap_or("-"))
        ));
    }
    out.push_str("</table>\n");
    for (title, lines) in history.sections() {
        out.push_str(&format!("<h2>{title}</h2>\n"));
        if lines.is_empty() {
            out.push_str("<p class=\"none\">none recorded</p>\n");
            continue;
        }
        out.push_str("<table><tr><th>seq</th><th>occurred</th><th>record</th></tr>\n");
        for line in lines {
            out.push_str(&format!(
                "<tr><td class=\"seq\">{}</td><td class=\"time\">{}</td><td>{}</td></tr>\n",
                line.seq,
                e(&line.occurred_at),
                e(&line.text)
            ));
        }
        out.push_str("</table>\n");
    }
    out.push_str(&format!(
        "<h2>Exceptions ({})</h2>\n",
        history.exceptions.len()
    ));
    if history.exceptions.is_empty() {
        out.push_str("<p class=\"none\">none</p>\n");
    } else {
        out.push_str(
            "<table class=\"exceptions\"><tr><th>seq</th><th>rule</th><th>finding</th></tr>\n",
        );
        for exception in &history.exceptions {
            out.push_str(&format!(
                "<tr><td class=\"seq\">{}</td><td>{}</td><td>{}</td></tr>\n",
                exception.seq.map_or("-".to_owned(), |s| s.to_string()),
                e(&exception.rule),
                e(&exception.text)
            ));
        }
        out.push_str("</table>\n");
    }
    out.push_str(&format!(
        "<h2>Approvals ({})</h2>\n",
        history.approvals.len()
    ));
    if history.approvals.is_empty() {
        out.push_str("<p class=\"none\">none</p>\n");
    } else {
        out.push_str("<table><tr><th>seq</th><th>approval</th></tr>\n");
        for approval in &history.approvals {
            out.push_str(&format!(
                "<tr><td class=\"seq\">{}</td><td>{}</td></tr>\n",
                approval.seq,
                e(&approval.describe())
            ));
        }
        out.push_str("</table>\n");
    }
    out.push_str(&format!(
        "<p>DHR digest <code>{}</code></p>\n",
        digest(history)
    ));
    out.push_str(
        "<h2>Review</h2>\n<table class=\"signoff\"><tr><th>Reviewed by (printed name)</th><td></td></tr>\n\
         <tr><th>Signature</th><td></td></tr><tr><th>Date</th><td></td></tr>\n\
         <tr><th>Exceptions dispositioned</th><td></td></tr></table>\n</body></html>\n",
    );
    out
}
