//! `bench-peers DIR [--seconds S] [--json PATH] [--quick] [--only TEXT] [--payloads A,B]
//! [--recovery-mib N] [--no-strace]`: one table of our WAL against SQLite, redb and okaywal
//! (rules in the library's module doc), printed and written as JSON.
//!
//! Each row and each recovery runs in a child process of this binary (`--child`), so that its
//! `/proc/self/io` counters and its sync calls are its own: under `strace -f` (when installed,
//! with `--seccomp-bpf` so that only the sync calls stop the process), the child's sync calls
//! between its two marker `fsync`s are counted. Without strace, syncs per op are `n/a`.
//!

use bench_peers::{count_syncs, run_recovery, run_row, Engine, Measured, Recovered, RowSpec};
use serde::Serialize;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

const USAGE: &str = "usage: bench-peers DIR [--seconds S] [--json PATH] [--quick] [--only TEXT] \
                     [--payloads 128,1024,16384] [--recovery-mib N] [--no-strace]";

/// Rows run at least this many ops, however short the time box.
const OPS_MIN: u64 = 16;

#[derive(Debug)]
struct Arguments {
    directory: PathBuf,
    seconds: f64,
    json: Option<PathBuf>,
    only: Option<String>,
    payload_sizes: Vec<usize>,
    recovery_mib: u64,
    strace: bool,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        return child(&args[1..]);
    }
    let arguments = match parse(&args) {
        Ok(arguments) => arguments,
        Err(message) => {
            eprintln!("error: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&arguments) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(1)
        }
    }
}

fn parse(args: &[String]) -> Result<Arguments, String> {
    let mut directory = None;
    let mut arguments = Arguments {
        directory: PathBuf::new(),
        seconds: 2.0,
        json: None,
        only: None,
        payload_sizes: bench_peers::PAYLOAD_SIZES.to_vec(),
        recovery_mib: 64,
        strace: true,
    };
    let mut quick = false;
    let mut seconds = None;
    let mut recovery_mib = None;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let mut value = |flag: &str| {
            iter.next()
                .cloned()
                .ok_or_else(|| format!("{flag} takes a value"))
        };
        match arg.as_str() {
            "--seconds" => match value("--seconds")?.parse::<f64>() {
                Ok(s) if s > 0.0 && s <= 600.0 => seconds = Some(s),
                _ => return Err("--seconds takes a number in (0, 600]".into()),
            },
            "--json" => arguments.json = Some(PathBuf::from(value("--json")?)),
            "--only" => arguments.only = Some(value("--only")?),
            "--payloads" => {
                arguments.payload_sizes = value("--payloads")?
                    .split(',')
                    .map(|size| {
                        size.parse::<usize>()
                            .ok()
                            .filter(|&s| (1..=1 << 20).contains(&s))
                    })
                    .collect::<Option<Vec<_>>>()
                    .ok_or("--payloads takes sizes in bytes, 1..=1048576, comma-separated")?
            }
            "--recovery-mib" => match value("--recovery-mib")?.parse::<u64>() {
                Ok(mib) if mib <= 4096 => recovery_mib = Some(mib),
                _ => return Err("--recovery-mib takes 0..=4096 (0: no recovery rows)".into()),
            },
            "--quick" => quick = true,
            "--no-strace" => arguments.strace = false,
            flag if flag.starts_with("--") => return Err(format!("unknown flag {flag}")),
            path if directory.is_none() => directory = Some(PathBuf::from(path)),
            extra => return Err(format!("unexpected argument {extra}")),
        }
    }
    arguments.directory = directory.ok_or("DIR is required")?;
    if !arguments.directory.is_dir() {
        return Err(format!(
            "{} is not a directory",
            arguments.directory.display()
        ));
    }
    // A smoke run: a fraction of a second a row and a small recovery log.
    arguments.seconds = seconds.unwrap_or(if quick { 0.2 } else { 2.0 });
    arguments.recovery_mib = recovery_mib.unwrap_or(if quick { 4 } else { 64 });
    Ok(arguments)
}

/// One row of the table, as written to JSON.
#[derive(Debug, Serialize)]
struct Row {
    key: String,
    engine: &'static str,
    mode: String,
    payload_bytes: usize,
    batch: u64,
    writers: u64,
    ops: u64,
    elapsed_s: f64,
    ops_per_s: f64,
    latency_ns_p50: u64,
    latency_ns_p99: u64,
    /// `None`: not measured (no strace, or its log lacked the markers).
    syncs_per_op: Option<f64>,
    write_bytes_per_op: Option<f64>,
    device_bytes_per_op: Option<f64>,
    wchar_bytes_per_op: Option<f64>,
}

