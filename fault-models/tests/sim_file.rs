//! The simulated file's persistence model and faults, one semantic per test: what reads see, what
//! a crash keeps, how a failed sync behaves, and that every fault is logged.

use fault_models::{
    FaultConfig, FaultKind, FaultRecord, FileError, FileFaultConfig, SimFile, SimFileOptions,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SIZE_MAX: u64 = 64 * 4096;
const SECTOR: u64 = 512;

fn file(seed: u64) -> SimFile {
    SimFile::new(SimFileOptions::new(seed, SIZE_MAX))
}

fn file_with(seed: u64, faults: FileFaultConfig) -> SimFile {
    SimFile::new(SimFileOptions {
        faults,
        ..SimFileOptions::new(seed, SIZE_MAX)
    })
}

/// Bytes that differ per offset and per `tag`, never zero.
fn pattern(tag: u8, offset: u64, len: u64) -> Vec<u8> {
    (offset..offset + len)
        .map(|at| {
            (at as u8 ^ (at >> 8) as u8)
                .wrapping_mul(31)
                .wrapping_add(tag)
                | 1
        })
        .collect()
}

fn read(file: &mut SimFile, offset: u64, len: u64) -> Vec<u8> {
    let mut buffer = vec![0xee; len as usize];
    file.read_at(offset, &mut buffer).expect("read");
    buffer
}

fn records(file: &SimFile, kind: impl Fn(&FaultKind) -> bool) -> Vec<FaultRecord> {
    file.fault_log()
        .records()
        .iter()
        .filter(|record| kind(&record.kind))
        .cloned()
        .collect()
}

fn bits_different(a: &[u8], b: &[u8]) -> u32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

/// A file of `sectors` synced sectors of pattern 1.
fn synced(seed: u64, faults: FileFaultConfig, sectors: u64) -> SimFile {
    let mut file = file_with(seed, faults);
    file.write_at(0, &pattern(1, 0, sectors * SECTOR))
        .expect("write");
    file.sync().expect("sync");
    file
}

#[test]
fn write_then_read_sees_the_new_bytes() {
    let mut file = file(1);
    assert!(file.is_empty());
    file.write_at(0, &pattern(1, 0, 100)).expect("write");
    assert_eq!(file.len(), 100);
    assert_eq!(file.durable_len(), 0);
    assert_eq!(read(&mut file, 0, 100), pattern(1, 0, 100));
    file.write_at(40, &pattern(2, 40, 20)).expect("overwrite");
    assert_eq!(read(&mut file, 40, 20), pattern(2, 40, 20));
    assert_eq!(read(&mut file, 0, 40), pattern(1, 0, 40));
    assert_eq!(file.unsynced_count(), 3);
}

#[test]
fn read_past_the_end_is_out_of_range() {
    let mut file = file(2);
    file.write_at(0, &pattern(1, 0, 100)).expect("write");
    let mut buffer = [0; 10];
    assert_eq!(
        file.read_at(95, &mut buffer),
        Err(FileError::OutOfRange {
            offset: 95,
            len: 10,
            file_len: 100
        })
    );
    assert!(matches!(
        file.read_at(u64::MAX - 2, &mut buffer),
        Err(FileError::OutOfRange { .. })
    ));
    assert_eq!(file.read_at(100, &mut []), Ok(()));
    let error: std::io::Error = FileError::OutOfRange {
        offset: 95,
        len: 10,
        file_len: 100,
    }
    .into();
    assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof);
}

/// The disk under a fresh file holds PRNG garbage: a growth that read it would show.
#[test]
fn growth_reads_zeros() {
    let mut file = file(3);
    file.write_at(0, &pattern(1, 0, 100)).expect("write");
    file.set_len(5000).expect("grow");
    assert!(read(&mut file, 100, 4900).iter().all(|&b| b == 0));
    file.write_at(10_000, &pattern(2, 10_000, 10))
        .expect("write past the end");
    assert_eq!(file.len(), 10_010);
    assert!(read(&mut file, 5000, 5000).iter().all(|&b| b == 0));
    file.sync().expect("sync");
    file.crash();
    assert_eq!(file.len(), 10_010);
    assert_eq!(read(&mut file, 0, 100), pattern(1, 0, 100));
    assert!(read(&mut file, 100, 9900).iter().all(|&b| b == 0));
    assert_eq!(read(&mut file, 10_000, 10), pattern(2, 10_000, 10));
}

