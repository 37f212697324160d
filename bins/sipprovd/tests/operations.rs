//! End to end, as an operations team runs it: the real `sipprovd run` and `sipprov` binaries,
//! `curl` and `openssl` as clients. Importing 1,000 devices through the CLI, a phone fetching
//! its config, the audit log and metrics seeing it, roles enforced, SIGHUP adding a trust
//! anchor and renewing the server certificate, SIGTERM finishing a fetch in progress, and no
//! secret in any log line.
//!
//! The `sipprov` binary is found next to `sipprovd`: `cargo test --workspace` builds both.
//! Without curl or openssl the tests are skipped loudly (in CI they fail).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, IsCa, KeyPair, PKCS_RSA_SHA256,
    RsaKeySize,
};
use serde_json::Value;
use support::{Daemon, append_config, have_tools, json_of, phone_tls, prepare_demo, sipprovd, wait_until};

const PHONE: &str = "001565000001";

#[test]
fn import_a_thousand_devices_fetch_one_and_see_it_in_audit_and_metrics() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());

    // As Excel's "CSV UTF-8" writes it in a German locale: byte order mark, `;`, CRLF.
    let mut csv = String::from("\u{feff}mac;user_name;display_name;site\r\n");
    for n in 0..1000u32 {
        let [_, high, mid, low] = (n + 1).to_be_bytes();
        csv.push_str(&format!(
            "00:15:65:{high:02x}:{mid:02x}:{low:02x};{};\"Desk {n}; left\";site-{}\r\n",
            2000 + n,
            n % 7
        ));
    }
    let csv_path = dir.path().join("phones.csv");
    std::fs::write(&csv_path, &csv).unwrap();
    let dry = daemon.cli(&daemon.admin_token, &["device", "import", csv_path.to_str().unwrap(), "--dry-run"]);
    assert!(dry.status.success(), "{}", String::from_utf8_lossy(&dry.stderr));
    let said = String::from_utf8(dry.stdout).unwrap();
    assert!(said.contains("1000 rows: 1000 would be created, 0 would be updated"), "{said}");
    assert!(said.contains("Dry run: nothing was changed."), "{said}");
    let listed = json_of(&daemon.cli(&daemon.auditor_token, &["device", "list", "--json"]));
    assert!(listed["devices"].as_array().unwrap().is_empty(), "a dry run enrols nothing");
    let imported = daemon.cli(&daemon.admin_token, &["device", "import", csv_path.to_str().unwrap(), "--json"]);
    assert!(imported.status.success(), "{}", String::from_utf8_lossy(&imported.stderr));
    assert!(imported.stderr.is_empty(), "no progress bar when stderr is not a terminal");
    let lines: Vec<Value> =
        String::from_utf8(imported.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let summary = &lines.last().unwrap()["summary"];
    assert_eq!((summary["rows"].as_u64(), summary["created"].as_u64()), (Some(1000), Some(1000)), "{summary}");
    let ha1 = lines[0]["registrar"]["ha1_md5"].as_str().unwrap().to_owned();
    assert_eq!(lines[0]["mac"], PHONE);

    let listed = json_of(&daemon.cli(&daemon.auditor_token, &["device", "list", "--site", "site-3", "--json"]));
    assert_eq!(listed["devices"].as_array().unwrap().len(), 143, "1000 devices over 7 sites");

    let (status, config) = daemon.fetch_as_phone(PHONE);
    assert_eq!(status, Some(200), "{config}");
    let password = config.lines().find_map(|l| l.strip_prefix("account.1.password = ")).unwrap().to_owned();
    let admin_password = config.lines().find_map(|l| l.strip_prefix("static.security.user_password = ")).unwrap();
    let admin_password = admin_password.trim_start_matches("admin:").to_owned();

    let audit = json_of(&daemon.cli(
        &daemon.auditor_token,
        &["audit", "--mac", "00:15:65:00:00:01", "--kind", "delivered", "--since", "1h", "--json"],
    ));
    let delivered = audit["events"].as_array().unwrap();
    assert_eq!(delivered.len(), 1, "{audit}");
    assert!(delivered[0]["detail"].as_str().unwrap().contains("secrets=yes"), "{audit}");
    // The log stream carries the audit events too, for a SIEM, and never a secret. Lines below
    // warning reach stderr in batches, within [logging] flush_ms.
    wait_until("the delivery's audit event is logged", || daemon.log_contains("\"kind\":\"delivered\""));
    let logged: Vec<Value> = daemon
        .all_output()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|record| record["target"] == "sipprov::audit" && record["kind"] == "delivered")
        .collect();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(logged[0]["mac"], PHONE);
    assert_eq!(logged[0]["detail"], delivered[0]["detail"]);
    assert_eq!(logged[0]["at"], delivered[0]["at"], "the same moment, in RFC 3339");
    assert!(!daemon.all_output().contains(&password), "no secret in the log");

    let metrics = daemon.metrics();
    assert!(metrics.contains("sipprov_phone_requests_total{outcome=\"served_with_secrets\"} 1\n"), "{metrics}");

    // Admin paths on the phone listener: the uniform 404, byte for byte.
    let devices = dir.path().join("pki").join("devices");
    let (cert, key) = (devices.join(format!("{PHONE}.pem")), devices.join(format!("{PHONE}.key")));
    let unknown = daemon.fetch("/nothing-here", &cert, &key);
    assert_eq!(unknown.0, Some(404));
    for path in ["/v1/devices", "/v1/health", "/metrics", "/v1/audit"] {
        assert_eq!(daemon.fetch(path, &cert, &key), unknown, "{path}");
    }

    // An auditor changes nothing.
    for args in [["device", "delete", PHONE].as_slice(), &["device", "rotate", PHONE], &["device", "disable", PHONE]] {
        let refused = daemon.cli(&daemon.auditor_token, args);
        assert_eq!(refused.status.code(), Some(3), "a refused token has its own exit status: {args:?}");
        assert!(String::from_utf8_lossy(&refused.stderr).contains("HTTP 403"), "{args:?}");
    }
    // Exit statuses scripts can tell apart: not found, unreachable; an empty variable is unset.
    let missing = daemon.cli(&daemon.auditor_token, &["device", "show", "00:15:65:99:99:99"]);
    assert_eq!(missing.status.code(), Some(4), "{missing:?}");
    let sipprov = std::path::Path::new(env!("CARGO_BIN_EXE_sipprovd")).with_file_name("sipprov");
    let unreachable = Command::new(&sipprov)
        .args(["--url", "https://127.0.0.1:1", "device", "list"])
        .env("SIPPROV_TOKEN", &daemon.auditor_token)
        .output()
        .unwrap();
    assert_eq!(unreachable.status.code(), Some(5), "{unreachable:?}");
    let listed = Command::new(&sipprov)
        .args(["--url", &daemon.admin, "--ca"])
        .arg(daemon.pki("server-ca.pem"))
        .args(["device", "list", "--json"])
        .env("SIPPROV_TOKEN", &daemon.auditor_token)
        .env("SIPPROV_TOKEN_FILE", "")
        .output()
        .unwrap();
    assert!(listed.status.success(), "an empty SIPPROV_TOKEN_FILE is unset: {listed:?}");
    let deleted = json_of(&daemon.cli(&daemon.admin_token, &["device", "delete", "00:15:65:00:03:e8", "--json"]));
    assert_eq!(deleted["deleted"], "00:15:65:00:03:e8", "--json prints a document for a command that answers nothing");
    let device = json_of(&daemon.cli(&daemon.auditor_token, &["device", "show", PHONE, "--json"]));
    assert_eq!((device["state"].as_str(), device["disabled"].as_bool()), (Some("delivered"), Some(false)));

    // One JSON line per request, with what ops needs, and no secret anywhere in the output.
    wait_until("the delivery is logged", || daemon.log_contains("\"outcome\":\"served_with_secrets\""));
    let request_line = daemon
        .output
        .lock()
        .unwrap()
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|log| log["message"] == "phone request" && log["outcome"] == "served_with_secrets")
        .expect("a log line for the delivery");
    assert_eq!(request_line["mac"], PHONE);
    assert_eq!(request_line["rating"], 5, "HTTPS with a unique device certificate");
    assert!(request_line["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(request_line["user_agent"].as_str().unwrap().contains("curl"), "{request_line}");
    let output = daemon.all_output();
    for secret in [&password, &admin_password, &daemon.admin_token, &daemon.auditor_token, &ha1] {
        assert!(!output.contains(secret.as_str()), "a secret ({} chars) is in the daemon's output", secret.len());
    }
}

#[test]
fn sighup_adds_a_trust_anchor_and_refuses_a_broken_one() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());
    let mac = "001565000abc";
    let added = daemon.cli(&daemon.admin_token, &["device", "add", mac, "--user", "3001"]);
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));

    // A second vendor CA, and a phone under it.
    let new_ca = self_signed_ca("Second device CA");
    let phone_key = KeyPair::generate().unwrap();
    let mut phone = CertificateParams::default();
    phone.distinguished_name = DistinguishedName::new();
    phone.distinguished_name.push(DnType::CommonName, mac);
    let phone_cert = phone.signed_by(&phone_key, &new_ca).unwrap();
    let (cert, key) = (dir.path().join("new-phone.pem"), dir.path().join("new-phone.key"));
    std::fs::write(&cert, phone_cert.pem()).unwrap();
    std::fs::write(&key, phone_key.serialize_pem()).unwrap();
    std::fs::write(dir.path().join("second-ca.pem"), new_ca.pem()).unwrap();
    assert_eq!(daemon.fetch(&format!("/{mac}.cfg"), &cert, &key).0, None, "refused at TLS before the reload");

    // A broken anchor first: the reload is refused and the daemon keeps serving.
    let config_path = dir.path().join("sipprov.toml");
    let original = std::fs::read_to_string(&config_path).unwrap();
    let with = |bundle: &str| format!("{original}\n[[trust]]\nbundle = \"{bundle}\"\nrule = \"cn-mac\"\n");
    std::fs::write(&config_path, with("missing-ca.pem")).unwrap();
    daemon.signal("HUP");
    wait_until("the broken reload is refused", || daemon.log_contains("reload refused"));
    assert_eq!(daemon.fetch_as_phone(PHONE).0, Some(404), "still serving (not enrolled: the uniform 404)");

    std::fs::write(&config_path, with("second-ca.pem")).unwrap();
    daemon.signal("HUP");
    wait_until("the new anchor serves its phone", || daemon.fetch(&format!("/{mac}.cfg"), &cert, &key).0 == Some(200));
}

