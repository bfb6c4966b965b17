//! Registered clients (department portals and department systems) and client authentication:
//! `client_secret_basic`, `client_secret_post`, `private_key_jwt` and `none` (public clients with PKCE).

use crate::metrics::CacheName;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::denylist::DenyKind;
use super::error::OAuthError;
use crate::crypto::keys::SigningAlg;
use crate::crypto::{constant_time_eq, random_token, secret_hash};
use crate::state::AppState;
use crate::storage::{self, clients::ClientRow, Db};

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
    secret_hash: Option<Vec<u8>>,
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
            josekit::jwk::JwkSet::from_map(jwks.as_object().cloned().unwrap_or_default())
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

    fn from_row(row: ClientRow) -> Result<Self, storage::StorageError> {
        Ok(Self {
            id: row.client_id,
            config: serde_json::from_str(&row.config)?,
            secret_hash: row.secret_hash,
        })
    }
}

/// Register a client; returns it with its secret (shown once) for secret-based auth methods.
pub async fn register(
    db: &Db,
    client_id: Option<String>,
    config: ClientConfig,
    now: i64,
) -> Result<(Client, Option<String>), RegistrationError> {
    config.validate()?;
    let id = client_id.unwrap_or_else(|| format!("c_{}", &crate::crypto::random_id()[..16]));
    if id.is_empty()
        || id.len() > 128
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
    {
        return Err(RegistrationError::Invalid(
            "client_id: 1 to 128 characters of A-Z a-z 0-9 - _ . :".into(),
        ));
    }
    let secret = matches!(
        config.auth_method,
        AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost
    )
    .then(random_token);
    let row = ClientRow {
        client_id: id.clone(),
        config: serde_json::to_string(&config).map_err(storage::StorageError::from)?,
        secret_hash: secret.as_deref().map(secret_hash),
    };
    let mut tx = db.begin().await?;
    storage::clients::insert(&mut tx, &row, now).await?;
    crate::audit::record(
        &mut tx,
        now,
        crate::audit::OPERATOR_CLI,
        crate::audit::Action::ClientRegistered,
        &format!("client:{id}"),
        serde_json::json!({ "grant_types": config.grant_types, "scopes": config.scopes, "redirect_uris": config.redirect_uris }),
    )
    .await?;
    tx.commit().await.map_err(storage::StorageError::from)?;
    Ok((Client::from_row(row)?, secret))
}

/// Remove a client (its tokens stop verifying once the client is gone from every cache).
/// Remove a client and revoke everything it holds, in one transaction: its grants (so no refresh
/// token of it works again) and a `client` deny entry covering every access token it was issued,
/// which also makes every node forget the client at once (`get` consults the deny list before its
/// cache; other nodes hear the `deny` notice on PostgreSQL, and re-read the list within 2 s on
/// SQLite, where the CLI is another process).
pub async fn remove(
    state: &AppState,
    client_id: &str,
    now: i64,
) -> Result<bool, storage::StorageError> {
    let mut tx = state.db.begin().await?;
    let removed = storage::clients::remove(&mut tx, client_id).await?;
    // Longer than any token it holds lives, and than the client cache keeps an entry.
    let deny_until = now + state.config.max_token_ttl().max(120);
    if removed {
        let grants = storage::grants::revoke_all_client_grants(&mut tx, client_id, now).await?;
        storage::grants::deny(&mut tx, DenyKind::Client.as_str(), client_id, deny_until).await?;
        crate::audit::record(
            &mut tx,
            now,
            crate::audit::OPERATOR_CLI,
            crate::audit::Action::ClientRemoved,
            &format!("client:{client_id}"),
            serde_json::json!({ "grants_revoked": grants.len() }),
        )
        .await?;
        crate::cluster::announce(&mut tx, &crate::cluster::client(client_id)).await?;
    }
    tx.commit().await?;
    if removed {
        state.deny.insert(DenyKind::Client, client_id, deny_until);
        state.clients.invalidate(client_id);
    }
    Ok(removed)
}

