//! Enterprises (legal persons, keyed by their unified social credit code) and the agents their legal
//! representative grants. Revoking an agent ends the agent's sessions for that enterprise at every portal.

use crate::crypto::random_id;
use crate::domain::Uscc;
use crate::identity::context::Identity;
use crate::storage::{self, enterprises::AgentGrantRow, enterprises::EnterpriseRow, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum EnterpriseError {
    #[error("uscc_invalid: the unified social credit code is not valid")]
    UsccInvalid,
    #[error("name_invalid: the name is empty or too long")]
    NameInvalid,
    #[error("agent_not_found: no such account")]
    AgentNotFound,
    #[error("uscc_taken: an enterprise with this code is registered already")]
    UsccTaken,
    /// The grant does not exist, is not this enterprise's, or may not be given or withdrawn so.
    #[error("grant_invalid: the grant is not valid")]
    GrantInvalid,
    #[error("agent_is_self: the legal representative cannot be their own agent")]
    AgentIsSelf,
    /// Only a proven identity represents an enterprise.
    #[error("identity_not_proven: the legal representative's identity is not proven")]
    NotProven,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl EnterpriseError {
    /// The message catalogue's key for a refusal shown to the person (`None`: a failure of ours).
    pub fn key(&self) -> Option<&'static str> {
        Some(match self {
            Self::UsccInvalid => "uscc_invalid",
            Self::NameInvalid => "name_invalid",
            Self::AgentNotFound => "agent_not_found",
            Self::UsccTaken => "uscc_taken",
            Self::GrantInvalid => "grant_invalid",
            Self::AgentIsSelf => "agent_is_self",
            Self::NotProven => "identity_not_proven",
            Self::Storage(_) => return None,
        })
    }
}

/// Register an enterprise with its legal representative (an existing citizen account).
pub async fn create(
    ctx: &Identity,
    uscc: &str,
    name: &str,
    legal_rep_id: &str,
    now: i64,
) -> Result<EnterpriseRow, EnterpriseError> {
    let uscc = Uscc::parse(uscc).map_err(|_| EnterpriseError::UsccInvalid)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(EnterpriseError::NameInvalid);
    }
    let rep = storage::accounts::by_id(&ctx.db, legal_rep_id)
        .await?
        .ok_or(EnterpriseError::AgentNotFound)?;
    if !super::proofing::is_proven(&rep) {
        return Err(EnterpriseError::NotProven);
    }
    let row = EnterpriseRow {
        id: format!("e_{}", random_id()),
        uscc: uscc.as_str().to_owned(),
        name: name.to_owned(),
        legal_rep_id: legal_rep_id.to_owned(),
    };
    storage::enterprises::insert(&ctx.db, &row, now)
        .await
        .map_err(|e| match e {
            StorageError::Conflict(_) => EnterpriseError::UsccTaken,
            e => e.into(),
        })?;
    Ok(row)
}

/// What an agent may do for an enterprise: a fixed set, checked in every path that acts for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Grant and revoke other agents (never more than the granter holds).
    Manage,
    /// See the enterprise's licences.
    LicencesRead,
    /// Share them through an expiring link.
    LicencesShare,
    /// Let a portal read them on the enterprise's behalf.
    LicencesConsent,
}

