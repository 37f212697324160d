//! Counts over a sliding window in constant memory per key.
//!
//! The window is split into eight buckets; the total is the sum of the buckets that overlap the
//! last `window`, so it covers between seven and eight eighths of it. Exact per-event timestamps
//! would cost memory proportional to the traffic, which is what an attacker controls.

use std::time::Duration;

use crate::Moment;

const BUCKETS: u64 = 8;

/// What happened in a stretch of time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) hits: u32,
    pub(crate) misses: u32,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.hits = self.hits.saturating_add(other.hits);
        self.misses = self.misses.saturating_add(other.misses);
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    slot: u64,
    tally: Tally,
}

/// A [`Tally`] over the last `window`, kept in eight buckets.
#[derive(Debug, Clone, Default)]
pub(crate) struct SlidingWindow {
    buckets: [Bucket; BUCKETS as usize],
}

impl SlidingWindow {
    pub(crate) fn add(&mut self, now: Moment, window: Duration, tally: Tally) {
        let slot = slot_of(now, window);
        let bucket = &mut self.buckets[(slot % BUCKETS) as usize];
        if bucket.slot != slot {
            *bucket = Bucket { slot, tally: Tally::default() };
        }
        bucket.tally.add(tally);
    }

    pub(crate) fn total(&self, now: Moment, window: Duration) -> Tally {
        let slot = slot_of(now, window);
        let mut total = Tally::default();
        for bucket in &self.buckets {
            if bucket.slot <= slot && slot - bucket.slot < BUCKETS {
                total.add(bucket.tally);
            }
        }
        total
    }
}

fn slot_of(now: Moment, window: Duration) -> u64 {
    let width = (window.as_nanos() / u128::from(BUCKETS)).max(1);
    u64::try_from(now.since_epoch().as_nanos() / width).unwrap_or(u64::MAX)
}
