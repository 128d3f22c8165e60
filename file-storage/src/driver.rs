//! [`FileDriver`]: one solo [`Journal`] on one [`Storage`], every request carried out at once.
//!
//! The journal is sans-IO; this is its real-file driver. Each public call issues a journal
//! command, then drains `poll_io`, carries out each request against the storage (zone offsets
//! mapped through the [`Layout`]), reports the completion, and drains `poll_event` until the
//! command's event arrives. No journal I/O is in flight between calls.
//!
//! # Group commit: `append` queues, `sync` commits
//!
//! [`FileDriver::append`] adds one prepare to the open *batch*: the journal's write path runs in
//! full (`set_header_as_dirty`, `write_prepare`), the prepare's sectors are written to the file
//! (not yet durable), and the redundant-header sector write the journal asks for next is *held*
//! by the driver (completed to the journal, kept in memory, keyed by its offset: a later request
//! for the same sector, which the journal fills from `headers_redundant` and so covers every op
//! of the batch in it, replaces the earlier one). [`FileDriver::sync`] commits the batch:
//!
//! 1. one barrier: every prepare of the batch is durable;
//! 2. each distinct header sector the batch touched, written once with its newest bytes;
//! 3. one barrier: the headers are durable; every op of the batch is acknowledged.
//!
//! So a batch of any size costs two `fdatasync`s, and the write-ordering rule (no redundant
//! header reaches the file before its prepare is durable) holds for every op of it: no header
//! byte of the batch is written before barrier 1. A batch holds at most `pipeline_max` ops
//! (`append` on a full batch commits it first): a crash may land some of a batch's prepares and
//! tear others, and recovery cuts torn appends only within one pipeline of the head.
//! [`FileDriver::append_batch`] appends several messages and commits them.
//!
//! An op is acknowledged (safe from any crash) once a `sync` that began after its `append`
//! returned ([`FileDriver::op_durable`]). [`WriteOrdering::UnorderedUnsafe`] writes the header
//! sectors at once and has one barrier per batch: wrong on crash, kept for the explorer's tests.
//!
//! # Pipelined commit: one barrier a batch
//!
//! [`FileDriver::sync_pipelined`] overlaps step 3 of one batch with step 1 of the next. After
//! its barrier the batch's prepares are durable and its header sectors are still held: the batch
//! is *prepared*, not acknowledged. The next `sync_pipelined` writes the prepared batch's header
//! sectors beside the new batch's prepares and makes both durable with one barrier: the prepared
//! batch is acknowledged, and the new one is prepared in its place. A stream of batches so pays
//! one `fdatasync` a batch, and each op is acknowledged one barrier after its prepare is
//! durable; [`FileDriver::sync`] acknowledges everything (a prepared batch's headers alone cost
//! one more barrier).
//!
//! Why every crash state stays recoverable. Let batch `k` be prepared and batch `k+1` open when
//! `sync_pipelined` runs, and the crash come before its barrier returns. Durable: every write of
//! batches up to `k - 1` (prepares and header sectors), and batch `k`'s prepares. In flight, any
//! subset, torn: batch `k+1`'s prepares and batch `k`'s header sectors.
//! - *The ordering rule holds.* Batch `k`'s header sectors hold the bytes the journal asked for
//!   while batch `k` was open, kept apart from the open batch's (`prepared.headers` and
//!   `batch_headers`), so they name no op of batch `k+1`; they are written only after the barrier
//!   that made batch `k`'s prepares durable. A slot of batch `k+1` in one of those sectors keeps
//!   the header it had on disk (an op at or below the checkpoint, or reserved).
//! - *Batch `k`*: each prepare is durable; its redundant header is new, old, or (sector torn) bad.
//!   Recovery's table takes the prepare (`fix`) in the last two cases, as after a crash between
//!   the two barriers of an unpipelined commit.
//! - *Batch `k+1`*: each prepare landed, is missing or torn, under an old or torn header: a torn
//!   append. Recovery's `cut_torn` cuts torn appends in `(op_max - pipeline_max, op_prepare_max]`.
//!   Every unacknowledged op lies in batches `k` and `k+1`, and the driver keeps
//!   `prepared + open <= pipeline_max` ([`FileDriver::pipeline_room`]), so every torn append lies
//!   within one pipeline of the acknowledged head and so of `op_max`, and there are at most
//!   `pipeline_max` of them (recovery's `torn_max`). The driver then truncates at the first hole.
//! - *Acknowledged ops*: batches up to `k - 1`, whose prepares and headers were durable before the
//!   barrier began. A write of the epoch touches one of their slots only to append over an op at
//!   or below the durable checkpoint, which the ring may drop; a checkpoint moves only with
//!   nothing prepared or open.
//! - *Why not acknowledge a batch once its prepares are durable*: a crash alone would not lose it
//!   (recovery takes a durable prepare under an old header), but a later fault would. A prepare
//!   that rots under its own durable header is reported (`vsr`); under the header its slot held
//!   before, it reads as a torn append and is cut without a word.
//!
//! `file-storage/tests/crash.rs` explores every crash state of pipelined workloads exhaustively
//! and shows the rotting case (`pipelined_acknowledged_op_rotting_is_reported`).
//!
//! # Recovery truncates at the first hole
//!
//! A crash during a batch can leave a later prepare of it landed beside an earlier one torn:
//! recovery cuts the torn one (`cut_torn`), and the log has a hole. The driver keeps the longest
//! hash chain from the checkpoint, removes every op above it (`remove_entries_from`) and starts a
//! new view: `view` and `log_view` + 1, the kept head recorded in the superblock
//! (`view_head_op`, `view_head_view`), then a barrier. Recovery takes that head as the view
//! header, so a header of a truncated version (which recovery may have fixed on disk) reads as
//! never written and a torn re-append beside it is cut. Appends carry the log view.
//!
//! # Checkpoints
//!
//! The ring holds `slot_count` slots; an op may overwrite a slot only when the op there is at or
//! below the durable `op_checkpoint`. When an append would pass `op_prepare_max`, the driver
//! first commits the open batch, then advances the checkpoint by half a ring in the superblock
//! (the other copy), then syncs. Ops at or below the checkpoint are the ones the ring may drop.
//!
//! Recovery writes nothing until it has succeeded: its header write-backs (`fix`) are held in
//! memory and applied only if no slot is unrecoverable (a barrier first, for what recovery read
//! from the page cache, then the write-backs, then a barrier), so a failed `open` leaves
//! the file's bytes exactly as they were.

