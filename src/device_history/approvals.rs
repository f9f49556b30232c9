//! Approvals of the DHR as a whole (`signature.applied` whose subject is this DHR, 21 CFR
//! 820.184), each judged against the DHR as it stands: the digest signed against today's, and
//! the records of the DHR that came after the signature.

use super::model::{Approval, ApprovalStatus, DeviceHistory};
use super::records::Rec;
use crate::people::People;
use crate::store::StoreError;

pub(super) fn of(
    people: &mut People<'_>,
    records: &[Rec],
    history: &DeviceHistory,
) -> Result<Vec<Approval>, StoreError> {
    let current = super::digest(history);
    let cited = history.cited_seqs();
    let mut out = Vec::new();
    for r in records
        .iter()
        .filter(|r| r.event_type == "signature.applied")
    {
        let subject = &r.data["subject"];
        if subject["projection"].as_str() != Some("dhr")
            || subject["entity"].as_str() != Some(history.id.as_str())
        {
            continue;
        }
        let signed = subject["digest"].as_str().unwrap_or_default().to_owned();
        let changed_after: Vec<u64> = cited.iter().copied().filter(|s| *s > r.seq).collect();
        let status = if !changed_after.is_empty() {
            ApprovalStatus::Changed
        } else if signed == current {
            ApprovalStatus::Matches
        } else {
            ApprovalStatus::Differs
        };
        out.push(Approval {
            seq: r.seq,
            meaning: r.owned("meaning").unwrap_or_default(),
            signatures: people.signatures(&r.signatures, r.seq)?,
            digest: signed,
            changed_after,
            status,
        });
    }
    Ok(out)
}

impl Approval {
    /// One sentence for people.
    pub fn describe(&self) -> String {
        let by: Vec<String> = self
            .signatures
            .iter()
            .map(|s| {
                format!(
                    "{} ({}), {} at {}",
                    s.name.as_deref().unwrap_or("?"),
                    s.signer,
                    s.meaning,
                    s.signed_at
                )
            })
            .collect();
        let by = if by.is_empty() {
            "nobody".to_owned()
        } else {
            by.join("; ")
        };
        let state = match self.status {
            ApprovalStatus::Matches => "the DHR as it stands is the one signed".to_owned(),
            ApprovalStatus::Changed => format!(
                "changed after approval: seq {}",
                self.changed_after
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            ApprovalStatus::Differs => {
                "the signed digest is not this DHR's (another content was signed)".to_owned()
            }
        };
        format!("{} ({by}): {state}", self.meaning)
    }
}
