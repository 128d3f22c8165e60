//! Runs a range of seeds across threads and gathers failures and coverage into a report; merges
//! the reports of shards run elsewhere (CI matrix jobs, Kubernetes indexed jobs) into one.
//!
//! Parallelism is across seeds only: each seed runs start to end on one thread, so its outcome
//! does not depend on the others. The wall clock is read here, outside every run, only for the
//! time budget and the report's `elapsed_s`.

use crate::coverage::Coverage;
use crate::swarm::Overrides;
use crate::Outcome;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A fuzz run over fewer seeds than this does not fail for a reachable case it missed: a short
/// range is not expected to reach them all.
pub const COVERAGE_SEEDS_MIN: u64 = 1000;

/// One failing seed, with the command that reproduces it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct FailureReport {
    pub seed: u64,
    pub checker: String,
    pub message: String,
    pub repro: String,
    pub trace_hash: String,
}

/// What a fuzz run writes with `--json`, and what `vopr merge` reads and writes.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub seeds_run: u64,
    pub failures: Vec<FailureReport>,
    pub coverage: Coverage,
    pub elapsed_s: f64,
    /// Reachable recovery cases never reached.
    pub missing_cases: Vec<String>,
    /// The range asked for: `seed_first..seed_end`.
    #[serde(default)]
    pub seed_first: u64,
    #[serde(default)]
    pub seed_end: u64,
    /// The shards this report covers, as indices `I` of `I/shard_count`.
    #[serde(default)]
    pub shards: Vec<u64>,
    #[serde(default)]
    pub shard_count: u64,
    /// Seeds of the range and shards that should have run; more than `seeds_run` when the time
    /// budget ran out.
    #[serde(default)]
    pub seeds_planned: u64,
    /// Ops prepared and ticks simulated, summed over the seeds run (for ops/s in benchmarks).
    #[serde(default)]
    pub ops: u64,
    #[serde(default)]
    pub ticks: u64,
    /// What every seed's drawn configuration was changed by (`--slots`, `--replicas`, ...).
    #[serde(default, skip_serializing_if = "Overrides::is_empty")]
    pub overrides: Overrides,
    /// Absent for the model cluster; for `vopr engine NAME fuzz`, which engine ran and what
    /// each seed's worst outcome was (the recovery-case coverage does not apply to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<EngineSection>,
}

/// The engine part of a fuzz report: which engine, setting and fault mix, and per outcome name
/// (CORDS's), the number of seeds whose worst outcome it was, and the first few of them.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct EngineSection {
    pub name: String,
    pub setting: String,
    pub faults: String,
    pub outcomes: std::collections::BTreeMap<String, u64>,
    pub outcome_seeds: std::collections::BTreeMap<String, Vec<u64>>,
    /// Commits the engines acknowledged and crashes they met, summed over the seeds.
    pub commits_acked: u64,
    pub crashes: u64,
}

/// Seeds listed per outcome in [`EngineSection::outcome_seeds`], at most.
pub const OUTCOME_SEEDS_MAX: usize = 5;

impl EngineSection {
    /// Counts one seed whose worst outcome was `outcome`.
    pub fn count(&mut self, outcome: &str, seed: u64) {
        *self.outcomes.entry(outcome.to_string()).or_insert(0) += 1;
        let seeds = self.outcome_seeds.entry(outcome.to_string()).or_default();
        if seeds.len() < OUTCOME_SEEDS_MAX {
            seeds.push(seed);
        }
    }

    fn merge(&mut self, other: &EngineSection) {
        for (outcome, count) in &other.outcomes {
            *self.outcomes.entry(outcome.clone()).or_insert(0) += count;
        }
        for (outcome, seeds) in &other.outcome_seeds {
            let merged = self.outcome_seeds.entry(outcome.clone()).or_default();
            merged.extend(seeds);
            merged.sort_unstable();
            merged.truncate(OUTCOME_SEEDS_MAX);
        }
        self.commits_acked += other.commits_acked;
        self.crashes += other.crashes;
    }

