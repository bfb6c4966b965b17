//! The extensions rcgen 0.13 would encode in BER rather than DER, written by hand instead.
//!
//! - basicConstraints of an end entity: rcgen writes `cA FALSE` (`30 03 01 01 00`), but `cA` is
//!   `DEFAULT FALSE` and DER omits a default (X.690 11.5): `30 00`. Strict parsers (Python
//!   `cryptography`, Go's `crypto/x509`) refuse the BER form.
//! - keyUsage: rcgen always writes nine bits (`03 03 07 80 00` for digitalSignature alone); it is a
//!   named bit list, whose DER drops trailing zero bits (X.690 11.2.2): `03 02 07 80`.
//! - subjectKeyIdentifier of an end entity, which rcgen writes only alongside the basicConstraints
//!   it gets wrong: the same value, SHA-256 of the SubjectPublicKeyInfo truncated to 20 bytes.
//!
//! Certificates written before this module keep their encoding; [`super::path`] reads both.

use rcgen::CustomExtension;

/// `id-ce-basicConstraints` (2.5.29.19).
const BASIC_CONSTRAINTS: &[u64] = &[2, 5, 29, 19];
/// `id-ce-keyUsage` (2.5.29.15).
const KEY_USAGE: &[u64] = &[2, 5, 29, 15];
/// `id-ce-subjectKeyIdentifier` (2.5.29.14).
const SUBJECT_KEY_IDENTIFIER: &[u64] = &[2, 5, 29, 14];
/// The DER SubjectPublicKeyInfo of a P-256 key up to its 65-byte point: SEQUENCE { SEQUENCE {
/// id-ecPublicKey, prime256v1 }, BIT STRING (66 bytes, 0 unused bits) ...
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// A keyUsage bit (RFC 5280 4.2.1.3), by its position in the named bit list.
#[derive(Debug, Clone, Copy)]
pub(super) enum KeyUsageBit {
    DigitalSignature = 0,
    KeyCertSign = 5,
    CrlSign = 6,
}

/// basicConstraints of an end entity, critical: the empty SEQUENCE (`cA` left at its default).
pub(super) fn end_entity_basic_constraints() -> CustomExtension {
    let mut ext = CustomExtension::from_oid_content(BASIC_CONSTRAINTS, vec![0x30, 0x00]);
    ext.set_criticality(true);
    ext
}

/// keyUsage with these bits, critical, with no trailing zero bits.
pub(super) fn key_usage(bits: &[KeyUsageBit]) -> CustomExtension {
    let mut ext = CustomExtension::from_oid_content(KEY_USAGE, key_usage_value(bits));
    ext.set_criticality(true);
    ext
}

/// The DER BIT STRING of a named bit list holding `bits`.
fn key_usage_value(bits: &[KeyUsageBit]) -> Vec<u8> {
    let highest = bits.iter().map(|b| *b as usize).max();
    let Some(highest) = highest else {
        return vec![0x03, 0x01, 0x00];
    };
    let mut bytes = vec![0u8; highest / 8 + 1];
    for bit in bits {
        let i = *bit as usize;
        bytes[i / 8] |= 0x80 >> (i % 8);
    }
    let unused = 7 - (highest % 8) as u8;
    let mut der = vec![0x03, bytes.len() as u8 + 1, unused];
    der.extend_from_slice(&bytes);
    der
}

/// subjectKeyIdentifier (not critical) of a P-256 key given as its 65-byte uncompressed point:
/// the OCTET STRING of SHA-256(SubjectPublicKeyInfo)[..20], as rcgen derives it.
pub(super) fn subject_key_identifier(point: &[u8]) -> CustomExtension {
    let mut spki = P256_SPKI_PREFIX.to_vec();
    spki.extend_from_slice(point);
    let digest = crate::crypto::sha256(&spki);
    let mut content = vec![0x04, 20];
    content.extend_from_slice(&digest[..20]);
    CustomExtension::from_oid_content(SUBJECT_KEY_IDENTIFIER, content)
}

#[cfg(test)]
mod tests {
    use super::KeyUsageBit::*;
    use super::*;

    #[test]
    fn key_usage_drops_trailing_zero_bits() {
        assert_eq!(
            key_usage_value(&[DigitalSignature]),
            [0x03, 0x02, 0x07, 0x80]
        );
        assert_eq!(
            key_usage_value(&[KeyCertSign, CrlSign]),
            [0x03, 0x02, 0x01, 0x06]
        );
    }
}