#[test]
fn sighup_renews_the_server_certificate_on_every_listener_and_refuses_a_key_that_does_not_match() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The softphone portal too, which presents the phone listener's certificate by default.
    let portal_port = support::free_port();
    let daemon = Daemon::start_with(dir.path(), |dir| {
        let portal = format!(
            "[portal]\nlisten = \"127.0.0.1:{portal_port}\"\npublic_url = \"https://localhost:{portal_port}\"\n"
        );
        append_config(dir, &portal);
    });
    let portal = format!("https://127.0.0.1:{portal_port}");
    let added = daemon.cli(&daemon.admin_token, &["device", "add", PHONE, "--user", "3001"]);
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let expiry = |listener: &str| {
        let series = format!("sipprov_server_certificate_expiry_timestamp_seconds{{listener=\"{listener}\"}} ");
        daemon.metrics().lines().find_map(|line| line.strip_prefix(&series).map(str::to_owned))
    };
    let demo_expiry = expiry("phones").expect("the phone certificate's expiry");
    assert_eq!(server_subject(&daemon.phones).as_deref(), Some("O = sipprov demo, CN = sipprov demo server"));

    // The renewal: a certificate for the same names from a new CA, which clients also trust.
    let ca = self_signed_ca("Renewal CA");
    let key = KeyPair::generate().unwrap();
    let mut renewed = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    renewed.distinguished_name = DistinguishedName::new();
    renewed.distinguished_name.push(DnType::CommonName, "renewed server");
    renewed.not_after = rcgen::date_time_ymd(2031, 1, 1);
    let renewed = renewed.signed_by(&key, &ca).unwrap();
    let trusted = std::fs::read_to_string(daemon.pki("server-ca.pem")).unwrap() + &ca.pem();
    std::fs::write(daemon.pki("server-ca.pem"), trusted).unwrap();

    // The certificate replaced first, its key not yet: they do not match, nothing changes.
    std::fs::write(daemon.pki("server.pem"), renewed.pem()).unwrap();
    daemon.signal("HUP");
    wait_until("the mismatched pair is refused", || daemon.log_contains("reload refused"));
    assert!(daemon.log_contains("does not belong to the certificate"), "{}", daemon.all_output());
    assert_eq!(server_subject(&daemon.phones).as_deref(), Some("O = sipprov demo, CN = sipprov demo server"));
    assert_eq!(server_subject(&portal).as_deref(), Some("O = sipprov demo, CN = sipprov demo server"));
    assert_eq!(daemon.fetch_as_phone(PHONE).0, Some(200), "still serving phones");

    // With its key, every listener using the certificate presents it from its next handshake.
    std::fs::write(daemon.pki("server.key"), key.serialize_pem()).unwrap();
    daemon.signal("HUP");
    wait_until("the renewed certificate is presented", || {
        server_subject(&daemon.phones).as_deref() == Some("CN = renewed server")
    });
    assert_eq!(server_subject(&daemon.admin).as_deref(), Some("CN = renewed server"), "the admin listener too");
    assert_eq!(server_subject(&portal).as_deref(), Some("CN = renewed server"), "and the portal");
    assert_eq!(daemon.fetch_as_phone(PHONE).0, Some(200), "phones fetch over the renewed certificate");
    assert_eq!(expiry("phones").as_deref(), Some("1924992000"), "2031-01-01, was {demo_expiry}");
    assert_eq!(expiry("admin").as_deref(), Some("1924992000"));
    assert_eq!(expiry("portal").as_deref(), Some("1924992000"));
}

