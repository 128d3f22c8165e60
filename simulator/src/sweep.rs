//! The exhaustive single-fault sweep (`vopr sweep`), in the manner of protocol-aware recovery
//! (PAR, FAST'18): for one fixed workload that fills and wraps the rings, and for each replica
//! count, every sector of both zones of one replica gets each fault kind, with a crash before or
//! after the write that covers it; the replica recovers, the cluster repairs it and changes view
//! (the faulted replica is the first primary), and every checker of `vopr fuzz` judges the end.
//!
//! A scenario is named by its coordinates ([`Coordinates`], printed as
//! `R:zone:sector:fault:crash`) and reproduces from them alone: the workload, the quiet cluster
//! and every draw are fixed, and the one fault is placed with the disk's aimed faults at a moment
//! found by stepping (the first write of the faulted replica that covers the sector, or, for a
//! misdirected write, the first that can land on it, once the rings have wrapped).
//!
//! Outcomes ([`Verdict`]): recovered with no loss; reported unrecoverable (allowed only for a
//! solo replica, and only for a fault in a prepare, which has no other copy); silent corruption
//! or a lost acknowledged op (never allowed); stuck (never allowed with three or more replicas);
//! an assertion (a bug); or not applicable, when no write ever covers the sector within the
//! search (a prepare's tail sector that no prepare of the workload reaches), counted apart.

use crate::checkers::Failure;
use crate::replica::{ZONE_HEADERS, ZONE_PREPARES};
use crate::scenario::Stage;
use fault_models::{WriteAim, ZoneId};
use journal::{Config, HEADER_SIZE};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Replica counts the full sweep covers.
pub const REPLICA_COUNTS: [u8; 3] = [1, 3, 5];
/// The faulted replica: the primary of the first view.
const TARGET: usize = 0;
/// Ops committed before the fault: the rings have wrapped once and a half.
const WARM_OPS_RINGS: u64 = 3;
/// Steps the search for the covering write may take.
const SEARCH_TICKS_MAX: u64 = 60_000;

/// One fault kind of the sweep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// One bit of the sector's stored bytes flips.
    BitFlip,
    /// Every read of the sector fails until it is rewritten.
    LatentError,
    /// Another write of the zone lands on the sector's slot instead of its own.
    MisdirectedWrite,
    /// The write covering the sector is torn by the crash (crash point `before` only: a write
    /// that completed is never torn).
    TornWrite,
    /// The write covering the sector reports success and stores nothing.
    LostWrite,
}

pub const FAULT_KINDS: [FaultKind; 5] = [
    FaultKind::BitFlip,
    FaultKind::LatentError,
    FaultKind::MisdirectedWrite,
    FaultKind::TornWrite,
    FaultKind::LostWrite,
];

impl FaultKind {
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::BitFlip => "bit_flip",
            FaultKind::LatentError => "latent_error",
            FaultKind::MisdirectedWrite => "misdirected_write",
            FaultKind::TornWrite => "torn_write",
            FaultKind::LostWrite => "lost_write",
        }
    }

    fn from_name(name: &str) -> Option<FaultKind> {
        FAULT_KINDS.into_iter().find(|kind| kind.name() == name)
    }
}

/// When the replica crashes, relative to the write that covers the faulted sector (for a
/// misdirected write, the write that lands on it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrashPoint {
    /// As soon as that write completes (a torn write: while it is in flight), before anything
    /// it leads to, such as the redundant header of its prepare.
    Before,
    /// Once the replica is next idle after that write: the writes it led to have landed.
    After,
}

impl CrashPoint {
    pub fn name(self) -> &'static str {
        match self {
            CrashPoint::Before => "before",
            CrashPoint::After => "after",
        }
    }
}

/// The ring a zone holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SweepZone {
    Headers,
    Prepares,
}

impl SweepZone {
    pub fn name(self) -> &'static str {
        match self {
            SweepZone::Headers => "headers",
            SweepZone::Prepares => "prepares",
        }
    }

    fn id(self) -> ZoneId {
        match self {
            SweepZone::Headers => ZONE_HEADERS,
            SweepZone::Prepares => ZONE_PREPARES,
        }
    }

    fn journal_zone(self) -> journal::Zone {
        match self {
            SweepZone::Headers => journal::Zone::WalHeaders,
            SweepZone::Prepares => journal::Zone::WalPrepares,
        }
    }
}

