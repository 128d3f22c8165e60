//! Untrusted bytes never panic, and are never accepted: recovery and `read_prepare` over rings
//! whose sectors hold arbitrary bytes, structured corruption (zeros, another sector's bytes,
//! stale or shifted data), or headers whose checksums are valid but whose fields are out of
//! range for where they lie (another slot's op, another cluster, a size the config does not
//! allow, an op far past the checkpoint).
//!
//! What must hold, whatever the bytes: recovery finishes without a panic; every slot it holds
//! clean holds a header that was written (or the reserved one); every read of a clean slot's op
//! returns exactly the message written for its checksum, or a rejection, never other bytes.

mod support;

use journal::{Event, Header, ReadPurpose, Zone, HEADER_SIZE};
use proptest::prelude::*;
use std::collections::BTreeMap;
use support::*;

/// What one damaged sector holds.
#[derive(Clone, Debug)]
enum Damage {
    Zeros,
    /// Arbitrary bytes (the seed of a generator).
    Noise(u64),
    /// The bytes of another sector of the same zone (stale or shifted data).
    Copy {
        source_sector: u64,
    },
    /// A header with a valid checksum and one field out of range for its place, at a header
    /// position of the sector; `base` picks a written header to start from.
    Forged {
        base: usize,
        field: Field,
        value: u64,
        position: u64,
    },
}

/// The field a forged header gets wrong.
#[derive(Clone, Copy, Debug)]
enum Field {
    /// An op that belongs to another slot.
    OpOtherSlot,
    /// An op far past anything the checkpoint allows (but in this slot).
    OpFarFuture,
    /// Another cluster.
    Cluster,
    /// A size past `message_size_max`.
    SizeTooLarge,
    /// A size below a header.
    SizeTooSmall,
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        Just(Damage::Zeros),
        any::<u64>().prop_map(Damage::Noise),
        (0..64_u64).prop_map(|source_sector| Damage::Copy { source_sector }),
        (
            0..32_usize,
            prop_oneof![
                Just(Field::OpOtherSlot),
                Just(Field::OpFarFuture),
                Just(Field::Cluster),
                Just(Field::SizeTooLarge),
                Just(Field::SizeTooSmall),
            ],
            any::<u64>(),
            0..4_u64,
        )
            .prop_map(|(base, field, value, position)| Damage::Forged {
                base,
                field,
                value,
                position
            }),
    ]
}

/// A log of `ops` ops (ring of 16: more than 16 wraps it), its messages by checksum.
fn written(ops: u64, solo: bool, seed: u64) -> (Harness, BTreeMap<u32, Vec<u8>>) {
    let mut h = Harness::new(config_small(), solo, seed);
    let root = Header::root(CLUSTER);
    let mut parent = root.checksum;
    let mut messages = BTreeMap::new();
    messages.insert(root.checksum, root.to_bytes().to_vec());
    for op in 1..=ops {
        let m = message(op, 0, parent, (op as usize * 389 + 90) % 1800);
        parent = header_of(&m).checksum;
        h.append(&m);
        h.run();
        messages.insert(parent, m);
    }
    h.take_events();
    (h, messages)
}

fn forge(
    base: &Header,
    field: Field,
    value: u64,
    slot: u64,
    h: &Harness,
) -> [u8; HEADER_SIZE as usize] {
    let slot_count = h.config.slot_count;
    let mut header = *base;
    match field {
        Field::OpOtherSlot => {
            header.op =
                (value % 1000) * slot_count + (slot + 1 + value % (slot_count - 1)) % slot_count;
        }
        Field::OpFarFuture => header.op = slot + slot_count * (1000 + value % 1_000_000),
        Field::Cluster => header.cluster = CLUSTER ^ u128::from(value | 1),
        Field::SizeTooLarge => {
            header.size = (h.config.message_size_max + 1 + value % 100_000) as u32;
        }
        Field::SizeTooSmall => header.size = (value % HEADER_SIZE) as u32,
    }
    header.set_checksum();
    assert!(header.valid_checksum());
    header.to_bytes()
}

