//! The fault atlas keeps a good copy of every chunk within every replication quorum, and never
//! lets a replica be faulty everywhere.

use fault_models::{quorum_replication, FaultAtlas};
use proptest::prelude::*;

fn check(atlas: &FaultAtlas, replica_count: u8, chunk_count: u64, faulty_max: u8) {
    assert_eq!(atlas.replica_count(), replica_count);
    assert_eq!(atlas.chunk_count(), chunk_count);
    for chunk in 0..chunk_count {
        let faulty = (0..replica_count)
            .filter(|&replica| atlas.may_fault(replica, chunk))
            .count();
        assert!(
            faulty <= usize::from(faulty_max),
            "chunk {chunk}: {faulty} faulty replicas"
        );
        assert_eq!(faulty, usize::from(atlas.faulty_replica_count(chunk)));
    }
    for replica in 0..replica_count {
        let chunks = atlas.faulty_chunks(replica);
        assert_eq!(chunks.len() as u64, chunk_count);
        assert!(
            (chunks.count_ones() as u64) < chunk_count,
            "replica {replica} faulty everywhere"
        );
        for chunk in 0..chunk_count {
            assert_eq!(chunks[chunk as usize], atlas.may_fault(replica, chunk));
        }
    }
}

proptest! {
    #[test]
    fn atlas_keeps_a_good_copy_per_quorum(
        seed in any::<u64>(),
        replica_count in 1_u8..=6,
        chunk_count in 1_u64..=64,
    ) {
        let quorum = quorum_replication(replica_count);
        let faulty_max = quorum - 1;
        let atlas = FaultAtlas::new(seed, replica_count, chunk_count, faulty_max);
        check(&atlas, replica_count, chunk_count, faulty_max);
        for chunk in 0..chunk_count {
            // Any `quorum` replicas include one that is not faulty in this chunk.
            prop_assert!(atlas.faulty_replica_count(chunk) < quorum);
        }
        if replica_count == 1 {
            prop_assert!(atlas.faulty_chunks(0).not_any());
        }
        prop_assert_eq!(&atlas, &FaultAtlas::new(seed, replica_count, chunk_count, faulty_max));
    }

    #[test]
    fn atlas_bounds_hold_for_any_bound(
        seed in any::<u64>(),
        replica_count in 1_u8..=6,
        chunk_count in 1_u64..=64,
        faulty_max_seed in any::<u8>(),
    ) {
        let faulty_max = faulty_max_seed % replica_count;
        let atlas = FaultAtlas::new(seed, replica_count, chunk_count, faulty_max);
        check(&atlas, replica_count, chunk_count, faulty_max);
    }
}

/// The atlas does fault clusters: with three replicas and many chunks, each replica gets some.
#[test]
fn atlas_faults_every_replica_of_a_cluster_somewhere() {
    let atlas = FaultAtlas::new(1, 3, 64, quorum_replication(3) - 1);
    for replica in 0..3 {
        assert!(atlas.faulty_chunks(replica).any());
    }
    assert_ne!(atlas, FaultAtlas::new(2, 3, 64, quorum_replication(3) - 1));
}
