//! Each fault kind, alone at probability 1, does exactly what its documentation says, and
//! nothing else.

mod common;

use common::*;
use fault_models::{FaultConfig, FaultKind, IoError, IoKind};

fn only(faults: FaultConfig) -> fault_models::Disk {
    let mut disk = disk(42, faults, None);
    format(&mut disk);
    disk
}

#[test]
fn read_bit_flip_flips_one_bit_of_the_read_not_the_disk() {
    for seed in 0..20 {
        let faults = FaultConfig {
            read_bit_flip_probability: 1.0,
            ..FaultConfig::default()
        };
        let mut disk = common::disk(seed, faults, None);
        format(&mut disk);
        let offset = 3 * PREPARE_SLOT_SIZE + SECTOR_SIZE;
        let stored = disk.peek(ZONE_PREPARES, offset, SECTOR_SIZE).to_vec();

        let (completion, data) = read_now(&mut disk, ZONE_PREPARES, offset, SECTOR_SIZE);
        assert_eq!(completion.result, Ok(()));
        assert_eq!(completion.kind, IoKind::Read);
        assert_eq!(bits_different(&data, &stored), 1);
        assert_eq!(disk.peek(ZONE_PREPARES, offset, SECTOR_SIZE), &stored[..]);
        let records = disk.fault_log().records();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].kind, FaultKind::ReadBitFlip);
        assert_eq!(
            (records[0].zone, records[0].offset, records[0].len),
            (ZONE_PREPARES, offset, SECTOR_SIZE)
        );
        assert!(disk.range_faulty(ZONE_PREPARES, offset, SECTOR_SIZE));

        // A retry sees the very same flip, even with read faults switched off.
        disk.set_fault_config(FaultConfig::default());
        let (_, retry) = read_now(&mut disk, ZONE_PREPARES, offset, SECTOR_SIZE);
        assert_eq!(retry, data);
        // A rewrite cures it.
        write_now(&mut disk, ZONE_PREPARES, offset, &stored);
        let (_, cured) = read_now(&mut disk, ZONE_PREPARES, offset, SECTOR_SIZE);
        assert_eq!(cured, stored);
        assert!(!disk.range_faulty(ZONE_PREPARES, offset, SECTOR_SIZE));
        assert_eq!(disk.fault_log().len(), 1);
    }
}

#[test]
fn write_bit_flip_stores_one_flipped_bit() {
    let mut disk = only(FaultConfig {
        write_bit_flip_probability: 1.0,
        ..FaultConfig::default()
    });
    let offset = 5 * PREPARE_SLOT_SIZE;
    let data = pattern(9, PREPARE_SLOT_SIZE);
    let completion = write_now(&mut disk, ZONE_PREPARES, offset, &data);
    assert_eq!(completion.result, Ok(()));
    let stored = disk.peek(ZONE_PREPARES, offset, PREPARE_SLOT_SIZE).to_vec();
    assert_eq!(bits_different(&stored, &data), 1);

    let records = disk.fault_log().records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].kind, FaultKind::WriteBitFlip);
    assert_eq!(records[0].len, SECTOR_SIZE);
    let sector = (records[0].offset - offset) as usize;
    let sector_range = sector..sector + SECTOR_SIZE as usize;
    assert_eq!(
        bits_different(&stored[sector_range.clone()], &data[sector_range]),
        1
    );
    assert!(disk.range_faulty(ZONE_PREPARES, records[0].offset, SECTOR_SIZE));

    // What was stored is what reads return.
    disk.set_fault_config(FaultConfig::default());
    let (_, read) = read_now(&mut disk, ZONE_PREPARES, offset, PREPARE_SLOT_SIZE);
    assert_eq!(read, stored);
    write_now(&mut disk, ZONE_PREPARES, offset, &data);
    assert_eq!(
        disk.peek(ZONE_PREPARES, offset, PREPARE_SLOT_SIZE),
        &data[..]
    );
    assert!(!disk.range_faulty(ZONE_PREPARES, offset, PREPARE_SLOT_SIZE));
}

