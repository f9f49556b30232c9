//! Verify: re-reads the whole log and checks every link of the hash chain, like fsck.
//!
//! For each record in seq order: the seq is the next one (no gap, no repeat), `prev` is the
//! hash of the record before it (the genesis constant for seq 1), `hash` is what the record's
//! bytes hash to (docs/format.md), and the indexed columns agree with the hashed event. At the
//! end, the head the ledger claimed at its last commit must be the head found. Records stream
//! through one at a time: memory does not grow with the ledger.
//!
//! What the chain cannot see on its own: a ledger rewritten from some point with a fresh,
//! valid chain, or a tail cut off together with the claimed head. `trust` closes that gap
//! with the ledger key: the genesis, signed checkpoints (kept in the ledger or held by the
//! auditor) checked against the records, and every electronic signature.

pub mod signatures;
pub mod trust;

use crate::chain::{GENESIS_PREV, RecordHash, record_hash};
use crate::event::{entity_refs, envelope_fields};
use crate::store::{DerivedDiff, Head, RecordView, Store, StoreError};
use std::fmt;
use std::ops::ControlFlow;

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The first thing found wrong, with its evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A seq is missing (a record deleted) or out of order.
    UnexpectedSeq { expected: u64, found: i64 },
    /// `prev` is not the hash of the record before.
    BrokenLink {
        seq: u64,
        expected: RecordHash,
        found: String,
    },
    /// The record's bytes do not hash to its stored hash: it was edited.
    HashMismatch {
        seq: u64,
        stored: String,
        computed: RecordHash,
    },
    /// A column that repeats a field of the hashed event says something else.
    ColumnMismatch {
        seq: u64,
        column: &'static str,
        stored: String,
        in_event: String,
    },
    /// The row cannot be read as a record at all.
    Unreadable { seq: i64, detail: String },
    /// The stored event text is not the RFC 8785 canonical form of itself (format.md §1):
    /// written by something other than traceledger, which hashes only canonical text.
    NonCanonicalEvent { seq: u64 },
    /// `recorded_at` is not the 27-character form `YYYY-MM-DDThh:mm:ss.ffffffZ` (format.md §2).
    BadRecordedAt { seq: u64, found: String },
    /// `recorded_at` is earlier than the record before's: the ledger clock never goes back.
    RecordedAtBackwards {
        seq: u64,
        previous: String,
        found: String,
    },
    /// A head the auditor kept from an earlier verify is not in the ledger any more: the log
    /// was cut below it, or rewritten at or before it.
    KeptHeadMismatch {
        seq: u64,
        kept: RecordHash,
        found: Option<RecordHash>,
    },
    /// The head that the ledger recorded at its last commit is not the head found.
    HeadMismatch {
        claimed_seq: String,
        claimed_hash: String,
        found: Option<Head>,
    },
    /// A check of signatures, checkpoints or the genesis failed.
    Trust(trust::TrustFinding),
}

impl Finding {
    /// The seq the finding is about (for `HeadMismatch`, the claimed head's).
    pub fn seq(&self) -> Option<i64> {
        match self {
            Finding::UnexpectedSeq { expected, .. } => i64::try_from(*expected).ok(),
            Finding::BrokenLink { seq, .. }
            | Finding::HashMismatch { seq, .. }
            | Finding::ColumnMismatch { seq, .. } => i64::try_from(*seq).ok(),
            Finding::Unreadable { seq, .. } => Some(*seq),
            Finding::NonCanonicalEvent { seq }
            | Finding::BadRecordedAt { seq, .. }
            | Finding::RecordedAtBackwards { seq, .. } => i64::try_from(*seq).ok(),
            Finding::HeadMismatch { claimed_seq, .. } => claimed_seq.parse().ok(),
            Finding::KeptHeadMismatch { seq, .. } => i64::try_from(*seq).ok(),
            Finding::Trust(found) => found.seq().and_then(|s| i64::try_from(s).ok()),
        }
    }

