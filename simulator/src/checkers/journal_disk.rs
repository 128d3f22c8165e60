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
//! `touches`, faulty implies dirty), so that a journal that misreports itself cannot blind the
//! checkers that trust those summaries, and it returns how many slots it compared, so that callers
//! can fail a check that examined nothing it should have.
//!
//! At every I/O-idle point it compares only the slots whose inputs changed since they last
//! passed ([`crate::replica::SlotChecked`]: the journal's entry and marks, and the disk's stamps
//! of the slot's sectors); the other modes, and the final check, sweep every slot. Without the
//! cache, re-checksumming every prepare of the ring at every idle point was most of a seed's
//! cost, growing with ops × slots.

use super::{Failure, Observed};
use crate::replica::{SlotChecked, ZONE_HEADERS, ZONE_PREPARES};
use journal::{Header, Zone, HEADER_SIZE};

/// When the journal checker runs, and so what the journal must know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compare {
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

impl Compare {
    /// Whether a slot that passed in this mode passes `Idle` with the same inputs, so that
    /// `Idle` may skip it until they change. `Recovered` is stricter than `Idle`: the damage it
    /// excuses as unseen is a subset of what `Idle` excuses, in header sectors and prepares
    /// alike, so it compares wherever `Idle` does. It runs once per restart, right after the
    /// cache was emptied; letting it fill the cache spares the first idle point after each
    /// restart a second sweep. `FaultPhaseEnd` skips slots under writes in flight, which `Idle`
    /// compares.
    fn vouches_for_idle(self) -> bool {
        match self {
            Compare::Idle | Compare::IdleFull | Compare::Recovered => true,
            Compare::FaultPhaseEnd => false,
        }
    }
}

/// The *journal* checker's observer, fed at every I/O-idle point of a replica, after every
/// recovery (through the *knowledge* checker), at the fault phase's end and at the end of the
/// run, and by every repair read a replica serves (`check_prepare_claim`). Its cache of slots
/// that passed is kept with the replica (`Replica::journal_checked` and the like), where the
/// replica's restarts reset it.
#[derive(Clone, Copy, Debug, Default)]
pub struct JournalChecker;

