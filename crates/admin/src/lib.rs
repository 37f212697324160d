//! The admin listener: a JSON API under `/v1` and Prometheus `/metrics`, on its own TLS
//! listener (loopback by default), for the operator's tools and the `sipprov` CLI.
//!
//! Every call but `/v1/health` needs a bearer token; tokens are stored hashed and carry a role
//! (`auditor` reads, `operator` changes devices and bans, `admin` also creates tokens). Calls
//! that hand over secrets (HA1, passwords, tokens) answer with `Cache-Control: no-store`.
//!
//! The admin plane is its own crate beside the phone plane (`sipprov-server`): both build on
//! `sipprov-serving`, and neither imports the other. An ITSP mounts it over the state of its own
//! phone listener ([`ServerState`]): `AdminServer::bind(addr, config, phones.admin_state())`,
//! then `serve(shutdown)`. `sipprovd` does exactly that.

// Handlers return a finished response as their `Err`: built once per call, never propagated far.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![allow(clippy::result_large_err)]

mod audit;
mod body;
mod call;
mod devices;
mod firmware;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod import;
mod import_body;
mod import_rows;
mod model;
mod registrar;
mod reports;
mod resync;
mod routes;
mod service;
mod time;
mod users;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use hyper::body::Incoming;
use hyper::header::AUTHORIZATION;
use hyper::service::service_fn;
use hyper::{Request, StatusCode};
use sipprov_credentials::ApiToken;
use sipprov_ratelimit::{ConnectionPermit, Gatekeeper, Moment, Policy};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use body::{AdminResponse, error};
use call::{AdminContext, Call, blocking};
pub use resync::{MAX_DEVICES as MAX_RESYNC_DEVICES, ResyncConfig};
use routes::{Action, Matched, Route};
use sipprov_serving::tls::{self, ServerCertificate, ServerCertificates};
pub use sipprov_serving::{ServerError, ServerState, Timeouts};
use sipprov_serving::{Watcher, accept_until, handshake_place, http};
pub use users::PortalLinks;

/// What the admin listener needs besides the phone server's state.
#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// The admin listener's certificate (clients verify it against the admin CA).
    pub certificate: ServerCertificate,
    /// The SIP digest realm the registrar challenges with: HA1 values are computed for it.
    pub realm: String,
    /// Deadlines for handshakes, request heads and the drain at shutdown.
    pub timeouts: Timeouts,
    /// Connections per source, their rate, and handshakes in flight (per source, per network,
    /// overall), applied before any TLS work as on the phone listener. Request rates and scan
    /// detection are not applied: every call needs a token.
    pub limits: Policy,
    /// Days without a fetch after which a device counts as stale in reports and metrics.
    pub stale_days: u64,
    /// The registrars and their outbox, if any are configured (`/v1/registrar`).
    pub outbox: Option<Arc<sipprov_registrar::Outbox>>,
    /// How re-sync NOTIFYs are sent, if configured (`/v1/resync`).
    pub resync: Option<ResyncConfig>,
    /// The softphone portal's links, if a portal is configured (`/v1/users`, `/v1/softphones`).
    pub portal: Option<PortalLinks>,
}

/// A bound admin listener.
pub struct AdminServer {
    listener: TcpListener,
    acceptor: TlsAcceptor,
    certificates: Arc<ServerCertificates>,
    timeouts: Timeouts,
    context: Arc<AdminContext>,
    gate: Arc<Gatekeeper<()>>,
    // The gatekeeper's clock: monotonic.
    epoch: Instant,
}

