//! An in-memory [`Store`], for tests and for trying the lifecycle without a database.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use sipprov_identity::Mac;

use crate::{
    ApiToken, AuditEvent, AuditKind, AuditQuery, Ban, DeviceProfile, DeviceQuery, DeviceRecord, DeviceUpdate, Document,
    FleetFacts, FleetQuery, FleetRow, MAX_PENDING_KEYS, PendingDevice, PendingQuery, RegistrarEntry, RevealToken,
    Sealed, Sighting, Store, StoreError, StoredAuditEvent, Timestamp, TokenUse,
};

/// A [`Store`] in memory. Nothing is durable. [`MemoryStore::fail_audit_writes`] makes every
/// audit append fail, to test that a transition without its audit event does not happen;
/// [`MemoryStore::writes`] counts device and audit writes, to test that a read stays
/// a read.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    fail_audit: AtomicBool,
    writes: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    devices: BTreeMap<Mac, DeviceRecord>,
    /// Events with their ids, oldest first; ids are never reused, even after pruning.
    audit: Vec<(u64, AuditEvent)>,
    next_audit_id: u64,
    pending: BTreeMap<(Mac, [u8; 32]), PendingDevice>,
    bans: BTreeMap<String, Ban>,
    tokens: HashMap<[u8; 32], (RevealToken, bool)>,
    api_tokens: HashMap<[u8; 32], ApiToken>,
    /// Fleet facts per enrolled device, with the time its firmware was first reported.
    fleet: BTreeMap<Mac, (FleetFacts, Option<Timestamp>)>,
    documents: BTreeMap<String, Document>,
    /// The registrar outbox by (realm, user).
    registrar: BTreeMap<(String, String), RegistrarEntry>,
    next_registrar_seq: u64,
}

impl MemoryStore {
    /// While `fail` is set, every write that appends audit events fails and changes nothing.
    pub fn fail_audit_writes(&self, fail: bool) {
        self.fail_audit.store(fail, Ordering::SeqCst);
    }

    /// How many times a device record was written (inserted, updated, deleted) or an audit
    /// event appended: the writes a durable store would commit.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every mutation below completes before anything can panic, so a poisoned state is whole.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn check_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        if !events.is_empty() && self.fail_audit.load(Ordering::SeqCst) {
            return Err(StoreError::Backend("audit write failed (injected)".into()));
        }
        Ok(())
    }
}

impl State {
    fn append(&mut self, events: impl IntoIterator<Item = AuditEvent>) {
        for mut event in events {
            for change in std::mem::take(&mut event.registrar) {
                self.next_registrar_seq += 1;
                let key = (change.realm.clone(), change.user.clone());
                self.registrar.insert(key, RegistrarEntry { change, seq: self.next_registrar_seq, pushed: false });
            }
            crate::log_committed(std::slice::from_ref(&event));
            self.next_audit_id += 1;
            self.audit.push((self.next_audit_id, event));
        }
    }
}

impl Store for MemoryStore {
    fn insert_device(&self, record: DeviceRecord, events: Vec<AuditEvent>) -> Result<bool, StoreError> {
        let mut state = self.state();
        if state.devices.contains_key(&record.mac) {
            return Ok(false);
        }
        self.check_audit(&events)?;
        self.writes.fetch_add(1, Ordering::SeqCst);
        state.pending.retain(|(mac, _), _| *mac != record.mac);
        state.devices.insert(record.mac, record);
        state.append(events);
        Ok(true)
    }

    fn device(&self, mac: &Mac) -> Result<Option<DeviceRecord>, StoreError> {
        Ok(self.state().devices.get(mac).cloned())
    }

    fn update_device(&self, mac: &Mac, update: DeviceUpdate) -> Result<Option<DeviceRecord>, StoreError> {
        let mut state = self.state();
        let Some(stored) = state.devices.get(mac) else { return Ok(None) };
        // Work on a copy: an abort, or a failed audit write, leaves the stored record untouched.
        let mut device = stored.clone();
        let events = update(&mut device).map_err(|abort| StoreError::Aborted(abort.0))?;
        self.check_audit(&events)?;
        self.writes.fetch_add(1, Ordering::SeqCst);
        state.devices.insert(*mac, device.clone());
        state.append(events);
        Ok(Some(device))
    }

    fn delete_device(&self, mac: &Mac, event: AuditEvent) -> Result<bool, StoreError> {
        let mut state = self.state();
        if !state.devices.contains_key(mac) {
            return Ok(false);
        }
        self.check_audit(std::slice::from_ref(&event))?;
        state.devices.remove(mac);
        state.fleet.remove(mac);
        state.append([event]);
        Ok(true)
    }

    fn devices(&self, query: &DeviceQuery) -> Result<Vec<DeviceRecord>, StoreError> {
        let state = self.state();
        Ok(state.devices.values().filter(|d| query.matches(d)).take(query.limit).cloned().collect())
    }

