//! The audit trail (21 CFR 11.10(e)): who did what, when it happened and when it was
//! recorded, filtered by entity, actor, type and time, with every correction shown next to
//! the record it corrects. The original is never hidden: a correction is a new record that
//! points at it.
//!
//! A projection: streams records through the store (indexed by entity, actor, type and
//! recorded time), never writes.

use crate::correction::{self, Change};
use crate::people::{People, Signature};
use crate::store::{LogFilter, Store, StoreError};
use crate::time::parse_rfc3339_millis;
use serde::Serialize;
use serde_json::Value;
use std::ops::ControlFlow;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{0:?} is not an RFC 3339 time (e.g. 2026-11-25T08:00:00Z)")]
    BadTime(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Which clock a time range applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    /// When it happened on the floor (`occurred_at`, as the site sent it).
    #[default]
    Occurred,
    /// When the ledger recorded it (`recorded_at`).
    Recorded,
}

#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub entity: Option<String>,
    pub actor: Option<String>,
    pub types: Vec<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub clock: Clock,
}

/// One entry of the trail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub seq: u64,
    pub recorded_at: String,
    pub occurred_at: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub id: String,
    pub site: String,
    pub actor: Option<String>,
    pub source: String,
    pub data: Value,
    /// For a correction: the seq of the record it corrects.
    pub corrects_seq: Option<u64>,
    /// The corrections of this record, by seq, in order.
    pub corrected_by: Vec<u64>,
    /// For a correction: each change, old -> new, the path as a JSON Pointer.
    pub changes: Vec<Change>,
    /// The electronic signatures the record carries, with the signers' printed names.
    pub signatures: Vec<Signature>,
}

