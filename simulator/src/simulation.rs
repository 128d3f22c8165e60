//! One seeded run: a model cluster of replicas, each a journal on a simulated disk.
//!
//! The cluster drives the journal the way a VSR replica does, without being a consensus
//! implementation: the primary prepares hash-chained ops and broadcasts them; every replica
//! writes them; an op is durable once a quorum reports it written; view changes truncate the
//! unacknowledged suffix and rewrite it in the new view; checkpoints let the ring wrap; replicas
//! crash at random ticks (inside header-sector writes too), recover, and repair from peers
//! through their `read_prepare`. The simulation holds the ground truth: every prepare ever made
//! (`messages`), the canonical log, and which ops were acknowledged.

use crate::checkers::Failure;
use crate::coverage::Coverage;
use crate::replica::{Replica, Status, Superblock, ZONE_HEADERS, ZONE_PREPARES};
use crate::swarm::RunConfig;
use crate::trace::Trace;
use fault_models::{quorum_replication, DiskOptions, FaultAtlas, IoKind};
use journal::{
    Event, Header, IoId, ReadError, ReadPurpose, ReadReject, WriteOutcome, WriteStart, Writing,
    Zone,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

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
    pub trace_lines: Option<Vec<String>>,
}

/// A repair read one replica serves for another.
#[derive(Clone, Copy, Debug)]
struct Repair {
    peer: usize,
    requester: usize,
    op: u64,
    checksum: u32,
}

pub struct Simulation {
    pub config: RunConfig,
    rng: ChaCha8Rng,
    pub tick: u64,
    cluster: u128,
    pub replicas: Vec<Replica>,
    pub view: u32,
    view_headers: Vec<Header>,
    /// The canonical log: `log[op]` is the header the cluster agrees on.
    pub log: Vec<Header>,
    /// Every prepare ever made, by checksum.
    pub messages: BTreeMap<u32, Vec<u8>>,
    /// Replicas that reported each op of the canonical log written (bitmask).
    pub(crate) acks: BTreeMap<u64, u64>,
    /// The highest op acknowledged: written by a quorum.
    pub op_acked_max: u64,
    repairs: Vec<Repair>,
    pub trace: Trace,
    pub coverage: Coverage,
    liveness: bool,
    ops_target: u64,
    /// For the read completion being handled: its slot, the checksum its bytes' header claims,
    /// and whether the bytes after that prepare are zero (see the *read* checker).
    read_padding: Option<(u64, u32, bool)>,
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

type Check = Result<(), Failure>;

impl Simulation {
    pub fn new(config: RunConfig, keep_trace: bool) -> Simulation {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let cluster = u128::from(rng.gen::<u64>()) << 64 | 1;
        let replica_count = config.replica_count;
        let chunk_count = config.journal.header_sector_count();
        let faulty_max = quorum_replication(replica_count) - 1;
        let atlas = FaultAtlas::new(rng.gen(), replica_count, chunk_count, faulty_max);
        let solo = replica_count == 1;
        let replicas = (0..replica_count)
            .map(|index| {
                let options = DiskOptions {
                    replica: index,
                    seed: rng.gen(),
                    sector_size: config.journal.sector_size,
                    zones: crate::replica::zones(&config.journal),
                    faults: config.faults.clone(),
                    faulty_chunks: Some(atlas.faulty_chunks(index)),
                };
                Replica::new(index, config.journal, cluster, solo, options)
            })
            .collect();
        let root = Header::root(cluster);
        let ops_target = config.ops_target;
        let mut simulation = Simulation {
            config,
            rng,
            tick: 0,
            cluster,
            replicas,
            view: 0,
            view_headers: Vec::new(),
            log: vec![root],
            messages: BTreeMap::from([(root.checksum, root.to_bytes().to_vec())]),
            acks: BTreeMap::new(),
            op_acked_max: 0,
            repairs: Vec::new(),
            trace: Trace::new(keep_trace),
            coverage: Coverage::default(),
            liveness: false,
            ops_target,
            read_padding: None,
        };
        for index in 0..simulation.replicas.len() {
            simulation.start_recovery(index);
        }
        simulation
    }

    fn solo(&self) -> bool {
        self.replicas.len() == 1
    }

    fn head(&self) -> u64 {
        self.log.len() as u64 - 1
    }

    fn primary(&self) -> usize {
        self.view as usize % self.replicas.len()
    }

