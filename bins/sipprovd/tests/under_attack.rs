//! The real daemon under attack, from several loopback networks at once: stalled handshakes
//! cannot lock other networks' phones out, and a ban closes the banned source's connections,
//! is one offence, and leaves its innocent neighbours alone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

mod support;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Daemon, append_config, connect_from, have_tools, json_of, phone_tls};

const PHONE: &str = "001565000001";
const NEIGHBOUR: &str = "001565000002";

/// The `banned` audit events of the last hour.
fn banned_events(daemon: &Daemon) -> Vec<Value> {
    let audit = json_of(&daemon.cli(&daemon.auditor_token, &["audit", "--kind", "banned", "--since", "1h", "--json"]));
    audit["events"].as_array().cloned().unwrap_or_default()
}

/// Item 6: two sources holding 256 stalled handshakes each do not lock out a phone elsewhere,
/// and handshakes that end without a request count against their source.
#[test]
fn two_sources_stalling_512_handshakes_leave_a_phone_elsewhere_served() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());
    daemon.enrol(PHONE, "1001");
    let addr = daemon.phones.trim_start_matches("https://").to_owned();
    let mut stalled = Vec::new();
    for source in ["127.0.2.2", "127.0.3.3"] {
        for n in 0..256 {
            let Ok(mut socket) = connect_from(source, &addr) else { continue };
            if n % 2 == 0 {
                // The start of a ClientHello, never finished.
                let _ = socket.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);
            }
            stalled.push(socket);
        }
    }
    assert!(stalled.len() >= 500, "the stalled connections were accepted by the kernel: {}", stalled.len());
    // While they are held, a phone from a third network keeps getting its config.
    let started = Instant::now();
    for _ in 0..5 {
        assert_eq!(daemon.fetch_as_phone_from("127.0.4.4", PHONE).0, Some(200), "{}", daemon.all_output());
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(started.elapsed() < Duration::from_secs(8), "served while the handshakes were still held");
    drop(stalled);

    // A certificate holder that completes handshakes and never asks anything is a scanner too.
    let idle = "127.0.5.5";
    let mut refused_after = None;
    for n in 0..120 {
        match phone_tls(&daemon, NEIGHBOUR, idle) {
            Ok(tls) => drop(tls),
            Err(_) => {
                refused_after = Some(n);
                break;
            }
        }
    }
    let refused_after = refused_after.expect("silent connections were never counted");
    assert!(refused_after <= 60, "banned only after {refused_after} silent connections");
    assert!(banned_events(&daemon).iter().any(|e| e["detail"].as_str().unwrap().contains("no-request")));
}

/// Item 7: a ban closes the source's open connections, counts as one offence however many
/// requests were in flight, and its /24 is not banned for its sake.
#[test]
fn a_ban_closes_the_sources_connections_and_is_one_offence_sparing_its_neighbours() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());
    daemon.enrol(NEIGHBOUR, "1002");
    let scanner = "127.0.6.6";
    // Eight kept-alive connections, each sweeping other phones' files in turn.
    let mut connections: Vec<_> = (0..8).map(|_| phone_tls(&daemon, PHONE, scanner).unwrap()).collect();
    let mut closed = vec![false; connections.len()];
    for n in 0..400u32 {
        let index = n as usize % connections.len();
        if closed[index] {
            continue;
        }
        let request = format!("GET /0015650a{n:04x}.cfg HTTP/1.1\r\nHost: localhost\r\n\r\n");
        let tls = &mut connections[index];
        let mut buffer = [0u8; 4096];
        let answered = tls.write_all(request.as_bytes()).and_then(|()| tls.read(&mut buffer));
        if !matches!(answered, Ok(read) if read > 0) {
            closed[index] = true;
        }
        if closed.iter().all(|c| *c) {
            break;
        }
    }
    assert!(closed.iter().all(|c| *c), "every connection of the banned source was closed: {closed:?}");
    assert!(phone_tls(&daemon, PHONE, scanner).is_err(), "and new ones are refused");
    // One offence: one ban, not an escalation per request still in flight.
    let bans: Vec<Value> = banned_events(&daemon)
        .into_iter()
        .filter(|event| event["detail"].as_str().unwrap().contains("source=\"127.0.6.6\""))
        .collect();
    assert_eq!(bans.len(), 1, "{bans:#?}");
    assert!(bans[0]["detail"].as_str().unwrap().contains("offence=1"), "{bans:#?}");
    // The office sharing the scanner's /24 is still served.
    assert_eq!(daemon.fetch_as_phone_from("127.0.6.7", NEIGHBOUR).0, Some(200));
    assert!(
        !banned_events(&daemon).iter().any(|e| e["detail"].as_str().unwrap().contains("127.0.6.0/24")),
        "no network ban for one address's misses"
    );
}