    /// A stable machine name for `--json`.
    pub fn code(&self) -> &'static str {
        match self {
            Finding::UnexpectedSeq { expected, found } => {
                if *found > i64::try_from(*expected).unwrap_or(i64::MAX) {
                    "seq_gap"
                } else {
                    "seq_repeat"
                }
            }
            Finding::BrokenLink { .. } => "broken_link",
            Finding::HashMismatch { .. } => "hash_mismatch",
            Finding::ColumnMismatch { .. } => "column_mismatch",
            Finding::Unreadable { .. } => "unreadable_record",
            Finding::NonCanonicalEvent { .. } => "non_canonical_event",
            Finding::BadRecordedAt { .. } => "bad_recorded_at",
            Finding::RecordedAtBackwards { .. } => "recorded_at_backwards",
            Finding::HeadMismatch { .. } => "head_mismatch",
            Finding::KeptHeadMismatch { .. } => "kept_head_mismatch",
            Finding::Trust(found) => found.code(),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::UnexpectedSeq { expected, found } => {
                if *found > i64::try_from(*expected).unwrap_or(i64::MAX) {
                    write!(
                        f,
                        "seq {expected}: gap in seq: record {expected} is missing, the next record is {found} (a record was deleted)"
                    )
                } else {
                    write!(
                        f,
                        "seq {expected}: repeat or disorder in seq: found {found} where {expected} was expected"
                    )
                }
            }
            Finding::BrokenLink {
                seq,
                expected,
                found,
            } => write!(
                f,
                "seq {seq}: broken link: prev is {found} but the record before hashes to {expected} (a record was inserted, removed, swapped or re-hashed here)"
            ),
            Finding::HashMismatch {
                seq,
                stored,
                computed,
            } => write!(
                f,
                "seq {seq}: hash mismatch: stored {stored}, computed {computed} (the record was edited)"
            ),
            Finding::ColumnMismatch {
                seq,
                column,
                stored,
                in_event,
            } => write!(
                f,
                "seq {seq}: column {column} says {stored:?} but the hashed event says {in_event:?} (the index was edited)"
            ),
            Finding::Unreadable { seq, detail } => {
                write!(f, "seq {seq}: unreadable record: {detail}")
            }
            Finding::NonCanonicalEvent { seq } => write!(
                f,
                "seq {seq}: the stored event is not in its canonical form (RFC 8785, docs/format.md §1): traceledger stores and hashes only canonical text, so it was written by something else"
            ),
            Finding::BadRecordedAt { seq, found } => write!(
                f,
                "seq {seq}: recorded_at {found:?} is not the ledger clock's form YYYY-MM-DDThh:mm:ss.ffffffZ (docs/format.md §2)"
            ),
            Finding::RecordedAtBackwards {
                seq,
                previous,
                found,
            } => write!(
                f,
                "seq {seq}: recorded_at {found} is earlier than the record before's {previous}: the ledger clock never goes back (docs/format.md §2)"
            ),
            Finding::KeptHeadMismatch { seq, kept, found } => match found {
                Some(found) => write!(
                    f,
                    "seq {seq}: the head kept from an earlier verify was {kept}, the ledger now has {found} (the log was rewritten at or before seq {seq})"
                ),
                None => write!(
                    f,
                    "seq {seq}: the head kept from an earlier verify ({kept}) is gone: the ledger no longer reaches seq {seq} (its tail was cut off)"
                ),
            },
            Finding::HeadMismatch {
                claimed_seq,
                claimed_hash,
                found,
            } => {
                let found = found.map_or("an empty log".to_owned(), |h| {
                    format!("seq {} hash {}", h.seq, h.hash)
                });
                write!(
                    f,
                    "head mismatch: the last commit recorded head seq {claimed_seq} hash {claimed_hash}, the log ends at {found} (records were cut off or added outside the ledger)"
                )
            }
            Finding::Trust(found) => found.fmt(f),
        }
    }
}

/// The result of a verification.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// Records checked before the first finding (all of them when intact).
    pub records: u64,
    pub head: Option<Head>,
    pub finding: Option<Finding>,
    /// With `--derived`: how the stored entity index and KPI tables differ from ones rebuilt
    /// from the log.
    pub derived: Option<DerivedDiff>,
    /// What the trust checks covered, when they ran ([`trust::check`]).
    pub trust: Option<trust::TrustReport>,
}

