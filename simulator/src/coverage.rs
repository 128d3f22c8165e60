//! Which recovery case and decision every recovered slot hit, and which cases must be reached.

use journal::decision_table::CASES;
use journal::Decision;
use serde::Serialize;
use std::collections::BTreeMap;

/// Counts per case label, per decision name.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Coverage(pub BTreeMap<String, BTreeMap<String, u64>>);

/// Whether a fuzz run of a complete range must reach the case `label`.
pub fn is_required(label: &str) -> bool {
    REACHABLE.iter().any(|(reachable, _)| *reachable == label)
}

impl Coverage {
    pub fn add(&mut self, label: &str, decision: Decision, count: u64) {
        // Once per slot at every recovery: the names are allocated only the first time.
        let decisions = match self.0.get_mut(label) {
            Some(decisions) => decisions,
            None => self.0.entry(label.to_string()).or_default(),
        };
        match decisions.get_mut(decision.name()) {
            Some(counted) => *counted += count,
            None => {
                decisions.insert(decision.name().to_string(), count);
            }
        }
    }

    /// Counts a protocol event (not a recovery case): kept beside the cases under a name that
    /// starts with `~`, so reports and merges carry it unchanged.
    pub fn add_event(&mut self, name: &str, count: u64) {
        *self
            .0
            .entry(format!("~{name}"))
            .or_default()
            .entry("count".to_string())
            .or_default() += count;
    }

    /// How often a protocol event happened.
    pub fn event(&self, name: &str) -> u64 {
        self.event_counter(name, "count")
    }

    /// In how many runs a protocol event happened (once [`Coverage::end_run`] marked them).
    pub fn event_runs(&self, name: &str) -> u64 {
        self.event_counter(name, "runs")
    }

    fn event_counter(&self, name: &str, counter: &str) -> u64 {
        self.0
            .get(&format!("~{name}"))
            .and_then(|counts| counts.get(counter))
            .copied()
            .unwrap_or(0)
    }

    /// Marks, at the end of one run, each protocol event it saw as seen in one run: merged
    /// over a range, the marks count the seeds that reached each event.
    pub fn end_run(&mut self) {
        for (label, counts) in self.0.iter_mut() {
            if label.starts_with('~') && counts.get("count").is_some_and(|&count| count > 0) {
                counts.insert("runs".to_string(), 1);
            }
        }
    }

    /// The aimed windows ([`AIMED_WINDOWS`]), each with the share of `runs` that reached it and
    /// whether that share is below the goal (one run in a hundred).
    pub fn windows(&self, runs: u64) -> String {
        let mut out = String::new();
        for event in AIMED_WINDOWS {
            let reached = self.event_runs(event);
            let below = runs >= WINDOW_RUNS_MIN && reached * 100 < runs;
            out.push_str(&format!(
                "window ~{:<33} in {:>5} of {} seeds ({:.2}%){}\n",
                event,
                reached,
                runs,
                reached as f64 * 100.0 / runs.max(1) as f64,
                if below { "  BELOW the 1% goal" } else { "" }
            ));
        }
        out
    }

    pub fn merge(&mut self, other: &Coverage) {
        for (label, decisions) in &other.0 {
            for (decision, count) in decisions {
                *self
                    .0
                    .entry(label.clone())
                    .or_default()
                    .entry(decision.clone())
                    .or_default() += count;
            }
        }
    }

    pub fn count(&self, label: &str) -> u64 {
        self.0.get(label).map_or(0, |d| d.values().sum())
    }

