//! NOTIFY transactions against scripted proxies on loopback: retransmission and Timer F over
//! UDP, provisional and foreign responses ignored, TCP and TLS framing, the fan-out's pacing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sipprov_resync::{Outcome, Proxy, Resyncer, Target, Timers, Transport, resync_event, tls_config};

/// Fast timers: T1 10 ms, so Timer F is 640 ms.
const FAST: Timers = Timers { t1: Duration::from_millis(10), t2: Duration::from_millis(40) };

fn resyncer(port: u16, transport: Transport, tls: Option<Arc<rustls::ClientConfig>>) -> Resyncer {
    Resyncer {
        proxy: Proxy { host: if tls.is_some() { "localhost" } else { "127.0.0.1" }.into(), port, transport, tls },
        from: "sip:provisioning@sip.example.net".into(),
        timers: FAST,
        per_second: 1000,
        concurrency: 4,
    }
}

fn target(n: u32) -> Target {
    Target {
        label: format!("phone-{n}"),
        aor: format!("sip:{}@sip.example.net", 1000 + n),
        event: resync_event(Some("yealink"), false),
    }
}

/// A response to `request` with `status`, its topmost Via (and so branch) copied, or another's.
fn answer(request: &str, status: &str, own_branch: bool) -> String {
    let via = request.lines().find(|line| line.starts_with("Via:")).unwrap();
    let via = if own_branch { via.to_owned() } else { via.replace("branch=z9hG4bK-", "branch=z9hG4bK-other") };
    format!("SIP/2.0 {status}\r\n{via}\r\nCSeq: 1 NOTIFY\r\nContent-Length: 0\r\n\r\n")
}

/// A UDP proxy answering each datagram (numbered from 0) as `script` says: `None` drops it.
fn udp_proxy(script: impl Fn(usize, &str) -> Vec<String> + Send + 'static) -> (u16, Arc<Mutex<Vec<String>>>) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    std::thread::spawn(move || {
        let mut buffer = [0u8; 65536];
        for n in 0.. {
            let Ok((length, from)) = socket.recv_from(&mut buffer) else { return };
            let request = String::from_utf8_lossy(&buffer[..length]).into_owned();
            record.lock().unwrap().push(request.clone());
            for reply in script(n, &request) {
                socket.send_to(reply.as_bytes(), from).unwrap();
            }
        }
    });
    (port, seen)
}

#[test]
fn udp_retransmits_until_answered_and_ignores_provisional_and_foreign_responses() {
    let (port, seen) = udp_proxy(|n, request| match n {
        0 | 1 => Vec::new(),
        _ => vec![
            answer(request, "100 Trying", true),
            answer(request, "500 Not Yours", false),
            answer(request, "200 OK", true),
        ],
    });
    let results = resyncer(port, Transport::Udp, None).resync(vec![target(1)]);
    assert_eq!(results[0].1, Outcome::Accepted(200));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3, "two retransmissions");
    assert!(seen.iter().all(|request| request == &seen[0]), "a retransmission is the same request");
    let request = &seen[0];
    assert!(request.starts_with("NOTIFY sip:1001@sip.example.net SIP/2.0\r\n"));
    assert!(request.contains(&format!("Route: <sip:127.0.0.1:{port};lr>\r\n")));
    assert!(request.contains("Event: check-sync;reboot=false\r\n"));
}

#[test]
fn udp_gives_up_at_timer_f_with_retransmissions_capped_at_t2() {
    let (port, seen) = udp_proxy(|_, _| Vec::new());
    let started = Instant::now();
    let results = resyncer(port, Transport::Udp, None).resync(vec![target(1)]);
    assert_eq!(results[0].1, Outcome::Timeout);
    assert!(started.elapsed() >= FAST.timer_f(), "not before Timer F");
    // 10, 20, 40, 40, ... ms: about 17 sends in 640 ms; far more would be a storm.
    let sends = seen.lock().unwrap().len();
    assert!((10..=20).contains(&sends), "{sends} sends");
}

