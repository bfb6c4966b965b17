//! A small relying-party web application ("portal") for browser tests, built with axum and the
//! `openidconnect` crate, served on 127.0.0.1:0 inside the test process:
//!
//! - `GET /`: the signed-in page (`#who`, `#logout`) for a live portal session, else a 303 to the
//!   provider's authorization endpoint (code flow, PKCE S256, state, nonce, scope "openid profile");
//! - `GET /callback`: checks state (and RFC 9207 `iss`), exchanges the code (client_secret_basic),
//!   validates the ID token (ES256/RS256, nonce, at_hash) and starts a portal session;
//! - `POST /backchannel-logout`: validates the logout token against the provider's JWKS, ends the
//!   matching portal sessions and reports each delivery on a channel the test awaits;
//! - `GET /logged-out`: where RP-initiated logout returns (`#bye`).
//!
//! Cookies on 127.0.0.1 are shared across ports, so each portal's session cookie has its own name.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use tokio::sync::{mpsc, oneshot};

use crate::helpers::{ClientSpec, TestApp};

pub const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

type OidcClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// A portal session: who signed in, in which provider session, with which ID token.
#[derive(Clone, Debug)]
pub struct PortalSession {
    pub sub: String,
    pub sid: Option<String>,
    pub id_token: String,
}

/// A back-channel logout the portal accepted.
#[derive(Clone, Debug)]
pub struct LogoutEvent {
    pub sub: Option<String>,
    pub sid: Option<String>,
    pub jti: String,
    /// How many portal sessions it ended.
    pub ended: usize,
}

/// Every back-channel logout request: accepted, or refused with the reason.
pub type BackchannelOutcome = Result<LogoutEvent, String>;

struct Shared {
    name: String,
    cookie: String,
    base: String,
    issuer: String,
    client_id: String,
    oidc: OidcClient,
    http: reqwest::Client,
    pending: Mutex<HashMap<String, (PkceCodeVerifier, Nonce)>>,
    sessions: Mutex<HashMap<String, PortalSession>>,
    seen_jtis: Mutex<HashSet<String>>,
    logouts: mpsc::UnboundedSender<BackchannelOutcome>,
}

pub struct Portal {
    /// e.g. `http://127.0.0.1:40123`
    pub base: String,
    shared: Arc<Shared>,
    logouts: mpsc::UnboundedReceiver<BackchannelOutcome>,
    _shutdown: oneshot::Sender<()>,
}

impl Portal {
    /// Bind a port, register the portal with the provider (its redirect, post-logout and back-channel
    /// URIs need the port), discover the provider, then serve.
    pub async fn start(app: &TestApp, name: &str) -> Portal {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind portal");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let registered = app
            .client(ClientSpec {
                redirect_uris: vec![format!("{base}/callback")],
                post_logout_redirect_uris: vec![format!("{base}/logged-out")],
                backchannel_logout_uri: Some(format!("{base}/backchannel-logout")),
                scopes: vec!["openid", "profile"],
                ..Default::default()
            })
            .await;
        // The openidconnect crate requires an HTTP client that does not follow redirects.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let meta =
            CoreProviderMetadata::discover_async(IssuerUrl::new(app.addr.clone()).unwrap(), &http)
                .await
                .expect("discovery");
        let oidc = CoreClient::from_provider_metadata(
            meta,
            ClientId::new(registered.id.clone()),
            registered.secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(RedirectUrl::new(format!("{base}/callback")).unwrap());
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            name: name.to_owned(),
            cookie: format!("portal_{name}_session"),
            base: base.clone(),
            issuer: app.addr.clone(),
            client_id: registered.id.clone(),
            oidc,
            http,
            pending: Mutex::default(),
            sessions: Mutex::default(),
            seen_jtis: Mutex::default(),
            logouts: tx,
        });
        let router = Router::new()
            .route("/", get(index))
            .route("/callback", get(callback))
            .route("/logged-out", get(logged_out))
            .route("/backchannel-logout", post(backchannel_logout))
            .with_state(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        Portal {
            base,
            shared,
            logouts: rx,
            _shutdown: stop,
        }
    }

    /// The live portal sessions.
    pub fn sessions(&self) -> Vec<PortalSession> {
        self.shared
            .sessions
            .lock()
            .unwrap()
            .values()
            .cloned()
            .collect()
    }

    /// The next back-channel logout request, accepted or refused; `None` if none came within `within`.
    pub async fn next_backchannel(&mut self, within: Duration) -> Option<BackchannelOutcome> {
        tokio::time::timeout(within, self.logouts.recv())
            .await
            .ok()
            .flatten()
    }

