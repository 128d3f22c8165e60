//! One seed of one engine: the configuration drawn from the seed ([`RunConfig`]), the run
//! ([`run`]), and what it found ([`EngineOutcome`]).
//!
//! A run opens the engine on a fresh [`SimFile`], then plays the workload's steps. Before each
//! step the seed may schedule a crash at one of the step's storage calls; after a crash the
//! engine is dropped, the seed may damage the file at rest, and the engine is opened again (and
//! may crash again during its recovery). After every open the runner reads everything back and
//! judges it against the ground truth ([`Model`]); every acknowledged commit and every read is
//! judged as it happens. At the end: a clean reopen, a full read, and the engine's own integrity
//! check. The first outcome the engine's [`Promise`] forbids ends the run as its failure.
//!
//! Determinism: one ChaCha8 stream from the seed draws the configuration, the workload, the
//! crash points and the faults at rest; the file's own stream is split from it. The engine runs
//! on this thread and reads no clock of ours.

use crate::engine::{Engine, EngineError, Promise, Scan, Setting, Step};
use crate::handle::FileHandle;
use crate::model::{Finding, Model};
use crate::outcome::{forbids, FaultsSeen, Outcome};
use crate::workload::Workload;
use fault_models::{FaultConfig, FaultKind, FileFaultConfig, SimFile, SimFileOptions};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Opens in a row that a run lets crash during recovery before it stops scheduling crashes
/// there (so that every run ends).
const OPEN_CRASHES_MAX: u32 = 4;

/// Which faults a seed may draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FaultMix {
    /// Crashes only (with torn writes of what was not yet synced).
    Crash,
    /// Crashes, and damage at rest: bit rot, zeros, junk, latent sector errors, misdirected and
    /// lost writes, read flips.
    AtRest,
    /// Crashes and errors returned to the engine: EIO on write, ENOSPC, failed syncs.
    Io,
    /// All of them.
    All,
    /// Each seed draws one of the above (swarm testing: some kinds are often off).
    Swarm,
}

impl FaultMix {
    pub fn name(self) -> &'static str {
        match self {
            FaultMix::Crash => "crash",
            FaultMix::AtRest => "at-rest",
            FaultMix::Io => "io",
            FaultMix::All => "all",
            FaultMix::Swarm => "swarm",
        }
    }

    pub fn parse(text: &str) -> Option<FaultMix> {
        [
            FaultMix::Crash,
            FaultMix::AtRest,
            FaultMix::Io,
            FaultMix::All,
            FaultMix::Swarm,
        ]
        .into_iter()
        .find(|mix| mix.name() == text)
    }
}

/// What a run is asked for besides its seed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunOptions {
    pub setting: Setting,
    pub faults: FaultMix,
    /// Overrides the drawn number of steps (shrinking).
    pub steps: Option<u64>,
}

impl Default for RunOptions {
    fn default() -> RunOptions {
        RunOptions {
            setting: Setting::Safe,
            faults: FaultMix::Swarm,
            steps: None,
        }
    }
}

/// Everything a seed drew for its run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunConfig {
    /// The fault mix this seed runs (drawn, for `Swarm`).
    pub mix: FaultMix,
    pub steps: u64,
    /// Chance that a step (or an open) has a crash point.
    pub crash_percent: u32,
    /// A crash point falls on one of the step's first this many storage calls.
    pub crash_calls_max: u64,
    pub at_rest: bool,
    pub io_errors: bool,
    /// Chance that the file is damaged at rest while the engine is down.
    pub rest_fault_percent: u32,
    pub file_faults: FileFaultConfig,
}

impl RunConfig {
    /// A run of `steps` steps with no fault drawn by chance and no crash scheduled by chance
    /// (faults are aimed from outside: the sweep).
    pub fn quiet(steps: u64) -> RunConfig {
        RunConfig {
            mix: FaultMix::Crash,
            steps,
            crash_percent: 0,
            crash_calls_max: 1,
            at_rest: false,
            io_errors: false,
            rest_fault_percent: 0,
            file_faults: FileFaultConfig::default(),
        }
    }

