//! The write path and the read path, each race and each rejection reason by name.

mod support;

use journal::{
    Event, Header, IoKind, ReadPurpose, ReadReject, WriteOutcome, WriteStart, Writing, Zone,
    HEADER_SIZE,
};
use proptest::prelude::*;
use support::*;

fn write_outcomes(events: &[Event]) -> Vec<(u64, WriteOutcome)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::WriteDone { op, outcome, .. } => Some((*op, *outcome)),
            _ => None,
        })
        .collect()
}

#[test]
fn prepare_is_written_before_its_redundant_header() {
    let mut h = Harness::new(config_small(), false, 1);
    let m = message(1, 0, Header::root(CLUSTER).checksum, 700);
    assert_eq!(h.append(&m), WriteStart::Started);
    // Only the prepare write is out; no header write until it completes.
    assert_eq!(h.pending.len(), 1);
    assert_eq!(h.pending[0].request.zone, Zone::WalPrepares);
    assert_eq!(
        h.pending[0].request.len, 1024,
        "rounded up to whole sectors"
    );
    assert!(
        h.pending[0].data[700 + HEADER_SIZE as usize..]
            .iter()
            .all(|&b| b == 0),
        "padding zeroed"
    );
    h.complete(0);
    assert_eq!(h.pending.len(), 1);
    assert_eq!(h.pending[0].request.zone, Zone::WalHeaders);
    assert!(h.journal.dirty(1));
    h.complete(0);
    assert_eq!(
        write_outcomes(&h.take_events()),
        [(1, WriteOutcome::Written)]
    );
    assert!(!h.journal.dirty(1));
    h.check_disk_matches_memory();
}

#[test]
fn skipping_clean_and_waiting_for_iop() {
    let mut h = Harness::new(config_small(), false, 2);
    let root = Header::root(CLUSTER).checksum;
    let m1 = message(1, 0, root, 10);
    h.append(&m1);
    h.run();
    // Skipping (clean): the same entry again needs no I/O.
    assert_eq!(h.journal.write_prepare(&m1), WriteStart::SkippedClean);
    h.pump();
    assert!(h.pending.is_empty());
    // Waiting for IOP: three writes in flight take every IOP.
    let mut parent = header_of(&m1).checksum;
    for op in 2..=4 {
        let m = message(op, 0, parent, 10);
        parent = header_of(&m).checksum;
        assert_eq!(h.append(&m), WriteStart::Started);
    }
    let m5 = message(5, 0, parent, 10);
    assert_eq!(h.append(&m5), WriteStart::WaitingForIop);
    assert!(h.journal.dirty(5));
    h.run();
    assert_eq!(h.journal.write_prepare(&m5), WriteStart::Started);
    h.run();
    assert!(!h.journal.dirty(5));
    h.check_disk_matches_memory();
}

/// Slots 1 and 2 share a header sector (4 headers per 512-byte sector): the second header write
/// waits for the first, and both headers end up on disk.
#[test]
fn header_sector_writes_are_serialized() {
    let mut h = Harness::new(config_small(), false, 3);
    let root = Header::root(CLUSTER).checksum;
    let m1 = message(1, 0, root, 10);
    let m2 = message(2, 0, header_of(&m1).checksum, 10);
    h.append(&m1);
    h.append(&m2);
    assert_eq!(h.pending.len(), 2);
    // Both prepares done: the first header write locks the sector, the second waits.
    h.complete(0);
    h.complete(0);
    let header_writes: Vec<_> = h
        .pending
        .iter()
        .filter(|p| p.request.zone == Zone::WalHeaders)
        .collect();
    assert_eq!(
        header_writes.len(),
        1,
        "second header write must wait for the sector"
    );
    let first = h.find(IoKind::Write, Zone::WalHeaders).unwrap();
    h.complete(first);
    // The waiter starts now, copying the sector with both headers.
    let second = h
        .find(IoKind::Write, Zone::WalHeaders)
        .expect("waiter started");
    let data = &h.pending[second].data;
    assert_eq!(Header::decode(&data[128..256]), Ok(header_of(&m1)));
    assert_eq!(Header::decode(&data[256..384]), Ok(header_of(&m2)));
    h.complete(second);
    assert_eq!(write_outcomes(&h.take_events()).len(), 2);
    h.check_disk_matches_memory();
}

