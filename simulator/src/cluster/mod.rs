//! One seeded run: a cluster of replicas running VSR's normal case and view change, each with a
//! journal on a simulated disk as its only memory of the log (plus its superblock).
//!
//! The simulator never edits a journal except through a protocol step: a prepare from the
//! primary, a `start_view`, a repaired prepare or header from a peer, or recovery. What a replica
//! recovered is what it votes with in the next view change, so a journal that recovers a wrong
//! state makes the cluster act on it, and the checkers see the consequence.
//!
//! - `network.rs`: the messages, and the seeded network that delays and reorders them;
//! - `replica.rs`: a replica's journal, disk, superblock and in-memory protocol state;
//! - `normal.rs`: prepare, `prepare_ok`, commit, checkpoint, repair of prepares and headers;
//! - `view_change.rs`: `start_view_change`, `do_view_change`, the canonical log, `start_view`.
//!
//! This module drives ticks, crashes, restarts and I/O, and holds the ground truth the checkers
//! compare with: every prepare ever made, the committed history, and what each replica
//! acknowledged.

/// What the checkers are shown at an event ([`crate::checkers::Observed`]), built from the
/// simulation's fields one by one, so that an observer in `checkers` may be borrowed mutably
/// beside it.
macro_rules! observed {
    ($simulation:expr) => {
        crate::checkers::Observed {
            tick: $simulation.tick,
            replicas: &$simulation.replicas,
            messages: &$simulation.messages,
            committed: &$simulation.committed,
            acknowledged: &$simulation.acknowledged,
            synced: &$simulation.synced,
        }
    };
}

mod normal;
#[cfg(test)]
mod tests;
mod view_change;

use crate::checkers::acknowledged::Acknowledged;
use crate::checkers::history::CommittedHistory;
use crate::checkers::journal_disk::Compare;
use crate::checkers::knowledge::ReadDelivered;
use crate::checkers::{Checkers, Failure};
use crate::coverage::Coverage;
use crate::network::{Envelope, Message, Network};
use crate::replica::{self, counted, Replica, Status, Superblock, ZONE_HEADERS, ZONE_PREPARES};
use crate::ring_picture::{Moment, RingPicture};
use crate::swarm::RunConfig;
use crate::trace::Trace;
use fault_models::{quorum_replication, DiskOptions, FaultAtlas, IoKind};
use journal::{Event, Header, IoId, ReadError, WriteOutcome, Zone};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};

/// Ticks between a primary's heartbeats (commit, and retransmission of its pipeline).
pub(crate) const HEARTBEAT_TICKS: u64 = 20;
/// Ticks a backup waits to hear from its primary before it starts a view change.
pub(crate) const NORMAL_TIMEOUT_TICKS: u64 = 400;
/// Ticks a view change (or a wait for `start_view`) may take before the next view is tried.
pub(crate) const VIEW_CHANGE_TIMEOUT_TICKS: u64 = 500;

/// One in this many of a backup's prepare writes is slow in a run that aims at protocol
/// windows (times `window_aim_probability`).
const SLOW_PREPARE_WRITE_SHARE: f64 = 4.0;
/// Ticks between retries of a vote or a request.
pub(crate) const RETRY_TICKS: u64 = 30;

/// What one run produced.
#[derive(Debug)]
pub struct Outcome {
    pub seed: u64,
    pub trace_hash: u64,
    pub ticks: u64,
    pub ops: u64,
    pub coverage: Coverage,
    pub failure: Option<Failure>,
    pub config: RunConfig,
    /// What a replay keeps: readable lines, ring pictures, every disk's faults.
    pub recorded: Option<crate::recorded::Recorded>,
}

/// A repair read one replica serves for another.
#[derive(Clone, Copy, Debug)]
struct Serving {
    peer: usize,
    requester: usize,
    op: u64,
    checksum: u32,
}

pub struct Simulation {
    pub config: RunConfig,
    rng: ChaCha8Rng,
    /// A stream of its own for a solo replica's crash tears (so that drawing them shifts no
    /// other draw of the run).
    tear_rng: ChaCha8Rng,
    /// Replicas to crash once a checkpoint at least this high is durable: it covers an op whose
    /// slot still holds another version on disk (`set_checkpoint`). Bounded: one per replica.
    pub(crate) aimed_checkpoint_crash: Vec<(usize, u64)>,
    /// A stream of its own for the aimed protocol windows (`RunConfig::window_aim_probability`).
    pub(crate) window_rng: ChaCha8Rng,
    pub tick: u64,
    cluster: u128,
    pub replicas: Vec<Replica>,
    pub(crate) network: Network,
    /// Ground truth: every prepare ever made, by checksum.
    pub messages: BTreeMap<u32, Vec<u8>>,
    /// Ground truth: the committed history, and the *history* checker that guards it.
    pub committed: CommittedHistory,
    /// Ground truth: what each replica acknowledged and still owes, and the *nack* checker.
    pub(crate) acknowledged: Acknowledged,
    /// Per replica, the highest checkpoint it jumped to by state sync: below it, it never had to
    /// hold the history.
    pub(crate) synced: Vec<u64>,
    serving: Vec<Serving>,
    pub trace: Trace,
    pub coverage: Coverage,
    pub(crate) liveness: bool,
    pub(crate) ops_target: u64,
    /// Spurious timeouts scheduled by a view-change storm: (tick, replica, view it gives up).
    pub(crate) storms: Vec<(u64, usize, u32)>,
    /// The ops (each with its checksum, if known) the undecided view changes waited for since
    /// a view last started (cleared then). Views of a stuck cluster time out one after another,
    /// each new primary with other votes, so each may wait on another op of the same gap.
    /// Bounded: ops of one ring above the commit, each with at most one known checksum and
    /// the unknown one.
    pub(crate) view_change_waiting: BTreeSet<(u64, Option<u32>)>,
    /// For the prepare read completion being handled: what the disk delivered (see the *read*
    /// and *knowledge* checkers).
    read_delivered: Option<ReadDelivered>,
    /// The observers the run feeds with events (besides `committed` and `acknowledged`).
    pub(crate) checkers: Checkers,
    /// Aimed faults: prepare writes made to be lost, by (replica, op, checksum); the replica
    /// crashes as soon as the write's header sector lands (see `RunConfig::aim_probability`).
    pub(crate) aimed: Vec<(usize, u64, u32)>,
    /// Replicas an aimed fault crashes at the start of the next tick.
    crash_due: Vec<usize>,
}

