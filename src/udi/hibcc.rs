//! HIBCC UDIs: the HIBC Supplier Labeling (LIC) data structures.
//!
//! - primary: `+` LIC (4 characters, the first a letter) PCN (1 to 18) U/M (one digit) and
//!   the mod-43 check character;
//! - secondary, after the primary and `/` in one symbol (the primary's check character then
//!   left out), or in a second symbol `+SECONDARY` + link character (the primary's check
//!   character) + check character:
//!   - `$LOT`, `$+SERIAL`: no date;
//!   - `YYJJJ` + `LOT`: the expiry as a Julian date, then the lot (may be empty);
//!   - `$$` + date + `LOT`, `$$+` + date + `SERIAL`, the date by its flag: a first digit 0 or 1
//!     begins `MMYY`; `2` `MMDDYY`; `3` `YYMMDD`; `4` `YYMMDDHH`; `5` `YYJJJ` (Julian day);
//!     `6` `YYJJJHH`; `7` no date;
//! - supplemental fields after `/`: `14D` expiry `YYYYMMDD`, `16D` manufacture `YYYYMMDD`,
//!   `S` serial.
//!
//! The device identifier (DI) is the primary data without its flag and check character: LIC,
//! PCN and U/M. Quantity forms (`$$8`, `$$9`) are refused as not supported rather than
//! guessed.

use super::{Agency, Udi, UdiError, days_in_month};

/// The HIBC character set; a character's value is its index (the mod-43 table).
const HIBC_CHARS: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-. $/+%";

/// The mod-43 check character of `data` (flag included).
pub fn check_character(data: &str) -> Option<char> {
    let mut sum = 0usize;
    for c in data.chars() {
        sum += HIBC_CHARS.find(c)?;
    }
    HIBC_CHARS.chars().nth(sum % 43)
}

/// Parses a HIBCC UDI: a primary symbol, primary and secondary in one symbol, or the two
/// symbols separated by white space.
///
/// # Errors
/// A [`UdiError`] with the position and the rule broken.
pub fn parse(input: &str) -> Result<Udi, UdiError> {
    // Two symbols are separated by white space before the second's '+'. (A check character
    // can itself be a space, so a space alone does not separate.)
    let split = input.char_indices().find(|&(i, c)| {
        c.is_whitespace() && input[i + c.len_utf8()..].trim_start().starts_with('+')
    });
    let (first, second) = match split {
        Some((i, _)) => {
            let rest = input[i..].trim_start();
            // When the primary's check character is a space (value 38), the first of the
            // spaces is that check character: `+A99910011  +$LOT1 L`.
            let first = if verify_check(&input[..i], 0).is_err()
                && input[i..].starts_with(' ')
                && verify_check(&input[..=i], 0).is_ok()
            {
                &input[..=i]
            } else {
                &input[..i]
            };
            (first, Some((input.len() - rest.len(), rest)))
        }
        None => (input, None),
    };
    if let Some(bad) = input
        .chars()
        .position(|c| !c.is_whitespace() && !HIBC_CHARS.contains(c))
    {
        return Err(UdiError::new(
            bad,
            "not a HIBC character (0-9, A-Z, - . space $ / + %)",
        ));
    }
    let body = verify_check(first, 0)?;
    if body.starts_with("+$") {
        return Err(UdiError::new(
            0,
            "a secondary HIBC symbol alone carries no device identifier: give the primary first",
        ));
    }
    let mut udi = Udi::new(Agency::Hibcc);
    let (primary, secondary) = match body.split_once('/') {
        Some((primary, rest)) => (primary, Some((primary.len() + 1, rest))),
        None => (body, None),
    };
    udi.device_identifier = parse_primary(primary)?;
    udi.elements
        .push(("primary".to_owned(), primary.to_owned()));
    if let Some((at, rest)) = secondary {
        parse_secondary(rest, at, &mut udi)?;
    }
    if let Some((at, symbol)) = second {
        if secondary.is_some() {
            return Err(UdiError::new(
                at,
                "secondary data given twice: in the first symbol and in a second",
            ));
        }
        let body = verify_check(symbol, at)?;
        let Some(data) = body.strip_prefix('+') else {
            return Err(UdiError::new(at, "a HIBC symbol begins with '+'"));
        };
        // The link character ties the secondary symbol to its primary: it is the primary
        // symbol's check character.
        let link_at = at + data.len();
        let (data, link) = data.split_at(data.len().saturating_sub(1));
        let expected = first.chars().last();
        if link.chars().next() != expected {
            return Err(UdiError::new(
                link_at,
                format!(
                    "link character {link:?} is not the primary's check character {expected:?}"
                ),
            ));
        }
        parse_secondary(data, at + 1, &mut udi)?;
    }
    Ok(udi)
}

