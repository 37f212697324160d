//! The sipprov provisioning server: phones prove who they are with their factory certificate and
//! receive a config rendered for them alone.
//!
//! This crate composes the others; it is the only one that knows TLS, HTTP and sockets.
//! A request goes through these steps, each in its own module:
//!
//! 0. Admission: right after `accept()`, before any TLS work, the rate limiter
//!    (`sipprov-ratelimit`) refuses banned sources and floods; every request's outcome feeds its
//!    scan detector, and the bans it decides are persisted through the store.
//! 1. TLS: rustls with the aws-lc-rs provider; a client certificate chaining to a configured
//!    device CA is required, or the handshake fails. The handshake has a deadline.
//! 2. Identity: the [`TrustStore`](sipprov_identity::TrustStore) finds the vendor anchor the
//!    chain verifies to and reads the MAC from the leaf with that vendor's rule, never from the
//!    URL or headers.
//! 3. Routing: the path is recognised as a device or common file; a device file is served only
//!    when its MAC equals the certificate's and the device is enrolled, in the format of the
//!    certificate's vendor (never the User-Agent's). Everything else gets one uniform 404.
//! 4. The credential lifecycle decides, in one store transaction, whether the password goes out.
//! 5. The vendor template renders the file; responses carry `Cache-Control: no-store`.
//!
//! This crate is the phone plane only. Beside it, `sipprov-admin` serves the admin API (JSON under
//! `/v1`, Prometheus `/metrics`) on its own listener over the same state
//! ([`PhoneServer::admin_state`]); what both listeners use (TLS server certificates, the HTTP
//! serving loop, admission, draining, metrics) is `sipprov-serving`, re-exported here where the
//! phone server's API names it. [`Reloader`] swaps trust anchors, CRLs and templates in a
//! running server; `serve(shutdown)` drains in-flight requests.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
//! use sipprov_credentials::{Credentials, Keyring, Lifecycle, SystemClock};
//! use sipprov_fleet::Fleet;
//! use sipprov_identity::{IdentityRule, TrustStore, VendorTrust};
//! use sipprov_server::tls::ServerCertificate;
//! use sipprov_server::{GroupSettings, PhoneServer, PhoneServerConfig, Timeouts};
//! use sipprov_template::{Layer, LayeredSettings, Renderer};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // TLS material: in production from files; here generated.
//! let server = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?;
//! let device_ca = rcgen::generate_simple_self_signed(vec!["device CA".to_owned()])?;
//! let dir = tempfile::tempdir()?;
//! let store: Arc<dyn sipprov_credentials::Store> =
//!     Arc::new(sipprov_store_sqlite::SqliteStore::open(dir.path().join("db"))?);
//!
//! let config = PhoneServerConfig {
//!     certificate: ServerCertificate {
//!         chain: vec![server.cert.der().clone()],
//!         key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server.signing_key.serialize_der())),
//!     },
//!     rsa_certificate: None,
//!     trust: TrustStore::new(vec![VendorTrust::from_bundle(
//!         "device-ca.pem",
//!         device_ca.cert.pem().as_bytes(),
//!         IdentityRule::CnMac,
//!     )?])?,
//!     registrar: "sip.example.net".into(),
//!     renderer: Arc::new(Renderer::shipped()?),
//!     settings: {
//!         let mut settings = LayeredSettings::new();
//!         settings.set(Layer::Global, "provisioning_url", "https://prov.example.net")?;
//!         settings
//!     },
//!     group_settings: GroupSettings::default(),
//!     fleet: Arc::new(Fleet::open(store.clone(), Arc::new(SystemClock), None)?),
//!     credentials: Arc::new(Credentials::new(
//!         store,
//!         Lifecycle::default(),
//!         Some(Keyring::parse(&Keyring::generate_file(1, None)?)?),
//!         Arc::new(SystemClock),
//!     )),
//!     timeouts: Timeouts::default(),
//!     allowed_sources: None,
//!     proxy_from: None,
//!     limits: sipprov_ratelimit::Policy::default(),
//! };
//! let server = PhoneServer::bind("127.0.0.1:0".parse()?, config).await?;
//! assert!(server.local_addr().port() != 0);
//! // Serve until the shutdown future completes (here: at once; in a daemon: on SIGTERM).
//! server.serve(async {}).await?;
//! # Ok(()) }
//! ```
//!
//! The runnable version, with a generated PKI and a real client, is `examples/src/bin/embed_server.rs`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client_verifier;
mod config;
mod connection;
mod digest_auth;
mod digest_listener;
mod firmware;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod listener;
mod live;
mod phone_socket;
mod phone_tls;
mod proxy_protocol;
mod rating_policy;
mod reload;
mod response;
mod routes;
mod softphone_links;
mod tls_facts;

pub use config::{GroupSettings, PhoneServerConfig};
pub use digest_listener::DigestOptions;
pub use listener::PhoneServer;
pub use rating_policy::{RatingPolicy, RatingRule};
pub use reload::Reloader;
pub use sipprov_serving::{Metrics, ServerError, ServerState, Timeouts, tls};
pub use softphone_links::ONE_TIME_LINK_SETTING;
