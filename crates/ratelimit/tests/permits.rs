//! Concurrency caps held as permits: connections per source, handshakes in flight (threat 19).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

use std::net::IpAddr;
use std::sync::Arc;
use std::thread;

use sipprov_ratelimit::{CapReached, ConcurrencyCap, GateRefusal, Gatekeeper, InFlightCap, Moment, Policy};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn a_source_holds_at_most_its_connection_cap_and_dropping_frees_a_place() {
    let gate: Gatekeeper<u64> = Gatekeeper::new(Policy::default()).unwrap();
    let now = Moment::from_secs(1);
    let office = ip("198.51.100.1");
    let mut held: Vec<_> = (0..256).map(|_| gate.admit_connection(office, now).unwrap()).collect();
    assert_eq!(
        gate.admit_connection(office, now).unwrap_err(),
        GateRefusal::TooManyConnections { client: gate.source_of(office), limit: 256 }
    );
    held.pop();
    held.push(gate.admit_connection(office, now).unwrap());
    drop(held);
    assert_eq!(gate.occupancy().connected_sources, 0);
}

#[test]
fn handshakes_in_flight_are_capped_globally_and_freed_when_tls_finishes() {
    let mut policy = Policy::default();
    (policy.max_handshakes_in_flight, policy.max_handshakes_per_network, policy.max_handshakes_per_source) = (3, 3, 3);
    let gate: Gatekeeper<u64> = Gatekeeper::new(policy).unwrap();
    let now = Moment::from_secs(1);
    let connections: Vec<_> = ["192.0.2.1", "198.51.100.2", "2001:db8::1"]
        .iter()
        .map(|a| gate.admit_connection(ip(a), now).unwrap())
        .collect();
    let mut handshakes: Vec<_> = connections.iter().map(|c| gate.admit_handshake(c).unwrap()).collect();
    let fourth = gate.admit_connection(ip("203.0.113.1"), now).unwrap();
    assert_eq!(gate.admit_handshake(&fourth).unwrap_err(), GateRefusal::HandshakesBusy { limit: 3 });
    drop(handshakes.remove(0));
    let fourth_handshake = gate.admit_handshake(&fourth).unwrap();
    assert_eq!(gate.occupancy().handshakes_in_flight, 3);
    drop((handshakes, fourth_handshake));
    assert_eq!(gate.occupancy().handshakes_in_flight, 0, "dropping a handshake permit frees its place");
    drop(connections);
}

#[test]
fn two_sources_stalling_their_handshakes_leave_places_for_every_other_network() {
    let gate: Gatekeeper<u64> = Gatekeeper::new(Policy::default()).unwrap();
    let now = Moment::from_secs(1);
    // Three addresses of one /24 each open 256 connections and never finish a handshake.
    let mut connections = Vec::new();
    let mut stalled = Vec::new();
    let mut waiting = Vec::new();
    for attacker in ["203.0.113.7", "203.0.113.8", "203.0.113.9"] {
        for _ in 0..256 {
            let connection = gate.admit_connection(ip(attacker), now).unwrap();
            match gate.admit_handshake(&connection) {
                Ok(handshake) => stalled.push(handshake),
                Err(refusal) => waiting.push(refusal),
            }
            connections.push(connection);
        }
    }
    assert_eq!(stalled.len(), 128, "64 per source, 128 for their network");
    assert!(waiting.contains(&GateRefusal::SourceHandshakesBusy { key: "203.0.113.7".parse().unwrap(), limit: 64 }));
    assert!(
        waiting.contains(&GateRefusal::SourceHandshakesBusy { key: "203.0.113.0/24".parse().unwrap(), limit: 128 })
    );
    // Another network's phones still get handshake places, up to their own caps.
    let office: Vec<_> = (0..64).map(|_| gate.admit_connection(ip("198.51.100.20"), now).unwrap()).collect();
    let phones: Vec<_> = office.iter().map(|c| gate.admit_handshake(c).unwrap()).collect();
    assert_eq!(gate.occupancy().handshakes_in_flight, 192);
    // A finished handshake frees its place for a waiting connection of the same source.
    drop(stalled.swap_remove(0));
    drop(gate.admit_handshake(&connections[0]).unwrap());
    drop((phones, office, connections));
}

#[test]
fn a_connection_refused_for_capacity_consumes_no_rate_budget() {
    let mut policy = Policy::default();
    policy.max_connections_per_source = 1;
    policy.connections_per_source =
        sipprov_ratelimit::RateLimit::new(2, std::time::Duration::from_secs(3_600)).unwrap();
    let gate: Gatekeeper<u64> = Gatekeeper::new(policy).unwrap();
    let now = Moment::from_secs(1);
    let client = ip("192.0.2.1");
    let first = gate.admit_connection(client, now).unwrap();
    for _ in 0..100 {
        assert!(matches!(gate.admit_connection(client, now), Err(GateRefusal::TooManyConnections { .. })));
    }
    drop(first);
    // The second of two connections an hour is still there.
    let _second = gate.admit_connection(client, now).unwrap();
}

#[test]
fn the_keyed_cap_bounds_how_many_keys_it_tracks() {
    let cap = ConcurrencyCap::new(2, 2);
    let _a = cap.acquire(&"a").unwrap();
    let _b = cap.acquire(&"b").unwrap();
    let _a2 = cap.acquire(&"a").unwrap();
    assert_eq!(cap.acquire(&"a").unwrap_err(), CapReached::PerKey { limit: 2 });
    assert_eq!(cap.acquire(&"c").unwrap_err(), CapReached::Keys { max: 2 });
    drop(_b);
    let c = cap.acquire(&"c").unwrap();
    assert_eq!((cap.in_use(&"a"), cap.in_use(&"b"), c.key()), (2, 0, &"c"));
}

#[test]
fn permits_taken_and_dropped_on_many_threads_balance_out() {
    let cap = Arc::new(ConcurrencyCap::new(8, 100));
    let in_flight = InFlightCap::new(16);
    let peak = thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|worker| {
                let cap = Arc::clone(&cap);
                let in_flight = in_flight.clone();
                scope.spawn(move || {
                    let mut peak = 0;
                    for round in 0..2_000 {
                        let key = (worker + round) % 3;
                        let permits: Vec<_> = (0..4).filter_map(|_| cap.acquire(&key).ok()).collect();
                        let slot = in_flight.try_acquire();
                        peak = peak.max(cap.in_use(&key));
                        drop((permits, slot));
                    }
                    peak
                })
            })
            .collect();
        workers.into_iter().map(|worker| worker.join().unwrap()).max().unwrap()
    });
    assert!(peak <= 8, "a key held {peak} permits");
    assert_eq!((cap.keys(), in_flight.in_use()), (0, 0));
}

#[test]
fn the_gatekeeper_can_be_shared_and_permits_moved_across_tasks() {
    fn shareable<T: Send + Sync>() {}
    fn movable<T: Send>() {}
    shareable::<Gatekeeper<[u8; 6]>>();
    movable::<sipprov_ratelimit::ConnectionPermit>();
    let gate = Arc::new(Gatekeeper::<[u8; 6]>::new(Policy::default()).unwrap());
    let permit = gate.admit_connection(ip("192.0.2.1"), Moment::from_secs(1)).unwrap();
    let moved = thread::spawn(move || permit.client()).join().unwrap();
    assert_eq!(moved.to_string(), "192.0.2.1");
    assert_eq!(gate.occupancy().connected_sources, 0, "released when dropped on the other thread");
}
