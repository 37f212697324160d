//! The SQLite store: conformance, durability settings, sealing at rest, audit-or-nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

use std::path::Path;
use std::sync::Arc;

use sipprov_credentials::{
    Account, CredentialState, Credentials, CredentialsError, FetchRequest, Fetched, Keyring, Lifecycle, Store,
    SystemClock,
};
use sipprov_identity::Mac;
use sipprov_store_sqlite::{OpenError, SqliteOptions, SqliteStore};

#[test]
fn sqlite_store_conforms_with_and_without_group_commit() {
    for group_commit in [true, false] {
        let dirs = std::sync::Mutex::new(Vec::new());
        sipprov_credentials::conformance::run(&|| {
            let dir = tempfile::tempdir().unwrap();
            let store = SqliteStore::open_with(
                dir.path().join("s.db"),
                SqliteOptions { group_commit, ..SqliteOptions::default() },
            )
            .unwrap();
            dirs.lock().unwrap().push(dir);
            Arc::new(store) as Arc<dyn Store>
        });
    }
}

fn credentials(path: &Path, keyring: &str) -> (Arc<SqliteStore>, Credentials) {
    let store = Arc::new(SqliteStore::open(path).unwrap());
    let credentials = Credentials::new(
        store.clone() as Arc<dyn Store>,
        Lifecycle::default(),
        Some(Keyring::parse(keyring).unwrap()),
        Arc::new(SystemClock),
    );
    (store, credentials)
}

fn account() -> Account {
    Account::new(1, "1001", "sp-001565000001", "Desk")
}

fn request() -> FetchRequest {
    FetchRequest {
        spki_sha256: [1; 32],
        peer: "192.0.2.1".into(),
        user_agent: None,
        certificate_vendor: None,
        rating: 5,
    }
}

const MAC: &str = "001565000001";

#[test]
fn runs_in_wal_mode_with_full_sync_and_secure_delete() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    drop(SqliteStore::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, SqliteStore::inspect(&path).unwrap().newest);
}

#[test]
fn secrets_are_sealed_in_the_file_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let keys = Keyring::generate_file(1, None).unwrap();
    let issued = {
        let (store, credentials) = credentials(&path, &keys);
        let issued = credentials.enrol(MAC.parse().unwrap(), vec![account()], Vec::new()).unwrap().unwrap();
        store.integrity_check().unwrap();
        issued
    };
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend(std::fs::read(dir.path().join("s.db-wal")).unwrap_or_default());
    for secret in [issued.sip_password(1).unwrap().expose(), issued.admin_password.as_ref().unwrap().expose()] {
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "plaintext secret in the database");
    }
    let (_, credentials) = credentials(&path, &keys);
    let Fetched::Config { secrets: Some(secrets), .. } = credentials.fetch(&MAC.parse().unwrap(), request()).unwrap()
    else {
        panic!("expected the secrets");
    };
    assert_eq!(secrets.sip_passwords, issued.sip_passwords);
}

#[test]
fn the_wrong_key_file_delivers_nothing_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let (store, credentials) = credentials(&path, &Keyring::generate_file(1, None).unwrap());
    credentials.enrol(MAC.parse().unwrap(), vec![account()], Vec::new()).unwrap();
    drop(credentials);
    let wrong = Credentials::new(
        store.clone() as Arc<dyn Store>,
        Lifecycle::default(),
        Some(Keyring::parse(&Keyring::generate_file(1, None).unwrap()).unwrap()),
        Arc::new(SystemClock),
    );
    let mac: Mac = MAC.parse().unwrap();
    assert!(matches!(wrong.fetch(&mac, request()), Err(CredentialsError::Sealing(_))));
    assert!(matches!(store.device(&mac).unwrap().unwrap().state, CredentialState::Issued { .. }));
}

