//! The relying-party side of a demo portal, as any department would write it against tongban's
//! public interfaces: the `openidconnect` crate for discovery and the code flow (PKCE S256, state,
//! nonce, RFC 9207 `iss`, ID token and `at_hash` validation), the licence API read with the holder's
//! consent and checked with the public verification endpoint, RP-initiated logout, and back-channel
//! logout tokens validated against the provider's JWKS.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde_json::{json, Value};

use super::kind::Setup;
use crate::licences::verify::Verdict;

const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

type OidcClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Why a sign-in, a licence read or a logout token failed; each carries a detail for the page or log.
#[derive(Debug, thiserror::Error)]
pub enum RpError {
    /// The provider redirected back with an error (e.g. `access_denied` when consent was refused).
    #[error("the provider answered {0}")]
    Provider(String),
    /// The callback does not belong to a sign-in this portal started, or lacks its parameters.
    #[error("{0}")]
    BadCallback(&'static str),
    /// The token endpoint or the ID token failed.
    #[error("{0}")]
    Token(String),
    /// The licence API or the verification endpoint failed.
    #[error("{0}")]
    Api(String),
    /// A back-channel logout token was refused.
    #[error("{0}")]
    LogoutToken(String),
}

/// A sign-in in progress: what the callback needs.
pub struct Started {
    /// Where to send the browser.
    pub url: String,
    /// The `state` parameter, which keys the pending sign-in.
    pub state: String,
    pub verifier: PkceCodeVerifier,
    pub nonce: Nonce,
}

/// The enterprise a person signed in for (the `org_*` claims).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Org {
    pub name: String,
    pub uscc: String,
    pub role: String,
}

/// A completed sign-in, from a validated ID token.
pub struct SignedIn {
    pub sub: String,
    pub sid: Option<String>,
    /// The person's name (the `profile` scope): the agent's, when acting for an enterprise.
    pub name: String,
    pub org: Option<Org>,
    pub id_token: String,
    pub access_token: String,
}

/// One field of a licence, labelled for the page.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Field {
    pub key: String,
    pub label: String,
    pub value: String,
}

/// A licence as the portal shows it: read with consent, then verified.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ShownLicence {
    pub id: String,
    pub type_name: String,
    pub valid: bool,
    /// The verdict, in Chinese and English.
    pub verdict_zh: &'static str,
    pub verdict_en: &'static str,
    /// The issuing department's `iss`.
    pub issuer: String,
    /// The holders, as disclosed: "name (id)".
    pub holders: Vec<String>,
    pub fields: Vec<Field>,
}

pub struct Rp {
    oidc: OidcClient,
    /// No redirects (the openidconnect crate requires it), bounded.
    http: reqwest::Client,
    pub issuer: String,
    client_id: String,
    scopes: &'static [&'static str],
}

