//! Recovery: one scenario per case of the decision table (`@A`…`@P`), the `cut_torn`
//! refinement, a solo replica's unrecoverable slots, view dropping, and crashes at every write
//! boundary of a small workload.
//!
//! Every scenario builds its disk from real writes, then edits bytes the way a crash or a fault
//! would, recovers a fresh journal over the result and checks, from outside the journal: each
//! slot's (case, decision), the in-memory state it leaves, what was written back, and that every
//! read returns exactly the bytes written for its checksum.

mod support;

use journal::{
    format, Config, Decision, Event, Header, HeaderError, IoKind, Journal, ReadPurpose, ReadReject,
    RecoveryContext, RecoveryError, SlotRecovery, Status, WriteOutcome, WriteStart, Zone,
    HEADER_SIZE,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use support::*;

const SEED: u64 = 0x00c0_ffee;

// ---------------------------------------------------------------- helpers

/// Body sizes that give one- to four-sector prepares.
fn body_size(op: u64) -> usize {
    (op as usize * 389 + 90) % 1800
}

/// Runs recovery on a fresh journal over the disk, keeping the events it emitted (the harness's
/// own `recover` discards them) and recording only the writes recovery itself makes.
fn recover_journal(h: &mut Harness, context: RecoveryContext) -> Vec<Event> {
    h.journal = Journal::new(h.config, CLUSTER, h.solo).expect("valid config");
    h.pending.clear();
    h.events.clear();
    h.writes_applied.clear();
    h.journal.recover(context);
    h.run();
    let events = h.take_events();
    assert_eq!(
        events.last(),
        Some(&Event::RecoveryDone),
        "recovery did not finish: {events:?}"
    );
    events
}

/// Reads `(op, checksum)` through the journal's read path.
fn read_back(h: &mut Harness, op: u64, checksum: u32) -> Result<Vec<u8>, ReadReject> {
    h.journal.read_prepare(op, checksum, ReadPurpose::Commit)?;
    h.run();
    let events = h.take_events();
    let results: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::ReadDone {
                op: o,
                checksum: c,
                result,
            } if *o == op && *c == checksum => Some(*result),
            _ => None,
        })
        .collect();
    assert_eq!(results.len(), 1, "{events:?}");
    let handle = results[0]?;
    let bytes = h.journal.read_message(handle).to_vec();
    h.journal.read_release(handle);
    Ok(bytes)
}

/// The redundant header bytes of `slot` on disk.
fn disk_redundant(h: &Harness, slot: u64) -> Result<Header, HeaderError> {
    Header::decode(&h.wal_headers[(slot * HEADER_SIZE) as usize..][..HEADER_SIZE as usize])
}

/// The prepare in `slot` on disk, if it verifies in full (header, body, padding).
fn disk_prepare(h: &Harness, slot: u64) -> Option<Header> {
    let size_max = h.config.message_size_max as usize;
    let bytes = &h.wal_prepares[slot as usize * size_max..][..size_max];
    let header = Header::decode(bytes).ok()?;
    let size = header.size as usize;
    if size < HEADER_SIZE as usize || size > size_max {
        return None;
    }
    if !header.valid_checksum_body(&bytes[HEADER_SIZE as usize..size]) {
        return None;
    }
    let size_ceil = h.config.sector_ceil(size as u64) as usize;
    bytes[size..size_ceil]
        .iter()
        .all(|&b| b == 0)
        .then_some(header)
}

/// What every recovery must leave, whatever the disk held: events that match the decisions, no
/// slot both loaded and faulty, `prepare_checksums` that vouch only for prepares really on disk,
/// clean slots that match the disk, and reads that return exactly what was written.
fn check_recovered(h: &mut Harness, events: &[Event], by_checksum: &HashMap<u32, Vec<u8>>) {
    assert_eq!(h.journal.status(), Status::Recovered);
    assert!(h.journal.io_idle());
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Event::RecoveryDone))
            .count(),
        1
    );
    let recoveries: Vec<(u64, SlotRecovery)> = h.journal.slot_recoveries().collect();
    assert_eq!(recoveries.len() as u64, h.config.slot_count);
    // A solo replica reports every vsr slot, in slot order; a cluster reports none.
    let unrecoverable_expected: Vec<Event> = recoveries
        .iter()
        .filter(|(_, r)| h.solo && r.decision == Decision::Vsr)
        .map(|&(slot, r)| Event::Unrecoverable {
            slot,
            label: r.label,
        })
        .collect();
    let unrecoverable: Vec<Event> = events
        .iter()
        .filter(|e| matches!(e, Event::Unrecoverable { .. }))
        .copied()
        .collect();
    assert_eq!(unrecoverable, unrecoverable_expected);
    match unrecoverable.first() {
        Some(&Event::Unrecoverable { slot, label }) => assert_eq!(
            h.journal.recovery_result(),
            Err(RecoveryError::Unrecoverable { slot, label })
        ),
        _ => assert_eq!(h.journal.recovery_result(), Ok(())),
    }
    for slot in 0..h.config.slot_count {
        let header = *h.journal.header(slot);
        assert!(header.is_ok_for_slot(CLUSTER, slot, h.config.slot_count));
        if h.journal.faulty(slot) {
            // Recovery never loads a header into a slot and marks it faulty.
            assert!(header.is_reserved(), "slot {slot}: loaded and faulty");
            assert!(h.journal.dirty(slot));
            assert!(
                !h.journal.header_redundant(slot).valid_checksum(),
                "slot {slot}: a faulty slot's redundant header must be invalid"
            );
        } else {
            assert!(!h.journal.dirty(slot), "slot {slot}: dirty after recovery");
            assert_eq!(h.journal.header_redundant(slot), &header, "slot {slot}");
        }
        if let Some(checksum) = h.journal.prepare_checksum(slot) {
            assert_eq!(
                disk_prepare(h, slot).map(|p| p.checksum),
                Some(checksum),
                "slot {slot}: prepare_checksums vouches for a prepare not on disk"
            );
        }
        if !header.is_reserved() {
            assert_eq!(h.journal.prepare_checksum(slot), Some(header.checksum));
        }
    }
    h.check_disk_matches_memory();
    for slot in 0..h.config.slot_count {
        let header = *h.journal.header(slot);
        if header.is_reserved() {
            continue;
        }
        let written = by_checksum
            .get(&header.checksum)
            .unwrap_or_else(|| panic!("slot {slot}: op {} was never written", header.op));
        assert_eq!(
            read_back(h, header.op, header.checksum).as_ref(),
            Ok(written),
            "slot {slot}: read returned other bytes"
        );
    }
}

/// A disk built from real writes, and what each slot should hold after recovery.
struct World {
    h: Harness,
    /// The newest header of each op (parents chain to these).
    chain: BTreeMap<u64, Header>,
    /// The header each slot loads if it recovers `eql` or `fix`; `None`: it ends reserved.
    expect_loaded: Vec<Option<Header>>,
    /// Every message ever written, by checksum.
    by_checksum: HashMap<u32, Vec<u8>>,
}