use crate::error::{Error, Result};
use crate::layout::{Layout, SUPERBLOCK_COPY_COUNT, ZONES_OFFSET};
use crate::storage::Storage;
use crate::superblock::{self, CopyError, Superblock};
use crate::{file::DirectIo, file::FileStorage};
use journal::{
    format, Config, Decision, Event, Header, IoKind, IoRequest, Journal, ReadPurpose,
    RecoveryContext, WriteOutcome, WriteStart, Zone, HEADER_SIZE,
};
use std::collections::BTreeMap;
use std::path::Path;

/// Where the driver puts barriers of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteOrdering {
    /// A batch's header sectors are held until a barrier has made all its prepares durable.
    /// Correct.
    BarrierAfterPrepare,
    /// Header sectors are written as soon as the journal asks, one barrier per batch: a header
    /// may reach the disk before its prepare. Unsafe on crash; kept so that tests can show the
    /// crash explorer catching it.
    UnorderedUnsafe,
}

/// How to open or create a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Ask for `O_DIRECT` (real files only; falls back to buffered I/O if refused).
    pub direct: bool,
    pub ordering: WriteOrdering,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            direct: false,
            ordering: WriteOrdering::BarrierAfterPrepare,
        }
    }
}

/// What recovery found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveryReport {
    pub op_checkpoint: u64,
    /// The highest op recovered.
    pub op_head: u64,
    /// Slots that hold an op (root included).
    pub ops_present: u64,
    /// Header sectors recovery wrote back.
    pub fix_writes: u64,
    /// Superblock copies the open wrote: both copies of a new view's superblock after a
    /// truncation, and before that, if the two copies did not hold the same superblock (one
    /// damaged, or a crash between their writes), the stale or damaged one.
    pub superblock_writes: u64,
    /// Sectors that could not be read (EIO) during the open: each was read alone after the
    /// read holding it failed, and handed to the journal as zeros, which no checksum accepts
    /// unless they are the bytes written.
    pub sectors_unreadable: u64,
    /// Ops recovery found above the first hole (or break in the hash chain) past the
    /// checkpoint, which the driver removed; when non-zero it also started a new view.
    pub ops_truncated: u64,
    /// How many slots each (case, decision) covered.
    pub cases: BTreeMap<(&'static str, Decision), u64>,
}

/// A batch between the two barriers of its commit: prepares durable, header sectors held.
#[derive(Debug)]
struct Prepared {
    /// Its highest op: acknowledged with it.
    op_last: u64,
    /// Its ops.
    count: u64,
    /// Its header sectors as the journal filled them while the batch was open (offset -> bytes):
    /// they name none of a later batch's ops.
    headers: BTreeMap<u64, Vec<u8>>,
}

/// A solo journal on one storage.
#[derive(Debug)]
pub struct FileDriver<S: Storage> {
    storage: S,
    journal: Journal,
    superblock: Superblock,
    layout: Layout,
    ordering: WriteOrdering,
    /// The header of the highest op (of the open batch too).
    head: Header,
    /// The highest op acknowledged: committed by a `sync`, or recovered.
    op_durable: u64,
    /// Ops appended since the last commit.
    batch_count: u64,
    /// The open batch's redundant-header sector writes, held until its prepares are durable:
    /// file offset -> the newest bytes the journal asked to write there.
    batch_headers: BTreeMap<u64, Vec<u8>>,
    /// The batch whose prepares a pipelined commit made durable and whose header sectors are
    /// still held (module doc), if any.
    prepared: Option<Prepared>,
    poisoned: bool,
    /// Every write since the last barrier that succeeded, with its bytes: after a failed sync
    /// they are written again from here (see [`FileDriver::barrier`]). At most a batch's
    /// prepares and header sectors, or a few superblock and recovery writes.
    unsynced: Vec<(u64, Vec<u8>)>,
    /// While recovering: the writes recovery asked for, held back until it succeeds.
    overlay: Option<Vec<(u64, Vec<u8>)>>,
    /// While recovering: a window of the prepare ring read in one call ahead of the journal's
    /// reads, which walk the ring slot by slot (see [`FileDriver::read_ahead`]).
    read_ahead: Option<ReadAhead>,
    report: RecoveryReport,
}

impl FileDriver<FileStorage> {
    /// Creates a new WAL file at `path` (never over an existing one) and opens it.
    pub fn create_file(
        path: &Path,
        cluster: u128,
        config: Config,
        options: Options,
    ) -> Result<(FileDriver<FileStorage>, DirectIo)> {
        let layout = check_config(&config)?;
        let (storage, direct) = FileStorage::create(path, layout.file_size, options.direct)?;
        Ok((
            FileDriver::create(storage, cluster, config, options)?,
            direct,
        ))
    }

    /// Opens and recovers the WAL file at `path`.
    pub fn open_file(
        path: &Path,
        cluster: u128,
        options: Options,
    ) -> Result<(FileDriver<FileStorage>, DirectIo)> {
        let (storage, direct) = FileStorage::open(path, options.direct)?;
        Ok((FileDriver::open(storage, cluster, options)?, direct))
    }
}

