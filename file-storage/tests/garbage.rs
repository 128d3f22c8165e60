//! Bad bytes in the rings must never panic the driver: every open of a damaged file returns
//! `Ok` or a typed `Err`. Damage is seeded: random bytes flipped, sectors zeroed or filled with
//! noise, and whole slots or header sectors copied over others (what a misdirected write leaves).

use file_storage::{prepare, FileDriver, Layout, MemoryStorage, Options};
use journal::Config;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::panic::{self, AssertUnwindSafe};

const CLUSTER: u128 = 0x6a6b;

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

/// A WAL with 25 ops (past one wrap), fully synced.
fn image() -> Vec<u8> {
    let layout = Layout::new(&config()).expect("fits");
    let storage = MemoryStorage::new(layout.file_size);
    let mut driver =
        FileDriver::create(storage, CLUSTER, config(), Options::default()).expect("create");
    for op in 1..=25u64 {
        let head = *driver.head();
        let body = prepare::body(op, (op as usize * 389 + 90) % 1900);
        let message = prepare::prepare(CLUSTER, op, 0, head.checksum, &body);
        driver.append(&message).expect("append");
    }
    driver.sync().expect("sync");
    driver.into_storage().bytes
}

#[test]
fn damaged_rings_never_panic() {
    let config = config();
    let layout = Layout::new(&config).expect("fits");
    let pristine = image();
    let sector = config.sector_size as usize;
    let zones_start = layout.wal_headers_offset as usize;
    let mut panics = Vec::new();
    let (mut opened, mut refused) = (0, 0);
    for seed in 0..1500u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut bytes = pristine.clone();
        for _ in 0..rng.gen_range(1..=4) {
            match rng.gen_range(0..4) {
                0 => {
                    let at = rng.gen_range(zones_start..bytes.len());
                    bytes[at] ^= 1 << rng.gen_range(0..8);
                }
                1 => {
                    let at = rng.gen_range(zones_start / sector..bytes.len() / sector) * sector;
                    let fill: u8 = rng.gen();
                    bytes[at..at + sector].fill(if rng.gen() { 0 } else { fill });
                }
                2 => {
                    let size = config.message_size_max as usize;
                    let base = layout.wal_prepares_offset as usize;
                    let from = base + rng.gen_range(0..16) * size;
                    let to = base + rng.gen_range(0..16) * size;
                    let slot = bytes[from..from + size].to_vec();
                    bytes[to..to + size].copy_from_slice(&slot);
                }
                _ => {
                    let base = layout.wal_headers_offset as usize;
                    let sectors = (layout.wal_headers_size as usize) / sector;
                    let from = base + rng.gen_range(0..sectors) * sector;
                    let to = base + rng.gen_range(0..sectors) * sector;
                    let copy = bytes[from..from + sector].to_vec();
                    bytes[to..to + sector].copy_from_slice(&copy);
                }
            }
        }
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            FileDriver::open(
                MemoryStorage::from_bytes(bytes),
                CLUSTER,
                Options::default(),
            )
            .map(|_| ())
        }));
        match &result {
            Ok(Ok(())) => opened += 1,
            Ok(Err(_)) => refused += 1,
            Err(_) => {}
        }
        if let Err(payload) = result {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panics.push((seed, message));
        }
    }
    assert!(
        panics.is_empty(),
        "{} panics, first: {:?}",
        panics.len(),
        panics.first()
    );
    // The damage is real: some files lose data (refused), some are repaired (opened).
    assert!(
        opened > 100 && refused > 100,
        "opened {opened}, refused {refused}"
    );
}
