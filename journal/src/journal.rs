//! The journal: in-memory state of both rings, the write path and the read path.
//!
//! Driver protocol, in order: construct with [`Journal::new`]; call [`Journal::recover`] once;
//! then loop: issue commands (`write_prepare`, `read_prepare`, …), drain [`Journal::poll_io`]
//! and carry each request out, report completions (`complete_read`, `complete_write`) in any
//! order, drain [`Journal::poll_event`]. The journal never blocks and never allocates per I/O:
//! every IOP and its buffer exists from construction.

use crate::canary::{self, Canary};
use crate::config::{Config, ConfigError};
use crate::header::{Header, HEADER_SIZE};
use crate::io::{
    Event, IoId, IoKind, IoRequest, ReadError, ReadHandle, ReadPurpose, ReadReject, SlotRecovery,
    WriteOutcome, Zone,
};
use crate::recovery::Recovery;
use bitvec::vec::BitVec;
use std::collections::VecDeque;

/// Where the journal is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Constructed; `recover` not yet called.
    Init,
    /// Recovery is reading or fixing the rings.
    Recovering,
    /// Ready for commands.
    Recovered,
}

/// What `write_prepare` did at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteStart {
    /// I/O started; a `WriteDone` event follows.
    Started,
    /// The slot is clean: the prepare is already durable. No I/O, no event.
    SkippedClean,
    /// Every write IOP is busy: try again after a `WriteDone`.
    WaitingForIop,
}

