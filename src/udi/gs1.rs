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

/// Parses a GS1 UDI in any of its three forms, two-digit years read in the window around
/// this year (see [`full_year`]).
///
/// # Errors
/// A [`UdiError`] naming the character position and the rule broken.
pub fn parse(input: &str) -> Result<Udi, UdiError> {
    parse_in_year(input, this_year())
}

/// [`parse`] as if today were in `this_year`: for reading old labels as they were read then,
/// and for tests of the century window.
///
/// # Errors
/// A [`UdiError`] naming the character position and the rule broken.
pub fn parse_in_year(input: &str, this_year: i64) -> Result<Udi, UdiError> {
    let elements = if input.starts_with('(') {
        parse_parentheses(input)?
    } else if input.starts_with("http://") || input.starts_with("https://") {
        parse_digital_link(input, this_year)?
    } else {
        parse_raw(input)?
    };
    for element in &elements {
        validate(element, this_year)?;
    }
    // An AI may come twice with the same data (one label, two symbols); with other data the
    // label contradicts itself (General Specifications §4.14: one value per AI).
    for (index, element) in elements.iter().enumerate() {
        if let Some(earlier) = elements[..index]
            .iter()
            .find(|other| other.ai == element.ai && other.value != element.value)
        {
            return Err(UdiError::new(
                element.position,
                format!(
                    "AI ({}) appears more than once, with different data ({:?}, then {:?})",
                    element.ai, earlier.value, element.value
                ),
            ));
        }
    }
    let mut udi = Udi::new(super::Agency::Gs1);
    udi.elements.reserve(elements.len());
    for element in &elements {
        match element.ai.as_str() {
            "01" => udi.device_identifier = element.value.clone(),
            "10" => udi.lot = Some(element.value.clone()),
            "21" => udi.serial = Some(element.value.clone()),
            "17" => udi.expiry = Some(yymmdd_to_date(&element.value, this_year)),
            "11" => udi.manufactured = Some(yymmdd_to_date(&element.value, this_year)),
            _ => {}
        }
    }
    if udi.device_identifier.is_empty() {
        return Err(UdiError::new(
            0,
            "a GS1 UDI needs a device identifier: AI (01) GTIN is missing",
        ));
    }
    check_associations(&elements)?;
    udi.elements = elements.into_iter().map(|e| (e.ai, e.value)).collect();
    Ok(udi)
}

