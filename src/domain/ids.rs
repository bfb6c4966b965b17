//! National identifiers, parsed once at the edge: the resident identity number (GB 11643, ISO 7064
//! MOD 11-2 check digit) and the unified social credit code (GB 32100, weighted MOD 31 check character).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error(
        "a resident identity number has 18 characters: 17 digits and a check character (0-9 or X)"
    )]
    ResidentIdFormat,
    #[error("the resident identity number's check character does not match")]
    ResidentIdCheck,
    #[error("the resident identity number holds an impossible birth date")]
    ResidentIdBirthDate,
    #[error("a unified social credit code has 18 characters from 0-9 and A-H, J-N, P, Q, R, T, U, W, X, Y")]
    UsccFormat,
    #[error("the unified social credit code's check character does not match")]
    UsccCheck,
    #[error("an identity document number has 5 to 32 letters, digits or hyphens")]
    DocumentFormat,
}

/// A validated 18-character resident identity number (GB 11643-1999).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ResidentId(String);

impl ResidentId {
    pub fn parse(input: &str) -> Result<Self, IdError> {
        let s = input.trim().to_ascii_uppercase();
        let b = s.as_bytes();
        if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
            return Err(IdError::ResidentIdFormat);
        }
        if !(b[17].is_ascii_digit() || b[17] == b'X') {
            return Err(IdError::ResidentIdFormat);
        }
        if Self::check_char(&b[..17]) != b[17] {
            return Err(IdError::ResidentIdCheck);
        }
        let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(0);
        let (year, month, day) = (num(6..10), num(10..12), num(12..14));
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => 0,
        };
        if !(1800..=2200).contains(&year) || day == 0 || day > days {
            return Err(IdError::ResidentIdBirthDate);
        }
        Ok(Self(s))
    }

    /// ISO 7064 MOD 11-2 over the first 17 digits.
    pub fn check_char(first17: &[u8]) -> u8 {
        const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
        let sum: u32 = first17
            .iter()
            .zip(W)
            .map(|(d, w)| u32::from(d - b'0') * w)
            .sum();
        b"10X98765432"[(sum % 11) as usize]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Never print a national number by accident: `Debug` masks all but the region and check character.
impl fmt::Debug for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ResidentId({}************{})",
            &self.0[..2],
            &self.0[14..]
        )
    }
}

/// An identity document: the resident identity number (validated) or another document type with a tag
/// (passport, HK/Macao or Taiwan permits), kept as given without a checksum.
#[derive(Clone, PartialEq, Eq)]
pub enum IdDocument {
    Resident(ResidentId),
    Other { kind: DocumentKind, number: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    Resident,
    Passport,
    HkMacaoPermit,
    TaiwanPermit,
}

impl DocumentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Resident => "resident",
            Self::Passport => "passport",
            Self::HkMacaoPermit => "hk_macao_permit",
            Self::TaiwanPermit => "taiwan_permit",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "resident" | "" => Self::Resident,
            "passport" => Self::Passport,
            "hk_macao_permit" => Self::HkMacaoPermit,
            "taiwan_permit" => Self::TaiwanPermit,
            _ => return None,
        })
    }
}

impl IdDocument {
    pub fn parse(kind: DocumentKind, number: &str) -> Result<Self, IdError> {
        match kind {
            DocumentKind::Resident => ResidentId::parse(number).map(Self::Resident),
            kind => {
                let n = number.trim().to_ascii_uppercase();
                let ok = (5..=32).contains(&n.len())
                    && n.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-');
                ok.then_some(Self::Other { kind, number: n })
                    .ok_or(IdError::DocumentFormat)
            }
        }
    }
    pub fn kind(&self) -> DocumentKind {
        match self {
            Self::Resident(_) => DocumentKind::Resident,
            Self::Other { kind, .. } => *kind,
        }
    }
    pub fn number(&self) -> &str {
        match self {
            Self::Resident(r) => r.as_str(),
            Self::Other { number, .. } => number,
        }
    }
    /// The canonical form hashed into the blind index: `kind:number`.
    pub fn canonical(&self) -> String {
        format!("{}:{}", self.kind().as_str(), self.number())
    }
}

impl fmt::Debug for IdDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdDocument({}, <redacted>)", self.kind().as_str())
    }
}

/// A validated unified social credit code (GB 32100-2015).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Uscc(String);

const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

impl Uscc {
    pub fn parse(input: &str) -> Result<Self, IdError> {
        let s = input.trim().to_ascii_uppercase();
        let b = s.as_bytes();
        if b.len() != 18 || !b.iter().all(|c| USCC_ALPHABET.contains(c)) {
            return Err(IdError::UsccFormat);
        }
        if Self::check_char(&b[..17]) != Some(b[17]) {
            return Err(IdError::UsccCheck);
        }
        Ok(Self(s))
    }

    /// Weighted sum modulo 31 over the first 17 characters (GB 32100-2015, 5.3).
    pub fn check_char(first17: &[u8]) -> Option<u8> {
        const W: [usize; 17] = [
            1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
        ];
        let mut sum = 0;
        for (c, w) in first17.iter().zip(W) {
            sum += USCC_ALPHABET.iter().position(|a| a == c)? * w;
        }
        Some(USCC_ALPHABET[(31 - sum % 31) % 31])
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_id_known_vectors() {
        // GB 11643-1999 annex example and commonly published samples.
        assert!(ResidentId::parse("11010519491231002X").is_ok());
        assert!(ResidentId::parse("440524188001010014").is_ok());
        assert!(
            ResidentId::parse("11010519491231002x").is_ok(),
            "lower-case x is accepted"
        );
        assert_eq!(
            ResidentId::parse("110105194912310021"),
            Err(IdError::ResidentIdCheck)
        );
        assert_eq!(
            ResidentId::parse("1101051949123100"),
            Err(IdError::ResidentIdFormat)
        );
        // 1949-02-30 does not exist; check digit recomputed so only the date is wrong.
        let mut s = b"11010519490230002".to_vec();
        s.push(ResidentId::check_char(&s));
        assert_eq!(
            ResidentId::parse(std::str::from_utf8(&s).unwrap()),
            Err(IdError::ResidentIdBirthDate)
        );
    }

    #[test]
    fn resident_id_debug_is_masked() {
        let id = ResidentId::parse("11010519491231002X").unwrap();
        assert!(!format!("{id:?}").contains("19491231"));
    }

    #[test]
    fn uscc_known_vectors() {
        // Published codes of well-known enterprises.
        assert!(Uscc::parse("91350100M000100Y43").is_ok());
        assert!(Uscc::parse("91110000802100433B").is_ok());
        assert!(Uscc::parse("9144030071526726XG").is_ok());
        assert_eq!(Uscc::parse("91350100M000100Y44"), Err(IdError::UsccCheck));
        assert_eq!(
            Uscc::parse("91350100M000100YI3"),
            Err(IdError::UsccFormat),
            "I is not in the alphabet"
        );
    }

    #[test]
    fn other_documents_take_no_checksum() {
        let d = IdDocument::parse(DocumentKind::Passport, "e12345678").unwrap();
        assert_eq!(d.canonical(), "passport:E12345678");
        assert!(IdDocument::parse(DocumentKind::Passport, "x").is_err());
    }
}
