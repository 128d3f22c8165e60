//! redb's workload: write transactions of random keys (puts and deletes) over a small key space,
//! reads of random keys, and clean reopens.

use crate::engine::{Mutation, Step};
use crate::model::Model;
use crate::values::{value, VALUE_SIZE_MIN};
use crate::workload::Workload;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Draws of one seed's redb workload.
#[derive(Clone, Debug)]
pub struct RedbWorkload {
    key_count: u64,
    mutations_per_commit_max: usize,
    value_size_max: usize,
    delete_percent: u32,
    get_percent: u32,
}

impl Workload for RedbWorkload {
    const ATOMIC_COMMITS: bool = true;
    // redb grows its file by regions: the workloads here reach 2.6 MiB at most (seeds 0..40);
    // the capacity is allocated per seed, so it is kept to a few times that.
    const FILE_SIZE_MAX: u64 = 8 * 1024 * 1024;
    // redb assumes single-byte atomic writes and powersafe overwrite, nothing more.
    const ATOMIC_UNIT: u64 = 1;

    fn draw(prng: &mut ChaCha8Rng) -> RedbWorkload {
        RedbWorkload {
            key_count: [8, 64, 512][prng.gen_range(0..3)],
            mutations_per_commit_max: prng.gen_range(1..=16),
            // Small values stay in leaf pages; large ones (over a page) take redb's overflow path.
            value_size_max: [64, 512, 6000][prng.gen_range(0..3)],
            delete_percent: prng.gen_range(0..=30),
            get_percent: prng.gen_range(10..=40),
        }
    }

    fn next_step(&mut self, prng: &mut ChaCha8Rng, _model: &Model, version_next: &mut u64) -> Step {
        let roll = prng.gen_range(0..100);
        if roll < 3 {
            return Step::Reopen;
        }
        if roll < 3 + self.get_percent {
            return Step::Get {
                key: prng.gen_range(0..self.key_count),
            };
        }
        let count = prng.gen_range(1..=self.mutations_per_commit_max);
        let mut mutations = Vec::with_capacity(count);
        for _ in 0..count {
            let key = prng.gen_range(0..self.key_count);
            if prng.gen_range(0..100) < self.delete_percent {
                mutations.push(Mutation::Delete { key });
            } else {
                let size = prng.gen_range(VALUE_SIZE_MIN..=self.value_size_max);
                let version = *version_next;
                *version_next += 1;
                mutations.push(Mutation::Put {
                    key,
                    value: value(key, version, size),
                });
            }
        }
        Step::Commit { mutations }
    }
}
