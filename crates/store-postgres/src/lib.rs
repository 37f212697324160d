//! The [`Store`](sipprov_credentials::Store) in PostgreSQL, for several sipprovd nodes sharing one
//! database.
//!
//! sipprov does not replicate anything itself: a lagging replica could serve a password the
//! primary already purged. Nodes share state through one PostgreSQL primary (with a synchronous
//! standby for failover), and every lifecycle transition is decided under the device's row lock,
//! so two nodes serving one phone at once deliver its password once, pin one key, and never
//! serve a purged secret. Secrets arrive already sealed; every node reads them with the same
//! sealing key file.
//!
//! The store's methods block: they run on a small runtime of the store's own, so any thread
//! that may block can call them. A phone's poll and first delivery, handed over with
//! `device_then` and `update_device_then`, run as tasks on the caller's runtime instead (with a
//! pool of their own) and call back when done: no thread is held and none woken for them. Each
//! call has a time limit
//! ([`PostgresOptions::timeout`]): a database that stops answering costs a request that long,
//! and the pool reconnects by itself when the database is back.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use sipprov_credentials::{Account, Credentials, Keyring, Lifecycle, Store, SystemClock};
//! use sipprov_store_postgres::{PostgresOptions, PostgresStore};
//!
//! let options = PostgresOptions::new("postgres://sipprov@db.example.net/sipprov");
//! let store = Arc::new(PostgresStore::connect(&options)?);
//! let keyring = Keyring::parse(&std::fs::read_to_string("/etc/sipprov/sealing.key")?)?;
//! let credentials = Credentials::new(store.clone(), Lifecycle::default(), Some(keyring), Arc::new(SystemClock));
//!
//! let mac = "001565000001".parse()?;
//! credentials.enrol(mac, vec![Account::new(1, "1001", "sp-001565000001", "Desk")], Vec::new())?;
//! assert_eq!(store.device(&mac)?.map(|d| d.state.name()), Some("issued"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod import;
mod options;
mod registrar;
mod rows;
mod schema;
mod store;
#[cfg(feature = "test-support")]
mod test_support;

pub use options::PostgresOptions;
pub use store::{Inspection, PostgresStore};
#[cfg(feature = "test-support")]
pub use test_support::{DATABASE_URL_VARIABLE, Proxy, TestDatabase};

/// The store could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The connection string could not be parsed.
    #[error("invalid PostgreSQL connection string: {0}")]
    Url(String),
    /// The database did not answer, refused the login, or failed a migration.
    #[error("cannot use the PostgreSQL database {database}: {reason}")]
    Unreachable {
        /// Host and database (no password).
        database: String,
        /// What went wrong.
        reason: String,
    },
    /// The schema was written by a newer sipprov; this build will not guess at its meaning.
    #[error(
        "PostgreSQL database {database} has schema version {found}, which this build does not know; upgrade sipprov"
    )]
    SchemaTooNew {
        /// Host and database (no password).
        database: String,
        /// The schema version found.
        found: i64,
    },
    /// The certificate authorities for the database's TLS could not be read.
    #[error("cannot use {path} as the database's certificate authorities: {reason}")]
    Tls {
        /// The CA file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The connection pool could not be built.
    #[error("cannot build the PostgreSQL connection pool: {0}")]
    Pool(String),
    /// The store's runtime could not be started.
    #[error("cannot start the PostgreSQL store's runtime: {0}")]
    Runtime(String),
}
