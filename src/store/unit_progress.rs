//! The KPI tables (`unit_progress.sql`): each unit's facts ([`UnitFact`]) applied as its
//! records are appended, rebuilt from the records alone, and read grouped by site, product
//! and month.

use super::{Store, StoreError};
use crate::event::{UnitFact, unit_fact};
use rusqlite::{Connection, OptionalExtension, params};

pub(super) const TABLES_SQL: &str = include_str!("unit_progress.sql");
pub(super) const TABLES: [&str; 4] = [
    "unit_progress",
    "unit_first_results",
    "unit_ncrs",
    "area_readings",
];

/// Which units a KPI read covers: `None` means any.
#[derive(Debug, Clone, Default)]
pub struct UnitGroupFilter {
    pub site: Option<String>,
    pub product: Option<String>,
    /// `YYYY-MM` or `YYYY`: units started then.
    pub period: Option<String>,
}

/// What the ledger knows of one unit, for the KPIs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitProgress {
    pub unit: String,
    pub site: String,
    pub product: String,
    pub period: String,
    pub started_at: String,
    pub released_at: Option<String>,
    pub scrapped: bool,
    pub nonconformances: u64,
    /// Some operation failed at its first try.
    pub failed_first_time: bool,
}

/// First-pass counts of one operation in one group: (site, product, period, op, units,
/// passed the first time).
pub type FirstPassRow = (String, String, String, String, u64, u64);

/// Open nonconformances in one group: (site, product, period, count).
pub type OpenNcrRow = (String, String, String, u64);

/// Applies one fact. Facts arrive in seq order; a fact about a unit not started is kept
/// (its step results wait for a start that would be a second definition, which ingest
/// refuses) but counts nowhere.
pub(super) fn apply(conn: &Connection, seq: u64, fact: &UnitFact) -> rusqlite::Result<()> {
    match fact {
        UnitFact::Started {
            unit,
            site,
            product,
            started_at,
        } => {
            let period = started_at.get(..7).unwrap_or("");
            conn.prepare_cached(
                "INSERT OR IGNORE INTO unit_progress (unit, site, product, period, started_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![unit, site, product, period, started_at])?;
        }
        UnitFact::StepResult { unit, op, passed } => {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO unit_first_results (unit, op, passed) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![unit, op, passed])?;
        }
        UnitFact::Released { unit, at } => {
            conn.prepare_cached("UPDATE unit_progress SET released_at = ?2 WHERE unit = ?1")?
                .execute(params![unit, at])?;
        }
        UnitFact::Scrapped { unit } => {
            conn.prepare_cached("UPDATE unit_progress SET scrapped = 1 WHERE unit = ?1")?
                .execute(params![unit])?;
        }
        UnitFact::NcrOpened { ncr, unit } => {
            conn.prepare_cached("INSERT OR IGNORE INTO unit_ncrs (ncr, unit) VALUES (?1, ?2)")?
                .execute(params![ncr, unit])?;
        }
        UnitFact::NcrDispositioned { ncr } => {
            conn.prepare_cached("UPDATE unit_ncrs SET dispositioned = 1 WHERE ncr = ?1")?
                .execute(params![ncr])?;
        }
        UnitFact::AreaReading {
            area,
            sensor,
            at_millis,
        } => {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO area_readings (area, sensor, at_millis, seq)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![area, sensor, at_millis, seq as i64])?;
        }
    }
    Ok(())
}

/// Empties the KPI tables and refills them from the records, in seq order. Returns the
/// number of facts applied.
pub(super) fn rebuild(conn: &Connection) -> Result<u64, StoreError> {
    conn.execute_batch(
        "DELETE FROM unit_progress; DELETE FROM unit_first_results; DELETE FROM unit_ncrs;
         DELETE FROM area_readings;",
    )?;
    super::replay(
        conn,
        "'unit.started', 'step.completed', 'unit.released', 'unit.scrapped',
         'nonconformance.opened', 'nonconformance.dispositioned', 'environment.recorded'",
        |seq, event| match unit_fact(event) {
            Some(fact) => apply(conn, seq, &fact).map(|()| true),
            None => Ok(false),
        },
    )
}

/// Empties `area_readings` and refills it from the environment records alone (the schema 5
/// migration: the other KPI tables are unchanged). Returns the readings applied.
pub(super) fn rebuild_area_readings(conn: &Connection) -> Result<u64, StoreError> {
    conn.execute_batch("DELETE FROM area_readings;")?;
    super::replay(
        conn,
        "'environment.recorded'",
        |seq, event| match unit_fact(event) {
            Some(fact @ UnitFact::AreaReading { .. }) => apply(conn, seq, &fact).map(|()| true),
            _ => Ok(false),
        },
    )
}

const GROUP_WHERE: &str = "(?1 IS NULL OR u.site = ?1) AND (?2 IS NULL OR u.product = ?2)
     AND (?3 IS NULL OR substr(u.period, 1, length(?3)) = ?3)";

