//! Server-rendered pages (login, registration, enterprise choice, consent, account, logout): minijinja
//! templates compiled into the binary, zh-CN and English catalogues, CSRF tokens bound to the session
//! (or, before login, to the pre-login cookie), and the cookie conventions of DESIGN.md (HttpOnly,
//! SameSite=Lax, Secure outside plain-HTTP development, and then `__Host-` names).

pub mod access_log;
pub mod account;
pub mod factors;
pub mod flow;
pub mod licences;
pub mod login;
pub mod passkeys;
pub mod recovery;
pub mod templates;

pub use templates::{Pages, STYLESHEET};

use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{json, Value};

use super::extract::cookie;
use crate::crypto::{constant_time_eq, random_token};
use crate::http::AppState;

pub const CSRF_COOKIE: &str = "tongban_csrf";
pub const LANG_COOKIE: &str = "tongban_lang";
/// The names of the session and CSRF cookies when the issuer is https. A `__Host-` cookie is only
/// accepted by a browser from a secure origin, with `Secure`, `Path=/` and no `Domain`: a sibling
/// subdomain or a plain-HTTP response cannot plant or overwrite it. Over plain HTTP (development)
/// browsers refuse such cookies, so the plain names are used there.
const HOST_SESSION_COOKIE: &str = "__Host-tongban_session";
const HOST_CSRF_COOKIE: &str = "__Host-tongban_csrf";
const HOST_CHALLENGE_COOKIE: &str = "__Host-tongban_factor";
const HOST_DEVICE_COOKIE: &str = "__Host-tongban_device";

fn https(state: &AppState) -> bool {
    state.issuer.starts_with("https://")
}

/// The session cookie's name for this deployment (see [`HOST_SESSION_COOKIE`]).
pub fn session_cookie(state: &AppState) -> &'static str {
    if https(state) {
        HOST_SESSION_COOKIE
    } else {
        crate::identity::sessions::COOKIE
    }
}

/// The name of the cookie that names this browser to the accounts signed in from it.
pub fn device_cookie(state: &AppState) -> &'static str {
    if https(state) {
        HOST_DEVICE_COOKIE
    } else {
        crate::identity::sessions::DEVICE_COOKIE
    }
}

/// The name of the cookie that holds a checked password's second-factor challenge.
pub fn challenge_cookie(state: &AppState) -> &'static str {
    if https(state) {
        HOST_CHALLENGE_COOKIE
    } else {
        crate::identity::sessions::CHALLENGE_COOKIE
    }
}

/// The CSRF cookie's name for this deployment.
pub fn csrf_cookie(state: &AppState) -> &'static str {
    if https(state) {
        HOST_CSRF_COOKIE
    } else {
        CSRF_COOKIE
    }
}

/// Pick the page language: `?lang=`, then the request's `ui_locales`, then the language cookie, then
/// Accept-Language; Chinese by default.
fn choose_lang(headers: &HeaderMap, uri: &Uri, ui_locales: Option<&str>) -> (&'static str, bool) {
    let norm = |s: &str| -> Option<&'static str> {
        let s = s.trim().to_ascii_lowercase();
        if s.starts_with("zh") {
            Some("zh-CN")
        } else if s.starts_with("en") {
            Some("en")
        } else {
            None
        }
    };
    let query_lang = uri.query().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "lang")
            .and_then(|(_, v)| norm(&v))
    });
    if let Some(l) = query_lang {
        return (l, true);
    }
    if let Some(l) = ui_locales.and_then(|u| u.split(' ').find_map(norm)) {
        return (l, false);
    }
    if let Some(l) = cookie(headers, LANG_COOKIE).and_then(|c| norm(&c)) {
        return (l, false);
    }
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    (
        accept
            .split(',')
            .find_map(|part| norm(part.split(';').next().unwrap_or("")))
            .unwrap_or("zh-CN"),
        false,
    )
}

