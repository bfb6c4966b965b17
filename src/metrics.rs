//! Prometheus metrics (`GET /metrics`, the text exposition format), with the `prometheus-client`
//! crate. Counters are atomics and families are read-locked maps, so recording costs well under a
//! microsecond; gauges that describe the state (database pool, deny list) are read at scrape time.
//!
//! No label ever holds personal data or a token: routes are the route templates (`/api/v1/licences/{id}`),
//! never the path a request asked for.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: &'static str,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteStatusLabels {
    pub method: &'static str,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GrantLabels {
    pub grant: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    pub event: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VerdictLabels {
    pub verdict: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    pub cache: &'static str,
    pub result: &'static str,
}

/// The caches whose hits and misses are counted (`tongban_cache_lookups_total{cache,result}`).
#[derive(Clone, Copy, Debug)]
pub enum CacheName {
    Clients,
    VerifiedTokens,
    Userinfo,
    Signers,
    StatusLists,
    LicenceTypes,
    LicenceFacts,
    Departments,
    Enterprises,
}

impl CacheName {
    fn label(self) -> &'static str {
        match self {
            CacheName::Clients => "clients",
            CacheName::VerifiedTokens => "verified_tokens",
            CacheName::Userinfo => "userinfo",
            CacheName::Signers => "signers",
            CacheName::StatusLists => "status_lists",
            CacheName::LicenceTypes => "licence_types",
            CacheName::LicenceFacts => "licence_facts",
            CacheName::Departments => "departments",
            CacheName::Enterprises => "enterprises",
        }
    }
}

/// Every metric the service exports. One per `AppState`, so each test server counts its own.
pub struct Metrics {
    registry: Registry,
    requests: Family<RouteStatusLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    in_flight: Gauge,
    logins: Family<ResultLabels, Counter>,
    tokens: Family<GrantLabels, Counter>,
    licences: Family<EventLabels, Counter>,
    verifications: Family<VerdictLabels, Counter>,
    cache: Family<CacheLabels, Counter>,
    pub db_connections: Gauge,
    pub db_idle_connections: Gauge,
    pub db_max_connections: Gauge,
    pub deny_list_entries: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tongban");
        let requests = Family::<RouteStatusLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from the request's arrival to its response headers, by method and route template",
            latency.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "http_requests_in_flight",
            "Requests being handled now",
            in_flight.clone(),
        );
        let logins = Family::<ResultLabels, Counter>::default();
        registry.register(
            "logins",
            "Password logins, by result (succeeded, failed, throttled)",
            logins.clone(),
        );
        let tokens = Family::<GrantLabels, Counter>::default();
        registry.register(
            "tokens_issued",
            "Access tokens issued by the token endpoint, by grant type",
            tokens.clone(),
        );
        let licences = Family::<EventLabels, Counter>::default();
        registry.register(
            "licence_events",
            "Licences issued, suspended, reinstated and revoked",
            licences.clone(),
        );
        let verifications = Family::<VerdictLabels, Counter>::default();
        registry.register(
            "verifications",
            "Licence verifications answered, by verdict",
            verifications.clone(),
        );
        let cache = Family::<CacheLabels, Counter>::default();
        registry.register(
            "cache_lookups",
            "Cache lookups by cache and result (hit, miss); the hit ratio is hit / (hit + miss)",
            cache.clone(),
        );
        let db_connections = Gauge::default();
        registry.register(
            "db_pool_connections",
            "Database connections open",
            db_connections.clone(),
        );
        let db_idle_connections = Gauge::default();
        registry.register(
            "db_pool_idle_connections",
            "Database connections open and idle",
            db_idle_connections.clone(),
        );
        let db_max_connections = Gauge::default();
        registry.register(
            "db_pool_max_connections",
            "The database pool's size limit",
            db_max_connections.clone(),
        );
        let deny_list_entries = Gauge::default();
        registry.register(
            "deny_list_entries",
            "Revoked token ids and grants held in memory",
            deny_list_entries.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            in_flight,
            logins,
            tokens,
            licences,
            verifications,
            cache,
            db_connections,
            db_idle_connections,
            db_max_connections,
            deny_list_entries,
        }
    }

    /// A request started: the in-flight gauge goes up until the returned guard is dropped.
    pub fn request_started(&self) -> InFlight<'_> {
        self.in_flight.inc();
        InFlight(&self.in_flight)
    }

    /// Requests being handled now.
    pub fn in_flight(&self) -> i64 {
        self.in_flight.get()
    }

    pub fn request_done(&self, method: &'static str, route: String, status: u16, took: Duration) {
        let mut labels = RouteStatusLabels {
            method,
            route,
            status,
        };
        self.requests.get_or_create(&labels).inc();
        self.latency
            .get_or_create(&RouteLabels {
                method,
                route: std::mem::take(&mut labels.route),
            })
            .observe(took.as_secs_f64());
    }

    pub fn login(&self, result: &'static str) {
        self.logins.get_or_create(&ResultLabels { result }).inc();
    }

    pub fn token_issued(&self, grant: &'static str) {
        self.tokens.get_or_create(&GrantLabels { grant }).inc();
    }

    /// `event` is `issued`, `suspended`, `reinstated` or `revoked`.
    pub fn licence_event(&self, event: &'static str, n: u64) {
        self.licences
            .get_or_create(&EventLabels { event })
            .inc_by(n);
    }

    pub fn verification(&self, verdict: &'static str) {
        self.verifications
            .get_or_create(&VerdictLabels { verdict })
            .inc();
    }

    pub fn cache(&self, cache: CacheName, hit: bool) {
        self.cache
            .get_or_create(&CacheLabels {
                cache: cache.label(),
                result: if hit { "hit" } else { "miss" },
            })
            .inc();
    }

    /// Counts a cache lookup as a hit or a miss and hands its result back.
    pub fn lookup<V>(&self, cache: CacheName, found: Option<V>) -> Option<V> {
        self.cache(cache, found.is_some());
        found
    }

    /// The text exposition format (`text/plain; version=0.0.4`), ending in `# EOF`.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// 0.25 ms to about 8 s, doubling.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

/// Decrements the in-flight gauge when the request is answered or dropped.
pub struct InFlight<'a>(&'a Gauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}
