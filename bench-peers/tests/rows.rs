//! The peer benchmark stays runnable: one tiny row per engine and a tiny recovery per engine,
//! in process, with their results checked for sense (every op acknowledged, at least its payload
//! handed to the kernel, every entry read back); the binary once end to end, whose sync count
//! for our batches of 4 must be exactly two barriers a batch; and the strace log parser on the
//! shapes strace prints.

use bench_peers::{count_syncs, quantile, run_recovery, run_row, Engine, RowSpec};
use std::time::Duration;

#[test]
fn one_tiny_row_per_engine_runs_and_makes_sense() {
    for engine in Engine::ALL {
        let spec = RowSpec {
            engine,
            // The shared rows and the raw loop append one op per call.
            batch: if engine.is_shared() || engine == Engine::Raw {
                1
            } else {
                4
            },
            writers: if engine.is_shared() { 2 } else { 1 },
            payload_bytes: 128,
        };
        let directory = tempfile::tempdir().expect("tempdir");
        let marker = std::fs::File::create(directory.path().join("marker")).expect("marker");
        let measured = run_row(
            &spec,
            directory.path(),
            Duration::from_millis(1),
            8,
            &marker,
        )
        .unwrap_or_else(|error| panic!("{}: {error}", spec.key()));
        assert!(measured.ops >= 8, "{}: {measured:?}", spec.key());
        assert_eq!(measured.ops % spec.batch, 0);
        assert!(measured.elapsed_s > 0.0);
        assert!(measured.latency_ns_p50 > 0);
        assert!(measured.latency_ns_p50 <= measured.latency_ns_p99);
        if let Some(wchar_bytes) = measured.wchar_bytes {
            // Every acknowledged op's payload went to the kernel at least once.
            assert!(
                wchar_bytes >= measured.ops * spec.payload_bytes as u64,
                "{}: {measured:?}",
                spec.key()
            );
        }
    }
}

#[test]
fn a_tiny_recovery_per_engine_reads_every_entry() {
    for engine in Engine::RECOVERY {
        let directory = tempfile::tempdir().expect("tempdir");
        // 24 entries of 16 KiB: not a multiple of any batch.
        let recovered = run_recovery(engine, directory.path(), 16384, 24 * 16384, false)
            .unwrap_or_else(|error| panic!("{}: {error}", engine.name()));
        assert_eq!(recovered.entries, 24);
        assert_eq!(recovered.bytes_read, 24 * 16384);
        assert!(
            recovered.file_bytes >= recovered.bytes_read,
            "{recovered:?}"
        );
        assert!(recovered.mb_per_s > 0.0);
        assert_eq!(recovered.cache, "warm");
    }
}

/// The binary, one row, with a JSON report: the parent runs the child (under strace when
/// present) and our batches of 4 cost exactly two barriers each (no checkpoint in 1024 slots).
#[test]
fn the_binary_reports_two_barriers_per_batch() {
    let directory = tempfile::tempdir().expect("tempdir");
    let json = directory.path().join("report.json");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_bench-peers"))
        .arg(directory.path())
        .args(["--only", "ours:b4:w1:p128", "--seconds", "0.01"])
        .args(["--payloads", "128", "--recovery-mib", "0", "--json"])
        .arg(&json)
        .output()
        .expect("run bench-peers");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json")).expect("parses");
    let rows = report["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["key"], "ours:b4:w1:p128");
    assert!(rows[0]["ops"].as_u64().expect("ops") >= 16);
    match rows[0]["syncs_per_op"].as_f64() {
        Some(syncs_per_op) => assert_eq!(syncs_per_op, 0.5),
        None => assert_eq!(report["syncs_counted_by"], "not counted"),
    }
    assert!(report["machine"].as_str().is_some_and(|m| !m.is_empty()));
}

#[test]
fn strace_logs_are_counted_between_the_last_two_markers() {
    let log = "\
100 fsync(3)                          = 0
100 fdatasync(4)                      = 0
100 fsync(3)                          = 0
101 fdatasync(4 <unfinished ...>
100 fsync(5)                          = 0
101 <... fdatasync resumed>)          = 0
[pid   102] sync_file_range(4, 0, 4096, SYNC_FILE_RANGE_WRITE) = 0
102 msync(0x7f0000000000, 4096, MS_SYNC) = 0
100 fsync(3 <unfinished ...>
101 +++ exited with 0 +++
100 <... fsync resumed>)               = 0
100 fdatasync(4)                      = 0
";
    // Between the markers: fdatasync, fsync(5), sync_file_range, msync; the one before the
    // first marker proper (setup) and the one after the last are not counted.
    assert_eq!(count_syncs(log, 3), Some(4));
    assert_eq!(count_syncs(log, 7), None);
    assert_eq!(count_syncs("100 fsync(3) = 0\n", 3), None);
}

#[test]
fn quantiles_are_nearest_rank() {
    let sorted: Vec<u64> = (1..=100).collect();
    assert_eq!(quantile(&sorted, 0.50), 50);
    assert_eq!(quantile(&sorted, 0.99), 99);
    assert_eq!(quantile(&sorted, 1.0), 100);
    assert_eq!(quantile(&[7], 0.99), 7);
}

#[test]
fn row_keys_round_trip() {
    let rows = RowSpec::all(&bench_peers::PAYLOAD_SIZES);
    // Ours: 4 batch sizes, 3 writer counts pipelined and 2 with two barriers a batch; the raw
    // loop; each peer: one op and a batch; three payloads.
    assert_eq!(rows.len(), 3 * (4 + 3 + 2 + 1 + 4 * 2));
    for spec in rows {
        assert_eq!(RowSpec::parse_key(&spec.key()), Some(spec));
    }
    assert_eq!(RowSpec::parse_key("ours:b0:w1:p128"), None);
    assert_eq!(RowSpec::parse_key("nobody:b1:w1:p128"), None);
}