/// Race: entry changed while writing sectors. The entry is removed while its prepare is in
/// flight; the write reports not written and the slot (clean after removal) is dirty again.
#[test]
fn race_entry_changed_while_writing_sectors() {
    let mut h = Harness::new(config_small(), false, 4);
    let m1 = message(1, 0, Header::root(CLUSTER).checksum, 10);
    h.append(&m1);
    h.journal.remove_entries_from(1);
    assert!(!h.journal.dirty(1));
    h.run();
    assert_eq!(
        write_outcomes(&h.take_events()),
        [(1, WriteOutcome::EntryChangedWhileWritingSectors)]
    );
    assert!(
        h.journal.dirty(1),
        "the stale prepare landed over a clean reserved slot"
    );
    assert_eq!(h.journal.prepare_checksum(1), Some(header_of(&m1).checksum));
}

/// Race: entry changed while writing headers. A newer view's op replaces the entry while its
/// header sector is in flight.
#[test]
fn race_entry_changed_while_writing_headers() {
    let mut h = Harness::new(config_small(), false, 5);
    let m1 = message(1, 0, Header::root(CLUSTER).checksum, 10);
    h.append(&m1);
    h.complete(0); // prepare
    assert_eq!(h.pending[0].request.zone, Zone::WalHeaders);
    let m1_newer = message(1, 1, Header::root(CLUSTER).checksum, 20);
    h.journal.set_header_as_dirty(&header_of(&m1_newer));
    h.complete(0);
    assert_eq!(
        write_outcomes(&h.take_events()),
        [(1, WriteOutcome::EntryChangedWhileWritingHeaders)]
    );
    assert!(h.journal.dirty(1));
    // The newer entry then writes cleanly.
    assert_eq!(h.journal.write_prepare(&m1_newer), WriteStart::Started);
    h.run();
    assert!(!h.journal.dirty(1));
    h.check_disk_matches_memory();
}

/// Race: entry removed then added while writing headers (write → header write →
/// remove_entries_from → set_header_as_dirty → completion). Removal keeps the slot's redundant
/// header (what the disk holds, here the entry's own header, written after its prepare), so the
/// waiting header write carries the entry, not a reserved header: the slot is written and clean,
/// and the disk agrees. (`EntryRemovedThenAddedWhileWritingHeaders` stays as defence in depth.)
#[test]
fn race_entry_removed_then_added_while_writing_headers() {
    let mut h = Harness::new(config_small(), false, 6);
    let m1 = message(1, 0, Header::root(CLUSTER).checksum, 10);
    let m2 = message(2, 0, header_of(&m1).checksum, 10);
    h.append(&m1);
    h.append(&m2);
    h.complete(0); // m1 prepare → m1 header locked
    h.complete(0); // m2 prepare → m2 header waits on the same sector
    h.journal.remove_entries_from(2);
    assert_eq!(h.journal.header(2), &Header::reserved(CLUSTER, 2));
    h.journal.set_header_as_dirty(&header_of(&m2));
    // m1's header completes; m2's waiting header write now copies the sector, m2's header in it.
    let first = h.find(IoKind::Write, Zone::WalHeaders).unwrap();
    h.complete(first);
    h.run();
    let outcomes = write_outcomes(&h.take_events());
    assert_eq!(
        outcomes,
        [(1, WriteOutcome::Written), (2, WriteOutcome::Written)]
    );
    assert!(!h.journal.dirty(2));
    h.check_disk_matches_memory();
}

/// Race: entry changed twice while writing headers needs a second write of the slot to start
/// over a prepare whose header is still in flight. The write path forbids that by precondition
/// (one write per slot, `writing()`), so the race can only be reached through a bug: this test
/// shows the precondition holds; the completion check stays as defence in depth.
#[test]
#[should_panic(expected = "write_prepare of a slot already being written")]
fn race_entry_changed_twice_is_prevented_by_one_write_per_slot() {
    let mut h = Harness::new(config_small(), false, 7);
    let m1 = message(1, 0, Header::root(CLUSTER).checksum, 10);
    h.append(&m1);
    h.complete(0);
    assert_eq!(h.journal.writing(&header_of(&m1)), Writing::Exact);
    let m1_newer = message(1, 1, Header::root(CLUSTER).checksum, 20);
    assert_eq!(h.journal.writing(&header_of(&m1_newer)), Writing::Slot);
    h.journal.set_header_as_dirty(&header_of(&m1_newer));
    let _ = h.journal.write_prepare(&m1_newer);
}

