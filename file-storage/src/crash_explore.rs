//! Crash-state exploration, the way ALICE and CrashMonkey check storage engines: record the
//! writes and barriers a workload makes, enumerate every disk state a crash may leave under the
//! persistence model, recover each, and check what came back.
//!
//! # The persistence model
//!
//! The recorded log is cut into *epochs* at each completed barrier (`fdatasync`). A crash during
//! epoch `e` leaves:
//! - every write of earlier epochs, in full;
//! - any subset of epoch `e`'s writes (no order between them is promised), applied in issue order;
//! - each of the last `tear_writes_last` writes of the subset possibly *torn*: each of its sectors
//!   independently old or new (a sector itself is atomic).
//!
//! Crashing at every point inside an epoch gives subsets of the same writes, so one pass per
//! epoch covers them all.
//!
//! # What each state must satisfy
//!
//! - `open` succeeds once a formatted file is durable (an empty or half-created file may fail with
//!   a typed error, never a panic);
//! - no slot is unrecoverable: a solo WAL that only crashed must come back (availability; with
//!   `strict_availability` off, a slot of an unacknowledged op is tolerated and counted);
//! - every *acknowledged* op (a `sync` returned after its `append`: its batch committed) that no
//!   later append has overwritten reads back with exactly the bytes written; ops of a batch whose
//!   `sync` did not return may be missing, never corrupt;
//! - the recovered log is one hash chain from the checkpoint to the head, with no op above the
//!   head (torn appends of a batch are cut, and the driver truncates at the first hole);
//! - every op the journal claims (each non-reserved slot header) reads back, with exactly the bytes
//!   that were written for its checksum: no corrupt or invented prepare is ever returned;
//! - the process dying alone (its writes since the last barrier left in the page cache), the WAL
//!   opened again, and the power failing during that open: the dead process's writes and the
//!   open's are explored together (`process_death`), so recovery's own writes obey the
//!   write-ordering rule against prepares it read from the page cache;
//! - a second crash while recovery writes back repaired headers (any proper subset of those
//!   writes landed) recovers and passes the same checks;
//! - after recovery the WAL takes one more append, syncs, and reopens with it as the head.
//!
//! # Bounds and reproducibility
//!
//! An epoch whose states number at most `states_per_epoch_max` (and has at most
//! `subset_writes_max` writes, and torn writes of at most `tear_sectors_max` sectors) is
//! enumerated exhaustively; otherwise `states_per_epoch_max` states are drawn from a ChaCha8
//! stream seeded by `(seed, epoch)`, after the two extremes (nothing landed, everything landed).
//! The [`Exploration::digest`] hashes every state's description and outcome: same trace, same
//! options, same digest.

use crate::driver::{FileDriver, Options, WriteOrdering};
use crate::error::Error;
use crate::layout::Layout;
use crate::prepare;
use crate::record::{RecordedOp, RecordingStorage};
use crate::storage::MemoryStorage;
use journal::{Config, Header, HEADER_SIZE};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::panic::{self, AssertUnwindSafe};

/// One step of a workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Append the next op with a body of this many bytes.
    Append { body_size: usize },
    /// `FileDriver::sync`: commit the batch, acknowledging everything appended so far.
    Sync,
    /// `FileDriver::sync_pipelined`: prepare the open batch, acknowledging the prepared one.
    SyncPipelined,
}

/// A workload to record.
#[derive(Clone, Debug)]
pub struct Workload {
    pub config: Config,
    pub cluster: u128,
    pub steps: Vec<Step>,
    /// Record `create` too (the base image is then all zeros).
    pub record_create: bool,
    pub ordering: WriteOrdering,
}

/// A recorded run: the image before it and every write, barrier and mark after.
#[derive(Clone, Debug)]
pub struct Trace {
    pub config: Config,
    pub cluster: u128,
    pub base: Vec<u8>,
    /// Whether `base` is already a formatted WAL.
    pub base_formatted: bool,
    pub log: Vec<RecordedOp>,
}

/// Seeded random steps: `append_count` appends with bodies up to `body_size_max`, a sync every
/// one to `sync_every_max` appends, and a final sync.
pub fn workload_random(
    seed: u64,
    append_count: u64,
    sync_every_max: u64,
    body_size_max: usize,
) -> Vec<Step> {
    assert!(sync_every_max >= 1);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut steps = Vec::new();
    let mut until_sync = rng.gen_range(1..=sync_every_max);
    for _ in 0..append_count {
        steps.push(Step::Append {
            body_size: rng.gen_range(0..=body_size_max),
        });
        until_sync -= 1;
        if until_sync == 0 {
            steps.push(Step::Sync);
            until_sync = rng.gen_range(1..=sync_every_max);
        }
    }
    steps.push(Step::Sync);
    steps
}

/// `batch_count` batches of `batch_size` appends each (bodies up to `body_size_max`, seeded),
/// each committed by one sync: group commit.
pub fn workload_batches(
    seed: u64,
    batch_size: u64,
    batch_count: u64,
    body_size_max: usize,
) -> Vec<Step> {
    assert!(batch_size >= 1);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut steps = Vec::new();
    for _ in 0..batch_count {
        for _ in 0..batch_size {
            steps.push(Step::Append {
                body_size: rng.gen_range(0..=body_size_max),
            });
        }
        steps.push(Step::Sync);
    }
    steps
}

/// `batch_count` batches of `batch_size` appends each (bodies up to `body_size_max`, seeded),
/// each committed by a pipelined sync (its prepares made durable with the previous batch's
/// header sectors), and a final sync.
pub fn workload_pipelined(
    seed: u64,
    batch_size: u64,
    batch_count: u64,
    body_size_max: usize,
) -> Vec<Step> {
    let mut steps = workload_batches(seed, batch_size, batch_count, body_size_max);
    for step in &mut steps {
        if *step == Step::Sync {
            *step = Step::SyncPipelined;
        }
    }
    steps.push(Step::Sync);
    steps
}

