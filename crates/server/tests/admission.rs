//! The rate limiter in front of the real listener, with clients on several loopback addresses:
//! floods and half-open connections are closed in time, a MAC sweep and a slow distributed scan
//! are banned before TLS, and an office of 200 phones behind one address still gets its configs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

mod support;

use std::net::IpAddr;
use std::time::Duration;

use sipprov_credentials::{AuditKind, AuditQuery, Clock, Role, Store, SystemClock};
use sipprov_server::Timeouts;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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

/// A policy whose source rule trips at 20 misses over half of a source's outcomes.
fn sensitive() -> sipprov_ratelimit::Policy {
    let mut policy = sipprov_ratelimit::Policy::default();
    (policy.scan.source.min_misses, policy.scan.source.max_misses) = (20, 500);
    policy
}

/// Item 8: whether a ban follows says nothing about whether the device is enrolled, and files
/// phones ask for that sipprov does not serve do not dilute a scanner's misses.
#[tokio::test]
async fn the_scan_detector_weighs_every_device_refusal_alike_and_ignores_files_it_does_not_serve() {
    let vendor_ca = ca("Yealink-like CA");
    let harness = Harness::start_with_limits(yealink_trust(&vendor_ca), sensitive()).await;
    let (disabled, mismatched, unknown) = ("001565000081", "001565000082", "001565000083");
    for mac in [disabled, mismatched] {
        harness.enrol(mac);
    }
    harness.credentials.set_disabled(&disabled.parse().unwrap(), true, "test").unwrap();
    // Pin the enrolled key, so another certificate for the MAC is a key mismatch.
    let pinned = yealink_phone(&vendor_ca, mismatched);
    assert!(
        fetch_from(&harness, ip("127.0.9.1"), &pinned, &format!("/{mismatched}.cfg")).await.unwrap().contains("200 OK")
    );
    let cases = [
        (disabled, yealink_phone(&vendor_ca, disabled), "127.0.10.1"),
        (mismatched, yealink_phone(&vendor_ca, mismatched), "127.0.11.1"),
        (unknown, yealink_phone(&vendor_ca, unknown), "127.0.12.1"),
    ];
    for (mac, phone, source) in &cases {
        // Each device asks for its own file 20 times (the same 404 bytes each time), and its
        // source misses 15 times besides: under the threshold only if the refusals weigh one.
        for _ in 0..20 {
            let response = fetch_from(&harness, ip(source), phone, &format!("/{mac}.cfg")).await.unwrap();
            assert!(response.starts_with("HTTP/1.1 404"), "{response}");
        }
        for n in 0..15 {
            fetch_from(&harness, ip(source), phone, &format!("/nothing-{n}")).await.unwrap();
        }
    }
    for (mac, phone, source) in &cases {
        let still = harness.tls_from(ip(source), Some(phone)).await;
        assert!(still.is_ok(), "{mac}: refused like the others, banned like the others (none)");
    }
    // A scanner padding its misses with boot files sipprov recognises but does not serve.
    let scanner = yealink_phone(&vendor_ca, "001565000084");
    let source = ip("127.0.13.1");
    let mut banned = false;
    for n in 0..25 {
        for _ in 0..4 {
            if fetch_from(&harness, source, &scanner, "/y000000000000.boot").await.is_err() {
                banned = true;
            }
        }
        if fetch_from(&harness, source, &scanner, &format!("/unknown-{n}")).await.is_err() {
            banned = true;
        }
    }
    assert!(banned || harness.tls_from(source, Some(&scanner)).await.is_err(), "the padding hid the misses");
}

