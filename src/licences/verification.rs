//! The audit side of a verification: a department system that verifies (it sent its token) leaves
//! an event, and so does a failed verification of a licence the repository holds (supervision counts
//! them per issuing department). An anonymous verification of a valid licence writes nothing: it
//! costs one signature check and no database round trip.

use serde_json::json;

use super::context::Licences;
use super::verify::{Report, RepositoryFacts, Verdict};
use super::LicenceError;
use crate::audit::{self, Action as A};
use crate::storage::{departments::DepartmentRow, StorageError};

/// Record a verification: by `department` (when a department system asked), from `addr`.
pub async fn record(
    ctx: &Licences,
    department: Option<&DepartmentRow>,
    addr: &str,
    report: &Report,
    facts: Option<&RepositoryFacts>,
    now: i64,
) -> Result<(), StorageError> {
    let known = facts.is_some_and(|f| f.known);
    let failed = known && report.verdict != Verdict::Valid;
    let (Some(id), true) = (&report.licence_id, department.is_some() || failed) else {
        return Ok(());
    };
    let verdict = serde_json::to_value(report.verdict).unwrap_or_default();
    let object = format!("licence:{id}");
    let mut tx = ctx.db.begin().await?;
    if let Some(d) = department {
        let detail = json!({ "verdict": verdict });
        audit::record(
            &mut tx,
            now,
            &audit::department(&d.id),
            A::LicenceVerifiedByDepartment,
            &object,
            detail,
        )
        .await?;
    }
    if failed {
        let detail = json!({ "verdict": verdict });
        audit::record(
            &mut tx,
            now,
            &format!("address:{addr}"),
            A::LicenceVerificationFailed,
            &object,
            detail,
        )
        .await?;
    }
    tx.commit().await.map_err(StorageError::from)
}

/// The longest licence a verification takes, in bytes.
pub const MAX_LICENCE: usize = 64 * 1024;

/// Verify a licence as the repository knows it (status, certificates) at `at`, count the verdict,
/// and record the verification ([`record`]).
pub async fn verify(
    ctx: &Licences,
    department: Option<&DepartmentRow>,
    addr: &str,
    licence: String,
    at: i64,
    now: i64,
) -> Result<Report, LicenceError> {
    if licence.len() > MAX_LICENCE {
        return Err(LicenceError::TooLarge);
    }
    let (report, facts) = super::revocation::verify_online(ctx, licence, at).await?;
    ctx.metrics.verification(report.verdict.as_str());
    record(ctx, department, addr, &report, facts.as_deref(), now)
        .await
        .map_err(LicenceError::internal)?;
    Ok(report)
}
