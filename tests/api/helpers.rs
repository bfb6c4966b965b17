//! `spawn_app()`: a server on port 0 with a fresh database (SQLite in a temporary directory, or a new
//! PostgreSQL database when `TONGBAN_TEST_DATABASE=postgres`) and fresh keys; typed helpers to register
//! clients, citizens and enterprises; and `Driver`, which walks the login, enterprise-choice and consent
//! pages with plain HTTP (the pages work without JavaScript), keeping cookies like a browser.

use std::sync::atomic::{AtomicU32, Ordering};

use reqwest::redirect::Policy;
use serde_json::Value;
use tongban::config::Config;
use tongban::crypto::keys::SigningAlg;
use tongban::http::AppState;
use tongban::oidc::clients::{self, AuthMethod, ClientConfig, GrantType, SubjectType};
use tongban::startup::Server;

pub const PASSWORD: &str = "Correct-Horse-9-Battery";

pub struct TestApp {
    /// The issuer, e.g. `http://127.0.0.1:41234`.
    pub addr: String,
    pub state: AppState,
    _dir: tempfile::TempDir,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

static SEQ: AtomicU32 = AtomicU32::new(1);

/// A valid resident identity number, different for each call in this process.
pub fn resident_id() -> String {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let base = format!("110101{}0101{:03}", 1950 + (n / 1000) % 60, n % 1000);
    let check = tongban::domain::ResidentId::check_char(base.as_bytes());
    format!("{base}{}", check as char)
}

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

/// What a test client looks like; `Default` is a confidential portal on the code flow.
pub struct ClientSpec {
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub grant_types: Vec<GrantType>,
    pub auth_method: AuthMethod,
    pub scopes: Vec<&'static str>,
    pub subject_type: SubjectType,
    pub sector: Option<String>,
    pub alg: SigningAlg,
    pub jwks: Option<Value>,
    pub licence_types: Vec<String>,
}

impl Default for ClientSpec {
    fn default() -> Self {
        Self {
            redirect_uris: vec!["http://127.0.0.1:9/callback".into()],
            post_logout_redirect_uris: vec![],
            backchannel_logout_uri: None,
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            auth_method: AuthMethod::ClientSecretBasic,
            scopes: vec![
                "openid",
                "profile",
                "email",
                "phone",
                "offline_access",
                "id_number",
                "enterprise",
            ],
            subject_type: SubjectType::Pairwise,
            sector: None,
            alg: SigningAlg::ES256,
            jwks: None,
            licence_types: vec![],
        }
    }
}

pub struct TestClient {
    pub id: String,
    pub secret: Option<String>,
    pub redirect_uri: String,
}

impl TestApp {
    pub async fn client(&self, spec: ClientSpec) -> TestClient {
        let redirect_uri = spec.redirect_uris.first().cloned().unwrap_or_default();
        let cfg = ClientConfig {
            name: "Test portal 测试门户".into(),
            redirect_uris: spec.redirect_uris,
            post_logout_redirect_uris: spec.post_logout_redirect_uris,
            backchannel_logout_uri: spec.backchannel_logout_uri,
            grant_types: spec.grant_types,
            auth_method: spec.auth_method,
            scopes: spec.scopes.into_iter().map(str::to_owned).collect(),
            subject_type: spec.subject_type,
            sector: spec.sector,
            id_token_alg: spec.alg,
            jwks: spec.jwks,
            licence_types: spec.licence_types,
        };
        let (c, secret) =
            clients::register(&self.state.db, None, cfg, tongban::domain::time::now())
                .await
                .expect("register client");
        TestClient {
            id: c.id,
            secret,
            redirect_uri,
        }
    }

    /// A citizen with the test password; returns (account id, resident id number, email).
    pub async fn citizen(&self, name: &str) -> (String, String, String) {
        let id_number = resident_id();
        let email = format!("{}@example.cn", id_number.to_lowercase());
        let reg = tongban::identity::accounts::Registration {
            name: name.into(),
            id_kind: "resident".into(),
            id_number: id_number.clone(),
            email: email.clone(),
            phone: String::new(),
            password: PASSWORD.into(),
        };
        let id = tongban::identity::accounts::register(
            &self.state.identity,
            &reg,
            1,
            tongban::domain::time::now(),
        )
        .await
        .expect("register citizen");
        (id, id_number, email)
    }

