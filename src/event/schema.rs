//! The JSON Schemas (draft 2020-12) of the envelope and of each event type's `data`, embedded
//! in the binary from `schemas/`, compiled once, and applied to every input event.
//!
//! The schemas are the precise form of ../shared/EVENTS.md; this module only runs them and
//! turns their findings into a [`Rejection`] that names the field.

use super::{EVENT_TYPES, RejectCode, Rejection};
use jsonschema::{Registry, ValidationError, Validator, error::ValidationErrorKind};
use serde_json::Value;
use std::collections::HashMap;

const COMMON: &str = include_str!("../../schemas/common.schema.json");
const ENVELOPE: &str = include_str!("../../schemas/envelope.schema.json");

/// One schema per type of [`EVENT_TYPES`], same order; a unit test keeps the two in step.
const TYPE_SCHEMAS: &[(&str, &str)] = &[
    (
        "site.registered",
        include_str!("../../schemas/site.registered.schema.json"),
    ),
    (
        "person.registered",
        include_str!("../../schemas/person.registered.schema.json"),
    ),
    (
        "person.qualified",
        include_str!("../../schemas/person.qualified.schema.json"),
    ),
    (
        "role.granted",
        include_str!("../../schemas/role.granted.schema.json"),
    ),
    (
        "role.revoked",
        include_str!("../../schemas/role.revoked.schema.json"),
    ),
    (
        "key.registered",
        include_str!("../../schemas/key.registered.schema.json"),
    ),
    (
        "key.revoked",
        include_str!("../../schemas/key.revoked.schema.json"),
    ),
    (
        "equipment.registered",
        include_str!("../../schemas/equipment.registered.schema.json"),
    ),
    (
        "equipment.calibrated",
        include_str!("../../schemas/equipment.calibrated.schema.json"),
    ),
    (
        "product.defined",
        include_str!("../../schemas/product.defined.schema.json"),
    ),
    (
        "routing.released",
        include_str!("../../schemas/routing.released.schema.json"),
    ),
    (
        "routing.configured",
        include_str!("../../schemas/routing.configured.schema.json"),
    ),
    (
        "change.released",
        include_str!("../../schemas/change.released.schema.json"),
    ),
    (
        "lot.received",
        include_str!("../../schemas/lot.received.schema.json"),
    ),
    (
        "lot.dispositioned",
        include_str!("../../schemas/lot.dispositioned.schema.json"),
    ),
    (
        "lot.split",
        include_str!("../../schemas/lot.split.schema.json"),
    ),
    (
        "lot.merged",
        include_str!("../../schemas/lot.merged.schema.json"),
    ),
    (
        "lot.produced",
        include_str!("../../schemas/lot.produced.schema.json"),
    ),
    (
        "work_order.released",
        include_str!("../../schemas/work_order.released.schema.json"),
    ),
    (
        "unit.started",
        include_str!("../../schemas/unit.started.schema.json"),
    ),
    (
        "material.consumed",
        include_str!("../../schemas/material.consumed.schema.json"),
    ),
    (
        "component.installed",
        include_str!("../../schemas/component.installed.schema.json"),
    ),
    (
        "component.removed",
        include_str!("../../schemas/component.removed.schema.json"),
    ),
    (
        "step.completed",
        include_str!("../../schemas/step.completed.schema.json"),
    ),
    (
        "environment.recorded",
        include_str!("../../schemas/environment.recorded.schema.json"),
    ),
    (
        "label.printed",
        include_str!("../../schemas/label.printed.schema.json"),
    ),
    (
        "label.verified",
        include_str!("../../schemas/label.verified.schema.json"),
    ),
    (
        "label.reconciled",
        include_str!("../../schemas/label.reconciled.schema.json"),
    ),
    (
        "nonconformance.opened",
        include_str!("../../schemas/nonconformance.opened.schema.json"),
    ),
    (
        "nonconformance.dispositioned",
        include_str!("../../schemas/nonconformance.dispositioned.schema.json"),
    ),
    (
        "unit.reworked",
        include_str!("../../schemas/unit.reworked.schema.json"),
    ),
    (
        "unit.scrapped",
        include_str!("../../schemas/unit.scrapped.schema.json"),
    ),
    (
        "unit.released",
        include_str!("../../schemas/unit.released.schema.json"),
    ),
    (
        "unit.shipped",
        include_str!("../../schemas/unit.shipped.schema.json"),
    ),
    (
        "complaint.received",
        include_str!("../../schemas/complaint.received.schema.json"),
    ),
    (
        "unit.serviced",
        include_str!("../../schemas/unit.serviced.schema.json"),
    ),
    (
        "signature.applied",
        include_str!("../../schemas/signature.applied.schema.json"),
    ),
    (
        "correction.recorded",
        include_str!("../../schemas/correction.recorded.schema.json"),
    ),
];

/// How many schema findings one rejection message lists before it says "and N more".
const FINDINGS_SHOWN_MAX: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("embedded schema {name} is not valid JSON: {source}")]
    NotJson {
        name: String,
        source: serde_json::Error,
    },
    #[error("embedded schema {name} does not compile: {message}")]
    Compile { name: String, message: String },
}