impl AdminServer {
    /// Builds the TLS configuration and binds `addr`.
    pub async fn bind(addr: SocketAddr, config: AdminConfig, state: ServerState) -> Result<Self, ServerError> {
        let certificates = Arc::new(ServerCertificates::new(config.certificate, None)?);
        let acceptor = TlsAcceptor::from(tls::admin_config(Arc::clone(&certificates))?);
        let gate = Gatekeeper::new(config.limits).map_err(|e| ServerError::Limits(e.to_string()))?;
        let listener = TcpListener::bind(addr).await.map_err(|source| ServerError::Bind { addr, source })?;
        state.metrics.register_admin_routes(routes::ROUTES.iter().map(|route| (route.method.as_str(), route.path)));
        state.metrics.register_admin_routes([("-", "unmatched")]);
        let context = Arc::new(AdminContext {
            state,
            realm: config.realm,
            stale_days: config.stale_days,
            outbox: config.outbox,
            resync: config.resync,
            portal: config.portal,
            summary: std::sync::Mutex::default(),
        });
        Ok(Self {
            listener,
            acceptor,
            certificates,
            timeouts: config.timeouts,
            context,
            gate: Arc::new(gate),
            epoch: Instant::now(),
        })
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

    /// Serves until `shutdown` completes, then lets running calls finish within the drain deadline.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
        let Self { listener, acceptor, timeouts, context, gate, epoch, .. } = self;
        accept_until(listener, shutdown, timeouts.drain, "admin", |tcp, peer, watcher| {
            match gate.admit_connection(peer.ip(), Moment::from_duration(epoch.elapsed())) {
                Ok(permit) => {
                    let admitted = Admitted { gate: Arc::clone(&gate), permit };
                    let (acceptor, context) = (acceptor.clone(), Arc::clone(&context));
                    tokio::spawn(serve_connection(acceptor, context, timeouts, tcp, peer, admitted, watcher));
                }
                // Closed at once: a refused client costs no TLS work.
                Err(refusal) => tracing::debug!(%peer, %refusal, "admin connection refused"),
            }
        })
        .await
    }
}

/// A connection the admin gatekeeper admitted, with its place held until it ends.
struct Admitted {
    gate: Arc<Gatekeeper<()>>,
    permit: ConnectionPermit,
}

async fn serve_connection(
    acceptor: TlsAcceptor,
    context: Arc<AdminContext>,
    timeouts: Timeouts,
    tcp: TcpStream,
    peer: SocketAddr,
    admitted: Admitted,
    watcher: Watcher,
) {
    let deadline = tokio::time::Instant::now() + timeouts.handshake;
    let Some(place) = handshake_place(&admitted.gate, &admitted.permit, deadline).await else {
        return tracing::info!(%peer, "no admin TLS handshake place before the deadline; connection closed");
    };
    let handshake = tokio::time::timeout_at(deadline, acceptor.accept(tcp)).await;
    drop(place);
    let tls = match handshake {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => return tracing::info!(%peer, error = %e, "admin TLS handshake refused"),
        Err(_) => return tracing::info!(%peer, "admin TLS handshake deadline passed"),
    };
    let service = service_fn(move |request| {
        let context = Arc::clone(&context);
        async move { Ok::<_, std::convert::Infallible>(handle(context, peer, request).await) }
    });
    if let Err(e) = http::serve(tls, service, &timeouts, watcher).await {
        tracing::debug!(%peer, error = %e, "admin connection ended with an error");
    }
}

async fn handle(context: Arc<AdminContext>, peer: SocketAddr, request: Request<Incoming>) -> AdminResponse {
    let (started, request_id) = (std::time::Instant::now(), sipprov_serving::RequestId::next());
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let (response, caller, matched) = route(&context, request).await;
    let (route_method, route_path) = matched.map_or(("-", "unmatched"), |route| (route.method.as_str(), route.path));
    context.state.metrics.count_admin_call(route_method, route_path, response.status().as_u16());
    tracing::info!(
        %request_id,
        %peer,
        method = method.as_str(),
        path = path.as_str(),
        caller = caller.as_deref().unwrap_or("-"),
        status = response.status().as_u16(),
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        "admin call"
    );
    response
}