/// Structured corruption: one sector of the write is stored as zeros, noise, another sector's
/// bytes, or a run of noise inside it; every other sector as written; the sector is marked
/// and logged; each kind appears across seeds; a rewrite cures it.
#[test]
fn sector_corrupt_stores_one_sector_of_garbage() {
    let (mut zeroed, mut copied, mut noise, mut partial) = (0, 0, 0, 0);
    for seed in 0..64 {
        let faults = FaultConfig {
            sector_corrupt_probability: 1.0,
            ..FaultConfig::default()
        };
        let mut disk = common::disk(seed, faults, None);
        format(&mut disk);
        let offset = 5 * PREPARE_SLOT_SIZE;
        let data = pattern(9 + seed, PREPARE_SLOT_SIZE);
        assert_eq!(
            write_now(&mut disk, ZONE_PREPARES, offset, &data).result,
            Ok(())
        );
        let stored = disk.peek(ZONE_PREPARES, offset, PREPARE_SLOT_SIZE).to_vec();
        let records = disk.fault_log().records().to_vec();
        assert_eq!(records.len(), 1, "seed {seed}");
        let record = records[0].clone();
        assert_eq!((record.zone, record.len), (ZONE_PREPARES, SECTOR_SIZE));
        let within = (record.offset - offset) as usize;
        let sector = within..within + SECTOR_SIZE as usize;
        // Every other sector is exactly as written.
        assert_eq!(stored[..within], data[..within]);
        assert_eq!(stored[sector.end..], data[sector.end..]);
        let damaged = &stored[sector.clone()];
        match record.kind {
            FaultKind::SectorZeroed => {
                assert!(damaged.iter().all(|&byte| byte == 0));
                zeroed += 1;
            }
            FaultKind::SectorJunk { source_offset } if source_offset != record.offset => {
                // Another sector's bytes, as they stood (the zone's formatted bytes or this
                // write's, if it copied from within the write).
                let source = disk.peek(ZONE_PREPARES, source_offset, SECTOR_SIZE);
                assert!(
                    source == damaged || source_offset / SECTOR_SIZE == record.offset / SECTOR_SIZE
                );
                copied += 1;
            }
            FaultKind::SectorJunk { .. } => {
                let differing = damaged
                    .iter()
                    .zip(&data[sector.clone()])
                    .filter(|(a, b)| a != b)
                    .count();
                if differing <= 64 {
                    partial += 1;
                } else {
                    noise += 1;
                }
            }
            other => panic!("seed {seed}: {other:?}"),
        }
        assert!(disk.range_faulty(ZONE_PREPARES, record.offset, SECTOR_SIZE));
        disk.set_fault_config(FaultConfig::default());
        write_now(&mut disk, ZONE_PREPARES, offset, &data);
        assert_eq!(
            disk.peek(ZONE_PREPARES, offset, PREPARE_SLOT_SIZE),
            &data[..]
        );
        assert!(!disk.range_faulty(ZONE_PREPARES, offset, PREPARE_SLOT_SIZE));
    }
    assert!(
        zeroed > 0 && copied > 0 && noise > 0 && partial > 0,
        "{zeroed} {copied} {noise} {partial}"
    );
}

#[test]
fn lost_write_is_acknowledged_but_not_applied() {
    let mut disk = only(FaultConfig {
        lost_write_probability: 1.0,
        ..FaultConfig::default()
    });
    let offset = 2 * SECTOR_SIZE;
    let old = disk.peek(ZONE_HEADERS, offset, SECTOR_SIZE).to_vec();
    let completion = write_now(&mut disk, ZONE_HEADERS, offset, &pattern(77, SECTOR_SIZE));
    assert_eq!(completion.result, Ok(()));
    assert_eq!(completion.kind, IoKind::Write);
    assert_eq!(disk.peek(ZONE_HEADERS, offset, SECTOR_SIZE), &old[..]);
    assert!(disk.range_faulty(ZONE_HEADERS, offset, SECTOR_SIZE));
    let records = disk.fault_log().records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].kind, FaultKind::LostWrite);
    assert_eq!((records[0].offset, records[0].len), (offset, SECTOR_SIZE));
}

