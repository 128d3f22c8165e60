//! `bench-peers`: our file WAL against the logs people would otherwise reach for (SQLite through
//! rusqlite, redb, okaywal), on one machine and one file system, with the same durability and
//! the same payloads.
//!
//! # The rules every row obeys
//!
//! - **Durability:** an op is acknowledged only once the engine has returned from the call that
//!   makes it durable (`fdatasync`/`fsync` returned): our `sync` (two barriers a batch), SQLite's
//!   `COMMIT` in WAL mode with `synchronous=FULL`, redb's `commit` at `Durability::Immediate`,
//!   okaywal's `EntryWriter::commit`.
//! - **Payloads:** the same bytes for every engine ([`payload`]), 128 B, 1 KiB and 16 KiB.
//! - **Latency:** from the call's start to its durable return, per op; every op of a batch gets
//!   its batch's latency (that is when its caller learns it is durable).
//! - **Syncs per op:** counted by the caller of [`run_row`] (the binary runs each row in a child
//!   process under `strace -f`, between two marker `fsync`s of a file of its own, [`count_syncs`]);
//!   never estimated.
//! - **Bytes written per op:** `write_bytes` of `/proc/self/io` over the timed phase, in the
//!   process that wrote: the bytes it caused to be sent to the block layer (a page dirtied again
//!   before writeback counts once; a page dirtied again after it was written back counts again).
//!   `wchar` (bytes handed to `write` calls) beside it.
//! - **Recovery:** a log of about 64 MiB of 16 KiB entries, closed, then timed: open, and read
//!   every entry; MB/s = payload bytes / that time (1 MB = 10^6 bytes). The page cache is dropped
//!   before the open when the process may (root), and the result says which.
//!
//! Each engine's settings, and why, are at its function.

use file_storage::{prepare, CommitMode, FileDriver, Options, SharedWal};
use journal::{Config, HEADER_SIZE};
use okaywal::{Configuration, Entry, EntryId, LogManager, LogVoid, SegmentReader, WriteAheadLog};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The bench's errors: any engine's, boxed, with a word of context where it helps.
pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

const CLUSTER: u128 = 0xbe_9ee5;

/// The payload sizes every engine writes.
pub const PAYLOAD_SIZES: [usize; 3] = [128, 1024, 16384];

/// Ops per batch of the peers' batched rows: our largest batch.
pub const PEER_BATCH_SIZE: u64 = 64;

/// Distinct payloads cycled through: the same for every engine, and enough that no engine sees
/// one value again and again.
const PAYLOAD_COUNT: u64 = 64;

/// The engines, ours first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Engine {
    /// `FileDriver`: one thread, `append_batch` of `batch` ops.
    Ours,
    /// `SharedWal` (pipelined commit): `writers` threads, each appending one op at a time.
    OursShared,
    /// `SharedWal` with two barriers a batch (`CommitMode::TwoBarriers`): what pipelining gains.
    OursSharedTwoBarriers,
    /// The floor under every engine: one `pwrite` of the payload and one `fdatasync` per op, in
    /// a preallocated file. Its syncs per second are what a barrier costs here.
    Raw,
    Sqlite,
    Redb,
    Okaywal,
    RaftEngine,
}

impl Engine {
    pub const ALL: [Engine; 8] = [
        Engine::Ours,
        Engine::OursShared,
        Engine::OursSharedTwoBarriers,
        Engine::Raw,
        Engine::Sqlite,
        Engine::Redb,
        Engine::Okaywal,
        Engine::RaftEngine,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Engine::Ours => "ours",
            Engine::OursShared => "ours-shared",
            Engine::OursSharedTwoBarriers => "ours-shared-2b",
            Engine::Raw => "raw",
            Engine::Sqlite => "sqlite",
            Engine::Redb => "redb",
            Engine::Okaywal => "okaywal",
            Engine::RaftEngine => "raft-engine",
        }
    }

    /// The engines with a recovery row (the shared rows write the same file as `Ours`; the raw
    /// loop has no log to recover).
    pub const RECOVERY: [Engine; 5] = [
        Engine::Ours,
        Engine::Sqlite,
        Engine::Redb,
        Engine::Okaywal,
        Engine::RaftEngine,
    ];

    /// Rows with many writer threads.
    pub fn is_shared(self) -> bool {
        matches!(self, Engine::OursShared | Engine::OursSharedTwoBarriers)
    }

    pub fn parse(name: &str) -> Option<Engine> {
        Engine::ALL.into_iter().find(|engine| engine.name() == name)
    }
}

/// One row: an engine, how it commits, and the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowSpec {
    pub engine: Engine,
    /// Ops per durable commit (1: one op per transaction, entry or sync).
    pub batch: u64,
    /// Threads appending at once (only `OursShared` has more than one).
    pub writers: u64,
    pub payload_bytes: usize,
}

