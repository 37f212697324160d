//! Every arrow of the lifecycle, through `Credentials` and an in-memory store, on a manual clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use sipprov_credentials::{
    Account, AuditKind, AuditQuery, Clock, CredentialState, Credentials, CredentialsError, DeliverError, Delivery,
    FetchKind, FetchRefusal, FetchRequest, Fetched, FleetFacts, FleetQuery, IssuedSecrets, Keyring, Lifecycle,
    ManualClock, MemoryStore, PendingQuery, Reissue, Sighting, Store, Timestamp,
};
use sipprov_identity::Mac;

const GRACE: Duration = Duration::from_secs(300);
const DORMANT: Duration = Duration::from_secs(14 * 24 * 3600);
const KEY_A: [u8; 32] = [0xaa; 32];
const KEY_B: [u8; 32] = [0xbb; 32];

struct World {
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    credentials: Credentials,
    mac: Mac,
}

fn keyring() -> Keyring {
    Keyring::parse(&Keyring::generate_file(1, None).unwrap()).unwrap()
}

fn world_with(keyring: Option<Keyring>) -> World {
    let store = Arc::new(MemoryStore::default());
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix(1_800_000_000)));
    let credentials =
        Credentials::new(store.clone() as Arc<dyn Store>, Lifecycle::new(GRACE, DORMANT), keyring, clock.clone());
    World { store, clock, credentials, mac: "001565000001".parse().unwrap() }
}

fn account() -> Account {
    Account::new(1, "1001", "sp-001565000001", "Desk")
}

fn enrolled() -> (World, IssuedSecrets) {
    let world = world_with(Some(keyring()));
    let issued = world.credentials.enrol(world.mac, vec![account()], Vec::new()).unwrap().unwrap();
    (world, issued)
}

fn request(key: [u8; 32]) -> FetchRequest {
    FetchRequest {
        spki_sha256: key,
        peer: "192.0.2.10".into(),
        user_agent: Some("Yealink SIP-T46G 28.72.0.1".into()),
        certificate_vendor: None,
        rating: 5,
    }
}

impl World {
    fn fetch(&self, key: [u8; 32]) -> Fetched {
        self.credentials.fetch(&self.mac, request(key)).unwrap()
    }

    fn state(&self) -> CredentialState {
        self.store.device(&self.mac).unwrap().unwrap().state
    }

    fn kinds(&self) -> Vec<AuditKind> {
        let query = AuditQuery { mac: Some(self.mac), limit: usize::MAX, ..AuditQuery::default() };
        self.store.audit(&query).unwrap().into_iter().map(|e| e.event.kind).collect()
    }
}

fn sip_password(fetched: &Fetched) -> Option<String> {
    match fetched {
        Fetched::Config { secrets, .. } => {
            secrets.as_ref().and_then(|s| s.sip_password(1)).map(|p| p.expose().to_owned())
        }
        other => panic!("expected a config, got {other:?}"),
    }
}

#[test]
fn enrol_then_first_fetch_delivers_pins_and_audits() {
    let (world, issued) = enrolled();
    assert_eq!(world.state(), CredentialState::Issued { since: world.clock.now() });
    let first = world.fetch(KEY_A);
    assert_eq!(sip_password(&first).as_deref(), Some(issued.sip_password(1).unwrap().expose()));
    let Fetched::Config { secrets: Some(secrets), accounts: served, .. } = first else { unreachable!() };
    assert_eq!(secrets.admin_password, issued.admin_password);
    assert_eq!(served, [account()]);
    let device = world.store.device(&world.mac).unwrap().unwrap();
    assert_eq!(device.state, CredentialState::Delivered { at: world.clock.now() });
    assert_eq!(device.pinned_spki, Some(KEY_A));
    assert_eq!(world.kinds(), vec![AuditKind::Enrolled, AuditKind::Delivered, AuditKind::KeyPinned]);
}

#[test]
fn the_grace_window_serves_again_then_the_secrets_are_purged() {
    let (world, issued) = enrolled();
    let _ = world.fetch(KEY_A);
    world.clock.advance(GRACE - Duration::from_secs(1));
    assert_eq!(sip_password(&world.fetch(KEY_A)).as_deref(), Some(issued.sip_password(1).unwrap().expose()));
    world.clock.advance(Duration::from_secs(1));
    assert_eq!(sip_password(&world.fetch(KEY_A)), None);
    assert_eq!(world.state(), CredentialState::Purged);
    assert_eq!(world.store.device(&world.mac).unwrap().unwrap().secrets, None, "nothing left to recover");
    world.clock.advance(Duration::from_secs(86_400 * 30));
    assert_eq!(sip_password(&world.fetch(KEY_A)), None);
    assert!(world.kinds().contains(&AuditKind::Purged));
}

