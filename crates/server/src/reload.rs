//! Swapping the trust anchors and templates of a running server ([`Reloader`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use sipprov_identity::TrustStore;
use sipprov_serving::ServerError;
use sipprov_serving::tls::ServerCertificates;
use sipprov_template::Renderer;

use crate::connection::ConnectionContext;
use crate::live::Live;

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
