//! Measures, in one run, the file driver against the plain I/O it is built on:
//! - acknowledged appends/s with group commit, batches of 1, 4 and 16 appends per `sync` (4 KiB
//!   and 64 KiB bodies; two barriers a batch), and the same batches committed by
//!   `sync_pipelined` (one barrier a batch: an op is acknowledged by the barrier after its
//!   batch's), vs a raw `pwrite` + `fdatasync` loop, one barrier per record, writing the same
//!   bytes to the same slots of a same-sized file;
//! - recovery of a full WAL file vs a sequential read + crc32c of the same bytes (warm cache).
//!
//! ```text
//! cargo run --profile bench -p file-storage --example bench -- DIR [--seconds S]
//! ```
//!
//! Run by `scripts/bench-file.sh`. Ratios, not absolute numbers, are the point: both sides of
//! each row run on the same filesystem in the same process within a second of each other.

use file_storage::{prepare, DirectIo, Error, FileDriver, Layout, Options};
use journal::{Config, HEADER_SIZE};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const CLUSTER: u128 = 0xbe7c;

/// 4 KiB sectors; a slot holds a 64 KiB body plus its header (rounded up to sectors); a
/// pipeline of 32, so that two batches of the largest size (16), one prepared and one open, fit
/// in it: `sync_pipelined` keeps one barrier a batch only while they do.
const CONFIG: Config = Config {
    sector_size: 4096,
    slot_count: 64,
    message_size_max: 65536 + 4096,
    pipeline_max: 32,
    iops_read_max: 8,
    iops_write_max: 1,
};

/// Appends per `sync`.
const BATCH_SIZES: [u64; 3] = [1, 4, 16];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut directory = None;
    let mut seconds = 0.5f64;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--seconds" => match iter.next().and_then(|s| s.parse().ok()) {
                Some(s) if s > 0.0 && s <= 60.0 => seconds = s,
                _ => return usage("--seconds takes a number in (0, 60]"),
            },
            flag if flag.starts_with("--") => return usage(&format!("unknown flag {flag}")),
            path if directory.is_none() => directory = Some(PathBuf::from(path)),
            extra => return usage(&format!("unexpected argument {extra}")),
        }
    }
    let Some(directory) = directory else {
        return usage("DIR is required");
    };
    if !directory.is_dir() {
        return usage(&format!("{} is not a directory", directory.display()));
    }
    match run(&directory, Duration::from_secs_f64(seconds)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(1)
        }
    }
}

fn usage(message: &str) -> ExitCode {
    eprintln!("error: {message}\nusage: bench DIR [--seconds S]");
    ExitCode::from(2)
}

fn run(directory: &Path, budget: Duration) -> Result<(), Error> {
    let layout = Layout::new(&CONFIG).expect("the bench config fits");
    println!(
        "config: sector {} B, {} slots of {} B, file {:.1} MiB; batch = appends per sync \
         (group commit: 2 fdatasync per batch; pipelined: 1); raw = pwrite + fdatasync per \
         record; ratio = pipelined / raw",
        CONFIG.sector_size,
        CONFIG.slot_count,
        CONFIG.message_size_max,
        layout.file_size as f64 / (1 << 20) as f64
    );
    println!(
        "{:<40} {:>14} {:>14} {:>14} {:>8}",
        "measure", "journal", "pipelined", "raw loop", "ratio"
    );
    for direct in [false, true] {
        for body_size in [4096usize, 65536] {
            let journal_path = directory.join("bench-journal.wal");
            let raw_path = directory.join("bench-raw.wal");
            let _ = std::fs::remove_file(&journal_path);
            let _ = std::fs::remove_file(&raw_path);
            let options = Options {
                direct,
                ..Options::default()
            };
            let (mut driver, direct_io) =
                FileDriver::create_file(&journal_path, CLUSTER, CONFIG, options)?;
            if direct && direct_io != DirectIo::On {
                println!("O_DIRECT unavailable here ({direct_io:?}): direct rows skipped");
                let _ = std::fs::remove_file(&journal_path);
                return Ok(());
            }
            let mode = if direct { "O_DIRECT" } else { "buffered" };
            // Fill the ring once (untimed), so the raw side has a ring of messages to write and
            // the recovery measurement a full file.
            let messages = fill(&mut driver, body_size)?;
            let mut raw = RawFile::create(&raw_path, &layout, direct)?;
            // The disk's flush latency drifts; alternating short rounds and taking medians keeps
            // each ratio honest.
            let round = budget / ROUNDS;
            for batch_size in BATCH_SIZES {
                let mut journal_rates = Vec::new();
                let mut pipelined_rates = Vec::new();
                let mut raw_rates = Vec::new();
                for _ in 0..ROUNDS {
                    journal_rates.push(bench_journal(&mut driver, body_size, batch_size, round)?);
                    pipelined_rates.push(bench_pipelined(
                        &mut driver,
                        body_size,
                        batch_size,
                        round,
                    )?);
                    raw_rates.push(raw.bench(&layout, &messages, round)?);
                }
                let journal_ops = median(&mut journal_rates);
                let pipelined_ops = median(&mut pipelined_rates);
                let raw_ops = median(&mut raw_rates);
                println!(
                    "{:<40} {:>10.0} op/s {:>10.0} op/s {:>10.0} op/s {:>8.2}",
                    format!(
                        "append+sync {} KiB, {mode}, batch {batch_size}",
                        body_size / 1024
                    ),
                    journal_ops,
                    pipelined_ops,
                    raw_ops,
                    pipelined_ops / raw_ops
                );
            }
            drop(driver);
            if body_size == 65536 && !direct {
                bench_recovery(&journal_path, &layout)?;
            }
            let _ = std::fs::remove_file(&journal_path);
            let _ = std::fs::remove_file(&raw_path);
        }
    }
    Ok(())
}

