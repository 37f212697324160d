//! The listener for phones without a usable factory certificate: TLS with server
//! authentication only, each request authenticated by the device's enrolment secret (HTTP
//! Digest or Basic), ITSPA rating 4, and only for devices whose rating policy allows 4.
//!
//! It is a listener of its own, on its own port, rather than the certificate listener with
//! client certificates made optional: the certificate listener then still parses no HTTP from
//! a client that has not proven a trusted certificate, and a deployment that needs no secrets
//! opens no such port at all.

use std::sync::Arc;

use sipprov_serving::ServerError;
use sipprov_serving::tls::ServerCertificates;
use tokio_rustls::TlsAcceptor;

use crate::digest_auth::DigestAuth;

/// What the Digest listener is configured with.
#[derive(Debug, Clone)]
pub struct DigestOptions {
    /// The realm of the challenges (and of the HA1 a phone computes).
    pub realm: String,
    /// Where its phones are told to provision from (`https://host:port`) [default:
    /// `provisioning_url`'s host with this listener's port].
    pub provisioning_url: Option<String>,
}

/// The Digest listener's state, shared by its connections.
pub(crate) struct DigestListener {
    pub(crate) acceptor: TlsAcceptor,
    pub(crate) auth: DigestAuth,
    /// Where its phones provision from, rendered into their configs.
    pub(crate) provisioning_url: String,
}

impl DigestListener {
    /// `provisioning_url` is the global one, `port` the listener's.
    pub(crate) fn new(
        certificates: Arc<ServerCertificates>,
        options: DigestOptions,
        provisioning_url: &str,
        port: u16,
    ) -> Result<Self, ServerError> {
        // The admin listener's configuration: the same server certificates, TLS 1.3 and 1.2, and
        // no client certificate asked for (these phones authenticate each request instead).
        let acceptor = TlsAcceptor::from(sipprov_serving::tls::admin_config(certificates)?);
        let provisioning_url = options.provisioning_url.unwrap_or_else(|| with_port(provisioning_url, port));
        Ok(Self { acceptor, auth: DigestAuth::new(options.realm), provisioning_url })
    }
}

/// `https://host[:port][/path]` with `port` instead (`https://[::1]:port` for IPv6 literals).
fn with_port(url: &str, port: u16) -> String {
    let rest = url.strip_prefix("https://").unwrap_or(url);
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = match authority.strip_prefix('[') {
        Some(v6) => format!("[{}]", v6.split(']').next().unwrap_or_default()),
        None => authority.rsplit_once(':').map_or(authority, |(host, _)| host).to_owned(),
    };
    format!("https://{host}:{port}{path}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_digest_url_is_the_provisioning_url_on_its_port() {
        assert_eq!(super::with_port("https://prov.example.net", 8445), "https://prov.example.net:8445");
        assert_eq!(super::with_port("https://prov.example.net:443/p", 8445), "https://prov.example.net:8445/p");
        assert_eq!(super::with_port("https://[2001:db8::1]:443", 8445), "https://[2001:db8::1]:8445");
    }
}
