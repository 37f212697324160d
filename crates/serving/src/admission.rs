//! Admission: the rate limiter between the socket and everything that costs something.
//!
//! Connections are admitted right after `accept()`, before any TLS work; requests before routing.
//! Every request's outcome feeds the scan detector; a ban it decides is persisted through the
//! store with its audit event (so every node and the next start see it) and logged. Bans made by
//! other nodes are picked up by [`Admission::refresh_bans`].

use std::hash::Hash;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use sipprov_credentials::{
    AuditEvent, AuditKind, AuditQuery, Ban, Clock, Credentials, Store, StoreError, StoredAuditEvent, SystemClock,
    Timestamp, detail_value, quote,
};
use sipprov_identity::Mac;
use sipprov_ratelimit::{
    BanRecord, ConnectionPermit, GateRefusal, Gatekeeper, HandshakePermit, IpPrefix, Moment, NewBan, Occupancy, Policy,
    ScanOutcome,
};
use tokio::sync::watch;

use crate::ServerError;
use crate::metrics::Metrics;

/// How often a connection waiting for a handshake place asks again.
const HANDSHAKE_RETRY: std::time::Duration = std::time::Duration::from_millis(10);

/// Who may connect to a listener: the rate limits, the scan detector and the bans (kept in the
/// store, so every node and every restart honours them), with the metrics they count into.
pub struct Admission {
    gate: Gatekeeper<Mac>,
    /// Bumped whenever a ban comes into force here, so open connections can check whether
    /// their source is now banned, and close.
    bans_changed: watch::Sender<u64>,
    // The limiter's clock: monotonic, so a wall-clock step cannot lift or extend a ban.
    epoch: Instant,
    credentials: Arc<Credentials>,
    metrics: Arc<Metrics>,
    /// The last `unbanned` audit event applied here: lifts made on other nodes are read from
    /// the audit log after it.
    last_unban: Mutex<Option<u64>>,
}

impl Admission {
    /// A gatekeeper with `policy`, holding the bans the store still has in force.
    pub fn new(policy: Policy, credentials: Arc<Credentials>, metrics: Arc<Metrics>) -> Result<Self, ServerError> {
        let gate = Gatekeeper::new(policy).map_err(|e| ServerError::Limits(e.to_string()))?;
        // Lifts made before this start are already reflected in the stored bans.
        let latest = unbans_after(&**credentials.store(), None)
            .map_err(|e| ServerError::Limits(format!("cannot read the audit log: {e}")))?
            .last()
            .map(|event| event.id);
        let admission = Self {
            gate,
            bans_changed: watch::Sender::new(0),
            epoch: Instant::now(),
            credentials,
            metrics,
            last_unban: Mutex::new(latest),
        };
        let report =
            admission.refresh_bans().map_err(|e| ServerError::Limits(format!("cannot read the stored bans: {e}")))?;
        tracing::info!(restored = report, "bans restored");
        Ok(admission)
    }

    /// Now, on the limiter's monotonic clock.
    pub fn now(&self) -> Moment {
        Moment::from_duration(self.epoch.elapsed())
    }

    /// Brings the limiter in line with the store, where every node records its bans and lifts:
    /// bans lifted since the last refresh (and not imposed again) are lifted here, and the bans
    /// in force are loaded. Expired bans and idle limiter entries are dropped first, so a live
    /// ban never makes way for a stale one. Returns how many bans are in force.
    pub fn refresh_bans(&self) -> Result<usize, StoreError> {
        self.gate.purge(self.now());
        let unix_now = SystemClock.now().unix();
        let stored = self.credentials.store().bans(Timestamp::from_unix(unix_now))?;
        let mut last_unban = self.last_unban.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let lifted = unbans_after(&**self.credentials.store(), *last_unban)?;
        for event in &lifted {
            let key = detail_value(&event.event.detail, "source").and_then(|key| key.parse::<IpPrefix>().ok());
            if let Some(key) = key
                && !stored.iter().any(|ban| ban.key == key.to_string())
            {
                self.gate.unban(&key);
            }
        }
        if let Some(last) = lifted.last() {
            *last_unban = Some(last.id);
        }
        let records =
            stored.into_iter().map(|ban| BanRecord { key: ban.key, reason: ban.reason, until_unix: ban.until.unix() });
        let loaded = self.gate.load_bans(records, self.now(), unix_now).loaded;
        // Bans other nodes made close this node's connections from those sources too.
        if loaded > 0 {
            self.bans_changed.send_modify(|generation| *generation += 1);
        }
        Ok(loaded)
    }

