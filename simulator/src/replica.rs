//! One simulated replica: a journal on a simulated disk, its superblock, and the protocol state
//! it keeps in memory (lost at a crash).

use crate::network::DoViewChange;
use fault_models::{Disk, DiskOptions, ZoneSpec};
use journal::{Config, Header, Journal, RecoveryContext};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// The replica's small, atomic, fault-free durable state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Superblock {
    pub view: u32,
    pub log_view: u32,
    pub view_headers: Vec<Header>,
    pub op_checkpoint: u64,
    /// The committed header at `op_checkpoint`: the base of the log's hash chain.
    pub checkpoint_header: Header,
    pub commit_max: u64,
}

/// Where the replica is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Crashed; restarts at the given tick.
    Down {
        restart_tick: u64,
    },
    Recovering,
    /// Recovered, in a cluster: waiting for its view's `start_view` before it acknowledges
    /// anything (its log may be behind or ahead of the view's).
    AwaitingView,
    /// Collecting or casting `do_view_change` votes for `Replica::view`.
    ViewChange,
    Normal,
}

impl Status {
    /// Whether the journal is recovered and the replica takes part in the protocol.
    pub fn is_up(self) -> bool {
        matches!(
            self,
            Status::AwaitingView | Status::ViewChange | Status::Normal
        )
    }
}

/// An op the primary has prepared and not yet committed.
#[derive(Clone, Debug)]
pub struct PipelineEntry {
    pub header: Header,
    /// The prepare, kept for retransmission; `None` for an op inherited through a view change
    /// (backups repair it by checksum).
    pub message: Option<Vec<u8>>,
    /// Replicas that answered `prepare_ok` in this view (bitmask).
    pub oks: u64,
}

/// What a new primary decided from its `do_view_change` quorum.
#[derive(Clone, Debug)]
pub struct ViewPlan {
    pub op_head: u64,
    pub commit_max: u64,
    /// The canonical headers, by op (a hash chain down from the head).
    pub headers: BTreeMap<u64, Header>,
    /// For each uncommitted op, the replicas that hold its prepare clean.
    pub copies: BTreeMap<u64, Vec<u8>>,
}

