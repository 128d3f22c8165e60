//! The fixed-size, little-endian prepare header, encoded and decoded by hand.
//!
//! Byte layout (`HEADER_SIZE` = 128 bytes, all integers little-endian):
//!
//! | offset | size | field           | meaning                                               |
//! |-------:|-----:|-----------------|-------------------------------------------------------|
//! |      0 |    4 | `checksum`      | crc32c of bytes 4..128 of this header                 |
//! |      4 |    4 | `checksum_body` | crc32c of the body (`size - HEADER_SIZE` bytes)        |
//! |      8 |    4 | `parent`        | `checksum` of the previous op's header (hash chain)   |
//! |     12 |    4 | `view`          | view in which the op was prepared                     |
//! |     16 |   16 | `cluster`       | cluster id                                            |
//! |     32 |    8 | `op`            | op number (reserved headers: the slot index)          |
//! |     40 |    8 | `commit`        | highest committed op known to the primary             |
//! |     48 |    8 | `timestamp`     | primary's timestamp                                   |
//! |     56 |    4 | `size`          | header + body bytes                                   |
//! |     60 |    1 | `command`       | `COMMAND_PREPARE` for every journal header            |
//! |     61 |    1 | `operation`     | reserved (0), root (1), or application (≥ 2)          |
//! |     62 |    1 | `replica`       | replica that prepared the op                          |
//! |     63 |   65 | reserved        | must be zero                                          |
//!
//! Decoding untrusted bytes never panics: [`Header::decode`] checks the length, the checksum and
//! the reserved bytes and returns a typed [`HeaderError`]. A decoded header is only *ok for a
//! slot* after [`Header::is_ok_for_slot`] also checks command, cluster, slot and size.

use crate::bytes::{array_at, u32_at};
use thiserror::Error;

/// Bytes of an encoded header.
pub const HEADER_SIZE: u64 = 128;
const HEADER_SIZE_USIZE: usize = HEADER_SIZE as usize;

/// The only command the journal stores.
pub const COMMAND_PREPARE: u8 = 1;
/// The operation of an empty slot's header.
pub const OPERATION_RESERVED: u8 = 0;
/// The operation of op 0, the cluster's root prepare.
pub const OPERATION_ROOT: u8 = 1;
/// The first operation number free for applications.
pub const OPERATION_APPLICATION_MIN: u8 = 2;

const RESERVED_OFFSET: usize = 63;

/// Why bytes did not decode into a header.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum HeaderError {
    /// Fewer than `HEADER_SIZE` bytes.
    #[error("header truncated: {len} of {HEADER_SIZE} bytes")]
    Truncated { len: usize },
    /// The stored checksum does not match the bytes.
    #[error("header checksum invalid")]
    ChecksumInvalid,
    /// A reserved byte is not zero.
    #[error("header reserved byte at offset {offset} is not zero")]
    ReservedNonZero { offset: usize },
}

/// A prepare header. In memory it may carry any checksum (a faulty slot's redundant header is
/// deliberately invalidated); on the wire only [`Header::decode`] creates one, and that one is
/// always checksum-valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Header {
    pub checksum: u32,
    pub checksum_body: u32,
    pub parent: u32,
    pub view: u32,
    pub cluster: u128,
    pub op: u64,
    pub commit: u64,
    pub timestamp: u64,
    pub size: u32,
    pub command: u8,
    pub operation: u8,
    pub replica: u8,
}

/// crc32c, the one checksum of the format.
pub fn checksum(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}

impl Header {
    /// The header of an empty slot: it names the slot, so that a misdirected read or write of a
    /// reserved header is caught by the slot check.
    pub fn reserved(cluster: u128, slot: u64) -> Header {
        let mut header = Header {
            cluster,
            op: slot,
            size: HEADER_SIZE as u32,
            command: COMMAND_PREPARE,
            operation: OPERATION_RESERVED,
            checksum_body: checksum(&[]),
            ..Header::default()
        };
        header.set_checksum();
        assert!(header.is_reserved());
        header
    }

    /// Op 0 of a cluster: the root of the hash chain, with no body.
    pub fn root(cluster: u128) -> Header {
        let mut header = Header {
            cluster,
            op: 0,
            size: HEADER_SIZE as u32,
            command: COMMAND_PREPARE,
            operation: OPERATION_ROOT,
            checksum_body: checksum(&[]),
            ..Header::default()
        };
        header.set_checksum();
        header
    }

