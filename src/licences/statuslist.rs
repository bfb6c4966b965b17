//! IETF OAuth Token Status List (draft-ietf-oauth-status-list): the byte array that holds every
//! licence's status, and its JSON form `{"bits": 2, "lst": "<base64url(zlib(bytes))>"}`.
//!
//! tongban always uses 2 bits per entry: 0 valid, 1 revoked (the draft's INVALID, final), 2
//! suspended (reversible), 3 reserved (the draft leaves it application-specific; tongban never
//! writes it). As the draft specifies (section "Status List"), entry `i` lives in byte `i / 4`,
//! and the entries of a byte are packed from its least significant bit up: index 0 is bits 0–1
//! of byte 0, index 3 is bits 6–7.
//!
//! Signing the list as a `statuslist+jwt`, choosing indices at random and keeping history are
//! the business of the callers; this module owns only the bits and their encoding.

use std::io::{Read, Write};

use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use serde_json::{json, Value};

use crate::crypto::{b64url, b64url_decode};

/// Bits per entry in every list tongban writes and reads.
pub const BITS: u8 = 2;
/// Entries per byte.
const PER_BYTE: usize = 8 / BITS as usize;
/// The largest uncompressed list [`StatusList::decode`] accepts: 32 MiB, 134 million entries.
/// It bounds the memory a hostile, highly compressed `lst` can make a verifier allocate.
pub const MAX_BYTES: usize = 32 << 20;

/// A licence's status, as written in the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Status {
    Valid = 0,
    /// The draft's INVALID: revoked, final.
    Revoked = 1,
    /// Temporarily invalid; can be lifted.
    Suspended = 2,
}

impl Status {
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// The status for a 2-bit value; `None` for the reserved value 3 (and anything larger).
    pub fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(Self::Valid),
            1 => Some(Self::Revoked),
            2 => Some(Self::Suspended),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StatusListError {
    #[error("index {index} is outside the status list of {len} entries")]
    IndexOutOfRange { index: usize, len: usize },
    #[error("the status value {0} does not fit in 2 bits")]
    ValueOutOfRange(u8),
    #[error("the entry holds the reserved status value 3")]
    Reserved,
    #[error("a status list is a JSON object with `bits` and `lst`")]
    Format,
    #[error("status lists with {0} bits per entry are not supported (tongban uses 2)")]
    UnsupportedBits(u64),
    #[error("`lst` is not base64url")]
    Base64,
    #[error("`lst` is not a zlib stream, or it inflates beyond the size limit")]
    Compression,
    #[error("compressing the status list failed")]
    Compress(#[source] std::io::Error),
}

/// A status list with 2 bits per entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusList {
    bytes: Vec<u8>,
}

impl StatusList {
    /// A list of at least `size` entries, all valid. The capacity is rounded up to a whole byte
    /// (a multiple of 4 entries): the extra entries are valid and unused.
    pub fn new(size: usize) -> Self {
        Self {
            bytes: vec![0; size.div_ceil(PER_BYTE)],
        }
    }

