//! Who may sign what, and when: the keys and roles the log has registered, over time, and
//! the rules of docs/signatures.md.
//!
//! A signature is valid when (EVENTS.md, "Signatures"):
//! - it verifies (strict Ed25519) under the key it names;
//! - that key was registered to the signer by an earlier record, whose `occurred_at` is not
//!   after `signed_at`, and not revoked by an earlier record whose `occurred_at` is at or
//!   before `signed_at` (a signature made before a revocation stays valid);
//! - the signer held, at `signed_at`, a role that may sign with that meaning.
//!
//! "Earlier" is by seq: the state a record is judged against is the one the ledger had when
//! it was appended, so ingest and a later verify give the same answer. Times compare as
//! instants (offsets applied).
//!
//! The genesis records (written by `init`, signed as a whole by the ledger key through the
//! first checkpoint) grant the first admin role and key; they need no signatures themselves.

use super::{Meaning, SignedEvent};
use crate::time::parse_rfc3339_millis;
use ed25519_dalek::VerifyingKey;
use serde_json::Value;
use std::collections::HashMap;

/// The roles of EVENTS.md (`role.granted`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Operator,
    Engineer,
    Qa,
    Admin,
    Auditor,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Operator,
        Role::Engineer,
        Role::Qa,
        Role::Admin,
        Role::Auditor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Engineer => "engineer",
            Role::Qa => "qa",
            Role::Admin => "admin",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// The meanings this role may sign with (docs/signatures.md, "Roles and meanings").
    pub fn may_sign(self, meaning: Meaning) -> bool {
        use Meaning::*;
        match self {
            Role::Operator => matches!(meaning, Authored | Verified),
            Role::Engineer => matches!(meaning, Authored | Reviewed | Approved | Verified),
            Role::Qa => true,
            Role::Admin => matches!(meaning, Authored | Approved),
            Role::Auditor => matches!(meaning, Reviewed),
        }
    }
}

/// The event types that change who may sign.
pub const AUTHORITY_TYPES: [&str; 4] = [
    "key.registered",
    "key.revoked",
    "role.granted",
    "role.revoked",
];

/// The signature an event's type requires (docs/signatures.md, "Required signatures").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The meaning required; `None`: any.
    pub meaning: Option<Meaning>,
    /// The signer must hold one of these roles at signing; empty: any role that may sign
    /// with the meaning.
    pub roles: &'static [Role],
    /// Also enough: a signature, of any meaning, by the person this key is registered to
    /// (`key.revoked`: a key's holder may revoke it).
    pub or_holder_of: Option<String>,
}

impl Requirement {
    pub fn describe(&self) -> String {
        let meaning = self.meaning.map_or("any".to_owned(), |m| format!("a {m}"));
        let roles: Vec<&str> = self.roles.iter().map(|r| r.as_str()).collect();
        let by = if roles.is_empty() {
            String::new()
        } else {
            format!(" by {}", roles.join(" or "))
        };
        let holder = self
            .or_holder_of
            .as_ref()
            .map(|key| format!(" (or any signature by the holder of key {key:?})"))
            .unwrap_or_default();
        format!("{meaning} signature{by}{holder}")
    }
}

/// What `event_type` requires, given its data.
pub fn requirement(event_type: &str, data: &Value) -> Option<Requirement> {
    use Meaning::*;
    let text = |name: &str| data.get(name).and_then(Value::as_str);
    let require = |meaning: Option<Meaning>, roles: &'static [Role]| {
        Some(Requirement {
            meaning,
            roles,
            or_holder_of: None,
        })
    };
    match event_type {
        "role.granted" | "role.revoked" | "key.registered" => {
            require(Some(Approved), &[Role::Admin])
        }
        "key.revoked" => Some(Requirement {
            meaning: Some(Approved),
            roles: &[Role::Admin],
            or_holder_of: text("key").map(str::to_owned),
        }),
        "routing.released" | "routing.configured" | "change.released" => {
            require(Some(Approved), &[Role::Engineer, Role::Qa])
        }
        "lot.dispositioned" if text("disposition") == Some("released") => {
            require(Some(Released), &[Role::Qa])
        }
        "nonconformance.dispositioned" => require(Some(Approved), &[Role::Qa]),
        "unit.released" => require(Some(Released), &[Role::Qa]),
        "correction.recorded" => require(None, &[]),
        "signature.applied" => require(text("meaning").and_then(Meaning::parse), &[]),
        _ => None,
    }
}