    /// Runs to the end: workload, then the liveness phase, then the final checks.
    pub fn run(mut self) -> Outcome {
        let result = self.run_phases();
        Outcome {
            seed: self.config.seed,
            trace_hash: self.trace.hash(),
            ticks: self.tick,
            ops: self.head(),
            coverage: self.coverage.clone(),
            failure: result.err(),
            trace_lines: self.trace.lines.take(),
            config: self.config,
        }
    }

    fn run_phases(&mut self) -> Check {
        let ticks_max = self.config.ticks_max;
        while self.tick < ticks_max && self.head() < self.ops_target {
            self.step()?;
        }
        self.liveness_begin();
        let deadline = self.tick + self.config.liveness_ticks_max;
        while self.tick < deadline {
            self.step()?;
            if self.head() >= self.ops_target && self.all_clean() {
                return self.check_final();
            }
        }
        Err(self.failure(
            "liveness",
            format!(
                "with faults off the cluster did not become clean within {} ticks: {}",
                self.config.liveness_ticks_max,
                self.replicas
                    .iter()
                    .map(|r| {
                        let dirty: Vec<String> = (0..r.journal.config().slot_count)
                            .filter(|&slot| r.journal.dirty(slot))
                            .map(|slot| {
                                format!(
                                    "{slot}:op{}{}",
                                    r.journal.header(slot).op,
                                    if r.journal.faulty(slot) { "F" } else { "" }
                                )
                            })
                            .collect();
                        format!(
                            "r{} {:?} checkpoint={} dirty=[{}]",
                            r.index,
                            r.status,
                            r.op_checkpoint,
                            dirty.join(" ")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
                    + &format!(
                        "; head={} acked={} target={}",
                        self.head(),
                        self.op_acked_max,
                        self.ops_target
                    )
            ),
        ))
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
    fn liveness_begin(&mut self) {
        self.liveness = true;
        self.ops_target = self.head().max(self.ops_target) + 2 * self.config.journal.slot_count;
        for replica in &mut self.replicas {
            replica.disk.set_faults_enabled(false);
        }
        let tick = self.tick;
        self.trace
            .record(tick, 0, &[9], || "liveness phase: faults off".into());
    }

    fn all_clean(&self) -> bool {
        self.replicas.iter().all(|r| {
            r.status == Status::Up
                && r.journal.dirty_count() == 0
                && r.superblock_pending.is_none()
                && r.journal.io_idle()
                && self
                    .window(r)
                    .all(|op| r.journal.has_header(&self.log[op as usize]))
        })
    }

    /// The ops replica `r` must hold: after its checkpoint, up to the head or its prepare max.
    fn window(&self, replica: &Replica) -> std::ops::RangeInclusive<u64> {
        let high = self.head().min(replica.op_prepare_max());
        replica.op_checkpoint + 1..=high
    }

    // ------------------------------------------------------------------ one tick

    pub(crate) fn step(&mut self) -> Check {
        self.tick += 1;
        let tick = self.tick;
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
            if let Some((ready, _)) = &self.replicas[index].superblock_pending {
                if *ready <= tick {
                    let (_, superblock) = self.replicas[index]
                        .superblock_pending
                        .take()
                        .expect("checked");
                    self.trace.record(
                        tick,
                        index as u8,
                        &[8, u64::from(superblock.log_view), superblock.op_checkpoint],
                        || {
                            format!(
                                "superblock durable: view {} log_view {} checkpoint {}",
                                superblock.view, superblock.log_view, superblock.op_checkpoint
                            )
                        },
                    );
                    self.replicas[index].superblock = superblock;
                }
            }
        }
        if !self.solo() {
            let primary_down = self.replicas[self.primary()].status != Status::Up;
            let change = if self.liveness {
                primary_down
            } else {
                self.rng.gen_bool(self.config.view_change_probability)
            };
            if change {
                self.view_change();
            }
        }
        if self.rng.gen_bool(self.config.prepare_probability) {
            self.prepare();
        }
        for index in 0..self.replicas.len() {
            self.drive(index)?;
        }
        Ok(())
    }

    fn superblock_update(&mut self, index: usize, update: impl FnOnce(&mut Superblock)) {
        let mut superblock = self.replicas[index].superblock_latest().clone();
        update(&mut superblock);
        let latency = self
            .rng
            .gen_range(1..=self.config.superblock_latency_ticks_max);
        self.replicas[index].superblock_pending = Some((self.tick + latency, superblock));
    }

    fn crash(&mut self, index: usize) {
        let tick = self.tick;
        let restart_tick = tick + self.rng.gen_range(1..=self.config.restart_ticks_max);
        let replica = &mut self.replicas[index];
        let config = *replica.journal.config();
        // Which slots a crash may break: those with a write in flight, and those not yet clean.
        let mut affected = vec![false; config.slot_count as usize];
        for (_, (zone, offset, len)) in replica.in_flight_writes.iter() {
            let (first, last) = match *zone {
                Zone::WalPrepares => (
                    offset / config.message_size_max,
                    offset / config.message_size_max,
                ),
                Zone::WalHeaders => (offset / 128, (offset + len) / 128 - 1),
            };
            for slot in first..=last {
                affected[slot as usize] = true;
            }
        }
        let recovering = replica.status == Status::Recovering;
        for (slot, affected) in affected.iter_mut().enumerate() {
            let slot_u64 = slot as u64;
            // A truncated entry leaves its prepare on disk (and its header may go out reserved).
            let removed = replica.journal.header(slot_u64).is_reserved()
                && replica.journal.prepare_checksum(slot_u64).is_some();
            if recovering
                || removed
                || replica.journal.dirty(slot_u64)
                || replica.crash_affected[slot] && replica.status != Status::Up
            {
                *affected = true;
            }
        }
        replica.crash_affected = affected;
        replica.in_flight_writes.clear();
        replica.disk.crash(tick);
        replica.superblock_pending = None;
        replica.status = Status::Down { restart_tick };
        replica.inbox.clear();
        replica.repairing.clear();
        replica.repair_reads_in_flight = 0;
        // Repairs this replica was serving will never answer: their requesters may ask again.
        for repair in self.repairs.iter().filter(|r| r.peer == index) {
            self.replicas[repair.requester].repairing.remove(&repair.op);
        }
        self.repairs
            .retain(|r| r.peer != index && r.requester != index);
        self.trace.record(tick, index as u8, &[1], || {
            format!("crash, restart at tick {restart_tick}")
        });
    }

    fn start_recovery(&mut self, index: usize) {
        let tick = self.tick;
        let solo = self.solo();
        let cluster = self.cluster;
        let replica = &mut self.replicas[index];
        let config = *replica.journal.config();
        replica.journal = journal::Journal::new(config, cluster, solo).expect("valid");
        replica.status = Status::Recovering;
        replica.op_checkpoint = replica.superblock.op_checkpoint;
        replica.fault_log_at_restart_previous = replica.fault_log_at_restart;
        replica.fault_log_at_restart = replica.disk.fault_log().len();
        // Damage stored now explains what this recovery finds, even if a write or the liveness
        // phase (which forgets latent errors) clears it before the recovery checker runs.
        for slot in 0..config.slot_count {
            let sector_offset = slot / config.headers_per_sector() * config.sector_size;
            replica.stored_faulty_at_restart[slot as usize] =
                replica.disk.range_faulty(
                    ZONE_PREPARES,
                    slot * config.message_size_max,
                    config.message_size_max,
                ) || replica
                    .disk
                    .range_faulty(ZONE_HEADERS, sector_offset, config.sector_size);
        }
        let context = replica.recovery_context();
        replica.journal.recover(context);
        self.trace
            .record(tick, index as u8, &[2], || "restart: recovering".into());
    }

    fn view_change(&mut self) {
        // Truncate the suffix no quorum acknowledged; keep everything acknowledged.
        let keep_min = self.op_acked_max + 1;
        let head = self.head();
        let truncate = if keep_min > head {
            head + 1
        } else {
            self.rng.gen_range(keep_min..=head + 1)
        };
        self.log.truncate(truncate as usize);
        self.acks.retain(|&op, _| op < truncate);
        self.view += 1;
        let mut candidate = self.view as usize % self.replicas.len();
        // In the liveness phase, rotate to a replica that is up.
        if self.liveness {
            for _ in 0..self.replicas.len() {
                if self.replicas[candidate].status == Status::Up {
                    break;
                }
                self.view += 1;
                candidate = self.view as usize % self.replicas.len();
            }
        }
        // Like a start_view message: the suffix of the new view's log, at most a pipeline long.
        let suffix = (self.config.journal.pipeline_max as usize).min(self.log.len());
        self.view_headers = self.log[self.log.len() - suffix..].to_vec();
        let (view, view_headers) = (self.view, self.view_headers.clone());
        for index in 0..self.replicas.len() {
            let replica = &mut self.replicas[index];
            replica.inbox.retain(|&op, _| op < truncate);
            if replica.status == Status::Up {
                if replica.journal.op_maximum() >= truncate {
                    replica.journal.remove_entries_from(truncate);
                }
                let view_headers = view_headers.clone();
                self.superblock_update(index, |s| {
                    s.view = view;
                    s.log_view = view;
                    s.view_headers = view_headers;
                });
            }
        }
        let tick = self.tick;
        self.trace
            .record(tick, 0, &[3, u64::from(view), truncate], || {
                format!("view change to {view}, log truncated at op {truncate}")
            });
    }

    fn prepare(&mut self) {
        let primary = self.primary();
        let head = self.head();
        let replica = &self.replicas[primary];
        if replica.status != Status::Up || head >= self.ops_target {
            return;
        }
        if head - self.op_acked_max >= self.config.journal.pipeline_max
            || head + 1
                > crate::replica::op_prepare_max(
                    &self.config.journal,
                    replica.superblock.op_checkpoint,
                )
        {
            return;
        }
        if !self.solo() && replica.superblock.log_view != self.view {
            return;
        }
        let body_size = self.rng.gen_range(0..=self.config.body_size_max) as usize;
        let mut body = vec![0u8; body_size];
        self.rng.fill(&mut body[..]);
        let mut header = Header::root(self.cluster);
        header.op = head + 1;
        header.view = self.view;
        header.parent = self.log[head as usize].checksum;
        header.commit = self.op_acked_max;
        header.timestamp = self.tick;
        header.replica = primary as u8;
        header.operation = journal::header::OPERATION_APPLICATION_MIN + (self.rng.gen::<u8>() % 8);
        header.set_body(&body);
        header.set_checksum();
        let mut message = header.to_bytes().to_vec();
        message.extend_from_slice(&body);
        self.log.push(header);
        self.messages.insert(header.checksum, message.clone());
        for replica in &mut self.replicas {
            if replica.status == Status::Up {
                replica.inbox.insert(header.op, message.clone());
            }
        }
        let tick = self.tick;
        self.trace.record(
            tick,
            primary as u8,
            &[4, header.op, u64::from(header.checksum)],
            || {
                format!(
                    "prepare op {} view {} size {}",
                    header.op, header.view, header.size
                )
            },
        );
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
            let Some(completion) = replica.disk.poll_completion(tick) else {
                break;
            };
            let id = IoId::from_u64(completion.id);
            match completion.kind {
                IoKind::Write => {
                    replica.in_flight_writes.remove(&completion.id);
                    replica.journal.complete_write(id);
                }
                IoKind::Read => match completion.result {
                    Ok(()) => {
                        let data = replica.disk.completed_read_data();
                        let slot = completion.offset / replica.journal.config().message_size_max;
                        self.read_padding = (completion.zone == ZONE_PREPARES)
                            .then(|| Header::decode(data).ok())
                            .flatten()
                            .filter(|header| header.size as usize <= data.len())
                            .map(|header| {
                                let padding = &data[header.size as usize..];
                                (slot, header.checksum, padding.iter().all(|&b| b == 0))
                            });
                        replica.journal.complete_read(id, Ok(data));
                    }
                    Err(_) => replica.journal.complete_read(id, Err(ReadError)),
                },
            }
            self.drain_events(index)?;
            self.read_padding = None;
        }
        self.drain_events(index)?;
        if self.replicas[index].status == Status::Up {
            self.work(index)?;
            self.submit_io(index);
            self.drain_events(index)?;
            if self.replicas[index].journal.io_idle() {
                self.check_journal_matches_disk(index)?;
            }
        }
        Ok(())
    }

    fn submit_io(&mut self, index: usize) {
        let tick = self.tick;
        let replica = &mut self.replicas[index];
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
                }
            }
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
                    self.ack(index, op, checksum);
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
                    .repairs
                    .iter()
                    .position(|r| r.peer == index && r.op == op && r.checksum == checksum);
                if let Ok(handle) = result {
                    let bytes = self.replicas[index].journal.read_message(handle).to_vec();
                    self.replicas[index].journal.read_release(handle);
                    if self.messages.get(&checksum) != Some(&bytes) {
                        return Err(self.failure("read", format!("r{index} read_prepare(op {op}, checksum {checksum:08x}) returned bytes that differ from what was written")));
                    }
                    let slot = self.replicas[index].journal.slot_for_op(op);
                    if self.read_padding == Some((slot, checksum, false)) {
                        return Err(self.failure("read", format!("r{index} read_prepare(op {op}, checksum {checksum:08x}) accepted a read whose padding is not zero")));
                    }
                    if let Some(position) = position {
                        let repair = self.repairs[position];
                        let requester = &mut self.replicas[repair.requester];
                        if requester.status == Status::Up {
                            requester.inbox.insert(op, bytes);
                        }
                    }
                }
                if let Some(position) = position {
                    let repair = self.repairs.remove(position);
                    self.replicas[repair.requester].repairing.remove(&op);
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
                return Err(self.failure("availability", format!("solo replica r{index} came back with slot {slot} unrecoverable (case {label})")));
            }
            Event::RecoveryDone => self.on_recovered(index)?,
        }
        Ok(())
    }