#[derive(Debug)]
pub struct Replica {
    pub index: u8,
    pub journal: Journal,
    pub disk: Disk,
    pub status: Status,
    /// What survives a crash.
    pub superblock: Superblock,
    /// An update in flight: durable at the tick, unless a crash comes first.
    pub superblock_pending: Option<(u64, Superblock)>,
    /// The checkpoint in memory; may run ahead of the durable one.
    pub op_checkpoint: u64,
    /// The view the replica is in (or changing to), in memory.
    pub view: u32,
    /// The view whose log the replica's journal holds, in memory.
    pub log_view: u32,
    /// The highest op the replica knows committed.
    pub commit_max: u64,
    /// The header at `op_checkpoint` (in memory, with it).
    pub checkpoint_header: Header,
    /// The primary's durable checkpoint, as last heard.
    pub primary_checkpoint: Header,
    /// The tick the replica entered its status (timeouts).
    pub status_tick: u64,
    /// The tick the replica last heard from its primary.
    pub primary_heard_tick: u64,
    /// The next tick at which a retried message (vote, request) is sent again.
    pub retry_tick: u64,
    /// Primary: a view-change storm may follow its first prepare in this view.
    pub storm_armed: bool,
    /// Primary: ops prepared and not committed, in op order.
    pub pipeline: VecDeque<PipelineEntry>,
    /// Primary of a view change: the votes received for `view` (changed only through
    /// [`Replica::votes_insert`] and [`Replica::votes_clear`], which count the changes).
    pub votes: BTreeMap<u8, DoViewChange>,
    /// Changes to `votes` so far: a decision is a function of the votes alone.
    pub votes_changes: u64,
    /// Primary of a view change: what its own vote was last built from. A new primary waits
    /// turn after turn for votes or repairs; its vote is built again only once those change.
    pub vote_own_at: Option<VoteInputs>,
    /// Primary of a view change: `(votes_changes, (kind, op, checksum))` of the last decision
    /// that could not be made; with the same votes, it still cannot.
    pub undecided_at: Option<(u64, UndecidedWhy)>,
    /// Primary of a view change: the canonical log chosen, while its prepares are fetched.
    pub plan: Option<ViewPlan>,
    /// Primary of a view change: why it last could not decide (kind, op, votes), traced once.
    pub waiting: Option<(u64, u64, u64)>,
    /// Ops this replica answered `prepare_ok` for in the current view.
    pub oks_sent: BTreeSet<u64>,
    /// Messages received from the network (the primary's broadcast or a peer's repair), by op,
    /// waiting to be written, each with its header (decoded once, on arrival).
    pub inbox: BTreeMap<u64, (Header, Vec<u8>)>,
    /// `journal.touches()` when every prepare in `inbox` was last found still wanted; any
    /// arrival clears it ([`Replica::inbox_insert`]).
    pub inbox_kept_at: Option<u64>,
    /// `(journal.touches(), op_checkpoint, target)` when the ops up to a checkpoint's target
    /// were last found not all held clean: unchanged, they still are not.
    pub checkpoint_unheld_at: Option<(u64, u64, u64)>,
    /// A repair request outstanding, by op: (tick sent, tries).
    pub repairing: BTreeMap<u64, (u64, u32)>,
    /// The tick of the last `request_headers` (one outstanding at a time).
    pub headers_request_tick: u64,
    /// Repair reads this replica's journal has accepted and not yet completed (serving peers).
    pub repair_reads_in_flight: u64,
    /// Slots whose writes were in flight at the last crash (the only slots a crash may break).
    pub crash_affected: Vec<bool>,
    /// Slots that recovery found damaged (any decision but `eql`/`nil`) and that no write has made
    /// clean since: a `cut` slot, say, keeps its torn bytes across restarts until the ring reaches
    /// it again, so its next recovery may see the same damage with no new fault.
    pub damaged: Vec<bool>,
    /// Slots whose prepare or header sector held stored damage (`Disk::range_faulty`) when the
    /// replica last restarted.
    pub stored_faulty_at_restart: Vec<bool>,
    /// Writes submitted to the disk and not yet completed, by disk id.
    pub in_flight_writes: BTreeMap<u64, (journal::Zone, u64, u64)>,
    /// Writes in flight when a view change removed the entry of their slot, by op: an adoption
    /// of that op while one of them is still in flight is the window
    /// `readd_truncated_in_flight` counts. Bounded by the writes in flight.
    pub removed_writes: Vec<(u64, u64)>,
    /// The lowest op the last view change truncated from (since the last restart): a crash
    /// while an op from there up is still dirty (the view change's version not yet repaired) is
    /// the window `crash_after_truncation` counts.
    pub truncated_from: Option<u64>,
    /// Length of the disk's fault log when the replica last restarted.
    pub fault_log_at_restart: usize,
    /// Length of the disk's fault log when the replica restarted the time before: faults older
    /// than that were seen by the previous recovery, which read every slot.
    pub fault_log_at_restart_previous: usize,
    /// Per slot, what the journal checker saw when the slot last passed an I/O-idle check: a
    /// cache, so that the check at every idle point compares only slots that changed (interior
    /// mutability: the checkers read the simulation, they do not drive it).
    pub journal_checked: RefCell<Vec<Option<SlotChecked>>>,
    /// Per slot, where the disk keeps the stamps of its header sector and its prepare
    /// (`Disk::stamp_index`): fixed, and asked at every check of every slot.
    pub slot_stamp_indexes: Vec<(usize, usize)>,
    /// Per slot, the redundant header and the prepare the journal checker last found intact on
    /// disk, each with its zone slot's disk stamp then (`Disk::slot_stamp`): while the stamp
    /// holds, those bytes have not changed. Kept across restarts (it is about the disk).
    pub bytes_verified: RefCell<Vec<BytesVerified>>,
    /// Per slot, the prepare checksum the journal vouched for (`Journal::prepare_checksum`)
    /// that the checker last verified in full on disk, with the zone slot's stamp then.
    pub claim_verified: RefCell<Vec<Option<(u64, u32)>>>,
    /// `(journal.mutations(), disk.stamp_last())` when every slot last passed an I/O-idle check:
    /// while both are unchanged, no slot's inputs can have changed. Cleared when the journal is
    /// replaced (its count starts again).
    pub journal_checked_at: Cell<Option<(u64, u64)>>,
    /// How many slots that check compared.
    pub journal_compared: Cell<u64>,
    /// `((journal.touches(), op_min, op_max), break)` when hash-chain repair last looked for
    /// the latest break in its window: the walk is a function of the journal's headers, which
    /// change only with `touches`, so it is not repeated every turn while they do not.
    pub headers_break_at: Option<(HeadersBreakKey, Option<(u64, u64)>)>,
    /// The ops above the checkpoint and up to `high` that the journal holds dirty, in op order,
    /// as `work` last found them, and `(journal.touches(), op_checkpoint, high)` then: the
    /// list is a function of those (allocated once, refilled in place).
    pub ops_dirty: Vec<u64>,
    pub ops_dirty_at: Option<(u64, u64, u64)>,
    /// What `acknowledge` last answered from ([`Replica::acknowledge_inputs`]) and how many ops
    /// `oks_sent` then held: while both are unchanged it has nothing new to answer.
    pub acknowledged_at: Option<(AcknowledgeInputs, usize)>,
}

