//! Shared layout and helpers for the integration tests: a small WAL-like disk.

#![allow(dead_code)]

use bitvec::vec::BitVec;
use fault_models::{Completion, Disk, DiskOptions, FaultConfig, ZoneId, ZoneSpec};

pub const SECTOR_SIZE: u64 = 512;
pub const SLOT_COUNT: u64 = 32;
/// Header zone: one 128-byte header per slot, four to a sector; a chunk is one header sector.
pub const ZONE_HEADERS: ZoneId = 0;
/// Prepare zone: four sectors per slot; a chunk is the four slots one header sector covers.
pub const ZONE_PREPARES: ZoneId = 1;
/// A one-slot, one-chunk zone: nothing can be misdirected within it.
pub const ZONE_SINGLE: ZoneId = 2;
pub const PREPARE_SLOT_SIZE: u64 = 4 * SECTOR_SIZE;
pub const CHUNK_COUNT: u64 = SLOT_COUNT / 4;

pub fn zones() -> Vec<ZoneSpec> {
    vec![
        ZoneSpec {
            name: "wal_headers".into(),
            size: SLOT_COUNT * 128,
            slot_size: SECTOR_SIZE,
            chunk_size: SECTOR_SIZE,
        },
        ZoneSpec {
            name: "wal_prepares".into(),
            size: SLOT_COUNT * PREPARE_SLOT_SIZE,
            slot_size: PREPARE_SLOT_SIZE,
            chunk_size: 4 * PREPARE_SLOT_SIZE,
        },
        ZoneSpec {
            name: "single".into(),
            size: 2 * SECTOR_SIZE,
            slot_size: 2 * SECTOR_SIZE,
            chunk_size: 2 * SECTOR_SIZE,
        },
    ]
}

pub fn disk(seed: u64, faults: FaultConfig, faulty_chunks: Option<BitVec>) -> Disk {
    Disk::new(DiskOptions {
        replica: 1,
        seed,
        sector_size: SECTOR_SIZE,
        zones: zones(),
        faults,
        faulty_chunks,
    })
}

/// Polls every completion ready at `tick`, with the read bytes of each.
pub fn drain(disk: &mut Disk, tick: u64) -> Vec<(Completion, Vec<u8>)> {
    let mut completions = Vec::new();
    while let Some(completion) = disk.poll_completion(tick) {
        let data = disk.completed_read_data().to_vec();
        completions.push((completion, data));
    }
    completions
}

/// Submits one I/O and completes it at once (latencies must be zero).
pub fn write_now(disk: &mut Disk, zone: ZoneId, offset: u64, data: &[u8]) -> Completion {
    disk.submit_write(0, 0, zone, offset, data);
    let mut completions = drain(disk, 0);
    assert_eq!(completions.len(), 1);
    completions.pop().expect("one completion").0
}

pub fn read_now(disk: &mut Disk, zone: ZoneId, offset: u64, len: u64) -> (Completion, Vec<u8>) {
    disk.submit_read(0, 0, zone, offset, len);
    let mut completions = drain(disk, 0);
    assert_eq!(completions.len(), 1);
    completions.pop().expect("one completion")
}

/// A byte pattern that differs per `tag` and per byte position.
pub fn pattern(tag: u64, len: u64) -> Vec<u8> {
    (0..len)
        .map(|index| (tag.wrapping_mul(131) ^ index.wrapping_mul(7) ^ (index >> 8)) as u8)
        .collect()
}

pub fn bits_different(a: &[u8], b: &[u8]) -> u32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

/// Fills every zone with distinct known content.
pub fn format(disk: &mut Disk) {
    for (zone, spec) in zones().iter().enumerate() {
        for slot in 0..spec.size / spec.slot_size {
            let tag = (zone as u64) * 1000 + slot;
            disk.poke(zone, slot * spec.slot_size, &pattern(tag, spec.slot_size));
        }
    }
}

/// A random sector-aligned range of a random zone: within a slot most of the time, sometimes
/// spanning slots.
pub fn random_range(rng: &mut impl rand::Rng) -> (ZoneId, u64, u64) {
    let zone = rng.gen_range(0..2);
    let spec = &zones()[zone];
    let sector_count = spec.size / SECTOR_SIZE;
    let slot_sectors = spec.slot_size / SECTOR_SIZE;
    let first = rng.gen_range(0..sector_count);
    let len_max = if rng.gen_bool(0.8) {
        slot_sectors - first % slot_sectors
    } else {
        (sector_count - first).min(3 * slot_sectors)
    };
    let len = rng.gen_range(1..=len_max);
    (zone, first * SECTOR_SIZE, len * SECTOR_SIZE)
}