/// One scenario of the sweep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Coordinates {
    pub replicas: u8,
    pub zone: SweepZone,
    /// The sector's index within its zone.
    pub sector: u64,
    pub fault: FaultKind,
    pub crash: CrashPoint,
}

impl fmt::Display for Coordinates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}:{}:{}",
            self.replicas,
            self.zone.name(),
            self.sector,
            self.fault.name(),
            self.crash.name()
        )
    }
}

impl Coordinates {
    /// Parses `R:zone:sector:fault:crash`, as printed; the error is one line for the CLI.
    pub fn parse(text: &str) -> Result<Coordinates, String> {
        let bad = |why: &str| {
            format!("--only {text}: {why} (expected R:zone:sector:fault:crash, e.g. 3:prepares:17:lost_write:before)")
        };
        let parts: Vec<&str> = text.split(':').collect();
        let [replicas, zone, sector, fault, crash] = parts[..] else {
            return Err(bad("five fields"));
        };
        let replicas: u8 = replicas.parse().map_err(|_| bad("replicas"))?;
        if !(1..=6).contains(&replicas) {
            return Err(bad("replicas must be 1 to 6"));
        }
        let zone = match zone {
            "headers" => SweepZone::Headers,
            "prepares" => SweepZone::Prepares,
            _ => return Err(bad("zone is headers or prepares")),
        };
        let sector: u64 = sector.parse().map_err(|_| bad("sector"))?;
        if sector >= sector_count(zone) {
            return Err(bad(&format!(
                "the {} zone has {} sectors",
                zone.name(),
                sector_count(zone)
            )));
        }
        let fault = FaultKind::from_name(fault).ok_or_else(|| {
            bad("fault is bit_flip, latent_error, misdirected_write, torn_write or lost_write")
        })?;
        let crash = match crash {
            "before" => CrashPoint::Before,
            "after" => CrashPoint::After,
            _ => return Err(bad("crash is before or after")),
        };
        if fault == FaultKind::TornWrite && crash == CrashPoint::After {
            return Err(bad("a torn write has crash point before only"));
        }
        Ok(Coordinates {
            replicas,
            zone,
            sector,
            fault,
            crash,
        })
    }
}

/// How a scenario ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The replica recovered, the cluster repaired it, and every checker stayed quiet.
    Recovered,
    /// A solo replica reported the slot unrecoverable.
    ReportedUnrecoverable,
    /// A checker saw data returned or held clean that is not what was written.
    SilentCorruption,
    /// A checker saw an acknowledged or committed op lost.
    LostAcknowledged,
    /// The cluster did not finish (liveness) or a replica stayed unavailable.
    Stuck,
    /// An assertion of the journal or the simulator fired.
    Assertion,
    /// No write covered the sector (or could land on it) within the search.
    NotApplicable,
}

pub const VERDICTS: [Verdict; 7] = [
    Verdict::Recovered,
    Verdict::ReportedUnrecoverable,
    Verdict::SilentCorruption,
    Verdict::LostAcknowledged,
    Verdict::Stuck,
    Verdict::Assertion,
    Verdict::NotApplicable,
];

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Recovered => "recovered",
            Verdict::ReportedUnrecoverable => "reported_unrecoverable",
            Verdict::SilentCorruption => "silent_corruption",
            Verdict::LostAcknowledged => "lost_acknowledged",
            Verdict::Stuck => "stuck",
            Verdict::Assertion => "assertion",
            Verdict::NotApplicable => "not_applicable",
        }
    }

    /// Whether the design allows this outcome for `coordinates`.
    pub fn allowed(self, coordinates: &Coordinates) -> bool {
        match self {
            Verdict::Recovered | Verdict::NotApplicable => true,
            // Only a solo replica, and only for a prepare: a header is repairable from its
            // prepare, but a prepare has no other copy without a peer.
            Verdict::ReportedUnrecoverable => {
                coordinates.replicas == 1 && coordinates.zone == SweepZone::Prepares
            }
            Verdict::SilentCorruption
            | Verdict::LostAcknowledged
            | Verdict::Stuck
            | Verdict::Assertion => false,
        }
    }

    fn of_failure(failure: &Failure) -> Verdict {
        match failure.checker {
            "acked" | "durability" | "nack" | "history" => Verdict::LostAcknowledged,
            "read" | "journal" | "knowledge" | "recovery" | "final" => Verdict::SilentCorruption,
            "liveness" | "availability" => Verdict::Stuck,
            _ => Verdict::Assertion,
        }
    }
}

