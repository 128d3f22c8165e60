//! Random workloads: determinism per seed, a perfect disk at zero fault probabilities, faults
//! confined to the atlas, uninitialized sectors, and completion order.

mod common;

use bitvec::vec::BitVec;
use common::*;
use fault_models::{Completion, Disk, FaultConfig, FaultKind, IoKind};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn faults_all(probability: f64) -> FaultConfig {
    FaultConfig {
        read_bit_flip_probability: probability,
        write_bit_flip_probability: probability,
        misdirected_write_probability: probability,
        misdirected_read_probability: probability,
        latent_sector_error_probability: probability,
        lost_write_probability: probability,
        crash_write_torn_probability: 0.5,
        sector_corrupt_probability: probability,
        read_latency_ticks_min: 1,
        read_latency_ticks_mean: 5,
        write_latency_ticks_min: 2,
        write_latency_ticks_mean: 8,
    }
}

/// Everything observable from one run, to compare runs byte for byte.
#[derive(Debug, PartialEq)]
struct Outcome {
    completions: Vec<(u64, Completion, Vec<u8>)>,
    contents: Vec<Vec<u8>>,
    fault_log_json: String,
}

/// Drives `disk` with a workload drawn from `workload_seed`: overlapping reads and writes at
/// random ticks, and crashes if `crashes`. Calls `on_completion` with each completion.
fn run(
    disk: &mut Disk,
    tick_start: u64,
    workload_seed: u64,
    io_count: u64,
    crashes: bool,
    mut on_completion: impl FnMut(&Disk, u64, &Completion, &[u8]),
) -> Vec<(u64, Completion, Vec<u8>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(workload_seed);
    let mut completions = Vec::new();
    let mut tick = tick_start;
    for id in 0..io_count {
        tick += rng.gen_range(0..3);
        let (zone, offset, len) = random_range(&mut rng);
        if rng.gen_bool(0.5) {
            disk.submit_write(tick, id, zone, offset, &pattern(rng.gen(), len));
        } else {
            disk.submit_read(tick, id, zone, offset, len);
        }
        if crashes && rng.gen_ratio(1, 50) {
            disk.crash(tick);
        }
        while let Some(completion) = disk.poll_completion(tick) {
            let data = disk.completed_read_data().to_vec();
            on_completion(disk, tick, &completion, &data);
            completions.push((tick, completion, data));
        }
    }
    while let Some(next_ready_tick) = disk.next_ready_tick() {
        tick = tick.max(next_ready_tick);
        while let Some(completion) = disk.poll_completion(tick) {
            let data = disk.completed_read_data().to_vec();
            on_completion(disk, tick, &completion, &data);
            completions.push((tick, completion, data));
        }
    }
    completions
}

fn outcome(seed: u64) -> Outcome {
    let mut disk = disk(seed, faults_all(0.1), None);
    let completions = run(&mut disk, 0, seed ^ 0xFEED, 600, true, |_, _, _, _| {});
    let contents = (0..zones().len())
        .map(|zone| disk.peek(zone, 0, zones()[zone].size).to_vec())
        .collect();
    let fault_log_json = serde_json::to_string(disk.fault_log()).expect("serialize");
    Outcome {
        completions,
        contents,
        fault_log_json,
    }
}

#[test]
fn same_seed_same_disk_and_fault_log() {
    for seed in 0..5 {
        let first = outcome(seed);
        let second = outcome(seed);
        assert!(first == second, "seed {seed} is not deterministic");
        // The workload really did inject every kind of fault.
        let log: fault_models::FaultLog =
            serde_json::from_str(&first.fault_log_json).expect("deserialize");
        for kind in [
            "ReadBitFlip",
            "WriteBitFlip",
            "MisdirectedWrite",
            "MisdirectedRead",
            "LatentSectorError",
            "LostWrite",
            "TornWrite",
        ] {
            assert!(
                log.records()
                    .iter()
                    .any(|record| format!("{:?}", record.kind).starts_with(kind)),
                "seed {seed}: no {kind}"
            );
        }
    }
    assert!(
        outcome(1) != outcome(2),
        "different seeds gave the same run"
    );
}

#[test]
fn never_written_sectors_read_prng_bytes() {
    let len = zones()[ZONE_PREPARES].size;
    let mut first = disk(11, FaultConfig::default(), None);
    let (completion, data) = read_now(&mut first, ZONE_PREPARES, 0, len);
    assert_eq!(completion.result, Ok(()));
    assert_eq!(data, first.peek(ZONE_PREPARES, 0, len));
    assert!(data
        .chunks(SECTOR_SIZE as usize)
        .all(|sector| sector.iter().any(|&byte| byte != 0)));

    let mut second = disk(11, FaultConfig::default(), None);
    let (_, again) = read_now(&mut second, ZONE_PREPARES, 0, len);
    assert_eq!(data, again);

    let mut other = disk(12, FaultConfig::default(), None);
    let (_, different) = read_now(&mut other, ZONE_PREPARES, 0, len);
    assert_ne!(data, different);
}