#[test]
fn the_sweep_purges_after_the_grace_without_a_fetch() {
    let (world, _) = enrolled();
    let _ = world.fetch(KEY_A);
    world.clock.advance(GRACE);
    assert_eq!(world.credentials.sweep(10).unwrap(), 1);
    assert_eq!(world.state(), CredentialState::Purged);
    assert_eq!(world.credentials.sweep(10).unwrap(), 0, "nothing left to sweep");
}

#[test]
fn never_fetched_for_14_days_goes_dormant_and_serves_nothing() {
    let (world, _) = enrolled();
    world.clock.advance(DORMANT - Duration::from_secs(1));
    assert_eq!(world.credentials.sweep(10).unwrap(), 0);
    assert!(matches!(world.state(), CredentialState::Issued { .. }));
    world.clock.advance(Duration::from_secs(1));
    assert_eq!(world.credentials.sweep(10).unwrap(), 1);
    assert_eq!(world.state(), CredentialState::Dormant { since: world.clock.now() });
    assert_eq!(world.store.device(&world.mac).unwrap().unwrap().secrets, None);
    assert!(matches!(world.fetch(KEY_A), Fetched::Refused(FetchRefusal::Dormant)));
    assert_eq!(world.kinds(), vec![AuditKind::Enrolled, AuditKind::Dormant, AuditKind::Refused]);
}

#[test]
fn a_sweep_that_changes_nothing_writes_nothing() {
    let (world, _) = enrolled();
    let _ = world.fetch(KEY_A);
    let writes = world.store.writes();
    for _ in 0..3 {
        world.clock.advance(Duration::from_secs(1));
        assert_eq!(world.credentials.sweep(10).unwrap(), 0, "the grace has not run out");
    }
    assert_eq!(world.store.writes(), writes, "a device the sweep leaves as it is is only read");
    assert!(matches!(world.state(), CredentialState::Delivered { .. }));
    world.clock.advance(GRACE);
    assert_eq!(world.credentials.sweep(10).unwrap(), 1);
    assert_eq!(world.store.writes(), writes + 1, "the purge is written");
}

#[test]
fn the_dormant_rule_applies_at_fetch_time_even_before_a_sweep() {
    let (world, _) = enrolled();
    world.clock.advance(DORMANT);
    assert!(matches!(world.fetch(KEY_A), Fetched::Refused(FetchRefusal::Dormant)));
    assert!(matches!(world.state(), CredentialState::Dormant { .. }));
}

#[test]
fn rearm_issues_fresh_secrets_and_clears_the_pin() {
    let (world, issued) = enrolled();
    world.clock.advance(DORMANT);
    world.credentials.sweep(10).unwrap();
    let fresh = world.credentials.rearm(&world.mac, Reissue::default(), "test").unwrap().unwrap();
    assert_ne!(fresh.sip_passwords, issued.sip_passwords);
    assert_eq!(world.state(), CredentialState::Issued { since: world.clock.now() });
    assert_eq!(sip_password(&world.fetch(KEY_B)).as_deref(), Some(fresh.sip_password(1).unwrap().expose()));
    assert_eq!(world.store.device(&world.mac).unwrap().unwrap().pinned_spki, Some(KEY_B));
    assert!(
        world.credentials.rearm(&"001565000099".parse().unwrap(), Reissue::default(), "test").unwrap().is_none(),
        "unknown device"
    );
}

#[test]
fn rotation_issues_fresh_secrets_and_keeps_the_pin() {
    let (world, issued) = enrolled();
    let _ = world.fetch(KEY_A);
    world.clock.advance(GRACE);
    world.credentials.sweep(10).unwrap();
    let rotated = world.credentials.rotate(&world.mac, Reissue::default(), "test").unwrap().unwrap();
    assert_ne!(rotated.sip_passwords, issued.sip_passwords);
    assert!(matches!(world.state(), CredentialState::Issued { .. }));
    assert!(matches!(world.fetch(KEY_B), Fetched::Refused(FetchRefusal::KeyMismatch)));
    assert_eq!(sip_password(&world.fetch(KEY_A)).as_deref(), Some(rotated.sip_password(1).unwrap().expose()));
    assert!(world.kinds().contains(&AuditKind::Rotated));
}

