//! The bytes of a freshly formatted WAL: the root prepare in slot 0, reserved everywhere else.
//!
//! A driver writes these before the first `recover` (the journal itself does no I/O).

use crate::config::Config;
use crate::header::{Header, HEADER_SIZE};

/// The header that a fresh WAL holds in `slot`.
pub fn header_for_slot(cluster: u128, slot: u64) -> Header {
    if slot == 0 {
        Header::root(cluster)
    } else {
        Header::reserved(cluster, slot)
    }
}

/// One sector of the formatted `wal_headers` zone.
pub fn wal_headers_sector(config: &Config, cluster: u128, sector: u64) -> Vec<u8> {
    assert!(sector < config.header_sector_count());
    let mut bytes = vec![0u8; config.sector_size as usize];
    let headers_per_sector = config.headers_per_sector();
    for (i, chunk) in bytes.chunks_exact_mut(HEADER_SIZE as usize).enumerate() {
        header_for_slot(cluster, sector * headers_per_sector + i as u64).encode(chunk);
    }
    bytes
}

/// The formatted prepare of `slot`: its header, zero-padded to one sector.
pub fn wal_prepare(config: &Config, cluster: u128, slot: u64) -> Vec<u8> {
    assert!(slot < config.slot_count);
    let mut bytes = vec![0u8; config.sector_size as usize];
    header_for_slot(cluster, slot).encode(&mut bytes[..HEADER_SIZE as usize]);
    bytes
}
