//! The DHR as data: what `dhr --json` prints (format `traceledger.dhr/1`, schema
//! `schemas/output/dhr.schema.json`), what the text and HTML renderings read, and what a
//! reviewer's digest covers. Every fact carries the seq of the record it comes from.

use serde::Serialize;

pub use crate::correction::Change;
pub use crate::people::{Person, Signature};

/// The name and version of this model's JSON. A change that breaks a reader bumps it.
pub const FORMAT: &str = "traceledger.dhr/1";

/// The Device History Record of one unit, or of one lot of a lot-controlled product. Field
/// order is the document's order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceHistory {
    pub format: &'static str,
    pub subject: Subject,
    /// The serial, or the lot.
    pub id: String,
    pub product: Option<Product>,
    /// The site where it was started or produced.
    pub site: String,
    /// The UDI as recorded when the unit was started (or on the lot's production).
    pub udi: Option<String>,
    pub work_order: Option<WorkOrder>,
    /// Where it stands: in process, released, installed in another unit, shipped, scrapped.
    pub status: Status,
    /// The unit it is installed in now, as a component (not removed since).
    pub installed_in: Option<InstalledIn>,
    pub started: Started,
    /// For a lot: what was ordered, produced and scrapped.
    pub quantities: Option<LotQuantities>,
    pub operations: Vec<Operation>,
    /// For an implantable: each controlled area it was worked in, with every sensor's readings.
    pub environment: Vec<AreaEnvironment>,
    pub materials: Vec<Material>,
    pub components: Vec<Component>,
    pub nonconformances: Vec<Nonconformance>,
    pub labels: Labels,
    pub release: Option<Release>,
    pub scrap: Option<Scrap>,
    pub shipments: Vec<Shipment>,
    pub complaints: Vec<Complaint>,
    pub services: Vec<Service>,
    /// Every correction of a record above, with each change old -> new.
    pub corrections: Vec<Correction>,
    pub exceptions: Vec<Exception>,
    /// Signatures applied to this DHR as a whole, each checked against the DHR as it stands.
    /// Not part of the digest that is signed.
    pub approvals: Vec<Approval>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    Unit,
    Lot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    InProcess,
    Released,
    /// Installed as a component in another unit: reviewed in that unit's DHR.
    Installed,
    Shipped,
    Scrapped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::InProcess => "in process",
            Status::Released => "released",
            Status::Installed => "installed",
            Status::Shipped => "shipped",
            Status::Scrapped => "scrapped",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstalledIn {
    pub unit: String,
    pub seq: u64,
    pub occurred_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Product {
    pub product: String,
    pub name: Option<String>,
    pub udi_di: Option<String>,
    pub implantable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkOrder {
    pub work_order: String,
    pub routing: Option<String>,
    pub version: Option<String>,
    /// The quantity ordered, as a decimal string.
    pub quantity: Option<String>,
    pub seq: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Started {
    pub seq: u64,
    pub occurred_at: String,
    pub site: String,
    pub by: Option<Person>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LotQuantities {
    pub ordered: Option<String>,
    pub produced: Option<String>,
    pub uom: Option<String>,
    /// Ordered minus produced, when both are numbers: what the work order did not yield
    /// (scrapped or short; the vocabulary records no scrap quantity for a lot).
    pub not_produced: Option<String>,
}

/// A measured value in force, judged against the limits that applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measurement {
    pub name: String,
    pub value: Option<f64>,
    pub unit: Option<String>,
    pub lsl: Option<f64>,
    pub usl: Option<f64>,
    /// `None` when no limit applies.
    pub in_limits: Option<bool>,
    /// The seqs of the corrections that changed this measurement (the original is in
    /// `corrections`).
    pub corrected_by: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Operation {
    pub seq: u64,
    pub occurred_at: String,
    pub op: String,
    /// The routing's name of the operation.
    pub name: Option<String>,
    pub result: String,
    pub station: Option<String>,
    pub area: Option<String>,
    pub operator: Option<Person>,
    pub equipment: Vec<String>,
    pub measurements: Vec<Measurement>,
    /// The seqs of corrections applied to this record.
    pub corrected_by: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AreaEnvironment {
    pub area: String,
    /// When work began there and when the last step there ended.
    pub from: String,
    pub to: String,
    pub readings: Vec<Reading>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reading {
    pub seq: u64,
    pub occurred_at: String,
    pub sensor: String,
    /// The reading in force when work began (the sensor's last one before), rather than one
    /// taken during the work.
    pub before_work: bool,
    pub measurements: Vec<Measurement>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Material {
    pub seq: u64,
    pub occurred_at: String,
    pub lot: String,
    pub quantity: Option<String>,
    pub uom: Option<String>,
    pub op: Option<String>,
    pub corrected_by: Vec<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Made in this ledger (at any of its sites): traced through its own records.
    Ledger,
    /// Made outside the ledger, known only by the UDI scanned at installation.
    External,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Component {
    pub seq: u64,
    pub occurred_at: String,
    pub component: String,
    pub component_udi: Option<String>,
    pub origin: Origin,
    pub product: Option<String>,
    pub op: Option<String>,
    pub removed: Option<Removal>,
    /// The component's own exceptions (and its components', transitively) while installed.
    pub exceptions: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Removal {
    pub seq: u64,
    pub occurred_at: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Nonconformance {
    pub ncr: String,
    pub seq: u64,
    pub occurred_at: String,
    pub description: Option<String>,
    pub op: Option<String>,
    pub opened_by: Option<Person>,
    pub disposition: Option<Disposition>,
    pub rework: Vec<Rework>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Disposition {
    pub seq: u64,
    pub occurred_at: String,
    pub disposition: String,
    pub justification: Option<String>,
    pub by: Option<Person>,
    pub signatures: Vec<Signature>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rework {
    pub seq: u64,
    pub occurred_at: String,
    pub op: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Labels {
    pub printed: Vec<LabelPrinted>,
    pub verified: Vec<LabelVerified>,
    /// The work order's label reconciliations.
    pub reconciliations: Vec<Reconciliation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabelPrinted {
    pub seq: u64,
    pub occurred_at: String,
    pub udi: String,
    pub hri: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabelVerified {
    pub seq: u64,
    pub occurred_at: String,
    pub scanned: String,
    pub result: String,
    /// Whether what was scanned is the unit's UDI (compared element by element).
    pub matches_udi: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reconciliation {
    pub seq: u64,
    pub occurred_at: String,
    pub work_order: String,
    pub printed: u64,
    pub applied: u64,
    pub destroyed: u64,
    pub balanced: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Release {
    pub seq: u64,
    pub occurred_at: String,
    pub by: Option<Person>,
    pub signatures: Vec<Signature>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scrap {
    pub seq: u64,
    pub occurred_at: String,
    pub by: Option<Person>,
    pub reason: Option<String>,
    pub ncr: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shipment {
    pub shipment: String,
    pub customer: String,
    pub ship_to: Option<String>,
    /// For a lot, the quantity shipped when the record says it (a unit is one).
    pub quantity: Option<String>,
    pub seq: u64,
    pub occurred_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Complaint {
    pub complaint: String,
    pub udi: Option<String>,
    pub description: Option<String>,
    pub seq: u64,
    pub occurred_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    pub service: String,
    pub description: Option<String>,
    pub seq: u64,
    pub occurred_at: String,
}

/// A `correction.recorded` of one of the DHR's records: the original stays visible (21 CFR
/// 11.10(e)); the DHR shows and judges the value in force.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Correction {
    pub seq: u64,
    pub occurred_at: String,
    /// The corrected record.
    pub corrects: u64,
    pub corrects_type: String,
    pub reason: Option<String>,
    pub changes: Vec<Change>,
    pub by: Option<Person>,
    pub signatures: Vec<Signature>,
}

/// Something a reviewer must look at before releasing (review by exception).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exception {
    pub kind: ExceptionKind,
    /// The record that shows it (none when something is missing).
    pub seq: Option<u64>,
    pub op: Option<String>,
    pub detail: String,
    /// The installed component whose record shows it (a sub-assembly's exception).
    pub component: Option<String>,
}

/// The rules of review by exception (docs/dhr.md, "Exceptions").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExceptionKind {
    FailedStep,
    OutOfOrder,
    OutOfLimits,
    OperatorNotQualified,
    CalibrationPastDue,
    LotNotReleased,
    LotExpired,
    OperationNotPerformed,
    OperationNotPassed,
    ReleasedWithOpenNcr,
    LabelMismatch,
    LabelVerificationFailed,
    LabelsNotReconciled,
    EnvironmentOutOfLimits,
    EnvironmentNotRecorded,
    ComponentUdiMismatch,
}

impl ExceptionKind {
    pub const ALL: [ExceptionKind; 16] = [
        ExceptionKind::FailedStep,
        ExceptionKind::OutOfOrder,
        ExceptionKind::OutOfLimits,
        ExceptionKind::OperatorNotQualified,
        ExceptionKind::CalibrationPastDue,
        ExceptionKind::LotNotReleased,
        ExceptionKind::LotExpired,
        ExceptionKind::OperationNotPerformed,
        ExceptionKind::OperationNotPassed,
        ExceptionKind::ReleasedWithOpenNcr,
        ExceptionKind::LabelMismatch,
        ExceptionKind::LabelVerificationFailed,
        ExceptionKind::LabelsNotReconciled,
        ExceptionKind::EnvironmentOutOfLimits,
        ExceptionKind::EnvironmentNotRecorded,
        ExceptionKind::ComponentUdiMismatch,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExceptionKind::FailedStep => "failed_step",
            ExceptionKind::OutOfOrder => "out_of_order",
            ExceptionKind::OutOfLimits => "out_of_limits",
            ExceptionKind::OperatorNotQualified => "operator_not_qualified",
            ExceptionKind::CalibrationPastDue => "calibration_past_due",
            ExceptionKind::LotNotReleased => "lot_not_released",
            ExceptionKind::LotExpired => "lot_expired",
            ExceptionKind::OperationNotPerformed => "operation_not_performed",
            ExceptionKind::OperationNotPassed => "operation_not_passed",
            ExceptionKind::ReleasedWithOpenNcr => "released_with_open_ncr",
            ExceptionKind::LabelMismatch => "label_mismatch",
            ExceptionKind::LabelVerificationFailed => "label_verification_failed",
            ExceptionKind::LabelsNotReconciled => "labels_not_reconciled",
            ExceptionKind::EnvironmentOutOfLimits => "environment_out_of_limits",
            ExceptionKind::EnvironmentNotRecorded => "environment_not_recorded",
            ExceptionKind::ComponentUdiMismatch => "component_udi_mismatch",
        }
    }
}

/// A signature on the DHR (21 CFR 820.184 review and approval), with what it still covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Approval {
    pub seq: u64,
    pub meaning: String,
    pub signatures: Vec<Signature>,
    /// The digest that was signed ([`super::digest`] of the DHR the signer was shown).
    pub digest: String,
    /// Records of this DHR that came after the approval (the DHR changed since).
    pub changed_after: Vec<u64>,
    pub status: ApprovalStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    /// The DHR as it stands is the one signed.
    Matches,
    /// Records came after the approval.
    Changed,
    /// Nothing came after, yet the digest is of other content.
    Differs,
}

impl DeviceHistory {
    /// Every seq the DHR cites, sorted, without repeats: what an approval covers.
    pub fn cited_seqs(&self) -> Vec<u64> {
        let mut out = vec![self.started.seq];
        out.extend(self.work_order.iter().filter_map(|w| w.seq));
        out.extend(self.operations.iter().map(|o| o.seq));
        for area in &self.environment {
            out.extend(area.readings.iter().map(|r| r.seq));
        }
        out.extend(self.materials.iter().map(|m| m.seq));
        for c in &self.components {
            out.push(c.seq);
            out.extend(c.removed.iter().map(|r| r.seq));
        }
        for n in &self.nonconformances {
            out.push(n.seq);
            out.extend(n.disposition.iter().map(|d| d.seq));
            out.extend(n.rework.iter().map(|r| r.seq));
        }
        out.extend(self.labels.printed.iter().map(|l| l.seq));
        out.extend(self.labels.verified.iter().map(|l| l.seq));
        out.extend(self.labels.reconciliations.iter().map(|l| l.seq));
        out.extend(self.release.iter().map(|r| r.seq));
        out.extend(self.scrap.iter().map(|s| s.seq));
        out.extend(self.shipments.iter().map(|s| s.seq));
        out.extend(self.complaints.iter().map(|c| c.seq));
        out.extend(self.services.iter().map(|s| s.seq));
        out.extend(self.corrections.iter().map(|c| c.seq));
        out.extend(self.exceptions.iter().filter_map(|e| e.seq));
        out.sort_unstable();
        out.dedup();
        out
    }
}
