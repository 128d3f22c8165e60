//! `vopr engine NAME ...`: the harness's second kind of workload, an engine from the `engines`
//! crate on the simulated file, driven by the same machinery as the model cluster: the seed
//! loop across threads ([`crate::fuzz::run_parallel`]), shards, the JSON [`Report`] and `merge`,
//! progress, repro commands, shrinking by overrides.
//!
//! Engine seeds run in child processes: each fuzz thread keeps one worker (`vopr engine NAME
//! seed-lines`, which reads seed numbers on stdin and answers each with one JSON line). A seed
//! that aborts its worker (a stack overflow, an allocation failure, `abort()` in an engine) is
//! that seed's `crash` outcome, never the end of the fuzz run: the thread starts a new worker
//! for the next seed. `--in-process` runs seeds on the fuzz threads instead (an abort then ends
//! the run; a panic is still caught).

use crate::fuzz::{run_parallel, EngineSection, FailureReport, Report};
use engines::{EngineKind, FaultMix, RunOptions, Setting};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// What a fuzz run needs of one seed's run: the line a child process prints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedLine {
    pub seed: u64,
    /// The worst outcome, by CORDS name.
    pub outcome: String,
    pub checker: Option<String>,
    pub message: Option<String>,
    pub trace_hash: String,
    pub commits_acked: u64,
    pub crashes: u64,
}

impl SeedLine {
    pub fn of(outcome: &engines::EngineOutcome) -> SeedLine {
        SeedLine {
            seed: outcome.seed,
            outcome: outcome
                .failure
                .as_ref()
                .map_or(outcome.outcome, |failure| failure.outcome)
                .name()
                .to_string(),
            checker: outcome.failure.as_ref().map(|f| f.checker.clone()),
            message: outcome
                .failure
                .as_ref()
                .map(|f| format!("step {} tick {}: {}", f.step, f.tick, f.message)),
            trace_hash: format!("{:016x}", outcome.trace_hash),
            commits_acked: outcome.commits_acked,
            crashes: outcome.crashes,
        }
    }

    pub fn failed(&self) -> bool {
        self.checker.is_some()
    }
}

/// The command-line flags that give `options` (what a repro command carries).
pub fn flags(options: &RunOptions) -> String {
    let mut flags = format!(
        " --setting {} --faults {}",
        options.setting.name(),
        options.faults.name()
    );
    if let Some(steps) = options.steps {
        flags.push_str(&format!(" --steps {steps}"));
    }
    flags
}

/// The command that runs one seed of `engine` again.
pub fn repro_command(engine: EngineKind, seed: u64, options: &RunOptions) -> String {
    crate::vopr_command(&format!(
        "engine {} run {seed}{}",
        engine.name(),
        flags(options)
    ))
}

/// A child process that runs seeds of one engine with one set of options, one at a time.
#[derive(Debug)]
struct Worker {
    /// The engine and flags it was started with.
    key: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Worker {
    fn start(
        exe: &Path,
        engine: EngineKind,
        options: &RunOptions,
        key: String,
    ) -> std::io::Result<Worker> {
        let mut child = Command::new(exe)
            .args(["engine", engine.name(), "seed-lines"])
            .args(flags(options).split_whitespace())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Ok(Worker {
            key,
            child,
            stdin: Some(stdin),
            stdout,
        })
    }

    /// Runs `seed`; `Err` with the reason when the worker died on it.
    fn run(&mut self, seed: u64) -> Result<SeedLine, String> {
        let stdin = self.stdin.as_mut().expect("a live worker has its stdin");
        if writeln!(stdin, "{seed}")
            .and_then(|()| stdin.flush())
            .is_err()
        {
            return Err(self.ended());
        }
        let mut line = String::new();
        match self.stdout.read_line(&mut line) {
            Ok(0) | Err(_) => Err(self.ended()),
            Ok(_) => match serde_json::from_str::<SeedLine>(line.trim_end()) {
                Ok(answer) if answer.seed == seed => Ok(answer),
                _ => Err(format!("the worker answered seed {seed} with {line:?}")),
            },
        }
    }

    /// How the worker ended (it is waited for).
    fn ended(&mut self) -> String {
        self.stdin = None;
        match self.child.wait() {
            Ok(status) => format!("the seed's process ended without a verdict ({status})"),
            Err(error) => format!("the seed's process was lost: {error}"),
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // End of input: the worker exits after its current seed.
        self.stdin = None;
        let _ = self.child.wait();
    }
}

thread_local! {
    /// This thread's worker, kept across the seeds of a fuzz run.
    static WORKER: RefCell<Option<Worker>> = const { RefCell::new(None) };
}

fn aborted(seed: u64, why: String) -> SeedLine {
    SeedLine {
        seed,
        outcome: engines::Outcome::Crash.name().to_string(),
        checker: Some("abort".to_string()),
        message: Some(why),
        trace_hash: "0".repeat(16),
        commits_acked: 0,
        crashes: 0,
    }
}

/// Runs one seed in this thread's worker process of `exe` (the `vopr` binary), starting one if
/// needed; a worker that dies on a seed is that seed's crash, and the next seed gets a new one.
pub fn run_isolated(exe: &Path, engine: EngineKind, seed: u64, options: &RunOptions) -> SeedLine {
    let key = format!("{} {}{}", exe.display(), engine.name(), flags(options));
    WORKER.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_some_and(|worker| worker.key != key) {
            *slot = None;
        }
        if slot.is_none() {
            match Worker::start(exe, engine, options, key) {
                Ok(worker) => *slot = Some(worker),
                Err(error) => {
                    return aborted(seed, format!("could not start the seed's process: {error}"))
                }
            }
        }
        let worker = slot.as_mut().expect("a worker was started");
        match worker.run(seed) {
            Ok(answer) => answer,
            Err(why) => {
                *slot = None;
                aborted(seed, why)
            }
        }
    })
}

