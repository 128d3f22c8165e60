//! ASCII pictures of the rings: one row per replica, one character per slot, taken at every
//! crash and every recovery of a replayed run (`vopr replay`, `vopr report`).
//!
//! A picture is taken from what the simulator already holds (each journal's slot states, the
//! writes in flight, the disk's fault marks and fault log) and never changes the run: no PRNG
//! draw, nothing hashed. Only a replay takes pictures (`Trace::keeps_lines`).
//!
//! ```text
//! r0 |..dF.w..T.....__________| head op 37 @5  checkpoint op 32 @0
//!    |C    H                  |
//! ```

use crate::replica::{record_slots, Replica, Status};
use fault_models::FaultKind;
use journal::Zone;

/// The legend, printed once above the first picture.
pub const LEGEND: &str = "ring legend: one row per replica, one character per slot: \
'.' clean, '_' reserved (empty), 'd' dirty, 'F' faulty, 'w' write in flight, \
'T' write torn by this crash, '!' clean to the journal but damaged on disk; \
under the row 'C' marks the checkpoint's slot and 'H' the head's (or '*' both)";

/// What one slot looks like in a picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotState {
    Clean,
    Reserved,
    Dirty,
    Faulty,
    Writing,
    Torn,
    /// Clean in the journal, but the disk holds a fault mark there (a latent error, a flipped
    /// sector) that no read has found yet.
    Damaged,
}

impl SlotState {
    pub const ALL: [SlotState; 7] = [
        SlotState::Clean,
        SlotState::Reserved,
        SlotState::Dirty,
        SlotState::Faulty,
        SlotState::Writing,
        SlotState::Torn,
        SlotState::Damaged,
    ];

    /// The slot's character in the ASCII picture.
    pub fn char(self) -> char {
        match self {
            SlotState::Clean => '.',
            SlotState::Reserved => '_',
            SlotState::Dirty => 'd',
            SlotState::Faulty => 'F',
            SlotState::Writing => 'w',
            SlotState::Torn => 'T',
            SlotState::Damaged => '!',
        }
    }

    /// A word for the HTML legend and tooltips.
    pub fn name(self) -> &'static str {
        match self {
            SlotState::Clean => "clean",
            SlotState::Reserved => "reserved",
            SlotState::Dirty => "dirty",
            SlotState::Faulty => "faulty",
            SlotState::Writing => "write in flight",
            SlotState::Torn => "torn by this crash",
            SlotState::Damaged => "damaged on disk",
        }
    }
}

/// One slot of one row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotCell {
    pub state: SlotState,
    /// The op of the slot's in-memory header (its slot index when reserved).
    pub op: u64,
    /// At the recovering replica's row: the slot's case label and decision.
    pub recovery: Option<(&'static str, &'static str)>,
}

/// One replica's ring.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RingRow {
    pub replica: u8,
    /// Empty when the replica is down or still recovering (its journal holds nothing yet); the
    /// status then says which.
    pub cells: Vec<SlotCell>,
    pub status: String,
    pub op_head: u64,
    pub op_checkpoint: u64,
}

/// Why a picture was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Moment {
    /// Replica crashed: its row shows the ring as the crash left it (writes in flight, torn).
    Crash,
    /// Replica finished recovering: its row shows each slot's case and decision.
    Recovery,
}

/// Every replica's ring at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RingPicture {
    pub tick: u64,
    pub replica: u8,
    pub moment: Moment,
    pub slot_count: u64,
    pub rows: Vec<RingRow>,
}

