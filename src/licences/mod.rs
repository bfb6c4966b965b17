//! Electronic licences: GB/T 36904 identifiers, the SD-JWT VC format, IETF token status lists.

pub mod id;
pub mod sdjwt;
pub mod statuslist;
