//! Levels of assurance asked for and met. `acr` combines how sure we are who the person is (claimed
//! or proven) with how strongly they signed in (DESIGN.md): `urn:tongban:loa:1` one factor,
//! `loa:2` two factors, `loa:3` two factors and a proven identity. A request that asks for a level
//! (`acr_values`, or an essential `acr` in `claims`) gets it or the error
//! `unmet_authentication_requirements` (OpenID Connect Core Unmet Authentication Requirements 1.0),
//! never a lower `acr`.

use serde_json::Value;

use super::error::{ErrorCode, OAuthError};
pub use crate::identity::sessions::{LOA1, LOA2, LOA3};

/// The levels a session can reach, as discovery advertises them: a password (1), a password and a
/// second factor (2), and those with a proven identity (3).
pub const SUPPORTED: &[&str] = &[LOA1, LOA2, LOA3];

/// The authentication methods (RFC 8176 `amr`) a session's `amr` can hold, as discovery lists
/// them: a password, one-time codes, and with passkeys (when the issuer is on a domain name) a key
/// in hardware or software with the person's verification.
pub fn methods(passkeys: bool) -> Vec<&'static str> {
    if passkeys {
        vec!["pwd", "otp", "hwk", "swk", "user", "mfa"]
    } else {
        vec!["pwd", "otp", "mfa"]
    }
}

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

/// What a request's level asks of a session.
#[derive(Debug, PartialEq, Eq)]
pub enum Need {
    /// Nothing more: no level asked, or the session meets it.
    Met,
    /// A second factor: the account can reach a level asked for, the session is below it.
    StepUp,
}

/// Whether the request asks for a level at all (`acr_values`, or an essential `acr` in `claims`).
pub fn asks(acr_values: &[String], claims: Option<&Value>) -> bool {
    !requested(acr_values, claims).is_empty()
}

/// Does a session at `session_acr`, for an account that can reach level `reach`
/// (`identity::sessions::reach`), meet what the request asks for? A request naming levels is met
/// by a session at the lowest of them or above; below it, a second factor raises the session
/// when the account can reach a level asked for; naming only levels the account cannot reach is
/// the error. (`acr_values` and `claims` as the authorization request gave them.)
pub fn check(
    acr_values: &[String],
    claims: Option<&Value>,
    session_acr: &str,
    reach: u8,
) -> Result<Need, OAuthError> {
    let asked = requested(acr_values, claims);
    if asked.is_empty() {
        return Ok(Need::Met);
    }
    let have = level(session_acr).unwrap_or(0);
    let reachable = asked
        .iter()
        .filter_map(|a| level(a))
        .filter(|l| *l <= reach)
        .min();
    match reachable {
        _ if asked.iter().filter_map(|a| level(a)).any(|l| l <= have) => Ok(Need::Met),
        Some(_) => Ok(Need::StepUp),
        None => Err(OAuthError::new(
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
    fn a_level_asked_for_is_met_stepped_up_or_refused_never_lowered() {
        let none: &[String] = &[];
        assert_eq!(
            check(none, None, LOA1, 1).unwrap(),
            Need::Met,
            "nothing asked"
        );
        assert_eq!(check(&[LOA1.into()], None, LOA1, 1).unwrap(), Need::Met);
        assert!(
            check(&[LOA2.into()], None, LOA1, 1).is_err(),
            "loa 2 without a second factor"
        );
        assert_eq!(check(&[LOA2.into()], None, LOA1, 2).unwrap(), Need::StepUp);
        assert_eq!(check(&[LOA2.into()], None, LOA2, 2).unwrap(), Need::Met);
        assert_eq!(check(&[LOA2.into()], None, LOA3, 3).unwrap(), Need::Met);
        assert!(
            check(&[LOA3.into()], None, LOA2, 2).is_err(),
            "loa 3 needs a proven identity"
        );
        assert_eq!(check(&[LOA3.into()], None, LOA2, 3).unwrap(), Need::StepUp);
        assert_eq!(
            check(&[LOA3.into(), LOA1.into()], None, LOA1, 1).unwrap(),
            Need::Met,
            "the lowest acceptable"
        );
        assert!(
            check(&["urn:other".into()], None, LOA3, 3).is_err(),
            "unknown levels are unmet"
        );
        let essential = json!({ "id_token": { "acr": { "essential": true, "value": LOA3 } } });
        assert!(check(none, Some(&essential), LOA1, 2).is_err());
        assert_eq!(
            check(none, Some(&essential), LOA1, 3).unwrap(),
            Need::StepUp
        );
        let voluntary = json!({ "id_token": { "acr": { "values": [LOA3] } } });
        assert_eq!(
            check(none, Some(&voluntary), LOA1, 1).unwrap(),
            Need::Met,
            "a voluntary claim asks nothing"
        );
        let e = check(&[LOA2.into()], None, LOA1, 1).unwrap_err();
        assert_eq!(e.code.as_str(), "unmet_authentication_requirements");
    }
}
