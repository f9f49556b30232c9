//! ICCBBA ISBT 128 UDIs: the ISBT 128 data structures that identify a medical device containing
//! medical products of human origin (MPHO), such as an HCT/P regulated as a device.
//!
//! Which structures form the UDI, and what each one gives (ICCBBA ST-017 "Coding and Labeling of
//! Medical Devices Containing MPHO" v1.0.0, §2, §3, Tables 1 and 5; each structure's data
//! identifier, length and characters from ICCBBA ST-001 "ISBT 128 Standard Technical
//! Specification" v6.2.2, Table 2 and §2.4):
//!
//! | data structure | data identifier | data content | gives |
//! | --- | --- | --- | --- |
//! | 034 Processor Product Identification Code (PPIC) | `=/` | FIN(P) 5 {A–N, P–Z, 0–9}, facility-defined product code 6 {A–Z, 0–9}, Product Description Code 5 {A–Z, 0–9} | the DI, all 16 characters |
//! | 001 Donation Identification Number (DIN) | `=` and the DIN's first character | α {A–N, P–Z, 1–9}, pppp (2 of {A–N, P–Z, 0–9}, 2 digits), yy, nnnnnn (digits), flags ff | the DIN: the first 13 characters |
//! | 032 Product Divisions | `=,` | 6 {A–Z, 0–9} | the serial number |
//! | 004 Expiration Date | `=>` | `cyyjjj`: century, year, day of the year | the expiry |
//! | 008 Production Date | `=}` | `cyyjjj` | the manufacture date |
//! | 035 MPHO Lot Number | `&,1` | 18 {A–Z, 0–9}, padded with zeros on the left | the lot, as transmitted |
//!
//! The structures come in one of two forms, optionally after the symbology identifier of Code
//! 128 (`]C0`) or Data Matrix (`]d1`), the two symbologies ISBT 128 uses (ST-001 §6.1.1,
//! §6.2.1):
//! - a compound message (structure 023, `=+aabbb`) and the structures it announces, with
//!   nothing between them (ST-001 §2.4.23), as one Data Matrix symbol carries the whole UDI. It
//!   begins with the PPIC (ST-017 §4.1); `aa` must count the structures that follow; `bbb` is
//!   `000` (any order) or one of the ICCBBA-specified device sequences 034 to 037, whose order
//!   is then checked (ST-017 §4.2 Table 3);
//! - the structures alone, in any order: run together, as in the human-readable
//!   interpretation (ST-017 §5) or as a scanner joins concatenated Code 128 symbols (ST-001
//!   §10.2), or one symbol after another separated by white space.
//!
//! Every form must carry the PPIC, the DIN and the Product Divisions: ISBT 128 requires the
//! last two of every device containing MPHO (ST-017 §1.6, §3; ST-001 §2.4.34).
//!
//! Refused rather than guessed: the other ISBT 128 data structures (named in the error), dates
//! with a time (005, 009), a century digit other than 0, DIN flag characters other than `00`
//! (ST-017 §3.1), and specified-sequence compound messages other than 034 to 037. No check
//! character applies: the DIN's keyboard-entry character K is printed, never encoded (ST-001
//! §7.5), and the Basic UDI-DI with its mod 37-2 pair never appears on a label (ST-017
//! Appendix 1).

use super::{Agency, Udi, UdiError};
use crate::time;

/// What a scanner may send before ISBT 128 data: the AIM symbology identifiers of Code 128 and
/// of Data Matrix (ECC 200), neither with FNC1, since ISBT 128 data carries none.
const SYMBOLOGY_IDENTIFIERS: [&str; 2] = ["]C0", "]d1"];

/// The data structures of an ISBT 128 device UDI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    CompoundMessage,
    ProcessorProductIdentificationCode,
    DonationIdentificationNumber,
    ProductDivisions,
    ExpirationDate,
    ProductionDate,
    MphoLotNumber,
}

/// A data structure as ST-001 defines it. `content` has one character class per character of
/// the data content (see [`allowed`]), so its length is the content's fixed length.
struct Definition {
    kind: Kind,
    number: &'static str,
    name: &'static str,
    identifier: &'static str,
    content: &'static str,
}

