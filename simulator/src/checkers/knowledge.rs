//! The *knowledge* checker: what the journal says it knows about its slots agrees with what the
//! simulator knows happened to them, so that a journal that under-reports (damage it read but
//! forgot, a recovery it did not report, I/O it called idle) cannot blind the other checkers.
//!
//! - A repair read whose bytes were damaged (the disk returned an error, or bytes that are not
//!   the prepare written for that checksum) and that the journal rejected leaves the slot, if it
//!   still holds that entry, faulty and dirty; a read of intact bytes is never rejected as
//!   corrupt. The damage read is remembered (`KnowledgeChecker::damage_read`) until the slot's prepare
//!   is rewritten, and the *journal* checker compares that slot even where the disk marks it
//!   damaged.
//! - A recovery reports a decision for every slot, and the journal's state after it agrees with
//!   each decision; its clean slots are compared with the disk even where the disk marks damage
//!   (recovery read every slot).
//! - A read marks a slot faulty only when it rejected damaged bytes of the entry the slot holds:
//!   no false faults.
//! - `io_idle` is never claimed while the disk holds I/O the journal submitted.
//! - `dirty_count` / `faulty_count` agree with the slots (in `journal_disk.rs`).

use super::journal_disk::{Compare, JournalChecker};
use super::{Check, Observed};
use journal::{Decision, Header, ReadReject, SlotRecovery, HEADER_SIZE};

/// What the disk delivered for the prepare read being completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadDelivered {
    pub slot: u64,
    /// The checksum the delivered bytes' header claims, if they decode.
    pub claimed: Option<u32>,
    /// Whether the bytes after the claimed prepare are zero.
    pub padding_zero: bool,
    /// The checksum of the prepare the bytes are exactly (header, body, zero padding), if any.
    pub intact: Option<u32>,
    /// Whether the journal held the slot faulty before this read completed.
    pub faulty_before: bool,
    /// Whether the bytes were classified (`claimed`, `padding_zero`, `intact`): a recovery's
    /// reads are not, since only a `read_prepare`'s completion is judged by them.
    pub classified: bool,
}

impl ReadDelivered {
    /// Classifies the bytes a prepare read of `slot` returned (`None`: the read failed).
    pub fn new(
        slot: u64,
        data: Option<&[u8]>,
        messages: &std::collections::BTreeMap<u32, Vec<u8>>,
        faulty_before: bool,
    ) -> ReadDelivered {
        let header = data
            .and_then(|data| Header::decode(data).ok())
            .filter(|header| {
                let size = header.size as usize;
                size >= HEADER_SIZE as usize && data.is_some_and(|data| size <= data.len())
            });
        let (Some(data), Some(header)) = (data, header) else {
            return ReadDelivered {
                slot,
                claimed: None,
                padding_zero: false,
                intact: None,
                faulty_before,
                classified: true,
            };
        };
        let size = header.size as usize;
        let padding_zero = journal::bytes::all_zero(&data[size..]);
        let exact = messages
            .get(&header.checksum)
            .is_some_and(|message| message.as_slice() == &data[..size]);
        ReadDelivered {
            slot,
            claimed: Some(header.checksum),
            padding_zero,
            intact: (exact && padding_zero).then_some(header.checksum),
            faulty_before,
            classified: true,
        }
    }

    /// A read of recovery's: only its slot and `faulty_before` are ever asked (recovery reads
    /// every slot at every restart; classifying each would cost more than the read).
    pub(crate) fn recovery(slot: u64, faulty_before: bool) -> ReadDelivered {
        ReadDelivered {
            slot,
            claimed: None,
            padding_zero: false,
            intact: None,
            faulty_before,
            classified: false,
        }
    }
}

/// The *knowledge* checker's observer, fed by every prepare read the journal completes, every
/// rejected repair read, every crash, every prepare rewritten, every recovery and every idle
/// point. It remembers which damage each journal read (until the slot's prepare is rewritten or
/// the replica crashes), which the *journal* checker reads too.
#[derive(Clone, Debug)]
pub struct KnowledgeChecker {
    /// Per replica and slot, the checksum of the prepare whose damaged bytes this journal read
    /// (and rejected) since the slot's prepare was last written or the replica last crashed: the
    /// journal *knows* that damage, so it may never hold that entry clean.
    pub(crate) damage_read: Vec<Vec<Option<u32>>>,
    /// The read being completed was rejected for damage in the entry its slot holds: the one
    /// reason a read may mark the slot faulty.
    pub(crate) read_fault_justified: bool,
}

