//! Addresses and networks that are never banned.

use std::net::IpAddr;

use crate::{Error, IpPrefix};

/// Addresses and networks (IPv4 and IPv6, CIDR) that are never banned and never counted by the
/// scan detector: the provider's own monitoring, large offices known by address. Rate limits and
/// concurrency caps still apply to them, because those protect the server rather than judge the
/// client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist {
    prefixes: Vec<IpPrefix>,
}

impl Allowlist {
    /// An allowlist of `prefixes`.
    pub fn new(prefixes: impl IntoIterator<Item = IpPrefix>) -> Self {
        Self { prefixes: prefixes.into_iter().collect() }
    }

    /// Reads entries such as `192.0.2.7`, `198.51.100.0/24`, `2001:db8:1::/48`. Fails on the first
    /// entry that is not a canonical address or prefix.
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<Self, Error> {
        entries.into_iter().map(str::parse).collect::<Result<Vec<_>, _>>().map(|prefixes| Self { prefixes })
    }

    /// Whether `ip` (in any spelling) is allowlisted.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.prefixes.iter().any(|prefix| prefix.contains(ip))
    }

    /// Whether every address of `prefix` is allowlisted, so banning it would ban nothing.
    pub fn covers(&self, prefix: &IpPrefix) -> bool {
        self.prefixes.iter().any(|allowed| allowed.covers(prefix))
    }

    /// The entries.
    pub fn prefixes(&self) -> &[IpPrefix] {
        &self.prefixes
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.prefixes.is_empty()
    }
}
