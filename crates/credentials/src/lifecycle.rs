//! The credential lifecycle: a pure state machine over [`DeviceRecord`].
//!
//! Every operation is one call that changes the record, returns the audit events to append in
//! the same transaction, and (for a fetch) says what may be served. No I/O, no clock: time is
//! passed in.

use std::time::Duration;

use sipprov_identity::Mac;

use crate::audit::quote;
use crate::{AuditEvent, AuditKind, CredentialState, DeviceRecord, DeviceSecrets, Sealed, Timestamp};

/// The rules, with their configured durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifecycle {
    grace: Duration,
    dormant_after: Duration,
}

/// What the client presented with a fetch, for the key pin and the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRequest {
    /// SHA-256 of the certificate's SubjectPublicKeyInfo.
    pub spki_sha256: [u8; 32],
    /// The client's address, for the audit trail.
    pub peer: String,
    /// The client's User-Agent, for the audit trail and fleet reports (a hint, never
    /// authorization).
    pub user_agent: Option<String>,
    /// The vendor the certificate names, for fleet reports (a User-Agent naming another is
    /// reported); `None` when the caller does not know it.
    pub certificate_vendor: Option<&'static str>,
    /// The ITSPA rating of how the client was identified (5: HTTPS with a unique device
    /// certificate), for fleet reports.
    pub rating: u8,
}

/// ITSPA's rating of HTTPS with a unique device certificate: the client presented a key,
/// which the first delivery pins.
pub const RATING_DEVICE_CERTIFICATE: u8 = 5;

impl FetchRequest {
    /// Whether the client presented a key (a device certificate): only then is it pinned and
    /// checked. A phone authenticated by its enrolment secret (rating 4) has none.
    pub fn presents_key(&self) -> bool {
        self.rating >= RATING_DEVICE_CERTIFICATE
    }
}

/// What a fetch may be answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Serve {
    /// The config; with the sealed secrets while they may still be delivered, without after.
    Config {
        /// The secrets to include, or `None` to render the config without the secret keys.
        secrets: Option<DeviceSecrets>,
    },
    /// Nothing: the client gets the same answer as for an unknown device.
    Nothing(FetchRefusal),
}

/// Why a fetch of an enrolled device gets nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FetchRefusal {
    /// The operator disabled the device.
    Disabled,
    /// Not fetched within the dormant period; waits for the operator to re-arm it.
    Dormant,
    /// The certificate's key differs from the one pinned at the first delivery.
    KeyMismatch,
}

impl Lifecycle {
    /// The ITSPA defaults: the password is gone five minutes after the first delivery, and
    /// secrets never fetched are removed after 14 days.
    pub const DEFAULT_GRACE: Duration = Duration::from_secs(300);
    /// See [`Lifecycle::DEFAULT_GRACE`].
    pub const DEFAULT_DORMANT_AFTER: Duration = Duration::from_secs(14 * 24 * 3600);

    /// How far the wall clock may step back before a window it measures ends at once (see
    /// [`Lifecycle::sweep`]): small corrections (NTP slewing, a leap second) change nothing.
    pub const CLOCK_STEP_TOLERANCE: Duration = Duration::from_secs(60);

    /// Rules with the given grace window and dormant period.
    pub const fn new(grace: Duration, dormant_after: Duration) -> Self {
        Self { grace, dormant_after }
    }

    /// How long the secrets are still served after the first delivery.
    pub const fn grace(&self) -> Duration {
        self.grace
    }

    /// How long issued secrets wait for a first fetch before the device goes dormant.
    pub const fn dormant_after(&self) -> Duration {
        self.dormant_after
    }

