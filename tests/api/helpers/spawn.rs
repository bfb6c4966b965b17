//! Servers on port 0 with a fresh database (SQLite, or PostgreSQL), over TLS, and further nodes
//! of the same service.

use tongban::config::Config;
use tongban::http::AppState;
use tongban::startup::Server;

use super::TestApp;

pub fn is_postgres() -> bool {
    std::env::var("TONGBAN_TEST_DATABASE").is_ok_and(|v| v == "postgres")
}

async fn database_url(dir: &std::path::Path) -> String {
    if !is_postgres() {
        return format!("sqlite://{}/tongban.db?mode=rwc", dir.display());
    }
    postgres_database().await
}

/// A new, empty PostgreSQL database on the machine's server; its URL.
pub async fn postgres_database() -> String {
    let base = std::env::var("TONGBAN_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let name = format!(
        "tongban_test_{}",
        tongban::crypto::random_id()
            .to_lowercase()
            .replace(['-', '_'], "")
    );
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&format!("{base}/test"))
        .await
        .expect("connect to PostgreSQL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create test database");
    format!("{base}/{name}")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = database_url(dir.path()).await;
    spawn_in(dir, url, configure).await
}

/// A server whose issuer is `http://localhost:PORT` (listening on 127.0.0.1): WebAuthn needs a
/// domain name for its relying party, so passkeys are offered only there.
pub async fn spawn_localhost_app() -> TestApp {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        l.local_addr().unwrap().port()
    };
    spawn_app_with(|c| {
        c.listen = format!("127.0.0.1:{port}").parse().unwrap();
        c.issuer = format!("http://localhost:{port}");
    })
    .await
}

/// A server on a new PostgreSQL database whatever `TONGBAN_TEST_DATABASE` says (the tests of several
/// nodes on one database).
pub async fn spawn_postgres_app() -> TestApp {
    spawn_postgres_app_with(|_| {}).await
}

pub async fn spawn_postgres_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = postgres_database().await;
    spawn_in(dir, url, configure).await
}

async fn spawn_in(
    dir: tempfile::TempDir,
    database_url: String,
    configure: impl FnOnce(&mut Config),
) -> TestApp {
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url,
        database_max_connections: 5,
        key_dir: dir.path().join("keys"),
        ..Config::default()
    };
    configure(&mut config);
    let server = Server::bind(config).await.expect("bind");
    let addr = server.state.issuer.clone();
    let state = server.state.clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    TestApp {
        addr,
        state,
        _dir: dir,
        _shutdown: tx,
    }
}

/// A server terminating TLS itself with a fresh self-signed certificate for 127.0.0.1 (its issuer
/// is `https://`); the certificate, for clients to trust, and the directory holding its files.
pub async fn spawn_tls_app() -> (TestApp, rcgen::CertifiedKey, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let (cert, key) = (dir.path().join("tls.pem"), dir.path().join("tls.key"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.key_pair.serialize_pem()).unwrap();
    let app = spawn_app_with(|c| {
        c.tls_cert = cert.display().to_string();
        c.tls_key = key.display().to_string();
    })
    .await;
    (app, ck, dir)
}

/// Another node of the same service: the same database, key directory and issuer, its own port,
/// caches and background tasks.
pub struct Node {
    /// Where to send requests, e.g. `http://127.0.0.1:41235` (the issuer stays the first node's).
    pub base: String,
    pub state: AppState,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl TestApp {
    pub async fn another_node(&self) -> Node {
        let mut config = self.state.config.clone();
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.issuer = self.addr.clone();
        let server = Server::bind(config).await.expect("bind the second node");
        let base = format!("http://{}", server.addr);
        let state = server.state.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server.run(async move {
            let _ = rx.await;
        }));
        Node {
            base,
            state,
            _shutdown: tx,
        }
    }
}
