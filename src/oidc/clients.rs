//! Registered clients as the provider keeps them (register, remove, look up, cached) and client
//! authentication: `client_secret_basic`, `client_secret_post`, `private_key_jwt` and `none` (public
//! clients with PKCE).

use std::sync::Arc;

use serde_json::Value;

use super::context::Provider;
use super::denylist::DenyKind;
use super::error::OAuthError;
pub use super::registration::{
    AuthMethod, Client, ClientConfig, GrantType, RegistrationError, SubjectType, KNOWN_SCOPES,
};
use crate::crypto::{constant_time_eq, random_token, secret_hash};
use crate::metrics::CacheName;
use crate::storage::{self, clients::ClientRow, Db};

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
        return Err(RegistrationError::BadClientId);
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
    ctx: &Provider,
    client_id: &str,
    now: i64,
) -> Result<bool, storage::StorageError> {
    let mut tx = ctx.db.begin().await?;
    let removed = storage::clients::remove(&mut tx, client_id).await?;
    // Longer than any token it holds lives, and than the client cache keeps an entry.
    let deny_until = now + ctx.max_token_ttl.max(120);
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
        crate::storage::notify::changed(&mut tx, &crate::storage::notify::client(client_id))
            .await?;
    }
    tx.commit().await?;
    if removed {
        ctx.deny.insert(DenyKind::Client, client_id, deny_until);
        ctx.clients.invalidate(client_id);
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
    ctx: &Provider,
    client_id: &str,
) -> Result<Option<Arc<Client>>, storage::StorageError> {
    if ctx.deny.contains(DenyKind::Client, client_id) {
        // Removed, perhaps by another process whose notice this node has not heard.
        ctx.clients.invalidate(client_id);
        return Ok(None);
    }
    if let Some(c) = ctx
        .metrics
        .lookup(CacheName::Clients, ctx.clients.get(client_id))
    {
        return Ok(Some(c));
    }
    let Some(row) = storage::clients::get(&ctx.db, client_id).await? else {
        return Ok(None);
    };
    let client = Arc::new(Client::from_row(row)?);
    ctx.clients.insert(client_id.to_owned(), client.clone());
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
    ctx: &Provider,
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
    let client = get(ctx, &id)
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
            let (jti, exp) = verify_assertion(ctx, &client, jwt, audience, now)?;
            // Single use (RFC 7523 §3), kept in the database until the assertion expires: a
            // replay is refused at every node and after a restart.
            if !storage::throttle::spend_assertion(&ctx.db, &client.id, &jti, exp).await? {
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
    ctx: &Provider,
    client: &Client,
    jwt: &str,
    audience: &str,
    now: i64,
) -> Result<(String, i64), OAuthError> {
    use crate::crypto::jwks::{self, JwksError};
    let fail = |why: &'static str| OAuthError::invalid_client(why);
    let keys = client
        .config
        .jwks
        .as_ref()
        .ok_or(fail("the client has no keys"))?;
    let payload = jwks::verify(jwt, keys).map_err(|e| {
        fail(match e {
            JwksError::NotAJwkSet => "the client's keys do not parse",
            JwksError::NotAJwt => "the client assertion is not a JWT",
            JwksError::NoMatchingKey => "no key of the client matches the assertion",
            JwksError::WrongKeyType("ES256") => "the client key is not an ES256 key",
            JwksError::WrongKeyType(_) => "the client key is not an RSA key",
            JwksError::UnsupportedAlg => "the client assertion's algorithm is not supported",
            JwksError::BadSignature => "the client assertion does not verify",
        })
    })?;
    let text = |k: &str| payload.get(k).and_then(Value::as_str);
    if text("iss") != Some(client.id.as_str()) || text("sub") != Some(client.id.as_str()) {
        return Err(fail(
            "the client assertion's iss and sub must be the client id",
        ));
    }
    let ours = |a: &Value| a.as_str().is_some_and(|a| a == audience || a == ctx.issuer);
    let aud_ok = match payload.get("aud") {
        Some(Value::Array(a)) => a.iter().any(ours),
        Some(a) => ours(a),
        None => false,
    };
    if !aud_ok {
        return Err(fail(
            "the client assertion's aud must be the token endpoint",
        ));
    }
    let exp = payload
        .get("exp")
        .and_then(Value::as_f64)
        .filter(|t| t.is_finite() && *t >= 0.0)
        // A NumericDate may have a fraction (RFC 7519 §2); whole seconds count.
        .map(|t| t as i64)
        .ok_or(fail("the client assertion needs exp"))?;
    if exp <= now || exp > now + 600 {
        return Err(fail("the client assertion is expired or lives too long"));
    }
    let jti = text("jti").ok_or(fail("the client assertion needs a jti"))?;
    if jti.is_empty() || jti.len() > 255 || jti.chars().any(char::is_control) {
        return Err(fail(
            "the client assertion's jti must be 1 to 255 characters, none a control character",
        ));
    }
    Ok((jti.to_owned(), exp))
}
