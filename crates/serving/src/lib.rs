//! What sipprov's listeners share, so neither the phone plane nor the admin plane imports the
//! other: the server side of TLS ([`tls`]), the HTTP/1.1 serving loop with its deadlines
//! ([`http`], [`Timeouts`]), what a failed `accept` means ([`accept_failed`]), draining at
//! shutdown ([`Drain`]), who may connect ([`Admission`]: limits, scan detection, bans),
//! [`Metrics`], and the [`ServerState`] the admin API manages.
//!
//! # Example
//!
//! ```
//! use sipprov_serving::{Drain, Timeouts};
//!
//! // A listener hands each connection a watcher; at shutdown it waits for them, bounded.
//! let drain = Drain::new();
//! let watcher = drain.watcher();
//! assert_eq!(Timeouts::default().drain.as_secs(), 30);
//! drop(watcher);
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod accept;
mod admission;
mod drain;
mod error;
mod histogram;
pub mod http;
mod metrics;
mod process_metrics;
mod request_id;
mod softphone;
mod state;
mod timeouts;
pub mod tls;

pub use accept::{accept_failed, accept_until};
pub use admission::{Admission, UnbanError, handshake_place};
pub use drain::{Drain, Watcher};
pub use error::ServerError;
pub use metrics::{HANDSHAKE_FAILURES, Metrics, write_family};
pub use request_id::RequestId;
pub use softphone::{LinkClient, SoftphoneConfig, SoftphoneConfigs};
pub use state::ServerState;
pub use timeouts::Timeouts;
