//! The daemon's configuration file (`sipprov.toml`) and the server it describes.
//!
//! Relative paths in the file are resolved against the directory holding the file, so a config
//! directory can be moved as a whole.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use sipprov_admin::AdminConfig;
use sipprov_credentials::{Credentials, Keyring, Lifecycle, Store, SystemClock};
use sipprov_fleet::{Fleet, ImageFiles};
use sipprov_identity::{AttributeRule, IdentityRule, Oui, TrustStore, VendorTrust};
use sipprov_ratelimit::{Allowlist, Policy, RateLimit};
use sipprov_server::tls::ServerCertificate;
use sipprov_server::{DigestOptions, GroupSettings, PhoneServerConfig, RatingPolicy, RatingRule, Timeouts};
use sipprov_store_postgres::{PostgresOptions, PostgresStore};
use sipprov_store_sqlite::SqliteStore;
use sipprov_template::check_setting;
use sipprov_template::{Layer, LayeredSettings, Renderer, check_sip_host};

/// A group settings section: settings by group name (vendor, model or site).
pub type Groups = BTreeMap<String, BTreeMap<String, String>>;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The phone listener.
    pub phones: PhonesSection,
    /// The admin listener (JSON API, metrics).
    #[serde(default)]
    pub admin: AdminSection,
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
    /// Settings for every phone of a vendor (`[vendor_settings.yealink]`).
    #[serde(default)]
    pub vendor_settings: Groups,
    /// Settings for every phone of a model (`[model_settings.T54W]`).
    #[serde(default)]
    pub model_settings: Groups,
    /// Settings for every phone of a site (`[site_settings.leeds]`).
    #[serde(default)]
    pub site_settings: Groups,
    /// Where the vendor templates come from.
    #[serde(default)]
    pub templates: TemplatesSection,
    /// Firmware images served to phones.
    #[serde(default)]
    pub firmware: FirmwareSection,
    /// Fleet reports.
    #[serde(default)]
    pub fleet: FleetSection,
    /// Rate limits, scan detection and bans.
    #[serde(default)]
    pub limits: LimitsSection,
    /// How long audit events are kept.
    #[serde(default)]
    pub audit: AuditSection,
    /// The listener for phones without a usable factory certificate (off unless given).
    pub digest: Option<DigestSection>,
    /// The lowest ITSPA rating each vendor, model or site may be provisioned with.
    #[serde(default)]
    pub policy: Vec<PolicySection>,
    /// How the daemon logs.
    #[serde(default)]
    pub logging: LoggingSection,
    /// The registrars told each account's HA1 (`[[registrar]]`); none by default.
    #[serde(default)]
    pub registrar: Vec<crate::registrars::RegistrarSection>,
    /// How phones are asked to fetch their configuration now; off without it.
    pub resync: Option<crate::resync::ResyncSection>,
    /// The softphone portal (one-time reveal, QR set-up); off without it.
    pub portal: Option<crate::portal::PortalSection>,
}

/// `[digest]`: the listener for phones that authenticate with an enrolment secret (HTTP Digest
/// or Basic over TLS, ITSPA rating 4) instead of a factory certificate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestSection {
    /// Its address: a port of its own, beside the certificate listener's.
    pub listen: SocketAddr,
    /// The realm of its challenges [default: `sipprov`].
    #[serde(default = "default_digest_realm")]
    pub realm: String,
    /// Where its phones' configs tell them to provision from, `https://host:port` [default:
    /// `provisioning_url`'s host with this listener's port].
    pub provisioning_url: Option<String>,
}

fn default_digest_realm() -> String {
    "sipprov".into()
}

/// `[[policy]]`: the lowest rating the devices it names (by vendor, model and site, each
/// optional; the most specific entry wins) may be provisioned with. Without one, a vendor with
/// a `[[trust]]` anchor needs 5 (its certificate), any other 4.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySection {
    /// The inventory's vendor.
    pub vendor: Option<String>,
    /// The inventory's model.
    pub model: Option<String>,
    /// The inventory's site.
    pub site: Option<String>,
    /// 4 (an enrolment secret is enough) or 5 (only the device's certificate).
    pub min_rating: u8,
}

/// Whether two listeners would take the same port.
fn overlap(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() == b.port() && a.port() != 0 && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

/// `[audit]`: retention of the audit log.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSection {
    /// Days an audit event is kept; older ones are deleted by a background job, in small
    /// batches. 0 keeps every event forever.
    #[serde(default = "default_retain_days")]
    pub retain_days: u64,
}

impl Default for AuditSection {
    fn default() -> Self {
        Self { retain_days: default_retain_days() }
    }
}

impl AuditSection {
    /// How long events are kept, or `None` to keep them forever.
    pub fn retention(&self) -> Option<Duration> {
        (self.retain_days > 0).then(|| Duration::from_secs(self.retain_days.saturating_mul(86_400)))
    }
}

/// 400 days: a year of events, and a month to export them before they go.
fn default_retain_days() -> u64 {
    400
}

/// `[firmware]`: images phones fetch when their target tells them to upgrade.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirmwareSection {
    /// Directory the registered images are kept in, under their SHA-256 (`sha256/<hex>`),
    /// written by `sipprov firmware add`. Only registered images are served, to identified
    /// phones of their vendor. Without it no image is registered or served.
    pub directory: Option<PathBuf>,
    /// The largest image an upload may be, in MiB.
    #[serde(default = "default_max_image_mb")]
    pub max_image_mb: u64,
}

impl Default for FirmwareSection {
    fn default() -> Self {
        Self { directory: None, max_image_mb: default_max_image_mb() }
    }
}

fn default_max_image_mb() -> u64 {
    512
}