/// What one scenario produced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioResult {
    pub coordinates: Coordinates,
    pub verdict: Verdict,
    /// The recovery case and decision of the faulted slot (the first slot of a header sector),
    /// when the replica recovered.
    pub case: Option<String>,
    /// The checker's message, the assertion, or why the scenario did not apply.
    pub detail: String,
}

impl ScenarioResult {
    pub fn allowed(&self) -> bool {
        self.verdict.allowed(&self.coordinates)
    }
}

/// The journal every scenario runs: the scenario library's quiet cluster's.
pub fn journal_config() -> Config {
    crate::scenario::STAGE_JOURNAL
}

/// Sectors in the zone of [`journal_config`].
pub fn sector_count(zone: SweepZone) -> u64 {
    let config = journal_config();
    match zone {
        SweepZone::Headers => config.wal_headers_size() / config.sector_size,
        SweepZone::Prepares => config.wal_prepares_size() / config.sector_size,
    }
}

/// What to sweep: replica counts, zones, a sector range, fault kinds and crash points.
#[derive(Clone, Debug)]
pub struct SweepOptions {
    pub replica_counts: Vec<u8>,
    pub zones: Vec<SweepZone>,
    /// Sectors `first..end` of each zone (clamped to the zone).
    pub sectors: (u64, u64),
    pub faults: Vec<FaultKind>,
    pub crashes: Vec<CrashPoint>,
    pub jobs: usize,
}

impl SweepOptions {
    /// Everything: replicas 1, 3 and 5, both zones, every sector, every fault and crash point.
    pub fn full(jobs: usize) -> SweepOptions {
        SweepOptions {
            replica_counts: REPLICA_COUNTS.to_vec(),
            zones: vec![SweepZone::Headers, SweepZone::Prepares],
            sectors: (0, u64::MAX),
            faults: FAULT_KINDS.to_vec(),
            crashes: vec![CrashPoint::Before, CrashPoint::After],
            jobs,
        }
    }

    /// Every scenario, in coordinate order.
    pub fn scenarios(&self) -> Vec<Coordinates> {
        let mut scenarios = Vec::new();
        for &replicas in &self.replica_counts {
            for &zone in &self.zones {
                let end = self.sectors.1.min(sector_count(zone));
                for sector in self.sectors.0..end {
                    for &fault in &self.faults {
                        for &crash in &self.crashes {
                            if fault == FaultKind::TornWrite && crash == CrashPoint::After {
                                continue;
                            }
                            scenarios.push(Coordinates {
                                replicas,
                                zone,
                                sector,
                                fault,
                                crash,
                            });
                        }
                    }
                }
            }
        }
        scenarios
    }
}

/// The sweep's results, in coordinate order, and their counts.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SweepReport {
    pub results: Vec<ScenarioResult>,
    pub elapsed_s: f64,
}

impl SweepReport {
    /// Results the design does not allow.
    pub fn disallowed(&self) -> impl Iterator<Item = &ScenarioResult> {
        self.results.iter().filter(|result| !result.allowed())
    }

    pub fn passed(&self) -> bool {
        self.disallowed().next().is_none()
    }

    /// Scenarios per replica count and verdict.
    pub fn counts(&self) -> Vec<(u8, Verdict, usize)> {
        count_verdicts(
            self.results
                .iter()
                .map(|r| (r.coordinates.replicas, r.verdict)),
        )
    }

    /// The table printed at the end of a sweep: one row per verdict, one column per replica
    /// count.
    pub fn table(&self) -> String {
        table(&self.counts())
    }
}

/// One row per verdict, one column per replica count, from `(replicas, verdict, count)`.
fn table(counts: &[(u8, Verdict, usize)]) -> String {
    let mut replica_counts: Vec<u8> = counts.iter().map(|&(r, _, _)| r).collect();
    replica_counts.dedup();
    let mut out = format!("{:24}", "outcome");
    for replicas in &replica_counts {
        out.push_str(&format!(" {:>8}", format!("R={replicas}")));
    }
    out.push('\n');
    for verdict in VERDICTS {
        out.push_str(&format!("{:24}", verdict.name()));
        for replicas in &replica_counts {
            let count = counts
                .iter()
                .find(|&&(r, v, _)| r == *replicas && v == verdict)
                .map_or(0, |&(_, _, c)| c);
            out.push_str(&format!(" {count:>8}"));
        }
        out.push('\n');
    }
    out
}