impl KnowledgeChecker {
    pub fn new(replica_count: usize, slot_count: u64) -> KnowledgeChecker {
        assert!(replica_count >= 1);
        KnowledgeChecker {
            damage_read: vec![vec![None; slot_count as usize]; replica_count],
            read_fault_justified: false,
        }
    }

    /// Per slot of replica `index`, the damaged prepare its journal read and rejected.
    pub fn damage_read(&self, index: usize) -> &[Option<u32>] {
        &self.damage_read[index]
    }

    /// Replica `index` crashed: its next recovery reads every slot again, and this starts afresh.
    pub fn on_crash(&mut self, index: usize) {
        self.damage_read[index].iter_mut().for_each(|d| *d = None);
    }

    /// A write of slot `slot`'s prepare completed on replica `index`: whatever damage the
    /// journal read there is gone.
    pub fn on_prepare_written(&mut self, index: usize, slot: u64) {
        self.damage_read[index][slot as usize] = None;
    }

    /// A prepare read is about to complete: nothing justifies a fault yet.
    pub fn on_read_completing(&mut self) {
        self.read_fault_justified = false;
    }

    /// Replica `index` reported slot `slot` unrecoverable: the event and `recovery_result` are
    /// two reports of one fact.
    pub fn on_unrecoverable(&self, observed: &Observed, index: usize, slot: u64) -> Check {
        if observed.replicas[index].journal.recovery_result().is_ok() {
            return Err(observed.failure(
                "knowledge",
                format!("r{index} emitted an Unrecoverable event for slot {slot}, but its recovery_result() is Ok"),
            ));
        }
        Ok(())
    }

    /// Replica `index` finished recovering: an unrecoverable slot would have been reported by an
    /// event before this one.
    pub fn on_recovery_done(&self, observed: &Observed, index: usize) -> Check {
        if let Err(error) = observed.replicas[index].journal.recovery_result() {
            return Err(observed.failure(
                "knowledge",
                format!("r{index} finished recovering with {error}, but reported no such event"),
            ));
        }
        Ok(())
    }

    /// A repair read of `(op, checksum)` was rejected: if the disk delivered damage, the journal
    /// must have marked the entry faulty; if it delivered the intact prepare, it must not have
    /// called it corrupt.
    pub fn on_read_rejected(
        &mut self,
        observed: &Observed,
        index: usize,
        op: u64,
        checksum: u32,
        reason: ReadReject,
        delivered: Option<ReadDelivered>,
    ) -> Check {
        let replica = &observed.replicas[index];
        let journal = &replica.journal;
        let slot = journal.slot_for_op(op);
        let Some(delivered) = delivered.filter(|d| d.slot == slot) else {
            // Every rejection that comes as an event follows a disk read of its slot.
            return Err(observed.failure(
                "knowledge",
                format!("r{index} rejected a read of op {op} ({reason:?}) that no disk read of its slot delivered"),
            ));
        };
        assert!(
            delivered.classified,
            "a read_prepare's read was not classified"
        );
        if delivered.intact == Some(checksum) {
            if reason.is_corruption() {
                return Err(observed.failure(
                    "knowledge",
                    format!("r{index} rejected the intact prepare of op {op} ({checksum:08x}) as {reason:?}"),
                ));
            }
            return Ok(());
        }
        let header = journal.header(slot);
        let holds = !header.is_reserved()
            && header.op == op
            && header.checksum == checksum
            && journal.prepare_checksum(slot) == Some(checksum);
        if !holds {
            // The entry moved on while the read was in flight: the damage is not its.
            return Ok(());
        }
        if !(journal.faulty(slot) && journal.dirty(slot)) {
            return Err(observed.failure(
                "knowledge",
                format!(
                    "r{index} read damaged bytes for op {op} ({checksum:08x}) in slot {slot} and rejected them ({reason:?}), but holds the slot {}",
                    if journal.dirty(slot) { "dirty and not faulty" } else { "clean" }
                ),
            ));
        }
        self.damage_read[index][slot as usize] = Some(checksum);
        self.read_fault_justified = true;
        Ok(())
    }

