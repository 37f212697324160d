//! The persistence a storage backend provides.
//!
//! Every method is one transaction. Mutations that change a device append their audit events in
//! the same transaction: if an event cannot be written, nothing changes.

use sipprov_identity::Mac;

use crate::{
    ApiToken, AuditEvent, AuditQuery, CredentialState, DeviceRecord, Document, FleetQuery, FleetRow, RegistrarEntry,
    Sealed, Sighting, StoredAuditEvent, Timestamp,
};

/// A change to one device: edits the record and returns the audit events to append with it,
/// or aborts the transaction (nothing is written).
pub type DeviceUpdate = Box<dyn FnOnce(&mut DeviceRecord) -> Result<Vec<AuditEvent>, Abort> + Send>;

/// What [`Store::device_then`] hands the device read to.
pub type ReadDone = Box<dyn FnOnce(Result<Option<DeviceRecord>, StoreError>) + Send>;

/// What [`Store::update_device_then`] hands the result of an update to.
pub type UpdateDone = Box<dyn FnOnce(Result<Option<DeviceRecord>, StoreError>) + Send>;

/// Why a [`DeviceUpdate`] gave up; the transaction is rolled back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Abort(pub String);

/// Durable storage of devices, audit events, pending devices, bans and reveal tokens.
///
/// Backends: `sipprov-store-sqlite` (embedded default). Every backend must pass the conformance
/// suite in `sipprov_credentials::conformance` (feature `test-support`).
pub trait Store: Send + Sync {
    /// Adds `record` and appends `events`, and removes the MAC from the pending list. Returns
    /// `false`, changing nothing, if a device with this MAC exists.
    fn insert_device(&self, record: DeviceRecord, events: Vec<AuditEvent>) -> Result<bool, StoreError>;

    /// The device with this MAC, if enrolled.
    fn device(&self, mac: &Mac) -> Result<Option<DeviceRecord>, StoreError>;

    /// [`Store::device`], with the result handed to `done` instead of returned: a backend whose
    /// reads cross a network runs them as a task of its own and calls `done` from there, so an
    /// async caller waits without blocking a worker. `done` may be dropped uncalled if the read
    /// could not be run at all. The default reads on the caller's thread.
    fn device_then(&self, mac: &Mac, done: ReadDone) {
        done(self.device(mac));
    }

    /// Whether [`Store::device_then`] returns at once and calls `done` later, from a task or
    /// thread of the store's own (its reads cross a network), rather than reading on the
    /// caller's thread (the default: a local read, cheap enough to run on an async worker).
    fn reads_on_own_thread(&self) -> bool {
        false
    }

    /// Reads the device, applies `update`, writes the record and appends the events, in one
    /// transaction that holds the device exclusively: two concurrent updates of one device see
    /// each other's effect. Returns the record as written, or `None` (nothing written) if there
    /// is no such device. An [`Abort`] becomes [`StoreError::Aborted`] with nothing written.
    fn update_device(&self, mac: &Mac, update: DeviceUpdate) -> Result<Option<DeviceRecord>, StoreError>;

    /// [`Store::update_device`], with the result handed to `done` instead of returned. A
    /// backend that commits on a thread or task of its own (SQLite's writer thread, a
    /// PostgreSQL task) calls `done` from there once the write is durable, so an async caller
    /// waits without holding a thread of its own. `done` may also be dropped uncalled if the
    /// write could not be run at all. The default runs the update on the caller's thread.
    fn update_device_then(&self, mac: &Mac, update: DeviceUpdate, done: UpdateDone) {
        done(self.update_device(mac, update));
    }

    /// Whether [`Store::update_device_then`] returns at once and calls `done` later, from a
    /// thread or task of the store's own (so an async caller may call it directly), rather
    /// than running the update on the caller's thread (the default: call it off the async
    /// workers).
    fn updates_on_own_thread(&self) -> bool {
        false
    }

    /// Deletes the device and appends `event`. Returns `false` if there was none.
    fn delete_device(&self, mac: &Mac, event: AuditEvent) -> Result<bool, StoreError>;

