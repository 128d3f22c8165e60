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

/// redb's storage trait on the simulated file.
#[derive(Debug)]
struct Backend {
    file: FileHandle,
}

impl redb::StorageBackend for Backend {
    fn len(&self) -> std::io::Result<u64> {
        Ok(self.file.call(|file| Ok(file.len()))?)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        Ok(self.file.call(|file| file.read_at(offset, out))?)
    }

    fn set_len(&self, len: u64) -> std::io::Result<()> {
        Ok(self.file.call(|file| file.set_len(len))?)
    }

    fn sync_data(&self) -> std::io::Result<()> {
        Ok(self.file.call(|file| file.sync())?)
    }

    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        Ok(self.file.call(|file| file.write_at(offset, data))?)
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
