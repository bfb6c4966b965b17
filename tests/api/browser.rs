//! A real browser for end-to-end tests: a `chromedriver` process on a free port (in its own process
//! group, so the Chromium it starts is ended with it) and a W3C WebDriver session on headless Chromium
//! with a fresh profile. Waiting for an element is WebDriver's implicit wait (the driver waits for the
//! element, up to `ELEMENT_TIMEOUT`); on a timeout the panic message carries the current URL and the
//! start of the page source.
//!
//! The WebDriver client is a few calls over `reqwest` rather than fantoccini: fantoccini 0.21's
//! `ClientBuilder::rustls()` panics in this dependency graph ("Could not automatically determine the
//! process-level CryptoProvider"), because its hyper-rustls enables rustls' `aws-lc-rs` provider while
//! reqwest enables `ring`, and installing a default provider needs `rustls` as a direct dependency.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long to wait for an element to appear (page loads, redirects, a password hash on login).
pub const ELEMENT_TIMEOUT: Duration = Duration::from_secs(20);

/// The `chromedriver` process; killed (with its process group, i.e. the browser) on drop.
pub struct ChromeDriver {
    child: Child,
    pub url: String,
}

impl ChromeDriver {
    pub async fn start() -> ChromeDriver {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
            l.local_addr().unwrap().port()
        };
        let mut cmd = Command::new(CHROMEDRIVER);
        cmd.arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        // Its own process group: Chromium inherits it, so dropping the driver can end the browser too.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn().expect("spawn chromedriver");
        let mut driver = ChromeDriver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        driver.wait_ready().await;
        driver
    }

    /// Wait for chromedriver's "started successfully" line (it prints it once it listens); bounded.
    async fn wait_ready(&mut self) {
        let stdout = self.child.stdout.take().expect("chromedriver stdout");
        let (tx, rx) = tokio::sync::oneshot::channel();
        // A blocking reader thread: std's Child has no async stdout. It keeps draining after the line so
        // chromedriver never blocks on a full pipe.
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut tx = Some(tx);
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if line.contains("started successfully") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(());
                    }
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(20), rx)
            .await
            .expect("chromedriver did not start within 20 s")
            .expect("chromedriver exited before it was ready");
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // Normally the session was closed and Chromium has quit; after a failed test it may still run.
        // Kill the whole group (its id is chromedriver's pid: Chromium and its helpers), then reap
        // chromedriver.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A WebDriver error: the W3C error code (e.g. "no such element") and message.
#[derive(Debug)]
pub struct WdError {
    pub error: String,
    pub message: String,
}

impl std::fmt::Display for WdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}",
            self.error,
            self.message.lines().next().unwrap_or("")
        )
    }
}

/// The W3C key under which an element reference is returned.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// An element on the current page (a WebDriver element reference).
pub struct Element(String);

