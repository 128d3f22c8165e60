//! [`SharedWal`]: one [`FileDriver`] that many threads append through, each call returning once
//! its op is durable (or a [`Ticket`] to wait on), with group commit by leader and followers.
//!
//! # Why the handle builds the prepare
//!
//! A prepare names its op (`head + 1`), its parent (the head's checksum) and the log view. A
//! caller among many cannot know any of them when it calls, so callers hand in *bodies* and the
//! handle builds each prepare when the op is appended, in queue order.
//!
//! # Group commit: leader and followers
//!
//! A caller puts its body into a bounded queue (a mutex and a condvar) and receives a ticket.
//! Waiting on a ticket, a caller whose op is not durable yet either sleeps or, when no batch is
//! being committed, becomes the *leader*: it takes the oldest queued bodies (at most a batch),
//! releases the queue lock, appends them to the driver and commits them (below). While it
//! syncs, new callers keep queueing: the queue lock is never held across a barrier. Then it takes
//! the queue lock again, publishes the ops its barriers made durable, wakes the waiters and
//! steps down; the next waiter to wake leads the next batch. So a batch holds whatever arrived
//! while the previous one was syncing: one thread pays two barriers an op, many threads share
//! them. No batch waits to fill: a caller whose op was just acknowledged may queue its next op
//! and lead it alone while the callers it woke are still being scheduled, so with few writers
//! batch sizes alternate (4 writers on a busy 2-core VM: about 2 ops a batch, `bench-peers`).
//! Waiting for stragglers would trade latency for batch size; this handle does not.
//!
//! # Pipelined by default: one barrier a batch
//!
//! With [`CommitMode::Pipelined`] (the default) a leader commits its batch with
//! [`FileDriver::sync_pipelined`]: one barrier makes the batch's prepares durable together with
//! the header sectors of the batch before it (the *prepared* batch), which is then acknowledged,
//! and this batch is prepared in its place. So each barrier acknowledges a batch, and each op is
//! acknowledged one batch later than with [`CommitMode::TwoBarriers`] (two barriers a batch): a
//! busy stream pays half the barriers. With no body queued, a waiter whose op is prepared leads a
//! batch of none: the prepared header sectors and one barrier. A batch takes at most half a
//! pipeline, so that a prepared batch and the next one fit in it (the driver's bound).
//!
//! Lock order: the queue lock is never held while the driver lock is taken (the leader releases
//! it first), so the two cannot deadlock. Only a leader appends; [`SharedWal::read`] takes the
//! driver lock between batches.
//!
//! # Errors
//!
//! A failed write or sync poisons the driver ([`Error::Poisoned`]): the state of the file is
//! unknown until it is reopened. Every op of the failed batch gets the batch's I/O error and
//! every op queued or appended later gets [`Error::Poisoned`]: none is told durable, though some
//! may have reached the disk (an error says "unknown", never "lost"). A leader that panics
//! (a broken invariant) fails its batch the same way before the panic goes on, so that no
//! follower waits forever.

use crate::driver::FileDriver;
use crate::error::{Error, Result};
use crate::prepare;
use crate::storage::Storage;
use journal::{Header, HEADER_SIZE};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Condvar, Mutex, MutexGuard};

/// An op made durable: its number and its prepare's header checksum, what
/// [`FileDriver::read`] takes to read it back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    pub op: u64,
    pub checksum: u32,
}

/// A queued append, to be passed to [`SharedWal::wait`] (once: it is not `Clone`).
#[must_use = "an op is only known durable once its ticket is waited on"]
#[derive(Debug, PartialEq, Eq)]
pub struct Ticket {
    number: u64,
}

/// How many ops went through the handle, and in how many batches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SharedStats {
    /// Batches acknowledged (each by one barrier when pipelined, by two otherwise).
    pub batch_count: u64,
    /// Ops acknowledged durable.
    pub op_count: u64,
    /// The largest batch committed.
    pub batch_size_max: u64,
}

/// How a leader commits a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitMode {
    /// [`FileDriver::sync_pipelined`]: one barrier a batch; a batch is acknowledged by the
    /// barrier of the next (or of a batch of none when nothing else is queued).
    Pipelined,
    /// [`FileDriver::sync`]: two barriers a batch, each batch acknowledged by its own.
    TwoBarriers,
}

