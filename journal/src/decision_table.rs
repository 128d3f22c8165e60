//! The recovery decision table: one row per case `@A`…`@P`, as data.
//!
//! Each slot's recovery is decided from eleven booleans about its redundant header (from the
//! `wal_headers` ring) and its prepare (from the `wal_prepares` ring). A row's `Must` columns
//! select it; its `Assert` columns are states the design calls impossible: reaching one is a bug,
//! never a disk fault. Every one of the 2^11 combinations selects exactly one row (the exhaustive
//! test below checks it), and [`decide`] reports the impossible ones as [`Impossible`].
//!
//! Legend of the decisions:
//! - `eql`: header and prepare agree: clean.
//! - `nil`: both reserved, a slot never used: clean.
//! - `fix`: the prepare is intact; rewrite the redundant header from it.
//! - `vsr`: the slot is lost locally; mark it dirty and faulty and repair it from a peer by
//!   checksum. For a solo replica there is no peer: the slot is unrecoverable, and said so.
//! - `cut`: the prepare lies beyond `op_prepare_max`; truncate the slot to reserved.
//!
//! A solo replica never prepares past its max, so for it `@H`, `@I` and `@J` arise only from
//! damage the cluster's fault atlas keeps away from a solo replica but a real disk does not: a
//! misdirected write or a stale sector carrying a valid entry of another place. Such a slot's
//! own entry is lost: `vsr`, which for a solo replica is unrecoverable, reported as such
//! (DESIGN.md's table marks these cells `unr`; the file WAL on `SimFile` reached them).

use serde::Serialize;
use std::sync::OnceLock;

/// Number of input columns.
pub const INPUT_COUNT: usize = 11;

/// The input columns, in the order of DESIGN.md §2.6.
pub const INPUT_NAMES: [&str; INPUT_COUNT] = [
    "header_ok",
    "header_reserved",
    "prepare_ok",
    "prepare_reserved",
    "prepare_op_max",
    "prepare_op_above_prepare_max",
    "header_op_above_prepare_max",
    "checksums_equal",
    "ops_equal",
    "header_op_below_prepare_op",
    "views_equal",
];

/// What recovery does with a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Eql,
    Nil,
    Fix,
    Vsr,
    Cut,
    /// The `cut_torn` refinement of a `vsr` decision for `@B`/`@C`: a prepare torn at the head.
    CutTorn,
}

impl Decision {
    /// The table's three-letter name.
    pub fn name(self) -> &'static str {
        match self {
            Decision::Eql => "eql",
            Decision::Nil => "nil",
            Decision::Fix => "fix",
            Decision::Vsr => "vsr",
            Decision::Cut => "cut",
            Decision::CutTorn => "cut_torn",
        }
    }

    /// Every decision, in table order.
    pub const ALL: [Decision; 6] = [
        Decision::Eql,
        Decision::Nil,
        Decision::Fix,
        Decision::Vsr,
        Decision::Cut,
        Decision::CutTorn,
    ];
}

/// One cell of a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// `_`: ignored.
    Any,
    /// `0` / `1`: must match for the row to apply.
    Must(bool),
    /// `!0` / `!1`: the row's state implies this value; anything else is a bug.
    Assert(bool),
}

/// One row of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Case {
    pub label: &'static str,
    pub pattern: [Pattern; INPUT_COUNT],
    /// Decision for a cluster (replica_count > 1).
    pub cluster: Decision,
    /// Decision for a solo replica (replica_count = 1).
    pub solo: Decision,
}

impl Case {
    /// Whether the row's `Must` columns all match (assertion columns are wildcards here).
    pub fn selects(&self, inputs: &[bool; INPUT_COUNT]) -> bool {
        self.pattern
            .iter()
            .zip(inputs)
            .all(|(pattern, &input)| match pattern {
                Pattern::Must(value) => *value == input,
                Pattern::Any | Pattern::Assert(_) => true,
            })
    }

