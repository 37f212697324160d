//! What a phone server needs to run.

use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sipprov_credentials::Credentials;
use sipprov_identity::TrustStore;
use sipprov_ratelimit::{Allowlist, Policy};
use sipprov_template::{LayeredSettings, Renderer};

/// Everything the phone listener needs: TLS material, trust, storage and policy.
pub struct PhoneServerConfig {
    /// The server certificate chain, leaf first, presented to phones.
    pub server_chain: Vec<CertificateDer<'static>>,
    /// The server certificate's private key.
    pub server_key: PrivateKeyDer<'static>,
    /// The vendor CAs a phone's certificate must chain to, each bound to its identity rule and
    /// allowed OUIs.
    pub trust: TrustStore,
    /// The registrar written into every account config.
    pub registrar: String,
    /// The vendor templates, compiled and checked at start-up.
    pub renderer: Arc<Renderer>,
    /// The settings every config is rendered with (must hold an `https://` `provisioning_url`).
    pub settings: LayeredSettings,
    /// The credential service: inventory, lifecycle, sealed secrets, audit.
    pub credentials: Arc<Credentials>,
    /// Deadlines that close slow or idle connections.
    pub timeouts: Timeouts,
    /// When set, only these source networks may connect at all (e.g. a PBX's own LAN); checked
    /// before anything else, refused connections closed at once.
    pub allowed_sources: Option<Allowlist>,
    /// Rate limits, connection caps, scan detection and bans (`Policy::default()` is sized for
    /// offices of hundreds of phones behind one address).
    pub limits: Policy,
}

/// Deadlines that keep slow or idle connections from holding resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From TCP accept to a finished TLS handshake.
    pub handshake: Duration,
    /// From connection start (or the end of the previous response) to a complete request head.
    pub request_header: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self { handshake: Duration::from_secs(10), request_header: Duration::from_secs(10) }
    }
}
