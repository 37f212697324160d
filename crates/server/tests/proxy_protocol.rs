//! PROXY protocol v2 on the phone listener: a listed load balancer names the client, whose
//! address is then the one admitted, audited and banned; anyone else claiming to be a balancer
//! is closed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

mod support;

use std::net::IpAddr;

use sipprov_credentials::{AuditKind, AuditQuery, Store};
use sipprov_server::Timeouts;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SIGNATURE: [u8; 12] = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];

/// A v2 `PROXY` header for a TCP/IPv4 client (`LOCAL` when `client` is `None`).
fn header(client: Option<([u8; 4], u16)>) -> Vec<u8> {
    let mut bytes = SIGNATURE.to_vec();
    match client {
        Some((ip, port)) => {
            bytes.extend([0x21, 0x11, 0x00, 0x0c]);
            bytes.extend(ip);
            bytes.extend([127, 0, 0, 1]);
            bytes.extend(port.to_be_bytes());
            bytes.extend(8443u16.to_be_bytes());
        }
        None => bytes.extend([0x20, 0x00, 0x00, 0x00]),
    }
    bytes
}

async fn fetch(harness: &Harness, source: &str, prefix: &[u8], phone: &Phone) -> std::io::Result<String> {
    let source: IpAddr = source.parse().unwrap();
    let mut tls = tls_connect_after(harness.addr, &harness.server_ca, source, prefix, Some(phone)).await?;
    let request = format!("GET /{OWN}.cfg HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    tls.read_to_end(&mut response).await?;
    Ok(String::from_utf8_lossy(&response).into_owned())
}

fn delivered_peers(harness: &Harness) -> Vec<String> {
    let query = AuditQuery { kind: Some(AuditKind::Delivered), limit: 100, ..AuditQuery::default() };
    harness.store.audit(&query).unwrap().into_iter().map(|e| e.event.detail).collect()
}

#[tokio::test]
async fn a_listed_balancer_names_the_client_that_is_admitted_and_audited() {
    let vendor_ca = ca("Yealink CA");
    let harness = Harness::start(yealink_trust(&vendor_ca), Timeouts::default()).await;
    harness.enrol(OWN);
    let phone = yealink_phone(&vendor_ca, OWN);
    let served = fetch(&harness, "127.0.77.1", &header(Some(([198, 51, 100, 23], 5555))), &phone).await.unwrap();
    assert!(served.contains("account.1.password = "), "{served}");
    let peers = delivered_peers(&harness);
    assert!(peers[0].contains("peer=\"198.51.100.23\""), "the client's address, not the balancer's: {peers:?}");
    // The balancer's own health check (LOCAL) is served as the balancer.
    let local = fetch(&harness, "127.0.77.1", &header(None), &phone).await.unwrap();
    assert!(local.starts_with("HTTP/1.1 200"), "{local}");
    assert!(delivered_peers(&harness)[1].contains("peer=\"127.0.77.1\""));
}

#[tokio::test]
async fn a_proxy_header_from_anyone_else_closes_the_connection() {
    let vendor_ca = ca("Yealink CA");
    let harness = Harness::start(yealink_trust(&vendor_ca), Timeouts::default()).await;
    harness.enrol(OWN);
    let phone = yealink_phone(&vendor_ca, OWN);
    let spoofed = fetch(&harness, "127.0.0.5", &header(Some(([198, 51, 100, 23], 5555))), &phone).await;
    assert!(spoofed.is_err() || spoofed.as_ref().is_ok_and(String::is_empty), "{spoofed:?}");
    assert!(delivered_peers(&harness).is_empty(), "nothing was delivered");
    // A listed balancer that sends no valid header is closed too.
    let garbage = fetch(&harness, "127.0.77.2", b"\r\n\r\n\0\r\nQUIT\nxxxxxxxx", &phone).await;
    assert!(garbage.is_err() || garbage.as_ref().is_ok_and(String::is_empty), "{garbage:?}");
    // The phone connecting itself is served.
    let direct = fetch(&harness, "127.0.0.5", &[], &phone).await.unwrap();
    assert!(direct.contains("account.1.password = "), "{direct}");
}
