//! Kill -9 in a loop, against the real daemon: phones storm it with first deliveries and
//! repeat fetches while an operator rotates passwords, and `sipprovd` is killed with SIGKILL at
//! a random moment, then started again, 30 times (on SQLite; 10 on PostgreSQL); or, on
//! PostgreSQL, the database is restarted under it 5 times. After every round: every password a
//! phone was given has its delivery in the audit log, every rotation the operator was told of
//! is there too, no device in a purged or dormant state keeps a secret, no password was served
//! after its grace, and the SQLite database passes `PRAGMA integrity_check`. After the last
//! round the daemon still delivers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

mod support;

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use sipprov_credentials::{AuditKind, AuditQuery, CredentialState, DeviceQuery, Store};
use sipprov_store_postgres::{Proxy, TestDatabase};
use sipprov_store_sqlite::SqliteStore;
use support::phone_ca::PhoneCa;
use support::{Daemon, have_tools, tls_as};

const PHONES: usize = 3_000;
const GRACE_SECONDS: u64 = 2;

/// A limit no page of this test reaches.
const EVERYTHING: usize = 10_000_000;

fn mac_of(n: usize) -> String {
    format!("000b82{:06x}", 0x100 + n)
}

/// What the phones and the operator were told, each with when.
#[derive(Default)]
struct Seen {
    /// (MAC, password, when a phone received it).
    passwords: Vec<(String, String, SystemTime)>,
    /// (MAC, the new password) of every rotation the admin API confirmed.
    rotations: Vec<(String, String)>,
}

/// Raises the limits out of the way (one address plays every phone) and shortens the grace.
fn storm_config(dir: &Path, store: Option<&str>) {
    let path = dir.join("sipprov.toml");
    let config: Vec<String> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|line| match (line, store) {
            (_, Some(url)) if line.starts_with("sqlite = ") => format!("postgres = {url:?}"),
            _ if line.starts_with("grace_seconds") => format!("grace_seconds = {GRACE_SECONDS}"),
            _ => line.to_owned(),
        })
        .collect();
    let limits = "\n[limits]\nconnections_burst = 1000000\nconnection_interval_ms = 1\nrequests_burst = 1000000\n\
                  request_interval_ms = 1\ndevice_requests_burst = 1000000\ndevice_request_interval_ms = 1\n\
                  max_connections_per_source = 10000\nnever_ban = [\"127.0.0.0/8\"]\n";
    std::fs::write(path, config.join("\n") + limits).unwrap();
}

/// One phone's fetch of its own file; the password if one came with it.
fn fetch(daemon: &Daemon, phone: &(std::path::PathBuf, std::path::PathBuf), mac: &str) -> Option<String> {
    let mut stream = tls_as(daemon, &phone.0, &phone.1, "127.0.0.1", &[], &[]).ok()?;
    let request = format!("GET /cfg{mac}.xml HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = Vec::new();
    // The server may close without close_notify once it has answered; a kill mid-answer cuts
    // the answer short: only a whole answer (its Content-Length all there) counts as received.
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let length: usize =
        head.lines().find_map(|line| line.to_ascii_lowercase().strip_prefix("content-length:")?.trim().parse().ok())?;
    if !head.starts_with("HTTP/1.1 200") || body.len() != length {
        return None;
    }
    support::grandstream_password(body).filter(|password| !password.is_empty())
}

fn random(below: u64) -> u64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).unwrap();
    u64::from_le_bytes(bytes) % below
}

/// Runs the storm and the kill loop against a daemon prepared by `configure`, then checks
/// `store` after every kill.
/// What befalls the daemon each round.
enum Fault<'a> {
    /// SIGKILL, then a restart.
    KillDaemon,
    /// The database goes away for a moment, as in a restart: its connections are closed and new
    /// ones refused, then it comes back; the daemon runs on and must recover by itself.
    RestartDatabase(&'a Proxy),
}