/// When a record took effect: its seq (for order) and its `occurred_at` (for time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub seq: u64,
    pub at_millis: i64,
}

#[derive(Debug, Clone)]
struct KeyEntry {
    person: String,
    public_key: VerifyingKey,
    registered: Stamp,
    revoked: Option<Stamp>,
}

/// Whether [`Authority::check`] does the Ed25519 arithmetic.
#[derive(Debug, Clone, Copy)]
pub enum Crypto<'a> {
    /// Every signature, strictly.
    Verify,
    /// None: the caller verifies them elsewhere (`verify`, on worker threads).
    Skip,
    /// Every signature but those already found valid, strictly, against the very public key
    /// the authority holds for their key id (ingest checks them off the writing thread):
    /// entry `i` was checked against `prechecked[i]`, if `Some`.
    UnlessPrechecked(&'a [Option<[u8; 32]>]),
}

impl Crypto<'_> {
    fn needed(&self, index: usize, public_key: &VerifyingKey) -> bool {
        match self {
            Crypto::Verify => true,
            Crypto::Skip => false,
            Crypto::UnlessPrechecked(prechecked) => {
                prechecked.get(index).copied().flatten() != Some(public_key.to_bytes())
            }
        }
    }
}

/// A change the log makes to who may sign: read from an event by [`AuthorityChange::of`].
#[derive(Debug, Clone)]
pub enum AuthorityChange {
    KeyRegistered {
        key: String,
        person: String,
        public_key: Box<VerifyingKey>,
    },
    KeyRevoked {
        key: String,
    },
    Role {
        person: String,
        role: Role,
        granted: bool,
    },
}

impl AuthorityChange {
    /// The change `event_type` with `data` makes, if any. `None` also for a malformed public
    /// key (ingest refuses it separately, see [`bad_public_key`]).
    pub fn of(event_type: &str, data: &Value) -> Option<AuthorityChange> {
        let text = |name: &str| data.get(name).and_then(Value::as_str).map(str::to_owned);
        match event_type {
            "key.registered" => Some(AuthorityChange::KeyRegistered {
                key: text("key")?,
                person: text("person")?,
                public_key: Box::new(super::keys::parse_public_key_base64(&text("public_key")?)?),
            }),
            "key.revoked" => Some(AuthorityChange::KeyRevoked { key: text("key")? }),
            "role.granted" | "role.revoked" => Some(AuthorityChange::Role {
                person: text("person")?,
                role: Role::parse(&text("role")?)?,
                granted: event_type == "role.granted",
            }),
            _ => None,
        }
    }
}

/// Whether a `key.registered` event's public key is unusable (not 32 bytes of base64, or not
/// a point on the curve).
pub fn bad_public_key(event_type: &str, data: &Value) -> bool {
    event_type == "key.registered"
        && data
            .get("public_key")
            .and_then(Value::as_str)
            .and_then(super::keys::parse_public_key_base64)
            .is_none()
}

/// Why a record's signatures are not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureFault {
    #[error("signature {index}: key {key:?} is not registered")]
    UnknownKey { index: usize, key: String },
    #[error("signature {index}: key {key:?} is registered to {holder}, not to the signer {signer}")]
    NotSignersKey {
        index: usize,
        key: String,
        holder: String,
        signer: String,
    },
    #[error("signature {index}: signed_at {signed_at:?} is not an RFC 3339 time")]
    BadTime { index: usize, signed_at: String },
    #[error("signature {index}: key {key:?} was not yet registered at {signed_at}")]
    KeyNotYetValid {
        index: usize,
        key: String,
        signed_at: String,
    },
    #[error(
        "signature {index}: key {key:?} was revoked (seq {revoked_seq}) at or before {signed_at}, when it signed"
    )]
    KeyRevoked {
        index: usize,
        key: String,
        revoked_seq: u64,
        signed_at: String,
    },
    #[error(
        "signature {index}: the Ed25519 signature does not verify for this record and key {key:?}"
    )]
    BadSignature { index: usize, key: String },
    #[error(
        "signature {index}: {signer} held no role allowed to sign with the meaning \"{}\" at {signed_at} (roles then: {held})", meaning.as_str()
    )]
    RoleNotHeld {
        index: usize,
        signer: String,
        meaning: Meaning,
        signed_at: String,
        held: String,
    },
    #[error("{event_type} requires {required}; none of its {count} signature(s) is one")]
    Missing {
        event_type: String,
        required: String,
        count: usize,
    },
}

