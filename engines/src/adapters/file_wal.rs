//! Our own file WAL ([`file_storage::FileDriver`]: the journal on one file, group commit, recovery
//! that truncates at the first hole) on the simulated file, through its `Storage` trait.
//!
//! Key `k` is the log's op `k`; a commit appends its puts as one batch and syncs it.
//! `Setting::Unsafe` acknowledges a batch when its appends return, before the sync that makes it
//! durable (the driver still syncs when a batch fills or a checkpoint needs it): a planted
//! "acknowledge before sync" bug, for calibration.

use crate::engine::{Engine, EngineError, Mutation, Promise, Scan, Setting};
use crate::handle::FileHandle;
use file_storage::{FileDriver, Layout, Options, Storage};
use journal::{Config, HEADER_SIZE};

/// The cluster id the WAL files of the harness carry.
const CLUSTER: u128 = 0x57A1_51A0;

/// A small ring, so that a seed wraps it and moves the checkpoint several times: 64 slots of
/// 4 KiB messages, 512-byte sectors (file size about 280 KiB).
pub const CONFIG: Config = Config {
    sector_size: 512,
    slot_count: 64,
    message_size_max: 4096,
    pipeline_max: 4,
    iops_read_max: 4,
    iops_write_max: 2,
};

/// The newest entries the WAL promises to keep: everything above its checkpoint, which trails
/// the head by at least a quarter ring once the ring has wrapped (it advances by half a ring
/// when an append would pass `op_prepare_max`).
pub const RETAINED_MIN: u64 = CONFIG.slot_count / 4;

/// The largest value a workload may append (the message holds the header too).
pub const VALUE_SIZE_MAX: usize = (CONFIG.message_size_max - HEADER_SIZE) as usize;

/// What the design promises (DESIGN.md §5, `file-storage` docs): an acknowledged op survives
/// any crash; every byte read is checked against a checksum, so damage is an error (or a refused
/// open), never data; a failed sync is retried by writing everything since the last good
/// barrier again (Linux drops the pages a failed sync could not write), and a failed write or
/// retry poisons the driver until it is reopened. Damage is covered one fault at a time
/// (CORDS's model): each op has two copies (its prepare and its redundant header) and the
/// superblock two, so one fault leaves a witness. Not covered:
/// - two faults on both copies of the head op, which then reads exactly like a torn append
///   that was never acknowledged, and is cut (TigerBeetle's journal relies on its cluster
///   there, as ours does in the model cluster);
/// - a write the disk drops or misdirects: one misdirected write is two faults at once. Seed
///   6064 (`--faults all`): the header sector of ops 1-3 landed on op 2's prepare, so op 2 lost
///   both copies and recovery cut ops 2-3 as a torn append, silently.
pub fn promise() -> Promise {
    Promise {
        durable_on_ack: true,
        damage_covered: 1,
        covers_silent_drops: false,
        survives_io_errors: true,
    }
}

impl crate::sweep::FileMap for FileWal {
    const REGIONS: &'static [&'static str] = &[
        "superblock copy 0",
        "superblock copy 1",
        "header ring",
        "prepare ring: header sector",
        "prepare ring: body",
    ];

    fn region(_image: &[u8], offset: u64, _written_first_byte: Option<u8>) -> usize {
        // The layout is fixed by the config (file-storage's `layout` module doc).
        let layout = Layout::new(&CONFIG).expect("the harness config has a layout");
        let superblock_copy_size = layout.wal_headers_offset / 2;
        if offset < superblock_copy_size {
            0
        } else if offset < layout.wal_headers_offset {
            1
        } else if offset < layout.wal_prepares_offset {
            2
        } else if (offset - layout.wal_prepares_offset) % CONFIG.message_size_max
            < CONFIG.sector_size
        {
            3
        } else {
            4
        }
    }

    /// The superblock has two copies holding the same state at rest (the driver stores both
    /// at every change), and every redundant header a copy in its prepare: one fault in
    /// either region must leave the WAL whole. A prepare's body has no second copy.
    fn redundant(region: usize) -> bool {
        region <= 2
    }
}