/// Streams the trail to `visit`, oldest first.
///
/// # Errors
/// `BadTime` for a range bound that is not RFC 3339; a database error.
pub fn audit_trail(
    store: &Store,
    query: &AuditQuery,
    visit: &mut dyn FnMut(&AuditEntry) -> ControlFlow<()>,
) -> Result<(), AuditError> {
    let bound = |text: &Option<String>| -> Result<Option<i64>, AuditError> {
        text.as_ref()
            .map(|t| parse_rfc3339_millis(t).ok_or_else(|| AuditError::BadTime(t.clone())))
            .transpose()
    };
    let (since, until) = (bound(&query.since)?, bound(&query.until)?);
    let _snapshot = store.read_snapshot()?;
    // The recorded clock is indexed text in one fixed UTC form: let SQL narrow by it.
    let recorded =
        |millis: Option<i64>| millis.map(|m| crate::time::format_rfc3339_micros(m * 1_000));
    let filter = LogFilter {
        types: query.types.clone(),
        entity: query.entity.clone(),
        actor: query.actor.clone(),
        recorded_from: if query.clock == Clock::Recorded {
            recorded(since)
        } else {
            None
        },
        recorded_to: if query.clock == Clock::Recorded {
            recorded(until)
        } else {
            None
        },
        ..LogFilter::default()
    };
    let mut failure = None;
    let mut people = People::new(store);
    store.for_each_logged(&filter, |record, event_type| {
        let Ok(mut event) = serde_json::from_str::<Value>(&record.event) else {
            return ControlFlow::Continue(());
        };
        let text = |name: &str| event.get(name).and_then(Value::as_str).map(str::to_owned);
        let occurred_at = text("occurred_at").unwrap_or_default();
        if query.clock == Clock::Occurred {
            let at = parse_rfc3339_millis(&occurred_at).unwrap_or(i64::MIN);
            if since.is_some_and(|s| at < s) || until.is_some_and(|u| at > u) {
                return ControlFlow::Continue(());
            }
        }
        let id = text("id").unwrap_or_default();
        let site = text("site").unwrap_or_default();
        let actor = text("actor");
        let source = text("source").unwrap_or_default();
        let corrections = match corrections_of(store, &id) {
            Ok(found) => found,
            Err(e) => {
                failure = Some(e);
                return ControlFlow::Break(());
            }
        };
        let data = event["data"].take();
        let signed = match people.signatures(&event["signatures"], record.seq) {
            Ok(signed) => signed,
            Err(e) => {
                failure = Some(e);
                return ControlFlow::Break(());
            }
        };
        let (corrects_seq, changes) = if event_type == "correction.recorded" {
            match correction_changes(store, record.seq, &data) {
                Ok(found) => found,
                Err(e) => {
                    failure = Some(e);
                    return ControlFlow::Break(());
                }
            }
        } else {
            (None, Vec::new())
        };
        let entry = AuditEntry {
            seq: record.seq,
            recorded_at: record.recorded_at.clone(),
            occurred_at,
            event_type: event_type.to_owned(),
            id,
            site,
            actor,
            source,
            data,
            corrects_seq,
            corrected_by: corrections,
            changes,
            signatures: signed,
        };
        visit(&entry)
    })?;
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// For the correction at `seq` (its `data`): the seq of the record it corrects, and its
/// changes old -> new, the old values being those in force just before it (the earlier
/// corrections of the same record applied).
fn correction_changes(
    store: &Store,
    seq: u64,
    data: &Value,
) -> Result<(Option<u64>, Vec<Change>), StoreError> {
    let Some(corrects) = data.get("corrects").and_then(Value::as_str) else {
        return Ok((None, Vec::new()));
    };
    let Some(corrected_seq) = store.seq_of_event(corrects)? else {
        return Ok((None, Vec::new()));
    };
    let Some(corrected) = store.records_at(&[corrected_seq])?.into_iter().next() else {
        return Ok((Some(corrected_seq), Vec::new()));
    };
    let changes = correction::in_force(store, &corrected)?
        .and_then(|(_, applied)| applied.into_iter().find(|a| a.seq == seq))
        .map(|a| a.changes.iter().map(|c| c.shown()).collect())
        .unwrap_or_default();
    Ok((Some(corrected_seq), changes))
}

/// The seqs of the corrections of the event `id`.
fn corrections_of(store: &Store, id: &str) -> Result<Vec<u64>, StoreError> {
    Ok(store
        .records_of_type_naming(
            "correction.recorded",
            crate::event::EntityKind::Event,
            crate::event::RefRole::References,
            id,
        )?
        .into_iter()
        .map(|r| r.seq)
        .collect())
}

/// The header of the CSV form.
pub const CSV_HEADER: &str = "seq,recorded_at,occurred_at,type,id,site,actor,source,corrects_seq,corrected_by,changes,signatures,data";

/// Changes as one cell: `PATH: OLD -> NEW`, separated by `; `.
pub fn changes_text(changes: &[Change]) -> String {
    changes
        .iter()
        .map(|c| {
            format!(
                "{}: {} -> {}",
                c.path,
                c.old
                    .as_ref()
                    .map_or("(absent)".to_owned(), Value::to_string),
                c.new
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Signatures as one cell: `NAME (SIGNER) MEANING at TIME`, separated by `; `.
pub fn signatures_text(signatures: &[Signature]) -> String {
    signatures
        .iter()
        .map(|s| {
            format!(
                "{} ({}) {} at {}",
                s.name.as_deref().unwrap_or("?"),
                s.signer,
                s.meaning,
                s.signed_at
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// One CSV row (RFC 4180: fields with comma, quote or line break are quoted, quotes doubled).
pub fn csv_row(entry: &AuditEntry) -> String {
    let corrected_by: Vec<String> = entry.corrected_by.iter().map(u64::to_string).collect();
    let fields = [
        entry.seq.to_string(),
        entry.recorded_at.clone(),
        entry.occurred_at.clone(),
        entry.event_type.clone(),
        entry.id.clone(),
        entry.site.clone(),
        entry.actor.clone().unwrap_or_default(),
        entry.source.clone(),
        entry
            .corrects_seq
            .map(|s| s.to_string())
            .unwrap_or_default(),
        corrected_by.join(" "),
        changes_text(&entry.changes),
        signatures_text(&entry.signatures),
        entry.data.to_string(),
    ];
    fields
        .iter()
        .map(|f| crate::csv::field(f))
        .collect::<Vec<_>>()
        .join(",")
}
