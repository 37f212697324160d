//! Bans with expiry and escalation, keyed by source or network, and their persistent form.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use crate::moment::TimeFloor;
use crate::prefix::canonical_ip;
use crate::{Allowlist, BoundedMap, Error, IpPrefix, Moment};

/// How long bans last: `first` for a first offence, doubling with each repeat up to `max`. An
/// offender with no offence for `forget_after` starts again from `first`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BanEscalation {
    /// Duration of a first ban.
    pub first: Duration,
    /// The longest ban escalation reaches.
    pub max: Duration,
    /// A clean record for this long resets the escalation.
    pub forget_after: Duration,
}

impl BanEscalation {
    /// Duration of the ban for the `offence`-th offence (1 = first).
    pub fn duration_for(&self, offence: u32) -> Duration {
        let doublings = offence.saturating_sub(1).min(31);
        self.first.saturating_mul(1 << doublings).min(self.max)
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.first.is_zero() {
            return Err(Error::invalid_policy("bans.first", "a ban must last longer than zero"));
        }
        if self.max < self.first {
            return Err(Error::invalid_policy("bans.max", "the longest ban must be at least the first"));
        }
        Ok(())
    }
}

/// A ban just imposed: persist it (see [`record`](Self::record)) and audit it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewBan {
    /// What is banned.
    pub key: IpPrefix,
    /// Why, for operators and the audit log.
    pub reason: String,
    /// When it ends.
    pub until: Moment,
    /// How long it lasts from now.
    pub duration: Duration,
    /// Which offence this is for the key (1 = first), after which the duration was escalated.
    pub offence: u32,
}

impl NewBan {
    /// The persistent form, given the wall-clock time now in Unix seconds.
    pub fn record(&self, unix_now: i64) -> BanRecord {
        BanRecord {
            key: self.key.to_string(),
            reason: self.reason.clone(),
            until_unix: unix_now.saturating_add(whole_seconds_rounded_up(self.duration)),
        }
    }
}

/// A ban in force.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ActiveBan {
    /// What is banned.
    pub key: IpPrefix,
    /// Why.
    pub reason: String,
    /// When it ends.
    pub until: Moment,
    /// Which offence this is for the key (1 = first).
    pub offence: u32,
}

impl ActiveBan {
    /// The persistent form, given the time now both as a [`Moment`] and in Unix seconds.
    pub fn record(&self, now: Moment, unix_now: i64) -> BanRecord {
        BanRecord {
            key: self.key.to_string(),
            reason: self.reason.clone(),
            until_unix: unix_now.saturating_add(whole_seconds_rounded_up(self.until.saturating_since(now))),
        }
    }
}

/// A ban as plain data for persistence: the shape of the server's stored `Ban`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BanRecord {
    /// What is banned, as [`IpPrefix`] prints it: `192.0.2.7`, `192.0.2.0/24`, `2001:db8::/64`.
    pub key: String,
    /// Why.
    pub reason: String,
    /// When it ends, in seconds since the Unix epoch.
    pub until_unix: i64,
}

/// What [`BanList::load`] did with the records it was given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadReport {
    /// Bans now in force.
    pub loaded: usize,
    /// Records already expired, skipped.
    pub expired: usize,
    /// Records for allowlisted keys, skipped.
    pub allowlisted: usize,
    /// Records whose key could not be read, skipped, with why.
    pub invalid: Vec<(String, Error)>,
}

#[derive(Debug, Clone)]
struct BanEntry {
    reason: String,
    until: Moment,
    offence: u32,
}

#[derive(Debug, Clone, Copy)]
struct Offence {
    count: u32,
    last: Moment,
}