impl JournalChecker {
    /// Compares the replica's clean slots with its disk; returns how many slots it compared.
    /// `damage_read`: per slot, the prepare whose damaged bytes the journal read and rejected
    /// (the *knowledge* checker's memory).
    pub fn compare(
        &self,
        observed: &Observed,
        damage_read: &[Option<u32>],
        index: usize,
        mode: Compare,
    ) -> Result<u64, Failure> {
        let replica = &observed.replicas[index];
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
        // Not `touches()`: a read the journal rejects changes what this compares
        // (`damage_read`) though the journal may touch no slot.
        let checked_at = (journal.mutations(), replica.disk.stamp_last());
        let checked_at_before = replica.journal_checked_at.get();
        if mode == Compare::Idle && checked_at_before == Some(checked_at) {
            // Neither the journal nor the disk changed since every slot passed.
            return Ok(replica.journal_compared.get());
        }
        // The journal claims no call changed it since every slot was last cached.
        let mutations_unchanged = checked_at_before.is_some_and(|(m, _)| m == checked_at.0);
        replica.journal_checked_at.set(None);
        let (mut dirty_count, mut faulty_count, mut compared) = (0usize, 0usize, 0u64);
        let mut touches_sum = 0u32;
        let mut checked = replica.journal_checked.borrow_mut();
        assert_eq!(checked.len() as u64, config.slot_count);
        for slot in 0..config.slot_count {
            let (dirty, faulty) = (journal.dirty(slot), journal.faulty(slot));
            touches_sum = touches_sum.wrapping_add(journal.slot_touches(slot));
            dirty_count += usize::from(dirty);
            faulty_count += usize::from(faulty);
            if faulty && !dirty {
                return Err(observed.failure(
                    "knowledge",
                    format!("r{index} slot {slot} is faulty but not dirty"),
                ));
            }
            let header = *journal.header(slot);
            let inputs = SlotChecked {
                header,
                dirty,
                faulty,
                prepare_checksum: journal.prepare_checksum(slot),
                touches: journal.slot_touches(slot),
                damage_read: damage_read[slot as usize],
                // Both ranges lie within one disk zone slot (a sector; a message).
                header_stamp: replica
                    .disk
                    .stamp_at(replica.slot_stamp_indexes[slot as usize].0),
                prepare_stamp: replica
                    .disk
                    .stamp_at(replica.slot_stamp_indexes[slot as usize].1),
            };
            // Removal cleans a slot in memory without writing it: reserved slots are not
            // compared with the disk.
            let clean = !dirty && !header.is_reserved();
            compared += u64::from(clean);
            if mode == Compare::Idle && checked[slot as usize].as_ref() == Some(&inputs) {
                continue;
            }
            let cached = checked[slot as usize];
            let sector_offset = config.header_sector_offset(slot);
            let prepare_offset = slot * config.message_size_max;
            // What the journal says of its own changes, against what changed.
            if let Some(before) = cached.filter(|b| b.journal_state() != inputs.journal_state()) {
                let claim = if before.touches == inputs.touches {
                    Some("slot_touches")
                } else if mutations_unchanged {
                    Some("mutations")
                } else {
                    None
                };
                if let Some(claim) = claim {
                    return Err(observed.failure(
                        "knowledge",
                        format!("r{index} slot {slot} changed (op {} dirty {} faulty {} prepare {:?} to op {} dirty {dirty} faulty {faulty} prepare {:?}) but the journal's {claim}() did not", before.header.op, before.dirty, before.faulty, before.prepare_checksum, header.op, inputs.prepare_checksum),
                    ));
                }
            }
            // Only a pass at least as strict as `Idle`'s may be reused by `Idle`.
            checked[slot as usize] = None;
            if !clean {
                self.check_prepare_claim(
                    observed,
                    index,
                    slot,
                    inputs.prepare_checksum,
                    &in_flight,
                )?;
                if mode.vouches_for_idle() {
                    checked[slot as usize] = Some(inputs);
                }
                continue;
            }
            let size_ceil = config.sector_ceil(u64::from(header.size));
            let header_damage_unseen = damage_unseen(
                ZONE_HEADERS,
                sector_offset,
                sector_size,
                mode == Compare::Recovered,
            );
            // Bytes found intact for this very header are intact still while their zone slot's
            // stamp has not moved (the comparison is a function of the bytes and the header):
            // recovery's full sweeps would otherwise decode every slot again at every restart.
            let mut verified = replica.bytes_verified.borrow_mut();
            let (redundant_verified, prepare_verified) = &mut verified[slot as usize];
            // A header read misdirected since the restart handed recovery another sector's
            // bytes: a stale copy of this one (misdirected there by an earlier write) holds a
            // header valid for this slot, which recovery could not tell from the one here
            // (seed 15440: op 13's own header, read while the disk held the fault an earlier
            // recovery recorded). What recovery loaded is checked against the prepare below.
            let header_misread = faults_since_restart.iter().any(|record| {
                matches!(record.kind, fault_models::FaultKind::MisdirectedRead { .. })
                    && record.overlaps(ZONE_HEADERS, sector_offset, sector_size)
            });
            if !header_damage_unseen
                && !header_misread
                && !in_flight(Zone::WalHeaders, sector_offset, sector_size)
                && *redundant_verified != Some((inputs.header_stamp, header))
            {
                let sector = replica.disk.peek(ZONE_HEADERS, sector_offset, sector_size);
                let within = (slot * HEADER_SIZE - sector_offset) as usize;
                let bytes = &sector[within..within + HEADER_SIZE as usize];
                if Header::decode(bytes) != Ok(header) {
                    return Err(observed.failure("journal", format!("r{index} slot {slot} is clean with op {} but its redundant header on disk differs: {:?}", header.op, Header::decode(bytes).map(|h| (h.op, h.view)))));
                }
                *redundant_verified = Some((inputs.header_stamp, header));
            }
            // Recovery read every prepare, unless a read was misdirected: then it vouched for
            // bytes from elsewhere (valid for this slot, misdirected there earlier) and cannot
            // have seen damage here.
            let misread = faults_since_restart.iter().any(|record| {
                matches!(record.kind, fault_models::FaultKind::MisdirectedRead { .. })
                    && record.overlaps(ZONE_PREPARES, prepare_offset, size_ceil)
            });
            let seen = mode == Compare::Recovered && !misread
                || damage_read[slot as usize] == Some(header.checksum);
            let prepare_damage_unseen =
                damage_unseen(ZONE_PREPARES, prepare_offset, size_ceil, seen);
            if !prepare_damage_unseen
                && !in_flight(Zone::WalPrepares, prepare_offset, size_ceil)
                && *prepare_verified != Some((inputs.prepare_stamp, header))
            {
                let bytes = replica.disk.peek(ZONE_PREPARES, prepare_offset, size_ceil);
                let size = header.size as usize;
                let intact = Header::decode(bytes) == Ok(header)
                    && header.valid_checksum_body(&bytes[HEADER_SIZE as usize..size])
                    && journal::bytes::all_zero(&bytes[size..]);
                if !intact {
                    let checker = if damage_read[slot as usize] == Some(header.checksum) {
                        "knowledge"
                    } else {
                        "journal"
                    };
                    return Err(observed.failure(checker, format!("r{index} slot {slot} is clean with op {} but its prepare on disk differs ({mode:?}{})", header.op, if checker == "knowledge" { "; the journal read that damage and rejected it" } else { "" })));
                }
                *prepare_verified = Some((inputs.prepare_stamp, header));
            }
            drop(verified);
            // (After the comparison above, which names a clean slot's damage more precisely, and
            // which already read the very bytes the journal vouches for when it vouches for the
            // slot's own entry.)
            if inputs.prepare_checksum != Some(header.checksum) {
                self.check_prepare_claim(
                    observed,
                    index,
                    slot,
                    inputs.prepare_checksum,
                    &in_flight,
                )?;
            }
            if mode.vouches_for_idle() {
                checked[slot as usize] = Some(inputs);
            }
        }
        if journal.dirty_count() != dirty_count || journal.faulty_count() != faulty_count {
            return Err(observed.failure(
                "knowledge",
                format!(
                    "r{index} reports {} dirty and {} faulty slots, but its slots say {dirty_count} and {faulty_count}",
                    journal.dirty_count(),
                    journal.faulty_count()
                ),
            ));
        }
        // The model's caches skip their walks while `touches()` holds: it must be the sum of
        // the slots' counts, which the comparison above holds to every change of a slot.
        if journal.touches() as u32 != touches_sum {
            return Err(observed.failure(
                "knowledge",
                format!(
                    "r{index} reports {} slot touches, but its slots' counts sum to {touches_sum} (mod 2^32)",
                    journal.touches()
                ),
            ));
        }
        if mode.vouches_for_idle() {
            replica.journal_checked_at.set(Some(checked_at));
            replica.journal_compared.set(compared);
        }
        Ok(compared)
    }

