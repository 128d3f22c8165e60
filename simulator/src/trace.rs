//! The run's event trace, hashed as it happens: same seed and commit, same hash.

/// FNV-1a over every traced event: tiny, stable across platforms and releases.
#[derive(Clone, Debug)]
pub struct Trace {
    hash: u64,
    pub event_count: u64,
    /// Readable lines, kept only when replaying.
    pub lines: Option<Vec<String>>,
}

impl Trace {
    pub fn new(keep_lines: bool) -> Trace {
        Trace {
            hash: 0xcbf2_9ce4_8422_2325,
            event_count: 0,
            lines: keep_lines.then(Vec::new),
        }
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
            lines.push(format!("tick {tick:>6} r{replica}: {}", text()));
        }
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