impl RowSpec {
    /// Every row of a full run, payloads outermost.
    pub fn all(payload_sizes: &[usize]) -> Vec<RowSpec> {
        let mut rows = Vec::new();
        for &payload_bytes in payload_sizes {
            let mut add = |engine, batch, writers| {
                rows.push(RowSpec {
                    engine,
                    batch,
                    writers,
                    payload_bytes,
                })
            };
            for batch in [1, 4, 16, 64] {
                add(Engine::Ours, batch, 1);
            }
            for writers in [1, 4, 16] {
                add(Engine::OursShared, 1, writers);
            }
            for writers in [4, 16] {
                add(Engine::OursSharedTwoBarriers, 1, writers);
            }
            add(Engine::Raw, 1, 1);
            for engine in [
                Engine::Sqlite,
                Engine::Redb,
                Engine::Okaywal,
                Engine::RaftEngine,
            ] {
                add(engine, 1, 1);
                add(engine, PEER_BATCH_SIZE, 1);
            }
        }
        rows
    }

    /// What the row does, in words.
    pub fn mode(&self) -> String {
        match (self.engine, self.batch) {
            (Engine::OursShared, _) => format!("{} writers, 1 op each call", self.writers),
            (Engine::OursSharedTwoBarriers, _) => {
                format!("{} writers, 2 barriers/batch", self.writers)
            }
            (Engine::Raw, _) => "pwrite + fdatasync per op".to_string(),
            (Engine::Ours, batch) => format!("batch {batch} per sync"),
            (Engine::Sqlite, 1) => "1 insert per txn".to_string(),
            (Engine::Redb, 1) => "1 insert per txn".to_string(),
            (Engine::Okaywal, 1) => "1 entry per commit".to_string(),
            (Engine::Okaywal, batch) => format!("{batch} chunks per entry"),
            (Engine::RaftEngine, 1) => "1 entry per sync write".to_string(),
            (Engine::RaftEngine, batch) => format!("{batch} entries per sync write"),
            (_, batch) => format!("{batch} inserts per txn"),
        }
    }

    /// A short name for `--only` and for the child's argument.
    pub fn key(&self) -> String {
        format!(
            "{}:b{}:w{}:p{}",
            self.engine.name(),
            self.batch,
            self.writers,
            self.payload_bytes
        )
    }

    pub fn parse_key(key: &str) -> Option<RowSpec> {
        let mut parts = key.split(':');
        let engine = Engine::parse(parts.next()?)?;
        let mut number =
            |prefix: char| -> Option<u64> { parts.next()?.strip_prefix(prefix)?.parse().ok() };
        let spec = RowSpec {
            engine,
            batch: number('b')?,
            writers: number('w')?,
            payload_bytes: number('p')? as usize,
        };
        (parts.next().is_none() && spec.batch >= 1 && spec.writers >= 1).then_some(spec)
    }
}

/// What one row measured, in the process that did the writes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    pub ops: u64,
    pub elapsed_s: f64,
    pub latency_ns_p50: u64,
    pub latency_ns_p99: u64,
    /// `/proc/self/io` over the timed phase (`None` where the kernel has no I/O accounting).
    pub write_bytes: Option<u64>,
    pub wchar_bytes: Option<u64>,
    /// The device's written bytes over the timed phase (every process's: [`IoCounters`]).
    pub device_bytes: Option<u64>,
}

impl Measured {
    pub fn ops_per_s(&self) -> f64 {
        self.ops as f64 / self.elapsed_s
    }
}

/// The payload for op `index` (cycling through [`PAYLOAD_COUNT`] distinct ones).
pub fn payload(index: u64, size: usize) -> Vec<u8> {
    prepare::body(index % PAYLOAD_COUNT, size)
}

/// Write counters at one moment: the process's (`/proc/self/io`) and the device's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IoCounters {
    /// Bytes the process caused to be sent to the block layer, accounted when a page is
    /// dirtied. Kernels with large page-cache folios (6.x) account the whole folio a small write
    /// dirties: a 4 KiB write into a file first written in 1 MiB chunks counts as up to 1 MiB.
    pub write_bytes: Option<u64>,
    /// Bytes handed to `write`/`pwrite` calls.
    pub wchar: Option<u64>,
    /// Sectors written by the block device under the directory (`/sys/dev/block/M:m/stat`),
    /// times 512: what reached the device, from every process on the machine (file-system
    /// journal included).
    pub device_bytes: Option<u64>,
}

impl IoCounters {
    pub fn now(device_stat: Option<&Path>) -> IoCounters {
        let text = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
        let field = |name: &str| -> Option<u64> {
            text.lines()
                .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        };
        let device_bytes = device_stat
            .and_then(|path| std::fs::read_to_string(path).ok())
            .and_then(|stat| stat.split_whitespace().nth(6)?.parse::<u64>().ok())
            .map(|sectors| sectors * 512);
        IoCounters {
            write_bytes: field("write_bytes:"),
            wchar: field("wchar:"),
            device_bytes,
        }
    }

