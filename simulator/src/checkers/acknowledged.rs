//! The *nack* checker's observer, and the *acked* checker's memory: what each replica
//! acknowledged (`prepare_ok`, or a solo replica's own commit), fed by every acknowledgement and
//! by every protocol step that makes a replica give an entry up (a `start_view` that truncated or
//! replaced it, a checkpoint that covers it). A replica's vote must never nack an entry it still
//! owes; a recovery must never lose one (`durability.rs`).

use crate::network::DoViewChange;
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub struct Acknowledged {
    /// Per replica: ops acknowledged and not given up since, with their checksum.
    owed: Vec<BTreeMap<u64, u32>>,
    /// Per replica: entries given up through a protocol step (to count re-adoption).
    given_up: Vec<BTreeMap<u64, u32>>,
}

impl Acknowledged {
    pub fn new(replica_count: usize) -> Acknowledged {
        assert!(replica_count >= 1);
        Acknowledged {
            owed: vec![BTreeMap::new(); replica_count],
            given_up: vec![BTreeMap::new(); replica_count],
        }
    }

    /// `replica` acknowledged `(op, checksum)`.
    pub fn on_ack(&mut self, replica: usize, op: u64, checksum: u32) {
        self.owed[replica].insert(op, checksum);
    }

    /// `replica` gives `(op, checksum)` up through a protocol step: it no longer owes it, and if
    /// it comes back it is a re-adoption.
    pub fn on_give_up(&mut self, replica: usize, op: u64, checksum: u32) {
        if self.owed[replica].get(&op) == Some(&checksum) {
            self.owed[replica].remove(&op);
        }
        self.given_up[replica].insert(op, checksum);
    }

    /// `replica`'s log is truncated from `op_min`: everything it owed from there is given up.
    pub fn on_truncate(&mut self, replica: usize, op_min: u64) {
        let owed: Vec<(u64, u32)> = self.owed[replica]
            .range(op_min..)
            .map(|(&op, &checksum)| (op, checksum))
            .collect();
        for (op, checksum) in owed {
            self.on_give_up(replica, op, checksum);
        }
    }

    /// `replica` checkpointed up to `checkpoint`: the ops it covers are committed state now,
    /// not entries it still vouches for. (Its log may reuse their slots once the checkpoint is
    /// durable on its peers, and a crash before its own is durable can then lose them: the
    /// *history* checker, not this one, decides whether that ever costs a committed op.)
    pub fn on_checkpoint(&mut self, replica: usize, checkpoint: u64) {
        self.owed[replica].retain(|&op, _| op > checkpoint);
    }

    /// The checksum of `op` that `replica` owes, if any.
    pub fn owed(&self, replica: usize, op: u64) -> Option<u32> {
        self.owed[replica].get(&op).copied()
    }

    /// How many entries `replica` owes.
    pub fn owed_count(&self, replica: usize) -> usize {
        self.owed[replica].len()
    }

    /// The entries `replica` owes in `ops`.
    pub fn owed_in(
        &self,
        replica: usize,
        ops: impl std::ops::RangeBounds<u64>,
    ) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.owed[replica]
            .range(ops)
            .map(|(&op, &checksum)| (op, checksum))
    }

    /// Whether `replica` gave up exactly `(op, checksum)` before.
    pub fn was_given_up(&self, replica: usize, op: u64, checksum: u32) -> bool {
        self.given_up[replica].get(&op) == Some(&checksum)
    }

    /// `replica` votes: the vote must nack nothing it owes above its checkpoint.
    pub fn on_vote(
        &self,
        replica: usize,
        vote: &DoViewChange,
        op_checkpoint: u64,
    ) -> Result<(), String> {
        for (op, checksum) in self.owed_in(replica, op_checkpoint + 1..) {
            if vote.nacks(op, checksum) {
                return Err(format!(
                    "r{replica} votes in view {} without op {op} ({checksum:08x}), which it acknowledged, and its slot is not faulty",
                    vote.view
                ));
            }
        }
        Ok(())
    }
}
