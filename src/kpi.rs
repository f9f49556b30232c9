//! Plant KPIs rebuilt from the log: units started, released and scrapped, right-first-time,
//! first-pass yield per operation, release cycle time (median and p90) and open
//! nonconformances, by site, product and period (the month the unit was started).
//!
//! A projection over the KPI tables the ledger keeps as it appends (`unit_progress`, from
//! each event's [`crate::event::UnitFact`]): a query reads one row per unit of the groups
//! asked for and never scans the log. [`kpis_from_log`] computes the same from the records
//! themselves, the reference the tables are tested against. Memory grows with the number of
//! groups and, for the cycle-time quantiles, one number per released unit.

use crate::store::{LogFilter, Store, StoreError, UnitGroupFilter, UnitProgress};
use crate::time::parse_rfc3339_millis;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::ops::ControlFlow;

/// Which units a KPI report covers: a site, a product, a month (`YYYY-MM`) or year the
/// units were started in; `None` for any.
pub type KpiQuery = UnitGroupFilter;

/// First-pass yield of one operation.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OperationYield {
    pub units: u64,
    pub passed_first_time: u64,
    pub first_pass_yield: Option<f64>,
}

/// The name and version of the KPI JSON (`kpi --json`, schemas/output/kpi.schema.json).
pub const FORMAT: &str = "traceledger.kpi/1";

/// The KPIs as `kpi --json` prints them: the format, the filter, one group per site,
/// product and month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KpiReport<'g> {
    pub format: &'static str,
    pub site: Option<&'g str>,
    pub product: Option<&'g str>,
    pub period: Option<&'g str>,
    pub groups: &'g [KpiGroup],
}

impl<'g> KpiReport<'g> {
    pub fn new(query: &'g KpiQuery, groups: &'g [KpiGroup]) -> KpiReport<'g> {
        KpiReport {
            format: FORMAT,
            site: query.site.as_deref(),
            product: query.product.as_deref(),
            period: query.period.as_deref(),
            groups,
        }
    }
}

/// The KPIs of one site, product and month.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KpiGroup {
    pub site: String,
    pub product: String,
    pub period: String,
    pub started: u64,
    pub released: u64,
    pub scrapped: u64,
    /// Units that passed every operation the first time and had no nonconformance, of
    /// those released or scrapped.
    pub right_first_time: u64,
    pub right_first_time_rate: Option<f64>,
    pub release_cycle_hours_median: Option<f64>,
    pub release_cycle_hours_p90: Option<f64>,
    /// Nonconformances opened on these units that have no disposition yet.
    pub open_nonconformances: u64,
    pub first_pass_yield_by_op: BTreeMap<String, OperationYield>,
    #[serde(skip)]
    cycle_hours: Vec<f64>,
}

/// Computes the KPIs, one group per (site, product, month), in that order, from the KPI
/// tables.
///
/// # Errors
/// A database error.
pub fn kpis(store: &Store, query: &KpiQuery) -> Result<Vec<KpiGroup>, StoreError> {
    let mut groups: BTreeMap<(String, String, String), KpiGroup> = BTreeMap::new();
    store.for_each_unit_progress(query, |unit| {
        let group = group_of(&mut groups, &unit.site, &unit.product, &unit.period);
        add_progress(group, &unit);
    })?;
    for (site, product, period, op, units, passed) in store.first_pass_by_group(query)? {
        let group = group_of(&mut groups, &site, &product, &period);
        let entry = group.first_pass_yield_by_op.entry(op).or_default();
        entry.units += units;
        entry.passed_first_time += passed;
    }
    for (site, product, period, open) in store.open_ncrs_by_group(query)? {
        group_of(&mut groups, &site, &product, &period).open_nonconformances += open;
    }
    Ok(finish(groups))
}

fn group_of<'g>(
    groups: &'g mut BTreeMap<(String, String, String), KpiGroup>,
    site: &str,
    product: &str,
    period: &str,
) -> &'g mut KpiGroup {
    groups
        .entry((site.to_owned(), product.to_owned(), period.to_owned()))
        .or_insert_with(|| KpiGroup {
            site: site.to_owned(),
            product: product.to_owned(),
            period: period.to_owned(),
            ..KpiGroup::default()
        })
}

/// Counts one unit: started, released or scrapped, its cycle time, right first time
/// (released, not scrapped, every operation passed at its first try, no nonconformance).
fn add_progress(group: &mut KpiGroup, unit: &UnitProgress) {
    group.started += 1;
    if unit.scrapped {
        group.scrapped += 1;
    } else if let Some(released) = &unit.released_at {
        group.released += 1;
        if let (Some(start), Some(end)) = (
            parse_rfc3339_millis(&unit.started_at),
            parse_rfc3339_millis(released),
        ) {
            group.cycle_hours.push((end - start) as f64 / 3_600_000.0);
        }
    }
    if !unit.scrapped
        && unit.released_at.is_some()
        && unit.nonconformances == 0
        && !unit.failed_first_time
    {
        group.right_first_time += 1;
    }
}

/// The rates and quantiles of each group, in group order.
fn finish(groups: BTreeMap<(String, String, String), KpiGroup>) -> Vec<KpiGroup> {
    let mut out: Vec<KpiGroup> = groups.into_values().collect();
    for group in &mut out {
        let done = group.released + group.scrapped;
        group.right_first_time_rate =
            (done > 0).then(|| group.right_first_time as f64 / done as f64);
        for op in group.first_pass_yield_by_op.values_mut() {
            op.first_pass_yield =
                (op.units > 0).then(|| op.passed_first_time as f64 / op.units as f64);
        }
        group.cycle_hours.sort_by(f64::total_cmp);
        group.release_cycle_hours_median = quantile(&group.cycle_hours, 0.5);
        group.release_cycle_hours_p90 = quantile(&group.cycle_hours, 0.9);
    }
    out
}

