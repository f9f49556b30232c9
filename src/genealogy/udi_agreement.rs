//! Does the UDI an installing station scanned identify the component the record names?
//!
//! A `component.installed` names the component by its serial (`component`) and may carry the
//! UDI scanned off it (`component_udi`). When the ledger knows that serial (a `unit.started`
//! for it, at any site) the component is descended in a trace, and the scan is checked
//! against it: the scanned UDI (any form `crate::udi::parse` reads: GS1 in parentheses, the
//! raw element string with GS separators and a symbology identifier, Digital Link, HIBCC,
//! ISBT 128) must carry the UDI-DI of the component's product (`product.defined`'s `udi_di`,
//! without a HIBCC `+`) and the component's serial ([`crate::udi::Udi::unit`]: for ISBT 128
//! the DIN followed by the serial). The DI is compared only when the product names an agency
//! the parser knows and a `udi_di`.
//!
//! [`component_udi_agreement`] is the check for other projections (the DHR raises a
//! `component_udi_mismatch` exception from it); traces flag a disagreement on the node.

use super::model::UdiMismatch;
use crate::event::EntityKind;
use crate::store::{Store, StoreError};
use crate::udi;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

/// What [`component_udi_agreement`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "agreement", rename_all = "snake_case")]
pub enum UdiAgreement {
    /// The ledger knows no unit of that serial: a component made elsewhere, known by the UDI
    /// alone (nothing to compare it with).
    External,
    /// The scanned UDI carries the component's product DI and its serial.
    Agrees,
    /// It does not (or does not parse).
    Mismatch(UdiMismatch),
}

/// Checks the UDI scanned at installation (`scanned_udi`) against the component the ledger
/// knows by `component_serial` (its `unit.started` and its product's `product.defined`).
///
/// # Errors
/// A database error.
pub fn component_udi_agreement(
    store: &Store,
    component_serial: &str,
    scanned_udi: &str,
) -> Result<UdiAgreement, StoreError> {
    let Some(product) = started_product(store, component_serial)? else {
        return Ok(UdiAgreement::External);
    };
    let expected_di = ProductDis::default().di(store, product.as_deref())?;
    Ok(
        match compare(component_serial, expected_di.as_deref(), scanned_udi) {
            None => UdiAgreement::Agrees,
            Some(mismatch) => UdiAgreement::Mismatch(mismatch),
        },
    )
}

/// `Some(product)` when a `unit.started` defines `serial` (the product `None` if it names
/// none); `None` when the ledger knows no such unit.
pub(super) fn started_product(
    store: &Store,
    serial: &str,
) -> Result<Option<Option<String>>, StoreError> {
    let records = store.records_defining(EntityKind::Unit, serial)?;
    let Some(record) = records.first() else {
        return Ok(None);
    };
    let product = serde_json::from_str::<Value>(&record.event)
        .ok()
        .and_then(|event| event["data"]["product"].as_str().map(str::to_owned));
    Ok(Some(product))
}

/// Products' UDI-DIs, each read once per trace.
#[derive(Default)]
pub(super) struct ProductDis {
    known: HashMap<String, Option<String>>,
}

impl ProductDis {
    /// The UDI-DI `product.defined` gives `product`, when it names an agency the parser knows.
    pub(super) fn di(
        &mut self,
        store: &Store,
        product: Option<&str>,
    ) -> Result<Option<String>, StoreError> {
        let Some(product) = product else {
            return Ok(None);
        };
        if let Some(di) = self.known.get(product) {
            return Ok(di.clone());
        }
        let di = crate::subject::product_di(store, product)?;
        self.known.insert(product.to_owned(), di.clone());
        Ok(di)
    }
}

/// The scanned UDI against the component's serial and its product's DI: `None` when they
/// agree.
pub(super) fn compare(
    component_serial: &str,
    expected_di: Option<&str>,
    scanned_udi: &str,
) -> Option<UdiMismatch> {
    let mut mismatch = UdiMismatch {
        scanned_udi: scanned_udi.to_owned(),
        scanned_di: None,
        scanned_serial: None,
        expected_di: expected_di.map(str::to_owned),
        expected_serial: component_serial.to_owned(),
        parse_error: None,
    };
    match udi::parse(scanned_udi) {
        Ok(parsed) => {
            let serial = parsed.unit();
            let di_agrees = expected_di.is_none_or(|di| di == parsed.device_identifier);
            let serial_agrees = serial.as_deref() == Some(component_serial);
            if di_agrees && serial_agrees {
                return None;
            }
            mismatch.scanned_di = Some(parsed.device_identifier);
            mismatch.scanned_serial = serial;
        }
        Err(e) => mismatch.parse_error = Some(e.to_string()),
    }
    Some(mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DI: &str = "05399123450027";

    #[test]
    fn every_scanned_form_of_the_components_udi_agrees() {
        for scanned in [
            "(01)05399123450027(21)PM-1",
            "]d2\u{1d}0105399123450027\u{1d}21PM-1",
            "]C10105399123450027\u{1d}21PM-1",
            "0105399123450027\u{1d}21PM-1",
            "https://id.gs1.org/01/05399123450027/21/PM-1",
        ] {
            assert_eq!(compare("PM-1", Some(DI), scanned), None, "{scanned:?}");
        }
    }

    #[test]
    fn another_di_another_serial_or_no_udi_at_all_is_a_mismatch() {
        let other_di = compare("PM-1", Some(DI), "(01)05399123450010(21)PM-1").unwrap();
        assert_eq!(
            (
                other_di.scanned_di.as_deref(),
                other_di.expected_di.as_deref()
            ),
            (Some("05399123450010"), Some(DI))
        );
        let other_serial = compare("PM-1", Some(DI), "(01)05399123450027(21)PM-2").unwrap();
        assert_eq!(other_serial.scanned_serial.as_deref(), Some("PM-2"));
        assert_eq!(other_serial.expected_serial, "PM-1");
        let garbage = compare("PM-1", Some(DI), "(01)0539912345002").unwrap();
        assert!(garbage.parse_error.is_some());
        // No DI to compare with: the serial alone decides.
        assert_eq!(compare("PM-1", None, "(01)05399123450010(21)PM-1"), None);
    }
}