impl std::fmt::Debug for Simulation {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Simulation")
            .field("seed", &self.config.seed)
            .field("tick", &self.tick)
            .finish()
    }
}

pub(crate) use crate::checkers::Check;

/// How often a solo replica's crash tears every write in flight (see `Simulation::crash`).
const SOLO_TEAR_ALL_PROBABILITY: f64 = 0.5;

impl Simulation {
    pub fn new(config: RunConfig, keep_trace: bool) -> Simulation {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let tear_rng = ChaCha8Rng::seed_from_u64(config.seed ^ 0x5a5a_5a5a_0000_0004);
        let window_rng = ChaCha8Rng::seed_from_u64(config.seed ^ 0x5a5a_5a5a_0000_0013);
        let cluster = u128::from(rng.gen::<u64>()) << 64 | 1;
        let replica_count = config.replica_count;
        let chunk_count = config.journal.header_sector_count();
        let faulty_max = quorum_replication(replica_count) - 1;
        let atlas = FaultAtlas::new(rng.gen(), replica_count, chunk_count, faulty_max);
        let solo = replica_count == 1;
        let replicas: Vec<Replica> = (0..replica_count)
            .map(|index| {
                let options = DiskOptions {
                    replica: index,
                    seed: rng.gen(),
                    sector_size: config.journal.sector_size,
                    zones: replica::zones(&config.journal),
                    faults: config.faults.clone(),
                    faulty_chunks: Some(atlas.faulty_chunks(index)),
                };
                Replica::new(index, config.journal, cluster, solo, options)
            })
            .collect();
        let root = Header::root(cluster);
        let ops_target = config.ops_target;
        let count = replicas.len();
        let checkers = Checkers::new(count, config.journal.slot_count);
        let mut simulation = Simulation {
            config,
            rng,
            tear_rng,
            aimed_checkpoint_crash: Vec::new(),
            window_rng,
            tick: 0,
            cluster,
            replicas,
            network: Network::default(),
            messages: BTreeMap::from([(root.checksum, root.to_bytes().to_vec())]),
            committed: CommittedHistory::new(&root),
            acknowledged: Acknowledged::new(count),
            synced: vec![0; count],
            serving: Vec::new(),
            trace: Trace::new(keep_trace),
            coverage: Coverage::default(),
            liveness: false,
            ops_target,
            view_change_waiting: BTreeSet::new(),
            storms: Vec::new(),
            read_delivered: None,
            checkers,
            aimed: Vec::new(),
            crash_due: Vec::new(),
        };
        for index in 0..simulation.replicas.len() {
            simulation.start_recovery(index);
        }
        simulation
    }

    pub(crate) fn solo(&self) -> bool {
        self.replicas.len() == 1
    }

    pub(crate) fn replica_count(&self) -> usize {
        self.replicas.len()
    }

    pub(crate) fn quorum_replication(&self) -> usize {
        usize::from(quorum_replication(self.replicas.len() as u8))
    }

    /// Votes that prove an op was never committed: more than can be missing from any
    /// replication quorum.
    pub(crate) fn quorum_nack(&self) -> usize {
        self.replica_count() - self.quorum_replication() + 1
    }

    /// Votes a new primary needs: enough to meet every replication quorum (and both of two).
    pub(crate) fn quorum_view_change(&self) -> usize {
        self.quorum_nack()
            .max(if self.replica_count() == 2 { 2 } else { 1 })
    }

    pub(crate) fn primary_index(&self, view: u32) -> usize {
        view as usize % self.replicas.len()
    }

    /// The highest committed op (ground truth).
    pub fn op_committed_max(&self) -> u64 {
        self.committed.op_max()
    }

    /// The replica acting as primary in normal status, if any (the highest view wins).
    pub(crate) fn primary_normal(&self) -> Option<usize> {
        (0..self.replicas.len())
            .filter(|&index| {
                let r = &self.replicas[index];
                r.status == Status::Normal && self.primary_index(r.view) == index
            })
            .max_by_key(|&index| self.replicas[index].view)
    }

