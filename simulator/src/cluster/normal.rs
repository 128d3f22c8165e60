//! The normal case: the primary prepares hash-chained ops and broadcasts them; every replica
//! writes them and answers `prepare_ok` once it holds the op and everything since its
//! checkpoint clean; an op is committed once a replication quorum answered in one view. Also
//! checkpoints, repair of prepares (by `(op, checksum)` through a peer's `read_prepare`) and of
//! headers (by hash chain), and a solo replica's restart.

use super::{Check, Simulation, RETRY_TICKS};

/// The longest an aimed window holds a write: two view-change timeouts, so that the view after
/// next (the one that names a truncated op again when the truncating view never starts) comes
/// while it is still in flight.
const WINDOW_HOLD_TICKS_MAX: u64 = 2 * super::VIEW_CHANGE_TIMEOUT_TICKS;
use crate::network::Message;
use crate::replica::{counted, PipelineEntry, Status};
use journal::{Header, ReadPurpose, ReadReject, WriteStart, Writing};
use rand::Rng;

/// Tries of one repair before a replica that lags a checkpoint behind its primary syncs to it.
const REPAIR_TRIES_BEFORE_SYNC: u32 = 3;

impl Simulation {
    /// The primary prepares the next op, if its pipeline and checkpoint allow.
    fn prepare(&mut self, index: usize) {
        let replica = &self.replicas[index];
        let head = replica.op_head();
        // Only in a view the replica has made durable: a solo replica's restart moves to a new
        // view, and must never reuse one it may already have prepared ops in.
        if head >= self.ops_target
            || replica.superblock.log_view != replica.view
            || replica.pipeline.len() as u64 >= self.config.journal.pipeline_max
            || head + 1 > replica.op_prepare_ok_max()
        {
            return;
        }
        let parent = replica
            .header(head)
            .expect("the primary holds its head")
            .checksum;
        let body_size = self.rng.gen_range(0..=self.config.body_size_max) as usize;
        let mut body = vec![0u8; body_size];
        self.rng.fill(&mut body[..]);
        // The primary stamps its prepares with the cluster its journal was opened for.
        let mut header = Header::root(replica.journal.cluster());
        header.op = head + 1;
        header.view = replica.view;
        header.parent = parent;
        header.commit = replica.commit_max;
        header.timestamp = self.tick;
        header.replica = index as u8;
        header.operation = journal::header::OPERATION_APPLICATION_MIN + (self.rng.gen::<u8>() % 8);
        header.set_body(&body);
        header.set_checksum();
        let mut message = header.to_bytes().to_vec();
        message.extend_from_slice(&body);
        self.messages.insert(header.checksum, message.clone());
        let replica = &mut self.replicas[index];
        counted(&mut replica.journal, |j| j.set_header_as_dirty(&header));
        replica.inbox_insert(header, message.clone());
        replica.pipeline.push_back(PipelineEntry {
            header,
            message: Some(message.clone()),
            oks: 0,
        });
        let tick = self.tick;
        self.trace.record(
            tick,
            index as u8,
            &[4, header.op, u64::from(header.checksum)],
            || {
                format!(
                    "prepare op {} view {} size {}",
                    header.op, header.view, header.size
                )
            },
        );
        let view = header.view;
        self.broadcast(index, &Message::Prepare { view, message });
        if std::mem::take(&mut self.replicas[index].storm_armed)
            && !self.liveness
            && !self.solo()
            && self.rng.gen_bool(self.config.view_change_storm_probability)
        {
            // A backup gives up on the new view just after its first prepare went out: the
            // prepare reached some replicas, made durable nowhere yet, so that the next views
            // may keep it, drop it, or make another version of the op.
            let count = self.replicas.len();
            let backup = (index + self.rng.gen_range(1..count)) % count;
            let due = self.tick
                + self
                    .rng
                    .gen_range(1..=2 * self.config.message_delay_ticks_max);
            self.storms.push((due, backup, view));
        }
    }

    /// The primary's heartbeat: its commit, and its pipeline again to whoever has not answered.
    pub(crate) fn heartbeat(&mut self, index: usize) {
        let replica = &self.replicas[index];
        let view = replica.view;
        let commit = Message::Commit {
            view,
            commit: replica.commit_max,
            checkpoint: replica.superblock.checkpoint_header,
        };
        let resend: Vec<(u64, Vec<u8>)> = replica
            .pipeline
            .iter()
            .filter_map(|entry| entry.message.as_ref().map(|m| (entry.oks, m.clone())))
            .collect();
        self.broadcast(index, &commit);
        for (oks, message) in resend {
            for to in 0..self.replicas.len() {
                if to != index && oks & (1 << to) == 0 {
                    let message = message.clone();
                    self.send(index, to, Message::Prepare { view, message });
                }
            }
        }
    }