/// Everything a replica's vote (the cluster's `Simulation::vote`) reads besides the fixed
/// configuration: the journal's slots (by their touch count), the view, the checkpoint and
/// commit in memory, the durable superblock, and how many ops the nack checker holds it to.
#[derive(Clone, Debug, PartialEq)]
pub struct VoteInputs {
    pub touches: u64,
    pub view: u32,
    pub op_checkpoint: u64,
    pub checkpoint_header: Header,
    pub commit_max: u64,
    pub superblock: Superblock,
    pub owed_count: usize,
}

/// Why a new primary could not decide: `(kind, op, checksum)`, kind 0 an op neither nacked
/// nor held, 1 a faulty slot that may hide an op above the head.
pub type UndecidedWhy = (u64, u64, Option<u32>);

/// A slot's redundant header and prepare found intact on disk, each with its disk stamp then.
pub type BytesVerified = (Option<(u64, Header)>, Option<(u64, Header)>);

/// `(journal.touches(), op_min, op_max)` of a search for the latest hash-chain break.
pub type HeadersBreakKey = (u64, u64, u64);

/// Everything but `oks_sent` that decides which ops a replica answers `prepare_ok` for.
pub type AcknowledgeInputs = (u64, u32, u32, u32, u64, u32, u64);

/// Everything the journal checker's verdict on one slot in `Compare::Idle` depends on: the
/// journal's entry and marks, the damage it read, and the disk's stamps of the zone slots
/// holding the slot's header sector and prepare (`Disk::slot_stamp`). Equal
/// values give an equal verdict, so a slot whose values equal those of its last pass is skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotChecked {
    pub header: Header,
    pub dirty: bool,
    pub faulty: bool,
    pub prepare_checksum: Option<u32>,
    /// `Journal::slot_touches`: not an input of the verdict, but a claim checked against it.
    pub touches: u32,
    pub damage_read: Option<u32>,
    pub header_stamp: u64,
    pub prepare_stamp: u64,
}

impl SlotChecked {
    /// The slot's state as the journal holds it.
    pub fn journal_state(&self) -> (Header, bool, bool, Option<u32>) {
        (self.header, self.dirty, self.faulty, self.prepare_checksum)
    }
}

pub const ZONE_HEADERS: usize = 0;
pub const ZONE_PREPARES: usize = 1;

/// The slots a byte range of a zone covers: a header sector holds several slots' headers, a
/// prepare range lies in one slot.
pub fn record_slots(config: &Config, zone: usize, offset: u64, len: u64) -> std::ops::Range<u64> {
    let size = if zone == ZONE_HEADERS {
        journal::HEADER_SIZE
    } else {
        config.message_size_max
    };
    let first = offset / size;
    let end = (offset + len.max(1)).div_ceil(size);
    first.min(config.slot_count)..end.min(config.slot_count)
}

pub fn zones(config: &Config) -> Vec<ZoneSpec> {
    vec![
        ZoneSpec {
            name: "wal_headers".into(),
            size: config.wal_headers_size(),
            slot_size: config.sector_size,
            chunk_size: config.sector_size,
        },
        ZoneSpec {
            name: "wal_prepares".into(),
            size: config.wal_prepares_size(),
            slot_size: config.message_size_max,
            chunk_size: config.message_size_max * config.headers_per_sector(),
        },
    ]
}

