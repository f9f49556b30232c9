//! The ledger file: one SQLite database holding the append-only log and its derived index.
//!
//! This is the only module that knows SQL or imports rusqlite. It guarantees, on every
//! append, the chain invariants (next `seq`, `prev` = the last `hash`), computed under the
//! write lock and asserted; triggers in the file refuse UPDATE and DELETE of records; it does not judge events (that is
//! `ingest`'s job) nor verify old records (that is `verify`'s).
//!
//! Durability: WAL with `synchronous=FULL`, so a commit that returned is on disk (the WAL is
//! fsynced at every commit) and survives power loss; a process killed mid-transaction leaves
//! nothing of it behind.

use crate::chain::{GENESIS_PREV, Record, RecordHash, record_hash};
use crate::event::{EntityKind, EntityRef, EventFacts, RefRole, ValidEvent};
use crate::time;
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params,
};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[cfg(test)]
mod tests;
mod trace_links;
mod tree;
mod unit_progress;
pub use trace_links::StoredLink;
pub use tree::StoredCheckpoint;
pub use unit_progress::{FirstPassRow, OpenNcrRow, UnitGroupFilter, UnitProgress};

/// `PRAGMA application_id`: "TLGR". Marks the file as a traceledger ledger.
const APPLICATION_ID: i32 = 0x544c_4752;
/// `PRAGMA user_version`: the layout of schema.sql. Another version is refused, never migrated
/// silently.
pub const SCHEMA_VERSION: i32 = 5;
const SCHEMA_SQL: &str = include_str!("schema.sql");
/// Schema 4 to 5: the event type in the entity index's key, the sensor in the readings' key.
const MIGRATE_5_SQL: &str = include_str!("migrate_5.sql");
// The entity index's queries (`tests.rs` holds each to a plan through the key).
/// The records of one type naming an entity in a role: one range of the whole key but seq,
/// then each record by seq (CROSS JOIN keeps SQLite to that order).
const RECORDS_OF_TYPE_NAMING_SQL: &str = "SELECT r.seq, r.id, r.type, r.occurred_at, r.site, r.actor, r.recorded_at, r.prev, r.hash, r.event
     FROM entity_refs e CROSS JOIN records r ON r.seq = e.seq
     WHERE e.entity = ?1 AND e.kind = ?2 AND e.role = ?3 AND e.type = ?4 ORDER BY e.seq";
/// The records defining an entity (role 0), in seq order.
const RECORDS_DEFINING_SQL: &str = "SELECT r.seq, r.id, r.type, r.occurred_at, r.site, r.actor, r.recorded_at, r.prev, r.hash, r.event
     FROM entity_refs e CROSS JOIN records r ON r.seq = e.seq
     WHERE e.entity = ?1 AND e.kind = ?2 AND e.role = ?3 ORDER BY e.seq";
/// Whether an entity is defined (ingest's reference check).
const ENTITY_DEFINED_SQL: &str =
    "SELECT 1 FROM entity_refs WHERE entity = ?1 AND kind = ?2 AND role IN (?3, ?4) LIMIT 1";
/// The event that first defined an entity.
const DEFINING_EVENT_SQL: &str = "SELECT r.event FROM entity_refs e JOIN records r ON r.seq = e.seq
     WHERE e.entity = ?1 AND e.kind = ?2 AND e.role IN (?3, ?4) ORDER BY e.seq LIMIT 1";
const UNIT_PROGRESS_SQL: &str = unit_progress::TABLES_SQL;
const TRACE_LINKS_SQL: &str = trace_links::TABLES_SQL;

/// How long a writer waits for another writer's transaction (another `ingest`) to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(600);
/// Bytes per database page of a new ledger. Against SQLite's 4,096, measured on a 1,000,000
/// event ledger: the verify scan 11% faster (fewer pages, each read once), ingest no slower,
/// the file 3% smaller. An existing ledger keeps the page size it was made with.
pub const PAGE_SIZE: u32 = 16_384;
/// Page cache per connection, in KiB (negative `cache_size` is KiB in SQLite).
const CACHE_KIB: i64 = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a file already exists at {0}: refusing to overwrite it")]
    AlreadyExists(PathBuf),
    #[error("no ledger at {0} (create one with `traceledger init`)")]
    NotFound(PathBuf),
    #[error("{path} is not a traceledger ledger ({detail})")]
    NotALedger { path: PathBuf, detail: String },
    #[error(
        "{path} has ledger schema version {found}; this build reads version {expected} only (no silent migration)"
    )]
    WrongVersion {
        path: PathBuf,
        found: i32,
        expected: i32,
    },
    #[error(
        "{path} has ledger schema version {found}, older than this build's {expected}: run `traceledger migrate` to upgrade it (commands that read a ledger never change it)"
    )]
    NeedsMigration {
        path: PathBuf,
        found: i32,
        expected: i32,
    },
    #[error(
        "cannot write {0}: the file or its folder is read-only for this user (commands that only read a ledger can still read it)"
    )]
    ReadOnly(PathBuf),
    #[error("cannot create {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("event id {0:?} is already recorded")]
    IdTaken(String),
    #[error("record {seq} cannot be read: {detail}")]
    Unreadable { seq: i64, detail: String },
    #[error("another checkpoint is already kept for tree size {0}")]
    CheckpointConflict(u64),
    #[error("ledger database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl StoreError {
    /// The kind of this failure (crate::ErrorKind).
    pub fn kind(&self) -> crate::ErrorKind {
        match self {
            _ if self.is_corruption() => crate::ErrorKind::Integrity,
            StoreError::AlreadyExists(_) => crate::ErrorKind::BadInput,
            _ => crate::ErrorKind::Environment,
        }
    }

    /// True when the database itself reports damage (as opposed to I/O or usage problems).
    pub fn is_corruption(&self) -> bool {
        match self {
            StoreError::Unreadable { .. } => true,
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase
            ),
            _ => false,
        }
    }
}

/// The head of the log: its last record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub seq: u64,
    pub hash: RecordHash,
}

/// A stored record with its indexed columns, borrowed from the row being read.
#[derive(Debug)]
pub struct RecordView<'r> {
    pub seq: i64,
    pub id: &'r str,
    pub event_type: &'r str,
    pub occurred_at: &'r str,
    pub site: &'r str,
    pub actor: Option<&'r str>,
    pub recorded_at: &'r str,
    pub prev: &'r [u8],
    pub hash: &'r [u8],
    pub event: &'r str,
}

