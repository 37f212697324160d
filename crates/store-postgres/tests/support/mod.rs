//! Records for the PostgreSQL store's tests.
#![allow(clippy::unwrap_used)] // test code: failing loudly is the point

use sipprov_credentials::{Account, CredentialState, DeviceProfile, DeviceRecord, Timestamp};
use sipprov_identity::Mac;

pub(crate) fn mac(n: u8) -> Mac {
    Mac::from_bytes([0x00, 0x15, 0x65, 0x00, 0x00, n])
}

pub(crate) fn device(mac: Mac) -> DeviceRecord {
    DeviceRecord {
        mac,
        accounts: vec![Account::new(1, "1001", format!("sp-{mac}"), "Desk")],
        state: CredentialState::Purged,
        secrets: None,
        pinned_spki: None,
        enrolment_secret: None,
        disabled: false,
        enrolled_at: Timestamp::from_unix(1_800_000_000),
        last_seen: None,
        profile: DeviceProfile::default(),
    }
}
