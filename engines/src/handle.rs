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
use serde::{Deserialize, Serialize};
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

/// What one storage call was, as the sweep's plan records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum CallKind {
    Len,
    Read,
    Write,
    SetLen,
    Sync,
}

/// One storage call of a run, recorded when [`FileHandle::record_calls`] asked for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CallRecord {
    /// Its number: 1 for the run's first call (what [`FileHandle::aim`] takes).
    pub call: u64,
    pub kind: CallKind,
    /// A read's or write's offset; a length change's old length.
    pub offset: u64,
    /// A read's or write's length; a length change's new length.
    pub len: u64,
    /// A write or length change that grew the file (where ENOSPC can happen).
    pub grows: bool,
    /// A sync with something unsynced (where a sync can fail).
    pub unsynced: bool,
    /// A write's first byte (what an engine's file map may tell a page's kind by).
    pub first_byte: Option<u8>,
}

/// A fault aimed at one storage call by its number (the sweep's single fault).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallFault {
    /// The process dies before the call runs.
    Crash,
    /// The call, a write, fails with EIO and stores nothing.
    WriteError,
    /// The call, a write or length change that grows the file, fails with ENOSPC.
    NoSpace,
    /// The call, a sync with something unsynced, fails with Linux's semantics (the dirty pages
    /// are marked clean and not written).
    SyncError,
}

#[derive(Debug)]
struct State {
    file: SimFile,
    /// Storage calls since the run began (crash points count in these).
    calls: u64,
    /// The call before which the process dies, if one is scheduled.
    crash_at_call: Option<u64>,
    /// A fault aimed at one call (one shot).
    aimed: Option<(u64, CallFault)>,
    /// Every call, while recording.
    log: Option<Vec<CallRecord>>,
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
                aimed: None,
                log: None,
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

    /// The file's length as the engine sees it.
    pub fn file_len(&self) -> Result<u64, CallError> {
        self.call(CallKind::Len, 0, 0, None, |file| Ok(file.len()))
    }

    /// Reads `buffer.len()` bytes at `offset`.
    pub fn read_at(&self, offset: u64, buffer: &mut [u8]) -> Result<(), CallError> {
        let len = buffer.len() as u64;
        self.call(CallKind::Read, offset, len, None, |file| {
            file.read_at(offset, buffer)
        })
    }

    /// Writes `data` at `offset`.
    pub fn write_at(&self, offset: u64, data: &[u8]) -> Result<(), CallError> {
        let len = data.len() as u64;
        self.call(
            CallKind::Write,
            offset,
            len,
            data.first().copied(),
            |file| file.write_at(offset, data),
        )
    }

    /// Sets the file's length.
    pub fn set_len(&self, len: u64) -> Result<(), CallError> {
        let from = self.lock().file.len();
        self.call(CallKind::SetLen, from, len, None, |file| file.set_len(len))
    }

    /// Makes everything written durable (`fdatasync`).
    pub fn sync(&self) -> Result<(), CallError> {
        self.call(CallKind::Sync, 0, 0, None, |file| file.sync())
    }

    /// Runs one storage call of the engine against the file, unless the process is dead, the
    /// crash point is this call, or the step has run out of calls.
    fn call<T>(
        &self,
        kind: CallKind,
        offset: u64,
        len: u64,
        first_byte: Option<u8>,
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
        let call = state.calls;
        let state = &mut *state;
        if let Some(log) = state.log.as_mut() {
            let file = &state.file;
            let grows = match kind {
                CallKind::Write => offset.saturating_add(len) > file.len(),
                CallKind::SetLen => len > offset,
                _ => false,
            };
            log.push(CallRecord {
                call,
                kind,
                offset,
                len,
                grows,
                unsynced: kind == CallKind::Sync && file.has_unsynced(),
                first_byte,
            });
        }
        let aimed = match state.aimed {
            Some((at, fault)) if at == call => {
                state.aimed = None;
                Some(fault)
            }
            _ => None,
        };
        if state.crash_at_call == Some(call) || aimed == Some(CallFault::Crash) {
            state.crash_at_call = None;
            state.dead = true;
            state.file.crash();
            return Err(CallError::Dead);
        }
        match aimed {
            None | Some(CallFault::Crash) => operation(&mut state.file).map_err(CallError::File),
            Some(fault) => {
                match fault {
                    CallFault::WriteError => state.file.aim_write_error(),
                    CallFault::NoSpace => state.file.aim_no_space(),
                    CallFault::SyncError => state.file.aim_sync_error(),
                    CallFault::Crash => unreachable!(),
                }
                let result = operation(&mut state.file).map_err(CallError::File);
                // An aim this call did not take (a write that did not grow the file) must not
                // fire at a later one.
                state.file.aims_clear();
                result
            }
        }
    }

    /// Aims `fault` at storage call number `call` (counted from the run's first, as
    /// [`CallRecord::call`]); one shot, and only one aim at a time.
    pub fn aim(&self, call: u64, fault: CallFault) {
        let mut state = self.lock();
        assert!(call > state.calls, "call {call} has run already");
        assert!(state.aimed.is_none());
        state.aimed = Some((call, fault));
    }

    /// Starts recording every storage call (the sweep's plan).
    pub fn record_calls(&self) {
        self.lock().log = Some(Vec::new());
    }

    /// The calls recorded since [`FileHandle::record_calls`].
    pub fn take_calls(&self) -> Vec<CallRecord> {
        self.lock().log.take().unwrap_or_default()
    }

    /// A handle on a copy of this file as it is now (the runner forks a prepared run).
    pub fn fork(&self) -> FileHandle {
        let state = self.lock();
        assert!(!state.dead && !state.hung);
        assert!(state.crash_at_call.is_none() && state.aimed.is_none());
        let fork = FileHandle::new(state.file.clone());
        // Call numbers go on from here: a fork's calls are numbered as the original's would be.
        fork.lock().calls = state.calls;
        fork
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
