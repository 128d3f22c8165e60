//! `vopr shrink`: the smallest run that still fails the same way.
//!
//! A failing seed is shrunk by overriding what it drew ([`Overrides`]): fewer replicas, fewer
//! ops, fault kinds and crashes switched off. The seed's PRNG streams stay, so each candidate is
//! itself deterministic and reproduces from `vopr run SEED <flags>`. A candidate is kept when it
//! fails with the same checker; the search is greedy and bounded by a run budget.

use crate::swarm::{Overrides, KNOBS};
use crate::{run_with, RunConfig};

/// Candidate runs a shrink may make, at most.
pub const SHRINK_RUNS_MAX: u32 = 400;

/// What a shrink found.
#[derive(Clone, Debug)]
pub struct Shrunk {
    pub seed: u64,
    /// The checker both the original and the shrunk run fail.
    pub checker: String,
    pub message: String,
    pub tick: u64,
    pub overrides: Overrides,
    pub config: RunConfig,
    /// Candidate runs made.
    pub runs: u32,
}

impl Shrunk {
    pub fn command(&self) -> String {
        crate::vopr_command(&format!("run {}{}", self.seed, self.overrides.flags()))
    }
}

/// `Err` with the reason when the seed (with `start`) passes: there is nothing to shrink.
/// `progress(runs, overrides)` is called after each kept candidate.
pub fn shrink(
    seed: u64,
    start: &Overrides,
    progress: &mut dyn FnMut(u32, &Overrides),
) -> Result<Shrunk, String> {
    let first = run_with(seed, start, false);
    let Some(failure) = first.failure else {
        return Err(format!(
            "seed {seed}{} passes: nothing to shrink",
            start.flags()
        ));
    };
    let checker = failure.checker;
    let mut best = Shrunk {
        seed,
        checker: checker.to_string(),
        message: failure.message,
        tick: failure.tick,
        overrides: start.clone(),
        config: first.config,
        runs: 1,
    };
    // Each pass tries every reduction of the current best; stop when a pass keeps none.
    loop {
        let mut kept = false;
        for candidate in candidates(&best) {
            if best.runs >= SHRINK_RUNS_MAX {
                return Ok(best);
            }
            best.runs += 1;
            let outcome = run_with(seed, &candidate, false);
            if let Some(failure) = outcome.failure.filter(|f| f.checker == checker) {
                best.overrides = candidate;
                best.message = failure.message;
                best.tick = failure.tick;
                best.config = outcome.config;
                kept = true;
                progress(best.runs, &best.overrides);
                // Restart from the smaller run: its own reductions come first.
                break;
            }
        }
        if !kept {
            return Ok(best);
        }
    }
}

/// Reductions of `best`, biggest first: replicas, ops, then each fault or event switched off.
fn candidates(best: &Shrunk) -> Vec<Overrides> {
    let current = &best.overrides;
    let config = &best.config;
    let mut out = Vec::new();
    // A cluster stays a cluster: the solo replica has other rules and fewer faults.
    let replicas_min = if config.replica_count == 1 { 1 } else { 2 };
    for replicas in replicas_min..config.replica_count {
        out.push(Overrides {
            replicas: Some(replicas),
            ..current.clone()
        });
    }
    let ops = config.ops_target;
    for smaller in [ops / 8, ops / 4, ops / 2, ops * 3 / 4, ops - 1] {
        if smaller >= 1 && smaller < ops && !out.iter().any(|o| o.ops == Some(smaller)) {
            out.push(Overrides {
                ops: Some(smaller),
                ..current.clone()
            });
        }
    }
    for knob in KNOBS {
        if current.without.iter().any(|k| k == knob) || knob_off_already(config, knob) {
            continue;
        }
        let mut without = current.without.clone();
        without.push(knob.to_string());
        // Canonical order, so the printed command does not depend on the search path.
        without.sort_by_key(|k| KNOBS.iter().position(|n| n == k));
        out.push(Overrides {
            without,
            ..current.clone()
        });
    }
    out
}

fn knob_off_already(config: &RunConfig, knob: &str) -> bool {
    let faults = &config.faults;
    let probability = match knob {
        "crash" => config.crash_probability,
        "view_change" => config.view_change_probability,
        "torn_write" => faults.crash_write_torn_probability,
        "read_bit_flip" => faults.read_bit_flip_probability,
        "write_bit_flip" => faults.write_bit_flip_probability,
        "misdirected_write" => faults.misdirected_write_probability,
        "misdirected_read" => faults.misdirected_read_probability,
        "latent_sector_error" => faults.latent_sector_error_probability,
        "lost_write" => faults.lost_write_probability,
        "sector_corrupt" => faults.sector_corrupt_probability,
        "window_aim" => config.window_aim_probability,
        // Off when the pipeline is within a quarter of the ring (drawn so, or switched off; one
        // op on a ring too small to have a quarter).
        "deep_pipeline" => {
            return config.journal.pipeline_max <= (config.journal.slot_count / 4).max(1);
        }
        _ => unreachable!("knob {knob}"),
    };
    probability == 0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every knob `--without` takes is one the shrinker can judge (a knob added to `KNOBS`
    /// without a line in `knob_off_already` made `vopr shrink` panic), and a knob switched off
    /// reads as off.
    #[test]
    fn every_knob_is_known_to_the_shrinker() {
        for seed in 0..50 {
            let drawn = RunConfig::draw(seed);
            for knob in KNOBS {
                let _ = knob_off_already(&drawn, knob);
                let off = RunConfig::draw_with(
                    seed,
                    &Overrides {
                        without: vec![knob.to_string()],
                        ..Default::default()
                    },
                );
                assert!(knob_off_already(&off, knob), "seed {seed} knob {knob}");
            }
        }
    }
}