const DEFINITIONS: [Definition; 7] = [
    Definition {
        kind: Kind::CompoundMessage,
        number: "023",
        name: "Compound Message",
        identifier: "=+",
        content: "nnnnn",
    },
    Definition {
        kind: Kind::ProcessorProductIdentificationCode,
        number: "034",
        name: "Processor Product Identification Code",
        identifier: "=/",
        content: "fffffaaaaaaaaaaa",
    },
    Definition {
        kind: Kind::DonationIdentificationNumber,
        number: "001",
        name: "Donation Identification Number",
        identifier: "=",
        content: "iffnnnnnnnnnngg",
    },
    Definition {
        kind: Kind::ProductDivisions,
        number: "032",
        name: "Product Divisions",
        identifier: "=,",
        content: "aaaaaa",
    },
    Definition {
        kind: Kind::ExpirationDate,
        number: "004",
        name: "Expiration Date",
        identifier: "=>",
        content: "nnnnnn",
    },
    Definition {
        kind: Kind::ProductionDate,
        number: "008",
        name: "Production Date",
        identifier: "=}",
        content: "nnnnnn",
    },
    Definition {
        kind: Kind::MphoLotNumber,
        number: "035",
        name: "MPHO Lot Number",
        identifier: "&,1",
        content: "aaaaaaaaaaaaaaaaaa",
    },
];

/// The ISBT 128 data structures that are not part of a device UDI (ST-001 Table 2), by data
/// identifier, so that a refusal names what was read.
const OTHER_STRUCTURES: [(&str, &str, &str); 35] = [
    ("=%", "002", "Blood Groups [ABO and RhD]"),
    ("=<", "003", "Product Code"),
    ("&>", "005", "Expiration Date and Time"),
    ("=*", "006", "Collection Date"),
    ("&*", "007", "Collection Date and Time"),
    ("&}", "009", "Production Date and Time"),
    ("&(", "010", "Special Testing: General"),
    (
        "={",
        "011",
        "Special Testing: Red Blood Cell Antigens (retired)",
    ),
    (
        "=\\",
        "012",
        "Special Testing: Red Blood Cell Antigens, General",
    ),
    (
        "&\\",
        "013",
        "Special Testing: Red Blood Cell Antigens, Finnish",
    ),
    (
        "&{",
        "014",
        "Special Testing: Platelet HLA and Platelet Specific Antigens",
    ),
    (
        "=[",
        "015",
        "Special Testing: HLA-A and -B Alleles (retired)",
    ),
    ("=\"", "016", "Special Testing: HLA-DRB1 Alleles (retired)"),
    ("=)", "017", "Container Manufacturer and Catalog Number"),
    ("&)", "018", "Container Lot Number"),
    ("=;", "019", "Donor Identification Number"),
    ("='", "020", "Staff Member Identification Number"),
    (
        "=-",
        "021",
        "Manufacturer and Catalog Number: Items Other Than Containers",
    ),
    ("&-", "022", "Lot Number: Items Other Than Containers"),
    ("=#", "024", "Patient Date of Birth"),
    ("&#", "025", "Patient Identification Number"),
    ("=]", "026", "Expiration Month and Year"),
    ("&\"", "027", "Transfusion Transmitted Infection Marker"),
    ("=$", "028", "Product Consignment"),
    ("&$", "029", "Dimensions"),
    ("&%", "030", "Red Cell Antigens with Test History"),
    ("=(", "031", "Flexible Date and Time"),
    ("&+", "033", "Processing Facility Information Code"),
    ("&,2", "036", "MPHO Supplemental Identification Number"),
    (
        "&,3",
        "037",
        "Global Registration Identifier for Donors (retired)",
    ),
    ("&,4", "038", "Single European Code"),
    ("&:", "039", "Global Registration Identifier for Donors"),
    ("&/", "040", "Chain of Identity Identifier"),
    (
        "&;",
        "none",
        "a nationally specified Donor Identification Number",
    ),
    ("&!", "none", "Confidential Unit Exclusion Status"),
];

