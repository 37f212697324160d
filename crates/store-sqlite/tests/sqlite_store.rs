//! The SQLite store: durability settings, round trips, concurrency, and schema versioning.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

use std::sync::Arc;
use std::thread;

use sipprov_credentials::{CredentialState, DeviceRecord, Lifecycle, Store, Timestamp, deliver};
use sipprov_identity::Mac;
use sipprov_store_sqlite::{OpenError, SqliteStore};

fn mac(n: u8) -> Mac {
    Mac::from_bytes([0x00, 0x15, 0x65, 0, 0, n])
}

#[test]
fn runs_in_wal_mode_with_full_sync() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    drop(SqliteStore::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, 1);
}

#[test]
fn records_survive_reopening_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let record = DeviceRecord::enrol(mac(1), "1001", "Desk \"A\" <b>", Timestamp::from_unix(42)).unwrap();
    {
        let store = SqliteStore::open(&path).unwrap();
        assert!(store.insert_device(&record).unwrap());
        assert!(!store.insert_device(&record).unwrap(), "second insert is refused");
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.device(&mac(1)).unwrap(), Some(record));
    assert_eq!(store.device(&mac(2)).unwrap(), None);
}

#[test]
fn purge_removes_the_password_from_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("s.db")).unwrap();
    store.insert_device(&DeviceRecord::enrol(mac(1), "1001", "Desk", Timestamp::from_unix(0)).unwrap()).unwrap();
    let lifecycle = Lifecycle::new(std::time::Duration::from_secs(10));
    deliver(&store, &lifecycle, &mac(1), Timestamp::from_unix(100)).unwrap();
    assert_eq!(
        store.device(&mac(1)).unwrap().unwrap().state,
        CredentialState::Delivered { at: Timestamp::from_unix(100) }
    );
    let purged = deliver(&store, &lifecycle, &mac(1), Timestamp::from_unix(110)).unwrap().unwrap().1;
    assert!(purged.password.is_none());
    let stored = store.device(&mac(1)).unwrap().unwrap();
    assert_eq!(stored.state, CredentialState::Purged);
    assert_eq!(stored.password, None);
}

#[test]
fn concurrent_first_fetches_record_exactly_one_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("s.db")).unwrap());
    store.insert_device(&DeviceRecord::enrol(mac(1), "1001", "Desk", Timestamp::from_unix(0)).unwrap()).unwrap();
    let lifecycle = Lifecycle::default();
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let store = Arc::clone(&store);
            thread::spawn(move || {
                deliver(&*store, &lifecycle, &mac(1), Timestamp::from_unix(100 + i)).unwrap().unwrap().1
            })
        })
        .collect();
    let deliveries: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let first_deliveries = deliveries.iter().filter(|d| d.from == CredentialState::Issued).count();
    assert_eq!(first_deliveries, 1);
    assert!(deliveries.iter().all(|d| d.password.is_some()));
}

#[test]
fn a_database_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    rusqlite::Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
    match SqliteStore::open(&path) {
        Err(OpenError::SchemaTooNew { found: 99, .. }) => {}
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

#[test]
fn a_file_that_is_not_a_database_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    std::fs::write(&path, b"this is not a database, just some text that is long enough").unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(err.to_string().contains("s.db"), "{err}");
}
