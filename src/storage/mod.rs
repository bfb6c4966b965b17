//! All SQL lives here. One set of repository functions serves SQLite (the embedded default) and
//! PostgreSQL through sqlx's `Any` driver: the backend is chosen once, from the database URL, and the SQL
//! is written in the dialect both accept (`$n` placeholders in ascending order, BIGINT times, `RETURNING`,
//! `ON CONFLICT`). Writes that must commit together take a `&mut Tx`.
//!
//! SQLite runs with a single connection in WAL mode: SQLite allows one writer at a time anyway, and a
//! single connection turns "database is locked" races into an orderly queue. PostgreSQL uses a pool.

pub mod accounts;
pub mod audit;
pub mod clients;
pub mod contacts;
pub mod departments;
pub mod enterprises;
pub mod factors;
pub mod grants;
pub mod licence_types;
pub mod licences;
pub mod notify;
pub mod proofing;
pub mod sessions;
pub mod throttle;
pub mod tlog;

use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool};

pub type Tx = sqlx::Transaction<'static, Any>;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored JSON does not parse: {0}")]
    Json(#[from] serde_json::Error),
    #[error("a record with this {0} already exists")]
    Conflict(&'static str),
    /// The database an admin command was pointed at does not exist (or has no schema).
    #[error("{0}")]
    Absent(String),
    /// Stored rows contradict one another (e.g. the transparency log's nodes); never the client's fault.
    #[error("stored data is inconsistent: {0}")]
    Integrity(String),
}

pub type Result<T> = std::result::Result<T, StorageError>;

impl StorageError {
    /// The database cannot be reached, or its schema is gone (a database recreated empty, a dropped
    /// table): a failure of the service's surroundings that retrying later may cure, answered with
    /// 503 and `Retry-After`, never a 500. A query that is wrong, data that contradict one another
    /// and refused writes are not.
    pub fn is_unavailable(&self) -> bool {
        let StorageError::Database(e) = self else {
            return false;
        };
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(d) => match d.code().as_deref() {
                // PostgreSQL: undefined_table, undefined_column, invalid_catalog_name (the
                // database is gone), connection exceptions (08), operator intervention (57:
                // terminated by an administrator, shutting down, cannot connect now), and
                // insufficient resources (53: too many connections).
                Some(c) if c == "42P01" || c == "42703" || c == "3D000" => true,
                Some(c) if c.starts_with("08") || c.starts_with("57") || c.starts_with("53") => {
                    true
                }
                // SQLite: the file is there but a table (or all of them) is not.
                _ => {
                    let m = d.message();
                    m.starts_with("no such table") || m.starts_with("no such column")
                }
            },
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn of(url: &str) -> Self {
        if url.starts_with("postgres") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// The file an SQLite URL names (`sqlite://data/tongban.db?mode=rwc` → `data/tongban.db`).
fn sqlite_path(url: &str) -> Option<&str> {
    url.strip_prefix("sqlite://")
        .map(|p| p.split('?').next().unwrap_or(p))
}

/// Whether the database has ever held data: anything registered, issued or audited. Keys may be
/// generated only for a database that has not (`startup::open`).
pub async fn holds_data(db: &Db) -> Result<bool> {
    for table in [
        "audit_events",
        "accounts",
        "clients",
        "enterprises",
        "departments",
        "licences",
    ] {
        let sql = format!("SELECT COUNT(*) FROM (SELECT 1 FROM {table} LIMIT 1) AS t");
        let (n,): (i64,) = sqlx::query_as(&sql).fetch_one(&db.pool).await?;
        if n > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

#[derive(Debug, Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
    /// PostgreSQL: one connection of its own for the sealer, so a sealing round (which issuances wait
    /// for) never queues behind them for a pooled connection. SQLite: none (one connection, one
    /// writer; a second connection would only wait for the file lock).
    sealing: Option<AnyPool>,
    /// SQLite: a connection of its own for [`Db::checkpoint_wal`]; PostgreSQL: none.
    checkpointer: Option<AnyPool>,
    /// Where it connected (the listener of `notify` opens a connection of its own).
    url: String,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Db {
    /// Connect to `url` (`sqlite://path?mode=rwc` or `postgres://...`) and apply pending migrations.
    /// Connect to a database that tongban already created (admin commands): an SQLite file that
    /// does not exist, or a database without tongban's schema, is refused and left as it was.
    pub async fn connect_existing(url: &str, max_connections: u32) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of(url);
        if let Some(path) = sqlite_path(url).filter(|_| backend == Backend::Sqlite) {
            if !std::path::Path::new(path).is_file() {
                return Err(StorageError::Absent(format!(
                    "there is no database at {path}: run `tongban serve` or `tongban init` with \
                     this database_url first, or run the command where the data directory is"
                )));
            }
        }
        let probe = AnyPoolOptions::new()
            .max_connections(1)
            .connect_with(AnyConnectOptions::from_str(url)?)
            .await?;
        let sql = match backend {
            Backend::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
            }
            Backend::Postgres => {
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'"
            }
        };
        let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&probe).await?;
        probe.close().await;
        if n == 0 {
            return Err(StorageError::Absent(
                "the database has no tongban schema: it was never opened by `tongban serve` or \
                 `tongban init`, or database_url names another database"
                    .into(),
            ));
        }
        Self::connect(url, max_connections).await
    }

    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of(url);
        if let Some(path) = sqlite_path(url).filter(|_| backend == Backend::Sqlite) {
            if let Some(parent) = std::path::Path::new(path).parent() {
                let _ = std::fs::create_dir_all(parent);
            }
        }
        let opts = AnyConnectOptions::from_str(url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite {
                1
            } else {
                max_connections.max(2)
            })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        sqlx::query("PRAGMA journal_mode = WAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA foreign_keys = ON")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA synchronous = NORMAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA busy_timeout = 5000")
                            .execute(&mut *conn)
                            .await?;
                        // Checkpoint the WAL every 20,000 pages (about 80 MB) instead of SQLite's
                        // 1,000: the pages every issuance touches (index roots, the log's queues)
                        // are then copied to the database once per checkpoint, not once per 4 MB.
                        // Issuance on SQLite measured +20 to +50% on this machine (A/B runs, with and
                        // without the transparency log alike). In `serve`, `checkpoint_wal` copies
                        // most pages before this is reached, off this connection.
                        sqlx::query("PRAGMA wal_autocheckpoint = 20000")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(opts)
            .await?;
        match backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&pool).await?,
        }
        let sealing = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(
                AnyPoolOptions::new()
                    .max_connections(1)
                    .connect_lazy_with(AnyConnectOptions::from_str(url)?),
            ),
        };
        let checkpointer = match backend {
            Backend::Sqlite if !url.contains(":memory:") && !url.contains("mode=memory") => Some(
                AnyPoolOptions::new()
                    .max_connections(1)
                    .connect_lazy_with(AnyConnectOptions::from_str(url)?),
            ),
            _ => None,
        };
        Ok(Self {
            pool,
            backend,
            sealing,
            checkpointer,
            url: url.to_owned(),
        })
    }

    /// SQLite: copy what the WAL holds into the database file (a PASSIVE checkpoint), on a connection
    /// of its own. `serve` calls it every 250 ms ([`crate::startup`]), so that the writer's connection
    /// seldom checkpoints itself: a checkpoint syncs the WAL and the database file, and the one
    /// connection every request shares stood still for it (0.2-0.3 s every 2,000 issuances or so,
    /// `strace -e fsync`: the p99 of issuance). A passive checkpoint never waits for the writer, nor
    /// the writer for it. The WAL restarts from its beginning once a checkpoint has caught up with it;
    /// under a load that never pauses, the writer's own checkpoint at `wal_autocheckpoint` pages does
    /// that, and finds little left to copy. PostgreSQL: nothing to do.
    pub async fn checkpoint_wal(&self) -> Result<()> {
        if let Some(p) = &self.checkpointer {
            sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(p)
                .await?;
        }
        Ok(())
    }

    /// A transaction for a sealing round (see `sealing`).
    pub async fn begin_sealing(&self) -> Result<Tx> {
        match &self.sealing {
            Some(p) => Ok(p.begin().await?),
            None => self.begin_write().await,
        }
    }

    pub async fn begin(&self) -> Result<Tx> {
        Ok(self.pool.begin().await?)
    }

    /// A transaction that will write: on SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`), so what it reads first (the log's last leaf) is still current when it writes,
    /// even with a second process on the file.
    pub async fn begin_write(&self) -> Result<Tx> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Whether the database holds the schema this binary was built for: the newest migration
    /// applied is the newest one embedded (`sqlx::migrate!`). A database recreated empty answers
    /// `SELECT 1` but not this (no `_sqlx_migrations`: an unavailable error); a newer binary's
    /// migrations not yet applied, or an older binary on a newer schema, make it `false`.
    pub async fn schema_current(&self) -> Result<bool> {
        let expected = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
        .iter()
        .map(|m| m.version)
        .max();
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await?;
        Ok(applied == expected)
    }
}

