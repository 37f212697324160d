//! Decides when a SIP secret may leave the server, and makes sure it then stops existing.
//!
//! The ITSPA paper asks provisioning servers not to keep SIP passwords: deliver them once, then
//! delete them. This crate holds that rule, independent of any database:
//!
//! - [`SipPassword`]: a generated secret (131 bits, alphanumeric so every vendor format carries
//!   it) whose `Debug` is redacted and whose memory is wiped on drop.
//! - [`DeviceRecord`] and [`CredentialState`]: what the server knows about an enrolled phone.
//! - [`Lifecycle`]: the pure state machine. A fetch while `Issued` delivers the password and moves
//!   to `Delivered`; fetches within the grace window still get it; the first fetch after the grace
//!   purges it and the config is rendered without the password key.
//! - [`Store`]: the persistence a backend implements; [`deliver`] runs one fetch through the
//!   lifecycle in one store transaction.
//! - [`Clock`]: time is injected, so every rule is tested without sleeping.
//! - `MemoryStore` (feature `memory-store`): a non-durable store for tests and experiments.
//!
//! ```text
//!   enrol ──> Issued ──first fetch──> Delivered{at} ──fetch at >= at + grace──> Purged
//!              (password served)       (password served)                          (no password)
//! ```
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use sipprov_credentials::{CredentialState, DeviceRecord, Lifecycle, Timestamp};
//!
//! let mac = "00:15:65:00:00:01".parse()?;
//! let mut device = DeviceRecord::enrol(mac, "1001", "Front desk", Timestamp::from_unix(0))?;
//! let lifecycle = Lifecycle::new(Duration::from_secs(300));
//!
//! let first = lifecycle.on_fetch(&mut device, Timestamp::from_unix(10));
//! assert!(first.password.is_some());
//! assert_eq!(device.state, CredentialState::Delivered { at: Timestamp::from_unix(10) });
//!
//! let later = lifecycle.on_fetch(&mut device, Timestamp::from_unix(10 + 300));
//! assert!(later.password.is_none());
//! assert_eq!(device.state, CredentialState::Purged);
//! assert!(device.password.is_none(), "the password no longer exists on the server");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod clock;
mod device;
mod lifecycle;
#[cfg(feature = "memory-store")]
mod memory_store;
mod secret;
mod store;

pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use device::{CredentialState, DeviceRecord};
pub use lifecycle::{Delivery, Lifecycle};
#[cfg(feature = "memory-store")]
pub use memory_store::MemoryStore;
pub use secret::{SecretError, SipPassword};
pub use store::{Store, StoreError, deliver};
