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
//!   invented it;
//! - every version down to the checkpoint: at or below its durable checkpoint (and above any
//!   checkpoint it jumped to by state sync), a replica holds clean only the committed version
//!   of an op. It executed each of those ops in that version, and nothing writes another
//!   version of an op at or below a replica's commit number; an older-view version there is a
//!   superseded prepare or header that recovery trusted.

use super::{Check, Observed};
use journal::Header;
use std::collections::BTreeMap;

/// An op of the committed history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Committed {
    pub checksum: u32,
    /// The view in which it was committed.
    pub view: u32,
}

/// How a view's canonical log breaks the committed history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CanonicalBreak {
    /// The log stops below a committed op.
    TruncatesBelow { op_head: u64, committed_max: u64 },
    /// The log holds another version of a committed op.
    Contradicts {
        op: u64,
        chosen: u32,
        committed: Committed,
    },
}

/// The *history* checker's observer: the committed history, fed by every commit and every
/// canonical log a new primary chooses. An entry never changes, and the history has no gap.
#[derive(Clone, Debug)]
pub struct CommittedHistory {
    committed: BTreeMap<u64, Committed>,
}

impl CommittedHistory {
    /// The history of a fresh cluster: the root, committed in view 0.
    pub fn new(root: &Header) -> CommittedHistory {
        assert_eq!(root.op, 0);
        let root = Committed {
            checksum: root.checksum,
            view: 0,
        };
        CommittedHistory {
            committed: BTreeMap::from([(0, root)]),
        }
    }

    pub fn get(&self, op: u64) -> Option<Committed> {
        self.committed.get(&op).copied()
    }

    /// The committed ops in `ops`, in op order.
    pub fn range(
        &self,
        ops: impl std::ops::RangeBounds<u64>,
    ) -> impl Iterator<Item = (u64, Committed)> + '_ {
        self.committed.range(ops).map(|(&op, &c)| (op, c))
    }

    /// The highest committed op.
    pub fn op_max(&self) -> u64 {
        self.committed.keys().next_back().copied().unwrap_or(0)
    }

    /// An op is committed with `checksum` in `view`: the same again is fine, another version of
    /// it, or a commit above a gap, is the bug this checker exists for.
    pub fn on_commit(&mut self, op: u64, checksum: u32, view: u32) -> Result<(), String> {
        match self.committed.get(&op) {
            Some(existing) if existing.checksum != checksum => Err(format!(
                "op {op} was committed as {:08x} in view {}, and now as {checksum:08x} in view {view}",
                existing.checksum, existing.view
            )),
            Some(_) => Ok(()),
            None => {
                let op_max = self.op_max();
                if op != op_max + 1 {
                    return Err(format!(
                        "op {op} committed with op {} not committed",
                        op_max + 1
                    ));
                }
                self.committed.insert(op, Committed { checksum, view });
                Ok(())
            }
        }
    }

    /// A new primary chose its canonical log: every committed op is in it, in its version.
    pub fn on_canonical(
        &self,
        op_head: u64,
        headers: &BTreeMap<u64, Header>,
    ) -> Result<(), CanonicalBreak> {
        let committed_max = self.op_max();
        if op_head < committed_max {
            return Err(CanonicalBreak::TruncatesBelow {
                op_head,
                committed_max,
            });
        }
        for (&op, header) in headers {
            if let Some(committed) = self.get(op) {
                if committed.checksum != header.checksum {
                    return Err(CanonicalBreak::Contradicts {
                        op,
                        chosen: header.checksum,
                        committed,
                    });
                }
            }
        }
        Ok(())
    }
}

impl CommittedHistory {
    /// Replica `index` recovered: what its journal holds is a prepare ever made, within what its
    /// durable state allows, and agrees with this history where its durable view proves it
    /// knew better.
    pub fn on_recovery(&self, observed: &Observed, index: usize) -> Check {
        let replica = &observed.replicas[index];
        let journal = &replica.journal;
        let superblock = &replica.superblock;
        let prepare_max = journal.config().op_prepare_max(superblock.op_checkpoint);
        for slot in 0..journal.config().slot_count {
            let header = *journal.header(slot);
            if header.is_reserved() {
                continue;
            }
            let made = observed
                .messages
                .get(&header.checksum)
                .and_then(|m| Header::decode(m).ok());
            if made != Some(header) {
                return Err(observed.failure(
                    "history",
                    format!(
                        "r{index} recovered slot {slot} with op {} ({:08x}), a header no primary ever made",
                        header.op, header.checksum
                    ),
                ));
            }
            if header.view > superblock.log_view {
                return Err(observed.failure(
                    "history",
                    format!(
                        "r{index} recovered op {} from view {}, past its durable log view {}",
                        header.op, header.view, superblock.log_view
                    ),
                ));
            }
            if header.op > prepare_max {
                return Err(observed.failure(
                    "history",
                    format!(
                        "r{index} recovered op {} past its durable prepare max {prepare_max}",
                        header.op
                    ),
                ));
            }
            let Some(committed) = self.get(header.op) else {
                continue;
            };
            if committed.checksum == header.checksum || header.op <= observed.synced[index] {
                continue;
            }
            // Every version down to the checkpoint: the replica executed every op up to its
            // durable checkpoint (it did not jump there by state sync, above), each in the
            // version that was committed, and no protocol step writes another version of an op
            // at or below a replica's commit number. A clean slot there holding any other
            // version is one recovery took from a superseded prepare or header.
            if header.op <= superblock.op_checkpoint && !journal.dirty(slot) {
                return Err(observed.failure(
                    "history",
                    format!(
                        "r{index} recovered op {} clean as {:08x} (view {}), at or below its durable checkpoint {}, but it was committed as {:08x} (view {}): a superseded version",
                        header.op,
                        header.checksum,
                        header.view,
                        superblock.op_checkpoint,
                        committed.checksum,
                        committed.view
                    ),
                ));
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
                return Err(observed.failure(
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
