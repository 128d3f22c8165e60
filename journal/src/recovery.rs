//! Crash recovery: rebuild the in-memory state from whatever a crash and a faulty disk left.
//!
//! Phases, each issuing reads up to the read IOP budget and never blocking:
//! 1. read every redundant-header sector;
//! 2. read every prepare slot in full (`message_size_max`), to see torn or corrupt bodies;
//! 3. decide each slot from the [`decision_table`](crate::decision_table), refine `@B`/`@C`
//!    into `cut_torn` where the head is certain (a prepare torn while being appended);
//! 4. drop headers whose view cannot belong to the durable log view;
//! 5. write back repaired redundant-header sectors (`fix`), one sector at a time;
//! 6. done: emit `Unrecoverable` for each slot a solo replica cannot repair, then `RecoveryDone`.

use crate::canary::{self, Canary};
use crate::decision_table::{self, Decision, INPUT_COUNT};
use crate::header::{Header, HEADER_SIZE};
use crate::io::{Event, SlotRecovery, Zone};
use crate::journal::{Journal, ReadStage, Status, WriteStage};
use bitvec::vec::BitVec;
use thiserror::Error;

/// What the replica's durable state (its superblock) tells recovery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveryContext {
    /// The op of the last durable checkpoint.
    pub op_checkpoint: u64,
    /// The view in which the durable log was last established.
    pub log_view: u32,
    /// Headers of the last view change (any order). Empty: no header is dropped for its view.
    pub view_headers: Vec<Header>,
}

/// A slot recovery could not repair. Only a solo replica reports these: a cluster repairs `vsr`
/// slots from its peers.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum RecoveryError {
    /// A solo replica's slot was decided `vsr`: its data is lost and there is no peer.
    #[error(
        "slot {slot} is unrecoverable (case {label}): a solo replica has no peer to repair it from"
    )]
    Unrecoverable { slot: u64, label: &'static str },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Headers,
    Prepares,
    Fix,
}

/// Recovery's scratch state, alive only while recovering.
#[derive(Debug)]
pub(crate) struct Recovery {
    context: RecoveryContext,
    phase: Phase,
    /// Next sector (headers phase) or slot (prepares phase) to read.
    issue_next: u64,
    /// Reads completed in this phase.
    done_count: u64,
    /// Each slot's redundant header, if its bytes decoded with a valid checksum.
    redundant: Vec<Option<Header>>,
    /// Each slot's prepare header, if the whole prepare verified (header, body, padding).
    prepares: Vec<Option<Header>>,
    /// Each slot's prepare header decoded with a valid checksum (body not considered).
    prepare_header_valid: BitVec,
    /// Canary `ZeroedPrepareIsEmpty` only: slots whose prepare's first sector read as zeros.
    prepare_zeroed: BitVec,
    /// Each slot's redundant header was written invalid on purpose: a fault recorded by an
    /// earlier recovery, never a torn write.
    redundant_invalidated: BitVec,

    unrecoverable: Vec<RecoveryError>,
}

impl Journal {
    /// Starts recovery. Reads are issued now; progress follows completions.
    pub fn recover(&mut self, context: RecoveryContext) {
        self.mutations += 1;
        assert_eq!(self.status, Status::Init, "recover is called once");
        assert!(self.io_idle());
        for header in &context.view_headers {
            assert!(header.valid_checksum() && !header.is_reserved());
            assert!(header.view <= context.log_view);
        }
        let slot_count = self.config.slot_count as usize;
        self.status = Status::Recovering;
        self.recovery = Some(Recovery {
            context,
            phase: Phase::Headers,
            issue_next: 0,
            done_count: 0,
            redundant: vec![None; slot_count],
            prepares: vec![None; slot_count],
            prepare_header_valid: BitVec::repeat(false, slot_count),
            prepare_zeroed: BitVec::repeat(false, slot_count),
            redundant_invalidated: BitVec::repeat(false, slot_count),
            unrecoverable: Vec::new(),
        });
        self.recover_issue_reads();
    }

    /// The first unrecoverable slot, if recovery found any.
    pub fn recovery_result(&self) -> Result<(), RecoveryError> {
        match self.recovery.as_ref().and_then(|r| r.unrecoverable.first()) {
            Some(error) => Err(*error),
            None => Ok(()),
        }
    }

