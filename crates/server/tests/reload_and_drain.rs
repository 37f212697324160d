//! A running server takes new trust anchors without dropping connections, and a shutdown lets
//! the request in progress finish.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

mod support;

use std::sync::Arc;
use std::time::Duration;

use sipprov_identity::{IdentityRule, Oui, TrustStore, VendorTrust};
use sipprov_server::Timeouts;
use sipprov_template::Renderer;
use support::{Harness, OTHER, OWN, ca, yealink_phone, yealink_trust};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn yealink_anchor(issuer: &support::Issuer, source: &str) -> VendorTrust {
    VendorTrust::from_bundle(source, issuer.pem().as_bytes(), IdentityRule::Yealink)
        .unwrap()
        .with_allowed_ouis(vec!["00:15:65".parse::<Oui>().unwrap()])
}

#[tokio::test]
async fn a_reload_adds_an_anchor_and_open_connections_keep_working() {
    let (old_ca, new_ca) = (ca("Yealink CA 1"), ca("Yealink CA 2"));
    let harness = Harness::start(yealink_trust(&old_ca), Timeouts::default()).await;
    harness.enrol(OWN);
    harness.enrol(OTHER);
    let old_phone = yealink_phone(&old_ca, OWN);
    let new_phone = yealink_phone(&new_ca, OTHER);
    assert!(harness.request(Some(&new_phone), "GET", &format!("/{OTHER}.cfg")).await.is_err(), "unknown CA");

    // A keep-alive connection made under the old anchors.
    let mut open = harness.tls(Some(&old_phone)).await.unwrap();
    let request = format!("GET /{OWN}.cfg HTTP/1.1\r\nHost: localhost\r\n\r\n");
    open.write_all(request.as_bytes()).await.unwrap();
    assert!(read_response(&mut open).await.starts_with("HTTP/1.1 200"));

    let both = TrustStore::new(vec![yealink_anchor(&old_ca, "old.pem"), yealink_anchor(&new_ca, "new.pem")]).unwrap();
    harness.reloader.reload(both, Arc::new(Renderer::shipped().unwrap())).unwrap();

    assert!(harness.get(&new_phone, &format!("/{OTHER}.cfg")).await.starts_with("HTTP/1.1 200"));
    open.write_all(request.as_bytes()).await.unwrap();
    assert!(read_response(&mut open).await.starts_with("HTTP/1.1 200"), "the old connection still serves");

    // Reloading without the old anchor: new handshakes under it fail at once.
    let only_new = TrustStore::new(vec![yealink_anchor(&new_ca, "new.pem")]).unwrap();
    harness.reloader.reload(only_new, Arc::new(Renderer::shipped().unwrap())).unwrap();
    assert!(harness.request(Some(&old_phone), "GET", &format!("/{OWN}.cfg")).await.is_err());
}

#[tokio::test]
async fn shutdown_finishes_the_request_in_progress_and_accepts_no_more() {
    let vendor_ca = ca("Yealink CA");
    let mut harness = Harness::start(yealink_trust(&vendor_ca), Timeouts::default()).await;
    harness.enrol(OWN);
    let phone = yealink_phone(&vendor_ca, OWN);
    let mut in_flight = harness.tls(Some(&phone)).await.unwrap();
    in_flight.write_all(format!("GET /{OWN}.cfg HTTP/1.1\r\nHost: localhost\r\n").as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let drained = harness.shut_down();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(tokio::net::TcpStream::connect(harness.addr).await.is_err(), "no new connections after shutdown");
    assert!(!drained.is_finished(), "a request is still in progress");

    in_flight.write_all(b"Connection: close\r\n\r\n").await.unwrap();
    let response = read_response(&mut in_flight).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("account.1.password = "), "the config, with its password");
    tokio::time::timeout(Duration::from_secs(5), drained).await.expect("drained once the request finished").unwrap();
}

