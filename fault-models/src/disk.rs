//! The simulated disk: sector-addressed memory divided into zones, asynchronous I/O with seeded
//! latency, and the fault models of [`crate::FaultConfig`], each injected from one seeded PRNG and
//! recorded in a [`crate::FaultLog`].
//!
//! State, per disk:
//!
//! - `memory`: the bytes stored now, write-time faults included (a flipped bit, a misdirected
//!   write's bytes, a torn write's half sector). [`Disk::peek`] shows it. It starts out filled with
//!   PRNG bytes, so a never-written sector reads back as garbage, never as zeros.
//! - three bitmaps with one bit per sector: `sectors_faulty` (the stored bytes are the product of a
//!   fault), `sectors_latent` (every read touching the sector fails) and `sectors_read_flipped`
//!   (every read of the sector returns it with one bit flipped, at a position derived from the
//!   sector's index and content, so retries see the same flip). A write that lands on a sector
//!   clears all three.
//! - `slots_stamp`: per zone slot, when the bytes or fault bits of any of its sectors last
//!   changed, from one counter, so that a checker can skip a slot nothing touched since it last
//!   looked ([`Disk::slot_stamp`]).
//! - the pending I/O, each with a ready tick and a tie-breaking draw made at submission.

use std::fmt;

use bitvec::vec::BitVec;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::fault_log::{FaultLog, FaultRecord};
use crate::faults::{FaultConfig, FaultKind};

/// Index of a zone in [`DiskOptions::zones`].
pub type ZoneId = usize;

/// One zone of the disk. Zones are laid out back to back in the order given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneSpec {
    /// A name for traces (e.g. `wal_headers`).
    pub name: String,
    /// Bytes in the zone: a multiple of `sector_size`, `slot_size` and `chunk_size`.
    pub size: u64,
    /// Misdirection granularity: a misdirected write or read of `offset` uses
    /// `other_slot * slot_size + offset % slot_size` of the same zone instead. A multiple of
    /// `sector_size`.
    pub slot_size: u64,
    /// Atlas granularity: bytes `[i * chunk_size, (i + 1) * chunk_size)` of this zone belong to
    /// chunk `i`, the same chunk `i` as in every other zone. A multiple of `sector_size`.
    pub chunk_size: u64,
}

impl ZoneSpec {
    /// The number of slots in the zone.
    pub fn slot_count(&self) -> u64 {
        self.size / self.slot_size
    }

    /// The number of chunks in the zone.
    pub fn chunk_count(&self) -> u64 {
        self.size / self.chunk_size
    }
}

/// Everything a [`Disk`] is built from.
#[derive(Clone, Debug)]
pub struct DiskOptions {
    /// The replica that owns the disk (recorded in every fault record).
    pub replica: u8,
    /// Seeds the disk's one PRNG: initial contents, latencies, tie order, every fault.
    pub seed: u64,
    /// The unit of I/O alignment, of bit flips, latent errors and tears.
    pub sector_size: u64,
    /// The zones, laid out back to back.
    pub zones: Vec<ZoneSpec>,
    /// Fault probabilities and latencies.
    pub faults: FaultConfig,
    /// `None`: every chunk may be faulted. `Some(bits)`: only chunk `i` with bit `i` set may be
    /// faulted; it must have a bit for every chunk of every zone (see
    /// [`crate::FaultAtlas::faulty_chunks`]). Crash tears ignore it.
    pub faulty_chunks: Option<BitVec>,
}

/// Whether an I/O read or wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IoKind {
    /// A read: its bytes are in [`Disk::completed_read_data`] after it completes.
    Read,
    /// A write: applied (with its faults) when it completes.
    Write,
}

/// Why an I/O failed. Writes never fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IoError {
    /// The read touched a sector with a latent sector error; `offset` (relative to the zone start)
    /// is the first such sector.
    LatentSectorError {
        /// The first unreadable sector's offset in the zone.
        offset: u64,
    },
}

impl fmt::Display for IoError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IoError::LatentSectorError { offset } => {
                write!(formatter, "latent sector error at zone offset {offset}")
            }
        }
    }
}

impl std::error::Error for IoError {}

/// A finished I/O, returned by [`Disk::poll_completion`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    /// The id given at submission.
    pub id: u64,
    /// Read or write.
    pub kind: IoKind,
    /// The zone as submitted.
    pub zone: ZoneId,
    /// The offset as submitted (relative to the zone start).
    pub offset: u64,
    /// The length as submitted.
    pub len: u64,
    /// `Ok` for every write (even a lost or misdirected one); `Err` for a read that touched a
    /// latent sector error.
    pub result: Result<(), IoError>,
}

/// One submitted, not yet completed I/O.
#[derive(Clone, Debug)]
struct Pending {
    ready_tick: u64,
    /// Seeded draw that orders I/O with the same ready tick.
    tie: u64,
    /// Submission order: makes the order total even if two draws collide.
    sequence: u64,
    id: u64,
    kind: IoKind,
    zone: ZoneId,
    offset: u64,
    len: u64,
    /// The write's bytes, copied at submission; empty for a read.
    data: Vec<u8>,
    /// A fault the driver aimed at this write ([`Disk::aim_write`]).
    aim: Option<WriteAim>,
}

/// A fault aimed at one pending write by the driver (a scenario's script, or a fuzzer that aims
/// faults where rare cases need them) instead of drawn by chance. It is injected, marked and
/// logged exactly as a drawn fault of its kind, and only where a drawn one could fall: while
/// faults are enabled, in a chunk the atlas lets fault, and never as a second silent drop in one
/// chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteAim {
    /// The write is lost when it completes: it reports success and stores nothing.
    Lose,
    /// The write lands at the same offset of another slot when it completes.
    Misdirect,
    /// The write lands at the same offset of zone slot `slot` (not its own) when it completes.
    MisdirectTo { slot: u64 },
    /// The write is torn if the disk crashes before it completes.
    Tear,
}

impl Pending {
    fn order_key(&self) -> (u64, u64, u64) {
        (self.ready_tick, self.tie, self.sequence)
    }
}

/// A simulated disk. Sans-IO in the quinn-proto sense: the driver calls it, it never calls out.
///
/// Order of calls for a driver: `submit_read`/`submit_write` at any tick; then, at each tick `t`,
/// `poll_completion(t)` until it returns `None` (after a read completion, take its bytes from
/// `completed_read_data` before polling again); `crash(t)` at any moment drops every pending I/O.
/// Ticks passed in never go backwards.
///
/// `Clone` copies the whole disk, bytes, fault marks and PRNG: a clone goes on exactly as the
/// original would (a sweep forks one prepared disk per fault it aims).
#[derive(Clone)]
pub struct Disk {
    replica: u8,
    seed: u64,
    sector_size: u64,
    zones: Vec<ZoneSpec>,
    /// Byte offset of each zone's start within `memory`.
    zone_starts: Vec<u64>,
    faults: FaultConfig,
    faulty_chunks: Option<BitVec>,
    faults_enabled: bool,
    prng: ChaCha8Rng,
    memory: Vec<u8>,
    sectors_faulty: BitVec,
    sectors_latent: BitVec,
    sectors_read_flipped: BitVec,
    /// Per sector, the bit its sticky read flip last flipped and its zone slot's stamp then:
    /// the bit is a hash of the sector's bytes, which cannot have changed while the stamp has
    /// not (recovery reads the same flipped sectors again at every restart).
    sectors_read_flip_bit: Vec<Option<(u64, u32)>>,
    /// Per zone slot (all zones' slots back to back), the value of `stamp_next` when the bytes
    /// or fault bits of any of its sectors last changed.
    slots_stamp: Vec<u64>,
    /// Per sector, its index in `slots_stamp`.
    sectors_slot: Vec<u32>,
    stamp_next: u64,
    pending: Vec<Pending>,
    sequence_next: u64,
    /// Write buffers of completed writes, kept for reuse.
    buffers_free: Vec<Vec<u8>>,
    /// The bytes of the last read completion.
    read_data: Vec<u8>,
    /// Which sectors of a write being torn land whole (reused across crashes).
    torn_sectors_landed: Vec<bool>,
    fault_log: FaultLog,
    tick_last: u64,
    /// Per zone, the chunks where a write was silently dropped (lost, or misdirected away).
    chunks_dropped: Vec<BitVec>,
}

