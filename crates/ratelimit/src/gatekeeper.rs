//! The one object the server holds: every limit, the scan detector and the bans, behind `&self`.

use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use crate::{
    ActiveBan, AddressGrouping, Allowlist, BanList, BanRecord, BoundedMap, CapReached, ConcurrencyCap, Error,
    InFlightCap, InFlightPermit, IpPrefix, KeyedLimiter, KeyedPermit, LoadReport, MissKind, Moment, NewBan, Policy,
    ScanDetector, ScanOutcome, lock,
};

/// Why a connection or request was turned away. The server closes the connection (before TLS)
/// or answers the request with its generic refusal; the variant is for logs and metrics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GateRefusal {
    /// The address, or a network containing it, is banned.
    #[error("{key} is banned")]
    Banned {
        /// The banned key that matched.
        key: IpPrefix,
        /// When the ban ends.
        until: Moment,
    },
    /// Too many new connections from this source.
    #[error("too many new connections from {client}; retry after {retry_after:?}")]
    ConnectionRate {
        /// The source.
        client: IpPrefix,
        /// When a new connection would be admitted.
        retry_after: Duration,
    },
    /// Too many connections open at once from this source.
    #[error("{client} already has {limit} connections open")]
    TooManyConnections {
        /// The source.
        client: IpPrefix,
        /// The per-source cap.
        limit: u32,
    },
    /// So many sources hold connections that tracking another would exceed the memory bound.
    #[error("{max} sources already hold connections")]
    TooManySources {
        /// The bound.
        max: usize,
    },
    /// The server is already performing as many TLS handshakes as it allows.
    #[error("{limit} TLS handshakes already in progress")]
    HandshakesBusy {
        /// The global cap.
        limit: u32,
    },
    /// This source, or its network, already has as many TLS handshakes in progress as it may.
    #[error("{key} already has {limit} TLS handshakes in progress")]
    SourceHandshakesBusy {
        /// The source or network at its cap.
        key: IpPrefix,
        /// Its cap.
        limit: u32,
    },
    /// Too many requests from this source.
    #[error("too many requests from {client}; retry after {retry_after:?}")]
    RequestRate {
        /// The source.
        client: IpPrefix,
        /// When a request would be admitted.
        retry_after: Duration,
    },
    /// Too many requests from this device.
    #[error("too many requests from one device; retry after {retry_after:?}")]
    DeviceRate {
        /// When a request would be admitted.
        retry_after: Duration,
    },
}

/// A connection admitted by [`Gatekeeper::admit_connection`]. Hold it for the connection's life:
/// dropping it frees the source's connection slot.
#[derive(Debug)]
#[must_use = "the connection is counted only while its permit is held"]
pub struct ConnectionPermit {
    client: IpPrefix,
    network: IpPrefix,
    _slot: KeyedPermit<IpPrefix>,
}

impl ConnectionPermit {
    /// The source the connection counts against.
    pub fn client(&self) -> IpPrefix {
        self.client
    }
}

/// A place among the TLS handshakes in flight, granted by [`Gatekeeper::admit_handshake`]:
/// globally, for the source and for its network. Drop it when the handshake completes, fails
/// or times out.
#[derive(Debug)]
#[must_use = "the handshake is counted only while its permit is held"]
pub struct HandshakePermit {
    _global: InFlightPermit,
    _network: KeyedPermit<IpPrefix>,
    _source: KeyedPermit<IpPrefix>,
}

/// How many keys each table holds now, for metrics and for proving the memory bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Occupancy {
    /// Sources in the connection-rate table.
    pub connection_sources: usize,
    /// Sources in the request-rate table.
    pub request_sources: usize,
    /// Devices in the request-rate table.
    pub devices: usize,
    /// Devices remembered as refused, each weighing one miss per window.
    pub refused_devices: usize,
    /// Sources holding open connections.
    pub connected_sources: usize,
    /// TLS handshakes in progress.
    pub handshakes_in_flight: u32,
    /// Sources in the scan detector.
    pub scan_sources: usize,
    /// Networks in the scan detector.
    pub scan_networks: usize,
    /// Bans stored (including expired ones not yet purged).
    pub bans: usize,
    /// Past offenders remembered.
    pub offenders: usize,
}

