//! The authorities a registrar's TLS certificate is checked against.

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::RegistrarError;

/// A client configuration trusting only the certificates in the PEM file at `ca_file`.
pub(crate) fn client_config(ca_file: &Path) -> Result<rustls::ClientConfig, RegistrarError> {
    let fail = |reason: String| RegistrarError::Config(format!("{}: {reason}", ca_file.display()));
    let pem = std::fs::read(ca_file).map_err(|e| fail(e.to_string()))?;
    let mut roots = RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(&pem) {
        roots.add(certificate.map_err(|e| fail(format!("invalid PEM: {e}")))?).map_err(|e| fail(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(fail("holds no PEM certificate".into()));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
