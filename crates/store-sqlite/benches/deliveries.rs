//! Concurrent first deliveries on SQLite, without and with group commit: per second, and the
//! process's CPU time per delivery (what a busy server pays).
//!
//! ```text
//! cargo bench -p sipprov-store-sqlite --bench deliveries
//! ```
//!
//! Each delivery is one durable transaction (`synchronous=FULL`): the device moves from Issued to
//! Delivered, its key is pinned, and two audit events are appended. Both variants run in the same
//! process on the same disk, one after the other, so the ratio is what to read; absolute numbers
//! depend on the disk's fsync latency.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a benchmark program

use std::sync::Arc;
use std::thread;
use std::time::Instant;

use sipprov_credentials::{Account, Credentials, FetchRequest, Fetched, Keyring, Lifecycle, Store, SystemClock};
use sipprov_identity::Mac;
use sipprov_store_sqlite::{SqliteOptions, SqliteStore};

const DEVICES: usize = 5000;
const THREADS: usize = 32;

/// This process's user and system CPU time so far, in clock ticks (Linux; `None` elsewhere).
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// Deliveries per second, and CPU microseconds per delivery when the platform tells.
fn deliveries(group_commit: bool) -> (f64, Option<f64>) {
    // On the target directory's disk, not a tmpfs, so fsync costs what it costs in production.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let store = Arc::new(
        SqliteStore::open_with(dir.path().join("bench.db"), SqliteOptions { group_commit, ..SqliteOptions::default() })
            .unwrap(),
    );
    let keyring = Keyring::parse(&Keyring::generate_file(1, None).unwrap()).unwrap();
    let credentials =
        Arc::new(Credentials::new(store as Arc<dyn Store>, Lifecycle::default(), Some(keyring), Arc::new(SystemClock)));
    let macs: Vec<Mac> = (0..DEVICES).map(|n| Mac::from_bytes([0x02, 0, 0, 0, (n >> 8) as u8, n as u8])).collect();
    for mac in &macs {
        let account = Account::new(1, "1001", format!("sp-{mac}"), "Desk");
        credentials.enrol(*mac, vec![account], Vec::new()).unwrap();
    }
    let (started, cpu_before) = (Instant::now(), cpu_ticks());
    let workers: Vec<_> = macs
        .chunks(DEVICES / THREADS)
        .map(|chunk| {
            let (credentials, chunk) = (Arc::clone(&credentials), chunk.to_vec());
            thread::spawn(move || {
                for mac in chunk {
                    let request = FetchRequest {
                        spki_sha256: [1; 32],
                        peer: "192.0.2.1".into(),
                        user_agent: None,
                        certificate_vendor: None,
                        rating: 5,
                    };
                    let fetched = credentials.fetch(&mac, request).unwrap();
                    assert!(matches!(fetched, Fetched::Config { secrets: Some(_), .. }));
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let per_second = DEVICES as f64 / started.elapsed().as_secs_f64();
    // Clock ticks are 10 ms on Linux (USER_HZ 100).
    let cpu = cpu_before.zip(cpu_ticks()).map(|(before, after)| (after - before) as f64 * 10_000.0 / DEVICES as f64);
    (per_second, cpu)
}

fn main() {
    // `cargo test --benches` runs this too; keep that quick.
    if std::env::args().any(|arg| arg == "--test") {
        return;
    }
    let without = deliveries(false);
    let with = deliveries(true);
    let cpu = |(_, cpu): (f64, Option<f64>)| cpu.map_or_else(|| "?".to_owned(), |us| format!("{us:.0}"));
    println!("{DEVICES} first deliveries from {THREADS} threads, synchronous=FULL");
    println!("  without group commit: {:>8.0} deliveries/s, {:>5} us CPU each", without.0, cpu(without));
    println!("  with group commit:    {:>8.0} deliveries/s, {:>5} us CPU each", with.0, cpu(with));
    println!("  ratio:                {:>8.1}x", with.0 / without.0);
}
