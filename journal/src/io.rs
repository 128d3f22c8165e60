//! The sans-IO boundary: requests the journal emits, events it reports.
//!
//! A driver owns the disk. It drains [`IoRequest`]s with `Journal::poll_io`, carries each out
//! (a write's bytes come from `Journal::io_write_buffer`), and reports each back with
//! `Journal::complete_read` or `Journal::complete_write`, in any order (a driver may instead read
//! straight into `Journal::io_read_buffer` and report `Journal::complete_read_filled`). It drains [`Event`]s with
//! `Journal::poll_event`. Offsets are relative to the start of the zone and sector-aligned.

use crate::decision_table::Decision;
use serde::Serialize;

/// The two on-disk rings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Zone {
    /// One redundant header per slot, packed many to a sector.
    WalHeaders,
    /// One `message_size_max` slot per op.
    WalPrepares,
}

/// Read or write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum IoKind {
    Read,
    Write,
}

/// Names one in-flight I/O. Stale ids (a completion for an IOP already reused) are caught by the
/// generation counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct IoId {
    pub kind_write: bool,
    pub index: u32,
    pub generation: u32,
}

impl IoId {
    /// A single number, for drivers that key I/O by integer.
    pub fn to_u64(self) -> u64 {
        (u64::from(self.kind_write) << 63)
            | (u64::from(self.index) << 32)
            | u64::from(self.generation)
    }

    /// The inverse of [`IoId::to_u64`].
    pub fn from_u64(raw: u64) -> IoId {
        IoId {
            kind_write: raw >> 63 == 1,
            index: ((raw >> 32) & 0x7fff_ffff) as u32,
            generation: raw as u32,
        }
    }
}

/// A sector-aligned request for the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct IoRequest {
    pub id: IoId,
    pub kind: IoKind,
    pub zone: Zone,
    pub offset: u64,
    pub len: u64,
}

/// A read the disk could not serve (a latent sector error, an EIO). Treated as corrupt data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadError;

/// Why a write finished without making its slot clean. The names are the races they stand for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum WriteOutcome {
    /// The prepare and the redundant header are durable and the slot is clean.
    Written,
    /// The slot's entry changed (removed, replaced) while the prepare was being written.
    EntryChangedWhileWritingSectors,
    /// The slot's entry changed while its header sector was being written.
    EntryChangedWhileWritingHeaders,
    /// The entry was removed and then set again while its header sector was being written: the
    /// sector on disk may hold the reserved header that removal put in `headers_redundant`.
    EntryRemovedThenAddedWhileWritingHeaders,
    /// Another write of the slot started over this prepare while its header was being written.
    EntryChangedTwiceWhileWritingHeaders,
    /// A read found this prepare corrupt on disk (it landed damaged) while its header was being
    /// written: the slot stays faulty and dirty, to be repaired.
    PrepareFoundCorruptWhileWritingHeaders,
}

/// Why a read returned no prepare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ReadReject {
    /// The op is past the journal's head.
    BeyondHead,
    /// No slot holds exactly this `(op, checksum)`.
    NoEntry,
    /// The slot's entry is known but no matching prepare is known to be on disk.
    NoPrepare,
    /// All reads this purpose may use are busy; try again later.
    WaitingForIop,
    /// The slot's known prepare changed while the read was in flight.
    PrepareChangedDuringRead,
    /// The disk failed the read.
    ReadFailed,
    /// The prepare's header failed its checksum.
    CorruptHeader,
    /// The header belongs to another cluster (a misdirected read or write).
    WrongCluster,
    /// The header is for another op.
    OpChangedDuringRead,
    /// The header is for the same op but another checksum.
    ChecksumChangedDuringRead,
    /// The body failed its checksum.
    CorruptBody,
    /// The bytes after the message in its last sector are not zero.
    NonZeroPadding,
}

impl ReadReject {
    /// Whether this rejection found the disk's copy bad (and so marks the slot faulty).
    pub fn is_corruption(self) -> bool {
        matches!(
            self,
            ReadReject::ReadFailed
                | ReadReject::CorruptHeader
                | ReadReject::WrongCluster
                | ReadReject::OpChangedDuringRead
                | ReadReject::ChecksumChangedDuringRead
                | ReadReject::CorruptBody
                | ReadReject::NonZeroPadding
        )
    }
}

/// Who a read is for: the commit path always has two reads of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ReadPurpose {
    Commit,
    Repair,
}

/// A finished read, valid until released with `Journal::read_release`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadHandle {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

/// What the journal reports to its driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A `write_prepare` finished.
    WriteDone {
        op: u64,
        checksum: u32,
        outcome: WriteOutcome,
    },
    /// A `read_prepare` finished: the message (`Journal::read_message`) or why not.
    ReadDone {
        op: u64,
        checksum: u32,
        result: Result<ReadHandle, ReadReject>,
    },
    /// A solo replica's slot that recovery cannot repair (a `vsr` decision with no peer).
    Unrecoverable { slot: u64, label: &'static str },
    /// Recovery finished; the journal accepts commands.
    RecoveryDone,
}

/// The decision recovery took for one slot, for coverage and checkers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SlotRecovery {
    pub label: &'static str,
    pub decision: Decision,
}
