//! When the writer starts its next commit: at once for a lone write, a little later under load.
//!
//! With `synchronous=FULL` every commit ends in an fsync, and an fsync costs about the same
//! whatever it carries (hundreds of microseconds of kernel time on a virtual disk). Taking only
//! what was queued the moment the writer was free gave a boot storm commits of one or two first
//! deliveries each. Under load, the writer now keeps gathering while writes keep arriving, for
//! up to [`MIN_COMMIT_INTERVAL`] after the previous commit started: in `sipprov bench
//! compare`'s first_boot storm that cut fsyncs about tenfold. It stops early once a whole
//! [`QUIET_GAP`] brings nothing new, so a few callers each waiting for its own write before
//! making the next are not held back for the rest of the interval.

use std::time::{Duration, Instant};

/// How close together commits may start under load.
pub(crate) const MIN_COMMIT_INTERVAL: Duration = Duration::from_millis(10);

/// A look at the queue that finds nothing new after this long ends the gathering.
pub(crate) const QUIET_GAP: Duration = Duration::from_millis(3);

/// Remembers the previous commit, to say how long the next one gathers.
#[derive(Debug)]
pub(crate) struct CommitPacer {
    /// Most writes one commit carries.
    most: usize,
    /// When the previous commit started, if it was a commit under load.
    loaded_commit: Option<Instant>,
}

impl CommitPacer {
    pub(crate) fn new(most: usize) -> Self {
        Self { most, loaded_commit: None }
    }

    /// Gathering `taken` writes so far, the last look having found new ones (`grew`): how long
    /// to sleep before looking at the queue again, or `None` to commit now.
    pub(crate) fn next_look(&self, now: Instant, taken: usize, grew: bool) -> Option<Duration> {
        let until = self.loaded_commit? + MIN_COMMIT_INTERVAL;
        let left = until.checked_duration_since(now).filter(|left| !left.is_zero())?;
        (grew && taken < self.most).then(|| left.min(QUIET_GAP))
    }

    /// Records a commit of `writes` writes, started at `started`. "Under load" means more than
    /// one write: a lone caller writing one thing after another is never held back. A full
    /// commit means writes are queued already: the next one starts at once.
    pub(crate) fn committed(&mut self, writes: usize, started: Instant) {
        self.loaded_commit = (1 < writes && writes < self.most).then_some(started);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn only_a_commit_of_several_writes_makes_the_next_one_gather() {
        let start = Instant::now();
        let mut pacer = CommitPacer::new(256);
        assert_eq!(pacer.next_look(start, 1, true), None, "the first write is committed at once");
        pacer.committed(1, start);
        assert_eq!(pacer.next_look(start, 1, true), None, "a lone writer is not held back");
        pacer.committed(5, start + ms(1));
        assert_eq!(pacer.next_look(start + ms(2), 1, true), Some(QUIET_GAP), "writes keep arriving: look again");
        assert_eq!(pacer.next_look(start + ms(10), 9, true), Some(ms(1)), "no later than the interval");
        assert_eq!(pacer.next_look(start + ms(11), 10, true), None, "the interval has passed");
        assert_eq!(pacer.next_look(start + ms(4), 3, false), None, "a quiet gap: everyone is in");
        assert_eq!(pacer.next_look(start + ms(4), 256, true), None, "the commit is full");
        pacer.committed(256, start + ms(20));
        assert_eq!(pacer.next_look(start + ms(21), 1, true), None, "a backlog is committed as fast as it can be");
        pacer.committed(1, start + ms(30));
        assert_eq!(pacer.next_look(start + ms(31), 1, true), None, "load that ended holds nothing back");
    }
}