    fn recovery_mut(&mut self) -> &mut Recovery {
        self.recovery.as_mut().expect("recovering")
    }

    fn recover_issue_reads(&mut self) {
        let (phase, total) = {
            let recovery = self.recovery.as_ref().expect("recovering");
            let total = match recovery.phase {
                Phase::Headers => self.config.header_sector_count(),
                Phase::Prepares => self.config.slot_count,
                Phase::Fix => unreachable!(),
            };
            (recovery.phase, total)
        };
        while self.recovery_mut().issue_next < total {
            let stage = match phase {
                Phase::Headers => ReadStage::RecoveryHeaders,
                _ => ReadStage::RecoveryPrepare,
            };
            let Some(index) = self.read_acquire(stage) else {
                break;
            };
            let target = self.recovery_mut().issue_next;
            self.recovery_mut().issue_next += 1;
            self.reads[index].target = target;
            match phase {
                Phase::Headers => {
                    let size = self.config.sector_size;
                    self.read_issue(index, Zone::WalHeaders, target * size, size);
                }
                _ => {
                    let size = self.config.message_size_max;
                    self.read_issue(index, Zone::WalPrepares, target * size, size);
                }
            }
        }
    }

    pub(crate) fn recover_headers_on_read(&mut self, index: usize, ok: bool) {
        assert_eq!(self.status, Status::Recovering);
        let sector = self.reads[index].target;
        let headers_per_sector = self.config.headers_per_sector() as usize;
        let slot_first = sector as usize * headers_per_sector;
        // Straight into the recovery's tables (no allocation per read), one checksum a header.
        let buffer = &self.reads[index].buffer;
        let recovery = self.recovery.as_mut().expect("recovering");
        for i in 0..headers_per_sector {
            let bytes = &buffer[i * HEADER_SIZE as usize..][..HEADER_SIZE as usize];
            // A failed read leaves every header of the sector unknown.
            let (decoded, invalidated) = if ok {
                let (decoded, invalidated) = Header::decode_or_invalidated(bytes);
                (decoded.ok(), invalidated)
            } else {
                (None, false)
            };
            recovery.redundant[slot_first + i] = decoded;
            recovery
                .redundant_invalidated
                .set(slot_first + i, invalidated);
        }
        self.read_release_index(index);
        let recovery = self.recovery_mut();
        recovery.done_count += 1;
        if recovery.done_count == self.config.header_sector_count() {
            let recovery = self.recovery_mut();
            recovery.phase = Phase::Prepares;
            recovery.issue_next = 0;
            recovery.done_count = 0;
        }
        self.recover_issue_reads();
    }

    pub(crate) fn recover_prepare_on_read(&mut self, index: usize, ok: bool) {
        assert_eq!(self.status, Status::Recovering);
        let slot = self.reads[index].target as usize;
        let (header_valid, prepare) = if ok {
            self.prepare_verify(&self.reads[index].buffer)
        } else {
            (false, None)
        };
        let sector_size = self.config.sector_size as usize;
        let zeroed = ok
            && canary::active(Canary::ZeroedPrepareIsEmpty)
            && crate::bytes::all_zero(&self.reads[index].buffer[..sector_size]);
        self.read_release_index(index);
        let slot_count = self.config.slot_count;
        let recovery = self.recovery_mut();
        recovery.prepares[slot] = prepare;
        recovery.prepare_header_valid.set(slot, header_valid);
        recovery.prepare_zeroed.set(slot, zeroed);
        recovery.done_count += 1;
        if recovery.done_count == slot_count {
            assert_eq!(self.reads_in_flight(), 0);
            self.recover_slots();
        } else {
            self.recover_issue_reads();
        }
    }

    /// Whether the prepare's header decodes, and the whole prepare if it verifies in full.
    fn prepare_verify(&self, bytes: &[u8]) -> (bool, Option<Header>) {
        let Ok(header) = Header::decode(bytes) else {
            return (false, None);
        };
        let size = header.size as usize;
        if (size as u64) < HEADER_SIZE || size as u64 > self.config.message_size_max {
            return (true, None);
        }
        let size_ceil = self.config.sector_ceil(size as u64) as usize;
        if !header.valid_checksum_body(&bytes[HEADER_SIZE as usize..size])
            && !canary::active(Canary::RecoverySkipsBodyChecksum)
        {
            return (true, None);
        }
        if !crate::bytes::all_zero(&bytes[size..size_ceil]) {
            return (true, None);
        }
        (true, Some(header))
    }