    /// The first assertion column the inputs violate, if any.
    pub fn violated_assertion(&self, inputs: &[bool; INPUT_COUNT]) -> Option<usize> {
        self.pattern.iter().zip(inputs).position(
            |(pattern, &input)| matches!(pattern, Pattern::Assert(value) if *value != input),
        )
    }

    /// The decision for a replica of this kind.
    pub fn decision(&self, solo: bool) -> Decision {
        if solo {
            self.solo
        } else {
            self.cluster
        }
    }
}

use Decision::{Cut, Eql, Fix, Nil, Vsr};
use Pattern::{Any as __, Assert, Must};

const I: Pattern = Must(true);
const O: Pattern = Must(false);
const A0: Pattern = Assert(false);
const A1: Pattern = Assert(true);

const fn case(
    label: &'static str,
    pattern: [Pattern; INPUT_COUNT],
    cluster: Decision,
    solo: Decision,
) -> Case {
    Case {
        label,
        pattern,
        cluster,
        solo,
    }
}

/// The table. Columns: header ok, header reserved, prepare ok, prepare reserved, prepare.op is
/// the maximum, prepare.op > op_prepare_max, header.op > op_prepare_max, checksums match, ops
/// equal, header.op < prepare.op, views equal.
#[rustfmt::skip]
pub const CASES: [Case; 16] = [
    // @A: both copies bad (faults in both zones, or a torn header sector over a faulty prepare).
    case("@A", [O,  __, O,  __, __, A0, A0, __, __, __, __], Vsr, Vsr),
    // @B: prepare bad, header reserved: a torn first-wrap prepare write, or a fault on it.
    case("@B", [I,  I,  O,  __, __, A0, __, __, __, __, __], Vsr, Vsr),
    // @C: prepare bad, header valid: a torn write over an older wrap, or rot/misdirection.
    case("@C", [I,  O,  O,  __, __, A0, __, __, __, __, __], Vsr, Vsr),
    // @D: header bad, prepare reserved: torn header sector in the first wrap. A solo replica
    // trusts the reserved prepare; a cluster cannot tell it from a lost prepare write.
    case("@D", [O,  __, I,  I,  __, __, A0, __, __, __, __], Vsr, Fix),
    // @E: header bad, prepare valid but not the head: a torn, corrupt or misdirected header.
    case("@E", [O,  __, I,  O,  O,  O,  A0, __, __, __, __], Vsr, Fix),
    // @F: header bad, prepare is the head: a crash while writing the header sector after it.
    case("@F", [O,  __, I,  O,  I,  O,  A0, __, __, __, __], Fix, Fix),
    // @G: header reserved, prepare valid: a crash between prepare and header write.
    case("@G", [I,  I,  I,  O,  __, O,  __, __, __, __, __], Fix, Fix),
    // @H: prepare beyond op_prepare_max: written by a backup before its checkpoint was durable.
    // A solo replica: damage (module doc), reported.
    case("@H", [__, __, I,  O,  __, I,  __, __, __, __, __], Cut, Vsr),
    // @I: the same seen through the header, prepare older.
    case("@I", [I,  O,  I,  O,  __, O,  I,  __, __, A0, __], Cut, Vsr),
    // @J: the same seen through the header, prepare still reserved.
    case("@J", [I,  O,  I,  I,  __, __, I,  __, __, A0, __], Cut, Vsr),
    // @K: header valid, prepare reserved: a lost or misdirected prepare write or read.
    case("@K", [I,  O,  I,  I,  __, __, O,  __, __, __, __], Vsr, Vsr),
    // @L: both reserved: a slot never used.
    case("@L", [I,  I,  I,  I,  __, __, __, A1, A1, A0, A1], Nil, Nil),
    // @M: header op < prepare op: the ring wrapped and the header write was lost.
    case("@M", [I,  O,  I,  O,  __, O,  O,  O,  O,  I,  __], Fix, Fix),
    // @N: header op > prepare op: the newer prepare's write was lost or misdirected.
    case("@N", [I,  O,  I,  O,  __, O,  O,  O,  O,  O,  __], Vsr, Vsr),
    // @O: same op, different checksum: rewritten in a newer view, and a crash split the two.
    case("@O", [I,  O,  I,  O,  __, O,  O,  O,  I,  A0, A0], Vsr, Vsr),
    // @P: header and prepare agree: the normal case.
    case("@P", [I,  O,  I,  O,  __, O,  O,  I,  A1, A0, A1], Eql, Eql),
];

