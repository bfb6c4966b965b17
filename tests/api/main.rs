//! One integration test binary (fast to link). Every test starts its own server on port 0 with a fresh
//! database; `TONGBAN_TEST_DATABASE=postgres` runs the same suite against PostgreSQL.

mod helpers;

mod key_files;

mod holders;

mod admin;
mod agents;
mod assurance;
mod audit;
mod browser;
mod cli;
mod cluster;
mod crash;
mod csrf;
mod demo;
mod docs_page;
mod edge;
mod enterprise;
mod envelope;
mod factors;
mod factors_browser;
mod licences;
mod logs;
mod metrics;
mod negative;
mod oidc_rp;
mod openapi;
mod outage;
mod pairwise;
mod passkeys;
mod portal;
mod proofing;
mod recovery;
mod renew;
mod share_assurance;
mod share_browser;
mod shutdown;
mod sso_browser;
mod supervision;
mod throttle;
mod tlog;
mod tls;
mod verify;
