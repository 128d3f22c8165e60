//! The at-rest half of `vopr engine redb sweep`, made on a real file with redb's own file
//! backend, without the simulator: what one damaged 512-byte sector does to a closed database.
//!
//! The program writes a database (`Database::create`, every commit at `Durability::Immediate`:
//! puts, overwrites and deletes over 200 keys, values of 10 B to 6 KiB), closes it, and keeps
//! the ground truth. Then for every sector of the file and each fault a file can be given by
//! editing it (zeros; junk, the bytes of another sector of the file; one flipped bit) it writes
//! a damaged copy, opens it and reads every key, and names the outcome as the sweep does:
//! `correct`, `error_reported` (a read returned an error), `unavailable` (the open failed),
//! `data_loss` (a committed key missing, `Ok`), `silent_corruption` (wrong bytes, `Ok`), or
//! `crash` (a panic; its site is printed). Rows are the sweep's regions
//! ([`engines::sweep::FileMap`] for redb), so the table compares cell for cell with the
//! simulated one (which also writes after the damage and runs `check_integrity`).
//!
//! Run: `cargo run --release -p engines --example redb_sweep_real_file`

use engines::adapters::redb::Redb;
use engines::sweep::FileMap;
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

const TABLE: TableDefinition<u64, &[u8]> = TableDefinition::new("walsim");
const SECTOR_SIZE: usize = 512;
const KEYS: u64 = 200;
const OUTCOMES: [&str; 6] = [
    "correct",
    "error_reported",
    "unavailable",
    "data_loss",
    "silent_corruption",
    "crash",
];