#[test]
fn another_key_for_a_pinned_device_is_refused_with_an_alert_until_rearm() {
    let (world, issued) = enrolled();
    let _ = world.fetch(KEY_A);
    let before = world.store.device(&world.mac).unwrap().unwrap();
    assert!(matches!(world.fetch(KEY_B), Fetched::Refused(FetchRefusal::KeyMismatch)));
    assert_eq!(world.store.device(&world.mac).unwrap().unwrap(), before, "the mismatch changed nothing");
    let alerts: Vec<_> =
        world.store.audit(&AuditQuery { kind: Some(AuditKind::KeyMismatch), ..AuditQuery::default() }).unwrap();
    assert_eq!(alerts.len(), 1);
    assert!(alerts[0].event.kind.is_alert());
    assert!(alerts[0].event.detail.contains(&"bb".repeat(32)), "{}", alerts[0].event.detail);
    assert_eq!(
        sip_password(&world.fetch(KEY_A)).as_deref(),
        Some(issued.sip_password(1).unwrap().expose()),
        "the pinned key still works"
    );
    world.credentials.rearm(&world.mac, Reissue::default(), "test").unwrap();
    assert!(matches!(world.fetch(KEY_B), Fetched::Config { secrets: Some(_), .. }));
}

#[test]
fn a_disabled_device_gets_nothing_until_enabled() {
    let (world, issued) = enrolled();
    assert!(world.credentials.set_disabled(&world.mac, true, "test").unwrap());
    assert!(matches!(world.fetch(KEY_A), Fetched::Refused(FetchRefusal::Disabled)));
    assert!(matches!(world.state(), CredentialState::Issued { .. }), "disabling keeps the state");
    world.credentials.set_disabled(&world.mac, false, "test").unwrap();
    assert_eq!(sip_password(&world.fetch(KEY_A)).as_deref(), Some(issued.sip_password(1).unwrap().expose()));
    assert_eq!(
        world.kinds(),
        vec![
            AuditKind::Enrolled,
            AuditKind::Disabled,
            AuditKind::Refused,
            AuditKind::Enabled,
            AuditKind::Delivered,
            AuditKind::KeyPinned
        ]
    );
}

#[test]
fn concurrent_first_fetches_record_one_first_delivery_and_nothing_after_purge() {
    let (world, issued) = enrolled();
    let world = Arc::new(world);
    let fetches: Vec<_> = (0..8)
        .map(|_| {
            let world = Arc::clone(&world);
            thread::spawn(move || sip_password(&world.fetch(KEY_A)))
        })
        .collect();
    for fetch in fetches {
        assert_eq!(fetch.join().unwrap().as_deref(), Some(issued.sip_password(1).unwrap().expose()));
    }
    let kinds = world.kinds();
    assert_eq!(kinds.iter().filter(|k| **k == AuditKind::KeyPinned).count(), 1, "one first delivery");
    assert_eq!(kinds.iter().filter(|k| **k == AuditKind::Delivered).count(), 8, "every delivery audited");
    world.clock.advance(GRACE);
    let after: Vec<_> = (0..8)
        .map(|_| {
            let world = Arc::clone(&world);
            thread::spawn(move || sip_password(&world.fetch(KEY_A)))
        })
        .collect();
    for fetch in after {
        assert_eq!(fetch.join().unwrap(), None, "no password after the purge");
    }
}

#[test]
fn a_failed_audit_write_leaves_the_secret_unconsumed() {
    let (world, issued) = enrolled();
    world.store.fail_audit_writes(true);
    assert!(matches!(world.credentials.fetch(&world.mac, request(KEY_A)), Err(CredentialsError::Store(_))));
    assert!(matches!(world.state(), CredentialState::Issued { .. }), "no transition without its audit event");
    world.store.fail_audit_writes(false);
    assert_eq!(sip_password(&world.fetch(KEY_A)).as_deref(), Some(issued.sip_password(1).unwrap().expose()));
}

#[test]
fn without_the_sealing_key_nothing_secret_is_issued_or_delivered() {
    let (keyed, _) = enrolled();
    // The same store, opened without the key.
    let unkeyed = Credentials::new(
        keyed.store.clone() as Arc<dyn Store>,
        Lifecycle::new(GRACE, DORMANT),
        None,
        keyed.clock.clone(),
    );
    assert!(matches!(unkeyed.fetch(&keyed.mac, request(KEY_A)), Err(CredentialsError::NoSealingKey)));
    assert!(matches!(keyed.state(), CredentialState::Issued { .. }), "the refused fetch consumed nothing");
    assert!(matches!(
        unkeyed.enrol("001565000002".parse().unwrap(), vec![account()], Vec::new()),
        Err(CredentialsError::NoSealingKey)
    ));
    assert_eq!(
        unkeyed.enrol("001565000002".parse().unwrap(), vec![account()], Vec::new()).unwrap_err().to_string(),
        "no sealing key loaded: secrets can be neither issued nor delivered (configure the key file)"
    );
    // Status still works, and a purged device still gets its config (no secret needed).
    let _ = keyed.fetch(KEY_A);
    keyed.clock.advance(GRACE);
    keyed.credentials.sweep(10).unwrap();
    assert!(matches!(unkeyed.fetch(&keyed.mac, request(KEY_A)).unwrap(), Fetched::Config { secrets: None, .. }));
}