const ROUNDS: u32 = 6;

fn median(rates: &mut [f64]) -> f64 {
    rates.sort_by(f64::total_cmp);
    let middle = rates.len() / 2;
    if rates.len().is_multiple_of(2) {
        (rates[middle - 1] + rates[middle]) / 2.0
    } else {
        rates[middle]
    }
}

/// Appends `batch_size` ops and commits them; returns their messages.
fn append_batch(
    driver: &mut FileDriver<file_storage::FileStorage>,
    body_size: usize,
    batch_size: u64,
) -> Result<Vec<Vec<u8>>, Error> {
    let messages = append_only(driver, body_size, batch_size)?;
    driver.sync()?;
    assert_eq!(driver.op_durable(), driver.head().op);
    Ok(messages)
}

/// Appends `batch_size` ops to the open batch; returns their messages.
fn append_only(
    driver: &mut FileDriver<file_storage::FileStorage>,
    body_size: usize,
    batch_size: u64,
) -> Result<Vec<Vec<u8>>, Error> {
    assert!(HEADER_SIZE as usize + body_size <= CONFIG.message_size_max as usize);
    assert!(batch_size <= CONFIG.pipeline_max);
    let mut messages = Vec::new();
    for _ in 0..batch_size {
        let head = *driver.head();
        let op = head.op + 1;
        let message = prepare::prepare(
            CLUSTER,
            op,
            driver.log_view(),
            head.checksum,
            &prepare::body(op, body_size),
        );
        driver.append(&message)?;
        messages.push(message);
    }
    Ok(messages)
}

/// One ring's worth of appends; returns their messages.
fn fill(
    driver: &mut FileDriver<file_storage::FileStorage>,
    body_size: usize,
) -> Result<Vec<Vec<u8>>, Error> {
    let mut messages = Vec::new();
    while (messages.len() as u64) < CONFIG.slot_count {
        messages.extend(append_batch(driver, body_size, CONFIG.pipeline_max)?);
    }
    Ok(messages)
}

/// Batches of `batch_size` appends, each committed, for `budget`; returns acknowledged ops/s.
fn bench_journal(
    driver: &mut FileDriver<file_storage::FileStorage>,
    body_size: usize,
    batch_size: u64,
    budget: Duration,
) -> Result<f64, Error> {
    let start = Instant::now();
    let mut count = 0u64;
    while count < 4 || start.elapsed() < budget {
        append_batch(driver, body_size, batch_size)?;
        count += batch_size;
    }
    Ok(count as f64 / start.elapsed().as_secs_f64())
}

/// Batches of `batch_size` appends, each followed by `sync_pipelined`, for `budget`, then one
/// `sync` for the last batch; returns acknowledged ops/s. Each batch's barrier acknowledges the
/// batch before it, so the stream pays one barrier a batch (two for the last one only).
fn bench_pipelined(
    driver: &mut FileDriver<file_storage::FileStorage>,
    body_size: usize,
    batch_size: u64,
    budget: Duration,
) -> Result<f64, Error> {
    // A prepared batch and an open one must fit in the pipeline, or `append` commits the
    // prepared one with a second barrier and the row would measure `sync` again.
    assert!(2 * batch_size <= CONFIG.pipeline_max);
    assert_eq!(driver.op_durable(), driver.head().op);
    let op_durable_start = driver.op_durable();
    let start = Instant::now();
    let mut count = 0u64;
    while count < 4 || start.elapsed() < budget {
        append_only(driver, body_size, batch_size)?;
        driver.sync_pipelined()?;
        count += batch_size;
        assert!(driver.prepared_len() <= batch_size);
    }
    driver.sync()?;
    assert_eq!(driver.op_durable() - op_durable_start, count);
    Ok(count as f64 / start.elapsed().as_secs_f64())
}

