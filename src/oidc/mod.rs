//! The OpenID provider protocol: discovery, authorization, tokens, userinfo, introspection, revocation,
//! logout (RP-initiated and back-channel), consent and clients. No HTTP types here: the handlers in
//! `http::oauth` (JSON endpoints) and `http::pages::flow` (authorize, logout) parse requests into
//! [`params::Params`] and call these functions.

pub mod account;
pub mod assurance;
pub mod authorize;
pub mod claims;
pub mod clients;
pub mod consents;
pub mod context;
pub mod denylist;
pub mod discovery;
pub mod error;
pub mod flow;
pub mod grants;
pub mod introspection;
pub mod logout;
pub mod params;
pub mod pending;
pub mod registration;
pub mod subject;
pub mod tokens;

pub use context::Provider;
