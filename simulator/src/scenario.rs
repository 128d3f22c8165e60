//! Scenarios: named, deterministic scripts that place exactly the faults and crashes one recovery
//! case needs, at named moments, on the same model cluster and checkers as `vopr fuzz`.
//!
//! Random seeds reach the common rows of the decision table; a scenario reaches one row on
//! purpose. Each builds a quiet cluster (no drawn faults, crashes or view changes), commits some
//! ops, then places its faults with the disk's aimed faults (`Disk::aim_write`,
//! `Disk::aim_bit_rot_at`), crashes the replica and asserts three things: the slot's case label,
//! its decision, and the outcome (the cluster repairs it and ends clean, with every checker quiet,
//! or, for a solo replica where DESIGN.md says so, the slot is reported unrecoverable). Some
//! moments are found by stepping until they occur (a write past the durable prepare max, an op
//! rewritten in a new version): the search is bounded and deterministic.

use crate::replica::{ZONE_HEADERS, ZONE_PREPARES};
use crate::swarm::RunConfig;
use crate::Simulation;
use fault_models::{FaultConfig, WriteAim, ZoneId};
use journal::{Config, Decision, Zone, HEADER_SIZE};

/// How a scenario must end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The cluster repairs the slot and ends clean (`check_final` passes).
    Repaired,
    /// A solo replica reports the slot unrecoverable (it has no peer to repair from).
    Unrecoverable,
}

/// One named script and what it must produce.
#[allow(missing_debug_implementations)]
pub struct Scenario {
    pub name: &'static str,
    pub about: &'static str,
    pub label: &'static str,
    pub decision: Decision,
    pub outcome: Outcome,
    script: fn(&mut Stage) -> Result<Target, String>,
    replica_count: u8,
    /// Crashes and view changes in quick succession on the stage (they rewrite ops in new
    /// versions); none otherwise.
    view_changes: bool,
}