    /// What was counted since `earlier`.
    pub fn since(&self, earlier: &IoCounters) -> IoCounters {
        let delta = |now: Option<u64>, then: Option<u64>| now?.checked_sub(then?);
        IoCounters {
            write_bytes: delta(self.write_bytes, earlier.write_bytes),
            wchar: delta(self.wchar, earlier.wchar),
            device_bytes: delta(self.device_bytes, earlier.device_bytes),
        }
    }
}

/// The block device statistics file of the file system holding `directory`, if it is on one.
pub fn device_stat(directory: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let device = std::fs::metadata(directory).ok()?.dev();
    // glibc's `major`/`minor`.
    let major = ((device >> 8) & 0xfff) | ((device >> 32) & !0xfff);
    let minor = (device & 0xff) | ((device >> 12) & !0xff);
    let path = PathBuf::from(format!("/sys/dev/block/{major}:{minor}/stat"));
    path.exists().then_some(path)
}

/// The value at quantile `q` of sorted latencies (nearest rank).
pub fn quantile(sorted: &[u64], q: f64) -> u64 {
    assert!(!sorted.is_empty());
    assert!((0.0..=1.0).contains(&q));
    assert!(sorted.windows(2).all(|pair| pair[0] <= pair[1]));
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Counts the sync calls in an `strace -f -e trace=fsync,fdatasync,sync_file_range,msync` log
/// between the last two `fsync(marker_fd)` lines (the child's markers around its timed phase;
/// an earlier one only warms the marker up). `None` without two markers.
pub fn count_syncs(strace_log: &str, marker_fd: i32) -> Option<u64> {
    let marker = marker_fd.to_string();
    let names = ["fsync(", "fdatasync(", "sync_file_range(", "msync("];
    // Per line: is it a marker, is it a sync call's start.
    let calls: Vec<(bool, bool)> = strace_log
        .lines()
        .map(|line| {
            // With `-o FILE -f` each line starts with the thread's id (`1234  fsync(3) = 0`),
            // on a terminal with `[pid 1234] `.
            let call = match line.strip_prefix("[pid") {
                Some(rest) => rest.split_once(']').map_or("", |(_, call)| call),
                None => line.trim_start_matches(|c: char| c.is_ascii_digit()),
            }
            .trim_start();
            // A call another thread interrupted is printed `fdatasync(4 <unfinished ...>` and
            // later `<... fdatasync resumed>`: the start alone counts.
            // The marker too may be interrupted (`fsync(3 <unfinished ...>`).
            let fd = call.strip_prefix("fsync(").map(|rest| {
                rest.split(|c: char| !c.is_ascii_digit())
                    .next()
                    .unwrap_or("")
            });
            (
                fd == Some(marker.as_str()),
                names.iter().any(|name| call.starts_with(name)),
            )
        })
        .collect();
    let markers: Vec<usize> = (0..calls.len()).filter(|&i| calls[i].0).collect();
    let [.., begin, end] = markers[..] else {
        return None;
    };
    Some(
        calls[begin + 1..end]
            .iter()
            .filter(|(_, sync)| *sync)
            .count() as u64,
    )
}

/// Time-boxes commits: calls `commit(first_op_index)` (which makes `batch` ops durable) until
/// `budget` has passed and at least `ops_min` ops are durable.
fn time_boxed(
    batch: u64,
    budget: Duration,
    ops_min: u64,
    mut commit: impl FnMut(u64) -> Result<()>,
) -> Result<(u64, Duration, Vec<u64>)> {
    assert!(batch >= 1);
    let mut latencies_ns = Vec::new();
    let start = Instant::now();
    let mut ops = 0;
    while ops < ops_min || start.elapsed() < budget {
        let call = Instant::now();
        commit(ops)?;
        let latency_ns = call.elapsed().as_nanos() as u64;
        latencies_ns.extend(std::iter::repeat_n(latency_ns, batch as usize));
        ops += batch;
    }
    Ok((ops, start.elapsed(), latencies_ns))
}

/// Runs one row in `directory` (which it fills; the caller removes it): setup untimed, then the
/// timed phase between two `fsync`s of `marker` (see [`count_syncs`]).
pub fn run_row(
    spec: &RowSpec,
    directory: &Path,
    budget: Duration,
    ops_min: u64,
    marker: &File,
) -> Result<Measured> {
    assert!(spec.writers == 1 || spec.engine.is_shared());
    let payloads: Vec<Vec<u8>> = (0..PAYLOAD_COUNT)
        .map(|index| payload(index, spec.payload_bytes))
        .collect();
    let mut timed = Timed::new(marker, directory)?;
    let (ops, elapsed, mut latencies_ns) = match spec.engine {
        Engine::Ours => ours(spec, directory, &payloads, budget, ops_min, &mut timed)?,
        Engine::OursShared | Engine::OursSharedTwoBarriers => {
            ours_shared(spec, directory, &payloads, budget, ops_min, &mut timed)?
        }
        Engine::Raw => raw(spec, directory, &payloads, budget, ops_min, &mut timed)?,
        Engine::Sqlite => sqlite(spec, directory, &payloads, budget, ops_min, &mut timed)?,
        Engine::Redb => redb(spec, directory, &payloads, budget, ops_min, &mut timed)?,
        Engine::Okaywal => okaywal(spec, directory, &payloads, budget, ops_min, &mut timed)?,
        Engine::RaftEngine => raft_engine(spec, directory, &payloads, budget, ops_min, &mut timed)?,
    };
    let counters = timed.counters.ok_or("the timed phase never ended")?;
    assert!(ops >= ops_min);
    assert_eq!(latencies_ns.len() as u64, ops);
    latencies_ns.sort_unstable();
    Ok(Measured {
        ops,
        elapsed_s: elapsed.as_secs_f64(),
        latency_ns_p50: quantile(&latencies_ns, 0.50),
        latency_ns_p99: quantile(&latencies_ns, 0.99),
        write_bytes: counters.write_bytes,
        wchar_bytes: counters.wchar,
        device_bytes: counters.device_bytes,
    })
}

/// The timed phase's bounds: a marker `fsync` and the I/O counters at each end.
struct Timed<'a> {
    marker: &'a File,
    device_stat: Option<PathBuf>,
    start: Option<IoCounters>,
    /// The counters' difference over the phase, once it ended.
    counters: Option<IoCounters>,
}