fn kill_loop(
    rounds: usize,
    fault: Fault<'_>,
    configure: impl FnOnce(&Path),
    open_store: impl Fn(&Path) -> Arc<dyn Store>,
) {
    let dir = tempfile::tempdir().unwrap();
    let mut ca = None;
    let first = Daemon::start_with(dir.path(), |dir| {
        ca = Some(PhoneCa::install(dir));
        configure(dir);
    });
    let ca = ca.unwrap();
    let csv: String = std::iter::once("mac,user_name,vendor\n".to_owned())
        .chain((0..PHONES).map(|n| format!("{},{},grandstream\n", mac_of(n), 3000 + n)))
        .collect();
    std::fs::write(dir.path().join("phones.csv"), csv).unwrap();
    let imported =
        first.cli(&first.admin_token, &["device", "import", dir.path().join("phones.csv").to_str().unwrap()]);
    assert!(imported.status.success(), "{}", String::from_utf8_lossy(&imported.stderr));
    let phones: Arc<Vec<_>> = Arc::new((0..PHONES).map(|n| ca.phone(&mac_of(n), &format!("phone-{n}"))).collect());
    let (admin_token, auditor_token) = (first.admin_token.clone(), first.auditor_token.clone());

    // The daemon serving now (none while it is down): each start picks new ports.
    let current: Arc<RwLock<Option<Arc<Daemon>>>> = Arc::new(RwLock::new(Some(Arc::new(first))));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    let next = Arc::new(AtomicUsize::new(0));
    for _ in 0..4 {
        let (current, seen, stop, phones, next) =
            (current.clone(), seen.clone(), stop.clone(), phones.clone(), next.clone());
        workers.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let Some(daemon) = current.read().unwrap().clone() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                // Half the fetches are first boots while phones never fetched remain, the rest
                // phones fetching again (within their grace or after it).
                let fresh = next.fetch_add(usize::from(random(2) == 0), Ordering::Relaxed);
                let n = if fresh < PHONES { fresh } else { random(PHONES as u64) as usize };
                let mac = mac_of(n);
                if let Some(password) = fetch(&daemon, &phones[n], &mac) {
                    seen.lock().unwrap().passwords.push((mac, password, SystemTime::now()));
                }
            }
        }));
    }
    {
        let (current, seen, stop) = (current.clone(), seen.clone(), stop.clone());
        workers.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                let Some(daemon) = current.read().unwrap().clone() else { continue };
                let mac = mac_of(random(PHONES as u64) as usize);
                let (status, body) = daemon.admin(
                    "POST",
                    &format!("/v1/devices/{mac}/rotate"),
                    &serde_json::json!({"reveal_password": true}),
                );
                if status == 200 {
                    let password = body["registrar"]["password"].as_str().unwrap().to_owned();
                    seen.lock().unwrap().rotations.push((mac, password));
                }
            }
        }));
    }

    let mut deliveries_checked = 0;
    let mut back_at = SystemTime::now();
    for round in 0..rounds {
        std::thread::sleep(Duration::from_millis(300 + random(1200)));
        match fault {
            Fault::KillDaemon => {
                let daemon = current.write().unwrap().take().unwrap();
                // SIGKILL: no drain, no flush, no goodbye.
                let pid = daemon.child.id();
                assert!(Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap().success());
                wait_for_exit(pid);
                let store = open_store(dir.path());
                deliveries_checked = check(round, &*store, &seen.lock().unwrap());
                drop(store);
                drop(daemon);
                let next = Daemon::run(dir.path(), admin_token.clone(), auditor_token.clone());
                *current.write().unwrap() = Some(Arc::new(next));
                back_at = SystemTime::now();
            }
            Fault::RestartDatabase(proxy) => {
                proxy.cut();
                std::thread::sleep(Duration::from_millis(200 + random(1800)));
                proxy.restore();
                back_at = SystemTime::now();
                let store = open_store(dir.path());
                deliveries_checked = check(round, &*store, &seen.lock().unwrap());
            }
        }
    }
    // The storm goes on after the last fault: the daemon recovered by itself.
    std::thread::sleep(Duration::from_secs(3));
    let since_back = seen.lock().unwrap().passwords.iter().filter(|(_, _, at)| *at > back_at).count();
    assert!(since_back > 0, "no password was delivered after the last fault");
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.join().unwrap();
    }
    let seen = seen.lock().unwrap();
    eprintln!(
        "{rounds} rounds: {} passwords received ({deliveries_checked} devices delivered), {} rotations",
        seen.passwords.len(),
        seen.rotations.len()
    );
    // Deliveries in flight around every fault are what the checks are about: a slow machine
    // (the tests run side by side) still makes dozens a round.
    assert!(deliveries_checked >= 20 * rounds, "the storm delivered too little to prove anything");
    assert!(!seen.rotations.is_empty(), "the operator rotated nothing");
}

