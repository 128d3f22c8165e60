//! redb (crates.io `redb`, an embedded copy-on-write B-tree store) on the simulated file,
//! through its own `StorageBackend` trait, unchanged.
//!
//! One table of `u64` keys and byte values. `Setting::Safe` commits at `Durability::Immediate`
//! (redb's promise: "guaranteed to be persistent as soon as commit returns");
//! `Setting::Unsafe` at `Durability::None` ("will not be persisted to disk unless followed by a
//! commit with Immediate"), which really loses acknowledged commits at a crash: the calibration
//! setting.

use crate::engine::{Engine, EngineError, Mutation, Promise, Scan, Setting};
use crate::handle::FileHandle;
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition, TableError};

const TABLE: TableDefinition<u64, &[u8]> = TableDefinition::new("walsim");

/// redb's page cache: small, so that reads reach the file (and its faults) as a real process
/// under memory pressure would, and a seed's memory stays small.
const CACHE_SIZE: usize = 256 * 1024;

/// What redb's documentation promises (README, `Durability` docs): crash safety with
/// `Durability::Immediate`. It keeps checksums of its B-tree pages, but verifies them at repair
/// after an unclean shutdown and in `check_integrity`, not on every read: at-rest damage is not
/// promised to be detected. Nothing is promised about failed syncs.
pub fn promise() -> Promise {
    Promise {
        durable_on_ack: true,
        damage_covered: 0,
        covers_silent_drops: false,
        survives_io_errors: false,
    }
}

/// redb's file format (redb's `docs/design.md`, `tree_store/page_store/header.rs`): the
/// super-header (a 64-byte header with the page size and the region geometry, then two
/// 128-byte commit slots) padded to a page; then regions, each its allocator-state header pages
/// followed by data pages. A data page starts with its kind: 1 a B-tree leaf, 2 a branch.
mod format {
    pub const SUPER_HEADER_SIZE: u64 = 64 + 2 * 128;
    pub const PAGE_SIZE_OFFSET: usize = 12;
    pub const REGION_HEADER_PAGES_OFFSET: usize = 16;
    pub const REGION_DATA_PAGES_MAX_OFFSET: usize = 20;
    pub const LEAF: u8 = 1;
    pub const BRANCH: u8 = 2;
}

fn u32_at(image: &[u8], offset: usize) -> Option<u64> {
    let bytes = image.get(offset..offset + 4)?;
    Some(u64::from(u32::from_le_bytes(bytes.try_into().ok()?)))
}

impl crate::sweep::FileMap for Redb {
    const REGIONS: &'static [&'static str] = &[
        "super-header: header and both commit slots",
        "super-header: rest of its page",
        "region header (allocator state)",
        "B-tree branch page",
        "B-tree leaf page",
        "other data page (a value's continuation, or free)",
    ];

    fn region(image: &[u8], offset: u64, written_first_byte: Option<u8>) -> usize {
        if offset < format::SUPER_HEADER_SIZE {
            return 0;
        }
        // The geometry as the file's own header states it (untrusted bytes: a header that
        // does not parse makes every page "other").
        let geometry = (|| {
            let page_size = u32_at(image, format::PAGE_SIZE_OFFSET)?;
            let header_pages = u32_at(image, format::REGION_HEADER_PAGES_OFFSET)?;
            let data_pages_max = u32_at(image, format::REGION_DATA_PAGES_MAX_OFFSET)?;
            let region_size = header_pages
                .checked_add(data_pages_max)?
                .checked_mul(page_size)?;
            (page_size.is_power_of_two() && region_size > 0).then_some((
                page_size,
                header_pages * page_size,
                region_size,
            ))
        })();
        let Some((page_size, header_size, region_size)) = geometry else {
            return 5;
        };
        let super_header_end = format::SUPER_HEADER_SIZE.div_ceil(page_size) * page_size;
        if offset < super_header_end {
            return 1;
        }
        let within_region = (offset - super_header_end) % region_size;
        if within_region < header_size {
            return 2;
        }
        let within_page = (within_region - header_size) % page_size;
        let page_start = offset - within_page;
        let kind = match written_first_byte {
            Some(byte) if within_page == 0 => Some(byte),
            _ => image.get(page_start as usize).copied(),
        };
        match kind {
            Some(format::BRANCH) => 3,
            Some(format::LEAF) => 4,
            _ => 5,
        }
    }
}

