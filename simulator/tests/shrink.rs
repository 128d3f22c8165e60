//! `vopr shrink` on a real failure: a planted bug (canary build only, so the default build and
//! its tests carry no switch) fails a seed; the shrunk run fails the same checker, is no larger
//! on any axis, and reproduces from its overrides alone.
#![cfg(feature = "canary")]

use journal::canary::{set_active, Canary};
use simulator::Overrides;

#[test]
fn shrunk_run_fails_the_same_way_and_is_smaller() {
    set_active(Some(
        Canary::from_name("cut_torn_without_certainty").expect("canary exists"),
    ));
    let seed = (0..200)
        .find(|&seed| simulator::run_seed(seed, false).failure.is_some())
        .expect("the canary is caught within 200 seeds");
    let original = simulator::run_seed(seed, false);
    let mut kept = 0;
    let shrunk = simulator::shrink::shrink(seed, &Overrides::default(), &mut |_, _| kept += 1)
        .expect("the seed fails");
    assert!(kept > 0, "nothing was shrunk");
    assert_eq!(
        shrunk.checker,
        original.failure.as_ref().expect("fails").checker
    );
    assert!(shrunk.config.replica_count <= original.config.replica_count);
    assert!(shrunk.config.ops_target <= original.config.ops_target);
    assert!(shrunk.runs <= simulator::shrink::SHRINK_RUNS_MAX);
    // The printed repro is the overrides: running them again fails identically.
    let again = simulator::run_with(seed, &shrunk.overrides, false);
    let failure = again.failure.expect("the shrunk run fails");
    assert_eq!(failure.checker, shrunk.checker);
    assert_eq!(failure.tick, shrunk.tick);
    assert!(shrunk
        .command()
        .contains("--canary cut_torn_without_certainty"));
    set_active(None);
}
