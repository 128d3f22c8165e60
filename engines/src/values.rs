//! Values the workloads write: each names its key and a version number unique in the run, and
//! its remaining bytes follow from those two. So any bytes an engine returns can be judged on
//! their own: a value of this key at an older version (a rollback), at a version never
//! acknowledged, of another key, or bytes nobody wrote (corruption).

/// The smallest value: key, version, and eight bytes that check them.
pub const VALUE_SIZE_MIN: usize = 24;

/// The value of `key` at `version`, `size` bytes long.
pub fn value(key: u64, version: u64, size: usize) -> Vec<u8> {
    assert!(size >= VALUE_SIZE_MIN);
    let mut bytes = Vec::with_capacity(size);
    bytes.extend_from_slice(&key.to_le_bytes());
    bytes.extend_from_slice(&version.to_le_bytes());
    let mut state = key.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ version.rotate_left(29) ^ size as u64;
    while bytes.len() < size {
        // xorshift64*: cheap, and never constant over a sector.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let word = state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
        let take = (size - bytes.len()).min(8);
        bytes.extend_from_slice(&word[..take]);
    }
    assert_eq!(bytes.len(), size);
    bytes
}

/// The version in a value the workload made (not for bytes an engine returned: see [`decode`]).
pub fn version_of(value: &[u8]) -> u64 {
    assert!(value.len() >= VALUE_SIZE_MIN, "a workload value");
    u64::from_le_bytes(value[8..16].try_into().expect("8 bytes"))
}

/// What some bytes are, judged on their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// Exactly what the workload wrote for `key` at `version`.
    Written { key: u64, version: u64 },
    /// Bytes no write of the workload produced.
    Garbage,
}

/// Decodes `bytes` by hand (they come from an engine that read them from a faulty file).
pub fn decode(bytes: &[u8]) -> Decoded {
    if bytes.len() < VALUE_SIZE_MIN {
        return Decoded::Garbage;
    }
    let (Some(key), Some(version)) = (bytes.get(0..8), bytes.get(8..16)) else {
        return Decoded::Garbage;
    };
    let key = u64::from_le_bytes(key.try_into().expect("8 bytes"));
    let version = u64::from_le_bytes(version.try_into().expect("8 bytes"));
    if value(key, version, bytes.len()) == bytes {
        Decoded::Written { key, version }
    } else {
        Decoded::Garbage
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_decode_to_their_key_and_version_and_damage_does_not() {
        for size in [24, 25, 100, 4000] {
            let bytes = value(7, 42, size);
            assert_eq!(
                decode(&bytes),
                Decoded::Written {
                    key: 7,
                    version: 42
                }
            );
            let mut flipped = bytes.clone();
            flipped[size - 1] ^= 1;
            assert_eq!(decode(&flipped), Decoded::Garbage);
            assert_eq!(decode(&bytes[..size - 1]), Decoded::Garbage);
        }
        assert_eq!(decode(&[1, 2, 3]), Decoded::Garbage);
        // A value cut short by damage: too short to be any value, never a panic.
        assert_eq!(decode(&value(7, 42, 24)[..20]), Decoded::Garbage);
        assert_ne!(value(1, 2, 64), value(2, 1, 64));
    }
}
