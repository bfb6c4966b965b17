//! Change notices between nodes on one PostgreSQL database (`NOTIFY tongban_changes`). Sent inside
//! the change's own transaction, so PostgreSQL delivers a notice exactly when the change commits and
//! never for one rolled back; identical notices in one transaction arrive once. SQLite serves one
//! node, so there they are no-ops.

use super::{Backend, Db, Result, Tx};

pub const CHANNEL: &str = "tongban_changes";

/// The notices (see `cluster`): a licence's status, certificates, the deny list, a client, keys.
pub fn licence_status(department: &str, licence: &str) -> String {
    format!("licence {department} {licence}")
}
pub const CERTIFICATES: &str = "certificates";
pub const DENY: &str = "deny";
pub const KEYS: &str = "keys";
pub fn client(id: &str) -> String {
    format!("client {id}")
}

/// Queue `payload` for delivery when `tx` commits (PostgreSQL only).
pub async fn changed(tx: &mut Tx, payload: &str) -> Result<()> {
    if tx.backend_name() != "PostgreSQL" {
        return Ok(());
    }
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(payload)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Send `payload` now, outside any transaction (the CLI's key rotation, which changes files).
pub async fn send(db: &Db, payload: &str) -> Result<()> {
    if db.backend != Backend::Postgres {
        return Ok(());
    }
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(payload)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// A connection of its own that listens on [`CHANNEL`].
pub struct Listener(sqlx::postgres::PgListener);

/// What [`Listener::next`] saw.
pub enum Notice {
    Change(String),
    /// The connection dropped: notices sent meanwhile are lost. The next call reconnects.
    Lost,
}

impl Listener {
    /// `None` on SQLite (one node: nothing to hear).
    pub async fn open(db: &Db) -> Result<Option<Self>> {
        if db.backend != Backend::Postgres {
            return Ok(None);
        }
        let mut l = sqlx::postgres::PgListener::connect(&db.url).await?;
        l.listen(CHANNEL).await?;
        Ok(Some(Self(l)))
    }

    pub async fn next(&mut self) -> Result<Notice> {
        Ok(match self.0.try_recv().await? {
            Some(n) => Notice::Change(n.payload().to_owned()),
            None => Notice::Lost,
        })
    }
}