/// The extent of the log as stored, and the head the last commit claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogBounds {
    /// Lowest and highest stored seq; `None` when there are no records.
    pub seqs: Option<(i64, i64)>,
    /// (seq, hash hex) from `meta`; `None` before the first commit.
    pub claimed_head: Option<(String, String)>,
}

/// What a record list is restricted to (`traceledger log`).
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub types: Vec<String>,
    pub entity: Option<String>,
    /// Only records whose actor is this person.
    pub actor: Option<String>,
    /// Only records recorded at or after / before this ledger time (the fixed UTC form of
    /// `recorded_at`, which sorts as text).
    pub recorded_from: Option<String>,
    pub recorded_to: Option<String>,
    pub from_seq: Option<u64>,
    pub to_seq: Option<u64>,
    pub limit: Option<u64>,
}

/// One row of the entity index: (seq, kind, entity, role code, event type).
pub type DerivedRow = (i64, String, String, i64, String);

/// Differences between the stored entity index and one recomputed from the records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DerivedDiff {
    pub missing: u64,
    pub extra: u64,
    pub first_missing: Option<DerivedRow>,
    pub first_extra: Option<DerivedRow>,
    /// Rows of the KPI tables that differ from ones recomputed from the records.
    pub kpi_rows_differing: u64,
    /// Rows of the forward genealogy table that differ from ones recomputed from the records.
    pub trace_link_rows_differing: u64,
    /// Stored Merkle subtree hashes the records do not make (a wrong hash, or a node beyond
    /// the log), and the first of them as (level, idx); filled by `verify`.
    pub tree_nodes_wrong: u64,
    pub first_wrong_tree_node: Option<(i64, i64)>,
    /// Subtree hashes the records make that are not stored: not a fault (they are
    /// recomputed when needed, and stored by the next checkpoint).
    pub tree_nodes_missing: u64,
}

impl DerivedDiff {
    pub fn matches(&self) -> bool {
        self.missing == 0
            && self.extra == 0
            && self.kpi_rows_differing == 0
            && self.trace_link_rows_differing == 0
            && self.tree_nodes_wrong == 0
    }
}

/// A read transaction held open ([`Store::read_snapshot`]); it writes nothing, and ends
/// (rolled back) when dropped.
pub struct ReadSnapshot<'s> {
    _transaction: Option<Transaction<'s>>,
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// When set, the seq of every record a query hands out is noted here: what a projection
    /// read, so that an auditor bundle can carry exactly that ([`Store::track_reads`]).
    reads: std::cell::RefCell<Option<std::collections::BTreeSet<u64>>>,
    access: Access,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

fn configure(conn: &Connection) -> Result<(), rusqlite::Error> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::InvalidQuery);
    }
    conn.execute_batch(&format!(
        "PRAGMA synchronous = FULL; PRAGMA cache_size = -{CACHE_KIB}; PRAGMA temp_store = FILE;"
    ))
}

/// How a [`Store`] was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// For writing (write commands).
    ReadWrite,
    /// An ordinary connection on which SQLite refuses every change (`PRAGMA query_only`).
    QueryOnly,
    /// `SQLITE_OPEN_READ_ONLY`; `immutable`: no locks, no WAL files (nobody can write it).
    ReadOnly { immutable: bool },
}

impl Access {
    /// Whether SQLite refuses every change through this connection.
    pub fn is_read_only(self) -> bool {
        self != Access::ReadWrite
    }
}

