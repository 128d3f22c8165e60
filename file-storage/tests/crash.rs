//! Crash-state exploration of the file driver: exhaustive over a short workload, sampled over a
//! long one, reproducible by seed, and able to fail (a driver without the prepare → header
//! barrier, and states edited after the fact, are caught).

use file_storage::crash_explore::{
    self, check_image, explore, final_state, workload_random, Exploration, ExploreOptions, Outcome,
    Step, Trace, ViolationKind, Workload,
};
use file_storage::WriteOrdering;
use journal::{Config, Header, HEADER_SIZE};

const CLUSTER: u128 = 0xf11e;

/// Small enough that the ring wraps (and checkpoints) within a short workload: 16 slots, four
/// headers per 512-byte sector, prepares of one to four sectors.
fn config_small() -> Config {
    Config {
        sector_size: 512,
        slot_count: 16,
        message_size_max: 2048,
        pipeline_max: 4,
        iops_read_max: 4,
        iops_write_max: 3,
    }
}

fn record(steps: Vec<Step>, ordering: WriteOrdering, record_create: bool) -> Trace {
    crash_explore::record(&Workload {
        config: config_small(),
        cluster: CLUSTER,
        steps,
        record_create,
        ordering,
    })
    .expect("workload runs")
}

/// 40 appends (two and a half wraps of the 16-slot ring, so several checkpoints), bodies giving
/// one- to four-sector prepares, a sync after two of every three appends.
fn workload_short() -> Vec<Step> {
    let mut steps = Vec::new();
    for op in 1..=40usize {
        steps.push(Step::Append {
            body_size: (op * 389 + 90) % 1900,
        });
        if op % 3 != 1 {
            steps.push(Step::Sync);
        }
    }
    steps.push(Step::Sync);
    steps
}

fn assert_clean(exploration: &Exploration) {
    assert_eq!(
        exploration.violation_count, 0,
        "violations: {:#?}",
        exploration.violations
    );
}

#[test]
fn exhaustive_short_workload_recovers_every_crash_state() {
    let trace = record(workload_short(), WriteOrdering::BarrierAfterPrepare, false);
    let exploration = explore(&trace, &ExploreOptions::exhaustive(1));
    eprintln!(
        "epochs {} states {} recovery-crash states {} cases {:?}",
        exploration.epochs,
        exploration.states,
        exploration.recovery_crash_states,
        exploration.cases
    );
    assert_clean(&exploration);
    assert_eq!(
        exploration.epochs, exploration.epochs_exhaustive,
        "every epoch in full"
    );
    // Two epochs per committed batch (its prepares, then its header sectors; 27 batches), one
    // per checkpoint's superblock, one after the last barrier.
    assert!(exploration.epochs >= 60, "{exploration:?}");
    assert!(exploration.states >= 1500, "{exploration:?}");
    assert_eq!(exploration.open_refused, 0);
    // Lost headers are written back by recovery, and a crash during that write-back is explored.
    assert!(exploration.recovery_crash_states > 0, "{exploration:?}");
    // Torn appends were cut and lost headers fixed: the interesting cases were reached.
    for label in ["@P", "@L"] {
        assert!(
            exploration.cases.contains_key(label),
            "{:?}",
            exploration.cases
        );
    }
    assert!(
        exploration.cases.keys().any(|l| matches!(*l, "@B" | "@C")),
        "torn prepares: {:?}",
        exploration.cases
    );
    assert!(
        exploration.cases.keys().any(|l| matches!(*l, "@G" | "@M")),
        "lost headers: {:?}",
        exploration.cases
    );
}

/// Group commit: 16 slots of two 512-byte sectors, a pipeline (and so a batch) of up to 8.
fn config_batch() -> Config {
    Config {
        sector_size: 512,
        slot_count: 16,
        message_size_max: 1024,
        pipeline_max: 8,
        iops_read_max: 4,
        iops_write_max: 1,
    }
}

