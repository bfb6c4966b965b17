//! Shares: a holder reveals chosen fields of one licence to whoever has the link, for a purpose and
//! until an expiry; each opening is logged for the holder.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{json, Value};

use super::access::{check_purpose, view};
use super::catalogue::LicenceType;
use super::context::Licences;
use super::lookup::licence_type;
use super::revocation::verify_online;
use super::verify::Report;
use super::{sdjwt, LicenceError};
use crate::crypto::{random_id, random_token, secret_hash};
use crate::storage::{self, licences::Access, StorageError};

/// A share just created: its id, the secret its link carries (never stored: only its hash is), and
/// its expiry.
#[derive(Debug)]
pub struct ShareLink {
    pub id: String,
    pub token: String,
    pub expires_at: i64,
}

/// What a share asks for: the licence, what it reveals, why, for how long.
pub struct NewShare<'a> {
    pub licence_id: &'a str,
    pub disclose: &'a [String],
    pub purpose: &'a str,
    /// Seconds, 60 to 30 days.
    pub ttl: i64,
}

/// Create a share of one of the holder's licences revealing only `disclose`. `level` is the
/// session's level of assurance (1 to 3): a type that needs a second factor to be shared
/// ([`super::catalogue::LicenceType::needs_second_factor`]) needs 2 or more.
pub async fn create_share(
    ctx: &Licences,
    account_id: &str,
    holder: &super::holdings::Holder,
    level: u8,
    new: NewShare<'_>,
    now: i64,
) -> Result<ShareLink, LicenceError> {
    let NewShare {
        licence_id,
        disclose,
        purpose,
        ttl,
    } = new;
    let purpose = check_purpose(purpose)?;
    let holder_index = holder.index.as_slice();
    if !(60..=30 * 86_400).contains(&ttl) {
        return Err(LicenceError::ShareLifetime);
    }
    if !storage::licences::holds(&ctx.db, licence_id, holder_index).await? {
        return Err(LicenceError::NotYours);
    }
    if level < 2 {
        let row = storage::licences::get(&ctx.db, licence_id)
            .await?
            .ok_or(LicenceError::NotYours)?;
        needs_no_second_factor(ctx, &row.type_code).await?;
    }
    let token = random_token();
    let share = storage::licences::ShareRow {
        id: format!("s_{}", &random_id()[..16]),
        licence_id: licence_id.to_owned(),
        holder_index: holder_index.to_vec(),
        account_id: account_id.to_owned(),
        disclose: serde_json::to_string(disclose).map_err(LicenceError::internal)?,
        purpose: purpose.to_owned(),
        created_at: now,
        expires_at: now + ttl,
        withdrawn_at: None,
    };
    let mut tx = ctx.db.begin().await?;
    storage::licences::insert_share(&mut tx, &share, &secret_hash(&token)).await?;
    if holder.agent {
        // An agent's share goes into the enterprise's access log, naming the agent.
        let a = Access {
            holder_index,
            licence_id,
            via: "agent_share",
            department_id: None,
            client_id: None,
            legal_basis: None,
            purpose,
            at: now,
            agent_id: Some(account_id),
        };
        storage::licences::log_access(&mut tx, &a).await?;
    }
    crate::audit::record(
        &mut tx,
        now,
        &crate::audit::account(account_id),
        crate::audit::Action::ShareCreated,
        &format!("share:{}", share.id),
        json!({ "licence": licence_id, "disclose": disclose, "expires_at": share.expires_at }),
    )
    .await?;
    tx.commit().await.map_err(StorageError::from)?;
    Ok(ShareLink {
        id: share.id,
        token,
        expires_at: share.expires_at,
    })
}

/// Refuse a type whose licences are shared and read under consent only after a second factor,
/// for a sign-in without one.
pub(super) async fn needs_no_second_factor(
    ctx: &Licences,
    type_code: &str,
) -> Result<(), LicenceError> {
    match super::lookup::licence_type(ctx, type_code).await? {
        Some(t) if t.needs_second_factor() => {
            Err(LicenceError::SecondFactorNeeded(type_code.to_owned()))
        }
        _ => Ok(()),
    }
}

