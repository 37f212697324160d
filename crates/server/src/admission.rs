//! Admission: the rate limiter between the socket and everything that costs something.
//!
//! Connections are admitted right after `accept()`, before any TLS work; requests before routing.
//! Every request's outcome feeds the scan detector; a ban it decides is persisted through the
//! store (so every node and the next start see it) and logged.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use sipprov_credentials::{Ban, Clock, Credentials, SystemClock, Timestamp};
use sipprov_identity::Mac;
use sipprov_ratelimit::{BanRecord, ConnectionPermit, Gatekeeper, Moment, Outcome, Policy, Refusal};

use crate::ServerError;

pub(crate) struct Admission {
    gate: Gatekeeper<Mac>,
    // The limiter's clock: monotonic, so a wall-clock step cannot lift or extend a ban.
    epoch: Instant,
    credentials: Arc<Credentials>,
}

impl Admission {
    /// A gatekeeper with `policy`, holding the bans the store still has in force.
    pub(crate) fn new(policy: Policy, credentials: Arc<Credentials>) -> Result<Self, ServerError> {
        let gate = Gatekeeper::new(policy).map_err(|e| ServerError::Limits(e.to_string()))?;
        let admission = Self { gate, epoch: Instant::now(), credentials };
        let unix_now = SystemClock.now().unix();
        let stored = admission
            .credentials
            .store()
            .bans(Timestamp::from_unix(unix_now))
            .map_err(|e| ServerError::Limits(format!("cannot read the stored bans: {e}")))?;
        let records =
            stored.into_iter().map(|ban| BanRecord { key: ban.key, reason: ban.reason, until_unix: ban.until.unix() });
        let report = admission.gate.load_bans(records, admission.now(), unix_now);
        tracing::info!(report = ?report, "bans restored");
        Ok(admission)
    }

    fn now(&self) -> Moment {
        Moment::from_duration(self.epoch.elapsed())
    }

    /// Admits a new connection from `ip`, before TLS; the permit holds its place until dropped.
    pub(crate) fn connection(&self, ip: IpAddr) -> Result<ConnectionPermit, Refusal> {
        self.gate.admit_connection(ip, self.now())
    }

    /// Admits one request from `ip` by `device` (the certificate's MAC, if any).
    pub(crate) fn request(&self, ip: IpAddr, device: Option<&Mac>) -> Result<(), Refusal> {
        self.gate.admit_request(ip, device, self.now())
    }

    /// Feeds one outcome to the scan detector; a resulting ban is persisted and logged.
    pub(crate) fn record(&self, ip: IpAddr, outcome: Outcome) {
        let Some(ban) = self.gate.record(ip, outcome, self.now()) else { return };
        let record = ban.record(SystemClock.now().unix());
        tracing::warn!(key = %record.key, reason = %record.reason, until = record.until_unix, "ban");
        let ban = Ban { key: record.key, reason: record.reason, until: Timestamp::from_unix(record.until_unix) };
        let credentials = Arc::clone(&self.credentials);
        // The store is synchronous; the ban is already in force in memory, persisting can follow.
        tokio::task::spawn_blocking(move || {
            if let Err(e) = credentials.store().put_ban(&ban) {
                tracing::error!(key = %ban.key, error = %e, "cannot persist the ban");
            }
        });
    }
}
