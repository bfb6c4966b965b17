//! Supervision (效能监督): per-department figures over a period, computed from the audit log — licences
//! issued, suspended, reinstated and revoked; queries under a legal basis and with the holder's
//! consent; failed public verifications of the department's licences; and the median time from
//! application to issuance where the department reports `applied_at`. For auditors: JSON with the
//! `auditor` scope, and a page for accounts with the auditor role.

use std::collections::HashMap;

use serde::Serialize;

use crate::audit::context::Audit;
use crate::storage::{self, StorageError};

/// One department's figures for the period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Figures {
    pub department_id: String,
    pub uscc: String,
    pub name: String,
    pub issued: i64,
    pub suspended: i64,
    pub reinstated: i64,
    pub revoked: i64,
    /// Licences the department read under a registered legal basis (one per licence a query returned).
    pub queries_legal_basis: i64,
    /// Licences the department's own client read with holders' consent (one per licence returned).
    pub queries_consent: i64,
    /// Public verifications of the department's licences that did not answer "valid".
    pub failed_verifications: i64,
    /// Issuances that reported when the application was filed.
    pub applications_reported: i64,
    /// Median seconds from application to issuance over those.
    pub median_issuance_seconds: Option<i64>,
}

/// The figures of every department for `[from, to)`, by USCC.
pub async fn figures(ctx: &Audit, from: i64, to: i64) -> Result<Vec<Figures>, StorageError> {
    let departments = storage::departments::list(&ctx.db).await?;
    let mut by_actor: HashMap<String, Figures> = HashMap::new();
    let mut by_client: HashMap<String, String> = HashMap::new();
    for d in &departments {
        if let Some(c) = &d.client_id {
            by_client.insert(super::client(c), super::department(&d.id));
        }
        by_actor.insert(
            super::department(&d.id),
            Figures {
                department_id: d.id.clone(),
                uscc: d.uscc.clone(),
                name: d.name_zh.clone(),
                ..Default::default()
            },
        );
    }
    let actions = [
        "licence.issued",
        "licence.suspended",
        "licence.reinstated",
        "licence.revoked",
        "licence.queried.legal_basis",
        "licence.queried.consent",
    ];
    for (actor, action, n) in storage::audit::counts(&ctx.db, &actions, from, to).await? {
        let key = by_client.get(&actor).cloned().unwrap_or(actor);
        let Some(f) = by_actor.get_mut(&key) else {
            continue;
        };
        match action.as_str() {
            "licence.issued" => f.issued += n,
            "licence.suspended" => f.suspended += n,
            "licence.reinstated" => f.reinstated += n,
            "licence.revoked" => f.revoked += n,
            "licence.queried.legal_basis" => f.queries_legal_basis += n,
            _ => f.queries_consent += n,
        }
    }
    for (dept, n) in storage::audit::failed_verifications(&ctx.db, from, to).await? {
        if let Some(f) = by_actor.get_mut(&super::department(&dept)) {
            f.failed_verifications += n;
        }
    }
    let mut durations: HashMap<String, Vec<i64>> = HashMap::new();
    for e in storage::audit::events(&ctx.db, "licence.issued", from, to).await? {
        let applied = serde_json::from_str::<serde_json::Value>(&e.detail)
            .ok()
            .and_then(|d| d["applied_at"].as_i64());
        if let Some(a) = applied {
            durations.entry(e.actor).or_default().push(e.at - a);
        }
    }
    for (actor, mut d) in durations {
        if let Some(f) = by_actor.get_mut(&actor) {
            d.sort_unstable();
            f.applications_reported = d.len() as i64;
            f.median_issuance_seconds = median(&d);
        }
    }
    let mut out: Vec<Figures> = by_actor.into_values().collect();
    out.sort_by(|a, b| a.uscc.cmp(&b.uscc));
    Ok(out)
}

/// The median of sorted values (the mean of the middle two, rounded down, for an even count).
fn median(sorted: &[i64]) -> Option<i64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]).div_euclid(2)),
    }
}

/// Grant the auditor role to an account, with its audit event.
pub async fn grant_auditor(
    ctx: &Audit,
    account_id: &str,
    actor: &str,
    now: i64,
) -> Result<(), StorageError> {
    let mut tx = ctx.db.begin().await?;
    storage::audit::grant_auditor(&mut tx, account_id, now).await?;
    super::record(
        &mut tx,
        now,
        actor,
        super::Action::AuditorGranted,
        &format!("account:{account_id}"),
        serde_json::Value::Null,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

const DAY: i64 = 86_400;
/// The longest period one answer covers.
const MAX_PERIOD: i64 = 366 * 5 * DAY;

/// A period that does not run forwards, or runs longer than five years.
#[derive(Debug, thiserror::Error)]
#[error("need from < to, at most five years apart")]
pub struct BadPeriod;

/// The period asked for (`[from, to)`, Unix seconds): `to` defaults to the end of the current second,
/// `from` to 30 days before `to`. Any Unix seconds may arrive, so the arithmetic is checked.
pub fn period(from: Option<i64>, to: Option<i64>, now: i64) -> Result<(i64, i64), BadPeriod> {
    let to = to.unwrap_or(now + 1);
    let from = match from {
        Some(f) => f,
        None => to.checked_sub(30 * DAY).ok_or(BadPeriod)?,
    };
    if from >= to || to.checked_sub(from).is_none_or(|d| d > MAX_PERIOD) {
        return Err(BadPeriod);
    }
    Ok((from, to))
}

/// Why an account's supervision report was refused.
#[derive(Debug, thiserror::Error)]
pub enum SupervisionError {
    #[error("this account does not hold the auditor role")]
    NotAuditor,
    #[error(transparent)]
    BadPeriod(#[from] BadPeriod),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The figures for an account with the auditor role: the period as [`period`] reads it, and the
/// figures for it.
pub async fn for_auditor(
    ctx: &Audit,
    account_id: &str,
    from: Option<i64>,
    to: Option<i64>,
    now: i64,
) -> Result<(i64, i64, Vec<Figures>), SupervisionError> {
    if !is_auditor(ctx, account_id).await? {
        return Err(SupervisionError::NotAuditor);
    }
    let (from, to) = period(from, to, now)?;
    Ok((from, to, figures(ctx, from, to).await?))
}

/// Does this account hold the auditor role?
pub async fn is_auditor(ctx: &Audit, account_id: &str) -> Result<bool, storage::StorageError> {
    storage::audit::is_auditor(&ctx.db, account_id).await
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[5]), Some(5));
        assert_eq!(median(&[1, 3, 10]), Some(3));
        assert_eq!(median(&[1, 3, 10, 20]), Some(6));
    }
}
