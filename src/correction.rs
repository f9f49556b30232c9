//! Corrections in force: a `correction.recorded` replaces fields of an earlier event from then
//! on, while the original stays in the log and stays visible (21 CFR 11.10(e)). Projections
//! read an event as corrected, judge it on the corrected values, and show each change old ->
//! new with who signed it.
//!
//! The rule (docs/dhr.md, "Corrections"): the corrections of an event apply in seq order; each
//! change sets the field its path names ([`FieldPath`], any of the three written forms), and
//! a later correction of the same field wins. A change whose path does not resolve in the
//! event (an index beyond the array, a member of a value that is not an object) changes
//! nothing and is shown as not applied.

use crate::chain::Record;
use crate::event::{EntityKind, FieldPath, RefRole};
use crate::store::{Store, StoreError};
use serde::Serialize;
use serde_json::Value;

/// One change as projections show it: the path as a JSON Pointer, old -> new.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub path: String,
    /// The value before this correction (`null`: the field was absent).
    pub old: Option<Value>,
    pub new: Value,
    /// Whether the path resolved in the corrected event (a change that did not is shown,
    /// never silently dropped).
    pub applied: bool,
}

impl AppliedChange {
    pub fn shown(&self) -> Change {
        Change {
            path: self.path.to_string(),
            old: self.old.clone(),
            new: self.new.clone(),
            applied: self.applied,
        }
    }
}

/// One change of a correction, as applied.
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedChange {
    pub path: FieldPath,
    /// The value before this correction (`None`: the field was absent).
    pub old: Option<Value>,
    pub new: Value,
    /// Whether the path resolved in the event.
    pub applied: bool,
}

/// A correction of one event, as applied to it.
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedCorrection {
    pub seq: u64,
    pub occurred_at: String,
    pub actor: Option<String>,
    pub reason: Option<String>,
    pub signatures: Value,
    pub changes: Vec<AppliedChange>,
}

/// The `correction.recorded` records of the event `event_id`, in seq order.
///
/// # Errors
/// A database error.
pub fn corrections_of(store: &Store, event_id: &str) -> Result<Vec<Record>, StoreError> {
    let records = store.records_of_type_naming(
        "correction.recorded",
        EntityKind::Event,
        RefRole::References,
        event_id,
    )?;
    Ok(records
        .into_iter()
        .filter(|record| {
            serde_json::from_str::<Value>(&record.event)
                .ok()
                .is_some_and(|e| e["data"]["corrects"].as_str() == Some(event_id))
        })
        .collect())
}

/// Applies `corrections` (records of `correction.recorded`, in seq order) to `event` (a whole
/// event object), returning what each changed.
pub fn apply(event: &mut Value, corrections: &[Record]) -> Vec<AppliedCorrection> {
    let mut out = Vec::with_capacity(corrections.len());
    for record in corrections {
        let Ok(correction) = serde_json::from_str::<Value>(&record.event) else {
            continue;
        };
        let data = &correction["data"];
        let mut changes = Vec::new();
        for (written, new) in data["changes"].as_object().into_iter().flatten() {
            // Ingest refuses a path that does not parse; a record that holds one anyway is
            // skipped here and reported by verify, not guessed at.
            let Ok(path) = FieldPath::parse(written) else {
                continue;
            };
            let old = path.get(event).cloned();
            let applied = path.set(event, new.clone());
            changes.push(AppliedChange {
                path,
                old,
                new: new.clone(),
                applied,
            });
        }
        let text = |name: &str| correction[name].as_str().map(str::to_owned);
        out.push(AppliedCorrection {
            seq: record.seq,
            occurred_at: text("occurred_at").unwrap_or_default(),
            actor: text("actor"),
            reason: data["reason"].as_str().map(str::to_owned),
            signatures: correction["signatures"].clone(),
            changes,
        });
    }
    out
}

/// `record`'s event as it stands after its corrections, with the corrections applied.
///
/// # Errors
/// A database error; `None` in the event for a record that is not JSON (verify reports it).
pub fn in_force(
    store: &Store,
    record: &Record,
) -> Result<Option<(Value, Vec<AppliedCorrection>)>, StoreError> {
    let Ok(mut event) = serde_json::from_str::<Value>(&record.event) else {
        return Ok(None);
    };
    let Some(id) = event["id"].as_str().map(str::to_owned) else {
        return Ok(Some((event, Vec::new())));
    };
    let corrections = corrections_of(store, &id)?;
    let applied = apply(&mut event, &corrections);
    Ok(Some((event, applied)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn correction(seq: u64, changes: Value) -> Record {
        let event = json!({"id": format!("c{seq}"), "type": "correction.recorded",
            "occurred_at": "2026-11-21T10:00:00Z", "actor": "p-1",
            "data": {"corrects": "e1", "reason": "misread", "changes": changes}});
        Record {
            seq,
            recorded_at: String::new(),
            prev: crate::chain::GENESIS_PREV,
            hash: crate::chain::GENESIS_PREV,
            event: event.to_string(),
        }
    }

    #[test]
    fn corrections_apply_in_order_and_keep_the_old_values() {
        let mut event = json!({"id": "e1", "data": {"measurements": [
            {"name": "screw torque", "value": 0.61, "unit": "N.m"}]}});
        let applied = apply(
            &mut event,
            &[
                correction(10, json!({"data.measurements[0].value": 0.71})),
                correction(
                    12,
                    json!({"/data/measurements/0/value": 0.66, "data.lot": "L2"}),
                ),
            ],
        );
        assert_eq!(event["data"]["measurements"][0]["value"], json!(0.66));
        assert_eq!(event["data"]["lot"], json!("L2"));
        assert_eq!(applied[0].changes[0].old, Some(json!(0.61)));
        assert_eq!(applied[1].changes[0].old, Some(json!(0.71)));
        assert!(applied[1].changes.iter().all(|c| c.applied));
        assert_eq!(
            applied[0].changes[0].path.to_string(),
            "/data/measurements/0/value"
        );
    }

    #[test]
    fn a_change_beyond_the_event_is_shown_as_not_applied() {
        let mut event = json!({"id": "e1", "data": {"measurements": []}});
        let applied = apply(
            &mut event,
            &[correction(10, json!({"data.measurements.2.value": 1}))],
        );
        assert!(!applied[0].changes[0].applied);
        assert_eq!(event["data"]["measurements"], json!([]));
    }
}
