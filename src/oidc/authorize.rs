//! The authorization endpoint's logic: validate the request (client and redirect URI first: until they
//! are known good, errors are shown on a page, never redirected), then decide what the person must do —
//! log in, choose whether to act for an enterprise, consent — and finally issue the code.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::clients::{self, Client, GrantType};
use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use crate::crypto::{random_id, random_token, secret_hash};
use crate::oidc::context::Provider;
use crate::storage::{self, sessions::SessionRow, StorageError};

/// Errors that must not be redirected: the redirect URI itself is in doubt.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("{1}")]
    Show(&'static str, String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A validated authorization request and how far it has got. Stored while the person logs in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Vec<String>,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub acr_values: Vec<String>,
    pub ui_locales: Option<String>,
    pub claims: Option<Value>,
    /// `None` until chosen; `Some("")` acts as the person, `Some(enterprise id)` for an enterprise.
    #[serde(default)]
    pub acting_for: Option<String>,
    #[serde(default)]
    pub consented: bool,
    #[serde(default)]
    pub selected: bool,
}

impl AuthRequest {
    pub fn has_scope(&self, s: &str) -> bool {
        self.scopes.iter().any(|x| x == s)
    }
    pub fn has_prompt(&self, p: &str) -> bool {
        self.prompt.iter().any(|x| x == p)
    }
}

/// Phase one: the client and its redirect URI.
pub async fn client_and_redirect(
    ctx: &Provider,
    p: &Params,
) -> Result<(Arc<Client>, String), PageError> {
    let show = |k: &'static str, d: &str| PageError::Show(k, d.to_owned());
    let id = p
        .one("client_id")
        .map_err(|e| show("invalid_request", &e.description))?
        .ok_or(show("invalid_request", "client_id is missing"))?;
    let client = clients::get(ctx, id)
        .await?
        .ok_or(show("invalid_client", "unknown client"))?;
    let uri = p
        .one("redirect_uri")
        .map_err(|e| show("invalid_request", &e.description))?;
    let uri = match uri {
        Some(u) => u.to_owned(),
        // OpenID Connect requires redirect_uri; we allow omitting it only with exactly one registered.
        None if client.config.redirect_uris.len() == 1 => client.config.redirect_uris[0].clone(),
        None => return Err(show("invalid_redirect_uri", "redirect_uri is missing")),
    };
    if !client.has_redirect_uri(&uri) {
        return Err(show(
            "invalid_redirect_uri",
            "redirect_uri is not registered for this client",
        ));
    }
    Ok((client, uri))
}