/// What to fuzz.
#[derive(Clone, Debug)]
pub struct EngineFuzzOptions {
    pub engine: EngineKind,
    pub run: RunOptions,
    pub seed_first: u64,
    pub seed_end: u64,
    pub jobs: usize,
    pub shard: (u64, u64),
    pub time_budget: Option<Duration>,
    /// The `vopr` binary to run seeds in (child processes), or `None` to run them in-process.
    pub isolate_with: Option<std::path::PathBuf>,
}

impl EngineFuzzOptions {
    pub fn seeds(&self) -> Vec<u64> {
        crate::fuzz::shard_seeds(self.seed_first, self.seed_end, self.shard)
    }
}

/// Runs the seeds of `options` and reports on them, in the report format of `vopr fuzz`.
pub fn fuzz(options: &EngineFuzzOptions, progress: &(dyn Fn(u64, u64, usize) + Sync)) -> Report {
    let started = Instant::now();
    let seeds = options.seeds();
    let run = |seed: u64| match &options.isolate_with {
        Some(exe) => run_isolated(exe, options.engine, seed, &options.run),
        None => SeedLine::of(&options.engine.run(seed, &options.run, false)),
    };
    let lines = run_parallel(
        &seeds,
        options.jobs,
        options.time_budget,
        &run,
        &|line: &SeedLine| (line.seed, line.failed()),
        progress,
    );
    let mut section = EngineSection {
        name: options.engine.name().to_string(),
        setting: options.run.setting.name().to_string(),
        faults: options.run.faults.name().to_string(),
        ..EngineSection::default()
    };
    let mut report = Report {
        seed_first: options.seed_first,
        seed_end: options.seed_end,
        shards: vec![options.shard.0],
        shard_count: options.shard.1,
        seeds_planned: seeds.len() as u64,
        ..Report::default()
    };
    for line in &lines {
        report.seeds_run += 1;
        section.count(&line.outcome, line.seed);
        section.commits_acked += line.commits_acked;
        section.crashes += line.crashes;
        if let (Some(checker), Some(message)) = (&line.checker, &line.message) {
            report.failures.push(FailureReport {
                seed: line.seed,
                checker: checker.clone(),
                message: message.clone(),
                repro: repro_command(options.engine, line.seed, &options.run),
                trace_hash: line.trace_hash.clone(),
            });
        }
    }
    report.engine = Some(section);
    report.missing_cases_update();
    report.elapsed_s = started.elapsed().as_secs_f64();
    report
}

