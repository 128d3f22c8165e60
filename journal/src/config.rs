//! The journal's runtime configuration, validated once at construction.
//!
//! Every rule below guards an assumption the write path or recovery makes; a config that breaks
//! one is rejected with a [`ConfigError`] that names the field and the rule.

use crate::header::HEADER_SIZE;
use thiserror::Error;

/// Sizes and bounds of one journal. Fields carry their unit last (`*_size` in bytes,
/// `*_count`, `*_max`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Config {
    /// The unit of atomic I/O, in bytes. A power of two, a multiple of `HEADER_SIZE`.
    pub sector_size: u64,
    /// Slots in each ring. Even, a multiple of headers per sector, greater than `pipeline_max`.
    pub slot_count: u64,
    /// Largest prepare (header + body), in bytes. A multiple of `sector_size`.
    pub message_size_max: u64,
    /// Most ops prepared but not yet committed at once.
    pub pipeline_max: u64,
    /// Reads in flight at once. At least 3: two are kept for the commit path.
    pub iops_read_max: u64,
    /// Writes in flight at once. Fewer than the header sectors, so a crash cannot tear them all.
    pub iops_write_max: u64,
}

/// A violated configuration rule.
#[derive(Clone, Debug, Error, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ConfigError {
    /// `sector_size` is not a power of two.
    #[error("sector_size {0} is not a power of two")]
    SectorSizeNotPowerOfTwo(u64),
    /// `sector_size` cannot hold a whole number of headers.
    #[error("sector_size {sector_size} is not a multiple of the header size {header_size}")]
    SectorSizeNotMultipleOfHeader { sector_size: u64, header_size: u64 },
    /// `slot_count` is zero or odd.
    #[error("slot_count {0} is not a positive even number")]
    SlotCountNotEven(u64),
    /// `slot_count` does not fill whole header sectors.
    #[error(
        "slot_count {slot_count} is not a multiple of headers per sector {headers_per_sector}"
    )]
    SlotCountNotMultipleOfHeadersPerSector {
        slot_count: u64,
        headers_per_sector: u64,
    },
    /// `slot_count` leaves no room beyond the pipeline.
    #[error("slot_count {slot_count} is not greater than pipeline_max {pipeline_max}")]
    SlotCountNotAbovePipeline { slot_count: u64, pipeline_max: u64 },
    /// `message_size_max` is not a whole number of sectors.
    #[error("message_size_max {message_size_max} is not a positive multiple of sector_size {sector_size}")]
    MessageSizeNotMultipleOfSector {
        message_size_max: u64,
        sector_size: u64,
    },
    /// `message_size_max` is too small for a header.
    #[error("message_size_max {0} is smaller than the header size {HEADER_SIZE}")]
    MessageSizeBelowHeader(u64),
    /// `message_size_max` does not fit the header's u32 `size` field.
    #[error("message_size_max {0} does not fit in a u32")]
    MessageSizeTooLarge(u64),
    /// `pipeline_max` is zero.
    #[error("pipeline_max 0 must be at least 1")]
    PipelineZero,
    /// Fewer than three reads: the commit path needs two of its own.
    #[error("iops_read_max {0} is less than 3 (two reads are kept for the commit path)")]
    IopsReadTooFew(u64),
    /// No writes at all.
    #[error("iops_write_max 0 must be at least 1")]
    IopsWriteZero,
    /// A crash could tear every header sector at once.
    #[error("iops_write_max {iops_write_max} is not less than the header sector count {header_sector_count}")]
    IopsWriteNotBelowHeaderSectors {
        iops_write_max: u64,
        header_sector_count: u64,
    },
}

impl Config {
    /// The default production configuration: 4 KiB sectors, 1024 slots, 1 MiB messages.
    pub const DEFAULT: Config = Config {
        sector_size: 4096,
        slot_count: 1024,
        message_size_max: 1024 * 1024,
        pipeline_max: 8,
        iops_read_max: 8,
        iops_write_max: 8,
    };

