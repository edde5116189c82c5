//! What each course's batches decided lately, as this instance heard it on
//! the feed: the sequence numbers that move the places of the streams
//! following the course. A batch only adds its numbers here; each stream
//! counts them when its turn to be sent comes ([`super::places`]), so a
//! batch costs the same however many streams wait in its line.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::shares::SHARES;

/// How long decided numbers are kept. Every share of the streams counts
/// them within one beat interval (at most
/// [`crate::config::MAX_POSITION_INTERVAL`]), and a read of a place in
/// flight needs those decided since the head it saw, a round trip ago.
pub const KEEP: Duration = Duration::from_secs(60);

/// One course's decided numbers.
#[derive(Debug, Default)]
pub(super) struct Decided {
    /// Ascending, each once.
    seqs: Vec<i64>,
    /// When batches were heard, and the highest number decided by then:
    /// what to forget once it is [`KEEP`] old.
    heard: VecDeque<(Instant, i64)>,
    /// The shares whose streams have not looked at the latest batch yet.
    pending: [bool; SHARES],
}

impl Decided {
    /// Adds a batch's numbers (ascending), heard at `now`.
    pub(super) fn add(&mut self, batch: &[i64], now: Instant) {
        let (Some(&first), Some(&last)) = (batch.first(), batch.last()) else {
            return;
        };
        let in_order = self.seqs.last().is_none_or(|&top| top < first);
        self.seqs.extend_from_slice(batch);
        if !in_order {
            // A batch redone after a lost lease, or heard out of order.
            self.seqs.sort_unstable();
            self.seqs.dedup();
        }
        let top = self.heard.back().map_or(last, |&(_, top)| top.max(last));
        self.heard.push_back((now, top));
        self.pending = [true; SHARES];
        self.forget(now);
    }

    /// The numbers decided lately, ascending.
    pub(super) fn seqs(&self) -> &[i64] {
        &self.seqs
    }

    /// Whether `share`'s streams have a batch to look at; they now have.
    pub(super) fn take_pending(&mut self, share: usize) -> bool {
        std::mem::take(&mut self.pending[share % SHARES])
    }

    /// Forgets what was heard [`KEEP`] ago; returns whether nothing is left.
    pub(super) fn forget(&mut self, now: Instant) -> bool {
        while let Some(&(at, top)) = self.heard.front() {
            if now.duration_since(at) < KEEP {
                break;
            }
            self.heard.pop_front();
            let old = self.seqs.partition_point(|&s| s <= top);
            self.seqs.drain(..old);
        }
        self.heard.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_stay_sorted_once_each_and_go_after_keep() {
        let t0 = Instant::now();
        let mut d = Decided::default();
        d.add(&[100, 101, 102], t0);
        d.add(&[103, 104], t0 + Duration::from_secs(1));
        // A batch redone after a lost lease: nothing counts twice.
        d.add(&[101, 102, 103], t0 + Duration::from_secs(2));
        assert_eq!(d.seqs(), [100, 101, 102, 103, 104]);
        assert!(d.take_pending(3) && !d.take_pending(3));
        assert!(d.take_pending(4), "each share looks once");
        assert!(!d.forget(t0 + KEEP), "the first batch goes");
        assert_eq!(d.seqs(), [103, 104]);
        assert!(d.forget(t0 + KEEP + Duration::from_secs(2)));
        assert!(d.seqs().is_empty());
    }
}
