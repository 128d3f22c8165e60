//! Swarm testing: the seed draws the whole run's configuration, so that across seeds every
//! combination of cluster size, ring size and fault mix is tried, and some kinds are often off.

use fault_models::FaultConfig;
use journal::{Config, ConfigError, HEADER_SIZE};
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
    /// Aimed faults (FoundationDB's BUGGIFY, in spirit; clusters only): the chance that a prepare
    /// write where a rare recovery case needs one (past the replica's durable prepare max, or a
    /// new version of the op on disk) is lost and the replica crashes as soon as its header
    /// sector lands; a tenth of it for any other prepare write. This is what reaches `@I`, `@J`,
    /// `@N` and `@O` on purpose instead of by luck.
    #[serde(default)]
    pub aim_probability: f64,
    /// Aimed protocol windows (clusters only; see `Simulation::truncate_from`): the chance that
    /// a truncating view change holds the writes it removed an entry under in flight longer
    /// (so that the entry is adopted again while they are), and a quarter of it that the
    /// replica crashes before it repairs what the view change replaced; also the chance that a
    /// checkpoint over a slot still holding another version of its op on disk crashes the
    /// replica once it is durable.
    #[serde(default)]
    pub window_aim_probability: f64,
    /// A configuration `Config::validate` must reject, with the rule it must name (a share of
    /// seeds; checked before the run starts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<(Config, ConfigError)>,
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
    /// Ring size instead of the drawn journal: 512-byte sectors, 2 KiB prepares, this many slots
    /// (a multiple of 4, 8 to [`SLOTS_OVERRIDE_MAX`]), the drawn pipeline and write depths
    /// clamped to what a ring of [`SLOTS_SAME_DEPTHS`] slots allows (or this ring, if smaller).
    /// For measuring what a run costs per op as the ring grows, all else equal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slots: Option<u64>,
}

/// `--slots` keeps the pipeline and write depths a ring of this many slots allows, for every
/// ring at least this large.
pub const SLOTS_SAME_DEPTHS: u64 = 16;

/// The largest ring `--slots` takes.
pub const SLOTS_OVERRIDE_MAX: u64 = 1024;

/// Everything `--without` can switch off.
pub const KNOBS: [&str; 12] = [
    "crash",
    "view_change",
    "torn_write",
    "read_bit_flip",
    "write_bit_flip",
    "misdirected_write",
    "misdirected_read",
    "latent_sector_error",
    "lost_write",
    "sector_corrupt",
    // The aimed protocol windows (`window_aim_probability`).
    "window_aim",
    // A pipeline deeper than a quarter of the ring (the seed keeps the depth drawn before).
    "deep_pipeline",
];

