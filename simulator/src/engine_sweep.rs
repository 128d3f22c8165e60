//! `vopr engine NAME sweep`: CORDS's single-fault table for an engine ([`engines::sweep`]), run
//! across threads (one prepared run per thread, cells handed out in order, results in plan
//! order whatever thread ran them), printed as a table of file regions by fault kinds, and drawn
//! as a page ([`page`]).
//!
//! `--pairs --seeds A..B` runs sampled pairs of faults at rest instead: the second fault falls
//! after the engine reopened (and wrote) past the first.

use crate::report_html::{escape, page_end, page_start};
use engines::sweep::{Cell, CellResult, Golden, Pair, Plan, SweepFault, SweepOptions};
use engines::{EngineKind, Outcome};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// A whole sweep: every cell's result, in plan order.
#[derive(Clone, Debug, Serialize)]
pub struct SweepReport {
    pub engine: &'static str,
    pub options: SweepOptions,
    /// The engine's promise, as the harness judges it, and in words.
    pub promise: engines::Promise,
    pub promise_text: &'static str,
    pub regions: Vec<&'static str>,
    pub golden: Golden,
    /// Set for a pair sweep: the sample numbers run.
    pub pairs: Option<(u64, u64)>,
    pub results: Vec<CellResult>,
    pub elapsed_s: f64,
}

impl SweepReport {
    /// Results the promise forbids.
    pub fn forbidden(&self) -> impl Iterator<Item = &CellResult> {
        self.results.iter().filter(|result| result.forbidden)
    }

    /// The command that runs `result` again with its story.
    pub fn repro(&self, result: &CellResult) -> String {
        crate::vopr_command(&self.repro_args(result))
    }

    /// The `vopr` arguments that run `result` again with its story.
    pub fn repro_args(&self, result: &CellResult) -> String {
        let options = &self.options;
        let mut flags = format!(" --setting {}", options.setting.name());
        let defaults = engine_kind(self.engine).sweep_defaults();
        if options.seed != defaults.seed {
            flags.push_str(&format!(" --seed {}", options.seed));
        }
        if options.steps != defaults.steps {
            flags.push_str(&format!(" --steps {}", options.steps));
        }
        if options.tail_steps != defaults.tail_steps {
            flags.push_str(&format!(" --tail-steps {}", options.tail_steps));
        }
        let what = match result.second {
            Some(second) => format!("--pair {},{}", result.cell, second),
            None => format!("--only {}", result.cell),
        };
        format!("engine {} sweep {what}{flags}", self.engine)
    }

    /// Outcome counts per (row, column): rows are regions, columns fault kinds (or, for pairs,
    /// the second fault's kind).
    fn counts(&self) -> BTreeMap<(usize, SweepFault), [u64; 7]> {
        let mut counts = BTreeMap::new();
        for result in &self.results {
            let column = column(result);
            let entry = counts.entry((result.region, column)).or_insert([0; 7]);
            entry[outcome_index(result.outcome)] += 1;
        }
        counts
    }

    fn columns(&self) -> Vec<SweepFault> {
        SweepFault::ALL
            .into_iter()
            .filter(|fault| self.results.iter().any(|result| column(result) == *fault))
            .collect()
    }

    /// The table's cells (region, column) holding an outcome the promise forbids.
    fn forbidden_cells(&self) -> std::collections::BTreeSet<(usize, SweepFault)> {
        self.forbidden()
            .map(|result| (result.region, column(result)))
            .collect()
    }

    /// The table as text: one row per region, one column per fault kind, each cell its
    /// outcome counts (`c` correct, `e` error reported, `u` unavailable, `L` data loss, `S`
    /// silent corruption, `P` panic, `H` hang); `!` marks a cell holding a forbidden outcome.
    pub fn table(&self) -> String {
        let counts = self.counts();
        let columns = self.columns();
        let forbidden = self.forbidden_cells();
        let region_width = self
            .regions
            .iter()
            .map(|r| r.len())
            .max()
            .unwrap_or(6)
            .max(6);
        let mut cells: Vec<Vec<String>> = Vec::new();
        for region in 0..self.regions.len() {
            let row: Vec<String> = columns
                .iter()
                .map(|&fault| match counts.get(&(region, fault)) {
                    None => "·".to_string(),
                    Some(count) => {
                        let mut text = compact(count);
                        if forbidden.contains(&(region, fault)) {
                            text.push('!');
                        }
                        text
                    }
                })
                .collect();
            cells.push(row);
        }
        let widths: Vec<usize> = columns
            .iter()
            .enumerate()
            .map(|(index, fault)| {
                cells
                    .iter()
                    .map(|row| row[index].chars().count())
                    .chain([fault.name().len()])
                    .max()
                    .unwrap_or(1)
            })
            .collect();
        let mut out = String::new();
        let title = if self.pairs.is_some() {
            "first fault's region \\ second fault"
        } else {
            "region \\ fault"
        };
        let _ = write!(out, "{title:<region_width$}");
        for (fault, width) in columns.iter().zip(&widths) {
            let _ = write!(out, "  {:>width$}", fault.name());
        }
        out.push('\n');
        for (region, row) in cells.iter().enumerate() {
            if row.iter().all(|text| text == "·") {
                continue;
            }
            let _ = write!(out, "{:<region_width$}", self.regions[region]);
            for (text, width) in row.iter().zip(&widths) {
                let pad = width.saturating_sub(text.chars().count());
                let _ = write!(out, "  {}{text}", " ".repeat(pad));
            }
            out.push('\n');
        }
        out.push_str(
            "c correct, e error reported, u unavailable, L data loss, S silent corruption, \
             P panic, H hang; ! an outcome the promise forbids; · no such fault there",
        );
        out
    }

