//! A sector-addressed simulated disk that injects seeded faults and records each one.
//!
//! The disk ([`Disk`]) knows zones, sectors, slots and chunks, and nothing of the journal or the
//! simulator: the simulator lays out the zones at construction and moves I/O between a storage
//! engine and the disk. One seed fixes everything the disk does.
//!
//! # Fault-injection spec
//!
//! Each fault kind has its own per-I/O probability in [`FaultConfig`] (all zero by default). Every
//! fault but a crash tear is injected only in chunks the [`FaultAtlas`] gives this replica, and is
//! recorded in the [`FaultLog`].
//!
//! For the write-ahead log, laid out by the simulator as two zones whose chunk `i` is header
//! sector `i` together with the prepare slots whose headers that sector holds:
//!
//! - `wal_headers` (slot = one header sector):
//!   - bit flips on read or write, latent sector errors, lost writes, and misdirected writes and
//!     reads that land on another header sector, at most in `quorum_replication - 1` replicas per
//!     chunk and never in every chunk of one replica. Recoverable because a quorum always keeps a
//!     good copy of each chunk's headers, and the prepares zone holds a second copy of each header
//!     (the redundant headers are checked against the prepares at recovery).
//!   - a torn write when the replica crashes while writing a header sector, anywhere and for every
//!     replica count. Recoverable because a crash can only tear sectors being written, and there
//!     are more header sectors than writes in flight, so never all of them.
//! - `wal_prepares` (slot = one prepare slot): the same faults, with the same atlas (a prepare
//!   fault and a header fault of one slot are faults of the same chunk, so they hit the same
//!   replicas). Recoverable because a faulty prepare is detected by its checksum or by its header
//!   (reserved headers carry the slot index, which unmasks misdirection) and repaired from a
//!   replica whose copy is good.
//! - With one replica the atlas allows nothing: a solo replica has no one to repair from, so it
//!   sees only crash tears, which it must survive on its own (torn writes are of unacknowledged
//!   data, the head of the log).
//!
//! Faults outside the atlas (`DiskOptions::faulty_chunks = None`) are an explicit opt-in, for
//! showing data loss.
//!
//! # Modules
//!
//! - [`disk`]: the disk, its I/O queue and the fault models.
//! - [`faults`]: the fault configuration and fault kinds.
//! - [`atlas`]: which chunks of which replica may be faulted.
//! - [`fault_log`]: the record of injected faults.
//! - [`sim_file`]: a simulated growable file over the disk, with a page cache and the persistence
//!   model of a real file system, for storage engines nobody here wrote (its own fault spec is
//!   in its module doc).

pub mod atlas;
pub mod disk;
pub mod fault_log;
pub mod faults;
pub mod sim_file;

pub use atlas::{quorum_replication, FaultAtlas};
pub use disk::{Completion, Disk, DiskOptions, IoError, IoKind, WriteAim, ZoneId, ZoneSpec};
pub use fault_log::{FaultLog, FaultRecord};
pub use faults::{FaultConfig, FaultKind};
pub use sim_file::{FileError, FileFaultConfig, FileStats, SimFile, SimFileOptions};
