//! The persistence a storage backend provides, and one fetch run through it atomically.

use sipprov_identity::Mac;

use crate::{Delivery, DeviceRecord, Lifecycle, Timestamp};

/// Durable storage of device records, implemented by backends such as `sipprov-store-sqlite`.
///
/// Every method is one transaction. [`Store::update_device`] must hold the record exclusively
/// between reading it and writing it back, so two concurrent fetches of the same device see one
/// another's effect (exactly one of them records the first delivery).
pub trait Store: Send + Sync {
    /// Adds `record` if no device with its MAC exists. Returns `false`, changing nothing, if one does.
    fn insert_device(&self, record: &DeviceRecord) -> Result<bool, StoreError>;

    /// The device with this MAC, if enrolled.
    fn device(&self, mac: &Mac) -> Result<Option<DeviceRecord>, StoreError>;

    /// Reads the device, lets `apply` change it, and writes it back, all in one transaction.
    /// Returns `None`, changing nothing, if no such device exists.
    fn update_device(
        &self,
        mac: &Mac,
        apply: &mut dyn FnMut(&mut DeviceRecord),
    ) -> Result<Option<DeviceRecord>, StoreError>;
}

/// Runs one authorized fetch of `mac`'s config at `now` through the lifecycle, durably.
///
/// Returns `None` when the device is not enrolled; otherwise the device as stored after the
/// fetch and what to serve. The returned [`Delivery`] has been committed
/// before this function returns: a password is never served that the store has not recorded.
pub fn deliver(
    store: &dyn Store,
    lifecycle: &Lifecycle,
    mac: &Mac,
    now: Timestamp,
) -> Result<Option<(DeviceRecord, Delivery)>, StoreError> {
    let mut delivery = None;
    let updated = store.update_device(mac, &mut |device| delivery = Some(lifecycle.on_fetch(device, now)))?;
    Ok(updated.zip(delivery))
}

/// A storage backend failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend reported an error (I/O, locking, constraint).
    #[error("store backend error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored value is not one this version understands.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
}
