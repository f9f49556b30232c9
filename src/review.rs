//! Review by exception: the units and lots a QA reviewer must look at, awaiting release or
//! released with exceptions, each with its exceptions counted by kind and whether they are
//! dispositioned. A projection over the DHRs (docs/dhr.md): every count is the DHR's own, so
//! the queue cannot disagree with the record a reviewer opens.
//!
//! The candidates come from the KPI table the store keeps at ingest (one row per unit: site,
//! product, month, released, scrapped) and the produced lots; each candidate's DHR is then
//! built. So the cost is one DHR per unit in the filter's scope (docs/performance.md).

use crate::device_history::{
    ApprovalStatus, DeviceHistory, DeviceHistoryError, Status, device_history,
};
use crate::store::{LogFilter, Store, StoreError, UnitGroupFilter};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::ops::ControlFlow;

pub const FORMAT: &str = "traceledger.review/1";

/// Which subjects the queue shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    /// Not released and not scrapped, with or without exceptions.
    Awaiting,
    /// Released (or shipped) with exceptions.
    Released,
    /// Both.
    #[default]
    All,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ReviewQuery {
    pub site: Option<String>,
    pub product: Option<String>,
    /// `YYYY-MM` or `YYYY`: started (or produced) then.
    pub period: Option<String>,
    pub status: ReviewStatus,
}

/// The queue: its items, and the exceptions of all items by kind.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewQueue {
    pub format: &'static str,
    pub query: ReviewQuery,
    pub items: Vec<ReviewItem>,
    pub exceptions_by_kind: BTreeMap<&'static str, usize>,
}

/// One unit or lot to review.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewItem {
    pub subject: crate::device_history::Subject,
    pub id: String,
    pub site: String,
    pub product: Option<String>,
    pub started_at: String,
    pub status: Status,
    pub exceptions: usize,
    pub by_kind: BTreeMap<&'static str, usize>,
    /// Exceptions with no disposition: neither a closed nonconformance opened at or after
    /// the record that shows them, nor a `reviewed` signature on the DHR as it stands.
    pub undispositioned: usize,
    /// The seq of a `reviewed` signature on the DHR as it stands, if there is one.
    pub reviewed: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("{0:?} is not a period: write YYYY-MM (2026-11) or YYYY")]
    BadPeriod(String),
    #[error(transparent)]
    History(#[from] DeviceHistoryError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ReviewError {
    pub fn kind(&self) -> crate::ErrorKind {
        match self {
            ReviewError::BadPeriod(_) => crate::ErrorKind::BadInput,
            ReviewError::History(e) => e.kind(),
            ReviewError::Store(e) => e.kind(),
        }
    }
}

/// Whether `period` is `YYYY` or `YYYY-MM` with a month 01-12.
pub fn valid_period(period: &str) -> bool {
    let bytes = period.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .is_some_and(|b| b.iter().all(u8::is_ascii_digit))
    };
    match bytes.len() {
        4 => digits(0..4),
        7 => {
            digits(0..4)
                && bytes[4] == b'-'
                && digits(5..7)
                && matches!(period[5..7].parse::<u8>(), Ok(1..=12))
        }
        _ => false,
    }
}

/// The review queue for `query`, in one read snapshot.
///
/// # Errors
/// `BadPeriod`; a database error.
pub fn review(store: &Store, query: &ReviewQuery) -> Result<ReviewQueue, ReviewError> {
    if let Some(period) = &query.period
        && !valid_period(period)
    {
        return Err(ReviewError::BadPeriod(period.clone()));
    }
    let _snapshot = store.read_snapshot()?;
    let mut candidates = Vec::new();
    let filter = UnitGroupFilter {
        site: query.site.clone(),
        product: query.product.clone(),
        period: query.period.clone(),
    };
    store.for_each_unit_progress(&filter, |unit| {
        if !unit.scrapped {
            candidates.push((unit.started_at.clone(), unit.unit));
        }
    })?;
    candidates.extend(produced_lots(store, query)?);
    candidates.sort();
    let mut queue = ReviewQueue {
        format: FORMAT,
        query: query.clone(),
        items: Vec::new(),
        exceptions_by_kind: BTreeMap::new(),
    };
    for (_, id) in candidates {
        let history = device_history(store, &id)?;
        if let Some(item) = item_of(&history, query.status) {
            for (kind, count) in &item.by_kind {
                *queue.exceptions_by_kind.entry(kind).or_default() += count;
            }
            queue.items.push(item);
        }
    }
    Ok(queue)
}

