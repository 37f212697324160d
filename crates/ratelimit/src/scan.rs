//! Scan detection: misses per source and per network over sliding windows.
//!
//! A scanner guessing MAC-named files produces misses (unknown paths, MAC mismatches, unknown
//! devices, refused handshakes) where a phone produces hits. Counting misses per source catches a
//! burst from one address; counting them per network, together with how many of its sources
//! miss, catches the slow sweep spread over many addresses that stays under every per-source
//! threshold (threat 20).

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use crate::moment::TimeFloor;
use crate::window::{SlidingWindow, Tally};
use crate::{AddressGrouping, BoundedMap, Error, IpPrefix, Moment};

/// What became of one request or handshake, as the server classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScanOutcome {
    /// A legitimate result: a phone got its file.
    Hit,
    /// Something a phone with a correct configuration does not do.
    Miss(MissKind),
}

/// The kind of a miss; carried into the ban reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MissKind {
    /// A path that is no vendor file this server serves.
    UnknownPath,
    /// A device file for a MAC other than the certificate's.
    MacMismatch,
    /// A device file for a MAC not in the inventory, or a request without a usable certificate.
    UnknownDevice,
    /// A TLS handshake that failed or was refused.
    HandshakeRefused,
    /// A connection whose handshake completed but which sent no request: it held a handshake
    /// slot and a connection slot for nothing.
    NoRequest,
}

impl MissKind {
    /// A stable lowercase name, for reasons and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            MissKind::UnknownPath => "unknown-path",
            MissKind::MacMismatch => "mac-mismatch",
            MissKind::UnknownDevice => "unknown-device",
            MissKind::HandshakeRefused => "handshake-refused",
            MissKind::NoRequest => "no-request",
        }
    }
}

impl fmt::Display for MissKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When misses over one window amount to a scan.
///
/// The rule trips when `misses >= max_misses` whatever the hits (so padding misses with hits buys
/// a bounded number of guesses), or when `misses >= min_misses` and misses make up more than
/// `miss_ratio_percent` of all outcomes (so a pure sweep is caught early while a busy office with
/// the odd miss is not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissRule {
    /// The sliding window the counts cover.
    pub window: Duration,
    /// Misses needed before the ratio is considered.
    pub min_misses: u32,
    /// The share of misses, in percent of all outcomes, that must be exceeded.
    pub miss_ratio_percent: u8,
    /// Misses that trip the rule regardless of the ratio.
    pub max_misses: u32,
}

impl MissRule {
    fn tripped(&self, tally: Tally) -> bool {
        let misses = u64::from(tally.misses);
        let outcomes = misses + u64::from(tally.hits);
        tally.misses >= self.max_misses
            || (tally.misses >= self.min_misses && misses * 100 > u64::from(self.miss_ratio_percent) * outcomes)
    }

    pub(crate) fn validate(&self, setting: &'static str) -> Result<(), Error> {
        if self.window < Duration::from_secs(1) {
            return Err(Error::invalid_policy(setting, "the window must be at least one second"));
        }
        if self.min_misses == 0 || self.max_misses == 0 {
            return Err(Error::invalid_policy(setting, "miss thresholds must be at least 1"));
        }
        if self.miss_ratio_percent > 100 {
            return Err(Error::invalid_policy(setting, "the miss ratio is a percentage (0-100)"));
        }
        Ok(())
    }
}

/// The scan detector's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanPolicy {
    /// Applied to each source (an IPv4 address, an IPv6 /64).
    pub source: MissRule,
    /// Applied to each network (an IPv4 /24, an IPv6 /48), once misses come from at least
    /// `network_min_sources` of its sources.
    pub network: MissRule,
    /// Distinct missing sources a network needs before its rule applies, so one bad address
    /// (caught by its own rule) does not get its neighbours banned.
    pub network_min_sources: u32,
}

/// Whether a verdict is about one source or a whole network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scope {
    /// One source.
    Source,
    /// A network with several missing sources.
    Network,
}

/// The detector's finding that a source or network is scanning; the caller turns it into a ban.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScanVerdict {
    /// What to ban.
    pub key: IpPrefix,
    /// Whether `key` is a source or a network.
    pub scope: Scope,
    /// Misses counted in the window.
    pub misses: u32,
    /// Outcomes (hits and misses) counted in the window.
    pub outcomes: u32,
    /// Distinct sources seen missing: 1 for a source verdict; for a network verdict, the
    /// policy's `network_min_sources` (the detector counts no further than it needs to).
    pub sources: u32,
    /// The window the counts cover.
    pub window: Duration,
    /// The miss that tripped the rule.
    pub last_miss: MissKind,
}

impl fmt::Display for ScanVerdict {
    /// The ban reason: what was counted, over what window.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { misses, outcomes, window, last_miss, .. } = self;
        let window = window.as_secs();
        match self.scope {
            Scope::Source => {
                write!(f, "scan: {misses} misses in {outcomes} requests within {window}s (last: {last_miss})")
            }
            Scope::Network => write!(
                f,
                "distributed scan: {misses} misses in {outcomes} requests from at least {} addresses within {window}s (last: {last_miss})",
                self.sources
            ),
        }
    }
}