    pub fn draw(prng: &mut ChaCha8Rng, options: &RunOptions) -> RunConfig {
        // Every draw is made whatever the options say, so that an override (`--faults`,
        // `--steps`: what shrinking changes) leaves the seed's other streams as they were.
        let mix_drawn = [
            FaultMix::Crash,
            FaultMix::AtRest,
            FaultMix::Io,
            FaultMix::All,
        ][prng.gen_range(0..4)];
        let mix = match options.faults {
            FaultMix::Swarm => mix_drawn,
            mix => mix,
        };
        let at_rest = matches!(mix, FaultMix::AtRest | FaultMix::All);
        let io_errors = matches!(mix, FaultMix::Io | FaultMix::All);
        let steps = prng.gen_range(20..=200);
        let crash_percent = prng.gen_range(2..=25);
        let crash_calls_max = [4, 16, 64][prng.gen_range(0..3)];
        let torn = [0.0, 0.2, 0.8][prng.gen_range(0..3)];
        // Probabilities per storage call: redb makes a few dozen calls per commit.
        let mut rare = |on: bool| {
            let drawn = prng.gen_bool(0.7);
            let probability = [0.0005, 0.002, 0.01][prng.gen_range(0..3)];
            if on && drawn {
                probability
            } else {
                0.0
            }
        };
        let disk = FaultConfig {
            read_bit_flip_probability: rare(at_rest),
            write_bit_flip_probability: rare(at_rest),
            misdirected_write_probability: rare(at_rest),
            misdirected_read_probability: rare(at_rest),
            latent_sector_error_probability: rare(at_rest),
            lost_write_probability: rare(at_rest),
            crash_write_torn_probability: torn,
            ..FaultConfig::default()
        };
        let file_faults = FileFaultConfig {
            disk,
            write_error_probability: rare(io_errors),
            no_space_probability: rare(io_errors),
            sync_error_probability: rare(io_errors) * 4.0,
        };
        let rest_fault_percent = prng.gen_range(10..=60);
        let rest_fault_percent = if at_rest { rest_fault_percent } else { 0 };
        RunConfig {
            mix,
            steps: options.steps.unwrap_or(steps),
            crash_percent,
            crash_calls_max,
            at_rest,
            io_errors,
            rest_fault_percent,
            file_faults,
        }
    }
}

/// The first outcome a run's promise forbids.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EngineFailure {
    pub outcome: Outcome,
    pub checker: String,
    pub message: String,
    /// The workload step at which it was seen (`steps` for the final check).
    pub step: u64,
    /// The file's tick then.
    pub tick: u64,
}

/// One line of a run's story: the file's tick and what happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TraceLine {
    pub tick: u64,
    pub text: String,
}

/// What one seed of one engine did.
#[derive(Clone, Debug, Serialize)]
pub struct EngineOutcome {
    pub engine: &'static str,
    pub seed: u64,
    pub options: RunOptions,
    pub config: RunConfig,
    /// The worst outcome seen, allowed or not.
    pub outcome: Outcome,
    /// How often each outcome was seen, by name.
    pub outcomes: BTreeMap<&'static str, u64>,
    pub failure: Option<EngineFailure>,
    pub trace_hash: u64,
    pub steps_run: u64,
    pub commits_acked: u64,
    pub crashes: u64,
    pub opens: u64,
    pub storage_calls: u64,
    pub faults_injected: u64,
    /// The file's length at the end of the run.
    pub file_len: u64,
    /// The story, when asked for (`replay`): not part of the hash's input order.
    #[serde(skip)]
    pub lines: Vec<TraceLine>,
    /// Every fault the file injected, at its tick (`replay`).
    #[serde(skip)]
    pub fault_log: Vec<fault_models::FaultRecord>,
}

/// Why a run stops early.
pub(crate) enum Stop {
    /// An outcome ends the run (forbidden, or one after which nothing can be judged).
    Ended,
}

pub(crate) struct Run<E: Engine, W: Workload> {
    seed: u64,
    options: RunOptions,
    pub(crate) config: RunConfig,
    promise: Promise,
    retained_min: Option<u64>,
    prng: ChaCha8Rng,
    pub(crate) handle: FileHandle,
    model: Model,
    workload: W,
    version_next: u64,
    pub(crate) engine: Option<E>,
    /// No open has succeeded yet: the adapter may format the file.
    fresh: bool,
    pub(crate) step: u64,
    outcome: Outcome,
    outcomes: BTreeMap<&'static str, u64>,
    failure: Option<EngineFailure>,
    hash: u64,
    keep_lines: bool,
    lines: Vec<TraceLine>,
    crashes: u64,
    opens: u64,
}

