//! `[resync]`: how phones are asked to fetch their configuration now (SIP NOTIFY through the
//! registrar).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use serde::Deserialize;
use sipprov_admin::ResyncConfig;
use sipprov_resync::{Proxy, Resyncer, Timers, Transport, tls_config};

/// The `[resync]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResyncSection {
    /// The registrar NOTIFYs go through, `host:port` (hardened phones accept SIP only from it).
    pub proxy: String,
    /// `udp`, `tcp` or `tls` [default: udp].
    #[serde(default = "default_transport")]
    pub transport: String,
    /// The proxy's CA (PEM), for `tls`.
    pub ca_file: Option<PathBuf>,
    /// The `From` of each NOTIFY [default: `sip:provisioning@<[sip] realm>`].
    pub from: Option<String>,
    /// NOTIFYs started per second, at most [default: 20]: a site re-syncs without a storm of
    /// phones fetching at once.
    #[serde(default = "default_per_second")]
    pub per_second: u32,
    /// NOTIFYs waiting for their answer at once, at most [default: 32].
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Ask a device to fetch its configuration as soon as the admin API changed it (`PATCH
    /// /v1/devices/{mac}`) [default: false].
    #[serde(default)]
    pub after_update: bool,
}

fn default_transport() -> String {
    "udp".into()
}

fn default_per_second() -> u32 {
    20
}

fn default_concurrency() -> usize {
    32
}

impl ResyncSection {
    /// Makes a relative `ca_file` relative to `base`.
    pub fn resolve(&mut self, base: &Path) {
        if let Some(file) = &mut self.ca_file
            && file.is_relative()
        {
            *file = base.join(&*file);
        }
    }

    /// What the admin API sends NOTIFYs with; `realm` and `registrar_host` from `[sip]`.
    pub fn config(&self, realm: &str, registrar_host: &str) -> anyhow::Result<ResyncConfig> {
        let transport = Transport::from_name(&self.transport)
            .with_context(|| format!("[resync] transport {:?}: udp, tcp or tls", self.transport))?;
        let (host, port) = split_host_port(&self.proxy)
            .with_context(|| format!("[resync] proxy {:?} must be host:port", self.proxy))?;
        let tls = match (transport, &self.ca_file) {
            (Transport::Tls, Some(file)) => {
                let pem = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
                Some(Arc::new(tls_config(&pem).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?))
            }
            (Transport::Tls, None) => bail!("[resync] transport tls needs ca_file, the proxy's CA"),
            (_, Some(_)) => bail!("[resync] ca_file is for transport tls"),
            (_, None) => None,
        };
        if !(1..=1000).contains(&self.per_second) || !(1..=1000).contains(&self.concurrency) {
            bail!("[resync] per_second and concurrency are 1 to 1000");
        }
        let from = self.from.clone().unwrap_or_else(|| format!("sip:provisioning@{realm}"));
        if !from.starts_with("sip:") || from.contains(['<', '>', '\r', '\n', ' ']) {
            bail!("[resync] from {from:?} must be a plain sip: URI");
        }
        let resyncer = Resyncer {
            proxy: Proxy { host, port, transport, tls },
            from,
            timers: Timers::default(),
            per_second: self.per_second,
            concurrency: self.concurrency,
        };
        Ok(ResyncConfig { resyncer, domain: registrar_host.to_owned(), after_update: self.after_update })
    }
}

/// `host` and `port` of `host:port` (`[v6]:port` too).
fn split_host_port(address: &str) -> Option<(String, u16)> {
    let (host, port) = address.rsplit_once(':')?;
    let host = host.strip_prefix('[').and_then(|host| host.strip_suffix(']')).unwrap_or(host);
    (!host.is_empty() && !host.contains(['/', ' '])).then(|| Some((host.to_owned(), port.parse().ok()?)))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(text: &str) -> ResyncSection {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn the_section_becomes_a_resyncer_or_says_what_is_wrong() {
        let config = section("proxy = \"127.0.0.1:5060\"").config("sip.example.net", "sip.example.net").unwrap();
        assert_eq!(config.resyncer.proxy.address(), "127.0.0.1:5060");
        assert_eq!(config.resyncer.from, "sip:provisioning@sip.example.net");
        assert_eq!((config.resyncer.per_second, config.resyncer.concurrency), (20, 32));
        let error = |text: &str| format!("{:#}", section(text).config("r", "h").unwrap_err());
        assert!(error("proxy = \"sip.example.net\"").contains("host:port"));
        assert!(error("proxy = \"h:5061\"\ntransport = \"tls\"").contains("needs ca_file"));
        assert!(error("proxy = \"h:5060\"\ntransport = \"sctp\"").contains("udp, tcp or tls"));
        assert!(error("proxy = \"h:5060\"\nfrom = \"<sip:x>\"").contains("plain sip: URI"));
        assert!(error("proxy = \"h:5060\"\nper_second = 0").contains("1 to 1000"));
        assert_eq!(split_host_port("[2001:db8::1]:5060"), Some(("2001:db8::1".into(), 5060)));
    }
}
