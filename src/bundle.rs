//! Auditor bundles: one self-contained file that proves a unit's (or lot's) Device History
//! Record to someone who holds only the ledger's public key (docs/verification.md).
//!
//! A bundle carries a signed checkpoint and records, each with its inclusion proof against
//! that checkpoint: every record the DHR projection read, the genesis, every key and role
//! record (so each signature can be judged as of its time), and the signers' person records.
//! Verifying it needs no ledger: each record is re-hashed from its fields, proven into the
//! checkpoint's tree, its signatures judged; then the DHR is rebuilt from these records
//! alone, which gives the same DHR as the ledger did, because they are exactly the records
//! the projection read there.

use crate::chain::{Record, RecordHash, record_hash};
use crate::checkpoint::{self, Checkpoint, CheckpointError};
use crate::device_history::{DeviceHistory, DeviceHistoryError, device_history};
use crate::event::{SchemaSet, ValidEvent, entity_refs};
use crate::genesis::{GENESIS_SOURCE, Identity};
use crate::log_tree;
use crate::merkle::{self, LeafIndex, NodeHash};
use crate::signing::authority::{AUTHORITY_TYPES, Authority, SignatureFault, requirement};
use crate::signing::signed_event;
use crate::store::{LogFilter, Store, StoreError};
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;
use std::ops::ControlFlow;

pub const BUNDLE_FORMAT: &str = "traceledger-bundle/v1";

/// The bundle file (JSON).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    pub format: String,
    /// The unit or lot whose DHR this proves.
    pub subject: String,
    /// The signed checkpoint note every proof leads to.
    pub checkpoint: String,
    /// In seq order.
    pub records: Vec<BundleRecord>,
}

/// One record with its proof.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BundleRecord {
    pub seq: u64,
    pub recorded_at: String,
    /// Hex of the previous record's hash, as hashed into this one.
    pub prev: String,
    /// Hex of this record's hash (recomputed by the verifier, never trusted).
    pub hash: String,
    /// The event's canonical JSON, byte for byte as hashed.
    pub event: String,
    /// The audit path (hex node hashes, nearest first) of leaf seq-1 in the checkpoint's tree.
    pub proof: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("the bundle is not valid JSON of format {BUNDLE_FORMAT}: {0}")]
    Format(String),
    #[error("the bundle's checkpoint: {0}")]
    Checkpoint(CheckpointError),
    #[error("record {seq}: {detail}")]
    Record { seq: u64, detail: String },
    #[error("record {seq}: {fault}")]
    Signature { seq: u64, fault: SignatureFault },
    #[error("the bundle does not carry the genesis (records 1 to {0} of source {GENESIS_SOURCE})")]
    Genesis(u64),
    #[error(
        "seq {seq} is beyond the checkpoint (tree size {tree_size}): issue a new checkpoint first"
    )]
    NotCovered { seq: u64, tree_size: u64 },
    #[error(transparent)]
    History(#[from] DeviceHistoryError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BundleError {
    /// Whether this says the bundle is forged or altered (rather than unreadable or not
    /// applicable).
    pub fn is_integrity(&self) -> bool {
        matches!(
            self,
            BundleError::Checkpoint(_)
                | BundleError::Record { .. }
                | BundleError::Signature { .. }
                | BundleError::Genesis(_)
        )
    }
}

/// The records a bundle of `subject` must carry, as of the ledger now.
///
/// # Errors
/// `History` if there is no such unit or lot; a database error.
pub fn needed_seqs(
    store: &Store,
    identity: &Identity,
    subject: &str,
) -> Result<BTreeSet<u64>, BundleError> {
    store.track_reads();
    let history = device_history(store, subject);
    let mut seqs = store.take_reads();
    history?;
    seqs.extend(1..=identity.genesis_size);
    let filter = LogFilter {
        types: AUTHORITY_TYPES.iter().map(|t| (*t).to_owned()).collect(),
        ..LogFilter::default()
    };
    let mut signers = BTreeSet::new();
    store.for_each_logged(&filter, |record, _| {
        seqs.insert(record.seq);
        ControlFlow::Continue(())
    })?;
    // The printed names of everyone who signed a carried record.
    store.for_each_logged(&LogFilter::default(), |record, _| {
        if seqs.contains(&record.seq)
            && let Ok(event) = serde_json::from_str::<Value>(&record.event)
            && let Some(list) = event.get("signatures").and_then(Value::as_array)
        {
            signers.extend(
                list.iter()
                    .filter_map(|s| s.get("signer").and_then(Value::as_str).map(str::to_owned)),
            );
        }
        ControlFlow::Continue(())
    })?;
    for signer in signers {
        for record in store.records_of_type_naming(
            "person.registered",
            crate::event::EntityKind::Person,
            crate::event::RefRole::Defines,
            &signer,
        )? {
            seqs.insert(record.seq);
        }
    }
    Ok(seqs)
}