    /// After a prepare read completed: the journal marks a slot faulty on a read only when it
    /// rejected damaged bytes of the entry it holds there (checked by `on_read_rejected`).
    /// A false fault is not harmless: it costs a repair, makes a solo replica report an op
    /// unrecoverable, and a faulty slot never counts as a nack in a view change.
    pub fn on_read_completed(
        &self,
        observed: &Observed,
        index: usize,
        delivered: ReadDelivered,
    ) -> Check {
        let journal = &observed.replicas[index].journal;
        if delivered.faulty_before || !journal.faulty(delivered.slot) || self.read_fault_justified {
            return Ok(());
        }
        Err(observed.failure(
            "knowledge",
            format!(
                "r{index} marked slot {} faulty on a read that found no damage in the entry it holds",
                delivered.slot
            ),
        ))
    }

    /// Right after a recovery: a decision for every slot, the journal's state agrees with each,
    /// and every clean slot is intact on disk.
    pub fn on_recovery(
        &self,
        observed: &Observed,
        journal_checker: &JournalChecker,
        index: usize,
        recoveries: &[(u64, SlotRecovery)],
    ) -> Check {
        let journal = &observed.replicas[index].journal;
        let slot_count = journal.config().slot_count;
        let every_slot_once = recoveries.len() as u64 == slot_count
            && recoveries
                .iter()
                .enumerate()
                .all(|(position, (slot, _))| *slot == position as u64);
        if !every_slot_once {
            return Err(observed.failure(
                "knowledge",
                format!(
                    "r{index} recovered {slot_count} slots but reported decisions for {}",
                    recoveries.len()
                ),
            ));
        }
        for &(slot, recovery) in recoveries {
            // The names reports and coverage key by are the table's (DESIGN §3).
            let name = match recovery.decision {
                Decision::Eql => "eql",
                Decision::Nil => "nil",
                Decision::Fix => "fix",
                Decision::Vsr => "vsr",
                Decision::Cut => "cut",
                Decision::CutTorn => "cut_torn",
            };
            if recovery.decision.name() != name {
                return Err(observed.failure(
                    "knowledge",
                    format!(
                        "r{index} slot {slot}: decision {:?} is named {:?}, not {name:?}",
                        recovery.decision,
                        recovery.decision.name()
                    ),
                ));
            }
            let header = journal.header(slot);
            let (dirty, faulty) = (journal.dirty(slot), journal.faulty(slot));
            let agrees = match recovery.decision {
                Decision::Vsr => faulty && dirty && header.is_reserved(),
                Decision::Eql
                | Decision::Fix
                | Decision::Nil
                | Decision::Cut
                | Decision::CutTorn => !faulty,
            };
            if !agrees {
                return Err(observed.failure(
                    "knowledge",
                    format!(
                        "r{index} slot {slot} recovered as {} {} but the journal holds it {} (op {}, dirty {dirty}, faulty {faulty})",
                        recovery.label,
                        recovery.decision.name(),
                        if header.is_reserved() { "reserved" } else { "loaded" },
                        header.op,
                    ),
                ));
            }
        }
        journal_checker.compare(observed, self.damage_read(index), index, Compare::Recovered)?;
        Ok(())
    }

    /// The journal claims no I/O in flight: the disk must agree.
    pub fn on_idle(&self, observed: &Observed, index: usize) -> Check {
        let replica = &observed.replicas[index];
        let pending = replica.disk.pending_count();
        if pending > 0 || !replica.in_flight_writes.is_empty() {
            return Err(observed.failure(
                "knowledge",
                format!("r{index} reports its I/O idle with {pending} I/Os still on its disk"),
            ));
        }
        let writes = replica.journal.writes_in_flight();
        if writes != 0 {
            return Err(observed.failure(
                "knowledge",
                format!("r{index} reports its I/O idle but {writes} writes in flight"),
            ));
        }
        Ok(())
    }

    /// Every write on the disk is one the journal counts in flight (a write IOP may also wait
    /// for its header sector's lock, with nothing on the disk).
    pub fn on_io_submitted(&self, observed: &Observed, index: usize) -> Check {
        let replica = &observed.replicas[index];
        let (claimed, on_disk) = (
            replica.journal.writes_in_flight(),
            replica.in_flight_writes.len(),
        );
        if claimed < on_disk {
            return Err(observed.failure(
                "knowledge",
                format!("r{index} reports {claimed} writes in flight with {on_disk} on its disk"),
            ));
        }
        Ok(())
    }
}