/// The inputs select a row whose assertion columns they break: a bug, not a disk fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Impossible {
    pub label: &'static str,
    pub column: usize,
}

impl std::fmt::Display for Impossible {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "impossible state for case {}: column {} ({})",
            self.label, self.column, INPUT_NAMES[self.column]
        )
    }
}

/// The row the inputs select. The table is exhaustive and disjoint (tested), so this always finds
/// exactly one.
pub fn case_for(inputs: &[bool; INPUT_COUNT]) -> &'static Case {
    let mut found: Option<&'static Case> = None;
    for case in CASES.iter() {
        if case.selects(inputs) {
            assert!(
                found.is_none(),
                "inputs {inputs:?} select {} and {}",
                found.map_or("", |c| c.label),
                case.label
            );
            found = Some(case);
        }
    }
    found.expect("the decision table is exhaustive")
}

/// Decides a slot: the selected row, or [`Impossible`] when its assertion columns fail.
///
/// Looked up in the answers [`decide_by_scan`] gives for all 2^11 inputs, found at the first
/// call: recovery decides every slot of the ring at every restart, and a scan of the rows costs
/// about twenty times the lookup. A table that is not exhaustive and disjoint fails that first
/// call, whichever inputs it is asked.
pub fn decide(inputs: &[bool; INPUT_COUNT]) -> Result<&'static Case, Impossible> {
    static DECISIONS: OnceLock<Vec<Result<&'static Case, Impossible>>> = OnceLock::new();
    let decisions = DECISIONS.get_or_init(|| {
        (0..1 << INPUT_COUNT)
            .map(|index| decide_by_scan(&inputs_of_index(index)))
            .collect()
    });
    decisions[index_of_inputs(inputs)]
}

/// [`decide`] by a scan of the rows: its definition.
pub fn decide_by_scan(inputs: &[bool; INPUT_COUNT]) -> Result<&'static Case, Impossible> {
    let case = case_for(inputs);
    match case.violated_assertion(inputs) {
        None => Ok(case),
        Some(column) => Err(Impossible {
            label: case.label,
            column,
        }),
    }
}

/// Table index of `inputs` (the inverse of [`inputs_of_index`]).
pub fn index_of_inputs(inputs: &[bool; INPUT_COUNT]) -> usize {
    inputs
        .iter()
        .fold(0, |index, &input| index << 1 | usize::from(input))
}

/// Inputs for table index `index`: column `k` is bit `10 - k`.
pub fn inputs_of_index(index: usize) -> [bool; INPUT_COUNT] {
    assert!(index < 1 << INPUT_COUNT);
    let mut inputs = [false; INPUT_COUNT];
    for (column, input) in inputs.iter_mut().enumerate() {
        *input = index & (1 << (INPUT_COUNT - 1 - column)) != 0;
    }
    inputs
}

#[derive(Serialize)]
struct Row {
    inputs: [u8; INPUT_COUNT],
    label: &'static str,
    cluster: &'static str,
    solo: &'static str,
}

