//! The checkers at work on a live cluster: each test makes the damage one checker exists for and
//! feeds that checker the event (through the shims below, named after what each checks).

use crate::checkers::journal_disk::Compare;
use crate::checkers::knowledge::ReadDelivered;
use crate::checkers::{Check, Failure};
use crate::replica::{Status, ZONE_PREPARES};
use crate::swarm::RunConfig;
use crate::Simulation;
use journal::{Header, ReadReject, SlotRecovery};

/// Each checker's event, as the run feeds it, under the name of what it checks.
impl Simulation {
    fn check_acked_retained(&self) -> Check {
        self.checkers.durability.on_recovery(&observed!(self))
    }

    fn check_journal_matches_disk(&self, index: usize, mode: Compare) -> Result<u64, Failure> {
        self.checkers
            .journal_matches_disk(&observed!(self), index, mode)
    }

    fn check_read_rejected(
        &mut self,
        index: usize,
        op: u64,
        checksum: u32,
        reason: ReadReject,
        delivered: Option<ReadDelivered>,
    ) -> Check {
        let observed = observed!(self);
        self.checkers
            .knowledge
            .on_read_rejected(&observed, index, op, checksum, reason, delivered)
    }

    fn check_read_fault_justified(&self, index: usize, delivered: ReadDelivered) -> Check {
        self.checkers
            .knowledge
            .on_read_completed(&observed!(self), index, delivered)
    }

    fn check_io_idle_claim(&self, index: usize) -> Check {
        self.checkers.knowledge.on_idle(&observed!(self), index)
    }

    fn check_recovery_reported(&self, index: usize, recoveries: &[(u64, SlotRecovery)]) -> Check {
        let checkers = &self.checkers;
        checkers
            .knowledge
            .on_recovery(&observed!(self), &checkers.journal, index, recoveries)
    }

    fn check_final(&self) -> Check {
        let checkers = &self.checkers;
        checkers
            .final_state
            .on_end(&observed!(self), &checkers.journal, &checkers.knowledge)
    }

    fn check_recovered_history(&self, index: usize) -> Check {
        self.committed.on_recovery(&observed!(self), index)
    }
}

/// A byte of a prepare's body (past its 128-byte header).
const HEADER_BODY_BYTE: usize = 130;

/// A cluster seed with faults off, run until some op is acknowledged and every replica is up
/// and idle, so that any damage the test makes is the only damage.
fn quiet_cluster() -> Simulation {
    for seed in 0.. {
        let mut config = RunConfig::draw(seed);
        if config.replica_count < 2 {
            continue;
        }
        config.faults = fault_models::FaultConfig::default();
        config.crash_probability = 0.0;
        config.view_change_probability = 0.0;
        // A short workload, so that the pipeline drains and every held op is committed.
        config.ops_target = 6;
        let mut simulation = Simulation::new(config, false);
        for _ in 0..2_000 {
            simulation.step().expect("no checker fires without faults");
            let committed = simulation.op_committed_max();
            let idle = simulation.replicas.iter().all(|r| {
                r.status == Status::Normal && r.journal.io_idle() && r.op_head() <= committed
            });
            if idle && simulation.op_committed_max() >= 3 {
                return simulation;
            }
        }
    }
    unreachable!("some seed acknowledges ops")
}

#[test]
fn acked_op_with_every_copy_damaged_is_reported_lost() {
    let mut simulation = quiet_cluster();
    simulation.check_acked_retained().expect("intact");
    let op = simulation.op_committed_max();
    // Damage one copy: another replica still holds it.
    let config = simulation.config.journal;
    let offset = (op % config.slot_count) * config.message_size_max;
    simulation.replicas[0].disk.poke(
        ZONE_PREPARES,
        offset,
        &vec![0xa5; config.sector_size as usize],
    );
    simulation.check_acked_retained().expect("one copy is left");
    for replica in &mut simulation.replicas {
        replica.disk.poke(
            ZONE_PREPARES,
            offset,
            &vec![0xa5; config.sector_size as usize],
        );
    }
    let failure = simulation
        .check_acked_retained()
        .expect_err("every copy is gone");
    assert_eq!(failure.checker, "durability");
    assert!(failure.message.contains(&format!("committed op {op} ")));
}

