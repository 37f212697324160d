//! Drive the credential lifecycle with your own store, using `sipprov-credentials` alone.
//!
//! The store below is what an ITSP with its own inventory database would write: here a map that
//! also keeps a journal of every state change, the seed of an audit trail.
//!
//! ```text
//! cargo run -p sipprov-examples --bin lifecycle_with_own_store
//! ```
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use sipprov_credentials::{Clock, DeviceRecord, Lifecycle, ManualClock, Store, StoreError, Timestamp, deliver};
use sipprov_identity::Mac;

#[derive(Default)]
struct JournalingStore {
    inner: Mutex<(BTreeMap<Mac, DeviceRecord>, Vec<String>)>,
}

impl Store for JournalingStore {
    fn insert_device(&self, record: &DeviceRecord) -> Result<bool, StoreError> {
        let mut guard = self.inner.lock().map_err(|_| StoreError::Corrupt("lock poisoned".into()))?;
        let (devices, journal) = &mut *guard;
        if devices.contains_key(&record.mac) {
            return Ok(false);
        }
        journal.push(format!("{} enrolled ({})", record.mac, record.state.name()));
        devices.insert(record.mac, record.clone());
        Ok(true)
    }

    fn device(&self, mac: &Mac) -> Result<Option<DeviceRecord>, StoreError> {
        let guard = self.inner.lock().map_err(|_| StoreError::Corrupt("lock poisoned".into()))?;
        Ok(guard.0.get(mac).cloned())
    }

    fn update_device(
        &self,
        mac: &Mac,
        apply: &mut dyn FnMut(&mut DeviceRecord),
    ) -> Result<Option<DeviceRecord>, StoreError> {
        let mut guard = self.inner.lock().map_err(|_| StoreError::Corrupt("lock poisoned".into()))?;
        let (devices, journal) = &mut *guard;
        let Some(device) = devices.get_mut(mac) else { return Ok(None) };
        let before = device.state;
        apply(device);
        if device.state != before {
            journal.push(format!("{mac} {} -> {}", before.name(), device.state.name()));
        }
        Ok(Some(device.clone()))
    }
}

fn main() -> anyhow::Result<()> {
    let store = JournalingStore::default();
    let clock = ManualClock::new(Timestamp::from_unix(1_800_000_000));
    let lifecycle = Lifecycle::new(Duration::from_secs(300));
    let mac: Mac = "00:15:65:00:00:01".parse()?;
    store.insert_device(&DeviceRecord::enrol(mac, "1001", "Reception", clock.now())?)?;

    for (label, wait) in [("first fetch", 0), ("retry after 60 s", 60), ("fetch after the grace", 300)] {
        clock.advance(Duration::from_secs(wait));
        let (_, delivery) =
            deliver(&store, &lifecycle, &mac, clock.now())?.ok_or_else(|| anyhow::anyhow!("not enrolled"))?;
        let served = if delivery.password.is_some() { "password served" } else { "no password" };
        println!("{label}: {} -> {}, {served}", delivery.from.name(), delivery.to.name());
    }
    let guard = store.inner.lock().map_err(|_| anyhow::anyhow!("lock poisoned"))?;
    println!("journal:");
    for entry in &guard.1 {
        println!("  {entry}");
    }
    Ok(())
}
