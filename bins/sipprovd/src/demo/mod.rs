//! `sipprovd demo`: a complete provisioning server in one directory, for a first look.
//!
//! The first run creates the directory with a generated PKI (ECDSA P-256), a sealing key, a
//! commented `sipprov.toml` holding the addresses and grace it runs with, and a SQLite database
//! with three enrolled Yealink phones. Everything is private: directories 0700, files 0600.
//! Later runs reuse it.

mod pki;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sipprov_credentials::{Account, Credentials, Keyring, Role};
use sipprov_identity::Mac;

use std::net::SocketAddr;

use crate::config::Config;
use crate::files::{create_private_dir, replace_file, write_new_file};

/// The demo phones: MACs in Yealink's OUI 00:15:65.
pub const DEMO_PHONES: [Mac; 3] = [
    Mac::from_bytes([0x00, 0x15, 0x65, 0x00, 0x00, 0x01]),
    Mac::from_bytes([0x00, 0x15, 0x65, 0x00, 0x00, 0x02]),
    Mac::from_bytes([0x00, 0x15, 0x65, 0x00, 0x00, 0x03]),
];

/// What a new demo is set up with; for a reused one, what this run overrides.
#[derive(Debug, Clone, Copy, Default)]
pub struct DemoOptions {
    /// The phone listener's address [new demo: 127.0.0.1:8443].
    pub listen: Option<SocketAddr>,
    /// The admin listener's address [new demo: 127.0.0.1:8444].
    pub admin_listen: Option<SocketAddr>,
    /// Seconds the password is still served after the first delivery [new demo: 300].
    pub grace: Option<u64>,
}

/// The demo directory, ready to serve.
#[derive(Debug)]
pub struct Demo {
    /// The directory holding everything.
    pub dir: PathBuf,
    /// The configuration read back from `sipprov.toml`.
    pub config: Config,
    /// Whether this run found an existing demo directory and reused it.
    pub reused: bool,
    /// The credential service over the demo's database, with the demo phones enrolled.
    pub credentials: Arc<Credentials>,
}

impl Demo {
    /// The path of the config file inside the demo directory.
    pub fn config_path(dir: &Path) -> PathBuf {
        dir.join("sipprov.toml")
    }

    /// The admin API token the demo writes (mode 0600), with the `admin` role.
    pub fn token_path(dir: &Path) -> PathBuf {
        dir.join("admin.token")
    }

    /// Creates the demo in `dir` with `options`, or reuses the one already there (then `options`
    /// override its config for this run).
    pub fn prepare(dir: &Path, options: DemoOptions) -> anyhow::Result<Self> {
        let config_path = Self::config_path(dir);
        let reused = config_path.exists();
        if !reused {
            create_private_dir(dir)?;
            pki::generate(&dir.join("pki"), &DEMO_PHONES)?;
            let keys = Keyring::generate_file(1, None)?;
            write_new_file(&dir.join("sealing.key"), keys.as_bytes(), 0o600)?;
            let listen = options.listen.unwrap_or(DEFAULT_LISTEN);
            let admin_listen = options.admin_listen.unwrap_or(DEFAULT_ADMIN_LISTEN);
            let text = config_text(listen, admin_listen, options.grace.unwrap_or(DEFAULT_GRACE));
            write_new_file(&config_path, text.as_bytes(), 0o600)?;
        }
        let mut config = Config::load(&config_path)?;
        if let Some(grace) = options.grace {
            config.lifecycle.grace_seconds = grace;
        }
        if let Some(listen) = options.listen {
            config.phones.listen = listen;
        }
        if let Some(admin_listen) = options.admin_listen {
            config.admin.listen = admin_listen;
        }
        let credentials = Arc::new(config.credentials()?);
        let token_file = Self::token_path(dir);
        if !token_file.exists() {
            let token = credentials.create_api_token("demo", Role::Admin, "sipprovd demo")?;
            write_new_file(&token_file, format!("{}\n", token.expose()).as_bytes(), 0o600)?;
        }
        for (n, mac) in DEMO_PHONES.iter().enumerate() {
            let account =
                Account::new(1, format!("100{}", n + 1), format!("sp-{mac}"), format!("Demo phone {}", n + 1));
            // `None` when the phone is already enrolled: a reused demo keeps its state.
            credentials.enrol(*mac, vec![account], Vec::new())?;
        }
        Ok(Self { dir: dir.to_owned(), config, reused, credentials })
    }