/// What a recovery decided for the target slot, and whether the replica reported it
/// unrecoverable.
type Recovered = (&'static str, Decision, bool);

/// The replica and slot a script aimed at, and the recovery it already awaited, if any.
#[derive(Clone, Copy, Debug)]
struct Target {
    replica: usize,
    slot: u64,
    recovered: Option<Recovered>,
}

impl Target {
    fn new(replica: usize, slot: u64) -> Target {
        Target {
            replica,
            slot,
            recovered: None,
        }
    }
}

/// Steps a scenario may take to reach any one moment.
const MOMENT_TICKS_MAX: u64 = 40_000;

/// Byte 40 of a header (in its checksummed part): flipping it breaks the header's checksum.
const HEADER_BYTE: u64 = 40;

/// The journal every stage runs (and the sweep): 32 slots of 2 KiB prepares, four 512-byte
/// sectors each, eight header sectors.
pub const STAGE_JOURNAL: Config = Config {
    sector_size: 512,
    slot_count: 32,
    message_size_max: 2048,
    pipeline_max: 4,
    iops_read_max: 4,
    iops_write_max: 3,
};

/// The cluster a script plays on, and the helpers that place its faults.
#[derive(Debug)]
pub struct Stage {
    pub simulation: Simulation,
}

impl Stage {
    pub(crate) fn new(replica_count: u8, view_changes: bool) -> Stage {
        let mut config = RunConfig::draw(0);
        config.replica_count = replica_count;
        config.journal = STAGE_JOURNAL;
        config.faults = FaultConfig {
            read_latency_ticks_min: 1,
            read_latency_ticks_mean: 3,
            write_latency_ticks_min: 1,
            write_latency_ticks_mean: 3,
            ..FaultConfig::default()
        };
        // Crashes of any replica too, for those scripts: a primary that crashes with its pipeline
        // unreplicated is what makes the next view prepare its ops again in new versions.
        config.crash_probability = if view_changes { 0.003 } else { 0.0 };
        config.restart_ticks_max = 1;
        // Spurious view changes in quick succession (storms), for the scripts that need ops
        // rewritten in new versions; none otherwise.
        config.view_change_probability = if view_changes { 0.02 } else { 0.0 };
        config.view_change_storm_probability = if view_changes { 0.9 } else { 0.0 };
        config.slow_replica = None;
        config.aim_probability = 0.0;
        config.rejected = None;
        config.prepare_probability = 1.0;
        config.body_size_max = 1_500;
        // Slow checkpoints: replicas write past their durable prepare max for a while.
        config.superblock_latency_ticks_max = 200;
        config.message_delay_ticks_max = 2;
        config.ticks_max = 200_000;
        config.liveness_ticks_max = 40_000;
        config.ops_target = 0;
        let mut simulation = Simulation::new(config, false);
        simulation.ops_target = 0;
        for replica in &mut simulation.replicas {
            // The script decides where faults fall, a solo replica's slots included.
            replica.disk.lift_atlas();
        }
        Stage { simulation }
    }

    fn step(&mut self) -> Result<(), String> {
        self.simulation.step().map_err(|f| {
            format!(
                "checker {} fired at tick {}: {}",
                f.checker, f.tick, f.message
            )
        })
    }

    /// Steps until `done`, at most `MOMENT_TICKS_MAX` ticks.
    fn until(&mut self, what: &str, mut done: impl FnMut(&Stage) -> bool) -> Result<(), String> {
        for _ in 0..MOMENT_TICKS_MAX {
            if done(self) {
                return Ok(());
            }
            self.step()?;
        }
        Err(format!("never reached: {what}"))
    }

    /// Prepares ops up to `op` and waits until every replica holds them clean and idle.
    fn commit(&mut self, op: u64) -> Result<(), String> {
        self.simulation.ops_target = op;
        self.until(&format!("op {op} committed and the cluster clean"), |s| {
            s.simulation.all_clean()
        })
    }

    fn config(&self) -> Config {
        self.simulation.config.journal
    }

    fn slot(&self, op: u64) -> u64 {
        op % self.config().slot_count
    }

    fn primary(&self) -> Option<usize> {
        self.simulation.primary_normal()
    }

    /// A backup (any replica of a solo cluster).
    fn backup(&self) -> usize {
        let count = self.simulation.replicas.len();
        let primary = self.primary().unwrap_or(0);
        if count == 1 {
            0
        } else {
            (primary + 1) % count
        }
    }

    fn tick(&self) -> u64 {
        self.simulation.tick
    }

    /// Rots one bit of the slot's redundant header on `replica`'s disk.
    fn rot_header(&mut self, replica: usize, slot: u64) -> Result<(), String> {
        let tick = self.tick();
        let offset = slot * HEADER_SIZE + HEADER_BYTE;
        self.aimed(replica, ZONE_HEADERS, offset, tick)
    }

    /// Rots one bit of the header of the slot's prepare on `replica`'s disk.
    fn rot_prepare(&mut self, replica: usize, slot: u64) -> Result<(), String> {
        let tick = self.tick();
        let offset = slot * self.config().message_size_max + HEADER_BYTE;
        self.aimed(replica, ZONE_PREPARES, offset, tick)
    }

    fn aimed(
        &mut self,
        replica: usize,
        zone: ZoneId,
        offset: u64,
        tick: u64,
    ) -> Result<(), String> {
        if self.simulation.replicas[replica]
            .disk
            .aim_bit_rot_at(tick, zone, offset, 0)
        {
            Ok(())
        } else {
            Err(format!(
                "r{replica}: bit rot at zone {zone} offset {offset} refused"
            ))
        }
    }

    /// Crashes `replica` now and waits until it has recovered; returns its slot's case.
    fn crash_recover(&mut self, replica: usize, slot: u64) -> Result<Recovered, String> {
        self.simulation.crash(replica);
        self.await_recovery(replica, slot)
    }

    /// Waits for `replica` (crashed or about to be) to come back; returns its slot's case.
    fn await_recovery(&mut self, replica: usize, slot: u64) -> Result<Recovered, String> {
        self.until("the crash", |s| {
            !s.simulation.replicas[replica].status.is_up()
        })?;
        let result = self.until("the recovery", |s| {
            s.simulation.replicas[replica].status.is_up()
        });
        let recovered = self.simulation.replicas[replica]
            .journal
            .slot_recoveries()
            .find(|(s, _)| *s == slot)
            .map(|(_, r)| (r.label, r.decision));
        match (result, recovered) {
            (Ok(()), Some((label, decision))) => Ok((label, decision, false)),
            // The *availability* checker fires on a solo replica's `Unrecoverable` event.
            (Err(error), Some((label, decision)))
                if error.contains(&format!("slot {slot} unrecoverable")) =>
            {
                Ok((label, decision, true))
            }
            (Err(error), _) => Err(error),
            (Ok(()), None) => Err(format!("r{replica} reported no decision for slot {slot}")),
        }
    }

    /// Steps until `replica` submits a write to `zone` that `pick` accepts (by the slot and the
    /// op the journal holds there); returns the disk id, op and slot.
    fn until_write(
        &mut self,
        replica: usize,
        zone: Zone,
        what: &str,
        pick: impl Fn(&Stage, u64, u64) -> bool,
    ) -> Result<(u64, u64, u64), String> {
        let mut found = None;
        let message_size_max = self.config().message_size_max;
        let headers_per_sector = self.config().headers_per_sector();
        let sector_size = self.config().sector_size;
        self.until(what, |s| {
            let r = &s.simulation.replicas[replica];
            if !r.status.is_up() {
                return false;
            }
            for (&id, &(z, offset, _)) in &r.in_flight_writes {
                if z != zone {
                    continue;
                }
                let slots: Vec<u64> = match zone {
                    Zone::WalPrepares => vec![offset / message_size_max],
                    Zone::WalHeaders => {
                        let first = offset / sector_size * headers_per_sector;
                        (first..first + headers_per_sector).collect()
                    }
                };
                for slot in slots {
                    let header = r.journal.header(slot);
                    if !header.is_reserved() && pick(s, slot, header.op) {
                        found = Some((id, header.op, slot));
                        return true;
                    }
                }
            }
            false
        })?;
        found.ok_or_else(|| format!("never reached: {what}"))
    }

    /// Makes the pending write `id` of `replica` lost, and crashes the replica once the write of
    /// `op` reports done (its header sector landed, or was lost).
    fn lose_then_crash(
        &mut self,
        replica: usize,
        id: u64,
        op: u64,
        slot: u64,
    ) -> Result<(), String> {
        if !self.simulation.replicas[replica]
            .disk
            .aim_write(id, WriteAim::Lose)
        {
            return Err(format!("r{replica}: lost write refused"));
        }
        self.crash_when_written(replica, op, slot);
        Ok(())
    }

    /// Crashes `replica` once the write of `op` (in `slot`) reports done.
    fn crash_when_written(&mut self, replica: usize, op: u64, slot: u64) {
        let checksum = self.simulation.replicas[replica]
            .journal
            .header(slot)
            .checksum;
        self.simulation.aimed.push((replica, op, checksum));
    }

    /// Runs the liveness phase to the end: every checker, then the final checks.
    fn repaired(&mut self) -> Result<(), String> {
        self.simulation.finish().map_err(|f| {
            format!(
                "checker {} fired at tick {}: {}",
                f.checker, f.tick, f.message
            )
        })
    }
}

/// Every scenario, in table order, then the solo ones, then TigerBeetle's `replica_test` WAL
/// scenarios restated.
pub fn all() -> Vec<Scenario> {
    use Decision::*;
    use Outcome::*;
    let cluster = |name, about, label, decision, script| Scenario {
        name,
        about,
        label,
        decision,
        outcome: Repaired,
        script,
        replica_count: 3,
        view_changes: false,
    };
    let solo = |name, about, label, decision, outcome, script| Scenario {
        name,
        about,
        label,
        decision,
        outcome,
        script,
        replica_count: 1,
        view_changes: false,
    };
    vec![
        cluster("a_header_and_prepare_rot", "bit rot in a committed op's header and in its prepare", "@A", Vsr, |s| {
            s.commit(10)?;
            let (replica, slot) = (s.backup(), s.slot(6));
            s.rot_header(replica, slot)?;
            s.rot_prepare(replica, slot)?;
            Ok(Target::new(replica, slot))
        }),
        cluster("b_fault_under_reserved_header", "bit rot in the prepare of a never-used first-wrap slot", "@B", Vsr, |s| {
            s.commit(10)?;
            let (replica, slot) = (s.backup(), s.slot(20));
            s.rot_prepare(replica, slot)?;
            Ok(Target::new(replica, slot))
        }),
        cluster("c_prepare_rot", "bit rot in a committed op's prepare", "@C", Vsr, |s| {
            s.commit(10)?;
            let (replica, slot) = (s.backup(), s.slot(6));
            s.rot_prepare(replica, slot)?;
            Ok(Target::new(replica, slot))
        }),
        cluster("d_header_rot_over_reserved_prepare", "bit rot in the header of a never-used first-wrap slot", "@D", Vsr, |s| {
            s.commit(10)?;
            let (replica, slot) = (s.backup(), s.slot(20));
            s.rot_header(replica, slot)?;
            Ok(Target::new(replica, slot))
        }),
        cluster("e_header_rot_below_head", "bit rot in the header of a committed op below the head", "@E", Vsr, |s| {
            s.commit(10)?;
            let (replica, slot) = (s.backup(), s.slot(6));
            s.rot_header(replica, slot)?;
            Ok(Target::new(replica, slot))
        }),
        cluster("f_header_rot_at_head", "bit rot in the header of the head op", "@F", Fix, |s| {
            s.commit(10)?;
            let (replica, slot) = (s.backup(), s.slot(10));
            s.rot_header(replica, slot)?;
            Ok(Target::new(replica, slot))
        }),
        cluster("g_lost_header_write_first_wrap", "the header sector write of a first-wrap op is lost; crash once it reports done", "@G", Fix, |s| {
            s.commit(10)?;
            let replica = s.backup();
            s.simulation.ops_target = 11;
            let (id, op, slot) = s.until_write(replica, Zone::WalHeaders, "op 11's header write", |s, slot, op| {
                op == 11 && s.simulation.replicas[replica].journal.header_redundant(slot).op == 11
            })?;
            s.lose_then_crash(replica, id, op, slot)?;
            Ok(Target::new(replica, slot))
        }),
        cluster("h_write_past_durable_prepare_max", "a backup writes an op past its durable prepare max (its checkpoint is not durable yet), then crashes", "@H", Cut, |s| {
            s.commit(2)?;
            let replica = s.backup();
            s.simulation.ops_target = 200;
            let (_, op, slot) = s.until_write(replica, Zone::WalPrepares, "a prepare write past the durable prepare max", |s, _, op| {
                op > s.simulation.replicas[replica].op_prepare_ok_max()
            })?;
            s.crash_when_written(replica, op, slot);
            Ok(Target::new(replica, slot))
        }),
        cluster("i_lost_prepare_past_durable_max", "as @H after the first wrap, with the prepare write lost under its landed header", "@I", Cut, |s| {
            s.commit(2)?;
            let replica = s.backup();
            s.simulation.ops_target = 400;
            let slot_count = s.config().slot_count;
            let (id, op, slot) = s.until_write(replica, Zone::WalPrepares, "a later-wrap prepare write past the durable prepare max", |s, _, op| {
                op >= slot_count && op > s.simulation.replicas[replica].op_prepare_ok_max()
            })?;
            s.lose_then_crash(replica, id, op, slot)?;
            Ok(Target::new(replica, slot))
        }),
        cluster("j_lost_prepare_past_durable_max_first_wrap", "as @I in the first wrap: the slot's prepare is still reserved", "@J", Cut, |s| {
            s.commit(2)?;
            let replica = s.backup();
            s.simulation.ops_target = 200;
            let slot_count = s.config().slot_count;
            let (id, op, slot) = s.until_write(replica, Zone::WalPrepares, "a first-wrap prepare write past the durable prepare max", |s, _, op| {
                op < slot_count && op > s.simulation.replicas[replica].op_prepare_ok_max()
            })?;
            s.lose_then_crash(replica, id, op, slot)?;
            Ok(Target::new(replica, slot))
        }),
        cluster("k_lost_prepare_write_first_wrap", "a first-wrap prepare write is lost while its header lands; crash", "@K", Vsr, |s| {
            s.commit(10)?;
            let replica = s.backup();
            s.simulation.ops_target = 11;
            let (id, op, slot) = s.until_write(replica, Zone::WalPrepares, "op 11's prepare write", |_, _, op| op == 11)?;
            s.lose_then_crash(replica, id, op, slot)?;
            Ok(Target::new(replica, slot))
        }),
        cluster("l_never_used", "a crash with the ring half used: the slots past the head", "@L", Nil, |s| {
            s.commit(10)?;
            let (replica, slot) = (s.backup(), s.slot(25));
            Ok(Target::new(replica, slot))
        }),
        cluster("m_lost_header_write_second_wrap", "the ring wrapped and a newer op's header sector write is lost; crash", "@M", Fix, |s| {
            s.commit(40)?;
            let replica = s.backup();
            s.simulation.ops_target = 41;
            let (id, op, slot) = s.until_write(replica, Zone::WalHeaders, "op 41's header write", |s, slot, op| {
                op == 41 && s.simulation.replicas[replica].journal.header_redundant(slot).op == 41
            })?;
            s.lose_then_crash(replica, id, op, slot)?;
            Ok(Target::new(replica, slot))
        }),
        cluster("n_lost_prepare_write_second_wrap", "the ring wrapped and a newer op's prepare write is lost while its header lands; crash", "@N", Vsr, |s| {
            s.commit(40)?;
            let replica = s.backup();
            s.simulation.ops_target = 41;
            let (id, op, slot) = s.until_write(replica, Zone::WalPrepares, "op 41's prepare write", |_, _, op| op == 41)?;
            s.lose_then_crash(replica, id, op, slot)?;
            Ok(Target::new(replica, slot))
        }),
        Scenario {
            name: "o_new_version_prepare_lost",
            about: "crashes and view changes in quick succession rewrite an op in a new version; that prepare write is lost under its landed header; crash",
            label: "@O",
            decision: Vsr,
            outcome: Repaired,
            replica_count: 3,
            view_changes: true,
            script: new_version_prepare_lost,
        },
        Scenario {
            name: "o_then_crash_before_repair",
            about: "as @O, and the replica crashes again before the slot is repaired: its header is now the fault the first recovery wrote invalid, and the older version's prepare beside it must not become a clean slot",
            label: "@E",
            decision: Vsr,
            outcome: Repaired,
            replica_count: 3,
            view_changes: true,
            script: |s| {
                let Target { replica, slot, .. } = new_version_prepare_lost(s)?;
                let first = s.await_recovery(replica, slot)?;
                if (first.0, first.1) != ("@O", Decision::Vsr) {
                    return Err(format!("the first recovery decided {} {}, not @O vsr", first.0, first.1.name()));
                }
                // Crash before the slot's prepare is repaired.
                if !s.simulation.replicas[replica].journal.faulty(slot) {
                    return Err(format!("r{replica} repaired slot {slot} at its recovery"));
                }
                s.simulation.crash(replica);
                Ok(Target::new(replica, slot))
            },
        },
        cluster("p_normal", "a crash with nothing damaged", "@P", Eql, |s| {
            s.commit(10)?;
            let (replica, slot) = (s.backup(), s.slot(6));
            Ok(Target::new(replica, slot))
        }),
        // A solo replica: crashes only in the fuzz; here faults are placed too, to show what the
        // design says it must report.
        solo("solo_f_header_torn_at_head", "a solo replica's header sector of its head op rots: the prepare is intact", "@F", Fix, Repaired, |s| {
            s.commit(10)?;
            let slot = s.slot(10);
            s.rot_header(0, slot)?;
            Ok(Target::new(0, slot))
        }),
        solo("solo_e_header_rot_below_head", "restated from replica_test (header corruption, R=1): a header below the head rots; its prepare repairs it", "@E", Fix, Repaired, |s| {
            s.commit(10)?;
            let slot = s.slot(6);
            s.rot_header(0, slot)?;
            Ok(Target::new(0, slot))
        }),
        solo("solo_g_crash_before_header_write", "a solo replica crashes after a first-wrap prepare landed, its header write lost", "@G", Fix, Repaired, |s| {
            s.commit(10)?;
            s.simulation.ops_target = 11;
            let (id, op, slot) = s.until_write(0, Zone::WalHeaders, "op 11's header write", |s, slot, op| {
                op == 11 && s.simulation.replicas[0].journal.header_redundant(slot).op == 11
            })?;
            s.lose_then_crash(0, id, op, slot)?;
            Ok(Target::new(0, slot))
        }),
        solo("solo_m_crash_before_header_write_second_wrap", "as solo @G after the ring wrapped", "@M", Fix, Repaired, |s| {
            s.commit(40)?;
            s.simulation.ops_target = 41;
            let (id, op, slot) = s.until_write(0, Zone::WalHeaders, "op 41's header write", |s, slot, op| {
                op == 41 && s.simulation.replicas[0].journal.header_redundant(slot).op == 41
            })?;
            s.lose_then_crash(0, id, op, slot)?;
            Ok(Target::new(0, slot))
        }),
        solo("solo_l_never_used", "a solo crash with the ring half used", "@L", Nil, Repaired, |s| {
            s.commit(10)?;
            Ok(Target::new(0, s.slot(25)))
        }),
        solo("solo_p_normal", "a solo crash with nothing damaged", "@P", Eql, Repaired, |s| {
            s.commit(10)?;
            Ok(Target::new(0, s.slot(6)))
        }),
        solo("solo_c_prepare_rot_unrecoverable", "restated from replica_test (prepare corruption, R=1): a committed prepare rots; no peer holds it, so the replica reports it", "@C", Vsr, Unrecoverable, |s| {
            s.commit(10)?;
            let slot = s.slot(6);
            s.rot_prepare(0, slot)?;
            Ok(Target::new(0, slot))
        }),
        solo("solo_c_prepare_rot_in_last_pipeline", "a committed prepare of the last pipeline rots (where a crash may have torn appends): its own header, of the durable log view, proves it landed, so it is reported, not cut", "@C", Vsr, Unrecoverable, |s| {
            s.commit(10)?;
            let slot = s.slot(9);
            s.rot_prepare(0, slot)?;
            Ok(Target::new(0, slot))
        }),
        solo("solo_torn_append_at_prepare_max", "a solo replica's head reaches the durable prepare max (its checkpoint is not durable yet) while an append below it is torn (its header sector still names the op of the wrap before: the journal keeps it until the new prepare lands): the pipeline's torn appends are cut there too", "@C", CutTorn, Repaired, |s| {
            s.commit(10)?;
            let slot_count = s.config().slot_count;
            let message_size_max = s.config().message_size_max;
            s.simulation.ops_target = 400;
            let mut torn = None;
            s.until("a landed append at the durable prepare max above one in flight", |s| {
                let r = &s.simulation.replicas[0];
                if !r.status.is_up() {
                    return false;
                }
                let prepare_max = s.config().op_prepare_max(r.superblock.op_checkpoint);
                let slot_max = prepare_max % slot_count;
                let landed_max = r.journal.header(slot_max).op == prepare_max
                    && r.journal.prepare_checksum(slot_max) == Some(r.journal.header(slot_max).checksum)
                    && !r.in_flight_writes.values().any(|&(z, o, _)| {
                        z == Zone::WalPrepares && o == slot_max * message_size_max
                    });
                if !landed_max {
                    return false;
                }
                for (&id, &(zone, offset, _)) in &r.in_flight_writes {
                    let op = r.journal.header(offset / message_size_max).op;
                    if zone == Zone::WalPrepares && op > r.superblock.op_checkpoint && op < prepare_max {
                        torn = Some((id, offset / message_size_max));
                        return true;
                    }
                }
                false
            })?;
            let (id, slot) = torn.ok_or("never reached: a torn append below the prepare max")?;
            if !s.simulation.replicas[0].disk.aim_write(id, WriteAim::Tear) {
                return Err("tear refused".into());
            }
            s.simulation.crash(0);
            // The tear must break the prepare, as a first sector half written does.
            s.rot_prepare(0, slot)?;
            Ok(Target::new(0, slot))
        }),
        solo("solo_torn_append_cut", "restated from replica_test (torn prepare): a solo replica crashes with its head append's prepare write torn; recovery cuts it", "@B", CutTorn, Repaired, |s| {
            s.commit(10)?;
            torn_head_append(s, 0, ("@B", CutTorn), false)
        }),
        cluster("c_torn_append_cut", "a backup crashes after the ring wrapped with its head append's prepare write torn (its header sector not yet written): the head is certain above the highest op, so recovery cuts it", "@C", CutTorn, |s| {
            s.commit(40)?;
            let replica = s.backup();
            torn_head_append(s, replica, ("@C", Decision::CutTorn), true)
        }),
        solo("solo_hole_then_crash_in_new_view", "a solo replica's pipeline lands op k+1 while op k's prepare is torn; recovery cuts k, the replica truncates at the hole and starts a new view; it crashes again before rewriting k+1: k+1's header, from a view its durable log view excludes, reads as reserved", "@G", Fix, Repaired, |s| {
            s.commit(10)?;
            let slot_count = s.config().slot_count;
            let message_size_max = s.config().message_size_max;
            let sector_size = s.config().sector_size;
            // Pipelines of four appends until one lands op k+1 (prepare and header) while op
            // k's prepare write is still in flight.
            for _ in 0..16 {
                let op_base = s.simulation.op_committed_max();
                s.simulation.ops_target = op_base + s.config().pipeline_max;
                let mut hole = None;
                s.until("a pipeline append landing above one still in flight", |s| {
                    let r = &s.simulation.replicas[0];
                    if !r.status.is_up() {
                        return false;
                    }
                    for (&id, &(zone, offset, _)) in &r.in_flight_writes {
                        if zone != Zone::WalPrepares {
                            continue;
                        }
                        let op = r.journal.header(offset / message_size_max).op;
                        let above = (op + 1) % slot_count;
                        let expected = r.journal.header(above);
                        let headers_per_sector = sector_size / HEADER_SIZE;
                        let sector = r.disk.peek(ZONE_HEADERS, above / headers_per_sector * sector_size, sector_size);
                        let at = (above % headers_per_sector * HEADER_SIZE) as usize;
                        let landed = journal::Header::decode(&sector[at..at + HEADER_SIZE as usize])
                            .is_ok_and(|h| h.op == op + 1 && h.checksum == expected.checksum)
                            && r.journal.prepare_checksum(above) == Some(expected.checksum)
                            && !r.in_flight_writes.values().any(|&(z, o, _)| {
                                z == Zone::WalPrepares && o == above * message_size_max
                            });
                        if op > op_base && landed {
                            hole = Some((id, op));
                            return true;
                        }
                    }
                    s.simulation.op_committed_max() >= s.simulation.ops_target
                })?;
                let Some((id, op)) = hole else { continue };
                if !s.simulation.replicas[0].disk.aim_write(id, WriteAim::Tear) {
                    return Err("tear refused".into());
                }
                // Op k+1 as it landed before the crash.
                let landed = s.simulation.replicas[0].journal.header((op + 1) % slot_count).checksum;
                s.simulation.crash(0);
                // Append op k again after the restart, but not k+1.
                s.simulation.ops_target = op;
                let log_view = s.simulation.replicas[0].superblock.log_view;
                s.await_recovery(0, op % slot_count)?;
                // The replica truncates at the hole and moves to a new view: crash again once
                // that view is durable, while the disk still holds op k+1 of the old view.
                let above = (op + 1) % slot_count;
                s.until("the new view durable", |s| {
                    s.simulation.replicas[0].superblock.log_view > log_view
                })?;
                let r = &s.simulation.replicas[0];
                let headers_per_sector = sector_size / HEADER_SIZE;
                let sector = r.disk.peek(ZONE_HEADERS, above / headers_per_sector * sector_size, sector_size);
                let at = (above % headers_per_sector * HEADER_SIZE) as usize;
                let on_disk = journal::Header::decode(&sector[at..at + HEADER_SIZE as usize]);
                if on_disk.map(|h| h.checksum) != Ok(landed) {
                    return Err(format!("op {} was written again before the new view was durable", op + 1));
                }
                s.simulation.crash(0);
                return Ok(Target::new(0, above));
            }
            Err("no pipeline landed an append above one in flight".into())
        }),
        cluster("tb_prepare_corruption_r3", "restated from replica_test (prepare corruption, R=3): a committed prepare rots on one replica; a peer repairs it", "@C", Vsr, |s| {
            s.commit(20)?;
            let (replica, slot) = (s.backup(), s.slot(15));
            s.rot_prepare(replica, slot)?;
            Ok(Target::new(replica, slot))
        }),
        cluster("tb_misdirected_write", "restated from replica_test (misdirected write): a prepare write lands in another slot; crash", "@N", Vsr, |s| {
            s.commit(40)?;
            let replica = s.backup();
            s.simulation.ops_target = 41;
            let (id, op, slot) = s.until_write(replica, Zone::WalPrepares, "op 41's prepare write", |_, _, op| op == 41)?;
            if !s.simulation.replicas[replica].disk.aim_write(id, WriteAim::Misdirect) {
                return Err("misdirect refused".into());
            }
            s.crash_when_written(replica, op, slot);
            Ok(Target::new(replica, slot))
        }),
    ]
}

/// The `@O` moment: crashes and view changes in quick succession rewrite an op in a new version
/// on a backup; that prepare write is lost under its landed header, and the backup crashes.
fn new_version_prepare_lost(s: &mut Stage) -> Result<Target, String> {
    s.commit(4)?;
    let replica = s.backup();
    s.simulation.ops_target = 400;
    let (id, op, slot) = s.until_write(
        replica,
        Zone::WalPrepares,
        "a prepare write over another version of its op",
        |s, slot, op| {
            let r = &s.simulation.replicas[replica];
            let offset = slot * s.config().message_size_max;
            let sector = r.disk.peek(ZONE_PREPARES, offset, s.config().sector_size);
            let on_disk = journal::Header::decode(&sector[..HEADER_SIZE as usize]);
            on_disk.is_ok_and(|h| {
                !h.is_reserved() && h.op == op && h.checksum != r.journal.header(slot).checksum
            })
        },
    )?;
    s.lose_then_crash(replica, id, op, slot)?;
    Ok(Target::new(replica, slot))
}

/// Tears the prepare write of the next append on `replica` and crashes it, until recovery
/// decides `want` for the slot (a tear that lands none of the prepare's first sector leaves the
/// slot as it was): at most eight appends. With `break_header` the tear also breaks the
/// prepare's header, as a first sector half written does (a cluster takes a torn prepare whose
/// header landed whole for a possibly misdirected write, and does not cut it).
fn torn_head_append(
    s: &mut Stage,
    replica: usize,
    want: (&'static str, Decision),
    break_header: bool,
) -> Result<Target, String> {
    let mut recovered = None;
    let mut slot = 0;
    for _ in 0..8 {
        let op = s.simulation.op_committed_max() + 1;
        s.simulation.ops_target = op;
        let (id, _, write_slot) = s.until_write(
            replica,
            Zone::WalPrepares,
            "the head append's prepare write",
            |_, _, o| o == op,
        )?;
        slot = write_slot;
        if !s.simulation.replicas[replica]
            .disk
            .aim_write(id, WriteAim::Tear)
        {
            return Err("tear refused".into());
        }
        s.simulation.crash(replica);
        if break_header {
            // The tear leaves the prepare's first sector half written: its header is broken.
            s.rot_prepare(replica, slot)?;
        }
        let this = s.await_recovery(replica, slot)?;
        recovered = Some(this);
        if (this.0, this.1) == want {
            break;
        }
        // Let the cluster settle before the next append.
        s.commit(op)?;
    }
    Ok(Target {
        replica,
        slot,
        recovered,
    })
}

/// Runs one scenario: its script, then the recovery, then the outcome. `Ok` names what it saw.
/// An assertion inside the run (the journal's or the simulator's) is caught and reported.
pub fn run(scenario: &Scenario) -> Result<String, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_script(scenario))).unwrap_or_else(
        |panic| {
            Err(format!(
                "assertion: {}",
                crate::panic_message(panic.as_ref())
            ))
        },
    )
}

