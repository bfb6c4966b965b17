//! `spawn_app()`: a server on port 0 with a fresh database (SQLite in a temporary directory, or a new
//! PostgreSQL database when `TONGBAN_TEST_DATABASE=postgres`) and fresh keys; typed helpers to register
//! clients, citizens and enterprises; and `Driver`, which walks the login, enterprise-choice and consent
//! pages with plain HTTP (the pages work without JavaScript), keeping cookies like a browser.
//!
//! This module holds `TestApp` and its clients, citizens and enterprises, and the OAuth helpers
//! (`auth_url`, `exchange`, `claims`); `spawn` starts servers (SQLite, PostgreSQL, TLS, another
//! node), `driver` walks the pages, `departments` registers departments, licence types and system
//! clients, and `operator` runs the binary and reaches the app's files and database. What the tests
//! use is re-exported here: `crate::helpers::X` is the path for all of it.

mod departments;
mod driver;
mod operator;
mod spawn;

pub use departments::TestDepartment;
pub use driver::{Driver, Landing};
pub use spawn::{
    is_postgres, spawn_app, spawn_app_with, spawn_localhost_app, spawn_postgres_app,
    spawn_postgres_app_with, spawn_tls_app, Node,
};

use std::sync::atomic::{AtomicU32, Ordering};

use reqwest::redirect::Policy;
use serde_json::Value;
use tongban::crypto::keys::SigningAlg;
use tongban::http::AppState;
use tongban::oidc::clients::{self, AuthMethod, ClientConfig, GrantType, SubjectType};

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

    /// A citizen with the test password, registered at a counter (identity proven); returns
    /// (account id, resident id number, email).
    pub async fn citizen(&self, name: &str) -> (String, String, String) {
        let proof = tongban::identity::proofing::Proof {
            method: tongban::identity::proofing::Method::CounterRegistration,
            actor: "operator:test".into(),
            department_id: None,
            evidence: "test citizen",
        };
        self.citizen_with(name, &resident_id(), Some(&proof)).await
    }

    /// A citizen registered with `id_number`, proven by `proof` or (None) only claimed, as
    /// self-registration leaves it; returns (account id, id number, email).
    pub async fn citizen_with(
        &self,
        name: &str,
        id_number: &str,
        proof: Option<&tongban::identity::proofing::Proof<'_>>,
    ) -> (String, String, String) {
        let id_number = id_number.to_owned();
        let email = format!(
            "{}.{}@example.cn",
            id_number.to_lowercase(),
            &tongban::crypto::random_id()[..6].to_lowercase()
        );
        let reg = tongban::identity::accounts::Registration {
            name: name.into(),
            id_kind: "resident".into(),
            id_number: id_number.clone(),
            email: email.clone(),
            phone: String::new(),
            password: PASSWORD.into(),
        };
        let now = tongban::domain::time::now();
        let id = match proof {
            Some(p) => {
                tongban::identity::proofing::register_at_counter(&self.state.identity, &reg, p, now)
                    .await
            }
            None => tongban::identity::accounts::register(&self.state.identity, &reg, now).await,
        }
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