#[test]
fn clean_slot_whose_disk_bytes_changed_is_reported() {
    let mut simulation = quiet_cluster();
    simulation
        .check_journal_matches_disk(1, crate::checkers::journal_disk::Compare::Idle)
        .expect("matches");
    let op = simulation.op_committed_max();
    let config = simulation.config.journal;
    let offset = (op % config.slot_count) * config.message_size_max;
    let mut sector = simulation.replicas[1]
        .disk
        .peek(ZONE_PREPARES, offset, config.sector_size)
        .to_vec();
    // One bit of the header: the checksum no longer matches.
    sector[40] ^= 1;
    simulation.replicas[1]
        .disk
        .poke(ZONE_PREPARES, offset, &sector);
    let failure = simulation
        .check_journal_matches_disk(1, crate::checkers::journal_disk::Compare::Idle)
        .expect_err("the prepare on disk differs");
    assert_eq!(failure.checker, "journal");
}

/// The committed head's slot on replica 1, its header, and the prepare's sector offset.
fn head_slot(simulation: &Simulation) -> (u64, Header, u64) {
    let op = simulation.op_committed_max();
    let journal = &simulation.replicas[1].journal;
    let slot = journal.slot_for_op(op);
    let header = *journal.header(slot);
    assert_eq!(header.op, op);
    (
        slot,
        header,
        slot * simulation.config.journal.message_size_max,
    )
}

/// The committed head's slot on replica 1, its header, and its prepare's bytes on disk (to
/// its sector-rounded size).
fn head_prepare(simulation: &Simulation) -> (u64, Header, Vec<u8>) {
    let (slot, header, offset) = head_slot(simulation);
    let size = simulation
        .config
        .journal
        .sector_ceil(u64::from(header.size));
    let bytes = simulation.replicas[1]
        .disk
        .peek(ZONE_PREPARES, offset, size)
        .to_vec();
    (slot, header, bytes)
}

/// A rejected read of damaged bytes must leave the slot faulty; intact bytes must never be
/// rejected as corrupt.
#[test]
fn knowledge_checker_refuses_a_damaged_read_left_clean() {
    use crate::checkers::knowledge::ReadDelivered;
    use journal::ReadReject;
    let mut simulation = quiet_cluster();
    let (slot, header, mut bytes) = head_prepare(&simulation);
    let intact = ReadDelivered::new(slot, Some(&bytes), &simulation.messages, false);
    assert_eq!(intact.intact, Some(header.checksum));
    bytes[HEADER_BODY_BYTE] ^= 1;
    let damaged = ReadDelivered::new(slot, Some(&bytes), &simulation.messages, false);
    assert_eq!(damaged.intact, None);
    let failed = ReadDelivered::new(slot, None, &simulation.messages, false);
    for delivered in [damaged, failed] {
        let failure = simulation
            .check_read_rejected(
                1,
                header.op,
                header.checksum,
                ReadReject::CorruptBody,
                Some(delivered),
            )
            .expect_err("the slot is still clean");
        assert_eq!(failure.checker, "knowledge");
        assert!(
            failure.message.contains("holds the slot clean"),
            "{}",
            failure.message
        );
    }
    let failure = simulation
        .check_read_rejected(
            1,
            header.op,
            header.checksum,
            ReadReject::CorruptBody,
            Some(intact),
        )
        .expect_err("intact bytes called corrupt");
    assert!(
        failure.message.contains("rejected the intact"),
        "{}",
        failure.message
    );
    simulation
        .check_read_rejected(
            1,
            header.op,
            header.checksum,
            ReadReject::PrepareChangedDuringRead,
            Some(intact),
        )
        .expect("a race is not a corruption");
    // Marked as the journal must: faulty and dirty.
    simulation.replicas[1].journal.set_header_as_dirty(&header);
    simulation.replicas[1]
        .journal
        .remove_entries_from(header.op);
    simulation
        .check_read_rejected(
            1,
            header.op,
            header.checksum,
            ReadReject::CorruptBody,
            Some(damaged),
        )
        .expect("the entry moved on: the damage is not its");
}

