//! `Outbox::sync` rebuilds a registrar from the HA1 values kept: a dry run writes nothing,
//! users nobody has are reported and removed only when pruning, and accounts with no usable
//! HA1 (enrolled before a registrar was configured, or sealed under a key since removed) are
//! reported as missing rather than failing the sync.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use sipprov_credentials::{Account, Credentials, Keyring, Lifecycle, MemoryStore, Store, SystemClock};
use sipprov_registrar::{Change, Outbox, Registrar, RegistrarError};

const REALM: &str = "sip.example.net";

/// A registrar that can list its users: user -> MD5 HA1.
#[derive(Default)]
struct Directory(Mutex<BTreeMap<String, String>>);

impl Registrar for Directory {
    fn name(&self) -> &str {
        "directory"
    }

    fn apply(&self, change: &Change) -> Result<(), RegistrarError> {
        let mut users = self.0.lock().unwrap();
        match change {
            Change::Set { user, ha1 } => users.insert(user.clone(), ha1.md5.clone()),
            Change::Delete { user, .. } => users.remove(user),
        };
        Ok(())
    }

    fn users(&self, _realm: &str) -> Result<Option<BTreeSet<String>>, RegistrarError> {
        Ok(Some(self.0.lock().unwrap().keys().cloned().collect()))
    }
}

fn credentials(store: &Arc<MemoryStore>, keys: &str, realm: Option<&str>) -> Arc<Credentials> {
    let keyring = Keyring::parse(keys).unwrap();
    let credentials = Credentials::new(
        Arc::clone(store) as Arc<dyn Store>,
        Lifecycle::default(),
        Some(keyring),
        Arc::new(SystemClock),
    );
    Arc::new(match realm {
        Some(realm) => credentials.with_registrar_realm(realm),
        None => credentials,
    })
}

fn users(directory: &Directory) -> Vec<String> {
    directory.0.lock().unwrap().keys().cloned().collect()
}

#[test]
fn a_sync_restores_reports_and_prunes_only_when_asked() {
    let store = Arc::new(MemoryStore::default());
    let keys = Keyring::generate_file(1, None).unwrap();
    // One device enrolled before any registrar was configured: nothing kept for it.
    let before = credentials(&store, &keys, None);
    before
        .enrol("00:15:65:00:00:09".parse().unwrap(), vec![Account::new(1, "1009", "sp-1009", "Old")], vec![])
        .unwrap();
    let credentials = credentials(&store, &keys, Some(REALM));
    for n in 1..=2u8 {
        let mac = format!("00:15:65:00:00:0{n}").parse().unwrap();
        credentials.enrol(mac, vec![Account::new(1, format!("100{n}"), format!("sp-100{n}"), "Desk")], vec![]).unwrap();
    }
    let directory = Arc::new(Directory::default());
    directory.0.lock().unwrap().insert("trunk".into(), "x".into());
    let outbox = Outbox::new(Arc::clone(&credentials), vec![directory.clone() as Arc<dyn Registrar>]);

    let dry = outbox.sync(true, true).unwrap();
    assert!(dry.dry_run);
    assert_eq!(users(&directory), ["trunk"], "a dry run writes nothing, not even the queue");
    assert_eq!(dry.missing, ["sp-1009"]);
    assert_eq!((dry.registrars[0].set, dry.registrars[0].unknown.clone()), (2, Some(vec!["trunk".to_owned()])));

    let synced = outbox.sync(false, false).unwrap();
    assert_eq!(synced.registrars[0].deleted, Vec::<String>::new());
    assert_eq!(users(&directory), ["sp-1001", "sp-1002", "trunk"]);
    outbox.sync(false, true).unwrap();
    assert_eq!(users(&directory), ["sp-1001", "sp-1002"], "pruned when asked");
    assert_eq!(credentials.registrar_pending(10).unwrap(), [], "the queue was drained first");
}

#[test]
fn an_ha1_sealed_under_a_removed_key_is_reported_missing_not_fatal() {
    let store = Arc::new(MemoryStore::default());
    let old = Keyring::generate_file(1, None).unwrap();
    let first = credentials(&store, &old, Some(REALM));
    first
        .enrol("00:15:65:00:00:01".parse().unwrap(), vec![Account::new(1, "1001", "sp-1001", "Desk")], vec![])
        .unwrap();
    // The key was replaced without `sipprovd reseal`: the kept HA1 no longer opens.
    let new = Keyring::generate_file(2, None).unwrap();
    let after = credentials(&store, &new, Some(REALM));
    after
        .enrol("00:15:65:00:00:02".parse().unwrap(), vec![Account::new(1, "1002", "sp-1002", "Desk")], vec![])
        .unwrap();
    let directory = Arc::new(Directory::default());
    let outbox = Outbox::new(Arc::clone(&after), vec![directory.clone() as Arc<dyn Registrar>]);

    let drained = outbox.drain().unwrap();
    assert_eq!(drained.pushed, 1, "the unopenable change is skipped, the next one pushed");
    let sync = outbox.sync(false, false).unwrap();
    assert_eq!(sync.missing, ["sp-1001"]);
    assert_eq!(users(&directory), ["sp-1002"]);
}
