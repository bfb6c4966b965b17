//! What a department system sends to issue a licence, read strictly: what the API document's schema
//! refuses is refused when the body is read, so that a batch holding such a licence is refused whole.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::catalogue::HolderKind;
use crate::domain::DocumentKind;

/// The last second of 9999-12-31 (UTC): the latest valid_from or valid_until.
pub const MAX_TIME: i64 = 253_402_300_799;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HolderRef {
    pub kind: HolderKind,
    /// For citizens: `resident` (default), `passport`, `hk_macao_permit`, `taiwan_permit`.
    #[serde(
        default,
        deserialize_with = "known_id_kind",
        skip_serializing_if = "Option::is_none"
    )]
    pub id_kind: Option<String>,
    /// Identity document number, or the enterprise's USCC.
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueRequest {
    pub type_code: String,
    #[serde(deserialize_with = "some_holders")]
    pub holders: Vec<HolderRef>,
    /// An object (the schema's `type: object`), checked when the body is read: see `known_id_kind`.
    pub fields: Map<String, Value>,
    #[serde(default, deserialize_with = "calendar_time")]
    pub valid_from: Option<i64>,
    #[serde(default, deserialize_with = "calendar_time")]
    pub valid_until: Option<i64>,
    /// The identifier of a licence this one replaces: it is revoked with reason `superseded`.
    #[serde(default)]
    pub supersedes: Option<String>,
    /// When the application for this licence was filed (Unix seconds), if the department reports
    /// it: supervision measures the time from application to issuance.
    #[serde(default)]
    pub applied_at: Option<i64>,
}

/// Refuses, when the body is read, an id_kind the API document's `IdKind` does not list, so that a
/// batch holding such a licence is refused whole (`invalid-json`) like any body that does not match
/// the schema; only what the schema cannot say is answered per licence.
fn known_id_kind<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let kind = Option::<String>::deserialize(d)?;
    match kind.as_deref().map(DocumentKind::parse) {
        Some(None) => Err(serde::de::Error::custom(
            "id_kind is not resident, passport, hk_macao_permit or taiwan_permit",
        )),
        _ => Ok(kind),
    }
}

/// Refuses, when the body is read, a valid_from or valid_until outside 0..=MAX_TIME (the schema's
/// minimum and maximum), for the same reason as `known_id_kind`.
fn calendar_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let t = Option::<i64>::deserialize(d)?;
    if t.is_some_and(|t| !(0..=MAX_TIME).contains(&t)) {
        return Err(serde::de::Error::custom(
            "valid_from and valid_until must be Unix times from 1970 to the end of 9999",
        ));
    }
    Ok(t)
}

/// Refuses an empty `holders` when the body is read (the schema's `minItems: 1`), for the same reason.
fn some_holders<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<HolderRef>, D::Error> {
    let holders = Vec::<HolderRef>::deserialize(d)?;
    if holders.is_empty() {
        return Err(serde::de::Error::custom("holders must not be empty"));
    }
    Ok(holders)
}

/// An idempotent request: the response is recorded with the licence, in the same transaction.
pub struct Idempotency<'a> {
    pub client_id: &'a str,
    pub key: &'a str,
    pub request_hash: Vec<u8>,
}
