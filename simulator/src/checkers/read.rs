//! The *read* checker: `read_prepare` never returns bytes that differ from what was written for
//! that checksum, nor accepts a read whose sector padding after the prepare is not zero.

use super::knowledge::ReadDelivered;
use super::{Check, Observed};

/// The *read* checker's observer, fed by every repair read a replica's journal accepted (the
/// simulator reads only to serve repairs). It keeps nothing: every prepare ever made is in
/// [`Observed::messages`].
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadChecker;

impl ReadChecker {
    /// Replica `index`'s journal returned `bytes` for `read_prepare(op, checksum)`; `delivered`
    /// is what the disk delivered for the read that completed it.
    pub fn on_read_done(
        &self,
        observed: &Observed,
        index: usize,
        op: u64,
        checksum: u32,
        bytes: &[u8],
        delivered: Option<ReadDelivered>,
    ) -> Check {
        if observed.messages.get(&checksum).map(Vec::as_slice) != Some(bytes) {
            return Err(observed.failure("read", format!("r{index} read_prepare(op {op}, checksum {checksum:08x}) returned bytes that differ from what was written")));
        }
        let slot = observed.replicas[index].journal.slot_for_op(op);
        let padding_dirty = delivered.is_some_and(|d| {
            assert!(d.classified, "a read_prepare's read was not classified");
            d.slot == slot && d.claimed == Some(checksum) && !d.padding_zero
        });
        if padding_dirty {
            return Err(observed.failure("read", format!("r{index} read_prepare(op {op}, checksum {checksum:08x}) accepted a read whose padding is not zero")));
        }
        Ok(())
    }
}