/// Phase two: everything else. Errors here are redirected to the client with `state` and `iss`.
pub fn parse(client: &Client, redirect_uri: String, p: &Params) -> Result<AuthRequest, OAuthError> {
    for unsupported in ["request", "request_uri", "registration"] {
        if p.one(unsupported)?.is_some() {
            let code = if unsupported == "registration" {
                ErrorCode::InvalidRequest
            } else {
                ErrorCode::RequestNotSupported
            };
            return Err(OAuthError::new(
                code,
                format!("{unsupported} is not supported"),
            ));
        }
    }
    match p.one("response_type")? {
        Some("code") => {}
        Some(_) => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            ))
        }
        None => return Err(OAuthError::invalid_request("response_type is missing")),
    }
    if let Some(m) = p.one("response_mode")? {
        if m != "query" {
            return Err(OAuthError::invalid_request(
                "only response_mode=query is supported",
            ));
        }
    }
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client may not use the authorization code flow",
        ));
    }
    let scopes: Vec<String> = p
        .one("scope")?
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if scopes.is_empty() {
        return Err(OAuthError::new(ErrorCode::InvalidScope, "scope is missing"));
    }
    if let Some(s) = scopes
        .iter()
        .find(|s| !client.allows_scope(s) || s.starts_with("licences:"))
    {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("scope {s} is not allowed for this client"),
        ));
    }
    let code_challenge = p.owned("code_challenge")?;
    match (p.one("code_challenge_method")?, &code_challenge) {
        (Some("S256"), Some(c))
            if c.len() == 43 && crate::crypto::b64url_decode(c).is_some_and(|d| d.len() == 32) => {}
        (Some("S256"), Some(_)) => {
            return Err(OAuthError::invalid_request(
                "code_challenge must be a base64url SHA-256 digest",
            ))
        }
        (Some(_), _) => {
            return Err(OAuthError::invalid_request(
                "only code_challenge_method=S256 is supported",
            ))
        }
        (None, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "code_challenge_method=S256 is required (plain is not supported)",
            ))
        }
        (None, None) if client.is_public() => {
            return Err(OAuthError::invalid_request(
                "public clients must use PKCE (S256)",
            ))
        }
        (None, None) => {}
    }
    let prompt: Vec<String> = p
        .one("prompt")?
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(bad) = prompt
        .iter()
        .find(|x| !["none", "login", "consent", "select_account"].contains(&x.as_str()))
    {
        return Err(OAuthError::invalid_request(format!(
            "prompt value {bad} is not supported"
        )));
    }
    if prompt.iter().any(|x| x == "none") && prompt.len() > 1 {
        return Err(OAuthError::invalid_request(
            "prompt=none cannot be combined with other values",
        ));
    }
    let max_age = match p.one("max_age")? {
        Some(m) => Some(m.parse::<i64>().ok().filter(|m| *m >= 0).ok_or_else(|| {
            OAuthError::invalid_request("max_age must be a non-negative integer")
        })?),
        None => None,
    };
    let claims = match p.one("claims")? {
        Some(c) => Some(
            serde_json::from_str::<Value>(c)
                .ok()
                .filter(Value::is_object)
                .ok_or_else(|| OAuthError::invalid_request("claims must be a JSON object"))?,
        ),
        None => None,
    };
    let nonce = p.owned("nonce")?;
    if nonce.as_ref().is_some_and(|n| n.len() > 512)
        || p.one("state")?.is_some_and(|s| s.len() > 2048)
    {
        return Err(OAuthError::invalid_request("nonce or state is too long"));
    }
    Ok(AuthRequest {
        client_id: client.id.clone(),
        redirect_uri,
        scopes,
        state: p.owned("state")?,
        nonce,
        code_challenge,
        prompt,
        max_age,
        login_hint: p.owned("login_hint")?,
        acr_values: p
            .one("acr_values")?
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        ui_locales: p.owned("ui_locales")?,
        claims,
        acting_for: None,
        consented: false,
        selected: false,
    })
}

/// What the person must do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    Login,
    /// A second factor, to raise the session to the level asked for (step-up).
    SecondFactor,
    SelectEnterprise,
    Consent,
    Issue,
}

/// Decide the next step. `created_at` is when the request arrived (prompt=login needs a login after it),
/// `stored_consent` the scopes the person already granted this client, `actable` how many enterprises
/// they may act for, `reach` the highest level the account can sign in at
/// (`identity::sessions::reach`).
pub fn next_step(
    req: &AuthRequest,
    session: Option<&SessionRow>,
    created_at: i64,
    stored_consent: Option<&str>,
    actable: usize,
    reach: u8,
    now: i64,
) -> Result<Step, OAuthError> {
    let none = req.has_prompt("none");
    let need_login = match session {
        None => true,
        Some(s) => {
            (req.has_prompt("login") && s.auth_time < created_at)
                || req.max_age.is_some_and(|m| now - s.auth_time > m)
        }
    };
    if need_login {
        return if none {
            Err(OAuthError::new(
                ErrorCode::LoginRequired,
                "the person is not signed in",
            ))
        } else {
            Ok(Step::Login)
        };
    }
    if let Some(s) = session {
        // The level asked for, a second factor to reach it, or the error: never a lower `acr`.
        let need = super::assurance::check(&req.acr_values, req.claims.as_ref(), &s.acr, reach)?;
        if need == super::assurance::Need::StepUp {
            return if none {
                Err(OAuthError::new(
                    ErrorCode::LoginRequired,
                    "a second factor is needed for the level asked for",
                ))
            } else {
                Ok(Step::SecondFactor)
            };
        }
    }
    let wants_choice = req.has_scope("enterprise") && actable > 0;
    if wants_choice
        && (req.acting_for.is_none() || (req.has_prompt("select_account") && !req.selected))
    {
        return if none {
            Err(OAuthError::new(
                ErrorCode::AccountSelectionRequired,
                "the person must choose whom to act for",
            ))
        } else {
            Ok(Step::SelectEnterprise)
        };
    }
    let covered = stored_consent.is_some_and(|granted| {
        let granted: Vec<&str> = granted.split(' ').collect();
        req.scopes.iter().all(|s| granted.contains(&s.as_str()))
    });
    if !req.consented && (!covered || req.has_prompt("consent")) {
        return if none {
            Err(OAuthError::new(
                ErrorCode::ConsentRequired,
                "the person has not consented",
            ))
        } else {
            Ok(Step::Consent)
        };
    }
    Ok(Step::Issue)
}