/// Condvars tickets share (by number): more than the callers that sleep at once in most uses, so
/// that a wake-up rarely reaches a caller it is not for (who then sleeps again).
const WAKER_COUNT: u64 = 64;

/// The queue's default capacity, in batches of `pipeline_max`: enough that callers keep queueing
/// a full next batch (and more) while the leader syncs, bounded so that memory is.
pub const QUEUE_BATCHES_DEFAULT: u64 = 4;

/// A [`FileDriver`] that many threads append through (module doc). `Send + Sync` whenever the
/// storage is `Send`; share it with an `Arc` or scoped threads.
#[derive(Debug)]
pub struct SharedWal<S: Storage> {
    state: Mutex<State>,
    /// A waiter on ticket `n` sleeps on `wakers[n % WAKER_COUNT]`: a batch wakes the callers it
    /// completed, not every caller (with 16 writers on 2 cores, waking all of them at every
    /// barrier cost more than the barriers: `perf` on `bench-peers`).
    wakers: Vec<Condvar>,
    /// Callers waiting for room in a full queue.
    room: Condvar,
    driver: Mutex<FileDriver<S>>,
    cluster: u128,
    body_size_max: u64,
    /// Bodies a leader takes at once: the driver's `pipeline_max`, or half of it (at least one)
    /// when pipelined.
    batch_size_max: u64,
    pipeline_max: u64,
    mode: CommitMode,
    /// Bodies the queue holds at once.
    queue_size_max: u64,
}

#[derive(Debug)]
struct State {
    /// Bodies waiting for a leader, oldest first, with their ticket numbers.
    queued: VecDeque<(u64, Vec<u8>)>,
    ticket_next: u64,
    /// A leader is committing a batch (holds the driver).
    leading: bool,
    /// The prepared batch (pipelined): its ops' prepares are durable and its header sectors are
    /// not, so its waiters wait for the next batch's barrier. Tickets with their ops.
    prepared: Vec<(u64, Appended)>,
    /// Tickets whose waiters sleep now (inserted just before sleeping, removed on waking).
    sleeping: BTreeSet<u64>,
    /// Callers sleeping for room in a full queue.
    room_sleeping: u64,
    /// Results of committed or failed batches not yet collected by their ticket's waiter.
    completed: BTreeMap<u64, Completion>,
    /// Set by the first failed batch: everything after it fails too.
    failure: Option<Failure>,
    stats: SharedStats,
}

#[derive(Debug)]
enum Completion {
    Durable(Appended),
    Failed(Failure),
}

/// What failed, kept so that every waiter of the batch gets its own copy of the error.
#[derive(Clone, Debug)]
struct Failure {
    context: &'static str,
    kind: io::ErrorKind,
    message: String,
}

impl Failure {
    fn from_error(error: &Error) -> Failure {
        match error {
            Error::Io { context, source } => Failure {
                context,
                kind: source.kind(),
                message: source.to_string(),
            },
            other => Failure {
                context: "commit a shared batch",
                kind: io::ErrorKind::Other,
                message: other.to_string(),
            },
        }
    }

    fn error(&self) -> Error {
        Error::Io {
            context: self.context,
            source: io::Error::new(self.kind, self.message.clone()),
        }
    }
}

impl<S: Storage> SharedWal<S> {
    /// Shares `driver` (with no open batch: commit it first) with a queue of
    /// [`QUEUE_BATCHES_DEFAULT`] batches.
    pub fn new(driver: FileDriver<S>) -> SharedWal<S> {
        let pipeline_max = driver.journal().config().pipeline_max;
        SharedWal::with_queue_size_max(driver, pipeline_max * QUEUE_BATCHES_DEFAULT)
    }

    /// Shares `driver` with a queue of at most `queue_size_max` bodies (at least one batch),
    /// pipelined.
    pub fn with_queue_size_max(driver: FileDriver<S>, queue_size_max: u64) -> SharedWal<S> {
        SharedWal::with_mode(driver, queue_size_max, CommitMode::Pipelined)
    }