/// A CA of the test's own, named `name`.
fn self_signed_ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// The subject of the certificate the listener at `url` presents, as `openssl x509` prints it
/// (`O = sipprov demo, CN = sipprov demo server`).
fn server_subject(url: &str) -> Option<String> {
    let address = url.trim_start_matches("https://");
    let connect = Command::new("openssl")
        .args(["s_client", "-connect", address, "-servername", "localhost"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    let mut x509 = Command::new("openssl")
        .args(["x509", "-noout", "-subject"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    x509.stdin.take().unwrap().write_all(&connect.stdout).unwrap();
    let printed = String::from_utf8(x509.wait_with_output().unwrap().stdout).unwrap();
    printed.trim().strip_prefix("subject=").map(str::to_owned)
}

#[test]
fn sigterm_during_a_fetch_completes_that_fetch_and_exits_cleanly() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = Daemon::start(dir.path());
    daemon.enrol(PHONE, "1001");

    // A phone that has sent half its request when the daemon is told to stop.
    let mut tls = phone_tls(&daemon, PHONE, "127.0.0.1").unwrap();
    tls.write_all(format!("GET /{PHONE}.cfg HTTP/1.1\r\nHost: localhost\r\n").as_bytes()).unwrap();
    tls.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));

    daemon.signal("TERM");
    std::thread::sleep(Duration::from_millis(300));
    assert!(daemon.child.try_wait().unwrap().is_none(), "the daemon waits for the fetch in progress");
    tls.write_all(b"User-Agent: Yealink SIP-T54W 96.86.0.100\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    let _ = tls.read_to_string(&mut response);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("account.1.password = "), "the whole config arrived");

    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = daemon.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the daemon did not exit after the fetch");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");
}

#[test]
fn check_reports_every_problem_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    prepare_demo(dir.path());
    let ok = sipprovd(&["check", "--config"], dir.path());
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stdout));

    let config_path = dir.path().join("sipprov.toml");
    let config = std::fs::read_to_string(&config_path)
        .unwrap()
        .replace("bundle = \"pki/device-ca.pem\"", "bundle = \"pki/nowhere.pem\"")
        .replace("sealing_key = \"sealing.key\"", "sealing_key = \"no.key\"");
    std::fs::write(&config_path, &config).unwrap();
    let bad = sipprovd(&["check", "--config"], dir.path());
    assert_eq!(bad.status.code(), Some(1));
    let report = String::from_utf8(bad.stdout).unwrap();
    let line_of = |needle: &str| config.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let file = config_path.display().to_string();
    assert!(report.contains(&format!("{file}:{}: ", line_of("pki/nowhere.pem"))), "{report}");
    assert!(report.contains(&format!("{file}:{}: ", line_of("no.key"))), "{report}");
    assert_eq!(report.lines().count(), 2, "{report}");

    std::fs::write(&config_path, config.replace("[store]", "[store]\nsqlite_path = \"x\"")).unwrap();
    let typo = sipprovd(&["check", "--config"], dir.path());
    let report = String::from_utf8(typo.stdout).unwrap();
    assert!(report.contains("unknown field `sqlite_path`"), "{report}");
    assert!(report.contains(&format!("{file}:{}", line_of("[store]") + 1)), "{report}");

    // Log lines may wait at most 5 s: a crash must not lose more.
    assert!(config.contains("[logging]"), "{config}");
    std::fs::write(&config_path, config.replace("[logging]", "[logging]\nflush_ms = 60000")).unwrap();
    let slow = sipprovd(&["check", "--config"], dir.path());
    let report = String::from_utf8(slow.stdout).unwrap();
    assert!(report.contains("[logging] flush_ms 60000 is more than 5000"), "{report}");
}

