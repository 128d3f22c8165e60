//! What every engine adapter provides ([`Engine`]), what it promises ([`Promise`]), and the
//! operations a workload is made of ([`Mutation`], [`Step`]).
//!
//! The runner's ground truth is a map from `u64` keys to byte values. A key-value store maps it
//! directly; an append-only log maps key `k` to its `k`-th entry (keys are appended in order and
//! never deleted). An adapter translates, and nothing else: it keeps no ground truth of its own.

use crate::handle::CallError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One change of a commit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Mutation {
    Put { key: u64, value: Vec<u8> },
    Delete { key: u64 },
}

impl Mutation {
    pub fn key(&self) -> u64 {
        match self {
            Mutation::Put { key, .. } | Mutation::Delete { key } => *key,
        }
    }
}

/// One step of a workload, drawn by the engine's workload generator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Step {
    /// Commit these mutations as one transaction (a key-value store) or one batch of appends
    /// followed by a sync (a log). Acknowledged when `commit` returns `Ok`.
    Commit { mutations: Vec<Mutation> },
    /// Read one key and compare it with the ground truth.
    Get { key: u64 },
    /// Close the engine cleanly and open it again (no crash).
    Reopen,
}

/// What an engine says about its data, as its documentation states it. The verdict of a run is
/// judged against it: an outcome it forbids fails the seed, any other is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Promise {
    /// An acknowledged commit survives any crash.
    pub durable_on_ack: bool,
    /// How many faults that damage the file (bit rot, zeros, junk, latent errors, read flips,
    /// misdirected reads; and lost or misdirected writes if `covers_silent_drops`) a run may
    /// meet while damage is still reported as an error, never returned as data or as a missing
    /// key. 0: no such promise. 1: CORDS's single-fault model (two faults may hit both copies of
    /// one entry, and a store with two copies cannot tell that from a torn, unacknowledged one).
    pub damage_covered: u32,
    /// Whether a write the disk acknowledged but dropped or put elsewhere counts as covered
    /// damage (else any such write voids the damage promise).
    pub covers_silent_drops: bool,
    /// A failed write or sync is reported, and what it did not store is never acknowledged later.
    pub survives_io_errors: bool,
}

/// An engine adapter's error: what the engine returned, said in a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineError {
    pub message: String,
}

impl EngineError {
    pub fn new(message: impl fmt::Display) -> EngineError {
        EngineError {
            message: message.to_string(),
        }
    }
}

impl fmt::Display for EngineError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl From<CallError> for EngineError {
    fn from(error: CallError) -> EngineError {
        EngineError::new(std::io::Error::from(error))
    }
}

/// Everything a full read of the store returned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scan {
    /// Every key the engine holds, ascending, with its value.
    pub entries: Vec<(u64, Vec<u8>)>,
    /// The lowest key the engine still claims to hold (0 for a store that keeps everything; a
    /// log's checkpoint lets it drop older entries).
    pub retained_from: u64,
}

/// An engine on the simulated file, through its own storage trait.
///
/// Lifecycle, driven by the runner: `open` (with `fresh` when no open has ever succeeded on this
/// file: the adapter may format it), then steps, then drop (a clean close, or after the process
/// died, a drop whose storage calls all fail), then `open` again on the same file.
pub trait Engine: Sized {
    /// Opens the store on `file`.
    fn open(file: crate::FileHandle, setting: Setting, fresh: bool) -> Result<Self, EngineError>;
    /// Commits `mutations` as the engine's unit of commit; `Ok` acknowledges them.
    fn commit(&mut self, mutations: &[Mutation]) -> Result<(), EngineError>;
    /// The value of `key`, if present.
    fn get(&mut self, key: u64) -> Result<Option<Vec<u8>>, EngineError>;
    /// Every key and value the store holds, for the check after a reopen.
    fn scan(&mut self) -> Result<Scan, EngineError>;
    /// The engine's own integrity check, where it has one (`Ok(true)`: it says the file is fine).
    fn integrity_check(&mut self) -> Option<Result<bool, EngineError>>;
}

/// How an engine is configured: the safe setting its promise is made for, or a setting that
/// really may lose acknowledged data (for calibration).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Setting {
    /// redb `Durability::Immediate`; our WAL as shipped (acknowledge after sync).
    Safe,
    /// redb `Durability::None`; our WAL acknowledging a batch before its sync (a planted bug).
    Unsafe,
}

impl Setting {
    pub fn name(self) -> &'static str {
        match self {
            Setting::Safe => "safe",
            Setting::Unsafe => "unsafe",
        }
    }

    pub fn parse(text: &str) -> Option<Setting> {
        match text {
            "safe" => Some(Setting::Safe),
            "unsafe" => Some(Setting::Unsafe),
            _ => None,
        }
    }
}
