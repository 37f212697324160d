//! `sipprovd` on PostgreSQL, end to end with `curl` as the phone. Two nodes sharing one
//! database: a password delivered by one node is not served by the other after the grace;
//! concurrent first fetches over both nodes deliver once; a ban made on one node closes the
//! other to that source; a re-arm on one is served by the other. A database that goes away:
//! provisioned phones are still served, nothing is consumed, and all recovers by itself.
//!
//! Needs `SIPPROV_TEST_DATABASE_URL` (each test makes a database of its own there); without it,
//! or without curl, the tests are skipped loudly (in CI they fail).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

mod support;

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use sipprov_store_postgres::{Proxy, TestDatabase};
use support::{Daemon, have_tools, json_of, phone_tls};

const PHONE: &str = "001565000001";
const RUSH: &str = "001565000002";
const GRACE_SECONDS: u64 = 3;

/// Points the demo's config at `url` instead of its SQLite file, with a short grace and a
/// limiter that bans a scanner after five misses.
fn on_postgres(url: &str) -> impl FnOnce(&Path) + '_ {
    move |dir| {
        let path = dir.join("sipprov.toml");
        let config: Vec<String> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|line| match line {
                _ if line.starts_with("sqlite = ") => format!("postgres = {url:?}\npostgres_timeout_seconds = 2"),
                _ if line.starts_with("grace_seconds") => format!("grace_seconds = {GRACE_SECONDS}"),
                _ => line.to_owned(),
            })
            .collect();
        let config = config.join("\n") + "\n[limits]\nscan_source_max_misses = 5\n";
        std::fs::write(path, config).unwrap();
    }
}

fn password_lines(body: &str) -> Vec<&str> {
    body.lines().filter(|line| line.starts_with("account.1.password")).collect()
}

/// The details of `mac`'s audit events of `kind`.
fn audited(daemon: &Daemon, mac: &str, kind: &str) -> Vec<String> {
    let audit = json_of(&daemon.cli(&daemon.auditor_token, &["audit", "--mac", mac, "--kind", kind, "--json"]));
    let events = audit["events"].as_array().cloned().unwrap_or_default();
    events.iter().map(|event| event["detail"].as_str().unwrap_or_default().to_owned()).collect()
}

