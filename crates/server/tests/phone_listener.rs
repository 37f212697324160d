//! The phone listener in-process, with a rustls client: authorization by certificate, the
//! uniform 404, anchor-bound rules and OUIs, and connection deadlines.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

mod support;

use std::time::Duration;

use rcgen::DnType;
use sipprov_credentials::{Account, AuditKind, AuditQuery, DeviceProfile, Store};
use sipprov_fleet::{ImageInfo, Rollout, Scope, Target};
use sipprov_identity::{IdentityRule, TrustStore, VendorTrust};
use sipprov_server::Timeouts;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn a_phone_gets_only_its_own_file_and_everything_else_is_one_404() {
    let vendor_ca = ca("Yealink-like CA");
    let harness = Harness::start(yealink_trust(&vendor_ca), Timeouts::default()).await;
    harness.enrol(OWN);
    harness.enrol(OTHER);
    let phone = yealink_phone(&vendor_ca, OWN);

    let unknown = harness.get(&phone, "/nothing-here").await;
    assert!(unknown.starts_with("HTTP/1.1 404 Not Found\n"), "{unknown}");
    assert!(unknown.contains("cache-control: no-store"), "{unknown}");
    for (method, path) in [
        ("GET", format!("/{OTHER}.cfg")),
        ("GET", "/".to_owned()),
        ("GET", format!("/{}.cfg", OTHER.to_uppercase())),
        ("POST", format!("/{OWN}.cfg")),
        ("PUT", format!("/{OWN}.cfg")),
        ("GET", format!("/{OWN}.cfg/")),
        ("GET", format!("/./{OWN}.cfg")),
        ("GET", "/y000000000000.cfg".to_owned()),
    ] {
        let response = harness.request(Some(&phone), method, &path).await.unwrap();
        assert_eq!(response, unknown, "{method} {path}");
    }

    let own = harness.get(&phone, &format!("/{OWN}.cfg")).await;
    assert!(own.starts_with("HTTP/1.1 200 OK\n"), "{own}");
    assert!(own.contains("cache-control: no-store"), "{own}");
    assert!(own.contains("account.1.password = "), "{own}");
    // Spelling variants of the phone's own MAC are its own file too.
    let upper = harness.get(&phone, &format!("/{}.CFG", OWN.to_uppercase())).await;
    assert!(upper.starts_with("HTTP/1.1 200 OK\n"), "{upper}");
}

#[tokio::test]
async fn devices_not_enrolled_get_the_same_404_as_unknown_paths() {
    let vendor_ca = ca("Yealink-like CA");
    let harness = Harness::start(yealink_trust(&vendor_ca), Timeouts::default()).await;
    let phone = yealink_phone(&vendor_ca, OWN);
    let unknown = harness.get(&phone, "/nothing-here").await;
    assert_eq!(harness.get(&phone, &format!("/{OWN}.cfg")).await, unknown);
}

#[tokio::test]
async fn an_anchor_never_vouches_outside_its_ouis_or_its_layout() {
    let vendor_ca = ca("Yealink-like CA");
    let harness = Harness::start(yealink_trust(&vendor_ca), Timeouts::default()).await;
    let polycom_mac = "0004f28b54f4";
    harness.enrol(polycom_mac);
    harness.enrol(OWN);

    let outside_ouis = yealink_phone(&vendor_ca, polycom_mac);
    let unknown = harness.get(&outside_ouis, "/nothing-here").await;
    assert_eq!(harness.get(&outside_ouis, &format!("/{polycom_mac}.cfg")).await, unknown);

    // A CN = MAC certificate under the Yealink-bound CA: not the layout the anchor is bound to.
    let wrong_layout = phone(&vendor_ca, &[(DnType::CommonName, OWN)]);
    assert_eq!(harness.get(&wrong_layout, &format!("/{OWN}.cfg")).await, unknown);

    // The enrolled phone's password was not consumed by either attempt.
    let own = harness.get(&yealink_phone(&vendor_ca, OWN), &format!("/{OWN}.cfg")).await;
    assert!(own.contains("account.1.password = "), "{own}");
}

#[tokio::test]
async fn no_certificate_or_an_untrusted_one_gets_no_http_at_all() {
    let vendor_ca = ca("Yealink-like CA");
    let harness = Harness::start(yealink_trust(&vendor_ca), Timeouts::default()).await;
    harness.enrol(OWN);
    assert!(harness.request(None, "GET", &format!("/{OWN}.cfg")).await.is_err());
    let rogue = yealink_phone(&ca("Rogue CA"), OWN);
    assert!(harness.request(Some(&rogue), "GET", &format!("/{OWN}.cfg")).await.is_err());
}

