//! How far a long read has come (every user of an instance, one call each): counted by the
//! reader, shown by whoever runs it, so minutes of reading are never minutes of silence.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Records read of those expected. Shared between the reader and the display; both only
/// ever see whole counts.
#[derive(Debug, Default)]
pub struct ReadTally {
    expected: AtomicUsize,
    read: AtomicUsize,
}

impl ReadTally {
    /// A tally with nothing expected yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// `count` more records are to be read.
    pub fn expect(&self, count: usize) {
        self.expected.fetch_add(count, Ordering::Relaxed);
    }

    /// One more record was read.
    pub fn read_one(&self) {
        self.read.fetch_add(1, Ordering::Relaxed);
    }

    /// (read, expected) now.
    pub fn now(&self) -> (usize, usize) {
        (
            self.read.load(Ordering::Relaxed),
            self.expected.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::ReadTally;

    #[test]
    fn it_counts_what_was_expected_and_read() {
        let tally = ReadTally::new();
        tally.expect(3);
        tally.read_one();
        tally.expect(2);
        tally.read_one();
        assert_eq!(tally.now(), (2, 5));
    }
}
