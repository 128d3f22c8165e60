//! `engines`: storage engines run unchanged on the simulated file ([`fault_models::SimFile`])
//! under seeded crashes and faults, judged against ground truth the runner keeps.
//!
//! - [`handle`]: the one file of a run, shared by the engine's storage adapter and the runner,
//!   with the crash switch (the process dies before a chosen storage call).
//! - [`engine`]: the [`Engine`] trait every adapter implements, its [`Promise`], the workload's
//!   steps.
//! - [`adapters`]: one file per engine, translating its storage trait to the file and its API to
//!   [`Engine`]: [`adapters::redb`] (`StorageBackend`), [`adapters::file_wal`] (our
//!   `file_storage::Storage`).
//! - [`workloads`]: one file per engine, the seeded workload generator.
//! - [`model`]: the ground truth and its checks; [`values`]: self-describing values;
//!   [`outcome`]: CORDS's outcome names and which ones a promise forbids; [`runner`]: one seed;
//!   [`sweep`]: CORDS's single-fault sweep (one fault at every sector and storage call).
//!
//! Adding an engine is one adapter file, one workload file, and a line in [`EngineKind`].
//!
//! Every engine is judged by the promise of its safe setting. Its unsafe setting (redb
//! `Durability::None`; our WAL acknowledging before its sync) really loses acknowledged commits
//! at a crash, and is judged by the same promise: that is the calibration, which must fail.

pub mod adapters {
    pub mod file_wal;
    pub mod redb;
}
pub mod engine;
pub mod handle;
pub mod model;
pub mod outcome;
pub mod panic_site;
pub mod runner;
pub mod sweep;
pub mod values;
pub mod workload;
pub mod workloads {
    pub mod file_wal;
    pub mod redb;
}

pub use engine::{Engine, EngineError, Mutation, Promise, Scan, Setting, Step};
pub use handle::FileHandle;
pub use outcome::Outcome;
pub use runner::{EngineFailure, EngineOutcome, FaultMix, RunOptions};

/// The engines the harness runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum EngineKind {
    /// redb, an embedded B-tree store (crates.io), through `StorageBackend`.
    Redb,
    /// Our file WAL (`file-storage`), through its `Storage` trait.
    FileWal,
}

impl EngineKind {
    pub const ALL: [EngineKind; 2] = [EngineKind::Redb, EngineKind::FileWal];

    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Redb => "redb",
            EngineKind::FileWal => "file-wal",
        }
    }

    pub fn parse(text: &str) -> Option<EngineKind> {
        EngineKind::ALL.into_iter().find(|kind| kind.name() == text)
    }

    /// What the engine promises, as its documentation states it.
    pub fn promise(self) -> Promise {
        match self {
            EngineKind::Redb => adapters::redb::promise(),
            EngineKind::FileWal => adapters::file_wal::promise(),
        }
    }

    /// The promise in words (what a report states next to what the engine did).
    pub fn promise_text(self) -> &'static str {
        match self {
            EngineKind::Redb => adapters::redb::PROMISE_TEXT,
            EngineKind::FileWal => adapters::file_wal::PROMISE_TEXT,
        }
    }

    /// The sweep's default workload: its seed, the steps before the faults at rest, and the
    /// steps after. Chosen so that the file is filled: redb's seed 5 draws 512 keys and values
    /// up to 6 KiB (a 1 MiB file, 2,065 sectors written); our WAL's 120 steps wrap its ring
    /// and move its checkpoint.
    pub fn sweep_defaults(self) -> sweep::SweepDefaults {
        match self {
            EngineKind::Redb => sweep::SweepDefaults {
                seed: 5,
                steps: 60,
                tail_steps: 8,
            },
            EngineKind::FileWal => sweep::SweepDefaults {
                seed: 0,
                steps: 120,
                tail_steps: 8,
            },
        }
    }

    /// The plan of the engine's single-fault sweep (runs the workload without faults).
    pub fn sweep_plan(self, options: &sweep::SweepOptions) -> Result<sweep::Plan, String> {
        match self {
            EngineKind::Redb => sweep::plan::<adapters::redb::Redb, workloads::redb::RedbWorkload>(
                self.name(),
                self.promise(),
                None,
                options,
            ),
            EngineKind::FileWal => {
                sweep::plan::<adapters::file_wal::FileWal, workloads::file_wal::FileWalWorkload>(
                    self.name(),
                    self.promise(),
                    Some(adapters::file_wal::RETAINED_MIN),
                    options,
                )
            }
        }
    }

    /// A runner of the sweep's cells (one per thread: it holds the prepared run).
    pub fn sweep_cells(
        self,
        options: &sweep::SweepOptions,
    ) -> Result<Box<dyn sweep::CellRunner>, String> {
        Ok(match self {
            EngineKind::Redb => Box::new(sweep::Cells::<
                adapters::redb::Redb,
                workloads::redb::RedbWorkload,
            >::new(
                self.name(), self.promise(), None, options
            )?),
            EngineKind::FileWal => Box::new(sweep::Cells::<
                adapters::file_wal::FileWal,
                workloads::file_wal::FileWalWorkload,
            >::new(
                self.name(),
                self.promise(),
                Some(adapters::file_wal::RETAINED_MIN),
                options,
            )?),
        })
    }

    /// Runs one seed. `keep_lines` keeps the readable story (replay).
    pub fn run(self, seed: u64, options: &RunOptions, keep_lines: bool) -> EngineOutcome {
        match self {
            EngineKind::Redb => runner::run::<adapters::redb::Redb, workloads::redb::RedbWorkload>(
                self.name(),
                self.promise(),
                None,
                seed,
                options,
                keep_lines,
            ),
            EngineKind::FileWal => {
                runner::run::<adapters::file_wal::FileWal, workloads::file_wal::FileWalWorkload>(
                    self.name(),
                    self.promise(),
                    Some(adapters::file_wal::RETAINED_MIN),
                    seed,
                    options,
                    keep_lines,
                )
            }
        }
    }
}
