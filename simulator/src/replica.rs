//! One simulated replica: a journal on a simulated disk, plus its superblock.

use fault_models::{Disk, DiskOptions, ZoneSpec};
use journal::{Config, Header, Journal, RecoveryContext};
use std::collections::BTreeMap;

/// The replica's small, atomic, fault-free durable state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Superblock {
    pub view: u32,
    pub log_view: u32,
    pub view_headers: Vec<Header>,
    pub op_checkpoint: u64,
}

/// Where the replica is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Crashed; restarts at the given tick.
    Down {
        restart_tick: u64,
    },
    Recovering,
    Up,
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
    /// Messages received from the network (the primary's broadcast or a peer's repair), by op,
    /// waiting to be written.
    pub inbox: BTreeMap<u64, Vec<u8>>,
    /// A repair request outstanding, by op.
    pub repairing: BTreeMap<u64, u64>,
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
    /// Length of the disk's fault log when the replica last restarted.
    pub fault_log_at_restart: usize,
    /// Length of the disk's fault log when the replica restarted the time before: faults older
    /// than that were seen by the previous recovery, which read every slot.
    pub fault_log_at_restart_previous: usize,
}

pub const ZONE_HEADERS: usize = 0;
pub const ZONE_PREPARES: usize = 1;

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
        Replica {
            index,
            journal: Journal::new(config, cluster, solo).expect("swarm config is valid"),
            disk,
            status: Status::Recovering,
            superblock: Superblock {
                view: 0,
                log_view: 0,
                view_headers: Vec::new(),
                op_checkpoint: 0,
            },
            superblock_pending: None,
            op_checkpoint: 0,
            inbox: BTreeMap::new(),
            repairing: BTreeMap::new(),
            repair_reads_in_flight: 0,
            crash_affected: vec![false; config.slot_count as usize],
            damaged: vec![false; config.slot_count as usize],
            stored_faulty_at_restart: vec![false; config.slot_count as usize],
            in_flight_writes: BTreeMap::new(),
            fault_log_at_restart: 0,
            fault_log_at_restart_previous: 0,
        }
    }

    /// The highest op this replica may write: it overwrites only checkpointed ops.
    pub fn op_prepare_max(&self) -> u64 {
        op_prepare_max(self.journal.config(), self.op_checkpoint)
    }

    pub fn recovery_context(&self) -> RecoveryContext {
        RecoveryContext {
            op_checkpoint: self.superblock.op_checkpoint,
            op_prepare_max: op_prepare_max(self.journal.config(), self.superblock.op_checkpoint),
            log_view: self.superblock.log_view,
            view_headers: self.superblock.view_headers.clone(),
        }
    }

    /// The superblock as it will be once every pending update lands.
    pub fn superblock_latest(&self) -> &Superblock {
        self.superblock_pending
            .as_ref()
            .map_or(&self.superblock, |(_, s)| s)
    }
}

pub fn op_prepare_max(config: &Config, op_checkpoint: u64) -> u64 {
    op_checkpoint + config.slot_count - config.pipeline_max
}
