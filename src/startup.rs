//! Start-up: open the database and keys, build the state, bind the listener (port 0 in tests) and
//! report the real address, serve until the shutdown future resolves, run background upkeep.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::crypto::keys::KeyDir;
use crate::crypto::password::PasswordHasherPool;
use crate::domain::time::now;
use crate::http::AppState;
use crate::pki::Ca;
use crate::storage::{self, Db};

/// Whether opening may create what is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opening {
    /// `serve`, `demo`, `init`: the database is created if absent, and keys are generated, but
    /// only for a database that has never held data.
    MayCreate,
    /// Admin commands: the database and every key file must already exist; nothing is created.
    Existing,
}

/// The key files of a data directory (under `key_dir`), each with what depends on it.
/// (`ca/root.key` is not among them: no node reads it, and it leaves for offline custody after the
/// key ceremony, deploy/README.md.)
pub const KEY_FILES: [(&str, &str); 6] = [
    (
        "data-keys.json",
        "every sealed identity number, and the blind indexes accounts, licences and subjects are found by",
    ),
    (
        "keyset.json",
        "the keys that sign ID and access tokens, published in the JWKS portals verify them with",
    ),
    ("ca/root.pem", "the licence root: every licence's certificate chain ends at it"),
    (
        "ca/intermediate.pem",
        "the intermediate CA that issued every department certificate",
    ),
    (
        "ca/intermediate.key",
        "the intermediate CA's key, which issues and renews department certificates",
    ),
    (
        "tlog/ed25519.pk8",
        "the transparency log's key: every checkpoint is signed with it, and verifiers pin it",
    ),
];

/// Open the database, the key directory and the licence CA (`keys/ca/`). Under
/// [`Opening::MayCreate`] an absent database is created, and missing keys are generated only if
/// the database has never held data: a new data key would leave every sealed identity number
/// unreadable, a new root every licence `not_issued_here`, a new log key every checkpoint
/// unverifiable. Otherwise a missing key file is refused, naming it and what depends on it.
pub async fn open(config: &Config, opening: Opening) -> anyhow::Result<(Db, Arc<KeyDir>, Arc<Ca>)> {
    let max = config.database_max_connections;
    let db = match opening {
        Opening::MayCreate => Db::connect(&config.database_url, max).await,
        Opening::Existing => Db::connect_existing(&config.database_url, max).await,
    }
    .with_context(|| "opening the database (see database_url)")?;
    let dir = &config.key_dir;
    let missing: Vec<&(&str, &str)> = KEY_FILES
        .iter()
        .filter(|(f, _)| !dir.join(f).exists())
        .collect();
    if let Some((file, what)) = missing.first() {
        let refuse = match opening {
            Opening::Existing => Some("admin commands never create keys"),
            Opening::MayCreate if storage::holds_data(&db).await? => {
                Some("the database holds data, so no new key is generated")
            }
            Opening::MayCreate => None,
        };
        if let Some(why) = refuse {
            anyhow::bail!(
                "{} is missing, and {what} depends on it ({why}). Restore it from the backup of \
                 this key directory, or set key_dir to the directory this database was created with{}",
                dir.join(file).display(),
                match missing.len() {
                    1 => String::new(),
                    n => format!(" ({} other key files are missing too)", n - 1),
                }
            );
        }
    }
    let (keys, created) = KeyDir::open_or_init(dir, now())?;
    if created {
        tracing::info!(dir = %dir.display(), "generated new keys for a new database");
    }
    let (ca, ca_created) = Ca::open_or_create(&dir.join("ca"), "tongban", now())?;
    if ca_created {
        tracing::info!("created the licence root and intermediate CA");
    }
    if crate::audit::licence_log::create_key_if_missing(dir)? {
        tracing::info!("created the transparency log's key");
    }
    Ok((db, Arc::new(keys), Arc::new(ca)))
}

pub async fn build_state(
    config: Config,
    issuer: String,
    opening: Opening,
) -> anyhow::Result<AppState> {
    let (db, keys, ca) = open(&config, opening).await?;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let passwords =
        PasswordHasherPool::new(config.argon2_m_kib, config.argon2_t, config.argon2_p, cores)?;
    let state = AppState::new(config, issuer, db, keys, passwords, ca)?;
    state.provider.deny.refresh(
        storage::grants::denied_since(&state.db, now()).await?,
        now(),
    );
    Ok(state)
}

/// A bound, ready-to-serve application.
pub struct Server {
    pub listener: TcpListener,
    pub addr: SocketAddr,
    pub state: AppState,
    /// Set when `tls_cert` and `tls_key` are: the node terminates TLS itself.
    tls: Option<tokio_rustls::TlsAcceptor>,
    /// Where mail and SMS go (the outbox's delivery).
    mail: crate::mail::Transport,
}

