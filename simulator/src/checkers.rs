//! Checkers: what every run must prove, evaluated as the run goes and at its end.
//!
//! - *read*: `read_prepare` never returns bytes that differ from what was written for that
//!   checksum, nor accepts a read whose sector padding after the prepare is not zero (in
//!   `simulation.rs`, on every repair read).
//! - *availability*: a solo replica always comes back with no unrecoverable slot.
//! - *recovery*: after every recovery, faulty implies dirty, no slot is both loaded and faulty,
//!   and every slot that did not recover clean (`eql`/`nil`) is explained: a write to it was in
//!   flight at the crash, it was not clean before the crash, the previous recovery found it
//!   damaged and nothing rewrote it since, the disk stored a fault on it at the restart, the disk's fault
//!   log names a fault on it injected since the previous restart, or it lies past the durable
//!   prepare max (`cut`). A repaired slot therefore stays repaired across
//!   the next crash.
//! - *journal*: whenever a replica has no I/O in flight, every clean slot's redundant header,
//!   prepare and zeroed padding on its disk match what the journal holds (slots the disk's fault
//!   state marks are skipped: a fault there is expected, and the journal cannot know yet).
//! - *durability*: after every recovery, every acknowledged op that no replica has checkpointed
//!   has an intact copy on some replica's disk (crashed replicas included); a solo replica never
//!   recovers below its acknowledged head; at the end, every replica holds the canonical header of
//!   every op in its window clean.
//! - *acked*: after every recovery, every op the replica acknowledged above its durable
//!   checkpoint is still in its journal, or its slot is faulty, or recovery cut the slot; unless
//!   the disk silently dropped both a prepare write and a header-sector write of that slot.
//! - *liveness*: with faults off, the cluster becomes clean within a bounded number of ticks.

use crate::replica::{ZONE_HEADERS, ZONE_PREPARES};
use crate::simulation::Simulation;
use fault_models::FaultKind;
use journal::{Decision, Header, SlotRecovery, HEADER_SIZE};
use serde::{Deserialize, Serialize};

/// A checker that fired.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub checker: &'static str,
    pub message: String,
    pub tick: u64,
}

impl Simulation {
    pub(crate) fn check_journal_matches_disk(&self, index: usize) -> Result<(), Failure> {
        let replica = &self.replicas[index];
        let config = replica.journal.config();
        for slot in 0..config.slot_count {
            let header = *replica.journal.header(slot);
            if replica.journal.dirty(slot) || header.is_reserved() {
                // Removal cleans a slot in memory without writing it: reserved slots are skipped.
                continue;
            }
            let sector_offset = slot / config.headers_per_sector() * config.sector_size;
            if !replica
                .disk
                .range_faulty(ZONE_HEADERS, sector_offset, config.sector_size)
            {
                let sector = replica
                    .disk
                    .peek(ZONE_HEADERS, sector_offset, config.sector_size);
                let within = (slot * HEADER_SIZE - sector_offset) as usize;
                let bytes = &sector[within..within + HEADER_SIZE as usize];
                if Header::decode(bytes) != Ok(header) {
                    return Err(self.failure("journal", format!("r{index} slot {slot} is clean with op {} but its redundant header on disk differs: {:?}", header.op, Header::decode(bytes).map(|h| (h.op, h.view)))));
                }
            }
            let size_ceil = config.sector_ceil(u64::from(header.size));
            let prepare_offset = slot * config.message_size_max;
            if !replica
                .disk
                .range_faulty(ZONE_PREPARES, prepare_offset, size_ceil)
            {
                let bytes = replica.disk.peek(ZONE_PREPARES, prepare_offset, size_ceil);
                let size = header.size as usize;
                let intact = Header::decode(bytes) == Ok(header)
                    && header.valid_checksum_body(&bytes[HEADER_SIZE as usize..size])
                    && bytes[size..].iter().all(|&b| b == 0);
                if !intact {
                    return Err(self.failure("journal", format!("r{index} slot {slot} is clean with op {} but its prepare on disk differs", header.op)));
                }
            }
        }
        Ok(())
    }

