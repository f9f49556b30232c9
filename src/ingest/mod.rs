//! Ingest: turns an NDJSON stream from the shop floor into records, all or nothing.
//!
//! Each line is decoded (UTF-8, BOM, CRLF, blank lines), validated by the vocabulary layer
//! (JSON, schema, id rules), checked against the ledger for duplicates, id conflicts and
//! entity references (docs/references.md), then appended. The whole input is one
//! transaction: by default any bad line means nothing is written; with a rejects file the good
//! lines are committed and each bad line is written there with its reason.
//!
//! This module knows no SQL (it talks to `store::Appender`) and no terminal (progress goes to
//! a callback).

use crate::event::{
    EntityKind, EntityRef, EventFacts, RefRole, RejectCode, Rejection, SchemaSet, ValidEvent,
    entity_refs,
};
use crate::genesis::GENESIS_SOURCE;
use crate::signing::authority::{
    AUTHORITY_TYPES, Authority, AuthorityChange, Crypto, Requirement, SignatureFault, Stamp,
    bad_public_key, requirement,
};
use crate::signing::{SignedEvent, signed_event};
use crate::store::{Appender, LogFilter, Store, StoreError};
use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use udi_check::{LabelUdi, UdiMemory};

mod numbers;
mod udi_check;

/// A line longer than this is refused without being held in memory: no event of the
/// vocabulary comes near it, and an input without line ends must not exhaust memory.
pub const LINE_BYTES_MAX: usize = 1 << 20;
/// How many bad lines an ingest reports one by one; past it, only a count.
pub const REPORTED_REJECTIONS_MAX: usize = 100;
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("cannot read {name}: {source}")]
    Read {
        name: String,
        source: std::io::Error,
    },
    #[error("cannot write the rejects file {path}: {source}")]
    RejectsFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An ingest with `commit_every` failed after committing some chunks.
    #[error(
        "{source}; lines 1 to {committed_lines} were committed in chunks before the failure{}, nothing after: run the same ingest again to record the rest (the recorded lines are skipped as duplicates)",
        committed_seqs.map_or(String::new(), |(first, last)| format!(" (seq {first}..{last})"))
    )]
    PartlyCommitted {
        committed_lines: u64,
        committed_seqs: Option<(u64, u64)>,
        source: Box<IngestError>,
    },
}

impl IngestError {
    /// The error under a [`IngestError::PartlyCommitted`] (itself otherwise).
    pub fn cause(&self) -> &IngestError {
        match self {
            IngestError::PartlyCommitted { source, .. } => source.cause(),
            other => other,
        }
    }
}

/// A bad input line: where it is and why it was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRejection {
    pub line: u64,
    pub rejection: Rejection,
}

/// Where the lines come from, as named in messages (`FILE:LINE: ...`).
pub struct Input<'a> {
    pub name: String,
    pub reader: Box<dyn BufRead + Send + 'a>,
}

#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// Commit the good lines and write the bad ones here, instead of all or nothing.
    pub rejects: Option<PathBuf>,
    /// Commit every this many lines while no line was bad, so that a long input that is
    /// interrupted keeps what was committed (rerunning it skips those lines as duplicates).
    /// A bad line stops the committing: nothing from its chunk on is written.
    pub commit_every: Option<u64>,
}

/// Progress, reported every few thousand lines and at the end.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub bytes_read: u64,
    pub lines: u64,
}

/// What an ingest did.
#[derive(Debug, Clone, Default)]
pub struct IngestSummary {
    pub lines: u64,
    pub recorded: u64,
    pub duplicates: u64,
    pub rejected: u64,
    /// The first [`REPORTED_REJECTIONS_MAX`] bad lines.
    pub rejections: Vec<LineRejection>,
    /// Whether the good lines were committed. False when a bad line stopped an all-or-nothing
    /// ingest: then the ledger is as it was before.
    pub committed: bool,
    pub elapsed: Duration,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// Lines whose outcome is in the ledger: all of them when `committed`, else those of the
    /// chunks committed before the first bad line (`commit_every`).
    pub committed_lines: u64,
    /// Lines of the committed chunks that were recorded (not duplicates).
    pub committed_recorded: u64,
    /// The first and last seq of the committed chunks.
    pub committed_first_seq: Option<u64>,
    pub committed_last_seq: Option<u64>,
}