/// Map a unique-constraint violation to `Conflict(what)`, anything else to `Database`.
pub(crate) fn conflict(what: &'static str) -> impl FnOnce(sqlx::Error) -> StorageError {
    move |e| match e.as_database_error() {
        Some(d) if d.is_unique_violation() => StorageError::Conflict(what),
        _ => StorageError::Database(e),
    }
}

/// `INSERT INTO {head} VALUES ($1, …, $cols), ($cols+1, …), …` for `rows` rows: one statement for a
/// batch (the sealer writes hundreds of rows per round).
pub(crate) fn multi_insert(head: &str, rows: usize, cols: usize) -> String {
    let mut sql = format!("INSERT INTO {head} VALUES ");
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..cols {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${}", r * cols + c + 1));
        }
        sql.push(')');
    }
    sql
}

/// Several writes sent as one statement: one round trip to PostgreSQL, one hop to SQLite's
/// connection thread (sqlx runs each SQLite connection on a thread of its own, so each statement
/// costs two thread switches; on one core that was most of an issuance's time).
///
/// Each part is written with its parameters numbered from `$1`; [`Batch::push`] renumbers them after
/// the parts before. On SQLite the parts run as a multi-statement query (sqlx binds numbered
/// parameters per statement, so each statement takes its own); on PostgreSQL as one statement whose
/// data-modifying CTEs run every part (they see the same snapshot, not each other's rows: a part
/// must not read what another part writes).
pub struct Batch {
    backend: Backend,
    parts: Vec<String>,
    args: sqlx::any::AnyArguments<'static>,
    n: usize,
}