#[test]
fn key_rotation_reseals_every_device_under_the_new_key() {
    let old_text = Keyring::generate_file(1, None).unwrap();
    let world = world_with(Some(Keyring::parse(&old_text).unwrap()));
    let macs: Vec<Mac> = (1..=5).map(|n| Mac::from_bytes([0, 0x15, 0x65, 0, 0, n])).collect();
    let issued: Vec<IssuedSecrets> =
        macs.iter().map(|mac| world.credentials.enrol(*mac, vec![account()], Vec::new()).unwrap().unwrap()).collect();

    let new_text = Keyring::generate_file(2, Some(&old_text)).unwrap();
    let rotated = Credentials::new(
        world.store.clone() as Arc<dyn Store>,
        Lifecycle::new(GRACE, DORMANT),
        Some(Keyring::parse(&new_text).unwrap()),
        world.clock.clone(),
    );
    assert_eq!(rotated.reseal_all(2).unwrap(), 5);
    assert_eq!(rotated.reseal_all(2).unwrap(), 0, "already under the current key");
    for mac in &macs {
        let secrets = world.store.device(mac).unwrap().unwrap().secrets.unwrap();
        assert_eq!(
            (secrets.sip_password(1).unwrap().key_id(), secrets.admin_password.unwrap().key_id()),
            (Some(2), Some(2))
        );
    }
    // Only the new key is needed from now on.
    let new_only = new_text.lines().filter(|l| !l.starts_with("key 1 ")).collect::<Vec<_>>().join("\n");
    let new_only = Credentials::new(
        world.store.clone() as Arc<dyn Store>,
        Lifecycle::new(GRACE, DORMANT),
        Some(Keyring::parse(&new_only).unwrap()),
        world.clock.clone(),
    );
    for (mac, issued) in macs.iter().zip(&issued) {
        let fetched = new_only.fetch(mac, request(KEY_A)).unwrap();
        assert_eq!(sip_password(&fetched).as_deref(), Some(issued.sip_password(1).unwrap().expose()));
    }
}

#[test]
fn unknown_devices_are_listed_as_pending_and_enrolment_clears_them() {
    let world = world_with(Some(keyring()));
    assert!(matches!(world.fetch(KEY_A), Fetched::NotEnrolled));
    world.credentials.seen_unknown(world.mac, "yealink", KEY_A, "192.0.2.10").unwrap();
    world.credentials.seen_unknown(world.mac, "yealink", KEY_A, "192.0.2.10").unwrap();
    let pending = world.store.pending(&PendingQuery::default()).unwrap();
    assert_eq!((pending.len(), pending[0].count), (1, 2));
    world.credentials.enrol(world.mac, vec![account()], Vec::new()).unwrap();
    assert!(world.store.pending(&PendingQuery::default()).unwrap().is_empty());
}

#[test]
fn sweeps_visit_every_device_in_bounded_batches() {
    let world = world_with(Some(keyring()));
    for n in 0..25u8 {
        world.credentials.enrol(Mac::from_bytes([0, 0x15, 0x65, 0, 1, n]), vec![account()], Vec::new()).unwrap();
    }
    world.clock.advance(DORMANT);
    assert_eq!(world.credentials.sweep(4).unwrap(), 25);
    assert!(world.store.devices_with_secrets(None, 100).unwrap().is_empty());
}

#[test]
fn an_operator_supplied_password_is_the_one_delivered() {
    let world = world_with(Some(keyring()));
    let supplied = sipprov_credentials::Password::from_string("FromTheOssBss123".into());
    let issued = world.credentials.enrol(world.mac, vec![account()], vec![(1, supplied)]).unwrap().unwrap();
    assert_eq!(issued.sip_password(1).unwrap().expose(), "FromTheOssBss123");
    assert_eq!(sip_password(&world.fetch(KEY_A)).as_deref(), Some("FromTheOssBss123"));
    assert!(world.credentials.enrol(world.mac, vec![account()], Vec::new()).unwrap().is_none(), "already enrolled");
}

#[test]
fn a_peek_never_consumes_the_delivery_nor_carries_a_secret() {
    let (world, issued) = enrolled();
    let writes = world.store.writes();
    let peeked = world
        .credentials
        .deliver(&world.mac, request(KEY_A), FetchKind::Peek, |_, _, secrets| Ok::<_, ()>(secrets.is_some()))
        .unwrap();
    assert!(matches!(peeked, Delivery::Config { body: false, with_secrets: false }), "{peeked:?}");
    let device = world.store.device(&world.mac).unwrap().unwrap();
    assert!(matches!(device.state, CredentialState::Issued { .. }), "a peek is no delivery");
    assert_eq!(device.pinned_spki, None, "a peek pins no key");
    assert_eq!(world.store.writes(), writes, "a peek writes nothing");
    assert_eq!(world.kinds(), vec![AuditKind::Enrolled]);
    // The GET that follows, even long after, still gets the password.
    world.clock.advance(GRACE * 10);
    assert_eq!(sip_password(&world.fetch(KEY_A)).as_deref(), Some(issued.sip_password(1).unwrap().expose()));
}

