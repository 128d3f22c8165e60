//! The canary suite: proof that the harness finds bugs (DESIGN.md §6).
//!
//! For each planted bug of [`journal::canary::Canary`] in turn, the suite activates it and runs
//! seeds in order until a checker fires, recording the first (lowest) failing seed, how many seeds
//! that took, the wall time, and which checker fired. Seeds run across threads in batches of
//! `jobs * 8`; the suite stops after the first batch with a failure and reports the lowest failing
//! seed of that batch, so the result does not depend on thread timing. Only the wall time does.
//!
//! Built only with the `canary` feature (the journal's switch points exist only there). The
//! switch is process-global: nothing else may run seeds in the process meanwhile.

use journal::canary::{self, Canary};
use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// Seeds per thread in one batch.
const BATCH_SEEDS_PER_JOB: u64 = 8;

/// What fuzzing found for one canary (or, with `canary: None`, for the unmodified journal).
#[derive(Clone, Debug, PartialEq)]
pub struct CanaryResult {
    pub canary: Option<Canary>,
    /// The lowest failing seed, if any seed of the range failed.
    pub seed_first_failing: Option<u64>,
    /// Seeds from the start of the range up to and including the first failing one (all of the
    /// range if none failed).
    pub seeds_run: u64,
    /// Wall time until the batch holding the first failure finished (or the range ended).
    pub elapsed_s: f64,
    /// The checker that fired (`assertion` for a panic inside the run).
    pub checker: Option<String>,
    pub message: Option<String>,
    /// With `share`: how many seeds of the whole range failed (the canary's power, not luck).
    pub seeds_failing: Option<u64>,
}

impl CanaryResult {
    pub fn caught(&self) -> bool {
        self.seed_first_failing.is_some()
    }

    fn name(&self) -> &'static str {
        self.canary.map_or("(none)", Canary::name)
    }
}

/// Runs seeds `seed_first..seed_end` with `canary` active (or none), stopping after the first
/// batch that has a failure, or (with `share`) running the whole range and counting failures.
pub fn run_canary(
    canary: Option<Canary>,
    seed_first: u64,
    seed_end: u64,
    jobs: usize,
    share: bool,
) -> CanaryResult {
    assert!(seed_first <= seed_end);
    let jobs = jobs.max(1);
    let started = Instant::now();
    canary::set_active(canary);
    let batch_size = jobs as u64 * BATCH_SEEDS_PER_JOB;
    let mut result = CanaryResult {
        canary,
        seed_first_failing: None,
        seeds_run: seed_end - seed_first,
        elapsed_s: 0.0,
        checker: None,
        message: None,
        seeds_failing: share.then_some(0),
    };
    let mut batch_first = seed_first;
    while batch_first < seed_end {
        let batch_end = (batch_first + batch_size).min(seed_end);
        let next = AtomicUsize::new(0);
        let failures = Mutex::new(Vec::new());
        let seeds: Vec<u64> = (batch_first..batch_end).collect();
        std::thread::scope(|scope| {
            for _ in 0..jobs {
                scope.spawn(|| loop {
                    let Some(&seed) = seeds.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        return;
                    };
                    let outcome = crate::run_seed(seed, false);
                    if let Some(failure) = outcome.failure {
                        failures
                            .lock()
                            .expect("no poisoned lock")
                            .push((seed, failure));
                    }
                });
            }
        });
        let failures = failures.into_inner().expect("no poisoned lock");
        if let Some(count) = result.seeds_failing.as_mut() {
            *count += failures.len() as u64;
        }
        if let Some((seed, failure)) = failures.into_iter().min_by_key(|(seed, _)| *seed) {
            if result.seed_first_failing.is_none() {
                result.seed_first_failing = Some(seed);
                if !share {
                    result.seeds_run = seed - seed_first + 1;
                }
                result.checker = Some(failure.checker.to_string());
                result.message = Some(failure.message);
            }
            if !share {
                break;
            }
        }
        batch_first = batch_end;
    }
    canary::set_active(None);
    result.elapsed_s = started.elapsed().as_secs_f64();
    result
}

/// Runs every canary over `seed_first..seed_end`; `progress` sees each result as it comes.
/// Panic messages of the runs are silenced meanwhile (each is kept in its result).
pub fn run_canaries(
    seed_first: u64,
    seed_end: u64,
    jobs: usize,
    share: bool,
    progress: &dyn Fn(&CanaryResult),
) -> Vec<CanaryResult> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let results = Canary::ALL
        .into_iter()
        .map(|canary| {
            let result = run_canary(Some(canary), seed_first, seed_end, jobs, share);
            progress(&result);
            result
        })
        .collect();
    std::panic::set_hook(hook);
    results
}

/// The results as a Markdown table.
pub fn markdown_table(results: &[CanaryResult]) -> String {
    let mut table = String::from(
        "| canary | bug | caught | first seed | failing share | seconds | checker | message |\n\
         |---|---|---|---:|---:|---:|---|---|\n",
    );
    for result in results {
        let message: String = result
            .message
            .as_deref()
            .unwrap_or("")
            .replace('|', "/")
            .replace('\n', " ")
            .chars()
            .take(120)
            .collect();
        writeln!(
            table,
            "| `{}` | {} | {} | {} | {} | {:.1} | {} | {} |",
            result.name(),
            result.canary.map_or("", Canary::description),
            if result.caught() { "yes" } else { "**no**" },
            result
                .seed_first_failing
                .map_or_else(|| "-".to_string(), |seed| seed.to_string()),
            result.seeds_failing.map_or_else(
                || "-".to_string(),
                |failing| format!(
                    "{:.1}% ({failing}/{})",
                    100.0 * failing as f64 / result.seeds_run.max(1) as f64,
                    result.seeds_run
                )
            ),
            result.elapsed_s,
            result.checker.as_deref().unwrap_or("-"),
            message,
        )
        .expect("writing to a String");
    }
    table
}

/// `vopr canaries`: runs every canary over `seeds` (`first..end`), prints the table, and exits 1
/// if any canary survived the range.
pub fn canaries_main(seeds: (u64, u64), jobs: usize, share: bool) -> ExitCode {
    let (seed_first, seed_end) = seeds;
    if seed_first >= seed_end {
        eprintln!("empty seed range {seed_first}..{seed_end}");
        return ExitCode::from(2);
    }
    let results = run_canaries(seed_first, seed_end, jobs, share, &|result| {
        eprintln!(
            "{}: {}",
            result.name(),
            match (&result.seed_first_failing, &result.checker) {
                (Some(seed), Some(checker)) => format!(
                    "caught by {checker} at seed {seed} ({} seeds, {:.1} s)",
                    result.seeds_run, result.elapsed_s
                ),
                _ => format!("NOT caught in {} seeds", result.seeds_run),
            }
        );
    });
    print!("{}", markdown_table(&results));
    let survivors: Vec<&str> = results
        .iter()
        .filter(|r| !r.caught())
        .map(|r| r.name())
        .collect();
    if survivors.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "{} canaries survived seeds {seed_first}..{seed_end}: {}",
            survivors.len(),
            survivors.join(", ")
        );
        ExitCode::FAILURE
    }
}
