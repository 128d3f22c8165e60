//! A simulated growable file for storage engines nobody here wrote ([`SimFile`]): a page cache
//! over the sector [`Disk`], with the persistence model of a real file system (DESIGN §5.1) and
//! seeded faults, every one recorded in the disk's [`FaultLog`].
//!
//! The file is synchronous: every call finishes at once. Each call that may inject a fault
//! (`read_at`, `write_at`, `set_len`, `sync`, `crash`, and the at-rest `aim_*` calls) advances
//! the file's tick by one, and every record it logs carries that tick. Offsets in records are
//! file offsets (the file is the disk's one zone, `file`, which starts at 0).
//!
//! # Persistence model
//!
//! - The caller sees `len` bytes; `durable_len` bytes survive a crash. The disk's bytes past
//!   `durable_len` are irrelevant.
//! - `write_at` changes cached sectors only (a read-modify-write of partial sectors); reads see the
//!   cache first, then the disk. A file that grows reads zeros in its new range.
//! - Data and length are separate: every write and every length change since the last sync is kept,
//!   in order, in the unsynced list (a write past the end is two entries, the length change and
//!   then the write).
//! - `sync` writes every dirty sector back to the disk, makes the length durable and clears the
//!   list.
//! - `crash` loses the cache. Each entry of the unsynced list independently persists or not:
//!   a length change 50/50; a write lands whole or is lost, 50/50, unless it is torn. The
//!   durable length is that of the last length change that persisted (or the old one), the range
//!   it newly exposes reads zeros except where a landed write put bytes, and a write that landed
//!   before a persisted truncation below it is cut there. With faults disabled a crash still
//!   drops or lands unsynced writes (that is the persistence model, not a fault), but never tears.
//!
//! # Fault-injection spec
//!
//! One zone, `file`, of `size_max` bytes: slot = page (misdirection granularity), one chunk, no
//! atlas (every sector may be faulted). Probabilities are in [`FileFaultConfig`], all zero by
//! default; nothing is injected while faults are disabled.
//!
//! - Failed calls, logged and reported, never silent: `write_at` fails with EIO (`WriteError`,
//!   nothing changed); a call that would grow the file fails with ENOSPC (`NoSpace`, nothing
//!   changed; growth past `size_max` always does); `sync` fails with EIO (`SyncError`, Linux
//!   semantics after Rebello et al., ATC'20: the dirty data of every write since the last sync
//!   is dropped unwritten, its pages stay readable and are marked clean, the length changes are
//!   forgotten, the error is reported once, and the next sync succeeds and says nothing). A sync
//!   fails only when something is unsynced. An engine recovers by treating the error as the loss
//!   of everything since its last successful sync (a retried sync is no proof of durability).
//! - Writeback, at `sync`: the disk's write faults (lost write, misdirected write to another
//!   page, bit flip, latent sector error), logged by the disk. Reads of durable sectors: the
//!   disk's read faults (latent sector error as EIO, sticky bit flip, misdirected read). Cached
//!   pages are never faulted. An engine recovers with checksums and redundancy of its own, or
//!   reports the corruption (a check that says "fine" over wrong bytes is a finding).
//! - Crash: an unsynced write is torn with `crash_write_torn_probability` (`TornWrite` for the
//!   whole write): each atomic unit it touches (`SimFileOptions::atomic_unit`, the engine's
//!   media model: a sector, or a byte) is independently old or new, and with `tear_garbage`
//!   also zeros (`SectorZeroed`) or junk (`SectorJunk`: the bytes at the same place of another
//!   sector of the durable file, stale bytes that may look valid; PRNG noise if there is no
//!   other). Only the write's own bytes change: "powersafe overwrite", which SQLite and redb
//!   assume, and which file systems give for an overwrite. Lost writes and length
//!   changes are logged as `CrashDropped`. An engine recovers because only unsynced data is hit:
//!   what it synced and acknowledged is intact (barring the other faults).
//! - At rest, aimed by the caller: bit rot, latent sector error, zeroed sector, junk sector, each
//!   in one durable sector (a cached page shields it from reads until the page is dropped).
//! - Aimed one-shot call errors (`aim_write_error`, `aim_no_space`, `aim_sync_error`): the next
//!   call that can fail that way fails, as a drawn error would (while faults are enabled;
//!   disabling faults disarms them).
//!
//! Everything is drawn from one ChaCha8 stream seeded by [`SimFileOptions::seed`] (the disk has
//! a second stream derived from it): the same seed and calls give the same bytes and fault log.

use std::collections::BTreeMap;
use std::fmt;
use std::io;

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::disk::{Disk, DiskOptions, IoKind, ZoneId, ZoneSpec};
use crate::fault_log::FaultLog;
use crate::faults::{FaultConfig, FaultKind};

/// The file's one zone on the disk.
const ZONE: ZoneId = 0;

/// The unsynced list never reaches this many entries (an engine that never syncs is a bug of
/// the harness's workload, not a state to model).
const UNSYNCED_COUNT_MAX: usize = 1 << 20;

/// Freed sector buffers kept for reuse, at most.
const SECTORS_FREE_MAX: usize = 1024;

/// Bytes of zeros written at once when a sync zeroes a hole.
const ZEROS_CHUNK_SIZE: u64 = 64 * 1024;

/// Mixed into the file's seed to seed the disk's own stream.
const DISK_SEED_SALT: u64 = 0x5349_4d5f_4649_4c45;

/// Fault probabilities of one [`SimFile`]. Every probability is per call, in `[0, 1]`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
pub struct FileFaultConfig {
    /// The disk's faults at writeback and on reads (bit flips, misdirection, latent errors, lost
    /// writes) and the crash tear probability. Latencies are ignored: the file is synchronous.
    pub disk: FaultConfig,
    /// A `write_at` fails with EIO and changes nothing.
    pub write_error_probability: f64,
    /// A `write_at` or `set_len` that would grow the file fails with ENOSPC and changes nothing.
    pub no_space_probability: f64,
    /// A `sync` with something unsynced fails with EIO (Linux semantics, see the module doc).
    pub sync_error_probability: f64,
}

impl FileFaultConfig {
    /// Asserts that every probability lies in `[0, 1]`.
    pub fn assert_valid(&self) {
        self.disk.assert_valid();
        for probability in [
            self.write_error_probability,
            self.no_space_probability,
            self.sync_error_probability,
        ] {
            assert!(probability >= 0.0, "probability {probability} below 0");
            assert!(probability <= 1.0, "probability {probability} above 1");
        }
    }
}

