//! The rate limiter in front of the real listener, with clients on several loopback addresses:
//! floods and half-open connections are closed in time, a MAC sweep and a slow distributed scan
//! are banned before TLS, and an office of 200 phones behind one address still gets its configs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

mod support;

use std::net::IpAddr;
use std::time::Duration;

use sipprov_credentials::{AuditKind, AuditQuery, Clock, Store, SystemClock};
use sipprov_server::Timeouts;
use support::*;
use tokio::io::AsyncWriteExt;
use tokio::task::JoinSet;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// Fetches `path` as `phone` from `source`, one request on a fresh connection.
async fn fetch_from(harness: &Harness, source: IpAddr, phone: &Phone, path: &str) -> std::io::Result<String> {
    let mut tls = harness.tls_from(source, Some(phone)).await?;
    tls.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes()).await?;
    let mut response = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut tls, &mut response).await?;
    Ok(String::from_utf8_lossy(&response).into_owned())
}

#[tokio::test]
async fn idle_and_half_open_connections_are_closed_while_a_phone_elsewhere_is_served() {
    let vendor_ca = ca("Yealink-like CA");
    let timeouts = Timeouts {
        handshake: Duration::from_millis(500),
        request_header: Duration::from_millis(500),
        ..Timeouts::default()
    };
    let harness = Harness::start(yealink_trust(&vendor_ca), timeouts).await;
    harness.enrol(OWN);
    let attacker = ip("127.0.0.40");
    let mut sockets = Vec::new();
    for _ in 0..500 {
        sockets.push(connect_from(attacker, harness.addr).await.unwrap());
    }
    for _ in 0..200 {
        let mut half = connect_from(attacker, harness.addr).await.unwrap();
        // A record header announcing a 512-byte ClientHello, then only its first bytes.
        let _ = half.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]).await;
        sockets.push(half);
    }

    let served = fetch_from(&harness, ip("127.0.0.41"), &yealink_phone(&vendor_ca, OWN), &format!("/{OWN}.cfg")).await;
    let served = served.unwrap();
    assert!(served.starts_with("HTTP/1.1 200 OK"), "{served}");

    let mut closing = JoinSet::new();
    for mut socket in sockets {
        closing.spawn(async move { closed_within(&mut socket, Duration::from_secs(5)).await });
    }
    let mut left_open = 0;
    while let Some(closed) = closing.join_next().await {
        left_open += usize::from(!closed.unwrap());
    }
    assert_eq!(left_open, 0, "connections left open past the deadline");
}

