//! When each device was last served, from where, by which client: fleet data, kept in memory and
//! written in batches.
//!
//! A provisioned phone polls every few hours; its poll changes no lifecycle state, so it must not
//! cost a durable write. What it reports (time, address, User-Agent) is kept here, one entry per
//! device, and written to the store in one transaction by [`Credentials::flush_sightings`]
//! (the server calls it every few seconds and at shutdown). A crash loses at most the facts
//! since the last flush; no lifecycle state is ever kept here.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use sipprov_identity::Mac;

use crate::lifecycle::FetchRequest;
use crate::{Credentials, CredentialsError, FleetFacts, LastSeen, Timestamp};

/// Where a device was last served from: the client facts of its latest fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighting {
    /// The device.
    pub mac: Mac,
    /// When, from where, by which client.
    pub seen: LastSeen,
    /// The vendor the certificate names, if the fetch said.
    pub certificate_vendor: Option<&'static str>,
    /// What the fetch reported for fleet reports: the rating when recorded, the rest filled in
    /// when flushed ([`Credentials::flush_sightings`]).
    pub facts: FleetFacts,
}

/// Sightings waiting to be written: the latest per device, at most [`SightingBuffer::CAPACITY`]
/// devices.
#[derive(Debug, Default)]
pub(crate) struct SightingBuffer {
    latest: Mutex<HashMap<Mac, Sighting>>,
    dropped: AtomicU64,
}

impl SightingBuffer {
    /// The most devices held between two flushes: five seconds of a storm at 50,000 phones a
    /// second. Beyond it, sightings of further devices are counted as dropped, not kept.
    pub(crate) const CAPACITY: usize = 262_144;

    /// The longest User-Agent kept; longer ones are cut (at a character boundary).
    const MAX_USER_AGENT: usize = 256;

    pub(crate) fn record(&self, mac: Mac, at: Timestamp, request: &FetchRequest) {
        let user_agent = request.user_agent.as_deref().map(|ua| truncate(ua, Self::MAX_USER_AGENT).to_owned());
        let sighting = Sighting {
            mac,
            seen: LastSeen { at, peer: request.peer.clone(), user_agent },
            certificate_vendor: request.certificate_vendor,
            facts: FleetFacts { rating: Some(request.rating), ..FleetFacts::default() },
        };
        self.keep(&mut self.lock(), sighting);
    }

    fn take(&self) -> Vec<Sighting> {
        std::mem::take(&mut *self.lock()).into_values().collect()
    }

    /// Puts back sightings a failed flush could not write, unless newer ones arrived meanwhile.
    fn restore(&self, sightings: Vec<Sighting>) {
        let mut latest = self.lock();
        for sighting in sightings {
            self.keep(&mut latest, sighting);
        }
    }

    /// Holds `sighting` unless a later one of its device is held, or the buffer is full.
    fn keep(&self, latest: &mut HashMap<Mac, Sighting>, sighting: Sighting) {
        if latest.len() >= Self::CAPACITY && !latest.contains_key(&sighting.mac) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        match latest.get_mut(&sighting.mac) {
            Some(held) if held.seen.at > sighting.seen.at => {}
            Some(held) => *held = sighting,
            None => {
                latest.insert(sighting.mac, sighting);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Mac, Sighting>> {
        // Only whole entries are inserted or replaced: a poisoned map is still consistent.
        self.latest.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn len(&self) -> usize {
        self.lock().len()
    }
}

fn truncate(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl Credentials {
    /// Writes the sightings held in memory to the store in one transaction; newer facts already
    /// stored are kept. `read` fills in what each sighting's User-Agent says (vendor, model,
    /// firmware, a contradiction of the certificate): run here, off the fetch's path, once per
    /// device per flush. Returns how many devices were written. On failure they stay in memory
    /// for the next flush.
    pub fn flush_sightings(&self, read: impl Fn(&Sighting) -> FleetFacts) -> Result<usize, CredentialsError> {
        let mut sightings = self.sightings.take();
        if sightings.is_empty() {
            return Ok(0);
        }
        for sighting in &mut sightings {
            let rating = sighting.facts.rating;
            sighting.facts = FleetFacts { rating, ..read(sighting) };
        }
        let count = sightings.len();
        match self.store.record_sightings(&sightings) {
            Ok(()) => Ok(count),
            Err(e) => {
                self.sightings.restore(sightings);
                Err(e.into())
            }
        }
    }

    /// Sightings held in memory, not yet flushed.
    pub fn unflushed_sightings(&self) -> usize {
        self.sightings.len()
    }

    /// Sightings not kept because the buffer was full (a flush did not keep up).
    pub fn dropped_sightings(&self) -> u64 {
        self.sightings.dropped.load(Ordering::Relaxed)
    }
}
