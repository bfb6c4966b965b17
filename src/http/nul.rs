//! Text with a NUL character is refused at the edge, for every route and every parameter: PostgreSQL
//! cannot store it in `text` (SQLite can), so a NUL that reached a query was a 500 on one backend
//! and a 4xx on the other. [`super::stamp`] calls [`in_uri`] on every request (the path and the
//! query, percent-encoded: `%00`) and, for a form or JSON body only, reads the body and calls
//! [`in_form`] / [`in_json`] before the handler runs; other bodies are never read here. The refusal
//! is a 400 in the route's own format ([`refusal`]).
//!
//! Headers need no check: the `http` crate (and hyper's parser before it) refuses a header value
//! with a NUL or any other control character but tab, so cookies and `Authorization` cannot carry
//! one. Invalid UTF-8 is refused by the extractors already (`ApiPath`, `parse_form_strict`,
//! serde_json), and query strings are decoded lossily elsewhere, so NUL is the one character that
//! got through.

use axum::extract::Request;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::http::AppState;
use crate::oidc::discovery::paths;
use crate::oidc::error::OAuthError;

const DETAIL: &str = "the request holds a NUL character, which no parameter may contain";

/// A body this module reads before the handler does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    Form,
    Json,
}

/// The kind of body to screen, by its content type; `None` for every other body (not read here).
pub fn body_kind(headers: &HeaderMap) -> Option<Body> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = ct.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        Some(Body::Form)
    } else if essence.eq_ignore_ascii_case("application/json")
        || essence
            .get(essence.len().saturating_sub(5)..)
            .is_some_and(|s| s.eq_ignore_ascii_case("+json"))
    {
        Some(Body::Json)
    } else {
        None
    }
}

/// Does the path or the query hold a NUL, percent-encoded (`%00`; a raw NUL is not a valid URI)?
pub fn in_uri(uri: &Uri) -> bool {
    let encoded = |s: &str| s.as_bytes().windows(3).any(|w| w == b"%00");
    encoded(uri.path()) || uri.query().is_some_and(encoded)
}

/// Does a form body hold a NUL (`%00`, or a raw NUL byte)?
pub fn in_form(body: &[u8]) -> bool {
    body.contains(&0) || body.windows(3).any(|w| w == b"%00")
}

/// Does a JSON body hold a NUL: a raw NUL byte, or a `\u0000` escape (`\\u0000` is an escaped
/// backslash followed by the text `u0000`, not a NUL)? A `\u0000` outside a string is no valid
/// JSON either, so escapes are read wherever they are, without tracking strings.
pub fn in_json(body: &[u8]) -> bool {
    if body.contains(&0) {
        return true;
    }
    let mut i = 0;
    while let Some(at) = body[i..].iter().position(|b| *b == b'\\') {
        let esc = i + at + 1;
        match body.get(esc) {
            Some(b'u') if body.get(esc + 1..esc + 5) == Some(b"0000") => return true,
            // Any other escape, `\\` included: skip the escaped character.
            Some(_) => i = esc + 1,
            None => return false,
        }
    }
    false
}

/// The 400 for a NUL, in the route's format: an RFC 6749 `invalid_request` at the OAuth endpoints
/// that answer JSON, an HTML error page for the pages (`/authorize` included: before its redirect
/// URI is checked, errors are shown, never redirected), and RFC 9457 problem details for the rest
/// (`/api/`, the status lists, the root certificate, discovery and health).
pub fn refusal(state: &AppState, uri: &Uri, headers: &HeaderMap) -> Response {
    refuse(state, uri, headers, StatusCode::BAD_REQUEST, DETAIL)
}

/// The answer when a screened body could not be read (over `max_body_bytes`, or cut off).
pub fn unreadable(state: &AppState, uri: &Uri, headers: &HeaderMap) -> Response {
    refuse(
        state,
        uri,
        headers,
        StatusCode::PAYLOAD_TOO_LARGE,
        "the request body is too large or unreadable",
    )
}

fn refuse(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
    status: StatusCode,
    detail: &'static str,
) -> Response {
    let path = uri.path();
    if [
        paths::TOKEN,
        paths::INTROSPECT,
        paths::REVOKE,
        paths::USERINFO,
    ]
    .contains(&path)
    {
        return OAuthError::invalid_request(detail).into_response();
    }
    let machine = path.starts_with("/api/")
        || path.starts_with("/status-lists/")
        || path.starts_with("/pki/")
        || path.starts_with("/licence-types/")
        || path.starts_with("/.well-known/")
        || [
            paths::JWKS,
            "/openapi.yaml",
            "/healthz",
            "/readyz",
            "/metrics",
        ]
        .contains(&path);
    if machine {
        return if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(status, "too-large", "The body is too large", detail)
        } else {
            ApiError::bad_request("bad-request", detail)
        }
        .into_response();
    }
    // A page: the query may be what held the NUL, so the language comes from the headers only.
    let plain = Uri::from_static("/");
    super::pages::Ui::new(headers, &plain, None).error(state, status, "invalid_request", detail)
}

/// Reads a screened body (at most `limit` bytes) and gives the request back with it, or the
/// refusal to send instead.
pub async fn screen_body(
    state: &AppState,
    req: Request,
    kind: Body,
    limit: usize,
) -> Result<Request, Response> {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return Err(unreadable(state, &parts.uri, &parts.headers));
    };
    let nul = match kind {
        Body::Form => in_form(&bytes),
        Body::Json => in_json(&bytes),
    };
    if nul {
        return Err(refusal(state, &parts.uri, &parts.headers));
    }
    Ok(Request::from_parts(parts, axum::body::Body::from(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes_are_lexed() {
        assert!(in_json(br#"{"a":"x\u0000y"}"#));
        assert!(in_json(br#"{"a\u0000":1}"#));
        assert!(in_json(b"{\"a\":\"x\0\"}"));
        assert!(
            in_json(br#"{"a":"\\\u0000"}"#),
            "an escaped backslash, then a NUL"
        );
        assert!(
            !in_json(br#"{"a":"\\u0000"}"#),
            "an escaped backslash, then text"
        );
        assert!(!in_json(br#"{"a":"\\\\u0000"}"#));
        assert!(in_json(br#"{"a":"\u00001"}"#));
        assert!(!in_json(br#"{"a":"\u0001 \n \" \u1000"}"#));
        assert!(!in_json(br#"{"a":"ends in a backslash\"#));
    }

    #[test]
    fn forms_and_uris() {
        assert!(in_form(b"a=1&b=x%00y"));
        assert!(in_form(b"a=\0"));
        assert!(!in_form(b"a=%2500&b=%0A"));
        assert!(in_uri(&Uri::from_static("/shares/a%00b")));
        assert!(in_uri(&Uri::from_static("/authorize?client_id=%00")));
        assert!(!in_uri(&Uri::from_static("/authorize?client_id=%2500")));
    }
}
