//! Licence types: the registered definitions (JSON) by code.

use super::{conflict, Db, Result, Tx};

/// Register a type; `Conflict` if the code exists.
pub async fn insert(tx: &mut Tx, code: &str, definition: &str, now: i64) -> Result<()> {
    sqlx::query("INSERT INTO licence_types (code, definition, created_at) VALUES ($1, $2, $3)")
        .bind(code)
        .bind(definition)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(conflict("licence type code"))?;
    Ok(())
}

/// A type's definition by code.
pub async fn get(db: &Db, code: &str) -> Result<Option<String>> {
    let r: Option<(String,)> =
        sqlx::query_as("SELECT definition FROM licence_types WHERE code = $1")
            .bind(code)
            .fetch_optional(&db.pool)
            .await?;
    Ok(r.map(|r| r.0))
}

/// Every type, by code.
pub async fn list(db: &Db) -> Result<Vec<(String, String)>> {
    Ok(
        sqlx::query_as("SELECT code, definition FROM licence_types ORDER BY code")
            .fetch_all(&db.pool)
            .await?,
    )
}
