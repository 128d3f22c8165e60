//! Swarm testing: the seed draws the whole run's configuration, so that across seeds every
//! combination of cluster size, ring size and fault mix is tried, and some kinds are often off.

use fault_models::FaultConfig;
use journal::Config;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Everything a seed decides before the first tick.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
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
    /// Largest delay of a message between replicas, in ticks (at least 1).
    #[serde(default = "message_delay_ticks_max_default")]
    pub message_delay_ticks_max: u64,
    /// Chance that a new view is abandoned again at once (a backup times out just after the
    /// `start_view`): view changes in quick succession, so that an op truncated by one view is
    /// adopted again by the next while its write may still be in flight.
    #[serde(default)]
    pub view_change_storm_probability: f64,
    /// One replica whose outgoing messages take up to this many ticks longer (a slow link): its
    /// votes reach new primaries last, so views form without the log it holds.
    #[serde(default)]
    pub slow_replica: Option<(u8, u64)>,
}

fn message_delay_ticks_max_default() -> u64 {
    1
}

/// The largest chance per tick of a spurious view change (clusters).
const VIEW_CHANGE_PROBABILITY_MAX: f64 = 0.05;

fn maybe_probability(rng: &mut ChaCha8Rng, max: f64) -> f64 {
    // Half the kinds are off entirely in a typical run: swarm testing.
    if rng.gen_bool(0.5) {
        0.0
    } else {
        rng.gen_range(0.0..max)
    }
}

/// The knobs `shrink` turns and `run`/`replay`/`corpus add` accept: a seed plus overrides is a
/// smaller run that keeps the seed's PRNG streams.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overrides {
    /// Replica count (1-6). A solo replica has crash faults only, as a drawn one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u8>,
    /// Ops the workload prepares before the liveness phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ops: Option<u64>,
    /// Fault kinds (and crash / view-change events) switched off; names from [`KNOBS`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub without: Vec<String>,
}

/// Everything `--without` can switch off.
pub const KNOBS: [&str; 9] = [
    "crash",
    "view_change",
    "torn_write",
    "read_bit_flip",
    "write_bit_flip",
    "misdirected_write",
    "misdirected_read",
    "latent_sector_error",
    "lost_write",
];

impl Overrides {
    pub fn is_empty(&self) -> bool {
        self.replicas.is_none() && self.ops.is_none() && self.without.is_empty()
    }

    /// Checks every value; the error is one line for the CLI.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(replicas) = self.replicas {
            if !(1..=6).contains(&replicas) {
                return Err(format!(
                    "--replicas {replicas}: a cluster has 1 to 6 replicas"
                ));
            }
        }
        if self.ops == Some(0) {
            return Err("--ops 0: the workload needs at least one op".into());
        }
        for knob in &self.without {
            if !KNOBS.contains(&knob.as_str()) {
                return Err(format!(
                    "--without {knob}: unknown; use any of {}",
                    KNOBS.join(",")
                ));
            }
        }
        Ok(())
    }

    /// The flags that reproduce these overrides, with a leading space, or nothing.
    pub fn flags(&self) -> String {
        let mut flags = String::new();
        if let Some(replicas) = self.replicas {
            flags.push_str(&format!(" --replicas {replicas}"));
        }
        if let Some(ops) = self.ops {
            flags.push_str(&format!(" --ops {ops}"));
        }
        if !self.without.is_empty() {
            flags.push_str(&format!(" --without {}", self.without.join(",")));
        }
        flags
    }
}