    pub(crate) fn on_prepare(
        &mut self,
        index: usize,
        from: usize,
        view: u32,
        message: Vec<u8>,
    ) -> Check {
        let replica = &mut self.replicas[index];
        if replica.status != Status::Normal
            || replica.view != view
            || self.primary_index(view) != from
        {
            return Ok(());
        }
        let tick = self.tick;
        let replica = &mut self.replicas[index];
        replica.primary_heard_tick = tick;
        let header = Header::decode(&message).expect("the simulator's own prepare");
        replica.commit_max = replica.commit_max.max(header.commit);
        self.adopt_header(index, &header);
        let replica = &mut self.replicas[index];
        if replica.journal.has_dirty(&header) {
            replica.inbox_insert(header, message);
        }
        Ok(())
    }

    /// Puts `header` into the replica's journal as a protocol message names it, if it lies in
    /// the replica's window and no newer op holds its slot. Counts re-adoption.
    pub(crate) fn adopt_header(&mut self, index: usize, header: &Header) -> bool {
        let replica = &self.replicas[index];
        if header.op <= replica.op_checkpoint || header.op > replica.op_prepare_max() {
            return false;
        }
        if replica.journal.has_header(header) {
            return true;
        }
        let slot = replica.journal.slot_for_op(header.op);
        let current = *replica.journal.header(slot);
        if !current.is_reserved() && current.op > header.op {
            return false;
        }
        if !current.is_reserved() && current.op == header.op {
            // Another version of this op: the slot moves to the one the protocol names.
            if header.view < current.view {
                self.coverage.add_event("adopt_older_version", 1);
                let tick = self.tick;
                self.trace.record(
                    tick,
                    index as u8,
                    &[
                        19,
                        header.op,
                        u64::from(header.view),
                        u64::from(current.view),
                    ],
                    || {
                        format!(
                            "op {} moves back to its view {} version from view {}",
                            header.op, header.view, current.view
                        )
                    },
                );
            }
            self.forget_entry(index, current.op, current.checksum);
        }
        if let Some(acked) = self.acknowledged.owed(index, header.op) {
            if acked != header.checksum {
                // The protocol names another version of an op this replica acknowledged (its
                // slot lost that version to a fault): it gives that version up.
                self.forget_entry(index, header.op, acked);
            }
        }
        if self
            .acknowledged
            .was_given_up(index, header.op, header.checksum)
        {
            self.coverage.add_event("readopt_same_checksum", 1);
            let tick = self.tick;
            self.trace.record(
                tick,
                index as u8,
                &[21, header.op, u64::from(header.checksum)],
                || {
                    format!(
                        "op {} adopted again with the checksum it had before",
                        header.op
                    )
                },
            );
            if self.replicas[index].journal.writing(header) == Writing::Exact {
                self.coverage
                    .add_event("readopt_same_checksum_in_flight", 1);
            }
        }
        let replica = &mut self.replicas[index];
        if replica
            .removed_writes
            .iter()
            .any(|&(op, id)| op == header.op && replica.in_flight_writes.contains_key(&id))
        {
            // Counted once per removal.
            replica.removed_writes.retain(|&(op, _)| op != header.op);
            self.coverage.add_event("readd_truncated_in_flight", 1);
        }
        counted(&mut self.replicas[index].journal, |j| {
            j.set_header_as_dirty(header)
        });
        true
    }

    /// The replica gives up `(op, checksum)` through a protocol step: it no longer has to hold
    /// it, and if it comes back it is a re-adoption.
    pub(crate) fn forget_entry(&mut self, index: usize, op: u64, checksum: u32) {
        self.acknowledged.on_give_up(index, op, checksum);
    }

    /// Moves the replica's checkpoint to `checkpoint_header`'s op, in memory now and durably
    /// once the superblock write lands.
    fn set_checkpoint(&mut self, index: usize, checkpoint_header: Header) {
        let checkpoint = checkpoint_header.op;
        // A checkpoint over an op whose slot still holds, on disk, a version other than the
        // committed one (its redundant header or its prepare): the superseded version must
        // never come back clean below the checkpoint (the history rule), whatever a crash
        // and recovery make of the slot next.
        let replica = &self.replicas[index];
        let journal = &replica.journal;
        let messages = &self.messages;
        let replaced = (replica.op_checkpoint + 1..=checkpoint).any(|op| {
            let Some(committed) = self.committed.get(op) else {
                return false;
            };
            let slot = journal.slot_for_op(op);
            let redundant = journal.header_redundant(slot);
            let header_other = !redundant.is_reserved()
                && redundant.op == op
                && redundant.checksum != committed.checksum;
            let prepare_other = journal.prepare_checksum(slot).is_some_and(|checksum| {
                checksum != committed.checksum
                    && messages
                        .get(&checksum)
                        .and_then(|bytes| Header::decode(bytes).ok())
                        .is_some_and(|header| header.op == op)
            });
            header_other || prepare_other
        });
        if replaced {
            self.coverage
                .add_event("checkpoint_over_replaced_version", 1);
            let probability = self.config.window_aim_probability;
            if probability > 0.0
                && !self.liveness
                && !self
                    .aimed_checkpoint_crash
                    .iter()
                    .any(|&(aimed, _)| aimed == index)
                && self.window_rng.gen_bool(probability)
            {
                self.aimed_checkpoint_crash.push((index, checkpoint));
            }
        }
        self.replicas[index].op_checkpoint = checkpoint;
        self.replicas[index].checkpoint_header = checkpoint_header;
        self.acknowledged.on_checkpoint(index, checkpoint);
        self.superblock_update(index, |s| {
            s.op_checkpoint = checkpoint;
            s.checkpoint_header = checkpoint_header;
            s.commit_max = s.commit_max.max(checkpoint);
        });
    }

