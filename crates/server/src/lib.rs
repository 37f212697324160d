//! The sipprov provisioning server: phones prove who they are with their factory certificate and
//! receive a config rendered for them alone.
//!
//! This crate composes the others; it is the only one that knows TLS, HTTP and sockets.
//! A request goes through these steps, each in its own module:
//!
//! 1. [`tls`]: rustls with the aws-lc-rs provider; a client certificate chaining to a configured
//!    device CA is required, or the handshake fails. The handshake has a deadline.
//! 2. Identity: the configured [`IdentityRule`](sipprov_identity::IdentityRule) reads the MAC from
//!    the verified leaf certificate, never from the URL or headers.
//! 3. Routing: the path is recognised as a device file; it is served only when its MAC
//!    equals the certificate's and the device is enrolled. Everything else gets one uniform 404.
//! 4. The credential lifecycle decides, in one store transaction, whether the password goes out.
//! 5. The vendor template renders the file; responses carry `Cache-Control: no-store`.
//!
//! # Example
//!
//! ```no_run
//! # async fn run(config: sipprov_server::PhoneServerConfig) -> Result<(), sipprov_server::ServerError> {
//! use sipprov_server::PhoneServer;
//!
//! let server = PhoneServer::bind("127.0.0.1:8443".parse().unwrap(), config).await?;
//! println!("serving phones on {}", server.local_addr());
//! server.serve(async { tokio::signal::ctrl_c().await.ok(); }).await?;
//! # Ok(()) }
//! ```
//!
//! The runnable version, with a generated PKI and a real client, is `examples/src/bin/embed_server.rs`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod connection;
mod error;
mod listener;
mod response;
mod routes;
pub mod tls;

pub use config::{PhoneServerConfig, Timeouts};
pub use error::ServerError;
pub use listener::PhoneServer;
