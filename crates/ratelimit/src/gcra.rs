//! The generic cell rate algorithm: a token bucket kept as one timestamp per key.
//!
//! Instead of a token count and a refill time, GCRA stores the *theoretical arrival time* (TAT):
//! when the key's budget would be back to empty if every admitted event had arrived at the
//! sustained rate. An event at `now` is admitted when the TAT it would set stays within
//! `burst x interval` of `now`. Sixteen bytes per key, no background refill, and over any window of
//! length `w` at most `burst + w / interval` events are admitted.

use std::time::Duration;

use crate::{Error, Moment};

/// A sustained rate with a burst: `burst` events at once, then one per `interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateLimit {
    burst: u32,
    interval: Duration,
}

impl RateLimit {
    /// `burst` events at once, refilled at one per `interval`.
    ///
    /// Fails if `burst` is zero (nothing would ever be admitted) or `interval` is zero.
    pub fn new(burst: u32, interval: Duration) -> Result<Self, Error> {
        if burst == 0 {
            return Err(Error::InvalidRate { reason: "the burst must be at least 1" });
        }
        if interval.is_zero() {
            return Err(Error::InvalidRate { reason: "the refill interval must be longer than zero" });
        }
        Ok(Self { burst, interval })
    }

    /// `burst` events at once, refilled at `per_second` events per second.
    pub fn per_second(burst: u32, per_second: u32) -> Result<Self, Error> {
        if per_second == 0 {
            return Err(Error::InvalidRate { reason: "the refill rate must be at least 1 per second" });
        }
        Self::new(burst, Duration::from_secs(1) / per_second)
    }

    /// For the crate's own defaults, which are valid by inspection.
    pub(crate) const fn preset(burst: u32, interval: Duration) -> Self {
        Self { burst, interval }
    }

    /// Events admitted at once from a full budget.
    pub const fn burst(self) -> u32 {
        self.burst
    }

    /// Time to earn back one event.
    pub const fn interval(self) -> Duration {
        self.interval
    }

    /// How far ahead of `now` the TAT may run.
    fn tolerance(self) -> Duration {
        self.interval.saturating_mul(self.burst)
    }
}

/// A check refused by a rate limit. Nothing was consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("rate limited; retry after {retry_after:?}")]
pub struct RateLimited {
    /// The earliest time from now at which the same check would be admitted.
    pub retry_after: Duration,
}

/// One key's GCRA state. Callers must not pass decreasing times; [`KeyedLimiter`](crate::KeyedLimiter)
/// sees to that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Gcra {
    arrival: Moment,
}

impl Gcra {
    /// Admits one event at `now`, or refuses it and changes nothing.
    pub(crate) fn check(&mut self, limit: RateLimit, now: Moment) -> Result<(), RateLimited> {
        self.arrival = self.evaluate(limit, now)?;
        Ok(())
    }

    /// The TAT an event at `now` would set, if it is admitted.
    pub(crate) fn evaluate(&self, limit: RateLimit, now: Moment) -> Result<Moment, RateLimited> {
        let arrival = self.arrival.max(now).saturating_add(limit.interval);
        let ahead = arrival.saturating_since(now);
        match ahead.checked_sub(limit.tolerance()) {
            Some(retry_after) if !retry_after.is_zero() => Err(RateLimited { retry_after }),
            _ => Ok(arrival),
        }
    }

    /// The earliest moment an event would be admitted.
    pub(crate) fn earliest_admission(&self, limit: RateLimit) -> Moment {
        self.arrival.saturating_add(limit.interval).saturating_sub(limit.tolerance())
    }

    /// Whether the budget is full again, so the state is the same as a fresh key's.
    pub(crate) fn is_idle(&self, now: Moment) -> bool {
        self.arrival <= now
    }
}
