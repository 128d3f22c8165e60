//! Checkers: what every run must prove, each an observer in its own file, evaluated as the run
//! goes and at its end. Each names the class of bug it catches.
//!
//! An observer is a small struct the cluster feeds with events (a read completed, a recovery, an
//! idle point, the end of the run), each with an [`Observed`]: the replicas and the ground truth
//! as they are at that moment, borrowed for the event only. An observer keeps only what it needs
//! to judge later events and never drives the run: it returns a [`Failure`], or `Ok`. Checkers
//! depend on the replicas' data types (`crate::replica`, `crate::network`) and never on the
//! cluster, which depends on them.
//!
//! - *read* (`read.rs`, on every repair read): `read_prepare` never returns bytes that
//!   differ from what was written for that checksum, nor accepts a read whose sector padding
//!   after the prepare is not zero.
//! - *availability*: a solo replica always comes back with no unrecoverable slot; a peer never
//!   refuses a repair read below its repair share.
//! - *recovery* (`recovery.rs`): every slot that did not recover clean is explained by a crash
//!   or a fault; faulty implies dirty; nothing is loaded and faulty at once.
//! - *journal* (`journal_disk.rs`): whenever a replica is idle, after every recovery and at the
//!   end of the fault phase, every clean slot's bytes on disk match what its journal holds.
//! - *knowledge* (`knowledge.rs`): the journal's reports about itself agree with what the
//!   simulator saw: a rejected damaged read leaves its slot faulty and dirty (and never clean
//!   until rewritten), an intact one is never called corrupt, a recovery reports every slot and
//!   its state agrees with each decision, `io_idle` and the dirty/faulty counts tell the truth.
//! - *durability* (`durability.rs`): every committed op that no replica has checkpointed has an
//!   intact copy on some replica's disk; a solo replica never recovers below its commit.
//! - *acked* (`acked.rs`): after a recovery, every op the replica acknowledged is still in
//!   its journal, or its slot is faulty, unless the disk silently dropped both of its copies.
//! - *history* (`history.rs`, and where the cluster commits and starts views): committed history
//!   never changes, in any later view's canonical log or at any replica that holds it clean; a
//!   recovered journal holds no header that is not a prepare ever made, none that contradicts
//!   the committed history where its durable view proves it knew better, and no header whose
//!   view or op its durable state forbids.
//! - *nack* (`acknowledged.rs`, an observer fed by acknowledgements, truncations, checkpoints
//!   and votes): a replica never nacks an op it acknowledged.
//! - *liveness* (`final_state.rs`, and the cluster's liveness phase): with faults off, the cluster becomes clean within a bounded
//!   number of ticks, and ends repaired, quiescent and holding the committed history.

pub mod acked;
pub mod acknowledged;
pub mod durability;
pub mod final_state;
pub mod history;
pub mod journal_disk;
pub mod knowledge;
pub mod read;
pub mod recovery;

use crate::replica::Replica;
use acked::AckedChecker;
use acknowledged::Acknowledged;
use durability::DurabilityChecker;
use final_state::FinalStateChecker;
use history::CommittedHistory;
use journal_disk::{Compare, JournalChecker};
use knowledge::KnowledgeChecker;
use read::ReadChecker;
use recovery::RecoveryChecker;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A checker that fired.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub checker: &'static str,
    pub message: String,
    pub tick: u64,
}

/// What a checker returns for an event.
pub type Check = Result<(), Failure>;

/// What the cluster shows its checkers at an event: the replicas as they are now and the ground
/// truth. Borrowed for the event only; a checker changes nothing in it.
#[derive(Clone, Copy, Debug)]
pub struct Observed<'a> {
    pub tick: u64,
    pub replicas: &'a [Replica],
    /// Every prepare ever made, by checksum.
    pub messages: &'a BTreeMap<u32, Vec<u8>>,
    /// The committed history (the *history* checker's observer).
    pub committed: &'a CommittedHistory,
    /// What each replica acknowledged and still owes (the *nack* checker's observer).
    pub acknowledged: &'a Acknowledged,
    /// Per replica, the highest checkpoint it jumped to by state sync: below it, it never had to
    /// hold the history.
    pub synced: &'a [u64],
}

impl Observed<'_> {
    /// `checker` fired at this event's tick.
    pub fn failure(&self, checker: &'static str, message: String) -> Failure {
        Failure {
            checker,
            message,
            tick: self.tick,
        }
    }
}

/// Every observer the cluster feeds, besides the two that are also its ground truth
/// (`CommittedHistory`, `Acknowledged`).
#[derive(Clone, Debug)]
pub struct Checkers {
    pub read: ReadChecker,
    pub knowledge: KnowledgeChecker,
    pub recovery: RecoveryChecker,
    pub journal: JournalChecker,
    pub durability: DurabilityChecker,
    pub acked: AckedChecker,
    pub final_state: FinalStateChecker,
}

impl Checkers {
    pub fn new(replica_count: usize, slot_count: u64) -> Checkers {
        Checkers {
            read: ReadChecker,
            knowledge: KnowledgeChecker::new(replica_count, slot_count),
            recovery: RecoveryChecker,
            journal: JournalChecker,
            durability: DurabilityChecker,
            acked: AckedChecker,
            final_state: FinalStateChecker,
        }
    }

    /// The *journal* checker on replica `index` in `mode`, with the damage the *knowledge*
    /// checker knows the journal read; returns how many slots it compared.
    pub fn journal_matches_disk(
        &self,
        observed: &Observed,
        index: usize,
        mode: Compare,
    ) -> Result<u64, Failure> {
        self.journal
            .compare(observed, self.knowledge.damage_read(index), index, mode)
    }
}
