//! Rows to records: the columns as stored, checked into the types the rest of sipprov uses.

use sipprov_credentials::columns::{keys_from_json, settings_from_json};
use sipprov_credentials::{
    Account, ApiToken, AuditEvent, CredentialState, DeviceProfile, DeviceQuery, DeviceRecord, FleetFacts, FleetRow,
    LastSeen, PendingDevice, Sealed, Srtp, StoreError, StoredAuditEvent, Timestamp, Transport,
};
use sipprov_identity::Mac;
use tokio_postgres::Row;

/// A row of the fleet listing: `mac, vendor, model, site, state, disabled, enrolled_at,
/// last_fetch, rating, ua_vendor, ua_model, firmware, ua_mismatch, firmware_since`.
pub(crate) fn fleet_row(row: &Row) -> Result<FleetRow, StoreError> {
    let mac = mac(row.try_get(0).map_err(backend)?)?;
    let state: String = row.try_get(4).map_err(backend)?;
    let state = DeviceQuery::STATES
        .into_iter()
        .find(|name| *name == state)
        .ok_or_else(|| StoreError::Corrupt(format!("device {mac}: state {state:?}")))?;
    let time = |index: usize| -> Result<Option<Timestamp>, StoreError> {
        Ok(row.try_get::<_, Option<i64>>(index).map_err(backend)?.map(Timestamp::from_unix))
    };
    let text = |index: usize| -> Result<Option<String>, StoreError> { row.try_get(index).map_err(backend) };
    let rating: Option<i16> = row.try_get(8).map_err(backend)?;
    Ok(FleetRow {
        mac,
        profile: DeviceProfile { vendor: text(1)?, model: text(2)?, site: text(3)?, ..DeviceProfile::default() },
        state,
        disabled: row.try_get(5).map_err(backend)?,
        enrolled_at: Timestamp::from_unix(row.try_get(6).map_err(backend)?),
        last_seen: time(7)?,
        facts: FleetFacts {
            rating: rating.and_then(|rating| u8::try_from(rating).ok()),
            vendor: text(9)?,
            model: text(10)?,
            firmware: text(11)?,
            mismatch: text(12)?,
        },
        firmware_since: time(13)?,
    })
}

/// A device's own columns, in the order [`device`] reads them.
pub(crate) const DEVICE_COLUMNS: &str = "d.mac, d.state, d.state_time, d.admin_password, d.pinned_spki, d.disabled,
     d.enrolled_at, d.last_fetch, d.vendor, d.model, d.site, d.settings, d.last_peer, d.last_user_agent, d.keys,
     d.enrolment_secret";

/// An account's columns, in the order [`account`] reads them.
pub(crate) const ACCOUNT_COLUMNS: &str = "a.line, a.user_name, a.auth_name, a.display_name, a.registrar, a.outbound_proxy, a.transport, a.srtp, a.sip_password";

/// Where an account's columns start in a row of [`DEVICE_COLUMNS`] then [`ACCOUNT_COLUMNS`].
pub(crate) const ACCOUNT_COLUMNS_AT: usize = 16;

/// A device from its own columns, with its admin password beside it: accounts and SIP
/// passwords come from their own rows (`columns::attach_accounts`).
pub(crate) fn device(row: &Row) -> Result<(DeviceRecord, Option<Sealed>), StoreError> {
    let mac = mac(row.try_get(0).map_err(backend)?)?;
    let corrupt = |what: String| StoreError::Corrupt(format!("device {mac}: {what}"));
    let state: String = row.try_get(1).map_err(backend)?;
    let state_time: Option<i64> = row.try_get(2).map_err(backend)?;
    let state = CredentialState::from_parts(&state, state_time.map(Timestamp::from_unix))
        .ok_or_else(|| corrupt(format!("invalid state {state:?}")))?;
    let admin_password: Option<Vec<u8>> = row.try_get(3).map_err(backend)?;
    let pinned: Option<Vec<u8>> = row.try_get(4).map_err(backend)?;
    let pinned_spki =
        pinned.map(|pin| pin.try_into().map_err(|_| corrupt("key pin is not 32 bytes".into()))).transpose()?;
    let settings = settings_from_json(row.try_get(11).map_err(backend)?)
        .map_err(|e| corrupt(format!("settings are not a JSON object of strings: {e}")))?;
    let keys = keys_from_json(row.try_get(14).map_err(backend)?)
        .map_err(|e| corrupt(format!("its keys are not readable: {e}")))?;
    let last_fetch: Option<i64> = row.try_get(7).map_err(backend)?;
    let last_seen = match last_fetch {
        Some(at) => Some(LastSeen {
            at: Timestamp::from_unix(at),
            peer: row.try_get::<_, Option<String>>(12).map_err(backend)?.unwrap_or_default(),
            user_agent: row.try_get(13).map_err(backend)?,
        }),
        None => None,
    };
    let record = DeviceRecord {
        mac,
        accounts: Vec::new(),
        state,
        secrets: None,
        pinned_spki,
        enrolment_secret: row.try_get::<_, Option<Vec<u8>>>(15).map_err(backend)?.map(Sealed::from_bytes),
        disabled: row.try_get(5).map_err(backend)?,
        enrolled_at: Timestamp::from_unix(row.try_get(6).map_err(backend)?),
        last_seen,
        profile: DeviceProfile {
            vendor: row.try_get(8).map_err(backend)?,
            model: row.try_get(9).map_err(backend)?,
            site: row.try_get(10).map_err(backend)?,
            settings,
            keys,
        },
    };
    Ok((record, admin_password.map(Sealed::from_bytes)))
}

