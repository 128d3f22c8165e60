//! Typed errors for operating faults: I/O, a file that is not the WAL asked for, bad input to
//! `append`, a read the journal rejected. Bugs are assertions, not errors.

use journal::{ConfigError, ReadReject};
use thiserror::Error;

/// The crate's result.
pub type Result<T> = std::result::Result<T, Error>;

/// What went wrong, said in terms of the file or the call.
#[derive(Debug, Error)]
pub enum Error {
    /// The operating system failed a call; `context` names which.
    #[error("{context}: {source}")]
    Io {
        context: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The file is shorter than its superblock says (or than a superblock).
    #[error("file truncated: {size_found} bytes, expected {size_expected}")]
    Truncated { size_expected: u64, size_found: u64 },
    /// The file is longer than its superblock says.
    #[error("file has the wrong size: {size_found} bytes, expected {size_expected}")]
    WrongSize { size_expected: u64, size_found: u64 },
    /// Neither superblock copy has the magic: not a walsim WAL file.
    #[error("not a WAL file: bad magic in both superblock copies")]
    BadMagic,
    /// Superblock copies with the magic but a bad checksum, and no valid copy.
    #[error("corrupt file header: superblock checksum invalid in both copies")]
    SuperblockChecksum,
    /// A valid superblock of a format version this code does not read.
    #[error("unsupported format version {found} (this build reads version {expected})")]
    UnsupportedVersion { found: u32, expected: u32 },
    /// A valid superblock copy in the wrong place, or with view fields that disagree.
    #[error("corrupt file header: superblock copy misplaced or its views disagree")]
    SuperblockMisplaced,
    /// The file belongs to another cluster.
    #[error("file belongs to cluster {found:#x}, expected cluster {expected:#x}")]
    WrongCluster { expected: u128, found: u128 },
    /// The config (given to `create`, or read from the superblock) breaks a journal rule.
    #[error("invalid config: {0}")]
    Config(#[from] ConfigError),
    /// The config is valid for the journal but not for this file layout.
    #[error("unsupported config: {0}")]
    UnsupportedConfig(&'static str),
    /// The superblock's checkpoint is past anything the file can hold.
    #[error("corrupt file header: {0}")]
    SuperblockInvalid(&'static str),
    /// Recovery found slots it cannot repair (a solo WAL has no peer): data is lost.
    #[error("unrecoverable slots {slots:?} (slot, case): data in the WAL is lost")]
    Unrecoverable { slots: Vec<(u64, &'static str)> },
    /// `append` was given a message that cannot follow the head.
    #[error("cannot append: {0}")]
    Append(&'static str),
    /// The journal refused a read.
    #[error("read of op {op} rejected: {reason:?}")]
    ReadRejected { op: u64, reason: ReadReject },
    /// An earlier write or sync failed: the file's state is unknown until it is reopened.
    #[error("an earlier write or sync failed; reopen the file to recover")]
    Poisoned,
}

impl Error {
    pub(crate) fn io(context: &'static str) -> impl FnOnce(std::io::Error) -> Error {
        move |source| Error::Io { context, source }
    }
}
