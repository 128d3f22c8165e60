//! `file-storage`: the sans-IO [`journal`] driven on a real file, and checked against every crash
//! state the persistence model allows.
//!
//! - [`layout`]: where the superblock copies and the two rings live in the one file (byte-level
//!   format in its module doc);
//! - [`superblock`]: the small checksummed record at the start of the file (cluster, config,
//!   checkpoint), two copies;
//! - [`storage`]: the [`Storage`] trait (positioned read, positioned write, barrier) and an
//!   in-memory implementation;
//! - [`file`]: [`FileStorage`], `pread`/`pwrite`/`fdatasync` on a preallocated file, optional
//!   `O_DIRECT`;
//! - [`driver`]: [`FileDriver`], which owns a journal and a storage and carries out each request
//!   synchronously: `create`, `open` (validate + recover + truncate at the first hole), `append`
//!   (to the open batch), `sync` (group commit: two barriers per batch), `append_batch`, `read`;
//! - [`shared`]: [`SharedWal`], a handle many threads append bodies through, each call returning
//!   once its op is durable (group commit by leader and followers);
//! - [`prepare`]: building hash-chained prepare messages;
//! - [`record`]: [`RecordingStorage`], a storage that logs every write and barrier;
//! - [`crash_explore`]: enumerates the crash states of a recorded run (ALICE/CrashMonkey style),
//!   recovers each and checks it.

pub mod crash_explore;
pub mod driver;
pub mod error;
pub mod file;
pub mod layout;
pub mod prepare;
pub mod record;
pub mod shared;
pub mod storage;
pub mod superblock;

pub use driver::{FileDriver, Options, RecoveryReport, WriteOrdering};
pub use error::{Error, Result};
pub use file::{DirectIo, FileStorage};
pub use layout::Layout;
pub use record::{RecordedOp, RecordingStorage};
pub use shared::{Appended, CommitMode, SharedStats, SharedWal, Ticket};
pub use storage::{MemoryStorage, Storage};
pub use superblock::Superblock;