/// Answers one admin call; also says who called (`token:<name>`) and which route it matched.
async fn route(
    context: &AdminContext,
    request: Request<Incoming>,
) -> (AdminResponse, Option<String>, Option<&'static Route>) {
    let (route, captured) = match routes::find(request.method(), request.uri().path()) {
        Matched::Route(route, captured) => (route, captured),
        Matched::WrongMethod => {
            return (error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed on this path"), None, None);
        }
        Matched::NotFound => return (error(StatusCode::NOT_FOUND, "no such API path"), None, None),
    };
    let query = match routes::query_pairs(request.uri().query()) {
        Ok(query) => query,
        Err(message) => return (error(StatusCode::BAD_REQUEST, &message), None, Some(route)),
    };
    let token = match route.role {
        None => None,
        Some(required) => match authenticate(context, &request).await {
            Err(response) => return (response, None, Some(route)),
            Ok(token) if !token.role.allows(required) => {
                let message = format!("the {} role may not do this (needs {required})", token.role);
                return (error(StatusCode::FORBIDDEN, &message), Some(format!("token:{}", token.name)), Some(route));
            }
            Ok(token) => Some(token),
        },
    };
    let caller = token.map(|token| format!("token:{}", token.name));
    let call = Call {
        captured,
        query,
        caller: caller.clone().unwrap_or_else(|| "anonymous".into()),
        body: request.into_body(),
    };
    let response = match route.action {
        Action::Health => service::health(context).await,
        Action::Metrics => service::metrics(context).await,
        Action::ListBans => service::list_bans(context).await,
        Action::RemoveBan => service::remove_ban(context, call).await,
        Action::CreateToken => service::create_token(context, call).await,
        Action::ListTokens => service::list_tokens(context).await,
        Action::RevokeToken => service::revoke_token(context, call).await,
        Action::ListDevices => devices::list(context, call).await,
        Action::CreateDevice => devices::create(context, call).await,
        Action::ShowDevice => devices::show(context, call).await,
        Action::UpdateDevice => devices::update(context, call).await,
        Action::DeleteDevice => devices::delete(context, call).await,
        Action::Rearm => devices::reissue(context, call, devices::Reissue::Rearm).await,
        Action::Rotate => devices::reissue(context, call, devices::Reissue::Rotate).await,
        Action::Disable => devices::set_disabled(context, call, true).await,
        Action::Enable => devices::set_disabled(context, call, false).await,
        Action::IssueSecret => devices::issue_secret(context, call).await,
        Action::RemoveSecret => devices::remove_secret(context, call).await,
        Action::ListPending => devices::list_pending(context, call).await,
        Action::EnrolPending => devices::enrol_pending(context, call).await,
        Action::Import => import::run(context, call).await,
        Action::Audit => audit::query(context, call).await,
        Action::Suspicious => audit::suspicious(context, call).await,
        Action::ListFirmware => firmware::list(context).await,
        Action::AddFirmware => firmware::add(context, call).await,
        Action::RemoveFirmware => firmware::remove(context, call).await,
        Action::FlagFirmware => firmware::flag(context, call).await,
        Action::SetTarget => firmware::set_target(context, call).await,
        Action::ClearTarget => firmware::clear_target(context, call).await,
        Action::FirmwareReport => reports::firmware(context, call).await,
        Action::StaleReport => reports::stale(context, call).await,
        Action::RatingsReport => reports::ratings(context).await,
        Action::MismatchReport => reports::mismatch(context, call).await,
        Action::RegistrarStatus => registrar::status(context).await,
        Action::RegistrarSync => registrar::sync(context, call).await,
        Action::Resync => resync::resync(context, call).await,
        Action::CreateUser => users::create(context, call).await,
        Action::ListUsers => users::list(context).await,
        Action::RemoveUser => users::remove(context, call).await,
        Action::ResetUser => users::reset(context, call).await,
        Action::SoftphoneLink => users::link(context, call).await,
    };
    (response, caller, Some(route))
}

/// The bearer token's stored record; the same 401 for a missing, malformed or unknown token.
async fn authenticate(context: &AdminContext, request: &Request<Incoming>) -> Result<ApiToken, AdminResponse> {
    let unauthorized = || error(StatusCode::UNAUTHORIZED, "a valid bearer token is required");
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(|token| token.trim().to_owned())
        .filter(|token| !token.is_empty() && token.len() <= 256)
        .ok_or_else(unauthorized)?;
    let credentials = Arc::clone(&context.state.credentials);
    match blocking(move || credentials.authenticate(&presented)).await {
        Ok(Some(token)) => Ok(token),
        Ok(None) => Err(unauthorized()),
        // Logged by `blocking`; an unauthenticated caller learns nothing about the store.
        Err(_) => Err(error(StatusCode::SERVICE_UNAVAILABLE, "service unavailable")),
    }
}
