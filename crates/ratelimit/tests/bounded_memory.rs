//! No table grows past its capacity, however many unique keys arrive (threat 21).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use proptest::collection::vec;
use proptest::prelude::*;
use sipprov_ratelimit::{BoundedMap, Gatekeeper, KeyedLimiter, MissKind, Moment, Policy, RateLimit, ScanOutcome};

const FLOOD: u32 = 1_000_000;
/// Each gatekeeper key passes through every table and a ban, so fewer keeps the test quick; the
/// capacities are small enough that every table is overrun hundreds of times.
const GATEKEEPER_FLOOD: u32 = 200_000;

#[test]
fn a_million_unique_keys_never_exceed_the_map_capacity() {
    let mut map = BoundedMap::new(10_000);
    let mut evictions = 0;
    for key in 0..FLOOD {
        evictions += usize::from(map.insert(key, ()).is_some());
        assert!(map.len() <= 10_000, "{} entries after key {key}", map.len());
    }
    assert_eq!(map.len(), 10_000);
    assert_eq!(evictions, FLOOD as usize - 10_000);
    // What remains is the most recent keys.
    assert!((FLOOD - 10_000..FLOOD).all(|key| map.contains_key(&key)));
}

#[test]
fn a_million_unique_keys_never_exceed_the_limiter_capacity() {
    let mut limiter = KeyedLimiter::new(RateLimit::new(1, Duration::from_secs(3_600)).unwrap(), 5_000);
    let now = Moment::from_secs(1);
    for key in 0..FLOOD {
        limiter.check(&key, now).unwrap();
        assert!(limiter.len() <= 5_000);
    }
    // A key that keeps knocking stays tracked (recently used), so the flood did not reset it.
    let mut limiter = KeyedLimiter::new(RateLimit::new(1, Duration::from_secs(3_600)).unwrap(), 100);
    limiter.check(&u32::MAX, now).unwrap();
    for key in 0..10_000 {
        limiter.check(&key, now).unwrap();
        assert!(limiter.check(&u32::MAX, now).is_err(), "the scanner's budget was reset by the flood");
    }
}

#[test]
fn a_flood_of_unique_sources_and_devices_keeps_every_gatekeeper_table_bounded() {
    let mut policy = Policy::default();
    policy.capacity.sources = 2_000;
    policy.capacity.networks = 500;
    policy.capacity.devices = 3_000;
    policy.capacity.bans = 300;
    policy.capacity.offenders = 400;
    policy.scan.source.min_misses = 1;
    policy.scan.source.max_misses = 1;
    // Networks are still counted, but only sources are banned, so every source stays admissible.
    (policy.scan.network.min_misses, policy.scan.network.max_misses) = (u32::MAX, u32::MAX);
    let gate: Gatekeeper<u32> = Gatekeeper::new(policy).unwrap();
    let now = Moment::from_secs(10);
    for n in 0..GATEKEEPER_FLOOD {
        // IPv4 sources spread over hundreds of /24s, and IPv6 sources each in its own /64.
        let v4 = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | n));
        let v6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, (n >> 16) as u16, n as u16, 0, 0, 0, 1));
        let ip = if n % 2 == 0 { v4 } else { v6 };
        drop(gate.admit_connection(ip, now).unwrap());
        gate.admit_request(ip, Some(&n), now).unwrap();
        // Every source misses once and is banned: the ban list fills and evicts too.
        assert!(gate.record(ip, ScanOutcome::Miss(MissKind::UnknownPath), now).is_some());
        // Every device is refused once: that table fills and evicts as well.
        gate.record_refused_device(ip, &n, now);
        if n % 1_000 == 0 {
            let o = gate.occupancy();
            assert!(o.connection_sources <= 2_000 && o.request_sources <= 2_000 && o.scan_sources <= 2_000, "{o:?}");
            assert!(o.scan_networks <= 500 && o.devices <= 3_000 && o.bans <= 300 && o.offenders <= 400, "{o:?}");
            assert!(o.refused_devices <= 3_000, "{o:?}");
            assert_eq!((o.connected_sources, o.handshakes_in_flight), (0, 0), "dropped permits were released");
        }
    }
    let o = gate.occupancy();
    assert_eq!((o.connection_sources, o.request_sources, o.devices, o.refused_devices), (2_000, 2_000, 3_000, 3_000));
    assert_eq!((o.bans, o.offenders), (300, 400));
}

/// A reference least-recently-used map: slow, obviously right.
#[derive(Default)]
struct ModelLru {
    capacity: usize,
    entries: VecDeque<(u8, u32)>, // most recent first
}

impl ModelLru {
    fn touch(&mut self, key: u8) -> Option<u32> {
        let at = self.entries.iter().position(|(k, _)| *k == key)?;
        let entry = self.entries.remove(at).unwrap();
        self.entries.push_front(entry);
        Some(entry.1)
    }
}

#[derive(Debug, Clone)]
enum Op {
    Insert(u8, u32),
    Get(u8),
    Remove(u8),
    Retain(u32),
    PopOldest,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..24, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
        3 => (0u8..24).prop_map(Op::Get),
        1 => (0u8..24).prop_map(Op::Remove),
        1 => (2u32..5).prop_map(Op::Retain),
        1 => Just(Op::PopOldest),
    ]
}

proptest! {
    /// The bounded map behaves exactly like the reference, in content and in recency order.
    #[test]
    fn the_bounded_map_is_an_lru(capacity in 1usize..10, ops in vec(op(), 1..200)) {
        let mut map = BoundedMap::new(capacity);
        let mut model = ModelLru { capacity, ..ModelLru::default() };
        for op in ops {
            match op {
                Op::Insert(key, value) => {
                    let evicted = map.insert(key, value);
                    let expected = if model.touch(key).is_some() {
                        model.entries[0].1 = value;
                        None
                    } else {
                        let evicted = (model.entries.len() == model.capacity).then(|| model.entries.pop_back().unwrap());
                        model.entries.push_front((key, value));
                        evicted
                    };
                    prop_assert_eq!(evicted, expected);
                }
                Op::Get(key) => prop_assert_eq!(map.get_mut(&key).copied(), model.touch(key)),
                Op::Remove(key) => {
                    let expected = model.entries.iter().position(|(k, _)| *k == key).map(|at| model.entries.remove(at).unwrap().1);
                    prop_assert_eq!(map.remove(&key), expected);
                }
                Op::Retain(divisor) => {
                    map.retain(|_, value| *value % divisor != 0);
                    model.entries.retain(|(_, value)| *value % divisor != 0);
                }
                Op::PopOldest => prop_assert_eq!(map.pop_oldest(), model.entries.pop_back()),
            }
            let order: Vec<(u8, u32)> = map.iter().map(|(k, v)| (*k, *v)).collect();
            prop_assert_eq!(order, model.entries.iter().copied().collect::<Vec<_>>());
            prop_assert!(map.len() <= capacity);
        }
    }
}