/// Whether a write for a header's slot is in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Writing {
    None,
    /// Another entry is being written to the same slot.
    Slot,
    /// This exact entry is being written.
    Exact,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WriteStage {
    Free,
    Prepare,
    Header,
    /// Recovery's write-back of one repaired header sector.
    Fix,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lock {
    Unlocked,
    /// Waiting for an overlapping write; FIFO by sequence number.
    Waiting(u64),
    Locked,
}

#[derive(Debug)]
pub(crate) struct Write {
    pub(crate) stage: WriteStage,
    generation: u32,
    pub(crate) header: Header,
    message: Vec<u8>,
    message_size: usize,
    sector: Vec<u8>,
    lock: Lock,
    zone: Zone,
    offset: u64,
    len: u64,
    pub(crate) fix_sector: u64,
    /// A read found this write's prepare corrupt after it landed, while its header sector was
    /// being written: the write itself went bad, and its completion must not clear the fault.
    prepare_found_corrupt: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReadStage {
    Free,
    /// A `read_prepare` in flight.
    Prepare,
    /// A verified message held by the driver until `read_release`.
    Held,
    /// Recovery reading one header sector.
    RecoveryHeaders,
    /// Recovery reading one prepare slot.
    RecoveryPrepare,
}

#[derive(Debug)]
pub(crate) struct Read {
    pub(crate) stage: ReadStage,
    generation: u32,
    op: u64,
    checksum: u32,
    purpose: ReadPurpose,
    pub(crate) buffer: Vec<u8>,
    pub(crate) len: usize,
    pub(crate) target: u64,
}

/// The write-ahead log of one replica.
#[derive(Debug)]
pub struct Journal {
    pub(crate) config: Config,
    pub(crate) cluster: u128,
    pub(crate) solo: bool,
    pub(crate) status: Status,
    /// The header the replica believes belongs in each slot (updated before writes). Set only
    /// through [`Journal::header_set`], which keeps `op_maximum` exact.
    pub(crate) headers: Vec<Header>,
    /// The highest op in `headers` (0 if none): asked at every write and by replicas at every
    /// turn, so kept up to date instead of found by a walk of the ring.
    op_maximum: u64,
    /// The header as it is, or is about to be, in `wal_headers` (updated after the prepare).
    pub(crate) headers_redundant: Vec<Header>,
    /// Each slot's reserved header (a function of the cluster and the slot, checksummed once):
    /// recovery puts one in every slot it cannot load.
    pub(crate) headers_reserved: Vec<Header>,
    /// The slot's disk state does not match `headers`.
    pub(crate) dirty: BitVec,
    /// The slot was written and then lost. Implies `dirty`.
    pub(crate) faulty: BitVec,
    /// The checksum of a valid prepare known to be on disk in the slot.
    pub(crate) prepare_checksums: Vec<Option<u32>>,
    pub(crate) reads: Vec<Read>,
    pub(crate) writes: Vec<Write>,
    reads_repair_count: u64,
    lock_sequence: u64,
    io_queue: VecDeque<IoRequest>,
    pub(crate) events: VecDeque<Event>,
    pub(crate) recovery: Option<Recovery>,
    pub(crate) slot_recoveries: Vec<Option<SlotRecovery>>,
    /// Per slot, how many times its state (header, redundant header, marks, prepare checksum)
    /// was set: see [`Journal::slot_touches`].
    slot_touches: Vec<u32>,
    /// Touches of all slots: see [`Journal::touches`].
    touches: u64,
    /// Slots set since `assert_invariants` last ran, as a bit per slot and a list (bounded by
    /// the slot count, allocated up front): it checks those, not the whole ring, after each
    /// operation.
    touched: BitVec,
    touched_slots: Vec<u32>,
    /// The slots of the writes in flight when `assert_invariants` last ran (a write's stage is
    /// part of its slot's invariant), and the status then (a change sweeps every slot).
    invariants_write_slots: Vec<u32>,
    invariants_status: Status,
    /// Calls so far that may have changed a slot's state: see [`Journal::mutations`].
    pub(crate) mutations: u64,
}

impl Journal {
    /// A journal for `cluster`, allocated in full. `solo` is a replica with no peers: it cannot
    /// repair `vsr` slots, and its recovery cuts every append a crash tore at its head (it may
    /// write up to `iops_write_max` prepares at once, as a cluster replica does).
    pub fn new(config: Config, cluster: u128, solo: bool) -> Result<Journal, ConfigError> {
        config.validate()?;
        let slot_count = config.slot_count as usize;
        let reserved: Vec<Header> = (0..config.slot_count)
            .map(|slot| Header::reserved(cluster, slot))
            .collect();
        let reads = (0..config.iops_read_max)
            .map(|_| Read {
                stage: ReadStage::Free,
                generation: 0,
                op: 0,
                checksum: 0,
                purpose: ReadPurpose::Commit,
                buffer: vec![0; config.message_size_max as usize],
                len: 0,
                target: 0,
            })
            .collect();
        let writes = (0..config.iops_write_max)
            .map(|_| Write {
                stage: WriteStage::Free,
                generation: 0,
                header: Header::default(),
                message: vec![0; config.message_size_max as usize],
                message_size: 0,
                sector: vec![0; config.sector_size as usize],
                lock: Lock::Unlocked,
                zone: Zone::WalPrepares,
                offset: 0,
                len: 0,
                fix_sector: 0,
                prepare_found_corrupt: false,
            })
            .collect();
        let iops_max = (config.iops_read_max + config.iops_write_max) as usize;
        Ok(Journal {
            config,
            cluster,
            solo,
            status: Status::Init,
            headers: reserved.clone(),
            op_maximum: 0,
            headers_redundant: reserved.clone(),
            headers_reserved: reserved,
            dirty: BitVec::repeat(true, slot_count),
            faulty: BitVec::repeat(true, slot_count),
            prepare_checksums: vec![None; slot_count],
            slot_touches: vec![0; slot_count],
            touches: 0,
            touched: BitVec::repeat(false, slot_count),
            touched_slots: Vec::with_capacity(slot_count),
            invariants_write_slots: Vec::with_capacity(config.iops_write_max as usize),
            invariants_status: Status::Init,
            mutations: 0,
            reads,
            writes,
            reads_repair_count: 0,
            lock_sequence: 0,
            io_queue: VecDeque::with_capacity(iops_max),
            // Recovery may report every slot unrecoverable, plus one event per IOP.
            events: VecDeque::with_capacity(slot_count + iops_max + 1),
            recovery: None,
            slot_recoveries: vec![None; slot_count],
        })
    }

    /// What a crash leaves of the journal: everything in memory forgotten, exactly as
    /// [`Journal::new`] makes it (status `Init`, every slot dirty and faulty, no I/O), but in
    /// the allocations it already holds: a replica that restarts again and again (the
    /// simulator's do, hundreds of times a run) allocates its journal once.
    pub fn restart(&mut self) {
        // Every field by name: a field added later must be reset here too, or this fails to
        // compile.
        let Journal {
            config: _,
            cluster: _,
            solo: _,
            status,
            headers,
            op_maximum,
            headers_redundant,
            headers_reserved,
            dirty,
            faulty,
            prepare_checksums,
            reads,
            writes,
            reads_repair_count,
            lock_sequence,
            io_queue,
            events,
            recovery,
            slot_recoveries,
            slot_touches,
            touches,
            touched,
            touched_slots,
            invariants_write_slots,
            invariants_status,
            mutations,
        } = self;
        *status = Status::Init;
        headers.copy_from_slice(headers_reserved);
        *op_maximum = 0;
        headers_redundant.copy_from_slice(headers_reserved);
        dirty.fill(true);
        faulty.fill(true);
        prepare_checksums.fill(None);
        for read in reads.iter_mut() {
            let Read {
                stage,
                generation,
                op,
                checksum,
                purpose,
                buffer,
                len,
                target,
            } = read;
            *stage = ReadStage::Free;
            *generation = 0;
            *op = 0;
            *checksum = 0;
            *purpose = ReadPurpose::Commit;
            buffer.fill(0);
            *len = 0;
            *target = 0;
        }
        for write in writes.iter_mut() {
            let Write {
                stage,
                generation,
                header,
                message,
                message_size,
                sector,
                lock,
                zone,
                offset,
                len,
                fix_sector,
                prepare_found_corrupt,
            } = write;
            *stage = WriteStage::Free;
            *generation = 0;
            *header = Header::default();
            message.fill(0);
            *message_size = 0;
            sector.fill(0);
            *lock = Lock::Unlocked;
            *zone = Zone::WalPrepares;
            *offset = 0;
            *len = 0;
            *fix_sector = 0;
            *prepare_found_corrupt = false;
        }
        *reads_repair_count = 0;
        *lock_sequence = 0;
        io_queue.clear();
        events.clear();
        *recovery = None;
        slot_recoveries.fill(None);
        slot_touches.fill(0);
        *touches = 0;
        touched.fill(false);
        touched_slots.clear();
        invariants_write_slots.clear();
        *invariants_status = Status::Init;
        *mutations = 0;
    }

    // ---------------------------------------------------------------- accessors

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn cluster(&self) -> u128 {
        self.cluster
    }

    pub fn status(&self) -> Status {
        self.status
    }

    pub fn slot_for_op(&self, op: u64) -> u64 {
        op % self.config.slot_count
    }

    /// The in-memory header of `slot`.
    #[inline]
    pub fn header(&self, slot: u64) -> &Header {
        &self.headers[slot as usize]
    }

    /// The redundant header of `slot` as the journal believes it is on disk.
    pub fn header_redundant(&self, slot: u64) -> &Header {
        &self.headers_redundant[slot as usize]
    }

    #[inline]
    pub fn dirty(&self, slot: u64) -> bool {
        assert!(slot < self.config.slot_count);
        bit(&self.dirty, slot)
    }

    #[inline]
    pub fn faulty(&self, slot: u64) -> bool {
        assert!(slot < self.config.slot_count);
        bit(&self.faulty, slot)
    }

    /// The dirty slots, in slot order (a walk over set bits: cheap when few are dirty).
    pub fn dirty_slots(&self) -> impl Iterator<Item = u64> + '_ {
        // Word by word, a set bit at a time (replicas ask at every turn; the generic bit walk
        // costs more than the few slots it finds). Bits past the ring are not slots.
        let slot_count = self.config.slot_count;
        let word_bits = usize::BITS as u64;
        self.dirty
            .as_raw_slice()
            .iter()
            .enumerate()
            .flat_map(move |(index, &word)| {
                let mut word = word;
                std::iter::from_fn(move || {
                    (word != 0).then(|| {
                        let bit = u64::from(word.trailing_zeros());
                        word &= word - 1;
                        index as u64 * word_bits + bit
                    })
                })
            })
            .take_while(move |&slot| slot < slot_count)
    }

    pub fn dirty_count(&self) -> usize {
        self.dirty.count_ones()
    }

    pub fn faulty_count(&self) -> usize {
        self.faulty.count_ones()
    }

    pub fn prepare_checksum(&self, slot: u64) -> Option<u32> {
        self.prepare_checksums[slot as usize]
    }

    /// What recovery decided for each slot (empty before recovery).
    pub fn slot_recoveries(&self) -> impl Iterator<Item = (u64, SlotRecovery)> + '_ {
        self.slot_recoveries
            .iter()
            .enumerate()
            .filter_map(|(slot, r)| r.map(|r| (slot as u64, r)))
    }

    /// No read or write is in flight or queued (held read results do not count).
    pub fn io_idle(&self) -> bool {
        self.writes.iter().all(|w| w.stage == WriteStage::Free)
            && self
                .reads
                .iter()
                .all(|r| matches!(r.stage, ReadStage::Free | ReadStage::Held))
    }

    /// How many calls so far could have changed a slot's state (its header, redundant header,
    /// dirty and faulty marks, or prepare checksum): every `&mut` call but `poll_io`,
    /// `poll_event` and `assert_invariants`. While it and the disk are unchanged, a checker that
    /// compares the slots with the disk may skip the comparison.
    pub fn mutations(&self) -> u64 {
        self.mutations
    }

    /// How many times slot `slot`'s state (header, redundant header, dirty and faulty marks,
    /// prepare checksum) was set since the journal was made (wrapping). A slot whose state
    /// differs from before has a different count; the invariant check relies on it.
    pub fn slot_touches(&self, slot: u64) -> u32 {
        self.slot_touches[slot as usize]
    }

    /// How many times any slot's state was set since the journal was made: the sum of
    /// [`Journal::slot_touches`] (which wrap at `u32`). While it is unchanged no slot changed,
    /// though calls ([`Journal::mutations`]) may have read, polled or queued I/O.
    pub fn touches(&self) -> u64 {
        self.touches
    }

    /// Notes that slot `slot`'s state is about to be set.
    pub(crate) fn touch(&mut self, slot: usize) {
        self.slot_touches[slot] = self.slot_touches[slot].wrapping_add(1);
        self.touches += 1;
        if !self.touched[slot] {
            self.touched.set(slot, true);
            self.touched_slots.push(slot as u32);
        }
    }

    /// Writes in flight.
    pub fn writes_in_flight(&self) -> usize {
        self.writes
            .iter()
            .filter(|w| w.stage != WriteStage::Free)
            .count()
    }

    // ---------------------------------------------------------------- the sans-IO loop

    /// The next I/O request, if any.
    pub fn poll_io(&mut self) -> Option<IoRequest> {
        self.io_queue.pop_front()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The bytes a write request carries; valid until its completion.
    pub fn io_write_buffer(&self, id: IoId) -> &[u8] {
        assert!(id.kind_write);
        let write = &self.writes[id.index as usize];
        assert_eq!(write.generation, id.generation, "stale write id");
        assert_eq!(write.lock, Lock::Locked);
        let len = write.len as usize;
        match write.stage {
            WriteStage::Prepare => &write.message[..len],
            WriteStage::Header | WriteStage::Fix => &write.sector[..len],
            WriteStage::Free => unreachable!("write buffer of a free IOP"),
        }
    }

    pub(crate) fn push_event(&mut self, event: Event) {
        assert!(
            self.events.len() < self.events.capacity(),
            "event queue bound exceeded"
        );
        self.events.push_back(event);
    }

    fn push_io(&mut self, request: IoRequest) {
        let iops_max = (self.config.iops_read_max + self.config.iops_write_max) as usize;
        assert!(self.io_queue.len() < iops_max, "I/O queue bound exceeded");
        self.io_queue.push_back(request);
    }

    /// Reports a finished write.
    pub fn complete_write(&mut self, id: IoId) {
        self.mutations += 1;
        assert!(id.kind_write);
        let index = id.index as usize;
        assert_eq!(
            self.writes[index].generation, id.generation,
            "stale write completion"
        );
        assert_eq!(
            self.writes[index].lock,
            Lock::Locked,
            "completion of a write not in flight"
        );
        self.writes[index].lock = Lock::Unlocked;
        // Waiters start before this write's continuation runs, in FIFO order, and copy their
        // header sector only now that they hold the lock.
        self.lock_waiters();
        match self.writes[index].stage {
            WriteStage::Prepare => self.write_prepare_on_prepare_written(index),
            WriteStage::Header => self.write_prepare_on_header_written(index),
            WriteStage::Fix => self.recover_fix_on_written(index),
            WriteStage::Free => unreachable!("write completion of a free IOP"),
        }
        self.assert_invariants();
    }

    /// Reports a finished read: the bytes read, or the disk's error.
    pub fn complete_read(&mut self, id: IoId, result: Result<&[u8], ReadError>) {
        let ok = match result {
            Ok(bytes) => {
                let buffer = self.io_read_buffer(id);
                assert_eq!(
                    bytes.len(),
                    buffer.len(),
                    "read completion of the wrong length"
                );
                buffer.copy_from_slice(bytes);
                true
            }
            Err(ReadError) => {
                assert!(!id.kind_write);
                false
            }
        };
        self.complete_read_done(id, ok);
    }

    /// The buffer a read request is to fill, exactly the request's length: a driver may read
    /// into it and then report [`Journal::complete_read_filled`], saving the copy that
    /// [`Journal::complete_read`] makes.
    pub fn io_read_buffer(&mut self, id: IoId) -> &mut [u8] {
        assert!(!id.kind_write);
        let read = &mut self.reads[id.index as usize];
        assert_eq!(read.generation, id.generation, "stale read id");
        assert!(
            !matches!(read.stage, ReadStage::Free | ReadStage::Held),
            "read buffer of an idle IOP"
        );
        &mut read.buffer[..read.len]
    }

    /// Reports a finished read whose bytes the driver put in [`Journal::io_read_buffer`].
    pub fn complete_read_filled(&mut self, id: IoId) {
        self.complete_read_done(id, true);
    }

    fn complete_read_done(&mut self, id: IoId, ok: bool) {
        self.mutations += 1;
        assert!(!id.kind_write);
        let index = id.index as usize;
        let read = &self.reads[index];
        assert_eq!(read.generation, id.generation, "stale read completion");
        match read.stage {
            ReadStage::Prepare => self.read_prepare_on_read(index, ok),
            ReadStage::RecoveryHeaders => self.recover_headers_on_read(index, ok),
            ReadStage::RecoveryPrepare => self.recover_prepare_on_read(index, ok),
            ReadStage::Free | ReadStage::Held => unreachable!("read completion of an idle IOP"),
        }
        self.assert_invariants();
    }

    // ---------------------------------------------------------------- IOP pools

    pub(crate) fn read_acquire(&mut self, stage: ReadStage) -> Option<usize> {
        let index = self.reads.iter().position(|r| r.stage == ReadStage::Free)?;
        let read = &mut self.reads[index];
        read.stage = stage;
        read.generation = read.generation.wrapping_add(1);
        Some(index)
    }

    pub(crate) fn read_release_index(&mut self, index: usize) {
        let read = &mut self.reads[index];
        assert_ne!(read.stage, ReadStage::Free);
        if matches!(read.stage, ReadStage::Prepare | ReadStage::Held)
            && read.purpose == ReadPurpose::Repair
        {
            assert!(self.reads_repair_count > 0);
            self.reads_repair_count -= 1;
        }
        read.stage = ReadStage::Free;
    }

    pub(crate) fn reads_in_flight(&self) -> usize {
        self.reads
            .iter()
            .filter(|r| r.stage != ReadStage::Free)
            .count()
    }

    /// Issues a read of `len` bytes at `offset` of `zone` into IOP `index`.
    pub(crate) fn read_issue(&mut self, index: usize, zone: Zone, offset: u64, len: u64) {
        assert_eq!(offset % self.config.sector_size, 0);
        assert_eq!(len % self.config.sector_size, 0);
        assert!(len as usize <= self.reads[index].buffer.len());
        let read = &mut self.reads[index];
        read.len = len as usize;
        let id = IoId {
            kind_write: false,
            index: index as u32,
            generation: read.generation,
        };
        self.push_io(IoRequest {
            id,
            kind: IoKind::Read,
            zone,
            offset,
            len,
        });
    }

    pub(crate) fn write_acquire(&mut self, stage: WriteStage) -> Option<usize> {
        let index = self
            .writes
            .iter()
            .position(|w| w.stage == WriteStage::Free)?;
        let write = &mut self.writes[index];
        assert_eq!(write.lock, Lock::Unlocked);
        write.stage = stage;
        write.generation = write.generation.wrapping_add(1);
        write.prepare_found_corrupt = false;
        Some(index)
    }

    fn write_release(&mut self, index: usize) {
        let write = &mut self.writes[index];
        assert_eq!(write.lock, Lock::Unlocked);
        write.stage = WriteStage::Free;
    }

    /// Locks the write's range and issues it, or queues it behind an overlapping write.
    pub(crate) fn write_sectors(&mut self, index: usize, zone: Zone, offset: u64, len: u64) {
        assert_eq!(offset % self.config.sector_size, 0);
        assert_eq!(len % self.config.sector_size, 0);
        assert!(len > 0);
        {
            let write = &mut self.writes[index];
            assert_eq!(write.lock, Lock::Unlocked);
            write.zone = zone;
            write.offset = offset;
            write.len = len;
        }
        self.lock_sequence += 1;
        self.writes[index].lock = Lock::Waiting(self.lock_sequence);
        self.lock_waiters();
    }

    fn ranges_overlap(a: &Write, b: &Write) -> bool {
        a.zone == b.zone && a.offset < b.offset + b.len && b.offset < a.offset + a.len
    }

    /// Starts every waiting write whose range overlaps neither a locked write nor an earlier
    /// waiter, oldest first.
    fn lock_waiters(&mut self) {
        let write_count = self.writes.len();
        // Bounded: each pass locks at least one write or stops.
        for _ in 0..=write_count {
            let mut candidate: Option<(u64, usize)> = None;
            for (index, write) in self.writes.iter().enumerate() {
                if let Lock::Waiting(sequence) = write.lock {
                    // Canary: header-sector writes skip the lock.
                    let unlocked = canary::active(Canary::HeaderSectorUnlocked)
                        && write.zone == Zone::WalHeaders;
                    let blocked = self.writes.iter().enumerate().any(|(other_index, other)| {
                        !unlocked
                            && other_index != index
                            && Self::ranges_overlap(write, other)
                            && match other.lock {
                                Lock::Locked => true,
                                Lock::Waiting(other_sequence) => other_sequence < sequence,
                                Lock::Unlocked => false,
                            }
                    });
                    if !blocked && candidate.is_none_or(|(best, _)| sequence < best) {
                        candidate = Some((sequence, index));
                    }
                }
            }
            let Some((_, index)) = candidate else { return };
            let write = &self.writes[index];
            // Only header sectors are ever shared: a slot has one write at a time.
            for other in self.writes.iter() {
                if other.lock == Lock::Locked
                    && Self::ranges_overlap(write, other)
                    && !canary::active(Canary::HeaderSectorUnlocked)
                {
                    unreachable!("locking an overlapping range");
                }
            }
            self.writes[index].lock = Lock::Locked;
            if matches!(
                self.writes[index].stage,
                WriteStage::Header | WriteStage::Fix
            ) {
                self.header_sector_copy(index);
            }
            let write = &self.writes[index];
            let id = IoId {
                kind_write: true,
                index: index as u32,
                generation: write.generation,
            };
            let request = IoRequest {
                id,
                kind: IoKind::Write,
                zone: write.zone,
                offset: write.offset,
                len: write.len,
            };
            self.push_io(request);
        }
        unreachable!("lock_waiters did not converge");
    }

    /// Copies `headers_redundant` for the write's header sector into the IOP's own buffer.
    fn header_sector_copy(&mut self, index: usize) {
        let write = &self.writes[index];
        assert_eq!(write.zone, Zone::WalHeaders);
        assert_eq!(write.len, self.config.sector_size);
        let headers_per_sector = self.config.headers_per_sector() as usize;
        let slot_first = (write.offset / HEADER_SIZE) as usize;
        assert_eq!(slot_first % headers_per_sector, 0);
        let mut sector = std::mem::take(&mut self.writes[index].sector);
        for (i, chunk) in sector.chunks_exact_mut(HEADER_SIZE as usize).enumerate() {
            let slot = slot_first + i;
            // Canary: the sector is filled from `headers`, which runs ahead of the prepares.
            let header = if canary::active(Canary::HeaderBeforePrepare) {
                &self.headers[slot]
            } else {
                &self.headers_redundant[slot]
            };
            // A faulty slot's redundant header is kept invalid so that the fault survives a crash
            // instead of reading back as a reserved or stale header.
            if !header.valid_checksum() {
                assert!(
                    self.faulty[slot] || self.dirty[slot] || self.headers[slot].is_reserved(),
                    "invalid redundant header for a slot that is not faulty"
                );
            }
            header.encode(chunk);
        }
        self.writes[index].sector = sector;
    }

    // ---------------------------------------------------------------- write path

    /// Which write, if any, is in flight for `header`'s slot.
    pub fn writing(&self, header: &Header) -> Writing {
        let slot = self.slot_for_op(header.op);
        let mut found = Writing::None;
        for write in self
            .writes
            .iter()
            .filter(|w| matches!(w.stage, WriteStage::Prepare | WriteStage::Header))
        {
            if self.slot_for_op(write.header.op) == slot {
                assert_eq!(found, Writing::None, "two writes to one slot");
                found = if write.header.checksum == header.checksum {
                    Writing::Exact
                } else {
                    Writing::Slot
                };
            }
        }
        found
    }

    /// Writes a prepare (header + body) whose header is already in `headers` and dirty: the
    /// prepare's sectors first, then the redundant-header sector that holds its slot.
    pub fn write_prepare(&mut self, message: &[u8]) -> WriteStart {
        self.mutations += 1;
        assert_eq!(self.status, Status::Recovered);
        let header =
            Header::decode(message).expect("write_prepare of a message with an invalid header");
        assert!(!header.is_reserved());
        assert_eq!(u64::from(header.size), message.len() as u64);
        assert!(u64::from(header.size) <= self.config.message_size_max);
        assert!(header.valid_checksum_body(&message[HEADER_SIZE as usize..]));
        assert!(
            self.has_header(&header),
            "write_prepare of an entry not in headers"
        );
        assert_eq!(
            self.writing(&header),
            Writing::None,
            "write_prepare of a slot already being written"
        );
        let slot = self.slot_for_op(header.op) as usize;
        if !self.dirty[slot] {
            // Skipping (clean): the prepare and its redundant header are durable already.
            assert!(!self.faulty[slot]);
            assert_eq!(self.prepare_checksums[slot], Some(header.checksum));
            assert_eq!(self.headers_redundant[slot], header);
            return WriteStart::SkippedClean;
        }
        let Some(index) = self.write_acquire(WriteStage::Prepare) else {
            return WriteStart::WaitingForIop;
        };
        let size_ceil = self.config.sector_ceil(u64::from(header.size)) as usize;
        {
            let write = &mut self.writes[index];
            write.header = header;
            write.message_size = message.len();
            write.message[..message.len()].copy_from_slice(message);
            if !canary::active(Canary::PaddingNotZeroed) {
                write.message[message.len()..size_ceil].fill(0);
            }
        }
        // The prepare on disk is about to be overwritten: it no longer backs any entry.
        self.touch(slot);
        self.prepare_checksums[slot] = None;
        let offset = slot as u64 * self.config.message_size_max;
        self.write_sectors(index, Zone::WalPrepares, offset, size_ceil as u64);
        self.assert_invariants();
        WriteStart::Started
    }

    fn write_prepare_on_prepare_written(&mut self, index: usize) {
        let header = self.writes[index].header;
        let slot = self.slot_for_op(header.op) as usize;
        assert!(self.writes[index].message_size >= HEADER_SIZE as usize);
        // Whatever happened meanwhile, this prepare is now what the slot's prepare zone holds.
        self.touch(slot);
        self.prepare_checksums[slot] = Some(header.checksum);
        if !self.has_header(&header) {
            // Race: entry changed while writing sectors. The slot was possibly clean (removed);
            // its prepare zone now holds this stale prepare, so it is dirty again.
            self.touch(slot);
            self.dirty.set(slot, true);
            let redundant = self.headers_redundant[slot];
            if redundant.valid_checksum()
                && !redundant.is_reserved()
                && redundant.checksum != header.checksum
            {
                // The older entry's header, kept while this prepare was in flight, names a
                // prepare the slot no longer holds. A reserved header beside this prepare reads
                // as `@G` after a crash, and this prepare is one the journal vouches for
                // (`prepare_checksums`): what recovery loads is what the journal would serve.
                self.headers_redundant[slot] = self.headers_reserved[slot];
            }
            self.write_prepare_finish(index, WriteOutcome::EntryChangedWhileWritingSectors);
            return;
        }
        // The prepare is durable: only now may its header go to `wal_headers`.
        self.touch(slot);
        self.headers_redundant[slot] = header;
        let sector_index = slot as u64 / self.config.headers_per_sector();
        self.writes[index].stage = WriteStage::Header;
        self.write_sectors(
            index,
            Zone::WalHeaders,
            sector_index * self.config.sector_size,
            self.config.sector_size,
        );
    }

    fn write_prepare_on_header_written(&mut self, index: usize) {
        let header = self.writes[index].header;
        let slot = self.slot_for_op(header.op) as usize;
        let entry_changed = if canary::active(Canary::WriteDoneMatchesOp) {
            // Canary: the slot's entry is compared by op only.
            self.headers[slot].is_reserved() || self.headers[slot].op != header.op
        } else {
            !self.has_header(&header)
        };
        let outcome = if entry_changed {
            if canary::active(Canary::DirtyClearedOnChangedEntry) {
                // Canary: the slot is taken for written whatever entry it holds now.
                self.touch(slot);
                self.dirty.set(slot, false);
                self.faulty.set(slot, false);
            }
            WriteOutcome::EntryChangedWhileWritingHeaders
        } else if self.headers_redundant[slot].checksum != header.checksum
            && !canary::active(Canary::WriteDoneMatchesOp)
        {
            // write → header write → remove_entries_from → set_header_as_dirty → completion: the
            // sector may have carried the reserved header that removal left in redundant.
            assert!(self.dirty[slot]);
            WriteOutcome::EntryRemovedThenAddedWhileWritingHeaders
        } else if self.prepare_checksums[slot] != Some(header.checksum)
            && !canary::active(Canary::WriteDoneMatchesOp)
        {
            WriteOutcome::EntryChangedTwiceWhileWritingHeaders
        } else if self.writes[index].prepare_found_corrupt {
            // A read of this very prepare failed its checks after the prepare landed: the write
            // itself went bad. Clearing the fault now would forget damage the journal has seen.
            assert!(self.dirty[slot] && self.faulty[slot]);
            WriteOutcome::PrepareFoundCorruptWhileWritingHeaders
        } else {
            self.touch(slot);
            self.dirty.set(slot, false);
            self.faulty.set(slot, false);
            WriteOutcome::Written
        };
        self.write_prepare_finish(index, outcome);
    }

    fn write_prepare_finish(&mut self, index: usize, outcome: WriteOutcome) {
        let header = self.writes[index].header;
        self.write_release(index);
        self.push_event(Event::WriteDone {
            op: header.op,
            checksum: header.checksum,
            outcome,
        });
    }

    // ---------------------------------------------------------------- read path

    /// The slot holding exactly `(op, checksum)`, if any.
    pub fn slot_with_op_and_checksum(&self, op: u64, checksum: u32) -> Option<u64> {
        let slot = self.slot_for_op(op);
        let header = &self.headers[slot as usize];
        (!header.is_reserved() && header.op == op && header.checksum == checksum).then_some(slot)
    }

    /// Reads the prepare `(op, checksum)` and verifies it. `Err` means nothing will come (no
    /// event); `Ok` means a `ReadDone` event follows.
    pub fn read_prepare(
        &mut self,
        op: u64,
        checksum: u32,
        purpose: ReadPurpose,
    ) -> Result<(), ReadReject> {
        self.mutations += 1;
        assert_eq!(self.status, Status::Recovered);
        if op > self.op_maximum() {
            return Err(ReadReject::BeyondHead);
        }
        let slot = self
            .slot_with_op_and_checksum(op, checksum)
            .ok_or(ReadReject::NoEntry)? as usize;
        if self.prepare_checksums[slot] != Some(checksum) {
            return Err(ReadReject::NoPrepare);
        }
        let repair_max = self.config.iops_read_max - 2;
        if purpose == ReadPurpose::Repair && self.reads_repair_count >= repair_max {
            return Err(ReadReject::WaitingForIop);
        }
        let size = u64::from(self.headers[slot].size);
        let Some(index) = self.read_acquire(ReadStage::Prepare) else {
            return Err(ReadReject::WaitingForIop);
        };
        if purpose == ReadPurpose::Repair {
            self.reads_repair_count += 1;
        }
        assert!(self.reads_repair_count <= repair_max);
        let read = &mut self.reads[index];
        read.op = op;
        read.checksum = checksum;
        read.purpose = purpose;
        if size == HEADER_SIZE {
            // A header-only message is served from memory.
            let header = self.headers[slot];
            let read = &mut self.reads[index];
            header.encode(&mut read.buffer[..HEADER_SIZE as usize]);
            read.len = HEADER_SIZE as usize;
            read.stage = ReadStage::Held;
            let handle = ReadHandle {
                index: index as u32,
                generation: read.generation,
            };
            self.push_event(Event::ReadDone {
                op,
                checksum,
                result: Ok(handle),
            });
            return Ok(());
        }
        let len = self.config.sector_ceil(size);
        self.read_issue(
            index,
            Zone::WalPrepares,
            slot as u64 * self.config.message_size_max,
            len,
        );
        Ok(())
    }

    fn read_prepare_on_read(&mut self, index: usize, ok: bool) {
        let (op, checksum) = (self.reads[index].op, self.reads[index].checksum);
        let slot = self.slot_for_op(op) as usize;
        let reason = self.read_prepare_verify(index, ok);
        match reason {
            None => {
                self.reads[index].stage = ReadStage::Held;
                let handle = ReadHandle {
                    index: index as u32,
                    generation: self.reads[index].generation,
                };
                self.push_event(Event::ReadDone {
                    op,
                    checksum,
                    result: Ok(handle),
                });
            }
            Some(reason) => {
                if reason.is_corruption() && self.slot_with_op_and_checksum(op, checksum).is_some()
                {
                    self.touch(slot);
                    self.faulty.set(slot, true);
                    self.dirty.set(slot, true);
                    // This prepare's own write may still be writing its header sector.
                    for write in self.writes.iter_mut() {
                        if write.stage == WriteStage::Header
                            && write.header.op == op
                            && write.header.checksum == checksum
                        {
                            write.prepare_found_corrupt = true;
                        }
                    }
                }
                self.read_release_index(index);
                self.push_event(Event::ReadDone {
                    op,
                    checksum,
                    result: Err(reason),
                });
            }
        }
    }

    /// The first reason, in the documented order, to reject what the read returned.
    fn read_prepare_verify(&self, index: usize, ok: bool) -> Option<ReadReject> {
        let read = &self.reads[index];
        let slot = self.slot_for_op(read.op) as usize;
        if read.op > self.op_maximum() {
            return Some(ReadReject::BeyondHead);
        }
        if self.prepare_checksums[slot] != Some(read.checksum) {
            return Some(ReadReject::PrepareChangedDuringRead);
        }
        if !ok {
            return Some(ReadReject::ReadFailed);
        }
        let bytes = &read.buffer[..read.len];
        let Ok(header) = Header::decode(bytes) else {
            return Some(ReadReject::CorruptHeader);
        };
        if header.cluster != self.cluster {
            return Some(ReadReject::WrongCluster);
        }
        if header.op != read.op {
            return Some(ReadReject::OpChangedDuringRead);
        }
        if header.checksum != read.checksum && !canary::active(Canary::ReadSkipsChecksumMatch) {
            return Some(ReadReject::ChecksumChangedDuringRead);
        }
        let size = header.size as usize;
        if size < HEADER_SIZE as usize
            || size > bytes.len()
            || (!header.valid_checksum_body(&bytes[HEADER_SIZE as usize..size])
                && !canary::active(Canary::ReadSkipsBodyChecksum))
        {
            return Some(ReadReject::CorruptBody);
        }
        let size_ceil = self.config.sector_ceil(size as u64) as usize;
        if size_ceil > bytes.len()
            || (!crate::bytes::all_zero(&bytes[size..size_ceil])
                && !canary::active(Canary::ReadSkipsPaddingCheck))
        {
            return Some(ReadReject::NonZeroPadding);
        }
        None
    }

    /// The verified message of a finished read.
    pub fn read_message(&self, handle: ReadHandle) -> &[u8] {
        let read = &self.reads[handle.index as usize];
        assert_eq!(read.generation, handle.generation, "stale read handle");
        assert_eq!(read.stage, ReadStage::Held);
        let size = Header::decode(&read.buffer)
            .map(|h| h.size as usize)
            .expect("held read was verified");
        &read.buffer[..size]
    }

    /// Returns a finished read's IOP to the pool.
    pub fn read_release(&mut self, handle: ReadHandle) {
        self.mutations += 1;
        let index = handle.index as usize;
        assert_eq!(
            self.reads[index].generation, handle.generation,
            "stale read handle"
        );
        assert_eq!(self.reads[index].stage, ReadStage::Held);
        self.read_release_index(index);
    }

    // ---------------------------------------------------------------- other operations

    /// Whether `headers` holds exactly this entry.
    pub fn has_header(&self, header: &Header) -> bool {
        self.slot_with_op_and_checksum(header.op, header.checksum)
            .is_some()
    }

    /// Whether this exact entry's prepare is known to be durable in its slot.
    pub fn has_prepare(&self, header: &Header) -> bool {
        self.slot_with_op_and_checksum(header.op, header.checksum)
            .is_some_and(|slot| self.prepare_checksums[slot as usize] == Some(header.checksum))
    }

    /// Whether this exact entry is present and dirty.
    pub fn has_dirty(&self, header: &Header) -> bool {
        self.slot_with_op_and_checksum(header.op, header.checksum)
            .is_some_and(|slot| self.dirty[slot as usize])
    }

    /// The highest op in `headers` (0 if none).
    pub fn op_maximum(&self) -> u64 {
        self.op_maximum
    }

    /// The highest op in `headers`, found by a walk of the ring.
    fn op_maximum_walk(&self) -> u64 {
        self.headers
            .iter()
            .filter(|h| !h.is_reserved())
            .map(|h| h.op)
            .max()
            .unwrap_or(0)
    }

    /// Puts `header` in `slot`'s in-memory header (the caller has touched the slot). Raising
    /// the maximum is free; only taking away the entry that held it walks the ring (a
    /// truncation, or a recovery replacing a slot: rare).
    pub(crate) fn header_set(&mut self, slot: usize, header: Header) {
        let before = std::mem::replace(&mut self.headers[slot], header);
        if !header.is_reserved() && header.op >= self.op_maximum {
            self.op_maximum = header.op;
        } else if !before.is_reserved() && before.op == self.op_maximum {
            self.op_maximum = self.op_maximum_walk();
        }
    }

    /// The header of `op`, if `headers` holds it.
    pub fn header_with_op(&self, op: u64) -> Option<&Header> {
        let header = &self.headers[self.slot_for_op(op) as usize];
        (!header.is_reserved() && header.op == op).then_some(header)
    }

    /// Puts a header learned from a peer into its slot and marks it dirty (to be written or
    /// repaired). The same entry again keeps its faulty bit: its prepare is still lost.
    pub fn set_header_as_dirty(&mut self, header: &Header) {
        self.mutations += 1;
        assert_eq!(self.status, Status::Recovered);
        assert!(header.is_ok_for_slot(
            self.cluster,
            self.slot_for_op(header.op),
            self.config.slot_count
        ));
        assert!(!header.is_reserved());
        let slot = self.slot_for_op(header.op) as usize;
        if canary::active(Canary::ReadoptInFlightTakenForClean)
            && !self.has_header(header)
            && self.writing(header) == Writing::Exact
        {
            // Canary: the write in flight will land this entry, so the slot is taken for clean.
            self.touch(slot);
            self.header_set(slot, *header);
            self.dirty.set(slot, false);
            self.faulty.set(slot, false);
            self.assert_invariants();
            return;
        }
        if canary::active(Canary::ReaddTrustsPrepareChecksum)
            && self.headers[slot].is_reserved()
            && !self.faulty[slot]
            && self.prepare_checksums[slot] == Some(header.checksum)
        {
            // Canary: the prepare on disk is this entry's, so the slot is taken for written.
            self.touch(slot);
            self.header_set(slot, *header);
            self.headers_redundant[slot] = *header;
            self.dirty.set(slot, false);
            self.assert_invariants();
            return;
        }
        if self.has_header(header) {
            self.touch(slot);
            self.dirty.set(slot, true);
        } else {
            // Overwriting a newer op with an older one could uncommit it.
            assert!(self.headers[slot].is_reserved() || self.headers[slot].op <= header.op);
            if canary::active(Canary::SetHeaderClearsFault) && self.headers[slot].is_reserved() {
                // Canary: a reserved faulty slot forgets its fault and its invalid header.
                self.touch(slot);
                self.faulty.set(slot, false);
                self.headers_redundant[slot] = self.headers_reserved[slot];
            } else if !self.headers[slot].is_reserved() {
                // The slot certainly never held this entry: drop its fault. Its redundant header
                // stays what the disk holds (or is about to hold) until the new prepare is
                // durable: a header sector written meanwhile for a neighbour repeats it. Writing
                // the reserved header there instead would let a crash leave it beside whatever
                // prepare the slot still holds, which recovery reads as `@G` and loads clean, even
                // a prepare this journal found damaged or stale (the fault just dropped), and
                // even below the checkpoint, where no checker of the acknowledged ops looks.
                // Kept, the pair reads as it did before the new entry (`@O`/`@C` stay `vsr`), or
                // as `@M` once the new prepare has landed.
                self.touch(slot);
                self.faulty.set(slot, false);
            }
            // A reserved slot may be a `vsr` slot whose lost prepare was this entry: it stays faulty.
            self.touch(slot);
            self.header_set(slot, *header);
            self.dirty.set(slot, true);
        }
        self.assert_invariants();
    }

    /// Truncates every entry with op ≥ `op_min` (after a view change). The prepares stay on disk
    /// and `prepare_checksums` keeps them: a write in flight for a removed entry that comes back
    /// must not mark the slot clean against a prepare it cannot vouch for.
    pub fn remove_entries_from(&mut self, op_min: u64) {
        self.mutations += 1;
        assert_eq!(self.status, Status::Recovered);
        assert!(op_min > 0, "the root is never removed");
        for slot in 0..self.config.slot_count as usize {
            let header = self.headers[slot];
            // A faulty reserved slot (`vsr` after recovery) might have held a removed op: it is
            // left as it is, and keeps its fault until a peer names its entry again.
            if header.op >= op_min && !header.is_reserved() {
                self.remove_entry(slot);
            } else if canary::active(Canary::RemoveClearsReservedFault)
                && header.is_reserved()
                && self.faulty[slot]
            {
                // Canary: a faulty reserved slot is "removed" too, and forgets its fault.
                self.touch(slot);
                self.faulty.set(slot, false);
                self.dirty.set(slot, false);
                self.headers_redundant[slot] = self.headers_reserved[slot];
            }
        }
        self.assert_invariants();
    }

    pub(crate) fn remove_entry(&mut self, slot: usize) {
        let reserved = self.headers_reserved[slot];
        self.touch(slot);
        self.header_set(slot, reserved);
        // The redundant header stays what the disk holds, as in `set_header_as_dirty`: the
        // prepare stays on disk too, and a reserved header written beside it (with a neighbour's
        // header sector) reads as `@G` after a crash, loading whatever prepare the slot holds,
        // a stale one under an undetected misdirected write among them (seed 12599: op 74 of
        // view 50 loaded clean below the checkpoint where view 52's was committed). Kept, the
        // pair reads as before the removal; a header written invalid on purpose (a fault an
        // earlier recovery recorded, seed 10514) still reads `vsr`.
        self.dirty.set(slot, false);
        self.faulty.set(slot, false);
        if canary::active(Canary::RemoveDropsPrepareChecksums) {
            self.touch(slot);
            self.prepare_checksums[slot] = None;
        }
    }

    /// Copies the headers of `op_min..=op_max` that `headers` holds into `target`, newest first.
    /// Returns how many were copied.
    pub fn copy_latest_headers_between(
        &self,
        op_min: u64,
        op_max: u64,
        target: &mut [Header],
    ) -> usize {
        assert!(op_min <= op_max);
        assert!(!target.is_empty());
        let mut copied = 0;
        for op in (op_min..=op_max).rev() {
            if let Some(header) = self.header_with_op(op) {
                target[copied] = *header;
                copied += 1;
                if copied == target.len() {
                    break;
                }
            }
        }
        copied
    }

    /// The newest range of ops in `op_min..op_max` whose headers are missing or do not hash-chain
    /// to the op after them (the headers to request from a peer), if any. `op_max` must be held.
    pub fn find_latest_headers_break_between(
        &self,
        op_min: u64,
        op_max: u64,
    ) -> Option<(u64, u64)> {
        assert!(op_min <= op_max);
        assert!(op_max - op_min < self.config.slot_count);
        let mut newer = Some(self.header_with_op(op_max).expect("op_max is held"));
        let mut range: Option<(u64, u64)> = None;
        for op in (op_min..op_max).rev() {
            let older = self.header_with_op(op);
            let broken = match (older, newer) {
                (None, _) => true,
                (Some(older), Some(newer)) => older.checksum != newer.parent,
                // The newer op is missing: nothing to chain against.
                (Some(_), None) => false,
            };
            match (broken, range.as_mut()) {
                (true, None) => range = Some((op, op)),
                (true, Some(range)) => range.0 = op,
                (false, Some(_)) => break,
                (false, None) => {}
            }
            newer = older;
        }
        range
    }

    // ---------------------------------------------------------------- invariants

    /// Invariants that hold between any two calls, for the slots that could have changed since
    /// the last check (set since, or written then or now; a status change checks every slot), so
    /// that the check costs what the operation touched, not the ring. Cheap enough for simulation
    /// builds; skipped when debug assertions are off.
    pub fn assert_invariants(&mut self) {
        if !cfg!(debug_assertions) {
            return;
        }
        let reads_in_flight = self.reads_in_flight();
        assert!(reads_in_flight as u64 <= self.config.iops_read_max);
        assert!(self.writes_in_flight() as u64 <= self.config.iops_write_max);
        assert!(self.reads_repair_count <= self.config.iops_read_max - 2);
        assert!(
            self.io_queue.len() as u64 <= self.config.iops_read_max + self.config.iops_write_max
        );
        assert!(self.touched_slots.len() <= self.config.slot_count as usize);
        // The slots whose invariants may have changed since the last check: those set since,
        // and those of the writes in flight then and now. A status change sweeps them all.
        // The kept maximum: never below a header set since (the others were checked before), and
        // held by the slot it maps to; a status change compares it with a walk of the ring.
        if self.op_maximum > 0 {
            let header = &self.headers[self.slot_for_op(self.op_maximum) as usize];
            assert!(!header.is_reserved() && header.op == self.op_maximum);
        }
        for index in 0..self.touched_slots.len() {
            let header = &self.headers[self.touched_slots[index] as usize];
            assert!(header.is_reserved() || header.op <= self.op_maximum);
        }
        if self.status != self.invariants_status {
            self.invariants_status = self.status;
            assert_eq!(self.op_maximum, self.op_maximum_walk());
            for slot in 0..self.config.slot_count as usize {
                self.assert_invariants_slot(slot);
            }
        } else {
            for index in 0..self.touched_slots.len() {
                self.assert_invariants_slot(self.touched_slots[index] as usize);
            }
            for index in 0..self.invariants_write_slots.len() {
                self.assert_invariants_slot(self.invariants_write_slots[index] as usize);
            }
        }
        for index in 0..self.touched_slots.len() {
            self.touched.set(self.touched_slots[index] as usize, false);
        }
        self.touched_slots.clear();
        assert!(self.touched.not_any());
        self.invariants_write_slots.clear();
        for index in 0..self.writes.len() {
            if self.writes[index].stage != WriteStage::Free {
                let slot = self.slot_for_op(self.writes[index].header.op) as u32;
                self.invariants_write_slots.push(slot);
                self.assert_invariants_slot(slot as usize);
            }
        }
    }

    /// Every slot's invariants, whatever changed (after recovery, in tests).
    pub fn assert_invariants_all(&mut self) {
        assert_eq!(self.op_maximum, self.op_maximum_walk());
        for slot in 0..self.config.slot_count as usize {
            assert_eq!(
                self.headers_reserved[slot],
                Header::reserved(self.cluster, slot as u64)
            );
            self.assert_invariants_slot(slot);
        }
    }

    fn assert_invariants_slot(&self, slot: usize) {
        // Faulty implies dirty.
        if self.faulty[slot] {
            assert!(self.dirty[slot], "slot {slot} faulty but not dirty");
        }
        if self.status != Status::Recovered {
            return;
        }
        let redundant = &self.headers_redundant[slot];
        let redundant_valid = redundant.valid_checksum();
        if !redundant_valid {
            // A fault recovery recorded, kept on disk until the slot is rewritten: a new entry
            // may have dropped the fault meanwhile (`set_header_as_dirty`; the slot stays dirty)
            // or a truncation the entry (`remove_entry`; the slot reads reserved). Never a clean
            // slot with an entry.
            assert!(
                self.faulty[slot] || self.dirty[slot] || self.headers[slot].is_reserved(),
                "slot {slot}: invalid redundant header but not faulty"
            );
        }
        // A redundant header is never newer than its durable prepare: it names the prepare on
        // disk, unless a write of the slot has started over that prepare.
        if redundant_valid && !redundant.is_reserved() {
            // (The write scan only where the prepare does not match: it rarely runs.)
            let rewriting = || {
                self.writes.iter().any(|w| {
                    w.stage == WriteStage::Prepare && self.slot_for_op(w.header.op) == slot as u64
                })
            };
            assert!(
                self.prepare_checksums[slot] == Some(redundant.checksum) || rewriting(),
                "slot {slot}: redundant header op {} ahead of its prepare",
                redundant.op
            );
        }
        if !self.dirty[slot] && !self.headers[slot].is_reserved() {
            assert_eq!(
                &self.headers[slot], redundant,
                "slot {slot}: clean but header differs"
            );
            assert_eq!(
                self.prepare_checksums[slot],
                Some(self.headers[slot].checksum)
            );
        }
    }
}

/// A bit of a slot bitmap, read from its word: replicas and checkers ask per slot of the ring at
/// every turn, and the generic bit index (like `BitVec::len`, which decodes the bit pointer)
/// costs more than the word test. The caller bounds `slot` by the ring; the word index is
/// bounds-checked.
#[inline]
fn bit(bits: &BitVec, slot: u64) -> bool {
    let word_bits = u64::from(usize::BITS);
    (bits.as_raw_slice()[(slot / word_bits) as usize] >> (slot % word_bits)) & 1 == 1
}

#[cfg(test)]
mod tests {
    use super::bit;
    use bitvec::vec::BitVec;

    #[test]
    fn bit_reads_what_the_bitvec_index_reads() {
        // Rings of one word, a word and a bit, and several words; each pattern sets a
        // different mix of bits, so that a word or bit order mistake shows.
        for len in [1usize, 16, 63, 64, 65, 130] {
            for pattern in [
                0u64,
                1,
                0x5555_5555_5555_5555,
                0x8000_0000_0000_0001,
                u64::MAX,
            ] {
                let mut bits: BitVec = BitVec::repeat(false, len);
                for index in 0..len {
                    let set = (pattern.rotate_left(index as u32 * 7) & 1) == 1;
                    bits.set(index, set);
                }
                for index in 0..len {
                    assert_eq!(
                        bit(&bits, index as u64),
                        bits[index],
                        "len {len} bit {index}"
                    );
                }
            }
        }
    }
}
