//! The GB/T 36904-2018 electronic licence identifier (电子证照标识), the `jti` of every licence:
//!
//! ```text
//! 1.2.156.3005.2.<licence type code>.<issuer USCC>.<serial>.<version>.<check character>
//! ```
//!
//! - the licence type code is the defining authority's unified social credit code (18 characters)
//!   followed by 3 digits, e.g. `11100000000013338W032`;
//! - the issuer is the issuing department's unified social credit code;
//! - the serial is chosen by the issuer. This module accepts 1 to 32 characters from `0-9A-Z` when
//!   parsing (identifiers issued elsewhere on the national platform carry serials of 7 to 20
//!   digits), and issues 20 random characters from `0-9A-Z` itself ([`LicenceId::random_serial`],
//!   about 103 bits: serials are not guessable);
//! - the version has exactly 3 digits (`001` for a first issue);
//! - the check character is ISO/IEC 7064 MOD 37,36 (GB/T 17710), hybrid system over the alphabet
//!   `0-9A-Z`, computed over type code ‖ issuer ‖ serial ‖ version: the four components
//!   concatenated without their dots, without the `1.2.156.3005.2` prefix and without the check
//!   character itself. Real identifiers from the national platform confirm this reading (see
//!   the tests).
//!
//! Identifiers are canonical: upper case, no spaces. [`LicenceId::parse`] rejects anything else
//! rather than repairing it, so one licence has exactly one spelling.

use std::fmt;
use std::str::FromStr;

use rand::Rng;

use crate::domain::{IdError, Uscc};

/// The OID arc every GB/T 36904 identifier starts with.
pub const OID_PREFIX: &str = "1.2.156.3005.2";

/// Length of the serials this service issues.
pub const SERIAL_LEN: usize = 20;
/// Longest serial accepted when parsing.
pub const MAX_SERIAL_LEN: usize = 32;

