//! The client_credentials grant: a JWT access token for a department system, no database write.

use std::sync::Arc;

use serde_json::{json, Value};

use super::response::*;
use crate::oidc::clients::{Client, GrantType};
use crate::oidc::context::Provider;
use crate::oidc::error::{ErrorCode, OAuthError};
use crate::oidc::params::Params;
use crate::oidc::tokens::{self, AccessGrant};

/// Scopes only a system (client_credentials) token carries, besides the `licences:*` ones.
pub const SYSTEM_SCOPES: [&str; 2] = ["admin", "auditor"];

pub(super) fn client_credentials(
    ctx: &Provider,
    client: &Arc<Client>,
    p: &Params,
    now: i64,
) -> Result<Value, OAuthError> {
    require_grant(client, GrantType::ClientCredentials)?;
    let api_scopes: Vec<&str> = client
        .config
        .scopes
        .iter()
        .map(String::as_str)
        .filter(|s| s.starts_with("licences:") || SYSTEM_SCOPES.contains(s))
        .collect();
    let scope = match p.one("scope")? {
        Some(req) => {
            let req: Vec<&str> = req.split(' ').filter(|s| !s.is_empty()).collect();
            if let Some(s) = req.iter().find(|s| !api_scopes.contains(s)) {
                return Err(OAuthError::new(
                    ErrorCode::InvalidScope,
                    format!("scope {s} is not allowed for this client"),
                ));
            }
            req.join(" ")
        }
        None => api_scopes.join(" "),
    };
    let (access, ttl) = tokens::mint_access(
        ctx,
        AccessGrant {
            sub: client.id.clone(),
            client_id: &client.id,
            scope: &scope,
            auth_time: None,
            acr: None,
            amr: None,
            gid: None,
            act: None,
        },
        now,
    )?;
    Ok(json!({ "access_token": access, "token_type": "Bearer", "expires_in": ttl, "scope": scope }))
}
