//! CSRF tokens are bound to the session: a CSRF cookie and token pair that someone else obtained (for
//! their own session, or with none) and planted in the victim's browser, as a sibling subdomain or
//! a plain-HTTP response can, does not let them post `/logout` or `/account/logout-all` for the
//! victim. Under https the cookies are `__Host-` cookies (which such a planter cannot set) and
//! responses carry HSTS.

use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::Response;

use crate::helpers::{form_value, spawn_app, TestApp, PASSWORD};

/// The value of the cookie `name` set by `r`, and the whole `Set-Cookie` line.
fn set_cookie(r: &Response, name: &str) -> Option<(String, String)> {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|line| {
            let value = line.strip_prefix(&format!("{name}="))?;
            Some((value.split(';').next()?.to_owned(), line.to_owned()))
        })
}

/// One browser's cookies, kept by hand so that they can be planted in another request.
#[derive(Clone, Debug, Default)]
struct Jar {
    csrf: String,
    session: Option<String>,
}

struct Names {
    csrf: &'static str,
    session: &'static str,
}

const PLAIN: Names = Names {
    csrf: "tongban_csrf",
    session: "tongban_session",
};
const HOST: Names = Names {
    csrf: "__Host-tongban_csrf",
    session: "__Host-tongban_session",
};

impl Jar {
    fn header(&self, n: &Names) -> String {
        let mut h = format!("{}={}", n.csrf, self.csrf);
        if let Some(s) = &self.session {
            h.push_str(&format!("; {}={s}", n.session));
        }
        h
    }
}

/// A fresh browser at the login page: its CSRF cookie and the page's token.
async fn visit_login(app: &TestApp, http: &reqwest::Client, n: &Names) -> (Jar, String) {
    let r = http
        .get(format!("{}/login", app.addr))
        .send()
        .await
        .unwrap();
    let (csrf, _) = set_cookie(&r, n.csrf).expect("a CSRF cookie");
    let html = r.text().await.unwrap();
    let token = form_value(&html, "csrf").unwrap();
    (
        Jar {
            csrf,
            session: None,
        },
        token,
    )
}

