//! CORDS's single-fault sweep (Ganesan et al., FAST'17), seeded: one engine, one fixed
//! workload, one fault at a time at every place it can fall, each judged against the runner's
//! ground truth by the engine's own [`Promise`].
//!
//! - **Faults at rest** ([`SweepFault::at_rest`]): the workload's first `steps` steps run
//!   without faults and the engine is closed cleanly (the *prepared* run). Then, for every
//!   sector the engine wrote, a fork of that run gets one fault in that sector: zeros, junk (the
//!   bytes of another sector of the file: stale or shifted data), one flipped bit, or EIO on
//!   every read until it is rewritten. The fork opens the engine, reads everything back, plays
//!   `tail_steps` more steps (writes after damage: a copy-on-write store may spread it), closes,
//!   opens and reads everything again, and runs the engine's integrity check.
//! - **Faults at a call** ([`CallFault`]): the whole workload (`steps + tail_steps`) runs again
//!   from the start for each storage call the fault-free run made that the fault can hit: EIO on
//!   a write, ENOSPC on a write or length change that grows the file, a failed sync (Linux's
//!   semantics: the dirty pages are marked clean, unwritten) at a sync with something to write,
//!   and a crash before any write, length change or sync. After an error the runner reopens the
//!   engine (as its user would) and goes on; after a crash the file keeps what the crash left
//!   (each unsynced write persisted, dropped or torn in the engine's atomic unit) and the
//!   engine recovers. The same checks follow.
//!
//! Every run is deterministic: the workload, the file's seed and every draw come from
//! [`SweepOptions::seed`], and a cell's coordinates ([`Cell`]) fix its run; `vopr engine NAME
//! sweep --only COORDINATES` plays one again with its story.
//!
//! Rows of the table are the engine's file regions ([`FileMap`], from the prepared file's
//! bytes: a copy-on-write engine's pages change kind as they are reused, so a region is the
//! page's kind then, or for a write that starts a page, the kind its first byte says), then
//! "length change" and "sync" for the calls that have no region.

use crate::engine::{Engine, Promise, Setting};
use crate::handle::{CallFault, CallKind};
use crate::outcome::Outcome;
use crate::runner::{EngineOutcome, FaultMix, Run, RunConfig, RunOptions, TraceLine};
use crate::workload::Workload;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The sector the sweep aims faults at rest in (the simulated file's).
pub const SECTOR_SIZE: u64 = 512;

/// One kind of fault the sweep injects, CORDS's set as [`fault_models::SimFile`] models it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SweepFault {
    /// A sector of zeros at rest.
    Zeros,
    /// A sector holding another sector's bytes at rest (stale or shifted data).
    Junk,
    /// One flipped bit at rest.
    BitFlip,
    /// EIO on every read of a sector (a latent sector error) until it is rewritten.
    ReadError,
    /// EIO on one write, which stores nothing.
    WriteError,
    /// ENOSPC on one write or length change that grows the file.
    NoSpace,
    /// One failed `fsync` (Linux: dirty pages marked clean, unwritten; reported once).
    SyncError,
    /// The process dies before one write, length change or sync.
    Crash,
}

impl SweepFault {
    pub const ALL: [SweepFault; 8] = [
        SweepFault::Zeros,
        SweepFault::Junk,
        SweepFault::BitFlip,
        SweepFault::ReadError,
        SweepFault::WriteError,
        SweepFault::NoSpace,
        SweepFault::SyncError,
        SweepFault::Crash,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SweepFault::Zeros => "zeros",
            SweepFault::Junk => "junk",
            SweepFault::BitFlip => "bit_flip",
            SweepFault::ReadError => "read_eio",
            SweepFault::WriteError => "write_eio",
            SweepFault::NoSpace => "enospc",
            SweepFault::SyncError => "fsync_fail",
            SweepFault::Crash => "crash",
        }
    }

    pub fn parse(text: &str) -> Option<SweepFault> {
        SweepFault::ALL
            .into_iter()
            .find(|fault| fault.name() == text)
    }

    /// Whether the fault lies in a sector at rest (else it hits one storage call).
    pub fn at_rest(self) -> bool {
        matches!(
            self,
            SweepFault::Zeros | SweepFault::Junk | SweepFault::BitFlip | SweepFault::ReadError
        )
    }

    fn call_fault(self) -> Option<CallFault> {
        match self {
            SweepFault::WriteError => Some(CallFault::WriteError),
            SweepFault::NoSpace => Some(CallFault::NoSpace),
            SweepFault::SyncError => Some(CallFault::SyncError),
            SweepFault::Crash => Some(CallFault::Crash),
            _ => None,
        }
    }
}

