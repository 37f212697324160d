//! Share one device inventory between two nodes through PostgreSQL, using
//! `sipprov-store-postgres` (with `sipprov-credentials`) alone.
//!
//! Two `PostgresStore`s on one database stand for two nodes. Node A enrols a phone; both nodes
//! then serve the phone's first fetch at the same moment: the row lock makes them take turns,
//! so one records the first delivery and pins the key, and the other serves within the grace.
//! After the grace, neither has the password any more.
//!
//! ```text
//! cargo run -p sipprov-examples --bin postgres_store -- postgres://postgres@127.0.0.1:5432/test
//! ```
//!
//! It creates its tables in that database if they are missing, and leaves its device there.
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sipprov_credentials::{
    Account, AuditKind, AuditQuery, Credentials, FetchRequest, Fetched, Keyring, Lifecycle, ManualClock, Timestamp,
};
use sipprov_identity::Mac;
use sipprov_store_postgres::{PostgresOptions, PostgresStore};

fn main() -> anyhow::Result<()> {
    let url = std::env::args().nth(1).context("usage: postgres_store POSTGRES_URL")?;
    let options = PostgresOptions::new(url);
    // Every node has the same sealing key file; here, the same generated key.
    let keys = Keyring::generate_file(1, None)?;
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix(1_800_000_000)));
    let node = |name: &str| -> anyhow::Result<Credentials> {
        let store = PostgresStore::connect(&options).with_context(|| format!("node {name}"))?;
        Ok(Credentials::new(Arc::new(store), Lifecycle::default(), Some(Keyring::parse(&keys)?), clock.clone()))
    };
    let (a, b) = (Arc::new(node("A")?), Arc::new(node("B")?));

    // A MAC no earlier run used, so every run starts from an issued device.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.subsec_nanos().to_be_bytes();
    let mac = Mac::from_bytes([0x00, 0x15, 0x65, nanos[1], nanos[2], nanos[3]]);
    a.enrol(mac, vec![Account::new(1, "1001", format!("sp-{mac}"), "Desk")], Vec::new())?.context("a new device")?;
    println!("node A enrolled {mac}");

    let request = FetchRequest {
        spki_sha256: [7; 32],
        peer: "192.0.2.10".into(),
        user_agent: None,
        certificate_vendor: None,
        rating: 5,
    };
    let fetches: Vec<_> = [("A", Arc::clone(&a)), ("B", Arc::clone(&b))]
        .into_iter()
        .map(|(name, node)| {
            let request = request.clone();
            std::thread::spawn(move || (name, node.fetch(&mac, request)))
        })
        .collect();
    for fetch in fetches {
        let (name, fetched) = fetch.join().map_err(|_| anyhow::anyhow!("a fetch panicked"))?;
        let served = matches!(fetched?, Fetched::Config { secrets: Some(_), .. });
        println!("node {name} served the password: {served}");
    }
    let events = b.store().audit(&AuditQuery { mac: Some(mac), ..AuditQuery::default() })?;
    let firsts = events.iter().filter(|e| e.event.kind == AuditKind::Delivered && e.event.detail.contains("first=yes"));
    let pins = events.iter().filter(|e| e.event.kind == AuditKind::KeyPinned);
    println!("first deliveries audited: {}, keys pinned: {}", firsts.count(), pins.count());

    clock.advance(Duration::from_secs(300));
    let Fetched::Config { secrets, .. } = b.fetch(&mac, request)? else { anyhow::bail!("refused") };
    println!("node B after the grace: password served: {}", secrets.is_some());
    println!("state: {}", a.store().device(&mac)?.context("enrolled")?.state.name());
    Ok(())
}