fn run_script(scenario: &Scenario) -> Result<String, String> {
    let mut stage = Stage::new(scenario.replica_count, scenario.view_changes);
    let target = (scenario.script)(&mut stage)?;
    let Target {
        replica,
        slot,
        recovered,
    } = target;
    let crashed = !stage.simulation.replicas[replica].status.is_up()
        || stage.simulation.aimed.iter().any(|&(r, _, _)| r == replica);
    let (label, decision, unrecoverable) = if let Some(recovered) = recovered {
        recovered
    } else if crashed {
        stage.await_recovery(replica, slot)?
    } else {
        stage.crash_recover(replica, slot)?
    };
    if (label, decision) != (scenario.label, scenario.decision) {
        return Err(format!(
            "r{replica} slot {slot} recovered as {label} {}, not {} {}",
            decision.name(),
            scenario.label,
            scenario.decision.name()
        ));
    }
    match scenario.outcome {
        Outcome::Repaired => {
            if unrecoverable {
                return Err(format!("r{replica} reported slot {slot} unrecoverable"));
            }
            stage.repaired()?;
            Ok(format!(
                "r{replica} slot {slot}: {label} {}, repaired",
                decision.name()
            ))
        }
        Outcome::Unrecoverable => {
            if !unrecoverable {
                return Err("the slot was not reported unrecoverable".into());
            }
            Ok(format!(
                "r{replica} slot {slot}: {label} {}, reported unrecoverable",
                decision.name()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row of the table has a cluster scenario, and the solo ones and TigerBeetle's
    /// restatements are there; every scenario produces what it claims (the whole library runs
    /// here, as `vopr scenario --all` does).
    #[test]
    fn every_scenario_produces_its_case_and_outcome() {
        let scenarios = all();
        for case in journal::decision_table::CASES.iter() {
            assert!(
                scenarios
                    .iter()
                    .any(|s| s.replica_count > 1 && s.label == case.label),
                "no cluster scenario for {}",
                case.label
            );
        }
        assert!(scenarios
            .iter()
            .any(|s| s.outcome == Outcome::Unrecoverable));
        assert!(
            scenarios
                .iter()
                .filter(|s| s.name.starts_with("tb_"))
                .count()
                >= 2
        );
        let mut names: Vec<&str> = scenarios.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), scenarios.len(), "names are unique");
        let failed: Vec<String> = scenarios
            .iter()
            .filter_map(|s| run(s).err().map(|e| format!("{}: {e}", s.name)))
            .collect();
        assert_eq!(failed, Vec::<String>::new());
    }

    /// A scenario that expects another case than its script produces fails, naming both.
    #[test]
    fn a_wrong_expectation_fails() {
        let mut scenario = all()
            .into_iter()
            .find(|s| s.name == "c_prepare_rot")
            .expect("exists");
        scenario.label = "@E";
        let error = run(&scenario).expect_err("the script makes @C");
        assert!(error.contains("recovered as @C vsr, not @E vsr"), "{error}");
        let mut scenario = all()
            .into_iter()
            .find(|s| s.name == "solo_c_prepare_rot_unrecoverable")
            .expect("exists");
        scenario.outcome = Outcome::Repaired;
        let error = run(&scenario).expect_err("reported, not repaired");
        assert!(error.contains("unrecoverable"), "{error}");
    }
}
