//! The *acked* checker: no replica forgets an op it acknowledged.

use super::{Check, Observed};
use journal::{Decision, Header, SlotRecovery};

/// The *acked* checker's observer, fed by every recovery. What each replica owes is the *nack*
/// checker's memory (`acknowledged.rs`), shown to it in [`Observed`].
#[derive(Clone, Copy, Debug, Default)]
pub struct AckedChecker;

impl AckedChecker {
    /// A replica never forgets an op it acknowledged: after its recovery, every op it acknowledged
    /// above its durable checkpoint and within its prepare max is still its slot's header, or the
    /// slot is faulty (to be repaired by checksum), or recovery cut the slot (it held a prepare
    /// past the prepare max). No excuse: the disk never silently drops both copies of a slot (see
    /// `fault_models::Disk`), so a journal that forgets an acknowledged op is wrong.
    pub fn on_recovery(
        &self,
        observed: &Observed,
        index: usize,
        recoveries: &[(u64, SlotRecovery)],
    ) -> Check {
        let replica = &observed.replicas[index];
        let ops = replica.op_checkpoint + 1..=replica.op_prepare_max();
        for (op, checksum) in observed.acknowledged.owed_in(index, ops) {
            let header =
                Header::decode(&observed.messages[&checksum]).expect("a prepare made here");
            let slot = replica.journal.slot_for_op(op);
            if replica.journal.has_header(&header) || replica.journal.faulty(slot) {
                continue;
            }
            let recovery = recoveries.iter().find(|(s, _)| *s == slot).map(|(_, r)| *r);
            if recovery.is_some_and(|r| r.decision == Decision::Cut) {
                continue;
            }
            return Err(observed.failure(
                "acked",
                format!(
                    "r{index} acknowledged op {op} ({:08x}, view {}) but recovered slot {slot} without it and not faulty ({}; it holds op {} {:08x} view {})",
                    header.checksum,
                    header.view,
                    recovery.map_or_else(
                        || "not decided".to_string(),
                        |r| format!("{} {}", r.label, r.decision.name())
                    ),
                    replica.journal.header(slot).op,
                    replica.journal.header(slot).checksum,
                    replica.journal.header(slot).view,
                ),
            ));
        }
        Ok(())
    }
}
