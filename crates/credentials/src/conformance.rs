//! The conformance suite every [`Store`] backend must pass.
//!
//! One line in a backend's tests runs it all:
//!
//! ```
//! # use std::sync::Arc;
//! # use sipprov_credentials::{MemoryStore, Store};
//! sipprov_credentials::conformance::run(&|| Arc::new(MemoryStore::default()) as Arc<dyn Store>);
//! ```
//!
//! Each check gets a fresh, empty store from the factory and panics with a message naming the
//! broken promise of the [`Store`] contract.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test suite: failing loudly is the point

use std::sync::Arc;
use std::thread;

use sipprov_identity::Mac;

use crate::{
    Abort, Account, ApiToken, AuditEvent, AuditKind, AuditQuery, Ban, CredentialState, DeviceProfile, DeviceQuery,
    DeviceRecord, DeviceSecrets, DeviceUpdate, Document, FleetFacts, FleetQuery, FleetRow, FunctionKey, KeyKind,
    LastSeen, MAX_DOCUMENT_BYTES, MAX_PENDING_KEYS, PendingDevice, PendingQuery, RegistrarChange, RegistrarEntry,
    RevealToken, Role, Sealed, Sighting, Srtp, Store, StoreError, Timestamp, TokenUse, Transport,
};

/// One check of the contract, given a fresh store.
type Check = fn(Arc<dyn Store>);

/// Runs every check against stores made by `new_store`.
pub fn run(new_store: &dyn Fn() -> Arc<dyn Store>) {
    let checks: &[(&str, Check)] = &[
        ("devices round-trip exactly", devices_round_trip),
        ("a device's several accounts round-trip, each with its own secret", several_accounts),
        ("a second insert of a MAC changes nothing", duplicate_insert_changes_nothing),
        ("enrolment removes the MAC from the pending list", enrolment_clears_pending),
        ("updates persist with their audit events", updates_persist_with_events),
        ("an enrolment secret is kept through updates and listings, and removed", enrolment_secrets),
        ("an aborted update writes nothing", aborted_update_writes_nothing),
        ("an update handed to a callback reports as the update does", updates_then_report),
        ("a read handed to a callback reads as the read does", reads_then_report),
        ("updates of one device are exclusive", concurrent_updates_are_exclusive),
        ("deletion removes the device", deletion),
        ("devices with secrets are listed in bounded batches", devices_with_secrets_in_batches),
        ("the audit log filters and pages", audit_queries),
        ("pending sightings accumulate per key", pending_sightings),
        ("pending devices page, and one MAC's keys are found", pending_paging),
        ("sightings keep the latest and skip unknown devices", sightings),
        ("sightings keep fleet facts and alert once on a contradiction", sighting_facts),
        ("fleet rows filter and page", fleet_rows),
        ("documents change only from the version read", documents),
        ("audit pruning removes only old events, in batches", audit_pruning),
        ("bans expire and can be lifted", bans),
        ("reveal tokens are single-use and expire", reveal_tokens),
        ("devices are listed with filters and pages", device_listing),
        ("events about no device are kept and found", events_without_device),
        ("admin API tokens are found by hash", api_tokens),
        ("compaction keeps every record", compaction_keeps_records),
        ("the registrar outbox is written with its events and drained in order", registrar_outbox),
    ];
    for (name, check) in checks {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(new_store())));
        if let Err(panic) = outcome {
            let message = panic.downcast_ref::<String>().map(String::as_str).or(panic.downcast_ref::<&str>().copied());
            panic!("store conformance: {name}: {}", message.unwrap_or("(no message)"));
        }
    }
}

fn mac(n: u16) -> Mac {
    let [high, low] = n.to_be_bytes();
    Mac::from_bytes([0x00, 0x15, 0x65, 0x00, high, low])
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_unix(1_800_000_000 + seconds)
}

fn record(n: u16) -> DeviceRecord {
    DeviceRecord {
        mac: mac(n),
        accounts: vec![Account::new(1, format!("1{n:03}"), format!("sp-{}", mac(n)), "Desk \"A\" <&>")],
        state: CredentialState::Issued { since: at(0) },
        secrets: Some(DeviceSecrets {
            sip_passwords: vec![(1, Sealed::from_bytes(vec![1, 2, 3, n as u8]))],
            admin_password: Some(Sealed::from_bytes(vec![4, 5, 6, n as u8])),
        }),
        pinned_spki: None,
        enrolment_secret: None,
        disabled: false,
        enrolled_at: at(0),
        last_seen: None,
        profile: DeviceProfile::default(),
    }
}

fn event(n: u16, seconds: i64, kind: AuditKind) -> AuditEvent {
    AuditEvent::new(at(seconds), mac(n), kind, format!("n={n}"))
}

fn all_events(store: &dyn Store) -> Vec<AuditEvent> {
    let query = AuditQuery { limit: usize::MAX, ..AuditQuery::default() };
    store.audit(&query).unwrap().into_iter().map(|e| e.event).collect()
}

