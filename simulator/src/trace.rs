//! The run's event trace, hashed as it happens: same seed and commit, same hash.
//!
//! When a run is replayed (`keep_lines`), the trace also keeps what a reader needs and the hash
//! does not see: each event's readable line with its numbers ([`TraceLine`]), *notes* (lines that
//! are never hashed, such as repair messages and nack decisions, so that adding them left every
//! seed's hash unchanged), and a picture of every replica's ring at each crash and each recovery
//! ([`crate::ring_picture::RingPicture`]). A fuzz run keeps none of it and allocates nothing for it.

use crate::ring_picture::RingPicture;

/// Tags of the hashed events (the first word of `Trace::record`), as the replay names them.
pub mod tag {
    pub const CRASH: u64 = 1;
    pub const RESTART: u64 = 2;
    pub const VIEW_CHANGE: u64 = 3;
    pub const PREPARE: u64 = 4;
    pub const WRITE_DONE: u64 = 5;
    pub const REPAIR_READ: u64 = 6;
    pub const UNRECOVERABLE: u64 = 7;
    pub const SUPERBLOCK: u64 = 8;
    pub const LIVENESS: u64 = 9;
    pub const SLOT_RECOVERED: u64 = 10;
    pub const RECOVERED: u64 = 11;
    pub const STATE_SYNC: u64 = 12;
    pub const CHECKPOINT: u64 = 13;
    pub const CANONICAL: u64 = 14;
    pub const START_VIEW: u64 = 15;
    pub const ADOPT_START_VIEW: u64 = 16;
    pub const VIEW_WAITING: u64 = 17;
    pub const UNAVAILABLE: u64 = 18;
    /// An aimed fault (`[19, op]`) or an op moving back to an older version (`[19, op, v, v]`).
    pub const AIMED_OR_OLDER: u64 = 19;
    pub const MESSAGE: u64 = 20;
    pub const READOPT: u64 = 21;
    pub const JOIN_VIEW: u64 = 22;
    /// An aimed window: writes under truncated entries held in flight (`[23, ticks]`).
    pub const WINDOW_HOLD: u64 = 23;
    /// An aimed window: a crash before a truncation is repaired (`[24]`).
    pub const WINDOW_CRASH: u64 = 24;
    /// An aimed window: a backup's prepare write held in flight (`[25, ticks]`).
    pub const WINDOW_SLOW_WRITE: u64 = 25;
    /// Notes: kept lines that are not hashed (`Trace::note`).
    pub const NOTE_REPAIR: u64 = 100;
    pub const NOTE_NACK: u64 = 101;
}

/// One kept line of the trace: a hashed event or an unhashed note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceLine {
    pub tick: u64,
    pub replica: u8,
    /// The event's tag (see [`tag`]).
    pub tag: u64,
    /// The words after the tag (an op or a slot first, for the tags that name one).
    pub words: Vec<u64>,
    pub text: String,
}

impl TraceLine {
    /// The slot this line is about, if it names one (an op is mapped onto a ring of
    /// `slot_count` slots).
    pub fn slot(&self, slot_count: u64) -> Option<u64> {
        let first = *self.words.first()?;
        match self.tag {
            tag::UNRECOVERABLE | tag::SLOT_RECOVERED => Some(first),
            tag::PREPARE
            | tag::WRITE_DONE
            | tag::REPAIR_READ
            | tag::AIMED_OR_OLDER
            | tag::READOPT
            | tag::NOTE_REPAIR => Some(first % slot_count),
            _ => None,
        }
    }
}

impl std::fmt::Display for TraceLine {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "tick {:>6} r{}: {}",
            self.tick, self.replica, self.text
        )
    }
}

/// FNV-1a over every traced event: tiny, stable across platforms and releases.
#[derive(Clone, Debug)]
pub struct Trace {
    hash: u64,
    pub event_count: u64,
    /// Readable lines, kept only when replaying.
    pub lines: Option<Vec<TraceLine>>,
    /// Ring pictures at every crash and recovery, kept only when replaying, each with the
    /// number of lines kept before it (where the replay prints it).
    pub rings: Vec<(usize, RingPicture)>,
}

impl Trace {
    pub fn new(keep_lines: bool) -> Trace {
        Trace {
            hash: 0xcbf2_9ce4_8422_2325,
            event_count: 0,
            lines: keep_lines.then(Vec::new),
            rings: Vec::new(),
        }
    }

    /// Whether this trace keeps readable lines (a replay), so that pictures are worth taking.
    pub fn keeps_lines(&self) -> bool {
        self.lines.is_some()
    }

    /// Records one event: its numbers go into the hash; its text into the lines when kept.
    pub fn record(&mut self, tick: u64, replica: u8, words: &[u64], text: impl FnOnce() -> String) {
        self.mix(tick);
        self.mix(u64::from(replica));
        for &word in words {
            self.mix(word);
        }
        self.event_count += 1;
        if let Some(lines) = self.lines.as_mut() {
            lines.push(TraceLine {
                tick,
                replica,
                tag: words.first().copied().unwrap_or(0),
                words: words.get(1..).unwrap_or_default().to_vec(),
                text: text(),
            });
        }
    }

    /// Keeps a readable line that is not hashed (nor counted): detail for the replay that the
    /// hash never covered. Nothing is built unless lines are kept.
    pub fn note(
        &mut self,
        tick: u64,
        replica: u8,
        tag: u64,
        words: &[u64],
        text: impl FnOnce() -> String,
    ) {
        assert!(tag >= tag::NOTE_REPAIR, "a note's tag is not an event's");
        if let Some(lines) = self.lines.as_mut() {
            lines.push(TraceLine {
                tick,
                replica,
                tag,
                words: words.to_vec(),
                text: text(),
            });
        }
    }

    /// The number of lines kept so far (0 when none are kept).
    pub fn event_lines(&self) -> usize {
        self.lines.as_ref().map_or(0, Vec::len)
    }

    fn mix(&mut self, word: u64) {
        for byte in word.to_le_bytes() {
            self.hash ^= u64::from(byte);
            self.hash = self.hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    pub fn hash(&self) -> u64 {
        self.hash
    }
}
