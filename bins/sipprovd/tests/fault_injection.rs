//! Faults injected into the real daemon: a sealing key missing, malformed, unreadable or wrong;
//! the database locked by another writer; the disk full; a broken template override at reload;
//! the wall clock jumping backwards and forwards. Each is refused with a clear error or answered
//! with 503, and consumes nothing: once the fault is gone the phone gets its password as if
//! nothing had happened.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

mod support;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Daemon, have_tools, json_of, phone_tls};

const PHONE: &str = "001565000001";
const OTHER: &str = "001565000002";

/// A demo phone's fetch of its own file, waiting up to 30 s for the answer: (status, body).
fn fetch(daemon: &Daemon, mac: &str) -> (u16, String) {
    let mut stream = phone_tls(daemon, mac, "127.0.0.1").unwrap();
    stream.sock.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let request = format!("GET /{mac}.cfg HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    // The server closes once it has answered, with or without close_notify.
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default())
}

fn password_line(body: &str) -> Option<&str> {
    body.lines().find(|line| line.starts_with("account.1.password"))
}

/// `mac`'s lifecycle state, as the admin API reports it.
fn state(daemon: &Daemon, mac: &str) -> String {
    let device = json_of(&daemon.cli(&daemon.auditor_token, &["device", "show", mac, "--json"]));
    device["state"].as_str().unwrap().to_owned()
}

/// `sipprovd run` that must refuse to start: its error output, within 30 s.
fn refused_start(dir: &Path) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sipprovd"))
        .args(["run", "--config"])
        .arg(dir.join("sipprov.toml"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(!status.success(), "sipprovd exited successfully");
            let mut stderr = String::new();
            child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
            return stderr;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("sipprovd started when it should have refused to");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_sealing_key_missing_malformed_or_unreadable_stops_the_start_and_a_wrong_one_consumes_nothing() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());
    daemon.enrol(PHONE, "1001");
    let (admin_token, auditor_token) = (daemon.admin_token.clone(), daemon.auditor_token.clone());
    drop(daemon);
    let key = dir.path().join("sealing.key");
    let good = std::fs::read(&key).unwrap();

    std::fs::remove_file(&key).unwrap();
    let error = refused_start(dir.path());
    assert!(error.contains("sealing.key"), "the missing key file is named: {error}");

    std::fs::write(&key, "not a key\n").unwrap();
    let error = refused_start(dir.path());
    assert!(error.contains("sealing.key"), "the malformed key file is named: {error}");

    std::fs::remove_file(&key).unwrap();
    std::fs::create_dir(&key).unwrap();
    let error = refused_start(dir.path());
    assert!(error.contains("sealing.key"), "the unreadable key file is named: {error}");
    std::fs::remove_dir(&key).unwrap();

    // Another valid key, with the same key id: the secrets sealed under the right one cannot be
    // opened, so nothing is delivered and nothing consumed.
    let output = Command::new(env!("CARGO_BIN_EXE_sipprovd")).arg("keygen").arg(&key).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let wrong = Daemon::run(dir.path(), admin_token.clone(), auditor_token.clone());
    let (status, body) = fetch(&wrong, PHONE);
    assert_eq!(status, 503, "a secret the key cannot open: {body}");
    assert_eq!(state(&wrong, PHONE), "issued", "nothing consumed");
    drop(wrong);

    std::fs::remove_file(&key).unwrap();
    std::fs::write(&key, &good).unwrap();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let right = Daemon::run(dir.path(), admin_token, auditor_token);
    let (status, body) = fetch(&right, PHONE);
    assert_eq!(status, 200, "{body}");
    assert!(password_line(&body).is_some(), "the password, delivered now: {body}");
}