/// The ICCBBA-specified compound messages for devices and the order of their structures
/// (ST-017 §4.2 Table 3, an excerpt of ST-001's table RT017).
const SPECIFIED_SEQUENCES: [(&str, &[Kind]); 4] = [
    (
        "034",
        &[
            Kind::ProcessorProductIdentificationCode,
            Kind::ProductDivisions,
            Kind::DonationIdentificationNumber,
        ],
    ),
    (
        "035",
        &[
            Kind::ProcessorProductIdentificationCode,
            Kind::ProductDivisions,
            Kind::DonationIdentificationNumber,
            Kind::ExpirationDate,
        ],
    ),
    (
        "036",
        &[
            Kind::ProcessorProductIdentificationCode,
            Kind::ProductDivisions,
            Kind::DonationIdentificationNumber,
            Kind::ProductionDate,
        ],
    ),
    (
        "037",
        &[
            Kind::ProcessorProductIdentificationCode,
            Kind::ProductDivisions,
            Kind::DonationIdentificationNumber,
            Kind::ExpirationDate,
            Kind::ProductionDate,
        ],
    ),
];

/// Whether `c` belongs to a content character class of [`Definition::content`].
fn allowed(class: u8, c: char) -> bool {
    match class {
        b'a' => c.is_ascii_uppercase() || c.is_ascii_digit(),
        // A Facility Identification Number has no letter O, which reads as zero.
        b'f' => (c.is_ascii_uppercase() && c != 'O') || c.is_ascii_digit(),
        b'i' => (c.is_ascii_uppercase() && c != 'O') || ('1'..='9').contains(&c),
        b'n' => c.is_ascii_digit(),
        b'g' => {
            c.is_ascii_digit() || (c.is_ascii_uppercase() && !matches!(c, 'I' | 'O' | 'Q' | 'Z'))
        }
        _ => false,
    }
}

fn describe(class: u8) -> &'static str {
    match class {
        b'a' => "A-Z or 0-9",
        b'f' => "a FIN character: A-N, P-Z or 0-9",
        b'i' => "the DIN's first character: A-N, P-Z or 1-9",
        b'n' => "a digit",
        b'g' => "a flag character: 0-9, A-H, J-N, P or R-Y",
        _ => "nothing",
    }
}

impl Definition {
    /// [`DEFINITIONS`] lists the kinds in their declaration order (a test checks it).
    fn of(kind: Kind) -> &'static Definition {
        &DEFINITIONS[kind as usize]
    }

    /// "Processor Product Identification Code (=/)", for messages.
    fn label(&self) -> String {
        format!("{} ({})", self.name, self.identifier)
    }
}

/// One data structure as read: its definition, the data identifier as read, and the data
/// content with the character position where it starts.
struct Structure {
    definition: &'static Definition,
    identifier_at: usize,
    content: String,
    content_at: usize,
}

impl Structure {
    fn end(&self) -> usize {
        self.content_at + self.definition.content.len()
    }
}

/// Parses an ISBT 128 UDI in any form the module documentation lists.
///
/// # Errors
/// A [`UdiError`] naming the character position and the rule broken.
pub fn parse(input: &str) -> Result<Udi, UdiError> {
    let chars: Vec<char> = input.chars().collect();
    let mut udi = Udi::new(Agency::Iccbba);
    let mut structures: Vec<Structure> = Vec::new();
    let mut separators = Vec::new();
    let mut at = 0;
    let mut symbol_starts = true;
    while at < chars.len() {
        if chars[at].is_whitespace() {
            separators.push(at);
            at += 1;
            symbol_starts = true;
            continue;
        }
        if symbol_starts && chars[at] == ']' {
            at += symbology_identifier(&chars, at)?;
            symbol_starts = false;
            continue;
        }
        symbol_starts = false;
        let structure = read_structure(&chars, at)?;
        let kind = structure.definition.kind;
        if kind == Kind::CompoundMessage && !structures.is_empty() {
            return Err(UdiError::new(
                at,
                "a compound message (=+, data structure 023) comes first, before the data structures it announces (ST-001 §2.4.23)",
            ));
        }
        if structures.iter().any(|s| s.definition.kind == kind) {
            return Err(UdiError::new(
                at,
                format!("{} appears more than once", structure.definition.label()),
            ));
        }
        interpret(&structure, &mut udi)?;
        at = structure.end();
        structures.push(structure);
    }
    if let Some(header) = structures
        .first()
        .filter(|s| s.definition.kind == Kind::CompoundMessage)
    {
        check_compound_message(header, &structures[1..], &separators)?;
    }
    for (kind, what) in [
        (
            Kind::ProcessorProductIdentificationCode,
            "its device identifier, the Processor Product Identification Code (=/, data structure 034)",
        ),
        (
            Kind::DonationIdentificationNumber,
            "the Donation Identification Number (=, data structure 001), which ISBT 128 requires of every device containing MPHO (ST-017 §3)",
        ),
        (
            Kind::ProductDivisions,
            "the Product Divisions (=,, data structure 032), its serial number, which ISBT 128 requires of every device containing MPHO (ST-017 §3)",
        ),
    ] {
        if !structures.iter().any(|s| s.definition.kind == kind) {
            return Err(UdiError::new(
                0,
                format!("an ISBT 128 UDI needs {what}: it is missing"),
            ));
        }
    }
    Ok(udi)
}

