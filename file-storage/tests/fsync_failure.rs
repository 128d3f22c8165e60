//! A failed `fsync` with Linux's semantics (Rebello et al., ATC'20): the pages it could not write
//! are dropped and marked clean, so their new bytes stay readable until a crash, and the next
//! `fsync` succeeds without writing them. The driver must not acknowledge what the failure
//! dropped, and a later successful sync must not pretend it is durable.
//!
//! Found by `vopr engine file-wal` (seed 660, every fault kind): the WAL reported the failed
//! sync, was reopened in the same process, recovered the batch from the page cache, and a crash
//! then lost the ops the reopened WAL had shown.

use file_storage::{FileDriver, Layout, MemoryStorage, Options, Storage};
use journal::{Config, HEADER_SIZE};

const CLUSTER: u128 = 0xf5c;

fn config() -> Config {
    Config {
        sector_size: 512,
        slot_count: 16,
        message_size_max: 2048,
        pipeline_max: 4,
        iops_read_max: 4,
        iops_write_max: 3,
    }
}

/// A page cache over a durable image: writes land in the cache; a sync copies the dirty ranges
/// to the image, or, when armed to fail, drops them (marked clean) and reports EIO once.
#[derive(Debug)]
struct LinuxCache {
    durable: MemoryStorage,
    cache: MemoryStorage,
    dirty: Vec<(u64, u64)>,
    syncs_to_fail: u32,
    syncs_failed: u32,
}

impl Storage for LinuxCache {
    fn size(&self) -> u64 {
        self.cache.size()
    }

    fn read_at(&mut self, offset: u64, buffer: &mut [u8]) -> std::io::Result<()> {
        self.cache.read_at(offset, buffer)
    }

    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> std::io::Result<()> {
        self.cache.write_at(offset, bytes)?;
        self.dirty.push((offset, bytes.len() as u64));
        Ok(())
    }

    fn sync(&mut self) -> std::io::Result<()> {
        let dirty = std::mem::take(&mut self.dirty);
        if self.syncs_to_fail > 0 && !dirty.is_empty() {
            self.syncs_to_fail -= 1;
            self.syncs_failed += 1;
            // Dropped and marked clean: never written, still readable from the cache.
            return Err(std::io::Error::other("EIO"));
        }
        for (offset, len) in dirty {
            let range = offset as usize..(offset + len) as usize;
            let bytes = self.cache.bytes[range].to_vec();
            self.durable.write_at(offset, &bytes)?;
        }
        Ok(())
    }
}

/// A new WAL on a fresh page cache whose syncs all succeed until armed.
fn driver_on_linux_cache() -> FileDriver<LinuxCache> {
    let size = Layout::new(&config()).expect("layout").file_size;
    let storage = LinuxCache {
        durable: MemoryStorage::new(size),
        cache: MemoryStorage::new(size),
        dirty: Vec::new(),
        syncs_to_fail: 0,
        syncs_failed: 0,
    };
    FileDriver::create(storage, CLUSTER, config(), Options::default()).expect("create")
}

fn message(driver: &FileDriver<LinuxCache>, body: &[u8]) -> Vec<u8> {
    let head = *driver.head();
    file_storage::prepare::prepare(CLUSTER, head.op + 1, driver.log_view(), head.checksum, body)
}

#[test]
fn a_batch_acknowledged_after_a_failed_sync_is_on_the_disk() {
    for fail_at in 0..2 {
        let mut driver = driver_on_linux_cache();
        for body in [b"first".as_slice(), b"second"] {
            let message = message(&driver, body);
            driver.append(&message).expect("append");
        }
        // The batch's first barrier (prepares) or its second (header sectors) fails once.
        driver.storage_mut().syncs_to_fail = 1;
        if fail_at == 1 {
            // Let the prepares' barrier through: fail the headers' one.
            let storage = driver.storage_mut();
            storage.syncs_to_fail = 0;
            storage.sync().expect("sync the prepares");
            storage.syncs_to_fail = 1;
        }
        let result = driver.sync();
        assert_eq!(driver.storage().syncs_failed, 1, "fail_at {fail_at}");
        match result {
            Ok(()) => {
                assert_eq!(driver.op_durable(), 2);
                // What was acknowledged is on the durable image: a crash now (only the image
                // survives) recovers both ops.
                let image = driver.storage().durable.clone();
                let mut recovered =
                    FileDriver::open(image, CLUSTER, Options::default()).expect("open the image");
                assert_eq!(recovered.head().op, 2, "fail_at {fail_at}");
                for (op, body) in [(1, b"first".as_slice()), (2, b"second")] {
                    let checksum = recovered.journal().header_with_op(op).expect("op").checksum;
                    let read = recovered.read(op, checksum).expect("read");
                    assert_eq!(&read[HEADER_SIZE as usize..], body);
                }
            }
            Err(error) => panic!("fail_at {fail_at}: a transient sync failure poisoned: {error}"),
        }
    }
}

#[test]
fn a_sync_that_fails_twice_acknowledges_nothing() {
    let mut driver = driver_on_linux_cache();
    let message = message(&driver, b"lost");
    driver.append(&message).expect("append");
    driver.storage_mut().syncs_to_fail = 2;
    assert!(driver.sync().is_err());
    assert_eq!(driver.op_durable(), 0);
    assert_eq!(driver.storage().syncs_failed, 2);
}