/// Sign `email` in; returns the browser's cookies.
async fn sign_in(app: &TestApp, http: &reqwest::Client, n: &Names, email: &str) -> Jar {
    let (mut jar, token) = visit_login(app, http, n).await;
    let r = http
        .post(format!("{}/login", app.addr))
        .header(COOKIE, jar.header(n))
        .form(&[
            ("username", email),
            ("password", PASSWORD),
            ("csrf", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "login");
    jar.session = Some(set_cookie(&r, n.session).expect("a session cookie").0);
    jar
}

/// The CSRF token of the account page, as this browser sees it.
async fn account_token(app: &TestApp, http: &reqwest::Client, n: &Names, jar: &Jar) -> String {
    let r = http
        .get(format!("{}/account", app.addr))
        .header(COOKIE, jar.header(n))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "signed in");
    form_value(&r.text().await.unwrap(), "csrf").unwrap()
}

async fn signed_in(app: &TestApp, http: &reqwest::Client, n: &Names, jar: &Jar) -> bool {
    let r = http
        .get(format!("{}/account", app.addr))
        .header(COOKIE, jar.header(n))
        .send()
        .await
        .unwrap();
    r.status() == 200
}

async fn post(
    app: &TestApp,
    http: &reqwest::Client,
    path: &str,
    cookies: String,
    token: &str,
) -> u16 {
    http.post(format!("{}{path}", app.addr))
        .header(COOKIE, cookies)
        .form(&[("confirm", "yes"), ("csrf", token)])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_planted_csrf_pair_does_not_sign_the_victim_out() {
    let app = spawn_app().await;
    let http = app.http();
    let (_, _, victim_email) = app.citizen("受害人").await;
    let (_, _, attacker_email) = app.citizen("攻击者").await;
    let victim = sign_in(&app, &http, &PLAIN, &victim_email).await;
    let attacker = sign_in(&app, &http, &PLAIN, &attacker_email).await;
    let attacker_token = account_token(&app, &http, &PLAIN, &attacker).await;
    let (anonymous, anonymous_token) = visit_login(&app, &http, &PLAIN).await;

    // The attacker's CSRF cookie planted next to the victim's session, with the token that goes
    // with it: for the attacker's session, or for none.
    for (planted, token) in [(&attacker, &attacker_token), (&anonymous, &anonymous_token)] {
        let forged = Jar {
            csrf: planted.csrf.clone(),
            session: victim.session.clone(),
        };
        for path in ["/logout", "/account/logout-all"] {
            let status = post(&app, &http, path, forged.header(&PLAIN), token).await;
            assert_eq!(status, 403, "{path} with a planted pair");
            assert!(
                signed_in(&app, &http, &PLAIN, &victim).await,
                "{path}: the victim is still signed in"
            );
        }
    }
    assert!(signed_in(&app, &http, &PLAIN, &attacker).await);

    // The victim's own form still works.
    let token = account_token(&app, &http, &PLAIN, &victim).await;
    let status = post(
        &app,
        &http,
        "/account/logout-all",
        victim.header(&PLAIN),
        &token,
    )
    .await;
    assert_eq!(status, 303);
    assert!(!signed_in(&app, &http, &PLAIN, &victim).await);
    assert!(signed_in(&app, &http, &PLAIN, &attacker).await);
}

#[tokio::test]
async fn a_token_from_before_login_does_not_serve_the_session() {
    // The login page's token is for the browser without a session; once signed in, the pages
    // carry another one, and the old one is refused.
    let app = spawn_app().await;
    let http = app.http();
    let (_, _, email) = app.citizen("张三").await;
    let (jar, before) = visit_login(&app, &http, &PLAIN).await;
    let r = http
        .post(format!("{}/login", app.addr))
        .header(COOKIE, jar.header(&PLAIN))
        .form(&[
            ("username", email.as_str()),
            ("password", PASSWORD),
            ("csrf", &before),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let session = set_cookie(&r, PLAIN.session).unwrap().0;
    let jar = Jar {
        session: Some(session),
        ..jar
    };
    let after = account_token(&app, &http, &PLAIN, &jar).await;
    assert_ne!(before, after);
    let status = post(&app, &http, "/logout", jar.header(&PLAIN), &before).await;
    assert_eq!(status, 403);
    assert!(signed_in(&app, &http, &PLAIN, &jar).await);
}

#[tokio::test]
async fn under_https_cookies_are_host_only_and_hsts_is_sent() {
    let (app, ck, _dir) = crate::helpers::spawn_tls_app().await;
    assert!(app.addr.starts_with("https://"));
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ck.cert.pem().as_bytes()).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let r = http
        .get(format!("{}/login", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["strict-transport-security"],
        "max-age=63072000; includeSubDomains"
    );
    let (_, line) = set_cookie(&r, HOST.csrf).expect("a __Host- CSRF cookie");
    assert!(
        line.contains("; Path=/;") && line.contains("; Secure"),
        "{line}"
    );
    assert!(!line.to_ascii_lowercase().contains("domain="), "{line}");
    assert!(set_cookie(&r, PLAIN.csrf).is_none());

    let (_, _, email) = app.citizen("张三").await;
    let jar = sign_in(&app, &http, &HOST, &email).await;
    assert!(signed_in(&app, &http, &HOST, &jar).await);
    // The same secret under the plain name, which anyone could plant, is no session here.
    assert!(!signed_in(&app, &http, &PLAIN, &jar).await);
    let r = http
        .get(format!("{}/healthz", app.addr))
        .send()
        .await
        .unwrap();
    assert!(r.headers().contains_key("strict-transport-security"));

    // Over plain HTTP (development): plain names, and no HSTS.
    let plain = spawn_app().await;
    let r = plain
        .http()
        .get(format!("{}/login", plain.addr))
        .send()
        .await
        .unwrap();
    assert!(!r.headers().contains_key("strict-transport-security"));
    assert!(set_cookie(&r, PLAIN.csrf).is_some());
}