impl Overrides {
    pub fn is_empty(&self) -> bool {
        self.replicas.is_none()
            && self.ops.is_none()
            && self.without.is_empty()
            && self.slots.is_none()
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
        if let Some(slots) = self.slots {
            if slots % 4 != 0 || !(8..=SLOTS_OVERRIDE_MAX).contains(&slots) {
                return Err(format!(
                    "--slots {slots}: a ring has a multiple of 4 slots, 8 to {SLOTS_OVERRIDE_MAX}"
                ));
            }
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
        if let Some(slots) = self.slots {
            flags.push_str(&format!(" --slots {slots}"));
        }
        flags
    }
}

impl RunConfig {
    /// The configuration `seed` draws, then changed by `overrides` (validated first).
    pub fn draw_with(seed: u64, overrides: &Overrides) -> RunConfig {
        assert_eq!(overrides.validate(), Ok(()));
        let deep = !overrides.without.iter().any(|knob| knob == "deep_pipeline");
        let mut config = RunConfig::draw_deep(seed, deep);
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
                    sector_corrupt_probability: 0.0,
                    ..config.faults
                };
                config.view_change_probability = 0.0;
                config.view_change_storm_probability = 0.0;
                config.aim_probability = 0.0;
                config.window_aim_probability = 0.0;
            }
        }
        if let Some(ops) = overrides.ops {
            config.ops_target = ops;
        }
        if let Some(slot_count) = overrides.slots {
            let drawn = config.journal;
            // The drawn depths, clamped to what the smallest drawn ring allows whatever the
            // ring: so that runs of one seed on rings of 16 slots and more differ in the ring
            // alone (a deeper pipeline resends more prepares per op).
            let depth_ring = slot_count.min(SLOTS_SAME_DEPTHS);
            config.journal = Config {
                sector_size: 512,
                slot_count,
                message_size_max: 2048,
                pipeline_max: drawn.pipeline_max.min(depth_ring / 4),
                iops_read_max: drawn.iops_read_max,
                iops_write_max: drawn.iops_write_max.min(depth_ring / 4 - 1),
            };
            assert_eq!(config.journal.validate(), Ok(()));
            config.body_size_max = config.body_size_max.min(2048 - HEADER_SIZE);
            config.rejected = None;
        }
        for knob in &overrides.without {
            let faults = &mut config.faults;
            match knob.as_str() {
                "crash" => {
                    config.crash_probability = 0.0;
                    config.aim_probability = 0.0;
                    config.window_aim_probability = 0.0;
                }
                "view_change" => {
                    config.view_change_probability = 0.0;
                    config.view_change_storm_probability = 0.0;
                    config.window_aim_probability = 0.0;
                }
                "torn_write" => faults.crash_write_torn_probability = 0.0,
                "read_bit_flip" => faults.read_bit_flip_probability = 0.0,
                "write_bit_flip" => faults.write_bit_flip_probability = 0.0,
                "misdirected_write" => faults.misdirected_write_probability = 0.0,
                "misdirected_read" => faults.misdirected_read_probability = 0.0,
                "latent_sector_error" => faults.latent_sector_error_probability = 0.0,
                "lost_write" => {
                    faults.lost_write_probability = 0.0;
                    config.aim_probability = 0.0;
                }
                "sector_corrupt" => faults.sector_corrupt_probability = 0.0,
                "window_aim" => config.window_aim_probability = 0.0,
                "deep_pipeline" => {}
                _ => unreachable!("validated"),
            }
        }
        config
    }

    /// The configuration `seed` draws. Uses its own stream, so drawing it never shifts the run's.
    pub fn draw(seed: u64) -> RunConfig {
        RunConfig::draw_deep(seed, true)
    }

    /// [`RunConfig::draw`], with the deep pipeline draw kept (`deep_allowed`) or left out.
    fn draw_deep(seed: u64, deep_allowed: bool) -> RunConfig {
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
            // Drawn from a stream of its own, below.
            sector_corrupt_probability: 0.0,
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
        // Drawn last again, for the same reason.
        let aim_probability = if cluster && rng.gen_bool(0.4) {
            rng.gen_range(0.2..0.8)
        } else {
            0.0
        };
        // The whole space `Config::validate` accepts, biased to its bounds, from a stream of its
        // own (so that every knob above keeps its draw): half the seeds use it.
        let mut space = ChaCha8Rng::seed_from_u64(seed ^ 0x5a5a_5a5a_0000_0002);
        let mut journal = journal;
        let mut body_size_max = body_size_max;
        if space.gen_bool(0.5) {
            journal = draw_journal_bounds(&mut space);
            body_size_max = body_size_max.min(journal.message_size_max - HEADER_SIZE);
        }
        let rejected = space
            .gen_bool(0.1)
            .then(|| draw_journal_rejected(&mut space, &journal));
        // Structured corruption (zeros, noise, stale or shifted sectors, a run of noise inside
        // a sector), from a stream of its own: a seed that draws it off runs exactly as it did
        // before the fault existed.
        let mut corrupt = ChaCha8Rng::seed_from_u64(seed ^ 0x5a5a_5a5a_0000_0003);
        faults.sector_corrupt_probability = if cluster {
            maybe_probability(&mut corrupt, 0.02)
        } else {
            0.0
        };
        // A pipeline deeper than a quarter of the ring, up to one short of the ring (the most
        // `Config::validate` accepts), from a stream of its own again. With a pipeline that deep
        // the prepare max lies only `slot_count - pipeline_max` ops past the checkpoint, so the
        // model checkpoints that often and a view change carries most of the ring.
        let mut deep = ChaCha8Rng::seed_from_u64(seed ^ 0x5a5a_5a5a_0000_0011);
        if deep.gen_bool(DEEP_PIPELINE_PROBABILITY) && deep_allowed {
            journal.pipeline_max = bounded(
                &mut deep,
                journal.slot_count / 4 + 1,
                journal.slot_count - 1,
            );
            assert_eq!(journal.validate(), Ok(()));
            // The model commits at most `slot_count - pipeline_max` ops past a durable
            // checkpoint (`Config::op_prepare_max`), so each superblock round trip yields that
            // many ops instead of half a ring: the liveness budget grows by the same ratio.
            let window = journal.slot_count - journal.pipeline_max;
            liveness_ticks_max *= (journal.slot_count / 2).div_ceil(window).max(1);
        }
        // Aimed protocol windows, from a stream of their own again.
        let mut windows = ChaCha8Rng::seed_from_u64(seed ^ 0x5a5a_5a5a_0000_0012);
        let window_aim_probability = if cluster && windows.gen_bool(WINDOW_AIM_SEEDS) {
            windows.gen_range(0.7..1.0)
        } else {
            0.0
        };
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
            aim_probability,
            window_aim_probability,
            rejected,
        }
    }
}