#[test]
fn an_rsa_certificate_serves_only_clients_that_cannot_verify_ecdsa() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with(dir.path(), |dir| {
        let key = KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048).unwrap();
        let cert = CertificateParams::new(vec!["localhost".to_owned()]).unwrap().self_signed(&key).unwrap();
        std::fs::write(dir.join("rsa.pem"), cert.pem()).unwrap();
        std::fs::write(dir.join("rsa.key"), key.serialize_pem()).unwrap();
        let config_path = dir.join("sipprov.toml");
        let config = std::fs::read_to_string(&config_path).unwrap().replace(
            "key = \"pki/server.key\"",
            "key = \"pki/server.key\"\nrsa_certificate = \"rsa.pem\"\nrsa_key = \"rsa.key\"",
        );
        std::fs::write(config_path, config).unwrap();
    });
    let server_key = |sigalgs: Option<&str>| {
        let mut openssl = Command::new("openssl");
        openssl.args([
            "s_client",
            "-connect",
            daemon.phones.trim_start_matches("https://"),
            "-servername",
            "localhost",
        ]);
        if let Some(sigalgs) = sigalgs {
            openssl.args(["-sigalgs", sigalgs]);
        }
        let output = openssl.stdin(Stdio::null()).output().unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.lines().find(|l| l.starts_with("Server public key is")).map(str::to_owned).unwrap_or(text)
    };
    assert_eq!(server_key(None), "Server public key is 256 bit", "ECDSA P-256 by default");
    assert_eq!(server_key(Some("RSA-PSS+SHA256:RSA+SHA256")), "Server public key is 2048 bit");
}