/// Runs one seed of engine `E` with workload `W`, judged by `promise`. A panic inside the engine
/// is caught and is the run's `crash` outcome.
pub fn run<E: Engine, W: Workload>(
    engine_name: &'static str,
    promise: Promise,
    retained_min: Option<u64>,
    seed: u64,
    options: &RunOptions,
    keep_lines: bool,
) -> EngineOutcome {
    let mut prng = ChaCha8Rng::seed_from_u64(seed);
    let config = RunConfig::draw(&mut prng, options);
    let mut run = Run::<E, W>::new(
        promise,
        retained_min,
        seed,
        options.clone(),
        config,
        prng,
        keep_lines,
    );
    let _ = run.play();
    run.finish(engine_name)
}

impl<E: Engine, W: Workload> Run<E, W> {
    /// A run about to open the engine on a fresh file: the file's seed and the workload are
    /// drawn from `prng`, after the configuration.
    pub(crate) fn new(
        promise: Promise,
        retained_min: Option<u64>,
        seed: u64,
        options: RunOptions,
        config: RunConfig,
        mut prng: ChaCha8Rng,
        keep_lines: bool,
    ) -> Run<E, W> {
        let mut file_options = SimFileOptions::new(prng.next_u64(), W::FILE_SIZE_MAX);
        file_options.faults = config.file_faults.clone();
        file_options.atomic_unit = W::ATOMIC_UNIT;
        // Zeros or junk in a torn unit is damage beyond "old or new": only where damage is
        // drawn.
        file_options.tear_garbage = config.at_rest;
        let handle = FileHandle::new(SimFile::new(file_options));
        let workload = W::draw(&mut prng);
        Run {
            seed,
            options,
            config,
            promise,
            retained_min,
            prng,
            handle,
            model: Model::new(W::ATOMIC_COMMITS),
            workload,
            version_next: 1,
            engine: None,
            fresh: true,
            step: 0,
            outcome: Outcome::Correct,
            outcomes: BTreeMap::new(),
            failure: None,
            hash: 0xCBF2_9CE4_8422_2325,
            keep_lines,
            lines: Vec::new(),
            crashes: 0,
            opens: 0,
        }
    }

    /// A copy of this run, the engine closed, on a copy of its file: it goes on exactly as this
    /// one would (the sweep forks one prepared run per fault at rest).
    /// Whether an outcome the promise forbids was seen.
    pub(crate) fn failure_seen(&self) -> bool {
        self.failure.is_some()
    }

    pub(crate) fn fork(&self) -> Run<E, W> {
        assert!(self.engine.is_none(), "a run forks with its engine closed");
        assert!(self.failure.is_none());
        Run {
            seed: self.seed,
            options: self.options.clone(),
            config: self.config.clone(),
            promise: self.promise,
            retained_min: self.retained_min,
            prng: self.prng.clone(),
            handle: self.handle.fork(),
            model: self.model.clone(),
            workload: self.workload.clone(),
            version_next: self.version_next,
            engine: None,
            fresh: self.fresh,
            step: self.step,
            outcome: self.outcome,
            outcomes: self.outcomes.clone(),
            failure: None,
            hash: self.hash,
            keep_lines: self.keep_lines,
            lines: self.lines.clone(),
            crashes: self.crashes,
            opens: self.opens,
        }
    }

    fn tick(&self) -> u64 {
        self.handle.with_file(|file| file.tick())
    }

    pub(crate) fn line(&mut self, text: String) {
        let tick = self.tick();
        // FNV-1a over the tick and the text: the trace hash.
        for byte in tick.to_le_bytes().iter().chain(text.as_bytes()) {
            self.hash ^= u64::from(*byte);
            self.hash = self.hash.wrapping_mul(0x0100_0000_01B3);
        }
        if self.keep_lines {
            self.lines.push(TraceLine { tick, text });
        }
    }

    fn seen(&self) -> FaultsSeen {
        // The runner's own damage at rest is in the file's log too (as the fault it made).
        let mut seen = FaultsSeen::default();
        self.handle.with_file(|file| {
            for record in file.fault_log().records() {
                match record.kind {
                    FaultKind::TornWrite | FaultKind::CrashDropped => seen.crash = true,
                    FaultKind::WriteError | FaultKind::NoSpace | FaultKind::SyncError => {
                        seen.io_errors = true
                    }
                    FaultKind::LostWrite | FaultKind::MisdirectedWrite { .. } => {
                        seen.silent_drops = true;
                        seen.damage += 1;
                    }
                    FaultKind::ReadBitFlip
                    | FaultKind::WriteBitFlip
                    | FaultKind::MisdirectedRead { .. }
                    | FaultKind::LatentSectorError
                    | FaultKind::SectorZeroed
                    | FaultKind::SectorJunk { .. } => seen.damage += 1,
                }
            }
        });
        seen.crash |= self.crashes > 0;
        seen
    }