    /// The journal's claim that slot `slot`'s prepare zone holds the valid prepare `claimed`
    /// (`Journal::prepare_checksum`, which vouches for prepares to serve peers): where no fault
    /// touched those sectors and no write is over them, the bytes there are that prepare.
    pub fn check_prepare_claim(
        &self,
        observed: &Observed,
        index: usize,
        slot: u64,
        claimed: Option<u32>,
        in_flight: &dyn Fn(Zone, u64, u64) -> bool,
    ) -> Result<(), Failure> {
        let Some(claimed) = claimed else {
            return Ok(());
        };
        let replica = &observed.replicas[index];
        // Verified in full for this claim before, and the prepare's zone slot unchanged since
        // (its disk stamp): the same bytes verify again.
        let stamp = replica
            .disk
            .stamp_at(replica.slot_stamp_indexes[slot as usize].1);
        if replica.claim_verified.borrow()[slot as usize] == Some((stamp, claimed)) {
            return Ok(());
        }
        let config = replica.journal.config();
        let offset = slot * config.message_size_max;
        let untouched = |len| {
            !replica.disk.range_faulty(ZONE_PREPARES, offset, len)
                && !in_flight(Zone::WalPrepares, offset, len)
        };
        // Recovery vouches for what it read: a read misdirected from another slot that holds a
        // prepare of this slot (itself misdirected there earlier) is damage it cannot see.
        let misread = replica.disk.fault_log().records()[replica.fault_log_at_restart..]
            .iter()
            .any(|record| {
                matches!(record.kind, fault_models::FaultKind::MisdirectedRead { .. })
                    && record.overlaps(ZONE_PREPARES, offset, config.message_size_max)
            });
        if misread || !untouched(config.sector_size) {
            return Ok(());
        }
        let bytes = replica.disk.peek(ZONE_PREPARES, offset, config.sector_size);
        let header = match Header::decode(bytes) {
            Ok(header) if header.checksum == claimed => header,
            found => {
                return Err(observed.failure(
                    "knowledge",
                    format!(
                        "r{index} slot {slot} vouches for prepare {claimed:08x} on disk, but the disk holds {:?}",
                        found.map(|h| (h.op, format!("{:08x}", h.checksum)))
                    ),
                ))
            }
        };
        let size_ceil = config.sector_ceil(u64::from(header.size));
        if size_ceil <= config.message_size_max && untouched(size_ceil) {
            let bytes = replica.disk.peek(ZONE_PREPARES, offset, size_ceil);
            if !header.valid_checksum_body(&bytes[HEADER_SIZE as usize..header.size as usize]) {
                return Err(observed.failure(
                    "knowledge",
                    format!("r{index} slot {slot} vouches for prepare {claimed:08x} (op {}), but its body on disk is not that prepare's", header.op),
                ));
            }
            replica.claim_verified.borrow_mut()[slot as usize] = Some((stamp, claimed));
        }
        Ok(())
    }
}