/// `[fleet]`: fleet reports.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetSection {
    /// A device not served for this many days is stale (reports and metrics).
    #[serde(default = "default_stale_days")]
    pub stale_days: u64,
}

impl Default for FleetSection {
    fn default() -> Self {
        Self { stale_days: default_stale_days() }
    }
}

fn default_stale_days() -> u64 {
    7
}

/// `[admin]`: the admin listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSection {
    /// Address and port; keep it on loopback or a management network.
    #[serde(default = "default_admin_listen")]
    pub listen: SocketAddr,
    /// PEM certificate chain for the admin listener [default: the phone listener's].
    pub certificate: Option<PathBuf>,
    /// Its private key [default: the phone listener's].
    pub key: Option<PathBuf>,
}

impl Default for AdminSection {
    fn default() -> Self {
        Self { listen: default_admin_listen(), certificate: None, key: None }
    }
}

fn default_admin_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8444))
}

/// `[logging]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggingSection {
    /// `json` (one object per line, for log shippers) or `text`.
    #[serde(default = "default_log_format")]
    pub format: String,
    /// A `tracing` filter: `info`, `debug`, `sipprov_server=debug,info`, ...
    #[serde(default = "default_log_level")]
    pub level: String,
    /// How long lines below warning may wait to be written together, in milliseconds (0: each
    /// line as it comes). See [`crate::log_output`].
    #[serde(default = "default_log_flush_ms")]
    pub flush_ms: u64,
}

impl Default for LoggingSection {
    fn default() -> Self {
        Self { format: default_log_format(), level: default_log_level(), flush_ms: default_log_flush_ms() }
    }
}

impl LoggingSection {
    /// Refuses an unknown format or an unparsable level filter.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.format != "json" && self.format != "text" {
            bail!("[logging] format {:?} must be \"json\" or \"text\"", self.format);
        }
        if self.flush_ms > MAX_LOG_FLUSH_MS {
            bail!(
                "[logging] flush_ms {} is more than {MAX_LOG_FLUSH_MS}: a crash would lose that much log",
                self.flush_ms
            );
        }
        tracing_subscriber::EnvFilter::try_new(&self.level)
            .map(drop)
            .with_context(|| format!("[logging] level {:?}", self.level))
    }
}

fn default_log_format() -> String {
    "json".into()
}

fn default_log_level() -> String {
    "info".into()
}

fn default_log_flush_ms() -> u64 {
    100
}

/// The longest `[logging] flush_ms`: lines waiting longer would make a crash lose too much.
const MAX_LOG_FLUSH_MS: u64 = 5_000;

/// `[limits]`: every key is optional; the defaults allow a 200-phone office behind one address
/// to reboot at once (see docs/configuration.md for the arithmetic).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    /// New connections per source: burst, then one per interval.
    pub connections_burst: Option<u32>,
    /// Milliseconds per new connection after the burst.
    pub connection_interval_ms: Option<u64>,
    /// Requests per source: burst.
    pub requests_burst: Option<u32>,
    /// Milliseconds per request after the burst.
    pub request_interval_ms: Option<u64>,
    /// Requests per device (certificate MAC): burst.
    pub device_requests_burst: Option<u32>,
    /// Milliseconds per device request after the burst.
    pub device_request_interval_ms: Option<u64>,
    /// Connections open at once per source.
    pub max_connections_per_source: Option<u32>,
    /// TLS handshakes in progress at once, all clients together.
    pub max_handshakes_in_flight: Option<u32>,
    /// TLS handshakes in progress at once from one source; more wait their turn.
    pub max_handshakes_per_source: Option<u32>,
    /// TLS handshakes in progress at once from one network (IPv4 /24, IPv6 /48).
    pub max_handshakes_per_network: Option<u32>,
    /// Misses (unknown paths, MAC mismatches, refused handshakes) from one source that trip a
    /// ban whatever the ratio, within `scan_source_window_seconds`.
    pub scan_source_max_misses: Option<u32>,
    /// The scan detector's window per source, in seconds.
    pub scan_source_window_seconds: Option<u64>,
    /// Misses from one network (IPv4 /24, IPv6 /48) that trip a ban of the network.
    pub scan_network_max_misses: Option<u32>,
    /// The scan detector's window per network, in seconds.
    pub scan_network_window_seconds: Option<u64>,
    /// Length of a first ban, in seconds; repeat offences double it.
    pub ban_first_seconds: Option<u64>,
    /// The longest ban, in seconds.
    pub ban_max_seconds: Option<u64>,
    /// Sources never banned nor counted by the scan detector (CIDRs), e.g. a monitoring host.
    #[serde(default)]
    pub never_ban: Vec<String>,
}