/// Runs the workload on a recording in-memory storage.
pub fn record(workload: &Workload) -> Result<Trace, Error> {
    let layout = Layout::new(&workload.config).ok_or(Error::UnsupportedConfig(
        "sector_size must be at most 4096 and the rings must fit in a u64",
    ))?;
    let mut storage = RecordingStorage::new(MemoryStorage::new(layout.file_size));
    storage.set_recording(workload.record_create);
    let options = Options {
        direct: false,
        ordering: workload.ordering,
    };
    let mut driver = FileDriver::create(storage, workload.cluster, workload.config, options)?;
    driver.storage_mut().mark(RecordedOp::Created);
    let base = if workload.record_create {
        vec![0u8; layout.file_size as usize]
    } else {
        driver.storage().inner.bytes.clone()
    };
    driver.storage_mut().set_recording(true);
    for step in &workload.steps {
        match *step {
            Step::Append { body_size } => {
                let head = *driver.head();
                let op = head.op + 1;
                let message = prepare::prepare(
                    workload.cluster,
                    op,
                    driver.log_view(),
                    head.checksum,
                    &prepare::body(op, body_size),
                );
                let checksum = Header::decode(&message)
                    .map(|h| h.checksum)
                    .expect("built message decodes");
                driver.storage_mut().mark(RecordedOp::Appending {
                    op,
                    checksum,
                    message: message.clone(),
                });
                driver.append(&message)?;
                driver
                    .storage_mut()
                    .mark(RecordedOp::Appended { op, checksum });
            }
            Step::Sync => {
                driver.sync()?;
                let op = driver.op_durable();
                assert_eq!(op, driver.head().op);
                driver.storage_mut().mark(RecordedOp::Acknowledged { op });
            }
            Step::SyncPipelined => {
                driver.sync_pipelined()?;
                let op = driver.op_durable();
                assert_eq!(op + driver.prepared_len(), driver.head().op);
                driver.storage_mut().mark(RecordedOp::Acknowledged { op });
            }
        }
    }
    let log = std::mem::take(&mut driver.storage_mut().log);
    Ok(Trace {
        config: workload.config,
        cluster: workload.cluster,
        base,
        base_formatted: !workload.record_create,
        log,
    })
}

/// One op of a run the explorer did not drive itself (many threads through a
/// [`SharedWal`](crate::SharedWal)): its message, and when its caller was told it was durable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendedOp {
    pub op: u64,
    pub checksum: u32,
    pub message: Vec<u8>,
    /// The recording's log length when the caller was told the op is durable (read after the
    /// call returned, so at or after the barrier that made it so); `None`: never told.
    pub acknowledged_at: Option<usize>,
}

/// A [`Trace`] from a recording of writes and barriers (no marks: the storage was driven by
/// code the explorer does not know) and the ops appended through it. The marks [`record`] would
/// have made are placed in the log: each op's `Appending` just before the first write that
/// carries its whole message (its prepare), its `Appended` and `Acknowledged` where its caller
/// was told. The explorer's checks are the same as for a recorded workload: an op is required
/// in every crash state after its acknowledgement, and only there.
pub fn trace_from_recording(
    config: Config,
    cluster: u128,
    base: Vec<u8>,
    log: Vec<RecordedOp>,
    ops: &[AppendedOp],
) -> Trace {
    assert!(log
        .iter()
        .all(|entry| matches!(entry, RecordedOp::Write { .. } | RecordedOp::Sync)));
    // Marks by the log position they go before; at one position, acknowledgements first (they
    // refer to what came before), each `Appended` followed at once by its `Acknowledged`, so
    // that an acknowledgement drains exactly its own op.
    let mut marks: BTreeMap<(usize, u8, u64), Vec<RecordedOp>> = BTreeMap::new();
    for (index, appended) in ops.iter().enumerate() {
        if let Some(previous) = index.checked_sub(1).map(|i| &ops[i]) {
            assert!(previous.op < appended.op, "ops in order, each once");
        }
        let header = Header::decode(&appended.message).expect("an appended message decodes");
        assert_eq!(
            (header.op, header.checksum),
            (appended.op, appended.checksum)
        );
        let written_at = log
            .iter()
            .position(|entry| {
                matches!(entry, RecordedOp::Write { bytes, .. } if bytes.starts_with(&appended.message))
            })
            .unwrap_or_else(|| panic!("op {} was never written", appended.op));
        marks
            .entry((written_at, 1, appended.op))
            .or_default()
            .push(RecordedOp::Appending {
                op: appended.op,
                checksum: appended.checksum,
                message: appended.message.clone(),
            });
        if let Some(acknowledged_at) = appended.acknowledged_at {
            // A caller cannot be told before its prepare was even written.
            assert!(acknowledged_at > written_at);
            assert!(acknowledged_at <= log.len());
            marks
                .entry((acknowledged_at, 0, appended.op))
                .or_default()
                .extend([
                    RecordedOp::Appended {
                        op: appended.op,
                        checksum: appended.checksum,
                    },
                    RecordedOp::Acknowledged { op: appended.op },
                ]);
        }
    }
    let mut merged = Vec::with_capacity(log.len() + 3 * ops.len());
    let mut marks = marks.into_iter().peekable();
    for (position, entry) in log.into_iter().enumerate() {
        while let Some(((at, ..), _)) = marks.peek() {
            if *at > position {
                break;
            }
            merged.extend(marks.next().expect("peeked").1);
        }
        merged.push(entry);
    }
    merged.extend(marks.flat_map(|(_, entries)| entries));
    Trace {
        config,
        cluster,
        base,
        base_formatted: true,
        log: merged,
    }
}