/// Random unaligned writes, length changes, syncs and crashes right after a sync, checked
/// against a plain byte vector.
#[test]
fn unaligned_writes_spanning_sectors_match_a_model() {
    for seed in 0..8 {
        let mut file = file(seed);
        let mut model: Vec<u8> = Vec::new();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for step in 0..300_u64 {
            match rng.gen_range(0..10) {
                0..=5 => {
                    let offset = rng.gen_range(0..20_000);
                    let len = rng.gen_range(1..3000);
                    let data = pattern(step as u8, offset, len);
                    file.write_at(offset, &data).expect("write");
                    let end = (offset + len) as usize;
                    if model.len() < end {
                        model.resize(end, 0);
                    }
                    model[offset as usize..end].copy_from_slice(&data);
                }
                6 => {
                    let len = rng.gen_range(0..24_000);
                    file.set_len(len).expect("set_len");
                    model.resize(len as usize, 0);
                }
                7 => file.sync().expect("sync"),
                8 => {
                    file.sync().expect("sync");
                    file.crash();
                    assert_eq!(file.durable_len(), model.len() as u64);
                }
                _ => {
                    if !model.is_empty() {
                        let offset = rng.gen_range(0..model.len() as u64);
                        let len = rng.gen_range(0..=model.len() as u64 - offset);
                        let range = offset as usize..(offset + len) as usize;
                        assert_eq!(read(&mut file, offset, len), model[range], "seed {seed}");
                    }
                }
            }
            assert_eq!(file.len(), model.len() as u64);
        }
        let len = model.len() as u64;
        assert_eq!(read(&mut file, 0, len), model);
        file.sync().expect("sync");
        assert_eq!(file.peek_durable(0, len), model);
    }
}

#[test]
fn synced_data_survives_a_crash_exactly() {
    for seed in 0..10 {
        let mut file = file(seed);
        file.write_at(300, &pattern(1, 300, 5000)).expect("write");
        file.set_len(7000).expect("grow");
        file.sync().expect("sync");
        assert_eq!(file.unsynced_count(), 0);
        assert_eq!(file.durable_len(), 7000);
        file.crash();
        assert_eq!(file.len(), 7000);
        let mut expected = vec![0; 7000];
        expected[300..5300].copy_from_slice(&pattern(1, 300, 5000));
        assert_eq!(read(&mut file, 0, 7000), expected);
        assert_eq!(file.peek_durable(0, 7000), expected);
        assert!(file.fault_log().is_empty());
    }
}

/// With faults disabled a crash drops or lands each unsynced write whole, never tears it (even
/// at tear probability 1), and over many seeds both happen.
#[test]
fn unsynced_writes_land_or_are_lost_whole_when_faults_are_disabled() {
    let faults = FileFaultConfig {
        disk: FaultConfig {
            crash_write_torn_probability: 1.0,
            ..FaultConfig::default()
        },
        ..FileFaultConfig::default()
    };
    let (mut landed, mut lost) = (0, 0);
    for seed in 0..64 {
        let mut file = synced(seed, faults.clone(), 16);
        file.set_faults_enabled(false);
        // Four writes of 3.5 sectors each, unaligned.
        let writes: Vec<(u64, u64)> = (0..4).map(|i| (i * 4 * SECTOR + 100, 1792)).collect();
        for &(offset, len) in &writes {
            file.write_at(offset, &pattern(2, offset, len))
                .expect("write");
        }
        file.crash();
        assert_eq!(file.len(), 16 * SECTOR);
        let mut dropped = Vec::new();
        for &(offset, len) in &writes {
            let bytes = read(&mut file, offset, len);
            if bytes == pattern(2, offset, len) {
                landed += 1;
            } else {
                assert_eq!(bytes, pattern(1, offset, len), "seed {seed}: torn");
                lost += 1;
                dropped.push((offset, len));
            }
        }
        assert!(records(&file, |kind| *kind == FaultKind::TornWrite).is_empty());
        let logged: Vec<(u64, u64)> = records(&file, |kind| *kind == FaultKind::CrashDropped)
            .iter()
            .map(|record| (record.offset, record.len))
            .collect();
        assert_eq!(logged, dropped);
    }
    assert!(landed > 20, "landed {landed}");
    assert!(lost > 20, "lost {lost}");
}

