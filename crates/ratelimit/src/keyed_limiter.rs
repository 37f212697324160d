//! A GCRA limit per key, in bounded memory.

use std::hash::Hash;

use crate::gcra::Gcra;
use crate::moment::TimeFloor;
use crate::{BoundedMap, Moment, RateLimit, RateLimited};

/// One [`RateLimit`] applied to each key separately: new connections per source, requests per
/// source, requests per device.
///
/// Keys must be canonical: the limiter cannot know that `AA-BB-..` and `aabb..` are one phone, so
/// the caller passes a type in which they are equal (an `IpPrefix`, a parsed MAC). At most
/// `capacity` keys are tracked; the least recently used one is forgotten to make room, which only
/// ever hands that key a fresh budget.
#[derive(Debug, Clone)]
pub struct KeyedLimiter<K> {
    limit: RateLimit,
    cells: BoundedMap<K, Gcra>,
    floor: TimeFloor,
}

impl<K: Hash + Eq + Clone> KeyedLimiter<K> {
    /// A limiter applying `limit` to each of at most `capacity` keys.
    pub fn new(limit: RateLimit, capacity: usize) -> Self {
        Self { limit, cells: BoundedMap::new(capacity), floor: TimeFloor::default() }
    }

    /// The limit applied to each key.
    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Admits one event for `key` at `now`, or refuses it. A refusal consumes nothing, so a
    /// client hammering a closed door does not push its own reopening further away.
    pub fn check(&mut self, key: &K, now: Moment) -> Result<(), RateLimited> {
        let now = self.floor.observe(now);
        if let Some(cell) = self.cells.get_mut(key) {
            return cell.check(self.limit, now);
        }
        let mut cell = Gcra::default();
        cell.check(self.limit, now)?;
        self.cells.insert(key.clone(), cell);
        Ok(())
    }

    /// What [`check`](Self::check) would answer, without admitting anything.
    pub fn would_admit(&self, key: &K, now: Moment) -> Result<(), RateLimited> {
        let now = self.floor.peek(now);
        let cell = self.cells.peek(key).copied().unwrap_or_default();
        cell.evaluate(self.limit, now).map(drop)
    }

    /// The earliest moment a check for `key` would be admitted (the epoch for an unknown key).
    pub fn earliest_admission(&self, key: &K) -> Moment {
        self.cells.peek(key).map_or(Moment::ZERO, |cell| cell.earliest_admission(self.limit))
    }

    /// Forgets `key` (its budget becomes full). Returns whether it was tracked.
    pub fn forget(&mut self, key: &K) -> bool {
        self.cells.remove(key).is_some()
    }

    /// Forgets every key whose budget is full again at `now`, since its state equals a fresh one.
    /// Returns how many were dropped.
    pub fn forget_idle(&mut self, now: Moment) -> usize {
        let now = self.floor.observe(now);
        let before = self.cells.len();
        self.cells.retain(|_, cell| !cell.is_idle(now));
        before - self.cells.len()
    }

    /// Keys tracked now.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The most keys tracked at once.
    pub fn capacity(&self) -> usize {
        self.cells.capacity()
    }
}
