//! What a run records for a replay besides its hash: the trace's readable lines, the ring
//! pictures and every disk's faults. The cluster fills it at the end of a replayed run
//! (`Simulation::run`); `replay.rs` and `report_html.rs` only render it.

use crate::ring_picture::RingPicture;
use crate::trace::TraceLine;
use fault_models::FaultRecord;

/// What a replayed run kept besides its hash: lines, ring pictures and the faults of every disk
/// (ordered by tick, then replica).
#[derive(Clone, Debug, Default)]
pub struct Recorded {
    pub lines: Vec<TraceLine>,
    pub rings: Vec<(usize, RingPicture)>,
    pub faults: Vec<FaultRecord>,
}