impl LimitsSection {
    /// The limiter policy: the defaults, with what this section sets.
    pub fn policy(&self) -> anyhow::Result<Policy> {
        let mut policy = Policy::default();
        let rate = |burst: Option<u32>, interval_ms: Option<u64>, default: RateLimit, name: &str| {
            let burst = burst.unwrap_or(default.burst());
            let interval = interval_ms.map_or(default.interval(), Duration::from_millis);
            RateLimit::new(burst, interval).with_context(|| format!("[limits] {name}"))
        };
        policy.connections_per_source = rate(
            self.connections_burst,
            self.connection_interval_ms,
            policy.connections_per_source,
            "connections_burst / connection_interval_ms",
        )?;
        policy.requests_per_source = rate(
            self.requests_burst,
            self.request_interval_ms,
            policy.requests_per_source,
            "requests_burst / request_interval_ms",
        )?;
        policy.requests_per_device = rate(
            self.device_requests_burst,
            self.device_request_interval_ms,
            policy.requests_per_device,
            "device_requests_burst / device_request_interval_ms",
        )?;
        if let Some(max) = self.max_connections_per_source {
            policy.max_connections_per_source = max;
        }
        // A smaller overall cap brings the defaults of the finer ones down with it.
        if let Some(max) = self.max_handshakes_in_flight {
            policy.max_handshakes_in_flight = max;
        }
        policy.max_handshakes_per_network = self
            .max_handshakes_per_network
            .unwrap_or(policy.max_handshakes_per_network.min(policy.max_handshakes_in_flight));
        policy.max_handshakes_per_source = self
            .max_handshakes_per_source
            .unwrap_or(policy.max_handshakes_per_source.min(policy.max_handshakes_per_network));
        if let Some(max) = self.scan_source_max_misses {
            policy.scan.source.max_misses = max;
            policy.scan.source.min_misses = policy.scan.source.min_misses.min(max);
        }
        if let Some(seconds) = self.scan_source_window_seconds {
            policy.scan.source.window = Duration::from_secs(seconds);
        }
        if let Some(max) = self.scan_network_max_misses {
            policy.scan.network.max_misses = max;
            policy.scan.network.min_misses = policy.scan.network.min_misses.min(max);
        }
        if let Some(seconds) = self.scan_network_window_seconds {
            policy.scan.network.window = Duration::from_secs(seconds);
        }
        if let Some(seconds) = self.ban_first_seconds {
            policy.bans.first = Duration::from_secs(seconds);
        }
        if let Some(seconds) = self.ban_max_seconds {
            policy.bans.max = Duration::from_secs(seconds);
        }
        policy.allowlist = Allowlist::parse(self.never_ban.iter().map(String::as_str)).context("[limits] never_ban")?;
        policy.validate().context("[limits]")?;
        Ok(policy)
    }
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
    /// Optional RSA certificate chain, for phones that cannot verify ECDSA signatures; chosen
    /// per ClientHello.
    pub rsa_certificate: Option<PathBuf>,
    /// The RSA certificate's key.
    pub rsa_key: Option<PathBuf>,
    /// Seconds from TCP accept to a finished TLS handshake.
    #[serde(default = "default_handshake_seconds")]
    pub handshake_timeout_seconds: u64,
    /// Seconds allowed for a request head to arrive.
    #[serde(default = "default_header_seconds")]
    pub header_timeout_seconds: u64,
    /// Seconds in-flight requests may take to finish after SIGTERM.
    #[serde(default = "default_drain_seconds")]
    pub drain_seconds: u64,
    /// When set, only these source networks (CIDRs) may connect at all, e.g. a PBX's own LAN.
    #[serde(default)]
    pub allow_sources: Option<Vec<String>>,
    /// TCP load balancers (CIDRs) whose connections start with a PROXY protocol v2 header
    /// naming the real client; from any other source such a header closes the connection.
    pub proxy_from: Option<Vec<String>>,
}

fn default_handshake_seconds() -> u64 {
    Timeouts::default().handshake.as_secs()
}

fn default_header_seconds() -> u64 {
    Timeouts::default().request_header.as_secs()
}

fn default_drain_seconds() -> u64 {
    Timeouts::default().drain.as_secs()
}

impl PhonesSection {
    /// The listener's deadlines.
    pub fn timeouts(&self) -> Timeouts {
        Timeouts {
            handshake: Duration::from_secs(self.handshake_timeout_seconds.max(1)),
            request_header: Duration::from_secs(self.header_timeout_seconds.max(1)),
            drain: Duration::from_secs(self.drain_seconds),
        }
    }

    /// The primary server certificate and, if configured, the RSA one.
    pub fn certificates(&self) -> anyhow::Result<(ServerCertificate, Option<ServerCertificate>)> {
        let primary = read_server_certificate(&self.certificate, &self.key)?;
        let rsa = match (&self.rsa_certificate, &self.rsa_key) {
            (Some(certificate), Some(key)) => Some(read_server_certificate(certificate, key)?),
            (None, None) => None,
            _ => bail!("[phones] rsa_certificate and rsa_key go together"),
        };
        Ok((primary, rsa))
    }

    /// The `allow_sources` list, parsed.
    pub fn allowed_sources(&self) -> anyhow::Result<Option<Allowlist>> {
        let Some(sources) = &self.allow_sources else { return Ok(None) };
        let allowed = Allowlist::parse(sources.iter().map(String::as_str)).context("[phones] allow_sources")?;
        if allowed.is_empty() {
            bail!("[phones] allow_sources is empty: no phone could connect (leave it out to allow any source)");
        }
        Ok(Some(allowed))
    }