/// Bounds of the enumeration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExploreOptions {
    pub seed: u64,
    /// States per epoch: exhaustive up to this many, sampled above.
    pub states_per_epoch_max: u64,
    /// Every subset only for epochs with at most this many writes.
    pub subset_writes_max: usize,
    /// Only the last this-many writes of an epoch may be torn.
    pub tear_writes_last: usize,
    /// Every tear pattern only for writes of at most this many sectors.
    pub tear_sectors_max: u64,
    /// No unrecoverable slot at all (else: only acknowledged ops' slots count as violations).
    pub strict_availability: bool,
    /// After each recovery, append one op, sync and reopen.
    pub append_after_recovery: bool,
    /// After each state whose recovery truncated the log at a hole (and so started a new view),
    /// append a batch of this many ops to the recovered file, commit it, and explore that
    /// batch's crash states too (`states_per_epoch_max` of them per epoch, at most 16): a second
    /// crash, with the first one's acknowledged ops still required. 0: off.
    pub follow_up_batch: u64,
    /// Also, at every barrier, the death of the process alone: every write since the last
    /// barrier is still in the page cache (readable, not durable) when the WAL is opened again,
    /// and then the power fails while the open runs: the writes before the death and the open's
    /// own writes are explored together, epoch by epoch (up to 16 states an epoch).
    pub process_death: bool,
}

impl ExploreOptions {
    /// Exhaustive for short workloads on small configs.
    pub fn exhaustive(seed: u64) -> ExploreOptions {
        ExploreOptions {
            seed,
            states_per_epoch_max: 4096,
            subset_writes_max: 10,
            tear_writes_last: 16,
            tear_sectors_max: 8,
            strict_availability: true,
            append_after_recovery: true,
            follow_up_batch: 0,
            process_death: true,
        }
    }

    /// A few sampled states per epoch, for long workloads.
    pub fn sampled(seed: u64, states_per_epoch_max: u64) -> ExploreOptions {
        ExploreOptions {
            states_per_epoch_max,
            ..ExploreOptions::exhaustive(seed)
        }
    }
}

/// What a state broke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ViolationKind {
    /// The journal (or the driver) panicked while recovering.
    Panic(String),
    /// `open` failed on a file that was durably formatted.
    OpenFailed(String),
    /// An acknowledged op is missing, unreadable or different.
    AckedLost { op: u64, why: String },
    /// A slot was reported unrecoverable.
    Unrecoverable { slot: u64, label: &'static str },
    /// The journal holds a header whose checksum was never written.
    UnknownPrepare { op: u64, checksum: u32 },
    /// The journal returned bytes that differ from what was written for that checksum.
    WrongBytes { op: u64 },
    /// The journal claims an op but cannot read it back.
    Unreadable { op: u64, why: String },
    /// The recovered WAL did not take one more append, or lost it on reopen.
    AppendAfterRecovery(String),
    /// The recovered log is not one hash chain from the checkpoint to the head: `op` is
    /// missing, does not name its parent, or lies above the head.
    BrokenChain { op: u64 },
    /// A crash during the batch appended after a truncating recovery (`follow_up_batch`) left
    /// states that broke these checks: how many, and the first one's kinds.
    SecondCrash {
        violations: u64,
        first: Vec<ViolationKind>,
    },
    /// The process died (its writes since the last barrier still in the page cache), the WAL
    /// was opened again, and a power loss during that open left states that broke these
    /// checks: how many, and the first one's kinds.
    ProcessDeath {
        violations: u64,
        first: Vec<ViolationKind>,
    },
    /// A second crash while recovery wrote back repaired headers (the writes of `subset`
    /// landed; `u64::MAX`: all of them and the first copy of a superblock it stored) left a
    /// state that broke these checks.
    CrashDuringRecovery {
        subset: u64,
        kinds: Vec<ViolationKind>,
    },
}

/// One violating state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub epoch: usize,
    /// Which writes landed: `-` none, `F` full, `T0110` torn (1 = new sector).
    pub state: String,
    pub kinds: Vec<ViolationKind>,
}

/// The result of an exploration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Exploration {
    pub epochs: u64,
    pub epochs_exhaustive: u64,
    pub states: u64,
    /// States of a second crash during recovery's header write-back, checked as well.
    pub recovery_crash_states: u64,
    /// Violating states (all counted, the first `VIOLATIONS_KEPT` kept).
    pub violation_count: u64,
    pub violations: Vec<Violation>,
    /// States that opened with an allowed typed error (a half-created file).
    pub open_refused: u64,
    /// Unrecoverable slots of unacknowledged ops, tolerated when not strict.
    pub unrecoverable_unacked: u64,
    /// Recovered states whose log the driver truncated at a hole (a batch op landed above a
    /// torn one), starting a new view.
    pub states_truncated: u64,
    /// Recovery cases over all states: label → slots.
    pub cases: BTreeMap<&'static str, u64>,
    /// States of a power loss during the open after a process death (`process_death`).
    pub process_death_states: u64,
    /// Hash of every state's description and outcome.
    pub digest: u64,
}

/// Violations kept in full; the rest are only counted.
pub const VIOLATIONS_KEPT: usize = 16;

/// What every state of an epoch must show.
#[derive(Clone, Debug, Default)]
pub struct Expectation {
    /// Acknowledged ops not overwritten since: op → checksum.
    pub required: BTreeMap<u64, u32>,
    /// Every message ever written, by checksum.
    pub truth: BTreeMap<u32, Vec<u8>>,
    /// Whether a formatted file is durable.
    pub open_must_succeed: bool,
}

/// How one write lands in a crash state.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Landing {
    Absent,
    Full,
    /// Per sector: `true` = the new bytes landed.
    Torn(Vec<bool>),
}

struct PendingWrite<'a> {
    offset: u64,
    bytes: &'a [u8],
    sector_count: u64,
    tearable: bool,
}