    /// Truncates the replica's journal from `op_min` (a view change's canonical head + 1).
    pub(crate) fn truncate_from(&mut self, index: usize, op_min: u64) {
        // Everything from `op_min` up is given up, held or not (a faulty slot may have held an op
        // the replica acknowledged: the view change proved it uncommitted).
        self.acknowledged.on_truncate(index, op_min);
        let journal = &self.replicas[index].journal;
        if journal.op_maximum() < op_min {
            return;
        }
        let config = *journal.config();
        let removed: Vec<(u64, u32)> = (0..config.slot_count)
            .map(|slot| *journal.header(slot))
            .filter(|h| !h.is_reserved() && h.op >= op_min)
            .map(|h| (h.op, h.checksum))
            .collect();
        // The writes still in flight over the removed entries' slots: the entry may come back
        // (the same version, or another) while they are.
        let replica = &self.replicas[index];
        let mut removed_writes: Vec<(u64, u64)> = removed
            .iter()
            .flat_map(|&(op, _)| {
                replica
                    .writes_over_slot(journal.slot_for_op(op))
                    .map(move |id| (op, id))
            })
            .collect();
        for &(op, checksum) in &removed {
            self.forget_entry(index, op, checksum);
        }
        counted(&mut self.replicas[index].journal, |j| {
            j.remove_entries_from(op_min)
        });
        if removed.is_empty() || self.liveness {
            return;
        }
        self.aim_at_truncation(index, &removed_writes);
        let replica = &mut self.replicas[index];
        replica.truncated_from = Some(op_min);
        replica
            .removed_writes
            .retain(|(_, id)| replica.in_flight_writes.contains_key(id));
        replica.removed_writes.append(&mut removed_writes);
    }

    /// BUGGIFY for the protocol windows a truncation opens (`window_aim_probability`): holds the
    /// writes in flight over the removed entries for a while (long enough for a view change or
    /// two to name the op again), and with a quarter of the chance crashes the replica on the
    /// next tick, before it repairs what the view change replaced.
    fn aim_at_truncation(&mut self, index: usize, removed_writes: &[(u64, u64)]) {
        let probability = self.config.window_aim_probability;
        if probability == 0.0 {
            return;
        }
        // One window or the other: a crash drops the writes it would hold.
        if !removed_writes.is_empty() && self.window_rng.gen_bool(probability) {
            let ticks = self.window_rng.gen_range(1..=WINDOW_HOLD_TICKS_MAX);
            let tick = self.tick;
            for &(_, id) in removed_writes {
                self.replicas[index].disk.hold_write_until(id, tick + ticks);
            }
            let ops = removed_writes.len();
            self.trace.record(
                tick,
                index as u8,
                &[crate::trace::tag::WINDOW_HOLD, ticks],
                || format!("aimed window: {ops} writes under truncated entries held {ticks} ticks"),
            );
            // The op comes back only if the truncating view fails before a quorum adopts it:
            // a backup truncated by a start_view sees its primary crash.
            let primary = self.primary_index(self.replicas[index].view);
            if primary != index
                && self.replicas[primary].status.is_up()
                && self.window_rng.gen_bool(probability / 2.0)
            {
                self.crash_due.push(primary);
                self.trace.record(
                    tick,
                    primary as u8,
                    &[crate::trace::tag::WINDOW_CRASH],
                    || {
                        "aimed window: the primary whose start_view truncated a backup crashes"
                            .into()
                    },
                );
            }
        } else if self.window_rng.gen_bool(probability / 4.0) {
            self.crash_due.push(index);
            let tick = self.tick;
            self.trace.record(
                tick,
                index as u8,
                &[crate::trace::tag::WINDOW_CRASH],
                || "aimed window: crash before repairing the truncation".to_string(),
            );
        }
    }

    pub(crate) fn on_prepare_ok(
        &mut self,
        index: usize,
        from: usize,
        view: u32,
        op: u64,
        checksum: u32,
    ) -> Check {
        let replica = &mut self.replicas[index];
        if replica.status != Status::Normal || replica.view != view {
            return Ok(());
        }
        if let Some(entry) = replica
            .pipeline
            .iter_mut()
            .find(|e| e.header.op == op && e.header.checksum == checksum)
        {
            entry.oks |= 1 << from;
        }
        self.commit_pipeline(index)
    }