impl SignatureFault {
    /// The index of the faulty signature, when it is one signature's fault.
    pub fn index(&self) -> Option<usize> {
        match self {
            SignatureFault::UnknownKey { index, .. }
            | SignatureFault::NotSignersKey { index, .. }
            | SignatureFault::BadTime { index, .. }
            | SignatureFault::KeyNotYetValid { index, .. }
            | SignatureFault::KeyRevoked { index, .. }
            | SignatureFault::BadSignature { index, .. }
            | SignatureFault::RoleNotHeld { index, .. } => Some(*index),
            SignatureFault::Missing { .. } => None,
        }
    }

    /// The JSON pointer into the event where the fault is.
    pub fn field(&self) -> String {
        match self {
            SignatureFault::BadSignature { index, .. } => format!("/signatures/{index}/signature"),
            SignatureFault::UnknownKey { index, .. }
            | SignatureFault::KeyNotYetValid { index, .. }
            | SignatureFault::KeyRevoked { index, .. } => format!("/signatures/{index}/key"),
            SignatureFault::NotSignersKey { index, .. }
            | SignatureFault::RoleNotHeld { index, .. } => {
                format!("/signatures/{index}/signer")
            }
            SignatureFault::BadTime { index, .. } => format!("/signatures/{index}/signed_at"),
            SignatureFault::Missing { .. } => "/signatures".to_owned(),
        }
    }

    pub fn is_missing(&self) -> bool {
        matches!(self, SignatureFault::Missing { .. })
    }
}

/// Keys and roles as the log has registered them, each change stamped with its record.
#[derive(Debug, Clone, Default)]
pub struct Authority {
    keys: HashMap<String, KeyEntry>,
    /// Grants and revocations per (person, role), in seq order.
    roles: HashMap<(String, Role), Vec<(Stamp, bool)>>,
}

impl Authority {
    /// Applies the change of record `stamp`. Changes must come in seq order.
    /// Every registered key id with its public key (revoked or not: the arithmetic of a
    /// signature does not depend on when it was made).
    pub fn public_keys(&self) -> impl Iterator<Item = (&str, &VerifyingKey)> {
        self.keys
            .iter()
            .map(|(id, entry)| (id.as_str(), &entry.public_key))
    }

    pub fn apply(&mut self, stamp: Stamp, change: &AuthorityChange) {
        match change {
            AuthorityChange::KeyRegistered {
                key,
                person,
                public_key,
            } => {
                // Ingest refuses a second registration of a key id (already_defined); the
                // first one stands.
                self.keys.entry(key.clone()).or_insert_with(|| KeyEntry {
                    person: person.clone(),
                    public_key: **public_key,
                    registered: stamp,
                    revoked: None,
                });
            }
            AuthorityChange::KeyRevoked { key } => {
                if let Some(entry) = self.keys.get_mut(key)
                    && entry.revoked.is_none()
                {
                    entry.revoked = Some(stamp);
                }
            }
            AuthorityChange::Role {
                person,
                role,
                granted,
            } => self
                .roles
                .entry((person.clone(), *role))
                .or_default()
                .push((stamp, *granted)),
        }
    }