impl fmt::Debug for Disk {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Disk")
            .field("replica", &self.replica)
            .field("seed", &self.seed)
            .field("sector_size", &self.sector_size)
            .field("zones", &self.zones)
            .field("faults", &self.faults)
            .field("faults_enabled", &self.faults_enabled)
            .field("pending_count", &self.pending.len())
            .field("sectors_faulty_count", &self.sectors_faulty.count_ones())
            .field("sectors_latent_count", &self.sectors_latent.count_ones())
            .field(
                "sectors_read_flipped_count",
                &self.sectors_read_flipped.count_ones(),
            )
            .field("fault_log_len", &self.fault_log.len())
            .finish_non_exhaustive()
    }
}

/// Room in the pending queue before it reallocates (the journal bounds its in-flight I/O).
const PENDING_CAPACITY: usize = 64;

impl Disk {
    /// Builds a disk whose memory is filled with PRNG bytes drawn from `options.seed`.
    pub fn new(options: DiskOptions) -> Disk {
        Disk::build(options, true)
    }

    /// Builds a disk whose memory is zeros, as a file system gives a file's never-written blocks
    /// (the simulated file, which never lets a caller read bytes nobody wrote as anything but
    /// zeros). Cheaper than [`Disk::new`] for a large disk: the zeros are the allocator's, no
    /// PRNG draws fill them.
    pub fn new_zeroed(options: DiskOptions) -> Disk {
        Disk::build(options, false)
    }

    fn build(options: DiskOptions, fill_random: bool) -> Disk {
        let DiskOptions {
            replica,
            seed,
            sector_size,
            zones,
            faults,
            faulty_chunks,
        } = options;
        assert!(sector_size > 0);
        assert!(!zones.is_empty());
        faults.assert_valid();

        let mut zone_starts = Vec::with_capacity(zones.len());
        let mut size_total: u64 = 0;
        for zone in &zones {
            assert!(zone.size > 0, "zone {} is empty", zone.name);
            assert!(zone.slot_size > 0, "zone {} has no slot size", zone.name);
            assert!(zone.chunk_size > 0, "zone {} has no chunk size", zone.name);
            assert_eq!(zone.size % sector_size, 0, "zone {} size", zone.name);
            assert_eq!(
                zone.slot_size % sector_size,
                0,
                "zone {} slot size",
                zone.name
            );
            assert_eq!(
                zone.chunk_size % sector_size,
                0,
                "zone {} chunk size",
                zone.name
            );
            assert_eq!(zone.size % zone.slot_size, 0, "zone {} slots", zone.name);
            assert_eq!(zone.size % zone.chunk_size, 0, "zone {} chunks", zone.name);
            if let Some(chunks) = &faulty_chunks {
                assert!(
                    zone.chunk_count() <= chunks.len() as u64,
                    "zone {} has more chunks than the atlas",
                    zone.name
                );
            }
            zone_starts.push(size_total);
            size_total = size_total
                .checked_add(zone.size)
                .expect("disk size overflows");
        }
        let size_total = usize::try_from(size_total).expect("disk size fits in memory");
        let sector_count = size_total / sector_size as usize;

        let zones_for_bits: Vec<u64> = zones.iter().map(ZoneSpec::chunk_count).collect();
        let mut sectors_slot = Vec::with_capacity(sector_count);
        let mut slots_before: u64 = 0;
        for zone in &zones {
            for sector in 0..zone.size / sector_size {
                let slot = slots_before + sector * sector_size / zone.slot_size;
                sectors_slot.push(u32::try_from(slot).expect("zone slots fit in u32"));
            }
            slots_before += zone.slot_count();
        }
        assert_eq!(sectors_slot.len(), sector_count);
        let mut prng = ChaCha8Rng::seed_from_u64(seed);
        let mut memory = vec![0_u8; size_total];
        if fill_random {
            prng.fill_bytes(&mut memory);
        }

        Disk {
            replica,
            seed,
            sector_size,
            zones,
            zone_starts,
            faults,
            faulty_chunks,
            faults_enabled: true,
            prng,
            memory,
            sectors_faulty: BitVec::repeat(false, sector_count),
            sectors_latent: BitVec::repeat(false, sector_count),
            sectors_read_flipped: BitVec::repeat(false, sector_count),
            sectors_read_flip_bit: vec![None; sector_count],
            slots_stamp: vec![0; sectors_slot.last().map_or(0, |&slot| slot as usize + 1)],
            sectors_slot,
            stamp_next: 1,
            pending: Vec::with_capacity(PENDING_CAPACITY),
            sequence_next: 0,
            buffers_free: Vec::with_capacity(PENDING_CAPACITY),
            read_data: Vec::new(),
            torn_sectors_landed: Vec::new(),
            fault_log: FaultLog::new(),
            tick_last: 0,
            chunks_dropped: zones_chunk_bits(&zones_for_bits),
        }
    }

    /// Queues a read of `len` bytes at `offset` of `zone`; it completes after a seeded latency.
    pub fn submit_read(&mut self, now_tick: u64, id: u64, zone: ZoneId, offset: u64, len: u64) {
        self.assert_range(zone, offset, len);
        self.advance_tick(now_tick);
        let latency = self.latency_ticks(
            self.faults.read_latency_ticks_min,
            self.faults.read_latency_ticks_mean,
        );
        self.pending_push(
            now_tick + latency,
            id,
            IoKind::Read,
            zone,
            offset,
            len,
            Vec::new(),
        );
    }