    /// Records in a new demo's `sipprov.toml` the addresses its listeners were bound to (a
    /// port 0 became a real one), so `sipprovd run --config` serves where this run did.
    pub fn record_addresses(&mut self, listen: SocketAddr, admin_listen: SocketAddr) -> anyhow::Result<()> {
        self.config.phones.listen = listen;
        self.config.admin.listen = admin_listen;
        if self.reused {
            return Ok(());
        }
        let text = config_text(listen, admin_listen, self.config.lifecycle.grace_seconds);
        replace_file(&Self::config_path(&self.dir), text.as_bytes(), 0o600)
    }

    /// The `curl` command that fetches `mac`'s config as that phone, against `url_base`
    /// (`https://host:port`).
    pub fn curl_command(&self, mac: &Mac, url_base: &str) -> String {
        let pki = self.dir.join("pki");
        let device = pki.join("devices");
        format!(
            "curl --cacert {} --cert {} --key {} {url_base}/{mac}.cfg",
            pki.join("server-ca.pem").display(),
            device.join(format!("{mac}.pem")).display(),
            device.join(format!("{mac}.key")).display(),
        )
    }
}

impl Demo {
    /// The `sipprov` CLI command that lists the demo's devices through the admin API at
    /// `admin_url`.
    pub fn cli_command(&self, admin_url: &str) -> String {
        format!(
            "cargo run -q -p sipprov -- --url {admin_url} --ca {} --token-file {} device list",
            self.dir.join("pki").join("server-ca.pem").display(),
            Self::token_path(&self.dir).display(),
        )
    }
}

const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8443);
const DEFAULT_ADMIN_LISTEN: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8444);
const DEFAULT_GRACE: u64 = 300;

/// The demo's `sipprov.toml`, with the addresses and grace it serves with.
fn config_text(listen: SocketAddr, admin_listen: SocketAddr, grace: u64) -> String {
    CONFIG_TEXT
        .replace("{listen}", &listen.to_string())
        .replace("{admin_listen}", &admin_listen.to_string())
        .replace("{grace}", &grace.to_string())
        .replace("{provisioning_url}", &format!("https://{listen}"))
}

const CONFIG_TEXT: &str = r#"# sipprov configuration, written by `sipprovd demo`.
# Start a server from it with: sipprovd run --config sipprov.toml
# Relative paths are resolved against this file's directory.

[phones]
# Where phones connect (HTTPS with a client certificate; there is no plain-HTTP listener).
listen = "{listen}"
# The server certificate chain (leaf first) and its key, as PEM.
certificate = "pki/server.pem"
key = "pki/server.key"

[admin]
# The admin API (JSON under /v1, Prometheus /metrics): keep it on loopback or a management
# network. It uses the phone listener's certificate unless `certificate` and `key` are set.
listen = "{admin_listen}"

[logging]
# "json" (one object per line, for log shippers) or "text".
format = "text"
level = "info"

# One [[trust]] entry per vendor CA bundle.
[[trust]]
# The CA certificate(s) that signed the phones' device certificates (PEM or DER, one or more).
bundle = "pki/device-ca.pem"
# How those certificates name the device. Built in: polycom, snom, yealink, cisco-mic,
# cisco-mpp, cn-mac (the subject commonName is the MAC). For another vendor:
#   rule = "attribute", vendor = "acme", attribute = "serialNumber", pattern = "ACME-{mac}"
rule = "cn-mac"
# The vendor MAC prefixes this CA may vouch for; leave out to allow any.
allowed_ouis = ["00:15:65"]

[store]
# The device database (SQLite, WAL, synchronous=FULL). Created if missing.
sqlite = "sipprov.db"
# The key that seals every secret in the database (`sipprovd keygen FILE` makes one). In
# production keep it outside the database's directory and its backups.
sealing_key = "sealing.key"

[lifecycle]
# After a phone first fetches its config, its SIP password is served for this many more
# seconds (so a phone that failed to apply it can retry), then deleted from the server.
grace_seconds = {grace}
# Secrets never fetched within this many days are deleted (the device goes dormant) until the
# operator re-arms it.
dormant_days = 14

[sip]
# The registrar written into every account config.
registrar = "sip.example.net"
# The digest realm it challenges with; HA1 values handed to the registrar are computed for it.
realm = "sip.example.net"

[settings]
# Settings every phone's config is rendered with (the global layer). provisioning_url is where
# phones are told to fetch from: HTTPS only. `sipprovd demo` set it to the address it listened on.
provisioning_url = "{provisioning_url}"
# ntp_server = "pool.ntp.org"

# [templates]
# A directory whose files replace the shipped templates, e.g. yealink/device.cfg.
# overrides = "templates"
"#;