#[test]
fn two_nodes_on_one_database_act_as_one_server() {
    if !have_tools() {
        return;
    }
    let Some(database) = TestDatabase::for_test("two_nodes_on_one_database_act_as_one_server") else { return };
    let dir = tempfile::tempdir().unwrap();
    let a = Daemon::start_with(dir.path(), on_postgres(database.url()));
    let b = a.another_node();
    assert_ne!(a.phones, b.phones);

    // Delivered by A; after the grace B has nothing to serve.
    a.enrol(PHONE, "1001");
    let (status, first) = a.fetch_as_phone(PHONE);
    assert_eq!(status, Some(200), "{first}");
    assert_eq!(password_lines(&first).len(), 1, "A delivers the password: {first}");
    std::thread::sleep(Duration::from_secs(GRACE_SECONDS + 1));
    let (status, later) = b.fetch_as_phone(PHONE);
    assert_eq!(status, Some(200), "{later}");
    assert!(password_lines(&later).is_empty(), "B served a password A's delivery used up: {later}");

    // Fifty concurrent first fetches of one phone, over both nodes, from fifty networks (so no
    // rate limit steps in): one first delivery in the audit, however many got the password again
    // within the grace.
    b.enrol(RUSH, "1002");
    let fetches: Vec<_> = (0..50u8)
        .map(|n| {
            let node = if n % 2 == 0 { (a.phones.clone(), a.dir.clone()) } else { (b.phones.clone(), b.dir.clone()) };
            std::thread::spawn(move || fetch_with_curl(&node.0, &node.1, &format!("127.1.{n}.1"), RUSH))
        })
        .collect();
    let served: Vec<(Option<u16>, String)> = fetches.into_iter().map(|fetch| fetch.join().unwrap()).collect();
    let with_password = served.iter().filter(|(_, body)| !password_lines(body).is_empty()).count();
    assert!(with_password >= 1, "nobody got the password: {:?}", served.iter().map(|s| s.0).collect::<Vec<_>>());
    let delivered = audited(&a, RUSH, "delivered");
    assert_eq!(delivered.len(), with_password, "each password served is audited: {delivered:#?}");
    let firsts = delivered.iter().filter(|detail| detail.contains("first=yes")).count();
    assert_eq!(firsts, 1, "one first delivery, whichever node served it: {delivered:#?}");
    assert_eq!(audited(&b, RUSH, "key-pinned").len(), 1, "one key pinned");

    // A re-arm on B is served by A: a fresh password, delivered again.
    std::thread::sleep(Duration::from_secs(GRACE_SECONDS + 1));
    let rearmed = b.cli(&b.admin_token, &["device", "rearm", PHONE]);
    assert!(rearmed.status.success(), "{}", String::from_utf8_lossy(&rearmed.stderr));
    let (status, again) = a.fetch_as_phone(PHONE);
    assert_eq!(status, Some(200), "{again}");
    assert_eq!(password_lines(&again).len(), 1, "A serves B's re-arm: {again}");
    assert_ne!(password_lines(&again), password_lines(&first), "a fresh password");

    // A scanner banned by A is refused by B once B refreshes its bans (every 30 s).
    let scanner = "127.0.9.9";
    assert_eq!(b.fetch_as_phone_from(scanner, PHONE).0, Some(200), "B serves the source before the ban");
    let mut tls = phone_tls(&a, PHONE, scanner).unwrap();
    for n in 0..10u32 {
        let request = format!("GET /0015650b{n:04x}.cfg HTTP/1.1\r\nHost: localhost\r\n\r\n");
        let mut buffer = [0u8; 4096];
        if tls.write_all(request.as_bytes()).and_then(|()| tls.read(&mut buffer)).map_or(true, |read| read == 0) {
            break;
        }
    }
    assert_eq!(a.fetch_as_phone_from(scanner, PHONE).0, None, "A bans the scanner: {}", a.all_output());
    let deadline = Instant::now() + Duration::from_secs(45);
    while b.fetch_as_phone_from(scanner, PHONE).0.is_some() {
        assert!(Instant::now() < deadline, "B never refused the source A banned");
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(b.fetch_as_phone_from("127.0.9.10", RUSH).0, Some(200), "B still serves everyone else");
}

/// `curl` as demo phone `mac`, from `source`, against the phone listener at `phones`.
fn fetch_with_curl(phones: &str, dir: &Path, source: &str, mac: &str) -> (Option<u16>, String) {
    let devices = dir.join("pki").join("devices");
    let output = std::process::Command::new("curl")
        .args(["--silent", "--max-time", "20", "--write-out", "\n%{http_code}", "--interface", source, "--cacert"])
        .arg(dir.join("pki").join("server-ca.pem"))
        .arg("--cert")
        .arg(devices.join(format!("{mac}.pem")))
        .arg("--key")
        .arg(devices.join(format!("{mac}.key")))
        .arg(format!("{phones}/{mac}.cfg"))
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", ""));
    (status.parse().ok().filter(|s| *s != 0), body.to_owned())
}

#[test]
fn check_reports_an_unreachable_database_and_run_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    support::prepare_demo(dir.path());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("postgres://sipprov:s3cret-pw@127.0.0.1:{}/sipprov", listener.local_addr().unwrap().port());
    drop(listener);
    on_postgres(&url)(dir.path());

    let check = support::sipprovd(&["check", "--config"], dir.path());
    let report = String::from_utf8_lossy(&check.stdout).into_owned() + &String::from_utf8_lossy(&check.stderr);
    assert!(!check.status.success(), "{report}");
    assert!(report.contains("PostgreSQL database 127.0.0.1/sipprov"), "{report}");
    assert!(report.contains("refused"), "the cause is named: {report}");
    assert!(!report.contains("s3cret-pw"), "the database password leaked: {report}");

    let started = Instant::now();
    let run = support::sipprovd(&["run", "--config"], dir.path());
    let output = String::from_utf8_lossy(&run.stdout).into_owned() + &String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "run started without its database: {output}");
    assert!(output.contains("cannot use the PostgreSQL database 127.0.0.1/sipprov"), "{output}");
    assert!(!output.contains("s3cret-pw"), "the database password leaked: {output}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn while_the_database_is_away_provisioned_phones_are_served_and_nothing_is_consumed() {
    if !have_tools() {
        return;
    }
    let test = "while_the_database_is_away_provisioned_phones_are_served_and_nothing_is_consumed";
    let Some(database) = TestDatabase::for_test(test) else { return };
    let proxy = Proxy::in_front_of(database.url());
    let dir = tempfile::tempdir().unwrap();
    let node = Daemon::start_with(dir.path(), on_postgres(proxy.url()));
    node.enrol(PHONE, "1001");
    assert_eq!(password_lines(&node.fetch_as_phone(PHONE).1).len(), 1);
    std::thread::sleep(Duration::from_secs(GRACE_SECONDS + 1));
    // The fetch after the grace purges the password; the poll after it is a steady one, read
    // from a provisioned record: what the node remembers.
    let (status, provisioned) = node.fetch_as_phone(PHONE);
    assert_eq!((status, password_lines(&provisioned).len()), (Some(200), 0), "{provisioned}");
    assert_eq!(node.fetch_as_phone(PHONE), (Some(200), provisioned.clone()));
    node.enrol(RUSH, "1002");

    proxy.cut();
    let (status, from_memory) = node.fetch_as_phone(PHONE);
    assert_eq!(status, Some(200), "a provisioned phone is served while the database is away: {from_memory}");
    assert_eq!(from_memory, provisioned, "the same config, without any secret");
    let (status, _) = node.fetch_as_phone(RUSH);
    assert_eq!(status, Some(503), "a first delivery needs the database");
    assert!(node.log_contains("the store does not answer"), "{}", node.all_output());

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(30);
    let delivered = loop {
        let (status, body) = node.fetch_as_phone(RUSH);
        if status == Some(200) {
            break body;
        }
        assert!(Instant::now() < deadline, "the node never recovered: {status:?}");
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(password_lines(&delivered).len(), 1, "the refused attempts consumed nothing: {delivered}");
    assert_eq!(audited(&node, RUSH, "delivered").len(), 1);
}
