//! `AppState`: everything a request needs, cheap to clone (one `Arc`).

use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;

use crate::config::Config;
use crate::crypto::keys::KeyDir;
use crate::crypto::password::PasswordHasherPool;
use crate::http::pages::Pages;
use crate::identity::throttle::Throttle;
use crate::licences::catalogue::LicenceType;
use crate::licences::vc::Signer;
use crate::licences::verify::{Memo, RepositoryFacts};
use crate::oidc::clients::Client;
use crate::oidc::denylist::DenyList;
use crate::oidc::tokens::AccessClaims;
use crate::pki::Ca;
use crate::storage::Db;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    /// Settings, with `issuer` resolved to the real listening address.
    pub config: Config,
    /// The issuer URL without a trailing slash; every token's `iss`.
    pub issuer: String,
    pub db: Db,
    /// Signing keys (reloadable) and data keys.
    pub keys: Arc<KeyDir>,
    pub passwords: PasswordHasherPool,
    /// Registered clients by id. Invalidated when a client is changed through this node.
    pub clients: Cache<String, Arc<Client>>,
    /// Access tokens that verified, by token string, so repeated introspection and userinfo calls cost
    /// no signature check. Entries expire with the token; revocation is checked on every hit.
    pub verified: Cache<String, Arc<AccessClaims>>,
    /// Revoked `jti`s and grants, in memory.
    pub deny: DenyList,
    /// Userinfo responses by (grant, scope); revocation is checked before this cache is consulted.
    pub userinfo: Cache<String, Arc<serde_json::Value>>,
    pub throttle: Throttle,
    pub pages: Pages,
    /// HTTP client for back-channel logout delivery.
    pub http: reqwest::Client,
    /// The licence CA (root and intermediate; the intermediate key signs department certificates).
    pub ca: Arc<Ca>,
    /// Department signers (key + `x5c` chain) by "department purpose"; invalidated on renewal and
    /// revocation through this node, and expiring after a minute for changes made elsewhere.
    pub signers: Cache<String, Arc<Signer>>,
    /// Signed status-list tokens by department id; invalidated on every status change through this node.
    pub status_lists: Cache<String, Arc<String>>,
    /// Licence types by code.
    pub licence_types: Cache<String, Arc<LicenceType>>,
    /// Departments by the id of their OAuth client, and enterprises' registered names by USCC: rows
    /// that are never updated or deleted, so what was found stays true (misses are not kept: a
    /// department or enterprise registered later is found at once). The minute's expiry bounds an
    /// operator's edit by hand. Issuance and every department call would otherwise read them.
    pub departments: Cache<String, Arc<crate::storage::departments::DepartmentRow>>,
    pub enterprise_names: Cache<String, Arc<str>>,
    /// Public verifications per client address in the current second (a fixed one-second window).
    pub verify_rate: crate::http::ratelimit::PerSecond,
    /// What verification remembers: validated certificate chains by header, decoded licences by string.
    pub verify_memo: Arc<Memo>,
    /// What the repository knows of a licence (status history, certificate revocation), by licence id,
    /// for verification: invalidated on every status change and certificate revocation through this
    /// node, and at most 2 seconds old for changes made on another node.
    pub licence_facts: Cache<String, Arc<RepositoryFacts>>,
    /// Threads for short CPU-bound work (licence verification), one per core.
    pub cpu: crate::crypto::pool::CpuPool,
    /// Issuance transactions allowed to wait for the database at once (4 on SQLite's single
    /// connection; the pool size on PostgreSQL): beyond that they wait here, not ahead of the sealer.
    pub write_slots: tokio::sync::Semaphore,
    /// Coordinates sealing rounds (audit chain, transparency log) on this node.
    pub sealer: crate::audit::sealer::Sealer,
    /// `trusted_proxies`, parsed (see `http::extract::ClientAddr`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// What `/metrics` exports.
    pub metrics: crate::metrics::Metrics,
    /// Set when shutdown begins: `/readyz` answers 503 so load balancers stop sending new requests
    /// while the in-flight ones finish.
    pub draining: std::sync::atomic::AtomicBool,
    /// The transparency log's checkpoint signing key (`keys/tlog/ed25519.pk8`), named by the origin.
    pub log_key: Arc<crate::tlog::note::LogKey>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
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
        let throttle = Throttle::new(
            config.login_max_failures,
            config.login_max_failures_per_address,
            config.login_throttle_secs,
        );
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let log_key =
            crate::audit::log::load_key(&config.key_dir, &crate::audit::log::origin(&issuer))?;
        Ok(Self(Arc::new(Inner {
            sealer: crate::audit::sealer::Sealer::new(),
            metrics: crate::metrics::Metrics::new(),
            trusted_proxies: crate::http::extract::parse_trusted_proxies(&config.trusted_proxies)
                .map_err(anyhow::Error::msg)?,
            draining: std::sync::atomic::AtomicBool::new(false),
            write_slots: tokio::sync::Semaphore::new(match db.backend {
                crate::storage::Backend::Sqlite => 4,
                crate::storage::Backend::Postgres => {
                    config.database_max_connections.max(2) as usize
                }
            }),
            cpu: crate::crypto::pool::CpuPool::per_core("tongban-cpu", config.sched_batch)?,
            log_key: Arc::new(log_key),
            clients: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(60))
                .build(),
            verified: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(config.access_token_ttl.max(1) as u64))
                .build(),
            deny: DenyList::default(),
            userinfo: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(60))
                .build(),
            throttle,
            pages: Pages::load()?,
            http,
            ca,
            signers: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(60))
                .build(),
            status_lists: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(60))
                .build(),
            licence_types: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(60))
                .build(),
            departments: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(60))
                .build(),
            enterprise_names: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(60))
                .build(),
            verify_rate: Default::default(),
            verify_memo: Arc::new(Memo::default()),
            licence_facts: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(2))
                .build(),
            config,
            issuer,
            db,
            keys,
            passwords,
        })))
    }
}