/// `op_count` appends committed in batches of `batch_size`; prepares alternate between one
/// sector and two (so an epoch of 8 prepares has 2^4 * 4^4 = 4,096 states, every one enumerated).
fn workload_batched(batch_size: usize, op_count: usize) -> Vec<Step> {
    let mut steps = Vec::new();
    for op in 1..=op_count {
        let body_size = if op % 2 == 1 {
            (op * 53) % 380
        } else {
            390 + (op * 97) % 500
        };
        steps.push(Step::Append { body_size });
        if op % batch_size == 0 || op == op_count {
            steps.push(Step::Sync);
        }
    }
    steps
}

/// Issue 20: for batches of 1, 2, 4 and 8 appends per sync, every crash state the persistence
/// model allows (any subset of a batch's prepares landed, each torn at any sector; any subset of
/// its header sectors) recovers with no peer, every acknowledged op reads back byte-exact, no op
/// of an unacknowledged batch comes back corrupt, and the log is one hash chain (a later op of a
/// batch that landed above a torn one is truncated with it). Two and a half wraps of the ring,
/// so checkpoints fall between batches too.
#[test]
fn group_commit_batches_of_1_2_4_8_recover_every_crash_state() {
    for batch_size in [1usize, 2, 4, 8] {
        let trace = crash_explore::record(&Workload {
            config: config_batch(),
            cluster: CLUSTER,
            steps: workload_batched(batch_size, 40),
            record_create: false,
            ordering: WriteOrdering::BarrierAfterPrepare,
        })
        .expect("workload runs");
        // Each batch costs exactly two barriers: one after its prepares, one after its headers.
        let syncs = trace
            .log
            .iter()
            .filter(|e| matches!(e, file_storage::RecordedOp::Sync))
            .count();
        let batches = 40usize.div_ceil(batch_size);
        let checkpoints = trace
            .log
            .windows(2)
            .filter(|w| {
                matches!(&w[0], file_storage::RecordedOp::Write { offset, .. } if *offset < 8192)
            })
            .count();
        assert_eq!(syncs, 2 * batches + checkpoints, "batch {batch_size}");
        assert_batch_write_order(&trace);
        let exploration =
            explore_exhaustive_clean(&trace, batch_size as u64, &format!("batch {batch_size}"));
        assert_eq!(exploration.open_refused, 0);
        if batch_size > 1 {
            // A later prepare of a batch landed beside an earlier one torn or missing: cut, and
            // the log truncated at the hole.
            assert!(exploration.states_truncated > 0, "{exploration:?}");
        }
        assert!(
            exploration.cases.keys().any(|l| matches!(*l, "@B" | "@C")),
            "torn prepares: {:?}",
            exploration.cases
        );
    }
}

/// Explores every crash state of `trace` in full (seed `seed`), prints what was reached under
/// `label`, and asserts no violation and every epoch enumerated exhaustively.
fn explore_exhaustive_clean(trace: &Trace, seed: u64, label: &str) -> Exploration {
    let exploration = explore(trace, &ExploreOptions::exhaustive(seed));
    eprintln!(
        "{label}: epochs {} states {} recovery-crash states {} truncated {} cases {:?}",
        exploration.epochs,
        exploration.states,
        exploration.recovery_crash_states,
        exploration.states_truncated,
        exploration.cases
    );
    assert_clean(&exploration);
    assert_eq!(
        exploration.epochs, exploration.epochs_exhaustive,
        "{label}: every epoch in full"
    );
    exploration
}

