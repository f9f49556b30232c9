//! RFC 8785 JSON Canonicalization Scheme (JCS): the one byte form of an event that is
//! stored, compared for duplicates and hashed.
//!
//! JCS is delegated to `serde_json_canonicalizer`: it formats numbers exactly as ECMAScript
//! does (via `ryu-js`), which is the subtle part of RFC 8785 §3.2.2.3 and not worth
//! re-deriving by hand.

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
#[error("cannot encode the event as canonical JSON (RFC 8785): {0}")]
pub struct CanonicalError(String);

/// The RFC 8785 canonical text of `value`.
///
/// # Errors
/// When a number cannot be represented as an IEEE 754 double (RFC 8785 §3.2.2.3).
pub fn canonical_json(value: &Value) -> Result<String, CanonicalError> {
    serde_json_canonicalizer::to_string(value).map_err(|e| CanonicalError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_keys_by_utf16_and_formats_numbers_like_ecmascript() {
        let value: Value = serde_json::from_str(
            r#"{"b": 1.50, "a": [1e3, -0.0, 1E-7], "\u00e9": "x", "c": {"z": true, "y": null}}"#,
        )
        .unwrap_or(Value::Null);
        assert_eq!(
            canonical_json(&value).ok().as_deref(),
            Some(r#"{"a":[1000,0,1e-7],"b":1.5,"c":{"y":null,"z":true},"é":"x"}"#)
        );
    }
}
