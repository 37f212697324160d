//! The hostile-input suite: the real daemon, driven from outside as an attacker drives it, one
//! test per threat of `docs/threats.md` that a client can reach. Requests are written byte for
//! byte over TLS (or not even that), so nothing a client library would tidy up is tidied.
//!
//! Phones beyond the demo's three get certificates from a CA of the test's own ([`PhoneCa`]), so
//! every kind of device the server must not tell apart can be played: enrolled, another
//! device, unknown, disabled, dormant and pinned to another key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::phone_ca::PhoneCa;
use support::{Daemon, connect_from, have_tools, json_of, tls_as};

/// The phone asking: enrolled, and served its own file.
const ASKER: &str = "000b82000001";
/// Another enrolled device.
const OTHER: &str = "000b82000002";
/// A device in no inventory.
const UNKNOWN: &str = "000b82000003";
/// An enrolled device the operator disabled.
const DISABLED: &str = "000b82000004";
/// An enrolled device pinned to its first key, asking with another.
const PINNED: &str = "000b82000005";
/// An enrolled device whose secrets were never fetched: dormant once `dormant_days` pass.
const NEVER_FETCHED: &str = "000b82000006";

/// A daemon with the test's CA, `ASKER` and `OTHER` enrolled, and the asking phone's
/// certificate and key.
fn start(dir: &Path, edit: impl FnOnce(&Path)) -> (Daemon, PhoneCa, (PathBuf, PathBuf)) {
    let mut ca = None;
    let daemon = Daemon::start_with(dir, |dir| {
        ca = Some(PhoneCa::install(dir));
        edit(dir);
    });
    for (mac, user) in [(ASKER, "2001"), (OTHER, "2002")] {
        let (status, body) =
            daemon.admin("POST", "/v1/devices", &json!({"mac": mac, "user_name": user, "vendor": "grandstream"}));
        assert_eq!(status, 201, "{body}");
    }
    let ca = ca.unwrap();
    let asker = ca.phone(ASKER, "asker");
    (daemon, ca, asker)
}

/// A connection as the asking phone, and on it the two answers every comparison needs, `Date`
/// removed: the uniform 404 (for an unknown path) and the phone's own file (its first delivery).
fn asking(daemon: &Daemon, asker: &(PathBuf, PathBuf)) -> (Tls, String, String) {
    let mut connection = connect(daemon, asker);
    let not_found = without_date(&exchange(&mut connection, &get("/nothing-here.cfg")).unwrap());
    assert!(not_found.starts_with("HTTP/1.1 404 Not Found\r\n"), "{not_found}");
    assert!(not_found.ends_with("\r\n\r\nNot Found\n"), "{not_found}");
    let own = without_date(&exchange(&mut connection, &get(&format!("/cfg{ASKER}.xml"))).unwrap());
    assert!(own.starts_with("HTTP/1.1 200 OK\r\n") && own.contains("2001"), "{own}");
    (connection, not_found, own)
}

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A connection as the phone whose certificate is `phone`.
fn connect(daemon: &Daemon, phone: &(PathBuf, PathBuf)) -> Tls {
    tls_as(daemon, &phone.0, &phone.1, "127.0.0.1", &[], &[]).unwrap()
}

/// Writes `request` and reads one response: its head and as much body as it declares. `None`
/// when the server closed (or reset) the connection before a whole response.
fn exchange(stream: &mut (impl Read + Write), request: &[u8]) -> Option<Vec<u8>> {
    stream.write_all(request).ok()?;
    stream.flush().ok()?;
    read_response(stream)
}

/// One response from `stream`: see [`exchange`].
fn read_response(stream: &mut impl Read) -> Option<Vec<u8>> {
    let mut response = Vec::new();
    let mut byte = [0u8; 1];
    while !response.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => response.push(byte[0]),
            _ => return None,
        }
    }
    let head = String::from_utf8_lossy(&response).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .map_or(0, |value| value.trim().parse().unwrap());
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).ok()?;
    response.extend(body);
    Some(response)
}