/// Everything a [`SimFile`] is built from.
#[derive(Clone, Debug)]
pub struct SimFileOptions {
    /// Seeds every draw of the file and (through a derived seed) of its disk.
    pub seed: u64,
    /// The atomic unit of the file: tears and sector faults are this size. 512 by default.
    pub sector_size: u64,
    /// Misdirection granularity (4096 by default); a multiple of sector_size.
    pub page_size: u64,
    /// The most bytes the file may hold; growth past it is ENOSPC. A multiple of page_size.
    pub size_max: u64,
    /// The unit a torn write tears in: each unit of it is old or new as a whole (a power of two
    /// dividing `sector_size`). The engine's stated media model: the sector by default; 1 for
    /// an engine that assumes only single bytes are written atomically (redb, SQLite).
    pub atomic_unit: u64,
    /// Whether a torn unit may also hold zeros or junk, not only its old or new bytes: damage
    /// beyond "old or new" (a block the file system allocated but never filled), which an
    /// engine's media model may exclude.
    pub tear_garbage: bool,
    /// Fault probabilities (none by default).
    pub faults: FileFaultConfig,
}

impl SimFileOptions {
    /// Sectors of 512 bytes, pages of 4096, no faults.
    pub fn new(seed: u64, size_max: u64) -> SimFileOptions {
        SimFileOptions {
            seed,
            sector_size: 512,
            page_size: 4096,
            size_max,
            atomic_unit: 512,
            tear_garbage: true,
            faults: FileFaultConfig::default(),
        }
    }
}

/// Why a [`SimFile`] call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileError {
    /// EIO: a failed write or sync, or a read of an unreadable sector.
    Io,
    /// ENOSPC: the file may not grow (past `size_max`, or by an injected fault).
    NoSpace,
    /// A read reached past the end of the file.
    OutOfRange {
        /// The read's offset.
        offset: u64,
        /// The read's length.
        len: u64,
        /// The file's length then.
        file_len: u64,
    },
}

impl fmt::Display for FileError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Io => write!(formatter, "EIO (simulated)"),
            FileError::NoSpace => write!(formatter, "ENOSPC (simulated)"),
            FileError::OutOfRange {
                offset,
                len,
                file_len,
            } => write!(
                formatter,
                "read of {len} bytes at offset {offset} past the end of a file of {file_len} bytes"
            ),
        }
    }
}

impl std::error::Error for FileError {}

impl From<FileError> for io::Error {
    fn from(error: FileError) -> io::Error {
        match error {
            FileError::Io => io::Error::other(error),
            FileError::NoSpace => io::Error::new(io::ErrorKind::StorageFull, error),
            FileError::OutOfRange { .. } => io::Error::new(io::ErrorKind::UnexpectedEof, error),
        }
    }
}

/// Counts of a [`SimFile`]'s calls and bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FileStats {
    /// `read_at` calls, failed ones included.
    pub reads: u64,
    /// `write_at` calls, failed ones included.
    pub writes: u64,
    /// `sync` calls, failed ones included.
    pub syncs: u64,
    /// `set_len` calls, failed ones included.
    pub set_lens: u64,
    /// `crash` calls.
    pub crashes: u64,
    /// Bytes returned by successful reads.
    pub bytes_read: u64,
    /// Bytes taken by successful writes.
    pub bytes_written: u64,
}

/// One sector of the page cache.
#[derive(Clone, Debug)]
struct CachedSector {
    /// The whole sector as reads see it; bytes past the file's length are zeros.
    bytes: Box<[u8]>,
    /// Whether the next sync writes it back. A failed sync marks dirty sectors clean: they stay
    /// readable, but no sync writes them and a crash loses them.
    dirty: bool,
}

/// One write or length change since the last sync.
#[derive(Clone, Debug)]
enum Unsynced {
    Write { offset: u64, data: Vec<u8> },
    Length { from: u64, to: u64 },
}

impl Unsynced {
    /// The file range the entry touched (a length change: between the old and the new length).
    fn range(&self) -> (u64, u64) {
        match self {
            Unsynced::Write { offset, data } => (*offset, offset + data.len() as u64),
            Unsynced::Length { from, to } => (*from.min(to), *from.max(to)),
        }
    }
}

/// What a crash did to one sector of a torn write.
#[derive(Clone, Debug)]
enum SectorFate {
    Old,
    New,
    Zeros,
    /// The junk's bytes, copied before the crash changed anything, and where they came from.
    Junk {
        source_offset: u64,
        bytes: Vec<u8>,
    },
}

/// What a crash did to one entry of the unsynced list.
#[derive(Clone, Debug)]
enum EntryFate {
    Persisted,
    Dropped,
    /// A torn write: the fate of each atomic unit it touches, in order.
    Torn(Vec<SectorFate>),
}

/// A simulated growable file (see the module doc for its persistence model and faults).
///
/// Calls may come in any order; each finishes at once. After `crash` the file is rebooted: the
/// cache and the unsynced list are empty, `len() == durable_len()`, and the file is usable.
///
/// A page kept clean by a failed sync still holds the dropped bytes: a later write to it makes it
/// dirty again, whole, so the next sync writes those bytes too (as Linux does).
///
/// `Clone` forks the file whole (cache, unsynced list, disk, PRNGs, fault log): the clone goes on
/// exactly as the original would.
#[derive(Clone)]
pub struct SimFile {
    seed: u64,
    sector_size: u64,
    page_size: u64,
    size_max: u64,
    faults: FileFaultConfig,
    atomic_unit: u64,
    tear_garbage: bool,
    faults_enabled: bool,
    /// While a crash draws a torn write's units: the last junk source (torn sector, source
    /// sector offset, its bytes), so that a sector's junk units come from one source.
    junk_memo: Option<(u64, u64, Vec<u8>)>,
    /// Unused bits of the last 64-bit draw of tear fates (`fate_bits_left` of them), reset at
    /// each crash.
    fate_bits: u64,
    fate_bits_left: u32,
    prng: ChaCha8Rng,
    disk: Disk,
    tick: u64,
    /// The length the caller sees.
    len: u64,
    /// The length a crash keeps if nothing unsynced persists.
    durable_len: u64,
    /// A byte at or past `zero_from` in no cached sector reads as zero; below it, as the disk's.
    /// The least of `durable_len` and of every length since the last sync (a file truncated and
    /// grown again reads zeros where it was cut).
    zero_from: u64,
    /// The page cache, by sector index. Every sector lies below `len`.
    cache: BTreeMap<u64, CachedSector>,
    dirty_count: usize,
    unsynced: Vec<Unsynced>,
    aimed_write_error: bool,
    aimed_no_space: bool,
    aimed_sync_error: bool,
    stats: FileStats,
    sectors_free: Vec<Box<[u8]>>,
    /// Reused for disk reads and writes.
    scratch: Vec<u8>,
    /// Reused by sync for the dirty sector indexes.
    sectors_dirty: Vec<u64>,
    zeros: Vec<u8>,
}