/// Issue 20's write order, read off the trace: between a batch's first append and the barrier
/// after its prepares no header sector is written; between that barrier and the next, only
/// header sectors, each once, one for each sector holding an op of the batch.
fn assert_batch_write_order(trace: &Trace) {
    use file_storage::RecordedOp;
    let config = trace.config;
    let layout = file_storage::Layout::new(&config).expect("fits");
    let is_header = |offset: u64| {
        (layout.wal_headers_offset..layout.wal_headers_offset + layout.wal_headers_size)
            .contains(&offset)
    };
    let mut batch_ops: Vec<u64> = Vec::new();
    let mut prepares_durable = false;
    let mut sectors_written: Vec<u64> = Vec::new();
    for entry in &trace.log {
        match entry {
            RecordedOp::Appended { op, .. } => {
                assert!(!prepares_durable, "append inside a commit");
                batch_ops.push(*op);
            }
            RecordedOp::Write { offset, .. } if is_header(*offset) => {
                assert!(
                    prepares_durable,
                    "header sector before its prepares' barrier"
                );
                assert!(!sectors_written.contains(offset), "header sector twice");
                sectors_written.push(*offset);
            }
            RecordedOp::Write { .. } => assert!(!prepares_durable, "prepare inside a commit"),
            RecordedOp::Sync if !batch_ops.is_empty() && !prepares_durable => {
                prepares_durable = true;
            }
            RecordedOp::Sync if prepares_durable => {
                let mut expected: Vec<u64> = batch_ops
                    .iter()
                    .map(|op| {
                        let sector = (op % config.slot_count) / config.headers_per_sector();
                        layout.wal_headers_offset + sector * config.sector_size
                    })
                    .collect();
                expected.sort_unstable();
                expected.dedup();
                sectors_written.sort_unstable();
                assert_eq!(sectors_written, expected, "batch {batch_ops:?}");
                sectors_written.clear();
                batch_ops.clear();
                prepares_durable = false;
            }
            _ => {}
        }
    }
    assert!(
        batch_ops.is_empty() && !prepares_durable,
        "a batch left open"
    );
}

/// A second crash after a truncating recovery. Recovery may have written back (`fix`) the header
/// of an op above the hole, which the driver then truncated; appending that op number again and
/// crashing with the new prepare torn leaves the stale header beside it, which looks exactly like
/// an acknowledged op whose prepare rotted, unless the new view tells them apart. For every
/// state of batches of 2 and 4 whose recovery truncated, a batch is appended in the new view and
/// its crash states are explored too (sampled, up to 16 a barrier).
#[test]
fn second_crash_after_a_truncating_recovery_recovers() {
    for batch_size in [2u64, 4] {
        let trace = crash_explore::record(&Workload {
            config: config_batch(),
            cluster: CLUSTER,
            steps: workload_batched(batch_size as usize, 24),
            record_create: false,
            ordering: WriteOrdering::BarrierAfterPrepare,
        })
        .expect("workload runs");
        let options = ExploreOptions {
            follow_up_batch: batch_size,
            ..ExploreOptions::exhaustive(batch_size)
        };
        let exploration = explore(&trace, &options);
        assert_clean(&exploration);
        assert!(exploration.states_truncated > 0, "{exploration:?}");
    }
}

/// A crash anywhere inside `create` leaves either a typed error on open or an empty WAL.
#[test]
fn crash_during_create_is_refused_or_empty() {
    let steps = vec![Step::Append { body_size: 300 }, Step::Sync];
    let trace = record(steps, WriteOrdering::BarrierAfterPrepare, true);
    let exploration = explore(&trace, &ExploreOptions::sampled(7, 64));
    assert_clean(&exploration);
    assert!(exploration.open_refused > 0, "{exploration:?}");
}

#[test]
fn sampled_long_workload_recovers_for_several_seeds() {
    for seed in [11, 12, 13] {
        let steps = workload_random(seed, 400, 4, 1900);
        let trace = record(steps, WriteOrdering::BarrierAfterPrepare, false);
        let exploration = explore(&trace, &ExploreOptions::sampled(seed, 12));
        assert_clean(&exploration);
        // About 160 batches of two epochs each, and 50 checkpoints.
        assert!(exploration.epochs > 350, "seed {seed}: {exploration:?}");
        assert!(exploration.states > 2000, "seed {seed}: {exploration:?}");
    }
}

