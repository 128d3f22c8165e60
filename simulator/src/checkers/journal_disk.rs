//! The *journal* checker: every clean slot's redundant header, prepare and zeroed padding on the
//! replica's disk match what the journal holds in memory. Most journal bugs are completions that
//! mark a slot clean against a stale view of it, or shared header sectors carrying a neighbour's
//! header wrong: this is what sees them.
//!
//! It runs in three modes ([`Compare`]), which differ in what the journal can be expected to
//! know. Sectors the disk marks damaged are skipped while the journal cannot have seen the
//! damage (a latent error nobody read yet), and compared where it has: after a recovery (which
//! reads every slot) and where it rejected a read of that very entry (`Replica::damage_read`).
//!
//! It also checks the journal's summaries against its slots (`dirty_count`, `faulty_count`,
//! faulty implies dirty), so that a journal that misreports itself cannot blind the checkers
//! that trust those summaries, and it returns how many slots it compared, so that callers can
//! fail a check that examined nothing it should have.
//!
//! At every I/O-idle point it compares only the slots whose inputs changed since they last
//! passed ([`crate::replica::SlotChecked`]: the journal's entry and marks, and the disk's stamps
//! of the slot's sectors); the other modes, and the final check, sweep every slot. Without the
//! cache, re-checksumming every prepare of the ring at every idle point was most of a seed's
//! cost, growing with ops × slots.

use super::Failure;
use crate::replica::{SlotChecked, ZONE_HEADERS, ZONE_PREPARES};
use crate::Simulation;
use journal::{Header, Zone, HEADER_SIZE};

/// When the journal checker runs, and so what the journal must know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Compare {
    /// No I/O in flight: every clean slot, except sectors with damage the journal never read.
    /// Only slots whose inputs changed since they last passed are compared again.
    Idle,
    /// As `Idle`, but every slot is compared (the end of a run).
    IdleFull,
    /// Right after recovery, which read every slot: a clean slot's bytes must be intact even
    /// where the disk marks damage (a torn rewrite of identical bytes is intact).
    Recovered,
    /// The end of the fault phase, before the liveness phase forgets latent errors and rewrites
    /// the rings: I/O may be in flight, so slots an in-flight write touches are skipped.
    FaultPhaseEnd,
}

