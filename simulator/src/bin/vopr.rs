//! `vopr`: run one seed, fuzz a range, replay a seed's trace, or dump the decision table.
//!
//! Exit codes: 0 all passed, 1 a checker or an assertion failed, 2 bad input.

use clap::{Parser, Subcommand};
use simulator::fuzz::{fuzz, repro_command, FuzzOptions};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "vopr",
    about = "Deterministic simulation of a WAL journal on a faulty disk",
    version
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one seed; exit 1 with the failing checker if it fails.
    Run {
        /// The seed (a u64).
        seed: u64,
    },
    /// Run a range of seeds on all cores; print the coverage table; exit 1 on any failure.
    Fuzz {
        /// Seeds to run, `A..B` (B exclusive).
        #[arg(long, value_parser = parse_range)]
        seeds: (u64, u64),
        /// Threads (default: all cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Run only every N-th seed: `I/N` runs seeds with `seed % N == I`.
        #[arg(long, value_parser = parse_shard, default_value = "0/1")]
        shard: (u64, u64),
        /// Stop starting new seeds after this long: `90s`, `10m`, `1h`.
        #[arg(long, value_parser = parse_duration)]
        time_budget: Option<Duration>,
        /// Write a JSON report here.
        #[arg(long)]
        json: Option<std::path::PathBuf>,
    },
    /// Print one seed's readable trace: per tick, per replica, what happened.
    Replay { seed: u64 },
    /// Print the recovery decision for all 2^11 table inputs.
    Table {
        /// As JSON (the only format).
        #[arg(long)]
        json: bool,
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
        Err(error) => {
            let code = if error.use_stderr() { 2 } else { 0 };
            let _ = error.print();
            return ExitCode::from(code);
        }
    };
    // Failures are reported by the runner; keep panic noise out of the output.
    std::panic::set_hook(Box::new(|_| {}));
    match cli.command {
        Command::Run { seed } => run(seed),
        Command::Replay { seed } => replay(seed),
        Command::Table { .. } => {
            println!("{}", journal::decision_table::table_json());
            ExitCode::SUCCESS
        }
        Command::Fuzz {
            seeds,
            jobs,
            shard,
            time_budget,
            json,
        } => {
            let jobs =
                jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let options = FuzzOptions {
                seed_first: seeds.0,
                seed_end: seeds.1,
                jobs,
                shard,
                time_budget,
            };
            fuzz_command(&options, json)
        }
    }
}

fn run(seed: u64) -> ExitCode {
    let outcome = simulator::run_seed(seed, false);
    let config = &outcome.config;
    println!(
        "seed {seed}: replicas={} slots={} ops={} ticks={} trace_hash={:016x}",
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
            println!("reproduce: {}", repro_command(seed));
            ExitCode::from(1)
        }
    }
}

fn replay(seed: u64) -> ExitCode {
    let outcome = simulator::run_seed(seed, true);
    println!(
        "config: {}",
        serde_json::to_string(&outcome.config).unwrap_or_default()
    );
    for line in outcome.trace_lines.unwrap_or_default() {
        println!("{line}");
    }
    println!("trace_hash={:016x}", outcome.trace_hash);
    match outcome.failure {
        None => ExitCode::SUCCESS,
        Some(failure) => {
            println!(
                "FAILED checker={} tick={}: {}",
                failure.checker, failure.tick, failure.message
            );
            ExitCode::from(1)
        }
    }
}

fn fuzz_command(options: &FuzzOptions, json: Option<std::path::PathBuf>) -> ExitCode {
    let terminal = std::io::stderr().is_terminal();
    let progress = move |done: u64, total: u64, failures: usize| {
        if terminal {
            eprint!("\r{done}/{total} seeds, {failures} failed");
        } else if done.is_multiple_of(500) || done == total {
            eprintln!("{done}/{total} seeds, {failures} failed");
        }
    };
    let report = fuzz(options, &progress);
    if terminal {
        eprintln!();
    }
    println!("{}", report.coverage.table());
    for failure in &report.failures {
        println!(
            "FAILED seed {} checker={}: {}\n  reproduce: {}",
            failure.seed, failure.checker, failure.message, failure.repro
        );
    }
    println!(
        "{} seeds run in {:.1}s, {} failed, trace-reachable cases missing: {:?}",
        report.seeds_run,
        report.elapsed_s,
        report.failures.len(),
        report.missing_cases
    );
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&report).expect("report serializes");
        let temporary = path.with_extension("json.tmp");
        if let Err(error) =
            std::fs::write(&temporary, text).and_then(|()| std::fs::rename(&temporary, &path))
        {
            eprintln!("vopr: cannot write {}: {error}", path.display());
            return ExitCode::from(2);
        }
    }
    // Coverage is only meaningful over a real range; a time-boxed or sharded slice reports it.
    let coverage_failed = !report.missing_cases.is_empty()
        && options.time_budget.is_none()
        && options.shard.1 == 1
        && report.seeds_run >= 1000;
    if !report.failures.is_empty() || coverage_failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
