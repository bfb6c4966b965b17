//! Mapping errors to responses: RFC 6749 JSON bodies for OAuth endpoints (`OAuthError`), RFC 9457
//! problem details for the JSON API (`ApiError`). Server-side causes are logged, never sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::identity::proofing::ProofingError;
use crate::licences::departments::DepartmentError;
use crate::licences::registry::RegisterError;
use crate::licences::LicenceError;
use crate::oidc::error::{ErrorCode, OAuthError};
use crate::storage::StorageError;

/// The status of an OAuth error (RFC 6749 §5.2, RFC 6750 §3.1).
fn oauth_status(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidClient | ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
        ErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
        ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// The status and problem type of each licence refusal.
pub fn licence_status(e: &LicenceError) -> (StatusCode, &'static str) {
    use LicenceError as L;
    match e {
        L::MayNotIssue
        | L::SupersedeForbidden
        | L::NotIssuer
        | L::NoLegalBasis
        | L::NotActable
        | L::NotPermitted(_) => (StatusCode::FORBIDDEN, "forbidden"),
        L::NoSuchType | L::NoSuperseded | L::NoSuchLicence | L::NoSuchStatusList | L::NotYours => {
            (StatusCode::NOT_FOUND, "not-found")
        }
        L::ReservedField(_) => (StatusCode::UNPROCESSABLE_ENTITY, "reserved-field"),
        L::FieldsInvalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "fields-invalid"),
        L::UnknownHolder => (StatusCode::UNPROCESSABLE_ENTITY, "unknown-holder"),
        L::HolderMismatch => (StatusCode::UNPROCESSABLE_ENTITY, "holder-mismatch"),
        L::KeyReused => (StatusCode::UNPROCESSABLE_ENTITY, "idempotency-key-reused"),
        L::ShareGone => (StatusCode::GONE, "share-gone"),
        L::NotProven => (StatusCode::FORBIDDEN, "identity-not-proven"),
        L::SecondFactorNeeded(_) => (StatusCode::FORBIDDEN, "second-factor-required"),
        L::TooLarge => (StatusCode::BAD_REQUEST, "too-large"),
        L::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE),
        L::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        L::HolderCount(_)
        | L::HolderKind
        | L::HolderIdKind
        | L::HolderId(_)
        | L::HolderTwice
        | L::ValidityRange
        | L::ValidityOrder
        | L::AppliedAt
        | L::Reason(_)
        | L::Purpose
        | L::ShareLifetime => (StatusCode::BAD_REQUEST, "bad-request"),
        L::Concurrent(_)
        | L::SupersededRevoked
        | L::SupersededChanged
        | L::NoCertificate(_)
        | L::StatusListFull
        | L::RevocationFinal
        | L::AlreadySuspended
        | L::NotSuspended
        | L::StatusChanged => (StatusCode::CONFLICT, "conflict"),
    }
}

impl From<LicenceError> for ApiError {
    fn from(e: LicenceError) -> Self {
        let (status, kind) = licence_status(&e);
        let title = match status {
            _ if matches!(e, LicenceError::KeyReused) => "Idempotency key reused",
            StatusCode::BAD_REQUEST => "The request is invalid",
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::CONFLICT => "Conflict",
            StatusCode::GONE => "Gone",
            StatusCode::UNPROCESSABLE_ENTITY => "The request cannot be processed",
            StatusCode::SERVICE_UNAVAILABLE => "Temporarily unavailable",
            _ => "Internal error",
        };
        ApiError::new(status, kind, title, e.to_string())
    }
}

impl From<ProofingError> for ApiError {
    fn from(e: ProofingError) -> Self {
        use ProofingError as P;
        let (status, kind, title) = match &e {
            P::Storage(_) => return ApiError::internal(e),
            P::NoAccount => (StatusCode::NOT_FOUND, "no-account", "Not found"),
            P::NotCounterStaff => (StatusCode::FORBIDDEN, "not-counter-staff", "Not allowed"),
            P::AlreadyProven => (StatusCode::CONFLICT, "already-proven", "Conflict"),
            P::Taken => (StatusCode::CONFLICT, "identity-taken", "Conflict"),
            P::Throttled => (
                StatusCode::TOO_MANY_REQUESTS,
                "throttled",
                "Too many requests",
            ),
            P::Mismatch => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "identity-mismatch",
                UNPROCESSABLE,
            ),
            P::DepartmentRequired => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "department-required",
                UNPROCESSABLE,
            ),
            P::EvidenceRequired => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "evidence-required",
                UNPROCESSABLE,
            ),
            P::CodeInvalid => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "code-invalid",
                UNPROCESSABLE,
            ),
        };
        // The message without its catalogue key.
        let detail = e.to_string();
        let detail = detail.split_once(": ").map_or(detail.as_str(), |(_, d)| d);
        ApiError::new(status, kind, title, detail)
    }
}