pub async fn list(db: &Db) -> Result<Vec<Client>, storage::StorageError> {
    storage::clients::list(db)
        .await?
        .into_iter()
        .map(Client::from_row)
        .collect()
}

/// A client by id, through the cache.
pub async fn get(
    state: &AppState,
    client_id: &str,
) -> Result<Option<Arc<Client>>, storage::StorageError> {
    if state.deny.contains(DenyKind::Client, client_id) {
        // Removed, perhaps by another process whose notice this node has not heard.
        state.clients.invalidate(client_id);
        return Ok(None);
    }
    if let Some(c) = state
        .metrics
        .lookup(CacheName::Clients, state.clients.get(client_id))
    {
        return Ok(Some(c));
    }
    let Some(row) = storage::clients::get(&state.db, client_id).await? else {
        return Ok(None);
    };
    let client = Arc::new(Client::from_row(row)?);
    state.clients.insert(client_id.to_owned(), client.clone());
    Ok(Some(client))
}

/// What a request presented to authenticate its client.
#[derive(Debug, Default)]
pub struct Credentials {
    /// From HTTP Basic.
    pub basic: Option<(String, String)>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub assertion_type: Option<String>,
    pub assertion: Option<String>,
}

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

impl Credentials {
    /// The client id the request names, from whichever method it used; conflicting ids are an error.
    fn claimed_id(&self) -> Result<String, OAuthError> {
        let mut ids = Vec::new();
        if let Some((id, _)) = &self.basic {
            ids.push(id.clone());
        }
        if let Some(id) = &self.client_id {
            ids.push(id.clone());
        }
        if let Some(a) = &self.assertion {
            if let Ok(p) = crate::crypto::jwt::parse(a) {
                if let Some(sub) = serde_json::from_slice::<Value>(&p.payload)
                    .ok()
                    .and_then(|v| v["sub"].as_str().map(str::to_owned))
                {
                    ids.push(sub);
                }
            }
        }
        let first = ids
            .first()
            .cloned()
            .ok_or_else(|| OAuthError::invalid_client("no client authentication"))?;
        if ids.iter().any(|i| *i != first) {
            return Err(OAuthError::invalid_request(
                "the request names more than one client",
            ));
        }
        Ok(first)
    }

    fn methods_used(&self) -> usize {
        usize::from(self.basic.is_some())
            + usize::from(self.client_secret.is_some())
            + usize::from(self.assertion.is_some())
    }
}

/// Authenticate the client of a token, introspection or revocation request. `audience` is the
/// endpoint URL a client assertion must name (the issuer is accepted too).
pub async fn authenticate(
    state: &AppState,
    creds: &Credentials,
    audience: &str,
    now: i64,
) -> Result<Arc<Client>, OAuthError> {
    if creds.methods_used() > 1 {
        return Err(OAuthError::invalid_request(
            "use exactly one client authentication method",
        ));
    }
    let id = creds.claimed_id()?;
    let client = get(state, &id)
        .await?
        .ok_or_else(|| OAuthError::invalid_client("client authentication failed"))?;
    let ok = match client.config.auth_method {
        AuthMethod::ClientSecretBasic => creds
            .basic
            .as_ref()
            .is_some_and(|(_, s)| secret_matches(&client, s)),
        AuthMethod::ClientSecretPost => creds
            .client_secret
            .as_deref()
            .is_some_and(|s| secret_matches(&client, s)),
        AuthMethod::None => creds.methods_used() == 0,
        AuthMethod::PrivateKeyJwt => {
            if creds.assertion_type.as_deref() != Some(JWT_BEARER) {
                return Err(OAuthError::invalid_client(
                    "client_assertion_type must be jwt-bearer",
                ));
            }
            let jwt = creds.assertion.as_deref().unwrap_or_default();
            let (jti, exp) = verify_assertion(state, &client, jwt, audience, now)?;
            // Single use (RFC 7523 §3), kept in the database until the assertion expires: a
            // replay is refused at every node and after a restart.
            if !storage::throttle::spend_assertion(&state.db, &client.id, &jti, exp).await? {
                return Err(OAuthError::invalid_client(
                    "the client assertion was already used",
                ));
            }
            true
        }
    };
    if !ok {
        return Err(OAuthError::invalid_client("client authentication failed"));
    }
    Ok(client)
}

