//! The end of a run: every replica repaired, quiescent, and holding the committed history.

use super::journal_disk::{Compare, JournalChecker};
use super::knowledge::KnowledgeChecker;
use super::{Check, Observed};

/// The end of the run's observer, fed once, when the liveness phase finds the cluster clean. It
/// keeps nothing; it asks the *journal* checker for a last full comparison of every replica.
#[derive(Clone, Copy, Debug, Default)]
pub struct FinalStateChecker;

impl FinalStateChecker {
    /// The end of the liveness phase. `all_clean` decides *when* to stop from the journal's own
    /// summaries (`dirty_count`, `io_idle`); this proves the state it stopped in from the parts
    /// themselves, so a journal that misreports itself clean cannot end a run early unnoticed.
    pub fn on_end(
        &self,
        observed: &Observed,
        journal: &JournalChecker,
        knowledge: &KnowledgeChecker,
    ) -> Check {
        for (index, replica) in observed.replicas.iter().enumerate() {
            let in_flight = replica.disk.pending_count();
            if in_flight > 0 || !replica.in_flight_writes.is_empty() {
                return Err(observed.failure(
                    "liveness",
                    format!("r{index} ends with {in_flight} I/Os still in flight on its disk"),
                ));
            }
            let slot_count = replica.journal.config().slot_count;
            if let Some(slot) = (0..slot_count)
                .find(|&slot| replica.journal.dirty(slot) || replica.journal.faulty(slot))
            {
                return Err(observed.failure(
                    "liveness",
                    format!(
                        "r{index} ends with slot {slot} not repaired (dirty {}, faulty {})",
                        replica.journal.dirty(slot),
                        replica.journal.faulty(slot)
                    ),
                ));
            }
            let high = observed.committed.op_max();
            let ops_owed = replica.op_checkpoint + 1..=high.min(replica.op_prepare_max());
            let ops_owed_count = ops_owed.clone().count() as u64;
            for op in ops_owed {
                let committed = observed
                    .committed
                    .get(op)
                    .expect("every op up to the max is committed");
                // Through `header(slot)`, the view every checker reads the journal by: a journal
                // that reports its slots reserved would blind them all.
                let header = replica.journal.header(replica.journal.slot_for_op(op));
                let held = !header.is_reserved()
                    && header.op == op
                    && header.checksum == committed.checksum;
                if !held {
                    return Err(observed.failure(
                        "durability",
                        format!("r{index} does not hold committed op {op} clean at the end"),
                    ));
                }
            }
            // Two wraps since faults stopped rewrote every slot: each header anywhere in the ring
            // is the committed history, except below a checkpoint the replica state-synced to
            // (it skipped those ops and never rewrote their slots).
            for slot in 0..slot_count {
                let header = replica.journal.header(slot);
                if header.is_reserved() || header.op <= observed.synced[index] {
                    continue;
                }
                match observed.committed.get(header.op) {
                    Some(committed) if committed.checksum == header.checksum => {}
                    _ => {
                        return Err(observed.failure(
                            "history",
                            format!(
                                "r{index} ends holding op {} ({:08x}) in slot {slot}, not the committed history",
                                header.op, header.checksum
                            ),
                        ))
                    }
                }
            }
            let compared = journal.compare(
                observed,
                knowledge.damage_read(index),
                index,
                Compare::IdleFull,
            )?;
            if compared < ops_owed_count {
                return Err(observed.failure(
                    "journal",
                    format!("r{index} ends holding {ops_owed_count} committed ops, but the journal checker compared only {compared} slots"),
                ));
            }
        }
        Ok(())
    }
}