/// Counts `(replicas, verdict)` pairs per replica count and verdict, every verdict listed.
fn count_verdicts(
    outcomes: impl Iterator<Item = (u8, Verdict)> + Clone,
) -> Vec<(u8, Verdict, usize)> {
    let mut replica_counts: Vec<u8> = outcomes.clone().map(|(r, _)| r).collect();
    replica_counts.sort_unstable();
    replica_counts.dedup();
    let mut counts = Vec::new();
    for replicas in replica_counts {
        for verdict in VERDICTS {
            let count = outcomes
                .clone()
                .filter(|&(r, v)| r == replicas && v == verdict)
                .count();
            counts.push((replicas, verdict, count));
        }
    }
    counts
}

/// Runs every scenario of `options` on `options.jobs` threads (across scenarios, never inside
/// one); `progress(done, total)` after each.
pub fn sweep(options: &SweepOptions, progress: &(dyn Fn(usize, usize) + Sync)) -> SweepReport {
    let started = std::time::Instant::now();
    let mut results = run_parallel(&options.scenarios(), options.jobs, run, progress);
    results.sort_by_key(|r| r.coordinates);
    SweepReport {
        results,
        elapsed_s: started.elapsed().as_secs_f64(),
    }
}

/// `run` over `items` on `jobs` threads (across items, never inside one), in completion order;
/// `progress(done, total)` after each.
fn run_parallel<T: Copy + Sync, R: Send>(
    items: &[T],
    jobs: usize,
    run: impl Fn(T) -> R + Sync,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results = Mutex::new(Vec::with_capacity(items.len()));
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| loop {
                let position = next.fetch_add(1, Ordering::Relaxed);
                let Some(&item) = items.get(position) else {
                    return;
                };
                let result = run(item);
                results.lock().expect("no poisoned lock").push(result);
                progress(done.fetch_add(1, Ordering::Relaxed) + 1, items.len());
            });
        }
    });
    results.into_inner().expect("no poisoned lock")
}

/// Runs one scenario. A panic inside (an assertion) is caught and reported as its verdict.
pub fn run(coordinates: Coordinates) -> ScenarioResult {
    let outcome = std::panic::catch_unwind(|| run_scenario(coordinates));
    let (verdict, case, detail) = match outcome {
        Ok(result) => result,
        Err(panic) => (
            Verdict::Assertion,
            None,
            crate::panic_message(panic.as_ref()),
        ),
    };
    ScenarioResult {
        coordinates,
        verdict,
        case,
        detail,
    }
}

/// One fault of a plan: where, and what.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    pub zone: SweepZone,
    pub sector: u64,
    pub kind: FaultKind,
}

fn run_scenario(c: Coordinates) -> (Verdict, Option<String>, String) {
    let fault = Fault {
        zone: c.zone,
        sector: c.sector,
        kind: c.fault,
    };
    run_plan(c.replicas, &[fault], c.crash)
}

