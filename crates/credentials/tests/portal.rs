//! The softphone portal's rules, on the credential service alone: users are activated once,
//! lock after repeated failures, see their softphone's password once, and links are single use.
#![allow(clippy::unwrap_used)] // test code: failing loudly is the point

use std::sync::Arc;
use std::time::Duration;

use sipprov_credentials::{
    Account, ActivationRefusal, AuditKind, AuditQuery, Clock, CredentialState, Credentials, DeviceProfile, Keyring,
    Lifecycle, Login, ManualClock, MemoryStore, Revealed, Store, Timestamp,
};
use sipprov_identity::Mac;

const DAY: Duration = Duration::from_secs(24 * 3600);

struct World {
    credentials: Credentials,
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    softphone: Mac,
    /// The SIP password enrolment issued.
    password: String,
}

fn world() -> World {
    let store = Arc::new(MemoryStore::default());
    let keyring = Keyring::parse(&Keyring::generate_file(1, None).unwrap()).unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix(1_800_000_000)));
    let credentials = Credentials::new(store.clone(), Lifecycle::default(), Some(keyring), clock.clone());
    let softphone: Mac = "02:00:00:00:00:01".parse().unwrap();
    let profile = DeviceProfile { vendor: Some("linphone".into()), ..DeviceProfile::default() };
    let accounts = vec![Account::new(1, "3001", "3001", "Alice")];
    let issued = credentials.enrol_with_profile(softphone, accounts, profile, Vec::new(), "test").unwrap().unwrap();
    let password = issued.sip_password(1).unwrap().expose().to_owned();
    World { credentials, store, clock, softphone, password }
}

fn kinds(store: &MemoryStore) -> Vec<AuditKind> {
    store
        .audit(&AuditQuery { limit: 1000, ..AuditQuery::default() })
        .unwrap()
        .into_iter()
        .map(|e| e.event.kind)
        .collect()
}

fn activated(world: &World) {
    let (_, token) = world
        .credentials
        .create_portal_user("alice", "alice@example.net", vec![world.softphone], 3 * DAY, "op")
        .unwrap()
        .unwrap();
    world
        .credentials
        .activate_portal_user("alice", token.expose(), "violet tractor mountain", "192.0.2.1")
        .unwrap()
        .unwrap();
}

#[test]
fn an_activation_link_works_once_and_only_in_time() {
    let world = world();
    let credentials = &world.credentials;
    let created = credentials.create_portal_user("alice", "alice@example.net", vec![world.softphone], 3 * DAY, "op");
    let (user, token) = created.unwrap().unwrap();
    assert_eq!(user.password_hash, None);
    let again = credentials.create_portal_user("alice", "a@example.net", vec![], DAY, "op").unwrap();
    assert!(again.unwrap_err().contains("exists"));

    let activate =
        |token: &str, password: &str| credentials.activate_portal_user("alice", token, password, "p").unwrap();
    assert_eq!(activate("wrong-token", "violet tractor mountain"), Err(ActivationRefusal::InvalidLink));
    let weak = activate(token.expose(), "password1234");
    assert!(matches!(weak, Err(ActivationRefusal::WeakPassword(ref why)) if why.contains("common")), "{weak:?}");
    assert_eq!(activate(token.expose(), "violet tractor mountain"), Ok(()));
    assert_eq!(activate(token.expose(), "another fine password"), Err(ActivationRefusal::InvalidLink), "used once");
    assert!(matches!(
        credentials.portal_login("alice", "violet tractor mountain", "p", "login").unwrap(),
        Login::Accepted(_)
    ));

    // An expired link does nothing.
    let token = credentials.reset_portal_user("alice", DAY, "op").unwrap().unwrap();
    world.clock.advance(DAY);
    assert_eq!(activate(token.expose(), "another fine password"), Err(ActivationRefusal::InvalidLink));
    assert_eq!(credentials.portal_login("alice", "violet tractor mountain", "p", "login").unwrap(), Login::Refused);
    assert_eq!(credentials.portal_users().unwrap().len(), 1);
    assert!(credentials.remove_portal_user("alice", "op").unwrap());
    assert!(credentials.portal_users().unwrap().is_empty());
    assert!(!credentials.remove_portal_user("alice", "op").unwrap());
}

