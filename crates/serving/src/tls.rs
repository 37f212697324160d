//! The server side of TLS for both listeners: aws-lc-rs crypto, and the server certificate
//! chosen per ClientHello (ECDSA, or RSA for phones that cannot verify ECDSA).

use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::ServerError;

/// A server certificate chain (leaf first) with its private key.
#[derive(Debug)]
pub struct ServerCertificate {
    /// The chain presented to clients, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    pub key: PrivateKeyDer<'static>,
}

impl Clone for ServerCertificate {
    fn clone(&self) -> Self {
        Self { chain: self.chain.clone(), key: self.key.clone_key() }
    }
}

/// The server's certificates: the primary one (ECDSA P-256 recommended: a signature costs a
/// fraction of an RSA-2048 one) and optionally an RSA one, used only for clients whose
/// ClientHello offers no signature scheme the primary key can make.
///
/// A listener's TLS configuration holds these for as long as it runs; [`replace`] renews them
/// in place (a renewed certificate, on SIGHUP), and every handshake from then on presents the
/// new ones.
///
/// [`replace`]: ServerCertificates::replace
#[derive(Debug)]
pub struct ServerCertificates {
    current: RwLock<Arc<Keys>>,
}

/// The keys one [`ServerCertificates`] presents, swapped whole.
#[derive(Debug)]
struct Keys {
    primary: Arc<CertifiedKey>,
    rsa_fallback: Option<Arc<CertifiedKey>>,
}

impl ServerCertificates {
    /// Loads the keys, checking that each key belongs to its certificate.
    pub fn new(primary: ServerCertificate, rsa_fallback: Option<ServerCertificate>) -> Result<Self, ServerError> {
        let provider = provider();
        let load = |certificate: ServerCertificate, what: &str| {
            CertifiedKey::from_der(certificate.chain, certificate.key, &provider)
                .map(Arc::new)
                .map_err(|e| ServerError::Tls(format!("{what} server certificate or key: {}", in_words(&e))))
        };
        let keys = Keys {
            primary: load(primary, "primary")?,
            rsa_fallback: rsa_fallback.map(|c| load(c, "RSA")).transpose()?,
        };
        Ok(Self { current: RwLock::new(Arc::new(keys)) })
    }

    /// Presents `renewed`'s certificates from the next handshake on; handshakes in progress
    /// finish with the ones they started with. Loading them ([`ServerCertificates::new`]) is
    /// where a key that does not match its certificate is refused, so this cannot fail.
    pub fn replace(&self, renewed: ServerCertificates) {
        let keys = renewed.current.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner());
        *self.current.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = keys;
    }

    /// The leaf of the primary chain presented now (for its expiry date).
    pub fn leaf(&self) -> Option<CertificateDer<'static>> {
        self.keys().primary.cert.first().cloned()
    }

    fn keys(&self) -> Arc<Keys> {
        // Only whole values are ever written: a poisoned lock still holds a consistent one.
        Arc::clone(&self.current.read().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }
}

impl ResolvesServerCert for ServerCertificates {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let keys = self.keys();
        match &keys.rsa_fallback {
            Some(rsa) if keys.primary.key.choose_scheme(hello.signature_schemes()).is_none() => Some(Arc::clone(rsa)),
            _ => Some(Arc::clone(&keys.primary)),
        }
    }
}

/// What went wrong loading a certificate and key, as a sentence an operator can act on.
fn in_words(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InconsistentKeys(_) => {
            "the private key does not belong to the certificate (the key file holds another certificate's key, \
             or the certificate file another key's certificate)"
                .to_owned()
        }
        other => other.to_string(),
    }
}

/// The crypto every listener uses: aws-lc-rs.
pub fn provider() -> CryptoProvider {
    rustls::crypto::aws_lc_rs::default_provider()
}

/// The admin listener's rustls configuration: server authentication only (clients prove
/// themselves with bearer tokens), TLS 1.3 and 1.2.
pub fn admin_config(certificates: Arc<ServerCertificates>) -> Result<Arc<rustls::ServerConfig>, ServerError> {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| ServerError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(certificates);
    Ok(Arc::new(config))
}