/// The length of the symbology identifier at `at`, which must be one ISBT 128 data uses.
fn symbology_identifier(chars: &[char], at: usize) -> Result<usize, UdiError> {
    let identifier: String = chars[at..chars.len().min(at + 3)].iter().collect();
    if SYMBOLOGY_IDENTIFIERS.contains(&identifier.as_str()) {
        Ok(3)
    } else {
        Err(UdiError::new(
            at,
            format!(
                "symbology identifier {identifier} does not announce ISBT 128 data (]C0 Code 128, ]d1 Data Matrix)"
            ),
        ))
    }
}

/// Reads the data structure whose data identifier starts at `at`: its definition, then exactly
/// the content length it defines, each character of its class.
fn read_structure(chars: &[char], at: usize) -> Result<Structure, UdiError> {
    let definition = identify(chars, at)?;
    // The DIN's data identifier is "=" and the first character of its data (ST-001 §2.1).
    let content_at = if definition.kind == Kind::DonationIdentificationNumber {
        at + 1
    } else {
        at + definition.identifier.len()
    };
    // Data content is letters and digits only, so the next '=' or '&' is the next data
    // identifier, and white space separates symbols: a run tells a wrong length apart from a
    // wrong character.
    let run = chars[content_at..]
        .iter()
        .take_while(|&&c| c != '=' && c != '&' && !c.is_whitespace())
        .count();
    let wanted = definition.content.len();
    if run < wanted {
        return Err(UdiError::new(
            content_at,
            format!(
                "{} has {wanted} characters of data; {run} found",
                definition.label()
            ),
        ));
    }
    if run > wanted {
        return Err(UdiError::new(
            content_at + wanted,
            format!(
                "{} has {wanted} characters of data; more follow (each data structure begins with = or &)",
                definition.label()
            ),
        ));
    }
    let content = &chars[content_at..content_at + wanted];
    for (offset, (class, &c)) in definition.content.bytes().zip(content).enumerate() {
        if !allowed(class, c) {
            return Err(UdiError::new(
                content_at + offset,
                format!(
                    "{}: {c:?} is not allowed here ({})",
                    definition.label(),
                    describe(class)
                ),
            ));
        }
    }
    Ok(Structure {
        definition,
        identifier_at: at,
        content: content.iter().collect(),
        content_at,
    })
}