    /// What a result ran: its cell, or its pair.
    pub fn what(result: &CellResult) -> String {
        match result.second {
            Some(second) => format!("{} then {second}", result.cell),
            None => result.cell.to_string(),
        }
    }

    /// Per (region, fault, outcome) other than correct: how many, and the first cell's
    /// coordinates and message (what a reader reproduces first).
    pub fn examples(&self) -> Vec<(usize, SweepFault, Outcome, u64, &CellResult)> {
        let mut seen: BTreeMap<(usize, SweepFault, Outcome), (u64, &CellResult)> = BTreeMap::new();
        for result in &self.results {
            if result.outcome == Outcome::Correct {
                continue;
            }
            let entry = seen
                .entry((result.region, column(result), result.outcome))
                .or_insert((0, result));
            entry.0 += 1;
        }
        seen.into_iter()
            .map(|((region, fault, outcome), (count, first))| {
                (region, fault, outcome, count, first)
            })
            .collect()
    }
}

/// A result's column: its fault kind, or for a pair the second fault's.
fn column(result: &CellResult) -> SweepFault {
    result
        .second
        .map_or(result.cell.fault, |second| second.fault)
}

fn engine_kind(name: &str) -> EngineKind {
    EngineKind::parse(name).expect("a report names a known engine")
}

fn outcome_index(outcome: Outcome) -> usize {
    Outcome::ALL
        .iter()
        .position(|known| *known == outcome)
        .expect("every outcome is in ALL")
}

const OUTCOME_LETTERS: [&str; 7] = ["c", "e", "u", "L", "S", "P", "H"];

fn compact(count: &[u64; 7]) -> String {
    count
        .iter()
        .zip(OUTCOME_LETTERS)
        .filter(|(count, _)| **count > 0)
        .map(|(count, letter)| format!("{count}{letter}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a sweep runs.
#[derive(Clone, Debug)]
pub struct SweepRequest {
    pub engine: EngineKind,
    pub options: SweepOptions,
    /// Only these fault kinds (all if empty).
    pub faults: Vec<SweepFault>,
    /// Pairs `(first, end)` instead of single faults.
    pub pairs: Option<(u64, u64)>,
    pub jobs: usize,
}

/// Runs `work` (one item per index) on `jobs` threads, each with its own cell runner; results
/// in index order.
fn run_cells(
    request: &SweepRequest,
    count: usize,
    work: &(dyn Fn(&mut dyn engines::sweep::CellRunner, usize) -> CellResult + Sync),
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<CellResult>, String> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<CellResult>>> = Mutex::new(vec![None; count]);
    let errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..request.jobs.clamp(1, count.max(1)) {
            scope.spawn(|| {
                let mut runner = match request.engine.sweep_cells(&request.options) {
                    Ok(runner) => runner,
                    Err(error) => {
                        errors.lock().expect("no poisoned lock").push(error);
                        return;
                    }
                };
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= count {
                        return;
                    }
                    let result = work(runner.as_mut(), index);
                    results.lock().expect("no poisoned lock")[index] = Some(result);
                    progress(done.fetch_add(1, Ordering::Relaxed) + 1, count);
                }
            });
        }
    });
    if let Some(error) = errors
        .into_inner()
        .expect("no poisoned lock")
        .into_iter()
        .next()
    {
        return Err(error);
    }
    Ok(results
        .into_inner()
        .expect("no poisoned lock")
        .into_iter()
        .map(|result| result.expect("every cell ran"))
        .collect())
}