/// Where one fault of the sweep falls: a sector (faults at rest) or a storage call number of
/// the fault-free run (the others). Written `zeros@sector:17`, `crash@call:212`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Cell {
    pub fault: SweepFault,
    /// The sector index (at rest) or the storage call number, 1 for the run's first call.
    pub at: u64,
}

impl fmt::Display for Cell {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = if self.fault.at_rest() {
            "sector"
        } else {
            "call"
        };
        write!(formatter, "{}@{unit}:{}", self.fault.name(), self.at)
    }
}

impl Cell {
    /// Parses `KIND@sector:N` (zeros, junk, bit_flip, read_eio) or `KIND@call:N` (write_eio,
    /// enospc, fsync_fail, crash).
    pub fn parse(text: &str) -> Result<Cell, String> {
        let usage = "write KIND@sector:N (zeros, junk, bit_flip, read_eio) or KIND@call:N \
                     (write_eio, enospc, fsync_fail, crash)";
        let (kind, place) = text
            .split_once('@')
            .ok_or_else(|| format!("{text}: {usage}"))?;
        let fault = SweepFault::parse(kind)
            .ok_or_else(|| format!("{text}: unknown fault {kind}: {usage}"))?;
        let (unit, number) = place
            .split_once(':')
            .ok_or_else(|| format!("{text}: {usage}"))?;
        let expected = if fault.at_rest() { "sector" } else { "call" };
        if unit != expected {
            return Err(format!("{text}: {kind} falls on a {expected}: {usage}"));
        }
        let at = number
            .parse::<u64>()
            .map_err(|_| format!("{text}: {number} is not a number"))?;
        if !fault.at_rest() && at == 0 {
            return Err(format!("{text}: calls count from 1"));
        }
        Ok(Cell { fault, at })
    }
}

/// One fault pair: a fault at rest, then (after a reopen and some steps) a second one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pair {
    /// The sample's number (what `--seeds` ranges over).
    pub seed: u64,
    pub first: Cell,
    pub second: Cell,
}

/// What a sweep runs: the workload and the setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepOptions {
    pub setting: Setting,
    /// The workload's seed (its draws, the file's seed, every crash's fates).
    pub seed: u64,
    /// Steps before the faults at rest.
    pub steps: u64,
    /// Steps after them.
    pub tail_steps: u64,
}

/// An engine's default sweep workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SweepDefaults {
    pub seed: u64,
    pub steps: u64,
    pub tail_steps: u64,
}

/// The regions of an engine's file: the sweep's rows.
pub trait FileMap {
    /// Region names, in the table's order.
    const REGIONS: &'static [&'static str];
    /// The region holding `offset` of a file whose durable bytes are `image` (the prepared
    /// run's); `written_first_byte` is a write's first byte, which tells a page's kind better
    /// than the image where the write starts a page.
    fn region(image: &[u8], offset: u64, written_first_byte: Option<u8>) -> usize;
    /// Whether the engine's design keeps a second copy of everything in `region`, so that one
    /// fault at rest there must leave every check correct (no error, no refused open): a
    /// stricter promise than [`Promise::damage_covered`], made per region. None by default.
    fn redundant(_region: usize) -> bool {
        false
    }
}

/// One cell of the plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PlannedCell {
    pub cell: Cell,
    /// Index into [`Plan::regions`].
    pub region: usize,
}

/// What the fault-free runs did: the base every cell departs from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Golden {
    /// Storage calls of the whole fault-free run.
    pub storage_calls: u64,
    pub commits_acked: u64,
    /// The prepared file's durable length.
    pub file_len: u64,
    /// Sectors the prepared run wrote (where faults at rest fall).
    pub sectors_written: u64,
    pub trace_hash: u64,
}

/// Every cell of one engine's sweep.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub engine: &'static str,
    pub options: SweepOptions,
    /// The engine's regions, then "length change" and "sync".
    pub regions: Vec<&'static str>,
    pub cells: Vec<PlannedCell>,
    pub golden: Golden,
}

impl Plan {
    /// The region of a cell that may or may not be in the plan.
    pub fn region_of(&self, cell: Cell) -> Option<usize> {
        self.cells
            .iter()
            .find(|planned| planned.cell == cell)
            .map(|planned| planned.region)
    }

