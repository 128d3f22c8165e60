//! Little-endian field readers for hand-written decoders (the journal's header, a driver's
//! superblock), and the zero check for sector padding. Callers check the length first: these
//! slice, so an offset past the end is a bug in the decoder, not a fault on disk.

/// Whether every byte is zero. An OR over all bytes (no early exit), which the compiler
/// vectorizes: a prepare's padding is up to a sector, checked on every read and recovery.
pub fn all_zero(bytes: &[u8]) -> bool {
    bytes.iter().fold(0u8, |any, &byte| any | byte) == 0
}

/// `N` bytes at `offset`.
pub fn array_at<const N: usize>(bytes: &[u8], offset: usize) -> [u8; N] {
    let mut array = [0u8; N];
    array.copy_from_slice(&bytes[offset..offset + N]);
    array
}

/// A little-endian `u32` at `offset`.
pub fn u32_at(bytes: &[u8], offset: usize) -> u32 {
    u32::from_le_bytes(array_at(bytes, offset))
}

/// A little-endian `u64` at `offset`.
pub fn u64_at(bytes: &[u8], offset: usize) -> u64 {
    u64::from_le_bytes(array_at(bytes, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_zero_sees_any_set_byte() {
        assert!(all_zero(&[]));
        assert!(all_zero(&[0; 4096]));
        for index in [0, 1, 31, 4095] {
            let mut bytes = [0u8; 4096];
            bytes[index] = 0x80;
            assert!(!all_zero(&bytes));
        }
        // Set bytes that cancel out under XOR (or sum to zero modulo 256) are still set.
        let mut bytes = [0u8; 64];
        bytes[3] = 0x5a;
        bytes[40] = 0x5a;
        assert!(!all_zero(&bytes));
        bytes[40] = 0xa6;
        assert!(!all_zero(&bytes));
    }
}