/// The promise in words, as the sweep's page states it next to the table.
pub const PROMISE_TEXT: &str = "redb's README and Durability docs: with Durability::Immediate a \
commit is \"guaranteed to be persistent as soon as commit returns\", and the store is crash-safe \
(its design doc: 1-phase commit with checksums, assuming single-byte atomic writes and powersafe \
overwrite). Its pages carry XXH3 checksums in a Merkle tree, verified at the repair after an \
unclean shutdown and by check_integrity, not on every read: damage at rest is not promised to be \
detected, and nothing is promised about failed writes or syncs. The harness therefore fails redb \
only for a lost acknowledged commit after crashes alone, wrong data after crashes alone, a panic, \
or a hang; every other outcome is reported.";

/// redb's storage trait on the simulated file.
#[derive(Debug)]
struct Backend {
    file: FileHandle,
}

impl redb::StorageBackend for Backend {
    fn len(&self) -> std::io::Result<u64> {
        Ok(self.file.file_len()?)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        Ok(self.file.read_at(offset, out)?)
    }

    fn set_len(&self, len: u64) -> std::io::Result<()> {
        Ok(self.file.set_len(len)?)
    }

    fn sync_data(&self) -> std::io::Result<()> {
        Ok(self.file.sync()?)
    }

    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        Ok(self.file.write_at(offset, data)?)
    }
}

/// redb on one simulated file.
#[derive(Debug)]
pub struct Redb {
    database: Database,
    durability: Durability,
}

fn error(error: impl std::fmt::Display) -> EngineError {
    EngineError::new(error)
}

impl Engine for Redb {
    fn open(file: FileHandle, setting: Setting, _fresh: bool) -> Result<Redb, EngineError> {
        let database = Database::builder()
            .set_cache_size(CACHE_SIZE)
            .create_with_backend(Backend { file })
            .map_err(error)?;
        let durability = match setting {
            Setting::Safe => Durability::Immediate,
            Setting::Unsafe => Durability::None,
        };
        Ok(Redb {
            database,
            durability,
        })
    }

    fn commit(&mut self, mutations: &[Mutation]) -> Result<(), EngineError> {
        let mut transaction = self.database.begin_write().map_err(error)?;
        transaction.set_durability(self.durability).map_err(error)?;
        {
            let mut table = transaction.open_table(TABLE).map_err(error)?;
            for mutation in mutations {
                match mutation {
                    Mutation::Put { key, value } => {
                        table.insert(key, value.as_slice()).map_err(error)?;
                    }
                    Mutation::Delete { key } => {
                        table.remove(key).map_err(error)?;
                    }
                }
            }
        }
        transaction.commit().map_err(error)
    }

    fn get(&mut self, key: u64) -> Result<Option<Vec<u8>>, EngineError> {
        let transaction = self.database.begin_read().map_err(error)?;
        let table = match transaction.open_table(TABLE) {
            Ok(table) => table,
            Err(TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(other) => return Err(error(other)),
        };
        let value = table.get(key).map_err(error)?;
        Ok(value.map(|value| value.value().to_vec()))
    }

    fn scan(&mut self) -> Result<Scan, EngineError> {
        let transaction = self.database.begin_read().map_err(error)?;
        let table = match transaction.open_table(TABLE) {
            Ok(table) => table,
            Err(TableError::TableDoesNotExist(_)) => return Ok(Scan::default()),
            Err(other) => return Err(error(other)),
        };
        let mut entries = Vec::new();
        for entry in table.iter().map_err(error)? {
            let (key, value) = entry.map_err(error)?;
            entries.push((key.value(), value.value().to_vec()));
        }
        Ok(Scan {
            entries,
            retained_from: 0,
        })
    }

    fn integrity_check(&mut self) -> Option<Result<bool, EngineError>> {
        Some(self.database.check_integrity().map_err(error))
    }
}
