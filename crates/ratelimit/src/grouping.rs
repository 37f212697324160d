//! Which addresses count as one client, and which clients as one network.

use std::net::IpAddr;

use crate::{Error, IpPrefix};

/// How addresses are grouped into *sources* (the unit of per-client limits and bans) and
/// *networks* (the unit of distributed-scan detection).
///
/// IPv4: a source is one address (a NAT'd office is one address, so per-source limits are sized
/// for a whole office), a network is its /24. IPv6: a source is a /64, because a /64 is one LAN
/// and whoever holds one can use any of its 2^64 addresses; keying by /128 would let a single
/// attacker mint unlimited fresh budgets. Its network is the /48 a site is usually given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressGrouping {
    /// Prefix length of an IPv4 source (default 32).
    pub ipv4_source_len: u8,
    /// Prefix length of an IPv4 network (default 24).
    pub ipv4_network_len: u8,
    /// Prefix length of an IPv6 source (default 64).
    pub ipv6_source_len: u8,
    /// Prefix length of an IPv6 network (default 48).
    pub ipv6_network_len: u8,
}

impl Default for AddressGrouping {
    fn default() -> Self {
        Self { ipv4_source_len: 32, ipv4_network_len: 24, ipv6_source_len: 64, ipv6_network_len: 48 }
    }
}

impl AddressGrouping {
    /// The source `ip` belongs to (IPv4-mapped addresses are IPv4).
    pub fn source_of(&self, ip: IpAddr) -> IpPrefix {
        self.group(ip, self.ipv4_source_len, self.ipv6_source_len)
    }

    /// The network `ip` belongs to.
    pub fn network_of(&self, ip: IpAddr) -> IpPrefix {
        self.group(ip, self.ipv4_network_len, self.ipv6_network_len)
    }

    fn group(&self, ip: IpAddr, ipv4_len: u8, ipv6_len: u8) -> IpPrefix {
        let host = IpPrefix::host(ip);
        let len = if host.network().is_ipv4() { ipv4_len } else { ipv6_len };
        IpPrefix::masked(host.network(), len)
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.ipv4_source_len > 32 || self.ipv6_source_len > 128 {
            return Err(Error::invalid_policy("grouping", "a source prefix is longer than the address width"));
        }
        if self.ipv4_network_len > self.ipv4_source_len || self.ipv6_network_len > self.ipv6_source_len {
            return Err(Error::invalid_policy(
                "grouping",
                "a network prefix must not be longer than its source prefix",
            ));
        }
        Ok(())
    }
}