/// Runs the workload on `replicas` replicas, places `faults` in order on replica `TARGET`, each
/// on the first write that covers its sector (a misdirected write: that can land on it) after
/// the previous one's write completed, crashes at `crash` relative to the last of those writes,
/// then recovers, repairs and checks. Bit flips and latent errors are placed at the crash.
fn run_plan(
    replicas: u8,
    faults: &[Fault],
    crash: CrashPoint,
) -> (Verdict, Option<String>, String) {
    assert!(!faults.is_empty());
    // A torn write is torn by the crash: only the last write can be, and only before it lands.
    assert!(faults[..faults.len() - 1]
        .iter()
        .all(|f| f.kind != FaultKind::TornWrite));
    let config = journal_config();
    let mut stage = Stage::new(replicas, false);
    let simulation = &mut stage.simulation;
    assert_eq!(simulation.config.journal, config);
    // Full-size bodies too, so that the workload's prepares reach every sector of their slot.
    simulation.config.body_size_max = config.message_size_max - HEADER_SIZE;
    let warm_ops = WARM_OPS_RINGS * config.slot_count / 2;
    simulation.ops_target = warm_ops;
    if let Err(failure) = step_until(simulation, |s| s.all_clean()) {
        return failed(&failure);
    }
    simulation.ops_target = warm_ops + 16 * config.slot_count;

    for (index, fault) in faults.iter().enumerate() {
        let zone = fault.zone.id();
        let sector_offset = fault.sector * config.sector_size;
        let slot_size = simulation.replicas[TARGET].disk.zones()[zone].slot_size;
        // The write to anchor on, and, before it completes, its aim.
        let mut chosen = None;
        let search = step_until(simulation, |s| {
            let replica = &s.replicas[TARGET];
            if !replica.status.is_up() {
                return false;
            }
            for (&id, &(write_zone, offset, len)) in &replica.in_flight_writes {
                if write_zone != fault.zone.journal_zone() {
                    continue;
                }
                let fits = if fault.kind == FaultKind::MisdirectedWrite {
                    let within = sector_offset % slot_size;
                    offset / slot_size != sector_offset / slot_size
                        && offset % slot_size <= within
                        && within < offset % slot_size + len
                } else {
                    offset <= sector_offset && sector_offset < offset + len
                };
                if fits {
                    chosen = Some(id);
                    return true;
                }
            }
            false
        });
        match search {
            Ok(true) => {}
            Ok(false) => {
                return (
                    Verdict::NotApplicable,
                    None,
                    format!(
                    "no write of r{TARGET} covered {} sector {} within {SEARCH_TICKS_MAX} ticks",
                    fault.zone.name(),
                    fault.sector
                ),
                )
            }
            Err(failure) => return failed(&failure),
        }
        let id = chosen.expect("found");
        let disk = &mut simulation.replicas[TARGET].disk;
        let aimed = match fault.kind {
            FaultKind::LostWrite => disk.aim_write(id, WriteAim::Lose),
            FaultKind::TornWrite => disk.aim_write(id, WriteAim::Tear),
            FaultKind::MisdirectedWrite => disk.aim_write(
                id,
                WriteAim::MisdirectTo {
                    slot: sector_offset / slot_size,
                },
            ),
            FaultKind::BitFlip | FaultKind::LatentError => true,
        };
        if !aimed {
            return (
                Verdict::NotApplicable,
                None,
                format!("the disk refused a {} on its write", fault.kind.name()),
            );
        }
        if fault.kind == FaultKind::TornWrite {
            break;
        }
        // The write lands (unless it is the last and the crash point says otherwise).
        let last = index + 1 == faults.len();
        let landed = step_until(simulation, |s| {
            !s.replicas[TARGET].in_flight_writes.contains_key(&id)
                || !s.replicas[TARGET].status.is_up()
        });
        if let Err(failure) = landed {
            return failed(&failure);
        }
        if last && crash == CrashPoint::After {
            let idle = step_until(simulation, |s| {
                let r = &s.replicas[TARGET];
                !r.status.is_up() || r.journal.io_idle()
            });
            if let Err(failure) = idle {
                return failed(&failure);
            }
        }
    }
    // Bit flips and latent errors, now, just before the crash.
    let tick = simulation.tick;
    for fault in faults {
        let disk = &mut simulation.replicas[TARGET].disk;
        let sector_offset = fault.sector * config.sector_size;
        let zone = fault.zone.id();
        let placed = match fault.kind {
            FaultKind::BitFlip => disk.aim_bit_rot_at(tick, zone, sector_offset, 3),
            FaultKind::LatentError => disk.aim_latent_error(tick, zone, sector_offset),
            _ => true,
        };
        if !placed {
            return (
                Verdict::NotApplicable,
                None,
                format!("the disk refused a {} on its sector", fault.kind.name()),
            );
        }
    }
    if simulation.replicas[TARGET].status.is_up() {
        simulation.crash(TARGET);
    }
    // No new ops: the liveness phase sets its own target, two rings past the head.
    simulation.ops_target = 0;

    // Recovery, then the liveness phase: repair, a view change (the target was the primary),
    // and every final check.
    let recovered = step_until(simulation, |s| s.replicas[TARGET].status.is_up());
    let first = faults[0];
    let slot = match first.zone {
        SweepZone::Headers => first.sector * config.sector_size / HEADER_SIZE,
        SweepZone::Prepares => first.sector * config.sector_size / config.message_size_max,
    };
    let case = simulation.replicas[TARGET]
        .journal
        .slot_recoveries()
        .find(|&(s, _)| s == slot)
        .map(|(_, r)| format!("{} {}", r.label, r.decision.name()));
    match recovered {
        Ok(true) => {}
        Ok(false) => return (Verdict::Stuck, case, "the replica did not come back".into()),
        Err(failure) if failure.message.contains("unrecoverable") => {
            return (Verdict::ReportedUnrecoverable, case, failure.message)
        }
        Err(failure) => {
            let (verdict, _, detail) = failed(&failure);
            return (verdict, case, detail);
        }
    }
    match simulation.finish() {
        Ok(()) => (Verdict::Recovered, case, String::new()),
        Err(failure) => {
            let (verdict, _, detail) = failed(&failure);
            (verdict, case, detail)
        }
    }
}