/// A grown length and a later write at a low offset persist independently: seeds exist where
/// the length was lost but the header write landed, and the reverse.
#[test]
fn length_and_data_persist_independently() {
    let (mut length_lost_header_landed, mut length_kept_data_lost) = (0, 0);
    for seed in 0..100 {
        let mut file = synced(seed, FileFaultConfig::default(), 1);
        file.write_at(4096, &pattern(3, 4096, SECTOR))
            .expect("append");
        file.write_at(0, &pattern(2, 0, 64)).expect("header");
        assert_eq!(file.unsynced_count(), 3);
        file.crash();
        let header_landed = read(&mut file, 0, 64) == pattern(2, 0, 64);
        if file.durable_len() == SECTOR && header_landed {
            length_lost_header_landed += 1;
        }
        if file.durable_len() == 4096 + SECTOR {
            // The grown range reads zeros where no write landed.
            assert!(read(&mut file, SECTOR, 4096 - SECTOR)
                .iter()
                .all(|&b| b == 0));
            if read(&mut file, 4096, SECTOR).iter().all(|&b| b == 0) {
                length_kept_data_lost += 1;
            } else {
                assert_eq!(read(&mut file, 4096, SECTOR), pattern(3, 4096, SECTOR));
            }
        } else {
            assert_eq!(file.durable_len(), SECTOR);
        }
    }
    assert!(length_lost_header_landed > 0);
    assert!(length_kept_data_lost > 0);
}

/// At tear probability 1 every unsynced write is torn: across seeds some sectors end zeros or
/// junk (a copy of another sector of the durable file), each one logged.
#[test]
fn torn_writes_leave_zeros_and_junk_and_log_them() {
    let faults = FileFaultConfig {
        disk: FaultConfig {
            crash_write_torn_probability: 1.0,
            ..FaultConfig::default()
        },
        ..FileFaultConfig::default()
    };
    let (mut zeroed, mut junk) = (0, 0);
    for seed in 0..20 {
        let mut file = synced(seed, faults.clone(), 16);
        let old = pattern(1, 0, 16 * SECTOR);
        file.write_at(0, &pattern(2, 0, 16 * SECTOR))
            .expect("write");
        file.crash();
        let torn = records(&file, |kind| *kind == FaultKind::TornWrite);
        assert_eq!(torn.len(), 1);
        assert_eq!((torn[0].offset, torn[0].len), (0, 16 * SECTOR));
        assert_eq!(torn[0].tick, file.tick());
        let bytes = read(&mut file, 0, 16 * SECTOR);
        for record in file.fault_log().records() {
            let sector = &bytes[record.offset as usize..(record.offset + record.len) as usize];
            match record.kind {
                FaultKind::SectorZeroed => {
                    assert_eq!(record.len, SECTOR);
                    assert!(sector.iter().all(|&b| b == 0));
                    zeroed += 1;
                }
                FaultKind::SectorJunk { source_offset } => {
                    assert_eq!(record.len, SECTOR);
                    assert_ne!(source_offset, record.offset);
                    let source = &old[source_offset as usize..(source_offset + SECTOR) as usize];
                    assert_eq!(sector, source);
                    junk += 1;
                }
                FaultKind::TornWrite => {}
                kind => panic!("unexpected {kind:?}"),
            }
        }
        // Every sector with neither record is old or new.
        for index in 0..16 {
            let offset = index * SECTOR;
            let logged = file.fault_log().records()[1..]
                .iter()
                .any(|record| record.offset == offset);
            let sector = &bytes[offset as usize..(offset + SECTOR) as usize];
            if !logged {
                assert!(
                    sector == pattern(1, offset, SECTOR) || sector == pattern(2, offset, SECTOR)
                );
            }
        }
    }
    assert!(zeroed > 0);
    assert!(junk > 0);
}

/// A failed sync (Linux): the error once, the new bytes readable until a crash, the next sync
/// fine and silent, and the data gone after a crash.
#[test]
fn a_failed_sync_drops_the_data_and_reports_it_once() {
    let faults = FileFaultConfig {
        sync_error_probability: 1.0,
        ..FileFaultConfig::default()
    };
    let mut file = file(7);
    file.write_at(0, &pattern(1, 0, 2 * SECTOR)).expect("write");
    file.set_faults_enabled(false);
    file.sync().expect("sync");
    file.set_fault_config(faults);
    file.set_faults_enabled(true);

    file.write_at(100, &pattern(2, 100, 200)).expect("write");
    assert_eq!(file.sync(), Err(FileError::Io));
    let tick = file.tick();
    assert_eq!(read(&mut file, 100, 200), pattern(2, 100, 200));
    assert_eq!(file.unsynced_count(), 0);
    assert_eq!(file.sync(), Ok(()));
    assert_eq!(read(&mut file, 100, 200), pattern(2, 100, 200));
    file.crash();
    assert_eq!(read(&mut file, 0, 2 * SECTOR), pattern(1, 0, 2 * SECTOR));
    let errors = records(&file, |kind| *kind == FaultKind::SyncError);
    assert_eq!(errors.len(), 1);
    assert_eq!(
        (errors[0].tick, errors[0].offset, errors[0].len),
        (tick, 100, 200)
    );
}