/// Explores every epoch of the trace.
pub fn explore(trace: &Trace, options: &ExploreOptions) -> Exploration {
    let mut expectation = Expectation {
        open_must_succeed: trace.base_formatted,
        ..Expectation::default()
    };
    let root = Header::root(trace.cluster);
    expectation
        .truth
        .insert(root.checksum, root.to_bytes().to_vec());
    if trace.base_formatted {
        expectation.required.insert(0, root.checksum);
    }
    explore_from(trace, options, expectation)
}

/// [`explore`] from what the trace's base image must already show.
fn explore_from(
    trace: &Trace,
    options: &ExploreOptions,
    mut expectation: Expectation,
) -> Exploration {
    assert!(options.states_per_epoch_max >= 2);
    assert!(options.tear_sectors_max < 64);
    let mut exploration = Exploration {
        digest: FNV_OFFSET,
        ..Exploration::default()
    };
    let mut durable = trace.base.clone();
    let root = Header::root(trace.cluster);
    let mut created_pending = false;
    let mut appended_pending: Vec<(u64, u32)> = Vec::new();
    let mut pending: Vec<(u64, &[u8])> = Vec::new();
    let mut epoch = 0usize;
    for (index, entry) in trace.log.iter().enumerate() {
        match entry {
            RecordedOp::Write { offset, bytes } => pending.push((*offset, bytes)),
            RecordedOp::Appending {
                op,
                checksum,
                message,
            } => {
                expectation.truth.insert(*checksum, message.clone());
                // The op this one overwrites in the ring is no longer required.
                let slot_count = trace.config.slot_count;
                if *op >= slot_count {
                    expectation.required.remove(&(*op - slot_count));
                }
            }
            RecordedOp::Appended { op, checksum } => appended_pending.push((*op, *checksum)),
            RecordedOp::Acknowledged {
                op: op_acknowledged,
            } => {
                // A pipelined commit acknowledges the prepared batch and not the one it prepares.
                for (op, checksum) in
                    appended_pending.extract_if(.., |(op, _)| *op <= *op_acknowledged)
                {
                    // Still required only if no later append overwrote it meanwhile.
                    let overwritten = trace.log[..index].iter().any(|e| {
                        matches!(e, RecordedOp::Appending { op: later, .. }
                            if *later > op && (*later - op) % trace.config.slot_count == 0)
                    });
                    if !overwritten {
                        expectation.required.insert(op, checksum);
                    }
                }
            }
            RecordedOp::Created => {
                created_pending = true;
                if !trace.base_formatted {
                    appended_pending.push((0, root.checksum));
                }
            }
            RecordedOp::Sync => {
                explore_barrier(
                    trace,
                    options,
                    epoch,
                    &durable,
                    &pending,
                    &expectation,
                    &mut exploration,
                );
                for (offset, bytes) in pending.drain(..) {
                    durable[offset as usize..][..bytes.len()].copy_from_slice(bytes);
                }
                if created_pending && !trace.base_formatted {
                    // The root is acknowledged by create's own barrier.
                    for (op, checksum) in appended_pending.extract_if(.., |(op, _)| *op == 0) {
                        expectation.required.insert(op, checksum);
                    }
                }
                if created_pending {
                    expectation.open_must_succeed = true;
                }
                epoch += 1;
            }
        }
    }
    // A crash after the last barrier.
    explore_barrier(
        trace,
        options,
        epoch,
        &durable,
        &pending,
        &expectation,
        &mut exploration,
    );
    exploration
}

/// Every crash state of `epoch` (a power loss), then a process death in it.
fn explore_barrier(
    trace: &Trace,
    options: &ExploreOptions,
    epoch: usize,
    durable: &[u8],
    pending: &[(u64, &[u8])],
    expectation: &Expectation,
    exploration: &mut Exploration,
) {
    explore_epoch(
        trace,
        options,
        epoch,
        durable,
        pending,
        expectation,
        exploration,
    );
    explore_process_death(
        trace,
        options,
        epoch,
        durable,
        pending,
        expectation,
        exploration,
    );
}

/// The options of a nested exploration (a crash after another event): up to 16 states an
/// epoch, and nothing nested again.
fn nested_options(options: &ExploreOptions) -> ExploreOptions {
    ExploreOptions {
        states_per_epoch_max: options.states_per_epoch_max.min(16),
        follow_up_batch: 0,
        process_death: false,
        ..*options
    }
}

/// The first violating state's kinds (for a summary of a nested exploration).
fn first_kinds(exploration: &Exploration) -> Vec<ViolationKind> {
    exploration
        .violations
        .first()
        .map(|v| v.kinds.clone())
        .unwrap_or_default()
}