    /// A back-channel logout request that did not arrive yet (none pending right now).
    pub fn backchannel_pending(&mut self) -> Option<BackchannelOutcome> {
        self.logouts.try_recv().ok()
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!("<!doctype html><html><head><meta charset=\"utf-8\"><title>{}</title></head><body>{body}</body></html>", esc(title)))
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn fail(status: StatusCode, what: &str) -> Response {
    (
        status,
        page(
            "Portal error",
            &format!("<p id=\"portal-error\">{}</p>", esc(what)),
        ),
    )
        .into_response()
}

async fn index(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let session =
        cookie_value(&headers, &s.cookie).and_then(|c| s.sessions.lock().unwrap().get(c).cloned());
    if let Some(sess) = session {
        let mut logout = url::Url::parse(&format!("{}/logout", s.issuer)).unwrap();
        logout
            .query_pairs_mut()
            .append_pair("id_token_hint", &sess.id_token)
            .append_pair(
                "post_logout_redirect_uri",
                &format!("{}/logged-out", s.base),
            )
            .append_pair("state", "xyz");
        let body = format!(
            "<h1>Portal {}</h1><p id=\"who\">Signed in as {}</p><p><a id=\"logout\" href=\"{}\">Sign out</a></p>",
            esc(&s.name),
            esc(&sess.sub),
            esc(logout.as_str())
        );
        return page(&format!("Portal {}", s.name), &body).into_response();
    }
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = s
        .oidc
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    s.pending
        .lock()
        .unwrap()
        .insert(csrf.secret().clone(), (verifier, nonce));
    Redirect::to(url.as_str()).into_response()
}

async fn callback(
    State(s): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(e) = q.get("error") {
        return fail(
            StatusCode::BAD_REQUEST,
            &format!(
                "the provider answered {e}: {}",
                q.get("error_description").map_or("", |d| d)
            ),
        );
    }
    let Some((verifier, nonce)) = q
        .get("state")
        .and_then(|st| s.pending.lock().unwrap().remove(st))
    else {
        return fail(StatusCode::BAD_REQUEST, "unknown or missing state");
    };
    if q.get("iss").is_some_and(|iss| *iss != s.issuer) {
        return fail(
            StatusCode::BAD_REQUEST,
            "iss does not name our provider (RFC 9207)",
        );
    }
    let Some(code) = q.get("code") else {
        return fail(StatusCode::BAD_REQUEST, "no code");
    };
    let request = match s.oidc.exchange_code(AuthorizationCode::new(code.clone())) {
        Ok(r) => r,
        Err(e) => {
            return fail(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("client configuration: {e}"),
            )
        }
    };
    let tokens = match request
        .set_pkce_verifier(verifier)
        .request_async(&s.http)
        .await
    {
        Ok(t) => t,
        Err(e) => {
            return fail(
                StatusCode::BAD_GATEWAY,
                &format!("token exchange failed: {e:?}"),
            )
        }
    };
    let Some(id_token) = tokens.id_token() else {
        return fail(StatusCode::BAD_GATEWAY, "no ID token");
    };
    let idv = s.oidc.id_token_verifier().set_allowed_algs(vec![
        CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    ]);
    let claims = match id_token.claims(&idv, &nonce) {
        Ok(c) => c,
        Err(e) => {
            return fail(
                StatusCode::BAD_GATEWAY,
                &format!("the ID token does not validate: {e}"),
            )
        }
    };
    if let Some(expected) = claims.access_token_hash() {
        let (Ok(alg), Ok(key)) = (id_token.signing_alg(), id_token.signing_key(&idv)) else {
            return fail(StatusCode::BAD_GATEWAY, "no signing key for at_hash");
        };
        match AccessTokenHash::from_token(tokens.access_token(), alg, key) {
            Ok(actual) if actual == *expected => {}
            _ => {
                return fail(
                    StatusCode::BAD_GATEWAY,
                    "at_hash does not match the access token",
                )
            }
        }
    }
    let raw = id_token.to_string();
    // The signature and claims were validated above; `sid` is not among the crate's standard claims.
    let sid = crate::helpers::claims(&raw)["sid"]
        .as_str()
        .map(str::to_owned);
    let session = PortalSession {
        sub: claims.subject().to_string(),
        sid,
        id_token: raw,
    };
    let key = tongban::crypto::random_token();
    s.sessions.lock().unwrap().insert(key.clone(), session);
    let cookie = format!("{}={key}; Path=/; HttpOnly; SameSite=Lax", s.cookie);
    ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
}

async fn logged_out(
    State(s): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let cookie = format!("{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0", s.cookie);
    let st = q.get("state").map(String::as_str).unwrap_or("");
    let body = format!(
        "<p id=\"bye\">Signed out</p><p id=\"logout-state\">{}</p>",
        esc(st)
    );
    ([(header::SET_COOKIE, cookie)], page("Signed out", &body)).into_response()
}

async fn backchannel_logout(
    State(s): State<Arc<Shared>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let outcome = match form.get("logout_token") {
        Some(token) => validate_logout_token(&s, token)
            .await
            .map(|(sub, sid, jti)| {
                let mut sessions = s.sessions.lock().unwrap();
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
                LogoutEvent {
                    ended: before - sessions.len(),
                    sub,
                    sid,
                    jti,
                }
            }),
        None => Err("no logout_token".into()),
    };
    let response = match &outcome {
        Ok(_) => (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")], "").into_response(),
        Err(reason) => (
            StatusCode::BAD_REQUEST,
            [(header::CACHE_CONTROL, "no-store")],
            axum::Json(
                serde_json::json!({ "error": "invalid_request", "error_description": reason }),
            ),
        )
            .into_response(),
    };
    let _ = s.logouts.send(outcome);
    response
}

/// OpenID Connect Back-Channel Logout 1.0 §2.6: signature by the provider's key, iss, aud, iat (and exp
/// if present), the back-channel event, sid and/or sub, no nonce; plus explicit typing and jti replay.
/// Returns (sub, sid, jti).
async fn validate_logout_token(
    s: &Shared,
    token: &str,
) -> Result<(Option<String>, Option<String>, String), String> {
    let header = josekit::jwt::decode_header(token).map_err(|e| format!("not a JWT: {e}"))?;
    let alg = header
        .claim("alg")
        .and_then(|v| v.as_str())
        .ok_or("no alg")?
        .to_owned();
    let kid = header
        .claim("kid")
        .and_then(|v| v.as_str())
        .ok_or("no kid")?
        .to_owned();
    if header.claim("typ").and_then(|v| v.as_str()) != Some("logout+jwt") {
        return Err(format!("typ is {:?}, not logout+jwt", header.claim("typ")));
    }
    let jwks = s
        .http
        .get(format!("{}/jwks", s.issuer))
        .send()
        .await
        .map_err(|e| format!("fetching the JWKS: {e}"))?
        .bytes()
        .await
        .map_err(|e| format!("reading the JWKS: {e}"))?;
    let set = josekit::jwk::JwkSet::from_bytes(&jwks)
        .map_err(|e| format!("the JWKS does not parse: {e}"))?;
    let jwk = *set
        .get(&kid)
        .first()
        .ok_or_else(|| format!("no key {kid} in the provider's JWKS"))?;
    let verifier: Box<dyn josekit::jws::JwsVerifier> = match alg.as_str() {
        "ES256" => Box::new(
            josekit::jws::ES256
                .verifier_from_jwk(jwk)
                .map_err(|e| e.to_string())?,
        ),
        "RS256" => Box::new(
            josekit::jws::RS256
                .verifier_from_jwk(jwk)
                .map_err(|e| e.to_string())?,
        ),
        other => return Err(format!("alg {other} is not accepted")),
    };
    let (payload, _) = josekit::jwt::decode_with_verifier(token, &*verifier)
        .map_err(|e| format!("signature: {e}"))?;
    if payload.issuer() != Some(s.issuer.as_str()) {
        return Err(format!("iss {:?}", payload.issuer()));
    }
    if !payload
        .audience()
        .is_some_and(|a| a.contains(&s.client_id.as_str()))
    {
        return Err(format!(
            "aud {:?} does not contain {}",
            payload.audience(),
            s.client_id
        ));
    }
    let now = SystemTime::now();
    let iat = payload.issued_at().ok_or("no iat")?;
    if iat > now + Duration::from_secs(60) {
        return Err("iat is in the future".into());
    }
    if payload.expires_at().is_some_and(|exp| exp <= now) {
        return Err("expired".into());
    }
    if !payload
        .claim("events")
        .and_then(|e| e.as_object())
        .is_some_and(|e| e.get(BACKCHANNEL_EVENT).is_some_and(|v| v.is_object()))
    {
        return Err(format!(
            "events {:?} lacks the back-channel logout event",
            payload.claim("events")
        ));
    }
    if payload.claim("nonce").is_some() {
        return Err("a logout token must not contain a nonce".into());
    }
    let sub = payload.subject().map(str::to_owned);
    let sid = payload
        .claim("sid")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    if sub.is_none() && sid.is_none() {
        return Err("neither sub nor sid".into());
    }
    let jti = payload.jwt_id().ok_or("no jti")?.to_owned();
    if !s.seen_jtis.lock().unwrap().insert(jti.clone()) {
        return Err(format!("jti {jti} replayed"));
    }
    Ok((sub, sid, jti))
}