impl fmt::Debug for SimFile {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SimFile")
            .field("seed", &self.seed)
            .field("sector_size", &self.sector_size)
            .field("page_size", &self.page_size)
            .field("size_max", &self.size_max)
            .field("faults", &self.faults)
            .field("faults_enabled", &self.faults_enabled)
            .field("tick", &self.tick)
            .field("len", &self.len)
            .field("durable_len", &self.durable_len)
            .field("zero_from", &self.zero_from)
            .field("cache_count", &self.cache.len())
            .field("dirty_count", &self.dirty_count)
            .field("unsynced_count", &self.unsynced.len())
            .field("stats", &self.stats)
            .field("fault_log_len", &self.disk.fault_log().len())
            .finish_non_exhaustive()
    }
}

/// The disk's config for a file's: the same faults, no latency (the file is synchronous).
fn disk_faults(faults: &FaultConfig) -> FaultConfig {
    FaultConfig {
        read_latency_ticks_min: 0,
        read_latency_ticks_mean: 0,
        write_latency_ticks_min: 0,
        write_latency_ticks_mean: 0,
        ..faults.clone()
    }
}

impl SimFile {
    /// An empty file (length 0) over a fresh disk whose bytes are PRNG garbage.
    pub fn new(options: SimFileOptions) -> SimFile {
        let SimFileOptions {
            seed,
            sector_size,
            page_size,
            size_max,
            atomic_unit,
            tear_garbage,
            faults,
        } = options;
        assert!(sector_size > 0);
        assert!(
            atomic_unit.is_power_of_two(),
            "atomic unit not a power of two"
        );
        assert_eq!(
            sector_size % atomic_unit,
            0,
            "atomic unit does not divide the sector"
        );
        assert!(page_size > 0);
        assert!(size_max > 0);
        assert_eq!(
            page_size % sector_size,
            0,
            "page size not a sector multiple"
        );
        assert_eq!(size_max % page_size, 0, "size_max not a page multiple");
        faults.assert_valid();

        let disk = Disk::new_zeroed(DiskOptions {
            replica: 0,
            seed: seed ^ DISK_SEED_SALT,
            sector_size,
            zones: vec![ZoneSpec {
                name: "file".into(),
                size: size_max,
                slot_size: page_size,
                chunk_size: size_max,
            }],
            faults: disk_faults(&faults.disk),
            faulty_chunks: None,
        });
        assert!(disk.faults_enabled());
        let zeros_len = (ZEROS_CHUNK_SIZE / sector_size).max(1) * sector_size;
        let file = SimFile {
            seed,
            sector_size,
            page_size,
            size_max,
            faults,
            atomic_unit,
            tear_garbage,
            faults_enabled: true,
            junk_memo: None,
            fate_bits: 0,
            fate_bits_left: 0,
            prng: ChaCha8Rng::seed_from_u64(seed),
            disk,
            tick: 0,
            len: 0,
            durable_len: 0,
            zero_from: 0,
            cache: BTreeMap::new(),
            dirty_count: 0,
            unsynced: Vec::new(),
            aimed_write_error: false,
            aimed_no_space: false,
            aimed_sync_error: false,
            stats: FileStats::default(),
            sectors_free: Vec::new(),
            scratch: Vec::new(),
            sectors_dirty: Vec::new(),
            zeros: vec![0; zeros_len as usize],
        };
        file.assert_invariants();
        file
    }

    /// The length the caller sees (cached writes and length changes included).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The length a crash now would keep if no unsynced length change persisted.
    pub fn durable_len(&self) -> u64 {
        self.durable_len
    }

    /// The current tick: the number of calls that advanced it so far.
    pub fn tick(&self) -> u64 {
        self.tick
    }

    /// The atomic unit of the file.
    pub fn sector_size(&self) -> u64 {
        self.sector_size
    }

    /// The misdirection granularity, as given.
    pub fn page_size(&self) -> u64 {
        self.page_size
    }

    /// The most bytes the file may hold, as given.
    pub fn size_max(&self) -> u64 {
        self.size_max
    }

    /// The fault probabilities in force.
    pub fn fault_config(&self) -> &FileFaultConfig {
        &self.faults
    }

    /// The disk under the file (its one zone, `file`, holds the durable bytes at file offsets),
    /// for a checker that asks which sectors a fault left damaged ([`Disk::range_faulty`]).
    pub fn disk(&self) -> &Disk {
        &self.disk
    }

    /// Counts of calls and bytes so far.
    pub fn stats(&self) -> FileStats {
        self.stats
    }

    /// Every fault injected so far (the disk's log, which also holds the file's records).
    pub fn fault_log(&self) -> &FaultLog {
        self.disk.fault_log()
    }

    /// The number of writes and length changes since the last sync.
    pub fn unsynced_count(&self) -> usize {
        self.unsynced.len()
    }

    /// Whether faults are being injected.
    pub fn faults_enabled(&self) -> bool {
        self.faults_enabled
    }

    /// Faults start enabled (with the default config none is drawn anyway).
    ///
    /// `false`: no fault is injected from now on (no tears at a crash; the disk forgets its latent
    /// errors and sticky read flips; aimed call errors are disarmed) until enabled again. Bytes
    /// already damaged stay damaged.
    pub fn set_faults_enabled(&mut self, enabled: bool) {
        self.faults_enabled = enabled;
        self.disk.set_faults_enabled(enabled);
        if !enabled {
            self.aimed_write_error = false;
            self.aimed_no_space = false;
            self.aimed_sync_error = false;
        }
        assert_eq!(self.disk.faults_enabled(), self.faults_enabled);
    }

    /// Replaces the fault probabilities for calls from now on. Faults already injected stay.
    pub fn set_fault_config(&mut self, faults: FileFaultConfig) {
        faults.assert_valid();
        self.disk.set_fault_config(disk_faults(&faults.disk));
        self.faults = faults;
    }

