//! Tells SIP registrars each account's digest HA1, never the password, as sipprov issues and
//! deletes them.
//!
//! The ITSPA paper asks ITSPs to keep SIP passwords off their servers. sipprov issues each
//! account's password and delivers it to the phone once; the registrar needs only
//! HA1 = H(user ":" realm ":" password) to check the phone's digest authentication. This crate
//! carries that HA1 to the registrar:
//!
//! - [`Registrar`]: what a registrar implements (apply a [`Change`], optionally list its users).
//!   Built in: [`KamailioSubscriber`] (Kamailio's `auth_db` `subscriber` table in PostgreSQL),
//!   [`KamailioMysql`] (the same in MySQL or MariaDB on this host) and [`Webhook`] (a JSON
//!   POST signed with HMAC-SHA256).
//! - [`Outbox`]: drains the store's registrar outbox ([`Credentials::with_registrar_realm`]
//!   queues a change in the same transaction as every enrolment, rotation, re-arm, account
//!   change and deletion) into every registrar, in order, retrying with backoff; each result
//!   is audited. [`Outbox::sync`] rebuilds a registrar from the HA1 values kept.
//!
//! # Example
//!
//! ```
//! use std::collections::BTreeMap;
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//! use sipprov_credentials::{Account, Credentials, Keyring, Lifecycle, MemoryStore, SystemClock};
//! use sipprov_registrar::{Change, Outbox, Registrar, RegistrarError};
//!
//! /// A registrar of one's own: here, a map from user to MD5 HA1.
//! #[derive(Default)]
//! struct Accounts(Mutex<BTreeMap<String, String>>);
//!
//! impl Registrar for Accounts {
//!     fn name(&self) -> &str {
//!         "accounts"
//!     }
//!
//!     fn apply(&self, change: &Change) -> Result<(), RegistrarError> {
//!         let mut accounts = self.0.lock().unwrap();
//!         match change {
//!             Change::Set { user, ha1 } => accounts.insert(user.clone(), ha1.md5.clone()),
//!             Change::Delete { user, .. } => accounts.remove(user),
//!         };
//!         Ok(())
//!     }
//! }
//!
//! let keyring = Keyring::parse(&Keyring::generate_file(1, None)?)?;
//! let lifecycle = Lifecycle::new(Duration::from_secs(300), Duration::from_secs(14 * 86_400));
//! let credentials = Credentials::new(Arc::new(MemoryStore::default()), lifecycle, Some(keyring), Arc::new(SystemClock))
//!     .with_registrar_realm("sip.example.net");
//! let credentials = Arc::new(credentials);
//! let registrar = Arc::new(Accounts::default());
//! let outbox = Outbox::new(credentials.clone(), vec![registrar.clone()]);
//!
//! let mac = "00:15:65:00:00:01".parse()?;
//! let issued = credentials.enrol(mac, vec![Account::new(1, "1001", "sp-1001", "Desk")], Vec::new())?.unwrap();
//! assert_eq!(outbox.drain()?.pushed, 1);
//! let ha1 = sipprov_credentials::DigestHa1::compute("sp-1001", "sip.example.net", issued.sip_password(1).unwrap());
//! assert_eq!(registrar.0.lock().unwrap().get("sp-1001"), Some(&ha1.md5));
//!
//! credentials.delete(&mac, "example")?;
//! outbox.drain()?;
//! assert!(registrar.0.lock().unwrap().is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`Credentials::with_registrar_realm`]: sipprov_credentials::Credentials::with_registrar_realm
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod change;
mod kamailio;
mod kamailio_mysql;
mod outbox;
mod registrar;
mod sync;
mod tls;
pub mod webhook;

pub use change::Change;
pub use kamailio::{KamailioOptions, KamailioSubscriber};
pub use kamailio_mysql::KamailioMysql;
pub use outbox::{Drained, Outbox};
pub use registrar::{Registrar, RegistrarError};
pub use sync::{Sync, SyncError, SyncReport};
pub use webhook::{Webhook, WebhookOptions};
