//! What a store keeps about each device for fleet reports: facts the phone's latest fetches
//! reported (never lifecycle state, never audit), and the rows reports are computed from.

use sipprov_identity::Mac;

use crate::{DeviceProfile, Timestamp};

/// What a device's latest fetch said about it, beyond where it came from: read off the
/// User-Agent by the caller of [`Credentials::flush_sightings`](crate::Credentials::flush_sightings)
/// (every field a claim of the phone's), and the ITSPA rating of how it was identified.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetFacts {
    /// The ITSPA rating of the provisioning method the fetch used (5: HTTPS with a unique
    /// device certificate).
    pub rating: Option<u8>,
    /// The vendor (`yealink`): the certificate's, else the one the User-Agent names.
    pub vendor: Option<String>,
    /// The model the User-Agent names (`T54W`).
    pub model: Option<String>,
    /// The firmware version the User-Agent names (`96.86.0.100`).
    pub firmware: Option<String>,
    /// How the User-Agent contradicts the certificate (another vendor, another MAC), as an
    /// audit detail; `None` when it does not.
    pub mismatch: Option<String>,
}

/// One device as fleet reports see it: its inventory profile, its lifecycle state and the
/// facts its fetches reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetRow {
    /// The device.
    pub mac: Mac,
    /// What the inventory says (vendor, model, site; settings and keys are left empty).
    pub profile: DeviceProfile,
    /// Its credential state's name (`issued`, `delivered`, `purged`, `dormant`).
    pub state: &'static str,
    /// Disabled by the operator.
    pub disabled: bool,
    /// When it was enrolled.
    pub enrolled_at: Timestamp,
    /// When a config was last served to it.
    pub last_seen: Option<Timestamp>,
    /// What its fetches reported. A fact no fetch reported stays as the last one that did
    /// (a Polycom updater's fetch names no firmware, and forgets none).
    pub facts: FleetFacts,
    /// Since when it has reported its current firmware version.
    pub firmware_since: Option<Timestamp>,
}

/// Which devices a fleet listing returns, in ascending MAC order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetQuery {
    /// Only devices whose User-Agent contradicts their certificate.
    pub mismatched: bool,
    /// Only devices that have not fetched since this time (never, or before it).
    pub not_seen_since: Option<Timestamp>,
    /// Only devices with a MAC after this one (for paging).
    pub after: Option<Mac>,
    /// At most this many.
    pub limit: usize,
}

impl Default for FleetQuery {
    fn default() -> Self {
        Self { mismatched: false, not_seen_since: None, after: None, limit: 1_000 }
    }
}

impl FleetQuery {
    /// Whether `row` matches, for backends that filter in memory.
    pub fn matches(&self, row: &FleetRow) -> bool {
        (!self.mismatched || row.facts.mismatch.is_some())
            && self.not_seen_since.is_none_or(|since| row.last_seen.is_none_or(|seen| seen < since))
            && self.after.is_none_or(|after| row.mac > after)
    }
}
