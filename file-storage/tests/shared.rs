//! [`SharedWal`]: many threads append through one handle. What each thread was told durable
//! reads back after a reopen, in one hash chain; every crash state of a recorded
//! multi-threaded run keeps every op acknowledged before it (the crash explorer, over the
//! recorded writes and barriers); and the explorer rejects the same run when acknowledgements
//! are placed before their barrier or the driver skips the prepare barrier, so the check can
//! fail. Thread interleavings differ run to run; each recorded trace is then explored
//! deterministically.

use file_storage::crash_explore::{
    explore, trace_from_recording, AppendedOp, Exploration, ExploreOptions, ViolationKind,
};
use file_storage::{
    prepare, Appended, CommitMode, Error, FileDriver, FileStorage, Layout, MemoryStorage, Options,
    RecordingStorage, SharedStats, SharedWal, Storage, WriteOrdering,
};
use journal::{Config, Header};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

const CLUSTER: u128 = 0x5a4ed;

/// The handle is shared across threads for every storage the crate has.
#[test]
fn shared_wal_is_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<SharedWal<FileStorage>>();
    send_sync::<SharedWal<MemoryStorage>>();
    send_sync::<SharedWal<RecordingStorage<MemoryStorage>>>();
}

/// A body no other (thread, call) uses, of a size that varies with both.
fn body(thread: u64, call: u64, size_max: usize) -> Vec<u8> {
    let size = ((thread * 131 + call * 53) % size_max as u64) as usize;
    let mut body = prepare::body(thread << 32 | call, size.max(16));
    body[..8].copy_from_slice(&(thread << 32 | call).to_le_bytes());
    body
}

/// Rebuilds the prepares of `acks` (each: what a caller was told, and its body) in op order,
/// asserting that they are ops 1..=n, one hash chain in view 0, each with the checksum its caller
/// was told: the handle built every prepare from the caller's body, chained to the op before.
fn messages_in_op_order(mut acks: Vec<(Appended, Vec<u8>)>) -> Vec<(Appended, Vec<u8>)> {
    acks.sort_by_key(|(appended, _)| appended.op);
    let mut parent = Header::root(CLUSTER).checksum;
    let mut messages = Vec::new();
    for (index, (appended, body)) in acks.into_iter().enumerate() {
        assert_eq!(appended.op, index as u64 + 1, "ops 1..=n, each once");
        let message = prepare::prepare(CLUSTER, appended.op, 0, parent, &body);
        let header = Header::decode(&message).expect("decodes");
        assert_eq!(header.checksum, appended.checksum, "op {}", appended.op);
        parent = header.checksum;
        messages.push((appended, message));
    }
    messages
}