    /// Records an outcome that no promise covers (counted and told, never a failure).
    fn note(&mut self, finding: Finding) {
        *self.outcomes.entry(finding.outcome.name()).or_insert(0) += 1;
        self.outcome = self.outcome.max(finding.outcome);
        self.line(format!(
            "{} (allowed): {} ({})",
            finding.outcome.name(),
            finding.message,
            finding.checker
        ));
    }

    /// Records an outcome; `Err(Stop)` if the promise forbids it (the run's failure).
    fn record(&mut self, finding: Finding) -> Result<(), Stop> {
        *self.outcomes.entry(finding.outcome.name()).or_insert(0) += 1;
        self.outcome = self.outcome.max(finding.outcome);
        self.line(format!(
            "{}: {} ({})",
            finding.outcome.name(),
            finding.message,
            finding.checker
        ));
        if forbids(&self.promise, self.seen(), finding.outcome) {
            self.failure = Some(EngineFailure {
                outcome: finding.outcome,
                checker: finding.checker.to_string(),
                message: finding.message,
                step: self.step,
                tick: self.tick(),
            });
            return Err(Stop::Ended);
        }
        Ok(())
    }

    fn maybe_schedule_crash(&mut self) {
        if self.prng.gen_range(0..100) < self.config.crash_percent {
            let calls = self.prng.gen_range(1..=self.config.crash_calls_max);
            self.handle.schedule_crash(calls);
        }
    }

    pub(crate) fn play(&mut self) -> Result<(), Stop> {
        self.open()?;
        self.play_steps(self.config.steps)?;
        // The end: a clean reopen reads everything back, then the engine checks itself.
        self.reopen()?;
        self.integrity_check()
    }

    /// Plays the workload's steps until step `end` (the engine open).
    pub(crate) fn play_steps(&mut self, end: u64) -> Result<(), Stop> {
        while self.step < end {
            let step = self
                .workload
                .next_step(&mut self.prng, &self.model, &mut self.version_next);
            self.line(describe(self.step, &step));
            self.handle.step_begin();
            self.maybe_schedule_crash();
            let engine = self
                .engine
                .as_mut()
                .expect("an engine is open between steps");
            let result = catch_unwind(AssertUnwindSafe(|| match &step {
                Step::Commit { mutations } => engine.commit(mutations).map(|()| None),
                Step::Get { key } => engine.get(*key).map(Some),
                Step::Reopen => Ok(None),
            }));
            self.handle.cancel_crash();
            self.check_hang()?;
            if self.handle.dead() {
                // Whatever the engine returned, the process died before it could return it.
                if let Step::Commit { mutations } = &step {
                    self.model.commit_open(mutations);
                }
                self.crashed()?;
            } else {
                match result {
                    Err(panic) => self.panicked(panic.as_ref())?,
                    Ok(Ok(found)) => match &step {
                        Step::Commit { mutations } => {
                            self.model.acknowledge(mutations);
                            self.line("acknowledged".into());
                        }
                        Step::Get { key } => {
                            let found = found.expect("a get returns its value");
                            if let Some(finding) = self.model.judge_get(*key, found.as_deref()) {
                                self.record(finding)?;
                            }
                        }
                        Step::Reopen => self.reopen()?,
                    },
                    Ok(Err(error)) => {
                        if let Step::Commit { mutations } = &step {
                            self.model.commit_open(mutations);
                        }
                        self.record(Finding {
                            outcome: Outcome::ErrorReported,
                            checker: "error_reported",
                            message: format!("step {}: {error}", self.step),
                        })?;
                        // The engine may be poisoned by the error: open it again, as its user
                        // would.
                        self.reopen()?;
                    }
                }
            }
            self.step += 1;
        }
        Ok(())
    }

    fn check_hang(&mut self) -> Result<(), Stop> {
        if self.handle.hung() {
            self.record(Finding {
                outcome: Outcome::Hang,
                checker: "hang",
                message: format!(
                    "step {} made more than {} storage calls",
                    self.step,
                    crate::handle::STEP_CALLS_MAX
                ),
            })?;
            unreachable!("a hang is always forbidden");
        }
        Ok(())
    }

