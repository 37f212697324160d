//! Every change of an account's password or existence queues what the registrar must learn,
//! in the same transaction; nothing is queued without a registrar realm.
#![allow(clippy::unwrap_used)] // test code: failing loudly is the point

use std::sync::Arc;

use sipprov_credentials::{
    Account, Credentials, DigestHa1, Keyring, Lifecycle, ManualClock, MemoryStore, Reissue, Store, Timestamp, Updated,
};

const REALM: &str = "sip.example.net";

fn credentials(realm: Option<&str>) -> (Credentials, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::default());
    let keyring = Keyring::parse(&Keyring::generate_file(1, None).unwrap()).unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix(1_800_000_000)));
    let credentials = Credentials::new(store.clone(), Lifecycle::default(), Some(keyring), clock);
    (if let Some(realm) = realm { credentials.with_registrar_realm(realm) } else { credentials }, store)
}

/// The queue as (user, Some(md5 HA1) | None for a deletion), oldest first.
fn queue(credentials: &Credentials) -> Vec<(String, Option<String>)> {
    let pending = credentials.registrar_pending(100).unwrap();
    pending
        .iter()
        .map(|entry| {
            let ha1 = credentials.registrar_ha1(&entry.change).unwrap().map(|ha1| ha1.md5);
            (entry.change.user.clone(), ha1)
        })
        .collect()
}

fn md5(user: &str, password: &sipprov_credentials::Password) -> Option<String> {
    Some(DigestHa1::compute(user, REALM, password).md5)
}

#[test]
fn enrolment_rotation_account_changes_and_deletion_are_queued_with_their_ha1() {
    let (credentials, _) = credentials(Some(REALM));
    let mac = "00:15:65:00:00:01".parse().unwrap();
    let accounts = vec![Account::new(1, "1001", "sp-1001", "Desk"), Account::new(2, "1002", "sp-1002", "Fax")];
    let issued = credentials.enrol(mac, accounts, Vec::new()).unwrap().unwrap();
    let expected = vec![
        ("sp-1001".to_owned(), md5("sp-1001", issued.sip_password(1).unwrap())),
        ("sp-1002".to_owned(), md5("sp-1002", issued.sip_password(2).unwrap())),
    ];
    assert_eq!(queue(&credentials), expected, "enrolment queues each account's HA1");
    for entry in credentials.registrar_pending(100).unwrap() {
        assert!(credentials.registrar_pushed(&entry, &["test"]).unwrap());
    }
    assert_eq!(queue(&credentials), []);

    let rotated = credentials.rotate(&mac, Reissue { line: Some(2), sip_password: None }, "t").unwrap().unwrap();
    assert_eq!(queue(&credentials), [("sp-1002".to_owned(), md5("sp-1002", rotated.sip_password(2).unwrap()))]);
    let entry = credentials.registrar_pending(1).unwrap().remove(0);
    credentials.registrar_pushed(&entry, &["test"]).unwrap();

    // A new digest name on line 1: the old name is deleted, the new one set with a fresh password.
    let renamed = credentials
        .update(&mac, "t", |device| {
            let mut accounts = device.accounts.clone();
            accounts[0].auth_name = "sp-2001".into();
            Ok((accounts, device.profile.clone()))
        })
        .unwrap();
    let Updated::Changed(_, Some(fresh)) = renamed else { panic!("a renamed account gets a password") };
    assert_eq!(
        queue(&credentials),
        [("sp-1001".to_owned(), None), ("sp-2001".to_owned(), md5("sp-2001", fresh.sip_password(1).unwrap())),]
    );

    assert!(credentials.delete(&mac, "t").unwrap());
    let mut after_delete = queue(&credentials);
    after_delete.sort();
    assert_eq!(
        after_delete,
        [("sp-1001".to_owned(), None), ("sp-1002".to_owned(), None), ("sp-2001".to_owned(), None)]
    );
}

#[test]
fn without_a_realm_nothing_is_queued_and_no_ha1_kept() {
    let (credentials, store) = credentials(None);
    let mac = "00:15:65:00:00:01".parse().unwrap();
    credentials.enrol(mac, vec![Account::new(1, "1001", "sp-1001", "Desk")], Vec::new()).unwrap().unwrap();
    credentials.rotate(&mac, Reissue::default(), "t").unwrap().unwrap();
    credentials.delete(&mac, "t").unwrap();
    assert_eq!(store.registrar_entries(None, 10).unwrap(), []);
}

#[test]
fn a_failed_audit_write_queues_nothing() {
    let (credentials, store) = credentials(Some(REALM));
    store.fail_audit_writes(true);
    let mac = "00:15:65:00:00:01".parse().unwrap();
    assert!(credentials.enrol(mac, vec![Account::new(1, "1001", "sp-1001", "Desk")], Vec::new()).is_err());
    store.fail_audit_writes(false);
    assert_eq!(store.registrar_entries(None, 10).unwrap(), []);
}

#[test]
fn a_key_rotation_reseals_the_kept_ha1_which_still_opens_after_the_old_key_is_gone() {
    let store = Arc::new(MemoryStore::default());
    let old = Keyring::generate_file(1, None).unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix(1_800_000_000)));
    let before =
        Credentials::new(store.clone(), Lifecycle::default(), Some(Keyring::parse(&old).unwrap()), clock.clone())
            .with_registrar_realm(REALM);
    let mac = "00:15:65:00:00:01".parse().unwrap();
    let issued = before.enrol(mac, vec![Account::new(1, "1001", "sp-1001", "Desk")], Vec::new()).unwrap().unwrap();

    let both = Keyring::generate_file(2, Some(&old)).unwrap();
    let rotating =
        Credentials::new(store.clone(), Lifecycle::default(), Some(Keyring::parse(&both).unwrap()), clock.clone())
            .with_registrar_realm(REALM);
    assert_eq!(rotating.reseal_all(10).unwrap(), 2, "the device's secrets and its HA1 row");
    assert_eq!(rotating.reseal_all(10).unwrap(), 0, "nothing left under key 1");

    let only_new: String = both.lines().filter(|line| !line.contains("key 1 ")).collect::<Vec<_>>().join("\n");
    let after = Credentials::new(store, Lifecycle::default(), Some(Keyring::parse(&only_new).unwrap()), clock)
        .with_registrar_realm(REALM);
    let entry = after.registrar_pending(10).unwrap().remove(0);
    assert!(!entry.pushed, "resealing does not count as telling the registrar, nor un-tell it");
    let ha1 = after.registrar_ha1(&entry.change).unwrap().unwrap();
    assert_eq!(ha1.md5, md5("sp-1001", issued.sip_password(1).unwrap()).unwrap());
}