    /// A list over an existing byte array (as stored).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self { bytes }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The number of entries (4 per byte).
    pub fn len(&self) -> usize {
        self.bytes.len() * PER_BYTE
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The raw 2-bit value at `index`, reserved value 3 included; `None` beyond the list.
    pub fn get(&self, index: usize) -> Option<u8> {
        let byte = self.bytes.get(index / PER_BYTE)?;
        Some((byte >> shift(index)) & 0b11)
    }

    /// The status at `index`.
    pub fn status(&self, index: usize) -> Result<Status, StatusListError> {
        let value = self.get(index).ok_or(StatusListError::IndexOutOfRange {
            index,
            len: self.len(),
        })?;
        Status::from_u8(value).ok_or(StatusListError::Reserved)
    }

    /// Sets the status at `index`.
    pub fn set(&mut self, index: usize, status: Status) -> Result<(), StatusListError> {
        self.set_value(index, status.as_u8())
    }

    /// Sets the raw 2-bit value at `index` (0 to 3; 3 is reserved and only needed to reproduce
    /// lists written by others).
    pub fn set_value(&mut self, index: usize, value: u8) -> Result<(), StatusListError> {
        if value > 0b11 {
            return Err(StatusListError::ValueOutOfRange(value));
        }
        let len = self.len();
        let byte = self
            .bytes
            .get_mut(index / PER_BYTE)
            .ok_or(StatusListError::IndexOutOfRange { index, len })?;
        let shift = shift(index);
        *byte = (*byte & !(0b11 << shift)) | (value << shift);
        Ok(())
    }

    /// The JSON form `{"bits": 2, "lst": base64url(zlib(bytes))}`, compressed at the best level.
    pub fn encode(&self) -> Result<Value, StatusListError> {
        Ok(json!({ "bits": BITS, "lst": b64url(deflate(&self.bytes)?) }))
    }

    /// Reads the JSON form. Other members (such as `aggregation_uri`) are ignored.
    pub fn decode(value: &Value) -> Result<Self, StatusListError> {
        let object = value.as_object().ok_or(StatusListError::Format)?;
        let bits = object
            .get("bits")
            .and_then(Value::as_u64)
            .ok_or(StatusListError::Format)?;
        if bits != u64::from(BITS) {
            return Err(StatusListError::UnsupportedBits(bits));
        }
        let lst = object
            .get("lst")
            .and_then(Value::as_str)
            .ok_or(StatusListError::Format)?;
        let compressed = b64url_decode(lst).ok_or(StatusListError::Base64)?;
        Ok(Self {
            bytes: inflate(&compressed)?,
        })
    }
}

/// Bit offset of `index` inside its byte: least significant bits first.
fn shift(index: usize) -> u32 {
    // (index % 4) * 2 is at most 6.
    ((index % PER_BYTE) as u32) * u32::from(BITS)
}

fn deflate(bytes: &[u8]) -> Result<Vec<u8>, StatusListError> {
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::best());
    encoder
        .write_all(bytes)
        .map_err(StatusListError::Compress)?;
    encoder.finish().map_err(StatusListError::Compress)
}

fn inflate(compressed: &[u8]) -> Result<Vec<u8>, StatusListError> {
    let mut out = Vec::new();
    ZlibDecoder::new(compressed)
        .take(MAX_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| StatusListError::Compression)?;
    if out.len() > MAX_BYTES {
        return Err(StatusListError::Compression);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// draft-ietf-oauth-status-list, "Status List Token with 2-Bit Status Values": 12 entries,
    /// bytes [0xC9, 0x44, 0xF9], `lst` = "eNo76fITAAPfAgc" (examples/status_list_encoding2_json).
    const DRAFT_2BIT: [u8; 12] = [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3];
    const DRAFT_2BIT_BYTES: [u8; 3] = [0xC9, 0x44, 0xF9];
    const DRAFT_2BIT_LST: &str = "eNo76fITAAPfAgc";
    /// draft-ietf-oauth-status-list, section "Status List": 16 entries of 1 bit,
    /// bytes [0xB9, 0xA3], `lst` = "eNrbuRgAAhcBXQ".
    const DRAFT_1BIT_LST: &str = "eNrbuRgAAhcBXQ";

    #[test]
    fn draft_two_bit_example_bytes() {
        let mut list = StatusList::new(DRAFT_2BIT.len());
        assert_eq!(list.len(), 12);
        for (i, &v) in DRAFT_2BIT.iter().enumerate() {
            list.set_value(i, v).unwrap();
        }
        assert_eq!(list.as_bytes(), DRAFT_2BIT_BYTES);
        for (i, &v) in DRAFT_2BIT.iter().enumerate() {
            assert_eq!(list.get(i), Some(v));
        }
    }

    #[test]
    fn draft_two_bit_example_decodes() {
        let list = StatusList::decode(&json!({"bits": 2, "lst": DRAFT_2BIT_LST})).unwrap();
        assert_eq!(list.as_bytes(), DRAFT_2BIT_BYTES);
        assert_eq!(list.status(0).unwrap(), Status::Revoked);
        assert_eq!(list.status(1).unwrap(), Status::Suspended);
        assert_eq!(list.status(2).unwrap(), Status::Valid);
        assert!(matches!(list.status(3), Err(StatusListError::Reserved)));
        assert!(matches!(
            list.status(12),
            Err(StatusListError::IndexOutOfRange { index: 12, len: 12 })
        ));
    }

    #[test]
    fn draft_two_bit_example_encodes_byte_for_byte() {
        let list = StatusList::from_bytes(DRAFT_2BIT_BYTES.to_vec());
        assert_eq!(
            list.encode().unwrap(),
            json!({"bits": 2, "lst": DRAFT_2BIT_LST})
        );
    }

    #[test]
    fn draft_one_bit_example_compression() {
        // tongban reads 2-bit lists only, but the compression layer is shared with the 1-bit
        // example, so check it against that vector too.
        let bytes = inflate(&b64url_decode(DRAFT_1BIT_LST).unwrap()).unwrap();
        assert_eq!(bytes, [0xB9, 0xA3]);
        assert_eq!(b64url(deflate(&bytes).unwrap()), DRAFT_1BIT_LST);
        assert!(matches!(
            StatusList::decode(&json!({"bits": 1, "lst": DRAFT_1BIT_LST})),
            Err(StatusListError::UnsupportedBits(1))
        ));
    }

    #[test]
    fn set_get_round_trip_and_neighbours_untouched() {
        let mut list = StatusList::new(10_000);
        assert_eq!(list.len(), 10_000);
        list.set(0, Status::Revoked).unwrap();
        list.set(5, Status::Suspended).unwrap();
        list.set(9_999, Status::Revoked).unwrap();
        list.set(5, Status::Valid).unwrap();
        list.set(6, Status::Suspended).unwrap();
        assert_eq!(list.status(0).unwrap(), Status::Revoked);
        assert_eq!(list.status(1).unwrap(), Status::Valid);
        assert_eq!(list.status(4).unwrap(), Status::Valid);
        assert_eq!(list.status(5).unwrap(), Status::Valid);
        assert_eq!(list.status(6).unwrap(), Status::Suspended);
        assert_eq!(list.status(7).unwrap(), Status::Valid);
        assert_eq!(list.status(9_999).unwrap(), Status::Revoked);
        let decoded = StatusList::decode(&list.encode().unwrap()).unwrap();
        assert_eq!(decoded, list);
        assert!(matches!(
            list.set(10_000, Status::Revoked),
            Err(StatusListError::IndexOutOfRange { .. })
        ));
        assert!(matches!(
            list.set_value(1, 4),
            Err(StatusListError::ValueOutOfRange(4))
        ));
        assert_eq!(StatusList::new(10).len(), 12);
        assert!(StatusList::new(0).is_empty());
    }

    #[test]
    fn a_large_list_compresses_well() {
        let list = StatusList::new(1 << 20);
        let encoded = list.encode().unwrap();
        assert!(encoded["lst"].as_str().unwrap().len() < 2_000);
    }

    #[test]
    fn malformed_lists_are_refused() {
        for bad in [
            json!("x"),
            json!({"lst": DRAFT_2BIT_LST}),
            json!({"bits": 2}),
            json!({"bits": "2", "lst": DRAFT_2BIT_LST}),
            json!({"bits": 2, "lst": 5}),
        ] {
            assert!(
                matches!(StatusList::decode(&bad), Err(StatusListError::Format)),
                "{bad}"
            );
        }
        assert!(matches!(
            StatusList::decode(&json!({"bits": 2, "lst": "not base64!"})),
            Err(StatusListError::Base64)
        ));
        assert!(matches!(
            StatusList::decode(&json!({"bits": 2, "lst": b64url(b"plain bytes")})),
            Err(StatusListError::Compression)
        ));
        // Unknown members are ignored.
        assert!(StatusList::decode(
            &json!({"bits": 2, "lst": DRAFT_2BIT_LST, "aggregation_uri": "https://x"})
        )
        .is_ok());
    }

    #[test]
    fn a_zlib_bomb_is_bounded() {
        let bomb = deflate(&vec![0u8; MAX_BYTES + 1]).unwrap();
        assert!(bomb.len() < 64 << 10);
        assert!(matches!(
            StatusList::decode(&json!({"bits": 2, "lst": b64url(&bomb)})),
            Err(StatusListError::Compression)
        ));
    }

    #[test]
    fn status_values() {
        for s in [Status::Valid, Status::Revoked, Status::Suspended] {
            assert_eq!(Status::from_u8(s.as_u8()), Some(s));
        }
        assert_eq!(Status::Revoked.as_u8(), 1);
        assert_eq!(Status::from_u8(3), None);
    }
}