#[test]
fn same_seed_same_states_and_digest() {
    let run = |seed| {
        let trace = record(
            workload_random(seed, 60, 3, 1900),
            WriteOrdering::BarrierAfterPrepare,
            false,
        );
        explore(&trace, &ExploreOptions::sampled(seed, 5))
    };
    let (a, b, c) = (run(5), run(5), run(6));
    assert_eq!(a, b);
    assert_ne!(a.digest, c.digest, "another seed explores other states");
}

/// Without a barrier between a prepare and its redundant header, a crash can leave the header
/// durable and the prepare torn: a solo WAL that only crashed comes back with an unrecoverable
/// slot. The explorer must find that.
#[test]
fn explorer_catches_a_driver_without_the_prepare_barrier() {
    let trace = record(workload_short(), WriteOrdering::UnorderedUnsafe, false);
    // The write-order check sees it in the trace itself.
    let order = std::panic::catch_unwind(|| assert_batch_write_order(&trace));
    assert!(order.is_err(), "header sectors written before the barrier");
    let order = std::panic::catch_unwind(|| assert_headers_follow_durable_prepares(&trace));
    assert!(
        order.is_err(),
        "a header written before its prepare was durable"
    );
    let exploration = explore(&trace, &ExploreOptions::exhaustive(1));
    assert!(exploration.violation_count > 0, "{exploration:?}");
    assert!(exploration.violations.iter().all(|v| v
        .kinds
        .iter()
        .all(|k| matches!(k, ViolationKind::Unrecoverable { .. }))));
    // Acknowledged ops survive even so: only availability is lost.
    let lenient = ExploreOptions {
        strict_availability: false,
        ..ExploreOptions::exhaustive(1)
    };
    let exploration = explore(&trace, &lenient);
    assert_clean(&exploration);
    assert!(exploration.unrecoverable_unacked > 0);
}

/// The slot of acknowledged op `op` in the final image: (redundant header offset, prepare offset).
fn offsets(op: u64) -> (usize, usize) {
    let config = config_small();
    let layout = file_storage::Layout::new(&config).expect("fits");
    let slot = op % config.slot_count;
    (
        (layout.wal_headers_offset + slot * HEADER_SIZE) as usize,
        (layout.wal_prepares_offset + slot * config.message_size_max) as usize,
    )
}

/// A bit flipped in an acknowledged prepare's body: the journal notices (the body checksum) and
/// reports the slot unrecoverable, and the checker reports an acknowledged op lost.
#[test]
fn checker_flags_an_acknowledged_prepare_corrupted_on_disk() {
    let trace = record(workload_short(), WriteOrdering::BarrierAfterPrepare, false);
    let (mut image, expectation) = final_state(&trace);
    let options = ExploreOptions::exhaustive(1);
    assert!(matches!(
        check_image(&trace, &options, image.clone(), &expectation),
        Outcome::Recovered { head: 40, .. }
    ));
    let (_, prepare) = offsets(38);
    image[prepare + HEADER_SIZE as usize + 5] ^= 0x10;
    let Outcome::Violations { kinds, .. } = check_image(&trace, &options, image, &expectation)
    else {
        panic!("a corrupted acknowledged prepare must be flagged");
    };
    assert!(
        kinds.contains(&ViolationKind::AckedLost {
            op: 38,
            why: "slot 6 unrecoverable (@C)".into()
        }),
        "{kinds:?}"
    );
}

