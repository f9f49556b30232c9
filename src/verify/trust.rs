//! The checks that need the ledger key: the genesis, every checkpoint (kept in the ledger or
//! held by the auditor) against the records, and every signature against the keys and roles
//! in force when it was made.
//!
//! Run after the chain was found intact, so every stored hash is the true hash of its
//! record; what remains is whether this chain is the one the ledger key vouched for, and
//! whether each signature is what Part 11 requires. One pass over the records computes the
//! tree heads (without trusting the stored subtree hashes) and judges signatures; the
//! Ed25519 arithmetic runs on worker threads meanwhile ([`super::signatures`]).

use super::signatures::{self, Mode, SignatureJob, SignatureQueue};
use crate::checkpoint::{self, Checkpoint};
use crate::genesis::{GENESIS_SOURCE, Identity};
use crate::log_tree::RunningRoot;
use crate::merkle::NodeHash;
use crate::signing::authority::{Authority, Crypto, SignatureFault, requirement};
use crate::signing::{SignedEvent, signed_event};
use crate::store::{Store, StoreError};
use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::ControlFlow;

/// What the trust checks found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustFinding {
    /// The ledger has no genesis identity (origin, public key, genesis size) in `meta`.
    NoIdentity,
    /// The key the auditor trusts is not the key the ledger names.
    LedgerKeyMismatch { trusted: String, in_ledger: String },
    /// The genesis records are not what `init` writes.
    BadGenesis { detail: String },
    /// A checkpoint's signature or form is bad.
    BadCheckpoint { source: String, detail: String },
    /// A checkpoint covers more records than the ledger holds.
    CutShort {
        source: String,
        tree_size: u64,
        records: u64,
    },
    /// The records do not hash to a checkpoint's root.
    Rewritten {
        source: String,
        tree_size: u64,
        signed_root: NodeHash,
        ledger_root: NodeHash,
    },
    /// A record's signatures are invalid, or a required one is missing.
    Signature { seq: u64, fault: SignatureFault },
}

impl TrustFinding {
    pub fn seq(&self) -> Option<u64> {
        match self {
            TrustFinding::CutShort { records, .. } => Some(records + 1),
            TrustFinding::Rewritten { tree_size, .. } => Some(*tree_size),
            TrustFinding::Signature { seq, .. } => Some(*seq),
            _ => None,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            TrustFinding::NoIdentity => "no_ledger_identity",
            TrustFinding::LedgerKeyMismatch { .. } => "ledger_key_mismatch",
            TrustFinding::BadGenesis { .. } => "bad_genesis",
            TrustFinding::BadCheckpoint { .. } => "bad_checkpoint",
            TrustFinding::CutShort { .. } => "ledger_cut_short",
            TrustFinding::Rewritten { .. } => "ledger_rewritten",
            TrustFinding::Signature { fault, .. } if fault.is_missing() => "missing_signature",
            TrustFinding::Signature { .. } => "invalid_signature",
        }
    }
}

impl fmt::Display for TrustFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrustFinding::NoIdentity => write!(
                f,
                "the ledger names no origin, ledger key or genesis in its meta table (made by another version, or damaged)"
            ),
            TrustFinding::LedgerKeyMismatch { trusted, in_ledger } => write!(
                f,
                "ledger key mismatch: you trust key {trusted}, the ledger names {in_ledger} (its meta was replaced, or this is another ledger)"
            ),
            TrustFinding::BadGenesis { detail } => write!(f, "bad genesis: {detail}"),
            TrustFinding::BadCheckpoint { source, detail } => {
                write!(f, "checkpoint {source}: {detail}")
            }
            TrustFinding::CutShort {
                source,
                tree_size,
                records,
            } => write!(
                f,
                "seq {}: ledger cut short: checkpoint {source} vouches for {tree_size} records, the ledger holds {records}",
                records + 1
            ),
            TrustFinding::Rewritten {
                source,
                tree_size,
                signed_root,
                ledger_root,
            } => write!(
                f,
                "seq {tree_size}: ledger rewritten at or before seq {tree_size}: checkpoint {source} signed root {signed_root}, the ledger's first {tree_size} records hash to {ledger_root}"
            ),
            TrustFinding::Signature { seq, fault } => write!(f, "seq {seq}: {fault}"),
        }
    }
}

