//! The forward genealogy table (`trace_links.sql`): each record's [`TraceLink`]s stored as
//! it is appended, rebuilt from the records alone, and read by subject in seq order.

use super::{Store, StoreError};
use crate::event::{
    LinkSubject, Relation, TraceLink, apply_changes, correction_links, trace_links,
};
use rusqlite::{Connection, OptionalExtension, params};

pub(super) const TABLES_SQL: &str = include_str!("trace_links.sql");
pub(super) const TABLES: [&str; 1] = ["trace_links"];

/// The event types that state links ([`trace_links`]); a rebuild reads only these.
const LINKING_TYPES: &str = "'unit.started', 'lot.received', 'lot.produced', 'material.consumed',
    'component.installed', 'component.removed', 'lot.split', 'lot.merged', 'unit.released',
    'unit.scrapped', 'unit.shipped', 'complaint.received', 'correction.recorded'";

/// One stored link, cited by the record that states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLink {
    pub seq: u64,
    pub subject_kind: LinkSubject,
    pub relation: Relation,
    pub other: Option<String>,
    pub detail: Option<String>,
}

pub(super) fn apply(conn: &Connection, seq: u64, links: &[TraceLink]) -> rusqlite::Result<()> {
    insert_from(conn, seq, 0, links)
}

/// Stores `links` as the record's links numbered from `first`.
fn insert_from(
    conn: &Connection,
    seq: u64,
    first: usize,
    links: &[TraceLink],
) -> rusqlite::Result<()> {
    if links.is_empty() {
        return Ok(());
    }
    let mut insert = conn.prepare_cached(
        "INSERT OR IGNORE INTO trace_links (subject, seq, n, subject_kind, relation, other, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (n, link) in links.iter().enumerate() {
        insert.execute(params![
            link.subject,
            seq as i64,
            (first + n) as i64,
            link.subject_kind.as_str(),
            link.relation.as_str(),
            link.other,
            link.detail,
        ])?;
    }
    Ok(())
}

/// Stores the links of the record at `seq`: `links`, what its event states alone, and for a
/// correction what it changes in the corrected record's links ([`correction_links`]), read
/// from the records before it. Returns whether any link was stored.
pub(super) fn apply_record(
    conn: &Connection,
    seq: u64,
    event: &serde_json::Value,
    links: &[TraceLink],
) -> rusqlite::Result<bool> {
    apply(conn, seq, links)?;
    if event["type"].as_str() != Some("correction.recorded") {
        return Ok(!links.is_empty());
    }
    let corrected = corrected_in_force(conn, seq, event)?;
    let Some(before) = corrected else {
        return Ok(!links.is_empty());
    };
    let mut after = before.clone();
    apply_changes(&mut after, &event["data"]["changes"]);
    let changed = correction_links(&before, &after);
    // After the event's own links (a correction states none today), numbered on.
    insert_from(conn, seq, links.len(), &changed)?;
    Ok(!links.is_empty() || !changed.is_empty())
}

/// The event a correction (at `seq`) corrects, with the corrections of it recorded before
/// `seq` applied: the record as it stood when this correction came. `None` when the ledger
/// does not hold it (ingest refuses that).
fn corrected_in_force(
    conn: &Connection,
    seq: u64,
    correction: &serde_json::Value,
) -> rusqlite::Result<Option<serde_json::Value>> {
    let Some(id) = correction["data"]["corrects"].as_str() else {
        return Ok(None);
    };
    let original: Option<String> = conn
        .prepare_cached("SELECT event FROM records WHERE id = ?1")?
        .query_row(params![id], |row| row.get(0))
        .optional()?;
    let Some(mut event) = original.and_then(|text| serde_json::from_str(&text).ok()) else {
        return Ok(None);
    };
    let mut earlier = conn.prepare_cached(
        "SELECT r.event FROM records r WHERE r.type = 'correction.recorded' AND r.seq IN (
             SELECT e.seq FROM entity_refs e
             WHERE e.entity = ?1 AND e.kind = 'event' AND e.role = 2
               AND e.type = 'correction.recorded' AND e.seq < ?2)
         ORDER BY r.seq",
    )?;
    let mut rows = earlier.query(params![id, seq as i64])?;
    while let Some(row) = rows.next()? {
        let text: String = row.get(0)?;
        if let Ok(previous) = serde_json::from_str::<serde_json::Value>(&text)
            && previous["data"]["corrects"].as_str() == Some(id)
        {
            apply_changes(&mut event, &previous["data"]["changes"]);
        }
    }
    Ok(Some(event))
}

/// Empties the table and refills it from the records, in seq order. Returns the number of
/// records that stated links.
pub(super) fn rebuild(conn: &Connection) -> Result<u64, StoreError> {
    conn.execute_batch("DELETE FROM trace_links;")?;
    super::replay(conn, LINKING_TYPES, |seq, event| {
        let links = trace_links(event);
        apply_record(conn, seq, event, &links)
    })
}

impl Store {
    /// The links and facts stored about `subject`, in the order of the records that state
    /// them. Rows this build cannot read (a relation it does not know) are skipped: `verify
    /// --derived` reports such a table as differing from the records.
    ///
    /// # Errors
    /// A database error.
    pub fn trace_links_of(&self, subject: &str) -> Result<Vec<StoredLink>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT seq, subject_kind, relation, other, detail FROM trace_links
             WHERE subject = ?1 ORDER BY seq, n",
        )?;
        let mut rows = statement.query(params![subject])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let seq: i64 = row.get(0)?;
            let kind: String = row.get(1)?;
            let relation: String = row.get(2)?;
            let (Some(subject_kind), Some(relation)) =
                (LinkSubject::parse(&kind), Relation::parse(&relation))
            else {
                continue;
            };
            out.push(StoredLink {
                seq: u64::try_from(seq).unwrap_or(0),
                subject_kind,
                relation,
                other: row.get(3)?,
                detail: row.get(4)?,
            });
        }
        Ok(out)
    }
}
