//! `PhoneServer`: the accept loop of the phone listener.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::connection::{self, ConnectionContext, Sources};
use crate::digest_listener::{DigestListener, DigestOptions};
use crate::live::Live;
use crate::rating_policy::RatingPolicy;
use crate::reload::Reloader;
use crate::routes::phone::PhoneRoutes;
use crate::routes::{DeviceConfig, GroupLayers, KnownDevices};
use sipprov_serving::Admission;
use sipprov_serving::Drain;
use sipprov_serving::Metrics;
use sipprov_serving::tls::ServerCertificates;
use sipprov_serving::{ServerError, ServerState, accept_failed};

use crate::PhoneServerConfig;

/// A bound phone listener, ready to serve; with [`PhoneServer::listen_for_digest`], also the
/// listener for phones that authenticate with an enrolment secret.
pub struct PhoneServer {
    listener: TcpListener,
    digest: Option<(TcpListener, Arc<DigestListener>)>,
    certificates: Arc<ServerCertificates>,
    context: Arc<ConnectionContext>,
    reloader: Reloader,
}

impl PhoneServer {
    /// Checks `config`, builds the TLS configuration and binds `addr` (port 0 picks a free port).
    pub async fn bind(addr: SocketAddr, config: PhoneServerConfig) -> Result<Self, ServerError> {
        let certificates = Arc::new(ServerCertificates::new(config.certificate, config.rsa_certificate)?);
        let live = Live::new(Arc::clone(&certificates), config.trust, config.renderer)?;
        let listener = TcpListener::bind(addr).await.map_err(|source| ServerError::Bind { addr, source })?;
        let metrics = Arc::new(Metrics::new());
        metrics.register_outcomes(&crate::routes::outcome::OUTCOME_LABELS);
        let admission = Arc::new(Admission::new(config.limits, Arc::clone(&config.credentials), Arc::clone(&metrics))?);
        let routes = Arc::new(PhoneRoutes {
            admission: Arc::clone(&admission),
            credentials: config.credentials,
            config: DeviceConfig {
                registrar: config.registrar,
                groups: GroupLayers::new(&config.settings, &config.group_settings).map_err(ServerError::Config)?,
                settings: config.settings,
                claimed_models: Default::default(),
            },
            fleet: config.fleet,
            metrics: Arc::clone(&metrics),
            known: KnownDevices::new(KnownDevices::DEFAULT_CAPACITY),
            rating_policy: std::sync::OnceLock::new(),
        });
        let sources = Sources { allowed: config.allowed_sources, proxies: config.proxy_from };
        let context = Arc::new(ConnectionContext::new(live, config.timeouts, sources, admission, routes, metrics));
        let reloader = Reloader::new(Arc::clone(&certificates), Arc::clone(&context));
        Ok(Self { listener, digest: None, certificates, context, reloader })
    }

    /// Also listens on `addr` for phones without a usable factory certificate: TLS with the
    /// same server certificates and no client certificate, each request authenticated by the
    /// device's enrolment secret (HTTP Digest or Basic, ITSPA rating 4), for the devices
    /// `options.policy` allows it. Same admission, limits, bans and draining.
    pub async fn listen_for_digest(mut self, addr: SocketAddr, options: DigestOptions) -> Result<Self, ServerError> {
        let listener = TcpListener::bind(addr).await.map_err(|source| ServerError::Bind { addr, source })?;
        let port = listener.local_addr().map_err(|source| ServerError::Bind { addr, source })?.port();
        let global = self.context.routes.config.settings.get("provisioning_url").unwrap_or_default();
        let digest = DigestListener::new(Arc::clone(&self.certificates), options, global, port)?;
        self.digest = Some((listener, Arc::new(digest)));
        Ok(self)
    }

    /// The lowest ITSPA rating each device may be provisioned with, by vendor, model and site:
    /// what the Digest listener and legacy trust entries (both rated 4) are held to. Without
    /// it, 4 is enough for every device. Set once; a second call changes nothing.
    pub fn with_rating_policy(self, policy: RatingPolicy) -> Self {
        let _ = self.context.routes.rating_policy.set(policy);
        self
    }