/// The bans in force, an offence history for escalation, and the allowlist that overrides both.
///
/// Bans are keyed by [`IpPrefix`] of any length, so an operator's ban on a /22 works as well as
/// the detector's on an address or a /24. A lookup masks the address only by the prefix lengths
/// actually in use. Both the bans and the offence history are bounded; when full, the least
/// recently imposed entry goes.
#[derive(Debug, Clone)]
pub struct BanList {
    allowlist: Allowlist,
    escalation: BanEscalation,
    bans: BoundedMap<IpPrefix, BanEntry>,
    // (is IPv6, prefix length) -> how many bans use it.
    lengths: BTreeMap<(bool, u8), usize>,
    offenders: BoundedMap<IpPrefix, Offence>,
    floor: TimeFloor,
}

impl BanList {
    /// An empty ban list holding at most `capacity` bans and remembering at most
    /// `offender_capacity` past offenders.
    pub fn new(allowlist: Allowlist, escalation: BanEscalation, capacity: usize, offender_capacity: usize) -> Self {
        Self {
            allowlist,
            escalation,
            bans: BoundedMap::new(capacity),
            lengths: BTreeMap::new(),
            offenders: BoundedMap::new(offender_capacity),
            floor: TimeFloor::default(),
        }
    }

    /// The allowlist.
    pub fn allowlist(&self) -> &Allowlist {
        &self.allowlist
    }

    /// Bans `key` for `reason`, for as long as its offence history dictates. Returns `None` when
    /// the allowlist covers the whole of `key`, or when `key` is banned already: one offence is
    /// one ban, however many more verdicts arrive while it is in force (requests already in
    /// flight when it was imposed cannot escalate it).
    pub fn ban(&mut self, key: IpPrefix, reason: impl Into<String>, now: Moment) -> Option<NewBan> {
        let now = self.floor.observe(now);
        if self.allowlist.covers(&key) || self.bans.peek(&key).is_some_and(|ban| ban.until > now) {
            return None;
        }
        let forget_after = self.escalation.forget_after;
        let history = self.offenders.get_or_insert_with(&key, || Offence { count: 0, last: now });
        if now.saturating_since(history.last) >= forget_after {
            history.count = 0;
        }
        history.count = history.count.saturating_add(1);
        history.last = now;
        let offence = history.count;

        let until = now.saturating_add(self.escalation.duration_for(offence));
        let reason = reason.into();
        self.insert(key, BanEntry { reason: reason.clone(), until, offence });
        Some(NewBan { key, reason, until, duration: until.saturating_since(now), offence })
    }

    /// The ban that refuses `ip` at `now`, if any. Allowlisted addresses are never refused, even
    /// inside a banned network.
    pub fn banned(&self, ip: IpAddr, now: Moment) -> Option<ActiveBan> {
        let now = self.floor.peek(now);
        let ip = canonical_ip(ip);
        if self.allowlist.contains(ip) {
            return None;
        }
        self.lengths.keys().find_map(|&(is_ipv6, len)| {
            let key = match ip {
                IpAddr::V6(_) if is_ipv6 => IpPrefix::masked(ip, len),
                IpAddr::V4(_) if !is_ipv6 => IpPrefix::masked(ip, len),
                // An IPv6 ban shorter than /96 (`::/0`) can span the mapped IPv4 range.
                IpAddr::V4(v4) if len < 96 => IpPrefix::masked(IpAddr::V6(v4.to_ipv6_mapped()), len),
                IpAddr::V4(_) | IpAddr::V6(_) => return None,
            };
            let entry = self.bans.peek(&key).filter(|entry| entry.until > now)?;
            Some(ActiveBan { key, reason: entry.reason.clone(), until: entry.until, offence: entry.offence })
        })
    }

    /// Lifts the ban on `key` and clears its offence history (an operator lifting a ban usually
    /// means it was a mistake). Returns whether there was a ban.
    pub fn lift(&mut self, key: &IpPrefix) -> bool {
        self.offenders.remove(key);
        let lifted = self.bans.remove(key).is_some();
        if lifted {
            self.forget_length(key);
        }
        lifted
    }