fn devices_round_trip(store: Arc<dyn Store>) {
    let mut full = record(1);
    full.state = CredentialState::Delivered { at: at(5) };
    full.pinned_spki = Some([7; 32]);
    full.disabled = true;
    full.last_seen = Some(LastSeen { at: at(6), peer: "192.0.2.9".into(), user_agent: Some("Yealink \"T46\"".into()) });
    full.profile = DeviceProfile {
        vendor: Some("yealink".into()),
        model: Some("T54W".into()),
        site: Some("Leeds \"HQ\"".into()),
        settings: [("language".to_owned(), "Deutsch".to_owned()), ("ntp_server".to_owned(), "ntp.example".to_owned())]
            .into(),
        keys: vec![
            FunctionKey { position: 2, kind: KeyKind::Blf, value: "1002".into(), label: "Bob \"B\"".into(), line: 1 },
            FunctionKey {
                position: 5,
                kind: KeyKind::SpeedDial,
                value: "*97".into(),
                label: "Voicemail".into(),
                line: 1,
            },
        ],
    };
    assert!(store.insert_device(full.clone(), vec![event(1, 0, AuditKind::Enrolled)]).unwrap());
    let mut bare = record(2);
    bare.state = CredentialState::Purged;
    bare.secrets = None;
    assert!(store.insert_device(bare.clone(), Vec::new()).unwrap());
    let mut dormant = record(3);
    dormant.state = CredentialState::Dormant { since: at(9) };
    dormant.secrets = None;
    assert!(store.insert_device(dormant.clone(), Vec::new()).unwrap());
    assert_eq!(store.device(&mac(1)).unwrap(), Some(full));
    assert_eq!(store.device(&mac(2)).unwrap(), Some(bare));
    assert_eq!(store.device(&mac(3)).unwrap(), Some(dormant));
    assert_eq!(store.device(&mac(4)).unwrap(), None);
    assert_eq!(all_events(&*store), vec![event(1, 0, AuditKind::Enrolled)]);
}

/// A four-port gateway: every account's settings, and each account's sealed password under its
/// own line, come back as they went in; an update that drops a line and rewrites another leaves
/// the rest as they were.
fn several_accounts(store: Arc<dyn Store>) {
    let mut gateway = record(1);
    gateway.accounts = (1..=4u16)
        .map(|line| Account {
            registrar: (line == 2).then(|| "sip2.example.net:5061".into()),
            outbound_proxy: (line == 3).then(|| "proxy.example.net".into()),
            transport: [None, Some(Transport::Tls), Some(Transport::Tcp), Some(Transport::Udp)][usize::from(line - 1)],
            srtp: [None, Some(Srtp::Required), Some(Srtp::Optional), Some(Srtp::Off)][usize::from(line - 1)],
            ..Account::new(line, format!("20{line}"), format!("gw-{line}"), format!("Port {line}"))
        })
        .collect();
    gateway.secrets = Some(DeviceSecrets {
        sip_passwords: (1..=4u8).map(|line| (u16::from(line), Sealed::from_bytes(vec![9, line]))).collect(),
        admin_password: Some(Sealed::from_bytes(vec![8])),
    });
    assert!(store.insert_device(gateway.clone(), Vec::new()).unwrap());
    assert_eq!(store.device(&mac(1)).unwrap(), Some(gateway.clone()));
    let mut one_left = record(2);
    one_left.accounts.push(Account::new(7, "207", "a-207", "Seven"));
    one_left.secrets =
        Some(DeviceSecrets { sip_passwords: vec![(7, Sealed::from_bytes(vec![7]))], admin_password: None });
    assert!(store.insert_device(one_left.clone(), Vec::new()).unwrap());
    assert_eq!(store.device(&mac(2)).unwrap(), Some(one_left), "one account's secret, no admin password");
    let written = store
        .update_device(
            &mac(1),
            Box::new(|device| {
                device.accounts.retain(|account| account.line != 3);
                device.accounts[0].display_name = "Lobby".into();
                if let Some(secrets) = &mut device.secrets {
                    secrets.sip_passwords.retain(|(line, _)| *line != 3);
                }
                Ok(Vec::new())
            }),
        )
        .unwrap()
        .unwrap();
    assert_eq!(written.accounts.iter().map(|a| a.line).collect::<Vec<_>>(), [1, 2, 4]);
    assert_eq!(store.device(&mac(1)).unwrap(), Some(written.clone()));
    assert_eq!(written.accounts[1], gateway.accounts[1], "untouched accounts stay as they were");
    assert_eq!(store.devices_with_secrets(None, 10).unwrap(), vec![mac(1), mac(2)]);
}

fn duplicate_insert_changes_nothing(store: Arc<dyn Store>) {
    assert!(store.insert_device(record(1), vec![event(1, 0, AuditKind::Enrolled)]).unwrap());
    let mut other = record(1);
    other.accounts[0].user_name = "9999".into();
    assert!(!store.insert_device(other, vec![event(1, 1, AuditKind::Enrolled)]).unwrap());
    assert_eq!(store.device(&mac(1)).unwrap(), Some(record(1)));
    assert_eq!(all_events(&*store).len(), 1, "the refused insert appended no event");
}

fn enrolment_clears_pending(store: Arc<dyn Store>) {
    let sighting = PendingDevice {
        mac: mac(1),
        vendor: "yealink".into(),
        spki_sha256: [1; 32],
        first_seen: at(0),
        last_seen: at(0),
        count: 1,
    };
    store.record_pending(sighting.clone(), event(1, 0, AuditKind::PendingSeen)).unwrap();
    store
        .record_pending(PendingDevice { spki_sha256: [2; 32], ..sighting }, event(1, 1, AuditKind::PendingSeen))
        .unwrap();
    assert_eq!(store.pending(&PendingQuery::default()).unwrap().len(), 2);
    store.insert_device(record(1), Vec::new()).unwrap();
    assert!(store.pending(&PendingQuery::default()).unwrap().is_empty(), "every key of the MAC is gone");
}

