//! The record and its hash chain: how a sequenced event is bound to everything before it.
//!
//! A record is an event plus what the ledger adds on recording: `seq`, `recorded_at`, `prev`
//! (the previous record's hash) and `hash`. The hashed bytes are specified in docs/format.md:
//!
//! ```text
//! hash = BLAKE3( "traceledger/record/v1" || 0x00 || JCS({"event":E,"prev":P,"recorded_at":R,"seq":S}) )
//! ```
//!
//! This module knows nothing of storage; the store keeps the event's canonical text, and
//! because that text is already RFC 8785 canonical the record's canonical form is built by
//! concatenation, byte for byte what JCS would produce (keys sorted: event < prev <
//! recorded_at < seq).

use std::fmt;

/// Domain separation: these bytes and a zero byte precede every record's canonical JSON, so a
/// record hash can never be confused with the hash of any other object we sign or hash.
pub const RECORD_HASH_DOMAIN: &[u8] = b"traceledger/record/v1\0";

/// A 32-byte BLAKE3 digest, shown as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordHash(pub [u8; 32]);

/// The `prev` of record 1: no record precedes it.
pub const GENESIS_PREV: RecordHash = RecordHash([0u8; 32]);

impl RecordHash {
    pub fn to_hex(&self) -> String {
        let mut text = String::with_capacity(64);
        for byte in self.0 {
            text.push(char::from(HEX[usize::from(byte >> 4)]));
            text.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        text
    }

    /// Parses 64 hex digits (either case).
    pub fn from_hex(text: &str) -> Option<RecordHash> {
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (index, pair) in bytes.chunks_exact(2).enumerate() {
            out[index] = (hex_value(pair[0])? << 4) | hex_value(pair[1])?;
        }
        Some(RecordHash(out))
    }

    pub fn from_slice(bytes: &[u8]) -> Option<RecordHash> {
        <[u8; 32]>::try_from(bytes).ok().map(RecordHash)
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for RecordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for RecordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordHash({})", self.to_hex())
    }
}

/// One record of the log, as stored and as hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// 1-based position in the log; no gaps.
    pub seq: u64,
    /// The ledger's clock when the record was appended (RFC 3339, UTC, microseconds).
    pub recorded_at: String,
    pub prev: RecordHash,
    pub hash: RecordHash,
    /// The event's RFC 8785 canonical JSON.
    pub event: String,
}

impl Record {
    /// Seals an event as record `seq` after `prev`: computes its hash.
    pub fn seal(seq: u64, recorded_at: String, prev: RecordHash, event: String) -> Record {
        let hash = record_hash(seq, &recorded_at, &prev, &event);
        Record {
            seq,
            recorded_at,
            prev,
            hash,
            event,
        }
    }

    /// The record's canonical JSON (without `hash`, which is computed over it).
    pub fn canonical_json(&self) -> String {
        canonical_record(self.seq, &self.recorded_at, &self.prev, &self.event)
    }

    /// The full record as JSON, `hash` included: the form `log --json` and exports print.
    pub fn to_json(&self) -> String {
        format!(
            r#"{{"event":{},"hash":"{}","prev":"{}","recorded_at":"{}","seq":{}}}"#,
            self.event,
            self.hash.to_hex(),
            self.prev.to_hex(),
            self.recorded_at,
            self.seq
        )
    }
}

/// JCS of `{"event":E,"prev":P,"recorded_at":R,"seq":S}` given that `event` is already JCS.
/// `recorded_at` is produced by the ledger and contains no character JSON must escape.
fn canonical_record(seq: u64, recorded_at: &str, prev: &RecordHash, event: &str) -> String {
    let mut text = String::with_capacity(event.len() + 140);
    text.push_str(r#"{"event":"#);
    text.push_str(event);
    text.push_str(r#","prev":""#);
    text.push_str(&prev.to_hex());
    text.push_str(r#"","recorded_at":""#);
    text.push_str(recorded_at);
    text.push_str(r#"","seq":"#);
    text.push_str(&seq.to_string());
    text.push('}');
    text
}

/// The hash of record `seq` (docs/format.md, "Record hash").
///
/// Feeds the hasher the same bytes as [`Record::canonical_json`] piece by piece, without
/// building the text: this runs once per record at ingest and at verify.
pub fn record_hash(seq: u64, recorded_at: &str, prev: &RecordHash, event: &str) -> RecordHash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(RECORD_HASH_DOMAIN);
    hasher.update(br#"{"event":"#);
    hasher.update(event.as_bytes());
    hasher.update(br#","prev":""#);
    let mut prev_hex = [0u8; 64];
    for (index, byte) in prev.0.iter().enumerate() {
        prev_hex[2 * index] = HEX[usize::from(byte >> 4)];
        prev_hex[2 * index + 1] = HEX[usize::from(byte & 0x0f)];
    }
    hasher.update(&prev_hex);
    hasher.update(br#"","recorded_at":""#);
    hasher.update(recorded_at.as_bytes());
    hasher.update(br#"","seq":"#);
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = seq;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    hasher.update(&digits[at..]);
    hasher.update(b"}");
    RecordHash(*hasher.finalize().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_rejects_bad_digits() {
        let hash = RecordHash([0xab; 32]);
        assert_eq!(RecordHash::from_hex(&hash.to_hex()), Some(hash));
        assert_eq!(RecordHash::from_hex(&"g".repeat(64)), None);
        assert_eq!(RecordHash::from_hex("abcd"), None);
        assert_eq!(GENESIS_PREV.to_hex(), "0".repeat(64));
    }

    #[test]
    fn concatenated_record_equals_the_canonicalizer_output() {
        let event = r#"{"data":{"name":"Galway","site":"GAL","timezone":"Europe/Dublin"},"id":"e1","occurred_at":"2026-11-25T08:00:00Z","site":"GAL","source":"system:erp","type":"site.registered"}"#;
        let record = Record::seal(
            1,
            "2026-11-25T08:00:01.000000Z".into(),
            GENESIS_PREV,
            event.into(),
        );
        let parsed: serde_json::Value = serde_json::from_str(&record.canonical_json()).unwrap();
        assert_eq!(
            serde_json_canonicalizer::to_string(&parsed).unwrap(),
            record.canonical_json()
        );
        let mut hasher = blake3::Hasher::new();
        hasher.update(RECORD_HASH_DOMAIN);
        hasher.update(record.canonical_json().as_bytes());
        assert_eq!(RecordHash(*hasher.finalize().as_bytes()), record.hash);
        for seq in [0, 9, 10, 12_345, u64::MAX] {
            let mut hasher = blake3::Hasher::new();
            hasher.update(RECORD_HASH_DOMAIN);
            hasher.update(canonical_record(seq, "t", &record.prev, "{}").as_bytes());
            assert_eq!(
                RecordHash(*hasher.finalize().as_bytes()),
                record_hash(seq, "t", &record.prev, "{}")
            );
        }
        let mut altered = record.clone();
        altered.seq = 2;
        assert_ne!(
            record_hash(
                altered.seq,
                &altered.recorded_at,
                &altered.prev,
                &altered.event
            ),
            record.hash
        );
    }
}