fn failed(failure: &Failure) -> (Verdict, Option<String>, String) {
    (
        Verdict::of_failure(failure),
        None,
        format!(
            "{} at tick {}: {}",
            failure.checker, failure.tick, failure.message
        ),
    )
}

/// Steps until `done` holds (`Ok(true)`) or `SEARCH_TICKS_MAX` ticks pass (`Ok(false)`).
fn step_until(
    simulation: &mut crate::Simulation,
    mut done: impl FnMut(&crate::Simulation) -> bool,
) -> Result<bool, Failure> {
    for _ in 0..SEARCH_TICKS_MAX {
        if done(simulation) {
            return Ok(true);
        }
        simulation.step()?;
    }
    Ok(done(simulation))
}

/// One sampled pair of faults in one slot: its prepare sector and its header sector both hit,
/// the prepare's on its write, the header's on the header write that follows (where the rare
/// rows of the decision table live).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Pair {
    pub seed: u64,
    pub replicas: u8,
    pub slot: u64,
    /// The prepare's sector within its slot.
    pub prepare_sector: u64,
    pub prepare_fault: FaultKind,
    pub header_fault: FaultKind,
    pub crash: CrashPoint,
}

impl Pair {
    /// The pair seed `seed` draws (its own stream: any seed names one pair), with a replica
    /// count from `replica_counts`.
    pub fn from_seed(seed: u64, replica_counts: &[u8]) -> Pair {
        use rand::{Rng, SeedableRng};
        assert!(!replica_counts.is_empty());
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5a5a_5a5a_0000_0003);
        let config = journal_config();
        let replicas = replica_counts[rng.gen_range(0..replica_counts.len())];
        let slot = rng.gen_range(0..config.slot_count);
        let prepare_sector = rng.gen_range(0..config.message_size_max / config.sector_size);
        // A prepare's write lands before its header write starts: only the header's can be
        // torn by the crash. No lost (or misdirected) writes: after a silent drop in one zone
        // the disk model keeps the chunk's other zone intact, its only witness, so a pair with
        // one is outside the fault model (the disk refuses the second fault).
        let prepare_faults = [FaultKind::BitFlip, FaultKind::LatentError];
        let header_faults = [
            FaultKind::BitFlip,
            FaultKind::LatentError,
            FaultKind::TornWrite,
        ];
        let prepare_fault = prepare_faults[rng.gen_range(0..prepare_faults.len())];
        let header_fault = header_faults[rng.gen_range(0..header_faults.len())];
        let crash = if header_fault == FaultKind::TornWrite || rng.gen_bool(0.5) {
            CrashPoint::Before
        } else {
            CrashPoint::After
        };
        Pair {
            seed,
            replicas,
            slot,
            prepare_sector,
            prepare_fault,
            header_fault,
            crash,
        }
    }

    fn faults(&self) -> [Fault; 2] {
        let config = journal_config();
        let sectors_per_slot = config.message_size_max / config.sector_size;
        [
            Fault {
                zone: SweepZone::Prepares,
                sector: self.slot * sectors_per_slot + self.prepare_sector,
                kind: self.prepare_fault,
            },
            Fault {
                zone: SweepZone::Headers,
                sector: self.slot / config.headers_per_sector(),
                kind: self.header_fault,
            },
        ]
    }
}

