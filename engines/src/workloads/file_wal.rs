//! The file WAL's workload: batches of appends (each batch synced), reads of recent entries, and
//! clean reopens. Keys are op numbers: a batch appends the next ones in order.

use crate::adapters::file_wal::{RETAINED_MIN, VALUE_SIZE_MAX};
use crate::engine::{Mutation, Step};
use crate::model::Model;
use crate::values::{value, VALUE_SIZE_MIN};
use crate::workload::Workload;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Draws of one seed's WAL workload.
#[derive(Clone, Debug)]
pub struct FileWalWorkload {
    batch_max: usize,
    value_size_max: usize,
    get_percent: u32,
}

impl Workload for FileWalWorkload {
    // A batch is not atomic: a crash may land a prefix of it (recovery truncates at the first
    // hole), which is allowed since none of it was acknowledged.
    const ATOMIC_COMMITS: bool = false;
    const FILE_SIZE_MAX: u64 = 512 * 1024;
    // The journal's design (DESIGN §3): a torn write lands some of its sectors.
    const ATOMIC_UNIT: u64 = 512;

    fn draw(prng: &mut ChaCha8Rng) -> FileWalWorkload {
        FileWalWorkload {
            // Up to two pipelines: the driver commits a full batch itself before the next append.
            batch_max: prng.gen_range(1..=8),
            value_size_max: [64, 1024, VALUE_SIZE_MAX][prng.gen_range(0..3)],
            get_percent: prng.gen_range(10..=40),
        }
    }

    fn next_step(&mut self, prng: &mut ChaCha8Rng, model: &Model, version_next: &mut u64) -> Step {
        let head = model.key_last().unwrap_or(0);
        let roll = prng.gen_range(0..100);
        if roll < 3 {
            return Step::Reopen;
        }
        if roll < 3 + self.get_percent && head > 0 {
            // Only entries the WAL promises to keep (above its checkpoint).
            let oldest = head.saturating_sub(RETAINED_MIN - 1).max(1);
            return Step::Get {
                key: prng.gen_range(oldest..=head),
            };
        }
        let count = prng.gen_range(1..=self.batch_max) as u64;
        let mutations = (head + 1..=head + count)
            .map(|key| {
                let size = prng.gen_range(VALUE_SIZE_MIN..=self.value_size_max);
                let version = *version_next;
                *version_next += 1;
                Mutation::Put {
                    key,
                    value: value(key, version, size),
                }
            })
            .collect();
        Step::Commit { mutations }
    }
}