/// [`kpis`] computed from the records alone, walking each started unit's records through
/// the entity index: slow (it reads every record of every unit), the reference the KPI
/// tables are held to.
///
/// # Errors
/// A database error.
pub fn kpis_from_log(store: &Store, query: &KpiQuery) -> Result<Vec<KpiGroup>, StoreError> {
    let mut groups: BTreeMap<(String, String, String), KpiGroup> = BTreeMap::new();
    let mut failure = None;
    let starts = LogFilter {
        types: vec!["unit.started".to_owned()],
        ..LogFilter::default()
    };
    store.for_each_logged(&starts, |record, _| {
        let Ok(event) = serde_json::from_str::<Value>(&record.event) else {
            return ControlFlow::Continue(());
        };
        let text =
            |v: &Value, name: &str| v.get(name).and_then(Value::as_str).unwrap_or("").to_owned();
        let site = text(&event, "site");
        let product = text(&event["data"], "product");
        let unit = text(&event["data"], "unit");
        let started_at = text(&event, "occurred_at");
        let period = started_at.get(..7).unwrap_or("").to_owned();
        if query.site.as_ref().is_some_and(|s| *s != site)
            || query.product.as_ref().is_some_and(|p| *p != product)
            || query
                .period
                .as_ref()
                .is_some_and(|p| !period.starts_with(p.as_str()))
        {
            return ControlFlow::Continue(());
        }
        let group = group_of(&mut groups, &site, &product, &period);
        match add_unit(store, group, &unit, &started_at) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                failure = Some(e);
                ControlFlow::Break(())
            }
        }
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(finish(groups))
}

/// Nearest-rank quantile of sorted values.
fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.clamp(1, sorted.len()) - 1)
        .map(|v| (v * 100.0).round() / 100.0)
}

fn add_unit(
    store: &Store,
    group: &mut KpiGroup,
    unit: &str,
    started_at: &str,
) -> Result<(), StoreError> {
    let filter = LogFilter {
        entity: Some(unit.to_owned()),
        ..LogFilter::default()
    };
    let mut first_result: BTreeMap<String, bool> = BTreeMap::new();
    let (mut released_at, mut scrapped, mut ncrs) = (None, false, Vec::new());
    store.for_each_logged(&filter, |record, event_type| {
        let Ok(event) = serde_json::from_str::<Value>(&record.event) else {
            return ControlFlow::Continue(());
        };
        let data = &event["data"];
        if data.get("unit").and_then(Value::as_str) != Some(unit) {
            return ControlFlow::Continue(());
        }
        match event_type {
            "step.completed" => {
                let op = data
                    .get("op")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_owned();
                let passed = data.get("result").and_then(Value::as_str) == Some("pass");
                first_result.entry(op).or_insert(passed);
            }
            "nonconformance.opened" => {
                if let Some(ncr) = data.get("ncr").and_then(Value::as_str) {
                    ncrs.push(ncr.to_owned());
                }
            }
            "unit.released" => {
                released_at = event
                    .get("occurred_at")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
            }
            "unit.scrapped" => scrapped = true,
            _ => {}
        }
        ControlFlow::Continue(())
    })?;
    for (op, passed) in &first_result {
        let entry = group.first_pass_yield_by_op.entry(op.clone()).or_default();
        entry.units += 1;
        entry.passed_first_time += u64::from(*passed);
    }
    let mut open = 0u64;
    for ncr in &ncrs {
        let dispositioned = !store
            .records_of_type_naming(
                "nonconformance.dispositioned",
                crate::event::EntityKind::Ncr,
                crate::event::RefRole::References,
                ncr,
            )?
            .is_empty();
        open += u64::from(!dispositioned);
    }
    group.open_nonconformances += open;
    add_progress(
        group,
        &UnitProgress {
            unit: unit.to_owned(),
            site: group.site.clone(),
            product: group.product.clone(),
            period: group.period.clone(),
            started_at: started_at.to_owned(),
            released_at,
            scrapped,
            nonconformances: ncrs.len() as u64,
            failed_first_time: first_result.values().any(|passed| !passed),
        },
    );
    Ok(())
}

/// The KPIs as a table for people.
pub fn render_text(groups: &[KpiGroup]) -> String {
    let percent = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{:.1}%", v * 100.0));
    let hours = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1} h"));
    let mut out = format!(
        "{:<5} {:<10} {:<7} {:>7} {:>8} {:>8} {:>7} {:>11} {:>11} {:>8}\n",
        "site",
        "product",
        "period",
        "started",
        "released",
        "scrapped",
        "RFT",
        "cycle p50",
        "cycle p90",
        "open NCR"
    );
    for g in groups {
        out.push_str(&format!(
            "{:<5} {:<10} {:<7} {:>7} {:>8} {:>8} {:>7} {:>11} {:>11} {:>8}\n",
            g.site,
            g.product,
            g.period,
            g.started,
            g.released,
            g.scrapped,
            percent(g.right_first_time_rate),
            hours(g.release_cycle_hours_median),
            hours(g.release_cycle_hours_p90),
            g.open_nonconformances
        ));
        let yields: Vec<String> = g
            .first_pass_yield_by_op
            .iter()
            .map(|(op, y)| format!("op {op} {}", percent(y.first_pass_yield)))
            .collect();
        out.push_str(&format!("      first-pass yield: {}\n", yields.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
        assert_eq!(quantile(&values, 0.5), Some(5.0));
        assert_eq!(quantile(&values, 0.9), Some(9.0));
        assert_eq!(quantile(&[7.0], 0.9), Some(7.0));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