/// An aimed sync error fails the next sync only; a later write to another sector syncs fine and
/// survives, the page dropped by the failure does not.
#[test]
fn an_aimed_sync_error_fails_one_sync() {
    let mut file = synced(8, FileFaultConfig::default(), 4);
    file.write_at(0, &pattern(2, 0, SECTOR)).expect("write");
    file.aim_sync_error();
    assert_eq!(file.sync(), Err(FileError::Io));
    file.write_at(2 * SECTOR, &pattern(2, 2 * SECTOR, SECTOR))
        .expect("write");
    assert_eq!(file.sync(), Ok(()));
    file.crash();
    assert_eq!(read(&mut file, 0, SECTOR), pattern(1, 0, SECTOR));
    assert_eq!(
        read(&mut file, 2 * SECTOR, SECTOR),
        pattern(2, 2 * SECTOR, SECTOR)
    );
}

/// A failed sync also forgets the length change: the grown range is gone after a crash.
#[test]
fn a_failed_sync_forgets_the_length() {
    let mut file = synced(9, FileFaultConfig::default(), 1);
    file.write_at(SECTOR, &pattern(2, SECTOR, SECTOR))
        .expect("append");
    file.aim_sync_error();
    assert_eq!(file.sync(), Err(FileError::Io));
    assert_eq!(file.len(), 2 * SECTOR);
    file.crash();
    assert_eq!(file.len(), SECTOR);
}

#[test]
fn a_write_error_changes_nothing() {
    let faults = FileFaultConfig {
        write_error_probability: 1.0,
        ..FileFaultConfig::default()
    };
    let mut file = file_with(10, faults);
    assert_eq!(file.write_at(0, &pattern(1, 0, 100)), Err(FileError::Io));
    assert_eq!(file.len(), 0);
    assert_eq!(file.unsynced_count(), 0);
    let errors = records(&file, |kind| *kind == FaultKind::WriteError);
    assert_eq!(errors.len(), 1);
    assert_eq!((errors[0].offset, errors[0].len), (0, 100));

    let mut file = synced(10, FileFaultConfig::default(), 1);
    file.aim_write_error();
    assert_eq!(file.write_at(10, &pattern(2, 10, 20)), Err(FileError::Io));
    assert_eq!(read(&mut file, 0, SECTOR), pattern(1, 0, SECTOR));
    assert_eq!(file.write_at(10, &pattern(2, 10, 20)), Ok(()));
    assert_eq!(read(&mut file, 10, 20), pattern(2, 10, 20));
    let error: std::io::Error = FileError::Io.into();
    assert_eq!(error.to_string(), "EIO (simulated)");
}

#[test]
fn growth_past_size_max_is_no_space() {
    let mut file = file(11);
    assert_eq!(
        file.write_at(SIZE_MAX - 10, &[1; 11]),
        Err(FileError::NoSpace)
    );
    assert_eq!(file.write_at(u64::MAX, &[1]), Err(FileError::NoSpace));
    assert_eq!(file.set_len(SIZE_MAX + 1), Err(FileError::NoSpace));
    assert_eq!(file.len(), 0);
    file.write_at(SIZE_MAX - 10, &[1; 10]).expect("fits");
    assert_eq!(records(&file, |kind| *kind == FaultKind::NoSpace).len(), 3);
    let error: std::io::Error = FileError::NoSpace.into();
    assert_eq!(error.kind(), std::io::ErrorKind::StorageFull);
}