/// `path` with `suffix` appended to its file name (`-wal`, `-shm`).
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A path as the path part of an SQLite `file:` URI: every byte but unreserved ones and `/`
/// percent-encoded (so `?`, `#` and `%` in a name stay part of it).
fn uri_path(path: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    #[cfg(unix)]
    let bytes: Vec<u8> = {
        use std::os::unix::ffi::OsStrExt as _;
        absolute.as_os_str().as_bytes().to_vec()
    };
    #[cfg(not(unix))]
    let bytes: Vec<u8> = absolute.to_string_lossy().into_owned().into_bytes();
    let mut out = String::with_capacity(bytes.len());
    for byte in bytes {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// An existing ledger file, opened read-write (never created), with its schema version.
/// A file or folder this process may not write is `ReadOnly`, not "not a ledger".
fn open_for_writing(path: &Path) -> Result<(Connection, i32), StoreError> {
    if !path.exists() {
        return Err(StoreError::NotFound(path.to_owned()));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let read_only = || StoreError::ReadOnly(path.to_owned());
    if conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false) {
        return Err(read_only());
    }
    // The first read of a WAL ledger makes its WAL index beside it: where the folder is
    // read-only, that is where it fails.
    if let Err(rusqlite::Error::SqliteFailure(e, _)) =
        conn.query_row("PRAGMA application_id", [], |row| row.get::<_, i32>(0))
        && matches!(
            e.code,
            rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::CannotOpen
        )
    {
        return Err(read_only());
    }
    let version = ledger_version(&conn, path)?;
    Ok((conn, version))
}

/// The schema version of a ledger file (`PRAGMA user_version`), after checking that it is one
/// (`PRAGMA application_id`).
fn ledger_version(conn: &Connection, path: &Path) -> Result<i32, StoreError> {
    let not_a_ledger = |detail: String| StoreError::NotALedger {
        path: path.to_owned(),
        detail,
    };
    let application_id: i32 = conn
        .query_row("PRAGMA application_id", [], |row| row.get(0))
        .map_err(|e| not_a_ledger(e.to_string()))?;
    if application_id != APPLICATION_ID {
        return Err(not_a_ledger(format!(
            "application id {application_id:#x}, expected {APPLICATION_ID:#x}"
        )));
    }
    Ok(conn.query_row("PRAGMA user_version", [], |row| row.get(0))?)
}

/// Refuses any version but this build's: an older one that `migrate` knows with a pointer to
/// it, any other as unknown.
fn check_version(path: &Path, version: i32) -> Result<(), StoreError> {
    if version == SCHEMA_VERSION {
        Ok(())
    } else if (2..SCHEMA_VERSION).contains(&version) {
        Err(StoreError::NeedsMigration {
            path: path.to_owned(),
            found: version,
            expected: SCHEMA_VERSION,
        })
    } else {
        Err(StoreError::WrongVersion {
            path: path.to_owned(),
            found: version,
            expected: SCHEMA_VERSION,
        })
    }
}

impl Store {
    /// Creates a new, empty ledger at `path`.
    ///
    /// # Errors
    /// `AlreadyExists` if anything is at `path`; `Create` if the file cannot be made.
    pub fn create(path: &Path) -> Result<Store, StoreError> {
        // create_new makes the existence check and the creation one atomic step.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|source| {
                if source.kind() == std::io::ErrorKind::AlreadyExists {
                    StoreError::AlreadyExists(path.to_owned())
                } else {
                    StoreError::Create {
                        path: path.to_owned(),
                        source,
                    }
                }
            })?;
        let result = (|| {
            let conn = Connection::open(path)?;
            // Before WAL mode and the first table: a page size is fixed once the file has one.
            conn.execute_batch(&format!("PRAGMA page_size = {PAGE_SIZE};"))?;
            configure(&conn)?;
            conn.execute_batch(&format!(
                "BEGIN IMMEDIATE;
                 PRAGMA application_id = {APPLICATION_ID};
                 PRAGMA user_version = {SCHEMA_VERSION};
                 {SCHEMA_SQL}
                 {UNIT_PROGRESS_SQL}
                 {TRACE_LINKS_SQL}
                 COMMIT;"
            ))?;
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('format', 'traceledger'), ('created_at', ?1)",
                params![time::format_rfc3339_micros(time::now_unix_micros())],
            )?;
            Ok::<_, rusqlite::Error>(conn)
        })();
        match result {
            Ok(conn) => Ok(Store::with(conn, path, Access::ReadWrite)),
            Err(e) => {
                // Leave nothing half-made behind: a later `init` must be able to start over.
                Store::remove_files(path);
                Err(e.into())
            }
        }
    }

    /// Removes a ledger file and its WAL and shared-memory files: only for undoing an `init`
    /// that failed half-way.
    pub fn remove_files(path: &Path) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(sibling(path, suffix));
        }
    }

    /// An empty ledger in memory, for records proven elsewhere (an auditor bundle): the same
    /// tables and queries, no file, no chain rule (the records it gets need not be
    /// contiguous; their proofs were checked before they were put here).
    ///
    /// # Errors
    /// A database error.
    pub fn scratch() -> Result<Store, StoreError> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(SCHEMA_SQL)?;
        conn.execute_batch(UNIT_PROGRESS_SQL)?;
        conn.execute_batch(TRACE_LINKS_SQL)?;
        Ok(Store::with(conn, Path::new(":memory:"), Access::ReadWrite))
    }

    /// Puts a record into a [`Store::scratch`] ledger as it is, with its entity index rows
    /// and the rows of the derived tables (the environment readings a DHR finds by area and
    /// time among them). Records must come in seq order, as appends do.
    ///
    /// # Errors
    /// A database error (a seq or id given twice, say).
    pub fn import_record(
        &mut self,
        record: &Record,
        event: &ValidEvent,
        refs: &[EntityRef],
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO records (seq, id, type, occurred_at, site, actor, recorded_at, prev, hash, event)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                record.seq as i64,
                event.id,
                event.event_type,
                event.occurred_at,
                event.site,
                event.actor,
                record.recorded_at,
                &record.prev.0[..],
                &record.hash.0[..],
                record.event,
            ],
        )?;
        for entity_ref in refs {
            tx.execute(
                "INSERT OR IGNORE INTO entity_refs (entity, kind, role, type, seq) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    entity_ref.id,
                    entity_ref.kind.as_str(),
                    entity_ref.role.code(),
                    event.event_type,
                    record.seq as i64
                ],
            )?;
        }
        let facts = EventFacts::of(&event.value);
        if let Some(fact) = &facts.unit {
            unit_progress::apply(&tx, record.seq, fact)?;
        }
        trace_links::apply_record(&tx, record.seq, &event.value, &facts.links)?;
        tx.commit()?;
        Ok(())
    }

    /// Opens an existing ledger for writing (ingest, rebuild, checkpoint), checking that it
    /// is one and of this schema version. An older version is refused
    /// (`NeedsMigration`): only [`Store::migrate`] upgrades a ledger.
    ///
    /// # Errors
    /// `NotFound`, `NotALedger`, `WrongVersion`, `NeedsMigration`, or a database error.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let (conn, version) = open_for_writing(path)?;
        check_version(path, version)?;
        configure(&conn)?;
        Ok(Store::with(conn, path, Access::ReadWrite))
    }

    /// Opens an existing ledger for reading only: nothing is written to it, and no version is
    /// migrated (an older one is refused with `NeedsMigration`).
    ///
    /// Where this process could write the file and its folder, it takes SQLite's ordinary
    /// shared locks, so that an ingest running meanwhile is never half seen; the connection
    /// is `query_only` (SQLite refuses every change), and the WAL index files it needs are
    /// removed again when the last connection closes, as a writer's are. Where it cannot (a
    /// read-only file or folder, an archived copy), the file is opened
    /// `SQLITE_OPEN_READ_ONLY`: `immutable=1` when there is no `-wal` file (no writer has
    /// the file open, and none can), else through the WAL files that are there. Either way
    /// no file is created beside the ledger.
    ///
    /// # Errors
    /// `NotFound`, `NotALedger`, `WrongVersion`, `NeedsMigration`, or a database error.
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        if !path.exists() {
            return Err(StoreError::NotFound(path.to_owned()));
        }
        // Where we may write: an ordinary connection. SQLite opens a file it cannot write
        // read-only by itself, and fails on the first read where it cannot make the WAL
        // index beside it; both fall through to a read-only open.
        if let Ok(conn) = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        ) && !conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(true)
            && conn
                .query_row("PRAGMA application_id", [], |row| row.get::<_, i32>(0))
                .is_ok()
        {
            check_version(path, ledger_version(&conn, path)?)?;
            conn.busy_timeout(BUSY_TIMEOUT)?;
            conn.execute_batch(&format!(
                "PRAGMA cache_size = -{CACHE_KIB}; PRAGMA temp_store = FILE; PRAGMA query_only = ON;"
            ))?;
            return Ok(Store::with(conn, path, Access::QueryOnly));
        }
        let immutable = !sibling(path, "-wal").exists();
        let uri = format!(
            "file:{}?mode=ro{}",
            uri_path(path),
            if immutable { "&immutable=1" } else { "" }
        );
        let conn = Connection::open_with_flags(
            &uri,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        check_version(path, ledger_version(&conn, path)?)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.execute_batch(&format!(
            "PRAGMA cache_size = -{CACHE_KIB}; PRAGMA temp_store = MEMORY;"
        ))?;
        Ok(Store::with(conn, path, Access::ReadOnly { immutable }))
    }

    /// Brings a ledger of an older schema version to this one (`traceledger migrate`): the
    /// derived tables added since are made and filled from the records, one version per
    /// transaction. Returns the version found; a ledger already current is left as it is.
    ///
    /// # Errors
    /// `NotFound`, `NotALedger`, `WrongVersion` (a newer or unknown version), or a database
    /// error; then the ledger keeps the version it had when the failed step began.
    pub fn migrate(path: &Path) -> Result<i32, StoreError> {
        let (conn, version) = open_for_writing(path)?;
        if (2..SCHEMA_VERSION).contains(&version) {
            configure(&conn)?;
            if version == 2 {
                migrate_to(&conn, 3, UNIT_PROGRESS_SQL, unit_progress::rebuild)?;
            }
            if version <= 3 {
                migrate_to(&conn, 4, TRACE_LINKS_SQL, trace_links::rebuild)?;
            }
            migrate_to(&conn, 5, MIGRATE_5_SQL, rebuild_for_5)?;
        } else {
            check_version(path, version)?;
        }
        Ok(version)
    }

    /// Another connection to the same ledger, opened the way this one was (a reader's
    /// threads read through readers).
    ///
    /// # Errors
    /// As [`Store::open`] or [`Store::open_read_only`].
    pub fn reopen(&self) -> Result<Store, StoreError> {
        Store::open_like(&self.path, self.access)
    }

    /// Opens `path` for writing if `access` is [`Access::ReadWrite`], else read-only.
    ///
    /// # Errors
    /// As [`Store::open`] or [`Store::open_read_only`].
    pub fn open_like(path: &Path, access: Access) -> Result<Store, StoreError> {
        if access.is_read_only() {
            Store::open_read_only(path)
        } else {
            Store::open(path)
        }
    }

    /// How this connection was opened.
    pub fn access(&self) -> Access {
        self.access
    }

    fn with(conn: Connection, path: &Path, access: Access) -> Store {
        Store {
            conn,
            path: path.to_owned(),
            reads: Default::default(),
            access,
        }
    }

    /// Holds one read transaction until the guard drops: every query in between sees the same
    /// ledger (an ingest running meanwhile is not half seen), and a query of thousands of
    /// lookups takes SQLite's shared lock once instead of once per lookup (a third of a large
    /// forward trace, measured). Inside a transaction already, it is that transaction.
    ///
    /// # Errors
    /// A database error.
    pub fn read_snapshot(&self) -> Result<ReadSnapshot<'_>, StoreError> {
        if !self.conn.is_autocommit() {
            return Ok(ReadSnapshot { _transaction: None });
        }
        Ok(ReadSnapshot {
            _transaction: Some(self.conn.unchecked_transaction()?),
        })
    }

    /// Starts noting the seq of every record that queries hand out (forgetting any noted).
    pub fn track_reads(&self) {
        *self.reads.borrow_mut() = Some(Default::default());
    }

    /// The seqs noted since [`Store::track_reads`]; stops noting.
    pub fn take_reads(&self) -> std::collections::BTreeSet<u64> {
        self.reads.borrow_mut().take().unwrap_or_default()
    }

    fn note_read(&self, seq: u64) {
        if let Some(reads) = self.reads.borrow_mut().as_mut() {
            reads.insert(seq);
        }
    }

    /// Sets this connection's page cache (a scan needs little; an ingest more).
    ///
    /// # Errors
    /// A database error.
    pub fn set_cache_kib(&mut self, kib: i64) -> Result<(), StoreError> {
        self.conn
            .execute_batch(&format!("PRAGMA cache_size = -{}", kib.max(1)))?;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last record, or `None` for an empty ledger.
    ///
    /// # Errors
    /// A database error, or `Unreadable` if the last hash is not 32 bytes.
    pub fn head(&self) -> Result<Option<Head>, StoreError> {
        read_head(&self.conn)
    }

    /// Starts an append: takes the write lock (`BEGIN IMMEDIATE`, waiting for another writer
    /// up to the busy timeout) and reads the head under it, so two writers can never build on
    /// the same head.
    ///
    /// # Errors
    /// A database error (including a busy timeout).
    pub fn begin_append(&mut self) -> Result<Appender<'_>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (head, last_recorded_micros) = head_and_clock(&tx)?;
        Ok(Appender {
            tx,
            head,
            last_recorded_micros,
        })
    }

    /// The lowest and highest seq stored (whatever they are: this reads rows as they are,
    /// for verify) and the head claimed in `meta`, read in one snapshot so that an ingest
    /// committing meanwhile cannot make them disagree.
    ///
    /// # Errors
    /// A database error.
    pub fn log_bounds(&mut self) -> Result<LogBounds, StoreError> {
        let tx = self.conn.transaction()?;
        let (seq_min, seq_max): (Option<i64>, Option<i64>) =
            tx.query_row("SELECT MIN(seq), MAX(seq) FROM records", [], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?;
        let claimed_head = claimed_head(&tx)?;
        tx.commit()?;
        Ok(LogBounds {
            seqs: seq_min.zip(seq_max),
            claimed_head,
        })
    }

    /// Calls `visit` for each record with `from_seq <= seq <= to_seq`, in seq order, streaming
    /// (memory stays flat). A row whose columns have the wrong type is passed as `Unreadable`.
    ///
    /// # Errors
    /// A database error while stepping through the table.
    pub fn for_each_record<F>(
        &self,
        from_seq: i64,
        to_seq: i64,
        mut visit: F,
    ) -> Result<(), StoreError>
    where
        F: FnMut(Result<RecordView<'_>, StoreError>) -> ControlFlow<()>,
    {
        let mut statement = self.conn.prepare(
            "SELECT seq, id, type, occurred_at, site, actor, recorded_at, prev, hash, event
             FROM records WHERE seq >= ?1 AND seq <= ?2 ORDER BY seq",
        )?;
        let mut rows = statement.query(params![from_seq, to_seq])?;
        while let Some(row) = rows.next()? {
            if visit(record_view(row)).is_break() {
                break;
            }
        }
        Ok(())
    }

    /// The records that pass `filter`, in seq order, streamed to `visit`.
    ///
    /// # Errors
    /// A database error, or `Unreadable` for a damaged row.
    pub fn for_each_logged<F>(&self, filter: &LogFilter, mut visit: F) -> Result<(), StoreError>
    where
        F: FnMut(&Record, &str) -> ControlFlow<()>,
    {
        logged(&self.conn, filter, |record, event_type| {
            self.note_read(record.seq);
            visit(record, event_type)
        })
    }

    /// The stored hash of record `seq`, if there is one of 32 bytes.
    ///
    /// # Errors
    /// A database error.
    pub fn hash_at(&self, seq: u64) -> Result<Option<RecordHash>, StoreError> {
        let hash: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT hash FROM records WHERE seq = ?1",
                params![i64::try_from(seq).unwrap_or(i64::MAX)],
                |row| row.get(0),
            )
            .optional()?;
        Ok(hash.and_then(|h| RecordHash::from_slice(&h)))
    }

    /// The seq of the record of event `id`, if any (the UNIQUE index on ids).
    ///
    /// # Errors
    /// A database error.
    pub fn seq_of_event(&self, id: &str) -> Result<Option<u64>, StoreError> {
        let seq: Option<i64> = self
            .conn
            .prepare_cached("SELECT seq FROM records WHERE id = ?1")?
            .query_row(params![id], |row| row.get(0))
            .optional()?;
        Ok(seq.and_then(|s| u64::try_from(s).ok()))
    }

    /// The records of `event_type` that name `entity` as `kind` in `role`, in seq order.
    ///
    /// One range of the entity index, whose key holds the record's type, then only the
    /// matching records: a person's qualifications cost the same whether the person is named
    /// by ten steps or by 100,000, and a unit's corrections whatever else names the unit.
    ///
    /// # Errors
    /// A database error, or `Unreadable` for a damaged row.
    pub fn records_of_type_naming(
        &self,
        event_type: &str,
        kind: EntityKind,
        role: RefRole,
        entity: &str,
    ) -> Result<Vec<Record>, StoreError> {
        let mut statement = self.conn.prepare_cached(RECORDS_OF_TYPE_NAMING_SQL)?;
        let mut rows = statement.query(params![entity, kind.as_str(), role.code(), event_type])?;
        self.collect_records(&mut rows)
    }

    /// Every row of `rows` as a record, each noted as read.
    fn collect_records(&self, rows: &mut rusqlite::Rows<'_>) -> Result<Vec<Record>, StoreError> {
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let record = record_from_view(&record_view(row)?)?;
            self.note_read(record.seq);
            out.push(record);
        }
        Ok(out)
    }

    /// The records that define `entity` as `kind` (role 0 of the entity index), in seq order:
    /// for a lot, its receipt, production, the split or merge that made it; however many
    /// records name it otherwise (a lot consumed by 10,000 units).
    ///
    /// # Errors
    /// A database error, or `Unreadable` for a damaged row.
    pub fn records_defining(
        &self,
        kind: EntityKind,
        entity: &str,
    ) -> Result<Vec<Record>, StoreError> {
        let mut statement = self.conn.prepare_cached(RECORDS_DEFINING_SQL)?;
        let mut rows = statement.query(params![entity, kind.as_str(), RefRole::Defines.code()])?;
        self.collect_records(&mut rows)
    }

    /// The records at `seqs`, in that order (a seq with no record is skipped).
    ///
    /// # Errors
    /// A database error.
    pub fn records_at(&self, seqs: &[u64]) -> Result<Vec<Record>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT seq, id, type, occurred_at, site, actor, recorded_at, prev, hash, event
             FROM records WHERE seq = ?1",
        )?;
        let mut out = Vec::with_capacity(seqs.len());
        for seq in seqs {
            let mut rows = statement.query(params![*seq as i64])?;
            if let Some(row) = rows.next()? {
                let record = record_from_view(&record_view(row)?)?;
                self.note_read(record.seq);
                out.push(record);
            }
        }
        Ok(out)
    }

    /// Recomputes the derived entity index from the records alone, in one transaction.
    /// Returns the number of records indexed.
    ///
    /// # Errors
    /// A database error, or `Unreadable` if a record's event is not valid JSON.
    pub fn rebuild_derived<F>(&mut self, refs_of: F) -> Result<u64, StoreError>
    where
        F: Fn(&str) -> Result<Vec<EntityRef>, String>,
    {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM entity_refs", [])?;
        let count = fill_refs(&tx, "entity_refs", &refs_of)?;
        unit_progress::rebuild(&tx)?;
        trace_links::rebuild(&tx)?;
        tx.commit()?;
        Ok(count)
    }

    /// Compares the stored entity index with one recomputed from the records, without
    /// changing the ledger (the recomputed index lives in a temporary table).
    ///
    /// # Errors
    /// A database error, or `Unreadable` if a record's event is not valid JSON.
    pub fn diff_derived<F>(&mut self, refs_of: F) -> Result<DerivedDiff, StoreError>
    where
        F: Fn(&str) -> Result<Vec<EntityRef>, String>,
    {
        // The recomputation lives in temporary tables only; a query_only connection lets it
        // make them for the while, and is query_only again after, whatever happened.
        let query_only = self.access == Access::QueryOnly;
        if query_only {
            self.conn.execute_batch("PRAGMA query_only = OFF")?;
        }
        let diff = self.diff_derived_in_temp(refs_of);
        if query_only {
            self.conn.execute_batch("PRAGMA query_only = ON")?;
        }
        diff
    }

    fn diff_derived_in_temp<F>(&mut self, refs_of: F) -> Result<DerivedDiff, StoreError>
    where
        F: Fn(&str) -> Result<Vec<EntityRef>, String>,
    {
        let tx = self.conn.transaction()?;
        tx.execute_batch(
            "CREATE TEMP TABLE expected_refs (
                entity TEXT NOT NULL, kind TEXT NOT NULL, role INTEGER NOT NULL, type TEXT NOT NULL,
                seq INTEGER NOT NULL, PRIMARY KEY (entity, kind, role, type, seq)) WITHOUT ROWID;",
        )?;
        fill_refs(&tx, "temp.expected_refs", &refs_of)?;
        let side = |from: &str, minus: &str| -> Result<(u64, Option<DerivedRow>), StoreError> {
            let query = format!(
                "SELECT seq, kind, entity, role, type FROM {from} EXCEPT SELECT seq, kind, entity, role, type FROM {minus} ORDER BY 1"
            );
            let count: i64 =
                tx.query_row(&format!("SELECT COUNT(*) FROM ({query})"), [], |row| {
                    row.get(0)
                })?;
            let first = tx
                .query_row(&format!("{query} LIMIT 1"), [], |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                    ))
                })
                .optional()?;
            Ok((u64::try_from(count).unwrap_or(0), first))
        };
        let (missing, first_missing) = side("temp.expected_refs", "main.entity_refs")?;
        let (extra, first_extra) = side("main.entity_refs", "temp.expected_refs")?;
        // Dropped with the rollback: a check leaves the file as it found it.
        tx.rollback()?;
        Ok(DerivedDiff {
            missing,
            extra,
            first_missing,
            first_extra,
            kpi_rows_differing: differences(
                &mut self.conn,
                UNIT_PROGRESS_SQL,
                &unit_progress::TABLES,
                unit_progress::rebuild,
            )?,
            trace_link_rows_differing: differences(
                &mut self.conn,
                TRACE_LINKS_SQL,
                &trace_links::TABLES,
                trace_links::rebuild,
            )?,
            ..DerivedDiff::default()
        })
    }
}