/// Eight threads, forty ops each, on a real file (512 slots: no op is overwritten): every call
/// returns durable; each thread's ops rise; after a reopen the head is the last op, every
/// acknowledged op reads back with its bytes, and the ring is one hash chain.
#[test]
fn eight_threads_on_a_file_every_acknowledged_op_reads_back() {
    let config = Config {
        sector_size: 4096,
        slot_count: 512,
        message_size_max: 8192,
        pipeline_max: 16,
        iops_read_max: 4,
        iops_write_max: 1,
    };
    let (thread_count, call_count) = (8u64, 40u64);
    let directory = tempfile::tempdir().expect("tempdir");
    let path = directory.path().join("shared.wal");
    let (driver, _) =
        FileDriver::create_file(&path, CLUSTER, config, Options::default()).expect("create");
    let wal = SharedWal::new(driver);
    let acks: Vec<(Appended, Vec<u8>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..thread_count)
            .map(|thread| {
                let wal = &wal;
                scope.spawn(move || {
                    let mut acks = Vec::new();
                    for call in 0..call_count {
                        let body = body(thread, call, 3000);
                        let appended = wal.append(&body).expect("durable");
                        if let Some((previous, _)) = acks.last() {
                            let previous: &Appended = previous;
                            assert!(previous.op < appended.op, "a thread's ops rise");
                        }
                        // Told durable: the handle's own count agrees.
                        assert!(wal.op_durable() >= appended.op);
                        acks.push((appended, body));
                    }
                    acks
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().expect("thread"))
            .collect()
    });
    let op_count = thread_count * call_count;
    assert_eq!(acks.len() as u64, op_count);
    let stats = wal.stats();
    assert_eq!(stats.op_count, op_count);
    assert!(stats.batch_count >= op_count.div_ceil(config.pipeline_max));
    assert!(stats.batch_size_max <= config.pipeline_max);
    eprintln!("{stats:?}");
    drop(wal.into_driver().expect("not poisoned"));

    let messages = messages_in_op_order(acks);
    let (mut reopened, _) =
        FileDriver::open_file(&path, CLUSTER, Options::default()).expect("open");
    assert_eq!(reopened.head().op, op_count);
    assert_eq!(reopened.op_durable(), op_count);
    for (appended, message) in &messages {
        let bytes = reopened.read(appended.op, appended.checksum).expect("read");
        assert_eq!(&bytes, message, "op {}", appended.op);
    }
    let journal = reopened.journal();
    for op in 1..=op_count {
        let header = journal.header_with_op(op).expect("present");
        let parent = journal.header_with_op(op - 1).expect("present");
        assert_eq!(header.parent, parent.checksum, "op {op} chains");
    }
}

/// Tickets: one thread queues a pipeline's worth of bodies and then waits on each; the results
/// come back in queue order. Two barriers a batch: the first wait leads one batch of all four
/// (two barriers). Pipelined: batches of half a pipeline, each acknowledged by the next one's
/// barrier and the last by a batch of none (three barriers for two batches).
#[test]
fn tickets_queued_together_commit_in_one_batch() {
    let count = config_small().pipeline_max;
    for (mode, batches_expected, syncs_expected) in [
        (CommitMode::TwoBarriers, vec![count], 2),
        (CommitMode::Pipelined, vec![count / 2, count / 2], 3),
    ] {
        let driver = driver_small(Options::default(), RecordingStorage::new);
        let syncs_before = syncs(driver.storage());
        let wal = SharedWal::with_mode(driver, 4 * count, mode);
        let tickets: Vec<_> = (0..count)
            .map(|call| wal.append_ticket(&body(0, call, 300)).expect("queued"))
            .collect();
        // Nothing is durable before someone waits.
        assert_eq!(wal.op_durable(), 0);
        let appended: Vec<Appended> = tickets
            .into_iter()
            .map(|ticket| wal.wait(ticket).expect("durable"))
            .collect();
        let ops: Vec<u64> = appended.iter().map(|a| a.op).collect();
        assert_eq!(ops, (1..=count).collect::<Vec<_>>());
        let stats = wal.stats();
        assert_eq!(
            (stats.batch_count, stats.batch_size_max),
            (batches_expected.len() as u64, batches_expected[0]),
            "{mode:?}"
        );
        let driver = wal.into_driver().expect("not poisoned");
        assert_eq!(
            syncs(driver.storage()) - syncs_before,
            syncs_expected,
            "{mode:?}"
        );
    }
}

/// Many callers, a queue of one pipeline (so callers wait for room), some appending and waiting
/// at once, some queueing several tickets before waiting on them, in both commit modes: every
/// ticket comes back durable and in queue order per caller, and no caller sleeps forever (a
/// watchdog aborts the process if the run takes a minute: a lost wake-up).
#[test]
fn many_callers_with_a_small_queue_all_complete() {
    let done = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            for _ in 0..600 {
                if done.load(Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            eprintln!("a caller never woke: lost wake-up");
            std::process::abort();
        })
    };
    let config = config_small();
    for mode in [CommitMode::Pipelined, CommitMode::TwoBarriers] {
        for round in 0..20u64 {
            let driver = driver_small(Options::default(), |storage| storage);
            let wal = SharedWal::with_mode(driver, config.pipeline_max, mode);
            let (thread_count, call_count) = (12u64, 24u64);
            let ops: Vec<Vec<u64>> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..thread_count)
                    .map(|thread| {
                        let wal = &wal;
                        scope.spawn(move || {
                            let mut ops = Vec::new();
                            let mut call = 0;
                            while call < call_count {
                                if (thread + round) % 3 == 0 {
                                    // Three tickets, then their waits.
                                    let tickets: Vec<_> = (call..(call + 3).min(call_count))
                                        .map(|c| wal.append_ticket(&body(thread, c, 200)))
                                        .collect::<Result<_, _>>()
                                        .expect("queued");
                                    call += tickets.len() as u64;
                                    for ticket in tickets {
                                        ops.push(wal.wait(ticket).expect("durable").op);
                                    }
                                } else {
                                    ops.push(
                                        wal.append(&body(thread, call, 200)).expect("durable").op,
                                    );
                                    call += 1;
                                }
                            }
                            ops
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|handle| handle.join().expect("thread"))
                    .collect()
            });
            for thread_ops in &ops {
                assert_eq!(thread_ops.len() as u64, call_count);
                assert!(thread_ops.windows(2).all(|w| w[0] < w[1]), "{mode:?}");
            }
            let mut all: Vec<u64> = ops.into_iter().flatten().collect();
            all.sort_unstable();
            assert_eq!(all, (1..=thread_count * call_count).collect::<Vec<_>>());
            assert_eq!(wal.stats().op_count, thread_count * call_count);
            let driver = wal.into_driver().expect("not poisoned");
            assert_eq!(driver.op_durable(), thread_count * call_count);
        }
    }
    done.store(true, Ordering::SeqCst);
    watchdog.join().expect("watchdog");
}

