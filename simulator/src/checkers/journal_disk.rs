//! The *journal* checker: whenever a replica has no I/O in flight, every clean slot's redundant
//! header, prepare and zeroed padding on its disk match what the journal holds in memory (slots
//! the disk's fault state marks are skipped: a fault there is expected, and the journal cannot
//! know yet). Most journal bugs are completions that mark a slot clean against a stale view of
//! it, or shared header sectors carrying a neighbour's header wrong: this is what sees them.

use super::Failure;
use crate::replica::{ZONE_HEADERS, ZONE_PREPARES};
use crate::Simulation;
use journal::{Header, HEADER_SIZE};

impl Simulation {
    pub(crate) fn check_journal_matches_disk(&self, index: usize) -> Result<(), Failure> {
        let replica = &self.replicas[index];
        let config = replica.journal.config();
        for slot in 0..config.slot_count {
            let header = *replica.journal.header(slot);
            if replica.journal.dirty(slot) || header.is_reserved() {
                // Removal cleans a slot in memory without writing it: reserved slots are skipped.
                continue;
            }
            let sector_offset = slot / config.headers_per_sector() * config.sector_size;
            if !replica
                .disk
                .range_faulty(ZONE_HEADERS, sector_offset, config.sector_size)
            {
                let sector = replica
                    .disk
                    .peek(ZONE_HEADERS, sector_offset, config.sector_size);
                let within = (slot * HEADER_SIZE - sector_offset) as usize;
                let bytes = &sector[within..within + HEADER_SIZE as usize];
                if Header::decode(bytes) != Ok(header) {
                    return Err(self.failure("journal", format!("r{index} slot {slot} is clean with op {} but its redundant header on disk differs: {:?}", header.op, Header::decode(bytes).map(|h| (h.op, h.view)))));
                }
            }
            let size_ceil = config.sector_ceil(u64::from(header.size));
            let prepare_offset = slot * config.message_size_max;
            if !replica
                .disk
                .range_faulty(ZONE_PREPARES, prepare_offset, size_ceil)
            {
                let bytes = replica.disk.peek(ZONE_PREPARES, prepare_offset, size_ceil);
                let size = header.size as usize;
                let intact = Header::decode(bytes) == Ok(header)
                    && header.valid_checksum_body(&bytes[HEADER_SIZE as usize..size])
                    && bytes[size..].iter().all(|&b| b == 0);
                if !intact {
                    return Err(self.failure("journal", format!("r{index} slot {slot} is clean with op {} but its prepare on disk differs", header.op)));
                }
            }
        }
        Ok(())
    }
}