fn read_result(h: &mut Harness) -> Result<Vec<u8>, ReadReject> {
    let events = h.take_events();
    let reads: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::ReadDone { result, .. } => Some(*result),
            _ => None,
        })
        .collect();
    assert_eq!(reads.len(), 1, "{events:?}");
    match reads[0] {
        Ok(handle) => {
            let bytes = h.journal.read_message(handle).to_vec();
            h.journal.read_release(handle);
            Ok(bytes)
        }
        Err(reason) => Err(reason),
    }
}

/// A harness with ops 1..=3 written and clean.
fn written() -> (Harness, Vec<Vec<u8>>) {
    let mut h = Harness::new(config_small(), false, 8);
    let mut parent = Header::root(CLUSTER).checksum;
    let mut messages = Vec::new();
    for op in 1..=3 {
        let m = message(op, 0, parent, 300 + op as usize);
        parent = header_of(&m).checksum;
        h.append(&m);
        messages.push(m);
    }
    h.run();
    h.take_events();
    (h, messages)
}

/// A journal's whole state, every field and buffer, without the addresses of its bit vectors.
fn state(journal: &journal::Journal) -> String {
    let debug = format!("{journal:?}");
    let mut state = String::with_capacity(debug.len());
    let mut rest = debug.as_str();
    while let Some(at) = rest.find("addr: 0x") {
        state.push_str(&rest[..at]);
        let after = &rest[at + "addr: 0x".len()..];
        rest = after.trim_start_matches(|c: char| c.is_ascii_hexdigit());
    }
    state.push_str(rest);
    state
}

/// Where two states first differ (the states are too long to print whole).
fn assert_same_state(left: &str, right: &str) {
    if let Some(at) = left.bytes().zip(right.bytes()).position(|(l, r)| l != r) {
        let from = at.saturating_sub(200);
        panic!(
            "states differ at byte {at}:\n  {}\n  {}",
            &left[from..(at + 100).min(left.len())],
            &right[from..(at + 100).min(right.len())]
        );
    }
    assert_eq!(left.len(), right.len());
}

/// A restart with reads and writes in flight leaves exactly what a new journal holds (every
/// field, buffers included), and recovers the disk to exactly what a new journal recovers.
#[test]
fn restart_is_a_new_journal_in_the_same_allocations() {
    let (mut h, messages) = written();
    let header = header_of(&messages[1]);
    h.journal
        .read_prepare(2, header.checksum, ReadPurpose::Commit)
        .unwrap();
    h.append(&message(4, 0, header_of(&messages[2]).checksum, 700));
    h.pump();
    assert!(!h.journal.io_idle());
    let fresh = state(&journal::Journal::new(h.config, CLUSTER, h.solo).unwrap());
    assert_ne!(state(&h.journal), fresh);
    h.journal.restart();
    assert_same_state(&state(&h.journal), &fresh);

    // Recovered from the same bytes, a restarted journal and a new one agree on every slot
    // (the I/O buffers differ: the harness completes reads in a seeded order).
    h.pending.clear();
    h.events.clear();
    h.journal.recover(context(0));
    h.run();
    let restarted = (slot_states(&h.journal), h.journal.op_maximum());
    h.recover(context(0));
    assert_eq!(restarted, (slot_states(&h.journal), h.journal.op_maximum()));
    assert_eq!(restarted.1, 3);
}

#[test]
fn read_returns_the_written_prepare() {
    let (mut h, messages) = written();
    let header = header_of(&messages[1]);
    h.journal
        .read_prepare(2, header.checksum, ReadPurpose::Commit)
        .unwrap();
    h.run();
    assert_eq!(read_result(&mut h), Ok(messages[1].clone()));
}

#[test]
fn read_rejections_before_io() {
    let (mut h, messages) = written();
    let header = header_of(&messages[1]);
    assert_eq!(
        h.journal.read_prepare(9, 1, ReadPurpose::Commit),
        Err(ReadReject::BeyondHead)
    );
    assert_eq!(
        h.journal
            .read_prepare(2, header.checksum ^ 1, ReadPurpose::Commit),
        Err(ReadReject::NoEntry)
    );
    // A header known from a peer whose prepare was never written here.
    let m5 = message(4, 0, header_of(&messages[2]).checksum, 10);
    h.journal.set_header_as_dirty(&header_of(&m5));
    assert_eq!(
        h.journal
            .read_prepare(4, header_of(&m5).checksum, ReadPurpose::Commit),
        Err(ReadReject::NoPrepare)
    );
    h.pump();
    assert!(h.pending.is_empty());
}

