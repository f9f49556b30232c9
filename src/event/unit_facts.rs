//! What an event says about a unit's way through production, in the few facts the plant
//! KPIs are made of: started (where, which product, when), the result of an operation,
//! released, scrapped, a nonconformance opened on it or dispositioned; and one fact about a
//! clean-room area: an environment reading at a time, which the DHR of an implantable looks
//! up by area and time.
//!
//! Read from one event alone, so that the ledger can keep its derived tables up to date as
//! it appends (and rebuild them from the records alone) without scanning the log for a query.

use serde_json::Value;

/// One fact about a unit, from one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitFact {
    Started {
        unit: String,
        site: String,
        product: String,
        /// `occurred_at` as sent; the KPI period is its first seven characters (`YYYY-MM`).
        started_at: String,
    },
    /// A `step.completed` on the unit: only the first result per operation counts for
    /// first-pass yield and right-first-time.
    StepResult {
        unit: String,
        op: String,
        passed: bool,
    },
    Released {
        unit: String,
        at: String,
    },
    Scrapped {
        unit: String,
    },
    NcrOpened {
        ncr: String,
        unit: String,
    },
    NcrDispositioned {
        ncr: String,
    },
    /// An `environment.recorded` of `area` by `sensor` (a temperature and humidity probe, a
    /// particle counter: an area has several, each reading at its own rate), at
    /// `occurred_at` in Unix milliseconds.
    AreaReading {
        area: String,
        sensor: String,
        at_millis: i64,
    },
}

/// The fact `event` (a whole event object) states about a unit, if any.
pub fn unit_fact(event: &Value) -> Option<UnitFact> {
    let event_type = event.get("type").and_then(Value::as_str)?;
    let data = event.get("data")?;
    let text =
        |value: &Value, name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
    let fact = match event_type {
        "unit.started" => UnitFact::Started {
            unit: text(data, "unit")?,
            site: text(event, "site")?,
            product: text(data, "product")?,
            started_at: text(event, "occurred_at")?,
        },
        "step.completed" => UnitFact::StepResult {
            unit: text(data, "unit")?,
            op: text(data, "op").unwrap_or_else(|| "?".to_owned()),
            passed: data.get("result").and_then(Value::as_str) == Some("pass"),
        },
        "unit.released" => UnitFact::Released {
            unit: text(data, "unit")?,
            at: text(event, "occurred_at")?,
        },
        "unit.scrapped" => UnitFact::Scrapped {
            unit: text(data, "unit")?,
        },
        "nonconformance.opened" => UnitFact::NcrOpened {
            ncr: text(data, "ncr")?,
            unit: text(data, "unit")?,
        },
        "nonconformance.dispositioned" => UnitFact::NcrDispositioned {
            ncr: text(data, "ncr")?,
        },
        "environment.recorded" => UnitFact::AreaReading {
            area: text(data, "area")?,
            // Required by the schema; a reading without one is still the area's.
            sensor: text(data, "sensor").unwrap_or_default(),
            at_millis: crate::time::parse_rfc3339_millis(&text(event, "occurred_at")?)?,
        },
        _ => return None,
    };
    Some(fact)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_lot_step_and_an_ncr_on_a_lot_are_no_unit_facts() {
        let step = json!({"type": "step.completed", "site": "GAL", "occurred_at": "2026-01-05T10:00:00Z",
            "data": {"lot": "L-1", "op": "10", "result": "pass"}});
        assert_eq!(unit_fact(&step), None);
        let ncr = json!({"type": "nonconformance.opened", "site": "GAL", "occurred_at": "2026-01-05T10:00:00Z",
            "data": {"ncr": "NCR-1", "lot": "L-1"}});
        assert_eq!(unit_fact(&ncr), None);
    }

    #[test]
    fn an_environment_reading_names_its_area_and_sensor() {
        let reading = json!({"type": "environment.recorded", "site": "GAL", "occurred_at": "2026-01-05T10:00:00.250Z",
            "data": {"area": "CR-ISO7-GAL", "sensor": "CR-ISO7-GAL-TH1",
                "measurements": [{"name": "temperature", "value": 21.0, "unit": "Cel"}]}});
        assert_eq!(
            unit_fact(&reading),
            Some(UnitFact::AreaReading {
                area: "CR-ISO7-GAL".to_owned(),
                sensor: "CR-ISO7-GAL-TH1".to_owned(),
                at_millis: 1_767_607_200_250,
            })
        );
    }

    #[test]
    fn a_failed_step_is_a_result_that_did_not_pass() {
        let step = json!({"type": "step.completed", "site": "GAL", "occurred_at": "2026-01-05T10:00:00Z",
            "data": {"unit": "SN1", "op": "30", "result": "fail"}});
        assert_eq!(
            unit_fact(&step),
            Some(UnitFact::StepResult {
                unit: "SN1".to_owned(),
                op: "30".to_owned(),
                passed: false
            })
        );
    }
}