impl fmt::Display for Pair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pair {}: R={} slot {} prepare sector {} {} + header {}, crash {}",
            self.seed,
            self.replicas,
            self.slot,
            self.prepare_sector,
            self.prepare_fault.name(),
            self.header_fault.name(),
            self.crash.name()
        )
    }
}

/// What one pair produced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairResult {
    pub pair: Pair,
    pub verdict: Verdict,
    pub case: Option<String>,
    pub detail: String,
}

impl PairResult {
    /// As for single faults: reported unrecoverable only for a solo replica (its prepare was hit).
    pub fn allowed(&self) -> bool {
        let coordinates = Coordinates {
            replicas: self.pair.replicas,
            zone: SweepZone::Prepares,
            sector: 0,
            fault: self.pair.prepare_fault,
            crash: self.pair.crash,
        };
        self.verdict.allowed(&coordinates)
    }
}

/// Runs one pair. A panic inside (an assertion) is caught and reported as its verdict.
pub fn run_pair(pair: Pair) -> PairResult {
    let outcome = std::panic::catch_unwind(|| run_plan(pair.replicas, &pair.faults(), pair.crash));
    let (verdict, case, detail) = match outcome {
        Ok(result) => result,
        Err(panic) => (
            Verdict::Assertion,
            None,
            crate::panic_message(panic.as_ref()),
        ),
    };
    PairResult {
        pair,
        verdict,
        case,
        detail,
    }
}

/// The pairs of seeds `first..end`, their results in seed order.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PairReport {
    pub results: Vec<PairResult>,
    pub elapsed_s: f64,
}

impl PairReport {
    pub fn disallowed(&self) -> impl Iterator<Item = &PairResult> {
        self.results.iter().filter(|result| !result.allowed())
    }

    pub fn table(&self) -> String {
        table(&count_verdicts(
            self.results.iter().map(|r| (r.pair.replicas, r.verdict)),
        ))
    }
}

