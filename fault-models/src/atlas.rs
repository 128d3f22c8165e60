//! The fault atlas: which chunks of which replica's disk may be faulted, chosen so that a cluster
//! can always repair.
//!
//! A chunk is the unit of redundancy across replicas: for the WAL, one header sector together
//! with the prepare slots whose headers it holds. Chunk `i` of every zone of a disk is the same
//! chunk `i` (see [`crate::ZoneSpec::chunk_size`]).
//!
//! Two rules make every fault the atlas allows recoverable:
//!
//! - In every chunk at most `faulty_replicas_per_chunk_max` replicas may be faulty. With
//!   `quorum_replication(replica_count) - 1` as that bound, every replication quorum holds at
//!   least one replica with a good copy of each chunk to repair the others from.
//! - No replica is faulty in every chunk (a replica may fault at most `chunk_count - 1` chunks),
//!   so no replica loses its whole log to faults alone. With a single chunk, nothing is faultable.
//!
//! With one replica the bound is zero: a solo replica has no one to repair from, so it gets only
//! crash faults, which the atlas does not restrict.

use bitvec::vec::BitVec;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The number of replicas that must hold an op before it counts as durable: a majority,
/// `replica_count / 2 + 1`, but never more than `replica_count` (so 1→1, 2→2, 3→2, 4→3, 5→3,
/// 6→4). An even cluster needs the larger half, so that any two quorums intersect.
pub fn quorum_replication(replica_count: u8) -> u8 {
    assert!(replica_count >= 1);
    let quorum = (replica_count / 2 + 1).min(replica_count);
    assert!(quorum >= 1);
    assert!(quorum <= replica_count);
    quorum
}

/// Which chunks of each replica may be faulted. Seeded and immutable once built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultAtlas {
    /// One bitmap per replica, `chunk_count` bits each: bit `i` set = chunk `i` may be faulted.
    faulty_chunks: Vec<BitVec>,
    faulty_replicas_per_chunk_max: u8,
}

impl FaultAtlas {
    /// Draws an atlas from `seed`. For each chunk, as many replicas as the bound allows (and
    /// that still have a clean chunk to spare) are made faulty.
    pub fn new(
        seed: u64,
        replica_count: u8,
        chunk_count: u64,
        faulty_replicas_per_chunk_max: u8,
    ) -> FaultAtlas {
        assert!(replica_count >= 1);
        assert!(chunk_count >= 1);
        assert!(
            faulty_replicas_per_chunk_max < replica_count,
            "every chunk needs at least one replica with a good copy"
        );

        let mut prng = ChaCha8Rng::seed_from_u64(seed);
        let chunk_count_usize = usize::try_from(chunk_count).expect("chunk_count fits usize");
        let mut faulty_chunks: Vec<BitVec> = (0..replica_count)
            .map(|_| BitVec::repeat(false, chunk_count_usize))
            .collect();
        let mut faulty_chunk_counts = vec![0_u64; usize::from(replica_count)];
        // The replicas not yet chosen for the current chunk: a prefix of this array.
        let mut candidates: Vec<u8> = Vec::with_capacity(usize::from(replica_count));

        for chunk in 0..chunk_count_usize {
            candidates.clear();
            candidates.extend((0..replica_count).filter(|&replica| {
                // Leave at least one chunk of every replica clean.
                faulty_chunk_counts[usize::from(replica)] + 1 < chunk_count
            }));
            let mut chosen: u8 = 0;
            while chosen < faulty_replicas_per_chunk_max && !candidates.is_empty() {
                let index = prng.gen_range(0..candidates.len());
                let replica = usize::from(candidates.swap_remove(index));
                assert!(!faulty_chunks[replica][chunk]);
                faulty_chunks[replica].set(chunk, true);
                faulty_chunk_counts[replica] += 1;
                chosen += 1;
            }
            assert!(chosen <= faulty_replicas_per_chunk_max);
        }

        for (replica, chunks) in faulty_chunks.iter().enumerate() {
            assert_eq!(chunks.count_ones() as u64, faulty_chunk_counts[replica]);
            assert!(chunks.count_ones() < chunk_count_usize);
        }
        FaultAtlas {
            faulty_chunks,
            faulty_replicas_per_chunk_max,
        }
    }

    /// The number of replicas the atlas covers.
    pub fn replica_count(&self) -> u8 {
        self.faulty_chunks.len() as u8
    }

    /// The number of chunks each replica's disk is divided into.
    pub fn chunk_count(&self) -> u64 {
        self.faulty_chunks[0].len() as u64
    }

    /// The bound the atlas was built with.
    pub fn faulty_replicas_per_chunk_max(&self) -> u8 {
        self.faulty_replicas_per_chunk_max
    }

    /// The chunks `replica` may have faults in: pass it as [`crate::DiskOptions::faulty_chunks`].
    pub fn faulty_chunks(&self, replica: u8) -> BitVec {
        assert!(replica < self.replica_count());
        self.faulty_chunks[usize::from(replica)].clone()
    }

    /// Whether `replica` may have faults in `chunk`.
    pub fn may_fault(&self, replica: u8, chunk: u64) -> bool {
        assert!(replica < self.replica_count());
        assert!(chunk < self.chunk_count());
        self.faulty_chunks[usize::from(replica)][chunk as usize]
    }

    /// How many replicas may be faulty in `chunk`.
    pub fn faulty_replica_count(&self, chunk: u64) -> u8 {
        assert!(chunk < self.chunk_count());
        let count = self
            .faulty_chunks
            .iter()
            .filter(|chunks| chunks[chunk as usize])
            .count();
        assert!(count <= usize::from(self.faulty_replicas_per_chunk_max));
        count as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_replication_table() {
        let expected = [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (6, 4)];
        for (replica_count, quorum) in expected {
            assert_eq!(
                quorum_replication(replica_count),
                quorum,
                "{replica_count} replicas"
            );
        }
    }

    #[test]
    fn solo_replica_is_never_faulty() {
        let atlas = FaultAtlas::new(7, 1, 16, quorum_replication(1) - 1);
        assert!(atlas.faulty_chunks(0).not_any());
    }

    #[test]
    fn cluster_gets_faults() {
        let atlas = FaultAtlas::new(7, 3, 16, quorum_replication(3) - 1);
        for chunk in 0..16 {
            assert_eq!(atlas.faulty_replica_count(chunk), 1);
        }
    }
}
