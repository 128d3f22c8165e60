//! Opens the WAL file at PATH (creating it if it does not exist), appends N hash-chained
//! prepares with group commit (batches of B, each acknowledged by one `append_batch`: its
//! prepares, one barrier, its header sectors, one barrier), reopens it through recovery and
//! prints what recovery found.
//!
//! ```text
//! cargo run --release -p file-storage --example wal -- PATH N [--batch B] [--direct]
//! ```
//!
//! Exit codes: 0 done, 1 an I/O error or a failed check, 2 bad input (arguments, or a file that
//! is not a WAL of this cluster).

use file_storage::{prepare, DirectIo, Error, FileDriver, Options};
use journal::{Config, Header};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const CLUSTER: u128 = 0x00fa_11ed;
const USAGE: &str = "usage: wal PATH N [--batch B] [--direct]   (N: prepares to append, \
                     0..=1000000; B: appends per sync, 1..=8, default 8)";

/// 4 KiB sectors, 128 slots of 16 KiB: a 2 MiB file.
const CONFIG: Config = Config {
    sector_size: 4096,
    slot_count: 128,
    message_size_max: 16384,
    pipeline_max: 8,
    iops_read_max: 8,
    iops_write_max: 3,
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (path, count, batch, direct) = match parse(&args) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("error: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&path, count, batch, direct) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}: {error}", path.display());
            let bad_input = !matches!(error, Error::Io { .. } | Error::Poisoned);
            ExitCode::from(if bad_input { 2 } else { 1 })
        }
    }
}

fn parse(args: &[String]) -> Result<(PathBuf, u64, u64, bool), String> {
    let mut direct = false;
    let mut batch = CONFIG.pipeline_max;
    let mut positional = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--direct" => direct = true,
            "--batch" => {
                batch = match iter.next().map(|b| b.parse::<u64>()) {
                    Some(Ok(b)) if (1..=CONFIG.pipeline_max).contains(&b) => b,
                    _ => {
                        return Err(format!(
                            "--batch takes a whole number in 1..={}",
                            CONFIG.pipeline_max
                        ))
                    }
                }
            }
            flag if flag.starts_with("--") => return Err(format!("unknown flag {flag}")),
            _ => positional.push(arg),
        }
    }
    let [path, count] = positional[..] else {
        return Err(format!(
            "expected PATH and N, got {} arguments",
            positional.len()
        ));
    };
    let count: u64 = count
        .parse()
        .map_err(|_| format!("N must be a whole number, got {count:?}"))?;
    if count > 1_000_000 {
        return Err(format!("N must be at most 1000000, got {count}"));
    }
    Ok((PathBuf::from(path), count, batch, direct))
}

fn run(path: &Path, count: u64, batch: u64, direct: bool) -> Result<(), Error> {
    let options = Options {
        direct,
        ..Options::default()
    };
    let (mut driver, direct_io) = if path.exists() {
        println!("opening {}", path.display());
        FileDriver::open_file(path, CLUSTER, options)?
    } else {
        println!(
            "creating {} ({} slots of {} bytes)",
            path.display(),
            CONFIG.slot_count,
            CONFIG.message_size_max
        );
        FileDriver::create_file(path, CLUSTER, CONFIG, options)?
    };
    if let DirectIo::Fallback { reason } = &direct_io {
        println!("O_DIRECT not used: {reason}; buffered I/O instead");
    }
    let body_size_max =
        (driver.journal().config().message_size_max - journal::HEADER_SIZE) as usize;
    let op_first = driver.head().op + 1;
    let mut last = None;
    let mut batches = 0u64;
    let mut op = op_first;
    while op < op_first + count {
        // One batch: each message chained to the one before, all acknowledged together.
        let mut messages = Vec::new();
        let mut parent = driver.head().checksum;
        while op < op_first + count && (messages.len() as u64) < batch {
            let body = prepare::body(op, (op as usize * 997) % body_size_max);
            let message = prepare::prepare(CLUSTER, op, driver.log_view(), parent, &body);
            parent = Header::decode(&message)
                .map_err(|_| Error::Append("built message"))?
                .checksum;
            messages.push(message);
            op += 1;
        }
        driver.append_batch(&messages)?;
        assert_eq!(driver.op_durable(), op - 1);
        batches += 1;
        last = messages.pop();
    }
    if count > 0 {
        println!(
            "appended ops {op_first}..={} in {batches} batches of up to {batch}, each acknowledged \
             after 2 fdatasync",
            op_first + count - 1
        );
    }
    drop(driver);

    let (mut driver, _) = FileDriver::open_file(path, CLUSTER, options)?;
    let report = driver.recovery_report().clone();
    println!(
        "recovered: head op {}, checkpoint {}, {} ops in the ring, {} header sectors repaired",
        report.op_head, report.op_checkpoint, report.ops_present, report.fix_writes
    );
    let cases: Vec<String> = report
        .cases
        .iter()
        .map(|((label, decision), slots)| format!("{label} {decision:?} x{slots}"))
        .collect();
    println!("recovery cases: {}", cases.join(", "));
    if report.ops_truncated > 0 {
        println!(
            "truncated {} ops above a hole a crash left in a batch; new view {}",
            report.ops_truncated,
            driver.log_view()
        );
    }
    if let Some(message) = last {
        let header = Header::decode(&message).map_err(|_| Error::Append("built message"))?;
        let read = driver.read(header.op, header.checksum)?;
        if read != message {
            eprintln!("error: op {} read back different bytes", header.op);
            std::process::exit(1);
        }
        println!("op {} reads back intact ({} bytes)", header.op, read.len());
    }
    Ok(())
}
