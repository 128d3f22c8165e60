//! [`RecordingStorage`]: a storage that logs every write (offset and bytes) and every barrier in
//! order, plus marks the workload adds (which op was appended, which was written), so that the
//! crash explorer can replay any crash state the persistence model allows.

use crate::storage::Storage;
use std::io;

/// One entry of the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordedOp {
    /// A write of `bytes` at file offset `offset`.
    Write { offset: u64, bytes: Vec<u8> },
    /// A barrier that returned: every earlier write is durable.
    Sync,
    /// The workload is about to append `op` with this checksum and these message bytes.
    Appending {
        op: u64,
        checksum: u32,
        message: Vec<u8>,
    },
    /// `append` of `op` returned: its prepare is written, its batch not yet committed.
    Appended { op: u64, checksum: u32 },
    /// `sync` returned (every op appended so far, up to `op`, is acknowledged) or
    /// `sync_pipelined` did (every op up to `op`; the batch it prepared is not).
    Acknowledged { op: u64 },
    /// `create` returned: the file is a formatted WAL from the next `Sync` on.
    Created,
}

/// Wraps a storage and records what reaches it.
#[derive(Debug)]
pub struct RecordingStorage<S: Storage> {
    pub inner: S,
    pub log: Vec<RecordedOp>,
    /// The inner storage's bytes when recording started are the caller's to keep.
    recording: bool,
}

impl<S: Storage> RecordingStorage<S> {
    pub fn new(inner: S) -> RecordingStorage<S> {
        RecordingStorage {
            inner,
            log: Vec::new(),
            recording: true,
        }
    }

    /// Adds a workload mark to the log.
    pub fn mark(&mut self, op: RecordedOp) {
        assert!(matches!(
            op,
            RecordedOp::Appending { .. }
                | RecordedOp::Appended { .. }
                | RecordedOp::Acknowledged { .. }
                | RecordedOp::Created
        ));
        if self.recording {
            self.log.push(op);
        }
    }

    /// Stops or resumes recording (writes still reach the inner storage).
    pub fn set_recording(&mut self, recording: bool) {
        self.recording = recording;
    }
}

impl<S: Storage> Storage for RecordingStorage<S> {
    fn size(&self) -> u64 {
        self.inner.size()
    }

    fn read_at(&mut self, offset: u64, buffer: &mut [u8]) -> io::Result<()> {
        self.inner.read_at(offset, buffer)
    }

    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        self.inner.write_at(offset, bytes)?;
        if self.recording {
            self.log.push(RecordedOp::Write {
                offset,
                bytes: bytes.to_vec(),
            });
        }
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        self.inner.sync()?;
        if self.recording {
            self.log.push(RecordedOp::Sync);
        }
        Ok(())
    }
}
