//! Discovery metadata (OpenID Connect Discovery 1.0, RFC 8414). Truthful: it lists only what works.
//! The endpoint paths are the constants the router mounts, so the two cannot drift apart.

use serde_json::{json, Value};

use super::clients::{AuthMethod, KNOWN_SCOPES};

pub mod paths {
    pub const DISCOVERY: &str = "/.well-known/openid-configuration";
    pub const AS_METADATA: &str = "/.well-known/oauth-authorization-server";
    pub const JWKS: &str = "/jwks";
    pub const AUTHORIZE: &str = "/authorize";
    pub const AUTHORIZE_RESUME: &str = "/authorize/resume";
    pub const TOKEN: &str = "/token";
    pub const USERINFO: &str = "/userinfo";
    pub const INTROSPECT: &str = "/introspect";
    pub const REVOKE: &str = "/revoke";
    pub const LOGOUT: &str = "/logout";
}

pub fn metadata(issuer: &str, passkeys: bool) -> Value {
    let u = |p: &str| format!("{issuer}{p}");
    let auth_methods = AuthMethod::ALL;
    json!({
        "issuer": issuer,
        "authorization_endpoint": u(paths::AUTHORIZE),
        "token_endpoint": u(paths::TOKEN),
        "userinfo_endpoint": u(paths::USERINFO),
        "jwks_uri": u(paths::JWKS),
        "introspection_endpoint": u(paths::INTROSPECT),
        "revocation_endpoint": u(paths::REVOKE),
        "end_session_endpoint": u(paths::LOGOUT),
        "scopes_supported": KNOWN_SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["pairwise", "public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "userinfo_signing_alg_values_supported": [],
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256", "PS256"],
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid", "azp", "at_hash",
            "name", "email", "email_verified", "phone_number", "phone_number_verified", "id_number", "id_type",
            "act", "org_uscc", "org_name", "agent_role", "agent_permissions"
        ],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "acr_values_supported": super::assurance::SUPPORTED,
        "amr_values_supported": super::assurance::methods(passkeys),
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "ui_locales_supported": ["zh-CN", "en"],
        "claims_locales_supported": ["zh-CN"],
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": false,
    })
}