/// A disk never silently drops writes in two zones of one chunk (a prepare and the header sector
/// covering it): that double fault would make a storage engine forget what it acknowledged. A
/// lost header-sector write forbids lost and misdirected prepare writes of its chunk, not of
/// another chunk.
#[test]
fn silent_drops_never_hit_two_zones_of_one_chunk() {
    let mut disk = only(FaultConfig {
        lost_write_probability: 1.0,
        ..FaultConfig::default()
    });
    let chunk = 1;
    assert_eq!(
        write_now(
            &mut disk,
            ZONE_HEADERS,
            chunk * SECTOR_SIZE,
            &pattern(1, SECTOR_SIZE)
        )
        .result,
        Ok(())
    );
    let prepare_offset = chunk * 4 * PREPARE_SLOT_SIZE + PREPARE_SLOT_SIZE;
    let data = pattern(2, SECTOR_SIZE);
    assert_eq!(
        write_now(&mut disk, ZONE_PREPARES, prepare_offset, &data).result,
        Ok(())
    );
    assert_eq!(
        disk.peek(ZONE_PREPARES, prepare_offset, SECTOR_SIZE),
        &data[..]
    );
    // Another chunk's prepare is still lost.
    let other_offset = (chunk + 1) * 4 * PREPARE_SLOT_SIZE;
    let old = disk.peek(ZONE_PREPARES, other_offset, SECTOR_SIZE).to_vec();
    write_now(&mut disk, ZONE_PREPARES, other_offset, &data);
    assert_eq!(
        disk.peek(ZONE_PREPARES, other_offset, SECTOR_SIZE),
        &old[..]
    );
    let lost: Vec<_> = disk
        .fault_log()
        .records()
        .iter()
        .map(|r| (r.zone, r.offset))
        .collect();
    assert_eq!(
        lost,
        [
            (ZONE_HEADERS, chunk * SECTOR_SIZE),
            (ZONE_PREPARES, other_offset)
        ]
    );
}

#[test]
fn latent_sector_error_fails_reads_until_rewritten() {
    let mut disk = only(FaultConfig {
        latent_sector_error_probability: 1.0,
        ..FaultConfig::default()
    });
    let offset = 7 * PREPARE_SLOT_SIZE;
    let data = pattern(3, 2 * SECTOR_SIZE);
    assert_eq!(
        write_now(&mut disk, ZONE_PREPARES, offset, &data).result,
        Ok(())
    );
    let records = disk.fault_log().records().to_vec();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].kind, FaultKind::LatentSectorError);
    let latent_offset = records[0].offset;
    assert!(latent_offset == offset || latent_offset == offset + SECTOR_SIZE);
    // The bytes were stored; only reading them fails.
    assert_eq!(disk.peek(ZONE_PREPARES, offset, 2 * SECTOR_SIZE), &data[..]);
    assert!(disk.range_faulty(ZONE_PREPARES, latent_offset, SECTOR_SIZE));

    disk.set_fault_config(FaultConfig::default());
    for _ in 0..3 {
        let (completion, read) = read_now(&mut disk, ZONE_PREPARES, offset, 2 * SECTOR_SIZE);
        assert_eq!(
            completion.result,
            Err(IoError::LatentSectorError {
                offset: latent_offset
            })
        );
        assert!(read.is_empty());
    }
    let other_offset = if latent_offset == offset {
        offset + SECTOR_SIZE
    } else {
        offset
    };
    let (completion, _) = read_now(&mut disk, ZONE_PREPARES, other_offset, SECTOR_SIZE);
    assert_eq!(completion.result, Ok(()));

    write_now(
        &mut disk,
        ZONE_PREPARES,
        latent_offset,
        &pattern(4, SECTOR_SIZE),
    );
    let (completion, _) = read_now(&mut disk, ZONE_PREPARES, offset, 2 * SECTOR_SIZE);
    assert_eq!(completion.result, Ok(()));
    assert!(!disk.range_faulty(ZONE_PREPARES, offset, 2 * SECTOR_SIZE));
}