impl Server {
    /// Bind `config.listen`; the issuer defaults to `http://<bound address>`.
    pub async fn bind(config: Config) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        let addr = listener.local_addr()?;
        let tls = if config.tls_cert.is_empty() {
            None
        } else {
            Some(crate::http::tls::acceptor(
                std::path::Path::new(&config.tls_cert),
                std::path::Path::new(&config.tls_key),
            )?)
        };
        let issuer = if !config.issuer.is_empty() {
            config.issuer.trim_end_matches('/').to_owned()
        } else if tls.is_some() {
            format!("https://{addr}")
        } else {
            format!("http://{addr}")
        };
        // A half-configured mail relay or SMS gateway is refused here, before anything is served.
        let mail = crate::mail::Transport::from_config(&config)?;
        if !mail.has_email() {
            tracing::warn!("no SMTP relay (smtp_host): mail waits in the outbox undelivered");
        }
        let state = build_state(config, issuer, Opening::MayCreate).await?;
        Ok(Self {
            listener,
            addr,
            state,
            tls,
            mail,
        })
    }

    /// Whether this node terminates TLS itself.
    pub fn tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Serve until `shutdown` resolves; then stop accepting connections, answer `/readyz` with 503,
    /// let the requests in flight finish, and return when they have or after `shutdown_grace_secs`,
    /// whichever comes first.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        spawn_background(self.state.clone(), self.mail.clone());
        let grace = Duration::from_secs(self.state.config.shutdown_grace_secs);
        let (begun_tx, begun_rx) = tokio::sync::oneshot::channel::<()>();
        let draining = self.state.clone();
        let signal = async move {
            shutdown.await;
            draining
                .draining
                .store(true, std::sync::atomic::Ordering::Relaxed);
            tracing::info!(
                grace_secs = grace.as_secs(),
                in_flight = draining.metrics.in_flight(),
                "shutting down: no new connections, finishing the requests in flight"
            );
            let _ = begun_tx.send(());
        };
        let state = self.state.clone();
        let app = crate::http::app(self.state)
            .into_make_service_with_connect_info::<crate::http::tls::Peer>();
        let serve = async move {
            match self.tls {
                Some(acceptor) => {
                    let listener = crate::http::tls::TlsListener::new(self.listener, acceptor)?;
                    axum::serve(listener, app)
                        .with_graceful_shutdown(signal)
                        .await
                }
                None => {
                    axum::serve(self.listener, app)
                        .with_graceful_shutdown(signal)
                        .await
                }
            }
        };
        let deadline = async move {
            match begun_rx.await {
                Ok(()) => tokio::time::sleep(grace).await,
                // The server stopped on its own: nothing to time.
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            served = serve => served?,
            () = deadline => tracing::warn!(
                in_flight = state.metrics.in_flight(),
                "the shutdown grace period is over with requests still in flight; exiting"
            ),
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Upkeep: purge expired rows, pick up key rotations made elsewhere, and refresh the revocation deny
/// list from the database, so a revocation made by another node or by the CLI holds here within
/// 2 seconds (revocations made through this node hold at once).
fn spawn_background(state: AppState, mail: crate::mail::Transport) {
    // Mail and SMS: what is queued goes at once on this node (woken), and what other nodes queued
    // or what failed before within a second.
    let identity = state.identity.clone();
    tokio::spawn(async move {
        loop {
            let _ = tokio::time::timeout(Duration::from_secs(1), identity.outbox.notified()).await;
            if let Err(e) = crate::identity::notices::deliver(&identity, &mail, now()).await {
                tracing::warn!(error = %e, "delivering mail and SMS failed");
            }
        }
    });
    // Other nodes' changes (PostgreSQL LISTEN/NOTIFY): caches dropped within milliseconds.
    tokio::spawn(crate::cluster::listen(state.licences.clone()));
    // The sealer, every second on SQLite and every 200 ms on PostgreSQL: events recorded by other
    // nodes and the CLI, and leaves queued before a crash, are chained and sequenced within that.
    // On PostgreSQL every event is queued, and a second's worth in one round (a 1,000-event round's
    // statement takes ~5 ms there) held up the queries committing beside it: holder queries paced at
    // ~180/s (1,800 audited reads/s) had a p99 of 8.2-16.7 ms with one round a second, 6.7-7.6 ms
    // with five (benches/RESULTS.md). On SQLite a round mostly stores a checkpoint.
    let sealing = state.clone();
    let every = match state.db.backend {
        storage::Backend::Postgres => Duration::from_millis(200),
        storage::Backend::Sqlite => Duration::from_secs(1),
    };
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(e) = crate::audit::rounds::seal_now(&sealing.audit, now()).await {
                tracing::error!(error = %e, "sealing the audit and transparency logs failed");
            }
        }
    });
    // SQLite: the WAL copied into the database file off the writer's connection (see
    // `Db::checkpoint_wal`). PostgreSQL checkpoints by itself.
    if state.db.backend == storage::Backend::Sqlite {
        let checkpointing = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = checkpointing.db.checkpoint_wal().await {
                    tracing::warn!(error = %e, "checkpointing the SQLite WAL failed");
                }
            }
        });
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        let mut keys_seen = state.provider.keys.manifest_modified();
        let mut n: u64 = 0;
        loop {
            tick.tick().await;
            n += 1;
            let modified = state.provider.keys.manifest_modified();
            if modified != keys_seen {
                match state.provider.keys.reload() {
                    Ok(()) => {
                        keys_seen = modified;
                        tracing::info!("signing keys reloaded");
                    }
                    // Seen mid-replacement (a Secret update swaps files): try again next tick.
                    Err(e) => tracing::error!(error = %e, "reloading signing keys failed"),
                }
            }
            crate::cluster::refresh_deny(&state.licences).await;
            if n % 150 == 0 {
                if let Err(e) = storage::sessions::purge_expired(&state.db, now()).await {
                    tracing::warn!(error = %e, "purging expired rows failed");
                }
            }
        }
    });
}

/// Resolves on Ctrl-C or SIGTERM.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    // The handlers are installed now, not when the future is first polled: a SIGTERM that comes
    // right after the process says it is ready must begin a graceful shutdown, not kill it.
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
                }
                _ => {
                    tracing::warn!("cannot install signal handlers; waiting for Ctrl-C only");
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
