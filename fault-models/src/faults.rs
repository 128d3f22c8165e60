//! What the disk may do wrong: the probabilities and latencies that configure the fault models
//! ([`FaultConfig`]), and the names of the faults it records ([`FaultKind`]).
//!
//! Every probability is per I/O and between 0 and 1. All are zero by default, which makes a
//! perfect disk with zero latency; the simulator's swarm testing draws them per seed.

use serde::{Deserialize, Serialize};

/// Fault probabilities and latency distribution of one simulated disk.
///
/// Apart from `crash_write_torn_probability`, faults are only injected where the fault atlas
/// allows them (see [`crate::FaultAtlas`] and [`crate::DiskOptions::faulty_chunks`]).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
pub struct FaultConfig {
    /// A read returns one sector with one bit flipped. The sector stays corrupt for every later
    /// read (the flip sits at the same bit for the same sector and content) until it is
    /// rewritten; the stored bytes are untouched.
    pub read_bit_flip_probability: f64,
    /// The stored bytes of one sector of a write get one bit flipped.
    pub write_bit_flip_probability: f64,
    /// The whole write lands in another slot of the same zone, at the same offset within the
    /// slot; the intended range keeps its old bytes.
    pub misdirected_write_probability: f64,
    /// The read returns the bytes of another slot of the same zone, at the same offset within
    /// the slot.
    pub misdirected_read_probability: f64,
    /// One sector of a write becomes a latent sector error: every read touching it fails until it
    /// is rewritten.
    pub latent_sector_error_probability: f64,
    /// The write completes successfully but is never applied.
    pub lost_write_probability: f64,
    /// At a crash, a pending write is torn (only part of it lands); otherwise it is applied or
    /// dropped, 50/50. The only fault the atlas does not restrict.
    pub crash_write_torn_probability: f64,
    /// One sector of a write is stored as the garbage real disks and file systems return
    /// (CORDS's fault set): zeros, noise, the bytes of another sector of the zone (stale, or
    /// shifted from the same place in another slot), or a run of 1-64 bytes of noise inside the
    /// sector with the rest kept (so that fields around it, a length or an op, still look
    /// valid). Absent from configs written before it existed: 0.
    #[serde(default)]
    pub sector_corrupt_probability: f64,
    /// Lower bound of a read's latency.
    pub read_latency_ticks_min: u64,
    /// Mean of the exponential distribution a read's latency is drawn from (before the bound).
    pub read_latency_ticks_mean: u64,
    /// Lower bound of a write's latency.
    pub write_latency_ticks_min: u64,
    /// Mean of the exponential distribution a write's latency is drawn from (before the bound).
    pub write_latency_ticks_mean: u64,
}

impl FaultConfig {
    /// Asserts that every probability lies in `[0, 1]`.
    pub fn assert_valid(&self) {
        for probability in [
            self.read_bit_flip_probability,
            self.write_bit_flip_probability,
            self.misdirected_write_probability,
            self.misdirected_read_probability,
            self.latent_sector_error_probability,
            self.lost_write_probability,
            self.crash_write_torn_probability,
            self.sector_corrupt_probability,
        ] {
            assert!(probability >= 0.0, "probability {probability} below 0");
            assert!(probability <= 1.0, "probability {probability} above 1");
        }
    }
}

