//! Caps on things in flight at once, held as permits: dropping a permit releases its place, so a
//! connection task that ends in any way (error, panic, timeout) cannot leak a slot.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::lock;

/// Why a [`ConcurrencyCap`] refused a permit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CapReached {
    /// This key already holds its limit.
    #[error("{limit} already in use for this key")]
    PerKey {
        /// The per-key limit.
        limit: u32,
    },
    /// The cap already tracks its most keys; admitting another would grow memory without bound.
    #[error("{max} keys already hold permits")]
    Keys {
        /// The most keys tracked at once.
        max: usize,
    },
}

/// At most `limit` permits per key at once (e.g. concurrent connections per source).
#[derive(Debug, Clone)]
pub struct ConcurrencyCap<K> {
    state: Arc<KeyedCounts<K>>,
}

#[derive(Debug)]
struct KeyedCounts<K> {
    per_key: u32,
    max_keys: usize,
    // Only keys with a live permit are present, so the map is bounded by live permits and by `max_keys`.
    in_use: Mutex<HashMap<K, u32>>,
}

impl<K: Hash + Eq + Clone> ConcurrencyCap<K> {
    /// A cap of `per_key` permits for each of at most `max_keys` keys at once.
    pub fn new(per_key: u32, max_keys: usize) -> Self {
        Self { state: Arc::new(KeyedCounts { per_key, max_keys, in_use: Mutex::new(HashMap::new()) }) }
    }

    /// A permit for `key`, if it holds fewer than its limit.
    pub fn acquire(&self, key: &K) -> Result<KeyedPermit<K>, CapReached> {
        let mut in_use = lock(&self.state.in_use);
        let held = in_use.get(key).copied().unwrap_or(0);
        if held >= self.state.per_key {
            return Err(CapReached::PerKey { limit: self.state.per_key });
        }
        if held == 0 && in_use.len() >= self.state.max_keys {
            return Err(CapReached::Keys { max: self.state.max_keys });
        }
        in_use.insert(key.clone(), held + 1);
        drop(in_use);
        Ok(KeyedPermit { state: Arc::clone(&self.state), key: key.clone() })
    }

    /// Permits `key` holds now.
    pub fn in_use(&self, key: &K) -> u32 {
        lock(&self.state.in_use).get(key).copied().unwrap_or(0)
    }

    /// Keys holding at least one permit.
    pub fn keys(&self) -> usize {
        lock(&self.state.in_use).len()
    }
}

/// One place under a [`ConcurrencyCap`]; released on drop.
#[derive(Debug)]
#[must_use = "the place is released as soon as the permit is dropped"]
pub struct KeyedPermit<K: Hash + Eq> {
    state: Arc<KeyedCounts<K>>,
    key: K,
}

impl<K: Hash + Eq> KeyedPermit<K> {
    /// The key this permit counts against.
    pub fn key(&self) -> &K {
        &self.key
    }
}

impl<K: Hash + Eq> Drop for KeyedPermit<K> {
    fn drop(&mut self) {
        let mut in_use = lock(&self.state.in_use);
        if let Some(held) = in_use.get_mut(&self.key) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                in_use.remove(&self.key);
            }
        }
    }
}

/// At most `limit` permits at once overall (e.g. TLS handshakes in flight).
#[derive(Debug, Clone)]
pub struct InFlightCap {
    state: Arc<InFlight>,
}

#[derive(Debug)]
struct InFlight {
    limit: u32,
    in_use: AtomicU32,
}

impl InFlightCap {
    /// A cap of `limit` permits at once.
    pub fn new(limit: u32) -> Self {
        Self { state: Arc::new(InFlight { limit, in_use: AtomicU32::new(0) }) }
    }

    /// A permit, if fewer than the limit are held.
    pub fn try_acquire(&self) -> Option<InFlightPermit> {
        let limit = self.state.limit;
        self.state
            .in_use
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| (held < limit).then_some(held + 1))
            .ok()
            .map(|_| InFlightPermit { state: Arc::clone(&self.state) })
    }

    /// Permits held now.
    pub fn in_use(&self) -> u32 {
        self.state.in_use.load(Ordering::Acquire)
    }

    /// The most permits held at once.
    pub fn limit(&self) -> u32 {
        self.state.limit
    }
}

/// One place under an [`InFlightCap`]; released on drop.
#[derive(Debug)]
#[must_use = "the place is released as soon as the permit is dropped"]
pub struct InFlightPermit {
    state: Arc<InFlight>,
}

impl Drop for InFlightPermit {
    fn drop(&mut self) {
        // Every permit added one, so this cannot underflow.
        self.state.in_use.fetch_sub(1, Ordering::AcqRel);
    }
}
