//! [`FileHandle`]: the one simulated file an engine runs on, shared between the engine's storage
//! adapter and the runner, with the runner's power switch on it.
//!
//! An engine sees a file that answers `read`, `write`, `set_len` and `sync`. The runner sees the
//! same file and decides, per step of the workload, at which storage call the process dies
//! ([`FileHandle::schedule_crash`]): before that call runs, the file crashes (its page cache is
//! lost as the persistence model says) and every later call fails, as calls of a dead process
//! never return. Whatever the engine does after that (errors, a panic in a destructor, an `Ok`
//! it could not have returned) is not its behaviour: the runner ignores it and reopens the
//! engine on the crashed file ([`FileHandle::revive`]).
//!
//! The handle also bounds the storage calls of one step: an engine that loops forever on its
//! storage is stopped (its calls fail) and the runner reports a hang. A loop that never calls
//! the storage cannot be seen here; the fuzz runner's child processes bound those.
//!
//! `Send + Sync` because redb's `StorageBackend` must be; nothing here runs on two threads.

use fault_models::{FileError, SimFile};
use std::sync::{Arc, Mutex, MutexGuard};

/// Storage calls one workload step may make before the runner calls it a hang. A step commits
/// at most a few dozen keys; redb makes a few storage calls per page it writes.
pub const STEP_CALLS_MAX: u64 = 100_000;

/// Why a storage call failed: the file's own fault, or the process is dead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallError {
    /// The simulated file returned an error (an injected fault, or a read past the end).
    File(FileError),
    /// The process died at a scheduled crash (this call or an earlier one).
    Dead,
    /// The step made more than [`STEP_CALLS_MAX`] storage calls.
    Hung,
}

impl From<CallError> for std::io::Error {
    fn from(error: CallError) -> std::io::Error {
        match error {
            CallError::File(error) => error.into(),
            CallError::Dead => std::io::Error::other("the process died (simulated crash)"),
            CallError::Hung => std::io::Error::other("step exceeded its storage calls (hang)"),
        }
    }
}

#[derive(Debug)]
struct State {
    file: SimFile,
    /// Storage calls since the run began (crash points count in these).
    calls: u64,
    /// The call before which the process dies, if one is scheduled.
    crash_at_call: Option<u64>,
    dead: bool,
    calls_in_step: u64,
    hung: bool,
}

/// A cheap-to-clone handle on the one simulated file of a run.
#[derive(Clone, Debug)]
pub struct FileHandle {
    state: Arc<Mutex<State>>,
}

impl FileHandle {
    pub fn new(file: SimFile) -> FileHandle {
        FileHandle {
            state: Arc::new(Mutex::new(State {
                file,
                calls: 0,
                crash_at_call: None,
                dead: false,
                calls_in_step: 0,
                hung: false,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic inside an engine may poison the lock while a call is not running: the state
        // is consistent between calls, so take it back.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs one storage call of the engine against the file, unless the process is dead, the
    /// crash point is this call, or the step has run out of calls.
    pub fn call<T>(
        &self,
        operation: impl FnOnce(&mut SimFile) -> Result<T, FileError>,
    ) -> Result<T, CallError> {
        let mut state = self.lock();
        if state.dead {
            return Err(CallError::Dead);
        }
        if state.hung {
            return Err(CallError::Hung);
        }
        state.calls += 1;
        state.calls_in_step += 1;
        if state.calls_in_step > STEP_CALLS_MAX {
            state.hung = true;
            return Err(CallError::Hung);
        }
        if state.crash_at_call == Some(state.calls) {
            state.crash_at_call = None;
            state.dead = true;
            state.file.crash();
            return Err(CallError::Dead);
        }
        operation(&mut state.file).map_err(CallError::File)
    }

    /// The process dies before the storage call `calls_from_now` calls from now (1: the next).
    pub fn schedule_crash(&self, calls_from_now: u64) {
        assert!(calls_from_now >= 1);
        let mut state = self.lock();
        assert!(!state.dead);
        state.crash_at_call = Some(state.calls + calls_from_now);
    }

    /// Cancels a crash point the step did not reach.
    pub fn cancel_crash(&self) {
        self.lock().crash_at_call = None;
    }

    /// Kills the process between two calls: the file crashes now.
    pub fn crash_now(&self) {
        let mut state = self.lock();
        assert!(!state.dead);
        state.crash_at_call = None;
        state.dead = true;
        state.file.crash();
    }

    /// Whether the process died (at a scheduled crash or [`FileHandle::crash_now`]).
    pub fn dead(&self) -> bool {
        self.lock().dead
    }

    /// Whether the step ran out of storage calls.
    pub fn hung(&self) -> bool {
        self.lock().hung
    }

    /// A new process: calls succeed again, on the file as the crash left it.
    pub fn revive(&self) {
        let mut state = self.lock();
        assert!(state.dead);
        assert!(state.crash_at_call.is_none());
        state.dead = false;
    }

    /// A new step begins: its call budget starts again.
    pub fn step_begin(&self) {
        let mut state = self.lock();
        state.calls_in_step = 0;
        assert!(!state.hung, "a hung run is over");
    }

    /// Storage calls made since the run began.
    pub fn calls(&self) -> u64 {
        self.lock().calls
    }

    /// Runs `inspect` on the file (for the runner: faults at rest, the fault log, the tick).
    pub fn with_file<T>(&self, inspect: impl FnOnce(&mut SimFile) -> T) -> T {
        inspect(&mut self.lock().file)
    }
}
