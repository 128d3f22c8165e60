//! What an engine's workload generator provides: its draws and its next step. The generator is,
//! with the adapter, the only engine-specific code of a run.

use crate::engine::Step;
use crate::model::Model;
use rand_chacha::ChaCha8Rng;

/// A seeded workload for one engine.
pub trait Workload: Sized + Clone {
    /// Whether a commit is all or nothing at a crash (a transaction), or may land a prefix of
    /// its mutations (a batch of log appends).
    const ATOMIC_COMMITS: bool;
    /// The file's capacity: growth past it is `ENOSPC`.
    const FILE_SIZE_MAX: u64;
    /// The engine's stated media model: the unit a torn write tears in (each unit old or new).
    /// 512 for an engine that assumes sector-atomic writes, 1 for one that assumes only single
    /// bytes are (redb's design doc, "Assumptions about underlying media").
    const ATOMIC_UNIT: u64;
    /// Draws the workload's parameters from the seed.
    fn draw(prng: &mut ChaCha8Rng) -> Self;
    /// The next step, given what the engine is known to hold. Each value put takes the next
    /// version from `version_next`.
    fn next_step(&mut self, prng: &mut ChaCha8Rng, model: &Model, version_next: &mut u64) -> Step;
}
