//! The webhook registrar against a real HTTPS receiver: every change arrives signed, in order,
//! and a receiver that fails gets the change again until it accepts it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{CertificateParams, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};
use sipprov_credentials::{
    Account, AuditKind, AuditQuery, Credentials, DigestHa1, Keyring, Lifecycle, MemoryStore, Reissue, SystemClock,
};
use sipprov_registrar::webhook::{SIGNATURE_HEADER, TIMESTAMP_HEADER, signature};
use sipprov_registrar::{Outbox, Webhook, WebhookOptions};

const KEY: &str = "a-webhook-key-of-at-least-32-bytes!!";
const REALM: &str = "sip.example.net";

/// What the receiver saw: each request's body, and whether its signature verified.
#[derive(Default)]
struct Received {
    requests: Vec<(Value, bool)>,
    /// The statuses to answer with, in turn; 200 when used up.
    answers: Vec<u16>,
}

/// An HTTPS receiver on 127.0.0.1 with a certificate for `localhost`; returns its URL and the
/// PEM file of that certificate (the CA the webhook trusts).
fn receiver(dir: &std::path::Path, received: Arc<Mutex<Received>>) -> (String, std::path::PathBuf) {
    let key = KeyPair::generate().unwrap();
    let certificate = CertificateParams::new(vec!["localhost".to_owned()]).unwrap().self_signed(&key).unwrap();
    let ca = dir.join("receiver.pem");
    std::fs::write(&ca, certificate.pem()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![certificate.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://localhost:{}/hooks/sip", listener.local_addr().unwrap().port());
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { continue };
            tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let connection = rustls::ServerConnection::new(Arc::clone(&config)).unwrap();
            let mut tls = rustls::StreamOwned::new(connection, tcp);
            let Some((headers, body)) = read_request(&mut tls) else { continue };
            let header = |name: &str| {
                headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone()).unwrap_or_default()
            };
            let timestamp: u64 = header(TIMESTAMP_HEADER).parse().unwrap_or(0);
            let verified = header(SIGNATURE_HEADER) == signature(KEY.as_bytes(), timestamp, &body)
                && timestamp.abs_diff(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()) < 60
                && header("Content-Type") == "application/json";
            let mut received = received.lock().unwrap();
            received.requests.push((serde_json::from_str(&body).unwrap(), verified));
            let status = if received.answers.is_empty() { 200 } else { received.answers.remove(0) };
            let answer = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = tls.write_all(answer.as_bytes());
            let _ = tls.flush();
        }
    });
    (url, ca)
}

fn read_request(stream: &mut impl Read) -> Option<(Vec<(String, String)>, String)> {
    let mut reader = BufReader::new(stream);
    let mut headers = Vec::new();
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let length: usize = headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("content-length"))?.1.parse().ok()?;
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((headers, String::from_utf8(body).ok()?))
}

fn webhook(dir: &std::path::Path, url: String, ca: std::path::PathBuf) -> Webhook {
    let secret_file = dir.join("webhook.key");
    std::fs::write(&secret_file, format!("{KEY}\n")).unwrap();
    Webhook::new(WebhookOptions { name: "hook".into(), url, secret_file, ca_file: Some(ca) }).unwrap()
}

fn credentials() -> Arc<Credentials> {
    let keyring = Keyring::parse(&Keyring::generate_file(1, None).unwrap()).unwrap();
    let credentials =
        Credentials::new(Arc::new(MemoryStore::default()), Lifecycle::default(), Some(keyring), Arc::new(SystemClock));
    Arc::new(credentials.with_registrar_realm(REALM))
}

#[test]
fn changes_arrive_signed_in_order_and_a_failing_receiver_gets_them_again() {
    let dir = tempfile::tempdir().unwrap();
    let received = Arc::new(Mutex::new(Received::default()));
    let (url, ca) = receiver(dir.path(), Arc::clone(&received));
    let credentials = credentials();
    let outbox = Outbox::new(Arc::clone(&credentials), vec![Arc::new(webhook(dir.path(), url, ca))]);
    let mac = "00:15:65:00:00:01".parse().unwrap();

    let issued = credentials.enrol(mac, vec![Account::new(1, "1001", "sp-1001", "Desk")], Vec::new()).unwrap().unwrap();
    assert_eq!(outbox.drain().unwrap().pushed, 1);
    let ha1 = DigestHa1::compute("sp-1001", REALM, issued.sip_password(1).unwrap());
    let set = json!({"event": "set", "user": "sp-1001", "realm": REALM, "ha1_md5": ha1.md5, "ha1_sha256": ha1.sha256});
    assert_eq!(received.lock().unwrap().requests, [(set, true)], "signed, with both HA1 values");

    // The receiver fails twice: the rotation stays queued (audited once), then lands.
    received.lock().unwrap().answers = vec![503, 500];
    let rotated = credentials.rotate(&mac, Reissue::default(), "t").unwrap().unwrap();
    for _ in 0..2 {
        let drained = outbox.drain().unwrap();
        assert_eq!(drained.pushed, 0);
        assert!(drained.failed.unwrap().to_string().contains("answered 50"));
    }
    assert_eq!(credentials.registrar_pending(10).unwrap().len(), 1, "still queued");
    let failures = AuditQuery { kind: Some(AuditKind::RegistrarFailed), ..AuditQuery::default() };
    let failed = credentials.store().audit(&failures).unwrap();
    assert_eq!(failed.len(), 2, "a new reason is audited, a repeat is not: {failed:?}");
    assert!(failed[0].event.detail.contains("registrar=\"hook\""));
    assert_eq!(outbox.drain().unwrap().pushed, 1);
    let new_ha1 = DigestHa1::compute("sp-1001", REALM, rotated.sip_password(1).unwrap()).md5;
    let received_now = received.lock().unwrap().requests.clone();
    assert_eq!(received_now.len(), 4, "one accepted, two refused, the retry accepted");
    assert!(received_now[1..].iter().all(|(body, verified)| *verified && body["ha1_md5"] == new_ha1.as_str()));

    credentials.delete(&mac, "t").unwrap();
    outbox.drain().unwrap();
    let last = received.lock().unwrap().requests.last().cloned().unwrap();
    assert_eq!(last, (json!({"event": "delete", "user": "sp-1001", "realm": REALM}), true));
    assert_eq!(credentials.registrar_pending(10).unwrap(), []);

    // A webhook cannot list its users: a sync writes every HA1 kept and reports none unknown.
    let sync = outbox.sync(true, false).unwrap();
    assert_eq!(sync.registrars[0].unknown, None);
}

#[test]
fn a_webhook_refuses_plain_http_and_short_keys() {
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("short.key");
    std::fs::write(&secret_file, "short").unwrap();
    let options = |url: &str| WebhookOptions {
        name: "hook".into(),
        url: url.into(),
        secret_file: secret_file.clone(),
        ca_file: None,
    };
    let plain = Webhook::new(options("http://127.0.0.1/hook")).unwrap_err().to_string();
    assert!(plain.contains("not an https:// URL"), "{plain}");
    let short = Webhook::new(options("https://127.0.0.1/hook")).unwrap_err().to_string();
    assert!(short.contains("shorter than 32 bytes"), "{short}");
    let missing = WebhookOptions { secret_file: dir.path().join("absent"), ..options("https://127.0.0.1/hook") };
    assert!(Webhook::new(missing).unwrap_err().to_string().contains("cannot read the secret file"));
}