    /// Shares `driver` with a queue of at most `queue_size_max` bodies (at least one batch),
    /// committing batches as `mode` says.
    pub fn with_mode(driver: FileDriver<S>, queue_size_max: u64, mode: CommitMode) -> SharedWal<S> {
        assert_eq!(
            driver.batch_len(),
            0,
            "commit the open batch before sharing the driver"
        );
        assert_eq!(driver.op_durable(), driver.head().op);
        let config = *driver.journal().config();
        assert!(config.pipeline_max >= 1);
        assert!(queue_size_max >= config.pipeline_max);
        let batch_size_max = match mode {
            CommitMode::Pipelined => (config.pipeline_max / 2).max(1),
            CommitMode::TwoBarriers => config.pipeline_max,
        };
        SharedWal {
            state: Mutex::new(State {
                queued: VecDeque::with_capacity(queue_size_max as usize),
                ticket_next: 0,
                leading: false,
                prepared: Vec::new(),
                sleeping: BTreeSet::new(),
                room_sleeping: 0,
                completed: BTreeMap::new(),
                failure: None,
                stats: SharedStats::default(),
            }),
            wakers: (0..WAKER_COUNT).map(|_| Condvar::new()).collect(),
            room: Condvar::new(),
            cluster: driver.journal().cluster(),
            body_size_max: config.message_size_max - HEADER_SIZE,
            batch_size_max,
            pipeline_max: config.pipeline_max,
            mode,
            queue_size_max,
            driver: Mutex::new(driver),
        }
    }

    /// Appends `body` as the next op and returns once it is durable (survives any crash).
    pub fn append(&self, body: &[u8]) -> Result<Appended> {
        let ticket = self.append_ticket(body)?;
        self.wait(ticket)
    }

    /// Queues `body` and returns at once with a ticket, unless the queue is full: then it waits
    /// for room, leading a batch itself if no one is. The op is durable once [`SharedWal::wait`]
    /// on the ticket returns `Ok`; a ticket nobody waits on is committed only by another
    /// caller's batch.
    pub fn append_ticket(&self, body: &[u8]) -> Result<Ticket> {
        // Checked here, so that one caller's oversized body cannot fail a batch of others.
        if body.len() as u64 > self.body_size_max {
            return Err(Error::Append("larger than message_size_max"));
        }
        let mut state = self.lock_state();
        loop {
            if state.failure.is_some() {
                return Err(Error::Poisoned);
            }
            if (state.queued.len() as u64) < self.queue_size_max {
                break;
            }
            state = if state.leading {
                state.room_sleeping += 1;
                let mut state = self.sleep(&self.room, state);
                state.room_sleeping -= 1;
                state
            } else {
                self.lead(state)
            };
        }
        let number = state.ticket_next;
        state.ticket_next += 1;
        state.queued.push_back((number, body.to_vec()));
        assert!(state.queued.len() as u64 <= self.queue_size_max);
        self.hand_off(&state);
        Ok(Ticket { number })
    }

    /// Returns once the ticket's op is durable, leading batches while no one else does.
    pub fn wait(&self, ticket: Ticket) -> Result<Appended> {
        let mut state = self.lock_state();
        // Each turn either collects the result, commits a batch, or sleeps until a batch ends:
        // the ticket is in the queue or in the leader's batch, and each batch takes the oldest.
        loop {
            if let Some(completion) = state.completed.remove(&ticket.number) {
                self.hand_off(&state);
                return match completion {
                    Completion::Durable(appended) => Ok(appended),
                    Completion::Failed(failure) => Err(failure.error()),
                };
            }
            assert!(ticket.number < state.ticket_next);
            if state.leading {
                let inserted = state.sleeping.insert(ticket.number);
                assert!(inserted);
                state = self.sleep(self.waker(ticket.number), state);
                let removed = state.sleeping.remove(&ticket.number);
                assert!(removed);
            } else {
                // No leader and no result: the ticket is still queued, or prepared.
                assert!(
                    state
                        .queued
                        .iter()
                        .any(|(number, _)| *number == ticket.number)
                        || state
                            .prepared
                            .iter()
                            .any(|(number, _)| *number == ticket.number)
                );
                state = self.lead(state);
            }
        }
    }