/// A response without its `Date` header, the one part that may differ between two answers.
fn without_date(response: &[u8]) -> String {
    let text = String::from_utf8_lossy(response);
    text.split("\r\n").filter(|line| !line.to_ascii_lowercase().starts_with("date:")).collect::<Vec<_>>().join("\r\n")
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: Grandstream HT812 1.0.55.2\r\n\r\n").into_bytes()
}

fn status_of(response: &[u8]) -> u16 {
    String::from_utf8_lossy(response).split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Threat 10: unknown paths, another device's file, a device in no inventory, a disabled one,
/// a dormant one and one asking with another key all get byte-identical answers.
#[test]
fn threat_10_every_refusal_is_the_same_bytes_whatever_the_reason() {
    let Some(fifteen_days_on) = support::faketime("+15d", None) else { return };
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (daemon, ca, asker) = start(dir.path(), |_| {});
    for (mac, user) in [(DISABLED, "2004"), (PINNED, "2005"), (NEVER_FETCHED, "2006")] {
        let (status, body) =
            daemon.admin("POST", "/v1/devices", &json!({"mac": mac, "user_name": user, "vendor": "grandstream"}));
        assert_eq!(status, 201, "{body}");
    }
    let (mut connection, baseline, _) = asking(&daemon, &asker);
    let mut refusals: Vec<(String, Vec<u8>)> = Vec::new();
    for path in [format!("/cfg{OTHER}.xml"), format!("/cfg{UNKNOWN}.xml"), format!("/cfg{DISABLED}.xml")] {
        refusals.push((format!("the asker for {path}"), exchange(&mut connection, &get(&path)).unwrap()));
    }

    let (status, body) = daemon.admin("POST", &format!("/v1/devices/{DISABLED}/disable"), &json!({}));
    assert_eq!(status, 200, "{body}");
    let pinned_first = ca.phone(PINNED, "pinned-first");
    let first = exchange(&mut connect(&daemon, &pinned_first), &get(&format!("/cfg{PINNED}.xml"))).unwrap();
    assert_eq!(status_of(&first), 200, "the first key is pinned at the first delivery");
    for (what, mac, label) in [
        ("a device in no inventory", UNKNOWN, "unknown"),
        ("a disabled device", DISABLED, "disabled"),
        ("a pinned device with another key", PINNED, "pinned-second"),
    ] {
        let phone = ca.phone(mac, label);
        refusals
            .push((what.to_owned(), exchange(&mut connect(&daemon, &phone), &get(&format!("/cfg{mac}.xml"))).unwrap()));
    }

    // Fifteen days on, the device whose secrets were never fetched has gone dormant.
    let (admin_token, auditor_token) = (daemon.admin_token.clone(), daemon.auditor_token.clone());
    drop(daemon);
    let daemon = Daemon::run_with_env(&fifteen_days_on, dir.path(), admin_token, auditor_token);
    let dormant = ca.phone(NEVER_FETCHED, "dormant");
    refusals.push((
        "a dormant device".to_owned(),
        exchange(&mut connect(&daemon, &dormant), &get(&format!("/cfg{NEVER_FETCHED}.xml"))).unwrap(),
    ));
    let device = json_of(&daemon.cli(&daemon.auditor_token, &["device", "show", NEVER_FETCHED, "--json"]));
    assert_eq!(device["state"], "dormant", "{device}");

    for (what, response) in &refusals {
        assert_eq!(without_date(response), baseline, "{what} is answered like an unknown path");
    }
    let audit = json_of(&daemon.cli(&daemon.auditor_token, &["audit", "--since", "30d", "--json"]));
    let kinds: Vec<&str> = audit["events"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    for kind in ["mac-mismatch", "key-mismatch", "dormant"] {
        assert!(kinds.contains(&kind), "{kind} audited: {kinds:?}");
    }
}

/// Threat 10, timing: asking for an enrolled device's file and for one in no inventory takes
/// the same time (medians within 10 %), interleaved on one connection. Repeated up to three
/// times: a busy machine can upset one series, a real difference upsets all three.
#[test]
fn threat_10_an_enrolled_and_an_unknown_mac_take_the_same_time() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A thousand refusals from one address would be a scan, and banned: not here.
    let (daemon, _, asker) = start(dir.path(), |dir| {
        let path = dir.join("sipprov.toml");
        let limits = "\n[limits]\nrequests_burst = 100000\nrequest_interval_ms = 1\ndevice_requests_burst = 100000\n\
                      device_request_interval_ms = 1\nnever_ban = [\"127.0.0.0/8\"]\n";
        let config = std::fs::read_to_string(&path).unwrap() + limits;
        std::fs::write(path, config).unwrap();
    });
    let mut connection = connect(&daemon, &asker);
    let (enrolled, unknown) = (get(&format!("/cfg{OTHER}.xml")), get(&format!("/cfg{UNKNOWN}.xml")));
    let mut ratios = Vec::new();
    for _ in 0..3 {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for round in 0..400 {
            for (request, times) in [(&enrolled, &mut a), (&unknown, &mut b)] {
                let started = Instant::now();
                let response = exchange(&mut connection, request).unwrap();
                let took = started.elapsed();
                assert_eq!(status_of(&response), 404);
                // The first rounds warm caches and branch predictors alike.
                if round >= 20 {
                    times.push(took);
                }
            }
        }
        let median = |times: &mut Vec<Duration>| {
            times.sort();
            times[times.len() / 2].as_secs_f64()
        };
        let ratio = median(&mut a) / median(&mut b);
        if (0.9..=1.1).contains(&ratio) {
            return;
        }
        ratios.push(ratio);
    }
    panic!("the medians differ by more than 10 % in every series: enrolled/unknown {ratios:?}");
}

/// Threat 9: odd spellings of a path name the phone's own file or nothing; any path that
/// percent-encodes, climbs, doubles a slash or names another device is the uniform 404.
#[test]
fn threat_09_a_corpus_of_odd_paths_gets_the_own_file_or_the_uniform_404() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (daemon, _, asker) = start(dir.path(), |_| {});
    let (mut connection, baseline, own) = asking(&daemon, &asker);
    let upper = ASKER.to_ascii_uppercase();
    let colons = "00:0b:82:00:00:01";
    let refused = [
        "/cfg%30%30%30b82000001.xml".to_owned(),
        format!("/cfg{ASKER}%2exml"),
        format!("/cfg{ASKER}.xml%00"),
        format!("/cfg{ASKER}.xml%00.jpg"),
        format!("/./cfg{ASKER}.xml"),
        format!("/x/../cfg{ASKER}.xml"),
        format!("/..%2fcfg{ASKER}.xml"),
        format!("/%2e%2e/cfg{ASKER}.xml"),
        format!("//cfg{ASKER}.xml"),
        format!("/cfg{ASKER}.xml/"),
        format!("/cfg{ASKER}.xml;.cfg"),
        format!("/cfg{ASKER}.xml\\"),
        format!("/cfg{OTHER}.xml"),
        format!("/CFG{OTHER}.XML"),
        format!("/cfg{}.xml", OTHER.replace("000002", "00:00:02")),
        "/".to_owned(),
        "/index.html".to_owned(),
        "/.git/config".to_owned(),
        "/cfg.xml".to_owned(),
        "/etc/passwd".to_owned(),
    ];
    for path in &refused {
        let response = exchange(&mut connection, &get(path)).unwrap_or_else(|| panic!("{path}: no answer"));
        assert_eq!(without_date(&response), baseline, "{path} gets the uniform 404");
    }
    // A request target that is no URI is refused by the HTTP parser before any device is
    // looked at: the same 400, and the connection closed, whichever MAC it spells.
    for spelling in ["\\cfg{}.xml", "cfg{}.xml", "*{}", "/cfg {}.xml"] {
        let answers: Vec<String> = [ASKER, OTHER, UNKNOWN]
            .iter()
            .map(|mac| {
                let path = spelling.replace("{}", mac);
                let mut fresh = connect(&daemon, &asker);
                without_date(&exchange(&mut fresh, &get(&path)).unwrap_or_default())
            })
            .collect();
        assert!(answers.iter().all(|a| *a == answers[0]), "{spelling}: {answers:?}");
        assert!(answers[0].starts_with("HTTP/1.1 400") || answers[0] == baseline, "{spelling}: {}", answers[0]);
    }
    // Spellings of the phone's own MAC that the vendor's phones use, and a query string (which
    // names no file), get its own file or the 404.
    let spellings = [
        format!("/cfg{upper}.xml"),
        format!("/CFG{ASKER}.XML"),
        format!("/cfg{colons}.xml"),
        format!("/cfg{ASKER}.xml?x=..%2f"),
    ];
    for path in spellings {
        let answer = without_date(&exchange(&mut connection, &get(&path)).unwrap());
        assert!(answer == own || answer == baseline, "{path}: neither its own file nor the 404:\n{answer}");
    }
}