/// A v2 PROXY header naming the TCP/IPv4 client `ip:port`.
fn proxy_header(ip: [u8; 4], port: u16) -> Vec<u8> {
    let mut header =
        vec![0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x21, 0x11, 0x00, 0x0c];
    header.extend(ip);
    header.extend([127, 0, 0, 1]);
    header.extend(port.to_be_bytes());
    header.extend(8443u16.to_be_bytes());
    header
}

/// Behind a listed load balancer, the client it names is the one audited; a client claiming
/// to be a balancer is closed.
#[test]
fn a_listed_balancer_names_the_client_and_anyone_else_claiming_to_is_closed() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with(dir.path(), |dir| {
        let config = dir.join("sipprov.toml");
        let text = std::fs::read_to_string(&config).unwrap();
        let text = text.replacen("[phones]\n", "[phones]\nproxy_from = [\"127.0.77.0/24\"]\n", 1);
        std::fs::write(config, text).unwrap();
    });
    daemon.enrol(PHONE, "1001");
    let get = |tls: &mut rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>| {
        let request = format!("GET /{PHONE}.cfg HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        tls.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        let _ = tls.read_to_string(&mut response);
        response
    };
    let mut proxied =
        support::phone_tls_after(&daemon, PHONE, "127.0.77.1", &proxy_header([198, 51, 100, 23], 4242)).unwrap();
    assert!(get(&mut proxied).starts_with("HTTP/1.1 200"));
    let audit =
        json_of(&daemon.cli(&daemon.auditor_token, &["audit", "--kind", "delivered", "--since", "1h", "--json"]));
    let detail = audit["events"][0]["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("peer=\"198.51.100.23\""), "the client's address is audited: {detail}");
    // The same header from a source that is no balancer: closed before TLS.
    let spoofed = support::phone_tls_after(&daemon, PHONE, "127.0.78.1", &proxy_header([198, 51, 100, 24], 4242));
    assert!(spoofed.is_err(), "a PROXY header from outside proxy_from is refused");
    // The refusal is logged before the connection closes; the log reaches the test through a
    // pipe, so it may arrive a moment after the client saw the close.
    support::wait_until("the refused PROXY header logged", || {
        daemon.log_contains("PROXY header from a source not in proxy_from")
    });
}

/// Item 10, on the real daemon: its periodic ban refresh drops expired bans from the limiter,
/// rather than leaving them until a table overflows.
#[test]
fn the_daemon_purges_expired_bans_with_its_periodic_jobs() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with(dir.path(), |dir| {
        append_config(dir, "[limits]\nban_first_seconds = 1\nscan_source_max_misses = 5\n");
    });
    let stored = || {
        let metrics = daemon.metrics();
        metrics.lines().find_map(|l| l.strip_prefix("sipprov_limiter_bans_stored ")?.parse::<u64>().ok()).unwrap()
    };
    let mut tls = phone_tls(&daemon, PHONE, "127.0.9.9").unwrap();
    for n in 0..10u32 {
        let request = format!("GET /0015650b{n:04x}.cfg HTTP/1.1\r\nHost: localhost\r\n\r\n");
        let mut buffer = [0u8; 4096];
        if tls.write_all(request.as_bytes()).and_then(|()| tls.read(&mut buffer)).map_or(true, |read| read == 0) {
            break;
        }
    }
    assert_eq!(stored(), 1, "banned: {}", daemon.all_output());
    // The ban ends after a second; the refresh job (every 30 s) purges it.
    let deadline = Instant::now() + Duration::from_secs(45);
    while stored() != 0 {
        assert!(Instant::now() < deadline, "the expired ban was never purged");
        std::thread::sleep(Duration::from_millis(500));
    }
}
