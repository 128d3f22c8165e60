//! Issue 19: a failing seed explained at a glance. `vopr replay` must name every fault the disks
//! injected at its tick, picture the rings at every crash and recovery, and stay quiet about the
//! slots that recovered clean; `vopr report --html` must be a well-formed page (parsed by a real
//! HTML5 parser, html5ever through `scraper`) that names every fault of the seed's fault log.
//! None of it may change a run: a replayed seed has the same trace hash as a plain run.

use scraper::{Html, Selector};
use simulator::cluster::Outcome;
use simulator::replay::{fault_kind_name, fault_text, fault_touches_slot, render, Filter};
use simulator::report_html::{fuzz_page, seed_page};
use simulator::ring_picture::Moment;
use simulator::Overrides;
use std::process::Command;

/// Seed 3: four replicas, 25,056 ticks, 72 faults, 151 recoveries (this revision).
const SEED: u64 = 3;

fn replayed(seed: u64) -> Outcome {
    simulator::run_seed(seed, true)
}

fn selector(text: &str) -> Selector {
    Selector::parse(text).expect("valid selector")
}

/// The page parses without a single HTML5 parse error.
fn parse_clean(page: &str) -> Html {
    let html = Html::parse_document(page);
    assert!(
        html.errors.is_empty(),
        "HTML parse errors: {:?}",
        html.errors
    );
    html
}

#[test]
fn replay_keeps_every_trace_hash() {
    for seed in 0..20 {
        let plain = simulator::run_seed(seed, false);
        let replay = replayed(seed);
        assert_eq!(plain.trace_hash, replay.trace_hash, "seed {seed}");
        assert_eq!(plain.ticks, replay.ticks, "seed {seed}");
        assert_eq!(plain.failure, replay.failure, "seed {seed}");
        assert!(plain.recorded.is_none(), "a plain run keeps nothing");
        assert!(replay.recorded.is_some(), "a replay keeps its record");
    }
}

#[test]
fn replay_names_every_fault_at_its_tick() {
    let outcome = replayed(SEED);
    let recorded = outcome.recorded.as_ref().expect("replayed");
    assert!(
        recorded.faults.len() >= 10,
        "seed {SEED} should inject faults"
    );
    let text = render(&outcome, &Overrides::default(), &Filter::default());
    let config = &outcome.config.journal;
    for record in &recorded.faults {
        let line = format!(
            "tick {:>6} r{}: {}",
            record.tick,
            record.replica,
            fault_text(config, record)
        );
        assert!(text.contains(&line), "missing fault line: {line}");
    }
    assert_eq!(
        text.lines().filter(|l| l.contains(": FAULT ")).count(),
        recorded.faults.len()
    );
    // Faults are printed in tick order among the events.
    let ticks: Vec<u64> = text
        .lines()
        .filter_map(|l| l.strip_prefix("tick "))
        .filter_map(|l| {
            l.split_whitespace()
                .next()?
                .trim_end_matches(':')
                .parse()
                .ok()
        })
        .collect();
    assert!(ticks.windows(2).all(|w| w[0] <= w[1]), "ticks out of order");
}

#[test]
fn replay_summarizes_recoveries_and_pictures_every_crash_and_recovery() {
    let outcome = replayed(SEED);
    let recorded = outcome.recorded.as_ref().expect("replayed");
    let default = render(&outcome, &Overrides::default(), &Filter::default());
    let crashes = default
        .lines()
        .filter(|l| l.contains(": crash, restart at tick "))
        .count();
    let recoveries = recorded
        .rings
        .iter()
        .filter(|(_, p)| p.moment == Moment::Recovery)
        .count();
    assert!(crashes > 0 && recoveries > 0);
    assert_eq!(
        default.matches("ring at crash:").count(),
        crashes,
        "one picture per crash"
    );
    assert_eq!(default.matches("ring at recovery:").count(), recoveries);
    assert_eq!(default.matches(": recovery: @").count(), recoveries);
    assert_eq!(default.matches("ring legend:").count(), 1, "legend once");
    // By default, only slots that did not recover clean get a line.
    let slot_lines = |text: &str, decision: &str| {
        text.lines()
            .filter(|l| l.contains(": slot ") && l.contains(&format!(" {decision} (op ")))
            .count()
    };
    assert_eq!(slot_lines(&default, "eql"), 0);
    assert_eq!(slot_lines(&default, "nil"), 0);
    let verbose = render(
        &outcome,
        &Overrides::default(),
        &Filter {
            verbose: true,
            ..Filter::default()
        },
    );
    let every_slot = verbose
        .lines()
        .filter(|l| l.contains(": slot ") && l.contains(" (op "))
        .count();
    assert_eq!(
        every_slot as u64,
        recoveries as u64 * outcome.config.journal.slot_count,
        "--verbose prints every slot of every recovery"
    );
    assert!(default.lines().count() < verbose.lines().count());
}