impl RunConfig {
    /// The configuration `seed` draws, then changed by `overrides` (validated first).
    pub fn draw_with(seed: u64, overrides: &Overrides) -> RunConfig {
        assert_eq!(overrides.validate(), Ok(()));
        let mut config = RunConfig::draw(seed);
        if let Some(replicas) = overrides.replicas {
            config.replica_count = replicas;
            if config
                .slow_replica
                .is_some_and(|(replica, _)| replica >= replicas || replicas == 1)
            {
                config.slow_replica = None;
            }
            if replicas == 1 {
                // As drawn for a solo replica: only crashes, and one view.
                config.faults = FaultConfig {
                    read_bit_flip_probability: 0.0,
                    write_bit_flip_probability: 0.0,
                    misdirected_write_probability: 0.0,
                    misdirected_read_probability: 0.0,
                    latent_sector_error_probability: 0.0,
                    lost_write_probability: 0.0,
                    ..config.faults
                };
                config.view_change_probability = 0.0;
                config.view_change_storm_probability = 0.0;
            }
        }
        if let Some(ops) = overrides.ops {
            config.ops_target = ops;
        }
        for knob in &overrides.without {
            let faults = &mut config.faults;
            match knob.as_str() {
                "crash" => config.crash_probability = 0.0,
                "view_change" => {
                    config.view_change_probability = 0.0;
                    config.view_change_storm_probability = 0.0;
                }
                "torn_write" => faults.crash_write_torn_probability = 0.0,
                "read_bit_flip" => faults.read_bit_flip_probability = 0.0,
                "write_bit_flip" => faults.write_bit_flip_probability = 0.0,
                "misdirected_write" => faults.misdirected_write_probability = 0.0,
                "misdirected_read" => faults.misdirected_read_probability = 0.0,
                "latent_sector_error" => faults.latent_sector_error_probability = 0.0,
                "lost_write" => faults.lost_write_probability = 0.0,
                _ => unreachable!("validated"),
            }
        }
        config
    }

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
        let crash_probability = if rng.gen_bool(0.2) {
            0.0
        } else {
            rng.gen_range(0.001..0.03)
        };
        let restart_ticks_max = rng.gen_range(1..=50);
        let view_change_probability = if cluster {
            rng.gen_range(0.0..VIEW_CHANGE_PROBABILITY_MAX)
        } else {
            0.0
        };
        let prepare_probability = rng.gen_range(0.2..1.0);
        let ops_target = rng.gen_range(slot_count..=slot_count * 6);
        let body_size_max = rng.gen_range(0..=2048 - 128);
        let superblock_latency_ticks_max = rng.gen_range(1..=40);
        // Drawn last, so that every earlier knob keeps the value it drew before this existed.
        let message_delay_ticks_max = rng.gen_range(1..=12);
        // A slow disk in some runs: writes stay in flight across view changes, so that an entry
        // is removed and adopted again (or moved to another version) while its write is pending.
        let mut faults = faults;
        let mut liveness_ticks_max = 20_000;
        if rng.gen_bool(0.25) {
            faults.write_latency_ticks_mean = rng.gen_range(16..=40);
            // Header-sector writes of neighbouring slots are serialized: the cluster needs time
            // in proportion to the disk's latency to rewrite the rings twice.
            liveness_ticks_max = 20_000 * faults.write_latency_ticks_mean / 8;
        }
        let view_change_storm_probability = if cluster && rng.gen_bool(0.4) {
            rng.gen_range(0.2..0.8)
        } else {
            0.0
        };
        let slow_replica = if cluster && rng.gen_bool(0.3) {
            Some((rng.gen_range(0..replica_count), rng.gen_range(20..=120)))
        } else {
            None
        };
        if slow_replica.is_some() {
            // A slow primary commits an op per round trip of its slow link.
            liveness_ticks_max *= 3;
        }
        RunConfig {
            seed,
            replica_count,
            journal,
            faults,
            crash_probability,
            restart_ticks_max,
            view_change_probability,
            prepare_probability,
            ops_target,
            body_size_max,
            superblock_latency_ticks_max,
            ticks_max: 20_000,
            liveness_ticks_max,
            message_delay_ticks_max,
            view_change_storm_probability,
            slow_replica,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_change_only_what_they_name() {
        let seed = (0..)
            .find(|&s| RunConfig::draw(s).replica_count >= 3)
            .expect("a cluster");
        let drawn = RunConfig::draw(seed);
        assert_eq!(RunConfig::draw_with(seed, &Overrides::default()), drawn);
        let overrides = Overrides {
            replicas: Some(2),
            ops: Some(7),
            without: vec!["crash".into(), "torn_write".into()],
        };
        let changed = RunConfig::draw_with(seed, &overrides);
        assert_eq!(changed.replica_count, 2);
        assert_eq!(changed.ops_target, 7);
        assert_eq!(changed.crash_probability, 0.0);
        assert_eq!(changed.faults.crash_write_torn_probability, 0.0);
        assert_eq!(changed.journal, drawn.journal);
        assert_eq!(
            changed.faults.read_bit_flip_probability,
            drawn.faults.read_bit_flip_probability
        );
        assert_eq!(
            overrides.flags(),
            " --replicas 2 --ops 7 --without crash,torn_write"
        );
        // A solo replica keeps to crash faults, as a drawn one does.
        let solo = RunConfig::draw_with(
            seed,
            &Overrides {
                replicas: Some(1),
                ..Overrides::default()
            },
        );
        assert_eq!(solo.faults.misdirected_write_probability, 0.0);
        assert_eq!(solo.view_change_probability, 0.0);
    }

    #[test]
    fn bad_overrides_are_refused() {
        let bad = |overrides: Overrides| overrides.validate().expect_err("refused");
        assert!(bad(Overrides {
            replicas: Some(0),
            ..Overrides::default()
        })
        .contains("1 to 6"));
        assert!(bad(Overrides {
            replicas: Some(7),
            ..Overrides::default()
        })
        .contains("1 to 6"));
        assert!(bad(Overrides {
            ops: Some(0),
            ..Overrides::default()
        })
        .contains("--ops 0"));
        assert!(bad(Overrides {
            without: vec!["x".into()],
            ..Overrides::default()
        })
        .contains("unknown"));
    }
}