    /// Takes the oldest queued bodies (at most a batch, and none when the pipeline is full),
    /// commits them with the queue unlocked (acknowledging the prepared batch), and publishes the
    /// outcome. Called with the queue lock held, no leader, and a body queued or a batch prepared.
    fn lead<'a>(&'a self, mut state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        assert!(!state.leading);
        assert!(!state.queued.is_empty() || !state.prepared.is_empty());
        state.leading = true;
        let room = self
            .batch_size_max
            .min(self.pipeline_max - state.prepared.len() as u64);
        let count = (state.queued.len() as u64).min(room) as usize;
        let batch: Vec<(u64, Vec<u8>)> = state.queued.drain(..count).collect();
        let prepared = std::mem::take(&mut state.prepared);
        let failure = state.failure.clone();
        let room_sleeping = state.room_sleeping > 0;
        drop(state);
        if room_sleeping && count > 0 {
            // The queue has room again for callers blocked on a full one.
            self.room.notify_all();
        }
        let outcome = match failure {
            // A batch after a failed one is never written.
            Some(_) => Err(Error::Poisoned),
            None => panic::catch_unwind(AssertUnwindSafe(|| self.commit(&batch, prepared.len())))
                .unwrap_or_else(|payload| {
                    // Fail the batch (and all later ones) first: no follower may wait forever.
                    drop(self.publish(&prepared, &batch, Err(Error::Poisoned), true));
                    panic::resume_unwind(payload)
                }),
        };
        self.publish(&prepared, &batch, outcome, false)
    }

    /// Appends a batch of bodies (maybe none) and commits it, acknowledging the prepared batch
    /// of `prepared_count` ops; the driver lock is held, the queue lock is not. Returns the
    /// batch's ops and the driver's highest acknowledged op: pipelined, a batch of some ops is
    /// then prepared, not acknowledged (unless the driver's ordering has no prepared state).
    fn commit(
        &self,
        batch: &[(u64, Vec<u8>)],
        prepared_count: usize,
    ) -> Result<(Vec<Appended>, u64)> {
        assert!(!batch.is_empty() || prepared_count > 0);
        assert!(batch.len() as u64 <= self.batch_size_max);
        assert!((batch.len() + prepared_count) as u64 <= self.pipeline_max);
        let mut driver = self.driver.lock().map_err(|_| Error::Poisoned)?;
        assert_eq!(driver.batch_len(), 0, "a batch left open between leaders");
        assert_eq!(driver.prepared_len(), prepared_count as u64);
        let mut appended = Vec::with_capacity(batch.len());
        for (_, body) in batch {
            let head = *driver.head();
            let op = head.op + 1;
            let message =
                prepare::prepare(self.cluster, op, driver.log_view(), head.checksum, body);
            driver.append(&message)?;
            let header: Header = *driver.head();
            assert_eq!(header.op, op);
            appended.push(Appended {
                op,
                checksum: header.checksum,
            });
        }
        match self.mode {
            CommitMode::Pipelined if !batch.is_empty() => driver.sync_pipelined()?,
            CommitMode::Pipelined | CommitMode::TwoBarriers => driver.sync()?,
        }
        // Postcondition: nothing is open; the ops not acknowledged are this batch's (or fewer:
        // a checkpoint inside `append` commits everything before it).
        assert_eq!(driver.batch_len(), 0);
        assert!(driver.prepared_len() <= appended.len() as u64);
        assert_eq!(
            driver.op_durable() + driver.prepared_len(),
            driver.head().op
        );
        if let Some(last) = appended.last() {
            assert_eq!(last.op, driver.head().op);
        }
        Ok((appended, driver.op_durable()))
    }

    /// Records the outcome for the waiters of the prepared batch and of the batch, and steps
    /// down as leader.
    fn publish(
        &self,
        prepared: &[(u64, Appended)],
        batch: &[(u64, Vec<u8>)],
        outcome: Result<(Vec<Appended>, u64)>,
        panicked: bool,
    ) -> MutexGuard<'_, State> {
        // The queue lock is poisoned only by a panic while it was held, which `lead` never does.
        let mut state = match self.state.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        };
        assert!(state.leading);
        assert!(state.prepared.is_empty());
        match outcome {
            Ok((appended, op_durable)) => {
                assert_eq!(appended.len(), batch.len());
                assert!(state.failure.is_none());
                let batch_appended = batch
                    .iter()
                    .zip(appended)
                    .map(|((number, _), appended)| (*number, appended));
                // The driver says what is durable: every prepared op, and this batch's unless it
                // was only prepared.
                let (acknowledged, prepared_next): (Vec<_>, Vec<_>) = prepared
                    .iter()
                    .copied()
                    .chain(batch_appended)
                    .partition(|(_, appended)| appended.op <= op_durable);
                assert!(acknowledged.len() >= prepared.len());
                assert!(self.mode == CommitMode::Pipelined || prepared_next.is_empty());
                if !acknowledged.is_empty() {
                    let size = acknowledged.len() as u64;
                    state.stats.batch_count += 1;
                    state.stats.op_count += size;
                    state.stats.batch_size_max = state.stats.batch_size_max.max(size);
                }
                for (number, appended) in acknowledged {
                    let previous = state
                        .completed
                        .insert(number, Completion::Durable(appended));
                    assert!(previous.is_none());
                    if state.sleeping.contains(&number) {
                        self.waker(number).notify_all();
                    }
                }
                state.prepared = prepared_next;
            }
            Err(error) => {
                let failure = match (&state.failure, panicked) {
                    (Some(earlier), _) => earlier.clone(),
                    (None, true) => Failure {
                        context: "commit a shared batch",
                        kind: io::ErrorKind::Other,
                        message: "the leader panicked".to_string(),
                    },
                    (None, false) => Failure::from_error(&error),
                };
                state.failure.get_or_insert_with(|| failure.clone());
                let numbers = prepared.iter().map(|(number, _)| *number);
                for number in numbers.chain(batch.iter().map(|(number, _)| *number)) {
                    // Replaces nothing: a panicking leader publishes once, before unwinding.
                    state
                        .completed
                        .insert(number, Completion::Failed(failure.clone()));
                }
                // Rare: wake every caller, so that each sees the failure (or leads the batch of
                // its queued ticket to it) even if this leader unwinds without a hand-off.
                for waker in &self.wakers {
                    waker.notify_all();
                }
                self.room.notify_all();
            }
        }
        state.leading = false;
        state
    }

    /// Called by a caller about to leave the handle: if no one leads and work is left (queued
    /// bodies, or a prepared batch), wakes one sleeping caller to lead it. Callers sleep only
    /// while someone leads, and each leader ends in its own caller's loop, which either leads
    /// again or comes here: no caller sleeps with work left and no one to lead it.
    fn hand_off(&self, state: &State) {
        if state.leading || (state.queued.is_empty() && state.prepared.is_empty()) {
            return;
        }
        let sleeper = state
            .sleeping
            .iter()
            .find(|number| !state.completed.contains_key(number));
        if let Some(&number) = sleeper {
            self.waker(number).notify_all();
        } else if state.room_sleeping > 0 {
            self.room.notify_one();
        }
    }

    fn waker(&self, number: u64) -> &Condvar {
        &self.wakers[(number % WAKER_COUNT) as usize]
    }

    fn lock_state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .expect("the queue lock is never held across a panic")
    }

    fn sleep<'a>(
        &'a self,
        condvar: &Condvar,
        state: MutexGuard<'a, State>,
    ) -> MutexGuard<'a, State> {
        condvar
            .wait(state)
            .expect("the queue lock is never held across a panic")
    }

    /// The prepare `(op, checksum)` read back from the file (waits for a batch being committed).
    pub fn read(&self, op: u64, checksum: u32) -> Result<Vec<u8>> {
        let mut driver = self.driver.lock().map_err(|_| Error::Poisoned)?;
        driver.read(op, checksum)
    }

    /// The highest op acknowledged durable.
    pub fn op_durable(&self) -> u64 {
        match self.driver.lock() {
            Ok(driver) => driver.op_durable(),
            // A leader panicked holding it; the count it left is still the last one committed.
            Err(poisoned) => poisoned.into_inner().op_durable(),
        }
    }

    pub fn stats(&self) -> SharedStats {
        self.lock_state().stats
    }

    /// The driver back, once no thread uses the handle (every ticket waited on).
    pub fn into_driver(self) -> Result<FileDriver<S>> {
        let state = self
            .state
            .into_inner()
            .expect("the queue lock is never held across a panic");
        assert!(!state.leading);
        assert!(
            state.queued.is_empty(),
            "tickets queued and never waited on"
        );
        if state.failure.is_some() {
            return Err(Error::Poisoned);
        }
        let mut driver = self.driver.into_inner().map_err(|_| Error::Poisoned)?;
        // A prepared batch whose tickets nobody waited on: acknowledge it, as the open batch of
        // a driver is never handed back either.
        driver.sync()?;
        assert_eq!(driver.op_durable(), driver.head().op);
        Ok(driver)
    }
}