/// Repairs for peers may hold at most `iops_read_max - 2` reads; the commit path still reads.
#[test]
fn repair_reads_cannot_starve_the_commit_path() {
    let (mut h, messages) = written();
    let sums: Vec<u32> = messages.iter().map(|m| header_of(m).checksum).collect();
    assert_eq!(
        h.journal.read_prepare(1, sums[0], ReadPurpose::Repair),
        Ok(())
    );
    assert_eq!(
        h.journal.read_prepare(2, sums[1], ReadPurpose::Repair),
        Ok(())
    );
    assert_eq!(
        h.journal.read_prepare(3, sums[2], ReadPurpose::Repair),
        Err(ReadReject::WaitingForIop)
    );
    assert_eq!(
        h.journal.read_prepare(3, sums[2], ReadPurpose::Commit),
        Ok(())
    );
    assert_eq!(
        h.journal.read_prepare(1, sums[0], ReadPurpose::Commit),
        Ok(())
    );
    assert_eq!(
        h.journal.read_prepare(2, sums[1], ReadPurpose::Commit),
        Err(ReadReject::WaitingForIop)
    );
}

/// Each rejection after the read, made to happen by putting other bytes on disk.
#[test]
fn read_rejections_after_io_mark_the_slot_faulty() {
    type Corrupt = fn(&mut Harness, &[Vec<u8>]);
    let cases: Vec<(Corrupt, ReadReject)> = vec![
        (
            |h, _| h.read_errors.push((Zone::WalPrepares, 2 * 2048)),
            ReadReject::ReadFailed,
        ),
        (
            |h, _| h.wal_prepares[2 * 2048 + 40] ^= 1,
            ReadReject::CorruptHeader,
        ),
        (
            |h, m| {
                let mut header = header_of(&m[1]);
                header.cluster ^= 1;
                header.set_checksum();
                header.encode(&mut h.wal_prepares[2 * 2048..][..128]);
            },
            ReadReject::WrongCluster,
        ),
        (
            |h, _| {
                // A misdirected write: op 18's prepare (slot 2 too) in op 2's place.
                let other = message(18, 0, 0, 10);
                h.wal_prepares[2 * 2048..][..other.len()].copy_from_slice(&other);
            },
            ReadReject::OpChangedDuringRead,
        ),
        (
            |h, _| {
                let other = message(2, 7, 0, 10);
                h.wal_prepares[2 * 2048..][..other.len()].copy_from_slice(&other);
            },
            ReadReject::ChecksumChangedDuringRead,
        ),
        (
            |h, _| h.wal_prepares[2 * 2048 + 200] ^= 1,
            ReadReject::CorruptBody,
        ),
        (
            |h, m| h.wal_prepares[2 * 2048 + m[1].len() + 3] = 9,
            ReadReject::NonZeroPadding,
        ),
    ];
    for (corrupt, reason) in cases {
        let (mut h, messages) = written();
        corrupt(&mut h, &messages);
        let checksum = header_of(&messages[1]).checksum;
        h.journal
            .read_prepare(2, checksum, ReadPurpose::Commit)
            .unwrap();
        h.run();
        assert_eq!(read_result(&mut h), Err(reason));
        assert!(
            h.journal.faulty(2) && h.journal.dirty(2),
            "{reason:?} must mark the slot faulty"
        );
        // Only that slot: the counts a driver reports agree with the marks.
        assert_eq!((h.journal.faulty_count(), h.journal.dirty_count()), (1, 1));
    }
}