impl VerifyReport {
    pub fn intact(&self) -> bool {
        self.finding.is_none() && self.derived.as_ref().is_none_or(DerivedDiff::matches)
    }
}

/// `recorded_at` in microseconds, if it is in the ledger clock's one form (27 characters).
fn recorded_micros(text: &str) -> Option<i64> {
    let micros = crate::time::parse_rfc3339_micros(text)?;
    (text.len() == 27 && crate::time::format_rfc3339_micros(micros) == text).then_some(micros)
}

/// Checks one record against the state carried from the record before (its hash, and its
/// `recorded_at` in microseconds when known). Returns this record's `recorded_at` in
/// microseconds, or the first finding.
fn check_record(
    view: &RecordView<'_>,
    expected_seq: u64,
    prev: &RecordHash,
    prev_micros: Option<i64>,
) -> Result<i64, Finding> {
    if let Some(found) = check_record_chain(view, expected_seq, prev) {
        return Err(found);
    }
    let seq = expected_seq;
    // The format's promises the hash does not enforce: canonical text, the clock's form,
    // a clock that never goes back.
    let canonical = serde_json::from_str::<serde_json::Value>(view.event)
        .ok()
        .and_then(|value| crate::event::canonical_json(&value).ok());
    if canonical.as_deref() != Some(view.event) {
        return Err(Finding::NonCanonicalEvent { seq });
    }
    let Some(micros) = recorded_micros(view.recorded_at) else {
        return Err(Finding::BadRecordedAt {
            seq,
            found: view.recorded_at.to_owned(),
        });
    };
    if let Some(before) = prev_micros
        && micros < before
    {
        return Err(Finding::RecordedAtBackwards {
            seq,
            previous: crate::time::format_rfc3339_micros(before),
            found: view.recorded_at.to_owned(),
        });
    }
    Ok(micros)
}