    fn on_recovered(&mut self, index: usize) -> Check {
        let tick = self.tick;
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
        self.check_recovery(index, &recoveries)?;
        self.check_acked_held(index, &recoveries)?;
        self.check_acked_retained()?;
        for (slot, recovery) in &recoveries {
            self.replicas[index].damaged[*slot as usize] = !matches!(
                recovery.decision,
                journal::Decision::Eql | journal::Decision::Nil
            );
        }
        let solo = self.solo();
        let replica = &mut self.replicas[index];
        replica.status = Status::Up;
        replica.crash_affected.iter_mut().for_each(|a| *a = false);
        if solo {
            // A solo replica's log is what it recovered: unacknowledged ops past its head are gone.
            let head = replica.journal.op_maximum();
            if head < self.op_acked_max {
                return Err(self.failure(
                    "durability",
                    format!(
                        "solo replica recovered head {head} below acknowledged op {}",
                        self.op_acked_max
                    ),
                ));
            }
            self.log.truncate(head as usize + 1);
            self.acks.retain(|&op, _| op <= head);
        } else if replica.superblock.view < self.view {
            // Catch up with the current view (start_view): its headers become durable here.
            let (view, view_headers) = (self.view, self.view_headers.clone());
            self.superblock_update(index, |s| {
                s.view = view;
                s.log_view = view;
                s.view_headers = view_headers;
            });
        }
        self.trace
            .record(tick, index as u8, &[11], || "recovered".into());
        Ok(())
    }

