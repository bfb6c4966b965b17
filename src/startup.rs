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
use crate::pki::Ca;
use crate::state::AppState;
use crate::storage::{self, Db};

/// Open (and on first start create) the database, the key directory and the licence CA (`keys/ca/`).
pub async fn open(config: &Config) -> anyhow::Result<(Db, Arc<KeyDir>, Arc<Ca>)> {
    let db = Db::connect(&config.database_url, config.database_max_connections)
        .await
        .with_context(|| "opening the database (see database_url)")?;
    let (keys, created) = KeyDir::open_or_init(&config.key_dir, now())?;
    if created {
        tracing::info!(dir = %config.key_dir.display(), "generated new keys");
    }
    let (ca, ca_created) = Ca::open_or_create(&config.key_dir.join("ca"), "tongban", now())?;
    if ca_created {
        tracing::info!("created the licence root and intermediate CA");
    }
    Ok((db, Arc::new(keys), Arc::new(ca)))
}

pub async fn build_state(config: Config, issuer: String) -> anyhow::Result<AppState> {
    let (db, keys, ca) = open(&config).await?;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let passwords =
        PasswordHasherPool::new(config.argon2_m_kib, config.argon2_t, config.argon2_p, cores)?;
    let state = AppState::new(config, issuer, db, keys, passwords, ca)?;
    state.deny.refresh(
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
}

impl Server {
    /// Bind `config.listen`; the issuer defaults to `http://<bound address>`.
    pub async fn bind(config: Config) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        let addr = listener.local_addr()?;
        let issuer = if config.issuer.is_empty() {
            format!("http://{addr}")
        } else {
            config.issuer.trim_end_matches('/').to_owned()
        };
        let state = build_state(config, issuer).await?;
        Ok(Self {
            listener,
            addr,
            state,
        })
    }

    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        spawn_background(self.state.clone());
        let app = crate::http::app(self.state).into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await?;
        Ok(())
    }
}

/// Upkeep: purge expired rows, pick up key rotations made elsewhere, and refresh the revocation deny
/// list from the database, so a revocation made by another node or by the CLI holds here within
/// 2 seconds (revocations made through this node hold at once).
fn spawn_background(state: AppState) {
    // The sealer, every second: events recorded by other nodes and the CLI, and leaves queued before
    // a crash, are chained and sequenced within about a second.
    let sealing = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            if let Err(e) = crate::audit::sealer::seal_now(&sealing, now()).await {
                tracing::error!(error = %e, "sealing the audit and transparency logs failed");
            }
        }
    });
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        let mut keys_seen = state.keys.manifest_modified();
        let mut n: u64 = 0;
        loop {
            tick.tick().await;
            n += 1;
            let modified = state.keys.manifest_modified();
            if modified != keys_seen {
                keys_seen = modified;
                match state.keys.reload() {
                    Ok(()) => tracing::info!("signing keys reloaded"),
                    Err(e) => tracing::error!(error = %e, "reloading signing keys failed"),
                }
            }
            match storage::grants::denied_since(&state.db, now()).await {
                Ok(rows) => state.deny.refresh(rows, now()),
                Err(e) => tracing::warn!(error = %e, "refreshing the deny list failed"),
            }
            if n % 150 == 0 {
                if let Err(e) = storage::sessions::purge_expired(&state.db, now()).await {
                    tracing::warn!(error = %e, "purging expired rows failed");
                }
            }
        }
    });
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