#[test]
fn check_finds_a_key_that_does_not_match_its_certificate() {
    let dir = tempfile::tempdir().unwrap();
    prepare_demo(dir.path());
    let other_key = KeyPair::generate().unwrap();
    std::fs::write(dir.path().join("pki").join("server.key"), other_key.serialize_pem()).unwrap();
    let bad = sipprovd(&["check", "--config"], dir.path());
    assert_eq!(bad.status.code(), Some(1));
    let report = String::from_utf8(bad.stdout).unwrap();
    assert!(report.contains("primary server certificate or key"), "{report}");
    assert!(report.contains("the private key does not belong to the certificate"), "in words: {report}");
}

/// A server certificate that expired is an error; one that ends within 30 days a warning that
/// does not stop the start.
#[test]
fn check_reports_an_expired_certificate_and_warns_of_one_about_to_expire() {
    let dir = tempfile::tempdir().unwrap();
    prepare_demo(dir.path());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let certificate_with_days_left = |days: i64| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        let end = now.as_secs() as i64 + days * 86_400 + 3_600;
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(1970, 1, 1) + Duration::from_secs(end as u64);
        let cert = params.self_signed(&key).unwrap();
        std::fs::write(dir.path().join("pki").join("server.pem"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("pki").join("server.key"), key.serialize_pem()).unwrap();
    };
    let config = std::fs::read_to_string(dir.path().join("sipprov.toml")).unwrap();
    let line = config.lines().position(|l| l.starts_with("certificate = ")).unwrap() + 1;
    let location = format!("{}:{line}: ", dir.path().join("sipprov.toml").display());

    certificate_with_days_left(-3);
    let expired = sipprovd(&["check", "--config"], dir.path());
    let report = String::from_utf8(expired.stdout).unwrap();
    assert_eq!(expired.status.code(), Some(1), "{report}");
    assert!(report.starts_with(&location) && report.contains("expired 2 days ago: phones refuse it"), "{report}");

    certificate_with_days_left(10);
    let soon = sipprovd(&["check", "--config"], dir.path());
    let report = String::from_utf8(soon.stdout).unwrap();
    assert!(soon.status.success(), "a warning does not stop the start: {report}");
    assert!(report.starts_with(&format!("{location}warning: ")) && report.contains("expires in 10 days"), "{report}");
}

