//! A sample department portal for `tongban demo`: a small axum web application that signs people in
//! with tongban ([`super::rp`]) and keeps its own sessions in memory, as a department's portal would.
//! It is a separate application from the provider (its own port, its own cookie), which is why it may
//! use axum outside `http/`.
//!
//! - `GET /`: the signed-in page, or the landing page with a "sign in with tongban" link;
//! - `GET /login`: starts the code flow; `GET /callback`: finishes it (and, at the housing-fund
//!   portal, reads and verifies the business licence the person consented to);
//! - `POST /logout`: ends the portal session and sends the browser to the provider's logout, which
//!   signs the person out at every portal; `GET /logged-out`: where the provider sends it back;
//! - `POST /backchannel-logout`: the provider's logout token ends the matching portal sessions.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use openidconnect::{Nonce, PkceCodeVerifier};
use serde_json::{json, Value};
use tokio::net::TcpListener;

pub use super::kind::{PortalKind, Setup};
use super::rp::{Org, Rp, RpError, ShownLicence};
use crate::crypto::{constant_time_eq, random_token};

const TEMPLATE: &str = include_str!("../../templates/demo/portal.html");
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:; frame-ancestors 'none'; base-uri 'none'";
/// How long a started sign-in may take (login, enterprise choice, consent).
const PENDING_TTL: Duration = Duration::from_secs(30 * 60);
const PENDING_MAX: usize = 10_000;
/// A portal session's longest life (the provider's own absolute session limit by default).
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// A sign-in started here and not finished yet.
struct Pending {
    verifier: PkceCodeVerifier,
    nonce: Nonce,
    at: Instant,
}

/// A portal session.
struct Session {
    name: String,
    sub: String,
    sid: Option<String>,
    org: Option<Org>,
    id_token: String,
    licences: Vec<ShownLicence>,
    licence_error: Option<String>,
    /// The sign-out form's token.
    csrf: String,
    started: Instant,
}

struct Shared {
    setup: Setup,
    rp: Rp,
    env: minijinja::Environment<'static>,
    pending: Mutex<HashMap<String, Pending>>,
    sessions: Mutex<HashMap<String, Session>>,
    seen_jtis: Mutex<HashSet<String>>,
}

/// Lock a map; a panic elsewhere while holding it leaves plain data behind, still usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct Portal {
    shared: Arc<Shared>,
}

impl Portal {
    /// Discover the provider at `issuer` and prepare the pages.
    pub async fn new(setup: Setup, issuer: &str) -> anyhow::Result<Portal> {
        let rp = Rp::discover(&setup, issuer).await?;
        let mut env = minijinja::Environment::new();
        env.add_template("portal.html", TEMPLATE)?;
        Ok(Portal {
            shared: Arc::new(Shared {
                setup,
                rp,
                env,
                pending: Mutex::default(),
                sessions: Mutex::default(),
                seen_jtis: Mutex::default(),
            }),
        })
    }

    /// Serve on `listener` until `shutdown` resolves.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let router = Router::new()
            .route("/", get(index))
            .route("/login", get(login))
            .route("/callback", get(callback))
            .route("/logout", post(logout))
            .route("/logged-out", get(logged_out))
            .route("/backchannel-logout", post(backchannel_logout))
            .with_state(self.shared);
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await?;
        Ok(())
    }
}

impl Shared {
    fn cookie_key(&self, headers: &HeaderMap) -> Option<String> {
        crate::http::extract::cookie(headers, self.setup.kind.cookie())
    }

    fn clear_cookie(&self) -> String {
        format!(
            "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0",
            self.setup.kind.cookie()
        )
    }

    /// Render the page; `extra` adds to the portal's texts and addresses.
    fn page(&self, status: StatusCode, extra: Value) -> Response {
        let mut ctx = json!({
            "portal": self.setup.kind.texts(),
            "provider": self.rp.issuer,
        });
        if let (Some(c), Value::Object(e)) = (ctx.as_object_mut(), extra) {
            c.extend(e);
        }
        let html = self
            .env
            .get_template("portal.html")
            .and_then(|t| t.render(minijinja::Value::from_serialize(&ctx)));
        let mut r = match html {
            Ok(h) => (status, Html(h)).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "rendering a demo portal page failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "page error").into_response()
            }
        };
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        r
    }

    fn error(&self, status: StatusCode, zh: &str, en: &str) -> Response {
        self.page(
            status,
            json!({ "page": "error", "error_zh": zh, "error_en": en }),
        )
    }
}

fn with_cookie(cookie: String, r: impl IntoResponse) -> Response {
    ([(header::SET_COOKIE, cookie)], r).into_response()
}

async fn index(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let key = s.cookie_key(&headers);
    let page = {
        let sessions = lock(&s.sessions);
        let live = key.as_ref().and_then(|k| sessions.get(k));
        live.filter(|sess| sess.started.elapsed() < SESSION_TTL)
            .map(|sess| {
                json!({
                    "page": "home",
                    "name": sess.name,
                    "org": sess.org,
                    "licences": sess.licences,
                    "licence_error": sess.licence_error,
                    "reads_licences": s.setup.kind.purpose().is_some(),
                    "csrf": sess.csrf,
                })
            })
    };
    match page {
        Some(ctx) => s.page(StatusCode::OK, ctx),
        None => s.page(StatusCode::OK, json!({ "page": "landing" })),
    }
}

