//! No secret in the logs: a real `tongban serve` at debug level is driven through a session that
//! creates every kind of secret the service hands out (a client secret, a password, session and CSRF
//! cookies, an authorization code, access, refresh and ID tokens, a share token opened through the
//! API and as a page, one also in an unmatched path), and none of them appears in anything the
//! process wrote to stdout or stderr.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use reqwest::cookie::CookieStore;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::helpers::{ClientSpec, Driver, PASSWORD};
use crate::licences::{request, world, ENTERPRISE};

#[tokio::test]
async fn a_debug_level_log_of_a_whole_session_holds_none_of_its_secrets() {
    let w = world().await;
    let app = &w.app;
    let portal = app.client(ClientSpec::default()).await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tongban"))
        .arg("serve")
        .env("TONGBAN_LOG", "debug")
        .env("TONGBAN_LISTEN", "127.0.0.1:0")
        .env("TONGBAN_DATABASE_URL", &app.state.config.database_url)
        .env("TONGBAN_KEY_DIR", &app.state.config.key_dir)
        .env_remove("TONGBAN_ISSUER")
        .env_remove("TONGBAN_LOG_FORMAT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Both pipes are drained from the start: a debug log fills a pipe's buffer in no time.
    let mut stderr = child.stderr.take().unwrap();
    let err_log = tokio::spawn(async move {
        let mut s = Vec::new();
        let _ = stderr.read_to_end(&mut s).await;
        s
    });
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    tokio::time::timeout(Duration::from_secs(60), stdout.read_line(&mut first))
        .await
        .expect("the server starts")
        .unwrap();
    let out_log = tokio::spawn(async move {
        let mut s = Vec::new();
        let _ = stdout.read_to_end(&mut s).await;
        s
    });
    let base = first
        .split_whitespace()
        .find(|x| x.starts_with("http://"))
        .unwrap()
        .to_owned();
    let mut secrets: Vec<(&str, String)> = vec![
        ("password", PASSWORD.to_owned()),
        ("client secret", portal.secret.clone().unwrap()),
        (
            "department client secret",
            w.dept.client.secret.clone().unwrap(),
        ),
    ];
    let http = app.http();

    // A department's access token, and a licence issued with it.
    let dept_token = app.token_at(&base, &w.dept.client).await;
    secrets.push(("department access token", dept_token.clone()));
    let r = http
        .post(format!("{base}/api/v1/licences"))
        .bearer_auth(&dept_token)
        .json(&request(&w))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let issued: Value = r.json().await.unwrap();
    let licence_id = issued["id"].as_str().unwrap().to_owned();

    // The holder's representative signs in on the pages and authorises the portal.
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let d = Driver {
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_provider(jar.clone())
            .build()
            .unwrap(),
        base: base.clone(),
    };
    let verifier = tongban::crypto::random_token();
    let challenge = tongban::crypto::b64url(tongban::crypto::sha256(verifier.as_bytes()));
    let mut u = url::Url::parse(&format!("{base}/authorize")).unwrap();
    u.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &portal.id)
        .append_pair("redirect_uri", &portal.redirect_uri)
        .append_pair("scope", "openid profile email offline_access")
        .append_pair("state", "st-1")
        .append_pair("nonce", "n-1")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let code = d.authorize(u.as_str(), &w.rep_email, "").await.code();
    secrets.push(("authorization code", code.clone()));
    secrets.push(("code verifier", verifier.clone()));
    let cookies = jar
        .cookies(&url::Url::parse(&base).unwrap())
        .expect("session cookies");
    for c in cookies.to_str().unwrap().split("; ") {
        let (name, value) = c.split_once('=').unwrap();
        if name.starts_with("tongban_") {
            secrets.push(("cookie", value.to_owned()));
        }
    }
    assert!(secrets.iter().filter(|(k, _)| *k == "cookie").count() >= 2);

    let token = |form: Vec<(&'static str, String)>| {
        let (http, base, portal) = (&http, &base, &portal);
        async move {
            let r = http
                .post(format!("{base}/token"))
                .basic_auth(&portal.id, portal.secret.as_deref())
                .form(&form)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    let t = token(vec![
        ("grant_type", "authorization_code".into()),
        ("code", code.clone()),
        ("redirect_uri", portal.redirect_uri.clone()),
        ("code_verifier", verifier.clone()),
    ])
    .await;
    let refreshed = token(vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", t["refresh_token"].as_str().unwrap().into()),
    ])
    .await;
    for (what, v) in [
        ("access token", &t["access_token"]),
        ("refresh token", &t["refresh_token"]),
        ("ID token", &t["id_token"]),
        ("refreshed access token", &refreshed["access_token"]),
        ("refreshed refresh token", &refreshed["refresh_token"]),
    ] {
        secrets.push((what, v.as_str().unwrap().to_owned()));
    }
    let access = refreshed["access_token"].as_str().unwrap();
    let r = http
        .get(format!("{base}/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .post(format!("{base}/introspect"))
        .basic_auth(&portal.id, portal.secret.as_deref())
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A spent code and a wrong secret: refusals are logged too.
    let r = http
        .post(format!("{base}/token"))
        .basic_auth(&portal.id, Some("not-the-secret-Zq7Wx"))
        .form(&[("grant_type", "authorization_code"), ("code", &code)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    secrets.push(("wrong client secret", "not-the-secret-Zq7Wx".into()));

    // A share of the licence, opened through the API and as a page.
    let r = d
        .http
        .post(format!("{base}/api/v1/me/licences/{licence_id}/shares"))
        .json(&json!({ "disclose": ["address"], "purpose": "银行开户", "expires_in": 600, "as": ENTERPRISE }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let share: Value = r.json().await.unwrap();
    let share_url = share["url"].as_str().unwrap();
    let share_token = share_url.rsplit('/').next().unwrap().to_owned();
    assert!(share_token.len() >= 32, "{share_url}");
    secrets.push(("share token", share_token.clone()));
    for url in [
        share_url.to_owned(),
        share["page"].as_str().unwrap().to_owned(),
        // An unmatched path that holds the token, and a route that answers 404 for it.
        format!("{base}/shares/{share_token}/more"),
        format!("{base}/api/v1/log/receipts/{share_token}"),
    ] {
        assert!(url.contains(&share_token));
        let r = http.get(&url).send().await.unwrap();
        assert!(
            r.status().is_success() || r.status().is_client_error(),
            "{url}: {}",
            r.status()
        );
    }
    // The session ends: logout was the last thing the person did.
    let r = d.http.get(format!("{base}/logout")).send().await.unwrap();
    assert!(r.status().is_success() || r.status().is_redirection());

    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the server exits")
        .unwrap();
    let mut log = first.into_bytes();
    log.extend(out_log.await.unwrap());
    log.extend(err_log.await.unwrap());
    let log = String::from_utf8_lossy(&log);
    assert!(
        log.contains("started processing request"),
        "the log is at debug level"
    );
    assert!(
        !log.contains('\u{1b}'),
        "a log written to a pipe carries no ANSI colour codes"
    );
    for (what, secret) in &secrets {
        assert!(secret.len() >= 16, "{what} is a real secret");
        if let Some(at) = log.find(secret.as_str()) {
            let line_start = log[..at].rfind('\n').map_or(0, |i| i + 1);
            let line_end = log[at..].find('\n').map_or(log.len(), |i| at + i);
            panic!("the {what} is in the log: {}", &log[line_start..line_end]);
        }
    }
    assert!(
        log.contains("/api/v1/shares/:token") && log.contains("unmatched"),
        "spans name the route template, or that the path matched none"
    );
}