/// Every defence of this crate in one thread-safe object, generic over the device key `D` (the
/// server uses its canonical MAC type).
///
/// Call order for a phone: [`admit_connection`](Self::admit_connection) right after `accept()`,
/// [`admit_handshake`](Self::admit_handshake) before TLS (the permit dropped when it ends),
/// [`admit_request`](Self::admit_request) per request, [`record`](Self::record) with each
/// outcome (persist and audit the ban it may return).
/// Each table has its own short-held lock.
#[derive(Debug)]
pub struct Gatekeeper<D> {
    grouping: AddressGrouping,
    allowlist: Allowlist,
    connection_rate: Mutex<KeyedLimiter<IpPrefix>>,
    request_rate: Mutex<KeyedLimiter<IpPrefix>>,
    device_rate: Mutex<KeyedLimiter<D>>,
    connections: ConcurrencyCap<IpPrefix>,
    handshakes: InFlightCap,
    source_handshakes: ConcurrencyCap<IpPrefix>,
    network_handshakes: ConcurrencyCap<IpPrefix>,
    detector: Mutex<ScanDetector>,
    /// When each device was last counted as refused, so a phone retrying on its schedule weighs
    /// one miss per window.
    refused_devices: Mutex<BoundedMap<D, Moment>>,
    refused_window: Duration,
    bans: Mutex<BanList>,
}

impl<D: Hash + Eq + Clone> Gatekeeper<D> {
    /// A gatekeeper applying `policy`, with no bans yet (restore them with
    /// [`load_bans`](Self::load_bans)).
    pub fn new(policy: Policy) -> Result<Self, Error> {
        policy.validate()?;
        let Policy {
            connections_per_source,
            requests_per_source,
            requests_per_device,
            max_connections_per_source,
            max_handshakes_in_flight,
            max_handshakes_per_source,
            max_handshakes_per_network,
            scan,
            bans,
            grouping,
            allowlist,
            capacity,
        } = policy;
        Ok(Self {
            grouping,
            allowlist: allowlist.clone(),
            connection_rate: Mutex::new(KeyedLimiter::new(connections_per_source, capacity.sources)),
            request_rate: Mutex::new(KeyedLimiter::new(requests_per_source, capacity.sources)),
            device_rate: Mutex::new(KeyedLimiter::new(requests_per_device, capacity.devices)),
            connections: ConcurrencyCap::new(max_connections_per_source, capacity.connected_sources),
            handshakes: InFlightCap::new(max_handshakes_in_flight),
            source_handshakes: ConcurrencyCap::new(max_handshakes_per_source, capacity.connected_sources),
            network_handshakes: ConcurrencyCap::new(max_handshakes_per_network, capacity.connected_sources),
            detector: Mutex::new(ScanDetector::new(scan, grouping, capacity.sources, capacity.networks)),
            refused_devices: Mutex::new(BoundedMap::new(capacity.devices)),
            refused_window: scan.source.window,
            bans: Mutex::new(BanList::new(allowlist, bans, capacity.bans, capacity.offenders)),
        })
    }

    /// Decides on a new connection from `ip`, right after `accept()` and before any TLS work:
    /// ban list, per-source connection cap, per-source connection rate. The rate is checked
    /// last, so a connection refused for any reason consumes no budget.
    pub fn admit_connection(&self, ip: IpAddr, now: Moment) -> Result<ConnectionPermit, GateRefusal> {
        self.refuse_if_banned(ip, now)?;
        let client = self.grouping.source_of(ip);
        let slot = self.connections.acquire(&client).map_err(|reached| match reached {
            CapReached::PerKey { limit } => GateRefusal::TooManyConnections { client, limit },
            CapReached::Keys { max } => GateRefusal::TooManySources { max },
        })?;
        lock(&self.connection_rate)
            .check(&client, now)
            .map_err(|limited| GateRefusal::ConnectionRate { client, retry_after: limited.retry_after })?;
        Ok(ConnectionPermit { client, network: self.grouping.network_of(ip), _slot: slot })
    }