impl<'a> Timed<'a> {
    fn new(marker: &'a File, directory: &Path) -> Result<Timed<'a>> {
        // The marker's first sync may commit its metadata; the markers proper are then cheap.
        marker.sync_all()?;
        Ok(Timed {
            marker,
            device_stat: device_stat(directory),
            start: None,
            counters: None,
        })
    }

    fn begin(&mut self) -> Result<()> {
        assert!(self.start.is_none());
        // Setup's dirty pages (a preallocated file, a formatted ring) are not the row's writes.
        sync_everything();
        self.marker.sync_all()?;
        self.start = Some(IoCounters::now(self.device_stat.as_deref()));
        Ok(())
    }

    fn end(&mut self) -> Result<()> {
        let start = self.start.take().expect("begin before end");
        let end = IoCounters::now(self.device_stat.as_deref());
        self.marker.sync_all()?;
        self.counters = Some(end.since(&start));
        Ok(())
    }

    /// The timed phase of a one-writer row: [`time_boxed`] commits between `begin` and `end`.
    fn commits(
        &mut self,
        batch: u64,
        budget: Duration,
        ops_min: u64,
        commit: impl FnMut(u64) -> Result<()>,
    ) -> Result<Timing> {
        self.begin()?;
        let timing = time_boxed(batch, budget, ops_min, commit)?;
        self.end()?;
        Ok(timing)
    }
}

/// The payload of op `index` among the row's [`PAYLOAD_COUNT`] distinct ones.
fn cycled(payloads: &[Vec<u8>], index: u64) -> &[u8] {
    &payloads[(index % PAYLOAD_COUNT) as usize]
}

/// `sync(1)`: writes back every dirty page on the machine (no `unsafe` here for `sync(2)`).
fn sync_everything() {
    let _ = std::process::Command::new("sync").status();
}

type Timing = (u64, Duration, Vec<u64>);

/// Our journal's config for one payload: 4 KiB sectors, a slot holds the payload and its header
/// rounded up to sectors, a pipeline (the largest batch) of 64, `slot_count` slots.
pub fn ours_config(payload_bytes: usize, slot_count: u64) -> Config {
    let sector_size = 4096;
    let message_size_max = (HEADER_SIZE + payload_bytes as u64).div_ceil(sector_size) * sector_size;
    Config {
        sector_size,
        slot_count,
        message_size_max,
        pipeline_max: 64,
        iops_read_max: 8,
        iops_write_max: 1,
    }
}

/// Slots of the throughput rows' ring: it wraps during a row, so checkpoints (two more
/// barriers each half ring) are part of what is measured.
const OURS_SLOT_COUNT: u64 = 1024;

fn ours(
    spec: &RowSpec,
    directory: &Path,
    payloads: &[Vec<u8>],
    budget: Duration,
    ops_min: u64,
    timed: &mut Timed,
) -> Result<Timing> {
    let config = ours_config(spec.payload_bytes, OURS_SLOT_COUNT);
    assert!(spec.batch <= config.pipeline_max);
    let (mut driver, _) = FileDriver::create_file(
        &directory.join("ours.wal"),
        CLUSTER,
        config,
        Options::default(),
    )?;
    let mut messages = Vec::with_capacity(spec.batch as usize);
    timed.commits(spec.batch, budget, ops_min, |first| {
        messages.clear();
        let mut head = *driver.head();
        for index in first..first + spec.batch {
            // Each prepare names its op and its parent: built per op, checksums included.
            let message = prepare::prepare(
                CLUSTER,
                head.op + 1,
                driver.log_view(),
                head.checksum,
                cycled(payloads, index),
            );
            head = journal::Header::decode(&message).map_err(|_| "a built prepare decodes")?;
            messages.push(message);
        }
        driver.append_batch(&messages)?;
        assert_eq!(driver.op_durable(), head.op);
        Ok(())
    })
}

fn ours_shared(
    spec: &RowSpec,
    directory: &Path,
    payloads: &[Vec<u8>],
    budget: Duration,
    ops_min: u64,
    timed: &mut Timed,
) -> Result<Timing> {
    assert_eq!(spec.batch, 1);
    let config = ours_config(spec.payload_bytes, OURS_SLOT_COUNT);
    let (driver, _) = FileDriver::create_file(
        &directory.join("ours.wal"),
        CLUSTER,
        config,
        Options::default(),
    )?;
    let mode = match spec.engine {
        Engine::OursShared => CommitMode::Pipelined,
        Engine::OursSharedTwoBarriers => CommitMode::TwoBarriers,
        other => unreachable!("{other:?} is not a shared row"),
    };
    let wal = SharedWal::with_mode(
        driver,
        config.pipeline_max * file_storage::shared::QUEUE_BATCHES_DEFAULT,
        mode,
    );
    let ops_min_per_writer = ops_min.div_ceil(spec.writers);
    timed.begin()?;
    let start = Instant::now();
    let per_writer: Vec<Result<Timing>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..spec.writers)
            .map(|writer| {
                let wal = &wal;
                scope.spawn(move || {
                    time_boxed(1, budget, ops_min_per_writer, |index| {
                        let payload = cycled(payloads, writer * 7 + index);
                        wal.append(payload)?;
                        Ok(())
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("a writer thread panicked"))
            .collect()
    });
    let elapsed = start.elapsed();
    timed.end()?;
    let mut ops = 0;
    let mut latencies_ns = Vec::new();
    for result in per_writer {
        let (writer_ops, _, writer_latencies_ns) = result?;
        ops += writer_ops;
        latencies_ns.extend(writer_latencies_ns);
    }
    assert_eq!(wal.stats().op_count, ops);
    Ok((ops, elapsed, latencies_ns))
}

/// The raw loop's file: 64 MiB, written over and over.
const RAW_FILE_SIZE: u64 = 64 << 20;

fn raw(
    spec: &RowSpec,
    directory: &Path,
    payloads: &[Vec<u8>],
    budget: Duration,
    ops_min: u64,
    timed: &mut Timed,
) -> Result<Timing> {
    use std::io::Write;
    use std::os::unix::fs::FileExt;
    assert_eq!(spec.batch, 1);
    let path = directory.join("raw.log");
    let mut file = std::fs::OpenOptions::new()
        .create_new(true)
        .read(true)
        .write(true)
        .open(&path)?;
    // Written and synced before the timed phase: an append then changes no block map, so each
    // `fdatasync` writes data alone (the cheapest barrier the file system offers).
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..RAW_FILE_SIZE >> 20 {
        file.write_all(&zeros)?;
    }
    file.sync_all()?;
    let mut offset = 0u64;
    timed.commits(1, budget, ops_min, |index| {
        let payload = cycled(payloads, index);
        if offset + payload.len() as u64 > RAW_FILE_SIZE {
            offset = 0;
        }
        file.write_all_at(payload, offset)?;
        offset += payload.len() as u64;
        file.sync_data()?;
        Ok(())
    })
}

/// SQLite as a durable log: WAL mode, `synchronous=FULL` (the WAL is synced at every commit;
/// NORMAL would sync it only at checkpoints and so lose acknowledged commits on power loss), one
/// table keyed by an integer. Checkpoints run as SQLite's defaults have them (every 1000 pages).
fn sqlite_open(path: &Path) -> Result<rusqlite::Connection> {
    let connection = rusqlite::Connection::open(path)?;
    let mode: String = connection.query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))?;
    if mode != "wal" {
        return Err(format!("SQLite refused WAL mode ({mode})").into());
    }
    connection.pragma_update(None, "synchronous", "FULL")?;
    let synchronous: i64 = connection.query_row("PRAGMA synchronous", [], |row| row.get(0))?;
    // 2 = FULL.
    assert_eq!(synchronous, 2);
    connection.execute(
        "CREATE TABLE IF NOT EXISTS log (id INTEGER PRIMARY KEY, body BLOB NOT NULL)",
        [],
    )?;
    Ok(connection)
}

fn sqlite_insert_batch(
    connection: &mut rusqlite::Connection,
    first: u64,
    count: u64,
    payload_of: impl Fn(u64) -> Vec<u8>,
) -> Result<()> {
    const INSERT: &str = "INSERT INTO log (id, body) VALUES (?1, ?2)";
    if count == 1 {
        // Autocommit: the statement is its own transaction.
        connection
            .prepare_cached(INSERT)?
            .execute(rusqlite::params![first as i64, payload_of(first)])?;
        return Ok(());
    }
    let transaction = connection.transaction()?;
    {
        let mut statement = transaction.prepare_cached(INSERT)?;
        for id in first..first + count {
            statement.execute(rusqlite::params![id as i64, payload_of(id)])?;
        }
    }
    transaction.commit()?;
    Ok(())
}

fn sqlite(
    spec: &RowSpec,
    directory: &Path,
    payloads: &[Vec<u8>],
    budget: Duration,
    ops_min: u64,
    timed: &mut Timed,
) -> Result<Timing> {
    let mut connection = sqlite_open(&directory.join("sqlite.db"))?;
    timed.commits(spec.batch, budget, ops_min, |first| {
        sqlite_insert_batch(&mut connection, first, spec.batch, |id| {
            cycled(payloads, id).to_vec()
        })
    })
}

const REDB_TABLE: TableDefinition<u64, &[u8]> = TableDefinition::new("log");

/// redb at `Durability::Immediate` ("persistent as soon as commit returns"), its defaults
/// otherwise.
fn redb_insert_batch(
    database: &Database,
    first: u64,
    count: u64,
    payload_of: impl Fn(u64) -> Vec<u8>,
) -> Result<()> {
    let mut transaction = database.begin_write()?;
    transaction.set_durability(Durability::Immediate)?;
    {
        let mut table = transaction.open_table(REDB_TABLE)?;
        for key in first..first + count {
            table.insert(key, payload_of(key).as_slice())?;
        }
    }
    transaction.commit()?;
    Ok(())
}

fn redb(
    spec: &RowSpec,
    directory: &Path,
    payloads: &[Vec<u8>],
    budget: Duration,
    ops_min: u64,
    timed: &mut Timed,
) -> Result<Timing> {
    let database = Database::create(directory.join("redb.db"))?;
    timed.commits(spec.batch, budget, ops_min, |first| {
        redb_insert_batch(&database, first, spec.batch, |key| {
            cycled(payloads, key).to_vec()
        })
    })
}

/// okaywal with its default configuration (1 MiB segments, a checkpoint after 768 KiB) and
/// `LogVoid` as the log manager: checkpointed entries are dropped at no cost, as if the storage
/// behind the log absorbed them for free (which favours okaywal). A batch is one entry of
/// `batch` chunks, committed once.
fn okaywal(
    spec: &RowSpec,
    directory: &Path,
    payloads: &[Vec<u8>],
    budget: Duration,
    ops_min: u64,
    timed: &mut Timed,
) -> Result<Timing> {
    let wal = Configuration::default_for(directory.join("okaywal")).open(LogVoid)?;
    let timing = timed.commits(spec.batch, budget, ops_min, |first| {
        let mut entry = wal.begin_entry()?;
        for index in first..first + spec.batch {
            entry.write_chunk(cycled(payloads, index))?;
        }
        entry.commit()?;
        Ok(())
    })?;
    wal.shutdown()?;
    Ok(timing)
}

/// raft-engine's log entries are protobuf messages that know their index: here a `BytesValue`
/// whose value is the payload with the entry's index in its first 8 bytes (little-endian), so
/// the payload keeps its size.
#[derive(Clone, Copy, Debug)]
struct RaftEntries;

impl raft_engine::MessageExt for RaftEntries {
    type Entry = protobuf::well_known_types::BytesValue;

