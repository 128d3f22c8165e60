//! Canaries: realistic bugs planted in the journal, switchable at run time, to prove that the
//! simulator finds bugs (DESIGN.md §6).
//!
//! Each [`Canary`] is one small, surgical change a WAL author could plausibly write, guarded at
//! its switch point by `if canary::active(Canary::X)`. The switch points exist only in a build
//! with the `canary` cargo feature: without it, [`active`] is a `const fn` returning `false`, so
//! every guarded branch is dead code and the default build carries no switch at all.
//!
//! At most one canary is active at a time, process-wide ([`set_active`]). The simulator's canary
//! suite (`simulator/src/canaries.rs`, `vopr canaries`) activates each in turn and fuzzes seeds
//! until a checker fires.

/// A planted bug. The doc comment of each variant says what the bug is and where it lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Canary {
    /// Write path: a redundant-header sector is filled from `headers` (updated before the
    /// prepare is written) instead of `headers_redundant`, so a slot's header can reach disk
    /// before its prepare, and a crash in between leaves a header naming a prepare that never
    /// landed.
    HeaderBeforePrepare = 1,
    /// Write path: redundant-header sector writes skip the range lock, so two writes of one
    /// sector can be in flight at once and the older copy may land last.
    HeaderSectorUnlocked,
    /// Write path: the sector padding after a prepare is not zeroed, so stale bytes of the IOP
    /// buffer's previous (larger) message reach disk.
    PaddingNotZeroed,
    /// Read path: `read_prepare` does not verify the body checksum.
    ReadSkipsBodyChecksum,
    /// Read path: `read_prepare` does not check that the sector padding is zero.
    ReadSkipsPaddingCheck,
    /// Read path: `read_prepare` accepts a prepare with the requested op whose checksum differs
    /// (it checks the op, not which prepare of that op it read).
    ReadSkipsChecksumMatch,
    /// Recovery: a prepare whose header decodes is trusted without verifying its body, so a torn
    /// or corrupt body is loaded as intact.
    RecoverySkipsBodyChecksum,
    /// Recovery: a decoded header is not checked against its slot (op modulo slot count, or a
    /// reserved header's slot), so a misdirected read or write is accepted.
    RecoverySkipsSlotCheck,
    /// Decision table: row `@N` (header op above prepare op: the newer prepare's write was lost
    /// or misdirected) decides `fix`, trusting the older prepare, where `vsr` is right.
    DecisionNFix,
    /// Decision table: row `@M` (header op below prepare op: the header write after a wrap was
    /// lost) decides `vsr` where `fix` is right; a solo replica cannot repair it.
    DecisionMVsr,
    /// Recovery: `cut_torn` truncates every `@B`/`@C` slot without the head-certainty checks
    /// (head op within the prepare window, older redundant header, no valid prepare header).
    CutTornWithoutCertainty,
    /// Recovery: a `vsr` slot's redundant header is left valid (reserved) instead of invalidated,
    /// so the fault does not survive a crash.
    FaultyHeaderLeftValid,
    /// Recovery: a `vsr` slot is loaded with its (untrusted) redundant header while also marked
    /// faulty.
    RecoveryLoadsFaultyHeader,
    /// `set_header_as_dirty`: a faulty reserved slot (`vsr` after recovery) is treated like any
    /// other overwritten slot, dropping its fault and writing a valid reserved header for it.
    SetHeaderClearsFault,
    /// `remove_entries_from`: removing an entry also forgets the checksum of the prepare that is
    /// still on disk in its slot.
    RemoveDropsPrepareChecksums,
    /// Write path: `dirty` is cleared on a header-write completion even though the slot's entry
    /// changed while the write was in flight (the slot now holds another entry, not yet written).
    DirtyClearedOnChangedEntry,
    /// Recovery: the view-dropping step checks only ops the durable view headers cover, so a
    /// header past the newest view header from a view that never became durable (a backup that
    /// adopted a `start_view`, wrote, and crashed before its superblock) is kept, and the replica
    /// votes with a log its durable state does not allow.
    ViewDropSkipsPastHead,
    /// `set_header_as_dirty`: a slot whose removed entry comes back with the same checksum is
    /// taken for clean, because `prepare_checksums` still names that prepare on disk, although
    /// the redundant header on disk was reset (or never written).
    ReaddTrustsPrepareChecksum,
    /// Write path: the header-write completion compares the slot's entry by op, not checksum, so
    /// a completion for a version the slot no longer holds marks the newer version clean.
    WriteDoneMatchesOp,
    /// `remove_entries_from`: a faulty reserved slot (`vsr` after recovery) loses its fault too,
    /// so the replica no longer knows it may have acknowledged the op that slot held.
    RemoveClearsReservedFault,
    /// Decision table: row `@O` (same op, different checksum: the op was rewritten in another
    /// view and a crash or lost write split header from prepare) decides `fix`, trusting the
    /// prepare's version, where `vsr` is right: a wrong but self-consistent slot.
    DecisionOFix,
    /// Decision table: row `@G` (a reserved redundant header beside a valid prepare: a crash
    /// between the prepare's write and its header's) decides `vsr` on a cluster replica, which
    /// distrusts a prepare its header never named and leaves the slot to repair, where `fix`
    /// is right. Repair hides it: a fault recovery invented.
    DecisionGVsr,
    /// Decision table: row `@O` (same op, different checksum) decides `fix` for an op at or
    /// below the checkpoint, trusting the prepare's version: its author reasoned that an op the
    /// replica already executed is safe in any valid version. The superseded version is loaded
    /// clean below the checkpoint, where the acknowledged and durability checkers stop.
    DecisionOFixBelowCheckpoint,
    /// Recovery: a prepare whose first sector is all zeros is taken for a slot never written
    /// (as a log scanned up to its first zeros would), and its redundant header is not asked:
    /// the slot recovers `nil`, empty, whatever op it held.
    ZeroedPrepareIsEmpty,
    /// Recovery: the pipeline is taken for at most a quarter of the ring (the bound of the
    /// defaults, where its author read it), in the prepare max (`op_checkpoint + slot_count -
    /// min(pipeline_max, slot_count / 4)`) and in a solo replica's torn window. Equivalent for
    /// every pipeline of at most a quarter ring; past it, recovery keeps prepares beyond the real
    /// prepare max and looks for torn appends in slots of ops at or below the checkpoint.
    PipelineQuarterRing,
    /// `set_header_as_dirty`: an entry adopted again while a write of exactly that entry is still
    /// in flight is taken for clean at once, its author reasoning that the write in flight will
    /// land it. While the prepare's sectors are in flight the slot's prepare is not that entry's
    /// yet, so the slot is clean over a prepare the journal cannot vouch for.
    ReadoptInFlightTakenForClean,
}

