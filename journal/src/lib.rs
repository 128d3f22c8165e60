//! `journal`: a sans-IO write-ahead log modelled on the journal of a VSR replica.
//!
//! Two rings on disk (`wal_headers`: redundant headers; `wal_prepares`: header + body), a write
//! path that never lets a redundant header reach disk before its prepare, a read path that
//! verifies everything it returns, and crash recovery decided slot by slot by the
//! [`decision_table`]. The journal never performs I/O: it queues requests that a driver (the
//! simulator, or a real-file driver) carries out and completes, in any order.

pub mod bytes;
pub mod canary;
pub mod config;
pub mod decision_table;
pub mod format;
pub mod header;
pub mod io;
mod journal;
pub mod recovery;

pub use config::{Config, ConfigError};
pub use decision_table::{Decision, Impossible};
pub use header::{Header, HeaderError, HEADER_SIZE};
pub use io::{
    Event, IoId, IoKind, IoRequest, ReadError, ReadHandle, ReadPurpose, ReadReject, SlotRecovery,
    WriteOutcome, Zone,
};
pub use journal::{Journal, Status, WriteStart, Writing};
pub use recovery::{RecoveryContext, RecoveryError};