    /// The `proxy_from` list, parsed.
    pub fn proxy_from(&self) -> anyhow::Result<Option<Allowlist>> {
        let Some(proxies) = &self.proxy_from else { return Ok(None) };
        let proxies = Allowlist::parse(proxies.iter().map(String::as_str)).context("[phones] proxy_from")?;
        Ok((!proxies.is_empty()).then_some(proxies))
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
    /// Certificate revocation lists of this vendor's CAs (PEM or DER files); reloaded on SIGHUP.
    #[serde(default)]
    pub crls: Vec<PathBuf>,
    /// Accept legacy chains under this bundle (SHA-1 signatures, RSA keys of 1024 bits or
    /// more): what it identifies is rated 4, not 5, and held to `[[policy]]`. Off by default.
    #[serde(default)]
    pub legacy: bool,
}

impl TrustSection {
    /// Reads the bundle and builds the vendor's trust.
    pub fn load(&self) -> anyhow::Result<VendorTrust> {
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
        let source = self.bundle.display().to_string();
        let vendor = if self.legacy {
            VendorTrust::from_legacy_bundle(&source, &bytes, rule)?
        } else {
            VendorTrust::from_bundle(&source, &bytes, rule)?
        };
        let mut vendor = vendor.with_allowed_ouis(ouis);
        for crl in &self.crls {
            let bytes = std::fs::read(crl).with_context(|| format!("cannot read the CRL {}", crl.display()))?;
            vendor = vendor.with_crls(&crl.display().to_string(), &bytes)?;
        }
        Ok(vendor)
    }
}

/// The name of the systemd credential the sealing key may come from.
pub const SEALING_KEY_CREDENTIAL: &str = "sealing.key";

/// `[store]`: the device database and the key that seals its secrets. Its `Debug` leaves the
/// PostgreSQL URL out: it may hold the database password.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// Path of the SQLite database file (created if missing): one node. Exactly one of
    /// `sqlite` and `postgres`.
    pub sqlite: Option<PathBuf>,
    /// PostgreSQL connection URL: nodes sharing one database. It may hold the database
    /// password, so keep the config file private; it is never logged.
    pub postgres: Option<String>,
    /// PEM file of the certificate authorities for the database's TLS; without it the
    /// connection to PostgreSQL is plain (same host or a private network only).
    pub postgres_ca_file: Option<PathBuf>,
    /// PostgreSQL connections per pool (a node keeps two: phones' requests, and the rest)
    /// [default: 16].
    pub postgres_pool_size: Option<usize>,
    /// Seconds one store call may take against PostgreSQL before it fails (and rolls back)
    /// [default: 5].
    pub postgres_timeout_seconds: Option<u64>,
    /// Path of the sealing key file (`sipprovd keygen`). Under systemd, a credential named
    /// `sealing.key` (`LoadCredential=sealing.key:PATH`) is read instead. Keep it outside the database's
    /// directory and backups: with the database alone, no secret can be read. Every node
    /// sharing a database uses the same key file.
    pub sealing_key: PathBuf,
}

impl std::fmt::Debug for StoreSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreSection")
            .field("sqlite", &self.sqlite)
            .field("postgres", &self.postgres.as_ref().map(|_| "(set, not shown)"))
            .field("postgres_ca_file", &self.postgres_ca_file)
            .field("postgres_pool_size", &self.postgres_pool_size)
            .field("postgres_timeout_seconds", &self.postgres_timeout_seconds)
            .field("sealing_key", &self.sealing_key)
            .finish()
    }
}

/// Which database `[store]` names.
#[derive(Debug)]
pub enum StoreChoice<'a> {
    /// One SQLite file.
    Sqlite(&'a Path),
    /// A PostgreSQL database, with how to reach it.
    Postgres(PostgresOptions),
}

impl StoreSection {
    /// The database this section names; exactly one of `sqlite` and `postgres` must be set.
    pub fn choice(&self) -> anyhow::Result<StoreChoice<'_>> {
        match (&self.sqlite, &self.postgres) {
            (Some(path), None) => {
                // PostgreSQL's options on an SQLite store would be silently without effect.
                let postgres_options = [
                    ("postgres_ca_file", self.postgres_ca_file.is_some()),
                    ("postgres_pool_size", self.postgres_pool_size.is_some()),
                    ("postgres_timeout_seconds", self.postgres_timeout_seconds.is_some()),
                ];
                if let Some((name, _)) = postgres_options.iter().find(|(_, set)| *set) {
                    bail!("[store] {name} is set, but the store is sqlite: remove it, or use postgres");
                }
                Ok(StoreChoice::Sqlite(path))
            }
            (None, Some(url)) => {
                let mut options = PostgresOptions::new(url.clone());
                options.ca_file = self.postgres_ca_file.clone();
                options.pool_size = self.postgres_pool_size.unwrap_or(PostgresOptions::DEFAULT_POOL_SIZE);
                if let Some(seconds) = self.postgres_timeout_seconds {
                    options.timeout = Duration::from_secs(seconds.max(1));
                }
                Ok(StoreChoice::Postgres(options))
            }
            (Some(_), Some(_)) => bail!("[store] sets both sqlite and postgres; choose one"),
            (None, None) => bail!("[store] needs sqlite (a file) or postgres (a connection URL)"),
        }
    }

    /// Opens the store this section names: migrates its schema, and fails if the database
    /// cannot be reached.
    pub fn open(&self) -> anyhow::Result<Arc<dyn Store>> {
        Ok(match self.choice()? {
            StoreChoice::Sqlite(path) => Arc::new(SqliteStore::open(path)?),
            StoreChoice::Postgres(options) => Arc::new(PostgresStore::connect(&options)?),
        })
    }
}

/// Whether an SQLite database file is usable: an existing one read-only (schema version,
/// integrity), a missing one by whether its directory could hold it.
fn check_sqlite(path: &Path) -> anyhow::Result<()> {
    if path.exists() {
        let found = SqliteStore::inspect(path)?;
        if found.too_new() {
            bail!(
                "{} has schema version {}, newer than this build's {}: upgrade sipprovd",
                path.display(),
                found.version,
                found.newest
            );
        }
        if let Some(damage) = found.integrity {
            bail!("{} is damaged: {damage}", path.display());
        }
        return Ok(());
    }
    let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let metadata =
        std::fs::metadata(dir).with_context(|| format!("{}: the directory for the database", dir.display()))?;
    if !metadata.is_dir() || metadata.permissions().readonly() {
        bail!("{} cannot hold the database (not a writable directory)", dir.display());
    }
    Ok(())
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
    /// Refuses windows that would break every phone: no dormant period (every device would go
    /// dormant, its secrets deleted, at the first sweep) or no grace.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.dormant_days == 0 {
            bail!(
                "dormant_days = 0 would make every device dormant, its secrets deleted, at the first sweep: use 1 or more (default 14)"
            );
        }
        if self.grace_seconds == 0 {
            bail!(
                "grace_seconds = 0 would purge a phone's secrets the moment they are delivered, before a retry: use 60 or more (default 300)"
            );
        }
        Ok(())
    }

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
    /// The digest realm the registrar challenges with [default: the registrar's host]. HA1
    /// values handed to the registrar are computed for it.
    pub realm: Option<String>,
}