const UNPROCESSABLE: &str = "The request cannot be processed";

impl From<DepartmentError> for ApiError {
    fn from(e: DepartmentError) -> Self {
        match e {
            DepartmentError::Keys(_) => ApiError::internal(e),
            DepartmentError::Storage(e) => storage_error(e),
            DepartmentError::BadUscc(_)
            | DepartmentError::IssNotAUrl
            | DepartmentError::IssNotHttps
            | DepartmentError::Names
            | DepartmentError::NoClient(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-department",
                "The request cannot be processed",
                e.to_string(),
            ),
            DepartmentError::Conflict(d) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", "Conflict", d)
            }
        }
    }
}

/// A storage failure of an administrative change: a duplicate is a 409, anything else ours.
fn storage_error(e: StorageError) -> ApiError {
    match e {
        StorageError::Conflict(what) => ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "Conflict",
            format!("a {what} like this exists already"),
        ),
        e => ApiError::internal(e),
    }
}

impl From<RegisterError> for ApiError {
    fn from(e: RegisterError) -> Self {
        match e {
            RegisterError::Invalid(e) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-licence-type",
                "The request cannot be processed",
                e.to_string(),
            ),
            RegisterError::Storage(e) => storage_error(e),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = oauth_status(self.code);
        let mut resp = (
            status,
            [
                (header::CACHE_CONTROL, "no-store"),
                (header::PRAGMA, "no-cache"),
            ],
            axum::Json(
                json!({ "error": self.code.as_str(), "error_description": self.description }),
            ),
        )
            .into_response();
        let challenge = match self.code {
            ErrorCode::InvalidToken | ErrorCode::InsufficientScope => Some(format!(
                "Bearer error=\"{}\", error_description=\"{}\"",
                self.code.as_str(),
                self.description.replace('"', "'")
            )),
            ErrorCode::InvalidClient => Some("Basic realm=\"tongban\"".to_owned()),
            _ => None,
        };
        if let Some(v) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        if self.code == ErrorCode::TemporarilyUnavailable {
            retry_after(&mut resp);
        }
        resp
    }
}

/// An RFC 9457 problem for the JSON API.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub title: &'static str,
    pub detail: String,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            kind,
            title,
            detail: detail.into(),
        }
    }
    pub fn bad_request(kind: &'static str, detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            kind,
            "The request is invalid",
            detail,
        )
    }
    /// A failure on our side: a 500, or a 503 when it is a [`StorageError`] that means the
    /// database is unreachable or its schema gone ([`StorageError::is_unavailable`]). The cause is
    /// logged, never sent.
    pub fn internal(cause: impl std::fmt::Display + 'static) -> Self {
        let unavailable = (&cause as &dyn std::any::Any)
            .downcast_ref::<StorageError>()
            .is_some_and(StorageError::is_unavailable);
        if unavailable {
            tracing::warn!(error = %cause, "database unavailable");
            return Self::unavailable();
        }
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the server could not complete the request",
        )
    }
    /// The problem's `type` URI.
    pub fn type_uri(&self) -> String {
        format!("https://tongban.example/problems/{}", self.kind)
    }
    /// A 503 (with `Retry-After`): the database cannot be reached now.
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            UNAVAILABLE,
            "Temporarily unavailable",
            "the service cannot reach its database; try again later",
        )
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        Self::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "type": self.type_uri(),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        let mut resp = (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body.to_string(),
        )
            .into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            retry_after(&mut resp);
        }
        if self.kind == "insufficient-user-authentication" {
            // RFC 9470 §3: the level to ask for, on the bearer challenge.
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static(
                    "Bearer error=\"insufficient_user_authentication\", acr_values=\"urn:tongban:loa:2\"",
                ),
            );
        }
        resp
    }
}

/// What a 503 asks a client to wait, in seconds.
pub const RETRY_AFTER_SECS: &str = "5";

/// The problem type of a 503: the database cannot be reached, or its schema is gone.
pub const UNAVAILABLE: &str = "unavailable";

/// Adds `Retry-After` to a 503.
pub fn retry_after(resp: &mut Response) {
    resp.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_static(RETRY_AFTER_SECS),
    );
}

impl super::pages::Ui {
    /// The error page for a failure that is the server's: a 503 page (with `Retry-After`) when the
    /// database is unavailable, else a 500; without detail either way.
    pub fn failure(&self, state: &crate::http::AppState, unavailable: bool) -> Response {
        if !unavailable {
            return self.server_error(state);
        }
        let mut resp = self.error(
            state,
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "",
        );
        retry_after(&mut resp);
        resp
    }
}