impl World {
    fn new(solo: bool) -> World {
        let h = Harness::new(config_small(), solo, SEED);
        let root = Header::root(CLUSTER);
        let mut expect_loaded = vec![None; h.config.slot_count as usize];
        expect_loaded[0] = Some(root);
        World {
            h,
            chain: BTreeMap::from([(0, root)]),
            expect_loaded,
            by_checksum: HashMap::from([(root.checksum, root.to_bytes().to_vec())]),
        }
    }

    fn slot(&self, op: u64) -> u64 {
        op % self.h.config.slot_count
    }

    /// The next prepare for `op` in `view`, chained to the newest header of `op - 1`.
    fn message(&self, op: u64, view: u32) -> Vec<u8> {
        message(op, view, self.chain[&(op - 1)].checksum, body_size(op))
    }

    fn record(&mut self, message: &[u8]) {
        let header = header_of(message);
        self.chain.insert(header.op, header);
        let slot = self.slot(header.op) as usize;
        self.expect_loaded[slot] = Some(header);
        self.by_checksum.insert(header.checksum, message.to_vec());
    }

    /// Writes `ops` one at a time, each to completion.
    fn write(&mut self, ops: std::ops::RangeInclusive<u64>, view: u32) {
        for op in ops {
            let m = self.message(op, view);
            assert_eq!(self.h.append(&m), WriteStart::Started);
            self.h.run();
            let events = self.h.take_events();
            assert!(
                events.contains(&Event::WriteDone {
                    op,
                    checksum: header_of(&m).checksum,
                    outcome: WriteOutcome::Written
                }),
                "{events:?}"
            );
            self.record(&m);
        }
    }

    /// Writes `op`'s prepare, then crashes before its redundant-header sector is written.
    fn write_prepare_then_crash(&mut self, op: u64, view: u32) -> Vec<u8> {
        let m = self.message(op, view);
        assert_eq!(self.h.append(&m), WriteStart::Started);
        let index = self.h.find(IoKind::Write, Zone::WalPrepares).unwrap();
        self.h.complete(index);
        assert_eq!(self.h.pending.len(), 1);
        assert_eq!(self.h.pending[0].request.zone, Zone::WalHeaders);
        self.h.crash_with(|_, _| false);
        self.h.take_events();
        self.record(&m);
        m
    }

    /// Flips a byte inside the slot's redundant header: its checksum fails.
    fn corrupt_redundant(&mut self, slot: u64) {
        self.h.wal_headers[(slot * HEADER_SIZE) as usize + 40] ^= 0x5a;
        assert!(disk_redundant(&self.h, slot).is_err());
    }

    /// Flips the first byte after the prepare's header (body or padding): the header still
    /// decodes, the prepare does not verify.
    fn corrupt_prepare(&mut self, slot: u64) {
        let offset = (slot * self.h.config.message_size_max + HEADER_SIZE) as usize;
        self.h.wal_prepares[offset] ^= 0x5a;
        let size_max = self.h.config.message_size_max as usize;
        assert!(Header::decode(&self.h.wal_prepares[slot as usize * size_max..]).is_ok());
        assert!(disk_prepare(&self.h, slot).is_none());
    }

    /// A prepare write of `message` torn by a crash: every sector but the first landed, and the
    /// first landed only its first 8 bytes, so the prepare's own header checksum fails.
    fn tear_prepare(&mut self, message: &[u8]) {
        let slot = self.slot(header_of(message).op);
        let sector = self.h.config.sector_size as usize;
        let mut padded = message.to_vec();
        padded.resize(self.h.config.sector_ceil(message.len() as u64) as usize, 0);
        let base = (slot * self.h.config.message_size_max) as usize;
        self.h.wal_prepares[base..base + 8].copy_from_slice(&padded[..8]);
        if padded.len() > sector {
            self.h.wal_prepares[base + sector..base + padded.len()]
                .copy_from_slice(&padded[sector..]);
        }
        assert!(Header::decode(&self.h.wal_prepares[base..]).is_err());
    }

    /// Puts `bytes` (a whole prepare) in the slot's prepare, zero-padded to a sector.
    fn set_prepare(&mut self, slot: u64, bytes: &[u8]) {
        let base = (slot * self.h.config.message_size_max) as usize;
        let size_ceil = self.h.config.sector_ceil(bytes.len() as u64) as usize;
        self.h.wal_prepares[base..base + size_ceil].fill(0);
        self.h.wal_prepares[base..base + bytes.len()].copy_from_slice(bytes);
        assert!(disk_prepare(&self.h, slot).is_some());
    }

    /// The slot's prepare as freshly formatted: a reserved header (a lost prepare write).
    fn format_prepare(&mut self, slot: u64) {
        let bytes = format::wal_prepare(&self.h.config, CLUSTER, slot);
        self.set_prepare(slot, &bytes);
    }

    fn set_redundant(&mut self, slot: u64, header: &Header) {
        header.encode(
            &mut self.h.wal_headers[(slot * HEADER_SIZE) as usize..][..HEADER_SIZE as usize],
        );
    }

    fn recover(&mut self, context: RecoveryContext) -> Vec<Event> {
        recover_journal(&mut self.h, context)
    }