/// A value that names its key and version, so that a value of another key or an older
/// version is told apart from the right one.
fn value(key: u64, version: u64, size: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(size);
    let mut state = key.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ version;
    while bytes.len() < size {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(size);
    bytes
}

/// Writes the database and returns what it must hold.
fn write(path: &std::path::Path) -> BTreeMap<u64, Vec<u8>> {
    let mut truth = BTreeMap::new();
    let database = Database::create(path).expect("create the database");
    let mut state = 0x2545_F491_4F6C_DD1D_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for version in 1..=60_u64 {
        let mut transaction = database.begin_write().expect("begin");
        transaction
            .set_durability(Durability::Immediate)
            .expect("durability");
        {
            let mut table = transaction.open_table(TABLE).expect("table");
            for _ in 0..1 + next() % 12 {
                let key = next() % KEYS;
                if next() % 10 == 0 {
                    table.remove(key).expect("remove");
                    truth.remove(&key);
                } else {
                    let size = [10, 100, 600, 6000][(next() % 4) as usize];
                    let bytes = value(key, version, 1 + (next() as usize) % size);
                    table.insert(key, bytes.as_slice()).expect("insert");
                    truth.insert(key, bytes);
                }
            }
        }
        transaction.commit().expect("commit");
    }
    truth
}

/// Opens `path` and reads every key: the outcome's name and what was seen.
fn judge(path: &std::path::Path, truth: &BTreeMap<u64, Vec<u8>>) -> (&'static str, String) {
    let database = match Database::open(path) {
        Ok(database) => database,
        Err(error) => return ("unavailable", format!("open: {error}")),
    };
    let read = || -> Result<(&'static str, String), String> {
        let transaction = database.begin_read().map_err(|e| e.to_string())?;
        let table = transaction.open_table(TABLE).map_err(|e| e.to_string())?;
        let mut scanned = 0;
        for entry in table.iter().map_err(|e| e.to_string())? {
            let (key, found) = entry.map_err(|e| e.to_string())?;
            scanned += 1;
            if truth.get(&key.value()).map(Vec::as_slice) != Some(found.value()) {
                return Ok((
                    "silent_corruption",
                    format!("scan: key {} wrong", key.value()),
                ));
            }
        }
        for key in 0..KEYS {
            let found = table.get(key).map_err(|e| e.to_string())?;
            match (truth.get(&key), found) {
                (Some(expected), Some(found)) if found.value() == expected.as_slice() => {}
                (None, None) => {}
                (Some(_), None) => {
                    return Ok(("data_loss", format!("key {key} missing")));
                }
                _ => return Ok(("silent_corruption", format!("key {key} wrong"))),
            }
        }
        if scanned != truth.len() {
            return Ok((
                "data_loss",
                format!("scan saw {scanned} of {}", truth.len()),
            ));
        }
        Ok(("correct", String::new()))
    };
    match read() {
        Ok(outcome) => outcome,
        Err(error) => ("error_reported", error),
    }
}

fn main() {
    let directory = std::env::temp_dir().join(format!("redb-sweep-{}", std::process::id()));
    std::fs::create_dir_all(&directory).expect("a temporary directory");
    let original = directory.join("original.redb");
    let truth = write(&original);
    let bytes = std::fs::read(&original).expect("read the file");
    assert_eq!(judge(&original, &truth).0, "correct", "the undamaged file");
    let site = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let hook_site = site.clone();
    std::panic::set_hook(Box::new(move |info| {
        *hook_site.lock().expect("lock") = info
            .location()
            .map_or("?".into(), |l| format!("{}:{}", l.file(), l.line()));
    }));
    let sectors = bytes.len() / SECTOR_SIZE;
    let faults = ["zeros", "junk", "bit_flip"];
    // (region, fault) -> counts per outcome; and the first cell of each (region, fault,
    // outcome) other than correct.
    let mut table: BTreeMap<(usize, usize), [u64; 6]> = BTreeMap::new();
    let mut examples: BTreeMap<(usize, usize, usize), String> = BTreeMap::new();
    let copy = directory.join("damaged.redb");
    for sector in 0..sectors {
        let start = sector * SECTOR_SIZE;
        let original_sector = &bytes[start..start + SECTOR_SIZE];
        // Sectors the database never wrote read as zeros, and damage there is not damage.
        if original_sector.iter().all(|&byte| byte == 0) {
            continue;
        }
        let region = Redb::region(&bytes, start as u64, None);
        for (fault_index, fault) in faults.iter().enumerate() {
            let mut damaged = bytes.clone();
            let target = &mut damaged[start..start + SECTOR_SIZE];
            match *fault {
                "zeros" => target.fill(0),
                "junk" => {
                    // Another written sector's bytes: stale or shifted data.
                    let source = (sector + sectors / 2) % sectors * SECTOR_SIZE;
                    target.copy_from_slice(&bytes[source..source + SECTOR_SIZE]);
                }
                _ => target[(sector * 37) % SECTOR_SIZE] ^= 1 << (sector % 8),
            }
            if damaged[start..start + SECTOR_SIZE] == *original_sector {
                continue;
            }
            std::fs::write(&copy, &damaged).expect("write the damaged copy");
            let (outcome, what) = match catch_unwind(AssertUnwindSafe(|| judge(&copy, &truth))) {
                Ok(judged) => judged,
                Err(_) => ("crash", format!("panic at {}", site.lock().expect("lock"))),
            };
            let index = OUTCOMES.iter().position(|o| *o == outcome).expect("known");
            table.entry((region, fault_index)).or_insert([0; 6])[index] += 1;
            examples
                .entry((region, fault_index, index))
                .or_insert_with(|| format!("sector {sector}: {what}"));
        }
    }
    let _ = std::fs::remove_dir_all(&directory);
    println!(
        "redb on a real file ({} bytes, {} keys): one damaged sector at a time",
        bytes.len(),
        truth.len()
    );
    for ((region, fault), counts) in &table {
        let cells: Vec<String> = counts
            .iter()
            .zip(OUTCOMES)
            .filter(|(count, _)| **count > 0)
            .map(|(count, outcome)| format!("{count} {outcome}"))
            .collect();
        println!(
            "{:<50} {:<9} {}",
            Redb::REGIONS[*region],
            faults[*fault],
            cells.join(", ")
        );
    }
    println!("first cell of each outcome other than correct:");
    for ((region, fault, outcome), example) in &examples {
        if *outcome == 0 {
            continue;
        }
        println!(
            "  {:<18} {:<9} {}: {example}",
            OUTCOMES[*outcome],
            faults[*fault],
            Redb::REGIONS[*region]
        );
    }
}
