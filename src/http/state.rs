//! `AppState`: what a request needs, cheap to clone (one `Arc`): the settings, what only the web
//! layer uses (pages, the verification rate limit, trusted proxies, draining), and the domain
//! layers' contexts, which handlers take with `State<Licences>` and the like (`FromRef`).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use moka::sync::Cache;

use super::pages::templates::Pages;
use super::ratelimit::PerSecond;
use crate::audit::context::Audit;
use crate::audit::sealer::Sealer;
use crate::config::Config;
use crate::crypto::keys::KeyDir;
use crate::crypto::password::PasswordHasherPool;
use crate::crypto::pool::CpuPool;
use crate::identity::context::Identity;
use crate::identity::throttle::Throttle;
use crate::licences::context::Licences;
use crate::licences::verify::Memo;
use crate::metrics::Metrics;
use crate::oidc::context::Provider;
use crate::oidc::denylist::DenyList;
use crate::pki::Ca;
use crate::storage::{Backend, Db};

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    /// Settings, with `issuer` resolved to the real listening address.
    pub config: Config,
    /// The issuer URL without a trailing slash; every token's `iss`.
    pub issuer: String,
    pub db: Db,
    pub pages: Pages,
    /// Public verifications per client address in the current second (a fixed one-second window).
    pub verify_rate: PerSecond,
    /// `trusted_proxies`, parsed (see `http::extract::ClientAddr`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// What `/metrics` exports.
    pub metrics: Arc<Metrics>,
    /// Set when shutdown begins: `/readyz` answers 503 so load balancers stop sending new requests
    /// while the in-flight ones finish.
    pub draining: std::sync::atomic::AtomicBool,
    pub identity: Identity,
    pub provider: Provider,
    pub licences: Licences,
    pub audit: Audit,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

macro_rules! hand_out {
    ($($field:ident: $ty:ty),*) => {$(
        impl FromRef<AppState> for $ty {
            fn from_ref(state: &AppState) -> $ty {
                state.$field.clone()
            }
        }
    )*};
}
hand_out!(identity: Identity, provider: Provider, licences: Licences, audit: Audit);

/// A cache of at most `capacity` entries, each kept at most `ttl`.
fn cache<K, V>(capacity: u64, ttl: Duration) -> Cache<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    Cache::builder()
        .max_capacity(capacity)
        .time_to_live(ttl)
        .build()
}

impl AppState {
    pub fn new(
        config: Config,
        issuer: String,
        db: Db,
        keys: Arc<KeyDir>,
        passwords: PasswordHasherPool,
        ca: Arc<Ca>,
    ) -> anyhow::Result<Self> {
        let minute = Duration::from_secs(60);
        let metrics = Arc::new(Metrics::new());
        let log_key = crate::audit::licence_log::load_key(
            &config.key_dir,
            &crate::audit::licence_log::origin(&issuer),
        )?;
        let audit = Audit {
            db: db.clone(),
            sealer: Arc::new(Sealer::new()),
            log_key: Arc::new(log_key),
            seal_interval_ms: config.seal_interval_ms,
        };
        let identity = Identity {
            db: db.clone(),
            keys: keys.clone(),
            passwords,
            throttle: Throttle::new(
                config.login_max_failures,
                config.login_max_failures_per_address,
                config.login_throttle_secs,
            ),
            metrics: metrics.clone(),
            session_absolute_ttl: config.session_absolute_ttl,
            session_idle_ttl: config.session_idle_ttl,
            passkeys: crate::identity::passkeys::relying_party(&issuer).map(Arc::new),
            issuer: issuer.clone(),
            outbox: Arc::new(tokio::sync::Notify::new()),
        };
        let provider = Provider {
            db: db.clone(),
            issuer: issuer.clone(),
            keys: keys.clone(),
            identity: identity.clone(),
            clients: cache(10_000, minute),
            verified: cache(
                100_000,
                Duration::from_secs(config.access_token_ttl.max(1) as u64),
            ),
            deny: Arc::new(DenyList::default()),
            userinfo: cache(100_000, minute),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            metrics: metrics.clone(),
            access_token_ttl: config.access_token_ttl,
            id_token_ttl: config.id_token_ttl,
            refresh_token_ttl: config.refresh_token_ttl,
            code_ttl: config.code_ttl,
            max_token_ttl: config.max_token_ttl(),
        };
        let licences = Licences {
            db: db.clone(),
            issuer: issuer.clone(),
            keys,
            ca,
            signers: cache(10_000, minute),
            status_lists: cache(10_000, minute),
            licence_types: cache(10_000, minute),
            departments: cache(10_000, minute),
            enterprise_names: cache(100_000, minute),
            verify_memo: Arc::new(Memo::default()),
            licence_facts: cache(100_000, Duration::from_secs(2)),
            cpu: CpuPool::per_core("tongban-cpu", config.sched_batch)?,
            write_slots: Arc::new(tokio::sync::Semaphore::new(match db.backend {
                Backend::Sqlite => 4,
                Backend::Postgres => config.database_max_connections.max(2) as usize,
            })),
            metrics: metrics.clone(),
            audit: audit.clone(),
            provider: provider.clone(),
        };
        Ok(Self(Arc::new(Inner {
            trusted_proxies: crate::config::parse_trusted_proxies(&config.trusted_proxies)?,
            pages: Pages::load()?,
            verify_rate: PerSecond::default(),
            draining: std::sync::atomic::AtomicBool::new(false),
            metrics,
            identity,
            provider,
            licences,
            audit,
            config,
            issuer,
            db,
        })))
    }
}
