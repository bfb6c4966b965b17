//! Electronic licences: GB/T 36904 identifiers, the SD-JWT VC format, IETF token status lists.

pub mod access;
pub mod catalogue;
pub mod consent_read;
pub mod context;
pub mod departments;
pub mod error;
pub mod holdings;
pub mod id;
pub mod issuance;
pub mod issue;
pub mod lookup;
pub mod registry;
pub mod request;
pub mod revocation;
pub mod sdjwt;
pub mod shares;
pub mod statuslist;
pub mod vc;
pub mod verification;
pub mod verify;

pub use context::Licences;
pub use error::LicenceError;
