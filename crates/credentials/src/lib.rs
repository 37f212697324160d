//! Decides when a phone's secrets may leave the server, and makes sure they then stop existing.
//!
//! The ITSPA paper asks provisioning servers not to keep SIP passwords: deliver them once, then
//! delete them; remove configs never fetched. This crate holds those rules, independent of any
//! database:
//!
//! - [`Password`] and [`OneTimeToken`]: generated secrets (>= 128 bits) whose `Debug` is redacted
//!   and whose memory is wiped on drop.
//! - [`Keyring`]: secrets are stored only sealed (AES-256-GCM, device-bound associated data, key
//!   id per ciphertext) under keys kept outside the database.
//! - [`Lifecycle`]: the pure state machine over a [`DeviceRecord`]; every operation returns the
//!   [`AuditEvent`]s to append in the same transaction.
//! - [`Store`]: what a backend persists; the `conformance` module (feature `test-support`) checks a backend
//!   in one line.
//! - [`Credentials`]: the service the server calls. Each operation is one store transaction.
//! - [`Clock`]: time is injected, so every rule is tested without sleeping.
//!
//! # The lifecycle
//!
//! ```text
//!                 not in the inventory: Pending (listed for the operator, never served)
//!                                   | enrol
//!                                   v
//!   rotate / re-arm ---------> Issued{since} --- no fetch for 14 days (sweep) ---> Dormant
//!   (fresh secrets)                 |                                              (secrets deleted,
//!                                   | first fetch: secrets served, key pinned        nothing served;
//!                                   v                                                re-arm -> Issued)
//!                             Delivered{at} --- fetch or sweep at >= at + grace ---> Purged
//!                             (secrets served                                       (config served
//!                              again in grace)                                       without secrets)
//!
//!   Disabled is a flag over any state: nothing is served until the operator enables the device.
//!   A certificate whose key differs from the pinned one is refused and raises a key-mismatch
//!   alert, until the operator re-arms the device (which clears the pin).
//! ```
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use sipprov_credentials::{
//!     Account, Credentials, FetchRequest, Fetched, Keyring, Lifecycle, ManualClock, MemoryStore, Timestamp,
//! };
//!
//! let keyring = Keyring::parse(&Keyring::generate_file(1, None)?)?;
//! let clock = Arc::new(ManualClock::new(Timestamp::from_unix(1_800_000_000)));
//! let lifecycle = Lifecycle::new(Duration::from_secs(300), Duration::from_secs(14 * 86_400));
//! let credentials = Credentials::new(Arc::new(MemoryStore::default()), lifecycle, Some(keyring), clock.clone());
//!
//! let mac = "00:15:65:00:00:01".parse()?;
//! // A phone with two lines: each account gets its own generated password.
//! let accounts = vec![Account::new(1, "1001", "sp-1001", "Desk"), Account::new(2, "1002", "sp-1002", "Fax")];
//! let issued = credentials.enrol(mac, accounts, Vec::new())?.expect("new device");
//! assert_ne!(issued.sip_password(1), issued.sip_password(2));
//!
//! let request = FetchRequest {
//!     spki_sha256: [7; 32],
//!     peer: "192.0.2.10".into(),
//!     user_agent: None,
//!     certificate_vendor: None,
//!     rating: 5,
//! };
//! let Fetched::Config { secrets: Some(first), .. } = credentials.fetch(&mac, request.clone())? else { panic!() };
//! assert_eq!(first.sip_passwords, issued.sip_passwords, "one fetch delivers every account's password");
//!
//! clock.advance(Duration::from_secs(300));
//! let Fetched::Config { secrets, .. } = credentials.fetch(&mac, request)? else { panic!() };
//! assert!(secrets.is_none(), "purged after the grace: the server no longer has the password");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod api_token;
mod audit;
mod clock;
pub mod columns;
#[cfg(feature = "test-support")]
pub mod conformance;
mod credentials;
mod delivery;
mod device;
mod digest_ha1;
mod document;
mod fleet;
mod lifecycle;
#[cfg(feature = "test-support")]
mod memory_store;
mod portal_totp;
mod portal_user;
mod portal_users;
mod registrar;
mod reveal;
mod sealing;
mod secret;
mod sightings;
mod store;

pub use api_token::{ApiToken, Role};
pub use audit::{
    AuditEvent, AuditKind, AuditQuery, StoredAuditEvent, committed_counts, detail_value, log_committed, quote,
};
pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use credentials::{Credentials, CredentialsError, Fetched, IssuedSecrets, Reissue, Updated};
pub use delivery::{Committed, Decision, DeliverError, Delivery, FetchKind};
pub use device::{
    Account, CredentialState, DeviceProfile, DeviceRecord, DeviceSecrets, FunctionKey, KeyKind, LastSeen, MAX_ACCOUNTS,
    MAX_KEYS, Srtp, Transport, check_accounts,
};
pub use digest_ha1::DigestHa1;
pub use document::{Document, MAX_DOCUMENT_BYTES, check_document};
pub use fleet::{FleetFacts, FleetQuery, FleetRow};
pub use lifecycle::{FetchRefusal, FetchRequest, Lifecycle, RATING_DEVICE_CERTIFICATE, Serve};
#[cfg(feature = "test-support")]
pub use memory_store::MemoryStore;
pub use portal_totp::totp_code;
pub use portal_user::{
    Activation, LOCKOUT, LOCKOUT_FAILURES, MIN_PASSWORD_CHARS, PortalUser, TotpKey, check_email, check_new_password,
    check_user_name,
};
pub use portal_users::{ActivationRefusal, Login, SOFTPHONE_VENDORS};
pub use registrar::{RegistrarChange, RegistrarEntry};
pub use reveal::Revealed;
pub use sealing::{Keyring, Sealed, SealingError, SecretKind};
pub use secret::{OneTimeToken, Password, SecretError};
pub use sightings::Sighting;
pub use store::{
    Abort, Ban, DeviceQuery, DeviceUpdate, MAX_PENDING_KEYS, PendingDevice, PendingQuery, ReadDone, RevealToken, Store,
    StoreError, TokenUse, UpdateDone,
};
