//! The phone listener's one route: a device fetching its own config file.

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::{Method, Request, Response};
use sipprov_credentials::{Clock, Lifecycle, Store, deliver};
use sipprov_identity::{DeviceIdentity, Mac};
use sipprov_template::vendors::yealink;
use sipprov_template::{AccountSettings, RequestedFile, Vendor, recognise};

use crate::response::{self, Body};

/// What happened to one request; logged, and later fed to scan detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The config was served; `with_password` says whether the SIP password was in it.
    Served { with_password: bool },
    /// Not a GET or HEAD.
    MethodNotServed,
    /// The path is not a file sipprov serves.
    UnknownPath,
    /// The certificate verified but names no device under the configured rule.
    NoIdentity,
    /// The path names another device's file: an attack, or a misconfigured phone.
    MacMismatch,
    /// The certificate's device is not in the inventory.
    NotEnrolled,
    /// The store failed; nothing was consumed.
    StoreFailed,
    /// The device's settings cannot be written in its vendor's format.
    RenderFailed,
}

/// The state every phone request needs.
pub(crate) struct PhoneRoutes {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) lifecycle: Lifecycle,
    pub(crate) registrar: String,
}

impl PhoneRoutes {
    /// Answers one request from a phone whose certificate yielded `identity`.
    pub(crate) async fn handle<B>(
        self: Arc<Self>,
        identity: Option<Arc<DeviceIdentity>>,
        peer: SocketAddr,
        request: Request<B>,
    ) -> Response<Body> {
        let (outcome, response) = self.route(identity.as_deref(), &request).await;
        let mac = identity.as_ref().map(|identity| identity.mac.to_string());
        tracing::info!(
            %peer,
            mac = mac.as_deref().unwrap_or("-"),
            method = %request.method(),
            path = ?request.uri().path(),
            outcome = ?outcome,
            status = response.status().as_u16(),
            "phone request"
        );
        response
    }

    async fn route<B>(&self, identity: Option<&DeviceIdentity>, request: &Request<B>) -> (Outcome, Response<Body>) {
        if request.method() != Method::GET && request.method() != Method::HEAD {
            return (Outcome::MethodNotServed, response::not_found());
        }
        let RequestedFile::DeviceConfig { vendor: Vendor::Yealink, mac } = recognise(request.uri().path()) else {
            return (Outcome::UnknownPath, response::not_found());
        };
        let Some(identity) = identity else {
            return (Outcome::NoIdentity, response::not_found());
        };
        // Authorization: the certificate's MAC, never the path's, decides whose file this is.
        if identity.mac != mac {
            return (Outcome::MacMismatch, response::not_found());
        }
        self.serve_device_config(mac).await
    }

    async fn serve_device_config(&self, mac: Mac) -> (Outcome, Response<Body>) {
        let store = Arc::clone(&self.store);
        let lifecycle = self.lifecycle;
        let now = self.clock.now();
        // The store is synchronous (SQLite fsyncs): keep it off the async workers.
        let decided = tokio::task::spawn_blocking(move || deliver(&*store, &lifecycle, &mac, now)).await;
        let (device, delivery) = match decided {
            Ok(Ok(Some(found))) => found,
            Ok(Ok(None)) => return (Outcome::NotEnrolled, response::not_found()),
            Ok(Err(e)) => {
                tracing::error!(%mac, error = %e, "store failed during delivery");
                return (Outcome::StoreFailed, response::unavailable());
            }
            Err(e) => {
                tracing::error!(%mac, error = %e, "delivery task failed");
                return (Outcome::StoreFailed, response::unavailable());
            }
        };
        let account = AccountSettings {
            user_name: device.user_name,
            auth_name: device.auth_name,
            display_name: device.display_name,
            registrar: self.registrar.clone(),
        };
        let password = delivery.password.as_ref().map(|p| p.expose());
        match yealink::device_config(&account, password) {
            Ok(body) => (
                Outcome::Served { with_password: password.is_some() },
                response::config_file(body, "text/plain; charset=utf-8"),
            ),
            Err(e) => {
                tracing::error!(%mac, error = %e, "device settings cannot be rendered");
                (Outcome::RenderFailed, response::unavailable())
            }
        }
    }
}
