//! The records a DHR reads, parsed and with their corrections applied: a projection judges
//! the values in force, never the superseded ones.

use crate::chain::Record;
use crate::correction::{self, AppliedCorrection};
use crate::event::{EntityKind, RefRole};
use crate::store::{LogFilter, Store, StoreError};
use crate::time::parse_rfc3339_millis;
use serde_json::Value;
use std::ops::ControlFlow;

/// A record as the projection reads it: the event in force.
pub(super) struct Rec {
    pub seq: u64,
    pub event_type: String,
    pub occurred_at: String,
    /// `occurred_at` as an instant (Unix milliseconds), for comparing times across sites.
    pub at: Option<i64>,
    pub actor: Option<String>,
    pub site: String,
    pub data: Value,
    pub signatures: Value,
    pub corrections: Vec<AppliedCorrection>,
}

impl Rec {
    /// A stored record as it stands after its corrections; `None` if its event is not JSON
    /// (verify reports that).
    pub fn load(store: &Store, record: &Record) -> Result<Option<Rec>, StoreError> {
        let Some((mut event, corrections)) = correction::in_force(store, record)? else {
            return Ok(None);
        };
        let text = |event: &Value, name: &str| event[name].as_str().map(str::to_owned);
        let occurred_at = text(&event, "occurred_at").unwrap_or_default();
        Ok(Some(Rec {
            seq: record.seq,
            event_type: text(&event, "type").unwrap_or_default(),
            at: parse_rfc3339_millis(&occurred_at),
            occurred_at,
            actor: text(&event, "actor"),
            site: text(&event, "site").unwrap_or_default(),
            data: event["data"].take(),
            signatures: event["signatures"].take(),
            corrections,
        }))
    }

    pub fn text(&self, field: &str) -> Option<&str> {
        self.data.get(field).and_then(Value::as_str)
    }

    pub fn owned(&self, field: &str) -> Option<String> {
        self.text(field).map(str::to_owned)
    }

    /// The day (`YYYY-MM-DD`) as the site wrote it, for comparing with date fields (due
    /// dates, expiry, qualification validity) that the site wrote in its own calendar.
    pub fn day(&self) -> &str {
        self.occurred_at.get(..10).unwrap_or(&self.occurred_at)
    }

    /// Whether this record happened at or before `other` (by instant; by seq when either
    /// time does not parse).
    pub fn not_after(&self, other: &Rec) -> bool {
        match (self.at, other.at) {
            (Some(mine), Some(theirs)) => mine <= theirs,
            _ => self.seq <= other.seq,
        }
    }

    pub fn correction_seqs(&self) -> Vec<u64> {
        self.corrections.iter().map(|c| c.seq).collect()
    }
}

/// Every record that names `entity`, in seq order, in force.
pub(super) fn naming(store: &Store, entity: &str) -> Result<Vec<Rec>, StoreError> {
    let filter = LogFilter {
        entity: Some(entity.to_owned()),
        ..LogFilter::default()
    };
    let mut stored = Vec::new();
    store.for_each_logged(&filter, |record, _| {
        stored.push(record.clone());
        ControlFlow::Continue(())
    })?;
    load_all(store, &stored)
}

/// The records of one type that name `entity` as `kind` in `role`, in force.
pub(super) fn typed(
    store: &Store,
    event_type: &str,
    kind: EntityKind,
    role: RefRole,
    entity: &str,
) -> Result<Vec<Rec>, StoreError> {
    let stored = store.records_of_type_naming(event_type, kind, role, entity)?;
    load_all(store, &stored)
}

fn load_all(store: &Store, stored: &[Record]) -> Result<Vec<Rec>, StoreError> {
    let mut out = Vec::with_capacity(stored.len());
    for record in stored {
        out.extend(Rec::load(store, record)?);
    }
    Ok(out)
}
