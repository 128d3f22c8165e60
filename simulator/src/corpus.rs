//! The seed corpus in `seeds/`: regressions (seeds that once failed, run by every test run) and
//! the distilled coverage set (the fewest seeds that together reach every reachable case).
//!
//! Both files are JSON. They are read strictly (a corrupt file is an error that names it, never
//! an empty corpus) and written atomically: the new text goes to a temporary file beside the
//! target, is synced, and is renamed over it, so a failed write leaves the old file as it was.

use crate::coverage::{Coverage, REACHABLE};
use crate::fuzz::{run_seeds, FuzzOptions};
use crate::swarm::{Overrides, RunConfig};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

pub const REGRESSIONS_PATH: &str = "seeds/regressions.json";
pub const COVERAGE_PATH: &str = "seeds/coverage.json";

/// One recorded seed: what it drew and how it failed when it was added.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Regression {
    pub seed: u64,
    #[serde(default, skip_serializing_if = "Overrides::is_empty")]
    pub overrides: Overrides,
    /// The configuration the seed drew (with the overrides) when added: a test checks the swarm
    /// still draws it, or the seed no longer tests what it was recorded for.
    pub config: RunConfig,
    /// The checker that fired, or `passed` for a seed pinned while passing.
    pub checker: String,
    pub message: String,
    pub trace_hash: String,
    /// `git rev-parse HEAD` when added, or `unknown`.
    pub commit: String,
    /// Why the seed is here (`--note`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Regressions {
    pub regressions: Vec<Regression>,
}

/// The distilled coverage set.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct CoverageSet {
    /// The command that regenerates this file.
    pub generated_by: String,
    /// Seeds to run, ascending.
    pub seeds: Vec<u64>,
    /// For each reachable case, the first seed of `seeds` that reaches it.
    pub cases: std::collections::BTreeMap<String, u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid corpus file: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Reads a corpus file; a missing file is `Ok(None)`.
pub fn load<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, CorpusError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(CorpusError::Read {
                path: path.into(),
                source,
            })
        }
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|source| CorpusError::Corrupt {
            path: path.into(),
            source,
        })
}

/// Writes `value` to `path` atomically (temporary file, sync, rename).
pub fn store<T: Serialize>(path: &Path, value: &T) -> Result<(), CorpusError> {
    let mut text = serde_json::to_string_pretty(value).expect("corpus serializes");
    text.push('\n');
    store_text(path, &text)
}

/// Writes `text` to `path` atomically (a temporary file beside it, then a rename): a reader
/// never sees half a file.
pub fn store_text(path: &Path, text: &str) -> Result<(), CorpusError> {
    let error = |source| CorpusError::Write {
        path: path.into(),
        source,
    };
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let written = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if let Err(source) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(error(source));
    }
    Ok(())
}

/// The commit the working tree is at, for the record.
pub fn commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .map(|text| text.trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// What `corpus add` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Added {
    Added,
    /// The same seed and overrides were recorded already: the entry is refreshed.
    Replaced,
}

/// Runs `seed` and records it in the regressions file at `path`. A passing seed is refused
/// unless `passing` (pinning an interesting seed) is set.
pub fn add(
    path: &Path,
    seed: u64,
    overrides: &Overrides,
    passing: bool,
    note: &str,
) -> Result<(Added, Regression), String> {
    // Read first: a corrupt file is reported and left untouched.
    let mut corpus: Regressions = load(path)
        .map_err(|error| error.to_string())?
        .unwrap_or_default();
    let outcome = crate::run_with(seed, overrides, false);
    let (checker, message) = match &outcome.failure {
        Some(failure) => (failure.checker.to_string(), failure.message.clone()),
        None if passing => ("passed".to_string(), String::new()),
        None => {
            return Err(format!(
                "seed {seed}{} passes: corpus add records failing seeds (add --passing to pin it anyway)",
                overrides.flags()
            ))
        }
    };
    let entry = Regression {
        seed,
        overrides: overrides.clone(),
        config: outcome.config,
        checker,
        message,
        trace_hash: format!("{:016x}", outcome.trace_hash),
        commit: commit(),
        note: note.to_string(),
    };
    let existing = corpus
        .regressions
        .iter()
        .position(|r| r.seed == seed && r.overrides == *overrides);
    let added = match existing {
        Some(position) => {
            corpus.regressions[position] = entry.clone();
            Added::Replaced
        }
        None => {
            corpus.regressions.push(entry.clone());
            Added::Added
        }
    };
    corpus.regressions.sort_by_key(|r| r.seed);
    store(path, &corpus).map_err(|error| error.to_string())?;
    Ok((added, entry))
}

/// Runs every seed of the range and picks, greedily, the fewest that together reach every
/// reachable case (ties to the lower seed). Failing seeds are never picked.
pub fn distill(
    options: &FuzzOptions,
    progress: &(dyn Fn(u64, u64, usize) + Sync),
) -> Result<CoverageSet, String> {
    let outcomes = run_seeds(
        &options.seeds(),
        &options.overrides,
        options.jobs,
        None,
        progress,
    );
    let reached: Vec<(u64, BTreeSet<&'static str>)> = outcomes
        .iter()
        .filter(|o| o.failure.is_none())
        .map(|o| {
            let labels = REACHABLE
                .iter()
                .map(|(label, _)| *label)
                .filter(|label| o.coverage.count(label) > 0)
                .collect();
            (o.seed, labels)
        })
        .collect();
    let mut uncovered: BTreeSet<&'static str> = REACHABLE.iter().map(|(label, _)| *label).collect();
    let mut set = CoverageSet {
        generated_by: format!(
            "vopr corpus distill --seeds {}..{}",
            options.seed_first, options.seed_end
        ),
        ..CoverageSet::default()
    };
    // Bounded: each pick covers at least one more of the finite set of cases.
    while !uncovered.is_empty() {
        let best = reached
            .iter()
            .map(|(seed, labels)| (labels.intersection(&uncovered).count(), *seed, labels))
            .max_by_key(|(count, seed, _)| (*count, std::cmp::Reverse(*seed)));
        let Some((count, seed, labels)) = best.filter(|(count, _, _)| *count > 0) else {
            return Err(format!(
                "no seed of {}..{} reaches {:?}",
                options.seed_first, options.seed_end, uncovered
            ));
        };
        assert!(count > 0);
        for label in labels.intersection(&uncovered) {
            set.cases.insert(label.to_string(), seed);
        }
        uncovered = uncovered.difference(labels).copied().collect();
        set.seeds.push(seed);
    }
    set.seeds.sort_unstable();
    Ok(set)
}

/// Runs the coverage set's seeds and returns their union coverage and any failure.
pub fn run_coverage_set(set: &CoverageSet) -> (Coverage, Vec<(u64, String)>) {
    let mut coverage = Coverage::default();
    let mut failures = Vec::new();
    for &seed in &set.seeds {
        let outcome = crate::run_seed(seed, false);
        coverage.merge(&outcome.coverage);
        if let Some(failure) = outcome.failure {
            failures.push((seed, format!("{}: {}", failure.checker, failure.message)));
        }
    }
    (coverage, failures)
}
