//! Unique Device Identification: parsing the UDI a label carries into its device identifier
//! (DI) and production identifiers (lot, serial, expiry, manufacture date).
//!
//! The FDA accredits three issuing agencies. GS1 (`gs1`) is parsed in all three of its forms,
//! with the AI table taken from GS1's own Barcode Syntax Dictionary (`ai_table`); HIBCC
//! (`hibcc`) in its primary, secondary and supplemental structures; ICCBBA (`isbt128`) as the
//! ISBT 128 data structures of a device containing medical products of human origin, in a
//! compound message or as separate structures, its DI the Processor Product Identification
//! Code. The agency is told by the first character: `+` HIBCC, `=` or `&` (after an optional
//! symbology identifier) ISBT 128, anything else GS1. Pure: no I/O.

mod ai_table;
pub mod gs1;
pub mod hibcc;
pub mod isbt128;

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
    /// ISBT 128 only: the 13-character Donation Identification Number, the "distinct
    /// identification code" of 21 CFR 1271.290(c) that 21 CFR 801.40(b) makes a production
    /// identifier of an HCT/P regulated as a device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub donation_identification_number: Option<String>,
    /// Every element as read, in order: (AI, data) for GS1, (data identifier, data content)
    /// for ISBT 128.
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
            donation_identification_number: None,
            elements: Vec::new(),
        }
    }

    /// The unit (serialized device) this UDI labels, by the name the ledger gives it: the
    /// serial; for ISBT 128 the DIN followed by the serial, because a Product Divisions code
    /// is unique only for one product and DIN (ST-001 §2.4.32), never on its own.
    pub fn unit(&self) -> Option<String> {
        match self.agency {
            Agency::Iccbba => self
                .donation_identification_number
                .as_ref()
                .zip(self.serial.as_ref())
                .map(|(din, serial)| format!("{din}{serial}")),
            Agency::Gs1 | Agency::Hibcc => self.serial.clone(),
        }
    }
}

/// Why a string is not a valid UDI: the 0-based character position and the rule broken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
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
    // ISBT 128 data structures all begin with '=' or '&' (ST-001 §2.1); a symbology
    // identifier may come first. GS1 data never begins with either.
    let after_symbology = if input.starts_with(']') {
        input.get(3..).unwrap_or("")
    } else {
        input
    };
    if after_symbology.starts_with(['=', '&']) {
        return isbt128::parse(input);
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
