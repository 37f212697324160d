//! Address keys: canonical spellings, IPv4-mapped IPv6, prefixes and grouping.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

use std::net::{IpAddr, Ipv6Addr};

use proptest::prelude::*;
use sipprov_ratelimit::{
    AddressGrouping, Error, GateRefusal, Gatekeeper, IpPrefix, Moment, Policy, RateLimit, canonical_ip,
};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn prefixes_read_and_print_one_canonical_form() {
    for (input, printed) in [
        ("192.0.2.7", "192.0.2.7"),
        ("192.0.2.7/32", "192.0.2.7"),
        ("192.0.2.0/24", "192.0.2.0/24"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("2001:DB8:0:0::/64", "2001:db8::/64"),
        ("2001:db8::1", "2001:db8::1"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("::ffff:192.0.2.0/120", "192.0.2.0/24"),
        ("::/0", "::/0"),
    ] {
        assert_eq!(input.parse::<IpPrefix>().unwrap().to_string(), printed, "{input}");
    }
}

#[test]
fn ambiguous_or_malformed_prefixes_are_refused() {
    for input in [
        "192.0.2.7/24",
        "192.0.2.0/33",
        "2001:db8::1/64",
        "192.0.2.0/",
        "192.0.2.0/+24",
        "192.0.2.0/024",
        "fe80::1%eth0",
        "",
        " 192.0.2.7",
        "192.0.2.0/24/1",
    ] {
        assert!(matches!(input.parse::<IpPrefix>(), Err(Error::InvalidPrefix { .. })), "{input} accepted");
    }
    let long = "x".repeat(10_000);
    let Err(Error::InvalidPrefix { input, .. }) = long.parse::<IpPrefix>() else { panic!() };
    assert!(input.len() < 100, "the error does not echo unbounded input");
}

#[test]
fn ipv4_mapped_ipv6_is_ipv4() {
    assert_eq!(canonical_ip(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
    assert_eq!(IpPrefix::host(ip("::ffff:192.0.2.7")), IpPrefix::host(ip("192.0.2.7")));
    assert!("192.0.2.0/24".parse::<IpPrefix>().unwrap().contains(ip("::ffff:192.0.2.99")));
    // Not every IPv6 address with an IPv4 inside is mapped.
    assert_eq!(canonical_ip(ip("::192.0.2.7")), ip("::192.0.2.7"));
    assert_eq!(canonical_ip(ip("64:ff9b::192.0.2.7")), ip("64:ff9b::192.0.2.7"));
}

#[test]
fn a_mapped_and_a_plain_spelling_share_one_budget_and_one_ban() {
    let mut policy = Policy::default();
    policy.connections_per_source = RateLimit::new(2, std::time::Duration::from_secs(60)).unwrap();
    let gate: Gatekeeper<u64> = Gatekeeper::new(policy).unwrap();
    let now = Moment::from_secs(1);
    let first = gate.admit_connection(ip("192.0.2.7"), now).unwrap();
    let second = gate.admit_connection(ip("::ffff:192.0.2.7"), now).unwrap();
    assert_eq!(first.client(), second.client());
    assert!(matches!(gate.admit_connection(ip("::ffff:192.0.2.7"), now), Err(GateRefusal::ConnectionRate { .. })));
    assert!(matches!(gate.admit_connection(ip("192.0.2.7"), now), Err(GateRefusal::ConnectionRate { .. })));

    gate.ban("::ffff:192.0.2.9".parse().unwrap(), "scan", now).unwrap();
    assert_eq!(gate.bans(now)[0].key.to_string(), "192.0.2.9");
    assert!(matches!(gate.admit_connection(ip("192.0.2.9"), now), Err(GateRefusal::Banned { .. })));
}

#[test]
fn default_grouping_is_address_and_slash_24_for_ipv4_slash_64_and_slash_48_for_ipv6() {
    let grouping = AddressGrouping::default();
    assert_eq!(grouping.source_of(ip("192.0.2.7")).to_string(), "192.0.2.7");
    assert_eq!(grouping.network_of(ip("::ffff:192.0.2.7")).to_string(), "192.0.2.0/24");
    assert_eq!(grouping.source_of(ip("2001:db8:1:2:aaaa::1")).to_string(), "2001:db8:1:2::/64");
    assert_eq!(grouping.source_of(ip("2001:db8:1:2:bbbb::7")), grouping.source_of(ip("2001:db8:1:2::1")));
    assert_eq!(grouping.network_of(ip("2001:db8:1:2::1")).to_string(), "2001:db8:1::/48");
}

#[test]
fn addresses_of_one_slash_64_share_a_connection_budget() {
    let mut policy = Policy::default();
    policy.max_connections_per_source = 2;
    let gate: Gatekeeper<u64> = Gatekeeper::new(policy).unwrap();
    let now = Moment::from_secs(1);
    let _a = gate.admit_connection(ip("2001:db8:1:2::1"), now).unwrap();
    let _b = gate.admit_connection(ip("2001:db8:1:2::2"), now).unwrap();
    assert!(matches!(
        gate.admit_connection(ip("2001:db8:1:2:ffff::3"), now),
        Err(GateRefusal::TooManyConnections { limit: 2, .. })
    ));
    let _c = gate.admit_connection(ip("2001:db8:1:3::1"), now).unwrap();
}

#[test]
fn prefixes_contain_and_cover() {
    let net: IpPrefix = "192.0.2.0/24".parse().unwrap();
    assert!(net.contains(ip("192.0.2.255")) && !net.contains(ip("192.0.3.0")) && !net.contains(ip("::1")));
    assert!(net.covers(&"192.0.2.128/25".parse().unwrap()));
    assert!(!net.covers(&"192.0.0.0/16".parse().unwrap()));
    assert!(IpPrefix::new(ip("192.0.2.9"), 33).is_err());
    assert_eq!(IpPrefix::new(ip("192.0.2.9"), 24).unwrap(), net);
}

fn any_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(IpAddr::from),
        any::<[u8; 16]>().prop_map(IpAddr::from),
        any::<[u8; 4]>().prop_map(|v4| IpAddr::V6(std::net::Ipv4Addr::from(v4).to_ipv6_mapped())),
        any::<u64>()
            .prop_map(|low| IpAddr::V6(Ipv6Addr::from(0x2001_0db8_0000_0000_0000_0000_0000_0000 | u128::from(low)))),
    ]
}

proptest! {
    /// Printing and reading back gives the same key, and the key contains the address it came from.
    #[test]
    fn prefixes_round_trip_through_text(ip in any_ip(), len in 0u8..=128) {
        let prefix = IpPrefix::new(ip, len.min(if ip.is_ipv4() { 32 } else { 128 })).unwrap();
        prop_assert_eq!(prefix.to_string().parse::<IpPrefix>().unwrap(), prefix);
        prop_assert!(prefix.contains(ip));
    }

    /// Reading never panics, and anything accepted prints back as itself or a canonical equal.
    #[test]
    fn reading_arbitrary_text_never_panics(text in "\\PC{0,40}") {
        if let Ok(prefix) = text.parse::<IpPrefix>() {
            prop_assert_eq!(prefix.to_string().parse::<IpPrefix>().unwrap(), prefix);
        }
    }
}

#[test]
fn an_ipv6_network_spanning_the_mapped_range_covers_ipv4() {
    let everything: IpPrefix = "::/0".parse().unwrap();
    assert!(everything.contains(ip("192.0.2.7")));
    assert!(everything.covers(&"192.0.2.0/24".parse().unwrap()));
    let documentation: IpPrefix = "2001:db8::/32".parse().unwrap();
    assert!(!documentation.contains(ip("192.0.2.7")));
    assert!(!"192.0.2.0/24".parse::<IpPrefix>().unwrap().contains(ip("2001:db8::1")));

    let gate: Gatekeeper<u64> = Gatekeeper::new(Policy::default()).unwrap();
    let now = Moment::from_secs(1);
    gate.ban(everything, "maintenance", now).unwrap();
    assert!(matches!(gate.admit_connection(ip("192.0.2.7"), now), Err(GateRefusal::Banned { .. })));
    assert!(matches!(gate.admit_connection(ip("2001:db8::1"), now), Err(GateRefusal::Banned { .. })));
}