#[test]
fn misdirected_write_lands_in_another_slot_at_the_same_slot_offset() {
    let mut targets = std::collections::BTreeSet::new();
    for seed in 0..30 {
        let faults = FaultConfig {
            misdirected_write_probability: 1.0,
            ..FaultConfig::default()
        };
        let mut disk = common::disk(seed, faults, None);
        format(&mut disk);
        let before = disk
            .peek(ZONE_PREPARES, 0, SLOT_COUNT * PREPARE_SLOT_SIZE)
            .to_vec();
        let offset = 2 * PREPARE_SLOT_SIZE + SECTOR_SIZE;
        let len = 2 * SECTOR_SIZE;
        let data = pattern(500, len);
        assert_eq!(
            write_now(&mut disk, ZONE_PREPARES, offset, &data).result,
            Ok(())
        );

        let records = disk.fault_log().records();
        assert_eq!(records.len(), 1);
        let FaultKind::MisdirectedWrite { target_offset } = records[0].kind else {
            panic!("expected a misdirected write, got {:?}", records[0].kind);
        };
        assert_eq!(
            (records[0].zone, records[0].offset, records[0].len),
            (ZONE_PREPARES, offset, len)
        );
        assert_ne!(target_offset, offset);
        assert_eq!(
            target_offset % PREPARE_SLOT_SIZE,
            offset % PREPARE_SLOT_SIZE
        );
        targets.insert(target_offset);

        // The intended range kept its old bytes; the write landed whole at the target; nothing
        // else changed.
        let after = disk
            .peek(ZONE_PREPARES, 0, SLOT_COUNT * PREPARE_SLOT_SIZE)
            .to_vec();
        let (start, target) = (offset as usize, target_offset as usize);
        assert_eq!(
            after[start..start + len as usize],
            before[start..start + len as usize]
        );
        assert_eq!(after[target..target + len as usize], data[..]);
        let mut expected = before.clone();
        expected[target..target + len as usize].copy_from_slice(&data);
        assert_eq!(after, expected);
        assert!(disk.range_faulty(ZONE_PREPARES, offset, len));
        assert!(disk.range_faulty(ZONE_PREPARES, target_offset, len));
        assert!(!disk.range_faulty(ZONE_PREPARES, offset + len, SECTOR_SIZE));
        assert_eq!(
            disk.fault_log()
                .records_in(ZONE_PREPARES, target_offset, SECTOR_SIZE)
                .count(),
            1
        );

        // Later correct writes undo both sides.
        disk.set_fault_config(FaultConfig::default());
        write_now(&mut disk, ZONE_PREPARES, offset, &data);
        assert!(!disk.range_faulty(ZONE_PREPARES, offset, len));
        assert!(disk.range_faulty(ZONE_PREPARES, target_offset, len));
        write_now(
            &mut disk,
            ZONE_PREPARES,
            target_offset,
            &before[target..target + len as usize],
        );
        assert!(!disk.range_faulty(ZONE_PREPARES, target_offset, len));
    }
    assert!(
        targets.len() > 5,
        "misdirection targets vary with the seed: {targets:?}"
    );
}

#[test]
fn misdirected_write_needs_two_slots() {
    let mut disk = only(FaultConfig {
        misdirected_write_probability: 1.0,
        ..FaultConfig::default()
    });
    let data = pattern(8, 2 * SECTOR_SIZE);
    write_now(&mut disk, ZONE_SINGLE, 0, &data);
    assert_eq!(disk.peek(ZONE_SINGLE, 0, 2 * SECTOR_SIZE), &data[..]);
    assert!(disk.fault_log().is_empty());
}

