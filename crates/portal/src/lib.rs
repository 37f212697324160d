//! The softphone portal: where an ITSP's end users set up their softphones without a password
//! ever travelling by e-mail (ITSPA: "a reveal mechanism from a web page secured by login").
//!
//! - The operator creates a user with its softphones (`Credentials::create_portal_user`); the
//!   user activates the account from a one-time link and chooses a password (argon2id).
//! - Logged in (session cookie `__Host-`, `HttpOnly`, `SameSite=Strict`; CSRF token on every
//!   form; idle and absolute timeouts), the user sees each softphone's SIP password once, after
//!   entering the password again; a second attempt is an alert. A new password is one click.
//! - Or the user makes a one-time provisioning link, shown as a QR code: a softphone fetching
//!   it gets its config (Linphone's lpconfig XML), once, within 15 minutes.
//!
//! An optional second factor (TOTP, `SecondFactor`) may be offered or required. Logins lock
//! after 5 failures per account (in the store) and 10 per address (here). The
//! listener shares the phone listener's admission: bans, connection and handshake caps, request
//! rates. Every answer carries a strict Content-Security-Policy, HSTS, `nosniff`,
//! `Referrer-Policy: no-referrer` and `Cache-Control: no-store`. Pages are server-rendered
//! HTML (minijinja, auto-escaped) that work without JavaScript.
//!
//! The portal plane stands beside the phone and admin planes on `sipprov-serving`: configs are
//! rendered by the phone plane through [`SoftphoneConfigs`] (`PhoneServer::softphone_configs`).
//!
//! # Example
//!
//! ```
//! use sipprov_portal::SessionPolicy;
//!
//! // Sessions end after 15 idle minutes, and 8 hours after login whatever happens.
//! let policy = SessionPolicy::default();
//! assert_eq!((policy.idle.as_secs(), policy.absolute.as_secs()), (900, 8 * 3600));
//! ```
// Handlers return a finished page as their `Err`: built once per request, never propagated far.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![allow(clippy::result_large_err)]

mod account_pages;
mod address_guard;
mod context;
mod form;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod pages;
mod provisioning;
mod qr;
mod response;
mod routes;
mod second_factor_pages;
mod sessions;
mod softphone_pages;
mod token;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper::{Request, StatusCode};
use sipprov_serving::tls::{self, ServerCertificate, ServerCertificates};
use sipprov_serving::{Watcher, accept_until, http};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use context::Portal;
pub use sessions::SessionPolicy;
pub use sipprov_serving::{ServerError, ServerState, SoftphoneConfigs, Timeouts};

/// What the portal listener needs besides the phone server's state.
#[derive(Debug, Clone)]
pub struct PortalConfig {
    /// The portal's certificate (browsers and softphones verify it: a public CA's, usually).
    pub certificate: ServerCertificate,
    /// Where users and softphones reach the portal, `https://host[:port]`: the links it makes
    /// start with it.
    pub public_url: String,
    /// The registrar shown with a revealed password, for accounts without their own.
    pub registrar: String,
    /// The service's name, in every page's title and header.
    pub brand: String,
    /// How long a provisioning link works [default: 15 minutes].
    pub link_ttl: Duration,
    /// How long sessions last.
    pub sessions: SessionPolicy,
    /// Whether users may, or must, give a TOTP code after their password.
    pub second_factor: SecondFactor,
    /// Deadlines for handshakes, request heads and the drain at shutdown.
    pub timeouts: Timeouts,
}

/// Whether the portal asks for a second factor (a TOTP code from an authenticator app) after
/// the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecondFactor {
    /// Never: passwords only.
    Off,
    /// Users may set one up; those who did are asked for a code.
    #[default]
    Optional,
    /// Every user sets one up at the first login, before seeing any softphone.
    Required,
}

impl SecondFactor {
    /// The value named `off`, `optional` or `required`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "off" => Some(Self::Off),
            "optional" => Some(Self::Optional),
            "required" => Some(Self::Required),
            _ => None,
        }
    }
}

/// How long a provisioning link works unless configured otherwise.
pub const DEFAULT_LINK_TTL: Duration = Duration::from_secs(15 * 60);

/// How long an activation link works unless configured otherwise.
pub const DEFAULT_ACTIVATION_TTL: Duration = Duration::from_secs(72 * 3600);

