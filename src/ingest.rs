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
    EntityKind, RefRole, RejectCode, Rejection, SchemaSet, ValidEvent, entity_refs,
};
use crate::store::{Appender, Store, StoreError};
use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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
    pub reader: Box<dyn BufRead + 'a>,
    /// Total bytes, when known (a file), for progress.
    pub len_bytes: Option<u64>,
}

#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// Commit the good lines and write the bad ones here, instead of all or nothing.
    pub rejects: Option<PathBuf>,
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

/// Reads `input` into the ledger.
///
/// # Errors
/// I/O on the input or the rejects file, or a database error; in each case nothing of this
/// input is committed. Bad lines are not errors: they are in the summary.
pub fn ingest(
    store: &mut Store,
    schemas: &SchemaSet,
    mut input: Input<'_>,
    options: &IngestOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<IngestSummary, IngestError> {
    let started = Instant::now();
    let mut summary = IngestSummary::default();
    let mut rejects = match &options.rejects {
        Some(path) => Some(RejectsFile::create(path)?),
        None => None,
    };
    let mut appender = store.begin_append()?;
    let mut buffer = Vec::with_capacity(4096);
    let mut bytes_read = 0u64;
    let mut line_number = 0u64;
    loop {
        let read =
            read_line(&mut input.reader, &mut buffer).map_err(|source| IngestError::Read {
                name: input.name.clone(),
                source,
            })?;
        let Some(line_len) = read else { break };
        bytes_read += line_len as u64;
        line_number += 1;
        let decoded = decode_line(&buffer, line_number == 1, line_len);
        let outcome = match decoded {
            Ok(None) => continue,
            Ok(Some(text)) => process_line(&mut appender, schemas, text)?,
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
                    file.write(
                        line_number,
                        &rejection,
                        &buffer[..buffer.len().min(line_len)],
                    )?;
                }
                if summary.rejections.len() < REPORTED_REJECTIONS_MAX {
                    summary.rejections.push(LineRejection {
                        line: line_number,
                        rejection,
                    });
                }
            }
        }
        if line_number.is_multiple_of(4096) {
            progress(Progress {
                bytes_read,
                lines: line_number,
            });
        }
    }
    progress(Progress {
        bytes_read,
        lines: line_number,
    });
    let commit = summary.rejected == 0 || rejects.is_some();
    if commit {
        // The rejects file is complete before the records are committed, so a reported
        // success always has its rejects beside it.
        if let Some(file) = rejects.take() {
            file.finish()?;
        }
        appender.commit()?;
    } else {
        appender.rollback()?;
        summary.first_seq = None;
        summary.last_seq = None;
    }
    summary.committed = commit;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Validates one decoded line and appends it. `Err` only for database errors; a refused line
/// is `Ok(Err(rejection))`.
fn process_line(
    appender: &mut Appender<'_>,
    schemas: &SchemaSet,
    text: &str,
) -> Result<Result<LineOutcome, Rejection>, StoreError> {
    let event = match ValidEvent::parse(text, schemas) {
        Ok(event) => event,
        Err(rejection) => return Ok(Err(rejection)),
    };
    if let Some(stored) = appender.find_event(&event.id)? {
        if stored.event == event.canonical {
            return Ok(Ok(LineOutcome::Duplicate));
        }
        return Ok(Err(Rejection::new(
            RejectCode::IdConflict,
            Some("/id".to_owned()),
            format!(
                "id {:?} is already recorded (seq {}) with other content",
                event.id, stored.seq
            ),
        )));
    }
    let refs = entity_refs(&event.value);
    let defined_here: HashSet<(EntityKind, &str)> = refs
        .iter()
        .filter(|r| r.role.defines())
        .map(|r| (r.kind, r.id.as_str()))
        .collect();
    let mut seen_definitions = HashSet::new();
    for entity_ref in &refs {
        let key = (entity_ref.kind, entity_ref.id.as_str());
        match entity_ref.role {
            RefRole::Defines => {
                if !seen_definitions.insert(key) || appender.entity_defined(key.0, key.1)? {
                    return Ok(Err(Rejection::new(
                        RejectCode::AlreadyDefined,
                        Some(entity_ref.field.clone()),
                        format!("{} {:?} is already defined", entity_ref.kind, entity_ref.id),
                    )));
                }
            }
            RefRole::References => {
                if !defined_here.contains(&key) && !appender.entity_defined(key.0, key.1)? {
                    return Ok(Err(Rejection::new(
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
    let record = appender.append(&event, &refs)?;
    Ok(Ok(LineOutcome::Recorded(record.seq)))
}

/// Reads one line (up to and without `\n`) into `buffer`, keeping at most
/// [`LINE_BYTES_MAX`] + 1 bytes of it. Returns the line's full length in bytes (with its
/// `\n`), or `None` at the end of input.
fn read_line(reader: &mut dyn BufRead, buffer: &mut Vec<u8>) -> std::io::Result<Option<usize>> {
    buffer.clear();
    let mut total = 0usize;
    loop {
        let available = match reader.fill_buf() {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok((total > 0).then_some(total));
        }
        let (chunk, found_end) = match memchr(b'\n', available) {
            Some(end) => (&available[..end], true),
            None => (available, false),
        };
        let room = (LINE_BYTES_MAX + 1).saturating_sub(buffer.len());
        buffer.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = chunk.len() + usize::from(found_end);
        total += used;
        reader.consume(used);
        if found_end {
            return Ok(Some(total));
        }
    }
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// Decodes a raw line: strips a BOM on the first line and a trailing `\r`; `Ok(None)` for a
/// blank line.
fn decode_line(raw: &[u8], first_line: bool, line_len: usize) -> Result<Option<&str>, Rejection> {
    if raw.len() > LINE_BYTES_MAX {
        return Err(Rejection::new(
            RejectCode::LineTooLong,
            None,
            format!("line is {line_len} bytes long; the limit is {LINE_BYTES_MAX}"),
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
        while let Some(len) = read_line(&mut reader, &mut buffer).unwrap() {
            lines.push((buffer.len(), len));
        }
        assert_eq!(
            lines,
            vec![
                (2, 3),
                (0, 1),
                (LINE_BYTES_MAX + 1, LINE_BYTES_MAX + 11),
                (4, 4)
            ]
        );
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