#[tokio::test]
async fn silent_and_half_finished_handshakes_are_closed_at_the_deadline() {
    let vendor_ca = ca("Yealink-like CA");
    let timeouts = Timeouts {
        handshake: Duration::from_millis(300),
        request_header: Duration::from_secs(10),
        ..Timeouts::default()
    };
    let harness = Harness::start(yealink_trust(&vendor_ca), timeouts).await;

    let mut silent = TcpStream::connect(harness.addr).await.unwrap();
    assert!(closed_within(&mut silent, Duration::from_secs(5)).await, "silent connection left open");

    let mut half_hello = TcpStream::connect(harness.addr).await.unwrap();
    // A TLS record header announcing a 512-byte handshake message, then only part of it.
    half_hello.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]).await.unwrap();
    assert!(closed_within(&mut half_hello, Duration::from_secs(5)).await, "half ClientHello left open");
}

#[tokio::test]
async fn a_dribbled_request_head_is_closed_at_the_header_deadline() {
    let vendor_ca = ca("Yealink-like CA");
    let timeouts = Timeouts {
        handshake: Duration::from_secs(10),
        request_header: Duration::from_millis(300),
        ..Timeouts::default()
    };
    let harness = Harness::start(yealink_trust(&vendor_ca), timeouts).await;
    let phone = yealink_phone(&vendor_ca, OWN);
    let mut tls = harness.tls(Some(&phone)).await.unwrap();
    tls.write_all(b"GET /001565000062.cfg HTTP/1.1\r\nHost: local").await.unwrap();
    assert!(closed_within(&mut tls, Duration::from_secs(5)).await, "dribbling connection left open");
}

#[tokio::test]
async fn a_valid_certificate_for_an_unknown_mac_becomes_pending_and_gets_the_404() {
    let vendor_ca = ca("Yealink-like CA");
    let harness = Harness::start(yealink_trust(&vendor_ca), Timeouts::default()).await;
    let phone = yealink_phone(&vendor_ca, OWN);
    let unknown = harness.get(&phone, "/nothing-here").await;
    assert_eq!(harness.get(&phone, &format!("/{OWN}.cfg")).await, unknown);
    let pending = harness.store.pending(&sipprov_credentials::PendingQuery::default()).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!((pending[0].mac.to_string(), pending[0].vendor.as_str()), (OWN.to_owned(), "yealink"));
}

#[tokio::test]
async fn an_audit_failure_answers_503_and_the_password_stays_deliverable() {
    let vendor_ca = ca("Yealink-like CA");
    let harness = Harness::start(yealink_trust(&vendor_ca), Timeouts::default()).await;
    harness.enrol(OWN);
    let phone = yealink_phone(&vendor_ca, OWN);
    harness.store.fail_audit_writes(true);
    let failed = harness.get(&phone, &format!("/{OWN}.cfg")).await;
    assert!(failed.starts_with("HTTP/1.1 503 Service Unavailable\n"), "{failed}");
    assert!(!failed.contains("password"), "{failed}");
    harness.store.fail_audit_writes(false);
    let served = harness.get(&phone, &format!("/{OWN}.cfg")).await;
    assert!(served.contains("account.1.password = "), "{served}");
}