/// A read may newly mark a slot faulty only when `check_read_rejected` found damage in the
/// entry the slot holds: a fault the simulator cannot account for fails *knowledge*.
#[test]
fn knowledge_checker_refuses_a_false_fault() {
    use crate::checkers::knowledge::ReadDelivered;
    use journal::ReadPurpose;
    let mut simulation = quiet_cluster();
    let (slot, header, mut bytes) = head_prepare(&simulation);
    bytes[HEADER_BODY_BYTE] ^= 1;
    // The journal reads damaged bytes of its own entry: it marks the slot faulty.
    let journal = &mut simulation.replicas[1].journal;
    journal
        .read_prepare(header.op, header.checksum, ReadPurpose::Repair)
        .expect("a read IOP is free");
    let request = journal.poll_io().expect("the read is issued");
    journal.complete_read(request.id, Ok(&bytes));
    assert!(journal.faulty(slot));
    let delivered = ReadDelivered::new(slot, Some(&bytes), &simulation.messages, false);
    simulation.checkers.knowledge.read_fault_justified = false;
    let failure = simulation
        .check_read_fault_justified(1, delivered)
        .expect_err("nothing justified the fault");
    assert_eq!(failure.checker, "knowledge");
    assert!(
        failure.message.contains("found no damage"),
        "{}",
        failure.message
    );
    simulation.checkers.knowledge.read_fault_justified = true;
    simulation
        .check_read_fault_justified(1, delivered)
        .expect("a rejection of damaged bytes justifies it");
    simulation.checkers.knowledge.read_fault_justified = false;
    let already = ReadDelivered::new(slot, Some(&bytes), &simulation.messages, true);
    simulation
        .check_read_fault_justified(1, already)
        .expect("the slot was faulty before the read");
}

/// Damage the journal has read is compared even where the disk marks it; damage nobody read
/// is not (the journal cannot know it).
#[test]
fn knowledge_checker_compares_a_slot_whose_damage_the_journal_read() {
    use crate::checkers::journal_disk::Compare;
    let mut simulation = quiet_cluster();
    let (slot, header, offset) = head_slot(&simulation);
    let tick = simulation.tick;
    assert!(simulation.replicas[1]
        .disk
        .aim_bit_rot(tick, ZONE_PREPARES, offset));
    simulation
        .check_journal_matches_disk(1, Compare::Idle)
        .expect("unread damage is not the journal's to know");
    let failure = simulation
        .check_journal_matches_disk(1, Compare::Recovered)
        .expect_err("a recovery reads every slot");
    assert_eq!(failure.checker, "journal");
    simulation.checkers.knowledge.damage_read[1][slot as usize] = Some(header.checksum);
    let failure = simulation
        .check_journal_matches_disk(1, Compare::Idle)
        .expect_err("read, rejected, and held clean");
    assert_eq!(failure.checker, "knowledge");
}

