//! Ban expiry, escalation, listing, lifting and persistence.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

use std::net::IpAddr;
use std::time::Duration;

use sipprov_ratelimit::{
    Allowlist, BanEscalation, BanList, BanRecord, Error, GateRefusal, Gatekeeper, IpPrefix, MissKind, Moment, Policy,
    ScanOutcome,
};

const MINUTE: u64 = 60;

fn key(text: &str) -> IpPrefix {
    text.parse().unwrap()
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn escalation() -> BanEscalation {
    Policy::default().bans
}

#[test]
fn repeat_offenders_get_doubling_bans_up_to_the_cap() {
    let mut bans = BanList::new(Allowlist::default(), escalation(), 100, 100);
    let offender = key("203.0.113.9");
    let mut now = Moment::from_secs(1_000);
    let mut minutes = Vec::new();
    for _ in 0..11 {
        let ban = bans.ban(offender, "scan", now).unwrap();
        minutes.push(ban.duration.as_secs() / MINUTE);
        // Offend again the moment the ban ends.
        now = ban.until;
        assert!(bans.banned(ip("203.0.113.9"), now).is_none(), "expired at its end");
    }
    assert_eq!(minutes, [10, 20, 40, 80, 160, 320, 640, 1_280, 1_440, 1_440, 1_440]);
}

#[test]
fn a_clean_week_resets_the_escalation() {
    let mut bans = BanList::new(Allowlist::default(), escalation(), 100, 100);
    let offender = key("203.0.113.9");
    bans.ban(offender, "scan", Moment::from_secs(0)).unwrap();
    assert_eq!(bans.ban(offender, "scan", Moment::from_secs(3_600)).unwrap().offence, 2);
    let week_later = Moment::from_secs(3_600 + 7 * 24 * 3_600);
    let ban = bans.ban(offender, "scan", week_later).unwrap();
    assert_eq!((ban.offence, ban.duration), (1, Duration::from_secs(10 * MINUTE)));
}

#[test]
fn a_detected_repeat_offender_is_banned_longer() {
    let gate: Gatekeeper<u64> = Gatekeeper::new(Policy::default()).unwrap();
    let scanner = ip("203.0.113.9");
    let sweep =
        |now| (0..100).find_map(|_| gate.record(scanner, ScanOutcome::Miss(MissKind::UnknownPath), now)).unwrap();
    let first = sweep(Moment::from_secs(0));
    let second = sweep(first.until);
    assert_eq!((first.offence, second.offence), (1, 2));
    assert_eq!(second.duration, first.duration * 2);
}

#[test]
fn bans_expire() {
    let gate: Gatekeeper<u64> = Gatekeeper::new(Policy::default()).unwrap();
    let scanner = ip("203.0.113.9");
    let ban = gate.ban(key("203.0.113.9"), "by hand", Moment::from_secs(100)).unwrap();
    assert_eq!(ban.until, Moment::from_secs(700));
    let refused = gate.admit_connection(scanner, Moment::from_secs(699)).unwrap_err();
    assert_eq!(refused, GateRefusal::Banned { key: key("203.0.113.9"), until: Moment::from_secs(700) });
    drop(gate.admit_connection(scanner, Moment::from_secs(700)).unwrap());
    assert!(gate.bans(Moment::from_secs(700)).is_empty());
    assert_eq!(gate.occupancy().bans, 1, "kept until purged");
    assert_eq!(gate.purge(Moment::from_secs(700)), 1);
    assert_eq!(gate.occupancy().bans, 0);
}

#[test]
fn a_clock_stepping_back_does_not_end_a_ban_early() {
    let mut bans = BanList::new(Allowlist::default(), escalation(), 100, 100);
    bans.ban(key("203.0.113.9"), "scan", Moment::from_secs(5_000)).unwrap();
    assert!(bans.banned(ip("203.0.113.9"), Moment::from_secs(1)).is_some());
}

#[test]
fn bans_are_listed_lifted_and_keyed_by_any_prefix() {
    let gate: Gatekeeper<u64> = Gatekeeper::new(Policy::default()).unwrap();
    let now = Moment::from_secs(10);
    gate.ban(key("198.51.100.0/22"), "abuse report", now).unwrap();
    gate.ban(key("2001:db8::/64"), "scan", now).unwrap();
    gate.ban(key("192.0.2.7"), "scan", now).unwrap();
    let listed: Vec<(String, String)> = gate.bans(now).into_iter().map(|b| (b.key.to_string(), b.reason)).collect();
    assert_eq!(
        listed,
        [
            ("192.0.2.7".to_string(), "scan".to_string()),
            ("198.51.100.0/22".to_string(), "abuse report".to_string()),
            ("2001:db8::/64".to_string(), "scan".to_string()),
        ]
    );
    for banned in ["198.51.103.255", "2001:db8::abcd", "::ffff:192.0.2.7"] {
        assert!(matches!(gate.admit_connection(ip(banned), now), Err(GateRefusal::Banned { .. })), "{banned}");
    }
    drop(gate.admit_connection(ip("198.51.104.0"), now).unwrap());
    assert!(gate.unban(&key("198.51.100.0/22")));
    assert!(!gate.unban(&key("198.51.100.0/22")), "nothing left to lift");
    drop(gate.admit_connection(ip("198.51.103.255"), now).unwrap());
    // Lifting clears the history too: the next ban is a first offence again.
    assert_eq!(gate.ban(key("198.51.100.0/22"), "again", now).unwrap().offence, 1);
}

#[test]
fn bans_survive_a_restart_through_plain_records() {
    let unix_now = 1_800_000_000;
    let before: Gatekeeper<u64> = Gatekeeper::new(Policy::default()).unwrap();
    let now = Moment::from_secs(50);
    let new_ban = before.ban(key("2001:db8:1:2::/64"), "scan", now).unwrap();
    assert_eq!(
        new_ban.record(unix_now),
        BanRecord { key: "2001:db8:1:2::/64".into(), reason: "scan".into(), until_unix: unix_now + 600 }
    );
    before.ban(key("192.0.2.7"), "scan", now).unwrap();
    // Listed later, the remaining time is what is persisted.
    let later = Moment::from_secs(150);
    let records: Vec<BanRecord> = before.bans(later).iter().map(|ban| ban.record(later, unix_now + 100)).collect();
    assert!(records.iter().all(|record| record.until_unix == unix_now + 600));

    // A new process, with its own monotonic epoch.
    let after: Gatekeeper<u64> = Gatekeeper::new(Policy::default()).unwrap();
    let restart = Moment::from_secs(7);
    let mut rows = records.clone();
    rows.push(BanRecord { key: "not an address".into(), reason: "x".into(), until_unix: unix_now + 600 });
    rows.push(BanRecord { key: "203.0.113.0/24".into(), reason: "old".into(), until_unix: unix_now - 1 });
    let report = after.load_bans(rows, restart, unix_now + 200);
    assert_eq!((report.loaded, report.expired, report.allowlisted), (2, 1, 0));
    assert_eq!(report.invalid.len(), 1);
    assert!(matches!(report.invalid[0].1, Error::InvalidPrefix { .. }));
    // 400 s were left at unix_now + 200.
    let restored = after.bans(restart);
    assert_eq!(restored.len(), 2);
    assert!(restored.iter().all(|ban| ban.until == Moment::from_secs(407)));
    assert!(after.admit_connection(ip("2001:db8:1:2::99"), Moment::from_secs(406)).is_err());
    drop(after.admit_connection(ip("2001:db8:1:2::99"), Moment::from_secs(407)).unwrap());
    // A loaded ban counts as an offence: the next one escalates.
    assert_eq!(after.ban(key("192.0.2.7"), "scan", Moment::from_secs(500)).unwrap().offence, 2);
}

#[test]
fn persisted_bans_on_allowlisted_keys_are_not_loaded() {
    let mut policy = Policy::default();
    policy.allowlist = Allowlist::parse(["192.0.2.0/24"]).unwrap();
    let gate: Gatekeeper<u64> = Gatekeeper::new(policy).unwrap();
    let records = [BanRecord { key: "192.0.2.7".into(), reason: "scan".into(), until_unix: 2_000 }];
    let report = gate.load_bans(records, Moment::ZERO, 1_000);
    assert_eq!((report.loaded, report.allowlisted), (0, 1));
    assert!(gate.bans(Moment::ZERO).is_empty());
}

#[test]
fn verdicts_while_banned_add_no_offence_and_never_shorten_the_ban() {
    let mut bans = BanList::new(Allowlist::default(), escalation(), 100, 100);
    let first = bans.ban(key("192.0.2.7"), "scan", Moment::from_secs(0)).unwrap();
    assert_eq!(first.until, Moment::from_secs(600));
    // Requests already in flight when the ban came keep missing: one offence, one ban.
    for second in [1, 60, 599] {
        assert_eq!(bans.ban(key("192.0.2.7"), "scan", Moment::from_secs(second)), None);
    }
    assert_eq!(bans.banned(ip("192.0.2.7"), Moment::from_secs(599)).unwrap().until, first.until);
    let next = bans.ban(key("192.0.2.7"), "scan", Moment::from_secs(600)).unwrap();
    assert_eq!((next.offence, next.until), (2, Moment::from_secs(600 + 1_200)), "the next offence escalates once");
}