    fn index(entry: &Self::Entry) -> u64 {
        let bytes: [u8; 8] = entry.value[..8]
            .try_into()
            .expect("an entry carries its index");
        u64::from_le_bytes(bytes)
    }
}

/// The one raft group every entry goes to.
const RAFT_REGION: u64 = 1;

fn raft_entry(index: u64, payload: &[u8]) -> protobuf::well_known_types::BytesValue {
    assert!(payload.len() >= 8);
    let mut entry = protobuf::well_known_types::BytesValue::new();
    entry.value = payload.to_vec();
    entry.value[..8].copy_from_slice(&index.to_le_bytes());
    entry
}

/// raft-engine with its defaults (128 MiB files, format version 2, log recycling) except
/// compression, which is off: lz4 on batches over 8 KiB would shrink these patterned payloads
/// far more than real data. Each write is `Engine::write(batch, sync = true)`: one `fdatasync`
/// before it returns (concurrent writers would share it; here there is one).
fn raft_engine_open(directory: &Path) -> Result<raft_engine::Engine> {
    let config = raft_engine::Config {
        dir: directory.join("raft-engine").to_string_lossy().into_owned(),
        batch_compression_threshold: raft_engine::ReadableSize(0),
        ..raft_engine::Config::default()
    };
    Ok(raft_engine::Engine::open(config)?)
}

fn raft_engine_write(
    engine: &raft_engine::Engine,
    first: u64,
    count: u64,
    payload_of: impl Fn(u64) -> Vec<u8>,
) -> Result<()> {
    // Raft indexes start at 1.
    let entries: Vec<_> = (first..first + count)
        .map(|index| raft_entry(index + 1, &payload_of(index)))
        .collect();
    let mut batch = raft_engine::LogBatch::with_capacity(entries.len());
    batch.add_entries::<RaftEntries>(RAFT_REGION, &entries)?;
    engine.write(&mut batch, true)?;
    Ok(())
}

fn raft_engine(
    spec: &RowSpec,
    directory: &Path,
    payloads: &[Vec<u8>],
    budget: Duration,
    ops_min: u64,
    timed: &mut Timed,
) -> Result<Timing> {
    let engine = raft_engine_open(directory)?;
    timed.commits(spec.batch, budget, ops_min, |first| {
        raft_engine_write(&engine, first, spec.batch, |index| {
            cycled(payloads, index).to_vec()
        })
    })
}

/// What a recovery measurement found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recovered {
    pub engine: Engine,
    pub entries: u64,
    pub payload_bytes: usize,
    /// Payload bytes read back (checked: every entry, its size).
    pub bytes_read: u64,
    /// On-disk size of the engine's files.
    pub file_bytes: u64,
    pub open_s: f64,
    pub read_s: f64,
    pub mb_per_s: f64,
    /// Whether the page cache was dropped before the open ("cold") or not ("warm").
    pub cache: String,
}

