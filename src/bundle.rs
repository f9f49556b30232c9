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
//!
//! Proofs show that each carried record is in the log; they cannot show that none was left
//! out. So the ledger key also signs the bundle's manifest (its subject, checkpoint and the
//! seq and hash of every record): a record dropped or added in transit breaks it. Only the
//! ledger key's holder can vouch for completeness this way (docs/verification.md).

use crate::chain::{Record, RecordHash, record_hash};
use crate::checkpoint::{self, Checkpoint, CheckpointError};
use crate::device_history::{DeviceHistory, DeviceHistoryError, device_history};
use crate::event::{SchemaSet, ValidEvent, entity_refs};
use crate::genesis::{GENESIS_SOURCE, Identity};
use crate::log_tree;
use crate::merkle::{self, LeafIndex, NodeHash};
use crate::signing::authority::{AUTHORITY_TYPES, Authority, Crypto, SignatureFault, requirement};
use crate::signing::signed_event;
use crate::store::{LogFilter, Store, StoreError};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

pub const BUNDLE_FORMAT: &str = "traceledger-bundle/v1";

/// Domain of the manifest's signed bytes (docs/verification.md): ASCII, then one 0x00.
pub const MANIFEST_DOMAIN: &[u8] = b"traceledger/bundle/v1\0";

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
    /// Consistency proofs from the trees of the ledger's earlier checkpoints to this one's,
    /// so that an auditor who holds one of them can check the bundle's against it
    /// (`verify-bundle --checkpoint`). Self-verifying against the two signed roots; absent
    /// from bundles made before they were added.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consistency: Vec<BundleConsistency>,
    /// The ledger key's Ed25519 signature (base64) over the manifest ([`manifest_message`]).
    pub manifest_signature: String,
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

/// The RFC 9162 consistency proof (hex node hashes) from the tree of the first `old_size`
/// records to the bundle checkpoint's tree.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BundleConsistency {
    pub old_size: u64,
    pub proof: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("against the checkpoint you hold: {0}")]
    Held(String),
    #[error("the bundle is not valid JSON of format {BUNDLE_FORMAT}: {0}")]
    Format(String),
    #[error("the bundle's checkpoint: {0}")]
    Checkpoint(CheckpointError),
    #[error("record {seq}: {detail}")]
    Record { seq: u64, detail: String },
    #[error("record {seq}: {fault}")]
    Signature { seq: u64, fault: SignatureFault },
    #[error(
        "the manifest signature does not verify with the ledger key: records were left out or added, or the subject or checkpoint changed, after the ledger signed it"
    )]
    Manifest,
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
                | BundleError::Held(_)
                | BundleError::Record { .. }
                | BundleError::Signature { .. }
                | BundleError::Manifest
                | BundleError::Genesis(_)
        )
    }
}