/// The journal's claims about itself are checked against the disk and its slots.
#[test]
fn knowledge_checker_refuses_false_idle_and_unreported_recoveries() {
    let mut simulation = quiet_cluster();
    simulation.check_io_idle_claim(0).expect("idle");
    let tick = simulation.tick;
    simulation.replicas[0]
        .disk
        .submit_read(tick, 0, ZONE_PREPARES, 0, 512);
    let failure = simulation
        .check_io_idle_claim(0)
        .expect_err("a read is in flight");
    assert_eq!(failure.checker, "knowledge");

    let simulation = quiet_cluster();
    let failure = simulation
        .check_recovery_reported(1, &[])
        .expect_err("no slot reported");
    assert!(
        failure.message.contains("reported decisions for 0"),
        "{}",
        failure.message
    );
    let slot_count = simulation.config.journal.slot_count;
    let (head, _, _) = head_slot(&simulation);
    let recoveries: Vec<(u64, journal::SlotRecovery)> = (0..slot_count)
        .map(|slot| {
            let decision = if slot == head {
                journal::Decision::Vsr
            } else {
                journal::Decision::Eql
            };
            (
                slot,
                journal::SlotRecovery {
                    label: "@C",
                    decision,
                },
            )
        })
        .collect();
    let failure = simulation
        .check_recovery_reported(1, &recoveries)
        .expect_err("a vsr slot held clean");
    assert!(failure.message.contains("@C vsr"), "{}", failure.message);
}

/// A run may only end with every slot repaired and nothing in flight, whatever the journal's
/// own summaries say: `check_final` looks at each slot and at the disk's queue.
#[test]
fn final_check_refuses_a_dirty_slot_and_io_in_flight() {
    let mut simulation = quiet_cluster();
    let op = simulation.op_committed_max();
    let header = Header::decode(
        &simulation.messages[&simulation.committed.get(op).expect("committed").checksum],
    )
    .expect("a prepare");
    assert!(simulation.replicas[1].journal.has_header(&header));
    simulation.replicas[1].journal.set_header_as_dirty(&header);
    let failure = simulation.check_final().expect_err("a dirty slot is left");
    assert_eq!(failure.checker, "liveness");
    assert!(
        failure.message.contains("not repaired"),
        "{}",
        failure.message
    );

    let mut simulation = quiet_cluster();
    let tick = simulation.tick;
    simulation.replicas[0]
        .disk
        .submit_read(tick, 0, ZONE_PREPARES, 0, 512);
    let failure = simulation.check_final().expect_err("a read is in flight");
    assert_eq!(failure.checker, "liveness");
    assert!(failure.message.contains("in flight"), "{}", failure.message);
}

/// A header made for `op` in `view` on top of the committed history, recorded as made by a
/// primary (so that only the property under test is broken).
fn made_header(simulation: &mut Simulation, op: u64, view: u32, parent: u32) -> Header {
    let mut header = Header::root(simulation.replicas[0].journal.cluster());
    header.op = op;
    header.view = view;
    header.parent = parent;
    header.operation = journal::header::OPERATION_APPLICATION_MIN;
    header.set_body(&[7, 7, 7]);
    header.set_checksum();
    let mut message = header.to_bytes().to_vec();
    message.extend_from_slice(&[7, 7, 7]);
    simulation.messages.insert(header.checksum, message);
    header
}

/// A header for the op after the committed head, on top of the committed history.
fn next_header(simulation: &mut Simulation, view: u32) -> Header {
    let op = simulation.op_committed_max() + 1;
    let parent = simulation
        .committed
        .get(op - 1)
        .expect("committed")
        .checksum;
    made_header(simulation, op, view, parent)
}

/// (a) Committed history is immutable: committing another version of a committed op, or a
/// view whose canonical log stops below the commit, is reported.
#[test]
fn history_checker_refuses_a_changed_commit() {
    let mut simulation = quiet_cluster();
    let op = simulation.op_committed_max();
    let committed = simulation.committed.get(op).expect("committed");
    simulation
        .commit(op, committed.checksum, committed.view)
        .expect("the same version again is fine");
    let failure = simulation
        .commit(op, committed.checksum ^ 1, committed.view + 1)
        .expect_err("another version of a committed op");
    assert_eq!(failure.checker, "history");
    let failure = simulation
        .commit(op + 2, 1, committed.view)
        .expect_err("a commit with a gap below it");
    assert_eq!(failure.checker, "history");
}