impl IngestSummary {
    pub fn events_per_second(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            (self.recorded + self.duplicates) as f64 / seconds
        } else {
            0.0
        }
    }
}

enum LineOutcome {
    Recorded(u64),
    Duplicate,
}

/// Lines travel from the decoding thread to the writing thread in batches of this many; the
/// channel holds [`BATCHES_IN_FLIGHT`] of them, which bounds memory whatever the input size.
const BATCH_LINES: usize = 512;
const BATCHES_IN_FLIGHT: usize = 8;
/// Entities known to exist are remembered (so most reference checks need no query) up to
/// this many (about 6 MB); then the memory is cleared and refilled, keeping memory flat.
const KNOWN_ENTITIES_MAX: usize = 100_000;

/// One input line after the first stage: decoded, validated and its references listed.
struct PreparedLine {
    line: u64,
    bytes_read: u64,
    outcome: Result<Prepared, Rejection>,
    /// The line as sent, kept only when a rejects file wants it.
    raw: Option<Vec<u8>>,
}

/// A valid event with what the writing stage needs to check it.
struct Prepared {
    event: ValidEvent,
    refs: Vec<EntityRef>,
    /// What it says about units and lots, for the KPI and forward genealogy tables.
    facts: EventFacts,
    label: Option<LabelUdi>,
    signatures: Option<Signatures>,
    /// What the event changes in who may sign, stamped with its `occurred_at`.
    change: Option<(i64, AuthorityChange)>,
}

/// An event's signatures and what its type requires, checked on the writing stage against
/// the keys and roles of the ledger at that seq.
struct Signatures {
    signed: SignedEvent,
    requirement: Option<Requirement>,
    /// Per entry, the public key it was found valid against on the preparing thread.
    prechecked: Vec<Option<[u8; 32]>>,
}

/// The public keys of the ledger by key id, shared with the preparing thread so that it can
/// do the Ed25519 arithmetic off the writing thread. A key id's public key never changes
/// (a second registration is refused), so a check against it stays right; a key not yet
/// in the book (registered earlier in the same input) is checked by the writer.
type KeyBook = std::sync::RwLock<std::collections::HashMap<String, ed25519_dalek::VerifyingKey>>;

/// Who may sign what as the writing stage goes (the authority), and the key book it keeps
/// the preparing thread's copy of up to date.
struct Signers<'b> {
    authority: Authority,
    key_book: &'b KeyBook,
}

type Batch = Result<Vec<PreparedLine>, std::io::Error>;