#[test]
fn a_database_locked_by_another_writer_answers_503_and_consumes_nothing() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with(dir.path(), |dir| {
        let path = dir.join("sipprov.toml");
        let config = std::fs::read_to_string(&path).unwrap();
        let config: Vec<&str> = config
            .lines()
            .map(|line| if line.starts_with("grace_seconds") { "grace_seconds = 1" } else { line })
            .collect();
        std::fs::write(path, config.join("\n")).unwrap();
    });
    daemon.enrol(PHONE, "1001");
    daemon.enrol(OTHER, "1002");
    // OTHER is provisioned: delivered, and purged after its grace.
    let (status, body) = fetch(&daemon, OTHER);
    assert_eq!((status, password_line(&body).is_some()), (200, true), "{body}");
    std::thread::sleep(Duration::from_millis(1500));
    let (status, body) = fetch(&daemon, OTHER);
    assert_eq!((status, password_line(&body)), (200, None), "{body}");

    // Another process holds the write lock for longer than the daemon waits for it (10 s).
    let locker = rusqlite::Connection::open(dir.path().join("sipprov.db")).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let started = Instant::now();
    let (status, body) = fetch(&daemon, PHONE);
    assert_eq!(status, 503, "a first delivery cannot be recorded: {body}");
    assert!(started.elapsed() < Duration::from_secs(25), "answered within the wait for the lock");
    // A provisioned phone's poll changes nothing and writes nothing: served under the lock.
    let (status, body) = fetch(&daemon, OTHER);
    assert_eq!(status, 200, "a read under a writer's lock: {body}");
    locker.execute_batch("ROLLBACK").unwrap();
    drop(locker);

    assert_eq!(state(&daemon, PHONE), "issued", "nothing consumed");
    let (status, body) = fetch(&daemon, PHONE);
    assert_eq!(status, 200, "{body}");
    assert!(password_line(&body).is_some(), "the password, delivered now: {body}");
}

#[test]
fn a_template_override_broken_at_reload_is_refused_and_the_last_good_templates_serve() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with(dir.path(), |dir| {
        let templates = dir.join("templates").join("yealink");
        std::fs::create_dir_all(&templates).unwrap();
        let shipped = include_str!("../../../crates/template/templates/yealink/device.cfg");
        std::fs::write(templates.join("device.cfg"), format!("# local override\n{shipped}")).unwrap();
        let path = dir.join("sipprov.toml");
        let config = std::fs::read_to_string(&path).unwrap() + "\n[templates]\noverrides = \"templates\"\n";
        std::fs::write(path, config).unwrap();
    });
    daemon.enrol(PHONE, "1001");
    let (status, before) = fetch(&daemon, PHONE);
    assert_eq!(status, 200, "{before}");
    assert!(before.contains("# local override"), "the override serves: {before}");

    let template = dir.path().join("templates/yealink/device.cfg");
    std::fs::write(&template, "# broken override\n{% if %}\n").unwrap();
    daemon.signal("HUP");
    support::wait_until("the reload is refused", || daemon.log_contains("reload refused"));
    let (status, after) = fetch(&daemon, PHONE);
    assert_eq!(status, 200, "{after}");
    assert!(after.contains("# local override") && !after.contains("broken"), "the last good template: {after}");
    let refusal = daemon.output.lock().unwrap().iter().find(|line| line.contains("reload refused")).cloned().unwrap();
    assert!(refusal.contains("device.cfg"), "the refusal names the file: {refusal}");
}

#[test]
fn the_wall_clock_stepping_back_ends_the_grace_and_stepping_forward_makes_the_unfetched_dormant() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clock = dir.path().join("clock-offset");
    let Some(env) = support::faketime("+0", Some(&clock)) else { return };
    let prepared = Daemon::start(dir.path());
    let (admin_token, auditor_token) = (prepared.admin_token.clone(), prepared.auditor_token.clone());
    drop(prepared);
    let daemon = Daemon::run_with_env(&env, dir.path(), admin_token, auditor_token);
    daemon.enrol(PHONE, "1001");
    daemon.enrol(OTHER, "1002");
    let (status, body) = fetch(&daemon, PHONE);
    assert_eq!((status, password_line(&body).is_some()), (200, true), "{body}");

    // An hour back, inside what was the grace: the grace ends at once rather than lasting an
    // hour longer.
    std::fs::write(&clock, "-1h").unwrap();
    let (status, body) = fetch(&daemon, PHONE);
    assert_eq!(status, 200, "{body}");
    assert!(password_line(&body).is_none(), "no password once the clock stepped back: {body}");

    // Twenty days on: the phone that never fetched is dormant, the provisioned one still served.
    std::fs::write(&clock, "+20d").unwrap();
    let (status, _) = fetch(&daemon, OTHER);
    assert_eq!(status, 404, "dormant");
    assert!(state(&daemon, OTHER).starts_with("dormant"));
    let (status, body) = fetch(&daemon, PHONE);
    assert_eq!(status, 200, "{body}");

    // And back to now: nothing comes back to life.
    std::fs::write(&clock, "+0").unwrap();
    assert_eq!(fetch(&daemon, OTHER).0, 404);
    let (status, body) = fetch(&daemon, PHONE);
    assert_eq!((status, password_line(&body)), (200, None), "{body}");
    let audit = json_of(&daemon.cli(&daemon.auditor_token, &["audit", "--mac", OTHER, "--json"]));
    let kinds: Vec<&str> = audit["events"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    assert!(kinds.contains(&"dormant"), "{kinds:?}");
}