#[derive(Debug, Serialize)]
struct Report {
    /// Issue 31's targets, one line each, as printed.
    targets: Vec<String>,
    machine: String,
    filesystem: String,
    seconds_per_row: f64,
    syncs_counted_by: String,
    rows: Vec<Row>,
    recovery: Vec<Recovered>,
}

fn run(arguments: &Arguments) -> Result<(), String> {
    let strace = arguments.strace && strace_available();
    let machine = machine();
    let filesystem = filesystem(&arguments.directory);
    println!("machine:    {machine}");
    println!("filesystem: {filesystem}");
    println!(
        "durability: every op acknowledged only after fsync/fdatasync returned; {:.2} s per row \
         (at least {OPS_MIN} ops); syncs per op {}",
        arguments.seconds,
        if strace {
            "counted by strace -f (fsync, fdatasync, sync_file_range, msync)"
        } else {
            "n/a (strace not found or --no-strace)"
        }
    );
    println!();
    println!(
        "{:<12} {:<28} {:>7} {:>10} {:>9} {:>9} {:>8} {:>10} {:>10} {:>10}",
        "engine",
        "mode",
        "payload",
        "ops/s",
        "p50 ms",
        "p99 ms",
        "syncs/op",
        "written/op",
        "device/op",
        "wchar/op"
    );
    let specs: Vec<RowSpec> = RowSpec::all(&arguments.payload_sizes)
        .into_iter()
        .filter(|spec| {
            arguments
                .only
                .as_ref()
                .is_none_or(|only| spec.key().contains(only.as_str()))
        })
        .collect();
    let mut rows = Vec::new();
    for spec in &specs {
        let (measured, syncs) = run_child_row(arguments, spec, strace)?;
        let per_op = |value: Option<u64>| value.map(|v| v as f64 / measured.ops as f64);
        let row = Row {
            key: spec.key(),
            engine: spec.engine.name(),
            mode: spec.mode(),
            payload_bytes: spec.payload_bytes,
            batch: spec.batch,
            writers: spec.writers,
            ops: measured.ops,
            elapsed_s: measured.elapsed_s,
            ops_per_s: measured.ops_per_s(),
            latency_ns_p50: measured.latency_ns_p50,
            latency_ns_p99: measured.latency_ns_p99,
            syncs_per_op: per_op(syncs),
            write_bytes_per_op: per_op(measured.write_bytes),
            device_bytes_per_op: per_op(measured.device_bytes),
            wchar_bytes_per_op: per_op(measured.wchar_bytes),
        };
        let float = |value: Option<f64>, digits: usize| {
            value.map_or("n/a".to_string(), |v| format!("{v:.digits$}"))
        };
        println!(
            "{:<12} {:<28} {:>7} {:>10.0} {:>9.3} {:>9.3} {:>8} {:>10} {:>10} {:>10}",
            row.engine,
            row.mode,
            size(row.payload_bytes),
            row.ops_per_s,
            row.latency_ns_p50 as f64 / 1e6,
            row.latency_ns_p99 as f64 / 1e6,
            float(row.syncs_per_op, 2),
            float(row.write_bytes_per_op, 0),
            float(row.device_bytes_per_op, 0),
            float(row.wchar_bytes_per_op, 0),
        );
        rows.push(row);
    }
    let mut recovery = Vec::new();
    let recovery_engines: Vec<Engine> = Engine::RECOVERY
        .into_iter()
        .filter(|engine| {
            arguments.only.as_ref().is_none_or(|only| {
                engine.name().contains(only.as_str()) || only.contains("recover")
            })
        })
        .collect();
    if arguments.recovery_mib > 0 && !recovery_engines.is_empty() {
        println!();
        println!(
            "{:<12} {:<28} {:>7} {:>10} {:>9} {:>9} {:>8} {:>10}",
            "engine",
            "recovery: open + read all",
            "entry",
            "MB/s",
            "open ms",
            "read ms",
            "cache",
            "file MiB"
        );
        for engine in recovery_engines {
            let recovered = run_child_recovery(arguments, engine)?;
            println!(
                "{:<12} {:<28} {:>7} {:>10.0} {:>9.2} {:>9.2} {:>8} {:>10.1}",
                engine.name(),
                format!(
                    "{} entries, {:.0} MiB",
                    recovered.entries,
                    recovered.bytes_read as f64 / (1 << 20) as f64
                ),
                size(recovered.payload_bytes),
                recovered.mb_per_s,
                recovered.open_s * 1e3,
                recovered.read_s * 1e3,
                recovered.cache,
                recovered.file_bytes as f64 / (1 << 20) as f64,
            );
            recovery.push(recovered);
        }
    }
    let targets = targets(&rows, &recovery);
    if !targets.is_empty() {
        println!();
        for line in &targets {
            println!("{line}");
        }
    }
    if let Some(path) = &arguments.json {
        let report = Report {
            machine,
            filesystem,
            seconds_per_row: arguments.seconds,
            syncs_counted_by: if strace {
                "strace -f --seccomp-bpf -e trace=fsync,fdatasync,sync_file_range,msync".into()
            } else {
                "not counted".into()
            },
            rows,
            recovery,
            targets,
        };
        let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
        println!("json: {}", path.display());
    }
    Ok(())
}

