//! Enterprises and the agents their legal representatives grant.

use sqlx::FromRow;

use super::{conflict, Db, Result, Tx};

#[derive(Debug, Clone, FromRow)]
pub struct EnterpriseRow {
    pub id: String,
    pub uscc: String,
    pub name: String,
    pub legal_rep_id: String,
}

pub async fn insert(db: &Db, e: &EnterpriseRow, now: i64) -> Result<()> {
    sqlx::query("INSERT INTO enterprises (id, uscc, name, legal_rep_id, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&e.id)
        .bind(&e.uscc)
        .bind(&e.name)
        .bind(&e.legal_rep_id)
        .bind(now)
        .execute(&db.pool)
        .await
        .map_err(conflict("unified social credit code"))?;
    Ok(())
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<EnterpriseRow>> {
    Ok(
        sqlx::query_as("SELECT id, uscc, name, legal_rep_id FROM enterprises WHERE id = $1")
            .bind(id)
            .fetch_optional(&db.pool)
            .await?,
    )
}

/// Make `rep_id` the enterprise's legal representative; false if there is no such enterprise.
pub async fn set_legal_rep(tx: &mut Tx, enterprise_id: &str, rep_id: &str) -> Result<bool> {
    let r = sqlx::query("UPDATE enterprises SET legal_rep_id = $1 WHERE id = $2")
        .bind(rep_id)
        .bind(enterprise_id)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn by_uscc(db: &Db, uscc: &str) -> Result<Option<EnterpriseRow>> {
    Ok(
        sqlx::query_as("SELECT id, uscc, name, legal_rep_id FROM enterprises WHERE uscc = $1")
            .bind(uscc)
            .fetch_optional(&db.pool)
            .await?,
    )
}

pub async fn represented_by(db: &Db, account_id: &str) -> Result<Vec<EnterpriseRow>> {
    // Only a proven identity represents an enterprise (`identity::proofing`).
    Ok(sqlx::query_as(
        "SELECT e.id, e.uscc, e.name, e.legal_rep_id FROM enterprises e JOIN accounts a ON a.id = e.legal_rep_id \
         WHERE e.legal_rep_id = $1 AND a.proven_at IS NOT NULL ORDER BY e.name",
    )
        .bind(account_id)
        .fetch_all(&db.pool)
        .await?)
}

/// An enterprise a person may act for, with the role: `legal_representative` or the agent role.
#[derive(Debug, Clone, FromRow)]
pub struct Actable {
    pub id: String,
    pub uscc: String,
    pub name: String,
    pub role: String,
    pub expires_at: Option<i64>,
    /// Space-separated permissions (`identity::enterprises::Permission`); all four for the legal
    /// representative.
    pub permissions: String,
}

/// What the legal representative may do: every permission.
pub const ALL_PERMISSIONS: &str = "manage licences:read licences:share licences:consent";

/// Enterprises `account_id` may act for at `now`: as legal representative, or through an unexpired,
/// unrevoked agent grant.
pub async fn actable_by(db: &Db, account_id: &str, now: i64) -> Result<Vec<Actable>> {
    Ok(sqlx::query_as(
        // Only a proven identity acts for an enterprise (`identity::proofing`).
        "SELECT e.id AS id, e.uscc AS uscc, e.name AS name, 'legal_representative' AS role, NULL AS expires_at, \
         'manage licences:read licences:share licences:consent' AS permissions \
         FROM enterprises e \
         JOIN accounts a ON a.id = e.legal_rep_id \
         WHERE e.legal_rep_id = $1 AND a.proven_at IS NOT NULL \
         UNION ALL \
         SELECT e.id AS id, e.uscc AS uscc, e.name AS name, g.role AS role, g.expires_at AS expires_at, \
         g.permissions AS permissions \
         FROM agent_grants g \
         JOIN enterprises e ON e.id = g.enterprise_id \
         JOIN accounts a ON a.id = g.agent_id \
         WHERE g.agent_id = $2 AND g.revoked_at IS NULL AND g.expires_at > $3 AND a.proven_at IS NOT NULL \
         ORDER BY name",
    )
    .bind(account_id)
    .bind(account_id)
    .bind(now)
    .fetch_all(&db.pool)
    .await?)
}

#[derive(Debug, Clone, FromRow)]
pub struct AgentGrantRow {
    pub id: String,
    pub enterprise_id: String,
    pub agent_id: String,
    pub agent_name: String,
    pub role: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub permissions: String,
}

pub struct NewAgentGrant<'a> {
    pub id: &'a str,
    pub enterprise_id: &'a str,
    pub agent_id: &'a str,
    pub role: &'a str,
    pub permissions: &'a str,
    pub granted_by: &'a str,
    pub expires_at: i64,
    pub now: i64,
}

pub async fn insert_agent(tx: &mut Tx, g: NewAgentGrant<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO agent_grants (id, enterprise_id, agent_id, role, granted_by, created_at, expires_at, permissions) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(g.id)
    .bind(g.enterprise_id)
    .bind(g.agent_id)
    .bind(g.role)
    .bind(g.granted_by)
    .bind(g.now)
    .bind(g.expires_at)
    .bind(g.permissions)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn agents_of(db: &Db, enterprise_id: &str) -> Result<Vec<AgentGrantRow>> {
    Ok(sqlx::query_as(
        "SELECT g.id, g.enterprise_id, g.agent_id, a.name AS agent_name, g.role, g.created_at, g.expires_at, \
         g.revoked_at, g.permissions FROM agent_grants g JOIN accounts a ON a.id = g.agent_id \
         WHERE g.enterprise_id = $1 ORDER BY g.created_at DESC",
    )
    .bind(enterprise_id)
    .fetch_all(&db.pool)
    .await?)
}

pub async fn agent_grant(db: &Db, id: &str) -> Result<Option<AgentGrantRow>> {
    Ok(sqlx::query_as(
        "SELECT g.id, g.enterprise_id, g.agent_id, a.name AS agent_name, g.role, g.created_at, g.expires_at, \
         g.revoked_at, g.permissions FROM agent_grants g JOIN accounts a ON a.id = g.agent_id WHERE g.id = $1",
    )
    .bind(id)
    .fetch_optional(&db.pool)
    .await?)
}

pub async fn revoke_agent(tx: &mut Tx, id: &str, now: i64) -> Result<bool> {
    let r =
        sqlx::query("UPDATE agent_grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    Ok(r.rows_affected() == 1)
}