#[test]
fn replay_filters_by_replica_slot_and_ticks() {
    let outcome = replayed(SEED);
    let recorded = outcome.recorded.as_ref().expect("replayed");
    let event_replica = |line: &str| -> Option<u8> {
        let rest = line.strip_prefix("tick ")?;
        let (_, after) = rest.split_once(" r")?;
        after.split(':').next()?.parse().ok()
    };
    let only_one = render(
        &outcome,
        &Overrides::default(),
        &Filter {
            replica: Some(1),
            ..Filter::default()
        },
    );
    assert!(only_one.lines().filter_map(event_replica).all(|r| r == 1));
    assert!(!only_one.contains("   r0 |") && !only_one.contains("  >r0 |"));
    let slot = 5;
    let one_slot = render(
        &outcome,
        &Overrides::default(),
        &Filter {
            slot: Some(slot),
            ..Filter::default()
        },
    );
    let faults_on_slot = recorded
        .faults
        .iter()
        .filter(|r| fault_touches_slot(&outcome.config.journal, r, slot))
        .count();
    assert_eq!(
        one_slot.lines().filter(|l| l.contains(": FAULT ")).count(),
        faults_on_slot
    );
    assert!(!one_slot.contains("ring at crash:"));
    for line in one_slot.lines().filter(|l| l.contains(": write op ")) {
        let op: u64 = line
            .split("write op ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|op| op.parse().ok())
            .expect("an op");
        assert_eq!(op % outcome.config.journal.slot_count, slot, "{line}");
    }
    let window = render(
        &outcome,
        &Overrides::default(),
        &Filter {
            ticks: Some((1000, 2000)),
            ..Filter::default()
        },
    );
    let ticks: Vec<u64> = window
        .lines()
        .filter_map(|l| l.strip_prefix("tick "))
        .filter_map(|l| {
            l.split_whitespace()
                .next()?
                .trim_end_matches(':')
                .parse()
                .ok()
        })
        .collect();
    assert!(!ticks.is_empty());
    assert!(ticks.iter().all(|t| (1000..2000).contains(t)));
}

#[test]
fn report_is_well_formed_and_names_every_fault() {
    let outcome = replayed(SEED);
    let recorded = outcome.recorded.as_ref().expect("replayed");
    let page = seed_page(&outcome, &Overrides::default());
    assert!(
        !page.contains(" src=") && !page.contains(" href="),
        "nothing linked"
    );
    assert!(!page.contains("<script"), "no script");
    assert!(!page.contains("<link"), "nothing loaded");
    let html = parse_clean(&page);
    let markers: Vec<_> = html
        .select(&selector("svg#timeline circle.fault"))
        .collect();
    assert_eq!(markers.len(), recorded.faults.len());
    let rows = html.select(&selector("table#faults tr")).count();
    assert_eq!(rows, recorded.faults.len() + 1, "one row per fault");
    let config = &outcome.config.journal;
    for record in &recorded.faults {
        let text = fault_text(config, record);
        let found = markers.iter().any(|m| {
            let v = m.value();
            v.attr("data-tick") == Some(&record.tick.to_string())
                && v.attr("data-replica") == Some(&record.replica.to_string())
                && v.attr("data-kind") == Some(fault_kind_name(&record.kind))
                && m.text().collect::<String>().contains(&text)
        });
        assert!(
            found,
            "no marker names tick {} r{}: {text}",
            record.tick, record.replica
        );
    }
    let recoveries = recorded
        .rings
        .iter()
        .filter(|(_, p)| p.moment == Moment::Recovery)
        .count();
    assert_eq!(html.select(&selector("svg.ring")).count(), recoveries);
    let repro = html
        .select(&selector("pre#repro"))
        .next()
        .expect("repro")
        .text()
        .collect::<String>();
    assert!(repro.contains(&format!("run {SEED}")), "{repro}");
    assert!(
        html.select(&selector("#verdict")).next().is_some(),
        "a passing seed gets a report"
    );
}

#[test]
fn report_highlights_the_failing_checker_and_escapes_its_message() {
    let mut outcome = replayed(1);
    // A failure at the tick of some recovery: the verdict shows the rings that recovery left.
    let recovery_tick = outcome
        .recorded
        .as_ref()
        .expect("replayed")
        .rings
        .iter()
        .find(|(_, p)| p.moment == Moment::Recovery)
        .map(|(_, p)| p.tick)
        .expect("seed 1 recovers");
    outcome.failure = Some(simulator::checkers::Failure {
        checker: "acked",
        message: "r1 lost op 7 <b>&</b> \"quoted\"".into(),
        tick: recovery_tick,
    });
    let html = parse_clean(&seed_page(&outcome, &Overrides::default()));
    let failure = html
        .select(&selector("div.verdict-failed#failure"))
        .next()
        .expect("the failure is highlighted");
    assert_eq!(
        failure
            .select(&selector(".checker"))
            .next()
            .expect("checker")
            .text()
            .collect::<String>(),
        "acked"
    );
    assert_eq!(
        failure
            .select(&selector("pre"))
            .next()
            .expect("message")
            .text()
            .collect::<String>(),
        "r1 lost op 7 <b>&</b> \"quoted\""
    );
    assert_eq!(failure.select(&selector("b b")).count(), 0);
    assert!(html
        .select(&selector("line#failure-marker"))
        .next()
        .is_some());
}

#[test]
fn fuzz_page_is_well_formed_with_coverage_and_failures() {
    let options = simulator::fuzz::FuzzOptions {
        seed_first: 0,
        seed_end: 6,
        jobs: 2,
        shard: (0, 1),
        time_budget: None,
        overrides: Overrides::default(),
    };
    let mut report = simulator::fuzz::fuzz(&options, &|_, _, _| {});
    report.failures.push(simulator::fuzz::FailureReport {
        seed: 4,
        checker: "history".into(),
        message: "op 3 <changed>".into(),
        repro: "vopr run 4".into(),
        trace_hash: "0".into(),
    });
    let html = parse_clean(&fuzz_page(&report));
    assert_eq!(
        html.select(&selector("table#failures tr.failed")).count(),
        1
    );
    let cases = html.select(&selector("table#coverage tr")).count();
    assert_eq!(cases, journal::decision_table::CASES.len() + 1);
    let page_text: String = html.root_element().text().collect();
    assert!(page_text.contains("op 3 <changed>"));
}

fn vopr() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vopr"))
}