    /// Commits the pipeline's head while a replication quorum has answered for it.
    fn commit_pipeline(&mut self, index: usize) -> Check {
        let quorum = self.quorum_replication();
        loop {
            let replica = &mut self.replicas[index];
            let Some(front) = replica.pipeline.front() else {
                return Ok(());
            };
            // An op at or below the commit number is committed already (a late vote said so).
            if (front.oks.count_ones() as usize) < quorum && front.header.op > replica.commit_max {
                return Ok(());
            }
            let header = front.header;
            replica.pipeline.pop_front();
            replica.commit_max = replica.commit_max.max(header.op);
            let view = replica.view;
            self.commit(header.op, header.checksum, view)?;
        }
    }

    pub(crate) fn on_commit(&mut self, index: usize, view: u32, commit: u64, checkpoint: Header) {
        let tick = self.tick;
        let replica = &mut self.replicas[index];
        if replica.status != Status::Normal || replica.view != view {
            return;
        }
        replica.primary_heard_tick = tick;
        replica.commit_max = replica.commit_max.max(commit);
        if checkpoint.op > replica.primary_checkpoint.op {
            replica.primary_checkpoint = checkpoint;
        }
    }

    /// Writes, repairs, acknowledgements and checkpoints for a replica whose journal is its
    /// view's log (normal status, or a new primary fetching its canonical suffix).
    pub(crate) fn work(&mut self, index: usize) -> Check {
        let solo = self.solo();
        let is_primary = self.primary_index(self.replicas[index].view) == index;
        if is_primary
            && self.replicas[index].status == Status::Normal
            && self.rng.gen_bool(self.config.prepare_probability)
        {
            self.prepare(index);
        }
        let replica = &self.replicas[index];
        if replica.status == Status::Normal
            && replica.commit_max > replica.op_prepare_max()
            && replica.primary_checkpoint.op > replica.op_checkpoint
        {
            // Committed ops lie past what this replica may hold: it lags a checkpoint behind.
            let checkpoint = replica.primary_checkpoint;
            self.state_sync(index, checkpoint);
        }
        let replica = &mut self.replicas[index];
        let high = replica.op_head().min(replica.op_prepare_max());
        // The ops of `op_checkpoint + 1..=high` held dirty, in op order: found from the dirty
        // slots, not by walking the ring every tick, and found again only once the journal
        // changed (damage out of reach stays dirty for many turns). (A write started below
        // touches only its own slot, so the set cannot grow during the walk.)
        let key = (replica.journal.touches(), replica.op_checkpoint, high);
        let mut ops_dirty = std::mem::take(&mut replica.ops_dirty);
        if replica.ops_dirty_at != Some(key) {
            let journal = &replica.journal;
            // Below the checkpoint too, where the op is the committed version: a replica that
            // synced past ops it never wrote (or whose checkpoint moved over damage) holds
            // their slots dirty until a newer op lands there, and with a deep pipeline
            // (`slot_count - pipeline_max` ops past a checkpoint) a lagging replica syncs at
            // almost every op, so the ring would never be whole again. The version is known to
            // be the committed one only through the hash chain down from the checkpoint's
            // header; a slot whose header is off that chain waits for a newer op instead.
            // Those ops come last, and only once nothing above the checkpoint is dirty: they
            // never take a write from an op the cluster still needs.
            let dirty_ops_in = |ops: std::ops::RangeInclusive<u64>| {
                journal
                    .dirty_slots()
                    .map(|slot| journal.header(slot))
                    .filter(|header| !header.is_reserved())
                    .map(|header| header.op)
                    .filter(move |op| ops.contains(op))
            };
            ops_dirty.clear();
            ops_dirty.extend(dirty_ops_in(replica.op_checkpoint + 1..=high));
            if ops_dirty.is_empty() && journal.dirty_count() > 0 {
                let op_canonical_min = replica.op_canonical_min_below_checkpoint();
                ops_dirty.extend(dirty_ops_in(op_canonical_min..=replica.op_checkpoint));
            }
            ops_dirty.sort_unstable();
            replica.ops_dirty_at = Some(key);
        }
        for &op in &ops_dirty {
            let replica = &self.replicas[index];
            let Some(&header) = replica.journal.header_with_op(op) else {
                continue;
            };
            if !replica.journal.has_dirty(&header)
                || replica.journal.writing(&header) != Writing::None
            {
                continue;
            }
            // From the network, or (a primary) from its own pipeline: a write that ended "not
            // written" (its entry changed meanwhile) is retried from there.
            let bytes = replica
                .inbox
                .get(&op)
                .filter(|(h, _)| h.checksum == header.checksum)
                .map(|(_, m)| m)
                .or_else(|| {
                    replica
                        .pipeline
                        .iter()
                        .find(|e| e.header.checksum == header.checksum)
                        .and_then(|e| e.message.as_ref())
                })
                .cloned();
            match bytes {
                Some(bytes) => {
                    let replica = &mut self.replicas[index];
                    match counted(&mut replica.journal, |j| j.write_prepare(&bytes)) {
                        WriteStart::Started | WriteStart::SkippedClean => {
                            replica.inbox.remove(&op);
                        }
                        WriteStart::WaitingForIop => break,
                    }
                }
                None if solo => {}
                None => self.request_repair(index, op, header),
            }
        }
        // Keep only prepares the journal still wants: held dirty with that exact checksum
        // (again only once the journal changed or a prepare arrived since the last pass).
        let replica = &mut self.replicas[index];
        replica.ops_dirty = ops_dirty;
        let touches = replica.journal.touches();
        if replica.inbox_kept_at != Some(touches) {
            let journal = &replica.journal;
            replica
                .inbox
                .retain(|_, (header, _)| journal.has_dirty(header));
            replica.inbox_kept_at = Some(touches);
        }
        if !solo {
            self.repair_headers(index);
        }

        if self.replicas[index].status == Status::Normal {
            self.acknowledge(index)?;
        }
        self.checkpoint(index);
        Ok(())
    }