impl Rp {
    /// Discover the provider and configure the client.
    pub async fn discover(setup: &Setup, issuer: &str) -> anyhow::Result<Rp> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()?;
        let meta = CoreProviderMetadata::discover_async(IssuerUrl::new(issuer.to_owned())?, &http)
            .await
            .map_err(|e| anyhow::anyhow!("discovering {issuer}: {e}"))?;
        let oidc = CoreClient::from_provider_metadata(
            meta,
            ClientId::new(setup.client_id.clone()),
            Some(ClientSecret::new(setup.client_secret().to_owned())),
        )
        .set_redirect_uri(RedirectUrl::new(format!("{}/callback", setup.base))?);
        Ok(Rp {
            oidc,
            http,
            issuer: issuer.to_owned(),
            client_id: setup.client_id.clone(),
            scopes: setup.kind.scopes(),
        })
    }

    /// Start the code flow: an authorization URL with PKCE, state and nonce.
    pub fn start(&self) -> Started {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req = self.oidc.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for s in self.scopes.iter().filter(|s| **s != "openid") {
            req = req.add_scope(Scope::new((*s).to_owned()));
        }
        let (url, state, nonce) = req.set_pkce_challenge(challenge).url();
        Started {
            url: url.to_string(),
            state: state.secret().clone(),
            verifier,
            nonce,
        }
    }

    /// Finish the code flow: exchange the code (client_secret_basic) and validate the ID token.
    pub async fn finish(
        &self,
        code: &str,
        iss: Option<&str>,
        verifier: PkceCodeVerifier,
        nonce: &Nonce,
    ) -> Result<SignedIn, RpError> {
        if iss.is_some_and(|i| i != self.issuer) {
            return Err(RpError::BadCallback(
                "the response's iss does not name our provider (RFC 9207)",
            ));
        }
        let tokens = self
            .oidc
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| RpError::Token(format!("client configuration: {e}")))?
            .set_pkce_verifier(verifier)
            .request_async(&self.http)
            .await
            .map_err(|e| RpError::Token(format!("the token exchange failed: {e}")))?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| RpError::Token("no ID token".into()))?;
        let idv = self.oidc.id_token_verifier().set_allowed_algs(vec![
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        ]);
        let claims = id_token
            .claims(&idv, nonce)
            .map_err(|e| RpError::Token(format!("the ID token does not validate: {e}")))?;
        if let Some(expected) = claims.access_token_hash() {
            let (Ok(alg), Ok(key)) = (id_token.signing_alg(), id_token.signing_key(&idv)) else {
                return Err(RpError::Token("no signing key for at_hash".into()));
            };
            match AccessTokenHash::from_token(tokens.access_token(), alg, key) {
                Ok(actual) if actual == *expected => {}
                _ => return Err(RpError::Token("at_hash does not match".into())),
            }
        }
        let raw = id_token.to_string();
        // Validated above; `sid` and the enterprise claims are not among the crate's standard claims.
        let payload = raw
            .split('.')
            .nth(1)
            .and_then(crate::crypto::b64url_decode)
            .and_then(|p| serde_json::from_slice::<Value>(&p).ok())
            .unwrap_or(Value::Null);
        let text = |k: &str| payload[k].as_str().map(str::to_owned);
        let org = match (text("org_name"), text("org_uscc")) {
            (Some(name), Some(uscc)) => Some(Org {
                name,
                uscc,
                role: text("agent_role").unwrap_or_default(),
            }),
            _ => None,
        };
        Ok(SignedIn {
            sub: claims.subject().to_string(),
            sid: text("sid"),
            name: text("name").unwrap_or_default(),
            org,
            id_token: raw,
            access_token: tokens.access_token().secret().clone(),
        })
    }

    /// Read the holder's licences of the consented types (`GET /api/v1/me/licences` with the
    /// purpose, logged in the holder's access log), and verify each (`POST /api/v1/verify`).
    pub async fn licences(
        &self,
        access_token: &str,
        purpose: &str,
    ) -> Result<Vec<ShownLicence>, RpError> {
        let api = |e: reqwest::Error| RpError::Api(format!("the licence repository: {e}"));
        let r = self
            .http
            .get(format!("{}/api/v1/me/licences", self.issuer))
            .query(&[("purpose", purpose)])
            .bearer_auth(access_token)
            .send()
            .await
            .map_err(api)?;
        if !r.status().is_success() {
            let status = r.status();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            return Err(RpError::Api(format!(
                "the licence repository answered {status}: {}",
                body["detail"].as_str().unwrap_or("")
            )));
        }
        let body: Value = r.json().await.map_err(api)?;
        let mut shown = Vec::new();
        for l in body["licences"].as_array().into_iter().flatten() {
            let licence = l["licence"].as_str().unwrap_or_default();
            let report: Value = self
                .http
                .post(format!("{}/api/v1/verify", self.issuer))
                .json(&json!({ "licence": licence }))
                .send()
                .await
                .map_err(api)?
                .json()
                .await
                .map_err(api)?;
            shown.push(show(l, &report));
        }
        Ok(shown)
    }

    /// RP-initiated logout at the provider, returning to `post_logout`.
    pub fn logout_url(&self, id_token: &str, post_logout: &str) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("id_token_hint", id_token),
                ("post_logout_redirect_uri", post_logout),
            ])
            .finish();
        format!("{}/logout?{query}", self.issuer)
    }

    /// OpenID Connect Back-Channel Logout 1.0 §2.6: the provider's signature (by kid, from its
    /// JWKS), `typ: logout+jwt`, iss, aud, iat (and exp if present), the back-channel event, sid
    /// and/or sub, no nonce, and a jti not seen before. Returns (sub, sid).
    pub async fn logout_token(
        &self,
        token: &str,
        seen_jtis: &std::sync::Mutex<HashSet<String>>,
    ) -> Result<(Option<String>, Option<String>), RpError> {
        let bad = |m: String| RpError::LogoutToken(m);
        let header =
            josekit::jwt::decode_header(token).map_err(|e| bad(format!("not a JWT: {e}")))?;
        let claim = |k: &str| header.claim(k).and_then(Value::as_str).map(str::to_owned);
        if claim("typ").as_deref() != Some("logout+jwt") {
            return Err(bad("typ is not logout+jwt".into()));
        }
        let (alg, kid) = match (claim("alg"), claim("kid")) {
            (Some(a), Some(k)) => (a, k),
            _ => return Err(bad("no alg or kid".into())),
        };
        let jwks = self
            .http
            .get(format!("{}/jwks", self.issuer))
            .send()
            .await
            .map_err(|e| bad(format!("fetching the JWKS: {e}")))?
            .bytes()
            .await
            .map_err(|e| bad(format!("reading the JWKS: {e}")))?;
        let set = josekit::jwk::JwkSet::from_bytes(&jwks)
            .map_err(|e| bad(format!("the JWKS does not parse: {e}")))?;
        let jwk = *set
            .get(&kid)
            .first()
            .ok_or_else(|| bad(format!("no key {kid} in the provider's JWKS")))?;
        let verifier: Box<dyn josekit::jws::JwsVerifier> = match alg.as_str() {
            "ES256" => Box::new(
                josekit::jws::ES256
                    .verifier_from_jwk(jwk)
                    .map_err(|e| bad(e.to_string()))?,
            ),
            "RS256" => Box::new(
                josekit::jws::RS256
                    .verifier_from_jwk(jwk)
                    .map_err(|e| bad(e.to_string()))?,
            ),
            other => return Err(bad(format!("alg {other} is not accepted"))),
        };
        let (payload, _) = josekit::jwt::decode_with_verifier(token, &*verifier)
            .map_err(|e| bad(format!("signature: {e}")))?;
        if payload.issuer() != Some(self.issuer.as_str()) {
            return Err(bad("iss is not our provider".into()));
        }
        if !payload
            .audience()
            .is_some_and(|a| a.contains(&self.client_id.as_str()))
        {
            return Err(bad("aud does not name this portal".into()));
        }
        let now = SystemTime::now();
        let iat = payload.issued_at().ok_or_else(|| bad("no iat".into()))?;
        if iat > now + Duration::from_secs(60) {
            return Err(bad("iat is in the future".into()));
        }
        if payload.expires_at().is_some_and(|exp| exp <= now) {
            return Err(bad("expired".into()));
        }
        let has_event = payload
            .claim("events")
            .and_then(Value::as_object)
            .and_then(|e| e.get(BACKCHANNEL_EVENT))
            .is_some_and(Value::is_object);
        if !has_event {
            return Err(bad("no back-channel logout event".into()));
        }
        if payload.claim("nonce").is_some() {
            return Err(bad("a logout token must not contain a nonce".into()));
        }
        let sub = payload.subject().map(str::to_owned);
        let sid = payload
            .claim("sid")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if sub.is_none() && sid.is_none() {
            return Err(bad("neither sub nor sid".into()));
        }
        let jti = payload.jwt_id().ok_or_else(|| bad("no jti".into()))?;
        let fresh = seen_jtis
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(jti.to_owned());
        if !fresh {
            return Err(bad("jti replayed".into()));
        }
        Ok((sub, sid))
    }
}