#[tokio::test]
async fn a_second_key_for_a_pinned_phone_gets_the_404_and_raises_an_alert() {
    let vendor_ca = ca("Yealink-like CA");
    let harness = Harness::start(yealink_trust(&vendor_ca), Timeouts::default()).await;
    harness.enrol(OWN);
    let original = yealink_phone(&vendor_ca, OWN);
    let clone = yealink_phone(&vendor_ca, OWN); // same MAC, another key: a forged certificate
    let unknown = harness.get(&original, "/nothing-here").await;
    assert!(harness.get(&original, &format!("/{OWN}.cfg")).await.contains("account.1.password = "));
    assert_eq!(harness.get(&clone, &format!("/{OWN}.cfg")).await, unknown);
    let alerts = harness
        .store
        .audit(&sipprov_credentials::AuditQuery {
            kind: Some(sipprov_credentials::AuditKind::KeyMismatch),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(alerts.len(), 1);
}

#[tokio::test]
async fn only_registered_firmware_is_streamed_and_the_target_reaches_the_config() {
    let vendor_ca = ca("Yealink CA");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("yealink")).unwrap();
    let image: Vec<u8> = (0..300_000u32).map(|n| (n % 251) as u8).collect();
    std::fs::write(dir.path().join("yealink").join("T54W-96.86.0.100.rom"), &image).unwrap();
    let harness = Harness::start_with_firmware(yealink_trust(&vendor_ca), dir.path().to_owned()).await;
    let phone = yealink_phone(&vendor_ca, OWN);
    let uniform = harness.get(&phone, "/nothing-here").await;
    assert_eq!(harness.get(&phone, "/T54W-96.86.0.100.rom").await, uniform, "a file on disk is not registered");

    let fleet = &harness.admin_state.fleet;
    let mut upload = fleet.upload().unwrap();
    upload.write(&image).unwrap();
    let info = ImageInfo {
        vendor: "yealink".into(),
        models: vec!["T54W".into()],
        version: "96.86.0.100".into(),
        name: "T54W-96.86.0.100.rom".into(),
    };
    let (registered, _) = fleet.register(upload, info, "test").unwrap();
    let sha = registered.sha256.clone();
    let by_hash = format!("/firmware/{sha}/T54W-96.86.0.100.rom");
    for path in [by_hash.as_str()] {
        let mut tls = harness.tls(Some(&phone)).await.unwrap();
        tls.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut response = Vec::new();
        tls.read_to_end(&mut response).await.unwrap();
        let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&response[..split]).to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 200"), "{path}: {head}");
        assert!(head.contains("content-length: 300000"), "{head}");
        assert_eq!(&response[split + 4..], &image[..], "{path}: the image, byte for byte");
    }
    let unregistered = format!("/firmware/{}/T54W-96.86.0.100.rom", "0".repeat(64));
    // By its vendor's own name an image is not served: only through the URL a config names.
    for path in [
        unregistered.as_str(),
        "/T54W-96.86.0.100.rom",
        "/missing.rom",
        "/..%2Fsecret.rom",
        "/.hidden.rom",
        "/firmware/../x.rom",
    ] {
        assert_eq!(harness.get(&phone, path).await, uniform, "{path}");
    }
    // Not without a device identity: the handshake itself needs a device certificate.
    assert!(harness.request(None, "GET", &by_hash).await.is_err());

    let target = Target {
        vendor: "yealink".into(),
        model: "T54W".into(),
        scope: Scope::Everywhere,
        version: "96.86.0.100".into(),
        rollout: Rollout::Everyone,
        set_at: 0,
    };
    fleet.set_target(target, "test").unwrap();
    let profile = DeviceProfile { model: Some("T54W".into()), ..DeviceProfile::default() };
    let account = Account::new(1, "1001", "sp-1001", "Desk");
    harness.credentials.enrol_with_profile(OWN.parse().unwrap(), vec![account], profile, Vec::new(), "test").unwrap();
    let config = harness.get(&phone, &format!("/{OWN}.cfg")).await;
    let url = format!("static.firmware.url = https://prov.example.net/firmware/{sha}/T54W-96.86.0.100.rom");
    assert!(config.contains(&url), "{config}");

    std::fs::write(dir.path().join("sha256").join(&sha), b"tampered").unwrap();
    assert_eq!(harness.get(&phone, &by_hash).await, uniform, "an altered image is not served");
    let alerts =
        harness.store.audit(&AuditQuery { kind: Some(AuditKind::FirmwareAltered), ..AuditQuery::default() }).unwrap();
    assert_eq!(alerts.len(), 1, "and raises an alert");
}

/// Polycom's per-device master file names its firmware target and carries no secret: fetching
/// it delivers nothing, so the grace window starts only with the config itself.
#[tokio::test]
async fn a_polycom_master_file_is_served_without_delivering_anything() {
    let vendor_ca = ca("Private CA");
    let anchor = VendorTrust::from_bundle("ca.pem", vendor_ca.pem().as_bytes(), IdentityRule::CnMac).unwrap();
    let harness = Harness::start(TrustStore::new(vec![anchor]).unwrap(), Timeouts::default()).await;
    let mac = "0004f28b54f4";
    harness.enrol(mac);
    let phone = phone(&vendor_ca, &[(DnType::CommonName, mac)]);
    let master = harness.get(&phone, &format!("/{mac}.cfg")).await;
    assert!(master.starts_with("HTTP/1.1 200"), "{master}");
    assert!(master.contains("APP_FILE_PATH=\"sip.ld\"") && !master.contains("password"), "{master}");
    let device = harness.store.device(&mac.parse().unwrap()).unwrap().unwrap();
    assert_eq!(device.state.name(), "issued", "the master file delivered nothing");
    assert_eq!(device.pinned_spki, None);
    let config = harness.get(&phone, &format!("/{mac}-sipprov.cfg")).await;
    assert!(config.contains("reg.1.auth.password="), "{config}");
    let device = harness.store.device(&mac.parse().unwrap()).unwrap().unwrap();
    assert_eq!(device.state.name(), "delivered", "the config did");
}