    /// Reads `buffer.len()` bytes at `offset` (any offset and length within the file). Fails with
    /// `OutOfRange` past the end, and with `Io` if a durable sector the read needs from the disk
    /// is unreadable (the buffer's content is then unspecified).
    pub fn read_at(&mut self, offset: u64, buffer: &mut [u8]) -> Result<(), FileError> {
        self.tick_advance();
        self.stats.reads += 1;
        let len = buffer.len() as u64;
        let end = offset
            .checked_add(len)
            .filter(|&end| end <= self.len)
            .ok_or(FileError::OutOfRange {
                offset,
                len,
                file_len: self.len,
            })?;
        if len == 0 {
            return Ok(());
        }
        let sector_size = self.sector_size;
        let sector_first = offset / sector_size;
        let sector_end = end.div_ceil(sector_size);
        let mut sector = sector_first;
        // Cached sectors in order, and the runs of uncached sectors between them.
        while sector < sector_end {
            let next_cached = self
                .cache
                .range(sector..sector_end)
                .next()
                .map(|(&index, _)| index);
            let run_end = next_cached.unwrap_or(sector_end);
            if run_end > sector {
                self.read_uncached(sector, run_end, offset, buffer)?;
            }
            if let Some(index) = next_cached {
                let cached = &self.cache[&index];
                copy_overlap(&cached.bytes, index * sector_size, buffer, offset);
                sector = index + 1;
            } else {
                sector = run_end;
            }
        }
        self.stats.bytes_read += len;
        Ok(())
    }

    /// Fills the part of `buffer` (the read at `offset`) that uncached sectors
    /// `[sector_first, sector_end)` hold: from the disk below `zero_from`, zeros above.
    fn read_uncached(
        &mut self,
        sector_first: u64,
        sector_end: u64,
        offset: u64,
        buffer: &mut [u8],
    ) -> Result<(), FileError> {
        assert!(sector_first < sector_end);
        let sector_size = self.sector_size;
        let run_offset = sector_first * sector_size;
        let run_end = sector_end * sector_size;
        let disk_end = run_end.min(self.zero_from.div_ceil(sector_size) * sector_size);
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.resize((run_end - run_offset) as usize, 0);
        if disk_end > run_offset {
            let disk_len = disk_end - run_offset;
            self.disk
                .submit_read(self.tick, self.tick, ZONE, run_offset, disk_len);
            let completion = self
                .disk
                .poll_completion_into(self.tick, |_| Some(&mut scratch[..disk_len as usize]))
                .expect("a read without latency completes at once");
            assert_eq!(completion.kind, IoKind::Read);
            assert_eq!(self.disk.pending_count(), 0);
            if completion.result.is_err() {
                self.scratch = scratch;
                return Err(FileError::Io);
            }
            // Bytes of the run's last disk sector at or past `zero_from` read as zeros.
            if self.zero_from < disk_end {
                scratch[(self.zero_from - run_offset) as usize..].fill(0);
            }
        }
        copy_overlap(&scratch, run_offset, buffer, offset);
        self.scratch = scratch;
        Ok(())
    }