fn syncs(storage: &RecordingStorage<MemoryStorage>) -> usize {
    storage
        .log
        .iter()
        .filter(|entry| matches!(entry, file_storage::RecordedOp::Sync))
        .count()
}

/// Small enough that the ring wraps (and checkpoints) within the run: 16 slots, four headers a
/// 512-byte sector, prepares of one or two sectors, batches of up to 4.
fn config_small() -> Config {
    Config {
        sector_size: 512,
        slot_count: 16,
        message_size_max: 1024,
        pipeline_max: 4,
        iops_read_max: 4,
        iops_write_max: 1,
    }
}

/// A driver created with `config_small` on the storage `wrap` makes of a zeroed in-memory file
/// of its layout's size.
fn driver_small<S: Storage>(
    options: Options,
    wrap: impl FnOnce(MemoryStorage) -> S,
) -> FileDriver<S> {
    let config = config_small();
    let layout = Layout::new(&config).expect("fits");
    FileDriver::create(
        wrap(MemoryStorage::new(layout.file_size)),
        CLUSTER,
        config,
        options,
    )
    .expect("create")
}

/// A recording storage that threads reading its log length and the driver share.
#[derive(Clone, Debug)]
struct SharedRecording(Arc<Mutex<RecordingStorage<MemoryStorage>>>);

impl SharedRecording {
    fn log_len(&self) -> usize {
        self.0.lock().expect("lock").log.len()
    }
}

impl Storage for SharedRecording {
    fn size(&self) -> u64 {
        self.0.lock().expect("lock").size()
    }

    fn read_at(&mut self, offset: u64, buffer: &mut [u8]) -> io::Result<()> {
        self.0.lock().expect("lock").read_at(offset, buffer)
    }

    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        self.0.lock().expect("lock").write_at(offset, bytes)
    }

    fn sync(&mut self) -> io::Result<()> {
        // A barrier as slow as a fast disk's, so that callers queue while a leader syncs and
        // batches hold several ops (an instant barrier leaves each thread alone in its batch).
        std::thread::sleep(std::time::Duration::from_micros(500));
        self.0.lock().expect("lock").sync()
    }
}

