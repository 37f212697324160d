//! The policy's defaults are valid and meaningless settings are refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

use std::time::Duration;

use sipprov_ratelimit::{Error, Gatekeeper, Policy};

#[test]
fn the_defaults_are_valid() {
    Policy::default().validate().unwrap();
}

/// A setting's name and a way to spoil it.
type Spoiler = (&'static str, fn(&mut Policy));

#[test]
fn meaningless_settings_are_refused_by_name() {
    let cases: [Spoiler; 9] = [
        ("max_connections_per_source", |p| p.max_connections_per_source = 0),
        ("max_handshakes_in_flight", |p| p.max_handshakes_in_flight = 0),
        ("scan.source", |p| p.scan.source.window = Duration::from_millis(10)),
        ("scan.network", |p| p.scan.network.miss_ratio_percent = 101),
        ("scan.source", |p| p.scan.source.min_misses = 0),
        ("scan.network_min_sources", |p| p.scan.network_min_sources = 0),
        ("bans.max", |p| p.bans.max = Duration::from_secs(1)),
        ("grouping", |p| p.grouping.ipv6_network_len = 72),
        ("capacity", |p| p.capacity.devices = 0),
    ];
    for (setting, spoil) in cases {
        let mut policy = Policy::default();
        spoil(&mut policy);
        match Gatekeeper::<u64>::new(policy) {
            Err(Error::InvalidPolicy { setting: refused, .. }) => assert_eq!(refused, setting),
            other => panic!("{setting}: {other:?}"),
        }
    }
}