#[derive(Debug, Clone, Default)]
struct SourceActivity {
    window: SlidingWindow,
}

#[derive(Debug, Clone, Default)]
struct NetworkActivity {
    window: SlidingWindow,
    /// The distinct sources seen missing, with their latest miss: at most `network_min_sources`
    /// are kept, which is all the rule needs to know. A source is one entry however much it
    /// misses, and stays one across its own ban.
    missing: Vec<(IpPrefix, Moment)>,
}

impl NetworkActivity {
    /// Notes a miss from `source` and returns how many distinct sources missed within `window`
    /// (counting at most `cap`).
    fn missing_source(&mut self, source: IpPrefix, now: Moment, window: Duration, cap: usize) -> u32 {
        self.missing.retain(|(_, at)| now.saturating_since(*at) < window);
        if let Some(entry) = self.missing.iter_mut().find(|(key, _)| *key == source) {
            entry.1 = now;
        } else if self.missing.len() < cap {
            self.missing.push((source, now));
        }
        self.sources()
    }

    fn sources(&self) -> u32 {
        u32::try_from(self.missing.len()).unwrap_or(u32::MAX)
    }
}

/// Counts hits and misses per source and per network and says when either looks like a scan.
///
/// Not synchronised: [`Gatekeeper`](crate::Gatekeeper) holds it behind a lock, and leaves
/// allowlisted addresses out before recording. Memory is bounded by the two capacities.
#[derive(Debug, Clone)]
pub struct ScanDetector {
    policy: ScanPolicy,
    grouping: AddressGrouping,
    sources: BoundedMap<IpPrefix, SourceActivity>,
    networks: BoundedMap<IpPrefix, NetworkActivity>,
    floor: TimeFloor,
}

impl ScanDetector {
    /// A detector tracking at most `source_capacity` sources and `network_capacity` networks.
    pub fn new(policy: ScanPolicy, grouping: AddressGrouping, source_capacity: usize, network_capacity: usize) -> Self {
        Self {
            policy,
            grouping,
            sources: BoundedMap::new(source_capacity),
            networks: BoundedMap::new(network_capacity),
            floor: TimeFloor::default(),
        }
    }

    /// Counts one outcome from `ip` at `now`. Returns a verdict when this miss completes a scan;
    /// the counts of the key it names start again from zero, so one scan yields one verdict.
    /// A network verdict takes precedence over a source verdict at the same time, since it
    /// covers it. A network's rule applies once `network_min_sources` distinct sources of it
    /// missed within its window.
    pub fn record(&mut self, ip: IpAddr, outcome: ScanOutcome, now: Moment) -> Option<ScanVerdict> {
        let now = self.floor.observe(now);
        let source = self.grouping.source_of(ip);
        let network = self.grouping.network_of(ip);
        let miss = match outcome {
            ScanOutcome::Hit => None,
            ScanOutcome::Miss(kind) => Some(kind),
        };
        let tally = Tally { hits: u32::from(miss.is_none()), misses: u32::from(miss.is_some()) };
        let ScanPolicy { source: source_rule, network: network_rule, network_min_sources } = self.policy;

        let activity = self.sources.get_or_insert_with(&source, SourceActivity::default);
        activity.window.add(now, source_rule.window, tally);
        let source_total = activity.window.total(now, source_rule.window);

        // With equal prefix lengths the source is the network, and its own rule covers it.
        let mut network_total = None;
        if network != source {
            let record = self.networks.get_or_insert_with(&network, NetworkActivity::default);
            record.window.add(now, network_rule.window, tally);
            let cap = usize::try_from(network_min_sources).unwrap_or(usize::MAX);
            let sources = match miss {
                Some(_) => record.missing_source(source, now, network_rule.window, cap),
                None => record.sources(),
            };
            network_total = Some((record.window.total(now, network_rule.window), sources));
        }

        // Only a miss can complete a scan: a hit never raises the count or the ratio.
        let last_miss = miss?;
        if let Some((total, sources)) = network_total
            && sources >= network_min_sources
            && network_rule.tripped(total)
        {
            self.networks.remove(&network);
            return Some(verdict(network, Scope::Network, total, sources, network_rule.window, last_miss));
        }
        if source_rule.tripped(source_total) {
            // The source's counts start again; the network still knows it as one of its sources.
            self.sources.remove(&source);
            return Some(verdict(source, Scope::Source, source_total, 1, source_rule.window, last_miss));
        }
        None
    }

    /// Drops the counters of `key` (a source or a network), e.g. when an operator lifts its ban.
    pub fn forget(&mut self, key: &IpPrefix) {
        self.sources.remove(key);
        self.networks.remove(key);
    }

    /// Sources tracked now.
    pub fn tracked_sources(&self) -> usize {
        self.sources.len()
    }

    /// Networks tracked now.
    pub fn tracked_networks(&self) -> usize {
        self.networks.len()
    }
}

fn verdict(
    key: IpPrefix,
    scope: Scope,
    total: Tally,
    sources: u32,
    window: Duration,
    last_miss: MissKind,
) -> ScanVerdict {
    ScanVerdict {
        key,
        scope,
        misses: total.misses,
        outcomes: total.misses.saturating_add(total.hits),
        sources,
        window,
        last_miss,
    }
}
