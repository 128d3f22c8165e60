//! The runner's ground truth ([`Model`]): what the engine acknowledged, key by key, and the one
//! commit whose fate is open (it was in flight at a crash, or returned an error). Never fed by
//! the engine's own view of itself, except where the engine resolves an open commit by showing
//! its state after a reopen (then that state is what a reader was told, and must stay).
//!
//! The checks (`judge_*`) compare what an engine returned with it and name what went wrong:
//! - an acknowledged value missing, or one of its older versions back: data loss;
//! - a value of a version never acknowledged (nor in the open commit): never-committed data
//!   visible, which is wrong data returned `Ok`;
//! - bytes no write produced, or a value of another key: silent corruption.

use crate::engine::{Mutation, Scan};
use crate::outcome::Outcome;
use crate::values::{decode, Decoded};
use std::collections::BTreeMap;

/// One acknowledged key.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Acked {
    /// The value, if the last acknowledged mutation was a put.
    value: Option<Vec<u8>>,
    /// The version of the last acknowledged put of this key (kept after a delete: an older or
    /// equal version seen again is a rollback of the delete).
    version_put: u64,
}

/// What went wrong in one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub outcome: Outcome,
    /// The check that saw it (a stable name for reports and shrinking).
    pub checker: &'static str,
    pub message: String,
}

/// The ground truth of one run.
#[derive(Clone, Debug)]
pub struct Model {
    atomic_commits: bool,
    acked: BTreeMap<u64, Acked>,
    /// The commit whose fate is open: in flight at a crash, or failed with an error.
    open: Option<Vec<Mutation>>,
    commits_acked: u64,
}

impl Model {
    pub fn new(atomic_commits: bool) -> Model {
        Model {
            atomic_commits,
            acked: BTreeMap::new(),
            open: None,
            commits_acked: 0,
        }
    }

    /// The highest key holding an acknowledged value.
    pub fn key_last(&self) -> Option<u64> {
        self.acked
            .iter()
            .rev()
            .find(|(_, acked)| acked.value.is_some())
            .map(|(key, _)| *key)
    }

    pub fn commits_acked(&self) -> u64 {
        self.commits_acked
    }

    /// Whether a commit's fate is open.
    pub fn has_open(&self) -> bool {
        self.open.is_some()
    }

    /// The engine acknowledged `mutations`.
    pub fn acknowledge(&mut self, mutations: &[Mutation]) {
        assert!(
            self.open.is_none(),
            "a commit ran while another's fate was open"
        );
        apply(&mut self.acked, mutations);
        self.commits_acked += 1;
    }

    /// `mutations` may or may not have been committed: a crash hit their commit, or it failed.
    pub fn commit_open(&mut self, mutations: &[Mutation]) {
        assert!(self.open.is_none(), "two commits with open fates");
        self.open = Some(mutations.to_vec());
    }

    /// Judges a full scan after a reopen. When it matches a state the model allows (the
    /// acknowledged state, or that plus the open commit, all of it or, for a log, a prefix),
    /// that state becomes the acknowledged one. Keys below `scan.retained_from` are ones the
    /// engine may drop; it must keep at least the newest `retained_min` keys.
    pub fn judge_scan(&mut self, scan: &Scan, retained_min: Option<u64>) -> Option<Finding> {
        if let Some(finding) = self.judge_retention(scan, retained_min) {
            return Some(finding);
        }
        let open = self.open.clone().unwrap_or_default();
        let prefixes: Vec<usize> = if open.is_empty() {
            vec![0]
        } else if self.atomic_commits {
            vec![0, open.len()]
        } else {
            (0..=open.len()).collect()
        };
        for &prefix in prefixes.iter().rev() {
            let mut candidate = self.acked.clone();
            apply(&mut candidate, &open[..prefix]);
            if matches(&candidate, scan) {
                // Keys below `retained_from` stay: the engine may drop them, and may show them
                // again (a log whose checkpoint went back at a crash), and then they must still
                // be right.
                self.acked = candidate;
                self.open = None;
                return None;
            }
        }
        Some(self.explain_mismatch(scan, &open))
    }

    /// Takes what the engine holds as the truth from now on, after a mismatch its promise
    /// allows (damage it does not promise to detect): later checks judge what happens next.
    /// Values that decode to no write are left out, so that reading them again is judged again.
    pub fn adopt(&mut self, scan: &Scan) {
        self.open = None;
        self.acked.clear();
        for (key, value) in &scan.entries {
            if let Decoded::Written {
                key: found_key,
                version,
            } = decode(value)
            {
                if found_key == *key {
                    self.acked.insert(
                        *key,
                        Acked {
                            value: Some(value.clone()),
                            version_put: version,
                        },
                    );
                }
            }
        }
    }