#[test]
fn misdirected_read_returns_another_slots_bytes() {
    for seed in 0..30 {
        let faults = FaultConfig {
            misdirected_read_probability: 1.0,
            ..FaultConfig::default()
        };
        let mut disk = common::disk(seed, faults, None);
        format(&mut disk);
        let before = disk.peek(ZONE_HEADERS, 0, SLOT_COUNT * 128).to_vec();
        let offset = 3 * SECTOR_SIZE;
        let (completion, data) = read_now(&mut disk, ZONE_HEADERS, offset, SECTOR_SIZE);
        assert_eq!(completion.result, Ok(()));
        let records = disk.fault_log().records();
        assert_eq!(records.len(), 1);
        let FaultKind::MisdirectedRead { source_offset } = records[0].kind else {
            panic!("expected a misdirected read, got {:?}", records[0].kind);
        };
        assert_ne!(source_offset, offset);
        assert_eq!(data, disk.peek(ZONE_HEADERS, source_offset, SECTOR_SIZE));
        assert_ne!(data, disk.peek(ZONE_HEADERS, offset, SECTOR_SIZE));
        // Reads change nothing on disk.
        assert_eq!(disk.peek(ZONE_HEADERS, 0, SLOT_COUNT * 128), &before[..]);
        assert!(!disk.range_faulty(ZONE_HEADERS, 0, SLOT_COUNT * 128));
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SectorState {
    Old,
    New,
    Half,
}

/// With tearing certain, a crash lands some but not all sectors of a multi-sector write, and
/// over many seeds every shape shows up.
#[test]
fn crash_tears_pending_writes() {
    let sector_count = 8_usize;
    let len = sector_count as u64 * SECTOR_SIZE;
    let (mut prefixes, mut suffixes, mut scatters, mut halves, mut wholes) = (0, 0, 0, 0, 0);
    for seed in 0..300 {
        let faults = FaultConfig {
            crash_write_torn_probability: 1.0,
            write_latency_ticks_min: 10,
            ..FaultConfig::default()
        };
        // The atlas allows nothing: tears happen anyway.
        let nothing = bitvec::vec::BitVec::repeat(false, CHUNK_COUNT as usize);
        let mut disk = common::disk(seed, faults, Some(nothing));
        let old = vec![0xAA_u8; len as usize];
        let new = vec![0x55_u8; len as usize];
        disk.poke(ZONE_PREPARES, 0, &old);
        disk.submit_write(0, 1, ZONE_PREPARES, 0, &new);
        disk.crash(5);
        assert_eq!(disk.pending_count(), 0);
        assert!(disk.poll_completion(100).is_none());

        let stored = disk.peek(ZONE_PREPARES, 0, len);
        let states: Vec<SectorState> = stored
            .chunks(SECTOR_SIZE as usize)
            .map(|sector| {
                if sector.iter().all(|&byte| byte == 0x55) {
                    SectorState::New
                } else if sector.iter().all(|&byte| byte == 0xAA) {
                    SectorState::Old
                } else {
                    // Half new (a prefix), half old.
                    let split = sector
                        .iter()
                        .position(|&byte| byte != 0x55)
                        .expect("old part");
                    assert!(split > 0);
                    assert!(sector[split..].iter().all(|&byte| byte == 0xAA));
                    SectorState::Half
                }
            })
            .collect();
        let new_count = states
            .iter()
            .filter(|&&state| state == SectorState::New)
            .count();
        let half_count = states
            .iter()
            .filter(|&&state| state == SectorState::Half)
            .count();
        assert!(new_count >= 1, "seed {seed}: {states:?}");
        assert!(new_count < sector_count, "seed {seed}: {states:?}");
        assert!(half_count <= 1);
        if half_count == 1 {
            halves += 1;
        } else {
            wholes += 1;
        }
        let landed: Vec<bool> = states
            .iter()
            .map(|&state| state == SectorState::New)
            .collect();
        let first_missing = landed.iter().position(|&sector| !sector).expect("missing");
        let last_missing = landed.iter().rposition(|&sector| !sector).expect("missing");
        if landed[0] && landed[first_missing..].iter().all(|&sector| !sector) {
            prefixes += 1;
        } else if landed[sector_count - 1] && landed[..=last_missing].iter().all(|&sector| !sector)
        {
            suffixes += 1;
        } else {
            scatters += 1;
        }

        assert!(disk.range_faulty(ZONE_PREPARES, 0, len));
        let records = disk.fault_log().records();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].kind, FaultKind::TornWrite);
        assert_eq!(
            (records[0].offset, records[0].len, records[0].tick),
            (0, len, 5)
        );
    }
    assert!(prefixes > 0, "no prefix tears");
    assert!(suffixes > 0, "no suffix tears");
    assert!(scatters > 0, "no scatter tears");
    assert!(halves > 0, "no half sectors");
    assert!(wholes > 0, "always a half sector");
}

