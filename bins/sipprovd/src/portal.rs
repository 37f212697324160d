//! `[portal]`: the softphone portal's listener, where end users see their softphone's password
//! once or set it up from a one-time QR link (off unless given).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::bail;
use serde::Deserialize;
use sipprov_admin::PortalLinks;
use sipprov_portal::{DEFAULT_ACTIVATION_TTL, DEFAULT_LINK_TTL, SecondFactor};

/// The `[portal]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalSection {
    /// Its address: a port of its own.
    pub listen: SocketAddr,
    /// Where users and softphones reach it, `https://host[:port]` (the links it makes start
    /// with it; softphones check the certificate's name against this host).
    pub public_url: String,
    /// PEM certificate chain [default: the phone listener's]. Browsers and softphones verify
    /// it: a certificate from a CA they trust.
    pub certificate: Option<PathBuf>,
    /// Its private key [default: the phone listener's].
    pub key: Option<PathBuf>,
    /// The service's name on every page [default: `sipprov`].
    #[serde(default = "default_brand")]
    pub brand: String,
    /// Minutes a provisioning link works [default: 15].
    #[serde(default = "default_link_minutes")]
    pub link_minutes: u64,
    /// Hours an activation link works [default: 72].
    #[serde(default = "default_activation_hours")]
    pub activation_hours: u64,
    /// A TOTP code after the password: `off`, `optional` (users may set one up) or `required`
    /// (every user sets one up at the first login) [default: optional].
    #[serde(default = "default_second_factor")]
    pub second_factor: String,
}

fn default_second_factor() -> String {
    "optional".into()
}

fn default_brand() -> String {
    "sipprov".into()
}

fn default_link_minutes() -> u64 {
    DEFAULT_LINK_TTL.as_secs() / 60
}

fn default_activation_hours() -> u64 {
    DEFAULT_ACTIVATION_TTL.as_secs() / 3600
}

impl PortalSection {
    /// Makes relative certificate and key paths relative to `base`.
    pub fn resolve(&mut self, base: &Path) {
        for file in [&mut self.certificate, &mut self.key].into_iter().flatten() {
            if file.is_relative() {
                *file = base.join(&*file);
            }
        }
    }

    /// Checks what can be checked without reading files.
    pub fn check(&self) -> anyhow::Result<()> {
        let host = self.public_url.strip_prefix("https://").unwrap_or_default();
        if host.is_empty() || host.contains(['/', '?', '#', '@']) || host.chars().any(char::is_whitespace) {
            bail!("[portal] public_url {:?} must be https://host[:port], nothing after", self.public_url);
        }
        if !(1..=24 * 60).contains(&self.link_minutes) {
            bail!("[portal] link_minutes must be 1 to 1440");
        }
        if !(1..=30 * 24).contains(&self.activation_hours) {
            bail!("[portal] activation_hours must be 1 to 720");
        }
        if self.brand.trim().is_empty() || self.brand.len() > 100 || self.brand.chars().any(char::is_control) {
            bail!("[portal] brand must be 1 to 100 printable characters");
        }
        if SecondFactor::from_name(&self.second_factor).is_none() {
            bail!("[portal] second_factor {:?} must be off, optional or required", self.second_factor);
        }
        if self.certificate.is_some() != self.key.is_some() {
            bail!("[portal] certificate and key go together");
        }
        Ok(())
    }

    /// Whether logins ask for a TOTP code (checked by [`PortalSection::check`]).
    pub fn second_factor(&self) -> SecondFactor {
        SecondFactor::from_name(&self.second_factor).unwrap_or_default()
    }

    /// The links the admin API hands out.
    pub fn links(&self) -> PortalLinks {
        PortalLinks {
            public_url: self.public_url.clone(),
            activation_ttl: Duration::from_secs(self.activation_hours * 3600),
            link_ttl: Duration::from_secs(self.link_minutes * 60),
        }
    }
}
