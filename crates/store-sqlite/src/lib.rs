//! The embedded default [`Store`](sipprov_credentials::Store): one SQLite file, no server to run.
//!
//! Durability first: the database runs in WAL mode with `synchronous=FULL`, so a transition that
//! has been acknowledged survives a power cut. Every [`Store`](sipprov_credentials::Store) method is
//! one transaction; read-modify-write runs under `BEGIN IMMEDIATE`, so concurrent fetches of the
//! same device are serialised by SQLite's write lock.
//!
//! # Example
//!
//! ```
//! use sipprov_credentials::{deliver, DeviceRecord, Lifecycle, Store, Timestamp};
//! use sipprov_store_sqlite::SqliteStore;
//!
//! let dir = tempfile::tempdir()?;
//! let store = SqliteStore::open(dir.path().join("sipprov.db"))?;
//! let mac = "001565000001".parse()?;
//! store.insert_device(&DeviceRecord::enrol(mac, "1001", "Desk", Timestamp::from_unix(0))?)?;
//!
//! let delivery = deliver(&store, &Lifecycle::default(), &mac, Timestamp::from_unix(5))?.expect("enrolled").1;
//! assert!(delivery.password.is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod schema;
mod store;

pub use store::{OpenError, SqliteStore};