pub fn cookie_header(
    state: &AppState,
    name: &str,
    value: &str,
    max_age: Option<i64>,
) -> HeaderValue {
    let secure = if https(state) { "; Secure" } else { "" };
    let age = max_age
        .map(|a| format!("; Max-Age={a}"))
        .unwrap_or_default();
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax{secure}{age}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

/// A cookie under both of its possible names; which one counts depends on the issuer's scheme,
/// known only once the state is at hand.
struct Named {
    plain: Option<String>,
    host: Option<String>,
}

impl Named {
    fn read(headers: &HeaderMap, plain: &str, host: &str) -> Self {
        Self {
            plain: cookie(headers, plain),
            host: cookie(headers, host),
        }
    }

    fn get(&self, state: &AppState) -> Option<&str> {
        if https(state) {
            &self.host
        } else {
            &self.plain
        }
        .as_deref()
    }
}

/// The per-request page context: language, CSRF cookie and the session cookie the CSRF token is
/// bound to.
pub struct Ui {
    pub lang: &'static str,
    set_lang: bool,
    csrf: Named,
    session: Named,
    /// The CSRF cookie to set if the request brought none.
    fresh_csrf: String,
    uri: Uri,
}

impl Ui {
    pub fn new(headers: &HeaderMap, uri: &Uri, ui_locales: Option<&str>) -> Self {
        let (lang, set_lang) = choose_lang(headers, uri, ui_locales);
        Self {
            lang,
            set_lang,
            csrf: Named::read(headers, CSRF_COOKIE, HOST_CSRF_COOKIE),
            session: Named::read(
                headers,
                crate::identity::sessions::COOKIE,
                HOST_SESSION_COOKIE,
            ),
            fresh_csrf: random_token(),
            uri: uri.clone(),
        }
    }

    /// The request's CSRF cookie, if it has a well-formed one.
    fn existing_csrf(&self, state: &AppState) -> Option<&str> {
        self.csrf.get(state).filter(|c| c.len() == 43)
    }

    /// The CSRF token of this browser's forms: the HMAC of the CSRF cookie and the session cookie
    /// (empty before login). A cookie pair planted by someone else (a sibling subdomain, a
    /// plain-HTTP response) carries a token for their session, which does not verify with the
    /// victim's; and a session's token is of no use once it has ended.
    fn csrf_token(&self, state: &AppState) -> String {
        let csrf = self.existing_csrf(state).unwrap_or(&self.fresh_csrf);
        let session = self.session.get(state).unwrap_or("");
        state
            .provider
            .keys
            .data()
            .csrf_token(&format!("v2.{csrf}.{session}"))
    }

    fn other_lang_url(&self) -> String {
        let other = if self.lang == "en" { "zh-CN" } else { "en" };
        let mut q: Vec<(String, String)> = self
            .uri
            .query()
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .filter(|(k, _)| k != "lang")
                    .collect()
            })
            .unwrap_or_default();
        q.push(("lang".into(), other.into()));
        let qs = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(q)
            .finish();
        format!("{}?{qs}", self.uri.path())
    }

    pub fn render(
        &self,
        state: &AppState,
        template: &str,
        status: StatusCode,
        mut ctx: Value,
    ) -> Response {
        let t = state
            .pages
            .catalogs
            .get(self.lang)
            .cloned()
            .unwrap_or(Value::Null);
        if let Value::Object(m) = &mut ctx {
            m.insert("lang".into(), json!(self.lang));
            m.insert("t".into(), t);
            m.insert("csrf".into(), json!(self.csrf_token(state)));
            m.insert(
                "other_lang".into(),
                json!(if self.lang == "en" { "zh-CN" } else { "en" }),
            );
            m.insert("other_lang_url".into(), json!(self.other_lang_url()));
        }
        let html = match state
            .pages
            .env
            .get_template(template)
            .and_then(|t| t.render(&ctx))
        {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, template, "template rendering failed");
                return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
            }
        };
        let mut resp = (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response();
        self.add_cookies(state, &mut resp);
        resp
    }

    pub fn add_cookies(&self, state: &AppState, resp: &mut Response) {
        if self.existing_csrf(state).is_none() {
            resp.headers_mut().append(
                header::SET_COOKIE,
                cookie_header(state, csrf_cookie(state), &self.fresh_csrf, None),
            );
        }
        if self.set_lang {
            resp.headers_mut().append(
                header::SET_COOKIE,
                cookie_header(state, LANG_COOKIE, self.lang, Some(365 * 86_400)),
            );
        }
    }

    pub fn error(
        &self,
        state: &AppState,
        status: StatusCode,
        key: &str,
        description: &str,
    ) -> Response {
        self.render(
            state,
            "error.html",
            status,
            json!({ "error": key, "description": description, "status": status.as_u16() }),
        )
    }

    /// The error page for a failure that is the server's (a 500), without detail.
    pub fn server_error(&self, state: &AppState) -> Response {
        self.error(state, StatusCode::INTERNAL_SERVER_ERROR, "server_error", "")
    }

    /// A form post is genuine when its `csrf` field is the token of the CSRF and session cookies
    /// sent with it ([`Ui::csrf_token`]).
    pub fn csrf_ok(&self, state: &AppState, presented: Option<&str>) -> bool {
        self.existing_csrf(state).is_some()
            && presented
                .is_some_and(|p| constant_time_eq(p.as_bytes(), self.csrf_token(state).as_bytes()))
    }

    pub fn csrf_failed(&self, state: &AppState) -> Response {
        self.error(state, StatusCode::FORBIDDEN, "csrf_failed", "")
    }
}

pub fn redirect(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// Pages that show a secret (a TOTP key, recovery codes, a share link) are never cached.
pub fn no_store(mut resp: Response) -> Response {
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    resp
}

pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

/// Format a Unix time as `YYYY-MM-DD HH:MM UTC` for pages.
pub fn format_time(t: i64) -> String {
    let (y, m, d, h, mi, _) = crate::domain::time::civil(t);
    format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02} UTC")
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_times() {
        assert_eq!(super::format_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::format_time(1_795_046_400), "2026-11-19 00:00 UTC");
    }
}
