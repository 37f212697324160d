//! One phone connection: TLS handshake under a deadline, identity, then HTTP/1.1.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use hyper::service::service_fn;
use rustls_pki_types::{CertificateDer, UnixTime};
use sipprov_identity::NoIdentity;
use sipprov_ratelimit::{Allowlist, ConnectionPermit, GateRefusal, MissKind, ScanOutcome};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::digest_listener::DigestListener;
use crate::live::{Live, LiveCell, snapshot};
use crate::phone_socket::PhoneSocket;
use crate::routes::phone::{Certified, Client, PhoneRoutes};
use sipprov_serving::Admission;
use sipprov_serving::Metrics;
use sipprov_serving::Watcher;
use sipprov_serving::{Timeouts, http};

use crate::proxy_protocol;
use crate::tls_facts::TlsFacts;

/// Which sources may connect, and which are load balancers speaking PROXY v2.
pub(crate) struct Sources {
    pub(crate) allowed: Option<Allowlist>,
    pub(crate) proxies: Option<Allowlist>,
}

impl Sources {
    pub(crate) fn is_proxy(&self, ip: IpAddr) -> bool {
        self.proxies.as_ref().is_some_and(|proxies| proxies.contains(ip))
    }
}

pub(crate) struct ConnectionContext {
    pub(crate) live: LiveCell,
    pub(crate) timeouts: Timeouts,
    pub(crate) sources: Sources,
    pub(crate) admission: Arc<Admission>,
    pub(crate) routes: Arc<PhoneRoutes>,
    pub(crate) metrics: Arc<Metrics>,
}

impl ConnectionContext {
    pub(crate) fn new(
        live: Live,
        timeouts: Timeouts,
        sources: Sources,
        admission: Arc<Admission>,
        routes: Arc<PhoneRoutes>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self { live: RwLock::new(Arc::new(live)), timeouts, sources, admission, routes, metrics }
    }

    /// Admits a connection from `client` before any TLS work: the source allow-list, then the
    /// rate limiter. `None` (counted and logged) closes it.
    pub(crate) fn admit(&self, client: SocketAddr) -> Option<ConnectionPermit> {
        let refused = |reason: &dyn std::fmt::Display| {
            self.metrics.connections_refused.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(peer = %client, %reason, "connection refused");
        };
        if self.sources.allowed.as_ref().is_some_and(|allowed| !allowed.contains(client.ip())) {
            refused(&"outside the allowed sources");
            return None;
        }
        self.admission
            .connection(client.ip())
            .map_err(|refusal| {
                if matches!(refusal, GateRefusal::Banned { .. }) {
                    self.metrics.handshake_failed("banned");
                }
                refused(&refusal)
            })
            .ok()
    }
}

/// A connection straight from a client. With proxies configured, one that starts with a PROXY
/// header is closed: only a listed balancer may say whom it speaks for.
pub(crate) async fn serve_direct(
    context: Arc<ConnectionContext>,
    tcp: TcpStream,
    peer: SocketAddr,
    permit: ConnectionPermit,
    watcher: Watcher,
) {
    // One deadline from accept to a finished handshake, the peek included.
    let deadline = tokio::time::Instant::now() + context.timeouts.handshake;
    if context.sources.proxies.is_some() && proxy_protocol::starts_with_header(&tcp, deadline).await {
        tracing::warn!(%peer, "PROXY header from a source not in proxy_from; connection closed");
        count_miss(&context, peer, MissKind::HandshakeRefused);
        return;
    }
    serve(context, tcp, peer, permit, deadline, watcher).await;
}

/// A connection from a listed load balancer: its PROXY v2 header names the client (read within
/// the handshake deadline), and that client is admitted and served as if it had connected.
pub(crate) async fn serve_proxied(
    context: Arc<ConnectionContext>,
    mut tcp: TcpStream,
    proxy: SocketAddr,
    watcher: Watcher,
) {
    // One deadline from accept to a finished handshake, the PROXY header included.
    let deadline = tokio::time::Instant::now() + context.timeouts.handshake;
    let header = tokio::time::timeout_at(deadline, proxy_protocol::read_header(&mut tcp)).await;
    let client = match header {
        Ok(Ok(client)) => client.unwrap_or(proxy),
        Ok(Err(e)) => return tracing::warn!(%proxy, error = %e, "invalid PROXY header; connection closed"),
        Err(_) => return tracing::info!(%proxy, "no PROXY header before the deadline; connection closed"),
    };
    if let Some(permit) = context.admit(client) {
        serve(context, tcp, client, permit, deadline, watcher).await;
    }
}

