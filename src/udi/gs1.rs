//! GS1 UDIs: element strings in parentheses form, the raw AIDC form (FNC1 as GS, optional
//! symbology identifier), and GS1 Digital Link URIs (GS1 General Specifications §3, §7.8;
//! GS1 Digital Link standard §4).
//!
//! Every element is checked against the AI table (lengths, character set) and the GS1 linters
//! that matter for devices: `csum` (mod-10 check digit), `yymmd0` / `yymmdd` (dates, DD=00
//! meaning the last day of the month) and `csumalpha` (the GMN check pair).

use super::ai_table::{self, AiDefinition, Charset};
use super::{Udi, UdiError, days_in_month};

/// The FNC1 separator as transmitted by a scanner: ASCII GS.
pub const GROUP_SEPARATOR: char = '\u{1d}';
/// Symbology identifiers that announce GS1 data: GS1 DataMatrix, GS1-128, GS1 QR, GS1
/// DataBar.
const SYMBOLOGY_IDENTIFIERS: &[&str] = &["]d2", "]C1", "]Q3", "]e0"];

/// GS1 AI encodable character set 82 (General Specifications Figure 7.11-1), in table order.
const CSET_82: &str =
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
/// GS1 AI encodable character set 39.
const CSET_39: &str = "#-/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const CSET_Z: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=";

/// An ASCII character set as a lookup table: a UDI is checked character by character, and
/// searching the set's text for each one cost more than the rest of parsing.
const fn ascii_table(set: &str) -> [bool; 128] {
    let bytes = set.as_bytes();
    let mut table = [false; 128];
    let mut i = 0;
    while i < bytes.len() {
        table[bytes[i] as usize] = true;
        i += 1;
    }
    table
}

static DIGITS: [bool; 128] = ascii_table("0123456789");
static TABLE_82: [bool; 128] = ascii_table(CSET_82);
static TABLE_39: [bool; 128] = ascii_table(CSET_39);
static TABLE_Z: [bool; 128] = ascii_table(CSET_Z);

fn in_set(table: &[bool; 128], c: char) -> bool {
    (c as u32) < 128 && table[c as usize]
}

/// The 32 characters of a GMN check pair.
const CSET_32: &str = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/// One AI and its data, with the character position of the data in the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub ai: String,
    pub value: String,
    pub position: usize,
}

/// Parses a GS1 UDI in any of its three forms.
///
/// # Errors
/// A [`UdiError`] naming the character position and the rule broken.
pub fn parse(input: &str) -> Result<Udi, UdiError> {
    let elements = if input.starts_with('(') {
        parse_parentheses(input)?
    } else if input.starts_with("http://") || input.starts_with("https://") {
        parse_digital_link(input)?
    } else {
        parse_raw(input)?
    };
    for element in &elements {
        validate(element)?;
    }
    for (index, element) in elements.iter().enumerate() {
        if elements[index + 1..]
            .iter()
            .any(|other| other.ai == element.ai)
        {
            return Err(UdiError::new(
                element.position,
                format!("AI ({}) appears more than once", element.ai),
            ));
        }
    }
    let mut udi = Udi::new(super::Agency::Gs1);
    udi.elements.reserve(elements.len());
    for element in elements {
        match element.ai.as_str() {
            "01" => udi.device_identifier = element.value.clone(),
            "10" => udi.lot = Some(element.value.clone()),
            "21" => udi.serial = Some(element.value.clone()),
            "17" => udi.expiry = Some(yymmdd_to_date(&element.value)),
            "11" => udi.manufactured = Some(yymmdd_to_date(&element.value)),
            _ => {}
        }
        udi.elements.push((element.ai, element.value));
    }
    if udi.device_identifier.is_empty() {
        return Err(UdiError::new(
            0,
            "a GS1 UDI needs a device identifier: AI (01) GTIN is missing",
        ));
    }
    Ok(udi)
}

/// `(01)09506000134352(17)201225(10)ABC123`: AIs in parentheses, each followed by its data.
fn parse_parentheses(input: &str) -> Result<Vec<Element>, UdiError> {
    let chars: Vec<char> = input.chars().collect();
    let mut elements = Vec::new();
    let mut at = 0;
    while at < chars.len() {
        if chars[at] != '(' {
            return Err(UdiError::new(at, "expected '(' opening an AI"));
        }
        let close = (at + 1..chars.len().min(at + 6))
            .find(|&i| chars[i] == ')')
            .ok_or_else(|| UdiError::new(at, "an AI in parentheses has 2 to 4 digits"))?;
        let ai: String = chars[at + 1..close].iter().collect();
        if !(2..=4).contains(&ai.len()) || !ai.chars().all(|c| c.is_ascii_digit()) {
            return Err(UdiError::new(
                at + 1,
                format!("({ai}) is not an AI: 2 to 4 digits"),
            ));
        }
        // The data runs to the next "(" that opens an AI.
        let start = close + 1;
        let mut end = start;
        while end < chars.len() && !(chars[end] == '(' && opens_ai(&chars[end..])) {
            end += 1;
        }
        elements.push(Element {
            ai,
            value: chars[start..end].iter().collect(),
            position: start,
        });
        at = end;
    }
    Ok(elements)
}