    pub async fn enterprise(&self, uscc: &str, name: &str, rep: &str) -> String {
        tongban::identity::enterprises::create(
            &self.state.identity,
            uscc,
            name,
            rep,
            tongban::domain::time::now(),
        )
        .await
        .expect("enterprise")
        .id
    }

    pub fn http(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(Policy::none())
            .build()
            .unwrap()
    }

    pub fn driver(&self) -> Driver {
        Driver {
            http: reqwest::Client::builder()
                .redirect(Policy::none())
                .cookie_store(true)
                .build()
                .unwrap(),
            base: self.addr.clone(),
        }
    }

    /// POST a form to an endpoint with optional HTTP Basic client credentials.
    pub async fn post_form(
        &self,
        path: &str,
        basic: Option<(&str, &str)>,
        form: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut rb = self.http().post(format!("{}{path}", self.addr)).form(form);
        if let Some((id, secret)) = basic {
            rb = rb.basic_auth(id, Some(secret));
        }
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

/// Extract `<input ... name="NAME" value="...">` from a page.
pub fn form_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].replace("&amp;", "&"))
}

/// A cookie-keeping HTTP client that walks the pages as a person would.
pub struct Driver {
    pub http: reqwest::Client,
    pub base: String,
}

/// Where a walk through the pages ended.
#[derive(Debug)]
pub enum Landing {
    /// Redirected to the client with these query parameters.
    Client(Vec<(String, String)>),
    /// Stopped at one of our pages (path, status, body).
    Page(String, u16, String),
}

impl Landing {
    pub fn param(&self, k: &str) -> Option<String> {
        match self {
            Landing::Client(q) => q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()),
            Landing::Page(..) => None,
        }
    }
    pub fn code(&self) -> String {
        self.param("code")
            .unwrap_or_else(|| panic!("no code in {self:?}"))
    }
}

impl Driver {
    fn abs(&self, loc: &str) -> String {
        if loc.starts_with('/') {
            format!("{}{loc}", self.base)
        } else {
            loc.to_owned()
        }
    }

    /// GET `url` and follow redirects while they stay on our pages and need no input.
    pub async fn get(&self, url: &str) -> Landing {
        let mut url = self.abs(url);
        for _ in 0..10 {
            if !url.starts_with(&self.base) {
                let u = url::Url::parse(&url).unwrap();
                let q = u.query_pairs().into_owned().collect();
                return Landing::Client(q);
            }
            let r = self.http.get(&url).send().await.unwrap();
            if r.status().is_redirection() {
                url = self.abs(r.headers()["location"].to_str().unwrap());
                continue;
            }
            let path = url::Url::parse(&url).unwrap().path().to_owned();
            return Landing::Page(path, r.status().as_u16(), r.text().await.unwrap());
        }
        panic!("redirect loop at {url}");
    }

    /// POST a form from the page `html` (its csrf and req are taken from it) and follow on.
    pub async fn submit(&self, action: &str, html: &str, fields: &[(&str, &str)]) -> Landing {
        let mut form: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        form.push(("csrf".into(), form_value(html, "csrf").unwrap_or_default()));
        if let Some(req) = form_value(html, "req") {
            form.push(("req".into(), req));
        }
        let r = self
            .http
            .post(self.abs(action))
            .form(&form)
            .send()
            .await
            .unwrap();
        if r.status().is_redirection() {
            return self.get(r.headers()["location"].to_str().unwrap()).await;
        }
        let status = r.status().as_u16();
        Landing::Page(action.to_owned(), status, r.text().await.unwrap())
    }