    pub(crate) fn check_recovery(
        &self,
        index: usize,
        recoveries: &[(u64, SlotRecovery)],
    ) -> Result<(), Failure> {
        let replica = &self.replicas[index];
        let config = replica.journal.config();
        // Damage older than the previous restart was read by that recovery (it reads every slot)
        // and left its slot dirty until rewritten, which `crash_affected` covers.
        let faults_recent =
            &replica.disk.fault_log().records()[replica.fault_log_at_restart_previous..];
        for &(slot, recovery) in recoveries {
            if replica.journal.faulty(slot) {
                if !replica.journal.dirty(slot) {
                    return Err(self.failure(
                        "recovery",
                        format!("r{index} slot {slot} faulty but not dirty"),
                    ));
                }
                if !replica.journal.header(slot).is_reserved() {
                    return Err(self.failure(
                        "recovery",
                        format!("r{index} slot {slot} loaded a header and marked it faulty"),
                    ));
                }
            }
            if matches!(
                recovery.decision,
                Decision::Eql | Decision::Nil | Decision::Cut
            ) {
                continue;
            }
            let sector_offset = slot / config.headers_per_sector() * config.sector_size;
            let touches_slot = |record: &&fault_models::FaultRecord| {
                record.overlaps(
                    ZONE_PREPARES,
                    slot * config.message_size_max,
                    config.message_size_max,
                ) || record.overlaps(ZONE_HEADERS, sector_offset, config.sector_size)
            };
            let faulted = faults_recent.iter().any(|record| touches_slot(&record));
            let explained = faulted
                || replica.stored_faulty_at_restart[slot as usize]
                || replica.crash_affected[slot as usize]
                || replica.damaged[slot as usize];
            if !explained {
                let older: Vec<String> = replica
                    .disk
                    .fault_log()
                    .records()
                    .iter()
                    .filter(touches_slot)
                    .map(|record| format!("tick {} {:?}", record.tick, record.kind))
                    .collect();
                return Err(self.failure("recovery", format!(
                    "r{index} slot {slot} recovered as {} {} but no write was in flight there at the crash, it was clean, and the fault log names no fault on it since the previous restart (older faults on it: [{}])",
                    recovery.label, recovery.decision.name(), older.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// No acknowledged op is lost: every op a quorum acknowledged that no replica has yet
    /// checkpointed (and so could not be recovered by state sync) has an intact copy, header,
    /// body and zeroed padding, on at least one replica's disk, crashed replicas included.
    pub(crate) fn check_acked_retained(&self) -> Result<(), Failure> {
        let checkpoint_max = self
            .replicas
            .iter()
            .map(|r| r.superblock.op_checkpoint)
            .max()
            .unwrap_or(0);
        for op in checkpoint_max + 1..=self.op_acked_max {
            let header = &self.log[op as usize];
            let message = &self.messages[&header.checksum];
            let intact = self.replicas.iter().any(|replica| {
                let config = replica.journal.config();
                let offset = replica.journal.slot_for_op(op) * config.message_size_max;
                let size_ceil = config.sector_ceil(message.len() as u64);
                // A torn rewrite of the same bytes marks sectors faulty yet leaves them intact: the
                // stored bytes decide, unless reads of them fail or come back altered.
                if replica
                    .disk
                    .range_unreadable(ZONE_PREPARES, offset, size_ceil)
                {
                    return false;
                }
                let bytes = replica.disk.peek(ZONE_PREPARES, offset, size_ceil);
                bytes[..message.len()] == message[..]
                    && bytes[message.len()..].iter().all(|&b| b == 0)
            });
            if !intact {
                let copies: Vec<String> = self
                    .replicas
                    .iter()
                    .map(|replica| {
                        let config = replica.journal.config();
                        let offset = replica.journal.slot_for_op(op) * config.message_size_max;
                        match Header::decode(replica.disk.peek(
                            ZONE_PREPARES,
                            offset,
                            config.sector_size,
                        )) {
                            Ok(found) => format!(
                                "r{} holds op {} checksum {:08x}",
                                replica.index, found.op, found.checksum
                            ),
                            Err(error) => {
                                format!("r{} holds no valid header ({error})", replica.index)
                            }
                        }
                    })
                    .collect();
                return Err(self.failure(
                    "durability",
                    format!(
                        "acknowledged op {op} (checksum {:08x}) has no intact copy on any replica's disk: {}",
                        header.checksum,
                        copies.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// A replica never forgets an op it acknowledged: after its recovery, every op it acknowledged
    /// above its durable checkpoint and within its prepare max is still its slot's header, or the
    /// slot is faulty (to be repaired by checksum), or recovery cut the slot (it held a prepare
    /// past the prepare max). The one excuse is a disk that silently dropped both copies: a lost
    /// or misdirected write of the slot's prepare and one of its header sector.
    pub(crate) fn check_acked_held(
        &self,
        index: usize,
        recoveries: &[(u64, SlotRecovery)],
    ) -> Result<(), Failure> {
        let replica = &self.replicas[index];
        let config = replica.journal.config();
        let records = replica.disk.fault_log().records();
        let dropped = |zone, offset, len| {
            records.iter().any(|record| {
                matches!(
                    record.kind,
                    FaultKind::LostWrite | FaultKind::MisdirectedWrite { .. }
                ) && record.overlaps(zone, offset, len)
            })
        };
        let ops = replica.op_checkpoint + 1..=replica.op_prepare_max();
        for (&op, &acks) in self.acks.range(ops) {
            let header = &self.log[op as usize];
            let slot = replica.journal.slot_for_op(op);
            if acks & (1 << index) == 0
                || replica.journal.has_header(header)
                || replica.journal.faulty(slot)
            {
                continue;
            }
            let recovery = recoveries.iter().find(|(s, _)| *s == slot).map(|(_, r)| *r);
            if recovery.is_some_and(|r| r.decision == Decision::Cut) {
                continue;
            }
            let sector_offset = slot / config.headers_per_sector() * config.sector_size;
            if dropped(
                ZONE_PREPARES,
                slot * config.message_size_max,
                config.message_size_max,
            ) && dropped(ZONE_HEADERS, sector_offset, config.sector_size)
            {
                continue;
            }
            return Err(self.failure(
                "acked",
                format!(
                    "r{index} acknowledged op {op} but recovered slot {slot} without it and not faulty ({})",
                    recovery.map_or_else(
                        || "not decided".to_string(),
                        |r| format!("{} {}", r.label, r.decision.name())
                    )
                ),
            ));
        }
        Ok(())
    }

    /// The end of the liveness phase. `all_clean` decides *when* to stop from the journal's own
    /// summaries (`dirty_count`, `io_idle`); this proves the state it stopped in from the parts
    /// themselves, so a journal that misreports itself clean cannot end a run early unnoticed.
    pub(crate) fn check_final(&self) -> Result<(), Failure> {
        for (index, replica) in self.replicas.iter().enumerate() {
            let in_flight = replica.disk.pending_count();
            if in_flight > 0 || !replica.in_flight_writes.is_empty() {
                return Err(self.failure(
                    "liveness",
                    format!("r{index} ends with {in_flight} I/Os still in flight on its disk"),
                ));
            }
            let slot_count = replica.journal.config().slot_count;
            if let Some(slot) = (0..slot_count)
                .find(|&slot| replica.journal.dirty(slot) || replica.journal.faulty(slot))
            {
                return Err(self.failure(
                    "liveness",
                    format!(
                        "r{index} ends with slot {slot} not repaired (dirty {}, faulty {})",
                        replica.journal.dirty(slot),
                        replica.journal.faulty(slot)
                    ),
                ));
            }
            let high = self.log.len() as u64 - 1;
            for op in replica.op_checkpoint + 1..=high.min(replica.op_prepare_max()) {
                let header = &self.log[op as usize];
                if !replica.journal.has_header(header) || replica.journal.has_dirty(header) {
                    return Err(self.failure(
                        "durability",
                        format!("r{index} does not hold op {op} clean at the end"),
                    ));
                }
            }
            self.check_journal_matches_disk(index)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replica::Status;
    use crate::swarm::RunConfig;

    /// A cluster seed with faults off, run until some op is acknowledged and every replica is up
    /// and idle, so that any damage the test makes is the only damage.
    fn quiet_cluster() -> Simulation {
        for seed in 0.. {
            let mut config = RunConfig::draw(seed);
            if config.replica_count < 2 {
                continue;
            }
            config.faults = fault_models::FaultConfig::default();
            config.crash_probability = 0.0;
            config.view_change_probability = 0.0;
            let mut simulation = Simulation::new(config, false);
            for _ in 0..2_000 {
                simulation.step().expect("no checker fires without faults");
                let idle = simulation
                    .replicas
                    .iter()
                    .all(|r| r.status == Status::Up && r.journal.io_idle());
                if idle && simulation.op_acked_max >= 3 {
                    return simulation;
                }
            }
        }
        unreachable!("some seed acknowledges ops")
    }

    #[test]
    fn acked_op_with_every_copy_damaged_is_reported_lost() {
        let mut simulation = quiet_cluster();
        simulation.check_acked_retained().expect("intact");
        let op = simulation.op_acked_max;
        // Damage one copy: another replica still holds it.
        let config = simulation.config.journal;
        let offset = (op % config.slot_count) * config.message_size_max;
        simulation.replicas[0].disk.poke(
            ZONE_PREPARES,
            offset,
            &vec![0xa5; config.sector_size as usize],
        );
        simulation.check_acked_retained().expect("one copy is left");
        for replica in &mut simulation.replicas {
            replica.disk.poke(
                ZONE_PREPARES,
                offset,
                &vec![0xa5; config.sector_size as usize],
            );
        }
        let failure = simulation
            .check_acked_retained()
            .expect_err("every copy is gone");
        assert_eq!(failure.checker, "durability");
        assert!(failure.message.contains(&format!("acknowledged op {op} ")));
    }

    #[test]
    fn clean_slot_whose_disk_bytes_changed_is_reported() {
        let mut simulation = quiet_cluster();
        simulation.check_journal_matches_disk(1).expect("matches");
        let op = simulation.op_acked_max;
        let config = simulation.config.journal;
        let offset = (op % config.slot_count) * config.message_size_max;
        let mut sector = simulation.replicas[1]
            .disk
            .peek(ZONE_PREPARES, offset, config.sector_size)
            .to_vec();
        // One bit of the header: the checksum no longer matches.
        sector[40] ^= 1;
        simulation.replicas[1]
            .disk
            .poke(ZONE_PREPARES, offset, &sector);
        let failure = simulation
            .check_journal_matches_disk(1)
            .expect_err("the prepare on disk differs");
        assert_eq!(failure.checker, "journal");
    }

    /// A run may only end with every slot repaired and nothing in flight, whatever the journal's
    /// own summaries say: `check_final` looks at each slot and at the disk's queue.
    #[test]
    fn final_check_refuses_a_dirty_slot_and_io_in_flight() {
        let mut simulation = quiet_cluster();
        let op = simulation.op_acked_max;
        let header = simulation.log[op as usize];
        assert!(simulation.replicas[1].journal.has_header(&header));
        simulation.replicas[1].journal.set_header_as_dirty(&header);
        let failure = simulation.check_final().expect_err("a dirty slot is left");
        assert_eq!(failure.checker, "liveness");
        assert!(
            failure.message.contains("not repaired"),
            "{}",
            failure.message
        );

        let mut simulation = quiet_cluster();
        let tick = simulation.tick;
        simulation.replicas[0]
            .disk
            .submit_read(tick, 0, ZONE_PREPARES, 0, 512);
        let failure = simulation.check_final().expect_err("a read is in flight");
        assert_eq!(failure.checker, "liveness");
        assert!(failure.message.contains("in flight"), "{}", failure.message);
    }
}
