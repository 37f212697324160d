//! The PostgreSQL store on a real server: conformance, and what several nodes sharing one
//! database rely on. Each test gets a database of its own from `SIPPROV_TEST_DATABASE_URL`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: failing loudly is the point

use std::sync::{Arc, Mutex};

use sipprov_credentials::{
    Account, AuditKind, AuditQuery, CredentialState, Credentials, FetchRequest, Keyring, Lifecycle, ManualClock, Store,
    Timestamp,
};
use sipprov_store_postgres::{PostgresOptions, PostgresStore, Proxy, TestDatabase};

#[test]
fn postgres_store_conforms() {
    let Some(_probe) = TestDatabase::for_test("postgres_store_conforms") else { return };
    // A fresh database per check: every check starts from an empty store.
    let databases = Mutex::new(Vec::new());
    sipprov_credentials::conformance::run(&|| {
        let database = TestDatabase::for_test("postgres_store_conforms").unwrap();
        let store = PostgresStore::connect(&PostgresOptions::new(database.url())).unwrap();
        databases.lock().unwrap().push(database);
        Arc::new(store) as Arc<dyn Store>
    });
}

/// Two nodes' stores on one database: each sees the other's writes at once, and concurrent
/// updates of one device from both are serialised by the row lock (none is lost).
#[test]
fn two_nodes_share_every_write_and_lose_no_update() {
    let Some(database) = TestDatabase::for_test("two_nodes_share_every_write_and_lose_no_update") else { return };
    let node_a = Arc::new(PostgresStore::connect(&PostgresOptions::new(database.url())).unwrap());
    let node_b = Arc::new(PostgresStore::connect(&PostgresOptions::new(database.url())).unwrap());
    let mac = support::mac(7);
    assert!(node_a.insert_device(support::device(mac), Vec::new()).unwrap());
    assert!(!node_b.insert_device(support::device(mac), Vec::new()).unwrap(), "B sees A's device");

    let threads: Vec<_> = [node_a.clone(), node_b.clone()]
        .into_iter()
        .cycle()
        .take(8)
        .map(|store| {
            std::thread::spawn(move || {
                for _ in 0..10 {
                    store
                        .update_device(
                            &mac,
                            Box::new(|device| {
                                device.accounts[0].display_name.push('+');
                                Ok(Vec::new())
                            }),
                        )
                        .unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let name = node_b.device(&mac).unwrap().unwrap().accounts[0].display_name.clone();
    assert_eq!(name.matches('+').count(), 80, "an update from one node overwrote the other's");
}

/// Every node sweeps: run on two nodes at once, each expiry still happens once, with one audit
/// event, and the sweeps together report each device once.
#[test]
fn sweeps_on_two_nodes_at_once_purge_each_device_once() {
    let Some(database) = TestDatabase::for_test("sweeps_on_two_nodes_at_once_purge_each_device_once") else { return };
    let keys = Keyring::generate_file(1, None).unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix(1_800_000_000)));
    let node = || {
        let store = PostgresStore::connect(&PostgresOptions::new(database.url())).unwrap();
        let keyring = Keyring::parse(&keys).unwrap();
        Arc::new(Credentials::new(Arc::new(store), Lifecycle::default(), Some(keyring), clock.clone()))
    };
    let (a, b) = (node(), node());
    let macs: Vec<_> = (1..=60).map(support::mac).collect();
    for mac in &macs {
        a.enrol(*mac, vec![Account::new(1, "1001", format!("sp-{mac}"), "Desk")], Vec::new()).unwrap();
        let request = FetchRequest {
            spki_sha256: [1; 32],
            peer: "192.0.2.1".into(),
            user_agent: None,
            certificate_vendor: None,
            rating: 5,
        };
        a.fetch(mac, request).unwrap();
    }
    clock.advance(Lifecycle::DEFAULT_GRACE + std::time::Duration::from_secs(1));
    let sweeps: Vec<_> =
        [a.clone(), b.clone()].into_iter().map(|node| std::thread::spawn(move || node.sweep(7).unwrap())).collect();
    let changed: usize = sweeps.into_iter().map(|sweep| sweep.join().unwrap()).sum();
    assert_eq!(changed, macs.len(), "each device changed by exactly one of the sweeps");
    let purged =
        b.store().audit(&AuditQuery { kind: Some(AuditKind::Purged), limit: 1_000, ..AuditQuery::default() }).unwrap();
    assert_eq!(purged.len(), macs.len(), "one purge event per device");
    for mac in &macs {
        assert_eq!(a.store().device(mac).unwrap().unwrap().state, CredentialState::Purged);
    }
}

/// An async server hands reads and first deliveries over (`device_then`, `update_device_then`):
/// they run as tasks on the server's own runtime and report back, as when a phone polls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_and_updates_handed_over_by_an_async_caller_run_on_its_runtime() {
    let Some(database) = TestDatabase::for_test("reads_and_updates_handed_over_by_an_async_caller_run_on_its_runtime")
    else {
        return;
    };
    let url = database.url().to_owned();
    let store =
        tokio::task::spawn_blocking(move || PostgresStore::connect(&PostgresOptions::new(url)).unwrap()).await.unwrap();
    let store = Arc::new(store);
    let mac = support::mac(21);
    let inserted = {
        let store = Arc::clone(&store);
        tokio::task::spawn_blocking(move || store.insert_device(support::device(mac), Vec::new())).await.unwrap()
    };
    assert!(inserted.unwrap());
    for round in 0..3 {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        store.device_then(&mac, Box::new(move |read| sender.send(read).unwrap()));
        let read = receiver.await.unwrap().unwrap().unwrap();
        assert_eq!(read.accounts[0].display_name.matches('+').count(), round);
        let (sender, receiver) = tokio::sync::oneshot::channel();
        store.update_device_then(
            &mac,
            Box::new(|device| {
                device.accounts[0].display_name.push('+');
                Ok(Vec::new())
            }),
            Box::new(move |written| sender.send(written).unwrap()),
        );
        assert!(receiver.await.unwrap().unwrap().is_some());
    }
    drop(database);
}

#[test]
fn a_schema_from_a_newer_build_is_refused_by_name() {
    let Some(database) = TestDatabase::for_test("a_schema_from_a_newer_build_is_refused_by_name") else { return };
    let options = PostgresOptions::new(database.url());
    let inspection = PostgresStore::inspect(&options).unwrap();
    assert_eq!((inspection.version, inspection.too_new()), (0, false), "an empty database has no schema yet");
    drop(PostgresStore::connect(&options).unwrap());
    let inspection = PostgresStore::inspect(&options).unwrap();
    assert_eq!(inspection.version, inspection.newest, "connecting migrates to this build's schema");

    database.execute("UPDATE sipprov_schema SET version = 99").unwrap();
    assert!(PostgresStore::inspect(&options).unwrap().too_new());
    let error = PostgresStore::connect(&options).unwrap_err().to_string();
    assert!(error.contains("schema version 99") && error.contains("upgrade"), "{error}");
}

#[test]
fn an_unreachable_database_is_a_clear_error_and_the_password_is_not_in_it() {
    // A port nothing listens on: connecting fails at once, naming the database, never the password.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut options = PostgresOptions::new(format!("postgres://sipprov:hunter2-secret@127.0.0.1:{port}/sipprov"));
    options.timeout = std::time::Duration::from_secs(2);
    let error = PostgresStore::connect(&options).unwrap_err().to_string();
    assert!(error.contains("127.0.0.1/sipprov") && error.contains("refused"), "{error}");
    assert!(!error.contains("hunter2"), "the password leaked into: {error}");
    assert!(!format!("{options:?}").contains("hunter2"), "the password leaked into Debug");
}

/// The database goes away while the store runs (its connections cut, new ones refused): calls
/// fail within the time limit, and once it is back the store works again by itself.
#[test]
fn the_store_fails_fast_while_the_database_is_away_and_recovers_by_itself() {
    let Some(database) =
        TestDatabase::for_test("the_store_fails_fast_while_the_database_is_away_and_recovers_by_itself")
    else {
        return;
    };
    let proxy = Proxy::in_front_of(database.url());
    let mut options = PostgresOptions::new(proxy.url());
    options.timeout = std::time::Duration::from_secs(2);
    let store = PostgresStore::connect(&options).unwrap();
    let mac = support::mac(9);
    store.insert_device(support::device(mac), Vec::new()).unwrap();

    proxy.cut();
    let started = std::time::Instant::now();
    assert!(store.device(&mac).is_err(), "a read succeeded with the database away");
    assert!(store.insert_device(support::device(support::mac(10)), Vec::new()).is_err());
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "failing took {:?}", started.elapsed());

    proxy.restore();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        match store.device(&mac) {
            Ok(device) => {
                assert_eq!(device.map(|d| d.mac), Some(mac));
                break;
            }
            Err(e) if std::time::Instant::now() < deadline => {
                eprintln!("not yet: {e}");
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            Err(e) => panic!("the store did not recover: {e}"),
        }
    }
    assert!(store.insert_device(support::device(support::mac(10)), Vec::new()).unwrap(), "writes work again");
}

mod support;
