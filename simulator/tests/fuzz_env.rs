//! A fuzz range chosen by the environment, and every scenario: the VOPR alone, so that a mutation
//! run (`scripts/mutants.sh`, and with `--vopr-only` nothing else) can make `vopr fuzz` and
//! `vopr scenario --all` the tests that must kill each mutant of the journal.
//!
//! `VOPR_TEST_SEEDS=A..B` sets the range; the default is a token 0..20, since `determinism.rs`
//! already fuzzes a short range in every test run.

#[test]
fn fuzz_range_from_environment_passes() {
    let range = std::env::var("VOPR_TEST_SEEDS").unwrap_or_else(|_| "0..20".to_string());
    let (first, end) = range
        .split_once("..")
        .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)))
        .unwrap_or_else(|| panic!("VOPR_TEST_SEEDS must be A..B, not {range:?}"));
    let seeds: Vec<u64> = (first..end).collect();
    let jobs = std::thread::available_parallelism().map_or(2, |n| n.get());
    // Stops at the first failure: a mutation run needs the verdict, not every failing seed.
    let failure = simulator::fuzz::run_until_failure(&seeds, &Default::default(), jobs);
    if let Some(outcome) = failure {
        let failure = outcome.failure.expect("a failing outcome");
        panic!(
            "seed {} of {range} failed: {} at tick {}: {}",
            outcome.seed, failure.checker, failure.tick, failure.message
        );
    }
}

#[test]
fn every_scenario_passes() {
    let failed: Vec<String> = simulator::scenario::all()
        .iter()
        .filter_map(|s| {
            simulator::scenario::run(s)
                .err()
                .map(|e| format!("{}: {e}", s.name))
        })
        .collect();
    assert_eq!(failed, Vec::<String>::new());
}