    /// Where phones authenticating with a secret connect, if they may.
    pub fn digest_addr(&self) -> Option<SocketAddr> {
        self.digest.as_ref().and_then(|(listener, _)| listener.local_addr().ok())
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        // A bound TcpListener always has a local address; fall back to a harmless value anyway.
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Swaps in new trust anchors and templates without dropping connections.
    pub fn reloader(&self) -> Reloader {
        self.reloader.clone()
    }

    /// The server certificates the certificate and Digest listeners present:
    /// [`ServerCertificates::replace`] renews them while they serve.
    pub fn certificates(&self) -> Arc<ServerCertificates> {
        Arc::clone(&self.certificates)
    }

    /// What the admin listener needs to see and manage this server (inventory, bans, metrics).
    pub fn admin_state(&self) -> ServerState {
        ServerState {
            credentials: Arc::clone(&self.context.routes.credentials),
            admission: Arc::clone(&self.context.admission),
            metrics: Arc::clone(&self.context.metrics),
            fleet: Arc::clone(&self.context.routes.fleet),
        }
    }

    /// What the softphone portal delivers one-time links' configs through: rendered and
    /// recorded here, as a phone's fetch is.
    pub fn softphone_configs(&self) -> Arc<dyn sipprov_serving::SoftphoneConfigs> {
        Arc::new(crate::softphone_links::LinkConfigs { context: Arc::clone(&self.context) })
    }

    /// Accepts and serves connections until `shutdown` completes; then stops accepting, lets
    /// in-flight requests finish within the drain deadline, and returns.
    ///
    /// While serving, the client facts of served fetches (last seen, address, User-Agent, and
    /// what the User-Agent says: `sipprov_fleet::read_facts`) are written to the store every few
    /// seconds in one batch, and once more at the end.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
        tokio::pin!(shutdown);
        let drain = Drain::new();
        let credentials = Arc::clone(&self.context.routes.credentials);
        let flushing = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(SIGHTINGS_FLUSH_EVERY);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                flush_sightings(Arc::clone(&credentials)).await;
            }
        });
        let digest_accept = async |digest: &Option<(TcpListener, Arc<DigestListener>)>| match digest {
            Some((listener, _)) => listener.accept().await,
            None => std::future::pending().await,
        };
        // Each connection's future is spawned boxed: it is about 7 KB (TLS and HTTP state),
        // which tokio would otherwise copy into the task and again as the task finishes.
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = digest_accept(&self.digest) => match accepted {
                    Ok((tcp, peer)) => if let (Some(permit), Some((_, digest))) = (self.context.admit(peer), &self.digest) {
                        let (context, digest) = (Arc::clone(&self.context), Arc::clone(digest));
                        tokio::spawn(Box::pin(connection::serve_digest(context, digest, tcp, peer, permit, drain.watcher())));
                    },
                    Err(e) => accept_failed(e, "digest").await?,
                },
                accepted = self.listener.accept() => match accepted {
                    // A load balancer's connection: the client it names is admitted, once read.
                    Ok((tcp, peer)) if self.context.sources.is_proxy(peer.ip()) => {
                        tokio::spawn(Box::pin(connection::serve_proxied(Arc::clone(&self.context), tcp, peer, drain.watcher())));
                    }
                    // Closed at once when refused: a refused client costs no TLS work.
                    Ok((tcp, peer)) => if let Some(permit) = self.context.admit(peer) {
                        tokio::spawn(Box::pin(connection::serve_direct(Arc::clone(&self.context), tcp, peer, permit, drain.watcher())));
                    },
                    Err(e) => accept_failed(e, "phone").await?,
                },
            }
        }
        drop(self.listener);
        drop(self.digest);
        let deadline = self.context.timeouts.drain;
        if drain.finish(deadline).await {
            tracing::info!("phone listener stopped; every request finished");
        } else {
            tracing::warn!(
                deadline_seconds = deadline.as_secs(),
                "phone listener stopped; requests still running were cut off"
            );
        }
        flushing.abort();
        flush_sightings(Arc::clone(&self.context.routes.credentials)).await;
        Ok(())
    }
}

/// How often the client facts of served fetches are written: what a crash can lose of them.
const SIGHTINGS_FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Writes the sightings held in memory, off the async workers; a failure keeps them for the
/// next flush.
async fn flush_sightings(credentials: Arc<sipprov_credentials::Credentials>) {
    match tokio::task::spawn_blocking(move || credentials.flush_sightings(sipprov_fleet::read_facts)).await {
        Ok(Ok(written)) => tracing::debug!(written, "sightings written"),
        Ok(Err(e)) => tracing::warn!(error = %e, "cannot write sightings; kept for the next flush"),
        Err(e) => tracing::warn!(error = %e, "sightings flush task failed"),
    }
}
