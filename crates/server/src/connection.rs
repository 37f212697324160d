//! One phone connection: TLS handshake under a deadline, identity, then HTTP/1.1.

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use sipprov_identity::IdentityRule;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use crate::Timeouts;
use crate::routes::phone::PhoneRoutes;

/// Request heads larger than this are refused: phones send a few hundred bytes.
const MAX_REQUEST_HEAD: usize = 16 * 1024;

pub(crate) struct ConnectionContext {
    pub(crate) acceptor: TlsAcceptor,
    pub(crate) identity_rule: IdentityRule,
    pub(crate) timeouts: Timeouts,
    pub(crate) routes: Arc<PhoneRoutes>,
}

/// Serves one accepted TCP connection to the end. Never panics on what the peer sends.
pub(crate) async fn serve(context: Arc<ConnectionContext>, tcp: TcpStream, peer: SocketAddr) {
    let tls = match tokio::time::timeout(context.timeouts.handshake, context.acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::info!(%peer, error = %e, "TLS handshake refused");
            return;
        }
        Err(_) => {
            tracing::info!(%peer, "TLS handshake deadline passed");
            return;
        }
    };

    // Identity comes from the verified leaf certificate only.
    let leaf = tls.get_ref().1.peer_certificates().and_then(|chain| chain.first());
    let identity = match leaf.map(|leaf| context.identity_rule.identify(leaf)) {
        Some(Ok(identity)) => Some(Arc::new(identity)),
        Some(Err(reason)) => {
            tracing::info!(%peer, rule = %context.identity_rule, %reason, "certificate names no device");
            None
        }
        None => None,
    };

    let routes = Arc::clone(&context.routes);
    let service = service_fn(move |request| {
        let routes = Arc::clone(&routes);
        let identity = identity.clone();
        async move { Ok::<_, std::convert::Infallible>(routes.handle(identity, peer, request).await) }
    });
    let served = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(context.timeouts.request_header)
        .max_buf_size(MAX_REQUEST_HEAD)
        .serve_connection(TokioIo::new(tls), service)
        .await;
    if let Err(e) = served {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}