    /// Encodes into exactly `HEADER_SIZE` bytes, reserved bytes zeroed.
    pub fn encode(&self, out: &mut [u8]) {
        assert_eq!(out.len(), HEADER_SIZE_USIZE);
        out[0..4].copy_from_slice(&self.checksum.to_le_bytes());
        out[4..8].copy_from_slice(&self.checksum_body.to_le_bytes());
        out[8..12].copy_from_slice(&self.parent.to_le_bytes());
        out[12..16].copy_from_slice(&self.view.to_le_bytes());
        out[16..32].copy_from_slice(&self.cluster.to_le_bytes());
        out[32..40].copy_from_slice(&self.op.to_le_bytes());
        out[40..48].copy_from_slice(&self.commit.to_le_bytes());
        out[48..56].copy_from_slice(&self.timestamp.to_le_bytes());
        out[56..60].copy_from_slice(&self.size.to_le_bytes());
        out[60] = self.command;
        out[61] = self.operation;
        out[62] = self.replica;
        out[RESERVED_OFFSET..].fill(0);
    }

    /// Encodes into a fresh array.
    pub fn to_bytes(&self) -> [u8; HEADER_SIZE_USIZE] {
        let mut bytes = [0u8; HEADER_SIZE_USIZE];
        self.encode(&mut bytes);
        bytes
    }

