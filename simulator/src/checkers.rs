//! Checkers: what every run must prove, evaluated as the run goes and at its end.
//!
//! - *read*: `read_prepare` never returns bytes that differ from what was written for that
//!   checksum (in `simulation.rs`, on every repair read).
//! - *availability*: a solo replica always comes back with no unrecoverable slot.
//! - *recovery*: after every recovery, faulty implies dirty, no slot is both loaded and faulty,
//!   and every slot that did not recover clean (`eql`/`nil`) is explained: a write to it was in
//!   flight at the crash, it was not clean before the crash, the disk's fault log names it, or it
//!   lies past the durable prepare max (`cut`). A repaired slot therefore stays repaired across
//!   the next crash.
//! - *journal*: whenever a replica has no I/O in flight, every clean slot's redundant header,
//!   prepare and zeroed padding on its disk match what the journal holds (slots the disk's fault
//!   state marks are skipped: a fault there is expected, and the journal cannot know yet).
//! - *durability*: at the end, every replica holds the canonical header of every op in its window
//!   clean, so no acknowledged op is lost; a solo replica never recovers below its acknowledged head.
//! - *liveness*: with faults off, the cluster becomes clean within a bounded number of ticks.

use crate::replica::{ZONE_HEADERS, ZONE_PREPARES};
use crate::simulation::Simulation;
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
        let faults = replica.disk.fault_log();
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
            let faulted = faults
                .records_in(
                    ZONE_PREPARES,
                    slot * config.message_size_max,
                    config.message_size_max,
                )
                .next()
                .is_some()
                || faults
                    .records_in(ZONE_HEADERS, sector_offset, config.sector_size)
                    .next()
                    .is_some();
            if !faulted && !replica.crash_affected[slot as usize] {
                return Err(self.failure("recovery", format!(
                    "r{index} slot {slot} recovered as {} {} but no write was in flight there at the crash, it was clean, and the fault log names no fault on it",
                    recovery.label, recovery.decision.name()
                )));
            }
        }
        Ok(())
    }

    pub(crate) fn check_final(&self) -> Result<(), Failure> {
        for (index, replica) in self.replicas.iter().enumerate() {
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
