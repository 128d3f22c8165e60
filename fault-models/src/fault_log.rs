//! The fault log: an append-only list of every fault a disk injected, so that checkers and traces
//! can explain a failure and the simulator knows each slot's ground truth.

use serde::{Deserialize, Serialize};

use crate::disk::ZoneId;
use crate::faults::FaultKind;

/// One injected fault.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct FaultRecord {
    /// The tick at which the fault was injected (the completion's or the crash's tick).
    pub tick: u64,
    /// The replica that owns the disk.
    pub replica: u8,
    /// What happened.
    pub kind: FaultKind,
    /// The zone the I/O addressed.
    pub zone: ZoneId,
    /// Start of the affected range, relative to the zone start (see [`FaultKind`]).
    pub offset: u64,
    /// Length of the affected range in bytes.
    pub len: u64,
}

impl FaultRecord {
    /// Whether this fault touched any byte of `[offset, offset + len)` of `zone`. A misdirected
    /// write touches both its intended range and the range it landed on; a misdirected read
    /// touches only the range that was read (its source was not changed).
    pub fn overlaps(&self, zone: ZoneId, offset: u64, len: u64) -> bool {
        if self.zone != zone {
            return false;
        }
        let overlaps_range = |start: u64| start < offset + len && offset < start + self.len;
        match self.kind {
            FaultKind::MisdirectedWrite { target_offset } => {
                overlaps_range(self.offset) || overlaps_range(target_offset)
            }
            _ => overlaps_range(self.offset),
        }
    }
}

/// Every fault injected into one disk, in the order injected. Grows without bound (a simulation
/// run injects few faults); reserve capacity up front with [`FaultLog::with_capacity`].
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FaultLog {
    records: Vec<FaultRecord>,
}

impl FaultLog {
    /// An empty log.
    pub fn new() -> FaultLog {
        FaultLog::default()
    }

    /// An empty log with room for `capacity` records before it reallocates.
    pub fn with_capacity(capacity: usize) -> FaultLog {
        FaultLog {
            records: Vec::with_capacity(capacity),
        }
    }

    /// Appends one record. Ticks never go backwards.
    pub fn push(&mut self, record: FaultRecord) {
        assert!(record.len > 0);
        if let Some(last) = self.records.last() {
            assert!(last.tick <= record.tick, "fault log tick went backwards");
        }
        self.records.push(record);
    }

    /// All records, oldest first.
    pub fn records(&self) -> &[FaultRecord] {
        &self.records
    }

    /// The records that touched any byte of `[offset, offset + len)` of `zone`, oldest first
    /// (see [`FaultRecord::overlaps`]).
    pub fn records_in(
        &self,
        zone: ZoneId,
        offset: u64,
        len: u64,
    ) -> impl Iterator<Item = &FaultRecord> + '_ {
        self.records
            .iter()
            .filter(move |record| record.overlaps(zone, offset, len))
    }

    /// The number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no fault was injected.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: FaultKind, zone: ZoneId, offset: u64, len: u64) -> FaultRecord {
        FaultRecord {
            tick: 0,
            replica: 0,
            kind,
            zone,
            offset,
            len,
        }
    }

    #[test]
    fn records_in_finds_overlaps_only() {
        let mut log = FaultLog::new();
        log.push(record(FaultKind::WriteBitFlip, 0, 512, 512));
        log.push(record(
            FaultKind::MisdirectedWrite {
                target_offset: 4096,
            },
            1,
            0,
            1024,
        ));
        log.push(record(
            FaultKind::MisdirectedRead {
                source_offset: 8192,
            },
            1,
            0,
            1024,
        ));
        assert_eq!(log.len(), 3);
        assert_eq!(log.records_in(0, 0, 512).count(), 0);
        assert_eq!(log.records_in(0, 1023, 1).count(), 1);
        assert_eq!(log.records_in(0, 1024, 512).count(), 0);
        assert_eq!(log.records_in(1, 4096 + 1023, 1).count(), 1);
        assert_eq!(log.records_in(1, 8192, 1024).count(), 0);
        assert_eq!(log.records_in(1, 0, 1).count(), 2);
    }

    #[test]
    fn serde_round_trip() {
        let mut log = FaultLog::with_capacity(2);
        log.push(record(FaultKind::TornWrite, 0, 0, 4096));
        log.push(record(
            FaultKind::MisdirectedRead {
                source_offset: 8192,
            },
            1,
            0,
            1024,
        ));
        let json = serde_json::to_string(&log).expect("serialize");
        let back: FaultLog = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, log);
    }
}
