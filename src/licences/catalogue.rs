//! The licence-type catalogue: what a type is, who may issue it, who may query it under which legal
//! basis, and the JSON Schema its fields must satisfy. Definitions are JSON documents (`tongban
//! licence-type add FILE`), validated once when registered.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::id::LicenceTypeCode;
use crate::domain::Uscc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HolderKind {
    Citizen,
    Enterprise,
}

/// A department allowed to query this type without the holder's consent, and the law that allows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Querier {
    /// The querying department's USCC.
    pub department: String,
    pub legal_basis: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenceType {
    /// The authority's USCC followed by 3 digits.
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    /// Which kinds of holder a licence of this type may have.
    pub holder_kinds: Vec<HolderKind>,
    /// How many holders a licence has at most (2 for a marriage certificate).
    #[serde(default = "one")]
    pub max_holders: usize,
    /// JSON Schema (draft 2020-12) of the licence's fields.
    pub schema: Value,
    /// Fields that become SD-JWT disclosures (holder identifiers always do).
    #[serde(default)]
    pub disclosable: Vec<String>,
    /// Default validity in days; none: does not expire.
    #[serde(default)]
    pub validity_days: Option<i64>,
    /// USCCs of the departments that may issue it.
    pub issuers: Vec<String>,
    #[serde(default)]
    pub queriers: Vec<Querier>,
    /// Whether sharing a licence of this type, and a portal's read of it under consent, need a
    /// sign-in with a second factor (`urn:tongban:loa:2` or higher). Absent: yes for a type held
    /// by citizens with disclosable fields (personal data its holder chooses to reveal), no
    /// otherwise ([`LicenceType::needs_second_factor`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_factor_to_share: Option<bool>,
}

impl LicenceType {
    /// Whether shares and consent reads of this type need a session with a second factor.
    pub fn needs_second_factor(&self) -> bool {
        self.second_factor_to_share.unwrap_or_else(|| {
            self.holder_kinds.contains(&HolderKind::Citizen) && !self.disclosable.is_empty()
        })
    }
}

fn one() -> usize {
    1
}

/// The envelope claims a licence shows besides its fields (pages list only the others as fields).
pub const ENVELOPE: [&str; 10] = [
    "iss",
    "vct",
    "jti",
    "iat",
    "nbf",
    "exp",
    "status",
    "cnf",
    "holders",
    "type_name",
];

/// Every claim name the licence envelope or the SD-JWT format owns: the one list issuance and
/// registration check `fields` against. A field may never take one of these, whatever the type's
/// schema says: the envelope is what verifiers trust (`vct` names the type, `status` the entry that
/// revocation flips, `exp` the validity, `holders` who it is about), so a field that overwrote one
/// would let an issuer's input forge it.
/// - JWT (RFC 7519 §4.1): `iss`, `sub`, `aud`, `exp`, `nbf`, `iat`, `jti`.
/// - SD-JWT VC: `vct`, `vct#integrity`, `status`, `cnf`.
/// - SD-JWT (RFC 9901): `_sd`, `_sd_alg`, `...` (an array element's digest), `sd_hash` (key binding).
/// - Ours: `holders`, `type_name`.
pub const RESERVED: [&str; 17] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "vct",
    "vct#integrity",
    "status",
    "cnf",
    "_sd",
    "_sd_alg",
    "...",
    "sd_hash",
    "holders",
    "type_name",
];

/// The names SD-JWT gives a meaning at every depth of the payload (a verifier processes `_sd` and
/// `...` in nested objects and arrays too), so a field's value may not hold them anywhere.
pub const SD_JWT_OWNED: [&str; 3] = ["_sd", "_sd_alg", "..."];

/// The first reserved name `fields` uses: a top-level field named like an envelope claim, or an
/// SD-JWT name anywhere inside a field's value.
pub fn reserved_name_in(fields: &serde_json::Map<String, Value>) -> Option<&str> {
    fn nested(v: &Value) -> Option<&str> {
        match v {
            Value::Object(m) => m.iter().find_map(|(k, v)| {
                SD_JWT_OWNED
                    .contains(&k.as_str())
                    .then_some(k.as_str())
                    .or_else(|| nested(v))
            }),
            Value::Array(a) => a.iter().find_map(nested),
            _ => None,
        }
    }
    fields.iter().find_map(|(k, v)| {
        RESERVED
            .contains(&k.as_str())
            .then_some(k.as_str())
            .or_else(|| nested(v))
    })
}

/// Why a licence type definition is refused.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("not a licence type: {0}")]
    NotJson(String),
    #[error("code: {0}")]
    Code(String),
    #[error("a licence type needs a Chinese and an English name")]
    Names,
    #[error("holder_kinds must not be empty and max_holders must be 1 to 10")]
    Holders,
    #[error("validity_days must be 1 to {MAX_VALIDITY_DAYS} (or null: no expiry)")]
    ValidityDays,
    #[error("department {uscc}: {why}")]
    Department { uscc: String, why: String },
    #[error("at least one department must be allowed to issue")]
    NoIssuer,
    #[error("every querier needs a legal basis")]
    NoLegalBasis,
    #[error("schema: {0}")]
    Schema(String),
    #[error("the schema must describe an object with properties")]
    NotAnObjectSchema,
    #[error(
        "the schema admits a field named {0}, which belongs to the licence envelope: \
         no property or pattern may name it, and unlisted fields must be refused \
         (\"additionalProperties\": false, or a \"propertyNames\" that excludes it)"
    )]
    ReservedName(&'static str),
    #[error("disclosable field {0} is not in the schema")]
    UnknownDisclosable(String),
}

