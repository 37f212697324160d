//! What can change while the server runs (trust anchors, templates), and how it is swapped.
//!
//! A connection takes a snapshot of the live state when it starts, so a reload never changes
//! the rules under a handshake or request in progress; new connections see the new state.

use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};

use sipprov_identity::TrustStore;
use sipprov_template::Renderer;
use tokio_rustls::TlsAcceptor;

use crate::client_verifier::VendorVerifier;
use crate::connection::ConnectionContext;
use sipprov_serving::ServerError;
use sipprov_serving::tls::ServerCertificates;

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

/// Replaces the trust anchors and templates of a running [`PhoneServer`](crate::PhoneServer),
/// e.g. on SIGHUP. Connections in progress finish under the old ones.
#[derive(Clone)]
pub struct Reloader {
    certificates: Arc<ServerCertificates>,
    context: Arc<ConnectionContext>,
}

impl Reloader {
    pub(crate) fn new(certificates: Arc<ServerCertificates>, context: Arc<ConnectionContext>) -> Self {
        Self { certificates, context }
    }

    /// Builds the TLS configuration for `trust` and swaps it in with `renderer`. On error
    /// nothing changes: the server keeps serving with what it had.
    pub fn reload(&self, trust: TrustStore, renderer: Arc<Renderer>) -> Result<(), ServerError> {
        let metrics = &self.context.metrics;
        let live = match Live::new(Arc::clone(&self.certificates), trust, renderer) {
            Ok(live) => live,
            Err(e) => {
                metrics.reloads_refused.fetch_add(1, Ordering::Relaxed);
                return Err(e);
            }
        };
        *self.context.live.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(live);
        metrics.reloads.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Counts a reload refused before it reached the server (the new files did not load).
    pub fn refused(&self) {
        self.context.metrics.reloads_refused.fetch_add(1, Ordering::Relaxed);
    }
}