    /// Queues a write of `data` (copied now) at `offset` of `zone`; it is applied, with its
    /// faults, when it completes after a seeded latency.
    pub fn submit_write(&mut self, now_tick: u64, id: u64, zone: ZoneId, offset: u64, data: &[u8]) {
        let len = data.len() as u64;
        self.assert_range(zone, offset, len);
        self.advance_tick(now_tick);
        let latency = self.latency_ticks(
            self.faults.write_latency_ticks_min,
            self.faults.write_latency_ticks_mean,
        );
        let mut buffer = self.buffers_free.pop().unwrap_or_default();
        buffer.clear();
        buffer.extend_from_slice(data);
        self.pending_push(
            now_tick + latency,
            id,
            IoKind::Write,
            zone,
            offset,
            len,
            buffer,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn pending_push(
        &mut self,
        ready_tick: u64,
        id: u64,
        kind: IoKind,
        zone: ZoneId,
        offset: u64,
        len: u64,
        data: Vec<u8>,
    ) {
        if kind == IoKind::Write {
            assert_eq!(data.len() as u64, len);
        } else {
            assert!(data.is_empty());
        }
        let tie = self.prng.next_u64();
        let sequence = self.sequence_next;
        self.sequence_next += 1;
        self.pending.push(Pending {
            ready_tick,
            tie,
            sequence,
            id,
            kind,
            zone,
            offset,
            len,
            data,
            aim: None,
        });
    }

    /// Aims `aim` at the pending write `id`. Returns whether it was aimed: `false` if no such
    /// write is pending, faults are off, or the atlas keeps faults out of its range.
    pub fn aim_write(&mut self, id: u64, aim: WriteAim) -> bool {
        let enabled = self.faults_enabled;
        let Some(index) = self.pending_write_index(id) else {
            return false;
        };
        let pending = &self.pending[index];
        let target_allowed = match aim {
            WriteAim::MisdirectTo { slot } => self
                .misdirect_target(pending.zone, pending.offset, pending.len, slot)
                .is_some(),
            _ => true,
        };
        let allowed = enabled
            && target_allowed
            && (aim == WriteAim::Tear
                || self.range_may_fault(pending.zone, pending.offset, pending.len));
        if allowed {
            self.pending[index].aim = Some(aim);
        }
        allowed
    }

    /// Holds the pending write `id` in flight until at least `ready_tick`: latency the driver
    /// chooses (a queue that serves this write last), not a fault, so it is not logged and not
    /// gated on faults. Holding again never adds up: the later tick wins. Returns whether such
    /// a write was pending.
    pub fn hold_write_until(&mut self, id: u64, ready_tick: u64) -> bool {
        let Some(index) = self.pending_write_index(id) else {
            return false;
        };
        let pending = &mut self.pending[index];
        pending.ready_tick = pending.ready_tick.max(ready_tick);
        true
    }

    /// Where the pending write `id` sits in the queue, if it is pending.
    fn pending_write_index(&self, id: u64) -> Option<usize> {
        self.pending
            .iter()
            .position(|p| p.id == id && p.kind == IoKind::Write)
    }

    /// Rots one bit of the sector at `sector_offset` of `zone` now (logged as a write bit flip:
    /// the stored bytes are damaged). Returns whether it was injected (faults on, atlas allows).
    pub fn aim_bit_rot(&mut self, now_tick: u64, zone: ZoneId, sector_offset: u64) -> bool {
        let allowed = self.aim_sector_allowed(now_tick, zone, sector_offset);
        if allowed {
            let bit = self.prng.gen_range(0..self.sector_size * 8);
            self.sector_rot(now_tick, zone, sector_offset, bit);
        }
        allowed
    }

    /// Rots bit `bit` (0 is the lowest bit of the byte) of the byte at `offset` of `zone` now,
    /// as [`Disk::aim_bit_rot`] does with a drawn bit: for scripts that must damage one field.
    pub fn aim_bit_rot_at(&mut self, now_tick: u64, zone: ZoneId, offset: u64, bit: u8) -> bool {
        assert!(bit < 8);
        let sector_offset = offset - offset % self.sector_size;
        let allowed = self.aim_sector_allowed(now_tick, zone, sector_offset);
        if allowed {
            let bit_in_sector = (offset - sector_offset) * 8 + u64::from(bit);
            self.sector_rot(now_tick, zone, sector_offset, bit_in_sector);
        }
        allowed
    }

    /// From now on the atlas no longer keeps faults out of any chunk: for scripts that place
    /// every fault themselves (a solo replica's atlas, say, lets none fall).
    pub fn lift_atlas(&mut self) {
        self.faulty_chunks = None;
    }

    /// Makes the sector at `sector_offset` of `zone` unreadable now (a latent sector error).
    /// Returns whether it was injected (faults on, atlas allows).
    pub fn aim_latent_error(&mut self, now_tick: u64, zone: ZoneId, sector_offset: u64) -> bool {
        let allowed = self.aim_sector_allowed(now_tick, zone, sector_offset);
        if allowed {
            self.sector_latent(now_tick, zone, sector_offset);
        }
        allowed
    }

    /// Whether a fault may be aimed at one sector now: faults on, and the atlas lets it fall.
    fn aim_sector_allowed(&mut self, now_tick: u64, zone: ZoneId, sector_offset: u64) -> bool {
        self.advance_tick(now_tick);
        assert_eq!(sector_offset % self.sector_size, 0);
        self.faults_enabled && self.range_may_fault(zone, sector_offset, self.sector_size)
    }

    /// Flips bit `bit` of a stored sector (bit rot, or a write that landed flipped).
    fn sector_rot(&mut self, tick: u64, zone: ZoneId, sector_offset: u64, bit: u64) {
        let sector_size = self.sector_size;
        assert!(bit < sector_size * 8);
        let byte = self.memory_offset(zone, sector_offset) + (bit / 8) as usize;
        self.memory[byte] ^= 1 << (bit % 8);
        self.mark_faulty(zone, sector_offset, sector_size);
        self.log(
            tick,
            FaultKind::WriteBitFlip,
            zone,
            sector_offset,
            sector_size,
        );
    }

    /// Makes a sector fail every read until it is rewritten.
    fn sector_latent(&mut self, tick: u64, zone: ZoneId, sector_offset: u64) {
        let sector = self.sector_index(zone, sector_offset);
        self.sectors_latent.set(sector, true);
        self.stamp(sector);
        let sector_size = self.sector_size;
        self.log(
            tick,
            FaultKind::LatentSectorError,
            zone,
            sector_offset,
            sector_size,
        );
    }

    /// Completes the next I/O whose ready tick is at most `now_tick`: the earliest ready tick
    /// first, ties in the order of their seeded draws. A write is applied now, a read samples the
    /// disk now (its bytes in [`Disk::completed_read_data`]).
    pub fn poll_completion(&mut self, now_tick: u64) -> Option<Completion> {
        self.poll_completion_into(now_tick, |_| None)
    }

    /// [`Disk::poll_completion`], but a read whose id `read_into` gives a buffer for (exactly the
    /// read's length) puts its bytes there instead of in [`Disk::completed_read_data`]: a driver
    /// hands them straight to the reader's buffer, with no copy in between. A read that fails
    /// leaves the buffer as it was. The same draws, faults and bytes either way.
    pub fn poll_completion_into<'buffer>(
        &mut self,
        now_tick: u64,
        read_into: impl FnOnce(u64) -> Option<&'buffer mut [u8]>,
    ) -> Option<Completion> {
        self.advance_tick(now_tick);
        self.read_data.clear();

        let mut next: Option<usize> = None;
        for (index, pending) in self.pending.iter().enumerate() {
            if pending.ready_tick > now_tick {
                continue;
            }
            let earlier = match next {
                None => true,
                Some(best) => pending.order_key() < self.pending[best].order_key(),
            };
            if earlier {
                next = Some(index);
            }
        }
        let pending = self.pending.swap_remove(next?);
        assert!(pending.ready_tick <= now_tick);

        let result = match pending.kind {
            IoKind::Read => {
                let into = read_into(pending.id);
                let filled = into.is_some();
                let result =
                    self.read_finish(now_tick, pending.zone, pending.offset, pending.len, into);
                match result {
                    Ok(()) if !filled => assert_eq!(self.read_data.len() as u64, pending.len),
                    _ => assert!(self.read_data.is_empty()),
                }
                result
            }
            IoKind::Write => {
                self.write_finish(
                    now_tick,
                    pending.zone,
                    pending.offset,
                    &pending.data,
                    pending.aim,
                );
                Ok(())
            }
        };
        let completion = Completion {
            id: pending.id,
            kind: pending.kind,
            zone: pending.zone,
            offset: pending.offset,
            len: pending.len,
            result,
        };
        self.buffer_release(pending.data);
        Some(completion)
    }

    /// The bytes of the last read completion returned by [`Disk::poll_completion`], valid until
    /// the next poll or crash. Empty if that completion was a write or a failed read.
    pub fn completed_read_data(&self) -> &[u8] {
        &self.read_data
    }

    /// The number of submitted I/O not yet completed.
    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    /// The earliest ready tick of any pending I/O.
    pub fn next_ready_tick(&self) -> Option<u64> {
        self.pending.iter().map(|pending| pending.ready_tick).min()
    }

    /// Crashes the disk: pending reads are dropped; each pending write (in completion order) is
    /// torn with `crash_write_torn_probability` (only while faults are enabled, whatever the
    /// atlas says, but never in a chunk whose other zone lost a write silently), and otherwise
    /// fully applied or dropped, 50/50.
    pub fn crash(&mut self, now_tick: u64) {
        self.advance_tick(now_tick);
        self.read_data.clear();
        let mut pending = std::mem::take(&mut self.pending);
        pending.sort_unstable_by_key(Pending::order_key);
        for entry in pending.drain(..) {
            if entry.kind == IoKind::Write {
                let torn_probability = self.faults.crash_write_torn_probability;
                let aimed = entry.aim == Some(WriteAim::Tear);
                if self.faults_enabled
                    && (self.chance(torn_probability) | aimed)
                    && self.may_drop_silently(entry.zone, entry.offset, entry.len)
                {
                    self.write_tear(now_tick, entry.zone, entry.offset, &entry.data);
                } else if self.prng.gen_bool(0.5) {
                    self.store(entry.zone, entry.offset, &entry.data);
                }
            }
            self.buffer_release(entry.data);
        }
        assert!(pending.is_empty());
        assert!(self.pending.is_empty());
        self.pending = pending;
    }

    /// `false`: from now on the disk is perfect (no faults injected, no crash tears, latent
    /// sector errors and sticky read flips forgotten) until enabled again. Bytes already stored
    /// by a fault stay as they are.
    pub fn set_faults_enabled(&mut self, enabled: bool) {
        self.faults_enabled = enabled;
        if !enabled {
            for sector in 0..self.sectors_slot.len() {
                if self.sectors_latent[sector] || self.sectors_read_flipped[sector] {
                    self.stamp(sector);
                }
            }
            self.sectors_latent.fill(false);
            self.sectors_read_flipped.fill(false);
        }
    }

    /// Whether faults are being injected.
    pub fn faults_enabled(&self) -> bool {
        self.faults_enabled
    }

    /// Replaces the fault probabilities and latencies for I/O submitted or completed from now
    /// on. Faults already injected stay.
    pub fn set_fault_config(&mut self, faults: FaultConfig) {
        faults.assert_valid();
        self.faults = faults;
    }

    /// The fault probabilities and latencies in force.
    pub fn fault_config(&self) -> &FaultConfig {
        &self.faults
    }

    /// What a perfect read of `len` bytes at `offset` of `zone` returns now: the stored bytes,
    /// write-time faults included, read-time faults (flips, misdirection, latent errors) not.
    pub fn peek(&self, zone: ZoneId, offset: u64, len: u64) -> &[u8] {
        self.assert_range(zone, offset, len);
        let start = self.memory_offset(zone, offset);
        &self.memory[start..start + len as usize]
    }

    /// Stores `data` at `offset` of `zone` at once: no faults, no log, no latency (for formatting
    /// a fresh disk). Clears the fault state of those sectors.
    pub fn poke(&mut self, zone: ZoneId, offset: u64, data: &[u8]) {
        self.assert_range(zone, offset, data.len() as u64);
        self.store(zone, offset, data);
        assert!(!self.range_faulty(zone, offset, data.len() as u64));
    }

    /// Stores whole sectors at `offset` of `zone` at once, as [`Disk::poke`] does, but marks them
    /// faulty: the bytes are the product of a fault the caller injects and logs itself (a
    /// simulated file's zeroed or junk sector).
    pub(crate) fn poke_faulty(&mut self, zone: ZoneId, offset: u64, data: &[u8]) {
        self.assert_range(zone, offset, data.len() as u64);
        self.store(zone, offset, data);
        self.mark_faulty(zone, offset, data.len() as u64);
        assert!(self.range_faulty(zone, offset, data.len() as u64));
    }

    /// Appends a fault that the caller injected (or refused to inject) above the disk, so that
    /// one log holds every fault of a run: a simulated file logs its failed calls, crash drops
    /// and sector faults here. The range is what the caller names; it may be unaligned or reach
    /// past the zone's end (a refused growth). Ticks never go backwards.
    pub fn record_fault(
        &mut self,
        now_tick: u64,
        kind: FaultKind,
        zone: ZoneId,
        offset: u64,
        len: u64,
    ) {
        assert!(zone < self.zones.len(), "zone {zone} out of range");
        assert!(len > 0, "an empty fault range");
        self.advance_tick(now_tick);
        let record = FaultRecord {
            tick: now_tick,
            replica: self.replica,
            kind,
            zone,
            offset,
            len,
        };
        self.fault_log.push(record);
    }

    /// Whether any sector of the range holds bytes from an injected fault that no later write
    /// undid (a write bit flip, a torn write, a lost write, a misdirected write landing here or
    /// missing from here), or fails or corrupts reads until rewritten (a latent sector error, a
    /// read bit flip).
    pub fn range_faulty(&self, zone: ZoneId, offset: u64, len: u64) -> bool {
        self.assert_range(zone, offset, len);
        // Asked of every slot at every restart: a word at a time, not a bit.
        let sectors = self.sector_indexes(zone, offset, len);
        any_in(&self.sectors_faulty, sectors.clone())
            || any_in(&self.sectors_latent, sectors.clone())
            || any_in(&self.sectors_read_flipped, sectors)
    }

    /// The newest stamp given to any slot: while it is unchanged, nothing stored on the disk and
    /// no fault bit changed.
    pub fn stamp_last(&self) -> u64 {
        self.stamp_next - 1
    }

    /// When the bytes or fault state of any sector of the zone slot (of [`ZoneSpec::slot_size`])
    /// holding byte `offset` of `zone` last changed, as a value that grows with every change
    /// anywhere on the disk: equal stamps of the same slot mean nothing in it changed in between
    /// (the disk as [`Disk::new`] left it is stamp 0).
    pub fn slot_stamp(&self, zone: ZoneId, offset: u64) -> u64 {
        self.slots_stamp[self.stamp_index(zone, offset)]
    }

    /// Where [`Disk::slot_stamp`] of byte `offset` of `zone` is kept: fixed for the disk's life,
    /// so a caller that asks about the same places again and again finds them once and reads
    /// their stamps with [`Disk::stamp_at`].
    pub fn stamp_index(&self, zone: ZoneId, offset: u64) -> usize {
        assert!(offset < self.zones[zone].size);
        let sector = self.sector_index(zone, offset - offset % self.sector_size);
        self.sectors_slot[sector] as usize
    }

    /// The stamp kept at `index` (from [`Disk::stamp_index`]).
    pub fn stamp_at(&self, index: usize) -> u64 {
        self.slots_stamp[index]
    }

    /// Whether a read touching any sector of the range would fail or come back altered (a latent
    /// sector error, a sticky read bit flip), whatever the stored bytes are.
    pub fn range_unreadable(&self, zone: ZoneId, offset: u64, len: u64) -> bool {
        self.assert_range(zone, offset, len);
        let mut sectors = self.sector_indexes(zone, offset, len);
        sectors.any(|sector| self.sectors_latent[sector] || self.sectors_read_flipped[sector])
    }

    /// Every fault injected so far.
    pub fn fault_log(&self) -> &FaultLog {
        &self.fault_log
    }

    /// The zones, as given.
    pub fn zones(&self) -> &[ZoneSpec] {
        &self.zones
    }

    /// The sector size, as given.
    pub fn sector_size(&self) -> u64 {
        self.sector_size
    }

    /// The replica, as given.
    pub fn replica(&self) -> u8 {
        self.replica
    }

    /// The chunk that `offset` of `zone` belongs to.
    pub fn chunk_of(&self, zone: ZoneId, offset: u64) -> u64 {
        assert!(zone < self.zones.len());
        assert!(offset < self.zones[zone].size);
        offset / self.zones[zone].chunk_size
    }

    /// Whether faults may be injected in every chunk the range touches (crash tears aside): the
    /// atlas lets them, and no other zone of the chunk had a write silently dropped (its copy
    /// here is then the only witness of what was written, see [`Disk::may_drop_silently`]).
    pub fn range_may_fault(&self, zone: ZoneId, offset: u64, len: u64) -> bool {
        self.assert_range(zone, offset, len);
        if !self.may_drop_silently(zone, offset, len) {
            return false;
        }
        let Some(chunks) = &self.faulty_chunks else {
            return true;
        };
        let chunk_size = self.zones[zone].chunk_size;
        let chunk_first = offset / chunk_size;
        let chunk_last = (offset + len - 1) / chunk_size;
        (chunk_first..=chunk_last).all(|chunk| chunks[chunk as usize])
    }

    /// Whether a write to this range may be silently dropped (lost, or misdirected away): not
    /// where another zone of the same chunk already had one, or had a write stored damaged (a
    /// write bit flip or structured corruption: its content is lost as surely). Dropping both
    /// (say, a prepare and the header sector that covers it) lets a storage engine forget data
    /// it acknowledged without any way to know: no protocol tolerates that double fault, so the
    /// disk never makes it (TigerBeetle's simulator avoids the same double fault).
    fn may_drop_silently(&self, zone: ZoneId, offset: u64, len: u64) -> bool {
        let chunk_size = self.zones[zone].chunk_size;
        let chunk_first = offset / chunk_size;
        let chunk_last = (offset + len - 1) / chunk_size;
        (chunk_first..=chunk_last).all(|chunk| {
            self.chunks_dropped
                .iter()
                .enumerate()
                .filter(|(other, _)| *other != zone)
                .all(|(_, dropped)| !dropped.get(chunk as usize).is_some_and(|bit| *bit))
        })
    }

    fn note_dropped(&mut self, zone: ZoneId, offset: u64, len: u64) {
        let chunk_size = self.zones[zone].chunk_size;
        for chunk in offset / chunk_size..=(offset + len - 1) / chunk_size {
            self.chunks_dropped[zone].set(chunk as usize, true);
        }
    }

    fn write_finish(
        &mut self,
        tick: u64,
        zone: ZoneId,
        offset: u64,
        data: &[u8],
        aim: Option<WriteAim>,
    ) {
        let len = data.len() as u64;
        let enabled = self.faults_enabled;

        // An aimed fault still draws the chance it replaces, so that aiming one write leaves
        // every other draw of the run where it was.
        let lost_probability = self.faults.lost_write_probability;
        if enabled
            && (self.chance(lost_probability) | (aim == Some(WriteAim::Lose)))
            && self.range_may_fault(zone, offset, len)
        {
            self.mark_faulty(zone, offset, len);
            self.note_dropped(zone, offset, len);
            self.log(tick, FaultKind::LostWrite, zone, offset, len);
            return;
        }

        let mut landed_offset = offset;
        let misdirected_probability = self.faults.misdirected_write_probability;
        let misdirect_aimed = matches!(
            aim,
            Some(WriteAim::Misdirect | WriteAim::MisdirectTo { .. })
        );
        if enabled
            && (self.chance(misdirected_probability) | misdirect_aimed)
            && self.range_may_fault(zone, offset, len)
        {
            let target = match aim {
                Some(WriteAim::MisdirectTo { slot }) => {
                    self.misdirect_target(zone, offset, len, slot)
                }
                _ => self.misdirect_offset(zone, offset, len),
            };
            if let Some(target_offset) = target {
                landed_offset = target_offset;
                self.note_dropped(zone, offset, len);
            }
        }

        self.store(zone, landed_offset, data);
        if landed_offset != offset {
            assert!(
                landed_offset % self.zones[zone].slot_size == offset % self.zones[zone].slot_size
            );
            self.mark_faulty(zone, offset, len);
            self.mark_faulty(zone, landed_offset, len);
            let kind = FaultKind::MisdirectedWrite {
                target_offset: landed_offset,
            };
            self.log(tick, kind, zone, offset, len);
        }

        let flip_probability = self.faults.write_bit_flip_probability;
        if enabled && self.chance(flip_probability) {
            if let Some(sector_offset) = self.faultable_sector_pick(zone, landed_offset, len) {
                let bit = self.prng.gen_range(0..self.sector_size * 8);
                self.sector_rot(tick, zone, sector_offset, bit);
                // A write stored damaged lost its content as surely as a dropped one.
                self.note_dropped(zone, sector_offset, self.sector_size);
            }
        }

        let latent_probability = self.faults.latent_sector_error_probability;
        if enabled && self.chance(latent_probability) {
            if let Some(sector_offset) = self.faultable_sector_pick(zone, landed_offset, len) {
                self.sector_latent(tick, zone, sector_offset);
            }
        }

        // Drawn last: a disk whose config leaves it at 0 draws exactly what it drew before
        // the fault existed.
        let corrupt_probability = self.faults.sector_corrupt_probability;
        if enabled && self.chance(corrupt_probability) {
            if let Some(sector_offset) = self.faultable_sector_pick(zone, landed_offset, len) {
                self.sector_corrupt(tick, zone, sector_offset);
                // As for a write bit flip: the other zone of the chunk must keep its witness
                // (seed 9929: op 56's prepare stored zeroed, then its header sector write lost;
                // recovery saw a torn append at the head and cut an acknowledged op).
                self.note_dropped(zone, sector_offset, self.sector_size);
            }
        }
    }

    /// Stores one sector as garbage of a kind real disks and file systems return: zeros, noise,
    /// another sector's bytes (a random sector of the zone: stale; the same place in another
    /// slot: shifted), or a run of noise inside the sector with the rest kept.
    fn sector_corrupt(&mut self, tick: u64, zone: ZoneId, sector_offset: u64) {
        let sector_size = self.sector_size;
        let start = self.memory_offset(zone, sector_offset);
        let kind = match self.prng.gen_range(0..5) {
            0 => {
                self.memory[start..start + sector_size as usize].fill(0);
                FaultKind::SectorZeroed
            }
            1 => {
                let mut noise = vec![0u8; sector_size as usize];
                self.prng.fill_bytes(&mut noise);
                self.memory[start..start + sector_size as usize].copy_from_slice(&noise);
                FaultKind::SectorJunk {
                    source_offset: sector_offset,
                }
            }
            kind @ (2 | 3) => {
                let zone_size = self.zones[zone].size;
                let slot_size = self.zones[zone].slot_size;
                let source_offset = if kind == 2 || zone_size <= slot_size {
                    // Stale: any other sector of the zone.
                    let sectors = zone_size / sector_size;
                    let pick = self.prng.gen_range(0..sectors);
                    pick * sector_size
                } else {
                    // Shifted: the same place in another slot.
                    let slots = zone_size / slot_size;
                    let slot = sector_offset / slot_size;
                    let other = (slot + self.prng.gen_range(1..slots)) % slots;
                    other * slot_size + sector_offset % slot_size
                };
                let source = self.memory_offset(zone, source_offset);
                self.memory
                    .copy_within(source..source + sector_size as usize, start);
                FaultKind::SectorJunk { source_offset }
            }
            _ => {
                let len = self.prng.gen_range(1..=64.min(sector_size));
                let within = self.prng.gen_range(0..=sector_size - len);
                let run = start + within as usize;
                let mut noise = [0u8; 64];
                self.prng.fill_bytes(&mut noise[..len as usize]);
                self.memory[run..run + len as usize].copy_from_slice(&noise[..len as usize]);
                FaultKind::SectorJunk {
                    source_offset: sector_offset,
                }
            }
        };
        self.mark_faulty(zone, sector_offset, sector_size);
        self.log(tick, kind, zone, sector_offset, sector_size);
    }

    /// Fills `into` (or, without it, `read_data`) with what a read of the range returns now, or
    /// fails on a latent sector error (leaving both as they were).
    fn read_finish(
        &mut self,
        tick: u64,
        zone: ZoneId,
        offset: u64,
        len: u64,
        into: Option<&mut [u8]>,
    ) -> Result<(), IoError> {
        assert!(self.read_data.is_empty());
        if self.faults_enabled {
            for sector_offset in (offset..offset + len).step_by(self.sector_size as usize) {
                if self.sectors_latent[self.sector_index(zone, sector_offset)] {
                    return Err(IoError::LatentSectorError {
                        offset: sector_offset,
                    });
                }
            }
        } else {
            assert!(self.sectors_latent.not_any());
        }

        let mut source_offset = offset;
        let misdirected_probability = self.faults.misdirected_read_probability;
        if self.faults_enabled
            && self.chance(misdirected_probability)
            && self.range_may_fault(zone, offset, len)
        {
            if let Some(misdirected_offset) = self.misdirect_offset(zone, offset, len) {
                source_offset = misdirected_offset;
                let kind = FaultKind::MisdirectedRead { source_offset };
                self.log(tick, kind, zone, offset, len);
            }
        }

        let flip_probability = self.faults.read_bit_flip_probability;
        if self.faults_enabled && self.chance(flip_probability) {
            if let Some(sector_offset) = self.faultable_sector_pick(zone, source_offset, len) {
                let sector = self.sector_index(zone, sector_offset);
                if !self.sectors_read_flipped[sector] {
                    self.sectors_read_flipped.set(sector, true);
                    self.stamp(sector);
                    self.log(
                        tick,
                        FaultKind::ReadBitFlip,
                        zone,
                        sector_offset,
                        self.sector_size,
                    );
                }
            }
        }

        let start = self.memory_offset(zone, source_offset);
        let source = &self.memory[start..start + len as usize];
        let sectors = self.sector_indexes(zone, source_offset, len);
        let data: &mut [u8] = match into {
            Some(into) => {
                assert_eq!(into.len() as u64, len, "a read buffer of the wrong length");
                into.copy_from_slice(source);
                into
            }
            None => {
                self.read_data.extend_from_slice(source);
                &mut self.read_data
            }
        };
        let sector_size = self.sector_size as usize;
        for (index, sector) in sectors.enumerate() {
            if self.sectors_read_flipped[sector] {
                let bytes = &mut data[index * sector_size..(index + 1) * sector_size];
                let stamp = self.slots_stamp[self.sectors_slot[sector] as usize];
                let bit = match self.sectors_read_flip_bit[sector] {
                    Some((at, bit)) if at == stamp => bit as usize,
                    _ => {
                        let bit = read_flip_bit(self.seed, sector as u64, bytes);
                        let bit_u32 = u32::try_from(bit).expect("a bit of a sector");
                        self.sectors_read_flip_bit[sector] = Some((stamp, bit_u32));
                        bit
                    }
                };
                bytes[bit / 8] ^= 1 << (bit % 8);
            }
        }
        Ok(())
    }

    /// Lands part of a write pending at a crash: a prefix, a suffix or a scatter of its sectors
    /// whole, and maybe one more sector half old, half new. A one-sector write lands half.
    fn write_tear(&mut self, tick: u64, zone: ZoneId, offset: u64, data: &[u8]) {
        let sector_size = self.sector_size as usize;
        let sector_count = data.len() / sector_size;
        assert!(sector_count >= 1);

        let mut landed = std::mem::take(&mut self.torn_sectors_landed);
        landed.clear();
        landed.resize(sector_count, false);
        let half_sector: Option<usize> = if sector_count == 1 {
            Some(0)
        } else {
            let boundary = match self.prng.gen_range(0..3) {
                0 => {
                    let count = self.prng.gen_range(1..sector_count);
                    landed[..count].fill(true);
                    count
                }
                1 => {
                    let count = self.prng.gen_range(1..sector_count);
                    landed[sector_count - count..].fill(true);
                    sector_count - count - 1
                }
                _ => {
                    for sector_landed in landed.iter_mut() {
                        *sector_landed = self.prng.gen_bool(0.5);
                    }
                    let landed_count = landed.iter().filter(|&&sector| sector).count();
                    if landed_count == 0 || landed_count == sector_count {
                        let index = self.prng.gen_range(0..sector_count);
                        landed[index] = !landed[index];
                    }
                    let missing_count = landed.iter().filter(|&&sector| !sector).count();
                    let pick = self.prng.gen_range(0..missing_count);
                    landed
                        .iter()
                        .enumerate()
                        .filter(|(_, &sector)| !sector)
                        .nth(pick)
                        .map(|(index, _)| index)
                        .expect("a sector is missing")
                }
            };
            self.prng.gen_bool(0.5).then_some(boundary)
        };

        let landed_count = landed.iter().filter(|&&sector| sector).count();
        assert!(landed_count < sector_count);
        if sector_count > 1 {
            assert!(landed_count > 0);
        }
        for (index, &sector_landed) in landed.iter().enumerate() {
            if sector_landed {
                let bytes = &data[index * sector_size..(index + 1) * sector_size];
                self.store(zone, offset + (index * sector_size) as u64, bytes);
            }
        }
        if let Some(index) = half_sector {
            assert!(!landed[index]);
            let split = self.prng.gen_range(1..sector_size);
            let bytes = &data[index * sector_size..index * sector_size + split];
            self.store_partial(zone, offset + (index * sector_size) as u64, bytes);
        }
        self.torn_sectors_landed = landed;

        let len = data.len() as u64;
        self.mark_faulty(zone, offset, len);
        self.log(tick, FaultKind::TornWrite, zone, offset, len);
    }

    /// Another slot of `zone` for the range, at the same offset within its slot, that fits in the
    /// zone, does not overlap the range, and may be faulted. `None` if there is none.
    fn misdirect_offset(&mut self, zone: ZoneId, offset: u64, len: u64) -> Option<u64> {
        let spec = &self.zones[zone];
        let (slot_size, zone_size) = (spec.slot_size, spec.size);
        let slot_count = spec.slot_count();
        if slot_count < 2 {
            return None;
        }
        let slot_own = offset / slot_size;
        let slot_offset = offset % slot_size;
        let slot_start = self.prng.gen_range(0..slot_count);
        for step in 0..slot_count {
            let slot = (slot_start + step) % slot_count;
            if slot == slot_own {
                continue;
            }
            let candidate = slot * slot_size + slot_offset;
            if candidate + len > zone_size {
                continue;
            }
            if candidate < offset + len && offset < candidate + len {
                continue;
            }
            if self.range_may_fault(zone, candidate, len) {
                assert_ne!(candidate, offset);
                return Some(candidate);
            }
        }
        None
    }

    /// Where a write of `len` bytes at `offset` lands if misdirected to zone slot `slot`: the
    /// same offset within that slot, if that is another slot, in the zone, not overlapping the
    /// write's own range, and the atlas lets it fault.
    fn misdirect_target(&self, zone: ZoneId, offset: u64, len: u64, slot: u64) -> Option<u64> {
        let spec = &self.zones[zone];
        let candidate = slot.checked_mul(spec.slot_size)? + offset % spec.slot_size;
        let valid = slot != offset / spec.slot_size
            && slot < spec.slot_count()
            && candidate + len <= spec.size
            && !(candidate < offset + len && offset < candidate + len)
            && self.range_may_fault(zone, candidate, len);
        valid.then_some(candidate)
    }

    /// A uniformly drawn sector of the range in a chunk that may be faulted, as its zone offset.
    fn faultable_sector_pick(&mut self, zone: ZoneId, offset: u64, len: u64) -> Option<u64> {
        let sector_size = self.sector_size;
        let faultable = |disk: &Disk, sector_offset: u64| {
            disk.range_may_fault(zone, sector_offset, sector_size)
        };
        let sector_offsets = (offset..offset + len).step_by(sector_size as usize);
        let count = sector_offsets
            .clone()
            .filter(|&sector| faultable(self, sector))
            .count();
        if count == 0 {
            return None;
        }
        let pick = self.prng.gen_range(0..count);
        let sector_offset = sector_offsets
            .filter(|&sector| faultable(self, sector))
            .nth(pick)
            .expect("picked");
        assert!(self.range_may_fault(zone, sector_offset, sector_size));
        Some(sector_offset)
    }

    /// Stores whole sectors and clears their fault state.
    fn store(&mut self, zone: ZoneId, offset: u64, data: &[u8]) {
        assert_eq!(data.len() as u64 % self.sector_size, 0);
        self.store_partial(zone, offset, data);
    }

    /// Stores bytes from the start of a sector run (the last sector perhaps in part) and clears
    /// the fault state of every sector touched.
    fn store_partial(&mut self, zone: ZoneId, offset: u64, data: &[u8]) {
        assert!(!data.is_empty());
        let len_sectors = (data.len() as u64).div_ceil(self.sector_size) * self.sector_size;
        self.assert_range(zone, offset, len_sectors);
        let start = self.memory_offset(zone, offset);
        self.memory[start..start + data.len()].copy_from_slice(data);
        for sector in self.sector_indexes(zone, offset, len_sectors) {
            self.sectors_faulty.set(sector, false);
            self.sectors_latent.set(sector, false);
            self.sectors_read_flipped.set(sector, false);
            self.stamp(sector);
        }
    }

    fn mark_faulty(&mut self, zone: ZoneId, offset: u64, len: u64) {
        for sector in self.sector_indexes(zone, offset, len) {
            self.sectors_faulty.set(sector, true);
            self.stamp(sector);
        }
    }

    /// Records that a sector's bytes or fault bits changed now.
    fn stamp(&mut self, sector: usize) {
        self.slots_stamp[self.sectors_slot[sector] as usize] = self.stamp_next;
        self.stamp_next += 1;
    }

    fn log(&mut self, tick: u64, kind: FaultKind, zone: ZoneId, offset: u64, len: u64) {
        if let FaultKind::MisdirectedWrite { target_offset } = kind {
            assert!(self.range_may_fault(zone, target_offset, len));
        }
        if let FaultKind::MisdirectedRead { source_offset } = kind {
            assert!(self.range_may_fault(zone, source_offset, len));
        }
        if kind != FaultKind::TornWrite {
            assert!(self.range_may_fault(zone, offset, len));
        }
        let record = FaultRecord {
            tick,
            replica: self.replica,
            kind,
            zone,
            offset,
            len,
        };
        self.fault_log.push(record);
    }

    /// `max(min, exponential(mean))`, drawn from the PRNG.
    fn latency_ticks(&mut self, ticks_min: u64, ticks_mean: u64) -> u64 {
        if ticks_mean == 0 {
            return ticks_min;
        }
        // `gen` gives [0, 1); flip it to (0, 1] so the logarithm stays finite.
        let uniform: f64 = 1.0 - self.prng.gen::<f64>();
        assert!(uniform > 0.0);
        assert!(uniform <= 1.0);
        let exponential = -(ticks_mean as f64) * uniform.ln();
        // `as` saturates, and the value is never negative.
        ticks_min.max(exponential as u64)
    }

    /// A seeded draw that is true with `probability`. Draws nothing at 0 or 1, so that a fault
    /// kind switched off does not shift the rest of the stream.
    fn chance(&mut self, probability: f64) -> bool {
        if probability <= 0.0 {
            false
        } else if probability >= 1.0 {
            true
        } else {
            self.prng.gen_bool(probability)
        }
    }

    fn buffer_release(&mut self, buffer: Vec<u8>) {
        if buffer.capacity() > 0 && self.buffers_free.len() < PENDING_CAPACITY {
            self.buffers_free.push(buffer);
        }
    }

    fn advance_tick(&mut self, now_tick: u64) {
        assert!(now_tick >= self.tick_last, "ticks went backwards");
        self.tick_last = now_tick;
    }

    fn assert_range(&self, zone: ZoneId, offset: u64, len: u64) {
        assert!(zone < self.zones.len(), "zone {zone} out of range");
        assert!(len > 0, "empty I/O");
        assert_eq!(
            offset % self.sector_size,
            0,
            "offset {offset} not sector aligned"
        );
        assert_eq!(len % self.sector_size, 0, "length {len} not sector aligned");
        let end = offset.checked_add(len).expect("range overflows");
        assert!(
            end <= self.zones[zone].size,
            "range {offset}+{len} past zone end"
        );
    }

    fn memory_offset(&self, zone: ZoneId, offset: u64) -> usize {
        (self.zone_starts[zone] + offset) as usize
    }

    fn sector_index(&self, zone: ZoneId, offset: u64) -> usize {
        assert_eq!(offset % self.sector_size, 0);
        ((self.zone_starts[zone] + offset) / self.sector_size) as usize
    }

    fn sector_indexes(&self, zone: ZoneId, offset: u64, len: u64) -> std::ops::Range<usize> {
        let first = self.sector_index(zone, offset);
        first..first + (len / self.sector_size) as usize
    }
}

/// Whether any bit of `range` is set, read a word at a time from the raw words (the generic
/// sub-slice and its `any` cost more than the few words a slot's sectors span).
fn any_in(bits: &BitVec, range: std::ops::Range<usize>) -> bool {
    assert!(range.start <= range.end && range.end <= bits.len());
    let words = bits.as_raw_slice();
    let word_bits = usize::BITS as usize;
    let mut start = range.start;
    while start < range.end {
        let (word, bit) = (start / word_bits, start % word_bits);
        let count = (word_bits - bit).min(range.end - start);
        let mask = if count == word_bits {
            usize::MAX
        } else {
            ((1usize << count) - 1) << bit
        };
        if words[word] & mask != 0 {
            return true;
        }
        start += count;
    }
    false
}

/// The bit a sticky read flip flips in a sector: a hash of the disk seed, the sector index and
/// the sector's content, so every retry of the same sector and content sees the same flip.
fn read_flip_bit(seed: u64, sector: u64, bytes: &[u8]) -> usize {
    const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ seed.rotate_left(17) ^ sector;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    let bit = (hash % (bytes.len() as u64 * 8)) as usize;
    assert!(bit < bytes.len() * 8);
    bit
}

/// One bit per chunk, per zone.
fn zones_chunk_bits(chunk_counts: &[u64]) -> Vec<BitVec> {
    chunk_counts
        .iter()
        .map(|&count| BitVec::repeat(false, count as usize))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_in_answers_what_the_bits_say() {
        // Every range of bitmaps across word boundaries, each with one bit or none set.
        for len in [1usize, 63, 64, 65, 130] {
            for set in std::iter::once(None).chain((0..len).map(Some)) {
                let mut bits: BitVec = BitVec::repeat(false, len);
                if let Some(set) = set {
                    bits.set(set, true);
                }
                for start in 0..=len {
                    for end in start..=len {
                        let expected = set.is_some_and(|set| (start..end).contains(&set));
                        assert_eq!(
                            any_in(&bits, start..end),
                            expected,
                            "{len} {set:?} {start}..{end}"
                        );
                    }
                }
            }
        }
    }

    fn disk(seed: u64, faults: FaultConfig) -> Disk {
        Disk::new(DiskOptions {
            replica: 0,
            seed,
            sector_size: 512,
            zones: vec![ZoneSpec {
                name: "data".into(),
                size: 512 * 64,
                slot_size: 512 * 4,
                chunk_size: 512 * 8,
            }],
            faults,
            faulty_chunks: None,
        })
    }

    /// Completions come out sorted by ready tick, ties by the seeded draw: exactly the order of
    /// `order_key` over everything submitted, whatever the submission order.
    #[test]
    fn completions_in_ready_tick_order() {
        let faults = FaultConfig {
            read_latency_ticks_min: 1,
            read_latency_ticks_mean: 20,
            write_latency_ticks_min: 2,
            write_latency_ticks_mean: 30,
            ..FaultConfig::default()
        };
        for seed in 0..20 {
            let mut disk = disk(seed, faults.clone());
            let mut keys = Vec::new();
            for id in 0..40_u64 {
                let tick = id / 4;
                let offset = (id % 64) * 512;
                if id % 3 == 0 {
                    disk.submit_write(tick, id, 0, offset, &[id as u8; 512]);
                } else {
                    disk.submit_read(tick, id, 0, offset, 512);
                }
                let pending = disk.pending.last().expect("pushed");
                keys.push((pending.order_key(), id));
            }
            keys.sort_unstable();
            let mut polled = Vec::new();
            let mut tick = 9;
            while disk.pending_count() > 0 {
                while let Some(completion) = disk.poll_completion(tick) {
                    polled.push(completion.id);
                }
                // Everything ready by now has completed, nothing else has.
                let ready_count = keys.iter().filter(|(key, _)| key.0 <= tick).count();
                assert_eq!(polled.len(), ready_count);
                if let Some(next_ready_tick) = disk.next_ready_tick() {
                    assert!(next_ready_tick > tick);
                }
                tick += 1;
            }
            let expected: Vec<u64> = keys.iter().map(|(_, id)| *id).collect();
            assert_eq!(polled, expected);
        }
    }

    /// A read polled into the caller's buffer returns the bytes, faults and draws a read polled
    /// into the disk's own buffer does, and a failed one leaves the caller's buffer untouched.
    #[test]
    fn reads_into_a_buffer_match_reads_into_the_disk() {
        let faults = FaultConfig {
            read_bit_flip_probability: 0.2,
            write_bit_flip_probability: 0.1,
            misdirected_read_probability: 0.2,
            misdirected_write_probability: 0.1,
            latent_sector_error_probability: 0.1,
            ..FaultConfig::default()
        };
        let run = |into: bool| {
            let mut disk = disk(11, faults.clone());
            disk.set_faults_enabled(true);
            let mut outcomes = Vec::new();
            let mut buffer = vec![0_u8; 4 * 512];
            let len_of = |id: u64| ((1 + id % 4) * 512) as usize;
            for id in 0..400_u64 {
                let tick = id * 10;
                let offset = (id * 7 % 60) * 512;
                if id % 3 == 0 {
                    disk.submit_write(tick, id, 0, offset, &vec![id as u8; len_of(id)]);
                } else {
                    disk.submit_read(tick, id, 0, offset, len_of(id) as u64);
                }
                while let Some(completion) = disk.poll_completion_into(tick, |id| {
                    buffer.fill(0xee);
                    (into && id % 2 == 1).then(|| &mut buffer[..len_of(id)])
                }) {
                    let len = len_of(completion.id);
                    let read_ok = completion.kind == IoKind::Read && completion.result.is_ok();
                    let bytes = if completion.kind == IoKind::Write {
                        assert!(disk.completed_read_data().is_empty());
                        None
                    } else if into && completion.id % 2 == 1 {
                        assert!(disk.completed_read_data().is_empty());
                        if completion.result.is_err() {
                            assert!(buffer.iter().all(|&byte| byte == 0xee));
                        }
                        read_ok.then(|| buffer[..len].to_vec())
                    } else {
                        read_ok.then(|| disk.completed_read_data().to_vec())
                    };
                    outcomes.push((completion.id, completion.result, bytes));
                }
            }
            (outcomes, disk.fault_log().records().to_vec())
        };
        let (within, faults_within) = run(false);
        let (into, faults_into) = run(true);
        assert_eq!(within.len(), into.len());
        for (within, into) in within.iter().zip(&into) {
            assert!(within == into, "read {} differs", within.0);
        }
        assert_eq!(faults_within, faults_into);
        // The run read, failed reads and altered reads alike.
        assert!(within.iter().any(|(_, result, _)| result.is_err()));
        assert!(faults_within
            .iter()
            .any(|r| r.kind == FaultKind::ReadBitFlip));
    }

    /// A sticky read flip flips the bit the hash of the sector's current bytes names, read
    /// after read, and another bit once the bytes changed under it (a write bit flip).
    #[test]
    fn sticky_read_flip_follows_the_bytes() {
        let faults = FaultConfig {
            read_bit_flip_probability: 1.0,
            ..FaultConfig::default()
        };
        let mut disk = disk(7, faults);
        disk.poke(0, 0, &[0x5a; 512]);
        let read = |disk: &mut Disk, tick: u64| {
            disk.submit_read(tick, tick, 0, 0, 512);
            let completion = disk.poll_completion(tick + 1000).expect("ready");
            assert_eq!(completion.result, Ok(()));
            disk.completed_read_data().to_vec()
        };
        let expected = |disk: &Disk| {
            let mut bytes = disk.peek(0, 0, 512).to_vec();
            let bit = read_flip_bit(7, 0, &bytes);
            bytes[bit / 8] ^= 1 << (bit % 8);
            bytes
        };
        let first = read(&mut disk, 0);
        assert!(disk.sectors_read_flipped[0]);
        assert_eq!(first, expected(&disk));
        assert_eq!(read(&mut disk, 2000), first);
        // Bit rot under the sticky flip: the flip follows the new bytes.
        disk.set_faults_enabled(true);
        disk.sector_rot(4000, 0, 0, 3);
        assert!(disk.sectors_read_flipped[0]);
        let after = read(&mut disk, 4000);
        assert_eq!(after, expected(&disk));
        assert_eq!(read(&mut disk, 6000), after);
    }

    #[test]
    fn read_flip_bit_is_deterministic_and_in_range() {
        let bytes = [7_u8; 512];
        assert_eq!(read_flip_bit(1, 2, &bytes), read_flip_bit(1, 2, &bytes));
        assert!(read_flip_bit(1, 2, &bytes) < 512 * 8);
    }
}