    /// Applies what a stored record changes, if anything (it must come in seq order).
    pub fn observe(&mut self, seq: u64, event_type: &str, event_json: &str) {
        if !AUTHORITY_TYPES.contains(&event_type) {
            return;
        }
        let Ok(event) = serde_json::from_str::<Value>(event_json) else {
            return;
        };
        let at_millis = event
            .get("occurred_at")
            .and_then(Value::as_str)
            .and_then(parse_rfc3339_millis);
        let data = event.get("data").unwrap_or(&Value::Null);
        if let (Some(at_millis), Some(change)) = (at_millis, AuthorityChange::of(event_type, data))
        {
            self.apply(Stamp { seq, at_millis }, &change);
        }
    }

    /// The public key registered under `key`, and to whom.
    pub fn key(&self, key: &str) -> Option<(&str, &VerifyingKey)> {
        self.keys
            .get(key)
            .map(|entry| (entry.person.as_str(), &entry.public_key))
    }

    /// Whether `person` held `role` at `at_millis`, as the log stood before record `seq`.
    pub fn holds(&self, person: &str, role: Role, seq: u64, at_millis: i64) -> bool {
        let Some(changes) = self.roles.get(&(person.to_owned(), role)) else {
            return false;
        };
        // The latest change in effect at that time decides; equal times go by seq.
        changes
            .iter()
            .filter(|(stamp, _)| stamp.seq < seq && stamp.at_millis <= at_millis)
            .max_by_key(|(stamp, _)| (stamp.at_millis, stamp.seq))
            .is_some_and(|(_, granted)| *granted)
    }

    fn roles_held(&self, person: &str, seq: u64, at_millis: i64) -> Vec<Role> {
        Role::ALL
            .into_iter()
            .filter(|role| self.holds(person, *role, seq, at_millis))
            .collect()
    }

