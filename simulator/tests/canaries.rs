//! The canary suite as a test: every planted bug of `journal::canary` must be caught by some
//! checker within seeds 0..2000, and the unmodified journal must pass the first 200 seeds.
//!
//! A separate test binary, built only with `--features canary`, with one `#[test]`: the canary
//! switch is process-global, so nothing else may run seeds beside it. Run it with
//! `cargo test -p simulator --release --features canary --test canaries`.
#![cfg(feature = "canary")]

use simulator::canaries::{markdown_table, run_canaries, run_canary};

const SEED_END: u64 = 2000;
const SANITY_SEED_END: u64 = 200;

#[test]
fn every_canary_is_caught() {
    let jobs = std::thread::available_parallelism().map_or(2, |n| n.get());
    let sanity = run_canary(None, 0, SANITY_SEED_END, jobs, false);
    assert!(
        !sanity.caught(),
        "with no canary active, seed {:?} failed: {:?} {:?}",
        sanity.seed_first_failing,
        sanity.checker,
        sanity.message
    );
    let results = run_canaries(0, SEED_END, jobs, false, &|result| {
        eprintln!(
            "{:?}: seed {:?} checker {:?}",
            result.canary, result.seed_first_failing, result.checker
        );
    });
    let table = markdown_table(&results);
    eprintln!("{table}");
    let survivors: Vec<_> = results.iter().filter(|r| !r.caught()).collect();
    assert!(
        survivors.is_empty(),
        "canaries not caught within seeds 0..{SEED_END}:\n{table}"
    );
    // `run_until_failure` (the mutation run's verdict) finds a planted bug as `fuzz` does.
    let caught = &results[0];
    journal::canary::set_active(caught.canary);
    let seeds: Vec<u64> = (0..SEED_END).collect();
    let found = simulator::fuzz::run_until_failure(&seeds, &Default::default(), jobs);
    journal::canary::set_active(None);
    assert!(found.is_some_and(|outcome| outcome.failure.is_some()));
    let seeds: Vec<u64> = (0..SANITY_SEED_END).collect();
    assert!(simulator::fuzz::run_until_failure(&seeds, &Default::default(), jobs).is_none());

    // The single-fault sweep sees planted recovery bugs too: with row @N deciding `fix`, a
    // cluster replica whose prepare was overwritten by a misdirected write loses the op.
    use simulator::sweep::{sweep, FaultKind, SweepOptions, SweepZone};
    let options = SweepOptions {
        replica_counts: vec![3],
        zones: vec![SweepZone::Prepares],
        sectors: (0, 16),
        faults: vec![FaultKind::MisdirectedWrite],
        ..SweepOptions::full(jobs)
    };
    assert!(
        sweep(&options, &|_, _| {}).passed(),
        "no canary: every scenario allowed"
    );
    journal::canary::set_active(journal::canary::Canary::from_name("decision_n_fix"));
    let report = sweep(&options, &|_, _| {});
    journal::canary::set_active(None);
    assert!(report.disallowed().count() > 0, "{}", report.table());
}
