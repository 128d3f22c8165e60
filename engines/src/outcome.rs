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
    /// Damage to what the file stores: bit rot, zeros, junk, latent sector errors, misdirected
    /// and lost writes, read flips and misdirected reads.
    pub at_rest: bool,
    /// Errors returned to the engine: EIO on write, ENOSPC, a failed sync.
    pub io_errors: bool,
}

/// Whether `promise` forbids `outcome` after the faults in `seen`.
///
/// - A panic or a hang is never allowed.
/// - After crashes alone, only `Correct` is allowed, and acknowledged data may be lost only by a
///   setting that does not promise durability.
/// - Damage at rest may make an engine report an error or refuse to open; it may make it lose or
///   return wrong data only if it does not promise to detect damage. I/O errors likewise for an
///   engine that does not promise to survive them.
pub fn forbids(promise: &Promise, seen: FaultsSeen, outcome: Outcome) -> bool {
    let excused_by_faults = (seen.at_rest && !promise.detects_corruption)
        || (seen.io_errors && !promise.survives_io_errors);
    let crash_only = !seen.at_rest && !seen.io_errors;
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
        detects_corruption: true,
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
        let seen = FaultsSeen {
            crash: true,
            at_rest: true,
            io_errors: false,
        };
        assert!(!forbids(&STRICT, seen, Outcome::ErrorReported));
        assert!(!forbids(&STRICT, seen, Outcome::Unavailable));
        assert!(forbids(&STRICT, seen, Outcome::DataLoss));
        assert!(forbids(&STRICT, seen, Outcome::SilentCorruption));
        assert!(forbids(&STRICT, seen, Outcome::Crash));
        let blind = Promise {
            detects_corruption: false,
            ..STRICT
        };
        assert!(!forbids(&blind, seen, Outcome::DataLoss));
        assert!(!forbids(&blind, seen, Outcome::SilentCorruption));
        assert!(forbids(&blind, seen, Outcome::Hang));
    }
}
