//! The one middleware every response passes through ([`Stamp`]): the request id, the request's
//! tracing span, the `/metrics` request counters, the security headers, the refusal of text with a
//! NUL ([`super::nul`]), and the handler run as a task of its own, which a client that goes away
//! cannot cancel.
//!
//! Hand-written as a single tower layer: it replaced nine (tower-http's `SetRequestId`,
//! `PropagateRequestId`, `Trace` and five `SetResponseHeader`, and an axum `from_fn`), each with
//! its own service, future and poll on every request; this one does the same work in one future.
//! On the public verification endpoint, the node's hottest path, an experiment without the layers
//! gave +5-13%; this layer together with the memo of decoded licences gave +14.5% (ARCHITECTURE
//! §8). tower-http has no layer that combines them.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};
use tracing::Instrument;

use super::nul;
use crate::http::AppState;

const X_REQUEST_ID: &str = "x-request-id";

/// Scripts and fetches only from this origin: the one script is the passkey bridge.
const CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self' http: https:; frame-ancestors 'none'; base-uri 'none'";

/// Set on every response that does not set them itself.
const SECURITY_HEADERS: [(HeaderName, &str); 5] = [
    (header::CONTENT_SECURITY_POLICY, CSP),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::CACHE_CONTROL, "no-store"),
];

/// Strict-Transport-Security when the issuer is https: two years, subdomains too (a sibling served
/// over plain HTTP could otherwise plant cookies for the parent domain).
const HSTS: &str = "max-age=63072000; includeSubDomains";

/// Wraps every route of [`super::app`] in a [`Stamp`].
#[derive(Clone)]
pub struct StampLayer(pub AppState);

impl<S> Layer<S> for StampLayer {
    type Service = Stamp<S>;
    fn layer(&self, inner: S) -> Stamp<S> {
        Stamp {
            inner,
            state: self.0.clone(),
        }
    }
}

/// See the module documentation.
#[derive(Clone)]
pub struct Stamp<S> {
    inner: S,
    state: AppState,
}

impl<S> Service<Request> for Stamp<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let start = Instant::now();
        // A request id the caller (or a proxy in front) sent is kept; otherwise one is made.
        let id = match req.headers().get(X_REQUEST_ID) {
            Some(id) => id.clone(),
            None => {
                let id = fresh_request_id();
                req.headers_mut()
                    .insert(HeaderName::from_static(X_REQUEST_ID), id.clone());
                id
            }
        };
        let method = method_label(req.method());
        // The template, never the path asked for: paths carry licence ids and share tokens.
        let route = req
            .extensions()
            .get::<MatchedPath>()
            .map_or_else(|| "unmatched".to_owned(), |p| route_label(p.as_str()));
        // The route template, never the path or the query: paths carry share tokens and licence
        // ids, query strings codes, tokens and personal data. An unmatched path is "unmatched".
        let span = tracing::info_span!(
            "request",
            method = %req.method(),
            route = %route,
            request_id = %id.to_str().unwrap_or(""),
        );
        let state = self.state.clone();
        // The handler runs as a task of its own, to completion, even when the client goes away:
        // hyper drops a request's future when its connection closes, and a future dropped inside
        // sqlx's `begin` left the connection in a transaction nobody would end (SQLite: the one
        // connection, so every later write failed with "begin_with at non-zero transaction
        // depth" until restart; seen when a load generator closed its connections mid-issuance).
        // A write is then never cut between two statements by a client either.
        // Text with a NUL is refused here, for every route (`nul`): in the path or the query at
        // once, in a form or JSON body once it is read; no other body is read here.
        let handler = if nul::in_uri(req.uri()) {
            let refusal = nul::refusal(&state, req.uri(), req.headers());
            tokio::spawn(async move { Ok(refusal) })
        } else if let Some(kind) = nul::body_kind(req.headers()) {
            let ready = self.inner.clone();
            let mut inner = std::mem::replace(&mut self.inner, ready);
            let state = state.clone();
            let limit = state.config.max_body_bytes;
            tokio::spawn(
                async move {
                    match nul::screen_body(&state, req, kind, limit).await {
                        Ok(req) => inner.call(req).await,
                        Err(refusal) => Ok(refusal),
                    }
                }
                .instrument(span.clone()),
            )
        } else {
            tokio::spawn(self.inner.call(req).instrument(span.clone()))
        };
        Box::pin(
            async move {
                let in_flight = state.metrics.request_started();
                tracing::debug!("started processing request");
                let mut response = match handler.await {
                    Ok(Ok(response)) => response,
                    Ok(Err(never)) => match never {},
                    // A panic (none is known: `unwrap` and `expect` are denied outside tests).
                    Err(e) => {
                        tracing::error!(error = %e, "the request's handler panicked");
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
                    }
                };
                let took = start.elapsed();
                let status = response.status();
                if status.is_server_error() {
                    tracing::error!(
                        status = status.as_u16(),
                        latency_ms = took.as_millis() as u64,
                        "response failed"
                    );
                } else {
                    tracing::debug!(
                        status = status.as_u16(),
                        latency_ms = took.as_millis() as u64,
                        "finished processing request"
                    );
                }
                state
                    .metrics
                    .request_done(method, route, status.as_u16(), took);
                drop(in_flight);
                let headers = response.headers_mut();
                headers
                    .entry(HeaderName::from_static(X_REQUEST_ID))
                    .or_insert(id);
                for (name, value) in SECURITY_HEADERS {
                    headers
                        .entry(name)
                        .or_insert_with(|| HeaderValue::from_static(value));
                }
                if state.issuer.starts_with("https://") {
                    headers
                        .entry(header::STRICT_TRANSPORT_SECURITY)
                        .or_insert_with(|| HeaderValue::from_static(HSTS));
                }
                Ok(response)
            }
            .instrument(span),
        )
    }
}

/// 128 random bits from the thread-local generator, as 32 hex digits (tower-http's
/// `MakeRequestUuid` asks the kernel for randomness on every request).
fn fresh_request_id() -> HeaderValue {
    // 32 lowercase hex digits are always a valid header value.
    HeaderValue::try_from(format!("{:032x}", rand::random::<u128>()))
        .unwrap_or(HeaderValue::from_static("-"))
}

/// `/api/v1/licences/{id}/{action}` as `/api/v1/licences/:id/:action`: braces are valid in a label
/// value, but some scrapers' parsers stop at the first `}`.
fn route_label(template: &str) -> String {
    if template.contains('{') {
        template.replace('{', ":").replace('}', "")
    } else {
        template.to_owned()
    }
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}
