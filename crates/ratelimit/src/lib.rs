//! Keeps floods, slow scans and credential harvesters off a provisioning server, in bounded memory.
//!
//! Provisioning servers are swept for MAC-named config files, from one address in a burst or from
//! many addresses slowly. This crate decides, per connection and per request, whether a client
//! may proceed, and turns patterns of failed requests into bans (threats 19-21 of the threat
//! model). It knows nothing of sockets, TLS or HTTP: the server passes addresses, outcomes and the
//! current time, and acts on the answers.
//!
//! - [`KeyedLimiter`]: a GCRA rate limit per key (new connections per source, requests per
//!   source, requests per device). A refused check consumes nothing.
//! - [`ConcurrencyCap`] and [`InFlightCap`]: connections open per source and TLS handshakes in
//!   flight overall, held as permits that release themselves on drop.
//! - [`ScanDetector`]: misses per source and per network over sliding windows, by count and by
//!   ratio; it returns a [`ScanVerdict`].
//! - [`BanList`]: bans keyed by address or network, with expiry, escalation for repeat offenders,
//!   an [`Allowlist`] that always wins, and a plain-data [`BanRecord`] for persistence.
//! - [`Gatekeeper`]: all of the above behind `&self`, the one object the server holds.
//! - [`BoundedMap`]: the least-recently-used map every keyed table is built on; no table grows
//!   past its [`Capacity`], however many unique keys arrive.
//!
//! # Example
//!
//! ```
//! use std::net::IpAddr;
//! use sipprov_ratelimit::{Gatekeeper, MissKind, Moment, ScanOutcome, Policy, GateRefusal};
//!
//! // Generic over the device key: the server uses its canonical MAC type.
//! let gate: Gatekeeper<[u8; 6]> = Gatekeeper::new(Policy::default())?;
//! let now = Moment::from_secs(1_000);
//!
//! // A phone: admitted before TLS, then per request; its outcome feeds the detector.
//! let phone: IpAddr = "192.0.2.7".parse()?;
//! let connection = gate.admit_connection(phone, now)?;
//! let handshake = gate.admit_handshake(&connection)?;
//! drop(handshake); // the TLS handshake is over
//! gate.admit_request(phone, Some(&[0x00, 0x15, 0x65, 0x00, 0x00, 0x01]), now)?;
//! assert_eq!(gate.record(phone, ScanOutcome::Hit, now), None);
//!
//! // A scanner sweeping MACs from one address is banned within a bounded number of misses.
//! let scanner: IpAddr = "203.0.113.9".parse()?;
//! let ban = (1..=1_000)
//!     .find_map(|_| gate.record(scanner, ScanOutcome::Miss(MissKind::MacMismatch), now))
//!     .expect("banned");
//! assert_eq!(ban.key.to_string(), "203.0.113.9");
//! assert!(matches!(gate.admit_connection(scanner, now), Err(GateRefusal::Banned { .. })));
//!
//! // The server persists the ban with the wall-clock time, and restores it after a restart.
//! let record = ban.record(1_800_000_000);
//! assert_eq!(record.until_unix, 1_800_000_000 + 600);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Time
//!
//! Nothing here reads a clock. Every call takes the current [`Moment`] (time since an epoch the
//! caller picks, from a monotonic clock), so tests run a fake clock without sleeping. A moment
//! earlier than one already seen counts as no time passing: a clock stepping back neither refunds
//! budget nor ends a ban early. Only persistence needs the wall clock, and takes it explicitly.
//!
//! # Keys
//!
//! Limits are only as good as their keys. Addresses become [`IpPrefix`] values in canonical form
//! (`::ffff:192.0.2.7` is `192.0.2.7`), grouped by [`AddressGrouping`]: an IPv4 source is one
//! address and its network the /24; an IPv6 source is a /64 (one LAN, all of whose addresses its
//! holder can use) and its network the /48. Device keys are whatever type the caller passes, which
//! must already be canonical (a parsed MAC, not the text of a URL), so that every spelling of a
//! MAC shares one budget.
//!
//! # The default policy, for 100,000 phones behind NAT'd offices
//!
//! Many phones share one address, so per-source limits are sized for a whole office. The worst
//! legitimate case is an office of 200 phones behind one address rebooting at once (after a
//! power cut). Each phone opens one TLS connection (four, if it opens one per file) and fetches
//! about four files (a Yealink: `y000000000000.boot`, `y000000000000.cfg`, its model's common
//! file, `{mac}.cfg`), all hits in a correct deployment:
//!
//! | limit (default)                                         | the office needs                    |
//! |---------------------------------------------------------|-------------------------------------|
//! | new connections per source: burst 800, then 4/s         | 200 (800 without keep-alive)        |
//! | open connections per source: 256                       | at most 200                         |
//! | TLS handshakes in flight, all clients: 512              | at most 200                         |
//! | requests per source: burst 2,000, then 20/s             | 200 x 4 = 800 (1,000 at 5 files)    |
//! | requests per device: burst 30, then 1 per 6 s           | 4 to 6                              |
//! | source scan rule: in 10 min, >= 50 misses that are > 50 % of outcomes, or >= 500 misses | 0 misses; even one stray miss per phone is 200 misses against 800 hits = 20 %, and 200 < 500 |
//! | network scan rule: in 1 h, misses from >= 8 sources, and >= 100 misses that are > 50 %, or >= 2,000 | one source: never applies |
//!
//! So the whole office is served from the bursts alone, with no refusal, and is not banned.
//! Meanwhile one address sweeping MACs is banned at its 50th miss if every guess misses, and at
//! its 500th miss within 10 minutes however many hits it pads them with (each hit costs request
//! budget: at most 2,000 + 20/s). Bans last 10 minutes, doubling for each repeat up to 24 hours,
//! so after a handful of cycles a sweeper gets at most ~500 guesses a day from an address, against
//! 16.7 million MACs in one vendor OUI. A sweep spread over many addresses of one /24 is banned as
//! a network once 8 of them have missed and 100 misses have accumulated within the hour: 100
//! seconds at 1 miss per second overall, 2 seconds at 1 miss per second from each of 50 addresses.
//!
//! Caveat: the ratio is judged as outcomes arrive. A deployment where every phone's *first*
//! request misses (a file the provider does not serve) should raise `scan.source.min_misses`
//! above its office size, or allowlist the office.
//!
//! # Memory
//!
//! Every table is a [`BoundedMap`] or is bounded by live permits; a flood of unique keys evicts
//! the least recently used entries and never grows memory past the [`Capacity`] settings. With
//! every default table full that is roughly 130 MB (a source costs about 500 bytes across its
//! rate and scan tables, a ban about 200); lower the capacities on smaller machines.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod allowlist;
mod bans;
mod bounded_map;
mod concurrency;
mod error;
mod gatekeeper;
mod gcra;
mod grouping;
mod keyed_limiter;
mod moment;
mod policy;
mod prefix;
mod scan;
mod window;

pub use allowlist::Allowlist;
pub use bans::{ActiveBan, BanEscalation, BanList, BanRecord, LoadReport, NewBan};
pub use bounded_map::BoundedMap;
pub use concurrency::{CapReached, ConcurrencyCap, InFlightCap, InFlightPermit, KeyedPermit};
pub use error::Error;
pub use gatekeeper::{ConnectionPermit, GateRefusal, Gatekeeper, HandshakePermit, Occupancy};
pub use gcra::{RateLimit, RateLimited};
pub use grouping::AddressGrouping;
pub use keyed_limiter::KeyedLimiter;
pub use moment::Moment;
pub use policy::{Capacity, Policy};
pub use prefix::{IpPrefix, canonical_ip};
pub use scan::{MissKind, MissRule, ScanDetector, ScanOutcome, ScanPolicy, ScanVerdict, Scope};

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex` even if a thread panicked while holding it: the tables hold counters, and a
/// poisoned lock refusing every client forever would be the worse failure.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