    /// Repairs, writes and checkpoints for an up replica, bounded per tick.
    fn work(&mut self, index: usize) -> Check {
        let head = self.head();
        if self.replicas[index].journal.op_maximum() > head {
            // A stale suffix from an older view: the new primary's log wins.
            self.replicas[index].journal.remove_entries_from(head + 1);
        }
        let window = self.window(&self.replicas[index]);
        let primary_up = self.replicas[self.primary()].status == Status::Up;
        let solo = self.solo();
        for op in window {
            let header = self.log[op as usize];
            let replica = &mut self.replicas[index];
            let slot_header = *replica.journal.header(replica.journal.slot_for_op(op));
            if !slot_header.is_reserved() && slot_header.op > op {
                continue;
            }
            if !replica.journal.has_header(&header) {
                replica.journal.set_header_as_dirty(&header);
            }
            if !replica.journal.has_dirty(&header) {
                // Held clean (written now, earlier, or fixed by recovery): acknowledge it.
                if self
                    .acks
                    .get(&op)
                    .is_none_or(|acks| acks & (1 << index) == 0)
                {
                    self.ack(index, op, header.checksum);
                }
                continue;
            }
            if replica.journal.writing(&header) != Writing::None {
                continue;
            }
            if solo && replica.journal.writes_in_flight() > 0 {
                break;
            }
            let inbox_bytes = replica
                .inbox
                .get(&op)
                .filter(|m| Header::decode(m).is_ok_and(|h| h.checksum == header.checksum));
            let bytes = match inbox_bytes {
                Some(bytes) => Some(bytes.clone()),
                // The primary retransmits ops still in its pipeline; a solo replica has its own.
                None if solo || (primary_up && op > self.op_acked_max) => {
                    self.messages.get(&header.checksum).cloned()
                }
                None => None,
            };
            let replica = &mut self.replicas[index];
            match bytes {
                Some(bytes) => match replica.journal.write_prepare(&bytes) {
                    WriteStart::Started | WriteStart::SkippedClean => {
                        replica.inbox.remove(&op);
                    }
                    WriteStart::WaitingForIop => break,
                },
                None => self.request_repair(index, op, header)?,
            }
        }
        self.checkpoint(index);
        Ok(())
    }