/// Drops the page cache (root only): `sync`, then `3` into `/proc/sys/vm/drop_caches`.
pub fn drop_caches() -> bool {
    let synced = std::process::Command::new("sync")
        .status()
        .is_ok_and(|status| status.success());
    synced && std::fs::write("/proc/sys/vm/drop_caches", "3\n").is_ok()
}

/// Builds a log of `log_bytes` of payload in entries of `payload_bytes` (committed in batches),
/// closes it, drops the page cache if asked and allowed, then times open + read every entry.
pub fn run_recovery(
    engine: Engine,
    directory: &Path,
    payload_bytes: usize,
    log_bytes: u64,
    cold: bool,
) -> Result<Recovered> {
    let entries = (log_bytes / payload_bytes as u64).max(1);
    let payload_of = |index: u64| payload(index, payload_bytes);
    // Build and close.
    match engine {
        Engine::OursSharedTwoBarriers | Engine::Raw => {
            return Err(format!("no recovery row for {}", engine.name()).into());
        }
        Engine::Ours | Engine::OursShared => {
            let config = ours_config(payload_bytes, ours_recovery_slot_count(entries));
            let (mut driver, _) = FileDriver::create_file(
                &directory.join("ours.wal"),
                CLUSTER,
                config,
                Options::default(),
            )?;
            let mut index = 0;
            while index < entries {
                let count = (entries - index).min(config.pipeline_max);
                let mut messages = Vec::new();
                let mut head = *driver.head();
                for i in index..index + count {
                    let message = prepare::prepare(
                        CLUSTER,
                        head.op + 1,
                        driver.log_view(),
                        head.checksum,
                        &payload_of(i),
                    );
                    head =
                        journal::Header::decode(&message).map_err(|_| "a built prepare decodes")?;
                    messages.push(message);
                }
                driver.append_batch(&messages)?;
                index += count;
            }
            assert_eq!(driver.op_durable(), entries);
        }
        Engine::Sqlite => {
            let mut connection = sqlite_open(&directory.join("sqlite.db"))?;
            let mut index = 0;
            while index < entries {
                let count = (entries - index).min(1024);
                sqlite_insert_batch(&mut connection, index, count, payload_of)?;
                index += count;
            }
            connection.close().map_err(|(_, error)| error)?;
        }
        Engine::Redb => {
            let database = Database::create(directory.join("redb.db"))?;
            let mut index = 0;
            while index < entries {
                let count = (entries - index).min(1024);
                redb_insert_batch(&database, index, count, payload_of)?;
                index += count;
            }
        }
        Engine::Okaywal => {
            let wal = okaywal_recovery_config(directory).open(LogVoid)?;
            let mut index = 0;
            while index < entries {
                let count = (entries - index).min(PEER_BATCH_SIZE);
                // Entries of 64 chunks, as its batched row writes them; a chunk is one payload.
                let mut entry = wal.begin_entry()?;
                for i in index..index + count {
                    entry.write_chunk(&payload_of(i))?;
                }
                entry.commit()?;
                index += count;
            }
            wal.shutdown()?;
        }
        Engine::RaftEngine => {
            let engine = raft_engine_open(directory)?;
            let mut index = 0;
            while index < entries {
                let count = (entries - index).min(PEER_BATCH_SIZE);
                raft_engine_write(&engine, index, count, payload_of)?;
                index += count;
            }
        }
    }
    let file_bytes = directory_bytes(directory)?;
    let cache = if cold && drop_caches() {
        "cold"
    } else {
        "warm"
    };
    // Open, then read every entry.
    let start = Instant::now();
    let (open, bytes_read, entries_read) = match engine {
        Engine::OursSharedTwoBarriers | Engine::Raw => {
            unreachable!("refused before the build")
        }
        Engine::Ours | Engine::OursShared => {
            let (mut driver, _) =
                FileDriver::open_file(&directory.join("ours.wal"), CLUSTER, Options::default())?;
            let open = start.elapsed();
            let head = driver.head().op;
            let mut bytes = 0;
            for op in 1..=head {
                let checksum = driver
                    .journal()
                    .header_with_op(op)
                    .ok_or("a recovered op is missing")?
                    .checksum;
                let message = driver.read(op, checksum)?;
                bytes += (message.len() as u64) - HEADER_SIZE;
            }
            (open, bytes, head)
        }
        Engine::Sqlite => {
            let connection = rusqlite::Connection::open(directory.join("sqlite.db"))?;
            let open = start.elapsed();
            let mut statement = connection.prepare("SELECT id, body FROM log ORDER BY id")?;
            let mut rows = statement.query([])?;
            let (mut bytes, mut count) = (0u64, 0u64);
            while let Some(row) = rows.next()? {
                let body = row.get_ref(1)?.as_blob()?;
                bytes += body.len() as u64;
                count += 1;
            }
            (open, bytes, count)
        }
        Engine::Redb => {
            let database = Database::open(directory.join("redb.db"))?;
            let open = start.elapsed();
            let transaction = database.begin_read()?;
            let table = transaction.open_table(REDB_TABLE)?;
            let (mut bytes, mut count) = (0u64, 0u64);
            for entry in table.iter()? {
                let (_, value) = entry?;
                bytes += value.value().len() as u64;
                count += 1;
            }
            (open, bytes, count)
        }
        Engine::Okaywal => {
            // okaywal reads every entry while it opens: `recover` hands each one to the
            // manager, which reads all its chunks.
            let counter = Counting::default();
            let (bytes, count) = (counter.bytes.clone(), counter.chunks.clone());
            let wal = okaywal_recovery_config(directory).open(counter)?;
            let open = start.elapsed();
            drop(wal);
            (
                open,
                bytes.load(Ordering::Relaxed),
                count.load(Ordering::Relaxed),
            )
        }
        Engine::RaftEngine => {
            let engine = raft_engine_open(directory)?;
            let open = start.elapsed();
            let first = engine.first_index(RAFT_REGION).ok_or("no entries")?;
            let last = engine.last_index(RAFT_REGION).ok_or("no entries")?;
            let mut fetched = Vec::new();
            let (mut bytes, mut count) = (0u64, 0u64);
            let mut index = first;
            // In slices, so that memory holds a few MiB at a time.
            while index <= last {
                let end = (index + 256).min(last + 1);
                fetched.clear();
                engine.fetch_entries_to::<RaftEntries>(
                    RAFT_REGION,
                    index,
                    end,
                    None,
                    &mut fetched,
                )?;
                assert_eq!(fetched.len() as u64, end - index);
                bytes += fetched
                    .iter()
                    .map(|entry| entry.value.len() as u64)
                    .sum::<u64>();
                count += fetched.len() as u64;
                index = end;
            }
            (open, bytes, count)
        }
    };
    let total = start.elapsed();
    // Every entry came back, with its size.
    if entries_read != entries || bytes_read != entries * payload_bytes as u64 {
        return Err(format!(
            "{}: read {entries_read} entries, {bytes_read} bytes; wrote {entries} of {payload_bytes} B",
            engine.name()
        )
        .into());
    }
    Ok(Recovered {
        engine,
        entries,
        payload_bytes,
        bytes_read,
        file_bytes,
        open_s: open.as_secs_f64(),
        read_s: (total - open).as_secs_f64(),
        mb_per_s: bytes_read as f64 / 1e6 / total.as_secs_f64(),
        cache: cache.to_string(),
    })
}

