//! `PhoneServer`: the accept loop of the phone listener.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use sipprov_ratelimit::Allowlist;

use crate::admission::Admission;
use crate::connection::{self, ConnectionContext};
use crate::routes::phone::PhoneRoutes;
use crate::{PhoneServerConfig, ServerError, tls};

/// A bound phone listener, ready to serve.
pub struct PhoneServer {
    listener: TcpListener,
    allowed_sources: Option<Allowlist>,
    context: Arc<ConnectionContext>,
}

impl PhoneServer {
    /// Checks `config`, builds the TLS configuration and binds `addr` (port 0 picks a free port).
    pub async fn bind(addr: SocketAddr, config: PhoneServerConfig) -> Result<Self, ServerError> {
        let tls = tls::server_config(config.server_chain, config.server_key, &config.trust)?;
        let listener = TcpListener::bind(addr).await.map_err(|source| ServerError::Bind { addr, source })?;
        let admission = Arc::new(Admission::new(config.limits, Arc::clone(&config.credentials))?);
        let routes = Arc::new(PhoneRoutes {
            admission: Arc::clone(&admission),
            credentials: config.credentials,
            registrar: config.registrar,
            renderer: config.renderer,
            settings: config.settings,
        });
        let context = Arc::new(ConnectionContext {
            acceptor: TlsAcceptor::from(tls),
            trust: config.trust,
            timeouts: config.timeouts,
            admission,
            routes,
        });
        Ok(Self { listener, allowed_sources: config.allowed_sources, context })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        // A bound TcpListener always has a local address; fall back to a harmless value anyway.
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Accepts and serves connections until `shutdown` completes.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => return Ok(()),
                accepted = self.listener.accept() => match accepted {
                    Ok((_, peer)) if self.allowed_sources.as_ref().is_some_and(|allowed| !allowed.contains(peer.ip())) => {
                        tracing::debug!(%peer, "connection from outside the allowed sources closed");
                    }
                    Ok((tcp, peer)) => match self.context.admission.connection(peer.ip()) {
                        Ok(permit) => {
                            tokio::spawn(connection::serve(Arc::clone(&self.context), tcp, peer, permit));
                        }
                        // Closed at once: a refused client costs no TLS work.
                        Err(refusal) => tracing::debug!(%peer, %refusal, "connection refused"),
                    },
                    // Running out of file descriptors or a reset before accept: transient.
                    Err(e) if is_transient(&e) => {
                        tracing::warn!(error = %e, "accept failed; continuing");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                    Err(e) => return Err(ServerError::Accept(e)),
                },
            }
        }
    }
}

fn is_transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionAborted | ConnectionReset | Interrupted | WouldBlock | TimedOut)
        || e.raw_os_error().is_some_and(|code| code == 24 || code == 23) // EMFILE, ENFILE
}