fn fill_refs<F>(tx: &Transaction<'_>, table: &str, refs_of: &F) -> Result<u64, StoreError>
where
    F: Fn(&str) -> Result<Vec<EntityRef>, String>,
{
    let mut read = tx.prepare("SELECT seq, type, event FROM records ORDER BY seq")?;
    let mut insert = tx.prepare(&format!(
        "INSERT OR IGNORE INTO {table} (entity, kind, role, type, seq) VALUES (?1, ?2, ?3, ?4, ?5)"
    ))?;
    let mut rows = read.query([])?;
    let mut count = 0u64;
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        let unreadable = |e: rusqlite::Error| StoreError::Unreadable {
            seq,
            detail: e.to_string(),
        };
        // The type column, which verify holds to the hashed event.
        let event_type: String = row.get(1).map_err(unreadable)?;
        let event: String = row.get(2).map_err(unreadable)?;
        let refs = refs_of(&event).map_err(|detail| StoreError::Unreadable { seq, detail })?;
        for entity_ref in &refs {
            insert.execute(params![
                entity_ref.id,
                entity_ref.kind.as_str(),
                entity_ref.role.code(),
                event_type,
                seq
            ])?;
        }
        count += 1;
    }
    Ok(count)
}

/// Adds derived tables to a ledger of the version before `version`: made (`tables_sql`) and
/// filled from the records (`rebuild`), in one transaction. Schema 3 adds the KPI tables,
/// schema 4 the forward genealogy, schema 5 the event type to the entity index (copied from
/// the records in `tables_sql`) and the sensor to `area_readings` (refilled by `rebuild`).
/// What version 5 recomputes: the readings with their sensor, and the forward genealogy,
/// whose details became typed and which corrections now change.
fn rebuild_for_5(conn: &Connection) -> Result<u64, StoreError> {
    Ok(unit_progress::rebuild_area_readings(conn)? + trace_links::rebuild(conn)?)
}

