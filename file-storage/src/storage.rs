//! The storage a [`FileDriver`](crate::FileDriver) runs on: positioned reads and writes and a
//! durability barrier, over one flat byte range (the whole WAL file).
//!
//! The persistence model every implementation is held to (and that
//! [`crash_explore`](crate::crash_explore) enumerates): a write is durable once a later
//! [`Storage::sync`] returns; until then, after a crash, any subset of the writes since the last
//! barrier may have landed, and each may be torn at sector granularity.

use std::io;

/// Positioned I/O over one file-sized byte range.
pub trait Storage {
    /// Bytes of the range.
    fn size(&self) -> u64;
    /// Fills `buffer` from `offset`. Short ranges are an error.
    fn read_at(&mut self, offset: u64, buffer: &mut [u8]) -> io::Result<()>;
    /// Writes `bytes` at `offset`; not durable until the next [`Storage::sync`].
    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()>;
    /// The barrier: every write before it is durable when it returns.
    fn sync(&mut self) -> io::Result<()>;
}

/// A storage in memory: the simplest correct one, and the base of the crash explorer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryStorage {
    pub bytes: Vec<u8>,
}

impl MemoryStorage {
    pub fn new(size: u64) -> MemoryStorage {
        MemoryStorage {
            bytes: vec![0; size as usize],
        }
    }

    pub fn from_bytes(bytes: Vec<u8>) -> MemoryStorage {
        MemoryStorage { bytes }
    }

    fn range(&self, offset: u64, len: usize) -> io::Result<std::ops::Range<usize>> {
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
        let end = start
            .checked_add(len)
            .filter(|&end| end <= self.bytes.len())
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        Ok(start..end)
    }
}

impl Storage for MemoryStorage {
    fn size(&self) -> u64 {
        self.bytes.len() as u64
    }

    fn read_at(&mut self, offset: u64, buffer: &mut [u8]) -> io::Result<()> {
        let range = self.range(offset, buffer.len())?;
        buffer.copy_from_slice(&self.bytes[range]);
        Ok(())
    }

    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        let range = self.range(offset, bytes.len())?;
        self.bytes[range].copy_from_slice(bytes);
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<S: Storage + ?Sized> Storage for &mut S {
    fn size(&self) -> u64 {
        (**self).size()
    }

    fn read_at(&mut self, offset: u64, buffer: &mut [u8]) -> io::Result<()> {
        (**self).read_at(offset, buffer)
    }

    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        (**self).write_at(offset, bytes)
    }

    fn sync(&mut self) -> io::Result<()> {
        (**self).sync()
    }
}