    /// The engine, setting and fault mix, as `vopr engine` flags name them.
    pub fn label(&self) -> String {
        format!(
            "{} --setting {} --faults {}",
            self.name, self.setting, self.faults
        )
    }
}

impl Report {
    /// Whether every seed of the whole range ran: all shards present, no time budget cut.
    pub fn complete(&self) -> bool {
        self.shards.len() as u64 == self.shard_count
            && self.seeds_run == self.seeds_planned
            && self.seeds_planned == self.seed_end - self.seed_first
    }

    /// Whether the reachable-case check applies (a complete run of drawn configurations), and
    /// failed.
    pub fn coverage_failed(&self) -> bool {
        self.engine.is_none()
            && self.complete()
            && self.overrides.is_empty()
            && self.seeds_run >= COVERAGE_SEEDS_MIN
            && !self.missing_cases.is_empty()
    }

    /// The verdict: failures, or a complete range that missed a reachable case.
    pub fn passed(&self) -> bool {
        self.failures.is_empty() && !self.coverage_failed()
    }

    pub(crate) fn missing_cases_update(&mut self) {
        if self.engine.is_some() {
            // The recovery cases are the journal's in the model cluster: not an engine's.
            self.missing_cases.clear();
            return;
        }
        self.missing_cases = self
            .coverage
            .missing()
            .into_iter()
            .map(String::from)
            .collect();
    }
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
    /// Applied to every seed's drawn configuration (validated).
    pub overrides: Overrides,
}

impl FuzzOptions {
    /// The seeds this shard runs, in order.
    pub fn seeds(&self) -> Vec<u64> {
        shard_seeds(self.seed_first, self.seed_end, self.shard)
    }
}

/// The seeds of `seed_first..seed_end` that shard `(index, count)` runs, in order: every seed
/// with `seed % count == index` (for every workload).
pub fn shard_seeds(seed_first: u64, seed_end: u64, shard: (u64, u64)) -> Vec<u64> {
    assert!(shard.1 > 0 && shard.0 < shard.1);
    assert!(seed_first <= seed_end);
    (seed_first..seed_end)
        .filter(|seed| seed % shard.1 == shard.0)
        .collect()
}

pub fn repro_command(seed: u64, overrides: &Overrides) -> String {
    crate::vopr_command(&format!("run {seed}{}", overrides.flags()))
}

/// Runs `seeds` on `jobs` threads until done or out of budget; returns the outcomes in seed
/// order. `progress(done, total, failures)` is called after each seed.
pub fn run_seeds(
    seeds: &[u64],
    overrides: &Overrides,
    jobs: usize,
    time_budget: Option<Duration>,
    progress: &(dyn Fn(u64, u64, usize) + Sync),
) -> Vec<Outcome> {
    run_parallel(
        seeds,
        jobs,
        time_budget,
        &|seed| crate::run_with(seed, overrides, false),
        &|outcome: &Outcome| (outcome.seed, outcome.failure.is_some()),
        progress,
    )
}

/// The one seed loop of every workload (the model cluster, an engine): `run(seed)` on `jobs`
/// threads, each seed start to end on one thread, until done or out of budget; the outcomes in
/// seed order. `verdict(outcome)` says which seed it was and whether it failed.
/// `progress(done, total, failures)` is called after each seed.
pub fn run_parallel<O: Send>(
    seeds: &[u64],
    jobs: usize,
    time_budget: Option<Duration>,
    run: &(dyn Fn(u64) -> O + Sync),
    verdict: &(dyn Fn(&O) -> (u64, bool) + Sync),
    progress: &(dyn Fn(u64, u64, usize) + Sync),
) -> Vec<O> {
    let started = Instant::now();
    let total = seeds.len() as u64;
    let next = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let outcomes = Mutex::new(Vec::with_capacity(seeds.len()));
    let failures = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| loop {
                if time_budget.is_some_and(|budget| started.elapsed() >= budget) {
                    return;
                }
                let position = next.fetch_add(1, Ordering::Relaxed);
                let Some(&seed) = seeds.get(position as usize) else {
                    return;
                };
                let outcome = run(seed);
                let (outcome_seed, failed) = verdict(&outcome);
                assert_eq!(outcome_seed, seed);
                if failed {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                outcomes.lock().expect("no poisoned lock").push(outcome);
                let done = done.fetch_add(1, Ordering::Relaxed) + 1;
                progress(done, total, failures.load(Ordering::Relaxed) as usize);
            });
        }
    });
    let mut outcomes = outcomes.into_inner().expect("no poisoned lock");
    // Seed order, whatever order the threads finished in.
    outcomes.sort_by_key(|outcome| verdict(outcome).0);
    outcomes
}

