//! A small deterministic in-memory disk for the journal's tests: requests stay pending until the
//! test completes them, in any order it likes; a crash drops, applies or tears what is pending.
#![allow(dead_code)]

use journal::{
    format, Config, Event, Header, IoKind, IoRequest, Journal, ReadError, RecoveryContext, Zone,
    HEADER_SIZE,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub const CLUSTER: u128 = 0x5eed;

pub fn config_small() -> Config {
    Config {
        sector_size: 512,
        slot_count: 16,
        message_size_max: 2048,
        pipeline_max: 4,
        iops_read_max: 4,
        iops_write_max: 3,
    }
}

#[derive(Debug)]
pub struct Pending {
    pub request: IoRequest,
    /// A write's bytes, copied when issued (the journal may reuse its buffer after completion).
    pub data: Vec<u8>,
}

#[derive(Debug)]
pub struct Harness {
    pub config: Config,
    pub solo: bool,
    pub journal: Journal,
    pub wal_headers: Vec<u8>,
    pub wal_prepares: Vec<u8>,
    pub pending: Vec<Pending>,
    pub events: Vec<Event>,
    /// Sectors whose reads fail (a latent sector error), by zone and offset.
    pub read_errors: Vec<(Zone, u64)>,
    pub rng: ChaCha8Rng,
    /// Every write that reached the disk, in order.
    pub writes_applied: Vec<(Zone, u64, u64)>,
}

pub fn context(op_checkpoint: u64) -> RecoveryContext {
    RecoveryContext {
        op_checkpoint,
        log_view: u32::MAX / 2,
        view_headers: Vec::new(),
    }
}

impl Harness {
    /// A formatted disk and a journal recovered from it.
    pub fn new(config: Config, solo: bool, seed: u64) -> Harness {
        let mut wal_headers = vec![0u8; config.wal_headers_size() as usize];
        let mut wal_prepares = vec![0u8; config.wal_prepares_size() as usize];
        for sector in 0..config.header_sector_count() {
            let bytes = format::wal_headers_sector(&config, CLUSTER, sector);
            wal_headers[(sector * config.sector_size) as usize..][..bytes.len()]
                .copy_from_slice(&bytes);
        }
        for slot in 0..config.slot_count {
            let bytes = format::wal_prepare(&config, CLUSTER, slot);
            wal_prepares[(slot * config.message_size_max) as usize..][..bytes.len()]
                .copy_from_slice(&bytes);
        }
        let journal = Journal::new(config, CLUSTER, solo).expect("valid config");
        let mut harness = Harness {
            config,
            solo,
            journal,
            wal_headers,
            wal_prepares,
            pending: Vec::new(),
            events: Vec::new(),
            read_errors: Vec::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            writes_applied: Vec::new(),
        };
        harness.recover(context(0));
        harness
    }

    pub fn zone_mut(&mut self, zone: Zone) -> &mut Vec<u8> {
        match zone {
            Zone::WalHeaders => &mut self.wal_headers,
            Zone::WalPrepares => &mut self.wal_prepares,
        }
    }

    pub fn zone(&self, zone: Zone) -> &[u8] {
        match zone {
            Zone::WalHeaders => &self.wal_headers,
            Zone::WalPrepares => &self.wal_prepares,
        }
    }

    /// Moves the journal's queued requests to the pending list and its events to `events`.
    pub fn pump(&mut self) {
        while let Some(request) = self.journal.poll_io() {
            let data = match request.kind {
                IoKind::Write => self.journal.io_write_buffer(request.id).to_vec(),
                IoKind::Read => Vec::new(),
            };
            assert_eq!(
                data.len() as u64,
                if request.kind == IoKind::Write {
                    request.len
                } else {
                    0
                }
            );
            self.pending.push(Pending { request, data });
        }
        while let Some(event) = self.journal.poll_event() {
            self.events.push(event);
        }
    }

    /// Completes pending I/O number `index`.
    pub fn complete(&mut self, index: usize) {
        let Pending { request, data } = self.pending.remove(index);
        match request.kind {
            IoKind::Write => {
                let offset = request.offset as usize;
                self.zone_mut(request.zone)[offset..offset + data.len()].copy_from_slice(&data);
                self.read_errors.retain(|&(zone, sector)| {
                    zone != request.zone
                        || sector < request.offset
                        || sector >= request.offset + request.len
                });
                self.writes_applied
                    .push((request.zone, request.offset, request.len));
                self.journal.complete_write(request.id);
            }
            IoKind::Read => {
                let failed = self.read_errors.iter().any(|&(zone, sector)| {
                    zone == request.zone
                        && sector >= request.offset
                        && sector < request.offset + request.len
                });
                if failed {
                    self.journal.complete_read(request.id, Err(ReadError));
                } else {
                    let bytes = self.zone(request.zone)[request.offset as usize..]
                        [..request.len as usize]
                        .to_vec();
                    self.journal.complete_read(request.id, Ok(&bytes));
                }
            }
        }
        self.pump();
    }

    /// Index of the first pending request matching `zone` and `kind`.
    pub fn find(&self, kind: IoKind, zone: Zone) -> Option<usize> {
        self.pending
            .iter()
            .position(|p| p.request.kind == kind && p.request.zone == zone)
    }

    /// Completes everything, in seeded random order, until the journal is quiet.
    pub fn run(&mut self) {
        self.pump();
        for _ in 0..100_000 {
            if self.pending.is_empty() {
                return;
            }
            let index = self.rng.gen_range(0..self.pending.len());
            self.complete(index);
        }
        panic!("journal did not quiesce");
    }

    /// Runs recovery on a fresh journal over the current disk bytes.
    pub fn recover(&mut self, context: RecoveryContext) {
        self.journal = Journal::new(self.config, CLUSTER, self.solo).expect("valid config");
        self.pending.clear();
        self.events.clear();
        self.journal.recover(context);
        self.run();
        assert!(
            self.events.contains(&Event::RecoveryDone),
            "recovery did not finish: {:?}",
            self.events
        );
        self.events.clear();
    }

    /// Crashes: each pending write is applied or dropped as `apply(i)` says; pending reads vanish.
    pub fn crash_with(&mut self, mut apply: impl FnMut(usize, &Pending) -> bool) {
        let pending = std::mem::take(&mut self.pending);
        for (i, p) in pending.iter().enumerate() {
            if p.request.kind == IoKind::Write && apply(i, p) {
                let offset = p.request.offset as usize;
                self.zone_mut(p.request.zone)[offset..offset + p.data.len()]
                    .copy_from_slice(&p.data);
            }
        }
    }

    /// Builds a prepare message for `op` in `view`, chained to `parent`.
    pub fn message(&self, op: u64, view: u32, parent: u32, body_size: usize) -> Vec<u8> {
        message(op, view, parent, body_size)
    }

    /// Puts the message's header in the journal and writes it.
    pub fn append(&mut self, message: &[u8]) -> journal::WriteStart {
        let header = Header::decode(message).unwrap();
        self.journal.set_header_as_dirty(&header);
        let start = self.journal.write_prepare(message);
        self.pump();
        start
    }

    /// Takes the events gathered so far.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// The journal checker: with no I/O in flight, every clean non-reserved slot's bytes on disk
    /// match the journal's memory.
    pub fn check_disk_matches_memory(&self) {
        assert!(self.journal.io_idle());
        for slot in 0..self.config.slot_count {
            if self.journal.dirty(slot) || self.journal.header(slot).is_reserved() {
                continue;
            }
            let header = *self.journal.header(slot);
            let redundant_offset = (slot * HEADER_SIZE) as usize;
            let redundant =
                Header::decode(&self.wal_headers[redundant_offset..][..HEADER_SIZE as usize]);
            assert_eq!(
                redundant,
                Ok(header),
                "slot {slot}: redundant header on disk"
            );
            let prepare = &self.wal_prepares[(slot * self.config.message_size_max) as usize..]
                [..self.config.message_size_max as usize];
            assert_eq!(
                Header::decode(prepare),
                Ok(header),
                "slot {slot}: prepare on disk"
            );
            let size = header.size as usize;
            assert!(header.valid_checksum_body(&prepare[HEADER_SIZE as usize..size]));
            let size_ceil = self.config.sector_ceil(size as u64) as usize;
            assert!(
                prepare[size..size_ceil].iter().all(|&b| b == 0),
                "slot {slot}: padding"
            );
        }
    }
}

/// A prepare message for `op` in `view`, chained to `parent`, with a deterministic body.
pub fn message(op: u64, view: u32, parent: u32, body_size: usize) -> Vec<u8> {
    let body: Vec<u8> = (0..body_size)
        .map(|i| (op as usize * 31 + i * 7 + view as usize) as u8)
        .collect();
    let mut header = Header::root(CLUSTER);
    header.op = op;
    header.view = view;
    header.parent = parent;
    header.operation = journal::header::OPERATION_APPLICATION_MIN;
    header.set_body(&body);
    header.set_checksum();
    let mut bytes = header.to_bytes().to_vec();
    bytes.extend_from_slice(&body);
    bytes
}

pub fn header_of(message: &[u8]) -> Header {
    Header::decode(message).unwrap()
}