    /// Devices matching `query`, in ascending MAC order (page with `after`).
    fn devices(&self, query: &DeviceQuery) -> Result<Vec<DeviceRecord>, StoreError>;

    /// Up to `limit` MACs, in ascending order after `after`, of devices that still hold
    /// secrets: the candidates for expiry sweeps and resealing, read in bounded batches.
    fn devices_with_secrets(&self, after: Option<Mac>, limit: usize) -> Result<Vec<Mac>, StoreError>;

    /// The devices of [`Store::devices_with_secrets`] with their lifecycle states: what an
    /// expiry sweep decides on, without reading whole records. A device deleted in between is
    /// left out. The default reads each record; a backend reads the states in one query.
    fn secret_states(&self, after: Option<Mac>, limit: usize) -> Result<Vec<(Mac, CredentialState)>, StoreError> {
        let mut states = Vec::new();
        for mac in self.devices_with_secrets(after, limit)? {
            if let Some(device) = self.device(&mac)? {
                states.push((mac, device.state));
            }
        }
        Ok(states)
    }

    /// Appends events that change no device (refused fetches, pending sightings).
    fn append_audit(&self, events: Vec<AuditEvent>) -> Result<(), StoreError>;

    /// Reads audit events, oldest first (newest first if the query asks).
    fn audit(&self, query: &AuditQuery) -> Result<Vec<StoredAuditEvent>, StoreError>;

    /// Records a sighting of a valid certificate for a MAC not in the inventory and appends
    /// `event`. Sightings are kept per MAC and key: the first sighting of a key is kept, its
    /// last sighting and count updated. A MAC already claimed by [`MAX_PENDING_KEYS`] keys gets
    /// no further row (the event is still appended).
    fn record_pending(&self, sighting: PendingDevice, event: AuditEvent) -> Result<(), StoreError>;

    /// Pending devices matching `query`, ordered by MAC and key.
    fn pending(&self, query: &PendingQuery) -> Result<Vec<PendingDevice>, StoreError>;

    /// Writes where devices were last served from, in one transaction: for each sighting of an
    /// enrolled device, its last-seen time, address and User-Agent and its [`FleetFacts`],
    /// unless the store already holds a later sighting. Sightings of devices not enrolled are
    /// skipped. Of the facts, the rating and the mismatch are written as given; vendor, model
    /// and firmware only where given (a `None` keeps the stored value); a firmware other than
    /// the stored one starts `firmware_since` at the sighting's time. A mismatch other than the
    /// stored one appends a [`AuditKind::UaMismatch`] alert (detail: the mismatch), the only
    /// audit event a sighting writes.
    ///
    /// [`FleetFacts`]: crate::FleetFacts
    /// [`AuditKind::UaMismatch`]: crate::AuditKind::UaMismatch
    fn record_sightings(&self, sightings: &[Sighting]) -> Result<(), StoreError>;

    /// Devices as fleet reports see them, matching `query`, in ascending MAC order (page with
    /// `after`).
    fn fleet(&self, query: &FleetQuery) -> Result<Vec<FleetRow>, StoreError>;

    /// The document named `name`, if one was written.
    fn document(&self, name: &str) -> Result<Option<Document>, StoreError>;

    /// Writes `body` as document `name`'s version `expected + 1` and appends `events`, if the
    /// stored version is `expected` (0: none stored). Returns `false`, changing nothing, if it
    /// is not (someone else wrote it meanwhile: read it again and retry). A body over
    /// [`MAX_DOCUMENT_BYTES`](crate::MAX_DOCUMENT_BYTES) is an error.
    fn put_document(&self, name: &str, expected: u64, body: &str, events: Vec<AuditEvent>) -> Result<bool, StoreError>;

    /// Deletes up to `limit` of the oldest audit events older than `before`; returns how many.
    /// Retention runs this in small batches so no transaction holds the store for long.
    fn prune_audit(&self, before: Timestamp, limit: usize) -> Result<usize, StoreError>;