/// One kind of injected fault, as recorded in the [`crate::FaultLog`].
///
/// In a [`crate::FaultRecord`], `offset` and `len` name the range the fault affected: one sector
/// for bit flips and latent sector errors, the whole I/O as submitted for the others.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum FaultKind {
    /// A read saw one sector with a bit flipped; later reads of that sector see it too, until the
    /// sector is rewritten. The record names that sector.
    ReadBitFlip,
    /// A write stored one sector with a bit flipped. The record names that sector.
    WriteBitFlip,
    /// A write landed at `target_offset` (same zone, same length) instead of the record's
    /// `offset`, which kept its old bytes.
    MisdirectedWrite {
        /// Where the write's bytes actually landed, relative to the zone start.
        target_offset: u64,
    },
    /// A read returned the bytes at `source_offset` (same zone, same length) instead of those
    /// at the record's `offset`.
    MisdirectedRead {
        /// Where the returned bytes were actually read from, relative to the zone start.
        source_offset: u64,
    },
    /// A written sector became unreadable until rewritten. The record names that sector.
    LatentSectorError,
    /// A write was acknowledged but never applied.
    LostWrite,
    /// A write pending at a crash landed only in part (a prefix, a suffix or a scatter of its
    /// sectors, perhaps with one sector half old and half new). The record names the whole write.
    /// On a [`crate::SimFile`]: an unsynced write cut by a crash, each of its sectors left old,
    /// new, zeros or junk (the sectors that became zeros or junk have records of their own).
    TornWrite,
    /// A [`crate::SimFile`] write failed with EIO and changed nothing. The record names the write.
    WriteError,
    /// A [`crate::SimFile`] write or `set_len` that would grow the file failed with ENOSPC and
    /// changed nothing. The record names the range the growth asked for.
    NoSpace,
    /// A [`crate::SimFile`] sync failed with EIO: the dirty data of every write since the last
    /// sync was dropped unwritten (its pages stay readable until a crash, marked clean), and the
    /// length changes since then were forgotten. The record spans the dropped bytes.
    SyncError,
    /// A [`crate::SimFile`] write or length change made since the last sync was lost by a crash.
    /// The record names the write, or the range between the old and the new length.
    CrashDropped,
    /// A sector became zeros: on a [`crate::SimFile`], a torn write's sector, or aimed at rest;
    /// on a [`crate::Disk`], a written sector stored as zeros (`sector_corrupt_probability`).
    /// The record names that sector.
    SectorZeroed,
    /// A sector became junk: a copy of the stale bytes at `source_offset` (on a
    /// [`crate::SimFile`], a torn write's sector or aimed at rest; on a [`crate::Disk`], a
    /// written sector stored as another sector's bytes). The record names the sector that holds
    /// the junk.
    SectorJunk {
        /// The offset (file, or zone) of the sector whose bytes were copied; the record's own
        /// offset when the junk is PRNG noise (all of the sector, or on a [`crate::Disk`] a run
        /// of its bytes inside it).
        source_offset: u64,
    },
}

impl FaultKind {
    /// Whether the fault changed (or failed to change) what the disk stores, as opposed to what
    /// one read returned or which call failed. Misdirected reads are transient; a write error and
    /// a refused growth changed nothing at all; a sync error and a crash's drop left bytes off the
    /// disk that the caller wrote.
    pub fn is_stored(&self) -> bool {
        match self {
            FaultKind::MisdirectedRead { .. } | FaultKind::WriteError | FaultKind::NoSpace => false,
            FaultKind::ReadBitFlip
            | FaultKind::WriteBitFlip
            | FaultKind::MisdirectedWrite { .. }
            | FaultKind::LatentSectorError
            | FaultKind::LostWrite
            | FaultKind::TornWrite
            | FaultKind::SyncError
            | FaultKind::CrashDropped
            | FaultKind::SectorZeroed
            | FaultKind::SectorJunk { .. } => true,
        }
    }

    /// The kind's snake_case name, as traces and reports print it (`read_bit_flip`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::ReadBitFlip => "read_bit_flip",
            FaultKind::WriteBitFlip => "write_bit_flip",
            FaultKind::MisdirectedWrite { .. } => "misdirected_write",
            FaultKind::MisdirectedRead { .. } => "misdirected_read",
            FaultKind::LatentSectorError => "latent_sector_error",
            FaultKind::LostWrite => "lost_write",
            FaultKind::TornWrite => "torn_write",
            FaultKind::WriteError => "write_error",
            FaultKind::NoSpace => "no_space",
            FaultKind::SyncError => "sync_error",
            FaultKind::CrashDropped => "crash_dropped",
            FaultKind::SectorZeroed => "sector_zeroed",
            FaultKind::SectorJunk { .. } => "sector_junk",
        }
    }
}
