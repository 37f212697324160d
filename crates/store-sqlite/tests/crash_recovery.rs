//! Kill -9 in a loop: a child process delivers, sweeps, rotates and re-arms against one database
//! and is killed with SIGKILL at a random moment, 50 times. After every kill the database must
//! pass `PRAGMA integrity_check`, hold every transition the child had been told was committed,
//! hold no plaintext secret anywhere (database or WAL), and keep nothing of a purged secret.
//!
//! The child is this test binary again, running the ignored `crash_worker` test with the
//! database path in `SIPPROV_CRASH_DB`; it prints one line per acknowledged operation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr, clippy::print_stdout)] // test code

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sipprov_credentials::{
    Account, AuditQuery, CredentialState, Credentials, FetchRequest, Fetched, IssuedSecrets, Keyring, Lifecycle,
    ManualClock, Reissue, Store, Timestamp,
};
use sipprov_identity::Mac;
use sipprov_store_sqlite::SqliteStore;

const KILLS: usize = 50;

fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).unwrap();
    u64::from_le_bytes(bytes)
}

#[test]
#[ignore = "the child side of kill_9_in_a_loop_loses_nothing_acknowledged; runs only when spawned by it"]
fn crash_worker() {
    let Some(db) = std::env::var_os("SIPPROV_CRASH_DB") else { return };
    let keys = std::env::var("SIPPROV_CRASH_KEYS").unwrap();
    let store = Arc::new(SqliteStore::open(&db).unwrap());
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix(1_900_000_000 + (random_u64() % 1_000_000) as i64)));
    let lifecycle = Lifecycle::new(Duration::from_secs(3), Duration::from_secs(6));
    let credentials = Credentials::new(
        store.clone() as Arc<dyn Store>,
        lifecycle,
        Some(Keyring::parse(&keys).unwrap()),
        clock.clone(),
    );
    let mut out = std::io::stdout().lock();
    let mut macs: Vec<Mac> = Vec::new();
    let started = Instant::now();
    // Bounded: the parent kills it long before, but it stops by itself if not.
    while started.elapsed() < Duration::from_secs(20) {
        clock.advance(Duration::from_secs(1));
        let roll = random_u64() % 10;
        if macs.is_empty() || roll < 3 {
            let [a, b, c, d, e, f, ..] = random_u64().to_le_bytes();
            let mac = Mac::from_bytes([0x02, a, b, c, d ^ e, f]);
            let account = Account::new(1, "1001", format!("sp-{mac}"), "Desk");
            if let Some(issued) = credentials.enrol(mac, vec![account], Vec::new()).unwrap() {
                acknowledge_issued(&mut out, &store, mac, "enrolled", &issued);
                macs.push(mac);
            }
        } else {
            let mac = macs[(random_u64() % macs.len() as u64) as usize];
            match roll {
                3..=6 => {
                    let request = FetchRequest {
                        spki_sha256: [1; 32],
                        peer: "192.0.2.1".into(),
                        user_agent: None,
                        certificate_vendor: None,
                        rating: 5,
                    };
                    // A delivery of the secrets is audited before it is answered; a poll without
                    // them is a read and leaves no event.
                    if let Fetched::Config { secrets: Some(_), .. } = credentials.fetch(&mac, request).unwrap() {
                        writeln!(out, "op {mac} delivered").unwrap();
                    }
                }
                7 => {
                    credentials.sweep(16).unwrap();
                    writeln!(out, "swept").unwrap();
                }
                _ => {
                    let issued = credentials.rotate(&mac, Reissue::default(), "crash-test").unwrap().unwrap();
                    acknowledge_issued(&mut out, &store, mac, "rotated", &issued);
                }
            }
        }
        out.flush().unwrap();
    }
}

/// Prints the acknowledgement of committed secrets: the operation, the plaintexts (so the parent
/// can look for them in the files) and their sealed form (so it can check purges erase it).
fn acknowledge_issued(out: &mut impl Write, store: &SqliteStore, mac: Mac, kind: &str, issued: &IssuedSecrets) {
    let sealed = store.device(&mac).unwrap().unwrap().secrets.unwrap();
    writeln!(out, "op {mac} {kind}").unwrap();
    let (sip_password, admin_password) = (issued.sip_password(1).unwrap(), issued.admin_password.as_ref().unwrap());
    writeln!(out, "plain {} {}", sip_password.expose(), admin_password.expose()).unwrap();
    let (sip, admin) = (
        hex::encode(sealed.sip_password(1).unwrap().as_bytes()),
        hex::encode(sealed.admin_password.unwrap().as_bytes()),
    );
    writeln!(out, "sealed {mac} {sip} {admin}").unwrap();
}

/// Everything the children were told was committed, across all runs.
#[derive(Default)]
struct Acknowledged {
    /// (mac, audit kind) -> how many such operations were acknowledged.
    operations: HashMap<(String, String), usize>,
    plaintexts: HashSet<String>,
    /// mac -> every sealed secret (hex) it ever held.
    sealed: HashMap<String, Vec<String>>,
}

impl Acknowledged {
    fn take(&mut self, line: &str) {
        let words: Vec<&str> = line.split(' ').collect();
        match words.as_slice() {
            ["op", mac, kind] => *self.operations.entry(((*mac).to_owned(), (*kind).to_owned())).or_default() += 1,
            ["plain", sip, admin] => {
                self.plaintexts.insert((*sip).to_owned());
                self.plaintexts.insert((*admin).to_owned());
            }
            ["sealed", mac, sip, admin] => {
                self.sealed.entry((*mac).to_owned()).or_default().extend([(*sip).to_owned(), (*admin).to_owned()]);
            }
            ["swept"] => {}
            other => panic!("unexpected worker line {other:?}"),
        }
    }
}

