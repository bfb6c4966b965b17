//! Our own extractors, whose rejections are our error types: OAuth parameters from the query string or
//! a form body (strict: form content type, valid UTF-8, no repeated parameters), client credentials from
//! the Authorization header and the body, bearer tokens, cookies and the client address.

use std::net::IpAddr;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts, Method};
use ipnet::IpNet;
use percent_encoding::percent_decode;

use crate::http::AppState;
use crate::oidc::clients::Credentials;
use crate::oidc::error::OAuthError;
use crate::oidc::params::Params;

/// Decode `application/x-www-form-urlencoded`, refusing invalid UTF-8 instead of replacing it.
pub fn parse_form_strict(body: &[u8]) -> Result<Params, OAuthError> {
    let bad = || OAuthError::invalid_request("the request is not valid UTF-8 form data");
    let mut out = Vec::new();
    for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let mut it = pair.splitn(2, |b| *b == b'=');
        let (k, v) = (it.next().unwrap_or_default(), it.next().unwrap_or_default());
        let decode = |s: &[u8]| -> Result<String, OAuthError> {
            let plus: Vec<u8> = s
                .iter()
                .map(|b| if *b == b'+' { b' ' } else { *b })
                .collect();
            String::from_utf8(percent_decode(&plus).collect()).map_err(|_| bad())
        };
        out.push((decode(k)?, decode(v)?));
    }
    Ok(Params(out))
}

/// OAuth parameters: the query string for GET, the form body for POST.
pub struct OAuthParams(pub Params);

impl<S: Send + Sync> FromRequest<S> for OAuthParams {
    type Rejection = OAuthError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if req.method() == Method::GET {
            return parse_form_strict(req.uri().query().unwrap_or("").as_bytes()).map(Self);
        }
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        {
            return Err(OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        let body = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| {
                OAuthError::invalid_request("the request body is too large or unreadable")
            })?;
        parse_form_strict(&body).map(Self)
    }
}

/// The client credentials a token, introspection or revocation request presents.
pub fn credentials(parts: &axum::http::HeaderMap, p: &Params) -> Result<Credentials, OAuthError> {
    let basic = match parts
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        Some(h) if h.len() > 6 && h[..6].eq_ignore_ascii_case("basic ") => {
            let raw = base64::Engine::decode(
                &base64::engine::general_purpose::STANDARD,
                h[6..].trim(),
            )
            .map_err(|_| OAuthError::invalid_client("the Basic credentials are not base64"))?;
            let raw = String::from_utf8(raw)
                .map_err(|_| OAuthError::invalid_client("the Basic credentials are not UTF-8"))?;
            let (id, secret) = raw
                .split_once(':')
                .ok_or_else(|| OAuthError::invalid_client("the Basic credentials lack a colon"))?;
            // RFC 6749 §2.3.1: both parts are form-urlencoded.
            let dec = |s: &str| {
                percent_decode(s.replace('+', " ").as_bytes())
                    .decode_utf8()
                    .map(|c| c.into_owned())
            };
            Some((
                dec(id).map_err(|_| OAuthError::invalid_client("bad client id"))?,
                dec(secret).map_err(|_| OAuthError::invalid_client("bad secret"))?,
            ))
        }
        _ => None,
    };
    Ok(Credentials {
        basic,
        client_id: p.owned("client_id")?,
        client_secret: p.owned("client_secret")?,
        assertion_type: p.owned("client_assertion_type")?,
        assertion: p.owned("client_assertion")?,
    })
}

/// The bearer token of a userinfo request: the Authorization header, or `access_token` in a form body.
pub fn bearer(headers: &axum::http::HeaderMap, p: &Params) -> Result<String, OAuthError> {
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let form = p.one("access_token")?;
    match (header, form) {
        (Some(h), None) if h.len() > 7 && h[..7].eq_ignore_ascii_case("bearer ") => {
            Ok(h[7..].trim().to_owned())
        }
        (None, Some(t)) => Ok(t.to_owned()),
        (Some(_), Some(_)) => Err(OAuthError::invalid_request("send the token once")),
        _ => Err(OAuthError::new(
            crate::oidc::error::ErrorCode::InvalidToken,
            "no bearer token",
        )),
    }
}

/// A cookie's value from the request headers.
pub fn cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The client's address, for login throttling, the public verification's rate limit and audit
/// events: the TCP peer, or, when the peer is one of `trusted_proxies`, the right-most address in
/// `X-Forwarded-For` that is not a trusted proxy (the left part of that header is whatever the client
/// chose to send). Falls back to "unknown" when served without connect info (never in production,
/// where `startup` always provides it).
pub struct ClientAddr(pub String);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(peer) = parts
            .extensions
            .get::<ConnectInfo<super::tls::Peer>>()
            .map(|c| c.0 .0.ip())
        else {
            return Ok(Self("unknown".into()));
        };
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok());
        Ok(Self(
            client_ip(peer, forwarded, &state.trusted_proxies).to_string(),
        ))
    }
}

/// See [`ClientAddr`]. `forwarded` are the `X-Forwarded-For` header lines in order.
pub fn client_ip<'a>(
    peer: IpAddr,
    forwarded: impl Iterator<Item = &'a str>,
    trusted: &[IpNet],
) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded
        .flat_map(|l| l.split(','))
        .map(str::trim)
        .collect();
    let mut nearest = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if is_trusted(&ip) => nearest = ip,
            Ok(ip) => return ip,
            // Garbage only a client writes: the hop that appended after it is the client's side.
            Err(_) => return nearest,
        }
    }
    nearest
}

#[cfg(test)]
mod client_ip_tests {
    use super::*;
    use crate::config::parse_trusted_proxies;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_peer_counts_unless_it_is_a_trusted_proxy() {
        let trusted = parse_trusted_proxies("10.0.0.0/8, 127.0.0.1").unwrap();
        // An untrusted peer's header is ignored: anyone can send one.
        assert_eq!(
            client_ip(ip("203.0.113.9"), ["1.2.3.4"].into_iter(), &trusted),
            ip("203.0.113.9")
        );
        // Behind one proxy: the address it appended.
        assert_eq!(
            client_ip(ip("10.0.0.2"), ["198.51.100.7"].into_iter(), &trusted),
            ip("198.51.100.7")
        );
        // A spoofed left part and two proxies: the right-most untrusted hop.
        assert_eq!(
            client_ip(
                ip("10.0.0.2"),
                ["6.6.6.6, 198.51.100.7", "10.1.1.1"].into_iter(),
                &trusted
            ),
            ip("198.51.100.7")
        );
        // Garbage from the client: the nearest trusted hop, not the garbage.
        assert_eq!(
            client_ip(
                ip("127.0.0.1"),
                ["nonsense, 10.3.3.3"].into_iter(),
                &trusted
            ),
            ip("10.3.3.3")
        );
        // No header: the proxy itself.
        assert_eq!(
            client_ip(ip("10.0.0.2"), [].into_iter(), &trusted),
            ip("10.0.0.2")
        );
        // Nothing trusted (the default): always the peer.
        assert_eq!(
            client_ip(ip("10.0.0.2"), ["198.51.100.7"].into_iter(), &[]),
            ip("10.0.0.2")
        );
        assert!(parse_trusted_proxies("10.0.0.0/33").is_err());
        assert!(parse_trusted_proxies("").unwrap().is_empty());
        assert_eq!(parse_trusted_proxies("::1 fd00::/8").unwrap().len(), 2);
    }
}
