//! An in-memory [`Store`], for tests and for trying the lifecycle without a database.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use sipprov_identity::Mac;

use crate::{DeviceRecord, Store, StoreError};

/// A [`Store`] that keeps records in a map behind a mutex. Nothing is durable.
#[derive(Debug, Default)]
pub struct MemoryStore(Mutex<HashMap<Mac, DeviceRecord>>);

impl MemoryStore {
    fn devices(&self) -> MutexGuard<'_, HashMap<Mac, DeviceRecord>> {
        // Every mutation below is a single map operation, so a poisoned map is still consistent.
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Store for MemoryStore {
    fn insert_device(&self, record: &DeviceRecord) -> Result<bool, StoreError> {
        let mut devices = self.devices();
        if devices.contains_key(&record.mac) {
            return Ok(false);
        }
        devices.insert(record.mac, record.clone());
        Ok(true)
    }

    fn device(&self, mac: &Mac) -> Result<Option<DeviceRecord>, StoreError> {
        Ok(self.devices().get(mac).cloned())
    }

    fn update_device(
        &self,
        mac: &Mac,
        apply: &mut dyn FnMut(&mut DeviceRecord),
    ) -> Result<Option<DeviceRecord>, StoreError> {
        let mut devices = self.devices();
        let Some(stored) = devices.get(mac) else {
            return Ok(None);
        };
        // Apply to a copy and write back, so a panicking `apply` leaves the record untouched.
        let mut device = stored.clone();
        apply(&mut device);
        devices.insert(*mac, device.clone());
        Ok(Some(device))
    }
}
