//! `vopr replay`: one seed's readable story. The hashed trace's lines, every fault the disks
//! injected (from their fault logs, placed at their ticks), the ring pictures at each crash and
//! recovery, and the failing checker, merged by tick and filtered by replica, slot or ticks.
//!
//! Everything here is read after the run from what it kept ([`Recorded`]); nothing here can
//! change a run or its trace hash.

use crate::cluster::Outcome;
use crate::recorded::Recorded;
use crate::replica::record_slots;
use crate::ring_picture::{Moment, RingPicture, LEGEND};
use crate::swarm::Overrides;
use crate::trace::tag;
use fault_models::{FaultKind, FaultRecord};
use journal::Config;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Which part of the story to print.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Every slot of every recovery, not only those that did not recover clean.
    pub verbose: bool,
    pub replica: Option<u8>,
    pub slot: Option<u64>,
    /// Ticks `A..B` (B exclusive).
    pub ticks: Option<(u64, u64)>,
}

impl Filter {
    fn tick(&self, tick: u64) -> bool {
        self.ticks
            .is_none_or(|(first, end)| first <= tick && tick < end)
    }

    fn replica(&self, replica: u8) -> bool {
        self.replica.is_none_or(|only| only == replica)
    }
}

/// A zone's name in the simulator's disks.
pub fn zone_name(zone: usize) -> &'static str {
    match zone {
        crate::replica::ZONE_HEADERS => "headers",
        crate::replica::ZONE_PREPARES => "prepares",
        _ => "zone?",
    }
}

fn range_text(config: &Config, zone: usize, offset: u64, len: u64) -> String {
    let sector = config.sector_size;
    let first = offset / sector;
    let end = (offset + len).div_ceil(sector);
    let slots = record_slots(config, zone, offset, len);
    let sectors = if end - first == 1 {
        format!("sector {first}")
    } else {
        format!("sectors {first}..{end}")
    };
    let slots = if slots.end - slots.start == 1 {
        format!("slot {}", slots.start)
    } else {
        format!("slots {}..{}", slots.start, slots.end)
    };
    format!("{} {sectors} ({slots})", zone_name(zone))
}

/// The fault kind's name, as the replay and the report print it.
pub fn fault_kind_name(kind: &FaultKind) -> &'static str {
    kind.name()
}

/// One fault in words: kind, zone, sectors and slots, and where a misdirected I/O went.
pub fn fault_text(config: &Config, record: &FaultRecord) -> String {
    let mut text = format!(
        "FAULT {} at {}",
        fault_kind_name(&record.kind),
        range_text(config, record.zone, record.offset, record.len)
    );
    match record.kind {
        FaultKind::MisdirectedWrite { target_offset } => {
            let _ = write!(
                text,
                ", landed on {}",
                range_text(config, record.zone, target_offset, record.len)
            );
        }
        FaultKind::MisdirectedRead { source_offset } => {
            let _ = write!(
                text,
                ", read from {}",
                range_text(config, record.zone, source_offset, record.len)
            );
        }
        // A simulated file's junk sector (never injected into a cluster's disk).
        FaultKind::SectorJunk { source_offset } => {
            let _ = write!(
                text,
                ", copied from {}",
                range_text(config, record.zone, source_offset, record.len)
            );
        }
        _ => {}
    }
    text
}

/// Whether a fault touched `slot` (a misdirected write where it landed too).
pub fn fault_touches_slot(config: &Config, record: &FaultRecord, slot: u64) -> bool {
    let own = record_slots(config, record.zone, record.offset, record.len).contains(&slot);
    let landed = match record.kind {
        FaultKind::MisdirectedWrite { target_offset } => {
            record_slots(config, record.zone, target_offset, record.len).contains(&slot)
        }
        _ => false,
    };
    own || landed
}

/// The per-(case, decision) counts of one recovery, as one line's text.
pub fn recovery_summary(picture: &RingPicture) -> String {
    let mut counts: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    let mut not_clean = 0;
    for row in picture.rows.iter().filter(|r| r.replica == picture.replica) {
        for cell in &row.cells {
            if let Some((label, decision)) = cell.recovery {
                *counts.entry((label, decision)).or_default() += 1;
                if !recovered_clean(decision) {
                    not_clean += 1;
                }
            }
        }
    }
    let counts: Vec<String> = counts
        .iter()
        .map(|((label, decision), count)| format!("{label} {decision} {count}"))
        .collect();
    format!("recovery: {}; not clean: {not_clean}", counts.join(", "))
}