#[test]
fn crash_tears_a_single_sector_in_half() {
    let faults = FaultConfig {
        crash_write_torn_probability: 1.0,
        write_latency_ticks_min: 10,
        ..FaultConfig::default()
    };
    let mut disk = common::disk(3, faults, None);
    disk.poke(ZONE_HEADERS, 0, &[0xAA; SECTOR_SIZE as usize]);
    disk.submit_write(0, 1, ZONE_HEADERS, 0, &[0x55; SECTOR_SIZE as usize]);
    disk.crash(1);
    let stored = disk.peek(ZONE_HEADERS, 0, SECTOR_SIZE);
    let split = stored
        .iter()
        .position(|&byte| byte != 0x55)
        .expect("an old part");
    assert!(split > 0);
    assert!(stored[split..].iter().all(|&byte| byte == 0xAA));
}

/// Without tearing, a crash applies or drops each pending write whole, and drops every read.
#[test]
fn crash_without_tears_applies_or_drops_whole_writes() {
    let (mut applied, mut dropped) = (0, 0);
    for seed in 0..20 {
        let faults = FaultConfig {
            write_latency_ticks_min: 10,
            read_latency_ticks_min: 10,
            ..FaultConfig::default()
        };
        let mut disk = common::disk(seed, faults, None);
        format(&mut disk);
        let mut writes = Vec::new();
        for slot in 0..8 {
            let offset = slot * PREPARE_SLOT_SIZE;
            let data = pattern(900 + slot, 3 * SECTOR_SIZE);
            let old = disk.peek(ZONE_PREPARES, offset, 3 * SECTOR_SIZE).to_vec();
            disk.submit_write(0, slot, ZONE_PREPARES, offset, &data);
            disk.submit_read(0, 100 + slot, ZONE_PREPARES, offset, SECTOR_SIZE);
            writes.push((offset, old, data));
        }
        disk.crash(3);
        assert_eq!(disk.pending_count(), 0);
        assert!(disk.poll_completion(1000).is_none());
        for (offset, old, data) in writes {
            let stored = disk.peek(ZONE_PREPARES, offset, 3 * SECTOR_SIZE);
            if stored == &data[..] {
                applied += 1;
            } else {
                assert_eq!(stored, &old[..]);
                dropped += 1;
            }
        }
        assert!(disk.fault_log().is_empty());
    }
    assert!(applied > 0);
    assert!(dropped > 0);
}

