//! The messages replicas exchange, and the network that delays and reorders them.
//!
//! Delivery order is decided by the seed: each message gets a delay drawn by the caller, and
//! messages ready at the same tick are delivered in send order. A message to a replica that is
//! down when it arrives is dropped; every sender retries on a timeout, so a lost message only
//! costs time.

use journal::Header;
use std::collections::BTreeMap;

/// One replica's view-change vote: what its journal holds of the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DoViewChange {
    pub view: u32,
    /// The view in which the sender's durable log was established.
    pub log_view: u32,
    /// The highest op the sender's journal holds a header for.
    pub op_head: u64,
    pub commit_max: u64,
    /// The header of the sender's durable checkpoint (its op is the checkpoint).
    pub checkpoint_header: Header,
    /// The headers the journal holds above its checkpoint (and the head's), with whether each is
    /// held clean (its prepare durable: the sender may have acknowledged it and can serve it).
    pub headers: Vec<(Header, bool)>,
    /// The sender's faulty slots: each may have held a prepare it acknowledged.
    pub faulty: Vec<bool>,
}

impl DoViewChange {
    /// The header the sender holds for `op`, and whether it is clean.
    pub fn header(&self, op: u64) -> Option<(Header, bool)> {
        self.headers.iter().find(|(h, _)| h.op == op).copied()
    }

    /// Whether the sender certainly never acknowledged `(op, checksum)`: its slot is not faulty,
    /// and it holds another header (or none) for `op`, or holds this one dirty. A journal never
    /// recovers an op it wrote as dirty-but-not-faulty (it is clean, or faulty), so dirty and not
    /// faulty means the prepare never became durable here since the replica last recovered.
    pub fn nacks(&self, op: u64, checksum: u32) -> bool {
        let slot = (op % self.faulty.len() as u64) as usize;
        !self.faulty[slot]
            && self
                .header(op)
                .is_none_or(|(h, clean)| h.checksum != checksum || !clean)
    }

    /// Whether the sender holds `(op, checksum)` clean.
    pub fn present(&self, op: u64, checksum: u32) -> bool {
        self.header(op)
            .is_some_and(|(h, clean)| clean && h.checksum == checksum)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// The primary's prepare (header and body) in its view.
    Prepare {
        view: u32,
        message: Vec<u8>,
    },
    PrepareOk {
        view: u32,
        op: u64,
        checksum: u32,
    },
    /// The primary's heartbeat: its commit and durable checkpoint.
    Commit {
        view: u32,
        commit: u64,
        checkpoint: Header,
    },
    StartViewChange {
        view: u32,
    },
    DoViewChange(Box<DoViewChange>),
    /// The new view's log: its head, commit, and the headers above the primary's checkpoint.
    StartView {
        view: u32,
        op_head: u64,
        commit: u64,
        checkpoint: Header,
        headers: Vec<Header>,
    },
    RequestStartView {
        view: u32,
    },
    /// Repair: the prepare `(op, checksum)`, from whoever holds it.
    RequestPrepare {
        op: u64,
        checksum: u32,
    },
    /// A repair's answer.
    Repaired {
        message: Vec<u8>,
    },
    /// Repair of a broken hash chain: the headers of `op_min..=op_max` the receiver holds.
    RequestHeaders {
        op_min: u64,
        op_max: u64,
    },
    Headers {
        headers: Vec<Header>,
    },
}

impl Message {
    /// A short name for the trace.
    pub fn name(&self) -> &'static str {
        match self {
            Message::Prepare { .. } => "prepare",
            Message::PrepareOk { .. } => "prepare_ok",
            Message::Commit { .. } => "commit",
            Message::StartViewChange { .. } => "start_view_change",
            Message::DoViewChange(_) => "do_view_change",
            Message::StartView { .. } => "start_view",
            Message::RequestStartView { .. } => "request_start_view",
            Message::RequestPrepare { .. } => "request_prepare",
            Message::Repaired { .. } => "repaired",
            Message::RequestHeaders { .. } => "request_headers",
            Message::Headers { .. } => "headers",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Envelope {
    pub from: u8,
    pub to: u8,
    pub message: Message,
}

/// Messages in flight, ordered by delivery tick, then send order.
#[derive(Debug, Default)]
pub struct Network {
    queue: BTreeMap<(u64, u64), Envelope>,
    sequence: u64,
}

impl Network {
    pub fn send(&mut self, deliver_tick: u64, envelope: Envelope) {
        assert_ne!(
            envelope.from, envelope.to,
            "a replica does not message itself"
        );
        self.sequence += 1;
        self.queue.insert((deliver_tick, self.sequence), envelope);
    }

    /// The next message due at or before `now_tick`.
    pub fn pop_ready(&mut self, now_tick: u64) -> Option<Envelope> {
        let (&key, _) = self.queue.first_key_value()?;
        if key.0 > now_tick {
            return None;
        }
        self.queue.remove(&key)
    }
}