    /// Continue from a page already shown (`html` at `path`) with the same rules as [`Driver::authorize`].
    pub async fn authorize_from(&self, html: &str, path: &str, acting_for: &str) -> Landing {
        let first = match path {
            "/select" => {
                self.submit("/select", html, &[("acting_for", acting_for)])
                    .await
            }
            "/consent" => {
                self.submit("/consent", html, &[("decision", "allow")])
                    .await
            }
            _ => panic!("unexpected page {path}"),
        };
        match &first {
            Landing::Page(p, 200, html) if p == "/consent" => {
                self.submit("/consent", html, &[("decision", "allow")])
                    .await
            }
            _ => first,
        }
    }

    /// Start at an authorization URL and go through login (if asked), the enterprise choice (`acting_for`:
    /// "" for oneself) and consent (allowed), until the client is redirected to.
    pub async fn authorize(&self, auth_url: &str, username: &str, acting_for: &str) -> Landing {
        let mut landing = self.get(auth_url).await;
        for _ in 0..5 {
            landing = match &landing {
                Landing::Page(p, 200, html) if p == "/login" => {
                    self.submit(
                        "/login",
                        html,
                        &[("username", username), ("password", PASSWORD)],
                    )
                    .await
                }
                Landing::Page(p, 200, html) if p == "/select" => {
                    self.submit("/select", html, &[("acting_for", acting_for)])
                        .await
                }
                Landing::Page(p, 200, html) if p == "/consent" => {
                    self.submit("/consent", html, &[("decision", "allow")])
                        .await
                }
                _ => return landing,
            };
        }
        landing
    }
}

/// A plain authorization URL for `client` with PKCE; returns (url, verifier).
pub fn auth_url(
    app: &TestApp,
    client: &TestClient,
    scope: &str,
    extra: &[(&str, &str)],
) -> (String, String) {
    let verifier = tongban::crypto::random_token();
    let challenge = tongban::crypto::b64url(tongban::crypto::sha256(verifier.as_bytes()));
    let mut u = url::Url::parse(&format!("{}/authorize", app.addr)).unwrap();
    u.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &client.id)
        .append_pair("redirect_uri", &client.redirect_uri)
        .append_pair("scope", scope)
        .append_pair("state", "st-1")
        .append_pair("nonce", "n-1")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    for (k, v) in extra {
        u.query_pairs_mut().append_pair(k, v);
    }
    (u.to_string(), verifier)
}

/// Exchange a code at the token endpoint with client_secret_basic.
pub async fn exchange(
    app: &TestApp,
    client: &TestClient,
    code: &str,
    verifier: &str,
) -> (u16, Value) {
    app.post_form(
        "/token",
        Some((&client.id, client.secret.as_deref().unwrap_or(""))),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &client.redirect_uri),
            ("code_verifier", verifier),
        ],
    )
    .await
}

/// The payload of a JWT, unverified (the tests that need verification use real verifiers).
pub fn claims(jwt: &str) -> Value {
    let p = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&tongban::crypto::b64url_decode(p).unwrap()).unwrap()
}

/// A department with its department-system client (client_credentials, licence scopes).
pub struct TestDepartment {
    pub row: tongban::storage::departments::DepartmentRow,
    pub client: TestClient,
}

impl TestApp {
    pub async fn department(&self, uscc: &str, name: &str) -> TestDepartment {
        let client = self
            .client(ClientSpec {
                grant_types: vec![GrantType::ClientCredentials],
                redirect_uris: vec![],
                scopes: vec![
                    "licences:issue",
                    "licences:revoke",
                    "licences:query",
                    "licences:verify",
                ],
                ..Default::default()
            })
            .await;
        let iss = format!("https://{}.gov.example.cn", uscc.to_lowercase());
        let n = tongban::licences::departments::NewDepartment {
            uscc,
            name_zh: name,
            name_en: "Test department",
            iss: &iss,
            client_id: Some(&client.id),
        };
        let row = tongban::licences::departments::register(
            &self.state.licences,
            n,
            "system",
            tongban::domain::time::now(),
        )
        .await
        .expect("department");
        TestDepartment { row, client }
    }

    pub async fn licence_type(&self, def: Value) -> String {
        let t = tongban::licences::catalogue::LicenceType::parse(&def.to_string())
            .expect("licence type");
        tongban::licences::registry::register(&self.state.licences, &t, "system", 0)
            .await
            .expect("register type");
        t.code
    }

