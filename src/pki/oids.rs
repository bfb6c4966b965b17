//! Object identifiers owned by tongban: the two extended key usages that say what a department
//! certificate may sign.
//!
//! They live under the UUID arc `2.25` (ITU-T X.667 / ISO/IEC 9834-8): any UUID, written as one
//! decimal integer, is an arc under `2.25` that anyone may use without registering it. The UUID
//! below, `985109af-17d1-4fde-b649-de06296d5b8b`, was generated once at random for this project
//! and must never change: every certificate ever issued carries it.
//!
//! A UUID arc is 128 bits wide, which does not fit rcgen's `u64` OID components, so this module
//! encodes OIDs itself ([`encode_oid`]) and the issuer writes the extended key usage extension
//! from these bytes.

/// The project's UUID (`985109af-17d1-4fde-b649-de06296d5b8b`) as an integer: the arc
/// `2.25.<TONGBAN_UUID>`.
pub const TONGBAN_UUID: u128 = 202_463_427_818_834_604_478_037_536_810_656_947_083;

/// Extended key usage of a department's licence-signing certificate (arcs of the OID).
pub const LICENCE_SIGNING_ARCS: [u128; 4] = [2, 25, TONGBAN_UUID, 1];

/// Extended key usage of a department's status-list signing certificate (arcs of the OID).
pub const STATUS_LIST_SIGNING_ARCS: [u128; 4] = [2, 25, TONGBAN_UUID, 2];

/// Dotted form of [`LICENCE_SIGNING_ARCS`].
pub const LICENCE_SIGNING: &str = "2.25.202463427818834604478037536810656947083.1";

/// Dotted form of [`STATUS_LIST_SIGNING_ARCS`].
pub const STATUS_LIST_SIGNING: &str = "2.25.202463427818834604478037536810656947083.2";

/// What a department certificate is for; each purpose has its own extended key usage, so a key
/// that signs status lists can never pass for one that signs licences, and the reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// Signing licences (SD-JWT VC issuer-signed JWTs).
    LicenceSigning,
    /// Signing status lists (`statuslist+jwt`).
    StatusListSigning,
}

impl Purpose {
    /// The arcs of this purpose's extended key usage OID.
    pub fn eku_arcs(self) -> &'static [u128] {
        match self {
            Self::LicenceSigning => &LICENCE_SIGNING_ARCS,
            Self::StatusListSigning => &STATUS_LIST_SIGNING_ARCS,
        }
    }

    /// The dotted form of this purpose's extended key usage OID.
    pub fn eku_oid(self) -> &'static str {
        match self {
            Self::LicenceSigning => LICENCE_SIGNING,
            Self::StatusListSigning => STATUS_LIST_SIGNING,
        }
    }

    /// The DER content octets (no tag, no length) of this purpose's extended key usage OID, as
    /// `x509_parser`'s `Oid::as_bytes` returns them.
    pub fn eku_der_content(self) -> Vec<u8> {
        encode_oid(self.eku_arcs())
    }
}

impl std::fmt::Display for Purpose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::LicenceSigning => "licence signing",
            Self::StatusListSigning => "status-list signing",
        })
    }
}

/// DER content octets of an OBJECT IDENTIFIER (X.690 8.19): the first two arcs combined as
/// `40 * a + b`, then each arc in base 128, most significant group first, high bit set on every
/// group but the last. The caller passes at least two arcs with `a <= 2` (true of every constant
/// here).
pub fn encode_oid(arcs: &[u128]) -> Vec<u8> {
    let mut out = Vec::new();
    let (first, rest) = match arcs {
        [a, b, rest @ ..] => (a * 40 + b, rest),
        [a] => (a * 40, &[][..]),
        [] => return out,
    };
    for arc in std::iter::once(first).chain(rest.iter().copied()) {
        let mut groups = Vec::new();
        let mut v = arc;
        loop {
            groups.push((v & 0x7f) as u8);
            v >>= 7;
            if v == 0 {
                break;
            }
        }
        let last = groups.len() - 1;
        out.extend(
            groups
                .iter()
                .rev()
                .enumerate()
                .map(|(i, g)| if i < last { g | 0x80 } else { *g }),
        );
    }
    out
}

