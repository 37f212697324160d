//! Identity rules: one per certificate layout, each reading the MAC from where that layout keeps it.

mod cn_mac;
mod subject;

use std::fmt;
use std::str::FromStr;

use crate::{DeviceIdentity, NoIdentity};

/// A certificate layout sipprov knows how to read an identity from.
///
/// Each trust anchor is bound to exactly one rule, so a CA can only vouch for devices in the
/// layout its vendor uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IdentityRule {
    /// `cn-mac`: the subject has exactly one commonName and it is the MAC (any common spelling),
    /// e.g. `CN=0004F28B54F4`. Used by the sipprov demo PKI and by private device CAs.
    CnMac,
}

impl IdentityRule {
    /// Every rule, in the order `auto` would try them.
    pub const ALL: &'static [IdentityRule] = &[IdentityRule::CnMac];

    /// The rule's name as written in configuration files and on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            IdentityRule::CnMac => "cn-mac",
        }
    }

    /// Reads the identity of the device named by `certificate` (DER), or says why there is none.
    ///
    /// The certificate must already have been verified against a trust anchor bound to this
    /// rule: this function establishes *which* device it names, not *whether* to trust it.
    pub fn identify(self, certificate: &[u8]) -> Result<DeviceIdentity, NoIdentity> {
        let cert = subject::ParsedCertificate::parse(certificate)?;
        match self {
            IdentityRule::CnMac => cn_mac::identify(&cert),
        }
    }
}

impl fmt::Display for IdentityRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for IdentityRule {
    type Err = UnknownRule;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.iter().copied().find(|rule| rule.name() == s).ok_or_else(|| UnknownRule(s.chars().take(64).collect()))
    }
}

/// A rule name that is not one of [`IdentityRule::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown identity rule {0:?} (known: cn-mac)")]
pub struct UnknownRule(String);
