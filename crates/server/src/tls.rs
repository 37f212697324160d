//! The TLS configuration phones meet: client certificates required, aws-lc-rs crypto.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sipprov_identity::TrustStore;

use crate::ServerError;

/// Builds the phone listener's rustls configuration.
///
/// Client authentication is mandatory: a handshake without a certificate chaining to one of the
/// `trust` anchors fails before any HTTP is read. TLS 1.2 is kept because many deployed phones
/// speak nothing newer.
pub fn server_config(
    server_chain: Vec<CertificateDer<'static>>,
    server_key: PrivateKeyDer<'static>,
    trust: &TrustStore,
) -> Result<Arc<rustls::ServerConfig>, ServerError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = RootCertStore::empty();
    for vendor in trust.vendors() {
        for (index, ca) in vendor.certificates().iter().enumerate() {
            roots
                .add(ca.clone())
                .map_err(|e| ServerError::Tls(format!("{}: certificate #{index}: {e}", vendor.source())))?;
        }
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
        .build()
        .map_err(|e| ServerError::Tls(format!("device CAs: {e}")))?;
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| ServerError::Tls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(server_chain, server_key)
        .map_err(|e| ServerError::Tls(format!("server certificate or key: {e}")))?;
    Ok(Arc::new(config))
}