/// A prepare that landed damaged (a write fault), found so by a read while its header sector is
/// still being written: the header write's completion must not clear the fault it cannot undo.
#[test]
fn prepare_found_corrupt_while_its_header_is_written_stays_faulty() {
    let mut h = Harness::new(config_small(), false, 9);
    let m = message(1, 0, Header::root(CLUSTER).checksum, 300);
    let checksum = header_of(&m).checksum;
    assert_eq!(h.append(&m), WriteStart::Started);
    let prepare = h
        .find(IoKind::Write, Zone::WalPrepares)
        .expect("prepare write");
    h.complete(prepare);
    // The prepare landed with one bit flipped; its header sector write is now in flight.
    h.wal_prepares[2048 + 200] ^= 1;
    assert!(h.find(IoKind::Write, Zone::WalHeaders).is_some());
    h.journal
        .read_prepare(1, checksum, ReadPurpose::Repair)
        .unwrap();
    h.pump();
    let read = h.find(IoKind::Read, Zone::WalPrepares).expect("read");
    h.complete(read);
    assert_eq!(read_result(&mut h), Err(ReadReject::CorruptBody));
    assert!(h.journal.faulty(1) && h.journal.dirty(1));
    let header_write = h
        .find(IoKind::Write, Zone::WalHeaders)
        .expect("header write");
    h.complete(header_write);
    assert_eq!(
        write_outcomes(&h.take_events()),
        [(1, WriteOutcome::PrepareFoundCorruptWhileWritingHeaders)]
    );
    assert!(
        h.journal.faulty(1) && h.journal.dirty(1),
        "the damage the read found is still there"
    );
    // A repair (the same prepare again) clears it.
    assert_eq!(h.journal.write_prepare(&m), WriteStart::Started);
    h.run();
    assert_eq!(
        write_outcomes(&h.take_events()),
        [(1, WriteOutcome::Written)]
    );
    assert!(!h.journal.faulty(1) && !h.journal.dirty(1));
    h.check_disk_matches_memory();
}

/// A slot found stale by a read (the newer version's prepare was misdirected, the older one is
/// still there) is given a new op a ring later. A neighbour's header sector write lands while
/// the new prepare is in flight, then a crash drops that prepare: recovery must not load the
/// stale prepare clean. The header sector repeats what the disk held for the slot (`@O`: `vsr`),
/// never a reserved header beside the stale prepare (`@G`: `fix`, the stale version clean).
#[test]
fn a_dropped_fault_survives_a_neighbour_header_write_and_a_crash() {
    let (mut h, messages) = written();
    let committed = header_of(&messages[1]);
    // The view-7 version of op 2 landed elsewhere: slot 2 still holds the view-0 one, while the
    // journal (and the redundant header) name another version. Here the journal wrote view 0 and
    // the disk holds a view-7 version: the same pair, the other way round.
    let stale = message(2, 7, committed.parent, 310);
    h.wal_prepares[2 * 2048..][..stale.len()].copy_from_slice(&stale);
    h.journal
        .read_prepare(2, committed.checksum, ReadPurpose::Commit)
        .unwrap();
    h.run();
    assert_eq!(
        read_result(&mut h),
        Err(ReadReject::ChecksumChangedDuringRead)
    );
    assert!(h.journal.faulty(2));
    // Op 18 takes slot 2 (a ring later; the checkpoint passed op 2).
    let m18 = message(18, 0, 0x1818, 200);
    assert_eq!(h.append(&m18), WriteStart::Started);
    assert!(
        !h.journal.faulty(2) && h.journal.dirty(2),
        "a new entry drops the fault"
    );
    // Op 19 takes slot 3, in the same header sector; its header sector write lands while op 18's
    // prepare is still in flight.
    let m19 = message(19, 0, header_of(&m18).checksum, 200);
    assert_eq!(h.append(&m19), WriteStart::Started);
    let prepare_19 = h
        .pending
        .iter()
        .position(|p| p.request.zone == Zone::WalPrepares && p.request.offset == 3 * 2048)
        .expect("op 19's prepare write");
    h.complete(prepare_19);
    let header_sector = h
        .find(IoKind::Write, Zone::WalHeaders)
        .expect("op 19's header sector write");
    assert_eq!(h.pending[header_sector].request.offset, 0);
    h.complete(header_sector);
    // Crash: op 18's prepare never lands.
    h.crash_with(|_, _| false);
    h.recover(context(16));
    let header = *h.journal.header(2);
    assert!(
        h.journal.dirty(2) || header.checksum != header_of(&stale).checksum,
        "the stale prepare was loaded clean: {header:?}"
    );
    assert!(h.journal.faulty(2), "slot 2 is `vsr`: its entry is lost");
    let (_, recovery) = h
        .journal
        .slot_recoveries()
        .find(|&(slot, _)| slot == 2)
        .expect("slot 2 recovered");
    assert_eq!(
        (recovery.label, recovery.decision),
        ("@O", journal::Decision::Vsr)
    );
}

