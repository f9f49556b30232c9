//! The UDI on a label must be the device's: at ingest, the UDI of `unit.started`,
//! `label.printed` and `lot.produced` is parsed, and its device identifier must be the
//! product's `udi_di` and its serial (or lot) the unit's (or lot's). A mismatch is wrong data
//! and is refused (`udi_mismatch`); an unparseable UDI is `invalid_udi`. What a scanner reads
//! back (`label.verified`) is a fact on the floor and is never refused here: the DHR flags it.
//!
//! GS1, HIBCC and ICCBBA (ISBT 128) UDIs are parsed. An ISBT 128 unit is named by its DIN
//! followed by its serial (the Product Divisions code), which alone is unique only within one
//! donation ([`udi::Udi::unit`]).

use crate::event::{EntityKind, RejectCode, Rejection, ValidEvent};
use crate::store::{Appender, StoreError};
use crate::udi;
use serde_json::Value;
use std::collections::HashMap;

/// Units and lots whose product is remembered, at most; then the memory starts over.
const REMEMBERED_MAX: usize = 50_000;

/// What the first stage extracts from an event whose UDI must match: the parsed UDI and the
/// names it must match.
#[derive(Debug, Clone)]
pub(super) struct LabelUdi {
    agency: udi::Agency,
    device_identifier: String,
    /// The unit the UDI names, as the ledger names units ([`udi::Udi::unit`]).
    unit_named: Option<String>,
    lot: Option<String>,
    product: Option<String>,
    unit: Option<String>,
    labelled_lot: Option<String>,
    event_type: String,
}

/// First stage: parses the UDI that `unit.started`, `label.printed` and `lot.produced` carry.
///
/// # Errors
/// `invalid_udi` with the position and the rule broken.
pub(super) fn parse_event_udi(event: &ValidEvent) -> Result<Option<LabelUdi>, Rejection> {
    if !matches!(
        event.event_type.as_str(),
        "unit.started" | "label.printed" | "lot.produced"
    ) {
        return Ok(None);
    }
    let data = &event.value["data"];
    let Some(text) = data.get("udi").and_then(Value::as_str) else {
        return Ok(None);
    };
    let parsed = match udi::parse(text) {
        Ok(parsed) => parsed,
        Err(e) => {
            return Err(Rejection::new(
                RejectCode::InvalidUdi,
                Some("/data/udi".to_owned()),
                format!("not a valid UDI: {e}"),
            ));
        }
    };
    let text_of = |name: &str| data.get(name).and_then(Value::as_str).map(str::to_owned);
    Ok(Some(LabelUdi {
        agency: parsed.agency,
        unit_named: parsed.unit(),
        device_identifier: parsed.device_identifier,
        lot: parsed.lot,
        product: text_of("product"),
        unit: text_of("unit"),
        labelled_lot: text_of("lot"),
        event_type: event.event_type.clone(),
    }))
}

/// Second stage memory: products' UDI-DIs and the products of units and lots.
#[derive(Default)]
pub(super) struct UdiMemory {
    /// Product to its UDI-DI (`None` when the product names no agency the parser knows).
    products: HashMap<String, Option<String>>,
    /// Unit or lot to its product.
    made_of: HashMap<(EntityKind, String), String>,
}

impl UdiMemory {
    fn product_di(
        &mut self,
        appender: &Appender<'_>,
        product: &str,
    ) -> Result<Option<String>, StoreError> {
        if let Some(di) = self.products.get(product) {
            return Ok(di.clone());
        }
        let di = appender
            .defining_event(EntityKind::Product, product)?
            .and_then(|event| serde_json::from_str::<Value>(&event).ok())
            .and_then(|event| {
                let data = &event["data"];
                let parsed = ["GS1", "HIBCC", "ICCBBA"].contains(&data["agency"].as_str()?);
                // A HIBCC DI may be written with its '+' flag; the parser's DI has none.
                let di = data["udi_di"]
                    .as_str()
                    .map(|d| d.trim_start_matches('+').to_owned());
                parsed.then_some(di)?
            });
        self.products.insert(product.to_owned(), di.clone());
        Ok(di)
    }