/// The lots produced in the query's scope: (produced at, lot).
fn produced_lots(store: &Store, query: &ReviewQuery) -> Result<Vec<(String, String)>, StoreError> {
    let filter = LogFilter {
        types: vec!["lot.produced".to_owned()],
        ..LogFilter::default()
    };
    let mut out = Vec::new();
    store.for_each_logged(&filter, |record, _| {
        let Ok(event) = serde_json::from_str::<Value>(&record.event) else {
            return ControlFlow::Continue(());
        };
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let (site, at) = (text(&event["site"]), text(&event["occurred_at"]));
        let product = text(&event["data"]["product"]);
        let keep = query.site.as_ref().is_none_or(|s| *s == site)
            && query.product.as_ref().is_none_or(|p| *p == product)
            && query
                .period
                .as_ref()
                .is_none_or(|p| at.starts_with(p.as_str()));
        if keep {
            out.push((at, text(&event["data"]["lot"])));
        }
        ControlFlow::Continue(())
    })?;
    Ok(out)
}

/// The queue's item for a DHR, if it belongs in the queue.
fn item_of(history: &DeviceHistory, wanted: ReviewStatus) -> Option<ReviewItem> {
    let awaiting = history.status == Status::InProcess;
    let released = matches!(history.status, Status::Released | Status::Shipped);
    let keep = match wanted {
        ReviewStatus::Awaiting => awaiting,
        ReviewStatus::Released => released && !history.exceptions.is_empty(),
        ReviewStatus::All => awaiting || (released && !history.exceptions.is_empty()),
    };
    if !keep {
        return None;
    }
    let reviewed = history
        .approvals
        .iter()
        .find(|a| a.meaning == "reviewed" && a.status == ApprovalStatus::Matches)
        .map(|a| a.seq);
    let mut by_kind = BTreeMap::new();
    let mut undispositioned = 0;
    for exception in &history.exceptions {
        *by_kind.entry(exception.kind.as_str()).or_default() += 1;
        if reviewed.is_none() && !closed_by_ncr(history, exception.seq) {
            undispositioned += 1;
        }
    }
    Some(ReviewItem {
        subject: history.subject,
        id: history.id.clone(),
        site: history.site.clone(),
        product: history.product.as_ref().map(|p| p.product.clone()),
        started_at: history.started.occurred_at.clone(),
        status: history.status,
        exceptions: history.exceptions.len(),
        by_kind,
        undispositioned,
        reviewed,
    })
}

/// Whether a nonconformance of the subject, opened at or after the record that shows the
/// exception and dispositioned, closes it. An exception of something missing (no record)
/// is closed only by a review.
fn closed_by_ncr(history: &DeviceHistory, seq: Option<u64>) -> bool {
    let Some(seq) = seq else {
        return false;
    };
    history
        .nonconformances
        .iter()
        .any(|n| n.seq >= seq && n.disposition.is_some())
}

/// The CSV header of [`csv_rows`].
pub const CSV_HEADER: &str =
    "subject,id,site,product,started_at,status,exceptions,undispositioned,reviewed_seq,by_kind";

/// One CSV row per item (RFC 4180 quoting), `by_kind` as `kind=count` separated by spaces.
pub fn csv_rows(queue: &ReviewQueue) -> Vec<String> {
    queue
        .items
        .iter()
        .map(|item| {
            let by_kind: Vec<String> = item
                .by_kind
                .iter()
                .map(|(k, n)| format!("{k}={n}"))
                .collect();
            [
                serde_plain(&item.subject),
                item.id.clone(),
                item.site.clone(),
                item.product.clone().unwrap_or_default(),
                item.started_at.clone(),
                serde_plain(&item.status),
                item.exceptions.to_string(),
                item.undispositioned.to_string(),
                item.reviewed.map(|s| s.to_string()).unwrap_or_default(),
                by_kind.join(" "),
            ]
            .iter()
            .map(|f| crate::csv::field(f))
            .collect::<Vec<_>>()
            .join(",")
        })
        .collect()
}

/// An enum's serde name (`in_process`).
fn serde_plain<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The queue as a table for people.
pub fn render_text(queue: &ReviewQueue) -> String {
    let mut out = format!(
        "{:<5} {:<18} {:<5} {:<10} {:<10} {:>10} {:>8} {:>9}  by kind\n",
        "", "id", "site", "product", "status", "exceptions", "open", "reviewed"
    );
    for item in &queue.items {
        let by_kind: Vec<String> = item
            .by_kind
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        out.push_str(&format!(
            "{:<5} {:<18} {:<5} {:<10} {:<10} {:>10} {:>8} {:>9}  {}\n",
            serde_plain(&item.subject),
            item.id,
            item.site,
            item.product.as_deref().unwrap_or("-"),
            serde_plain(&item.status),
            item.exceptions,
            item.undispositioned,
            item.reviewed.map_or("-".to_owned(), |s| format!("seq {s}")),
            by_kind.join(", ")
        ));
    }
    let awaiting = queue
        .items
        .iter()
        .filter(|i| i.status == Status::InProcess)
        .count();
    out.push_str(&format!(
        "\n{} to review: {awaiting} awaiting release, {} released with exceptions\n",
        queue.items.len(),
        queue.items.len() - awaiting
    ));
    for (kind, count) in &queue.exceptions_by_kind {
        out.push_str(&format!("  {kind}: {count}\n"));
    }
    out
}
