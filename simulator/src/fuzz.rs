//! Runs a range of seeds across threads and gathers failures and coverage into a report.
//!
//! Parallelism is across seeds only: each seed runs start to end on one thread, so its outcome
//! does not depend on the others. The wall clock is read here, outside every run, only for the
//! time budget and the report's `elapsed_s`.

use crate::coverage::Coverage;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One failing seed, with the command that reproduces it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct FailureReport {
    pub seed: u64,
    pub checker: String,
    pub message: String,
    pub repro: String,
    pub trace_hash: String,
}

/// What a fuzz run writes with `--json`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Report {
    pub seeds_run: u64,
    pub failures: Vec<FailureReport>,
    pub coverage: Coverage,
    pub elapsed_s: f64,
    /// Reachable recovery cases never reached.
    pub missing_cases: Vec<String>,
}

/// What to run.
#[derive(Clone, Debug)]
pub struct FuzzOptions {
    pub seed_first: u64,
    /// Exclusive.
    pub seed_end: u64,
    pub jobs: usize,
    /// `(index, count)`: run only seeds with `seed % count == index`.
    pub shard: (u64, u64),
    pub time_budget: Option<Duration>,
}

pub fn repro_command(seed: u64) -> String {
    format!("cargo run --release -p simulator --bin vopr -- run {seed}")
}

/// Runs the seeds; `progress(done, total, failures)` is called after each seed.
pub fn fuzz(options: &FuzzOptions, progress: &(dyn Fn(u64, u64, usize) + Sync)) -> Report {
    assert!(options.shard.1 > 0 && options.shard.0 < options.shard.1);
    assert!(options.seed_first <= options.seed_end);
    let started = Instant::now();
    let seeds: Vec<u64> = (options.seed_first..options.seed_end)
        .filter(|seed| seed % options.shard.1 == options.shard.0)
        .collect();
    let total = seeds.len() as u64;
    let next = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let report = Mutex::new(Report::default());
    let outcomes = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.max(1) {
            scope.spawn(|| loop {
                if options
                    .time_budget
                    .is_some_and(|budget| started.elapsed() >= budget)
                {
                    return;
                }
                let position = next.fetch_add(1, Ordering::Relaxed);
                let Some(&seed) = seeds.get(position as usize) else {
                    return;
                };
                let outcome = crate::run_seed(seed, false);
                let failures = {
                    let mut outcomes = outcomes.lock().expect("no poisoned lock");
                    outcomes.push(outcome);
                    outcomes.iter().filter(|o| o.failure.is_some()).count()
                };
                let done = done.fetch_add(1, Ordering::Relaxed) + 1;
                progress(done, total, failures);
            });
        }
    });
    let mut outcomes = outcomes.into_inner().expect("no poisoned lock");
    // Report in seed order, whatever order the threads finished in.
    outcomes.sort_by_key(|o| o.seed);
    let mut report = report.into_inner().expect("no poisoned lock");
    for outcome in &outcomes {
        report.seeds_run += 1;
        report.coverage.merge(&outcome.coverage);
        if let Some(failure) = &outcome.failure {
            report.failures.push(FailureReport {
                seed: outcome.seed,
                checker: failure.checker.to_string(),
                message: failure.message.clone(),
                repro: repro_command(outcome.seed),
                trace_hash: format!("{:016x}", outcome.trace_hash),
            });
        }
    }
    report.missing_cases = report
        .coverage
        .missing()
        .into_iter()
        .map(String::from)
        .collect();
    report.elapsed_s = started.elapsed().as_secs_f64();
    report
}
