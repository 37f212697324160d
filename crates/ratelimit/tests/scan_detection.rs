//! Scan detection end to end through the gatekeeper, with a fake clock (threat 20).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use sipprov_ratelimit::{
    Allowlist, ConnectionPermit, GateRefusal, Gatekeeper, MissKind, Moment, NewBan, Policy, ScanDetector, ScanOutcome,
    Scope,
};

const MISS: ScanOutcome = ScanOutcome::Miss(MissKind::MacMismatch);

fn gate() -> Gatekeeper<u64> {
    Gatekeeper::new(Policy::default()).unwrap()
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

#[test]
fn a_burst_of_misses_from_one_address_is_banned_at_the_fiftieth() {
    let gate = gate();
    let scanner = ip("203.0.113.9");
    let now = Moment::from_secs(100);
    for n in 1..50 {
        gate.admit_request(scanner, None, now).unwrap();
        assert_eq!(gate.record(scanner, MISS, now), None, "banned early, at miss {n}");
    }
    let ban = gate.record(scanner, MISS, now).expect("the 50th miss bans");
    assert_eq!(ban.key.to_string(), "203.0.113.9");
    assert_eq!(ban.duration, Duration::from_secs(600));
    assert_eq!(ban.reason, "scan: 50 misses in 50 requests within 600s (last: mac-mismatch)");
    assert!(matches!(gate.admit_connection(scanner, now), Err(GateRefusal::Banned { .. })));
    assert!(matches!(gate.admit_request(scanner, None, now), Err(GateRefusal::Banned { .. })), "keep-alive cut off");
    // Its neighbours are untouched: one address is not a network.
    drop(gate.admit_connection(ip("203.0.113.10"), now).unwrap());
}

#[test]
fn padding_misses_with_hits_buys_at_most_the_hard_count() {
    let gate = gate();
    let scanner = ip("203.0.113.9");
    let mut requests = 0;
    let mut t = 0;
    let ban = loop {
        // One guess, then one fetch of a common file, so misses stay at exactly 50 %.
        let now = Moment::from_millis(t);
        t += 100;
        requests += 2;
        assert_eq!(gate.record(scanner, ScanOutcome::Hit, now), None);
        if let Some(ban) = gate.record(scanner, MISS, now) {
            break ban;
        }
        assert!(requests < 2_000, "not banned after {requests} requests");
    };
    assert_eq!(requests, 1_000, "banned at the 500th miss");
    assert_eq!(ban.key, gate.source_of(scanner));
}

#[test]
fn misses_spaced_wider_than_the_window_do_not_accumulate() {
    let gate = gate();
    let phone = ip("198.51.100.20");
    // 40 misses every 11 minutes, for a day: never 50 within 10 minutes.
    for round in 0..130u64 {
        for n in 0..40 {
            let now = Moment::from_secs(round * 660 + n);
            assert_eq!(gate.record(phone, MISS, now), None, "round {round}");
        }
    }
}

#[test]
fn a_slow_sweep_from_fifty_addresses_of_one_slash_24_bans_the_network() {
    let gate = gate();
    // Each address at 1 miss per second: far below the per-address thresholds' pace of concern.
    let mut bans = Vec::new();
    'sweep: for second in 0..600u64 {
        for host in 1..=50 {
            if let Some(ban) = gate.record(v4(192, 0, 2, host), MISS, Moment::from_secs(second)) {
                bans.push((second, ban));
                break 'sweep;
            }
        }
    }
    let (second, ban) = bans.pop().expect("detected");
    assert!(second <= 2, "detected after {second} s");
    assert_eq!(ban.key.to_string(), "192.0.2.0/24");
    assert!(
        ban.reason.starts_with("distributed scan: 100 misses in 100 requests from at least 8 addresses"),
        "{}",
        ban.reason
    );
    // Every address of the /24 is refused, including ones that never took part.
    let now = Moment::from_secs(second);
    for host in [1, 50, 200] {
        assert!(matches!(gate.admit_connection(v4(192, 0, 2, host), now), Err(GateRefusal::Banned { .. })));
    }
    drop(gate.admit_connection(v4(192, 0, 3, 1), now).unwrap());
}

#[test]
fn a_sweep_of_one_miss_per_second_spread_over_fifty_addresses_is_banned_within_100_seconds() {
    let gate = gate();
    // Each address misses once every 50 s: 12 per 10 minutes, invisible per address.
    let ban = (0..3_600u64)
        .find_map(|second| {
            let host = 1 + (second % 50) as u8;
            gate.record(v4(192, 0, 2, host), MISS, Moment::from_secs(second)).map(|ban| (second, ban))
        })
        .expect("detected within the hour");
    assert_eq!(ban.0, 99, "the 100th miss bans");
    assert_eq!(ban.1.key.to_string(), "192.0.2.0/24");
}