/// Reads `input` into the ledger.
///
/// Two stages on two threads: one reads, decodes, validates and canonicalizes lines (pure
/// work), the other checks them against the ledger and appends them, in input order. The
/// order of records is the order of lines.
///
/// # Errors
/// I/O on the input or the rejects file, or a database error; in each case nothing of this
/// input is committed. Bad lines are not errors: they are in the summary.
pub fn ingest(
    store: &mut Store,
    schemas: &SchemaSet,
    input: Input<'_>,
    options: &IngestOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<IngestSummary, IngestError> {
    let started = Instant::now();
    let mut rejects = match &options.rejects {
        Some(path) => Some(RejectsFile::create(path)?),
        None => None,
    };
    let keep_raw = rejects.is_some();
    let Input { name, reader } = input;
    let mut appender = store.begin_append()?;
    let authority = load_authority(&appender)?;
    let key_book: KeyBook = std::sync::RwLock::new(
        authority
            .public_keys()
            .map(|(id, key)| (id.to_owned(), *key))
            .collect(),
    );
    let (sender, receiver) = std::sync::mpsc::sync_channel::<Batch>(BATCHES_IN_FLIGHT);
    let mut summary = IngestSummary::default();
    let written = std::thread::scope(|scope| {
        let book = &key_book;
        scope.spawn(move || prepare_lines(reader, schemas, keep_raw, book, &sender));
        let written = write_lines(
            &mut appender,
            Signers {
                authority,
                key_book: &key_book,
            },
            &receiver,
            (rejects.as_mut(), options.commit_every),
            progress,
            &name,
            &mut summary,
        );
        // Dropping the receiver stops the reader if writing failed half-way.
        drop(receiver);
        written
    });
    // Any failure from here on keeps the chunks committed so far: say which.
    let partly = |summary: &IngestSummary, e: IngestError| {
        if summary.committed_lines == 0 {
            return e;
        }
        IngestError::PartlyCommitted {
            committed_lines: summary.committed_lines,
            committed_seqs: summary.committed_first_seq.zip(summary.committed_last_seq),
            source: Box::new(e),
        }
    };
    if let Err(e) = written {
        // Dropping the appender rolls the last chunk back.
        return Err(partly(&summary, e));
    }
    let commit = summary.rejected == 0 || rejects.is_some();
    if commit {
        // The rejects file is complete before the records are committed, so a reported
        // success always has its rejects beside it.
        if let Some(file) = rejects.take() {
            file.finish().map_err(|e| partly(&summary, e))?;
        }
        appender
            .commit()
            .map_err(|e| partly(&summary, IngestError::Store(e)))?;
        summary.committed_lines = summary.lines;
        summary.committed_recorded = summary.recorded;
    } else {
        appender.rollback()?;
        if summary.committed_lines == 0 {
            summary.first_seq = None;
            summary.last_seq = None;
        } else {
            summary.last_seq = summary.committed_last_seq;
        }
    }
    summary.committed = commit;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// The first stage: everything that needs no ledger. Stops at the end of input, at a read
/// error (sent on), or when the writing stage has hung up.
fn prepare_lines(
    mut reader: Box<dyn BufRead + Send + '_>,
    schemas: &SchemaSet,
    keep_raw: bool,
    key_book: &KeyBook,
    sender: &std::sync::mpsc::SyncSender<Batch>,
) {
    let mut buffer = Vec::with_capacity(4096);
    let mut batch = Vec::with_capacity(BATCH_LINES);
    let (mut bytes_read, mut line) = (0u64, 0u64);
    loop {
        let (line_len, content_len) = match read_line(&mut reader, &mut buffer) {
            Ok(Some(lengths)) => lengths,
            Ok(None) => break,
            Err(e) => {
                let _ = sender.send(Err(e));
                return;
            }
        };
        bytes_read += line_len as u64;
        line += 1;
        let outcome = match decode_line(&buffer, line == 1, content_len) {
            Ok(None) => continue,
            Ok(Some(text)) => ValidEvent::parse(text, schemas).and_then(|mut event| {
                if let Some((field, number)) = numbers::first_changed_number(text) {
                    return Err(Rejection::new(
                        RejectCode::SchemaViolation,
                        Some(field),
                        format!(
                            "number {number} cannot be stored as it is: the ledger keeps numbers as IEEE 754 doubles (RFC 8785), which would change it; send it as a string, or with at most 17 significant digits within the double's range"
                        ),
                    ));
                }
                let refs = entity_refs(&event.value);
                let facts = EventFacts::of(&event.value);
                let label = udi_check::parse_event_udi(&event)?;
                let (signatures, change) = prepare_signatures(&event, key_book)?;
                // The parsed tree is not needed past this stage; freeing it here keeps that
                // work off the writing thread.
                event.value = serde_json::Value::Null;
                Ok(Prepared {
                    event,
                    refs,
                    facts,
                    label,
                    signatures,
                    change,
                })
            }),
            Err(rejection) => Err(rejection),
        };
        let raw = keep_raw.then(|| buffer.clone());
        batch.push(PreparedLine {
            line,
            bytes_read,
            outcome,
            raw,
        });
        if batch.len() == BATCH_LINES {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_LINES));
            if sender.send(Ok(full)).is_err() {
                return;
            }
        }
    }
    if !batch.is_empty() {
        let _ = sender.send(Ok(batch));
    }
}

/// An event's decoded signatures, and the change it makes to who may sign (with the index
/// of its line in the batch).
type PreparedSignatures = (Option<Signatures>, Option<(i64, AuthorityChange)>);

