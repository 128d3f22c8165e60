//! The driver on real files: a round trip through create, append, sync, reopen; and every kind
//! of bad file refused with its own typed error, without a byte of the file changing.

use file_storage::{prepare, Error, FileDriver, Options};
use journal::{Config, Header, HEADER_SIZE};
use std::fs;
use std::os::unix::fs::FileExt;
use std::path::Path;

const CLUSTER: u128 = 0xabcd;

fn config() -> Config {
    Config {
        sector_size: 4096,
        slot_count: 64,
        message_size_max: 16384,
        pipeline_max: 8,
        iops_read_max: 4,
        iops_write_max: 1,
    }
}

/// Creates a WAL at `path` holding ops 1..=count; returns each op's (checksum, message).
fn create_with_ops(path: &Path, count: u64, options: Options) -> Vec<(u32, Vec<u8>)> {
    let (mut driver, _direct) =
        FileDriver::create_file(path, CLUSTER, config(), options).expect("create");
    let mut written = Vec::new();
    for op in 1..=count {
        let head = *driver.head();
        let body = prepare::body(op, (op as usize * 1237) % 16000);
        let message = prepare::prepare(CLUSTER, op, 0, head.checksum, &body);
        driver.append(&message).expect("append");
        written.push((Header::decode(&message).expect("decodes").checksum, message));
    }
    driver.sync().expect("sync");
    written
}

/// Group commit: `append` queues (written, not acknowledged), `sync` acknowledges the batch, a
/// batch never exceeds the pipeline (`append_batch` of 20 on a pipeline of 8 commits as it goes),
/// and an appended op reads back before its batch is committed.
#[test]
fn append_queues_until_sync_and_append_batch_commits() {
    let directory = tempfile::tempdir().expect("tempdir");
    let path = directory.path().join("wal");
    let (mut driver, _) =
        FileDriver::create_file(&path, CLUSTER, config(), Options::default()).expect("create");
    let mut parent = driver.head().checksum;
    let mut messages = Vec::new();
    for op in 1..=20u64 {
        let message = prepare::prepare(CLUSTER, op, 0, parent, &prepare::body(op, 3000));
        parent = Header::decode(&message).expect("decodes").checksum;
        messages.push(message);
    }
    for message in &messages[..3] {
        driver.append(message).expect("append");
    }
    assert_eq!((driver.batch_len(), driver.op_durable()), (3, 0));
    let checksum = Header::decode(&messages[2]).expect("decodes").checksum;
    assert_eq!(driver.read(3, checksum).expect("read"), messages[2]);
    driver.sync().expect("sync");
    assert_eq!((driver.batch_len(), driver.op_durable()), (0, 3));
    for message in &messages[3..11] {
        driver.append(message).expect("append");
    }
    assert_eq!((driver.batch_len(), driver.op_durable()), (8, 3));
    // The batch is full (pipeline_max): the next append commits it first.
    driver.append(&messages[11]).expect("append");
    assert_eq!((driver.batch_len(), driver.op_durable()), (1, 11));
    driver.append_batch(&messages[12..]).expect("append_batch");
    assert_eq!((driver.batch_len(), driver.op_durable()), (0, 20));
    // Nothing to commit: no barrier, nothing changes.
    driver.sync().expect("empty sync");
    drop(driver);
    let (mut driver, _) = FileDriver::open_file(&path, CLUSTER, Options::default()).expect("open");
    assert_eq!((driver.head().op, driver.op_durable()), (20, 20));
    assert_eq!(driver.recovery_report().ops_truncated, 0);
    for (index, message) in messages.iter().enumerate() {
        let checksum = Header::decode(message).expect("decodes").checksum;
        assert_eq!(
            &driver.read(index as u64 + 1, checksum).expect("read"),
            message
        );
    }
}