    /// Checks every signature of record `seq` and that the type's requirement is met.
    /// `verify_crypto` may be false when the caller has verified the Ed25519 signatures
    /// already (in a batch, say).
    ///
    /// # Errors
    /// The first fault found, signatures in their order, then the requirement.
    pub fn check(
        &self,
        seq: u64,
        signed: &SignedEvent,
        requirement: Option<&Requirement>,
        event_type: &str,
        crypto: Crypto<'_>,
    ) -> Result<(), SignatureFault> {
        let mut met = requirement.is_none();
        for (index, entry) in signed.entries.iter().enumerate() {
            let signed_at = || entry.signed_at.clone();
            let key = self
                .keys
                .get(&entry.key)
                .filter(|key| key.registered.seq < seq)
                .ok_or_else(|| SignatureFault::UnknownKey {
                    index,
                    key: entry.key.clone(),
                })?;
            if key.person != entry.signer {
                return Err(SignatureFault::NotSignersKey {
                    index,
                    key: entry.key.clone(),
                    holder: key.person.clone(),
                    signer: entry.signer.clone(),
                });
            }
            let at =
                parse_rfc3339_millis(&entry.signed_at).ok_or_else(|| SignatureFault::BadTime {
                    index,
                    signed_at: signed_at(),
                })?;
            if at < key.registered.at_millis {
                return Err(SignatureFault::KeyNotYetValid {
                    index,
                    key: entry.key.clone(),
                    signed_at: signed_at(),
                });
            }
            if let Some(revoked) = key.revoked
                && revoked.seq < seq
                && revoked.at_millis <= at
            {
                return Err(SignatureFault::KeyRevoked {
                    index,
                    key: entry.key.clone(),
                    revoked_seq: revoked.seq,
                    signed_at: signed_at(),
                });
            }
            if crypto.needed(index, &key.public_key)
                && !entry.verifies(&signed.content, &key.public_key)
            {
                return Err(SignatureFault::BadSignature {
                    index,
                    key: entry.key.clone(),
                });
            }
            let held = self.roles_held(&entry.signer, seq, at);
            if !held.iter().any(|role| role.may_sign(entry.meaning)) {
                return Err(SignatureFault::RoleNotHeld {
                    index,
                    signer: entry.signer.clone(),
                    meaning: entry.meaning,
                    signed_at: signed_at(),
                    held: if held.is_empty() {
                        "none".to_owned()
                    } else {
                        held.iter()
                            .map(|r| r.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    },
                });
            }
            if let Some(required) = requirement
                && !met
            {
                let by_holder = required
                    .or_holder_of
                    .as_ref()
                    .and_then(|revoked| self.keys.get(revoked))
                    .is_some_and(|revoked| revoked.person == entry.signer);
                let meaning_ok = required.meaning.is_none_or(|m| m == entry.meaning);
                let role_ok =
                    required.roles.is_empty() || required.roles.iter().any(|r| held.contains(r));
                met = by_holder || (meaning_ok && role_ok);
            }
        }
        match requirement {
            Some(required) if !met => Err(SignatureFault::Missing {
                event_type: event_type.to_owned(),
                required: required.describe(),
                count: signed.entries.len(),
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::{sign_event, signed_event};
    use ed25519_dalek::SigningKey;

    fn stamp(seq: u64, at: &str) -> Stamp {
        Stamp {
            seq,
            at_millis: parse_rfc3339_millis(at).unwrap(),
        }
    }

    #[test]
    fn revocation_stops_later_signatures_only() {
        let qa = SigningKey::from_bytes(&[3u8; 32]);
        let mut authority = Authority::default();
        authority.apply(
            stamp(1, "2026-01-01T00:00:00Z"),
            &AuthorityChange::Role {
                person: "p-1".into(),
                role: Role::Qa,
                granted: true,
            },
        );
        authority.apply(
            stamp(2, "2026-01-01T00:00:00Z"),
            &AuthorityChange::KeyRegistered {
                key: "k-1".into(),
                person: "p-1".into(),
                public_key: Box::new(qa.verifying_key()),
            },
        );
        authority.apply(
            stamp(3, "2026-06-01T00:00:00Z"),
            &AuthorityChange::KeyRevoked { key: "k-1".into() },
        );
        let data = serde_json::json!({"unit": "U1"});
        let required = requirement("unit.released", &data);
        let signed_at = |at: &str| {
            let mut event = serde_json::json!({"id": "e", "type": "unit.released", "data": data});
            sign_event(&mut event, &qa, "k-1", "p-1", Meaning::Released, at).unwrap();
            signed_event(&event).unwrap()
        };
        let before = signed_at("2026-05-31T23:59:59Z");
        assert_eq!(
            authority.check(
                9,
                &before,
                required.as_ref(),
                "unit.released",
                Crypto::Verify
            ),
            Ok(())
        );
        let after = signed_at("2026-06-01T00:00:00Z");
        assert!(matches!(
            authority.check(
                9,
                &after,
                required.as_ref(),
                "unit.released",
                Crypto::Verify
            ),
            Err(SignatureFault::KeyRevoked { revoked_seq: 3, .. })
        ));
        // Judged as the ledger stood before seq 3, the revocation does not exist yet.
        assert_eq!(
            authority.check(
                3,
                &after,
                required.as_ref(),
                "unit.released",
                Crypto::Verify
            ),
            Ok(())
        );
        let unsigned = signed_event(&serde_json::json!({"id": "e", "data": data})).unwrap();
        assert!(matches!(
            authority.check(
                9,
                &unsigned,
                required.as_ref(),
                "unit.released",
                Crypto::Verify
            ),
            Err(SignatureFault::Missing { .. })
        ));

        // A precheck counts only against the key the authority holds for that key id.
        let mut forged = before.clone();
        forged.entries[0].signature[0] ^= 1;
        let holder = qa.verifying_key().to_bytes();
        let other = SigningKey::from_bytes(&[4u8; 32])
            .verifying_key()
            .to_bytes();
        for prechecked in [vec![None], vec![Some(other)], vec![]] {
            assert!(
                matches!(
                    authority.check(
                        9,
                        &forged,
                        required.as_ref(),
                        "unit.released",
                        Crypto::UnlessPrechecked(&prechecked)
                    ),
                    Err(SignatureFault::BadSignature { .. })
                ),
                "{prechecked:?}"
            );
        }
        assert_eq!(
            authority.check(
                9,
                &before,
                required.as_ref(),
                "unit.released",
                Crypto::UnlessPrechecked(&[Some(holder)])
            ),
            Ok(())
        );
    }
}