fn opens_ai(chars: &[char]) -> bool {
    let digits = chars[1..].iter().take_while(|c| c.is_ascii_digit()).count();
    (2..=4).contains(&digits) && chars.get(1 + digits) == Some(&')')
}

/// The raw form a scanner transmits: AIs run together, variable-length data ended by GS.
fn parse_raw(input: &str) -> Result<Vec<Element>, UdiError> {
    let mut offset = 0;
    let mut text = input;
    for identifier in SYMBOLOGY_IDENTIFIERS {
        if let Some(rest) = text.strip_prefix(identifier) {
            text = rest;
            offset = identifier.chars().count();
            break;
        }
    }
    let chars: Vec<char> = text.chars().collect();
    let mut elements = Vec::new();
    let mut at = 0;
    // A leading FNC1 is part of the symbol, not of the data.
    if chars.first() == Some(&GROUP_SEPARATOR) {
        at = 1;
    }
    while at < chars.len() {
        let definition = (2..=4)
            .filter(|len| at + len <= chars.len())
            .find_map(|len| {
                let ai: String = chars[at..at + len].iter().collect();
                ai.chars()
                    .all(|c| c.is_ascii_digit())
                    .then(|| ai_table::lookup(&ai))
                    .flatten()
            })
            .ok_or_else(|| {
                UdiError::new(offset + at, "no GS1 Application Identifier starts here")
            })?;
        let start = at + definition.ai.len();
        let end = if definition.fixed_length {
            (start + definition.max_len()).min(chars.len())
        } else {
            chars[start..]
                .iter()
                .position(|&c| c == GROUP_SEPARATOR)
                .map_or(chars.len(), |p| start + p)
        };
        elements.push(Element {
            ai: definition.ai.clone(),
            value: chars[start..end].iter().collect(),
            position: offset + start,
        });
        at = end;
        if chars.get(at) == Some(&GROUP_SEPARATOR) {
            at += 1;
        }
    }
    if elements.is_empty() {
        return Err(UdiError::new(0, "empty UDI"));
    }
    Ok(elements)
}

/// `https://id.gs1.org/01/09506000134352/10/ABC/21/123?17=201225`, any domain and any path
/// prefix: the path ends with the primary key and its qualifiers, the query carries
/// attributes.
fn parse_digital_link(input: &str) -> Result<Vec<Element>, UdiError> {
    let after_scheme = input.find("://").map_or(0, |i| i + 3);
    let path_start = input[after_scheme..]
        .find('/')
        .map_or(input.len(), |i| after_scheme + i);
    let (path, query) = match input[path_start..].split_once('?') {
        Some((path, query)) => (path, Some((path_start + path.len() + 1, query))),
        None => (&input[path_start..], None),
    };
    let query = query.map(|(at, q)| (at, q.split('#').next().unwrap_or("")));
    let segments: Vec<(usize, &str)> = {
        let mut at = path_start;
        path.split('/')
            .map(|segment| {
                let here = at;
                at += segment.len() + 1;
                (here, segment)
            })
            .collect()
    };
    let key = segments
        .iter()
        .position(|(_, s)| *s == "01")
        .ok_or_else(|| {
            UdiError::new(
                path_start,
                "a GS1 Digital Link UDI needs /01/{GTIN} in its path",
            )
        })?;
    let mut elements = Vec::new();
    let mut pairs = segments[key..].chunks(2);
    for pair in &mut pairs {
        match pair {
            [(at, ai), (value_at, value)] => {
                if ai_table::lookup(ai).is_none() {
                    return Err(UdiError::new(
                        char_position(input, *at),
                        format!("/{ai}/ is not a GS1 AI"),
                    ));
                }
                elements.push(Element {
                    ai: (*ai).to_owned(),
                    value: percent_decode(value, char_position(input, *value_at))?,
                    position: char_position(input, *value_at),
                });
            }
            [(at, ai)] if !ai.is_empty() => {
                return Err(UdiError::new(
                    char_position(input, *at),
                    format!("/{ai}/ has no value"),
                ));
            }
            _ => {}
        }
    }
    if let Some((query_at, query)) = query {
        let mut at = query_at;
        for parameter in query.split('&') {
            let here = at;
            at += parameter.len() + 1;
            let Some((ai, value)) = parameter.split_once('=') else {
                continue;
            };
            // Non-numeric keys are other applications' parameters (GS1 Digital Link §4.5).
            if ai.is_empty() || !ai.chars().all(|c| c.is_ascii_digit()) {
                continue;
            }
            let value_at = char_position(input, here + ai.len() + 1);
            if ai_table::lookup(ai).is_none() {
                return Err(UdiError::new(
                    char_position(input, here),
                    format!("{ai}= is not a GS1 AI"),
                ));
            }
            elements.push(Element {
                ai: ai.to_owned(),
                value: percent_decode(value, value_at)?,
                position: value_at,
            });
        }
    }
    Ok(elements)
}