#[test]
fn only_enrolled_softphones_can_be_given_to_a_user() {
    let world = world();
    let phone: Mac = "00:15:65:00:00:01".parse().unwrap();
    let profile = DeviceProfile { vendor: Some("yealink".into()), ..DeviceProfile::default() };
    world.credentials.enrol_with_profile(phone, vec![Account::new(1, "1", "1", "")], profile, vec![], "t").unwrap();
    let refused = world.credentials.create_portal_user("bob", "b@x", vec![phone], DAY, "op").unwrap().unwrap_err();
    assert!(refused.contains("not a softphone"), "{refused}");
    let absent: Mac = "02:00:00:00:00:09".parse().unwrap();
    let refused = world.credentials.create_portal_user("bob", "b@x", vec![absent], DAY, "op").unwrap().unwrap_err();
    assert!(refused.contains("not enrolled"), "{refused}");
    assert!(world.credentials.portal_user("bob").unwrap().is_none());
}

#[test]
fn repeated_failures_lock_the_account_whatever_the_password() {
    let world = world();
    activated(&world);
    let login = |password: &str| world.credentials.portal_login("alice", password, "198.51.100.7", "login").unwrap();
    for _ in 1..5 {
        assert_eq!(login("guess guess guess"), Login::Refused);
    }
    assert!(matches!(login("guess guess guess"), Login::Locked { .. }), "the fifth failure locks");
    assert!(matches!(login("violet tractor mountain"), Login::Locked { .. }), "even the right password");
    assert!(kinds(&world.store).contains(&AuditKind::LockedOut));
    assert!(AuditKind::LockedOut.is_alert());
    world.clock.advance(Duration::from_secs(15 * 60));
    assert!(matches!(login("violet tractor mountain"), Login::Accepted(_)), "the lock ends");
    assert_eq!(world.credentials.portal_login("nobody", "x", "p", "login").unwrap(), Login::Refused);
}

#[test]
fn a_password_is_revealed_once_then_follows_the_lifecycle() {
    let world = world();
    activated(&world);
    let credentials = &world.credentials;
    let Revealed::Shown { accounts, secrets } = credentials.reveal("alice", &world.softphone, "p").unwrap() else {
        panic!("the first reveal shows the password");
    };
    assert_eq!(accounts[0].user_name, "3001");
    assert_eq!(secrets.sip_password(1).unwrap().expose(), world.password);
    let device = world.store.device(&world.softphone).unwrap().unwrap();
    assert!(matches!(device.state, CredentialState::Delivered { .. }), "a reveal is the first delivery");

    let second = credentials.reveal("alice", &world.softphone, "p").unwrap();
    assert!(matches!(second, Revealed::Already { at: Some(_) }), "{second:?}");
    assert!(kinds(&world.store).contains(&AuditKind::RevealRepeated));
    let user = credentials.portal_user("alice").unwrap().unwrap();
    assert_eq!(user.revealed_at(&world.softphone), Some(Timestamp::from_unix(1_800_000_000)));

    // Not the user's device: nothing.
    let other: Mac = "02:00:00:00:00:02".parse().unwrap();
    assert!(matches!(credentials.reveal("alice", &other, "p").unwrap(), Revealed::Unavailable));
    assert!(matches!(credentials.reveal("mallory", &world.softphone, "p").unwrap(), Revealed::Unavailable));

    // After the grace window the password is gone: no link can be made until a new one is issued.
    world.clock.advance(Duration::from_secs(301));
    credentials.sweep(10).unwrap();
    let refused = credentials.create_link(&world.softphone, Duration::from_secs(900), "alice").unwrap().unwrap_err();
    assert!(refused.contains("issue a new one"), "{refused}");
}

#[test]
fn a_link_is_used_once_and_a_replay_is_an_alert() {
    let world = world();
    let credentials = &world.credentials;
    let ttl = Duration::from_secs(900);
    let (token, expires_at) = credentials.create_link(&world.softphone, ttl, "op").unwrap().unwrap();
    assert_eq!(expires_at, Timestamp::from_unix(1_800_000_900));
    assert_eq!(credentials.use_link("not-a-token", "p").unwrap(), None);
    assert_eq!(credentials.use_link(token.expose(), "p").unwrap(), Some(world.softphone));
    assert_eq!(credentials.use_link(token.expose(), "p").unwrap(), None);
    assert!(kinds(&world.store).contains(&AuditKind::LinkReplayed));

    let (late, _) = credentials.create_link(&world.softphone, ttl, "op").unwrap().unwrap();
    world.clock.advance(ttl);
    assert_eq!(credentials.use_link(late.expose(), "p").unwrap(), None, "expired");
    let audit = world.store.audit(&AuditQuery { limit: 1000, ..AuditQuery::default() }).unwrap();
    assert!(audit.iter().all(|e| !e.event.detail.contains(token.expose())), "tokens never reach the audit log");
}