fn files_bytes(db: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(db).unwrap_or_default();
    for suffix in ["-wal", "-journal"] {
        let mut path = db.as_os_str().to_owned();
        path.push(suffix);
        bytes.extend(std::fs::read(path).unwrap_or_default());
    }
    bytes
}

/// The first of `needles` (each at least 8 bytes) found in `haystack`, in one pass keyed on
/// 8-byte prefixes.
fn find_any<'a>(haystack: &[u8], needles: impl IntoIterator<Item = &'a [u8]>) -> Option<&'a [u8]> {
    let prefix = |bytes: &[u8]| u64::from_le_bytes(bytes[..8].try_into().unwrap());
    let mut by_prefix: HashMap<u64, Vec<&[u8]>> = HashMap::new();
    for needle in needles {
        by_prefix.entry(prefix(needle)).or_default().push(needle);
    }
    if by_prefix.is_empty() {
        return None;
    }
    (0..haystack.len().saturating_sub(7)).find_map(|at| {
        let candidates = by_prefix.get(&prefix(&haystack[at..]))?;
        candidates.iter().copied().find(|needle| haystack[at..].starts_with(needle))
    })
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn kill_9_in_a_loop_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let keys = Keyring::generate_file(1, None).unwrap();
    let mut acknowledged = Acknowledged::default();
    // Needles already shown absent: nothing rewrites an old secret, so each is checked once
    // after it appears, and purged blobs once after their device is purged.
    let mut plaintexts_checked: HashSet<String> = HashSet::new();
    let mut blobs_checked: HashSet<String> = HashSet::new();
    for round in 0..KILLS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", "crash_worker", "--nocapture", "--test-threads=1", "-q"])
            .env("SIPPROV_CRASH_DB", &db)
            .env("SIPPROV_CRASH_KEYS", &keys)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (first_ack, working) = std::sync::mpsc::channel::<()>();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            let mut reader = BufReader::new(stdout);
            let mut line = Vec::new();
            // Only whole lines count: a line cut by the kill was never acknowledged to anyone.
            while reader.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
                if line.ends_with(b"\n") {
                    lines.push(String::from_utf8_lossy(&line[..line.len() - 1]).into_owned());
                    let _ = first_ack.send(());
                }
                line.clear();
            }
            lines
        });
        // Kill at a random moment after the child is working, however slowly the machine runs.
        working.recv_timeout(Duration::from_secs(60)).expect("the worker acknowledged nothing within 60 s");
        std::thread::sleep(Duration::from_millis(20 + random_u64() % 250));
        child.kill().unwrap();
        child.wait().unwrap();
        for line in reader.join().unwrap() {
            if line.starts_with("op ") || line.starts_with("plain ") || line.starts_with("sealed ") || line == "swept" {
                acknowledged.take(&line);
            }
        }

        // The files as the crash left them: no plaintext secret anywhere.
        let raw = files_bytes(&db);
        let fresh: Vec<String> = acknowledged.plaintexts.difference(&plaintexts_checked).cloned().collect();
        let leaked = find_any(&raw, fresh.iter().map(|p| p.as_bytes()));
        assert!(leaked.is_none(), "round {round}: plaintext secret in the database files");
        plaintexts_checked.extend(fresh);

        // Reopen (recovery), then check integrity and every acknowledged operation.
        let store = SqliteStore::open(&db).unwrap();
        store.integrity_check().unwrap_or_else(|e| panic!("round {round}: {e}"));
        let events = store.audit(&AuditQuery { limit: usize::MAX, ..AuditQuery::default() }).unwrap();
        let mut found: HashMap<(String, String), usize> = HashMap::new();
        for event in &events {
            *found
                .entry((event.event.mac.map(|m| m.to_string()).unwrap_or_default(), event.event.kind.name().to_owned()))
                .or_default() += 1;
        }
        for (key, count) in &acknowledged.operations {
            let durable = found.get(key).copied().unwrap_or(0);
            assert!(durable >= *count, "round {round}: {key:?} acknowledged {count} times, {durable} in the audit log");
        }

        // Nothing of a purged or dormant device's secrets survives compaction, not even sealed
        // (secure_delete alone leaves the copies SQLite makes when it rebalances pages).
        store.compact().unwrap_or_else(|e| panic!("round {round}: {e}"));
        let mut purged_blobs = Vec::new();
        for (mac, sealed) in &acknowledged.sealed {
            let device = store.device(&mac.parse().unwrap()).unwrap().unwrap();
            if matches!(device.state, CredentialState::Purged | CredentialState::Dormant { .. }) {
                assert!(device.secrets.is_none());
                purged_blobs
                    .extend(sealed.iter().filter(|blob| blobs_checked.insert((*blob).clone())).map(|blob| unhex(blob)));
            }
        }
        let recoverable = find_any(&files_bytes(&db), purged_blobs.iter().map(Vec::as_slice));
        assert!(recoverable.is_none(), "round {round}: a purged secret is still in the database files");
        drop(store);
    }
    let delivered = acknowledged.operations.keys().filter(|(_, kind)| kind == "delivered").count();
    assert!(
        delivered > 0 && acknowledged.operations.len() > KILLS,
        "the workers did real work: {}",
        acknowledged.operations.len()
    );
    let kinds: HashSet<&str> = acknowledged.operations.keys().map(|(_, kind)| kind.as_str()).collect();
    assert!(kinds.contains("rotated") && kinds.contains("enrolled"), "{kinds:?}");
}