#[test]
fn a_peek_is_refused_and_alerted_like_a_fetch() {
    let (world, _) = enrolled();
    let _ = world.fetch(KEY_A);
    let peek =
        |key| world.credentials.deliver(&world.mac, request(key), FetchKind::Peek, |_, _, _| Ok::<_, ()>(())).unwrap();
    assert!(matches!(peek(KEY_B), Delivery::Refused(FetchRefusal::KeyMismatch)));
    assert_eq!(world.kinds().last(), Some(&AuditKind::KeyMismatch));
    world.credentials.set_disabled(&world.mac, true, "test").unwrap();
    assert!(matches!(peek(KEY_A), Delivery::Refused(FetchRefusal::Disabled)));
    assert_eq!(world.kinds().last(), Some(&AuditKind::Refused));
}

#[test]
fn a_render_failure_consumes_nothing_and_the_next_fetch_delivers() {
    let (world, issued) = enrolled();
    let failed = world.credentials.deliver(&world.mac, request(KEY_A), FetchKind::Deliver, |_, _, secrets| {
        assert!(secrets.is_some(), "the renderer is given the secrets to render");
        Err::<(), _>("a value the format cannot carry")
    });
    assert!(matches!(failed, Err(DeliverError::Render("a value the format cannot carry"))));
    let device = world.store.device(&world.mac).unwrap().unwrap();
    assert!(matches!(device.state, CredentialState::Issued { .. }), "not delivered: nothing left the server");
    assert_eq!(device.pinned_spki, None);
    assert_eq!(world.kinds(), vec![AuditKind::Enrolled], "no delivery audited");
    // The sweep cannot purge what was never delivered; the next good render delivers it.
    world.clock.advance(GRACE * 2);
    assert_eq!(world.credentials.sweep(10).unwrap(), 0);
    assert_eq!(sip_password(&world.fetch(KEY_A)).as_deref(), Some(issued.sip_password(1).unwrap().expose()));
}

#[test]
fn a_provisioned_phone_polling_writes_nothing_and_is_seen_in_batches() {
    let (world, _) = enrolled();
    let _ = world.fetch(KEY_A);
    world.clock.advance(GRACE);
    assert_eq!(sip_password(&world.fetch(KEY_A)), None, "the purge is a transition: written");
    let (writes, events) = (world.store.writes(), world.kinds().len());
    for _ in 0..20 {
        world.clock.advance(Duration::from_secs(3600));
        assert_eq!(sip_password(&world.fetch(KEY_A)), None);
    }
    assert_eq!(world.store.writes(), writes, "a poll that changes no state is a read");
    assert_eq!(world.kinds().len(), events, "and leaves no audit row");
    assert_eq!(world.credentials.unflushed_sightings(), 1, "one entry per device, however often it polls");
    // The flush reads each device's User-Agent once, off the fetch's path.
    let read = |sighting: &Sighting| FleetFacts {
        firmware: sighting.seen.user_agent.as_deref().and_then(|ua| ua.rsplit(' ').next()).map(str::to_owned),
        rating: Some(1),
        ..FleetFacts::default()
    };
    assert_eq!(world.credentials.flush_sightings(read).unwrap(), 1);
    let seen = world.store.device(&world.mac).unwrap().unwrap().last_seen.unwrap();
    assert_eq!((seen.at, seen.peer.as_str()), (world.clock.now(), "192.0.2.10"));
    assert_eq!(seen.user_agent.as_deref(), Some("Yealink SIP-T46G 28.72.0.1"));
    let row = world.store.fleet(&FleetQuery::default()).unwrap().remove(0);
    assert_eq!(row.facts.firmware.as_deref(), Some("28.72.0.1"), "what the reader read is stored");
    assert_eq!(row.facts.rating, Some(5), "the rating is the fetch's, not the reader's");
    assert_eq!(world.credentials.flush_sightings(read).unwrap(), 0, "nothing left to write");
}

