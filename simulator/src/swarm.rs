//! Swarm testing: the seed draws the whole run's configuration, so that across seeds every
//! combination of cluster size, ring size and fault mix is tried, and some kinds are often off.

use fault_models::FaultConfig;
use journal::Config;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// Everything a seed decides before the first tick.
#[derive(Clone, Debug, Serialize)]
pub struct RunConfig {
    pub seed: u64,
    pub replica_count: u8,
    pub journal: Config,
    pub faults: FaultConfig,
    /// Chance per tick that one replica crashes.
    pub crash_probability: f64,
    /// Ticks a crashed replica stays down.
    pub restart_ticks_max: u64,
    /// Chance per tick that the cluster changes view (clusters only).
    pub view_change_probability: f64,
    /// Chance per tick that the primary prepares a new op.
    pub prepare_probability: f64,
    /// Ops the workload prepares before the liveness phase.
    pub ops_target: u64,
    /// Largest body of a prepare, in bytes.
    pub body_size_max: u64,
    /// Ticks a superblock update takes to become durable.
    pub superblock_latency_ticks_max: u64,
    /// Ticks the run may take before the liveness phase (a bound, not a target).
    pub ticks_max: u64,
    /// Ticks the liveness phase may take for every replica to become clean.
    pub liveness_ticks_max: u64,
}

fn maybe_probability(rng: &mut ChaCha8Rng, max: f64) -> f64 {
    // Half the kinds are off entirely in a typical run: swarm testing.
    if rng.gen_bool(0.5) {
        0.0
    } else {
        rng.gen_range(0.0..max)
    }
}

impl RunConfig {
    /// The configuration `seed` draws. Uses its own stream, so drawing it never shifts the run's.
    pub fn draw(seed: u64) -> RunConfig {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5a5a_5a5a_0000_0001);
        let replica_count = if rng.gen_bool(0.3) {
            1
        } else {
            rng.gen_range(2..=6)
        };
        let slot_count = [16u64, 32, 64][rng.gen_range(0..3)];
        let header_sector_count = slot_count / 4;
        let journal = Config {
            sector_size: 512,
            slot_count,
            message_size_max: 2048,
            pipeline_max: rng.gen_range(1..=slot_count / 4),
            iops_read_max: rng.gen_range(3..=8),
            iops_write_max: rng.gen_range(1..header_sector_count.min(6)),
        };
        journal.validate().expect("swarm draws valid configs");
        let cluster = replica_count > 1;
        let latency_max = rng.gen_range(1..=12u64);
        let faults = FaultConfig {
            read_bit_flip_probability: if cluster {
                maybe_probability(&mut rng, 0.02)
            } else {
                0.0
            },
            write_bit_flip_probability: if cluster {
                maybe_probability(&mut rng, 0.02)
            } else {
                0.0
            },
            misdirected_write_probability: if cluster {
                maybe_probability(&mut rng, 0.01)
            } else {
                0.0
            },
            misdirected_read_probability: if cluster {
                maybe_probability(&mut rng, 0.01)
            } else {
                0.0
            },
            latent_sector_error_probability: if cluster {
                maybe_probability(&mut rng, 0.01)
            } else {
                0.0
            },
            lost_write_probability: if cluster {
                maybe_probability(&mut rng, 0.01)
            } else {
                0.0
            },
            crash_write_torn_probability: rng.gen_range(0.0..1.0),
            read_latency_ticks_min: rng.gen_range(0..=latency_max / 2),
            read_latency_ticks_mean: latency_max,
            write_latency_ticks_min: rng.gen_range(0..=latency_max / 2),
            write_latency_ticks_mean: latency_max,
        };
        RunConfig {
            seed,
            replica_count,
            journal,
            faults,
            crash_probability: if rng.gen_bool(0.2) {
                0.0
            } else {
                rng.gen_range(0.001..0.03)
            },
            restart_ticks_max: rng.gen_range(1..=50),
            view_change_probability: if cluster {
                rng.gen_range(0.0..0.01)
            } else {
                0.0
            },
            prepare_probability: rng.gen_range(0.2..1.0),
            ops_target: rng.gen_range(slot_count..=slot_count * 6),
            body_size_max: rng.gen_range(0..=2048 - 128),
            superblock_latency_ticks_max: rng.gen_range(1..=40),
            ticks_max: 20_000,
            liveness_ticks_max: 20_000,
        }
    }
}