fn migrate_to(
    conn: &Connection,
    version: i32,
    tables_sql: &str,
    rebuild: fn(&Connection) -> Result<u64, StoreError>,
) -> Result<(), StoreError> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = (|| {
        // Another process may have migrated between our read of the version and the lock.
        let now: i32 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        if now >= version {
            conn.execute_batch("COMMIT")?;
            return Ok(());
        }
        conn.execute_batch(tables_sql)?;
        rebuild(conn)?;
        conn.execute_batch(&format!("PRAGMA user_version = {version}; COMMIT;"))?;
        Ok::<_, StoreError>(())
    })();
    if result.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    result
}

/// Calls `apply` with each record of the listed types (`types_sql`: quoted, comma-separated)
/// and its parsed event, in seq order: how the derived tables are rebuilt from the records
/// alone. Returns the records for which `apply` said it applied something.
fn replay(
    conn: &Connection,
    types_sql: &str,
    mut apply: impl FnMut(u64, &serde_json::Value) -> rusqlite::Result<bool>,
) -> Result<u64, StoreError> {
    let mut read = conn.prepare(&format!(
        "SELECT seq, event FROM records WHERE type IN ({types_sql}) ORDER BY seq"
    ))?;
    let mut rows = read.query([])?;
    let mut applied = 0u64;
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        let text: String = row.get(1)?;
        let event: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| StoreError::Unreadable {
                seq,
                detail: e.to_string(),
            })?;
        if apply(u64::try_from(seq).unwrap_or(0), &event)? {
            applied += 1;
        }
    }
    Ok(applied)
}

