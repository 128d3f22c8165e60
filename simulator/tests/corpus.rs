//! The seed corpus in `seeds/`: every regression seed passes and still draws the configuration it
//! was recorded with, and the distilled coverage set still reaches every reachable case.

use simulator::corpus::{self, CoverageSet, Regressions};
use simulator::coverage::REACHABLE;
use std::path::{Path, PathBuf};

fn seeds_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name)
}

#[test]
fn every_regression_seed_passes_with_the_config_it_was_recorded_with() {
    let regressions: Regressions = corpus::load(&seeds_dir(corpus::REGRESSIONS_PATH))
        .expect("seeds/regressions.json parses")
        .expect("seeds/regressions.json exists");
    assert!(!regressions.regressions.is_empty());
    for entry in &regressions.regressions {
        let outcome = simulator::run_with(entry.seed, &entry.overrides, false);
        assert_eq!(
            outcome.config, entry.config,
            "seed {} draws another config than when recorded: the swarm changed, so re-record \
             it (`vopr corpus add {} --passing`) after checking it still tests what its note says",
            entry.seed, entry.seed
        );
        assert!(
            outcome.failure.is_none(),
            "regression seed {}{} fails again: {:?}",
            entry.seed,
            entry.overrides.flags(),
            outcome.failure
        );
    }
}

#[test]
fn coverage_set_reaches_every_reachable_case() {
    let set: CoverageSet = corpus::load(&seeds_dir(corpus::COVERAGE_PATH))
        .expect("seeds/coverage.json parses")
        .expect("seeds/coverage.json exists");
    let (union, failures) = corpus::run_coverage_set(&set);
    assert_eq!(failures, Vec::<(u64, String)>::new());
    assert_eq!(
        union.missing(),
        Vec::<&str>::new(),
        "regenerate with `{}`",
        set.generated_by
    );
    for (label, _) in REACHABLE {
        let seed = set.cases[*label];
        assert!(set.seeds.contains(&seed), "{label} names seed {seed}");
    }
}

#[test]
fn store_is_atomic_and_load_refuses_corrupt_files() {
    let directory = std::env::temp_dir().join(format!("vopr-corpus-{}", std::process::id()));
    std::fs::create_dir_all(&directory).expect("temp dir");
    let path = directory.join("regressions.json");
    let corrupt = "{\"regressions\": [ {\"seed\": 1";
    std::fs::write(&path, corrupt).expect("write");
    let error = corpus::load::<Regressions>(&path).expect_err("corrupt");
    assert!(error.to_string().contains("is not a valid corpus file"));
    // `add` reads before it runs anything: the corrupt file stays as it was.
    let refused = corpus::add(&path, 3, &simulator::Overrides::default(), true, "");
    assert!(refused.is_err());
    assert_eq!(std::fs::read_to_string(&path).expect("read"), corrupt);
    // A passing seed is refused without --passing, and nothing is written.
    std::fs::remove_file(&path).expect("remove");
    let passing = corpus::add(&path, 3, &simulator::Overrides::default(), false, "");
    assert!(passing.expect_err("passes").contains("passes"));
    assert!(!path.exists());
    // Pinned, then pinned again: one entry, replaced.
    let (first, _) =
        corpus::add(&path, 3, &simulator::Overrides::default(), true, "pin").expect("adds");
    let (second, entry) =
        corpus::add(&path, 3, &simulator::Overrides::default(), true, "pin").expect("adds");
    assert_eq!(first, corpus::Added::Added);
    assert_eq!(second, corpus::Added::Replaced);
    let stored: Regressions = corpus::load(&path).expect("parses").expect("exists");
    assert_eq!(stored.regressions, vec![entry]);
    assert!(!directory.join("regressions.json.tmp").exists());
    std::fs::remove_dir_all(&directory).expect("cleanup");
}
