//! The *recovery* checker: after every recovery, faulty implies dirty, no slot is both loaded
//! and faulty, and every slot that did not recover clean (`eql`/`nil`) is explained: a write to
//! it was in flight at the crash, it was not clean before the crash, the previous recovery found
//! it damaged and nothing rewrote it since, the disk stored a fault on it at the restart, the
//! disk's fault log names a fault on it injected since the previous restart, or it lies past the
//! durable prepare max (`cut`). A repaired slot therefore stays repaired across the next crash.

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