/// The records a bundle of `subject` must carry, as of the ledger now, each read once.
///
/// # Errors
/// `History` if there is no such unit or lot; a database error.
pub fn needed_records(
    store: &Store,
    identity: &Identity,
    subject: &str,
) -> Result<Vec<crate::chain::Record>, BundleError> {
    store.track_reads();
    let history = device_history(store, subject);
    let mut seqs = store.take_reads();
    history?;
    seqs.extend(1..=identity.genesis_size);
    let filter = LogFilter {
        types: AUTHORITY_TYPES.iter().map(|t| (*t).to_owned()).collect(),
        ..LogFilter::default()
    };
    store.for_each_logged(&filter, |record, _| {
        seqs.insert(record.seq);
        ControlFlow::Continue(())
    })?;
    let seqs: Vec<u64> = seqs.into_iter().collect();
    let mut records = BTreeMap::new();
    for record in store.records_at(&seqs)? {
        records.insert(record.seq, record);
    }
    if let Some(&missing) = seqs.iter().find(|seq| !records.contains_key(seq)) {
        return Err(record_error(missing, "missing from the ledger"));
    }
    // The printed names of everyone who signed a carried record.
    let signers: BTreeSet<String> = records
        .values()
        .filter_map(|record| serde_json::from_str::<Value>(&record.event).ok())
        .filter_map(|event| event.get("signatures").and_then(Value::as_array).cloned())
        .flatten()
        .filter_map(|entry| {
            entry
                .get("signer")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect();
    for signer in signers {
        for record in store.records_of_type_naming(
            "person.registered",
            crate::event::EntityKind::Person,
            crate::event::RefRole::Defines,
            &signer,
        )? {
            records.entry(record.seq).or_insert(record);
        }
    }
    Ok(records.into_values().collect())
}

/// The bytes the ledger key signs for a bundle: [`MANIFEST_DOMAIN`], then the JCS of
/// `{"checkpoint": note, "records": [{"hash", "seq"}...], "subject"}`.
pub fn manifest_message<'r>(
    subject: &str,
    note: &str,
    records: impl IntoIterator<Item = (u64, &'r str)>,
) -> Vec<u8> {
    let records: Vec<Value> = records
        .into_iter()
        .map(|(seq, hash)| serde_json::json!({"hash": hash, "seq": seq}))
        .collect();
    let manifest = serde_json::json!({
        "checkpoint": note,
        "records": records,
        "subject": subject,
    });
    let mut bytes = MANIFEST_DOMAIN.to_vec();
    // Strings and small integers only: JCS cannot fail on them.
    bytes.extend_from_slice(
        crate::event::canonical_json(&manifest)
            .unwrap_or_default()
            .as_bytes(),
    );
    bytes
}

/// Builds the bundle of `records` (from [`needed_records`]) proving `subject` against
/// `checkpoint` (whose note is `note`), its manifest signed with the ledger `key`.
///
/// # Errors
/// `NotCovered` if a needed record is beyond the checkpoint; a database error.
pub fn export(
    store: &Store,
    subject: &str,
    records: Vec<crate::chain::Record>,
    note: &str,
    checkpoint: &Checkpoint,
    key: &SigningKey,
) -> Result<Bundle, BundleError> {
    if let Some(last) = records.last()
        && last.seq > checkpoint.tree_size
    {
        return Err(BundleError::NotCovered {
            seq: last.seq,
            tree_size: checkpoint.tree_size,
        });
    }
    let mut carried = Vec::with_capacity(records.len());
    for record in records {
        let proof =
            log_tree::inclusion_proof(store, record.seq, checkpoint.tree_size)?.unwrap_or_default();
        carried.push(BundleRecord {
            seq: record.seq,
            recorded_at: record.recorded_at,
            prev: record.prev.to_hex(),
            hash: record.hash.to_hex(),
            event: record.event,
            proof: proof.iter().map(ToString::to_string).collect(),
        });
    }
    let mut consistency = Vec::new();
    for kept in store.checkpoints()? {
        if kept.tree_size == 0 || kept.tree_size >= checkpoint.tree_size {
            continue;
        }
        let proof = log_tree::consistency_proof(store, kept.tree_size, checkpoint.tree_size)?
            .unwrap_or_default();
        // Only a proof that holds goes out (the kept root was checked by verify before).
        let holds = NodeHash::from_slice(&kept.root).is_some_and(|old_root| {
            merkle::verify_consistency(
                kept.tree_size,
                checkpoint.tree_size,
                &old_root,
                &checkpoint.root,
                &proof,
            )
            .is_ok()
        });
        if holds {
            consistency.push(BundleConsistency {
                old_size: kept.tree_size,
                proof: proof.iter().map(ToString::to_string).collect(),
            });
        }
    }
    let message = manifest_message(
        subject,
        note,
        carried.iter().map(|r| (r.seq, r.hash.as_str())),
    );
    Ok(Bundle {
        consistency,
        format: BUNDLE_FORMAT.to_owned(),
        subject: subject.to_owned(),
        checkpoint: note.to_owned(),
        records: carried,
        manifest_signature: BASE64.encode(key.sign(&message).to_bytes()),
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

/// Checks a bundle's checkpoint against one the auditor already holds (`held`, a signed
/// note): both must open with the ledger key and be of one log; of the same size they must
/// be the same tree, and an older held one must be proven a prefix of the bundle's by a
/// consistency proof the bundle carries. A held checkpoint newer than the bundle's cannot be
/// checked against it: refused, as a stale bundle. Returns the held checkpoint.
///
/// # Errors
/// `Format` for a bundle that is not one, `Held` when the check fails.
pub fn check_against_held(
    text: &str,
    ledger_key: &VerifyingKey,
    held: &str,
) -> Result<Checkpoint, BundleError> {
    let bundle: Bundle =
        serde_json::from_str(text).map_err(|e| BundleError::Format(e.to_string()))?;
    let ours = checkpoint::open(&bundle.checkpoint, ledger_key).map_err(BundleError::Checkpoint)?;
    let theirs = checkpoint::open(held, ledger_key)
        .map_err(|e| BundleError::Held(format!("it does not open with the ledger key: {e}")))?;
    let fail = |why: String| Err(BundleError::Held(why));
    if theirs.origin != ours.origin {
        return fail(format!(
            "it is of log {:?}, the bundle of {:?}",
            theirs.origin, ours.origin
        ));
    }
    if theirs.tree_size == ours.tree_size {
        if theirs.root != ours.root {
            return fail(format!(
                "both are of {} records but their roots differ ({} and {}): the ledger key signed two histories (a split view)",
                ours.tree_size, theirs.root, ours.root
            ));
        }
        return Ok(theirs);
    }
    if theirs.tree_size > ours.tree_size {
        return fail(format!(
            "it is of {} records, the bundle's checkpoint of {} only: the bundle is older than what you hold and cannot be checked against it (ask for a bundle against a newer checkpoint)",
            theirs.tree_size, ours.tree_size
        ));
    }
    let Some(carried) = bundle
        .consistency
        .iter()
        .find(|c| c.old_size == theirs.tree_size)
    else {
        return fail(format!(
            "the bundle carries no consistency proof from {} records (the ledger did not keep that checkpoint when it made the bundle)",
            theirs.tree_size
        ));
    };
    let proof = carried
        .proof
        .iter()
        .map(|h| RecordHash::from_hex(h).map(|r| NodeHash(r.0)))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            BundleError::Format("a consistency proof hash is not 64 hex digits".into())
        })?;
    merkle::verify_consistency(
        theirs.tree_size,
        ours.tree_size,
        &theirs.root,
        &ours.root,
        &proof,
    )
    .map_err(|e| {
        BundleError::Held(format!(
            "the bundle's tree of {} records does not extend yours of {}: {e} (the history was rewritten, or the ledger key signed two histories)",
            ours.tree_size, theirs.tree_size
        ))
    })?;
    Ok(theirs)
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
        let lower_hex = |text: &str| {
            text.len() == 64
                && text
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        if !lower_hex(&item.prev) || !item.proof.iter().all(|h| lower_hex(h)) {
            return Err(record_error(
                seq,
                "prev and every proof hash must be 64 lowercase hex digits",
            ));
        }
        let prev = RecordHash::from_hex(&item.prev)
            .ok_or_else(|| record_error(seq, "prev is not 64 hex digits"))?;
        let computed = record_hash(seq, &item.recorded_at, &prev, &item.event);
        if computed.to_hex() != item.hash {
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
        // As ingest reads a line: strict JSON (no repeated members), the schemas; and the
        // text must be the canonical form, the only form the ledger stores.
        let event = ValidEvent::parse(&item.event, schemas)
            .map_err(|r| record_error(seq, r.to_string()))?;
        if event.canonical != item.event {
            return Err(record_error(
                seq,
                "the event is not in its canonical form (docs/format.md §1)",
            ));
        }
        let value = &event.value;
        let event_type = event.event_type.as_str();
        let is_genesis = value.get("source").and_then(Value::as_str) == Some(GENESIS_SOURCE);
        if is_genesis {
            if seq != genesis_size + 1 {
                return Err(record_error(
                    seq,
                    format!(
                        "a genesis record (source {GENESIS_SOURCE}) out of place: the genesis is records 1, 2, ... with none missing, and this follows record {previous}"
                    ),
                ));
            }
            genesis_size = seq;
        } else {
            if genesis_size == 0 {
                return Err(record_error(
                    seq,
                    "comes before any genesis record: the bundle must carry the genesis, records 1, 2, ... first",
                ));
            }
            let data = value.get("data").unwrap_or(&Value::Null);
            let signed = signed_event(value).map_err(|e| record_error(seq, e.to_string()))?;
            signatures += signed.entries.len();
            authority
                .check(
                    seq,
                    &signed,
                    requirement(event_type, data).as_ref(),
                    event_type,
                    Crypto::Verify,
                )
                .map_err(|fault| BundleError::Signature { seq, fault })?;
        }
        authority.observe(seq, event_type, &item.event);
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
    // Every claimed hash was checked equal to the recomputed one above.
    let message = manifest_message(
        &bundle.subject,
        &bundle.checkpoint,
        bundle.records.iter().map(|r| (r.seq, r.hash.as_str())),
    );
    let signature = BASE64
        .decode(bundle.manifest_signature.as_bytes())
        .ok()
        .and_then(|bytes| Signature::from_slice(&bytes).ok())
        .ok_or(BundleError::Manifest)?;
    ledger_key
        .verify_strict(&message, &signature)
        .map_err(|_| BundleError::Manifest)?;
    let history = device_history(&store, &bundle.subject)?;
    Ok(Verified {
        checkpoint,
        records: bundle.records.len(),
        signatures,
        history,
    })
}