#[test]
fn outcomes_name_what_the_proxy_or_phone_answered() {
    for (status, expected) in [
        ("489 Bad Event", Outcome::NotSupported(489)),
        ("481 Call/Transaction Does Not Exist", Outcome::NotSupported(481)),
        ("404 Not Found", Outcome::NotRegistered(404)),
        ("408 Request Timeout", Outcome::Timeout),
        ("403 Forbidden", Outcome::Refused(403, "Forbidden".into())),
    ] {
        let (port, _) = udp_proxy(move |_, request| vec![answer(request, status, true)]);
        assert_eq!(resyncer(port, Transport::Udp, None).resync(vec![target(1)])[0].1, expected);
    }
}

/// A TCP proxy that answers every request with `status`, the response written in small pieces.
fn tcp_proxy(status: &'static str, tls: Option<Arc<rustls::ServerConfig>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { continue };
            let tls = tls.clone();
            std::thread::spawn(move || {
                let mut stream: Box<dyn ReadWrite> = match tls {
                    Some(config) => {
                        let connection = rustls::ServerConnection::new(config).unwrap();
                        Box::new(rustls::StreamOwned::new(connection, tcp))
                    }
                    None => Box::new(tcp),
                };
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    let Ok(n) = stream.read(&mut buffer) else { return };
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buffer[..n]);
                }
                let request = String::from_utf8_lossy(&request).into_owned();
                let reply = format!("{}{}", answer(&request, "100 Trying", true), answer(&request, status, true));
                for piece in reply.as_bytes().chunks(7) {
                    stream.write_all(piece).unwrap();
                    stream.flush().unwrap();
                }
            });
        }
    });
    port
}

trait ReadWrite: Read + Write + Send {}
impl<T: Read + Write + Send> ReadWrite for T {}

#[test]
fn tcp_and_tls_read_responses_split_across_segments() {
    let port = tcp_proxy("489 Bad Event", None);
    assert_eq!(resyncer(port, Transport::Tcp, None).resync(vec![target(1)])[0].1, Outcome::NotSupported(489));

    let key = rcgen::KeyPair::generate().unwrap();
    let certificate = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap().self_signed(&key).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![certificate.der().clone()],
            rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    let port = tcp_proxy("200 OK", Some(Arc::new(server)));
    let client = Arc::new(tls_config(certificate.pem().as_bytes()).unwrap());
    assert_eq!(resyncer(port, Transport::Tls, Some(client)).resync(vec![target(1)])[0].1, Outcome::Accepted(200));

    // A proxy whose certificate another CA signed is not talked to.
    let other = rcgen::KeyPair::generate().unwrap();
    let stranger = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap().self_signed(&other).unwrap();
    let client = Arc::new(tls_config(stranger.pem().as_bytes()).unwrap());
    let refused = resyncer(port, Transport::Tls, Some(client)).resync(vec![target(1)]);
    assert!(matches!(&refused[0].1, Outcome::Failed(reason) if reason.contains("certificate")), "{refused:?}");

    let nobody = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let unreachable = resyncer(nobody, Transport::Tcp, None).resync(vec![target(1)]);
    assert!(matches!(&unreachable[0].1, Outcome::Failed(reason) if reason.contains("cannot connect")));
}

#[test]
fn a_fan_out_keeps_its_rate_and_reports_each_phone_in_order() {
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&arrivals);
    let (port, _) = udp_proxy(move |_, request| {
        record.lock().unwrap().push(Instant::now());
        let status = if request.contains("sip:1003@") { "480 Temporarily Unavailable" } else { "200 OK" };
        vec![answer(request, status, true)]
    });
    let resyncer = Resyncer { per_second: 50, concurrency: 3, ..resyncer(port, Transport::Udp, None) };
    let results = resyncer.resync((1..=10).map(target).collect());
    let labels: Vec<&str> = results.iter().map(|(target, _)| target.label.as_str()).collect();
    assert_eq!(labels, (1..=10).map(|n| format!("phone-{n}")).collect::<Vec<_>>());
    assert_eq!(results[2].1, Outcome::NotRegistered(480));
    assert!(results.iter().enumerate().all(|(i, (_, outcome))| i == 2 || *outcome == Outcome::Accepted(200)));
    let arrivals = arrivals.lock().unwrap();
    let spread = *arrivals.last().unwrap() - arrivals[0];
    assert!(spread >= Duration::from_millis(9 * 20 * 9 / 10), "10 starts at 50/s span 180 ms, not {spread:?}");
}
