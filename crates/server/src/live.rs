//! What can change while the server runs (trust anchors, templates), held so it can be swapped.
//!
//! A connection takes a snapshot of the live state when it starts, so a reload never changes
//! the rules under a handshake or request in progress; new connections see the new state.

use std::sync::{Arc, RwLock};

use sipprov_identity::TrustStore;
use sipprov_serving::ServerError;
use sipprov_serving::tls::ServerCertificates;
use sipprov_template::Renderer;
use tokio_rustls::TlsAcceptor;

use crate::client_verifier::VendorVerifier;
use crate::phone_tls;

/// The reloadable part of the phone server.
pub(crate) struct Live {
    pub(crate) acceptor: TlsAcceptor,
    /// Verifies client chains in the handshake and knows which anchor verified each.
    pub(crate) verifier: Arc<VendorVerifier>,
    pub(crate) renderer: Arc<Renderer>,
}

impl Live {
    pub(crate) fn new(
        certificates: Arc<ServerCertificates>,
        trust: TrustStore,
        renderer: Arc<Renderer>,
    ) -> Result<Self, ServerError> {
        let verifier = Arc::new(VendorVerifier::new(Arc::new(trust), phone_tls::verification_algorithms()));
        let acceptor = TlsAcceptor::from(phone_tls::phone_config(certificates, Arc::clone(&verifier))?);
        Ok(Self { acceptor, verifier, renderer })
    }
}

/// The live state, swapped whole.
pub(crate) type LiveCell = RwLock<Arc<Live>>;

pub(crate) fn snapshot(cell: &LiveCell) -> Arc<Live> {
    // A writer only ever replaces the Arc, so a poisoned lock still holds a whole value.
    Arc::clone(&cell.read().unwrap_or_else(|poisoned| poisoned.into_inner()))
}
