//! Configuration: defaults that run with no setup, overridden by a TOML file (`--config`) and then by
//! `TONGBAN_*` environment variables (e.g. `TONGBAN_DATABASE_URL`, `TONGBAN_ISSUER`). Every field is
//! documented in the README.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on. Port 0 picks a free port (tests).
    pub listen: SocketAddr,
    /// The public base URL, the `iss` of every token. Empty: `http://<listen address>`.
    pub issuer: String,
    /// `sqlite://data/tongban.db?mode=rwc` (default) or `postgres://user@host/db`.
    pub database_url: String,
    pub database_max_connections: u32,
    /// Directory of signing keys and data keys, created on first start.
    pub key_dir: PathBuf,
    pub access_token_ttl: i64,
    pub id_token_ttl: i64,
    pub refresh_token_ttl: i64,
    /// Authorization codes live at most this long (DESIGN: 60 s at most).
    pub code_ttl: i64,
    /// SSO session idle and absolute timeouts.
    pub session_idle_ttl: i64,
    pub session_absolute_ttl: i64,
    /// argon2id parameters (OWASP minimum: 19456 KiB, t = 2, p = 1).
    pub argon2_m_kib: u32,
    pub argon2_t: u32,
    pub argon2_p: u32,
    /// Failed logins in a row before an account is throttled, and for how long.
    pub login_max_failures: u32,
    pub login_throttle_secs: u64,
    /// Failed logins from one client address within the throttle window before it is throttled.
    pub login_max_failures_per_address: u32,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Public verifications (`POST /api/v1/verify`) per client address per second.
    pub verify_rate_per_address: u32,
    /// Least milliseconds between two sealing rounds on this node: issuances arriving meanwhile share
    /// the next round (and its checkpoint), trading that much latency for fewer rounds. 0 (the
    /// default): rounds run back to back while anyone waits, each covering what committed during the
    /// one before (a group commit); on PostgreSQL with 32 concurrent issuers, 10 ms cost a quarter of
    /// the throughput. SQLite issuance waits for no round at all (it sequences in its transaction).
    pub seal_interval_ms: u64,
    /// Run the async runtime's threads and the CPU pool under `SCHED_BATCH` (Linux): no wake-up
    /// preemption between them, so a busy core hands work between them in batches rather than one
    /// request at a time (see `sched.rs`). On by default; `false` keeps the default policy.
    pub sched_batch: bool,
    /// PEM certificate chain and private key: when both are set, `serve` terminates TLS itself
    /// (rustls). Empty: plain HTTP, for a node behind a TLS-terminating proxy.
    pub tls_cert: String,
    pub tls_key: String,
    /// On SIGTERM or Ctrl-C: stop accepting, let in-flight requests finish, and exit after at most
    /// this many seconds even if some have not.
    pub shutdown_grace_secs: u64,
    /// Reverse proxies whose `X-Forwarded-For` is believed: addresses or CIDR networks, separated by
    /// commas (e.g. `10.0.0.0/8, 127.0.0.1`). Empty: the TCP peer is the client.
    pub trusted_proxies: String,
    /// Outgoing mail (email verification links, password reset, security notices): the SMTP relay.
    /// Empty: no mail is sent (messages wait in the outbox until a relay is configured).
    pub smtp_host: String,
    pub smtp_port: u16,
    /// `starttls` (the default, port 587), `tls` (implicit TLS, port 465) or `none` (plain text: only
    /// for a relay on the same host).
    pub smtp_tls: String,
    /// SMTP credentials (AUTH PLAIN/LOGIN over the encrypted connection); empty: none.
    pub smtp_username: String,
    pub smtp_password: String,
    /// The From address, e.g. `统一身份认证 <noreply@id.example.cn>`; required with `smtp_host`.
    pub smtp_from: String,
    /// SMS gateway for phone codes and links: a `POST` of JSON `{"to": "+86…", "text": "…",
    /// "kind": "…"}` with `Authorization: Bearer <sms_gateway_token>`; any 2xx answer is a sent
    /// message. Empty: no SMS is sent.
    pub sms_gateway_url: String,
    pub sms_gateway_token: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            issuer: String::new(),
            database_url: "sqlite://data/tongban.db?mode=rwc".into(),
            database_max_connections: 16,
            key_dir: PathBuf::from("keys"),
            access_token_ttl: 600,
            id_token_ttl: 3600,
            refresh_token_ttl: 30 * 24 * 3600,
            code_ttl: 60,
            session_idle_ttl: 30 * 60,
            session_absolute_ttl: 12 * 3600,
            argon2_m_kib: 19456,
            argon2_t: 2,
            argon2_p: 1,
            login_max_failures: 10,
            login_throttle_secs: 15 * 60,
            login_max_failures_per_address: 100,
            max_body_bytes: 64 * 1024,
            verify_rate_per_address: 100,
            seal_interval_ms: 0,
            sched_batch: true,
            tls_cert: String::new(),
            tls_key: String::new(),
            shutdown_grace_secs: 20,
            trusted_proxies: String::new(),
            smtp_host: String::new(),
            smtp_port: 587,
            smtp_tls: "starttls".into(),
            smtp_username: String::new(),
            smtp_password: String::new(),
            smtp_from: String::new(),
            sms_gateway_url: String::new(),
            sms_gateway_token: String::new(),
        }
    }
}