/// The process dies during `epoch` with every one of its writes since the last barrier in the
/// page cache; the WAL is opened again (recorded), and the power fails during that open. The
/// nested trace starts from the durable image, its first epoch holding the dead process's writes
/// and the open's writes before its first barrier: a recovery that writes back a header for a
/// prepare it read from the page cache before making that prepare durable lets a power loss land
/// the header and tear the prepare. An open that fails here fails the state with every write
/// landed too, which [`explore_epoch`] already checked.
fn explore_process_death(
    trace: &Trace,
    options: &ExploreOptions,
    epoch: usize,
    durable: &[u8],
    pending: &[(u64, &[u8])],
    expectation: &Expectation,
    exploration: &mut Exploration,
) {
    if !options.process_death || pending.is_empty() || !expectation.open_must_succeed {
        return;
    }
    let mut image = durable.to_vec();
    for (offset, bytes) in pending {
        image[*offset as usize..][..bytes.len()].copy_from_slice(bytes);
    }
    let opened = catch(|| {
        FileDriver::open(
            RecordingStorage::new(MemoryStorage::from_bytes(image)),
            trace.cluster,
            Options::default(),
        )
    });
    let Ok(Ok(driver)) = opened else {
        return;
    };
    let mut log: Vec<RecordedOp> = pending
        .iter()
        .map(|&(offset, bytes)| RecordedOp::Write {
            offset,
            bytes: bytes.to_vec(),
        })
        .collect();
    log.extend(driver.into_storage().log);
    let nested_trace = Trace {
        config: trace.config,
        cluster: trace.cluster,
        base: durable.to_vec(),
        base_formatted: true,
        log,
    };
    let nested = explore_from(&nested_trace, &nested_options(options), expectation.clone());
    exploration.process_death_states += nested.states;
    exploration.digest = fnv(exploration.digest, &nested.digest.to_le_bytes());
    if nested.violation_count > 0 {
        exploration.violation_count += 1;
        if exploration.violations.len() < VIOLATIONS_KEPT {
            exploration.violations.push(Violation {
                epoch,
                state: "process death".to_string(),
                kinds: vec![ViolationKind::ProcessDeath {
                    violations: nested.violation_count,
                    first: first_kinds(&nested),
                }],
            });
        }
    }
}

/// The fully synced final image of a trace and what it must show (for tests that edit it).
pub fn final_state(trace: &Trace) -> (Vec<u8>, Expectation) {
    let mut image = trace.base.clone();
    let root = Header::root(trace.cluster);
    let mut expectation = Expectation {
        open_must_succeed: true,
        ..Expectation::default()
    };
    expectation
        .truth
        .insert(root.checksum, root.to_bytes().to_vec());
    expectation.required.insert(0, root.checksum);
    let mut synced = true;
    for entry in &trace.log {
        match entry {
            RecordedOp::Write { offset, bytes } => {
                image[*offset as usize..][..bytes.len()].copy_from_slice(bytes);
                synced = false;
            }
            RecordedOp::Sync => synced = true,
            RecordedOp::Appending {
                op,
                checksum,
                message,
            } => {
                expectation.truth.insert(*checksum, message.clone());
                if *op >= trace.config.slot_count {
                    expectation
                        .required
                        .remove(&(*op - trace.config.slot_count));
                }
            }
            RecordedOp::Appended { op, checksum } => {
                expectation.required.insert(*op, *checksum);
            }
            RecordedOp::Acknowledged { .. } | RecordedOp::Created => {}
        }
    }
    assert!(synced, "the trace ends with a sync");
    (image, expectation)
}

