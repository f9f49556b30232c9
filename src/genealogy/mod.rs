//! Genealogy: what went into a unit or lot (backward), and where a unit or lot went
//! (forward), rebuilt from the records on demand. The rule, exactly: docs/recall.md.
//!
//! A projection: it reads the log through the store's entity index and the forward
//! genealogy table (every step is one indexed query, never a scan) and never writes. Links
//! it follows, each cited by the seq of the record that made it:
//!
//! - a component installed in a unit, across sites: descended whenever the ledger knows the
//!   component (a `unit.started` for it), with the scanned `component_udi` checked against it
//!   ([`component_udi_agreement`]); external only when unknown. A component removed again is
//!   shown as removed and not expanded: it is not part of the unit;
//! - a lot consumed by a unit, or by a work order (then by every unit and lot it made);
//! - a lot split from another, merged from others, produced by a work order, or received
//!   from a supplier (the end of a backward trace); splits and merges both ways;
//! - forward only: release, scrap, shipments and customers, complaints, and the recall
//!   summary counted from them.
//!
//! `model` is the data (`trace --json`), `backward` and `forward` build it, `summary` counts
//! a forward trace's scope, `render` draws it as text, CSV, DOT and Mermaid.

mod backward;
mod forward;
mod model;
mod render;
mod summary;
mod udi_agreement;

pub use model::{
    Complaint, CustomerScope, DeviceCounts, DeviceStatus, Direction, Facts, FinishedLot, Link,
    LinkKind, NodeKind, OpenComplaint, RecallSummary, Recorded, Shipment, TRACE_FORMAT, Trace,
    TraceNode, UdiMismatch,
};
pub use render::{render_dot, render_mermaid, render_text, write_csv, write_text};
pub use summary::{AffectedDevice, affected_devices, recall_summary};
pub use udi_agreement::{UdiAgreement, component_udi_agreement};

use crate::chain::Record;
use crate::event::EntityKind;
use crate::store::{LogFilter, Store, StoreError};
use serde_json::Value;
use std::ops::ControlFlow;

/// Beyond this depth a trace stops: no real bill of materials is this deep, so a deeper one
/// means a cycle in the data that the visited set did not catch.
const DEPTH_MAX: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum GenealogyError {
    /// What was asked for is no unit or lot the ledger knows, or a UDI that does not parse
    /// or names a device of another product (crate::subject).
    #[error(transparent)]
    Subject(#[from] crate::subject::SubjectError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl GenealogyError {
    pub fn kind(&self) -> crate::ErrorKind {
        match self {
            GenealogyError::Subject(e) => e.kind(),
            GenealogyError::Store(e) => e.kind(),
        }
    }
}

/// A record that names an entity, parsed.
struct Named {
    seq: u64,
    event_type: String,
    event: Value,
}

impl Named {
    /// `None` for an event that is not JSON: verify reports such a record, a trace skips it.
    fn parse(record: &Record) -> Option<Named> {
        let event: Value = serde_json::from_str(&record.event).ok()?;
        Some(Named {
            seq: record.seq,
            event_type: event["type"].as_str().unwrap_or("").to_owned(),
            event,
        })
    }

    fn data(&self) -> &Value {
        &self.event["data"]
    }
}

/// The records that name `id`, those of the types `wanted` parsed: a forward trace of a lot
/// in 10,000 devices visits each device, and parsing only what it reads (not every step
/// with its measurements) is most of its cost.
fn naming(
    store: &Store,
    id: &str,
    wanted: &dyn Fn(&str) -> bool,
) -> Result<Vec<Named>, StoreError> {
    let filter = LogFilter {
        entity: Some(id.to_owned()),
        ..LogFilter::default()
    };
    let mut out = Vec::new();
    store.for_each_logged(&filter, |record, event_type| {
        if wanted(event_type) {
            out.extend(Named::parse(record));
        }
        ControlFlow::Continue(())
    })?;
    Ok(out)
}

/// The records that define `id` as a `kind`, parsed: where a lot came from is in those
/// alone, not in the records of everything that consumed it.
fn defining(store: &Store, kind: EntityKind, id: &str) -> Result<Vec<Named>, StoreError> {
    Ok(store
        .records_defining(kind, id)?
        .iter()
        .filter_map(Named::parse)
        .collect())
}

fn text<'v>(data: &'v Value, field: &str) -> Option<&'v str> {
    data.get(field).and_then(Value::as_str)
}

fn owned(data: &Value, field: &str) -> Option<String> {
    text(data, field).map(str::to_owned)
}

/// Resolves what the user typed (a serial, a lot, or a UDI in any form) through the one UDI
/// front door, crate::subject.
fn resolve(store: &Store, input: &str) -> Result<(NodeKind, String), GenealogyError> {
    let subject = crate::subject::resolve(store, input)?;
    let kind = match subject.kind {
        crate::subject::SubjectKind::Unit => NodeKind::Unit,
        crate::subject::SubjectKind::Lot => NodeKind::Lot,
    };
    Ok((kind, subject.id))
}

/// What went into `input` (a unit or lot, by id or UDI), recursively, in one read snapshot.
///
/// # Errors
/// `Subject` (not found, a bad UDI, another product's UDI), or a database error.
pub fn backward(store: &Store, input: &str) -> Result<Trace, GenealogyError> {
    let _snapshot = store.read_snapshot()?;
    let (kind, id) = resolve(store, input)?;
    Ok(Trace {
        format: TRACE_FORMAT.to_owned(),
        direction: Direction::Backward,
        summary: None,
        root: backward::trace(store, kind, &id)?,
    })
}

/// Where `input` (a unit or lot, by id or UDI) went: every unit and lot that contains it, up
/// to the finished devices, with their release, shipments and customers, and the recall
/// summary counted from them.
///
/// Read from the forward genealogy the ledger keeps as it appends (a few rows per unit
/// reached); [`forward_from_log`] reads the same links from the records, and `verify
/// --derived` proves the two sources agree.
///
/// # Errors
/// `Subject` (not found, a bad UDI, another product's UDI), or a database error.
pub fn forward(store: &Store, input: &str) -> Result<Trace, GenealogyError> {
    forward_with(store, input, forward::Source::Table)
}

/// [`forward`] with the links read from the records themselves (each record naming a unit or
/// lot reached, through the entity index) rather than the forward genealogy table: the
/// reference the table is checked against, for whoever trusts nothing derived.
///
/// # Errors
/// `Subject` (not found, a bad UDI, another product's UDI), or a database error.
pub fn forward_from_log(store: &Store, input: &str) -> Result<Trace, GenealogyError> {
    forward_with(store, input, forward::Source::Records)
}

fn forward_with(
    store: &Store,
    input: &str,
    source: forward::Source,
) -> Result<Trace, GenealogyError> {
    let _snapshot = store.read_snapshot()?;
    let (kind, id) = resolve(store, input)?;
    let root = forward::trace(store, source, kind, &id)?;
    Ok(Trace {
        format: TRACE_FORMAT.to_owned(),
        direction: Direction::Forward,
        summary: Some(recall_summary(&root)),
        root,
    })
}