    fn devices_with_secrets(&self, after: Option<Mac>, limit: usize) -> Result<Vec<Mac>, StoreError> {
        let state = self.state();
        Ok(state
            .devices
            .values()
            .filter(|d| d.secrets.is_some() && after.is_none_or(|after| d.mac > after))
            .map(|d| d.mac)
            .take(limit)
            .collect())
    }

    fn append_audit(&self, events: Vec<AuditEvent>) -> Result<(), StoreError> {
        self.check_audit(&events)?;
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.state().append(events);
        Ok(())
    }

    fn audit(&self, query: &AuditQuery) -> Result<Vec<StoredAuditEvent>, StoreError> {
        let state = self.state();
        let matching = state.audit.iter().filter(|(id, event)| query.matches(*id, event));
        let stored = |(id, event): &(u64, AuditEvent)| StoredAuditEvent { id: *id, event: event.clone() };
        Ok(if query.newest_first {
            matching.collect::<Vec<_>>().into_iter().rev().take(query.limit).map(stored).collect()
        } else {
            matching.take(query.limit).map(stored).collect()
        })
    }

    fn record_pending(&self, sighting: PendingDevice, event: AuditEvent) -> Result<(), StoreError> {
        self.check_audit(std::slice::from_ref(&event))?;
        let mut state = self.state();
        let key = (sighting.mac, sighting.spki_sha256);
        let keys = state.pending.keys().filter(|(mac, _)| *mac == sighting.mac).count();
        if state.pending.contains_key(&key) || keys < MAX_PENDING_KEYS {
            let entry = state.pending.entry(key).or_insert_with(|| PendingDevice { count: 0, ..sighting.clone() });
            entry.last_seen = sighting.last_seen;
            entry.vendor = sighting.vendor;
            entry.count += 1;
        }
        state.append([event]);
        Ok(())
    }

    fn pending(&self, query: &PendingQuery) -> Result<Vec<PendingDevice>, StoreError> {
        Ok(self.state().pending.values().filter(|p| query.matches(p)).take(query.limit).cloned().collect())
    }

    fn record_sightings(&self, sightings: &[Sighting]) -> Result<(), StoreError> {
        let mut guard = self.state();
        let state = &mut *guard;
        let before = (state.devices.clone(), state.fleet.clone());
        let mut alerts = Vec::new();
        for sighting in sightings {
            let Some(device) = state.devices.get_mut(&sighting.mac) else { continue };
            if device.last_seen.as_ref().is_some_and(|seen| seen.at > sighting.seen.at) {
                continue;
            }
            device.last_seen = Some(sighting.seen.clone());
            let (facts, since) = state.fleet.entry(sighting.mac).or_default();
            let new = &sighting.facts;
            if new.mismatch.is_some() && new.mismatch != facts.mismatch {
                let detail = new.mismatch.clone().unwrap_or_default();
                alerts.push(AuditEvent::new(sighting.seen.at, sighting.mac, AuditKind::UaMismatch, detail));
            }
            if new.firmware.is_some() && new.firmware != facts.firmware {
                *since = Some(sighting.seen.at);
            }
            *facts = FleetFacts {
                rating: new.rating,
                vendor: new.vendor.clone().or(facts.vendor.take()),
                model: new.model.clone().or(facts.model.take()),
                firmware: new.firmware.clone().or(facts.firmware.take()),
                mismatch: new.mismatch.clone(),
            };
        }
        if let Err(e) = self.check_audit(&alerts) {
            // Nothing of the batch may stay when its alert cannot be written: put it all back.
            (state.devices, state.fleet) = before;
            return Err(e);
        }
        state.append(alerts);
        Ok(())
    }

    fn fleet(&self, query: &FleetQuery) -> Result<Vec<FleetRow>, StoreError> {
        let state = self.state();
        let rows = state.devices.values().map(|device| {
            let (facts, firmware_since) = state.fleet.get(&device.mac).cloned().unwrap_or_default();
            FleetRow {
                mac: device.mac,
                profile: DeviceProfile {
                    vendor: device.profile.vendor.clone(),
                    model: device.profile.model.clone(),
                    site: device.profile.site.clone(),
                    ..DeviceProfile::default()
                },
                state: device.state.name(),
                disabled: device.disabled,
                enrolled_at: device.enrolled_at,
                last_seen: device.last_seen.as_ref().map(|seen| seen.at),
                facts,
                firmware_since,
            }
        });
        Ok(rows.filter(|row| query.matches(row)).take(query.limit).collect())
    }

    fn document(&self, name: &str) -> Result<Option<Document>, StoreError> {
        Ok(self.state().documents.get(name).cloned())
    }

    fn put_document(&self, name: &str, expected: u64, body: &str, events: Vec<AuditEvent>) -> Result<bool, StoreError> {
        crate::check_document(name, expected, body)?;
        self.check_audit(&events)?;
        let mut state = self.state();
        if state.documents.get(name).map_or(0, |document| document.version) != expected {
            return Ok(false);
        }
        state.documents.insert(name.to_owned(), Document { version: expected + 1, body: body.to_owned() });
        state.append(events);
        Ok(true)
    }