/// A checkpoint to check: where it comes from (for messages) and its note.
#[derive(Debug, Clone)]
pub struct CheckpointSource {
    pub source: String,
    pub note: String,
}

/// What the trust checks were given and found.
#[derive(Debug, Clone, Default)]
pub struct TrustReport {
    pub checkpoints_checked: usize,
    pub signatures_checked: u64,
    pub finding: Option<TrustFinding>,
}

/// Runs every trust check on a ledger whose chain is intact, `records` long.
///
/// `trusted_key`: the ledger public key the auditor holds; without one, the key the ledger
/// names in its meta is used, which proves only that the ledger is consistent with itself.
///
/// # Errors
/// A database error.
pub fn check(
    store: &Store,
    records: u64,
    trusted_key: Option<&VerifyingKey>,
    held: &[CheckpointSource],
    mode: Mode,
) -> Result<TrustReport, StoreError> {
    let mut report = TrustReport::default();
    let Some(identity) = crate::genesis::identity(store)? else {
        report.finding = Some(TrustFinding::NoIdentity);
        return Ok(report);
    };
    if let Some(trusted) = trusted_key
        && trusted != &identity.public_key
    {
        report.finding = Some(TrustFinding::LedgerKeyMismatch {
            trusted: crate::signing::keys::key_id(trusted),
            in_ledger: crate::signing::keys::key_id(&identity.public_key),
        });
        return Ok(report);
    }
    let key = trusted_key.copied().unwrap_or(identity.public_key);
    let mut wanted: BTreeMap<u64, Vec<(String, Checkpoint)>> = BTreeMap::new();
    let mut findings: Vec<TrustFinding> = Vec::new();
    let stored: Vec<CheckpointSource> = store
        .checkpoints()?
        .into_iter()
        .map(|kept| CheckpointSource {
            source: format!("kept in the ledger (tree size {})", kept.tree_size),
            note: kept.note,
        })
        .collect();
    let mut genesis_vouched = false;
    for given in held.iter().chain(stored.iter()) {
        report.checkpoints_checked += 1;
        match checkpoint::open(&given.note, &key) {
            Err(e) => findings.push(TrustFinding::BadCheckpoint {
                source: given.source.clone(),
                detail: e.to_string(),
            }),
            Ok(signed) if signed.origin != identity.origin => {
                findings.push(TrustFinding::BadCheckpoint {
                    source: given.source.clone(),
                    detail: format!(
                        "it is of log {:?}, this ledger is {:?}",
                        signed.origin, identity.origin
                    ),
                });
            }
            Ok(signed) if signed.tree_size > records => findings.push(TrustFinding::CutShort {
                source: given.source.clone(),
                tree_size: signed.tree_size,
                records,
            }),
            Ok(signed) => {
                genesis_vouched |= signed.tree_size == identity.genesis_size;
                wanted
                    .entry(signed.tree_size)
                    .or_default()
                    .push((given.source.clone(), signed));
            }
        }
    }
    if !genesis_vouched {
        findings.push(TrustFinding::BadGenesis {
            detail: format!(
                "no valid checkpoint of the genesis (tree size {}) signed by the ledger key",
                identity.genesis_size
            ),
        });
    }
    let pass = walk(store, records, &identity, &wanted, &mut findings, mode)?;
    report.signatures_checked = pass;
    report.finding = findings
        .into_iter()
        .min_by_key(|f| (f.seq().unwrap_or(0), f.seq().is_some()));
    Ok(report)
}

/// One pass over the records: genesis form, tree heads at the wanted sizes, signatures.
fn walk(
    store: &Store,
    records: u64,
    identity: &Identity,
    wanted: &BTreeMap<u64, Vec<(String, Checkpoint)>>,
    findings: &mut Vec<TrustFinding>,
    mode: Mode,
) -> Result<u64, StoreError> {
    let mut first_fault: Option<TrustFinding> = None;
    let (walked, checked, bad) = signatures::verify_during(mode, |jobs| {
        walk_records(
            store,
            records,
            identity,
            wanted,
            findings,
            &mut first_fault,
            jobs,
        )
    });
    walked?;
    if let Some(bad) = bad {
        let finding = TrustFinding::Signature {
            seq: bad.seq,
            fault: SignatureFault::BadSignature {
                index: bad.index,
                key: bad.key_id,
            },
        };
        if first_fault.as_ref().is_none_or(|f| f.seq() > finding.seq()) {
            first_fault = Some(finding);
        }
    }
    findings.extend(first_fault);
    Ok(checked)
}