/// The ENOSPC probability hits only calls that would grow the file.
#[test]
fn no_space_by_probability_hits_growth_only() {
    let mut file = synced(12, FileFaultConfig::default(), 2);
    file.set_fault_config(FileFaultConfig {
        no_space_probability: 1.0,
        ..FileFaultConfig::default()
    });
    assert_eq!(file.write_at(SECTOR, &[7; 600]), Err(FileError::NoSpace));
    assert_eq!(file.set_len(3 * SECTOR), Err(FileError::NoSpace));
    assert_eq!(file.len(), 2 * SECTOR);
    assert_eq!(file.write_at(SECTOR, &[7; 512]), Ok(()));
    assert_eq!(file.set_len(SECTOR), Ok(()));
    let no_space = records(&file, |kind| *kind == FaultKind::NoSpace);
    assert_eq!(no_space.len(), 2);
    assert_eq!((no_space[0].offset, no_space[0].len), (SECTOR, 600));
    assert_eq!((no_space[1].offset, no_space[1].len), (2 * SECTOR, SECTOR));

    let mut file = synced(12, FileFaultConfig::default(), 2);
    file.aim_no_space();
    assert_eq!(file.write_at(0, &[7; 10]), Ok(()));
    assert_eq!(file.set_len(4 * SECTOR), Err(FileError::NoSpace));
    assert_eq!(file.set_len(4 * SECTOR), Ok(()));
}

/// A shrink forgets the bytes past it: growing again reads zeros there, before and after a
/// sync and a crash.
#[test]
fn shrink_then_grow_reads_zeros() {
    for sync_between in [false, true] {
        let mut file = synced(13, FileFaultConfig::default(), 4);
        file.set_len(700).expect("shrink");
        if sync_between {
            file.sync().expect("sync");
        }
        file.set_len(4 * SECTOR).expect("grow");
        assert_eq!(read(&mut file, 0, 700), pattern(1, 0, 700));
        assert!(read(&mut file, 700, 4 * SECTOR - 700)
            .iter()
            .all(|&b| b == 0));
        file.sync().expect("sync");
        file.crash();
        assert_eq!(file.len(), 4 * SECTOR);
        assert_eq!(read(&mut file, 0, 700), pattern(1, 0, 700));
        assert!(read(&mut file, 700, 4 * SECTOR - 700)
            .iter()
            .all(|&b| b == 0));
    }
}

/// A latent error aimed at a durable sector fails every read touching it, and only those,
/// until it is rewritten and synced.
#[test]
fn an_aimed_latent_error_fails_reads_until_rewritten() {
    let mut file = synced(14, FileFaultConfig::default(), 4);
    assert!(file.aim_latent_error(SECTOR + 7));
    let mut buffer = vec![0; 10];
    assert_eq!(file.read_at(SECTOR + 500, &mut buffer), Err(FileError::Io));
    assert_eq!(file.read_at(0, &mut buffer), Ok(()));
    assert_eq!(file.read_at(2 * SECTOR, &mut buffer), Ok(()));
    // A crash does not heal it.
    file.crash();
    assert_eq!(file.read_at(SECTOR, &mut buffer), Err(FileError::Io));
    file.write_at(SECTOR, &pattern(2, SECTOR, SECTOR))
        .expect("rewrite");
    file.sync().expect("sync");
    assert_eq!(read(&mut file, SECTOR, SECTOR), pattern(2, SECTOR, SECTOR));
    let latent = records(&file, |kind| *kind == FaultKind::LatentSectorError);
    assert_eq!((latent[0].offset, latent[0].len), (SECTOR, SECTOR));
    assert!(
        !file.aim_latent_error(4 * SECTOR),
        "past the durable length"
    );
    file.set_faults_enabled(false);
    assert!(!file.aim_latent_error(0), "faults disabled");
}

#[test]
fn aimed_bit_rot_flips_exactly_one_bit() {
    for seed in 0..10 {
        let mut file = synced(seed, FileFaultConfig::default(), 4);
        file.set_len(3 * SECTOR + 100).expect("shrink");
        file.sync().expect("sync");
        let before = read(&mut file, 0, 3 * SECTOR + 100);
        assert!(file.aim_bit_rot(3 * SECTOR + 50));
        let after = read(&mut file, 0, 3 * SECTOR + 100);
        assert_eq!(bits_different(&before, &after), 1, "seed {seed}");
        let rot = records(&file, |kind| *kind == FaultKind::WriteBitFlip);
        assert_eq!(
            (rot[0].offset, rot[0].len, rot[0].tick),
            (3 * SECTOR, SECTOR, file.tick() - 1)
        );
    }
}