impl SipSection {
    /// The realm, or the registrar's host without a port.
    pub fn realm(&self) -> String {
        self.realm.clone().unwrap_or_else(|| self.registrar_host().trim_matches(['[', ']']).to_owned())
    }

    /// The registrar's host, without a port (an IPv6 literal keeps its brackets).
    pub fn registrar_host(&self) -> String {
        sipprov_template::split_host_port(&self.registrar).0.to_owned()
    }
}

impl Config {
    /// Reads and parses `path`, resolving relative paths against its directory.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?;
        Self::parse(&text, path.parent().unwrap_or(Path::new(".")))
            .with_context(|| format!("invalid config file {}", path.display()))
    }

    /// Parses the text of a config file, resolving relative paths against `base` (its
    /// directory). Reads no file: what the paths name is opened when it is used.
    pub fn parse(text: &str, base: &Path) -> anyhow::Result<Self> {
        let mut config: Config = toml::from_str(text)?;
        check_sip_host("[sip] registrar", &config.sip.registrar)?;
        for directory in [&mut config.templates.overrides, &mut config.firmware.directory].into_iter().flatten() {
            if directory.is_relative() {
                *directory = base.join(&*directory);
            }
        }
        let files = [&mut config.phones.certificate, &mut config.phones.key, &mut config.store.sealing_key];
        let optional = [
            &mut config.store.sqlite,
            &mut config.store.postgres_ca_file,
            &mut config.phones.rsa_certificate,
            &mut config.phones.rsa_key,
            &mut config.admin.certificate,
            &mut config.admin.key,
        ];
        for registrar in &mut config.registrar {
            registrar.resolve(base);
        }
        if let Some(resync) = &mut config.resync {
            resync.resolve(base);
        }
        if let Some(portal) = &mut config.portal {
            portal.resolve(base);
            portal.check()?;
        }
        let trust = config.trust.iter_mut().flat_map(|trust| std::iter::once(&mut trust.bundle).chain(&mut trust.crls));
        for file in files.into_iter().chain(optional.into_iter().flatten()).chain(trust) {
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
            check_setting(name, value).map_err(|e| anyhow::anyhow!("[settings] {e}"))?;
        }
        Ok(settings)
    }

    /// Opens the store with its sealing key: the credential service.
    ///
    /// A missing or unreadable key file is an error: a server that cannot open its secrets must
    /// not start (it would answer every new phone with an error).
    pub fn credentials(&self) -> anyhow::Result<Credentials> {
        let keyring = self.keyring()?;
        let store = self.store.open()?;
        let credentials = Credentials::new(store, self.lifecycle.lifecycle(), Some(keyring), Arc::new(SystemClock));
        // With registrars to tell, every change of an account queues its HA1 for them.
        Ok(if self.registrar.is_empty() { credentials } else { credentials.with_registrar_realm(self.sip.realm()) })
    }

    /// How the admin API sends re-sync NOTIFYs, if `[resync]` is set.
    pub fn resync_config(&self) -> anyhow::Result<Option<sipprov_admin::ResyncConfig>> {
        let registrar_host = self.sip.registrar_host();
        self.resync.as_ref().map(|resync| resync.config(&self.sip.realm(), &registrar_host)).transpose()
    }

    /// The registrar outbox over `credentials`, if `[[registrar]]` names any registrar.
    pub fn outbox(&self, credentials: Arc<Credentials>) -> anyhow::Result<Option<Arc<sipprov_registrar::Outbox>>> {
        if self.registrar.is_empty() {
            return Ok(None);
        }
        let registrars = crate::registrars::registrars(&self.registrar)?;
        Ok(Some(Arc::new(sipprov_registrar::Outbox::new(credentials, registrars))))
    }

    /// The sealing keys: from the systemd credential `sealing.key` when the daemon was started
    /// with one (`LoadCredential=sealing.key:...`), else from `[store] sealing_key`.
    pub fn keyring(&self) -> anyhow::Result<Keyring> {
        let credential = std::env::var_os("CREDENTIALS_DIRECTORY")
            .map(|dir| PathBuf::from(dir).join(SEALING_KEY_CREDENTIAL))
            .filter(|path| path.is_file());
        let key_file = credential.as_ref().unwrap_or(&self.store.sealing_key);
        let keys = std::fs::read_to_string(key_file).with_context(|| {
            format!("cannot read the sealing key file {} (create one with `sipprovd keygen FILE`)", key_file.display())
        })?;
        // With the database it opens every secret: no one but its owner may read it.
        let mode = std::fs::metadata(key_file)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "the sealing key file {} can be read or written by others than its owner (mode {mode:04o}): \
                 `chmod 600 {}`",
                key_file.display(),
                key_file.display()
            );
        }
        Keyring::parse(&keys).with_context(|| format!("{}", key_file.display()))
    }

    /// Whether the store could be opened, without changing it: an existing database is read
    /// (schema version, integrity) but not migrated; a missing one could be created; a
    /// PostgreSQL database must answer.
    pub fn check_store(&self) -> anyhow::Result<()> {
        let options = match self.store.choice()? {
            StoreChoice::Sqlite(path) => return check_sqlite(path),
            StoreChoice::Postgres(options) => options,
        };
        let found = PostgresStore::inspect(&options)?;
        if found.too_new() {
            let database = options.describe();
            bail!(
                "{database} has schema version {}, newer than this build's {}: upgrade sipprovd",
                found.version,
                found.newest
            );
        }
        Ok(())
    }
    /// Opens the store and loads the TLS material this configuration names.
    pub fn server_config(&self) -> anyhow::Result<PhoneServerConfig> {
        self.server_config_with(Arc::new(self.credentials()?))
    }

    /// The Digest listener's options.
    pub fn digest_options(&self, digest: &DigestSection) -> anyhow::Result<DigestOptions> {
        if let Some(url) = &digest.provisioning_url {
            sipprov_template::check_setting("provisioning_url", url)
                .map_err(|e| anyhow::anyhow!("[digest] provisioning_url: {e}"))?;
        }
        Ok(DigestOptions { realm: digest.realm.clone(), provisioning_url: digest.provisioning_url.clone() })
    }

    /// The lowest rating each device may be provisioned with: `[[policy]]`, and by default 5
    /// for a vendor with a (non-legacy) `[[trust]]` anchor.
    pub fn rating_policy(&self) -> anyhow::Result<RatingPolicy> {
        let rules = self.rating_rules()?;
        let trust = self.trust_store()?;
        let certificate_vendors = (trust.vendors().iter())
            .filter(|vendor| !vendor.is_legacy())
            .map(|vendor| vendor.rule().vendor().to_owned())
            .collect();
        Ok(RatingPolicy { rules, certificate_vendors })
    }

    /// The `[[policy]]` entries, checked.
    pub fn rating_rules(&self) -> anyhow::Result<Vec<RatingRule>> {
        let mut rules = Vec::with_capacity(self.policy.len());
        for (index, entry) in self.policy.iter().enumerate() {
            if !(4..=5).contains(&entry.min_rating) {
                bail!("[[policy]] entry #{}: min_rating is 4 or 5, not {}", index + 1, entry.min_rating);
            }
            rules.push(RatingRule {
                vendor: entry.vendor.as_ref().map(|vendor| vendor.to_ascii_lowercase()),
                model: entry.model.clone(),
                site: entry.site.clone(),
                min_rating: entry.min_rating,
            });
        }
        Ok(rules)
    }

    /// The trust anchors: every `[[trust]]` entry loaded.
    pub fn trust_store(&self) -> anyhow::Result<TrustStore> {
        let vendors = self
            .trust
            .iter()
            .enumerate()
            .map(|(index, trust)| trust.load().with_context(|| format!("[[trust]] entry #{}", index + 1)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(TrustStore::new(vendors)?)
    }

    /// The templates: shipped, or with the operator's overrides, compiled and checked.
    pub fn renderer(&self) -> anyhow::Result<Renderer> {
        Ok(match &self.templates.overrides {
            Some(dir) => Renderer::with_overrides(dir).with_context(|| format!("templates in {}", dir.display()))?,
            None => Renderer::shipped()?,
        })
    }

    /// The vendor, model and site settings.
    pub fn group_settings(&self) -> anyhow::Result<GroupSettings> {
        for (section, groups) in self.group_sections() {
            check_groups(section, groups)?;
        }
        Ok(GroupSettings {
            vendor: self
                .vendor_settings
                .iter()
                .map(|(vendor, values)| (vendor.to_ascii_lowercase(), values.clone()))
                .collect(),
            model: self.model_settings.clone(),
            site: self.site_settings.clone(),
        })
    }

    /// The group settings sections by name: `vendor_settings`, `model_settings`, `site_settings`.
    pub fn group_sections(&self) -> [(&'static str, &Groups); 3] {
        [
            ("vendor_settings", &self.vendor_settings),
            ("model_settings", &self.model_settings),
            ("site_settings", &self.site_settings),
        ]
    }

    /// The server this configuration describes, over an already opened credential service.
    pub fn server_config_with(&self, credentials: Arc<Credentials>) -> anyhow::Result<PhoneServerConfig> {
        let (certificate, rsa_certificate) = self.phones.certificates()?;
        Ok(PhoneServerConfig {
            certificate,
            rsa_certificate,
            trust: self.trust_store()?,
            registrar: self.sip.registrar.clone(),
            renderer: Arc::new(self.renderer()?),
            settings: self.global_settings()?,
            group_settings: self.group_settings()?,
            fleet: Arc::new(
                Fleet::open(Arc::clone(credentials.store()), Arc::new(SystemClock), self.image_files()?)
                    .context("the firmware policy in the store")?,
            ),
            credentials,
            timeouts: self.phones.timeouts(),
            allowed_sources: self.phones.allowed_sources()?,
            proxy_from: self.phones.proxy_from()?,
            limits: self.limits.policy()?,
        })
    }

    /// Where registered firmware images are kept, if a directory is configured.
    pub fn image_files(&self) -> anyhow::Result<Option<ImageFiles>> {
        let max_bytes = self.firmware.max_image_mb.saturating_mul(1024 * 1024);
        Ok(self.firmware_directory()?.map(|directory| ImageFiles::new(directory, max_bytes)))
    }

    /// The firmware directory, checked to be one.
    pub fn firmware_directory(&self) -> anyhow::Result<Option<PathBuf>> {
        let Some(directory) = &self.firmware.directory else { return Ok(None) };
        if !directory.is_dir() {
            bail!("[firmware] directory {} is not a directory", directory.display());
        }
        Ok(Some(directory.clone()))
    }

    /// Refuses an admin listener on the phone listener's address and port: one of them could
    /// not start (or, with a wildcard address, the admin API would be reachable by phones).
    pub fn check_listeners(&self) -> anyhow::Result<()> {
        let (phones, admin) = (self.phones.listen, self.admin.listen);
        if overlap(phones, admin) {
            bail!(
                "[admin] listen {admin} and [phones] listen {phones} use the same port: give the admin API its own (default 127.0.0.1:8444)"
            );
        }
        let digest = self.digest.as_ref().map(|digest| ("[digest]", digest.listen));
        let portal = self.portal.as_ref().map(|portal| ("[portal]", portal.listen));
        let mut taken = vec![("[phones]", phones), ("[admin]", admin)];
        for (section, listen) in [digest, portal].into_iter().flatten() {
            if let Some((other, at)) = taken.iter().find(|(_, at)| overlap(listen, *at)) {
                bail!("{section} listen {listen} and {other} listen {at} use the same port: give each its own");
            }
            taken.push((section, listen));
        }
        Ok(())
    }

    /// Whether the phone listener's certificate names the host of `provisioning_url`: phones
    /// that check the server's name (the shipped templates turn it on) would otherwise refuse
    /// it, and never provision again.
    pub fn check_provisioning_name(&self) -> anyhow::Result<()> {
        let settings = self.global_settings()?;
        let url = settings.get("provisioning_url").unwrap_or_default();
        let authority = url.strip_prefix("https://").unwrap_or(url).split('/').next().unwrap_or_default();
        let host = match authority.strip_prefix('[') {
            Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
            None => authority.rsplit_once(':').map_or(authority, |(host, _)| host),
        };
        let (certificate, _) = self.phones.certificates()?;
        let Some(leaf) = certificate.chain.first() else { bail!("[phones] certificate holds no certificate") };
        let name = rustls_pki_types::ServerName::try_from(host.to_owned())
            .with_context(|| format!("provisioning_url {url:?}: {host:?} is not a host name or address"))?;
        let leaf = webpki::EndEntityCert::try_from(leaf)
            .map_err(|e| anyhow::anyhow!("[phones] certificate: cannot be read ({e:?})"))?;
        leaf.verify_is_valid_for_subject_name(&name).map_err(|_| {
            anyhow::anyhow!(
                "the phone listener's certificate ({}) does not name {host:?}, the host of provisioning_url: \
                 phones that check the server's name would refuse it; get a certificate for {host}, or point \
                 provisioning_url at a name it holds",
                self.phones.certificate.display()
            )
        })
    }

    /// The portal listener's configuration (`[portal]`).
    pub fn portal_config(&self, portal: &crate::portal::PortalSection) -> anyhow::Result<sipprov_portal::PortalConfig> {
        portal.check()?;
        Ok(sipprov_portal::PortalConfig {
            certificate: self.portal_certificate(portal)?,
            public_url: portal.public_url.clone(),
            registrar: self.sip.registrar.clone(),
            brand: portal.brand.clone(),
            link_ttl: Duration::from_secs(portal.link_minutes * 60),
            sessions: sipprov_portal::SessionPolicy::default(),
            second_factor: portal.second_factor(),
            timeouts: self.phones.timeouts(),
        })
    }

    /// The portal listener's certificate: its own, or else the phone listener's.
    pub fn portal_certificate(&self, portal: &crate::portal::PortalSection) -> anyhow::Result<ServerCertificate> {
        match (&portal.certificate, &portal.key) {
            (Some(certificate), Some(key)) => read_server_certificate(certificate, key),
            _ => read_server_certificate(&self.phones.certificate, &self.phones.key),
        }
    }

    /// The admin listener's certificate: its own, or else the phone listener's.
    pub fn admin_certificate(&self) -> anyhow::Result<ServerCertificate> {
        match (&self.admin.certificate, &self.admin.key) {
            (Some(certificate), Some(key)) => read_server_certificate(certificate, key),
            (None, None) => read_server_certificate(&self.phones.certificate, &self.phones.key),
            _ => bail!("[admin] certificate and key go together"),
        }
    }

    /// The admin listener's configuration.
    pub fn admin_config(&self) -> anyhow::Result<AdminConfig> {
        self.admin_config_with(None)
    }

    /// [`Config::admin_config`], with the registrar outbox the admin API reports on and syncs.
    pub fn admin_config_with(&self, outbox: Option<Arc<sipprov_registrar::Outbox>>) -> anyhow::Result<AdminConfig> {
        let limits = self.limits.policy()?;
        Ok(AdminConfig {
            certificate: self.admin_certificate()?,
            realm: self.sip.realm(),
            timeouts: self.phones.timeouts(),
            limits,
            stale_days: self.fleet.stale_days,
            outbox,
            resync: self.resync_config()?,
            portal: self.portal.as_ref().map(crate::portal::PortalSection::links),
        })
    }
}

/// Checks every setting of one group settings section (`[section.<group>]`).
pub fn check_groups(section: &str, groups: &Groups) -> anyhow::Result<()> {
    for (group, values) in groups {
        let mut settings = LayeredSettings::new();
        for (name, value) in values {
            settings.set(Layer::Device, name, value.as_str()).with_context(|| format!("[{section}.{group}] {name}"))?;
            check_setting(name, value).map_err(|e| anyhow::anyhow!("[{section}.{group}] {e}"))?;
        }
    }
    Ok(())
}

/// A certificate chain and its key, from PEM files.
fn read_server_certificate(certificate: &Path, key: &Path) -> anyhow::Result<ServerCertificate> {
    let chain = read_certificates(certificate)?;
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("cannot read a private key from {}", key.display()))?;
    Ok(ServerCertificate { chain, key })
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
            rsa_certificate: None,
            rsa_key: None,
            handshake_timeout_seconds: 10,
            header_timeout_seconds: 10,
            drain_seconds: 30,
            allow_sources: allow_sources.map(|list| list.into_iter().map(String::from).collect()),
            proxy_from: None,
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
            admin: AdminSection::default(),
            trust: Vec::new(),
            store: StoreSection {
                sqlite: Some("db".into()),
                postgres: None,
                postgres_ca_file: None,
                postgres_pool_size: None,
                postgres_timeout_seconds: None,
                sealing_key: "key".into(),
            },
            lifecycle: LifecycleSection::default(),
            sip: SipSection { registrar: "sip.example.net".into(), realm: None },
            settings,
            vendor_settings: BTreeMap::new(),
            model_settings: BTreeMap::new(),
            site_settings: BTreeMap::new(),
            templates: TemplatesSection::default(),
            firmware: FirmwareSection::default(),
            fleet: FleetSection::default(),
            limits: LimitsSection::default(),
            audit: AuditSection::default(),
            digest: None,
            policy: Vec::new(),
            logging: LoggingSection::default(),
            registrar: Vec::new(),
            resync: None,
            portal: None,
        };
        assert!(config(settings("https://prov.example.net")).global_settings().is_ok());
        let plain = config(settings("http://prov.example.net")).global_settings().unwrap_err();
        assert!(plain.to_string().contains("must be an https:// URL"), "{plain}");
        let missing = config(BTreeMap::new()).global_settings().unwrap_err();
        assert!(missing.to_string().contains("needs provisioning_url"), "{missing}");
    }

    #[test]
    fn audit_events_are_kept_400_days_unless_told_otherwise() {
        let default: AuditSection = toml::from_str("").unwrap();
        assert_eq!(default.retention(), Some(Duration::from_secs(400 * 86_400)));
        let forever: AuditSection = toml::from_str("retain_days = 0").unwrap();
        assert_eq!(forever.retention(), None);
        assert!(toml::from_str::<AuditSection>("retain_days = -1").is_err());
        assert!(toml::from_str::<AuditSection>("keep = 3").is_err(), "unknown keys are refused");
    }

    #[test]
    fn the_store_is_one_database_and_postgres_options_need_postgres() {
        let store = |text: &str| toml::from_str::<StoreSection>(&format!("sealing_key = \"k\"\n{text}")).unwrap();
        assert!(matches!(store("sqlite = \"db\"").choice().unwrap(), StoreChoice::Sqlite(_)));
        let Ok(StoreChoice::Postgres(options)) =
            store("postgres = \"postgres://db/x\"\npostgres_timeout_seconds = 9").choice()
        else {
            panic!("postgres")
        };
        assert_eq!((options.timeout, options.pool_size), (Duration::from_secs(9), PostgresOptions::DEFAULT_POOL_SIZE));
        let both = store("sqlite = \"db\"\npostgres = \"postgres://db/x\"").choice().unwrap_err().to_string();
        assert!(both.contains("both"), "{both}");
        let neither = store("").choice().unwrap_err().to_string();
        assert!(neither.contains("needs sqlite"), "{neither}");
        let stray = store("sqlite = \"db\"\npostgres_pool_size = 4").choice().unwrap_err().to_string();
        assert!(stray.contains("postgres_pool_size is set, but the store is sqlite"), "{stray}");
    }

    #[test]
    fn the_admin_listener_defaults_to_loopback() {
        let admin = AdminSection::default();
        assert!(admin.listen.ip().is_loopback(), "{}", admin.listen);
        assert_eq!(admin.listen.port(), 8444);
        let parsed: AdminSection = toml::from_str("").unwrap();
        assert_eq!(parsed.listen, admin.listen);
    }

    #[test]
    fn the_realm_defaults_to_the_registrar_host() {
        let sip = |registrar: &str, realm: Option<&str>| SipSection {
            registrar: registrar.into(),
            realm: realm.map(Into::into),
        };
        assert_eq!(sip("sip.example.net", None).realm(), "sip.example.net");
        assert_eq!(sip("sip.example.net:5061", None).realm(), "sip.example.net");
        assert_eq!(sip("[2001:db8::1]:5060", None).realm(), "2001:db8::1");
        assert_eq!(sip("sip.example.net", Some("voip.example")).realm(), "voip.example");
    }

    #[test]
    fn limits_start_from_the_defaults_and_refuse_nonsense() {
        assert_eq!(LimitsSection::default().policy().unwrap(), Policy::default());
        let limits: LimitsSection = toml::from_str(
            "requests_burst = 5000\nban_first_seconds = 60\nnever_ban = [\"10.0.0.0/8\"]\nscan_source_max_misses = 20",
        )
        .unwrap();
        let policy = limits.policy().unwrap();
        assert_eq!(policy.requests_per_source.burst(), 5000);
        assert_eq!(policy.requests_per_source.interval(), Policy::default().requests_per_source.interval());
        assert_eq!(policy.bans.first, Duration::from_secs(60));
        assert_eq!(policy.scan.source.max_misses, 20);
        assert!(policy.scan.source.min_misses <= 20);
        assert!(policy.allowlist.contains("10.1.2.3".parse().unwrap()));
        let zero: LimitsSection = toml::from_str("max_handshakes_in_flight = 0").unwrap();
        assert!(format!("{:#}", zero.policy().unwrap_err()).contains("max_handshakes_in_flight"));
        let typo = toml::from_str::<LimitsSection>("request_burst = 5").unwrap_err();
        assert!(typo.to_string().contains("unknown field `request_burst`"), "{typo}");
    }
}