impl RingPicture {
    /// Takes the picture. At a crash, call it after the disk crashed (so that its torn writes
    /// are in the fault log) and before the replica forgets its writes in flight.
    pub fn take(
        replicas: &[Replica],
        tick: u64,
        replica: usize,
        moment: Moment,
        recoveries: &[(u64, journal::SlotRecovery)],
    ) -> RingPicture {
        let slot_count = replicas[replica].journal.config().slot_count;
        let rows = replicas
            .iter()
            .map(|r| {
                let index = usize::from(r.index);
                let subject = index == replica;
                // At its recovery the replica is still `Recovering` (its journal is whole); at a
                // crash during recovery its journal held nothing yet.
                let up = r.status.is_up() || (subject && moment == Moment::Recovery);
                if !up {
                    return RingRow {
                        replica: r.index,
                        cells: Vec::new(),
                        status: match r.status {
                            Status::Down { restart_tick } => {
                                format!("down, restarts at tick {restart_tick}")
                            }
                            _ if subject => "crashed while recovering".into(),
                            _ => "recovering".into(),
                        },
                        op_head: 0,
                        op_checkpoint: r.op_checkpoint,
                    };
                }
                let torn = if subject && moment == Moment::Crash {
                    torn_slots(r, tick)
                } else {
                    vec![false; slot_count as usize]
                };
                let writing = writing_slots(r);
                let cells = (0..slot_count)
                    .map(|slot| {
                        let header = r.journal.header(slot);
                        let state = if torn[slot as usize] {
                            SlotState::Torn
                        } else if writing[slot as usize] {
                            SlotState::Writing
                        } else if r.journal.faulty(slot) {
                            SlotState::Faulty
                        } else if r.journal.dirty(slot) {
                            SlotState::Dirty
                        } else if r.slot_stored_faulty(slot) {
                            SlotState::Damaged
                        } else if header.is_reserved() {
                            SlotState::Reserved
                        } else {
                            SlotState::Clean
                        };
                        let recovery = if subject && moment == Moment::Recovery {
                            recoveries
                                .iter()
                                .find(|(s, _)| *s == slot)
                                .map(|(_, rec)| (rec.label, rec.decision.name()))
                        } else {
                            None
                        };
                        SlotCell {
                            state,
                            op: header.op,
                            recovery,
                        }
                    })
                    .collect();
                RingRow {
                    replica: r.index,
                    cells,
                    status: format!("{:?}", r.status),
                    op_head: r.op_head(),
                    op_checkpoint: r.op_checkpoint,
                }
            })
            .collect();
        RingPicture {
            tick,
            replica: replica as u8,
            moment,
            slot_count,
            rows,
        }
    }

    /// The picture as text: a title line, then per replica a row and a marker line (only
    /// `only_replica`'s when given).
    pub fn render(&self, only_replica: Option<u8>) -> String {
        let mut out = format!(
            "tick {:>6} r{}: ring at {}:\n",
            self.tick,
            self.replica,
            match self.moment {
                Moment::Crash => "crash",
                Moment::Recovery => "recovery",
            }
        );
        for row in &self.rows {
            if only_replica.is_some_and(|only| only != row.replica) {
                continue;
            }
            let mark = if row.replica == self.replica {
                '>'
            } else {
                ' '
            };
            if row.cells.is_empty() {
                out.push_str(&format!("  {mark}r{} ({})\n", row.replica, row.status));
                continue;
            }
            let cells: String = row.cells.iter().map(|c| c.state.char()).collect();
            let head = row.op_head % self.slot_count;
            let checkpoint = row.op_checkpoint % self.slot_count;
            let markers: String = (0..self.slot_count)
                .map(|slot| match (slot == checkpoint, slot == head) {
                    (true, true) => '*',
                    (true, false) => 'C',
                    (false, true) => 'H',
                    (false, false) => ' ',
                })
                .collect();
            out.push_str(&format!(
                "  {mark}r{} |{cells}| head op {} @{head}  checkpoint op {} @{checkpoint}  {}\n",
                row.replica, row.op_head, row.op_checkpoint, row.status
            ));
            out.push_str(&format!("      {markers} \n"));
        }
        out
    }
}

/// Slots with a write in flight: a prepare write marks its slot, a header-sector write every
/// slot of that sector.
fn writing_slots(replica: &Replica) -> Vec<bool> {
    let config = replica.journal.config();
    let mut writing = vec![false; config.slot_count as usize];
    for (zone, offset, len) in replica.in_flight_writes.values() {
        let (first, last) = match zone {
            Zone::WalPrepares => (
                offset / config.message_size_max,
                offset / config.message_size_max,
            ),
            Zone::WalHeaders => (
                offset / journal::HEADER_SIZE,
                (offset + len).div_ceil(journal::HEADER_SIZE) - 1,
            ),
        };
        for slot in first..=last.min(config.slot_count - 1) {
            writing[slot as usize] = true;
        }
    }
    writing
}

/// Slots a crash at `tick` tore (the disk's fault log records each torn write at the crash's
/// tick).
fn torn_slots(replica: &Replica, tick: u64) -> Vec<bool> {
    let config = replica.journal.config();
    let mut torn = vec![false; config.slot_count as usize];
    for record in replica.disk.fault_log().records().iter().rev() {
        if record.tick != tick {
            break;
        }
        if record.kind != FaultKind::TornWrite {
            continue;
        }
        for slot in record_slots(config, record.zone, record.offset, record.len) {
            torn[slot as usize] = true;
        }
    }
    torn
}