fn code_at(base32: &str, clock: &ManualClock, offset: i64) -> String {
    let now = u64::try_from(clock.now().unix() + offset).unwrap();
    sipprov_credentials::totp_code(base32, now).unwrap()
}

#[test]
fn a_second_factor_is_confirmed_once_then_each_code_works_once() {
    let world = world();
    activated(&world);
    let credentials = &world.credentials;
    let base32 = credentials.begin_totp("alice").unwrap().unwrap();
    assert_eq!(base32.len(), 32, "160 bits in base32");
    assert!(!credentials.portal_user("alice").unwrap().unwrap().has_second_factor(), "not before it is confirmed");
    assert!(!credentials.confirm_totp("alice", "12345x", "p").unwrap(), "a malformed code");
    assert!(credentials.confirm_totp("alice", &code_at(&base32, &world.clock, 0), "p").unwrap());
    let user = credentials.portal_user("alice").unwrap().unwrap();
    assert!(user.has_second_factor());
    assert!(!user.totp.as_ref().unwrap().sealed.contains(&hex_of(&base32)), "the key is sealed");
    assert!(credentials.begin_totp("alice").unwrap().is_none(), "a confirmed key is not replaced by the user");

    // The code used to confirm is spent; the next step's code works, once.
    let now = code_at(&base32, &world.clock, 0);
    assert_eq!(credentials.check_totp("alice", &now, "p").unwrap(), Login::Refused, "a code works once");
    let next = code_at(&base32, &world.clock, 30);
    assert!(matches!(credentials.check_totp("alice", &next, "p").unwrap(), Login::Accepted(_)), "skew of one step");
    assert_eq!(credentials.check_totp("alice", &next, "p").unwrap(), Login::Refused);

    // Wrong codes count toward the lockout like wrong passwords (the replay above was one).
    world.clock.advance(Duration::from_secs(120));
    for _ in 0..3 {
        assert_eq!(credentials.check_totp("alice", "12345x", "p").unwrap(), Login::Refused);
    }
    assert!(matches!(credentials.check_totp("alice", "12345x", "p").unwrap(), Login::Locked { .. }));
    let right = code_at(&base32, &world.clock, 0);
    assert!(
        matches!(credentials.check_totp("alice", &right, "p").unwrap(), Login::Locked { .. }),
        "even the right code"
    );
    assert!(kinds(&world.store).contains(&AuditKind::LockedOut));

    // A reset removes the second factor with the password.
    credentials.reset_portal_user("alice", DAY, "op").unwrap().unwrap();
    assert!(credentials.portal_user("alice").unwrap().unwrap().totp.is_none());
}

fn hex_of(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_key_rotation_reseals_totp_keys_which_still_work_after_the_old_key_is_gone() {
    let store = Arc::new(MemoryStore::default());
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix(1_800_000_000)));
    let old = Keyring::generate_file(1, None).unwrap();
    let with = |file: &str| {
        Credentials::new(store.clone(), Lifecycle::default(), Some(Keyring::parse(file).unwrap()), clock.clone())
    };
    let before = with(&old);
    let (_, token) = before.create_portal_user("alice", "a@example.net", vec![], DAY, "op").unwrap().unwrap();
    before.activate_portal_user("alice", token.expose(), PASSWORD_FOR_ROTATION, "p").unwrap().unwrap();
    let base32 = before.begin_totp("alice").unwrap().unwrap();
    assert!(before.confirm_totp("alice", &code_at(&base32, &clock, 0), "p").unwrap());

    let both = Keyring::generate_file(2, Some(&old)).unwrap();
    assert_eq!(with(&both).reseal_all(10).unwrap(), 1, "the TOTP key");
    assert_eq!(with(&both).reseal_all(10).unwrap(), 0);
    let only_new: String = both.lines().filter(|line| !line.contains("key 1 ")).collect::<Vec<_>>().join("\n");
    let after = with(&only_new);
    assert!(matches!(after.check_totp("alice", &code_at(&base32, &clock, 30), "p").unwrap(), Login::Accepted(_)));
}

const PASSWORD_FOR_ROTATION: &str = "violet tractor mountain";