    /// A place for an admitted connection's TLS handshake: the source's and its network's
    /// handshakes in flight are capped well below the overall cap, so a few sources stalling
    /// their handshakes cannot take every place from the phones of other networks; the overall
    /// cap is for a real storm.
    ///
    /// A refusal here is "not yet": the server may wait for a place (within the handshake
    /// deadline) and ask again, so the phones of one office booting at once are served in turn
    /// rather than turned away.
    pub fn admit_handshake(&self, connection: &ConnectionPermit) -> Result<HandshakePermit, GateRefusal> {
        let busy = |key: IpPrefix, reached: CapReached| match reached {
            CapReached::PerKey { limit } => GateRefusal::SourceHandshakesBusy { key, limit },
            CapReached::Keys { max } => GateRefusal::TooManySources { max },
        };
        let (client, network) = (connection.client, connection.network);
        let source = self.source_handshakes.acquire(&client).map_err(|reached| busy(client, reached))?;
        let network = self.network_handshakes.acquire(&network).map_err(|reached| busy(network, reached))?;
        let global =
            self.handshakes.try_acquire().ok_or(GateRefusal::HandshakesBusy { limit: self.handshakes.limit() })?;
        Ok(HandshakePermit { _global: global, _network: network, _source: source })
    }

    /// Decides on one request from `ip`, made by `device` when its certificate proved one. Checks
    /// the ban list again (a ban imposed mid-connection stops a keep-alive connection), the
    /// source's request rate and the device's. Refused requests consume neither budget.
    pub fn admit_request(&self, ip: IpAddr, device: Option<&D>, now: Moment) -> Result<(), GateRefusal> {
        self.refuse_if_banned(ip, now)?;
        let client = self.grouping.source_of(ip);
        let request_rate =
            |limited: crate::RateLimited| GateRefusal::RequestRate { client, retry_after: limited.retry_after };
        // Lock order: source, then device. No other method holds both.
        let mut per_source = lock(&self.request_rate);
        per_source.would_admit(&client, now).map_err(request_rate)?;
        if let Some(device) = device {
            self.check_device_rate(device, now)?;
        }
        per_source.check(&client, now).map_err(request_rate)
    }

    /// The device's part of [`Gatekeeper::admit_request`], for a request whose source was
    /// admitted before its device was known: a listener that checks credentials admits the
    /// source first (every check costs a read), then learns the device. Checks the ban list
    /// again and the device's request rate; the source's budget is not taken a second time.
    pub fn admit_device_request(&self, ip: IpAddr, device: &D, now: Moment) -> Result<(), GateRefusal> {
        self.refuse_if_banned(ip, now)?;
        self.check_device_rate(device, now)
    }

    /// Takes one request from `device`'s budget, if it has one left.
    fn check_device_rate(&self, device: &D, now: Moment) -> Result<(), GateRefusal> {
        lock(&self.device_rate)
            .check(device, now)
            .map_err(|limited| GateRefusal::DeviceRate { retry_after: limited.retry_after })
    }

    /// Feeds one outcome from `ip` to the scan detector. Returns the ban it caused, if any, for
    /// the server to persist ([`NewBan::record`]) and audit. Allowlisted addresses are not
    /// counted. Record what was served or refused by the application (404, mismatch, failed
    /// handshake), not requests this gatekeeper refused: those were never looked at.
    pub fn record(&self, ip: IpAddr, outcome: ScanOutcome, now: Moment) -> Option<NewBan> {
        if self.allowlist.contains(ip) {
            return None;
        }
        let verdict = lock(&self.detector).record(ip, outcome, now)?;
        lock(&self.bans).ban(verdict.key, verdict.to_string(), now)
    }