#[test]
fn read_rejections_for_changes_during_the_read() {
    // Prepare changed during read: a newer entry's write starts over the slot meanwhile.
    let (mut h, messages) = written();
    let checksum = header_of(&messages[1]).checksum;
    h.journal
        .read_prepare(2, checksum, ReadPurpose::Commit)
        .unwrap();
    let newer = message(2, 1, header_of(&messages[0]).checksum, 50);
    h.journal.set_header_as_dirty(&header_of(&newer));
    assert_eq!(h.journal.write_prepare(&newer), WriteStart::Started);
    h.pump();
    let read = h.find(IoKind::Read, Zone::WalPrepares).unwrap();
    h.complete(read);
    assert_eq!(
        read_result(&mut h),
        Err(ReadReject::PrepareChangedDuringRead)
    );
    assert!(
        !h.journal.faulty(2),
        "not corruption: the slot simply changed"
    );

    // Beyond the head: the log is truncated below the op meanwhile.
    let (mut h, messages) = written();
    let checksum = header_of(&messages[2]).checksum;
    h.journal
        .read_prepare(3, checksum, ReadPurpose::Commit)
        .unwrap();
    h.journal.remove_entries_from(2);
    h.run();
    assert_eq!(read_result(&mut h), Err(ReadReject::BeyondHead));
}

#[test]
fn header_only_message_is_served_from_memory() {
    let mut h = Harness::new(config_small(), false, 9);
    let m = message(1, 0, Header::root(CLUSTER).checksum, 0);
    h.append(&m);
    h.run();
    h.take_events();
    h.journal
        .read_prepare(1, header_of(&m).checksum, ReadPurpose::Commit)
        .unwrap();
    h.pump();
    assert!(
        h.pending.is_empty(),
        "no disk read for a header-only message"
    );
    assert_eq!(read_result(&mut h), Ok(m));
}

#[test]
fn other_operations() {
    let (mut h, messages) = written();
    let headers: Vec<Header> = messages.iter().map(|m| header_of(m)).collect();
    assert_eq!(h.journal.op_maximum(), 3);
    assert!(
        h.journal.has_header(&headers[0])
            && h.journal.has_prepare(&headers[0])
            && !h.journal.has_dirty(&headers[0])
    );
    let mut target = [Header::default(); 8];
    assert_eq!(h.journal.copy_latest_headers_between(0, 3, &mut target), 4);
    assert_eq!(&target[..3], &[headers[2], headers[1], headers[0]]);
    assert_eq!(h.journal.find_latest_headers_break_between(0, 3), None);
    // Op 2 replaced by a header from another view that does not chain: ops 2 and below break.
    h.journal.remove_entries_from(2);
    assert_eq!(h.journal.op_maximum(), 1);
    assert!(!h.journal.has_header(&headers[1]));
    assert_eq!(
        h.journal.prepare_checksum(2),
        Some(headers[1].checksum),
        "removal keeps prepare_checksums"
    );
    let m4 = message(4, 1, 0xdead, 10);
    h.journal.set_header_as_dirty(&header_of(&m4));
    // Known, but its prepare was never written: a peer must not be asked to serve it from here.
    assert!(h.journal.has_header(&header_of(&m4)) && !h.journal.has_prepare(&header_of(&m4)));
    assert_eq!(
        h.journal.find_latest_headers_break_between(0, 4),
        Some((2, 3))
    );
    assert!(h.journal.has_dirty(&header_of(&m4)));
}

/// Random writes, reads, removals and completions in random order; the journal asserts its own
/// invariants after every call, and with no I/O in flight its disk matches its memory.
#[derive(Clone, Debug)]
enum Step {
    Append {
        body_size: usize,
    },
    Read {
        back: u64,
    },
    Remove {
        back: u64,
    },
    Complete {
        pick: usize,
    },
    Rewrite,
    /// A latent sector error under a recent op's prepare, then a read of it (rejected: the
    /// slot turns faulty until rewritten).
    LatentError {
        back: u64,
    },
}

