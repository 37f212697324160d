//! `sipprovd migrate` (the real binary) moves a single-node SQLite store into PostgreSQL: every
//! row arrives equal, an interrupted move is finished by running it again, and the migrated
//! database goes on numbering audit events after the moved ones.
//!
//! Needs `SIPPROV_TEST_DATABASE_URL`; without it the test is skipped loudly (in CI it fails).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: failing loudly is the point

use std::process::Command;
use std::sync::Arc;

use sipprov_credentials::{
    Account, AuditEvent, AuditKind, AuditQuery, Ban, Credentials, DeviceQuery, FetchRequest, FleetFacts, Keyring,
    Lifecycle, ManualClock, PendingQuery, RegistrarChange, RevealToken, Role, Store, Timestamp,
};
use sipprov_identity::Mac;
use sipprov_store_postgres::{PostgresOptions, PostgresStore, TestDatabase};
use sipprov_store_sqlite::SqliteStore;

fn mac(n: u16) -> Mac {
    let [high, low] = n.to_be_bytes();
    Mac::from_bytes([0x00, 0x15, 0x65, 0x00, high, low])
}

/// A single-node store with one of everything, and enough devices and events to span batches.
fn populated(path: &std::path::Path) -> SqliteStore {
    let store = Arc::new(SqliteStore::open(path).unwrap());
    let keyring = Keyring::parse(&Keyring::generate_file(1, None).unwrap()).unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix(1_800_000_000)));
    let credentials = Credentials::new(store.clone(), Lifecycle::default(), Some(keyring), clock.clone())
        .with_registrar_realm("sip.example.net");
    for n in 1..=1_200 {
        let mut accounts = vec![Account::new(1, format!("1{n:04}"), format!("sp-{n}"), "Desk \"A\" <&>")];
        if n % 3 == 0 {
            accounts.push(Account::new(2, format!("2{n:04}"), format!("sp2-{n}"), "Fax"));
        }
        credentials.enrol(mac(n), accounts, Vec::new()).unwrap();
    }
    // Delivered (a key pinned, secrets still held), and provisioned (secrets purged).
    let fetch = |n: u16| {
        let request = FetchRequest {
            spki_sha256: [n as u8; 32],
            peer: "192.0.2.1".into(),
            user_agent: Some("UA".into()),
            certificate_vendor: None,
            rating: 5,
        };
        credentials.fetch(&mac(n), request).unwrap();
    };
    (1..=20).for_each(fetch);
    clock.advance(std::time::Duration::from_secs(3_600));
    (1..=10).for_each(fetch);
    credentials.flush_sightings(|_| FleetFacts::default()).unwrap();
    // The registrar outbox: some changes pushed, the rest still queued, one deletion queued.
    for entry in credentials.registrar_pending(300).unwrap() {
        credentials.registrar_pushed(&entry, &["kamailio"]).unwrap();
    }
    credentials.delete(&mac(1_200), "test").unwrap();
    for n in 0..3u8 {
        credentials.seen_unknown(mac(5_000), "yealink", [n; 32], "198.51.100.7").unwrap();
    }
    credentials.seen_unknown(mac(5_001), "snom", [9; 32], "198.51.100.8").unwrap();
    credentials.create_api_token("ops", Role::Operator, "test").unwrap();
    let event = || AuditEvent::without_device(Timestamp::from_unix(1_800_000_000), AuditKind::Banned, "test");
    let ban = |key: &str, until| Ban { key: key.into(), reason: "scan".into(), until: Timestamp::from_unix(until) };
    store.put_ban(&ban("192.0.2.66", 4_000_000_000), event()).unwrap();
    store.put_ban(&ban("2001:db8::/64", 1_000), event()).unwrap();
    for n in 0..2u8 {
        let token = RevealToken { hash: [n; 32], mac: mac(1), expires_at: Timestamp::from_unix(1_900_000_000) };
        store.insert_reveal_token(&token).unwrap();
    }
    store.consume_reveal_token(&[0; 32], Timestamp::from_unix(1_800_000_100)).unwrap();
    store
        .append_audit(
            (0..1_000).map(|n| AuditEvent::new(Timestamp::from_unix(n), mac(1), AuditKind::Delivered, "x")).collect(),
        )
        .unwrap();
    drop(credentials);
    Arc::into_inner(store).expect("the only handle left")
}

fn migrate(from: &std::path::Path, to: &str) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_sipprovd"))
        .args(["migrate", "--from", &format!("sqlite:{}", from.display()), "--to", to])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

