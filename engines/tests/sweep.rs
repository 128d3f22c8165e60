//! The single-fault sweep: one cell is one deterministic run, the unsafe settings fail its crash
//! cells and the safe ones pass them, our WAL passes every cell of its default sweep, and
//! redb's known findings (a panic on a damaged page) stay visible.

use engines::sweep::{Cell, SweepFault, SweepOptions};
use engines::{EngineKind, Outcome, Setting};

fn options(engine: EngineKind, setting: Setting, steps: u64) -> SweepOptions {
    let defaults = engine.sweep_defaults();
    SweepOptions {
        setting,
        seed: defaults.seed,
        steps,
        tail_steps: defaults.tail_steps,
    }
}

/// Every cell of `engine`'s sweep whose fault is in `faults`, run on one runner.
fn run(
    engine: EngineKind,
    options: &SweepOptions,
    faults: &[SweepFault],
) -> Vec<engines::sweep::CellResult> {
    let plan = engine
        .sweep_plan(options)
        .expect("the workload passes without faults");
    let mut runner = engine.sweep_cells(options).expect("prepared");
    plan.cells
        .iter()
        .filter(|planned| faults.contains(&planned.cell.fault))
        .map(|planned| runner.run(planned.cell, planned.region))
        .collect()
}

/// A cell fixes its run: the same cell twice (on two runners, and after other cells on the
/// same runner) gives the same trace and outcome, for faults at rest (forks of the prepared
/// run) and at a call (runs from the start).
#[test]
fn a_cell_fixes_its_run() {
    for engine in EngineKind::ALL {
        let options = options(engine, Setting::Safe, 20);
        let plan = engine.sweep_plan(&options).expect("plan");
        let mut first = engine.sweep_cells(&options).expect("prepared");
        let mut second = engine.sweep_cells(&options).expect("prepared");
        let picks: Vec<_> = [SweepFault::Junk, SweepFault::BitFlip, SweepFault::Crash]
            .into_iter()
            .filter_map(|fault| plan.cells.iter().rev().find(|p| p.cell.fault == fault))
            .collect();
        assert_eq!(picks.len(), 3, "{engine:?}");
        let once: Vec<_> = picks.iter().map(|p| first.run(p.cell, p.region)).collect();
        let again: Vec<_> = picks
            .iter()
            .rev()
            .map(|p| second.run(p.cell, p.region))
            .collect();
        for (a, b) in once.iter().zip(again.iter().rev()) {
            assert_eq!(a.trace_hash, b.trace_hash, "{engine:?} {}", a.cell);
            assert_eq!(a.outcome, b.outcome);
        }
        // Different cells are different runs.
        assert_ne!(once[0].trace_hash, once[2].trace_hash);
    }
}

/// Calibration: the unsafe settings (redb `Durability::None`; our WAL acknowledging before
/// its sync) lose acknowledged commits at some crash point of the sweep, and it says so; the
/// safe settings lose nothing at any of them.
#[test]
fn crash_cells_fail_the_unsafe_settings_and_pass_the_safe_ones() {
    for engine in EngineKind::ALL {
        let steps = 24;
        let safe = run(
            engine,
            &options(engine, Setting::Safe, steps),
            &[SweepFault::Crash],
        );
        assert!(safe.len() > 20, "{engine:?}: {} crash cells", safe.len());
        for result in &safe {
            assert!(
                !result.forbidden,
                "{engine:?} {}: {}",
                result.cell, result.message
            );
        }
        let unsafe_cells = run(
            engine,
            &options(engine, Setting::Unsafe, steps),
            &[SweepFault::Crash],
        );
        let lost: Vec<_> = unsafe_cells
            .iter()
            .filter(|result| result.forbidden)
            .collect();
        assert!(
            lost.iter().any(|result| result.outcome == Outcome::DataLoss
                && result.checker.as_deref() == Some("acknowledged_lost")),
            "{engine:?}: the unsafe setting lost nothing"
        );
        for result in lost {
            // Our WAL acknowledging before its sync also lets a header sector reach the disk
            // before its prepare, which recovery then refuses (`@K`): unavailable after a
            // crash alone, forbidden too.
            assert!(
                matches!(result.outcome, Outcome::DataLoss | Outcome::Unavailable),
                "{engine:?} {}: {:?}",
                result.cell,
                result.outcome
            );
        }
    }
}

/// Our WAL's default sweep: no cell breaks its promise, and every fault in a region it keeps
/// two copies of (the superblock, the redundant headers) leaves it whole. (Before the driver
/// stored the superblock in both copies and read unreadable sectors alone, 19 cells failed
/// here: a bad sector of the newer copy, or EIO on either, made the WAL unopenable.)
#[test]
fn our_wal_passes_its_whole_sweep() {
    let engine = EngineKind::FileWal;
    let defaults = engine.sweep_defaults();
    let options = options(engine, Setting::Safe, defaults.steps);
    let results = run(engine, &options, &SweepFault::ALL);
    assert!(results.len() > 2_500, "{} cells", results.len());
    let plan = engine.sweep_plan(&options).expect("plan");
    let mut redundant_cells = 0;
    for result in &results {
        assert!(!result.forbidden, "{}: {}", result.cell, result.message);
        assert!(
            !matches!(
                result.outcome,
                Outcome::DataLoss | Outcome::SilentCorruption | Outcome::Crash | Outcome::Hang
            ),
            "{}: {}",
            result.cell,
            result.message
        );
        if result.cell.fault.at_rest() && plan.regions[result.region].starts_with("superblock") {
            assert_eq!(result.outcome, Outcome::Correct, "{}", result.cell);
            redundant_cells += 1;
        }
    }
    assert_eq!(
        redundant_cells,
        4 * 16,
        "both superblock copies' sectors, four faults"
    );
    // An unreadable sector reads as zeros to the journal's checksums: EIO in a sector has the
    // outcome zeros there have, sector by sector (before the driver read a failed range again
    // sector by sector, EIO anywhere in a prepare's slot refused the open, even past the
    // message's end: 401 cells against 180).
    let outcome_of = |fault: SweepFault| -> std::collections::BTreeMap<u64, Outcome> {
        results
            .iter()
            .filter(|result| result.cell.fault == fault)
            .map(|result| (result.cell.at, result.outcome))
            .collect()
    };
    assert_eq!(
        outcome_of(SweepFault::ReadError),
        outcome_of(SweepFault::Zeros)
    );
    // Every kind of fault found a place to fall.
    for fault in SweepFault::ALL {
        assert!(
            results.iter().any(|result| result.cell.fault == fault),
            "{fault:?}"
        );
    }
}

/// redb's known finding, seen by the sweep: one zeroed sector of a B-tree page makes a read
/// panic (`StorageError::Corrupted` exists for this), and the promise forbids a panic. (The
/// panics print their messages: redb's, caught.)
#[test]
fn redb_panics_on_one_zeroed_page_sector() {
    let engine = EngineKind::Redb;
    let options = options(engine, Setting::Safe, 30);
    let results = run(engine, &options, &[SweepFault::Zeros]);
    let panics: Vec<_> = results
        .iter()
        .filter(|result| result.outcome == Outcome::Crash)
        .collect();
    assert!(!panics.is_empty(), "no zeroed sector panicked redb");
    for result in panics {
        assert!(result.forbidden);
        assert!(result.message.contains("panicked"), "{}", result.message);
    }
    // The sweep names the cell it ran.
    let cell = results[0].cell;
    assert_eq!(Cell::parse(&cell.to_string()), Ok(cell));
}
