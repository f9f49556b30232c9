//! The forward genealogy table (`trace_links.sql`): each record's [`TraceLink`]s stored as
//! it is appended, rebuilt from the records alone, and read by subject in seq order.

use super::{Store, StoreError};
use crate::event::{LinkSubject, Relation, TraceLink, trace_links};
use rusqlite::{Connection, params};

pub(super) const TABLES_SQL: &str = include_str!("trace_links.sql");
pub(super) const TABLES: [&str; 1] = ["trace_links"];

/// The event types that state links ([`trace_links`]); a rebuild reads only these.
const LINKING_TYPES: &str = "'unit.started', 'lot.received', 'lot.produced', 'material.consumed',
    'component.installed', 'component.removed', 'lot.split', 'lot.merged', 'unit.released',
    'unit.scrapped', 'unit.shipped', 'complaint.received'";

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
            n as i64,
            link.subject_kind.as_str(),
            link.relation.as_str(),
            link.other,
            link.detail,
        ])?;
    }
    Ok(())
}

/// Empties the table and refills it from the records, in seq order. Returns the number of
/// records that stated links.
pub(super) fn rebuild(conn: &Connection) -> Result<u64, StoreError> {
    conn.execute_batch("DELETE FROM trace_links;")?;
    super::replay(conn, LINKING_TYPES, |seq, event| {
        let links = trace_links(event);
        apply(conn, seq, &links)?;
        Ok(!links.is_empty())
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