/// The walk itself: tree heads, genesis form, and each record's signatures judged against
/// the authority, their Ed25519 checks queued to `jobs`.
fn walk_records(
    store: &Store,
    records: u64,
    identity: &Identity,
    wanted: &BTreeMap<u64, Vec<(String, Checkpoint)>>,
    findings: &mut Vec<TrustFinding>,
    first_fault: &mut Option<TrustFinding>,
    jobs: &mut SignatureQueue,
) -> Result<(), StoreError> {
    let mut running = RunningRoot::default();
    let mut authority = Authority::default();
    let mut walk_error = None;
    store.for_each_record(1, i64::try_from(records).unwrap_or(i64::MAX), |item| {
        let view = match item {
            Ok(view) => view,
            Err(e) => {
                walk_error = Some(e);
                return ControlFlow::Break(());
            }
        };
        let seq = u64::try_from(view.seq).unwrap_or(0);
        if let Some(hash) = crate::chain::RecordHash::from_slice(view.hash) {
            running.push(&hash);
        }
        if let Some(held) = wanted.get(&running.size()) {
            let ledger_root = running.root();
            for (source, signed) in held {
                if signed.root != ledger_root {
                    findings.push(TrustFinding::Rewritten {
                        source: source.clone(),
                        tree_size: signed.tree_size,
                        signed_root: signed.root,
                        ledger_root,
                    });
                }
            }
        }
        let in_genesis = seq <= identity.genesis_size;
        let is_genesis_source = view.event.contains(GENESIS_SOURCE)
            && serde_json::from_str::<Value>(view.event)
                .ok()
                .and_then(|e| {
                    e.get("source")
                        .and_then(Value::as_str)
                        .map(|s| s == GENESIS_SOURCE)
                })
                .unwrap_or(false);
        if in_genesis != is_genesis_source {
            findings.push(TrustFinding::BadGenesis {
                detail: format!(
                    "seq {seq} {} a genesis record but the genesis is seq 1 to {}",
                    if is_genesis_source { "is" } else { "is not" },
                    identity.genesis_size
                ),
            });
            return ControlFlow::Break(());
        }
        if first_fault.is_none()
            && !in_genesis
            && let Some(fault) = judge(&authority, seq, view.event_type, view.event, jobs)
        {
            *first_fault = Some(TrustFinding::Signature { seq, fault });
        }
        authority.observe(seq, view.event_type, view.event);
        ControlFlow::Continue(())
    })?;
    match walk_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Judges a record's signatures against the authority (everything but the Ed25519
/// arithmetic, which is queued in `jobs`).
fn judge(
    authority: &Authority,
    seq: u64,
    event_type: &str,
    event_json: &str,
    jobs: &mut SignatureQueue,
) -> Option<SignatureFault> {
    let might_need = event_json.contains("\"signatures\"") || needs_signature(event_type);
    if !might_need {
        return None;
    }
    let event: Value = serde_json::from_str(event_json).ok()?;
    let data = event.get("data").unwrap_or(&Value::Null);
    let required = requirement(event_type, data);
    let signed: SignedEvent = match signed_event(&event) {
        Ok(signed) => signed,
        Err(e) => {
            return Some(SignatureFault::Missing {
                event_type: event_type.to_owned(),
                required: format!("readable signatures ({e})"),
                count: 0,
            });
        }
    };
    if let Err(fault) = authority.check(seq, &signed, required.as_ref(), event_type, Crypto::Skip) {
        return Some(fault);
    }
    for (index, entry) in signed.entries.iter().enumerate() {
        if let Some((_, public_key)) = authority.key(&entry.key) {
            jobs.push(SignatureJob {
                seq,
                index,
                key_id: entry.key.clone(),
                message: entry.message(&signed.content),
                signature: Signature::from_bytes(&entry.signature),
                public_key: *public_key,
            });
        }
    }
    None
}

fn needs_signature(event_type: &str) -> bool {
    matches!(
        event_type,
        "role.granted"
            | "role.revoked"
            | "key.registered"
            | "key.revoked"
            | "routing.released"
            | "routing.configured"
            | "change.released"
            | "lot.dispositioned"
            | "nonconformance.dispositioned"
            | "unit.released"
            | "correction.recorded"
            | "signature.applied"
    )
}