/// Plans and runs a sweep. `Err` if the workload fails without any fault.
pub fn sweep(
    request: &SweepRequest,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<SweepReport, String> {
    let started = Instant::now();
    let plan = request.engine.sweep_plan(&request.options)?;
    let results = match request.pairs {
        None => {
            let cells: Vec<_> = plan
                .cells
                .iter()
                .filter(|planned| {
                    request.faults.is_empty() || request.faults.contains(&planned.cell.fault)
                })
                .copied()
                .collect();
            run_cells(
                request,
                cells.len(),
                &|runner, index| runner.run(cells[index].cell, cells[index].region),
                progress,
            )?
        }
        Some((first, end)) => {
            // The single faults at rest first: pairs are drawn among the cells the engine
            // handled alone (a pair with an unhandled fault says nothing new).
            let at_rest: Vec<_> = plan
                .cells
                .iter()
                .filter(|planned| planned.cell.fault.at_rest())
                .copied()
                .collect();
            let singles = run_cells(
                request,
                at_rest.len(),
                &|runner, index| runner.run(at_rest[index].cell, at_rest[index].region),
                &|_, _| {},
            )?;
            let handled: Vec<Cell> = singles
                .iter()
                .filter(|result| result.outcome == Outcome::Correct)
                .map(|result| result.cell)
                .collect();
            let pairs: Vec<(Pair, usize)> = (first..end)
                .filter_map(|seed| Plan::pair(seed, &handled))
                .map(|pair| {
                    let region = plan
                        .region_of(pair.first)
                        .expect("a pair's cell is planned");
                    (pair, region)
                })
                .collect();
            run_cells(
                request,
                pairs.len(),
                &|runner, index| runner.run_pair(pairs[index].0, pairs[index].1),
                progress,
            )?
        }
    };
    Ok(report(request, plan, results, started))
}

fn report(
    request: &SweepRequest,
    plan: Plan,
    results: Vec<CellResult>,
    started: Instant,
) -> SweepReport {
    SweepReport {
        engine: plan.engine,
        options: plan.options,
        promise: request.engine.promise(),
        promise_text: request.engine.promise_text(),
        regions: plan.regions,
        golden: plan.golden,
        pairs: request.pairs,
        results,
        elapsed_s: started.elapsed().as_secs_f64(),
    }
}

/// Runs one cell (or a pair when `second` is set) of the plan, with its story.
pub fn one(
    request: &SweepRequest,
    cell: Cell,
    second: Option<Cell>,
) -> Result<(SweepReport, CellResult), String> {
    let started = Instant::now();
    let plan = request.engine.sweep_plan(&request.options)?;
    let not_planned = |cell: Cell| {
        format!(
            "{cell} is not a cell of this sweep (the fault-free run made {} storage calls and wrote {} sectors; a call fault needs a call it can hit)",
            plan.golden.storage_calls, plan.golden.sectors_written
        )
    };
    let region = plan.region_of(cell).ok_or_else(|| not_planned(cell))?;
    if let Some(second) = second {
        if !cell.fault.at_rest() || !second.fault.at_rest() {
            return Err("a pair is two faults at rest".into());
        }
        plan.region_of(second).ok_or_else(|| not_planned(second))?;
    }
    let mut runner = request.engine.sweep_cells(&request.options)?;
    let result = match second {
        None => runner.run(cell, region),
        Some(second) => runner.run_pair(
            Pair {
                seed: 0,
                first: cell,
                second,
            },
            region,
        ),
    };
    let report = report(request, plan, vec![result.clone()], started);
    Ok((report, result))
}

/// Forbidden cells the page lists one by one (the rest are counted).
const FORBIDDEN_ROWS_MAX: usize = 40;

/// Colours of the outcomes on the page.
fn outcome_colour(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Correct => "#c8e6c9",
        Outcome::ErrorReported => "#fff59d",
        Outcome::Unavailable => "#ffcc80",
        Outcome::DataLoss => "#ef5350",
        Outcome::SilentCorruption => "#c62828",
        Outcome::Crash => "#8e24aa",
        Outcome::Hang => "#6d4c41",
    }
}