    /// Answers `prepare_ok` for every op newly held clean, contiguous from the checkpoint, in a
    /// view the replica has made durable, and within its durable checkpoint's prepare max.
    fn acknowledge(&mut self, index: usize) -> Check {
        let replica = &self.replicas[index];
        let view = replica.view;
        if replica.superblock.log_view != view || replica.superblock.view != view {
            return Ok(());
        }
        let inputs = replica.acknowledge_inputs();
        if replica.acknowledged_at == Some((inputs, replica.oks_sent.len())) {
            // Every op it could answer for was answered, and nothing it reads changed since.
            return Ok(());
        }
        let high = replica.op_head().min(replica.op_prepare_ok_max());
        let mut oks = Vec::new();
        // Ops at or just below the checkpoint were held clean when it was taken: a new primary
        // whose pipeline still holds them needs their answers too.
        let pipeline_max = self.config.journal.pipeline_max;
        for op in replica.op_checkpoint.saturating_sub(pipeline_max) + 1..=replica.op_checkpoint {
            if let Some(header) = replica.header(op) {
                if !replica.oks_sent.contains(&op) {
                    oks.push((op, header.checksum));
                }
            }
        }
        let covered = oks.len();
        // Runs at every change of the journal, over the whole window: so a walk of slots in
        // order beside the answers already sent in order, with no division or set lookup per op.
        let journal = &replica.journal;
        let slot_count = journal.config().slot_count;
        let op_first = replica.op_checkpoint + 1;
        // Only the view's log is answered for: the ops the hash chain reaches from the head
        // (the view's, in normal status in the log view) down to the checkpoint. A clean op it
        // does not reach may be a superseded version (an older view's prepare that a recovery
        // reloaded over a move the replica never wrote), which a recovery under the view's
        // durable headers drops; answering for it would owe what the log no longer holds (seed
        // 17045: r1 answered view 47 for view 37's op 55, which the committed view-32 version
        // had replaced). The same rule as `checkpoint`'s; repair (`repair_headers`) mends the
        // break, and the answers follow.
        let chained = op_first > high || replica.log_chains();
        let mut sent = replica.oks_sent.range(op_first..).copied().peekable();
        let mut slot = journal.slot_for_op(op_first);
        for op in op_first..=high {
            // Held clean: `header_with_op(op)` and not `has_dirty`.
            let header = journal.header(slot);
            if !chained || header.is_reserved() || header.op != op || journal.dirty(slot) {
                break;
            }
            // Every op, committed or not: a new primary's pipeline may hold ops this replica
            // already knows committed, and needs a quorum of answers in its own view.
            if sent.next_if_eq(&op).is_none() {
                oks.push((op, header.checksum));
            }
            slot = if slot + 1 == slot_count { 0 } else { slot + 1 };
        }
        let primary = self.primary_index(view);
        for (position, (op, checksum)) in oks.into_iter().enumerate() {
            self.replicas[index].oks_sent.insert(op);
            if position >= covered {
                let replica = &self.replicas[index];
                let header = replica.journal.header_with_op(op).expect("held clean");
                // What a replica answers for survives its recovery's view drop under the
                // durable view headers it answers in (`journal::recovery::view_for_op`).
                let (view_min, view_max) = journal::recovery::view_for_op(
                    &replica.superblock.view_headers,
                    op,
                    replica.superblock.log_view,
                );
                assert!(
                    (view_min..=view_max).contains(&header.view),
                    "r{index} answers view {view} for op {op} of view {}, which its durable view headers exclude ({view_min}..={view_max})",
                    header.view
                );
                self.acknowledged.on_ack(index, op, checksum);
            }
            if primary == index {
                self.on_prepare_ok(index, index, view, op, checksum)?;
            } else {
                self.send(index, primary, Message::PrepareOk { view, op, checksum });
            }
        }
        // Remembered only if answering changed nothing it read (a primary's own answer may
        // commit, and so move its checkpoint).
        let replica = &mut self.replicas[index];
        replica.acknowledged_at =
            (replica.acknowledge_inputs() == inputs).then_some((inputs, replica.oks_sent.len()));
        Ok(())
    }

