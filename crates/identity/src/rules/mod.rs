//! Identity rules: one per certificate layout, each reading the MAC from where that layout keeps it.
//!
//! Every rule is strict: exactly one candidate MAC, or no identity with a precise reason.

mod attribute_rule;
mod cisco;
mod common_name;
mod found;
mod guess;
mod yealink;

use std::fmt;
use std::str::FromStr;

pub use attribute_rule::{AttributeRule, PatternError};

use crate::certificate::CertificateView;
use crate::{DeviceIdentity, NoIdentity};

/// A certificate layout sipprov knows how to read an identity from.
///
/// Each trust anchor is bound to exactly one rule, so a vendor's CA can only vouch for devices
/// in that vendor's layout.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdentityRule {
    /// `polycom`: Polycom / Poly (VVX, SoundPoint, Trio). The subject's one commonName is the MAC,
    /// uppercase: `CN=0004F28B54F4, O=Polycom Inc.`
    Polycom,
    /// `snom`: Snom D-series. The subject's one commonName is the MAC, case not guaranteed:
    /// `CN=000413AABBCC`.
    Snom,
    /// `yealink`: Yealink T4x/T5x/CP/VP/W. The MAC is the last 12 hex digits of the UUID-shaped
    /// serialNumber (2.5.4.5): `CN=yealink.com, serialNumber=ffffffff-ffff-ffff-fff0-001565000062`.
    /// The generic certificate Yealink puts on phones without a unique one carries no such
    /// serialNumber, or an all-zero / all-F MAC part, and yields no identity.
    Yealink,
    /// `cisco-mic`: Cisco enterprise phones' Manufacturing Installed Certificate.
    /// `CN=<PID>-SEP<MAC>`, `serialNumber=PID:<model> SN:<serial>`:
    /// `serialNumber=PID:CP-8861 SN:FCH2133E8B9, O=Cisco Systems Inc., OU=CTG, CN=CP-8861-SEP2C3124C9F8E1`.
    CiscoMic,
    /// `cisco-mpp`: Cisco MPP / SPA (3PCC) phones. MAC in stateOrProvinceName (2.5.4.8), serial in
    /// localityName (2.5.4.7), product in OU: `OU=CP-8841-3PCC, L=88012BA01234, S=000e08abcdef`.
    /// The generic certificate (`OU=cisco.com, L=ciscogeneric, S=ciscogeneric`) yields no identity.
    CiscoMpp,
    /// `cn-mac`: the subject's one commonName is the MAC (any common spelling). For private device
    /// CAs and the sipprov demo PKI.
    CnMac,
    /// `attribute`: a configured rule for vendors not built in: one subject attribute, matched
    /// against a pattern holding `{mac}`.
    Attribute(AttributeRule),
}

impl IdentityRule {
    /// The built-in rules, by name.
    pub const BUILT_IN: &'static [IdentityRule] = &[
        IdentityRule::Polycom,
        IdentityRule::Snom,
        IdentityRule::Yealink,
        IdentityRule::CiscoMic,
        IdentityRule::CiscoMpp,
        IdentityRule::CnMac,
    ];

    /// The rule's name as written in configuration files and on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            IdentityRule::Polycom => "polycom",
            IdentityRule::Snom => "snom",
            IdentityRule::Yealink => "yealink",
            IdentityRule::CiscoMic => "cisco-mic",
            IdentityRule::CiscoMpp => "cisco-mpp",
            IdentityRule::CnMac => "cn-mac",
            IdentityRule::Attribute(_) => "attribute",
        }
    }

    /// The vendor the rule reports in [`DeviceIdentity::vendor`].
    pub fn vendor(&self) -> &str {
        match self {
            IdentityRule::Polycom => "polycom",
            IdentityRule::Snom => "snom",
            IdentityRule::Yealink => "yealink",
            IdentityRule::CiscoMic | IdentityRule::CiscoMpp => "cisco",
            IdentityRule::CnMac => "generic",
            IdentityRule::Attribute(rule) => rule.vendor(),
        }
    }

    /// Reads the identity of the device named by `certificate` (DER), or says why there is none.
    ///
    /// The certificate must already have been verified against a trust anchor bound to this
    /// rule: this function establishes *which* device it names, not *whether* to trust it
    /// (see [`TrustStore`](crate::TrustStore) for both).
    pub fn identify(&self, certificate: &[u8]) -> Result<DeviceIdentity, NoIdentity> {
        self.identify_parsed(&CertificateView::parse(certificate)?)
    }

    /// [`IdentityRule::identify`] on a certificate already parsed.
    pub(crate) fn identify_parsed(&self, cert: &CertificateView<'_>) -> Result<DeviceIdentity, NoIdentity> {
        let found = match self {
            IdentityRule::Polycom | IdentityRule::Snom | IdentityRule::CnMac => common_name::identify(cert)?,
            IdentityRule::Yealink => yealink::identify(cert)?,
            IdentityRule::CiscoMic => cisco::identify_mic(cert)?,
            IdentityRule::CiscoMpp => cisco::identify_mpp(cert)?,
            IdentityRule::Attribute(rule) => rule.identify(cert)?,
        };
        Ok(DeviceIdentity {
            mac: found.mac,
            vendor: self.vendor().to_owned(),
            serial: found.serial,
            model: found.model,
            spki_sha256: cert.spki_sha256(),
        })
    }
}

impl fmt::Display for IdentityRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for IdentityRule {
    type Err = UnknownRule;

    /// Parses a built-in rule name. (`attribute` rules need an attribute and a pattern: build
    /// them with [`AttributeRule::new`].)
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::BUILT_IN
            .iter()
            .find(|rule| rule.name() == s)
            .cloned()
            .ok_or_else(|| UnknownRule(crate::error::excerpt(s)))
    }
}

/// A rule name that is not one of [`IdentityRule::BUILT_IN`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown identity rule {0:?} (built in: polycom, snom, yealink, cisco-mic, cisco-mpp, cn-mac)")]
pub struct UnknownRule(String);
