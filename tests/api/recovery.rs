//! Verified contact details and password reset, against a real SMTP server (aiosmtpd, started by
//! the test: `tests/support/smtp_sink.py`) and an HTTP SMS gateway (a local receiver): the email
//! link verifies the address (`email_verified` turns true in the ID token), the phone code the
//! number; a reset request for an unknown address answers exactly like one for a known address;
//! the reset link works once, ends the sessions at every portal (back-channel logout delivered)
//! and the person is told by mail.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::http::HeaderMap;
use axum::routing::post;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::enterprise::logout_receiver;
use crate::helpers::{
    auth_url, claims, exchange, form_value, spawn_app_with, ClientSpec, Driver, Landing, TestApp,
    PASSWORD,
};
use crate::holders::signed_in;

/// How long a message may take to arrive (the outbox is delivered at once, woken).
const WITHIN: Duration = Duration::from_secs(15);

/// aiosmtpd on a free port; each message received arrives on `messages`. Ended on drop.
struct SmtpSink {
    child: Child,
    port: u16,
    messages: mpsc::UnboundedReceiver<Value>,
}

impl SmtpSink {
    async fn start() -> SmtpSink {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_sink.py");
        let mut child = Command::new("python3")
            .arg("-u")
            .arg(script)
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 with aiosmtpd (pip install aiosmtpd)");
        let stdout = child.stdout.take().unwrap();
        let (tx, messages) = mpsc::unbounded_channel();
        let (ready_tx, ready) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut ready_tx = Some(ready_tx);
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if line == "listening" {
                    if let Some(r) = ready_tx.take() {
                        let _ = r.send(());
                    }
                } else if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    let _ = tx.send(v);
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(20), ready)
            .await
            .expect("aiosmtpd did not start within 20 s")
            .expect("aiosmtpd exited before it listened");
        SmtpSink {
            child,
            port,
            messages,
        }
    }

    async fn next(&mut self) -> Value {
        tokio::time::timeout(WITHIN, self.messages.recv())
            .await
            .expect("a message within 15 s")
            .expect("the SMTP server is running")
    }

    /// The next message whose subject holds `about`; the others on the way are returned too.
    async fn next_about(&mut self, about: &str) -> (Value, Vec<Value>) {
        let mut passed = vec![];
        loop {
            let m = self.next().await;
            if m["subject"].as_str().unwrap_or("").contains(about) {
                return (m, passed);
            }
            passed.push(m);
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first `http(s)://…` link in a text.
fn link_in(text: &str) -> String {
    let start = text.find("http").expect("a link in the message");
    text[start..].split_whitespace().next().unwrap().to_owned()
}

/// A server that mails through `sink`.
async fn app_with_smtp(sink: &SmtpSink, sms: Option<(String, String)>) -> TestApp {
    let port = sink.port;
    spawn_app_with(|c| {
        c.smtp_host = "127.0.0.1".into();
        c.smtp_port = port;
        c.smtp_tls = "none".into();
        c.smtp_from = "统一身份认证 <noreply@tongban.example.cn>".into();
        if let Some((url, token)) = sms {
            c.sms_gateway_url = url;
            c.sms_gateway_token = token;
        }
    })
    .await
}

/// The ID token's claims after a code flow of `portal` in the browser `d` (signed in already).
async fn id_token(
    app: &TestApp,
    d: &Driver,
    portal: &crate::helpers::TestClient,
    scope: &str,
) -> Value {
    let (url, v) = auth_url(app, portal, scope, &[]);
    let l = crate::factors::on(d, d.get(&url).await).await;
    let (_, tokens) = exchange(app, portal, &l.code(), &v).await;
    claims(tokens["id_token"].as_str().unwrap())
}

/// POST a form from the page at `from` (its CSRF token) and return (status, body), not following.
async fn post_from(d: &Driver, from: &str, action: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let Landing::Page(_, _, page) = d.get(from).await else {
        panic!("page {from}")
    };
    let mut form: Vec<(&str, String)> = fields.iter().map(|(k, v)| (*k, v.to_string())).collect();
    form.push(("csrf", form_value(&page, "csrf").expect("a CSRF token")));
    let r = d
        .http
        .post(format!("{}{action}", d.base))
        .form(&form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn email_verification_and_password_reset_against_a_real_smtp_server() {
    let mut sink = SmtpSink::start().await;
    let app = app_with_smtp(&sink, None).await;
    let (bcl, mut logouts) = logout_receiver().await;
    let portal = app
        .client(ClientSpec {
            backchannel_logout_uri: Some(bcl),
            scopes: vec!["openid", "email"],
            ..Default::default()
        })
        .await;
    let (account_id, _, email) = app.citizen("郑邮箱").await;
    let d = signed_in(&app, &email).await;
    assert_eq!(
        id_token(&app, &d, &portal, "openid email").await["email_verified"],
        false
    );

    // Ask for a link on the account page: it arrives by SMTP, bilingual, plain text.
    let (s, _) = post_from(&d, "/account", "/account/email/send", &[]).await;
    assert_eq!(s, 303);
    let m = sink.next().await;
    assert_eq!(m["to"], serde_json::json!([email.as_str()]));
    assert_eq!(m["from"], "noreply@tongban.example.cn");
    assert!(
        m["subject"]
            .as_str()
            .unwrap()
            .contains("Confirm your email address"),
        "{m}"
    );
    let link = link_in(m["body"].as_str().unwrap());
    assert!(
        link.starts_with(&format!("{}/account/email/verify?token=", app.addr)),
        "{link}"
    );

    // Opening the link (another browser, not signed in) shows a button; pressing it verifies.
    let other = app.driver();
    let (s, done) = post_from(
        &other,
        &link,
        "/account/email/verify",
        &[("token", &link[link.find("token=").unwrap() + 6..])],
    )
    .await;
    assert_eq!(s, 200, "{done}");
    assert!(done.contains("id=\"email-verified\""), "{done}");
    let (s, _) = post_from(
        &d,
        "/account",
        "/account/email/verify",
        &[("token", &link[link.find("token=").unwrap() + 6..])],
    )
    .await;
    assert_eq!(s, 400, "a link works once");
    let fresh = signed_in(&app, &email).await;
    assert_eq!(
        id_token(&app, &fresh, &portal, "openid email").await["email_verified"],
        true
    );

    // Reset: a known and an unknown address get the same answer; only the known one is mailed.
    let forgot = |ident: String| {
        let app = &app;
        async move {
            let d = app.driver();
            let (s, body) = post_from(
                &d,
                "/login/forgot",
                "/login/forgot",
                &[("identifier", &ident)],
            )
            .await;
            (s, body)
        }
    };
    // That second browser was new to the account, which now has a verified address: told.
    let (m, _) = sink.next_about("A sign-in from a new device").await;
    assert_eq!(m["to"], serde_json::json!([email.as_str()]));
    let known = forgot(email.clone()).await;
    let unknown = forgot("nobody.at.all@example.cn".to_owned()).await;
    assert_eq!(known.0, 200);
    assert_eq!(known, unknown, "the answer says nothing about the account");
    let (m, _) = sink.next_about("Reset your password").await;
    assert_eq!(m["to"], serde_json::json!([email.as_str()]));
    let reset = link_in(m["body"].as_str().unwrap());
    assert!(
        reset.starts_with(&format!("{}/login/reset?token=", app.addr)),
        "{reset}"
    );
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE kind = 'reset_email'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(n, 1, "nothing was queued for the unknown address");

    // The link sets a new password once; every session ends, the portal is told.
    let token = &reset[reset.find("token=").unwrap() + 6..];
    let r = app.driver();
    let (s, html) = post_from(
        &r,
        &reset,
        "/login/reset",
        &[
            ("token", token),
            ("new_password", "Neues-Passwort-2026"),
            ("new_password_confirm", "Neues-Passwort-2026"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{html}");
    assert!(html.contains("id=\"reset-done\""), "{html}");
    let lt = tokio::time::timeout(Duration::from_secs(10), logouts.recv())
        .await
        .expect("a back-channel logout within 10 s")
        .unwrap();
    assert!(claims(&lt)["events"]
        .get("http://schemas.openid.net/event/backchannel-logout")
        .is_some());
    for browser in [&d, &fresh] {
        let Landing::Page(path, ..) = browser.get("/account").await else {
            panic!()
        };
        assert_eq!(path, "/login", "every session ended");
    }
    let (s, _) = post_from(
        &r,
        "/login/forgot",
        "/login/reset",
        &[
            ("token", token),
            ("new_password", "Anderes-Passwort-2026"),
            ("new_password_confirm", "Anderes-Passwort-2026"),
        ],
    )
    .await;
    assert_eq!(s, 400, "a reset link works once");
    let Landing::Page(_, 200, login) = r.get("/login").await else {
        panic!()
    };
    let l = r
        .submit(
            "/login",
            &login,
            &[("username", &email), ("password", PASSWORD)],
        )
        .await;
    assert!(
        matches!(&l, Landing::Page(p, 401, _) if p == "/login"),
        "the old password is dead: {l:?}"
    );
    let l = r
        .submit(
            "/login",
            &login,
            &[("username", &email), ("password", "Neues-Passwort-2026")],
        )
        .await;
    assert!(
        matches!(&l, Landing::Page(p, 200, _) if p == "/account"),
        "{l:?}"
    );

    // The person is told, at the verified address, and the audit log has it.
    sink.next_about("Your password was reset").await;
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'password.reset' AND actor = $1",
    )
    .bind(format!("account:{account_id}"))
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    assert_eq!(n, 1);
}

/// An SMS gateway: each JSON message posted (with its Authorization header) arrives on the channel.
async fn sms_gateway() -> (String, mpsc::UnboundedReceiver<(String, Value)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/sms",
        post(
            move |headers: HeaderMap, axum::Json(v): axum::Json<Value>| {
                let tx = tx.clone();
                async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|h| h.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    let _ = tx.send((auth, v));
                    axum::Json(serde_json::json!({ "accepted": true }))
                }
            },
        ),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sms", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    (url, rx)
}

#[tokio::test]
async fn phone_verification_through_the_sms_gateway() {
    let sink = SmtpSink::start().await;
    let (url, mut texts) = sms_gateway().await;
    let app = app_with_smtp(&sink, Some((url, "gateway-secret".into()))).await;
    let portal = app
        .client(ClientSpec {
            scopes: vec!["openid", "phone"],
            ..Default::default()
        })
        .await;
    let phone = with_phone(&app, "冯手机").await;
    let d = signed_in(&app, &phone).await;
    assert_eq!(
        id_token(&app, &d, &portal, "openid phone").await["phone_number_verified"],
        false
    );

    let (s, _) = post_from(&d, "/account", "/account/phone/send", &[]).await;
    assert_eq!(s, 303);
    let (auth, sms) = tokio::time::timeout(WITHIN, texts.recv())
        .await
        .expect("an SMS")
        .unwrap();
    assert_eq!(auth, "Bearer gateway-secret");
    assert_eq!(sms["to"], format!("+86{phone}"));
    assert_eq!(sms["kind"], "phone_code");
    let text = sms["text"].as_str().unwrap();
    // The text holds the code (6 digits) and "10" (minutes): take the 6-digit run.
    let code = text
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap_or_else(|| panic!("a 6-digit code in {text:?}"))
        .to_owned();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (s, _) = post_from(&d, "/account", "/account/phone/verify", &[("code", wrong)]).await;
    assert_eq!(s, 400);
    let (s, _) = post_from(&d, "/account", "/account/phone/verify", &[("code", &code)]).await;
    assert_eq!(s, 303);
    let Landing::Page(_, 200, account) = d.get("/account").await else {
        panic!()
    };
    assert!(account.contains("id=\"phone-status\""));
    assert!(
        !account.contains("id=\"phone-send\""),
        "verified: no code to ask for"
    );
    let fresh = signed_in(&app, &phone).await;
    assert_eq!(
        id_token(&app, &fresh, &portal, "openid phone").await["phone_number_verified"],
        true
    );
}

/// A citizen registered with a phone number (no email); returns the number.
async fn with_phone(app: &TestApp, name: &str) -> String {
    let phone = format!("139{:08}", rand_digits());
    let reg = tongban::identity::accounts::Registration {
        name: name.into(),
        id_kind: "resident".into(),
        id_number: crate::helpers::resident_id(),
        email: String::new(),
        phone: phone.clone(),
        password: PASSWORD.into(),
    };
    tongban::identity::accounts::register(&app.state.identity, &reg, tongban::domain::time::now())
        .await
        .unwrap();
    phone
}

/// The 6-digit code of an SMS text.
fn code_in(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap_or_else(|| panic!("a 6-digit code in {text:?}"))
        .to_owned()
}

#[tokio::test]
async fn phone_codes_resist_guessing_and_flooding() {
    let sink = SmtpSink::start().await;
    let (url, mut texts) = sms_gateway().await;
    let app = app_with_smtp(&sink, Some((url, "gateway-secret".into()))).await;
    let phone = with_phone(&app, "褚猜码").await;
    let d = signed_in(&app, &phone).await;
    let (s, _) = post_from(&d, "/account", "/account/phone/send", &[]).await;
    assert_eq!(s, 303);
    // A second code within the minute: refused, nothing sent.
    let (s, page) = post_from(&d, "/account", "/account/phone/send", &[]).await;
    assert_eq!(s, 400, "{page}");
    let (_, sms) = tokio::time::timeout(WITHIN, texts.recv())
        .await
        .expect("an SMS")
        .unwrap();
    let code = code_in(sms["text"].as_str().unwrap());
    let wrong = if code == "000000" { "111111" } else { "000000" };
    // Five wrong guesses, sent at once: then the right code is refused too.
    let field = [("code", wrong)];
    let guesses: Vec<_> = (0..5)
        .map(|_| post_from(&d, "/account", "/account/phone/verify", &field))
        .collect();
    // Polled together: the guesses race, as an attacker's would.
    for (s, _) in futures_util::future::join_all(guesses).await {
        assert_eq!(s, 400);
    }
    let (s, _) = post_from(&d, "/account", "/account/phone/verify", &[("code", &code)]).await;
    assert_eq!(s, 400, "the sixth try finds no code, right or wrong");
    let (n,): (Option<i64>,) =
        sqlx::query_as("SELECT phone_verified_at FROM accounts WHERE phone = $1")
            .bind(&phone)
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
    assert_eq!(n, None);
    assert!(texts.try_recv().is_err(), "exactly one SMS was sent");
}

fn rand_digits() -> u32 {
    u32::from_be_bytes(
        tongban::crypto::sha256(tongban::crypto::random_id().as_bytes())[..4]
            .try_into()
            .unwrap(),
    ) % 100_000_000
}