/// Binds one part's parameters, in the order of their numbers.
pub struct Binder<'a> {
    args: &'a mut sqlx::any::AnyArguments<'static>,
    n: &'a mut usize,
}

impl Binder<'_> {
    pub fn bind<T>(&mut self, value: T) -> &mut Self
    where
        T: 'static + Send + sqlx::Encode<'static, Any> + sqlx::Type<Any>,
    {
        use sqlx::Arguments;
        // Encoding into AnyArguments only fails for types Any does not carry; ours are its own.
        if self.args.add(value).is_ok() {
            *self.n += 1;
        }
        self
    }
}

impl Batch {
    pub fn new(backend: Backend) -> Self {
        Self {
            backend,
            parts: Vec::new(),
            args: Default::default(),
            n: 0,
        }
    }

    /// Adds a statement whose parameters are `$1`, `$2`, … in the order `bind` binds them.
    pub fn push(&mut self, sql: &str, bind: impl FnOnce(&mut Binder<'_>)) {
        self.parts.push(renumber(sql, self.n));
        bind(&mut Binder {
            args: &mut self.args,
            n: &mut self.n,
        });
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Runs every part in `tx`, in order.
    pub async fn execute(self, tx: &mut Tx) -> std::result::Result<(), sqlx::Error> {
        let Some((last, ctes)) = self.parts.split_last() else {
            return Ok(());
        };
        let sql = match self.backend {
            Backend::Sqlite => self.parts.join(";\n"),
            Backend::Postgres => {
                let mut sql = String::new();
                for (i, part) in ctes.iter().enumerate() {
                    sql.push_str(if i == 0 { "WITH " } else { ", " });
                    sql.push_str(&format!("w{i} AS ({part})"));
                }
                sql.push(' ');
                sql.push_str(last);
                sql
            }
        };
        sqlx::query_with(&sql, self.args).execute(&mut **tx).await?;
        Ok(())
    }
}

/// `sql` with each `$n` parameter renumbered `$n+offset` (our statements hold no `$` elsewhere).
fn renumber(sql: &str, offset: usize) -> String {
    if offset == 0 {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut chars = sql.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        out.push(c);
        if c != '$' {
            continue;
        }
        let mut n = 0usize;
        let mut digits = false;
        while let Some(&(_, d)) = chars.peek() {
            let Some(v) = d.to_digit(10) else { break };
            n = n * 10 + v as usize;
            digits = true;
            chars.next();
        }
        if digits {
            out.push_str(&(n + offset).to_string());
        }
    }
    out
}

#[cfg(test)]
mod batch_tests {
    use super::renumber;

    #[test]
    fn parameters_are_renumbered_after_the_parts_before() {
        assert_eq!(renumber("VALUES ($1, $2)", 0), "VALUES ($1, $2)");
        assert_eq!(
            renumber("VALUES ($1, $10) WHERE x = $2", 5),
            "VALUES ($6, $15) WHERE x = $7"
        );
        assert_eq!(renumber("SELECT 1", 3), "SELECT 1");
    }
}