/// Phones upload what their vendor's files tell them to (Polycom's logs and local changes, a
/// Yealink's `-local.cfg`): a phone's own upload is declined without counting as a miss, so an
/// office of phones uploading at boot is never banned for it; an upload under another MAC is.
#[tokio::test]
async fn a_phones_upload_of_its_own_file_is_declined_and_never_counts_as_a_miss() {
    let vendor_ca = ca("Yealink-like CA");
    let harness = Harness::start_with_limits(yealink_trust(&vendor_ca), sensitive()).await;
    let own = "001565000091";
    harness.enrol(own);
    let phone = yealink_phone(&vendor_ca, own);
    let office = ip("127.0.14.1");
    // 25: more than the 20 misses that would ban the source, within the device's request rate.
    for _ in 0..25 {
        let mut tls = harness.tls_from(office, Some(&phone)).await.expect("not banned for its uploads");
        let request =
            format!("PUT /{own}-local.cfg HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        tls.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        tls.read_to_string(&mut response).await.unwrap();
        assert!(response.starts_with("HTTP/1.1 404"), "{response}");
    }
    let auditor = harness.credentials.create_api_token("test", Role::Auditor, "test").unwrap();
    let (_, metrics) = harness.admin(Some(auditor.expose()), "GET", "/metrics", "").await;
    assert!(metrics.contains("sipprov_phone_requests_total{outcome=\"not_served\"} 25\n"), "{metrics}");
    assert!(metrics.contains("sipprov_phone_requests_total{outcome=\"method_not_served\"} 0\n"), "{metrics}");

    // Uploading as another phone is a miss like asking for its file.
    let scanner = ip("127.0.15.1");
    let mut banned = false;
    for n in 0..40u32 {
        let Ok(mut tls) = harness.tls_from(scanner, Some(&phone)).await else {
            banned = true;
            break;
        };
        let request = format!(
            "PUT /0015650a{n:04x}-local.cfg HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let _ = tls.write_all(request.as_bytes()).await;
        let mut response = String::new();
        let _ = tls.read_to_string(&mut response).await;
    }
    assert!(
        banned || harness.tls_from(scanner, Some(&phone)).await.is_err(),
        "uploads under other MACs were not misses"
    );
}

/// Item 9: a phone not yet enrolled, retrying behind an office's address, does not get the
/// office banned.
#[tokio::test]
async fn a_pending_phone_retrying_behind_an_office_address_does_not_ban_the_office() {
    let vendor_ca = ca("Yealink-like CA");
    let harness = Harness::start_with_limits(yealink_trust(&vendor_ca), sensitive()).await;
    let office = ip("127.0.14.1");
    let enrolled: Vec<(String, Phone)> = (0..10)
        .map(|n| format!("0015650e{n:04x}"))
        .map(|mac| {
            let phone = yealink_phone(&vendor_ca, &mac);
            (mac, phone)
        })
        .collect();
    for (mac, phone) in &enrolled {
        harness.enrol(mac);
        let response = fetch_from(&harness, office, phone, &format!("/{mac}.cfg")).await;
        assert!(response.unwrap().starts_with("HTTP/1.1 200"));
    }
    let pending = yealink_phone(&vendor_ca, "001565000099");
    for _ in 0..40 {
        let response = fetch_from(&harness, office, &pending, "/001565000099.cfg").await.unwrap();
        assert!(response.starts_with("HTTP/1.1 404"), "{response}");
    }
    for (mac, phone) in &enrolled {
        let response = fetch_from(&harness, office, phone, &format!("/{mac}.cfg")).await;
        assert!(response.unwrap().starts_with("HTTP/1.1 200"), "the office is still served");
    }
    let query = AuditQuery { kind: Some(AuditKind::Banned), ..AuditQuery::default() };
    assert!(harness.store.audit(&query).unwrap().is_empty(), "no ban");
    let pending_list = harness.store.pending(&sipprov_credentials::PendingQuery::default()).unwrap();
    assert_eq!(pending_list.len(), 1, "the phone is listed for the operator");
}

/// The value of a gauge in the Prometheus text.
fn gauge(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in {metrics}"))
        .parse()
        .unwrap()
}

/// Item 10: expired bans and idle limiter entries are purged by the periodic ban refresh the
/// daemon runs, not only when a table overflows.
#[tokio::test]
async fn the_periodic_ban_refresh_purges_expired_bans_from_the_limiter() {
    let vendor_ca = ca("Yealink-like CA");
    let mut policy = sensitive();
    policy.bans.first = Duration::from_secs(1);
    let harness = Harness::start_with_limits(yealink_trust(&vendor_ca), policy).await;
    let token = harness.credentials.create_api_token("metrics", sipprov_credentials::Role::Auditor, "t").unwrap();
    let metrics = || harness.admin_json_text(token.expose(), "/metrics");
    let phone = yealink_phone(&vendor_ca, OWN);
    let scanner = ip("127.0.15.1");
    for n in 0..40 {
        if fetch_from(&harness, scanner, &phone, &format!("/0015650{n:05x}.cfg")).await.is_err() {
            break;
        }
    }
    assert_eq!(gauge(&metrics().await, "sipprov_limiter_bans_stored"), 1, "banned");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(gauge(&metrics().await, "sipprov_bans_active"), 0, "expired");
    assert_eq!(gauge(&metrics().await, "sipprov_limiter_bans_stored"), 1, "expired, still held");
    harness.admin_state.refresh_bans().unwrap();
    assert_eq!(gauge(&metrics().await, "sipprov_limiter_bans_stored"), 0, "purged by the refresh");
}

/// Item 11: the admin listener has admission control, an import body limit and a paged pending
/// list.
#[tokio::test]
async fn the_admin_listener_caps_connections_limits_import_bodies_and_pages_pending() {
    let vendor_ca = ca("Yealink-like CA");
    let harness = Harness::start(yealink_trust(&vendor_ca), Timeouts::default()).await;
    let token = harness.credentials.create_api_token("ops", sipprov_credentials::Role::Operator, "t").unwrap();
    // 300 idle sockets from one address: those past its 256 connections are closed at once.
    let flooder = ip("127.0.16.1");
    let mut sockets = Vec::new();
    for _ in 0..300 {
        sockets.push(connect_from(flooder, harness.admin_addr).await.unwrap());
    }
    let mut closed = 0;
    for socket in sockets.iter_mut().skip(256) {
        closed += usize::from(closed_within(socket, Duration::from_secs(1)).await);
    }
    assert_eq!(closed, 44, "connections over the cap are closed before TLS");
    // Meanwhile the operator, from elsewhere, is served.
    let (status, _) = harness.admin(Some(token.expose()), "GET", "/v1/devices", "").await;
    assert_eq!(status, 200);
    drop(sockets);

    // An import declaring more than the limit is refused before anything is read or applied.
    let mut tls = harness.admin_tls().await;
    let head = format!(
        "POST /v1/import?format=csv HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Content-Length: 300000000\r\nConnection: close\r\n\r\nmac,user_name\n",
        token.expose()
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let read =
        tokio::time::timeout(Duration::from_secs(5), tokio::io::AsyncReadExt::read_to_end(&mut tls, &mut response));
    let _ = read.await.expect("answered without waiting for the body");
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");

    // The pending list comes in pages.
    for n in 0..3 {
        let mac = format!("00156500f{n:03x}");
        assert!(
            fetch_from(&harness, ip("127.0.16.9"), &yealink_phone(&vendor_ca, &mac), &format!("/{mac}.cfg"))
                .await
                .is_ok()
        );
    }
    let first = harness.admin_json(token.expose(), "GET", "/v1/pending?limit=2", "", 200).await;
    assert_eq!(first["pending"].as_array().unwrap().len(), 2);
    let after = first["next_after"].as_str().expect("a full page has a cursor");
    let second =
        harness.admin_json(token.expose(), "GET", &format!("/v1/pending?limit=2&after={after}"), "", 200).await;
    assert_eq!(second["pending"].as_array().unwrap().len(), 1);
    assert_eq!(second["next_after"], serde_json::Value::Null);
    assert_eq!(second["pending"][0]["mac"], "00156500f002");
}