impl<S: Storage> FileDriver<S> {
    /// Formats `storage` (which must be exactly the layout's size) as an empty WAL, makes it
    /// durable, and opens it.
    pub fn create(
        mut storage: S,
        cluster: u128,
        config: Config,
        options: Options,
    ) -> Result<FileDriver<S>> {
        let layout = check_config(&config)?;
        check_size(layout.file_size, storage.size())?;
        // The rings, then a barrier, then the superblock: a file with a valid superblock always
        // has formatted rings.
        let mut headers = vec![0u8; layout.wal_headers_size as usize];
        for sector in 0..config.header_sector_count() {
            let bytes = format::wal_headers_sector(&config, cluster, sector);
            headers[(sector * config.sector_size) as usize..][..bytes.len()]
                .copy_from_slice(&bytes);
        }
        storage
            .write_at(layout.wal_headers_offset, &headers)
            .map_err(Error::io("format wal_headers"))?;
        let slots_per_chunk = (1 << 20) / config.message_size_max.max(1);
        let slots_per_chunk = slots_per_chunk.clamp(1, config.slot_count);
        let mut chunk = vec![0u8; (slots_per_chunk * config.message_size_max) as usize];
        let mut slot = 0;
        while slot < config.slot_count {
            let count = slots_per_chunk.min(config.slot_count - slot);
            chunk.fill(0);
            for i in 0..count {
                let bytes = format::wal_prepare(&config, cluster, slot + i);
                chunk[(i * config.message_size_max) as usize..][..bytes.len()]
                    .copy_from_slice(&bytes);
            }
            let len = (count * config.message_size_max) as usize;
            storage
                .write_at(
                    layout.wal_prepares_offset + slot * config.message_size_max,
                    &chunk[..len],
                )
                .map_err(Error::io("format wal_prepares"))?;
            slot += count;
        }
        storage
            .sync()
            .map_err(Error::io("sync the formatted rings"))?;
        // Both copies hold the same superblock, as every later store keeps them.
        for copy in 0..SUPERBLOCK_COPY_COUNT {
            let superblock = Superblock {
                cluster,
                sequence: 0,
                config,
                op_checkpoint: 0,
                view: 0,
                log_view: 0,
                file_size: layout.file_size,
                view_head_op: 0,
                view_head_view: 0,
            };
            storage
                .write_at(Layout::superblock_offset(copy), &superblock.encode(copy))
                .map_err(Error::io("write the superblock"))?;
        }
        storage.sync().map_err(Error::io("sync the superblock"))?;
        let driver = FileDriver::open(storage, cluster, options)?;
        // Pair assertion: a fresh WAL recovers to the root alone.
        assert_eq!(driver.head.op, 0);
        assert_eq!(driver.report.ops_present, 1);
        Ok(driver)
    }

    /// Validates the superblock (nothing is written if it is wrong), then recovers the journal
    /// from the rings. Unrecoverable slots are an error too, and also leave the file untouched.
    pub fn open(mut storage: S, cluster: u128, options: Options) -> Result<FileDriver<S>> {
        let (superblock, copies_agree) = read_superblock(&mut storage, cluster)?;
        let config = superblock.config;
        let layout = check_config(&config)?;
        if superblock.file_size != layout.file_size {
            return Err(Error::SuperblockInvalid(
                "the file size it records disagrees with its config",
            ));
        }
        check_size(layout.file_size, storage.size())?;
        if superblock
            .op_checkpoint
            .checked_add(config.slot_count)
            .is_none()
        {
            return Err(Error::SuperblockInvalid("op_checkpoint is out of range"));
        }
        let journal = Journal::new(config, cluster, true)?;
        let mut driver = FileDriver {
            storage,
            journal,
            superblock,
            layout,
            ordering: options.ordering,
            head: Header::root(cluster),
            op_durable: 0,
            batch_count: 0,
            batch_headers: BTreeMap::new(),
            prepared: None,
            poisoned: false,
            unsynced: Vec::new(),
            overlay: Some(Vec::new()),
            read_ahead: Some(ReadAhead {
                offset: 0,
                bytes: Vec::new(),
            }),
            report: RecoveryReport {
                op_checkpoint: superblock.op_checkpoint,
                op_head: 0,
                ops_present: 0,
                fix_writes: 0,
                superblock_writes: 0,
                sectors_unreadable: 0,
                ops_truncated: 0,
                cases: BTreeMap::new(),
            },
        };
        driver.recover()?;
        if !copies_agree && driver.report.ops_truncated == 0 {
            // One copy is damaged or stale: store the chosen superblock in both again, so that
            // one more fault in either still leaves it (a truncation above stored both).
            let superblock = driver.superblock;
            driver.superblock_store(superblock, "repair the superblock")?;
            driver.report.superblock_writes += SUPERBLOCK_COPY_COUNT;
        }
        Ok(driver)
    }

