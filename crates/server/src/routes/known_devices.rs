//! What this node last read of provisioned phones, to keep their polls answered while a
//! networked store does not answer.
//!
//! Only a device whose record holds no secret is remembered (`Purged`: provisioned, its
//! password already gone). Served from memory, such a poll gets what it got before: its config
//! without any secret, and only if its certificate's key is the pinned one (the lifecycle runs
//! on the remembered record as on a stored one). Anything that would change state or deliver
//! a secret still needs the store and answers 503 meanwhile. The memory is bounded; the
//! oldest entry makes way for a new one.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use sipprov_credentials::{CredentialState, DeviceRecord};
use sipprov_identity::Mac;

/// Remembered provisioned devices, at most `capacity`.
pub(crate) struct KnownDevices {
    capacity: usize,
    inner: Mutex<Inner>,
    /// Whether the last read failed: polls are being answered from memory.
    away: AtomicBool,
}

#[derive(Default)]
struct Inner {
    /// Each device with the number of the note that remembered it.
    devices: HashMap<Mac, (u64, DeviceRecord)>,
    /// MACs in the order they were remembered, with that number: the front is evicted first.
    /// An entry whose number is not the device's any more (forgotten, or remembered again
    /// since) is stale and skipped.
    order: VecDeque<(Mac, u64)>,
    next: u64,
}

impl KnownDevices {
    /// Devices remembered at most by default: a few hundred bytes each.
    pub(crate) const DEFAULT_CAPACITY: usize = 100_000;

    pub(crate) fn new(capacity: usize) -> Self {
        Self { capacity, inner: Mutex::new(Inner::default()), away: AtomicBool::new(false) }
    }

    /// Takes note of what the store just said of `mac`: a provisioned device is remembered
    /// (or refreshed), anything else forgotten.
    pub(crate) fn note(&self, mac: Mac, device: Option<&DeviceRecord>) {
        if self.away.swap(false, Ordering::Relaxed) {
            tracing::info!("the store answers again");
        }
        if self.capacity == 0 {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(device) = device.filter(|device| servable_from_memory(device)) else {
            inner.devices.remove(&mac);
            return;
        };
        if let Some((_, known)) = inner.devices.get_mut(&mac) {
            if known != device {
                *known = device.clone();
            }
            return;
        }
        let Inner { devices, order, next } = &mut *inner;
        while devices.len() >= self.capacity {
            let Some((oldest, number)) = order.pop_front() else { break };
            if devices.get(&oldest).is_some_and(|(current, _)| *current == number) {
                devices.remove(&oldest);
            }
        }
        // Stale entries are dropped as they reach the front; this bounds the queue meanwhile.
        if order.len() >= self.capacity.saturating_mul(2) {
            order.retain(|(mac, number)| devices.get(mac).is_some_and(|(current, _)| current == number));
        }
        *next += 1;
        order.push_back((mac, *next));
        devices.insert(mac, (*next, device.clone()));
    }

    /// The remembered record of `mac`, if any, for a poll while the store does not answer
    /// (said once in the log when that starts, and once when it ends).
    pub(crate) fn get(&self, mac: &Mac) -> Option<DeviceRecord> {
        if !self.away.swap(true, Ordering::Relaxed) {
            tracing::warn!("the store does not answer; provisioned phones are answered from what this node last read");
        }
        let inner = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        inner.devices.get(mac).map(|(_, device)| device.clone())
    }
}

/// A record the node may answer a poll from without the store: provisioned, secret-free,
/// enabled, its key pinned.
fn servable_from_memory(device: &DeviceRecord) -> bool {
    matches!(device.state, CredentialState::Purged)
        && device.secrets.is_none()
        && !device.disabled
        && device.pinned_spki.is_some()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: failing loudly is the point

    use sipprov_credentials::{Account, DeviceProfile, Timestamp};

    use super::*;

    fn device(n: u8) -> DeviceRecord {
        DeviceRecord {
            mac: Mac::from_bytes([0, 0x15, 0x65, 0, 0, n]),
            accounts: vec![Account::new(1, "1001", "a", "Desk")],
            state: CredentialState::Purged,
            secrets: None,
            pinned_spki: Some([7; 32]),
            enrolment_secret: None,
            disabled: false,
            enrolled_at: Timestamp::from_unix(0),
            last_seen: None,
            profile: DeviceProfile::default(),
        }
    }

    #[test]
    fn only_provisioned_secret_free_devices_are_remembered_and_memory_is_bounded() {
        let known = KnownDevices::new(2);
        let (one, two, three) = (device(1), device(2), device(3));
        known.note(one.mac, Some(&one));
        known.note(two.mac, Some(&two));
        assert_eq!(known.get(&one.mac), Some(one.clone()));
        known.note(three.mac, Some(&three));
        assert_eq!(known.get(&one.mac), None, "the oldest makes way");
        assert!(known.get(&two.mac).is_some() && known.get(&three.mac).is_some());

        let mut disabled = two.clone();
        disabled.disabled = true;
        known.note(two.mac, Some(&disabled));
        assert_eq!(known.get(&two.mac), None, "a disabled device is forgotten");
        let mut issued = three.clone();
        issued.state = CredentialState::Issued { since: Timestamp::from_unix(0) };
        known.note(three.mac, Some(&issued));
        assert_eq!(known.get(&three.mac), None, "a device awaiting delivery needs the store");
        known.note(one.mac, None);
        assert_eq!(known.get(&one.mac), None);

        // Forgetting and remembering many MACs keeps the queue bounded.
        for n in 0..100 {
            let device = device(n);
            known.note(device.mac, Some(&device));
            known.note(device.mac, None);
        }
        assert!(known.inner.lock().unwrap().order.len() <= 4);
    }

    #[test]
    fn a_device_remembered_again_is_not_evicted_for_its_old_place() {
        let known = KnownDevices::new(2);
        let (one, two, three) = (device(1), device(2), device(3));
        known.note(one.mac, Some(&one));
        known.note(one.mac, None);
        known.note(two.mac, Some(&two));
        known.note(one.mac, Some(&one));
        // Full: the oldest live entry (two) makes way, not one for its stale first place.
        known.note(three.mac, Some(&three));
        assert!(known.get(&one.mac).is_some(), "remembered again after two");
        assert_eq!(known.get(&two.mac), None);
        assert!(known.get(&three.mac).is_some());
    }
}