impl Replica {
    pub fn new(
        index: u8,
        config: Config,
        cluster: u128,
        solo: bool,
        disk_options: DiskOptions,
    ) -> Replica {
        let mut disk = Disk::new(disk_options);
        for sector in 0..config.header_sector_count() {
            disk.poke(
                ZONE_HEADERS,
                sector * config.sector_size,
                &journal::format::wal_headers_sector(&config, cluster, sector),
            );
        }
        for slot in 0..config.slot_count {
            disk.poke(
                ZONE_PREPARES,
                slot * config.message_size_max,
                &journal::format::wal_prepare(&config, cluster, slot),
            );
        }
        let slot_stamp_indexes = (0..config.slot_count)
            .map(|slot| {
                let sector_offset = config.header_sector_offset(slot);
                (
                    disk.stamp_index(ZONE_HEADERS, sector_offset),
                    disk.stamp_index(ZONE_PREPARES, slot * config.message_size_max),
                )
            })
            .collect();
        Replica {
            index,
            journal: Journal::new(config, cluster, solo).expect("swarm config is valid"),
            disk,
            slot_stamp_indexes,
            bytes_verified: RefCell::new(vec![(None, None); config.slot_count as usize]),
            claim_verified: RefCell::new(vec![None; config.slot_count as usize]),
            status: Status::Recovering,
            superblock: Superblock {
                view: 0,
                log_view: 0,
                view_headers: Vec::new(),
                op_checkpoint: 0,
                checkpoint_header: Header::root(cluster),
                commit_max: 0,
            },
            superblock_pending: None,
            op_checkpoint: 0,
            view: 0,
            log_view: 0,
            commit_max: 0,
            checkpoint_header: Header::root(cluster),
            primary_checkpoint: Header::root(cluster),
            status_tick: 0,
            primary_heard_tick: 0,
            retry_tick: 0,
            storm_armed: false,
            pipeline: VecDeque::new(),
            votes: BTreeMap::new(),
            votes_changes: 0,
            vote_own_at: None,
            undecided_at: None,
            plan: None,
            waiting: None,
            oks_sent: BTreeSet::new(),
            inbox: BTreeMap::new(),
            repairing: BTreeMap::new(),
            headers_request_tick: 0,
            repair_reads_in_flight: 0,
            crash_affected: vec![false; config.slot_count as usize],
            damaged: vec![false; config.slot_count as usize],
            stored_faulty_at_restart: vec![false; config.slot_count as usize],
            in_flight_writes: BTreeMap::new(),
            removed_writes: Vec::new(),
            truncated_from: None,
            fault_log_at_restart: 0,
            fault_log_at_restart_previous: 0,
            journal_checked: RefCell::new(vec![None; config.slot_count as usize]),
            journal_checked_at: Cell::new(None),
            journal_compared: Cell::new(0),
            headers_break_at: None,
            ops_dirty: Vec::with_capacity(config.slot_count as usize),
            ops_dirty_at: None,
            inbox_kept_at: None,
            checkpoint_unheld_at: None,
            acknowledged_at: None,
        }
    }

    /// The highest op this replica may write: it overwrites only checkpointed ops.
    pub fn op_prepare_max(&self) -> u64 {
        self.journal.config().op_prepare_max(self.op_checkpoint)
    }

    /// Whether the disk holds damage in the slot's prepare or in its header sector.
    pub fn slot_stored_faulty(&self, slot: u64) -> bool {
        let config = self.journal.config();
        let sector_offset = config.header_sector_offset(slot);
        self.disk.range_faulty(
            ZONE_PREPARES,
            slot * config.message_size_max,
            config.message_size_max,
        ) || self
            .disk
            .range_faulty(ZONE_HEADERS, sector_offset, config.sector_size)
    }

    pub fn recovery_context(&self) -> RecoveryContext {
        RecoveryContext {
            op_checkpoint: self.superblock.op_checkpoint,
            log_view: self.superblock.log_view,
            view_headers: self.superblock.view_headers.clone(),
        }
    }

    /// Enters `view` in `status`, dropping what belonged to the view it leaves.
    pub fn enter_view(&mut self, view: u32, status: Status, tick: u64) {
        self.view = view;
        self.status = status;
        self.status_tick = tick;
        self.votes_clear();
        self.plan = None;
        self.pipeline.clear();
        self.oks_sent.clear();
    }