/// A bound portal listener.
pub struct PortalServer {
    listener: TcpListener,
    acceptor: TlsAcceptor,
    certificates: Arc<ServerCertificates>,
    timeouts: Timeouts,
    portal: Arc<Portal>,
}

impl PortalServer {
    /// Builds the TLS configuration (TLS 1.3 and 1.2: Linphone's TLS library speaks 1.2) and
    /// binds `addr`, over the phone server's `state`; `configs` renders softphone configs
    /// (`PhoneServer::softphone_configs`).
    pub async fn bind(
        addr: SocketAddr,
        config: PortalConfig,
        state: ServerState,
        configs: Arc<dyn SoftphoneConfigs>,
    ) -> Result<Self, ServerError> {
        if !config.public_url.starts_with("https://") || config.public_url.ends_with('/') {
            return Err(ServerError::Config(format!(
                "the portal's public URL {:?} must be https://host[:port], without a trailing slash",
                config.public_url
            )));
        }
        let certificates = Arc::new(ServerCertificates::new(config.certificate, None)?);
        let acceptor = TlsAcceptor::from(tls::admin_config(Arc::clone(&certificates))?);
        let pages = context::pages(&config.brand)?;
        let listener = TcpListener::bind(addr).await.map_err(|source| ServerError::Bind { addr, source })?;
        let portal = Arc::new(Portal {
            state,
            configs,
            sessions: sessions::Sessions::new(config.sessions),
            guard: address_guard::AddressGuard::default(),
            pages,
            public_url: config.public_url,
            registrar: config.registrar,
            link_ttl: config.link_ttl,
            second_factor: config.second_factor,
            brand: config.brand,
        });
        Ok(Self { listener, acceptor, certificates, timeouts: config.timeouts, portal })
    }

    /// The server certificates this listener presents: [`ServerCertificates::replace`] renews
    /// them while it serves.
    pub fn certificates(&self) -> Arc<ServerCertificates> {
        Arc::clone(&self.certificates)
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Serves until `shutdown` completes, then lets running requests finish within the drain
    /// deadline.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
        let Self { listener, acceptor, timeouts, portal, .. } = self;
        accept_until(listener, shutdown, timeouts.drain, "portal", |tcp, peer, watcher| {
            let (acceptor, portal) = (acceptor.clone(), Arc::clone(&portal));
            tokio::spawn(serve_connection(acceptor, portal, timeouts, tcp, peer, watcher));
        })
        .await
    }
}

async fn serve_connection(
    acceptor: TlsAcceptor,
    portal: Arc<Portal>,
    timeouts: Timeouts,
    tcp: TcpStream,
    peer: SocketAddr,
    watcher: Watcher,
) {
    let admission = Arc::clone(&portal.state.admission);
    // Closed at once, before any TLS work: a banned or flooding source.
    let Ok(permit) = admission.connection(peer.ip()) else {
        return tracing::debug!(%peer, "portal connection refused");
    };
    let deadline = tokio::time::Instant::now() + timeouts.handshake;
    let Some(place) = admission.handshake(&permit, deadline).await else {
        return tracing::info!(%peer, "no portal TLS handshake place before the deadline; connection closed");
    };
    let handshake = tokio::time::timeout_at(deadline, acceptor.accept(tcp)).await;
    drop(place);
    let tls = match handshake {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => return tracing::info!(%peer, error = %e, "portal TLS handshake refused"),
        Err(_) => return tracing::info!(%peer, "portal TLS handshake deadline passed"),
    };
    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
        let portal = Arc::clone(&portal);
        async move { Ok::<_, std::convert::Infallible>(handle(&portal, peer, request).await) }
    });
    if let Err(e) = http::serve(tls, service, &timeouts, watcher).await {
        tracing::debug!(%peer, error = %e, "portal connection ended with an error");
    }
    drop(permit);
}

async fn handle(
    portal: &Portal,
    peer: SocketAddr,
    request: Request<hyper::body::Incoming>,
) -> response::PortalResponse {
    let started = std::time::Instant::now();
    let method = request.method().clone();
    if portal.state.admission.request(peer.ip(), None).is_err() {
        tracing::info!(%peer, "portal request over its rate; refused");
        return portal.message(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests",
            "Please wait a moment and try again.",
            None,
        );
    }
    let (response, route) = routes::answer(portal, request, peer.ip()).await;
    tracing::info!(
        %peer,
        method = method.as_str(),
        route,
        status = response.status().as_u16(),
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        "portal request"
    );
    response
}