/// One account from the columns starting at `at`, with its sealed password if it holds one;
/// `None` for the NULLs a device without accounts gets from a `LEFT JOIN`.
pub(crate) fn account(row: &Row, at: usize, mac: Mac) -> Result<Option<(Account, Option<Sealed>)>, StoreError> {
    let Some(line) = row.try_get::<_, Option<i32>>(at).map_err(backend)? else { return Ok(None) };
    let corrupt = |what: String| StoreError::Corrupt(format!("device {mac}: {what}"));
    let line = u16::try_from(line).map_err(|_| corrupt(format!("account line {line} is out of range")))?;
    let transport: Option<String> = row.try_get(at + 6).map_err(backend)?;
    let transport = transport
        .map(|name| Transport::from_name(&name).ok_or_else(|| corrupt(format!("unknown transport {name:?}"))))
        .transpose()?;
    let srtp: Option<String> = row.try_get(at + 7).map_err(backend)?;
    let srtp = srtp
        .map(|name| Srtp::from_name(&name).ok_or_else(|| corrupt(format!("unknown SRTP setting {name:?}"))))
        .transpose()?;
    let account = Account {
        line,
        user_name: row.try_get(at + 1).map_err(backend)?,
        auth_name: row.try_get(at + 2).map_err(backend)?,
        display_name: row.try_get(at + 3).map_err(backend)?,
        registrar: row.try_get(at + 4).map_err(backend)?,
        outbound_proxy: row.try_get(at + 5).map_err(backend)?,
        transport,
        srtp,
    };
    let sealed: Option<Vec<u8>> = row.try_get(at + 8).map_err(backend)?;
    Ok(Some((account, sealed.map(Sealed::from_bytes))))
}

/// Assembles devices from rows of [`DEVICE_COLUMNS`] then [`ACCOUNT_COLUMNS`], one row per
/// account, a device's rows together.
pub(crate) fn devices_with_accounts(rows: &[Row]) -> Result<Vec<DeviceRecord>, StoreError> {
    let mut devices = Vec::new();
    let mut current: Option<Assembling> = None;
    for row in rows {
        let mac = mac(row.try_get(0).map_err(backend)?)?;
        if current.as_ref().is_none_or(|(device, _, _)| device.mac != mac) {
            if let Some(done) = current.take() {
                devices.push(finish(done)?);
            }
            let (device, admin_password) = device(row)?;
            current = Some((device, admin_password, Vec::new()));
        }
        if let (Some(account), Some((_, _, accounts))) = (account(row, ACCOUNT_COLUMNS_AT, mac)?, current.as_mut()) {
            accounts.push(account);
        }
    }
    if let Some(done) = current {
        devices.push(finish(done)?);
    }
    Ok(devices)
}

/// A device read from its first row, its admin password, and the accounts read so far.
type Assembling = (DeviceRecord, Option<Sealed>, Vec<(Account, Option<Sealed>)>);

fn finish((mut device, admin_password, accounts): Assembling) -> Result<DeviceRecord, StoreError> {
    sipprov_credentials::columns::attach_accounts(&mut device, admin_password, accounts)
        .map_err(|reason| StoreError::Corrupt(format!("device {}: {reason}", device.mac)))?;
    Ok(device)
}

/// One `audit` row: `id, at, mac, kind, detail`.
pub(crate) fn audit_event(row: &Row) -> Result<StoredAuditEvent, StoreError> {
    let id: i64 = row.try_get(0).map_err(backend)?;
    let mac: Option<&str> = row.try_get(2).map_err(backend)?;
    let kind: &str = row.try_get(3).map_err(backend)?;
    Ok(StoredAuditEvent {
        id: u64::try_from(id).map_err(|_| StoreError::Corrupt(format!("audit id {id}")))?,
        event: AuditEvent {
            at: Timestamp::from_unix(row.try_get(1).map_err(backend)?),
            mac: mac.map(self::mac).transpose()?,
            kind: kind.parse().map_err(StoreError::Corrupt)?,
            detail: row.try_get(4).map_err(backend)?,
            registrar: Vec::new(),
        },
    })
}

/// One `pending` row: `mac, vendor, spki, first_seen, last_seen, count`.
pub(crate) fn pending(row: &Row) -> Result<PendingDevice, StoreError> {
    let mac = mac(row.try_get(0).map_err(backend)?)?;
    let spki: Vec<u8> = row.try_get(2).map_err(backend)?;
    let count: i64 = row.try_get(5).map_err(backend)?;
    Ok(PendingDevice {
        mac,
        vendor: row.try_get(1).map_err(backend)?,
        spki_sha256: spki.try_into().map_err(|_| StoreError::Corrupt(format!("pending {mac}: key hash")))?,
        first_seen: Timestamp::from_unix(row.try_get(3).map_err(backend)?),
        last_seen: Timestamp::from_unix(row.try_get(4).map_err(backend)?),
        count: u64::try_from(count).unwrap_or(0),
    })
}

/// One `api_tokens` row: `hash, name, role, created_at`.
pub(crate) fn api_token(row: &Row) -> Result<ApiToken, StoreError> {
    let hash: Vec<u8> = row.try_get(0).map_err(backend)?;
    let role: &str = row.try_get(2).map_err(backend)?;
    Ok(ApiToken {
        hash: hash.try_into().map_err(|_| StoreError::Corrupt("an API token hash is not 32 bytes".into()))?,
        name: row.try_get(1).map_err(backend)?,
        role: role.parse().map_err(StoreError::Corrupt)?,
        created_at: Timestamp::from_unix(row.try_get(3).map_err(backend)?),
    })
}

pub(crate) fn mac(text: &str) -> Result<Mac, StoreError> {
    Mac::parse(text).map_err(|_| StoreError::Corrupt(format!("stored MAC {text:?} is not a MAC")))
}

pub(crate) fn backend(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend(Box::new(e))
}
