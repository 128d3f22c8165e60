//! Little-endian field readers for hand-written decoders (the journal's header, a driver's
//! superblock). Callers check the length first: these slice, so an offset past the end is a bug
//! in the decoder, not a fault on disk.

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