/// The dictionary's pairing rules over the whole UDI: `ex=` (AIs that may not appear
/// together) and `req=` (AIs that need another), GS1 General Specifications §4.14.1 and
/// §4.14.2 as the Barcode Syntax Dictionary encodes them.
fn check_associations(elements: &[Element]) -> Result<(), UdiError> {
    let present = |pattern: &str| {
        elements
            .iter()
            .any(|e| ai_table::matches_pattern(&e.ai, pattern))
    };
    for (index, element) in elements.iter().enumerate() {
        if elements[..index].iter().any(|e| e.ai == element.ai) {
            continue;
        }
        let Some(definition) = ai_table::lookup(&element.ai) else {
            continue;
        };
        // An AI is not exclusive of itself, even where it matches a pattern.
        if let Some(other) = definition.excludes.iter().find_map(|pattern| {
            elements
                .iter()
                .find(|e| e.ai != element.ai && ai_table::matches_pattern(&e.ai, pattern))
        }) {
            let (first, second) = if other.position < element.position {
                (other, element)
            } else {
                (element, other)
            };
            return Err(UdiError::new(
                second.position,
                format!(
                    "({}) may not appear with ({}) (GS1 General Specifications §4.14.1, invalid pairs)",
                    second.ai, first.ai
                ),
            ));
        }
        for alternatives in &definition.requires {
            let met = alternatives
                .iter()
                .any(|group| group.iter().all(|pattern| present(pattern)));
            if !met {
                let needed: Vec<String> = alternatives
                    .iter()
                    .map(|group| {
                        group
                            .iter()
                            .map(|p| format!("({p})"))
                            .collect::<Vec<_>>()
                            .join(" with ")
                    })
                    .collect();
                return Err(UdiError::new(
                    element.position,
                    format!(
                        "({}) {} needs {} (GS1 General Specifications §4.14.2, mandatory associations)",
                        element.ai,
                        definition.title,
                        needed.join(" or ")
                    ),
                ));
            }
        }
    }
    Ok(())
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
/// prefix: the path ends with the primary key and its key qualifiers, in the order the
/// dictionary's `dlpkey` gives; the query carries data attributes (AIs flagged `?`); a
/// fragment is not part of the identifier (GS1 Digital Link URI Syntax 1.2, §4).
fn parse_digital_link(input: &str, this_year: i64) -> Result<Vec<Element>, UdiError> {
    let after_scheme = input.find("://").map_or(0, |i| i + 3);
    // The fragment (`#...`) is for the browser; it ends the URI's data, query or not.
    let input_end = input[after_scheme..]
        .find('#')
        .map_or(input.len(), |i| after_scheme + i);
    let uri = &input[..input_end];
    let path_start = uri[after_scheme..]
        .find('/')
        .map_or(uri.len(), |i| after_scheme + i);
    let (path, query) = match uri[path_start..].split_once('?') {
        Some((path, query)) => (path, Some((path_start + path.len() + 1, query))),
        None => (&uri[path_start..], None),
    };
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
    // The prefix may itself hold a "01" segment (`/01/shop/01/{gtin}`): the primary key is
    // the last "01" from which the rest of the path reads as key, value and qualifiers.
    let candidates: Vec<usize> = (0..segments.len())
        .filter(|&k| segments[k].1 == "01")
        .collect();
    // When none reads, the error is the last candidate's: the one the path most likely meant.
    let mut last_error = None;
    let mut chosen = None;
    for &k in candidates.iter().rev() {
        match key_path(input, &segments[k..], this_year) {
            Ok(elements) => {
                chosen = Some(elements);
                break;
            }
            Err(e) => {
                last_error.get_or_insert(e);
            }
        }
    }
    let mut elements = match (chosen, last_error) {
        (Some(elements), _) => elements,
        (None, Some(e)) => return Err(e),
        (None, None) => {
            return Err(UdiError::new(
                path_start,
                "a GS1 Digital Link UDI needs /01/{GTIN} in its path",
            ));
        }
    };
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
            let Some(definition) = ai_table::lookup(ai) else {
                return Err(UdiError::new(
                    char_position(input, here),
                    format!("{ai}= is not a GS1 AI"),
                ));
            };
            // Only AIs the dictionary flags `?` are data attributes; a key qualifier such as
            // (21) belongs in the path, and others (235, ...) in no URI at all.
            if !definition.dl_attribute {
                return Err(UdiError::new(
                    char_position(input, here),
                    format!(
                        "?{ai}= is not allowed: ({ai}) {} is not a GS1 Digital Link data attribute{}",
                        definition.title,
                        if is_qualifier_of_gtin(ai) {
                            " (it is a key qualifier of (01): it belongs in the path)"
                        } else {
                            ""
                        }
                    ),
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

fn is_qualifier_of_gtin(ai: &str) -> bool {
    ai_table::lookup("01")
        .and_then(|d| d.dl_primary_key.as_ref())
        .is_some_and(|sequences| sequences.iter().flatten().any(|q| q == ai))
}

/// The path from the primary key on: `01/{gtin}` and then qualifier AI and value pairs, each
/// qualifier one of the key's (`dlpkey`), in its order, from one alternative sequence.
fn key_path(
    input: &str,
    segments: &[(usize, &str)],
    this_year: i64,
) -> Result<Vec<Element>, UdiError> {
    let mut elements = Vec::new();
    for pair in segments.chunks(2) {
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
            [(at, ai)] => {
                return Err(UdiError::new(
                    char_position(input, *at),
                    format!("/{ai}/ has no value"),
                ));
            }
            _ => {}
        }
    }
    let Some(key) = elements.first() else {
        return Err(UdiError::new(0, "no primary key"));
    };
    validate(key, this_year)?;
    let sequences = ai_table::lookup(&key.ai)
        .and_then(|d| d.dl_primary_key.clone())
        .unwrap_or_default();
    let qualifiers = &elements[1..];
    let fits = |sequence: &Vec<String>| {
        let mut next = 0;
        qualifiers
            .iter()
            .all(|q| match sequence[next..].iter().position(|s| *s == q.ai) {
                Some(i) => {
                    next += i + 1;
                    true
                }
                None => false,
            })
    };
    if !sequences.iter().any(fits) {
        // Name the first qualifier that no sequence allows where it stands.
        let allowed: Vec<&String> = sequences.iter().flatten().collect();
        let (position, rule) = match qualifiers.iter().find(|q| !allowed.contains(&&q.ai)) {
            Some(q) => {
                let attribute = ai_table::lookup(&q.ai).is_some_and(|d| d.dl_attribute);
                (
                    q.position,
                    if attribute {
                        format!(
                            "/{}/ is a data attribute, not a key qualifier of ({}): it belongs in the query (?{}=...)",
                            q.ai, key.ai, q.ai
                        )
                    } else {
                        format!("/{}/ is not a key qualifier of ({})", q.ai, key.ai)
                    },
                )
            }
            None => {
                let orders: Vec<String> = sequences
                    .iter()
                    .map(|s| {
                        s.iter()
                            .map(|q| format!("/{q}/"))
                            .collect::<Vec<_>>()
                            .join("")
                    })
                    .collect();
                (
                    qualifiers.last().map_or(0, |q| q.position),
                    format!(
                        "the key qualifiers of ({}) come in the order {}, each at most once",
                        key.ai,
                        orders.join(" or ")
                    ),
                )
            }
        };
        return Err(UdiError::new(position, rule));
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
fn validate(element: &Element, this_year: i64) -> Result<(), UdiError> {
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
            lint(linter, part, this_year).map_err(|rule| {
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

/// The GS1 linters that device UDIs use, by the names of the Barcode Syntax Dictionary; the
/// others (company prefix positions, coupon formats, ...) are not checked here.
fn lint(name: &str, part: &str, this_year: i64) -> Result<(), String> {
    match name {
        "csum" => {
            if gs1_check_digit(&part[..part.len() - 1]) == part.chars().last() {
                Ok(())
            } else {
                Err(format!("check digit of {part} is wrong (GS1 mod 10)"))
            }
        }
        "yymmd0" => check_date(part, true, this_year),
        "yymmdd" => check_date(part, false, this_year),
        "csumalpha" => check_pair(part),
        "hhmi" => check_hour_minute(part),
        "iso3166" => check_country(part, false),
        "iso3166999" => check_country(part, true),
        "iso3166alpha2" => {
            if country_codes().any(|(_, alpha2)| alpha2 == part) {
                Ok(())
            } else {
                Err(format!("{part} is not an ISO 3166-1 alpha-2 country code"))
            }
        }
        _ => Ok(()),
    }
}

/// `HHMI`: hour 00 to 23, minute 00 to 59 (the dictionary's `hhmi` linter; AI (7003) expiry
/// date and time, and every AI with a time of day).
fn check_hour_minute(part: &str) -> Result<(), String> {
    let number =
        |range: std::ops::Range<usize>| part.get(range).and_then(|p| p.parse::<u32>().ok());
    match (number(0..2), number(2..4)) {
        (Some(hour), Some(minute)) if hour < 24 && minute < 60 => Ok(()),
        (Some(hour), Some(_)) if hour >= 24 => {
            Err(format!("{part}: hour {hour:02} does not exist (00 to 23)"))
        }
        (Some(_), Some(minute)) => Err(format!(
            "{part}: minute {minute:02} does not exist (00 to 59)"
        )),
        _ => Err(format!("{part} is not a time HHMI")),
    }
}

/// ISO 3166-1 (numeric, alpha-2), from `data/iso3166-1.txt`.
fn country_codes() -> impl Iterator<Item = (&'static str, &'static str)> {
    const TABLE: &str = include_str!("data/iso3166-1.txt");
    TABLE
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once(' '))
}

fn check_country(part: &str, unknown_allowed: bool) -> Result<(), String> {
    if (unknown_allowed && part == "999") || country_codes().any(|(numeric, _)| numeric == part) {
        Ok(())
    } else {
        Err(format!("{part} is not an ISO 3166-1 numeric country code"))
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

fn check_date(part: &str, day_zero_allowed: bool, this_year: i64) -> Result<(), String> {
    let number =
        |range: std::ops::Range<usize>| part.get(range).and_then(|p| p.parse::<u32>().ok());
    let (Some(year), Some(month), Some(day)) = (number(0..2), number(2..4), number(4..6)) else {
        return Err(format!("{part} is not a date YYMMDD"));
    };
    if !(1..=12).contains(&month) {
        return Err(format!("{part}: month {month:02} does not exist"));
    }
    let last = days_in_month(full_year(year, this_year), month);
    if day > last || (day == 0 && !day_zero_allowed) {
        return Err(format!("{part}: day {day:02} does not exist in that month"));
    }
    Ok(())
}

/// The full year of a two-digit year `yy` read in `this_year`, by GS1 General Specifications
/// §7.12: the year is taken within 49 years before and 50 years after this year. With
/// `d = yy - (this_year mod 100)`: `d >= 51` is the previous century, `d <= -50` the next,
/// anything else this century. In 2026, `99` is 1999, `76` is 2076 and `77` is 1977.
pub fn full_year(yy: u32, this_year: i64) -> i64 {
    let century = this_year.div_euclid(100) * 100;
    let difference = i64::from(yy) - this_year.rem_euclid(100);
    if difference >= 51 {
        century - 100 + i64::from(yy)
    } else if difference <= -50 {
        century + 100 + i64::from(yy)
    } else {
        century + i64::from(yy)
    }
}

/// The year today (UTC), for the century window of two-digit years.
pub fn this_year() -> i64 {
    let days = crate::time::now_unix_micros().div_euclid(86_400_000_000);
    crate::time::civil_from_days(days).0
}

/// YYMMDD to ISO `YYYY-MM-DD`; DD=00 means the last day of the month.
fn yymmdd_to_date(value: &str, this_year: i64) -> String {
    let number = |range: std::ops::Range<usize>| {
        value
            .get(range)
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(0)
    };
    let (year, month) = (full_year(number(0..2), this_year), number(2..4));
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
        assert_eq!(lint("csum", "12345678901231", 2026), Ok(()));
        assert!(lint("csum", "12345678901232", 2026).is_err());
        assert_eq!(lint("csum", "02345673", 2026), Ok(()));
        assert_eq!(lint("yymmd0", "200229", 2026), Ok(()));
        assert!(lint("yymmd0", "200230", 2026).is_err());
        assert!(lint("yymmd0", "201310", 2026).is_err());
        assert_eq!(lint("yymmd0", "210200", 2026), Ok(()));
        assert!(lint("yymmdd", "210200", 2026).is_err());
        assert_eq!(lint("csumalpha", "1987654Ad4X4bL5ttr2310c2K", 2026), Ok(()));
        assert!(lint("csumalpha", "1987654Ad4X4bL5ttr2310cXK", 2026).is_err());
    }

    #[test]
    fn day_zero_is_the_last_day_of_the_month() {
        assert_eq!(yymmdd_to_date("240200", 2026), "2024-02-29");
        assert_eq!(yymmdd_to_date("250200", 2026), "2025-02-28");
        assert_eq!(yymmdd_to_date("261231", 2026), "2026-12-31");
    }

    #[test]
    fn two_digit_years_fall_in_the_window_around_this_year() {
        // GS1 General Specifications §7.12: 49 years back, 50 ahead.
        assert_eq!(full_year(99, 2026), 1999);
        assert_eq!(full_year(77, 2026), 1977);
        assert_eq!(full_year(76, 2026), 2076);
        assert_eq!(full_year(26, 2026), 2026);
        assert_eq!(full_year(0, 2026), 2000);
        assert_eq!(full_year(49, 2099), 2149);
        assert_eq!(full_year(50, 2099), 2050);
        assert_eq!(full_year(0, 2051), 2100);
        assert_eq!(full_year(1, 2051), 2101);
        assert_eq!(full_year(2, 2051), 2002);
        assert_eq!(yymmdd_to_date("991231", 2026), "1999-12-31");
        // 2000 was a leap year and 2100 will not be: the window decides the 29th.
        assert_eq!(lint("yymmdd", "000229", 2026), Ok(()));
        assert!(lint("yymmdd", "000229", 2060).is_err());
    }

    #[test]
    fn times_and_country_codes_are_checked() {
        assert_eq!(lint("hhmi", "2359", 2026), Ok(()));
        assert!(lint("hhmi", "2400", 2026).unwrap_err().contains("hour 24"));
        assert!(
            lint("hhmi", "1260", 2026)
                .unwrap_err()
                .contains("minute 60")
        );
        assert_eq!(lint("iso3166", "372", 2026), Ok(()));
        assert!(lint("iso3166", "999", 2026).is_err());
        assert_eq!(lint("iso3166999", "999", 2026), Ok(()));
        assert_eq!(lint("iso3166alpha2", "IE", 2026), Ok(()));
        assert!(lint("iso3166alpha2", "XX", 2026).is_err());
        assert_eq!(country_codes().count(), 249);
    }
}