    fn prune_audit(&self, before: Timestamp, limit: usize) -> Result<usize, StoreError> {
        let mut state = self.state();
        let mut pruned = 0;
        state.audit.retain(|(_, event)| {
            let prune = pruned < limit && event.at < before;
            pruned += usize::from(prune);
            !prune
        });
        Ok(pruned)
    }

    fn put_ban(&self, ban: &Ban, event: AuditEvent) -> Result<(), StoreError> {
        self.check_audit(std::slice::from_ref(&event))?;
        let mut state = self.state();
        state.bans.insert(ban.key.clone(), ban.clone());
        state.append([event]);
        Ok(())
    }

    fn bans(&self, now: Timestamp) -> Result<Vec<Ban>, StoreError> {
        Ok(self.state().bans.values().filter(|ban| ban.until > now).cloned().collect())
    }

    fn remove_ban(&self, key: &str, event: AuditEvent) -> Result<bool, StoreError> {
        let mut state = self.state();
        if !state.bans.contains_key(key) {
            return Ok(false);
        }
        self.check_audit(std::slice::from_ref(&event))?;
        state.bans.remove(key);
        state.append([event]);
        Ok(true)
    }

    fn insert_api_token(&self, token: &ApiToken, event: AuditEvent) -> Result<(), StoreError> {
        self.check_audit(std::slice::from_ref(&event))?;
        let mut state = self.state();
        state.api_tokens.insert(token.hash, token.clone());
        state.append([event]);
        Ok(())
    }

    fn api_token(&self, hash: &[u8; 32]) -> Result<Option<ApiToken>, StoreError> {
        Ok(self.state().api_tokens.get(hash).cloned())
    }

    fn api_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        let mut tokens: Vec<ApiToken> = self.state().api_tokens.values().cloned().collect();
        tokens.sort_by_key(|token| (token.created_at, token.hash));
        Ok(tokens)
    }

    fn remove_api_token(&self, hash: &[u8; 32], event: AuditEvent) -> Result<bool, StoreError> {
        let mut state = self.state();
        if !state.api_tokens.contains_key(hash) {
            return Ok(false);
        }
        self.check_audit(std::slice::from_ref(&event))?;
        state.api_tokens.remove(hash);
        state.append([event]);
        Ok(true)
    }

    fn registrar_pending(&self, limit: usize) -> Result<Vec<RegistrarEntry>, StoreError> {
        let state = self.state();
        let mut pending: Vec<RegistrarEntry> =
            state.registrar.values().filter(|entry| !entry.pushed).cloned().collect();
        pending.sort_by_key(|entry| entry.seq);
        pending.truncate(limit);
        Ok(pending)
    }

    fn registrar_entries(
        &self,
        after: Option<(String, String)>,
        limit: usize,
    ) -> Result<Vec<RegistrarEntry>, StoreError> {
        let state = self.state();
        let entries = state.registrar.iter().filter(|(key, _)| after.as_ref().is_none_or(|after| *key > after));
        Ok(entries.take(limit).map(|(_, entry)| entry.clone()).collect())
    }

    fn registrar_pushed(&self, realm: &str, user: &str, seq: u64, events: Vec<AuditEvent>) -> Result<bool, StoreError> {
        self.check_audit(&events)?;
        let mut state = self.state();
        let key = (realm.to_owned(), user.to_owned());
        let current = state.registrar.get_mut(&key).filter(|entry| entry.seq == seq);
        let found = current.is_some();
        match current {
            Some(entry) if entry.change.ha1.is_none() => drop(state.registrar.remove(&key)),
            Some(entry) => entry.pushed = true,
            None => {}
        }
        state.append(events);
        Ok(found)
    }

    fn registrar_reseal(&self, realm: &str, user: &str, seq: u64, ha1: Sealed) -> Result<bool, StoreError> {
        let mut state = self.state();
        let key = (realm.to_owned(), user.to_owned());
        let Some(entry) = state.registrar.get_mut(&key).filter(|entry| entry.seq == seq && entry.change.ha1.is_some())
        else {
            return Ok(false);
        };
        entry.change.ha1 = Some(ha1);
        Ok(true)
    }

    fn compact(&self) -> Result<(), StoreError> {
        // Nothing outlives its removal in memory.
        Ok(())
    }

    fn insert_reveal_token(&self, token: &RevealToken) -> Result<(), StoreError> {
        self.state().tokens.insert(token.hash, (token.clone(), false));
        Ok(())
    }

    fn consume_reveal_token(&self, hash: &[u8; 32], now: Timestamp) -> Result<TokenUse, StoreError> {
        let mut state = self.state();
        let Some((token, used)) = state.tokens.get_mut(hash) else { return Ok(TokenUse::Unknown) };
        Ok(if *used {
            TokenUse::AlreadyUsed
        } else if now >= token.expires_at {
            TokenUse::Expired
        } else {
            *used = true;
            TokenUse::Valid(token.mac)
        })
    }
}