/// The signature work that needs no ledger: the reserved genesis source, a usable public
/// key, the signatures decoded with the content digest they sign, the type's requirement.
fn prepare_signatures(
    event: &ValidEvent,
    key_book: &KeyBook,
) -> Result<PreparedSignatures, Rejection> {
    let value = &event.value;
    if value.get("source").and_then(serde_json::Value::as_str) == Some(GENESIS_SOURCE) {
        return Err(Rejection::new(
            RejectCode::SchemaViolation,
            Some("/source".to_owned()),
            format!(
                "source {GENESIS_SOURCE:?} is reserved for the genesis records that init writes"
            ),
        ));
    }
    let data = value.get("data").unwrap_or(&serde_json::Value::Null);
    if bad_public_key(&event.event_type, data) {
        return Err(Rejection::new(
            RejectCode::SchemaViolation,
            Some("/data/public_key".to_owned()),
            "not an Ed25519 public key (32 bytes in base64, a point of the curve)",
        ));
    }
    let required = requirement(&event.event_type, data);
    let has_signatures = value
        .get("signatures")
        .and_then(serde_json::Value::as_array)
        .is_some_and(|list| !list.is_empty());
    let signatures = if has_signatures || required.is_some() {
        let signed = signed_event(value).map_err(|e| {
            Rejection::new(
                RejectCode::InvalidSignature,
                Some("/signatures".to_owned()),
                e.to_string(),
            )
        })?;
        let prechecked = match key_book.read() {
            Ok(book) => signed
                .entries
                .iter()
                .map(|entry| {
                    book.get(&entry.key)
                        .filter(|key| entry.verifies(&signed.content, key))
                        .map(|key| key.to_bytes())
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        Some(Signatures {
            signed,
            requirement: required,
            prechecked,
        })
    } else {
        None
    };
    let change = AuthorityChange::of(&event.event_type, data).and_then(|change| {
        crate::time::parse_rfc3339_millis(&event.occurred_at).map(|at| (at, change))
    });
    Ok((signatures, change))
}

/// The keys and roles of the ledger, as this transaction sees it.
fn load_authority(appender: &Appender<'_>) -> Result<Authority, StoreError> {
    let mut authority = Authority::default();
    let filter = LogFilter {
        types: AUTHORITY_TYPES.iter().map(|t| (*t).to_owned()).collect(),
        ..LogFilter::default()
    };
    appender.for_each_logged(&filter, |record, event_type| {
        authority.observe(record.seq, event_type, &record.event);
        std::ops::ControlFlow::Continue(())
    })?;
    Ok(authority)
}

fn signature_rejection(fault: &SignatureFault) -> Rejection {
    let code = if fault.is_missing() {
        RejectCode::MissingSignature
    } else {
        RejectCode::InvalidSignature
    };
    Rejection::new(code, Some(fault.field()), fault.to_string())
}

/// The second stage: checks each prepared line against the ledger and appends it.
fn write_lines(
    appender: &mut Appender<'_>,
    mut signers: Signers<'_>,
    receiver: &std::sync::mpsc::Receiver<Batch>,
    (mut rejects, commit_every): (Option<&mut RejectsFile>, Option<u64>),
    progress: &mut dyn FnMut(Progress),
    name: &str,
    summary: &mut IngestSummary,
) -> Result<(), IngestError> {
    let mut known = KnownEntities::default();
    let mut udis = UdiMemory::default();
    let (mut bytes_read, mut lines_read) = (0u64, 0u64);
    for batch in receiver {
        let batch = batch.map_err(|source| IngestError::Read {
            name: name.to_owned(),
            source,
        })?;
        for prepared in batch {
            let outcome = match prepared.outcome {
                Ok(prepared) => {
                    write_event(appender, &mut known, &mut udis, &mut signers, &prepared)?
                }
                Err(rejection) => Err(rejection),
            };
            summary.lines += 1;
            match outcome {
                Ok(LineOutcome::Recorded(seq)) => {
                    summary.recorded += 1;
                    summary.first_seq.get_or_insert(seq);
                    summary.last_seq = Some(seq);
                }
                Ok(LineOutcome::Duplicate) => summary.duplicates += 1,
                Err(rejection) => {
                    summary.rejected += 1;
                    if let Some(file) = rejects.as_mut() {
                        let raw = prepared.raw.as_deref().unwrap_or_default();
                        file.write(prepared.line, &rejection, raw)?;
                    }
                    if summary.rejections.len() < REPORTED_REJECTIONS_MAX {
                        summary.rejections.push(LineRejection {
                            line: prepared.line,
                            rejection,
                        });
                    }
                }
            }
            bytes_read = prepared.bytes_read;
            lines_read = prepared.line;
            if let Some(every) = commit_every
                && summary.rejected == 0
                && summary.lines - summary.committed_lines >= every
            {
                let moved = appender.commit_and_continue()?;
                summary.committed_lines = summary.lines;
                summary.committed_recorded = summary.recorded;
                if summary.committed_first_seq.is_none() {
                    summary.committed_first_seq = summary.first_seq;
                }
                summary.committed_last_seq = summary.last_seq;
                if moved {
                    // Another writer appended between our chunks (another chunked ingest):
                    // the keys and roles it recorded count for our next lines.
                    signers.authority = load_authority(appender)?;
                    if let Ok(mut book) = signers.key_book.write() {
                        for (id, key) in signers.authority.public_keys() {
                            book.entry(id.to_owned()).or_insert(*key);
                        }
                    }
                }
            }
        }
        progress(Progress {
            bytes_read,
            lines: lines_read,
        });
    }
    Ok(())
}

/// Entities this ingest has seen defined or found in the ledger: a bounded memory that
/// spares the ledger most reference queries (a unit is named by every step it goes through).
#[derive(Default)]
struct KnownEntities {
    /// By kind, so that a lookup borrows the id instead of allocating a key.
    by_kind: std::collections::HashMap<EntityKind, HashSet<String>>,
    count: usize,
}

impl KnownEntities {
    fn remember(&mut self, kind: EntityKind, id: &str) {
        if self.count >= KNOWN_ENTITIES_MAX {
            self.by_kind.clear();
            self.count = 0;
        }
        if self.by_kind.entry(kind).or_default().insert(id.to_owned()) {
            self.count += 1;
        }
    }

    fn contains(&self, kind: EntityKind, id: &str) -> bool {
        self.by_kind.get(&kind).is_some_and(|ids| ids.contains(id))
    }

    fn exists(
        &mut self,
        appender: &Appender<'_>,
        kind: EntityKind,
        id: &str,
    ) -> Result<bool, StoreError> {
        if self.contains(kind, id) {
            return Ok(true);
        }
        let found = appender.entity_defined(kind, id)?;
        if found {
            self.remember(kind, id);
        }
        Ok(found)
    }
}

/// Checks one valid event against the ledger and appends it. `Err` only for database
/// errors; a refused event is `Ok(Err(rejection))`.
///
/// The id is looked up only when something fails: a new id (the common case) costs no
/// query, because the `UNIQUE` index on ids refuses a taken one at insert.
fn write_event(
    appender: &mut Appender<'_>,
    known: &mut KnownEntities,
    udis: &mut UdiMemory,
    signers: &mut Signers<'_>,
    prepared: &Prepared,
) -> Result<Result<LineOutcome, Rejection>, StoreError> {
    let Prepared {
        event,
        refs,
        facts,
        label,
        signatures,
        change,
    } = prepared;
    let mut refused = check_refs(appender, known, refs)?;
    if refused.is_none()
        && let Some(label) = label
    {
        refused = udis.check(appender, label)?;
    }
    if refused.is_none()
        && let Some(signatures) = signatures
    {
        refused = signers
            .authority
            .check(
                appender.next_seq(),
                &signatures.signed,
                signatures.requirement.as_ref(),
                &event.event_type,
                Crypto::UnlessPrechecked(&signatures.prechecked),
            )
            .err()
            .map(|fault| signature_rejection(&fault));
    }
    if let Some(rejection) = refused {
        // A repeat of a recorded event fails the checks too (it defines what it defined):
        // the id tells a duplicate from a real refusal.
        return Ok(match same_id(appender, event)? {
            Some(outcome) => outcome,
            None => Err(rejection),
        });
    }
    match appender.append(event, refs, facts) {
        Ok(head) => {
            for entity_ref in refs.iter().filter(|r| r.role.defines()) {
                known.remember(entity_ref.kind, &entity_ref.id);
            }
            if let Some(label) = label {
                udis.recorded(label);
            }
            if let Some((at_millis, change)) = change {
                if let AuthorityChange::KeyRegistered {
                    key, public_key, ..
                } = change
                    && let Ok(mut book) = signers.key_book.write()
                {
                    book.entry(key.clone()).or_insert(**public_key);
                }
                signers.authority.apply(
                    Stamp {
                        seq: head.seq,
                        at_millis: *at_millis,
                    },
                    change,
                );
            }
            Ok(Ok(LineOutcome::Recorded(head.seq)))
        }
        Err(StoreError::IdTaken(_)) => Ok(same_id(appender, event)?.unwrap_or_else(|| {
            Err(Rejection::new(
                RejectCode::IdConflict,
                Some("/id".to_owned()),
                "id is already recorded",
            ))
        })),
        Err(e) => Err(e),
    }
}

/// Whether `event`'s id is recorded already: as a duplicate (same canonical content) or as a
/// conflict (other content).
fn same_id(
    appender: &Appender<'_>,
    event: &ValidEvent,
) -> Result<Option<Result<LineOutcome, Rejection>>, StoreError> {
    Ok(appender.find_event(&event.id)?.map(|stored| {
        if stored.event == event.canonical {
            Ok(LineOutcome::Duplicate)
        } else {
            Err(Rejection::new(
                RejectCode::IdConflict,
                Some("/id".to_owned()),
                format!(
                    "id {:?} is already recorded (seq {}) with other content",
                    event.id, stored.seq
                ),
            ))
        }
    }))
}

/// The first reference rule `refs` break (docs/references.md), if any.
fn check_refs(
    appender: &Appender<'_>,
    known: &mut KnownEntities,
    refs: &[EntityRef],
) -> Result<Option<Rejection>, StoreError> {
    let defined_here: HashSet<(EntityKind, &str)> = refs
        .iter()
        .filter(|r| r.role.defines())
        .map(|r| (r.kind, r.id.as_str()))
        .collect();
    let mut seen_definitions = HashSet::new();
    for entity_ref in refs {
        let key = (entity_ref.kind, entity_ref.id.as_str());
        match entity_ref.role {
            RefRole::Defines => {
                if !seen_definitions.insert(key) || known.exists(appender, key.0, key.1)? {
                    return Ok(Some(Rejection::new(
                        RejectCode::AlreadyDefined,
                        Some(entity_ref.field.clone()),
                        format!("{} {:?} is already defined", entity_ref.kind, entity_ref.id),
                    )));
                }
            }
            RefRole::References => {
                if !defined_here.contains(&key) && !known.exists(appender, key.0, key.1)? {
                    return Ok(Some(Rejection::new(
                        RejectCode::UnknownReference,
                        Some(entity_ref.field.clone()),
                        format!(
                            "{} {:?} is not known to the ledger (it must be defined by an earlier event)",
                            entity_ref.kind, entity_ref.id
                        ),
                    )));
                }
            }
            RefRole::DefinesOrExtends | RefRole::Mentions => {}
        }
    }
    Ok(None)
}

/// Reads one line (up to and without `\n`) into `buffer`, keeping at most
/// [`LINE_BYTES_MAX`] + 2 bytes of it (the limit, one byte more, and a `\r`). Returns the
/// line's full length in bytes (with its `\n`) and the length of its content (without `\n`
/// or `\r\n`: what the limit applies to), or `None` at the end of input.
fn read_line(
    reader: &mut (impl BufRead + ?Sized),
    buffer: &mut Vec<u8>,
) -> std::io::Result<Option<(usize, usize)>> {
    buffer.clear();
    let mut total = 0usize;
    let mut last = None;
    loop {
        let available = match reader.fill_buf() {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let content = |total: usize, last: Option<u8>, newline: bool| {
            total - usize::from(newline) - usize::from(last == Some(b'\r'))
        };
        if available.is_empty() {
            return Ok((total > 0).then(|| (total, content(total, last, false))));
        }
        let (chunk, found_end) = match memchr(b'\n', available) {
            Some(end) => (&available[..end], true),
            None => (available, false),
        };
        if let Some(&byte) = chunk.last() {
            last = Some(byte);
        }
        let room = (LINE_BYTES_MAX + 2).saturating_sub(buffer.len());
        buffer.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = chunk.len() + usize::from(found_end);
        total += used;
        reader.consume(used);
        if found_end {
            return Ok(Some((total, content(total, last, true))));
        }
    }
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// Decodes a raw line: strips a BOM on the first line and a trailing `\r`; `Ok(None)` for a
/// blank line.
fn decode_line(
    raw: &[u8],
    first_line: bool,
    content_len: usize,
) -> Result<Option<&str>, Rejection> {
    if content_len > LINE_BYTES_MAX {
        return Err(Rejection::new(
            RejectCode::LineTooLong,
            None,
            format!(
                "line is {content_len} bytes long without its line ending; the limit is {LINE_BYTES_MAX}"
            ),
        ));
    }
    let mut bytes = raw;
    if first_line {
        bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    }
    bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        Rejection::new(
            RejectCode::InvalidUtf8,
            None,
            format!("invalid UTF-8 at byte {} of the line", e.valid_up_to() + 1),
        )
    })?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    Ok(Some(text))
}

/// The rejects file, written beside its final name and renamed into place when complete, so
/// that a reader never sees half of it.
struct RejectsFile {
    path: PathBuf,
    partial: PathBuf,
    out: std::io::BufWriter<std::fs::File>,
}

impl RejectsFile {
    fn create(path: &Path) -> Result<RejectsFile, IngestError> {
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let file = std::fs::File::create(&partial).map_err(|source| IngestError::RejectsFile {
            path: path.to_owned(),
            source,
        })?;
        Ok(RejectsFile {
            path: path.to_owned(),
            partial,
            out: std::io::BufWriter::new(file),
        })
    }

    fn write(&mut self, line: u64, rejection: &Rejection, raw: &[u8]) -> Result<(), IngestError> {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let entry = serde_json::json!({
            "line": line,
            "code": rejection.code.as_str(),
            "field": rejection.field,
            "error": rejection.message,
            "input": String::from_utf8_lossy(raw),
        });
        writeln!(self.out, "{entry}").map_err(|source| IngestError::RejectsFile {
            path: self.path.clone(),
            source,
        })
    }

    fn finish(mut self) -> Result<(), IngestError> {
        let path = self.path.clone();
        let failed = |source| IngestError::RejectsFile { path, source };
        self.out.flush().map_err(failed.clone())?;
        self.out.get_ref().sync_all().map_err(failed.clone())?;
        // After the rename, Drop's removal of the partial name finds nothing to remove.
        std::fs::rename(&self.partial, &self.path).map_err(failed)
    }
}

impl Drop for RejectsFile {
    fn drop(&mut self) {
        // Only reached when the ingest failed before `finish`: leave no partial file behind.
        let _ = std::fs::remove_file(&self.partial);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_read_without_their_end_and_long_lines_are_capped() {
        let long = "x".repeat(LINE_BYTES_MAX + 10);
        let input = format!("a\r\n\n{long}\nlast");
        let mut reader = std::io::BufReader::with_capacity(64, input.as_bytes());
        let mut buffer = Vec::new();
        let mut lines = Vec::new();
        while let Some((len, content)) = read_line(&mut reader, &mut buffer).unwrap() {
            lines.push((buffer.len(), len, content));
        }
        assert_eq!(
            lines,
            vec![
                (2, 3, 1),
                (0, 1, 0),
                (LINE_BYTES_MAX + 2, LINE_BYTES_MAX + 11, LINE_BYTES_MAX + 10),
                (4, 4, 4)
            ]
        );
    }

    #[test]
    fn the_line_limit_applies_to_the_content_with_lf_or_crlf() {
        let exact = "x".repeat(LINE_BYTES_MAX);
        for ending in ["\n", "\r\n", ""] {
            let input = format!("{exact}{ending}");
            let mut reader = std::io::BufReader::with_capacity(64, input.as_bytes());
            let mut buffer = Vec::new();
            let (_, content) = read_line(&mut reader, &mut buffer).unwrap().unwrap();
            assert_eq!(content, LINE_BYTES_MAX, "{ending:?}");
            assert!(decode_line(&buffer, false, content).is_ok(), "{ending:?}");
            let over = format!("{exact}x{ending}");
            let mut reader = std::io::BufReader::with_capacity(64, over.as_bytes());
            let (_, content) = read_line(&mut reader, &mut buffer).unwrap().unwrap();
            let refused = decode_line(&buffer, false, content).unwrap_err();
            assert_eq!(refused.code, RejectCode::LineTooLong, "{ending:?}");
            assert!(
                refused
                    .message
                    .contains(&format!("{} bytes long", LINE_BYTES_MAX + 1)),
                "{}",
                refused.message
            );
        }
    }

    #[test]
    fn decoding_tolerates_bom_crlf_and_blank_lines() {
        assert_eq!(decode_line(b"\xEF\xBB\xBF{}\r", true, 6), Ok(Some("{}")));
        assert_eq!(decode_line(b"  \t", false, 3), Ok(None));
        let bad = decode_line(b"{\"a\":\"\xFF\"}", false, 9).unwrap_err();
        assert_eq!(bad.code, RejectCode::InvalidUtf8);
        assert!(bad.message.contains("byte 7"), "{}", bad.message);
    }
}