/// Which data structure the data identifier at `at` announces.
fn identify(chars: &[char], at: usize) -> Result<&'static Definition, UdiError> {
    let first = chars[at];
    if first != '=' && first != '&' {
        return Err(UdiError::new(
            at,
            format!(
                "{first:?} here: an ISBT 128 data structure begins with its data identifier, = or &"
            ),
        ));
    }
    let Some(&second) = chars.get(at + 1) else {
        return Err(UdiError::new(
            at,
            "the input ends inside a data identifier (= or & and one or two more characters)",
        ));
    };
    // Of ICCBBA's data identifiers only the DIN's has a letter or digit second (ST-001 §2.1).
    if first == '=' && second.is_ascii_alphanumeric() {
        return Ok(Definition::of(Kind::DonationIdentificationNumber));
    }
    let identifier =
        |length: usize| -> String { chars[at..chars.len().min(at + length)].iter().collect() };
    for length in [3, 2] {
        let text = identifier(length);
        if let Some(definition) = DEFINITIONS.iter().find(|d| d.identifier == text) {
            return Ok(definition);
        }
        if let Some((_, number, name)) = OTHER_STRUCTURES.iter().find(|(id, ..)| *id == text) {
            return Err(UdiError::new(
                at,
                format!(
                    "{text} is the data identifier of {name} (data structure {number}), which is not one of the data structures of a device UDI (ST-017 Table 1): not supported"
                ),
            ));
        }
    }
    if first == '&' && second.is_ascii_lowercase() {
        return Err(UdiError::new(
            at,
            format!(
                "&{second} identifies a data structure defined nationally or by a facility (ST-001 §2.5.1), not part of a device UDI"
            ),
        ));
    }
    let shown = identifier(if second == ',' { 3 } else { 2 });
    Err(UdiError::new(
        at,
        format!("{shown} is not an ISBT 128 data identifier"),
    ))
}

/// Puts what a data structure says into the UDI; dates and DIN flags are checked here.
fn interpret(structure: &Structure, udi: &mut Udi) -> Result<(), UdiError> {
    let content = &structure.content;
    match structure.definition.kind {
        Kind::CompoundMessage => {}
        Kind::ProcessorProductIdentificationCode => udi.device_identifier = content.clone(),
        Kind::DonationIdentificationNumber => {
            // The flag characters are not part of the 13-character DIN (ST-001 §2.4.1), and a
            // medical device does not use them: they are 00 (ST-017 §3.1).
            let (din, flags) = content.split_at(13);
            if flags != "00" {
                return Err(UdiError::new(
                    structure.content_at + 13,
                    format!(
                        "Donation Identification Number (=): flag characters {flags}; a medical device carries 00 (ST-017 §3.1)"
                    ),
                ));
            }
            udi.donation_identification_number = Some(din.to_owned());
        }
        Kind::ProductDivisions => udi.serial = Some(content.clone()),
        Kind::ExpirationDate => {
            udi.expiry = Some(ordinal_date(content, structure.content_at, "expiry")?);
        }
        Kind::ProductionDate => {
            udi.manufactured = Some(ordinal_date(content, structure.content_at, "production")?);
        }
        Kind::MphoLotNumber => udi.lot = Some(content.clone()),
    }
    let identifier = if structure.definition.kind == Kind::DonationIdentificationNumber {
        "=".to_owned()
    } else {
        structure.definition.identifier.to_owned()
    };
    udi.elements.push((identifier, content.clone()));
    Ok(())
}

/// A `cyyjjj` date (ST-001 §2.4.4, §2.4.8): century, year within it, and the ordinal day of
/// the year, 001 to 365 or 366. ICCBBA's own examples fix century 0 as the years 2000 to 2099
/// (ST-017 §4.3.1 encodes 31 JAN 2019 as 019031); no source at hand says which century
/// another digit names, so those are refused rather than guessed.
fn ordinal_date(content: &str, at: usize, what: &str) -> Result<String, UdiError> {
    let number = |range: std::ops::Range<usize>| {
        content
            .get(range.clone())
            .and_then(|digits| digits.parse::<i64>().ok())
            .ok_or_else(|| UdiError::new(at + range.start, "expected digits of the date"))
    };
    let century = number(0..1)?;
    if century != 0 {
        return Err(UdiError::new(
            at,
            format!(
                "{what} date century digit {century}: only 0 (the years 2000 to 2099) is confirmed by ICCBBA's examples, so others are refused rather than guessed"
            ),
        ));
    }
    let year = 2000 + number(1..3)?;
    let day = number(3..6)?;
    let first = time::days_from_civil(year, 1, 1);
    let days_in_year = time::days_from_civil(year + 1, 1, 1) - first;
    if !(1..=days_in_year).contains(&day) {
        return Err(UdiError::new(
            at + 3,
            format!(
                "{what} date: day {day:03} of {year} does not exist (jjj is the day of the year, 001 to {days_in_year})"
            ),
        ));
    }
    Ok(time::format_date(first + day - 1))
}

