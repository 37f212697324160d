//! When the writer may start its next commit: at once for a lone write, a little later under load.
//!
//! With `synchronous=FULL` every commit ends in an fsync, and an fsync costs the same whatever
//! it carries (hundreds of microseconds of kernel time on a virtual disk). Taking only what
//! was queued the moment the writer was free gave a boot storm commits of one or two first
//! deliveries each; letting commits under load start no closer together than
//! [`MIN_COMMIT_INTERVAL`] gathers the writes that arrive meanwhile into the next one, which
//! cut fsyncs about tenfold in `sipprov bench compare`'s first_boot storm.

use std::time::{Duration, Instant};

/// How close together commits may start under load.
pub(crate) const MIN_COMMIT_INTERVAL: Duration = Duration::from_millis(10);

/// Remembers the previous commit, to say how long the next one should wait.
#[derive(Debug, Default)]
pub(crate) struct CommitPacer {
    /// When the previous commit ended, if it carried more than one write: that is what "under
    /// load" means here, so a lone caller writing one thing after another is never held back.
    busy_commit: Option<Instant>,
}

impl CommitPacer {
    /// How long to wait, at `now`, before gathering the writes for the next commit.
    pub(crate) fn wait(&self, now: Instant) -> Option<Duration> {
        self.busy_commit.and_then(|at| (at + MIN_COMMIT_INTERVAL).checked_duration_since(now)).filter(|d| !d.is_zero())
    }

    /// Records a commit of `writes` writes that ended at `now`.
    pub(crate) fn committed(&mut self, writes: usize, now: Instant) {
        self.busy_commit = (writes > 1).then_some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_commit_of_several_writes_holds_the_next_one_back() {
        let start = Instant::now();
        let later = |ms| start + Duration::from_millis(ms);
        let mut pacer = CommitPacer::default();
        assert_eq!(pacer.wait(start), None, "the first write is committed at once");
        pacer.committed(1, start);
        assert_eq!(pacer.wait(start), None, "a lone writer is not held back");
        pacer.committed(5, later(1));
        assert_eq!(pacer.wait(later(4)), Some(MIN_COMMIT_INTERVAL - Duration::from_millis(3)));
        assert_eq!(pacer.wait(later(1) + MIN_COMMIT_INTERVAL), None, "the interval has passed");
        assert_eq!(pacer.wait(later(100)), None);
        pacer.committed(1, later(100));
        assert_eq!(pacer.wait(later(101)), None, "load that ended holds nothing back");
    }
}
