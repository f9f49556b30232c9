//! The Merkle tree's storage: record hashes read as leaves, the derived subtree hashes
//! (`tree_nodes`) and the issued checkpoints (`checkpoints`). The tree arithmetic itself is
//! `log_tree`'s; this is only rows.

use super::{Appender, Store, StoreError};
use crate::chain::RecordHash;
use rusqlite::{Connection, OptionalExtension, params};

/// A checkpoint as kept in the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub tree_size: u64,
    pub root: Vec<u8>,
    pub note: String,
    pub recorded_at: String,
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The stored hashes of records `first..=last` in seq order. A missing record or a hash
/// that is not 32 bytes is `Unreadable`: the tree is only built over a readable log.
fn record_hashes(conn: &Connection, first: u64, last: u64) -> Result<Vec<RecordHash>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT seq, hash FROM records WHERE seq >= ?1 AND seq <= ?2 ORDER BY seq",
    )?;
    let mut rows = statement.query(params![to_i64(first), to_i64(last)])?;
    let mut out = Vec::with_capacity(usize::try_from(last.saturating_sub(first) + 1).unwrap_or(0));
    let mut expected = first;
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        let unreadable = |detail: &str| StoreError::Unreadable {
            seq,
            detail: detail.to_owned(),
        };
        if seq != to_i64(expected) {
            return Err(unreadable(&format!("record {expected} is missing")));
        }
        let bytes: Vec<u8> = row.get(1).map_err(|e| unreadable(&format!("hash: {e}")))?;
        out.push(RecordHash::from_slice(&bytes).ok_or_else(|| unreadable("hash is not 32 bytes"))?);
        expected += 1;
    }
    if expected != last + 1 {
        return Err(StoreError::Unreadable {
            seq: to_i64(expected),
            detail: format!("record {expected} is missing"),
        });
    }
    Ok(out)
}

fn insert_nodes(conn: &Connection, nodes: &[(u32, u64, [u8; 32])]) -> Result<(), StoreError> {
    let mut insert = conn.prepare_cached(
        "INSERT OR IGNORE INTO tree_nodes (level, idx, hash) VALUES (?1, ?2, ?3)",
    )?;
    for (level, idx, hash) in nodes {
        insert.execute(params![level, to_i64(*idx), &hash[..]])?;
    }
    Ok(())
}

impl Store {
    /// The record hashes of `first..=last` (the tree's leaves `first-1..last`).
    ///
    /// # Errors
    /// A database error, or `Unreadable` for a missing or damaged record.
    pub fn record_hashes(&self, first: u64, last: u64) -> Result<Vec<RecordHash>, StoreError> {
        record_hashes(&self.conn, first, last)
    }

    /// Stored subtree hashes of `level`, indexes `first..=last`, as (idx, hash), in order.
    ///
    /// # Errors
    /// A database error.
    pub fn tree_nodes(
        &self,
        level: u32,
        first: u64,
        last: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT idx, hash FROM tree_nodes WHERE level = ?1 AND idx >= ?2 AND idx <= ?3 ORDER BY idx",
        )?;
        let rows = statement.query_map(params![level, to_i64(first), to_i64(last)], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (idx, hash) = row?;
            out.push((u64::try_from(idx).unwrap_or(u64::MAX), hash));
        }
        Ok(out)
    }

    /// A stored subtree hash that no ledger of `size` records has: below `min_level`, reaching
    /// beyond record `size`, or not 32 bytes. As (level, idx).
    ///
    /// # Errors
    /// A database error.
    pub fn stray_tree_node(
        &self,
        size: u64,
        min_level: u32,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT level, idx FROM tree_nodes
                 WHERE level < ?2 OR level > 62 OR idx < 0 OR typeof(hash) != 'blob'
                    OR length(hash) != 32 OR ((idx + 1) << level) > ?1
                 ORDER BY level, idx LIMIT 1",
                params![to_i64(size), min_level],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?)
    }

    /// Every stored subtree hash, as (level, idx, hash) as stored.
    ///
    /// # Errors
    /// A database error.
    pub fn all_tree_nodes(&self) -> Result<Vec<(i64, i64, Vec<u8>)>, StoreError> {
        let mut statement = self
            .conn
            .prepare("SELECT level, idx, CAST(hash AS BLOB) FROM tree_nodes ORDER BY level, idx")?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Stores subtree hashes (level, idx, hash) in one transaction; existing ones are kept
    /// (a subtree's hash never changes).
    ///
    /// # Errors
    /// A database error; then none is stored.
    pub fn insert_tree_nodes(&mut self, nodes: &[(u32, u64, [u8; 32])]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        insert_nodes(&tx, nodes)?;
        tx.commit()?;
        Ok(())
    }

    /// Replaces every stored subtree hash with `nodes`, in one transaction (`rebuild`).
    ///
    /// # Errors
    /// A database error; then the table is as it was.
    pub fn replace_tree_nodes(&mut self, nodes: &[(u32, u64, [u8; 32])]) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM tree_nodes", [])?;
        insert_nodes(&tx, nodes)?;
        tx.commit()?;
        Ok(())
    }

    /// Keeps an issued checkpoint. One per tree size: issuing again at the same size is a
    /// no-op if the note is the same.
    ///
    /// # Errors
    /// A database error, or `CheckpointConflict` if another note is kept for that size.
    pub fn insert_checkpoint(
        &mut self,
        tree_size: u64,
        root: &[u8; 32],
        note: &str,
    ) -> Result<(), StoreError> {
        let existing: Option<String> = self
            .conn
            .query_row(
                "SELECT note FROM checkpoints WHERE tree_size = ?1",
                params![to_i64(tree_size)],
                |row| row.get(0),
            )
            .optional()?;
        match existing {
            Some(kept) if kept == note => Ok(()),
            Some(_) => Err(StoreError::CheckpointConflict(tree_size)),
            None => {
                self.conn.execute(
                    "INSERT INTO checkpoints (tree_size, root, note, recorded_at) VALUES (?1, ?2, ?3, ?4)",
                    params![
                        to_i64(tree_size),
                        &root[..],
                        note,
                        crate::time::format_rfc3339_micros(crate::time::now_unix_micros())
                    ],
                )?;
                Ok(())
            }
        }
    }

    /// Every kept checkpoint, smallest tree first.
    ///
    /// # Errors
    /// A database error.
    pub fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let mut statement = self.conn.prepare(
            "SELECT tree_size, root, note, recorded_at FROM checkpoints ORDER BY tree_size",
        )?;
        let rows = statement.query_map([], |row| {
            Ok(StoredCheckpoint {
                tree_size: u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0),
                root: row.get(1)?,
                note: row.get(2)?,
                recorded_at: row.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A value of the ledger's `meta` table.
    ///
    /// # Errors
    /// A database error.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                params![key],
                |row| row.get(0),
            )
            .optional()?)
    }
}

impl Appender<'_> {
    /// Sets a `meta` value inside this append (it commits or rolls back with the records).
    ///
    /// # Errors
    /// A database error.
    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
            params![key, value],
        )?;
        Ok(())
    }

    /// A value of `meta` as this transaction sees it.
    ///
    /// # Errors
    /// A database error.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .tx
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                params![key],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// The records that pass `filter`, as this transaction sees them.
    ///
    /// # Errors
    /// A database error, or `Unreadable` for a damaged row.
    pub fn for_each_logged<F>(&self, filter: &super::LogFilter, visit: F) -> Result<(), StoreError>
    where
        F: FnMut(&crate::chain::Record, &str) -> std::ops::ControlFlow<()>,
    {
        super::logged(&self.tx, filter, visit)
    }
}