    fn recover(&mut self) -> Result<()> {
        let context = RecoveryContext {
            op_checkpoint: self.superblock.op_checkpoint,
            log_view: self.superblock.log_view,
            view_headers: self.view_headers(),
        };
        self.journal.recover(context);
        self.run_io()?;
        let mut unrecoverable = Vec::new();
        let mut done = false;
        while let Some(event) = self.journal.poll_event() {
            match event {
                Event::Unrecoverable { slot, label } => unrecoverable.push((slot, label)),
                Event::RecoveryDone => done = true,
                Event::WriteDone { .. } | Event::ReadDone { .. } => {
                    unreachable!("no command but recovery is running")
                }
            }
        }
        assert!(done, "recovery finishes once its I/O is done");
        let overlay = self.overlay.take().expect("recovering");
        self.read_ahead = None;
        if !unrecoverable.is_empty() {
            // The held-back write-backs are dropped with the driver: the file is untouched.
            return Err(Error::Unrecoverable {
                slots: unrecoverable,
            });
        }
        self.report.fix_writes = overlay.len() as u64;
        if !overlay.is_empty() {
            // What recovery read may be in the page cache only: a process that died between an
            // append and its sync leaves the prepare there, readable and not durable, and
            // recovery repairs its header from it (`fix`). The write-ordering rule holds for
            // recovery's own writes too: make what it read durable before a header that names
            // it. Without this barrier a power loss during the write-back could land the header
            // and tear the prepare: an unrecoverable slot (`vopr engine file-wal run 99
            // --setting unsafe --faults crash`, a crash during the open after a close with
            // appends not synced).
            self.barrier("sync what recovery read")?;
            for (offset, bytes) in &overlay {
                self.write(*offset, bytes, "write back repaired headers")?;
            }
            self.barrier("sync repaired headers")?;
        }
        let op_head = self.truncate_at_first_hole()?;
        self.op_durable = op_head;
        self.report.op_head = op_head;
        for (slot, recovery) in self.journal.slot_recoveries() {
            *self
                .report
                .cases
                .entry((recovery.label, recovery.decision))
                .or_default() += 1;
            if !self.journal.header(slot).is_reserved() {
                self.report.ops_present += 1;
            }
        }
        Ok(())
    }

    /// The view header recovery needs: the head kept when the log view began (none while the
    /// log view is 0). Only its op and view matter to recovery; it is sealed so that it is a
    /// valid header.
    fn view_headers(&self) -> Vec<Header> {
        if self.superblock.log_view == 0 {
            return Vec::new();
        }
        let mut header = Header::root(self.journal.cluster());
        if self.superblock.view_head_op > 0 {
            header.op = self.superblock.view_head_op;
            header.view = self.superblock.view_head_view;
            header.operation = journal::header::OPERATION_APPLICATION_MIN;
            header.set_checksum();
        }
        assert!(header.valid_checksum() && !header.is_reserved());
        assert!(header.view < self.superblock.log_view);
        vec![header]
    }

    /// Keeps the longest hash chain from the checkpoint up; removes every op above it and, if
    /// there were any, starts a new view durably (module doc). Returns the head op.
    fn truncate_at_first_hole(&mut self) -> Result<u64> {
        let op_checkpoint = self.superblock.op_checkpoint;
        let op_maximum = self.journal.op_maximum();
        let op_last = op_maximum.min(self.superblock.op_prepare_max());
        let mut op_head = op_checkpoint;
        for op in op_checkpoint + 1..=op_last {
            let Some(header) = self.journal.header_with_op(op) else {
                break;
            };
            if self
                .journal
                .header_with_op(op - 1)
                .is_some_and(|parent| parent.checksum != header.parent)
            {
                break;
            }
            op_head = op;
        }
        let Some(head) = self.journal.header_with_op(op_head).copied() else {
            // The checkpoint's op was made durable before the checkpoint and no op may overwrite
            // its slot before the next one: a file without it is not a WAL this driver wrote.
            return Err(Error::Unrecoverable {
                slots: vec![(self.journal.slot_for_op(op_head), "checkpoint op missing")],
            });
        };
        self.head = head;
        if op_head == op_maximum {
            return Ok(op_head);
        }
        assert!(op_head < op_maximum);
        self.report.ops_truncated = (op_head + 1..=op_maximum)
            .filter(|&op| self.journal.header_with_op(op).is_some())
            .count() as u64;
        self.journal.remove_entries_from(op_head + 1);
        assert_eq!(self.journal.op_maximum(), op_head);
        let view = self.superblock.view + 1;
        let superblock = Superblock {
            sequence: self.superblock.sequence + 1,
            view,
            log_view: view,
            view_head_op: op_head,
            view_head_view: head.view,
            ..self.superblock
        };
        self.superblock_store(superblock, "write the superblock of a new view")?;
        self.report.superblock_writes += SUPERBLOCK_COPY_COUNT;
        Ok(op_head)
    }

    // ---------------------------------------------------------------- accessors

    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    pub fn superblock(&self) -> &Superblock {
        &self.superblock
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The header of the highest op, of the open batch too.
    pub fn head(&self) -> &Header {
        &self.head
    }

    /// The highest acknowledged op: every op up to it survives any crash.
    pub fn op_durable(&self) -> u64 {
        self.op_durable
    }

    /// Ops appended since the last commit.
    pub fn batch_len(&self) -> u64 {
        self.batch_count
    }

    /// Ops of the prepared batch: durable prepares, not yet acknowledged
    /// ([`FileDriver::sync_pipelined`]).
    pub fn prepared_len(&self) -> u64 {
        self.prepared.as_ref().map_or(0, |prepared| prepared.count)
    }

    /// Ops that may still be appended before [`FileDriver::append`] commits on its own: every op
    /// not acknowledged (prepared or open) counts against `pipeline_max`, so that recovery's torn
    /// window covers every append a crash may tear (module doc).
    pub fn pipeline_room(&self) -> u64 {
        let unacknowledged = self.prepared_len() + self.batch_count;
        assert!(unacknowledged <= self.journal.config().pipeline_max);
        assert_eq!(unacknowledged, self.head.op - self.op_durable);
        self.journal.config().pipeline_max - unacknowledged
    }

    /// The view appends must carry (the log view; it moves when recovery truncates).
    pub fn log_view(&self) -> u32 {
        self.superblock.log_view
    }

    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.report
    }

    pub fn storage(&self) -> &S {
        &self.storage
    }

    pub fn storage_mut(&mut self) -> &mut S {
        &mut self.storage
    }

    pub fn into_storage(self) -> S {
        self.storage
    }