/// At zero probabilities the disk is a perfect disk: reads return what the last completed
/// write to each byte stored, and nothing is logged.
#[test]
fn zero_probabilities_make_a_perfect_disk() {
    for seed in 0..10 {
        let faults = FaultConfig {
            read_latency_ticks_min: 0,
            read_latency_ticks_mean: 6,
            write_latency_ticks_min: 1,
            write_latency_ticks_mean: 6,
            ..FaultConfig::default()
        };
        let mut disk = disk(seed, faults, None);
        // The model starts from the disk's own initial (PRNG) bytes.
        let mut model: Vec<Vec<u8>> = (0..zones().len())
            .map(|zone| disk.peek(zone, 0, zones()[zone].size).to_vec())
            .collect();
        // Each pending write's bytes, by id, to apply to the model at its completion.
        let mut writes: std::collections::BTreeMap<u64, Vec<u8>> = Default::default();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut tick = 0;
        let mut completions = 0;
        for id in 0..800_u64 {
            tick += rng.gen_range(0..3);
            let (zone, offset, len) = random_range(&mut rng);
            if rng.gen_bool(0.5) {
                let data = pattern(rng.gen(), len);
                disk.submit_write(tick, id, zone, offset, &data);
                writes.insert(id, data);
            } else {
                disk.submit_read(tick, id, zone, offset, len);
            }
            loop {
                let Some(completion) = disk.poll_completion(tick) else {
                    if id + 1 < 800 || disk.pending_count() == 0 {
                        break;
                    }
                    tick += 1;
                    continue;
                };
                completions += 1;
                assert_eq!(completion.result, Ok(()));
                let range =
                    completion.offset as usize..(completion.offset + completion.len) as usize;
                match completion.kind {
                    IoKind::Write => {
                        let data = writes.remove(&completion.id).expect("submitted");
                        model[completion.zone][range].copy_from_slice(&data);
                        assert!(disk.completed_read_data().is_empty());
                    }
                    IoKind::Read => {
                        assert_eq!(disk.completed_read_data(), &model[completion.zone][range]);
                    }
                }
            }
        }
        assert_eq!(completions, 800);
        assert!(writes.is_empty());
        for (zone, bytes) in model.iter().enumerate() {
            assert_eq!(disk.peek(zone, 0, zones()[zone].size), &bytes[..]);
            assert!(!disk.range_faulty(zone, 0, zones()[zone].size));
        }
        assert!(disk.fault_log().is_empty());
    }
}

/// I/O ready at the same tick complete in an order drawn from the seed, not in submission order.
#[test]
fn same_tick_ties_are_broken_by_the_seed() {
    let orders: Vec<Vec<u64>> = (0..10)
        .map(|seed| {
            let mut disk = disk(seed, FaultConfig::default(), None);
            for id in 0..16 {
                disk.submit_read(0, id, ZONE_HEADERS, (id % 8) * SECTOR_SIZE, SECTOR_SIZE);
            }
            assert_eq!(disk.next_ready_tick(), Some(0));
            let order: Vec<u64> = drain(&mut disk, 0)
                .iter()
                .map(|(completion, _)| completion.id)
                .collect();
            assert_eq!(order.len(), 16);
            order
        })
        .collect();
    assert!(
        orders.iter().any(|order| order != &orders[0]),
        "every seed gave the same order"
    );
    assert!(orders
        .iter()
        .all(|order| !order.windows(2).all(|pair| pair[0] < pair[1])));
    // And the same seed gives the same order.
    let mut disk = disk(3, FaultConfig::default(), None);
    for id in 0..16 {
        disk.submit_read(0, id, ZONE_HEADERS, (id % 8) * SECTOR_SIZE, SECTOR_SIZE);
    }
    let order: Vec<u64> = drain(&mut disk, 0)
        .iter()
        .map(|(completion, _)| completion.id)
        .collect();
    assert_eq!(order, orders[3]);
}

/// Ready ticks of completions never go backwards when polled tick by tick.
#[test]
fn completions_come_in_ready_tick_order() {
    for seed in 0..10 {
        let mut disk = disk(seed, faults_all(0.0), None);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for id in 0..100 {
            let (zone, offset, len) = random_range(&mut rng);
            disk.submit_read(0, id, zone, offset, len);
        }
        let mut tick = 0;
        let mut ready_previous = 0;
        let mut count = 0;
        while let Some(ready) = disk.next_ready_tick() {
            assert!(ready >= ready_previous, "ready tick went backwards");
            ready_previous = ready;
            tick = tick.max(ready);
            // Only what is ready at `tick` completes; the rest stays pending.
            let completed = drain(&mut disk, tick).len();
            assert!(completed > 0);
            count += completed;
            if let Some(next) = disk.next_ready_tick() {
                assert!(next > tick);
            }
        }
        assert_eq!(count, 100);
    }
}