/// How often a cluster seed aims at the rare protocol windows (`window_aim_probability`).
pub const WINDOW_AIM_SEEDS: f64 = 0.7;

/// How often a seed draws a pipeline deeper than a quarter of its ring.
pub const DEEP_PIPELINE_PROBABILITY: f64 = 0.15;

/// Draws from `lo..=hi`, half the time at one of the bounds.
fn bounded(rng: &mut ChaCha8Rng, lo: u64, hi: u64) -> u64 {
    assert!(lo <= hi);
    match rng.gen_range(0..4) {
        0 => lo,
        1 => hi,
        _ => rng.gen_range(lo..=hi),
    }
}

/// The most slots the swarm draws (a bound of the simulator's cost, not of `validate`, which
/// has none).
pub const SLOT_COUNT_MAX: u64 = 64;
/// The largest prepare the swarm draws, in bytes.
pub const MESSAGE_SIZE_MAX_MAX: u64 = 4096;
/// The most reads in flight the swarm draws (`validate` sets only the minimum, 3).
pub const IOPS_READ_MAX_MAX: u64 = 16;

/// A journal configuration from what `Config::validate` accepts, each field at its minimum or
/// maximum half the time: sectors of one header to 4 KiB, two header sectors (two slots, with
/// one header per sector) up to `SLOT_COUNT_MAX` slots, a pipeline of 1 up to a quarter of the ring, writes in
/// flight up to one fewer than the header sectors, prepares of one sector (a header-only
/// message, with 128-byte sectors) up to `MESSAGE_SIZE_MAX_MAX`.
pub fn draw_journal_bounds(rng: &mut ChaCha8Rng) -> Config {
    let sector_sizes = [128u64, 256, 512, 1024, 2048, 4096];
    let sector_size = sector_sizes[bounded(rng, 0, sector_sizes.len() as u64 - 1) as usize];
    let headers_per_sector = sector_size / HEADER_SIZE;
    let header_sector_count_max = (SLOT_COUNT_MAX / headers_per_sector).max(2);
    let mut header_sector_count = bounded(rng, 2, header_sector_count_max);
    if (header_sector_count * headers_per_sector) % 2 == 1 {
        // One header per sector and an odd count: the slot count must be even.
        header_sector_count -= 1;
    }
    let slot_count = header_sector_count * headers_per_sector;
    let config = Config {
        sector_size,
        slot_count,
        message_size_max: sector_size
            * bounded(rng, 1, (MESSAGE_SIZE_MAX_MAX / sector_size).max(1)),
        // Up to a quarter of the ring here; `RunConfig::draw` deepens it, up to one short of
        // the ring, in `DEEP_PIPELINE_PROBABILITY` of the seeds (with a liveness budget to
        // match).
        pipeline_max: bounded(rng, 1, (slot_count / 4).max(1)),
        iops_read_max: bounded(rng, 3, IOPS_READ_MAX_MAX),
        iops_write_max: bounded(rng, 1, header_sector_count - 1),
    };
    assert_eq!(config.validate(), Ok(()), "{config:?}");
    config
}