    /// The bans in force at `now`, ordered by key.
    pub fn active(&self, now: Moment) -> Vec<ActiveBan> {
        let now = self.floor.peek(now);
        let mut active: Vec<ActiveBan> = self
            .bans
            .iter()
            .filter(|(_, entry)| entry.until > now)
            .map(|(key, entry)| ActiveBan {
                key: *key,
                reason: entry.reason.clone(),
                until: entry.until,
                offence: entry.offence,
            })
            .collect();
        active.sort_by_key(|ban| ban.key);
        active
    }

    /// Restores persisted bans, given the time now both as a [`Moment`] and in Unix seconds. Each
    /// counts as one offence, so a repeat after a restart still escalates. Records that cannot be
    /// read are reported and skipped; the others still load, so one bad row cannot lift every ban.
    pub fn load(&mut self, records: impl IntoIterator<Item = BanRecord>, now: Moment, unix_now: i64) -> LoadReport {
        let now = self.floor.observe(now);
        let mut report = LoadReport::default();
        for record in records {
            let key: IpPrefix = match record.key.parse() {
                Ok(key) => key,
                Err(error) => {
                    report.invalid.push((record.key, error));
                    continue;
                }
            };
            let remaining = u64::try_from(record.until_unix.saturating_sub(unix_now)).unwrap_or(0);
            if remaining == 0 {
                report.expired += 1;
                continue;
            }
            if self.allowlist.covers(&key) {
                report.allowlisted += 1;
                continue;
            }
            let until = now.saturating_add(Duration::from_secs(remaining));
            let history = self.offenders.get_or_insert_with(&key, || Offence { count: 0, last: now });
            history.count = history.count.max(1);
            history.last = now;
            let offence = history.count;
            let kept_until = self.bans.peek(&key).map_or(until, |existing| existing.until.max(until));
            self.insert(key, BanEntry { reason: record.reason, until: kept_until, offence });
            report.loaded += 1;
        }
        report
    }

    /// Drops expired bans and offence histories older than the escalation's memory. Returns how
    /// many bans expired.
    pub fn purge_expired(&mut self, now: Moment) -> usize {
        let now = self.floor.observe(now);
        let before = self.bans.len();
        self.bans.retain(|_, entry| entry.until > now);
        let expired = before - self.bans.len();
        if expired > 0 {
            self.lengths.clear();
            let keys: Vec<IpPrefix> = self.bans.iter().map(|(key, _)| *key).collect();
            keys.iter().for_each(|key| self.remember_length(key));
        }
        let forget_after = self.escalation.forget_after;
        self.offenders.retain(|_, history| now.saturating_since(history.last) < forget_after);
        expired
    }

    /// Bans stored now, including expired ones not yet purged.
    pub fn len(&self) -> usize {
        self.bans.len()
    }

    /// Whether no ban is stored.
    pub fn is_empty(&self) -> bool {
        self.bans.is_empty()
    }

    /// Past offenders remembered for escalation.
    pub fn offenders(&self) -> usize {
        self.offenders.len()
    }

    fn insert(&mut self, key: IpPrefix, entry: BanEntry) {
        if let Some(existing) = self.bans.get_mut(&key) {
            *existing = entry;
            return;
        }
        if let Some((evicted, _)) = self.bans.insert(key, entry) {
            self.forget_length(&evicted);
        }
        self.remember_length(&key);
    }

    fn remember_length(&mut self, key: &IpPrefix) {
        *self.lengths.entry(length_of(key)).or_insert(0) += 1;
    }

    fn forget_length(&mut self, key: &IpPrefix) {
        let length = length_of(key);
        if let Some(count) = self.lengths.get_mut(&length) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.lengths.remove(&length);
            }
        }
    }
}

fn length_of(key: &IpPrefix) -> (bool, u8) {
    (key.network().is_ipv6(), key.prefix_len())
}

fn whole_seconds_rounded_up(duration: Duration) -> i64 {
    let seconds = duration.as_secs().saturating_add(u64::from(duration.subsec_nanos() > 0));
    i64::try_from(seconds).unwrap_or(i64::MAX)
}