/// (b) A recovered journal holds only headers some primary made, and none from the view that
/// committed its op or later in another version.
#[test]
fn history_checker_refuses_invented_and_contradicting_headers() {
    let mut simulation = quiet_cluster();
    simulation.check_recovered_history(1).expect("consistent");
    let op = simulation.op_committed_max();
    let committed = simulation.committed.get(op).expect("committed");
    let parent = simulation.replicas[1]
        .journal
        .header_with_op(op - 1)
        .expect("held")
        .checksum;
    // Another version of a committed op, from its committing view: invented.
    let view = committed.view;
    let other = made_header(&mut simulation, op, view, parent);
    simulation.replicas[1].journal.set_header_as_dirty(&other);
    let failure = simulation
        .check_recovered_history(1)
        .expect_err("a version from the committing view");
    assert_eq!(failure.checker, "history");
    assert!(
        failure.message.contains("committed as"),
        "{}",
        failure.message
    );
    // A header no primary made.
    let mut simulation = quiet_cluster();
    let invented = next_header(&mut simulation, 0);
    simulation.messages.remove(&invented.checksum);
    simulation.replicas[1]
        .journal
        .set_header_as_dirty(&invented);
    let failure = simulation.check_recovered_history(1).expect_err("invented");
    assert_eq!(failure.checker, "history");
    assert!(
        failure.message.contains("no primary ever made"),
        "{}",
        failure.message
    );
}

/// (c) A recovered head never lies beyond what the durable view allows: no header of a view
/// past the durable log view.
#[test]
fn history_checker_refuses_a_head_past_the_durable_log_view() {
    let mut simulation = quiet_cluster();
    let log_view = simulation.replicas[1].superblock.log_view;
    let ahead = next_header(&mut simulation, log_view + 1);
    simulation.replicas[1].journal.set_header_as_dirty(&ahead);
    let failure = simulation
        .check_recovered_history(1)
        .expect_err("view ahead");
    assert_eq!(failure.checker, "history");
    assert!(
        failure.message.contains("past its durable log view"),
        "{}",
        failure.message
    );
}

/// (d) A replica never nacks an op it acknowledged: its vote is checked against what it
/// answered `prepare_ok` for.
#[test]
fn nack_checker_refuses_a_vote_without_an_acknowledged_op() {
    let mut simulation = quiet_cluster();
    simulation.vote(1).expect("holds what it acknowledged");
    let view = simulation.replicas[1].view;
    let lost = next_header(&mut simulation, view);
    simulation.acknowledged.on_ack(1, lost.op, lost.checksum);
    let failure = simulation.vote(1).expect_err("nacks what it acknowledged");
    assert_eq!(failure.checker, "nack");
    // Held dirty is no excuse (dirty and not faulty nacks); a faulty slot is.
    simulation.replicas[1].journal.set_header_as_dirty(&lost);
    assert_eq!(simulation.vote(1).expect_err("dirty").checker, "nack");
}

/// A replica answers `prepare_ok` only for its view's log: the headers from its head down to
/// its checkpoint form one hash chain (`Replica::log_chains`). Another version of an op below
/// the head breaks it, as a superseded version a recovery reloaded does (seed 17045).
#[test]
fn log_chains_breaks_at_another_version_below_the_head() {
    let mut simulation = quiet_cluster();
    let replica = &simulation.replicas[1];
    assert!(replica.log_chains(), "a quiet replica's log chains");
    let head = replica.op_head();
    assert!(head >= replica.op_checkpoint + 2, "an op below the head");
    let op = head - 1;
    let parent = replica.header(op - 1).expect("held").checksum;
    let view = replica.journal.header_with_op(op).expect("held").view;
    let other = made_header(&mut simulation, op, view, parent);
    simulation.replicas[1].journal.set_header_as_dirty(&other);
    assert!(!simulation.replicas[1].log_chains());
}