/// A file of the WAL's size, written in full (as create writes the WAL file, so that neither
/// side allocates blocks while measured).
struct RawFile {
    file: File,
    aligned: file_storage::file::AlignedBuffer,
    count: u64,
}

impl RawFile {
    fn create(path: &Path, layout: &Layout, direct: bool) -> Result<RawFile, Error> {
        let io = |context| move |source| Error::Io { context, source };
        let file = File::create(path).map_err(io("create the raw file"))?;
        let chunk = vec![0u8; 1 << 20];
        let mut offset = 0;
        while offset < layout.file_size {
            let len = (layout.file_size - offset).min(chunk.len() as u64) as usize;
            file.write_all_at(&chunk[..len], offset)
                .map_err(io("fill the raw file"))?;
            offset += len as u64;
        }
        file.sync_all().map_err(io("sync the raw file"))?;
        drop(file);
        let mut open = OpenOptions::new();
        open.write(true);
        if direct {
            open.custom_flags(libc::O_DIRECT);
        }
        let file = open.open(path).map_err(io("open the raw file"))?;
        Ok(RawFile {
            file,
            aligned: file_storage::file::AlignedBuffer::default(),
            count: 0,
        })
    }

    /// The same bytes (each message rounded up to whole sectors) to the same slots, `pwrite` +
    /// `fdatasync` each, for `budget`; returns ops/s.
    fn bench(
        &mut self,
        layout: &Layout,
        messages: &[Vec<u8>],
        budget: Duration,
    ) -> Result<f64, Error> {
        let io = |context| move |source| Error::Io { context, source };
        let start = Instant::now();
        let mut count = 0u64;
        while count < 4 || start.elapsed() < budget {
            let message = &messages[self.count as usize % messages.len()];
            let sector_size = CONFIG.sector_size as usize;
            let len = message.len().div_ceil(sector_size) * sector_size;
            let buffer = self.aligned.get(len);
            buffer.fill(0);
            buffer[..message.len()].copy_from_slice(message);
            let slot = (self.count + 1) % CONFIG.slot_count;
            let offset = layout.wal_prepares_offset + slot * CONFIG.message_size_max;
            self.file
                .write_all_at(buffer, offset)
                .map_err(io("raw pwrite"))?;
            self.file.sync_data().map_err(io("raw fdatasync"))?;
            count += 1;
            self.count += 1;
        }
        Ok(count as f64 / start.elapsed().as_secs_f64())
    }
}

/// Recovery of the full WAL file vs reading the same file sequentially with crc32c, both from a
/// warm page cache; the best of five runs each.
fn bench_recovery(path: &Path, layout: &Layout) -> Result<(), Error> {
    let io = |context| move |source| Error::Io { context, source };
    let runs = 5;
    let mut recovery_best = Duration::MAX;
    for _ in 0..runs {
        let start = Instant::now();
        let (driver, _) = FileDriver::open_file(path, CLUSTER, Options::default())?;
        let elapsed = start.elapsed();
        assert_eq!(driver.recovery_report().ops_present, CONFIG.slot_count);
        recovery_best = recovery_best.min(elapsed);
    }
    let mut plain_best = Duration::MAX;
    let mut buffer = vec![0u8; 1 << 20];
    let mut checksum = 0u32;
    for _ in 0..runs {
        let start = Instant::now();
        let file = File::open(path).map_err(io("open for the plain read"))?;
        let mut offset = 0;
        while offset < layout.file_size {
            let len = (layout.file_size - offset).min(buffer.len() as u64) as usize;
            file.read_exact_at(&mut buffer[..len], offset)
                .map_err(io("plain read"))?;
            checksum = crc32c::crc32c_append(checksum, &buffer[..len]);
            offset += len as u64;
        }
        plain_best = plain_best.min(start.elapsed());
    }
    std::hint::black_box(checksum);
    println!(
        "{:<40} {:>12.2} ms {:>12.2} ms {:>8.2}",
        format!(
            "recover full {:.1} MiB WAL (warm)",
            layout.file_size as f64 / (1 << 20) as f64
        ),
        recovery_best.as_secs_f64() * 1e3,
        plain_best.as_secs_f64() * 1e3,
        recovery_best.as_secs_f64() / plain_best.as_secs_f64()
    );
    Ok(())
}