    fn judge_retention(&self, scan: &Scan, retained_min: Option<u64>) -> Option<Finding> {
        let (Some(retained_min), Some(key_last)) = (retained_min, self.key_last()) else {
            return None;
        };
        let key_first = self.acked.keys().next().copied().unwrap_or(key_last);
        let promised_from = key_last.saturating_sub(retained_min - 1).max(key_first);
        (scan.retained_from > promised_from).then(|| Finding {
            outcome: Outcome::DataLoss,
            checker: "acknowledged_lost",
            message: format!(
                "the engine keeps keys from {} only, but promised the newest {retained_min} \
                 below the acknowledged key {key_last}",
                scan.retained_from
            ),
        })
    }

    /// Judges one read of `key` that returned `Ok(found)`.
    pub fn judge_get(&self, key: u64, found: Option<&[u8]>) -> Option<Finding> {
        assert!(
            self.open.is_none(),
            "reads run only when every commit's fate is known"
        );
        let expected = self.acked.get(&key);
        judge_key(key, expected, found, &[])
    }

    fn explain_mismatch(&self, scan: &Scan, open: &[Mutation]) -> Finding {
        let found: BTreeMap<u64, &[u8]> = scan
            .entries
            .iter()
            .map(|(key, value)| (*key, value.as_slice()))
            .collect();
        let keys: std::collections::BTreeSet<u64> = self
            .acked
            .keys()
            .chain(found.keys())
            .copied()
            .filter(|key| *key >= scan.retained_from)
            .collect();
        let mut findings = Vec::new();
        for key in keys {
            let open_values: Vec<Option<&[u8]>> = open
                .iter()
                .filter(|mutation| mutation.key() == key)
                .map(|mutation| match mutation {
                    Mutation::Put { value, .. } => Some(value.as_slice()),
                    Mutation::Delete { .. } => None,
                })
                .collect();
            if let Some(finding) = judge_key(
                key,
                self.acked.get(&key),
                found.get(&key).copied(),
                &open_values,
            ) {
                findings.push(finding);
            }
        }
        // The worst finding names the run; the count says how much went wrong. A mismatch no
        // single key shows is a commit landed in part: a transaction half applied, or a log
        // entry visible without an earlier one of its batch. Both return `Ok` a state that was
        // never committed.
        let count = findings.len();
        match findings.into_iter().max_by_key(|finding| finding.outcome) {
            Some(mut finding) => {
                if count > 1 {
                    finding.message = format!("{} (and {} more keys)", finding.message, count - 1);
                }
                finding
            }
            None => Finding {
                outcome: Outcome::SilentCorruption,
                checker: "never_committed_visible",
                message: "the state after reopen is no state the commits allow: the open commit \
                          landed in part (out of order, or not atomically)"
                    .into(),
            },
        }
    }
}

fn apply(state: &mut BTreeMap<u64, Acked>, mutations: &[Mutation]) {
    for mutation in mutations {
        match mutation {
            Mutation::Put { key, value } => {
                // The workload's own value: its version is in its header (what an engine
                // returns is decoded and checked in full, not this).
                let version_put = crate::values::version_of(value);
                state.insert(
                    *key,
                    Acked {
                        value: Some(value.clone()),
                        version_put,
                    },
                );
            }
            Mutation::Delete { key } => {
                if let Some(acked) = state.get_mut(key) {
                    acked.value = None;
                }
            }
        }
    }
}

