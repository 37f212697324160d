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
use crate::rating_policy::RatingPolicy;

/// What the Digest listener is configured with.
#[derive(Debug, Clone)]
pub struct DigestOptions {
    /// The realm of the challenges (and of the HA1 a phone computes).
    pub realm: String,
    /// Which devices may be provisioned with a secret (rating 4).
    pub policy: RatingPolicy,
}

/// The Digest listener's state, shared by its connections.
pub(crate) struct DigestListener {
    pub(crate) acceptor: TlsAcceptor,
    pub(crate) auth: DigestAuth,
    pub(crate) policy: RatingPolicy,
}

impl DigestListener {
    pub(crate) fn new(certificates: Arc<ServerCertificates>, options: DigestOptions) -> Result<Self, ServerError> {
        let acceptor = TlsAcceptor::from(crate::phone_tls::server_authenticated_config(certificates)?);
        Ok(Self { acceptor, auth: DigestAuth::new(options.realm), policy: options.policy })
    }
}