    /// One authorized fetch at `now`: the device's certificate matched the path and the device
    /// is enrolled.
    ///
    /// In order: a disabled device gets nothing; a key other than the pinned one gets nothing
    /// and raises a `key-mismatch` alert; due expiries apply ([`Lifecycle::sweep`]); then
    /// `Issued` delivers the secrets and moves to `Delivered { at: now }`, `Delivered` inside
    /// the grace serves them again, `Purged` serves the config without them, `Dormant` serves
    /// nothing. The first successful fetch pins the key.
    ///
    /// Every refusal, transition and delivery of a secret returns its audit events. A fetch that
    /// changes nothing and carries no secret (a provisioned phone polling) returns none and
    /// leaves `device` as it was: it is a read, not a write.
    pub fn fetch(&self, device: &mut DeviceRecord, request: &FetchRequest, now: Timestamp) -> (Serve, Vec<AuditEvent>) {
        if let Some(refused) = self.refuse(device, request, now) {
            return refused;
        }
        let mac = device.mac;
        let mut events = self.sweep(device, now);
        let first = match device.state {
            CredentialState::Dormant { .. } => {
                events.push(refusal_event(mac, "dormant", request, now));
                return (Serve::Nothing(FetchRefusal::Dormant), events);
            }
            CredentialState::Issued { .. } => {
                device.state = CredentialState::Delivered { at: now };
                true
            }
            CredentialState::Delivered { .. } | CredentialState::Purged => false,
        };
        if device.secrets.is_some() {
            // The first delivery is the transition; later ones within the grace serve again.
            let first = if first { "first=yes " } else { "" };
            let detail = format!("secrets=yes {first}{}", client(request));
            events.push(AuditEvent::new(now, mac, AuditKind::Delivered, detail));
        }
        if device.pinned_spki.is_none() && request.presents_key() {
            device.pinned_spki = Some(request.spki_sha256);
            events.push(AuditEvent::new(
                now,
                mac,
                AuditKind::KeyPinned,
                format!("spki={}", hex::encode(request.spki_sha256)),
            ));
        }
        (Serve::Config { secrets: device.secrets.clone() }, events)
    }

    /// A fetch that must deliver nothing (an HTTP `HEAD`): the same refusals as
    /// [`Lifecycle::fetch`], with their audit events, but no transition, no key pin and never a
    /// secret. `device` is not changed; a due expiry is left to the next fetch or sweep.
    pub fn peek(&self, device: &DeviceRecord, request: &FetchRequest, now: Timestamp) -> (Serve, Vec<AuditEvent>) {
        if let Some(refused) = self.refuse(device, request, now) {
            return refused;
        }
        let mut expired = device.clone();
        self.sweep(&mut expired, now);
        if let CredentialState::Dormant { .. } = expired.state {
            return (Serve::Nothing(FetchRefusal::Dormant), vec![refusal_event(device.mac, "dormant", request, now)]);
        }
        (Serve::Config { secrets: None }, Vec::new())
    }

    /// What every fetch checks first: a disabled device, and a key other than the pinned one.
    fn refuse(
        &self,
        device: &DeviceRecord,
        request: &FetchRequest,
        now: Timestamp,
    ) -> Option<(Serve, Vec<AuditEvent>)> {
        if device.disabled {
            return Some((
                Serve::Nothing(FetchRefusal::Disabled),
                vec![refusal_event(device.mac, "disabled", request, now)],
            ));
        }
        if request.presents_key() && device.pinned_spki.is_some_and(|pinned| pinned != request.spki_sha256) {
            let detail = format!("presented_spki={} {}", hex::encode(request.spki_sha256), client(request));
            return Some((
                Serve::Nothing(FetchRefusal::KeyMismatch),
                vec![AuditEvent::new(now, device.mac, AuditKind::KeyMismatch, detail)],
            ));
        }
        None
    }

    /// Whether [`Lifecycle::sweep`] changes a device in `state` at `now`: its dormancy or its
    /// grace has run out, or the clock has stepped back past its time. A sweep decides on the
    /// states it read and updates only the devices that are due.
    pub fn due(&self, state: CredentialState, now: Timestamp) -> bool {
        let stepped_back = |time| Self::stepped_back(time, now);
        match state {
            CredentialState::Issued { since } => now >= since.saturating_add(self.dormant_after) || stepped_back(since),
            CredentialState::Delivered { at } => now >= at.saturating_add(self.grace) || stepped_back(at),
            CredentialState::Purged | CredentialState::Dormant { .. } => false,
        }
    }

    /// Whether a state's own `time` lies further in the future than the clock may step back.
    fn stepped_back(time: Timestamp, now: Timestamp) -> bool {
        now.saturating_add(Self::CLOCK_STEP_TOLERANCE) < time
    }

    /// Applies the time-based transitions due at `now`: `Issued` past the dormant period goes
    /// `Dormant`, `Delivered` past the grace goes `Purged`; both delete the secrets.
    ///
    /// The wall clock can step. Forwards, windows end early: the safe direction. Backwards, a
    /// window would last longer by the size of the step, without bound; so a state whose own
    /// time lies more than [`Lifecycle::CLOCK_STEP_TOLERANCE`] in the future ends its window at
    /// once. A secret thus never outlives its window by more than the window itself plus the
    /// tolerance, however far the clock is set back.
    pub fn sweep(&self, device: &mut DeviceRecord, now: Timestamp) -> Vec<AuditEvent> {
        if !self.due(device.state, now) {
            return Vec::new();
        }
        let (to, kind) = match device.state {
            CredentialState::Issued { .. } => (CredentialState::Dormant { since: now }, AuditKind::Dormant),
            CredentialState::Delivered { .. } => (CredentialState::Purged, AuditKind::Purged),
            CredentialState::Purged | CredentialState::Dormant { .. } => return Vec::new(),
        };
        let from = device.state;
        device.state = to;
        device.secrets = None;
        let detail = match from.time() {
            Some(time) if Self::stepped_back(time, now) => format!("from={} clock_stepped_back=yes", from.name()),
            _ => format!("from={}", from.name()),
        };
        vec![AuditEvent::new(now, device.mac, kind, detail)]
    }