impl Config {
    /// Defaults, then the file (if any), then `TONGBAN_*` variables from `env`.
    pub fn load(
        file: Option<&std::path::Path>,
        env: impl Iterator<Item = (String, String)>,
    ) -> anyhow::Result<Self> {
        let mut table = match file {
            Some(p) => std::fs::read_to_string(p)
                .with_context(|| format!("reading {}", p.display()))?
                .parse::<toml::Table>()
                .with_context(|| format!("parsing {}", p.display()))?,
            None => toml::Table::new(),
        };
        // Only variables naming a configuration key count: TONGBAN_LOG, TONGBAN_CONFIG and the test
        // harness's variables are read elsewhere, while a typo in a file is still an error.
        let known =
            toml::Table::try_from(Config::default()).context("listing configuration keys")?;
        for (k, v) in env {
            let Some(key) = k.strip_prefix("TONGBAN_") else {
                continue;
            };
            let key = key.to_ascii_lowercase();
            if !known.contains_key(&key) {
                continue;
            }
            // Numbers and booleans keep their type so serde sees the right one; everything else is
            // a string.
            let value = match (v.parse::<i64>(), v.parse::<bool>()) {
                (Ok(n), _) => toml::Value::Integer(n),
                (_, Ok(b)) => toml::Value::Boolean(b),
                _ => toml::Value::String(v),
            };
            table.insert(key, value);
        }
        let cfg: Config = table.try_into().context("invalid configuration")?;
        anyhow::ensure!(
            cfg.code_ttl > 0 && cfg.code_ttl <= 60,
            "code_ttl must be 1 to 60 seconds"
        );
        anyhow::ensure!(
            cfg.access_token_ttl > 0 && cfg.id_token_ttl > 0,
            "token lifetimes must be positive"
        );
        parse_trusted_proxies(&cfg.trusted_proxies)?;
        anyhow::ensure!(
            cfg.tls_cert.is_empty() == cfg.tls_key.is_empty(),
            "tls_cert and tls_key go together: set both for native TLS, or neither"
        );
        Ok(cfg)
    }

    /// The longest a token signed by a key can live: how long a retired key stays published.
    pub fn max_token_ttl(&self) -> i64 {
        self.access_token_ttl.max(self.id_token_ttl)
    }
}

/// A `trusted_proxies` entry that is neither an address nor a network.
#[derive(Debug, thiserror::Error)]
#[error("trusted_proxies: {0:?} is neither an address nor a network")]
pub struct NotAProxy(pub String);

/// Parse `trusted_proxies`: addresses or CIDR networks, separated by commas or spaces.
pub fn parse_trusted_proxies(s: &str) -> Result<Vec<IpNet>, NotAProxy> {
    s.split([',', ' '])
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse::<IpNet>()
                .or_else(|_| t.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| NotAProxy(t.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn environment_overrides_known_keys_and_ignores_other_tongban_variables() {
        let c = Config::load(
            None,
            env(&[
                ("TONGBAN_LISTEN", "127.0.0.1:0"),
                ("TONGBAN_CODE_TTL", "30"),
                ("TONGBAN_LOG", "warn"),
                ("PATH", "/bin"),
            ]),
        )
        .unwrap();
        assert_eq!(c.listen.port(), 0);
        assert_eq!(c.code_ttl, 30);
        assert!(c.sched_batch, "on by default");
        let off = Config::load(None, env(&[("TONGBAN_SCHED_BATCH", "false")])).unwrap();
        assert!(!off.sched_batch, "a boolean from the environment");
        assert!(
            Config::load(None, env(&[("TONGBAN_CODE_TTL", "120")])).is_err(),
            "codes live at most 60 s"
        );
    }

    #[test]
    fn a_file_with_an_unknown_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.toml");
        std::fs::write(
            &p,
            "listen = \"127.0.0.1:9000\"\nissuer = \"https://id.example.cn\"\n",
        )
        .unwrap();
        let c = Config::load(Some(&p), env(&[])).unwrap();
        assert_eq!(c.issuer, "https://id.example.cn");
        std::fs::write(&p, "lisen = \"127.0.0.1:9000\"\n").unwrap();
        assert!(Config::load(Some(&p), env(&[])).is_err());
    }
}