/// Aimed faults: with every probability zero, a fault aimed at one write or one sector happens
/// exactly there, and is marked and logged as its drawn kind would be; nothing else changes.
#[test]
fn aimed_faults_fall_exactly_where_aimed() {
    let mut disk = only(FaultConfig::default());
    let offset = 2 * SECTOR_SIZE;
    let old = disk.peek(ZONE_HEADERS, offset, SECTOR_SIZE).to_vec();
    disk.submit_write(0, 7, ZONE_HEADERS, offset, &pattern(5, SECTOR_SIZE));
    assert!(
        !disk.aim_write(8, fault_models::WriteAim::Lose),
        "no such write"
    );
    assert!(disk.aim_write(7, fault_models::WriteAim::Lose));
    drain(&mut disk, 1_000);
    assert_eq!(disk.peek(ZONE_HEADERS, offset, SECTOR_SIZE), &old[..]);
    assert_eq!(disk.fault_log().records()[0].kind, FaultKind::LostWrite);

    // A torn write needs a crash before it completes.
    let prepare = PREPARE_SLOT_SIZE;
    disk.submit_write(
        1_000,
        9,
        ZONE_PREPARES,
        prepare,
        &pattern(6, 2 * SECTOR_SIZE),
    );
    assert!(disk.aim_write(9, fault_models::WriteAim::Tear));
    disk.crash(1_000);
    assert_eq!(disk.fault_log().records()[1].kind, FaultKind::TornWrite);
    assert!(disk.range_faulty(ZONE_PREPARES, prepare, 2 * SECTOR_SIZE));

    // Bit rot and a latent error, now, at one sector.
    let sector = 5 * PREPARE_SLOT_SIZE;
    let before = disk.peek(ZONE_PREPARES, sector, SECTOR_SIZE).to_vec();
    assert!(disk.aim_bit_rot(1_000, ZONE_PREPARES, sector));
    assert_eq!(
        bits_different(&before, disk.peek(ZONE_PREPARES, sector, SECTOR_SIZE)),
        1
    );
    assert!(disk.aim_latent_error(1_000, ZONE_PREPARES, sector + SECTOR_SIZE));
    disk.submit_read(1_000, 10, ZONE_PREPARES, sector, 2 * SECTOR_SIZE);
    let completions = drain(&mut disk, 2_000);
    assert!(completions[0].0.result.is_err());
    let kinds: Vec<FaultKind> = disk.fault_log().records().iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        [
            FaultKind::LostWrite,
            FaultKind::TornWrite,
            FaultKind::WriteBitFlip,
            FaultKind::LatentSectorError
        ]
    );

    // Faults off: nothing can be aimed.
    disk.set_faults_enabled(false);
    assert!(!disk.aim_bit_rot(2_001, ZONE_PREPARES, 0));
    assert!(!disk.aim_latent_error(2_001, ZONE_PREPARES, 0));
}

/// What a checker may cache per zone slot: the stored bytes and the fault bits of each sector.
fn slot_observed(
    disk: &fault_models::Disk,
    zone: usize,
    offset: u64,
    len: u64,
) -> (Vec<u8>, Vec<(bool, bool)>) {
    let bytes = disk.peek(zone, offset, len).to_vec();
    let bits = (offset..offset + len)
        .step_by(SECTOR_SIZE as usize)
        .map(|sector| {
            (
                disk.range_faulty(zone, sector, SECTOR_SIZE),
                disk.range_unreadable(zone, sector, SECTOR_SIZE),
            )
        })
        .collect();
    (bytes, bits)
}

