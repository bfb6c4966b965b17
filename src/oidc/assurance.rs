//! Levels of assurance asked for and met. `acr` combines how sure we are who the person is (claimed
//! or proven) with how strongly they signed in (DESIGN.md): `urn:tongban:loa:1` one factor,
//! `loa:2` two factors, `loa:3` two factors and a proven identity. A request that asks for a level
//! (`acr_values`, or an essential `acr` in `claims`) gets it or the error
//! `unmet_authentication_requirements` (OpenID Connect Core Unmet Authentication Requirements 1.0),
//! never a lower `acr`.

use serde_json::Value;

use super::error::{ErrorCode, OAuthError};
pub use crate::identity::sessions::{LOA1, LOA2, LOA3};

/// The levels a session can reach today, as discovery advertises them: passwords only, so one
/// factor. (Second factors, when they land, add `LOA2` and `LOA3` here and in `level`'s callers.)
pub const SUPPORTED: &[&str] = &[LOA1];

/// The level of an `acr` value, if it is one of ours and one a session can reach now.
pub fn level(acr: &str) -> Option<u8> {
    if !SUPPORTED.contains(&acr) {
        return None;
    }
    match acr {
        LOA1 => Some(1),
        LOA2 => Some(2),
        LOA3 => Some(3),
        _ => None,
    }
}

/// The `acr` values the request accepts: `acr_values`, and the `values`/`value` of an essential
/// `acr` in `claims` (for the ID token or userinfo). Empty: no requirement.
fn requested(acr_values: &[String], claims: Option<&Value>) -> Vec<String> {
    let mut out = acr_values.to_vec();
    for target in ["id_token", "userinfo"] {
        let acr = claims
            .and_then(|c| c.get(target))
            .and_then(|t| t.get("acr"));
        let Some(acr) = acr.filter(|a| a["essential"] == Value::Bool(true)) else {
            continue;
        };
        if let Some(v) = acr["value"].as_str() {
            out.push(v.to_owned());
        }
        if let Some(vs) = acr["values"].as_array() {
            out.extend(vs.iter().filter_map(Value::as_str).map(str::to_owned));
        }
    }
    out
}

/// Does a session at `session_acr` meet what the request asks for? A request naming levels is met
/// by a session at the lowest of them or above; naming only levels that cannot be reached, never.
/// (`acr_values` and `claims` as the authorization request gave them.)
pub fn check(
    acr_values: &[String],
    claims: Option<&Value>,
    session_acr: &str,
) -> Result<(), OAuthError> {
    let asked = requested(acr_values, claims);
    if asked.is_empty() {
        return Ok(());
    }
    let have = level(session_acr).unwrap_or(0);
    let lowest = asked.iter().filter_map(|a| level(a)).min();
    match lowest {
        Some(l) if have >= l => Ok(()),
        _ => Err(OAuthError::new(
            ErrorCode::UnmetAuthenticationRequirements,
            "the level of assurance asked for cannot be reached for this account",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_level_asked_for_is_met_or_refused_never_lowered() {
        let none: &[String] = &[];
        assert!(check(none, None, LOA1).is_ok(), "nothing asked");
        assert!(check(&[LOA1.into()], None, LOA1).is_ok());
        assert!(
            check(&[LOA2.into()], None, LOA1).is_err(),
            "loa 2 is not reachable yet"
        );
        assert!(
            check(&[LOA3.into(), LOA1.into()], None, LOA1).is_ok(),
            "the lowest acceptable"
        );
        assert!(
            check(&["urn:other".into()], None, LOA1).is_err(),
            "unknown levels are unmet"
        );
        let essential = json!({ "id_token": { "acr": { "essential": true, "value": LOA3 } } });
        assert!(check(none, Some(&essential), LOA1).is_err());
        let voluntary = json!({ "id_token": { "acr": { "values": [LOA3] } } });
        assert!(
            check(none, Some(&voluntary), LOA1).is_ok(),
            "a voluntary claim asks nothing"
        );
        let e = check(&[LOA2.into()], None, LOA1).unwrap_err();
        assert_eq!(e.code.as_str(), "unmet_authentication_requirements");
    }
}