    /// Pair number `seed`: two faults at rest drawn from `handled`, the cells whose single
    /// fault the engine handled (the same sector may be drawn twice, as two faults can hit one
    /// sector). CORDS's single faults first; pairs only where single faults are all handled.
    pub fn pair(seed: u64, handled: &[Cell]) -> Option<Pair> {
        if handled.is_empty() {
            return None;
        }
        assert!(handled.iter().all(|cell| cell.fault.at_rest()));
        let mut prng = ChaCha8Rng::seed_from_u64(seed ^ PAIR_SEED_SALT);
        let first = handled[prng.gen_range(0..handled.len())];
        let second = handled[prng.gen_range(0..handled.len())];
        Some(Pair {
            seed,
            first,
            second,
        })
    }
}

const PAIR_SEED_SALT: u64 = 0x5041_4952_5357_4550;

/// What one cell (or pair) did.
#[derive(Clone, Debug, Serialize)]
pub struct CellResult {
    pub cell: Cell,
    /// Set for a pair: the second fault.
    pub second: Option<Cell>,
    pub region: usize,
    /// The worst outcome seen, allowed or not.
    pub outcome: Outcome,
    /// Whether the engine's promise forbids what happened (the sweep's failure).
    pub forbidden: bool,
    /// The checker that saw the worst outcome, if any.
    pub checker: Option<String>,
    /// What it saw.
    pub message: String,
    pub trace_hash: String,
    pub commits_acked: u64,
    /// The run's story (for `--only`).
    #[serde(skip)]
    pub lines: Vec<TraceLine>,
}

impl CellResult {
    fn of(cell: Cell, second: Option<Cell>, region: usize, outcome: EngineOutcome) -> CellResult {
        let worst = outcome
            .failure
            .as_ref()
            .map_or(outcome.outcome, |failure| failure.outcome);
        let (checker, message) = match &outcome.failure {
            Some(failure) => (
                Some(failure.checker.clone()),
                format!("step {}: {}", failure.step, failure.message),
            ),
            None if worst == Outcome::Correct => (None, String::new()),
            None => {
                // The first line that told the worst outcome: "<outcome>[ (allowed)]: message
                // (checker)".
                let line = outcome
                    .lines
                    .iter()
                    .find(|line| {
                        line.text
                            .strip_prefix(worst.name())
                            .is_some_and(|rest| rest.starts_with(':') || rest.starts_with(' '))
                    })
                    .map_or(String::new(), |line| line.text.clone());
                let checker = line
                    .rsplit_once(" (")
                    .map(|(_, checker)| checker.trim_end_matches(')').to_string());
                (checker, line)
            }
        };
        CellResult {
            cell,
            second,
            region,
            outcome: worst,
            forbidden: outcome.failure.is_some(),
            checker,
            message,
            trace_hash: format!("{:016x}", outcome.trace_hash),
            commits_acked: outcome.commits_acked,
            lines: outcome.lines,
        }
    }
}

/// Runs cells of one engine's sweep; one per thread (it holds the prepared run).
pub trait CellRunner {
    /// Runs one cell; `region` is the plan's for it (what the result carries).
    fn run(&mut self, cell: Cell, region: usize) -> CellResult;
    /// Runs one pair; `region` is the plan's for its first fault.
    fn run_pair(&mut self, pair: Pair, region: usize) -> CellResult;
}

/// The two rows every engine's table ends with.
const LENGTH_ROW: &str = "length change";
const SYNC_ROW: &str = "sync";

/// A sweep's run configuration: the workload, no fault drawn by chance, no crash scheduled by
/// chance; a crash (only where the sweep aims one) tears half the unsynced writes it meets.
fn quiet_config(steps: u64) -> RunConfig {
    let mut config = RunConfig::quiet(steps);
    config.file_faults.disk.crash_write_torn_probability = 0.5;
    config
}

fn new_run<E: Engine, W: Workload>(
    promise: Promise,
    retained_min: Option<u64>,
    options: &SweepOptions,
    steps: u64,
) -> Run<E, W> {
    let run_options = RunOptions {
        setting: options.setting,
        faults: FaultMix::Crash,
        steps: Some(steps),
    };
    Run::new(
        promise,
        retained_min,
        options.seed,
        run_options,
        quiet_config(steps),
        ChaCha8Rng::seed_from_u64(options.seed),
        true,
    )
}

/// The whole workload (`steps + tail_steps`), no fault yet, recording its storage calls.
fn recorded_run<E: Engine, W: Workload>(
    promise: Promise,
    retained_min: Option<u64>,
    options: &SweepOptions,
) -> Run<E, W> {
    let steps = options.steps + options.tail_steps;
    let run = new_run::<E, W>(promise, retained_min, options, steps);
    run.handle.record_calls();
    run
}