#[test]
fn a_clock_stepped_back_ends_the_grace_at_once_and_bounds_how_long_a_secret_lives() {
    let (world, issued) = enrolled();
    let delivered_at = world.clock.now();
    let _ = world.fetch(KEY_A);
    // A small correction (under the tolerance) keeps the grace running.
    world.clock.set(Timestamp::from_unix(delivered_at.unix() - 30));
    assert_eq!(sip_password(&world.fetch(KEY_A)).as_deref(), Some(issued.sip_password(1).unwrap().expose()));
    // A step back of an hour: the window measured from the delivery cannot be trusted, so it ends.
    world.clock.set(Timestamp::from_unix(delivered_at.unix() - 3600));
    assert_eq!(sip_password(&world.fetch(KEY_A)), None);
    assert_eq!(world.state(), CredentialState::Purged);
    let query = AuditQuery { mac: Some(world.mac), kind: Some(AuditKind::Purged), ..AuditQuery::default() };
    let purged = world.store.audit(&query).unwrap();
    assert!(purged[0].event.detail.contains("clock_stepped_back=yes"), "{:?}", purged[0].event);
}

#[test]
fn a_clock_stepped_back_sends_never_fetched_secrets_dormant() {
    let (world, _) = enrolled();
    let issued_at = world.clock.now();
    world.clock.set(Timestamp::from_unix(issued_at.unix() - 59));
    assert_eq!(world.credentials.sweep(10).unwrap(), 0, "within the tolerance");
    world.clock.set(Timestamp::from_unix(issued_at.unix() - 86_400));
    assert_eq!(world.credentials.sweep(10).unwrap(), 1);
    assert!(matches!(world.state(), CredentialState::Dormant { .. }));
    assert!(matches!(world.fetch(KEY_A), Fetched::Refused(FetchRefusal::Dormant)));
}

#[test]
fn enrolling_a_pending_sighting_pins_the_key_the_operator_approved() {
    let world = world_with(Some(keyring()));
    world.credentials.seen_unknown(world.mac, "yealink", KEY_A, "192.0.2.10").unwrap();
    world.credentials.seen_unknown(world.mac, "yealink", KEY_B, "198.51.100.7").unwrap();
    let query = PendingQuery { mac: Some(world.mac), ..PendingQuery::default() };
    let pending = world.store.pending(&query).unwrap();
    assert_eq!(pending.iter().map(|p| p.spki_sha256).collect::<Vec<_>>(), [KEY_A, KEY_B], "both keys are shown");
    let approved = &pending[0];
    let profile = sipprov_credentials::DeviceProfile::default();
    world.credentials.enrol_pending(approved, vec![account()], profile, Vec::new(), "token:ops").unwrap().unwrap();
    assert_eq!(world.store.device(&world.mac).unwrap().unwrap().pinned_spki, Some(KEY_A));
    assert!(matches!(world.fetch(KEY_B), Fetched::Refused(FetchRefusal::KeyMismatch)), "the other key gets nothing");
    assert!(sip_password(&world.fetch(KEY_A)).is_some());
}

#[test]
fn audit_events_past_their_retention_are_pruned_in_batches_and_recent_ones_kept() {
    let (world, _) = enrolled();
    for _ in 0..25 {
        world.credentials.set_disabled(&world.mac, true, "test").unwrap();
        world.credentials.set_disabled(&world.mac, false, "test").unwrap();
    }
    world.clock.advance(Duration::from_secs(10 * 86_400));
    world.credentials.set_disabled(&world.mac, true, "recent").unwrap();
    assert_eq!(world.kinds().len(), 52);
    let pruned = world.credentials.prune_audit(Duration::from_secs(5 * 86_400), 7).unwrap();
    assert_eq!(pruned, 51, "the enrolment and 50 changes, in batches of 7");
    assert_eq!(world.kinds(), vec![AuditKind::Disabled], "the recent event is kept");
    assert_eq!(world.credentials.prune_audit(Duration::from_secs(5 * 86_400), 7).unwrap(), 0);
}

fn three_lines() -> Vec<Account> {
    (1..=3)
        .map(|line| Account::new(line, format!("100{line}"), format!("sp-100{line}"), format!("Line {line}")))
        .collect()
}

fn passwords(secrets: &IssuedSecrets) -> Vec<(u16, String)> {
    secrets.sip_passwords.iter().map(|(line, password)| (*line, password.expose().to_owned())).collect()
}

#[test]
fn one_fetch_delivers_every_accounts_own_password_and_the_grace_purges_them_all() {
    let world = world_with(Some(keyring()));
    let issued = world.credentials.enrol(world.mac, three_lines(), Vec::new()).unwrap().unwrap();
    let lines: Vec<u16> = issued.sip_passwords.iter().map(|(line, _)| *line).collect();
    assert_eq!(lines, [1, 2, 3]);
    let distinct: std::collections::BTreeSet<String> = passwords(&issued).into_iter().map(|(_, p)| p).collect();
    assert_eq!(distinct.len(), 3, "each account has its own password");
    let Fetched::Config { accounts, secrets: Some(first), .. } = world.fetch(KEY_A) else { panic!("a config") };
    assert_eq!(accounts, three_lines());
    assert_eq!(passwords(&first), passwords(&issued));
    world.clock.advance(GRACE);
    let Fetched::Config { secrets, .. } = world.fetch(KEY_A) else { panic!("a config") };
    assert!(secrets.is_none(), "every account's password is purged");
    assert_eq!(world.store.device(&world.mac).unwrap().unwrap().secrets, None);
}