/// What would stop phones or the daemon later, found before it starts: each with its line.
#[test]
fn check_finds_what_causes_outages() {
    let dir = tempfile::tempdir().unwrap();
    prepare_demo(dir.path());
    let config_path = dir.path().join("sipprov.toml");
    let demo = std::fs::read_to_string(&config_path).unwrap();
    let config = demo
        .replacen("listen = \"127.0.0.1:0\"", "listen = \"127.0.0.1:18443\"", 2)
        .replace("dormant_days = 14", "dormant_days = 0")
        .lines()
        .map(|line| {
            if line.starts_with("provisioning_url") {
                "provisioning_url = \"https://prov.example.invalid\""
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&config_path, &config).unwrap();
    let key = dir.path().join("sealing.key");
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();

    let bad = sipprovd(&["check", "--config"], dir.path());
    assert_eq!(bad.status.code(), Some(1));
    let report = String::from_utf8(bad.stdout).unwrap();
    let file = config_path.display().to_string();
    let line_of = |key: &str| config.lines().position(|l| l.starts_with(key)).unwrap() + 1;
    for (needle, says) in [
        ("sealing_key", "can be read or written by others than its owner (mode 0644)"),
        ("dormant_days", "dormant_days = 0 would make every device dormant"),
        ("provisioning_url", "does not name \"prov.example.invalid\""),
    ] {
        let line = format!("{file}:{}: ", line_of(needle));
        assert!(report.lines().any(|l| l.starts_with(&line) && l.contains(says)), "{needle}: {report}");
    }
    let admin_line = config.lines().enumerate().filter(|(_, l)| l.starts_with("listen")).nth(1).unwrap().0 + 1;
    assert!(report.contains(&format!("{file}:{admin_line}: [admin] listen 127.0.0.1:18443")), "{report}");
    assert_eq!(report.lines().count(), 4, "{report}");

    // `run` refuses what would break phones at once, the readable key among them.
    let run =
        Command::new(env!("CARGO_BIN_EXE_sipprovd")).args(["run", "--config"]).arg(&config_path).output().unwrap();
    assert!(!run.status.success());
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    std::fs::write(&config_path, demo.replace("dormant_days = 14", "dormant_days = 0")).unwrap();
    let run =
        Command::new(env!("CARGO_BIN_EXE_sipprovd")).args(["run", "--config"]).arg(&config_path).output().unwrap();
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("dormant_days = 0"), "{run:?}");
}

/// Threat 16: no plaintext transport. The daemon holds no UDP socket at all (so nothing on
/// TFTP's port 69), and a plain-HTTP request to the phone port gets no config.
#[test]
fn no_udp_socket_and_plain_http_gets_no_config() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());
    daemon.enrol(PHONE, "1001");

    let sockets: Vec<String> = std::fs::read_dir(format!("/proc/{}/fd", daemon.child.id()))
        .unwrap()
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|target| target.to_str()?.strip_prefix("socket:[")?.strip_suffix(']').map(str::to_owned))
        .collect();
    assert!(!sockets.is_empty(), "the listeners' sockets are visible");
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let inode = line.split_whitespace().nth(9).unwrap_or_default();
            assert!(!sockets.iter().any(|s| s == inode), "the daemon holds a UDP socket: {line}");
        }
    }

    let mut plain = TcpStream::connect(daemon.phones.trim_start_matches("https://")).unwrap();
    plain.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    plain.write_all(format!("GET /{PHONE}.cfg HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(!answer.contains("account.1"), "no config over plain HTTP: {answer}");
    assert!(!answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// Threat 18: a User-Agent made to look like a second log record stays inside one record.
#[test]
fn a_hostile_user_agent_stays_inside_one_log_record() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());
    let hostile = r#"Yealink SIP-T54W"}{"message":"phone request","outcome":"served_with_secrets","mac":"001565000002"#;
    let devices = dir.path().join("pki").join("devices");
    let fetched = Command::new("curl")
        .args(["--silent", "--max-time", "10", "--user-agent", hostile, "--cacert"])
        .arg(daemon.pki("server-ca.pem"))
        .arg("--cert")
        .arg(devices.join(format!("{PHONE}.pem")))
        .arg("--key")
        .arg(devices.join(format!("{PHONE}.key")))
        .arg(format!("{}/{PHONE}.cfg", daemon.phones))
        .output()
        .unwrap();
    assert!(fetched.status.success());
    let mut records = Vec::new();
    wait_until("the request is logged", || {
        records = daemon
            .output
            .lock()
            .unwrap()
            .iter()
            .filter(|line| line.contains("phone request"))
            .map(|line| serde_json::from_str::<Value>(line).expect("every log line is one JSON record"))
            .collect();
        !records.is_empty()
    });
    assert_eq!(records.len(), 1, "{records:#?}");
    assert_eq!(records[0]["outcome"], "not_enrolled");
    assert_eq!(records[0]["mac"], PHONE);
    let record = &records[0];
    assert_eq!(record["user_agent"], hostile, "the UA as one field, escaped once by the JSON encoder");
    assert_eq!(record["path"], format!("/{PHONE}.cfg"), "not quoted twice");
    assert_eq!(record["method"], "GET");
    assert_eq!(record["tls"], "TLSv1.3");
    let serial = Command::new("openssl")
        .args(["x509", "-noout", "-serial", "-in"])
        .arg(devices.join(format!("{PHONE}.pem")))
        .output()
        .unwrap();
    let serial = String::from_utf8(serial.stdout).unwrap();
    let serial = serial.trim().trim_start_matches("serial=").to_ascii_lowercase();
    assert_eq!(record["certificate_serial"], serial, "the serial as openssl prints it");
    let request_id = record["request_id"].as_str().unwrap();
    assert!(request_id.len() == 16 && request_id.bytes().all(|b| b.is_ascii_hexdigit()), "{record}");
    assert!(record["duration_ms"].as_f64().unwrap() > 0.0, "{record}");
    // Every line of the daemon's log is one JSON record with an RFC 3339 UTC timestamp.
    for line in daemon.output.lock().unwrap().iter() {
        let record: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let at = record["timestamp"].as_str().unwrap();
        let (date, time) = at.split_once('T').unwrap();
        assert!(date.len() == 10 && time.ends_with('Z') && time.len() >= 9, "{at}");
        for value in record.as_object().unwrap().values() {
            if let Some(text) = value.as_str() {
                assert!(!text.starts_with('"'), "a value quoted twice: {line}");
            }
        }
    }
}

/// Threat 14: without its sealing key the daemon does not start, and says why.
#[test]
fn run_refuses_to_start_without_the_sealing_key() {
    let dir = tempfile::tempdir().unwrap();
    prepare_demo(dir.path());
    std::fs::remove_file(dir.path().join("sealing.key")).unwrap();
    let started = Command::new(env!("CARGO_BIN_EXE_sipprovd"))
        .args(["run", "--config"])
        .arg(dir.path().join("sipprov.toml"))
        .output()
        .unwrap();
    assert_eq!(started.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&started.stderr);
    assert!(stderr.contains("cannot read the sealing key file"), "{stderr}");
    assert!(stderr.contains("sipprovd keygen"), "says how to make one: {stderr}");
}

#[test]
fn a_backup_taken_while_serving_restores_and_no_token_revoked_since_works_again() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = Daemon::start(dir.path());
    daemon.enrol(PHONE, "1001");
    let created = json_of(
        &daemon.cli(&daemon.admin_token, &["token", "create", "--name", "nightly", "--role", "operator", "--json"]),
    );
    let nightly = created["token"].as_str().unwrap().to_owned();
    assert!(daemon.cli(&nightly, &["device", "list"]).status.success());

    let backup = dir.path().join("backup.db");
    let backed_up = sipprovd(&["backup", backup.to_str().unwrap(), "--config"], dir.path());
    assert!(backed_up.status.success(), "{}", String::from_utf8_lossy(&backed_up.stderr));
    assert!(String::from_utf8_lossy(&backed_up.stdout).contains("Backed up 1 devices"));
    assert_eq!(std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777, 0o600);
    let again = sipprovd(&["backup", backup.to_str().unwrap(), "--config"], dir.path());
    assert!(String::from_utf8_lossy(&again.stderr).contains("never overwrites"), "{again:?}");

    // After the backup: the nightly token is revoked, another phone enrolled.
    let tokens = json_of(&daemon.cli(&daemon.admin_token, &["token", "list", "--json"]));
    let id = tokens["tokens"].as_array().unwrap().iter().find(|t| t["name"] == "nightly").unwrap()["id"].clone();
    let id = id.as_str().unwrap();
    assert!(daemon.cli(&daemon.admin_token, &["token", "revoke", id]).status.success());
    daemon.enrol("001565000002", "1002");
    let refused = sipprovd(&["restore", backup.to_str().unwrap(), "--config"], dir.path());
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("stop it before a restore"), "{refused:?}");

    let before = daemon.auditor_token.clone();
    let _ = daemon.child.kill();
    let _ = daemon.child.wait();
    let restored = sipprovd(&["restore", backup.to_str().unwrap(), "--config"], dir.path());
    assert!(restored.status.success(), "{}", String::from_utf8_lossy(&restored.stderr));
    let said = String::from_utf8_lossy(&restored.stdout);
    assert!(said.contains("Restored 1 devices") && said.contains("Revoked all 3 API tokens"), "{said}");

    let admin = sipprovd(&["token", "create", "--role", "admin", "--name", "after-restore", "--config"], dir.path());
    let admin = String::from_utf8(admin.stdout).unwrap().trim().to_owned();
    let daemon = Daemon::run(dir.path(), admin.clone(), admin.clone());
    assert_eq!(
        daemon.cli(&nightly, &["device", "list"]).status.code(),
        Some(3),
        "a token revoked after the backup stays revoked"
    );
    assert_eq!(daemon.cli(&before, &["device", "list"]).status.code(), Some(3), "so does every token of the backup");
    let listed = json_of(&daemon.cli(&admin, &["device", "list", "--json"]));
    let macs: Vec<_> =
        listed["devices"].as_array().unwrap().iter().map(|d| d["mac"].as_str().unwrap().to_owned()).collect();
    assert_eq!(macs, [PHONE], "the database as it was at the backup");
    let audit = json_of(&daemon.cli(&admin, &["audit", "--kind", "token-revoked", "--json"]));
    assert!(
        audit["events"].as_array().unwrap().iter().any(|e| e["detail"].as_str().unwrap().contains("sipprovd restore")),
        "{audit}"
    );
}