fn all_devices(store: &dyn Store) -> Vec<sipprov_credentials::DeviceRecord> {
    store.devices(&DeviceQuery { limit: usize::MAX, ..DeviceQuery::default() }).unwrap()
}

fn all_events(store: &dyn Store) -> Vec<sipprov_credentials::StoredAuditEvent> {
    store.audit(&AuditQuery { limit: usize::MAX, ..AuditQuery::default() }).unwrap()
}

fn all_pending(store: &dyn Store) -> Vec<sipprov_credentials::PendingDevice> {
    store.pending(&PendingQuery { limit: usize::MAX, ..PendingQuery::default() }).unwrap()
}

#[test]
fn a_single_node_store_moves_into_postgres_whole_and_resumes_where_it_stopped() {
    let Some(database) =
        TestDatabase::for_test("a_single_node_store_moves_into_postgres_whole_and_resumes_where_it_stopped")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sipprov.db");
    let source = populated(&path);
    let target = PostgresStore::connect(&PostgresOptions::new(database.url())).unwrap();

    // A move that stopped part-way: some devices and the oldest events are already there.
    let some_devices = source.devices(&DeviceQuery { limit: 300, ..DeviceQuery::default() }).unwrap();
    assert_eq!(target.import_devices(some_devices).unwrap(), 300);
    let oldest = source.audit(&AuditQuery { limit: 700, ..AuditQuery::default() }).unwrap();
    assert_eq!(target.import_audit(oldest).unwrap(), 700);

    let (moved, report) = migrate(&path, database.url());
    assert!(moved, "{report}");
    assert!(report.contains("every record is there and the same"), "{report}");
    assert!(!report.contains("DIFFERENT"), "{report}");

    // Every row, compared by value (sealed secrets, pins, ids, counts, use marks included).
    assert_eq!(all_devices(&target), all_devices(&source));
    assert_eq!(all_devices(&target).len(), 1_199);
    let registrar = |store: &dyn Store| store.registrar_entries(None, usize::MAX).unwrap();
    assert_eq!(registrar(&target), registrar(&source), "the registrar outbox, pushed marks and all");
    assert_eq!(registrar(&target).len(), 1_600, "1,200 + 400 second lines");
    assert_eq!(target.registrar_pending(10_000).unwrap().len(), 1_300, "what was not pushed still waits");
    assert_eq!(all_events(&target), all_events(&source));
    assert_eq!(all_pending(&target), all_pending(&source));
    assert_eq!(all_pending(&target).iter().find(|p| p.mac == mac(5_000)).map(|p| p.count), Some(1));
    let ever = Timestamp::from_unix(i64::MIN);
    assert_eq!(target.bans(ever).unwrap(), source.bans(ever).unwrap());
    assert_eq!(target.bans(ever).unwrap().len(), 2, "expired bans move too");
    assert_eq!(target.api_tokens().unwrap(), source.api_tokens().unwrap());
    assert_eq!(target.reveal_tokens().unwrap(), source.reveal_tokens().unwrap());
    assert!(target.reveal_tokens().unwrap().iter().any(|(_, used)| used.is_some()), "a use mark moves");

    // Running it again adds nothing and still finds them the same.
    let (again, report) = migrate(&path, database.url());
    assert!(again, "{report}");
    assert!(
        report
            .lines()
            .filter(|line| line.ends_with("same"))
            .all(|line| line.split_whitespace().nth_back(1) == Some("0")),
        "{report}"
    );

    // The migrated database numbers new events, and new registrar changes, after the moved ones.
    let last_moved = all_events(&source).last().unwrap().id;
    let last_change = registrar(&source).iter().map(|entry| entry.seq).max().unwrap();
    let mut event = AuditEvent::new(Timestamp::from_unix(1_900_000_000), mac(1), AuditKind::Enabled, "after");
    event.registrar = vec![RegistrarChange::delete(mac(1), 1, "sp-new", "sip.example.net")];
    target.append_audit(vec![event]).unwrap();
    assert!(all_events(&target).last().unwrap().id > last_moved);
    let pending = target.registrar_pending(10_000).unwrap();
    assert!(pending.last().is_some_and(|entry| entry.change.user == "sp-new" && entry.seq > last_change));
}

#[test]
fn a_missing_source_is_a_clear_error() {
    let (moved, report) = migrate(std::path::Path::new("/nonexistent/sipprov.db"), "postgres://127.0.0.1:1/x");
    assert!(!moved);
    assert!(report.contains("no such database file"), "{report}");
}