/// Rows of derived `tables` (made by `tables_sql`) that differ from what `rebuild` makes of
/// the records (both directions). The rebuild writes into temporary tables of the same names,
/// which hide the ledger's own while they exist, so the ledger file is only read (this runs
/// on a read-only connection); they are gone with the rollback.
fn differences(
    conn: &mut Connection,
    tables_sql: &str,
    tables: &[&str],
    rebuild: fn(&Connection) -> Result<u64, StoreError>,
) -> Result<u64, StoreError> {
    let tx = conn.transaction()?;
    tx.execute_batch(&tables_sql.replace("CREATE TABLE ", "CREATE TEMP TABLE "))?;
    for table in tables {
        let in_temp: i64 = tx.query_row(
            "SELECT COUNT(*) FROM temp.sqlite_master WHERE type = 'table' AND name = ?1",
            [table],
            |row| row.get(0),
        )?;
        if in_temp != 1 {
            return Err(StoreError::Sqlite(rusqlite::Error::InvalidQuery));
        }
    }
    rebuild(&tx)?;
    let mut differing = 0u64;
    for table in tables {
        let count: i64 = tx.query_row(
            &format!(
                "SELECT (SELECT COUNT(*) FROM (SELECT * FROM temp.{table} EXCEPT SELECT * FROM main.{table}))
                      + (SELECT COUNT(*) FROM (SELECT * FROM main.{table} EXCEPT SELECT * FROM temp.{table}))"
            ),
            [],
            |row| row.get(0),
        )?;
        differing += u64::try_from(count).unwrap_or(0);
    }
    // Drops the temporary tables.
    tx.rollback()?;
    Ok(differing)
}

/// The head recorded in `meta` at the last commit: what the ledger last claimed to be.
fn claimed_head(conn: &Connection) -> Result<Option<(String, String)>, StoreError> {
    let value = |key: &str| -> Result<Option<String>, StoreError> {
        Ok(conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| {
                row.get(0)
            })
            .optional()?)
    };
    Ok(value("head_seq")?.zip(value("head_hash")?))
}

/// The head and its `recorded_at` in microseconds (0 for an empty log), read under the
/// write lock by an append.
fn head_and_clock(conn: &Connection) -> Result<(Option<Head>, i64), StoreError> {
    let head = read_head(conn)?;
    let micros = match head {
        Some(head) => {
            let text: String = conn.query_row(
                "SELECT recorded_at FROM records WHERE seq = ?1",
                params![head.seq as i64],
                |row| row.get(0),
            )?;
            time::parse_rfc3339_micros(&text).unwrap_or(0)
        }
        None => 0,
    };
    Ok((head, micros))
}

