//! tongban (通办): a unified identity service (an OpenID Connect provider for citizens and enterprises)
//! that will also hold signed electronic licences. See ARCHITECTURE.md for the map; in short:
//!
//! - [`http`]: axum routes, extractors, error mapping, HTML pages, and `AppState` — the only layer that
//!   knows HTTP;
//! - [`oidc`]: the OpenID provider protocol (authorize, token, userinfo, introspection, revocation, logout);
//! - [`identity`]: citizens, enterprises and agents, passwords, SSO sessions, login throttling;
//! - [`crypto`]: keys, JWS, personal-data encryption, argon2id;
//! - [`pki`]: the licence CA (root, intermediate, department certificates) and path validation;
//! - [`audit`]: the hash-chained audit log, the sealer, and the licence transparency log as served;
//! - [`licences`]: electronic licence formats (GB/T 36904 identifiers, SD-JWT VC, status lists);
//! - [`storage`]: all SQL, for SQLite and PostgreSQL;
//! - [`tlog`]: the transparency log's pure cryptography (RFC 9162 Merkle proofs, C2SP signed checkpoints);
//! - [`domain`]: identifiers (GB 11643, GB 32100) and time;
//! - [`cluster`]: cross-node notices applied to the caches (several nodes on one PostgreSQL);
//! - [`config`], [`startup`], [`cli`], [`sched`], [`metrics`]: wiring (and the threads' scheduling policy);
//! - [`demo`]: `tongban demo`, the service with a seeded world and two sample portals.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod audit;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod domain;
pub mod http;
pub mod identity;
pub mod licences;
pub mod mail;
pub mod metrics;
pub mod oidc;
pub mod pki;
pub mod sched;
pub mod startup;

pub mod storage;
pub mod tlog;