/// What an authorization code stands for; stored as JSON with the code's hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeData {
    pub account_id: String,
    pub session_id: String,
    pub acting_for: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: i64,
    pub acr: String,
    pub amr: Vec<String>,
    pub claims: Option<Value>,
}

/// Issue a code for a finished request; returns the redirect URL with `code`, `state` and `iss`.
pub async fn issue_code(
    ctx: &Provider,
    req: &AuthRequest,
    session: &SessionRow,
    now: i64,
) -> Result<String, OAuthError> {
    let code = random_token();
    let acting_for = req.acting_for.clone().unwrap_or_default();
    let data = CodeData {
        account_id: session.account_id.clone(),
        session_id: session.id.clone(),
        acting_for: acting_for.clone(),
        redirect_uri: req.redirect_uri.clone(),
        scopes: req.scopes.clone(),
        nonce: req.nonce.clone(),
        code_challenge: req.code_challenge.clone(),
        auth_time: session.auth_time,
        acr: session.acr.clone(),
        amr: session.amr.split(' ').map(str::to_owned).collect(),
        claims: req.claims.clone(),
    };
    let json = serde_json::to_string(&data).map_err(|_| OAuthError::server_error())?;
    let grant_id = random_id();
    let mut tx = ctx.db.begin().await?;
    storage::grants::insert_code(
        &mut tx,
        &secret_hash(&code),
        &grant_id,
        &req.client_id,
        &json,
        now,
        ctx.code_ttl,
    )
    .await?;
    tx.commit().await.map_err(StorageError::from)?;
    storage::sessions::add_client(&ctx.db, &session.id, &req.client_id, &acting_for, now).await?;
    Ok(redirect_with(
        ctx,
        &req.redirect_uri,
        &[
            ("code", Some(code.as_str())),
            ("state", req.state.as_deref()),
        ],
    ))
}

/// The client's redirect URI with response parameters, always including RFC 9207 `iss`.
pub fn redirect_with(
    ctx: &Provider,
    redirect_uri: &str,
    params: &[(&str, Option<&str>)],
) -> String {
    let mut url = match url::Url::parse(redirect_uri) {
        Ok(u) => u,
        Err(_) => return redirect_uri.to_owned(),
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
        q.append_pair("iss", &ctx.issuer);
    }
    url.to_string()
}

/// The error redirect for a request that failed after its redirect URI was validated.
pub fn error_redirect(
    ctx: &Provider,
    redirect_uri: &str,
    req_state: Option<&str>,
    e: &OAuthError,
) -> String {
    redirect_with(
        ctx,
        redirect_uri,
        &[
            ("error", Some(e.code.as_str())),
            ("error_description", Some(&e.description)),
            ("state", req_state),
        ],
    )
}

/// The person consents to what the screen named: the scopes and, with `licences`, the licence types
/// (as `licence_type:<code>` entries). Stored with its audit event.
pub async fn give_consent(
    ctx: &Provider,
    account_id: &str,
    client_id: &str,
    acting_for: &str,
    granted: &[String],
    now: i64,
) -> Result<(), StorageError> {
    let mut tx = ctx.db.begin().await?;
    storage::grants::save_consent(
        &mut tx,
        account_id,
        client_id,
        acting_for,
        &granted.join(" "),
        now,
    )
    .await?;
    crate::audit::record(
        &mut tx,
        now,
        &crate::audit::account(account_id),
        crate::audit::Action::ConsentGiven,
        &format!("client:{client_id}"),
        serde_json::json!({ "scopes": granted, "acting_for": acting_for }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