#[test]
fn a_failing_audit_write_rolls_the_transition_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let (store, credentials) = credentials(&path, &Keyring::generate_file(1, None).unwrap());
    let issued = credentials.enrol(MAC.parse().unwrap(), vec![account()], Vec::new()).unwrap().unwrap();
    // Make every audit insert fail, as a full disk or a broken audit table would.
    let admin = rusqlite::Connection::open(&path).unwrap();
    admin
        .execute_batch(
            "CREATE TRIGGER audit_fails BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'audit unavailable'); END;",
        )
        .unwrap();
    let mac: Mac = MAC.parse().unwrap();
    let err = credentials.fetch(&mac, request()).unwrap_err();
    assert!(err.to_string().contains("audit unavailable"), "{err}");
    assert!(matches!(store.device(&mac).unwrap().unwrap().state, CredentialState::Issued { .. }));
    admin.execute_batch("DROP TRIGGER audit_fails").unwrap();
    let Fetched::Config { secrets: Some(secrets), .. } = credentials.fetch(&mac, request()).unwrap() else { panic!() };
    assert_eq!(secrets.sip_passwords, issued.sip_passwords, "the secret was not consumed");
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

#[test]
fn a_backup_of_an_open_store_holds_what_is_still_in_the_wal_and_a_bad_restore_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = Keyring::generate_file(1, None).unwrap();
    let live = dir.path().join("live.db");
    let (store, credentials) = credentials(&live, &keyring);
    credentials.enrol("001565000001".parse().unwrap(), vec![account()], Vec::new()).unwrap();
    assert!(std::fs::metadata(dir.path().join("live.db-wal")).unwrap().len() > 0, "the enrolment is in the WAL");

    let copy = dir.path().join("copy.db");
    let copied = sipprov_store_sqlite::backup(&live, &copy).unwrap();
    assert_eq!(copied.devices, 1);
    assert!(copied.bytes > 0 && copied.pages > 0);
    assert!(matches!(sipprov_store_sqlite::backup(&live, &copy), Err(sipprov_store_sqlite::BackupError::Exists(_))));
    let restored = Arc::new(SqliteStore::open(&copy).unwrap());
    assert!(restored.device(&"001565000001".parse().unwrap()).unwrap().is_some());
    drop(restored);

    credentials.enrol("001565000002".parse().unwrap(), vec![account()], Vec::new()).unwrap();
    drop((store, credentials));
    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, b"not a database at all, only text").unwrap();
    let refused = sipprov_store_sqlite::restore(&live, &garbage).unwrap_err();
    assert!(refused.to_string().contains("garbage.db"), "{refused}");
    assert_eq!(SqliteStore::open(&live).unwrap().counts().unwrap().devices, 2, "a refused restore changes nothing");

    assert_eq!(sipprov_store_sqlite::restore(&live, &copy).unwrap().devices, 1);
    let back = SqliteStore::open(&live).unwrap();
    assert_eq!(back.counts().unwrap().devices, 1);
    back.integrity_check().unwrap();
}

#[test]
fn compaction_runs_after_any_write_but_not_after_last_seen_facts_alone() {
    use sipprov_credentials::{FleetFacts, LastSeen, Sighting, Timestamp};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let keyring = Keyring::generate_file(1, None).unwrap();
    let (store, credentials) = credentials(&path, &keyring);
    let mac: Mac = MAC.parse().unwrap();
    credentials.enrol(mac, vec![account()], Vec::new()).unwrap();
    // `data_version` changes when another connection commits: a VACUUM does, a skip does not.
    let watcher = rusqlite::Connection::open(&path).unwrap();
    let version = || watcher.query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0)).unwrap();
    let compacted = |before: i64| {
        store.compact().unwrap();
        version() != before
    };

    assert!(compacted(version()), "the enrolment is a write: the first compaction runs");
    assert!(!compacted(version()), "nothing written since");
    let seen = LastSeen { at: Timestamp::from_unix(1_700_000_000), peer: "192.0.2.1".into(), user_agent: None };
    store.record_sightings(&[Sighting { mac, seen, certificate_vendor: None, facts: FleetFacts::default() }]).unwrap();
    let after_sighting = version();
    assert!(!compacted(after_sighting), "last-seen facts take no secret out of a record");

    // A first delivery, then the device deleted: each is compacted after.
    assert!(matches!(credentials.fetch(&mac, request()).unwrap(), Fetched::Config { secrets: Some(_), .. }));
    assert!(compacted(version()), "a first delivery is a write like any other");
    credentials.delete(&mac, "test").unwrap();
    assert!(compacted(version()), "a deleted device's secrets are compacted away");
    assert!(!compacted(version()));
}