    /// The table of every case with its counts, one line each.
    pub fn table(&self) -> String {
        let mut out = String::from("case  total     decisions\n");
        for case in CASES.iter() {
            let decisions = self.0.get(case.label).map(|d| {
                d.iter()
                    .map(|(name, count)| format!("{name}={count}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            });
            let reachable = if REACHABLE.iter().any(|(label, _)| *label == case.label) {
                ""
            } else {
                "  (not required)"
            };
            out.push_str(&format!(
                "{:<5} {:<9} {}{}\n",
                case.label,
                self.count(case.label),
                decisions.unwrap_or_default(),
                reachable
            ));
        }
        for event in PROTOCOL_EVENTS {
            out.push_str(&format!(
                "~{:<33} {:<9} in {} seeds\n",
                event,
                self.event(event),
                self.event_runs(event)
            ));
        }
        out
    }

    /// Reachable cases never reached.
    pub fn missing(&self) -> Vec<&'static str> {
        REACHABLE
            .iter()
            .filter(|(label, _)| self.count(label) == 0)
            .map(|(label, _)| *label)
            .collect()
    }
}

/// Protocol events counted beside the recovery cases: re-adoption of an op a view change had
/// truncated (same checksum, and with its old write still in flight), a slot moved back to an
/// older version of its op, a solo replica's recovery cutting several torn appends at once, and
/// runs that ended correctly unavailable (an uncommitted op no replica holds; see
/// `Simulation::unavailable_op`), a replica joining a newer view from its primary's message,
/// a new primary committing from a vote that came after its plan, an op a view change removed
/// adopted again while a write over its slot is still in flight (any version), a crash after a
/// truncating view change before the replica held its log clean again, and a checkpoint over
/// an op of which the replica held another version before (two versions across a checkpoint).
/// Each is counted per occurrence and per seed.
pub const PROTOCOL_EVENTS: [&str; 10] = [
    "readopt_same_checksum",
    "readopt_same_checksum_in_flight",
    "adopt_older_version",
    "solo_several_torn_appends_cut",
    "liveness_op_unavailable",
    "join_view",
    "late_vote_commit",
    "readd_truncated_in_flight",
    "crash_after_truncation",
    "checkpoint_over_replaced_version",
];

/// The rare protocol windows a fuzz run aims at (`RunConfig::window_aim_probability`, and the
/// swarm's other aims): each should be reached in at least one seed in a hundred.
pub const AIMED_WINDOWS: [&str; 4] = [
    "readopt_same_checksum_in_flight",
    "readd_truncated_in_flight",
    "checkpoint_over_replaced_version",
    "crash_after_truncation",
];

/// Below this many runs the share of a window is not judged (too few to mean anything).
pub const WINDOW_RUNS_MIN: u64 = 1000;

/// Cases a fuzz run over a seed range must reach (every row of the table), each with the
/// history that produces it in this simulator. `@I`, `@J` (and most `@K`/`@N`) come from aimed
/// faults (`RunConfig::aim_probability`).
pub const REACHABLE: &[(&str, &str)] = &[
    (
        "@A",
        "a torn header sector over a prepare that is also torn or faulted",
    ),
    (
        "@B",
        "a prepare torn during the first wrap (header still reserved)",
    ),
    (
        "@C",
        "a prepare torn over an older wrap, or bit rot / latent error / misdirection",
    ),
    (
        "@D",
        "a header sector torn during the first wrap over a reserved prepare",
    ),
    (
        "@E",
        "a header sector torn or faulted beside an older intact prepare",
    ),
    (
        "@F",
        "a crash while writing the header sector right after the head prepare",
    ),
    (
        "@G",
        "a crash between a first-wrap prepare and its header write",
    ),
    (
        "@H",
        "a backup wrote past its durable prepare max (in-memory checkpoint ahead), then crashed",
    ),
    (
        "@I",
        "a write past the durable prepare max whose prepare write was lost over an older wrap while its header landed, then a crash (aimed)",
    ),
    (
        "@J",
        "as @I in the first wrap: the lost prepare leaves the slot's prepare reserved (aimed)",
    ),
    (
        "@K",
        "a lost or misdirected prepare write in the first wrap under a written header",
    ),
    ("@L", "slots never used"),
    (
        "@M",
        "the ring wrapped and the newer header write was torn, lost or never issued",
    ),
    (
        "@N",
        "a newer prepare's write lost or misdirected while its header sector landed (one zone per chunk)",
    ),
    (
        "@O",
        "an op truncated in one view and made again in another: header and prepare split by a crash",
    ),
    ("@P", "the normal case"),
];