/// Runs `seeds` on `jobs` threads until one fails; returns a failing outcome, if any seed fails
/// (not necessarily the lowest: which one the threads meet first depends on timing, whether one
/// is found does not). For tests that only need a verdict, such as a mutation run.
pub fn run_until_failure(seeds: &[u64], overrides: &Overrides, jobs: usize) -> Option<Outcome> {
    let next = AtomicU64::new(0);
    let failure = Mutex::new(None);
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let position = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&seed) = seeds.get(position as usize) else {
                        return;
                    };
                    let outcome = crate::run_with(seed, overrides, false);
                    if outcome.failure.is_some() {
                        stop.store(true, Ordering::Relaxed);
                        *failure.lock().expect("no poisoned lock") = Some(outcome);
                    }
                }
            });
        }
    });
    failure.into_inner().expect("no poisoned lock")
}

/// Runs the seeds of `options` and reports on them.
pub fn fuzz(options: &FuzzOptions, progress: &(dyn Fn(u64, u64, usize) + Sync)) -> Report {
    let started = Instant::now();
    let seeds = options.seeds();
    let outcomes = run_seeds(
        &seeds,
        &options.overrides,
        options.jobs,
        options.time_budget,
        progress,
    );
    let mut report = Report {
        seed_first: options.seed_first,
        seed_end: options.seed_end,
        shards: vec![options.shard.0],
        shard_count: options.shard.1,
        seeds_planned: seeds.len() as u64,
        overrides: options.overrides.clone(),
        ..Report::default()
    };
    for outcome in &outcomes {
        report.seeds_run += 1;
        report.ops += outcome.ops;
        report.ticks += outcome.ticks;
        report.coverage.merge(&outcome.coverage);
        if let Some(failure) = &outcome.failure {
            report.failures.push(FailureReport {
                seed: outcome.seed,
                checker: failure.checker.to_string(),
                message: failure.message.clone(),
                repro: repro_command(outcome.seed, &options.overrides),
                trace_hash: format!("{:016x}", outcome.trace_hash),
            });
        }
    }
    report.missing_cases_update();
    report.elapsed_s = started.elapsed().as_secs_f64();
    report
}

/// Why shard reports cannot be merged.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MergeError {
    #[error("nothing to merge")]
    Empty,
    #[error("report {index} covers seeds {found:?}, the first covers {expected:?}")]
    RangeMismatch {
        index: usize,
        expected: (u64, u64),
        found: (u64, u64),
    },
    #[error("report {index} is sharded /{found}, the first /{expected}")]
    ShardCountMismatch {
        index: usize,
        expected: u64,
        found: u64,
    },
    #[error("report {index} ran with overrides `{found}`, the first with `{expected}`")]
    OverridesMismatch {
        index: usize,
        expected: String,
        found: String,
    },
    #[error("report {index} ran `{found}`, the first `{expected}`")]
    WorkloadMismatch {
        index: usize,
        expected: String,
        found: String,
    },
    #[error("shard {shard}/{count} appears in more than one report")]
    ShardDuplicate { shard: u64, count: u64 },
    #[error("report {index} names shard {shard} of {count}")]
    ShardInvalid {
        index: usize,
        shard: u64,
        count: u64,
    },
}

