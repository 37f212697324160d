//! How NOTIFYs reach the proxy: UDP, TCP or TLS.

use std::sync::Arc;

/// A SIP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// UDP: requests are retransmitted until answered (RFC 3261 Timer E).
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP; the proxy's certificate is checked.
    Tls,
}

impl Transport {
    /// The transport named `name` (`udp`, `tcp`, `tls`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "udp" => Some(Transport::Udp),
            "tcp" => Some(Transport::Tcp),
            "tls" => Some(Transport::Tls),
            _ => None,
        }
    }

    /// Its name in a `Via` header.
    pub(crate) fn via_name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }
}

/// The proxy NOTIFYs go through: the registrar the phones registered at (hardened phones
/// accept SIP only from it).
#[derive(Clone)]
pub struct Proxy {
    /// Its host name or address.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// How to reach it.
    pub transport: Transport,
    /// For TLS: the client configuration, trusting the proxy's CA.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

impl Proxy {
    /// `host:port`, as a `Route` names it (IPv6 literals bracketed).
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// A client configuration trusting only the certificates in `pem` (a proxy's CA).
pub fn tls_config(pem: &[u8]) -> Result<rustls::ClientConfig, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;

    let mut roots = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(pem) {
        roots.add(certificate.map_err(|e| format!("invalid PEM: {e}"))?).map_err(|e| e.to_string())?;
    }
    if roots.is_empty() {
        return Err("no PEM certificate".into());
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