/// Issue 31's targets read off the rows that ran (a line only where its rows ran): per payload,
/// our concurrent writers against every peer's one-op commits, our barrier rate against the raw
/// loop's, one writer at batch 1 against SQLite's; and recovery against every peer's.
fn targets(rows: &[Row], recovery: &[Recovered]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut payloads: Vec<usize> = rows.iter().map(|row| row.payload_bytes).collect();
    payloads.sort_unstable();
    payloads.dedup();
    let peers = ["sqlite", "redb", "okaywal", "raft-engine"];
    for payload in payloads {
        let at = |engine: &str, batch: u64, writers: u64| {
            rows.iter().find(|row| {
                row.engine == engine
                    && row.payload_bytes == payload
                    && row.batch == batch
                    && row.writers == writers
            })
        };
        let shared_best = rows
            .iter()
            .filter(|row| row.engine == "ours-shared" && row.payload_bytes == payload)
            .max_by(|a, b| a.ops_per_s.total_cmp(&b.ops_per_s));
        let peer_best = rows
            .iter()
            .filter(|row| {
                peers.contains(&row.engine) && row.payload_bytes == payload && row.batch == 1
            })
            .max_by(|a, b| a.ops_per_s.total_cmp(&b.ops_per_s));
        if let (Some(ours), Some(peer)) = (shared_best, peer_best) {
            lines.push(format!(
                "target {}: concurrent writers vs every peer at 1 op per commit: ours {:.0} ops/s \
                 ({} writers) vs {} {:.0} ({:.2}x; goal >= 1) {}",
                size(payload),
                ours.ops_per_s,
                ours.writers,
                peer.engine,
                peer.ops_per_s,
                ours.ops_per_s / peer.ops_per_s,
                verdict(ours.ops_per_s >= peer.ops_per_s)
            ));
        }
        if let (Some(ours), Some(raw)) = (shared_best, at("raw", 1, 1)) {
            if let (Some(ours_syncs), Some(raw_syncs)) = (ours.syncs_per_op, raw.syncs_per_op) {
                // ops/s against the raw loop's barriers per second times our ops per barrier.
                let ratio = ours.ops_per_s * ours_syncs / (raw.ops_per_s * raw_syncs);
                lines.push(format!(
                    "target {}: ours ({} writers) {:.0} ops/s at {:.1} ops per barrier vs the raw \
                     loop's {:.0} barriers/s: {:.2}x of raw barriers/s x batch (goal >= 0.9) {}",
                    size(payload),
                    ours.writers,
                    ours.ops_per_s,
                    1.0 / ours_syncs,
                    raw.ops_per_s * raw_syncs,
                    ratio,
                    verdict(ratio >= 0.9)
                ));
            }
        }
        if let (Some(ours), Some(sqlite)) = (at("ours", 1, 1), at("sqlite", 1, 1)) {
            lines.push(format!(
                "target {}: one writer at batch 1: ours {:.0} ops/s vs sqlite {:.0} ({:.2}x; ours \
                 needs two barriers an op, prepare then redundant header)",
                size(payload),
                ours.ops_per_s,
                sqlite.ops_per_s,
                ours.ops_per_s / sqlite.ops_per_s
            ));
        }
    }
    let ours = recovery.iter().find(|r| r.engine == Engine::Ours);
    let peer = recovery
        .iter()
        .filter(|r| r.engine != Engine::Ours)
        .max_by(|a, b| a.mb_per_s.total_cmp(&b.mb_per_s));
    if let (Some(ours), Some(peer)) = (ours, peer) {
        lines.push(format!(
            "target recovery: ours {:.0} MB/s vs {} {:.0} ({:.2}x; goal > 1) {}",
            ours.mb_per_s,
            peer.engine.name(),
            peer.mb_per_s,
            ours.mb_per_s / peer.mb_per_s,
            verdict(ours.mb_per_s > peer.mb_per_s)
        ));
    }
    lines
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "NOT met"
    }
}

fn size(bytes: usize) -> String {
    if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} B")
    }
}

fn strace_available() -> bool {
    Command::new("strace")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// A fresh directory for one child's files.
fn scratch(arguments: &Arguments, name: &str) -> Result<PathBuf, String> {
    let directory = arguments.directory.join(format!("bench-peers-{name}"));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).map_err(|e| format!("{}: {e}", directory.display()))?;
    Ok(directory)
}