#[test]
fn aimed_zeros_and_junk_replace_a_durable_sector() {
    let mut file = synced(15, FileFaultConfig::default(), 4);
    assert!(file.aim_zeros(SECTOR + 1));
    assert!(read(&mut file, SECTOR, SECTOR).iter().all(|&b| b == 0));
    assert!(file.aim_junk(2 * SECTOR));
    let junk = records(&file, |kind| matches!(kind, FaultKind::SectorJunk { .. }));
    let FaultKind::SectorJunk { source_offset } = junk[0].kind else {
        unreachable!()
    };
    assert_ne!(source_offset, 2 * SECTOR);
    assert_eq!(
        read(&mut file, 2 * SECTOR, SECTOR),
        read(&mut file, source_offset, SECTOR)
    );
    assert_eq!(
        records(&file, |kind| *kind == FaultKind::SectorZeroed).len(),
        1
    );
    assert!(!file.aim_zeros(4 * SECTOR));
    file.set_faults_enabled(false);
    assert!(!file.aim_junk(0));
}

/// The disk's write faults happen at writeback: a lost write is acknowledged by the sync, and
/// a read after the sync (from the disk) sees the old bytes.
#[test]
fn disk_write_faults_happen_at_writeback() {
    let mut file = synced(16, FileFaultConfig::default(), 2);
    file.set_fault_config(FileFaultConfig {
        disk: FaultConfig {
            lost_write_probability: 1.0,
            ..FaultConfig::default()
        },
        ..FileFaultConfig::default()
    });
    file.write_at(0, &pattern(2, 0, SECTOR)).expect("write");
    assert!(file.fault_log().is_empty());
    assert_eq!(read(&mut file, 0, SECTOR), pattern(2, 0, SECTOR));
    file.sync().expect("sync");
    let lost = records(&file, |kind| *kind == FaultKind::LostWrite);
    assert_eq!(
        (lost[0].tick, lost[0].offset, lost[0].len),
        (file.tick(), 0, SECTOR)
    );
    assert_eq!(read(&mut file, 0, SECTOR), pattern(1, 0, SECTOR));
}

/// Every fault configuration at once, a random workload of every call.
fn faulty_workload(
    seed: u64,
    mut check: impl FnMut(&mut SimFile, &str, u64, u64, bool),
) -> SimFile {
    let faults = FileFaultConfig {
        disk: FaultConfig {
            read_bit_flip_probability: 0.02,
            write_bit_flip_probability: 0.05,
            misdirected_write_probability: 0.05,
            misdirected_read_probability: 0.02,
            latent_sector_error_probability: 0.05,
            lost_write_probability: 0.05,
            crash_write_torn_probability: 0.3,
            ..FaultConfig::default()
        },
        write_error_probability: 0.05,
        no_space_probability: 0.05,
        sync_error_probability: 0.1,
    };
    let mut file = file_with(seed, faults);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xabcd);
    for step in 0..400_u64 {
        let offset = rng.gen_range(0..40_000);
        let len = rng.gen_range(1..3000);
        match rng.gen_range(0..12) {
            0..=4 => {
                let failed = file
                    .write_at(offset, &pattern(step as u8, offset, len))
                    .is_err();
                check(&mut file, "write", offset, len, failed);
            }
            5 => {
                let failed = file.set_len(offset).is_err();
                check(&mut file, "set_len", offset, 0, failed);
            }
            6 | 7 => {
                let failed = file.sync().is_err();
                check(&mut file, "sync", 0, 0, failed);
            }
            8 => {
                file.crash();
                check(&mut file, "crash", 0, 0, false);
            }
            9 => {
                let injected = match rng.gen_range(0..4) {
                    0 => file.aim_bit_rot(offset),
                    1 => file.aim_latent_error(offset),
                    2 => file.aim_zeros(offset),
                    _ => file.aim_junk(offset),
                };
                check(&mut file, "aim", offset, 0, injected);
            }
            _ => {
                if !file.is_empty() {
                    let offset = offset % file.len();
                    let len = len.min(file.len() - offset);
                    let mut buffer = vec![0; len as usize];
                    let failed = file.read_at(offset, &mut buffer).is_err();
                    check(&mut file, "read", offset, len, failed);
                }
            }
        }
    }
    file
}

