//! [`FileDriver`]: one solo [`Journal`] on one [`Storage`], every request carried out at once.
//!
//! The journal is sans-IO; this is its real-file driver. Each public call issues a journal
//! command, then drains `poll_io`, carries out each request against the storage (zone offsets
//! mapped through the [`Layout`]), reports the completion, and drains `poll_event` until the
//! command's event arrives. Nothing is in flight between calls.
//!
//! Durability. The journal never writes a redundant header before its prepare is *complete*;
//! on a real file a completed `pwrite` is not yet durable, so with
//! [`WriteOrdering::BarrierAfterPrepare`] (the default) the driver puts an `fdatasync` between
//! the prepare write and its completion. The redundant header write that follows becomes durable
//! at the next barrier: the next append's, or [`FileDriver::sync`]. An op is acknowledged (safe
//! from any crash) once `append` has returned and a `sync` has returned after it.
//!
//! Checkpoints. The ring holds `slot_count` slots; an op may overwrite a slot only when the op
//! there is at or below the durable `op_checkpoint`. When an append would pass `op_prepare_max`,
//! the driver first syncs, then advances the checkpoint by half a ring in the superblock (the
//! other copy), then syncs again. Ops at or below the checkpoint are the ones the ring may drop.
//!
//! Recovery writes nothing until it has succeeded: its header write-backs (`fix`) are held in
//! memory and applied (then synced) only if no slot is unrecoverable, so a failed `open` leaves
//! the file's bytes exactly as they were.

use crate::error::{Error, Result};
use crate::layout::{Layout, ZONES_OFFSET};
use crate::storage::Storage;
use crate::superblock::{self, CopyError, Superblock};
use crate::{file::DirectIo, file::FileStorage};
use journal::{
    format, Config, Decision, Event, Header, IoKind, IoRequest, Journal, ReadError, ReadPurpose,
    RecoveryContext, WriteOutcome, WriteStart, Zone, HEADER_SIZE,
};
use std::collections::BTreeMap;
use std::path::Path;

/// Where the driver puts barriers of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteOrdering {
    /// `fdatasync` after every prepare write, before the journal may write its header. Correct.
    BarrierAfterPrepare,
    /// No barrier of the driver's own: a header may reach the disk before its prepare. Unsafe on
    /// crash; kept so that tests can show the crash explorer catching it.
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
    /// How many slots each (case, decision) covered.
    pub cases: BTreeMap<(&'static str, Decision), u64>,
}