fn char_position(text: &str, byte_at: usize) -> usize {
    text.get(..byte_at)
        .map_or(byte_at, |prefix| prefix.chars().count())
}

fn percent_decode(text: &str, position: usize) -> Result<String, UdiError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    UdiError::new(position + i, "'%' must be followed by two hex digits")
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| UdiError::new(position, "percent-encoding is not UTF-8"))
}

/// Checks an element against its AI's definition: known AI, lengths, character set, linters.
fn validate(element: &Element) -> Result<(), UdiError> {
    let definition: &AiDefinition = ai_table::lookup(&element.ai).ok_or_else(|| {
        UdiError::new(
            element.position,
            format!("({}) is not a GS1 Application Identifier", element.ai),
        )
    })?;
    // Positions are in characters; slices are taken in bytes. For ASCII (every valid GS1
    // string) the two agree and no table is built.
    let value = element.value.as_str();
    let offsets: Option<Vec<usize>> = (!value.is_ascii()).then(|| {
        value
            .char_indices()
            .map(|(i, _)| i)
            .chain(std::iter::once(value.len()))
            .collect()
    });
    let len = offsets.as_ref().map_or(value.len(), |o| o.len() - 1);
    let byte = |index: usize| offsets.as_ref().map_or(index, |o| o[index]);
    let mut at = 0;
    for component in &definition.components {
        if at >= len && component.optional {
            break;
        }
        let take = (len - at).min(component.max);
        if take < component.min {
            return Err(UdiError::new(
                element.position + at,
                format!(
                    "({}) {}: needs {} characters here, has {take}",
                    element.ai,
                    definition.title,
                    if component.min == component.max {
                        component.min.to_string()
                    } else {
                        format!("{} to {}", component.min, component.max)
                    }
                ),
            ));
        }
        let part = &value[byte(at)..byte(at + take)];
        let allowed = match component.charset {
            Charset::N => &DIGITS,
            Charset::X => &TABLE_82,
            Charset::Y => &TABLE_39,
            Charset::Z => &TABLE_Z,
        };
        if let Some(bad) = part.chars().position(|c| !in_set(allowed, c)) {
            return Err(UdiError::new(
                element.position + at + bad,
                format!(
                    "({}) {}: character {:?} is not allowed (GS1 character set {:?})",
                    element.ai,
                    definition.title,
                    part.chars().nth(bad).unwrap_or('?'),
                    component.charset
                ),
            ));
        }
        for linter in &component.linters {
            lint(linter, part).map_err(|rule| {
                UdiError::new(
                    element.position + at,
                    format!("({}) {}: {rule}", element.ai, definition.title),
                )
            })?;
        }
        at += take;
    }
    if at < len {
        return Err(UdiError::new(
            element.position + at,
            format!(
                "({}) {}: at most {} characters",
                element.ai,
                definition.title,
                definition.max_len()
            ),
        ));
    }
    Ok(())
}

/// The GS1 linters that device UDIs use; the others (company prefix positions, country
/// codes, coupon formats, ...) are not checked here.
fn lint(name: &str, part: &str) -> Result<(), String> {
    match name {
        "csum" => {
            if gs1_check_digit(&part[..part.len() - 1]) == part.chars().last() {
                Ok(())
            } else {
                Err(format!("check digit of {part} is wrong (GS1 mod 10)"))
            }
        }
        "yymmd0" => check_date(part, true),
        "yymmdd" => check_date(part, false),
        "csumalpha" => check_pair(part),
        _ => Ok(()),
    }
}