    /// Checks every rule, in the order a reader would: sector, slots, messages, pipeline, IOPs.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let sector_size = self.sector_size;
        if sector_size == 0 || !sector_size.is_power_of_two() {
            return Err(ConfigError::SectorSizeNotPowerOfTwo(sector_size));
        }
        if !sector_size.is_multiple_of(HEADER_SIZE) {
            return Err(ConfigError::SectorSizeNotMultipleOfHeader {
                sector_size,
                header_size: HEADER_SIZE,
            });
        }
        if self.slot_count == 0 || !self.slot_count.is_multiple_of(2) {
            return Err(ConfigError::SlotCountNotEven(self.slot_count));
        }
        let headers_per_sector = sector_size / HEADER_SIZE;
        if !self.slot_count.is_multiple_of(headers_per_sector) {
            return Err(ConfigError::SlotCountNotMultipleOfHeadersPerSector {
                slot_count: self.slot_count,
                headers_per_sector,
            });
        }
        if self.pipeline_max == 0 {
            return Err(ConfigError::PipelineZero);
        }
        if self.slot_count <= self.pipeline_max {
            return Err(ConfigError::SlotCountNotAbovePipeline {
                slot_count: self.slot_count,
                pipeline_max: self.pipeline_max,
            });
        }
        if self.message_size_max < HEADER_SIZE {
            return Err(ConfigError::MessageSizeBelowHeader(self.message_size_max));
        }
        if !self.message_size_max.is_multiple_of(sector_size) {
            return Err(ConfigError::MessageSizeNotMultipleOfSector {
                message_size_max: self.message_size_max,
                sector_size,
            });
        }
        if self.message_size_max > u64::from(u32::MAX) {
            return Err(ConfigError::MessageSizeTooLarge(self.message_size_max));
        }
        if self.iops_read_max < 3 {
            return Err(ConfigError::IopsReadTooFew(self.iops_read_max));
        }
        if self.iops_write_max == 0 {
            return Err(ConfigError::IopsWriteZero);
        }
        let header_sector_count = self.slot_count / headers_per_sector;
        if self.iops_write_max >= header_sector_count {
            return Err(ConfigError::IopsWriteNotBelowHeaderSectors {
                iops_write_max: self.iops_write_max,
                header_sector_count,
            });
        }
        Ok(())
    }

    /// The highest op that may be prepared while `op_checkpoint` is the durable checkpoint:
    /// a slot is overwritten only once its op is checkpointed, and a pipeline of ops fits
    /// beside it. Every driver derives it from here (the simulator, the file driver, recovery).
    /// It lies `pipeline_max` short of a ring past the checkpoint (TigerBeetle's lies a whole
    /// ring past), so it never maps to the checkpoint's own slot.
    pub fn op_prepare_max(&self, op_checkpoint: u64) -> u64 {
        let op_prepare_max = op_checkpoint + self.slot_count - self.pipeline_max;
        assert!(op_prepare_max > op_checkpoint);
        assert!(op_prepare_max < op_checkpoint + self.slot_count);
        op_prepare_max
    }

    /// Redundant headers packed into one sector.
    pub fn headers_per_sector(&self) -> u64 {
        self.sector_size / HEADER_SIZE
    }

    /// Byte offset, in the `wal_headers` zone, of the sector that holds slot `slot`'s redundant
    /// header.
    pub fn header_sector_offset(&self, slot: u64) -> u64 {
        assert!(slot < self.slot_count);
        slot / self.headers_per_sector() * self.sector_size
    }

    /// Sectors of the `wal_headers` zone.
    pub fn header_sector_count(&self) -> u64 {
        self.slot_count / self.headers_per_sector()
    }

    /// Bytes of the `wal_headers` zone.
    pub fn wal_headers_size(&self) -> u64 {
        self.slot_count * HEADER_SIZE
    }

    /// Bytes of the `wal_prepares` zone.
    pub fn wal_prepares_size(&self) -> u64 {
        self.slot_count * self.message_size_max
    }

    /// Rounds `size` up to whole sectors.
    pub fn sector_ceil(&self, size: u64) -> u64 {
        size.div_ceil(self.sector_size) * self.sector_size
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Config {
        Config {
            sector_size: 512,
            slot_count: 32,
            message_size_max: 2048,
            pipeline_max: 4,
            iops_read_max: 4,
            iops_write_max: 3,
        }
    }

    #[test]
    fn default_and_small_are_valid() {
        assert_eq!(Config::DEFAULT.validate(), Ok(()));
        assert_eq!(small().validate(), Ok(()));
        assert_eq!(Config::DEFAULT.headers_per_sector(), 32);
    }

    /// Each rule, broken alone, is reported with its own message naming the field.
    #[test]
    fn every_rule_rejects_its_violation() {
        let cases: Vec<(Config, &str)> = vec![
            (
                Config {
                    sector_size: 500,
                    ..small()
                },
                "sector_size 500 is not a power of two",
            ),
            (
                Config {
                    sector_size: 0,
                    ..small()
                },
                "sector_size 0 is not a power of two",
            ),
            (
                Config {
                    sector_size: 64,
                    ..small()
                },
                "sector_size 64 is not a multiple of the header size 128",
            ),
            (
                Config {
                    slot_count: 31,
                    ..small()
                },
                "slot_count 31 is not a positive even number",
            ),
            (
                Config {
                    slot_count: 0,
                    ..small()
                },
                "slot_count 0 is not a positive even number",
            ),
            (
                Config {
                    slot_count: 6,
                    ..small()
                },
                "slot_count 6 is not a multiple of headers per sector 4",
            ),
            (
                Config {
                    pipeline_max: 32,
                    ..small()
                },
                "slot_count 32 is not greater than pipeline_max 32",
            ),
            (
                Config {
                    pipeline_max: 0,
                    ..small()
                },
                "pipeline_max 0 must be at least 1",
            ),
            (
                Config {
                    message_size_max: 1000,
                    ..small()
                },
                "message_size_max 1000 is not a positive multiple of sector_size 512",
            ),
            (
                Config {
                    sector_size: 128,
                    message_size_max: 0,
                    ..small()
                },
                "message_size_max 0 is smaller than the header size 128",
            ),
            (
                Config {
                    message_size_max: 1 << 33,
                    ..small()
                },
                "message_size_max 8589934592 does not fit in a u32",
            ),
            (
                Config {
                    iops_read_max: 2,
                    ..small()
                },
                "iops_read_max 2 is less than 3 (two reads are kept for the commit path)",
            ),
            (
                Config {
                    iops_write_max: 0,
                    ..small()
                },
                "iops_write_max 0 must be at least 1",
            ),
            (
                Config {
                    iops_write_max: 8,
                    ..small()
                },
                "iops_write_max 8 is not less than the header sector count 8",
            ),
        ];
        for (config, message) in cases {
            let error = config.validate().expect_err(message);
            assert_eq!(error.to_string(), message);
        }
    }
}