    /// Adds or replaces a ban and appends `event`.
    fn put_ban(&self, ban: &Ban, event: AuditEvent) -> Result<(), StoreError>;

    /// Bans still in force at `now`, by key.
    fn bans(&self, now: Timestamp) -> Result<Vec<Ban>, StoreError>;

    /// Lifts a ban and appends `event`. Returns `false`, changing nothing, if there was none.
    fn remove_ban(&self, key: &str, event: AuditEvent) -> Result<bool, StoreError>;

    /// Stores a reveal token by its hash.
    fn insert_reveal_token(&self, token: &RevealToken) -> Result<(), StoreError>;

    /// Stores an admin API token by its hash and appends `event`.
    fn insert_api_token(&self, token: &ApiToken, event: AuditEvent) -> Result<(), StoreError>;

    /// The admin API token with this hash, if any.
    fn api_token(&self, hash: &[u8; 32]) -> Result<Option<ApiToken>, StoreError>;

    /// Every admin API token, oldest first.
    fn api_tokens(&self) -> Result<Vec<ApiToken>, StoreError>;

    /// Deletes the admin API token with this hash and appends `event`. Returns `false`, changing
    /// nothing, if there was none.
    fn remove_api_token(&self, hash: &[u8; 32], event: AuditEvent) -> Result<bool, StoreError>;

    /// Physically removes what deleted data may have left in the backend's files (copies the
    /// storage engine made while moving records around), so a purged secret, even sealed, is gone
    /// from disk and not only from the records. Slow on a large store: call it periodically. A
    /// backend may skip the work when nothing that can take a secret out of a record (anything
    /// but [`Store::record_sightings`]) was written since its last compaction, and may postpone
    /// it while writes are waiting (returning `Ok`), within a bound it documents.
    fn compact(&self) -> Result<(), StoreError>;

    /// Up to `limit` registrar outbox rows not yet pushed, oldest change first: what the
    /// registrars are told next, in this order. Rows are written by the events that carry
    /// [`AuditEvent::registrar`] changes, in their transaction: a change to a user and realm
    /// already queued replaces that row (its latest state is what counts), with a new `seq`.
    fn registrar_pending(&self, limit: usize) -> Result<Vec<RegistrarEntry>, StoreError>;

    /// Up to `limit` registrar outbox rows, pushed or not, ordered by realm and user, after
    /// `after` (realm, user): the whole state a registrar is rebuilt from.
    fn registrar_entries(
        &self,
        after: Option<(String, String)>,
        limit: usize,
    ) -> Result<Vec<RegistrarEntry>, StoreError>;

    /// Records that every registrar accepted change `seq` of `user` in `realm`, and appends
    /// `events`: the row is marked pushed, or removed if the change was a deletion. Returns
    /// `false`, writing only the events, if the row is no longer that change (a later one
    /// replaced it and waits its turn).
    fn registrar_pushed(&self, realm: &str, user: &str, seq: u64, events: Vec<AuditEvent>) -> Result<bool, StoreError>;

    /// Replaces the sealed HA1 of change `seq` of `user` in `realm` with `ha1` (the same
    /// values sealed under another key), changing nothing else. Returns `false`, writing
    /// nothing, if the row is no longer that change.
    fn registrar_reseal(&self, realm: &str, user: &str, seq: u64, ha1: Sealed) -> Result<bool, StoreError>;

    /// Uses the token with this hash at `now`: the first use inside its lifetime succeeds and
    /// marks it used; every other attempt reports why it failed.
    fn consume_reveal_token(&self, hash: &[u8; 32], now: Timestamp) -> Result<TokenUse, StoreError>;
}

/// Which devices to list. Every filter that is set must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceQuery {
    /// Only devices in this credential state (`issued`, `delivered`, `purged`, `dormant`).
    pub state: Option<&'static str>,
    /// Only devices of this vendor.
    pub vendor: Option<String>,
    /// Only devices at this site.
    pub site: Option<String>,
    /// Only devices that fetched at or after this time.
    pub seen_since: Option<Timestamp>,
    /// Only devices that have not fetched since this time (never, or before it).
    pub not_seen_since: Option<Timestamp>,
    /// Only devices with a MAC after this one (for paging).
    pub after: Option<sipprov_identity::Mac>,
    /// At most this many.
    pub limit: usize,
}