#[test]
fn rotating_one_account_issues_only_its_password_and_delivers_only_it() {
    let world = world_with(Some(keyring()));
    let issued = world.credentials.enrol(world.mac, three_lines(), Vec::new()).unwrap().unwrap();
    let _ = world.fetch(KEY_A);
    world.clock.advance(GRACE);
    let _ = world.fetch(KEY_A);
    assert_eq!(world.state(), CredentialState::Purged);

    let rotated =
        world.credentials.rotate(&world.mac, Reissue { line: Some(2), sip_password: None }, "test").unwrap().unwrap();
    assert_eq!(rotated.sip_passwords.len(), 1);
    assert_ne!(rotated.sip_password(2).unwrap().expose(), issued.sip_password(2).unwrap().expose());
    assert!(rotated.admin_password.is_none(), "the phone keeps the admin password it was given");
    assert!(matches!(world.state(), CredentialState::Issued { .. }));
    let device = world.store.device(&world.mac).unwrap().unwrap();
    assert_eq!(device.pinned_spki, Some(KEY_A), "a rotation keeps the pin");
    let Fetched::Config { secrets: Some(delivered), .. } = world.fetch(KEY_A) else { panic!("a config") };
    assert_eq!(passwords(&delivered), passwords(&rotated), "only account 2's password goes out");
    assert!(delivered.admin_password.is_none());
    let last = world.store.audit(&AuditQuery { kind: Some(AuditKind::Rotated), ..AuditQuery::default() }).unwrap();
    assert!(last[0].event.detail.starts_with("lines=2 from=purged"), "{}", last[0].event.detail);
}

#[test]
fn rotating_one_account_before_the_first_fetch_keeps_the_others_waiting() {
    let world = world_with(Some(keyring()));
    let issued = world.credentials.enrol(world.mac, three_lines(), Vec::new()).unwrap().unwrap();
    let chosen = sipprov_credentials::Password::from_string("Operator-Chosen-2".into());
    let reissue = Reissue { line: Some(2), sip_password: Some(chosen) };
    let rotated = world.credentials.rotate(&world.mac, reissue, "test").unwrap().unwrap();
    assert_eq!(rotated.sip_password(2).unwrap().expose(), "Operator-Chosen-2");
    let Fetched::Config { secrets: Some(first), .. } = world.fetch(KEY_A) else { panic!("a config") };
    let mut expected = passwords(&issued);
    expected[1].1 = "Operator-Chosen-2".into();
    assert_eq!(passwords(&first), expected);
    assert_eq!(first.admin_password, issued.admin_password);
}

#[test]
fn a_reissue_that_does_not_fit_the_device_changes_nothing() {
    let world = world_with(Some(keyring()));
    world.credentials.enrol(world.mac, three_lines(), Vec::new()).unwrap().unwrap();
    let before = world.store.device(&world.mac).unwrap().unwrap();
    let password = || Some(sipprov_credentials::Password::from_string("Operator-Chosen-1".into()));
    let no_line = world.credentials.rotate(&world.mac, Reissue { line: Some(9), sip_password: None }, "t");
    assert!(matches!(no_line, Err(CredentialsError::Invalid(m)) if m.contains("line 9")));
    let ambiguous = world.credentials.rearm(&world.mac, Reissue { line: None, sip_password: password() }, "t");
    assert!(matches!(ambiguous, Err(CredentialsError::Invalid(m)) if m.contains("give the line")));
    let stray = world.credentials.enrol(
        "001565000002".parse().unwrap(),
        vec![account()],
        vec![(2, sipprov_credentials::Password::from_string("Operator-Chosen-2".into()))],
    );
    assert!(matches!(stray, Err(CredentialsError::Invalid(m)) if m.contains("line 2")));
    let twice = world.credentials.enrol("001565000003".parse().unwrap(), vec![account(), account()], Vec::new());
    assert!(matches!(twice, Err(CredentialsError::Invalid(m)) if m.contains("line 1 is given twice")));
    assert_eq!(world.store.device(&world.mac).unwrap().unwrap(), before);
    assert_eq!(world.kinds(), [AuditKind::Enrolled]);
}