    /// The header (decoded from the disk, so with a valid checksum) if it may stand in `slot`.
    fn header_ok(&self, header: Option<Header>, slot: usize) -> Option<Header> {
        header.filter(|h| {
            // Canary: checksum and cluster only, not the slot.
            let ok_for_slot = if canary::active(Canary::RecoverySkipsSlotCheck) {
                h.cluster == self.cluster
            } else {
                h.fits_slot(self.cluster, slot as u64, self.config.slot_count)
            };
            ok_for_slot && u64::from(h.size) <= self.config.message_size_max
        })
    }

    /// The eleven table inputs for one slot.
    fn recovery_inputs(
        &self,
        header: Option<Header>,
        prepare: Option<Header>,
        op_max: u64,
        op_prepare_max: u64,
    ) -> [bool; INPUT_COUNT] {
        let both = header.zip(prepare);
        [
            header.is_some(),
            header.is_some_and(|h| h.is_reserved()),
            prepare.is_some(),
            prepare.is_some_and(|p| p.is_reserved()),
            prepare.is_some_and(|p| p.op == op_max),
            prepare.is_some_and(|p| p.op > op_prepare_max),
            header.is_some_and(|h| h.op > op_prepare_max),
            both.is_some_and(|(h, p)| h.checksum == p.checksum),
            both.is_some_and(|(h, p)| h.op == p.op),
            both.is_some_and(|(h, p)| h.op < p.op),
            both.is_some_and(|(h, p)| h.view == p.view),
        ]
    }