    /// [`Replica::enter_view`] for a view whose log the replica has still to learn (voting for
    /// it, or asking its primary): it acts at once, and nothing it awaited or repaired in the
    /// old view carries over.
    pub fn enter_view_to_learn(&mut self, view: u32, status: Status, tick: u64) {
        self.enter_view(view, status, tick);
        self.retry_tick = tick;
        self.waiting = None;
        self.repairing.clear();
    }

    /// Forgets everything a crash loses.
    pub fn forget_volatile(&mut self) {
        self.storm_armed = false;
        self.pipeline.clear();
        self.votes_clear();
        self.plan = None;
        self.oks_sent.clear();
        self.inbox.clear();
        self.repairing.clear();
        self.repair_reads_in_flight = 0;
        self.in_flight_writes.clear();
        self.removed_writes.clear();
        self.truncated_from = None;
        self.superblock_pending = None;
    }

    /// The ids of the writes in flight over `slot`: its prepare, or the header sector that
    /// holds its redundant header.
    pub fn writes_over_slot(&self, slot: u64) -> impl Iterator<Item = u64> + '_ {
        let config = *self.journal.config();
        self.in_flight_writes
            .iter()
            .filter(move |(_, &(zone, offset, len))| {
                write_slots(&config, zone, offset, len).contains(&slot)
            })
            .map(|(&id, _)| id)
    }

    /// The highest op the replica may acknowledge: within its *durable* checkpoint's prepare max,
    /// so that a crash (which reverts to that checkpoint and cuts anything past it) never makes it
    /// forget an op it acknowledged.
    pub fn op_prepare_ok_max(&self) -> u64 {
        self.journal
            .config()
            .op_prepare_max(self.superblock.op_checkpoint)
    }

    /// The head of the replica's log: the highest op its journal holds a header for, and at
    /// least its checkpoint (whose header it knows from the checkpoint itself).
    pub fn op_head(&self) -> u64 {
        self.journal.op_maximum().max(self.op_checkpoint)
    }

    /// The journal's slots (by their touch count), the views in memory and durable, and the
    /// checkpoint in memory and durable: what `acknowledge` reads besides `oks_sent`.
    pub fn acknowledge_inputs(&self) -> AcknowledgeInputs {
        (
            self.journal.touches(),
            self.view,
            self.superblock.view,
            self.superblock.log_view,
            self.op_checkpoint,
            self.checkpoint_header.checksum,
            self.superblock.op_checkpoint,
        )
    }

    /// Restarts the journal, forgetting what was remembered of the old one.
    pub fn journal_restart(&mut self) {
        // A crash forgets the journal's memory (`Journal::restart`: a new journal, in the old
        // one's allocations). Its counts (`mutations`, `touches`) start again: nothing
        // cached of the old one may be compared with them.
        self.journal.restart();
        self.journal_checked.borrow_mut().fill(None);
        self.journal_checked_at.set(None);
        self.headers_break_at = None;
        self.vote_own_at = None;
        self.ops_dirty_at = None;
        self.inbox_kept_at = None;
        self.checkpoint_unheld_at = None;
        self.acknowledged_at = None;
        self.journal_checked_at.set(None);
    }

    /// Records `from`'s vote.
    pub fn votes_insert(&mut self, from: u8, vote: DoViewChange) {
        self.votes.insert(from, vote);
        self.votes_changes += 1;
    }

    /// Drops every vote (a view left, a crash, a view started).
    pub fn votes_clear(&mut self) {
        self.votes.clear();
        self.votes_changes += 1;
        self.vote_own_at = None;
    }

    /// Whether `inputs` are what the replica's own vote would be built from now.
    pub fn vote_inputs_match(&self, inputs: &VoteInputs, owed_count: usize) -> bool {
        inputs.touches == self.journal.touches()
            && inputs.view == self.view
            && inputs.op_checkpoint == self.op_checkpoint
            && inputs.checkpoint_header == self.checkpoint_header
            && inputs.commit_max == self.commit_max
            && inputs.superblock == self.superblock
            && inputs.owed_count == owed_count
    }

    /// What the replica's own vote would be built from now.
    pub fn vote_inputs(&self, owed_count: usize) -> VoteInputs {
        VoteInputs {
            touches: self.journal.touches(),
            view: self.view,
            op_checkpoint: self.op_checkpoint,
            checkpoint_header: self.checkpoint_header,
            commit_max: self.commit_max,
            superblock: self.superblock.clone(),
            owed_count,
        }
    }

    /// Keeps a prepare from the network (or the replica's own, as primary) until it is written.
    pub fn inbox_insert(&mut self, header: Header, message: Vec<u8>) {
        self.inbox.insert(header.op, (header, message));
        self.inbox_kept_at = None;
    }

    /// The header of `op` in the replica's log, if it knows it.
    pub fn header(&self, op: u64) -> Option<Header> {
        if op == self.op_checkpoint {
            Some(self.checkpoint_header)
        } else {
            self.journal.header_with_op(op).copied()
        }
    }

    /// Whether the journal's headers form one hash chain from the head down to the checkpoint:
    /// every op in between held (clean or dirty), each naming the one below as its parent, the
    /// lowest naming the checkpoint. Then every op of it is the version the head's log holds.
    /// A walk of slots down from the head, with no division per op.
    pub fn log_chains(&self) -> bool {
        let head = self.op_head();
        let journal = &self.journal;
        let slot_count = journal.config().slot_count;
        let mut slot = journal.slot_for_op(head);
        let mut parent = None;
        for op in (self.op_checkpoint + 1..=head).rev() {
            let header = journal.header(slot);
            if header.is_reserved()
                || header.op != op
                || parent.is_some_and(|parent| parent != header.checksum)
            {
                return false;
            }
            parent = Some(header.parent);
            slot = if slot == 0 { slot_count - 1 } else { slot - 1 };
        }
        parent.is_none_or(|parent| parent == self.checkpoint_header.checksum)
    }

    /// The lowest op at or below the checkpoint whose header in the journal is the committed
    /// version: the journal's headers link, parent by parent, from the checkpoint's own header
    /// down to it. One past the checkpoint when even the checkpoint's slot holds another header.
    pub fn op_canonical_min_below_checkpoint(&self) -> u64 {
        if self.op_checkpoint == 0 {
            return 1;
        }
        let mut op = self.op_checkpoint;
        let mut checksum = self.checkpoint_header.checksum;
        // Bounded: one ring below the checkpoint at most, and never op 0 (the root is never
        // written to the prepare ring as a repairable entry).
        let op_floor = self
            .op_checkpoint
            .saturating_sub(self.journal.config().slot_count - 1)
            .max(1);
        loop {
            match self.journal.header_with_op(op) {
                Some(header) if header.checksum == checksum => {
                    if op == op_floor {
                        return op;
                    }
                    checksum = header.parent;
                    op -= 1;
                }
                _ => return op + 1,
            }
        }
    }

    /// The superblock as it will be once every pending update lands.
    pub fn superblock_latest(&self) -> &Superblock {
        self.superblock_pending
            .as_ref()
            .map_or(&self.superblock, |(_, s)| s)
    }
}

/// Calls a journal operation that may change a slot, and asserts that the journal counted it in
/// `mutations()`: the journal checker's skip of an unchanged replica trusts that count, so a call
/// it misses would hide a change from it. (The model's caches key on `touches()`, which the
/// journal checker holds to the slots' own counts.)
pub(crate) fn counted<T>(journal: &mut Journal, call: impl FnOnce(&mut Journal) -> T) -> T {
    let before = journal.mutations();
    let result = call(journal);
    assert!(
        journal.mutations() > before,
        "the journal did not count a call that may change its slots in mutations()"
    );
    result
}

/// The slots a write of `len` bytes at `offset` of `zone` covers: a prepare's own slot, or every
/// slot whose redundant header lies in the header sectors written.
pub fn write_slots(
    config: &journal::Config,
    zone: journal::Zone,
    offset: u64,
    len: u64,
) -> std::ops::RangeInclusive<u64> {
    match zone {
        journal::Zone::WalPrepares => {
            let slot = offset / config.message_size_max;
            slot..=slot
        }
        journal::Zone::WalHeaders => {
            offset / journal::HEADER_SIZE..=(offset + len) / journal::HEADER_SIZE - 1
        }
    }
}
