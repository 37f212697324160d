//! A map that never holds more than a fixed number of entries.
//!
//! Every keyed structure in this crate stores its state here, so a flood of unique keys (fresh
//! addresses, random MACs) costs the attacker evictions, never the server memory (threat 21).
//! When full, inserting a new key evicts the least recently used one: a client that keeps
//! knocking stays recently used, so an attacker cannot reset its own counters by flooding others
//! without also outpacing itself.

use std::collections::HashMap;
use std::hash::Hash;

/// Marks "no neighbour" in the recency list.
const NONE: usize = usize::MAX;

#[derive(Debug, Clone)]
struct Node<K, V> {
    key: K,
    value: V,
    newer: usize,
    older: usize,
}

/// A hash map with a capacity and least-recently-used eviction.
///
/// Entries live in one vector linked into a recency list by index, so every operation is O(1)
/// and memory is two allocations that never outgrow the capacity. Hashing uses the standard
/// library's randomly keyed hasher, so keys cannot be chosen to collide.
#[derive(Debug, Clone)]
pub struct BoundedMap<K, V> {
    slots: HashMap<K, usize>,
    nodes: Vec<Node<K, V>>,
    newest: usize,
    oldest: usize,
    capacity: usize,
}

impl<K: Hash + Eq + Clone, V> BoundedMap<K, V> {
    /// An empty map that will hold at most `capacity` entries (at least one).
    pub fn new(capacity: usize) -> Self {
        Self { slots: HashMap::new(), nodes: Vec::new(), newest: NONE, oldest: NONE, capacity: capacity.max(1) }
    }

    /// The most entries the map will hold.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Whether `key` is present (does not count as a use).
    pub fn contains_key(&self, key: &K) -> bool {
        self.slots.contains_key(key)
    }

    /// The value for `key`, without counting as a use.
    pub fn peek(&self, key: &K) -> Option<&V> {
        self.slots.get(key).map(|&slot| &self.nodes[slot].value)
    }

    /// The value for `key`, marking it most recently used.
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let slot = *self.slots.get(key)?;
        self.touch(slot);
        Some(&mut self.nodes[slot].value)
    }

    /// The value for `key`, inserting `make()` first if absent (which may evict the least recently
    /// used entry). Marks it most recently used.
    pub fn get_or_insert_with(&mut self, key: &K, make: impl FnOnce() -> V) -> &mut V {
        let slot = match self.slots.get(key) {
            Some(&slot) => {
                self.touch(slot);
                slot
            }
            None => self.insert_new(key.clone(), make()).0,
        };
        &mut self.nodes[slot].value
    }

    /// Sets `key` to `value` and marks it most recently used. Returns the entry evicted to make
    /// room, if any.
    pub fn insert(&mut self, key: K, value: V) -> Option<(K, V)> {
        if let Some(&slot) = self.slots.get(&key) {
            self.nodes[slot].value = value;
            self.touch(slot);
            return None;
        }
        self.insert_new(key, value).1
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let slot = *self.slots.get(key)?;
        Some(self.remove_at(slot).1)
    }

    /// Removes and returns the least recently used entry.
    pub fn pop_oldest(&mut self) -> Option<(K, V)> {
        (self.oldest != NONE).then(|| self.remove_at(self.oldest))
    }

    /// Keeps only the entries for which `keep` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        // Walking backwards, each swap_remove moves an already visited entry into the hole.
        for slot in (0..self.nodes.len()).rev() {
            let node = &mut self.nodes[slot];
            if !keep(&node.key, &mut node.value) {
                self.remove_at(slot);
            }
        }
    }

    /// The entries, most recently used first.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> + '_ {
        let mut at = self.newest;
        std::iter::from_fn(move || {
            let node = self.nodes.get(at)?;
            at = node.older;
            Some((&node.key, &node.value))
        })
    }

    fn insert_new(&mut self, key: K, value: V) -> (usize, Option<(K, V)>) {
        let evicted = if self.nodes.len() >= self.capacity { self.pop_oldest() } else { None };
        let slot = self.nodes.len();
        self.nodes.push(Node { key: key.clone(), value, newer: NONE, older: NONE });
        self.slots.insert(key, slot);
        self.link_newest(slot);
        (slot, evicted)
    }

    fn touch(&mut self, slot: usize) {
        if self.newest != slot {
            self.unlink(slot);
            self.link_newest(slot);
        }
    }

    fn link_newest(&mut self, slot: usize) {
        let previous_newest = self.newest;
        self.nodes[slot].newer = NONE;
        self.nodes[slot].older = previous_newest;
        if previous_newest == NONE {
            self.oldest = slot;
        } else {
            self.nodes[previous_newest].newer = slot;
        }
        self.newest = slot;
    }

    fn unlink(&mut self, slot: usize) {
        let Node { newer, older, .. } = self.nodes[slot];
        if newer == NONE {
            self.newest = older;
        } else {
            self.nodes[newer].older = older;
        }
        if older == NONE {
            self.oldest = newer;
        } else {
            self.nodes[older].newer = newer;
        }
    }

    fn remove_at(&mut self, slot: usize) -> (K, V) {
        self.unlink(slot);
        let node = self.nodes.swap_remove(slot);
        self.slots.remove(&node.key);
        if slot < self.nodes.len() {
            // The former last node now lives in `slot`: repoint its neighbours and its index entry.
            let Node { newer, older, .. } = self.nodes[slot];
            if newer == NONE {
                self.newest = slot;
            } else {
                self.nodes[newer].older = slot;
            }
            if older == NONE {
                self.oldest = slot;
            } else {
                self.nodes[older].newer = slot;
            }
            if let Some(index) = self.slots.get_mut(&self.nodes[slot].key) {
                *index = slot;
            }
        }
        (node.key, node.value)
    }
}
