//! The superblock: a small checksummed record at the start of the file, in two copies.
//!
//! Byte layout of one copy (the first 128 bytes of its 4 KiB block; the rest of the block is
//! zero). All integers little-endian.
//!
//! | offset | size | field              | meaning / invariant                                      |
//! |-------:|-----:|--------------------|----------------------------------------------------------|
//! |      0 |    8 | `magic`            | `b"WALSIMFS"`: this is a walsim WAL file                  |
//! |      8 |    4 | `format_version`   | `FORMAT_VERSION` (2)                                      |
//! |     12 |    4 | `copy`             | which copy this is (0 or 1): catches a misplaced write    |
//! |     16 |   16 | `cluster`          | cluster id; must match the cluster the caller expects     |
//! |     32 |    8 | `sequence`         | +1 on every superblock write; the newer valid copy wins   |
//! |     40 |    8 | `sector_size`      | `journal::Config` fields, validated on open               |
//! |     48 |    8 | `slot_count`       |                                                          |
//! |     56 |    8 | `message_size_max` |                                                          |
//! |     64 |    8 | `pipeline_max`     |                                                          |
//! |     72 |    8 | `iops_read_max`    |                                                          |
//! |     80 |    8 | `iops_write_max`   |                                                          |
//! |     88 |    8 | `op_checkpoint`    | ops ≤ this may be overwritten by the ring                 |
//! |     96 |    4 | `view`             | the replica's view (0 for a solo WAL)                     |
//! |    100 |    4 | `log_view`         | the view of the durable log; appended views are ≤ this    |
//! |    104 |    8 | `file_size`        | bytes of the whole file; must equal the layout's size     |
//! |    112 |    8 | `view_head_op`     | the head when `log_view` began (0 while `log_view` is 0)  |
//! |    120 |    4 | `view_head_view`   | that head's view (< `log_view`; 0 while `log_view` is 0)  |
//! |    124 |    4 | `checksum`         | crc32c of bytes 0..124                                    |
//!
//! Why two copies: a superblock write can tear like any other write. Writes alternate between
//! the copies (`sequence % 2`), each followed by a barrier, so a crash leaves at least one valid
//! copy: the newest valid one is the durable state. The checkpoint is advanced only after the
//! ops it covers are durable, and ops past the old `op_prepare_max` are written only after the
//! new superblock is durable.
//!
//! Why `view_head_*`: a solo WAL appends a batch of prepares at once, and a crash may land a
//! later one of them and tear an earlier one. Recovery cuts the torn ones; the driver then
//! truncates the log at the first hole and starts a new view (`view` and `log_view` + 1), with
//! the head it kept recorded here. Recovery reads a header of an op above `view_head_op` whose
//! view is not `log_view` as never written (a version the WAL truncated), so that a stale header
//! beside a torn re-append of the same op is cut rather than taken for a lost acknowledged op.
//! Version 2 added these fields (version 1 kept the 12 bytes zero).

use crate::layout::{Layout, SUPERBLOCK_COPY_COUNT, SUPERBLOCK_COPY_SIZE};
use journal::bytes::{array_at, u32_at, u64_at};
use journal::Config;

/// `b"WALSIMFS"`.
pub const MAGIC: [u8; 8] = *b"WALSIMFS";
/// The version this code writes and accepts.
pub const FORMAT_VERSION: u32 = 2;
/// Bytes of the record inside each copy's block.
pub const SUPERBLOCK_RECORD_SIZE: usize = 128;
const CHECKSUM_OFFSET: usize = 124;

const _: () = assert!(SUPERBLOCK_RECORD_SIZE as u64 <= SUPERBLOCK_COPY_SIZE);
const _: () = assert!(CHECKSUM_OFFSET + 4 == SUPERBLOCK_RECORD_SIZE);

/// The durable state of a WAL file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Superblock {
    pub cluster: u128,
    pub sequence: u64,
    pub config: Config,
    pub op_checkpoint: u64,
    pub view: u32,
    pub log_view: u32,
    pub file_size: u64,
    /// The head op when `log_view` began: ops above it carry `log_view` (0 while it is 0).
    pub view_head_op: u64,
    /// The view of that head's header.
    pub view_head_view: u32,
}

