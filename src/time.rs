//! Calendar arithmetic for RFC 3339 timestamps in UTC.
//!
//! The ledger's clock (`recorded_at`) and the simulator both need UTC timestamps; the
//! civil-date conversion is small enough that a date-time crate would add more than it saves.
//! This module knows nothing of events or storage.

use std::time::{SystemTime, UNIX_EPOCH};

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
///
/// Howard Hinnant's `civil_from_days`, valid for every day representable in an `i64` range
/// that matters here (years 0..=9999).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let day_of_year = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Proleptic Gregorian (year, month, day) to days since 1970-01-01; inverse of
/// [`civil_from_days`].
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let month = i64::from(month);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats microseconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
///
/// Fixed width (always six fraction digits, always `Z`) so that the text sorts in time order.
pub fn format_rfc3339_micros(unix_micros: i64) -> String {
    format_fixed(unix_micros, 1_000_000, 6)
}

/// Formats milliseconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.fffZ`.
pub fn format_rfc3339_millis(unix_millis: i64) -> String {
    format_fixed(unix_millis, 1_000, 3)
}

/// `ticks` of `1 / per_second` s since the epoch, with `digits` fraction digits.
fn format_fixed(ticks: i64, per_second: i64, digits: usize) -> String {
    let secs = ticks.div_euclid(per_second);
    let fraction = ticks.rem_euclid(per_second);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{fraction:0digits$}Z",
        sod / 3_600,
        (sod % 3_600) / 60,
        sod % 60
    )
}

/// Formats a day count since the Unix epoch as `YYYY-MM-DD`.
pub fn format_date(days: i64) -> String {
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Parses the ledger's own fixed form `YYYY-MM-DDTHH:MM:SS.ffffffZ` back to microseconds.
/// Returns `None` for anything else: this is not a general RFC 3339 parser.
pub fn parse_rfc3339_micros(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 27 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[19] != b'.' {
        return None;
    }
    if b[13] != b':' || b[16] != b':' || b[26] != b'Z' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = text.get(range)?;
        if digits.bytes().all(|d| d.is_ascii_digit()) {
            digits.parse().ok()
        } else {
            None
        }
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let micros = number(20..26)?;
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = days_from_civil(year, month as u32, day as u32);
    Some(((days * 86_400 + hour * 3_600 + minute * 60 + second) * 1_000_000) + micros)
}

/// Parses any RFC 3339 timestamp (`2026-11-25T08:31:05.123+01:00`, `…Z`) to milliseconds
/// since the Unix epoch, so that times from sites in different zones compare correctly.
pub fn parse_rfc3339_millis(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = text.get(range)?;
        digits
            .bytes()
            .all(|d| d.is_ascii_digit())
            .then(|| digits.parse().ok())?
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut at = 19;
    let mut millis = 0i64;
    if b.get(at) == Some(&b'.') {
        let digits = b[at + 1..]
            .iter()
            .take_while(|d| d.is_ascii_digit())
            .count();
        if digits == 0 {
            return None;
        }
        let fraction = text.get(at + 1..at + 1 + digits.min(3))?;
        millis = fraction.parse::<i64>().ok()? * 10i64.pow(3 - digits.min(3) as u32);
        at += 1 + digits;
    }
    let offset_minutes = match text.get(at..)? {
        "Z" | "z" => 0,
        zone if zone.len() == 6
            && matches!(zone.as_bytes()[0], b'+' | b'-')
            && zone.as_bytes()[3] == b':' =>
        {
            let minutes = number(at + 1..at + 3)? * 60 + number(at + 4..at + 6)?;
            if zone.starts_with('-') {
                -minutes
            } else {
                minutes
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month as u32, day as u32);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1_000 + millis)
}

/// The system clock in microseconds since the Unix epoch; 0 if the clock reads before 1970.
pub fn now_unix_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_leap_days_round_trip() {
        assert_eq!(format_rfc3339_micros(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            format_rfc3339_millis(1_582_934_400_123),
            "2020-02-29T00:00:00.123Z"
        );
        for days in [-1, 0, 59, 60, 10_957, 11_016, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(format_date(days_from_civil(2100, 3, 1) - 1), "2100-02-28");
        let micros = 1_764_064_805_123_456;
        assert_eq!(
            parse_rfc3339_micros(&format_rfc3339_micros(micros)),
            Some(micros)
        );
        assert_eq!(parse_rfc3339_micros("2026-11-25T08:00:00Z"), None);
        let utc = parse_rfc3339_millis("2026-11-25T08:31:05.123Z").unwrap();
        assert_eq!(
            parse_rfc3339_millis("2026-11-25T09:31:05.123+01:00"),
            Some(utc)
        );
        assert_eq!(
            parse_rfc3339_millis("2026-11-25T16:31:05.1234+08:00"),
            Some(utc)
        );
        assert_eq!(format_rfc3339_millis(utc), "2026-11-25T08:31:05.123Z");
        assert_eq!(parse_rfc3339_millis("2026-11-25T08:31:05"), None);
    }
}