    /// Completes when `ip` is banned (at once if it is already); never if it is not.
    pub async fn until_banned(&self, ip: IpAddr) {
        let mut changes = self.bans_changed.subscribe();
        loop {
            if self.gate.banned(ip, self.now()).is_some() {
                return;
            }
            if changes.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }

    /// Admits a new connection from `ip`, before TLS; the permit holds its place until dropped.
    pub fn connection(&self, ip: IpAddr) -> Result<ConnectionPermit, GateRefusal> {
        self.gate.admit_connection(ip, self.now())
    }

    /// A place for `connection`'s TLS handshake, waiting for one (until `deadline`) while its
    /// source or network has as many handshakes in flight as it may, or the server as a whole:
    /// an office booting at once is served in turn, and a source stalling its handshakes waits
    /// behind its own. `None` when the deadline passed first.
    pub async fn handshake(
        &self,
        connection: &ConnectionPermit,
        deadline: tokio::time::Instant,
    ) -> Option<HandshakePermit> {
        handshake_place(&self.gate, connection, deadline).await
    }

    /// Admits one request from `ip` by `device` (the certificate's MAC, if any).
    pub fn request(&self, ip: IpAddr, device: Option<&Mac>) -> Result<(), GateRefusal> {
        self.gate.admit_request(ip, device, self.now())
    }

    /// Decides on a request from `ip` whose source [`Admission::request`] admitted before its
    /// `device` was known (see [`Gatekeeper::admit_device_request`]).
    pub fn device_request(&self, ip: IpAddr, device: &Mac) -> Result<(), GateRefusal> {
        self.gate.admit_device_request(ip, device, self.now())
    }

    /// Feeds one outcome to the scan detector; a resulting ban is persisted, audited and logged.
    pub fn record(&self, ip: IpAddr, outcome: ScanOutcome, now: Moment) {
        if let Some(ban) = self.gate.record(ip, outcome, now) {
            self.impose(ban);
        }
    }

    /// Feeds a request refused because of `device` to the scan detector: once per device per
    /// window (see [`Gatekeeper::record_refused_device`]).
    pub fn record_refused_device(&self, ip: IpAddr, device: &Mac, now: Moment) {
        if let Some(ban) = self.gate.record_refused_device(ip, device, now) {
            self.impose(ban);
        }
    }

    /// A ban the detector decided: in force here at once (open connections from it close),
    /// then persisted with its audit event so every node and the next start see it.
    fn impose(&self, ban: NewBan) {
        self.bans_changed.send_modify(|generation| *generation += 1);
        self.metrics.bans.fetch_add(1, Ordering::Relaxed);
        let now = SystemClock.now();
        let record = ban.record(now.unix());
        tracing::warn!(key = %record.key, reason = %record.reason, until = record.until_unix, "ban");
        let event = AuditEvent::without_device(
            now,
            AuditKind::Banned,
            format!(
                "source={} reason={} offence={} seconds={}",
                quote(&record.key),
                quote(&record.reason),
                ban.offence,
                ban.duration.as_secs()
            ),
        );
        let ban = Ban { key: record.key, reason: record.reason, until: Timestamp::from_unix(record.until_unix) };
        let credentials = Arc::clone(&self.credentials);
        // The store is synchronous; the ban is already in force in memory, persisting can follow.
        tokio::task::spawn_blocking(move || {
            if let Err(e) = credentials.store().put_ban(&ban, event) {
                tracing::error!(key = %ban.key, error = %e, "cannot persist the ban");
            }
        });
    }

    /// How many keys each of the limiter's tables holds, for the metrics.
    pub fn occupancy(&self) -> Occupancy {
        self.gate.occupancy()
    }

    /// The bans in force here, as stored: key, reason, end in Unix seconds.
    pub fn bans(&self) -> Vec<BanRecord> {
        let (now, unix_now) = (self.now(), SystemClock.now().unix());
        self.gate.bans(now).iter().map(|ban| ban.record(now, unix_now)).collect()
    }

    /// Lifts the ban on `key` here and in the store (audited, naming `by`). Blocking: call it
    /// off the async workers. Returns whether there was one.
    pub fn unban(&self, key: &str, by: &str) -> Result<bool, UnbanError> {
        let prefix: IpPrefix =
            key.parse().map_err(|e| UnbanError::Key(format!("{key:?} is not an address or prefix: {e}")))?;
        let event = AuditEvent::without_device(
            SystemClock.now(),
            AuditKind::Unbanned,
            format!("source={} by={}", quote(&prefix.to_string()), quote(by)),
        );
        let stored = self.credentials.store().remove_ban(&prefix.to_string(), event).map_err(UnbanError::Store)?;
        let here = self.gate.unban(&prefix);
        Ok(stored || here)
    }
}

/// Waits (until `deadline`) for a place for `connection`'s TLS handshake under `gate`: see
/// [`Admission::handshake`]. The admin listener waits the same way under its own gatekeeper.
pub async fn handshake_place<D: Hash + Eq + Clone>(
    gate: &Gatekeeper<D>,
    connection: &ConnectionPermit,
    deadline: tokio::time::Instant,
) -> Option<HandshakePermit> {
    loop {
        if let Ok(permit) = gate.admit_handshake(connection) {
            return Some(permit);
        }
        // Polled, not woken: a freed place would otherwise wake every waiter of every source.
        let retry = tokio::time::Instant::now() + HANDSHAKE_RETRY;
        if retry >= deadline {
            return None;
        }
        tokio::time::sleep_until(retry).await;
    }
}

/// Every `unbanned` audit event after `after` (all of them for `None`), oldest first.
fn unbans_after(store: &dyn Store, mut after: Option<u64>) -> Result<Vec<StoredAuditEvent>, StoreError> {
    let mut events = Vec::new();
    loop {
        let query =
            AuditQuery { kind: Some(AuditKind::Unbanned), after_id: after, limit: 1000, ..AuditQuery::default() };
        let page = store.audit(&query)?;
        let Some(last) = page.last().map(|event| event.id) else { return Ok(events) };
        events.extend(page);
        after = Some(last);
    }
}

/// Why a ban could not be lifted.
#[derive(Debug, thiserror::Error)]
pub enum UnbanError {
    /// The key names no address or network a ban could be on.
    #[error("{0}")]
    Key(String),
    /// The store could not record the lifting.
    #[error(transparent)]
    Store(StoreError),
}
