//! Domain types that know nothing of HTTP or SQL: identifiers parsed at the edge, and small value types.

pub mod ids;
pub mod time;

pub use ids::{DocumentKind, IdDocument, IdError, ResidentId, Uscc};