/// The promise in words, as the sweep's page states it next to the table.
pub const PROMISE_TEXT: &str = "An acknowledged op survives any crash, torn writes included \
(DESIGN.md §2-§4). Every byte read is checked: damage is reported as an error or a refused open, \
never returned as data, and, one fault at a time (CORDS's model), never loses an acknowledged op \
silently. The superblock has two copies holding the same state and each op's header two (its \
prepare and its redundant header): one fault there must leave the WAL whole (the sweep fails any \
other outcome in those rows). An op's body has one copy: one fault there is found by its checksum \
and the open is refused, naming the slots (a cluster would repair it from a peer). A failed \
write or sync is reported; a failed fsync is retried by writing everything since the last good \
barrier again, and nothing it did not store is acknowledged. Not covered: two faults on both \
copies of the head op (it then reads as a torn, unacknowledged append and is cut), and writes the \
disk drops or misdirects (one such write is two faults at once).";

/// The driver's storage trait on the simulated file.
#[derive(Debug)]
struct SimStorage {
    file: FileHandle,
}

impl Storage for SimStorage {
    fn size(&self) -> u64 {
        // The trait cannot fail here; a dead process's size is never used (every later call
        // fails), so 0 is as good as any.
        self.file.file_len().unwrap_or(0)
    }

    fn read_at(&mut self, offset: u64, buffer: &mut [u8]) -> std::io::Result<()> {
        Ok(self.file.read_at(offset, buffer)?)
    }

    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> std::io::Result<()> {
        Ok(self.file.write_at(offset, bytes)?)
    }

    fn sync(&mut self) -> std::io::Result<()> {
        Ok(self.file.sync()?)
    }
}

/// The file WAL on one simulated file.
#[derive(Debug)]
pub struct FileWal {
    driver: FileDriver<SimStorage>,
    setting: Setting,
}

fn error(error: impl std::fmt::Display) -> EngineError {
    EngineError::new(error)
}

impl Engine for FileWal {
    fn open(file: FileHandle, setting: Setting, fresh: bool) -> Result<FileWal, EngineError> {
        let storage = SimStorage { file: file.clone() };
        let driver = if fresh {
            // Format: the file at the layout's size, durable, then the driver's own create.
            let layout = Layout::new(&CONFIG).expect("the harness config has a layout");
            file.set_len(0)?;
            file.set_len(layout.file_size)?;
            file.sync()?;
            FileDriver::create(storage, CLUSTER, CONFIG, Options::default()).map_err(error)?
        } else {
            FileDriver::open(storage, CLUSTER, Options::default()).map_err(error)?
        };
        Ok(FileWal { driver, setting })
    }

    fn commit(&mut self, mutations: &[Mutation]) -> Result<(), EngineError> {
        for mutation in mutations {
            let Mutation::Put { key, value } = mutation else {
                panic!("the log workload appends only: {mutation:?}");
            };
            let head = *self.driver.head();
            assert_eq!(*key, head.op + 1, "the log workload appends keys in order");
            let message = file_storage::prepare::prepare(
                CLUSTER,
                *key,
                self.driver.log_view(),
                head.checksum,
                value,
            );
            self.driver.append(&message).map_err(error)?;
        }
        match self.setting {
            Setting::Safe => self.driver.sync().map_err(error),
            Setting::Unsafe => Ok(()),
        }
    }

    fn get(&mut self, key: u64) -> Result<Option<Vec<u8>>, EngineError> {
        let Some(header) = self.driver.journal().header_with_op(key).copied() else {
            return Ok(None);
        };
        let message = self.driver.read(key, header.checksum).map_err(error)?;
        Ok(Some(message[HEADER_SIZE as usize..].to_vec()))
    }

    fn scan(&mut self) -> Result<Scan, EngineError> {
        let retained_from = self.driver.superblock().op_checkpoint + 1;
        let head = self.driver.head().op;
        let mut entries = Vec::new();
        for op in retained_from..=head {
            if let Some(value) = self.get(op)? {
                entries.push((op, value));
            }
        }
        Ok(Scan {
            entries,
            retained_from,
        })
    }

    fn integrity_check(&mut self) -> Option<Result<bool, EngineError>> {
        // Recovery at open is the WAL's integrity check: it verifies every slot.
        None
    }
}