#[test]
fn one_noisy_address_does_not_get_its_network_banned() {
    let gate = gate();
    let ban = (0..100).find_map(|_| gate.record(v4(192, 0, 2, 7), MISS, Moment::from_secs(5))).unwrap();
    assert_eq!(ban.key.to_string(), "192.0.2.7", "the address, not the /24");
}

struct Office {
    permits: Vec<ConnectionPermit>,
    bans: Vec<NewBan>,
}

/// 200 phones behind one address reboot at the same instant: each connects once, completes TLS
/// and fetches four files; `stray_miss` adds one miss per phone after its hits.
fn reboot_office(gate: &Gatekeeper<u64>, office: IpAddr, stray_miss: bool) -> Office {
    let now = Moment::from_secs(1_000);
    let mut permits = Vec::new();
    for _ in 0..200 {
        let permit = gate.admit_connection(office, now).expect("every phone connects");
        drop(gate.admit_handshake(&permit).expect("a handshake place, in turn"));
        permits.push(permit); // all 200 connections open at once
    }
    let mut bans = Vec::new();
    for phone in 0..200u64 {
        let mac = 0x0015_6500_0000 + phone;
        for _file in ["y000000000000.boot", "y000000000000.cfg", "common.cfg", "{mac}.cfg"] {
            gate.admit_request(office, Some(&mac), now).expect("every file is served");
            bans.extend(gate.record(office, ScanOutcome::Hit, now));
        }
        if stray_miss {
            bans.extend(gate.record(office, ScanOutcome::Miss(MissKind::UnknownPath), now));
        }
    }
    Office { permits, bans }
}

#[test]
fn a_200_phone_office_behind_one_address_rebooting_at_once_is_served_and_not_banned() {
    let gate = gate();
    let office = ip("198.51.100.1");
    let Office { permits, bans } = reboot_office(&gate, office, false);
    assert!(bans.is_empty(), "{bans:?}");
    assert_eq!(permits.len(), 200);
    assert!(gate.bans(Moment::from_secs(1_000)).is_empty());
}

#[test]
fn the_office_survives_a_stray_miss_per_phone_too() {
    let gate = gate();
    let Office { bans, .. } = reboot_office(&gate, ip("198.51.100.1"), true);
    assert!(bans.is_empty(), "{bans:?}");
}

#[test]
fn many_addresses_of_one_ipv6_slash_64_are_one_source() {
    let gate = gate();
    // A scanner rotating through its /64 gets one budget and one ban, not 2^64 of them.
    let scanner = |n: u16| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, n, n, n, n));
    let ban = (0..100).find_map(|n| gate.record(scanner(n), MISS, Moment::from_secs(9))).unwrap();
    assert_eq!(ban.key.to_string(), "2001:db8:1:2::/64");
    assert!(matches!(gate.admit_connection(scanner(5_000), Moment::from_secs(9)), Err(GateRefusal::Banned { .. })));
    // The next /64 over is another LAN.
    drop(gate.admit_connection(ip("2001:db8:1:3::1"), Moment::from_secs(9)).unwrap());
}

#[test]
fn a_sweep_across_slash_64s_of_one_site_bans_the_slash_48() {
    let gate = gate();
    let ban = (0..1_000u16)
        .find_map(|n| {
            let ip = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 7, n % 20, 0, 0, 0, 1));
            gate.record(ip, MISS, Moment::from_secs(u64::from(n)))
        })
        .unwrap();
    assert_eq!(ban.key.to_string(), "2001:db8:7::/48");
}

#[test]
fn allowlisted_addresses_and_networks_are_never_banned() {
    let mut policy = Policy::default();
    policy.allowlist = Allowlist::parse(["198.51.100.1", "2001:db8:aa::/48", "192.0.2.128/25"]).unwrap();
    let gate: Gatekeeper<u64> = Gatekeeper::new(policy).unwrap();
    let allowlisted = [ip("198.51.100.1"), ip("::ffff:198.51.100.1"), ip("2001:db8:aa:1::9"), ip("192.0.2.200")];
    for n in 0..5_000u64 {
        for &address in &allowlisted {
            assert_eq!(gate.record(address, MISS, Moment::from_secs(n / 10)), None);
        }
    }
    // Even a hand-made ban cannot cover them.
    assert_eq!(gate.ban("198.51.100.1".parse().unwrap(), "by hand", Moment::from_secs(600)), None);
    assert_eq!(gate.ban("2001:db8:aa:5::/64".parse().unwrap(), "by hand", Moment::from_secs(600)), None);
    // A banned /24 that contains an allowlisted half still admits that half.
    let ban = (1..=100).find_map(|host| gate.record(v4(192, 0, 2, host), MISS, Moment::from_secs(600))).unwrap();
    assert_eq!(ban.key.to_string(), "192.0.2.0/24");
    assert!(gate.admit_connection(v4(192, 0, 2, 5), Moment::from_secs(600)).is_err());
    for &address in &allowlisted {
        drop(gate.admit_connection(address, Moment::from_secs(600)).unwrap());
    }
}