    /// Asks a peer for the prepare `(op, header.checksum)`; a new primary asks a replica whose
    /// vote showed it clean. After a few tries, a replica whose primary has checkpointed past
    /// the op syncs to that checkpoint instead.
    fn request_repair(&mut self, index: usize, op: u64, header: Header) {
        let tick = self.tick;
        let replica = &self.replicas[index];
        let timeout = 4 * self.config.message_delay_ticks_max + 4 * RETRY_TICKS;
        let tries = match replica.repairing.get(&op) {
            Some(&(sent, _)) if tick < sent + timeout => return,
            Some(&(_, tries)) => tries,
            None => 0,
        };
        if tries >= REPAIR_TRIES_BEFORE_SYNC
            && replica.status == Status::Normal
            && replica.primary_checkpoint.op >= op
            && replica.primary_checkpoint.op > replica.op_checkpoint
        {
            let checkpoint = replica.primary_checkpoint;
            self.state_sync(index, checkpoint);
            return;
        }
        let count = self.replicas.len();
        // The replicas whose votes held the op, but never this one (it asks because it lacks
        // the op, whatever its vote said).
        let copies = replica
            .plan
            .as_ref()
            .and_then(|plan| plan.copies.get(&op))
            .map(|copies| {
                copies
                    .iter()
                    .copied()
                    .filter(|&copy| usize::from(copy) != index)
                    .collect::<Vec<_>>()
            })
            .filter(|copies| !copies.is_empty());
        let primary = self.primary_index(replica.view);
        let peer = match copies {
            Some(copies) => usize::from(copies[self.rng.gen_range(0..copies.len())]),
            // An op at or below this replica's checkpoint: the primary held it clean to reach a
            // checkpoint at least as high, and (a ring not yet past) holds it still.
            None if op <= replica.op_checkpoint && primary != index => primary,
            None => {
                let peer = self.rng.gen_range(0..count - 1);
                if peer >= index {
                    peer + 1
                } else {
                    peer
                }
            }
        };
        self.replicas[index].repairing.insert(op, (tick, tries + 1));
        self.send(
            index,
            peer,
            Message::RequestPrepare {
                op,
                checksum: header.checksum,
            },
        );
    }

    /// Jumps the replica's checkpoint to one its primary holds durably: the ops below it are
    /// committed, and no peer has to keep them any more.
    pub(crate) fn state_sync(&mut self, index: usize, checkpoint_header: Header) {
        let checkpoint = checkpoint_header.op;
        let replica = &mut self.replicas[index];
        assert!(checkpoint > replica.op_checkpoint);
        replica.commit_max = replica.commit_max.max(checkpoint);
        replica.repairing.clear();
        self.synced[index] = self.synced[index].max(checkpoint);
        self.set_checkpoint(index, checkpoint_header);
        let tick = self.tick;
        self.trace.record(tick, index as u8, &[12, checkpoint], || {
            format!("state sync to checkpoint {checkpoint}")
        });
    }

    pub(crate) fn on_request_prepare(
        &mut self,
        index: usize,
        from: usize,
        op: u64,
        checksum: u32,
    ) -> Check {
        let journal = &self.replicas[index].journal;
        let Some(&header) = journal.header_with_op(op) else {
            return Ok(());
        };
        if header.checksum != checksum || !journal.has_prepare(&header) {
            return Ok(());
        }
        // `has_prepare` vouches for the prepare on disk: where no fault touched it and no write
        // is over it, the bytes there are that prepare.
        let replica = &self.replicas[index];
        let slot = journal.slot_for_op(op);
        let in_flight = |zone: journal::Zone, offset: u64, len: u64| {
            replica
                .in_flight_writes
                .values()
                .any(|&(z, o, l)| z == zone && o < offset + len && offset < o + l)
        };
        self.checkers.journal.check_prepare_claim(
            &observed!(self),
            index,
            slot,
            Some(checksum),
            &in_flight,
        )?;
        match counted(&mut self.replicas[index].journal, |j| {
            j.read_prepare(op, checksum, ReadPurpose::Repair)
        }) {
            Ok(()) => {
                self.replicas[index].repair_reads_in_flight += 1;
                self.serving.push(super::Serving {
                    peer: index,
                    requester: from,
                    op,
                    checksum,
                });
            }
            Err(ReadReject::WaitingForIop) => {
                // The journal keeps two reads for the commit path and lends the rest to repair.
                // The simulator counts the repair reads it has in flight on the peer: refusing
                // one below that share is a leaked read, which would starve repair for the rest
                // of the replica's life.
                let repair_max = self.config.journal.iops_read_max - 2;
                let in_flight = self.replicas[index].repair_reads_in_flight;
                if in_flight < repair_max {
                    return Err(self.failure(
                        "availability",
                        format!(
                            "r{index} refused a repair read with {in_flight} of its \
                             {repair_max} repair reads in flight"
                        ),
                    ));
                }
            }
            Err(_) => {}
        }
        Ok(())
    }