#[test]
fn round_trip_through_a_real_file_across_wraps() {
    let directory = tempfile::tempdir().expect("tempdir");
    let path = directory.path().join("wal");
    // 150 ops over a 64-slot ring: several checkpoints, the oldest ops overwritten.
    let written = create_with_ops(&path, 150, Options::default());
    let (mut driver, _) = FileDriver::open_file(&path, CLUSTER, Options::default()).expect("open");
    assert_eq!(driver.head().op, 150);
    let op_checkpoint = driver.superblock().op_checkpoint;
    assert!(op_checkpoint >= 150 - 64, "checkpoint {op_checkpoint}");
    for op in op_checkpoint + 1..=150 {
        let (checksum, message) = &written[op as usize - 1];
        assert_eq!(
            &driver.read(op, *checksum).expect("read"),
            message,
            "op {op}"
        );
    }
    // Appending continues the chain after a reopen.
    let head = *driver.head();
    let message = prepare::prepare(CLUSTER, 151, 0, head.checksum, b"after reopen");
    driver.append(&message).expect("append after reopen");
    driver.sync().expect("sync");
}

/// O_DIRECT where the filesystem allows it; a refusal is reported, never an error.
#[test]
fn direct_io_or_a_reported_fallback() {
    let directory = tempfile::tempdir().expect("tempdir");
    let path = directory.path().join("wal");
    let options = Options {
        direct: true,
        ..Options::default()
    };
    let written = create_with_ops(&path, 70, options);
    let (mut driver, direct) = FileDriver::open_file(&path, CLUSTER, options).expect("open");
    match &direct {
        file_storage::DirectIo::On => {}
        file_storage::DirectIo::Fallback { reason } => assert!(reason.contains("O_DIRECT")),
        file_storage::DirectIo::Off => panic!("direct was asked for"),
    }
    let (checksum, message) = &written[69];
    assert_eq!(&driver.read(70, *checksum).expect("read"), message);
}

#[test]
fn append_rejects_what_cannot_follow_the_head() {
    let directory = tempfile::tempdir().expect("tempdir");
    let path = directory.path().join("wal");
    let (mut driver, _) =
        FileDriver::create_file(&path, CLUSTER, config(), Options::default()).expect("create");
    let root = *driver.head();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            prepare::prepare(CLUSTER, 2, 0, root.checksum, b"x"),
            "op is not head + 1",
        ),
        (
            prepare::prepare(CLUSTER, 1, 0, 1234, b"x"),
            "parent is not the head's checksum",
        ),
        (
            prepare::prepare(CLUSTER + 1, 1, 0, root.checksum, b"x"),
            "the message is for another cluster",
        ),
        (
            prepare::prepare(CLUSTER, 1, 0, root.checksum, &[7; 16384]),
            "larger than message_size_max",
        ),
        (
            prepare::prepare(CLUSTER, 1, 1, root.checksum, b"x"),
            "view is past the log view",
        ),
        (vec![0; 200], "the header does not decode"),
    ];
    for (message, expected) in cases {
        match driver.append(&message) {
            Err(Error::Append(reason)) => assert_eq!(reason, expected),
            other => panic!("expected {expected:?}, got {other:?}"),
        }
    }
    let mut corrupt_body = prepare::prepare(CLUSTER, 1, 0, root.checksum, b"body");
    corrupt_body[HEADER_SIZE as usize] ^= 1;
    assert!(matches!(
        driver.append(&corrupt_body),
        Err(Error::Append("body checksum invalid"))
    ));
    assert_eq!(driver.head().op, 0, "nothing was appended");
}

/// Opens `path` expecting a failure, and checks the file's bytes did not change.
fn open_fails_untouched(path: &Path, cluster: u128) -> Error {
    let before = fs::read(path).expect("read");
    let error = FileDriver::open_file(path, cluster, Options::default())
        .map(|_| ())
        .expect_err("open must fail");
    assert_eq!(
        fs::read(path).expect("read"),
        before,
        "a failed open wrote to the file"
    );
    error
}

fn poke(path: &Path, offset: u64, bytes: &[u8]) {
    let file = fs::OpenOptions::new().write(true).open(path).expect("open");
    file.write_all_at(bytes, offset).expect("write");
}