/// The rules of a compound message (ST-001 §2.4.23; ST-017 §4): nothing between its
/// structures, `aa` counts those that follow, a device message begins with the PPIC, and a
/// specified sequence is one ST-017 lists, in its order.
fn check_compound_message(
    header: &Structure,
    following: &[Structure],
    separators: &[usize],
) -> Result<(), UdiError> {
    let end = following.last().map_or(header.end(), Structure::end);
    let (count, sequence) = header.content.split_at(2);
    let announced: usize = count
        .parse()
        .map_err(|_| UdiError::new(header.content_at, "expected two digits"))?;
    let specified = if sequence == "000" {
        None
    } else {
        let Some((_, order)) = SPECIFIED_SEQUENCES
            .iter()
            .find(|(number, _)| *number == sequence)
        else {
            // ST-001 §2.4.23: data is interpreted only once the sequence has been verified,
            // and only ST-017's device sequences are known here.
            return Err(UdiError::new(
                header.content_at + 2,
                format!(
                    "compound message sequence {sequence} is not one ST-017 specifies for devices (000 unspecified, or 034 to 037): its order cannot be verified"
                ),
            ));
        };
        if order.len() != announced {
            return Err(UdiError::new(
                header.content_at,
                format!(
                    "compound message sequence {sequence} has {} data structures, not {announced}",
                    order.len()
                ),
            ));
        }
        Some((sequence, order))
    };
    if following.len() > announced {
        return Err(UdiError::new(
            following[announced].identifier_at,
            format!(
                "the compound message announces {announced} data structures (=+{count}...); one more begins here"
            ),
        ));
    }
    if following.len() < announced {
        return Err(UdiError::new(
            end,
            format!(
                "the compound message announces {announced} data structures (=+{count}...); {} follow",
                following.len()
            ),
        ));
    }
    // Counted first: a structure past the announced ones is one too many, even in a symbol
    // of its own.
    if let Some(&gap) = separators
        .iter()
        .find(|&&p| p > header.identifier_at && p < end)
    {
        return Err(UdiError::new(
            gap,
            "nothing may come between the data structures of a compound message (ST-001 §2.4.23 rule 2)",
        ));
    }
    if let Some(first) = following.first()
        && first.definition.kind != Kind::ProcessorProductIdentificationCode
    {
        return Err(UdiError::new(
            first.identifier_at,
            "a device's compound message begins with its device identifier, the Processor Product Identification Code (=/) (ST-017 §4.1)",
        ));
    }
    if let Some((sequence, order)) = specified {
        for (structure, &kind) in following.iter().zip(order.iter()) {
            if structure.definition.kind != kind {
                let expected = Definition::of(kind);
                return Err(UdiError::new(
                    structure.identifier_at,
                    format!(
                        "compound message sequence {sequence} has {} (data structure {}) here (ST-017 Table 3)",
                        expected.label(),
                        expected.number
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_definition_has_the_content_length_st_001_gives() {
        let lengths: Vec<(&str, usize)> = DEFINITIONS
            .iter()
            .map(|d| (d.number, d.content.len()))
            .collect();
        assert_eq!(
            lengths,
            [
                ("023", 5),
                ("034", 16),
                ("001", 15),
                ("032", 6),
                ("004", 6),
                ("008", 6),
                ("035", 18)
            ]
        );
        for (index, definition) in DEFINITIONS.iter().enumerate() {
            assert_eq!(definition.kind as usize, index, "{}", definition.number);
        }
        for (identifier, ..) in OTHER_STRUCTURES {
            assert!(
                DEFINITIONS.iter().all(|d| d.identifier != identifier),
                "{identifier} is listed twice"
            );
        }
    }

    #[test]
    fn character_classes_leave_out_what_st_001_leaves_out() {
        assert!(!allowed(b'f', 'O') && allowed(b'f', '0') && allowed(b'f', 'P'));
        assert!(!allowed(b'i', '0') && !allowed(b'i', 'O') && allowed(b'i', '1'));
        for letter in ['I', 'O', 'Q', 'Z'] {
            assert!(!allowed(b'g', letter), "{letter}");
        }
        assert!(allowed(b'g', 'P') && allowed(b'g', 'Y'));
        assert!(!allowed(b'a', 'a') && !allowed(b'a', '-'));
    }

    #[test]
    fn ordinal_dates_know_leap_years() {
        assert_eq!(ordinal_date("019031", 0, "expiry").unwrap(), "2019-01-31");
        assert_eq!(ordinal_date("014032", 0, "expiry").unwrap(), "2014-02-01");
        assert_eq!(ordinal_date("024366", 0, "expiry").unwrap(), "2024-12-31");
        assert_eq!(ordinal_date("000060", 0, "expiry").unwrap(), "2000-02-29");
        let error = ordinal_date("023366", 10, "expiry").unwrap_err();
        assert_eq!(error.position, 13);
        assert!(error.rule.contains("day 366 of 2023"), "{error}");
        assert!(ordinal_date("019000", 0, "expiry").is_err());
        let error = ordinal_date("119031", 4, "expiry").unwrap_err();
        assert_eq!(error.position, 4);
        assert!(error.rule.contains("century digit 1"), "{error}");
    }

    #[test]
    fn the_st_017_figure_examples_read_as_st_017_reads_them() {
        // ST-017 §2.1 Figure 1 (PPIC) and §3.1 Figure 2 (DIN), with a division to make a UDI.
        let udi = parse("=/A9997AB3456T0123=A99991712345600=,000001").unwrap();
        assert_eq!(udi.device_identifier, "A9997AB3456T0123");
        assert_eq!(
            udi.donation_identification_number.as_deref(),
            Some("A999917123456")
        );
        assert_eq!(udi.serial.as_deref(), Some("000001"));
        assert_eq!(
            udi.elements,
            [
                ("=/".to_owned(), "A9997AB3456T0123".to_owned()),
                ("=".to_owned(), "A99991712345600".to_owned()),
                ("=,".to_owned(), "000001".to_owned()),
            ]
        );
    }

    #[test]
    fn the_st_017_compound_messages_give_the_same_udi_in_either_sequence() {
        // ST-017 §4.3.1 (unspecified sequence) and §4.3.2 (specified sequence 035).
        for message in [
            "=+04000=/A9997XYZ100T0479=A99991712345600=,000012=>019031",
            "=+04035=/A9997XYZ100T0479=,000012=A99991712345600=>019031",
        ] {
            let udi = parse(message).unwrap();
            assert_eq!(udi.agency, Agency::Iccbba);
            assert_eq!(udi.device_identifier, "A9997XYZ100T0479", "{message}");
            assert_eq!(udi.serial.as_deref(), Some("000012"), "{message}");
            assert_eq!(udi.expiry.as_deref(), Some("2019-01-31"), "{message}");
            assert_eq!(udi.unit().as_deref(), Some("A999917123456000012"));
            assert_eq!(udi.elements[0], ("=+".to_owned(), message[2..7].to_owned()));
        }
        // The unspecified order is refused under the specified sequence's number.
        let error = parse("=+04035=/A9997XYZ100T0479=A99991712345600=,000012=>019031").unwrap_err();
        assert_eq!(error.position, 25);
    }

    #[test]
    fn a_compound_message_must_count_its_structures() {
        let body = "=/A9997XYZ100T0479=A99991712345600=,000012";
        assert!(parse(&format!("=+03000{body}")).is_ok());
        let error = parse(&format!("=+02000{body}")).unwrap_err();
        assert_eq!(error.position, 7 + 34, "{error}");
        let error = parse(&format!("=+04000{body}")).unwrap_err();
        assert_eq!(error.position, 7 + body.len(), "{error}");
        assert!(error.rule.contains("announces 4"), "{error}");
        // A structure beyond the count is one too many, even scanned as a symbol of its own.
        let error = parse(&format!("=+03000{body} =>019031")).unwrap_err();
        assert_eq!(error.position, 7 + body.len() + 1, "{error}");
        assert!(error.rule.contains("one more begins here"), "{error}");
    }
}