/// Checks and strips the trailing mod-43 check character of a symbol starting at `at`.
fn verify_check(symbol: &str, at: usize) -> Result<&str, UdiError> {
    if !symbol.starts_with('+') {
        return Err(UdiError::new(at, "a HIBC symbol begins with '+'"));
    }
    if symbol.len() < 3 {
        return Err(UdiError::new(at, "too short for a HIBC symbol"));
    }
    let (body, check) = symbol.split_at(symbol.len() - 1);
    let expected = check_character(body);
    if check.chars().next() != expected {
        return Err(UdiError::new(
            at + body.len(),
            format!(
                "check character is {check:?}, mod 43 of the data gives {:?}",
                expected.unwrap_or('?')
            ),
        ));
    }
    Ok(body)
}

/// `+LIC PCN U/M` (without check character): returns the DI.
fn parse_primary(primary: &str) -> Result<String, UdiError> {
    let data = &primary[1..];
    if data.len() < 6 {
        return Err(UdiError::new(
            0,
            "primary data needs LIC (4), PCN (1 to 18) and U/M (1)",
        ));
    }
    if !data.starts_with(|c: char| c.is_ascii_uppercase()) {
        return Err(UdiError::new(
            1,
            "the labeler identification code (LIC) begins with a letter",
        ));
    }
    let pcn_len = data.len() - 5;
    if pcn_len > 18 {
        return Err(UdiError::new(
            5,
            format!("product number (PCN) is {pcn_len} characters; at most 18"),
        ));
    }
    if let Some(bad) = data.chars().position(|c| !c.is_ascii_alphanumeric()) {
        return Err(UdiError::new(
            1 + bad,
            "LIC, PCN and U/M are letters and digits",
        ));
    }
    if !data.ends_with(|c: char| c.is_ascii_digit()) {
        return Err(UdiError::new(
            primary.len() - 1,
            "the unit of measure (U/M) is one digit",
        ));
    }
    Ok(data.to_owned())
}

/// The secondary data and supplemental fields, `$...[/14D...][/16D...][/S...]`.
fn parse_secondary(text: &str, at: usize, udi: &mut Udi) -> Result<(), UdiError> {
    let mut fields = text.split('/');
    let main = fields.next().unwrap_or("");
    let (serial_not_lot, date_and_id, flag_at) = if let Some(rest) = main.strip_prefix("$$+") {
        (true, Some(rest), at + 3)
    } else if let Some(rest) = main.strip_prefix("$$") {
        (false, Some(rest), at + 2)
    } else if let Some(rest) = main.strip_prefix("$+") {
        udi.serial = Some(nonempty(rest, at + 2, "serial")?);
        (true, None, at)
    } else if let Some(rest) = main.strip_prefix('$') {
        udi.lot = Some(nonempty(rest, at + 1, "lot")?);
        (false, None, at)
    } else if main.starts_with(|c: char| c.is_ascii_digit()) {
        // The Julian-date form: `YYJJJ` (the expiry) and the lot, which may be left out.
        let digits = |range: std::ops::Range<usize>| {
            main.get(range)
                .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|d| d.parse::<u32>().ok())
        };
        let (Some(year), Some(day)) = (digits(0..2), digits(2..5)) else {
            return Err(UdiError::new(
                at,
                "secondary data begins with '$' or a Julian date YYJJJ",
            ));
        };
        udi.expiry = Some(julian(2000 + year, day, at + 2)?);
        let lot = &main[5..];
        if !lot.is_empty() {
            udi.lot = Some(nonempty(lot, at + 5, "lot")?);
        }
        (false, None, at)
    } else {
        return Err(UdiError::new(
            at,
            "secondary data begins with '$' or a Julian date YYJJJ",
        ));
    };
    if let Some(rest) = date_and_id {
        let (expiry, id) = dated(rest, flag_at)?;
        udi.expiry = expiry;
        let id = nonempty(id, at, if serial_not_lot { "serial" } else { "lot" })?;
        if serial_not_lot {
            udi.serial = Some(id);
        } else {
            udi.lot = Some(id);
        }
    }
    udi.elements.push(("secondary".to_owned(), main.to_owned()));
    let mut field_at = at + main.len() + 1;
    for field in fields {
        if let Some(date) = field.strip_prefix("14D") {
            udi.expiry = Some(yyyymmdd(date, field_at + 3)?);
        } else if let Some(date) = field.strip_prefix("16D") {
            udi.manufactured = Some(yyyymmdd(date, field_at + 3)?);
        } else if let Some(serial) = field.strip_prefix('S') {
            udi.serial = Some(nonempty(serial, field_at + 1, "serial")?);
        } else {
            return Err(UdiError::new(
                field_at,
                format!("unknown supplemental field {field:?} (14D, 16D or S)"),
            ));
        }
        udi.elements
            .push(("supplemental".to_owned(), field.to_owned()));
        field_at += field.len() + 1;
    }
    Ok(())
}