/// With an atlas, no fault lands outside the allowed chunks: bytes and read results there are
/// exactly those of a perfect disk.
#[test]
fn faults_stay_inside_the_atlas() {
    for seed in 0..10_u64 {
        let mut chunks: BitVec = BitVec::repeat(false, CHUNK_COUNT as usize);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for chunk in 0..CHUNK_COUNT as usize {
            chunks.set(chunk, rng.gen_bool(0.4));
        }
        let allowed = chunks.clone();
        let chunk_of = |zone: usize, offset: u64| (offset / zones()[zone].chunk_size) as usize;
        let range_allowed = |zone: usize, offset: u64, len: u64| {
            (chunk_of(zone, offset)..=chunk_of(zone, offset + len - 1)).all(|chunk| allowed[chunk])
        };
        let range_clean = |zone: usize, offset: u64, len: u64| {
            (chunk_of(zone, offset)..=chunk_of(zone, offset + len - 1)).all(|chunk| !allowed[chunk])
        };

        let mut disk = disk(seed, faults_all(0.3), Some(chunks));
        let mut model: Vec<Vec<u8>> = (0..zones().len())
            .map(|zone| disk.peek(zone, 0, zones()[zone].size).to_vec())
            .collect();
        let mut clean_reads = 0;
        let mut writes = std::collections::BTreeMap::new();
        let mut workload = ChaCha8Rng::seed_from_u64(seed + 100);
        let mut tick = 0;
        for id in 0..1000_u64 {
            tick += workload.gen_range(0..3);
            let (zone, offset, len) = random_range(&mut workload);
            if workload.gen_bool(0.5) {
                let data = pattern(workload.gen(), len);
                disk.submit_write(tick, id, zone, offset, &data);
                writes.insert(id, data);
            } else {
                disk.submit_read(tick, id, zone, offset, len);
            }
            while let Some(completion) = disk.poll_completion(tick) {
                let (zone, offset, len) = (completion.zone, completion.offset, completion.len);
                let range = offset as usize..(offset + len) as usize;
                match completion.kind {
                    IoKind::Write => {
                        model[zone][range]
                            .copy_from_slice(&writes.remove(&completion.id).expect("written"));
                    }
                    IoKind::Read => {
                        if range_clean(zone, offset, len) {
                            clean_reads += 1;
                            assert_eq!(completion.result, Ok(()));
                            assert_eq!(disk.completed_read_data(), &model[zone][range]);
                        }
                    }
                }
            }
        }
        assert!(clean_reads > 10);
        assert!(disk.fault_log().len() > 10);
        for record in disk.fault_log().records() {
            assert!(
                range_allowed(record.zone, record.offset, record.len),
                "{record:?}"
            );
            match record.kind {
                FaultKind::MisdirectedWrite { target_offset } => {
                    assert!(range_allowed(record.zone, target_offset, record.len));
                }
                FaultKind::MisdirectedRead { source_offset } => {
                    assert!(range_allowed(record.zone, source_offset, record.len));
                }
                _ => {}
            }
        }
        for (zone, zone_model) in model.iter().enumerate().take(2) {
            let spec = &zones()[zone];
            for chunk in 0..spec.chunk_count() {
                let offset = chunk * spec.chunk_size;
                if !allowed[chunk as usize] {
                    assert!(!disk.range_faulty(zone, offset, spec.chunk_size));
                    let range = offset as usize..(offset + spec.chunk_size) as usize;
                    assert_eq!(disk.peek(zone, offset, spec.chunk_size), &zone_model[range]);
                }
            }
        }
    }
}

/// Once faults are disabled the disk is perfect: no new faults, no failed reads, reads return
/// the stored bytes, crashes tear nothing.
#[test]
fn faults_disabled_means_no_new_faults() {
    let mut disk = disk(5, faults_all(0.5), None);
    let completions = run(&mut disk, 0, 1, 200, false, |_, _, _, _| {});
    let tick_end = completions.last().expect("completions").0;
    let logged = disk.fault_log().len();
    assert!(logged > 0);
    disk.set_faults_enabled(false);
    run(
        &mut disk,
        tick_end,
        2,
        400,
        true,
        |disk, _, completion, data| {
            assert_eq!(completion.result, Ok(()));
            if completion.kind == IoKind::Read {
                assert_eq!(
                    data,
                    disk.peek(completion.zone, completion.offset, completion.len)
                );
            }
        },
    );
    assert_eq!(disk.fault_log().len(), logged);
}
