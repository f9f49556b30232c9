//! The environment of an implantable (ISO 13485 7.5.9.2): for each controlled area it was
//! worked in, every sensor of the area (temperature, humidity, particles alike): the reading
//! in force when work there began and every reading during the work, each judged against the
//! limits recorded with it.

use super::DeviceHistoryError;
use super::build::{judged, limits, shown};
use super::model::{AreaEnvironment, Exception, ExceptionKind, Reading};
use super::records::Rec;
use crate::store::Store;
use crate::time::format_rfc3339_millis;

pub(super) struct Found {
    pub environment: AreaEnvironment,
    pub exceptions: Vec<Exception>,
}

/// The readings of `area` for the work done there from `start` to `end` (Unix milliseconds).
pub(super) fn area(
    store: &Store,
    area: &str,
    (start, end): (i64, i64),
) -> Result<Found, DeviceHistoryError> {
    // Through the area's readings by time: the cost is the answer's, however long the area
    // has been recorded.
    let mut found = Found {
        environment: AreaEnvironment {
            area: area.to_owned(),
            from: format_rfc3339_millis(start),
            to: format_rfc3339_millis(end),
            readings: Vec::new(),
        },
        exceptions: Vec::new(),
    };
    for record in store.records_at(&store.area_readings(area, start, end)?)? {
        let Some(r) = Rec::load(store, &record)? else {
            continue;
        };
        let mut measurements = Vec::new();
        for m in r.data["measurements"].as_array().into_iter().flatten() {
            let name = m["name"].as_str().unwrap_or("").to_owned();
            let (lsl, usl) = (m["lsl"].as_f64(), m["usl"].as_f64());
            let measurement = judged(m, name, lsl, usl, Vec::new());
            if measurement.in_limits == Some(false) {
                found.exceptions.push(Exception {
                    kind: ExceptionKind::EnvironmentOutOfLimits,
                    seq: Some(r.seq),
                    op: None,
                    detail: format!(
                        "area {area}, sensor {}: {} outside {} while the unit was worked there",
                        r.text("sensor").unwrap_or("?"),
                        shown(&measurement),
                        limits(lsl, usl)
                    ),
                    component: None,
                });
            }
            measurements.push(measurement);
        }
        found.environment.readings.push(Reading {
            seq: r.seq,
            occurred_at: r.occurred_at.clone(),
            sensor: r.owned("sensor").unwrap_or_default(),
            before_work: r.at.is_some_and(|at| at < start),
            measurements,
        });
    }
    if found.environment.readings.is_empty() {
        found.exceptions.push(Exception {
            kind: ExceptionKind::EnvironmentNotRecorded,
            seq: None,
            op: None,
            detail: format!(
                "no environment record of area {area} covers the time the unit was worked there"
            ),
            component: None,
        });
    }
    Ok(found)
}