/// The compiled validators: the envelope's and one per event type.
pub struct SchemaSet {
    envelope: Validator,
    by_type: HashMap<&'static str, Validator>,
}

impl std::fmt::Debug for SchemaSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaSet")
            .field("types", &self.by_type.len())
            .finish()
    }
}

fn parse(name: &str, text: &str) -> Result<Value, SchemaError> {
    serde_json::from_str(text).map_err(|source| SchemaError::NotJson {
        name: name.to_owned(),
        source,
    })
}

impl SchemaSet {
    /// Compiles the embedded schemas.
    ///
    /// # Errors
    /// Only if an embedded schema is broken: a build defect, caught by the unit tests.
    pub fn load() -> Result<SchemaSet, SchemaError> {
        let compile_error = |name: &str, e: &dyn std::fmt::Display| SchemaError::Compile {
            name: name.to_owned(),
            message: e.to_string(),
        };
        let registry = Registry::new()
            .add("urn:traceledger:schema:common", parse("common", COMMON)?)
            .and_then(|builder| builder.prepare())
            .map_err(|e| compile_error("common", &e))?;
        let build = |name: &str, text: &str| -> Result<Validator, SchemaError> {
            jsonschema::options()
                .with_registry(&registry)
                .should_validate_formats(true)
                .build(&parse(name, text)?)
                .map_err(|e| compile_error(name, &e))
        };
        let envelope = build("envelope", ENVELOPE)?;
        let mut by_type = HashMap::with_capacity(TYPE_SCHEMAS.len());
        for (event_type, text) in TYPE_SCHEMAS {
            by_type.insert(*event_type, build(event_type, text)?);
        }
        Ok(SchemaSet { envelope, by_type })
    }

    /// Checks an event against the envelope schema and its type's schema.
    ///
    /// # Errors
    /// A rejection with code `unknown_type` or `schema_violation`, pointing at the first
    /// offending field and listing the findings.
    pub fn validate(&self, event: &Value) -> Result<(), Rejection> {
        let Some(object) = event.as_object() else {
            return Err(Rejection::new(
                RejectCode::SchemaViolation,
                Some(String::new()),
                "an event must be a JSON object",
            ));
        };
        if let Some(Value::String(event_type)) = object.get("type")
            && !EVENT_TYPES.contains(&event_type.as_str())
        {
            return Err(Rejection::new(
                RejectCode::UnknownType,
                Some("/type".to_owned()),
                format!("unknown event type {event_type:?} (see EVENTS.md for the vocabulary)"),
            ));
        }
        if !self.envelope.is_valid(event) {
            return Err(findings("", self.envelope.iter_errors(event)));
        }
        let data_validator = object
            .get("type")
            .and_then(Value::as_str)
            .and_then(|t| self.by_type.get(t));
        if let (Some(validator), Some(data)) = (data_validator, object.get("data"))
            && !validator.is_valid(data)
        {
            return Err(findings("/data", validator.iter_errors(data)));
        }
        Ok(())
    }
}

/// Folds schema errors into one rejection: the field of the first, the text of the first few.
fn findings<'a>(prefix: &str, errors: impl Iterator<Item = ValidationError<'a>>) -> Rejection {
    let mut first_field = None;
    let mut texts = Vec::new();
    let mut total = 0usize;
    for error in errors {
        total += 1;
        let field = field_of(prefix, &error);
        if texts.len() < FINDINGS_SHOWN_MAX {
            let rule = error.kind().keyword().to_owned();
            let shown_at = if field.is_empty() {
                "/"
            } else {
                field.as_str()
            };
            texts.push(format!("{shown_at}: {error} (rule {rule})"));
        }
        first_field.get_or_insert(field);
    }
    let mut message = texts.join("; ");
    if total > FINDINGS_SHOWN_MAX {
        message.push_str(&format!("; and {} more", total - FINDINGS_SHOWN_MAX));
    }
    Rejection::new(RejectCode::SchemaViolation, first_field, message)
}

/// The JSON pointer of the field a finding is about. For a missing or unexpected property the
/// instance path is its parent object; the property itself is what a person must fix.
fn field_of(prefix: &str, error: &ValidationError<'_>) -> String {
    let parent = format!("{prefix}{}", error.instance_path());
    let child = match error.kind() {
        ValidationErrorKind::Required { property } => property.as_str().map(str::to_owned),
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => unexpected.first().cloned(),
        _ => None,
    };
    match child {
        Some(name) => format!("{parent}/{}", name.replace('~', "~0").replace('/', "~1")),
        None => parent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_has_exactly_one_schema() {
        let schema_types: Vec<&str> = TYPE_SCHEMAS.iter().map(|(t, _)| *t).collect();
        assert_eq!(schema_types, EVENT_TYPES);
        let envelope: Value = serde_json::from_str(ENVELOPE).unwrap();
        let enumerated: Vec<&str> = envelope["properties"]["type"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(enumerated, EVENT_TYPES, "envelope type enum");
    }

    #[test]
    fn all_schemas_compile() {
        SchemaSet::load().unwrap();
    }
}
