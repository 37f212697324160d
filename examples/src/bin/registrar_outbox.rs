//! Keep a registrar of one's own in step with sipprov's accounts, using `sipprov-registrar`
//! alone: enrolments and deletions queue their HA1 changes in the store, and an outbox drains
//! them into the registrar, holding them while it is down.
//!
//! ```text
//! cargo run -p sipprov-examples --bin registrar_outbox
//! ```
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sipprov_credentials::{Account, Credentials, Keyring, Lifecycle, SystemClock};
use sipprov_registrar::{Change, Outbox, Registrar, RegistrarError};
use sipprov_store_sqlite::SqliteStore;

/// The registrar: digest users and their MD5 HA1, and a switch to take it down.
#[derive(Default)]
struct Directory {
    users: Mutex<BTreeMap<String, String>>,
    down: AtomicBool,
}

impl Registrar for Directory {
    fn name(&self) -> &str {
        "directory"
    }

    fn apply(&self, change: &Change) -> Result<(), RegistrarError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(RegistrarError::Unavailable("the directory is down".into()));
        }
        let mut users = self.users.lock().map_err(|_| RegistrarError::Unavailable("poisoned".into()))?;
        match change {
            Change::Set { user, ha1 } => users.insert(user.clone(), ha1.md5.clone()),
            Change::Delete { user, .. } => users.remove(user),
        };
        Ok(())
    }
}

fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteStore::open(dir.path().join("sipprov.db"))?);
    let keyring = Keyring::parse(&Keyring::generate_file(1, None)?)?;
    let lifecycle = Lifecycle::new(Duration::from_secs(300), Duration::from_secs(14 * 86_400));
    let credentials = Credentials::new(store, lifecycle, Some(keyring), Arc::new(SystemClock));
    let credentials = Arc::new(credentials.with_registrar_realm("sip.example.net"));
    let directory = Arc::new(Directory::default());
    let outbox = Outbox::new(Arc::clone(&credentials), vec![directory.clone() as Arc<dyn Registrar>]);

    let mac = "00:15:65:00:00:01".parse()?;
    directory.down.store(true, Ordering::SeqCst);
    let accounts = vec![Account::new(1, "1001", "sp-1001", "Desk"), Account::new(2, "1002", "sp-1002", "Fax")];
    credentials.enrol(mac, accounts, Vec::new())?;
    println!("enrolled {mac}: {} changes queued", credentials.registrar_pending(10)?.len());
    let drained = outbox.drain()?;
    println!("directory down: {} pushed, {} still queued", drained.pushed, credentials.registrar_pending(10)?.len());
    directory.down.store(false, Ordering::SeqCst);
    println!("directory back: {} pushed", outbox.drain()?.pushed);
    for (user, ha1) in directory.users.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.iter() {
        println!("  {user}: HA1 of {} hex digits, never the password", ha1.len());
    }
    credentials.delete(&mac, "example")?;
    println!("deleted {mac}: {} pushed", outbox.drain()?.pushed);
    println!("directory users left: {}", directory.users.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.len());
    Ok(())
}
