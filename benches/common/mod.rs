//! The limits both benches compare with.
//!
//! Ingest: the plainest SQLite loop writing the rows the ledger wrote (records and their
//! entity index, same tables, indexes, page size and pragmas), with one prepared INSERT per
//! table and one transaction per batch: no parsing, validation, hashing or reference checks.
//! Durability is the ledger's: WAL, `synchronous=FULL`. It does not write the derived
//! tables (KPIs, forward genealogy) that ingest keeps in the same transaction, so it is, if
//! anything, a little faster than the true limit.
//!
//! Verify: the plainest loop that proves the hashes, one prepared SELECT per thread over a
//! share of the seqs and BLAKE3 over each record's bytes as docs/format.md defines them,
//! compared with the stored hash: no links, no column checks, no signatures.

// Each bench uses its own part of this module.
#![allow(dead_code)]

use std::path::Path;

/// A record row: seq, id, type, occurred_at, site, actor, recorded_at, prev, hash, event.
pub type Row = (
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    Vec<u8>,
    Vec<u8>,
    String,
);

/// An entity index row: entity, kind, role, seq.
pub type RefRow = (String, String, i64, i64);

/// Every record and entity index row of a ledger, in seq order.
pub fn load_rows(source: &Path) -> (Vec<Row>, Vec<RefRow>) {
    load_rows_between(source, 1, i64::MAX)
}

/// The record and entity index rows with `from <= seq <= to`, in seq order.
pub fn load_rows_between(source: &Path, from: i64, to: i64) -> (Vec<Row>, Vec<RefRow>) {
    let connection = rusqlite::Connection::open(source).unwrap();
    let mut statement = connection
        .prepare(
            "SELECT seq, id, type, occurred_at, site, actor, recorded_at, prev, hash, event
             FROM records WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq",
        )
        .unwrap();
    let rows = statement
        .query_map([from, to], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
                r.get(9)?,
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut statement = connection
        .prepare(
            "SELECT entity, kind, role, seq FROM entity_refs WHERE seq BETWEEN ?1 AND ?2
             ORDER BY seq",
        )
        .unwrap();
    let refs = statement
        .query_map([from, to], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    (rows, refs)
}

/// A database with the ledger's `records` and `entity_refs` tables and indexes, written
/// the plainest way.
pub struct RawLoop {
    connection: rusqlite::Connection,
}

impl RawLoop {
    /// Creates the tables in a new file at `target`.
    pub fn create(target: &Path) -> RawLoop {
        let connection = rusqlite::Connection::open(target).unwrap();
        connection
            .execute_batch(&format!(
                "PRAGMA page_size = {}; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
                 PRAGMA cache_size = -32768;
                 CREATE TABLE records (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
                   type TEXT NOT NULL, occurred_at TEXT NOT NULL, site TEXT NOT NULL, actor TEXT,
                   recorded_at TEXT NOT NULL, prev BLOB NOT NULL, hash BLOB NOT NULL, event TEXT NOT NULL);
                 CREATE INDEX records_by_type ON records (type, seq);
                 CREATE TABLE entity_refs (entity TEXT NOT NULL, kind TEXT NOT NULL, role INTEGER NOT NULL,
                   seq INTEGER NOT NULL, PRIMARY KEY (entity, kind, role, seq)) WITHOUT ROWID;",
                traceledger::store::PAGE_SIZE
            ))
            .unwrap();
        RawLoop { connection }
    }

    /// Writes `rows` and their `refs` (both in seq order) in one transaction, one prepared
    /// INSERT per table, and commits durably.
    pub fn write(&mut self, rows: &[Row], refs: &[RefRow]) {
        let tx = self.connection.transaction().unwrap();
        {
            let mut insert = tx
                .prepare("INSERT INTO records VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")
                .unwrap();
            let mut index = tx
                .prepare("INSERT OR IGNORE INTO entity_refs VALUES (?1, ?2, ?3, ?4)")
                .unwrap();
            let mut next_ref = 0;
            for row in rows {
                insert
                    .execute(rusqlite::params![
                        row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8, row.9
                    ])
                    .unwrap();
                while let Some(r) = refs.get(next_ref).filter(|r| r.3 == row.0) {
                    index
                        .execute(rusqlite::params![r.0, r.1, r.2, r.3])
                        .unwrap();
                    next_ref += 1;
                }
            }
        }
        tx.commit().unwrap();
    }
}

/// The raw loop over `rows` into a new file at `target`, in one transaction.
pub fn raw_sqlite_insert((rows, refs): &(Vec<Row>, Vec<RefRow>), target: &Path) -> u64 {
    let mut raw = RawLoop::create(target);
    raw.write(rows, refs);
    rows.len() as u64
}

/// The verify limit: every record of `ledger` read and hashed on `threads` threads, each
/// over an even share of the seqs. Returns the records whose hash matched (all of them, on
/// a sound ledger).
pub fn raw_scan_and_hash(ledger: &Path, threads: usize) -> u64 {
    let high: i64 = rusqlite::Connection::open(ledger)
        .unwrap()
        .query_row("SELECT MAX(seq) FROM records", [], |r| r.get(0))
        .unwrap();
    let threads = threads.max(1) as i64;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                let (from, to) = (1 + high * k / threads, high * (k + 1) / threads);
                scope.spawn(move || {
                    let connection = rusqlite::Connection::open(ledger).unwrap();
                    let mut statement = connection
                        .prepare(
                            "SELECT seq, recorded_at, prev, hash, event FROM records
                             WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq",
                        )
                        .unwrap();
                    let mut rows = statement.query([from, to]).unwrap();
                    let mut matched = 0u64;
                    while let Some(row) = rows.next().unwrap() {
                        let seq: i64 = row.get(0).unwrap();
                        let recorded_at = row.get_ref(1).unwrap().as_str().unwrap();
                        let prev = traceledger::chain::RecordHash::from_slice(
                            row.get_ref(2).unwrap().as_blob().unwrap(),
                        )
                        .unwrap();
                        let event = row.get_ref(4).unwrap().as_str().unwrap();
                        let hash =
                            traceledger::chain::record_hash(seq as u64, recorded_at, &prev, event);
                        if row.get_ref(3).unwrap().as_blob().unwrap() == hash.0 {
                            matched += 1;
                        }
                    }
                    matched
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    })
}