/// Why a sweep cannot run: its workload fails with no fault at all.
fn fails_without_faults(outcome: EngineOutcome) -> String {
    format!(
        "the sweep's workload fails without any fault ({}): {}",
        outcome.outcome.name(),
        outcome
            .failure
            .map_or(String::new(), |failure| failure.message)
    )
}

/// The prepared run: `steps` steps without faults, then a clean close. `Err` if the engine
/// fails without any fault (then no cell could be judged).
fn prepare<E: Engine, W: Workload>(
    promise: Promise,
    retained_min: Option<u64>,
    options: &SweepOptions,
) -> Result<(Run<E, W>, Vec<crate::handle::CallRecord>), String> {
    let mut run = recorded_run::<E, W>(promise, retained_min, options);
    let played = run
        .open()
        .and_then(|()| run.play_steps(options.steps))
        .and_then(|()| run.close());
    let calls = run.handle.take_calls();
    if played.is_err() || run.failure_seen() {
        return Err(fails_without_faults(run.finish("prepared")));
    }
    Ok((run, calls))
}

/// The plan of one engine's sweep: a fault-free run of the whole workload (whose calls the
/// call faults aim at) and the prepared run (whose written sectors the faults at rest aim at).
pub(crate) fn plan<E: Engine + FileMap, W: Workload>(
    engine: &'static str,
    promise: Promise,
    retained_min: Option<u64>,
    options: &SweepOptions,
) -> Result<Plan, String> {
    let mut golden = recorded_run::<E, W>(promise, retained_min, options);
    let _ = golden
        .open()
        .and_then(|()| golden.play_steps(golden.config.steps))
        .and_then(|()| golden.reopen());
    // Calls of the final integrity check are not aimed at: it is the runner's check, run once
    // the engine is open, not part of the workload (a crash there has no open after it).
    let calls = golden.handle.take_calls();
    let _ = golden.integrity_check();
    let golden = golden.finish(engine);
    if golden.outcome != Outcome::Correct {
        return Err(fails_without_faults(golden));
    }
    let (prepared, prepared_calls) = prepare::<E, W>(promise, retained_min, options)?;
    let (image, durable_len) = prepared.handle.with_file(|file| {
        let len = file.durable_len();
        (file.peek_durable(0, len), len)
    });
    let sector_count = durable_len.div_ceil(SECTOR_SIZE);
    let mut written = vec![false; sector_count as usize];
    for call in prepared_calls
        .iter()
        .filter(|call| call.kind == CallKind::Write)
    {
        let end = (call.offset + call.len).min(durable_len);
        let mut sector = call.offset / SECTOR_SIZE;
        while sector * SECTOR_SIZE < end {
            written[sector as usize] = true;
            sector += 1;
        }
    }
    let mut regions: Vec<&'static str> = E::REGIONS.to_vec();
    let length_row = regions.len();
    regions.push(LENGTH_ROW);
    let sync_row = regions.len();
    regions.push(SYNC_ROW);

    let mut cells = Vec::new();
    for fault in SweepFault::ALL.into_iter().filter(|fault| fault.at_rest()) {
        for (sector, _) in written.iter().enumerate().filter(|(_, written)| **written) {
            let offset = sector as u64 * SECTOR_SIZE;
            let region = E::region(&image, offset, None);
            assert!(region < E::REGIONS.len());
            cells.push(PlannedCell {
                cell: Cell {
                    fault,
                    at: sector as u64,
                },
                region,
            });
        }
    }
    for call in &calls {
        let (region, faults): (usize, &[SweepFault]) = match call.kind {
            CallKind::Read | CallKind::Len => continue,
            CallKind::Write => {
                let region = E::region(&image, call.offset, call.first_byte);
                if call.grows {
                    (
                        region,
                        &[
                            SweepFault::WriteError,
                            SweepFault::NoSpace,
                            SweepFault::Crash,
                        ],
                    )
                } else {
                    (region, &[SweepFault::WriteError, SweepFault::Crash])
                }
            }
            CallKind::SetLen if call.grows => {
                (length_row, &[SweepFault::NoSpace, SweepFault::Crash])
            }
            CallKind::SetLen => (length_row, &[SweepFault::Crash]),
            CallKind::Sync if call.unsynced => {
                (sync_row, &[SweepFault::SyncError, SweepFault::Crash])
            }
            CallKind::Sync => (sync_row, &[SweepFault::Crash]),
        };
        for &fault in faults {
            cells.push(PlannedCell {
                cell: Cell {
                    fault,
                    at: call.call,
                },
                region,
            });
        }
    }
    Ok(Plan {
        engine,
        options: *options,
        regions,
        cells,
        golden: Golden {
            storage_calls: golden.storage_calls,
            commits_acked: golden.commits_acked,
            file_len: durable_len,
            sectors_written: written.iter().filter(|written| **written).count() as u64,
            trace_hash: golden.trace_hash,
        },
    })
}