/// Threat 6: identity never comes from a header, whatever a proxy might have set.
#[tokio::test]
async fn identity_headers_from_the_client_are_ignored() {
    let vendor_ca = ca("Yealink CA");
    let harness = Harness::start(yealink_trust(&vendor_ca), Timeouts::default()).await;
    harness.enrol(OWN);
    harness.enrol(OTHER);
    let phone = yealink_phone(&vendor_ca, OWN);
    let uniform = harness.get(&phone, "/nothing-here").await;
    let mut tls = harness.tls(Some(&phone)).await.unwrap();
    let request = format!(
        "GET /{OTHER}.cfg HTTP/1.1\r\nHost: localhost\r\nX-SSL-Client-Cert: CN={OTHER}\r\nX-Client-MAC: {OTHER}\r\n\
         X-Forwarded-For: 10.0.0.1\r\nSSL_CLIENT_S_DN_CN: {OTHER}\r\nConnection: close\r\n\r\n"
    );
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tls.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8(response).unwrap();
    let response: String = response.lines().filter(|l| !l.starts_with("date:")).collect::<Vec<_>>().join("\n");
    assert_eq!(response, uniform);
}

/// A connection ends as TLS says it must: the whole response, a close_notify, then the TCP close
/// (the server leaves its FIN to the close rather than shutting down first).
#[tokio::test]
async fn a_finished_connection_sends_close_notify_then_closes() {
    let vendor_ca = ca("Yealink CA");
    let harness = Harness::start(yealink_trust(&vendor_ca), Timeouts::default()).await;
    harness.enrol(OWN);
    let phone = yealink_phone(&vendor_ca, OWN);
    let mut tls = harness.tls(Some(&phone)).await.unwrap();
    tls.write_all(format!("GET /{OWN}.cfg HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut response = Vec::new();
    // tokio-rustls reports a TCP close without a close_notify as an error: a truncation.
    tls.read_to_end(&mut response).await.expect("a close_notify before the end of the stream");
    let response = String::from_utf8(response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    let length: usize = response
        .lines()
        .find_map(|line| line.strip_prefix("content-length: "))
        .and_then(|length| length.trim().parse().ok())
        .unwrap();
    let body = &response[response.find("\r\n\r\n").unwrap() + 4..];
    assert_eq!(body.len(), length, "the whole body arrived");
    let (tcp, _) = tls.get_mut();
    assert_eq!(tcp.read(&mut [0; 1]).await.unwrap(), 0, "and the server closed the connection");
}

/// What the server writes is held until it waits for the client (`phone_socket.rs`): the
/// answers still come without the client doing anything more, in each case where the client
/// waits for them: TLS 1.2's last flight, a kept-alive connection's answer before its next
/// request, and the alert refusing a certificate.
#[tokio::test]
async fn every_answer_a_client_waits_for_arrives_without_a_close() {
    let vendor_ca = ca("Yealink CA");
    let harness = Harness::start(yealink_trust(&vendor_ca), Timeouts::default()).await;
    harness.enrol(OWN);
    let phone = yealink_phone(&vendor_ca, OWN);
    let bound = Duration::from_secs(10);

    // TLS 1.2: the client needs the server's Finished before it may send its request.
    let mut tls12 = tokio::time::timeout(bound, harness.tls12(&phone)).await.expect("the handshake finishes").unwrap();
    assert_eq!(tls12.get_ref().1.protocol_version(), Some(rustls::ProtocolVersion::TLSv1_2));
    let head = tokio::time::timeout(bound, answer(&mut tls12, &format!("/{OWN}.cfg"))).await.expect("an answer");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");

    // TLS 1.3, kept alive: each answer arrives while the connection stays open for the next.
    let mut tls13 = harness.tls(Some(&phone)).await.unwrap();
    assert_eq!(tls13.get_ref().1.protocol_version(), Some(rustls::ProtocolVersion::TLSv1_3));
    for path in [format!("/{OWN}.cfg"), "/nothing-here".to_owned()] {
        let head = tokio::time::timeout(bound, answer(&mut tls13, &path)).await.expect("an answer");
        assert!(head.starts_with("HTTP/1.1 "), "{path}: {head}");
    }

    // A certificate from an unknown CA: the client hears why, not a bare close.
    let rogue = yealink_phone(&ca("Rogue CA"), OWN);
    let mut refused = harness.tls(Some(&rogue)).await.unwrap();
    refused.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let error = tokio::time::timeout(bound, refused.read(&mut [0; 64])).await.expect("an answer").unwrap_err();
    assert!(error.to_string().contains("alert"), "{error}");
}

/// Sends a kept-alive GET of `path` and reads its answer's head and body (by its length).
async fn answer(tls: &mut tokio_rustls::client::TlsStream<TcpStream>, path: &str) -> String {
    tls.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes()).await.unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text
                .lines()
                .find_map(|line| line.strip_prefix("content-length: "))
                .and_then(|length| length.trim().parse().ok())
                .unwrap_or(0);
            if received.len() >= end + 4 + length {
                return text;
            }
        }
        let read = tls.read(&mut buf).await.unwrap();
        assert!(read > 0, "the connection stays open");
        received.extend_from_slice(&buf[..read]);
    }
}
