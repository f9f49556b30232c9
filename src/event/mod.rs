//! The event vocabulary: the envelope every site sends, its types, the JSON Schemas that
//! define them, the canonical encoding, and the entities each event names.
//!
//! This layer is pure: no I/O, no storage, no clock. It turns one line of input into either a
//! [`ValidEvent`] ready to be sequenced, or a [`Rejection`] with a stable code and the field it
//! concerns. Whether the entities it names exist is the ledger's question, not this module's.

mod canonical;
mod envelope;
mod field_path;
mod refs;
mod schema;
mod strict_json;
mod trace_links;
mod unit_facts;

pub use canonical::{CanonicalError, canonical_json};
pub use envelope::{EnvelopeFields, envelope_fields};
pub use field_path::{FieldPath, FieldPathError, PathStep, apply_changes};
pub use refs::{EntityKind, EntityRef, RefRole, entity_refs};
pub use schema::{SchemaError, SchemaSet};
pub use trace_links::{
    LINKING_TYPES, LinkDetail, LinkSubject, Relation, TraceLink, correction_links, merged_sources,
    split_parts, trace_links,
};
pub use unit_facts::{UnitFact, unit_fact};

/// What the ledger's derived tables take from one event: its KPI fact and its forward
/// genealogy links.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFacts {
    pub unit: Option<UnitFact>,
    pub links: Vec<TraceLink>,
}

impl EventFacts {
    /// The facts `event` (a whole event object) states.
    pub fn of(event: &Value) -> EventFacts {
        EventFacts {
            unit: unit_fact(event),
            links: trace_links(event),
        }
    }
}

use serde_json::Value;
use std::fmt;

/// Every event type of the standard vocabulary (../shared/EVENTS.md), in the document's order.
pub const EVENT_TYPES: &[&str] = &[
    "site.registered",
    "person.registered",
    "person.qualified",
    "role.granted",
    "role.revoked",
    "key.registered",
    "key.revoked",
    "equipment.registered",
    "equipment.calibrated",
    "product.defined",
    "routing.released",
    "routing.configured",
    "change.released",
    "lot.received",
    "lot.dispositioned",
    "lot.split",
    "lot.merged",
    "lot.produced",
    "work_order.released",
    "unit.started",
    "material.consumed",
    "component.installed",
    "component.removed",
    "step.completed",
    "environment.recorded",
    "label.printed",
    "label.verified",
    "label.reconciled",
    "nonconformance.opened",
    "nonconformance.dispositioned",
    "unit.reworked",
    "unit.scrapped",
    "unit.released",
    "unit.shipped",
    "complaint.received",
    "unit.serviced",
    "signature.applied",
    "correction.recorded",
];

/// Why an input line was refused. The codes are stable: scripts and the rejects file use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectCode {
    InvalidUtf8,
    InvalidJson,
    LineTooLong,
    SchemaViolation,
    UnknownType,
    UnknownReference,
    AlreadyDefined,
    IdConflict,
    InvalidUdi,
    UdiMismatch,
    InvalidSignature,
    MissingSignature,
}

impl RejectCode {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectCode::InvalidUtf8 => "invalid_utf8",
            RejectCode::InvalidJson => "invalid_json",
            RejectCode::LineTooLong => "line_too_long",
            RejectCode::SchemaViolation => "schema_violation",
            RejectCode::UnknownType => "unknown_type",
            RejectCode::UnknownReference => "unknown_reference",
            RejectCode::AlreadyDefined => "already_defined",
            RejectCode::IdConflict => "id_conflict",
            RejectCode::InvalidUdi => "invalid_udi",
            RejectCode::UdiMismatch => "udi_mismatch",
            RejectCode::InvalidSignature => "invalid_signature",
            RejectCode::MissingSignature => "missing_signature",
        }
    }
}

impl fmt::Display for RejectCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused event: the rule broken, the field (a JSON pointer into the event) where it
/// applies, and a message for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub code: RejectCode,
    pub field: Option<String>,
    pub message: String,
}

impl Rejection {
    pub fn new(code: RejectCode, field: Option<String>, message: impl Into<String>) -> Self {
        Rejection {
            code,
            field,
            message: message.into(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) if !field.is_empty() => {
                write!(f, "{} at {}: {}", self.code, field, self.message)
            }
            _ => write!(f, "{}: {}", self.code, self.message),
        }
    }
}

/// An event that passed every check this layer can make on its own: JSON, schema, id rules.
#[derive(Debug, Clone)]
pub struct ValidEvent {
    /// The sender's id: the idempotency key.
    pub id: String,
    pub event_type: String,
    pub occurred_at: String,
    pub site: String,
    pub actor: Option<String>,
    /// RFC 8785 canonical JSON of the whole event: what is stored and hashed.
    pub canonical: String,
    pub value: Value,
}

impl ValidEvent {
    /// Parses and validates one line of input (already decoded as UTF-8, line end removed).
    ///
    /// # Errors
    /// A [`Rejection`] naming the first rule the line breaks (all schema violations are listed
    /// in its message).
    pub fn parse(line: &str, schemas: &SchemaSet) -> Result<ValidEvent, Rejection> {
        let value = strict_json::parse(line).map_err(|e| {
            Rejection::new(
                RejectCode::InvalidJson,
                None,
                format!("{} (column {})", json_error_text(&e), e.column()),
            )
        })?;
        Self::from_value(value, schemas)
    }

    /// Validates an already parsed event.
    ///
    /// # Errors
    /// As [`ValidEvent::parse`].
    pub fn from_value(value: Value, schemas: &SchemaSet) -> Result<ValidEvent, Rejection> {
        schemas.validate(&value)?;
        check_correction_paths(&value)?;
        let canonical = canonical_json(&value)
            .map_err(|e| Rejection::new(RejectCode::SchemaViolation, None, e.to_string()))?;
        // The schema guarantees these are strings; a miss here is a schema bug, reported as
        // bad input rather than a panic.
        let text = |name: &str| -> Result<String, Rejection> {
            value
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| {
                    Rejection::new(
                        RejectCode::SchemaViolation,
                        Some(format!("/{name}")),
                        "required string is missing",
                    )
                })
        };
        Ok(ValidEvent {
            id: text("id")?,
            event_type: text("type")?,
            occurred_at: text("occurred_at")?,
            site: text("site")?,
            actor: value
                .get("actor")
                .and_then(Value::as_str)
                .map(str::to_owned),
            canonical,
            value,
        })
    }
}

/// A correction's paths each name one field, and no two the same one (`data.a[0]` and
/// `/data/a/0` would make the value in force depend on member order).
fn check_correction_paths(event: &Value) -> Result<(), Rejection> {
    if event.get("type").and_then(Value::as_str) != Some("correction.recorded") {
        return Ok(());
    }
    let Some(changes) = event["data"].get("changes").and_then(Value::as_object) else {
        return Ok(());
    };
    let mut seen: std::collections::HashMap<String, &str> = std::collections::HashMap::new();
    for written in changes.keys() {
        let path = FieldPath::parse(written).map_err(|e| {
            Rejection::new(
                RejectCode::SchemaViolation,
                Some("/data/changes".to_owned()),
                e.to_string(),
            )
        })?;
        if let Some(first) = seen.insert(path.to_string(), written) {
            return Err(Rejection::new(
                RejectCode::SchemaViolation,
                Some("/data/changes".to_owned()),
                format!("{first:?} and {written:?} name the same field ({path})"),
            ));
        }
    }
    Ok(())
}

/// serde_json's message without its " at line L column C" suffix (we report our own place).
fn json_error_text(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(cut) => text[..cut].to_owned(),
        None => text,
    }
}