/// Whether this process may mount a file system in a mount namespace of its own.
fn can_mount() -> bool {
    let root = Command::new("id").arg("-u").output().is_ok_and(|out| out.stdout == b"0\n");
    let unshare = Command::new("unshare").arg("--version").output().is_ok();
    if root && unshare {
        return true;
    }
    assert!(std::env::var_os("CI").is_none(), "the disk-full test runs as root in CI");
    eprintln!("SKIPPED: the disk-full test needs root and unshare to mount a small tmpfs");
    false
}

#[test]
fn a_full_disk_refuses_writes_clearly_and_consumes_nothing() {
    if !have_tools() || !can_mount() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The database in state/, which the daemon sees as a 4 MiB tmpfs of its own.
    let daemon = Daemon::start_with(dir.path(), |dir| {
        std::fs::create_dir(dir.join("state")).unwrap();
        let path = dir.join("sipprov.toml");
        let config =
            std::fs::read_to_string(&path).unwrap().replace("sqlite = \"sipprov.db\"", "sqlite = \"state/sipprov.db\"");
        std::fs::write(path, config).unwrap();
    });
    daemon.enrol(PHONE, "1001");
    let (admin_token, auditor_token) = (daemon.admin_token.clone(), daemon.auditor_token.clone());
    drop(daemon);
    std::fs::rename(dir.path().join("state"), dir.path().join("seed")).unwrap();
    std::fs::create_dir(dir.path().join("state")).unwrap();
    let mut command = Command::new("unshare");
    command
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(r#"mount -t tmpfs -o size=4m,mode=0700 tmpfs "$0/state" && cp -p "$0"/seed/* "$0/state/" && exec "$1" run --config "$0/sipprov.toml""#)
        .arg(dir.path())
        .arg(env!("CARGO_BIN_EXE_sipprovd"));
    let daemon = Daemon::spawn(command, dir.path(), admin_token, auditor_token);

    // Fill the daemon's tmpfs, as it sees it, to the last byte.
    let filler = format!("/proc/{}/root{}/state/filler", daemon.child.id(), dir.path().display());
    let mut file = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while file.write_all(&chunk).and_then(|()| file.sync_all()).is_ok() {}
    while file.write_all(&[0]).and_then(|()| file.sync_all()).is_ok() {}
    drop(file);

    // Writes fail with a clear error until one has used up what room the WAL had left.
    let mut refused = None;
    for n in 0..200 {
        let mac = format!("0015650100{n:02x}");
        let (status, body) = daemon.admin("POST", "/v1/devices", &json!({"mac": mac, "user_name": format!("2{n:03}")}));
        if status != 201 {
            refused = Some((mac, status, body));
            break;
        }
    }
    let (mac, status, body) = refused.expect("a full disk refuses an enrolment");
    assert_eq!(status, 503, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "a clear error: {body}");
    let (status, body) = fetch(&daemon, PHONE);
    assert_eq!(status, 503, "a first delivery cannot be recorded: {body}");

    std::fs::remove_file(&filler).unwrap();
    let (status, _) = daemon.admin("GET", &format!("/v1/devices/{mac}"), &Value::Null);
    assert_eq!(status, 404, "the refused enrolment left nothing");
    assert_eq!(state(&daemon, PHONE), "issued", "nothing consumed");
    let (status, body) = fetch(&daemon, PHONE);
    assert_eq!(status, 200, "{body}");
    assert!(password_line(&body).is_some(), "the password, delivered now: {body}");
}