/// The chain checks of one record: seq, link, hash, the indexed columns.
fn check_record_chain(
    view: &RecordView<'_>,
    expected_seq: u64,
    prev: &RecordHash,
) -> Option<Finding> {
    if view.seq != i64::try_from(expected_seq).unwrap_or(i64::MAX) {
        return Some(Finding::UnexpectedSeq {
            expected: expected_seq,
            found: view.seq,
        });
    }
    let seq = expected_seq;
    if view.prev != prev.0 {
        return Some(Finding::BrokenLink {
            seq,
            expected: *prev,
            found: hex_of(view.prev),
        });
    }
    let computed = record_hash(seq, view.recorded_at, prev, view.event);
    if view.hash != computed.0 {
        return Some(Finding::HashMismatch {
            seq,
            stored: hex_of(view.hash),
            computed,
        });
    }
    let fields = match envelope_fields(view.event) {
        Ok(fields) => fields,
        Err(e) => {
            return Some(Finding::Unreadable {
                seq: view.seq,
                detail: format!("event is not a valid event object: {e}"),
            });
        }
    };
    let columns: [(&'static str, Option<&str>, Option<&str>); 5] = [
        ("id", Some(view.id), Some(&fields.id)),
        ("type", Some(view.event_type), Some(&fields.event_type)),
        (
            "occurred_at",
            Some(view.occurred_at),
            Some(&fields.occurred_at),
        ),
        ("site", Some(view.site), Some(&fields.site)),
        ("actor", view.actor, fields.actor.as_deref()),
    ];
    for (column, stored, in_event) in columns {
        if stored != in_event {
            return Some(Finding::ColumnMismatch {
                seq,
                column,
                stored: stored.unwrap_or("NULL").to_owned(),
                in_event: in_event.unwrap_or("(absent)").to_owned(),
            });
        }
    }
    None
}

fn hex_of(bytes: &[u8]) -> String {
    RecordHash::from_slice(bytes).map_or_else(
        || format!("<{} bytes, not 32>", bytes.len()),
        |hash| hash.to_hex(),
    )
}

/// What `verify` checks beyond the chain: heads and checkpoints an auditor kept, the key
/// they trust, how signatures are checked.
#[derive(Debug, Clone, Default)]
pub struct TrustOptions {
    pub kept_heads: Vec<(u64, RecordHash)>,
    pub trusted_key: Option<ed25519_dalek::VerifyingKey>,
    pub held: Vec<trust::CheckpointSource>,
    pub mode: signatures::Mode,
}

/// [`verify`], then the kept heads and the trust checks ([`trust::check`]). The trust walk
/// runs on its own connection while the chain is walked, since both read every record; its
/// findings count only if the chain is intact up to the head it walked to.
///
/// # Errors
/// A database error.
pub fn verify_with_trust(
    store: &mut Store,
    derived: bool,
    options: &TrustOptions,
) -> Result<VerifyReport, VerifyError> {
    let head = store
        .log_bounds()?
        .seqs
        .map_or(0, |(_, high)| u64::try_from(high).unwrap_or(0));
    let path = store.path().to_owned();
    let access = store.access();
    let (chain, trusted) = std::thread::scope(|scope| {
        let walk = scope.spawn(|| -> Result<trust::TrustReport, VerifyError> {
            let mut other = Store::open_like(&path, access)?;
            other.set_cache_kib(SCAN_CACHE_KIB)?;
            Ok(trust::check(
                &other,
                head,
                options.trusted_key.as_ref(),
                &options.held,
                options.mode,
            )?)
        });
        let chain = verify(store, derived);
        (chain, walk.join())
    });
    let mut report = chain?;
    if report.finding.is_none() {
        report.finding = check_kept_heads(store, &options.kept_heads)?;
    }
    if report.finding.is_none() {
        let checked = match trusted {
            Ok(checked) if report.records == head => checked?,
            // The log grew while it was read: judge the records the chain walk vouched for.
            Ok(_) => trust::check(
                store,
                report.records,
                options.trusted_key.as_ref(),
                &options.held,
                options.mode,
            )?,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        report.finding = checked.finding.clone().map(Finding::Trust);
        report.trust = Some(checked);
    }
    Ok(report)
}

/// Checks heads an auditor kept from earlier verifies (`verify --json` prints `seq` and
/// `hash`): each must still be in the ledger. Call after [`verify`] found the chain intact;
/// then the stored hash of a seq is its true hash, and a mismatch means the ledger was
/// rewritten at or before that seq, or cut below it. A hash chain alone cannot show this.
///
/// # Errors
/// A database error.
pub fn check_kept_heads(
    store: &Store,
    kept: &[(u64, RecordHash)],
) -> Result<Option<Finding>, VerifyError> {
    for (seq, hash) in kept {
        let found = store.hash_at(*seq)?;
        if found != Some(*hash) {
            return Ok(Some(Finding::KeptHeadMismatch {
                seq: *seq,
                kept: *hash,
                found,
            }));
        }
    }
    Ok(None)
}

/// Segments are no shorter than this: a thread and a connection cost about a millisecond,
/// 10,000 records about 20 ms (a 93,000-record ledger walked by one thread ran at half speed).
const SEGMENT_RECORDS_MIN: i64 = 10_000;
/// A scan reads each page once: a small page cache per connection keeps memory flat.
const SCAN_CACHE_KIB: i64 = 4 * 1024;
/// At most this many segments are walked at once.
const SEGMENTS_MAX: usize = 8;

/// What one segment of the log holds, as far as its walk got.
struct SegmentWalk {
    /// The first seq of the segment, as stored, and its stored `prev` (not checked inside
    /// the segment: the segment before knows what it must be).
    first: Option<(i64, RecordHash)>,
    /// Records checked and found sound, in order from the segment's start.
    records: u64,
    /// The hash of the last sound record.
    last_hash: Option<RecordHash>,
    /// `recorded_at` (microseconds) of the first and the last sound record.
    first_micros: Option<i64>,
    last_micros: Option<i64>,
    finding: Option<Finding>,
}

/// Walks seq `from..=to`, checking every record and every link inside the range.
fn walk_segment(
    store: &Store,
    from: i64,
    to: i64,
    expected_first: u64,
) -> Result<SegmentWalk, VerifyError> {
    let mut walk = SegmentWalk {
        first: None,
        records: 0,
        last_hash: None,
        first_micros: None,
        last_micros: None,
        finding: None,
    };
    let mut expected_seq = expected_first;
    let mut prev: Option<RecordHash> = None;
    let walked = store.for_each_record(from, to, |item| {
        let view = match item {
            Ok(view) => view,
            Err(StoreError::Unreadable { seq, detail }) => {
                walk.finding = Some(Finding::Unreadable { seq, detail });
                return ControlFlow::Break(());
            }
            Err(other) => {
                walk.finding = Some(Finding::Unreadable {
                    seq: i64::try_from(expected_seq).unwrap_or(i64::MAX),
                    detail: other.to_string(),
                });
                return ControlFlow::Break(());
            }
        };
        // The first record's link is the previous segment's to judge; take its own prev.
        let link = match prev {
            Some(hash) => hash,
            None => match RecordHash::from_slice(view.prev) {
                Some(stored) => {
                    walk.first = Some((view.seq, stored));
                    if expected_first == 1 {
                        GENESIS_PREV
                    } else {
                        stored
                    }
                }
                None => {
                    walk.finding = Some(Finding::Unreadable {
                        seq: view.seq,
                        detail: format!("prev is {} bytes, not 32", view.prev.len()),
                    });
                    return ControlFlow::Break(());
                }
            },
        };
        let micros = match check_record(&view, expected_seq, &link, walk.last_micros) {
            Ok(micros) => micros,
            Err(found) => {
                walk.finding = Some(found);
                return ControlFlow::Break(());
            }
        };
        walk.first_micros.get_or_insert(micros);
        walk.last_micros = Some(micros);
        // Checked above: the stored hash equals the computed one, so it is 32 bytes.
        let hash = RecordHash::from_slice(view.hash).unwrap_or(GENESIS_PREV);
        prev = Some(hash);
        walk.last_hash = Some(hash);
        walk.records += 1;
        expected_seq += 1;
        ControlFlow::Continue(())
    });
    match walked {
        Ok(()) => {}
        Err(e) if e.is_corruption() => {
            walk.finding.get_or_insert(Finding::Unreadable {
                seq: i64::try_from(expected_seq).unwrap_or(i64::MAX),
                detail: e.to_string(),
            });
        }
        Err(e) => return Err(e.into()),
    }
    Ok(walk)
}

/// Verifies the whole chain; with `derived`, also compares the entity index with one
/// recomputed from the records.
///
/// A large log is cut into seq ranges walked in parallel, each on its own connection (the
/// records are append-only, so every range reads the same history); the links between ranges
/// are checked when they are joined. The first finding in seq order is the one reported.
///
/// # Errors
/// A database error that is not damage to a record (damage is a [`Finding`]).
pub fn verify(store: &mut Store, derived: bool) -> Result<VerifyReport, VerifyError> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    verify_in_segments(store, derived, cores, SEGMENT_RECORDS_MIN)
}

/// [`verify`] with the parallelism spelled out: up to `segments` ranges, none shorter than
/// `segment_records_min`. Any choice gives the same report; tests hold it to that.
///
/// # Errors
/// As [`verify`].
pub fn verify_in_segments(
    store: &mut Store,
    derived: bool,
    segments: usize,
    segment_records_min: i64,
) -> Result<VerifyReport, VerifyError> {
    store.set_cache_kib(SCAN_CACHE_KIB)?;
    let bounds = store.log_bounds()?;
    let (low, high) = bounds.seqs.unwrap_or((1, 0));
    let span = high.saturating_sub(low).saturating_add(1).max(0);
    let by_size = usize::try_from(span / segment_records_min.max(1)).unwrap_or(usize::MAX);
    let segments = segments.min(by_size).clamp(1, SEGMENTS_MAX);
    // Range k covers seqs from starts[k]; the first starts at the lowest stored seq so that a
    // stray seq 0 or below is found, the rest at even cuts of 1..=high.
    let mut starts = vec![low.min(1)];
    for k in 1..segments {
        starts.push(1 + (high * k as i64) / segments as i64);
    }
    let walks: Vec<Result<SegmentWalk, VerifyError>> = if segments == 1 {
        vec![walk_segment(store, starts[0], high, 1)]
    } else {
        let path = store.path().to_owned();
        let access = store.access();
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..segments)
                .map(|k| {
                    let from = starts[k];
                    let to = starts.get(k + 1).map_or(high, |next| next - 1);
                    let path = path.clone();
                    scope.spawn(move || -> Result<SegmentWalk, VerifyError> {
                        let mut segment_store = Store::open_like(&path, access)?;
                        segment_store.set_cache_kib(SCAN_CACHE_KIB)?;
                        let expected_first = if k == 0 {
                            1
                        } else {
                            u64::try_from(from).unwrap_or(1)
                        };
                        walk_segment(&segment_store, from, to, expected_first)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        std::panic::resume_unwind(Box::new("verify thread panicked"))
                    })
                })
                .collect()
        })
    };
    let mut records = 0u64;
    let mut prev = GENESIS_PREV;
    let mut prev_micros: Option<i64> = None;
    let mut finding = None;
    for (k, walk) in walks.into_iter().enumerate() {
        let walk = walk?;
        if k > 0 {
            // The join: this range must go on where the one before stopped, and its first
            // record must link to the last one before it.
            let expected = records + 1;
            match walk.first {
                Some((seq, _)) if seq != i64::try_from(expected).unwrap_or(i64::MAX) => {
                    finding = Some(Finding::UnexpectedSeq {
                        expected,
                        found: seq,
                    });
                    break;
                }
                Some((seq, stored_prev)) if stored_prev != prev => {
                    finding = Some(Finding::BrokenLink {
                        seq: u64::try_from(seq).unwrap_or(0),
                        expected: prev,
                        found: stored_prev.to_hex(),
                    });
                    break;
                }
                // An empty range (its records all gone) is judged by the next one's start.
                _ => {}
            }
            // The clock across the join, when this range's first record is sound (else its
            // own finding at the same seq is the one to report).
            if let (Some(before), Some(first), Some((seq, _))) =
                (prev_micros, walk.first_micros, walk.first)
                && first < before
            {
                let seq = u64::try_from(seq).unwrap_or(0);
                let found = crate::time::format_rfc3339_micros(first);
                finding = Some(Finding::RecordedAtBackwards {
                    seq,
                    previous: crate::time::format_rfc3339_micros(before),
                    found,
                });
                break;
            }
        }
        records += walk.records;
        if let Some(found) = walk.finding {
            finding = Some(found);
            break;
        }
        if let Some(last) = walk.last_hash {
            prev = last;
        }
        if walk.last_micros.is_some() {
            prev_micros = walk.last_micros;
        }
    }
    let head = (records > 0).then_some(Head {
        seq: records,
        hash: prev,
    });
    if finding.is_none()
        && let Some((claimed_seq, claimed_hash)) = bounds.claimed_head
    {
        let matches = head
            .is_some_and(|h| h.seq.to_string() == claimed_seq && h.hash.to_hex() == claimed_hash);
        if !matches {
            finding = Some(Finding::HeadMismatch {
                claimed_seq,
                claimed_hash,
                found: head,
            });
        }
    }
    let derived = if derived && finding.is_none() {
        let mut diff = store.diff_derived(|event| {
            serde_json::from_str(event)
                .map(|value| entity_refs(&value))
                .map_err(|e| format!("event is not valid JSON: {e}"))
        })?;
        // The chain is intact: every stored record hash is its record's, so the subtree
        // hashes they make are the true ones.
        let nodes = crate::log_tree::diff_nodes(store, records)?;
        diff.tree_nodes_wrong = nodes.wrong;
        diff.first_wrong_tree_node = nodes.first_wrong;
        diff.tree_nodes_missing = nodes.missing;
        Some(diff)
    } else {
        None
    };
    Ok(VerifyReport {
        records,
        head,
        finding,
        derived,
        trust: None,
    })
}