#[test]
fn the_same_seed_gives_the_same_bytes_and_fault_log() {
    for seed in 0..4 {
        let run = |seed| {
            let mut outcomes = Vec::new();
            let mut file = faulty_workload(seed, |file, call, offset, len, flag| {
                outcomes.push((call.to_string(), offset, len, flag, file.len()));
            });
            file.set_faults_enabled(false);
            let durable = file.durable_len();
            let bytes = file.peek_durable(0, durable);
            (outcomes, bytes, file.fault_log().clone(), file.stats())
        };
        let first = run(seed);
        assert!(first.2.len() > 10, "the workload injects faults");
        assert!(first == run(seed));
        assert!(first != run(seed + 100));
    }
}

/// Each fault a call reports has its record at that call's tick, with the call's range; each
/// crash and aimed fault logs at its tick; every record has a tick, a range, and a known kind.
#[test]
fn every_injected_fault_is_logged() {
    let mut kinds = std::collections::BTreeSet::new();
    for seed in 0..6 {
        let mut log_len = 0;
        let file = faulty_workload(seed, |file, call, offset, len, flag| {
            let new = &file.fault_log().records()[log_len..];
            log_len = file.fault_log().len();
            for record in new {
                assert_eq!(record.tick, file.tick());
                assert!(record.len > 0);
                assert_eq!(record.zone, 0);
            }
            let has = |kind: FaultKind| new.iter().any(|record| record.kind == kind);
            match call {
                "write" if flag => {
                    let record = new.last().expect("a failed write is logged");
                    assert!(matches!(
                        record.kind,
                        FaultKind::WriteError | FaultKind::NoSpace
                    ));
                    assert_eq!((record.offset, record.len), (offset, len));
                }
                "set_len" if flag => assert!(has(FaultKind::NoSpace)),
                "sync" if flag => assert!(has(FaultKind::SyncError)),
                "aim" => assert_eq!(!new.is_empty(), flag),
                _ => assert!(!has(FaultKind::WriteError) && !has(FaultKind::SyncError)),
            }
        });
        for record in file.fault_log().records() {
            kinds.insert(record.kind.name());
        }
    }
    for kind in [
        "write_error",
        "no_space",
        "sync_error",
        "crash_dropped",
        "torn_write",
        "sector_zeroed",
        "sector_junk",
        "lost_write",
        "write_bit_flip",
        "latent_sector_error",
    ] {
        assert!(kinds.contains(kind), "no {kind} in {kinds:?}");
    }
}

/// A write that landed before a truncation below it that persisted is cut there: when the file
/// grows back, the truncated range reads zeros, whatever the write did.
#[test]
fn a_persisted_truncation_cuts_an_earlier_write() {
    let mut both_persisted = 0;
    for seed in 0..100 {
        let mut file = synced(seed, FileFaultConfig::default(), 4);
        file.write_at(2 * SECTOR, &pattern(2, 2 * SECTOR, SECTOR))
            .expect("write");
        file.set_len(SECTOR).expect("shrink");
        file.set_len(4 * SECTOR).expect("grow");
        file.crash();
        // Both length changes span [SECTOR, 4 * SECTOR): neither dropped means both persisted.
        let lengths_dropped = records(&file, |kind| *kind == FaultKind::CrashDropped)
            .iter()
            .filter(|record| (record.offset, record.len) == (SECTOR, 3 * SECTOR))
            .count();
        assert_eq!(read(&mut file, 0, SECTOR), pattern(1, 0, SECTOR));
        if lengths_dropped == 0 {
            assert_eq!(file.len(), 4 * SECTOR);
            both_persisted += 1;
            assert!(read(&mut file, SECTOR, 3 * SECTOR).iter().all(|&b| b == 0));
        }
    }
    assert!(both_persisted > 0);
}

/// A write past the durable end that landed while its own length change was lost shows once a
/// later length change exposes it (the exposed range is zeros except where writes landed).
#[test]
fn a_later_length_exposes_an_earlier_landed_write() {
    let (mut shown, mut zeros) = (0, 0);
    for seed in 0..200 {
        let mut file = synced(seed, FileFaultConfig::default(), 1);
        file.write_at(SECTOR, &pattern(2, SECTOR, SECTOR))
            .expect("write");
        file.write_at(2 * SECTOR, &pattern(3, 2 * SECTOR, SECTOR))
            .expect("write");
        file.crash();
        if file.len() == 3 * SECTOR {
            let bytes = read(&mut file, SECTOR, SECTOR);
            if bytes == pattern(2, SECTOR, SECTOR) {
                shown += 1;
            } else {
                assert!(bytes.iter().all(|&b| b == 0));
                zeros += 1;
            }
        }
    }
    assert!(shown > 0);
    assert!(zeros > 0);
}