fn explore_epoch(
    trace: &Trace,
    options: &ExploreOptions,
    epoch: usize,
    durable: &[u8],
    pending: &[(u64, &[u8])],
    expectation: &Expectation,
    exploration: &mut Exploration,
) {
    let sector_size = trace.config.sector_size;
    let write_count = pending.len();
    let writes: Vec<PendingWrite> = pending
        .iter()
        .enumerate()
        .map(|(i, &(offset, bytes))| {
            assert_eq!(offset % sector_size, 0);
            let sector_count = (bytes.len() as u64).div_ceil(sector_size);
            PendingWrite {
                offset,
                bytes,
                sector_count,
                tearable: i + options.tear_writes_last >= write_count && sector_count > 1,
            }
        })
        .collect();
    // Choices per write: absent, full, and every tear that is neither.
    let mut total: Option<u64> = Some(1);
    for write in &writes {
        let choices = if !write.tearable {
            Some(2)
        } else if write.sector_count <= options.tear_sectors_max {
            Some(1u64 << write.sector_count)
        } else {
            None
        };
        total = total.zip(choices).and_then(|(a, b)| a.checked_mul(b));
    }
    exploration.epochs += 1;
    let exhaustive = write_count <= options.subset_writes_max
        && total.is_some_and(|t| t <= options.states_per_epoch_max);
    if exhaustive {
        exploration.epochs_exhaustive += 1;
        let total = total.expect("bounded");
        for index in 0..total {
            let landings = landings_numbered(&writes, index);
            run_state(
                trace,
                options,
                epoch,
                durable,
                &writes,
                &landings,
                expectation,
                exploration,
            );
        }
    } else {
        let mut rng = ChaCha8Rng::seed_from_u64(
            options.seed ^ (epoch as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        );
        for index in 0..options.states_per_epoch_max {
            let landings: Vec<Landing> = match index {
                0 => vec![Landing::Absent; write_count],
                1 => vec![Landing::Full; write_count],
                _ => writes.iter().map(|w| landing_random(&mut rng, w)).collect(),
            };
            run_state(
                trace,
                options,
                epoch,
                durable,
                &writes,
                &landings,
                expectation,
                exploration,
            );
        }
    }
}

/// The `index`-th state in mixed radix: per write 0 = absent, 1 = full, 2.. = a torn pattern.
fn landings_numbered(writes: &[PendingWrite], mut index: u64) -> Vec<Landing> {
    let mut landings = Vec::with_capacity(writes.len());
    for write in writes {
        let radix = if write.tearable {
            1u64 << write.sector_count
        } else {
            2
        };
        let digit = index % radix;
        index /= radix;
        landings.push(match digit {
            0 => Landing::Absent,
            1 => Landing::Full,
            // Patterns 1 ..= 2^n - 2 (neither none nor all): digit - 1.
            pattern => {
                let pattern = pattern - 1;
                Landing::Torn(
                    (0..write.sector_count)
                        .map(|s| pattern >> s & 1 == 1)
                        .collect(),
                )
            }
        });
    }
    assert_eq!(index, 0);
    landings
}

fn landing_random(rng: &mut ChaCha8Rng, write: &PendingWrite) -> Landing {
    let kinds = if write.tearable { 3 } else { 2 };
    match rng.gen_range(0..kinds) {
        0 => Landing::Absent,
        1 => Landing::Full,
        _ => {
            let mut sectors: Vec<bool> = (0..write.sector_count).map(|_| rng.gen()).collect();
            // A pattern that is all old or all new is not a tear: flip one sector.
            if sectors.iter().all(|&s| s) || sectors.iter().all(|&s| !s) {
                let sector = rng.gen_range(0..sectors.len());
                sectors[sector] = !sectors[sector];
            }
            Landing::Torn(sectors)
        }
    }
}

fn describe(landings: &[Landing]) -> String {
    let mut text = String::new();
    for (i, landing) in landings.iter().enumerate() {
        if i > 0 {
            text.push(' ');
        }
        match landing {
            Landing::Absent => text.push('-'),
            Landing::Full => text.push('F'),
            Landing::Torn(sectors) => {
                text.push('T');
                for &new in sectors {
                    text.push(if new { '1' } else { '0' });
                }
            }
        }
    }
    text
}

#[allow(clippy::too_many_arguments)]
fn run_state(
    trace: &Trace,
    options: &ExploreOptions,
    epoch: usize,
    durable: &[u8],
    writes: &[PendingWrite],
    landings: &[Landing],
    expectation: &Expectation,
    exploration: &mut Exploration,
) {
    assert_eq!(writes.len(), landings.len());
    let mut image = durable.to_vec();
    let sector_size = trace.config.sector_size as usize;
    for (write, landing) in writes.iter().zip(landings) {
        let offset = write.offset as usize;
        match landing {
            Landing::Absent => {}
            Landing::Full => image[offset..][..write.bytes.len()].copy_from_slice(write.bytes),
            Landing::Torn(sectors) => {
                for (sector, chunk) in write.bytes.chunks(sector_size).enumerate() {
                    if sectors[sector] {
                        image[offset + sector * sector_size..][..chunk.len()]
                            .copy_from_slice(chunk);
                    }
                }
            }
        }
    }
    let state = describe(landings);
    let outcome = check_image(trace, options, image, expectation);
    exploration.states += 1;
    let mut summary = format!("{epoch}|{state}|");
    match &outcome {
        Outcome::Recovered {
            head,
            cases,
            recovery_crash_states,
            ops_truncated,
        } => {
            exploration.recovery_crash_states += recovery_crash_states;
            if *ops_truncated > 0 {
                exploration.states_truncated += 1;
            }
            let _ = write!(
                summary,
                "ok {head} +{recovery_crash_states} -{ops_truncated}"
            );
            for (label, count) in cases {
                *exploration.cases.entry(label).or_default() += count;
                let _ = write!(summary, " {label}{count}");
            }
        }
        Outcome::Refused(error) => {
            exploration.open_refused += 1;
            let _ = write!(summary, "refused {error}");
        }
        Outcome::Violations { kinds, unacked } => {
            exploration.unrecoverable_unacked += unacked;
            if !kinds.is_empty() {
                exploration.violation_count += 1;
                if exploration.violations.len() < VIOLATIONS_KEPT {
                    exploration.violations.push(Violation {
                        epoch,
                        state: state.clone(),
                        kinds: kinds.clone(),
                    });
                }
            }
            let _ = write!(summary, "violations {kinds:?} unacked {unacked}");
        }
    }
    exploration.digest = fnv(exploration.digest, summary.as_bytes());
}

/// What recovering one image gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every check passed: the recovered head, the recovery cases seen, and how many states of
    /// a second crash during recovery's write-back were checked too.
    Recovered {
        head: u64,
        cases: BTreeMap<&'static str, u64>,
        recovery_crash_states: u64,
        /// Ops the driver removed above the first hole.
        ops_truncated: u64,
    },
    /// `open` refused a file that was never durably formatted, with this typed error.
    Refused(String),
    /// Checks that failed (possibly none, when only tolerated unrecoverable slots were seen).
    Violations {
        kinds: Vec<ViolationKind>,
        unacked: u64,
    },
}

/// Recovers one image and checks it against the expectation.
///
/// When recovery wrote repaired headers back, a second crash during that write-back is explored
/// too: every proper subset of those (single-sector) writes over the same image must recover
/// and pass the same checks.
pub fn check_image(
    trace: &Trace,
    options: &ExploreOptions,
    image: Vec<u8>,
    expectation: &Expectation,
) -> Outcome {
    check_image_once(trace, options, image, expectation, true)
}

/// Subsets of recovery's write-back explored per state, at most.
const RECOVERY_CRASH_SUBSETS_MAX: u64 = 16;

