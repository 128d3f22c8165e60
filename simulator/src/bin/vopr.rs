//! `vopr`: run one seed, fuzz a range, replay or shrink a seed, keep the seed corpus, merge shard
//! reports, dump the decision table.
//!
//! Exit codes: 0 all passed, 1 a checker or an assertion failed (or a complete range missed a
//! reachable case), 2 bad input (a one-line error on stderr).

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use simulator::corpus::{self, CoverageSet};
use simulator::fuzz::{fuzz, merge, FuzzOptions, Report};
use simulator::Overrides;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "vopr",
    about = "Deterministic simulation of a WAL journal on a faulty disk: one seed fixes a whole run",
    version,
    after_help = "`vopr SEED` is short for `vopr run SEED`.\nExit codes: 0 passed, 1 a checker failed, 2 bad input."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Run with this planted bug switched on (see `vopr canaries`).
    #[cfg(feature = "canary")]
    #[arg(long, global = true)]
    canary: Option<String>,
}

/// A range of seeds to fuzz, as `vopr fuzz` and `vopr engine NAME fuzz` both take it.
#[derive(Args, Debug, Clone)]
struct RangeArgs {
    /// Seeds to run, `A..B` (B exclusive).
    #[arg(long, value_parser = parse_range)]
    seeds: (u64, u64),
    /// Seeds side by side (default: all cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Run only every N-th seed: `I/N` runs seeds with `seed % N == I`.
    #[arg(long, value_parser = parse_shard, default_value = "0/1")]
    shard: (u64, u64),
    /// Stop starting new seeds after this long: `90s`, `10m`, `1h`.
    #[arg(long, value_parser = parse_duration)]
    time_budget: Option<Duration>,
    /// Write the JSON report here (atomically); `vopr merge` combines shards.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// Changes to what a seed draws: how `shrink` reports a smaller failing run.
#[derive(Args, Debug, Clone, Default)]
struct OverrideArgs {
    /// Replica count instead of the drawn one (1-6).
    #[arg(long)]
    replicas: Option<u8>,
    /// Ops the workload prepares instead of the drawn number.
    #[arg(long)]
    ops: Option<u64>,
    /// Switch off, comma-separated: crash, view_change, torn_write, read_bit_flip,
    /// write_bit_flip, misdirected_write, misdirected_read, latent_sector_error, lost_write,
    /// sector_corrupt, window_aim (the aimed protocol windows), deep_pipeline (keep the pipeline
    /// within a quarter of the ring).
    #[arg(long, value_delimiter = ',')]
    without: Vec<String>,
    /// Ring size instead of the drawn journal: 512-byte sectors, 2 KiB prepares, this many slots
    /// (a multiple of 4, 8 to 1024); the drawn pipeline and write depths clamped to what a
    /// 16-slot ring allows, so that rings differ in size alone.
    #[arg(long)]
    slots: Option<u64>,
}

impl OverrideArgs {
    fn overrides(&self) -> Result<Overrides, String> {
        let overrides = Overrides {
            replicas: self.replicas,
            ops: self.ops,
            without: self.without.clone(),
            slots: self.slots,
        };
        overrides.validate()?;
        Ok(overrides)
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one seed; exit 1 with the failing checker, its tick and the repro command.
    Run {
        /// The seed (a u64).
        seed: u64,
        #[command(flatten)]
        overrides: OverrideArgs,
    },
    /// Run a range of seeds on all cores; print the coverage table; exit 1 on any failure.
    Fuzz {
        #[command(flatten)]
        range: RangeArgs,
        /// Write the coverage table and the failures as an HTML page here (atomically).
        #[arg(long)]
        html: Option<PathBuf>,
        /// Change every seed's drawn configuration (the reachable-case check then does not
        /// apply).
        #[command(flatten)]
        overrides: OverrideArgs,
    },
    /// Print one seed's readable trace: per tick, per replica, writes, crashes, recoveries and
    /// each slot's recovery decision.
    Replay {
        seed: u64,
        /// Print every slot of every recovery, not only those that did not recover clean.
        #[arg(long)]
        verbose: bool,
        /// Only this replica's events, faults and ring rows.
        #[arg(long)]
        replica: Option<u8>,
        /// Only events, faults and recovery decisions of this slot.
        #[arg(long)]
        slot: Option<u64>,
        /// Only ticks `A..B` (B exclusive).
        #[arg(long, value_parser = parse_range)]
        ticks: Option<(u64, u64)>,
        #[command(flatten)]
        overrides: OverrideArgs,
    },
    /// Write one seed's report as a self-contained HTML page: a timeline per replica with every
    /// fault, the rings at each recovery, the failing checker and the repro command.
    Report {
        seed: u64,
        /// The HTML file to write (atomically).
        #[arg(long)]
        html: PathBuf,
        #[command(flatten)]
        overrides: OverrideArgs,
    },
    /// Run named, deterministic scenarios that each place the faults one recovery case needs
    /// and check its case, decision and outcome: `--list`, a NAME, or `--all`.
    Scenario {
        /// The scenario to run.
        name: Option<String>,
        /// List every scenario with its case and outcome.
        #[arg(long)]
        list: bool,
        /// Run every scenario.
        #[arg(long)]
        all: bool,
    },
    /// Inject exactly one fault at every sector of both zones of one replica (bit flip, latent
    /// error, misdirected write landing there, torn or lost write of the write covering it),
    /// crash before or after that write, recover, repair, change view, and count the outcomes
    /// (PAR's single-fault sweep); exit 1 on any outcome the design does not allow.
    Sweep {
        /// Replica counts, comma-separated (default 1,3,5).
        #[arg(long, value_delimiter = ',')]
        replicas: Vec<u8>,
        /// Only this zone: headers or prepares (default both).
        #[arg(long)]
        zone: Option<String>,
        /// Only sectors A..B of each zone (B exclusive).
        #[arg(long, value_parser = parse_range)]
        sectors: Option<(u64, u64)>,
        /// Fault kinds, comma-separated: bit_flip, latent_error, misdirected_write, torn_write,
        /// lost_write (default all).
        #[arg(long, value_delimiter = ',')]
        faults: Vec<String>,
        /// One scenario by its printed coordinates, R:zone:sector:fault:crash.
        #[arg(long)]
        only: Option<String>,
        /// Sweep pairs of faults in one slot instead (its prepare sector and its header sector
        /// both hit), one pair drawn per seed of `--seeds`.
        #[arg(long, requires = "seeds")]
        pairs: bool,
        /// The pair seeds, `A..B` (with `--pairs`).
        #[arg(long, value_parser = parse_range, requires = "pairs")]
        seeds: Option<(u64, u64)>,
        /// Threads (default: all cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Write every scenario's outcome here, as JSON (atomically).
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Find the smallest run that fails like SEED: fewer replicas, fewer ops, fewer faults.
    Shrink {
        seed: u64,
        #[command(flatten)]
        overrides: OverrideArgs,
    },
    /// Keep the seed corpus in seeds/.
    Corpus {
        #[command(subcommand)]
        command: CorpusCommand,
    },
    /// Combine shard reports (`fuzz --shard I/N --json`) into one; exit 1 on any failure, or
    /// when every shard is present and the union missed a reachable case.
    Merge {
        /// Shard reports.
        #[arg(required = true)]
        reports: Vec<PathBuf>,
        /// Write the merged report here (atomically).
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Print the recovery decision for all 2^11 table inputs, as JSON.
    Table {
        /// As JSON (the only format).
        #[arg(long)]
        json: bool,
    },
    /// Run a storage engine (redb, file-wal) unchanged on the simulated file under seeded
    /// crashes and faults, judged against the runner's ground truth: run, fuzz, replay, shrink.
    Engine {
        /// The engine: redb or file-wal.
        name: String,
        #[command(subcommand)]
        command: EngineCommand,
    },
    /// Run every planted bug over a seed range; report which checker caught it, and when.
    #[cfg(feature = "canary")]
    Canaries {
        #[arg(long, value_parser = parse_range, default_value = "0..2000")]
        seeds: (u64, u64),
        #[arg(long)]
        jobs: Option<usize>,
        /// Run the whole range for every canary and report the share of seeds that fail (its
        /// power), not only the first failing seed.
        #[arg(long)]
        share: bool,
    },
}

/// What an engine seed runs with besides its number.
#[derive(Args, Debug, Clone)]
struct EngineArgs {
    /// safe (redb Durability::Immediate; our WAL as shipped) or unsafe (redb Durability::None;
    /// our WAL acknowledging before its sync): the unsafe setting really loses acknowledged
    /// data and must fail (calibration).
    #[arg(long, default_value = "safe", value_parser = simulator::engine_harness::parse_setting)]
    setting: engines::Setting,
    /// Which faults a seed may draw: crash, at-rest, io, all, or swarm (each seed draws one).
    #[arg(long, default_value = "swarm", value_parser = simulator::engine_harness::parse_faults)]
    faults: engines::FaultMix,
    /// Workload steps instead of the drawn number (what shrink prints).
    #[arg(long)]
    steps: Option<u64>,
}

impl EngineArgs {
    fn options(&self) -> engines::RunOptions {
        engines::RunOptions {
            setting: self.setting,
            faults: self.faults,
            steps: self.steps,
        }
    }
}

#[derive(Subcommand, Debug)]
enum EngineCommand {
    /// Run one seed; exit 1 with the outcome the engine's promise forbids and the repro command.
    Run {
        seed: u64,
        #[command(flatten)]
        args: EngineArgs,
    },
    /// Run a range of seeds (in worker processes); print seeds by worst outcome; exit 1 on any
    /// failure.
    Fuzz {
        #[command(flatten)]
        range: RangeArgs,
        /// Run seeds on this process's threads instead of one process each (faster; an abort
        /// then ends the run).
        #[arg(long)]
        in_process: bool,
        #[command(flatten)]
        args: EngineArgs,
    },
    /// Print one seed's story: steps, crashes, opens, checks, every fault at its tick.
    Replay {
        seed: u64,
        #[command(flatten)]
        args: EngineArgs,
    },
    /// Find the smallest run that fails like SEED: fewer steps, a narrower fault mix.
    Shrink {
        seed: u64,
        #[command(flatten)]
        args: EngineArgs,
    },
    /// CORDS's single-fault table: one fault at a time at every sector the engine wrote (zeros,
    /// junk, bit flip, read EIO) and at every storage call it can hit (write EIO, ENOSPC, fsync
    /// failure, crash), each judged by the engine's promise; exit 1 on an outcome it forbids.
    Sweep {
        /// Run one cell with its story: KIND@sector:N or KIND@call:N (as the table's lines
        /// print them).
        #[arg(long, conflicts_with_all = ["pair", "pairs"])]
        only: Option<String>,
        /// Run one pair with its story: FIRST,SECOND (two faults at rest).
        #[arg(long, conflicts_with = "pairs")]
        pair: Option<String>,
        /// Sampled pairs of faults at rest instead of single faults, drawn among the cells the
        /// engine handled alone; the second fault falls after a reopen and some writes. One
        /// pair per number of --seeds.
        #[arg(long, requires = "seeds")]
        pairs: bool,
        /// The pairs' sample numbers (with --pairs).
        #[arg(long, value_parser = parse_range, requires = "pairs")]
        seeds: Option<(u64, u64)>,
        /// Only these fault kinds (comma-separated): zeros, junk, bit_flip, read_eio,
        /// write_eio, enospc, fsync_fail, crash.
        #[arg(long, value_delimiter = ',')]
        faults: Vec<String>,
        /// The workload's seed (the engine's default if absent: one that fills the file).
        #[arg(long)]
        seed: Option<u64>,
        /// Workload steps before the faults at rest (the engine's default if absent).
        #[arg(long)]
        steps: Option<u64>,
        /// Workload steps after them (the engine's default if absent).
        #[arg(long)]
        tail_steps: Option<u64>,
        /// safe or unsafe (calibration: the unsafe setting must fail the crash cells).
        #[arg(long, default_value = "safe", value_parser = simulator::engine_harness::parse_setting)]
        setting: engines::Setting,
        /// Threads (default: the machine's cores); the results are the same for any count.
        #[arg(long)]
        jobs: Option<usize>,
        /// Write every cell's result as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Draw the table as a page.
        #[arg(long)]
        html: Option<PathBuf>,
    },
    /// One seed's verdict as one JSON line.
    #[command(hide = true)]
    SeedLine {
        seed: u64,
        #[command(flatten)]
        args: EngineArgs,
    },
    /// A fuzz worker: reads seed numbers from stdin, answers each with one JSON line (what
    /// `fuzz` runs in each child process).
    #[command(hide = true)]
    SeedLines {
        #[command(flatten)]
        args: EngineArgs,
    },
}

#[derive(Subcommand, Debug)]
enum CorpusCommand {
    /// Record a failing seed in seeds/regressions.json (seed, drawn config, checker, trace
    /// hash, commit).
    Add {
        seed: u64,
        #[command(flatten)]
        overrides: OverrideArgs,
        /// Record the seed even though it passes (pin an interesting run).
        #[arg(long)]
        passing: bool,
        /// Why the seed is recorded.
        #[arg(long, default_value = "")]
        note: String,
        #[arg(long, default_value = corpus::REGRESSIONS_PATH)]
        file: PathBuf,
    },
    /// Regenerate seeds/coverage.json: the fewest seeds of a range that reach every reachable
    /// recovery case.
    Distill {
        #[arg(long, value_parser = parse_range, default_value = "0..2000")]
        seeds: (u64, u64),
        #[arg(long)]
        jobs: Option<usize>,
        #[arg(long, default_value = corpus::COVERAGE_PATH)]
        file: PathBuf,
    },
    /// Run every seed of seeds/regressions.json and seeds/coverage.json.
    Check {
        #[arg(long, default_value = corpus::REGRESSIONS_PATH)]
        regressions: PathBuf,
        #[arg(long, default_value = corpus::COVERAGE_PATH)]
        coverage: PathBuf,
    },
}

fn parse_range(text: &str) -> Result<(u64, u64), String> {
    let (first, end) = text
        .split_once("..")
        .ok_or_else(|| format!("'{text}' is not a range A..B"))?;
    let first: u64 = first
        .trim()
        .parse()
        .map_err(|_| format!("'{first}' in '{text}' is not a seed number"))?;
    let end: u64 = end
        .trim()
        .parse()
        .map_err(|_| format!("'{end}' in '{text}' is not a seed number"))?;
    if first > end {
        return Err(format!("range {text} is backwards"));
    }
    Ok((first, end))
}

fn parse_shard(text: &str) -> Result<(u64, u64), String> {
    let (index, count) = text
        .split_once('/')
        .ok_or_else(|| format!("'{text}' is not a shard I/N"))?;
    let index: u64 = index
        .parse()
        .map_err(|_| format!("shard index '{index}' is not a number"))?;
    let count: u64 = count
        .parse()
        .map_err(|_| format!("shard count '{count}' is not a number"))?;
    if count == 0 || index >= count {
        return Err(format!("shard {text}: the index must be below the count"));
    }
    Ok((index, count))
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let number: u64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration like 90s, 10m, 1h"))?;
    let seconds = match unit {
        "s" | "" => number,
        "m" => number * 60,
        "h" => number * 3600,
        _ => return Err(format!("'{text}': unknown unit '{unit}' (use s, m or h)")),
    };
    Ok(Duration::from_secs(seconds))
}

/// Bad input: one line on stderr, exit 2.
fn bad_input(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("vopr: error: {message}");
    ExitCode::from(2)
}

fn jobs_or_cores(jobs: Option<usize>) -> usize {
    jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn main() -> ExitCode {
    // `vopr SEED` is short for `vopr run SEED`.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args
        .get(1)
        .and_then(|a| a.to_str())
        .is_some_and(|a| a.parse::<u64>().is_ok())
    {
        args.insert(1, "run".into());
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => {
            // --help, --version.
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            // One line: clap's first, and for a message that ends in a colon (the required
            // arguments not given, say) the names it lists on the lines after.
            let text = error.to_string();
            let mut lines = text.lines().filter(|line| !line.trim().is_empty());
            let first = lines.next().unwrap_or("bad arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            let line = match first.strip_suffix(':') {
                Some(head) => {
                    let names: Vec<&str> = lines
                        .take_while(|line| line.starts_with("  "))
                        .map(str::trim)
                        .collect();
                    format!("{head}: {}", names.join(", "))
                }
                None => first.to_string(),
            };
            return bad_input(format!("{line} (see vopr --help)"));
        }
    };
    #[cfg(feature = "canary")]
    if let Some(name) = &cli.canary {
        match journal::canary::Canary::from_name(name) {
            Some(canary) => journal::canary::set_active(Some(canary)),
            None => return bad_input(format!("--canary {name}: no such canary")),
        }
    }
    // Failures are reported by the runner; keep panic noise out of the output (the hook only
    // remembers where a panic happened, for an engine's finding).
    engines::panic_site::install_hook();
    match cli.command {
        Command::Run { seed, overrides } => match overrides.overrides() {
            Ok(overrides) => run(seed, &overrides),
            Err(message) => bad_input(message),
        },
        Command::Scenario { name, list, all } => scenario(name.as_deref(), list, all),
        Command::Sweep {
            replicas,
            zone,
            sectors,
            faults,
            only,
            pairs,
            seeds,
            jobs,
            json,
        } => match (pairs, seeds) {
            (true, Some(seeds)) => sweep_pairs_command(seeds, replicas, jobs_or_cores(jobs), json),
            _ => sweep_command(SweepArgs {
                replicas,
                zone,
                sectors,
                faults,
                only,
                jobs: jobs_or_cores(jobs),
                json,
            }),
        },
        Command::Replay {
            seed,
            verbose,
            replica,
            slot,
            ticks,
            overrides,
        } => match overrides.overrides() {
            Ok(overrides) => {
                let filter = simulator::replay::Filter {
                    verbose,
                    replica,
                    slot,
                    ticks,
                };
                replay(seed, &overrides, &filter)
            }
            Err(message) => bad_input(message),
        },
        Command::Report {
            seed,
            html,
            overrides,
        } => match overrides.overrides() {
            Ok(overrides) => report(seed, &overrides, &html),
            Err(message) => bad_input(message),
        },
        Command::Shrink { seed, overrides } => match overrides.overrides() {
            Ok(overrides) => shrink(seed, &overrides),
            Err(message) => bad_input(message),
        },
        Command::Table { .. } => {
            println!("{}", journal::decision_table::table_json());
            ExitCode::SUCCESS
        }
        Command::Fuzz {
            range:
                RangeArgs {
                    seeds,
                    jobs,
                    shard,
                    time_budget,
                    json,
                },
            html,
            overrides,
        } => {
            let overrides = match overrides.overrides() {
                Ok(overrides) => overrides,
                Err(message) => return bad_input(message),
            };
            let options = FuzzOptions {
                seed_first: seeds.0,
                seed_end: seeds.1,
                jobs: jobs_or_cores(jobs),
                shard,
                time_budget,
                overrides,
            };
            fuzz_command(&options, json, html)
        }
        Command::Merge { reports, json } => merge_command(&reports, json),
        Command::Engine { name, command } => match engines::EngineKind::parse(&name) {
            Some(engine) => engine_command(engine, command),
            None => bad_input(format!(
                "engine {name}: unknown (known: {})",
                engines::EngineKind::ALL
                    .map(engines::EngineKind::name)
                    .join(", ")
            )),
        },
        Command::Corpus { command } => corpus_command(command),
        #[cfg(feature = "canary")]
        Command::Canaries { seeds, jobs, share } => {
            simulator::canaries::canaries_main(seeds, jobs_or_cores(jobs), share)
        }
    }
}

fn run(seed: u64, overrides: &Overrides) -> ExitCode {
    let outcome = simulator::run_with(seed, overrides, false);
    let config = &outcome.config;
    println!(
        "seed {seed}{}: replicas={} slots={} ops={} ticks={} trace_hash={:016x}",
        overrides.flags(),
        config.replica_count,
        config.journal.slot_count,
        outcome.ops,
        outcome.ticks,
        outcome.trace_hash
    );
    match outcome.failure {
        None => {
            println!("seed {seed}: passed");
            ExitCode::SUCCESS
        }
        Some(failure) => {
            println!(
                "seed {seed}: FAILED checker={} tick={}: {}",
                failure.checker, failure.tick, failure.message
            );
            let flags = overrides.flags();
            println!(
                "reproduce: {}",
                simulator::vopr_command(&format!("run {seed}{flags}"))
            );
            println!(
                "shrink:    {}",
                simulator::vopr_command(&format!("shrink {seed}{flags}"))
            );
            ExitCode::from(1)
        }
    }
}

fn replay(seed: u64, overrides: &Overrides, filter: &simulator::replay::Filter) -> ExitCode {
    let outcome = simulator::run_with(seed, overrides, true);
    if let Some(replica) = filter.replica {
        if replica >= outcome.config.replica_count {
            return bad_input(format!(
                "--replica {replica}: seed {seed} runs {} replicas",
                outcome.config.replica_count
            ));
        }
    }
    if let Some(slot) = filter.slot {
        if slot >= outcome.config.journal.slot_count {
            return bad_input(format!(
                "--slot {slot}: seed {seed} has a ring of {} slots",
                outcome.config.journal.slot_count
            ));
        }
    }
    print!("{}", simulator::replay::render(&outcome, overrides, filter));
    if outcome.failure.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn report(seed: u64, overrides: &Overrides, path: &std::path::Path) -> ExitCode {
    if let Err(message) = report_directory_exists("--html", path) {
        return bad_input(message);
    }
    let outcome = simulator::run_with(seed, overrides, true);
    let page = simulator::report_html::seed_page(&outcome, overrides);
    if let Err(error) = corpus::store_text(path, &page) {
        return bad_input(error);
    }
    match &outcome.failure {
        None => {
            println!("seed {seed}: passed; report in {}", path.display());
            ExitCode::SUCCESS
        }
        Some(failure) => {
            println!(
                "seed {seed}: FAILED checker={} tick={}; report in {}",
                failure.checker,
                failure.tick,
                path.display()
            );
            ExitCode::from(1)
        }
    }
}

fn shrink(seed: u64, overrides: &Overrides) -> ExitCode {
    let mut progress = |runs: u32, kept: &Overrides| {
        eprintln!("shrink: {runs} runs, still failing with{}", kept.flags());
    };
    match simulator::shrink::shrink(seed, overrides, &mut progress) {
        Err(message) => bad_input(message),
        Ok(shrunk) => {
            println!(
                "seed {seed} shrunk in {} runs: replicas={} ops={} fails {} at tick {}: {}",
                shrunk.runs,
                shrunk.config.replica_count,
                shrunk.config.ops_target,
                shrunk.checker,
                shrunk.tick,
                shrunk.message
            );
            println!("smallest repro: {}", shrunk.command());
            ExitCode::from(1)
        }
    }
}

/// A progress bar with seeds/s and failures on a terminal; a plain line every 500 seeds
/// otherwise (CI logs).
/// A progress bar of `total` `unit`s (seeds, runs) on a terminal; `None` elsewhere.
fn progress_bar(total: u64, unit: &str) -> Option<ProgressBar> {
    std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template(&format!(
                "{{elapsed_precise}} [{{bar:40}}] {{pos}}/{{len}} {unit} {{per_sec}} eta {{eta}} {{msg}}"
            ))
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar
    })
}

fn progress_reporter(total: u64) -> (Option<ProgressBar>, impl Fn(u64, u64, usize) + Sync) {
    let bar = progress_bar(total, "seeds");
    let handle = bar.clone();
    let progress = move |done: u64, total: u64, failures: usize| match &handle {
        Some(bar) => {
            bar.set_position(done);
            bar.set_message(format!("{failures} failed"));
        }
        None => {
            if done.is_multiple_of(500) || done == total {
                eprintln!("{done}/{total} seeds, {failures} failed");
            }
        }
    };
    (bar, progress)
}

fn engine_command(engine: engines::EngineKind, command: EngineCommand) -> ExitCode {
    use simulator::engine_harness as harness;
    match command {
        EngineCommand::Sweep {
            only,
            pair,
            pairs,
            seeds,
            faults,
            seed,
            steps,
            tail_steps,
            setting,
            jobs,
            json,
            html,
        } => {
            let defaults = engine.sweep_defaults();
            let options = engines::sweep::SweepOptions {
                setting,
                seed: seed.unwrap_or(defaults.seed),
                steps: steps.unwrap_or(defaults.steps),
                tail_steps: tail_steps.unwrap_or(defaults.tail_steps),
            };
            if options.steps == 0 {
                return bad_input(
                    "--steps 0: the sweep needs a workload before its faults at rest",
                );
            }
            let mut kinds = Vec::new();
            for name in &faults {
                match engines::sweep::SweepFault::parse(name) {
                    Some(kind) => kinds.push(kind),
                    None => {
                        return bad_input(format!(
                            "--faults {name}: unknown; use any of zeros, junk, bit_flip, read_eio, write_eio, enospc, fsync_fail, crash"
                        ))
                    }
                }
            }
            let pairs = if pairs { seeds } else { None };
            let request = simulator::engine_sweep::SweepRequest {
                engine,
                options,
                faults: kinds,
                pairs,
                jobs: jobs_or_cores(jobs),
            };
            engine_sweep_command(&request, only, pair, json, html)
        }
        EngineCommand::Run { seed, args } => {
            let options = args.options();
            let outcome = engine.run(seed, &options, false);
            println!(
                "engine {} seed {seed}{}: mix={} steps={} commits={} crashes={} storage_calls={} faults={} file_len={} worst={} trace_hash={:016x}",
                engine.name(),
                harness::flags(&options),
                outcome.config.mix.name(),
                outcome.steps_run,
                outcome.commits_acked,
                outcome.crashes,
                outcome.storage_calls,
                outcome.faults_injected,
                outcome.file_len,
                outcome.outcome.name(),
                outcome.trace_hash
            );
            match &outcome.failure {
                None => {
                    println!("engine {} seed {seed}: passed", engine.name());
                    ExitCode::SUCCESS
                }
                Some(failure) => {
                    println!(
                        "engine {} seed {seed}: FAILED {} checker={} at step {} tick {}: {}",
                        engine.name(),
                        failure.outcome.name(),
                        failure.checker,
                        failure.step,
                        failure.tick,
                        failure.message
                    );
                    println!(
                        "reproduce: {}",
                        harness::repro_command(engine, seed, &options)
                    );
                    println!(
                        "replay:    {}",
                        simulator::vopr_command(&format!(
                            "engine {} replay {seed}{}",
                            engine.name(),
                            harness::flags(&options)
                        ))
                    );
                    ExitCode::from(1)
                }
            }
        }
        EngineCommand::SeedLine { seed, args } => {
            let outcome = engine.run(seed, &args.options(), false);
            let line = harness::SeedLine::of(&outcome);
            println!(
                "{}",
                serde_json::to_string(&line).expect("a seed line serializes")
            );
            ExitCode::SUCCESS
        }
        EngineCommand::SeedLines { args } => {
            use std::io::{BufRead, Write};
            let options = args.options();
            let stdout = std::io::stdout();
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                let Ok(seed) = line.trim().parse::<u64>() else {
                    return bad_input(format!("seed-lines: '{line}' is not a seed number"));
                };
                let outcome = engine.run(seed, &options, false);
                let answer = harness::SeedLine::of(&outcome);
                let mut out = stdout.lock();
                let text = serde_json::to_string(&answer).expect("a seed line serializes");
                if writeln!(out, "{text}").and_then(|()| out.flush()).is_err() {
                    break;
                }
            }
            ExitCode::SUCCESS
        }
        EngineCommand::Replay { seed, args } => {
            let (text, failed) = harness::replay(engine, seed, &args.options());
            print!("{text}");
            if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        EngineCommand::Shrink { seed, args } => {
            let mut progress = |runs: u32, kept: &engines::RunOptions| {
                eprintln!(
                    "shrink: {runs} runs, still failing with{}",
                    harness::flags(kept)
                );
            };
            match harness::shrink(engine, seed, &args.options(), &mut progress) {
                Err(message) => bad_input(message),
                Ok(shrunk) => {
                    println!(
                        "engine {} seed {seed} shrunk in {} runs: fails {}: {}",
                        engine.name(),
                        shrunk.runs,
                        shrunk.checker,
                        shrunk.message
                    );
                    println!(
                        "smallest repro: {}",
                        harness::repro_command(engine, seed, &shrunk.options)
                    );
                    ExitCode::from(1)
                }
            }
        }
        EngineCommand::Fuzz {
            range:
                RangeArgs {
                    seeds,
                    jobs,
                    shard,
                    time_budget,
                    json,
                },
            in_process,
            args,
        } => {
            if let Some(path) = &json {
                if let Err(message) = report_directory_exists("--json", path) {
                    return bad_input(message);
                }
            }
            let isolate_with = if in_process {
                None
            } else {
                match std::env::current_exe() {
                    Ok(exe) => Some(exe),
                    Err(error) => {
                        return bad_input(format!("cannot find the vopr binary: {error}"))
                    }
                }
            };
            let options = harness::EngineFuzzOptions {
                engine,
                run: args.options(),
                seed_first: seeds.0,
                seed_end: seeds.1,
                jobs: jobs_or_cores(jobs),
                shard,
                time_budget,
                isolate_with,
            };
            let (bar, progress) = progress_reporter(options.seeds().len() as u64);
            let report = harness::fuzz(&options, &progress);
            if let Some(bar) = bar {
                bar.finish();
            }
            report_print(&report);
            if let Some(path) = json {
                if let Err(error) = corpus::store(&path, &report) {
                    return bad_input(error);
                }
            }
            verdict(&report)
        }
    }
}

fn engine_sweep_command(
    request: &simulator::engine_sweep::SweepRequest,
    only: Option<String>,
    pair: Option<String>,
    json: Option<PathBuf>,
    html: Option<PathBuf>,
) -> ExitCode {
    use engines::sweep::Cell;
    use simulator::engine_sweep as sweep;
    for (flag, path) in [("--json", &json), ("--html", &html)] {
        if let Some(path) = path {
            if let Err(message) = report_directory_exists(flag, path) {
                return bad_input(message);
            }
        }
    }
    let single = match (only, pair) {
        (Some(only), _) => match Cell::parse(&only) {
            Ok(cell) => Some((cell, None)),
            Err(message) => return bad_input(format!("--only {message}")),
        },
        (None, Some(pair)) => {
            let Some((first, second)) = pair.split_once(',') else {
                return bad_input(format!("--pair {pair}: write FIRST,SECOND"));
            };
            match (Cell::parse(first), Cell::parse(second)) {
                (Ok(first), Ok(second)) => Some((first, Some(second))),
                (Err(message), _) | (_, Err(message)) => {
                    return bad_input(format!("--pair {message}"))
                }
            }
        }
        (None, None) => None,
    };
    let report = if let Some((cell, second)) = single {
        let (report, result) = match sweep::one(request, cell, second) {
            Ok(done) => done,
            Err(message) => return bad_input(message),
        };
        for line in &result.lines {
            println!("[tick {:>7}] {}", line.tick, line.text);
        }
        println!(
            "{}{}: {} in region {}{}{}",
            result.cell,
            result
                .second
                .map_or(String::new(), |second| format!(" then {second}")),
            result.outcome.name(),
            report.regions[result.region],
            if result.forbidden {
                " (FORBIDDEN by the promise)"
            } else {
                ""
            },
            if result.message.is_empty() {
                String::new()
            } else {
                format!(": {}", result.message)
            }
        );
        report
    } else {
        let what = if request.pairs.is_some() {
            "pairs"
        } else {
            "cells"
        };
        eprintln!(
            "sweeping {} ({}) on {} threads",
            request.engine.name(),
            what,
            request.jobs
        );
        // The total is known once the plan is made: the bar starts at the first cell.
        let terminal = std::io::stderr().is_terminal();
        let bar = std::sync::OnceLock::<ProgressBar>::new();
        let progress = |done: usize, total: usize| {
            let bar = bar.get_or_init(|| {
                progress_bar(total as u64, "runs").unwrap_or_else(ProgressBar::hidden)
            });
            bar.set_position(done as u64);
            if !terminal && (done.is_multiple_of(1000) || done == total) {
                eprintln!("{done}/{total} runs");
            }
        };
        let report = match sweep::sweep(request, &progress) {
            Ok(report) => report,
            Err(message) => return bad_input(message),
        };
        if let Some(bar) = bar.get() {
            bar.finish_and_clear();
        }
        println!("{}", report.table());
        println!("what {} promises: {}", report.engine, report.promise_text);
        for (region, fault, outcome, count, result) in report.examples() {
            let column = if report.pairs.is_some() { "then " } else { "" };
            println!(
                "  {:<18} {column}{:<10} {} in {}: {count} {what}, e.g. {}: {}",
                outcome.name(),
                fault.name(),
                if result.forbidden {
                    "FORBIDDEN"
                } else {
                    "allowed"
                },
                report.regions[region],
                sweep::SweepReport::what(result),
                result.message
            );
        }
        let forbidden: Vec<String> = report
            .forbidden()
            .map(|result| {
                not_allowed_line(
                    &sweep::SweepReport::what(result),
                    result.outcome.name(),
                    result.checker.as_deref(),
                    &result.message,
                    &report.repro_args(result),
                )
            })
            .collect();
        for line in &forbidden {
            println!("{line}");
        }
        println!(
            "{} {what} in {:.1}s, {} forbidden",
            report.results.len(),
            report.elapsed_s,
            forbidden.len()
        );
        report
    };
    if let Some(path) = json {
        if let Err(error) = corpus::store(&path, &report) {
            return bad_input(error);
        }
    }
    if let Some(path) = html {
        if let Err(error) = std::fs::write(&path, sweep::page(&report)) {
            return bad_input(format!("cannot write {}: {error}", path.display()));
        }
    }
    if report.forbidden().next().is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn report_print(report: &Report) {
    if let Some(engine) = &report.engine {
        println!("{}", simulator::engine_harness::outcome_table(engine));
        for failure in &report.failures {
            println!(
                "FAILED seed {} checker={}: {}\n  reproduce: {}",
                failure.seed, failure.checker, failure.message, failure.repro
            );
        }
        println!(
            "{} of {} seeds run in {:.1}s, {} failed",
            report.seeds_run,
            report.seeds_planned,
            report.elapsed_s,
            report.failures.len()
        );
        return;
    }
    println!("{}", report.coverage.table());
    print!("{}", report.coverage.windows(report.seeds_run));
    for failure in &report.failures {
        println!(
            "FAILED seed {} checker={}: {}\n  reproduce: {}",
            failure.seed, failure.checker, failure.message, failure.repro
        );
    }
    println!(
        "{} of {} seeds run in {:.1}s, {} failed, reachable cases missing: {:?}{}",
        report.seeds_run,
        report.seeds_planned,
        report.elapsed_s,
        report.failures.len(),
        report.missing_cases,
        if report.complete() {
            ""
        } else {
            " (a partial range: the coverage check does not apply)"
        }
    );
}

fn verdict(report: &Report) -> ExitCode {
    if report.coverage_failed() {
        println!(
            "FAILED coverage: reachable cases {:?} were never reached",
            report.missing_cases
        );
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn fuzz_command(options: &FuzzOptions, json: Option<PathBuf>, html: Option<PathBuf>) -> ExitCode {
    // Refuse an unwritable report path before the range runs, not after.
    for (flag, path) in [("--json", &json), ("--html", &html)] {
        if let Some(path) = path {
            if let Err(message) = report_directory_exists(flag, path) {
                return bad_input(message);
            }
        }
    }
    let (bar, progress) = progress_reporter(options.seeds().len() as u64);
    let report = fuzz(options, &progress);
    if let Some(bar) = bar {
        bar.finish();
    }
    report_print(&report);
    if let Some(path) = json {
        if let Err(error) = corpus::store(&path, &report) {
            return bad_input(error);
        }
    }
    if let Some(path) = html {
        let page = simulator::report_html::fuzz_page(&report);
        if let Err(error) = corpus::store_text(&path, &page) {
            return bad_input(error);
        }
    }
    verdict(&report)
}

struct SweepArgs {
    replicas: Vec<u8>,
    zone: Option<String>,
    sectors: Option<(u64, u64)>,
    faults: Vec<String>,
    only: Option<String>,
    jobs: usize,
    json: Option<PathBuf>,
}

fn sweep_command(args: SweepArgs) -> ExitCode {
    use simulator::sweep::{self, Coordinates, SweepOptions, SweepZone, FAULT_KINDS};
    if let Some(path) = &args.json {
        if let Err(message) = report_directory_exists("--json", path) {
            return bad_input(message);
        }
    }
    if let Some(only) = &args.only {
        let coordinates = match Coordinates::parse(only) {
            Ok(coordinates) => coordinates,
            Err(message) => return bad_input(message),
        };
        let result = sweep::run(coordinates);
        println!(
            "{}: {}{}{}",
            result.coordinates,
            result.verdict.name(),
            result
                .case
                .as_ref()
                .map_or(String::new(), |c| format!(" ({c})")),
            if result.detail.is_empty() {
                String::new()
            } else {
                format!(": {}", result.detail)
            }
        );
        return if result.allowed() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        };
    }
    let mut options = SweepOptions::full(args.jobs);
    if !args.replicas.is_empty() {
        if let Some(bad) = args.replicas.iter().find(|r| !(1..=6).contains(*r)) {
            return bad_input(format!("--replicas {bad}: a cluster has 1 to 6 replicas"));
        }
        options.replica_counts = args.replicas;
    }
    match args.zone.as_deref() {
        None => {}
        Some("headers") => options.zones = vec![SweepZone::Headers],
        Some("prepares") => options.zones = vec![SweepZone::Prepares],
        Some(other) => return bad_input(format!("--zone {other}: headers or prepares")),
    }
    if let Some(sectors) = args.sectors {
        options.sectors = sectors;
    }
    if !args.faults.is_empty() {
        let mut faults = Vec::new();
        for name in &args.faults {
            match FAULT_KINDS.into_iter().find(|kind| kind.name() == name) {
                Some(kind) => faults.push(kind),
                None => {
                    return bad_input(format!(
                        "--faults {name}: unknown; use any of bit_flip, latent_error, misdirected_write, torn_write, lost_write"
                    ))
                }
            }
        }
        options.faults = faults;
    }
    let total = options.scenarios().len();
    if total == 0 {
        return bad_input("the sweep selects no scenario (check --sectors)");
    }
    eprintln!("sweeping {total} scenarios on {} threads", options.jobs);
    let (bar, progress) = progress_reporter(total as u64);
    let report = sweep::sweep(&options, &|done, total| {
        progress(done as u64, total as u64, 0)
    });
    if let Some(bar) = bar {
        bar.finish();
    }
    let disallowed: Vec<String> = report
        .disallowed()
        .map(|result| {
            not_allowed_line(
                &result.coordinates.to_string(),
                result.verdict.name(),
                result.case.as_deref(),
                &result.detail,
                &format!("sweep --only {}", result.coordinates),
            )
        })
        .collect();
    let summary = format!(
        "{} scenarios in {:.1}s",
        report.results.len(),
        report.elapsed_s
    );
    sweep_finish(&report.table(), &disallowed, &summary, args.json, &report)
}

fn sweep_pairs_command(
    seeds: (u64, u64),
    replicas: Vec<u8>,
    jobs: usize,
    json: Option<PathBuf>,
) -> ExitCode {
    if let Some(path) = &json {
        if let Err(message) = report_directory_exists("--json", path) {
            return bad_input(message);
        }
    }
    if let Some(bad) = replicas.iter().find(|r| !(1..=6).contains(*r)) {
        return bad_input(format!("--replicas {bad}: a cluster has 1 to 6 replicas"));
    }
    let replicas = if replicas.is_empty() {
        simulator::sweep::REPLICA_COUNTS.to_vec()
    } else {
        replicas
    };
    let replicas_flag = if replicas == simulator::sweep::REPLICA_COUNTS {
        String::new()
    } else {
        let list: Vec<String> = replicas.iter().map(u8::to_string).collect();
        format!(" --replicas {}", list.join(","))
    };
    let total = seeds.1 - seeds.0;
    eprintln!("sweeping {total} pairs on {jobs} threads");
    let (bar, progress) = progress_reporter(total);
    let report = simulator::sweep::sweep_pairs(seeds, &replicas, jobs, &|done, total| {
        progress(done as u64, total as u64, 0)
    });
    if let Some(bar) = bar {
        bar.finish();
    }
    let disallowed: Vec<String> = report
        .disallowed()
        .map(|result| {
            not_allowed_line(
                &result.pair.to_string(),
                result.verdict.name(),
                result.case.as_deref(),
                &result.detail,
                &format!(
                    "sweep --pairs --seeds {}..{}{replicas_flag}",
                    result.pair.seed,
                    result.pair.seed + 1
                ),
            )
        })
        .collect();
    let summary = format!("{} pairs in {:.1}s", report.results.len(), report.elapsed_s);
    sweep_finish(&report.table(), &disallowed, &summary, json, &report)
}

/// One outcome the design does not allow, with the command that reproduces it.
fn not_allowed_line(
    what: &str,
    verdict: &str,
    case: Option<&str>,
    detail: &str,
    repro_args: &str,
) -> String {
    format!(
        "NOT ALLOWED {what}: {verdict}{}: {detail}\n  repro: {}",
        case.map_or(String::new(), |c| format!(" ({c})")),
        simulator::vopr_command(repro_args)
    )
}

/// Prints a sweep's table, what was not allowed and a summary; writes the report; exits 1 if
/// anything was not allowed.
fn sweep_finish<T: serde::Serialize>(
    table: &str,
    disallowed: &[String],
    summary: &str,
    json: Option<PathBuf>,
    report: &T,
) -> ExitCode {
    println!("{table}");
    for line in disallowed {
        println!("{line}");
    }
    println!("{summary}, {} not allowed", disallowed.len());
    if let Some(path) = json {
        if let Err(error) = corpus::store(&path, report) {
            return bad_input(error);
        }
    }
    if disallowed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// A report path whose directory exists, checked before a long run, not after.
fn report_directory_exists(flag: &str, path: &std::path::Path) -> Result<(), String> {
    let directory = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    if directory.is_dir() {
        Ok(())
    } else {
        Err(format!(
            "{flag} {}: directory {} does not exist",
            path.display(),
            directory.display()
        ))
    }
}

fn merge_command(paths: &[PathBuf], json: Option<PathBuf>) -> ExitCode {
    let mut reports = Vec::with_capacity(paths.len());
    for path in paths {
        match corpus::load::<Report>(path) {
            Ok(Some(report)) => reports.push(report),
            Ok(None) => return bad_input(format!("{}: no such file", path.display())),
            Err(corpus::CorpusError::Corrupt { path, source }) => {
                return bad_input(format!(
                    "{} is not a valid fuzz report (the JSON of `vopr fuzz --json`): {source}",
                    path.display()
                ))
            }
            Err(error) => return bad_input(error),
        }
    }
    let merged = match merge(&reports) {
        Ok(merged) => merged,
        Err(error) => return bad_input(format!("cannot merge: {error}")),
    };
    report_print(&merged);
    if !merged.complete() {
        let missing: Vec<u64> = (0..merged.shard_count)
            .filter(|shard| !merged.shards.contains(shard))
            .collect();
        eprintln!(
            "vopr: warning: shards {missing:?} of {} are missing or ran out of time",
            merged.shard_count
        );
    }
    if let Some(path) = json {
        if let Err(error) = corpus::store(&path, &merged) {
            return bad_input(error);
        }
    }
    verdict(&merged)
}

fn corpus_command(command: CorpusCommand) -> ExitCode {
    match command {
        CorpusCommand::Add {
            seed,
            overrides,
            passing,
            note,
            file,
        } => {
            let overrides = match overrides.overrides() {
                Ok(overrides) => overrides,
                Err(message) => return bad_input(message),
            };
            match corpus::add(&file, seed, &overrides, passing, &note) {
                Ok((added, entry)) => {
                    println!(
                        "{:?} seed {seed}{} ({}) in {}",
                        added,
                        overrides.flags(),
                        entry.checker,
                        file.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(message) => bad_input(message),
            }
        }
        CorpusCommand::Distill { seeds, jobs, file } => {
            let options = FuzzOptions {
                seed_first: seeds.0,
                seed_end: seeds.1,
                jobs: jobs_or_cores(jobs),
                shard: (0, 1),
                time_budget: None,
                overrides: Overrides::default(),
            };
            let (bar, progress) = progress_reporter(options.seeds().len() as u64);
            let set = corpus::distill(&options, &progress);
            if let Some(bar) = bar {
                bar.finish();
            }
            match set {
                Ok(set) => {
                    if let Err(error) = corpus::store(&file, &set) {
                        return bad_input(error);
                    }
                    println!(
                        "{} seeds reach every reachable case: {:?} -> {}",
                        set.seeds.len(),
                        set.seeds,
                        file.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(message) => {
                    println!("FAILED: {message}");
                    ExitCode::from(1)
                }
            }
        }
        CorpusCommand::Check {
            regressions,
            coverage,
        } => corpus_check(&regressions, &coverage),
    }
}

fn corpus_check(regressions: &std::path::Path, coverage: &std::path::Path) -> ExitCode {
    let regressions: corpus::Regressions = match corpus::load(regressions) {
        Ok(found) => found.unwrap_or_default(),
        Err(error) => return bad_input(error),
    };
    let coverage_set: CoverageSet = match corpus::load(coverage) {
        Ok(Some(set)) => set,
        Ok(None) => return bad_input(format!("{}: no such file", coverage.display())),
        Err(error) => return bad_input(error),
    };
    let mut failed = false;
    for entry in &regressions.regressions {
        let outcome = simulator::run_with(entry.seed, &entry.overrides, false);
        if let Some(failure) = outcome.failure {
            failed = true;
            println!(
                "FAILED regression seed {}{}: {} {}",
                entry.seed,
                entry.overrides.flags(),
                failure.checker,
                failure.message
            );
        }
    }
    let (union, failures) = corpus::run_coverage_set(&coverage_set);
    for (seed, message) in &failures {
        failed = true;
        println!("FAILED coverage seed {seed}: {message}");
    }
    let missing = union.missing();
    if !missing.is_empty() {
        failed = true;
        println!("FAILED coverage set no longer reaches {missing:?}: regenerate it with `vopr corpus distill`");
    }
    println!(
        "{} regressions and {} coverage seeds run",
        regressions.regressions.len(),
        coverage_set.seeds.len()
    );
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// `vopr scenario`: list, run one, or run all; exit 1 if any fails.
fn scenario(name: Option<&str>, list: bool, all: bool) -> ExitCode {
    let scenarios = simulator::scenario::all();
    if list {
        for s in &scenarios {
            println!(
                "{:<44} {} {:<8} {:?}  {}",
                s.name,
                s.label,
                s.decision.name(),
                s.outcome,
                s.about
            );
        }
        return ExitCode::SUCCESS;
    }
    let chosen: Vec<&simulator::scenario::Scenario> = match (name, all) {
        (Some(name), false) => match scenarios.iter().find(|s| s.name == name) {
            Some(s) => vec![s],
            None => {
                return bad_input(format!(
                    "scenario {name}: unknown; `vopr scenario --list` names them"
                ))
            }
        },
        (None, true) => scenarios.iter().collect(),
        _ => return bad_input("vopr scenario: give one NAME, --all or --list"),
    };
    let mut failed = 0;
    for s in chosen {
        match simulator::scenario::run(s) {
            Ok(seen) => println!("ok     {:<44} {seen}", s.name),
            Err(error) => {
                failed += 1;
                println!("FAILED {:<44} {error}", s.name);
            }
        }
    }
    if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
