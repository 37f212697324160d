//! The TLS configuration phones meet: client certificates required, each chain verified once
//! by the vendor verifier, TLS 1.3 and 1.2.

use std::sync::Arc;

use sipprov_serving::ServerError;
use sipprov_serving::tls::{ServerCertificates, provider};

use crate::client_verifier::VendorVerifier;

/// Builds the phone listener's rustls configuration, with `verifier` as its client certificate
/// verifier.
///
/// Client authentication is mandatory: a handshake without a certificate chaining to one of the
/// trust anchors, with one their CRLs revoke, or with one whose key may not sign, fails before
/// any HTTP is read. TLS 1.2 is kept because many deployed phones speak nothing newer.
pub(crate) fn phone_config(
    certificates: Arc<ServerCertificates>,
    verifier: Arc<VendorVerifier>,
) -> Result<Arc<rustls::ServerConfig>, ServerError> {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| ServerError::Tls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(certificates);
    Ok(Arc::new(config))
}

/// The signature algorithms handshakes are verified with.
pub(crate) fn verification_algorithms() -> rustls::crypto::WebPkiSupportedAlgorithms {
    provider().signature_verification_algorithms
}