/// Runs cells of engine `E` from one prepared run.
pub(crate) struct Cells<E: Engine, W: Workload> {
    engine: &'static str,
    promise: Promise,
    retained_min: Option<u64>,
    options: SweepOptions,
    prepared: Run<E, W>,
    redundant: fn(usize) -> bool,
}

impl<E: Engine + FileMap, W: Workload> Cells<E, W> {
    pub(crate) fn new(
        engine: &'static str,
        promise: Promise,
        retained_min: Option<u64>,
        options: &SweepOptions,
    ) -> Result<Cells<E, W>, String> {
        let (prepared, _) = prepare::<E, W>(promise, retained_min, options)?;
        Ok(Cells {
            engine,
            promise,
            retained_min,
            options: *options,
            prepared,
            redundant: E::redundant,
        })
    }
}

impl<E: Engine, W: Workload> Cells<E, W> {
    /// Injects a fault at rest into `run`'s file, and says so in its story.
    fn inject(run: &mut Run<E, W>, cell: Cell) {
        assert!(cell.fault.at_rest());
        let offset = cell.at * SECTOR_SIZE;
        run.line(format!("sweep: {cell} (offset {offset})"));
        let injected = run.handle.with_file(|file| match cell.fault {
            SweepFault::Zeros => file.aim_zeros(offset),
            SweepFault::Junk => file.aim_junk(offset),
            SweepFault::BitFlip => file.aim_bit_rot(offset),
            SweepFault::ReadError => file.aim_latent_error(offset),
            _ => unreachable!("a fault at rest"),
        });
        assert!(
            injected,
            "{cell}: the sector lies past the prepared file's durable length"
        );
    }
}

impl<E: Engine, W: Workload> CellRunner for Cells<E, W> {
    fn run(&mut self, cell: Cell, region: usize) -> CellResult {
        let outcome = if cell.fault.at_rest() {
            let mut run = self.prepared.fork();
            Self::inject(&mut run, cell);
            let end = run.config.steps;
            let _ = run
                .open()
                .and_then(|()| run.play_steps(end))
                .and_then(|()| run.reopen())
                .and_then(|()| run.integrity_check());
            run.finish(self.engine)
        } else {
            let steps = self.options.steps + self.options.tail_steps;
            let mut run = new_run::<E, W>(self.promise, self.retained_min, &self.options, steps);
            let fault = cell.fault.call_fault().expect("a call fault");
            run.line(format!("sweep: {cell}"));
            run.handle.aim(cell.at, fault);
            let _ = run.play();
            run.finish(self.engine)
        };
        let mut result = CellResult::of(cell, None, region, outcome);
        if cell.fault.at_rest() && (self.redundant)(region) && result.outcome != Outcome::Correct {
            // The region's second copy should have hidden the fault.
            result.forbidden = true;
            result.checker = Some("redundant_region".into());
            result.message = format!(
                "one fault in a region the design keeps two copies of: {}",
                result.message
            );
        }
        result
    }

    fn run_pair(&mut self, pair: Pair, region: usize) -> CellResult {
        let mut run = self.prepared.fork();
        let middle = run.step + self.options.tail_steps / 2;
        let end = run.config.steps;
        Self::inject(&mut run, pair.first);
        let _ = run
            .open()
            .and_then(|()| run.play_steps(middle))
            .and_then(|()| run.close())
            .map(|()| Self::inject(&mut run, pair.second))
            .and_then(|()| run.open())
            .and_then(|()| run.play_steps(end))
            .and_then(|()| run.reopen())
            .and_then(|()| run.integrity_check());
        CellResult::of(
            pair.first,
            Some(pair.second),
            region,
            run.finish(self.engine),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_round_trip_and_bad_ones_are_refused() {
        for fault in SweepFault::ALL {
            let cell = Cell { fault, at: 17 };
            assert_eq!(Cell::parse(&cell.to_string()), Ok(cell));
        }
        assert_eq!(
            Cell::parse("zeros@sector:3"),
            Ok(Cell {
                fault: SweepFault::Zeros,
                at: 3
            })
        );
        for bad in [
            "zeros",
            "zeros@3",
            "zeros@call:3",
            "crash@sector:3",
            "crash@call:0",
            "crash@call:x",
            "melt@call:3",
            "",
        ] {
            assert!(Cell::parse(bad).is_err(), "{bad}");
        }
    }
}
