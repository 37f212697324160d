//! The embedded default [`Store`](sipprov_credentials::Store): one SQLite file, no server to run.
//!
//! Durability first: the database runs in WAL mode with `synchronous=FULL`, so a transition that
//! has been acknowledged survives a power cut, and with `secure_delete`, so a purged secret's
//! bytes are overwritten where the record held them; `compact` removes the stale copies SQLite can
//! leave in free space when it rebalances pages. Every [`Store`](sipprov_credentials::Store) method is one transaction
//! (or one savepoint of a group commit); secrets arrive already sealed.
//!
//! Writes go through one writer thread that runs concurrent writes as savepoints of one
//! transaction and commits them together (group commit): many phones fetching at once share an
//! fsync, and each is answered only after the commit that holds its write.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use sipprov_credentials::{Account, Credentials, Keyring, Lifecycle, Store, SystemClock};
//! use sipprov_store_sqlite::SqliteStore;
//!
//! let dir = tempfile::tempdir()?;
//! let store = Arc::new(SqliteStore::open(dir.path().join("sipprov.db"))?);
//! let keyring = Keyring::parse(&Keyring::generate_file(1, None)?)?;
//! let credentials = Credentials::new(store.clone(), Lifecycle::default(), Some(keyring), Arc::new(SystemClock));
//!
//! let mac = "001565000001".parse()?;
//! let account = Account::new(1, "1001", "sp-001565000001", "Desk");
//! credentials.enrol(mac, vec![account], Vec::new())?;
//! assert_eq!(store.device(&mac)?.map(|d| d.state.name()), Some("issued"));
//! store.integrity_check()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod backup;
mod commit_pacer;
mod compaction;
mod connection;
mod device_update;
mod errors;
mod registrar;
mod schema;
mod store;
mod writer;

pub use backup::{BackupError, Copied, backup, restore};
pub use compaction::CompactionPacing;
pub use store::{Counts, Inspection, OpenError, SqliteOptions, SqliteStore};
