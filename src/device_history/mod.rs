//! The Device History Record (DHR, 21 CFR 820.184 / ISO 13485 7.5.9): everything done to a
//! unit, with what, by whom, on which equipment, and who released it, rebuilt from the log on
//! demand, every fact citing the record it comes from, then the exceptions a reviewer must
//! look at (review by exception). A lot of a lot-controlled product gets the same record, its
//! work order's steps, materials and labels included.
//!
//! A projection: it reads records through the store's entity index and never writes. It is a
//! typed model first ([`model`], the JSON of `dhr --json`); text and HTML are renderings of
//! it ([`render`]). Records are read in force: their corrections applied (docs/dhr.md,
//! "Corrections"), the originals kept beside them.
//!
//! - `records`: reading the subject's records, corrections applied; people and signatures;
//! - `build`: one function per event type filling the model and raising exceptions;
//! - `checks`: the lookups behind exceptions (routing limits, qualifications, calibration,
//!   lot disposition, UDIs compared element by element);
//! - `environment`: an implantable's controlled areas, every sensor;
//! - `approvals`: signatures on the DHR as a whole, checked against it as it stands.

mod approvals;
mod build;
mod checks;
mod environment;
pub mod model;
mod records;
pub mod render;

pub use model::*;
pub use render::{render_html, render_text};

use crate::store::{Store, StoreError};
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum DeviceHistoryError {
    #[error(
        "{0} is not a unit or produced lot the ledger knows (no unit.started or lot.produced names it)"
    )]
    NotFound(String),
    #[error(transparent)]
    Subject(#[from] crate::subject::SubjectError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DeviceHistoryError {
    pub fn kind(&self) -> crate::ErrorKind {
        match self {
            DeviceHistoryError::NotFound(_) => crate::ErrorKind::NotFound,
            DeviceHistoryError::Subject(e) => e.kind(),
            DeviceHistoryError::Store(e) => e.kind(),
        }
    }
}

/// Rebuilds the DHR of `id` (a unit's serial or a produced lot), in one read snapshot.
///
/// # Errors
/// `NotFound` if no `unit.started` or `lot.produced` names it; a database error.
pub fn device_history(store: &Store, id: &str) -> Result<DeviceHistory, DeviceHistoryError> {
    let _snapshot = store.read_snapshot()?;
    build::build(store, id, &mut Vec::new())
}

/// The DHR of what `input` names: a serial, a lot, or a UDI in any printed or scanned form
/// (crate::subject).
///
/// # Errors
/// As [`crate::subject::resolve`] and [`device_history`].
pub fn device_history_of(store: &Store, input: &str) -> Result<DeviceHistory, DeviceHistoryError> {
    let _snapshot = store.read_snapshot()?;
    let subject = crate::subject::resolve(store, input)?;
    build::build(store, &subject.id, &mut Vec::new())
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