    /// Counts replica `index` as holding `(op, checksum)` durably. A replica acknowledges an op
    /// only in a view it has made durable (a solo replica has one view).
    fn ack(&mut self, index: usize, op: u64, checksum: u32) {
        let canonical = self
            .log
            .get(op as usize)
            .is_some_and(|h| h.checksum == checksum);
        let replica = &self.replicas[index];
        let durable_view = self.solo() || replica.superblock.log_view == self.view;
        // Like a backup's prepare_ok: only with every op since its checkpoint held clean, so an
        // acknowledged op never sits above a hole.
        let contiguous = (replica.op_checkpoint + 1..=op).all(|held| {
            let header = &self.log[held as usize];
            replica.journal.has_header(header) && !replica.journal.has_dirty(header)
        });
        if !canonical || !durable_view || !contiguous {
            return;
        }
        let acks = self.acks.entry(op).or_insert(0);
        *acks |= 1 << index;
        if acks.count_ones() >= u32::from(quorum_replication(self.replicas.len() as u8))
            && op > self.op_acked_max
        {
            self.op_acked_max = op;
        }
    }

    fn request_repair(&mut self, index: usize, op: u64, header: Header) -> Check {
        if self.replicas[index].repairing.contains_key(&op) {
            return Ok(());
        }
        let count = self.replicas.len();
        let start = self.rng.gen_range(0..count);
        for k in 0..count {
            let peer = (start + k) % count;
            if peer == index
                || self.replicas[peer].status != Status::Up
                || !self.replicas[peer].journal.has_prepare(&header)
            {
                continue;
            }
            match self.replicas[peer]
                .journal
                .read_prepare(op, header.checksum, ReadPurpose::Repair)
            {
                Ok(()) => {
                    self.replicas[peer].repair_reads_in_flight += 1;
                    self.repairs.push(Repair {
                        peer,
                        requester: index,
                        op,
                        checksum: header.checksum,
                    });
                    self.replicas[index].repairing.insert(op, peer as u64);
                    return Ok(());
                }
                Err(ReadReject::WaitingForIop) => {
                    // The journal keeps two reads for the commit path and lends the rest to
                    // repair. The simulator counts the repair reads it has in flight on the
                    // peer: refusing one below that share is a leaked read, which would starve
                    // repair for the rest of the replica's life.
                    let repair_max = self.config.journal.iops_read_max - 2;
                    let in_flight = self.replicas[peer].repair_reads_in_flight;
                    if in_flight < repair_max {
                        return Err(self.failure(
                            "availability",
                            format!(
                                "r{peer} refused a repair read with {in_flight} of its \
                                 {repair_max} repair reads in flight"
                            ),
                        ));
                    }
                }
                Err(_) => {}
            }
        }
        // Nobody holds it any more: every peer checkpointed past it. Sync the checkpoint.
        let peer_checkpoint = self
            .replicas
            .iter()
            .map(|r| r.superblock.op_checkpoint)
            .max()
            .unwrap_or(0);
        let replica = &self.replicas[index];
        if peer_checkpoint >= op && replica.op_checkpoint < peer_checkpoint {
            self.replicas[index].op_checkpoint = peer_checkpoint;
            self.superblock_update(index, |s| s.op_checkpoint = peer_checkpoint);
            let tick = self.tick;
            self.trace
                .record(tick, index as u8, &[12, peer_checkpoint], || {
                    format!("state sync to checkpoint {peer_checkpoint}")
                });
        }
        Ok(())
    }

    /// Advances the in-memory checkpoint by half a ring once those ops are acknowledged and held
    /// clean; the superblock makes it durable later.
    fn checkpoint(&mut self, index: usize) {
        let interval = self.config.journal.slot_count / 2;
        let replica = &self.replicas[index];
        let target = replica.op_checkpoint + interval;
        if target > self.op_acked_max {
            return;
        }
        let held = (replica.op_checkpoint + 1..=target).all(|op| {
            let header = &self.log[op as usize];
            replica.journal.has_header(header) && !replica.journal.has_dirty(header)
        });
        if !held {
            return;
        }
        self.replicas[index].op_checkpoint = target;
        self.superblock_update(index, |s| s.op_checkpoint = target);
        let tick = self.tick;
        self.trace.record(tick, index as u8, &[13, target], || {
            format!("checkpoint {target}")
        });
    }
}