/// Withdraw one of the account's live shares; false if there is none with this id.
pub async fn withdraw_share(
    ctx: &Licences,
    account_id: &str,
    share_id: &str,
    now: i64,
) -> Result<bool, LicenceError> {
    let mut tx = ctx.db.begin().await?;
    if !storage::licences::withdraw_share(&mut tx, share_id, account_id, now).await? {
        return Ok(false);
    }
    crate::audit::record(
        &mut tx,
        now,
        &crate::audit::account(account_id),
        crate::audit::Action::ShareWithdrawn,
        &format!("share:{share_id}"),
        Value::Null,
    )
    .await?;
    tx.commit().await.map_err(StorageError::from)?;
    Ok(true)
}

/// A share as its opener receives it (the JSON API's answer).
#[derive(Debug, Serialize)]
pub struct OpenedShare {
    /// The SD-JWT VC with only the disclosures the holder chose.
    pub licence: String,
    pub purpose: String,
    pub expires_at: i64,
    pub status: &'static str,
    pub type_name: Option<String>,
}

/// Open a share: the licence with only the chosen disclosures, logged for the holder.
pub async fn open_share(
    ctx: &Licences,
    token: &str,
    now: i64,
) -> Result<OpenedShare, LicenceError> {
    let s = storage::licences::share_by_token(&ctx.db, &secret_hash(token))
        .await?
        .ok_or(LicenceError::ShareGone)?;
    if s.withdrawn_at.is_some() || s.expires_at <= now {
        return Err(LicenceError::ShareGone);
    }
    let l = storage::licences::get(&ctx.db, &s.licence_id)
        .await?
        .ok_or(LicenceError::ShareGone)?;
    let full = view(ctx, &l).await?;
    let keep: Vec<String> = serde_json::from_str(&s.disclose).map_err(LicenceError::internal)?;
    let keep: Vec<&str> = keep.iter().map(String::as_str).collect();
    let shared = sdjwt::select(&full.licence, &keep).map_err(LicenceError::internal)?;
    let mut tx = ctx.db.begin().await?;
    let a = Access {
        holder_index: &s.holder_index,
        licence_id: &l.id,
        via: "share",
        department_id: None,
        client_id: None,
        legal_basis: None,
        purpose: &s.purpose,
        at: now,
        agent_id: None,
    };
    storage::licences::log_access(&mut tx, &a).await?;
    crate::audit::record(
        &mut tx,
        now,
        "anonymous",
        crate::audit::Action::ShareOpened,
        &format!("share:{}", s.id),
        json!({ "licence": l.id }),
    )
    .await?;
    tx.commit().await.map_err(StorageError::from)?;
    Ok(OpenedShare {
        licence: shared,
        purpose: s.purpose,
        expires_at: s.expires_at,
        status: full.status,
        type_name: full.type_name,
    })
}

/// A share as its page shows it: opened, verified against the repository's facts, with its type
/// (for field titles) if the licence is known here.
pub struct SharedView {
    pub opened: OpenedShare,
    pub report: Report,
    pub licence_type: Option<Arc<LicenceType>>,
}

/// Open a share and verify what it reveals, as the share page shows it.
pub async fn view_share(ctx: &Licences, token: &str, now: i64) -> Result<SharedView, LicenceError> {
    let opened = open_share(ctx, token, now).await?;
    let (report, _) = verify_online(ctx, opened.licence.clone(), now).await?;
    // For labels only: the page still renders (with field names) if the type cannot be read.
    let licence_type = match report.licence_id.as_deref() {
        Some(id) => match storage::licences::get(&ctx.db, id).await {
            Ok(Some(row)) => licence_type(ctx, &row.type_code).await.ok().flatten(),
            _ => None,
        },
        None => None,
    };
    Ok(SharedView {
        opened,
        report,
        licence_type,
    })
}