    fn product_of(
        &mut self,
        appender: &Appender<'_>,
        kind: EntityKind,
        id: &str,
    ) -> Result<Option<String>, StoreError> {
        if let Some(product) = self.made_of.get(&(kind, id.to_owned())) {
            return Ok(Some(product.clone()));
        }
        let product = appender
            .defining_event(kind, id)?
            .and_then(|event| serde_json::from_str::<Value>(&event).ok())
            .and_then(|event| event["data"]["product"].as_str().map(str::to_owned));
        if let Some(product) = &product {
            self.remember(kind, id, product);
        }
        Ok(product)
    }

    /// After a `unit.started` or `lot.produced` is appended: its unit or lot is of its product.
    pub(super) fn recorded(&mut self, label: &LabelUdi) {
        let subject = match label.event_type.as_str() {
            "unit.started" => label.unit.as_ref().map(|u| (EntityKind::Unit, u)),
            "lot.produced" => label.labelled_lot.as_ref().map(|l| (EntityKind::Lot, l)),
            _ => None,
        };
        if let (Some((kind, id)), Some(product)) = (subject, &label.product) {
            self.remember(kind, id, product);
        }
    }

    fn remember(&mut self, kind: EntityKind, id: &str, product: &str) {
        if self.made_of.len() >= REMEMBERED_MAX {
            self.made_of.clear();
        }
        self.made_of
            .insert((kind, id.to_owned()), product.to_owned());
    }

    /// Second stage: the UDI against the ledger. `Ok(Some(rejection))` for a mismatch.
    pub(super) fn check(
        &mut self,
        appender: &Appender<'_>,
        label: &LabelUdi,
    ) -> Result<Option<Rejection>, StoreError> {
        // Which device or lot the UDI must identify, and its product.
        let (subject, product) = match label.event_type.as_str() {
            "unit.started" => (
                label.unit.clone().map(|u| (EntityKind::Unit, u)),
                label.product.clone(),
            ),
            "lot.produced" => (
                label.labelled_lot.clone().map(|l| (EntityKind::Lot, l)),
                label.product.clone(),
            ),
            _ => match (&label.unit, &label.labelled_lot) {
                (Some(unit), _) => (
                    Some((EntityKind::Unit, unit.clone())),
                    self.product_of(appender, EntityKind::Unit, unit)?,
                ),
                (None, Some(lot)) => (
                    Some((EntityKind::Lot, lot.clone())),
                    self.product_of(appender, EntityKind::Lot, lot)?,
                ),
                (None, None) => (None, None),
            },
        };
        let (Some((kind, id)), Some(product)) = (subject, product) else {
            return Ok(None);
        };
        let Some(expected_di) = self.product_di(appender, &product)? else {
            return Ok(None);
        };
        let mismatch = |what: String| {
            Ok(Some(Rejection::new(
                RejectCode::UdiMismatch,
                Some("/data/udi".to_owned()),
                what,
            )))
        };
        if label.device_identifier != expected_di {
            return mismatch(format!(
                "the UDI's device identifier {} is not product {product}'s UDI-DI {expected_di}",
                label.device_identifier
            ));
        }
        let (carried, name) = match (kind, label.agency) {
            (EntityKind::Unit, udi::Agency::Iccbba) => {
                (&label.unit_named, "DIN and serial (=, Product Divisions)")
            }
            (EntityKind::Unit, _) => (&label.unit_named, "serial (21)"),
            (_, udi::Agency::Iccbba) => (&label.lot, "lot (&,1)"),
            _ => (&label.lot, "lot (10)"),
        };
        match carried {
            Some(value) if *value == id => Ok(None),
            Some(value) => mismatch(format!("the UDI's {name} is {value}, not {kind} {id}")),
            None => mismatch(format!("the UDI carries no {name} for {kind} {id}")),
        }
    }
}