/// A solo journal on one storage.
#[derive(Debug)]
pub struct FileDriver<S: Storage> {
    storage: S,
    journal: Journal,
    superblock: Superblock,
    layout: Layout,
    ordering: WriteOrdering,
    /// The header of the highest op.
    head: Header,
    poisoned: bool,
    read_buffer: Vec<u8>,
    /// While recovering: the writes recovery asked for, held back until it succeeds.
    overlay: Option<Vec<(u64, Vec<u8>)>>,
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
        for sequence in 0..2 {
            let superblock = Superblock {
                cluster,
                sequence,
                config,
                op_checkpoint: 0,
                view: 0,
                log_view: 0,
                file_size: layout.file_size,
            };
            storage
                .write_at(
                    Layout::superblock_offset(sequence % 2),
                    &superblock.encode(sequence % 2),
                )
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
        let superblock = read_superblock(&mut storage, cluster)?;
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
            poisoned: false,
            read_buffer: vec![0; config.message_size_max as usize],
            overlay: Some(Vec::new()),
            report: RecoveryReport {
                op_checkpoint: superblock.op_checkpoint,
                op_head: 0,
                ops_present: 0,
                fix_writes: 0,
                cases: BTreeMap::new(),
            },
        };
        driver.recover()?;
        Ok(driver)
    }

    fn recover(&mut self) -> Result<()> {
        let context = RecoveryContext {
            op_checkpoint: self.superblock.op_checkpoint,
            log_view: self.superblock.log_view,
            view_headers: Vec::new(),
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
        if !unrecoverable.is_empty() {
            // The held-back write-backs are dropped with the driver: the file is untouched.
            return Err(Error::Unrecoverable {
                slots: unrecoverable,
            });
        }
        self.report.fix_writes = overlay.len() as u64;
        if !overlay.is_empty() {
            for (offset, bytes) in &overlay {
                self.storage
                    .write_at(*offset, bytes)
                    .map_err(Error::io("write back repaired headers"))?;
            }
            self.storage
                .sync()
                .map_err(Error::io("sync repaired headers"))?;
        }
        let op_head = self.journal.op_maximum();
        self.head = *self
            .journal
            .header_with_op(op_head)
            .expect("the head op is held");
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

    /// The header of the highest op.
    pub fn head(&self) -> &Header {
        &self.head
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

    /// Appends a prepare for op `head + 1`, chained to the head. It is written when this returns
    /// and durable after the next [`FileDriver::sync`].
    pub fn append(&mut self, message: &[u8]) -> Result<()> {
        if self.poisoned {
            return Err(Error::Poisoned);
        }
        let header = self.check_message(message)?;
        if header.op > self.superblock.op_prepare_max() {
            self.checkpoint()?;
        }
        assert!(header.op <= self.superblock.op_prepare_max());
        self.journal.set_header_as_dirty(&header);
        let start = self.journal.write_prepare(message);
        // One write at a time and nothing in flight between calls: the IOP is free, and a new
        // op's slot is dirty.
        assert_eq!(start, WriteStart::Started);
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
        self.head = header;
        Ok(())
    }

    /// The barrier: every op appended before this call is durable when it returns.
    pub fn sync(&mut self) -> Result<()> {
        if self.poisoned {
            return Err(Error::Poisoned);
        }
        let result = self.storage.sync();
        self.poison_on_error(result, "sync the WAL")
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
        Ok(header)
    }

    /// Advances the checkpoint by half a ring, durably, before the ring overwrites those ops.
    fn checkpoint(&mut self) -> Result<()> {
        let config = *self.journal.config();
        let op_checkpoint = self.superblock.op_checkpoint + config.slot_count / 2;
        // The config rule `pipeline_max <= slot_count / 2` keeps the new checkpoint written.
        assert!(op_checkpoint <= self.head.op);
        let result = self.storage.sync();
        self.poison_on_error(result, "sync before a checkpoint")?;
        let superblock = Superblock {
            sequence: self.superblock.sequence + 1,
            op_checkpoint,
            ..self.superblock
        };
        let copy = superblock.sequence % 2;
        let result = self
            .storage
            .write_at(Layout::superblock_offset(copy), &superblock.encode(copy));
        self.poison_on_error(result, "write the superblock")?;
        let result = self.storage.sync();
        self.poison_on_error(result, "sync the superblock")?;
        self.superblock = superblock;
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
        } else {
            let result = self.storage.write_at(offset, bytes);
            self.poison_on_error(result, "write to the WAL")?;
            if request.zone == Zone::WalPrepares
                && self.ordering == WriteOrdering::BarrierAfterPrepare
            {
                // The prepare must be durable before its redundant header is written.
                let result = self.storage.sync();
                self.poison_on_error(result, "sync a prepare before its header")?;
            }
        }
        self.journal.complete_write(request.id);
        Ok(())
    }

    fn run_read(&mut self, request: IoRequest) {
        let offset = self
            .layout
            .file_offset(request.zone, request.offset, request.len);
        let len = request.len as usize;
        let buffer = &mut self.read_buffer[..len];
        match self.storage.read_at(offset, buffer) {
            Ok(()) => {
                if let Some(overlay) = &self.overlay {
                    for (write_offset, bytes) in overlay {
                        patch(buffer, offset, *write_offset, bytes);
                    }
                }
                self.journal.complete_read(request.id, Ok(buffer));
            }
            // The journal treats an unreadable range as corrupt data.
            Err(_) => self.journal.complete_read(request.id, Err(ReadError)),
        }
    }
}

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

/// Reads and chooses the superblock; checks the things that need no config.
fn read_superblock<S: Storage>(storage: &mut S, cluster: u128) -> Result<Superblock> {
    let size_found = storage.size();
    if size_found < ZONES_OFFSET {
        return Err(Error::Truncated {
            size_expected: ZONES_OFFSET,
            size_found,
        });
    }
    let mut copies = vec![0u8; ZONES_OFFSET as usize];
    storage
        .read_at(0, &mut copies)
        .map_err(Error::io("read the superblock"))?;
    let (first, second) = copies.split_at(crate::layout::SUPERBLOCK_COPY_SIZE as usize);
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
    Ok(superblock)
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