/// A forged state recovery cannot tell from a real one: an acknowledged prepare's body edited
/// and both its headers (prepare and redundant) resealed. The journal loads it as a clean entry;
/// only the ground truth can tell, and the checker does: the acknowledged checksum is gone and
/// the journal holds a checksum that was never written.
#[test]
fn checker_flags_a_forged_prepare_the_journal_cannot_detect() {
    let trace = record(workload_short(), WriteOrdering::BarrierAfterPrepare, false);
    let (mut image, expectation) = final_state(&trace);
    let (redundant, prepare) = offsets(37);
    let mut header = Header::decode(&image[prepare..]).expect("op 17 is intact");
    assert_eq!(header.op, 37);
    let body_start = prepare + HEADER_SIZE as usize;
    let body_end = prepare + header.size as usize;
    image[body_start] ^= 0xff;
    header.set_body(&image[body_start..body_end]);
    header.set_checksum();
    header.encode(&mut image[prepare..prepare + HEADER_SIZE as usize]);
    header.encode(&mut image[redundant..redundant + HEADER_SIZE as usize]);
    let outcome = check_image(&trace, &ExploreOptions::exhaustive(1), image, &expectation);
    let Outcome::Violations { kinds, .. } = outcome else {
        panic!("a forged prepare must be flagged: {outcome:?}");
    };
    assert!(kinds
        .iter()
        .any(|k| matches!(k, ViolationKind::AckedLost { op: 37, .. })));
    assert!(kinds
        .iter()
        .any(|k| matches!(k, ViolationKind::UnknownPrepare { op: 37, .. })));
}

/// Real-file geometry: 4 KiB sectors, 16 KiB prepares (up to four sectors, each tear pattern).
#[test]
fn exhaustive_with_4k_sectors() {
    let config = Config {
        sector_size: 4096,
        slot_count: 64,
        message_size_max: 16384,
        pipeline_max: 8,
        iops_read_max: 4,
        iops_write_max: 1,
    };
    let steps = workload_random(21, 150, 3, 16000);
    let trace = crash_explore::record(&Workload {
        config,
        cluster: CLUSTER,
        steps,
        record_create: false,
        ordering: WriteOrdering::BarrierAfterPrepare,
    })
    .expect("workload runs");
    let exploration = explore(&trace, &ExploreOptions::exhaustive(21));
    assert_clean(&exploration);
    assert_eq!(exploration.epochs, exploration.epochs_exhaustive);
    assert!(
        exploration.cases.contains_key("@C"),
        "{:?}",
        exploration.cases
    );
}

/// The write-ordering rule read off any trace, whatever the schedule: every redundant header a
/// header-sector write carries names a prepare that an earlier barrier made durable, or is one
/// an earlier barrier already made durable in the header ring (the sector's unchanged slots).
fn assert_headers_follow_durable_prepares(trace: &Trace) {
    use file_storage::RecordedOp;
    use std::collections::BTreeSet;
    let layout = file_storage::Layout::new(&trace.config).expect("fits");
    let headers_zone =
        layout.wal_headers_offset..layout.wal_headers_offset + layout.wal_headers_size;
    let prepares_zone =
        layout.wal_prepares_offset..layout.wal_prepares_offset + layout.wal_prepares_size;
    let headers_in = |bytes: &[u8]| -> Vec<Header> {
        bytes
            .chunks_exact(HEADER_SIZE as usize)
            .filter_map(|chunk| Header::decode(chunk).ok())
            .filter(|header| header.valid_checksum() && !header.is_reserved() && header.op > 0)
            .collect()
    };
    let base_headers = &trace.base[headers_zone.start as usize..headers_zone.end as usize];
    let mut headers_durable: BTreeSet<u32> = headers_in(base_headers)
        .iter()
        .map(|h| h.checksum)
        .collect();
    let mut prepares_durable: BTreeSet<u32> = BTreeSet::new();
    let (mut prepares_pending, mut headers_pending) = (Vec::new(), Vec::new());
    for entry in &trace.log {
        match entry {
            RecordedOp::Write { offset, bytes } if headers_zone.contains(offset) => {
                for header in headers_in(bytes) {
                    assert!(
                        prepares_durable.contains(&header.checksum)
                            || headers_durable.contains(&header.checksum),
                        "op {}'s header written before its prepare was durable",
                        header.op
                    );
                    headers_pending.push(header.checksum);
                }
            }
            RecordedOp::Write { offset, bytes } if prepares_zone.contains(offset) => {
                if let Ok(header) = Header::decode(bytes) {
                    prepares_pending.push(header.checksum);
                }
            }
            RecordedOp::Sync => {
                prepares_durable.extend(prepares_pending.drain(..));
                headers_durable.extend(headers_pending.drain(..));
            }
            _ => {}
        }
    }
}

