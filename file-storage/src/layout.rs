//! Where everything lives in the one WAL file.
//!
//! ```text
//! offset 0                      4096                    8192 = ZONES_OFFSET
//! ┌─────────────────────────────┬───────────────────────┬──────────────────┬─────────────────────┐
//! │ superblock copy 0 (4 KiB)   │ superblock copy 1     │ wal_headers      │ wal_prepares        │
//! │                             │                       │ slot_count × 128 │ slot_count × msgmax │
//! └─────────────────────────────┴───────────────────────┴──────────────────┴─────────────────────┘
//! ```
//!
//! | offset                         | size                              | what                    |
//! |-------------------------------:|----------------------------------:|-------------------------|
//! | 0                              | `SUPERBLOCK_COPY_SIZE` (4096)     | superblock copy 0       |
//! | 4096                           | 4096                              | superblock copy 1       |
//! | `ZONES_OFFSET` (8192)          | `slot_count * HEADER_SIZE`        | `wal_headers` ring      |
//! | 8192 + `wal_headers_size`      | `slot_count * message_size_max`   | `wal_prepares` ring     |
//!
//! The file size is exactly the end of `wal_prepares`: a file of any other size is rejected.
//! Every offset is a multiple of 4096, so any `sector_size` up to 4096 (the limit this crate
//! accepts) keeps the zones sector-aligned, and `O_DIRECT` sees 4 KiB-aligned offsets. The
//! superblock copies sit at fixed offsets so that they can be found before the config (which
//! they carry) is known. The superblock's own byte layout is in [`crate::superblock`].

use journal::{Config, Zone};

/// Bytes of one superblock copy: one 4 KiB block, the largest sector this crate accepts.
pub const SUPERBLOCK_COPY_SIZE: u64 = 4096;
/// Superblock copies; written alternately so that a torn write leaves the other intact.
pub const SUPERBLOCK_COPY_COUNT: u64 = 2;
/// Where the journal's zones start.
pub const ZONES_OFFSET: u64 = SUPERBLOCK_COPY_SIZE * SUPERBLOCK_COPY_COUNT;
/// The largest `sector_size` the file layout keeps aligned.
pub const SECTOR_SIZE_MAX: u64 = SUPERBLOCK_COPY_SIZE;

const _: () = assert!(ZONES_OFFSET.is_multiple_of(SECTOR_SIZE_MAX));
const _: () = assert!(SUPERBLOCK_COPY_COUNT == 2);

/// The file offsets of one config's zones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub wal_headers_offset: u64,
    pub wal_headers_size: u64,
    pub wal_prepares_offset: u64,
    pub wal_prepares_size: u64,
    /// Bytes of the whole file.
    pub file_size: u64,
}

impl Layout {
    /// The layout for a config, or `None` if its sizes overflow a u64 or its sector is larger
    /// than the layout keeps aligned. The config must already be valid.
    pub fn new(config: &Config) -> Option<Layout> {
        if config.sector_size > SECTOR_SIZE_MAX {
            return None;
        }
        let wal_headers_size = config.slot_count.checked_mul(journal::HEADER_SIZE)?;
        let wal_prepares_size = config.slot_count.checked_mul(config.message_size_max)?;
        let wal_prepares_offset = ZONES_OFFSET.checked_add(wal_headers_size)?;
        let file_size = wal_prepares_offset.checked_add(wal_prepares_size)?;
        let layout = Layout {
            wal_headers_offset: ZONES_OFFSET,
            wal_headers_size,
            wal_prepares_offset,
            wal_prepares_size,
            file_size,
        };
        assert_eq!(layout.wal_headers_offset % config.sector_size, 0);
        assert_eq!(layout.wal_prepares_offset % config.sector_size, 0);
        Some(layout)
    }

    /// The file offset of `offset` within `zone`, for a request of `len` bytes.
    pub fn file_offset(&self, zone: Zone, offset: u64, len: u64) -> u64 {
        let (base, size) = match zone {
            Zone::WalHeaders => (self.wal_headers_offset, self.wal_headers_size),
            Zone::WalPrepares => (self.wal_prepares_offset, self.wal_prepares_size),
        };
        // The journal only asks for ranges inside its zones.
        assert!(offset <= size);
        assert!(len <= size - offset);
        base + offset
    }

    /// The file offset of superblock copy `copy`.
    pub fn superblock_offset(copy: u64) -> u64 {
        assert!(copy < SUPERBLOCK_COPY_COUNT);
        copy * SUPERBLOCK_COPY_SIZE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_follow_the_superblock_and_fill_the_file() {
        let config = Config::DEFAULT;
        let layout = Layout::new(&config).expect("default config fits");
        assert_eq!(layout.wal_headers_offset, 8192);
        assert_eq!(layout.wal_headers_size, 1024 * 128);
        assert_eq!(layout.wal_prepares_offset, 8192 + 1024 * 128);
        assert_eq!(
            layout.file_size,
            8192 + 1024 * 128 + 1024 * 1024 * 1024,
            "superblocks + headers + prepares"
        );
        assert_eq!(
            layout.file_offset(Zone::WalPrepares, 4096, 4096),
            8192 + 131072 + 4096
        );
        let too_large_sector = Config {
            sector_size: 8192,
            ..config
        };
        assert_eq!(Layout::new(&too_large_sector), None);
    }
}