/// Reads one response with a Content-Length body.
async fn read_response(stream: &mut (impl AsyncReadExt + Unpin)) -> String {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|line| line.to_ascii_lowercase().strip_prefix("content-length: ").map(str::to_owned))
                .and_then(|value| value.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= length {
                return text;
            }
        }
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer)).await.unwrap().unwrap();
        if read == 0 {
            return String::from_utf8_lossy(&received).into_owned();
        }
        received.extend_from_slice(&buffer[..read]);
    }
}

#[tokio::test]
async fn a_reload_with_a_crl_refuses_the_revoked_phone_at_tls() {
    use rcgen::{
        CertificateParams, CertificateRevocationListParams, DnType, KeyIdMethod, KeyPair, RevokedCertParams,
        SerialNumber, date_time_ymd,
    };
    use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

    let vendor_ca = ca("CN=MAC device CA");
    let phone = |mac: &str, serial: u8| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, mac);
        params.serial_number = Some(SerialNumber::from(vec![serial]));
        let cert = params.signed_by(&key, &vendor_ca).unwrap();
        support::Phone {
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        }
    };
    let anchor = || VendorTrust::from_bundle("ca.pem", vendor_ca.pem().as_bytes(), IdentityRule::CnMac).unwrap();
    let harness = Harness::start(TrustStore::new(vec![anchor()]).unwrap(), Timeouts::default()).await;
    harness.enrol(OWN);
    harness.enrol(OTHER);
    let (stolen, kept) = (phone(OWN, 7), phone(OTHER, 8));
    let mut kept_alive = harness.tls(Some(&stolen)).await.unwrap();
    let request = format!("GET /{OWN}.cfg HTTP/1.1\r\nHost: localhost\r\n\r\n");
    kept_alive.write_all(request.as_bytes()).await.unwrap();
    assert!(read_response(&mut kept_alive).await.starts_with("HTTP/1.1 200"));

    let crl = CertificateRevocationListParams {
        this_update: date_time_ymd(2026, 1, 1),
        next_update: date_time_ymd(2036, 1, 1),
        crl_number: SerialNumber::from(vec![1]),
        issuing_distribution_point: None,
        revoked_certs: vec![RevokedCertParams {
            serial_number: SerialNumber::from(vec![7]),
            revocation_time: date_time_ymd(2026, 6, 1),
            reason_code: None,
            invalidity_date: None,
        }],
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&vendor_ca)
    .unwrap();
    let revoking = anchor().with_crls("ca.crl", crl.der()).unwrap();
    harness.reloader.reload(TrustStore::new(vec![revoking]).unwrap(), Arc::new(Renderer::shipped().unwrap())).unwrap();
    assert!(harness.request(Some(&stolen), "GET", &format!("/{OWN}.cfg")).await.is_err(), "refused at TLS");
    kept_alive.write_all(request.as_bytes()).await.unwrap();
    let after = read_response(&mut kept_alive).await;
    assert!(after.starts_with("HTTP/1.1 404"), "a kept-alive connection is held to the new CRL too: {after}");
    assert!(harness.get(&kept, &format!("/{OTHER}.cfg")).await.starts_with("HTTP/1.1 200"));

    // An expired certificate is refused at TLS too; the metrics say why each was.
    let expired = {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, OTHER);
        (params.not_before, params.not_after) = (date_time_ymd(2019, 1, 1), date_time_ymd(2020, 1, 1));
        let cert = params.signed_by(&key, &vendor_ca).unwrap();
        support::Phone {
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        }
    };
    assert!(harness.request(Some(&expired), "GET", &format!("/{OTHER}.cfg")).await.is_err(), "refused at TLS");
    let auditor = harness.credentials.create_api_token("test", sipprov_credentials::Role::Auditor, "test").unwrap();
    let (_, metrics) = harness.admin(Some(auditor.expose()), "GET", "/metrics", "").await;
    for (reason, count) in [("revoked", 1), ("expired", 1), ("untrusted", 0), ("no_certificate", 0)] {
        let line = format!("sipprov_tls_handshake_failures_total{{reason=\"{reason}\"}} {count}\n");
        assert!(metrics.contains(&line), "{line} in {metrics}");
    }
}