/// Issue 31: pipelined group commit. For batches of 1, 2 and 4 (a pipeline of 8: a prepared
/// batch and an open one always fit in it), each committed by `sync_pipelined`, every crash
/// state recovers with every acknowledged op byte-exact and one hash chain, enumerated in full:
/// in one epoch a batch's prepares and the previous batch's header sectors land in any subset,
/// each torn at any sector. A batch costs one barrier.
#[test]
fn pipelined_batches_of_1_2_4_recover_every_crash_state() {
    use file_storage::RecordedOp;
    for batch_size in [1u64, 2, 4] {
        let op_count = 40u64;
        let trace = crash_explore::record(&Workload {
            config: config_batch(),
            cluster: CLUSTER,
            steps: crash_explore::workload_pipelined(
                batch_size,
                batch_size,
                op_count / batch_size,
                890,
            ),
            record_create: false,
            ordering: WriteOrdering::BarrierAfterPrepare,
        })
        .expect("workload runs");
        assert_headers_follow_durable_prepares(&trace);
        let overlapping = crash_explore::epochs_overlapping(&trace.config, &trace.log);
        // Every batch after the first overlaps the previous one's header sectors, but the first
        // after a checkpoint (which commits everything before it).
        let superblock_writes = trace
            .log
            .iter()
            .filter(|e| matches!(e, RecordedOp::Write { offset, .. } if *offset < 8192))
            .count();
        let checkpoints = superblock_writes / 2;
        let batches = (op_count / batch_size) as usize;
        assert!(checkpoints >= 2, "batch {batch_size}");
        assert_eq!(overlapping, batches - 1 - checkpoints, "batch {batch_size}");
        // One barrier a batch, one for the last batch's header sectors, and per checkpoint: one
        // for the prepared batch's header sectors, one for each superblock copy.
        let syncs = trace
            .log
            .iter()
            .filter(|e| matches!(e, RecordedOp::Sync))
            .count();
        assert_eq!(syncs, batches + 1 + 3 * checkpoints, "batch {batch_size}");
        let exploration =
            explore_exhaustive_clean(&trace, batch_size, &format!("pipelined batch {batch_size}"));
        if batch_size > 1 {
            assert!(exploration.states_truncated > 0, "{exploration:?}");
        }
        for labels in [["@B", "@C"], ["@G", "@M"]] {
            assert!(
                exploration.cases.keys().any(|l| labels.contains(l)),
                "batch {batch_size}: {labels:?} in {:?}",
                exploration.cases
            );
        }
    }
}