/// Whether a decision leaves the slot as it was written (`eql`) or empty (`nil`).
pub fn recovered_clean(decision: &str) -> bool {
    matches!(decision, "eql" | "nil")
}

/// The replay as text.
pub fn render(outcome: &Outcome, overrides: &Overrides, filter: &Filter) -> String {
    let empty = Recorded::default();
    let recorded = outcome.recorded.as_ref().unwrap_or(&empty);
    let config = &outcome.config.journal;
    let slot_count = config.slot_count;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "config: {}",
        serde_json::to_string(&outcome.config).unwrap_or_default()
    );
    let _ = writeln!(out, "{LEGEND}");
    let mut faults = recorded.faults.iter().peekable();
    let mut rings = recorded.rings.iter().peekable();
    let mut fault_lines = |out: &mut String, tick_before: u64| {
        while let Some(record) = faults.next_if(|r| r.tick < tick_before) {
            if filter.tick(record.tick)
                && filter.replica(record.replica)
                && filter
                    .slot
                    .is_none_or(|slot| fault_touches_slot(config, record, slot))
            {
                let _ = writeln!(
                    out,
                    "tick {:>6} r{}: {}",
                    record.tick,
                    record.replica,
                    fault_text(config, record)
                );
            }
        }
    };
    for (index, line) in recorded.lines.iter().enumerate() {
        // A picture follows the line it was taken after; faults come before the events of
        // their tick (a completion's fault, then its event).
        while let Some((_, picture)) = rings.next_if(|(at, _)| *at <= index) {
            picture_lines(&mut out, picture, filter);
        }
        fault_lines(&mut out, line.tick + 1);
        if line.tag == tag::SLOT_RECOVERED {
            continue; // The recovery's picture prints these (see `picture_lines`).
        }
        let shown = filter.tick(line.tick)
            && filter.replica(line.replica)
            && filter
                .slot
                .is_none_or(|slot| line.slot(slot_count) == Some(slot));
        if shown {
            let _ = writeln!(out, "{line}");
        }
    }
    fault_lines(&mut out, u64::MAX);
    for (_, picture) in rings {
        picture_lines(&mut out, picture, filter);
    }
    let _ = writeln!(out, "trace_hash={:016x}", outcome.trace_hash);
    if let Some(failure) = &outcome.failure {
        let _ = writeln!(
            out,
            "FAILED checker={} tick={}: {}",
            failure.checker, failure.tick, failure.message
        );
        let _ = writeln!(
            out,
            "reproduce: {}",
            crate::vopr_command(&format!("replay {}{}", outcome.seed, overrides.flags()))
        );
    }
    out
}

/// A picture's lines: at a recovery, its summary and the slots that did not recover clean
/// (every slot when verbose); then the rings (or, for one slot, that slot's character per row).
fn picture_lines(out: &mut String, picture: &RingPicture, filter: &Filter) {
    if !filter.tick(picture.tick) || !filter.replica(picture.replica) {
        return;
    }
    let prefix = format!("tick {:>6} r{}:", picture.tick, picture.replica);
    if picture.moment == Moment::Recovery {
        if filter.slot.is_none() {
            let _ = writeln!(out, "{prefix} {}", recovery_summary(picture));
        }
        let row = picture.rows.iter().find(|r| r.replica == picture.replica);
        for (slot, cell) in row.iter().flat_map(|r| r.cells.iter().enumerate()) {
            let Some((label, decision)) = cell.recovery else {
                continue;
            };
            let shown = match filter.slot {
                Some(only) => only == slot as u64,
                None => filter.verbose || !recovered_clean(decision),
            };
            if shown {
                let _ = writeln!(
                    out,
                    "{prefix} slot {slot}: {label} {decision} (op {}, now {})",
                    cell.op,
                    cell.state.name()
                );
            }
        }
    }
    match filter.slot {
        None => out.push_str(&picture.render(filter.replica)),
        Some(slot) => {
            for row in &picture.rows {
                if !filter.replica(row.replica) {
                    continue;
                }
                if let Some(cell) = row.cells.get(slot as usize) {
                    let _ = writeln!(
                        out,
                        "{prefix} at {}: r{} slot {slot} '{}' {} (op {})",
                        match picture.moment {
                            Moment::Crash => "crash",
                            Moment::Recovery => "recovery",
                        },
                        row.replica,
                        cell.state.char(),
                        cell.state.name(),
                        cell.op
                    );
                }
            }
        }
    }
}
