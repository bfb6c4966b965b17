//! Registered OAuth clients: the registration as one JSON document plus the hashed secret.

use super::{conflict, Db, Result, Tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClientRow {
    pub client_id: String,
    pub config: String,
    pub secret_hash: Option<Vec<u8>>,
}

pub async fn insert(tx: &mut Tx, row: &ClientRow, now: i64) -> Result<()> {
    sqlx::query("INSERT INTO clients (client_id, config, secret_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&row.client_id)
        .bind(&row.config)
        .bind(row.secret_hash.clone())
        .bind(now)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(conflict("client_id"))?;
    Ok(())
}

pub async fn get(db: &Db, client_id: &str) -> Result<Option<ClientRow>> {
    Ok(
        sqlx::query_as("SELECT client_id, config, secret_hash FROM clients WHERE client_id = $1")
            .bind(client_id)
            .fetch_optional(&db.pool)
            .await?,
    )
}

pub async fn list(db: &Db) -> Result<Vec<ClientRow>> {
    Ok(
        sqlx::query_as("SELECT client_id, config, secret_hash FROM clients ORDER BY client_id")
            .fetch_all(&db.pool)
            .await?,
    )
}

pub async fn remove(tx: &mut Tx, client_id: &str) -> Result<bool> {
    let r = sqlx::query("DELETE FROM clients WHERE client_id = $1")
        .bind(client_id)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected() == 1)
}
