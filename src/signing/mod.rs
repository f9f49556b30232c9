//! Electronic signatures (21 CFR 11.50, 11.70): the bytes a signer signs, and the signature
//! entries of an event.
//!
//! Defined once here and in docs/format.md ("Signatures"), with test vectors:
//!
//! ```text
//! content = BLAKE3( "traceledger/signed-content/v1" || 0x00 || JCS(event without "signatures") )
//! message = "traceledger/signature/v1" || 0x00
//!           || JCS({"content":hex(content),"key":K,"meaning":M,"signed_at":T,"signer":P})
//! signature = Ed25519(message)        (RFC 8032, pure Ed25519)
//! ```
//!
//! The content digest covers every field of the event but its signatures (id, type, times,
//! site, source, actor, data), so a signature cut from one record and pasted onto another no
//! longer verifies; the message binds the digest to the meaning, the signer, the key and the
//! time. Several signatures on one event each sign the same content. Whether a signer may sign
//! (key registered to them and not revoked, a role that allows the meaning, what a type
//! requires) is `authority`'s concern; this module is only the cryptography.
//!
//! - `keys`: key files (PKCS#8 PEM) and key ids;
//! - `authority`: who may sign what, when: keys and roles over time, and the rules.

pub mod authority;
pub mod keys;

use crate::event::{CanonicalError, canonical_json};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde_json::{Map, Value};

pub const CONTENT_DOMAIN: &[u8] = b"traceledger/signed-content/v1\0";
pub const MESSAGE_DOMAIN: &[u8] = b"traceledger/signature/v1\0";

/// What a signature means (EVENTS.md, "Signatures").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Meaning {
    Authored,
    Reviewed,
    Approved,
    Released,
    Verified,
}

impl Meaning {
    pub const ALL: [Meaning; 5] = [
        Meaning::Authored,
        Meaning::Reviewed,
        Meaning::Approved,
        Meaning::Released,
        Meaning::Verified,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Meaning::Authored => "authored",
            Meaning::Reviewed => "reviewed",
            Meaning::Approved => "approved",
            Meaning::Released => "released",
            Meaning::Verified => "verified",
        }
    }

    pub fn parse(text: &str) -> Option<Meaning> {
        Meaning::ALL.into_iter().find(|m| m.as_str() == text)
    }
}

impl std::fmt::Display for Meaning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    #[error("the event is not a JSON object")]
    NotAnObject,
    #[error("signature {index}: {problem}")]
    Malformed { index: usize, problem: String },
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
}

/// One entry of an event's `signatures`, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureEntry {
    pub signer: String,
    pub key: String,
    pub meaning: Meaning,
    pub signed_at: String,
    pub signature: [u8; 64],
}

/// The signatures of one event with the content digest they sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedEvent {
    pub content: [u8; 32],
    pub entries: Vec<SignatureEntry>,
}

/// The digest of everything in `event` but its `signatures`.
///
/// # Errors
/// `NotAnObject`, or a value JCS cannot encode.
pub fn content_digest(event: &Value) -> Result<[u8; 32], SigningError> {
    let object = event.as_object().ok_or(SigningError::NotAnObject)?;
    let unsigned: Map<String, Value> = object
        .iter()
        .filter(|(name, _)| name.as_str() != "signatures")
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let text = canonical_json(&Value::Object(unsigned))?;
    let mut hasher = blake3::Hasher::new();
    hasher.update(CONTENT_DOMAIN);
    hasher.update(text.as_bytes());
    Ok(*hasher.finalize().as_bytes())
}

