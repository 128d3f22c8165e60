//! The *history* checker, at every recovery: what a recovered journal holds must be explainable
//! by the history of the run and by the replica's own durable state.
//!
//! - every header it holds is a prepare ever made, byte for byte (nothing invented, nothing
//!   half-decoded);
//! - no header has a view above the durable `log_view`, or an op above the durable checkpoint's
//!   prepare max: a recovered head never lies beyond what the durable view allows;
//! - a header that contradicts the committed history for its op (at or below the checkpoint
//!   too) is allowed only where the replica may legitimately still hold it: a version from a
//!   view before the one that committed the op (a view that truncated it and never started on a
//!   quorum, say), that the durable view headers cannot exclude, on a replica that did not skip
//!   that op by state sync. A version from the committing view or later, or one the durable view
//!   headers exclude, means recovery loaded what it must have dropped, or the cluster
//!   invented it.

use super::Failure;
use crate::Simulation;
use journal::Header;

impl Simulation {
    pub(crate) fn check_recovered_history(&self, index: usize) -> Result<(), Failure> {
        let replica = &self.replicas[index];
        let journal = &replica.journal;
        let superblock = &replica.superblock;
        let prepare_max =
            crate::replica::op_prepare_max(journal.config(), superblock.op_checkpoint);
        for slot in 0..journal.config().slot_count {
            let header = *journal.header(slot);
            if header.is_reserved() {
                continue;
            }
            let made = self
                .messages
                .get(&header.checksum)
                .and_then(|m| Header::decode(m).ok());
            if made != Some(header) {
                return Err(self.failure(
                    "history",
                    format!(
                        "r{index} recovered slot {slot} with op {} ({:08x}), a header no primary ever made",
                        header.op, header.checksum
                    ),
                ));
            }
            if header.view > superblock.log_view {
                return Err(self.failure(
                    "history",
                    format!(
                        "r{index} recovered op {} from view {}, past its durable log view {}",
                        header.op, header.view, superblock.log_view
                    ),
                ));
            }
            if header.op > prepare_max {
                return Err(self.failure(
                    "history",
                    format!(
                        "r{index} recovered op {} past its durable prepare max {prepare_max}",
                        header.op
                    ),
                ));
            }
            let Some(committed) = self.committed.get(&header.op) else {
                continue;
            };
            if committed.checksum == header.checksum || header.op <= self.synced[index] {
                continue;
            }
            // No other version of an op is ever made in the view that commits it or later (its
            // primary's log holds the committed one): a version from there is invented.
            let committed_view = committed.view;
            let (view_min, view_max) = journal::recovery::view_for_op(
                &superblock.view_headers,
                header.op,
                superblock.log_view,
            );
            let excluded = header.view < view_min || header.view > view_max;
            if header.view >= committed_view || excluded {
                return Err(self.failure(
                    "history",
                    format!(
                        "r{index} recovered op {} as {:08x} (view {}), but it was committed as {:08x} (view {}) and its durable log view {} allows views {view_min}..={view_max} there",
                        header.op,
                        header.checksum,
                        header.view,
                        committed.checksum,
                        committed_view,
                        superblock.log_view
                    ),
                ));
            }
        }
        Ok(())
    }
}