    fn recover_slots(&mut self) {
        assert_eq!(self.status, Status::Recovering);
        assert!(self.io_idle());
        let slot_count = self.config.slot_count as usize;
        assert_eq!(self.dirty.count_ones(), slot_count);
        assert_eq!(self.faulty.count_ones(), slot_count);
        let recovery = self.recovery.take().expect("recovering");
        let context = &recovery.context;
        let op_prepare_max = self.op_prepare_max(context.op_checkpoint);
        let redundant: Vec<Option<Header>> = (0..slot_count)
            .map(|s| self.header_ok(recovery.redundant[s], s))
            .map(|header| match header {
                // A solo replica truncates its log at a torn append below its head and appends
                // again in a new view: a redundant header that its durable log view excludes is
                // a version it truncated, as good as never written. Read as reserved, a newer
                // prepare beside it is `@G fix` rather than `@O vsr`, and a torn append over it
                // is cut. (A cluster repairs such a slot from a peer, and drops the header below.)
                Some(h) if self.solo && !h.is_reserved() => {
                    let (view_min, view_max) =
                        view_for_op(&context.view_headers, h.op, context.log_view);
                    if (view_min..=view_max).contains(&h.view) {
                        Some(h)
                    } else {
                        Some(self.headers_reserved[(h.op % self.config.slot_count) as usize])
                    }
                }
                header => header,
            })
            .collect();
        let mut prepares: Vec<Option<Header>> = (0..slot_count)
            .map(|s| self.header_ok(recovery.prepares[s], s))
            .collect();
        let mut redundant = redundant;
        for slot in recovery.prepare_zeroed.iter_ones() {
            // Canary: a prepare of zeros is a slot never written, as in a log scanned to its
            // first zeros; its redundant header is not asked.
            redundant[slot] = Some(self.headers_reserved[slot]);
            prepares[slot] = Some(self.headers_reserved[slot]);
        }
        // The head as far as the untrusted rings show it.
        let op_max = redundant
            .iter()
            .chain(prepares.iter())
            .flatten()
            .filter(|h| !h.is_reserved())
            .map(|h| h.op)
            .max()
            .unwrap_or(0);

        let mut cases: Vec<(&'static str, Decision)> = Vec::with_capacity(slot_count);
        for slot in 0..slot_count {
            let inputs =
                self.recovery_inputs(redundant[slot], prepares[slot], op_max, op_prepare_max);
            let case = match decision_table::decide(&inputs) {
                Ok(case) => case,
                Err(impossible) => panic!("slot {slot}: {impossible} (inputs {inputs:?})"),
            };
            let mut decision = case.decision(self.solo);
            if canary::active(Canary::DecisionNFix) && case.label == "@N" {
                decision = Decision::Fix;
            }
            if canary::active(Canary::DecisionMVsr) && case.label == "@M" {
                decision = Decision::Vsr;
            }
            if canary::active(Canary::DecisionOFix) && case.label == "@O" {
                decision = Decision::Fix;
            }
            if canary::active(Canary::DecisionGVsr) && case.label == "@G" && !self.solo {
                decision = Decision::Vsr;
            }
            if canary::active(Canary::DecisionOFixBelowCheckpoint)
                && case.label == "@O"
                && prepares[slot].is_some_and(|p| p.op <= context.op_checkpoint)
            {
                decision = Decision::Fix;
            }
            if decision == Decision::Fix
                && redundant[slot].is_none()
                && recovery.redundant_invalidated[slot]
            {
                // The header is a fault an earlier recovery recorded (`vsr`): whatever prepare
                // the slot holds is the one that recovery distrusted (or a repair whose header
                // never landed). Fixing the header from it would turn the fault into a clean
                // slot of the wrong version: it stays `vsr`.
                decision = Decision::Vsr;
            }
            cases.push((case.label, decision));
            // `prepare_checksums` vouches for any valid prepare, even one whose header is lost,
            // so that peers can still be served.
            if let Some(prepare) = prepares[slot].filter(|p| !p.is_reserved()) {
                self.touch(slot);
                self.prepare_checksums[slot] = Some(prepare.checksum);
            }
        }

        for slot in self.torn_prepares(&cases, &redundant, &recovery, op_max) {
            assert_eq!(cases[slot].1, Decision::Vsr);
            assert!(matches!(cases[slot].0, "@B" | "@C") || (self.solo && cases[slot].0 == "@A"));
            cases[slot].1 = Decision::CutTorn;
        }

        let mut unrecoverable = Vec::new();
        for (slot, &(label, decision)) in cases.iter().enumerate() {
            self.recover_slot(
                slot,
                label,
                decision,
                redundant[slot],
                prepares[slot],
                op_prepare_max,
            );
            self.slot_recoveries[slot] = Some(SlotRecovery { label, decision });
            if decision == Decision::Vsr && self.solo {
                unrecoverable.push(RecoveryError::Unrecoverable {
                    slot: slot as u64,
                    label,
                });
            }
        }

        // Discard headers certain not to belong to the durable log view: a replica that joined a
        // view, wrote some of its prepares and crashed before the view was durable.
        for slot in 0..slot_count {
            let header = self.headers[slot];
            if header.is_reserved() || self.faulty[slot] {
                continue;
            }
            let past_view_headers = context
                .view_headers
                .iter()
                .all(|view_header| view_header.op < header.op);
            if canary::active(Canary::ViewDropSkipsPastHead) && past_view_headers {
                // Canary: only ops the view headers cover are checked.
                continue;
            }
            let (view_min, view_max) =
                view_for_op(&context.view_headers, header.op, context.log_view);
            if header.view < view_min || header.view > view_max {
                self.remove_entry(slot);
                // Recovery's own removal: the slot reads as never written, in memory as on disk
                // once a fix of its sector lands (every recovered clean slot's redundant header
                // is its header); the next recovery drops the same pair by the same view rule.
                self.touch(slot);
                self.headers_redundant[slot] = self.headers_reserved[slot];
            }
        }
        self.recovery = Some(Recovery {
            unrecoverable,
            phase: Phase::Fix,
            ..recovery
        });
        self.recover_fix();
    }

    /// Applies one slot's decision to the in-memory state.
    fn recover_slot(
        &mut self,
        slot: usize,
        label: &'static str,
        decision: Decision,
        header: Option<Header>,
        prepare: Option<Header>,
        op_prepare_max: u64,
    ) {
        assert!(self.dirty[slot] && self.faulty[slot]);
        let reserved = self.headers_reserved[slot];
        let (loaded, dirty, faulty) = match decision {
            Decision::Eql => {
                let (header, prepare) =
                    (header.expect("eql: header"), prepare.expect("eql: prepare"));
                assert!(!header.is_reserved() && header.checksum == prepare.checksum);
                assert_eq!(self.prepare_checksums[slot], Some(prepare.checksum));
                (header, false, false)
            }
            Decision::Nil => {
                let (header, prepare) =
                    (header.expect("nil: header"), prepare.expect("nil: prepare"));
                assert!(header.is_reserved() && prepare.is_reserved());
                assert_eq!(header, reserved);
                assert_eq!(self.prepare_checksums[slot], None);
                (header, false, false)
            }
            Decision::Fix => {
                let prepare = prepare.expect("fix: prepare");
                if prepare.is_reserved() {
                    // @D for a solo replica only.
                    assert!(
                        self.solo,
                        "{label}: fix from a reserved prepare in a cluster"
                    );
                } else {
                    assert_eq!(self.prepare_checksums[slot], Some(prepare.checksum));
                }
                (prepare, true, false)
            }
            // Canary: keep the redundant header so the replica still names the lost op.
            Decision::Vsr if canary::active(Canary::RecoveryLoadsFaultyHeader) => (
                header.filter(|h| !h.is_reserved()).unwrap_or(reserved),
                true,
                true,
            ),
            Decision::Vsr => (reserved, true, true),
            Decision::CutTorn => {
                // A solo replica also cuts an append whose header sector was torn (`@A`).
                assert!((header.is_some() || self.solo) && prepare.is_none());
                assert_eq!(self.prepare_checksums[slot], None);
                (reserved, false, false)
            }
            Decision::Cut => {
                let prepare = prepare.expect("cut: prepare");
                // A reserved prepare's op is its slot index, not an op: only the header can
                // place such a slot past the prepare max (@J).
                if prepare.is_reserved() || prepare.op <= op_prepare_max {
                    let header = header.expect("cut via the header");
                    assert!(!header.is_reserved() && header.op > op_prepare_max);
                } else {
                    assert!(!prepare.is_reserved());
                }
                (reserved, false, false)
            }
        };
        // Recovery never loads a header into a slot and marks it faulty.
        if faulty {
            assert!(
                loaded.is_reserved(),
                "slot {slot}: loaded a header and marked it faulty"
            );
        }
        self.touch(slot);
        self.header_set(slot, loaded);
        self.dirty.set(slot, dirty);
        self.faulty.set(slot, faulty);
        // Until repaired, a faulty slot's redundant header is invalid on disk too, so that a crash
        // cannot turn the fault into a reserved slot.
        self.touch(slot);
        self.headers_redundant[slot] = if faulty && !canary::active(Canary::FaultyHeaderLeftValid) {
            loaded.invalidated()
        } else {
            loaded
        };
    }

    /// `Config::op_prepare_max` (the canary `PipelineQuarterRing` computes it from a pipeline of
    /// at most a quarter ring).
    fn op_prepare_max(&self, op_checkpoint: u64) -> u64 {
        if canary::active(Canary::PipelineQuarterRing) {
            return op_checkpoint + self.config.slot_count - self.pipeline_max();
        }
        self.config.op_prepare_max(op_checkpoint)
    }

    /// `pipeline_max` (the canary `PipelineQuarterRing` caps it at a quarter ring).
    fn pipeline_max(&self) -> u64 {
        if canary::active(Canary::PipelineQuarterRing) {
            return self
                .config
                .pipeline_max
                .min((self.config.slot_count / 4).max(1));
        }
        self.config.pipeline_max
    }

    /// The `@B`/`@C` slots that are prepares torn while being appended: safe to truncate only when
    /// the head op is certain (see DESIGN.md §2.6).
    fn torn_prepares(
        &self,
        cases: &[(&'static str, Decision)],
        redundant: &[Option<Header>],
        recovery: &Recovery,
        op_max: u64,
    ) -> Vec<usize> {
        let context = &recovery.context;
        if canary::active(Canary::CutTornWithoutCertainty) {
            // Canary: every `@B`/`@C` slot is taken for a torn append.
            return (0..cases.len())
                .filter(|&slot| {
                    cases[slot].1 == Decision::Vsr
                        && matches!(cases[slot].0, "@B" | "@C")
                        && redundant[slot].is_some()
                })
                .collect();
        }
        let op_checkpoint = context.op_checkpoint;
        let op_prepare_max = self.op_prepare_max(op_checkpoint);
        if op_max < op_checkpoint || (!self.solo && op_max >= op_prepare_max) {
            return Vec::new();
        }
        // DESIGN.md §2.6 leaves `op_prepare_max` out of the range when the head is at the
        // checkpoint, because TigerBeetle's prepare max is a whole ring past the checkpoint and
        // maps to the checkpoint's own slot, which holds the head. Ours lies `pipeline_max` short
        // of a ring, in a slot of its own (`Config::op_prepare_max`), so an append of it torn
        // right after a checkpoint is cut like any other (left out, a solo replica with two
        // slots reported its only append past a fresh checkpoint unrecoverable).
        let slot_count = self.config.slot_count;
        let op_last = op_prepare_max;
        // A cluster replica's head is certain only above `op_max`. A solo replica appends up to
        // `pipeline_max` prepares at once and commits an op only once it and every op before it
        // are durable, so every append a crash tore lies in `(commit, commit + pipeline_max]`,
        // which may reach below the highest op that did land (a later append finished first).
        // The replica truncates its log at the first hole this leaves.
        let op_first = if self.solo {
            (op_max + 1)
                .saturating_sub(self.pipeline_max())
                .max(op_checkpoint + 1)
        } else {
            op_max + 1
        };
        // Writes in flight at a crash: at most `iops_write_max`. A solo replica's torn appends
        // from an earlier crash that no write has replaced yet are uncommitted too, so all of them
        // lie in one pipeline.
        let torn_max = if self.solo {
            self.config.pipeline_max.max(self.config.iops_write_max)
        } else {
            self.config.iops_write_max
        };
        assert!(op_last < op_first || op_last - op_first < slot_count);

        let mut torn = Vec::new();
        for op in op_first..=op_last {
            let slot = (op % slot_count) as usize;
            if cases[slot].1 != Decision::Vsr {
                continue;
            }
            // `@A` (the header sector torn too): a solo replica writes the header sectors of
            // concurrent appends at once, and recovery writes back `fix` headers (of appends past
            // a hole too, which the replica truncates only after recovery), so crashes can tear a
            // header sector beside a prepare they tore, anywhere in the pipeline. As for a
            // first-wrap tear, mistaking it needs two independent faults in one slot (both copies
            // of an acknowledged op rotting), which the solo fault model (crashes only) excludes.
            // A header written invalid on purpose is a fault an earlier recovery recorded (`vsr`,
            // which a solo replica reports): never cut.
            let solo_torn_header =
                self.solo && cases[slot].0 == "@A" && !recovery.redundant_invalidated[slot];
            if !matches!(cases[slot].0, "@B" | "@C") && !solo_torn_header {
                // A valid prepare (or a reserved one under a valid header) is no torn append.
                return Vec::new();
            }
            let Some(header) = redundant[slot] else {
                if solo_torn_header {
                    torn.push(slot);
                    if torn.len() as u64 > torn_max {
                        return Vec::new();
                    }
                    continue;
                }
                return Vec::new();
            };
            if header.is_reserved() {
                // Our departure: a solo replica's first wrap (crash-only faults) leaves a reserved
                // header beside the prepare it was appending.
                if !self.solo {
                    return Vec::new();
                }
            } else if op <= op_max {
                // Only a solo replica looks below `op_max`. Its append was acknowledged only once
                // its header was durable, so a header from an older wrap proves the append never
                // finished. A header of this very op proves nothing (bit rot of an acknowledged
                // prepare looks the same) unless the durable log view excludes it: an older
                // version the replica truncated at a hole after an earlier crash and was
                // appending again in a later view.
                assert!(self.solo);
                assert!(header.op <= op_checkpoint || header.op == op);
                if header.op == op {
                    let (view_min, view_max) =
                        view_for_op(&context.view_headers, op, context.log_view);
                    if (view_min..=view_max).contains(&header.view) {
                        return Vec::new();
                    }
                }
            } else {
                assert!(header.op < op_max);
                assert!(header.op <= op_checkpoint);
            }
            // A valid prepare header could be a misdirected write: not certainly torn. A solo
            // replica has no misdirection (crash faults only): there any broken prepare past the
            // certain head is the append the crash interrupted, whichever of its sectors landed.
            if recovery.prepare_header_valid[slot] && !self.solo {
                return Vec::new();
            }
            if torn.len() as u64 == torn_max {
                return Vec::new();
            }
            torn.push(slot);
        }
        torn
    }

    /// Writes back one header sector holding `fix` slots, or finishes.
    fn recover_fix(&mut self) {
        assert_eq!(self.status, Status::Recovering);
        let headers_per_sector = self.config.headers_per_sector() as usize;
        let fix_slot = (0..self.config.slot_count as usize)
            .find(|&slot| self.dirty[slot] && !self.faulty[slot]);
        let Some(fix_slot) = fix_slot else {
            return self.recover_done();
        };
        let sector = fix_slot / headers_per_sector;
        for slot in sector * headers_per_sector..(sector + 1) * headers_per_sector {
            if self.dirty[slot] && !self.faulty[slot] {
                if let Some(checksum) = self.prepare_checksums[slot] {
                    assert_eq!(checksum, self.headers[slot].checksum);
                    assert_eq!(self.headers_redundant[slot], self.headers[slot]);
                } else {
                    assert!(
                        self.solo && self.headers[slot].is_reserved(),
                        "fix without a prepare: @D solo only"
                    );
                }
                self.touch(slot);
                self.dirty.set(slot, false);
            }
        }
        let index = self
            .write_acquire(WriteStage::Fix)
            .expect("recovery writes one sector at a time");
        self.writes[index].fix_sector = sector as u64;
        let size = self.config.sector_size;
        self.write_sectors(index, Zone::WalHeaders, sector as u64 * size, size);
    }

    pub(crate) fn recover_fix_on_written(&mut self, index: usize) {
        assert_eq!(self.writes[index].stage, WriteStage::Fix);
        self.writes[index].stage = WriteStage::Free;
        self.recover_fix();
    }

    fn recover_done(&mut self) {
        assert!(self.io_idle());
        assert_eq!(self.dirty.count_ones(), self.faulty.count_ones());
        for slot in 0..self.config.slot_count as usize {
            let header = &self.headers[slot];
            assert!(header.is_ok_for_slot(self.cluster, slot as u64, self.config.slot_count));
            if self.faulty[slot] {
                assert!(header.is_reserved());
                assert!(!self.headers_redundant[slot].valid_checksum());
            } else {
                assert_eq!(header, &self.headers_redundant[slot]);
            }
            if !header.is_reserved() {
                assert_eq!(self.prepare_checksums[slot], Some(header.checksum));
            }
        }
        self.status = Status::Recovered;
        let unrecoverable = self
            .recovery
            .as_ref()
            .map(|r| r.unrecoverable.clone())
            .unwrap_or_default();
        for RecoveryError::Unrecoverable { slot, label } in unrecoverable {
            self.push_event(Event::Unrecoverable { slot, label });
        }
        self.push_event(Event::RecoveryDone);
    }
}

/// The views an op's header may carry in the durable log: exactly the view of a view header for
/// that op; between two view headers, between their views; past the newest, the log view; before
/// the oldest, anything up to its view.
pub fn view_for_op(view_headers: &[Header], op: u64, log_view: u32) -> (u32, u32) {
    let Some(newest) = view_headers.iter().max_by_key(|h| h.op) else {
        return (0, log_view);
    };
    let oldest = view_headers.iter().min_by_key(|h| h.op).expect("non-empty");
    if op > newest.op {
        return (log_view, log_view);
    }
    if op < oldest.op {
        return (0, oldest.view);
    }
    if let Some(exact) = view_headers.iter().find(|h| h.op == op) {
        return (exact.view, exact.view);
    }
    let below = view_headers
        .iter()
        .filter(|h| h.op < op)
        .max_by_key(|h| h.op)
        .expect("op > oldest");
    let above = view_headers
        .iter()
        .filter(|h| h.op > op)
        .min_by_key(|h| h.op)
        .expect("op < newest");
    (below.view, above.view)
}