/// Builds the bundle of `subject` proving against `checkpoint` (whose note is `note`).
///
/// # Errors
/// `NotCovered` if a needed record is beyond the checkpoint; `History`; a database error.
pub fn export(
    store: &Store,
    identity: &Identity,
    subject: &str,
    note: &str,
    checkpoint: &Checkpoint,
) -> Result<Bundle, BundleError> {
    let seqs = needed_seqs(store, identity, subject)?;
    if let Some(&last) = seqs.last()
        && last > checkpoint.tree_size
    {
        return Err(BundleError::NotCovered {
            seq: last,
            tree_size: checkpoint.tree_size,
        });
    }
    let mut records = Vec::with_capacity(seqs.len());
    for seq in seqs {
        let mut found = None;
        store.for_each_logged(
            &LogFilter {
                from_seq: Some(seq),
                to_seq: Some(seq),
                ..LogFilter::default()
            },
            |record, _| {
                found = Some(record.clone());
                ControlFlow::Break(())
            },
        )?;
        let record = found.ok_or_else(|| BundleError::Record {
            seq,
            detail: "missing from the ledger".to_owned(),
        })?;
        let proof =
            log_tree::inclusion_proof(store, seq, checkpoint.tree_size)?.unwrap_or_default();
        records.push(BundleRecord {
            seq,
            recorded_at: record.recorded_at,
            prev: record.prev.to_hex(),
            hash: record.hash.to_hex(),
            event: record.event,
            proof: proof.iter().map(ToString::to_string).collect(),
        });
    }
    Ok(Bundle {
        format: BUNDLE_FORMAT.to_owned(),
        subject: subject.to_owned(),
        checkpoint: note.to_owned(),
        records,
    })
}

/// What a verified bundle proves.
#[derive(Debug, Clone)]
pub struct Verified {
    pub checkpoint: Checkpoint,
    pub records: usize,
    pub signatures: usize,
    pub history: DeviceHistory,
}

fn record_error(seq: u64, detail: impl Into<String>) -> BundleError {
    BundleError::Record {
        seq,
        detail: detail.into(),
    }
}

/// Verifies a bundle with the ledger's public key and rebuilds the DHR it proves.
///
/// # Errors
/// `Format`; `Checkpoint` (bad signature); `Record` (a record that does not hash or prove);
/// `Signature`; `Genesis`; or `History` if the records do not make a DHR of the subject.
pub fn verify(
    text: &str,
    ledger_key: &VerifyingKey,
    schemas: &SchemaSet,
) -> Result<Verified, BundleError> {
    let bundle: Bundle =
        serde_json::from_str(text).map_err(|e| BundleError::Format(e.to_string()))?;
    if bundle.format != BUNDLE_FORMAT {
        return Err(BundleError::Format(format!(
            "format is {:?}",
            bundle.format
        )));
    }
    let checkpoint =
        checkpoint::open(&bundle.checkpoint, ledger_key).map_err(BundleError::Checkpoint)?;
    let mut store = Store::scratch()?;
    let mut authority = Authority::default();
    let mut previous = 0u64;
    let mut genesis_size = 0u64;
    let mut signatures = 0usize;
    for item in &bundle.records {
        let seq = item.seq;
        if seq <= previous {
            return Err(record_error(
                seq,
                "records are not in strictly increasing seq order",
            ));
        }
        let prev = RecordHash::from_hex(&item.prev)
            .ok_or_else(|| record_error(seq, "prev is not 64 hex digits"))?;
        let computed = record_hash(seq, &item.recorded_at, &prev, &item.event);
        if computed.to_hex() != item.hash.to_ascii_lowercase() {
            return Err(record_error(
                seq,
                format!(
                    "the record hashes to {computed}, not to the hash it claims (it was altered)"
                ),
            ));
        }
        let proof = item
            .proof
            .iter()
            .map(|h| RecordHash::from_hex(h).map(|r| NodeHash(r.0)))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| record_error(seq, "a proof hash is not 64 hex digits"))?;
        merkle::verify_inclusion(
            LeafIndex(seq - 1),
            checkpoint.tree_size,
            &log_tree::leaf_of(&computed),
            &proof,
            &checkpoint.root,
        )
        .map_err(|e| record_error(seq, format!("not in the checkpoint's tree: {e}")))?;
        let value: Value =
            serde_json::from_str(&item.event).map_err(|e| record_error(seq, e.to_string()))?;
        let event_type = value
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let is_genesis = value.get("source").and_then(Value::as_str) == Some(GENESIS_SOURCE);
        if is_genesis {
            if seq != genesis_size + 1 {
                return Err(BundleError::Genesis(genesis_size.max(1)));
            }
            genesis_size = seq;
        } else {
            if genesis_size == 0 {
                return Err(BundleError::Genesis(1));
            }
            let data = value.get("data").unwrap_or(&Value::Null);
            let signed = signed_event(&value).map_err(|e| record_error(seq, e.to_string()))?;
            signatures += signed.entries.len();
            authority
                .check(
                    seq,
                    &signed,
                    requirement(&event_type, data).as_ref(),
                    &event_type,
                    true,
                )
                .map_err(|fault| BundleError::Signature { seq, fault })?;
        }
        authority.observe(seq, &event_type, &item.event);
        let event =
            ValidEvent::from_value(value, schemas).map_err(|r| record_error(seq, r.to_string()))?;
        let record = Record {
            seq,
            recorded_at: item.recorded_at.clone(),
            prev,
            hash: computed,
            event: item.event.clone(),
        };
        store.import_record(&record, &event, &entity_refs(&event.value))?;
        previous = seq;
    }
    if genesis_size == 0 {
        return Err(BundleError::Genesis(1));
    }
    let history = device_history(&store, &bundle.subject)?;
    Ok(Verified {
        checkpoint,
        records: bundle.records.len(),
        signatures,
        history,
    })
}