    /// The operator re-arms the device: fresh secrets, state `Issued`, key pin cleared (the phone
    /// may have been replaced).
    pub fn rearm(&self, device: &mut DeviceRecord, secrets: DeviceSecrets, now: Timestamp) -> Vec<AuditEvent> {
        let event = AuditEvent::new(now, device.mac, AuditKind::Rearmed, format!("from={}", device.state.name()));
        device.secrets = Some(secrets);
        device.state = CredentialState::Issued { since: now };
        device.pinned_spki = None;
        vec![event]
    }

    /// The operator rotates the secrets: fresh secrets, state `Issued`, key pin kept.
    pub fn rotate(&self, device: &mut DeviceRecord, secrets: DeviceSecrets, now: Timestamp) -> Vec<AuditEvent> {
        let event = AuditEvent::new(now, device.mac, AuditKind::Rotated, format!("from={}", device.state.name()));
        device.secrets = Some(secrets);
        device.state = CredentialState::Issued { since: now };
        vec![event]
    }

    /// Fresh passwords for some of the device's accounts (one rotated, or accounts added), the
    /// others' untouched: state `Issued`, so the next fetch delivers them; the key pin is kept,
    /// or cleared when `rearm`. `kind` is the audit event's (`Rotated`, `Rearmed`).
    ///
    /// A device whose secrets were never fetched keeps the others' too; once they were
    /// delivered, the phone has them and they are not served again: the device then holds only
    /// the new ones (and no admin password: the phone keeps the one it was given).
    pub fn issue_lines(
        &self,
        device: &mut DeviceRecord,
        new: Vec<(u16, Sealed)>,
        rearm: bool,
        now: Timestamp,
    ) -> Vec<AuditEvent> {
        // Due expiries first: secrets past their window are not kept alive by a new line.
        let mut events = self.sweep(device, now);
        let lines: Vec<String> = new.iter().map(|(line, _)| line.to_string()).collect();
        let kind = if rearm { AuditKind::Rearmed } else { AuditKind::Rotated };
        let detail = format!("lines={} from={}", lines.join(","), device.state.name());
        // Never-fetched secrets are kept, and so is their window: a new line does not extend it.
        let (mut secrets, since) = match (device.state, device.secrets.take()) {
            (CredentialState::Issued { since }, Some(kept)) => (kept, since),
            _ => (DeviceSecrets { sip_passwords: Vec::new(), admin_password: None }, now),
        };
        for (line, sealed) in new {
            secrets.sip_passwords.retain(|(l, _)| *l != line);
            secrets.sip_passwords.push((line, sealed));
        }
        secrets.sip_passwords.sort_by_key(|(line, _)| *line);
        device.secrets = (!secrets.sip_passwords.is_empty()).then_some(secrets);
        device.state = CredentialState::Issued { since };
        if rearm {
            device.pinned_spki = None;
        }
        events.push(AuditEvent::new(now, device.mac, kind, detail));
        events
    }

    /// The operator disables (`true`) or enables (`false`) the device. The state is kept.
    pub fn set_disabled(&self, device: &mut DeviceRecord, disabled: bool, now: Timestamp) -> Vec<AuditEvent> {
        if device.disabled == disabled {
            return Vec::new();
        }
        device.disabled = disabled;
        let kind = if disabled { AuditKind::Disabled } else { AuditKind::Enabled };
        vec![AuditEvent::new(now, device.mac, kind, format!("state={}", device.state.name()))]
    }
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self::new(Self::DEFAULT_GRACE, Self::DEFAULT_DORMANT_AFTER)
    }
}

fn client(request: &FetchRequest) -> String {
    format!("peer={} ua={}", quote(&request.peer), request.user_agent.as_deref().map_or("-".into(), quote))
}

fn refusal_event(mac: Mac, reason: &str, request: &FetchRequest, now: Timestamp) -> AuditEvent {
    AuditEvent::new(now, mac, AuditKind::Refused, format!("reason={reason} {}", client(request)))
}
