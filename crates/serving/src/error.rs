//! Errors that stop the server from starting or serving.

use std::net::SocketAddr;

/// The server could not be set up or could not keep accepting connections.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The TLS configuration was refused (bad key, unusable CA, no CA at all).
    #[error("TLS configuration: {0}")]
    Tls(String),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The rate-limit policy is unusable, or the stored bans cannot be read.
    #[error("rate limits: {0}")]
    Limits(String),
    /// A listener's own configuration is unusable (a URL, its pages).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Accepting connections failed in a way that will not recover.
    #[error("accepting connections failed: {0}")]
    Accept(#[source] std::io::Error),
}