/// What a multi-threaded run on a recording left: the formatted image before it, the writes and
/// barriers, and every op with the log length when its caller was told it was durable.
struct Run {
    base: Vec<u8>,
    log: Vec<file_storage::RecordedOp>,
    ops: Vec<AppendedOp>,
    stats: SharedStats,
}

/// `thread_count` threads, `call_count` appends each, through one handle on a recording.
fn run_threads(thread_count: u64, call_count: u64, ordering: WriteOrdering) -> Run {
    let mut recording = None;
    let options = Options {
        direct: false,
        ordering,
    };
    let driver = driver_small(options, |storage| {
        let shared = SharedRecording(Arc::new(Mutex::new(RecordingStorage::new(storage))));
        shared.0.lock().expect("lock").set_recording(false);
        recording = Some(shared.clone());
        shared
    });
    let recording = recording.expect("the driver was created on it");
    let base = {
        let mut storage = recording.0.lock().expect("lock");
        storage.set_recording(true);
        storage.inner.bytes.clone()
    };
    let wal = SharedWal::new(driver);
    let acks: Vec<(Appended, Vec<u8>, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..thread_count)
            .map(|thread| {
                let (wal, recording) = (&wal, &recording);
                scope.spawn(move || {
                    (0..call_count)
                        .map(|call| {
                            let body = body(thread, call, 800);
                            let appended = wal.append(&body).expect("durable");
                            // Read after the call returned: at or after the barrier.
                            (appended, body, recording.log_len())
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().expect("thread"))
            .collect()
    });
    assert_eq!(acks.len() as u64, thread_count * call_count);
    let stats = wal.stats();
    drop(wal.into_driver().expect("not poisoned"));
    let positions: std::collections::BTreeMap<u64, usize> = acks
        .iter()
        .map(|(appended, _, at)| (appended.op, *at))
        .collect();
    let messages = messages_in_op_order(
        acks.into_iter()
            .map(|(appended, body, _)| (appended, body))
            .collect(),
    );
    let ops = messages
        .into_iter()
        .map(|(appended, message)| AppendedOp {
            op: appended.op,
            checksum: appended.checksum,
            message,
            acknowledged_at: Some(positions[&appended.op]),
        })
        .collect();
    let log = std::mem::take(&mut recording.0.lock().expect("lock").log);
    Run {
        base,
        log,
        ops,
        stats,
    }
}

fn explore_run(run: &Run, options: &ExploreOptions) -> Exploration {
    let trace = trace_from_recording(
        config_small(),
        CLUSTER,
        run.base.clone(),
        run.log.clone(),
        &run.ops,
    );
    explore(&trace, options)
}

/// Issue 31 item 4: four threads, eight appends each (two wraps of the 16-slot ring), through one
/// handle on a recording storage. Every crash state the persistence model allows, at every
/// barrier of the run, recovers with every op acknowledged before it byte-exact, nothing
/// invented, and one hash chain. Repeated over a few runs, since each interleaving (and so each
/// batch split) differs. Barriers take half a millisecond, so that batches hold several ops:
/// then some crash states land a later prepare of a batch beside a torn earlier one, and recovery
/// truncates there.
#[test]
fn threads_acknowledged_ops_survive_every_crash_state() {
    let (mut batched, mut overlapping) = (0, 0);
    for round in 0..3 {
        let run = run_threads(4, 8, WriteOrdering::BarrierAfterPrepare);
        let exploration = explore_run(&run, &ExploreOptions::exhaustive(round));
        eprintln!(
            "round {round}: {:?}; epochs {} ({} exhaustive) states {} truncated {}",
            run.stats,
            exploration.epochs,
            exploration.epochs_exhaustive,
            exploration.states,
            exploration.states_truncated
        );
        if run.stats.batch_size_max > 1 {
            batched += 1;
            assert!(exploration.states_truncated > 0, "{exploration:?}");
        }
        assert_eq!(
            exploration.violation_count, 0,
            "violations: {:#?}",
            exploration.violations
        );
        // Batches of at most four prepares of one or two sectors: every epoch in full.
        assert_eq!(exploration.epochs, exploration.epochs_exhaustive);
        // Pipelined: one barrier a batch of at most two ops (half the pipeline), and
        // checkpoints.
        assert!(exploration.epochs > 32 / 2, "{exploration:?}");
        // Batches overlap: a batch's prepares and the previous batch's header sectors made
        // durable by one barrier. How often depends on the threads' timing (8 to 15 of about 35
        // epochs seen), so the rounds are summed below.
        overlapping += file_storage::crash_explore::epochs_overlapping(&config_small(), &run.log);
        assert!(exploration.states > exploration.epochs);
    }
    // Four threads against a half-millisecond barrier: callers queue behind the leader.
    assert!(batched > 0, "no run committed a batch of more than one op");
    assert!(
        overlapping > 0,
        "no barrier carried two batches: not pipelined"
    );
}

/// The same run with each op marked acknowledged as soon as its prepare was written (before the
/// barrier that made it durable): the explorer must find acknowledged ops lost. This is what a
/// handle that woke its waiters before `sync` returned would claim.
#[test]
fn explorer_rejects_acknowledgements_before_the_barrier() {
    let mut run = run_threads(4, 8, WriteOrdering::BarrierAfterPrepare);
    for op in &mut run.ops {
        let written_at = run
            .log
            .iter()
            .position(|entry| {
                matches!(entry, file_storage::RecordedOp::Write { bytes, .. }
                    if bytes.starts_with(&op.message))
            })
            .expect("written");
        op.acknowledged_at = Some(written_at + 1);
    }
    let exploration = explore_run(&run, &ExploreOptions::sampled(7, 64));
    assert!(exploration.violation_count > 0, "{exploration:?}");
    assert!(exploration.violations.iter().any(|violation| violation
        .kinds
        .iter()
        .any(|kind| matches!(kind, ViolationKind::AckedLost { .. }))));
}

/// The handle over a driver without the prepare barrier: a header may land before its prepare,
/// and a crash leaves a slot recovery cannot repair. The explorer must find it in a threaded run
/// too.
#[test]
fn explorer_rejects_a_threaded_run_without_the_prepare_barrier() {
    let run = run_threads(4, 8, WriteOrdering::UnorderedUnsafe);
    let exploration = explore_run(&run, &ExploreOptions::exhaustive(3));
    assert!(exploration.violation_count > 0, "{exploration:?}");
}

/// A storage whose barriers start failing at a switch (and keep failing: the driver's retry
/// fails too, so it poisons itself).
#[derive(Debug)]
struct FailingSync {
    inner: MemoryStorage,
    failing: Arc<AtomicBool>,
}

impl Storage for FailingSync {
    fn size(&self) -> u64 {
        self.inner.size()
    }

    fn read_at(&mut self, offset: u64, buffer: &mut [u8]) -> io::Result<()> {
        self.inner.read_at(offset, buffer)
    }

    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        self.inner.write_at(offset, bytes)
    }

    fn sync(&mut self) -> io::Result<()> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(io::Error::other("injected fsync failure"));
        }
        self.inner.sync()
    }
}