impl Default for DeviceQuery {
    fn default() -> Self {
        Self { state: None, vendor: None, site: None, seen_since: None, not_seen_since: None, after: None, limit: 100 }
    }
}

impl DeviceQuery {
    /// Whether `device` matches, for backends that filter in memory.
    pub fn matches(&self, device: &DeviceRecord) -> bool {
        self.state.is_none_or(|state| device.state.name() == state)
            && self.vendor.as_ref().is_none_or(|vendor| device.profile.vendor.as_ref() == Some(vendor))
            && self.site.as_ref().is_none_or(|site| device.profile.site.as_ref() == Some(site))
            && self.seen_since.is_none_or(|since| device.last_seen.as_ref().is_some_and(|seen| seen.at >= since))
            && self.not_seen_since.is_none_or(|since| device.last_seen.as_ref().is_none_or(|seen| seen.at < since))
            && self.after.is_none_or(|after| device.mac > after)
    }

    /// The state names a query may ask for.
    pub const STATES: [&'static str; 4] = ["issued", "delivered", "purged", "dormant"];
}

/// The most keys kept pending for one MAC: more than one is already a warning (two
/// certificates claim one phone); the bound keeps a forger from growing the table.
pub const MAX_PENDING_KEYS: usize = 8;

/// A MAC not in the inventory, seen with one key: what an operator approves when enrolling it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingDevice {
    /// The MAC its certificate names.
    pub mac: Mac,
    /// The vendor its certificate's rule reports.
    pub vendor: String,
    /// SHA-256 of the certificate's SubjectPublicKeyInfo: enrolling this sighting pins it.
    pub spki_sha256: [u8; 32],
    /// First sighting with this key.
    pub first_seen: Timestamp,
    /// Last sighting with this key.
    pub last_seen: Timestamp,
    /// Number of sightings with this key.
    pub count: u64,
}

/// Which pending devices to list, ordered by MAC and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingQuery {
    /// Only this MAC's keys.
    pub mac: Option<Mac>,
    /// Only entries after this MAC and key (for paging).
    pub after: Option<(Mac, [u8; 32])>,
    /// At most this many.
    pub limit: usize,
}

impl Default for PendingQuery {
    fn default() -> Self {
        Self { mac: None, after: None, limit: 100 }
    }
}

impl PendingQuery {
    /// Whether `pending` matches, for backends that filter in memory.
    pub fn matches(&self, pending: &PendingDevice) -> bool {
        self.mac.is_none_or(|mac| pending.mac == mac)
            && self.after.is_none_or(|after| (pending.mac, pending.spki_sha256) > after)
    }
}

/// A ban on a client (an address or prefix, as the rate limiter spells it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    /// What is banned, e.g. `192.0.2.7` or `2001:db8::/64`.
    pub key: String,
    /// Why.
    pub reason: String,
    /// Until when.
    pub until: Timestamp,
}

/// A one-time reveal token, stored by hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevealToken {
    /// SHA-256 of the token.
    pub hash: [u8; 32],
    /// The device whose secret it reveals.
    pub mac: Mac,
    /// It may not be used at or after this time.
    pub expires_at: Timestamp,
}

/// The outcome of presenting a reveal token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenUse {
    /// First use, in time: reveal this device's secret.
    Valid(Mac),
    /// No such token.
    Unknown,
    /// The token's lifetime is over.
    Expired,
    /// The token was used before: a replay, to be alerted on.
    AlreadyUsed,
}

/// A storage backend failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend reported an error (I/O, locking, constraint, an audit write that failed).
    #[error("store backend error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored value is not one this version understands.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// The update gave up; nothing was written.
    #[error("update aborted: {0}")]
    Aborted(String),
}
