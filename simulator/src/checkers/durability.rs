//! The *durability* and *acked* checkers: nothing committed is lost, and no replica forgets an
//! op it acknowledged.

use super::Failure;
use crate::replica::ZONE_PREPARES;
use crate::Simulation;
use journal::{Decision, Header, SlotRecovery};

impl Simulation {
    /// Nothing committed is lost: every committed op that no replica has yet checkpointed (and so
    /// could not be recovered by state sync) has an intact copy, header, body and zeroed padding,
    /// on at least one replica's disk, crashed replicas included.
    pub(crate) fn check_acked_retained(&self) -> Result<(), Failure> {
        let checkpoint_max = self
            .replicas
            .iter()
            .map(|r| r.superblock.op_checkpoint)
            .max()
            .unwrap_or(0);
        for (op, committed) in self.committed.range(checkpoint_max + 1..) {
            let message = &self.messages[&committed.checksum];
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
                    && journal::bytes::all_zero(&bytes[message.len()..])
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
                        "committed op {op} (checksum {:08x}) has no intact copy on any replica's disk: {}",
                        committed.checksum,
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
    /// past the prepare max). No excuse: the disk never silently drops both copies of a slot (see
    /// `fault_models::Disk`), so a journal that forgets an acknowledged op is wrong.
    pub(crate) fn check_acked_held(
        &self,
        index: usize,
        recoveries: &[(u64, SlotRecovery)],
    ) -> Result<(), Failure> {
        let replica = &self.replicas[index];
        let ops = replica.op_checkpoint + 1..=replica.op_prepare_max();
        for (op, checksum) in self.acknowledged.owed_in(index, ops) {
            let header = Header::decode(&self.messages[&checksum]).expect("a prepare made here");
            let slot = replica.journal.slot_for_op(op);
            if replica.journal.has_header(&header) || replica.journal.faulty(slot) {
                continue;
            }
            let recovery = recoveries.iter().find(|(s, _)| *s == slot).map(|(_, r)| *r);
            if recovery.is_some_and(|r| r.decision == Decision::Cut) {
                continue;
            }
            return Err(self.failure(
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