fn matches(candidate: &BTreeMap<u64, Acked>, scan: &Scan) -> bool {
    let mut expected = candidate
        .iter()
        .filter(|(key, acked)| **key >= scan.retained_from && acked.value.is_some());
    let mut found = scan
        .entries
        .iter()
        .filter(|(key, _)| *key >= scan.retained_from);
    loop {
        match (expected.next(), found.next()) {
            (None, None) => return true,
            (Some((key, acked)), Some((found_key, found_value))) => {
                if key != found_key || acked.value.as_deref() != Some(found_value.as_slice()) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// Judges what the engine returned for `key` against the acknowledged entry; `open_values` are
/// the open commit's mutations of the key (each a value put, or `None` for a delete), any of
/// which the engine may show.
fn judge_key(
    key: u64,
    expected: Option<&Acked>,
    found: Option<&[u8]>,
    open_values: &[Option<&[u8]>],
) -> Option<Finding> {
    let expected_value = expected.and_then(|acked| acked.value.as_deref());
    if found == expected_value || open_values.contains(&found) {
        return None;
    }
    let Some(found) = found else {
        return Some(Finding {
            outcome: Outcome::DataLoss,
            checker: "acknowledged_lost",
            message: format!("key {key}: an acknowledged value is missing"),
        });
    };
    match decode(found) {
        Decoded::Garbage => Some(Finding {
            outcome: Outcome::SilentCorruption,
            checker: "wrong_data",
            message: format!(
                "key {key}: {} bytes returned Ok that no write produced",
                found.len()
            ),
        }),
        Decoded::Written {
            key: found_key,
            version,
        } => {
            if found_key != key {
                return Some(Finding {
                    outcome: Outcome::SilentCorruption,
                    checker: "wrong_data",
                    message: format!(
                        "key {key}: returned the value of key {found_key} (version {version})"
                    ),
                });
            }
            let version_put = expected.map_or(0, |acked| acked.version_put);
            let is_known = expected.is_some();
            if is_known && version <= version_put {
                Some(Finding {
                    outcome: Outcome::DataLoss,
                    checker: "acknowledged_lost",
                    message: match expected_value {
                        Some(_) => format!(
                            "key {key}: rolled back to version {version}, acknowledged {version_put}"
                        ),
                        None => format!(
                            "key {key}: an acknowledged delete is lost (version {version} is back)"
                        ),
                    },
                })
            } else {
                Some(Finding {
                    outcome: Outcome::SilentCorruption,
                    checker: "never_committed_visible",
                    message: format!(
                        "key {key}: version {version} is visible, but was never acknowledged"
                    ),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::value;

    fn put(key: u64, version: u64) -> Mutation {
        Mutation::Put {
            key,
            value: value(key, version, 40),
        }
    }

    fn scan(entries: &[(u64, u64)]) -> Scan {
        Scan {
            entries: entries
                .iter()
                .map(|&(key, version)| (key, value(key, version, 40)))
                .collect(),
            retained_from: 0,
        }
    }

    #[test]
    fn an_atomic_open_commit_lands_whole_or_not_at_all() {
        let mut model = Model::new(true);
        model.acknowledge(&[put(1, 1)]);
        model.commit_open(&[put(2, 2), put(3, 3)]);
        let mut half = model.clone();
        let finding = half.judge_scan(&scan(&[(1, 1), (2, 2)]), None);
        // A half-landed transaction shows a key of a commit the engine never acknowledged whole.
        assert!(finding.is_some());
        let mut none = model.clone();
        assert_eq!(none.judge_scan(&scan(&[(1, 1)]), None), None);
        assert!(!none.has_open());
        assert_eq!(
            model.judge_scan(&scan(&[(1, 1), (2, 2), (3, 3)]), None),
            None
        );
        assert_eq!(model.key_last(), Some(3));
    }

    #[test]
    fn a_log_batch_may_land_a_prefix_only() {
        let mut model = Model::new(false);
        model.acknowledge(&[put(1, 1)]);
        model.commit_open(&[put(2, 2), put(3, 3)]);
        assert_eq!(
            model.clone().judge_scan(&scan(&[(1, 1), (2, 2)]), None),
            None
        );
        let finding = model
            .judge_scan(&scan(&[(1, 1), (3, 3)]), None)
            .expect("a hole");
        assert_eq!(finding.outcome, Outcome::SilentCorruption);
    }

    #[test]
    fn loss_rollback_corruption_and_never_committed_are_told_apart() {
        let mut model = Model::new(true);
        model.acknowledge(&[put(1, 1), put(2, 2)]);
        model.acknowledge(&[put(1, 3), Mutation::Delete { key: 2 }]);
        let lost = model.clone().judge_scan(&scan(&[]), None).expect("lost");
        assert_eq!(lost.checker, "acknowledged_lost");
        let rolled = model
            .clone()
            .judge_scan(&scan(&[(1, 1)]), None)
            .expect("rollback");
        assert_eq!(rolled.outcome, Outcome::DataLoss);
        assert!(rolled.message.contains("rolled back"), "{}", rolled.message);
        let resurrected = model
            .judge_get(2, Some(&value(2, 2, 40)))
            .expect("delete lost");
        assert!(
            resurrected.message.contains("delete"),
            "{}",
            resurrected.message
        );
        let future = model
            .judge_get(1, Some(&value(1, 9, 40)))
            .expect("never committed");
        assert_eq!(future.checker, "never_committed_visible");
        let mut garbage = value(1, 3, 40);
        garbage[30] ^= 0x10;
        let corrupt = model.judge_get(1, Some(&garbage)).expect("garbage");
        assert_eq!(corrupt.checker, "wrong_data");
        assert_eq!(model.judge_get(1, Some(&value(1, 3, 40))), None);
        assert_eq!(model.judge_get(2, None), None);
    }

    #[test]
    fn a_log_must_keep_what_it_promised() {
        let mut model = Model::new(false);
        model.acknowledge(&[put(1, 1), put(2, 2), put(3, 3), put(4, 4)]);
        let mut dropped = scan(&[(4, 4)]);
        dropped.retained_from = 4;
        assert!(model.clone().judge_scan(&dropped, Some(2)).is_some());
        let mut kept = scan(&[(3, 3), (4, 4)]);
        kept.retained_from = 3;
        assert_eq!(model.judge_scan(&kept, Some(2)), None);
        assert_eq!(model.key_last(), Some(4));
    }
}
