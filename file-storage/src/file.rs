//! [`FileStorage`]: the WAL as one preallocated file, `pread`/`pwrite` at sector-aligned offsets,
//! `fdatasync` as the barrier, `O_DIRECT` where the filesystem allows it.
//!
//! `O_DIRECT` needs the buffer address, the offset and the length aligned to the device's logical
//! block size. Offsets and lengths come from the journal (sector-aligned; use a 4096-byte sector
//! for real files). Buffers come from the journal too and are not aligned, so with `O_DIRECT`
//! every I/O goes through one [`AlignedBuffer`] (a `Vec` over-allocated by the alignment and
//! sliced at the first aligned address: no `unsafe`). Filesystems that refuse `O_DIRECT` at open
//! (tmpfs: `EINVAL`) fall back to buffered I/O, and [`DirectIo::Fallback`] says so.

use crate::error::{Error, Result};
use crate::storage::Storage;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

/// Alignment of `O_DIRECT` buffers: 4 KiB covers 512-byte and 4 KiB logical blocks.
pub const DIRECT_ALIGNMENT: usize = 4096;

/// Whether the file is open with `O_DIRECT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DirectIo {
    /// Not asked for.
    Off,
    /// In use.
    On,
    /// Asked for but refused by the filesystem; buffered I/O is in use.
    Fallback { reason: String },
}

/// A byte buffer whose start is aligned to [`DIRECT_ALIGNMENT`], without `unsafe`.
#[derive(Debug, Default)]
pub struct AlignedBuffer {
    storage: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedBuffer {
    /// An aligned slice of `len` bytes (contents unspecified), growing the buffer if needed.
    pub fn get(&mut self, len: usize) -> &mut [u8] {
        if self.storage.len() < len + DIRECT_ALIGNMENT {
            self.storage = vec![0; len + DIRECT_ALIGNMENT];
            let address = self.storage.as_ptr() as usize;
            self.start = (DIRECT_ALIGNMENT - address % DIRECT_ALIGNMENT) % DIRECT_ALIGNMENT;
        }
        self.len = len;
        let slice = &mut self.storage[self.start..self.start + len];
        assert_eq!(slice.as_ptr() as usize % DIRECT_ALIGNMENT, 0);
        slice
    }
}

/// One open WAL file.
#[derive(Debug)]
pub struct FileStorage {
    file: File,
    size: u64,
    direct: bool,
    aligned: AlignedBuffer,
}

impl FileStorage {
    /// Creates a new file of `size` bytes (never over an existing file), makes its existence
    /// durable (file and directory synced), and opens it as [`FileStorage::open`] would.
    pub fn create(path: &Path, size: u64, direct: bool) -> Result<(FileStorage, DirectIo)> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(Error::io("create the WAL file"))?;
        file.set_len(size)
            .map_err(Error::io("preallocate the WAL file"))?;
        file.sync_all()
            .map_err(Error::io("sync the new WAL file"))?;
        drop(file);
        if let Some(directory) = path.parent() {
            let directory = if directory.as_os_str().is_empty() {
                Path::new(".")
            } else {
                directory
            };
            File::open(directory)
                .and_then(|d| d.sync_all())
                .map_err(Error::io("sync the WAL file's directory"))?;
        }
        FileStorage::open(path, direct)
    }

    /// Opens an existing file for reading and writing, with `O_DIRECT` if asked and allowed.
    pub fn open(path: &Path, direct: bool) -> Result<(FileStorage, DirectIo)> {
        let buffered = || {
            OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)
                .map_err(Error::io("open the WAL file"))
        };
        let (file, status) = if direct {
            match OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_DIRECT)
                .open(path)
            {
                Ok(file) => (file, DirectIo::On),
                Err(error) if error.raw_os_error() == Some(libc::EINVAL) => (
                    buffered()?,
                    DirectIo::Fallback {
                        reason: format!("the filesystem refused O_DIRECT ({error})"),
                    },
                ),
                Err(source) => {
                    return Err(Error::Io {
                        context: "open the WAL file with O_DIRECT",
                        source,
                    })
                }
            }
        } else {
            (buffered()?, DirectIo::Off)
        };
        let size = file
            .metadata()
            .map_err(Error::io("stat the WAL file"))?
            .len();
        let storage = FileStorage {
            file,
            size,
            direct: status == DirectIo::On,
            aligned: AlignedBuffer::default(),
        };
        Ok((storage, status))
    }

    /// Whether I/O bypasses the page cache.
    pub fn direct(&self) -> bool {
        self.direct
    }
}

impl Storage for FileStorage {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&mut self, offset: u64, buffer: &mut [u8]) -> io::Result<()> {
        if self.direct {
            let aligned = self.aligned.get(buffer.len());
            self.file.read_exact_at(aligned, offset)?;
            buffer.copy_from_slice(aligned);
            Ok(())
        } else {
            self.file.read_exact_at(buffer, offset)
        }
    }

    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        // The file is preallocated: a write past its end is a bug in the caller.
        assert!(offset + bytes.len() as u64 <= self.size);
        if self.direct {
            let aligned = self.aligned.get(bytes.len());
            aligned.copy_from_slice(bytes);
            self.file.write_all_at(aligned, offset)
        } else {
            self.file.write_all_at(bytes, offset)
        }
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_buffer_is_aligned_at_every_size() {
        let mut buffer = AlignedBuffer::default();
        for len in [1, 4096, 100, 70_000, 512] {
            let slice = buffer.get(len);
            assert_eq!(slice.len(), len);
            assert_eq!(slice.as_ptr() as usize % DIRECT_ALIGNMENT, 0);
        }
    }
}
