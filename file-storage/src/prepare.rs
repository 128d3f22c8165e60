//! Building prepare messages that a [`FileDriver`](crate::FileDriver) will append: a header
//! hash-chained to its parent, sealed with crc32c, followed by the body.

use journal::header::OPERATION_APPLICATION_MIN;
use journal::{Header, HEADER_SIZE};

/// The prepare for `op` in `view`, chained to the header checksum `parent`, carrying `body`.
pub fn prepare(cluster: u128, op: u64, view: u32, parent: u32, body: &[u8]) -> Vec<u8> {
    assert!(op > 0, "op 0 is the root, written by create");
    let mut header = Header::root(cluster);
    header.op = op;
    header.view = view;
    header.parent = parent;
    header.operation = OPERATION_APPLICATION_MIN;
    header.set_body(body);
    header.set_checksum();
    let mut message = Vec::with_capacity(HEADER_SIZE as usize + body.len());
    message.extend_from_slice(&header.to_bytes());
    message.extend_from_slice(body);
    // Pair assertion: the message decodes to the header it was built from.
    debug_assert_eq!(Header::decode(&message), Ok(header));
    message
}

/// A deterministic body of `size` bytes for `op` (tests, examples and benchmarks).
pub fn body(op: u64, size: usize) -> Vec<u8> {
    (0..size)
        .map(|i| (op as usize).wrapping_mul(31).wrapping_add(i * 7) as u8)
        .collect()
}