/// The outcome table of an engine report, one line per outcome with its first seeds.
pub fn outcome_table(section: &EngineSection) -> String {
    let mut text = format!("engine {}: seeds by worst outcome\n", section.label());
    for outcome in engines::Outcome::ALL {
        let name = outcome.name();
        let count = section.outcomes.get(name).copied().unwrap_or(0);
        let seeds = section
            .outcome_seeds
            .get(name)
            .map(|seeds| {
                seeds
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        text.push_str(&format!("  {name:<18} {count:>7}   {seeds}\n"));
    }
    text.push_str(&format!(
        "  ({} commits acknowledged, {} crashes)",
        section.commits_acked, section.crashes
    ));
    text
}

/// What `shrink` found for an engine seed.
#[derive(Clone, Debug)]
pub struct EngineShrunk {
    pub seed: u64,
    pub checker: String,
    pub message: String,
    pub options: RunOptions,
    pub runs: u32,
}

/// The smallest run that fails like `seed` with `start`: the fewest steps (the failing step is
/// the last one needed), then the narrowest fault mix, then fewer steps again. Every candidate
/// keeps the seed's streams (the draws do not depend on the overrides).
pub fn shrink(
    engine: EngineKind,
    seed: u64,
    start: &RunOptions,
    progress: &mut dyn FnMut(u32, &RunOptions),
) -> Result<EngineShrunk, String> {
    let first = engine.run(seed, start, false);
    let Some(failure) = first.failure else {
        return Err(format!(
            "engine {} seed {seed}{} passes: nothing to shrink",
            engine.name(),
            flags(start)
        ));
    };
    let mut best = EngineShrunk {
        seed,
        checker: failure.checker.clone(),
        message: failure.message,
        options: start.clone(),
        runs: 1,
    };
    let mut attempt = |best: &mut EngineShrunk, candidate: RunOptions| -> bool {
        best.runs += 1;
        let outcome = engine.run(seed, &candidate, false);
        match outcome.failure {
            Some(failure) if failure.checker == best.checker => {
                best.message = failure.message;
                best.options = candidate;
                progress(best.runs, &best.options);
                true
            }
            _ => false,
        }
    };
    // The steps up to the failing one: the run is identical until then.
    let steps_drawn = first.config.steps;
    if failure.step < steps_drawn {
        let candidate = RunOptions {
            steps: Some(failure.step + 1),
            ..best.options.clone()
        };
        attempt(&mut best, candidate);
    }
    // The narrowest fault mix that still fails.
    if best.options.faults != FaultMix::Crash {
        for mix in [FaultMix::Crash, FaultMix::AtRest, FaultMix::Io] {
            let drawn = first.config.mix;
            let narrower = mix == FaultMix::Crash
                || drawn == FaultMix::All
                || (drawn == mix && best.options.faults == FaultMix::Swarm);
            if !narrower || mix == best.options.faults {
                continue;
            }
            let candidate = RunOptions {
                faults: mix,
                ..best.options.clone()
            };
            if attempt(&mut best, candidate) {
                break;
            }
        }
    }
    // Fewer steps, halving while it still fails (bounded: at most 64 more runs).
    let mut steps = best.options.steps.unwrap_or(steps_drawn);
    for _ in 0..64 {
        if steps <= 1 {
            break;
        }
        let candidate = RunOptions {
            steps: Some(steps / 2),
            ..best.options.clone()
        };
        if attempt(&mut best, candidate) {
            steps /= 2;
        } else {
            break;
        }
    }
    Ok(best)
}

/// The readable story of one engine seed: its configuration, every step, crash, open and check
/// in order, with every fault the file injected placed at its tick, and the verdict.
pub fn replay(engine: EngineKind, seed: u64, options: &RunOptions) -> (String, bool) {
    let outcome = engine.run(seed, options, true);
    let config = &outcome.config;
    let mut text = format!(
        "engine {} seed {seed}{}: mix={} steps={} crash%={} crash_calls_max={} rest_fault%={} torn={}\n",
        engine.name(),
        flags(options),
        config.mix.name(),
        config.steps,
        config.crash_percent,
        config.crash_calls_max,
        config.rest_fault_percent,
        config.file_faults.disk.crash_write_torn_probability
    );
    let mut faults = outcome.fault_log.iter().peekable();
    for line in &outcome.lines {
        while let Some(fault) = faults.next_if(|fault| fault.tick <= line.tick) {
            text.push_str(&format!(
                "tick {:>7}   FAULT {:?} at offset {} len {}\n",
                fault.tick, fault.kind, fault.offset, fault.len
            ));
        }
        text.push_str(&format!("tick {:>7} {}\n", line.tick, line.text));
    }
    for fault in faults {
        text.push_str(&format!(
            "tick {:>7}   FAULT {:?} at offset {} len {}\n",
            fault.tick, fault.kind, fault.offset, fault.len
        ));
    }
    text.push_str(&format!(
        "{} steps, {} commits acknowledged, {} crashes, {} opens, {} storage calls, {} faults; worst outcome {}; trace_hash={:016x}\n",
        outcome.steps_run,
        outcome.commits_acked,
        outcome.crashes,
        outcome.opens,
        outcome.storage_calls,
        outcome.faults_injected,
        outcome.outcome.name(),
        outcome.trace_hash
    ));
    let failed = match &outcome.failure {
        None => {
            text.push_str(&format!("engine {} seed {seed}: passed\n", engine.name()));
            false
        }
        Some(failure) => {
            text.push_str(&format!(
                "engine {} seed {seed}: FAILED {} checker={} at step {} tick {}: {}\nreproduce: {}\n",
                engine.name(),
                failure.outcome.name(),
                failure.checker,
                failure.step,
                failure.tick,
                failure.message,
                repro_command(engine, seed, options)
            ));
            true
        }
    };
    (text, failed)
}

/// Parses `--setting`, for the CLI.
pub fn parse_setting(text: &str) -> Result<Setting, String> {
    Setting::parse(text).ok_or_else(|| format!("--setting {text}: expected safe or unsafe"))
}

/// Parses `--faults`, for the CLI.
pub fn parse_faults(text: &str) -> Result<FaultMix, String> {
    FaultMix::parse(text)
        .ok_or_else(|| format!("--faults {text}: expected crash, at-rest, io, all or swarm"))
}
