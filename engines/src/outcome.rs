//! The outcomes of a run, named as CORDS (Ganesan et al., FAST'17) names them, and the verdict:
//! which outcomes an engine's [`Promise`] forbids under the faults a seed injected.

use crate::engine::Promise;
use serde::{Deserialize, Serialize};

/// What an engine did, worst last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Hash)]
pub enum Outcome {
    /// Every check agreed with the ground truth.
    Correct,
    /// The engine returned an error for an operation (and wrong data for none).
    ErrorReported,
    /// The engine refused to open the file.
    Unavailable,
    /// Something acknowledged is missing or rolled back, and the engine said nothing.
    DataLoss,
    /// The engine returned bytes, `Ok`, that are not what was committed (or were never
    /// committed).
    SilentCorruption,
    /// The engine panicked (or the process aborted).
    Crash,
    /// A step made more storage calls than any step needs.
    Hang,
}

impl Outcome {
    pub const ALL: [Outcome; 7] = [
        Outcome::Correct,
        Outcome::ErrorReported,
        Outcome::Unavailable,
        Outcome::DataLoss,
        Outcome::SilentCorruption,
        Outcome::Crash,
        Outcome::Hang,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Outcome::Correct => "correct",
            Outcome::ErrorReported => "error_reported",
            Outcome::Unavailable => "unavailable",
            Outcome::DataLoss => "data_loss",
            Outcome::SilentCorruption => "silent_corruption",
            Outcome::Crash => "crash",
            Outcome::Hang => "hang",
        }
    }
}

/// Which classes of fault a seed injected before an outcome was seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultsSeen {
    /// Crashes, and what they did to writes not yet synced (dropped, landed, torn).
    pub crash: bool,
    /// Faults that damaged what the file stores or returns: bit rot, zeros, junk, latent sector
    /// errors, read flips, misdirected reads, and lost or misdirected writes.
    pub damage: u32,
    /// Whether some of that damage was a write the disk dropped or put elsewhere.
    pub silent_drops: bool,
    /// Errors returned to the engine: EIO on write, ENOSPC, a failed sync.
    pub io_errors: bool,
}

/// Whether `promise` forbids `outcome` after the faults in `seen`.
///
/// - A panic or a hang is never allowed.
/// - After crashes alone, only `Correct` is allowed.
/// - Damage within what the promise covers may make an engine report an error or refuse to
///   open, never lose or return wrong data; beyond it (more faults, or a kind it does not
///   cover), anything but a panic or a hang is reported, not failed. I/O errors likewise for an
///   engine that does not promise to survive them.
pub fn forbids(promise: &Promise, seen: FaultsSeen, outcome: Outcome) -> bool {
    let damage_beyond_promise =
        seen.damage > promise.damage_covered || (seen.silent_drops && !promise.covers_silent_drops);
    let excused_by_faults = (seen.damage > 0 && damage_beyond_promise)
        || (seen.io_errors && !promise.survives_io_errors);
    let crash_only = seen.damage == 0 && !seen.io_errors;
    match outcome {
        Outcome::Correct => false,
        Outcome::Crash | Outcome::Hang => true,
        Outcome::ErrorReported | Outcome::Unavailable => crash_only,
        Outcome::DataLoss => promise.durable_on_ack && !excused_by_faults,
        Outcome::SilentCorruption => !excused_by_faults,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: Promise = Promise {
        durable_on_ack: true,
        damage_covered: 1,
        covers_silent_drops: true,
        survives_io_errors: true,
    };

    #[test]
    fn crash_only_allows_only_correct() {
        let seen = FaultsSeen {
            crash: true,
            ..FaultsSeen::default()
        };
        for outcome in Outcome::ALL {
            assert_eq!(forbids(&STRICT, seen, outcome), outcome != Outcome::Correct);
        }
        let loose = Promise {
            durable_on_ack: false,
            ..STRICT
        };
        assert!(!forbids(&loose, seen, Outcome::DataLoss));
        assert!(forbids(&loose, seen, Outcome::SilentCorruption));
    }

    #[test]
    fn damage_excuses_only_what_the_promise_leaves_out() {
        let one = FaultsSeen {
            crash: true,
            damage: 1,
            ..FaultsSeen::default()
        };
        assert!(!forbids(&STRICT, one, Outcome::ErrorReported));
        assert!(!forbids(&STRICT, one, Outcome::Unavailable));
        assert!(forbids(&STRICT, one, Outcome::DataLoss));
        assert!(forbids(&STRICT, one, Outcome::SilentCorruption));
        assert!(forbids(&STRICT, one, Outcome::Crash));
        // Two faults are beyond a single-fault promise: reported, not failed.
        let two = FaultsSeen { damage: 2, ..one };
        assert!(!forbids(&STRICT, two, Outcome::DataLoss));
        assert!(!forbids(&STRICT, two, Outcome::SilentCorruption));
        assert!(forbids(&STRICT, two, Outcome::Hang));
        // No damage promise at all: one fault already excuses.
        let blind = Promise {
            damage_covered: 0,
            ..STRICT
        };
        assert!(!forbids(&blind, one, Outcome::DataLoss));
        // A dropped write voids a promise that does not cover drops.
        let dropped = FaultsSeen {
            silent_drops: true,
            ..one
        };
        assert!(forbids(&STRICT, dropped, Outcome::DataLoss));
        let no_drops = Promise {
            covers_silent_drops: false,
            ..STRICT
        };
        assert!(!forbids(&no_drops, dropped, Outcome::DataLoss));
        assert!(forbids(&no_drops, one, Outcome::DataLoss));
    }
}
