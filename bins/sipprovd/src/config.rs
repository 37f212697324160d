//! The daemon's configuration file (`sipprov.toml`) and the server it describes.
//!
//! Relative paths in the file are resolved against the directory holding the file, so a config
//! directory can be moved as a whole.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use sipprov_credentials::{Credentials, Keyring, Lifecycle, SystemClock};
use sipprov_identity::{AttributeRule, IdentityRule, Oui, TrustStore, VendorTrust};
use sipprov_ratelimit::Allowlist;
use sipprov_server::{PhoneServerConfig, Timeouts};
use sipprov_store_sqlite::SqliteStore;
use sipprov_template::{Layer, LayeredSettings, Renderer};

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The phone listener.
    pub phones: PhonesSection,
    /// Trust in device certificates: one entry per vendor CA bundle.
    pub trust: Vec<TrustSection>,
    /// Where device records live.
    pub store: StoreSection,
    /// The credential lifecycle.
    #[serde(default)]
    pub lifecycle: LifecycleSection,
    /// What every account config points at.
    pub sip: SipSection,
    /// Settings every config is rendered with: the global layer. `provisioning_url` is required.
    pub settings: BTreeMap<String, String>,
    /// Where the vendor templates come from.
    #[serde(default)]
    pub templates: TemplatesSection,
}

/// `[templates]`: an operator's template directory, whose files replace the shipped ones.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplatesSection {
    /// Directory of override templates (`<vendor>/<file>`, as shipped); checked at start-up.
    pub overrides: Option<PathBuf>,
}

/// `[phones]`: the listener phones connect to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhonesSection {
    /// Address and port to listen on, e.g. `0.0.0.0:443`.
    pub listen: SocketAddr,
    /// PEM file with the server certificate chain, leaf first.
    pub certificate: PathBuf,
    /// PEM file with the server certificate's private key.
    pub key: PathBuf,
    /// When set, only these source networks (CIDRs) may connect at all, e.g. a PBX's own LAN.
    #[serde(default)]
    pub allow_sources: Option<Vec<String>>,
}

impl PhonesSection {
    /// The `allow_sources` list, parsed.
    fn allowed_sources(&self) -> anyhow::Result<Option<Allowlist>> {
        let Some(sources) = &self.allow_sources else { return Ok(None) };
        let allowed = Allowlist::parse(sources.iter().map(String::as_str)).context("[phones] allow_sources")?;
        if allowed.is_empty() {
            bail!("[phones] allow_sources is empty: no phone could connect (leave it out to allow any source)");
        }
        Ok(Some(allowed))
    }
}

/// `[[trust]]`: one vendor's device CAs, and how their certificates name the device.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustSection {
    /// PEM or DER file with one or more CA certificates.
    pub bundle: PathBuf,
    /// The identity rule the CA's device certificates follow: `polycom`, `snom`, `yealink`,
    /// `cisco-mic`, `cisco-mpp`, `cn-mac`, or `attribute` (with `vendor`, `attribute`, `pattern`).
    pub rule: String,
    /// Vendor MAC prefixes this CA may vouch for (e.g. `"00:15:65"`); empty: any.
    #[serde(default)]
    pub allowed_ouis: Vec<String>,
    /// For `rule = "attribute"`: the vendor name reported for its devices.
    pub vendor: Option<String>,
    /// For `rule = "attribute"`: the subject attribute holding the MAC (OID or `CN`, `serialNumber`, ...).
    pub attribute: Option<String>,
    /// For `rule = "attribute"`: the value's pattern, with `{mac}` once and `*` wildcards.
    pub pattern: Option<String>,
}