    pub(crate) fn on_repaired(&mut self, index: usize, message: Vec<u8>) {
        let header = Header::decode(&message).expect("the simulator's own prepare");
        let replica = &mut self.replicas[index];
        replica.repairing.remove(&header.op);
        if replica.journal.has_dirty(&header) {
            replica.inbox_insert(header, message);
        }
    }

    /// Finds the newest break in the replica's hash chain above its checkpoint and asks for
    /// those headers: from the primary, or (the primary itself) from a random peer.
    fn repair_headers(&mut self, index: usize) {
        let tick = self.tick;
        let replica = &mut self.replicas[index];
        if tick < replica.headers_request_tick + RETRY_TICKS {
            return;
        }
        let head = replica.op_head().min(replica.op_prepare_max());
        let commit_high = replica.commit_max.min(replica.op_prepare_max());
        let range = if commit_high > head {
            // Committed ops past the head: the primary's pipeline no longer carries them.
            Some((head + 1, commit_high))
        } else if head <= replica.op_checkpoint + 1
            || replica.journal.header_with_op(head).is_none()
        {
            None
        } else {
            let key = (replica.journal.touches(), replica.op_checkpoint + 1, head);
            match replica.headers_break_at {
                Some((at, range)) if at == key => range,
                _ => {
                    let range = replica
                        .journal
                        .find_latest_headers_break_between(key.1, key.2);
                    replica.headers_break_at = Some((key, range));
                    range
                }
            }
        };
        let Some((op_min, op_max)) = range else {
            return;
        };
        let view = replica.view;
        let primary = self.primary_index(view);
        let peer = if primary != index {
            primary
        } else {
            let peer = self.rng.gen_range(0..self.replicas.len() - 1);
            if peer >= index {
                peer + 1
            } else {
                peer
            }
        };
        self.replicas[index].headers_request_tick = tick;
        self.send(index, peer, Message::RequestHeaders { op_min, op_max });
    }

    pub(crate) fn on_request_headers(
        &mut self,
        index: usize,
        from: usize,
        op_min: u64,
        op_max: u64,
    ) {
        let journal = &self.replicas[index].journal;
        let headers: Vec<Header> = (op_min..=op_max)
            .filter_map(|op| journal.header_with_op(op).copied())
            .collect();
        if !headers.is_empty() {
            self.send(index, from, Message::Headers { headers });
        }
    }

    /// Accepts each header that hash-chains to the replica's log: below its head, to the next
    /// op (newest first); past its head, up to its commit, to the op before (oldest first).
    pub(crate) fn on_headers(&mut self, index: usize, headers: &[Header]) {
        let mut headers = headers.to_vec();
        headers.sort_by_key(|h| std::cmp::Reverse(h.op));
        let head = self.replicas[index].op_head();
        for header in headers.iter().filter(|h| h.op < head) {
            let replica = &self.replicas[index];
            if replica.journal.has_header(header) {
                continue;
            }
            let chains = replica
                .header(header.op + 1)
                .is_some_and(|next| next.parent == header.checksum);
            if chains {
                self.adopt_header(index, header);
            }
        }
        for header in headers.iter().rev().filter(|h| h.op > head) {
            let replica = &self.replicas[index];
            if header.op > replica.commit_max {
                break;
            }
            let chains = replica
                .header(header.op - 1)
                .is_some_and(|previous| previous.checksum == header.parent);
            if !chains || !self.adopt_header(index, header) {
                break;
            }
        }
    }