    /// Runs to the end: workload, then the liveness phase, then the final checks.
    pub fn run(mut self) -> Outcome {
        // A replay keeps what happened up to an assertion inside the run, so that the story of
        // a panicking seed can be told too; its hash is 0, as `run_with` reports it.
        let mut panicked = false;
        let result = if self.trace.keeps_lines() {
            let phases =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run_phases()));
            phases.unwrap_or_else(|panic| {
                panicked = true;
                Err(self.failure("assertion", crate::panic_message(panic.as_ref())))
            })
        } else {
            self.run_phases()
        };
        self.coverage.end_run();
        if panicked {
            return Outcome {
                seed: self.config.seed,
                trace_hash: 0,
                ticks: self.tick,
                ops: 0,
                coverage: self.coverage.clone(),
                failure: result.err(),
                recorded: self.recorded(),
                config: self.config,
            };
        }
        let ops = self
            .primary_normal()
            .map_or(0, |index| self.replicas[index].op_head());
        Outcome {
            seed: self.config.seed,
            trace_hash: self.trace.hash(),
            ticks: self.tick,
            ops,
            coverage: self.coverage.clone(),
            failure: result.err(),
            recorded: self.recorded(),
            config: self.config,
        }
    }

    /// A replay's record: the kept lines and pictures, and every disk's faults merged by tick
    /// (a stable sort keeps each disk's order and puts replicas in index order within a tick).
    fn recorded(&mut self) -> Option<crate::recorded::Recorded> {
        let lines = self.trace.lines.take()?;
        let mut faults: Vec<fault_models::FaultRecord> = self
            .replicas
            .iter()
            .flat_map(|r| r.disk.fault_log().records().iter().cloned())
            .collect();
        faults.sort_by_key(|record| record.tick);
        Some(crate::recorded::Recorded {
            lines,
            rings: std::mem::take(&mut self.trace.rings),
            faults,
        })
    }

    fn workload_done(&self) -> bool {
        self.primary_normal()
            .is_some_and(|index| self.replicas[index].op_head() >= self.ops_target)
    }

    fn run_phases(&mut self) -> Check {
        if let Some((config, error)) = &self.config.rejected {
            // The configuration rules: this one must be refused, by the rule it breaks.
            if config.validate().as_ref() != Err(error) {
                return Err(self.failure(
                    "config",
                    format!(
                        "{config:?} must be refused with \"{error}\", but validate says {:?}",
                        config.validate()
                    ),
                ));
            }
        }
        let ticks_max = self.config.ticks_max;
        while self.tick < ticks_max && !self.workload_done() {
            self.step()?;
        }
        self.finish()
    }

    /// The liveness phase: faults off, every replica up, the rings rewritten twice, then the
    /// final checks (or a run counted correctly unavailable).
    pub(crate) fn finish(&mut self) -> Check {
        self.liveness_begin()?;
        let deadline = self.tick + self.config.liveness_ticks_max;
        while self.tick < deadline {
            self.step()?;
            if self.all_clean() {
                let observed = observed!(self);
                let checkers = &self.checkers;
                return checkers.final_state.on_end(
                    &observed,
                    &checkers.journal,
                    &checkers.knowledge,
                );
            }
        }
        if let Some(op) = self.unavailable_op() {
            // Like TigerBeetle's VOPR (`core_missing_prepare`): the cluster is correctly stuck,
            // not broken. An uncommitted op is needed to finish a view change or to commit, no
            // replica holds it, and faulty slots that may have acknowledged it keep enough votes
            // from proving it uncommitted. Counted, and traced, not failed.
            let tick = self.tick;
            self.coverage.add_event("liveness_op_unavailable", 1);
            self.trace.record(tick, 0, &[18, op], || {
                format!(
                    "no liveness, correctly: uncommitted op {op} is not available on any replica"
                )
            });
            return Ok(());
        }
        Err(self.failure("liveness", self.liveness_report()))
    }

    /// The op the cluster is stuck on, if no replica holds any version of it clean and it was
    /// never committed (ground truth): VSR cannot tell it from an acknowledged op lost to a
    /// fault, so it must not truncate it, and nobody can supply it. Stuck on: the op a view
    /// change waits for, or, with a primary in normal status, the op after its commit (its
    /// view started while a copy was still intact somewhere, and every copy broke later).
    fn unavailable_op(&self) -> Option<u64> {
        match self.primary_normal() {
            None => self
                .view_change_waiting
                .iter()
                .find(|&&(op, checksum)| self.op_unavailable(op, checksum))
                .map(|&(op, _)| op),
            Some(primary) => {
                let replica = &self.replicas[primary];
                let op = replica.commit_max + 1;
                if op > replica.op_head() {
                    return None;
                }
                let checksum = replica.journal.header_with_op(op).map(|h| h.checksum);
                self.op_unavailable(op, checksum).then_some(op)
            }
        }
    }

    /// Whether `op` (in the version `checksum` names, if known) was never committed and no up
    /// replica holds it clean.
    fn op_unavailable(&self, op: u64, checksum: Option<u32>) -> bool {
        if self.committed.get(op).is_some() {
            return false;
        }
        // Held clean by some replica: in the version the chain names, or (version unknown) by a
        // replica of the newest log view, whose version it would be.
        let Some(log_view_max) = self.replicas.iter().map(|r| r.superblock.log_view).max() else {
            return false;
        };
        let held = self.replicas.iter().any(|r| {
            r.status.is_up()
                && r.journal.header_with_op(op).is_some_and(|h| {
                    !r.journal.has_dirty(h)
                        && checksum
                            .map_or(r.superblock.log_view == log_view_max, |c| c == h.checksum)
                })
        });
        !held
    }

    fn liveness_report(&self) -> String {
        let replicas: Vec<String> = self
            .replicas
            .iter()
            .map(|r| {
                let dirty: Vec<String> = (0..r.journal.config().slot_count)
                    .filter(|&slot| r.status.is_up() && r.journal.dirty(slot))
                    .map(|slot| {
                        format!(
                            "{slot}:op{}{}",
                            r.journal.header(slot).op,
                            if r.journal.faulty(slot) { "F" } else { "" }
                        )
                    })
                    .collect();
                format!(
                    "r{} {:?} view={} log_view={} head={} commit={} checkpoint={} dirty=[{}]",
                    r.index,
                    r.status,
                    r.view,
                    r.log_view,
                    if r.status.is_up() { r.op_head() } else { 0 },
                    r.commit_max,
                    r.op_checkpoint,
                    dirty.join(" ")
                )
            })
            .collect();
        format!(
            "with faults off the cluster did not become clean within {} ticks ({}): {}; committed={} target={}",
            self.config.liveness_ticks_max,
            self.unclean_reason().unwrap_or_default(),
            replicas.join(", "),
            self.op_committed_max(),
            self.ops_target
        )
    }

    pub(crate) fn failure(&self, checker: &'static str, message: String) -> Failure {
        Failure {
            checker,
            message,
            tick: self.tick,
        }
    }

    /// Faults off, no more crashes, everyone restarts, and the ring wraps twice more so that every
    /// slot is rewritten.
    fn liveness_begin(&mut self) -> Check {
        // What the fault phase leaves must already be what the journals believe: the liveness
        // phase forgets latent errors and rewrites the rings, which would hide it.
        for index in 0..self.replicas.len() {
            if self.replicas[index].status.is_up() {
                self.checkers.journal_matches_disk(
                    &observed!(self),
                    index,
                    Compare::FaultPhaseEnd,
                )?;
            }
        }
        self.liveness = true;
        let head = self
            .primary_normal()
            .map_or(0, |index| self.replicas[index].op_head())
            .max(self.op_committed_max());
        self.ops_target = head.max(self.ops_target) + 2 * self.config.journal.slot_count;
        for replica in &mut self.replicas {
            replica.disk.set_faults_enabled(false);
        }
        let tick = self.tick;
        self.trace
            .record(tick, 0, &[9], || "liveness phase: faults off".into());
        Ok(())
    }

    /// Every replica normal in one view, the primary's pipeline committed at the target, and
    /// every replica holding the primary's log clean with nothing in flight.
    pub(crate) fn all_clean(&self) -> bool {
        self.unclean(|_| ()).is_none()
    }

    /// Why the run may not end yet, if it may not.
    fn unclean_reason(&self) -> Option<String> {
        self.unclean(|reason| reason.to_string())
    }

    /// Why the run may not end yet, if it may not, as `describe` puts it: asked at every tick of
    /// the liveness phase, where only whether matters, so that nothing is formatted then.
    fn unclean<R>(&self, describe: impl Fn(std::fmt::Arguments) -> R) -> Option<R> {
        let Some(primary) = self.primary_normal() else {
            return Some(describe(format_args!("no primary in normal status")));
        };
        let p = &self.replicas[primary];
        let head = p.op_head();
        if head < self.ops_target {
            return Some(describe(format_args!(
                "primary r{primary} head {head} below the target"
            )));
        }
        if !p.pipeline.is_empty() || p.commit_max < head {
            return Some(describe(format_args!(
                "primary r{primary} has {} ops uncommitted (commit {})",
                p.pipeline.len(),
                p.commit_max
            )));
        }
        for r in &self.replicas {
            let index = r.index;
            let reason = if r.status != Status::Normal || r.view != p.view {
                describe(format_args!("r{index}: {:?} in view {}", r.status, r.view))
            } else if r.journal.dirty_count() > 0 {
                describe(format_args!(
                    "r{index}: {} dirty slots",
                    r.journal.dirty_count()
                ))
            } else if r.superblock_pending.is_some() {
                describe(format_args!("r{index}: a superblock write pending"))
            } else if !r.journal.io_idle() {
                describe(format_args!("r{index}: I/O in flight"))
            } else if !r.inbox.is_empty() {
                describe(format_args!(
                    "r{index}: {} prepares unwritten",
                    r.inbox.len()
                ))
            } else if let Some(op) =
                (r.op_checkpoint + 1..=head.min(r.op_prepare_max())).find(|&op| {
                    !p.journal
                        .header_with_op(op)
                        .is_some_and(|h| r.journal.has_header(h))
                })
            {
                describe(format_args!(
                    "r{index}: missing op {op} of the primary's log"
                ))
            } else {
                continue;
            };
            return Some(reason);
        }
        None
    }

    /// A slot left dirty below a replica's checkpoint (it state-synced past the op, or the op's
    /// fault was never repaired before its checkpoint moved on) is clean again only once a newer
    /// op is written there: the liveness phase runs until the ring has reached it.
    ///
    /// Unless repair makes it clean first: its header is the committed version (on the hash
    /// chain down from the checkpoint) and another replica holds that prepare, so the replica
    /// fetches it (`work`). Chasing such slots with new ops never ends when a replica lags a
    /// deep pipeline: it syncs past ops at almost every checkpoint, and each ring the target
    /// grows by leaves new stale slots behind.
    fn extend_target_over_stale_slots(&mut self) {
        let slot_count = self.config.journal.slot_count;
        for replica in &self.replicas {
            if !replica.status.is_up() {
                continue;
            }
            let mut op_canonical_min = None;
            for slot in replica.journal.dirty_slots() {
                let header = replica.journal.header(slot);
                if !header.is_reserved() && header.op > replica.op_checkpoint {
                    continue;
                }
                if !header.is_reserved()
                    && header.op
                        >= *op_canonical_min
                            .get_or_insert_with(|| replica.op_canonical_min_below_checkpoint())
                    && self.replicas.iter().any(|peer| {
                        peer.index != replica.index
                            && peer.status.is_up()
                            && peer.journal.has_prepare(header)
                    })
                {
                    continue;
                }
                // The first op past the checkpoint that lands in this slot.
                let above = replica.op_checkpoint + 1;
                let op = above + (slot + slot_count - above % slot_count) % slot_count;
                self.ops_target = self.ops_target.max(op);
            }
        }
    }

    // ------------------------------------------------------------------ one tick

    pub(crate) fn step(&mut self) -> Check {
        self.tick += 1;
        let tick = self.tick;
        for index in std::mem::take(&mut self.crash_due) {
            if !self.liveness && self.replicas[index].status.is_up() {
                self.crash(index);
            }
        }
        if !self.liveness && self.rng.gen_bool(self.config.crash_probability) {
            let index = self.rng.gen_range(0..self.replicas.len());
            if !matches!(self.replicas[index].status, Status::Down { .. }) {
                self.crash(index);
            }
        }
        for index in 0..self.replicas.len() {
            if let Status::Down { restart_tick } = self.replicas[index].status {
                if restart_tick <= tick || self.liveness {
                    self.start_recovery(index);
                }
            }
            self.superblock_tick(index);
        }
        if !self.solo() && !self.liveness && self.rng.gen_bool(self.config.view_change_probability)
        {
            // A spurious timeout: some replica gives up on its view.
            let index = self.rng.gen_range(0..self.replicas.len());
            if self.replicas[index].status == Status::Normal {
                let view = self.replicas[index].view + 1;
                self.start_view_change(index, view);
            }
        }
        if self.liveness {
            self.extend_target_over_stale_slots();
            self.storms.clear();
        }
        // Bounded: at most one storm is scheduled per view started.
        let storms = std::mem::take(&mut self.storms);
        for (due, index, view) in storms {
            if due > tick {
                self.storms.push((due, index, view));
            } else if self.replicas[index].status == Status::Normal
                && self.replicas[index].view == view
            {
                self.start_view_change(index, view + 1);
            }
        }
        // Bounded: only messages already due are delivered; replies are sent with a delay ≥ 1.
        while let Some(envelope) = self.network.pop_ready(tick) {
            self.deliver(envelope)?;
        }
        for index in 0..self.replicas.len() {
            self.drive(index)?;
        }
        Ok(())
    }

    fn superblock_tick(&mut self, index: usize) {
        let tick = self.tick;
        let due = self.replicas[index]
            .superblock_pending
            .as_ref()
            .is_some_and(|(ready, _)| *ready <= tick);
        if !due {
            return;
        }
        let (_, superblock) = self.replicas[index]
            .superblock_pending
            .take()
            .expect("checked");
        self.trace.record(
            tick,
            index as u8,
            &[
                8,
                u64::from(superblock.view),
                u64::from(superblock.log_view),
                superblock.op_checkpoint,
            ],
            || {
                format!(
                    "superblock durable: view {} log_view {} checkpoint {} commit {}",
                    superblock.view,
                    superblock.log_view,
                    superblock.op_checkpoint,
                    superblock.commit_max
                )
            },
        );
        let checkpoint_durable = superblock.op_checkpoint;
        self.replicas[index].superblock = superblock;
        if let Some(position) = self
            .aimed_checkpoint_crash
            .iter()
            .position(|&(aimed, checkpoint)| aimed == index && checkpoint <= checkpoint_durable)
        {
            // Two versions of an op across a durable checkpoint: crash before the slot is
            // overwritten, so that recovery meets the superseded version below the checkpoint.
            self.aimed_checkpoint_crash.swap_remove(position);
            self.crash_due.push(index);
            self.trace
                .record(tick, index as u8, &[crate::trace::tag::WINDOW_CRASH], || {
                    format!("aimed window: crash over checkpoint {checkpoint_durable} with a superseded version below it")
                });
        }
    }

    /// Starts an asynchronous superblock write of the latest record changed by `update`. A
    /// later update replaces one still pending (it carries everything the earlier one did).
    pub(crate) fn superblock_update(&mut self, index: usize, update: impl FnOnce(&mut Superblock)) {
        let mut superblock = self.replicas[index].superblock_latest().clone();
        update(&mut superblock);
        assert_eq!(
            superblock.op_checkpoint, superblock.checkpoint_header.op,
            "r{index}: the superblock's checkpoint and its header disagree"
        );
        let latency = self
            .rng
            .gen_range(1..=self.config.superblock_latency_ticks_max);
        self.replicas[index].superblock_pending = Some((self.tick + latency, superblock));
    }

    /// Sends `message` from `from` to `to` with a seeded delay.
    pub(crate) fn send(&mut self, from: usize, to: usize, message: Message) {
        let mut delay = self.rng.gen_range(1..=self.config.message_delay_ticks_max);
        if let Some((slow, extra_max)) = self.config.slow_replica {
            if usize::from(slow) == from {
                delay += self.rng.gen_range(0..=extra_max);
            }
        }
        self.network.send(
            self.tick + delay,
            Envelope {
                from: from as u8,
                to: to as u8,
                message,
            },
        );
    }

    /// Sends `message` to every other replica.
    pub(crate) fn broadcast(&mut self, from: usize, message: &Message) {
        for to in 0..self.replicas.len() {
            if to != from {
                self.send(from, to, message.clone());
            }
        }
    }

    pub(crate) fn crash(&mut self, index: usize) {
        let tick = self.tick;
        let restart_tick = tick + self.rng.gen_range(1..=self.config.restart_ticks_max);
        // BUGGIFY for a solo replica, whose only faults are crashes: half its crashes tear every
        // write in flight, so that recovery meets several torn appends of one pipeline (its
        // `cut_torn` head certainty), not the one a drawn tear usually makes.
        if self.solo()
            && !self.liveness
            && self.config.faults.crash_write_torn_probability > 0.0
            && self.tear_rng.gen_bool(SOLO_TEAR_ALL_PROBABILITY)
        {
            let replica = &mut self.replicas[index];
            let ids: Vec<u64> = replica.in_flight_writes.keys().copied().collect();
            for id in ids {
                replica.disk.aim_write(id, fault_models::WriteAim::Tear);
            }
        }
        let replica = &mut self.replicas[index];
        let config = *replica.journal.config();
        // Which slots a crash may break: those with a write in flight, and those not yet clean.
        let mut affected = vec![false; config.slot_count as usize];
        for &(zone, offset, len) in replica.in_flight_writes.values() {
            for slot in crate::replica::write_slots(&config, zone, offset, len) {
                affected[slot as usize] = true;
            }
        }
        let recovering = replica.status == Status::Recovering;
        for (slot, affected) in affected.iter_mut().enumerate() {
            let slot_u64 = slot as u64;
            // A truncated entry leaves its prepare on disk (and its header may go out reserved).
            let removed = !recovering
                && replica.journal.header(slot_u64).is_reserved()
                && replica.journal.prepare_checksum(slot_u64).is_some();
            if recovering
                || removed
                || replica.journal.dirty(slot_u64)
                || replica.crash_affected[slot] && !replica.status.is_up()
            {
                *affected = true;
            }
        }
        replica.crash_affected = affected;
        let journal = &replica.journal;
        if replica.truncated_from.is_some_and(|op_min| {
            journal.dirty_slots().any(|slot| {
                let header = journal.header(slot);
                !header.is_reserved() && header.op >= op_min
            })
        }) {
            self.coverage.add_event("crash_after_truncation", 1);
        }
        let replica = &mut self.replicas[index];
        // The next recovery reads every slot again; the knowledge checker starts afresh.
        replica.journal_checked_at.set(None);
        replica.disk.crash(tick);
        self.checkers.knowledge.on_crash(index);
        // The ring as the crash left it: taken before the replica forgets its writes in flight.
        let picture = self
            .trace
            .keeps_lines()
            .then(|| RingPicture::take(&self.replicas, tick, index, Moment::Crash, &[]));
        let replica = &mut self.replicas[index];
        replica.forget_volatile();
        replica.status = Status::Down { restart_tick };
        // Repairs this replica was serving will never answer: their requesters retry on a
        // timeout.
        self.serving
            .retain(|r| r.peer != index && r.requester != index);
        self.aimed.retain(|&(aimed, _, _)| aimed != index);
        self.aimed_checkpoint_crash
            .retain(|&(aimed, _)| aimed != index);
        self.trace.record(tick, index as u8, &[1], || {
            format!("crash, restart at tick {restart_tick}")
        });
        if let Some(picture) = picture {
            self.trace.rings.push((self.trace.event_lines(), picture));
        }
    }

    fn start_recovery(&mut self, index: usize) {
        let tick = self.tick;
        let cluster = self.cluster;
        let replica = &mut self.replicas[index];
        let config = *replica.journal.config();
        // The replica's journal, as it was opened at the start of the run.
        assert_eq!(replica.journal.cluster(), cluster);
        replica.journal_restart();
        replica.forget_volatile();
        replica.status = Status::Recovering;
        replica.status_tick = tick;
        replica.op_checkpoint = replica.superblock.op_checkpoint;
        replica.checkpoint_header = replica.superblock.checkpoint_header;
        replica.view = replica.superblock.view;
        replica.log_view = replica.superblock.log_view;
        replica.commit_max = replica.superblock.commit_max;
        replica.fault_log_at_restart_previous = replica.fault_log_at_restart;
        replica.fault_log_at_restart = replica.disk.fault_log().len();
        // Damage stored now explains what this recovery finds, even if a write or the liveness
        // phase (which forgets latent errors) clears it before the recovery checker runs.
        for slot in 0..config.slot_count {
            replica.stored_faulty_at_restart[slot as usize] = replica.slot_stored_faulty(slot);
        }
        let context = replica.recovery_context();
        counted(&mut replica.journal, |j| j.recover(context));
        self.trace
            .record(tick, index as u8, &[2], || "restart: recovering".into());
    }

    // ------------------------------------------------------------------ driving one replica

    fn drive(&mut self, index: usize) -> Check {
        if matches!(self.replicas[index].status, Status::Down { .. }) {
            return Ok(());
        }
        let tick = self.tick;
        // Bounded: each completion is one I/O the journal issued.
        loop {
            self.submit_io(index);
            let replica = &mut self.replicas[index];
            // Both ways a driver may hand the journal a read's bytes: straight into the read's
            // buffer (a recovery's reads, the whole ring at every restart, and every other read
            // by its IOP index), or a copy from the disk's.
            let recovering = replica.journal.status() == journal::Status::Recovering;
            let into_journal = |id: IoId| !id.kind_write && (recovering || id.index % 2 == 1);
            let journal = &mut replica.journal;
            let Some(completion) = replica.disk.poll_completion_into(tick, |id| {
                let id = IoId::from_u64(id);
                into_journal(id).then(|| journal.io_read_buffer(id))
            }) else {
                break;
            };
            let id = IoId::from_u64(completion.id);
            match completion.kind {
                IoKind::Write => {
                    replica.in_flight_writes.remove(&completion.id);
                    if completion.zone == ZONE_PREPARES {
                        // A rewrite of the prepare: whatever damage the journal read is gone.
                        let slot = completion.offset / replica.journal.config().message_size_max;
                        self.checkers.knowledge.on_prepare_written(index, slot);
                    }
                    counted(&mut replica.journal, |j| j.complete_write(id));
                }
                IoKind::Read => {
                    let slot = completion.offset / replica.journal.config().message_size_max;
                    let (ok, filled) = (completion.result.is_ok(), into_journal(id));
                    let faulty_before = replica.journal.faulty(slot);
                    self.read_delivered = (completion.zone == ZONE_PREPARES).then(|| {
                        if recovering {
                            ReadDelivered::recovery(slot, faulty_before)
                        } else {
                            let data = ok.then(|| {
                                if filled {
                                    &*replica.journal.io_read_buffer(id)
                                } else {
                                    replica.disk.completed_read_data()
                                }
                            });
                            ReadDelivered::new(slot, data, &self.messages, faulty_before)
                        }
                    });
                    self.checkers.knowledge.on_read_completing();
                    match (ok, filled) {
                        (true, true) => {
                            counted(&mut replica.journal, |j| j.complete_read_filled(id))
                        }
                        (true, false) => {
                            let data = replica.disk.completed_read_data();
                            counted(&mut replica.journal, |j| j.complete_read(id, Ok(data)))
                        }
                        (false, _) => counted(&mut replica.journal, |j| {
                            j.complete_read(id, Err(ReadError))
                        }),
                    }
                }
            }
            self.drain_events(index)?;
            if let Some(delivered) = self.read_delivered.take() {
                self.checkers
                    .knowledge
                    .on_read_completed(&observed!(self), index, delivered)?;
            }
        }
        self.drain_events(index)?;
        if self.replicas[index].status.is_up() {
            self.protocol_tick(index)?;
            self.submit_io(index);
            self.checkers
                .knowledge
                .on_io_submitted(&observed!(self), index)?;
            self.drain_events(index)?;
            if self.replicas[index].status.is_up() && self.replicas[index].journal.io_idle() {
                let observed = observed!(self);
                self.checkers.knowledge.on_idle(&observed, index)?;
                self.checkers
                    .journal_matches_disk(&observed, index, Compare::Idle)?;
            }
        }
        Ok(())
    }

    fn submit_io(&mut self, index: usize) {
        let tick = self.tick;
        // Prepare writes to aim faults at, if this run aims any (bounded by the write IOPs; no
        // allocation otherwise).
        let aiming = self.config.aim_probability > 0.0 && !self.liveness;
        let slowing = self.config.window_aim_probability > 0.0 && !self.liveness;
        let replica = &mut self.replicas[index];
        let mut prepare_writes: Vec<u64> = Vec::new();
        while let Some(request) = replica.journal.poll_io() {
            let zone = match request.zone {
                Zone::WalHeaders => ZONE_HEADERS,
                Zone::WalPrepares => ZONE_PREPARES,
            };
            let id = request.id.to_u64();
            match request.kind {
                journal::IoKind::Read => {
                    replica
                        .disk
                        .submit_read(tick, id, zone, request.offset, request.len)
                }
                journal::IoKind::Write => {
                    replica
                        .in_flight_writes
                        .insert(id, (request.zone, request.offset, request.len));
                    let data = replica.journal.io_write_buffer(request.id);
                    replica
                        .disk
                        .submit_write(tick, id, zone, request.offset, data);
                    if (aiming || slowing) && request.zone == Zone::WalPrepares {
                        prepare_writes.push(id);
                    }
                }
            }
        }
        for id in prepare_writes {
            if aiming {
                self.aim_at_prepare_write(index, id);
            }
            if slowing {
                self.aim_slow_prepare_write(index, id);
            }
        }
    }

    /// BUGGIFY for the windows a view change opens over a write still in its prepare stage
    /// (`window_aim_probability`): a backup's prepare write is slow now and then, up to a view
    /// change timeout. Writes are otherwise quick next to view changes, so a truncation mostly
    /// finds the slot's prepare landed and only its header sector in flight; a re-adoption of
    /// the entry while its prepare is not yet on disk (`readopt_same_checksum_in_flight` in
    /// the prepare stage) was then rarer than one seed in a hundred.
    fn aim_slow_prepare_write(&mut self, index: usize, id: u64) {
        assert!(!self.liveness);
        let replica = &self.replicas[index];
        if replica.status != Status::Normal || self.primary_index(replica.view) == index {
            return;
        }
        let probability = self.config.window_aim_probability / SLOW_PREPARE_WRITE_SHARE;
        if !self.window_rng.gen_bool(probability) {
            return;
        }
        let tick = self.tick;
        let ticks = self.window_rng.gen_range(1..=VIEW_CHANGE_TIMEOUT_TICKS);
        if self.replicas[index].disk.hold_write_until(id, tick + ticks) {
            self.trace.record(
                tick,
                index as u8,
                &[crate::trace::tag::WINDOW_SLOW_WRITE, ticks],
                || format!("aimed window: a backup's prepare write is slow for {ticks} ticks"),
            );
        }
    }

    /// BUGGIFY for the recovery table's rare rows: a prepare write past the replica's durable
    /// prepare max (`@I`/`@J` after the crash), or over another version of its op (`@O`), is
    /// lost with `aim_probability`, and the replica crashes once its header sector lands; any
    /// other prepare write (`@N`/`@K`) with a tenth of that.
    fn aim_at_prepare_write(&mut self, index: usize, id: u64) {
        assert!(!self.liveness);
        let replica = &self.replicas[index];
        let journal = &replica.journal;
        let (_, offset, _) = replica.in_flight_writes[&id];
        let slot = offset / journal.config().message_size_max;
        let header = *journal.header(slot);
        if header.is_reserved() {
            return;
        }
        let on_disk = journal.header_redundant(slot);
        let rare = header.op > replica.op_prepare_ok_max()
            || (!on_disk.is_reserved()
                && on_disk.op == header.op
                && on_disk.checksum != header.checksum);
        let probability = if rare {
            self.config.aim_probability
        } else {
            self.config.aim_probability / 10.0
        };
        if !self.rng.gen_bool(probability) {
            return;
        }
        if self.replicas[index]
            .disk
            .aim_write(id, fault_models::WriteAim::Lose)
        {
            self.aimed.push((index, header.op, header.checksum));
            let tick = self.tick;
            self.trace.record(tick, index as u8, &[19, header.op], || {
                format!(
                    "aimed fault: the prepare write of op {} will be lost",
                    header.op
                )
            });
        }
    }

    fn drain_events(&mut self, index: usize) -> Check {
        while let Some(event) = self.replicas[index].journal.poll_event() {
            self.handle_event(index, event)?;
        }
        Ok(())
    }

    fn handle_event(&mut self, index: usize, event: Event) -> Check {
        let tick = self.tick;
        match event {
            Event::WriteDone {
                op,
                checksum,
                outcome,
            } => {
                self.trace.record(
                    tick,
                    index as u8,
                    &[5, op, u64::from(checksum), outcome as u64],
                    || format!("write op {op} {outcome:?}"),
                );
                if outcome == WriteOutcome::Written {
                    let slot = self.replicas[index].journal.slot_for_op(op);
                    self.replicas[index].damaged[slot as usize] = false;
                }
                if let Some(position) = self
                    .aimed
                    .iter()
                    .position(|&aimed| aimed == (index, op, checksum))
                {
                    // The header sector landed over the lost prepare: crash before anything
                    // (a superblock update, a repair) can make the slot whole again. Or, in a
                    // run that aims at protocol windows, half the time only once a checkpoint
                    // over the op is durable: the slot's other version then lies below it.
                    self.aimed.swap_remove(position);
                    if self.config.window_aim_probability > 0.0
                        && !self
                            .aimed_checkpoint_crash
                            .iter()
                            .any(|&(aimed, _)| aimed == index)
                        && self.window_rng.gen_bool(0.5)
                    {
                        self.aimed_checkpoint_crash.push((index, op));
                    } else {
                        self.crash_due.push(index);
                    }
                }
            }
            Event::ReadDone {
                op,
                checksum,
                result,
            } => {
                // The simulator reads only to serve repairs: every completion ends one of them.
                let replica = &mut self.replicas[index];
                assert!(
                    replica.repair_reads_in_flight > 0,
                    "r{index}: read done unasked"
                );
                replica.repair_reads_in_flight -= 1;
                let position = self
                    .serving
                    .iter()
                    .position(|r| r.peer == index && r.op == op && r.checksum == checksum);
                if let Ok(handle) = result {
                    let bytes = self.replicas[index].journal.read_message(handle).to_vec();
                    counted(&mut self.replicas[index].journal, |j| {
                        j.read_release(handle)
                    });
                    self.checkers.read.on_read_done(
                        &observed!(self),
                        index,
                        op,
                        checksum,
                        &bytes,
                        self.read_delivered,
                    )?;
                    if let Some(position) = position {
                        let requester = self.serving[position].requester;
                        self.send(index, requester, Message::Repaired { message: bytes });
                    }
                }
                if let Err(reason) = result {
                    let delivered = self.read_delivered;
                    let observed = observed!(self);
                    self.checkers
                        .knowledge
                        .on_read_rejected(&observed, index, op, checksum, reason, delivered)?;
                }
                if let Some(position) = position {
                    self.serving.remove(position);
                }
                self.trace.record(
                    tick,
                    index as u8,
                    &[6, op, u64::from(checksum), u64::from(result.is_ok())],
                    || format!("repair read op {op} for a peer: {:?}", result.map(|_| "ok")),
                );
            }
            Event::Unrecoverable { slot, label } => {
                self.trace.record(tick, index as u8, &[7, slot], || {
                    format!("unrecoverable slot {slot} ({label})")
                });
                self.checkers
                    .knowledge
                    .on_unrecoverable(&observed!(self), index, slot)?;
                return Err(self.failure("availability", format!("solo replica r{index} came back with slot {slot} unrecoverable (case {label})")));
            }
            Event::RecoveryDone => self.on_recovered(index)?,
        }
        Ok(())
    }

    fn on_recovered(&mut self, index: usize) -> Check {
        let tick = self.tick;
        self.checkers
            .knowledge
            .on_recovery_done(&observed!(self), index)?;
        let recoveries: Vec<_> = self.replicas[index].journal.slot_recoveries().collect();
        for (slot, recovery) in &recoveries {
            self.coverage.add(recovery.label, recovery.decision, 1);
            self.trace.record(
                tick,
                index as u8,
                &[10, *slot, recovery.decision as u64],
                || {
                    format!(
                        "slot {slot}: {} {}",
                        recovery.label,
                        recovery.decision.name()
                    )
                },
            );
        }
        if self.trace.keeps_lines() {
            let picture =
                RingPicture::take(&self.replicas, tick, index, Moment::Recovery, &recoveries);
            self.trace.rings.push((self.trace.event_lines(), picture));
        }
        let observed = observed!(self);
        let checkers = &self.checkers;
        checkers
            .knowledge
            .on_recovery(&observed, &checkers.journal, index, &recoveries)?;
        checkers
            .recovery
            .on_recovery(&observed, index, &recoveries)?;
        self.committed.on_recovery(&observed, index)?;
        checkers.acked.on_recovery(&observed, index, &recoveries)?;
        checkers.durability.on_recovery(&observed)?;
        for (slot, recovery) in &recoveries {
            self.replicas[index].damaged[*slot as usize] = !matches!(
                recovery.decision,
                journal::Decision::Eql | journal::Decision::Nil
            );
        }
        let replica = &mut self.replicas[index];
        replica.crash_affected.iter_mut().for_each(|a| *a = false);
        replica.status_tick = tick;
        replica.retry_tick = tick;
        replica.primary_heard_tick = tick;
        self.trace
            .record(tick, index as u8, &[11], || "recovered".into());
        if self.solo() {
            let cut = recoveries
                .iter()
                .filter(|(_, r)| r.decision == journal::Decision::CutTorn)
                .count();
            if cut >= 2 {
                self.coverage.add_event("solo_several_torn_appends_cut", 1);
            }
            self.solo_recovered(index)
        } else {
            let view = self.replicas[index].view;
            if self.primary_index(view) == index {
                // A primary that restarts has lost its pipeline: it never resumes its view.
                self.replicas[index].status = Status::AwaitingView;
                self.start_view_change(index, view + 1);
            } else {
                self.replicas[index].status = Status::AwaitingView;
            }
            Ok(())
        }
    }

    /// Records `op` as committed with `checksum` in `view`: the committed history never
    /// changes.
    pub(crate) fn commit(&mut self, op: u64, checksum: u32, view: u32) -> Check {
        self.committed
            .on_commit(op, checksum, view)
            .map_err(|message| self.failure("history", message))
    }

    // ------------------------------------------------------------------ messages

    fn deliver(&mut self, envelope: Envelope) -> Check {
        let to = envelope.to as usize;
        let from = envelope.from as usize;
        if !self.replicas[to].status.is_up() {
            return Ok(());
        }
        let tick = self.tick;
        match &envelope.message {
            Message::Prepare { .. }
            | Message::PrepareOk { .. }
            | Message::Commit { .. }
            | Message::RequestPrepare { .. }
            | Message::Repaired { .. }
            | Message::RequestHeaders { .. }
            | Message::Headers { .. } => self.note_repair(to, from, &envelope.message),
            message => {
                let name = message.name();
                self.trace.record(tick, to as u8, &[20, from as u64], || {
                    format!("{name} from r{from}")
                });
            }
        }
        if let Message::Prepare { view, .. } | Message::Commit { view, .. } = &envelope.message {
            self.on_newer_view(to, from, *view);
        }
        match envelope.message {
            Message::Prepare { view, message } => self.on_prepare(to, from, view, message),
            Message::PrepareOk { view, op, checksum } => {
                self.on_prepare_ok(to, from, view, op, checksum)
            }
            Message::Commit {
                view,
                commit,
                checkpoint,
            } => {
                self.on_commit(to, view, commit, checkpoint);
                Ok(())
            }
            Message::StartViewChange { view } => {
                if view > self.replicas[to].view {
                    self.start_view_change(to, view);
                }
                Ok(())
            }
            Message::DoViewChange(vote) => {
                self.on_do_view_change(to, from, *vote);
                Ok(())
            }
            Message::StartView {
                view,
                op_head,
                commit,
                checkpoint,
                headers,
            } => self.on_start_view(to, view, op_head, commit, checkpoint, &headers),
            Message::RequestStartView { view } => {
                self.on_request_start_view(to, from, view);
                Ok(())
            }
            Message::RequestPrepare { op, checksum } => {
                self.on_request_prepare(to, from, op, checksum)
            }
            Message::Repaired { message } => {
                self.on_repaired(to, message);
                Ok(())
            }
            Message::RequestHeaders { op_min, op_max } => {
                self.on_request_headers(to, from, op_min, op_max);
                Ok(())
            }
            Message::Headers { headers } => {
                self.on_headers(to, &headers);
                Ok(())
            }
        }
    }

    /// A prepare or commit from the primary of a view newer than the replica's: that view
    /// started without it (it was down, or missed the `start_view`). It joins it, as
    /// TigerBeetle's replicas do, by asking that primary for the view's log (`AwaitingView`),
    /// instead of holding on to its old view until a timeout. Without this, two halves of a
    /// cluster could each sit in a view of their own with no quorum and no timeout firing
    /// (seed 10597: r0 and r1 in view 36, r2 and r3 in view 34, each primary's heartbeat
    /// keeping its backups quiet).
    fn on_newer_view(&mut self, index: usize, from: usize, view: u32) {
        let replica = &self.replicas[index];
        if view <= replica.view
            || self.primary_index(view) != from
            || !matches!(
                replica.status,
                Status::Normal | Status::ViewChange | Status::AwaitingView
            )
        {
            return;
        }
        let tick = self.tick;
        let replica = &mut self.replicas[index];
        replica.enter_view_to_learn(view, Status::AwaitingView, tick);
        self.coverage.add_event("join_view", 1);
        self.trace.record(
            tick,
            index as u8,
            &[crate::trace::tag::JOIN_VIEW, u64::from(view)],
            || format!("joins view {view}: a message from its primary"),
        );
    }

    /// A repair message, as an unhashed note of the replay (repairs were never hashed).
    fn note_repair(&mut self, to: usize, from: usize, message: &Message) {
        if !self.trace.keeps_lines() {
            return;
        }
        // The op the note is about, if one (a header request names a range).
        let (op, text) = match message {
            Message::RequestPrepare { op, checksum } => (
                Some(*op),
                format!("repair: r{from} asks for the prepare of op {op} ({checksum:08x})"),
            ),
            Message::Repaired { message } => match Header::decode(message) {
                Ok(header) => (
                    Some(header.op),
                    format!("repair: prepare of op {} from r{from}", header.op),
                ),
                Err(_) => return,
            },
            Message::RequestHeaders { op_min, op_max } => (
                None,
                format!("repair: r{from} asks for headers of ops {op_min}..={op_max}"),
            ),
            Message::Headers { headers } => (
                None,
                format!("repair: {} headers from r{from}", headers.len()),
            ),
            _ => return,
        };
        self.trace.note(
            self.tick,
            to as u8,
            crate::trace::tag::NOTE_REPAIR,
            op.as_slice(),
            || text,
        );
    }

    /// What an up replica does on its own each tick: timeouts, votes, work.
    fn protocol_tick(&mut self, index: usize) -> Check {
        if self.solo() {
            return self.work(index);
        }
        let tick = self.tick;
        let replica = &self.replicas[index];
        let view = replica.view;
        match replica.status {
            Status::Normal => {
                if self.primary_index(view) == index {
                    if tick >= replica.retry_tick {
                        self.replicas[index].retry_tick = tick + HEARTBEAT_TICKS;
                        self.heartbeat(index);
                    }
                } else if tick > replica.primary_heard_tick + NORMAL_TIMEOUT_TICKS {
                    self.start_view_change(index, view + 1);
                    return Ok(());
                }
                self.work(index)
            }
            Status::AwaitingView => {
                if tick > replica.status_tick + VIEW_CHANGE_TIMEOUT_TICKS {
                    self.start_view_change(index, view + 1);
                } else if tick >= replica.retry_tick {
                    self.replicas[index].retry_tick = tick + RETRY_TICKS;
                    let primary = self.primary_index(view);
                    self.send(index, primary, Message::RequestStartView { view });
                }
                Ok(())
            }
            Status::ViewChange => {
                if tick > replica.status_tick + VIEW_CHANGE_TIMEOUT_TICKS {
                    self.start_view_change(index, view + 1);
                    return Ok(());
                }
                self.view_change_tick(index)
            }
            Status::Down { .. } | Status::Recovering => Ok(()),
        }
    }
}