/// The exact bytes an Ed25519 signature covers.
pub fn message(
    content: &[u8; 32],
    key: &str,
    meaning: Meaning,
    signed_at: &str,
    signer: &str,
) -> Vec<u8> {
    let fields: Map<String, Value> = [
        ("content", Value::String(hex(content))),
        ("key", Value::String(key.to_owned())),
        ("meaning", Value::String(meaning.as_str().to_owned())),
        ("signed_at", Value::String(signed_at.to_owned())),
        ("signer", Value::String(signer.to_owned())),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    let mut bytes = MESSAGE_DOMAIN.to_vec();
    // Strings only: JCS cannot fail on them.
    bytes.extend_from_slice(
        canonical_json(&Value::Object(fields))
            .unwrap_or_default()
            .as_bytes(),
    );
    bytes
}

impl SignatureEntry {
    pub fn message(&self, content: &[u8; 32]) -> Vec<u8> {
        message(
            content,
            &self.key,
            self.meaning,
            &self.signed_at,
            &self.signer,
        )
    }

    /// Strict Ed25519 verification (RFC 8032 with the checks that refuse malleable and
    /// small-order signatures).
    pub fn verifies(&self, content: &[u8; 32], public_key: &VerifyingKey) -> bool {
        let signature = Signature::from_bytes(&self.signature);
        public_key
            .verify_strict(&self.message(content), &signature)
            .is_ok()
    }
}

/// Reads the `signatures` of a schema-valid event, with the content digest they sign. An
/// event without signatures gives an empty list.
///
/// # Errors
/// A signature entry that is not what the schema says (only for events that skipped it).
pub fn signed_event(event: &Value) -> Result<SignedEvent, SigningError> {
    let content = content_digest(event)?;
    let mut entries = Vec::new();
    if let Some(list) = event.get("signatures").and_then(Value::as_array) {
        for (index, item) in list.iter().enumerate() {
            entries.push(decode_entry(index, item)?);
        }
    }
    Ok(SignedEvent { content, entries })
}

fn decode_entry(index: usize, item: &Value) -> Result<SignatureEntry, SigningError> {
    let malformed = |problem: &str| SigningError::Malformed {
        index,
        problem: problem.to_owned(),
    };
    let text = |name: &str| {
        item.get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| malformed(&format!("{name} is missing")))
    };
    let meaning = Meaning::parse(text("meaning")?).ok_or_else(|| malformed("unknown meaning"))?;
    let signature = BASE64
        .decode(text("signature")?)
        .ok()
        .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
        .ok_or_else(|| malformed("signature is not 64 bytes of base64"))?;
    Ok(SignatureEntry {
        signer: text("signer")?.to_owned(),
        key: text("key")?.to_owned(),
        meaning,
        signed_at: text("signed_at")?.to_owned(),
        signature,
    })
}

/// Signs `event` and appends the signature to its `signatures` (made if absent).
///
/// # Errors
/// `NotAnObject`, or a value JCS cannot encode.
pub fn sign_event(
    event: &mut Value,
    signing_key: &SigningKey,
    key: &str,
    signer: &str,
    meaning: Meaning,
    signed_at: &str,
) -> Result<(), SigningError> {
    let content = content_digest(event)?;
    let signature = signing_key.sign(&message(&content, key, meaning, signed_at, signer));
    let entry = serde_json::json!({
        "signer": signer,
        "key": key,
        "meaning": meaning.as_str(),
        "signed_at": signed_at,
        "signature": BASE64.encode(signature.to_bytes()),
    });
    let object = event.as_object_mut().ok_or(SigningError::NotAnObject)?;
    match object
        .entry("signatures")
        .or_insert_with(|| Value::Array(Vec::new()))
    {
        Value::Array(list) => list.push(entry),
        other => *other = Value::Array(vec![entry]),
    }
    Ok(())
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_on_its_own_content_and_fields() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let mut event =
            serde_json::json!({"id": "e1", "type": "unit.released", "data": {"unit": "U1"}});
        sign_event(
            &mut event,
            &key,
            "k-1",
            "p-1",
            Meaning::Released,
            "2026-11-25T10:00:00Z",
        )
        .unwrap();
        let signed = signed_event(&event).unwrap();
        let entry = &signed.entries[0];
        assert!(entry.verifies(&signed.content, &key.verifying_key()));

        let mut moved = event.clone();
        moved["id"] = Value::String("e2".into());
        let other = signed_event(&moved).unwrap();
        assert!(!other.entries[0].verifies(&other.content, &key.verifying_key()));

        let mut changed = entry.clone();
        changed.meaning = Meaning::Approved;
        assert!(!changed.verifies(&signed.content, &key.verifying_key()));
        changed = entry.clone();
        changed.signed_at = "2026-11-25T10:00:01Z".into();
        assert!(!changed.verifies(&signed.content, &key.verifying_key()));
    }
}