/// A headless Chromium driven through WebDriver.
pub struct Browser {
    http: reqwest::Client,
    /// `{driver}/session/{id}`
    session: String,
    // Dropped in order: the driver (and with it the browser), then the profile directory.
    _driver: ChromeDriver,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start() -> Browser {
        let driver = ChromeDriver::start().await;
        let profile = tempfile::tempdir().expect("profile dir");
        let args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--window-size=1024,768".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
            "pageLoadStrategy": "normal",
            "timeouts": { "implicit": ELEMENT_TIMEOUT.as_millis() as u64, "pageLoad": 30_000, "script": 10_000 },
        }}});
        // Every WebDriver call is bounded: element waits end at ELEMENT_TIMEOUT, page loads at 30 s.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let r = http
            .post(format!("{}/session", driver.url))
            .json(&caps)
            .send()
            .await
            .expect("new WebDriver session");
        let v: Value = r.json().await.expect("new session response");
        let id = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {v}"))
            .to_owned();
        Browser {
            http,
            session: format!("{}/session/{id}", driver.url),
            _driver: driver,
            _profile: profile,
        }
    }

    /// One WebDriver command; `body` None means GET.
    async fn cmd(&self, path: &str, body: Option<Value>) -> Result<Value, WdError> {
        let url = format!("{}{path}", self.session);
        let rb = match body {
            Some(b) => self.http.post(&url).json(&b),
            None => self.http.get(&url),
        };
        let r = rb.send().await.map_err(|e| WdError {
            error: "transport".into(),
            message: e.to_string(),
        })?;
        let ok = r.status().is_success();
        let v: Value = r.json().await.map_err(|e| WdError {
            error: "transport".into(),
            message: e.to_string(),
        })?;
        if ok {
            Ok(v["value"].clone())
        } else {
            let s = |k: &str| v["value"][k].as_str().unwrap_or("").to_owned();
            Err(WdError {
                error: s("error"),
                message: s("message"),
            })
        }
    }

    pub async fn goto(&self, url: &str) {
        if let Err(e) = self.cmd("/url", Some(json!({ "url": url }))).await {
            panic!("navigate to {url}: {e}; {}", self.describe().await);
        }
    }

    pub async fn url(&self) -> url::Url {
        let v = self
            .cmd("/url", None)
            .await
            .unwrap_or_else(|e| panic!("current URL: {e}"));
        url::Url::parse(v.as_str().unwrap_or_default()).expect("current URL parses")
    }

    /// Where the browser is and the start of the page, for failure messages.
    pub async fn describe(&self) -> String {
        let url = self
            .cmd("/url", None)
            .await
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .unwrap_or_else(|e| format!("<no URL: {e}>"));
        let source = self
            .cmd("/source", None)
            .await
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .unwrap_or_else(|e| format!("<no source: {e}>"));
        let head: String = source.chars().take(3000).collect();
        format!("at {url}\n--- page source (start) ---\n{head}\n---")
    }

    /// Find by CSS selector; the driver waits up to ELEMENT_TIMEOUT for a match (implicit wait).
    async fn wait_css(&self, css: &str) -> Element {
        match self
            .cmd(
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await
        {
            Ok(v) => Element(
                v[ELEMENT_KEY]
                    .as_str()
                    .unwrap_or_else(|| panic!("no element reference in {v}"))
                    .to_owned(),
            ),
            Err(e) => panic!(
                "waiting {}s for {css}: {e}; {}",
                ELEMENT_TIMEOUT.as_secs(),
                self.describe().await
            ),
        }
    }

    /// Wait for the element with this id.
    pub async fn wait_id(&self, id: &str) -> Element {
        self.wait_css(&format!("#{id}")).await
    }

    /// Wait for the first of several element ids to appear; returns which one and the element.
    pub async fn wait_any(&self, ids: &[&str]) -> (String, Element) {
        let css = ids
            .iter()
            .map(|i| format!("#{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        // The element can belong to a page that is navigating away (a redirect still under way):
        // its reference then goes stale before we read it, and we look again on the next page.
        for _ in 0..20 {
            let el = self.wait_css(&css).await;
            match self
                .cmd(&format!("/element/{}/attribute/id", el.0), None)
                .await
            {
                Ok(id) => return (id.as_str().unwrap_or_default().to_owned(), el),
                Err(e) if e.error == "stale element reference" => continue,
                Err(e) => panic!("id attribute: {e}"),
            }
        }
        panic!("{css}: every match went stale: {}", self.describe().await)
    }

    /// Whether the current page has an element with this id, right now (no waiting).
    pub async fn has_id(&self, id: &str) -> bool {
        let script = "return document.getElementById(arguments[0]) !== null;";
        match self
            .cmd(
                "/execute/sync",
                Some(json!({ "script": script, "args": [id] })),
            )
            .await
        {
            Ok(v) => v.as_bool().unwrap_or(false),
            Err(e) => panic!("looking for #{id}: {e}"),
        }
    }

    /// The text of the element with this id, waiting for it.
    pub async fn text_of(&self, id: &str) -> String {
        let el = self.wait_id(id).await;
        let v = self
            .cmd(&format!("/element/{}/text", el.0), None)
            .await
            .unwrap_or_else(|e| panic!("text of #{id}: {e}"));
        v.as_str().unwrap_or_default().to_owned()
    }

    /// Type into the input with this id (after clearing it).
    pub async fn fill(&self, id: &str, value: &str) {
        let el = self.wait_id(id).await;
        self.cmd(&format!("/element/{}/clear", el.0), Some(json!({})))
            .await
            .unwrap_or_else(|e| panic!("clear #{id}: {e}"));
        self.cmd(
            &format!("/element/{}/value", el.0),
            Some(json!({ "text": value })),
        )
        .await
        .unwrap_or_else(|e| panic!("type into #{id}: {e}"));
    }

    /// Click the element with this id. The driver waits for a navigation the click starts, but not
    /// always: a click that leaves the page is [`Browser::submit`].
    pub async fn click(&self, id: &str) {
        let el = self.wait_id(id).await;
        if let Err(e) = self
            .cmd(&format!("/element/{}/click", el.0), Some(json!({})))
            .await
        {
            panic!("click #{id}: {e}; {}", self.describe().await);
        }
    }

    /// Click a control that leaves the page (a form's submit button) and return once the browser
    /// has left it. Waiting for the next page's elements right after a plain click can still find
    /// this page's: the login form's own `#password` while its POST is under way (seen once in a
    /// few dozen runs of the single sign-on test).
    pub async fn submit(&self, id: &str) {
        // A mark on this page's window, which the next page's window does not carry.
        let mark = "window.__tongbanLeaving = true;";
        if let Err(e) = self
            .cmd("/execute/sync", Some(json!({ "script": mark, "args": [] })))
            .await
        {
            panic!("marking the page before #{id}: {e}");
        }
        self.click(id).await;
        // Answers at once on the next page. On this page it never answers itself: the driver ends
        // it when the document unloads (with an error, "script timeout" in Chromium 156) or after
        // the script timeout; the mark then tells which page the browser is on.
        let wait = "const done = arguments[arguments.length - 1]; \
                    if (!window.__tongbanLeaving) { done(true); }";
        let left = "return !window.__tongbanLeaving;";
        for _ in 0..3 {
            let answer = self
                .cmd(
                    "/execute/async",
                    Some(json!({ "script": wait, "args": [] })),
                )
                .await;
            if answer.is_ok()
                || self
                    .cmd("/execute/sync", Some(json!({ "script": left, "args": [] })))
                    .await
                    .is_ok_and(|v| v == json!(true))
            {
                return;
            }
        }
        panic!("#{id} did not leave the page; {}", self.describe().await)
    }

    /// A virtual authenticator (WebAuthn Level 3 §11, chromedriver's WebAuthn commands): a
    /// platform authenticator keeping discoverable credentials, verifying its user (a PIN or a
    /// fingerprint, as far as the page can tell) and agreeing to every ceremony. Returns its id.
    pub async fn add_virtual_authenticator(&self) -> String {
        let v = self
            .cmd(
                "/webauthn/authenticator",
                Some(json!({
                    "protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
                    "hasUserVerification": true, "isUserConsenting": true, "isUserVerified": true,
                })),
            )
            .await
            .unwrap_or_else(|e| panic!("add a virtual authenticator: {e}"));
        v.as_str().expect("authenticator id").to_owned()
    }

    /// The credentials a virtual authenticator holds.
    pub async fn authenticator_credentials(&self, id: &str) -> Vec<Value> {
        let v = self
            .cmd(&format!("/webauthn/authenticator/{id}/credentials"), None)
            .await
            .unwrap_or_else(|e| panic!("read the authenticator's credentials: {e}"));
        v.as_array().cloned().unwrap_or_default()
    }

    /// End the WebDriver session (Chromium quits); the driver process ends on drop.
    pub async fn close(self) {
        if let Err(e) = self.http.delete(&self.session).send().await {
            eprintln!("closing the WebDriver session: {e}");
        }
    }
}