/// Decode DER content octets of an OBJECT IDENTIFIER into arcs; `None` if an arc overflows
/// `u128` or the encoding is truncated or not minimal.
pub fn decode_oid(content: &[u8]) -> Option<Vec<u128>> {
    let mut subids = Vec::new();
    let mut v: u128 = 0;
    let mut in_progress = false;
    for &b in content {
        if !in_progress && b == 0x80 {
            return None; // leading 0x80 is not minimal
        }
        if v >> 121 != 0 {
            return None;
        }
        v = (v << 7) | u128::from(b & 0x7f);
        in_progress = b & 0x80 != 0;
        if !in_progress {
            subids.push(v);
            v = 0;
        }
    }
    if in_progress {
        return None;
    }
    let (&first, rest) = subids.split_first()?;
    let (a, b) = match first {
        0..=39 => (0, first),
        40..=79 => (1, first - 40),
        _ => (2, first - 80),
    };
    Some([a, b].into_iter().chain(rest.iter().copied()).collect())
}

/// Dotted decimal form of DER OID content octets, or their hex if they do not decode.
pub fn dotted(content: &[u8]) -> String {
    match decode_oid(content) {
        Some(arcs) => arcs
            .iter()
            .map(u128::to_string)
            .collect::<Vec<_>>()
            .join("."),
        None => content.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

/// DER encoding of an extended key usage extension value (`ExtKeyUsageSyntax ::= SEQUENCE SIZE
/// (1..MAX) OF KeyPurposeId`) holding the one purpose.
pub(crate) fn eku_extension_value(purpose: Purpose) -> Vec<u8> {
    let oid = purpose.eku_der_content();
    let mut inner = vec![0x06];
    push_der_len(&mut inner, oid.len());
    inner.extend_from_slice(&oid);
    let mut seq = vec![0x30];
    push_der_len(&mut seq, inner.len());
    seq.extend_from_slice(&inner);
    seq
}

/// Append a DER definite length.
fn push_der_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_arc_is_the_documented_uuid() {
        let hex = format!("{TONGBAN_UUID:032x}");
        assert_eq!(hex, "985109af17d14fdeb649de06296d5b8b");
    }

    #[test]
    fn encoded_oids_read_back_as_their_dotted_form() {
        for p in [Purpose::LicenceSigning, Purpose::StatusListSigning] {
            assert_eq!(dotted(&p.eku_der_content()), p.eku_oid());
            assert_eq!(
                decode_oid(&p.eku_der_content()).as_deref(),
                Some(p.eku_arcs())
            );
        }
        assert_ne!(
            Purpose::LicenceSigning.eku_der_content(),
            Purpose::StatusListSigning.eku_der_content()
        );
    }

    #[test]
    fn encodes_known_small_oids() {
        // id-kp-serverAuth 1.3.6.1.5.5.7.3.1 and prime256v1 1.2.840.10045.3.1.7.
        assert_eq!(
            encode_oid(&[1, 3, 6, 1, 5, 5, 7, 3, 1]),
            [0x2b, 6, 1, 5, 5, 7, 3, 1]
        );
        assert_eq!(
            encode_oid(&[1, 2, 840, 10045, 3, 1, 7]),
            [0x2a, 0x86, 0x48, 0xce, 0x3d, 3, 1, 7]
        );
        assert_eq!(
            dotted(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 3, 1, 7]),
            "1.2.840.10045.3.1.7"
        );
        assert_eq!(decode_oid(&[0x2a, 0x86]), None);
        assert_eq!(decode_oid(&[0x2a, 0x80, 0x01]), None);
    }

    #[test]
    fn eku_extension_value_is_a_sequence_of_one_oid() {
        let v = eku_extension_value(Purpose::LicenceSigning);
        let oid = Purpose::LicenceSigning.eku_der_content();
        assert_eq!(v[0], 0x30);
        assert_eq!(v[1] as usize, oid.len() + 2);
        assert_eq!(v[2], 0x06);
        assert_eq!(&v[4..], &oid[..]);
    }
}