/// Threats 19 and 24: HTTP framing tricks (absolute-form, HTTP/1.0, pipelining, smuggling with
/// CL+TE and two lengths, oversized and too many headers, HTTP/2 prefaces, h2c) never get a
/// file the certificate does not name, and the phone is served normally afterwards.
#[test]
fn threat_19_http_framing_tricks_get_nothing_but_the_own_file() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (daemon, _, asker) = start(dir.path(), |_| {});
    let (mut connection, baseline, own) = asking(&daemon, &asker);
    let own_path = format!("/cfg{ASKER}.xml");
    let other = format!("/cfg{OTHER}.xml");

    // Absolute-form names a path like origin-form does; the host in it changes nothing.
    let absolute = |url: &str| format!("GET {url} HTTP/1.1\r\nHost: localhost\r\n\r\n").into_bytes();
    let answer = exchange(&mut connection, &absolute(&format!("https://evil.example{other}"))).unwrap();
    assert_eq!(without_date(&answer), baseline);
    let answer = exchange(&mut connection, &absolute(&format!("https://localhost{own_path}"))).unwrap();
    assert_eq!(status_of(&answer), 200);

    // HTTP/1.0 without a Host: served, then closed.
    let mut old = connect(&daemon, &asker);
    let answer = exchange(&mut old, format!("GET {own_path} HTTP/1.0\r\n\r\n").as_bytes()).unwrap();
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.0 200") || status_of(&answer) == 200);

    // Pipelining: two requests in one write, answered in order.
    let mut pipelined = connect(&daemon, &asker);
    let both = [get(&other), get(&own_path)].concat();
    let first = exchange(&mut pipelined, &both).unwrap();
    let second = read_response(&mut pipelined).unwrap();
    assert_eq!(without_date(&first), baseline);
    assert_eq!(status_of(&second), 200);

    // Smuggling: a second request hidden in a body gets at most its own answer; two lengths
    // that disagree, oversized heads and HTTP/2 prefaces end the connection with no file.
    let hidden = format!("GET {other} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let attempts: Vec<(&str, Vec<u8>)> = vec![
        (
            "CL+TE",
            format!(
                "POST {own_path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{hidden}",
                5 + hidden.len()
            )
            .into_bytes(),
        ),
        (
            "TE+CL",
            format!(
                "POST {own_path} HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n{:x}\r\n{hidden}\r\n0\r\n\r\n",
                hidden.len()
            )
            .into_bytes(),
        ),
        (
            "two Content-Lengths",
            format!("GET {own_path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nContent-Length: {}\r\n\r\n{hidden}", hidden.len())
                .into_bytes(),
        ),
        ("obfuscated Transfer-Encoding", format!("POST {own_path} HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: xchunked\r\n\r\n{hidden}").into_bytes()),
        ("an oversized head", format!("GET {own_path} HTTP/1.1\r\nHost: localhost\r\nX-Pad: {}\r\n\r\n", "a".repeat(20_000)).into_bytes()),
        (
            "too many headers",
            format!("GET {own_path} HTTP/1.1\r\nHost: localhost\r\n{}\r\n", (0..200).map(|n| format!("X-{n}: {n}\r\n")).collect::<String>())
                .into_bytes(),
        ),
        ("an HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00".to_vec()),
        ("a bare line feed request", format!("GET {other} HTTP/1.1\nHost: localhost\n\n").into_bytes()),
    ];
    for (what, request) in attempts {
        let mut stream = connect(&daemon, &asker);
        let _ = stream.write_all(&request);
        let _ = stream.flush();
        let mut answers = Vec::new();
        let _ = stream.sock.set_read_timeout(Some(Duration::from_secs(3)));
        while let Some(answer) = read_response(&mut stream) {
            answers.push(answer);
        }
        for answer in &answers {
            let text = without_date(answer);
            assert!(text == baseline || text == own || (400..500).contains(&status_of(answer)), "{what}:\n{text}");
            assert!(!text.contains("2002"), "{what}: another device's file:\n{text}");
        }
    }

    // h2c: an upgrade asked for over TLS is not made; ALPN h2 is not chosen.
    let mut upgrade = connect(&daemon, &asker);
    let request = format!(
        "GET {own_path} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
    );
    let answer = exchange(&mut upgrade, request.as_bytes()).unwrap();
    assert_eq!(status_of(&answer), 200, "{}", String::from_utf8_lossy(&answer));
    let h2 = tls_as(&daemon, &asker.0, &asker.1, "127.0.0.1", &[], &[b"h2", b"http/1.1"]).unwrap();
    assert_ne!(h2.conn.alpn_protocol(), Some(&b"h2"[..]), "HTTP/2 is not offered");

    let mut after = connect(&daemon, &asker);
    assert_eq!(without_date(&exchange(&mut after, &get(&own_path)).unwrap()), own, "still served");
}

