//! Every setting of the limiter, with defaults sized for a provider of 100,000 phones behind
//! NAT'd offices. The crate docs show the arithmetic.

use std::time::Duration;

use crate::{AddressGrouping, Allowlist, BanEscalation, Error, MissRule, RateLimit, ScanPolicy};

/// Every limit, threshold and capacity of a [`Gatekeeper`](crate::Gatekeeper).
///
/// Start from [`Policy::default`] and change fields; [`Policy::validate`] (run by
/// `Gatekeeper::new`) refuses settings that would make a limit meaningless.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Policy {
    /// New connections per source. Default: burst 800, then 4 per second.
    pub connections_per_source: RateLimit,
    /// Requests per source. Default: burst 2,000, then 20 per second.
    pub requests_per_source: RateLimit,
    /// Requests per device (the MAC its certificate proves). Default: burst 30, then one per 6 s.
    pub requests_per_device: RateLimit,
    /// Connections open at once per source. Default: 256.
    pub max_connections_per_source: u32,
    /// TLS handshakes in progress at once, across all clients. Default: 512.
    pub max_handshakes_in_flight: u32,
    /// TLS handshakes in progress at once from one source. Default: 64, well below the global
    /// cap, so a source stalling its handshakes cannot hold every slot.
    pub max_handshakes_per_source: u32,
    /// TLS handshakes in progress at once from one network (IPv4 /24, IPv6 /48). Default: 128.
    pub max_handshakes_per_network: u32,
    /// Scan detection thresholds.
    pub scan: ScanPolicy,
    /// Ban durations.
    pub bans: BanEscalation,
    /// What counts as one source and one network.
    pub grouping: AddressGrouping,
    /// Never banned, never counted by the scan detector.
    pub allowlist: Allowlist,
    /// Most keys each table holds.
    pub capacity: Capacity,
}

/// The most keys each table holds; together they bound the limiter's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    /// Sources, in each of the connection-rate, request-rate and scan tables. Default: 100,000.
    pub sources: usize,
    /// Devices in the per-device request-rate table. Default: 200,000 (twice the fleet).
    pub devices: usize,
    /// Networks in the scan table. Default: 50,000.
    pub networks: usize,
    /// Sources holding open connections. Default: 50,000.
    pub connected_sources: usize,
    /// Bans in force. Default: 100,000.
    pub bans: usize,
    /// Past offenders remembered for escalation. Default: 100,000.
    pub offenders: usize,
}

impl Default for Capacity {
    fn default() -> Self {
        Self {
            sources: 100_000,
            devices: 200_000,
            networks: 50_000,
            connected_sources: 50_000,
            bans: 100_000,
            offenders: 100_000,
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            // A 200-phone office rebooting at once opens 200 connections, or 800 from phones that
            // open one per file: inside the burst. A flood from one address then gets 4/s.
            connections_per_source: RateLimit::preset(800, Duration::from_millis(250)),
            // 200 phones x ~5 files = 1,000 requests: half the burst.
            requests_per_source: RateLimit::preset(2_000, Duration::from_millis(50)),
            // A phone fetches 4-6 files per boot; 30 covers several boots in a row (a boot loop,
            // a firmware update), then 10 a minute.
            requests_per_device: RateLimit::preset(30, Duration::from_secs(6)),
            max_connections_per_source: 256,
            max_handshakes_in_flight: 512,
            // A handshake takes a few round trips: even 200 phones of one office booting within a
            // second rarely hold more than a few dozen at once. Those over the cap wait for a
            // place (the server polls `admit_handshake`) within the handshake deadline.
            max_handshakes_per_source: 64,
            max_handshakes_per_network: 128,
            scan: ScanPolicy {
                source: MissRule {
                    window: Duration::from_secs(10 * 60),
                    min_misses: 50,
                    miss_ratio_percent: 50,
                    max_misses: 500,
                },
                network: MissRule {
                    window: Duration::from_secs(60 * 60),
                    min_misses: 100,
                    miss_ratio_percent: 50,
                    max_misses: 2_000,
                },
                network_min_sources: 8,
            },
            bans: BanEscalation {
                first: Duration::from_secs(10 * 60),
                max: Duration::from_secs(24 * 60 * 60),
                forget_after: Duration::from_secs(7 * 24 * 60 * 60),
            },
            grouping: AddressGrouping::default(),
            allowlist: Allowlist::default(),
            capacity: Capacity::default(),
        }
    }
}

impl Policy {
    /// Refuses settings that would make a limit meaningless: zero caps or capacities, windows
    /// under a second, a ratio over 100 %, a network longer than its source.
    pub fn validate(&self) -> Result<(), Error> {
        if self.max_connections_per_source == 0 {
            return Err(Error::invalid_policy("max_connections_per_source", "must be at least 1"));
        }
        if self.max_handshakes_in_flight == 0 {
            return Err(Error::invalid_policy("max_handshakes_in_flight", "must be at least 1"));
        }
        if self.max_handshakes_per_source == 0 || self.max_handshakes_per_source > self.max_handshakes_per_network {
            return Err(Error::invalid_policy(
                "max_handshakes_per_source",
                "must be at least 1 and at most max_handshakes_per_network",
            ));
        }
        if self.max_handshakes_per_network > self.max_handshakes_in_flight {
            return Err(Error::invalid_policy(
                "max_handshakes_per_network",
                "must be at most max_handshakes_in_flight",
            ));
        }
        self.scan.source.validate("scan.source")?;
        self.scan.network.validate("scan.network")?;
        if !(1..=256).contains(&self.scan.network_min_sources) {
            return Err(Error::invalid_policy("scan.network_min_sources", "must be 1 to 256"));
        }
        self.bans.validate()?;
        self.grouping.validate()?;
        let Capacity { sources, devices, networks, connected_sources, bans, offenders } = self.capacity;
        if [sources, devices, networks, connected_sources, bans, offenders].contains(&0) {
            return Err(Error::invalid_policy("capacity", "every table must hold at least one key"));
        }
        Ok(())
    }
}