    /// Checks every slot: the listed ones against their expected case and decision, the rest
    /// `@P`/`eql` where a header is expected and `@L`/`nil` elsewhere; the state each decision
    /// leaves; and that recovery wrote exactly the header sectors holding `fix` slots.
    fn check(&mut self, events: &[Event], expect: &[(u64, &'static str, Decision)]) {
        let h = &self.h;
        let headers_per_sector = h.config.headers_per_sector();
        let sector_size = h.config.sector_size;
        let recoveries: BTreeMap<u64, SlotRecovery> = h.journal.slot_recoveries().collect();
        let mut fix_sectors = BTreeSet::new();
        let mut vsr_slots = Vec::new();
        for slot in 0..h.config.slot_count {
            let (label, decision) = expect
                .iter()
                .find(|e| e.0 == slot)
                .map(|e| (e.1, e.2))
                .unwrap_or(match self.expect_loaded[slot as usize] {
                    Some(_) => ("@P", Decision::Eql),
                    None => ("@L", Decision::Nil),
                });
            let got = recoveries[&slot];
            assert_eq!(
                (got.label, got.decision),
                (label, decision),
                "slot {slot}: case and decision"
            );
            let reserved = Header::reserved(CLUSTER, slot);
            let header = *h.journal.header(slot);
            match decision {
                Decision::Eql | Decision::Fix => {
                    let want = self.expect_loaded[slot as usize].unwrap_or(reserved);
                    assert_eq!(header, want, "slot {slot}: loaded header");
                    assert!(!h.journal.dirty(slot) && !h.journal.faulty(slot));
                    assert_eq!(h.journal.header_redundant(slot), &want);
                    let checksum = (!want.is_reserved()).then_some(want.checksum);
                    assert_eq!(h.journal.prepare_checksum(slot), checksum);
                    if decision == Decision::Fix {
                        fix_sectors.insert(slot / headers_per_sector);
                        assert_eq!(
                            disk_redundant(h, slot),
                            Ok(want),
                            "slot {slot}: repaired header on disk"
                        );
                    }
                }
                Decision::Nil | Decision::Cut | Decision::CutTorn => {
                    assert_eq!(header, reserved, "slot {slot}: truncated or unused");
                    assert!(!h.journal.dirty(slot) && !h.journal.faulty(slot));
                    assert_eq!(h.journal.header_redundant(slot), &reserved);
                    if decision == Decision::Nil {
                        assert_eq!(h.journal.prepare_checksum(slot), None);
                    }
                }
                Decision::Vsr => {
                    assert_eq!(header, reserved, "slot {slot}: vsr loads nothing");
                    assert!(h.journal.dirty(slot) && h.journal.faulty(slot));
                    assert!(!h.journal.header_redundant(slot).valid_checksum());
                    vsr_slots.push(slot);
                }
            }
        }
        let writes_expected: Vec<(Zone, u64, u64)> = fix_sectors
            .iter()
            .map(|&sector| (Zone::WalHeaders, sector * sector_size, sector_size))
            .collect();
        assert_eq!(
            h.writes_applied, writes_expected,
            "recovery writes exactly the header sectors of fix slots"
        );
        for slot in vsr_slots {
            if fix_sectors.contains(&(slot / headers_per_sector)) {
                assert_eq!(
                    disk_redundant(h, slot),
                    Err(HeaderError::ChecksumInvalid),
                    "slot {slot}: a vsr slot's header is written back invalid"
                );
            }
        }
        check_recovered(&mut self.h, events, &self.by_checksum);
    }
}

// ---------------------------------------------------------------- one scenario per case

use Decision::{Cut, CutTorn, Eql, Fix, Vsr};

/// @A. Ops 1..=5 written; then both copies of op 3 are broken (its redundant header and its
/// prepare body). Nothing local is left: vsr for a cluster. A solo replica appends a pipeline at
/// once and crashes only, so within a pipeline of the head this is op 3's append torn beside a
/// header sector torn by a neighbour's write: cut (the replica then truncates at the hole). More
/// than a pipeline below the head it is reported.
#[test]
fn case_a_both_copies_bad() {
    for (solo, last, decision) in [(false, 5, Vsr), (true, 5, CutTorn), (true, 8, Vsr)] {
        let mut w = World::new(solo);
        w.write(1..=last, 0);
        w.corrupt_redundant(3);
        w.corrupt_prepare(3);
        w.expect_loaded[3] = None;
        let events = w.recover(context(0));
        w.check(&events, &[(3, "@A", decision)]);
    }
}

/// @B. Ops 1..=5 written in a cluster's first wrap, op 3's prepare write torn while ops 4 and 5
/// completed: its redundant header is still reserved, its prepare broken. Not at the head, so
/// not a torn append: vsr for both kinds.
#[test]
fn case_b_reserved_header_broken_prepare() {
    // A solo replica writes up to a pipeline of appends at once and acknowledges an op only once
    // its header is durable: a reserved header beside a broken prepare within a pipeline of the
    // head is an append the crash tore while later ones landed. It is cut (the replica then
    // truncates its log at the hole). Op 3 lies more than a pipeline below the head in the second
    // run: vsr, unrecoverable, as for a cluster.
    for (solo, last, decision) in [(false, 5, Vsr), (true, 5, CutTorn), (true, 8, Vsr)] {
        let mut w = World::new(solo);
        w.write(1..=last, 0);
        w.set_redundant(3, &Header::reserved(CLUSTER, 3));
        w.corrupt_prepare(3);
        w.expect_loaded[3] = None;
        let events = w.recover(context(0));
        w.check(&events, &[(3, "@B", decision)]);
    }
}

/// @C. Ops 1..=5 written; op 3's prepare body rots. Its header is intact: vsr for both kinds.
#[test]
fn case_c_valid_header_broken_prepare() {
    for solo in [false, true] {
        let mut w = World::new(solo);
        w.write(1..=5, 0);
        w.corrupt_prepare(3);
        w.expect_loaded[3] = None;
        let events = w.recover(context(0));
        w.check(&events, &[(3, "@C", Vsr)]);
    }
}

/// @D. Ops 1..=2 written; the redundant header of never-used slot 9 rots (a torn header sector in
/// the first wrap). A cluster cannot tell it from a lost prepare write (vsr); a solo replica
/// trusts the reserved prepare and rewrites the reserved header (fix).
#[test]
fn case_d_broken_header_reserved_prepare() {
    for (solo, decision) in [(false, Vsr), (true, Fix)] {
        let mut w = World::new(solo);
        w.write(1..=2, 0);
        w.corrupt_redundant(9);
        let events = w.recover(context(0));
        w.check(&events, &[(9, "@D", decision)]);
        if solo {
            assert_eq!(disk_redundant(&w.h, 9), Ok(Header::reserved(CLUSTER, 9)));
        }
    }
}

/// @E. Ops 1..=5 written; op 3's redundant header rots (op 3 is not the head). A cluster repairs
/// from a peer (vsr, though the prepare stays vouched for); a solo replica fixes the header from
/// its prepare.
#[test]
fn case_e_broken_header_valid_prepare_below_head() {
    for (solo, decision) in [(false, Vsr), (true, Fix)] {
        let mut w = World::new(solo);
        w.write(1..=5, 0);
        let op3 = w.chain[&3];
        w.corrupt_redundant(3);
        if !solo {
            w.expect_loaded[3] = None;
        }
        let events = w.recover(context(0));
        w.check(&events, &[(3, "@E", decision)]);
        // The intact prepare is still vouched for, so peers can be served.
        assert_eq!(w.h.journal.prepare_checksum(3), Some(op3.checksum));
    }
}

/// @F. Ops 1..=5 written; then a crash tore the header sector of the head op 5 (its redundant
/// header does not decode). The head's prepare is intact: fix, for both kinds.
#[test]
fn case_f_broken_header_head_prepare() {
    for solo in [false, true] {
        let mut w = World::new(solo);
        w.write(1..=5, 0);
        w.corrupt_redundant(5);
        let events = w.recover(context(0));
        w.check(&events, &[(5, "@F", Fix)]);
    }
}

/// @G. Ops 1..=4 written; op 5's prepare reached the disk and the replica crashed before its
/// header sector was written: header reserved, prepare valid. Fix, for both kinds.
#[test]
fn case_g_reserved_header_valid_prepare() {
    for solo in [false, true] {
        let mut w = World::new(solo);
        w.write(1..=4, 0);
        w.write_prepare_then_crash(5, 0);
        assert_eq!(disk_redundant(&w.h, 5), Ok(Header::reserved(CLUSTER, 5)));
        let events = w.recover(context(0));
        w.check(&events, &[(5, "@G", Fix)]);
    }
}

/// @H. A cluster replica wrote ops 1..=17 (the ring wrapped) but its durable checkpoint is op 4,
/// so op_prepare_max is 16: op 17 was prepared before the checkpoint that allows it was durable.
/// Its slot is cut.
#[test]
fn case_h_prepare_beyond_op_prepare_max() {
    let mut w = World::new(false);
    w.write(1..=17, 0);
    w.expect_loaded[1] = None;
    let events = w.recover(context(4));
    w.check(&events, &[(1, "@H", Cut)]);
}

/// @H on a solo replica. A solo replica never prepares past op_prepare_max, so the entry past it
/// in slot 1 came from damage (here: a stale or misdirected sector holding op 17's valid
/// prepare). The file WAL on the simulated file met this and panicked (the table said `unr`);
/// the slot's own entry is lost, and recovery must say so: vsr, unrecoverable for a solo
/// replica.
#[test]
fn case_h_on_a_solo_replica_is_damage_and_reported() {
    let mut w = World::new(true);
    w.write(1..=17, 0);
    w.expect_loaded[1] = None;
    let events = w.recover(context(4));
    w.check(&events, &[(1, "@H", Vsr)]);
}

/// @H in the first wrap. Ops 1..=14 written, durable checkpoint 0 with op_prepare_max 12:
/// slots 13 and 14 are cut; the unused slot 15 (whose reserved op exceeds 12) stays @L.
#[test]
fn case_h_in_the_first_wrap() {
    let mut w = World::new(false);
    w.write(1..=14, 0);
    w.expect_loaded[13] = None;
    w.expect_loaded[14] = None;
    let events = w.recover(context(0));
    w.check(&events, &[(13, "@H", Cut), (14, "@H", Cut)]);
}

/// @I. A cluster replica wrote ops 1..=17; the prepare write of op 17 was lost (slot 1 still holds
/// op 1's prepare) while its header sector landed. Checkpoint op 4, op_prepare_max 16: the header
/// is beyond it, the prepare older. Cut.
#[test]
fn case_i_header_beyond_op_prepare_max_prepare_older() {
    let mut w = World::new(false);
    w.write(1..=17, 0);
    let op1 = w.by_checksum[&w.chain[&1].checksum].clone();
    w.set_prepare(1, &op1);
    w.expect_loaded[1] = None;
    let events = w.recover(context(4));
    w.check(&events, &[(1, "@I", Cut)]);
}

/// @J. A cluster replica wrote ops 1..=17; slot 1's prepare is a reserved one (a lost write over
/// a slot that was never used, or misdirected). Header op 17 beyond op_prepare_max 16: cut.
#[test]
fn case_j_header_beyond_op_prepare_max_prepare_reserved() {
    let mut w = World::new(false);
    w.write(1..=17, 0);
    w.format_prepare(1);
    w.expect_loaded[1] = None;
    let events = w.recover(context(4));
    w.check(&events, &[(1, "@J", Cut)]);
}

/// @J in the first wrap. A cluster replica wrote ops 1..=13 with its durable checkpoint still at
/// 0 (op_prepare_max 12), and op 13's prepare write was lost (slot 13 holds its formatted,
/// reserved prepare). Header op 13 > 12, prepare reserved: cut. The reserved prepare's op is its
/// slot index, 13, which is also above op_prepare_max.
#[test]
fn case_j_in_the_first_wrap() {
    let mut w = World::new(false);
    w.write(1..=13, 0);
    w.format_prepare(13);
    w.expect_loaded[13] = None;
    let events = w.recover(context(0));
    w.check(&events, &[(13, "@J", Cut)]);
}

/// @K. Ops 1..=5 written; op 3's prepare write was lost (slot 3 holds its formatted reserved
/// prepare) though its header landed. vsr, for both kinds.
#[test]
fn case_k_valid_header_reserved_prepare() {
    for solo in [false, true] {
        let mut w = World::new(solo);
        w.write(1..=5, 0);
        w.format_prepare(3);
        w.expect_loaded[3] = None;
        let events = w.recover(context(0));
        w.check(&events, &[(3, "@K", Vsr)]);
    }
}

/// @L. A freshly formatted WAL: the root in slot 0, every other slot never used: nil.
#[test]
fn case_l_never_used() {
    for solo in [false, true] {
        let mut w = World::new(solo);
        let events = w.recover(context(0));
        w.check(&events, &[]);
        assert_eq!(w.h.journal.op_maximum(), 0);
    }
}

/// @M. Ops 1..=16 written; op 17 (slot 1, over op 1) reached the prepare ring and the replica
/// crashed before its header sector: the header is op 1 from the older wrap. Fix, both kinds.
#[test]
fn case_m_header_from_older_wrap() {
    for solo in [false, true] {
        let mut w = World::new(solo);
        w.write(1..=16, 0);
        w.write_prepare_then_crash(17, 0);
        assert_eq!(disk_redundant(&w.h, 1).map(|h| h.op), Ok(1));
        let events = w.recover(context(5));
        w.check(&events, &[(1, "@M", Fix)]);
    }
}

/// @N. Ops 1..=17 written, but op 17's prepare write was lost (slot 1 still holds op 1's
/// prepare) while its header landed: the header is newer than the prepare. vsr, both kinds.
#[test]
fn case_n_prepare_from_older_wrap() {
    for solo in [false, true] {
        let mut w = World::new(solo);
        w.write(1..=17, 0);
        let op1 = w.by_checksum[&w.chain[&1].checksum].clone();
        w.set_prepare(1, &op1);
        w.expect_loaded[1] = None;
        let events = w.recover(context(5));
        w.check(&events, &[(1, "@N", Vsr)]);
    }
}

/// @O. Ops 1..=5 written in view 0; a view change truncated op 5 and the replica rewrote op 5 in
/// view 1: the prepare landed, the crash came before its header sector. Same op, different
/// checksum: vsr, both kinds.
#[test]
fn case_o_same_op_other_view() {
    for solo in [false, true] {
        let mut w = World::new(solo);
        w.write(1..=5, 0);
        w.h.journal.remove_entries_from(5);
        w.write_prepare_then_crash(5, 1);
        assert_eq!(disk_redundant(&w.h, 5).map(|h| h.view), Ok(0));
        w.expect_loaded[5] = None;
        let events = w.recover(context(0));
        w.check(&events, &[(5, "@O", Vsr)]);
    }
}

/// @P. Ops 1..=12 written with nothing wrong: every used slot is eql, the rest nil.
#[test]
fn case_p_normal() {
    for solo in [false, true] {
        let mut w = World::new(solo);
        w.write(1..=12, 0);
        let events = w.recover(context(0));
        w.check(&events, &[]);
        assert_eq!(w.h.journal.op_maximum(), 12);
    }
}

/// Ops 1..=5 written; the head's header sector (slots 4..=7) was torn (slot 5 does not decode)
/// and op 4's prepare rotted. The fix of slot 5 writes sector 1, which carries slot 4 with an
/// invalid checksum; after another crash slot 4 is still faulty (now @A), not reserved.
#[test]
fn vsr_beside_fix_is_written_invalid_and_stays_faulty() {
    for solo in [false, true] {
        let mut w = World::new(solo);
        w.write(1..=5, 0);
        w.corrupt_redundant(5);
        w.corrupt_prepare(4);
        w.expect_loaded[4] = None;
        let events = w.recover(context(0));
        w.check(&events, &[(4, "@C", Vsr), (5, "@F", Fix)]);
        assert_eq!(disk_redundant(&w.h, 4), Err(HeaderError::ChecksumInvalid));
        let events = w.recover(context(0));
        w.check(&events, &[(4, "@A", Vsr)]);
    }
}

// ---------------------------------------------------------------- cut_torn

/// A solo replica appends a pipeline at once: op 7's prepare and header landed, op 6's prepare
/// was torn by the crash (its header never written). Op 6 lies below the head recovery sees, yet
/// it is a torn append: a solo replica cuts it, and keeps op 7 for its protocol to truncate at
/// the hole. A cluster cannot tell it from a lost prepare (vsr).
#[test]
fn cut_torn_below_the_head_for_a_solo_pipeline() {
    for (solo, decision) in [(true, CutTorn), (false, Vsr)] {
        let mut w = World::new(solo);
        w.write(1..=5, 0);
        let m6 = w.message(6, 0);
        w.record(&m6);
        w.write(7..=7, 0);
        w.tear_prepare(&m6);
        w.expect_loaded[6] = None;
        let events = w.recover(context(0));
        w.check(&events, &[(6, "@B", decision)]);
        assert_eq!(w.h.journal.op_maximum(), 7);
        if solo {
            assert_eq!(w.h.journal.recovery_result(), Ok(()));
        }
    }
}

/// A solo replica wrote ops 1..=5 and crashed while appending op 6 in its first wrap: the prepare
/// is torn, the redundant header still reserved. Our departure from TigerBeetle: cut_torn, and
/// the replica comes back without an unrecoverable slot. A cluster does not cut a torn prepare
/// beside a reserved header (vsr).
#[test]
fn cut_torn_first_wrap() {
    for (solo, decision) in [(true, CutTorn), (false, Vsr)] {
        let mut w = World::new(solo);
        w.write(1..=5, 0);
        let m6 = w.message(6, 0);
        w.tear_prepare(&m6);
        let events = w.recover(context(0));
        w.check(&events, &[(6, "@B", decision)]);
        if solo {
            assert_eq!(w.h.journal.recovery_result(), Ok(()));
            assert!(!events
                .iter()
                .any(|e| matches!(e, Event::Unrecoverable { .. })));
        }
    }
}

/// Ops 1..=17 written (the ring wrapped); the append of op 18 into slot 2 (over op 2) was torn.
/// Durable checkpoint 6, op_prepare_max 18: op 2 is from before the checkpoint, op 18 is the only
/// op past the head. cut_torn as @C, for both kinds.
#[test]
fn cut_torn_older_wrap() {
    for solo in [false, true] {
        let mut w = World::new(solo);
        w.write(1..=17, 0);
        let m18 = w.message(18, 0);
        w.tear_prepare(&m18);
        w.expect_loaded[2] = None;
        let events = w.recover(context(6));
        w.check(&events, &[(2, "@C", CutTorn)]);
        assert_eq!(w.h.journal.op_maximum(), 17);
    }
}

/// The head at the checkpoint (17): op 18's append torn over an older wrap is cut, for both
/// kinds. Its slot (2) is not the checkpoint's (1), so nothing there can be the head.
#[test]
fn cut_torn_at_the_prepare_max_right_after_the_checkpoint() {
    for solo in [false, true] {
        let mut w = World::new(solo);
        w.write(1..=17, 0);
        let m18 = w.message(18, 0);
        w.tear_prepare(&m18);
        w.expect_loaded[2] = None;
        let events = w.recover(context(17));
        w.check(&events, &[(2, "@C", CutTorn)]);
        assert_eq!(w.h.journal.op_maximum(), 17);
    }
}

/// As `cut_torn_older_wrap` with checkpoint 8 (op_prepare_max 20, range 18..=20, slots 2..=4),
/// and a second fault inside the range, so the head is uncertain. Cluster: op 4's redundant
/// header rots (@E, vsr with no header): nothing is cut. Solo: @E is fix there and does not
/// count, so slot 2 is still cut; both copies of slot 4 broken past the head (@A) is, for a solo
/// replica appending a pipeline at once, op 20's append torn beside a header sector torn by a
/// neighbour's write: one crash, and both are cut.
#[test]
fn cut_torn_refused_when_the_head_is_uncertain() {
    let torn = |solo: bool| {
        let mut w = World::new(solo);
        w.write(1..=17, 0);
        let m18 = w.message(18, 0);
        w.tear_prepare(&m18);
        w.expect_loaded[2] = None;
        w
    };
    // Control: the single tear is cut.
    for solo in [false, true] {
        let mut w = torn(solo);
        let events = w.recover(context(8));
        w.check(&events, &[(2, "@C", CutTorn)]);
    }
    // Cluster: a vsr slot with a broken header in the range.
    let mut w = torn(false);
    w.corrupt_redundant(4);
    w.expect_loaded[4] = None;
    let events = w.recover(context(8));
    w.check(&events, &[(2, "@C", Vsr), (4, "@E", Vsr)]);
    // Solo: the same header fault is a fix and the tear is still cut.
    let mut w = torn(true);
    w.corrupt_redundant(4);
    let events = w.recover(context(8));
    w.check(&events, &[(2, "@C", CutTorn), (4, "@E", Fix)]);
    // Solo: both copies of op 4 lost.
    let mut w = torn(true);
    w.corrupt_redundant(4);
    w.corrupt_prepare(4);
    w.expect_loaded[4] = None;
    let events = w.recover(context(8));
    w.check(&events, &[(2, "@C", CutTorn), (4, "@A", CutTorn)]);
    assert_eq!(w.h.journal.recovery_result(), Ok(()));
}

/// A fault recorded by one recovery survives the next, even where the prepare is the head: op 5's
/// header names view 0 and its prepare is another version (view 1), so recovery decides `@O vsr`
/// and writes the header invalid. Recovered again, the header is bad and the prepare is the head
/// (`@F`), but fixing the header from that prepare would make the version recovery distrusted
/// clean: it stays `vsr`. (Found by the VOPR's acked checker, seed 1791.)
#[test]
fn recorded_fault_is_not_fixed_from_the_prepare_it_distrusted() {
    let mut w = World::new(false);
    w.write(1..=5, 0);
    let other = message(5, 1, w.chain[&4].checksum, body_size(5) + 1);
    w.set_prepare(5, &other);
    w.expect_loaded[5] = None;
    let events = w.recover(context(0));
    w.check(&events, &[(5, "@O", Vsr)]);
    // A later write of the slot's header sector (a neighbour's append) carries the fault.
    assert!(!w.h.journal.header_redundant(5).valid_checksum());
    let recorded = *w.h.journal.header_redundant(5);
    w.set_redundant(5, &recorded);
    assert_eq!(disk_redundant(&w.h, 5), Err(HeaderError::ChecksumInvalid));
    let events = w.recover(context(0));
    w.check(&events, &[(5, "@F", Vsr)]);
}

/// A solo replica in its first wrap: the append of op 6 was torn, and the never-used slot 8 shows
/// a valid header over a reserved prepare (@K: a lost prepare write, which no crash makes). A
/// second fault past the head: nothing is cut, and both are reported. (Slot 8 losing both copies
/// instead would be `@A`: an append torn beside a torn header sector, one crash, cut.)
#[test]
fn cut_torn_refused_first_wrap_with_a_second_fault() {
    for (k, expect_cut) in [(true, false), (false, true)] {
        let mut w = World::new(true);
        w.write(1..=5, 0);
        let m6 = w.message(6, 0);
        w.tear_prepare(&m6);
        if k {
            let m8 = message(8, 0, 0, body_size(8));
            w.set_redundant(8, &header_of(&m8));
        } else {
            w.corrupt_redundant(8);
            let base = (8 * w.h.config.message_size_max) as usize;
            w.h.wal_prepares[base..base + 512].fill(0xa5);
        }
        let events = w.recover(context(0));
        if expect_cut {
            w.check(&events, &[(6, "@B", CutTorn), (8, "@A", CutTorn)]);
            assert_eq!(w.h.journal.recovery_result(), Ok(()));
        } else {
            w.check(&events, &[(6, "@B", Vsr), (8, "@K", Vsr)]);
            assert_eq!(
                w.h.journal.recovery_result(),
                Err(RecoveryError::Unrecoverable {
                    slot: 6,
                    label: "@B"
                })
            );
        }
    }
}

/// A cluster wrote ops 1..=17, then appended ops 18.. concurrently and crashed with every one of
/// those prepares torn. Checkpoint 9 (op_prepare_max 21, range 18..=21). Up to iops_write_max (3)
/// torn slots are cut; four cannot all be in flight at once, so none is cut.
#[test]
fn cut_torn_at_most_iops_write_max() {
    for (torn_count, decision) in [(3u64, CutTorn), (4, Vsr)] {
        let mut w = World::new(false);
        w.write(1..=17, 0);
        let mut expect = Vec::new();
        for op in 18..18 + torn_count {
            let m = w.message(op, 0);
            w.chain.insert(op, header_of(&m));
            w.tear_prepare(&m);
            let slot = w.slot(op);
            w.expect_loaded[slot as usize] = None;
            expect.push((slot, "@C", decision));
        }
        let events = w.recover(context(9));
        w.check(&events, &expect);
    }
}

/// A solo replica crashed while appending op 6, a three-sector prepare, and only its first sector
/// landed: the prepare's header is valid, its body is not. A solo replica has no misdirected
/// writes, so a valid header for this slot past the head over a broken body is the interrupted
/// append: cut_torn (recovery.rs since f220103; DESIGN §2.6 still asks for an invalid prepare
/// checksum). A cluster cannot rule out misdirection: vsr.
#[test]
fn torn_append_with_its_header_sector_landed() {
    for (solo, decision) in [(true, CutTorn), (false, Vsr)] {
        let mut w = World::new(solo);
        w.write(1..=5, 0);
        let m6 = message(6, 0, w.chain[&5].checksum, 1200);
        assert_eq!(w.h.append(&m6), WriteStart::Started);
        let sector = w.h.config.sector_size as usize;
        w.h.crash_with(|_, _| false);
        let base = (6 * w.h.config.message_size_max) as usize;
        w.h.wal_prepares[base..base + sector].copy_from_slice(&m6[..sector]);
        let events = w.recover(context(0));
        w.check(&events, &[(6, "@B", decision)]);
    }
}

/// Ops 1..=17 written; the append of op 18 (four sectors) into slot 2 was torn with its first
/// sector lost: slot 2 still shows op 2's prepare header, over a body that is now part op 2,
/// part op 18. Checkpoint 6, op_prepare_max 18. A solo replica (crashes only) knows this is the
/// interrupted append and cuts it; a cluster cannot rule out a misdirected write of op 2 and
/// keeps it vsr.
#[test]
fn torn_append_over_an_older_wrap_with_its_first_sector_lost() {
    for (solo, decision) in [(true, CutTorn), (false, Vsr)] {
        let mut w = World::new(solo);
        w.write(1..=17, 0);
        let m18 = w.message(18, 0);
        let sector = w.h.config.sector_size as usize;
        assert!(m18.len() > 3 * sector);
        let base = (2 * w.h.config.message_size_max) as usize;
        w.h.wal_prepares[base + sector..base + m18.len()].copy_from_slice(&m18[sector..]);
        assert_eq!(
            Header::decode(&w.h.wal_prepares[base..]).map(|h| h.op),
            Ok(2)
        );
        assert!(disk_prepare(&w.h, 2).is_none());
        w.expect_loaded[2] = None;
        let events = w.recover(context(6));
        w.check(&events, &[(2, "@C", decision)]);
    }
}

// ---------------------------------------------------------------- solo vsr, views

/// A solo replica wrote ops 1..=6; op 3's prepare rotted (not the head). There is no peer: the
/// slot is reported as a typed error and an event, and the message names slot and case.
#[test]
fn solo_vsr_is_a_typed_error() {
    let mut w = World::new(true);
    w.write(1..=6, 0);
    w.corrupt_prepare(3);
    w.expect_loaded[3] = None;
    let events = w.recover(context(0));
    w.check(&events, &[(3, "@C", Vsr)]);
    let error = RecoveryError::Unrecoverable {
        slot: 3,
        label: "@C",
    };
    assert_eq!(w.h.journal.recovery_result(), Err(error));
    assert_eq!(
        events,
        [
            Event::Unrecoverable {
                slot: 3,
                label: "@C"
            },
            Event::RecoveryDone
        ]
    );
    let text = error.to_string();
    assert!(
        text.contains("slot 3") && text.contains("@C"),
        "message names slot and case: {text}"
    );
}

/// Ops 1..=5 written in view 0; the replica then joined view 2, truncated op 5 and rewrote it in
/// view 2, and crashed before view 2 was durable: its durable log view is 1, with op 4 (view 0)
/// as the last view header. Op 5 in view 2 cannot belong to that log: it is dropped (reserved,
/// clean). With log view 2 it is kept.
#[test]
fn headers_from_a_view_not_yet_durable_are_dropped() {
    for (log_view, dropped) in [(1u32, true), (2, false)] {
        let mut w = World::new(false);
        w.write(1..=5, 0);
        let op4 = w.chain[&4];
        w.h.journal.remove_entries_from(5);
        w.write(5..=5, 2);
        let op5 = w.chain[&5];
        let context = RecoveryContext {
            op_checkpoint: 0,
            log_view,
            view_headers: vec![op4],
        };
        let events = recover_journal(&mut w.h, context);
        // The table itself sees a normal slot; the view rule runs after it.
        let recoveries: BTreeMap<u64, SlotRecovery> = w.h.journal.slot_recoveries().collect();
        assert_eq!((recoveries[&5].label, recoveries[&5].decision), ("@P", Eql));
        if dropped {
            assert_eq!(w.h.journal.header(5), &Header::reserved(CLUSTER, 5));
            assert!(!w.h.journal.dirty(5) && !w.h.journal.faulty(5));
            assert_eq!(w.h.journal.header_with_op(5), None);
            assert_eq!(w.h.journal.op_maximum(), 4);
        } else {
            assert_eq!(w.h.journal.header(5), &op5);
            assert_eq!(w.h.journal.op_maximum(), 5);
        }
        for op in 1..=4 {
            assert_eq!(w.h.journal.header_with_op(op), Some(&w.chain[&op]));
        }
        assert!(w.h.writes_applied.is_empty());
        check_recovered(&mut w.h, &events, &w.by_checksum);
    }
}

// ---------------------------------------------------------------- crashes

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Crash {
    /// Every pending write is lost.
    Drop,
    /// Every pending write lands.
    Apply,
    /// Multi-sector writes land their first sector only; one-sector (header) writes land their
    /// first 300 bytes, splitting the third header of the sector.
    TornPrefix,
    /// Multi-sector writes land all but their first sector; one-sector writes are lost.
    TornSuffix,
}

/// What a crashed workload leaves: the harness and what was written and acknowledged.
struct Crashed {
    h: Harness,
    by_checksum: HashMap<u32, Vec<u8>>,
    /// Ops whose `WriteDone` said `Written` before the crash.
    acknowledged: BTreeMap<u64, Vec<u8>>,
    /// Slots of prepare writes torn by the crash.
    torn_prepares: Vec<u64>,
    /// Header sectors torn by the crash.
    torn_header_sectors: Vec<u64>,
    write_completions: usize,
}

/// Where in the ring a workload runs.
#[derive(Clone, Copy, Debug)]
struct Shape {
    /// Ops written to completion before the workload.
    pre: u64,
    /// The last op of the workload.
    last: u64,
    /// The durable checkpoint recovery is given (op_prepare_max is 12 above it).
    op_checkpoint: u64,
}

/// Ops 1..=10 in the first wrap.
const FIRST_WRAP: Shape = Shape {
    pre: 0,
    last: 10,
    op_checkpoint: 0,
};

/// Ops 1..=12 durable, then ops 13..=20, the last four over ops 1..=4 of the older wrap, with the
/// checkpoint at op 8.
const WRAPPING: Shape = Shape {
    pre: 12,
    last: 20,
    op_checkpoint: 8,
};

/// Ops with seeded body sizes, several writes in flight (one for a solo replica), I/O completed
/// in seeded order; crashes after `stop_after` write completions of the workload.
fn workload(solo: bool, shape: Shape, seed: u64, stop_after: usize, crash: Crash) -> Crashed {
    let config = config_small();
    let mut h = Harness::new(config, solo, seed);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5151);
    let root = Header::root(CLUSTER);
    let mut by_checksum = HashMap::from([(root.checksum, root.to_bytes().to_vec())]);
    let mut messages = vec![root.to_bytes().to_vec()];
    for op in 1..=shape.last {
        let parent = header_of(&messages[op as usize - 1]).checksum;
        let m = message(op, 0, parent, rng.gen_range(0..=1900));
        by_checksum.insert(header_of(&m).checksum, m.clone());
        messages.push(m);
    }
    let writes_max = if solo {
        1
    } else {
        config.iops_write_max as usize
    };
    let mut acknowledged = BTreeMap::new();
    for op in 1..=shape.pre {
        assert_eq!(h.append(&messages[op as usize]), WriteStart::Started);
        h.run();
        acknowledged.insert(op, messages[op as usize].clone());
    }
    h.take_events();
    let mut next = shape.pre + 1;
    let mut completions = 0;
    loop {
        while next <= shape.last
            && h.journal.writes_in_flight() < writes_max
            && (h.pending.is_empty() || rng.gen_bool(0.6))
        {
            assert_eq!(h.append(&messages[next as usize]), WriteStart::Started);
            next += 1;
        }
        if completions == stop_after || h.pending.is_empty() {
            break;
        }
        let index = rng.gen_range(0..h.pending.len());
        assert_eq!(h.pending[index].request.kind, IoKind::Write);
        h.complete(index);
        completions += 1;
        for event in h.take_events() {
            if let Event::WriteDone {
                op,
                outcome: WriteOutcome::Written,
                ..
            } = event
            {
                acknowledged.insert(op, messages[op as usize].clone());
            }
        }
    }
    assert!(stop_after < completions + 1 || next > shape.last);

    // The crash.
    let sector = config.sector_size as usize;
    let mut torn_prepares = Vec::new();
    let mut torn_header_sectors = Vec::new();
    for p in std::mem::take(&mut h.pending) {
        assert_eq!(p.request.kind, IoKind::Write);
        let sectors = p.data.len() / sector;
        let landed = match (crash, sectors) {
            (Crash::Drop, _) => 0..0,
            (Crash::Apply, _) => 0..p.data.len(),
            (Crash::TornPrefix, 1) => 0..300,
            (Crash::TornPrefix, _) => 0..sector,
            (Crash::TornSuffix, 1) => 0..0,
            (Crash::TornSuffix, _) => sector..p.data.len(),
        };
        if crash == Crash::TornPrefix || (crash == Crash::TornSuffix && sectors > 1) {
            match p.request.zone {
                Zone::WalPrepares => torn_prepares.push(p.request.offset / config.message_size_max),
                Zone::WalHeaders => torn_header_sectors.push(p.request.offset / config.sector_size),
            }
        }
        let offset = p.request.offset as usize;
        h.zone_mut(p.request.zone)[offset + landed.start..offset + landed.end]
            .copy_from_slice(&p.data[landed]);
    }
    Crashed {
        h,
        by_checksum,
        acknowledged,
        torn_prepares,
        torn_header_sectors,
        write_completions: completions,
    }
}

fn check_crash(solo: bool, shape: Shape, seed: u64, stop_after: usize, crash: Crash) {
    let Crashed {
        mut h,
        by_checksum,
        acknowledged,
        torn_prepares,
        torn_header_sectors,
        ..
    } = workload(solo, shape, seed, stop_after, crash);
    let config = h.config;
    let events = recover_journal(&mut h, context(shape.op_checkpoint));
    let at = format!("solo {solo} {shape:?} seed {seed} after {stop_after} completions, {crash:?}");
    // Every acknowledged op above the checkpoint is intact and reads back exactly (ops at or below
    // it are in the state machine, and a newer wrap may overwrite them).
    for (&op, bytes) in acknowledged.range(shape.op_checkpoint + 1..) {
        let header = header_of(bytes);
        assert_eq!(h.journal.header_with_op(op), Some(&header), "{at}: op {op}");
        assert!(!h.journal.faulty(op % config.slot_count), "{at}: op {op}");
        assert_eq!(
            read_back(&mut h, op, header.checksum).as_ref(),
            Ok(bytes),
            "{at}: op {op}"
        );
    }
    check_recovered(&mut h, &events, &by_checksum);
    // A crash alone makes a slot faulty only where it tore a write.
    let headers_per_sector = config.headers_per_sector();
    for slot in 0..config.slot_count {
        if h.journal.faulty(slot) {
            assert!(
                torn_prepares.contains(&slot)
                    || torn_header_sectors.contains(&(slot / headers_per_sector)),
                "{at}: slot {slot} faulty without a torn write"
            );
        }
    }
    if solo {
        // A solo replica survives any crash, torn writes included.
        assert_eq!(h.journal.recovery_result(), Ok(()), "{at}");
        assert!(h.journal.faulty_count() == 0, "{at}");
    }
}

/// A crash at every write boundary of a short workload, in four shapes, for a cluster (several
/// writes in flight) and a solo replica (one at a time), in the first wrap and across a wrap,
/// over a few seeds.
#[test]
fn crash_at_every_write_boundary() {
    let mut runs = 0;
    for shape in [FIRST_WRAP, WRAPPING] {
        crash_at_every_write_boundary_of(shape, &mut runs);
    }
    assert_eq!(runs, 2 * 4 * (21 + 17) * 4);
}

fn crash_at_every_write_boundary_of(shape: Shape, runs: &mut usize) {
    for solo in [false, true] {
        for seed in 1..=4u64 {
            let total = workload(solo, shape, seed, usize::MAX, Crash::Drop).write_completions;
            assert_eq!(
                total as u64,
                2 * (shape.last - shape.pre),
                "a prepare and a header per op"
            );
            for stop_after in 0..=total {
                for crash in [
                    Crash::Drop,
                    Crash::Apply,
                    Crash::TornPrefix,
                    Crash::TornSuffix,
                ] {
                    check_crash(solo, shape, seed, stop_after, crash);
                    *runs += 1;
                }
            }
        }
    }
}

/// The smallest geometry `Config::validate` accepts: 128-byte sectors (one redundant header per
/// sector), header-only prepares, four slots, one write at a time. Two wraps are written; the last
/// prepare lands without its redundant header; recovery keeps every op above the checkpoint and
/// reads each back byte for byte.
#[test]
fn smallest_geometry_wraps_crashes_and_recovers() {
    let config = Config {
        sector_size: 128,
        slot_count: 4,
        message_size_max: 128,
        pipeline_max: 1,
        iops_read_max: 3,
        iops_write_max: 1,
    };
    assert_eq!(config.validate(), Ok(()));
    for solo in [false, true] {
        let mut h = Harness::new(config, solo, SEED);
        let mut parent = Header::root(CLUSTER).checksum;
        let mut messages = BTreeMap::new();
        for op in 1..=9 {
            let m = message(op, 0, parent, 0);
            parent = header_of(&m).checksum;
            assert_eq!(h.append(&m), WriteStart::Started);
            messages.insert(op, m);
            if op < 9 {
                h.run();
            }
        }
        // Op 9's prepare lands over op 5's; the crash drops its redundant header.
        let prepare = h
            .find(IoKind::Write, Zone::WalPrepares)
            .expect("op 9's prepare");
        h.complete(prepare);
        assert!(h.find(IoKind::Write, Zone::WalHeaders).is_some());
        h.crash_with(|_, _| false);
        // The ring holds ops 6..=9; op_prepare_max = 6 + 4 - 1 = 9.
        let events = recover_journal(&mut h, context(6));
        assert!(events.contains(&Event::RecoveryDone));
        assert_eq!(h.journal.recovery_result(), Ok(()), "solo {solo}");
        assert_eq!(
            h.journal
                .slot_recoveries()
                .find(|&(slot, _)| slot == 1)
                .map(|(_, r)| r.decision),
            Some(Decision::Fix),
            "solo {solo}: op 9's prepare over op 5's header is @M"
        );
        for op in 7..=9 {
            let bytes = &messages[&op];
            let header = header_of(bytes);
            assert_eq!(
                h.journal.header_with_op(op),
                Some(&header),
                "solo {solo}: op {op}"
            );
            assert_eq!(read_back(&mut h, op, header.checksum).as_ref(), Ok(bytes));
        }
        h.run();
        h.check_disk_matches_memory();
    }
}

/// A prepare whose header was resealed with a size outside `HEADER_SIZE..=message_size_max` (a
/// forged or foreign write: no fault model can produce a valid checksum by chance) is untrusted
/// input like any other: recovery must treat the prepare as corrupt, never slice by its size.
#[test]
fn resealed_prepare_with_impossible_size_is_corrupt_not_a_panic() {
    let config = config_small();
    for size in [0, 100, config.message_size_max as u32 + 1, u32::MAX] {
        let mut h = Harness::new(config, false, SEED);
        let mut parent = Header::root(CLUSTER).checksum;
        let mut messages = Vec::new();
        for op in 1..=3 {
            let m = message(op, 0, parent, 300);
            parent = header_of(&m).checksum;
            h.append(&m);
            h.run();
            messages.push(m);
        }
        let offset = (2 * config.message_size_max) as usize;
        let mut forged = header_of(&messages[1]);
        forged.size = size;
        forged.set_checksum();
        forged.encode(&mut h.wal_prepares[offset..offset + HEADER_SIZE as usize]);
        recover_journal(&mut h, context(0));
        let recovery = h
            .journal
            .slot_recoveries()
            .find(|&(slot, _)| slot == 2)
            .map(|(_, r)| r);
        assert_eq!(
            recovery.map(|r| r.decision),
            Some(Decision::Vsr),
            "size {size}: {recovery:?}"
        );
        assert!(h.journal.faulty(2), "size {size}");
        assert_eq!(
            read_back(&mut h, 2, header_of(&messages[1]).checksum),
            Err(ReadReject::NoEntry),
            "size {size}"
        );
    }
}

/// `view_for_op` between, at and beyond sparse view headers, as its documentation states.
#[test]
fn view_for_op_follows_its_contract() {
    use journal::recovery::view_for_op;
    let at = |op: u64, view: u32| {
        let mut header = Header::root(CLUSTER);
        header.op = op;
        header.view = view;
        header
    };
    assert_eq!(view_for_op(&[], 7, 9), (0, 9));
    let sparse = [at(9, 4), at(5, 2)];
    assert_eq!(view_for_op(&sparse, 3, 9), (0, 2), "before the oldest");
    assert_eq!(view_for_op(&sparse, 5, 9), (2, 2), "the oldest exactly");
    assert_eq!(view_for_op(&sparse, 7, 9), (2, 4), "between two");
    assert_eq!(view_for_op(&sparse, 9, 9), (4, 4), "the newest exactly");
    assert_eq!(view_for_op(&sparse, 10, 9), (9, 9), "past the newest");
}