/// Labels for the fields the demo's licence types carry, in the order a page shows them; other
/// fields follow under their own names.
const LABELS: [(&str, &str); 9] = [
    ("company_name", "名称 Name"),
    ("company_type", "类型 Type"),
    ("legal_representative", "法定代表人 Legal representative"),
    ("registered_capital", "注册资本 Registered capital"),
    ("established", "成立日期 Established"),
    ("address", "住所 Address"),
    ("business_scope", "经营范围 Business scope"),
    ("registration_date", "登记日期 Registered on"),
    ("certificate_number", "证书字号 Certificate number"),
];

/// (position, label) of a field.
fn label(key: &str) -> (usize, String) {
    LABELS
        .iter()
        .position(|(k, _)| *k == key)
        .map_or((LABELS.len(), key.to_owned()), |i| {
            (i, LABELS[i].1.to_owned())
        })
}

fn verdict_zh(v: Verdict) -> &'static str {
    match v {
        Verdict::Valid => "真实有效",
        Verdict::Revoked => "已注销",
        Verdict::Suspended => "已中止",
        Verdict::Expired => "已过期",
        Verdict::NotYetValid => "尚未生效",
        Verdict::Tampered => "已被篡改",
        Verdict::NotIssuedHere => "非本证照库签发",
        Verdict::NotInLog => "未记入透明日志",
        Verdict::InvalidCertificate => "部门证书无效",
        Verdict::Malformed => "格式错误",
    }
}

/// A licence and its verification report, for the page.
fn show(l: &Value, report: &Value) -> ShownLicence {
    let verdict =
        serde_json::from_value::<Verdict>(report["verdict"].clone()).unwrap_or(Verdict::Malformed);
    let claims = report["claims"].as_object();
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut fields: Vec<(usize, Field)> = claims
        .into_iter()
        .flatten()
        .filter(|(k, _)| !crate::licences::catalogue::ENVELOPE.contains(&k.as_str()))
        .map(|(k, v)| {
            let (at, label) = label(k);
            let f = Field {
                key: k.clone(),
                label,
                value: text(v),
            };
            (at, f)
        })
        .collect();
    fields.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.key.cmp(&b.1.key)));
    let fields = fields.into_iter().map(|(_, f)| f).collect();
    let holders = claims
        .and_then(|c| c.get("holders"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|h| format!("{} ({})", text(&h["name"]), text(&h["id"])))
        .collect();
    ShownLicence {
        id: text(&l["id"]),
        type_name: l["type_name"].as_str().unwrap_or_default().to_owned(),
        valid: verdict == Verdict::Valid,
        verdict_zh: verdict_zh(verdict),
        verdict_en: verdict.describe(),
        issuer: report["issuer"].as_str().unwrap_or_default().to_owned(),
        holders,
        fields,
    }
}