/// Threat 19: a client that dribbles its request head is cut off at the head deadline, while a
/// phone is served meanwhile.
#[test]
fn threat_19_a_slowloris_request_is_cut_at_the_head_deadline() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (daemon, _, asker) = start(dir.path(), |dir| {
        let path = dir.join("sipprov.toml");
        let config =
            std::fs::read_to_string(&path).unwrap().replace("[phones]\n", "[phones]\nheader_timeout_seconds = 2\n");
        std::fs::write(path, config).unwrap();
    });
    let mut slow = connect(&daemon, &asker);
    let started = Instant::now();
    let mut cut = false;
    for byte in get(&format!("/cfg{ASKER}.xml")).iter().cycle().take(60) {
        if slow.write_all(&[*byte]).and_then(|()| slow.flush()).is_err() {
            cut = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
        let mut probe = [0u8; 64];
        let _ = slow.sock.set_read_timeout(Some(Duration::from_millis(1)));
        match slow.read(&mut probe) {
            Ok(0) => {
                cut = true;
                break;
            }
            Ok(_) => {
                let answer = String::from_utf8_lossy(&probe).into_owned();
                assert!(answer.starts_with("HTTP/1.1 408"), "a dribbled head got an answer: {answer}");
                cut = true;
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => {
                cut = true;
                break;
            }
        }
        let mut phone = connect(&daemon, &asker);
        assert_eq!(status_of(&exchange(&mut phone, &get("/nothing-here.cfg")).unwrap()), 404, "others are served");
    }
    assert!(cut, "the dribbling client was never cut off");
    assert!(started.elapsed() < Duration::from_secs(8), "cut after {:?}, the deadline is 2 s", started.elapsed());
}

/// Threat 16: TLS 1.0 and 1.1, garbage, and plain HTTP where TLS is expected get no HTTP at
/// all, on both listeners; the daemon listens on exactly its two TLS ports and no UDP socket.
#[test]
fn threat_16_old_tls_garbage_and_plain_http_get_no_http() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (daemon, _, asker) = start(dir.path(), |_| {});
    let phones = daemon.phones.trim_start_matches("https://").to_owned();
    let admin = daemon.admin.trim_start_matches("https://").to_owned();

    let protocol_failures = || {
        let scrape = support::prometheus::parse(&daemon.metrics()).unwrap();
        scrape.value("sipprov_tls_handshake_failures_total", &[("reason", "protocol")]).unwrap()
    };
    let before = protocol_failures();
    for version in ["-tls1", "-tls1_1"] {
        let output = Command::new("openssl")
            .args(["s_client", version, "-cipher", "DEFAULT:@SECLEVEL=0", "-connect", &phones, "-cert"])
            .arg(&asker.0)
            .arg("-key")
            .arg(&asker.1)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(!output.status.success(), "{version} handshake refused:\n{text}");
        // The refusal is the server's: an alert it sent (rustls answers handshake_failure, 40).
        assert!(text.contains("SSL alert number"), "the server refuses {version} itself:\n{text}");
        assert!(!text.contains("HTTP/"), "{version}:\n{text}");
    }
    assert_eq!(protocol_failures() - before, 2.0, "both counted as protocol failures");

    for address in [&phones, &admin] {
        for garbage in [
            b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(),
            (0..=255u8).cycle().take(4096).collect(),
            vec![0x16, 0x03, 0x01, 0xff, 0xff, 0x01],
        ] {
            let mut stream = connect_from("127.0.0.1", address).unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
            let _ = stream.write_all(&garbage);
            let mut answer = Vec::new();
            let _ = stream.read_to_end(&mut answer);
            assert!(!answer.windows(5).any(|w| w == b"HTTP/"), "{address}: HTTP answered to garbage: {answer:?}");
        }
    }

    let sockets = socket_inodes(daemon.child.id());
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        for line in std::fs::read_to_string(table).unwrap_or_default().lines().skip(1) {
            let inode = line.split_whitespace().nth(9).unwrap_or_default();
            assert!(!sockets.iter().any(|s| s == inode), "the daemon holds a UDP socket: {line}");
        }
    }
    let mut listening = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        for line in std::fs::read_to_string(table).unwrap_or_default().lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // State 0A is LISTEN; the local address is hex IP:port.
            if fields.get(3) == Some(&"0A") && sockets.iter().any(|s| Some(&s.as_str()) == fields.get(9)) {
                let port = u16::from_str_radix(fields[1].rsplit(':').next().unwrap(), 16).unwrap();
                listening.push(port);
            }
        }
    }
    listening.sort_unstable();
    let mut expected: Vec<u16> =
        [&phones, &admin].iter().map(|a| a.rsplit(':').next().unwrap().parse().unwrap()).collect();
    expected.sort_unstable();
    assert_eq!(listening, expected, "the daemon listens on its two TLS ports only");
}

