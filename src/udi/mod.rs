//! Unique Device Identification: parsing the UDI a label carries into its device identifier
//! (DI) and production identifiers (lot, serial, expiry, manufacture date).
//!
//! The FDA accredits three issuing agencies. GS1 (`gs1`) is parsed in all three of its forms,
//! with the AI table taken from GS1's own Barcode Syntax Dictionary (`ai_table`); HIBCC
//! (`hibcc`) in its primary, secondary and supplemental structures. ICCBBA (ISBT 128) is
//! recognised and refused with a clear "not supported yet" until its parser exists (issue 3).
//! Pure: no I/O.

mod ai_table;
pub mod gs1;
pub mod hibcc;

pub use ai_table::{AiDefinition, lookup as gs1_ai};
use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Agency {
    #[serde(rename = "GS1")]
    Gs1,
    #[serde(rename = "HIBCC")]
    Hibcc,
    #[serde(rename = "ICCBBA")]
    Iccbba,
}

/// A parsed UDI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Udi {
    pub agency: Agency,
    /// The device identifier: for GS1 the GTIN of AI (01).
    pub device_identifier: String,
    pub lot: Option<String>,
    pub serial: Option<String>,
    /// ISO date `YYYY-MM-DD`.
    pub expiry: Option<String>,
    /// ISO date `YYYY-MM-DD`.
    pub manufactured: Option<String>,
    /// Every element as read, in order: (AI, data) for GS1.
    pub elements: Vec<(String, String)>,
}

impl Udi {
    fn new(agency: Agency) -> Udi {
        Udi {
            agency,
            device_identifier: String::new(),
            lot: None,
            serial: None,
            expiry: None,
            manufactured: None,
            elements: Vec::new(),
        }
    }
}

/// Why a string is not a valid UDI: the 0-based character position and the rule broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("position {position}: {rule}")]
pub struct UdiError {
    pub position: usize,
    pub rule: String,
}

impl UdiError {
    fn new(position: usize, rule: impl Into<String>) -> UdiError {
        UdiError {
            position,
            rule: rule.into(),
        }
    }
}

impl fmt::Display for Agency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Agency::Gs1 => "GS1",
            Agency::Hibcc => "HIBCC",
            Agency::Iccbba => "ICCBBA",
        })
    }
}

/// Parses a UDI, recognising the issuing agency from its form.
///
/// # Errors
/// A [`UdiError`] with the position and the rule broken.
pub fn parse(input: &str) -> Result<Udi, UdiError> {
    if input.is_empty() {
        return Err(UdiError::new(0, "empty UDI"));
    }
    if input.starts_with('+') {
        return hibcc::parse(input);
    }
    if input.starts_with('=') || input.starts_with("&") {
        return Err(UdiError::new(
            0,
            "this looks like an ISBT 128 UDI: ICCBBA parsing is not supported yet",
        ));
    }
    gs1::parse(input)
}

/// Days in `month` of `year` (proleptic Gregorian), for the date fields of every agency.
fn days_in_month(year: i64, month: u32) -> u32 {
    let (this, next) = if month == 12 {
        (
            crate::time::days_from_civil(year, 12, 1),
            crate::time::days_from_civil(year + 1, 1, 1),
        )
    } else {
        (
            crate::time::days_from_civil(year, month, 1),
            crate::time::days_from_civil(year, month + 1, 1),
        )
    };
    u32::try_from(next - this).unwrap_or(0)
}