/// The GS1 mod-10 check digit of `digits`: weights 3 and 1 from the rightmost.
pub fn gs1_check_digit(digits: &str) -> Option<char> {
    let mut sum = 0u32;
    for (i, c) in digits.chars().rev().enumerate() {
        let digit = c.to_digit(10)?;
        sum += digit * if i % 2 == 0 { 3 } else { 1 };
    }
    char::from_digit((10 - sum % 10) % 10, 10)
}

fn check_date(part: &str, day_zero_allowed: bool) -> Result<(), String> {
    let number =
        |range: std::ops::Range<usize>| part.get(range).and_then(|p| p.parse::<u32>().ok());
    let (Some(year), Some(month), Some(day)) = (number(0..2), number(2..4), number(4..6)) else {
        return Err(format!("{part} is not a date YYMMDD"));
    };
    if !(1..=12).contains(&month) {
        return Err(format!("{part}: month {month:02} does not exist"));
    }
    let last = days_in_month(full_year(year), month);
    if day > last || (day == 0 && !day_zero_allowed) {
        return Err(format!("{part}: day {day:02} does not exist in that month"));
    }
    Ok(())
}

/// GS1 General Specifications §7.12: a two-digit year is taken within -49..+50 years of now;
/// for device labels, 2000-2099 is that window for the years that matter (until 2049).
fn full_year(yy: u32) -> i64 {
    2000 + i64::from(yy)
}

/// YYMMDD to ISO `YYYY-MM-DD`; DD=00 means the last day of the month.
fn yymmdd_to_date(value: &str) -> String {
    let number = |range: std::ops::Range<usize>| {
        value
            .get(range)
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(0)
    };
    let (year, month) = (full_year(number(0..2)), number(2..4));
    let day = match number(4..6) {
        0 => days_in_month(year, month),
        day => day,
    };
    // Written digit by digit: this runs for every UDI read at ingest.
    let mut date = String::with_capacity(10);
    for (number, width) in [(year as u32, 4), (month, 2), (day, 2)] {
        if width == 2 {
            date.push('-');
        }
        for place in (0..width).rev() {
            let digit = (number / 10u32.pow(place)) % 10;
            date.push(char::from(b'0' + digit as u8));
        }
    }
    date
}

/// The GMN check character pair (AI 8013): characters weighted by primes from the right, the
/// sum mod 1021 split into two 5-bit indexes into [`CSET_32`].
fn check_pair(part: &str) -> Result<(), String> {
    let chars: Vec<char> = part.chars().collect();
    if chars.len() < 3 {
        return Err("too short for a check character pair".to_owned());
    }
    let (body, pair) = chars.split_at(chars.len() - 2);
    let mut primes = Vec::with_capacity(body.len());
    let mut candidate = 2u32;
    while primes.len() < body.len() {
        if primes.iter().all(|p| !candidate.is_multiple_of(*p)) {
            primes.push(candidate);
        }
        candidate += 1;
    }
    let mut sum = 0u32;
    for (c, weight) in body.iter().rev().zip(&primes) {
        let value = CSET_82
            .find(*c)
            .ok_or_else(|| format!("{c:?} is not in character set 82"))?;
        sum += u32::try_from(value).unwrap_or(0) * weight;
    }
    let sum = sum % 1021;
    let expected: Vec<char> = [sum >> 5, sum & 31]
        .iter()
        .filter_map(|i| CSET_32.chars().nth(*i as usize))
        .collect();
    if expected == pair {
        Ok(())
    } else {
        Err(format!(
            "check character pair is {}{}, expected {}",
            pair[0],
            pair[1],
            expected.iter().collect::<String>()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linter_vectors_of_the_syntax_dictionary() {
        assert_eq!(lint("csum", "12345678901231"), Ok(()));
        assert!(lint("csum", "12345678901232").is_err());
        assert_eq!(lint("csum", "02345673"), Ok(()));
        assert_eq!(lint("yymmd0", "200229"), Ok(()));
        assert!(lint("yymmd0", "200230").is_err());
        assert!(lint("yymmd0", "201310").is_err());
        assert_eq!(lint("yymmd0", "210200"), Ok(()));
        assert!(lint("yymmdd", "210200").is_err());
        assert_eq!(lint("csumalpha", "1987654Ad4X4bL5ttr2310c2K"), Ok(()));
        assert!(lint("csumalpha", "1987654Ad4X4bL5ttr2310cXK").is_err());
    }

    #[test]
    fn day_zero_is_the_last_day_of_the_month() {
        assert_eq!(yymmdd_to_date("240200"), "2024-02-29");
        assert_eq!(yymmdd_to_date("250200"), "2025-02-28");
        assert_eq!(yymmdd_to_date("261231"), "2026-12-31");
    }
}