fn socket_inodes(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|target| target.to_str()?.strip_prefix("socket:[")?.strip_suffix(']').map(str::to_owned))
        .collect()
}

/// Threat 18: control characters, escape sequences, bytes that are not UTF-8 and fake JSON in a
/// request's path and User-Agent stay inside one log record, escaped.
#[test]
fn threat_18_control_characters_in_a_request_stay_escaped_in_one_log_record() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (daemon, _, asker) = start(dir.path(), |_| {});
    // Raw control characters in a header never get past the HTTP parser: 400, nothing logged.
    for control in [b"\x1b[2J".as_slice(), b"\x07", b"\x7f", b"\x00", b"\r"] {
        let mut request = b"GET /cfg000b82000002.xml HTTP/1.1\r\nHost: localhost\r\nUser-Agent: Grandstream ".to_vec();
        request.extend(control);
        request.extend(b" owned-by-control\r\n\r\n");
        let answer = exchange(&mut connect(&daemon, &asker), &request);
        assert!(answer.as_deref().is_none_or(|a| status_of(a) == 400), "{control:?}: {answer:?}");
    }
    // What does get through (percent-escaped controls in the path, bytes that are not UTF-8,
    // quotes and braces forging a record) is logged inside one record, escaped.
    let mut request =
        b"GET /cfg%0d%0a%1b%5b31m%7b%22forged%22%3a1%7d.xml HTTP/1.1\r\nHost: localhost\r\nUser-Agent: Grandstream "
            .to_vec();
    request.extend(br#"x"}{"level":"INFO","message":"phone request","outcome":"served_with_secrets","forged":1} "#);
    request.extend(b"\xff\xfe \\u001b owned\r\n\r\n");
    let answer = exchange(&mut connect(&daemon, &asker), &request).unwrap();
    assert_eq!(status_of(&answer), 404);
    support::wait_until("the request is logged", || daemon.log_contains("owned"));
    for line in daemon.output.lock().unwrap().iter() {
        assert!(!line.contains("owned-by-control"), "a request the parser refused was logged: {line}");
        assert!(!line.chars().any(char::is_control), "a raw control character in the log: {line:?}");
        let record: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not one JSON record ({e}): {line}"));
        assert_ne!(record["outcome"], "served_with_secrets", "a forged record: {line}");
        assert!(record.get("forged").is_none(), "{line}");
    }
    let logged = daemon.output.lock().unwrap().iter().filter(|line| line.contains("owned")).count();
    assert_eq!(logged, 1, "the request is one record");
}

