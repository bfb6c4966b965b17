//! The token endpoint's grants: authorization_code (with PKCE and single-use codes: a reused code
//! revokes what it issued), refresh_token (rotated on every use; a spent token presented again revokes
//! the whole family), and client_credentials (JWT access token, no database write).

mod client_credentials;
mod code;
mod refresh;
pub(crate) mod response;

use std::sync::Arc;

use serde_json::Value;

use crate::oidc::clients::Client;
use crate::oidc::context::Provider;
use crate::oidc::error::{ErrorCode, OAuthError};
use crate::oidc::params::Params;

pub use client_credentials::SYSTEM_SCOPES;

pub async fn exchange(
    ctx: &Provider,
    client: &Arc<Client>,
    p: &Params,
    now: i64,
) -> Result<Value, OAuthError> {
    let (grant, result) = match p.required("grant_type")? {
        "authorization_code" => (
            "authorization_code",
            code::authorization_code(ctx, client, p, now).await,
        ),
        "refresh_token" => (
            "refresh_token",
            refresh::refresh_token(ctx, client, p, now).await,
        ),
        "client_credentials" => (
            "client_credentials",
            client_credentials::client_credentials(ctx, client, p, now),
        ),
        _ => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                "grant_type is not supported",
            ))
        }
    };
    if result.is_ok() {
        ctx.metrics.token_issued(grant);
    }
    result
}