fn check_image_once(
    trace: &Trace,
    options: &ExploreOptions,
    image: Vec<u8>,
    expectation: &Expectation,
    crash_during_recovery: bool,
) -> Outcome {
    let cluster = trace.cluster;
    let image_before = crash_during_recovery.then(|| image.clone());
    let opened = catch(|| {
        FileDriver::open(
            RecordingStorage::new(MemoryStorage::from_bytes(image)),
            cluster,
            Options::default(),
        )
    });
    let mut kinds = Vec::new();
    let mut driver = match opened {
        Err(message) => return violations(vec![ViolationKind::Panic(message)], 0),
        Ok(Ok(driver)) => driver,
        Ok(Err(Error::Unrecoverable { slots })) => {
            let slot_count = trace.config.slot_count;
            let mut unacked = 0;
            for (slot, label) in slots {
                let acked = expectation
                    .required
                    .keys()
                    .find(|&&op| op % slot_count == slot);
                match acked {
                    Some(&op) => kinds.push(ViolationKind::AckedLost {
                        op,
                        why: format!("slot {slot} unrecoverable ({label})"),
                    }),
                    None if options.strict_availability => {
                        kinds.push(ViolationKind::Unrecoverable { slot, label })
                    }
                    None => unacked += 1,
                }
            }
            return violations(kinds, unacked);
        }
        Ok(Err(error)) => {
            if expectation.open_must_succeed {
                return violations(vec![ViolationKind::OpenFailed(error.to_string())], 0);
            }
            return Outcome::Refused(error.to_string());
        }
    };
    // Every acknowledged op, exactly as written.
    for (&op, &checksum) in &expectation.required {
        match driver.read(op, checksum) {
            Ok(bytes) if Some(&bytes) == expectation.truth.get(&checksum) => {}
            Ok(_) => kinds.push(ViolationKind::WrongBytes { op }),
            Err(error) => kinds.push(ViolationKind::AckedLost {
                op,
                why: error.to_string(),
            }),
        }
    }
    // Every op the journal claims, exactly as written for its checksum.
    let config = *driver.journal().config();
    for slot in 0..config.slot_count {
        let header = *driver.journal().header(slot);
        if header.is_reserved() || expectation.required.get(&header.op) == Some(&header.checksum) {
            continue;
        }
        let Some(truth) = expectation.truth.get(&header.checksum) else {
            kinds.push(ViolationKind::UnknownPrepare {
                op: header.op,
                checksum: header.checksum,
            });
            continue;
        };
        match driver.read(header.op, header.checksum) {
            Ok(bytes) if &bytes == truth => {}
            Ok(_) => kinds.push(ViolationKind::WrongBytes { op: header.op }),
            Err(error) => kinds.push(ViolationKind::Unreadable {
                op: header.op,
                why: error.to_string(),
            }),
        }
    }
    // The recovered log: one hash chain from the checkpoint to the head, nothing above it.
    let journal = driver.journal();
    let op_checkpoint = driver.superblock().op_checkpoint;
    let op_head = driver.head().op;
    for op in op_checkpoint..=op_head {
        let chained = journal.header_with_op(op).is_some_and(|header| {
            op == op_checkpoint
                || journal
                    .header_with_op(op - 1)
                    .is_none_or(|parent| parent.checksum == header.parent)
        });
        if !chained {
            kinds.push(ViolationKind::BrokenChain { op });
        }
    }
    if journal.op_maximum() != op_head {
        kinds.push(ViolationKind::BrokenChain {
            op: journal.op_maximum(),
        });
    }
    // Recovery's own writes: its repaired header sectors, then a barrier; then, if it truncated
    // the log at a hole (or found the superblock copies unequal), the superblock in each copy,
    // each behind a barrier.
    let recovery_log = std::mem::take(&mut driver.storage_mut().log);
    driver.storage_mut().set_recording(false);
    let mut recovery_crash_states = 0;
    if let Some(image_before) = image_before.filter(|_| kinds.is_empty()) {
        let report = driver.recovery_report();
        let fix_writes = report.fix_writes as usize;
        let writes: Vec<&RecordedOp> = recovery_log
            .iter()
            .filter(|e| matches!(e, RecordedOp::Write { .. }))
            .collect();
        let superblock_writes = report.superblock_writes as usize;
        assert_eq!(writes.len(), fix_writes + superblock_writes);
        // A crash between the two copies of a superblock the open stored (each behind its own
        // barrier): every fix write and the first copy landed.
        if superblock_writes > 0 {
            let mut image = image_before.clone();
            for write in &writes[..=fix_writes] {
                apply_writes(&mut image, std::slice::from_ref(*write));
            }
            recovery_crash_states += 1;
            let outcome = check_image_once(trace, options, image, expectation, false);
            if let Outcome::Violations { kinds: inner, .. } = outcome {
                kinds.push(ViolationKind::CrashDuringRecovery {
                    subset: u64::MAX,
                    kinds: inner,
                });
            }
        }
        // Only the fix writes share an epoch; the superblock follows their barrier.
        let writes = &writes[..fix_writes];
        let subsets = (1u64 << writes.len().min(6)).min(RECOVERY_CRASH_SUBSETS_MAX);
        let subset_all = (writes.len() < 64).then(|| (1u64 << writes.len()) - 1);
        // Subset 0 is the image itself (already checked); the full set is the recovered state,
        // unless a superblock write followed it (then a crash before that write leaves it).
        let mut chosen: Vec<u64> = (1..subsets).filter(|&s| Some(s) != subset_all).collect();
        if superblock_writes > 0 {
            chosen.extend(subset_all.filter(|&s| s > 0));
        }
        for subset in chosen {
            let mut image = image_before.clone();
            for (i, write) in writes.iter().enumerate() {
                if subset >> i & 1 == 1 {
                    apply_writes(&mut image, std::slice::from_ref(*write));
                }
            }
            recovery_crash_states += 1;
            let outcome = check_image_once(trace, options, image, expectation, false);
            if let Outcome::Violations { kinds: inner, .. } = outcome {
                kinds.push(ViolationKind::CrashDuringRecovery {
                    subset,
                    kinds: inner,
                });
            }
        }
    }
    let head = driver.head().op;
    let ops_truncated = driver.recovery_report().ops_truncated;
    let cases = driver.recovery_report().cases.iter().fold(
        BTreeMap::new(),
        |mut cases, (&(label, _), &count)| {
            *cases.entry(label).or_default() += count;
            cases
        },
    );
    if options.follow_up_batch > 0 && crash_during_recovery && ops_truncated > 0 && kinds.is_empty()
    {
        kinds.extend(follow_up(trace, options, &mut driver, expectation));
    }
    if options.append_after_recovery && kinds.is_empty() {
        if let Err(why) = append_and_reopen(&mut driver, cluster) {
            kinds.push(ViolationKind::AppendAfterRecovery(why));
        }
    }
    if kinds.is_empty() {
        Outcome::Recovered {
            head,
            cases,
            recovery_crash_states,
            ops_truncated,
        }
    } else {
        violations(kinds, 0)
    }
}

fn violations(kinds: Vec<ViolationKind>, unacked: u64) -> Outcome {
    Outcome::Violations { kinds, unacked }
}

