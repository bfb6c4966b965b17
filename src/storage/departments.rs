//! Departments, their certificates (with sealed keys) and the licence-type catalogue.

use sqlx::FromRow;

use super::{conflict, Db, Result, Tx};

#[derive(Debug, Clone, FromRow)]
pub struct DepartmentRow {
    pub id: String,
    pub uscc: String,
    pub name_zh: String,
    pub name_en: String,
    pub iss: String,
    pub client_id: Option<String>,
}

const DEPT: &str = "id, uscc, name_zh, name_en, iss, client_id";

pub async fn insert(tx: &mut Tx, d: &DepartmentRow, now: i64) -> Result<()> {
    sqlx::query("INSERT INTO departments (id, uscc, name_zh, name_en, iss, client_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(&d.id)
        .bind(&d.uscc)
        .bind(&d.name_zh)
        .bind(&d.name_en)
        .bind(&d.iss)
        .bind(d.client_id.clone())
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(conflict("department USCC, iss URL or client"))?;
    Ok(())
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<DepartmentRow>> {
    Ok(
        sqlx::query_as(&format!("SELECT {DEPT} FROM departments WHERE id = $1"))
            .bind(id)
            .fetch_optional(&db.pool)
            .await?,
    )
}

pub async fn by_client(db: &Db, client_id: &str) -> Result<Option<DepartmentRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {DEPT} FROM departments WHERE client_id = $1"
    ))
    .bind(client_id)
    .fetch_optional(&db.pool)
    .await?)
}

pub async fn by_uscc(db: &Db, uscc: &str) -> Result<Option<DepartmentRow>> {
    Ok(
        sqlx::query_as(&format!("SELECT {DEPT} FROM departments WHERE uscc = $1"))
            .bind(uscc)
            .fetch_optional(&db.pool)
            .await?,
    )
}

pub async fn list(db: &Db) -> Result<Vec<DepartmentRow>> {
    Ok(
        sqlx::query_as(&format!("SELECT {DEPT} FROM departments ORDER BY uscc"))
            .fetch_all(&db.pool)
            .await?,
    )
}

#[derive(Debug, Clone, FromRow)]
pub struct CertRow {
    pub serial: String,
    pub department_id: String,
    pub purpose: String,
    pub cert_der: Vec<u8>,
    pub key_sealed: Vec<u8>,
    pub not_before: i64,
    pub not_after: i64,
    pub revoked_at: Option<i64>,
}

const CERT: &str =
    "serial, department_id, purpose, cert_der, key_sealed, not_before, not_after, revoked_at";

pub async fn insert_cert(tx: &mut Tx, c: &CertRow, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO department_certs (serial, department_id, purpose, cert_der, key_sealed, not_before, not_after, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&c.serial)
    .bind(&c.department_id)
    .bind(&c.purpose)
    .bind(c.cert_der.clone())
    .bind(c.key_sealed.clone())
    .bind(c.not_before)
    .bind(c.not_after)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The department's newest live certificate for `purpose` at `now`.
pub async fn current_cert(
    db: &Db,
    department_id: &str,
    purpose: &str,
    now: i64,
) -> Result<Option<CertRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {CERT} FROM department_certs WHERE department_id = $1 AND purpose = $2 AND revoked_at IS NULL \
         AND not_before <= $3 AND not_after > $4 ORDER BY not_before DESC LIMIT 1"
    ))
    .bind(department_id)
    .bind(purpose)
    .bind(now)
    .bind(now)
    .fetch_optional(&db.pool)
    .await?)
}

pub async fn cert(db: &Db, serial: &str) -> Result<Option<CertRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {CERT} FROM department_certs WHERE serial = $1"
    ))
    .bind(serial)
    .fetch_optional(&db.pool)
    .await?)
}

pub async fn revoke_cert(tx: &mut Tx, serial: &str, reason: &str, now: i64) -> Result<bool> {
    let r = sqlx::query("UPDATE department_certs SET revoked_at = $1, revoke_reason = $2 WHERE serial = $3 AND revoked_at IS NULL")
        .bind(now)
        .bind(reason)
        .bind(serial)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Every certificate of a department, newest first (keys stay sealed in the row).
pub async fn certs_of(db: &Db, department_id: &str) -> Result<Vec<CertRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {CERT} FROM department_certs WHERE department_id = $1 ORDER BY not_before DESC, serial"
    ))
    .bind(department_id)
    .fetch_all(&db.pool)
    .await?)
}