/// Threat 13: no secret the daemon issued (SIP passwords, enrolment secrets, API tokens) is in
/// any file it wrote or any line it logged, once delivered, rotated and purged.
#[test]
fn threat_13_no_issued_secret_is_in_any_file_or_log_line() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (daemon, ca, asker) = start(dir.path(), |_| {});
    let mut secrets: Vec<String> = vec![daemon.admin_token.clone(), daemon.auditor_token.clone()];
    let (status, body) = daemon.admin(
        "POST",
        "/v1/devices",
        &json!({"mac": DISABLED, "user_name": "2004", "vendor": "grandstream", "reveal_password": true}),
    );
    assert_eq!(status, 201, "{body}");
    secrets.push(body["registrar"]["password"].as_str().expect("a revealed password").to_owned());
    let own_password = "Operator-Chosen-Secret-7";
    let (status, body) = daemon.admin(
        "POST",
        "/v1/devices",
        &json!({"mac": PINNED, "user_name": "2005", "vendor": "grandstream", "password": own_password}),
    );
    assert_eq!(status, 201, "{body}");
    secrets.push(own_password.to_owned());
    let (status, body) = daemon.admin(
        "POST",
        "/v1/devices",
        &json!({"mac": NEVER_FETCHED, "user_name": "2006", "vendor": "grandstream", "auth": "digest"}),
    );
    assert_eq!(status, 201, "{body}");
    secrets.push(body["enrolment_secret"].as_str().expect("an enrolment secret").to_owned());

    // Delivered to the phones, then rotated and delivered again.
    for (mac, phone) in [(ASKER, asker), (DISABLED, ca.phone(DISABLED, "d")), (PINNED, ca.phone(PINNED, "p"))] {
        let mut connection = connect(&daemon, &phone);
        let answer =
            String::from_utf8_lossy(&exchange(&mut connection, &get(&format!("/cfg{mac}.xml"))).unwrap()).into_owned();
        assert_eq!(status_of(answer.as_bytes()), 200, "{answer}");
        secrets.extend(support::grandstream_password(&answer));
        let (status, body) =
            daemon.admin("POST", &format!("/v1/devices/{mac}/rotate"), &json!({"reveal_password": true}));
        assert_eq!(status, 200, "{body}");
        secrets.push(body["registrar"]["password"].as_str().expect("a rotated password").to_owned());
    }
    assert!(secrets.iter().all(|s| s.len() >= 12), "{} secrets, each long enough to grep for", secrets.len());

    daemon.signal("TERM");
    let mut daemon = daemon;
    daemon.child.wait().unwrap();
    let log = daemon.all_output();
    let mut files = Vec::new();
    collect_files(dir.path(), &mut files);
    assert!(files.iter().any(|f| f.ends_with("sipprov.db")), "the database is among the files read");
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "a secret is in the log");
        for file in &files {
            let bytes = std::fs::read(file).unwrap();
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "a secret is in {}", file.display());
        }
    }
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().map_while(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, files);
        } else {
            files.push(path);
        }
    }
}