fn updates_persist_with_events(store: Arc<dyn Store>) {
    assert_eq!(store.update_device(&mac(1), Box::new(|_| Ok(Vec::new()))).unwrap(), None, "unknown device");
    store.insert_device(record(1), Vec::new()).unwrap();
    let written = store
        .update_device(
            &mac(1),
            Box::new(|device| {
                device.state = CredentialState::Purged;
                device.secrets = None;
                device.pinned_spki = Some([9; 32]);
                device.last_seen = Some(seen(10));
                Ok(vec![event(1, 10, AuditKind::Delivered), event(1, 10, AuditKind::Purged)])
            }),
        )
        .unwrap()
        .unwrap();
    assert_eq!(written.state, CredentialState::Purged);
    assert_eq!(store.device(&mac(1)).unwrap(), Some(written));
    assert_eq!(all_events(&*store), vec![event(1, 10, AuditKind::Delivered), event(1, 10, AuditKind::Purged)]);
    // Each part of the record an update may change alone is stored, and found by its indexes.
    let change = |edit: fn(&mut DeviceRecord)| {
        let written = store
            .update_device(
                &mac(1),
                Box::new(move |device| {
                    edit(device);
                    Ok(Vec::new())
                }),
            )
            .unwrap()
            .unwrap();
        assert_eq!(store.device(&mac(1)).unwrap(), Some(written));
    };
    change(|device| {
        device.profile.vendor = Some("snom".into());
        device.profile.site = Some("york".into());
        device.profile.settings.insert("ntp_server".into(), "ntp.example".into());
        device.enrolled_at = at(3);
    });
    change(|device| device.last_seen = Some(seen(40)));
    change(|device| device.disabled = true);
    let found = |query: DeviceQuery| store.devices(&query).unwrap().into_iter().map(|d| d.mac).collect::<Vec<_>>();
    assert_eq!(
        found(DeviceQuery { vendor: Some("snom".into()), site: Some("york".into()), ..Default::default() }),
        [mac(1)]
    );
    assert_eq!(found(DeviceQuery { seen_since: Some(at(40)), ..Default::default() }), [mac(1)]);
    let stored = store.device(&mac(1)).unwrap().unwrap();
    assert_eq!((stored.disabled, stored.enrolled_at, stored.last_seen), (true, at(3), Some(seen(40))));
}

fn enrolment_secrets(store: Arc<dyn Store>) {
    let sealed = Sealed::from_bytes(vec![1, 2, 3, 4]);
    let mut with_secret = record(1);
    with_secret.enrolment_secret = Some(sealed.clone());
    store.insert_device(with_secret.clone(), Vec::new()).unwrap();
    assert_eq!(store.device(&mac(1)).unwrap(), Some(with_secret));
    // A delivery's write (state, secrets, last seen) keeps it.
    let delivered = store
        .update_device(
            &mac(1),
            Box::new(|device| {
                device.state = CredentialState::Purged;
                device.secrets = None;
                Ok(Vec::new())
            }),
        )
        .unwrap()
        .unwrap();
    assert_eq!(delivered.enrolment_secret.as_ref(), Some(&sealed));
    let listed = store.devices(&DeviceQuery::default()).unwrap();
    assert_eq!(listed[0].enrolment_secret.as_ref(), Some(&sealed));
    store
        .update_device(
            &mac(1),
            Box::new(|device| {
                device.enrolment_secret = None;
                Ok(Vec::new())
            }),
        )
        .unwrap();
    assert_eq!(store.device(&mac(1)).unwrap().unwrap().enrolment_secret, None);
}

fn aborted_update_writes_nothing(store: Arc<dyn Store>) {
    store.insert_device(record(1), Vec::new()).unwrap();
    let result = store.update_device(
        &mac(1),
        Box::new(|device| {
            device.secrets = None;
            Err(Abort("changed my mind".into()))
        }),
    );
    assert!(matches!(result, Err(StoreError::Aborted(reason)) if reason == "changed my mind"));
    assert_eq!(store.device(&mac(1)).unwrap(), Some(record(1)));
    assert!(all_events(&*store).is_empty());
}

/// `update_device_then` writes and reports exactly as `update_device` does, whichever thread
/// it reports from: the change with its events, an abort writing nothing, an unknown device.
fn updates_then_report(store: Arc<dyn Store>) {
    let then = |mac: Mac, update: DeviceUpdate| {
        let (sender, receiver) = std::sync::mpsc::channel();
        store.update_device_then(
            &mac,
            update,
            Box::new(move |result| {
                sender.send(result).unwrap();
            }),
        );
        receiver.recv_timeout(std::time::Duration::from_secs(10)).expect("done is called")
    };
    assert_eq!(then(mac(1), Box::new(|_| Ok(Vec::new()))).unwrap(), None, "unknown device");
    store.insert_device(record(1), Vec::new()).unwrap();
    let aborted = then(mac(1), Box::new(|_| Err(Abort("no".into()))));
    assert!(matches!(aborted, Err(StoreError::Aborted(reason)) if reason == "no"));
    let written = then(
        mac(1),
        Box::new(|device| {
            device.state = CredentialState::Delivered { at: at(5) };
            Ok(vec![event(1, 5, AuditKind::Delivered)])
        }),
    )
    .unwrap()
    .unwrap();
    assert_eq!(written.state, CredentialState::Delivered { at: at(5) });
    assert_eq!(store.device(&mac(1)).unwrap(), Some(written), "durable once reported");
    assert_eq!(all_events(&*store), vec![event(1, 5, AuditKind::Delivered)]);
}

fn reads_then_report(store: Arc<dyn Store>) {
    let then = |mac: Mac| {
        let (sender, receiver) = std::sync::mpsc::channel();
        store.device_then(
            &mac,
            Box::new(move |result| {
                sender.send(result).unwrap();
            }),
        );
        receiver.recv_timeout(std::time::Duration::from_secs(10)).expect("done is called")
    };
    assert_eq!(then(mac(1)).unwrap(), None, "unknown device");
    store.insert_device(record(1), Vec::new()).unwrap();
    assert_eq!(then(mac(1)).unwrap(), Some(record(1)));
    assert_eq!(then(mac(1)).unwrap(), store.device(&mac(1)).unwrap());
}