#[test]
fn the_detector_alone_returns_verdicts_and_forgets_on_request() {
    let policy = Policy::default();
    let mut detector = ScanDetector::new(policy.scan, policy.grouping, 100, 100);
    let scanner = ip("203.0.113.9");
    let now = Moment::from_secs(1);
    for _ in 0..49 {
        assert_eq!(detector.record(scanner, MISS, now), None);
    }
    detector.forget(&policy.grouping.source_of(scanner));
    for _ in 0..49 {
        assert_eq!(detector.record(scanner, MISS, now), None, "counting restarted after forget");
    }
    let verdict = detector.record(scanner, MISS, now).unwrap();
    assert_eq!((verdict.scope, verdict.misses, verdict.outcomes, verdict.sources), (Scope::Source, 50, 50, 1));
    assert_eq!(verdict.last_miss, MissKind::MacMismatch);
}

#[test]
fn a_network_sweeping_again_after_its_ban_is_banned_again_as_fast_and_for_longer() {
    let gate = gate();
    let sweep = |from: u64| {
        (0..3_600u64)
            .find_map(|second| {
                let now = Moment::from_secs(from + second);
                (1..=50).find_map(|host| gate.record(v4(192, 0, 2, host), MISS, now)).map(|ban| (second, ban))
            })
            .expect("detected")
    };
    let (_, first) = sweep(0);
    // The same addresses resume the moment the ban ends, well inside the hour-long network window.
    let (after, second) = sweep(first.until.since_epoch().as_secs());
    assert!(after <= 2, "re-detected after {after} s");
    assert_eq!(second.key, first.key);
    assert_eq!((first.offence, second.offence), (1, 2));
    assert_eq!(second.duration, first.duration * 2);
}

#[test]
fn an_address_banned_again_and_again_never_counts_as_several_towards_its_network() {
    let gate = gate();
    let noisy = v4(192, 0, 2, 7);
    // Requests in flight when the ban came keep missing: 2,000 misses from one address.
    let bans: Vec<NewBan> = (0..2_000).filter_map(|n| gate.record(noisy, MISS, Moment::from_millis(n))).collect();
    assert_eq!(bans.len(), 1, "one offence while banned: {bans:?}");
    assert_eq!(bans[0].key.to_string(), "192.0.2.7");
    // Seven other addresses of the /24 miss a little: with the noisy one that is 8 sources only
    // if the noisy one counted once, and the network's rule needs 8 distinct addresses.
    for host in 10..16 {
        for _ in 0..5 {
            assert_eq!(gate.record(v4(192, 0, 2, host), MISS, Moment::from_secs(3)), None);
        }
    }
    let neighbour = gate.admit_connection(v4(192, 0, 2, 99), Moment::from_secs(3));
    assert!(neighbour.is_ok(), "the office sharing the /24 is not banned: {neighbour:?}");
}

#[test]
fn a_refused_device_weighs_one_miss_per_window_however_often_it_asks() {
    let gate = gate();
    let office = v4(198, 51, 100, 1);
    // An unenrolled phone behind the office's address retries every 10 s for a day, beside
    // 200 enrolled phones polling hourly.
    for second in (0..86_400u64).step_by(10) {
        assert_eq!(gate.record_refused_device(office, &7, Moment::from_secs(second)), None);
        if second % 3_600 == 0 {
            for _ in 0..200 {
                gate.record(office, ScanOutcome::Hit, Moment::from_secs(second));
            }
        }
    }
    drop(gate.admit_connection(office, Moment::from_secs(86_400)).unwrap());
    // Fifty different refused devices from one address are fifty misses: a ban, as for any
    // miss. (A scanner can only present its own certificates' MACs.)
    let scanner = v4(203, 0, 113, 9);
    let ban = (0..60u64).find_map(|mac| gate.record_refused_device(scanner, &(1_000 + mac), Moment::from_secs(5)));
    assert_eq!(ban.map(|ban| ban.key.to_string()).as_deref(), Some("203.0.113.9"));
}