/// After a failed barrier no caller is told durable: the ops of the failed batch get its I/O
/// error, every later append `Poisoned`, and the driver is not handed back as healthy.
#[test]
fn a_failed_sync_fails_its_batch_and_every_later_append() {
    let failing = Arc::new(AtomicBool::new(false));
    let driver = driver_small(Options::default(), |inner| FailingSync {
        inner,
        failing: failing.clone(),
    });
    let wal = SharedWal::new(driver);
    let first = wal
        .append(&body(0, 0, 100))
        .expect("durable before the fault");
    assert_eq!(first.op, 1);
    failing.store(true, Ordering::SeqCst);
    let tickets: Vec<_> = (1..4)
        .map(|call| wal.append_ticket(&body(0, call, 100)).expect("queued"))
        .collect();
    let outcomes: Vec<Result<Appended, Error>> = std::thread::scope(|scope| {
        let handles: Vec<_> = tickets
            .into_iter()
            .map(|ticket| {
                let wal = &wal;
                scope.spawn(move || wal.wait(ticket))
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("thread"))
            .collect()
    });
    for outcome in &outcomes {
        match outcome {
            Err(Error::Io { source, .. }) => {
                assert!(source.to_string().contains("injected"), "{source}")
            }
            other => panic!("told {other:?} after a failed barrier"),
        }
    }
    assert!(matches!(wal.append(&body(0, 9, 100)), Err(Error::Poisoned)));
    assert_eq!(wal.op_durable(), 1);
    assert!(matches!(wal.into_driver(), Err(Error::Poisoned)));
}

/// A body larger than a prepare can carry is refused at once, without failing anyone else.
#[test]
fn an_oversized_body_is_refused_alone() {
    let config = config_small();
    let driver = driver_small(Options::default(), |storage| storage);
    let wal = SharedWal::new(driver);
    let body_size_max = (config.message_size_max - journal::HEADER_SIZE) as usize;
    assert!(matches!(
        wal.append(&vec![7u8; body_size_max + 1]),
        Err(Error::Append(_))
    ));
    let appended = wal
        .append(&vec![7u8; body_size_max])
        .expect("largest body fits");
    assert_eq!(appended.op, 1);
}

/// A storage that panics on write once switched (standing in for a broken invariant inside the
/// driver while a leader commits).
#[derive(Debug)]
struct PanickingWrite {
    inner: MemoryStorage,
    panicking: Arc<AtomicBool>,
}

impl Storage for PanickingWrite {
    fn size(&self) -> u64 {
        self.inner.size()
    }

    fn read_at(&mut self, offset: u64, buffer: &mut [u8]) -> io::Result<()> {
        self.inner.read_at(offset, buffer)
    }

    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        assert!(!self.panicking.load(Ordering::SeqCst), "planted panic");
        self.inner.write_at(offset, bytes)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.inner.sync()
    }
}

