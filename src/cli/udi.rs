//! `udi parse`: one UDI for a person (or as JSON), or a batch of them, one a line from
//! standard input, as NDJSON or CSV for a label audit.
//!
//! A batch writes one result per input line, in order, with its line number: the parsed UDI,
//! or the error (position and rule). It exits 0 when every line parsed and 2 when any did not
//! (after writing every line's result), so a script can tell without reading the output.

use super::{CliError, stdout_error};
use serde::Serialize;
use std::io::{BufRead, BufWriter, Write};
use traceledger::udi::{Agency, Udi, UdiError};

/// The CSV header of a batch (RFC 4180).
pub const CSV_HEADER: &str = "line,input,ok,agency,device_identifier,lot,serial,expiry,manufactured,donation_identification_number,error_position,error";

/// `udi parse INPUT`: the fields for a person, or JSON; a bad UDI shows where it breaks.
pub fn print_one(input: &str, json: bool) -> Result<(), CliError> {
    let udi = traceledger::udi::parse(input).map_err(|e| {
        // Show the input with a caret under the position (GS shown as a visible symbol).
        let shown: String = input
            .chars()
            .map(|c| if c.is_control() { '\u{241d}' } else { c })
            .collect();
        CliError::Usage(format!(
            "invalid UDI: {e}\n  {shown}\n  {}^",
            " ".repeat(e.position)
        ))
    })?;
    let mut text = String::new();
    if json {
        text = serde_json::to_string(&udi).map_err(|e| CliError::Usage(e.to_string()))?;
        text.push('\n');
    } else {
        let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
        let mut line = |label: &str, value: &str| {
            text.push_str(&format!("{label:<17}{value}\n"));
        };
        line("agency:", &udi.agency.to_string());
        line("device id (DI):", &udi.device_identifier);
        line("lot:", &or_dash(&udi.lot));
        line("serial:", &or_dash(&udi.serial));
        line("expiry:", &or_dash(&udi.expiry));
        line("manufactured:", &or_dash(&udi.manufactured));
        if let Some(din) = &udi.donation_identification_number {
            line("donation (DIN):", din);
        }
        // ISBT 128 data identifiers are shown as printed on the label, before their data.
        let elements: Vec<String> = udi
            .elements
            .iter()
            .map(|(identifier, value)| match udi.agency {
                Agency::Iccbba => format!("{identifier}{value}"),
                _ => format!("({identifier}) {value}"),
            })
            .collect();
        line("elements:", &elements.join("  "));
    }
    // A reader that closes the pipe early (`| head -1`) ends us quietly (exit 0).
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).map_err(stdout_error)?;
    out.flush().map_err(stdout_error)
}

/// One line's result in a batch's NDJSON.
#[derive(Serialize)]
struct BatchResult<'a> {
    line: u64,
    input: &'a str,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    udi: Option<&'a Udi>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a UdiError>,
}

/// What a batch read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchCounts {
    pub lines: u64,
    pub failed: u64,
}

/// Parses each line of `reader` as a UDI and writes one result per line to `out`: NDJSON, or
/// CSV with a header. The line ending (LF or CR LF) is not part of the UDI; anything else on
/// the line is, so an empty line is a result too (an empty UDI).
///
/// # Errors
/// Only reading or writing fails; a line that is not a UDI is a result, counted in `failed`.
pub fn parse_batch(
    reader: &mut dyn BufRead,
    input_name: &str,
    out: &mut dyn Write,
    csv: bool,
) -> Result<BatchCounts, CliError> {
    if csv {
        writeln!(out, "{CSV_HEADER}").map_err(stdout_error)?;
    }
    let mut counts = BatchCounts {
        lines: 0,
        failed: 0,
    };
    let mut buffer = Vec::with_capacity(256);
    let mut row = String::with_capacity(256);
    loop {
        buffer.clear();
        let read = reader
            .read_until(b'\n', &mut buffer)
            .map_err(|source| CliError::Io {
                what: format!("read {input_name}"),
                source,
            })?;
        if read == 0 {
            break;
        }
        counts.lines += 1;
        let mut bytes = buffer.as_slice();
        if let Some(rest) = bytes.strip_suffix(b"\n") {
            bytes = rest.strip_suffix(b"\r").unwrap_or(rest);
        }
        let lossy;
        let (text, result) = match std::str::from_utf8(bytes) {
            Ok(text) => (text, traceledger::udi::parse(text)),
            Err(e) => {
                lossy = String::from_utf8_lossy(bytes);
                let valid = bytes.get(..e.valid_up_to()).unwrap_or_default();
                let position = String::from_utf8_lossy(valid).chars().count();
                (
                    lossy.as_ref(),
                    Err(UdiError {
                        position,
                        rule: "not UTF-8 text".to_owned(),
                    }),
                )
            }
        };
        if result.is_err() {
            counts.failed += 1;
        }
        if csv {
            row.clear();
            csv_row(&mut row, counts.lines, text, &result);
            out.write_all(row.as_bytes()).map_err(stdout_error)?;
        } else {
            let (udi, error) = match &result {
                Ok(udi) => (Some(udi), None),
                Err(e) => (None, Some(e)),
            };
            let line = BatchResult {
                line: counts.lines,
                input: text,
                ok: udi.is_some(),
                udi,
                error,
            };
            serde_json::to_writer(&mut *out, &line)
                .map_err(|e| stdout_error(std::io::Error::from(e)))?;
            out.write_all(b"\n").map_err(stdout_error)?;
        }
    }
    Ok(counts)
}

