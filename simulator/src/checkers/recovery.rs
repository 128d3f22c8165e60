//! The *recovery* checker: after every recovery, faulty implies dirty, no slot is both loaded
//! and faulty, and every slot that did not recover clean (`eql`/`nil`) is explained: a write to
//! it was in flight at the crash, it was not clean before the crash, the previous recovery found
//! it damaged and nothing rewrote it since, the disk stored a fault on it at the restart, the
//! disk's fault log names a fault on it injected since the previous restart, or it lies past the
//! durable prepare max (`cut`). A repaired slot therefore stays repaired across the next crash.
//!
//! Recovery may not invent faults: a slot recovered `vsr` (faulty, to be repaired, or
//! unrecoverable for a solo replica) must be one whose stored bytes leave the table no other
//! choice. [`decision_from_stored_bytes`] holds the rules, read from the disk's bytes and the
//! simulator's record of every prepare written, never from the journal: when both copies are
//! intact (each exactly a header or prepare that was written, or the formatted one), readable
//! (no latent error, no sticky read flip, no damage stored at the restart, no fault since) and within
//! the prepare max, and they agree (`@P`, `@L`), or the header is older or reserved beside a
//! newer prepare (`@M`, `@G`), the table says `eql`, `nil` or `fix`, never `vsr`. Damage,
//! tears, lost and misdirected writes and writes cut by a crash all leave a copy that is not
//! intact, or copies that disagree the other way (`@N`, `@O`, `@K`), where `vsr` is the design.

use super::{Check, Observed};
use crate::replica::{ZONE_HEADERS, ZONE_PREPARES};
use journal::{Decision, SlotRecovery};

/// The *recovery* checker's observer, fed by every recovery. It keeps nothing between events: what
/// explains a slot's damage is recorded with the replica (`crash_affected`, `damaged`,
/// `stored_faulty_at_restart`, the fault log's length at each restart).
#[derive(Clone, Copy, Debug, Default)]
pub struct RecoveryChecker;

