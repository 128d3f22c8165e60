//! The *durability* checker: nothing committed is lost.

use super::{Check, Observed};
use crate::replica::ZONE_PREPARES;
use journal::Header;

/// The *durability* checker's observer, fed by every recovery (when a replica's disk was last
/// changed by a crash). It keeps nothing: the committed history and the disks are the evidence.
#[derive(Clone, Copy, Debug, Default)]
pub struct DurabilityChecker;

impl DurabilityChecker {
    /// Nothing committed is lost: every committed op that no replica has yet checkpointed (and so
    /// could not be recovered by state sync) has an intact copy, header, body and zeroed padding,
    /// on at least one replica's disk, crashed replicas included.
    pub fn on_recovery(&self, observed: &Observed) -> Check {
        let checkpoint_max = observed
            .replicas
            .iter()
            .map(|r| r.superblock.op_checkpoint)
            .max()
            .unwrap_or(0);
        for (op, committed) in observed.committed.range(checkpoint_max + 1..) {
            let message = &observed.messages[&committed.checksum];
            let intact = observed.replicas.iter().any(|replica| {
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
                let copies: Vec<String> = observed
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
                return Err(observed.failure(
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
}