#[test]
fn report_paths_are_checked_before_the_run() {
    let report = vopr()
        .args(["report", "3", "--html", "/no/such/dir/r.html"])
        .output()
        .expect("runs");
    assert_eq!(report.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&report.stderr);
    assert!(stderr.contains("--html /no/such/dir/r.html"), "{stderr}");
    let fuzz = vopr()
        .args([
            "fuzz",
            "--seeds",
            "0..100000",
            "--html",
            "/no/such/dir/f.html",
        ])
        .output()
        .expect("runs");
    assert_eq!(fuzz.status.code(), Some(2));
    assert!(fuzz.stdout.is_empty(), "nothing ran");
    let directory = std::env::temp_dir().join(format!("vopr-report-{}", std::process::id()));
    std::fs::create_dir_all(&directory).expect("temp dir");
    let path = directory.join("seed-2.html");
    let written = vopr()
        .args(["report", "2", "--html"])
        .arg(&path)
        .output()
        .expect("runs");
    assert_eq!(written.status.code(), Some(0));
    let page = std::fs::read_to_string(&path).expect("written");
    parse_clean(&page);
    std::fs::remove_dir_all(&directory).expect("cleaned");
}

/// Every torn write the disk logged at a crash shows as `T` in that crash's picture, and every
/// recovery's picture carries the decision the trace recorded for each slot.
#[test]
fn ring_pictures_agree_with_the_fault_log_and_the_trace() {
    let mut torn_seen = 0;
    for seed in 0..12 {
        let outcome = replayed(seed);
        let recorded = outcome.recorded.as_ref().expect("replayed");
        let config = &outcome.config.journal;
        for record in recorded
            .faults
            .iter()
            .filter(|r| r.kind == fault_models::FaultKind::TornWrite)
        {
            let picture = recorded
                .rings
                .iter()
                .map(|(_, p)| p)
                .find(|p| {
                    p.moment == Moment::Crash
                        && p.tick == record.tick
                        && p.replica == record.replica
                })
                .expect("a picture at every crash");
            let row = &picture.rows[usize::from(record.replica)];
            if row.cells.is_empty() {
                continue; // Crashed while recovering: its journal held nothing to draw.
            }
            for slot in
                simulator::replica::record_slots(config, record.zone, record.offset, record.len)
            {
                assert_eq!(
                    row.cells[slot as usize].state,
                    simulator::ring_picture::SlotState::Torn,
                    "seed {seed} tick {} r{} slot {slot}",
                    record.tick,
                    record.replica
                );
                torn_seen += 1;
            }
        }
        for (at, picture) in recorded
            .rings
            .iter()
            .filter(|(_, p)| p.moment == Moment::Recovery)
        {
            let row = &picture.rows[usize::from(picture.replica)];
            // The slot lines of this recovery are the lines just before the picture.
            let slot_lines: Vec<_> = recorded.lines[..*at]
                .iter()
                .rev()
                .take_while(|l| {
                    l.tag == simulator::trace::tag::SLOT_RECOVERED
                        && l.tick == picture.tick
                        && l.replica == picture.replica
                })
                .collect();
            assert_eq!(slot_lines.len(), row.cells.len(), "seed {seed}");
            for line in slot_lines {
                let slot = line.words[0] as usize;
                let (label, decision) = row.cells[slot].recovery.expect("decided");
                assert_eq!(line.text, format!("slot {slot}: {label} {decision}"));
            }
        }
    }
    assert!(torn_seen > 0, "seeds 0..12 tear some write at a crash");
}