/// Runs the pairs of seeds `first..end` (replica counts drawn from `replica_counts`) on `jobs`
/// threads.
pub fn sweep_pairs(
    (first, end): (u64, u64),
    replica_counts: &[u8],
    jobs: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> PairReport {
    let started = std::time::Instant::now();
    let seeds: Vec<u64> = (first..end).collect();
    let mut results = run_parallel(
        &seeds,
        jobs,
        |seed| run_pair(Pair::from_seed(seed, replica_counts)),
        progress,
    );
    results.sort_by_key(|r| r.pair.seed);
    PairReport {
        results,
        elapsed_s: started.elapsed().as_secs_f64(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_print_and_parse_back_and_refuse_bad_input() {
        for coordinates in SweepOptions::full(1).scenarios().into_iter().step_by(97) {
            let text = coordinates.to_string();
            assert_eq!(Coordinates::parse(&text), Ok(coordinates), "{text}");
        }
        for (bad, why) in [
            ("3:prepares:17", "five fields"),
            ("0:prepares:17:lost_write:before", "1 to 6"),
            ("3:wal:17:lost_write:before", "headers or prepares"),
            ("3:headers:8:lost_write:before", "8 sectors"),
            ("3:prepares:1:rot:before", "fault is"),
            ("3:prepares:1:bit_flip:later", "before or after"),
            ("3:prepares:1:torn_write:after", "before only"),
        ] {
            let error = Coordinates::parse(bad).expect_err(bad);
            assert!(error.contains(why), "{bad}: {error}");
        }
    }

    /// Every sector of both zones, for three replica counts, five faults, two crash points but
    /// one for a torn write.
    #[test]
    fn the_full_sweep_covers_every_sector_fault_and_crash_point() {
        let scenarios = SweepOptions::full(1).scenarios();
        assert_eq!(sector_count(SweepZone::Headers), 8);
        assert_eq!(sector_count(SweepZone::Prepares), 128);
        assert_eq!(scenarios.len(), 3 * (8 + 128) * 9);
        let mut sorted = scenarios.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, scenarios, "in coordinate order, no duplicates");
    }

    /// Only a solo replica may report a slot unrecoverable, and only for a prepare; nothing may
    /// lose or corrupt data or get stuck.
    #[test]
    fn verdicts_allowed_as_the_design_says() {
        let at = |replicas, zone| Coordinates {
            replicas,
            zone,
            sector: 0,
            fault: FaultKind::BitFlip,
            crash: CrashPoint::After,
        };
        assert!(Verdict::ReportedUnrecoverable.allowed(&at(1, SweepZone::Prepares)));
        assert!(!Verdict::ReportedUnrecoverable.allowed(&at(1, SweepZone::Headers)));
        assert!(!Verdict::ReportedUnrecoverable.allowed(&at(3, SweepZone::Prepares)));
        for verdict in [
            Verdict::SilentCorruption,
            Verdict::LostAcknowledged,
            Verdict::Stuck,
            Verdict::Assertion,
        ] {
            assert!(!verdict.allowed(&at(1, SweepZone::Prepares)));
        }
    }

    /// A scenario reproduces from its coordinates, and reaches the outcome and case it should:
    /// a lost prepare write under a landed header is `@N`, repaired by peers; a solo replica
    /// reports a rotten prepare; a torn header sector write of a solo replica recovers (the
    /// journal keeps each slot's header in the sector until its new prepare lands, so the torn
    /// sector's slot reads `@P`, not a reserved header beside its prepare, `@G`).
    #[test]
    fn scenarios_reproduce_and_reach_their_outcome() {
        let parse = |text| Coordinates::parse(text).expect("valid");
        let lost = run(parse("3:prepares:17:lost_write:after"));
        assert_eq!(lost, run(parse("3:prepares:17:lost_write:after")));
        assert_eq!(lost.verdict, Verdict::Recovered, "{lost:?}");
        assert_eq!(lost.case.as_deref(), Some("@N vsr"));
        let rot = run(parse("1:prepares:17:bit_flip:after"));
        assert_eq!(rot.verdict, Verdict::ReportedUnrecoverable, "{rot:?}");
        assert!(rot.allowed());
        let torn = run(parse("1:headers:2:torn_write:before"));
        assert_eq!(torn.verdict, Verdict::Recovered, "{torn:?}");
        assert_eq!(torn.case.as_deref(), Some("@P eql"));
    }

    /// A reduced sweep (as in CI): every scenario recovers with three replicas.
    #[test]
    fn three_replicas_recover_from_every_single_fault_in_the_header_ring() {
        let options = SweepOptions {
            replica_counts: vec![3],
            zones: vec![SweepZone::Headers],
            ..SweepOptions::full(2)
        };
        let report = sweep(&options, &|_, _| {});
        assert_eq!(report.results.len(), 8 * 9);
        assert!(report.passed(), "{}", report.table());
        assert!(report
            .results
            .iter()
            .all(|r| r.verdict == Verdict::Recovered));
        assert!(report.table().contains("R=3"));
    }

    /// Deterministic whatever the threads: one job or two give the same results.
    #[test]
    fn a_sweep_is_the_same_on_one_thread_or_two() {
        let options = |jobs| SweepOptions {
            replica_counts: vec![1],
            zones: vec![SweepZone::Prepares],
            sectors: (40, 46),
            ..SweepOptions::full(jobs)
        };
        let one = sweep(&options(1), &|_, _| {});
        let two = sweep(&options(2), &|_, _| {});
        assert_eq!(one.results, two.results);
        assert_eq!(one.results.len(), 6 * 9);
    }

    /// Pairs: one per seed, reproducible, within the fault model (no silent drop beside another
    /// fault), and recovered with three or five replicas.
    #[test]
    fn pairs_are_drawn_by_seed_and_recovered_by_a_cluster() {
        for seed in 0..200 {
            let pair = Pair::from_seed(seed, &REPLICA_COUNTS);
            assert_eq!(pair, Pair::from_seed(seed, &REPLICA_COUNTS));
            assert!(pair.prepare_fault != FaultKind::LostWrite);
            assert!(pair.header_fault != FaultKind::LostWrite);
            assert!(pair.header_fault != FaultKind::TornWrite || pair.crash == CrashPoint::Before);
            let [prepare, header] = pair.faults();
            assert_eq!(prepare.sector / 4, pair.slot);
            assert_eq!(header.sector, pair.slot / 4);
        }
        let report = sweep_pairs((0, 40), &[3, 5], 2, &|_, _| {});
        assert_eq!(report.results.len(), 40);
        assert_eq!(report.disallowed().count(), 0, "{}", report.table());
    }
}
