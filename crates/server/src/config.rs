//! What a phone server needs to run.

use std::collections::BTreeMap;
use std::sync::Arc;

use sipprov_credentials::Credentials;
use sipprov_fleet::Fleet;
use sipprov_identity::TrustStore;
use sipprov_ratelimit::{Allowlist, Policy};
use sipprov_template::{LayeredSettings, Renderer};

use sipprov_serving::Timeouts;
use sipprov_serving::tls::ServerCertificate;

/// Everything the phone listener needs: TLS material, trust, storage and policy.
pub struct PhoneServerConfig {
    /// The server certificate presented to phones (ECDSA P-256 recommended).
    pub certificate: ServerCertificate,
    /// An RSA certificate for phones whose ClientHello offers no scheme the primary key can
    /// sign with; `None` serves every phone the primary one.
    pub rsa_certificate: Option<ServerCertificate>,
    /// The vendor CAs a phone's certificate must chain to, each bound to its identity rule and
    /// allowed OUIs.
    pub trust: TrustStore,
    /// The registrar written into every account config.
    pub registrar: String,
    /// The vendor templates, compiled and checked at start-up.
    pub renderer: Arc<Renderer>,
    /// The settings every config is rendered with (must hold an `https://` `provisioning_url`).
    pub settings: LayeredSettings,
    /// Settings for groups of devices: by vendor, model and site (from the inventory).
    pub group_settings: GroupSettings,
    /// Firmware under central control (over the same store as `credentials`): registered
    /// images are streamed to identified phones of their vendor, and each device's target is
    /// rendered into its config.
    pub fleet: Arc<Fleet>,
    /// The credential service: inventory, lifecycle, sealed secrets, audit.
    pub credentials: Arc<Credentials>,
    /// Deadlines that close slow or idle connections.
    pub timeouts: Timeouts,
    /// When set, only these source networks may connect at all (e.g. a PBX's own LAN); checked
    /// before anything else, refused connections closed at once.
    pub allowed_sources: Option<Allowlist>,
    /// TCP load balancers (pass-through, mutual TLS kept end to end) whose connections start
    /// with a PROXY protocol v2 header naming the real client: that address is then the one
    /// admitted, rate-limited, banned, logged and audited (and the one `allowed_sources` is
    /// checked against). From any other source a connection starting with the header is
    /// closed. `None`: no proxies.
    pub proxy_from: Option<Allowlist>,
    /// Rate limits, connection caps, scan detection and bans (`Policy::default()` is sized for
    /// offices of hundreds of phones behind one address).
    pub limits: Policy,
}

/// Settings shared by a group of devices, by group name; a device's own settings win over them.
/// [`PhoneServer::bind`](crate::PhoneServer::bind) layers each group once and refuses a setting
/// name a [`LayeredSettings`] would refuse.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupSettings {
    /// By vendor (the inventory's, else the certificate's), e.g. `yealink`.
    pub vendor: BTreeMap<String, BTreeMap<String, String>>,
    /// By model (the inventory's, else the certificate's), e.g. `T54W`.
    pub model: BTreeMap<String, BTreeMap<String, String>>,
    /// By site.
    pub site: BTreeMap<String, BTreeMap<String, String>>,
}