/// Enough slots for `entries` ops with no wrap (the ring holds ops up to `slot_count - 1`
/// before a checkpoint), a multiple of 64 (a whole number of header sectors and pipelines).
pub fn ours_recovery_slot_count(entries: u64) -> u64 {
    (entries + 1).div_ceil(64).max(2) * 64
}

/// okaywal for the recovery log: no checkpoint at all, so every entry is still in the log when
/// it is opened again.
fn okaywal_recovery_config(directory: &Path) -> Configuration {
    Configuration::default_for(directory.join("okaywal")).checkpoint_after_bytes(1 << 50)
}

/// A log manager that reads every chunk of every entry it recovers and counts them.
#[derive(Debug, Default)]
struct Counting {
    bytes: Arc<AtomicU64>,
    chunks: Arc<AtomicU64>,
}

impl LogManager for Counting {
    fn recover(&mut self, entry: &mut Entry<'_>) -> std::io::Result<()> {
        if let Some(chunks) = entry.read_all_chunks()? {
            let bytes: u64 = chunks.iter().map(|chunk| chunk.len() as u64).sum();
            self.bytes.fetch_add(bytes, Ordering::Relaxed);
            self.chunks
                .fetch_add(chunks.len() as u64, Ordering::Relaxed);
        }
        Ok(())
    }

    fn checkpoint_to(
        &mut self,
        _last_checkpointed_id: EntryId,
        _checkpointed_entries: &mut SegmentReader,
        _wal: &WriteAheadLog,
    ) -> std::io::Result<()> {
        Ok(())
    }
}

/// Bytes of every file under `directory`.
fn directory_bytes(directory: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(directory)? {
        let entry = entry?;
        let metadata = entry.metadata()?;
        total += if metadata.is_dir() {
            directory_bytes(&entry.path())?
        } else {
            metadata.len()
        };
    }
    Ok(total)
}