#[test]
fn check_finds_a_digest_listener_on_a_taken_port_and_a_rating_that_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    prepare_demo(dir.path());
    let config_path = dir.path().join("sipprov.toml");
    let config = std::fs::read_to_string(&config_path).unwrap().replacen(
        "listen = \"127.0.0.1:0\"",
        "listen = \"127.0.0.1:18443\"",
        1,
    ) + "\n[digest]\nlisten = \"0.0.0.0:18443\"\n\n[[policy]]\nvendor = \"grandstream\"\nmin_rating = 3\n";
    std::fs::write(&config_path, &config).unwrap();
    let bad = sipprovd(&["check", "--config"], dir.path());
    assert_eq!(bad.status.code(), Some(1));
    let report = String::from_utf8(bad.stdout).unwrap();
    assert!(
        report.contains("[digest] listen 0.0.0.0:18443 and [phones] listen 127.0.0.1:18443 use the same port"),
        "{report}"
    );
    let policy_line = config.lines().position(|l| l.starts_with("min_rating")).unwrap() + 1;
    let at = format!("{}:{policy_line}: ", config_path.display());
    assert!(report.lines().any(|l| l.starts_with(&at) && l.contains("min_rating is 4 or 5, not 3")), "{report}");
}

#[test]
fn each_phone_gets_each_setting_from_its_nearest_layer() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with(dir.path(), |dir| {
        append_config(
            dir,
            "[vendor_settings.yealink]\nntp_server = \"ntp.vendor.example\"\n\n\
             [site_settings.leeds]\nntp_server = \"ntp.leeds.example\"\n",
        );
    });
    for device in [
        serde_json::json!({"mac": "00:15:65:00:00:01", "user_name": "1001"}),
        serde_json::json!({"mac": "00:15:65:00:00:02", "user_name": "1002", "site": "leeds"}),
        serde_json::json!({"mac": "00:15:65:00:00:03", "user_name": "1003", "site": "leeds",
            "settings": {"ntp_server": "ntp.desk.example"}}),
    ] {
        let (status, answer) = daemon.admin("POST", "/v1/devices", &device);
        assert_eq!(status, 201, "{answer}");
    }
    for (mac, layer, ntp) in [
        ("001565000001", "its vendor's group", "ntp.vendor.example"),
        ("001565000002", "its site's group over its vendor's", "ntp.leeds.example"),
        ("001565000003", "its own over its site's", "ntp.desk.example"),
    ] {
        let (status, config) = daemon.fetch_as_phone(mac);
        assert_eq!(status, Some(200), "{mac}: {config}");
        assert!(config.contains(&format!("local_time.ntp_server1 = {ntp}\n")), "{mac} gets {layer}: {config}");
    }
}