/// A leader that panics mid-batch fails its batch before the panic goes on: the other waiters
/// of the batch get an error instead of sleeping forever, and every later append fails.
#[test]
fn a_panicking_leader_fails_its_batch_and_wakes_the_rest() {
    let panicking = Arc::new(AtomicBool::new(false));
    let driver = driver_small(Options::default(), |inner| PanickingWrite {
        inner,
        panicking: panicking.clone(),
    });
    let wal = SharedWal::new(driver);
    let tickets: Vec<_> = (0..3)
        .map(|call| wal.append_ticket(&body(1, call, 100)).expect("queued"))
        .collect();
    panicking.store(true, Ordering::SeqCst);
    let joined: Vec<std::thread::Result<Result<Appended, Error>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = tickets
            .into_iter()
            .map(|ticket| {
                let wal = &wal;
                scope.spawn(move || wal.wait(ticket))
            })
            .collect();
        handles.into_iter().map(|handle| handle.join()).collect()
    });
    // One batch of all three: its leader panicked, the two others were told it failed.
    let panicked = joined.iter().filter(|result| result.is_err()).count();
    assert_eq!(panicked, 1);
    for result in joined.into_iter().flatten() {
        match result {
            Err(Error::Io { source, .. }) => {
                assert!(source.to_string().contains("panicked"), "{source}")
            }
            other => panic!("told {other:?} by a batch whose leader panicked"),
        }
    }
    assert!(matches!(wal.append(&body(1, 9, 100)), Err(Error::Poisoned)));
    assert_eq!(wal.stats().op_count, 0);
}