/// The sweep as a page: verdict, promise, the table with each cell coloured by its worst
/// outcome (a thick border where the promise forbids one), what each non-correct outcome was
/// with a cell that reproduces it, and every forbidden cell.
pub fn page(report: &SweepReport) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let title = format!(
        "vopr engine {} sweep{}",
        report.engine,
        if report.pairs.is_some() {
            " --pairs"
        } else {
            ""
        }
    );
    page_start(&mut out, &title);
    let forbidden = report.forbidden().count();
    let _ = writeln!(out, "<h1>{}</h1>", escape(&title));
    let _ = writeln!(
        out,
        "<div class=\"{}\"><p><b>{}</b>: {} {} in {:.1}s, {forbidden} with an outcome the promise forbids. Workload: seed {}, {} steps then {} more ({} commits acknowledged without faults, {} storage calls, file of {} bytes, {} sectors written), setting {}.</p></div>",
        if forbidden == 0 { "verdict-passed" } else { "verdict-failed" },
        if forbidden == 0 { "passed" } else { "FAILED" },
        report.results.len(),
        if report.pairs.is_some() { "pairs" } else { "single faults" },
        report.elapsed_s,
        report.options.seed,
        report.options.steps,
        report.options.tail_steps,
        report.golden.commits_acked,
        report.golden.storage_calls,
        report.golden.file_len,
        report.golden.sectors_written,
        report.options.setting.name(),
    );
    let _ = writeln!(
        out,
        "<h2>What {} promises</h2>\n<p>{}</p>",
        escape(report.engine),
        escape(report.promise_text)
    );
    out.push_str("<h2>The table</h2>\n<p class=\"legend\">");
    for outcome in Outcome::ALL {
        let _ = write!(
            out,
            "<span><span class=\"swatch\" style=\"background:{}\"></span>{}</span>",
            outcome_colour(outcome),
            outcome.name()
        );
    }
    out.push_str("<span>a thick red border: an outcome the promise forbids</span></p>\n");
    let counts = report.counts();
    let columns = report.columns();
    let forbidden_cells = report.forbidden_cells();
    out.push_str("<table id=\"sweep\">\n<tr><th>region</th>");
    for fault in &columns {
        let _ = write!(out, "<th>{}</th>", fault.name());
    }
    out.push_str("</tr>\n");
    for (region, name) in report.regions.iter().enumerate() {
        if !columns
            .iter()
            .any(|fault| counts.contains_key(&(region, *fault)))
        {
            continue;
        }
        let _ = write!(out, "<tr><td>{}</td>", escape(name));
        for fault in &columns {
            let Some(count) = counts.get(&(region, *fault)) else {
                out.push_str("<td class=\"muted\">·</td>");
                continue;
            };
            let worst = Outcome::ALL
                .into_iter()
                .rev()
                .find(|outcome| count[outcome_index(*outcome)] > 0)
                .unwrap_or(Outcome::Correct);
            let bad = forbidden_cells.contains(&(region, *fault));
            let lines: Vec<String> = Outcome::ALL
                .into_iter()
                .filter(|outcome| count[outcome_index(*outcome)] > 0)
                .map(|outcome| format!("{} {}", count[outcome_index(outcome)], outcome.name()))
                .collect();
            let _ = write!(
                out,
                "<td style=\"background:{};{}{}\" title=\"{}\">{}</td>",
                outcome_colour(worst),
                if matches!(
                    worst,
                    Outcome::SilentCorruption | Outcome::Crash | Outcome::Hang
                ) {
                    "color:#fff;"
                } else {
                    ""
                },
                if bad { "border:3px solid #b71c1c" } else { "" },
                escape(&format!("{} × {}", name, fault.name())),
                lines.join("<br>")
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    let _ = writeln!(
        out,
        "<h2>Forbidden ({forbidden})</h2>\n<table id=\"forbidden\">\n<tr><th>cell</th><th>region</th><th>outcome</th><th>what</th><th>reproduce</th></tr>"
    );
    for result in report.forbidden().take(FORBIDDEN_ROWS_MAX) {
        example_row(&mut out, report, result, None);
    }
    out.push_str("</table>\n");
    if forbidden > FORBIDDEN_ROWS_MAX {
        let _ = writeln!(
            out,
            "<p class=\"muted\">… and {} more (every cell is in the report <code>--json</code> writes).</p>",
            forbidden - FORBIDDEN_ROWS_MAX
        );
    }
    out.push_str("<h2>Every outcome other than correct, with a cell that shows it</h2>\n<table id=\"examples\">\n<tr><th>cell</th><th>region</th><th>outcome</th><th>what</th><th>reproduce</th></tr>\n");
    for (_, _, _, count, result) in report.examples() {
        example_row(&mut out, report, result, Some(count));
    }
    out.push_str("</table>\n");
    page_end(&mut out);
    out
}

fn example_row(out: &mut String, report: &SweepReport, result: &CellResult, count: Option<u64>) {
    let cell = SweepReport::what(result);
    let _ = writeln!(
        out,
        "<tr{}><td><code>{}</code>{}</td><td>{}</td><td style=\"background:{}\">{}</td><td>{}</td><td><code>{}</code></td></tr>",
        if result.forbidden { " class=\"failed\"" } else { "" },
        escape(&cell),
        count.map_or(String::new(), |count| format!(" <span class=\"muted\">(1 of {count})</span>")),
        escape(report.regions[result.region]),
        outcome_colour(result.outcome),
        result.outcome.name(),
        escape(&result.message),
        escape(&report.repro(result))
    );
}