/// Why one copy did not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyError {
    /// No magic: not a walsim WAL (or never written).
    Magic,
    /// The magic is there but the checksum does not match (torn or corrupt).
    Checksum,
    /// Checksum-valid, but of a format version this code does not read.
    Version(u32),
    /// Checksum-valid, but names the other copy, or its view fields disagree.
    Misplaced,
}

impl Superblock {
    /// The highest op that may be written before the next checkpoint.
    pub fn op_prepare_max(&self) -> u64 {
        self.config.op_prepare_max(self.op_checkpoint)
    }

    /// Encodes copy `copy` as a whole 4 KiB block.
    pub fn encode(&self, copy: u64) -> Vec<u8> {
        assert!(copy < SUPERBLOCK_COPY_COUNT);
        let mut block = vec![0u8; SUPERBLOCK_COPY_SIZE as usize];
        let record = &mut block[..SUPERBLOCK_RECORD_SIZE];
        record[0..8].copy_from_slice(&MAGIC);
        record[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        record[12..16].copy_from_slice(&(copy as u32).to_le_bytes());
        record[16..32].copy_from_slice(&self.cluster.to_le_bytes());
        record[32..40].copy_from_slice(&self.sequence.to_le_bytes());
        record[40..48].copy_from_slice(&self.config.sector_size.to_le_bytes());
        record[48..56].copy_from_slice(&self.config.slot_count.to_le_bytes());
        record[56..64].copy_from_slice(&self.config.message_size_max.to_le_bytes());
        record[64..72].copy_from_slice(&self.config.pipeline_max.to_le_bytes());
        record[72..80].copy_from_slice(&self.config.iops_read_max.to_le_bytes());
        record[80..88].copy_from_slice(&self.config.iops_write_max.to_le_bytes());
        record[88..96].copy_from_slice(&self.op_checkpoint.to_le_bytes());
        record[96..100].copy_from_slice(&self.view.to_le_bytes());
        record[100..104].copy_from_slice(&self.log_view.to_le_bytes());
        record[104..112].copy_from_slice(&self.file_size.to_le_bytes());
        record[112..120].copy_from_slice(&self.view_head_op.to_le_bytes());
        record[120..124].copy_from_slice(&self.view_head_view.to_le_bytes());
        let checksum = crc32c::crc32c(&record[..CHECKSUM_OFFSET]);
        record[CHECKSUM_OFFSET..].copy_from_slice(&checksum.to_le_bytes());
        // Pair assertion: what is written decodes to itself.
        debug_assert_eq!(Superblock::decode(&block, copy), Ok(*self));
        block
    }

    /// Decodes copy `copy` from untrusted bytes (at least the record). Never panics.
    pub fn decode(bytes: &[u8], copy: u64) -> Result<Superblock, CopyError> {
        let Some(record) = bytes.get(..SUPERBLOCK_RECORD_SIZE) else {
            return Err(CopyError::Magic);
        };
        if record[0..8] != MAGIC {
            return Err(CopyError::Magic);
        }
        if u32_at(record, CHECKSUM_OFFSET) != crc32c::crc32c(&record[..CHECKSUM_OFFSET]) {
            return Err(CopyError::Checksum);
        }
        let version = u32_at(record, 8);
        if version != FORMAT_VERSION {
            return Err(CopyError::Version(version));
        }
        if u64::from(u32_at(record, 12)) != copy {
            return Err(CopyError::Misplaced);
        }
        let (view, log_view) = (u32_at(record, 96), u32_at(record, 100));
        let (view_head_op, view_head_view) = (u64_at(record, 112), u32_at(record, 120));
        let view_head_ok = if log_view == 0 {
            view_head_op == 0 && view_head_view == 0
        } else {
            view_head_view < log_view
        };
        if log_view > view || !view_head_ok {
            return Err(CopyError::Misplaced);
        }
        Ok(Superblock {
            cluster: u128::from_le_bytes(array_at(record, 16)),
            sequence: u64_at(record, 32),
            config: Config {
                sector_size: u64_at(record, 40),
                slot_count: u64_at(record, 48),
                message_size_max: u64_at(record, 56),
                pipeline_max: u64_at(record, 64),
                iops_read_max: u64_at(record, 72),
                iops_write_max: u64_at(record, 80),
            },
            op_checkpoint: u64_at(record, 88),
            view,
            log_view,
            file_size: u64_at(record, 104),
            view_head_op,
            view_head_view,
        })
    }

    /// The durable superblock from both copies' bytes: the valid copy with the higher sequence.
    /// When neither is valid, the more telling of the two reasons.
    pub fn choose(copies: [&[u8]; 2]) -> Result<(Superblock, u64), CopyError> {
        let decoded = [
            Superblock::decode(copies[0], 0),
            Superblock::decode(copies[1], 1),
        ];
        match decoded {
            [Ok(a), Ok(b)] => Ok(if b.sequence > a.sequence {
                (b, 1)
            } else {
                (a, 0)
            }),
            [Ok(a), Err(_)] => Ok((a, 0)),
            [Err(_), Ok(b)] => Ok((b, 1)),
            [Err(a), Err(b)] => Err(worse_first(a, b)),
        }
    }

    /// The layout this superblock's config implies, if it fits.
    pub fn layout(&self) -> Option<Layout> {
        Layout::new(&self.config)
    }
}

/// The reason that says most about a file neither of whose copies decodes: a version or
/// placement problem over a checksum problem over no magic at all.
fn worse_first(a: CopyError, b: CopyError) -> CopyError {
    fn rank(error: CopyError) -> u8 {
        match error {
            CopyError::Magic => 0,
            CopyError::Checksum => 1,
            CopyError::Misplaced => 2,
            CopyError::Version(_) => 3,
        }
    }
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Superblock {
        Superblock {
            cluster: 0x1234_5678_9abc_def0_1122_3344_5566_7788,
            sequence: 7,
            config: Config::DEFAULT,
            op_checkpoint: 512,
            view: 3,
            log_view: 3,
            file_size: 99,
            view_head_op: 500,
            view_head_view: 2,
        }
    }

    /// The offsets in the module doc are the offsets the code uses.
    #[test]
    fn layout_matches_the_format_table() {
        let block = sample().encode(1);
        assert_eq!(block.len(), 4096);
        assert_eq!(&block[0..8], b"WALSIMFS");
        assert_eq!(block[8..12], 2u32.to_le_bytes());
        assert_eq!(block[12..16], 1u32.to_le_bytes());
        assert_eq!(block[16..32], sample().cluster.to_le_bytes());
        assert_eq!(block[32..40], 7u64.to_le_bytes());
        assert_eq!(block[40..48], 4096u64.to_le_bytes());
        assert_eq!(block[48..56], 1024u64.to_le_bytes());
        assert_eq!(block[88..96], 512u64.to_le_bytes());
        assert_eq!(block[96..100], 3u32.to_le_bytes());
        assert_eq!(block[104..112], 99u64.to_le_bytes());
        assert_eq!(block[112..120], 500u64.to_le_bytes());
        assert_eq!(block[120..124], 2u32.to_le_bytes());
        assert_eq!(block[124..128], crc32c::crc32c(&block[..124]).to_le_bytes());
        assert!(block[128..].iter().all(|&b| b == 0));
    }

    #[test]
    fn every_corruption_is_typed_and_newest_valid_copy_wins() {
        let newer = Superblock {
            sequence: 8,
            ..sample()
        };
        let (a, b) = (sample().encode(0), newer.encode(1));
        assert_eq!(Superblock::choose([&a, &b]), Ok((newer, 1)));
        let mut torn = b.clone();
        torn[90] ^= 1;
        assert_eq!(Superblock::decode(&torn, 1), Err(CopyError::Checksum));
        assert_eq!(Superblock::choose([&a, &torn]), Ok((sample(), 0)));
        assert_eq!(Superblock::decode(&a, 1), Err(CopyError::Misplaced));
        assert_eq!(Superblock::decode(&[0u8; 10], 0), Err(CopyError::Magic));
        let zero = vec![0u8; 4096];
        assert_eq!(Superblock::choose([&zero, &zero]), Err(CopyError::Magic));
        assert_eq!(Superblock::choose([&zero, &torn]), Err(CopyError::Checksum));
        let mut version = a.clone();
        version[8] = 9;
        let checksum = crc32c::crc32c(&version[..124]);
        version[124..128].copy_from_slice(&checksum.to_le_bytes());
        assert_eq!(Superblock::decode(&version, 0), Err(CopyError::Version(9)));
    }
}
