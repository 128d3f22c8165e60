//! No heap allocation per simulated I/O: once warm, the journal and the simulated disk append,
//! write, read and complete with the memory they allocated up front (TIGER_STYLE's "allocate at
//! startup"). A counting global allocator counts this thread's allocations around a stretch of
//! appends and reads that wraps the ring several times (`allocation-counter` counts them).

use fault_models::{Disk, DiskOptions, FaultConfig, IoKind as DiskIoKind};
use journal::{
    Config, Event, Header, IoId, IoKind, Journal, ReadError, ReadPurpose, RecoveryContext, Zone,
};
use simulator::replica::{zones, ZONE_HEADERS, ZONE_PREPARES};
const CLUSTER: u128 = 7;

/// A solo journal on a simulated disk with seeded latencies (so I/O completes out of order),
/// driven as the simulator drives it, with a fixed table instead of a map for ids in flight.
struct Rig {
    journal: Journal,
    disk: Disk,
    tick: u64,
    /// Disk ids in flight: index = disk id modulo the table size.
    in_flight: Vec<Option<IoId>>,
    id_next: u64,
    reads_done: u64,
    writes_done: u64,
}

impl Rig {
    fn new(config: Config) -> Rig {
        let faults = FaultConfig {
            read_latency_ticks_min: 1,
            read_latency_ticks_mean: 4,
            write_latency_ticks_min: 1,
            write_latency_ticks_mean: 6,
            ..FaultConfig::default()
        };
        let mut disk = Disk::new(DiskOptions {
            replica: 0,
            seed: 3,
            sector_size: config.sector_size,
            zones: zones(&config),
            faults,
            faulty_chunks: None,
        });
        for sector in 0..config.header_sector_count() {
            let bytes = journal::format::wal_headers_sector(&config, CLUSTER, sector);
            disk.poke(ZONE_HEADERS, sector * config.sector_size, &bytes);
        }
        for slot in 0..config.slot_count {
            let bytes = journal::format::wal_prepare(&config, CLUSTER, slot);
            disk.poke(ZONE_PREPARES, slot * config.message_size_max, &bytes);
        }
        let mut rig = Rig {
            journal: Journal::new(config, CLUSTER, true).expect("valid"),
            disk,
            tick: 0,
            in_flight: vec![None; 64],
            id_next: 0,
            reads_done: 0,
            writes_done: 0,
        };
        rig.journal.recover(RecoveryContext {
            op_checkpoint: 0,
            log_view: 0,
            view_headers: Vec::new(),
        });
        rig.run_until_idle();
        rig
    }

    /// Submits what the journal asks for, completes what the disk finishes, handles events.
    fn step(&mut self) {
        while let Some(request) = self.journal.poll_io() {
            let zone = match request.zone {
                Zone::WalHeaders => ZONE_HEADERS,
                Zone::WalPrepares => ZONE_PREPARES,
            };
            let id = self.id_next;
            self.id_next += 1;
            let entry = &mut self.in_flight[(id % 64) as usize];
            assert!(entry.is_none(), "more than 64 I/Os in flight");
            *entry = Some(request.id);
            match request.kind {
                IoKind::Write => {
                    let data = self.journal.io_write_buffer(request.id);
                    self.disk
                        .submit_write(self.tick, id, zone, request.offset, data);
                }
                IoKind::Read => {
                    self.disk
                        .submit_read(self.tick, id, zone, request.offset, request.len)
                }
            }
        }
        while let Some(completion) = self.disk.poll_completion(self.tick) {
            let id = self.in_flight[(completion.id % 64) as usize]
                .take()
                .expect("in flight");
            match completion.kind {
                DiskIoKind::Write => self.journal.complete_write(id),
                DiskIoKind::Read => {
                    let result = match completion.result {
                        Ok(()) => Ok(self.disk.completed_read_data()),
                        Err(_) => Err(ReadError),
                    };
                    self.journal.complete_read(id, result);
                }
            }
        }
        while let Some(event) = self.journal.poll_event() {
            match event {
                Event::ReadDone {
                    result: Ok(handle), ..
                } => {
                    self.reads_done += 1;
                    self.journal.read_release(handle);
                }
                Event::WriteDone { .. } => self.writes_done += 1,
                Event::ReadDone { .. } | Event::RecoveryDone => {}
                Event::Unrecoverable { slot, .. } => panic!("slot {slot} unrecoverable"),
            }
        }
        self.tick += 1;
    }

    fn run_until_idle(&mut self) {
        for _ in 0..10_000 {
            self.step();
            if self.journal.io_idle() && self.disk.pending_count() == 0 {
                return;
            }
        }
        panic!("I/O never went idle");
    }
}

/// Messages `1..=count`, hash-chained from the root, built before anything is counted.
fn messages(config: &Config, count: u64) -> Vec<Vec<u8>> {
    let mut parent = Header::root(CLUSTER).checksum;
    (1..=count)
        .map(|op| {
            let body: Vec<u8> = (0..(op * 97) % (config.message_size_max - 128))
                .map(|i| (op + i) as u8)
                .collect();
            let mut header = Header::root(CLUSTER);
            header.op = op;
            header.parent = parent;
            header.operation = journal::header::OPERATION_APPLICATION_MIN;
            header.set_body(&body);
            header.set_checksum();
            parent = header.checksum;
            let mut bytes = header.to_bytes().to_vec();
            bytes.extend_from_slice(&body);
            bytes
        })
        .collect()
}

/// Appends `messages` one at a time (each written, then read back), wrapping the ring.
fn append_and_read(rig: &mut Rig, messages: &[Vec<u8>]) {
    for message in messages {
        let header = Header::decode(message).expect("built above");
        rig.journal.set_header_as_dirty(&header);
        rig.journal.write_prepare(message);
        rig.run_until_idle();
        rig.journal
            .read_prepare(header.op, header.checksum, ReadPurpose::Repair)
            .expect("just written");
        rig.run_until_idle();
    }
}

#[test]
fn the_journal_and_the_disk_do_not_allocate_per_io() {
    // The scenario library's journal: 32 slots, 2 KiB prepares, 512-byte sectors.
    let config = simulator::scenario::STAGE_JOURNAL;
    let mut rig = Rig::new(config);
    let all = messages(&config, 6 * config.slot_count);
    let (warm, measured) = all.split_at(2 * config.slot_count as usize);
    // Warm-up: queues and pools reach their working size.
    append_and_read(&mut rig, warm);
    let (writes_before, reads_before) = (rig.writes_done, rig.reads_done);
    let allocated = allocation_counter::measure(|| append_and_read(&mut rig, measured)).count_total;
    // The stretch did real work: every append written, every one read back verified.
    assert_eq!(rig.writes_done - writes_before, measured.len() as u64);
    assert_eq!(rig.reads_done - reads_before, measured.len() as u64);
    assert!(rig.disk.fault_log().is_empty());
    assert_eq!(
        allocated,
        0,
        "{allocated} allocations over {} appends and reads",
        measured.len()
    );
}

/// The counter works: the test above could fail (a warm rig's own `Vec` is counted).
#[test]
fn the_counter_counts() {
    let mut rig = Rig::new(Config {
        sector_size: 512,
        slot_count: 16,
        message_size_max: 1024,
        pipeline_max: 2,
        iops_read_max: 3,
        iops_write_max: 1,
    });
    let allocated = allocation_counter::measure(|| {
        let mut ids = Vec::with_capacity(std::hint::black_box(8));
        ids.push(rig.journal.io_idle());
        rig.run_until_idle();
        std::hint::black_box(ids);
    })
    .count_total;
    assert_eq!(allocated, 1);
}
