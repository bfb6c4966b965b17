//! Load generator for the flows wrk cannot script: the full code flow (authorize with a live session,
//! then the token exchange) and password logins. Bounded in time and count; loopback only.
//!
//! `cargo run --release --example loadgen -- <base-url> <mode> <seconds> <concurrency> <client_id> <client_secret> <redirect_uri> <username> <password>`
//! mode: `codeflow`, `login`, or `token` (print one user access token and exit, for wrk's userinfo run).

use std::time::{Duration, Instant};

use reqwest::redirect::Policy;

fn form_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].to_owned())
}

struct Args {
    base: String,
    client_id: String,
    secret: String,
    redirect_uri: String,
    username: String,
    password: String,
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .cookie_store(true)
        .build()
        .expect("client")
}

async fn login(a: &Args, b: &reqwest::Client) -> reqwest::StatusCode {
    let page = b
        .get(format!("{}/login", a.base))
        .send()
        .await
        .expect("login page")
        .text()
        .await
        .unwrap_or_default();
    let csrf = form_value(&page, "csrf").unwrap_or_default();
    b.post(format!("{}/login", a.base))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", &a.username),
            ("password", &a.password),
        ])
        .send()
        .await
        .map(|r| r.status())
        .unwrap_or(reqwest::StatusCode::INTERNAL_SERVER_ERROR)
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// One authorization: authorize (session cookie) → code → token. Consents on the first pass.
async fn code_flow(
    a: &Args,
    b: &reqwest::Client,
    http: &reqwest::Client,
) -> Option<serde_json::Value> {
    let verifier = tongban::crypto::random_token();
    let challenge = tongban::crypto::b64url(tongban::crypto::sha256(verifier.as_bytes()));
    let mut url = url::Url::parse(&format!("{}/authorize", a.base)).ok()?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &a.client_id)
        .append_pair("redirect_uri", &a.redirect_uri)
        .append_pair("scope", "openid profile")
        .append_pair("state", "s")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let mut loc = location(&b.get(url.as_str()).send().await.ok()?);
    if loc.starts_with("/consent") {
        let page = b
            .get(format!("{}{loc}", a.base))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        let (csrf, req) = (form_value(&page, "csrf")?, form_value(&page, "req")?);
        let r = b
            .post(format!("{}/consent", a.base))
            .form(&[
                ("csrf", csrf.as_str()),
                ("req", &req),
                ("decision", "allow"),
            ])
            .send()
            .await
            .ok()?;
        loc = location(&r);
    }
    let code = url::Url::parse(&loc)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == "code")?
        .1
        .into_owned();
    let r = http
        .post(format!("{}/token", a.base))
        .basic_auth(&a.client_id, Some(&a.secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &a.redirect_uri),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .ok()?;
    r.status().is_success().then_some(())?;
    r.json().await.ok()
}

#[tokio::main]
async fn main() {
    let v: Vec<String> = std::env::args().collect();
    assert!(v.len() == 10, "usage: loadgen <base> <mode> <seconds> <concurrency> <client_id> <secret> <redirect_uri> <username> <password>");
    let a = std::sync::Arc::new(Args {
        base: v[1].clone(),
        client_id: v[5].clone(),
        secret: v[6].clone(),
        redirect_uri: v[7].clone(),
        username: v[8].clone(),
        password: v[9].clone(),
    });
    let (mode, secs, conc): (String, u64, usize) = (
        v[2].clone(),
        v[3].parse().expect("seconds"),
        v[4].parse().expect("concurrency"),
    );
    let http = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client");
    if mode == "token" {
        let b = browser();
        assert!(login(&a, &b).await.is_redirection(), "login failed");
        let t = code_flow(&a, &b, &http).await.expect("code flow");
        println!("{}", t["access_token"].as_str().unwrap_or_default());
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..conc {
        let (a, http, mode) = (a.clone(), http.clone(), mode.clone());
        set.spawn(async move {
            let b = browser();
            if mode == "codeflow" {
                assert!(login(&a, &b).await.is_redirection(), "login failed");
                code_flow(&a, &b, &http).await; // warm-up: consent
            }
            let (mut lat, mut errors) = (Vec::new(), 0u64);
            while Instant::now() < deadline {
                let t0 = Instant::now();
                let ok = match mode.as_str() {
                    "codeflow" => code_flow(&a, &b, &http).await.is_some(),
                    _ => login(&a, &b).await.is_redirection(),
                };
                lat.push(t0.elapsed());
                errors += u64::from(!ok);
            }
            (lat, errors)
        });
    }
    let (mut all, mut errors) = (Vec::new(), 0);
    while let Some(Ok((l, e))) = set.join_next().await {
        all.extend(l);
        errors += e;
    }
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "{mode}: {} in {secs}s = {:.0}/s, errors {errors}, p50 {:.1} ms, p99 {:.1} ms",
        all.len(),
        all.len() as f64 / secs as f64,
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3
    );
}