#[test]
fn an_added_account_gets_its_own_password_and_a_removed_one_takes_its_secret() {
    let world = world_with(Some(keyring()));
    world.credentials.enrol(world.mac, three_lines()[..2].to_vec(), Vec::new()).unwrap().unwrap();
    let _ = world.fetch(KEY_A);
    world.clock.advance(GRACE);
    let _ = world.fetch(KEY_A);
    let updated = world
        .credentials
        .update(&world.mac, "test", |device| {
            let mut accounts = vec![device.accounts[0].clone()];
            accounts.push(three_lines()[2].clone());
            Ok((accounts, device.profile.clone()))
        })
        .unwrap();
    let sipprov_credentials::Updated::Changed(device, Some(added)) = updated else { panic!("{updated:?}") };
    assert_eq!(device.accounts.iter().map(|a| a.line).collect::<Vec<_>>(), [1, 3]);
    assert_eq!(added.sip_passwords.iter().map(|(line, _)| *line).collect::<Vec<_>>(), [3]);
    let Fetched::Config { secrets: Some(delivered), .. } = world.fetch(KEY_A) else { panic!("a config") };
    assert_eq!(passwords(&delivered), passwords(&added), "the new account's password is delivered");

    let dropped = world
        .credentials
        .update(&world.mac, "test", |device| Ok((device.accounts[..1].to_vec(), device.profile.clone())))
        .unwrap();
    let sipprov_credentials::Updated::Changed(device, None) = dropped else { panic!("{dropped:?}") };
    assert_eq!(device.secrets, None, "the removed account's password went with it");
}

#[test]
fn an_account_that_names_another_user_on_its_line_gets_a_password_of_its_own() {
    let world = world_with(Some(keyring()));
    let issued = world.credentials.enrol(world.mac, three_lines(), Vec::new()).unwrap().unwrap();
    let updated = world
        .credentials
        .update(&world.mac, "test", |device| {
            let mut accounts = device.accounts.clone();
            accounts[1].user_name = "2002".into();
            Ok((accounts, device.profile.clone()))
        })
        .unwrap();
    let sipprov_credentials::Updated::Changed(_, Some(fresh)) = updated else { panic!("{updated:?}") };
    assert_eq!(fresh.sip_passwords.iter().map(|(line, _)| *line).collect::<Vec<_>>(), [2]);
    assert_ne!(fresh.sip_password(2).unwrap().expose(), issued.sip_password(2).unwrap().expose());
    let Fetched::Config { secrets: Some(first), .. } = world.fetch(KEY_A) else { panic!("a config") };
    assert_eq!(first.sip_password(2).unwrap().expose(), fresh.sip_password(2).unwrap().expose());
    assert_eq!(first.sip_password(1).unwrap().expose(), issued.sip_password(1).unwrap().expose());
    assert_eq!(first.admin_password, issued.admin_password, "the never-delivered admin password stays");
}

#[test]
fn a_dormant_device_is_rearmed_whole_and_a_rearm_names_no_line() {
    let world = world_with(Some(keyring()));
    world.credentials.enrol(world.mac, three_lines(), Vec::new()).unwrap().unwrap();
    let line = |line| Reissue { line: Some(line), sip_password: None };
    let rearm_one = world.credentials.rearm(&world.mac, line(2), "test");
    assert!(matches!(rearm_one, Err(CredentialsError::Invalid(m)) if m.contains("give no line")));
    world.clock.advance(DORMANT);
    let rotate_one = world.credentials.rotate(&world.mac, line(2), "test");
    assert!(matches!(rotate_one, Err(CredentialsError::Invalid(m)) if m.contains("dormant")));
    let whole = world.credentials.rearm(&world.mac, Reissue::default(), "test").unwrap().unwrap();
    assert_eq!(whole.sip_passwords.len(), 3);
    assert!(whole.admin_password.is_some());
}

#[test]
fn adding_an_account_does_not_extend_the_window_of_never_fetched_secrets() {
    let world = world_with(Some(keyring()));
    world.credentials.enrol(world.mac, three_lines()[..1].to_vec(), Vec::new()).unwrap().unwrap();
    let enrolled_at = world.clock.now();
    world.clock.advance(Duration::from_secs(86_400));
    world
        .credentials
        .update(&world.mac, "test", |device| {
            let mut accounts = device.accounts.clone();
            accounts.push(three_lines()[1].clone());
            Ok((accounts, device.profile.clone()))
        })
        .unwrap();
    assert_eq!(world.state(), CredentialState::Issued { since: enrolled_at });
    world.clock.advance(DORMANT - Duration::from_secs(86_400));
    assert_eq!(world.credentials.sweep(10).unwrap(), 1, "dormant on the enrolment's schedule");
    assert_eq!(world.store.device(&world.mac).unwrap().unwrap().secrets, None);
}
