//! A finding of `vopr engine redb` reproduced on a real file, without the simulator: a redb
//! database whose file has one damaged byte (a page's first byte, its type tag) panics on a read
//! instead of returning `StorageError::Corrupted`.
//!
//! The program writes a database with redb's own file backend (`Database::create`), commits at
//! `Durability::Immediate`, closes it, then for each 4 KiB page of the file makes a copy with
//! that page's first byte set to 0x07 (no page type), opens the copy and reads every key. It
//! prints, per page, whether redb returned the data, an error, or panicked, and where.
//!
//! Run: `cargo run --release -p engines --example redb_damaged_page`

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::panic::{catch_unwind, AssertUnwindSafe};

const TABLE: TableDefinition<u64, &[u8]> = TableDefinition::new("walsim");
const PAGE_SIZE: u64 = 4096;

fn read_all(path: &std::path::Path) -> Result<usize, String> {
    let database = Database::open(path).map_err(|error| format!("open: {error}"))?;
    let transaction = database.begin_read().map_err(|error| error.to_string())?;
    let table = transaction
        .open_table(TABLE)
        .map_err(|error| error.to_string())?;
    let mut count = 0;
    for entry in table.iter().map_err(|error| error.to_string())? {
        entry.map_err(|error| error.to_string())?;
        count += 1;
    }
    for key in 0..200_u64 {
        table.get(key).map_err(|error| error.to_string())?;
    }
    Ok(count)
}

fn main() {
    let directory = std::env::temp_dir().join(format!("redb-damaged-page-{}", std::process::id()));
    std::fs::create_dir_all(&directory).expect("a temporary directory");
    let original = directory.join("original.redb");
    {
        let database = Database::create(&original).expect("create");
        let transaction = database.begin_write().expect("begin");
        {
            let mut table = transaction.open_table(TABLE).expect("table");
            for key in 0..200_u64 {
                let value = vec![key as u8; 100 + (key as usize * 37) % 3000];
                table.insert(key, value.as_slice()).expect("insert");
            }
        }
        transaction.commit().expect("commit");
    }
    let bytes = std::fs::read(&original).expect("read the file");
    let site = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let hook_site = site.clone();
    std::panic::set_hook(Box::new(move |info| {
        *hook_site.lock().expect("lock") = format!(
            "{} ({})",
            info.location()
                .map_or("?".into(), |l| format!("{}:{}", l.file(), l.line())),
            info.payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default()
        );
    }));
    let (mut panics, mut errors, mut fine) = (0, 0, 0);
    for page in 1..bytes.len() as u64 / PAGE_SIZE {
        let mut damaged = bytes.clone();
        damaged[(page * PAGE_SIZE) as usize] = 0x07;
        let copy = directory.join(format!("page-{page}.redb"));
        std::fs::write(&copy, &damaged).expect("write the copy");
        match catch_unwind(AssertUnwindSafe(|| read_all(&copy))) {
            Ok(Ok(count)) => {
                fine += 1;
                println!("page {page:>4}: read {count} entries");
            }
            Ok(Err(error)) => {
                errors += 1;
                println!("page {page:>4}: error: {error}");
            }
            Err(_) => {
                panics += 1;
                println!("page {page:>4}: PANIC at {}", site.lock().expect("lock"));
            }
        }
        let _ = std::fs::remove_file(&copy);
    }
    let _ = std::fs::remove_dir_all(&directory);
    println!("{panics} pages panicked, {errors} returned an error, {fine} read fine");
}