    /// Feeds a request for `device`'s own file that got the uniform refusal because of the
    /// device (not enrolled, disabled, dormant, another key): one miss per device per source
    /// window, however often it asks.
    ///
    /// Every such refusal weighs the same, so whether a ban follows says nothing about whether
    /// the device is enrolled; and a phone not yet enrolled, retrying on its schedule behind the
    /// same address as an office of enrolled phones, costs that office one miss per window. A
    /// scanner holding one certificate can claim only its one MAC; asking for other MACs' files
    /// is a MAC mismatch, which counts every time.
    pub fn record_refused_device(&self, ip: IpAddr, device: &D, now: Moment) -> Option<NewBan> {
        {
            let mut refused = lock(&self.refused_devices);
            if refused.peek(device).is_some_and(|last| now.saturating_since(*last) < self.refused_window) {
                return None;
            }
            refused.insert(device.clone(), now);
        }
        self.record(ip, ScanOutcome::Miss(MissKind::UnknownDevice), now)
    }

    /// Bans `key` by hand (an operator's decision), escalating like a detected scan. Returns
    /// `None` if the allowlist covers `key`.
    pub fn ban(&self, key: IpPrefix, reason: impl Into<String>, now: Moment) -> Option<NewBan> {
        lock(&self.bans).ban(key, reason, now)
    }

    /// The ban that refuses `ip` at `now`, if any.
    pub fn banned(&self, ip: IpAddr, now: Moment) -> Option<ActiveBan> {
        lock(&self.bans).banned(ip, now)
    }

    /// The bans in force at `now`, ordered by key.
    pub fn bans(&self, now: Moment) -> Vec<ActiveBan> {
        lock(&self.bans).active(now)
    }

    /// Lifts the ban on `key`, clears its offence history and its scan counters. Returns whether
    /// there was a ban.
    pub fn unban(&self, key: &IpPrefix) -> bool {
        lock(&self.detector).forget(key);
        lock(&self.bans).lift(key)
    }

    /// Restores persisted bans (see [`BanList::load`]).
    pub fn load_bans(&self, records: impl IntoIterator<Item = BanRecord>, now: Moment, unix_now: i64) -> LoadReport {
        lock(&self.bans).load(records, now, unix_now)
    }

    /// Housekeeping for a periodic job: drops expired bans and rate-limit entries whose budget is
    /// full again. Returns how many bans expired.
    pub fn purge(&self, now: Moment) -> usize {
        lock(&self.connection_rate).forget_idle(now);
        lock(&self.request_rate).forget_idle(now);
        lock(&self.device_rate).forget_idle(now);
        let window = self.refused_window;
        lock(&self.refused_devices).retain(|_, last| now.saturating_since(*last) < window);
        lock(&self.bans).purge_expired(now)
    }

    /// The source `ip` counts as (its key in limits and source bans).
    pub fn source_of(&self, ip: IpAddr) -> IpPrefix {
        self.grouping.source_of(ip)
    }

    /// How many keys each table holds now.
    pub fn occupancy(&self) -> Occupancy {
        let (connection_sources, request_sources, devices) =
            (lock(&self.connection_rate).len(), lock(&self.request_rate).len(), lock(&self.device_rate).len());
        let (scan_sources, scan_networks) = {
            let detector = lock(&self.detector);
            (detector.tracked_sources(), detector.tracked_networks())
        };
        let (bans, offenders) = {
            let bans = lock(&self.bans);
            (bans.len(), bans.offenders())
        };
        Occupancy {
            connection_sources,
            request_sources,
            devices,
            refused_devices: lock(&self.refused_devices).len(),
            connected_sources: self.connections.keys(),
            handshakes_in_flight: self.handshakes.in_use(),
            scan_sources,
            scan_networks,
            bans,
            offenders,
        }
    }

    fn refuse_if_banned(&self, ip: IpAddr, now: Moment) -> Result<(), GateRefusal> {
        match self.banned(ip, now) {
            Some(ban) => Err(GateRefusal::Banned { key: ban.key, until: ban.until }),
            None => Ok(()),
        }
    }
}