async fn login(State(s): State<Arc<Shared>>) -> Response {
    let started = s.rp.start();
    {
        let mut pending = lock(&s.pending);
        pending.retain(|_, p| p.at.elapsed() < PENDING_TTL);
        if pending.len() >= PENDING_MAX {
            return s.error(
                StatusCode::SERVICE_UNAVAILABLE,
                "登录请求过多，请稍后再试。",
                "Too many sign-ins in progress; try again later.",
            );
        }
        pending.insert(
            started.state,
            Pending {
                verifier: started.verifier,
                nonce: started.nonce,
                at: Instant::now(),
            },
        );
    }
    Redirect::to(&started.url).into_response()
}

async fn callback(
    State(s): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match sign_in(&s, &q).await {
        Ok((key, session)) => {
            let cookie = format!(
                "{}={key}; Path=/; HttpOnly; SameSite=Lax",
                s.setup.kind.cookie()
            );
            let mut sessions = lock(&s.sessions);
            sessions.retain(|_, p| p.started.elapsed() < SESSION_TTL);
            sessions.insert(key, session);
            drop(sessions);
            with_cookie(cookie, Redirect::to("/"))
        }
        Err(RpError::Provider(e)) if e == "access_denied" => s.error(
            StatusCode::FORBIDDEN,
            "您没有同意授权，未能登录。",
            "You did not give your consent, so you are not signed in.",
        ),
        Err(e) => {
            tracing::warn!(portal = ?s.setup.kind, error = %e, "demo portal sign-in failed");
            s.error(
                StatusCode::BAD_GATEWAY,
                "登录失败，原因见门户日志。",
                "Sign-in failed; the portal's log says why.",
            )
        }
    }
}

/// Finish a sign-in from the callback's query; returns the new session and its cookie value.
async fn sign_in(s: &Shared, q: &HashMap<String, String>) -> Result<(String, Session), RpError> {
    let pending = q.get("state").and_then(|st| lock(&s.pending).remove(st));
    if let Some(e) = q.get("error") {
        return Err(RpError::Provider(e.clone()));
    }
    let pending = pending.ok_or(RpError::BadCallback("unknown or missing state"))?;
    let code = q.get("code").ok_or(RpError::BadCallback("no code"))?;
    let iss = q.get("iss").map(String::as_str);
    let signed =
        s.rp.finish(code, iss, pending.verifier, &pending.nonce)
            .await?;
    let (licences, licence_error) = match s.setup.kind.purpose() {
        Some(purpose) => match s.rp.licences(&signed.access_token, purpose).await {
            Ok(l) => (l, None),
            Err(e) => (vec![], Some(e.to_string())),
        },
        None => (vec![], None),
    };
    let session = Session {
        name: signed.name,
        sub: signed.sub,
        sid: signed.sid,
        org: signed.org,
        id_token: signed.id_token,
        licences,
        licence_error,
        csrf: random_token(),
        started: Instant::now(),
    };
    Ok((random_token(), session))
}

#[derive(serde::Deserialize)]
struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(f): Form<LogoutForm>,
) -> Response {
    let Some(key) = s.cookie_key(&headers) else {
        return Redirect::to("/").into_response();
    };
    let ended = {
        let mut sessions = lock(&s.sessions);
        match sessions.get(&key) {
            Some(sess) if constant_time_eq(sess.csrf.as_bytes(), f.csrf.as_bytes()) => {
                sessions.remove(&key)
            }
            Some(_) => {
                return s.error(
                    StatusCode::FORBIDDEN,
                    "请求无效，请返回后重试。",
                    "The request was not valid; go back and try again.",
                )
            }
            None => None,
        }
    };
    let Some(sess) = ended else {
        return with_cookie(s.clear_cookie(), Redirect::to("/"));
    };
    let url =
        s.rp.logout_url(&sess.id_token, &format!("{}/logged-out", s.setup.base));
    with_cookie(s.clear_cookie(), Redirect::to(&url))
}

async fn logged_out(State(s): State<Arc<Shared>>) -> Response {
    with_cookie(
        s.clear_cookie(),
        s.page(
            StatusCode::OK,
            json!({ "page": "landing", "logged_out": true }),
        ),
    )
}

#[derive(serde::Deserialize)]
struct BackchannelForm {
    logout_token: Option<String>,
}

async fn backchannel_logout(
    State(s): State<Arc<Shared>>,
    Form(f): Form<BackchannelForm>,
) -> Response {
    let no_store = [(header::CACHE_CONTROL, "no-store")];
    let outcome = match &f.logout_token {
        Some(t) => s.rp.logout_token(t, &s.seen_jtis).await,
        None => Err(RpError::LogoutToken("no logout_token".into())),
    };
    match outcome {
        Ok((sub, sid)) => {
            let ended = {
                let mut sessions = lock(&s.sessions);
                let before = sessions.len();
                sessions.retain(|_, p| {
                    let matches = match (&sid, &sub) {
                        (Some(sid), sub) => {
                            p.sid.as_deref() == Some(sid.as_str())
                                && sub.as_ref().is_none_or(|u| *u == p.sub)
                        }
                        (None, Some(sub)) => p.sub == *sub,
                        (None, None) => false,
                    };
                    !matches
                });
                before - sessions.len()
            };
            tracing::info!(portal = ?s.setup.kind, ended, "demo portal: back-channel logout");
            (StatusCode::OK, no_store, "").into_response()
        }
        Err(e) => {
            tracing::warn!(portal = ?s.setup.kind, error = %e, "demo portal: logout token refused");
            let body = json!({ "error": "invalid_request", "error_description": e.to_string() });
            (StatusCode::BAD_REQUEST, no_store, axum::Json(body)).into_response()
        }
    }
}