fn read_head(conn: &Connection) -> Result<Option<Head>, StoreError> {
    let row: Option<(i64, Vec<u8>)> = conn
        .query_row(
            "SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    match row {
        None => Ok(None),
        Some((seq, hash)) => {
            let hash = RecordHash::from_slice(&hash).ok_or_else(|| StoreError::Unreadable {
                seq,
                detail: format!("hash is {} bytes, not 32", hash.len()),
            })?;
            Ok(Some(Head {
                seq: u64::try_from(seq).map_err(|_| StoreError::Unreadable {
                    seq,
                    detail: "negative seq".to_owned(),
                })?,
                hash,
            }))
        }
    }
}

fn record_view<'r>(row: &'r rusqlite::Row<'_>) -> Result<RecordView<'r>, StoreError> {
    use rusqlite::types::ValueRef;
    let seq: i64 = row.get(0)?;
    let unreadable = |column: &str, detail: String| StoreError::Unreadable {
        seq,
        detail: format!("column {column}: {detail}"),
    };
    let text = |index: usize, column: &str| -> Result<&'r str, StoreError> {
        match row.get_ref(index)? {
            ValueRef::Text(bytes) => {
                std::str::from_utf8(bytes).map_err(|e| unreadable(column, e.to_string()))
            }
            other => Err(unreadable(
                column,
                format!("{:?} instead of text", other.data_type()),
            )),
        }
    };
    let blob = |index: usize, column: &str| -> Result<&'r [u8], StoreError> {
        match row.get_ref(index)? {
            ValueRef::Blob(bytes) => Ok(bytes),
            other => Err(unreadable(
                column,
                format!("{:?} instead of a blob", other.data_type()),
            )),
        }
    };
    let actor = match row.get_ref(5)? {
        ValueRef::Null => None,
        _ => Some(text(5, "actor")?),
    };
    Ok(RecordView {
        seq,
        id: text(1, "id")?,
        event_type: text(2, "type")?,
        occurred_at: text(3, "occurred_at")?,
        site: text(4, "site")?,
        actor,
        recorded_at: text(6, "recorded_at")?,
        prev: blob(7, "prev")?,
        hash: blob(8, "hash")?,
        event: text(9, "event")?,
    })
}

/// The records that pass `filter` on `conn`, in seq order, streamed to `visit`.
///
/// # Errors
/// A database error, or `Unreadable` for a damaged row.
fn logged<F>(conn: &Connection, filter: &LogFilter, mut visit: F) -> Result<(), StoreError>
where
    F: FnMut(&Record, &str) -> ControlFlow<()>,
{
    let (sql, values) = logged_sql(filter);
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query(rusqlite::params_from_iter(values))?;
    while let Some(row) = rows.next()? {
        let view = record_view(row)?;
        let record = record_from_view(&view)?;
        if visit(&record, view.event_type).is_break() {
            break;
        }
    }
    Ok(())
}

/// The query of [`logged`] for `filter`, and the values it binds.
fn logged_sql(filter: &LogFilter) -> (String, Vec<rusqlite::types::Value>) {
    let mut sql = String::from(
        "SELECT seq, id, type, occurred_at, site, actor, recorded_at, prev, hash, event
         FROM records WHERE seq >= ?1 AND seq <= ?2",
    );
    let mut values: Vec<rusqlite::types::Value> = vec![
        (filter.from_seq.unwrap_or(1) as i64).into(),
        (filter.to_seq.map_or(i64::MAX, |s| s as i64)).into(),
    ];
    if !filter.types.is_empty() {
        let marks: Vec<String> = (0..filter.types.len())
            .map(|i| format!("?{}", values.len() + 1 + i))
            .collect();
        sql.push_str(&format!(" AND type IN ({})", marks.join(", ")));
        values.extend(filter.types.iter().map(|t| t.clone().into()));
    }
    if let Some(actor) = &filter.actor {
        values.push(actor.clone().into());
        sql.push_str(&format!(" AND actor = ?{}", values.len()));
    }
    if let Some(from) = &filter.recorded_from {
        values.push(from.clone().into());
        sql.push_str(&format!(" AND recorded_at >= ?{}", values.len()));
    }
    if let Some(to) = &filter.recorded_to {
        values.push(to.clone().into());
        sql.push_str(&format!(" AND recorded_at <= ?{}", values.len()));
    }
    if let Some(entity) = &filter.entity {
        values.push(entity.clone().into());
        sql.push_str(&format!(
            " AND seq IN (SELECT seq FROM entity_refs WHERE entity = ?{})",
            values.len()
        ));
    }
    sql.push_str(" ORDER BY seq");
    if let Some(limit) = filter.limit {
        values.push((limit.min(i64::MAX as u64) as i64).into());
        sql.push_str(&format!(" LIMIT ?{}", values.len()));
    }
    (sql, values)
}

/// The record a view holds, with its hashes checked for length (not for truth: that is
/// `verify`'s job).
///
/// # Errors
/// `Unreadable` if seq is negative or a hash is not 32 bytes.
pub fn record_from_view(view: &RecordView<'_>) -> Result<Record, StoreError> {
    let unreadable = |detail: &str| StoreError::Unreadable {
        seq: view.seq,
        detail: detail.to_owned(),
    };
    Ok(Record {
        seq: u64::try_from(view.seq).map_err(|_| unreadable("negative seq"))?,
        recorded_at: view.recorded_at.to_owned(),
        prev: RecordHash::from_slice(view.prev)
            .ok_or_else(|| unreadable("prev is not 32 bytes"))?,
        hash: RecordHash::from_slice(view.hash)
            .ok_or_else(|| unreadable("hash is not 32 bytes"))?,
        event: view.event.to_owned(),
    })
}

/// An open append transaction. Records appended through it become visible to its own lookups
/// at once (so later lines of one input can reference earlier ones) and to everyone else at
/// [`Appender::commit`]; dropping it without commit rolls everything back.
pub struct Appender<'s> {
    tx: Transaction<'s>,
    head: Option<Head>,
    last_recorded_micros: i64,
}

/// An event already in the ledger under some id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq: u64,
    pub event: String,
}