    /// A client_credentials access token for a department system.
    pub async fn dept_token(&self, d: &TestDepartment) -> String {
        self.client_credentials_token(&d.client).await
    }

    /// A client_credentials access token for any confidential client.
    pub async fn client_credentials_token(&self, c: &TestClient) -> String {
        let (s, t) = self
            .post_form(
                "/token",
                Some((&c.id, c.secret.as_deref().unwrap_or(""))),
                &[("grant_type", "client_credentials")],
            )
            .await;
        assert_eq!(s, 200, "{t}");
        t["access_token"].as_str().unwrap().to_owned()
    }

    /// A system client (client_credentials only) with these scopes, and a token for it.
    pub async fn system(&self, scopes: Vec<&'static str>) -> (TestClient, String) {
        let client = self
            .client(ClientSpec {
                grant_types: vec![GrantType::ClientCredentials],
                redirect_uris: vec![],
                scopes,
                ..Default::default()
            })
            .await;
        let token = self.client_credentials_token(&client).await;
        (client, token)
    }

    /// POST JSON with a bearer token and extra headers; (status, body, headers).
    pub async fn post_json(
        &self,
        path: &str,
        token: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let mut rb = self
            .http()
            .post(format!("{}{path}", self.addr))
            .bearer_auth(token)
            .json(body);
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        let r = rb.send().await.unwrap();
        let (status, h) = (r.status().as_u16(), r.headers().clone());
        (status, r.json().await.unwrap_or(Value::Null), h)
    }
}

impl TestApp {
    /// Run the `tongban` binary against this app's database and keys (as an operator would on the
    /// server); (success, stdout, stderr).
    pub async fn cli(&self, args: &[&str]) -> (bool, String, String) {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tongban"))
            .args(args)
            .current_dir(self._dir.path())
            .env("TONGBAN_LOG", "warn")
            .env("TONGBAN_DATABASE_URL", &self.state.config.database_url)
            .env("TONGBAN_KEY_DIR", &self.state.config.key_dir)
            .env("TONGBAN_ISSUER", &self.addr)
            .kill_on_drop(true)
            .output()
            .await
            .expect("run tongban");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// A `tongban serve` process on this app's database and keys (any free port, `TONGBAN_LOG` =
    /// `log`, plus `env`), with its stdout and stderr piped; and its base URL, from its first line.
    pub async fn serve_process(
        &self,
        log: &str,
        env: &[(&str, &str)],
    ) -> (tokio::process::Child, String) {
        use tokio::io::AsyncBufReadExt;
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tongban"))
            .arg("serve")
            .env("TONGBAN_LOG", log)
            .env("TONGBAN_LISTEN", "127.0.0.1:0")
            .env("TONGBAN_DATABASE_URL", &self.state.config.database_url)
            .env("TONGBAN_KEY_DIR", &self.state.config.key_dir)
            .env_remove("TONGBAN_ISSUER")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(std::time::Duration::from_secs(60), stdout.next_line())
            .await
            .expect("the server starts")
            .unwrap()
            .unwrap();
        let base = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap()
            .to_owned();
        (child, base)
    }

    /// A client_credentials access token from the node at `base`.
    pub async fn token_at(&self, base: &str, c: &TestClient) -> String {
        let r: Value = self
            .http()
            .post(format!("{base}/token"))
            .basic_auth(&c.id, c.secret.as_deref())
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["access_token"].as_str().unwrap().to_owned()
    }

    /// A file in this app's temporary directory.
    pub fn file(&self, name: &str, contents: &str) -> std::path::PathBuf {
        let p = self._dir.path().join(name);
        std::fs::write(&p, contents).expect("write file");
        p
    }

    /// Execute SQL directly on the app's database (tests that tamper with rows).
    pub async fn sql(&self, sql: &str) -> Result<u64, sqlx::Error> {
        sqlx::query(sql)
            .execute(&self.state.db.pool)
            .await
            .map(|r| r.rows_affected())
    }
}
