//! One phone connection: TLS handshake under a deadline, identity, then HTTP/1.1.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};

use hyper::service::service_fn;
use rustls_pki_types::{CertificateDer, UnixTime};
use sipprov_identity::DeviceIdentity;
use sipprov_ratelimit::{ConnectionPermit, MissKind, Outcome};
use tokio::net::TcpStream;

use crate::admission::Admission;
use crate::drain::Watcher;
use crate::metrics::Metrics;
use crate::reload::{Live, LiveCell, snapshot};
use crate::routes::phone::PhoneRoutes;
use crate::{Timeouts, http};

pub(crate) struct ConnectionContext {
    pub(crate) live: LiveCell,
    pub(crate) timeouts: Timeouts,
    pub(crate) admission: Arc<Admission>,
    pub(crate) routes: Arc<PhoneRoutes>,
    pub(crate) metrics: Arc<Metrics>,
}

impl ConnectionContext {
    pub(crate) fn new(
        live: Live,
        timeouts: Timeouts,
        admission: Arc<Admission>,
        routes: Arc<PhoneRoutes>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self { live: RwLock::new(Arc::new(live)), timeouts, admission, routes, metrics }
    }
}

/// Serves one accepted TCP connection to the end, holding its admission `permit` until then.
/// Never panics on what the peer sends.
pub(crate) async fn serve(
    context: Arc<ConnectionContext>,
    tcp: TcpStream,
    peer: SocketAddr,
    mut permit: ConnectionPermit,
    watcher: Watcher,
) {
    let live = snapshot(&context.live);
    let handshake = tokio::time::timeout(context.timeouts.handshake, live.acceptor.accept(tcp)).await;
    let tls = match handshake {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::info!(%peer, error = %e, "TLS handshake refused");
            handshake_refused(&context, peer);
            return;
        }
        Err(_) => {
            tracing::info!(%peer, "TLS handshake deadline passed");
            handshake_refused(&context, peer);
            return;
        }
    };
    permit.finish_handshake();

    // Identity comes from the verified leaf certificate only, read with the rule of the anchor
    // it chains to.
    let chain: Arc<[CertificateDer<'static>]> =
        tls.get_ref().1.peer_certificates().unwrap_or_default().iter().map(|c| c.clone().into_owned()).collect();
    let identity = identify(&live, &chain, peer);

    let service_context = Arc::clone(&context);
    let service = service_fn(move |request| {
        let (context, live, chain) = (Arc::clone(&service_context), Arc::clone(&live), Arc::clone(&chain));
        let identity = identity.clone();
        async move {
            // A reload since the handshake (new anchors, a CRL): check the certificate again, so
            // a kept-alive connection is held to the current rules too.
            let current = snapshot(&context.live);
            let identity = if Arc::ptr_eq(&current, &live) { identity } else { identify(&current, &chain, peer) };
            Ok::<_, std::convert::Infallible>(
                Arc::clone(&context.routes).handle(&current.renderer, identity, peer, request).await,
            )
        }
    });
    if let Err(e) = http::serve(tls, service, &context.timeouts, watcher).await {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

fn identify(live: &Live, chain: &[CertificateDer<'static>], peer: SocketAddr) -> Option<Arc<DeviceIdentity>> {
    match live.trust.identify(chain, UnixTime::now()) {
        Ok((identity, vendor)) => {
            tracing::debug!(%peer, mac = %identity.mac, anchor = vendor.source(), "device identified");
            Some(Arc::new(identity))
        }
        Err(reason) => {
            tracing::info!(%peer, %reason, "certificate names no device");
            None
        }
    }
}

fn handshake_refused(context: &ConnectionContext, peer: SocketAddr) {
    context.metrics.handshakes_refused.fetch_add(1, Ordering::Relaxed);
    context.admission.record(peer.ip(), Outcome::Miss(MissKind::HandshakeRefused));
}
