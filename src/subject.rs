//! The UDI front door: what a person types or scans, resolved to the unit or lot the ledger
//! knows. A serial or lot id is taken as it is; a UDI in any printed or scanned form (GS1 in
//! parentheses, the element string with GS separators and a symbology identifier, GS1
//! Digital Link, HIBCC, ISBT 128) is resolved by its device identifier and serial, or its
//! device identifier and lot for a lot-controlled product. A UDI whose device identifier is
//! not the product's UDI-DI is refused, naming both: a wrong product's label with a
//! matching serial must never open another device's record.

use crate::event::EntityKind;
use crate::store::{Store, StoreError};
use crate::udi;
use serde_json::Value;

/// How a UDI can begin: GS1 parentheses, HIBCC flag, symbology identifier, FNC1 as GS, ISBT
/// 128 data identifiers. No ledger identifier begins with '(', ']', '=' or '&'; one that
/// begins with '+' is tried as an id first.
const UDI_FIRST_CHARS: [char; 6] = ['(', '+', ']', '\u{1d}', '=', '&'];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectKind {
    Unit,
    Lot,
}

/// A unit or lot the ledger knows, and how it was named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub kind: SubjectKind,
    pub id: String,
    /// The device identifier of the UDI it was found by, when it was.
    pub by_udi: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SubjectError {
    #[error("{0} is neither a unit nor a lot the ledger knows")]
    NotFound(String),
    #[error("{input:?} is not a valid UDI: {source}")]
    BadUdi {
        input: String,
        source: udi::UdiError,
    },
    #[error(
        "the UDI's device identifier {scanned_di} is not {id}'s: {id} is of product {product}, UDI-DI {product_di} (another product's label?)"
    )]
    WrongDevice {
        id: String,
        scanned_di: String,
        product: String,
        product_di: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SubjectError {
    pub fn kind(&self) -> crate::ErrorKind {
        match self {
            SubjectError::NotFound(_) => crate::ErrorKind::NotFound,
            SubjectError::BadUdi { .. } | SubjectError::WrongDevice { .. } => {
                crate::ErrorKind::BadInput
            }
            SubjectError::Store(e) => e.kind(),
        }
    }
}

/// Whether `input` is to be read as a UDI rather than an id.
pub fn looks_like_udi(input: &str) -> bool {
    input.starts_with(UDI_FIRST_CHARS)
        || input.starts_with("http://")
        || input.starts_with("https://")
}

/// Resolves `input` (a serial, a lot, or a UDI in any form) to what the ledger knows.
///
/// # Errors
/// `NotFound`; `BadUdi` for text that looks like a UDI and does not parse; `WrongDevice`
/// when the UDI's device identifier is not the product's; a database error.
pub fn resolve(store: &Store, input: &str) -> Result<Subject, SubjectError> {
    let as_id = !looks_like_udi(input) || input.starts_with('+');
    if as_id && let Some((kind, _)) = kind_of(store, input)? {
        return Ok(Subject {
            kind,
            id: input.to_owned(),
            by_udi: None,
        });
    }
    if as_id && !input.starts_with('+') {
        // A scanner without a symbology identifier reports the bare element string
        // (`0105391234000207...`): no id of the ledger, but perhaps a UDI.
        return match udi::parse(input) {
            Ok(_) => resolve_udi(store, input),
            Err(_) => Err(SubjectError::NotFound(input.to_owned())),
        };
    }
    resolve_udi(store, input)
}

/// A UDI resolved by its device identifier and serial (a serialized device: the serial
/// must be a unit of the ledger), or by its device identifier and lot when it carries no
/// serial (the lot must be a lot of the ledger).
fn resolve_udi(store: &Store, input: &str) -> Result<Subject, SubjectError> {
    let parsed = udi::parse(input).map_err(|source| SubjectError::BadUdi {
        input: input.to_owned(),
        source,
    })?;
    // A label with a serial names that unit and nothing else: its lot value is the unit's
    // production lot, never another unit or lot to fall back on.
    let (id, wanted) = match parsed.unit() {
        Some(serial) => (serial, SubjectKind::Unit),
        None => match parsed.lot.clone() {
            Some(lot) => (lot, SubjectKind::Lot),
            None => return Err(SubjectError::NotFound(input.to_owned())),
        },
    };
    {
        let Some((kind, product)) = kind_of(store, &id)?.filter(|(kind, _)| *kind == wanted) else {
            return Err(SubjectError::NotFound(input.to_owned()));
        };
        if let Some(product) = product
            && let Some(product_di) = product_di(store, &product)?
            && product_di != parsed.device_identifier
        {
            return Err(SubjectError::WrongDevice {
                id,
                scanned_di: parsed.device_identifier.clone(),
                product,
                product_di,
            });
        }
        Ok(Subject {
            kind,
            id,
            by_udi: Some(parsed.device_identifier.clone()),
        })
    }
}

/// What defines `id`: a unit (`unit.started`) or a lot (received, produced, split off, merged
/// into), with the product of a unit or produced lot. A unit and a lot of the same id: the
/// first defined.
fn kind_of(store: &Store, id: &str) -> Result<Option<(SubjectKind, Option<String>)>, StoreError> {
    let first = |kind| -> Result<Option<crate::chain::Record>, StoreError> {
        Ok(store.records_defining(kind, id)?.into_iter().next())
    };
    let (unit, lot) = (first(EntityKind::Unit)?, first(EntityKind::Lot)?);
    let (kind, record) = match (unit, lot) {
        (Some(unit), Some(lot)) if lot.seq < unit.seq => (SubjectKind::Lot, lot),
        (Some(unit), _) => (SubjectKind::Unit, unit),
        (None, Some(lot)) => (SubjectKind::Lot, lot),
        (None, None) => return Ok(None),
    };
    let product = serde_json::from_str::<Value>(&record.event)
        .ok()
        .and_then(|e| e["data"]["product"].as_str().map(str::to_owned));
    Ok(Some((kind, product)))
}

/// The UDI-DI `product.defined` gives `product`, when it names an agency the UDI parser
/// reads (GS1, HIBCC, ICCBBA); a HIBCC DI written with its leading '+' flag without it, as
/// the parser gives it.
pub fn product_di(store: &Store, product: &str) -> Result<Option<String>, StoreError> {
    Ok(store
        .records_defining(EntityKind::Product, product)?
        .first()
        .and_then(|record| serde_json::from_str::<Value>(&record.event).ok())
        .and_then(|event| {
            let data = &event["data"];
            let parsed = ["GS1", "HIBCC", "ICCBBA"].contains(&data["agency"].as_str()?);
            let di = data["udi_di"]
                .as_str()
                .map(|d| d.trim_start_matches('+').to_owned());
            parsed.then_some(di)?
        }))
}