/// Appends and commits a batch of `follow_up_batch` ops on a recovered driver (recording it),
/// then explores every crash state of that batch (module doc): a second crash.
fn follow_up(
    trace: &Trace,
    options: &ExploreOptions,
    driver: &mut FileDriver<RecordingStorage<MemoryStorage>>,
    expectation: &Expectation,
) -> Option<ViolationKind> {
    let base = driver.storage().inner.bytes.clone();
    driver.storage_mut().log.clear();
    driver.storage_mut().set_recording(true);
    let body_size_max = (trace.config.message_size_max - HEADER_SIZE) as usize;
    let nested = Expectation {
        open_must_succeed: true,
        ..expectation.clone()
    };
    let mut failure = None;
    for _ in 0..options.follow_up_batch {
        let head = *driver.head();
        let op = head.op + 1;
        let body = prepare::body(op, (op as usize * 389 + 90) % body_size_max);
        let message = prepare::prepare(trace.cluster, op, driver.log_view(), head.checksum, &body);
        let checksum = Header::decode(&message).map_or(0, |h| h.checksum);
        driver.storage_mut().mark(RecordedOp::Appending {
            op,
            checksum,
            message: message.clone(),
        });
        if let Err(error) = driver.append(&message) {
            failure = Some(error.to_string());
            break;
        }
        driver
            .storage_mut()
            .mark(RecordedOp::Appended { op, checksum });
    }
    if failure.is_none() {
        match driver.sync() {
            Ok(()) => {
                let op = driver.op_durable();
                driver.storage_mut().mark(RecordedOp::Acknowledged { op });
            }
            Err(error) => failure = Some(error.to_string()),
        }
    }
    let log = std::mem::take(&mut driver.storage_mut().log);
    driver.storage_mut().set_recording(false);
    if let Some(why) = failure {
        return Some(ViolationKind::AppendAfterRecovery(why));
    }
    // The truncated ops' checksums stay known (their bytes may come back unacknowledged), and
    // so do the acknowledged ones below the head.
    assert!(nested.required.keys().all(|&op| op <= driver.op_durable()));
    let nested_trace = Trace {
        config: trace.config,
        cluster: trace.cluster,
        base,
        base_formatted: true,
        log,
    };
    let exploration = explore_from(&nested_trace, &nested_options(options), nested);
    (exploration.violation_count > 0).then(|| ViolationKind::SecondCrash {
        violations: exploration.violation_count,
        first: first_kinds(&exploration),
    })
}

/// One more append, a sync, a reopen: the new op must be the head and read back.
fn append_and_reopen(
    driver: &mut FileDriver<RecordingStorage<MemoryStorage>>,
    cluster: u128,
) -> Result<(), String> {
    let head = *driver.head();
    let op = head.op + 1;
    let message = prepare::prepare(
        cluster,
        op,
        driver.log_view(),
        head.checksum,
        &prepare::body(op, 200),
    );
    let checksum = Header::decode(&message)
        .map_err(|e| e.to_string())?
        .checksum;
    driver.append(&message).map_err(|e| e.to_string())?;
    driver.sync().map_err(|e| e.to_string())?;
    let storage = MemoryStorage::from_bytes(driver.storage().inner.bytes.clone());
    let reopened = catch(|| FileDriver::open(storage, cluster, Options::default()))?;
    let mut reopened = reopened.map_err(|e| format!("reopen: {e}"))?;
    if reopened.head().op != op {
        return Err(format!(
            "reopened head {} instead of {op}",
            reopened.head().op
        ));
    }
    match reopened.read(op, checksum) {
        Ok(bytes) if bytes == message => Ok(()),
        Ok(_) => Err(format!("op {op} read back different bytes")),
        Err(error) => Err(format!("op {op}: {error}")),
    }
}

/// Runs `f`, turning a panic into its message.
fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".to_string())
    })
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv(mut hash: u64, bytes: &[u8]) -> u64 {
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Epochs (the writes between two barriers) that hold both a prepare write and a
/// redundant-header sector write: a pipelined commit's overlap (tests count them).
pub fn epochs_overlapping(config: &Config, log: &[RecordedOp]) -> usize {
    let layout = Layout::new(config).expect("a recorded config has a layout");
    let headers = layout.wal_headers_offset..layout.wal_headers_offset + layout.wal_headers_size;
    let prepares =
        layout.wal_prepares_offset..layout.wal_prepares_offset + layout.wal_prepares_size;
    let (mut header, mut prepare, mut count) = (false, false, 0);
    for entry in log {
        match entry {
            RecordedOp::Write { offset, .. } => {
                header |= headers.contains(offset);
                prepare |= prepares.contains(offset);
            }
            RecordedOp::Sync => {
                count += usize::from(header && prepare);
                (header, prepare) = (false, false);
            }
            _ => {}
        }
    }
    count
}

/// Applies a storage's recorded writes to an image (for tests that build states by hand).
pub fn apply_writes(image: &mut [u8], log: &[RecordedOp]) {
    for entry in log {
        if let RecordedOp::Write { offset, bytes } = entry {
            image[*offset as usize..][..bytes.len()].copy_from_slice(bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering_covers_every_landing_once() {
        let bytes = [0u8; 1024];
        let writes = [
            PendingWrite {
                offset: 0,
                bytes: &bytes[..512],
                sector_count: 1,
                tearable: false,
            },
            PendingWrite {
                offset: 512,
                bytes: &bytes,
                sector_count: 2,
                tearable: true,
            },
        ];
        let all: Vec<String> = (0..8)
            .map(|i| describe(&landings_numbered(&writes, i)))
            .collect();
        assert_eq!(
            all,
            ["- -", "F -", "- F", "F F", "- T10", "F T10", "- T01", "F T01"]
        );
    }
}
