//! What a registered client is (department portals and department systems): its configuration, its
//! authentication method, the grants and scopes it may use, and the rules a registration must meet.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::crypto::keys::SigningAlg;
use crate::storage::{self, clients::ClientRow};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
    None,
}

impl AuthMethod {
    pub const ALL: [&'static str; 4] = [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none",
    ];
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(Value::String(s.into())).ok()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

impl GrantType {
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(Value::String(s.into())).ok()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectType {
    Pairwise,
    Public,
}

/// A client's registration, stored as one JSON document.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub name: String,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    pub grant_types: Vec<GrantType>,
    pub auth_method: AuthMethod,
    /// Scopes this client may request.
    pub scopes: Vec<String>,
    pub subject_type: SubjectType,
    /// The pairwise sector. Default: the host of the redirect URIs.
    #[serde(default)]
    pub sector: Option<String>,
    pub id_token_alg: SigningAlg,
    /// Public keys for `private_key_jwt` (a JWK Set).
    #[serde(default)]
    pub jwks: Option<Value>,
    /// Licence types (codes) a portal may read with the holder's consent (`licences` scope); the consent
    /// screen names them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licence_types: Vec<String>,
}

#[derive(Debug)]
pub struct Client {
    pub id: String,
    pub config: ClientConfig,
    pub(super) secret_hash: Option<Vec<u8>>,
}

/// Scopes a client may be registered for.
pub const KNOWN_SCOPES: [&str; 14] = [
    "openid",
    "profile",
    "email",
    "phone",
    "offline_access",
    "id_number",
    "enterprise",
    "licences",
    "licences:issue",
    "licences:query",
    "licences:verify",
    "licences:revoke",
    "admin",
    "auditor",
];

#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
}

fn check_uri(uri: &str, what: &str) -> Result<(), RegistrationError> {
    let u = url::Url::parse(uri).map_err(|_| {
        RegistrationError::Invalid(format!("{what} {uri:?} is not an absolute URL"))
    })?;
    let local = matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if !(u.scheme() == "https" || (u.scheme() == "http" && local)) {
        return Err(RegistrationError::Invalid(format!(
            "{what} {uri:?} must use https (http only for localhost)"
        )));
    }
    if u.fragment().is_some() {
        return Err(RegistrationError::Invalid(format!(
            "{what} {uri:?} must not have a fragment"
        )));
    }
    Ok(())
}

impl ClientConfig {
    pub fn validate(&self) -> Result<(), RegistrationError> {
        let bad = |m: &str| Err(RegistrationError::Invalid(m.into()));
        if self.name.trim().is_empty() {
            return bad("a client needs a name");
        }
        for s in &self.scopes {
            if !KNOWN_SCOPES.contains(&s.as_str()) {
                return Err(RegistrationError::Invalid(format!("unknown scope {s:?}")));
            }
        }
        let code = self.grant_types.contains(&GrantType::AuthorizationCode);
        if code && self.redirect_uris.is_empty() {
            return bad("the authorization_code grant needs at least one redirect URI");
        }
        if self.grant_types.contains(&GrantType::RefreshToken) && !code {
            return bad("the refresh_token grant comes with the authorization_code grant");
        }
        if self.auth_method == AuthMethod::None
            && self.grant_types.contains(&GrantType::ClientCredentials)
        {
            return bad("a public client (auth method none) cannot use client_credentials");
        }
        if self.auth_method == AuthMethod::PrivateKeyJwt {
            let jwks = self
                .jwks
                .as_ref()
                .ok_or_else(|| RegistrationError::Invalid("private_key_jwt needs jwks".into()))?;
            crate::crypto::jwks::check_set(jwks)
                .map_err(|e| RegistrationError::Invalid(format!("jwks is not a JWK Set: {e}")))?;
        }
        for u in &self.redirect_uris {
            check_uri(u, "redirect URI")?;
        }
        for u in &self.post_logout_redirect_uris {
            check_uri(u, "post-logout redirect URI")?;
        }
        if let Some(u) = &self.backchannel_logout_uri {
            check_uri(u, "back-channel logout URI")?;
        }
        if self.subject_type == SubjectType::Pairwise && self.sector.is_none() {
            let hosts: std::collections::BTreeSet<_> = self
                .redirect_uris
                .iter()
                .filter_map(|u| url::Url::parse(u).ok()?.host_str().map(str::to_owned))
                .collect();
            if hosts.len() > 1 {
                return bad("redirect URIs on several hosts need an explicit sector");
            }
        }
        Ok(())
    }
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.config.auth_method == AuthMethod::None
    }

    /// The pairwise sector: the registered one, else the redirect URIs' host, else the client id.
    pub fn sector(&self) -> String {
        if let Some(s) = &self.config.sector {
            return s.clone();
        }
        self.config
            .redirect_uris
            .first()
            .and_then(|u| url::Url::parse(u).ok()?.host_str().map(str::to_owned))
            .unwrap_or_else(|| self.id.clone())
    }

    /// Redirect URIs match exactly, character for character (no prefix or pattern matching).
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.config.redirect_uris.iter().any(|r| r == uri)
    }

    pub fn allows_scope(&self, scope: &str) -> bool {
        self.config.scopes.iter().any(|s| s == scope)
    }

    pub fn allows_grant(&self, g: GrantType) -> bool {
        self.config.grant_types.contains(&g)
    }

    pub(super) fn from_row(row: ClientRow) -> Result<Self, storage::StorageError> {
        Ok(Self {
            id: row.client_id,
            config: serde_json::from_str(&row.config)?,
            secret_hash: row.secret_hash,
        })
    }
}