fn wait_for_exit(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Path::new(&format!("/proc/{pid}/stat")).exists() {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // A zombie is dead; its parent (the Daemon's Drop) reaps it.
        if state.split_whitespace().nth(2) == Some("Z") {
            return;
        }
        assert!(Instant::now() < deadline, "sipprovd {pid} survived SIGKILL");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The invariants after a kill; returns how many devices have a first delivery on record.
fn check(round: usize, store: &dyn Store, seen: &Seen) -> usize {
    let events = store.audit(&AuditQuery { limit: EVERYTHING, ..AuditQuery::default() }).unwrap();
    // Per device: secrets served, and first deliveries (one per password issued).
    let mut delivered: HashMap<String, usize> = HashMap::new();
    let mut first_deliveries: HashMap<String, usize> = HashMap::new();
    let mut rotated: HashMap<String, usize> = HashMap::new();
    // When each device's current password was first delivered: it is served again only within
    // the grace after that (audit times are whole seconds, hence the second more).
    let mut first_at: HashMap<String, i64> = HashMap::new();
    for event in &events {
        let mac = event.event.mac.map(|m| m.to_string()).unwrap_or_default();
        let at = event.event.at.unix();
        match event.event.kind {
            AuditKind::Delivered if event.event.detail.starts_with("secrets=yes") => {
                if event.event.detail.starts_with("secrets=yes first=yes") {
                    *first_deliveries.entry(mac.clone()).or_default() += 1;
                    first_at.insert(mac.clone(), at);
                } else {
                    let first = first_at.get(&mac).copied().unwrap_or(i64::MIN);
                    let late = at.saturating_sub(first);
                    let most = i64::try_from(GRACE_SECONDS).unwrap() + 1;
                    assert!(
                        late <= most,
                        "round {round}: {mac}'s password served again {late} s after its first delivery"
                    );
                }
                *delivered.entry(mac).or_default() += 1;
            }
            AuditKind::Rotated => *rotated.entry(mac).or_default() += 1,
            _ => {}
        }
    }
    // Every password a phone received was recorded as delivered before it was sent: each
    // answer with a secret is an audit event, each password a first delivery.
    let mut distinct: HashSet<(&str, &str)> = HashSet::new();
    let mut received: HashMap<&str, usize> = HashMap::new();
    for (mac, password, _) in &seen.passwords {
        *received.entry(mac.as_str()).or_default() += 1;
        distinct.insert((mac.as_str(), password.as_str()));
    }
    for (mac, count) in received {
        let recorded = delivered.get(mac).copied().unwrap_or(0);
        assert!(recorded >= count, "round {round}: {mac} received a secret {count} times, {recorded} on record");
    }
    let mut passwords: HashMap<&str, usize> = HashMap::new();
    for (mac, _) in &distinct {
        *passwords.entry(mac).or_default() += 1;
    }
    for (mac, count) in passwords {
        let recorded = first_deliveries.get(mac).copied().unwrap_or(0);
        assert!(
            recorded >= count,
            "round {round}: {mac} received {count} passwords, {recorded} first deliveries on record"
        );
    }
    // Every rotation the operator was told of is recorded.
    let mut told: HashMap<&str, usize> = HashMap::new();
    for (mac, _) in &seen.rotations {
        *told.entry(mac.as_str()).or_default() += 1;
    }
    for (mac, count) in told {
        let recorded = rotated.get(mac).copied().unwrap_or(0);
        assert!(recorded >= count, "round {round}: {mac} rotated {count} times, {recorded} on record");
    }
    // Nothing purged or dormant keeps a secret.
    for device in store.devices(&DeviceQuery { limit: EVERYTHING, ..DeviceQuery::default() }).unwrap() {
        if matches!(device.state, CredentialState::Purged | CredentialState::Dormant { .. }) {
            assert!(device.secrets.is_none(), "round {round}: {} is {:?} with a secret", device.mac, device.state);
        }
    }
    delivered.len()
}

#[test]
fn the_daemon_killed_30_times_under_a_storm_loses_nothing_it_acknowledged() {
    if !have_tools() {
        return;
    }
    let open = |dir: &Path| {
        let path = dir.join("sipprov.db");
        let store = SqliteStore::open(&path).unwrap();
        store.integrity_check().unwrap_or_else(|e| panic!("integrity_check: {e}"));
        Arc::new(store) as Arc<dyn Store>
    };
    kill_loop(30, Fault::KillDaemon, |dir| storm_config(dir, None), open);
}

#[test]
fn the_daemon_on_postgres_killed_10_times_under_a_storm_loses_nothing_it_acknowledged() {
    if !have_tools() {
        return;
    }
    let name = "the_daemon_on_postgres_killed_under_a_storm";
    let Some(database) = TestDatabase::for_test(name) else { return };
    let url = database.url().to_owned();
    let open = |dir: &Path| {
        let config = sipprovd::config::Config::load(&dir.join("sipprov.toml")).unwrap();
        config.store.open().unwrap()
    };
    kill_loop(10, Fault::KillDaemon, |dir| storm_config(dir, Some(&url)), open);
}

#[test]
fn the_daemon_on_postgres_restarted_under_it_5_times_loses_nothing_it_acknowledged() {
    if !have_tools() {
        return;
    }
    let Some(database) = TestDatabase::for_test("the_database_restarted_under_a_storm") else { return };
    let proxy = Proxy::in_front_of(database.url());
    let url = proxy.url().to_owned();
    // The checks read the database directly, not through the proxy the daemon uses.
    let direct = database.url().to_owned();
    let open = |dir: &Path| {
        let text = std::fs::read_to_string(dir.join("sipprov.toml")).unwrap().replace(&url, &direct);
        let config = sipprovd::config::Config::parse(&text, dir).unwrap();
        config.store.open().unwrap()
    };
    kill_loop(5, Fault::RestartDatabase(&proxy), |dir| storm_config(dir, Some(&url)), open);
}