    /// Writes `data` at `offset` (any offset and length) into the page cache, growing the file if
    /// it ends past the end (the gap reads zeros). Fails with `NoSpace` past `size_max` or by an
    /// injected ENOSPC (only when it would grow), and with `Io` by an injected write error;
    /// a failed write changes nothing. An empty write does nothing, wherever it points.
    pub fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), FileError> {
        self.tick_advance();
        self.stats.writes += 1;
        if data.is_empty() {
            return Ok(());
        }
        let len = data.len() as u64;
        let Some(end) = offset.checked_add(len).filter(|&end| end <= self.size_max) else {
            self.record(FaultKind::NoSpace, offset, len);
            return Err(FileError::NoSpace);
        };
        // An aimed fault still draws the chance it replaces, so that aiming one call leaves
        // every other draw of the run where it was.
        let write_error_probability = self.faults.write_error_probability;
        if self.faults_enabled && (self.chance(write_error_probability) | self.aimed_write_error) {
            self.aimed_write_error = false;
            self.record(FaultKind::WriteError, offset, len);
            return Err(FileError::Io);
        }
        if end > self.len {
            if self.no_space_drawn() {
                self.record(FaultKind::NoSpace, offset, len);
                return Err(FileError::NoSpace);
            }
            self.length_change(end);
        }
        assert!(end <= self.len);

        let sector_size = self.sector_size;
        let mut position = offset;
        while position < end {
            let sector = position / sector_size;
            let within = position % sector_size;
            let count = (sector_size - within).min(end - position);
            let source = &data[(position - offset) as usize..(position - offset + count) as usize];
            // A sector overwritten whole needs none of its old bytes.
            let cached = self.sector_cached(sector, count < sector_size);
            cached.bytes[within as usize..(within + count) as usize].copy_from_slice(source);
            if !cached.dirty {
                cached.dirty = true;
                self.dirty_count += 1;
            }
            position += count;
        }
        assert_eq!(position, end);
        self.unsynced_push(Unsynced::Write {
            offset,
            data: data.to_vec(),
        });
        self.stats.bytes_written += len;
        self.assert_invariants();
        Ok(())
    }

    /// Sets the length the caller sees. A shrink forgets the bytes past it (growing again reads
    /// zeros there); a growth reads zeros. Fails with `NoSpace` past `size_max` or by an injected
    /// ENOSPC (only when it would grow), changing nothing. The same length does nothing.
    pub fn set_len(&mut self, len: u64) -> Result<(), FileError> {
        self.tick_advance();
        self.stats.set_lens += 1;
        if len == self.len {
            return Ok(());
        }
        if len > self.len && (len > self.size_max || self.no_space_drawn()) {
            self.record(FaultKind::NoSpace, self.len, len - self.len);
            return Err(FileError::NoSpace);
        }
        self.length_change(len);
        assert_eq!(self.len, len);
        self.assert_invariants();
        Ok(())
    }

    /// Makes everything written durable: writes each dirty sector back to the disk (where the
    /// disk's write faults happen), zeroes on the disk what reads as zeros, sets the durable
    /// length to the length, and clears the unsynced list. Fails with `Io` by an injected sync
    /// error, with Linux semantics (see the module doc), only when something is unsynced.
    pub fn sync(&mut self) -> Result<(), FileError> {
        self.tick_advance();
        self.stats.syncs += 1;
        let sync_error_probability = self.faults.sync_error_probability;
        if !self.unsynced.is_empty()
            && self.faults_enabled
            && (self.chance(sync_error_probability) | self.aimed_sync_error)
        {
            self.aimed_sync_error = false;
            self.sync_fail();
            return Err(FileError::Io);
        }

        let sector_size = self.sector_size;
        self.sectors_dirty.clear();
        self.sectors_dirty.extend(
            self.cache
                .iter()
                .filter(|(_, cached)| cached.dirty)
                .map(|(&index, _)| index),
        );
        assert_eq!(self.sectors_dirty.len(), self.dirty_count);

        // The hole, `[zero_from, len)`: what is not dirty there becomes zeros on the disk. Whole
        // sectors as the file system's metadata does (no data write, no fault); the sector
        // that `zero_from` cuts through is written back with its tail zeroed, as data.
        if self.zero_from < self.len {
            let cut_sector = self.zero_from / sector_size;
            let cut = !self.zero_from.is_multiple_of(sector_size);
            if cut && self.sectors_dirty.binary_search(&cut_sector).is_err() {
                let mut scratch = std::mem::take(&mut self.scratch);
                scratch.clear();
                scratch.resize(sector_size as usize, 0);
                self.durable_view(cut_sector, &mut scratch);
                self.writeback(cut_sector * sector_size, &scratch);
                self.scratch = scratch;
            }
            let hole_first = self.zero_from.div_ceil(sector_size);
            let hole_end = self.len.div_ceil(sector_size);
            let mut sector = hole_first;
            while sector < hole_end {
                let dirty_next = self.sectors_dirty.partition_point(|&index| index < sector);
                let gap_end = self
                    .sectors_dirty
                    .get(dirty_next)
                    .copied()
                    .unwrap_or(hole_end)
                    .min(hole_end);
                if gap_end > sector {
                    self.zero_sectors(sector, gap_end);
                    sector = gap_end;
                } else {
                    sector += 1;
                }
            }
        }

        // Writeback, in runs of contiguous dirty sectors.
        let mut scratch = std::mem::take(&mut self.scratch);
        let mut start = 0;
        while start < self.sectors_dirty.len() {
            let mut end = start + 1;
            while end < self.sectors_dirty.len()
                && self.sectors_dirty[end] == self.sectors_dirty[end - 1] + 1
            {
                end += 1;
            }
            scratch.clear();
            for index in &self.sectors_dirty[start..end] {
                scratch.extend_from_slice(&self.cache[index].bytes);
            }
            self.writeback(self.sectors_dirty[start] * sector_size, &scratch);
            start = end;
        }
        self.scratch = scratch;

        let mut sectors_dirty = std::mem::take(&mut self.sectors_dirty);
        for index in sectors_dirty.drain(..) {
            let cached = self.cache.remove(&index).expect("a dirty sector");
            assert!(cached.dirty);
            self.sector_free(cached.bytes);
        }
        self.sectors_dirty = sectors_dirty;
        self.dirty_count = 0;
        self.durable_len = self.len;
        self.zero_from = self.len;
        self.unsynced.clear();
        assert!(self.cache.values().all(|cached| !cached.dirty));
        self.assert_invariants();
        Ok(())
    }

    /// A failed sync: every dirty sector is marked clean unwritten, the unsynced list is
    /// forgotten, and one record spans what was dropped.
    fn sync_fail(&mut self) {
        assert!(!self.unsynced.is_empty());
        let (mut start, mut end) = (u64::MAX, 0);
        for entry in &self.unsynced {
            let (entry_start, entry_end) = entry.range();
            assert!(entry_start < entry_end);
            start = start.min(entry_start);
            end = end.max(entry_end);
        }
        for cached in self.cache.values_mut() {
            cached.dirty = false;
        }
        self.dirty_count = 0;
        self.unsynced.clear();
        self.record(FaultKind::SyncError, start, end - start);
        self.assert_invariants();
    }

    /// The process dies: the page cache is lost, and each unsynced write and length change
    /// persists or not, as the PRNG draws (see the module doc). The file is then rebooted.
    pub fn crash(&mut self) {
        self.tick_advance();
        self.stats.crashes += 1;
        let durable_len_old = self.durable_len;
        let unsynced = std::mem::take(&mut self.unsynced);

        // Draw every fate first, in order, junk copied from the file as it stood.
        let torn_probability = self.faults.disk.crash_write_torn_probability;
        let mut fates = Vec::with_capacity(unsynced.len());
        for entry in &unsynced {
            let fate = match entry {
                Unsynced::Length { .. } => {
                    if self.prng.gen_bool(0.5) {
                        EntryFate::Persisted
                    } else {
                        EntryFate::Dropped
                    }
                }
                Unsynced::Write { offset, data } => {
                    if self.faults_enabled && self.chance(torn_probability) {
                        let unit = self.atomic_unit;
                        self.junk_memo = None;
                        self.fate_bits_left = 0;
                        let unit_first = offset / unit;
                        let unit_end = (offset + data.len() as u64).div_ceil(unit);
                        let units = (unit_first..unit_end)
                            .map(|unit_index| {
                                self.unit_fate_draw(unit_index * unit, durable_len_old)
                            })
                            .collect();
                        EntryFate::Torn(units)
                    } else if self.prng.gen_bool(0.5) {
                        EntryFate::Persisted
                    } else {
                        EntryFate::Dropped
                    }
                }
            };
            fates.push(fate);
        }

        // The durable length, the least length it passed through, and for each entry the least
        // length persisted after it (a landed write is cut there: truncated away).
        let mut len_final = durable_len_old;
        let mut len_least = durable_len_old;
        let mut floors = vec![u64::MAX; unsynced.len()];
        let mut floor = u64::MAX;
        for (index, (entry, fate)) in unsynced.iter().zip(&fates).enumerate().rev() {
            floors[index] = floor;
            if let (Unsynced::Length { to, .. }, EntryFate::Persisted) = (entry, fate) {
                floor = floor.min(*to);
                len_least = len_least.min(*to);
            }
        }
        for (entry, fate) in unsynced.iter().zip(&fates) {
            if let (Unsynced::Length { to, .. }, EntryFate::Persisted) = (entry, fate) {
                len_final = *to;
            }
        }
        assert!(len_final <= self.size_max);
        assert!(len_least <= len_final);

        // What the durable length newly exposes reads zeros, then the writes land in order.
        if len_least < len_final {
            self.disk_zero_range(len_least, len_final);
        }
        for ((entry, fate), floor) in unsynced.iter().zip(&fates).zip(floors) {
            match (entry, fate) {
                (Unsynced::Length { .. }, EntryFate::Persisted) => {}
                (Unsynced::Length { .. }, EntryFate::Torn(_)) => unreachable!("a length tears"),
                (_, EntryFate::Dropped) => {
                    let (start, end) = entry.range();
                    self.record(FaultKind::CrashDropped, start, end - start);
                }
                (Unsynced::Write { offset, data }, EntryFate::Persisted) => {
                    let cut = (offset + data.len() as u64).min(floor).min(len_final);
                    if cut > *offset {
                        self.disk_write_bytes(*offset, &data[..(cut - offset) as usize]);
                    }
                }
                (Unsynced::Write { offset, data }, EntryFate::Torn(units)) => {
                    self.record(FaultKind::TornWrite, *offset, data.len() as u64);
                    let cut = (offset + data.len() as u64).min(floor).min(len_final);
                    self.tear_apply(*offset, data, cut, units);
                }
            }
        }

        // The reboot.
        let cache = std::mem::take(&mut self.cache);
        for (_, cached) in cache {
            self.sector_free(cached.bytes);
        }
        self.dirty_count = 0;
        self.durable_len = len_final;
        self.len = len_final;
        self.zero_from = len_final;
        self.unsynced = unsynced;
        self.unsynced.clear();
        assert_eq!(self.disk.pending_count(), 0);
        self.assert_invariants();
    }

    /// Draws what a crash does to the atomic unit at `unit_offset` of a torn write: old or new,
    /// or (with `tear_garbage`) zeros or junk.
    fn unit_fate_draw(&mut self, unit_offset: u64, durable_len: u64) -> SectorFate {
        // Two bits a unit at most, taken from one 64-bit draw until it runs out: a byte-atomic
        // tear of a page draws 4096 fates.
        let bits = if self.tear_garbage { 2 } else { 1 };
        if self.fate_bits_left < bits {
            self.fate_bits = self.prng.next_u64();
            self.fate_bits_left = 64;
        }
        let fate = self.fate_bits & ((1 << bits) - 1);
        self.fate_bits >>= bits;
        self.fate_bits_left -= bits;
        match fate {
            0 => SectorFate::Old,
            1 => SectorFate::New,
            2 => SectorFate::Zeros,
            _ => {
                // One source sector per torn sector: the unit's bytes at the same place of it.
                let sector = unit_offset / self.sector_size;
                let source = match self.junk_memo.take() {
                    Some((memo_sector, source_offset, bytes)) if memo_sector == sector => {
                        (source_offset, bytes)
                    }
                    _ => self.junk_draw(sector, durable_len),
                };
                let (source_sector_offset, sector_bytes) = source;
                let within = (unit_offset % self.sector_size) as usize;
                let bytes = sector_bytes[within..within + self.atomic_unit as usize].to_vec();
                self.junk_memo = Some((sector, source_sector_offset, sector_bytes));
                SectorFate::Junk {
                    source_offset: source_sector_offset + within as u64,
                    bytes,
                }
            }
        }
    }

    /// Applies a torn write's unit fates to the disk, within `[offset, cut)` only: bytes the
    /// write did not cover never change ("powersafe overwrite", which SQLite and redb assume).
    /// The sectors' new bytes are built in one buffer and each changed sector is stored once
    /// (a byte-atomic tear of a page has thousands of runs); runs of zeros or junk are logged
    /// one record per run within a sector.
    fn tear_apply(&mut self, offset: u64, data: &[u8], cut: u64, units: &[SectorFate]) {
        if cut <= offset {
            return;
        }
        let unit = self.atomic_unit;
        let sector_size = self.sector_size;
        let unit_first = offset / unit;
        let aligned_start = offset - offset % sector_size;
        let aligned_end = cut.div_ceil(sector_size) * sector_size;
        let sector_count = ((aligned_end - aligned_start) / sector_size) as usize;
        let mut bytes = self
            .disk
            .peek(ZONE, aligned_start, aligned_end - aligned_start)
            .to_vec();
        // Per sector of the range: 0 unchanged, 1 changed, 2 damaged (zeros or junk).
        let mut sector_state = vec![0_u8; sector_count];
        let units_per_sector = sector_size / unit;
        let sector_of = |position: usize| (unit_first + position as u64) / units_per_sector;
        let mut index = 0;
        while index < units.len() {
            let run_start_unit = unit_first + index as u64;
            let start = (run_start_unit * unit).max(offset);
            if start >= cut {
                break;
            }
            // A run: units of one fate within one sector.
            let kind = std::mem::discriminant(&units[index]);
            let mut run_end = index + 1;
            while run_end < units.len()
                && std::mem::discriminant(&units[run_end]) == kind
                && sector_of(run_end) == sector_of(index)
            {
                run_end += 1;
            }
            let end = ((unit_first + run_end as u64) * unit)
                .min(offset + data.len() as u64)
                .min(cut);
            let target = (start - aligned_start) as usize..(end - aligned_start) as usize;
            let sector_index = ((start - aligned_start) / sector_size) as usize;
            match &units[index] {
                SectorFate::Old => {}
                SectorFate::New => {
                    bytes[target]
                        .copy_from_slice(&data[(start - offset) as usize..(end - offset) as usize]);
                    sector_state[sector_index] = sector_state[sector_index].max(1);
                }
                SectorFate::Zeros => {
                    bytes[target].fill(0);
                    sector_state[sector_index] = 2;
                    self.record(FaultKind::SectorZeroed, start, end - start);
                }
                SectorFate::Junk { source_offset, .. } => {
                    let mut junk = Vec::with_capacity(((run_end - index) as u64 * unit) as usize);
                    for fate in &units[index..run_end] {
                        if let SectorFate::Junk { bytes, .. } = fate {
                            junk.extend_from_slice(bytes);
                        }
                    }
                    // The run's first unit may begin before the write, its last end after.
                    let skip = (start - run_start_unit * unit) as usize;
                    bytes[target].copy_from_slice(&junk[skip..skip + (end - start) as usize]);
                    sector_state[sector_index] = 2;
                    let kind = FaultKind::SectorJunk {
                        source_offset: *source_offset,
                    };
                    self.record(kind, start, end - start);
                }
            }
            index = run_end;
        }
        for (sector_index, state) in sector_state.iter().enumerate() {
            let within = sector_index * sector_size as usize;
            let sector_bytes = &bytes[within..within + sector_size as usize];
            let sector_offset = aligned_start + within as u64;
            match state {
                0 => {}
                1 => self.disk.poke(ZONE, sector_offset, sector_bytes),
                _ => self.disk.poke_faulty(ZONE, sector_offset, sector_bytes),
            }
        }
    }

    /// Junk for `sector`: a copy of another sector of the durable file (stale bytes that may look
    /// valid), or PRNG noise if there is none (then the source is the sector itself).
    fn junk_draw(&mut self, sector: u64, durable_len: u64) -> (u64, Vec<u8>) {
        let sector_size = self.sector_size;
        let durable_count = durable_len.div_ceil(sector_size);
        let candidates = durable_count - u64::from(sector < durable_count);
        if candidates == 0 {
            let mut bytes = vec![0; sector_size as usize];
            self.prng.fill_bytes(&mut bytes);
            return (sector * sector_size, bytes);
        }
        let mut source = self.prng.gen_range(0..candidates);
        if source >= sector {
            source += 1;
        }
        assert_ne!(source, sector);
        assert!(source < durable_count);
        let source_offset = source * sector_size;
        let bytes = self.disk.peek(ZONE, source_offset, sector_size).to_vec();
        (source_offset, bytes)
    }

    /// What a fault-free read of `[offset, offset + len)` would return after a crash now if
    /// nothing unsynced persisted: the disk's stored bytes, write-time faults included,
    /// read-time faults not. The range must lie within the durable length.
    pub fn peek_durable(&self, offset: u64, len: u64) -> Vec<u8> {
        let end = offset.checked_add(len).expect("range overflows");
        assert!(end <= self.durable_len, "peek past the durable length");
        if len == 0 {
            return Vec::new();
        }
        let sector_size = self.sector_size;
        let start = offset - offset % sector_size;
        let aligned_end = end.div_ceil(sector_size) * sector_size;
        let bytes = self.disk.peek(ZONE, start, aligned_end - start);
        let within = (offset - start) as usize;
        bytes[within..within + len as usize].to_vec()
    }

    /// Makes the next `write_at` fail with EIO (while faults are enabled).
    pub fn aim_write_error(&mut self) {
        self.aimed_write_error = self.faults_enabled;
    }

    /// Makes the next `write_at` or `set_len` that would grow the file fail with ENOSPC (while
    /// faults are enabled).
    pub fn aim_no_space(&mut self) {
        self.aimed_no_space = self.faults_enabled;
    }

    /// Makes the next `sync` with something unsynced fail with EIO (while faults are enabled).
    pub fn aim_sync_error(&mut self) {
        self.aimed_sync_error = self.faults_enabled;
    }

    /// Whether a `sync` now has something to write (and so may fail).
    pub fn has_unsynced(&self) -> bool {
        !self.unsynced.is_empty()
    }

    /// Takes back every aimed write error, ENOSPC and sync error not yet injected (an aim meant
    /// for one call that did not fire there must not fire at a later one).
    pub fn aims_clear(&mut self) {
        self.aimed_write_error = false;
        self.aimed_no_space = false;
        self.aimed_sync_error = false;
    }

    /// Flips one bit of the durable sector holding `offset` (a bit within the durable length),
    /// logged by the disk as a write bit flip. Returns whether it was injected: `false` while
    /// faults are disabled or if `offset` is past the durable length.
    pub fn aim_bit_rot(&mut self, offset: u64) -> bool {
        let Some(sector_offset) = self.aim_at_rest_sector(offset) else {
            return false;
        };
        let visible_end = (sector_offset + self.sector_size).min(self.durable_len);
        let byte = self.prng.gen_range(sector_offset..visible_end);
        let bit = self.prng.gen_range(0..8_u8);
        let injected = self.disk.aim_bit_rot_at(self.tick, ZONE, byte, bit);
        assert!(injected);
        injected
    }

    /// Makes the durable sector holding `offset` unreadable until it is rewritten and synced.
    /// Returns whether it was injected (as [`SimFile::aim_bit_rot`]).
    pub fn aim_latent_error(&mut self, offset: u64) -> bool {
        let Some(sector_offset) = self.aim_at_rest_sector(offset) else {
            return false;
        };
        let injected = self.disk.aim_latent_error(self.tick, ZONE, sector_offset);
        assert!(injected);
        injected
    }

    /// Makes the durable sector holding `offset` zeros. Returns whether it was injected (as
    /// [`SimFile::aim_bit_rot`]).
    pub fn aim_zeros(&mut self, offset: u64) -> bool {
        let Some(sector_offset) = self.aim_at_rest_sector(offset) else {
            return false;
        };
        let zeros = std::mem::take(&mut self.zeros);
        self.disk
            .poke_faulty(ZONE, sector_offset, &zeros[..self.sector_size as usize]);
        self.zeros = zeros;
        self.record(FaultKind::SectorZeroed, sector_offset, self.sector_size);
        true
    }

    /// Makes the durable sector holding `offset` a copy of another durable sector (PRNG noise if
    /// there is none). Returns whether it was injected (as [`SimFile::aim_bit_rot`]).
    pub fn aim_junk(&mut self, offset: u64) -> bool {
        let Some(sector_offset) = self.aim_at_rest_sector(offset) else {
            return false;
        };
        let sector = sector_offset / self.sector_size;
        let (source_offset, bytes) = self.junk_draw(sector, self.durable_len);
        self.disk.poke_faulty(ZONE, sector_offset, &bytes);
        self.record(
            FaultKind::SectorJunk { source_offset },
            sector_offset,
            self.sector_size,
        );
        true
    }

    /// The sector an at-rest fault at `offset` hits, after advancing the tick; `None` while
    /// faults are disabled or past the durable length.
    fn aim_at_rest_sector(&mut self, offset: u64) -> Option<u64> {
        self.tick_advance();
        if !self.faults_enabled || offset >= self.durable_len {
            return None;
        }
        assert!(offset < self.size_max);
        Some(offset - offset % self.sector_size)
    }

    /// Records a length change, for the caller at once and in the unsynced list.
    fn length_change(&mut self, len: u64) {
        assert!(len <= self.size_max);
        assert_ne!(len, self.len);
        let sector_size = self.sector_size;
        if len < self.len {
            // Forget the sectors past the new end, and zero the cut sector's tail.
            let sector_end = len.div_ceil(sector_size);
            let dropped = self.cache.split_off(&sector_end);
            for (_, cached) in dropped {
                if cached.dirty {
                    self.dirty_count -= 1;
                }
                self.sector_free(cached.bytes);
            }
            if !len.is_multiple_of(sector_size) {
                if let Some(cached) = self.cache.get_mut(&(len / sector_size)) {
                    cached.bytes[(len % sector_size) as usize..].fill(0);
                }
            }
            self.zero_from = self.zero_from.min(len);
        }
        self.unsynced_push(Unsynced::Length {
            from: self.len,
            to: len,
        });
        self.len = len;
    }

    /// Whether a growth fails with an injected ENOSPC (drawn or aimed).
    fn no_space_drawn(&mut self) -> bool {
        let no_space_probability = self.faults.no_space_probability;
        if self.faults_enabled && (self.chance(no_space_probability) | self.aimed_no_space) {
            self.aimed_no_space = false;
            return true;
        }
        false
    }

    /// The cached sector `sector`, loaded (clean) with what reads see now if absent.
    /// The cached sector, cached now if it was not: with its current bytes if `fill` (a caller
    /// that overwrites it whole passes `false` and gets stale bytes it must replace).
    fn sector_cached(&mut self, sector: u64, fill: bool) -> &mut CachedSector {
        assert!(sector < self.len.div_ceil(self.sector_size));
        if !self.cache.contains_key(&sector) {
            let sector_size = self.sector_size as usize;
            let mut bytes = self
                .sectors_free
                .pop()
                .unwrap_or_else(|| vec![0; sector_size].into_boxed_slice());
            assert_eq!(bytes.len(), sector_size);
            if fill {
                self.durable_view(sector, &mut bytes);
            }
            self.cache.insert(
                sector,
                CachedSector {
                    bytes,
                    dirty: false,
                },
            );
        }
        self.cache.get_mut(&sector).expect("cached")
    }

    /// The bytes of uncached `sector` as a fault-free read sees them: the disk's below
    /// `zero_from`, zeros from it on.
    fn durable_view(&self, sector: u64, into: &mut [u8]) {
        let sector_size = self.sector_size;
        assert_eq!(into.len() as u64, sector_size);
        let sector_offset = sector * sector_size;
        let visible = self
            .zero_from
            .saturating_sub(sector_offset)
            .min(sector_size);
        if visible > 0 {
            let stored = self.disk.peek(ZONE, sector_offset, sector_size);
            into[..visible as usize].copy_from_slice(&stored[..visible as usize]);
        }
        into[visible as usize..].fill(0);
    }

    /// Writes whole sectors to the disk, with the disk's write faults.
    fn writeback(&mut self, offset: u64, data: &[u8]) {
        assert_eq!(offset % self.sector_size, 0);
        assert_eq!(data.len() as u64 % self.sector_size, 0);
        self.disk
            .submit_write(self.tick, self.tick, ZONE, offset, data);
        let completion = self
            .disk
            .poll_completion(self.tick)
            .expect("a write without latency completes at once");
        assert_eq!(completion.kind, IoKind::Write);
        assert_eq!(completion.result, Ok(()));
        assert_eq!(self.disk.pending_count(), 0);
    }

    /// Zeros whole sectors `[sector_first, sector_end)` on the disk, with no fault.
    fn zero_sectors(&mut self, sector_first: u64, sector_end: u64) {
        assert!(sector_first < sector_end);
        let sector_size = self.sector_size;
        let chunk_sectors = self.zeros.len() as u64 / sector_size;
        let zeros = std::mem::take(&mut self.zeros);
        let mut sector = sector_first;
        while sector < sector_end {
            let count = chunk_sectors.min(sector_end - sector);
            self.disk.poke(
                ZONE,
                sector * sector_size,
                &zeros[..(count * sector_size) as usize],
            );
            sector += count;
        }
        self.zeros = zeros;
    }

    /// Zeros `[start, end)` on the disk, with no fault (the bytes before `start` in its sector
    /// stay).
    fn disk_zero_range(&mut self, start: u64, end: u64) {
        assert!(start < end);
        let sector_size = self.sector_size;
        let mut whole_first = start.div_ceil(sector_size);
        if !start.is_multiple_of(sector_size) {
            let sector_offset = start - start % sector_size;
            let mut bytes = self.disk.peek(ZONE, sector_offset, sector_size).to_vec();
            bytes[(start - sector_offset) as usize..].fill(0);
            self.disk.poke(ZONE, sector_offset, &bytes);
            whole_first = sector_offset / sector_size + 1;
        }
        let whole_end = end.div_ceil(sector_size);
        if whole_first < whole_end {
            self.zero_sectors(whole_first, whole_end);
        }
    }

    /// Stores `data` at `offset` (any alignment) on the disk, with no fault: a read-modify-write
    /// of the partial sectors at either end.
    fn disk_write_bytes(&mut self, offset: u64, data: &[u8]) {
        assert!(!data.is_empty());
        let sector_size = self.sector_size;
        let end = offset + data.len() as u64;
        let start = offset - offset % sector_size;
        let aligned_end = end.div_ceil(sector_size) * sector_size;
        let mut bytes = self.disk.peek(ZONE, start, aligned_end - start).to_vec();
        let within = (offset - start) as usize;
        bytes[within..within + data.len()].copy_from_slice(data);
        self.disk.poke(ZONE, start, &bytes);
    }

    fn unsynced_push(&mut self, entry: Unsynced) {
        assert!(
            self.unsynced.len() < UNSYNCED_COUNT_MAX,
            "unsynced list full"
        );
        let (start, end) = entry.range();
        assert!(start < end);
        self.unsynced.push(entry);
    }

    fn sector_free(&mut self, bytes: Box<[u8]>) {
        if self.sectors_free.len() < SECTORS_FREE_MAX {
            self.sectors_free.push(bytes);
        }
    }

    fn record(&mut self, kind: FaultKind, offset: u64, len: u64) {
        self.disk.record_fault(self.tick, kind, ZONE, offset, len);
    }

    fn tick_advance(&mut self) {
        self.tick += 1;
    }

    /// A seeded draw that is true with `probability`. Draws nothing at 0 or 1, so that a fault
    /// kind switched off does not shift the rest of the stream.
    fn chance(&mut self, probability: f64) -> bool {
        if probability <= 0.0 {
            false
        } else if probability >= 1.0 {
            true
        } else {
            self.prng.gen_bool(probability)
        }
    }

    fn assert_invariants(&self) {
        assert!(self.len <= self.size_max);
        assert!(self.durable_len <= self.size_max);
        assert!(self.zero_from <= self.len);
        assert!(self.zero_from <= self.durable_len);
        assert!(self.unsynced.len() < UNSYNCED_COUNT_MAX);
        assert!(self.dirty_count <= self.cache.len());
        if self.unsynced.is_empty() {
            assert_eq!(self.dirty_count, 0);
        }
        if let Some((&last, cached)) = self.cache.last_key_value() {
            assert!(last < self.len.div_ceil(self.sector_size));
            // Pair: the cached bytes past the end are zeros (read back as such when it grows).
            let past_end = self.len - last * self.sector_size;
            if past_end < self.sector_size {
                assert!(cached.bytes[past_end as usize..].iter().all(|&b| b == 0));
            }
        }
        assert_eq!(self.disk.pending_count(), 0);
    }
}

/// Copies the bytes that `source` (file bytes from `source_offset`) and `target` (file bytes
/// from `target_offset`) have in common.
fn copy_overlap(source: &[u8], source_offset: u64, target: &mut [u8], target_offset: u64) {
    let start = source_offset.max(target_offset);
    let end = (source_offset + source.len() as u64).min(target_offset + target.len() as u64);
    if start >= end {
        return;
    }
    let count = (end - start) as usize;
    let source_at = (start - source_offset) as usize;
    let target_at = (start - target_offset) as usize;
    target[target_at..target_at + count].copy_from_slice(&source[source_at..source_at + count]);
}