impl Store {
    /// The seqs of `area`'s environment readings that show the conditions of work there from
    /// `from_millis` to `to_millis`: for each sensor of the area, the last reading at or
    /// before `from_millis` (the one in force when work began), and every reading of the
    /// area during `[from_millis, to_millis]`; in (time, seq) order, each once. Each sensor
    /// costs a seek and its readings in the window, however long the area has been recorded.
    ///
    /// # Errors
    /// A database error.
    pub fn area_readings(
        &self,
        area: &str,
        from_millis: i64,
        to_millis: i64,
    ) -> Result<Vec<u64>, StoreError> {
        // The area's sensors, one seek each past the last one found.
        let mut first_sensor = self.conn.prepare_cached(
            "SELECT sensor FROM area_readings WHERE area = ?1 ORDER BY sensor LIMIT 1",
        )?;
        let mut next_sensor = self.conn.prepare_cached(
            "SELECT sensor FROM area_readings WHERE area = ?1 AND sensor > ?2
             ORDER BY sensor LIMIT 1",
        )?;
        let mut in_force = self.conn.prepare_cached(
            "SELECT at_millis, seq FROM area_readings
             WHERE area = ?1 AND sensor = ?2 AND at_millis <= ?3
             ORDER BY at_millis DESC, seq DESC LIMIT 1",
        )?;
        let mut during = self.conn.prepare_cached(
            "SELECT at_millis, seq FROM area_readings
             WHERE area = ?1 AND sensor = ?2 AND at_millis BETWEEN ?3 AND ?4",
        )?;
        let mut found = std::collections::BTreeSet::new();
        let mut sensor: Option<String> = first_sensor
            .query_row(params![area], |row| row.get(0))
            .optional()?;
        while let Some(current) = sensor {
            let before: Option<(i64, i64)> = in_force
                .query_row(params![area, current, from_millis], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .optional()?;
            found.extend(before);
            let rows = during.query_map(params![area, current, from_millis, to_millis], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?))
            })?;
            for row in rows {
                found.insert(row?);
            }
            sensor = next_sensor
                .query_row(params![area, current], |row| row.get(0))
                .optional()?;
        }
        Ok(found
            .into_iter()
            .filter_map(|(_, seq)| u64::try_from(seq).ok())
            .collect())
    }

    /// Visits every started unit the filter covers.
    ///
    /// # Errors
    /// A database error.
    pub fn for_each_unit_progress<F>(
        &self,
        filter: &UnitGroupFilter,
        mut visit: F,
    ) -> Result<(), StoreError>
    where
        F: FnMut(UnitProgress),
    {
        let mut statement = self.conn.prepare(&format!(
            "SELECT u.site, u.product, u.period, u.started_at, u.released_at, u.scrapped,
                    (SELECT COUNT(*) FROM unit_ncrs n WHERE n.unit = u.unit),
                    EXISTS (SELECT 1 FROM unit_first_results r WHERE r.unit = u.unit AND r.passed = 0),
                    u.unit
             FROM unit_progress u WHERE {GROUP_WHERE}"
        ))?;
        let mut rows = statement.query(params![filter.site, filter.product, filter.period])?;
        while let Some(row) = rows.next()? {
            visit(UnitProgress {
                unit: row.get(8)?,
                site: row.get(0)?,
                product: row.get(1)?,
                period: row.get(2)?,
                started_at: row.get(3)?,
                released_at: row.get(4)?,
                scrapped: row.get(5)?,
                nonconformances: row.get::<_, i64>(6)?.try_into().unwrap_or(0),
                failed_first_time: row.get(7)?,
            });
        }
        Ok(())
    }

    /// First-pass counts per group and operation.
    ///
    /// # Errors
    /// A database error.
    pub fn first_pass_by_group(
        &self,
        filter: &UnitGroupFilter,
    ) -> Result<Vec<FirstPassRow>, StoreError> {
        let mut statement = self.conn.prepare(&format!(
            "SELECT u.site, u.product, u.period, r.op, COUNT(*), SUM(r.passed)
             FROM unit_first_results r JOIN unit_progress u ON u.unit = r.unit
             WHERE {GROUP_WHERE} GROUP BY u.site, u.product, u.period, r.op"
        ))?;
        let rows =
            statement.query_map(params![filter.site, filter.product, filter.period], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get::<_, i64>(4)?.try_into().unwrap_or(0),
                    row.get::<_, i64>(5)?.try_into().unwrap_or(0),
                ))
            })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Nonconformances without a disposition, per group.
    ///
    /// # Errors
    /// A database error.
    pub fn open_ncrs_by_group(
        &self,
        filter: &UnitGroupFilter,
    ) -> Result<Vec<OpenNcrRow>, StoreError> {
        let mut statement = self.conn.prepare(&format!(
            "SELECT u.site, u.product, u.period, COUNT(*)
             FROM unit_ncrs n JOIN unit_progress u ON u.unit = n.unit
             WHERE n.dispositioned = 0 AND {GROUP_WHERE} GROUP BY u.site, u.product, u.period"
        ))?;
        let rows =
            statement.query_map(params![filter.site, filter.product, filter.period], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get::<_, i64>(3)?.try_into().unwrap_or(0),
                ))
            })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