/// The decision for all 2^11 inputs as a JSON array, in index order (see [`inputs_of_index`]).
pub fn table_json() -> String {
    let rows: Vec<Row> = (0..1usize << INPUT_COUNT)
        .map(|index| {
            let inputs = inputs_of_index(index);
            let case = case_for(&inputs);
            let (cluster, solo) = match decide(&inputs) {
                Ok(case) => (case.cluster.name(), case.solo.name()),
                Err(_) => ("impossible", "impossible"),
            };
            Row {
                inputs: inputs.map(u8::from),
                label: case.label,
                cluster,
                solo,
            }
        })
        .collect();
    serde_json::to_string_pretty(&rows).expect("rows serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lookup answers what the scan answers, for every input, and the index maps both ways.
    #[test]
    fn decide_looks_up_what_the_scan_decides() {
        for index in 0..1usize << INPUT_COUNT {
            let inputs = inputs_of_index(index);
            assert_eq!(index_of_inputs(&inputs), index);
            let (looked_up, scanned) = (decide(&inputs), decide_by_scan(&inputs));
            assert_eq!(
                looked_up.map(|case| case.label),
                scanned.map(|case| case.label),
                "index {index}"
            );
            if let (Ok(looked_up), Ok(scanned)) = (looked_up, scanned) {
                assert!(std::ptr::eq(looked_up, scanned));
            }
        }
    }

    /// Every combination selects exactly one row; `case_for` asserts there are no two.
    #[test]
    fn table_is_exhaustive_and_disjoint() {
        let mut per_label = std::collections::BTreeMap::new();
        let mut impossible_count = 0;
        for index in 0..1usize << INPUT_COUNT {
            let inputs = inputs_of_index(index);
            let selecting: Vec<&str> = CASES
                .iter()
                .filter(|c| c.selects(&inputs))
                .map(|c| c.label)
                .collect();
            assert_eq!(
                selecting.len(),
                1,
                "index {index} inputs {inputs:?} select {selecting:?}"
            );
            match decide(&inputs) {
                Ok(case) => *per_label.entry(case.label).or_insert(0) += 1,
                Err(_) => impossible_count += 1,
            }
        }
        // Every row is reachable by some possible combination.
        for case in CASES.iter() {
            assert!(
                per_label.get(case.label).copied().unwrap_or(0) > 0,
                "{} never possible",
                case.label
            );
        }
        assert!(impossible_count > 0);
        assert_eq!(per_label.values().sum::<i32>() + impossible_count, 2048);
    }

    #[test]
    fn normal_and_empty_slots() {
        // header ok, not reserved, prepare ok, not reserved, op max, ≤ pmax, ≤ pmax, sums equal,
        // ops equal, not below, views equal.
        let normal = [
            true, false, true, false, true, false, false, true, true, false, true,
        ];
        assert_eq!(
            decide(&normal).map(|c| (c.label, c.cluster)),
            Ok(("@P", Eql))
        );
        let empty = [
            true, true, true, true, false, false, false, true, true, false, true,
        ];
        assert_eq!(decide(&empty).map(|c| (c.label, c.solo)), Ok(("@L", Nil)));
        // Two reserved headers that differ in checksum are a bug.
        let mut broken = empty;
        broken[7] = false;
        assert_eq!(
            decide(&broken),
            Err(Impossible {
                label: "@L",
                column: 7
            })
        );
        // The text a failing seed's report carries when recovery asserts on it: the row, the
        // column and what the column means, so the bug can be found from the report alone.
        let impossible = decide(&broken).expect_err("impossible");
        assert_eq!(
            impossible.to_string(),
            format!(
                "impossible state for case @L: column 7 ({})",
                INPUT_NAMES[7]
            )
        );
    }

    #[test]
    fn solo_and_cluster_differ_where_the_design_says() {
        let differing: Vec<&str> = CASES
            .iter()
            .filter(|c| c.cluster != c.solo)
            .map(|c| c.label)
            .collect();
        assert_eq!(differing, ["@D", "@E", "@H", "@I", "@J"]);
    }

    #[test]
    fn json_has_2048_rows_in_index_order() {
        let json: serde_json::Value = serde_json::from_str(&table_json()).unwrap();
        let rows = json.as_array().unwrap();
        assert_eq!(rows.len(), 2048);
        assert_eq!(
            rows[0]["inputs"],
            serde_json::json!([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        );
        assert_eq!(rows[0]["label"], "@A");
        assert_eq!(rows[0]["cluster"], "vsr");
        // Index 1 << 10 sets column 0 (header ok) only: header ok, not reserved, prepare bad: @C.
        assert_eq!(rows[1 << 10]["label"], "@C");
        assert_eq!(rows[2047]["label"], "@L");
        assert_eq!(rows[2047]["cluster"], "impossible");
    }
}