impl Canary {
    /// Every canary, in declaration order.
    pub const ALL: [Canary; 26] = [
        Canary::HeaderBeforePrepare,
        Canary::HeaderSectorUnlocked,
        Canary::PaddingNotZeroed,
        Canary::ReadSkipsBodyChecksum,
        Canary::ReadSkipsPaddingCheck,
        Canary::ReadSkipsChecksumMatch,
        Canary::RecoverySkipsBodyChecksum,
        Canary::RecoverySkipsSlotCheck,
        Canary::DecisionNFix,
        Canary::DecisionMVsr,
        Canary::CutTornWithoutCertainty,
        Canary::FaultyHeaderLeftValid,
        Canary::RecoveryLoadsFaultyHeader,
        Canary::SetHeaderClearsFault,
        Canary::RemoveDropsPrepareChecksums,
        Canary::DirtyClearedOnChangedEntry,
        Canary::ViewDropSkipsPastHead,
        Canary::ReaddTrustsPrepareChecksum,
        Canary::WriteDoneMatchesOp,
        Canary::RemoveClearsReservedFault,
        Canary::DecisionOFix,
        Canary::DecisionGVsr,
        Canary::DecisionOFixBelowCheckpoint,
        Canary::ZeroedPrepareIsEmpty,
        Canary::PipelineQuarterRing,
        Canary::ReadoptInFlightTakenForClean,
    ];