fn apply(h: &mut Harness, zone: Zone, sector: u64, damage: &Damage, bases: &[Header]) {
    let sector_size = h.config.sector_size;
    let zone_len = h.zone(zone).len() as u64;
    let sectors = zone_len / sector_size;
    let sector = sector % sectors;
    let start = (sector * sector_size) as usize;
    let mut bytes = h.zone(zone)[start..start + sector_size as usize].to_vec();
    match damage {
        Damage::Zeros => bytes.fill(0),
        Damage::Noise(seed) => {
            let mut state = *seed | 1;
            for byte in bytes.iter_mut() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *byte = state as u8;
            }
        }
        Damage::Copy { source_sector } => {
            let source = ((source_sector % sectors) * sector_size) as usize;
            bytes.copy_from_slice(&h.zone(zone)[source..source + sector_size as usize]);
        }
        Damage::Forged {
            base,
            field,
            value,
            position,
        } => {
            let base = bases[base % bases.len()];
            // Where a header lies in this sector, and the slot that place belongs to.
            let (within, slot) = match zone {
                Zone::WalHeaders => {
                    let per_sector = sector_size / HEADER_SIZE;
                    let within = position % per_sector;
                    (within * HEADER_SIZE, sector * per_sector + within)
                }
                Zone::WalPrepares => {
                    let slot = sector * sector_size / h.config.message_size_max;
                    // The forged header goes where the prepare's header is (its first sector),
                    // or, in a later sector, at its start anyway (shifted data).
                    (0, slot)
                }
            };
            let forged = forge(&base, *field, *value, slot, h);
            bytes[within as usize..within as usize + HEADER_SIZE as usize].copy_from_slice(&forged);
        }
    }
    h.zone_mut(zone)[start..start + sector_size as usize].copy_from_slice(&bytes);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn recovery_and_reads_never_panic_and_never_accept_damage(
        ops in 1..40_u64,
        solo in any::<bool>(),
        seed in any::<u64>(),
        damages in proptest::collection::vec(
            (prop_oneof![Just(Zone::WalHeaders), Just(Zone::WalPrepares)], any::<u64>(), damage()),
            1..6,
        ),
    ) {
        let (mut h, messages) = written(ops, solo, seed);
        let bases: Vec<Header> = messages.values().map(|m| header_of(m)).collect();
        for (zone, sector, damage) in &damages {
            apply(&mut h, *zone, *sector, damage, &bases);
        }
        // Recovery of a log of up to 39 ops: the checkpoint trails the head by a ring at most.
        let op_checkpoint = ops.saturating_sub(h.config.slot_count - h.config.pipeline_max);
        h.recover(context(op_checkpoint));
        for slot in 0..h.config.slot_count {
            if h.journal.faulty(slot) {
                continue;
            }
            let header = *h.journal.header(slot);
            if header.is_reserved() {
                prop_assert_eq!(header, Header::reserved(CLUSTER, slot), "slot {}", slot);
                continue;
            }
            prop_assert!(
                messages.contains_key(&header.checksum),
                "slot {} holds a header nobody wrote: {:?}", slot, header
            );
        }
        // Every clean op reads back exactly, or is refused.
        let clean: Vec<Header> = (0..h.config.slot_count)
            .filter(|&slot| !h.journal.dirty(slot) && !h.journal.header(slot).is_reserved())
            .map(|slot| *h.journal.header(slot))
            .collect();
        for header in clean {
            if h.journal.read_prepare(header.op, header.checksum, ReadPurpose::Commit).is_err() {
                continue;
            }
            h.run();
            for event in h.take_events() {
                if let Event::ReadDone { checksum, result: Ok(handle), .. } = event {
                    let bytes = h.journal.read_message(handle).to_vec();
                    h.journal.read_release(handle);
                    prop_assert_eq!(
                        Some(&bytes),
                        messages.get(&checksum),
                        "op {} read back other bytes", header.op
                    );
                }
            }
        }
    }
}