/// Combines shard reports of one range into one report: failures in seed order, coverage over
/// the union, and the reachable-case check applied to the union. `elapsed_s` is the slowest
/// shard's (the shards ran side by side).
pub fn merge(reports: &[Report]) -> Result<Report, MergeError> {
    let first = reports.first().ok_or(MergeError::Empty)?;
    let mut merged = Report {
        seed_first: first.seed_first,
        seed_end: first.seed_end,
        shard_count: first.shard_count,
        overrides: first.overrides.clone(),
        engine: first.engine.as_ref().map(|engine| EngineSection {
            name: engine.name.clone(),
            setting: engine.setting.clone(),
            faults: engine.faults.clone(),
            ..EngineSection::default()
        }),
        ..Report::default()
    };
    let workload = |report: &Report| {
        report
            .engine
            .as_ref()
            .map_or("the model cluster".to_string(), |engine| {
                format!("engine {}", engine.label())
            })
    };
    for (index, report) in reports.iter().enumerate() {
        if workload(report) != workload(first) {
            return Err(MergeError::WorkloadMismatch {
                index,
                expected: workload(first),
                found: workload(report),
            });
        }
        if let (Some(merged), Some(engine)) = (merged.engine.as_mut(), report.engine.as_ref()) {
            merged.merge(engine);
        }
        if (report.seed_first, report.seed_end) != (merged.seed_first, merged.seed_end) {
            return Err(MergeError::RangeMismatch {
                index,
                expected: (merged.seed_first, merged.seed_end),
                found: (report.seed_first, report.seed_end),
            });
        }
        if report.overrides != merged.overrides {
            return Err(MergeError::OverridesMismatch {
                index,
                expected: merged.overrides.flags().trim().to_string(),
                found: report.overrides.flags().trim().to_string(),
            });
        }
        if report.shard_count != merged.shard_count {
            return Err(MergeError::ShardCountMismatch {
                index,
                expected: merged.shard_count,
                found: report.shard_count,
            });
        }
        for &shard in &report.shards {
            if shard >= report.shard_count {
                return Err(MergeError::ShardInvalid {
                    index,
                    shard,
                    count: report.shard_count,
                });
            }
            if merged.shards.contains(&shard) {
                return Err(MergeError::ShardDuplicate {
                    shard,
                    count: report.shard_count,
                });
            }
            merged.shards.push(shard);
        }
        merged.seeds_run += report.seeds_run;
        merged.seeds_planned += report.seeds_planned;
        merged.ops += report.ops;
        merged.ticks += report.ticks;
        merged.failures.extend(report.failures.iter().cloned());
        merged.coverage.merge(&report.coverage);
        merged.elapsed_s = merged.elapsed_s.max(report.elapsed_s);
    }
    merged.shards.sort_unstable();
    merged.failures.sort_by_key(|f| f.seed);
    merged.missing_cases_update();
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use journal::Decision;

    fn shard(index: u64, count: u64, seeds_run: u64, failing_seed: Option<u64>) -> Report {
        let mut coverage = Coverage::default();
        coverage.add("@P", Decision::Eql, 10 + index);
        let mut report = Report {
            seeds_run,
            seeds_planned: seeds_run,
            seed_first: 0,
            seed_end: 10 * count,
            shards: vec![index],
            shard_count: count,
            coverage,
            elapsed_s: index as f64,
            ..Report::default()
        };
        if let Some(seed) = failing_seed {
            report.failures.push(FailureReport {
                seed,
                checker: "read".into(),
                message: "m".into(),
                repro: repro_command(seed, &Overrides::default()),
                trace_hash: "0".into(),
            });
        }
        report.missing_cases_update();
        report
    }

    #[test]
    fn merge_of_all_shards_is_complete_and_sums() {
        let merged = merge(&[
            shard(1, 3, 10, Some(7)),
            shard(0, 3, 10, None),
            shard(2, 3, 10, Some(2)),
        ])
        .expect("merges");
        assert!(merged.complete());
        assert_eq!(merged.seeds_run, 30);
        assert_eq!(merged.shards, vec![0, 1, 2]);
        assert_eq!(
            merged.failures.iter().map(|f| f.seed).collect::<Vec<_>>(),
            vec![2, 7]
        );
        assert_eq!(merged.coverage.count("@P"), 10 + 11 + 12);
        assert_eq!(merged.elapsed_s, 2.0);
        assert!(merged.missing_cases.contains(&"@A".to_string()));
        assert!(!merged.passed());
    }

    #[test]
    fn merge_with_a_missing_shard_is_incomplete() {
        let merged = merge(&[shard(0, 3, 10, None), shard(2, 3, 10, None)]).expect("merges");
        assert!(!merged.complete());
        // An incomplete union is not held to the coverage check, but it reports the gap.
        assert!(!merged.coverage_failed());
    }

    #[test]
    fn merge_refuses_mismatched_reports() {
        assert_eq!(merge(&[]), Err(MergeError::Empty));
        assert!(matches!(
            merge(&[shard(0, 3, 10, None), shard(0, 3, 10, None)]),
            Err(MergeError::ShardDuplicate { shard: 0, count: 3 })
        ));
        assert!(matches!(
            merge(&[shard(0, 3, 10, None), shard(1, 4, 10, None)]),
            Err(MergeError::RangeMismatch { .. })
        ));
        let mut other = shard(1, 3, 10, None);
        other.shard_count = 4;
        other.seed_end = 30;
        assert!(matches!(
            merge(&[shard(0, 3, 10, None), other]),
            Err(MergeError::ShardCountMismatch { .. })
        ));
    }

    #[test]
    fn sharded_fuzz_runs_equal_one_unsharded_run() {
        let quiet = |_: u64, _: u64, _: usize| {};
        let whole = fuzz(
            &FuzzOptions {
                seed_first: 0,
                seed_end: 12,
                jobs: 2,
                shard: (0, 1),
                time_budget: None,
                overrides: Default::default(),
            },
            &quiet,
        );
        let parts: Vec<Report> = (0..3)
            .map(|index| {
                fuzz(
                    &FuzzOptions {
                        seed_first: 0,
                        seed_end: 12,
                        jobs: 1,
                        shard: (index, 3),
                        time_budget: None,
                        overrides: Default::default(),
                    },
                    &quiet,
                )
            })
            .collect();
        let merged = merge(&parts).expect("merges");
        assert!(whole.complete() && merged.complete());
        assert_eq!(merged.seeds_run, whole.seeds_run);
        assert_eq!(merged.coverage, whole.coverage);
        assert_eq!(merged.failures, whole.failures);
        assert_eq!(merged.missing_cases, whole.missing_cases);
        assert_eq!((merged.ops, merged.ticks), (whole.ops, whole.ticks));
        assert!(whole.ops > 0 && whole.ticks > whole.ops);
    }

    /// Overrides reach every seed, travel in the report, waive the reachable-case check, and
    /// keep reports of other overrides from merging.
    #[test]
    fn fuzz_overrides_reach_every_seed_and_the_report() {
        let quiet = |_: u64, _: u64, _: usize| {};
        let options = |slots| FuzzOptions {
            seed_first: 0,
            seed_end: 4,
            jobs: 1,
            shard: (0, 1),
            time_budget: None,
            overrides: Overrides {
                slots,
                ops: Some(40),
                ..Overrides::default()
            },
        };
        let small = fuzz(&options(Some(8)), &quiet);
        let large = fuzz(&options(Some(128)), &quiet);
        assert!(small.passed() && large.passed());
        assert_eq!(small.overrides.slots, Some(8));
        // 40 ops, plus the liveness phase's rewrite of every ring: more ops on a larger ring.
        assert!(small.ops >= 4 * 40 && large.ops > small.ops);
        let mut missing = small.clone();
        missing.missing_cases = vec!["@A".into()];
        missing.seeds_run = COVERAGE_SEEDS_MIN;
        missing.seeds_planned = COVERAGE_SEEDS_MIN;
        missing.seed_end = COVERAGE_SEEDS_MIN;
        assert!(!missing.coverage_failed());
        missing.overrides = Overrides::default();
        assert!(missing.coverage_failed());
        let mut other = large.clone();
        other.shards = vec![1];
        other.shard_count = 2;
        let mut first = small.clone();
        first.shard_count = 2;
        assert!(matches!(
            merge(&[first, other]),
            Err(MergeError::OverridesMismatch { index: 1, .. })
        ));
        assert_eq!(
            repro_command(3, &small.overrides),
            crate::vopr_command("run 3 --ops 40 --slots 8")
        );
    }
}