impl Simulation {
    /// Compares the replica's clean slots with its disk; returns how many slots it compared.
    pub(crate) fn check_journal_matches_disk(
        &self,
        index: usize,
        mode: Compare,
    ) -> Result<u64, Failure> {
        let replica = &self.replicas[index];
        let journal = &replica.journal;
        let config = journal.config();
        let sector_size = config.sector_size;
        let in_flight = |zone: Zone, offset: u64, len: u64| {
            mode == Compare::FaultPhaseEnd
                && replica
                    .in_flight_writes
                    .values()
                    .any(|&(z, o, l)| z == zone && o < offset + len && offset < o + l)
        };
        // After a recovery, header damage is unseen only if a fault made it after the recovery's
        // reads: on one of its own `fix` writes. Recovery writes no prepare.
        let faults_since_restart =
            &replica.disk.fault_log().records()[replica.fault_log_at_restart..];
        let damage_unseen = |zone, offset, len, seen: bool| {
            replica.disk.range_faulty(zone, offset, len)
                && (!seen
                    || zone == ZONE_HEADERS
                        && faults_since_restart
                            .iter()
                            .any(|record| record.overlaps(zone, offset, len)))
        };
        let checked_at = (journal.mutations(), replica.disk.stamp_last());
        if mode == Compare::Idle && replica.journal_checked_at.get() == Some(checked_at) {
            // Neither the journal nor the disk changed since every slot passed.
            return Ok(replica.journal_compared.get());
        }
        replica.journal_checked_at.set(None);
        let (mut dirty_count, mut faulty_count, mut compared) = (0usize, 0usize, 0u64);
        let mut checked = replica.journal_checked.borrow_mut();
        assert_eq!(checked.len() as u64, config.slot_count);
        for slot in 0..config.slot_count {
            let (dirty, faulty) = (journal.dirty(slot), journal.faulty(slot));
            dirty_count += usize::from(dirty);
            faulty_count += usize::from(faulty);
            if faulty && !dirty {
                return Err(self.failure(
                    "knowledge",
                    format!("r{index} slot {slot} is faulty but not dirty"),
                ));
            }
            let header = *journal.header(slot);
            if dirty || header.is_reserved() {
                // Removal cleans a slot in memory without writing it: reserved slots are skipped.
                continue;
            }
            compared += 1;
            let sector_offset = slot / config.headers_per_sector() * sector_size;
            let size_ceil = config.sector_ceil(u64::from(header.size));
            let prepare_offset = slot * config.message_size_max;
            let inputs = SlotChecked {
                header,
                dirty,
                faulty,
                damage_read: replica.damage_read[slot as usize],
                // Both ranges lie within one disk zone slot (a sector; a message).
                header_stamp: replica.disk.slot_stamp(ZONE_HEADERS, sector_offset),
                prepare_stamp: replica.disk.slot_stamp(ZONE_PREPARES, prepare_offset),
            };
            let cached = &mut checked[slot as usize];
            if mode == Compare::Idle && *cached == Some(inputs) {
                continue;
            }
            // Only an `Idle`-mode pass may be reused by `Idle`: the other modes excuse or skip
            // different damage.
            *cached = None;
            let header_damage_unseen = damage_unseen(
                ZONE_HEADERS,
                sector_offset,
                sector_size,
                mode == Compare::Recovered,
            );
            if !header_damage_unseen && !in_flight(Zone::WalHeaders, sector_offset, sector_size) {
                let sector = replica.disk.peek(ZONE_HEADERS, sector_offset, sector_size);
                let within = (slot * HEADER_SIZE - sector_offset) as usize;
                let bytes = &sector[within..within + HEADER_SIZE as usize];
                if Header::decode(bytes) != Ok(header) {
                    return Err(self.failure("journal", format!("r{index} slot {slot} is clean with op {} but its redundant header on disk differs: {:?}", header.op, Header::decode(bytes).map(|h| (h.op, h.view)))));
                }
            }
            let seen = mode == Compare::Recovered
                || replica.damage_read[slot as usize] == Some(header.checksum);
            let prepare_damage_unseen =
                damage_unseen(ZONE_PREPARES, prepare_offset, size_ceil, seen);
            if !prepare_damage_unseen && !in_flight(Zone::WalPrepares, prepare_offset, size_ceil) {
                let bytes = replica.disk.peek(ZONE_PREPARES, prepare_offset, size_ceil);
                let size = header.size as usize;
                let intact = Header::decode(bytes) == Ok(header)
                    && header.valid_checksum_body(&bytes[HEADER_SIZE as usize..size])
                    && bytes[size..].iter().fold(0, |any, &b| any | b) == 0;
                if !intact {
                    let checker = if replica.damage_read[slot as usize] == Some(header.checksum) {
                        "knowledge"
                    } else {
                        "journal"
                    };
                    return Err(self.failure(checker, format!("r{index} slot {slot} is clean with op {} but its prepare on disk differs ({mode:?}{})", header.op, if checker == "knowledge" { "; the journal read that damage and rejected it" } else { "" })));
                }
            }
            if matches!(mode, Compare::Idle | Compare::IdleFull) {
                checked[slot as usize] = Some(inputs);
            }
        }
        if journal.dirty_count() != dirty_count || journal.faulty_count() != faulty_count {
            return Err(self.failure(
                "knowledge",
                format!(
                    "r{index} reports {} dirty and {} faulty slots, but its slots say {dirty_count} and {faulty_count}",
                    journal.dirty_count(),
                    journal.faulty_count()
                ),
            ));
        }
        if matches!(mode, Compare::Idle | Compare::IdleFull) {
            replica.journal_checked_at.set(Some(checked_at));
            replica.journal_compared.set(compared);
        }
        Ok(compared)
    }
}