#[test]
fn bad_files_are_refused_with_typed_errors_and_left_unchanged() {
    let directory = tempfile::tempdir().expect("tempdir");
    let good = directory.path().join("good");
    create_with_ops(&good, 20, Options::default());
    let size = fs::metadata(&good).expect("stat").len();
    let copy = |name: &str| {
        let path = directory.path().join(name);
        fs::copy(&good, &path).expect("copy");
        path
    };

    let path = copy("other-cluster");
    assert!(matches!(
        open_fails_untouched(&path, CLUSTER + 1),
        Error::WrongCluster { expected, found } if expected == CLUSTER + 1 && found == CLUSTER
    ));

    let path = copy("truncated");
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open")
        .set_len(size - 4096)
        .expect("truncate");
    assert!(matches!(
        open_fails_untouched(&path, CLUSTER),
        Error::Truncated { size_expected, size_found } if size_expected == size && size_found == size - 4096
    ));

    let path = copy("tiny");
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open")
        .set_len(100)
        .expect("truncate");
    assert!(matches!(
        open_fails_untouched(&path, CLUSTER),
        Error::Truncated {
            size_found: 100,
            ..
        }
    ));

    let path = copy("too-long");
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open")
        .set_len(size + 4096)
        .expect("extend");
    assert!(matches!(
        open_fails_untouched(&path, CLUSTER),
        Error::WrongSize { size_expected, size_found } if size_expected == size && size_found == size + 4096
    ));

    let path = copy("no-magic");
    poke(&path, 0, &[0; 8]);
    poke(&path, 4096, &[0; 8]);
    assert!(matches!(
        open_fails_untouched(&path, CLUSTER),
        Error::BadMagic
    ));

    let path = copy("bad-checksum");
    poke(&path, 40, &[0x55]);
    poke(&path, 4096 + 40, &[0x55]);
    assert!(matches!(
        open_fails_untouched(&path, CLUSTER),
        Error::SuperblockChecksum
    ));

    // One bad copy is a torn superblock write: the other copy still opens the file.
    let path = copy("one-copy-bad");
    poke(&path, 4096 + 40, &[0x55]);
    let (driver, _) = FileDriver::open_file(&path, CLUSTER, Options::default()).expect("open");
    assert_eq!(driver.head().op, 20);
    drop(driver);

    let path = directory.path().join("not-a-wal");
    fs::write(&path, vec![0x42u8; 1 << 16]).expect("write");
    assert!(matches!(
        open_fails_untouched(&path, CLUSTER),
        Error::BadMagic
    ));

    // An acknowledged prepare corrupted on disk: the solo WAL cannot repair it, says which slot,
    // and writes nothing (recovery's header write-backs are held back until it succeeds).
    let path = copy("corrupt-prepare");
    let layout = file_storage::Layout::new(&config()).expect("fits");
    let slot = 19;
    poke(
        &path,
        layout.wal_prepares_offset + slot * config().message_size_max + 200,
        &[0xee],
    );
    match open_fails_untouched(&path, CLUSTER) {
        Error::Unrecoverable { slots } => assert_eq!(slots, vec![(19, "@C")]),
        other => panic!("expected unrecoverable, got {other:?}"),
    }

    let missing = directory.path().join("missing");
    assert!(matches!(
        FileDriver::open_file(&missing, CLUSTER, Options::default()),
        Err(Error::Io { .. })
    ));
    // create never clobbers an existing file.
    assert!(matches!(
        FileDriver::create_file(&good, CLUSTER, config(), Options::default()),
        Err(Error::Io { .. })
    ));
}

#[test]
fn create_rejects_configs_the_layout_cannot_hold() {
    let directory = tempfile::tempdir().expect("tempdir");
    let path = directory.path().join("wal");
    let sector_too_large = Config {
        sector_size: 8192,
        message_size_max: 16384,
        slot_count: 128,
        ..config()
    };
    assert!(matches!(
        FileDriver::create_file(&path, CLUSTER, sector_too_large, Options::default()),
        Err(Error::UnsupportedConfig(_))
    ));
    let invalid = Config {
        slot_count: 63,
        ..config()
    };
    assert!(matches!(
        FileDriver::create_file(&path, CLUSTER, invalid, Options::default()),
        Err(Error::Config(_))
    ));
    assert!(!path.exists(), "a refused config creates no file");
}