    // ---------------------------------------------------------------- commands

    /// Appends a prepare for op `head + 1`, chained to the head and carrying
    /// [`FileDriver::log_view`], to the open batch: its sectors are written when this returns,
    /// its header sector is held, and it is acknowledged when the next [`FileDriver::sync`]
    /// returns. A full pipeline (`pipeline_max` ops prepared or open: no
    /// [`FileDriver::pipeline_room`]) is committed first, and so is everything before a
    /// checkpoint.
    pub fn append(&mut self, message: &[u8]) -> Result<()> {
        if self.poisoned {
            return Err(Error::Poisoned);
        }
        let header = self.check_message(message)?;
        if self.pipeline_room() == 0 {
            self.sync()?;
        }
        if header.op > self.superblock.op_prepare_max() {
            self.sync()?;
            self.checkpoint()?;
        }
        assert!(header.op <= self.superblock.op_prepare_max());
        assert!(self.pipeline_room() > 0);
        self.journal.set_header_as_dirty(&header);
        let start = self.journal.write_prepare(message);
        // Every request is completed before a call returns: the IOP is free, and a new op's slot
        // is dirty.
        assert_eq!(start, WriteStart::Started);
        self.batch_count += 1;
        self.run_io()?;
        let mut outcome = None;
        while let Some(event) = self.journal.poll_event() {
            match event {
                Event::WriteDone {
                    op,
                    checksum,
                    outcome: done,
                } => {
                    assert_eq!((op, checksum), (header.op, header.checksum));
                    outcome = Some(done);
                }
                other => unreachable!("unexpected event during append: {other:?}"),
            }
        }
        // Nothing else runs: no race can leave the slot dirty.
        assert_eq!(outcome, Some(WriteOutcome::Written));
        assert!(!self.journal.has_dirty(&header));
        if self.ordering == WriteOrdering::BarrierAfterPrepare {
            // The op's header sector is held, not written.
            let sector_offset = self.header_sector_offset(header.op);
            assert!(self.batch_headers.contains_key(&sector_offset));
        }
        self.head = header;
        Ok(())
    }

    /// Appends every message (each as [`FileDriver::append`]), then commits: when this returns,
    /// all of them are acknowledged. More than `pipeline_max` messages make several batches.
    pub fn append_batch<M: AsRef<[u8]>>(&mut self, messages: &[M]) -> Result<()> {
        for message in messages {
            self.append(message.as_ref())?;
        }
        self.sync()
    }

    /// Commits the open batch and any prepared one (module doc): a barrier, each header sector
    /// they touched written once, a barrier. Every op appended before this call is acknowledged
    /// when it returns.
    pub fn sync(&mut self) -> Result<()> {
        if self.poisoned {
            return Err(Error::Poisoned);
        }
        if self.batch_count > 0 {
            self.prepare_batch()?;
        }
        self.acknowledge_prepared("sync the batch's header sectors")?;
        // Postcondition: nothing open, nothing prepared.
        assert_eq!(self.batch_count, 0);
        assert!(self.batch_headers.is_empty() && self.prepared.is_none());
        assert_eq!(self.op_durable, self.head.op);
        Ok(())
    }

    /// Pipelined commit (module doc): one barrier makes the open batch's prepares durable (it is
    /// then prepared) and the prepared batch's header sectors too (it is then acknowledged).
    /// With no open batch, acknowledges the prepared one as [`FileDriver::sync`] does.
    pub fn sync_pipelined(&mut self) -> Result<()> {
        if self.poisoned {
            return Err(Error::Poisoned);
        }
        let op_durable = self.op_durable;
        if self.batch_count == 0 {
            return self.sync();
        }
        self.prepare_batch()?;
        // Postcondition: the open batch is prepared, or (unordered) acknowledged.
        assert_eq!(self.batch_count, 0);
        assert!(self.batch_headers.is_empty());
        assert!(self.op_durable >= op_durable);
        assert_eq!(self.prepared_len(), self.head.op - self.op_durable);
        Ok(())
    }

    /// Step 1 of the open batch's commit, with step 3 of the prepared batch's: its header
    /// sectors, then one barrier. The prepared batch is acknowledged; the open one is prepared.
    fn prepare_batch(&mut self) -> Result<()> {
        assert!(self.batch_count > 0);
        let prepared = self.prepared.take();
        if let Some(prepared) = &prepared {
            self.write_prepared_headers(prepared, "write the prepared batch's header sectors")?;
        }
        self.barrier("sync the batch's prepares")?;
        if let Some(prepared) = prepared {
            assert!(prepared.op_last > self.op_durable);
            self.op_durable = prepared.op_last;
        }
        let headers = std::mem::take(&mut self.batch_headers);
        let count = std::mem::take(&mut self.batch_count);
        match self.ordering {
            WriteOrdering::BarrierAfterPrepare => {
                // Each op's header sector, once: at most one a batch op.
                assert!(!headers.is_empty());
                assert!(headers.len() as u64 <= count);
                self.prepared = Some(Prepared {
                    op_last: self.head.op,
                    count,
                    headers,
                });
            }
            WriteOrdering::UnorderedUnsafe => {
                assert!(headers.is_empty());
                self.op_durable = self.head.op;
            }
        }
        Ok(())
    }

    /// Writes a prepared batch's header sectors (not durable until the next barrier). Their
    /// prepares were made durable by an earlier barrier.
    fn write_prepared_headers(&mut self, prepared: &Prepared, context: &'static str) -> Result<()> {
        assert!(!prepared.headers.is_empty());
        for (offset, bytes) in &prepared.headers {
            self.write(*offset, bytes, context)?;
        }
        Ok(())
    }