/// `udi parse -`: the batch from standard input to standard output, buffered both ways.
pub fn parse_stdin(csv: bool) -> Result<(), CliError> {
    let stdin = std::io::stdin();
    let mut reader = std::io::BufReader::with_capacity(1 << 16, stdin.lock());
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let counts = parse_batch(&mut reader, "standard input", &mut out, csv)?;
    out.flush().map_err(stdout_error)?;
    if counts.lines == 0 {
        return Err(CliError::Usage(
            "standard input was empty: no UDI to parse (udi parse - reads one UDI a line)"
                .to_owned(),
        ));
    }
    if counts.failed > 0 {
        return Err(CliError::Rejected(format!(
            "{} of {} lines are not valid UDIs (each has its error in the output)",
            counts.failed, counts.lines
        )));
    }
    Ok(())
}

/// Appends one CSV record (RFC 4180, CRLF-free: LF ends it).
fn csv_row(row: &mut String, line: u64, input: &str, result: &Result<Udi, UdiError>) {
    let mut fields: Vec<String> = vec![line.to_string(), input.to_owned()];
    match result {
        Ok(udi) => {
            let text = |v: &Option<String>| v.clone().unwrap_or_default();
            fields.extend([
                "true".to_owned(),
                udi.agency.to_string(),
                udi.device_identifier.clone(),
                text(&udi.lot),
                text(&udi.serial),
                text(&udi.expiry),
                text(&udi.manufactured),
                text(&udi.donation_identification_number),
                String::new(),
                String::new(),
            ]);
        }
        Err(e) => {
            fields.push("false".to_owned());
            fields.extend(std::iter::repeat_n(String::new(), 7));
            fields.push(e.position.to_string());
            fields.push(e.rule.clone());
        }
    }
    for (index, field) in fields.iter().enumerate() {
        if index > 0 {
            row.push(',');
        }
        if field.contains([',', '"', '\n', '\r']) {
            row.push('"');
            row.push_str(&field.replace('"', "\"\""));
            row.push('"');
        } else {
            row.push_str(field);
        }
    }
    row.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(input: &[u8], csv: bool) -> (BatchCounts, String) {
        let mut out = Vec::new();
        let counts = parse_batch(&mut &input[..], "test", &mut out, csv).unwrap();
        (counts, String::from_utf8(out).unwrap())
    }

    #[test]
    fn each_line_gives_one_result_with_its_number_errors_included() {
        let (counts, out) = batch(
            b"(01)09506000134352(10)A\r\n(01)09506000134353\n\n+A99912345/$$52001510X3/16D20111212/S77DE1G45-",
            false,
        );
        assert_eq!(
            counts,
            BatchCounts {
                lines: 4,
                failed: 2
            }
        );
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 4);
        for (index, line) in lines.iter().enumerate() {
            assert_eq!(line["line"], index as u64 + 1);
        }
        assert_eq!(lines[0]["input"], "(01)09506000134352(10)A");
        assert_eq!(lines[0]["udi"]["lot"], "A");
        assert_eq!(lines[1]["ok"], false);
        assert_eq!(lines[1]["error"]["position"], 4);
        assert_eq!(lines[2]["error"]["rule"], "empty UDI");
        assert_eq!(lines[3]["udi"]["agency"], "HIBCC");
    }

    #[test]
    fn csv_quotes_what_needs_it_and_reports_bad_utf8() {
        let (counts, out) = batch(b"(01)09506000134352(10)A,\"B\nAB\xff\n", true);
        assert_eq!(counts.failed, 1);
        let mut rows = out.lines();
        assert_eq!(rows.next(), Some(CSV_HEADER));
        // ',' and '"' are in GS1's character set 82: a lot may hold them, and CSV quotes them.
        assert_eq!(
            rows.next(),
            Some("1,\"(01)09506000134352(10)A,\"\"B\",true,GS1,09506000134352,\"A,\"\"B\",,,,,,")
        );
        assert_eq!(
            rows.next(),
            Some("2,AB\u{fffd},false,,,,,,,,2,not UTF-8 text")
        );
    }
}