impl TrustSection {
    /// Reads the bundle and builds the vendor's trust.
    fn load(&self) -> anyhow::Result<VendorTrust> {
        let rule = match self.rule.as_str() {
            "attribute" => {
                let field = |value: &Option<String>, name: &str| {
                    value.clone().with_context(|| format!("rule \"attribute\" needs `{name}`"))
                };
                let rule = AttributeRule::new(
                    &field(&self.vendor, "vendor")?,
                    &field(&self.attribute, "attribute")?,
                    &field(&self.pattern, "pattern")?,
                )?;
                IdentityRule::Attribute(rule)
            }
            name => {
                if self.vendor.is_some() || self.attribute.is_some() || self.pattern.is_some() {
                    bail!("`vendor`, `attribute` and `pattern` belong to rule = \"attribute\" only");
                }
                name.parse()?
            }
        };
        let ouis = self.allowed_ouis.iter().map(|oui| oui.parse::<Oui>()).collect::<Result<Vec<_>, _>>()?;
        let bytes = std::fs::read(&self.bundle).with_context(|| format!("cannot read {}", self.bundle.display()))?;
        Ok(VendorTrust::from_bundle(&self.bundle.display().to_string(), &bytes, rule)?.with_allowed_ouis(ouis))
    }
}

/// `[store]`: the device database and the key that seals its secrets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// Path of the SQLite database file (created if missing).
    pub sqlite: PathBuf,
    /// Path of the sealing key file (`sipprovd keygen`). Keep it outside the database's
    /// directory and backups: with the database alone, no secret can be read.
    pub sealing_key: PathBuf,
}

/// `[lifecycle]`: how long secrets live.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleSection {
    /// Seconds after the first delivery during which the password is still served.
    #[serde(default = "default_grace_seconds")]
    pub grace_seconds: u64,
    /// Days issued secrets wait for a first fetch before the device goes dormant.
    #[serde(default = "default_dormant_days")]
    pub dormant_days: u64,
}

impl Default for LifecycleSection {
    fn default() -> Self {
        Self { grace_seconds: default_grace_seconds(), dormant_days: default_dormant_days() }
    }
}

impl LifecycleSection {
    /// The lifecycle rules these settings describe.
    pub fn lifecycle(&self) -> Lifecycle {
        Lifecycle::new(
            Duration::from_secs(self.grace_seconds),
            Duration::from_secs(self.dormant_days.saturating_mul(86_400)),
        )
    }
}

fn default_grace_seconds() -> u64 {
    Lifecycle::DEFAULT_GRACE.as_secs()
}

fn default_dormant_days() -> u64 {
    Lifecycle::DEFAULT_DORMANT_AFTER.as_secs() / 86_400
}

/// `[sip]`: the service the phones register with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipSection {
    /// The registrar host (and optional `:port`) written into every account.
    pub registrar: String,
}