    /// Writes the prepared batch's header sectors and makes them durable with a barrier: the
    /// batch is acknowledged. Nothing to do with no prepared batch.
    fn acknowledge_prepared(&mut self, context: &'static str) -> Result<()> {
        assert_eq!(self.batch_count, 0);
        let Some(prepared) = self.prepared.take() else {
            return Ok(());
        };
        self.write_prepared_headers(&prepared, context)?;
        self.barrier(context)?;
        assert!(prepared.op_last > self.op_durable);
        self.op_durable = prepared.op_last;
        Ok(())
    }

    /// The prepare `(op, checksum)`, read from the file and verified by the journal.
    pub fn read(&mut self, op: u64, checksum: u32) -> Result<Vec<u8>> {
        if self.poisoned {
            return Err(Error::Poisoned);
        }
        self.journal
            .read_prepare(op, checksum, ReadPurpose::Commit)
            .map_err(|reason| Error::ReadRejected { op, reason })?;
        self.run_io()?;
        let mut message = None;
        while let Some(event) = self.journal.poll_event() {
            match event {
                Event::ReadDone {
                    op: read_op,
                    checksum: read_checksum,
                    result,
                } => {
                    assert_eq!((read_op, read_checksum), (op, checksum));
                    message = Some(match result {
                        Ok(handle) => {
                            let bytes = self.journal.read_message(handle).to_vec();
                            self.journal.read_release(handle);
                            Ok(bytes)
                        }
                        Err(reason) => Err(Error::ReadRejected { op, reason }),
                    });
                }
                other => unreachable!("unexpected event during read: {other:?}"),
            }
        }
        message.expect("a started read finishes once its I/O is done")
    }

    // ---------------------------------------------------------------- internals

    fn check_message(&self, message: &[u8]) -> Result<Header> {
        let header =
            Header::decode(message).map_err(|_| Error::Append("the header does not decode"))?;
        if header.cluster != self.journal.cluster() {
            return Err(Error::Append("the message is for another cluster"));
        }
        if header.command != journal::header::COMMAND_PREPARE
            || header.operation < journal::header::OPERATION_APPLICATION_MIN
        {
            return Err(Error::Append("not an application prepare"));
        }
        if Some(header.op) != self.head.op.checked_add(1) {
            return Err(Error::Append("op is not head + 1"));
        }
        if header.parent != self.head.checksum {
            return Err(Error::Append("parent is not the head's checksum"));
        }
        if u64::from(header.size) != message.len() as u64 {
            return Err(Error::Append("size does not match the message length"));
        }
        if u64::from(header.size) > self.journal.config().message_size_max {
            return Err(Error::Append("larger than message_size_max"));
        }
        if !header.valid_checksum_body(&message[HEADER_SIZE as usize..]) {
            return Err(Error::Append("body checksum invalid"));
        }
        if header.view > self.superblock.log_view {
            return Err(Error::Append("view is past the log view"));
        }
        if header.view < self.superblock.log_view {
            return Err(Error::Append("view is below the log view"));
        }
        Ok(header)
    }

    /// Advances the checkpoint by half a ring, durably, before the ring overwrites those ops.
    /// The open batch is committed already.
    fn checkpoint(&mut self) -> Result<()> {
        let config = *self.journal.config();
        let op_checkpoint = self.superblock.op_checkpoint + config.slot_count / 2;
        // The config rule `pipeline_max <= slot_count / 2` keeps the new checkpoint written.
        assert!(op_checkpoint <= self.head.op);
        assert_eq!(self.batch_count, 0);
        assert!(self.prepared.is_none());
        assert_eq!(self.op_durable, self.head.op);
        let superblock = Superblock {
            sequence: self.superblock.sequence + 1,
            op_checkpoint,
            ..self.superblock
        };
        self.superblock_store(superblock, "write the superblock")
    }

    /// Stores `superblock` in both copies, each behind its own barrier, and makes it the
    /// driver's. At rest both copies hold the same superblock, so one damaged copy leaves the
    /// other: the single-fault sweep (`vopr engine file-wal sweep`) found that copies written
    /// alternately held the current and the previous checkpoint, and one bad sector of the
    /// current one made the WAL unopenable once the ring had moved past the previous one. A
    /// crash between the two writes leaves the new superblock in the first copy and the old
    /// one, still true of the rings (nothing is overwritten before this returns), in the
    /// second; the next open chooses the new one and stores it in both.
    fn superblock_store(&mut self, superblock: Superblock, context: &'static str) -> Result<()> {
        assert!(superblock.sequence >= self.superblock.sequence);
        for copy in [superblock.sequence % 2, (superblock.sequence + 1) % 2] {
            let bytes = superblock.encode(copy);
            self.write(Layout::superblock_offset(copy), &bytes, context)?;
            self.barrier(context)?;
        }
        self.superblock = superblock;
        Ok(())
    }

    /// Writes `bytes` at `offset` and keeps a copy until the next barrier succeeds.
    fn write(&mut self, offset: u64, bytes: &[u8], context: &'static str) -> Result<()> {
        // A batch's prepares and a prepared batch's header sectors, or a recovery's write-backs
        // (one a header sector): never more writes than that between two barriers.
        let config = self.journal.config();
        assert!(
            (self.unsynced.len() as u64) < config.slot_count + config.header_sector_count() + 4,
            "writes without a barrier"
        );
        let result = self.storage.write_at(offset, bytes);
        self.poison_on_error(result, context)?;
        self.unsynced.push((offset, bytes.to_vec()));
        Ok(())
    }

