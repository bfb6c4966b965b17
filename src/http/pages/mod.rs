//! Server-rendered pages (login, registration, enterprise choice, consent, account, logout): minijinja
//! templates compiled into the binary, zh-CN and English catalogues, signed double-submit CSRF tokens,
//! and the cookie conventions of DESIGN.md (HttpOnly, SameSite=Lax, Secure outside plain-HTTP development).

pub mod access_log;
pub mod account;
pub mod flow;
pub mod licences;
pub mod login;

use std::collections::HashMap;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{json, Value};

use super::extract::cookie;
use crate::crypto::{constant_time_eq, random_token};
use crate::state::AppState;

const TEMPLATES: [(&str, &str); 16] = [
    ("base.html", include_str!("../../../templates/base.html")),
    (
        "_macros.html",
        include_str!("../../../templates/_macros.html"),
    ),
    ("login.html", include_str!("../../../templates/login.html")),
    (
        "register.html",
        include_str!("../../../templates/register.html"),
    ),
    (
        "select.html",
        include_str!("../../../templates/select.html"),
    ),
    (
        "consent.html",
        include_str!("../../../templates/consent.html"),
    ),
    (
        "account.html",
        include_str!("../../../templates/account.html"),
    ),
    (
        "logout.html",
        include_str!("../../../templates/logout.html"),
    ),
    (
        "logged_out.html",
        include_str!("../../../templates/logged_out.html"),
    ),
    ("error.html", include_str!("../../../templates/error.html")),
    (
        "licences.html",
        include_str!("../../../templates/licences.html"),
    ),
    (
        "licence.html",
        include_str!("../../../templates/licence.html"),
    ),
    (
        "licence_check.html",
        include_str!("../../../templates/licence_check.html"),
    ),
    ("share.html", include_str!("../../../templates/share.html")),
    (
        "access_log.html",
        include_str!("../../../templates/access_log.html"),
    ),
    (
        "supervision.html",
        include_str!("../../../templates/supervision.html"),
    ),
];
pub const STYLESHEET: &str = include_str!("../../../templates/static/tongban.css");

pub const CSRF_COOKIE: &str = "tongban_csrf";
pub const LANG_COOKIE: &str = "tongban_lang";

pub struct Pages {
    env: minijinja::Environment<'static>,
    catalogs: HashMap<&'static str, Value>,
}

impl Pages {
    pub fn load() -> anyhow::Result<Self> {
        let mut env = minijinja::Environment::new();
        for (name, src) in TEMPLATES {
            env.add_template(name, src)?;
        }
        let mut catalogs = HashMap::new();
        catalogs.insert(
            "en",
            serde_json::from_str(include_str!("../../../templates/i18n/en.json"))?,
        );
        catalogs.insert(
            "zh-CN",
            serde_json::from_str(include_str!("../../../templates/i18n/zh-CN.json"))?,
        );
        Ok(Self { env, catalogs })
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
    let secure = if state.issuer.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let age = max_age
        .map(|a| format!("; Max-Age={a}"))
        .unwrap_or_default();
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax{secure}{age}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

/// The per-request page context: language and CSRF cookie.
pub struct Ui {
    pub lang: &'static str,
    set_lang: bool,
    csrf_cookie: String,
    new_csrf: bool,
    uri: Uri,
}

impl Ui {
    pub fn new(headers: &HeaderMap, uri: &Uri, ui_locales: Option<&str>) -> Self {
        let (lang, set_lang) = choose_lang(headers, uri, ui_locales);
        let existing = cookie(headers, CSRF_COOKIE).filter(|c| c.len() == 43);
        Self {
            lang,
            set_lang,
            new_csrf: existing.is_none(),
            csrf_cookie: existing.unwrap_or_else(random_token),
            uri: uri.clone(),
        }
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
            m.insert(
                "csrf".into(),
                json!(state.keys.data().csrf_token(&self.csrf_cookie)),
            );
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
        if self.new_csrf {
            resp.headers_mut().append(
                header::SET_COOKIE,
                cookie_header(state, CSRF_COOKIE, &self.csrf_cookie, None),
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

    /// A form post is genuine when its `csrf` field is the HMAC of the CSRF cookie sent with it.
    pub fn csrf_ok(&self, state: &AppState, presented: Option<&str>) -> bool {
        !self.new_csrf
            && presented.is_some_and(|p| {
                constant_time_eq(
                    p.as_bytes(),
                    state.keys.data().csrf_token(&self.csrf_cookie).as_bytes(),
                )
            })
    }

    pub fn csrf_failed(&self, state: &AppState) -> Response {
        self.error(state, StatusCode::FORBIDDEN, "csrf_failed", "")
    }
}

pub fn redirect(to: &str) -> Response {
    Redirect::to(to).into_response()
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