/// The explorer judges a pipelined schedule's acknowledgements, not only its writes: told that
/// each op was acknowledged when its append returned (before the barrier that makes its prepare
/// durable), it finds crash states that lose an op so acknowledged.
///
/// What crash states alone cannot judge: acknowledging a batch at the barrier that made its
/// prepares durable, one barrier before its header sectors. A crash then leaves its prepares
/// under old headers, which recovery takes (`fix`); the header barrier is for a later fault,
/// where a rotten prepare under its own durable header is reported, while under an older op's
/// header it reads as a torn append and is cut. `pipelined_acknowledged_op_rotting_is_reported`
/// shows that.
#[test]
fn explorer_rejects_a_pipelined_batch_acknowledged_before_its_barrier() {
    use file_storage::RecordedOp;
    let trace = crash_explore::record(&Workload {
        config: config_batch(),
        cluster: CLUSTER,
        steps: crash_explore::workload_pipelined(3, 4, 10, 890),
        record_create: false,
        ordering: WriteOrdering::BarrierAfterPrepare,
    })
    .expect("workload runs");
    let honest = explore(&trace, &ExploreOptions::exhaustive(3));
    assert_clean(&honest);
    let mut early = trace.clone();
    early.log = Vec::new();
    for entry in &trace.log {
        match entry {
            RecordedOp::Acknowledged { .. } => {}
            RecordedOp::Appended { op, .. } => {
                early.log.push(entry.clone());
                early.log.push(RecordedOp::Acknowledged { op: *op });
            }
            _ => early.log.push(entry.clone()),
        }
    }
    let early = explore(&early, &ExploreOptions::exhaustive(3));
    assert!(early.violation_count > 0, "{early:?}");
    assert!(early.violations.iter().all(|v| v
        .kinds
        .iter()
        .all(|k| matches!(k, ViolationKind::AckedLost { .. }))));
}

/// Why a pipelined batch is acknowledged only once its header sectors are durable, one barrier
/// after its prepares: the same later fault (one prepare's body rotting) is reported for an op
/// whose redundant header is durable, and silently cut, as a torn append, for an op whose slot
/// still holds the header it had before (an older op's, or reserved). Batches of 2 on a pipeline of 4; the image is taken at the
/// fourth pipelined barrier: ops 1..=6 acknowledged, 7 and 8 prepared.
#[test]
fn pipelined_acknowledged_op_rotting_is_reported() {
    use file_storage::crash_explore::{apply_writes, Expectation};
    use file_storage::RecordedOp;
    let trace = record(
        crash_explore::workload_pipelined(4, 2, 5, 300),
        WriteOrdering::BarrierAfterPrepare,
        false,
    );
    let position = trace
        .log
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e, RecordedOp::Acknowledged { .. }))
        .map(|(index, _)| index)
        .nth(3)
        .expect("five pipelined syncs");
    assert_eq!(trace.log[position], RecordedOp::Acknowledged { op: 6 });
    let log = &trace.log[..position];
    assert!(matches!(log.last(), Some(RecordedOp::Sync)));
    let mut image = trace.base.clone();
    apply_writes(&mut image, log);
    // What an early acknowledgement would claim: every op appended so far, 7 and 8 too.
    let mut expectation = Expectation {
        open_must_succeed: true,
        ..Expectation::default()
    };
    let root = Header::root(CLUSTER);
    expectation.required.insert(0, root.checksum);
    expectation
        .truth
        .insert(root.checksum, root.to_bytes().to_vec());
    for entry in log {
        if let RecordedOp::Appending {
            op,
            checksum,
            message,
        } = entry
        {
            expectation.required.insert(*op, *checksum);
            expectation.truth.insert(*checksum, message.clone());
        }
    }
    assert_eq!(expectation.required.len(), 9);
    let options = ExploreOptions::exhaustive(4);
    assert!(matches!(
        check_image(&trace, &options, image.clone(), &expectation),
        Outcome::Recovered { head: 8, .. }
    ));
    let rot = |op: u64| {
        let mut image = image.clone();
        let (_, prepare) = offsets(op);
        image[prepare + HEADER_SIZE as usize + 3] ^= 0x04;
        match check_image(&trace, &options, image, &expectation) {
            Outcome::Violations { kinds, .. } => kinds,
            other => panic!("op {op} rotted: {other:?}"),
        }
    };
    // Acknowledged: its header is durable, and recovery reports the slot.
    let kinds = rot(6);
    assert!(
        kinds.iter().any(|k| matches!(k, ViolationKind::AckedLost { op: 6, why } if why.contains("unrecoverable"))),
        "{kinds:?}"
    );
    // Prepared only: under a header the slot held before (reserved, on this first wrap) the
    // rotten prepare is a torn append, cut without a word (the log ends at 7).
    let kinds = rot(8);
    assert!(
        kinds.iter().all(|k| matches!(k, ViolationKind::AckedLost { op: 8, why } if !why.contains("unrecoverable"))),
        "{kinds:?}"
    );
}

