//! Per-client seq bookkeeping: which events of the phase arrived, how often,
//! and in what order.

/// Tracks the seqs one client received after the phase's start cursor.
#[derive(Clone, Debug, Default)]
pub struct SeqTracker {
    /// The phase's start cursor: the client asks for everything after it.
    base: u64,
    /// Bit `i` set: seq `base + 1 + i` received.
    seen: Vec<u64>,
    highest: u64,
    /// Distinct events received.
    pub delivered: u64,
    /// Receipts of an already received seq.
    pub duplicated: u64,
    /// Receipts of a seq lower than one already received.
    pub out_of_order: u64,
    /// Gap markers received.
    pub gaps: u64,
}

impl SeqTracker {
    /// A tracker for a client that asked for everything after `base`.
    pub fn new(base: u64) -> Self {
        SeqTracker {
            base,
            highest: base,
            ..SeqTracker::default()
        }
    }

    /// Records a received seq; true when it is new.
    pub fn record(&mut self, seq: u64) -> bool {
        if seq <= self.base {
            // The client asked for seqs after `base`: an older one is a repeat.
            self.duplicated += 1;
            return false;
        }
        let index = seq - self.base - 1;
        let (word, bit) = ((index / 64) as usize, index % 64);
        if word >= self.seen.len() {
            self.seen.resize(word + 1, 0);
        }
        if self.seen[word] & (1 << bit) != 0 {
            self.duplicated += 1;
            return false;
        }
        self.seen[word] |= 1 << bit;
        self.delivered += 1;
        if seq < self.highest {
            self.out_of_order += 1;
        }
        self.highest = self.highest.max(seq);
        true
    }

    /// Highest seq received (the start cursor if none).
    pub fn highest(&self) -> u64 {
        self.highest
    }

    /// Seqs in `(base, end]` this client never received.
    pub fn missed(&self, end: u64) -> u64 {
        if end <= self.base {
            return 0;
        }
        let expected = end - self.base;
        let full_words = (expected / 64) as usize;
        let mut got: u64 = self
            .seen
            .iter()
            .take(full_words)
            .map(|w| u64::from(w.count_ones()))
            .sum();
        let rest = expected % 64;
        if rest > 0 {
            let mask = (1u64 << rest) - 1;
            got += u64::from((self.seen.get(full_words).copied().unwrap_or(0) & mask).count_ones());
        }
        expected - got
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_missed_duplicates_and_reordering_exactly() {
        let mut t = SeqTracker::new(100);
        for seq in [101, 102, 104, 103, 103, 100, 170] {
            t.record(seq);
        }
        assert_eq!(t.delivered, 5);
        assert_eq!(t.duplicated, 2);
        assert_eq!(t.out_of_order, 1);
        assert_eq!(t.highest(), 170);
        assert_eq!(t.missed(104), 0);
        assert_eq!(t.missed(170), 70 - 5);
        assert_eq!(t.missed(300), 200 - 5);
        assert_eq!(t.missed(50), 0);
    }
}