/// Slot stamps: under every fault kind at once, with crashes and faults switched off and on, a
/// zone slot whose bytes or fault bits changed has a new stamp, and stamps only grow. (A slot
/// may get a new stamp with nothing visible changed, such as a rewrite of identical bytes: a
/// cache keyed on stamps then checks again, which costs time, not power.)
#[test]
fn a_slot_that_changed_has_a_new_stamp() {
    let faults = FaultConfig {
        read_bit_flip_probability: 0.05,
        write_bit_flip_probability: 0.05,
        misdirected_write_probability: 0.05,
        misdirected_read_probability: 0.05,
        latent_sector_error_probability: 0.05,
        lost_write_probability: 0.05,
        crash_write_torn_probability: 0.5,
        sector_corrupt_probability: 0.05,
        read_latency_ticks_min: 1,
        read_latency_ticks_mean: 5,
        write_latency_ticks_min: 1,
        write_latency_ticks_mean: 5,
    };
    let slots: Vec<(usize, u64, u64)> = (0..SLOT_COUNT / 4)
        .map(|slot| (ZONE_HEADERS, slot * SECTOR_SIZE, SECTOR_SIZE))
        .chain(
            (0..SLOT_COUNT)
                .map(|slot| (ZONE_PREPARES, slot * PREPARE_SLOT_SIZE, PREPARE_SLOT_SIZE)),
        )
        .collect();
    let (mut changed_count, mut faults_seen) = (0, 0);
    for seed in 0..8 {
        let mut disk = disk(seed, faults.clone(), None);
        format(&mut disk);
        let observe = |disk: &fault_models::Disk| -> Vec<_> {
            slots
                .iter()
                .map(|&(zone, offset, len)| {
                    (
                        slot_observed(disk, zone, offset, len),
                        disk.slot_stamp(zone, offset),
                    )
                })
                .collect()
        };
        let mut before = observe(&disk);
        for tick in 0..400_u64 {
            let draw = tick.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ seed;
            let &(zone, offset, _) = &slots[(draw % slots.len() as u64) as usize];
            let len = if zone == ZONE_HEADERS {
                SECTOR_SIZE
            } else {
                SECTOR_SIZE * (1 + draw / 7 % 4)
            };
            if draw % 3 == 0 {
                disk.submit_read(tick, tick, zone, offset, len);
            } else if disk.pending_count() < 16 {
                disk.submit_write(tick, tick, zone, offset, &pattern(draw, len));
            }
            match tick % 97 {
                50 => disk.crash(tick),
                70 => disk.set_faults_enabled(false),
                80 => disk.set_faults_enabled(true),
                _ => {}
            }
            drain(&mut disk, tick);
            let after = observe(&disk);
            for (slot, (was, now)) in before.iter().zip(&after).enumerate() {
                assert!(
                    now.1 >= was.1,
                    "seed {seed} tick {tick}: slot {slot}'s stamp went back"
                );
                if now.0 != was.0 {
                    changed_count += 1;
                    assert_ne!(
                        now.1, was.1,
                        "seed {seed} tick {tick}: slot {slot} changed under the same stamp"
                    );
                }
            }
            before = after;
        }
        faults_seen += disk.fault_log().len();
    }
    // The test saw what it is about: many changes, faults of many kinds among them.
    assert!(changed_count > 1_000, "{changed_count} changes");
    assert!(faults_seen > 100, "{faults_seen} faults");
}

/// A write misdirected to a named slot lands at the same offset of that slot and nowhere else;
/// its own slot, or one past the zone, is refused.
#[test]
fn a_write_misdirected_to_a_slot_lands_there() {
    let mut disk = only(FaultConfig::default());
    let (own, target) = (
        2 * PREPARE_SLOT_SIZE + SECTOR_SIZE,
        5 * PREPARE_SLOT_SIZE + SECTOR_SIZE,
    );
    let old_own = disk.peek(ZONE_PREPARES, own, SECTOR_SIZE).to_vec();
    let data = pattern(11, SECTOR_SIZE);
    disk.submit_write(0, 1, ZONE_PREPARES, own, &data);
    let aim = |slot| fault_models::WriteAim::MisdirectTo { slot };
    assert!(!disk.aim_write(1, aim(2)), "its own slot");
    assert!(!disk.aim_write(1, aim(SLOT_COUNT)), "past the zone");
    assert!(disk.aim_write(1, aim(5)));
    drain(&mut disk, 1_000);
    assert_eq!(disk.peek(ZONE_PREPARES, target, SECTOR_SIZE), &data[..]);
    assert_eq!(disk.peek(ZONE_PREPARES, own, SECTOR_SIZE), &old_own[..]);
    let records = disk.fault_log().records();
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0].kind,
        FaultKind::MisdirectedWrite {
            target_offset: target
        }
    );
    assert!(disk.range_faulty(ZONE_PREPARES, own, SECTOR_SIZE));
    assert!(disk.range_faulty(ZONE_PREPARES, target, SECTOR_SIZE));
}