    fn panicked(&mut self, panic: &(dyn std::any::Any + Send)) -> Result<(), Stop> {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|text| text.to_string()))
            .unwrap_or_else(|| "panic".into());
        let site = crate::panic_site::take().map_or(String::new(), |site| format!(" at {site}"));
        self.record(Finding {
            outcome: Outcome::Crash,
            checker: "panic",
            message: format!("the engine panicked{site}: {message}"),
        })?;
        unreachable!("a panic is always forbidden");
    }

    /// Closes the engine cleanly (the process lives on), then opens it again.
    pub(crate) fn reopen(&mut self) -> Result<(), Stop> {
        self.close()?;
        self.open()
    }

    /// Closes the engine cleanly (the process lives on).
    pub(crate) fn close(&mut self) -> Result<(), Stop> {
        self.line("close".into());
        self.handle.step_begin();
        let engine = self.engine.take();
        let dropped = catch_unwind(AssertUnwindSafe(|| drop(engine)));
        self.check_hang()?;
        if self.handle.dead() {
            // A fault aimed at a call of the close (the sweep): the process died while the
            // engine was closing, and what the drop did after that is not its behaviour.
            self.crashes += 1;
            self.line(format!("crash during close (call {})", self.handle.calls()));
            self.handle.revive();
            self.damage_at_rest();
            return Ok(());
        }
        if let Err(panic) = dropped {
            self.panicked(panic.as_ref())?;
        }
        Ok(())
    }

    /// The process died: drop the engine (what it does now is not its behaviour), maybe damage
    /// the file while it is down, and open it again.
    fn crashed(&mut self) -> Result<(), Stop> {
        self.crashes += 1;
        self.line(format!(
            "crash: the process dies (call {})",
            self.handle.calls()
        ));
        let engine = self.engine.take();
        let _ = catch_unwind(AssertUnwindSafe(|| drop(engine)));
        self.handle.revive();
        self.damage_at_rest();
        self.open()
    }

    fn damage_at_rest(&mut self) {
        if self.prng.gen_range(0..100) >= self.config.rest_fault_percent {
            return;
        }
        let kind = self.prng.gen_range(0..4);
        let len = self.handle.with_file(|file| file.durable_len());
        if len == 0 {
            return;
        }
        let offset = self.prng.gen_range(0..len);
        let injected = self.handle.with_file(|file| match kind {
            0 => file.aim_bit_rot(offset),
            1 => file.aim_zeros(offset),
            2 => file.aim_junk(offset),
            _ => file.aim_latent_error(offset),
        });
        if injected {
            let name = ["bit rot", "zeros", "junk", "latent sector error"][kind];
            self.line(format!("damage at rest: {name} at offset {offset}"));
        }
    }

    /// Opens the engine (crashing it during recovery now and then), then reads everything back
    /// and judges it.
    pub(crate) fn open(&mut self) -> Result<(), Stop> {
        assert!(self.engine.is_none());
        let mut crashes_in_a_row = 0;
        let mut creations_left = OPEN_CRASHES_MAX;
        loop {
            self.opens += 1;
            self.handle.step_begin();
            if crashes_in_a_row < OPEN_CRASHES_MAX {
                self.maybe_schedule_crash();
            }
            let (file, setting, fresh) = (self.handle.clone(), self.options.setting, self.fresh);
            let opened = catch_unwind(AssertUnwindSafe(|| E::open(file, setting, fresh)));
            self.handle.cancel_crash();
            self.check_hang()?;
            if self.handle.dead() {
                crashes_in_a_row += 1;
                self.crashes += 1;
                self.line(format!("crash during open (call {})", self.handle.calls()));
                let _ = catch_unwind(AssertUnwindSafe(|| drop(opened)));
                self.handle.revive();
                self.damage_at_rest();
                continue;
            }
            match opened {
                Err(panic) => self.panicked(panic.as_ref())?,
                Ok(Err(error)) if self.fresh && creations_left > 0 => {
                    // No open ever succeeded: a crash cut the store's creation, and nothing was
                    // acknowledged. No engine here promises that creating a store is atomic, so
                    // this is reported (an outcome a user meets: the file is refused until it is
                    // deleted), not failed; the user's remedy, a new empty file, follows.
                    creations_left -= 1;
                    self.note(Finding {
                        outcome: Outcome::Unavailable,
                        checker: "create_interrupted",
                        message: format!("no open ever succeeded (a crash or an I/O error cut the creation): {error}"),
                    });
                    self.handle.with_file(|file| {
                        let _ = file.set_len(0);
                        let _ = file.sync();
                    });
                    self.line("the file is deleted and made again, empty".into());
                }
                Ok(Err(error)) => {
                    self.record(Finding {
                        outcome: Outcome::Unavailable,
                        checker: "unavailable",
                        message: format!("open failed: {error}"),
                    })?;
                    // Nothing more can be judged of a store that does not open.
                    return Err(Stop::Ended);
                }
                Ok(Ok(engine)) => {
                    self.fresh = false;
                    self.engine = Some(engine);
                    return self.judge_after_open();
                }
            }
        }
    }

    fn judge_after_open(&mut self) -> Result<(), Stop> {
        let engine = self.engine.as_mut().expect("just opened");
        let scanned = catch_unwind(AssertUnwindSafe(|| engine.scan()));
        self.check_hang()?;
        let scan: Scan = match scanned {
            Err(panic) => return self.panicked(panic.as_ref()),
            Ok(Err(error)) => {
                self.record(Finding {
                    outcome: Outcome::ErrorReported,
                    checker: "error_reported",
                    message: format!("reading everything back after open: {error}"),
                })?;
                // What the store holds is unknown: nothing more can be judged.
                return Err(Stop::Ended);
            }
            Ok(Ok(scan)) => scan,
        };
        self.line(format!(
            "open: {} entries from key {}",
            scan.entries.len(),
            scan.retained_from
        ));
        if let Some(finding) = self.model.judge_scan(&scan, self.retained_min) {
            self.record(finding)?;
            // An allowed loss (damage the promise does not cover): go on from what the engine
            // holds now.
            self.model.adopt(&scan);
        }
        Ok(())
    }

    pub(crate) fn integrity_check(&mut self) -> Result<(), Stop> {
        let engine = self.engine.as_mut().expect("open at the end");
        let checked = catch_unwind(AssertUnwindSafe(|| engine.integrity_check()));
        match checked {
            Err(panic) => self.panicked(panic.as_ref()),
            Ok(None) => Ok(()),
            Ok(Some(Ok(true))) => {
                self.line("integrity check: fine".into());
                Ok(())
            }
            Ok(Some(Ok(false))) => self.record(Finding {
                outcome: Outcome::ErrorReported,
                checker: "integrity_check",
                message: "the engine's integrity check reports damage".into(),
            }),
            Ok(Some(Err(EngineError { message }))) => self.record(Finding {
                outcome: Outcome::ErrorReported,
                checker: "integrity_check",
                message: format!("the engine's integrity check failed: {message}"),
            }),
        }
    }

    pub(crate) fn finish(mut self, engine_name: &'static str) -> EngineOutcome {
        if self.outcomes.is_empty() || self.failure.is_none() && self.outcome == Outcome::Correct {
            *self.outcomes.entry(Outcome::Correct.name()).or_insert(0) += 1;
        }
        // The engine is dropped before the file is read for the report.
        let engine = self.engine.take();
        let _ = catch_unwind(AssertUnwindSafe(|| drop(engine)));
        let fault_log = self
            .handle
            .with_file(|file| file.fault_log().records().to_vec());
        EngineOutcome {
            engine: engine_name,
            seed: self.seed,
            options: self.options,
            config: self.config,
            outcome: self.outcome,
            outcomes: self.outcomes,
            failure: self.failure,
            trace_hash: self.hash,
            steps_run: self.step,
            commits_acked: self.model.commits_acked(),
            crashes: self.crashes,
            opens: self.opens,
            storage_calls: self.handle.calls(),
            faults_injected: fault_log.len() as u64,
            file_len: self.handle.with_file(|file| file.len()),
            lines: self.lines,
            fault_log,
        }
    }
}

fn describe(step: u64, what: &Step) -> String {
    match what {
        Step::Commit { mutations } => {
            let keys: Vec<String> = mutations
                .iter()
                .map(|mutation| match mutation {
                    crate::engine::Mutation::Put { key, value } => {
                        format!("{key}={}B", value.len())
                    }
                    crate::engine::Mutation::Delete { key } => format!("-{key}"),
                })
                .collect();
            format!("step {step}: commit [{}]", keys.join(" "))
        }
        Step::Get { key } => format!("step {step}: get {key}"),
        Step::Reopen => format!("step {step}: reopen"),
    }
}