/// Every slot's state as the journal reports it: header, redundant header, marks, prepare.
fn slot_states(journal: &journal::Journal) -> Vec<(Header, Header, bool, bool, Option<u32>)> {
    (0..journal.config().slot_count)
        .map(|slot| {
            (
                *journal.header(slot),
                *journal.header_redundant(slot),
                journal.dirty(slot),
                journal.faulty(slot),
                journal.prepare_checksum(slot),
            )
        })
        .collect()
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0usize..1900).prop_map(|body_size| Step::Append { body_size }),
        2 => (0u64..8).prop_map(|back| Step::Read { back }),
        1 => (0u64..4).prop_map(|back| Step::Remove { back }),
        6 => any::<usize>().prop_map(|pick| Step::Complete { pick }),
        1 => Just(Step::Rewrite),
        1 => (0u64..8).prop_map(|back| Step::LatentError { back }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn random_interleavings_keep_the_invariants(steps in proptest::collection::vec(step(), 1..120), seed in any::<u64>()) {
        let mut h = Harness::new(config_small(), false, seed);
        let mut log: Vec<Vec<u8>> = vec![Header::root(CLUSTER).to_bytes().to_vec()];
        let mut view = 0u32;
        // Every message ever written, by checksum: a read answers for a checksum, not an op.
        let mut written_by_checksum = std::collections::BTreeMap::new();
        written_by_checksum.insert(Header::root(CLUSTER).checksum, log[0].clone());
        for step in steps {
            let slots_before = slot_states(&h.journal);
            let mutations_before = h.journal.mutations();
            let touches_before: Vec<u32> =
                (0..h.config.slot_count).map(|slot| h.journal.slot_touches(slot)).collect();
            match step {
                Step::Append { body_size } => {
                    let parent = header_of(log.last().unwrap()).checksum;
                    let m = message(log.len() as u64, view, parent, body_size);
                    let header = header_of(&m);
                    if h.journal.writing(&header) == Writing::None {
                        h.append(&m);
                        written_by_checksum.insert(header.checksum, m.clone());
                        log.push(m);
                    }
                }
                Step::Read { back } => {
                    let op = (log.len() as u64 - 1).saturating_sub(back);
                    let header = header_of(&log[op as usize]);
                    let _ = h.journal.read_prepare(op, header.checksum, ReadPurpose::Repair);
                }
                Step::Remove { back } => {
                    let op = (log.len() as u64).saturating_sub(back + 1).max(1);
                    if op < log.len() as u64 {
                        h.journal.remove_entries_from(op);
                        log.truncate(op as usize);
                        view += 1;
                    }
                }
                Step::LatentError { back } => {
                    let op = (log.len() as u64 - 1).saturating_sub(back);
                    let header = header_of(&log[op as usize]);
                    let slot = op % h.config.slot_count;
                    h.read_errors.push((Zone::WalPrepares, slot * h.config.message_size_max));
                    let _ = h.journal.read_prepare(op, header.checksum, ReadPurpose::Repair);
                }
                Step::Complete { pick } => {
                    if !h.pending.is_empty() {
                        let index = pick % h.pending.len();
                        h.complete(index);
                    }
                }
                Step::Rewrite => {
                    // Retry the dirty entries of the log whose slot is not being written.
                    for m in log.iter().rev().take(4) {
                        let header = header_of(m);
                        if header.op > 0 && h.journal.has_dirty(&header) && h.journal.writing(&header) == Writing::None {
                            let _ = h.journal.write_prepare(m);
                        }
                    }
                    h.pump();
                }
            }
            // Every verified read returns exactly what was written for that checksum.
            for event in h.take_events() {
                if let Event::ReadDone { checksum, result: Ok(handle), .. } = event {
                    let bytes = h.journal.read_message(handle).to_vec();
                    h.journal.read_release(handle);
                    prop_assert_eq!(Some(&bytes), written_by_checksum.get(&checksum));
                }
            }
            h.journal.assert_invariants();
            // A cache keyed on `mutations` may trust it: no slot changes without it counting.
            let slots_after = slot_states(&h.journal);
            if slots_after != slots_before {
                prop_assert_ne!(h.journal.mutations(), mutations_before);
            }
            // The invariant check looks only at touched slots: every slot that changed was.
            for (slot, (after, before)) in slots_after.iter().zip(&slots_before).enumerate() {
                if after != before {
                    prop_assert_ne!(h.journal.slot_touches(slot as u64), touches_before[slot], "slot {}", slot);
                }
            }
            // A cache keyed on `touches` may trust it: it is the sum of the slots' counts.
            let touches_sum: u64 =
                (0..h.config.slot_count).map(|slot| u64::from(h.journal.slot_touches(slot))).sum();
            prop_assert_eq!(h.journal.touches(), touches_sum);
            h.journal.assert_invariants_all();
        }
        h.run();
        for event in h.take_events() {
            if let Event::ReadDone { result: Ok(handle), .. } = event {
                h.journal.read_release(handle);
            }
        }
        h.check_disk_matches_memory();
    }
}