fn nonempty(text: &str, at: usize, what: &str) -> Result<String, UdiError> {
    if text.is_empty() || text.len() > 18 {
        return Err(UdiError::new(
            at,
            format!("the {what} has 1 to 18 characters"),
        ));
    }
    Ok(text.to_owned())
}

/// The date after `$$` by its flag, and what follows it.
fn dated(text: &str, at: usize) -> Result<(Option<String>, &str), UdiError> {
    let digits = |range: std::ops::Range<usize>| -> Result<u32, UdiError> {
        text.get(range.clone())
            .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| UdiError::new(at + range.start, "expected digits of the date"))
    };
    let flag = text
        .chars()
        .next()
        .ok_or_else(|| UdiError::new(at, "date flag or MMYY expected"))?;
    let (date, used) = match flag {
        '0' | '1' => (civil(2000 + digits(2..4)?, digits(0..2)?, 0, at)?, 4),
        '2' => (
            civil(2000 + digits(5..7)?, digits(1..3)?, digits(3..5)?, at + 1)?,
            7,
        ),
        '3' => (
            civil(2000 + digits(1..3)?, digits(3..5)?, digits(5..7)?, at + 1)?,
            7,
        ),
        '4' => {
            hour(digits(7..9)?, at + 7)?;
            (
                civil(2000 + digits(1..3)?, digits(3..5)?, digits(5..7)?, at + 1)?,
                9,
            )
        }
        '5' => (julian(2000 + digits(1..3)?, digits(3..6)?, at + 3)?, 6),
        '6' => {
            hour(digits(6..8)?, at + 6)?;
            (julian(2000 + digits(1..3)?, digits(3..6)?, at + 3)?, 8)
        }
        '7' => return Ok((None, &text[1..])),
        '8' | '9' => {
            return Err(UdiError::new(
                at,
                "quantity forms ($$8, $$9) are not supported yet",
            ));
        }
        _ => {
            return Err(UdiError::new(
                at,
                format!("{flag:?} is not a HIBC date flag (0-7)"),
            ));
        }
    };
    Ok((Some(date), &text[used..]))
}

fn hour(hour: u32, at: usize) -> Result<(), UdiError> {
    if hour > 23 {
        return Err(UdiError::new(at, format!("hour {hour:02} does not exist")));
    }
    Ok(())
}

/// A calendar date; day 0 (the MMYY form) means the last day of the month.
fn civil(year: u32, month: u32, day: u32, at: usize) -> Result<String, UdiError> {
    if !(1..=12).contains(&month) {
        return Err(UdiError::new(
            at,
            format!("month {month:02} does not exist"),
        ));
    }
    let last = days_in_month(i64::from(year), month);
    let day = if day == 0 { last } else { day };
    if day > last {
        return Err(UdiError::new(
            at,
            format!("day {day:02} does not exist in {year}-{month:02}"),
        ));
    }
    Ok(format!("{year:04}-{month:02}-{day:02}"))
}

fn julian(year: u32, day_of_year: u32, at: usize) -> Result<String, UdiError> {
    let mut left = day_of_year;
    for month in 1..=12 {
        let days = days_in_month(i64::from(year), month);
        if (1..=days).contains(&left) {
            return Ok(format!("{year:04}-{month:02}-{left:02}"));
        }
        left = left.saturating_sub(days);
        if left == 0 {
            break;
        }
    }
    Err(UdiError::new(
        at,
        format!("day {day_of_year:03} does not exist in {year}"),
    ))
}

fn yyyymmdd(text: &str, at: usize) -> Result<String, UdiError> {
    let number = |range: std::ops::Range<usize>| {
        text.get(range)
            .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|d| d.parse::<u32>().ok())
    };
    match (text.len(), number(0..4), number(4..6), number(6..8)) {
        (8, Some(year), Some(month), Some(day)) if day > 0 => civil(year, month, day, at),
        _ => Err(UdiError::new(at, "expected a date YYYYMMDD")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_check_character_example() {
        // HIBC LIC standard example: the values of +A123BJC5D6E71 sum to 145; 145 mod 43 = 16: G.
        assert_eq!(check_character("+A123BJC5D6E71"), Some('G'));
        let udi = parse("+A123BJC5D6E71G").unwrap();
        assert_eq!(udi.device_identifier, "A123BJC5D6E71");
        assert!(
            parse("+A123BJC5D6E71H")
                .unwrap_err()
                .rule
                .contains("check character")
        );
    }

    #[test]
    fn julian_and_month_forms() {
        assert_eq!(julian(2020, 15, 0).unwrap(), "2020-01-15");
        assert_eq!(julian(2020, 366, 0).unwrap(), "2020-12-31");
        assert!(julian(2021, 366, 0).is_err());
        assert_eq!(civil(2024, 2, 0, 0).unwrap(), "2024-02-29");
    }
}