/// `valid` with exactly one of `Config::validate`'s rules broken, and the error that rule names.
pub fn draw_journal_rejected(rng: &mut ChaCha8Rng, valid: &Config) -> (Config, ConfigError) {
    let c = *valid;
    let header_sector_count = c.header_sector_count();
    let iops_read_max = rng.gen_range(0..3);
    let mut broken: Vec<(Config, ConfigError)> = vec![
        (
            Config {
                sector_size: c.sector_size * 3,
                ..c
            },
            ConfigError::SectorSizeNotPowerOfTwo(c.sector_size * 3),
        ),
        (
            Config {
                sector_size: 64,
                ..c
            },
            ConfigError::SectorSizeNotMultipleOfHeader {
                sector_size: 64,
                header_size: HEADER_SIZE,
            },
        ),
        (
            Config {
                slot_count: c.slot_count + 1,
                ..c
            },
            ConfigError::SlotCountNotEven(c.slot_count + 1),
        ),
        (
            Config {
                pipeline_max: 0,
                ..c
            },
            ConfigError::PipelineZero,
        ),
        (
            Config {
                pipeline_max: c.slot_count,
                ..c
            },
            ConfigError::SlotCountNotAbovePipeline {
                slot_count: c.slot_count,
                pipeline_max: c.slot_count,
            },
        ),
        (
            Config {
                message_size_max: HEADER_SIZE / 2,
                ..c
            },
            ConfigError::MessageSizeBelowHeader(HEADER_SIZE / 2),
        ),
        (
            Config {
                message_size_max: c.message_size_max + 1,
                ..c
            },
            ConfigError::MessageSizeNotMultipleOfSector {
                message_size_max: c.message_size_max + 1,
                sector_size: c.sector_size,
            },
        ),
        (
            Config {
                message_size_max: u64::from(u32::MAX) + 1,
                ..c
            },
            ConfigError::MessageSizeTooLarge(u64::from(u32::MAX) + 1),
        ),
        (
            Config { iops_read_max, ..c },
            ConfigError::IopsReadTooFew(iops_read_max),
        ),
        (
            Config {
                iops_write_max: 0,
                ..c
            },
            ConfigError::IopsWriteZero,
        ),
        (
            Config {
                iops_write_max: header_sector_count,
                ..c
            },
            ConfigError::IopsWriteNotBelowHeaderSectors {
                iops_write_max: header_sector_count,
                header_sector_count,
            },
        ),
    ];
    if c.headers_per_sector() > 2 {
        broken.push((
            Config {
                slot_count: c.slot_count + 2,
                ..c
            },
            ConfigError::SlotCountNotMultipleOfHeadersPerSector {
                slot_count: c.slot_count + 2,
                headers_per_sector: c.headers_per_sector(),
            },
        ));
    }
    broken.swap_remove(rng.gen_range(0..broken.len()))
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
            slots: None,
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

    /// The drawn journal configurations are all valid, reach each bound the swarm promises, and
    /// every rejected one is refused by `validate` with the rule it breaks.
    #[test]
    fn config_space_reaches_the_bounds_and_rejections_name_their_rule() {
        let configs: Vec<RunConfig> = (0..3_000).map(RunConfig::draw).collect();
        for config in &configs {
            assert_eq!(config.journal.validate(), Ok(()), "seed {}", config.seed);
            assert!(config.body_size_max + HEADER_SIZE <= config.journal.message_size_max);
            if let Some((rejected, error)) = &config.rejected {
                assert_eq!(
                    rejected.validate().as_ref(),
                    Err(error),
                    "seed {}",
                    config.seed
                );
            }
        }
        let journals = || configs.iter().map(|c| c.journal);
        for sector_size in [128, 256, 512, 1024, 2048, 4096] {
            assert!(
                journals().any(|j| j.sector_size == sector_size),
                "sector {sector_size}"
            );
        }
        assert!(
            journals().any(|j| j.message_size_max == j.sector_size),
            "one-sector prepares"
        );
        assert!(journals().any(|j| j.message_size_max == MESSAGE_SIZE_MAX_MAX));
        assert!(journals().any(|j| j.slot_count == SLOT_COUNT_MAX));
        assert!(journals().any(|j| j.slot_count == 2));
        assert!(journals().any(|j| j.iops_read_max == 3));
        assert!(journals().any(|j| j.iops_read_max == IOPS_READ_MAX_MAX));
        assert!(journals()
            .any(|j| j.iops_write_max == j.header_sector_count() - 1 && j.iops_write_max > 6));
        assert!(journals().any(|j| j.pipeline_max == j.slot_count / 4 && j.pipeline_max > 8));
        // Deeper than a quarter of the ring, up to the bound `validate` sets (one short of the
        // ring), in clusters too, and in at least 5% of the seeds.
        let deep = configs
            .iter()
            .filter(|c| c.journal.pipeline_max > c.journal.slot_count / 4)
            .collect::<Vec<_>>();
        assert!(deep.len() * 20 >= configs.len(), "{} deep", deep.len());
        assert!(deep.iter().any(|c| c.replica_count >= 3
            && c.journal.slot_count >= 32
            && c.journal.pipeline_max == c.journal.slot_count - 1));
        assert!(deep.iter().any(|c| c.replica_count >= 3
            && c.journal.pipeline_max > c.journal.slot_count / 2
            && c.journal.pipeline_max < c.journal.slot_count - 1));
        // Their liveness budget grows with the ring over the commit window.
        assert!(deep.iter().all(|c| {
            let window = c.journal.slot_count - c.journal.pipeline_max;
            c.liveness_ticks_max >= 20_000 * (c.journal.slot_count / 2).div_ceil(window)
        }));
        // Every rule is broken by some seed.
        let rejected: Vec<String> = configs
            .iter()
            .filter_map(|c| c.rejected.as_ref())
            .map(|(_, error)| {
                format!("{error:?}")
                    .split(['(', ' '])
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        for rule in [
            "SectorSizeNotPowerOfTwo",
            "SectorSizeNotMultipleOfHeader",
            "SlotCountNotEven",
            "SlotCountNotMultipleOfHeadersPerSector",
            "PipelineZero",
            "SlotCountNotAbovePipeline",
            "MessageSizeBelowHeader",
            "MessageSizeNotMultipleOfSector",
            "MessageSizeTooLarge",
            "IopsReadTooFew",
            "IopsWriteZero",
            "IopsWriteNotBelowHeaderSectors",
        ] {
            assert!(rejected.iter().any(|r| r == rule), "no seed breaks {rule}");
        }
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
        for slots in [0, 4, 10, 2048] {
            assert!(bad(Overrides {
                slots: Some(slots),
                ..Overrides::default()
            })
            .contains("multiple of 4"));
        }
    }

    /// `--slots` sets the ring and keeps every other draw; each seed's config stays valid.
    #[test]
    fn slots_override_sets_the_ring_only() {
        for seed in 0..200 {
            let drawn = RunConfig::draw(seed);
            for slots in [8, 16, 64, 1024] {
                let overrides = Overrides {
                    slots: Some(slots),
                    ..Overrides::default()
                };
                let changed = RunConfig::draw_with(seed, &overrides);
                assert_eq!(changed.journal.slot_count, slots);
                assert_eq!(changed.journal.validate(), Ok(()));
                assert!(changed.rejected.is_none());
                assert_eq!(changed.ops_target, drawn.ops_target);
                assert_eq!(changed.faults, drawn.faults);
                assert_eq!(overrides.flags(), format!(" --slots {slots}"));
            }
        }
    }
}