fn secret_matches(client: &Client, presented: &str) -> bool {
    client
        .secret_hash
        .as_deref()
        .is_some_and(|h| constant_time_eq(h, &secret_hash(presented)))
}

/// RFC 7523 client assertion: signed by a key of the client's JWK Set, `iss` = `sub` = client id, `aud`
/// naming our token endpoint or issuer, unexpired, with a `jti`: its `jti` and `exp`, for the caller
/// to spend.
fn verify_assertion(
    state: &AppState,
    client: &Client,
    jwt: &str,
    audience: &str,
    now: i64,
) -> Result<(String, i64), OAuthError> {
    use josekit::jws::{ES256, PS256, RS256};
    let fail = |why: &'static str| OAuthError::invalid_client(why);
    let jwks = client
        .config
        .jwks
        .as_ref()
        .and_then(|v| v.as_object().cloned())
        .ok_or(fail("the client has no keys"))?;
    let jwks =
        josekit::jwk::JwkSet::from_map(jwks).map_err(|_| fail("the client's keys do not parse"))?;
    let header = crate::crypto::jwt::parse(jwt)
        .map_err(|_| fail("the client assertion is not a JWT"))?
        .header;
    let candidates: Vec<&josekit::jwk::Jwk> = match header.get("kid").and_then(Value::as_str) {
        Some(kid) => jwks.get(kid),
        None => jwks.keys(),
    };
    let jwk = candidates
        .first()
        .ok_or(fail("no key of the client matches the assertion"))?;
    let verifier: Box<dyn josekit::jws::JwsVerifier> =
        match header.get("alg").and_then(Value::as_str) {
            Some("ES256") => Box::new(
                ES256
                    .verifier_from_jwk(jwk)
                    .map_err(|_| fail("the client key is not an ES256 key"))?,
            ),
            Some("RS256") => Box::new(
                RS256
                    .verifier_from_jwk(jwk)
                    .map_err(|_| fail("the client key is not an RSA key"))?,
            ),
            Some("PS256") => Box::new(
                PS256
                    .verifier_from_jwk(jwk)
                    .map_err(|_| fail("the client key is not an RSA key"))?,
            ),
            _ => return Err(fail("the client assertion's algorithm is not supported")),
        };
    let (payload, _) = josekit::jwt::decode_with_verifier(jwt, verifier.as_ref())
        .map_err(|_| fail("the client assertion does not verify"))?;
    if payload.issuer() != Some(client.id.as_str()) || payload.subject() != Some(client.id.as_str())
    {
        return Err(fail(
            "the client assertion's iss and sub must be the client id",
        ));
    }
    let aud_ok = payload
        .audience()
        .is_some_and(|a| a.iter().any(|a| *a == audience || *a == state.issuer));
    if !aud_ok {
        return Err(fail(
            "the client assertion's aud must be the token endpoint",
        ));
    }
    let exp = payload
        .expires_at()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
        .ok_or(fail("the client assertion needs exp"))?;
    if exp <= now || exp > now + 600 {
        return Err(fail("the client assertion is expired or lives too long"));
    }
    let jti = payload
        .jwt_id()
        .ok_or(fail("the client assertion needs a jti"))?;
    if jti.is_empty() || jti.len() > 255 || jti.chars().any(char::is_control) {
        return Err(fail(
            "the client assertion's jti must be 1 to 255 characters, none a control character",
        ));
    }
    Ok((jti.to_owned(), exp))
}
