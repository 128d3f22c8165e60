//! Self-contained HTML pages: one seed's report (`vopr report SEED --html PATH`) and a fuzz run's
//! coverage and failures (`vopr fuzz --html PATH`).
//!
//! Written by hand: inline CSS and SVG, no script, nothing loaded from the network. Tooltips are
//! SVG `<title>` elements and `title` attributes. Every piece of text from a run goes through
//! [`escape`]. The seed page shows, top to bottom: the verdict (the failing checker highlighted),
//! the command that reproduces it, a timeline with one lane per replica (prepares, writes,
//! crashes, restarts, view changes, and every fault as a coloured marker), the rings at each
//! recovery (each slot's case and decision), and a table of every fault.

use crate::cluster::Outcome;
use crate::coverage::Coverage;
use crate::fuzz::Report;
use crate::recorded::Recorded;
use crate::replay::{fault_kind_name, fault_text, recovered_clean, recovery_summary};
use crate::ring_picture::{Moment, RingPicture, SlotState};
use crate::swarm::Overrides;
use crate::trace::tag;
use std::fmt::Write;

/// Text made safe for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; max-width: 1500px; }
h1 { font-size: 22px; margin: 0 0 8px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; }
h3 { font-size: 14px; margin: 16px 0 4px; font-weight: 600; }
code, pre { font-family: ui-monospace, monospace; font-size: 13px; }
pre { background: #f6f6f6; padding: 8px; overflow-x: auto; }
.verdict-failed { background: #fde8e8; border: 2px solid #c62828; padding: 10px 14px; border-radius: 6px; }
.verdict-passed { background: #e8f5e9; border: 2px solid #2e7d32; padding: 10px 14px; border-radius: 6px; }
.verdict-failed .checker { color: #c62828; font-weight: 700; }
table { border-collapse: collapse; margin: 6px 0; }
td, th { border: 1px solid #ddd; padding: 2px 8px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
.legend span { display: inline-block; margin-right: 14px; }
.swatch { display: inline-block; width: 12px; height: 12px; vertical-align: middle; margin-right: 4px; border: 1px solid #999; }
svg text { font: 11px ui-monospace, monospace; fill: #333; }
svg .fault:hover, svg .event:hover { stroke: #000; stroke-width: 2; }
svg rect.cell:hover { stroke: #000; stroke-width: 2; }
.muted { color: #777; }
ul.slots { margin: 2px 0 8px; padding-left: 20px; font-size: 13px; }
tr.failed td { background: #fde8e8; }
h3.failed { color: #c62828; }
";

/// Colours of the fault kinds (markers and the fault table).
fn fault_colour(kind: &str) -> &'static str {
    match kind {
        "read_bit_flip" => "#f9a825",
        "write_bit_flip" => "#ef6c00",
        "misdirected_write" => "#6a1b9a",
        "misdirected_read" => "#ab47bc",
        "latent_sector_error" => "#c62828",
        "lost_write" => "#5d4037",
        "torn_write" => "#d81b60",
        "sector_zeroed" => "#546e7a",
        "sector_junk" => "#00897b",
        _ => "#000",
    }
}

const FAULT_KINDS: [&str; 9] = [
    "read_bit_flip",
    "write_bit_flip",
    "misdirected_write",
    "misdirected_read",
    "latent_sector_error",
    "lost_write",
    "torn_write",
    "sector_zeroed",
    "sector_junk",
];

/// Colours of the ring's slot states.
fn state_colour(state: SlotState) -> &'static str {
    match state {
        SlotState::Clean => "#a5d6a7",
        SlotState::Reserved => "#f5f5f5",
        SlotState::Dirty => "#fff59d",
        SlotState::Faulty => "#e53935",
        SlotState::Writing => "#90caf9",
        SlotState::Torn => "#d81b60",
        SlotState::Damaged => "#ffab91",
    }
}

pub(crate) fn page_start(out: &mut String, title: &str) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(title)
    );
}

pub(crate) fn page_end(out: &mut String) {
    out.push_str("</body>\n</html>\n");
}

/// One seed's report. A seed that passes gets one too (its verdict says so).
pub fn seed_page(outcome: &Outcome, overrides: &Overrides) -> String {
    let empty = Recorded::default();
    let recorded = outcome.recorded.as_ref().unwrap_or(&empty);
    let seed = outcome.seed;
    let flags = overrides.flags();
    let mut out = String::with_capacity(256 * 1024);
    page_start(&mut out, &format!("vopr seed {seed}{flags}"));
    let _ = writeln!(out, "<h1>vopr seed {seed}{}</h1>", escape(&flags));
    match &outcome.failure {
        Some(failure) => {
            let _ = writeln!(
                out,
                "<div class=\"verdict-failed\" id=\"failure\"><p><b>FAILED</b>: checker <span class=\"checker\">{}</span> at tick {}</p><pre>{}</pre>",
                escape(failure.checker),
                failure.tick,
                escape(&failure.message)
            );
            // The rings as the failing tick's recovery left them, when a recovery failed.
            let at_failure = recorded
                .rings
                .iter()
                .rev()
                .find(|(_, p)| p.moment == Moment::Recovery && p.tick == failure.tick);
            if let Some((_, picture)) = at_failure {
                let _ = writeln!(
                    out,
                    "<p>The rings after r{}'s recovery at this tick ({}):</p>",
                    picture.replica,
                    escape(&recovery_summary(picture))
                );
                ring_svg(&mut out, picture);
            }
            out.push_str("</div>\n");
        }
        None => {
            let _ = writeln!(
                out,
                "<div class=\"verdict-passed\" id=\"verdict\"><p><b>passed</b>: every checker held.</p></div>"
            );
        }
    }
    let config = &outcome.config;
    let _ = writeln!(
        out,
        "<h2>Reproduce</h2>\n<pre id=\"repro\">{}\n{}</pre>",
        escape(&crate::fuzz::repro_command(seed, overrides)),
        escape(&crate::vopr_command(&format!("replay {seed}{flags}")))
    );
    let _ = writeln!(
        out,
        "<p>{} replicas, {} slots of {} B ({} B sectors), {} ops to prepare, {} ticks, {} faults injected, trace_hash <code>{:016x}</code></p>",
        config.replica_count,
        config.journal.slot_count,
        config.journal.message_size_max,
        config.journal.sector_size,
        config.ops_target,
        outcome.ticks,
        recorded.faults.len(),
        outcome.trace_hash
    );
    if recorded.lines.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"muted\">The run stopped before its first event (an assertion inside the run): no timeline.</p>"
        );
    }
    timeline(&mut out, outcome, recorded);
    rings(&mut out, recorded, outcome.failure.as_ref().map(|f| f.tick));
    faults_table(&mut out, outcome, recorded);
    page_end(&mut out);
    out
}

/// Lane geometry of the timeline.
const LANE_HEIGHT: f64 = 44.0;
const LEFT: f64 = 48.0;
const WIDTH: f64 = 1400.0;
const TOP: f64 = 24.0;

fn timeline(out: &mut String, outcome: &Outcome, recorded: &Recorded) {
    let replicas = usize::from(outcome.config.replica_count);
    let tick_end = outcome
        .ticks
        .max(recorded.lines.last().map_or(0, |l| l.tick))
        .max(recorded.faults.last().map_or(0, |f| f.tick))
        .max(1);
    let span = WIDTH - LEFT - 12.0;
    let x = |tick: u64| LEFT + tick as f64 * span / tick_end as f64;
    let height = TOP + LANE_HEIGHT * replicas as f64 + 24.0;
    let _ = writeln!(
        out,
        "<h2>Timeline</h2>\n<p class=\"legend\"><span>lane per replica; thin blue: prepare, thin grey: write done; <span class=\"swatch\" style=\"background:#555\"></span>down <span class=\"swatch\" style=\"background:#ffe082\"></span>recovering; red \u{2715} crash, green \u{25b2} restart, purple | view change (tall: start view); faults:</span>{}</p>",
        FAULT_KINDS
            .iter()
            .map(|k| format!(
                "<span><span class=\"swatch\" style=\"background:{}\"></span>{k}</span>",
                fault_colour(k)
            ))
            .collect::<String>()
    );
    let _ = writeln!(
        out,
        "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" style=\"width:100%;height:auto\" viewBox=\"0 0 {WIDTH} {height}\">"
    );
    // Axis: ten ticks.
    for step in 0..=10 {
        let tick = tick_end * step / 10;
        let _ = writeln!(
            out,
            "<line x1=\"{0:.1}\" y1=\"{1}\" x2=\"{0:.1}\" y2=\"{2}\" stroke=\"#eee\"/><text x=\"{0:.1}\" y=\"14\" text-anchor=\"middle\">{tick}</text>",
            x(tick),
            TOP,
            height - 20.0
        );
    }
    let lane_top = |replica: u8| TOP + LANE_HEIGHT * f64::from(replica);
    for replica in 0..replicas as u8 {
        let y = lane_top(replica);
        let _ = writeln!(
            out,
            "<rect x=\"{LEFT}\" y=\"{y}\" width=\"{span}\" height=\"{}\" fill=\"{}\"/><text x=\"4\" y=\"{}\">r{replica}</text>",
            LANE_HEIGHT - 4.0,
            if replica % 2 == 0 { "#fafafa" } else { "#f3f3f3" },
            y + LANE_HEIGHT / 2.0
        );
    }
    // Down (crash to restart) and recovering (restart to recovered) intervals.
    let mut down_since: Vec<Option<u64>> = vec![None; replicas];
    let mut recovering_since: Vec<Option<u64>> = vec![None; replicas];
    let interval = |out: &mut String, replica: u8, from: u64, to: u64, colour: &str, what: &str| {
        let _ = writeln!(
            out,
            "<rect class=\"event\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"6\" fill=\"{colour}\"><title>r{replica} {what}, ticks {from}..{to}</title></rect>",
            x(from),
            lane_top(replica) + LANE_HEIGHT - 12.0,
            (x(to) - x(from)).max(1.0)
        );
    };
    let mut prepares: Vec<String> = vec![String::new(); replicas];
    let mut writes: Vec<String> = vec![String::new(); replicas];
    for line in &recorded.lines {
        let replica = line.replica;
        let lane = usize::from(replica);
        if lane >= replicas {
            continue;
        }
        let y = lane_top(replica);
        let px = x(line.tick);
        match line.tag {
            tag::PREPARE => {
                let _ = write!(prepares[lane], "M{px:.1} {:.1}v8", y + 2.0);
            }
            tag::WRITE_DONE => {
                let _ = write!(writes[lane], "M{px:.1} {:.1}v6", y + 12.0);
            }
            tag::CRASH => {
                if let Some(since) = recovering_since[lane].take() {
                    interval(out, replica, since, line.tick, "#ffe082", "recovering");
                }
                down_since[lane] = Some(line.tick);
                let _ = writeln!(
                    out,
                    "<text class=\"event\" x=\"{px:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#c62828\" style=\"fill:#c62828;font-size:14px\">\u{2715}<title>{}</title></text>",
                    y + 30.0,
                    escape(&line.to_string())
                );
            }
            tag::RESTART => {
                if let Some(since) = down_since[lane].take() {
                    interval(out, replica, since, line.tick, "#555", "down");
                }
                recovering_since[lane] = Some(line.tick);
                let _ = writeln!(
                    out,
                    "<path class=\"event\" d=\"M{px:.1} {:.1}l-4 7h8z\" fill=\"#2e7d32\"><title>{}</title></path>",
                    y + 24.0,
                    escape(&line.to_string())
                );
            }
            tag::RECOVERED => {
                if let Some(since) = recovering_since[lane].take() {
                    interval(out, replica, since, line.tick, "#ffe082", "recovering");
                }
            }
            tag::VIEW_CHANGE | tag::START_VIEW | tag::ADOPT_START_VIEW | tag::NOTE_NACK => {
                let tall = line.tag == tag::START_VIEW;
                let _ = writeln!(
                    out,
                    "<rect class=\"event\" x=\"{:.1}\" y=\"{:.1}\" width=\"2\" height=\"{}\" fill=\"#7e57c2\"><title>{}</title></rect>",
                    px - 1.0,
                    y + if tall { 0.0 } else { 20.0 },
                    if tall { LANE_HEIGHT - 4.0 } else { 10.0 },
                    escape(&line.to_string())
                );
            }
            _ => {}
        }
    }
    for lane in 0..replicas {
        let _ = writeln!(
            out,
            "<path d=\"{}\" stroke=\"#1e88e5\" stroke-width=\"1\" fill=\"none\"/><path d=\"{}\" stroke=\"#9e9e9e\" stroke-width=\"1\" fill=\"none\"/>",
            prepares[lane], writes[lane]
        );
        if let Some(since) = down_since[lane] {
            interval(out, lane as u8, since, tick_end, "#555", "down");
        }
        if let Some(since) = recovering_since[lane] {
            interval(out, lane as u8, since, tick_end, "#ffe082", "recovering");
        }
    }
    let config = &outcome.config.journal;
    for (index, record) in recorded.faults.iter().enumerate() {
        let kind = fault_kind_name(&record.kind);
        let _ = writeln!(
            out,
            "<circle class=\"fault\" id=\"fault-{index}\" data-tick=\"{}\" data-replica=\"{}\" data-kind=\"{kind}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{}\" stroke=\"#333\" stroke-width=\"0.5\"><title>tick {} r{}: {}</title></circle>",
            record.tick,
            record.replica,
            x(record.tick),
            lane_top(record.replica) + 34.0,
            fault_colour(kind),
            record.tick,
            record.replica,
            escape(&fault_text(config, record))
        );
    }
    if let Some(failure) = &outcome.failure {
        let px = x(failure.tick);
        let _ = writeln!(
            out,
            "<line id=\"failure-marker\" x1=\"{px:.1}\" y1=\"{TOP}\" x2=\"{px:.1}\" y2=\"{:.1}\" stroke=\"#c62828\" stroke-width=\"3\"><title>FAILED checker {} at tick {}: {}</title></line><text x=\"{px:.1}\" y=\"{:.1}\" text-anchor=\"end\" style=\"fill:#c62828;font-weight:700\">FAILED {}</text>",
            height - 20.0,
            escape(failure.checker),
            failure.tick,
            escape(&failure.message),
            height - 6.0,
            escape(failure.checker)
        );
    }
    out.push_str("</svg>\n");
}

/// Cell size of the ring grids.
const CELL: f64 = 14.0;

fn rings(out: &mut String, recorded: &Recorded, failure_tick: Option<u64>) {
    let recoveries: Vec<&RingPicture> = recorded
        .rings
        .iter()
        .map(|(_, p)| p)
        .filter(|p| p.moment == Moment::Recovery)
        .collect();
    let _ = writeln!(
        out,
        "<h2>Rings at each recovery ({})</h2>\n<p class=\"legend\">{}<span>outlined: the recovering replica's slots that did not recover clean; C checkpoint, H head; hover a slot for its case and decision</span></p>",
        recoveries.len(),
        SlotState::ALL
            .iter()
            .map(|s| format!(
                "<span><span class=\"swatch\" style=\"background:{}\"></span>{} <code>{}</code></span>",
                state_colour(*s),
                s.name(),
                escape(&s.char().to_string())
            ))
            .collect::<String>()
    );
    for picture in recoveries {
        let failing = failure_tick == Some(picture.tick);
        let _ = writeln!(
            out,
            "<h3{}>tick {} r{} recovered: {}{}</h3>",
            if failing { " class=\"failed\"" } else { "" },
            picture.tick,
            picture.replica,
            escape(&recovery_summary(picture)),
            if failing {
                " (the checker failed here)"
            } else {
                ""
            }
        );
        ring_svg(out, picture);
    }
}

/// One picture as a grid: a row per replica, a cell per slot, coloured by state; the
/// recovering replica's cells name their case and decision.
fn ring_svg(out: &mut String, picture: &RingPicture) {
    let width = 40.0 + CELL * picture.slot_count as f64 + 300.0;
    let height = 8.0 + (CELL + 12.0) * picture.rows.len() as f64;
    let _ = writeln!(
            out,
            "<svg class=\"ring\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">"
        );
    for (row_index, row) in picture.rows.iter().enumerate() {
        let y = 4.0 + (CELL + 12.0) * row_index as f64;
        let subject = row.replica == picture.replica;
        let _ = writeln!(
            out,
            "<text x=\"2\" y=\"{:.1}\"{}>r{}</text>",
            y + CELL - 3.0,
            if subject {
                " style=\"font-weight:700\""
            } else {
                ""
            },
            row.replica
        );
        if row.cells.is_empty() {
            let _ = writeln!(
                out,
                "<text x=\"40\" y=\"{:.1}\" class=\"muted\">({})</text>",
                y + CELL - 3.0,
                escape(&row.status)
            );
            continue;
        }
        let head = row.op_head % picture.slot_count;
        let checkpoint = row.op_checkpoint % picture.slot_count;
        for (slot, cell) in row.cells.iter().enumerate() {
            let cx = 40.0 + CELL * slot as f64;
            let (stroke, width) = match cell.recovery {
                Some((_, decision)) if !recovered_clean(decision) => ("#000", 2.0),
                _ => ("#bbb", 0.5),
            };
            let title = match cell.recovery {
                Some((label, decision)) => format!(
                    "r{} slot {slot}: {label} {decision}, op {}, now {}",
                    row.replica,
                    cell.op,
                    cell.state.name()
                ),
                None => format!(
                    "r{} slot {slot}: {}, op {}",
                    row.replica,
                    cell.state.name(),
                    cell.op
                ),
            };
            let _ = writeln!(
                    out,
                    "<rect class=\"cell\" x=\"{cx:.1}\" y=\"{y:.1}\" width=\"{}\" height=\"{}\" fill=\"{}\" stroke=\"{stroke}\" stroke-width=\"{width}\"><title>{}</title></rect>",
                    CELL - 1.0,
                    CELL - 1.0,
                    state_colour(cell.state),
                    escape(&title)
                );
            let marker = match (slot as u64 == checkpoint, slot as u64 == head) {
                (true, true) => "CH",
                (true, false) => "C",
                (false, true) => "H",
                (false, false) => "",
            };
            if !marker.is_empty() {
                let _ = writeln!(
                    out,
                    "<text x=\"{cx:.1}\" y=\"{:.1}\" style=\"font-size:9px\">{marker}</text>",
                    y + CELL + 9.0
                );
            }
        }
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\">head op {} checkpoint op {} {}</text>",
            48.0 + CELL * picture.slot_count as f64,
            y + CELL - 3.0,
            row.op_head,
            row.op_checkpoint,
            escape(&row.status)
        );
    }
    out.push_str("</svg>\n");
    // The slots that did not recover clean, in words (hovering shows every slot).
    let subject = picture.rows.iter().find(|r| r.replica == picture.replica);
    let not_clean: Vec<String> = subject
        .into_iter()
        .flat_map(|row| row.cells.iter().enumerate())
        .filter_map(|(slot, cell)| {
            let (label, decision) = cell.recovery?;
            (!recovered_clean(decision)).then(|| {
                format!(
                    "<li>r{} slot {slot}: <b>{label} {decision}</b>, op {}, now {}</li>",
                    picture.replica,
                    cell.op,
                    cell.state.name()
                )
            })
        })
        .collect();
    if !not_clean.is_empty() {
        let _ = writeln!(out, "<ul class=\"slots\">{}</ul>", not_clean.join(""));
    }
}

fn faults_table(out: &mut String, outcome: &Outcome, recorded: &Recorded) {
    let config = &outcome.config.journal;
    let _ = writeln!(
        out,
        "<h2>Faults injected ({})</h2>\n<table id=\"faults\">\n<tr><th>tick</th><th>replica</th><th>kind</th><th>where</th></tr>",
        recorded.faults.len()
    );
    for record in &recorded.faults {
        let kind = fault_kind_name(&record.kind);
        let _ = writeln!(
            out,
            "<tr><td class=\"number\">{}</td><td>r{}</td><td><span class=\"swatch\" style=\"background:{}\"></span>{kind}</td><td>{}</td></tr>",
            record.tick,
            record.replica,
            fault_colour(kind),
            escape(&fault_text(config, record))
        );
    }
    out.push_str("</table>\n");
}

/// A fuzz run's page: the verdict, the coverage table (every case by decision, and the
/// protocol events) and each failure with its repro command.
pub fn fuzz_page(report: &Report) -> String {
    let mut out = String::with_capacity(64 * 1024);
    page_start(
        &mut out,
        &format!("vopr fuzz {}..{}", report.seed_first, report.seed_end),
    );
    let _ = writeln!(
        out,
        "<h1>vopr fuzz, seeds {}..{}{}</h1>",
        report.seed_first,
        report.seed_end,
        escape(&report.overrides.flags())
    );
    let passed = report.passed();
    let _ = writeln!(
        out,
        "<div class=\"{}\"><p><b>{}</b>: {} of {} seeds run in {:.1}s, {} failed; reachable cases missing: {}</p></div>",
        if passed { "verdict-passed" } else { "verdict-failed" },
        if passed { "passed" } else { "FAILED" },
        report.seeds_run,
        report.seeds_planned,
        report.elapsed_s,
        report.failures.len(),
        escape(&format!("{:?}", report.missing_cases))
    );
    let _ = writeln!(
        out,
        "<h2>Failures ({})</h2>\n<table id=\"failures\">\n<tr><th>seed</th><th>checker</th><th>message</th><th>reproduce</th></tr>",
        report.failures.len()
    );
    for failure in &report.failures {
        let _ = writeln!(
            out,
            "<tr class=\"failed\"><td class=\"number\">{}</td><td>{}</td><td>{}</td><td><code>{}</code><br><code>{}</code></td></tr>",
            failure.seed,
            escape(&failure.checker),
            escape(&failure.message),
            escape(&failure.repro),
            escape(&crate::vopr_command(&format!(
                "report {}{} --html seed-{}.html",
                failure.seed,
                report.overrides.flags(),
                failure.seed
            )))
        );
    }
    out.push_str("</table>\n");
    coverage_table(&mut out, &report.coverage);
    page_end(&mut out);
    out
}

fn coverage_table(out: &mut String, coverage: &Coverage) {
    let decisions = journal::Decision::ALL;
    let _ = write!(
        out,
        "<h2>Coverage</h2>\n<table id=\"coverage\">\n<tr><th>case</th><th>total</th>"
    );
    for decision in decisions {
        let _ = write!(out, "<th>{}</th>", decision.name());
    }
    out.push_str("<th>required</th></tr>\n");
    let missing = coverage.missing();
    for case in journal::decision_table::CASES.iter() {
        let counts = coverage.0.get(case.label);
        let _ = write!(
            out,
            "<tr{}><td>{}</td><td class=\"number\">{}</td>",
            if missing.contains(&case.label) {
                " class=\"failed\""
            } else {
                ""
            },
            escape(case.label),
            coverage.count(case.label)
        );
        for decision in decisions {
            let count = counts
                .and_then(|c| c.get(decision.name()))
                .copied()
                .unwrap_or(0);
            if count == 0 {
                out.push_str("<td class=\"number muted\">.</td>");
            } else {
                let _ = write!(out, "<td class=\"number\">{count}</td>");
            }
        }
        let _ = writeln!(
            out,
            "<td>{}</td></tr>",
            if crate::coverage::is_required(case.label) {
                "yes"
            } else {
                "no"
            }
        );
    }
    out.push_str(
        "</table>\n<table id=\"events\">\n<tr><th>protocol event</th><th>count</th></tr>\n",
    );
    for (name, decisions) in coverage.0.iter().filter(|(name, _)| name.starts_with('~')) {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"number\">{}</td></tr>",
            escape(name.trim_start_matches('~')),
            decisions.values().sum::<u64>()
        );
    }
    out.push_str("</table>\n");
}