fn run_child_row(
    arguments: &Arguments,
    spec: &RowSpec,
    strace: bool,
) -> Result<(Measured, Option<u64>), String> {
    let directory = scratch(arguments, &spec.key().replace(':', "-"))?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let trace_path = directory.join("strace.log");
    let mut command = if strace {
        let mut command = Command::new("strace");
        command
            .args([
                "-f",
                "--seccomp-bpf",
                "-e",
                "trace=fsync,fdatasync,sync_file_range,msync",
                "-o",
            ])
            .arg(&trace_path)
            .arg(&exe);
        command
    } else {
        Command::new(&exe)
    };
    command
        .arg("--child")
        .arg("row")
        .arg(spec.key())
        .arg(&directory)
        .arg(arguments.seconds.to_string())
        .arg(OPS_MIN.to_string());
    let output = command
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("run the child for {}: {e}", spec.key()))?;
    if !output.status.success() {
        return Err(format!(
            "the child for {} failed: {}",
            spec.key(),
            output.status
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().ok_or("the child printed nothing")?;
    let (measured, marker_fd): (Measured, i32) =
        serde_json::from_str(line).map_err(|e| format!("the child's line {line:?}: {e}"))?;
    let syncs = if strace {
        let log = std::fs::read_to_string(&trace_path).map_err(|e| e.to_string())?;
        count_syncs(&log, marker_fd)
    } else {
        None
    };
    let _ = std::fs::remove_dir_all(&directory);
    Ok((measured, syncs))
}

fn run_child_recovery(arguments: &Arguments, engine: Engine) -> Result<Recovered, String> {
    let directory = scratch(arguments, &format!("recover-{}", engine.name()))?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let output = Command::new(exe)
        .arg("--child")
        .arg("recover")
        .arg(engine.name())
        .arg(&directory)
        .arg((arguments.recovery_mib << 20).to_string())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("run the recovery child for {}: {e}", engine.name()))?;
    if !output.status.success() {
        return Err(format!(
            "the recovery child for {} failed: {}",
            engine.name(),
            output.status
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().ok_or("the child printed nothing")?;
    let recovered =
        serde_json::from_str(line).map_err(|e| format!("the child's line {line:?}: {e}"))?;
    let _ = std::fs::remove_dir_all(&directory);
    Ok(recovered)
}

/// The child: `--child row KEY DIR SECONDS OPS_MIN` or `--child recover ENGINE DIR BYTES`;
/// prints one JSON line.
fn child(args: &[String]) -> ExitCode {
    let result: Result<String, String> = (|| match args {
        [kind, key, directory, seconds, ops_min] if kind == "row" => {
            let spec = RowSpec::parse_key(key).ok_or("bad row key")?;
            let directory = Path::new(directory);
            let seconds: f64 = seconds.parse().map_err(|_| "bad seconds")?;
            let ops_min: u64 = ops_min.parse().map_err(|_| "bad ops_min")?;
            let marker =
                std::fs::File::create(directory.join("marker")).map_err(|e| e.to_string())?;
            let measured = run_row(
                &spec,
                directory,
                Duration::from_secs_f64(seconds),
                ops_min,
                &marker,
            )
            .map_err(|e| format!("{}: {e}", spec.key()))?;
            serde_json::to_string(&(measured, marker.as_raw_fd())).map_err(|e| e.to_string())
        }
        [kind, engine, directory, bytes] if kind == "recover" => {
            let engine = Engine::parse(engine).ok_or("bad engine")?;
            let bytes: u64 = bytes.parse().map_err(|_| "bad bytes")?;
            let recovered = run_recovery(engine, Path::new(directory), 16384, bytes, true)
                .map_err(|e| format!("recovery of {}: {e}", engine.name()))?;
            serde_json::to_string(&recovered).map_err(|e| e.to_string())
        }
        _ => Err(format!("bad child arguments {args:?}")),
    })();
    match result {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    }
}

/// "Model name, N CPUs" from lscpu, as scripts/bench-file.sh prints it.
fn machine() -> String {
    let model = Command::new("lscpu")
        .output()
        .ok()
        .and_then(|output| {
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .find_map(|line| {
                    line.strip_prefix("Model name:")
                        .map(|m| m.trim().to_string())
                })
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{model}, {cpus} CPUs")
}

/// "TYPE on DEVICE (MOUNT)" from `df -T`, as scripts/bench-file.sh prints it.
fn filesystem(directory: &Path) -> String {
    Command::new("df")
        .arg("-T")
        .arg(directory)
        .output()
        .ok()
        .and_then(|output| {
            let text = String::from_utf8_lossy(&output.stdout).to_string();
            let fields: Vec<&str> = text.lines().nth(1)?.split_whitespace().collect();
            Some(format!(
                "{} on {} ({})",
                fields.get(1)?,
                fields.first()?,
                fields.get(6)?
            ))
        })
        .unwrap_or_else(|| "unknown".to_string())
}