/// After a failed sync of an append, the next sync makes the length durable but not the dropped
/// bytes (their pages are clean): before a crash reads see them, after it zeros.
#[test]
fn the_sync_after_a_failed_one_persists_the_length_not_the_dropped_bytes() {
    let mut file = synced(17, FileFaultConfig::default(), 1);
    file.write_at(SECTOR + 100, &pattern(2, SECTOR + 100, 1000))
        .expect("append");
    file.aim_sync_error();
    assert_eq!(file.sync(), Err(FileError::Io));
    assert_eq!(file.sync(), Ok(()));
    assert_eq!(file.durable_len(), 2 * SECTOR + 588);
    assert_eq!(
        read(&mut file, SECTOR + 100, 1000),
        pattern(2, SECTOR + 100, 1000)
    );
    file.crash();
    assert_eq!(file.len(), 2 * SECTOR + 588);
    assert_eq!(read(&mut file, 0, SECTOR), pattern(1, 0, SECTOR));
    assert!(read(&mut file, SECTOR, SECTOR + 588)
        .iter()
        .all(|&b| b == 0));
}

/// Powersafe overwrite (SQLite's PSOW, which redb assumes too): a torn write changes only its
/// own bytes, even when its units end as zeros or junk. Bytes of the sector outside the write
/// stay as they were synced.
#[test]
fn a_torn_write_never_changes_bytes_outside_it() {
    let faults = FileFaultConfig {
        disk: FaultConfig {
            crash_write_torn_probability: 1.0,
            ..FaultConfig::default()
        },
        ..FileFaultConfig::default()
    };
    let mut garbage_seen = 0;
    for seed in 0..40 {
        let mut file = synced(seed, faults.clone(), 4);
        let old = pattern(1, 0, 4 * SECTOR);
        // 700 bytes from the middle of sector 1 into sector 2.
        let (offset, len) = (SECTOR + 100, 700);
        file.write_at(offset, &pattern(2, offset, len))
            .expect("write");
        file.crash();
        let bytes = read(&mut file, 0, 4 * SECTOR);
        assert_eq!(
            bytes[..offset as usize],
            old[..offset as usize],
            "seed {seed}"
        );
        let end = (offset + len) as usize;
        assert_eq!(bytes[end..], old[end..], "seed {seed}");
        garbage_seen += records(&file, |kind| {
            matches!(kind, FaultKind::SectorZeroed | FaultKind::SectorJunk { .. })
        })
        .len();
    }
    assert!(
        garbage_seen > 0,
        "zeros or junk inside the write, across seeds"
    );
}

/// An engine whose media model is byte-atomic without garbage (redb's "single byte writes are
/// atomic"): every byte of a torn write is old or new, and across seeds a sector mixes both.
#[test]
fn a_byte_atomic_tear_leaves_each_byte_old_or_new() {
    let faults = FileFaultConfig {
        disk: FaultConfig {
            crash_write_torn_probability: 1.0,
            ..FaultConfig::default()
        },
        ..FileFaultConfig::default()
    };
    let mut mixed_sectors = 0;
    for seed in 0..20 {
        let mut options = SimFileOptions::new(seed, SIZE_MAX);
        options.faults = faults.clone();
        options.atomic_unit = 1;
        options.tear_garbage = false;
        let mut file = SimFile::new(options);
        file.write_at(0, &pattern(1, 0, 2 * SECTOR)).expect("write");
        file.sync().expect("sync");
        file.write_at(0, &pattern(2, 0, 2 * SECTOR)).expect("write");
        file.crash();
        let bytes = read(&mut file, 0, 2 * SECTOR);
        let (old, new) = (pattern(1, 0, 2 * SECTOR), pattern(2, 0, 2 * SECTOR));
        for index in 0..bytes.len() {
            assert!(bytes[index] == old[index] || bytes[index] == new[index]);
        }
        let sector = &bytes[..SECTOR as usize];
        let olds = (0..SECTOR as usize).filter(|&i| sector[i] == old[i] && old[i] != new[i]);
        let news = (0..SECTOR as usize).filter(|&i| sector[i] == new[i] && old[i] != new[i]);
        if olds.count() > 0 && news.count() > 0 {
            mixed_sectors += 1;
        }
        assert!(records(&file, |kind| {
            matches!(kind, FaultKind::SectorZeroed | FaultKind::SectorJunk { .. })
        })
        .is_empty());
    }
    assert!(mixed_sectors > 0);
}