impl Config {
    /// Reads and parses `path`, resolving relative paths against its directory.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?;
        let mut config: Config =
            toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        if let Some(overrides) = &mut config.templates.overrides
            && overrides.is_relative()
        {
            *overrides = base.join(&*overrides);
        }
        let files = [
            &mut config.phones.certificate,
            &mut config.phones.key,
            &mut config.store.sqlite,
            &mut config.store.sealing_key,
        ];
        for file in files.into_iter().chain(config.trust.iter_mut().map(|trust| &mut trust.bundle)) {
            if file.is_relative() {
                *file = base.join(&*file);
            }
        }
        Ok(config)
    }

    /// The `[settings]` table as the global settings layer. Phones are told to provision only
    /// over HTTPS, so `provisioning_url` must be an `https://` URL.
    pub fn global_settings(&self) -> anyhow::Result<LayeredSettings> {
        match self.settings.get("provisioning_url") {
            Some(url) if url.starts_with("https://") => {}
            Some(url) => bail!("[settings] provisioning_url {url:?} must be an https:// URL"),
            None => bail!("[settings] needs provisioning_url, the https:// URL phones provision from"),
        }
        let mut settings = LayeredSettings::new();
        for (name, value) in &self.settings {
            settings.set(Layer::Global, name, value.as_str()).with_context(|| format!("[settings] {name}"))?;
        }
        Ok(settings)
    }

    /// Opens the store with its sealing key: the credential service.
    ///
    /// A missing or unreadable key file is an error: a server that cannot open its secrets must
    /// not start (it would answer every new phone with an error).
    pub fn credentials(&self) -> anyhow::Result<Credentials> {
        let key_file = &self.store.sealing_key;
        let keys = std::fs::read_to_string(key_file).with_context(|| {
            format!("cannot read the sealing key file {} (create one with `sipprovd keygen FILE`)", key_file.display())
        })?;
        let keyring = Keyring::parse(&keys).with_context(|| format!("{}", key_file.display()))?;
        let store = SqliteStore::open(&self.store.sqlite)?;
        Ok(Credentials::new(Arc::new(store), self.lifecycle.lifecycle(), Some(keyring), Arc::new(SystemClock)))
    }

    /// Opens the store and loads the TLS material this configuration names.
    pub fn server_config(&self) -> anyhow::Result<PhoneServerConfig> {
        self.server_config_with(Arc::new(self.credentials()?))
    }

    /// The server this configuration describes, over an already opened credential service.
    pub fn server_config_with(&self, credentials: Arc<Credentials>) -> anyhow::Result<PhoneServerConfig> {
        let vendors = self
            .trust
            .iter()
            .enumerate()
            .map(|(index, trust)| trust.load().with_context(|| format!("[[trust]] entry #{}", index + 1)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let trust = TrustStore::new(vendors)?;
        let server_chain = read_certificates(&self.phones.certificate)?;
        let server_key = PrivateKeyDer::from_pem_file(&self.phones.key)
            .with_context(|| format!("cannot read private key from {}", self.phones.key.display()))?;
        let renderer = match &self.templates.overrides {
            Some(dir) => Renderer::with_overrides(dir).with_context(|| format!("templates in {}", dir.display()))?,
            None => Renderer::shipped()?,
        };
        Ok(PhoneServerConfig {
            server_chain,
            server_key,
            trust,
            registrar: self.sip.registrar.clone(),
            renderer: Arc::new(renderer),
            settings: self.global_settings()?,
            credentials,
            timeouts: Timeouts::default(),
            allowed_sources: self.phones.allowed_sources()?,
            limits: sipprov_ratelimit::Policy::default(),
        })
    }
}

/// Every certificate in a PEM file; an empty file is an error, not an empty trust list.
fn read_certificates(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certificates = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .enumerate()
        .map(|(index, cert)| cert.with_context(|| format!("{}: certificate #{index} is not valid PEM", path.display())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if certificates.is_empty() {
        bail!("{} contains no PEM certificate", path.display());
    }
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phones(allow_sources: Option<Vec<&str>>) -> PhonesSection {
        PhonesSection {
            listen: "127.0.0.1:8443".parse().unwrap(),
            certificate: "server.pem".into(),
            key: "server.key".into(),
            allow_sources: allow_sources.map(|list| list.into_iter().map(String::from).collect()),
        }
    }

    #[test]
    fn allow_sources_parse_and_refuse_what_would_lock_everyone_out() {
        assert!(phones(None).allowed_sources().unwrap().is_none());
        let lan = phones(Some(vec!["192.168.1.0/24", "2001:db8::/64"])).allowed_sources().unwrap().unwrap();
        assert!(lan.contains("192.168.1.77".parse().unwrap()));
        assert!(!lan.contains("192.168.2.1".parse().unwrap()));
        let empty = phones(Some(vec![])).allowed_sources().unwrap_err();
        assert!(empty.to_string().contains("allow_sources is empty"), "{empty:#}");
        let bad = phones(Some(vec!["192.168.1.0/33"])).allowed_sources().unwrap_err();
        assert!(format!("{bad:#}").starts_with("[phones] allow_sources"), "{bad:#}");
    }

    #[test]
    fn provisioning_must_be_https() {
        let settings = |url: &str| BTreeMap::from([("provisioning_url".to_owned(), url.to_owned())]);
        let config = |settings| Config {
            phones: phones(None),
            trust: Vec::new(),
            store: StoreSection { sqlite: "db".into(), sealing_key: "key".into() },
            lifecycle: LifecycleSection::default(),
            sip: SipSection { registrar: "sip.example.net".into() },
            settings,
            templates: TemplatesSection::default(),
        };
        assert!(config(settings("https://prov.example.net")).global_settings().is_ok());
        let plain = config(settings("http://prov.example.net")).global_settings().unwrap_err();
        assert!(plain.to_string().contains("must be an https:// URL"), "{plain}");
        let missing = config(BTreeMap::new()).global_settings().unwrap_err();
        assert!(missing.to_string().contains("needs provisioning_url"), "{missing}");
    }
}