/// The longest default validity of a licence type: a hundred years.
pub const MAX_VALIDITY_DAYS: i64 = 36_500;

impl LicenceType {
    pub fn parse(json: &str) -> Result<Self, CatalogueError> {
        let t: LicenceType =
            serde_json::from_str(json).map_err(|e| CatalogueError::NotJson(e.to_string()))?;
        t.validate()?;
        Ok(t)
    }

    pub fn validate(&self) -> Result<(), CatalogueError> {
        use CatalogueError as E;
        LicenceTypeCode::parse(&self.code).map_err(|e| E::Code(e.to_string()))?;
        if self.name_zh.trim().is_empty() || self.name_en.trim().is_empty() {
            return Err(E::Names);
        }
        if self.holder_kinds.is_empty() || self.max_holders == 0 || self.max_holders > 10 {
            return Err(E::Holders);
        }
        if self
            .validity_days
            .is_some_and(|d| !(1..=MAX_VALIDITY_DAYS).contains(&d))
        {
            return Err(E::ValidityDays);
        }
        for u in self
            .issuers
            .iter()
            .chain(self.queriers.iter().map(|q| &q.department))
        {
            Uscc::parse(u).map_err(|e| E::Department {
                uscc: u.clone(),
                why: e.to_string(),
            })?;
        }
        if self.issuers.is_empty() {
            return Err(E::NoIssuer);
        }
        if self
            .queriers
            .iter()
            .any(|q| q.legal_basis.trim().is_empty())
        {
            return Err(E::NoLegalBasis);
        }
        jsonschema::validator_for(&self.schema).map_err(|e| E::Schema(e.to_string()))?;
        let props = self.schema.get("properties").and_then(Value::as_object);
        if self.schema.get("type").and_then(Value::as_str) != Some("object") || props.is_none() {
            return Err(E::NotAnObjectSchema);
        }
        if let Some(name) = self.admitted_reserved_name() {
            return Err(E::ReservedName(name));
        }
        for d in &self.disclosable {
            if !props.is_some_and(|p| p.contains_key(d)) {
                return Err(E::UnknownDisclosable(d.clone()));
            }
        }
        Ok(())
    }

    /// A reserved claim name an object valid under the schema could have as a member, if any.
    /// Sound for any schema: at the top level, a name is only refused whatever else the schema says
    /// if `propertyNames` refuses it, or if it is in neither `properties` nor a matching
    /// `patternProperties` while `additionalProperties` is `false` (the applicators, `allOf`, `$ref`,
    /// `if`..., can only refuse more). Patterns are matched by the same `jsonschema` engine that
    /// validates fields.
    fn admitted_reserved_name(&self) -> Option<&'static str> {
        let s = &self.schema;
        let matches = |schema: Value, name: &str| {
            jsonschema::validator_for(&schema).map_or(true, |v| v.is_valid(&Value::from(name)))
        };
        let props = s.get("properties").and_then(Value::as_object);
        let patterns = s.get("patternProperties").and_then(Value::as_object);
        let closed = s.get("additionalProperties") == Some(&Value::Bool(false));
        RESERVED.into_iter().find(|&name| {
            let named = props.is_some_and(|p| p.contains_key(name))
                || patterns.is_some_and(|p| {
                    p.keys()
                        .any(|re| matches(serde_json::json!({ "pattern": re }), name))
                });
            let refused_by_names = s
                .get("propertyNames")
                .is_some_and(|n| !matches(n.clone(), name));
            !refused_by_names && (named || !closed)
        })
    }

    /// Validate licence fields against the schema; the errors name each failing place.
    pub fn check_fields(&self, fields: &Value) -> Result<(), Vec<String>> {
        let Ok(v) = jsonschema::validator_for(&self.schema) else {
            return Err(vec!["the type's schema is invalid".into()]);
        };
        let errors: Vec<String> = v
            .iter_errors(fields)
            .map(|e| format!("{}: {}", e.instance_path(), e))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The schema's `title` for a field, the label a person reads instead of the field name.
    pub fn field_title(&self, field: &str) -> Option<&str> {
        self.schema
            .get("properties")?
            .get(field)?
            .get("title")?
            .as_str()
            .filter(|t| !t.trim().is_empty())
    }

    pub fn may_issue(&self, uscc: &str) -> bool {
        self.issuers.iter().any(|i| i == uscc)
    }

    pub fn legal_basis_for(&self, uscc: &str) -> Option<&str> {
        self.queriers
            .iter()
            .find(|q| q.department == uscc)
            .map(|q| q.legal_basis.as_str())
    }
}
