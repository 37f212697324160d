//! The time every call is given: the crate never reads a clock, so tests drive it with a fake one.

use std::time::Duration;

/// A point in time, as the time elapsed since an epoch the caller chooses.
///
/// The server derives it from a monotonic clock (e.g. `Instant::now() - started`); tests count
/// seconds by hand. Only differences between moments matter, except where bans cross into
/// persistence, which takes the wall-clock time explicitly (see [`BanRecord`](crate::BanRecord)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Moment(Duration);

impl Moment {
    /// The epoch itself.
    pub const ZERO: Self = Self(Duration::ZERO);

    /// The moment `since_epoch` after the epoch.
    pub const fn from_duration(since_epoch: Duration) -> Self {
        Self(since_epoch)
    }

    /// The moment `seconds` after the epoch.
    pub const fn from_secs(seconds: u64) -> Self {
        Self(Duration::from_secs(seconds))
    }

    /// The moment `millis` milliseconds after the epoch.
    pub const fn from_millis(millis: u64) -> Self {
        Self(Duration::from_millis(millis))
    }

    /// Time elapsed since the epoch.
    pub const fn since_epoch(self) -> Duration {
        self.0
    }

    /// This moment plus `duration`, saturating rather than overflowing.
    pub fn saturating_add(self, duration: Duration) -> Self {
        Self(self.0.saturating_add(duration))
    }

    /// This moment minus `duration`, saturating at the epoch.
    pub fn saturating_sub(self, duration: Duration) -> Self {
        Self(self.0.saturating_sub(duration))
    }

    /// Time from `earlier` to this moment; zero if `earlier` is in fact later.
    pub fn saturating_since(self, earlier: Moment) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

/// The latest moment a structure has seen. A caller whose clock steps backwards then reads as no
/// time passing, instead of as a refund of budget or an early ban expiry.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TimeFloor {
    latest: Moment,
}

impl TimeFloor {
    /// Records `now` and returns the time to act on.
    pub(crate) fn observe(&mut self, now: Moment) -> Moment {
        self.latest = self.latest.max(now);
        self.latest
    }

    /// The time to act on, for a read that records nothing.
    pub(crate) fn peek(&self, now: Moment) -> Moment {
        self.latest.max(now)
    }
}