/// The ISO/IEC 7064 MOD 37,36 alphabet; a character's value is its position.
const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LicenceIdError {
    #[error("a licence identifier starts with `1.2.156.3005.2.`")]
    Prefix,
    #[error("a licence identifier has five dot-separated parts after its prefix: type code, issuer, serial, version, check character")]
    Structure,
    #[error("a licence type code is the defining authority's unified social credit code followed by 3 digits")]
    TypeCodeFormat,
    #[error("the licence type code's authority is not a valid unified social credit code")]
    TypeAuthority(#[source] IdError),
    #[error("the licence issuer is not a valid unified social credit code")]
    Issuer(#[source] IdError),
    #[error("a licence serial has 1 to 32 characters from 0-9 and A-Z")]
    Serial,
    #[error("a licence version has exactly 3 digits")]
    Version,
    #[error("the licence identifier's check character does not match")]
    Check,
}

/// ISO/IEC 7064 MOD 37,36 check character for `input` (characters `0-9A-Z`, upper case only), or
/// `None` if `input` holds any other character.
///
/// Hybrid system with M = 36: start with P = M; for each character value a, S = (P + a) mod M
/// (0 counts as M) and P = 2·S mod (M + 1); the check character c satisfies (P + c) mod M = 1.
pub fn mod37_36_check(input: &str) -> Option<char> {
    let p = input
        .bytes()
        .try_fold(36u32, |p, c| Some(mod37_36_step(p, value(c)?)))?;
    Some(char::from(ALPHABET[((37 - p) % 36) as usize]))
}

/// Whether `input` ends with its correct ISO/IEC 7064 MOD 37,36 check character.
pub fn mod37_36_valid(input: &str) -> bool {
    let Some((last, body)) = input.as_bytes().split_last() else {
        return false;
    };
    let Some(p) = body
        .iter()
        .try_fold(36u32, |p, &c| Some(mod37_36_step(p, value(c)?)))
    else {
        return false;
    };
    value(*last).is_some_and(|c| (p + c) % 36 == 1)
}

fn mod37_36_step(p: u32, a: u32) -> u32 {
    let s = match (p + a) % 36 {
        0 => 36,
        s => s,
    };
    (s * 2) % 37
}

fn value(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some(u32::from(c - b'0')),
        b'A'..=b'Z' => Some(u32::from(c - b'A') + 10),
        _ => None,
    }
}

fn is_upper_alnum(s: &str) -> bool {
    s.bytes()
        .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
}

/// A licence type code: the defining authority's USCC followed by 3 digits (21 characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LicenceTypeCode(String);

impl LicenceTypeCode {
    /// Parses a canonical (upper-case) type code.
    pub fn parse(input: &str) -> Result<Self, LicenceIdError> {
        if input.len() != 21 || !is_upper_alnum(input) {
            return Err(LicenceIdError::TypeCodeFormat);
        }
        let (authority, number) = input.split_at(18);
        if !number.bytes().all(|c| c.is_ascii_digit()) {
            return Err(LicenceIdError::TypeCodeFormat);
        }
        Uscc::parse(authority).map_err(LicenceIdError::TypeAuthority)?;
        Ok(Self(input.to_owned()))
    }

    /// The defining authority's unified social credit code (the first 18 characters).
    pub fn authority(&self) -> &str {
        &self.0[..18]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LicenceTypeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A validated GB/T 36904 electronic licence identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LicenceId {
    full: String,
    type_code: LicenceTypeCode,
    issuer: Uscc,
    serial: String,
    version: u16,
    check: char,
}

impl LicenceId {
    /// Builds an identifier and computes its check character. `version` is 0 to 999 (written
    /// with 3 digits); `serial` is 1 to 32 characters from `0-9A-Z`.
    pub fn new(
        type_code: &LicenceTypeCode,
        issuer: &Uscc,
        serial: &str,
        version: u16,
    ) -> Result<Self, LicenceIdError> {
        if serial.is_empty() || serial.len() > MAX_SERIAL_LEN || !is_upper_alnum(serial) {
            return Err(LicenceIdError::Serial);
        }
        if version > 999 {
            return Err(LicenceIdError::Version);
        }
        let body = format!("{type_code}{issuer}{serial}{version:03}");
        // Every character of `body` is in 0-9A-Z (checked above or by the USCC parsers).
        let check = mod37_36_check(&body).ok_or(LicenceIdError::Serial)?;
        Ok(Self {
            full: format!("{OID_PREFIX}.{type_code}.{issuer}.{serial}.{version:03}.{check}"),
            type_code: type_code.clone(),
            issuer: issuer.clone(),
            serial: serial.to_owned(),
            version,
            check,
        })
    }

    /// Parses and validates a canonical identifier: structure, both USCCs, serial, version and
    /// check character.
    pub fn parse(input: &str) -> Result<Self, LicenceIdError> {
        let rest = input
            .strip_prefix(OID_PREFIX)
            .and_then(|r| r.strip_prefix('.'))
            .ok_or(LicenceIdError::Prefix)?;
        let parts: Vec<&str> = rest.split('.').collect();
        let [type_code, issuer, serial, version, check] = parts[..] else {
            return Err(LicenceIdError::Structure);
        };
        let type_code = LicenceTypeCode::parse(type_code)?;
        if issuer.len() != 18 || !is_upper_alnum(issuer) {
            return Err(LicenceIdError::Issuer(IdError::UsccFormat));
        }
        let issuer = Uscc::parse(issuer).map_err(LicenceIdError::Issuer)?;
        if version.len() != 3 || !version.bytes().all(|c| c.is_ascii_digit()) {
            return Err(LicenceIdError::Version);
        }
        let version: u16 = version.parse().map_err(|_| LicenceIdError::Version)?;
        let id = Self::new(&type_code, &issuer, serial, version)?;
        let mut given = check.chars();
        if given.next() != Some(id.check) || given.next().is_some() {
            return Err(LicenceIdError::Check);
        }
        Ok(id)
    }

    /// A fresh serial: 20 characters drawn uniformly from `0-9A-Z` by the thread's CSPRNG (ChaCha,
    /// seeded and reseeded from the operating system; about 103 bits, so serials cannot be guessed
    /// or enumerated). `OsRng` cost one getrandom system call per character, 2.4% of an issuance's
    /// time on one core.
    pub fn random_serial() -> String {
        let mut rng = rand::thread_rng();
        (0..SERIAL_LEN)
            .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
            .collect()
    }

    pub fn as_str(&self) -> &str {
        &self.full
    }

    pub fn type_code(&self) -> &LicenceTypeCode {
        &self.type_code
    }

    pub fn issuer(&self) -> &Uscc {
        &self.issuer
    }

    pub fn serial(&self) -> &str {
        &self.serial
    }

    pub fn version(&self) -> u16 {
        self.version
    }

    /// The check character (the identifier's last character).
    pub fn check_char(&self) -> char {
        self.check
    }
}

impl fmt::Display for LicenceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

impl FromStr for LicenceId {
    type Err = LicenceIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for LicenceId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.full)
    }
}

impl<'de> serde::Deserialize<'de> for LicenceId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
