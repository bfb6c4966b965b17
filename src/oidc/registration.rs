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

/// Why a client registration is refused (or failed to be stored).
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error("a client needs a name")]
    NoName,
    #[error("unknown scope {0:?}")]
    UnknownScope(String),
    #[error("the authorization_code grant needs at least one redirect URI")]
    NoRedirectUri,
    #[error("the refresh_token grant comes with the authorization_code grant")]
    RefreshWithoutCode,
    #[error("a public client (auth method none) cannot use client_credentials")]
    PublicSystemClient,
    #[error("private_key_jwt needs jwks")]
    NoJwks,
    #[error("jwks is not a JWK Set: {0}")]
    BadJwks(String),
    #[error("{what} {uri:?} is not an absolute URL")]
    NotAnAbsoluteUrl { what: &'static str, uri: String },
    #[error("{what} {uri:?} must use https (http only for localhost)")]
    NotHttps { what: &'static str, uri: String },
    #[error("{what} {uri:?} must not have a fragment")]
    Fragment { what: &'static str, uri: String },
    #[error("redirect URIs on several hosts need an explicit sector")]
    SeveralHostsNoSector,
    #[error("client_id: 1 to 128 characters of A-Z a-z 0-9 - _ . :")]
    BadClientId,
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
}

fn check_uri(uri: &str, what: &'static str) -> Result<(), RegistrationError> {
    let it = || (what, uri.to_owned());
    let u = url::Url::parse(uri).map_err(|_| {
        let (what, uri) = it();
        RegistrationError::NotAnAbsoluteUrl { what, uri }
    })?;
    let local = matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if !(u.scheme() == "https" || (u.scheme() == "http" && local)) {
        let (what, uri) = it();
        return Err(RegistrationError::NotHttps { what, uri });
    }
    if u.fragment().is_some() {
        let (what, uri) = it();
        return Err(RegistrationError::Fragment { what, uri });
    }
    Ok(())
}

impl ClientConfig {
    pub fn validate(&self) -> Result<(), RegistrationError> {
        use RegistrationError as E;
        if self.name.trim().is_empty() {
            return Err(E::NoName);
        }
        for s in &self.scopes {
            if !KNOWN_SCOPES.contains(&s.as_str()) {
                return Err(E::UnknownScope(s.clone()));
            }
        }
        let code = self.grant_types.contains(&GrantType::AuthorizationCode);
        if code && self.redirect_uris.is_empty() {
            return Err(E::NoRedirectUri);
        }
        if self.grant_types.contains(&GrantType::RefreshToken) && !code {
            return Err(E::RefreshWithoutCode);
        }
        if self.auth_method == AuthMethod::None
            && self.grant_types.contains(&GrantType::ClientCredentials)
        {
            return Err(E::PublicSystemClient);
        }
        if self.auth_method == AuthMethod::PrivateKeyJwt {
            let jwks = self.jwks.as_ref().ok_or(E::NoJwks)?;
            crate::crypto::jwks::check_set(jwks).map_err(|e| E::BadJwks(e.to_string()))?;
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
                return Err(E::SeveralHostsNoSector);
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