    /// The canary's name, in `snake_case`.
    pub fn name(self) -> &'static str {
        match self {
            Canary::HeaderBeforePrepare => "header_before_prepare",
            Canary::HeaderSectorUnlocked => "header_sector_unlocked",
            Canary::PaddingNotZeroed => "padding_not_zeroed",
            Canary::ReadSkipsBodyChecksum => "read_skips_body_checksum",
            Canary::ReadSkipsPaddingCheck => "read_skips_padding_check",
            Canary::ReadSkipsChecksumMatch => "read_skips_checksum_match",
            Canary::RecoverySkipsBodyChecksum => "recovery_skips_body_checksum",
            Canary::RecoverySkipsSlotCheck => "recovery_skips_slot_check",
            Canary::DecisionNFix => "decision_n_fix",
            Canary::DecisionMVsr => "decision_m_vsr",
            Canary::CutTornWithoutCertainty => "cut_torn_without_certainty",
            Canary::FaultyHeaderLeftValid => "faulty_header_left_valid",
            Canary::RecoveryLoadsFaultyHeader => "recovery_loads_faulty_header",
            Canary::SetHeaderClearsFault => "set_header_clears_fault",
            Canary::RemoveDropsPrepareChecksums => "remove_drops_prepare_checksums",
            Canary::DirtyClearedOnChangedEntry => "dirty_cleared_on_changed_entry",
            Canary::ViewDropSkipsPastHead => "view_drop_skips_past_head",
            Canary::ReaddTrustsPrepareChecksum => "readd_trusts_prepare_checksum",
            Canary::WriteDoneMatchesOp => "write_done_matches_op",
            Canary::RemoveClearsReservedFault => "remove_clears_reserved_fault",
            Canary::DecisionOFix => "decision_o_fix",
            Canary::DecisionGVsr => "decision_g_vsr",
            Canary::DecisionOFixBelowCheckpoint => "decision_o_fix_below_checkpoint",
            Canary::ZeroedPrepareIsEmpty => "zeroed_prepare_is_empty",
            Canary::PipelineQuarterRing => "pipeline_quarter_ring",
            Canary::ReadoptInFlightTakenForClean => "readopt_in_flight_taken_for_clean",
        }
    }

    /// One line saying what the bug is.
    pub fn description(self) -> &'static str {
        match self {
            Canary::HeaderBeforePrepare => {
                "header sector filled from headers: header before its prepare"
            }
            Canary::HeaderSectorUnlocked => "header-sector writes not serialized by the range lock",
            Canary::PaddingNotZeroed => "prepare padding not zeroed before the write",
            Canary::ReadSkipsBodyChecksum => "read_prepare skips the body checksum",
            Canary::ReadSkipsPaddingCheck => "read_prepare skips the zero-padding check",
            Canary::ReadSkipsChecksumMatch => {
                "read_prepare checks the op but not the prepare's checksum"
            }
            Canary::RecoverySkipsBodyChecksum => "recovery trusts a prepare without its body",
            Canary::RecoverySkipsSlotCheck => "recovery accepts headers of another slot",
            Canary::DecisionNFix => "table row @N decides fix (vsr is right)",
            Canary::DecisionMVsr => "table row @M decides vsr (fix is right)",
            Canary::CutTornWithoutCertainty => "cut_torn without the head-certainty checks",
            Canary::FaultyHeaderLeftValid => "recovery leaves a vsr slot's redundant header valid",
            Canary::RecoveryLoadsFaultyHeader => "recovery loads a header into a faulty slot",
            Canary::SetHeaderClearsFault => "set_header_as_dirty drops a vsr slot's fault",
            Canary::RemoveDropsPrepareChecksums => "remove_entries_from drops prepare_checksums",
            Canary::DirtyClearedOnChangedEntry => {
                "dirty cleared on a completion whose entry changed"
            }
            Canary::ViewDropSkipsPastHead => {
                "recovery keeps headers past the view headers from a non-durable view"
            }
            Canary::ReaddTrustsPrepareChecksum => {
                "a re-added entry is taken for clean from prepare_checksums"
            }
            Canary::WriteDoneMatchesOp => "write completion matches the slot by op, not checksum",
            Canary::RemoveClearsReservedFault => "remove_entries_from drops a vsr slot's fault",
            Canary::DecisionOFix => "table row @O decides fix (vsr is right)",
            Canary::DecisionGVsr => "table row @G decides vsr in a cluster (fix is right)",
            Canary::DecisionOFixBelowCheckpoint => {
                "table row @O decides fix at or below the checkpoint (vsr is right)"
            }
            Canary::ZeroedPrepareIsEmpty => {
                "recovery takes a zeroed prepare for a slot never written"
            }
            Canary::PipelineQuarterRing => {
                "recovery takes the pipeline for at most a quarter ring (prepare max, torn window)"
            }
            Canary::ReadoptInFlightTakenForClean => {
                "an entry adopted again while its own write is in flight is taken for clean"
            }
        }
    }

    /// The canary named `name` (see [`Canary::name`]).
    pub fn from_name(name: &str) -> Option<Canary> {
        Canary::ALL.into_iter().find(|canary| canary.name() == name)
    }
}

#[cfg(feature = "canary")]
static ACTIVE: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Activates one canary for the whole process, or none. Without the `canary` feature only `None`
/// is accepted: there are no switch points to turn on.
pub fn set_active(canary: Option<Canary>) {
    #[cfg(feature = "canary")]
    ACTIVE.store(
        canary.map_or(0, |canary| canary as u8),
        std::sync::atomic::Ordering::SeqCst,
    );
    #[cfg(not(feature = "canary"))]
    assert!(
        canary.is_none(),
        "canaries need the journal's `canary` feature"
    );
}

/// The active canary, if any.
pub fn active_canary() -> Option<Canary> {
    #[cfg(feature = "canary")]
    {
        let value = ACTIVE.load(std::sync::atomic::Ordering::Relaxed);
        Canary::ALL
            .into_iter()
            .find(|canary| *canary as u8 == value)
    }
    #[cfg(not(feature = "canary"))]
    None
}

/// Whether `canary` is the active one: the switch point's guard.
#[cfg(feature = "canary")]
#[inline]
pub(crate) fn active(canary: Canary) -> bool {
    ACTIVE.load(std::sync::atomic::Ordering::Relaxed) == canary as u8
}

/// Without the `canary` feature every switch point is dead code.
#[cfg(not(feature = "canary"))]
#[inline(always)]
pub(crate) const fn active(_canary: Canary) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        for (index, canary) in Canary::ALL.iter().enumerate() {
            assert_eq!(Canary::from_name(canary.name()), Some(*canary));
            assert!(!canary.description().is_empty());
            assert_eq!(
                *canary as u8 as usize,
                index + 1,
                "ALL is in declaration order"
            );
        }
    }

    #[cfg(not(feature = "canary"))]
    #[test]
    fn default_build_has_no_switch() {
        for canary in Canary::ALL {
            assert!(!active(canary));
        }
        assert_eq!(active_canary(), None);
    }
}