/// Random mixes of appends, syncs and pipelined syncs (so prepared batches meet full pipelines,
/// checkpoints and plain syncs), sampled over long runs, for several seeds.
#[test]
fn sampled_mixed_pipelined_workload_recovers_for_several_seeds() {
    use rand::{Rng, SeedableRng};
    for seed in [21u64, 22, 23] {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut steps = Vec::new();
        for _ in 0..300 {
            steps.push(Step::Append {
                body_size: rng.gen_range(0..=1900),
            });
            match rng.gen_range(0..6) {
                0 => steps.push(Step::Sync),
                1..=3 => steps.push(Step::SyncPipelined),
                _ => {}
            }
        }
        steps.push(Step::Sync);
        let trace = record(steps, WriteOrdering::BarrierAfterPrepare, false);
        assert_headers_follow_durable_prepares(&trace);
        assert!(crash_explore::epochs_overlapping(&trace.config, &trace.log) > 50);
        let exploration = explore(&trace, &ExploreOptions::sampled(seed, 12));
        assert_clean(&exploration);
        assert!(exploration.states > 2000, "seed {seed}: {exploration:?}");
    }
}

/// A process that died between `append` and `sync` leaves its prepares in the page cache,
/// readable and not durable. The next open repairs their headers from them (`fix`), and must make
/// them durable before it writes those headers: `vopr engine file-wal run 99 --setting unsafe
/// --faults crash` lost the power during such an open and left headers naming torn prepares,
/// two unrecoverable slots. The explorer explores the same (`process_death`, on in every
/// exploration of this file; without the barrier the short workload's exploration reports
/// `ProcessDeath` violations).
#[test]
fn open_after_a_process_death_syncs_what_it_read_before_fixing_headers() {
    use file_storage::{FileDriver, Layout, MemoryStorage, Options, RecordedOp, RecordingStorage};
    let config = config_small();
    let layout = Layout::new(&config).expect("fits");
    let mut driver = FileDriver::create(
        RecordingStorage::new(MemoryStorage::new(layout.file_size)),
        CLUSTER,
        config,
        Options::default(),
    )
    .expect("create");
    for _ in 0..3 {
        let head = *driver.head();
        let op = head.op + 1;
        let message = file_storage::prepare::prepare(
            CLUSTER,
            op,
            driver.log_view(),
            head.checksum,
            &file_storage::prepare::body(op, 700),
        );
        driver.append(&message).expect("append");
    }
    // The process dies: no sync; the storage (the page cache) keeps what was written.
    let mut storage = driver.into_storage();
    storage.log.clear();
    let reopened = FileDriver::open(storage, CLUSTER, Options::default()).expect("open");
    assert_eq!(reopened.head().op, 3, "the page cache held all three");
    assert!(reopened.recovery_report().fix_writes > 0);
    let log = &reopened.storage().log;
    let headers = layout.wal_headers_offset..layout.wal_headers_offset + layout.wal_headers_size;
    let first_header_write = log
        .iter()
        .position(|e| matches!(e, RecordedOp::Write { offset, .. } if headers.contains(offset)))
        .expect("fix write-backs");
    let first_sync = log
        .iter()
        .position(|e| matches!(e, RecordedOp::Sync))
        .expect("a barrier");
    assert!(first_sync < first_header_write, "{log:?}");
    // And the explorer looked at such deaths in the exhaustive short workload.
    let trace = record(workload_short(), WriteOrdering::BarrierAfterPrepare, false);
    let exploration = explore(&trace, &ExploreOptions::sampled(1, 4));
    assert_clean(&exploration);
    assert!(exploration.process_death_states > 0, "{exploration:?}");
}