    /// Advances the in-memory checkpoint by half a ring once those ops are committed and held
    /// clean; the superblock makes it durable later.
    fn checkpoint(&mut self, index: usize) {
        // Half a ring, but never past the prepare max (a pipeline longer than half the ring
        // leaves fewer ops than that between two checkpoints).
        let config = &self.config.journal;
        let interval = (config.slot_count / 2).min(config.slot_count - config.pipeline_max);
        let replica = &self.replicas[index];
        let target = replica.op_checkpoint + interval;
        if target > replica.commit_max {
            return;
        }
        // Asked every turn while the ops are committed but not yet all written here: walked
        // again only once the journal changed.
        let key = (replica.journal.touches(), replica.op_checkpoint, target);
        if replica.checkpoint_unheld_at == Some(key) {
            return;
        }
        // Held: each op up to the target clean here, in the committed version. The replica
        // knows the versions by the hash chain: every op from the checkpoint's header up to its
        // head links to the one before, and the head of a replica in normal status in its log
        // view is its view's (a start_view's, or its own as primary), so every op below it is
        // the canonical one. A clean op that does not chain is a superseded version (an older
        // view's prepare a view change or a recovery left behind): the checkpoint waits until
        // repair replaces it (`repair_headers` finds the break), as a replica that executes ops
        // would. (Found by a rule that every version down to the checkpoint is the committed
        // one, tried in issue 30: seed 860 checkpointed over a clean older-view version of op
        // 107. The rule itself is not in the checkers yet: see docs/model-cluster.md.)
        let head = replica.op_head();
        let canonical_head = replica.status == Status::Normal
            && replica.view == replica.superblock_latest().log_view
            && head >= target;
        if !canonical_head {
            // Not a fact about the journal: asked again next turn (not cached below).
            return;
        }
        let held = (replica.op_checkpoint + 1..=head).all(|op| {
            let Some(header) = replica.journal.header_with_op(op) else {
                return false;
            };
            let chains = replica
                .header(op - 1)
                .is_some_and(|previous| previous.checksum == header.parent);
            chains && (op > target || !replica.journal.has_dirty(header))
        });
        if !held {
            self.replicas[index].checkpoint_unheld_at = Some(key);
            return;
        }
        let checkpoint_header = *self.replicas[index]
            .journal
            .header_with_op(target)
            .expect("held clean");
        self.set_checkpoint(index, checkpoint_header);
        let tick = self.tick;
        self.trace.record(tick, index as u8, &[13, target], || {
            format!("checkpoint {target}")
        });
    }

    /// A solo replica's log is what it recovered, up to the first hole or break in the hash
    /// chain (appends a crash tore below later ones that landed). It commits all of it, then
    /// starts a new view, so that versions of an op it truncated here can never be mistaken for
    /// the ones it appends next.
    pub(crate) fn solo_recovered(&mut self, index: usize) -> Check {
        let replica = &self.replicas[index];
        let checkpoint = replica.op_checkpoint;
        let head_recovered = replica.op_head();
        let mut head = checkpoint.max(head_recovered.min(replica.op_prepare_max()));
        for op in checkpoint + 1..=head {
            let journal = &replica.journal;
            let Some(header) = journal.header_with_op(op) else {
                head = op - 1;
                break;
            };
            if journal
                .header_with_op(op - 1)
                .is_some_and(|previous| previous.checksum != header.parent)
            {
                head = op - 1;
                break;
            }
        }
        let committed_max = self.op_committed_max();
        if head < committed_max {
            return Err(self.failure(
                "durability",
                format!(
                    "solo replica recovered head {head} below committed op {committed_max} (recovered op maximum {head_recovered})"
                ),
            ));
        }
        self.truncate_from(index, head + 1);
        let view = self.replicas[index].superblock.view + 1;
        for op in checkpoint + 1..=head {
            let Some(header) = self.replicas[index].journal.header_with_op(op).copied() else {
                return Err(self.failure(
                    "durability",
                    format!("solo replica r{index} lost op {op} below its head {head}"),
                ));
            };
            self.commit(op, header.checksum, view - 1)?;
            self.acknowledged.on_ack(index, op, header.checksum);
        }
        let view_headers = self.view_headers(index, head);
        let replica = &mut self.replicas[index];
        replica.view = view;
        replica.log_view = view;
        replica.commit_max = head;
        replica.status = Status::Normal;
        self.superblock_update(index, |s| {
            s.view = view;
            s.log_view = view;
            s.view_headers = view_headers;
            s.commit_max = head;
        });
        Ok(())
    }

    /// The durable record of a log: its suffix up to `head`, at most a pipeline and one long.
    pub(crate) fn view_headers(&self, index: usize, head: u64) -> Vec<Header> {
        let length = self.config.journal.pipeline_max + 1;
        self.chain_suffix(index, head.saturating_sub(length - 1), head)
    }

    /// The replica's headers from `head` down to `op_low` that form one hash chain, lowest
    /// first: it stops below the first op it lacks or whose header the op above does not name
    /// as parent. A view's durable headers and its `start_view` carry only these: the journal
    /// may still hold a stale version of an op below the part of the log a view change
    /// verified (a committed op the chain walk could not reach), until hash-chain repair
    /// replaces it, and a stale header must never become a view's record of its log.
    pub(crate) fn chain_suffix(&self, index: usize, op_low: u64, head: u64) -> Vec<Header> {
        let journal = &self.replicas[index].journal;
        let mut suffix: Vec<Header> = Vec::new();
        for op in (op_low..=head).rev() {
            let Some(header) = journal.header_with_op(op) else {
                break;
            };
            if suffix
                .last()
                .is_some_and(|above| above.parent != header.checksum)
            {
                break;
            }
            suffix.push(*header);
        }
        suffix.reverse();
        suffix
    }
}