    /// Decodes the first `HEADER_SIZE` bytes of untrusted input. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<Header, HeaderError> {
        Header::decode_or_invalidated(bytes).0
    }

    /// [`Header::decode`], and whether the bytes are a header deliberately invalidated
    /// ([`Header::invalidated`]), from one checksum of the bytes (recovery asks both of every
    /// header it reads).
    #[inline]
    pub fn decode_or_invalidated(bytes: &[u8]) -> (Result<Header, HeaderError>, bool) {
        let Some(bytes) = bytes.get(..HEADER_SIZE_USIZE) else {
            return (Err(HeaderError::Truncated { len: bytes.len() }), false);
        };
        let stored = u32_at(bytes, 0);
        let calculated = checksum(&bytes[4..]);
        if stored != calculated {
            return (Err(HeaderError::ChecksumInvalid), stored == !calculated);
        }
        (Header::decode_checked(bytes, stored), false)
    }

    /// The fields of `bytes` (exactly a header), whose checksum `stored` matched.
    #[inline]
    fn decode_checked(bytes: &[u8], stored: u32) -> Result<Header, HeaderError> {
        debug_assert_eq!(bytes.len(), HEADER_SIZE_USIZE);
        if let Some(index) = bytes[RESERVED_OFFSET..].iter().position(|&byte| byte != 0) {
            return Err(HeaderError::ReservedNonZero {
                offset: RESERVED_OFFSET + index,
            });
        }
        let header = Header {
            checksum: stored,
            checksum_body: u32_at(bytes, 4),
            parent: u32_at(bytes, 8),
            view: u32_at(bytes, 12),
            cluster: u128::from_le_bytes(array_at(bytes, 16)),
            op: u64::from_le_bytes(array_at(bytes, 32)),
            commit: u64::from_le_bytes(array_at(bytes, 40)),
            timestamp: u64::from_le_bytes(array_at(bytes, 48)),
            size: u32_at(bytes, 56),
            command: bytes[60],
            operation: bytes[61],
            replica: bytes[62],
        };
        // Pair assertion, in the tests (`decode_encode_round_trip`: any bytes that decode
        // re-encode to themselves). It holds by the layout alone, whatever the bytes, and here
        // it would cost an encode per decode: recovery and the checkers decode every slot at
        // every restart.
        #[cfg(test)]
        assert!(header.to_bytes()[..] == bytes[..]);
        Ok(header)
    }

    /// The checksum these fields should carry.
    pub fn calculate_checksum(&self) -> u32 {
        checksum(&self.to_bytes()[4..])
    }

    /// Seals the header after its fields are final.
    pub fn set_checksum(&mut self) {
        self.checksum = self.calculate_checksum();
    }

    /// Whether the stored checksum matches the fields.
    pub fn valid_checksum(&self) -> bool {
        self.checksum == self.calculate_checksum()
    }

    /// Records the body's checksum and size (the header's own bytes included in `size`).
    pub fn set_body(&mut self, body: &[u8]) {
        let size = HEADER_SIZE + body.len() as u64;
        assert!(size <= u64::from(u32::MAX));
        self.size = size as u32;
        self.checksum_body = checksum(body);
    }

    /// Whether `body` is the body this header describes.
    pub fn valid_checksum_body(&self, body: &[u8]) -> bool {
        HEADER_SIZE + body.len() as u64 == u64::from(self.size)
            && self.checksum_body == checksum(body)
    }

    /// An empty slot's header.
    pub fn is_reserved(&self) -> bool {
        self.operation == OPERATION_RESERVED
    }

    /// The header of a faulty slot as it must go to disk: the complement of the true checksum can
    /// never validate, so the fault survives a crash instead of reading back as a valid header.
    pub fn invalidated(&self) -> Header {
        let mut header = *self;
        header.checksum = !self.calculate_checksum();
        assert!(!header.valid_checksum());
        header
    }

    /// Whether `bytes` hold a header written invalid on purpose (see [`Header::invalidated`]): a
    /// recorded fault, not a torn or rotted sector (which matches the complement only by a
    /// 2^-32 chance).
    pub fn is_invalidated(bytes: &[u8]) -> bool {
        Header::decode_or_invalidated(bytes).1
    }

    /// Whether this header may stand in `slot` of a ring of `slot_count` slots of `cluster`.
    /// Reserved headers must name their own slot; others must hash to it.
    pub fn is_ok_for_slot(&self, cluster: u128, slot: u64, slot_count: u64) -> bool {
        self.valid_checksum() && self.fits_slot(cluster, slot, slot_count)
    }

    /// [`Header::is_ok_for_slot`] for a header whose checksum is known valid (it was decoded),
    /// without checksumming it again.
    pub fn fits_slot(&self, cluster: u128, slot: u64, slot_count: u64) -> bool {
        assert!(slot < slot_count);
        if self.command != COMMAND_PREPARE || self.cluster != cluster {
            return false;
        }
        if u64::from(self.size) < HEADER_SIZE {
            return false;
        }
        if self.is_reserved() {
            self.op == slot && u64::from(self.size) == HEADER_SIZE && self.view == 0
        } else {
            self.op % slot_count == slot
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arbitrary_header() -> impl Strategy<Value = Header> {
        (
            (any::<u32>(), any::<u32>(), any::<u128>(), any::<u64>()),
            (
                any::<u64>(),
                any::<u64>(),
                any::<u32>(),
                any::<u8>(),
                any::<u8>(),
                any::<u8>(),
            ),
        )
            .prop_map(
                |(
                    (checksum_body, parent, cluster, op),
                    (commit, timestamp, size, command, operation, replica),
                )| {
                    let mut header = Header {
                        checksum: 0,
                        checksum_body,
                        parent,
                        view: parent.rotate_left(7),
                        cluster,
                        op,
                        commit,
                        timestamp,
                        size,
                        command,
                        operation,
                        replica,
                    };
                    header.set_checksum();
                    header
                },
            )
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip(header in arbitrary_header()) {
            let bytes = header.to_bytes();
            prop_assert_eq!(Header::decode(&bytes), Ok(header));
        }

        /// Any bytes that decode (a valid checksum over them, the reserved tail zero) encode
        /// back to exactly those bytes: every byte is a field's or reserved.
        #[test]
        fn decode_encode_round_trip(mut bytes in proptest::collection::vec(any::<u8>(), 128)) {
            bytes[RESERVED_OFFSET..].fill(0);
            let sum = checksum(&bytes[4..]);
            bytes[..4].copy_from_slice(&sum.to_le_bytes());
            let header = Header::decode(&bytes).expect("valid by construction");
            prop_assert_eq!(&header.to_bytes()[..], &bytes[..]);
        }

    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(100_000))]

        /// 100k cases: run in `--release` (the README's test command does).
        #[test]
        fn decoding_garbage_never_panics_nor_validates_without_checksum(
            bytes in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            match Header::decode(&bytes) {
                Ok(header) => {
                    prop_assert!(bytes.len() >= HEADER_SIZE_USIZE);
                    prop_assert_eq!(u32_at(&bytes, 0), checksum(&bytes[4..HEADER_SIZE_USIZE]));
                    prop_assert!(header.valid_checksum());
                }
                Err(HeaderError::Truncated { len }) => prop_assert!(len < HEADER_SIZE_USIZE),
                Err(_) => prop_assert!(bytes.len() >= HEADER_SIZE_USIZE),
            }
        }

        /// Garbage with a forged checksum is the only way to decode: then the reserved bytes and
        /// the slot checks still stand guard.
        #[test]
        fn forged_checksum_with_reserved_garbage_is_rejected(
            mut bytes in proptest::collection::vec(any::<u8>(), HEADER_SIZE_USIZE..=HEADER_SIZE_USIZE),
            index in RESERVED_OFFSET..HEADER_SIZE_USIZE,
        ) {
            bytes[index] |= 1;
            let sum = checksum(&bytes[4..]);
            bytes[0..4].copy_from_slice(&sum.to_le_bytes());
            prop_assert!(
                matches!(Header::decode(&bytes), Err(HeaderError::ReservedNonZero { .. })),
                "reserved garbage decoded"
            );
            // With one non-zero reserved byte, the error names exactly that byte.
            bytes[RESERVED_OFFSET..].fill(0);
            bytes[index] = 1;
            let sum = checksum(&bytes[4..]);
            bytes[0..4].copy_from_slice(&sum.to_le_bytes());
            prop_assert_eq!(
                Header::decode(&bytes),
                Err(HeaderError::ReservedNonZero { offset: index })
            );
        }
    }

    #[test]
    fn garbage_decode_100k_cases() {
        // A second, explicit 100k-case sweep with a fixed seed, independent of proptest's config.
        use rand::{RngCore, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut bytes = [0u8; HEADER_SIZE_USIZE];
        let mut ok_count = 0;
        for case in 0..100_000u32 {
            rng.fill_bytes(&mut bytes);
            if case % 2 == 0 {
                // Half the cases get a forged checksum, to reach the checks behind it.
                bytes[RESERVED_OFFSET..].fill(0);
                let sum = checksum(&bytes[4..]);
                bytes[0..4].copy_from_slice(&sum.to_le_bytes());
            }
            if let Ok(header) = Header::decode(&bytes) {
                assert_eq!(header.checksum, checksum(&bytes[4..]));
                assert_eq!(header.to_bytes(), bytes);
                ok_count += 1;
            }
        }
        assert_eq!(ok_count, 50_000);
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let mut header = Header::root(0xabcd);
        header.op = 77;
        header.operation = OPERATION_APPLICATION_MIN;
        header.set_body(b"hello");
        header.set_checksum();
        let bytes = header.to_bytes();
        assert_eq!(Header::decode(&bytes), Ok(header));
        for bit in 0..(HEADER_SIZE_USIZE * 8) {
            let mut flipped = bytes;
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert!(
                Header::decode(&flipped).is_err(),
                "bit {bit} flip went undetected"
            );
        }
    }

    #[test]
    fn reserved_headers_carry_their_slot() {
        let cluster = 9;
        for slot in 0..64 {
            let header = Header::reserved(cluster, slot);
            assert!(header.is_ok_for_slot(cluster, slot, 64));
            assert!(
                !header.is_ok_for_slot(cluster, (slot + 1) % 64, 64),
                "misdirection unnoticed"
            );
            assert!(!header.is_ok_for_slot(cluster + 1, slot, 64));
        }
        let mut prepare = Header::root(cluster);
        prepare.op = 65;
        prepare.operation = OPERATION_APPLICATION_MIN;
        prepare.set_checksum();
        assert!(prepare.is_ok_for_slot(cluster, 1, 64));
        assert!(!prepare.is_ok_for_slot(cluster, 2, 64));
        assert!(!prepare.invalidated().is_ok_for_slot(cluster, 1, 64));
        assert!(Header::is_invalidated(&prepare.invalidated().to_bytes()));
        assert!(!Header::is_invalidated(&prepare.to_bytes()));
        assert!(!Header::is_invalidated(
            &prepare.to_bytes()[..HEADER_SIZE_USIZE - 1]
        ));
        let mut small = prepare;
        small.size = 10;
        small.set_checksum();
        assert!(!small.is_ok_for_slot(cluster, 1, 64));
    }

    #[test]
    fn truncated_input_is_an_error() {
        let bytes = Header::root(1).to_bytes();
        for len in 0..HEADER_SIZE_USIZE {
            assert_eq!(
                Header::decode(&bytes[..len]),
                Err(HeaderError::Truncated { len })
            );
        }
    }
}
