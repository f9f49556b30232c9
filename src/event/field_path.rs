//! The field paths of `correction.recorded`: which field of the corrected event a change
//! replaces. Plants write them three ways, all accepted and all meaning the same field:
//!
//! - dotted: `data.measurements.0.unit` (the form this ledger first documented);
//! - bracketed, as most programming languages print a path: `data.measurements[0].unit`;
//! - JSON Pointer (RFC 6901): `/data/measurements/0/unit`.
//!
//! The event is hashed as sent, so the path stays in the log as written. For display and for
//! applying the change, a path is resolved to one form, the JSON Pointer ([`FieldPath`]'s
//! `Display`), which has no ambiguity between a member name and an index.
//!
//! A path names `occurred_at`, `actor`, or a field inside `data` (never the id, the type, the
//! site or the signatures: a correction cannot move an event to another subject).

use serde_json::Value;
use std::fmt;

/// One step of a path: a member of an object, or an index into an array.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathStep {
    Member(String),
    Index(usize),
}

/// A resolved path into an event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldPath {
    steps: Vec<PathStep>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldPathError {
    #[error(
        "{path:?} is not a field path: {why} (write data.FIELD.0.FIELD, data.FIELD[0].FIELD or /data/FIELD/0/FIELD; occurred_at, actor)"
    )]
    Malformed { path: String, why: &'static str },
}

fn member_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// An array index as written: `0` or a number without a leading zero.
fn index(text: &str) -> Option<usize> {
    if text.is_empty() || (text.len() > 1 && text.starts_with('0')) {
        return None;
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl FieldPath {
    /// Reads a path in any of the three forms.
    ///
    /// # Errors
    /// `Malformed`, saying what is wrong.
    pub fn parse(text: &str) -> Result<FieldPath, FieldPathError> {
        let malformed = |why| FieldPathError::Malformed {
            path: text.to_owned(),
            why,
        };
        let raw: Vec<String> = match text.strip_prefix('/') {
            Some(pointer) => pointer.split('/').map(str::to_owned).collect(),
            None => dotted_and_bracketed(text).ok_or_else(|| malformed("unbalanced brackets"))?,
        };
        let mut steps = Vec::with_capacity(raw.len());
        for (at, step) in raw.iter().enumerate() {
            if at > 0
                && let Some(i) = index(step)
            {
                steps.push(PathStep::Index(i));
            } else if member_name(step) {
                steps.push(PathStep::Member(step.clone()));
            } else {
                return Err(malformed("a step is neither a member name nor an index"));
            }
        }
        let path = FieldPath { steps };
        match path.steps.as_slice() {
            [PathStep::Member(top)] if top == "occurred_at" || top == "actor" => Ok(path),
            [PathStep::Member(top), PathStep::Member(_), ..] if top == "data" => Ok(path),
            [PathStep::Member(top), ..] if top == "data" => {
                Err(malformed("data must be followed by a field name"))
            }
            _ => Err(malformed(
                "only occurred_at, actor and data.FIELD can be corrected",
            )),
        }
    }

    pub fn steps(&self) -> &[PathStep] {
        &self.steps
    }

    /// The value at this path in `event`, if there is one.
    pub fn get<'v>(&self, event: &'v Value) -> Option<&'v Value> {
        self.steps.iter().try_fold(event, |value, step| match step {
            PathStep::Member(name) => value.get(name),
            PathStep::Index(i) => value.get(*i),
        })
    }

    /// Sets the value at this path in `event`. The parent must exist; a member may be new (a
    /// correction can add an optional field that was left out), an index must exist.
    /// Returns whether it was set.
    pub fn set(&self, event: &mut Value, new: Value) -> bool {
        let Some((last, parents)) = self.steps.split_last() else {
            return false;
        };
        let mut at = event;
        for step in parents {
            let next = match step {
                PathStep::Member(name) => at.get_mut(name),
                PathStep::Index(i) => at.get_mut(*i),
            };
            match next {
                Some(value) => at = value,
                None => return false,
            }
        }
        match (last, at) {
            (PathStep::Member(name), Value::Object(object)) => {
                object.insert(name.clone(), new);
                true
            }
            (PathStep::Index(i), Value::Array(items)) if *i < items.len() => {
                items[*i] = new;
                true
            }
            _ => false,
        }
    }
}

/// Applies the `changes` of a correction (its `data.changes`: path -> new value) to `event`,
/// in member order; a path that does not parse or resolve changes nothing.
pub fn apply_changes(event: &mut Value, changes: &Value) {
    for (written, new) in changes.as_object().into_iter().flatten() {
        if let Ok(path) = FieldPath::parse(written) {
            path.set(event, new.clone());
        }
    }
}

/// `data.a[0].b` and `data.a.0.b` into their steps; `None` for unbalanced brackets.
fn dotted_and_bracketed(text: &str) -> Option<Vec<String>> {
    let mut steps = Vec::new();
    for part in text.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(open) => part.split_at(open),
            None => (part, ""),
        };
        steps.push(name.to_owned());
        while let Some(inner) = rest.strip_prefix('[') {
            let close = inner.find(']')?;
            steps.push(inner[..close].to_owned());
            rest = &inner[close + 1..];
        }
        if !rest.is_empty() {
            return None;
        }
    }
    Some(steps)
}

impl fmt::Display for FieldPath {
    /// The JSON Pointer form: the one form paths are shown and compared in.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in &self.steps {
            match step {
                PathStep::Member(name) => write!(f, "/{name}")?,
                PathStep::Index(i) => write!(f, "/{i}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_three_forms_name_the_same_field() {
        let forms = [
            "data.measurements.0.unit",
            "data.measurements[0].unit",
            "/data/measurements/0/unit",
        ];
        for form in forms {
            let path = FieldPath::parse(form).unwrap();
            assert_eq!(path.to_string(), "/data/measurements/0/unit", "{form}");
        }
        assert_eq!(
            FieldPath::parse("occurred_at").unwrap().to_string(),
            "/occurred_at"
        );
        assert_eq!(FieldPath::parse("/actor").unwrap().to_string(), "/actor");
        assert_eq!(
            FieldPath::parse("data.a[1][2]").unwrap().to_string(),
            "/data/a/1/2"
        );
    }

    #[test]
    fn malformed_paths_are_refused() {
        for bad in [
            "",
            "id",
            "/type",
            "data",
            "data[0]",
            "data.measurements[0",
            "data.measurements[01]",
            "data.measurements[-1]",
            "data..x",
            "/data//x",
            "site",
            "signatures.0",
            "data.x]",
            "data.a b",
        ] {
            assert!(FieldPath::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn get_and_set_follow_the_path() {
        let mut event = json!({"data": {"measurements": [{"name": "screw torque", "value": 1.2}]}});
        let path = FieldPath::parse("data.measurements[0].value").unwrap();
        assert_eq!(path.get(&event), Some(&json!(1.2)));
        assert!(path.set(&mut event, json!(1.9)));
        assert_eq!(event["data"]["measurements"][0]["value"], json!(1.9));
        let added = FieldPath::parse("/data/op").unwrap();
        assert!(added.set(&mut event, json!("40")));
        assert_eq!(event["data"]["op"], json!("40"));
        let beyond = FieldPath::parse("data.measurements.3.value").unwrap();
        assert!(!beyond.set(&mut event, json!(0)));
    }
}
