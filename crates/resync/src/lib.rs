//! Asks SIP phones to fetch their configuration again, on demand.
//!
//! After an operator changes a setting, phones learn of it at their next poll, hours later,
//! unless told now. Phones accept an out-of-dialog SIP `NOTIFY` whose `Event` their vendor
//! defines ([`resync_event`]: `check-sync`, `check-sync;reboot=false`, `resync`, ...) and fetch
//! their configuration. Hardened phones accept SIP only from their registrar, so the NOTIFY is
//! sent to the phone's address of record through the registrar as outbound proxy ([`Proxy`]),
//! over UDP, TCP or TLS, as a non-INVITE client transaction with RFC 3261 timers
//! ([`Timers`]). [`Resyncer::resync`] fans out over many phones at a bounded rate and reports
//! each phone's [`Outcome`].
//!
//! # Example
//!
//! A proxy that answers `200 OK` on UDP, and one phone asked through it:
//!
//! ```
//! use std::net::UdpSocket;
//! use sipprov_resync::{Outcome, Proxy, Resyncer, Target, Timers, Transport, resync_event};
//!
//! let proxy = UdpSocket::bind("127.0.0.1:0")?;
//! let port = proxy.local_addr()?.port();
//! std::thread::spawn(move || {
//!     let mut buffer = [0u8; 4096];
//!     let (n, from) = proxy.recv_from(&mut buffer).unwrap();
//!     let request = String::from_utf8_lossy(&buffer[..n]).into_owned();
//!     let via = request.lines().find(|line| line.starts_with("Via:")).unwrap();
//!     let answer = format!("SIP/2.0 200 OK\r\n{via}\r\nCSeq: 1 NOTIFY\r\nContent-Length: 0\r\n\r\n");
//!     proxy.send_to(answer.as_bytes(), from).unwrap();
//! });
//!
//! let resyncer = Resyncer {
//!     proxy: Proxy { host: "127.0.0.1".into(), port, transport: Transport::Udp, tls: None },
//!     from: "sip:provisioning@sip.example.net".into(),
//!     timers: Timers::default(),
//!     per_second: 20,
//!     concurrency: 8,
//! };
//! let target = Target {
//!     label: "00:15:65:00:00:01".into(),
//!     aor: "sip:1001@sip.example.net".into(),
//!     event: resync_event(Some("yealink"), false),
//! };
//! let results = resyncer.resync(vec![target]);
//! assert_eq!(results[0].1, Outcome::Accepted(200));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod event;
mod fanout;
pub mod message;
mod transaction;
mod transport;

pub use event::resync_event;
pub use fanout::{Outcome, Resyncer, Target};
pub use message::Notify;
pub use transaction::{Timers, TransactionError, send};
pub use transport::{Proxy, Transport, tls_config};