    /// A durability barrier that a failed sync cannot fool. On Linux a failed `fsync` drops the
    /// dirty pages it could not write and marks them clean (Rebello et al., "Can applications
    /// recover from fsync failures?", ATC'20): their new bytes stay readable until the cache
    /// drops them, a second `fsync` reports success without writing them, and a reopen in the
    /// same process would recover from bytes that are on no disk. So after a failed sync every
    /// write since the last good barrier is written again from memory (which makes its pages
    /// dirty again) and synced once more; only a sync after that proves them durable. If that
    /// fails too, the driver is poisoned: nothing since the last good barrier is acknowledged,
    /// and a reopen must not be trusted to see the truth until the process restarts.
    fn barrier(&mut self, context: &'static str) -> Result<()> {
        if self.storage.sync().is_err() {
            let rewrites = std::mem::take(&mut self.unsynced);
            for (offset, bytes) in &rewrites {
                let result = self.storage.write_at(*offset, bytes);
                self.poison_on_error(result, context)?;
            }
            self.unsynced = rewrites;
            let result = self.storage.sync();
            self.poison_on_error(result, context)?;
        }
        self.unsynced.clear();
        Ok(())
    }

    fn poison_on_error(
        &mut self,
        result: std::io::Result<()>,
        context: &'static str,
    ) -> Result<()> {
        result.map_err(|source| {
            self.poisoned = true;
            Error::Io { context, source }
        })
    }

    /// Carries out every request the journal queues, completing each at once, until it is idle.
    fn run_io(&mut self) -> Result<()> {
        let config = self.journal.config();
        let requests_max = 2 * (config.header_sector_count() + config.slot_count) + 8;
        for _ in 0..requests_max {
            let Some(request) = self.journal.poll_io() else {
                assert!(self.journal.io_idle());
                return Ok(());
            };
            match request.kind {
                IoKind::Write => self.run_write(request)?,
                IoKind::Read => self.run_read(request),
            }
        }
        unreachable!("the journal queued more than {requests_max} requests for one command");
    }

    fn run_write(&mut self, request: IoRequest) -> Result<()> {
        let offset = self
            .layout
            .file_offset(request.zone, request.offset, request.len);
        let bytes = self.journal.io_write_buffer(request.id);
        assert_eq!(bytes.len() as u64, request.len);
        if let Some(overlay) = self.overlay.as_mut() {
            // Recovery's write-backs wait until recovery has succeeded.
            assert_eq!(request.zone, Zone::WalHeaders);
            overlay.push((offset, bytes.to_vec()));
        } else if request.zone == Zone::WalHeaders
            && self.ordering == WriteOrdering::BarrierAfterPrepare
        {
            // The batch's prepares are not durable yet: hold the sector until they are. The
            // journal copied it from `headers_redundant` just now, so it covers every op of the
            // batch in it; a later copy of the same sector replaces this one. A prepared batch
            // keeps its own copy of the sector, which names none of the open batch's ops.
            assert!(self.batch_count > 0);
            self.batch_headers.insert(offset, bytes.to_vec());
        } else {
            let bytes = bytes.to_vec();
            self.write(offset, &bytes, "write to the WAL")?;
        }
        self.journal.complete_write(request.id);
        Ok(())
    }

    /// The file offset of the redundant-header sector that holds `op`'s slot.
    fn header_sector_offset(&self, op: u64) -> u64 {
        let config = self.journal.config();
        let sector = self.journal.slot_for_op(op) / config.headers_per_sector();
        self.layout.file_offset(
            Zone::WalHeaders,
            sector * config.sector_size,
            config.sector_size,
        )
    }

    /// Reads straight into the journal's buffer for the request (no copy of its own), or, while
    /// recovering, copies it from the read-ahead window.
    fn run_read(&mut self, request: IoRequest) {
        let offset = self
            .layout
            .file_offset(request.zone, request.offset, request.len);
        let sector_size = self.journal.config().sector_size as usize;
        if request.zone == Zone::WalPrepares && self.read_ahead(offset, request.len) {
            let read_ahead = self.read_ahead.as_ref().expect("filled");
            let start = (offset - read_ahead.offset) as usize;
            let buffer = self.journal.io_read_buffer(request.id);
            buffer.copy_from_slice(&read_ahead.bytes[start..start + request.len as usize]);
            if let Some(overlay) = &self.overlay {
                for (write_offset, bytes) in overlay {
                    patch(buffer, offset, *write_offset, bytes);
                }
            }
            self.journal.complete_read_filled(request.id);
            return;
        }
        let buffer = self.journal.io_read_buffer(request.id);
        assert_eq!(buffer.len() as u64, request.len);
        if self.storage.read_at(offset, buffer).is_err() {
            // A latent sector error spoils the whole read, though it may lie in sectors that
            // hold no byte of the message (a prepare is read whole, `message_size_max`, before
            // its size is known). Read each sector alone and hand the unreadable ones to the
            // journal as zeros: its checksums then judge exactly the bytes that matter, as for
            // any damage (TigerBeetle's storage does the same). The single-fault sweep found
            // one EIO past a prepare's end making the WAL unopenable.
            assert_eq!(offset % sector_size as u64, 0);
            let mut unreadable = 0;
            for (index, sector) in buffer.chunks_mut(sector_size).enumerate() {
                let sector_offset = offset + (index * sector_size) as u64;
                if self.storage.read_at(sector_offset, sector).is_err() {
                    sector.fill(0);
                    unreadable += 1;
                }
            }
            // A read that failed whole and then sector by sector not at all was a transient
            // error: the bytes read the second time are the data.
            self.report.sectors_unreadable += unreadable;
        }
        if let Some(overlay) = &self.overlay {
            for (write_offset, bytes) in overlay {
                patch(buffer, offset, *write_offset, bytes);
            }
        }
        self.journal.complete_read_filled(request.id);
    }
}

