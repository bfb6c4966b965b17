//! One integration test binary (fast to link). Every test starts its own server on port 0 with a fresh
//! database; `TONGBAN_TEST_DATABASE=postgres` runs the same suite against PostgreSQL.

mod helpers;

mod holders;

mod admin;
mod audit;
mod browser;
mod cli;
mod cluster;
mod crash;
mod csrf;
mod demo;
mod enterprise;
mod licences;
mod metrics;
mod negative;
mod oidc_rp;
mod openapi;
mod pairwise;
mod portal;
mod renew;
mod shutdown;
mod sso_browser;
mod supervision;
mod tlog;
mod tls;
mod verify;
