//! Addresses and networks as one canonical key type, so every spelling of a client counts once.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use ipnet::IpNet;

use crate::Error;

/// The address a client really has: an IPv4 address seen on a dual-stack socket as
/// `::ffff:192.0.2.7` is `192.0.2.7`, so switching socket family earns no second budget.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// An address (`192.0.2.7`) or a network (`192.0.2.0/24`, `2001:db8::/64`), always in canonical
/// form: host bits cleared, IPv4-mapped IPv6 turned into IPv4. Limits, scan counters and bans are
/// all keyed by it, and its text form is the key the server persists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpPrefix {
    network: IpAddr,
    len: u8,
}

impl IpPrefix {
    /// The network of length `len` that contains `ip` (host bits are cleared).
    ///
    /// Fails if `len` exceeds the family's width (32 for IPv4, 128 for IPv6).
    pub fn new(ip: IpAddr, len: u8) -> Result<Self, Error> {
        if len > family_width(ip) {
            return Err(Error::invalid_prefix(&format!("{ip}/{len}"), "the prefix length exceeds the address width"));
        }
        Ok(Self::masked(ip, len))
    }

    /// The single address `ip`.
    pub fn host(ip: IpAddr) -> Self {
        Self::masked(ip, 128)
    }

    /// The network of length `len` (clamped to the family's width) that contains `ip`.
    pub(crate) fn masked(ip: IpAddr, len: u8) -> Self {
        match ip {
            IpAddr::V4(v4) => {
                let len = len.min(32);
                Self { network: IpAddr::V4(mask_v4(v4, len)), len }
            }
            IpAddr::V6(v6) => {
                let len = len.min(128);
                // A mapped prefix at least /96 long lies entirely inside the IPv4 space.
                if let Some(v4) = v6.to_ipv4_mapped()
                    && len >= 96
                {
                    return Self::masked(IpAddr::V4(v4), len - 96);
                }
                Self { network: IpAddr::V6(mask_v6(v6, len)), len }
            }
        }
    }

    /// The first address of the network (the address itself for a host).
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length in bits.
    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    /// Whether this names one address rather than a network.
    pub fn is_host(&self) -> bool {
        self.len == family_width(self.network)
    }

    /// Whether `ip` (in any spelling) lies in this network. An IPv6 network that spans the
    /// IPv4-mapped range (`::/0`, `::/64`) contains the IPv4 addresses mapped into it.
    pub fn contains(&self, ip: IpAddr) -> bool {
        Self::masked(self.comparable(ip), self.len).network == self.network
    }

    /// Whether every address of `other` lies in this network.
    pub fn covers(&self, other: &IpPrefix) -> bool {
        let other_len = match (self.network, other.network) {
            (IpAddr::V6(_), IpAddr::V4(_)) => other.len + 96,
            _ => other.len,
        };
        other_len >= self.len && self.contains(other.network)
    }

    /// `ip` in this prefix's family where it has a spelling in it (IPv4 as mapped IPv6 for an
    /// IPv6 network shorter than /96); otherwise canonical, which never matches across families.
    fn comparable(&self, ip: IpAddr) -> IpAddr {
        match (self.network, canonical_ip(ip)) {
            (IpAddr::V6(_), IpAddr::V4(v4)) if self.len < 96 => IpAddr::V6(v4.to_ipv6_mapped()),
            (_, ip) => ip,
        }
    }
}

impl fmt::Display for IpPrefix {
    /// An address prints bare (`192.0.2.7`), a network with its length (`2001:db8::/64`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_host() { write!(f, "{}", self.network) } else { write!(f, "{}/{}", self.network, self.len) }
    }
}

impl FromStr for IpPrefix {
    type Err = Error;

    /// Reads `192.0.2.7`, `192.0.2.0/24`, `2001:db8::/64` or `::ffff:192.0.2.7`. Strict: a network
    /// written with host bits set (`192.0.2.7/24`) is refused, since it is usually a typo for
    /// something else and an allowlist or ban must mean exactly what it says.
    fn from_str(text: &str) -> Result<Self, Error> {
        let Some((address, len)) = text.split_once('/') else {
            let ip: IpAddr = text.parse().map_err(|_| Error::invalid_prefix(text, "not an IP address"))?;
            return Ok(Self::host(ip));
        };
        address.parse::<IpAddr>().map_err(|_| Error::invalid_prefix(text, "not an IP address"))?;
        if parse_len(len).is_none() {
            return Err(Error::invalid_prefix(text, "the prefix length is not a number"));
        }
        let network: IpNet =
            text.parse().map_err(|_| Error::invalid_prefix(text, "the prefix length exceeds the address width"))?;
        if network.trunc() != network {
            return Err(Error::invalid_prefix(text, "host bits are set; write the network's first address"));
        }
        Ok(Self::masked(network.network(), network.prefix_len()))
    }
}

/// Decimal digits only, no sign, no leading zero: one spelling per length (stricter than
/// `ipnet`, which reads the rest).
fn parse_len(text: &str) -> Option<u8> {
    let digits_only = !text.is_empty() && text.len() <= 3 && text.bytes().all(|b| b.is_ascii_digit());
    let leading_zero = text.len() > 1 && text.starts_with('0');
    if digits_only && !leading_zero { text.parse().ok() } else { None }
}

fn family_width(ip: IpAddr) -> u8 {
    if ip.is_ipv4() { 32 } else { 128 }
}

fn mask_v4(address: Ipv4Addr, len: u8) -> Ipv4Addr {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    Ipv4Addr::from(u32::from(address) & mask)
}

fn mask_v6(address: Ipv6Addr, len: u8) -> Ipv6Addr {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    Ipv6Addr::from(u128::from(address) & mask)
}