impl<S: Storage> FileDriver<S> {
    /// Whether the read-ahead window (recovery only) holds `[offset, offset + len)` of the
    /// prepare ring, reading the next window from `offset` if it does not. Recovery reads every
    /// prepare slot in full, in ring order: one read of [`READ_AHEAD_SIZE`] serves many slots,
    /// with far fewer calls and larger device reads than one a slot (`bench-peers` recovery). A
    /// window that fails to read (EIO) is dropped and each read goes its own way, sector by
    /// sector where it must (`run_read`).
    fn read_ahead(&mut self, offset: u64, len: u64) -> bool {
        let zone_end = self.layout.wal_prepares_offset + self.layout.wal_prepares_size;
        let Some(read_ahead) = self.read_ahead.as_mut() else {
            return false;
        };
        assert!(offset >= self.layout.wal_prepares_offset && offset + len <= zone_end);
        let held = read_ahead.offset..read_ahead.offset + read_ahead.bytes.len() as u64;
        if held.contains(&offset) && offset + len <= held.end {
            return true;
        }
        let size = (zone_end - offset).min(READ_AHEAD_SIZE.max(len));
        read_ahead.bytes.resize(size as usize, 0);
        if self.storage.read_at(offset, &mut read_ahead.bytes).is_err() {
            self.read_ahead = None;
            return false;
        }
        read_ahead.offset = offset;
        true
    }
}

/// A window of the prepare ring read ahead during recovery.
#[derive(Debug)]
struct ReadAhead {
    offset: u64,
    bytes: Vec<u8>,
}

/// The read-ahead window's size: large enough for the device to stream, small enough to keep
/// in memory beside the journal's buffers.
const READ_AHEAD_SIZE: u64 = 4 << 20;

/// Copies the part of a write at `write_offset` that overlaps a read at `read_offset`.
fn patch(buffer: &mut [u8], read_offset: u64, write_offset: u64, bytes: &[u8]) {
    let start = read_offset.max(write_offset);
    let end = (read_offset + buffer.len() as u64).min(write_offset + bytes.len() as u64);
    if start < end {
        let (a, b) = (
            (start - read_offset) as usize,
            (start - write_offset) as usize,
        );
        let len = (end - start) as usize;
        buffer[a..a + len].copy_from_slice(&bytes[b..b + len]);
    }
}

/// The journal's rules plus this layout's: sector at most 4 KiB, sizes that fit a u64, and a
/// pipeline of at most half a ring (so a checkpoint by half a ring is always already written).
fn check_config(config: &Config) -> Result<Layout> {
    config.validate()?;
    if config.pipeline_max > config.slot_count / 2 {
        return Err(Error::UnsupportedConfig(
            "pipeline_max must be at most slot_count / 2",
        ));
    }
    Layout::new(config).ok_or(Error::UnsupportedConfig(
        "sector_size must be at most 4096 and the rings must fit in a u64",
    ))
}

fn check_size(size_expected: u64, size_found: u64) -> Result<()> {
    if size_found < size_expected {
        return Err(Error::Truncated {
            size_expected,
            size_found,
        });
    }
    if size_found > size_expected {
        return Err(Error::WrongSize {
            size_expected,
            size_found,
        });
    }
    Ok(())
}

/// Reads and chooses the superblock; checks the things that need no config. Also says whether
/// both copies hold it (else the open stores it in both again).
fn read_superblock<S: Storage>(storage: &mut S, cluster: u128) -> Result<(Superblock, bool)> {
    let size_found = storage.size();
    if size_found < ZONES_OFFSET {
        return Err(Error::Truncated {
            size_expected: ZONES_OFFSET,
            size_found,
        });
    }
    // Each copy is read alone: an unreadable copy is a damaged one (the other still holds the
    // superblock), not a failed open. The single-fault sweep found one EIO in either copy
    // making the WAL unopenable while zeros there were survived.
    let copy_size = crate::layout::SUPERBLOCK_COPY_SIZE;
    let mut copies = vec![0u8; ZONES_OFFSET as usize];
    let mut read_error = None;
    let mut readable = [true; 2];
    for (copy, bytes) in copies.chunks_mut(copy_size as usize).enumerate() {
        if let Err(error) = storage.read_at(copy as u64 * copy_size, bytes) {
            // Zeros decode as no superblock at all.
            bytes.fill(0);
            readable[copy] = false;
            read_error.get_or_insert(error);
        }
    }
    if let (Some(error), [false, false]) = (read_error.take(), readable) {
        return Err(Error::Io {
            context: "read the superblock",
            source: error,
        });
    }
    let (first, second) = copies.split_at(copy_size as usize);
    let (superblock, _copy) = Superblock::choose([first, second]).map_err(|error| match error {
        CopyError::Magic => Error::BadMagic,
        CopyError::Checksum => Error::SuperblockChecksum,
        CopyError::Version(found) => Error::UnsupportedVersion {
            found,
            expected: superblock::FORMAT_VERSION,
        },
        CopyError::Misplaced => Error::SuperblockMisplaced,
    })?;
    if superblock.cluster != cluster {
        return Err(Error::WrongCluster {
            expected: cluster,
            found: superblock.cluster,
        });
    }
    let copies_agree = [(first, 0), (second, 1)].into_iter().all(|(bytes, copy)| {
        Superblock::decode(bytes, copy).is_ok_and(|decoded| decoded == superblock)
    });
    Ok((superblock, copies_agree))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_copies_only_the_overlap() {
        let mut buffer = [0u8; 8];
        patch(&mut buffer, 100, 96, &[1, 2, 3, 4, 5, 6]);
        assert_eq!(buffer, [5, 6, 0, 0, 0, 0, 0, 0]);
        patch(&mut buffer, 100, 106, &[7, 8, 9]);
        assert_eq!(buffer, [5, 6, 0, 0, 0, 0, 7, 8]);
        patch(&mut buffer, 100, 200, &[1]);
        assert_eq!(buffer, [5, 6, 0, 0, 0, 0, 7, 8]);
    }
}