impl Permission {
    pub const ALL: [Self; 4] = [
        Self::Manage,
        Self::LicencesRead,
        Self::LicencesShare,
        Self::LicencesConsent,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manage => "manage",
            Self::LicencesRead => "licences:read",
            Self::LicencesShare => "licences:share",
            Self::LicencesConsent => "licences:consent",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// Does this actable enterprise entry hold `p`?
pub fn may(a: &storage::enterprises::Actable, p: Permission) -> bool {
    a.permissions.split(' ').any(|x| x == p.as_str())
}

/// The permissions of an entry, as listed.
pub fn permissions(a: &storage::enterprises::Actable) -> Vec<&str> {
    a.permissions.split(' ').filter(|x| !x.is_empty()).collect()
}

/// The enterprise `enterprise_id` as `account_id` may act for it now, if they hold `p` there.
pub async fn acting_with(
    ctx: &Identity,
    account_id: &str,
    enterprise_id: &str,
    p: Permission,
    now: i64,
) -> Result<Option<storage::enterprises::Actable>, StorageError> {
    Ok(actable_by(ctx, account_id, now)
        .await?
        .into_iter()
        .find(|e| e.id == enterprise_id && may(e, p)))
}

/// `granter_id` (the legal representative, or an agent with `manage`) grants `agent_ident` (ID
/// number, email or phone) a role with `perms` (at least one, none the granter lacks) for `days`.
#[allow(clippy::too_many_arguments)]
pub async fn grant_agent(
    ctx: &Identity,
    granter_id: &str,
    enterprise_id: &str,
    agent_ident: &str,
    role: &str,
    perms: &[Permission],
    days: i64,
    now: i64,
) -> Result<String, EnterpriseError> {
    // Nothing ticked: the least, `licences:read`.
    let perms = if perms.is_empty() {
        &[Permission::LicencesRead][..]
    } else {
        perms
    };
    let granter = acting_with(ctx, granter_id, enterprise_id, Permission::Manage, now)
        .await?
        .ok_or(EnterpriseError::GrantInvalid)?;
    let role = role.trim();
    if role.is_empty()
        || role.chars().count() > 64
        || role == "legal_representative"
        || !(1..=1825).contains(&days)
        || perms.is_empty()
        || perms.iter().any(|p| !may(&granter, *p))
    {
        return Err(EnterpriseError::GrantInvalid);
    }
    let e = storage::enterprises::by_id(&ctx.db, enterprise_id)
        .await?
        .ok_or(EnterpriseError::GrantInvalid)?;
    // In the documented order, each once.
    let perms: Vec<&str> = Permission::ALL
        .into_iter()
        .filter(|p| perms.contains(p))
        .map(Permission::as_str)
        .collect();
    let perms = perms.join(" ");
    let agent = super::accounts::find_by_identifier(ctx, agent_ident)
        .await?
        .ok_or(EnterpriseError::AgentNotFound)?;
    if agent.id == granter_id || agent.id == e.legal_rep_id {
        return Err(EnterpriseError::AgentIsSelf);
    }
    let id = format!("g_{}", random_id());
    let mut tx = ctx.db.begin().await?;
    storage::enterprises::insert_agent(
        &mut tx,
        storage::enterprises::NewAgentGrant {
            id: &id,
            enterprise_id,
            agent_id: &agent.id,
            role,
            permissions: &perms,
            granted_by: granter_id,
            expires_at: now + days * 86_400,
            now,
        },
    )
    .await?;
    crate::audit::record(
        &mut tx,
        now,
        &crate::audit::account(granter_id),
        crate::audit::Action::AgentGranted,
        &format!("enterprise:{enterprise_id}"),
        serde_json::json!({ "agent": agent.id, "grant": id, "role": role, "permissions": perms, "days": days }),
    )
    .await?;
    tx.commit().await.map_err(storage::StorageError::from)?;
    Ok(id)
}

/// The agent grant `grant_id`, if `revoker_id` may revoke it: the legal representative, or an agent
/// with `manage`. Revoking it (`oidc::logout::revoke_agent`) also signs out every portal where the
/// agent acts for the enterprise.
pub async fn revocable_grant(
    ctx: &Identity,
    revoker_id: &str,
    grant_id: &str,
    now: i64,
) -> Result<AgentGrantRow, EnterpriseError> {
    let g = storage::enterprises::agent_grant(&ctx.db, grant_id)
        .await?
        .ok_or(EnterpriseError::GrantInvalid)?;
    let manages = acting_with(ctx, revoker_id, &g.enterprise_id, Permission::Manage, now).await?;
    if manages.is_none() || g.revoked_at.is_some() {
        return Err(EnterpriseError::GrantInvalid);
    }
    Ok(g)
}

/// The enterprise `uscc` and the account `new_rep` names, if the account may become its legal
/// representative: proven, and not the one it has.
pub async fn representative_change(
    ctx: &Identity,
    uscc: &str,
    new_rep: &str,
) -> Result<(EnterpriseRow, storage::accounts::AccountRow), EnterpriseError> {
    let uscc = Uscc::parse(uscc).map_err(|_| EnterpriseError::UsccInvalid)?;
    let e = storage::enterprises::by_uscc(&ctx.db, uscc.as_str())
        .await?
        .ok_or(EnterpriseError::GrantInvalid)?;
    let rep = super::accounts::find_by_identifier(ctx, new_rep)
        .await?
        .ok_or(EnterpriseError::AgentNotFound)?;
    if !super::proofing::is_proven(&rep) {
        return Err(EnterpriseError::NotProven);
    }
    if rep.id == e.legal_rep_id {
        return Err(EnterpriseError::AgentIsSelf);
    }
    Ok((e, rep))
}

/// The enterprises a person may act for now: those they represent, and those whose agent they are.
pub async fn actable_by(
    ctx: &Identity,
    account_id: &str,
    now: i64,
) -> Result<Vec<storage::enterprises::Actable>, storage::StorageError> {
    storage::enterprises::actable_by(&ctx.db, account_id, now).await
}

/// An enterprise by id.
pub async fn enterprise(
    ctx: &Identity,
    id: &str,
) -> Result<Option<storage::enterprises::EnterpriseRow>, storage::StorageError> {
    storage::enterprises::by_id(&ctx.db, id).await
}

/// The enterprises whose legal representative this person is.
pub async fn represented_by(
    ctx: &Identity,
    account_id: &str,
) -> Result<Vec<storage::enterprises::EnterpriseRow>, storage::StorageError> {
    storage::enterprises::represented_by(&ctx.db, account_id).await
}

/// An enterprise's agents, with their grants.
pub async fn agents_of(
    ctx: &Identity,
    enterprise_id: &str,
) -> Result<Vec<storage::enterprises::AgentGrantRow>, storage::StorageError> {
    storage::enterprises::agents_of(&ctx.db, enterprise_id).await
}