/// Serves one admitted connection from `peer` (the client, whether it connected or a balancer
/// named it) to the end, holding its admission `permit` until then; the TLS handshake must be
/// done by `deadline`. Never panics on what the peer sends.
async fn serve(
    context: Arc<ConnectionContext>,
    tcp: TcpStream,
    peer: SocketAddr,
    permit: ConnectionPermit,
    deadline: tokio::time::Instant,
    watcher: Watcher,
) {
    let live = snapshot(&context.live);
    let Some(tls) = handshake(&context, &live.acceptor, tcp, peer, &permit, deadline).await else { return };

    // Identity comes from the verified leaf certificate only, read with the rule of the anchor
    // that verified the chain in the handshake.
    let chain: Arc<[CertificateDer<'static>]> =
        tls.get_ref().1.peer_certificates().unwrap_or_default().iter().map(|c| c.clone().into_owned()).collect();
    let (identity, serial) = identify(&live, &chain, peer);
    let tls_facts = Arc::new(TlsFacts::of(tls.get_ref().1.protocol_version(), serial));

    let requests = Arc::new(AtomicU64::new(0));
    let service_context = Arc::clone(&context);
    let counted = Arc::clone(&requests);
    let service = service_fn(move |request| {
        let (context, live, chain) = (Arc::clone(&service_context), Arc::clone(&live), Arc::clone(&chain));
        let (identity, tls_facts) = (identity.clone(), Arc::clone(&tls_facts));
        counted.fetch_add(1, Ordering::Relaxed);
        async move {
            // A reload since the handshake (new anchors, a CRL): check the certificate again, so
            // a kept-alive connection is held to the current rules too.
            let current = snapshot(&context.live);
            let identity = if Arc::ptr_eq(&current, &live) { identity } else { identify(&current, &chain, peer).0 };
            let (_, response) = context
                .routes
                .handle(&current.renderer, Client::Certificate(identity.as_deref()), &tls_facts, peer, request)
                .await;
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    serve_requests(&context, tls, service, peer, permit, &requests, watcher).await;
}

/// Serves one connection to the Digest listener: TLS without a client certificate, each
/// request authenticated by its credentials. The same admission, deadlines, draining and
/// bans as the certificate listener.
pub(crate) async fn serve_digest(
    context: Arc<ConnectionContext>,
    digest: Arc<DigestListener>,
    tcp: TcpStream,
    peer: SocketAddr,
    permit: ConnectionPermit,
    watcher: Watcher,
) {
    let deadline = tokio::time::Instant::now() + context.timeouts.handshake;
    let Some(tls) = handshake(&context, &digest.acceptor, tcp, peer, &permit, deadline).await else { return };
    let tls_facts = Arc::new(TlsFacts::of(tls.get_ref().1.protocol_version(), None));
    let (requests, service_context) = (Arc::new(AtomicU64::new(0)), Arc::clone(&context));
    let counted = Arc::clone(&requests);
    let service = service_fn(move |request| {
        let (context, digest, tls_facts) = (Arc::clone(&service_context), Arc::clone(&digest), Arc::clone(&tls_facts));
        counted.fetch_add(1, Ordering::Relaxed);
        async move {
            let live = snapshot(&context.live);
            let (_, response) =
                context.routes.handle(&live.renderer, Client::Digest(&digest), &tls_facts, peer, request).await;
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    serve_requests(&context, tls, service, peer, permit, &requests, watcher).await;
}

/// The TLS handshake of a connection from `peer` with `acceptor`, once the connection has a
/// handshake place, by `deadline`. A failure is counted by reason, logged and fed to the scan
/// detector.
async fn handshake(
    context: &ConnectionContext,
    acceptor: &TlsAcceptor,
    tcp: TcpStream,
    peer: SocketAddr,
    permit: &ConnectionPermit,
    deadline: tokio::time::Instant,
) -> Option<TlsStream<PhoneSocket>> {
    let Some(place) = context.admission.handshake(permit, deadline).await else {
        tracing::info!(%peer, "no TLS handshake place before the deadline; connection closed");
        context.metrics.connections_refused.fetch_add(1, Ordering::Relaxed);
        context.metrics.handshake_failed("busy");
        return None;
    };
    // What the socket sends leaves at once: with Nagle's algorithm a write after an
    // unacknowledged one (the response after the handshake's flight) waits for the client's ACK.
    let _ = tcp.set_nodelay(true);
    let started = std::time::Instant::now();
    let handshake = tokio::time::timeout_at(deadline, acceptor.accept(PhoneSocket::new(tcp))).await;
    drop(place);
    match handshake {
        Ok(Ok(mut tls)) => {
            context.metrics.handshake_completed(started.elapsed());
            if tls.get_ref().1.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3) {
                tls.get_mut().0.hold_tickets();
            }
            Some(tls)
        }
        Ok(Err(e)) => {
            let reason = handshake_failure(&e);
            tracing::info!(%peer, error = %e, reason, "TLS handshake refused");
            context.metrics.handshake_failed(reason);
            count_miss(context, peer, MissKind::HandshakeRefused);
            None
        }
        Err(_) => {
            tracing::info!(%peer, "TLS handshake deadline passed");
            context.metrics.handshake_failed("timeout");
            count_miss(context, peer, MissKind::HandshakeRefused);
            None
        }
    }
}

/// Serves the requests of one connection with `service` until it ends or its source is
/// banned, holding the connection's `permit` (its place among its source's connections).
async fn serve_requests<S>(
    context: &ConnectionContext,
    tls: TlsStream<PhoneSocket>,
    service: S,
    peer: SocketAddr,
    permit: ConnectionPermit,
    requests: &AtomicU64,
    watcher: Watcher,
) where
    S: hyper::service::HttpService<hyper::body::Incoming>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::ResBody: 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let _permit = permit;
    tokio::select! {
        served = http::serve(tls, service, &context.timeouts, watcher) => {
            if let Err(e) = served {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            // A completed handshake that never carried a request held two slots for nothing:
            // the way to tie up a server while holding a valid certificate.
            if requests.load(Ordering::Relaxed) == 0 {
                count_miss(context, peer, MissKind::NoRequest);
            }
        }
        // A ban closes the source's open connections: requests already on them would
        // otherwise still be answered.
        () = context.admission.until_banned(peer.ip()) => {
            tracing::info!(%peer, "connection closed: its source is banned");
        }
    }
}

/// The identity `chain` names under `live`'s trust, and its leaf's serial number. Right after
/// the handshake its verifier has read both; after a reload, the new verifier has not seen the
/// chain and verifies it under the new trust.
fn identify(
    live: &Live,
    chain: &[CertificateDer<'static>],
    peer: SocketAddr,
) -> (Option<Arc<Certified>>, Option<String>) {
    let (identified, serial) = live.verifier.identify(chain, UnixTime::now());
    let certified = match identified {
        Ok((identity, vendor)) => {
            tracing::debug!(%peer, mac = %identity.mac, anchor = vendor.source(), "device identified");
            Some(Arc::new(Certified { identity, legacy: vendor.is_legacy() }))
        }
        Err(reason) => {
            tracing::info!(%peer, %reason, certificate_serial = serial.as_deref().unwrap_or("-"), "certificate names no device");
            None
        }
    };
    (certified, serial)
}

/// Why a handshake failed, as `sipprov_tls_handshake_failures_total` names it: what the client
/// certificate was refused for, or `protocol` (no TLS, an old version, a broken hello).
fn handshake_failure(error: &std::io::Error) -> &'static str {
    use rustls::{CertificateError, Error};
    match error.get_ref().and_then(|inner| inner.downcast_ref::<Error>()) {
        Some(Error::NoCertificatesPresented) => "no_certificate",
        Some(Error::InvalidCertificate(CertificateError::Expired | CertificateError::ExpiredContext { .. })) => {
            "expired"
        }
        Some(Error::InvalidCertificate(CertificateError::Revoked)) => "revoked",
        // The vendor verifier's refusals carry the identity crate's reason.
        Some(Error::InvalidCertificate(CertificateError::Other(other))) => {
            other.0.downcast_ref::<NoIdentity>().map_or("untrusted", NoIdentity::handshake_reason)
        }
        Some(Error::InvalidCertificate(_)) => "untrusted",
        _ => "protocol",
    }
}

/// Feeds a connection-level miss (a refused handshake, a connection without a request) to the
/// scan detector.
fn count_miss(context: &ConnectionContext, peer: SocketAddr, kind: MissKind) {
    if kind == MissKind::HandshakeRefused {
        context.metrics.handshakes_refused.fetch_add(1, Ordering::Relaxed);
    }
    context.admission.record(peer.ip(), ScanOutcome::Miss(kind), context.admission.now());
}