fn concurrent_updates_are_exclusive(store: Arc<dyn Store>) {
    store.insert_device(record(1), Vec::new()).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let store = Arc::clone(&store);
            thread::spawn(move || {
                for _ in 0..10 {
                    store
                        .update_device(
                            &mac(1),
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
    let name = store.device(&mac(1)).unwrap().unwrap().accounts[0].display_name.clone();
    assert_eq!(name.matches('+').count(), 80, "lost updates");
}

fn deletion(store: Arc<dyn Store>) {
    store.insert_device(record(1), Vec::new()).unwrap();
    assert!(store.delete_device(&mac(1), event(1, 1, AuditKind::Deleted)).unwrap());
    assert_eq!(store.device(&mac(1)).unwrap(), None);
    assert!(!store.delete_device(&mac(1), event(1, 2, AuditKind::Deleted)).unwrap());
    assert_eq!(all_events(&*store), vec![event(1, 1, AuditKind::Deleted)]);
}

fn devices_with_secrets_in_batches(store: Arc<dyn Store>) {
    for n in [5, 1, 3, 2, 4] {
        let mut device = record(n);
        if n == 3 {
            device.state = CredentialState::Purged;
            device.secrets = None;
        }
        if n == 4 {
            device.state = CredentialState::Delivered { at: at(40) };
        }
        store.insert_device(device, Vec::new()).unwrap();
    }
    assert_eq!(store.devices_with_secrets(None, 2).unwrap(), vec![mac(1), mac(2)]);
    assert_eq!(store.devices_with_secrets(Some(mac(2)), 2).unwrap(), vec![mac(4), mac(5)]);
    assert_eq!(store.devices_with_secrets(Some(mac(5)), 2).unwrap(), Vec::<Mac>::new());
    // What an expiry sweep decides on: the same devices, in the same batches, with their states.
    let issued = CredentialState::Issued { since: at(0) };
    assert_eq!(store.secret_states(None, 2).unwrap(), vec![(mac(1), issued), (mac(2), issued)]);
    let delivered = CredentialState::Delivered { at: at(40) };
    assert_eq!(store.secret_states(Some(mac(2)), 2).unwrap(), vec![(mac(4), delivered), (mac(5), issued)]);
    assert_eq!(store.secret_states(Some(mac(5)), 2).unwrap(), Vec::new());
}

fn audit_queries(store: Arc<dyn Store>) {
    store
        .append_audit(vec![
            event(1, 0, AuditKind::Delivered),
            event(2, 10, AuditKind::KeyMismatch),
            event(1, 20, AuditKind::Purged),
            event(2, 30, AuditKind::Delivered),
        ])
        .unwrap();
    let read = |query: AuditQuery| store.audit(&query).unwrap();
    let all = read(AuditQuery { limit: 10, ..AuditQuery::default() });
    assert_eq!(all.len(), 4);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id), "ids increase");
    let kinds = |events: Vec<crate::StoredAuditEvent>| {
        events.into_iter().map(|e| (e.event.mac.unwrap(), e.event.kind)).collect::<Vec<_>>()
    };
    assert_eq!(
        kinds(read(AuditQuery { mac: Some(mac(1)), ..AuditQuery::default() })),
        vec![(mac(1), AuditKind::Delivered), (mac(1), AuditKind::Purged)]
    );
    assert_eq!(
        kinds(read(AuditQuery { kind: Some(AuditKind::Delivered), ..AuditQuery::default() })),
        vec![(mac(1), AuditKind::Delivered), (mac(2), AuditKind::Delivered)]
    );
    assert_eq!(
        kinds(read(AuditQuery { since: Some(at(10)), until: Some(at(30)), ..AuditQuery::default() })),
        vec![(mac(2), AuditKind::KeyMismatch), (mac(1), AuditKind::Purged)]
    );
    let newest = read(AuditQuery { newest_first: true, limit: 2, ..AuditQuery::default() });
    assert_eq!(kinds(newest.clone()), vec![(mac(2), AuditKind::Delivered), (mac(1), AuditKind::Purged)]);
    let older = read(AuditQuery { newest_first: true, before_id: Some(newest[1].id), ..AuditQuery::default() });
    assert_eq!(kinds(older), vec![(mac(2), AuditKind::KeyMismatch), (mac(1), AuditKind::Delivered)]);
    let first_page = read(AuditQuery { limit: 3, ..AuditQuery::default() });
    assert_eq!(first_page.len(), 3);
    let second_page = read(AuditQuery { after_id: Some(first_page[2].id), ..AuditQuery::default() });
    assert_eq!(kinds(second_page), vec![(mac(2), AuditKind::Delivered)]);
    assert_eq!(all[1].event.detail, "n=2");
}

fn pending_sightings(store: Arc<dyn Store>) {
    let sighting = |seconds, key| PendingDevice {
        mac: mac(7),
        vendor: "polycom".into(),
        spki_sha256: [key; 32],
        first_seen: at(seconds),
        last_seen: at(seconds),
        count: 1,
    };
    store.record_pending(sighting(0, 1), event(7, 0, AuditKind::PendingSeen)).unwrap();
    store.record_pending(sighting(50, 2), event(7, 50, AuditKind::PendingSeen)).unwrap();
    store.record_pending(sighting(60, 1), event(7, 60, AuditKind::PendingSeen)).unwrap();
    let pending = store.pending(&PendingQuery::default()).unwrap();
    let entry = |key, first_seen, last_seen, count| PendingDevice {
        mac: mac(7),
        vendor: "polycom".into(),
        spki_sha256: [key; 32],
        first_seen: at(first_seen),
        last_seen: at(last_seen),
        count,
    };
    assert_eq!(pending, vec![entry(1, 0, 60, 2), entry(2, 50, 50, 1)], "each key kept apart, never overwritten");
    for key in 3..=20 {
        store.record_pending(sighting(100, key), event(7, 100, AuditKind::PendingSeen)).unwrap();
    }
    let keys = store.pending(&PendingQuery { limit: 100, ..PendingQuery::default() }).unwrap();
    assert_eq!(keys.len(), MAX_PENDING_KEYS, "the keys kept for one MAC are bounded");
    assert_eq!(all_events(&*store).len(), 21, "every sighting is audited, kept or not");
}

fn pending_paging(store: Arc<dyn Store>) {
    for n in 1..=5u16 {
        for key in [2u8, 1] {
            let sighting = PendingDevice {
                mac: mac(n),
                vendor: "yealink".into(),
                spki_sha256: [key; 32],
                first_seen: at(0),
                last_seen: at(0),
                count: 1,
            };
            store.record_pending(sighting, event(n, 0, AuditKind::PendingSeen)).unwrap();
        }
    }
    let page = |after, limit| {
        let query = PendingQuery { after, limit, ..PendingQuery::default() };
        store.pending(&query).unwrap().into_iter().map(|p| (p.mac, p.spki_sha256[0])).collect::<Vec<_>>()
    };
    assert_eq!(page(None, 3), [(mac(1), 1), (mac(1), 2), (mac(2), 1)]);
    assert_eq!(page(Some((mac(2), [1; 32])), 3), [(mac(2), 2), (mac(3), 1), (mac(3), 2)]);
    assert!(page(Some((mac(5), [2; 32])), 3).is_empty());
    let one = store.pending(&PendingQuery { mac: Some(mac(4)), ..PendingQuery::default() }).unwrap();
    assert_eq!(one.iter().map(|p| (p.mac, p.spki_sha256[0])).collect::<Vec<_>>(), [(mac(4), 1), (mac(4), 2)]);
}

fn seen(seconds: i64) -> LastSeen {
    LastSeen { at: at(seconds), peer: format!("192.0.2.{}", seconds % 250), user_agent: Some(format!("ua {seconds}")) }
}

fn sightings(store: Arc<dyn Store>) {
    store.insert_device(record(1), Vec::new()).unwrap();
    store.insert_device(record(2), Vec::new()).unwrap();
    let sighting = |n, seconds| Sighting {
        mac: mac(n),
        seen: seen(seconds),
        certificate_vendor: None,
        facts: FleetFacts::default(),
    };
    store.record_sightings(&[sighting(1, 20), sighting(2, 30), sighting(9, 40)]).unwrap();
    assert_eq!(store.device(&mac(1)).unwrap().unwrap().last_seen, Some(seen(20)));
    assert_eq!(store.device(&mac(2)).unwrap().unwrap().last_seen, Some(seen(30)));
    assert_eq!(store.device(&mac(9)).unwrap(), None, "a sighting enrols nothing");
    store.record_sightings(&[sighting(1, 10), sighting(2, 31)]).unwrap();
    assert_eq!(store.device(&mac(1)).unwrap().unwrap().last_seen, Some(seen(20)), "an older sighting is ignored");
    assert_eq!(store.device(&mac(2)).unwrap().unwrap().last_seen, Some(seen(31)));
    let before = store.device(&mac(1)).unwrap().unwrap();
    store.record_sightings(&[sighting(1, 50)]).unwrap();
    let after = store.device(&mac(1)).unwrap().unwrap();
    assert_eq!(after, DeviceRecord { last_seen: Some(seen(50)), ..before }, "nothing but the sighting changes");
    assert!(all_events(&*store).is_empty(), "fleet data is not audit");
}

fn facts(firmware: Option<&str>, mismatch: Option<&str>) -> FleetFacts {
    FleetFacts {
        rating: Some(5),
        vendor: Some("yealink".into()),
        model: Some("T54W".into()),
        firmware: firmware.map(str::to_owned),
        mismatch: mismatch.map(str::to_owned),
    }
}

fn fleet_row(store: &dyn Store, n: u16) -> FleetRow {
    let rows = store.fleet(&FleetQuery { limit: usize::MAX, ..FleetQuery::default() }).unwrap();
    rows.into_iter().find(|row| row.mac == mac(n)).expect("the device has a fleet row")
}

fn sighting_facts(store: Arc<dyn Store>) {
    store.insert_device(record(1), Vec::new()).unwrap();
    let sighting = |seconds, facts| Sighting { mac: mac(1), seen: seen(seconds), certificate_vendor: None, facts };
    let row = fleet_row(&*store, 1);
    assert_eq!(
        (row.facts, row.firmware_since, row.last_seen),
        (FleetFacts::default(), None, None),
        "nothing reported yet"
    );

    store.record_sightings(&[sighting(10, facts(Some("96.85.0.5"), None))]).unwrap();
    let row = fleet_row(&*store, 1);
    assert_eq!(row.facts, facts(Some("96.85.0.5"), None));
    assert_eq!((row.firmware_since, row.last_seen), (Some(at(10)), Some(at(10))));

    store.record_sightings(&[sighting(20, facts(Some("96.85.0.5"), None))]).unwrap();
    assert_eq!(fleet_row(&*store, 1).firmware_since, Some(at(10)), "the same firmware keeps its start");
    let updater = FleetFacts { firmware: None, vendor: None, model: None, ..facts(None, None) };
    store.record_sightings(&[sighting(30, updater)]).unwrap();
    let row = fleet_row(&*store, 1);
    assert_eq!(row.facts, facts(Some("96.85.0.5"), None), "a fetch naming no firmware forgets none");
    assert_eq!(row.last_seen, Some(at(30)));

    store.record_sightings(&[sighting(40, facts(Some("96.86.0.100"), None))]).unwrap();
    assert_eq!(fleet_row(&*store, 1).firmware_since, Some(at(40)), "a new firmware starts its own time");
    store.record_sightings(&[sighting(35, facts(Some("96.80.0.1"), Some("ua_mac=0015650000ff")))]).unwrap();
    assert_eq!(fleet_row(&*store, 1).facts.firmware.as_deref(), Some("96.86.0.100"), "an older sighting is ignored");
    assert!(all_events(&*store).is_empty(), "fleet facts are not audit");

    let contradiction = "ua_mac=0015650000ff";
    store.record_sightings(&[sighting(50, facts(Some("96.86.0.100"), Some(contradiction)))]).unwrap();
    store.record_sightings(&[sighting(60, facts(Some("96.86.0.100"), Some(contradiction)))]).unwrap();
    let alerts = all_events(&*store);
    assert_eq!(alerts.len(), 1, "one alert while the contradiction stays the same: {alerts:?}");
    assert_eq!(
        (alerts[0].kind, alerts[0].mac, alerts[0].detail.as_str(), alerts[0].at),
        (AuditKind::UaMismatch, Some(mac(1)), contradiction, at(50))
    );
    assert_eq!(fleet_row(&*store, 1).facts.mismatch.as_deref(), Some(contradiction));
    store.record_sightings(&[sighting(70, facts(Some("96.86.0.100"), None))]).unwrap();
    assert_eq!(fleet_row(&*store, 1).facts.mismatch, None, "a consistent fetch clears it");
    store.record_sightings(&[sighting(80, facts(Some("96.86.0.100"), Some(contradiction)))]).unwrap();
    assert_eq!(all_events(&*store).len(), 2, "a contradiction that comes back is alerted again");

    store.delete_device(&mac(1), event(1, 90, AuditKind::Deleted)).unwrap();
    store.insert_device(record(1), Vec::new()).unwrap();
    assert_eq!(fleet_row(&*store, 1).facts, FleetFacts::default(), "a device enrolled again starts afresh");
}

fn fleet_rows(store: Arc<dyn Store>) {
    for n in 1..=5 {
        let mut device = record(n);
        device.profile = DeviceProfile {
            vendor: Some("yealink".into()),
            model: Some(format!("T5{n}")),
            site: Some("hq".into()),
            ..DeviceProfile::default()
        };
        store.insert_device(device, Vec::new()).unwrap();
    }
    let sighting = |n, seconds, mismatch: Option<&str>| Sighting {
        mac: mac(n),
        seen: seen(seconds),
        certificate_vendor: None,
        facts: facts(Some("1.0"), mismatch),
    };
    store
        .record_sightings(&[sighting(1, 100, None), sighting(2, 10, Some("ua_vendor=snom")), sighting(3, 200, None)])
        .unwrap();
    let all = store.fleet(&FleetQuery::default()).unwrap();
    assert_eq!(all.iter().map(|row| row.mac).collect::<Vec<_>>(), (1..=5).map(mac).collect::<Vec<_>>());
    let first = &all[0];
    assert_eq!(
        (first.profile.vendor.as_deref(), first.profile.model.as_deref(), first.profile.site.as_deref()),
        (Some("yealink"), Some("T51"), Some("hq"))
    );
    assert_eq!((first.state, first.disabled, first.enrolled_at), ("issued", false, record(1).enrolled_at));
    assert!(first.profile.settings.is_empty() && first.profile.keys.is_empty(), "a fleet row carries no settings");

    let mismatched = store.fleet(&FleetQuery { mismatched: true, ..FleetQuery::default() }).unwrap();
    assert_eq!(mismatched.iter().map(|row| row.mac).collect::<Vec<_>>(), vec![mac(2)]);
    let stale = store.fleet(&FleetQuery { not_seen_since: Some(at(150)), ..FleetQuery::default() }).unwrap();
    assert_eq!(
        stale.iter().map(|row| row.mac).collect::<Vec<_>>(),
        vec![mac(1), mac(2), mac(4), mac(5)],
        "seen before the time, or never"
    );
    let page = store.fleet(&FleetQuery { after: Some(mac(2)), limit: 2, ..FleetQuery::default() }).unwrap();
    assert_eq!(page.iter().map(|row| row.mac).collect::<Vec<_>>(), vec![mac(3), mac(4)]);
}

fn documents(store: Arc<dyn Store>) {
    assert_eq!(store.document("firmware").unwrap(), None);
    let added = event(1, 10, AuditKind::FirmwareAdded);
    assert!(!store.put_document("firmware", 1, "{}", vec![added.clone()]).unwrap(), "version 1 does not exist yet");
    assert!(store.put_document("firmware", 0, r#"{"a":1}"#, vec![added.clone()]).unwrap());
    assert_eq!(store.document("firmware").unwrap(), Some(Document { version: 1, body: r#"{"a":1}"#.into() }));
    assert!(!store.put_document("firmware", 0, "{}", vec![added.clone()]).unwrap(), "a stale version changes nothing");
    assert!(store.put_document("firmware", 1, r#"{"a":2}"#, Vec::new()).unwrap());
    assert_eq!(store.document("firmware").unwrap(), Some(Document { version: 2, body: r#"{"a":2}"#.into() }));
    assert_eq!(store.document("other").unwrap(), None, "documents are kept by name");
    let events = all_events(&*store);
    assert_eq!(events.len(), 1, "only the write that happened appended its event: {events:?}");
    let big = "x".repeat(MAX_DOCUMENT_BYTES + 1);
    assert!(store.put_document("firmware", 2, &big, Vec::new()).is_err(), "an oversized document is refused");
    assert_eq!(store.document("firmware").unwrap().unwrap().version, 2);
}

fn audit_pruning(store: Arc<dyn Store>) {
    let events: Vec<AuditEvent> = (0..10).map(|n| event(1, n * 10, AuditKind::Delivered)).collect();
    store.append_audit(events).unwrap();
    assert_eq!(store.prune_audit(at(55), 4).unwrap(), 4, "a batch is at most the limit");
    assert_eq!(store.prune_audit(at(55), 4).unwrap(), 2);
    assert_eq!(store.prune_audit(at(55), 4).unwrap(), 0, "nothing newer is pruned");
    let left = store.audit(&AuditQuery { limit: usize::MAX, ..AuditQuery::default() }).unwrap();
    assert_eq!(left.iter().map(|e| e.event.at).collect::<Vec<_>>(), (6..10).map(|n| at(n * 10)).collect::<Vec<_>>());
    assert!(left.windows(2).all(|pair| pair[0].id < pair[1].id));
    store.append_audit(vec![event(1, 100, AuditKind::Purged)]).unwrap();
    let newest = store.audit(&AuditQuery { newest_first: true, limit: 1, ..AuditQuery::default() }).unwrap();
    assert!(newest[0].id > left.last().unwrap().id, "ids are never reused after pruning");
}

fn bans(store: Arc<dyn Store>) {
    let ban = |key: &str, until| Ban { key: key.into(), reason: "scan".into(), until: at(until) };
    let banned = |key: &str| AuditEvent::without_device(at(0), AuditKind::Banned, format!("source={key}"));
    store.put_ban(&ban("192.0.2.7", 100), banned("192.0.2.7")).unwrap();
    store.put_ban(&ban("2001:db8::/64", 10), banned("2001:db8::/64")).unwrap();
    store.put_ban(&ban("192.0.2.7", 200), banned("192.0.2.7")).unwrap();
    assert_eq!(store.bans(at(50)).unwrap(), vec![ban("192.0.2.7", 200)]);
    assert_eq!(store.bans(at(0)).unwrap().len(), 2);
    let lifted = || AuditEvent::without_device(at(60), AuditKind::Unbanned, "source=192.0.2.7");
    assert!(store.remove_ban("192.0.2.7", lifted()).unwrap());
    assert!(!store.remove_ban("192.0.2.7", lifted()).unwrap());
    assert!(store.bans(at(50)).unwrap().is_empty());
    let kinds: Vec<_> = all_events(&*store).into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [AuditKind::Banned, AuditKind::Banned, AuditKind::Banned, AuditKind::Unbanned]);
}

fn device_listing(store: Arc<dyn Store>) {
    for n in 1..=6 {
        let mut device = record(n);
        device.profile.vendor = Some(if n % 2 == 0 { "snom" } else { "yealink" }.into());
        device.profile.site = Some(if n <= 3 { "leeds" } else { "york" }.into());
        if n >= 5 {
            device.state = CredentialState::Delivered { at: at(i64::from(n)) };
            device.last_seen = Some(seen(i64::from(n) * 10));
        }
        assert!(store.insert_device(device, Vec::new()).unwrap());
    }
    let list = |query: DeviceQuery| store.devices(&query).unwrap().into_iter().map(|d| d.mac).collect::<Vec<_>>();
    assert_eq!(list(DeviceQuery::default()), (1..=6).map(mac).collect::<Vec<_>>());
    assert_eq!(list(DeviceQuery { vendor: Some("snom".into()), ..DeviceQuery::default() }), [mac(2), mac(4), mac(6)]);
    assert_eq!(
        list(DeviceQuery { vendor: Some("yealink".into()), site: Some("york".into()), ..DeviceQuery::default() }),
        [mac(5)]
    );
    assert_eq!(list(DeviceQuery { state: Some("delivered"), ..DeviceQuery::default() }), [mac(5), mac(6)]);
    assert_eq!(list(DeviceQuery { seen_since: Some(at(55)), ..DeviceQuery::default() }), [mac(6)]);
    assert_eq!(
        list(DeviceQuery { not_seen_since: Some(at(55)), ..DeviceQuery::default() }),
        [mac(1), mac(2), mac(3), mac(4), mac(5)]
    );
    assert_eq!(list(DeviceQuery { after: Some(mac(2)), limit: 2, ..DeviceQuery::default() }), [mac(3), mac(4)]);
    assert!(list(DeviceQuery { site: Some("nowhere".into()), ..DeviceQuery::default() }).is_empty());
}

fn events_without_device(store: Arc<dyn Store>) {
    let ban = AuditEvent::without_device(at(5), AuditKind::Banned, "source=\"198.51.100.0/24\" reason=scan");
    store.append_audit(vec![event(1, 0, AuditKind::Delivered), ban.clone()]).unwrap();
    assert_eq!(all_events(&*store)[1], ban);
    let by_kind = store.audit(&AuditQuery { kind: Some(AuditKind::Banned), ..AuditQuery::default() }).unwrap();
    assert_eq!(by_kind.into_iter().map(|e| e.event).collect::<Vec<_>>(), [ban]);
    let by_mac = store.audit(&AuditQuery { mac: Some(mac(1)), ..AuditQuery::default() }).unwrap();
    assert_eq!(by_mac.len(), 1, "an event about no device matches no MAC");
}

fn api_tokens(store: Arc<dyn Store>) {
    let token = ApiToken { hash: [9; 32], name: "billing \"OSS\"".into(), role: Role::Operator, created_at: at(3) };
    let created = AuditEvent::without_device(at(3), AuditKind::TokenCreated, "name=billing role=operator");
    store.insert_api_token(&token, created.clone()).unwrap();
    assert_eq!(store.api_token(&[9; 32]).unwrap(), Some(token.clone()));
    assert_eq!(store.api_token(&[8; 32]).unwrap(), None);
    let later = ApiToken { hash: [1; 32], name: "ci".into(), role: Role::Auditor, created_at: at(4) };
    store.insert_api_token(&later, created.clone()).unwrap();
    assert_eq!(store.api_tokens().unwrap(), [token.clone(), later.clone()], "oldest first");
    let revoked = AuditEvent::without_device(at(5), AuditKind::TokenRevoked, "name=billing");
    assert!(store.remove_api_token(&[9; 32], revoked.clone()).unwrap());
    assert!(!store.remove_api_token(&[9; 32], revoked.clone()).unwrap());
    assert_eq!(store.api_token(&[9; 32]).unwrap(), None);
    assert_eq!(store.api_tokens().unwrap(), [later]);
    assert_eq!(all_events(&*store), [created.clone(), created, revoked]);
}

fn reveal_tokens(store: Arc<dyn Store>) {
    let token = |hash: u8, expires| RevealToken { hash: [hash; 32], mac: mac(1), expires_at: at(expires) };
    store.insert_reveal_token(&token(1, 100)).unwrap();
    store.insert_reveal_token(&token(2, 10)).unwrap();
    assert_eq!(store.consume_reveal_token(&[1; 32], at(50)).unwrap(), TokenUse::Valid(mac(1)));
    assert_eq!(store.consume_reveal_token(&[1; 32], at(51)).unwrap(), TokenUse::AlreadyUsed);
    assert_eq!(store.consume_reveal_token(&[2; 32], at(10)).unwrap(), TokenUse::Expired);
    assert_eq!(store.consume_reveal_token(&[3; 32], at(0)).unwrap(), TokenUse::Unknown);
}

fn compaction_keeps_records(store: Arc<dyn Store>) {
    assert!(store.insert_device(record(1), vec![event(1, 0, AuditKind::Enrolled)]).unwrap());
    let mut purged = record(2);
    purged.state = CredentialState::Purged;
    purged.secrets = None;
    assert!(store.insert_device(purged.clone(), Vec::new()).unwrap());
    store.compact().unwrap();
    assert_eq!(store.device(&mac(1)).unwrap(), Some(record(1)));
    assert_eq!(store.device(&mac(2)).unwrap(), Some(purged));
    assert_eq!(all_events(&*store), [event(1, 0, AuditKind::Enrolled)]);
}

fn registrar_change(n: u16, user: &str, ha1: Option<u8>) -> RegistrarChange {
    RegistrarChange {
        user: user.into(),
        realm: "sip.example.net".into(),
        mac: mac(n),
        line: n,
        ha1: ha1.map(|byte| Sealed::from_bytes(vec![byte; 40])),
    }
}

fn registrar_outbox(store: Arc<dyn Store>) {
    let carrying = |n: u16, changes: Vec<RegistrarChange>| {
        let mut event = event(n, i64::from(n), AuditKind::Enrolled);
        event.registrar = changes;
        event
    };
    // Written with the events that carry them, whichever write appends those.
    let (a, b) = (registrar_change(1, "a", Some(1)), registrar_change(2, "b \"quoted\"", Some(2)));
    store.insert_device(record(1), vec![carrying(1, vec![a.clone(), b.clone()])]).unwrap();
    assert!(!store.insert_device(record(1), vec![carrying(1, vec![registrar_change(9, "z", Some(9))])]).unwrap());
    let aborted: DeviceUpdate = Box::new(|_| Err(Abort("no".into())));
    assert!(store.update_device(&mac(1), aborted).is_err());
    let pending = store.registrar_pending(10).unwrap();
    assert_eq!(pending.iter().map(|entry| &entry.change).collect::<Vec<_>>(), [&a, &b], "only committed changes");
    assert!(pending[0].seq <= pending[1].seq && pending.iter().all(|entry| !entry.pushed));
    let read_back = all_events(&*store);
    assert!(read_back.iter().all(|event| event.registrar.is_empty()), "changes are not part of the audit log");

    // A later change of a queued user replaces it and goes to the back of the queue.
    let a2 = registrar_change(1, "a", Some(3));
    let update: DeviceUpdate = Box::new(move |_| Ok(vec![carrying(1, vec![a2])]));
    store.update_device(&mac(1), update).unwrap();
    let pending = store.registrar_pending(10).unwrap();
    assert_eq!(pending.iter().map(|entry| entry.change.user.as_str()).collect::<Vec<_>>(), ["b \"quoted\"", "a"]);
    assert_eq!(pending[1].change.ha1, Some(Sealed::from_bytes(vec![3; 40])));
    assert_eq!(store.registrar_pending(1).unwrap().len(), 1, "limited");

    // Pushed: marked, with its event; a stale seq marks nothing.
    let (first, second) = (pending[0].clone(), pending[1].clone());
    let pushed = |n| event(n, 50, AuditKind::RegistrarPushed);
    assert!(!store.registrar_pushed("sip.example.net", "a", first.seq, vec![pushed(7)]).unwrap(), "stale");
    assert!(store.registrar_pushed("sip.example.net", &first.change.user, first.seq, vec![pushed(8)]).unwrap());
    assert_eq!(store.registrar_pending(10).unwrap(), std::slice::from_ref(&second));
    let kinds = all_events(&*store).into_iter().filter(|event| event.kind == AuditKind::RegistrarPushed).count();
    assert_eq!(kinds, 2, "the events are appended either way");

    // A deletion, carried by a device's deletion, is removed once pushed; HA1 rows stay.
    store.delete_device(&mac(1), carrying(1, vec![registrar_change(1, "a", None)])).unwrap();
    let deletion = store.registrar_pending(10).unwrap();
    assert_eq!(deletion.len(), 1);
    assert_eq!(deletion[0].change.ha1, None);
    assert!(deletion[0].seq > second.seq);
    assert!(store.registrar_pushed("sip.example.net", "a", deletion[0].seq, Vec::new()).unwrap());
    assert_eq!(store.registrar_pending(10).unwrap(), []);
    let entries = store.registrar_entries(None, 10).unwrap();
    assert_eq!(
        entries,
        [RegistrarEntry { pushed: true, ..first.clone() }],
        "the deletion is gone, the pushed HA1 row stays"
    );

    // Resealed in place, only while the row is that change; a deletion has nothing to reseal.
    let resealed = Sealed::from_bytes(vec![9; 40]);
    assert!(
        !store.registrar_reseal("sip.example.net", &first.change.user, first.seq + 1000, resealed.clone()).unwrap()
    );
    assert!(store.registrar_reseal("sip.example.net", &first.change.user, first.seq, resealed.clone()).unwrap());
    let entries = store.registrar_entries(None, 10).unwrap();
    assert_eq!((entries[0].change.ha1.as_ref(), entries[0].pushed, entries[0].seq), (Some(&resealed), true, first.seq));

    // Listed by realm and user, paged.
    store
        .append_audit(vec![carrying(3, vec![registrar_change(3, "c", Some(4)), registrar_change(4, "0", Some(5))])])
        .unwrap();
    let page = store.registrar_entries(None, 2).unwrap();
    let users: Vec<&str> = page.iter().map(|entry| entry.change.user.as_str()).collect();
    assert_eq!(users, ["0", "b \"quoted\""]);
    let after = Some(("sip.example.net".to_owned(), page[1].change.user.clone()));
    let rest = store.registrar_entries(after, 10).unwrap();
    assert_eq!(rest.iter().map(|entry| entry.change.user.as_str()).collect::<Vec<_>>(), ["c"]);
}