impl RecoveryChecker {
    /// Replica `index` recovered, deciding `recoveries`.
    pub fn on_recovery(
        &self,
        observed: &Observed,
        index: usize,
        recoveries: &[(u64, SlotRecovery)],
    ) -> Check {
        let replica = &observed.replicas[index];
        let config = replica.journal.config();
        // Damage older than the previous restart was read by that recovery (it reads every slot)
        // and left its slot dirty until rewritten, which `crash_affected` covers.
        let faults_recent =
            &replica.disk.fault_log().records()[replica.fault_log_at_restart_previous..];
        for &(slot, recovery) in recoveries {
            if replica.journal.faulty(slot) {
                if !replica.journal.dirty(slot) {
                    return Err(observed.failure(
                        "recovery",
                        format!("r{index} slot {slot} faulty but not dirty"),
                    ));
                }
                if !replica.journal.header(slot).is_reserved() {
                    return Err(observed.failure(
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
            if recovery.decision == Decision::Vsr {
                if let Some(expected) = decision_from_stored_bytes(observed, index, slot) {
                    return Err(observed.failure(
                        "recovery",
                        format!(
                            "r{index} slot {slot} recovered as {} vsr (faulty), but both its copies are intact and readable on disk and say {expected}: recovery invented a fault",
                            recovery.label
                        ),
                    ));
                }
            }
            let sector_offset = config.header_sector_offset(slot);
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
                return Err(observed.failure("recovery", format!(
                    "r{index} slot {slot} recovered as {} {} but no write was in flight there at the crash, it was clean, and the fault log names no fault on it since the previous restart (older faults on it: [{}])",
                    recovery.label, recovery.decision.name(), older.join(", ")
                )));
            }
        }
        Ok(())
    }
}

/// What the stored bytes of `slot` on replica `index` say the table must decide, when that is
/// not `vsr`: `None` when a copy is damaged, unreadable, stale or missing in a way that allows
/// `vsr` (or the slot lies past the prepare max, where the table cuts).
///
/// Rules (each from the disk and `Observed::messages` alone):
/// 1. a copy is *intact* when its stored bytes decode to a header that fits the slot and is
///    either the formatted one (reserved; the root in slot 0) or the header of a prepare that
///    was written, and, for the prepare, the stored bytes are that whole message followed by
///    zeros to the end of its last sector;
/// 2. a copy is *readable* when no sector of it holds a latent error or a sticky read flip, the
///    disk stored no damage on the slot at the restart, and no fault touched it since;
/// 3. with both copies intact and readable, and neither op past the prepare max: equal
///    checksums mean `eql` (or `nil` for two reserved copies); a reserved header beside a
///    written prepare means `fix` (`@G`); a header of an older op than the prepare's means `fix`
///    (`@M`). Anything else (`@K`, `@N`, `@O`) is `vsr` by design.
pub(crate) fn decision_from_stored_bytes(
    observed: &Observed,
    index: usize,
    slot: u64,
) -> Option<&'static str> {
    use journal::{format, Header, HEADER_SIZE};
    let replica = &observed.replicas[index];
    let config = replica.journal.config();
    let cluster = replica.journal.cluster();
    let disk = &replica.disk;
    let header_offset = slot * HEADER_SIZE;
    let prepare_offset = slot * config.message_size_max;
    let sector_offset = config.header_sector_offset(slot);
    // Rule 2: readable.
    if disk.range_unreadable(ZONE_HEADERS, sector_offset, config.sector_size)
        || disk.range_unreadable(ZONE_PREPARES, prepare_offset, config.message_size_max)
    {
        return None;
    }
    // Faults at read time are gone from the disk's marks once faults are disabled (the liveness
    // phase may begin while recovery is reading): what the disk held at the restart, and every
    // fault since, counts.
    if replica.stored_faulty_at_restart[slot as usize] {
        return None;
    }
    let faulted_since_restart = disk.fault_log().records()[replica.fault_log_at_restart..]
        .iter()
        .any(|record| {
            record.overlaps(ZONE_PREPARES, prepare_offset, config.message_size_max)
                || record.overlaps(ZONE_HEADERS, sector_offset, config.sector_size)
        });
    if faulted_since_restart {
        return None;
    }
    // Rule 1: intact.
    let formatted = format::header_for_slot(cluster, slot);
    // The disk is read a sector at a time: the header's sector, then the header in it.
    let sector_bytes = disk.peek(ZONE_HEADERS, sector_offset, config.sector_size);
    let within = (header_offset - sector_offset) as usize;
    let header = Header::decode(&sector_bytes[within..within + HEADER_SIZE as usize]).ok()?;
    if !header.fits_slot(cluster, slot, config.slot_count) {
        return None;
    }
    let header_written = header == formatted
        || observed
            .messages
            .get(&header.checksum)
            .is_some_and(|message| Header::decode(message).ok() == Some(header));
    if !header_written {
        return None;
    }
    let prepare_bytes = disk.peek(ZONE_PREPARES, prepare_offset, config.message_size_max);
    let prepare = Header::decode(prepare_bytes).ok()?;
    if !prepare.fits_slot(cluster, slot, config.slot_count) {
        return None;
    }
    let size = prepare.size as usize;
    let message_intact = if prepare == formatted {
        size == HEADER_SIZE as usize
    } else {
        observed
            .messages
            .get(&prepare.checksum)
            .is_some_and(|message| message.len() == size && prepare_bytes[..size] == message[..])
    };
    // Zeros to the end of its last sector (what the journal writes; bytes past that are
    // never read as part of it).
    let size_ceil = config.sector_ceil(size as u64) as usize;
    if !message_intact
        || size_ceil > prepare_bytes.len()
        || !journal::bytes::all_zero(&prepare_bytes[size..size_ceil])
    {
        return None;
    }
    // Rule 3.
    let op_prepare_max = config.op_prepare_max(replica.superblock.op_checkpoint);
    if header.op > op_prepare_max || prepare.op > op_prepare_max {
        return None;
    }
    if header.checksum == prepare.checksum {
        return Some(if header.is_reserved() {
            "nil (@L)"
        } else {
            "eql (@P)"
        });
    }
    if header.is_reserved() && !prepare.is_reserved() {
        return Some("fix (@G)");
    }
    if !header.is_reserved() && !prepare.is_reserved() && header.op < prepare.op {
        return Some("fix (@M)");
    }
    None
}