#[tokio::test]
async fn a_mac_sweep_with_a_valid_certificate_is_banned_and_then_gets_no_tls() {
    let vendor_ca = ca("Yealink-like CA");
    let harness = Harness::start(yealink_trust(&vendor_ca), Timeouts::default()).await;
    harness.enrol(OWN);
    let sweeper = ip("127.0.0.20");
    let phone = yealink_phone(&vendor_ca, OWN);
    let mut banned_after = None;
    for n in 0..2000u32 {
        let target = format!("/0015650{n:05x}.cfg");
        match fetch_from(&harness, sweeper, &phone, &target).await {
            Ok(response) => assert!(response.starts_with("HTTP/1.1 404 Not Found"), "{response}"),
            Err(_) => {
                banned_after = Some(n);
                break;
            }
        }
    }
    let banned_after = banned_after.expect("the sweep was never banned");
    assert!(banned_after <= 100, "banned only after {banned_after} requests");
    // Refused before TLS, even with a valid certificate for an enrolled phone.
    assert!(harness.tls_from(sweeper, Some(&phone)).await.is_err());
    // The ban is persisted for every node and the next start.
    let mut persisted = false;
    for _ in 0..50 {
        persisted = harness.store.bans(SystemClock.now()).unwrap().iter().any(|ban| ban.key == "127.0.0.20");
        if persisted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    assert!(persisted, "the ban was not persisted");
    // ... with its audit event, naming the address and why.
    let query = AuditQuery { kind: Some(AuditKind::Banned), ..AuditQuery::default() };
    let banned = harness.store.audit(&query).unwrap();
    assert_eq!(banned.len(), 1, "{banned:?}");
    assert!(banned[0].event.detail.starts_with("source=\"127.0.0.20\" reason="), "{banned:?}");
    assert_eq!(banned[0].event.mac, None);
    // Another phone, from another address, is untouched. (The sweeping certificate's own device
    // budget is spent: a stolen certificate does not buy a fresh one elsewhere.)
    harness.enrol(OTHER);
    let other = yealink_phone(&vendor_ca, OTHER);
    let served = fetch_from(&harness, ip("127.0.0.21"), &other, &format!("/{OTHER}.cfg")).await.unwrap();
    assert!(served.contains("account.1.password = "), "{served}");
}

#[tokio::test]
async fn a_slow_sweep_spread_over_a_slash_24_is_detected() {
    let vendor_ca = ca("Yealink-like CA");
    let harness = Harness::start(yealink_trust(&vendor_ca), Timeouts::default()).await;
    harness.enrol(OWN);
    let phone = yealink_phone(&vendor_ca, OWN);
    let mut detected_in_round = None;
    // 50 addresses of 127.0.5.0/24, each trying one certificate-less connection per second.
    for round in 0..10 {
        let started = tokio::time::Instant::now();
        let mut attempts = JoinSet::new();
        for host in 1..=50u8 {
            let source = ip(&format!("127.0.5.{host}"));
            let (addr, harness_ca) = (harness.addr, harness.server_ca.clone());
            attempts.spawn(async move {
                let probe = Harness::client_only(addr, harness_ca);
                probe.tls_from(source, None).await.is_ok()
            });
        }
        while attempts.join_next().await.is_some() {}
        // A fresh address of the same /24, with a valid phone certificate: refused once detected.
        if harness.tls_from(ip("127.0.5.99"), Some(&phone)).await.is_err() {
            detected_in_round = Some(round);
            break;
        }
        tokio::time::sleep_until(started + Duration::from_secs(1)).await;
    }
    let round = detected_in_round.expect("the distributed sweep was never detected");
    assert!(round <= 4, "detected only in round {round}");
    // Outside the /24, phones are served.
    let own = fetch_from(&harness, ip("127.0.0.3"), &phone, &format!("/{OWN}.cfg")).await.unwrap();
    assert!(own.starts_with("HTTP/1.1 200 OK"), "{own}");
}

#[tokio::test]
async fn two_hundred_phones_behind_one_address_all_get_their_configs() {
    let vendor_ca = ca("Yealink-like CA");
    let harness = std::sync::Arc::new(Harness::start(yealink_trust(&vendor_ca), Timeouts::default()).await);
    let office = ip("127.0.0.30");
    let mut phones = JoinSet::new();
    for n in 0..200u32 {
        let mac = format!("0015650a{n:04x}");
        harness.enrol(&mac);
        let phone = yealink_phone(&vendor_ca, &mac);
        let harness = std::sync::Arc::clone(&harness);
        phones.spawn(async move {
            // A Yealink boot sequence: the boot file (not served), then its own file.
            let boot = fetch_from(&harness, office, &phone, "/y000000000000.boot").await.unwrap();
            assert!(boot.starts_with("HTTP/1.1 404"), "{boot}");
            fetch_from(&harness, office, &phone, &format!("/{mac}.cfg")).await.unwrap()
        });
    }
    let mut served = 0;
    while let Some(response) = phones.join_next().await {
        let response = response.unwrap();
        assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
        assert!(response.contains("account.1.password = "));
        served += 1;
    }
    assert_eq!(served, 200);
}

#[tokio::test]
async fn with_a_source_allow_list_only_those_networks_get_a_handshake() {
    let vendor_ca = ca("Yealink-like CA");
    let lan = sipprov_ratelimit::Allowlist::parse(["127.0.7.0/24"]).unwrap();
    let harness = Harness::start_with_sources(yealink_trust(&vendor_ca), Timeouts::default(), Some(lan)).await;
    harness.enrol(OWN);
    let phone = yealink_phone(&vendor_ca, OWN);
    assert!(harness.tls_from(ip("127.0.8.1"), Some(&phone)).await.is_err(), "outside the LAN: no TLS");
    let inside = fetch_from(&harness, ip("127.0.7.5"), &phone, &format!("/{OWN}.cfg")).await.unwrap();
    assert!(inside.starts_with("HTTP/1.1 200 OK"), "{inside}");
}
