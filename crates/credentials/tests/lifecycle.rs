//! Every arrow of the lifecycle, with a manual clock, through a store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

use std::time::Duration;

use sipprov_credentials::{
    Clock, CredentialState, DeviceRecord, Lifecycle, ManualClock, MemoryStore, Store, Timestamp, deliver,
};
use sipprov_identity::Mac;

const GRACE: Duration = Duration::from_secs(300);

fn setup() -> (MemoryStore, ManualClock, Mac, String) {
    let store = MemoryStore::default();
    let clock = ManualClock::new(Timestamp::from_unix(1_800_000_000));
    let mac: Mac = "001565000001".parse().unwrap();
    let device = DeviceRecord::enrol(mac, "1001", "Desk", clock.now()).unwrap();
    let password = device.password.as_ref().unwrap().expose().to_owned();
    assert!(store.insert_device(&device).unwrap());
    (store, clock, mac, password)
}

#[test]
fn issued_first_fetch_delivers_and_records_the_time() {
    let (store, clock, mac, password) = setup();
    let lifecycle = Lifecycle::new(GRACE);
    let delivery = deliver(&store, &lifecycle, &mac, clock.now()).unwrap().unwrap().1;
    assert_eq!(delivery.password.as_ref().unwrap().expose(), password);
    assert_eq!(delivery.from, CredentialState::Issued);
    assert_eq!(delivery.to, CredentialState::Delivered { at: clock.now() });
    assert_eq!(store.device(&mac).unwrap().unwrap().state, CredentialState::Delivered { at: clock.now() });
}

#[test]
fn fetches_inside_the_grace_window_still_get_the_password() {
    let (store, clock, mac, password) = setup();
    let lifecycle = Lifecycle::new(GRACE);
    let first_at = clock.now();
    deliver(&store, &lifecycle, &mac, clock.now()).unwrap();
    clock.advance(GRACE - Duration::from_secs(1));
    let again = deliver(&store, &lifecycle, &mac, clock.now()).unwrap().unwrap().1;
    assert_eq!(again.password.as_ref().unwrap().expose(), password);
    assert!(!again.is_transition());
    assert_eq!(again.to, CredentialState::Delivered { at: first_at });
}

#[test]
fn grace_expiry_purges_the_password_for_good() {
    let (store, clock, mac, _) = setup();
    let lifecycle = Lifecycle::new(GRACE);
    deliver(&store, &lifecycle, &mac, clock.now()).unwrap();
    clock.advance(GRACE);
    let purged = deliver(&store, &lifecycle, &mac, clock.now()).unwrap().unwrap().1;
    assert!(purged.password.is_none());
    assert_eq!(purged.to, CredentialState::Purged);
    let stored = store.device(&mac).unwrap().unwrap();
    assert!(stored.password.is_none());

    clock.advance(Duration::from_secs(86_400));
    let later = deliver(&store, &lifecycle, &mac, clock.now()).unwrap().unwrap().1;
    assert!(later.password.is_none());
    assert!(!later.is_transition());
}

#[test]
fn unknown_device_gets_nothing_and_changes_nothing() {
    let (store, clock, _, _) = setup();
    let other: Mac = "001565000002".parse().unwrap();
    assert!(deliver(&store, &Lifecycle::default(), &other, clock.now()).unwrap().is_none());
    assert!(store.device(&other).unwrap().is_none());
}

#[test]
fn enrolling_twice_keeps_the_first_record() {
    let (store, clock, mac, password) = setup();
    let second = DeviceRecord::enrol(mac, "2002", "Other", clock.now()).unwrap();
    assert!(!store.insert_device(&second).unwrap());
    let stored = store.device(&mac).unwrap().unwrap();
    assert_eq!(stored.user_name, "1001");
    assert_eq!(stored.password.unwrap().expose(), password);
}