impl Appender<'_> {
    /// The event recorded under `id`, if any.
    ///
    /// # Errors
    /// A database error.
    pub fn find_event(&self, id: &str) -> Result<Option<StoredEvent>, StoreError> {
        let mut statement = self
            .tx
            .prepare_cached("SELECT seq, event FROM records WHERE id = ?1")?;
        let found: Option<(i64, String)> = statement
            .query_row(params![id], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        Ok(found.map(|(seq, event)| StoredEvent {
            seq: u64::try_from(seq).unwrap_or(0),
            event,
        }))
    }

    /// Whether an entity of `kind` named `id` has been defined by some record.
    ///
    /// # Errors
    /// A database error.
    pub fn entity_defined(&self, kind: EntityKind, id: &str) -> Result<bool, StoreError> {
        if kind == EntityKind::Event {
            return Ok(self.find_event(id)?.is_some());
        }
        let mut statement = self.tx.prepare_cached(ENTITY_DEFINED_SQL)?;
        let found = statement
            .query_row(
                params![
                    id,
                    kind.as_str(),
                    RefRole::Defines.code(),
                    RefRole::DefinesOrExtends.code()
                ],
                |_| Ok(()),
            )
            .optional()?;
        Ok(found.is_some())
    }

    /// The event (canonical JSON) of the record that defined an entity, if any.
    ///
    /// # Errors
    /// A database error.
    pub fn defining_event(&self, kind: EntityKind, id: &str) -> Result<Option<String>, StoreError> {
        let mut statement = self.tx.prepare_cached(DEFINING_EVENT_SQL)?;
        Ok(statement
            .query_row(
                params![
                    id,
                    kind.as_str(),
                    RefRole::Defines.code(),
                    RefRole::DefinesOrExtends.code()
                ],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// The seq the next appended record will get.
    pub fn next_seq(&self) -> u64 {
        self.head.map_or(1, |h| h.seq + 1)
    }

    /// Appends `event` as the next record, indexes `refs` and applies `facts` to the KPI and
    /// forward genealogy tables (both read from the event by the caller, off the writing
    /// thread). Returns the
    /// new head.
    ///
    /// # Errors
    /// `IdTaken` if a record with this event id exists (nothing is appended); or a database error.
    pub fn append(
        &mut self,
        event: &ValidEvent,
        refs: &[EntityRef],
        facts: &EventFacts,
    ) -> Result<Head, StoreError> {
        let seq = self.head.map_or(1, |h| h.seq + 1);
        let prev = self.head.map_or(GENESIS_PREV, |h| h.hash);
        // The ledger clock never runs backwards in the log, even if the system clock does.
        let now = time::now_unix_micros().max(self.last_recorded_micros);
        let recorded_at = time::format_rfc3339_micros(now);
        let hash = record_hash(seq, &recorded_at, &prev, &event.canonical);
        let mut insert = self.tx.prepare_cached(
            "INSERT INTO records (seq, id, type, occurred_at, site, actor, recorded_at, prev, hash, event)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        let inserted = insert.execute(params![
            seq as i64,
            event.id,
            event.event_type,
            event.occurred_at,
            event.site,
            event.actor,
            recorded_at,
            &prev.0[..],
            &hash.0[..],
            event.canonical,
        ]);
        match inserted {
            // Pair assertion: the row landed where the chain says (seq is the rowid).
            Ok(_) => assert_eq!(
                self.tx.last_insert_rowid(),
                seq as i64,
                "record stored at its seq"
            ),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
            {
                return Err(StoreError::IdTaken(event.id.clone()));
            }
            Err(e) => return Err(e.into()),
        }
        let mut index = self.tx.prepare_cached(
            "INSERT OR IGNORE INTO entity_refs (entity, kind, role, type, seq) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for entity_ref in refs {
            index.execute(params![
                entity_ref.id,
                entity_ref.kind.as_str(),
                entity_ref.role.code(),
                event.event_type,
                seq as i64
            ])?;
        }
        if let Some(fact) = &facts.unit {
            unit_progress::apply(&self.tx, seq, fact)?;
        }
        // Ingest frees the parsed event before this stage; a correction (rare) is parsed
        // again, for the links of what it corrects.
        let correction = (event.event_type == "correction.recorded")
            .then(|| serde_json::from_str::<serde_json::Value>(&event.canonical).ok())
            .flatten();
        let whole = correction.as_ref().unwrap_or(&event.value);
        trace_links::apply_record(&self.tx, seq, whole, &facts.links)?;
        let head = Head { seq, hash };
        self.head = Some(head);
        self.last_recorded_micros = now;
        Ok(head)
    }

    /// Records the head in `meta`, in the transaction that appended it: what the ledger
    /// claims to be, so that `verify` can tell a tail cut off behind its back.
    fn claim_head(&self) -> Result<(), StoreError> {
        if let Some(head) = self.head {
            self.tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('head_seq', ?1), ('head_hash', ?2)",
                params![head.seq.to_string(), head.hash.to_hex()],
            )?;
        }
        Ok(())
    }

    /// Makes every append so far durable (with the head in `meta`) and goes on in a new
    /// transaction under the same write lock: a long input is then kept in chunks, and an
    /// interrupted one loses only its last chunk.
    ///
    /// # Errors
    /// A database error; then the appends since the last commit are not in the ledger.
    ///
    /// Between the two another writer may take the lock and append (another chunked
    /// ingest); the head is read again under the new lock, so appends go on from the
    /// ledger's head, never from a stale one. Returns whether another writer appended
    /// meanwhile (then what the caller knows of the ledger may be stale too).
    pub fn commit_and_continue(&mut self) -> Result<bool, StoreError> {
        self.claim_head()?;
        // The Transaction object stays open over the new transaction: its commit or
        // rollback at the end applies to the last chunk.
        self.tx.execute_batch("COMMIT")?;
        self.tx.execute_batch("BEGIN IMMEDIATE")?;
        let (head, last_recorded_micros) = head_and_clock(&self.tx)?;
        let moved = head != self.head;
        self.head = head;
        self.last_recorded_micros = self.last_recorded_micros.max(last_recorded_micros);
        Ok(moved)
    }

    /// Makes every append of this transaction durable, and records the new head in `meta`.
    ///
    /// # Errors
    /// A database error; then nothing of this transaction is in the ledger.
    pub fn commit(self) -> Result<Option<Head>, StoreError> {
        self.claim_head()?;
        self.tx.commit()?;
        Ok(self.head)
    }

    /// Discards every append of this transaction.
    ///
    /// # Errors
    /// A database error.
    pub fn rollback(self) -> Result<(), StoreError> {
        self.tx.rollback()?;
        Ok(())
    }
}
