//! Citizens, enterprises and their agents, credentials, SSO sessions and login throttling.
//! No HTTP here: handlers call these functions with parsed input and `now`.

pub mod accounts;
pub mod contacts;
pub mod context;
pub mod enterprises;
pub mod factors;
pub mod notices;
pub mod passkeys;
pub mod proofing;
pub mod second_factor;
pub mod sessions;
pub mod throttle;
pub mod totp;

pub use context::Identity;
